//! Error types of the LBFT engine: small, `Copy`, `#[non_exhaustive]`.
//!
//! Two families: errors of the *caller* (a bad configuration, a `propose` at the wrong
//! time), returned as `Err`, and [`Rejected`], the reason a peer's message was dropped. A
//! rejection is not a failure of the host: the message was untrusted input, the engine's
//! state is unchanged, and it comes back inside a [`crate::lbft::Verdict`] (never as `Err`)
//! and is counted by reason ([`crate::lbft::ValidatorDrop`]). Rejections that prove
//! misbehaviour additionally produce a [`crate::lbft::Fault`] output. (`Err(Rejected)` is
//! left only where the caller hands over data of its own: [`crate::lbft::Validator::remember`].)

use cpchain_core::{DecodeError, SpecError};
use thiserror::Error;

/// Why a [`crate::lbft::Config`] or persisted state was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The chain spec is inconsistent.
    #[error("invalid chain spec: {0}")]
    Spec(SpecError),
    /// The validator set does not have the `3f + 1` members the spec asks for.
    #[error("validator set has {found} members, the spec requires {expected}")]
    ValidatorCount {
        /// `3f + 1` from the spec.
        expected: usize,
        /// Members given.
        found: usize,
    },
    /// Two members with one address: a vote would count twice.
    #[error("duplicate validator")]
    DuplicateValidator,
    /// More members than [`crate::lbft::MAX_VALIDATORS`].
    #[error("too many validators")]
    TooManyValidators,
    /// The local key is not a member of the validator set.
    #[error("local key is not a validator")]
    NotAValidator,
    /// A limit is zero or above its hard cap.
    #[error("limit out of range: {0}")]
    Limit(&'static str),
    /// The persisted state is for another chain, is internally inconsistent, or is ahead
    /// of (or beside) the chain head it is restarted with.
    #[error("persisted state does not match the configuration")]
    PersistedMismatch,
    /// The chain head's VALIDATE handed to [`crate::lbft::Validator::restart`] is not the
    /// head's or does not verify.
    #[error("the chain head's VALIDATE was refused: {0}")]
    BadHead(Rejected),
}

/// Why the host's `propose` call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ProposeError {
    /// The local key is not the scheduled proposer of the current height.
    #[error("not the scheduled proposer of this height")]
    NotScheduled,
    /// This validator has already proposed at this height.
    #[error("already proposed at this height")]
    AlreadyProposed,
    /// Past the proposal window (`parent.time + period + impeach timeout`).
    #[error("proposal window closed")]
    WindowClosed,
    /// The transactions exceed the configured block size or count.
    #[error("block too large")]
    TooLarge,
}

/// Why a block header or body is not acceptable at a height (also carried by
/// [`crate::lbft::Fault::IllicitBlock`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BlockError {
    /// Header for another chain.
    #[error("wrong chain id")]
    WrongChain,
    /// Header for another height.
    #[error("wrong height")]
    WrongHeight,
    /// Header does not extend the local parent.
    #[error("wrong parent")]
    WrongParent,
    /// The header's proposer is not the scheduled one.
    #[error("wrong proposer")]
    WrongProposer,
    /// Seal missing, malformed or by someone other than the header's proposer.
    #[error("bad seal")]
    BadSeal,
    /// Timestamp outside `parent + period ..= parent + period + impeach timeout`.
    #[error("timestamp out of window")]
    Timestamp,
    /// A normal block with a zero coinbase (zero coinbase marks impeach blocks).
    #[error("zero coinbase on a normal block")]
    ZeroCoinbase,
    /// An impeach-shaped block that is not the deterministic impeach block.
    #[error("not the deterministic impeach block")]
    NotTheImpeachBlock,
    /// Transaction root does not commit to the body.
    #[error("transaction root mismatch")]
    TxRoot,
    /// Body above the configured byte or count limit.
    #[error("block too large")]
    TooLarge,
    /// The host judged the transactions invalid.
    #[error("host rejected the block content")]
    Content,
}

/// Why a certificate was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// Signatures not strictly ordered by address: duplicates would count twice.
    #[error("signers not distinct and ordered")]
    NotDistinct,
    /// A signer is not in the validator set.
    #[error("signer is not a validator")]
    NotMember,
    /// A signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// Fewer distinct valid signatures than the quorum.
    #[error("{found} signatures, quorum is {quorum}")]
    NoQuorum {
        /// Signatures present.
        found: usize,
        /// Required.
        quorum: usize,
    },
    /// Certificate of the wrong vote kind, height, round or block for its use.
    #[error("certificate does not match")]
    Mismatch,
}

/// Why a peer's message was dropped without any state change: carried by the
/// [`crate::lbft::Verdict`] for the host's peer scoring and logging, and counted in the
/// validator's stats; misbehaviour that can be proven is also emitted as a `Fault`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Rejected {
    /// Bytes did not decode.
    #[error("undecodable: {0}")]
    Decode(DecodeError),
    /// For another chain.
    #[error("wrong chain")]
    WrongChain,
    /// For a height already decided here.
    #[error("stale height")]
    StaleHeight,
    /// For a height too far ahead to buffer.
    #[error("height too far ahead")]
    TooFarAhead,
    /// The future-message buffer, or the sender's quota in it, is full (in messages or
    /// bytes); the message was dropped and counted.
    #[error("future buffer full")]
    BufferFull,
    /// For a round already left, where it can no longer matter.
    #[error("stale round")]
    StaleRound,
    /// Signer is not a validator (or not the round's leader).
    #[error("not a member")]
    NotMember,
    /// Signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// Vote kind does not match its block (IMPEACH kinds are for the impeach block only).
    #[error("vote kind does not match block")]
    KindMismatch,
    /// A vote already counted.
    #[error("duplicate")]
    Duplicate,
    /// A second, conflicting vote; reported as a `Fault::Equivocation`.
    #[error("equivocation")]
    Equivocation,
    /// An invalid block.
    #[error("invalid block: {0}")]
    Block(BlockError),
    /// An invalid certificate.
    #[error("invalid certificate: {0}")]
    Certificate(CertificateError),
    /// A second proposal from the same proposer at one height (reported as a fault).
    #[error("conflicting proposal")]
    ConflictingProposal,
    /// More blocks at this height than the engine keeps, in number
    /// (`Config::max_blocks_per_height`) or in bytes (`Config::height_bytes`).
    #[error("too many blocks at this height")]
    TooManyBlocks,
    /// A proposal that is not needed or not allowed in the current state.
    #[error("unexpected proposal")]
    Unexpected,
}

impl From<BlockError> for Rejected {
    fn from(e: BlockError) -> Self {
        Rejected::Block(e)
    }
}

impl From<CertificateError> for Rejected {
    fn from(e: CertificateError) -> Self {
        Rejected::Certificate(e)
    }
}

/// Why a light client refused a VALIDATE message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LightError {
    /// The block is not acceptable after the given parent.
    #[error("invalid block: {0}")]
    Block(BlockError),
    /// The certificate does not certify the block.
    #[error("invalid certificate: {0}")]
    Certificate(CertificateError),
}

impl From<BlockError> for LightError {
    fn from(e: BlockError) -> Self {
        LightError::Block(e)
    }
}

impl From<CertificateError> for LightError {
    fn from(e: CertificateError) -> Self {
        LightError::Certificate(e)
    }
}

impl From<LightError> for Rejected {
    fn from(e: LightError) -> Self {
        match e {
            LightError::Block(b) => Rejected::Block(b),
            LightError::Certificate(c) => Rejected::Certificate(c),
        }
    }
}
