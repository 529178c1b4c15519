//! The blocks of the current height: the seal rule of every path (issue 12 item 0) and the
//! height's byte and count budget.

use super::Validator;
use crate::lbft::block::{check_normal_header_fields, Block, BlockId};
use crate::lbft::budget::{heap_of_block, heap_of_proposal};
use crate::lbft::error::{BlockError, Rejected};
use crate::lbft::schedule::ProposerSchedule;
use alloc::vec::Vec;
use cpchain_core::Hash;

impl<S: ProposerSchedule> Validator<S> {
    /// Heap of the current height's blocks and proposals: what `height_bytes` caps.
    pub(super) fn height_bytes(&self) -> usize {
        let blocks = self.blocks.values().map(heap_of_block).sum::<usize>();
        let proposals = self.proposals.values().map(heap_of_proposal).sum::<usize>();
        blocks.saturating_add(proposals)
    }

    /// Refuse `extra` more bytes at this height if they would pass `height_bytes`.
    pub(super) fn admit_at_height(&self, extra: usize) -> Result<(), Rejected> {
        if self.height_bytes().saturating_add(extra) > self.cfg.height_bytes {
            return Err(Rejected::TooManyBlocks);
        }
        Ok(())
    }

    /// `id` is `block.id()`, computed by the caller. The body binding (`tx_root`) is not
    /// checked here but in [`check_block_sealed`](Self::check_block_sealed), once.
    pub(super) fn check_block_shape(&self, id: BlockId, block: &Block) -> Result<(), Rejected> {
        if id == self.impeach_id {
            return if *block == self.impeach {
                Ok(())
            } else {
                Err(Rejected::Block(BlockError::NotTheImpeachBlock))
            };
        }
        if block.is_impeach() {
            return Err(Rejected::Block(BlockError::NotTheImpeachBlock));
        }
        check_normal_header_fields(
            &self.cfg.spec,
            &self.parent,
            &self.parent_id,
            self.schedule.proposer_of(self.height),
            block,
            self.cfg.max_block_bytes,
            self.cfg.max_transactions,
        )
        .map_err(Rejected::Block)
    }

    /// The seal rule of every path that takes a block from outside (issue 12 item 0): what
    /// the light verifier accepts at this height. The impeach block is unsealed by design
    /// (every validator builds it) and must equal the local one, seal `None` and empty body
    /// included; any other block must be well-formed for this height and carry a seal by
    /// its proposer, who [`check_block_shape`](Self::check_block_shape) has checked is the
    /// scheduled one. `id` is `block.id()`, computed by the caller.
    pub(super) fn check_block_sealed(
        &mut self,
        id: BlockId,
        block: &Block,
    ) -> Result<(), Rejected> {
        self.check_block_shape(id, block)?;
        if id == self.impeach_id {
            return Ok(());
        }
        self.check_body_binding(block)?;
        self.stats.recoveries = self.stats.recoveries.saturating_add(1);
        block.verify_seal_of(&id).map_err(Rejected::Block)
    }

    /// [`check_block_sealed`](Self::check_block_sealed) for a normal block whose leaves
    /// the host is to get ([`ValidatorOutput::CheckBlock`](super::ValidatorOutput::CheckBlock)):
    /// the same checks, the body hashed once and its leaves returned.
    pub(super) fn check_normal_block_sealed_leaves(
        &mut self,
        id: BlockId,
        block: &Block,
    ) -> Result<Vec<Hash>, Rejected> {
        if id == self.impeach_id {
            return Err(Rejected::Block(BlockError::NotTheImpeachBlock));
        }
        self.check_block_shape(id, block)?;
        let leaves = self.check_body_leaves(block)?;
        self.stats.recoveries = self.stats.recoveries.saturating_add(1);
        block.verify_seal_of(&id).map_err(Rejected::Block)?;
        Ok(leaves)
    }

    pub(super) fn store_block(&mut self, id: BlockId, block: Block) -> Result<(), Rejected> {
        if self.blocks.contains_key(&id) {
            return Ok(());
        }
        if self.blocks.len() >= self.cfg.max_blocks_per_height {
            return Err(Rejected::TooManyBlocks);
        }
        self.admit_at_height(heap_of_block(&block))?;
        self.blocks.insert(id, block);
        Ok(())
    }
}
