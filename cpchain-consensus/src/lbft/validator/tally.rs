//! The vote tally of the current height, kept apart from the state machine as raft-rs's
//! `quorum` module and malachite's vote keeper keep theirs: [`Tally`] stores each member's
//! vote by (round, phase), counts them by (round, phase, block) and holds the P-certificates
//! learnt from proposals and round changes; the validator asks it for quorums and builds
//! certificates from it. Vote storage is at most `2n` per round entered (one vote per
//! member and phase, the deviation 2 of the crate docs).

use super::Validator;
use crate::lbft::block::BlockId;
use crate::lbft::schedule::ProposerSchedule;
use crate::lbft::vote::{Certificate, Phase, Vote, VoteKind};
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

/// Votes, counts and learnt P-certificates of one height.
#[derive(Debug, Default)]
pub(super) struct Tally {
    /// Each member's vote by (round, phase, member index): at most one.
    votes: BTreeMap<(u32, Phase, usize), Vote>,
    /// Votes counted by (round, phase, block).
    counts: BTreeMap<(u32, Phase, BlockId), usize>,
    /// P-certificates learnt whole (a proof-of-lock, a round change's lock), by (round, block).
    pcerts: BTreeMap<(u32, BlockId), Certificate>,
}

impl Tally {
    /// Member `idx`'s vote of `phase` in `round`, if counted.
    pub(super) fn vote_of(&self, round: u32, phase: Phase, idx: usize) -> Option<&Vote> {
        self.votes.get(&(round, phase, idx))
    }

    /// Count member `idx`'s vote (the caller has checked it is the first of its phase and
    /// round).
    pub(super) fn add(&mut self, idx: usize, v: Vote) {
        let t = self
            .counts
            .entry((v.round, v.kind.phase(), v.block))
            .or_insert(0);
        *t = t.saturating_add(1);
        self.votes.insert((v.round, v.kind.phase(), idx), v);
    }

    /// Votes counted for `id` in `round` and `phase`.
    pub(super) fn count(&self, round: u32, phase: Phase, id: BlockId) -> usize {
        self.counts.get(&(round, phase, id)).copied().unwrap_or(0)
    }

    /// Every (round, phase, block) with at least one vote.
    pub(super) fn counted(&self) -> impl Iterator<Item = (u32, Phase, BlockId)> + '_ {
        self.counts.keys().copied()
    }

    /// The blocks with PREPAREs counted in `round`.
    pub(super) fn prepared_in(&self, round: u32) -> impl Iterator<Item = BlockId> + '_ {
        self.counts
            .range((round, Phase::Prepare, BlockId::ZERO)..)
            .take_while(move |((r, ph, _), _)| *r == round && *ph == Phase::Prepare)
            .map(|((_, _, id), _)| *id)
    }

    /// The `(voter, signature)` pairs of `round` and `phase` for `id`, in address order
    /// (member indices follow address order).
    pub(super) fn signatures(
        &self,
        round: u32,
        phase: Phase,
        id: BlockId,
    ) -> Vec<(cpchain_core::Address, cpchain_crypto::Signature)> {
        self.votes
            .range((round, phase, 0)..=(round, phase, usize::MAX))
            .filter(|(_, v)| v.block == id)
            .map(|(_, v)| (v.voter, v.signature))
            .collect()
    }

    /// Keep a learnt P-certificate for `id` (the first one for its round).
    pub(super) fn learn_pcert(&mut self, id: BlockId, cert: Certificate) {
        self.pcerts.entry((cert.round, id)).or_insert(cert);
    }

    /// The learnt P-certificate of `round` for `id`.
    pub(super) fn pcert(&self, round: u32, id: BlockId) -> Option<&Certificate> {
        self.pcerts.get(&(round, id))
    }

    /// Every (round, block) with a learnt P-certificate.
    pub(super) fn pcert_keys(&self) -> impl Iterator<Item = (u32, BlockId)> + '_ {
        self.pcerts.keys().copied()
    }

    /// The learnt P-certificates (for the memory budget).
    pub(super) fn pcerts(&self) -> impl Iterator<Item = &Certificate> + '_ {
        self.pcerts.values()
    }

    /// Entries held, for the memory budget: votes, counts and learnt certificates.
    pub(super) fn entries(&self) -> (usize, usize, usize) {
        (self.votes.len(), self.counts.len(), self.pcerts.len())
    }
}

impl<S: ProposerSchedule> Validator<S> {
    pub(super) fn quorum_for(&self, impeach: bool) -> usize {
        if impeach {
            self.cfg.validators.impeach_quorum(self.cfg.impeach_quorum)
        } else {
            self.cfg.validators.quorum()
        }
    }

    pub(super) fn count(&mut self, idx: usize, v: Vote) {
        self.tally.add(idx, v);
    }

    pub(super) fn record_own(&mut self, v: Vote) {
        if let Some(idx) = self.cfg.validators.index_of(&self.me) {
            if self.tally.vote_of(v.round, v.kind.phase(), idx).is_none() {
                self.count(idx, v);
            }
        }
    }

    pub(super) fn has_quorum(&self, round: u32, phase: Phase, id: BlockId) -> bool {
        self.tally.count(round, phase, id) >= self.quorum_for(id == self.impeach_id)
    }

    pub(super) fn has_pcert(&self, round: u32, id: BlockId) -> bool {
        self.tally.pcert(round, id).is_some() || self.has_quorum(round, Phase::Prepare, id)
    }

    pub(super) fn certificate(&self, round: u32, phase: Phase, id: BlockId) -> Option<Certificate> {
        if phase == Phase::Prepare {
            if let Some(c) = self.tally.pcert(round, id) {
                return Some(c.clone());
            }
        }
        if !self.has_quorum(round, phase, id) {
            return None;
        }
        Some(Certificate {
            kind: VoteKind::of(phase, id == self.impeach_id),
            height: self.height,
            round,
            block: id,
            signatures: self.tally.signatures(round, phase, id),
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
