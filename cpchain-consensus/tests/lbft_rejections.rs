//! Untrusted input: non-members, wrong heights or chains, bad signatures and garbage are
//! rejected without a state change; equivocation becomes `Fault` evidence; every message
//! round-trips canonically on the wire.

mod common;
use common::*;
use cpchain_consensus::lbft::*;
use cpchain_core::encoding::{decode, encode_to_vec};
use cpchain_core::machine::MachineStats;
use cpchain_core::{Hash, Height, WireMessage};
use cpchain_crypto::Signature;

/// The validator's whole state except its output queue and counters.
fn snapshot(v: &Validator<FixedSchedule>) -> String {
    let s = format!("{v:?}");
    let cut = s.find(" outputs:").unwrap();
    s[..cut].to_string()
}

fn prepared_validator(fx: &Fixture) -> (Validator<FixedSchedule>, Block) {
    let mut v = fx.validator(0);
    let b = fx.proposal(&fx.genesis, vec![vec![5; 5]]);
    let now = fx.genesis.timestamp + fx.spec.block_period;
    feed(&mut v, now, fx.addr(1), Message::PrePrepare(b.clone()));
    assert_eq!(v.state(), State::Prepare);
    (v, b)
}

#[test]
fn invalid_messages_are_rejected_without_state_change() {
    let fx = Fixture::new(4);
    let (mut v, b) = prepared_validator(&fx);
    let now = fx.genesis.timestamp + fx.spec.block_period;
    let outsider = secret(9999);
    let good = fx.vote(1, VoteKind::Prepare, 1, 0, b.id());
    let mut bad_sig = good.clone();
    bad_sig.signature = fx.vote(2, VoteKind::Prepare, 1, 0, b.id()).signature;
    let mut wrong_chain_spec = fx.spec.clone();
    wrong_chain_spec.chain_id += 1;
    let other_chain = Vote::sign(
        &fx.keys[1],
        wrong_chain_spec.chain_id,
        VoteKind::Prepare,
        Height(1),
        0,
        b.id(),
    );
    let mut other_block = fx.proposal(&fx.genesis, vec![vec![6]]);
    other_block.header.height = Height(0);
    let cases: Vec<(&str, Message, Verdict)> = vec![
        (
            "non-member vote",
            Message::Vote(Vote::sign(
                &outsider,
                fx.spec.chain_id,
                VoteKind::Prepare,
                Height(1),
                0,
                b.id(),
            )),
            Verdict::Reject(Rejected::NotMember),
        ),
        (
            "vote with another validator's signature",
            Message::Vote(bad_sig),
            Verdict::Reject(Rejected::BadSignature),
        ),
        (
            "vote signed for another chain",
            Message::Vote(other_chain),
            Verdict::Reject(Rejected::BadSignature),
        ),
        (
            "vote for a decided height",
            Message::Vote(fx.vote(1, VoteKind::Prepare, 0, 0, b.id())),
            Verdict::Ignore(Rejected::StaleHeight),
        ),
        (
            "normal kind on the impeach block",
            Message::Vote(fx.vote(1, VoteKind::Commit, 1, 0, fx.impeach(&fx.genesis).id())),
            Verdict::Reject(Rejected::KindMismatch),
        ),
        (
            "round far ahead",
            Message::Vote(fx.vote(1, VoteKind::Prepare, 1, 10_000, b.id())),
            Verdict::Ignore(Rejected::TooFarAhead),
        ),
        (
            "round change from a non-member",
            Message::RoundChange(RoundChange::sign(
                &outsider,
                fx.spec.chain_id,
                Height(1),
                1,
                None,
            )),
            Verdict::Reject(Rejected::NotMember),
        ),
        (
            "proposal from a validator that does not lead the round",
            Message::Proposal(Proposal::sign(
                &fx.keys[leader_index(&fx, 1) ^ 1],
                fx.spec.chain_id,
                Height(1),
                1,
                fx.impeach(&fx.genesis),
                None,
            )),
            Verdict::Reject(Rejected::NotMember),
        ),
        (
            "round-1 proposal of a normal block without proof of lock",
            Message::Proposal(Proposal::sign(
                &fx.keys[leader_index(&fx, 1)],
                fx.spec.chain_id,
                Height(1),
                1,
                b.clone(),
                None,
            )),
            Verdict::Reject(Rejected::Unexpected),
        ),
        (
            "round-1 proposal with a forged proof of lock",
            Message::Proposal(Proposal::sign(
                &fx.keys[leader_index(&fx, 1)],
                fx.spec.chain_id,
                Height(1),
                1,
                b.clone(),
                Some(fx.cert(&[1, 2], VoteKind::Prepare, 1, 0, b.id())),
            )),
            Verdict::Reject(Rejected::Certificate(CertificateError::NoQuorum {
                found: 2,
                quorum: 3,
            })),
        ),
        (
            "VALIDATE with a prepare certificate",
            Message::Validate(Validate {
                block: b.clone(),
                certificate: fx.cert(&[1, 2, 3], VoteKind::Prepare, 1, 0, b.id()),
            }),
            Verdict::Reject(Rejected::Certificate(CertificateError::Mismatch)),
        ),
    ];
    let n_cases = cases.len() as u64;
    for (what, msg, verdict) in cases {
        let before = snapshot(&v);
        let counted = v.stats().dropped;
        let r = v.handle_message(now, fx.addr(1), msg);
        assert_eq!(r, verdict, "{what}");
        // Not an error of the caller: dropped and counted once, under its reason.
        let reason = verdict.rejected().expect("a drop").drop_reason();
        assert_eq!(
            v.stats().dropped_for(reason),
            counted.get(reason as usize) + 1,
            "{what}: counted under {reason:?}"
        );
        assert_eq!(v.stats().dropped.total(), counted.total() + 1, "{what}");
        assert!(drain(&mut v).is_empty(), "{what}: no output");
        assert_eq!(snapshot(&v), before, "{what}: state changed");
    }
    // Garbage bytes.
    let before = snapshot(&v);
    for junk in [
        &b""[..],
        &[1, 2, 0][..],
        &[1, 2, 0, 9, 9, 9][..],
        &[0xff; 64][..],
    ] {
        assert!(matches!(
            v.handle_bytes(now, fx.addr(1), junk),
            Verdict::Reject(Rejected::Decode(_))
        ));
    }
    assert_eq!(snapshot(&v), before);
    assert_eq!(v.stats().dropped_for(ValidatorDrop::Decode), 4);
    assert_eq!(MachineStats::dropped(&v.stats()), n_cases + 4);
}

fn leader_index(fx: &Fixture, round: u32) -> usize {
    fx.set
        .index_of(&leader(&fx.set, Height(1), round).unwrap())
        .unwrap()
}

#[test]
fn equivocation_is_a_fault_with_both_signed_votes() {
    let fx = Fixture::new(4);
    let (mut v, b) = prepared_validator(&fx);
    let now = fx.genesis.timestamp + fx.spec.block_period;
    let imp = fx.impeach(&fx.genesis);
    let first = fx.vote(2, VoteKind::Prepare, 1, 0, b.id());
    let second = fx.vote(2, VoteKind::ImpeachPrepare, 1, 0, imp.id());
    feed(&mut v, now, fx.addr(2), Message::Vote(first.clone()));
    let before = snapshot(&v);
    let r = v.handle_message(now, fx.addr(2), Message::Vote(second.clone()));
    assert_eq!(r, Verdict::Ignore(Rejected::Equivocation));
    assert_eq!(snapshot(&v), before, "the second vote is not counted");
    let f = faults(&drain(&mut v));
    assert_eq!(
        f,
        vec![Fault::Equivocation {
            first: first.clone(),
            second: second.clone()
        }]
    );
    // The evidence convinces a third party.
    assert!(first.verify(fx.spec.chain_id, &fx.set).is_ok());
    assert!(second.verify(fx.spec.chain_id, &fx.set).is_ok());
}

#[test]
fn proposer_equivocation_is_a_fault() {
    let fx = Fixture::new(4);
    let (mut v, b) = prepared_validator(&fx);
    let now = fx.genesis.timestamp + fx.spec.block_period;
    let b2 = fx.proposal(&fx.genesis, vec![vec![6; 6]]);
    let r = v.handle_message(now, fx.addr(1), Message::PrePrepare(b2.clone()));
    assert_eq!(r, Verdict::Ignore(Rejected::ConflictingProposal));
    match faults(&drain(&mut v)).as_slice() {
        [Fault::ProposerEquivocation { first, second, .. }] => {
            assert_eq!(first.id(), b.id());
            assert_eq!(second.id(), b2.id());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(v.state(), State::Prepare);
}

#[test]
fn every_message_round_trips_canonically() {
    let fx = Fixture::new(4);
    let b = fx.proposal(&fx.genesis, vec![vec![1; 200], vec![]]);
    let imp = fx.impeach(&fx.genesis);
    let cert = fx.cert(&[0, 1, 3], VoteKind::Prepare, 1, 0, b.id());
    let msgs = vec![
        Message::PrePrepare(b.clone()),
        Message::Vote(fx.vote(2, VoteKind::ImpeachCommit, 1, 3, imp.id())),
        Message::Proposal(Proposal::sign(
            &fx.keys[1],
            fx.spec.chain_id,
            Height(1),
            2,
            b.clone(),
            Some(cert.clone()),
        )),
        Message::RoundChange(RoundChange::sign(
            &fx.keys[0],
            fx.spec.chain_id,
            Height(1),
            1,
            Some(LockProof {
                block: b.clone(),
                certificate: cert.clone(),
            }),
        )),
        Message::Validate(Validate {
            block: b.clone(),
            certificate: fx.cert(&[0, 1, 2], VoteKind::Commit, 1, 0, b.id()),
        }),
    ];
    for m in msgs {
        let bytes = encode_to_vec(&m).unwrap();
        assert!(bytes.len() <= Message::MAX_ENCODED_LEN);
        assert_eq!(decode::<Message>(&bytes).unwrap(), m);
        // One flipped byte never panics; whatever decodes re-encodes identically.
        for i in 0..bytes.len() {
            let mut x = bytes.clone();
            x[i] ^= 0x5a;
            if let Ok(d) = decode::<Message>(&x) {
                assert_eq!(encode_to_vec(&d).unwrap(), x);
            }
        }
    }
    fn rt<T: WireMessage + PartialEq + std::fmt::Debug>(x: &T) {
        assert_eq!(&decode::<T>(&encode_to_vec(x).unwrap()).unwrap(), x);
    }
    rt(&b);
    rt(&b.header);
    rt(&cert);
    rt(&fx.vote(1, VoteKind::Prepare, 1, 0, Hash::ZERO));
    rt(&Validate {
        block: imp.clone(),
        certificate: fx.cert(&[0, 1, 2], VoteKind::ImpeachCommit, 1, 0, imp.id()),
    });
    let mut v = fx.validator(0);
    let now = fx.genesis.timestamp + fx.spec.block_period;
    let outs = feed(&mut v, now, fx.addr(1), Message::PrePrepare(b.clone()));
    let p = outs
        .iter()
        .rev()
        .find_map(|o| match o {
            ValidatorOutput::Persist(p) => Some(p.clone()),
            _ => None,
        })
        .unwrap();
    rt(&p);
    // A signature with high s is refused by the decoder, so signatures have one form.
    let mut raw = [0u8; 65];
    raw[31] = 1;
    raw[32..64].fill(0xff);
    assert!(Signature::from_bytes(&raw).is_err());
}

#[test]
fn leader_equivocation_is_a_fault() {
    let fx = Fixture::new(4);
    let mut v = fx.validator(0);
    let t = fx.genesis.timestamp + fx.spec.block_period + fx.spec.impeach_timeout;
    v.handle_timeout(t);
    v.handle_timeout(t + fx.spec.impeach_timeout);
    assert_eq!(v.round(), 1);
    drain(&mut v);
    let l = leader_index(&fx, 1);
    let imp = fx.impeach(&fx.genesis);
    let b = fx.proposal(&fx.genesis, vec![vec![8]]);
    let first = Proposal::sign(&fx.keys[l], fx.spec.chain_id, Height(1), 1, imp, None);
    let pol = fx.cert(&[1, 2, 3], VoteKind::Prepare, 1, 0, b.id());
    let second = Proposal::sign(&fx.keys[l], fx.spec.chain_id, Height(1), 1, b, Some(pol));
    let _ = v.handle_message(t, fx.addr(l), Message::Proposal(first.clone()));
    drain(&mut v);
    let r = v.handle_message(t, fx.addr(l), Message::Proposal(second.clone()));
    assert_eq!(r, Verdict::Ignore(Rejected::ConflictingProposal));
    let evidence = faults(&drain(&mut v));
    assert_eq!(
        evidence,
        vec![Fault::LeaderEquivocation {
            first: first.clone(),
            second: second.clone()
        }]
    );
    // A third party checks the evidence with the public verify: both signed by the leader.
    for p in [&first, &second] {
        assert_eq!(p.verify(fx.spec.chain_id, &fx.set), Ok(()));
    }
}

/// Issue 13: a host, a test or DPoR checks a proposal or a round change with its public
/// `verify` instead of rebuilding the signed bytes from the source. The proposal's
/// signature covers its proof-of-lock flag, the payload's last byte: a proof-of-lock of
/// round `u32::MAX` and none differ in that byte alone.
#[test]
fn proposals_and_round_changes_verify_with_their_public_verify() {
    let fx = Fixture::new(4);
    let chain = fx.spec.chain_id;
    let l = leader_index(&fx, 1);
    let b = fx.proposal(&fx.genesis, vec![vec![5]]);
    let cert = fx.cert(&[0, 1, 2], VoteKind::Prepare, 1, 0, b.id());
    let p = Proposal::sign(
        &fx.keys[l],
        chain,
        Height(1),
        1,
        b.clone(),
        Some(cert.clone()),
    );
    assert_eq!(p.verify(chain, &fx.set), Ok(()));
    assert_eq!(
        p.verify(chain + 1, &fx.set),
        Err(CertificateError::BadSignature)
    );
    let mut max = cert.clone();
    max.round = u32::MAX;
    let q = Proposal::sign(&fx.keys[l], chain, Height(1), 1, b.clone(), Some(max));
    assert_eq!(q.verify(chain, &fx.set), Ok(()));
    let mut flag_only = q.clone();
    flag_only.proof_of_lock = None;
    assert_eq!(
        flag_only.verify(chain, &fx.set),
        Err(CertificateError::BadSignature)
    );
    let not_leader = Proposal::sign(&fx.keys[l ^ 1], chain, Height(1), 1, b.clone(), None);
    assert_eq!(
        not_leader.verify(chain, &fx.set),
        Err(CertificateError::NotMember)
    );

    let lock = LockProof {
        block: b,
        certificate: cert,
    };
    let rc = RoundChange::sign(&fx.keys[1], chain, Height(1), 2, Some(lock));
    assert_eq!(rc.verify(chain, &fx.set), Ok(()));
    let mut stripped = rc.clone();
    stripped.lock = None;
    assert_eq!(
        stripped.verify(chain, &fx.set),
        Err(CertificateError::BadSignature)
    );
    let outsider = RoundChange::sign(&secret(9999), chain, Height(1), 2, None);
    assert_eq!(
        outsider.verify(chain, &fx.set),
        Err(CertificateError::NotMember)
    );
}
