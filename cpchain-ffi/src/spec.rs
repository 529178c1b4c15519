//! Chain parameters: the mainnet and devnet specs, and specs distributed as wire bytes.
//!
//! A `cpchain_chain_spec` is immutable once made. Read its figures with the
//! `cpchain_chain_spec_*` getters, each of which writes one value through an out-pointer and
//! returns a `cpchain_result` (so a NULL handle is an error code, never a silent 0). Amounts
//! in base units (18 decimals) do not fit 64 bits and come out as 16 big-endian bytes.

use crate::boundary::{ffi_boundary, ffi_boundary_void, handle, input, OutBuf, OutPtr};
use crate::cpchain_result;
#[cfg(not(feature = "std"))]
use alloc::boxed::Box;
use cpchain_core::{encoding, ChainSpec, WireMessage};

/// Longest wire encoding of a chain spec, in bytes (longer input is refused unparsed).
pub const CPCHAIN_CHAIN_SPEC_MAX_ENCODED_LEN: usize = 512;

const _: () =
    assert!(CPCHAIN_CHAIN_SPEC_MAX_ENCODED_LEN == <ChainSpec as WireMessage>::MAX_ENCODED_LEN);

/// Bytes of a 128-bit amount, big-endian.
pub const CPCHAIN_AMOUNT_LEN: usize = 16;

/// The parameters every node of one chain must agree on (white paper section 2.4, section 5.1).
///
/// Create with `cpchain_chain_spec_mainnet`, `cpchain_chain_spec_devnet` or
/// `cpchain_chain_spec_decode`; release with `cpchain_chain_spec_free`. Immutable, so one
/// handle may be read from several threads at once.
pub struct cpchain_chain_spec {
    pub(crate) spec: ChainSpec,
}

/// The RPT weights of white paper section 5.1.2, in percent (they sum to 100).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct cpchain_rpt_weights {
    /// Account balance (AB).
    pub balance: u32,
    /// Transactions sent in the window (TX).
    pub transactions: u32,
    /// Proxy assists (PR).
    pub proxy: u32,
    /// Data contributed (DC).
    pub data: u32,
    /// Blocks proposed in the window, blockchain maintenance (BM).
    pub maintenance: u32,
}

/// Box `spec` into a new handle at `*out`.
fn emit(out: &OutPtr<*mut cpchain_chain_spec>, spec: ChainSpec) {
    out.set(Box::into_raw(Box::new(cpchain_chain_spec { spec })));
}

/// Make a handle from a constructor.
///
/// # Safety
///
/// `out` must point to a writable pointer.
unsafe fn make(out: *mut *mut cpchain_chain_spec, f: fn() -> ChainSpec) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutPtr::new(out) }?;
        emit(&out, f());
        Ok(())
    }
}

/// The CPChain mainnet parameters (chain id 337, 10 s blocks, 7 validators, 12 proposers a
/// term). `*out` is a new handle to free with `cpchain_chain_spec_free`.
///
/// # Safety
///
/// `out` must point to a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_spec_mainnet(
    out: *mut *mut cpchain_chain_spec,
) -> cpchain_result {
    // SAFETY: forwarded from this function's contract.
    unsafe { make(out, ChainSpec::mainnet) }
}

/// A fast development chain (3 s blocks, 4 validators, 4 proposers a term). `*out` as in
/// `cpchain_chain_spec_mainnet`.
///
/// # Safety
///
/// `out` must point to a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_spec_devnet(
    out: *mut *mut cpchain_chain_spec,
) -> cpchain_result {
    // SAFETY: forwarded from this function's contract.
    unsafe { make(out, ChainSpec::devnet) }
}

/// Decode a spec from untrusted wire bytes (as written by `cpchain_chain_spec_encode` or
/// the Rust SDK) and check that it is consistent. Refusals are typed
/// (`CPCHAIN_RESULT_DECODE_*`, or `CPCHAIN_RESULT_SPEC_INVALID` for a well-formed but
/// inconsistent spec). On any error `*out` is NULL.
///
/// # Safety
///
/// `bytes` readable for `len` bytes (NULL allowed when 0); `out` a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_spec_decode(
    bytes: *const u8,
    len: usize,
    out: *mut *mut cpchain_chain_spec,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutPtr::new(out) }?;
        out.set(core::ptr::null_mut());
        // SAFETY: forwarded from this function's contract.
        let bytes = unsafe { input(bytes, len) }?;
        let spec: ChainSpec = encoding::decode(bytes)?;
        spec.validate()?;
        emit(&out, spec);
        Ok(())
    }
}

/// Encode a spec for the wire (at most `CPCHAIN_CHAIN_SPEC_MAX_ENCODED_LEN` bytes). On
/// success `*out_len` is the encoded length; on a too-small buffer it is the size needed and
/// nothing is written. `buf` may be NULL with `buf_len` 0 to ask for the size.
///
/// # Safety
///
/// `spec` a live handle; `buf` writable for `buf_len` bytes; `out_len` a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_spec_encode(
    spec: *const cpchain_chain_spec,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let spec = unsafe { handle(spec) }?;
        // SAFETY: forwarded from this function's contract.
        let out_len = unsafe { OutPtr::new(out_len) }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutBuf::new(buf, buf_len) }?;
        let bytes = encoding::encode_to_vec(&spec.spec)?;
        out.write(&bytes, Some(&out_len))
    }
}

/// Release a spec. `NULL` is accepted and does nothing.
///
/// # Safety
///
/// `spec` must be NULL or a handle from this library not freed before; it must not be used
/// afterwards.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_spec_free(spec: *mut cpchain_chain_spec) {
    ffi_boundary_void! {
        if !spec.is_null() {
            // SAFETY: a non-NULL `spec` came from Box::into_raw in `emit` and is freed once,
            // per this function's contract.
            drop(unsafe { Box::from_raw(spec) });
        }
    }
}

/// Read one value of a spec into `*out`.
///
/// # Safety
///
/// `spec` a live handle; `out` a writable `T`.
unsafe fn get<T>(
    spec: *const cpchain_chain_spec,
    out: *mut T,
    f: impl FnOnce(&ChainSpec) -> T,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let spec = unsafe { handle(spec) }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutPtr::new(out) }?;
        out.set(f(&spec.spec));
        Ok(())
    }
}

/// Write a 128-bit amount big-endian.
///
/// # Safety
///
/// `spec` a live handle; `out` writable for `out_len` bytes.
unsafe fn get_amount(
    spec: *const cpchain_chain_spec,
    out: *mut u8,
    out_len: usize,
    f: impl FnOnce(&ChainSpec) -> u128,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let spec = unsafe { handle(spec) }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutBuf::new(out, out_len) }?;
        out.write_fixed(&f(&spec.spec).to_be_bytes())
    }
}

/// Minimum RNode-pool deposit in base units, as 16 big-endian bytes.
///
/// # Safety
///
/// `spec` a live handle; `out` writable for `out_len` bytes (`CPCHAIN_AMOUNT_LEN` needed).
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_spec_rnode_deposit(
    spec: *const cpchain_chain_spec,
    out: *mut u8,
    out_len: usize,
) -> cpchain_result {
    // SAFETY: forwarded from this function's contract.
    unsafe { get_amount(spec, out, out_len, |s| s.rnode_deposit) }
}

/// Minimum economy-pool deposit in base units, as 16 big-endian bytes.
///
/// # Safety
///
/// `spec` a live handle; `out` writable for `out_len` bytes (`CPCHAIN_AMOUNT_LEN` needed).
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_spec_economy_deposit(
    spec: *const cpchain_chain_spec,
    out: *mut u8,
    out_len: usize,
) -> cpchain_result {
    // SAFETY: forwarded from this function's contract.
    unsafe { get_amount(spec, out, out_len, |s| s.economy_deposit) }
}

/// The weights of the five RPT dimensions, in percent.
///
/// # Safety
///
/// `spec` a live handle; `out` a writable `cpchain_rpt_weights`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_spec_rpt_weights(
    spec: *const cpchain_chain_spec,
    out: *mut cpchain_rpt_weights,
) -> cpchain_result {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        get(spec, out, |s| cpchain_rpt_weights {
            balance: s.rpt_weights.balance,
            transactions: s.rpt_weights.transactions,
            proxy: s.rpt_weights.proxy,
            data: s.rpt_weights.data,
            maintenance: s.rpt_weights.maintenance,
        })
    }
}

/// Chain id, bound into every signed protocol payload.
///
/// # Safety
///
/// `spec` must be a live handle; `out` must point to a writable `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_spec_chain_id(
    spec: *const cpchain_chain_spec,
    out: *mut u64,
) -> cpchain_result {
    // SAFETY: forwarded from this function's contract.
    unsafe { get(spec, out, |s| s.chain_id) }
}

/// Target time between blocks, in milliseconds.
///
/// # Safety
///
/// `spec` must be a live handle; `out` must point to a writable `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_spec_block_period_ms(
    spec: *const cpchain_chain_spec,
    out: *mut u64,
) -> cpchain_result {
    // SAFETY: forwarded from this function's contract.
    unsafe { get(spec, out, |s| s.block_period.as_millis()) }
}

/// Proposers in one committee: the term length in proposer slots.
///
/// # Safety
///
/// `spec` must be a live handle; `out` must point to a writable `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_spec_proposers_per_term(
    spec: *const cpchain_chain_spec,
    out: *mut u32,
) -> cpchain_result {
    // SAFETY: forwarded from this function's contract.
    unsafe { get(spec, out, |s| s.proposers_per_term) }
}

/// Blocks each proposer seals per term.
///
/// # Safety
///
/// `spec` must be a live handle; `out` must point to a writable `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_spec_view_len(
    spec: *const cpchain_chain_spec,
    out: *mut u32,
) -> cpchain_result {
    // SAFETY: forwarded from this function's contract.
    unsafe { get(spec, out, |s| s.view_len) }
}

/// Byzantine validators tolerated (f).
///
/// # Safety
///
/// `spec` must be a live handle; `out` must point to a writable `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_spec_fault_tolerance(
    spec: *const cpchain_chain_spec,
    out: *mut u32,
) -> cpchain_result {
    // SAFETY: forwarded from this function's contract.
    unsafe { get(spec, out, |s| s.fault_tolerance) }
}

/// Members of the validator committee: 3f + 1.
///
/// # Safety
///
/// `spec` must be a live handle; `out` must point to a writable `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_spec_validators(
    spec: *const cpchain_chain_spec,
    out: *mut u32,
) -> cpchain_result {
    // SAFETY: forwarded from this function's contract.
    unsafe { get(spec, out, |s| s.validators()) }
}

/// Votes in a normal-case quorum certificate: 2f + 1.
///
/// # Safety
///
/// `spec` must be a live handle; `out` must point to a writable `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_spec_quorum(
    spec: *const cpchain_chain_spec,
    out: *mut u32,
) -> cpchain_result {
    // SAFETY: forwarded from this function's contract.
    unsafe { get(spec, out, |s| s.quorum()) }
}

/// Blocks in one term: proposers_per_term x view_len.
///
/// # Safety
///
/// `spec` must be a live handle; `out` must point to a writable `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_spec_term_blocks(
    spec: *const cpchain_chain_spec,
    out: *mut u64,
) -> cpchain_result {
    // SAFETY: forwarded from this function's contract.
    unsafe { get(spec, out, |s| s.term_blocks()) }
}

/// How long after the block period validators wait before impeaching, in milliseconds.
///
/// # Safety
///
/// `spec` must be a live handle; `out` must point to a writable `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_spec_impeach_timeout_ms(
    spec: *const cpchain_chain_spec,
    out: *mut u64,
) -> cpchain_result {
    // SAFETY: forwarded from this function's contract.
    unsafe { get(spec, out, |s| s.impeach_timeout.as_millis()) }
}

/// How long an RNode deposit is locked after joining, in milliseconds.
///
/// # Safety
///
/// `spec` must be a live handle; `out` must point to a writable `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_spec_rnode_lock_ms(
    spec: *const cpchain_chain_spec,
    out: *mut u64,
) -> cpchain_result {
    // SAFETY: forwarded from this function's contract.
    unsafe { get(spec, out, |s| s.rnode_lock.as_millis()) }
}

/// Heights up to and including this one are sealed by the default proposers only.
///
/// # Safety
///
/// `spec` must be a live handle; `out` must point to a writable `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_spec_default_proposers_until(
    spec: *const cpchain_chain_spec,
    out: *mut u64,
) -> cpchain_result {
    // SAFETY: forwarded from this function's contract.
    unsafe { get(spec, out, |s| s.default_proposers_until.0) }
}

/// Most candidates an election considers.
///
/// # Safety
///
/// `spec` must be a live handle; `out` must point to a writable `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_spec_max_candidates(
    spec: *const cpchain_chain_spec,
    out: *mut u32,
) -> cpchain_result {
    // SAFETY: forwarded from this function's contract.
    unsafe { get(spec, out, |s| s.max_candidates) }
}

/// Blocks in the RPT observation window.
///
/// # Safety
///
/// `spec` must be a live handle; `out` must point to a writable `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_spec_rpt_window(
    spec: *const cpchain_chain_spec,
    out: *mut u64,
) -> cpchain_result {
    // SAFETY: forwarded from this function's contract.
    unsafe { get(spec, out, |s| s.rpt_window) }
}

/// Blocks over which impeachments count for the RPT punishment.
///
/// # Safety
///
/// `spec` must be a live handle; `out` must point to a writable `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_spec_impeach_punish_window(
    spec: *const cpchain_chain_spec,
    out: *mut u64,
) -> cpchain_result {
    // SAFETY: forwarded from this function's contract.
    unsafe { get(spec, out, |s| s.impeach_punish_window) }
}

/// Committee seats filled by election.
///
/// # Safety
///
/// `spec` must be a live handle; `out` must point to a writable `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_spec_elected_seats(
    spec: *const cpchain_chain_spec,
    out: *mut u32,
) -> cpchain_result {
    // SAFETY: forwarded from this function's contract.
    unsafe { get(spec, out, |s| s.elected_seats) }
}

/// Of the elected seats, how many come from the low-RPT half.
///
/// # Safety
///
/// `spec` must be a live handle; `out` must point to a writable `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_spec_low_rpt_seats(
    spec: *const cpchain_chain_spec,
    out: *mut u32,
) -> cpchain_result {
    // SAFETY: forwarded from this function's contract.
    unsafe { get(spec, out, |s| s.low_rpt_seats) }
}

/// How many terms ahead of the checkpoint an elected committee serves.
///
/// # Safety
///
/// `spec` must be a live handle; `out` must point to a writable `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_spec_election_lead_terms(
    spec: *const cpchain_chain_spec,
    out: *mut u64,
) -> cpchain_result {
    // SAFETY: forwarded from this function's contract.
    unsafe { get(spec, out, |s| s.election_lead_terms) }
}

/// Leading zero bits required of the CPU admission proof.
///
/// # Safety
///
/// `spec` must be a live handle; `out` must point to a writable `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_spec_admission_cpu_difficulty(
    spec: *const cpchain_chain_spec,
    out: *mut u32,
) -> cpchain_result {
    // SAFETY: forwarded from this function's contract.
    unsafe { get(spec, out, |s| s.admission_cpu_difficulty) }
}

/// Leading zero bits required of the memory admission proof.
///
/// # Safety
///
/// `spec` must be a live handle; `out` must point to a writable `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_spec_admission_memory_difficulty(
    spec: *const cpchain_chain_spec,
    out: *mut u32,
) -> cpchain_result {
    // SAFETY: forwarded from this function's contract.
    unsafe { get(spec, out, |s| s.admission_memory_difficulty) }
}

/// Oldest block, in blocks behind the head, an admission proof may be over.
///
/// # Safety
///
/// `spec` must be a live handle; `out` must point to a writable `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_spec_admission_max_block_age(
    spec: *const cpchain_chain_spec,
    out: *mut u64,
) -> cpchain_result {
    // SAFETY: forwarded from this function's contract.
    unsafe { get(spec, out, |s| s.admission_max_block_age) }
}

/// Most terms one campaign may cover.
///
/// # Safety
///
/// `spec` must be a live handle; `out` must point to a writable `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_spec_max_campaign_terms(
    spec: *const cpchain_chain_spec,
    out: *mut u32,
) -> cpchain_result {
    // SAFETY: forwarded from this function's contract.
    unsafe { get(spec, out, |s| s.max_campaign_terms) }
}

/// Free transactions an ordinary address may send per day.
///
/// # Safety
///
/// `spec` must be a live handle; `out` must point to a writable `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_spec_free_tx_per_day(
    spec: *const cpchain_chain_spec,
    out: *mut u32,
) -> cpchain_result {
    // SAFETY: forwarded from this function's contract.
    unsafe { get(spec, out, |s| s.free_tx_per_day) }
}
