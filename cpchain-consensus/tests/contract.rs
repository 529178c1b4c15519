//! Issue 13: the consensus machines keep the SDK's one sans-IO contract
//! ([`cpchain_core::machine::Machine`]). The SDK's one set of contract checks
//! (`cpchain_core::machine::conformance`, also used by `cpchain-storage/tests/contract.rs`)
//! drives the LBFT [`Validator`] and the DPoR [`Whitelist`] through the trait only (inputs,
//! then a drain): deadlines fire and move
//! on, an early timeout is harmless, outputs drain to `None`, and a peer's bad message is
//! no `Err`: it is counted once in `stats().dropped()` by reason and leaves the state
//! unchanged.
mod common;

use common::*;
use cpchain_consensus::dpor::{LiftReason, Whitelist, WhitelistConfig, WhitelistOutput};
use cpchain_consensus::lbft::*;
use cpchain_core::machine::conformance::{bad_peer_input, fire, step};
use cpchain_core::machine::{Machine, MachineStats};
use cpchain_core::{Address, Duration, Height, Timestamp};

fn show_validator(o: ValidatorOutput) -> String {
    match o {
        ValidatorOutput::Broadcast(Message::Vote(v)) => format!("broadcast {:?}", v.kind),
        ValidatorOutput::Broadcast(Message::RoundChange(rc)) => {
            format!("broadcast round change {}", rc.round)
        }
        ValidatorOutput::Broadcast(_) => "broadcast".into(),
        ValidatorOutput::Send { .. } => "send".into(),
        ValidatorOutput::Persist(_) => "persist".into(),
        ValidatorOutput::CheckBlock { .. } => "check block".into(),
        ValidatorOutput::Commit { .. } => "commit".into(),
        ValidatorOutput::Fault(_) => "fault".into(),
        other => format!("{other:?}"),
    }
}

/// What a peer could change in a validator: its place, vote state, lock and what it holds.
fn validator_snapshot(
    v: &Validator<FixedSchedule>,
) -> (Height, u32, State, Option<(u32, BlockId)>, Held) {
    (v.height(), v.round(), v.state(), v.lock(), v.held())
}

#[test]
fn lbft_validator_keeps_the_contract() {
    let fx = Fixture::new(4);
    let mut v = Validator::new(fx.config(0), fx.schedule.clone(), fx.genesis.clone(), T0).unwrap();
    // A fresh start persists its height before anything else.
    assert_eq!(
        step(&mut v, |_| {}, show_validator).unwrap(),
        vec!["persist"]
    );
    // No proposal by `parent + period + impeach timeout`: the timer impeaches (§2.4.2),
    // persisting the vote before sending it.
    let (due, out) = fire(&mut v, show_validator).unwrap();
    assert_eq!(
        due,
        T0.saturating_add(fx.spec.block_period)
            .saturating_add(fx.spec.impeach_timeout)
    );
    assert_eq!(out, vec!["persist", "broadcast ImpeachPrepare"]);
    // The round's end is the next deadline; firing it starts round 1 with a round change.
    let (_, out) = fire(&mut v, show_validator).unwrap();
    assert_eq!(out, vec!["persist", "broadcast round change 1"]);
    assert_eq!(Machine::stats(&v).dropped(), 0);

    // Peer input that is bad in itself: rejected, counted, state unchanged.
    let outsider = secret(9999);
    let vote = Vote::sign(
        &outsider,
        fx.spec.chain_id,
        VoteKind::Prepare,
        Height(1),
        1,
        v.impeach_id(),
    );
    assert!(
        bad_peer_input(
            &mut v,
            |v| {
                let verdict =
                    v.handle_message(T0, outsider.public_key().address(), Message::Vote(vote));
                assert_eq!(verdict, Verdict::Reject(Rejected::NotMember));
            },
            validator_snapshot,
            |o| format!("{o:?}")
        )
        .unwrap()
        .is_empty(),
        "a dropped input emits nothing"
    );
    assert!(
        bad_peer_input(
            &mut v,
            |v| {
                let verdict = v.handle_bytes(T0, fx.addr(1), &[0xff; 16]);
                assert!(matches!(verdict, Verdict::Reject(Rejected::Decode(_))));
            },
            validator_snapshot,
            |o| format!("{o:?}")
        )
        .unwrap()
        .is_empty(),
        "a dropped input emits nothing"
    );
    // Peer input of no use now: ignored (no blame), counted all the same.
    let stale = fx.vote(1, VoteKind::Prepare, 0, 0, v.impeach_id());
    assert!(
        bad_peer_input(
            &mut v,
            |v| {
                let verdict = v.handle_message(T0, fx.addr(1), Message::Vote(stale));
                assert_eq!(verdict, Verdict::Ignore(Rejected::StaleHeight));
            },
            validator_snapshot,
            |o| format!("{o:?}")
        )
        .unwrap()
        .is_empty(),
        "a dropped input emits nothing"
    );
    let stats = Machine::stats(&v);
    assert_eq!(stats.dropped(), 3);
    assert_eq!(
        (
            stats.dropped_for(ValidatorDrop::NotMember),
            stats.dropped_for(ValidatorDrop::Decode),
            stats.dropped_for(ValidatorDrop::StaleHeight),
        ),
        (1, 1, 1)
    );
    // The caller's own mistake is still an `Err`: validator 0 does not propose height 1.
    if fx.schedule.proposer_of(Height(1)) != Some(fx.addr(0)) {
        assert_eq!(v.propose(T0, vec![]), Err(ProposeError::NotScheduled));
    }
}

fn show_whitelist(o: WhitelistOutput) -> String {
    match o {
        WhitelistOutput::Activated { .. } => "activated".into(),
        WhitelistOutput::Lifted { reason, .. } => format!("lifted {reason:?}"),
        other => format!("{other:?}"),
    }
}

#[test]
fn dpor_whitelist_keeps_the_contract() {
    let cfg = WhitelistConfig {
        max_active: Duration::from_secs(600),
        ..WhitelistConfig::default()
    };
    let mut w = Whitelist::new(cfg, &[Address([0xd0; 20])]).unwrap();
    assert_eq!(Machine::next_deadline(&w), None, "off: nothing due");
    let out = step(&mut w, |w| w.activate(Timestamp(1_000)), show_whitelist).unwrap();
    assert_eq!(out, vec!["activated"]);
    // The maximum duration lifts it through the one timer (§2.6.3 4.ii).
    let (due, out) = fire(&mut w, show_whitelist).unwrap();
    assert_eq!(due, Timestamp(601_000));
    assert_eq!(out, vec![format!("lifted {:?}", LiftReason::MaxDuration)]);
    assert_eq!(Machine::next_deadline(&w), None);
    // The filter takes no peer input: nothing is ever dropped; its own counters count.
    let stats = Machine::stats(&w);
    assert_eq!((stats.dropped(), stats.activations, stats.lifts), (0, 1, 1));
    // A sample above 1000 ‰ is the host's mistake: `Err`, state unchanged.
    assert!(w.handle_load(Timestamp(602_000), 1001).is_err());
    assert!(Machine::poll_output(&mut w).is_none());
}
