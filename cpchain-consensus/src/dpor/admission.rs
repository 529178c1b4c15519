//! Admission proofs for a campaign, as on mainnet (white paper §2.3 "passed admission";
//! mainnet `admission` package and campaign contract).
//!
//! An RNode proves two kinds of work over a recent block, so that campaigning costs CPU and
//! memory and cannot be precomputed:
//!
//! * **CPU**: `sha256(address 20 B ‖ block hash 32 B ‖ nonce 8 B LE) ≤ 2^(256 − c)`;
//! * **memory**: `scrypt(same 60 bytes, salt = their first 8 bytes, N = 4096, r = 8, p = 1,
//!   32 B) ≤ 2^(256 − m)`,
//!
//! digests read as big-endian integers, `c` and `m` from the chain spec (mainnet 12 and 6).
//! Each proof names its own block (as the mainnet contract does), at most
//! `admission_max_block_age` blocks behind the head.
//!
//! The verifier is `no_std`; note that one scrypt evaluation with these parameters needs
//! 128 · r · N = 4 MiB of heap, so only hosts (validators, full nodes) verify memory
//! proofs. The prover, which searches nonces upward from 0 like the mainnet client, needs
//! the `std` feature only to mark it as a host tool; it reads no clock and no OS randomness.

use super::error::AdmissionError;
use super::pools::RNodePool;
use cpchain_core::{Address, ChainSpec, Hash, Height, Term, WireMessage};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Bytes hashed by both proofs: address ‖ block hash ‖ nonce.
pub const WORK_INPUT_LEN: usize = 20 + 32 + 8;

/// scrypt cost of the memory proof: log2(N) = 12, N = 4096.
pub const SCRYPT_LOG_N: u8 = 12;
/// scrypt block size r.
pub const SCRYPT_R: u32 = 8;
/// scrypt parallelism p.
pub const SCRYPT_P: u32 = 1;

/// One proof of work: the block it is over and the nonce found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WorkProof {
    /// Height of the block the proof is over.
    pub block_height: Height,
    /// Hash of that block; must be canonical at `block_height`.
    pub block_hash: Hash,
    /// The nonce found.
    pub nonce: u64,
}

/// The two proofs a campaign carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AdmissionProof {
    /// The sha256 proof.
    pub cpu: WorkProof,
    /// The scrypt proof.
    pub memory: WorkProof,
}

/// An RNode's request to stand for election for `terms` consecutive terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Campaign {
    /// The RNode campaigning.
    pub candidate: Address,
    /// Terms the campaign covers, 1..=`max_campaign_terms`.
    pub terms: u32,
    /// Its admission proof.
    pub proof: AdmissionProof,
}

impl WireMessage for Campaign {
    /// Campaigns travel from RNodes to validators.
    const TAG: u16 = 0x0301;
    const MAX_ENCODED_LEN: usize = 192;
}

/// The 60 bytes both proofs hash.
pub fn work_input(address: &Address, block_hash: &Hash, nonce: u64) -> [u8; WORK_INPUT_LEN] {
    let mut data = [0u8; WORK_INPUT_LEN];
    let nonce = nonce.to_le_bytes();
    let parts = address
        .as_bytes()
        .iter()
        .chain(block_hash.as_bytes().iter())
        .chain(nonce.iter());
    for (d, s) in data.iter_mut().zip(parts) {
        *d = *s;
    }
    data
}

/// The CPU proof's digest.
pub fn cpu_digest(address: &Address, block_hash: &Hash, nonce: u64) -> [u8; 32] {
    Sha256::digest(work_input(address, block_hash, nonce)).into()
}

/// The memory proof's digest (4 MiB of scratch memory).
pub fn memory_digest(
    address: &Address,
    block_hash: &Hash,
    nonce: u64,
) -> Result<[u8; 32], AdmissionError> {
    let data = work_input(address, block_hash, nonce);
    let salt = data.get(..8).ok_or(AdmissionError::ScryptParams)?;
    let params = scrypt::Params::new(SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P, 32)
        .map_err(|_| AdmissionError::ScryptParams)?;
    let mut out = [0u8; 32];
    scrypt::scrypt(&data, salt, &params, &mut out).map_err(|_| AdmissionError::ScryptParams)?;
    Ok(out)
}

/// Whether `digest`, read big-endian, is ≤ 2^(256 − bits). Exact, including the boundary
/// value 2^(256 − bits) itself; `bits = 0` accepts everything.
pub fn meets_difficulty(digest: &[u8; 32], bits: u32) -> bool {
    if bits == 0 {
        return true;
    }
    if bits > 256 {
        return false;
    }
    let lz = leading_zero_bits(digest);
    if lz >= bits {
        return true;
    }
    // Exactly the target: one bit set at position 256 − bits, all else zero.
    lz + 1 == bits && digest.iter().map(|b| b.count_ones()).sum::<u32>() == 1
}

fn leading_zero_bits(d: &[u8; 32]) -> u32 {
    let mut n = 0;
    for b in d {
        if *b == 0 {
            n += 8;
        } else {
            return n + b.leading_zeros();
        }
    }
    n
}

/// Check a proof's block: not above the head, at most `max_age` behind it, canonical.
fn check_block(
    spec: &ChainSpec,
    proof: &WorkProof,
    head: Height,
    canonical_hash: &impl Fn(Height) -> Option<Hash>,
) -> Result<(), AdmissionError> {
    if proof.block_height > head {
        return Err(AdmissionError::FutureBlock(proof.block_height));
    }
    if head.get() - proof.block_height.get() > spec.admission_max_block_age {
        return Err(AdmissionError::StaleBlock {
            block: proof.block_height,
            head,
        });
    }
    if canonical_hash(proof.block_height) != Some(proof.block_hash) {
        return Err(AdmissionError::UnknownBlock(proof.block_height));
    }
    Ok(())
}

/// Verify both proofs of `address` at chain head `head`. `canonical_hash` returns the hash
/// of the host's canonical block at a height; the cheap checks (block age, canonicity,
/// sha256) run before the 4 MiB scrypt so a bogus proof costs the verifier little.
pub fn verify_admission(
    spec: &ChainSpec,
    address: &Address,
    proof: &AdmissionProof,
    head: Height,
    canonical_hash: impl Fn(Height) -> Option<Hash>,
) -> Result<(), AdmissionError> {
    check_block(spec, &proof.cpu, head, &canonical_hash)?;
    check_block(spec, &proof.memory, head, &canonical_hash)?;
    let cpu = cpu_digest(address, &proof.cpu.block_hash, proof.cpu.nonce);
    if !meets_difficulty(&cpu, spec.admission_cpu_difficulty) {
        return Err(AdmissionError::CpuProof);
    }
    let mem = memory_digest(address, &proof.memory.block_hash, proof.memory.nonce)?;
    if !meets_difficulty(&mem, spec.admission_memory_difficulty) {
        return Err(AdmissionError::MemoryProof);
    }
    Ok(())
}

/// Check a campaign in full: term count, RNode membership in `rnodes` (the RNode pool,
/// §5.1.1; asked here so a caller cannot pass a stale or mistyped flag) and the admission
/// proof. Returns the terms it covers, starting with `first_term` (the first term not yet
/// elected).
pub fn check_campaign(
    spec: &ChainSpec,
    campaign: &Campaign,
    rnodes: &RNodePool,
    head: Height,
    first_term: Term,
    canonical_hash: impl Fn(Height) -> Option<Hash>,
) -> Result<core::ops::RangeInclusive<Term>, AdmissionError> {
    if campaign.terms == 0 || campaign.terms > spec.max_campaign_terms {
        return Err(AdmissionError::CampaignTerms(campaign.terms));
    }
    if !rnodes.is_rnode(&campaign.candidate) {
        return Err(AdmissionError::NotRNode(campaign.candidate));
    }
    verify_admission(
        spec,
        &campaign.candidate,
        &campaign.proof,
        head,
        canonical_hash,
    )?;
    let last = first_term
        .get()
        .saturating_add(u64::from(campaign.terms) - 1);
    Ok(first_term..=Term(last))
}

/// Search CPU nonces upward from `start` (mainnet: 0) for at most `budget` tries.
#[cfg(feature = "std")]
pub fn prove_cpu(
    spec: &ChainSpec,
    address: &Address,
    block_height: Height,
    block_hash: &Hash,
    start: u64,
    budget: u64,
) -> Result<WorkProof, AdmissionError> {
    let end = start.saturating_add(budget);
    (start..end)
        .find(|n| {
            meets_difficulty(
                &cpu_digest(address, block_hash, *n),
                spec.admission_cpu_difficulty,
            )
        })
        .map(|nonce| WorkProof {
            block_height,
            block_hash: *block_hash,
            nonce,
        })
        .ok_or(AdmissionError::Exhausted(budget))
}

/// Search scrypt nonces upward from `start` (mainnet: 0) for at most `budget` tries.
#[cfg(feature = "std")]
pub fn prove_memory(
    spec: &ChainSpec,
    address: &Address,
    block_height: Height,
    block_hash: &Hash,
    start: u64,
    budget: u64,
) -> Result<WorkProof, AdmissionError> {
    let end = start.saturating_add(budget);
    for nonce in start..end {
        let d = memory_digest(address, block_hash, nonce)?;
        if meets_difficulty(&d, spec.admission_memory_difficulty) {
            return Ok(WorkProof {
                block_height,
                block_hash: *block_hash,
                nonce,
            });
        }
    }
    Err(AdmissionError::Exhausted(budget))
}

/// Both proofs over one block, nonces from 0, as the mainnet client does before it calls
/// the campaign contract.
#[cfg(feature = "std")]
pub fn prove_admission(
    spec: &ChainSpec,
    address: &Address,
    block_height: Height,
    block_hash: &Hash,
    budget: u64,
) -> Result<AdmissionProof, AdmissionError> {
    Ok(AdmissionProof {
        cpu: prove_cpu(spec, address, block_height, block_hash, 0, budget)?,
        memory: prove_memory(spec, address, block_height, block_hash, 0, budget)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpor_difficulty_boundary_is_inclusive() {
        let mut d = [0u8; 32];
        // 2^(256−12): bit 244 set = byte 1, bit 4 (0x10).
        d[1] = 0x10;
        assert!(meets_difficulty(&d, 12));
        // One above the target fails.
        d[31] = 1;
        assert!(!meets_difficulty(&d, 12));
        // Exactly 12 leading zeros with other bits passes.
        let mut e = [0xffu8; 32];
        e[0] = 0;
        e[1] = 0x0f;
        assert!(meets_difficulty(&e, 12));
        assert!(!meets_difficulty(&e, 13));
        assert!(meets_difficulty(&[0xff; 32], 0));
        assert!(meets_difficulty(&[0; 32], 256));
        assert!(!meets_difficulty(&[0; 32], 257));
    }

    #[test]
    fn dpor_work_input_layout() {
        let a = Address([1; 20]);
        let h = Hash([2; 32]);
        let d = work_input(&a, &h, 0x0807_0605_0403_0201);
        assert_eq!(&d[..20], &[1; 20]);
        assert_eq!(&d[20..52], &[2; 32]);
        assert_eq!(&d[52..], &[1, 2, 3, 4, 5, 6, 7, 8]);
    }
}
