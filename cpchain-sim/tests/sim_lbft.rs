//! The simulator driving LBFT: the paper's f + 1 impeach rule forks under one Byzantine
//! validator and the default rule does not; runs are reproducible; swarm seeds pass every
//! checker; and each checker fires on the history it exists to reject.

use cpchain_consensus::lbft::{ImpeachQuorum, Phase};
use cpchain_core::{Hash, Height, Timestamp};
use cpchain_sim::lbft::{check_safety, run, Behaviour, Event, NemesisMode, Scenario};
use cpchain_sim::Observed;

fn byzantine(quorum: ImpeachQuorum) -> Scenario {
    let mut s = Scenario::new(4, 12, NemesisMode::Byzantine);
    s.impeach_quorum = quorum;
    s.light_nodes = 1;
    s
}

#[test]
fn impeach_quorum_f_plus_one_forks_and_two_f_plus_one_does_not() {
    let seeds = 0..16u64;
    let f1 = byzantine(ImpeachQuorum::FPlusOne);
    let forked: Vec<u64> = seeds
        .clone()
        .filter(|&s| {
            run(&f1, s, 0)
                .violations
                .iter()
                .any(|v| v.checker == "agreement" && v.detail.contains("FORK"))
        })
        .collect();
    assert!(!forked.is_empty(), "no fork found under f+1 in seeds 0..16");
    // The very same seeds (same adversary, same network) under the default rule.
    let safe = byzantine(ImpeachQuorum::TwoFPlusOne);
    for s in forked {
        let r = run(&safe, s, 0);
        assert!(r.violations.is_empty(), "seed {s}: {:?}", r.violations);
        assert!(r.figures.heights >= 12);
    }
}

#[test]
fn a_run_is_a_function_of_its_seed() {
    let sc = Scenario::new(4, 6, NemesisMode::Swarm);
    let a = run(&sc, 7, 16);
    let b = run(&sc, 7, 16);
    assert_eq!(a.stats, b.stats);
    assert_eq!(a.figures, b.figures);
    assert_eq!(a.violations, b.violations);
    assert_eq!(a.trace, b.trace);
    assert_eq!(a.setup, b.setup);
    let c = run(&sc, 8, 0);
    assert_ne!((a.stats, a.setup), (c.stats, c.setup));
}

#[test]
fn swarm_seeds_pass_every_checker_at_n4_and_n7() {
    for (n, seeds) in [(4usize, 0..4u64), (7, 100..102)] {
        let sc = Scenario::new(n, 6, NemesisMode::Swarm);
        for s in seeds {
            let r = run(&sc, s, 0);
            assert!(
                r.violations.is_empty(),
                "n={n} seed {s}: {:?} ({})",
                r.violations,
                r.setup
            );
            assert!(r.figures.heights >= 6);
        }
    }
}

#[test]
fn each_nemesis_alone_keeps_safety_and_liveness() {
    for mode in [
        NemesisMode::None,
        NemesisMode::Network,
        NemesisMode::Crash,
        NemesisMode::Clock,
        NemesisMode::Byzantine,
    ] {
        let sc = Scenario::new(4, 5, mode);
        let r = run(&sc, 3, 0);
        assert!(r.violations.is_empty(), "{mode:?}: {:?}", r.violations);
    }
}

/// Issue 12, item 8.3: f Byzantine validators flooding maximum-size messages (forged
/// locks, PRE-PREPAREs and VALIDATEs, plus signed votes for later heights) at every height:
/// every honest host's memory checker holds and the chain still decides every height.
#[test]
fn flood_max_byzantine_keeps_honest_memory_within_the_bound() {
    for n in [4usize, 7] {
        let mut sc = Scenario::new(n, 5, NemesisMode::Byzantine);
        sc.behaviour = Some(Behaviour {
            flood_max: true,
            flood_future: true,
            ..Behaviour::none()
        });
        for seed in 0..2u64 {
            let r = run(&sc, seed, 0);
            assert!(
                r.violations.is_empty(),
                "n={n} seed {seed}: {:?}",
                r.violations
            );
            assert!(r.figures.heights >= 5, "n={n} seed {seed}: {}", r.setup);
        }
    }
}

/// The memory checker fires on an honest node's over-budget report.
#[test]
fn memory_checker_rejects_an_over_budget_report() {
    let log = vec![ev(
        0,
        10,
        Event::OverBudget {
            held: 70 << 20,
            bound: 64 << 20,
        },
    )];
    let (v, _) = check_safety(&shared(), &log, &[true; 4]);
    assert!(v.iter().any(|v| v.checker == "memory"), "{v:?}");
    // A Byzantine node's report is not a violation.
    let (v, _) = check_safety(&shared(), &log, &[false; 4]);
    assert!(v.is_empty(), "{v:?}");
}

fn ev(node: usize, at: u64, event: Event) -> Observed<Event> {
    Observed {
        at: Timestamp(at),
        local: Timestamp(at),
        node,
        event,
    }
}

fn shared() -> std::rc::Rc<cpchain_sim::lbft::Shared> {
    // The checkers only need the committee's addresses: borrow a real run's setup.
    use cpchain_consensus::lbft::{FixedSchedule, ValidatorSet};
    use cpchain_core::{ChainSpec, Duration};
    let keys: Vec<_> = (1..=4u8)
        .map(|i| {
            cpchain_crypto::SecretKey::from_bytes(&[i; 32])
                .unwrap()
                .public_key()
        })
        .collect();
    let set = ValidatorSet::new(&keys).unwrap();
    let addrs: Vec<_> = set.addresses().collect();
    std::rc::Rc::new(cpchain_sim::lbft::Shared::new(
        ChainSpec::devnet(),
        set,
        FixedSchedule::new(addrs.clone()),
        ImpeachQuorum::TwoFPlusOne,
        addrs,
        4,
        Duration(1000),
        4,
    ))
}

#[test]
fn checkers_reject_forks_uncertified_blocks_honest_double_votes_and_missed_detection() {
    let sh = shared();
    let honest = [true, true, true, false];
    let commit = |b: u8, certified| Event::Committed {
        height: Height(1),
        block: Hash([b; 32]),
        impeach: b == 2,
        round: 0,
        certified,
    };
    let vote = |b: u8| Event::Signed {
        height: Height(1),
        round: 0,
        phase: Phase::Commit,
        block: Hash([b; 32]),
    };
    let kinds = |obs: Vec<Observed<Event>>| -> Vec<&'static str> {
        check_safety(&sh, &obs, &honest)
            .0
            .iter()
            .map(|v| v.checker)
            .collect()
    };
    // A clean history.
    assert!(kinds(vec![ev(0, 1, commit(1, true)), ev(1, 2, commit(1, true))]).is_empty());
    // Byzantine node 3's own commits and votes are not held against anyone.
    assert!(kinds(vec![ev(0, 1, commit(1, true)), ev(3, 2, commit(2, true))]).is_empty());
    assert_eq!(
        kinds(vec![ev(0, 1, commit(1, true)), ev(1, 2, commit(2, true))]),
        ["agreement"]
    );
    assert_eq!(kinds(vec![ev(0, 1, commit(1, false))]), ["validity"]);
    assert_eq!(
        kinds(vec![ev(2, 1, vote(1)), ev(2, 2, vote(2))]),
        ["honest-equivocation"]
    );
    assert_eq!(
        kinds(vec![ev(
            1,
            1,
            Event::MissedDetection {
                culprit: sh.address(3),
                height: Height(1),
                round: 0
            }
        )]),
        ["detection"]
    );
    assert_eq!(
        kinds(vec![ev(
            1,
            1,
            Event::Fault {
                class: cpchain_sim::lbft::FaultClass::Equivocation,
                culprit: Some(sh.address(0)),
                height: Height(1),
                round: 0,
                phase: Some(Phase::Prepare),
            }
        )]),
        ["false-accusation"]
    );
}
