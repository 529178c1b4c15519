//! Checking and taking in a peer's message at the current height: PRE-PREPARE, a leader's
//! proposal, a vote, a round change.

use super::{Fault, Validator, ValidatorOutput};
use crate::lbft::block::{
    check_normal_header_fields, tx_leaves, tx_root, tx_root_of_leaves, Block,
};
use crate::lbft::budget::{heap_of_block, heap_of_proposal};
use crate::lbft::error::{BlockError, CertificateError, Rejected};
use crate::lbft::message::{Proposal, RoundChange};
use crate::lbft::round::leader;
use crate::lbft::schedule::ProposerSchedule;
use crate::lbft::vote::Vote;
use alloc::vec::Vec;
use cpchain_core::{keccak256, Address, Hash, Timestamp};

impl<S: ProposerSchedule> Validator<S> {
    pub(super) fn on_pre_prepare(
        &mut self,
        now: Timestamp,
        from: Address,
        block: Block,
    ) -> Result<(), Rejected> {
        if block.is_impeach() {
            // Impeach blocks are built, never proposed.
            return Err(Rejected::Block(BlockError::NotTheImpeachBlock));
        }
        let scheduled = self.schedule.proposer_of(self.height);
        if scheduled != Some(block.header.proposer) {
            return Err(Rejected::Block(BlockError::WrongProposer));
        }
        self.check_pre_prepare_place(&block)?;
        let id = block.id();
        if let Some((first, _, _)) = &self.pre_prepare {
            if *first == id {
                return Err(Rejected::Duplicate);
            }
        }
        self.stats.recoveries = self.stats.recoveries.saturating_add(1);
        let seal = match (block.verify_seal_of(&id), block.seal) {
            (Ok(()), Some(seal)) => seal,
            _ => {
                self.outputs
                    .push_back(ValidatorOutput::Fault(Fault::BadSeal { from, block: id }));
                return Err(Rejected::Block(BlockError::BadSeal));
            }
        };
        // The leaves are kept for the host's CheckBlock (issue 14: hashed once).
        let tx_hashes = self.check_body_leaves(&block)?;
        if let Some((_, first, first_seal)) = &self.pre_prepare {
            self.outputs
                .push_back(ValidatorOutput::Fault(Fault::ProposerEquivocation {
                    first: first.clone(),
                    first_seal: *first_seal,
                    second: block.header.clone(),
                    second_seal: seal,
                }));
            return Err(Rejected::ConflictingProposal);
        }
        self.pre_prepare = Some((id, block.header.clone(), seal));
        // The body binding was checked above: the header rules without a second body hash.
        if let Err(reason) = check_normal_header_fields(
            &self.cfg.spec,
            &self.parent,
            &self.parent_id,
            scheduled,
            &block,
            self.cfg.max_block_bytes,
            self.cfg.max_transactions,
        ) {
            self.outputs
                .push_back(ValidatorOutput::Fault(Fault::IllicitBlock {
                    header: block.header,
                    seal,
                    reason,
                }));
            // §2.4.2: an illicit block from the proposer triggers impeachment at once.
            if self.round == 0 && self.prepared.is_none() && self.lock.is_none() {
                let imp = self.impeach_id;
                self.prepare(imp);
                self.progress(now);
            }
            return Err(Rejected::Block(reason));
        }
        self.store_block(id, block.clone())?;
        if self.round == 0 && self.prepared.is_none() {
            self.pending_check = Some(id);
            self.outputs.push_back(ValidatorOutput::CheckBlock {
                height: self.height,
                block,
                tx_hashes,
            });
        }
        self.progress(now);
        Ok(())
    }

    /// Only a header for this chain, height and parent may take the height's PRE-PREPARE
    /// slot (issue 12 item 3). A validly sealed header of another chain or parent (a
    /// proposer key reused across networks, a relaunched devnet) is the proposer's honest
    /// work elsewhere: refused without a fault, so it neither becomes `first` of a
    /// [`Fault::ProposerEquivocation`] nor an [`Fault::IllicitBlock`] that would impeach an
    /// honest proposer. Checked before the seal: it costs no public-key recovery.
    pub(super) fn check_pre_prepare_place(&self, block: &Block) -> Result<(), Rejected> {
        let h = &block.header;
        if h.chain_id != self.cfg.spec.chain_id {
            return Err(Rejected::Block(BlockError::WrongChain));
        }
        if h.height != self.height {
            return Err(Rejected::Block(BlockError::WrongHeight));
        }
        if h.parent != self.parent_id {
            return Err(Rejected::Block(BlockError::WrongParent));
        }
        Ok(())
    }

    pub(super) fn on_proposal(&mut self, now: Timestamp, p: Proposal) -> Result<(), Rejected> {
        if p.round == 0 || p.round < self.round {
            return Err(Rejected::StaleRound);
        }
        if p.round > self.round.saturating_add(self.cfg.round_lookahead) {
            return Err(Rejected::TooFarAhead);
        }
        if leader(&self.cfg.validators, self.height, p.round) != Some(p.leader) {
            return Err(Rejected::NotMember);
        }
        let id = p.block.id();
        let pol_round = p.proof_of_lock.as_ref().map(|c| c.round);
        let first_id = self.proposals.get(&p.round).map(|f| {
            let fp = f.proof_of_lock.as_ref().map(|c| c.round);
            (f.block.id(), fp)
        });
        if first_id == Some((id, pol_round)) {
            return Err(Rejected::Duplicate);
        }
        self.stats.verifies = self.stats.verifies.saturating_add(1);
        p.verify(self.cfg.spec.chain_id, &self.cfg.validators)
            .map_err(|_| Rejected::BadSignature)?;
        if let Some(first) = self.proposals.get(&p.round) {
            // Two signed proposals of one round: the leader equivocated.
            self.outputs
                .push_back(ValidatorOutput::Fault(Fault::LeaderEquivocation {
                    first: first.clone(),
                    second: p,
                }));
            return Err(Rejected::ConflictingProposal);
        }
        match &p.proof_of_lock {
            Some(cert) => {
                if cert.round >= p.round {
                    return Err(Rejected::Certificate(CertificateError::Mismatch));
                }
                self.check_lock_proof(id, &p.block, cert)?;
            }
            None if id == self.impeach_id => self.check_block_sealed(id, &p.block)?,
            // A normal block without a P-certificate would need a fresh content check;
            // only the scheduled proposer's round-0 PRE-PREPARE gets one.
            None => return Err(Rejected::Unexpected),
        }
        // The proposal keeps its own copy of the block: both count at this height.
        let stored = if self.blocks.contains_key(&id) {
            0
        } else {
            heap_of_block(&p.block)
        };
        self.admit_at_height(stored.saturating_add(heap_of_proposal(&p)))?;
        self.store_block(id, p.block.clone())?;
        if let Some(cert) = p.proof_of_lock.clone() {
            self.tally.learn_pcert(id, cert);
        }
        if let Some(i) = self.cfg.validators.index_of(&p.leader) {
            self.note_presence(p.round, i);
        }
        self.proposals.insert(p.round, p);
        self.progress(now);
        Ok(())
    }

    pub(super) fn on_vote(&mut self, now: Timestamp, v: Vote) -> Result<(), Rejected> {
        let idx = self
            .cfg
            .validators
            .index_of(&v.voter)
            .ok_or(Rejected::NotMember)?;
        if v.round > self.round.saturating_add(self.cfg.round_lookahead) {
            return Err(Rejected::TooFarAhead);
        }
        if (v.block == self.impeach_id) != v.kind.is_impeach() {
            return Err(Rejected::KindMismatch);
        }
        let key = (v.round, v.kind.phase(), idx);
        if let Some(first) = self.tally.vote_of(key.0, key.1, key.2) {
            if first.block == v.block {
                return Err(Rejected::Duplicate);
            }
            self.stats.verifies = self.stats.verifies.saturating_add(1);
            v.verify(self.cfg.spec.chain_id, &self.cfg.validators)
                .map_err(|_| Rejected::BadSignature)?;
            self.outputs
                .push_back(ValidatorOutput::Fault(Fault::Equivocation {
                    first: first.clone(),
                    second: v,
                }));
            return Err(Rejected::Equivocation);
        }
        self.stats.verifies = self.stats.verifies.saturating_add(1);
        v.verify(self.cfg.spec.chain_id, &self.cfg.validators)
            .map_err(|_| Rejected::BadSignature)?;
        self.note_presence(v.round, idx);
        self.count(idx, v);
        self.progress(now);
        Ok(())
    }

    pub(super) fn on_round_change(
        &mut self,
        now: Timestamp,
        rc: RoundChange,
    ) -> Result<(), Rejected> {
        let idx = self
            .cfg
            .validators
            .index_of(&rc.voter)
            .ok_or(Rejected::NotMember)?;
        // Far ahead: only the round matters (catch-up after a long partition), and only
        // if it is new for this sender, so spam costs at most one check per round raise.
        let far = rc.round > self.round.saturating_add(self.cfg.round_lookahead);
        if far && self.seen_round.get(idx).is_some_and(|r| *r >= rc.round) {
            return Err(Rejected::Duplicate);
        }
        if !far && self.round_changes.contains(&(rc.round, idx)) {
            return Err(Rejected::Duplicate);
        }
        let lock_id = rc.lock.as_ref().map(|p| p.block.id());
        self.stats.verifies = self.stats.verifies.saturating_add(1);
        rc.verify(self.cfg.spec.chain_id, &self.cfg.validators)
            .map_err(|_| Rejected::BadSignature)?;
        if far {
            self.note_presence(rc.round, idx);
            self.progress(now);
            return Ok(());
        }
        if let (Some(proof), Some(id)) = (rc.lock, lock_id) {
            if proof.certificate.round >= rc.round {
                return Err(Rejected::Certificate(CertificateError::Mismatch));
            }
            if !self.has_pcert(proof.certificate.round, id) {
                self.check_lock_proof(id, &proof.block, &proof.certificate)?;
                self.store_block(id, proof.block)?;
                self.tally.learn_pcert(id, proof.certificate);
            } else if !self.blocks.contains_key(&id) {
                self.check_block_sealed(id, &proof.block)?;
                self.store_block(id, proof.block)?;
            }
        }
        self.round_changes.insert((rc.round, idx));
        self.note_presence(rc.round, idx);
        self.progress(now);
        Ok(())
    }
}

impl<S: ProposerSchedule> Validator<S> {
    /// The body a header commits to. The seal covers the header only, so anyone relaying
    /// a sealed header can attach another body: a mismatch is not the proposer's doing and
    /// is refused without a fault and without taking the PRE-PREPARE slot (issue 12 item 3).
    pub(super) fn check_body_binding(&mut self, block: &Block) -> Result<(), Rejected> {
        self.stats.body_hashes = self.stats.body_hashes.saturating_add(1);
        if tx_root(&block.transactions) == block.header.tx_root {
            Ok(())
        } else {
            Err(Rejected::Block(BlockError::TxRoot))
        }
    }

    /// [`check_body_binding`](Self::check_body_binding) that keeps the leaves it hashed
    /// (`keccak256` of each transaction, in order: 32 bytes each, at most
    /// [`MAX_LEAVES_HEAP`](crate::lbft::block::MAX_LEAVES_HEAP)) for the host's
    /// [`ValidatorOutput::CheckBlock`]; dropped on a mismatch. The same Keccak work as the
    /// streaming check, one allocation more.
    pub(super) fn check_body_leaves(&mut self, block: &Block) -> Result<Vec<Hash>, Rejected> {
        self.stats.body_hashes = self.stats.body_hashes.saturating_add(1);
        let leaves = match self.known_leaves.take() {
            Some(known) if known.len() == block.transactions.len() => block
                .transactions
                .iter()
                .zip(known)
                .map(|(tx, leaf)| leaf.unwrap_or_else(|| keccak256(tx)))
                .collect(),
            _ => tx_leaves(&block.transactions),
        };
        if tx_root_of_leaves(&leaves) == block.header.tx_root {
            Ok(leaves)
        } else {
            Err(Rejected::Block(BlockError::TxRoot))
        }
    }
}
