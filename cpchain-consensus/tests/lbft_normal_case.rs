//! §2.4.2 normal case end to end: with a live proposer and honest validators, every
//! height decides the proposer's block in round 0, with no impeachment and no fault.

mod common;
use common::*;

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
