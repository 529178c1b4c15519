//! §2.4.2 normal case end to end: with a live proposer and honest validators, every
//! height decides the proposer's block in round 0, with no impeachment and no fault.

mod common;
use common::*;
use cpchain_consensus::lbft::*;

#[test]
fn normal_case_decides_the_proposers_block_every_height() {
    for n in [4, 7] {
        let fx = Fixture::new(n);
        let mut net = Net::new(fx.clone(), vec![Role::Honest; n]);
        assert!(net.run(3, 40), "n = {n}");
        net.assert_agreement();
        assert!(net.faults.is_empty());
        for i in 0..n {
            assert!(net.nodes[i].round() == 0);
            assert_eq!(net.nodes[i].stats().decided, net.decided[i].len() as u64);
        }
        // Each decided block is a sealed, non-impeach block by the scheduled proposer.
        let mut parent = fx.genesis.clone();
        for (h, id) in &net.decided[0][..3] {
            let expected = fx.proposal(&parent, vec![vec![h.0 as u8; 8]]);
            assert_eq!(expected.id(), *id);
            assert!(!expected.is_impeach());
            parent = expected.header;
        }
        // Two votes per validator per height, no round change.
        let per_height = net.sent_votes[0].iter().filter(|v| v.height.0 == 1).count();
        assert_eq!(per_height, 2);
    }
}

/// Issue 14: a PRE-PREPARE's body is hashed once (its `tx_root` checked once), not once
/// for the body binding and again for the header rules; the engine then prepares as before.
#[test]
fn a_pre_prepare_hashes_its_body_once() {
    let fx = Fixture::new(4);
    let mut v = fx.validator(0);
    drain(&mut v);
    let block = fx.proposal(&fx.genesis, vec![vec![1; 200]; 50]);
    let id = block.id();
    let from = fx.addr(1);
    let verdict = v.handle_message(T0 + fx.spec.block_period, from, Message::PrePrepare(block));
    assert_eq!(verdict, Verdict::Accept);
    assert_eq!(v.stats().body_hashes, 1);
    let outs = drain(&mut v);
    assert!(outs
        .iter()
        .any(|o| matches!(o, ValidatorOutput::CheckBlock { block, .. } if block.id() == id)));
    v.block_checked(T0 + fx.spec.block_period, id, true);
    let votes = broadcast_votes(&drain(&mut v));
    assert!(votes
        .iter()
        .any(|x| x.kind == VoteKind::Prepare && x.block == id));
    assert_eq!(v.stats().body_hashes, 1);
}
