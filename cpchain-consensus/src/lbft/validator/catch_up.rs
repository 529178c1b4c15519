//! Catch-up: the VALIDATEs of recent heights a validator keeps and hands to lagging peers
//! (see the module docs of [`crate::lbft`], *Catch-up*), and the VALIDATE that moves this
//! validator on (§2.4.2 step 5).

use super::{Validator, ValidatorOutput};
use crate::lbft::block::{Block, BlockId};
use crate::lbft::budget::{heap_of_block, heap_of_certificate};
use crate::lbft::error::{BlockError, CertificateError, Rejected};
use crate::lbft::light::verify_validate_on;
use crate::lbft::message::{Message, Validate};
use crate::lbft::schedule::ProposerSchedule;
use crate::lbft::vote::{Phase, VoteKind};
use cpchain_core::{Address, Height, Timestamp};

impl<S: ProposerSchedule> Validator<S> {
    /// Give a restarted validator a VALIDATE from the host's chain, to hand to lagging
    /// peers (catch-up): first the chain head's block with its C-certificate (the block
    /// this validator builds on), then older ones, newest first, up to
    /// [`Config::catch_up_heights`](crate::lbft::Config::catch_up_heights). Without it a validator restarted just after deciding
    /// holds nothing to give, and peers that missed that decision may wait forever: with
    /// one Byzantine validator silent at `n = 4`, the decision's certificate may exist
    /// nowhere else (test `restarted_validator_helps_peers_with_the_head_it_remembers`).
    ///
    /// Checked like a message, state unchanged on `Err`: it must link (the head, or the
    /// parent of the oldest VALIDATE held; else [`BlockError::WrongParent`]), carry the body
    /// its header commits to ([`BlockError::TxRoot`]) and the seal the light verifier
    /// requires (a normal block sealed by its proposer, an impeach block unsealed; else
    /// [`BlockError::BadSeal`]: the seal is not in the id, so the chain link does not pin
    /// it), and a commit-phase certificate of the right kind with a quorum of valid
    /// signatures. Whatever is remembered is handed to peers, so it must pass their light
    /// verification.
    /// [`Rejected::Duplicate`] if already held, [`Rejected::StaleHeight`] once
    /// `catch_up_heights` are held.
    pub fn remember(&mut self, validate: Validate) -> Result<(), Rejected> {
        let id = validate.block.id();
        if self.recent.iter().any(|v| v.block.id() == id) {
            return Err(Rejected::Duplicate);
        }
        let keep = usize::try_from(self.cfg.catch_up_heights).unwrap_or(usize::MAX);
        if self.recent.len() >= keep {
            return Err(Rejected::StaleHeight);
        }
        let expected = match self.recent.front() {
            Some(oldest) => oldest.block.header.parent,
            None => self.parent_id,
        };
        if id != expected {
            return Err(Rejected::Block(BlockError::WrongParent));
        }
        self.check_remembered_block(&id, &validate.block)?;
        let impeach = validate.block.is_impeach();
        let cert = &validate.certificate;
        if cert.kind != VoteKind::of(Phase::Commit, impeach)
            || cert.height != validate.block.header.height
            || cert.block != id
        {
            return Err(Rejected::Certificate(CertificateError::Mismatch));
        }
        let n = cert.verify(
            self.cfg.spec.chain_id,
            &self.cfg.validators,
            self.quorum_for(impeach),
        );
        let counted = match n {
            Ok(n) => n,
            Err(CertificateError::BadSignature) => cert.signatures.len(),
            Err(_) => 0,
        };
        self.stats.verifies = self.stats.verifies.saturating_add(counted as u64);
        n.map_err(Rejected::Certificate)?;
        let extra = heap_of_block(&validate.block)
            .saturating_add(heap_of_certificate(&validate.certificate));
        if !self.recent.is_empty()
            && self.catch_up_bytes().saturating_add(extra) > self.cfg.catch_up_bytes
        {
            return Err(Rejected::StaleHeight);
        }
        self.recent.push_front(validate);
        Ok(())
    }

    /// What the chain link of [`Validator::remember`] does not pin: the header is the
    /// host's (its id links), but body and seal are outside the id. A decided normal block
    /// carries its proposer's seal; an impeach block none (light verification requires
    /// exactly that). `id` is `block.id()`.
    pub(super) fn check_remembered_block(
        &mut self,
        id: &BlockId,
        block: &Block,
    ) -> Result<(), Rejected> {
        self.check_body_binding(block)?;
        if block.is_impeach() {
            return match block.seal {
                None => Ok(()),
                Some(_) => Err(Rejected::Block(BlockError::BadSeal)),
            };
        }
        self.stats.recoveries = self.stats.recoveries.saturating_add(1);
        block.verify_seal_of(id).map_err(Rejected::Block)
    }

    pub(super) fn catch_up_bytes(&self) -> usize {
        self.recent
            .iter()
            .map(|v| heap_of_block(&v.block).saturating_add(heap_of_certificate(&v.certificate)))
            .sum()
    }

    /// Drop the oldest recent VALIDATEs beyond `catch_up_heights` or `catch_up_bytes`,
    /// always keeping the newest (the one a validator one height behind needs).
    pub(super) fn trim_recent(&mut self) {
        let keep = usize::try_from(self.cfg.catch_up_heights).unwrap_or(usize::MAX);
        while self.recent.len() > 1
            && (self.recent.len() > keep || self.catch_up_bytes() > self.cfg.catch_up_bytes)
        {
            self.recent.pop_front();
        }
    }

    /// A validator still working on an old height `height` gets its VALIDATE, if it is
    /// recent enough to be held: nobody re-sends old messages, so without this a validator
    /// that missed one would wait forever. Answered once per peer and height per round of
    /// ours: a lost answer is repeated after our next round change (the laggard sends a
    /// round change in each of its rounds), while a Byzantine peer, whatever it sends,
    /// gets at most `catch_up_heights` blocks per round. Unsigned work only: `from` is the
    /// transport's peer, and the answer goes to it.
    pub(super) fn help_laggard(&mut self, from: Address, height: Height) {
        if height >= self.height || from == self.me || !self.cfg.validators.contains(&from) {
            return;
        }
        let Some(v) = self.recent.iter().find(|v| v.block.header.height == height) else {
            return;
        };
        if self.helped.insert((from, height)) {
            self.outputs.push_back(ValidatorOutput::Send {
                to: from,
                msg: Message::Validate(v.clone()),
            });
        }
    }

    pub(super) fn on_validate(&mut self, now: Timestamp, v: Validate) -> Result<(), Rejected> {
        // Light verification: the same rules users apply (§2.4.2 step 6).
        let checked = verify_validate_on(
            &self.cfg.spec,
            &self.cfg.validators,
            self.cfg.impeach_quorum,
            &self.schedule,
            &v,
            &self.parent,
            &self.parent_id,
        );
        let id = match checked {
            Ok((n, id)) => {
                // `n` counts the seal of a normal block as one of its checks.
                let seal = u64::from(!v.block.is_impeach());
                self.stats.verifies = self
                    .stats
                    .verifies
                    .saturating_add((n as u64).saturating_sub(seal));
                self.stats.recoveries = self.stats.recoveries.saturating_add(seal);
                id
            }
            Err(e) => {
                self.stats.verifies = self.stats.verifies.saturating_add(1);
                return Err(e.into());
            }
        };
        // §2.4.2 step 5: adopt and re-broadcast once (we leave the height, so later
        // copies are stale).
        self.decide(now, id, v.block, v.certificate);
        Ok(())
    }
}
