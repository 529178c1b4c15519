//! Issue 12 item 4: a vote, certificate, proposal, round change or seal whose signature has
//! its recovery id `v` flipped (0 ↔ 1) is refused. Plain ECDSA ignores `v`, so before the
//! fix the flipped twin of every validator signature verified: two accepted byte forms.

mod common;
use common::*;
use cpchain_consensus::lbft::*;
use cpchain_core::Height;
use cpchain_crypto::Signature;

fn flip_v(sig: &Signature) -> Signature {
    let mut b = sig.to_bytes();
    b[64] ^= 1;
    Signature::from_bytes(&b).unwrap()
}

/// The validator's whole state except its output queue and counters.
fn snapshot(v: &Validator<FixedSchedule>) -> String {
    let s = format!("{v:?}");
    let cut = s.find(" outputs:").unwrap();
    s[..cut].to_string()
}

fn leader_index(fx: &Fixture, round: u32) -> usize {
    fx.set
        .index_of(&leader(&fx.set, Height(1), round).unwrap())
        .unwrap()
}

#[test]
fn votes_certificates_proposals_round_changes_and_seals_with_v_flipped_are_refused() {
    let fx = Fixture::new(4);
    let b = fx.proposal(&fx.genesis, vec![vec![5; 5]]);
    let id = b.id();

    // Vote::verify and Certificate::verify.
    let good = fx.vote(1, VoteKind::Prepare, 1, 0, id);
    assert_eq!(good.verify(fx.spec.chain_id, &fx.set), Ok(()));
    let mut vote = good.clone();
    vote.signature = flip_v(&vote.signature);
    assert_eq!(
        vote.verify(fx.spec.chain_id, &fx.set),
        Err(CertificateError::BadSignature)
    );
    let cert = fx.cert(&[0, 1, 2], VoteKind::Prepare, 1, 0, id);
    assert_eq!(cert.verify(fx.spec.chain_id, &fx.set, 3), Ok(3));
    let mut bad_cert = cert.clone();
    bad_cert.signatures[1].1 = flip_v(&bad_cert.signatures[1].1);
    assert_eq!(
        bad_cert.verify(fx.spec.chain_id, &fx.set, 3),
        Err(CertificateError::BadSignature)
    );

    // The seal: recovery under the flipped v gives another signer.
    assert_eq!(b.verify_seal(), Ok(()));
    let mut bad_block = b.clone();
    bad_block.seal = bad_block.seal.map(|s| flip_v(&s));
    assert_eq!(bad_block.verify_seal(), Err(BlockError::BadSeal));

    // The engine, with no state change: a vote, a proposal and a round change.
    let mut v = fx.validator(0);
    let now = fx.genesis.timestamp + fx.spec.block_period;
    feed(&mut v, now, fx.addr(1), Message::PrePrepare(b.clone()));
    assert_eq!(v.state(), State::Prepare);
    let mut proposal = Proposal::sign(
        &fx.keys[leader_index(&fx, 1)],
        fx.spec.chain_id,
        Height(1),
        1,
        b.clone(),
        None,
    );
    proposal.signature = flip_v(&proposal.signature);
    let mut round_change = RoundChange::sign(&fx.keys[2], fx.spec.chain_id, Height(1), 1, None);
    round_change.signature = flip_v(&round_change.signature);
    for (what, msg) in [
        ("vote", Message::Vote(vote)),
        ("proposal", Message::Proposal(proposal)),
        ("round change", Message::RoundChange(round_change)),
    ] {
        let before = snapshot(&v);
        assert_eq!(
            v.handle_message(now, fx.addr(1), msg),
            Verdict::Reject(Rejected::BadSignature),
            "{what}"
        );
        assert!(drain(&mut v).is_empty(), "{what}: no output");
        assert_eq!(snapshot(&v), before, "{what}: state changed");
    }
}
