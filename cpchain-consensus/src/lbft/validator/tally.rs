//! The vote tally of the current height: votes by (round, phase, voter), counts by
//! (round, phase, block), quorums and the certificates built from them (as raft-rs's
//! `quorum` module and malachite's vote keeper keep theirs apart from the state machine).

use super::Validator;
use crate::lbft::block::BlockId;
use crate::lbft::schedule::ProposerSchedule;
use crate::lbft::vote::{Certificate, Phase, Vote, VoteKind};

impl<S: ProposerSchedule> Validator<S> {
    pub(super) fn quorum_for(&self, impeach: bool) -> usize {
        if impeach {
            self.cfg.validators.impeach_quorum(self.cfg.impeach_quorum)
        } else {
            self.cfg.validators.quorum()
        }
    }

    pub(super) fn count(&mut self, idx: usize, v: Vote) {
        let t = self
            .tally
            .entry((v.round, v.kind.phase(), v.block))
            .or_insert(0);
        *t = t.saturating_add(1);
        self.votes.insert((v.round, v.kind.phase(), idx), v);
    }

    pub(super) fn record_own(&mut self, v: Vote) {
        if let Some(idx) = self.cfg.validators.index_of(&self.me) {
            if !self.votes.contains_key(&(v.round, v.kind.phase(), idx)) {
                self.count(idx, v);
            }
        }
    }

    pub(super) fn has_quorum(&self, round: u32, phase: Phase, id: BlockId) -> bool {
        let n = self.tally.get(&(round, phase, id)).copied().unwrap_or(0);
        n >= self.quorum_for(id == self.impeach_id)
    }

    pub(super) fn has_pcert(&self, round: u32, id: BlockId) -> bool {
        self.pcerts.contains_key(&(round, id)) || self.has_quorum(round, Phase::Prepare, id)
    }

    pub(super) fn certificate(&self, round: u32, phase: Phase, id: BlockId) -> Option<Certificate> {
        if phase == Phase::Prepare {
            if let Some(c) = self.pcerts.get(&(round, id)) {
                return Some(c.clone());
            }
        }
        if !self.has_quorum(round, phase, id) {
            return None;
        }
        let signatures = self
            .votes
            .range((round, phase, 0)..=(round, phase, usize::MAX))
            .filter(|(_, v)| v.block == id)
            .map(|(_, v)| (v.voter, v.signature))
            .collect();
        Some(Certificate {
            kind: VoteKind::of(phase, id == self.impeach_id),
            height: self.height,
            round,
            block: id,
            signatures,
        })
    }

    pub(super) fn note_presence(&mut self, round: u32, idx: usize) {
        if self.seen_round.len() != self.cfg.validators.len() {
            self.seen_round = alloc::vec![0; self.cfg.validators.len()];
        }
        if let Some(r) = self.seen_round.get_mut(idx) {
            if round > *r {
                *r = round;
            }
        }
    }
}
