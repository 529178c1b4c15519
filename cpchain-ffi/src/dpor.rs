//! DPoR (white paper §2.4.1, §5.1.2): RPT scoring and the committee election.
//!
//! Both are pure functions of what every node reads from the chain, so that every node
//! computes the same committee: the host fills one `cpchain_rpt_observation` per candidate
//! from its chain, `cpchain_rpt_compute` ranks them, and `cpchain_elect` draws the next
//! term's committee from the resulting candidates with the checkpoint hash as the seed.
//! Arrays go in and out as C structs in caller memory; each call may use temporary heap
//! memory, freed before it returns.

use crate::boundary::{ffi_boundary, handle, input_array, input_items, OutArray, OutPtr};
use crate::{cpchain_chain_spec, cpchain_result, CPCHAIN_ADDRESS_LEN};
use cpchain_consensus::dpor::{
    compute_rpt, elect, Candidate, ElectionError, Observation, Rpt, RptError, SeatKind,
};
use cpchain_core::{Address, Hash, Term};

/// What the chain shows of one candidate over the RPT and punishment windows (the host
/// extracts these from its chain).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct cpchain_rpt_observation {
    /// The candidate's address.
    pub address: [u8; 20],
    /// Balance at the window's end in base units, 16 bytes big-endian (ranked in whole CPC).
    pub balance: [u8; 16],
    /// Transactions sent in the window.
    pub transactions: u64,
    /// Blocks proposed in the window (blockchain maintenance).
    pub proposed_blocks: u64,
    /// Data items uploaded in the window.
    pub data_uploaded: u64,
    /// Uploaded items bought in the window (each counts once more).
    pub data_bought: u64,
    /// Trades assisted as a proxy in the window.
    pub proxy_assists: u64,
    /// Impeach blocks at this candidate's slots in the punishment window.
    pub impeached_blocks: u64,
}

/// One candidate's RPT and the rank scores (0 to 100) behind it, for audit and display.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct cpchain_rpt_record {
    /// The candidate's address.
    pub address: [u8; 20],
    /// Account-balance rank score.
    pub balance: u8,
    /// Transactions rank score.
    pub transactions: u8,
    /// Proxy-reputation rank score.
    pub proxy: u8,
    /// Data-contribution rank score.
    pub data: u8,
    /// Blockchain-maintenance rank score.
    pub maintenance: u8,
    /// RPT after floor and punishment, 0 to 10,000 (1/100 of a paper point): what the
    /// election weighs.
    pub rpt: u32,
}

/// A campaigning candidate and its RPT: the election's input.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct cpchain_candidate {
    /// The candidate's address.
    pub address: [u8; 20],
    /// Its RPT.
    pub rpt: u32,
}

/// How a committee seat was filled.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum cpchain_seat_kind {
    /// Drawn from the low-RPT half.
    Low = 0,
    /// Drawn from the high-RPT half.
    High = 1,
    /// A default proposer filling a seat the election left open.
    Default = 2,
}

/// One committee seat, in slot order.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct cpchain_seat {
    /// Who proposes in this slot.
    pub address: [u8; 20],
    /// How the seat was filled.
    pub kind: cpchain_seat_kind,
}

impl From<RptError> for cpchain_result {
    fn from(e: RptError) -> Self {
        match e {
            RptError::DuplicateCandidate(_) => cpchain_result::DporDuplicateCandidate,
            RptError::TooManyCandidates { .. } => cpchain_result::DporTooManyCandidates,
            RptError::Weights => cpchain_result::DporWeights,
            _ => cpchain_result::DporOther,
        }
    }
}

impl From<ElectionError> for cpchain_result {
    fn from(e: ElectionError) -> Self {
        use cpchain_result as R;
        match e {
            ElectionError::DuplicateCandidate(_) => R::DporDuplicateCandidate,
            ElectionError::TooManyCandidates { .. } => R::DporTooManyCandidates,
            ElectionError::DuplicateDefaultProposer(_) => R::DporDuplicateDefaultProposer,
            ElectionError::NotEnoughDefaultProposers { .. } => R::DporNotEnoughDefaultProposers,
            ElectionError::Seats => R::DporSeats,
            _ => R::DporOther,
        }
    }
}

/// RPT of every observed candidate, in input order, under `spec`'s weights. Writes `n`
/// records to `out`; `*out_len` is always `n`, and if `out_cap < n` nothing is written and
/// the result is `CPCHAIN_RESULT_INSUFFICIENT_SIZE`. Duplicate addresses are
/// `CPCHAIN_RESULT_DPOR_DUPLICATE_CANDIDATE`; more than the spec's `max_candidates`,
/// `..._TOO_MANY_CANDIDATES`.
///
/// # Safety
///
/// `spec` a live handle; `obs` an array of `n` structs (NULL when 0); `out` writable for
/// `out_cap` structs (NULL when 0); `out_len` a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_rpt_compute(
    spec: *const cpchain_chain_spec,
    obs: *const cpchain_rpt_observation,
    n: usize,
    out: *mut cpchain_rpt_record,
    out_cap: usize,
    out_len: *mut usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let spec = unsafe { handle(spec) }?;
        // SAFETY: forwarded from this function's contract.
        let out_len = unsafe { OutPtr::new(out_len) }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutArray::new(out, out_cap) }?;
        // SAFETY: forwarded from this function's contract (plain integers and bytes).
        let obs = unsafe { input_items(obs, n) }?;
        let observations: Vec<Observation> = obs
            .iter()
            .map(|o| Observation {
                address: Address(o.address),
                balance: u128::from_be_bytes(o.balance),
                transactions: o.transactions,
                proposed_blocks: o.proposed_blocks,
                data_uploaded: o.data_uploaded,
                data_bought: o.data_bought,
                proxy_assists: o.proxy_assists,
                impeached_blocks: o.impeached_blocks,
            })
            .collect();
        let records = compute_rpt(&spec.spec, &observations)?;
        out.write_all(
            records.iter().map(|r| cpchain_rpt_record {
                address: r.address.0,
                balance: r.scores.balance,
                transactions: r.scores.transactions,
                proxy: r.scores.proxy,
                data: r.scores.data,
                maintenance: r.scores.maintenance,
                rpt: r.rpt.0,
            }),
            &out_len,
        )
    }
}

/// Elect the committee serving `term` from `candidates`, seeded by the 32-byte
/// `checkpoint_hash` (§2.4.1). `default_proposers` is `n_defaults` addresses of 20 bytes,
/// back to back; they fill the seats the election leaves open. Writes the spec's
/// `proposers_per_term` seats in slot order to `out` (`*out_len` is always that count; a
/// smaller `out_cap` is `CPCHAIN_RESULT_INSUFFICIENT_SIZE` and nothing is written). Same
/// inputs, in any candidate order, give the same committee.
///
/// # Safety
///
/// `spec` a live handle; `checkpoint_hash` readable for `hash_len` bytes; `candidates` an
/// array of `n_candidates` structs; `default_proposers` readable for `n_defaults * 20`
/// bytes; `out` writable for `out_cap` structs; `out_len` a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_elect(
    spec: *const cpchain_chain_spec,
    checkpoint_hash: *const u8,
    hash_len: usize,
    term: u64,
    candidates: *const cpchain_candidate,
    n_candidates: usize,
    default_proposers: *const u8,
    n_defaults: usize,
    out: *mut cpchain_seat,
    out_cap: usize,
    out_len: *mut usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let spec = unsafe { handle(spec) }?;
        // SAFETY: forwarded from this function's contract.
        let out_len = unsafe { OutPtr::new(out_len) }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutArray::new(out, out_cap) }?;
        // SAFETY: forwarded from this function's contract.
        let hash = unsafe { input_array::<32>(checkpoint_hash, hash_len) }?;
        // SAFETY: forwarded from this function's contract.
        let cands = unsafe { input_items(candidates, n_candidates) }?;
        // SAFETY: forwarded from this function's contract (arrays of 20 bytes).
        let defaults = unsafe {
            input_items(default_proposers.cast::<[u8; CPCHAIN_ADDRESS_LEN]>(), n_defaults)
        }?;
        let cands: Vec<Candidate> = cands
            .iter()
            .map(|c| Candidate {
                address: Address(c.address),
                rpt: Rpt(c.rpt),
            })
            .collect();
        let defaults: Vec<Address> = defaults.iter().map(|a| Address(*a)).collect();
        let committee = elect(&spec.spec, &Hash(*hash), Term(term), &cands, &defaults)?;
        out.write_all(
            committee.seats().iter().map(|s| cpchain_seat {
                address: s.address.0,
                kind: match s.kind {
                    SeatKind::Low => cpchain_seat_kind::Low,
                    SeatKind::High => cpchain_seat_kind::High,
                    SeatKind::Default => cpchain_seat_kind::Default,
                },
            }),
            &out_len,
        )
    }
}
