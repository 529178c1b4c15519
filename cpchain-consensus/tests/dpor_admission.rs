//! Admission proofs for a campaign (white paper §2.3; mainnet campaign contract): what the
//! prover finds verifies, and any one-bit change to the proven data is refused.

use cpchain_consensus::dpor::{
    check_campaign, cpu_digest, meets_difficulty, prove_admission, verify_admission,
    AdmissionError, AdmissionProof, Campaign, RNodePool,
};
use cpchain_core::{encoding, keccak256, Address, ChainSpec, Hash, Height, Term, Timestamp};

const HEAD: Height = Height(1_000);

fn chain_hash(h: Height) -> Hash {
    keccak256(&h.get().to_be_bytes())
}

fn canonical(h: Height) -> Option<Hash> {
    (h <= HEAD).then(|| chain_hash(h))
}

fn prover() -> Address {
    Address(*b"cpchain-dpor-rnode-1")
}

/// An RNode pool holding the prover at the minimum deposit.
fn pool_with_prover(spec: &ChainSpec) -> RNodePool {
    let mut pool = RNodePool::new(spec, 16);
    pool.join(Timestamp(0), prover(), spec.rnode_deposit)
        .unwrap();
    pool
}

/// One mainnet-difficulty proof, found once and shared (scrypt is 4 MiB and slow in debug).
fn proof() -> &'static AdmissionProof {
    static PROOF: std::sync::OnceLock<AdmissionProof> = std::sync::OnceLock::new();
    PROOF.get_or_init(|| {
        let spec = ChainSpec::mainnet();
        let at = Height(HEAD.get() - 3);
        prove_admission(&spec, &prover(), at, &chain_hash(at), 1 << 20).unwrap()
    })
}

#[test]
fn dpor_admission_prover_output_verifies_at_mainnet_difficulty() {
    let spec = ChainSpec::mainnet();
    let p = proof();
    verify_admission(&spec, &prover(), p, HEAD, canonical).unwrap();
    // The nonces are the first that work: the prover searches upward from 0 like mainnet.
    for n in 0..p.cpu.nonce {
        assert!(!meets_difficulty(
            &cpu_digest(&prover(), &p.cpu.block_hash, n),
            spec.admission_cpu_difficulty
        ));
    }
}

#[test]
fn dpor_admission_one_bit_change_fails() {
    let spec = ChainSpec::mainnet();
    let p = *proof();
    // Another address cannot reuse the proof.
    let mut other = prover();
    other.0[19] ^= 1;
    assert!(verify_admission(&spec, &other, &p, HEAD, canonical).is_err());
    // Clearing the highest set bit of a nonce is a one-bit change to a smaller nonce,
    // which the prover's upward search already found wanting: guaranteed to fail.
    let lower = |n: u64| n & !(1u64 << (63 - n.leading_zeros()));
    assert!(
        p.cpu.nonce > 0 && p.memory.nonce > 0,
        "pick another fixture address"
    );
    let mut cpu = p;
    cpu.cpu.nonce = lower(cpu.cpu.nonce);
    assert_eq!(
        verify_admission(&spec, &prover(), &cpu, HEAD, canonical),
        Err(AdmissionError::CpuProof)
    );
    let mut mem = p;
    mem.memory.nonce = lower(mem.memory.nonce);
    assert_eq!(
        verify_admission(&spec, &prover(), &mem, HEAD, canonical),
        Err(AdmissionError::MemoryProof)
    );
    // A one-bit change of the block hash is not canonical.
    let mut hash = p;
    hash.cpu.block_hash.0[0] ^= 0x80;
    assert_eq!(
        verify_admission(&spec, &prover(), &hash, HEAD, canonical),
        Err(AdmissionError::UnknownBlock(hash.cpu.block_height))
    );
}

#[test]
fn dpor_admission_cpu_digest_binds_every_input_bit() {
    // Every single-bit change of the 60-byte input (address, block hash, nonce) changes the
    // digest, so a proof cannot be moved to another address, block or nonce.
    let spec = ChainSpec::mainnet();
    let p = proof();
    let good = cpu_digest(&prover(), &p.cpu.block_hash, p.cpu.nonce);
    assert!(meets_difficulty(&good, spec.admission_cpu_difficulty));
    for bit in 0..160 {
        let mut a = prover();
        a.0[bit / 8] ^= 1 << (bit % 8);
        assert_ne!(
            cpu_digest(&a, &p.cpu.block_hash, p.cpu.nonce),
            good,
            "address bit {bit}"
        );
    }
    for bit in 0..256 {
        let mut h = p.cpu.block_hash;
        h.0[bit / 8] ^= 1 << (bit % 8);
        assert_ne!(
            cpu_digest(&prover(), &h, p.cpu.nonce),
            good,
            "hash bit {bit}"
        );
    }
    for bit in 0..64 {
        let d = cpu_digest(&prover(), &p.cpu.block_hash, p.cpu.nonce ^ (1 << bit));
        assert_ne!(d, good, "nonce bit {bit}");
    }
}

#[test]
fn dpor_admission_block_age_is_bounded() {
    let spec = ChainSpec::mainnet();
    let p = *proof();
    // The proof is 3 blocks old; at head + 7 it is 10 old (allowed), at head + 8 it is 11.
    let at = |head: Height| move |h: Height| (h <= head).then(|| chain_hash(h));
    let ok_head = Height(HEAD.get() + 7);
    verify_admission(&spec, &prover(), &p, ok_head, at(ok_head)).unwrap();
    let late = Height(HEAD.get() + 8);
    assert_eq!(
        verify_admission(&spec, &prover(), &p, late, at(late)),
        Err(AdmissionError::StaleBlock {
            block: p.cpu.block_height,
            head: late
        })
    );
    let early = Height(HEAD.get() - 4);
    assert_eq!(
        verify_admission(&spec, &prover(), &p, early, at(early)),
        Err(AdmissionError::FutureBlock(p.cpu.block_height))
    );
}

#[test]
fn dpor_admission_campaign_covers_one_to_three_terms() {
    let spec = ChainSpec::mainnet();
    let pool = pool_with_prover(&spec);
    let mut c = Campaign {
        candidate: prover(),
        terms: 3,
        proof: *proof(),
    };
    assert_eq!(
        check_campaign(&spec, &c, &pool, HEAD, Term(10), canonical),
        Ok(Term(10)..=Term(12))
    );
    c.terms = 1;
    assert_eq!(
        check_campaign(&spec, &c, &pool, HEAD, Term(10), canonical),
        Ok(Term(10)..=Term(10))
    );
    for bad in [0, 4, u32::MAX] {
        c.terms = bad;
        assert_eq!(
            check_campaign(&spec, &c, &pool, HEAD, Term(10), canonical),
            Err(AdmissionError::CampaignTerms(bad))
        );
    }
}

/// Issue 13 item 8: the campaign check asks the RNode pool itself (it took an `is_rnode`
/// flag the caller had to compute). A candidate outside the pool, and one that has quit it,
/// is refused with its address; the same campaign from a member is admitted.
#[test]
fn dpor_admission_campaign_asks_the_rnode_pool() {
    let spec = ChainSpec::mainnet();
    let c = Campaign {
        candidate: prover(),
        terms: 2,
        proof: *proof(),
    };
    let empty = RNodePool::new(&spec, 16);
    assert_eq!(
        check_campaign(&spec, &c, &empty, HEAD, Term(10), canonical),
        Err(AdmissionError::NotRNode(prover()))
    );
    let mut pool = pool_with_prover(&spec);
    assert_eq!(
        check_campaign(&spec, &c, &pool, HEAD, Term(10), canonical),
        Ok(Term(10)..=Term(11))
    );
    let after_lock = Timestamp(0).saturating_add(spec.rnode_lock);
    pool.quit(after_lock, Term(1), &prover()).unwrap();
    assert_eq!(
        check_campaign(&spec, &c, &pool, HEAD, Term(10), canonical),
        Err(AdmissionError::NotRNode(prover()))
    );
}

#[test]
fn dpor_admission_campaign_round_trips_the_wire() {
    let c = Campaign {
        candidate: prover(),
        terms: 2,
        proof: *proof(),
    };
    let bytes = encoding::encode_to_vec(&c).unwrap();
    assert_eq!(encoding::decode::<Campaign>(&bytes).unwrap(), c);
}

#[test]
fn dpor_admission_registry_holds_candidates_per_term() {
    use cpchain_consensus::dpor::CampaignRegistry;
    let mut spec = ChainSpec::mainnet();
    spec.max_candidates = 2;
    let mut reg = CampaignRegistry::new(&spec, 4);
    let a = Address([1; 20]);
    let b = Address([2; 20]);
    let c = Address([3; 20]);
    assert_eq!(reg.register(a, Term(3), 3), Ok(Term(3)..=Term(5)));
    assert_eq!(reg.register(b, Term(4), 1), Ok(Term(4)..=Term(4)));
    // Term 4 is full: c's campaign over 3..=4 is refused whole.
    assert_eq!(
        reg.register(c, Term(3), 2),
        Err(AdmissionError::TermFull(Term(4)))
    );
    assert!(!reg.is_candidate(&c, Term(3)));
    // Re-registering a standing candidate is idempotent for its terms.
    assert_eq!(reg.register(a, Term(4), 2), Ok(Term(4)..=Term(5)));
    assert_eq!(reg.candidates_for(Term(4)), vec![a, b]);
    // Four terms at most.
    assert_eq!(reg.register(c, Term(6), 1), Ok(Term(6)..=Term(6)));
    assert_eq!(
        reg.register(c, Term(7), 1),
        Err(AdmissionError::RegistryFull(4))
    );
    assert_eq!(reg.prune_before(Term(4)), 1);
    assert_eq!(reg.register(c, Term(7), 1), Ok(Term(7)..=Term(7)));
    assert_eq!(
        reg.register(c, Term(8), 0),
        Err(AdmissionError::CampaignTerms(0))
    );
    // An RNode that quits leaves every remaining term.
    assert_eq!(reg.withdraw(&a, Term(5)), 1);
    assert_eq!(reg.candidates_for(Term(5)), Vec::<Address>::new());
    assert_eq!(reg.candidates_for(Term(4)), vec![a, b]);
}
