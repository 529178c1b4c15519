//! The validator's DDoS whitelist of white paper §2.6.3: sustained high load admits only
//! default proposers; quiet, maximum duration or a manual command lifts it.

use cpchain_consensus::dpor::{
    LiftReason, Whitelist, WhitelistConfig, WhitelistError, WhitelistOutput,
};
use cpchain_core::{Address, Duration, Timestamp};

fn secs(s: u64) -> Timestamp {
    Timestamp(s * 1_000)
}

fn setup() -> (Whitelist, Address, Address) {
    let dp = Address([0xd0; 20]);
    let stranger = Address([0x55; 20]);
    let cfg = WhitelistConfig {
        high_permille: 900,
        activate_after: Duration::from_secs(60),
        quiet_period: Duration::from_secs(300),
        max_active: Duration::from_secs(3_600),
        capacity: 4,
    };
    (Whitelist::new(cfg, &[dp]).unwrap(), dp, stranger)
}

fn drain(w: &mut Whitelist) -> Vec<WhitelistOutput> {
    std::iter::from_fn(|| w.poll_output()).collect()
}

#[test]
fn dpor_whitelist_activates_after_sustained_high_load_only() {
    let (mut w, dp, stranger) = setup();
    // A spike with a dip in between does not activate: the run restarts.
    for (t, load) in [(0, 950), (30, 990), (50, 500), (80, 950), (130, 950)] {
        w.handle_load(secs(t), load).unwrap();
    }
    assert!(!w.is_active());
    assert!(w.admits(&stranger));
    // 60 s of uninterrupted high load from t = 80.
    w.handle_load(secs(140), 920).unwrap();
    assert!(w.is_active());
    assert_eq!(
        drain(&mut w),
        vec![WhitelistOutput::Activated { at: secs(140) }]
    );
    assert!(w.admits(&dp));
    assert!(!w.admits(&stranger));
    assert_eq!(w.next_deadline(), Some(secs(140 + 3_600)));
}

#[test]
fn dpor_whitelist_lifts_after_a_quiet_period() {
    let (mut w, _, stranger) = setup();
    w.activate(secs(0));
    drain(&mut w);
    w.handle_load(secs(10), 100).unwrap();
    w.handle_load(secs(200), 950).unwrap(); // attack resumes: the quiet run restarts
    w.handle_load(secs(210), 100).unwrap();
    w.handle_load(secs(509), 100).unwrap();
    assert!(w.is_active());
    w.handle_load(secs(510), 100).unwrap();
    assert!(!w.is_active());
    assert!(w.admits(&stranger));
    assert_eq!(
        drain(&mut w),
        vec![WhitelistOutput::Lifted {
            at: secs(510),
            reason: LiftReason::Quiet
        }]
    );
}

#[test]
fn dpor_whitelist_lifts_after_the_maximum_duration_and_on_command() {
    let (mut w, _, _) = setup();
    for t in 0..=60 {
        w.handle_load(secs(t), 1000).unwrap();
    }
    assert!(w.is_active());
    drain(&mut w);
    // The timer fires at the deadline even without samples.
    w.handle_timeout(secs(60 + 3_599));
    assert!(w.is_active());
    w.handle_timeout(secs(60 + 3_600));
    assert!(!w.is_active());
    assert_eq!(
        drain(&mut w),
        vec![WhitelistOutput::Lifted {
            at: secs(3_660),
            reason: LiftReason::MaxDuration
        }]
    );
    // Still overloaded: a fresh full run is needed before it comes back.
    w.handle_load(secs(3_661), 1000).unwrap();
    assert!(!w.is_active());
    w.handle_load(secs(3_721), 1000).unwrap();
    assert!(w.is_active());
    w.deactivate(secs(3_722));
    w.deactivate(secs(3_723)); // already off: no second event
    let events = drain(&mut w);
    assert_eq!(
        events.last(),
        Some(&WhitelistOutput::Lifted {
            at: secs(3_722),
            reason: LiftReason::Manual
        })
    );
    assert_eq!(events.len(), 2);
}

#[test]
fn dpor_whitelist_refuses_bad_input_and_is_deterministic() {
    let (mut w, _, _) = setup();
    assert_eq!(
        w.handle_load(secs(1), 1001),
        Err(WhitelistError::Utilisation(1001))
    );
    assert!(Whitelist::new(
        WhitelistConfig {
            high_permille: 0,
            ..WhitelistConfig::default()
        },
        &[]
    )
    .is_err());
    let five: Vec<Address> = (0..5).map(|i| Address([i; 20])).collect();
    assert_eq!(
        Whitelist::new(
            WhitelistConfig {
                capacity: 4,
                ..WhitelistConfig::default()
            },
            &five
        )
        .err(),
        Some(WhitelistError::Full(4))
    );
    // Same samples, same events; time going backwards counts as no time passing.
    let samples = [(0u64, 950u16), (70, 950), (30, 100), (400, 100), (371, 100)];
    let run = || {
        let (mut w, _, _) = setup();
        for (t, l) in samples {
            w.handle_load(secs(t), l).unwrap();
        }
        (w.is_active(), drain(&mut w))
    };
    assert_eq!(run(), run());
    assert_eq!(
        run().1,
        vec![
            WhitelistOutput::Activated { at: secs(70) },
            WhitelistOutput::Lifted {
                at: secs(400),
                reason: LiftReason::Quiet
            }
        ]
    );
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn dpor_whitelist_events_alternate_and_match_state(
            steps in proptest::collection::vec((0u64..400, 0u16..=1000, 0u8..20), 0..200)
        ) {
            let (mut w, dp, stranger) = setup();
            let mut t = 0u64;
            let mut active = false;
            for (dt, load, cmd) in steps {
                t += dt;
                match cmd {
                    0 => w.activate(secs(t)),
                    1 => w.deactivate(secs(t)),
                    2 => w.handle_timeout(secs(t)),
                    _ => w.handle_load(secs(t), load).unwrap(),
                }
                while let Some(e) = w.poll_output() {
                    match e {
                        WhitelistOutput::Activated { .. } => prop_assert!(!active),
                        WhitelistOutput::Lifted { .. } => prop_assert!(active),
                        other => prop_assert!(false, "unknown output {:?}", other),
                    }
                    active = !active;
                }
                prop_assert_eq!(w.is_active(), active);
                prop_assert!(w.admits(&dp));
                prop_assert_eq!(w.admits(&stranger), !active);
                if let Some(d) = w.next_deadline() {
                    prop_assert!(active && d > secs(t));
                }
            }
        }
    }
}
