//! The LBFT wire messages. Paper names are kept (PRE-PREPARE, PREPARE, COMMIT, VALIDATE and
//! their IMPEACH forms); the round is an added field, and two messages are added for rounds:
//! a round leader's [`Proposal`] and the [`RoundChange`] that carries a proof-of-lock.
//!
//! Wire tags (`0x02xx`): `0x0200` [`Message`], `0x0201` [`Validate`], `0x0202`
//! [`Block`], `0x0203` [`Vote`], `0x0207` [`crate::lbft::Persisted`] (v2; `0x0204` was v1), `0x0205`
//! [`Certificate`], `0x0206` [`crate::lbft::Header`].

use super::block::{Block, BlockId, MAX_BLOCK_BYTES};
use super::committee::ValidatorSet;
use super::error::CertificateError;
use super::round::leader;
use super::vote::{Certificate, Vote, MAX_CERTIFICATE_BYTES};
use cpchain_core::encoding::Domain;
use cpchain_core::{Address, Height, WireMessage};
use cpchain_crypto::{SecretKey, Signature};
use serde::{Deserialize, Serialize};

/// Domain of a round leader's proposal signature.
pub const PROPOSAL_DOMAIN: Domain = Domain::new("cpchain/lbft/proposal/v1");
/// Domain of a round-change signature. `v2`: the signature also covers the carried lock
/// (issue 12 item 2); a `v1` signature (over `chain ‖ height ‖ round` only) never verifies
/// as a `v2` one, so an old-format copy cannot pass for a new one.
pub const ROUND_CHANGE_DOMAIN: Domain = Domain::new("cpchain/lbft/round-change/v2");

/// Any LBFT message between validators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// PRE-PREPARE: the scheduled proposer's sealed block for round 0 (§2.4.2 Block
    /// Production). Authenticated by the seal.
    PrePrepare(Block),
    /// A round leader's proposal for round ≥ 1: its proof-of-lock value or the impeach
    /// block. (Added: the paper has no rounds.)
    Proposal(Proposal),
    /// PREPARE, COMMIT, IMPEACH PREPARE or IMPEACH COMMIT.
    Vote(Vote),
    /// Entering a new round, carrying the sender's lock and its P-certificate.
    RoundChange(RoundChange),
    /// VALIDATE or IMPEACH VALIDATE: a block with its C-certificate.
    Validate(Validate),
}

/// Encoded bytes of the largest block-carrying message envelope overhead.
const ENVELOPE_SLACK: usize = 512;

impl WireMessage for Message {
    const TAG: u16 = 0x0200;
    const MAX_ENCODED_LEN: usize =
        <Block as WireMessage>::MAX_ENCODED_LEN + MAX_CERTIFICATE_BYTES + ENVELOPE_SLACK;
}

impl Message {
    /// The height the message is about.
    pub fn height(&self) -> Height {
        match self {
            Message::PrePrepare(b) => b.header.height,
            Message::Proposal(p) => p.height,
            Message::Vote(v) => v.height,
            Message::RoundChange(r) => r.height,
            Message::Validate(v) => v.block.header.height,
        }
    }
}

/// A round leader's proposal (rounds ≥ 1). The leader of round `r` at height `h` is
/// validator `(h + r) mod n` in address order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// Height.
    pub height: Height,
    /// Round (≥ 1).
    pub round: u32,
    /// The proposed block: a value with a P-certificate, or the impeach block.
    pub block: Block,
    /// Proof-of-lock: a P-certificate for `block` from an earlier round. Required for a
    /// normal block (its content was judged by the honest members of that certificate).
    pub proof_of_lock: Option<Certificate>,
    /// The leader.
    pub leader: Address,
    /// Leader's signature under [`PROPOSAL_DOMAIN`] over the 57 bytes `chain (u64 LE) ‖
    /// height (u64 LE) ‖ round (u32 LE) ‖ block id (32) ‖ pol round (u32 LE, `u32::MAX`
    /// without a proof-of-lock) ‖ pol flag (1 byte: 1 with a proof-of-lock, else 0)`. Check
    /// it with [`Proposal::verify`].
    pub signature: Signature,
}

/// The signed payload of a proposal (see [`Proposal::signature`]). `block` is computed
/// from the block, never taken from the wire. Crate-visible for `crate::evidence`, which
/// checks a leader's signature over a proposal's signed fields without its block.
pub(crate) fn proposal_payload(
    chain_id: u64,
    height: Height,
    round: u32,
    block: &BlockId,
    pol_round: Option<u32>,
) -> [u8; 57] {
    let mut out = [0u8; 57];
    let pol = pol_round.unwrap_or(u32::MAX).to_le_bytes();
    let flag = [u8::from(pol_round.is_some())];
    let parts: [&[u8]; 6] = [
        &chain_id.to_le_bytes(),
        &height.0.to_le_bytes(),
        &round.to_le_bytes(),
        block.as_bytes(),
        &pol,
        &flag,
    ];
    for (dst, src) in out.iter_mut().zip(parts.iter().flat_map(|p| p.iter())) {
        *dst = *src;
    }
    out
}

impl Proposal {
    /// Sign a proposal as round leader.
    pub fn sign(
        key: &SecretKey,
        chain_id: u64,
        height: Height,
        round: u32,
        block: Block,
        proof_of_lock: Option<Certificate>,
    ) -> Proposal {
        let pol_round = proof_of_lock.as_ref().map(|c| c.round);
        let payload = proposal_payload(chain_id, height, round, &block.id(), pol_round);
        Proposal {
            height,
            round,
            block,
            proof_of_lock,
            leader: key.public_key().address(),
            signature: key.sign(&PROPOSAL_DOMAIN, &payload),
        }
    }

    /// Check that the leader of this proposal's height and round in `set` ([`leader`])
    /// signed it for `chain_id`, covering the block's id and the proof-of-lock's round.
    /// [`CertificateError::NotMember`] if `leader` is not that leader,
    /// [`CertificateError::BadSignature`] if the signature does not verify. The
    /// proof-of-lock's own signatures and the block's seal are not checked here (the
    /// signature covers neither): a receiver checks them against its state.
    pub fn verify(&self, chain_id: u64, set: &ValidatorSet) -> Result<(), CertificateError> {
        if leader(set, self.height, self.round) != Some(self.leader) {
            return Err(CertificateError::NotMember);
        }
        let key = set
            .key_of(&self.leader)
            .ok_or(CertificateError::NotMember)?;
        let pol_round = self.proof_of_lock.as_ref().map(|c| c.round);
        key.verify_payload(
            &PROPOSAL_DOMAIN,
            &proposal_payload(
                chain_id,
                self.height,
                self.round,
                &self.block.id(),
                pol_round,
            ),
            &self.signature,
        )
        .map_err(|_| CertificateError::BadSignature)
    }
}

/// A validator's lock: the block and the P-certificate that made it lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockProof {
    /// The locked block.
    pub block: Block,
    /// Its P-certificate (PREPARE or IMPEACH PREPARE, quorum).
    pub certificate: Certificate,
}

/// Sent on entering round `round ≥ 1`: lets the next leader learn every lock before it
/// proposes (the liveness argument needs this), and lets lagging validators catch up in
/// rounds (f + 1 round changes for a round prove an honest validator is there).
///
/// The signature covers the lock it carries (its block id and certificate round), so a
/// relay cannot strip the lock from a copy and deliver that first: the stripped copy does
/// not verify, and the real one is not a duplicate of it. The lock's seal and body are not
/// signed (the id does not cover them); the receiver checks them as the light verifier
/// would.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundChange {
    /// Height.
    pub height: Height,
    /// The round being entered.
    pub round: u32,
    /// The sender's lock, if any.
    pub lock: Option<LockProof>,
    /// The sender.
    pub voter: Address,
    /// Signature over `chain ‖ height ‖ round ‖ lock flag ‖ locked block id ‖ lock round`
    /// (zeros after a clear flag), under [`ROUND_CHANGE_DOMAIN`].
    pub signature: Signature,
}

/// The signed payload of a round change. `lock` is the carried lock's block id (computed
/// from the block, never taken from the wire) and its certificate round.
fn round_change_payload(
    chain_id: u64,
    height: Height,
    round: u32,
    lock: Option<(BlockId, u32)>,
) -> [u8; 57] {
    let mut out = [0u8; 57];
    let (flag, id, lock_round) = match lock {
        Some((id, r)) => (1u8, id, r),
        None => (0u8, BlockId::ZERO, 0),
    };
    let parts: [&[u8]; 6] = [
        &chain_id.to_le_bytes(),
        &height.0.to_le_bytes(),
        &round.to_le_bytes(),
        &[flag],
        id.as_bytes(),
        &lock_round.to_le_bytes(),
    ];
    for (dst, src) in out.iter_mut().zip(parts.iter().flat_map(|p| p.iter())) {
        *dst = *src;
    }
    out
}

impl LockProof {
    /// What a round change signs of this lock: the block id and the certificate round.
    pub(crate) fn signed_part(&self) -> (BlockId, u32) {
        (self.block.id(), self.certificate.round)
    }
}

impl RoundChange {
    /// Sign a round change, covering the lock it carries.
    pub fn sign(
        key: &SecretKey,
        chain_id: u64,
        height: Height,
        round: u32,
        lock: Option<LockProof>,
    ) -> RoundChange {
        let signed = lock.as_ref().map(LockProof::signed_part);
        RoundChange {
            height,
            round,
            lock,
            voter: key.public_key().address(),
            signature: key.sign(
                &ROUND_CHANGE_DOMAIN,
                &round_change_payload(chain_id, height, round, signed),
            ),
        }
    }

    /// Check that member `voter` of `set` signed this round change for `chain_id`,
    /// covering the lock it carries (its block id, computed here, and certificate round).
    /// [`CertificateError::NotMember`] if `voter` is not in `set`,
    /// [`CertificateError::BadSignature`] if the signature does not verify. The lock's
    /// certificate and seal are not checked here (the signature covers neither).
    pub fn verify(&self, chain_id: u64, set: &ValidatorSet) -> Result<(), CertificateError> {
        let key = set.key_of(&self.voter).ok_or(CertificateError::NotMember)?;
        let signed = self.lock.as_ref().map(LockProof::signed_part);
        key.verify_payload(
            &ROUND_CHANGE_DOMAIN,
            &round_change_payload(chain_id, self.height, self.round, signed),
            &self.signature,
        )
        .map_err(|_| CertificateError::BadSignature)
    }
}

/// VALIDATE / IMPEACH VALIDATE (§2.4.2 Normal Case steps 4–6, Impeachment steps 4–6): a
/// block and its C-certificate, what validators broadcast and users import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validate {
    /// The decided block.
    pub block: Block,
    /// COMMIT (or IMPEACH COMMIT) certificate on it.
    pub certificate: Certificate,
}

impl WireMessage for Validate {
    const TAG: u16 = 0x0201;
    const MAX_ENCODED_LEN: usize =
        <Block as WireMessage>::MAX_ENCODED_LEN + MAX_CERTIFICATE_BYTES + ENVELOPE_SLACK;
}

/// Compile-time check that the block cap is below the message cap.
const _: () = assert!(MAX_BLOCK_BYTES < <Message as WireMessage>::MAX_ENCODED_LEN);
