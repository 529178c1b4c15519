//! Replays against the engine the schedule the model checker (`tests/model_lbft.rs`) once
//! reported as a liveness violation, to decide whether it was an engine bug or a model
//! artefact.
//!
//! The model's path, at n = 4 with the Byzantine validator X = 3: height 1's proposal `B`
//! reaches validators 0 and 2, 1 gives up and impeach-prepares; X prepares and commits `B`
//! towards 0 and the impeach block `I` towards 1 and 2, then falls silent; 0 gets a
//! P-certificate for `B` and commits (locked on round 0), 1 and 2 are stuck. The network
//! then stabilises. In the model's path, 2 and 1 entered round 1 while 0 stayed in round 0,
//! and 1 gave up on round 1's proposal before its leader (2) proposed; the same again in
//! round 3 with leader 0, and the model's round bound (3) ended the path undecided.
//!
//! Replayed here step by step, the engine departs from that path in two places, both rules
//! the model did not have: (1) the `f + 1` round catch-up pulls 0 into round 1 as soon as
//! the round changes of 1 and 2 arrive, so its lock reaches the leader; (2) a round ≥ 1
//! leader proposes a quarter into the round, a validator gives up at half the round, so once
//! messages arrive within a quarter round no validator gives up before the leader's proposal
//! arrives. With both, round 1 decides `B`. Verdict: a model artefact, not an engine bug.

mod common;
use common::*;
use cpchain_consensus::lbft::*;
use cpchain_core::{Height, Timestamp};

const X: usize = 3;
const ROUND0_GIVE_UP: u64 = 6_000; // period 3 s + impeach timeout 3 s (devnet)
const ROUND0_END: u64 = 9_000;

fn at(ms: u64) -> Timestamp {
    T0 + duration_ms(ms)
}

/// Deliver the first in-flight message from `from` to `to` that `pick` accepts.
fn deliver(net: &mut Net, from: usize, to: usize, pick: impl Fn(&Message) -> bool) {
    let pos = net
        .queue
        .iter()
        .position(|e| e.from == from && e.to == to && pick(&e.msg))
        .unwrap_or_else(|| panic!("no such message in flight from {from} to {to}"));
    let e = net.queue.remove(pos).unwrap();
    let now = net.now;
    let addr = net.fx.addr(e.from);
    let _ = net.nodes[e.to].handle_message(now, addr, e.msg);
    net.pump(e.to);
}

fn vote(round: u32, kind: VoteKind) -> impl Fn(&Message) -> bool {
    move |m| matches!(m, Message::Vote(v) if v.round == round && v.kind == kind)
}

fn round_change(round: u32) -> impl Fn(&Message) -> bool {
    move |m| matches!(m, Message::RoundChange(rc) if rc.round == round)
}

fn timer(net: &mut Net, i: usize, t: Timestamp) {
    net.now = t;
    net.nodes[i].handle_timeout(t);
    net.pump(i);
}

#[test]
fn every_honest_validator_decides_after_a_double_vote_split_once_the_network_delivers() {
    let fx = Fixture::new(4);
    let mut net = Net::new(
        fx.clone(),
        vec![Role::Honest, Role::Honest, Role::Honest, Role::Silent],
    );
    net.proposed.push(Height(1));
    let b = fx.proposal(&fx.genesis, vec![vec![1; 16]]);
    let imp = fx.impeach(&fx.genesis);
    for i in 0..3 {
        assert_eq!(fx.set.index_of(&fx.addr(i)), Some(i));
    }
    assert_eq!(leader(&fx.set, Height(1), 1), Some(fx.addr(2)));
    assert_eq!(leader(&fx.set, Height(1), 2), Some(fx.addr(X)));

    // Round 0. X's double votes: B towards 0, I towards 1 and 2 (prepare and commit).
    net.now = at(3_000);
    for (to, kinds, block) in [
        (0, [VoteKind::Prepare, VoteKind::Commit], b.id()),
        (
            1,
            [VoteKind::ImpeachPrepare, VoteKind::ImpeachCommit],
            imp.id(),
        ),
        (
            2,
            [VoteKind::ImpeachPrepare, VoteKind::ImpeachCommit],
            imp.id(),
        ),
    ] {
        for kind in kinds {
            net.inject(X, &[to], Message::Vote(fx.vote(X, kind, 1, 0, block)));
            deliver(&mut net, X, to, vote(0, kind));
        }
    }
    // B reaches 0 and 2 (model: 0 is the proposer's side, 2 gets the PRE-PREPARE later);
    // the copy to 1 is delayed beyond its timer.
    net.inject(X, &[0, 2, 1], Message::PrePrepare(b.clone()));
    deliver(&mut net, X, 0, |m| matches!(m, Message::PrePrepare(_)));
    deliver(&mut net, X, 2, |m| matches!(m, Message::PrePrepare(_)));
    // Model: GiveUp(1).
    timer(&mut net, 1, at(ROUND0_GIVE_UP));
    assert_eq!(net.nodes[1].state(), State::ImpeachPrepare);
    // Model: the round-0 votes in the path's order.
    deliver(&mut net, 1, 2, vote(0, VoteKind::ImpeachPrepare));
    deliver(&mut net, 0, 2, vote(0, VoteKind::Prepare));
    deliver(&mut net, 0, 1, vote(0, VoteKind::Prepare));
    deliver(&mut net, 1, 0, vote(0, VoteKind::ImpeachPrepare));
    deliver(&mut net, 2, 1, vote(0, VoteKind::Prepare));
    deliver(&mut net, 2, 0, vote(0, VoteKind::Prepare));
    // 0 has a P-certificate (0, 2, X): it commits B and is locked on round 0.
    assert_eq!(net.nodes[0].state(), State::Commit);
    assert_eq!(net.nodes[0].lock(), Some((0, b.id())));
    deliver(&mut net, 0, 2, vote(0, VoteKind::Commit));
    deliver(&mut net, 0, 1, vote(0, VoteKind::Commit));
    deliver(&mut net, X, 1, |m| matches!(m, Message::PrePrepare(_)));
    // The model's deadlock set-up: nobody can decide in round 0.
    assert_eq!(net.nodes[1].state(), State::ImpeachPrepare);
    assert_eq!(net.nodes[2].state(), State::Prepare);
    assert!(net.decided.iter().all(|d| d.is_empty()));
    // Everything between honest validators has arrived (X, silent, ignores its copies).
    net.drop_where(|e| e.to == X);
    assert!(net.queue.is_empty());

    // The network stabilises (model: Gst). Model: EndRound(2), its round change to 1 and 0,
    // EndRound(1), its round change to 2 and 0 — 0's own timer has not fired yet.
    timer(&mut net, 2, at(ROUND0_END));
    deliver(&mut net, 2, 1, round_change(1));
    deliver(&mut net, 2, 0, round_change(1));
    assert_eq!(net.nodes[0].round(), 0, "one round change is not f + 1");
    timer(&mut net, 1, at(ROUND0_END));
    deliver(&mut net, 1, 2, round_change(1));
    deliver(&mut net, 1, 0, round_change(1));
    // First departure from the model's path: the f + 1 round catch-up. 0 enters round 1
    // at once and announces its lock; the model left 0 in round 0.
    assert_eq!(net.nodes[0].round(), 1);
    let lock_announced = net.queue.iter().any(|e| {
        e.from == 0
            && matches!(&e.msg, Message::RoundChange(rc) if rc.round == 1 && rc.lock.is_some())
    });
    assert!(lock_announced);
    net.deliver_all();

    // Second departure: in the model 1 gave up on round 1 (prepared I) before the leader 2
    // proposed. In the engine the leader proposes a quarter into the round and 1 gives up at
    // half of it: with messages arriving within a quarter round, the proposal comes first.
    let next: Vec<_> = (0..3)
        .map(|i| net.nodes[i].next_deadline().unwrap())
        .collect();
    assert_eq!(next[2], at(ROUND0_END + 1_500), "leader 2 proposes first");
    assert!(next[0] > next[2] && next[1] > next[2]);
    timer(&mut net, 2, next[2]);
    net.deliver_all();

    // Round 1 decides B (0's lock, shown to the leader) at every honest validator.
    for i in 0..3 {
        assert_eq!(net.decided[i], vec![(Height(1), b.id())], "validator {i}");
    }
    // And the next height is decided too (model: heights 1 and 2), X still silent.
    assert!(net.run(2, 40), "height 2 not decided");
    net.assert_agreement();
    for i in 0..3 {
        assert_eq!(net.decided[i].len(), 2, "validator {i}");
    }
}
