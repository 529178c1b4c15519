//! Issue 12, item 1, one named test per rule: nothing from a sender that could not have sent
//! it is buffered; per-sender quotas; byte budgets at the current height and for catch-up.
//! (The counting-allocator flood test is `lbft_memory.rs`, a binary of its own.)

mod common;
use common::*;
use cpchain_consensus::lbft::*;
use cpchain_core::{Hash, Height};

/// Old code buffered any decoded future message unchecked: an outsider's PRE-PREPARE
/// claiming the next height's proposer was kept.
#[test]
fn outsider_future_pre_prepare_is_not_buffered() {
    let fx = Fixture::new(4);
    let mut v = fx.validator(0);
    let outsider = secret(9999);
    let h2 = fx.schedule.proposer_of(Height(2)).unwrap();
    let mut b = fx.proposal(&fx.genesis, vec![vec![1; 100]]);
    b.header.height = Height(2);
    b.header.proposer = h2;
    b.seal = Some(outsider.sign(&block::SEAL_DOMAIN, b.id().as_bytes()));
    let r = v.handle_message(T0, outsider.public_key().address(), Message::PrePrepare(b));
    assert_eq!(r, Verdict::Reject(Rejected::Block(BlockError::BadSeal)));
    assert_eq!(v.held().future, 0);
    // The scheduled proposer's own sealed block for height 2 is kept, once.
    let key = fx.proposer_of(Height(2));
    let mut parent = fx.genesis.clone();
    parent.height = Height(1);
    let good = Block::propose(&fx.spec, &parent, key, h2, T0, vec![vec![2; 100]]);
    assert_eq!(
        v.handle_message(T0, h2, Message::PrePrepare(good.clone())),
        Verdict::Accept
    );
    let second = Block::propose(&fx.spec, &parent, key, h2, T0, vec![vec![3; 100]]);
    assert_eq!(
        v.handle_message(T0, h2, Message::PrePrepare(second)),
        Verdict::Ignore(Rejected::BufferFull)
    );
    assert!(v.held().future > 200);
}

/// Old code buffered a future vote whatever its signature or voter.
#[test]
fn unsigned_or_outsider_future_votes_are_not_buffered() {
    let fx = Fixture::new(4);
    let mut v = fx.validator(0);
    let mut forged = fx.vote(1, VoteKind::Prepare, 2, 0, Hash([1; 32]));
    forged.signature = fx.vote(2, VoteKind::Prepare, 2, 0, Hash([1; 32])).signature;
    assert_eq!(
        v.handle_message(T0, fx.addr(1), Message::Vote(forged)),
        Verdict::Reject(Rejected::BadSignature)
    );
    let outsider = Vote::sign(
        &secret(9999),
        fx.spec.chain_id,
        VoteKind::Prepare,
        Height(2),
        0,
        Hash([1; 32]),
    );
    assert_eq!(
        v.handle_message(T0, fx.addr(3), Message::Vote(outsider)),
        Verdict::Reject(Rejected::NotMember)
    );
    assert_eq!(v.held().future, 0);
}

/// Old code let one member fill the whole future buffer (1024 messages); now each member
/// has `future_sender_messages`, and the others still get theirs.
#[test]
fn one_member_cannot_fill_the_future_buffer() {
    let fx = Fixture::new(4);
    let mut v = fx.validator(0);
    let quota = v.config().future_sender_messages;
    let mut kept = 0;
    for i in 0..quota + 20 {
        let id = cpchain_core::keccak256(&(i as u32).to_le_bytes());
        let vote = fx.vote(1, VoteKind::Prepare, 2 + (i % 3) as u64, 0, id);
        if v.handle_message(T0, fx.addr(1), Message::Vote(vote))
            .is_accept()
        {
            kept += 1;
        }
    }
    assert_eq!(kept, quota);
    assert_eq!(v.stats().dropped_for(ValidatorDrop::BufferFull), 20);
    let other = fx.vote(2, VoteKind::Prepare, 2, 0, Hash([7; 32]));
    assert_eq!(
        v.handle_message(T0, fx.addr(2), Message::Vote(other)),
        Verdict::Accept
    );
}

/// Old code kept up to `max_blocks_per_height` blocks of any size at the current height;
/// now their bytes (with the proposals' copies) are capped by `height_bytes`.
#[test]
fn height_bytes_caps_blocks_at_the_current_height() {
    let fx = Fixture::new(4);
    let big = fx.proposal(&fx.genesis, vec![vec![7; 4000]]);
    let cert = fx.cert(&[0, 1, 2], VoteKind::Prepare, 1, 0, big.id());
    // Round 1 is led by validator (1 + 1) mod 4 = 2.
    let p = Proposal::sign(&fx.keys[2], fx.spec.chain_id, Height(1), 1, big, Some(cert));
    let run = |height_bytes: usize| {
        let mut cfg = fx.config(0);
        cfg.height_bytes = height_bytes;
        let mut v = Validator::new(cfg, fx.schedule.clone(), fx.genesis.clone(), T0).unwrap();
        drain(&mut v);
        while v.round() == 0 {
            let d = v.next_deadline().unwrap();
            v.handle_timeout(d);
            drain(&mut v);
        }
        let r = v.handle_message(T0, fx.addr(2), Message::Proposal(p.clone()));
        (r, v.held().height)
    };
    let (r, held) =
        run(Config::new(fx.spec.clone(), fx.set.clone(), fx.keys[0].clone()).height_bytes);
    assert_eq!(r, Verdict::Accept);
    // The block once in the block store, once in the proposal: 2 × (4000 + 24).
    assert!(held >= 2 * 4024, "{held}");
    let (r, held) = run(6000);
    assert_eq!(r, Verdict::Ignore(Rejected::TooManyBlocks));
    assert_eq!(held, 0);
}
