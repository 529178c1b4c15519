//! Result codes of the C API and their readable text.

use cpchain_core::{AddressError, DecodeError, EncodeError, SpecError};
use cpchain_crypto::CryptoError;

/// What every fallible C API call returns: `CPCHAIN_RESULT_OK` (0) or an error code.
///
/// Error codes start at 7000 so that they never collide with 0 or with `errno` values, and
/// are grouped by area in blocks of 100: 70xx calling convention, 71xx cryptography, 72xx
/// addresses, 73xx wire decoding, 74xx chain parameters, 75xx LBFT (7501-7519 blocks,
/// 7520-7529 certificates, 7530-7539 committees, 7540-7559 rejected messages, 7560-7569
/// proposing, 7599 other), 76xx DPoR (RPT and
/// election), 77xx data chains (7701-7709 schedule, 7710-7719 writer, 7720-7769
/// verification and opening, 7799 other), 78xx authorised sharing (returned only by a
/// library built with the `pre` feature; the codes exist in every build so that C code
/// compiles either way). Block 79xx is reserved. `CPCHAIN_RESULT_NO_OUTPUT`
/// (7008) is a state, not a failure: a poll found nothing. A code, once published, keeps its number; new codes
/// are only ever added. Pass any code to `cpchain_result_message` for a readable text.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum cpchain_result {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullParameter = 7001,
    /// An argument is out of its domain: a length over `PTRDIFF_MAX`, a misaligned pointer,
    /// an unknown flag.
    InvalidParameter = 7002,
    /// The caller's output buffer is too small; the required size was written to the
    /// call's `out_len` argument and nothing else was written.
    InsufficientSize = 7003,
    /// A fixed-size input (key, digest, signature, nonce...) has the wrong length.
    InvalidLength = 7004,
    /// An in-place buffer overlaps another argument of the same call.
    OverlappingBuffers = 7005,
    /// Text input is not valid UTF-8.
    InvalidUtf8 = 7006,
    /// A domain name is empty or longer than `CPCHAIN_DOMAIN_MAX_LEN`.
    InvalidDomain = 7007,
    /// Not an error but a state: a poll found nothing to hand out (the `kind` out-parameter
    /// is `..._NONE`). Stop polling until the next input or deadline.
    NoOutput = 7008,
    /// A mutable handle (writer, validator) is in use by another call right now: mutable
    /// handles are single-threaded, and this concurrent call was refused untouched.
    HandleBusy = 7009,
    /// An earlier call on this mutable handle panicked (an SDK bug), so its state may be
    /// inconsistent; the handle refuses every call but `_free`.
    HandlePoisoned = 7010,
    /// The library caught a panic (a bug in the SDK; please report it). The call's outputs
    /// are unspecified; the handles passed to it are still valid to free.
    Panic = 7099,
    /// 32 bytes that are not a valid secp256k1 secret scalar (zero or at least the order).
    InvalidSecretKey = 7101,
    /// Bytes that are not a SEC1-encoded point on secp256k1.
    InvalidPublicKey = 7102,
    /// A signature's `r` or `s` is zero or out of range.
    MalformedSignature = 7103,
    /// A signature's `s` is in the upper half of the group order: a malleated form the SDK
    /// refuses, so that every signature has exactly one accepted encoding.
    HighS = 7104,
    /// A signature's recovery byte `v` is not 0 or 1.
    InvalidRecoveryId = 7105,
    /// No public key recovers from this signature and digest.
    RecoveryFailed = 7106,
    /// The signature does not verify under the key.
    BadSignature = 7107,
    /// The signature verifies, but for another signer than the one required.
    WrongSigner = 7108,
    /// Authenticated decryption failed: wrong key, nonce or associated data, or tampering.
    /// The buffer still holds the ciphertext.
    OpenFailed = 7109,
    /// Another cryptographic failure (a newer SDK error this build maps coarsely).
    CryptoOther = 7199,
    /// Address text without the `0x` prefix.
    AddressMissingPrefix = 7201,
    /// Address text without exactly 40 hex digits after `0x`.
    AddressWrongLength = 7202,
    /// Address text with a character that is not a hex digit.
    AddressNotHex = 7203,
    /// Mixed-case address text whose EIP-55 checksum is wrong: likely a typo.
    AddressBadChecksum = 7204,
    /// Another address error.
    AddressOther = 7299,
    /// Wire input longer than the message type's limit; refused unparsed.
    DecodeTooLarge = 7301,
    /// Wire input shorter than its envelope or body.
    DecodeTruncated = 7302,
    /// Wire envelope of a version this build does not speak.
    DecodeUnsupportedVersion = 7303,
    /// Wire envelope of another message type.
    DecodeWrongTag = 7304,
    /// Wire body that does not parse as the message type.
    DecodeMalformed = 7305,
    /// Wire body that parses but is not the canonical encoding.
    DecodeNonCanonical = 7306,
    /// Bytes left over after the message.
    DecodeTrailingBytes = 7307,
    /// Wire body that parses but holds an invalid value.
    DecodeInvalid = 7308,
    /// Another decoding error.
    DecodeOther = 7398,
    /// A value could not be encoded for the wire.
    EncodeFailed = 7399,
    /// Chain parameters that are inconsistent (`ChainSpec::validate` refused them).
    SpecInvalid = 7401,
    /// A block of another chain.
    LbftWrongChain = 7501,
    /// A block at the wrong height for its parent.
    LbftWrongHeight = 7502,
    /// A block that does not extend the given parent.
    LbftWrongParent = 7503,
    /// A block sealed by someone other than the scheduled proposer.
    LbftWrongProposer = 7504,
    /// A proposer seal that does not verify.
    LbftBadSeal = 7505,
    /// A block time outside its window after the parent.
    LbftTimestamp = 7506,
    /// A normal block with a zero coinbase.
    LbftZeroCoinbase = 7507,
    /// An impeach block that is not the deterministic one.
    LbftNotTheImpeachBlock = 7508,
    /// A transaction root that does not match the body.
    LbftTxRoot = 7509,
    /// A block over the size or transaction-count limit.
    LbftBlockTooLarge = 7510,
    /// A block whose transactions the host judged invalid.
    LbftContent = 7511,
    /// A certificate that lists a signer twice or out of order.
    LbftCertNotDistinct = 7520,
    /// A certificate signed by a non-member of the committee.
    LbftCertNotMember = 7521,
    /// A certificate signature that does not verify.
    LbftCertBadSignature = 7522,
    /// Fewer certificate signatures than the quorum.
    LbftCertNoQuorum = 7523,
    /// A certificate for another block, height or kind.
    LbftCertMismatch = 7524,
    /// A committee whose size is not the spec's 3f + 1.
    LbftValidatorCount = 7530,
    /// A committee with a duplicate member or too many members.
    LbftValidatorSet = 7531,
    /// This node's key is not in the committee.
    LbftNotAValidator = 7532,
    /// Persisted validator bytes that do not fit this chain, key or committee (another
    /// chain id, votes signed by another validator, an inconsistent lock): refused, so a
    /// restored validator can never sign against what it signed before.
    LbftPersistedMismatch = 7533,
    /// A message for a height already decided (ignored).
    LbftStaleHeight = 7540,
    /// A message too many heights or rounds ahead.
    LbftTooFarAhead = 7541,
    /// The future-message buffer is full; the message was dropped and counted.
    LbftBufferFull = 7542,
    /// A message for a round already left.
    LbftStaleRound = 7543,
    /// A vote from a non-member of the committee.
    LbftNotMember = 7544,
    /// A vote or proposal signature that does not verify.
    LbftBadVoteSignature = 7545,
    /// A message whose kind does not fit its content.
    LbftKindMismatch = 7546,
    /// A message already counted.
    LbftDuplicate = 7547,
    /// An equivocating vote (reported as a FAULT output too).
    LbftEquivocation = 7548,
    /// A second, different proposal at one height or round.
    LbftConflictingProposal = 7549,
    /// More distinct blocks at one height than the bound.
    LbftTooManyBlocks = 7550,
    /// A message the validator does not expect in its state.
    LbftUnexpected = 7551,
    /// This validator is not the scheduled proposer.
    LbftNotScheduled = 7560,
    /// This validator already proposed at this height.
    LbftAlreadyProposed = 7561,
    /// The proposal window of this height is over.
    LbftWindowClosed = 7562,
    /// The DPoR schedule was made for another chain spec (term length or committee size).
    LbftScheduleMismatch = 7563,
    /// Evidence whose two items agree: no conflict, nobody to blame.
    LbftEvidenceNoConflict = 7570,
    /// Evidence whose two items are about different slots (signer, height, round, phase
    /// or parent differ).
    LbftEvidenceDifferentSlots = 7571,
    /// Evidence with a signature or seal that does not verify for its signer.
    LbftEvidenceBadSignature = 7572,
    /// Evidence signed by a non-member of the committee, or not by the round's leader.
    LbftEvidenceNotMember = 7573,
    /// Evidence about an impeach block, which nobody seals.
    LbftEvidenceImpeachBlock = 7574,
    /// Another LBFT error (a newer SDK error this build maps coarsely).
    LbftOther = 7599,
    /// One address appears twice among the RPT observations or election candidates.
    DporDuplicateCandidate = 7601,
    /// More candidates than the chain spec's `max_candidates`.
    DporTooManyCandidates = 7602,
    /// The spec's RPT weights do not sum to 100.
    DporWeights = 7603,
    /// One address appears twice among the default proposers.
    DporDuplicateDefaultProposer = 7604,
    /// Too few distinct default proposers to fill the seats the election left open.
    DporNotEnoughDefaultProposers = 7605,
    /// The spec's seat counts are inconsistent.
    DporSeats = 7606,
    /// A committee for the schedule without exactly `proposers_per_term` members.
    DporCommitteeSize = 7607,
    /// A committee for the schedule that names one address twice.
    DporDuplicateMember = 7608,
    /// A different committee is already installed for the term: a second would fork the
    /// schedule.
    DporScheduleConflict = 7609,
    /// The schedule holds its capacity of terms; prune served terms first.
    DporScheduleFull = 7610,
    /// The height is not a checkpoint (the last block of a term).
    DporNotCheckpoint = 7611,
    /// No committee is known for the height's term (or the height is genesis): nobody may
    /// be named as its proposer.
    DporNoProposer = 7612,
    /// Another DPoR error (a newer SDK error this build maps coarsely).
    DporOther = 7699,
    /// Data-chain schedule with a zero block period T.
    ChainZeroPeriod = 7701,
    /// Data-chain encryption interval e that is not a positive multiple of T.
    ChainEncryptionInterval = 7702,
    /// Data-chain upload interval u that is not a positive multiple of T.
    ChainUploadInterval = 7703,
    /// A record timed earlier than a time the writer has already seen (refused; the writer is
    /// unchanged).
    ChainTimeWentBackwards = 7710,
    /// A record that cannot fit even an empty block of this writer.
    ChainRecordTooLarge = 7711,
    /// The writer must seal a block but the previous one has not been polled: poll, then
    /// retry the append.
    ChainOutputPending = 7712,
    /// The chain has used every block index.
    ChainExhausted = 7713,
    /// A block body does not match its signed hash: the ciphertext was altered.
    ChainBodyTampered = 7720,
    /// A block header signature does not verify under the device key.
    ChainBadSignature = 7721,
    /// A block of another stream.
    ChainWrongStream = 7722,
    /// A block is missing from the chain.
    ChainMissingBlock = 7723,
    /// Blocks are out of order.
    ChainReordered = 7724,
    /// A block already accepted came again.
    ChainReplayed = 7725,
    /// Two different validly signed blocks for one index: the device equivocated.
    ChainConflictingBlock = 7726,
    /// A block's previous-hash link is broken.
    ChainBrokenLink = 7727,
    /// A block starts before the previous block ended.
    ChainTimeNotMonotonic = 7728,
    /// A block header's time range, record count or body size is malformed.
    ChainMalformedHeader = 7729,
    /// A block's interval number does not match its time.
    ChainIntervalMismatch = 7730,
    /// A block was sealed under another key than the one given (or its interval's key).
    ChainWrongIntervalKey = 7731,
    /// No key for the block's interval.
    ChainNoKey = 7732,
    /// Block decryption failed although the key id matched.
    ChainDecryptFailed = 7733,
    /// The decrypted records contradict the block header.
    ChainMalformedRecords = 7734,
    /// An anchor's signature does not verify under the device key.
    ChainBadAnchor = 7735,
    /// An anchor of another stream.
    ChainAnchorWrongStream = 7736,
    /// The block at an anchored index is not the anchored head.
    ChainAnchorMismatch = 7737,
    /// The chain ends before an anchored index: blocks after an anchor were cut off.
    ChainTruncatedAfterAnchor = 7738,
    /// A block after an anchor holds records from before the anchor's time.
    ChainBackdatedAfterAnchor = 7739,
    /// Another data-chain error (a newer SDK error this build maps coarsely).
    ChainOther = 7799,
    /// A grant with an empty interval range (first after last).
    ShareEmptyIntervalRange = 7801,
    /// A grant over more intervals than one grant may carry (`CPCHAIN_SHARE_MAX_INTERVALS`).
    ShareTooManyIntervals = 7802,
    /// A threshold `m` of zero or above the number of proxies `n`.
    ShareInvalidThreshold = 7803,
    /// No proxies, more than `CPCHAIN_SHARE_MAX_PROXIES`, or one listed twice.
    ShareInvalidProxySet = 7804,
    /// A grant whose expiry is not after its issue time.
    ShareInvalidExpiry = 7805,
    /// A grant, revoke or response for another chain.
    ShareWrongChain = 7806,
    /// A grant, revoke or response not signed by its claimed signer.
    ShareBadSignature = 7807,
    /// A grant whose structure is inconsistent (key count, ranges).
    ShareMalformedGrant = 7808,
    /// A grant for another grantee key or another proxy.
    ShareNotAddressedToUs = 7809,
    /// No such grant is held.
    ShareUnknownGrant = 7810,
    /// The grant is expired, not yet valid, or revoked.
    ShareGrantNotLive = 7811,
    /// The interval is outside the grant.
    ShareIntervalOutsideGrant = 7812,
    /// Fewer verified cfrags than the grant's threshold `m`.
    ShareNotEnoughCfrags = 7813,
    /// No request is pending for this grant and interval.
    ShareNoPendingRequest = 7814,
    /// A sharing machine's capacity (grants, requests, output queue) is full.
    ShareCapacityExceeded = 7815,
    /// The owner already holds a grant with this id (its RNG repeated itself).
    ShareDuplicateGrant = 7816,
    /// Another sharing error (a newer SDK error this build maps coarsely).
    ShareOther = 7899,
}

impl cpchain_result {
    /// Every code, for `from_code` and for the tests that keep the header in step.
    pub const ALL: &'static [cpchain_result] = &[
        cpchain_result::Ok,
        cpchain_result::NullParameter,
        cpchain_result::InvalidParameter,
        cpchain_result::InsufficientSize,
        cpchain_result::InvalidLength,
        cpchain_result::OverlappingBuffers,
        cpchain_result::InvalidUtf8,
        cpchain_result::InvalidDomain,
        cpchain_result::NoOutput,
        cpchain_result::HandleBusy,
        cpchain_result::HandlePoisoned,
        cpchain_result::Panic,
        cpchain_result::InvalidSecretKey,
        cpchain_result::InvalidPublicKey,
        cpchain_result::MalformedSignature,
        cpchain_result::HighS,
        cpchain_result::InvalidRecoveryId,
        cpchain_result::RecoveryFailed,
        cpchain_result::BadSignature,
        cpchain_result::WrongSigner,
        cpchain_result::OpenFailed,
        cpchain_result::CryptoOther,
        cpchain_result::AddressMissingPrefix,
        cpchain_result::AddressWrongLength,
        cpchain_result::AddressNotHex,
        cpchain_result::AddressBadChecksum,
        cpchain_result::AddressOther,
        cpchain_result::DecodeTooLarge,
        cpchain_result::DecodeTruncated,
        cpchain_result::DecodeUnsupportedVersion,
        cpchain_result::DecodeWrongTag,
        cpchain_result::DecodeMalformed,
        cpchain_result::DecodeNonCanonical,
        cpchain_result::DecodeTrailingBytes,
        cpchain_result::DecodeInvalid,
        cpchain_result::DecodeOther,
        cpchain_result::EncodeFailed,
        cpchain_result::SpecInvalid,
        cpchain_result::LbftWrongChain,
        cpchain_result::LbftWrongHeight,
        cpchain_result::LbftWrongParent,
        cpchain_result::LbftWrongProposer,
        cpchain_result::LbftBadSeal,
        cpchain_result::LbftTimestamp,
        cpchain_result::LbftZeroCoinbase,
        cpchain_result::LbftNotTheImpeachBlock,
        cpchain_result::LbftTxRoot,
        cpchain_result::LbftBlockTooLarge,
        cpchain_result::LbftContent,
        cpchain_result::LbftCertNotDistinct,
        cpchain_result::LbftCertNotMember,
        cpchain_result::LbftCertBadSignature,
        cpchain_result::LbftCertNoQuorum,
        cpchain_result::LbftCertMismatch,
        cpchain_result::LbftValidatorCount,
        cpchain_result::LbftValidatorSet,
        cpchain_result::LbftNotAValidator,
        cpchain_result::LbftPersistedMismatch,
        cpchain_result::LbftStaleHeight,
        cpchain_result::LbftTooFarAhead,
        cpchain_result::LbftBufferFull,
        cpchain_result::LbftStaleRound,
        cpchain_result::LbftNotMember,
        cpchain_result::LbftBadVoteSignature,
        cpchain_result::LbftKindMismatch,
        cpchain_result::LbftDuplicate,
        cpchain_result::LbftEquivocation,
        cpchain_result::LbftConflictingProposal,
        cpchain_result::LbftTooManyBlocks,
        cpchain_result::LbftUnexpected,
        cpchain_result::LbftNotScheduled,
        cpchain_result::LbftAlreadyProposed,
        cpchain_result::LbftWindowClosed,
        cpchain_result::LbftScheduleMismatch,
        cpchain_result::LbftEvidenceNoConflict,
        cpchain_result::LbftEvidenceDifferentSlots,
        cpchain_result::LbftEvidenceBadSignature,
        cpchain_result::LbftEvidenceNotMember,
        cpchain_result::LbftEvidenceImpeachBlock,
        cpchain_result::LbftOther,
        cpchain_result::DporDuplicateCandidate,
        cpchain_result::DporTooManyCandidates,
        cpchain_result::DporWeights,
        cpchain_result::DporDuplicateDefaultProposer,
        cpchain_result::DporNotEnoughDefaultProposers,
        cpchain_result::DporSeats,
        cpchain_result::DporCommitteeSize,
        cpchain_result::DporDuplicateMember,
        cpchain_result::DporScheduleConflict,
        cpchain_result::DporScheduleFull,
        cpchain_result::DporNotCheckpoint,
        cpchain_result::DporNoProposer,
        cpchain_result::DporOther,
        cpchain_result::ChainZeroPeriod,
        cpchain_result::ChainEncryptionInterval,
        cpchain_result::ChainUploadInterval,
        cpchain_result::ChainTimeWentBackwards,
        cpchain_result::ChainRecordTooLarge,
        cpchain_result::ChainOutputPending,
        cpchain_result::ChainExhausted,
        cpchain_result::ChainBodyTampered,
        cpchain_result::ChainBadSignature,
        cpchain_result::ChainWrongStream,
        cpchain_result::ChainMissingBlock,
        cpchain_result::ChainReordered,
        cpchain_result::ChainReplayed,
        cpchain_result::ChainConflictingBlock,
        cpchain_result::ChainBrokenLink,
        cpchain_result::ChainTimeNotMonotonic,
        cpchain_result::ChainMalformedHeader,
        cpchain_result::ChainIntervalMismatch,
        cpchain_result::ChainWrongIntervalKey,
        cpchain_result::ChainNoKey,
        cpchain_result::ChainDecryptFailed,
        cpchain_result::ChainMalformedRecords,
        cpchain_result::ChainBadAnchor,
        cpchain_result::ChainAnchorWrongStream,
        cpchain_result::ChainAnchorMismatch,
        cpchain_result::ChainTruncatedAfterAnchor,
        cpchain_result::ChainBackdatedAfterAnchor,
        cpchain_result::ChainOther,
        cpchain_result::ShareEmptyIntervalRange,
        cpchain_result::ShareTooManyIntervals,
        cpchain_result::ShareInvalidThreshold,
        cpchain_result::ShareInvalidProxySet,
        cpchain_result::ShareInvalidExpiry,
        cpchain_result::ShareWrongChain,
        cpchain_result::ShareBadSignature,
        cpchain_result::ShareMalformedGrant,
        cpchain_result::ShareNotAddressedToUs,
        cpchain_result::ShareUnknownGrant,
        cpchain_result::ShareGrantNotLive,
        cpchain_result::ShareIntervalOutsideGrant,
        cpchain_result::ShareNotEnoughCfrags,
        cpchain_result::ShareNoPendingRequest,
        cpchain_result::ShareCapacityExceeded,
        cpchain_result::ShareDuplicateGrant,
        cpchain_result::ShareOther,
    ];

    /// The code for a raw number from C, which may be anything; `None` if unknown. A raw
    /// number is never transmuted into the enum: that would be undefined behaviour.
    pub fn from_code(code: u32) -> Option<cpchain_result> {
        Self::ALL.iter().copied().find(|r| *r as u32 == code)
    }

    /// Readable text of the code, without a trailing period.
    pub fn message(self) -> &'static str {
        use cpchain_result as R;
        match self {
            R::Ok => "success",
            R::NullParameter => "a required pointer argument was NULL",
            R::InvalidParameter => "an argument is out of range (length, alignment or flag)",
            R::InsufficientSize => "output buffer too small; the required size is in out_len",
            R::InvalidLength => "a fixed-size input has the wrong length",
            R::OverlappingBuffers => "an in-place buffer overlaps another argument",
            R::InvalidUtf8 => "text is not valid UTF-8",
            R::InvalidDomain => "signing domain is empty or too long",
            R::NoOutput => "nothing to poll",
            R::HandleBusy => {
                "handle is in use by another call (mutable handles are single-threaded)"
            }
            R::HandlePoisoned => "handle is poisoned by an earlier panic; only free it",
            R::Panic => "internal error: the library caught a panic",
            R::InvalidSecretKey => "invalid secp256k1 secret key",
            R::InvalidPublicKey => "invalid secp256k1 public key",
            R::MalformedSignature => "malformed signature",
            R::HighS => "signature has high s (non-canonical)",
            R::InvalidRecoveryId => "signature recovery id is not 0 or 1",
            R::RecoveryFailed => "public key recovery failed",
            R::BadSignature => "signature does not verify",
            R::WrongSigner => "signature is from an unexpected signer",
            R::OpenFailed => "authenticated decryption failed",
            R::CryptoOther => "cryptographic operation failed",
            R::AddressMissingPrefix => "address must start with 0x",
            R::AddressWrongLength => "address must have 40 hex digits",
            R::AddressNotHex => "address contains a non-hex character",
            R::AddressBadChecksum => "address has mixed case but an invalid EIP-55 checksum",
            R::AddressOther => "invalid address",
            R::DecodeTooLarge => "wire input exceeds the message size limit",
            R::DecodeTruncated => "wire input truncated",
            R::DecodeUnsupportedVersion => "unsupported wire version",
            R::DecodeWrongTag => "wire input is another message type",
            R::DecodeMalformed => "malformed wire message body",
            R::DecodeNonCanonical => "non-canonical wire encoding",
            R::DecodeTrailingBytes => "trailing bytes after the wire message",
            R::DecodeInvalid => "wire message holds an invalid value",
            R::DecodeOther => "wire message could not be decoded",
            R::EncodeFailed => "value could not be encoded",
            R::SpecInvalid => "inconsistent chain parameters",
            R::LbftWrongChain => "block of another chain",
            R::LbftWrongHeight => "block at the wrong height",
            R::LbftWrongParent => "block does not extend the parent",
            R::LbftWrongProposer => "block not sealed by the scheduled proposer",
            R::LbftBadSeal => "bad proposer seal",
            R::LbftTimestamp => "block time outside its window",
            R::LbftZeroCoinbase => "normal block with zero coinbase",
            R::LbftNotTheImpeachBlock => "not the deterministic impeach block",
            R::LbftTxRoot => "transaction root mismatch",
            R::LbftBlockTooLarge => "block too large",
            R::LbftContent => "block content invalid",
            R::LbftCertNotDistinct => "certificate signers not distinct",
            R::LbftCertNotMember => "certificate signer not in the committee",
            R::LbftCertBadSignature => "bad certificate signature",
            R::LbftCertNoQuorum => "certificate below quorum",
            R::LbftCertMismatch => "certificate does not match the block",
            R::LbftValidatorCount => "committee size is not 3f + 1",
            R::LbftValidatorSet => "invalid committee",
            R::LbftNotAValidator => "key is not in the committee",
            R::LbftPersistedMismatch => {
                "persisted validator state does not match this chain, key or committee"
            }
            R::LbftStaleHeight => "message for a decided height",
            R::LbftTooFarAhead => "message too far ahead",
            R::LbftBufferFull => "future-message buffer full",
            R::LbftStaleRound => "message for a past round",
            R::LbftNotMember => "vote from a non-member",
            R::LbftBadVoteSignature => "bad vote signature",
            R::LbftKindMismatch => "message kind mismatch",
            R::LbftDuplicate => "duplicate message",
            R::LbftEquivocation => "equivocating vote",
            R::LbftConflictingProposal => "conflicting proposal",
            R::LbftTooManyBlocks => "too many blocks at one height",
            R::LbftUnexpected => "unexpected message",
            R::LbftNotScheduled => "not the scheduled proposer",
            R::LbftAlreadyProposed => "already proposed at this height",
            R::LbftWindowClosed => "proposal window closed",
            R::LbftScheduleMismatch => "the DPoR schedule is for another chain spec",
            R::LbftEvidenceNoConflict => "evidence items do not conflict",
            R::LbftEvidenceDifferentSlots => "evidence items are about different slots",
            R::LbftEvidenceBadSignature => "an evidence signature does not verify",
            R::LbftEvidenceNotMember => "evidence signer is not a member or not the round's leader",
            R::LbftEvidenceImpeachBlock => "evidence about an impeach block",
            R::LbftOther => "LBFT operation failed",
            R::DporDuplicateCandidate => "duplicate candidate address",
            R::DporTooManyCandidates => "more candidates than the chain spec allows",
            R::DporWeights => "RPT weights do not sum to 100",
            R::DporDuplicateDefaultProposer => "duplicate default proposer address",
            R::DporNotEnoughDefaultProposers => "too few default proposers to fill the committee",
            R::DporSeats => "inconsistent committee seat counts in the chain spec",
            R::DporCommitteeSize => "committee size is not proposers_per_term",
            R::DporDuplicateMember => "committee names one address twice",
            R::DporScheduleConflict => "another committee is already installed for the term",
            R::DporScheduleFull => "schedule holds its capacity of terms",
            R::DporNotCheckpoint => "height is not a checkpoint",
            R::DporNoProposer => "no committee is known for this height",
            R::DporOther => "DPoR operation failed",
            R::ChainZeroPeriod => "data-chain block period T must be positive",
            R::ChainEncryptionInterval => "encryption interval e must be a positive multiple of T",
            R::ChainUploadInterval => "upload interval u must be a positive multiple of T",
            R::ChainTimeWentBackwards => "record time is earlier than a time already seen",
            R::ChainRecordTooLarge => "record exceeds the block capacity",
            R::ChainOutputPending => "a sealed block is waiting to be polled",
            R::ChainExhausted => "block index space exhausted",
            R::ChainBodyTampered => "block body does not match its signed hash",
            R::ChainBadSignature => "block has a bad device signature",
            R::ChainWrongStream => "block belongs to another stream",
            R::ChainMissingBlock => "a block is missing from the chain",
            R::ChainReordered => "blocks are out of order",
            R::ChainReplayed => "a block was replayed",
            R::ChainConflictingBlock => "two different signed blocks at one index",
            R::ChainBrokenLink => "block previous-hash link broken",
            R::ChainTimeNotMonotonic => "block time goes backwards",
            R::ChainMalformedHeader => "malformed block header",
            R::ChainIntervalMismatch => "block interval does not match its time",
            R::ChainWrongIntervalKey => "block sealed under another interval key",
            R::ChainNoKey => "no key for the block's interval",
            R::ChainDecryptFailed => "block decryption failed",
            R::ChainMalformedRecords => "decrypted records contradict the block header",
            R::ChainBadAnchor => "anchor has a bad device signature",
            R::ChainAnchorWrongStream => "anchor belongs to another stream",
            R::ChainAnchorMismatch => "anchored head does not match the block",
            R::ChainTruncatedAfterAnchor => "chain truncated after an anchor",
            R::ChainBackdatedAfterAnchor => "block backdated behind an anchor",
            R::ChainOther => "data-chain operation failed",
            R::ShareEmptyIntervalRange => "grant interval range is empty",
            R::ShareTooManyIntervals => "grant covers too many intervals",
            R::ShareInvalidThreshold => "threshold m is zero or above the number of proxies",
            R::ShareInvalidProxySet => "no proxies, too many, or one listed twice",
            R::ShareInvalidExpiry => "grant expiry is not after its issue time",
            R::ShareWrongChain => "sharing message of another chain",
            R::ShareBadSignature => "sharing message not signed by its claimed signer",
            R::ShareMalformedGrant => "malformed grant",
            R::ShareNotAddressedToUs => "grant is for another grantee or proxy",
            R::ShareUnknownGrant => "unknown grant",
            R::ShareGrantNotLive => "grant is expired, not yet valid, or revoked",
            R::ShareIntervalOutsideGrant => "interval outside the grant",
            R::ShareNotEnoughCfrags => "fewer verified cfrags than the threshold",
            R::ShareNoPendingRequest => "no pending request for this grant and interval",
            R::ShareCapacityExceeded => "sharing capacity exceeded",
            R::ShareDuplicateGrant => "a grant with this id is already held",
            R::ShareOther => "sharing operation failed",
        }
    }
}

/// Text for a code that is not one of ours (an errno value, garbage).
const UNKNOWN_MESSAGE: &str = "unknown cpchain_result code";

/// Bytes of the longest message text plus its NUL terminator, rounded up: a buffer of this
/// size always suffices for `cpchain_result_message`.
pub const CPCHAIN_RESULT_MESSAGE_MAX: usize = 128;

impl From<CryptoError> for cpchain_result {
    fn from(e: CryptoError) -> Self {
        use cpchain_result as R;
        match e {
            CryptoError::InvalidSecretKey => R::InvalidSecretKey,
            CryptoError::InvalidPublicKey => R::InvalidPublicKey,
            CryptoError::MalformedSignature => R::MalformedSignature,
            CryptoError::HighS => R::HighS,
            CryptoError::InvalidRecoveryId(_) => R::InvalidRecoveryId,
            CryptoError::RecoveryFailed => R::RecoveryFailed,
            CryptoError::BadSignature => R::BadSignature,
            CryptoError::WrongSigner => R::WrongSigner,
            CryptoError::OpenFailed => R::OpenFailed,
            CryptoError::BufferFull => R::InsufficientSize,
            _ => R::CryptoOther,
        }
    }
}

impl From<AddressError> for cpchain_result {
    fn from(e: AddressError) -> Self {
        use cpchain_result as R;
        match e {
            AddressError::MissingPrefix => R::AddressMissingPrefix,
            AddressError::WrongLength(_) => R::AddressWrongLength,
            AddressError::NotHex => R::AddressNotHex,
            AddressError::BadChecksum => R::AddressBadChecksum,
            _ => R::AddressOther,
        }
    }
}

impl From<DecodeError> for cpchain_result {
    fn from(e: DecodeError) -> Self {
        use cpchain_result as R;
        match e {
            DecodeError::TooLarge { .. } => R::DecodeTooLarge,
            DecodeError::Truncated => R::DecodeTruncated,
            DecodeError::UnsupportedVersion(_) => R::DecodeUnsupportedVersion,
            DecodeError::WrongTag { .. } => R::DecodeWrongTag,
            DecodeError::Malformed => R::DecodeMalformed,
            DecodeError::NonCanonical => R::DecodeNonCanonical,
            DecodeError::TrailingBytes(_) => R::DecodeTrailingBytes,
            DecodeError::Invalid(_) => R::DecodeInvalid,
            _ => R::DecodeOther,
        }
    }
}

impl From<EncodeError> for cpchain_result {
    fn from(_: EncodeError) -> Self {
        cpchain_result::EncodeFailed
    }
}

impl From<cpchain_storage::ConfigError> for cpchain_result {
    fn from(e: cpchain_storage::ConfigError) -> Self {
        use cpchain_storage::ConfigError as E;
        match e {
            E::ZeroPeriod => cpchain_result::ChainZeroPeriod,
            E::EncryptionInterval => cpchain_result::ChainEncryptionInterval,
            E::UploadInterval => cpchain_result::ChainUploadInterval,
            _ => cpchain_result::ChainOther,
        }
    }
}

impl From<cpchain_storage::WriteError> for cpchain_result {
    fn from(e: cpchain_storage::WriteError) -> Self {
        use cpchain_storage::WriteError as E;
        match e {
            E::TimeWentBackwards { .. } => cpchain_result::ChainTimeWentBackwards,
            E::RecordTooLarge { .. } => cpchain_result::ChainRecordTooLarge,
            E::OutputPending => cpchain_result::ChainOutputPending,
            E::Exhausted => cpchain_result::ChainExhausted,
            _ => cpchain_result::ChainOther,
        }
    }
}

impl From<cpchain_storage::VerifyError> for cpchain_result {
    fn from(e: cpchain_storage::VerifyError) -> Self {
        use cpchain_result as R;
        use cpchain_storage::VerifyError as E;
        match e {
            E::Decode(d) => d.into(),
            E::BodyTampered { .. } => R::ChainBodyTampered,
            E::BadSignature { .. } => R::ChainBadSignature,
            E::WrongStream { .. } => R::ChainWrongStream,
            E::MissingBlock { .. } => R::ChainMissingBlock,
            E::Reordered { .. } => R::ChainReordered,
            E::Replayed { .. } => R::ChainReplayed,
            E::ConflictingBlock { .. } => R::ChainConflictingBlock,
            E::BrokenLink { .. } => R::ChainBrokenLink,
            E::TimeNotMonotonic { .. } => R::ChainTimeNotMonotonic,
            E::MalformedHeader { .. } => R::ChainMalformedHeader,
            E::IntervalMismatch { .. } => R::ChainIntervalMismatch,
            E::WrongIntervalKey { .. } => R::ChainWrongIntervalKey,
            E::NoKey { .. } => R::ChainNoKey,
            E::DecryptFailed { .. } => R::ChainDecryptFailed,
            E::MalformedRecords { .. } => R::ChainMalformedRecords,
            E::ScratchTooSmall => R::InsufficientSize,
            E::BadAnchor { .. } => R::ChainBadAnchor,
            E::AnchorWrongStream { .. } => R::ChainAnchorWrongStream,
            E::AnchorMismatch { .. } => R::ChainAnchorMismatch,
            E::TruncatedAfterAnchor { .. } => R::ChainTruncatedAfterAnchor,
            E::BackdatedAfterAnchor { .. } => R::ChainBackdatedAfterAnchor,
            _ => R::ChainOther,
        }
    }
}

impl From<SpecError> for cpchain_result {
    fn from(_: SpecError) -> Self {
        cpchain_result::SpecInvalid
    }
}

// The exported text function sits in a child module: it needs the boundary's guards, and
// the boundary needs `cpchain_result`, so in this file it made `boundary ↔ result` an import
// cycle (issue 13 item 5). Declared here so the header keeps its order.
// The crate root re-exports it from there, not this file, for the same reason.
pub(crate) mod message;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_clear_of_errno() {
        for (i, a) in cpchain_result::ALL.iter().enumerate() {
            let code = *a as u32;
            assert!(code == 0 || (7000..8000).contains(&code), "{a:?}");
            assert_eq!(cpchain_result::from_code(code), Some(*a));
            for b in cpchain_result::ALL.iter().skip(i + 1) {
                assert_ne!(code, *b as u32);
                assert_ne!(a.message(), b.message());
            }
            assert!(a.message().len() < CPCHAIN_RESULT_MESSAGE_MAX);
        }
        assert_eq!(cpchain_result::from_code(7000), None);
        assert_eq!(cpchain_result::from_code(22), None);
    }

    #[test]
    fn every_code_is_in_the_header() {
        // The header is generated from the enum; this keeps `ALL` (written by hand) complete.
        let header = include_str!("../include/cpchain.h");
        let in_header = header
            .lines()
            .filter(|l| l.trim_start().starts_with("CPCHAIN_RESULT_") && l.contains(" = "))
            .count();
        assert_eq!(in_header, cpchain_result::ALL.len());
    }
}
