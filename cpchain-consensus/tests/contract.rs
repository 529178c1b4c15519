//! Issue 13: the consensus machines keep the SDK's one sans-IO contract
//! ([`cpchain_core::machine::Machine`]). The same generic helpers as
//! `cpchain-storage/tests/contract.rs` drive the LBFT [`Validator`] and the DPoR
//! [`Whitelist`] through the trait only (inputs, then [`drain`]): deadlines fire and move
//! on, an early timeout is harmless, outputs drain to `None`, and a peer's bad message is
//! no `Err`: it is counted once in `stats().dropped()` by reason and leaves the state
//! unchanged.
mod common;

use common::*;
use cpchain_consensus::dpor::{LiftReason, Whitelist, WhitelistConfig, WhitelistOutput};
use cpchain_consensus::lbft::*;
use cpchain_core::machine::{drain, Machine, MachineStats};
use cpchain_core::{Address, Duration, Height, Timestamp};
use std::fmt::Debug;

/// The one helper: apply `input` to the machine, then drain every output through the
/// trait, rendering each with `show`. Checks the queue is empty afterwards.
fn step<M, I, S>(m: &mut M, input: I, mut show: S) -> Vec<String>
where
    M: Machine,
    I: FnOnce(&mut M),
    S: FnMut(M::Output<'_>) -> String,
{
    input(m);
    let mut out = Vec::new();
    let n = drain(m, |o| out.push(show(o)));
    assert_eq!(n, out.len());
    assert!(m.poll_output().is_none(), "drained to None");
    out
}

/// Fires the machine's timer through the trait, exactly at its deadline, and returns that
/// deadline and what the timeout produced. Calling it earlier must change nothing.
fn fire<M, S>(m: &mut M, show: S) -> (Timestamp, Vec<String>)
where
    M: Machine,
    S: FnMut(M::Output<'_>) -> String,
{
    let due = m.next_deadline().expect("the machine has a deadline");
    let early = Timestamp(due.0.saturating_sub(1));
    m.handle_timeout(early);
    assert_eq!(m.next_deadline(), Some(due), "an early call is harmless");
    assert!(m.poll_output().is_none(), "an early call emits nothing");
    let out = step(m, |m| m.handle_timeout(due), show);
    assert_ne!(
        m.next_deadline(),
        Some(due),
        "the deadline fired and moved on"
    );
    (due, out)
}

/// A peer's bad input: dropped, counted exactly once in `stats().dropped()`, no output, and
/// the machine's observable state (`snapshot`) and deadline unchanged.
fn bad_peer_input<M, I, P, S>(m: &mut M, input: I, snapshot: P)
where
    M: Machine,
    I: FnOnce(&mut M),
    P: Fn(&M) -> S,
    S: PartialEq + Debug,
{
    let before = (snapshot(m), m.stats().dropped(), m.next_deadline());
    let out = step(m, input, |_| "out".to_string());
    let after = (snapshot(m), m.stats().dropped(), m.next_deadline());
    assert!(out.is_empty(), "a dropped input emits nothing");
    assert_eq!(after.0, before.0, "state unchanged");
    assert_eq!(after.1, before.1 + 1, "counted once: {:?}", m.stats());
    assert_eq!(after.2, before.2, "deadline unchanged");
}

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
    assert_eq!(step(&mut v, |_| {}, show_validator), vec!["persist"]);
    // No proposal by `parent + period + impeach timeout`: the timer impeaches (§2.4.2),
    // persisting the vote before sending it.
    let (due, out) = fire(&mut v, show_validator);
    assert_eq!(
        due,
        T0.saturating_add(fx.spec.block_period)
            .saturating_add(fx.spec.impeach_timeout)
    );
    assert_eq!(out, vec!["persist", "broadcast ImpeachPrepare"]);
    // The round's end is the next deadline; firing it starts round 1 with a round change.
    let (_, out) = fire(&mut v, show_validator);
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
    bad_peer_input(
        &mut v,
        |v| {
            let verdict =
                v.handle_message(T0, outsider.public_key().address(), Message::Vote(vote));
            assert_eq!(verdict, Verdict::Reject(Rejected::NotMember));
        },
        validator_snapshot,
    );
    bad_peer_input(
        &mut v,
        |v| {
            let verdict = v.handle_bytes(T0, fx.addr(1), &[0xff; 16]);
            assert!(matches!(verdict, Verdict::Reject(Rejected::Decode(_))));
        },
        validator_snapshot,
    );
    // Peer input of no use now: ignored (no blame), counted all the same.
    let stale = fx.vote(1, VoteKind::Prepare, 0, 0, v.impeach_id());
    bad_peer_input(
        &mut v,
        |v| {
            let verdict = v.handle_message(T0, fx.addr(1), Message::Vote(stale));
            assert_eq!(verdict, Verdict::Ignore(Rejected::StaleHeight));
        },
        validator_snapshot,
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
    let out = step(&mut w, |w| w.activate(Timestamp(1_000)), show_whitelist);
    assert_eq!(out, vec!["activated"]);
    // The maximum duration lifts it through the one timer (§2.6.3 4.ii).
    let (due, out) = fire(&mut w, show_whitelist);
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
