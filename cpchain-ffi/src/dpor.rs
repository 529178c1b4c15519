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
#[cfg(not(feature = "std"))]
use alloc::{boxed::Box, vec::Vec};
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

// ---------------------------------------------------------------------------------------
// The proposer schedule.
// ---------------------------------------------------------------------------------------

use crate::boundary::{ffi_boundary_void, Exclusive, OutBuf};
use crate::FfiResult;
use cpchain_consensus::dpor::{Committee, Schedule, ScheduleError, Seat};
use cpchain_core::Height;

/// Terms a schedule holds when the host has no reason to choose: the election's lead window
/// plus ample history.
pub const CPCHAIN_DPOR_SCHEDULE_DEFAULT_CAPACITY: usize = 64;

const _: () = assert!(
    cpchain_consensus::dpor::DEFAULT_SCHEDULE_CAPACITY == CPCHAIN_DPOR_SCHEDULE_DEFAULT_CAPACITY
);

/// Who proposes which height (§2.4.1): the default proposers, and the committee elected for
/// each term. A mutable, single-threaded handle (see the crate docs); make it with
/// `cpchain_dpor_schedule_new`, release it with `cpchain_dpor_schedule_free`.
pub struct cpchain_dpor_schedule {
    inner: Exclusive<Schedule>,
    /// The spec's `proposers_per_term` (at least 1): the length of a view.
    per_view: u64,
}

/// Where a height sits in the term structure, and who seals it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct cpchain_dpor_slot {
    /// The term the height belongs to (genesis is term 0).
    pub term: u64,
    /// The view inside the term: each committee member proposes once per view.
    pub view: u64,
    /// The committee slot sealing the height: `((h - 1) mod term_blocks) mod proposers`.
    pub slot: u32,
    /// Whether the height is a checkpoint (the last block of its term), where the election
    /// of a later term's committee happens.
    pub is_checkpoint: bool,
    /// Whether default proposers seal the height whatever the elections say.
    pub is_default: bool,
    /// Whether a proposer is known (`proposer` is valid); false for genesis and for a term
    /// whose committee is not installed yet.
    pub has_proposer: bool,
    /// The proposer's address, when known; zero otherwise.
    pub proposer: [u8; 20],
}

/// A seat as C may have written it: the kind is read as a plain integer (any bit pattern
/// is a valid `u32`, not every one a valid enum) and checked. Same layout as
/// `cpchain_seat`.
#[repr(C)]
struct RawSeat {
    address: [u8; 20],
    kind: u32,
}

const _: () = {
    assert!(core::mem::size_of::<RawSeat>() == core::mem::size_of::<cpchain_seat>());
    assert!(core::mem::align_of::<RawSeat>() == core::mem::align_of::<cpchain_seat>());
};

impl From<ScheduleError> for cpchain_result {
    fn from(e: ScheduleError) -> Self {
        use cpchain_result as R;
        match e {
            ScheduleError::Spec => R::DporSeats,
            ScheduleError::CommitteeSize(_) => R::DporCommitteeSize,
            ScheduleError::DuplicateMember(_) => R::DporDuplicateMember,
            ScheduleError::Conflict(_) => R::DporScheduleConflict,
            ScheduleError::Full(_) => R::DporScheduleFull,
            ScheduleError::NotCheckpoint(_) => R::DporNotCheckpoint,
            ScheduleError::Election(e) => e.into(),
            _ => R::DporOther,
        }
    }
}

/// A copy of the schedule behind the handle `s`, for a validator of `spec`: the handle
/// stays the caller's. A schedule made from another chain spec is
/// `CPCHAIN_RESULT_LBFT_SCHEDULE_MISMATCH`.
///
/// # Safety
///
/// `s` a live handle.
pub(crate) unsafe fn schedule_copy(
    s: *const cpchain_dpor_schedule,
    spec: &cpchain_core::ChainSpec,
) -> FfiResult<Schedule> {
    // SAFETY: forwarded from this function's contract.
    let s = unsafe { schedule_ref(s) }?;
    let copy = s.inner.lock()?.clone();
    if copy.spec() == spec {
        Ok(copy)
    } else {
        Err(cpchain_result::LbftScheduleMismatch)
    }
}

/// Run `f` on the schedule behind the handle `s`, held for the call (no copy); a schedule
/// made from a chain spec other than `spec` is `CPCHAIN_RESULT_LBFT_SCHEDULE_MISMATCH`.
///
/// # Safety
///
/// `s` a live handle.
pub(crate) unsafe fn with_schedule<R>(
    s: *const cpchain_dpor_schedule,
    spec: &cpchain_core::ChainSpec,
    f: impl FnOnce(&Schedule) -> FfiResult<R>,
) -> FfiResult<R> {
    // SAFETY: forwarded from this function's contract.
    let s = unsafe { schedule_ref(s) }?;
    let g = s.inner.lock()?;
    if g.spec() != spec {
        return Err(cpchain_result::LbftScheduleMismatch);
    }
    f(&g)
}

/// Borrow a schedule handle.
///
/// # Safety
///
/// `s` a live handle.
unsafe fn schedule_ref<'a>(
    s: *const cpchain_dpor_schedule,
) -> FfiResult<&'a cpchain_dpor_schedule> {
    // SAFETY: forwarded from this function's contract.
    unsafe { handle(s) }
}

/// Make a schedule for `spec` with `default_proposers` (`n_defaults` addresses of 20 bytes
/// back to back, at least the spec's `proposers_per_term`, distinct), holding at most
/// `capacity` elected terms (`CPCHAIN_DPOR_SCHEDULE_DEFAULT_CAPACITY` is a good choice).
/// Heights up to the spec's `default_proposers_until`, and the first terms no election can
/// reach, are sealed by default proposers; later terms need a committee from
/// `cpchain_dpor_schedule_elect_at` or `..._install`. Refusals:
/// `CPCHAIN_RESULT_DPOR_COMMITTEE_SIZE` (too few defaults), `..._DUPLICATE_MEMBER`,
/// `..._SEATS` (inconsistent spec). `*out` is NULL on any error.
///
/// # Safety
///
/// `spec` a live handle; `default_proposers` readable for `n_defaults * 20` bytes; `out` a
/// writable pointer.
#[no_mangle]
pub unsafe extern "C" fn cpchain_dpor_schedule_new(
    spec: *const cpchain_chain_spec,
    default_proposers: *const u8,
    n_defaults: usize,
    capacity: usize,
    out: *mut *mut cpchain_dpor_schedule,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutPtr::new(out) }?;
        out.set(core::ptr::null_mut());
        // SAFETY: forwarded from this function's contract.
        let spec = unsafe { handle(spec) }?;
        // SAFETY: forwarded from this function's contract (arrays of 20 bytes).
        let defaults = unsafe {
            input_items(default_proposers.cast::<[u8; CPCHAIN_ADDRESS_LEN]>(), n_defaults)
        }?;
        let defaults: Vec<Address> = defaults.iter().map(|a| Address(*a)).collect();
        let schedule = Schedule::new(&spec.spec, &defaults, capacity)?;
        out.set(Box::into_raw(Box::new(cpchain_dpor_schedule {
            inner: Exclusive::new(schedule),
            per_view: u64::from(spec.spec.proposers_per_term).max(1),
        })));
        Ok(())
    }
}

/// Release a schedule. NULL is fine.
///
/// # Safety
///
/// `s` NULL or a live handle not freed before, used by no other thread now or afterwards.
#[no_mangle]
pub unsafe extern "C" fn cpchain_dpor_schedule_free(s: *mut cpchain_dpor_schedule) {
    ffi_boundary_void! {
        if !s.is_null() {
            // SAFETY: a non-NULL handle came from Box::into_raw in `_new` and is freed once.
            drop(unsafe { Box::from_raw(s) });
        }
    }
}

/// Install the committee serving `term`: `n_seats` seats in slot order, as
/// `cpchain_elect` wrote them (a host that runs the election itself, or that takes the
/// committee from a trusted snapshot). Installing the same committee again is fine; a
/// different one for an installed term is `CPCHAIN_RESULT_DPOR_SCHEDULE_CONFLICT`. Also
/// `..._COMMITTEE_SIZE`, `..._DUPLICATE_MEMBER`, `..._SCHEDULE_FULL`, and
/// `CPCHAIN_RESULT_INVALID_PARAMETER` for an unknown seat kind. Unchanged on any error.
///
/// # Safety
///
/// `s` a live handle; `seats` an array of `n_seats` structs (NULL when 0).
#[no_mangle]
pub unsafe extern "C" fn cpchain_dpor_schedule_install(
    s: *mut cpchain_dpor_schedule,
    term: u64,
    seats: *const cpchain_seat,
    n_seats: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let s = unsafe { schedule_ref(s) }?;
        // SAFETY: forwarded from this function's contract; RawSeat has cpchain_seat's
        // layout and accepts every bit pattern.
        let raw = unsafe { input_items(seats.cast::<RawSeat>(), n_seats) }?;
        let seats = raw
            .iter()
            .map(|r| {
                let kind = match r.kind {
                    0 => SeatKind::Low,
                    1 => SeatKind::High,
                    2 => SeatKind::Default,
                    _ => return Err(cpchain_result::InvalidParameter),
                };
                Ok(Seat { address: Address(r.address), kind })
            })
            .collect::<FfiResult<Vec<Seat>>>()?;
        s.inner.lock()?.install(Term(term), Committee::from_seats(seats))?;
        Ok(())
    }
}

/// Run the election at the checkpoint `checkpoint_height` (seeded by its 32-byte hash) over
/// `candidates` and install the committee for the term it serves, written to `*term`
/// (`term_of(checkpoint) + election_lead_terms + 1`). Same inputs in any order, same
/// committee. Refusals: `CPCHAIN_RESULT_DPOR_NOT_CHECKPOINT`, the election's codes, and
/// those of `..._install`; unchanged on any error.
///
/// # Safety
///
/// `s` a live handle; `checkpoint_hash` readable for `hash_len` bytes; `candidates` an
/// array of `n_candidates` structs; `term` writable.
#[no_mangle]
pub unsafe extern "C" fn cpchain_dpor_schedule_elect_at(
    s: *mut cpchain_dpor_schedule,
    checkpoint_height: u64,
    checkpoint_hash: *const u8,
    hash_len: usize,
    candidates: *const cpchain_candidate,
    n_candidates: usize,
    term: *mut u64,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let s = unsafe { schedule_ref(s) }?;
        // SAFETY: forwarded from this function's contract.
        let term = unsafe { OutPtr::new(term) }?;
        // SAFETY: forwarded from this function's contract.
        let hash = unsafe { input_array::<32>(checkpoint_hash, hash_len) }?;
        // SAFETY: forwarded from this function's contract.
        let cands = unsafe { input_items(candidates, n_candidates) }?;
        let cands: Vec<Candidate> = cands
            .iter()
            .map(|c| Candidate {
                address: Address(c.address),
                rpt: Rpt(c.rpt),
            })
            .collect();
        let served = s
            .inner
            .lock()?
            .elect_at(Height(checkpoint_height), &Hash(*hash), &cands)?;
        term.set(served.get());
        Ok(())
    }
}

/// Where `height` sits (term, view, slot, checkpoint) and who seals it, into `*out`. A
/// height whose proposer is unknown (genesis, or a term without an installed committee) is
/// not an error: `out->has_proposer` is false. See `cpchain_dpor_schedule_proposer_of` for
/// the strict form.
///
/// # Safety
///
/// `s` a live handle; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn cpchain_dpor_schedule_slot(
    s: *const cpchain_dpor_schedule,
    height: u64,
    out: *mut cpchain_dpor_slot,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let s = unsafe { schedule_ref(s) }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutPtr::new(out) }?;
        let g = s.inner.lock()?;
        let h = Height(height);
        let clock = g.clock();
        let slot = clock.slot_of(h);
        let proposer = g.proposer_of(h);
        // The view: which pass of the rotation inside the term the height falls in.
        let view = height.checked_sub(1).map_or(0, |x| {
            x.checked_rem(clock.term_blocks()).unwrap_or(0) / s.per_view
        });
        out.set(cpchain_dpor_slot {
            term: g.term_of(h).get(),
            view,
            slot: slot.map_or(0, |x| u32::try_from(x).unwrap_or(u32::MAX)),
            is_checkpoint: g.is_checkpoint(h),
            is_default: g.is_default_height(h),
            has_proposer: proposer.is_some(),
            proposer: proposer.map_or([0; 20], |a| a.0),
        });
        Ok(())
    }
}

/// The address that seals `height` into `addr` (20 bytes), or
/// `CPCHAIN_RESULT_DPOR_NO_PROPOSER` when none is known (genesis, or a term whose committee
/// is not installed: guessing would let two nodes disagree silently).
///
/// # Safety
///
/// `s` a live handle; `addr` writable for `addr_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn cpchain_dpor_schedule_proposer_of(
    s: *const cpchain_dpor_schedule,
    height: u64,
    addr: *mut u8,
    addr_len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let s = unsafe { schedule_ref(s) }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutBuf::new(addr, addr_len) }?;
        if out.cap() < CPCHAIN_ADDRESS_LEN {
            return Err(cpchain_result::InsufficientSize);
        }
        let who = s
            .inner
            .lock()?
            .proposer_of(Height(height))
            .ok_or(cpchain_result::DporNoProposer)?;
        out.write_fixed(&who.0)
    }
}

/// Forget the committees of terms before `term` (already served); `*dropped` is how many.
///
/// # Safety
///
/// `s` a live handle; `dropped` writable.
#[no_mangle]
pub unsafe extern "C" fn cpchain_dpor_schedule_prune_before(
    s: *mut cpchain_dpor_schedule,
    term: u64,
    dropped: *mut usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let s = unsafe { schedule_ref(s) }?;
        // SAFETY: forwarded from this function's contract.
        let dropped = unsafe { OutPtr::new(dropped) }?;
        dropped.set(s.inner.lock()?.prune_before(Term(term)));
        Ok(())
    }
}
