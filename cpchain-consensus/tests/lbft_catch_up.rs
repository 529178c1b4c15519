//! Catch-up: future-height messages are buffered under a hard bound, a valid VALIDATE for
//! the current height is adopted, and a lagging validator can be fed old certificates.

mod common;
use common::*;
use cpchain_consensus::lbft::*;
use cpchain_core::Height;

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

#[test]
fn validator_behind_gets_previous_validate_once() {
    let mut net = Net::new(Fixture::new(4), vec![Role::Honest; 4]);
    assert!(net.run(1, 30));
    let v = &mut net.nodes[0];
    assert_eq!(v.height(), Height(2));
    // A member still at height 1 sends a round change for height 1.
    let fx = Fixture::new(4);
    let rc = RoundChange::sign(&fx.keys[3], fx.spec.chain_id, Height(1), 1, None);
    let r = v.handle_message(net.now, fx.addr(3), Message::RoundChange(rc.clone()));
    assert_eq!(r, Err(Rejected::StaleHeight));
    let outs = drain(v);
    let sent: Vec<_> = outs
        .iter()
        .filter_map(|o| match o {
            Output::Send {
                to,
                msg: Message::Validate(val),
            } => Some((*to, val.block.header.height)),
            _ => None,
        })
        .collect();
    assert_eq!(sent, vec![(fx.addr(3), Height(1))]);
    let _ = v.handle_message(net.now, fx.addr(3), Message::RoundChange(rc));
    assert!(drain(v).is_empty(), "only once per peer and height");
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
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 4);
    assert_eq!(
        results
            .iter()
            .filter(|r| **r == Err(Rejected::BufferFull))
            .count(),
        6
    );
    assert_eq!(v.stats().dropped_future, 6);
    // Beyond the height window: refused outright.
    let far = fx.vote(1, VoteKind::Prepare, 100, 0, cpchain_core::Hash::ZERO);
    assert_eq!(
        v.handle_message(T0, fx.addr(1), Message::Vote(far)),
        Err(Rejected::TooFarAhead)
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
        Ok(())
    );
    assert_eq!(
        v.handle_message(t, fx.addr(2), Message::RoundChange(rc(2, far + 5))),
        Ok(())
    );
    assert_eq!(v.round(), 0, "f validators are not enough");
    // A repeated or lower far round from the same sender costs nothing more.
    assert_eq!(
        v.handle_message(t, fx.addr(2), Message::RoundChange(rc(2, far))),
        Err(Rejected::Duplicate)
    );
    assert_eq!(
        v.handle_message(t, fx.addr(3), Message::RoundChange(rc(3, far + 9))),
        Ok(())
    );
    // The (f + 1)-th highest round seen is `far`.
    assert_eq!(v.round(), far);
    let outs = drain(&mut v);
    assert!(outs
        .iter()
        .any(|o| matches!(o, Output::Broadcast(Message::RoundChange(r)) if r.round == far)));
}
