//! Crash safety and determinism: `Persist` precedes every dependent send, a validator
//! restored from its last `Persist` never signs a conflicting vote, and the same inputs
//! give the same outputs.

mod common;
use common::*;
use cpchain_consensus::lbft::*;
use cpchain_core::{Height, Timestamp};

fn last_persist(outs: &[ValidatorOutput]) -> Persisted {
    outs.iter()
        .rev()
        .find_map(|o| match o {
            ValidatorOutput::Persist(p) => Some(p.clone()),
            _ => None,
        })
        .expect("a Persist output")
}

#[test]
fn restore_after_crash_never_double_votes() {
    let fx = Fixture::new(4);
    let b = fx.proposal(&fx.genesis, vec![vec![3; 8]]);
    let imp = fx.impeach(&fx.genesis);
    let now = fx.genesis.timestamp + fx.spec.block_period;
    let give_up = now + fx.spec.impeach_timeout;

    // Before the crash: PREPARE(B), then a P-certificate and COMMIT(B).
    let mut v = fx.validator(0);
    let mut outs = feed(&mut v, now, fx.addr(1), Message::PrePrepare(b.clone()));
    outs.extend(feed(
        &mut v,
        now,
        fx.addr(1),
        Message::Vote(fx.vote(1, VoteKind::Prepare, 1, 0, b.id())),
    ));
    let after_prepare = last_persist(&outs);
    outs.extend(feed(
        &mut v,
        now,
        fx.addr(2),
        Message::Vote(fx.vote(2, VoteKind::Prepare, 1, 0, b.id())),
    ));
    let after_commit = last_persist(&outs);
    let signed = broadcast_votes(&outs);
    assert_eq!(signed.len(), 2);

    // Crash after PREPARE: the timer expires and a full impeach quorum arrives; the restored
    // validator may not impeach-prepare in round 0.
    let mut r = restart_at_record(fx.config(0), fx.schedule.clone(), after_prepare);
    let mut routs = drain(&mut r);
    // It re-broadcasts what it had signed, byte for byte.
    assert_eq!(broadcast_votes(&routs), signed[..1].to_vec());
    r.handle_timeout(give_up);
    routs.extend(drain(&mut r));
    for i in 1..4 {
        routs.extend(feed(
            &mut r,
            give_up,
            fx.addr(i),
            Message::Vote(fx.vote(i, VoteKind::ImpeachPrepare, 1, 0, imp.id())),
        ));
    }
    // In this timeline only the PREPARE had been sent before the crash.
    let mut timeline = signed[..1].to_vec();
    timeline.extend(broadcast_votes(&routs));
    assert_no_equivocation(&timeline);
    assert!(!timeline
        .iter()
        .any(|v| v.kind == VoteKind::ImpeachPrepare && v.round == 0));

    // Crash after COMMIT: the lock survives, and no IMPEACH COMMIT follows in round 0.
    let mut r = restart_at_record(fx.config(0), fx.schedule.clone(), after_commit);
    assert_eq!(r.lock(), Some((0, b.id())));
    assert_eq!(r.state(), State::Commit);
    let mut routs = drain(&mut r);
    r.handle_timeout(give_up);
    routs.extend(drain(&mut r));
    for i in 1..4 {
        routs.extend(feed(
            &mut r,
            give_up,
            fx.addr(i),
            Message::Vote(fx.vote(i, VoteKind::ImpeachPrepare, 1, 0, imp.id())),
        ));
    }
    let mut all = signed.clone();
    all.extend(broadcast_votes(&routs));
    assert_no_equivocation(&all);
    // In the next round the restored validator carries its lock: it prepares B again.
    let end = r.next_deadline().unwrap();
    r.handle_timeout(end);
    let t1 = end + round_length(&fx.spec, 1, r.config().max_round_length);
    r.handle_timeout(t1);
    let later = broadcast_votes(&drain(&mut r));
    assert!(later.iter().all(|v| v.block == b.id()), "{later:?}");

    // The check is sharp: a validator that forgot its state does double-vote.
    let mut amnesiac = fx.validator(0);
    amnesiac.handle_timeout(give_up);
    let mut forgot = signed[..1].to_vec();
    forgot.extend(broadcast_votes(&drain(&mut amnesiac)));
    let conflict = std::panic::catch_unwind(|| assert_no_equivocation(&forgot));
    assert!(
        conflict.is_err(),
        "without persistence the validator would equivocate"
    );
}

#[test]
fn persist_precedes_every_dependent_send() {
    // Validator 0 is also the proposer of height 1, leads a later round and changes rounds.
    let fx0 = Fixture::new(4);
    let mut fx = fx0.clone();
    fx.schedule = FixedSchedule::new(vec![fx.addr(0)]);
    let mut v = Validator::new(fx.config(0), fx.schedule.clone(), fx.genesis.clone(), T0).unwrap();
    let mut outs = drain(&mut v);
    let now = fx.genesis.timestamp + fx.spec.block_period;
    v.propose(now, vec![vec![1; 4]]).unwrap();
    outs.extend(drain(&mut v));
    assert_eq!(v.propose(now, vec![]), Err(ProposeError::AlreadyProposed));
    // Run rounds by timer only (nobody else answers) until it has led one.
    let mut t = now;
    for _ in 0..12 {
        t = v.next_deadline().unwrap().max(t);
        v.handle_timeout(t);
        outs.extend(drain(&mut v));
    }
    assert!(v.round() >= 4);
    let mut persisted: Option<Persisted> = None;
    let mut kinds = 0;
    for o in &outs {
        match o {
            ValidatorOutput::Persist(p) => persisted = Some(p.clone()),
            ValidatorOutput::Broadcast(m) => {
                let p = persisted.as_ref().expect("a Persist before any send");
                match m {
                    Message::PrePrepare(_) => assert!(p.proposed),
                    Message::Vote(x) => {
                        assert!(p.prepared.as_ref() == Some(x) || p.committed.as_ref() == Some(x))
                    }
                    Message::Proposal(x) => assert!(p.led && p.round == x.round),
                    Message::RoundChange(x) => assert_eq!(p.round, x.round),
                    Message::Validate(_) => {}
                }
                kinds += 1;
            }
            _ => {}
        }
    }
    assert!(kinds > 5);
    assert!(outs
        .iter()
        .any(|o| matches!(o, ValidatorOutput::Broadcast(Message::Proposal(_)))));
}

#[test]
fn same_inputs_same_outputs() {
    let run = || {
        let mut roles = vec![Role::Honest; 7];
        roles[2] = Role::Equivocator;
        let mut net = Net::new(Fixture::new(7), roles);
        net.rng = 0xdead_beef;
        net.loss = 30;
        net.lossy = true;
        net.silent_proposer.push(Height(2));
        net.crash_node = Some(4);
        net.maybe_propose();
        for _ in 0..4 {
            net.deliver_all();
            net.tick();
        }
        net.lossy = false;
        net.crash_node = None;
        assert!(net.run(3, 100));
        (
            net.sent_votes,
            net.decided,
            net.persisted,
            net.faults,
            net.now,
        )
    };
    assert_eq!(run(), run());

    // One validator, byte for byte.
    let fx = Fixture::new(4);
    let b = fx.proposal(&fx.genesis, vec![vec![9; 9]]);
    let one = || {
        let mut v = fx.validator(1);
        let now = fx.genesis.timestamp + fx.spec.block_period;
        let mut outs = feed(&mut v, now, fx.addr(0), Message::PrePrepare(b.clone()));
        v.handle_timeout(Timestamp(u64::MAX / 2));
        outs.extend(drain(&mut v));
        outs
    };
    assert_eq!(one(), one());
}

#[test]
fn restored_validator_reannounces_its_round_and_is_caught_up() {
    // Validator 0 crashes at height 1 while the others decide it. Restored, it announces
    // its height and round at once (with its lock, if from an earlier round), so a peer
    // that has moved on hands it the VALIDATE it missed without waiting for a timeout.
    let mut net = Net::new(Fixture::new(4), vec![Role::Honest; 4]);
    net.partitioned.push(0);
    assert!(net.run(1, 30));
    let p = net.persisted[0].clone().expect("persisted at start");
    assert_eq!(p.parent.height, Height(0));
    let fx = net.fx.clone();
    let mut r = restart_at_record(fx.config(0), fx.schedule.clone(), p.clone());
    let outs = drain(&mut r);
    let announced: Vec<_> = outs
        .iter()
        .filter_map(|o| match o {
            ValidatorOutput::Broadcast(Message::RoundChange(rc)) => Some(rc.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(announced.len(), 1);
    assert_eq!(
        (announced[0].height, announced[0].round),
        (Height(1), p.round)
    );
    assert_eq!(announced[0].voter, fx.addr(0));
    // A peer at height 2 answers it with VALIDATE(1), which the restored node adopts.
    let helper = &mut net.nodes[1];
    let _ = helper.handle_message(
        net.now,
        fx.addr(0),
        Message::RoundChange(announced[0].clone()),
    );
    let answer = drain(helper)
        .into_iter()
        .find_map(|o| match o {
            ValidatorOutput::Send { to, msg } if to == fx.addr(0) => Some(msg),
            _ => None,
        })
        .expect("a catch-up answer");
    let outs = feed(&mut r, net.now, fx.addr(1), answer);
    assert_eq!(commits(&outs).len(), 1);
    assert_eq!(r.height(), Height(2));
}

#[test]
fn restored_validator_announces_only_an_earlier_round_lock() {
    // A lock taken in the current round is shown by the re-broadcast COMMIT; a round
    // change may only carry a lock from an earlier round (peers refuse anything else).
    let fx = Fixture::new(4);
    let b = fx.proposal(&fx.genesis, vec![vec![5; 8]]);
    let now = fx.genesis.timestamp + fx.spec.block_period;
    let mut v = fx.validator(0);
    let mut outs = feed(&mut v, now, fx.addr(1), Message::PrePrepare(b.clone()));
    for i in 1..3 {
        outs.extend(feed(
            &mut v,
            now,
            fx.addr(i),
            Message::Vote(fx.vote(i, VoteKind::Prepare, 1, 0, b.id())),
        ));
    }
    assert_eq!(v.lock(), Some((0, b.id())));
    let announce = |p: Persisted| {
        let mut r = restart_at_record(fx.config(0), fx.schedule.clone(), p);
        drain(&mut r)
            .into_iter()
            .find_map(|o| match o {
                ValidatorOutput::Broadcast(Message::RoundChange(rc)) => Some(rc),
                _ => None,
            })
            .expect("a round change")
    };
    let rc0 = announce(last_persist(&outs));
    assert_eq!((rc0.round, rc0.lock.is_none()), (0, true));
    // Into round 1: the lock (round 0) now travels with the round change.
    let mut t = now;
    while v.round() == 0 {
        t = v.next_deadline().unwrap().max(t);
        v.handle_timeout(t);
        outs.extend(drain(&mut v));
    }
    let rc1 = announce(last_persist(&outs));
    assert_eq!(rc1.round, 1);
    assert_eq!(rc1.lock.as_ref().map(|l| l.block.id()), Some(b.id()));
    // Both are accepted by a peer at the same height.
    let mut peer = fx.validator(1);
    for rc in [rc0, rc1] {
        assert_eq!(
            peer.handle_message(t, fx.addr(0), Message::RoundChange(rc)),
            Verdict::Accept
        );
    }
}

#[test]
fn restarted_validator_helps_peers_with_the_head_it_remembers() {
    // n = 4, validator 0 Byzantine and silent. Validators 1–3 commit B at height 1, but
    // only 1 receives the COMMITs, and its VALIDATE is lost; then it restarts. Validators
    // 2 and 3 cannot decide height 1 without it (quorum 3), and 1 no longer votes there:
    // B's C-certificate exists only in 1's chain. The host hands it back with `remember`.
    let mut roles = vec![Role::Honest; 4];
    roles[0] = Role::Silent;
    let mut net = Net::new(Fixture::new(4), roles);
    let withheld = |e: &Envelope| match &e.msg {
        Message::Vote(v) => e.to != 1 && v.kind == VoteKind::Commit,
        Message::Validate(_) => true,
        _ => false,
    };
    for _ in 0..1000 {
        if net.nodes[1].height() == Height(2) {
            break;
        }
        net.drop_where(withheld);
        if !net.deliver_one() {
            net.tick();
        }
    }
    net.drop_where(withheld);
    assert_eq!(net.nodes[1].height(), Height(2));
    for i in [2, 3] {
        assert_eq!(net.nodes[i].height(), Height(1));
        assert!(net.nodes[i].lock().is_some(), "node {i} committed B too");
    }
    let fx = net.fx.clone();
    let head = net.chains[1]
        .last()
        .cloned()
        .expect("node 1 decided height 1");
    let restart = |net: &Net| {
        let p = net.persisted[1].clone().unwrap();
        assert_eq!(p.parent, head.block.header);
        let mut v = restart_at_record(fx.config(1), fx.schedule.clone(), p);
        drain(&mut v);
        v
    };
    let stuck = RoundChange::sign(&fx.keys[2], fx.spec.chain_id, Height(1), 3, None);
    // Restarted without its chain, node 1 has nothing to give.
    let mut forgetful = restart(&net);
    let _ = forgetful.handle_message(net.now, fx.addr(2), Message::RoundChange(stuck.clone()));
    assert!(drain(&mut forgetful).is_empty());
    // Given the head's VALIDATE, it answers, and the network makes progress again.
    let mut v = restart(&net);
    // Only the head links; a second copy is a duplicate.
    let other = fx.impeach(&fx.genesis);
    let mut wrong = head.clone();
    wrong.block = other;
    assert_eq!(
        v.remember(wrong),
        Err(Rejected::Block(BlockError::WrongParent))
    );
    let mut forged = head.clone();
    forged.certificate.signatures.truncate(2);
    assert!(matches!(v.remember(forged), Err(Rejected::Certificate(_))));
    assert_eq!(v.remember(head.clone()), Ok(()));
    assert_eq!(v.remember(head.clone()), Err(Rejected::Duplicate));
    let _ = v.handle_message(net.now, fx.addr(2), Message::RoundChange(stuck));
    assert!(drain(&mut v).iter().any(|o| matches!(
        o,
        ValidatorOutput::Send { to, msg: Message::Validate(x) } if *to == fx.addr(2) && *x == head
    )));
    net.nodes[1] = v;
    assert!(
        net.run(2, 100),
        "heights {:?}",
        net.nodes.iter().map(|v| v.height()).collect::<Vec<_>>()
    );
    net.assert_agreement();
}

/// Issue 13: a host restarts a validator with one call, [`Validator::restart`], handing it
/// its record (if any), its chain head and the head's VALIDATE; the engine picks the
/// restore or the fresh start and remembers the head, and refuses what cannot be safe.
#[test]
fn restart_is_one_call_with_the_record_and_the_chain_head() {
    let fx = Fixture::new(4);
    let records = |v: &mut Validator<FixedSchedule>| -> Vec<Persisted> {
        drain(v)
            .into_iter()
            .filter_map(|o| match o {
                ValidatorOutput::Persist(p) => Some(p),
                _ => None,
            })
            .collect()
    };
    // First start: no record, the head is genesis.
    let mut v = Validator::restart(
        fx.config(0),
        fx.schedule.clone(),
        None,
        fx.genesis.clone(),
        [],
        T0,
    )
    .unwrap();
    records(&mut v);
    // The proposer is silent: the timer impeaches; the vote is persisted first.
    let due = v.next_deadline().unwrap();
    v.handle_timeout(due);
    let at_genesis = records(&mut v).pop().expect("persisted before the vote");
    assert!(at_genesis.prepared.is_some());

    // Record at the head: restored, its vote kept and sent again.
    let mut r = Validator::restart(
        fx.config(0),
        fx.schedule.clone(),
        Some(at_genesis.clone()),
        fx.genesis.clone(),
        [],
        due,
    )
    .unwrap();
    assert_eq!((r.height(), r.state()), (Height(1), State::ImpeachPrepare));
    assert_eq!(
        broadcast_votes(&drain(&mut r)),
        vec![at_genesis.prepared.clone().unwrap()]
    );

    // Height 1 was decided and the host stored it, then crashed before the next record:
    // the head is past the record, so a fresh start at the head, remembering it.
    let b = fx.proposal(&fx.genesis, vec![vec![1; 8]]);
    let head = Validate {
        certificate: fx.cert(&[1, 2, 3], VoteKind::Commit, 1, 0, b.id()),
        block: b,
    };
    let mut r = Validator::restart(
        fx.config(0),
        fx.schedule.clone(),
        Some(at_genesis.clone()),
        head.block.header.clone(),
        [head.clone()],
        due,
    )
    .unwrap();
    assert_eq!((r.height(), r.state()), (Height(2), State::Idle));
    let at_head = records(&mut r).pop().expect("a fresh start persists");
    assert_eq!(at_head.parent, head.block.header);
    // It holds the head's VALIDATE for a peer still at height 1.
    let stuck = RoundChange::sign(&fx.keys[2], fx.spec.chain_id, Height(1), 2, None);
    let _ = r.handle_message(due, fx.addr(2), Message::RoundChange(stuck));
    assert!(drain(&mut r).iter().any(|o| matches!(
        o,
        ValidatorOutput::Send { to, msg: Message::Validate(x) } if *to == fx.addr(2) && *x == head
    )));

    // A record ahead of the head: the host lost decided blocks; refused.
    let ahead = Validator::restart(
        fx.config(0),
        fx.schedule.clone(),
        Some(at_head),
        fx.genesis.clone(),
        [],
        due,
    );
    assert_eq!(ahead.err(), Some(ConfigError::PersistedMismatch));
    // A head VALIDATE that is not the head's, or does not verify: refused.
    let not_the_head = Validator::restart(
        fx.config(0),
        fx.schedule.clone(),
        None,
        fx.genesis.clone(),
        [head.clone()],
        due,
    );
    assert_eq!(
        not_the_head.err(),
        Some(ConfigError::BadHead(Rejected::Block(
            BlockError::WrongParent
        )))
    );
    let mut forged = head.clone();
    forged.certificate.signatures.truncate(2);
    let forged = Validator::restart(
        fx.config(0),
        fx.schedule.clone(),
        None,
        head.block.header.clone(),
        [forged],
        due,
    );
    assert!(matches!(
        forged.err(),
        Some(ConfigError::BadHead(Rejected::Certificate(_)))
    ));
}
