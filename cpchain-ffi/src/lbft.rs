//! LBFT light verification (white paper §2.4.2 step 6, the "users"): a node that is not a
//! validator imports a block only from a VALIDATE message that extends its known parent,
//! carries a proposer seal matching the schedule (or is exactly the deterministic impeach
//! block), and holds a quorum of distinct valid COMMIT signatures from the committee.
//!
//! The chain of trust is the header: start from `cpchain_lbft_genesis_header`, verify each
//! VALIDATE against the current parent with `cpchain_lbft_verify_validate`, and take the
//! next parent from it with `cpchain_lbft_validate_header`. Headers cross as their wire
//! encoding (at most `CPCHAIN_LBFT_HEADER_MAX_LEN` bytes). On a chain whose proposers come
//! from DPoR, `cpchain_lbft_verify_validate_dpor` takes the `cpchain_dpor_schedule` (read
//! for the call) instead of a fixed rotation. A VALIDATE is accepted both bare
//! (tag 0x0201) and inside the validators' message envelope (tag 0x0200), as it arrives from
//! the network. Each call may use temporary heap memory, freed before it returns.
//!
//! # The validator handle
//!
//! `cpchain_lbft_validator` wraps the sans-IO `Validator` with a proposer schedule: a fixed
//! rotation (`cpchain_lbft_validator_new` / `_restore`) or a copy of a DPoR schedule
//! (`cpchain_lbft_validator_new_dpor` / `_restore_dpor`, refreshed with
//! `cpchain_lbft_validator_set_schedule` after each election). Feed it peer bytes (`_handle_bytes`), timer expiries (`_handle_timeout`), verdicts on
//! proposals (`_block_checked`) and, when scheduled, a proposal (`_propose`); then `_poll`
//! until `CPCHAIN_RESULT_NO_OUTPUT`, acting on each output's kind in order (persist before
//! sending). It is a mutable handle: single-threaded and poisoned by a caught panic.
//!
//! # Schedules are copied, never shared
//!
//! A validator takes a *copy* of the `cpchain_dpor_schedule` it is given: the schedule
//! handle stays the caller's (free it whenever), and the validator never reads C memory
//! after the call returns, so there is no lifetime to get wrong and no lock shared between
//! two handles. The price is that an election is installed twice: in the host's schedule
//! (`cpchain_dpor_schedule_elect_at` at the checkpoint's `COMMIT`), then in each validator
//! with `cpchain_lbft_validator_set_schedule`, before the first height of the term it
//! serves (the election lead gives the host `election_lead_terms` terms to do so). A
//! validator whose copy lacks the committee of its height knows no proposer there and
//! can only certify the impeach block.
//!
//! # Fault evidence
//!
//! A `FAULT` output's bytes are an encoded evidence message (tag `0x0208`, versioned like
//! every wire message) for vote, proposer and leader equivocation and for an illicit
//! block; `cpchain_lbft_verify_evidence` lets anyone with the committee check them and
//! names the offender. A bad seal has no bytes: a seal that does not recover to the
//! header's proposer proves nothing about anyone, and `info.peer` names only the deliverer.

use crate::boundary::{ffi_boundary, handle, input, input_items, OutBuf, OutPtr};
use crate::CPCHAIN_PUBLIC_KEY_COMPRESSED_LEN;
use crate::{cpchain_chain_spec, cpchain_result, FfiResult, CPCHAIN_ADDRESS_LEN};
#[cfg(not(feature = "std"))]
use alloc::{boxed::Box, vec::Vec};
use cpchain_consensus::dpor;
use cpchain_consensus::evidence::{self, EvidenceError, IllicitReason, OffenceKind};
use cpchain_consensus::lbft::{
    verify_validate, BlockError, CertificateError, ConfigError, FixedSchedule, Header,
    ImpeachQuorum, LightError, Message, ProposerSchedule, Validate, ValidatorSet,
};
use cpchain_core::encoding::{self, peek_tag, WireMessage};
use cpchain_core::Height;
use cpchain_core::{Address, Timestamp};
use cpchain_crypto::PublicKey;

/// Largest encoded LBFT block header.
pub const CPCHAIN_LBFT_HEADER_MAX_LEN: usize = 160;

const _: () = assert!(<Header as WireMessage>::MAX_ENCODED_LEN == CPCHAIN_LBFT_HEADER_MAX_LEN);

/// The size of an impeach certificate; must match the validators' configuration.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum cpchain_impeach_quorum {
    /// `2f + 1` (the SDK's default): Byzantine-safe.
    TwoFPlusOne = 0,
    /// `f + 1`, as in the white paper and on mainnet: safe against crash faults only.
    FPlusOne = 1,
}

impl From<BlockError> for cpchain_result {
    fn from(e: BlockError) -> Self {
        use cpchain_result as R;
        match e {
            BlockError::WrongChain => R::LbftWrongChain,
            BlockError::WrongHeight => R::LbftWrongHeight,
            BlockError::WrongParent => R::LbftWrongParent,
            BlockError::WrongProposer => R::LbftWrongProposer,
            BlockError::BadSeal => R::LbftBadSeal,
            BlockError::Timestamp => R::LbftTimestamp,
            BlockError::ZeroCoinbase => R::LbftZeroCoinbase,
            BlockError::NotTheImpeachBlock => R::LbftNotTheImpeachBlock,
            BlockError::TxRoot => R::LbftTxRoot,
            BlockError::TooLarge => R::LbftBlockTooLarge,
            BlockError::Content => R::LbftContent,
            _ => R::LbftOther,
        }
    }
}

impl From<CertificateError> for cpchain_result {
    fn from(e: CertificateError) -> Self {
        use cpchain_result as R;
        match e {
            CertificateError::NotDistinct => R::LbftCertNotDistinct,
            CertificateError::NotMember => R::LbftCertNotMember,
            CertificateError::BadSignature => R::LbftCertBadSignature,
            CertificateError::NoQuorum { .. } => R::LbftCertNoQuorum,
            CertificateError::Mismatch => R::LbftCertMismatch,
            _ => R::LbftOther,
        }
    }
}

impl From<LightError> for cpchain_result {
    fn from(e: LightError) -> Self {
        match e {
            LightError::Block(b) => b.into(),
            LightError::Certificate(c) => c.into(),
            _ => cpchain_result::LbftOther,
        }
    }
}

impl From<ConfigError> for cpchain_result {
    fn from(e: ConfigError) -> Self {
        match e {
            ConfigError::Spec(s) => s.into(),
            ConfigError::ValidatorCount { .. } => cpchain_result::LbftValidatorCount,
            ConfigError::NotAValidator => cpchain_result::LbftNotAValidator,
            ConfigError::PersistedMismatch => cpchain_result::LbftPersistedMismatch,
            ConfigError::BadHead(r) => r.into(),
            ConfigError::DuplicateValidator | ConfigError::TooManyValidators => {
                cpchain_result::LbftValidatorSet
            }
            _ => cpchain_result::LbftOther,
        }
    }
}

/// Decode a VALIDATE, bare or in the message envelope.
fn decode_validate(bytes: &[u8]) -> FfiResult<Validate> {
    if peek_tag(bytes)? == <Message as WireMessage>::TAG {
        match encoding::decode::<Message>(bytes)? {
            Message::Validate(v) => Ok(v),
            _ => Err(cpchain_result::DecodeWrongTag),
        }
    } else {
        Ok(encoding::decode::<Validate>(bytes)?)
    }
}

/// The genesis header of the chain `spec` describes, at `timestamp_ms`: the first parent a
/// light client verifies against. Encoded into `buf`; `*out_len` as usual.
///
/// # Safety
///
/// `spec` a live handle; `buf` writable for `buf_len` bytes; `out_len` a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_lbft_genesis_header(
    spec: *const cpchain_chain_spec,
    timestamp_ms: u64,
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
        let header = Header::genesis(&spec.spec, Timestamp(timestamp_ms));
        out.write(&encoding::encode_to_vec(&header)?, Some(&out_len))
    }
}

/// The header of the block a VALIDATE carries, encoded: the next parent once the VALIDATE
/// has verified. Does not verify anything.
///
/// # Safety
///
/// `validate` readable for `validate_len` bytes; `buf` writable for `buf_len`; `out_len` a
/// writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_lbft_validate_header(
    validate: *const u8,
    validate_len: usize,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out_len = unsafe { OutPtr::new(out_len) }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutBuf::new(buf, buf_len) }?;
        // SAFETY: forwarded from this function's contract.
        let bytes = unsafe { input(validate, validate_len) }?;
        let v = decode_validate(bytes)?;
        out.write(&encoding::encode_to_vec(&v.block.header)?, Some(&out_len))
    }
}

/// Verify a VALIDATE message (bare or enveloped) against the encoded `parent` header:
/// `validators` is the committee as `n_validators` compressed public keys of 33 bytes back
/// to back (the spec's `3f + 1`); `proposers` the proposer rotation as `n_proposers`
/// addresses of 20 bytes back to back (height h is sealed by `proposers[(h - 1) mod m]`).
/// On success the block is final and `*signatures` is the number of signatures checked.
///
/// Refusals: `CPCHAIN_RESULT_LBFT_*` for a block or certificate that does not hold
/// (for example `..._CERT_NO_QUORUM`, `..._WRONG_PARENT`, `..._BAD_SEAL`),
/// `CPCHAIN_RESULT_DECODE_*` for undecodable bytes, `..._LBFT_VALIDATOR_COUNT` /
/// `..._LBFT_VALIDATOR_SET` / `CPCHAIN_RESULT_INVALID_PUBLIC_KEY` for a bad committee.
///
/// # Safety
///
/// `spec` a live handle; every (pointer, length) readable; `signatures` a writable
/// `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_lbft_verify_validate(
    spec: *const cpchain_chain_spec,
    validators: *const u8,
    n_validators: usize,
    proposers: *const u8,
    n_proposers: usize,
    impeach_quorum: u32,
    parent: *const u8,
    parent_len: usize,
    validate: *const u8,
    validate_len: usize,
    signatures: *mut usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let spec = unsafe { handle(spec) }?;
        // SAFETY: forwarded from this function's contract.
        let signatures = unsafe { OutPtr::new(signatures) }?;
        let quorum = impeach_quorum_of(impeach_quorum)?;
        // SAFETY: forwarded from this function's contract.
        let (set, schedule) =
            unsafe { committee(&spec.spec, validators, n_validators, proposers, n_proposers) }?;
        // SAFETY: forwarded from this function's contract.
        let parent = unsafe { input(parent, parent_len) }?;
        let parent: Header = encoding::decode(parent)?;
        // SAFETY: forwarded from this function's contract.
        let bytes = unsafe { input(validate, validate_len) }?;
        let v = decode_validate(bytes)?;
        let n = verify_validate(&spec.spec, &set, quorum, &schedule, &v, &parent)?;
        signatures.set(n);
        Ok(())
    }
}

/// `cpchain_lbft_verify_validate` for a chain whose proposers come from a DPoR schedule:
/// the seal must be that of `schedule`'s proposer of the block's height (default proposers,
/// or the elected committee of its term; a term whose committee is not installed admits
/// only the impeach block). The schedule is read for the call, not kept; it must have been
/// made from `spec` (`CPCHAIN_RESULT_LBFT_SCHEDULE_MISMATCH` otherwise). Refusals as
/// `cpchain_lbft_verify_validate`.
///
/// # Safety
///
/// `spec` and `schedule` live handles (`schedule` not in use by another thread); every
/// (pointer, length) readable; `signatures` a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_lbft_verify_validate_dpor(
    spec: *const cpchain_chain_spec,
    validators: *const u8,
    n_validators: usize,
    schedule: *const crate::cpchain_dpor_schedule,
    impeach_quorum: u32,
    parent: *const u8,
    parent_len: usize,
    validate: *const u8,
    validate_len: usize,
    signatures: *mut usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let spec = unsafe { handle(spec) }?;
        // SAFETY: forwarded from this function's contract.
        let signatures = unsafe { OutPtr::new(signatures) }?;
        let quorum = impeach_quorum_of(impeach_quorum)?;
        // SAFETY: forwarded from this function's contract.
        let set = unsafe { validator_set(&spec.spec, validators, n_validators) }?;
        // SAFETY: forwarded from this function's contract.
        let parent: Header = encoding::decode(unsafe { input(parent, parent_len) }?)?;
        // SAFETY: forwarded from this function's contract.
        let v = decode_validate(unsafe { input(validate, validate_len) }?)?;
        // SAFETY: forwarded from this function's contract.
        let n = unsafe {
            crate::dpor::with_schedule(schedule, &spec.spec, |s| {
                Ok(verify_validate(&spec.spec, &set, quorum, s, &v, &parent)?)
            })
        }?;
        signatures.set(n);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// The validator handle.
// ---------------------------------------------------------------------------------------

use crate::boundary::{ffi_boundary_void, write_deadline, Driven, Exclusive, PolledBytes};
use crate::{cpchain_bytes, cpchain_dpor_schedule, cpchain_secret_key};
use cpchain_consensus::lbft::{
    Config, Fault, Persisted, ProposeError, Rejected, Validator, ValidatorOutput, Verdict,
};
use cpchain_core::Hash;

/// What `cpchain_lbft_validator_poll` wrote, in the order the host must act on it.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum cpchain_lbft_output_kind {
    /// Nothing (with `CPCHAIN_RESULT_NO_OUTPUT` or an error).
    None = 0,
    /// Send the message bytes to every validator (a VALIDATE also to every node).
    Broadcast = 1,
    /// Send the message bytes to the one validator `info.peer`.
    Send = 2,
    /// Write the bytes durably before acting on any later output; after a crash, re-create
    /// the validator from the last ones with `cpchain_lbft_validator_restore`.
    Persist = 3,
    /// Judge the transactions of the encoded block `info.block_id` at `info.height` and
    /// answer with `cpchain_lbft_validator_block_checked`.
    CheckBlock = 4,
    /// The block is final: the bytes are its VALIDATE (block and C-certificate), which
    /// light clients verify with `cpchain_lbft_verify_validate`.
    Commit = 5,
    /// A peer misbehaved: `info.fault` says how and `info.peer` who (for a bad seal, the
    /// deliverer). The bytes are the encoded evidence (at most
    /// `CPCHAIN_LBFT_EVIDENCE_MAX_LEN`), which `cpchain_lbft_verify_evidence` checks;
    /// none (length 0) for a bad seal, which proves nothing about anyone.
    Fault = 6,
}

/// Kinds of misbehaviour a validator reports.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum cpchain_lbft_fault {
    /// Not a fault output.
    None = 0,
    /// Two signed votes of one phase for different blocks in one round.
    Equivocation = 1,
    /// Two different proposals sealed by one proposer at one height.
    ProposerEquivocation = 2,
    /// Two different leader proposals in one round.
    LeaderEquivocation = 3,
    /// A proposal whose seal does not verify (`peer` delivered it).
    BadSeal = 4,
    /// A correctly sealed but illicit proposal.
    IllicitBlock = 5,
}

/// Facts about a polled output beside its bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct cpchain_lbft_output_info {
    /// For `SEND`, the recipient; for `FAULT`, the offender when known; zero otherwise.
    pub peer: [u8; 20],
    /// For `CHECK_BLOCK` and `COMMIT`, the block's height.
    pub height: u64,
    /// For `CHECK_BLOCK` and `COMMIT`, the block id (pass it to `block_checked`).
    pub block_id: [u8; 32],
    /// For `FAULT`, its kind.
    pub fault: cpchain_lbft_fault,
}

const NO_INFO: cpchain_lbft_output_info = cpchain_lbft_output_info {
    peer: [0; 20],
    height: 0,
    block_id: [0; 32],
    fault: cpchain_lbft_fault::None,
};

struct Polled {
    kind: cpchain_lbft_output_kind,
    bytes: Vec<u8>,
    info: cpchain_lbft_output_info,
}

/// The proposer schedule a C validator follows: a fixed rotation, or the validator's own
/// copy of a DPoR schedule (see the module docs: copied, never shared).
#[derive(Debug, Clone)]
enum HostSchedule {
    /// `proposers[(h - 1) mod m]`.
    Fixed(FixedSchedule),
    /// Default proposers and elected committees per term (boxed: the spec it holds makes
    /// it ten times a rotation's size).
    Dpor(Box<dpor::Schedule>),
}

impl ProposerSchedule for HostSchedule {
    fn proposer_of(&self, height: Height) -> Option<Address> {
        match self {
            HostSchedule::Fixed(s) => s.proposer_of(height),
            HostSchedule::Dpor(s) => ProposerSchedule::proposer_of(&**s, height),
        }
    }
}

impl PolledBytes for Polled {
    fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// The validator and its pending output: the boundary's one pending-output wrapper.
type ValidatorState = Driven<Validator<HostSchedule>, Polled>;

/// An LBFT validator (§2.4.2): a mutable, single-threaded handle; see the crate docs.
/// Make it with `cpchain_lbft_validator_new`, release it with `cpchain_lbft_validator_free`.
pub struct cpchain_lbft_validator {
    inner: Exclusive<ValidatorState>,
}

impl From<Rejected> for cpchain_result {
    fn from(e: Rejected) -> Self {
        use cpchain_result as R;
        match e {
            Rejected::Decode(d) => d.into(),
            Rejected::WrongChain => R::LbftWrongChain,
            Rejected::StaleHeight => R::LbftStaleHeight,
            Rejected::TooFarAhead => R::LbftTooFarAhead,
            Rejected::BufferFull => R::LbftBufferFull,
            Rejected::StaleRound => R::LbftStaleRound,
            Rejected::NotMember => R::LbftNotMember,
            Rejected::BadSignature => R::LbftBadVoteSignature,
            Rejected::KindMismatch => R::LbftKindMismatch,
            Rejected::Duplicate => R::LbftDuplicate,
            Rejected::Equivocation => R::LbftEquivocation,
            Rejected::Block(b) => b.into(),
            Rejected::Certificate(c) => c.into(),
            Rejected::ConflictingProposal => R::LbftConflictingProposal,
            Rejected::TooManyBlocks => R::LbftTooManyBlocks,
            Rejected::Unexpected => R::LbftUnexpected,
            _ => R::LbftOther,
        }
    }
}

impl From<ProposeError> for cpchain_result {
    fn from(e: ProposeError) -> Self {
        use cpchain_result as R;
        match e {
            ProposeError::NotScheduled => R::LbftNotScheduled,
            ProposeError::AlreadyProposed => R::LbftAlreadyProposed,
            ProposeError::WindowClosed => R::LbftWindowClosed,
            ProposeError::TooLarge => R::LbftBlockTooLarge,
            _ => R::LbftOther,
        }
    }
}

/// Build the committee and a fixed schedule from C arrays.
///
/// # Safety
///
/// As `cpchain_lbft_verify_validate` for these arguments.
unsafe fn committee(
    spec: &cpchain_core::ChainSpec,
    validators: *const u8,
    n_validators: usize,
    proposers: *const u8,
    n_proposers: usize,
) -> FfiResult<(ValidatorSet, HostSchedule)> {
    // The proposers are read first: a NULL list is refused before any key is parsed.
    // SAFETY: forwarded from this function's contract.
    let props = unsafe { input_items(proposers.cast::<[u8; CPCHAIN_ADDRESS_LEN]>(), n_proposers) }?;
    // SAFETY: forwarded from this function's contract.
    let set = unsafe { validator_set(spec, validators, n_validators) }?;
    Ok((
        set,
        HostSchedule::Fixed(FixedSchedule::new(
            props.iter().map(|a| Address(*a)).collect(),
        )),
    ))
}

/// The committee from `n_validators` 33-byte compressed keys, back to back: the spec's
/// `3f + 1`, distinct.
///
/// # Safety
///
/// `validators` readable for `n_validators * 33` bytes (NULL when 0).
unsafe fn validator_set(
    spec: &cpchain_core::ChainSpec,
    validators: *const u8,
    n_validators: usize,
) -> FfiResult<ValidatorSet> {
    // SAFETY: forwarded from this function's contract.
    let keys = unsafe {
        input_items(
            validators.cast::<[u8; CPCHAIN_PUBLIC_KEY_COMPRESSED_LEN]>(),
            n_validators,
        )
    }?;
    let expected = usize::try_from(spec.validators()).unwrap_or(usize::MAX);
    if keys.len() != expected {
        return Err(cpchain_result::LbftValidatorCount);
    }
    let keys: Vec<PublicKey> = keys
        .iter()
        .map(|k| {
            // SAFETY: a 33-byte array of ours, read for its length.
            unsafe { crate::keys::public_key(k.as_ptr(), k.len()) }
        })
        .collect::<FfiResult<_>>()?;
    Ok(ValidatorSet::new(&keys)?)
}

/// Make a validator for the height after `parent` (an encoded header: genesis, or the
/// host's chain head), at `now_ms`. `key` is this validator's identity (copied: the key
/// handle may be freed afterwards) and must be in `validators` (33-byte compressed keys, the
/// spec's `3f + 1`); `proposers` is the rotation of 20-byte addresses; `impeach_quorum` a
/// `cpchain_impeach_quorum`. The first poll yields a `PERSIST`. `*out` is NULL on any error.
///
/// # Safety
///
/// `spec` and `key` live handles; every (pointer, length) readable; `out` a writable
/// pointer.
#[no_mangle]
pub unsafe extern "C" fn cpchain_lbft_validator_new(
    spec: *const cpchain_chain_spec,
    key: *const cpchain_secret_key,
    validators: *const u8,
    n_validators: usize,
    proposers: *const u8,
    n_proposers: usize,
    impeach_quorum: u32,
    parent: *const u8,
    parent_len: usize,
    now_ms: u64,
    out: *mut *mut cpchain_lbft_validator,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutPtr::new(out) }?;
        out.set(core::ptr::null_mut());
        // SAFETY: forwarded from this function's contract.
        let spec = unsafe { handle(spec) }?;
        // SAFETY: forwarded from this function's contract.
        let key = unsafe { handle(key) }?.key.clone();
        let quorum = impeach_quorum_of(impeach_quorum)?;
        // SAFETY: forwarded from this function's contract.
        let (set, schedule) =
            unsafe { committee(&spec.spec, validators, n_validators, proposers, n_proposers) }?;
        // SAFETY: forwarded from this function's contract.
        let parent: Header = encoding::decode(unsafe { input(parent, parent_len) }?)?;
        let mut cfg = Config::new(spec.spec.clone(), set, key);
        cfg.impeach_quorum = quorum;
        let validator = Validator::new(cfg, schedule, parent, Timestamp(now_ms))?;
        out.set(boxed_validator(validator));
        Ok(())
    }
}

fn impeach_quorum_of(code: u32) -> FfiResult<ImpeachQuorum> {
    match code {
        0 => Ok(ImpeachQuorum::TwoFPlusOne),
        1 => Ok(ImpeachQuorum::FPlusOne),
        _ => Err(cpchain_result::InvalidParameter),
    }
}

fn boxed_validator(validator: Validator<HostSchedule>) -> *mut cpchain_lbft_validator {
    Box::into_raw(Box::new(cpchain_lbft_validator {
        inner: Exclusive::new(Driven::new(validator)),
    }))
}

/// Largest encoded persisted validator record (a `PERSIST` output): a buffer of this size
/// always holds one (a real record is far smaller: it holds at most the locked block and
/// the block the validator prepared; ask `cpchain_lbft_validator_poll` with a NULL buffer
/// for the exact size).
pub const CPCHAIN_LBFT_PERSISTED_MAX_LEN: usize = 2_841_664;

const _: () =
    assert!(<Persisted as WireMessage>::MAX_ENCODED_LEN == CPCHAIN_LBFT_PERSISTED_MAX_LEN);

/// Re-create a validator after a crash from the bytes of its last `PERSIST` output (the
/// host wrote them durably before acting on any later output). The arguments are those of
/// `cpchain_lbft_validator_new` with the same key, committee and rotation; the height,
/// round, own votes and lock come from `persisted`. The restored validator never signs
/// anything that conflicts with what it signed before the crash: its first polls
/// re-broadcast its votes of the current round and a round change, so peers catch it up.
///
/// If the host's chain head is past the persisted parent (it crashed after acting on a
/// `COMMIT` but before the next `PERSIST`), make a fresh validator at the head with
/// `cpchain_lbft_validator_new` instead: nothing was signed at the new height yet. Either
/// way, hand it the head's VALIDATE with `cpchain_lbft_validator_remember`.
///
/// Refusals: `CPCHAIN_RESULT_DECODE_*` for bytes that are not a persisted record (truncated,
/// garbage, another message), `CPCHAIN_RESULT_LBFT_PERSISTED_MISMATCH` for a record of
/// another chain or another validator, and the constructor's committee errors. `*out` is
/// NULL on any error.
///
/// # Safety
///
/// `spec` and `key` live handles; every (pointer, length) readable; `out` a writable
/// pointer.
#[no_mangle]
pub unsafe extern "C" fn cpchain_lbft_validator_restore(
    spec: *const cpchain_chain_spec,
    key: *const cpchain_secret_key,
    validators: *const u8,
    n_validators: usize,
    proposers: *const u8,
    n_proposers: usize,
    impeach_quorum: u32,
    persisted: *const u8,
    persisted_len: usize,
    out: *mut *mut cpchain_lbft_validator,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutPtr::new(out) }?;
        out.set(core::ptr::null_mut());
        // SAFETY: forwarded from this function's contract.
        let spec = unsafe { handle(spec) }?;
        // SAFETY: forwarded from this function's contract.
        let key = unsafe { handle(key) }?.key.clone();
        let quorum = impeach_quorum_of(impeach_quorum)?;
        // SAFETY: forwarded from this function's contract.
        let (set, schedule) =
            unsafe { committee(&spec.spec, validators, n_validators, proposers, n_proposers) }?;
        // SAFETY: forwarded from this function's contract.
        let record: Persisted = encoding::decode(unsafe { input(persisted, persisted_len) }?)?;
        let mut cfg = Config::new(spec.spec.clone(), set, key);
        cfg.impeach_quorum = quorum;
        // The record-at-the-head case of `Validator::restart` (the C host gives the head's
        // VALIDATE afterwards with `_remember`); `now` is unused on that path.
        let head = record.parent.clone();
        let since = record.round_start;
        let validator = Validator::restart(cfg, schedule, Some(record), head, [], since)?;
        out.set(boxed_validator(validator));
        Ok(())
    }
}

/// `cpchain_lbft_validator_new` with a DPoR proposer schedule instead of a fixed
/// rotation: the validator takes a copy of `schedule` as it is now (default proposers and
/// the committees installed so far); the schedule handle stays the caller's and may be
/// freed at once. Install each later election with `cpchain_lbft_validator_set_schedule`
/// (see the module docs). `schedule` must have been made from the same chain spec as
/// `spec` (`CPCHAIN_RESULT_LBFT_SCHEDULE_MISMATCH` otherwise). `*out` is NULL on any error.
///
/// # Safety
///
/// `spec`, `key` and `schedule` live handles (`schedule` not in use by another thread);
/// every (pointer, length) readable; `out` a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn cpchain_lbft_validator_new_dpor(
    spec: *const cpchain_chain_spec,
    key: *const cpchain_secret_key,
    validators: *const u8,
    n_validators: usize,
    schedule: *const cpchain_dpor_schedule,
    impeach_quorum: u32,
    parent: *const u8,
    parent_len: usize,
    now_ms: u64,
    out: *mut *mut cpchain_lbft_validator,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutPtr::new(out) }?;
        out.set(core::ptr::null_mut());
        // SAFETY: forwarded from this function's contract.
        let spec = unsafe { handle(spec) }?;
        // SAFETY: forwarded from this function's contract.
        let key = unsafe { handle(key) }?.key.clone();
        let quorum = impeach_quorum_of(impeach_quorum)?;
        // SAFETY: forwarded from this function's contract.
        let set = unsafe { validator_set(&spec.spec, validators, n_validators) }?;
        // SAFETY: forwarded from this function's contract.
        let schedule = unsafe { crate::dpor::schedule_copy(schedule, &spec.spec) }?;
        // SAFETY: forwarded from this function's contract.
        let parent: Header = encoding::decode(unsafe { input(parent, parent_len) }?)?;
        let mut cfg = Config::new(spec.spec.clone(), set, key);
        cfg.impeach_quorum = quorum;
        let validator =
            Validator::new(cfg, HostSchedule::Dpor(Box::new(schedule)), parent, Timestamp(now_ms))?;
        out.set(boxed_validator(validator));
        Ok(())
    }
}

/// `cpchain_lbft_validator_restore` with a DPoR proposer schedule (copied, as in
/// `cpchain_lbft_validator_new_dpor`). The persisted record does not hold the schedule:
/// pass the host's schedule with every election up to the restart installed.
///
/// # Safety
///
/// As `cpchain_lbft_validator_new_dpor`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_lbft_validator_restore_dpor(
    spec: *const cpchain_chain_spec,
    key: *const cpchain_secret_key,
    validators: *const u8,
    n_validators: usize,
    schedule: *const cpchain_dpor_schedule,
    impeach_quorum: u32,
    persisted: *const u8,
    persisted_len: usize,
    out: *mut *mut cpchain_lbft_validator,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutPtr::new(out) }?;
        out.set(core::ptr::null_mut());
        // SAFETY: forwarded from this function's contract.
        let spec = unsafe { handle(spec) }?;
        // SAFETY: forwarded from this function's contract.
        let key = unsafe { handle(key) }?.key.clone();
        let quorum = impeach_quorum_of(impeach_quorum)?;
        // SAFETY: forwarded from this function's contract.
        let set = unsafe { validator_set(&spec.spec, validators, n_validators) }?;
        // SAFETY: forwarded from this function's contract.
        let schedule = unsafe { crate::dpor::schedule_copy(schedule, &spec.spec) }?;
        // SAFETY: forwarded from this function's contract.
        let record: Persisted = encoding::decode(unsafe { input(persisted, persisted_len) }?)?;
        let mut cfg = Config::new(spec.spec.clone(), set, key);
        cfg.impeach_quorum = quorum;
        // As `cpchain_lbft_validator_restore`: the record-at-the-head case of
        // `Validator::restart` (`now` is unused on that path).
        let head = record.parent.clone();
        let since = record.round_start;
        let schedule = HostSchedule::Dpor(Box::new(schedule));
        let validator = Validator::restart(cfg, schedule, Some(record), head, [], since)?;
        out.set(boxed_validator(validator));
        Ok(())
    }
}

/// Replace the validator's proposer schedule with a fresh copy of `schedule`: call it after
/// every election installed in the host's schedule (at the latest before the first height
/// of the term it serves). A validator made with a fixed rotation switches to the DPoR
/// schedule. `CPCHAIN_RESULT_LBFT_SCHEDULE_MISMATCH` for a schedule of another chain spec;
/// the validator is unchanged on any error.
///
/// # Safety
///
/// `v` and `schedule` live handles, neither in use by another thread.
#[no_mangle]
pub unsafe extern "C" fn cpchain_lbft_validator_set_schedule(
    v: *mut cpchain_lbft_validator,
    schedule: *const cpchain_dpor_schedule,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let v = unsafe { validator_ref(v) }?;
        let mut g = v.inner.lock()?;
        // SAFETY: forwarded from this function's contract.
        let copy = unsafe { crate::dpor::schedule_copy(schedule, &g.machine.config().spec) }?;
        *g.machine.schedule_mut() = HostSchedule::Dpor(Box::new(copy));
        Ok(())
    }
}

/// Give a (restored or fresh) validator a VALIDATE (bare or enveloped) from the host's
/// chain, so it can hand decided blocks to lagging peers: first the chain head's, then
/// older ones, newest first. Checked like a message: it must link to the head (or to the
/// oldest VALIDATE already given) and carry a quorum certificate. Refusals:
/// `CPCHAIN_RESULT_LBFT_DUPLICATE` (already held), `..._STALE_HEIGHT` (as many held as the
/// validator keeps), `..._WRONG_PARENT`, `..._CERT_*`, `CPCHAIN_RESULT_DECODE_*`; the
/// validator is unchanged on any refusal.
///
/// # Safety
///
/// `v` a live handle; `validate` readable for `validate_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn cpchain_lbft_validator_remember(
    v: *mut cpchain_lbft_validator,
    validate: *const u8,
    validate_len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let v = unsafe { validator_ref(v) }?;
        // SAFETY: forwarded from this function's contract.
        let bytes = unsafe { input(validate, validate_len) }?;
        let validate = decode_validate(bytes)?;
        v.inner.lock()?.machine.remember(validate)?;
        Ok(())
    }
}

/// Where the validator stands: the height it is deciding and its round there (for logs,
/// and to check a restore).
///
/// # Safety
///
/// `v` a live handle; `height` and `round` writable.
#[no_mangle]
pub unsafe extern "C" fn cpchain_lbft_validator_position(
    v: *const cpchain_lbft_validator,
    height: *mut u64,
    round: *mut u32,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let v = unsafe { validator_ref(v) }?;
        // SAFETY: forwarded from this function's contract.
        let height = unsafe { OutPtr::new(height) }?;
        // SAFETY: forwarded from this function's contract.
        let round = unsafe { OutPtr::new(round) }?;
        let g = v.inner.lock()?;
        height.set(g.machine.height().0);
        round.set(g.machine.round());
        Ok(())
    }
}

/// Release a validator. NULL is fine; a poisoned one is freed like any other.
///
/// # Safety
///
/// `v` NULL or a live handle not freed before, used by no other thread now or afterwards.
#[no_mangle]
pub unsafe extern "C" fn cpchain_lbft_validator_free(v: *mut cpchain_lbft_validator) {
    ffi_boundary_void! {
        if !v.is_null() {
            // SAFETY: a non-NULL handle came from Box::into_raw in `_new` and is freed once.
            drop(unsafe { Box::from_raw(v) });
        }
    }
}

/// Borrow a validator handle.
///
/// # Safety
///
/// `v` a live handle.
unsafe fn validator_ref<'a>(
    v: *const cpchain_lbft_validator,
) -> FfiResult<&'a cpchain_lbft_validator> {
    // SAFETY: forwarded from this function's contract.
    unsafe { handle(v) }
}

/// What the validator made of a peer's message: whether to relay it and whether to blame
/// the peer that delivered it (for a host that scores peers, as gossipsub does).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum cpchain_lbft_verdict_kind {
    /// Taken in (or buffered for its later height): relay it.
    Accept = 0,
    /// Dropped without blame (a duplicate, a stale or too-early message): do not relay,
    /// do not penalise.
    Ignore = 1,
    /// Dropped as invalid in itself (undecodable, badly signed, a bad seal): do not relay;
    /// the deliverer relayed what no honest node relays.
    Reject = 2,
}

/// The verdict on one message from `cpchain_lbft_validator_handle_bytes`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct cpchain_lbft_verdict {
    /// Accept, ignore or reject.
    pub kind: cpchain_lbft_verdict_kind,
    /// Why it was dropped (`CPCHAIN_RESULT_LBFT_*` or `CPCHAIN_RESULT_DECODE_*`, the codes
    /// the engine counts by); `CPCHAIN_RESULT_OK` when accepted.
    pub reason: cpchain_result,
}

fn verdict_of(v: &Verdict) -> cpchain_lbft_verdict {
    match v {
        Verdict::Accept => cpchain_lbft_verdict {
            kind: cpchain_lbft_verdict_kind::Accept,
            reason: cpchain_result::Ok,
        },
        Verdict::Ignore(why) => cpchain_lbft_verdict {
            kind: cpchain_lbft_verdict_kind::Ignore,
            reason: (*why).into(),
        },
        Verdict::Reject(why) => cpchain_lbft_verdict {
            kind: cpchain_lbft_verdict_kind::Reject,
            reason: (*why).into(),
        },
        // `Verdict` may grow: an unknown verdict is treated as a drop without blame.
        #[allow(unreachable_patterns)]
        _ => cpchain_lbft_verdict {
            kind: cpchain_lbft_verdict_kind::Ignore,
            reason: cpchain_result::LbftOther,
        },
    }
}

/// Feed message bytes received at `now_ms` from the transport peer `from` (20-byte
/// address; it names the peer to answer with catch-up and the deliverer of a bad seal:
/// messages authenticate themselves). A peer's bad message is not the caller's error
/// (issue 13, the SDK's machine contract): it returns `CPCHAIN_RESULT_OK`, is dropped and
/// counted by reason inside the engine, and leaves the state unchanged apart from counters
/// and `FAULT` outputs; poll afterwards either way. `*verdict` (when `verdict` is not
/// NULL) says whether the message was accepted, ignored or rejected and why, for a host
/// that scores its peers. Errors are the caller's own (a NULL or a wrong length, a busy or
/// poisoned handle); `*verdict` is not written then.
///
/// # Safety
///
/// `v` a live handle; `from` readable for `from_len` bytes, `bytes` for `len`; `verdict`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cpchain_lbft_validator_handle_bytes(
    v: *mut cpchain_lbft_validator,
    now_ms: u64,
    from: *const u8,
    from_len: usize,
    bytes: *const u8,
    len: usize,
    verdict: *mut cpchain_lbft_verdict,
) -> cpchain_result {
    ffi_boundary! {
        let verdict = if verdict.is_null() {
            None
        } else {
            // SAFETY: forwarded from this function's contract (non-NULL: writable).
            Some(unsafe { OutPtr::new(verdict) }?)
        };
        // SAFETY: forwarded from this function's contract.
        let v = unsafe { validator_ref(v) }?;
        // SAFETY: forwarded from this function's contract.
        let from = unsafe { crate::boundary::input_array::<CPCHAIN_ADDRESS_LEN>(from, from_len) }?;
        // SAFETY: forwarded from this function's contract.
        let bytes = unsafe { input(bytes, len) }?;
        let mut g = v.inner.lock()?;
        let judged = g.machine.handle_bytes(Timestamp(now_ms), Address(*from), bytes);
        if let Some(out) = verdict {
            out.set(verdict_of(&judged));
        }
        Ok(())
    }
}

/// The timer fired at `now_ms` (arm it at `cpchain_lbft_validator_next_deadline`).
///
/// # Safety
///
/// `v` a live handle.
#[no_mangle]
pub unsafe extern "C" fn cpchain_lbft_validator_handle_timeout(
    v: *mut cpchain_lbft_validator,
    now_ms: u64,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let v = unsafe { validator_ref(v) }?;
        v.inner.lock()?.machine.handle_timeout(Timestamp(now_ms));
        Ok(())
    }
}

/// The host's verdict on the block it was asked to judge (`CHECK_BLOCK`), by its 32-byte id.
/// An answer for another block is ignored.
///
/// # Safety
///
/// `v` a live handle; `block_id` readable for `id_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn cpchain_lbft_validator_block_checked(
    v: *mut cpchain_lbft_validator,
    now_ms: u64,
    block_id: *const u8,
    id_len: usize,
    valid: bool,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let v = unsafe { validator_ref(v) }?;
        // SAFETY: forwarded from this function's contract.
        let id = unsafe { crate::boundary::input_array::<32>(block_id, id_len) }?;
        v.inner
            .lock()?
            .machine
            .block_checked(Timestamp(now_ms), Hash(*id), valid);
        Ok(())
    }
}

/// Seal and broadcast a proposal of `n_txs` transactions (each a `cpchain_bytes`) when this
/// validator is the scheduled proposer of the current height; `*block_id` (32 bytes) is its
/// id. Refusals: `CPCHAIN_RESULT_LBFT_NOT_SCHEDULED`, `..._ALREADY_PROPOSED`,
/// `..._WINDOW_CLOSED`, `..._BLOCK_TOO_LARGE`.
///
/// # Safety
///
/// `v` a live handle; `txs` an array of `n_txs` readable `cpchain_bytes` (NULL when 0);
/// `block_id` writable for `id_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn cpchain_lbft_validator_propose(
    v: *mut cpchain_lbft_validator,
    now_ms: u64,
    txs: *const cpchain_bytes,
    n_txs: usize,
    block_id: *mut u8,
    id_len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let v = unsafe { validator_ref(v) }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutBuf::new(block_id, id_len) }?;
        if out.cap() < 32 {
            return Err(cpchain_result::InsufficientSize);
        }
        // SAFETY: forwarded from this function's contract.
        let items = unsafe { input_items(txs, n_txs) }?;
        let mut transactions = Vec::with_capacity(items.len());
        for t in items {
            // SAFETY: forwarded from this function's contract on each element.
            transactions.push(unsafe { input(t.ptr, t.len) }?.to_vec());
        }
        let id = v.inner.lock()?.machine.propose(Timestamp(now_ms), transactions)?;
        out.write_fixed(id.as_bytes())
    }
}

/// When to call `cpchain_lbft_validator_handle_timeout` next (`*has_deadline` false: no
/// timer needed).
///
/// # Safety
///
/// `v` a live handle; `has_deadline` and `deadline_ms` writable.
#[no_mangle]
pub unsafe extern "C" fn cpchain_lbft_validator_next_deadline(
    v: *const cpchain_lbft_validator,
    has_deadline: *mut bool,
    deadline_ms: *mut u64,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let v = unsafe { validator_ref(v) }?;
        let next = v.inner.lock()?.machine.next_deadline();
        // SAFETY: forwarded from this function's contract.
        unsafe { write_deadline(next, has_deadline, deadline_ms) }
    }
}

fn polled(output: ValidatorOutput) -> FfiResult<Polled> {
    use cpchain_lbft_output_kind as K;
    let mut info = NO_INFO;
    let (kind, bytes) = match output {
        ValidatorOutput::Broadcast(m) => (K::Broadcast, encoding::encode_to_vec(&m)?),
        ValidatorOutput::Send { to, msg } => {
            info.peer = to.0;
            (K::Send, encoding::encode_to_vec(&msg)?)
        }
        ValidatorOutput::Persist(p) => (K::Persist, encoding::encode_to_vec(&p)?),
        // The engine's transaction hashes are not passed across the C API (yet): a C
        // host hashes the body it decodes itself, as before.
        ValidatorOutput::CheckBlock { height, block, .. } => {
            info.height = height.0;
            info.block_id = block.id().0;
            (K::CheckBlock, encoding::encode_to_vec(&block)?)
        }
        ValidatorOutput::Commit { block, certificate } => {
            info.height = block.header.height.0;
            info.block_id = block.id().0;
            (
                K::Commit,
                encoding::encode_to_vec(&Validate { block, certificate })?,
            )
        }
        ValidatorOutput::Fault(f) => {
            let (fault, peer) = match &f {
                Fault::Equivocation { first, .. } => {
                    (cpchain_lbft_fault::Equivocation, first.voter)
                }
                Fault::ProposerEquivocation { first, .. } => {
                    (cpchain_lbft_fault::ProposerEquivocation, first.proposer)
                }
                Fault::LeaderEquivocation { first, .. } => {
                    (cpchain_lbft_fault::LeaderEquivocation, first.leader)
                }
                Fault::BadSeal { from, .. } => (cpchain_lbft_fault::BadSeal, *from),
                Fault::IllicitBlock { header, .. } => {
                    (cpchain_lbft_fault::IllicitBlock, header.proposer)
                }
                // `Fault` may grow; the C enum names every kind the engine has today.
                _ => return Err(cpchain_result::LbftOther),
            };
            info.fault = fault;
            info.peer = peer.0;
            let bytes = match evidence::Evidence::from_fault(&f) {
                Some(e) => encoding::encode_to_vec(&e)?,
                None => Vec::new(),
            };
            (K::Fault, bytes)
        }
        // `ValidatorOutput` may grow; every kind the engine has today is mapped above.
        _ => return Err(cpchain_result::LbftOther),
    };
    Ok(Polled { kind, bytes, info })
}

/// The next output, in order: bytes into `buf` (`*out_len` their length), `*kind` what to do
/// with them, `*info` the facts beside them. Returns `CPCHAIN_RESULT_NO_OUTPUT` when there is
/// none. A too-small buffer gets `CPCHAIN_RESULT_INSUFFICIENT_SIZE` with the size needed in
/// `*out_len`, and the same output comes again on the next poll (nothing is lost; a call
/// with `buf == NULL, buf_len == 0` asks for the size).
///
/// # Safety
///
/// `v` a live handle; `buf` writable for `buf_len` bytes; `out_len`, `kind`, `info`
/// writable.
#[no_mangle]
pub unsafe extern "C" fn cpchain_lbft_validator_poll(
    v: *mut cpchain_lbft_validator,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
    kind: *mut cpchain_lbft_output_kind,
    info: *mut cpchain_lbft_output_info,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let kind = unsafe { OutPtr::new(kind) }?;
        kind.set(cpchain_lbft_output_kind::None);
        // SAFETY: forwarded from this function's contract.
        let info = unsafe { OutPtr::new(info) }?;
        info.set(NO_INFO);
        // SAFETY: forwarded from this function's contract.
        let out_len = unsafe { OutPtr::new(out_len) }?;
        // SAFETY: forwarded from this function's contract.
        let v = unsafe { validator_ref(v) }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutBuf::new(buf, buf_len) }?;
        let p = v
            .inner
            .lock()?
            .poll_into(|m| m.poll_output().map(polled), &out, &out_len)?;
        kind.set(p.kind);
        info.set(p.info);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Fault evidence.
// ---------------------------------------------------------------------------------------

/// Largest `FAULT` output's bytes (encoded evidence): a buffer of this size holds any.
pub const CPCHAIN_LBFT_EVIDENCE_MAX_LEN: usize = 512;

const _: () =
    assert!(<evidence::Evidence as WireMessage>::MAX_ENCODED_LEN == CPCHAIN_LBFT_EVIDENCE_MAX_LEN);

/// Why an illicit block was refused, as the reporting validator judged it.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum cpchain_lbft_illicit_reason {
    /// Not an illicit-block offence.
    None = 0,
    /// Not the scheduled proposer (re-check with the schedule).
    WrongProposer = 1,
    /// A normal block with a zero coinbase.
    ZeroCoinbase = 2,
    /// Timestamp outside the proposal window (re-check with the parent header).
    Timestamp = 3,
    /// Body over the size or count limit (re-check with the body).
    TooLarge = 4,
    /// The body does not match the transaction root (re-check with the body).
    TxRoot = 5,
    /// The reporter's host judged the transactions invalid.
    Content = 6,
    /// Another header rule (wrong chain, height or parent).
    Other = 7,
}

/// What verified evidence proves (`cpchain_lbft_verify_evidence`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct cpchain_lbft_offence {
    /// How: equivocation, proposer or leader equivocation, or an illicit block.
    pub fault: cpchain_lbft_fault,
    /// Who: the voter, proposer or leader whose signatures the evidence holds.
    pub offender: [u8; 20],
    /// At which height.
    pub height: u64,
    /// Whether `round` is meaningful (votes and leader proposals).
    pub has_round: bool,
    /// In which round.
    pub round: u32,
    /// For an illicit block, the reporter's reason (only the seal is proven: see
    /// `cpchain_lbft_verify_evidence`).
    pub reason: cpchain_lbft_illicit_reason,
}

impl From<EvidenceError> for cpchain_result {
    fn from(e: EvidenceError) -> Self {
        use cpchain_result as R;
        match e {
            EvidenceError::Decode(d) => d.into(),
            EvidenceError::WrongChain => R::LbftWrongChain,
            EvidenceError::DifferentSlots => R::LbftEvidenceDifferentSlots,
            EvidenceError::NoConflict => R::LbftEvidenceNoConflict,
            EvidenceError::NotMember => R::LbftEvidenceNotMember,
            EvidenceError::BadSignature => R::LbftEvidenceBadSignature,
            EvidenceError::ImpeachBlock => R::LbftEvidenceImpeachBlock,
            _ => R::LbftOther,
        }
    }
}

fn illicit_reason(r: IllicitReason) -> cpchain_lbft_illicit_reason {
    use cpchain_lbft_illicit_reason as C;
    match r {
        IllicitReason::WrongProposer => C::WrongProposer,
        IllicitReason::ZeroCoinbase => C::ZeroCoinbase,
        IllicitReason::Timestamp => C::Timestamp,
        IllicitReason::TooLarge => C::TooLarge,
        IllicitReason::TxRoot => C::TxRoot,
        IllicitReason::Content => C::Content,
        _ => C::Other,
    }
}

/// Check the bytes of a `FAULT` output (from any validator: they need not be ours) against
/// the committee `validators` (`n_validators` compressed keys of 33 bytes, the spec's
/// `3f + 1`) of the chain `spec` describes, and say who misbehaved in `*out`: both
/// signatures of an equivocation verify for one signer about one slot and conflict; an
/// illicit block's seal is its proposer's. The reason of an illicit block is the
/// reporter's claim: a stranger re-checks it with the parent header or the body (or not
/// at all, for `CONTENT`, the reporter's own judgement of the transactions).
///
/// Refusals: `CPCHAIN_RESULT_DECODE_*` for bytes that are not evidence,
/// `CPCHAIN_RESULT_LBFT_WRONG_CHAIN`, `..._LBFT_EVIDENCE_NO_CONFLICT`,
/// `..._EVIDENCE_DIFFERENT_SLOTS`, `..._EVIDENCE_BAD_SIGNATURE`, `..._EVIDENCE_NOT_MEMBER`,
/// `..._EVIDENCE_IMPEACH_BLOCK`, and the committee errors of
/// `cpchain_lbft_verify_validate`. `*out` is zeroed (`fault` NONE) on any error.
///
/// # Safety
///
/// `spec` a live handle; every (pointer, length) readable; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn cpchain_lbft_verify_evidence(
    spec: *const cpchain_chain_spec,
    validators: *const u8,
    n_validators: usize,
    evidence_bytes: *const u8,
    evidence_len: usize,
    out: *mut cpchain_lbft_offence,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutPtr::new(out) }?;
        out.set(cpchain_lbft_offence {
            fault: cpchain_lbft_fault::None,
            offender: [0; 20],
            height: 0,
            has_round: false,
            round: 0,
            reason: cpchain_lbft_illicit_reason::None,
        });
        // SAFETY: forwarded from this function's contract.
        let spec = unsafe { handle(spec) }?;
        // SAFETY: forwarded from this function's contract.
        let set = unsafe { validator_set(&spec.spec, validators, n_validators) }?;
        // SAFETY: forwarded from this function's contract.
        let bytes = unsafe { input(evidence_bytes, evidence_len) }?;
        let o = evidence::verify_evidence_bytes(spec.spec.chain_id, &set, bytes)?;
        let (fault, reason) = match o.kind {
            OffenceKind::VoteEquivocation => {
                (cpchain_lbft_fault::Equivocation, cpchain_lbft_illicit_reason::None)
            }
            OffenceKind::ProposerEquivocation => {
                (cpchain_lbft_fault::ProposerEquivocation, cpchain_lbft_illicit_reason::None)
            }
            OffenceKind::LeaderEquivocation => {
                (cpchain_lbft_fault::LeaderEquivocation, cpchain_lbft_illicit_reason::None)
            }
            OffenceKind::IllicitBlock(r) => (cpchain_lbft_fault::IllicitBlock, illicit_reason(r)),
            _ => return Err(cpchain_result::LbftOther),
        };
        out.set(cpchain_lbft_offence {
            fault,
            offender: o.offender.0,
            height: o.height.0,
            has_round: o.round.is_some(),
            round: o.round.unwrap_or(0),
            reason,
        });
        Ok(())
    }
}
