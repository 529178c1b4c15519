//! LBFT light verification (white paper §2.4.2 step 6, the "users"): a node that is not a
//! validator imports a block only from a VALIDATE message that extends its known parent,
//! carries a proposer seal matching the schedule (or is exactly the deterministic impeach
//! block), and holds a quorum of distinct valid COMMIT signatures from the committee.
//!
//! The chain of trust is the header: start from `cpchain_lbft_genesis_header`, verify each
//! VALIDATE against the current parent with `cpchain_lbft_verify_validate`, and take the
//! next parent from it with `cpchain_lbft_validate_header`. Headers cross as their wire
//! encoding (at most `CPCHAIN_LBFT_HEADER_MAX_LEN` bytes). A VALIDATE is accepted both bare
//! (tag 0x0201) and inside the validators' message envelope (tag 0x0200), as it arrives from
//! the network. Each call may use temporary heap memory, freed before it returns.
//!
//! The validator handle itself (feeding messages, polling outputs) is not in the C API yet.

use crate::boundary::{ffi_boundary, handle, input, input_items, OutBuf, OutPtr};
use crate::CPCHAIN_PUBLIC_KEY_COMPRESSED_LEN;
use crate::{cpchain_chain_spec, cpchain_result, FfiResult, CPCHAIN_ADDRESS_LEN};
use cpchain_consensus::lbft::{
    verify_validate, BlockError, CertificateError, ConfigError, FixedSchedule, Header,
    ImpeachQuorum, LightError, Message, Validate, ValidatorSet,
};
use cpchain_core::encoding::{self, peek_tag, WireMessage};
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
        let quorum = match impeach_quorum {
            0 => ImpeachQuorum::TwoFPlusOne,
            1 => ImpeachQuorum::FPlusOne,
            _ => return Err(cpchain_result::InvalidParameter),
        };
        // SAFETY: forwarded from this function's contract (arrays of bytes).
        let keys = unsafe {
            input_items(
                validators.cast::<[u8; CPCHAIN_PUBLIC_KEY_COMPRESSED_LEN]>(),
                n_validators,
            )
        }?;
        // SAFETY: forwarded from this function's contract.
        let props =
            unsafe { input_items(proposers.cast::<[u8; CPCHAIN_ADDRESS_LEN]>(), n_proposers) }?;
        let expected = usize::try_from(spec.spec.validators()).unwrap_or(usize::MAX);
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
        let set = ValidatorSet::new(&keys)?;
        let schedule = FixedSchedule::new(props.iter().map(|a| Address(*a)).collect());
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
