//! Fault evidence a third party can check (§2.4.2): every attributable fault a validator
//! reports becomes `evidence::Evidence` bytes that `verify_evidence_bytes` traces to the
//! offender, from nothing but the chain id and the committee; evidence that does not hold
//! is refused with a reason.

mod common;

use common::*;
use cpchain_consensus::evidence::{
    verify_evidence, verify_evidence_bytes, Evidence, EvidenceError, IllicitReason, OffenceKind,
    ProposalClaim, SealedHeader, MAX_EVIDENCE_LEN,
};
use cpchain_consensus::lbft::*;
use cpchain_core::{encoding, Address, DecodeError, Hash, Height, Timestamp, WireMessage};

fn now(fx: &Fixture) -> Timestamp {
    fx.genesis.timestamp + fx.spec.block_period
}

/// The one fault `v` reports after `msgs`, as verified evidence bytes.
fn the_fault(fx: &Fixture, v: &mut Validator<FixedSchedule>, msgs: Vec<Message>) -> Fault {
    let mut fs = Vec::new();
    for m in msgs {
        fs.extend(faults(&feed(v, now(fx), fx.addr(1), m)));
    }
    assert_eq!(fs.len(), 1, "{fs:?}");
    fs.remove(0)
}

fn offence_of(fx: &Fixture, f: &Fault) -> cpchain_consensus::evidence::Offence {
    let ev = Evidence::from_fault(f).expect("attributable");
    let bytes = encoding::encode_to_vec(&ev).unwrap();
    assert!(bytes.len() <= MAX_EVIDENCE_LEN);
    verify_evidence_bytes(fx.spec.chain_id, &fx.set, &bytes).unwrap()
}

#[test]
fn vote_equivocation_evidence_names_the_voter() {
    let fx = Fixture::new(4);
    let mut v = fx.validator(0);
    let b = fx.proposal(&fx.genesis, vec![vec![1]]);
    let imp = fx.impeach(&fx.genesis);
    let f = the_fault(
        &fx,
        &mut v,
        vec![
            Message::Vote(fx.vote(2, VoteKind::Prepare, 1, 0, b.id())),
            Message::Vote(fx.vote(2, VoteKind::ImpeachPrepare, 1, 0, imp.id())),
        ],
    );
    let o = offence_of(&fx, &f);
    assert_eq!(o.kind, OffenceKind::VoteEquivocation);
    assert_eq!(
        (o.offender, o.height, o.round),
        (fx.addr(2), Height(1), Some(0))
    );
}

#[test]
fn proposer_equivocation_evidence_names_the_proposer() {
    let fx = Fixture::new(4);
    let mut v = fx.validator(0);
    let f = the_fault(
        &fx,
        &mut v,
        vec![
            Message::PrePrepare(fx.proposal(&fx.genesis, vec![vec![1]])),
            Message::PrePrepare(fx.proposal(&fx.genesis, vec![vec![2]])),
        ],
    );
    let o = offence_of(&fx, &f);
    assert_eq!(o.kind, OffenceKind::ProposerEquivocation);
    let proposer = fx.schedule.proposer_of(Height(1)).unwrap();
    assert_eq!((o.offender, o.height, o.round), (proposer, Height(1), None));
}

#[test]
fn leader_equivocation_evidence_names_the_leader() {
    let fx = Fixture::new(4);
    let mut v = fx.validator(0);
    let lead = leader(&fx.set, Height(1), 1).unwrap();
    let k = fx
        .keys
        .iter()
        .find(|k| k.public_key().address() == lead)
        .unwrap();
    let imp = fx.impeach(&fx.genesis);
    let b = fx.proposal(&fx.genesis, vec![vec![3]]);
    let pol = fx.cert(&[0, 1, 2], VoteKind::Prepare, 1, 0, b.id());
    let id = fx.spec.chain_id;
    let f = the_fault(
        &fx,
        &mut v,
        vec![
            Message::Proposal(Proposal::sign(k, id, Height(1), 1, imp, None)),
            Message::Proposal(Proposal::sign(k, id, Height(1), 1, b, Some(pol))),
        ],
    );
    let o = offence_of(&fx, &f);
    assert_eq!(o.kind, OffenceKind::LeaderEquivocation);
    assert_eq!((o.offender, o.height, o.round), (lead, Height(1), Some(1)));
}

#[test]
fn illicit_block_evidence_names_the_proposer_and_the_reason() {
    let fx = Fixture::new(4);
    let mut v = fx.validator(0);
    let b = fx.proposal(&fx.genesis, vec![vec![4]]);
    let _ = v.handle_message(now(&fx), fx.addr(1), Message::PrePrepare(b.clone()));
    drain(&mut v);
    v.block_checked(now(&fx), b.id(), false);
    let fs = faults(&drain(&mut v));
    assert_eq!(fs.len(), 1);
    let o = offence_of(&fx, &fs[0]);
    assert_eq!(o.kind, OffenceKind::IllicitBlock(IllicitReason::Content));
    assert_eq!((o.offender, o.height), (b.header.proposer, Height(1)));
}

#[test]
fn a_bad_seal_is_no_evidence() {
    let fx = Fixture::new(4);
    let mut v = fx.validator(0);
    let mut b = fx.proposal(&fx.genesis, vec![vec![5]]);
    b.header.tx_root = Hash([9; 32]);
    let _ = v.handle_message(now(&fx), fx.addr(3), Message::PrePrepare(b));
    let fs = faults(&drain(&mut v));
    assert!(matches!(fs.as_slice(), [Fault::BadSeal { .. }]), "{fs:?}");
    assert_eq!(Evidence::from_fault(&fs[0]), None);
}

#[test]
fn evidence_that_does_not_hold_is_refused() {
    let fx = Fixture::new(4);
    let chain = fx.spec.chain_id;
    let b = fx.proposal(&fx.genesis, vec![vec![1]]);
    let c = fx.proposal(&fx.genesis, vec![vec![2]]);
    let votes = |x: Vote, y: Vote| Evidence::VoteEquivocation {
        first: x,
        second: y,
    };
    let v1 = fx.vote(2, VoteKind::Prepare, 1, 0, b.id());
    // The same vote twice: no conflict.
    assert_eq!(
        verify_evidence(chain, &fx.set, &votes(v1.clone(), v1.clone())),
        Err(EvidenceError::NoConflict)
    );
    // Two voters, or two rounds, or two phases: different slots.
    for other in [
        fx.vote(3, VoteKind::Prepare, 1, 0, c.id()),
        fx.vote(2, VoteKind::Prepare, 1, 1, c.id()),
        fx.vote(2, VoteKind::Commit, 1, 0, c.id()),
    ] {
        assert_eq!(
            verify_evidence(chain, &fx.set, &votes(v1.clone(), other)),
            Err(EvidenceError::DifferentSlots)
        );
    }
    // A forged second vote, another chain's id.
    let mut forged = fx.vote(2, VoteKind::Prepare, 1, 0, c.id());
    forged.signature = v1.signature;
    assert_eq!(
        verify_evidence(chain, &fx.set, &votes(v1.clone(), forged)),
        Err(EvidenceError::BadSignature)
    );
    let v2 = fx.vote(2, VoteKind::Prepare, 1, 0, c.id());
    assert_eq!(
        verify_evidence(chain + 1, &fx.set, &votes(v1.clone(), v2.clone())),
        Err(EvidenceError::BadSignature)
    );
    assert!(verify_evidence(chain, &fx.set, &votes(v1, v2)).is_ok());

    // Headers: the seal must be the proposer's, the chain ours, the parent the same.
    let sealed = |b: &Block| SealedHeader {
        header: b.header.clone(),
        seal: b.seal.unwrap(),
    };
    let pe = |x: SealedHeader, y: SealedHeader| Evidence::ProposerEquivocation {
        first: x,
        second: y,
    };
    assert!(verify_evidence(chain, &fx.set, &pe(sealed(&b), sealed(&c))).is_ok());
    assert_eq!(
        verify_evidence(chain + 1, &fx.set, &pe(sealed(&b), sealed(&c))),
        Err(EvidenceError::WrongChain)
    );
    let mut swapped = sealed(&c);
    swapped.seal = b.seal.unwrap();
    assert_eq!(
        verify_evidence(chain, &fx.set, &pe(sealed(&b), swapped)),
        Err(EvidenceError::BadSignature)
    );
    let mut elsewhere = c.clone();
    elsewhere.header.parent = Hash([1; 32]);
    assert_eq!(
        verify_evidence(chain, &fx.set, &pe(sealed(&b), sealed(&elsewhere))),
        Err(EvidenceError::DifferentSlots)
    );
    let illicit = |h: SealedHeader| Evidence::IllicitBlock {
        header: h,
        reason: IllicitReason::Content,
    };
    let mut imp = fx.impeach(&fx.genesis);
    imp.seal = b.seal;
    assert_eq!(
        verify_evidence(
            chain,
            &fx.set,
            &illicit(SealedHeader {
                header: imp.header,
                seal: b.seal.unwrap()
            })
        ),
        Err(EvidenceError::ImpeachBlock)
    );

    // Proposals: the signer must be the round's leader, in a round >= 1.
    let claim = |i: usize, round: u32, block: &Block| {
        ProposalClaim::from(&Proposal::sign(
            &fx.keys[i],
            chain,
            Height(1),
            round,
            block.clone(),
            None,
        ))
    };
    let lead = (0..4)
        .find(|&i| Some(fx.addr(i)) == leader(&fx.set, Height(1), 1))
        .unwrap();
    let not_lead = (lead + 1) % 4;
    let le = |x: ProposalClaim, y: ProposalClaim| Evidence::LeaderEquivocation {
        first: x,
        second: y,
    };
    assert!(verify_evidence(chain, &fx.set, &le(claim(lead, 1, &b), claim(lead, 1, &c))).is_ok());
    assert_eq!(
        verify_evidence(
            chain,
            &fx.set,
            &le(claim(not_lead, 1, &b), claim(not_lead, 1, &c))
        ),
        Err(EvidenceError::NotMember)
    );
    assert_eq!(
        verify_evidence(chain, &fx.set, &le(claim(lead, 1, &b), claim(lead, 1, &b))),
        Err(EvidenceError::NoConflict)
    );
    let mut forged = claim(lead, 1, &c);
    forged.signature = claim(lead, 1, &b).signature;
    assert_eq!(
        verify_evidence(chain, &fx.set, &le(claim(lead, 1, &b), forged)),
        Err(EvidenceError::BadSignature)
    );
}

#[test]
fn evidence_bytes_are_bounded_and_garbage_is_refused() {
    let fx = Fixture::new(4);
    // The largest evidence: two headers with every varint at its widest.
    let k = &fx.proposers[0];
    let mut h = fx.genesis.clone();
    h.chain_id = u64::MAX;
    h.height = Height(u64::MAX - 1);
    h.timestamp = Timestamp(u64::MAX);
    let mut b = Block::propose(
        &fx.spec,
        &h,
        k,
        Address([0xff; 20]),
        Timestamp(u64::MAX),
        vec![],
    );
    b.header.chain_id = u64::MAX;
    let s = SealedHeader {
        header: b.header.clone(),
        seal: b.seal.unwrap(),
    };
    let big = Evidence::ProposerEquivocation {
        first: s.clone(),
        second: s,
    };
    let len = encoding::encode_to_vec(&big).unwrap().len();
    assert!(len <= <Evidence as WireMessage>::MAX_ENCODED_LEN, "{len}");
    // Garbage, truncation, an over-long input, another message's bytes.
    let good = encoding::encode_to_vec(&big).unwrap();
    for cut in 0..good.len() {
        assert!(matches!(
            verify_evidence_bytes(fx.spec.chain_id, &fx.set, &good[..cut]),
            Err(EvidenceError::Decode(_))
        ));
    }
    assert_eq!(
        verify_evidence_bytes(fx.spec.chain_id, &fx.set, &[0u8; MAX_EVIDENCE_LEN + 1]),
        Err(EvidenceError::Decode(DecodeError::TooLarge {
            len: MAX_EVIDENCE_LEN + 1,
            max: MAX_EVIDENCE_LEN
        }))
    );
    let header = encoding::encode_to_vec(&fx.genesis).unwrap();
    assert!(matches!(
        verify_evidence_bytes(fx.spec.chain_id, &fx.set, &header),
        Err(EvidenceError::Decode(DecodeError::WrongTag { .. }))
    ));
}
