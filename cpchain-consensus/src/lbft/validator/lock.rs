//! The lock rules, after Tendermint (Buchman, Kwon, Milosevic, *The latest gossip on BFT
//! consensus*, arXiv:1807.04938, Algorithm 1), with PREPARE for prevote and COMMIT for
//! precommit:
//! * a validator that COMMITs `B` in round `r` is locked on `(r, B)` (lines 36-43,
//!   `lockedValue`/`lockedRound`), and carries the lock into every later round;
//! * in a later round it PREPAREs a proposed block only if unlocked, locked on that block,
//!   or shown a P-certificate for it from a round `>= r` (lines 22-33, `lockedRound ≤ vr`);
//!   otherwise it PREPAREs its fallback;
//! * a round leader proposes its highest-round block with a P-certificate, the *valid
//!   value* (set at lines 42-43, proposed at lines 14-16 with `validRound` as the
//!   proof-of-lock round).

use super::Validator;
use crate::lbft::block::{Block, BlockId};
use crate::lbft::error::{CertificateError, Rejected};
use crate::lbft::schedule::ProposerSchedule;
use crate::lbft::vote::{Certificate, Phase, VoteKind};

impl<S: ProposerSchedule> Validator<S> {
    /// A lock proof's block must be the impeach block or a well-formed block for this
    /// height sealed by the scheduled proposer; its certificate a PREPARE-phase quorum on
    /// it. The content is not re-judged: the certificate holds at least f + 1 honest
    /// PREPAREs, each given only after the host's check. The seal *is* re-checked: it is
    /// not part of the id the certificate signs, so a copy with a stripped or replaced
    /// seal carries the same certificate (issue 12 item 0).
    pub(super) fn check_lock_proof(
        &mut self,
        id: BlockId,
        block: &Block,
        cert: &Certificate,
    ) -> Result<(), Rejected> {
        self.check_block_sealed(id, block)?;
        let impeach = id == self.impeach_id;
        if cert.kind != VoteKind::of(Phase::Prepare, impeach)
            || cert.height != self.height
            || cert.block != id
        {
            return Err(Rejected::Certificate(CertificateError::Mismatch));
        }
        let quorum = self.quorum_for(impeach);
        let n = cert.verify(self.cfg.spec.chain_id, &self.cfg.validators, quorum);
        let counted = match n {
            Ok(n) => n,
            Err(CertificateError::BadSignature) => cert.signatures.len(),
            Err(_) => 0,
        };
        self.stats.verifies = self.stats.verifies.saturating_add(counted as u64);
        n.map(|_| ()).map_err(Rejected::Certificate)
    }

    /// The highest-round block with a P-certificate whose content is known (Tendermint's
    /// "valid value").
    pub(super) fn valid_value(&self) -> Option<(u32, BlockId)> {
        let from_tally = self
            .tally
            .counted()
            .filter(|(r, ph, id)| *ph == Phase::Prepare && self.has_quorum(*r, *ph, *id))
            .map(|(r, _, id)| (r, id));
        let from_certs = self.tally.pcert_keys();
        from_tally
            .chain(from_certs)
            .filter(|(_, id)| self.blocks.contains_key(id))
            .max_by_key(|(r, _)| *r)
    }

    /// What to PREPARE when no acceptable proposal came: the locked block (a locked
    /// validator carries its lock into every later round) or else the impeach block.
    pub(super) fn fallback(&self) -> BlockId {
        self.lock.map(|(_, id)| id).unwrap_or(self.impeach_id)
    }

    /// Tendermint's prevote rule. Safety rests on it: once locked on `B` at round `l`,
    /// prepare another block only with a P-certificate for it from a round ≥ `l`.
    pub(super) fn acceptable(&self, id: BlockId, pol_round: Option<u32>) -> bool {
        match self.lock {
            None => true,
            Some((_, locked)) if locked == id => true,
            Some((l, _)) => pol_round.is_some_and(|vr| vr >= l),
        }
    }
}
