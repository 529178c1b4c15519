//! Light verification (§2.4.2 step 6, "users"): quorum of distinct valid commit
//! signatures from the validator set, a proposer seal that matches the schedule, and for
//! impeach blocks exactly the deterministic impeach block under the configured quorum.

mod common;
use common::*;
use cpchain_consensus::lbft::*;
use cpchain_core::Height;

fn validate(fx: &Fixture, block: &Block, who: &[usize], kind: VoteKind) -> Validate {
    Validate {
        block: block.clone(),
        certificate: fx.cert(who, kind, 1, 0, block.id()),
    }
}

#[test]
fn light_accepts_quorum_of_distinct_commit_signatures_and_scheduled_seal() {
    let fx = Fixture::new(7);
    let b = fx.proposal(&fx.genesis, vec![vec![1; 10]]);
    let n = fx
        .light()
        .verify(
            &validate(&fx, &b, &[0, 2, 3, 5, 6], VoteKind::Commit),
            &fx.genesis,
        )
        .unwrap();
    assert_eq!(n, 6, "5 commit signatures and the seal");
}

#[test]
fn light_rejects_duplicate_signers() {
    let fx = Fixture::new(7);
    let b = fx.proposal(&fx.genesis, vec![]);
    let mut v = validate(&fx, &b, &[0, 1, 2, 3], VoteKind::Commit);
    let dup = v.certificate.signatures[0];
    v.certificate.signatures.insert(0, dup);
    assert_eq!(
        fx.light().verify(&v, &fx.genesis),
        Err(LightError::Certificate(CertificateError::NotDistinct))
    );
}

#[test]
fn light_rejects_2f_signatures_non_members_and_bad_signatures() {
    let fx = Fixture::new(7);
    let b = fx.proposal(&fx.genesis, vec![]);
    let l = fx.light();
    let short = validate(&fx, &b, &[0, 1, 2, 3], VoteKind::Commit);
    assert_eq!(
        l.verify(&short, &fx.genesis),
        Err(LightError::Certificate(CertificateError::NoQuorum {
            found: 4,
            quorum: 5
        }))
    );
    let mut outsider = validate(&fx, &b, &[0, 1, 2, 3, 4], VoteKind::Commit);
    let o = secret(777);
    let ov = Vote::sign(&o, fx.spec.chain_id, VoteKind::Commit, Height(1), 0, b.id());
    outsider.certificate.signatures[4] = (ov.voter, ov.signature);
    outsider.certificate.signatures.sort_by_key(|s| s.0);
    assert_eq!(
        l.verify(&outsider, &fx.genesis),
        Err(LightError::Certificate(CertificateError::NotMember))
    );
    let mut forged = validate(&fx, &b, &[0, 1, 2, 3, 4], VoteKind::Commit);
    forged.certificate.signatures[2].1 = forged.certificate.signatures[1].1;
    assert_eq!(
        l.verify(&forged, &fx.genesis),
        Err(LightError::Certificate(CertificateError::BadSignature))
    );
    let prepares = validate(&fx, &b, &[0, 1, 2, 3, 4], VoteKind::Prepare);
    assert_eq!(
        l.verify(&prepares, &fx.genesis),
        Err(LightError::Certificate(CertificateError::Mismatch))
    );
}

#[test]
fn light_rejects_seal_not_matching_schedule() {
    let fx = Fixture::new(7);
    // Sealed by the proposer of height 2, at height 1.
    let wrong = fx.proposer_of(Height(2));
    let b = Block::propose(
        &fx.spec,
        &fx.genesis,
        wrong,
        wrong.public_key().address(),
        fx.genesis.timestamp + fx.spec.block_period,
        vec![],
    );
    let v = validate(&fx, &b, &[0, 1, 2, 3, 4], VoteKind::Commit);
    assert_eq!(
        fx.light().verify(&v, &fx.genesis),
        Err(LightError::Block(BlockError::WrongProposer))
    );
    // Right proposer in the header, seal by someone else.
    let mut b = fx.proposal(&fx.genesis, vec![]);
    b.seal = Block::propose(
        &fx.spec,
        &fx.genesis,
        wrong,
        fx.addr(0),
        b.header.timestamp,
        vec![],
    )
    .seal;
    let v = validate(&fx, &b, &[0, 1, 2, 3, 4], VoteKind::Commit);
    assert_eq!(
        fx.light().verify(&v, &fx.genesis),
        Err(LightError::Block(BlockError::BadSeal))
    );
}

#[test]
fn light_impeach_block_needs_configured_quorum_and_exact_shape() {
    let fx = Fixture::new(7);
    let imp = fx.impeach(&fx.genesis);
    let l = fx.light();
    assert!(l
        .verify(
            &validate(&fx, &imp, &[0, 1, 2, 3, 4], VoteKind::ImpeachCommit),
            &fx.genesis
        )
        .is_ok());
    // f + 1 is not enough by default ...
    let few = validate(&fx, &imp, &[0, 1, 2], VoteKind::ImpeachCommit);
    assert!(l.verify(&few, &fx.genesis).is_err());
    // ... and is under the paper's crash-only rule.
    let paper = Fixture::with_quorum(7, ImpeachQuorum::FPlusOne);
    assert!(paper.light().verify(&few, &fx.genesis).is_ok());
    // An impeach-shaped block with a different time is not the impeach block.
    let mut odd = imp.clone();
    odd.header.timestamp = odd.header.timestamp + duration_ms(1);
    let v = validate(&fx, &odd, &[0, 1, 2, 3, 4], VoteKind::ImpeachCommit);
    assert_eq!(
        l.verify(&v, &fx.genesis),
        Err(LightError::Block(BlockError::NotTheImpeachBlock))
    );
    // A COMMIT certificate cannot certify an impeach block.
    let v = validate(&fx, &imp, &[0, 1, 2, 3, 4], VoteKind::Commit);
    assert_eq!(
        l.verify(&v, &fx.genesis),
        Err(LightError::Certificate(CertificateError::Mismatch))
    );
}

#[test]
fn light_accepts_what_validators_commit() {
    // A node cut off from the validators receives only their VALIDATE broadcasts (held
    // by the network); a light client accepts them in chain order, impeach block included.
    let fx = Fixture::new(4);
    let mut net = Net::new(fx.clone(), vec![Role::Honest; 4]);
    net.silent_proposer.push(Height(2));
    net.partitioned.push(3);
    assert!(net.run(3, 60));
    let mut seen = std::collections::BTreeSet::new();
    let mut chain: Vec<Validate> = net
        .held
        .iter()
        .filter_map(|e| match &e.msg {
            Message::Validate(v) if e.to == 3 && seen.insert(v.block.id()) => Some(v.clone()),
            _ => None,
        })
        .collect();
    chain.sort_by_key(|v| v.block.header.height);
    assert!(chain.len() >= 3);
    let light = fx.light();
    let mut parent = fx.genesis.clone();
    for v in &chain[..3] {
        light.verify(v, &parent).unwrap();
        parent = v.block.header.clone();
    }
    assert!(chain[1].block.is_impeach());
    // The same VALIDATE does not verify on a different parent.
    assert!(light.verify(&chain[2], &fx.genesis).is_err());
}
