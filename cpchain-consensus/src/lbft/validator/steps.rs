//! The protocol steps a validator takes itself (§2.4.2): sign and send PREPARE and COMMIT,
//! lead a round, change round, decide and move to the next height.

use super::{tally::Tally, Validator, ValidatorOutput};
use crate::lbft::block::{Block, BlockId, Header};
use crate::lbft::message::{LockProof, Message, Proposal, RoundChange, Validate};
use crate::lbft::round::{leader, RoundTimes};
use crate::lbft::schedule::ProposerSchedule;
use crate::lbft::vote::{Certificate, Phase, Vote, VoteKind};
use cpchain_core::{Address, Height, Timestamp};

impl<S: ProposerSchedule> Validator<S> {
    pub(super) fn is_leader(&self) -> bool {
        self.round >= 1 && leader(&self.cfg.validators, self.height, self.round) == Some(self.me)
    }

    pub(super) fn sign_vote(&mut self, phase: Phase, id: BlockId) -> Vote {
        let kind = VoteKind::of(phase, id == self.impeach_id);
        self.stats.signs = self.stats.signs.saturating_add(1);
        Vote::sign_as(
            &self.cfg.key,
            self.me,
            self.cfg.spec.chain_id,
            kind,
            self.height,
            self.round,
            id,
        )
    }

    /// Sign and send this round's PREPARE (or IMPEACH PREPARE). At most one per round.
    pub(super) fn prepare(&mut self, id: BlockId) {
        if self.prepared.is_some() {
            return;
        }
        let v = self.sign_vote(Phase::Prepare, id);
        self.prepared = Some(v.clone());
        self.record_own(v.clone());
        self.emit_persist();
        self.outputs
            .push_back(ValidatorOutput::Broadcast(Message::Vote(v)));
    }

    /// Lock on `id` and send this round's COMMIT (or IMPEACH COMMIT). At most one per
    /// round; never after a COMMIT of the other kind in the same round.
    pub(super) fn commit(&mut self, id: BlockId) {
        if self.committed.is_some() || self.prepared.is_none() {
            return;
        }
        self.lock = Some((self.round, id));
        let v = self.sign_vote(Phase::Commit, id);
        self.committed = Some(v.clone());
        self.record_own(v.clone());
        self.emit_persist();
        self.outputs
            .push_back(ValidatorOutput::Broadcast(Message::Vote(v)));
    }

    /// Round leader: propose the valid value with its P-certificate, else the impeach block.
    pub(super) fn lead(&mut self) {
        if self.led || !self.is_leader() {
            return;
        }
        let (block, pol) = match self.valid_value() {
            Some((r, id)) => (
                self.blocks.get(&id).cloned(),
                self.certificate(r, Phase::Prepare, id),
            ),
            None => (Some(self.impeach.clone()), None),
        };
        let Some(block) = block else { return };
        if !block.is_impeach() && pol.is_none() {
            return;
        }
        self.led = true;
        self.stats.signs = self.stats.signs.saturating_add(1);
        let p = Proposal::sign(
            &self.cfg.key,
            self.cfg.spec.chain_id,
            self.height,
            self.round,
            block,
            pol,
        );
        self.emit_persist();
        self.outputs
            .push_back(ValidatorOutput::Broadcast(Message::Proposal(p.clone())));
        self.proposals.insert(self.round, p);
    }

    pub(super) fn enter_round(&mut self, round: u32, now: Timestamp) {
        if round <= self.round {
            return;
        }
        self.round = round;
        self.times = self.round_times(round, now);
        self.prepared = None;
        self.committed = None;
        self.led = false;
        self.pending_check = None;
        self.proposals = self.proposals.split_off(&round);
        self.helped.clear();
        self.emit_persist();
        self.announce_round();
    }

    /// Broadcast a round change for the current height and round, carrying the lock (if
    /// it is from an earlier round; a lock of this round is shown by the COMMIT itself).
    /// It moves peers' round catch-up and, at peers already past this height, triggers
    /// catch-up for us.
    pub(super) fn announce_round(&mut self) {
        let round = self.round;
        let lock = self.lock.filter(|(r, _)| *r < round).and_then(|(r, id)| {
            Some(LockProof {
                block: self.blocks.get(&id)?.clone(),
                certificate: self.certificate(r, Phase::Prepare, id)?,
            })
        });
        self.stats.signs = self.stats.signs.saturating_add(1);
        let rc = RoundChange::sign(
            &self.cfg.key,
            self.cfg.spec.chain_id,
            self.height,
            round,
            lock,
        );
        self.outputs
            .push_back(ValidatorOutput::Broadcast(Message::RoundChange(rc)));
    }

    pub(super) fn round_times(&self, round: u32, start: Timestamp) -> RoundTimes {
        if round == 0 {
            RoundTimes::first(&self.cfg.spec, self.parent.timestamp, start)
        } else {
            RoundTimes::later(&self.cfg.spec, round, self.cfg.max_round_length, start)
        }
    }

    /// Apply every rule whose condition now holds, until none does.
    pub(super) fn progress(&mut self, now: Timestamp) {
        // Bounded: each pass either changes round/height/vote state or stops.
        for _ in 0..64 {
            // §2.4.2 step 4: a C-certificate decides, in any round.
            let decided = self
                .tally
                .counted()
                .filter(|(_, ph, id)| *ph == Phase::Commit && self.blocks.contains_key(id))
                .map(|(r, _, id)| (r, id))
                .find(|(r, id)| self.has_quorum(*r, Phase::Commit, *id));
            if let Some((r, id)) = decided {
                // Taken, not cloned: `decide` leaves the height, which drops its blocks.
                if let Some(cert) = self.certificate(r, Phase::Commit, id) {
                    if let Some(block) = self.blocks.remove(&id) {
                        self.decide(now, id, block, cert);
                        return;
                    }
                }
            }
            // Round catch-up: f + 1 validators in a later round include an honest one.
            // The (f + 1)-th highest round seen is one an honest validator has reached.
            let skip = if self.seen_round.iter().any(|r| *r > self.round) {
                let mut seen = self.seen_round.clone();
                seen.sort_unstable_by(|a, b| b.cmp(a));
                seen.get(self.cfg.validators.f())
                    .copied()
                    .filter(|r| *r > self.round)
            } else {
                None
            };
            if let Some(r) = skip {
                self.enter_round(r, now);
                continue;
            }
            // §2.4.2 step 2 (round 0) or the round leader's proposal (round ≥ 1).
            if self.prepared.is_none() {
                if let Some(id) = self.proposal_to_prepare() {
                    self.prepare(id);
                    continue;
                }
            }
            // §2.4.2 step 3: a P-certificate in this round → lock and COMMIT.
            if self.prepared.is_some() && self.committed.is_none() {
                let round = self.round;
                let certified = self
                    .tally
                    .prepared_in(round)
                    .chain(
                        self.tally
                            .pcert_keys()
                            .filter(|(r, _)| *r == round)
                            .map(|(_, id)| id),
                    )
                    .find(|id| self.has_pcert(round, *id) && self.blocks.contains_key(id));
                if let Some(id) = certified {
                    self.commit(id);
                    continue;
                }
            }
            break;
        }
    }

    pub(super) fn proposal_to_prepare(&self) -> Option<BlockId> {
        if self.round == 0 {
            let (id, _, _) = self.pre_prepare.as_ref()?;
            return self.approved.contains(id).then_some(*id);
        }
        let p = self.proposals.get(&self.round)?;
        let id = p.block.id();
        let pol = p.proof_of_lock.as_ref().map(|c| c.round);
        if self.acceptable(id, pol) {
            Some(id)
        } else {
            Some(self.fallback())
        }
    }

    /// `id` is `block.id()`, computed by the caller.
    pub(super) fn decide(
        &mut self,
        now: Timestamp,
        id: BlockId,
        block: Block,
        certificate: Certificate,
    ) {
        self.stats.decided = self.stats.decided.saturating_add(1);
        self.outputs.push_back(ValidatorOutput::Commit {
            block: block.clone(),
            certificate: certificate.clone(),
        });
        let header = block.header.clone();
        let validate = Validate { block, certificate };
        self.outputs
            .push_back(ValidatorOutput::Broadcast(Message::Validate(
                validate.clone(),
            )));
        self.recent.push_back(validate);
        self.trim_recent();
        self.helped.clear();
        self.advance(header, id, now);
    }

    pub(super) fn advance(&mut self, parent: Header, parent_id: BlockId, now: Timestamp) {
        let height = Height(parent.height.0.saturating_add(1));
        let impeached = self.schedule.proposer_of(height).unwrap_or(Address::ZERO);
        self.impeach = Block::impeach_on(&self.cfg.spec, &parent, parent_id, impeached);
        self.impeach_id = self.impeach.id();
        self.times = RoundTimes::first(&self.cfg.spec, parent.timestamp, now);
        self.parent = parent;
        self.parent_id = parent_id;
        self.height = height;
        self.round = 0;
        self.prepared = None;
        self.committed = None;
        self.proposed = false;
        self.led = false;
        self.lock = None;
        self.blocks.clear();
        self.blocks.insert(self.impeach_id, self.impeach.clone());
        self.approved.clear();
        self.pending_check = None;
        self.pre_prepare = None;
        self.proposals.clear();
        self.tally = Tally::default();
        self.seen_round.clear();
        self.round_changes.clear();
        self.emit_persist();
    }
}
