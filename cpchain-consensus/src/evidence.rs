//! Evidence of LBFT misbehaviour that a third party can check (white paper §2.4.2: faulty
//! proposers are impeached, and a validator that signs two conflicting messages is
//! Byzantine): the wire form of a validator's [`Fault`] output, and [`verify_evidence`],
//! which says who misbehaved or why the bytes prove nothing.
//!
//! A validator reports a fault with everything it saw; evidence keeps only what a stranger
//! needs to re-check the signatures: two votes, two sealed headers, two proposal claims
//! (the signed fields of a [`Proposal`], without its block: at most a few hundred bytes
//! instead of two blocks of up to 1 MiB), or a sealed header with the reason it was refused.
//! The verifier needs the chain id and the validator set, nothing of the validator's state.
//!
//! | evidence | proves | offender |
//! |---|---|---|
//! | [`Evidence::VoteEquivocation`] | two votes of one phase, one round, different blocks, both signed | the voter |
//! | [`Evidence::ProposerEquivocation`] | two headers on one parent at one height, both sealed by their proposer | the proposer |
//! | [`Evidence::LeaderEquivocation`] | two different proposals of one round, both signed by the round's leader | the leader |
//! | [`Evidence::IllicitBlock`] | the proposer sealed this header; the reason is the reporter's claim | the proposer |
//!
//! An illicit block's *reason* is only partly re-checkable from the evidence: the seal
//! proves authorship, while the reason needs the parent header (wrong height, parent or
//! timestamp), the body (size, transaction root) or the reporting host's own judgement of
//! the transactions (content), none of which a sealed header can carry. A bad seal is no
//! evidence at all: a seal that does not recover to the header's proposer proves nothing
//! about the proposer, and the deliverer may be an honest relay, so [`Evidence::from_fault`]
//! returns `None` for [`Fault::BadSeal`].
//!
//! Why here and not in `lbft`: the verifier is written against the engine's public types
//! as a third party would use them, and keeps the validator's files to the validator.
//!
//! Wire tag `0x0208` (`0x02xx`: LBFT).

use crate::lbft::message::{proposal_payload, PROPOSAL_DOMAIN};
use crate::lbft::{leader, BlockError, BlockId, Fault, Header, Proposal, ValidatorSet, Vote};
use cpchain_core::{Address, DecodeError, Height, WireMessage};
use cpchain_crypto::Signature;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A header with the proposer's seal over its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedHeader {
    /// The header.
    pub header: Header,
    /// The proposer's seal over `header.id()` under [`crate::lbft::block::SEAL_DOMAIN`].
    pub seal: Signature,
}

/// What a round leader signs of a [`Proposal`]: enough to re-check the signature and to
/// see that two proposals differ, without the block itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalClaim {
    /// Height.
    pub height: Height,
    /// Round (≥ 1).
    pub round: u32,
    /// Id of the proposed block.
    pub block: BlockId,
    /// Round of the proof-of-lock carried, if any.
    pub pol_round: Option<u32>,
    /// The signer.
    pub leader: Address,
    /// The leader's signature under [`PROPOSAL_DOMAIN`].
    pub signature: Signature,
}

impl From<&Proposal> for ProposalClaim {
    fn from(p: &Proposal) -> Self {
        ProposalClaim {
            height: p.height,
            round: p.round,
            block: p.block.id(),
            pol_round: p.proof_of_lock.as_ref().map(|c| c.round),
            leader: p.leader,
            signature: p.signature,
        }
    }
}

/// Why a sealed proposal was illicit, as the reporting validator judged it. A stable wire
/// form of the [`BlockError`]s a validator reports in [`Fault::IllicitBlock`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum IllicitReason {
    /// Not the scheduled proposer (re-checkable with the schedule).
    WrongProposer,
    /// A normal block with a zero coinbase (re-checkable from the header).
    ZeroCoinbase,
    /// Timestamp outside the proposal window (needs the parent header).
    Timestamp,
    /// Body over the size or count limit (needs the body).
    TooLarge,
    /// The body does not match the header's transaction root (needs the body).
    TxRoot,
    /// The host judged the transactions invalid (the host's judgement).
    Content,
    /// Another header rule (wrong chain, height or parent: needs the parent header).
    Other,
}

impl From<BlockError> for IllicitReason {
    fn from(e: BlockError) -> Self {
        match e {
            BlockError::WrongProposer => IllicitReason::WrongProposer,
            BlockError::ZeroCoinbase => IllicitReason::ZeroCoinbase,
            BlockError::Timestamp => IllicitReason::Timestamp,
            BlockError::TooLarge => IllicitReason::TooLarge,
            BlockError::TxRoot => IllicitReason::TxRoot,
            BlockError::Content => IllicitReason::Content,
            _ => IllicitReason::Other,
        }
    }
}

/// Proof of a validator's or proposer's misbehaviour, as it crosses the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Evidence {
    /// Two signed votes of one phase in one round of a height, for different blocks.
    VoteEquivocation {
        /// The vote seen first.
        first: Vote,
        /// The conflicting vote.
        second: Vote,
    },
    /// Two different headers sealed by one proposer for one height on one parent.
    ProposerEquivocation {
        /// The header seen first.
        first: SealedHeader,
        /// The conflicting header.
        second: SealedHeader,
    },
    /// Two different proposals signed by one round leader for one round.
    LeaderEquivocation {
        /// The proposal seen first.
        first: ProposalClaim,
        /// The conflicting proposal.
        second: ProposalClaim,
    },
    /// A correctly sealed header that the reporter refused as illicit (§2.4.2: impeach).
    IllicitBlock {
        /// The sealed header.
        header: SealedHeader,
        /// What the reporter found wrong with it.
        reason: IllicitReason,
    },
}

/// Largest encoded [`Evidence`]: two headers (at most 157 bytes each without their
/// envelope) and two 65-byte seals, plus the envelope and the variant, with room to spare.
pub const MAX_EVIDENCE_LEN: usize = 512;

impl WireMessage for Evidence {
    const TAG: u16 = 0x0208;
    const MAX_ENCODED_LEN: usize = MAX_EVIDENCE_LEN;
}

impl Evidence {
    /// The evidence in a validator's fault report, or `None` when the fault proves nothing
    /// a third party could check (a bad seal: see the module docs).
    pub fn from_fault(fault: &Fault) -> Option<Evidence> {
        Some(match fault {
            Fault::Equivocation { first, second } => Evidence::VoteEquivocation {
                first: first.clone(),
                second: second.clone(),
            },
            Fault::ProposerEquivocation {
                first,
                first_seal,
                second,
                second_seal,
            } => Evidence::ProposerEquivocation {
                first: SealedHeader {
                    header: first.clone(),
                    seal: *first_seal,
                },
                second: SealedHeader {
                    header: second.clone(),
                    seal: *second_seal,
                },
            },
            Fault::LeaderEquivocation { first, second } => Evidence::LeaderEquivocation {
                first: first.into(),
                second: second.into(),
            },
            Fault::IllicitBlock {
                header,
                seal,
                reason,
            } => Evidence::IllicitBlock {
                header: SealedHeader {
                    header: header.clone(),
                    seal: *seal,
                },
                reason: (*reason).into(),
            },
            Fault::BadSeal { .. } => return None,
        })
    }
}

/// Which misbehaviour a piece of evidence proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OffenceKind {
    /// Two conflicting votes.
    VoteEquivocation,
    /// Two conflicting sealed headers.
    ProposerEquivocation,
    /// Two conflicting leader proposals.
    LeaderEquivocation,
    /// A sealed illicit header, with the reporter's reason.
    IllicitBlock(IllicitReason),
}

/// What verified evidence proves: who misbehaved, how, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offence {
    /// How.
    pub kind: OffenceKind,
    /// Who: the voter, proposer or leader whose signatures are in the evidence.
    pub offender: Address,
    /// At which height.
    pub height: Height,
    /// In which round (votes and leader proposals); `None` for headers.
    pub round: Option<u32>,
}

/// Why evidence proves nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EvidenceError {
    /// The bytes are not an encoded [`Evidence`].
    #[error("not evidence: {0}")]
    Decode(#[from] DecodeError),
    /// A signed item belongs to another chain.
    #[error("evidence of another chain")]
    WrongChain,
    /// The two items are not about one slot (signer, height, round, phase or parent differ).
    #[error("the two items are about different slots")]
    DifferentSlots,
    /// The two items agree: no conflict.
    #[error("the two items do not conflict")]
    NoConflict,
    /// The signer is not a member of the validator set (votes) or not the round's leader.
    #[error("signer is not a member, or not the round's leader")]
    NotMember,
    /// A signature or seal does not verify for the named signer.
    #[error("a signature does not verify")]
    BadSignature,
    /// The header is an impeach block (built, never sealed): nothing to blame anyone for.
    #[error("an impeach block is nobody's proposal")]
    ImpeachBlock,
}

/// Decode and verify evidence bytes: [`verify_evidence`] after decoding.
pub fn verify_evidence_bytes(
    chain_id: u64,
    validators: &ValidatorSet,
    bytes: &[u8],
) -> Result<Offence, EvidenceError> {
    let evidence: Evidence = cpchain_core::encoding::decode(bytes)?;
    verify_evidence(chain_id, validators, &evidence)
}

/// Check `evidence` of chain `chain_id` against the committee `validators`: the
/// signatures verify, the two items are about one slot, and they conflict. Costs at most
/// two signature checks or public-key recoveries.
pub fn verify_evidence(
    chain_id: u64,
    validators: &ValidatorSet,
    evidence: &Evidence,
) -> Result<Offence, EvidenceError> {
    match evidence {
        Evidence::VoteEquivocation { first, second } => {
            if first.voter != second.voter
                || first.height != second.height
                || first.round != second.round
                || first.kind.phase() != second.kind.phase()
            {
                return Err(EvidenceError::DifferentSlots);
            }
            if first.block == second.block {
                return Err(EvidenceError::NoConflict);
            }
            for v in [first, second] {
                v.verify(chain_id, validators).map_err(|e| match e {
                    crate::lbft::CertificateError::NotMember => EvidenceError::NotMember,
                    _ => EvidenceError::BadSignature,
                })?;
            }
            Ok(Offence {
                kind: OffenceKind::VoteEquivocation,
                offender: first.voter,
                height: first.height,
                round: Some(first.round),
            })
        }
        Evidence::ProposerEquivocation { first, second } => {
            let (a, b) = (&first.header, &second.header);
            if a.proposer != b.proposer || a.height != b.height || a.parent != b.parent {
                return Err(EvidenceError::DifferentSlots);
            }
            if a == b {
                return Err(EvidenceError::NoConflict);
            }
            check_sealed(chain_id, first)?;
            check_sealed(chain_id, second)?;
            Ok(Offence {
                kind: OffenceKind::ProposerEquivocation,
                offender: a.proposer,
                height: a.height,
                round: None,
            })
        }
        Evidence::LeaderEquivocation { first, second } => {
            if first.leader != second.leader
                || first.height != second.height
                || first.round != second.round
            {
                return Err(EvidenceError::DifferentSlots);
            }
            if (first.block, first.pol_round) == (second.block, second.pol_round) {
                return Err(EvidenceError::NoConflict);
            }
            if first.round == 0
                || leader(validators, first.height, first.round) != Some(first.leader)
            {
                return Err(EvidenceError::NotMember);
            }
            for p in [first, second] {
                let payload = proposal_payload(chain_id, p.height, p.round, &p.block, p.pol_round);
                let signer = p
                    .signature
                    .recover_signer(&PROPOSAL_DOMAIN, &payload)
                    .map_err(|_| EvidenceError::BadSignature)?;
                if signer != p.leader {
                    return Err(EvidenceError::BadSignature);
                }
            }
            Ok(Offence {
                kind: OffenceKind::LeaderEquivocation,
                offender: first.leader,
                height: first.height,
                round: Some(first.round),
            })
        }
        Evidence::IllicitBlock { header, reason } => {
            check_sealed(chain_id, header)?;
            Ok(Offence {
                kind: OffenceKind::IllicitBlock(*reason),
                offender: header.header.proposer,
                height: header.header.height,
                round: None,
            })
        }
    }
}

/// A normal header of this chain whose seal recovers to its proposer.
fn check_sealed(chain_id: u64, s: &SealedHeader) -> Result<(), EvidenceError> {
    if s.header.chain_id != chain_id {
        return Err(EvidenceError::WrongChain);
    }
    if s.header.is_impeach() {
        return Err(EvidenceError::ImpeachBlock);
    }
    let signer = s
        .seal
        .recover_signer(&crate::lbft::block::SEAL_DOMAIN, s.header.id().as_bytes())
        .map_err(|_| EvidenceError::BadSignature)?;
    if signer == s.header.proposer {
        Ok(())
    } else {
        Err(EvidenceError::BadSignature)
    }
}
