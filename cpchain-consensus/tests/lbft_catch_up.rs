//! Catch-up: future-height messages are buffered under a hard bound, a valid VALIDATE for
//! the current height is adopted, and a lagging validator can be fed old certificates.

mod common;
use common::*;
use cpchain_consensus::lbft::*;
use cpchain_core::{Address, Height};

#[test]
fn lagging_validator_catches_up_from_validate_messages() {
    let mut net = Net::new(Fixture::new(4), vec![Role::Honest; 4]);
    net.partitioned.push(3);
    assert!(net.run(4, 60));
    assert_eq!(net.nodes[3].height(), Height(1));
    // Feed validator 3 only the VALIDATE messages it missed, newest first: the later ones
    // wait in the future buffer until their parent is adopted.
    let mut validates: Vec<Message> = net
        .held
        .iter()
        .filter(|e| e.to == 3 && matches!(e.msg, Message::Validate(_)))
        .map(|e| e.msg.clone())
        .collect();
    validates.reverse();
    let now = net.now;
    let mut outs = Vec::new();
    for m in validates {
        let _ = net.nodes[3].handle_message(now, net.fx.addr(0), m);
        outs.extend(drain(&mut net.nodes[3]));
    }
    let adopted: Vec<_> = commits(&outs)
        .iter()
        .map(|(b, _)| (b.header.height, b.id()))
        .collect();
    assert_eq!(adopted[..4], net.decided[0][..4]);
    assert!(net.nodes[3].height().0 >= 5);
}

fn sent_validates(outs: &[ValidatorOutput]) -> Vec<(Address, Height)> {
    outs.iter()
        .filter_map(|o| match o {
            ValidatorOutput::Send {
                to,
                msg: Message::Validate(val),
            } => Some((*to, val.block.header.height)),
            _ => None,
        })
        .collect()
}

#[test]
fn catch_up_answer_is_once_per_peer_and_height_per_round() {
    let mut net = Net::new(Fixture::new(4), vec![Role::Honest; 4]);
    assert!(net.run(1, 30));
    let fx = Fixture::new(4);
    let v = &mut net.nodes[0];
    assert_eq!(v.height(), Height(2));
    // A member still at height 1 sends a round change for height 1.
    let rc = |r: u32| {
        Message::RoundChange(RoundChange::sign(
            &fx.keys[3],
            fx.spec.chain_id,
            Height(1),
            r,
            None,
        ))
    };
    let r = v.handle_message(net.now, fx.addr(3), rc(1));
    assert_eq!(r, Verdict::Ignore(Rejected::StaleHeight));
    assert_eq!(sent_validates(&drain(v)), vec![(fx.addr(3), Height(1))]);
    // Within one of our rounds, more round changes from it cost nothing more.
    for round in [1, 2, 3] {
        let _ = v.handle_message(net.now, fx.addr(3), rc(round));
    }
    assert!(
        drain(v).is_empty(),
        "only once per peer and height per round"
    );
    // Nor does anything from a non-member, from ourselves, or about a height we no
    // longer hold (genesis has no VALIDATE).
    let _ = v.handle_message(net.now, fx.proposers[0].public_key().address(), rc(4));
    let _ = v.handle_message(net.now, fx.addr(0), rc(4));
    let old = RoundChange::sign(&fx.keys[2], fx.spec.chain_id, Height(0), 1, None);
    let _ = v.handle_message(net.now, fx.addr(2), Message::RoundChange(old));
    assert!(drain(v).is_empty());
    // Our round ends: the answer may have been lost, so the next round change from the
    // laggard is answered again.
    for _ in 0..3 {
        let t = v.next_deadline().unwrap();
        v.handle_timeout(t);
    }
    assert_eq!((v.height(), v.round()), (Height(2), 1));
    drain(v);
    let _ = v.handle_message(net.now, fx.addr(3), rc(5));
    assert_eq!(sent_validates(&drain(v)), vec![(fx.addr(3), Height(1))]);
}

#[test]
fn validate_rebroadcast_by_a_laggard_is_answered_with_the_next_one() {
    // A validator re-broadcasts each VALIDATE it adopts; a peer several heights ahead
    // answers with the VALIDATE of the following height, so catch-up takes one round
    // trip per height instead of one round per height.
    let mut net = Net::new(Fixture::new(4), vec![Role::Honest; 4]);
    assert!(net.run(3, 60));
    let fx = Fixture::new(4);
    let v = &mut net.nodes[0];
    assert_eq!(v.height(), Height(4));
    let answer = |outs: Vec<ValidatorOutput>| match outs.as_slice() {
        [ValidatorOutput::Send { to, msg }] if *to == fx.addr(3) => msg.clone(),
        other => panic!("expected one catch-up answer to node 3, got {other:?}"),
    };
    // Node 3 is stuck at height 1 and says so.
    let rc = RoundChange::sign(&fx.keys[3], fx.spec.chain_id, Height(1), 1, None);
    let _ = v.handle_message(net.now, fx.addr(3), Message::RoundChange(rc));
    let mut val = answer(drain(v));
    for h in 1..=3 {
        assert_eq!(val.height(), Height(h));
        // Node 3 adopts it and re-broadcasts it.
        assert_eq!(
            v.handle_message(net.now, fx.addr(3), val.clone()),
            Verdict::Ignore(Rejected::StaleHeight)
        );
        let outs = drain(v);
        if h == 3 {
            // VALIDATE(3) puts node 3 at our height: nothing more to hand out.
            assert!(outs.is_empty(), "{outs:?}");
        } else {
            val = answer(outs);
        }
    }
    assert_eq!(v.height(), Height(4));
}

#[test]
fn future_buffer_is_bounded_and_drops_are_counted() {
    let fx = Fixture::new(4);
    let mut cfg = fx.config(0);
    cfg.future_buffer = 4;
    let mut v = Validator::new(cfg, fx.schedule.clone(), fx.genesis.clone(), T0).unwrap();
    drain(&mut v);
    let mut results = Vec::new();
    for i in 0..10u8 {
        let vote = fx.vote(1, VoteKind::Prepare, 2, 0, cpchain_core::Hash([i; 32]));
        results.push(v.handle_message(T0, fx.addr(1), Message::Vote(vote)));
    }
    assert_eq!(results.iter().filter(|r| r.is_accept()).count(), 4);
    assert_eq!(
        results
            .iter()
            .filter(|r| **r == Verdict::Ignore(Rejected::BufferFull))
            .count(),
        6
    );
    assert_eq!(v.stats().dropped_for(ValidatorDrop::BufferFull), 6);
    // Beyond the height window: refused outright.
    let far = fx.vote(1, VoteKind::Prepare, 100, 0, cpchain_core::Hash::ZERO);
    assert_eq!(
        v.handle_message(T0, fx.addr(1), Message::Vote(far)),
        Verdict::Ignore(Rejected::TooFarAhead)
    );
}

#[test]
fn validator_far_behind_in_rounds_catches_up_from_round_changes() {
    // Rounds beyond the lookahead are refused for votes, but the round changes of f + 1
    // validators (one of them honest) still pull a validator forward: after a long
    // partition it does not have to time out through every round.
    let fx = Fixture::new(7);
    let mut v = fx.validator(0);
    let t = T0;
    let far = 1_000;
    let rc =
        |i: usize, r: u32| RoundChange::sign(&fx.keys[i], fx.spec.chain_id, Height(1), r, None);
    assert_eq!(
        v.handle_message(t, fx.addr(1), Message::RoundChange(rc(1, far))),
        Verdict::Accept
    );
    assert_eq!(
        v.handle_message(t, fx.addr(2), Message::RoundChange(rc(2, far + 5))),
        Verdict::Accept
    );
    assert_eq!(v.round(), 0, "f validators are not enough");
    // A repeated or lower far round from the same sender costs nothing more.
    assert_eq!(
        v.handle_message(t, fx.addr(2), Message::RoundChange(rc(2, far))),
        Verdict::Ignore(Rejected::Duplicate)
    );
    assert_eq!(
        v.handle_message(t, fx.addr(3), Message::RoundChange(rc(3, far + 9))),
        Verdict::Accept
    );
    // The (f + 1)-th highest round seen is `far`.
    assert_eq!(v.round(), far);
    let outs = drain(&mut v);
    assert!(outs.iter().any(
        |o| matches!(o, ValidatorOutput::Broadcast(Message::RoundChange(r)) if r.round == far)
    ));
}

/// Node 0 misses height 1 (partitioned; what it missed is lost) while the other three
/// decide it with the Byzantine node 3's votes; then node 3 goes silent, so height 2 needs
/// node 0. Returns the network with node 0 back on it and one height behind.
fn laggard_needed_for_next_height(heights_missed: u64) -> Net {
    let mut roles = vec![Role::Honest; 4];
    roles[3] = Role::Equivocator;
    let mut net = Net::new(Fixture::new(4), roles);
    net.partitioned.push(0);
    assert!(net.run(heights_missed, 60 * heights_missed as usize));
    assert_eq!(net.nodes[0].height(), Height(1));
    for i in 1..3 {
        assert_eq!(net.nodes[i].height(), Height(heights_missed + 1));
    }
    net.roles[3] = Role::Silent;
    net.partitioned.clear();
    net.held.clear();
    net
}

#[test]
fn laggard_whose_catch_up_validate_was_lost_still_catches_up() {
    // Liveness after stabilisation: the catch-up answer to the laggard's first round
    // change is lost; the honest validators must answer a later one.
    let mut net = laggard_needed_for_next_height(1);
    let mut lost = 0;
    for _ in 0..3 {
        net.tick();
        while !net.queue.is_empty() {
            let before = net.queue.len();
            net.drop_where(|e| e.to == 0 && matches!(e.msg, Message::Validate(_)));
            lost += before - net.queue.len();
            net.deliver_one();
        }
    }
    assert!(lost > 0, "the scenario must lose a catch-up VALIDATE");
    assert_eq!(
        net.nodes[0].height(),
        Height(1),
        "still behind after the losses"
    );
    // The network now delivers everything: node 0 is brought up to date and height 2,
    // which needs it, is decided.
    assert!(net.run(2, 60), "heights {:?}", heights(&net));
    net.assert_agreement();
}

#[test]
fn laggard_several_heights_behind_catches_up_from_recent_validates() {
    // Node 0 misses three heights; the others keep the VALIDATEs of recent heights
    // (`Config::catch_up_heights`) and hand them out one by one as node 0 advances.
    let mut net = laggard_needed_for_next_height(3);
    assert!(net.run(4, 60), "heights {:?}", heights(&net));
    net.assert_agreement();
    assert_eq!(net.decided[0][..3], net.decided[1][..3]);
}

fn heights(net: &Net) -> Vec<(Height, u32)> {
    net.nodes.iter().map(|v| (v.height(), v.round())).collect()
}
