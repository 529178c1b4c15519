//! Table-driven transition tests of one validator (n = 4), each row annotated with the
//! white paper step (§2.4.2) or the invariant it covers.

mod common;
use common::*;
use cpchain_consensus::lbft::*;
use cpchain_core::{Height, Timestamp};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Which {
    Proposal,
    Impeach,
}

#[derive(Clone)]
enum Input {
    /// PRE-PREPARE of the scheduled proposal (or a tampered variant).
    PrePrepare(fn(&Fixture, Block) -> Block),
    /// A vote by validator `i` of `kind` on the proposal or the impeach block, round 0.
    Vote(usize, VoteKind, Which),
    /// A VALIDATE with a certificate by these validators.
    Validate(&'static [usize], Which),
    /// Fire the timer at the round-0 give-up deadline.
    Timer,
    /// The host's verdict on the proposal's content.
    Verdict(bool),
}

struct Case {
    step: &'static str,
    inputs: Vec<Input>,
    /// Own votes broadcast, in order.
    votes: Vec<(VoteKind, Which)>,
    /// State at the end (if still at height 1).
    state: Option<State>,
    committed: Option<Which>,
    fault: Option<fn(&Fault) -> bool>,
}

fn same(b: Block) -> Block {
    b
}

fn bad_seal(fx: &Fixture, mut b: Block) -> Block {
    // Sealed by someone else.
    let other = Block::propose(
        &fx.spec,
        &fx.genesis,
        &fx.keys[3],
        fx.addr(3),
        b.header.timestamp,
        vec![],
    );
    b.seal = other.seal;
    b
}

fn late_timestamp(fx: &Fixture, b: Block) -> Block {
    let key = fx.proposer_of(Height(1));
    Block::propose(
        &fx.spec,
        &fx.genesis,
        key,
        key.public_key().address(),
        b.header.timestamp + fx.spec.impeach_timeout + duration_ms(1),
        b.transactions,
    )
}

fn run_case(case: &Case) {
    let fx = Fixture::new(4);
    let mut v = fx.validator(0);
    let proposal = fx.proposal(&fx.genesis, vec![vec![7; 32]]);
    let impeach = fx.impeach(&fx.genesis);
    let id_of = |w: Which| match w {
        Which::Proposal => proposal.id(),
        Which::Impeach => impeach.id(),
    };
    let block_of = |w: Which| match w {
        Which::Proposal => proposal.clone(),
        Which::Impeach => impeach.clone(),
    };
    let now = fx.genesis.timestamp + fx.spec.block_period;
    let mut outs = Vec::new();
    for input in &case.inputs {
        match input {
            Input::PrePrepare(f) => {
                let b = f(&fx, proposal.clone());
                let _ = v.handle_message(now, fx.addr(1), Message::PrePrepare(b));
            }
            Input::Vote(i, kind, w) => {
                let vote = fx.vote(*i, *kind, 1, 0, id_of(*w));
                let _ = v.handle_message(now, fx.addr(*i), Message::Vote(vote));
            }
            Input::Validate(who, w) => {
                let kind = if *w == Which::Impeach {
                    VoteKind::ImpeachCommit
                } else {
                    VoteKind::Commit
                };
                let msg = Message::Validate(Validate {
                    block: block_of(*w),
                    certificate: fx.cert(who, kind, 1, 0, id_of(*w)),
                });
                let _ = v.handle_message(now, fx.addr(1), msg);
            }
            Input::Timer => {
                let t = fx.genesis.timestamp + fx.spec.block_period + fx.spec.impeach_timeout;
                v.handle_timeout(t);
            }
            Input::Verdict(ok) => v.block_checked(now, proposal.id(), *ok),
        }
        outs.extend(drain(&mut v));
    }
    let own: Vec<(VoteKind, Which)> = broadcast_votes(&outs)
        .iter()
        .map(|x| {
            let w = if x.block == impeach.id() {
                Which::Impeach
            } else {
                assert_eq!(x.block, proposal.id());
                Which::Proposal
            };
            (x.kind, w)
        })
        .collect();
    assert_eq!(own, case.votes, "{}", case.step);
    let decided = commits(&outs);
    match case.committed {
        Some(w) => {
            assert_eq!(decided.len(), 1, "{}", case.step);
            assert_eq!(decided[0].0.id(), id_of(w), "{}", case.step);
            assert_eq!(v.height(), Height(2), "{}", case.step);
            let validates = outs
                .iter()
                .filter(|o| matches!(o, ValidatorOutput::Broadcast(Message::Validate(_))))
                .count();
            assert_eq!(validates, 1, "{}: VALIDATE broadcast once", case.step);
        }
        None => {
            assert!(decided.is_empty(), "{}", case.step);
            assert_eq!(v.height(), Height(1), "{}", case.step);
        }
    }
    if let Some(s) = case.state {
        assert_eq!(v.state(), s, "{}", case.step);
    }
    if let Some(pred) = case.fault {
        assert!(
            faults(&outs).iter().any(pred),
            "{}: expected fault",
            case.step
        );
    } else {
        assert!(faults(&outs).is_empty(), "{}: unexpected fault", case.step);
    }
}

#[test]
fn paper_state_machine_transitions() {
    use Input::*;
    use VoteKind::*;
    use Which::*;
    let cases = vec![
        Case {
            step: "§2.4.2 normal step 1: proposal content is judged by the host before PREPARE",
            inputs: vec![PrePrepare(|_, b| same(b))],
            votes: vec![],
            state: Some(State::Idle),
            committed: None,
            fault: None,
        },
        Case {
            step: "§2.4.2 normal steps 1-2: verified proposal -> PREPARE",
            inputs: vec![PrePrepare(|_, b| same(b)), Verdict(true)],
            votes: vec![(Prepare, Proposal)],
            state: Some(State::Prepare),
            committed: None,
            fault: None,
        },
        Case {
            step: "§2.4.2 normal step 1: bad seal -> no PREPARE, BadSeal fault",
            inputs: vec![PrePrepare(bad_seal)],
            votes: vec![],
            state: Some(State::Idle),
            committed: None,
            fault: Some(|f| matches!(f, Fault::BadSeal { .. })),
        },
        Case {
            step: "§2.4.2 impeachment trigger: illicit (timestamp) proposal -> IMPEACH PREPARE",
            inputs: vec![PrePrepare(late_timestamp)],
            votes: vec![(ImpeachPrepare, Impeach)],
            state: Some(State::ImpeachPrepare),
            committed: None,
            fault: Some(|f| {
                matches!(f, Fault::IllicitBlock { reason: BlockError::Timestamp, .. })
            }),
        },
        Case {
            step: "§2.4.2 impeachment trigger: host rejects content -> IMPEACH PREPARE",
            inputs: vec![PrePrepare(|_, b| same(b)), Verdict(false)],
            votes: vec![(ImpeachPrepare, Impeach)],
            state: Some(State::ImpeachPrepare),
            committed: None,
            fault: Some(|f| matches!(f, Fault::IllicitBlock { reason: BlockError::Content, .. })),
        },
        Case {
            step: "§2.4.2 normal step 3: 2f PREPAREs are not a P-certificate",
            inputs: vec![PrePrepare(|_, b| same(b)), Verdict(true), Vote(1, Prepare, Proposal)],
            votes: vec![(Prepare, Proposal)],
            state: Some(State::Prepare),
            committed: None,
            fault: None,
        },
        Case {
            step: "invariant: a duplicate PREPARE counts once",
            inputs: vec![
                PrePrepare(|_, b| same(b)),
                Verdict(true),
                Vote(1, Prepare, Proposal),
                Vote(1, Prepare, Proposal),
            ],
            votes: vec![(Prepare, Proposal)],
            state: Some(State::Prepare),
            committed: None,
            fault: None,
        },
        Case {
            step: "§2.4.2 normal step 3: 2f+1 PREPAREs (P-certificate) -> COMMIT",
            inputs: vec![
                PrePrepare(|_, b| same(b)),
                Verdict(true),
                Vote(1, Prepare, Proposal),
                Vote(2, Prepare, Proposal),
            ],
            votes: vec![(Prepare, Proposal), (Commit, Proposal)],
            state: Some(State::Commit),
            committed: None,
            fault: None,
        },
        Case {
            step: "§2.4.2 normal step 4: 2f+1 COMMITs (C-certificate) -> insert and VALIDATE",
            inputs: vec![
                PrePrepare(|_, b| same(b)),
                Verdict(true),
                Vote(1, Prepare, Proposal),
                Vote(2, Prepare, Proposal),
                Vote(1, Commit, Proposal),
                Vote(3, Commit, Proposal),
            ],
            votes: vec![(Prepare, Proposal), (Commit, Proposal)],
            state: None,
            committed: Some(Proposal),
            fault: None,
        },
        Case {
            step: "§2.4.2 normal step 5: a valid VALIDATE for the current height is adopted",
            inputs: vec![Validate(&[1, 2, 3], Proposal)],
            votes: vec![],
            state: None,
            committed: Some(Proposal),
            fault: None,
        },
        Case {
            step: "§2.4.2 step 5 / invariant: a VALIDATE with 2f signatures is refused",
            inputs: vec![Validate(&[1, 2], Proposal)],
            votes: vec![],
            state: Some(State::Idle),
            committed: None,
            fault: None,
        },
        Case {
            step: "§2.4.2 impeachment steps 1-2: timer expiry -> IMPEACH PREPARE",
            inputs: vec![Timer],
            votes: vec![(ImpeachPrepare, Impeach)],
            state: Some(State::ImpeachPrepare),
            committed: None,
            fault: None,
        },
        Case {
            step: "§2.4.2 impeachment step 3: 2f+1 IMPEACH PREPAREs -> IMPEACH COMMIT",
            inputs: vec![
                Timer,
                Vote(1, ImpeachPrepare, Impeach),
                Vote(2, ImpeachPrepare, Impeach),
            ],
            votes: vec![(ImpeachPrepare, Impeach), (ImpeachCommit, Impeach)],
            state: Some(State::ImpeachCommit),
            committed: None,
            fault: None,
        },
        Case {
            step: "deviation 1: f+1 IMPEACH PREPAREs are not enough under the default quorum",
            inputs: vec![Timer, Vote(1, ImpeachPrepare, Impeach)],
            votes: vec![(ImpeachPrepare, Impeach)],
            state: Some(State::ImpeachPrepare),
            committed: None,
            fault: None,
        },
        Case {
            step: "§2.4.2 impeachment step 4: 2f+1 IMPEACH COMMITs -> insert impeach block, IMPEACH VALIDATE",
            inputs: vec![
                Timer,
                Vote(1, ImpeachPrepare, Impeach),
                Vote(2, ImpeachPrepare, Impeach),
                Vote(1, ImpeachCommit, Impeach),
                Vote(2, ImpeachCommit, Impeach),
            ],
            votes: vec![(ImpeachPrepare, Impeach), (ImpeachCommit, Impeach)],
            state: None,
            committed: Some(Impeach),
            fault: None,
        },
        Case {
            step: "§2.4.2 impeachment step 5: IMPEACH VALIDATE adopted",
            inputs: vec![Validate(&[0, 2, 3], Impeach)],
            votes: vec![],
            state: None,
            committed: Some(Impeach),
            fault: None,
        },
        Case {
            step: "invariant: no PREPARE after IMPEACH PREPARE in one round (late proposal)",
            inputs: vec![Timer, PrePrepare(|_, b| same(b)), Verdict(true)],
            votes: vec![(ImpeachPrepare, Impeach)],
            state: Some(State::ImpeachPrepare),
            committed: None,
            fault: None,
        },
        Case {
            step: "invariant: no IMPEACH COMMIT after COMMIT in one round",
            inputs: vec![
                PrePrepare(|_, b| same(b)),
                Verdict(true),
                Vote(1, Prepare, Proposal),
                Vote(2, Prepare, Proposal),
                Vote(1, ImpeachPrepare, Impeach),
                Vote(2, ImpeachPrepare, Impeach),
                Vote(3, ImpeachPrepare, Impeach),
            ],
            votes: vec![(Prepare, Proposal), (Commit, Proposal)],
            state: Some(State::Commit),
            committed: None,
            // 1 and 2 prepared both: equivocation evidence.
            fault: Some(|f| matches!(f, Fault::Equivocation { .. })),
        },
        Case {
            step: "invariant: a vote of a normal kind on the impeach block is refused",
            inputs: vec![Timer, Vote(1, Prepare, Impeach), Vote(2, Prepare, Impeach)],
            votes: vec![(ImpeachPrepare, Impeach)],
            state: Some(State::ImpeachPrepare),
            committed: None,
            fault: None,
        },
    ];
    for case in &cases {
        run_case(case);
    }
}

#[test]
fn next_deadline_is_the_paper_impeach_timer_in_round_zero() {
    let fx = Fixture::new(4);
    let v = fx.validator(0);
    assert_eq!(
        v.next_deadline(),
        Some(fx.genesis.timestamp + fx.spec.block_period + fx.spec.impeach_timeout)
    );
    let _ = Timestamp(0);
}

/// Every ordering of a conflicting set of round-0 inputs (a proposal, the impeach timer,
/// quorums of PREPAREs and IMPEACH PREPAREs, COMMITs and IMPEACH COMMITs from validators
/// that equivocate) leaves at most one own vote per phase: never PREPARE and IMPEACH
/// PREPARE, never COMMIT and IMPEACH COMMIT in one round.
#[test]
fn honest_validator_never_signs_two_votes_of_one_phase_in_a_round() {
    let fx = Fixture::new(4);
    let b = fx.proposal(&fx.genesis, vec![vec![4; 4]]);
    let imp = fx.impeach(&fx.genesis);
    let now = fx.genesis.timestamp + fx.spec.block_period;
    let timer = now + fx.spec.impeach_timeout;
    #[derive(Clone)]
    #[allow(clippy::large_enum_variant)]
    enum In {
        Msg(usize, Message),
        Timer,
    }
    let votes = |kind: VoteKind, id| -> Vec<In> {
        (1..3)
            .map(|i| In::Msg(i, Message::Vote(fx.vote(i, kind, 1, 0, id))))
            .collect()
    };
    let groups: Vec<Vec<In>> = vec![
        vec![In::Msg(1, Message::PrePrepare(b.clone()))],
        vec![In::Timer],
        votes(VoteKind::Prepare, b.id()),
        votes(VoteKind::ImpeachPrepare, imp.id()),
        [
            votes(VoteKind::Commit, b.id()),
            votes(VoteKind::ImpeachCommit, imp.id()),
        ]
        .concat(),
    ];
    let mut perm: Vec<usize> = (0..groups.len()).collect();
    let mut orders = Vec::new();
    permutations(&mut perm, 0, &mut orders);
    assert_eq!(orders.len(), 120);
    let mut outcomes = std::collections::BTreeSet::new();
    for order in orders {
        let mut v = fx.validator(0);
        let mut outs = Vec::new();
        for g in &order {
            for input in &groups[*g] {
                match input {
                    In::Msg(i, m) => outs.extend(feed(&mut v, now, fx.addr(*i), m.clone())),
                    In::Timer => {
                        v.handle_timeout(timer);
                        outs.extend(drain(&mut v));
                    }
                }
            }
        }
        let own = broadcast_votes(&outs);
        assert_no_equivocation(&own);
        outcomes.insert(own.iter().map(|x| x.kind as u8).collect::<Vec<_>>());
    }
    // The orderings really lead to different paths (normal, impeach, mixed rounds).
    assert!(outcomes.len() >= 3, "{outcomes:?}");
}

fn permutations(p: &mut Vec<usize>, k: usize, out: &mut Vec<Vec<usize>>) {
    if k == p.len() {
        out.push(p.clone());
        return;
    }
    for i in k..p.len() {
        p.swap(k, i);
        permutations(p, k + 1, out);
        p.swap(k, i);
    }
}
