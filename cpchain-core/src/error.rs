//! Error types of the core crate. All are small and `Copy` so that `no_std` callers and the
//! C API can pass them around freely.

use thiserror::Error;

/// Why a textual address was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AddressError {
    /// The text has no `0x` prefix.
    #[error("address must start with 0x")]
    MissingPrefix,
    /// The text after `0x` is not exactly 40 hex digits.
    #[error("address must have 40 hex digits, found {0}")]
    WrongLength(usize),
    /// A character is not a hex digit.
    #[error("address contains a non-hex character")]
    NotHex,
    /// Mixed case that is not the EIP-55 checksum of the address: a typo guard.
    #[error("address has mixed case but an invalid EIP-55 checksum")]
    BadChecksum,
}

/// Why bytes from outside could not be decoded. Decoding never panics and never partially
/// applies: on any of these the caller's state is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Input longer than the message type's hard limit; refused before parsing.
    #[error("input of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Length of the input.
        len: usize,
        /// Limit for this message type.
        max: usize,
    },
    /// Input shorter than the envelope header.
    #[error("input truncated")]
    Truncated,
    /// Envelope version this build does not speak.
    #[error("unsupported wire version {0}")]
    UnsupportedVersion(u8),
    /// Envelope carries a different message type.
    #[error("wrong message tag: expected {expected:#06x}, found {found:#06x}")]
    WrongTag {
        /// Tag of the type being decoded.
        expected: u16,
        /// Tag found in the input.
        found: u16,
    },
    /// The body does not parse as the message type.
    #[error("malformed message body")]
    Malformed,
    /// The body parses but is not the unique canonical encoding (for example an overlong
    /// varint): refused so that every accepted message has exactly one byte form.
    #[error("non-canonical encoding")]
    NonCanonical,
    /// Bytes left after the message.
    #[error("{0} trailing bytes after the message")]
    TrailingBytes(usize),
    /// The body parsed but a semantic check of the type failed (for example a point not on
    /// the curve or a high-s signature).
    #[error("invalid value: {0}")]
    Invalid(&'static str),
}

/// Why a value could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The caller's buffer is too small; `needed` is a lower bound to retry with, when known.
    #[error("buffer too small")]
    BufferTooSmall,
    /// The encoding exceeds the message type's limit, so no peer would accept it.
    #[error("encoded size {len} exceeds the limit of {max}")]
    TooLarge {
        /// Encoded length.
        len: usize,
        /// Limit for this message type.
        max: usize,
    },
    /// The serializer refused the value.
    #[error("value cannot be serialized")]
    Unserializable,
}

/// An inconsistent [`crate::ChainSpec`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SpecError {
    /// A parameter that must be positive is zero.
    #[error("{0} must be positive")]
    Zero(&'static str),
    /// The validator count is not 3f+1 with f ≥ 1.
    #[error("validators must number 3f+1 with f >= 1")]
    FaultBound,
    /// Elected seats or low-partition seats do not fit in the committee.
    #[error("election seats do not fit the proposer committee")]
    Seats,
    /// RPT weights must sum to 100 (percent).
    #[error("RPT weights sum to {0}, not 100")]
    RptWeights(u32),
    /// The RNode deposit must be at least the economy deposit.
    #[error("RNode deposit below the economy-node deposit")]
    Deposits,
    /// A window is out of its allowed range.
    #[error("{0} is out of range")]
    Range(&'static str),
}
