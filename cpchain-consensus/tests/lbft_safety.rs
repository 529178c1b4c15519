//! Safety at the untrusted boundary (issue 12 items 0, 2 and 3): a block is taken only with
//! the seal the light verifier requires, on every path; a round change's lock cannot be
//! stripped; a replayed header of another chain or parent is no evidence against an honest
//! proposer; a restarted validator keeps the block it prepared.

mod common;
use common::*;
use cpchain_consensus::lbft::*;
use cpchain_core::{Height, Timestamp};

const X: usize = 3; // the Byzantine validator in these scripts

fn at(ms: u64) -> Timestamp {
    T0 + duration_ms(ms)
}

fn stripped(b: &Block) -> Block {
    Block {
        seal: None,
        ..b.clone()
    }
}

/// `b` with a seal by the Byzantine validator's key over the right id: a well-formed
/// signature by the wrong signer.
fn forged(fx: &Fixture, b: &Block) -> Block {
    let other = Block::propose(
        &fx.spec,
        &fx.genesis,
        &fx.keys[X],
        b.header.coinbase,
        b.header.timestamp,
        b.transactions.clone(),
    );
    Block {
        seal: other.seal,
        ..b.clone()
    }
}

/// Every `Commit` output passes light verification on `parent`.
fn assert_commits_verify(fx: &Fixture, parent: &Header, outs: &[ValidatorOutput]) -> usize {
    let mut n = 0;
    for (block, certificate) in commits(outs) {
        let v = Validate { block, certificate };
        assert_eq!(
            fx.light().verify(&v, parent).map(|_| ()),
            Ok(()),
            "a Commit output fails light verification: {v:?}"
        );
        n += 1;
    }
    n
}

/// The minimal case at n = 4: 0, 1 and X prepare the honest proposer's B; X sends
/// validator 2 (which never saw the PRE-PREPARE) a round change whose lock carries B with
/// its seal stripped or replaced and the genuine P-certificate; then the COMMITs arrive.
/// Before the fix 2 accepted the lock and committed the seal-less copy.
#[test]
fn round_change_lock_with_stripped_or_forged_seal_is_refused_and_commit_verifies() {
    let fx = Fixture::new(4);
    let b = fx.proposal(&fx.genesis, vec![vec![7; 16]]);
    let pcert = fx.cert(&[0, 1, X], VoteKind::Prepare, 1, 0, b.id());
    for bad in [stripped(&b), forged(&fx, &b)] {
        let mut v = fx.validator(2);
        let now = at(3_000);
        let rc = RoundChange::sign(
            &fx.keys[X],
            fx.spec.chain_id,
            Height(1),
            1,
            Some(LockProof {
                block: bad.clone(),
                certificate: pcert.clone(),
            }),
        );
        assert_eq!(
            v.handle_message(now, fx.addr(X), Message::RoundChange(rc)),
            Verdict::Reject(Rejected::Block(BlockError::BadSeal))
        );
        let mut outs = drain(&mut v);
        for i in [0, 1, X] {
            let c = fx.vote(i, VoteKind::Commit, 1, 0, b.id());
            outs.extend(feed(&mut v, now, fx.addr(i), Message::Vote(c)));
        }
        // Without the block it cannot decide yet, and it decides nothing forged.
        assert_eq!(assert_commits_verify(&fx, &fx.genesis, &outs), 0);
        assert_eq!(v.height(), Height(1));
        // The genuine PRE-PREPARE completes the decision with the proposer's seal.
        let outs = feed(&mut v, now, fx.addr(0), Message::PrePrepare(b.clone()));
        assert_eq!(assert_commits_verify(&fx, &fx.genesis, &outs), 1);
        let validates: Vec<_> = outs
            .iter()
            .filter_map(|o| match o {
                ValidatorOutput::Broadcast(Message::Validate(v)) => Some(v.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(validates.len(), 1);
        assert_eq!(validates[0].block.seal, b.seal);
        assert!(fx.light().verify(&validates[0], &fx.genesis).is_ok());
    }
}

/// Same attack through a round leader's proposal: its signature covers the block id and
/// the proof-of-lock round, not the seal.
#[test]
fn proposal_proof_of_lock_with_stripped_seal_is_refused() {
    let fx = Fixture::new(4);
    let b = fx.proposal(&fx.genesis, vec![vec![8; 16]]);
    let pcert = fx.cert(&[0, 1, X], VoteKind::Prepare, 1, 0, b.id());
    let leader1 = fx
        .set
        .index_of(&leader(&fx.set, Height(1), 1).unwrap())
        .unwrap();
    let target = (0..4).find(|&i| i != leader1).unwrap();
    let mut v = fx.validator(target);
    v.handle_timeout(at(9_000));
    assert_eq!(v.round(), 1);
    drain(&mut v);
    for bad in [stripped(&b), forged(&fx, &b)] {
        let p = Proposal::sign(
            &fx.keys[leader1],
            fx.spec.chain_id,
            Height(1),
            1,
            bad,
            Some(pcert.clone()),
        );
        assert_eq!(
            v.handle_message(at(9_100), fx.addr(leader1), Message::Proposal(p)),
            Verdict::Reject(Rejected::Block(BlockError::BadSeal))
        );
    }
    let p = Proposal::sign(
        &fx.keys[leader1],
        fx.spec.chain_id,
        Height(1),
        1,
        b.clone(),
        Some(pcert),
    );
    assert_eq!(
        v.handle_message(at(9_100), fx.addr(leader1), Message::Proposal(p)),
        Verdict::Accept
    );
}

/// A VALIDATE the host hands back after a restart is handed on to laggards, so it must
/// carry the seal light verification requires.
#[test]
fn remember_refuses_a_validate_with_stripped_or_forged_seal() {
    let fx = Fixture::new(4);
    let b = fx.proposal(&fx.genesis, vec![vec![9; 4]]);
    let cert = fx.cert(&[0, 1, 2], VoteKind::Commit, 1, 0, b.id());
    let mut v = Validator::new(
        fx.config(0),
        fx.schedule.clone(),
        b.header.clone(),
        at(3_000),
    )
    .unwrap();
    for bad in [stripped(&b), forged(&fx, &b)] {
        let validate = Validate {
            block: bad,
            certificate: cert.clone(),
        };
        assert_eq!(
            v.remember(validate),
            Err(Rejected::Block(BlockError::BadSeal))
        );
    }
    // Another body under the same header is refused too (the id does not cover it).
    let mut swapped = b.clone();
    swapped.transactions = vec![vec![1]];
    let validate = Validate {
        block: swapped,
        certificate: cert.clone(),
    };
    assert_eq!(
        v.remember(validate),
        Err(Rejected::Block(BlockError::TxRoot))
    );
    let good = Validate {
        block: b,
        certificate: cert,
    };
    assert!(fx.light().verify(&good, &fx.genesis).is_ok());
    assert_eq!(v.remember(good), Ok(()));
}

/// Issue 12 item 2: the stripped copy of a locked validator's round change arrives at the
/// next leader first; the leader still learns the lock and proposes the locked value.
#[test]
fn stripped_round_change_arriving_first_does_not_hide_the_lock() {
    let fx = Fixture::new(4);
    let b = fx.proposal(&fx.genesis, vec![vec![5; 16]]);
    let pcert = fx.cert(&[0, 1, X], VoteKind::Prepare, 1, 0, b.id());
    let leader1 = fx
        .set
        .index_of(&leader(&fx.set, Height(1), 1).unwrap())
        .unwrap();
    let locked = (0..3).find(|&i| i != leader1).unwrap();
    let mut l = fx.validator(leader1);
    l.handle_timeout(at(9_000));
    assert_eq!(l.round(), 1);
    drain(&mut l);
    let real = RoundChange::sign(
        &fx.keys[locked],
        fx.spec.chain_id,
        Height(1),
        1,
        Some(LockProof {
            block: b.clone(),
            certificate: pcert,
        }),
    );
    let copy = RoundChange {
        lock: None,
        ..real.clone()
    };
    assert_eq!(
        l.handle_message(at(9_010), fx.addr(X), Message::RoundChange(copy)),
        Verdict::Reject(Rejected::BadSignature)
    );
    assert_eq!(
        l.handle_message(at(9_020), fx.addr(locked), Message::RoundChange(real)),
        Verdict::Accept
    );
    drain(&mut l);
    l.handle_timeout(at(9_000 + 1_500));
    let proposals: Vec<_> = drain(&mut l)
        .into_iter()
        .filter_map(|o| match o {
            ValidatorOutput::Broadcast(Message::Proposal(p)) => Some(p),
            _ => None,
        })
        .collect();
    assert_eq!(proposals.len(), 1);
    assert_eq!(proposals[0].block.id(), b.id());
    assert_eq!(proposals[0].block.seal, b.seal);
    assert_eq!(
        proposals[0].proof_of_lock.as_ref().map(|c| c.round),
        Some(0)
    );
}

/// Issue 12 item 3: the scheduled proposer's validly sealed block of another chain (its
/// key reused on a testnet) or of another parent (a relaunched devnet) arrives first. It
/// takes no PRE-PREPARE slot and is no evidence: the real block is then prepared, and no
/// ProposerEquivocation or IllicitBlock fault names the honest proposer.
#[test]
fn replayed_pre_prepare_from_another_chain_or_parent_is_no_equivocation_evidence() {
    let fx = Fixture::new(4);
    let key = fx.proposer_of(Height(1)).clone();
    let b = fx.proposal(&fx.genesis, vec![vec![1; 8]]);
    let mut other_spec = fx.spec.clone();
    other_spec.chain_id = fx.spec.chain_id.wrapping_add(1);
    let other_genesis = Header::genesis(&other_spec, T0);
    let other_chain = Block::propose(
        &other_spec,
        &other_genesis,
        &key,
        key.public_key().address(),
        T0 + fx.spec.block_period,
        vec![vec![2; 8]],
    );
    let relaunched = Header::genesis(&fx.spec, T0 + duration_ms(1));
    let other_parent = Block::propose(
        &fx.spec,
        &relaunched,
        &key,
        key.public_key().address(),
        relaunched.timestamp + fx.spec.block_period,
        vec![vec![3; 8]],
    );
    let mut swapped_body = b.clone();
    swapped_body.transactions = vec![vec![4; 8]];
    // Another chain's or parent's block is honest work elsewhere (ignored, no blame on
    // the relay); a swapped body is invalid in itself (rejected: no honest relay sends it).
    for (replay, verdict) in [
        (
            other_chain,
            Verdict::Ignore(Rejected::Block(BlockError::WrongChain)),
        ),
        (
            other_parent,
            Verdict::Ignore(Rejected::Block(BlockError::WrongParent)),
        ),
        (
            swapped_body,
            Verdict::Reject(Rejected::Block(BlockError::TxRoot)),
        ),
    ] {
        assert_eq!(replay.verify_seal(), Ok(()), "the replay is validly sealed");
        let mut v = fx.validator(0);
        let now = at(3_000);
        assert_eq!(
            v.handle_message(now, fx.addr(X), Message::PrePrepare(replay)),
            verdict
        );
        let mut outs = drain(&mut v);
        assert_eq!(v.state(), State::Idle, "no impeachment on a replay");
        outs.extend(feed(
            &mut v,
            now,
            fx.addr(1),
            Message::PrePrepare(b.clone()),
        ));
        assert_eq!(faults(&outs), vec![], "false evidence ({verdict:?})");
        let votes = broadcast_votes(&outs);
        assert_eq!(votes.len(), 1);
        assert_eq!((votes[0].kind, votes[0].block), (VoteKind::Prepare, b.id()));
    }
}

/// Two validly sealed headers for this chain, height and parent are still evidence.
#[test]
fn two_sealed_headers_for_this_height_are_still_proposer_equivocation() {
    let fx = Fixture::new(4);
    let b = fx.proposal(&fx.genesis, vec![vec![1; 8]]);
    let c = fx.proposal(&fx.genesis, vec![vec![2; 8]]);
    let mut v = fx.validator(0);
    let now = at(3_000);
    feed(&mut v, now, fx.addr(1), Message::PrePrepare(b));
    assert_eq!(
        v.handle_message(now, fx.addr(1), Message::PrePrepare(c)),
        Verdict::Ignore(Rejected::ConflictingProposal)
    );
    let f = faults(&drain(&mut v));
    assert!(matches!(f.as_slice(), [Fault::ProposerEquivocation { .. }]));
}

/// Issue 12 item 0, restart: a validator that prepared B and crashed still holds B after
/// `restore`, and commits it (with its seal) when the COMMITs arrive. Before the fix the
/// persisted record kept no block unless locked, and the restored validator could not
/// decide from the COMMITs.
#[test]
fn restarted_validator_keeps_the_block_it_prepared() {
    let fx = Fixture::new(4);
    let b = fx.proposal(&fx.genesis, vec![vec![6; 8]]);
    let now = at(3_000);
    let mut v = fx.validator(1);
    let outs = feed(&mut v, now, fx.addr(0), Message::PrePrepare(b.clone()));
    assert_eq!(broadcast_votes(&outs).len(), 1);
    let persisted = outs
        .iter()
        .rev()
        .find_map(|o| match o {
            ValidatorOutput::Persist(p) => Some(p.clone()),
            _ => None,
        })
        .unwrap();
    // Through the wire format, as a host stores it.
    let bytes = cpchain_core::encoding::encode_to_vec(&persisted).unwrap();
    let persisted: Persisted = cpchain_core::encoding::decode(&bytes).unwrap();
    let mut r = restart_at_record(fx.config(1), fx.schedule.clone(), persisted);
    let mut outs = drain(&mut r);
    for i in [0, 2, X] {
        let c = fx.vote(i, VoteKind::Commit, 1, 0, b.id());
        outs.extend(feed(&mut r, now, fx.addr(i), Message::Vote(c)));
    }
    assert_eq!(assert_commits_verify(&fx, &fx.genesis, &outs), 1);
    assert_eq!(r.height(), Height(2));
}
