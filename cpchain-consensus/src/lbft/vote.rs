//! Votes (PREPARE, COMMIT, IMPEACH PREPARE, IMPEACH COMMIT) and the quorum certificates
//! they form (P-certificate, C-certificate; §2.4.2 "Quorum").
//!
//! Every vote is signed under a per-kind [`Domain`] over
//! `chain_id (8 B LE) ‖ height (8 B LE) ‖ round (4 B LE) ‖ block id (32 B)`, so a vote can
//! never be replayed on another chain, height, round, block or as another kind. (Mainnet
//! signed the bare header hash; see the crate docs.)

use super::block::BlockId;
use super::committee::ValidatorSet;
use super::error::CertificateError;
use alloc::vec::Vec;
use cpchain_core::encoding::Domain;
use cpchain_core::{Address, Height, WireMessage};
use cpchain_crypto::{SecretKey, Signature};
use serde::{Deserialize, Serialize};

/// The four vote kinds of §2.4.2. PREPARE/COMMIT are for normal blocks, the IMPEACH kinds
/// for the deterministic impeach block only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum VoteKind {
    /// Normal case step 2.
    Prepare,
    /// Normal case step 3.
    Commit,
    /// Impeachment step 2.
    ImpeachPrepare,
    /// Impeachment step 3.
    ImpeachCommit,
}

/// The phase a vote belongs to. An honest validator signs at most one vote per phase per
/// round, whatever the kind: this is what forbids COMMIT and IMPEACH COMMIT in one round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Phase {
    /// PREPARE or IMPEACH PREPARE.
    Prepare,
    /// COMMIT or IMPEACH COMMIT.
    Commit,
}

impl VoteKind {
    /// The signing domain of this kind.
    pub const fn domain(self) -> Domain {
        match self {
            VoteKind::Prepare => Domain::new("cpchain/lbft/prepare/v1"),
            VoteKind::Commit => Domain::new("cpchain/lbft/commit/v1"),
            VoteKind::ImpeachPrepare => Domain::new("cpchain/lbft/impeach-prepare/v1"),
            VoteKind::ImpeachCommit => Domain::new("cpchain/lbft/impeach-commit/v1"),
        }
    }

    /// Prepare or commit phase.
    pub const fn phase(self) -> Phase {
        match self {
            VoteKind::Prepare | VoteKind::ImpeachPrepare => Phase::Prepare,
            VoteKind::Commit | VoteKind::ImpeachCommit => Phase::Commit,
        }
    }

    /// Whether this is one of the impeachment kinds.
    pub const fn is_impeach(self) -> bool {
        matches!(self, VoteKind::ImpeachPrepare | VoteKind::ImpeachCommit)
    }

    /// The kind for a phase and block type.
    pub const fn of(phase: Phase, impeach: bool) -> VoteKind {
        match (phase, impeach) {
            (Phase::Prepare, false) => VoteKind::Prepare,
            (Phase::Commit, false) => VoteKind::Commit,
            (Phase::Prepare, true) => VoteKind::ImpeachPrepare,
            (Phase::Commit, true) => VoteKind::ImpeachCommit,
        }
    }
}

/// The signed bytes of a vote.
pub(crate) fn vote_payload(chain_id: u64, height: Height, round: u32, block: &BlockId) -> [u8; 52] {
    let mut out = [0u8; 52];
    let parts: [&[u8]; 4] = [
        &chain_id.to_le_bytes(),
        &height.0.to_le_bytes(),
        &round.to_le_bytes(),
        block.as_bytes(),
    ];
    for (dst, src) in out.iter_mut().zip(parts.iter().flat_map(|p| p.iter())) {
        *dst = *src;
    }
    out
}

/// One validator's signed vote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    /// Kind (and so phase).
    pub kind: VoteKind,
    /// Height voted at.
    pub height: Height,
    /// Round within the height.
    pub round: u32,
    /// Block voted for.
    pub block: BlockId,
    /// The voter.
    pub voter: Address,
    /// Signature under `kind.domain()` over the vote payload.
    pub signature: Signature,
}

impl WireMessage for Vote {
    const TAG: u16 = 0x0203;
    const MAX_ENCODED_LEN: usize = 160;
}

impl Vote {
    /// Sign a vote.
    pub fn sign(
        key: &SecretKey,
        chain_id: u64,
        kind: VoteKind,
        height: Height,
        round: u32,
        block: BlockId,
    ) -> Vote {
        Vote::sign_as(
            key,
            key.public_key().address(),
            chain_id,
            kind,
            height,
            round,
            block,
        )
    }

    /// [`Vote::sign`] by a signer that knows its address (`voter` must be `key`'s: the
    /// engine computes it once rather than hashing the public key for every vote).
    pub(crate) fn sign_as(
        key: &SecretKey,
        voter: Address,
        chain_id: u64,
        kind: VoteKind,
        height: Height,
        round: u32,
        block: BlockId,
    ) -> Vote {
        let signature = key.sign(
            &kind.domain(),
            &vote_payload(chain_id, height, round, &block),
        );
        Vote {
            kind,
            height,
            round,
            block,
            voter,
            signature,
        }
    }

    /// Check the signature against the voter's key in `set`.
    pub fn verify(&self, chain_id: u64, set: &ValidatorSet) -> Result<(), CertificateError> {
        let key = set.key_of(&self.voter).ok_or(CertificateError::NotMember)?;
        key.verify_payload(
            &self.kind.domain(),
            &vote_payload(chain_id, self.height, self.round, &self.block),
            &self.signature,
        )
        .map_err(|_| CertificateError::BadSignature)
    }
}

/// A quorum certificate: signatures of distinct validators on one (kind, height, round,
/// block). A PREPARE certificate is the paper's P-certificate (and the proof-of-lock carried
/// into later rounds); a COMMIT certificate is the C-certificate of a VALIDATE message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// Kind of the votes.
    pub kind: VoteKind,
    /// Height.
    pub height: Height,
    /// Round the votes were cast in.
    pub round: u32,
    /// Block certified.
    pub block: BlockId,
    /// `(voter, signature)`, strictly increasing by voter address: each validator counts
    /// once, structurally (the mainnet client counted duplicates).
    pub signatures: Vec<(Address, Signature)>,
}

/// Encoded bytes of the largest certificate.
pub const MAX_CERTIFICATE_BYTES: usize = super::committee::MAX_VALIDATORS * (20 + 65) + 64;

impl WireMessage for Certificate {
    const TAG: u16 = 0x0205;
    const MAX_ENCODED_LEN: usize = MAX_CERTIFICATE_BYTES;
}

impl Certificate {
    /// Verify: distinct members, valid signatures, at least `quorum` of them. Returns the
    /// number of signatures checked (for the caller's cost accounting). Stops at the first
    /// failure; never panics on hostile input.
    pub fn verify(
        &self,
        chain_id: u64,
        set: &ValidatorSet,
        quorum: usize,
    ) -> Result<usize, CertificateError> {
        // Cheap structural checks before any signature work.
        if self.signatures.len() < quorum {
            return Err(CertificateError::NoQuorum {
                found: self.signatures.len(),
                quorum,
            });
        }
        if self.signatures.len() > set.len() {
            return Err(CertificateError::NotDistinct);
        }
        let strictly_increasing = self.signatures.windows(2).all(|w| match w {
            [a, b] => a.0 < b.0,
            _ => true,
        });
        if !strictly_increasing {
            return Err(CertificateError::NotDistinct);
        }
        let payload = vote_payload(chain_id, self.height, self.round, &self.block);
        let domain = self.kind.domain();
        let digest = cpchain_core::encoding::signing_digest(&domain, &payload);
        let mut checked = 0usize;
        for (voter, sig) in &self.signatures {
            let key = set.key_of(voter).ok_or(CertificateError::NotMember)?;
            checked = checked.saturating_add(1);
            key.verify(&digest, sig)
                .map_err(|_| CertificateError::BadSignature)?;
        }
        Ok(checked)
    }
}
