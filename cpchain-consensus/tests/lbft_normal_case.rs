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

/// Issue 14: `CheckBlock` hands the host the leaves the engine hashed for `tx_root`:
/// `keccak256` of each body transaction, in body order (the host's transaction hashes),
/// so the host does not hash the body again. Also when a restarted validator asks for its
/// held PRE-PREPARE to be judged again.
#[test]
fn check_block_carries_keccak_of_each_transaction_in_body_order() {
    let fx = Fixture::new(4);
    let mut v = fx.validator(0);
    drain(&mut v);
    let txs: Vec<Vec<u8>> = (0..60u8).map(|i| vec![i; 1 + usize::from(i) * 3]).collect();
    let expected: Vec<cpchain_core::Hash> =
        txs.iter().map(|t| cpchain_core::keccak256(t)).collect();
    let block = fx.proposal(&fx.genesis, txs.clone());
    let id = block.id();
    let now = T0 + fx.spec.block_period;
    let verdict = v.handle_message(now, fx.addr(1), Message::PrePrepare(block.clone()));
    assert_eq!(verdict, Verdict::Accept);
    let hashes = drain(&mut v)
        .into_iter()
        .find_map(|o| match o {
            ValidatorOutput::CheckBlock {
                block, tx_hashes, ..
            } if block.id() == id => Some(tx_hashes),
            _ => None,
        })
        .expect("a CheckBlock");
    assert_eq!(hashes, expected);
    assert_eq!(
        v.stats().body_hashes,
        1,
        "the leaves are those of the one body hash"
    );

    // Restarted holding the PRE-PREPARE, not yet judged: asked again, with the leaves.
    let record = Persisted {
        chain_id: fx.spec.chain_id,
        parent: fx.genesis.clone(),
        round: 0,
        round_start: T0,
        prepared: None,
        committed: None,
        lock: None,
        prepared_block: Some(block),
        proposed: false,
        led: false,
    };
    let mut r = Validator::restart(
        fx.config(0),
        fx.schedule.clone(),
        Some(record),
        fx.genesis.clone(),
        [],
        now,
    )
    .unwrap();
    let again = drain(&mut r)
        .into_iter()
        .find_map(|o| match o {
            ValidatorOutput::CheckBlock {
                block, tx_hashes, ..
            } if block.id() == id => Some(tx_hashes),
            _ => None,
        })
        .expect("a CheckBlock after the restart");
    assert_eq!(again, expected);
}

/// A fresh validator `i` of `fx` on a schedule where validator 0 proposes every height.
fn proposer_zero_validator(fx: &Fixture, i: usize) -> Validator<FixedSchedule> {
    let schedule = FixedSchedule::new(vec![fx.addr(0)]);
    let mut v = Validator::new(fx.config(i), schedule, fx.genesis.clone(), T0).unwrap();
    drain(&mut v);
    v
}

/// The block of the PRE-PREPARE `v` broadcast (after it proposed).
fn broadcast_pre_prepare(v: &mut Validator<FixedSchedule>) -> Block {
    drain(v)
        .into_iter()
        .find_map(|o| match o {
            ValidatorOutput::Broadcast(Message::PrePrepare(block)) => Some(block),
            _ => None,
        })
        .expect("a PRE-PREPARE")
}

/// Issue 14: a validator that proposes from its pool's hashes seals the very block it
/// would seal without them (same id and `tx_root`), and its peers take it in.
#[test]
fn proposing_with_the_pools_hashes_seals_the_same_block() {
    let fx = Fixture::new(4);
    let txs: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; 200]).collect();
    let leaves: Vec<cpchain_core::Hash> = txs.iter().map(|t| cpchain_core::keccak256(t)).collect();
    let now = T0 + fx.spec.block_period;
    // Validator 0 is the proposer of every height here.
    let start = |i: usize| proposer_zero_validator(&fx, i);
    let (mut a, mut b) = (start(0), start(0));
    let id_plain = a.propose(now, txs.clone()).unwrap();
    let id_leaves = b.propose_with_leaves(now, txs.clone(), &leaves).unwrap();
    assert_eq!(id_plain, id_leaves);
    let sealed = broadcast_pre_prepare(&mut b);
    assert_eq!(sealed.header.tx_root, block::tx_root(&txs));
    let mut p = start(1);
    assert_eq!(
        p.handle_message(now, fx.addr(0), Message::PrePrepare(sealed)),
        Verdict::Accept
    );
    assert!(drain(&mut p)
        .iter()
        .any(|o| matches!(o, ValidatorOutput::CheckBlock { block, .. } if block.id() == id_plain)));
}

/// Issue 14: a PRE-PREPARE handed over with the leaves the host knows (some, all or none
/// of them) is judged exactly as without them: the same verdict and the same `CheckBlock`
/// with the same `tx_hashes`; a wrong known leaf makes the engine refuse the body (the
/// header's `tx_root` is checked over every leaf), and known leaves of another length, or
/// given with another message, are not used.
#[test]
fn known_leaves_change_nothing_but_the_hashing() {
    let fx = Fixture::new(4);
    let txs: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; 200]).collect();
    let leaves: Vec<cpchain_core::Hash> = txs.iter().map(|t| cpchain_core::keccak256(t)).collect();
    let now = T0 + fx.spec.block_period;
    let start = |i: usize| proposer_zero_validator(&fx, i);
    let mut proposer = start(0);
    let id = proposer.propose(now, txs.clone()).unwrap();
    let sealed = broadcast_pre_prepare(&mut proposer);
    let checked = |v: &mut Validator<FixedSchedule>| {
        drain(v).into_iter().find_map(|o| match o {
            ValidatorOutput::CheckBlock {
                block, tx_hashes, ..
            } if block.id() == id => Some(tx_hashes),
            _ => None,
        })
    };
    let mut plain = start(1);
    let msg = || Message::PrePrepare(sealed.clone());
    assert_eq!(
        plain.handle_message(now, fx.addr(0), msg()),
        Verdict::Accept
    );
    let expected = checked(&mut plain).expect("a CheckBlock");
    assert_eq!(expected, leaves);
    let some: Vec<Option<cpchain_core::Hash>> = leaves
        .iter()
        .enumerate()
        .map(|(i, l)| (i % 3 != 0).then_some(*l))
        .collect();
    for known in [
        leaves.iter().copied().map(Some).collect(),
        some.clone(),
        vec![None; txs.len()],
        // Another length: not used, the body is hashed.
        vec![Some(cpchain_core::Hash([7; 32])); 3],
    ] {
        let mut v = start(1);
        let verdict = v.handle_message_with_known_leaves(now, fx.addr(0), msg(), known);
        assert_eq!(verdict, Verdict::Accept);
        assert_eq!(checked(&mut v).as_ref(), Some(&expected));
    }
    // A wrong known leaf: the body does not match the header's tx_root, refused.
    let mut wrong = some;
    wrong[1] = Some(cpchain_core::Hash([9; 32]));
    let mut v = start(1);
    let verdict = v.handle_message_with_known_leaves(now, fx.addr(0), msg(), wrong.clone());
    assert!(verdict.rejected().is_some(), "{verdict:?}");
    assert_eq!(checked(&mut v), None);
    // The same PRE-PREPARE afterwards, without leaves: taken in (nothing was kept).
    assert_eq!(v.handle_message(now, fx.addr(0), msg()), Verdict::Accept);
    assert_eq!(checked(&mut v).as_ref(), Some(&expected));
    // Leaves given with another message are dropped with the call: a PRE-PREPARE
    // handled next is hashed.
    let mut v = start(1);
    let vote = Message::Vote(fx.vote(2, VoteKind::Prepare, 1, 0, id));
    let _ = v.handle_message_with_known_leaves(now, fx.addr(2), vote, wrong);
    assert_eq!(v.handle_message(now, fx.addr(0), msg()), Verdict::Accept);
    assert_eq!(checked(&mut v).as_ref(), Some(&expected));
}

/// Review (issue 14, known leaves): leaves handed with a PRE-PREPARE are used for that
/// block only. A sealed next-height header whose body is swapped for other transactions
/// (same count) waits in the future buffer; the current height's block carries the same
/// transactions as the next one's real body, and its PRE-PREPARE, handed with its (right)
/// leaves, is what decides the height (the votes came first), so the swapped one is
/// replayed in that very call. It is refused (its `tx_root`), no `CheckBlock`; the real
/// block is then taken in.
#[test]
fn review_leaves_of_a_pre_prepare_are_not_used_for_a_replayed_one() {
    let fx = Fixture::new(4);
    let mut v = fx.validator(1);
    drain(&mut v);
    let now = T0 + fx.spec.block_period + fx.spec.block_period;
    let real: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 120]).collect();
    let leaves: Vec<Option<cpchain_core::Hash>> = real
        .iter()
        .map(|t| Some(cpchain_core::keccak256(t)))
        .collect();
    let b1 = fx.proposal(&fx.genesis, real.clone());
    let b2 = fx.proposal(&b1.header, real.clone());
    let mut swapped = b2.clone();
    swapped.transactions = (0..5u8).map(|i| vec![i ^ 0x55; 120]).collect();
    assert_eq!(swapped.id(), b2.id());
    let from = fx.addr(0);
    // Buffered, with leaves (of the header's real body): not kept.
    let verdict = v.handle_message_with_known_leaves(
        now,
        from,
        Message::PrePrepare(swapped.clone()),
        leaves.clone(),
    );
    assert_eq!(verdict, Verdict::Accept, "buffered");
    let id1 = b1.id();
    let mut outs = Vec::new();
    for kind in [VoteKind::Prepare, VoteKind::Commit] {
        for i in [0, 2, 3] {
            outs.extend(feed(
                &mut v,
                now,
                fx.addr(i),
                Message::Vote(fx.vote(i, kind, 1, 0, id1)),
            ));
        }
    }
    assert_eq!(v.height(), cpchain_core::Height(1));
    let verdict = v.handle_message_with_known_leaves(now, from, Message::PrePrepare(b1), leaves);
    assert_eq!(verdict, Verdict::Accept);
    assert_eq!(
        v.height(),
        cpchain_core::Height(2),
        "height 1 decided within the PRE-PREPARE's call, the swapped one replayed in it"
    );
    let mut more = drain(&mut v);
    let approved = approve_checks(&mut v, now, &more);
    more.extend(approved);
    outs.extend(more);
    assert!(
        !outs.iter().any(|o| matches!(
            o,
            ValidatorOutput::CheckBlock { block, .. } if block.header.height.0 == 2
        )),
        "the swapped body was taken in"
    );
    assert_eq!(v.stats().body_hashes, 2, "b1 and the swapped b2 judged");
    let verdict = v.handle_message(now, from, Message::PrePrepare(b2.clone()));
    assert_eq!(
        verdict,
        Verdict::Accept,
        "the real block, after the swapped one was refused"
    );
    assert!(drain(&mut v).iter().any(|o| matches!(
        o,
        ValidatorOutput::CheckBlock { block, .. } if block.id() == b2.id() && block.transactions == real
    )));
}
