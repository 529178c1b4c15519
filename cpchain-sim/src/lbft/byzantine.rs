//! Byzantine validators: an honest engine underneath (so the attacker knows the protocol
//! state: heights, rounds, blocks) and a set of misbehaviours applied to what it sends. A
//! Byzantine validator holds its own key only; it can sign anything with it, and nothing
//! with anyone else's.

use super::shared::{Event, Shared, SimMsg, ILLICIT_TX};
use crate::network::{chance, uniform};
use crate::{Context, NodeId, SimRng};
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::rc::Rc;
use alloc::vec::Vec;
use cpchain_consensus::lbft::block::{tx_root, SEAL_DOMAIN};
use cpchain_consensus::lbft::ProposerSchedule;
use cpchain_consensus::lbft::{
    Block, BlockId, Certificate, Header, LockProof, Message, Phase, RoundChange, Validate, Vote,
    VoteKind, MAX_BLOCK_BYTES,
};
use cpchain_core::{keccak256, Address, Hash, Height, Timestamp};
use cpchain_crypto::{SecretKey, Signature};
use rand_core::{RngCore, SeedableRng};

use super::shared::Record;

/// Which misbehaviours a Byzantine validator has; drawn per seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Behaviour {
    /// As proposer, propose nothing.
    pub silent_proposer: bool,
    /// As proposer, propose a block with a transaction the hosts reject.
    pub illicit_proposal: bool,
    /// As proposer, seal two blocks and send each to a part of the committee (with
    /// `illicit_proposal`, one of the two is illicit).
    pub split_proposal: bool,
    /// Sign a second vote of each phase for another block (the impeach block, or the
    /// normal one); send each to its own camp, or both to everyone.
    pub double_vote: bool,
    /// Send both votes of a double vote to every validator rather than per camp.
    pub double_vote_to_all: bool,
    /// Also vote for blocks nobody proposed.
    pub unknown_block_votes: bool,
    /// Send votes with invalid signatures, some claiming to be from honest validators.
    pub bad_signatures: bool,
    /// Re-send messages of heights already decided.
    pub replay_old: bool,
    /// On each new height, send signed votes for the next heights (filling buffers).
    pub flood_future: bool,
    /// At one height, vote on both the normal and the impeach path, then go silent for
    /// the rest of the run (the deadlock scenario of the engine's round design).
    pub both_paths_then_silent: bool,
    /// On each new height, send maximum-size messages (a `MAX_BLOCK_BYTES` body): a
    /// round change carrying a lock with a forged certificate, a PRE-PREPARE for the next
    /// height sealed by a key that is not the proposer's, and a VALIDATE with a forged
    /// certificate. Honest hosts check that what they hold stays within the memory bound.
    pub flood_max: bool,
    /// Strip or forge the proposer's seal in every block-carrying message it sends
    /// (PRE-PREPARE, proposal, round-change lock, VALIDATE) and in a copy of every such
    /// message it hears, sent ahead of the real one: the seal is not in the block id, so
    /// the votes, certificates and round-change signatures still verify (issue 12 item 0).
    pub tamper_seals: bool,
}

impl Behaviour {
    /// Every misbehaviour off: an honest node wearing a Byzantine label.
    pub fn none() -> Self {
        Behaviour::default()
    }

    /// Draw a mix (at least one on).
    pub fn draw(rng: &mut SimRng) -> Self {
        loop {
            let b = Behaviour {
                silent_proposer: chance(rng, 200),
                illicit_proposal: chance(rng, 300),
                split_proposal: chance(rng, 400),
                double_vote: chance(rng, 600),
                double_vote_to_all: chance(rng, 500),
                unknown_block_votes: chance(rng, 250),
                bad_signatures: chance(rng, 300),
                replay_old: chance(rng, 300),
                flood_future: chance(rng, 250),
                both_paths_then_silent: chance(rng, 200),
                flood_max: chance(rng, 200),
                // Drawn apart, by `with_tampering`: see there.
                tamper_seals: false,
            };
            if b != Behaviour::default()
                && b != (Behaviour {
                    double_vote_to_all: true,
                    ..Behaviour::default()
                })
            {
                return b;
            }
        }
    }

    /// Add `tamper_seals` (30 %), drawn from its own stream keyed by the run's seed and
    /// the validator, not from the scenario's: every other choice a seed makes (faults,
    /// the other misbehaviours) stays what it was before this behaviour existed, so the
    /// seeds CI replays keep their scenarios.
    pub fn with_tampering(self, seed: u64, id: NodeId) -> Self {
        let mut rng = SimRng::seed_from_u64(seed ^ 0x5ea1_0000_0000_0000 ^ (id as u64));
        Behaviour {
            tamper_seals: chance(&mut rng, 300),
            ..self
        }
    }

    /// The adversary that forks the paper's `f + 1` impeach rule: a proposer that sends an
    /// illicit block to some validators and a valid one to the others, then votes on the
    /// impeach path with the first camp and on the normal path with the second.
    pub fn forker() -> Self {
        Behaviour {
            illicit_proposal: true,
            split_proposal: true,
            double_vote: true,
            ..Behaviour::default()
        }
    }
}

const OLD_KEPT: usize = 64;
const FLOOD_PER_HEIGHT: usize = 16;

/// The Byzantine part of a validator host.
pub struct Byzantine {
    /// Its misbehaviours.
    pub behaviour: Behaviour,
    rng: SimRng,
    key: SecretKey,
    silent: bool,
    both_paths_height: u64,
    height: Height,
    /// Per height: validators in the "impeach" camp (got the illicit block or the
    /// impeach-path votes).
    camp: Vec<bool>,
    normal_block: Option<BlockId>,
    impeach_block: BlockId,
    sent: BTreeMap<(u64, u32, Phase), BTreeSet<BlockId>>,
    old: VecDeque<Rc<Message>>,
    /// The maximum-size body of `flood_max` and its root, built once.
    big: Option<(Vec<Vec<u8>>, Hash)>,
}

impl Byzantine {
    /// A Byzantine part for validator `id` with `key`, its randomness from `seed`.
    pub fn new(behaviour: Behaviour, key: SecretKey, seed: u64, id: NodeId) -> Self {
        let mut rng = SimRng::seed_from_u64(seed ^ 0xb1a5_0000_0000_0000 ^ (id as u64));
        let both_paths_height = uniform(&mut rng, 2, 8);
        Byzantine {
            behaviour,
            rng,
            key,
            silent: false,
            both_paths_height,
            height: Height(0),
            camp: Vec::new(),
            normal_block: None,
            impeach_block: Hash::ZERO,
            sent: BTreeMap::new(),
            old: VecDeque::new(),
            big: None,
        }
    }

    /// Whether it has gone silent.
    pub fn is_silent(&self) -> bool {
        self.silent
    }

    fn validators(shared: &Shared) -> impl Iterator<Item = NodeId> {
        0..shared.n_validators
    }

    /// Note a new height of the underlying engine: redraw camps, flood the future.
    pub fn enter_height(
        &mut self,
        shared: &Shared,
        me: NodeId,
        height: Height,
        impeach: BlockId,
        ctx: &mut Context<SimMsg, Record, Event>,
    ) {
        if height == self.height {
            return;
        }
        self.height = height;
        self.impeach_block = impeach;
        self.normal_block = None;
        let n = shared.n_validators;
        self.camp = (0..n).map(|_| chance(&mut self.rng, 500)).collect();
        if let Some(c) = self.camp.get_mut(me) {
            *c = false;
        }
        self.sent = self.sent.split_off(&(height.0, 0, Phase::Prepare));
        if self.silent {
            return;
        }
        if self.behaviour.flood_future {
            for _ in 0..FLOOD_PER_HEIGHT {
                let ahead = uniform(&mut self.rng, 1, 10);
                let round = u32::try_from(uniform(&mut self.rng, 0, 3)).unwrap_or(0);
                let block = self.random_id();
                let kind = if chance(&mut self.rng, 500) {
                    VoteKind::Prepare
                } else {
                    VoteKind::Commit
                };
                let h = Height(height.0.saturating_add(ahead));
                let v = Vote::sign(&self.key, shared.spec.chain_id, kind, h, round, block);
                self.note_sent(&v, ctx);
                ctx.broadcast(SimMsg::Lbft(Rc::new(Message::Vote(v))));
            }
        }
        if self.behaviour.flood_max {
            self.flood_max(shared, height, ctx);
        }
        if self.behaviour.replay_old {
            self.replay(ctx);
        }
    }

    /// A maximum-size block at `height` claiming `proposer`, sealed with this key.
    fn big_block(&mut self, shared: &Shared, height: Height, proposer: Address) -> Block {
        let (body, root) = self
            .big
            .get_or_insert_with(|| {
                let body = alloc::vec![alloc::vec![0xb1; MAX_BLOCK_BYTES]];
                let root = tx_root(&body);
                (body, root)
            })
            .clone();
        let header = Header {
            chain_id: shared.spec.chain_id,
            height,
            parent: self.random_id(),
            timestamp: Timestamp(0),
            proposer,
            coinbase: self.key.public_key().address(),
            tx_root: root,
        };
        let seal = self.key.sign(&SEAL_DOMAIN, header.id().as_bytes());
        Block {
            header,
            seal: Some(seal),
            transactions: body,
        }
    }

    /// A quorum-sized certificate of every member's address with this key's signature.
    fn forged(
        &self,
        shared: &Shared,
        kind: VoteKind,
        height: Height,
        block: BlockId,
    ) -> Certificate {
        let v = Vote::sign(&self.key, shared.spec.chain_id, kind, height, 0, block);
        let mut signatures: Vec<_> = shared
            .validators
            .addresses()
            .map(|a| (a, v.signature))
            .collect();
        signatures.sort_by_key(|s| s.0);
        Certificate {
            kind,
            height,
            round: 0,
            block,
            signatures,
        }
    }

    fn flood_max(
        &mut self,
        shared: &Shared,
        height: Height,
        ctx: &mut Context<SimMsg, Record, Event>,
    ) {
        let me = self.key.public_key().address();
        let chain = shared.spec.chain_id;
        let current = shared.schedule.proposer_of(height).unwrap_or(Address::ZERO);
        let lock_block = self.big_block(shared, height, current);
        let certificate = self.forged(shared, VoteKind::Prepare, height, lock_block.id());
        let rc = RoundChange::sign(
            &self.key,
            chain,
            height,
            1,
            Some(LockProof {
                block: lock_block,
                certificate,
            }),
        );
        ctx.broadcast(SimMsg::Lbft(Rc::new(Message::RoundChange(rc))));
        let next = Height(height.0.saturating_add(1));
        let claimed = shared.schedule.proposer_of(next).unwrap_or(Address::ZERO);
        if claimed == me {
            // Its own sealed block would be a real proposal (and an equivocation).
            return;
        }
        let b = self.big_block(shared, next, claimed);
        let certificate = self.forged(shared, VoteKind::Commit, next, b.id());
        ctx.broadcast(SimMsg::Lbft(Rc::new(Message::PrePrepare(b.clone()))));
        ctx.broadcast(SimMsg::Lbft(Rc::new(Message::Validate(Validate {
            block: b,
            certificate,
        }))));
    }

    fn random_id(&mut self) -> BlockId {
        let mut b = [0u8; 32];
        self.rng.fill_bytes(&mut b);
        keccak256(&b)
    }

    /// Remember messages of past heights for replay.
    pub fn heard(&mut self, msg: &Rc<Message>) {
        if let Message::PrePrepare(b) = &**msg {
            if b.header.height == self.height && self.normal_block.is_none() {
                self.normal_block = Some(b.id());
            }
        }
        if self.behaviour.replay_old && msg.height() < self.height {
            if self.old.len() >= OLD_KEPT {
                self.old.pop_front();
            }
            self.old.push_back(msg.clone());
        }
    }

    /// Re-send a few old messages.
    pub fn replay(&mut self, ctx: &mut Context<SimMsg, Record, Event>) {
        if self.silent || self.old.is_empty() {
            return;
        }
        let len = self.old.len() as u64;
        for _ in 0..4 {
            let i = usize::try_from(self.rng.next_u64() % len).unwrap_or(0);
            if let Some(m) = self.old.get(i) {
                ctx.broadcast(SimMsg::Lbft(m.clone()));
            }
        }
    }

    fn note_sent(&mut self, v: &Vote, ctx: &mut Context<SimMsg, Record, Event>) {
        let set = self
            .sent
            .entry((v.height.0, v.round, v.kind.phase()))
            .or_default();
        if set.insert(v.block) && set.len() == 2 {
            ctx.observe(Event::Equivocated {
                height: v.height,
                round: v.round,
                phase: Some(v.kind.phase()),
            });
        }
    }

    fn to_camp(
        &self,
        shared: &Shared,
        me: NodeId,
        impeach_camp: bool,
        msg: SimMsg,
        ctx: &mut Context<SimMsg, Record, Event>,
    ) {
        for to in Self::validators(shared).filter(|&t| t != me) {
            if self.camp.get(to).copied().unwrap_or(false) == impeach_camp {
                ctx.send(to, msg.clone());
            }
        }
    }

    /// Propose as the scheduled proposer. Returns the block to feed the own engine, or
    /// `None` to let the engine propose honestly.
    #[allow(clippy::too_many_arguments)]
    pub fn propose(
        &mut self,
        shared: &Shared,
        me: NodeId,
        parent: &cpchain_consensus::lbft::Header,
        now: Timestamp,
        txs: Vec<Vec<u8>>,
        ctx: &mut Context<SimMsg, Record, Event>,
    ) -> Option<Option<Block>> {
        let b = self.behaviour;
        if self.silent || b.silent_proposer {
            return Some(None);
        }
        if !b.illicit_proposal && !b.split_proposal {
            return None;
        }
        let earliest = parent.timestamp.saturating_add(shared.spec.block_period);
        let time = now.max(earliest);
        let coinbase = self.key.public_key().address();
        let mut bad = txs.clone();
        bad.push(ILLICIT_TX.to_vec());
        let make =
            |t: Vec<Vec<u8>>| Block::propose(&shared.spec, parent, &self.key, coinbase, time, t);
        ctx.observe(Event::Proposed {
            height: Height(parent.height.0.saturating_add(1)),
        });
        if b.split_proposal {
            let mut other = txs.clone();
            other.push(b"the other proposal".to_vec());
            let a = make(txs);
            let second = if b.illicit_proposal {
                make(bad)
            } else {
                make(other)
            };
            self.normal_block = Some(a.id());
            self.to_camp(
                shared,
                me,
                false,
                SimMsg::Lbft(Rc::new(Message::PrePrepare(a.clone()))),
                ctx,
            );
            self.to_camp(
                shared,
                me,
                true,
                SimMsg::Lbft(Rc::new(Message::PrePrepare(second))),
                ctx,
            );
            ctx.observe(Event::Equivocated {
                height: Height(parent.height.0.saturating_add(1)),
                round: 0,
                phase: None,
            });
            return Some(Some(a));
        }
        let block = make(bad);
        ctx.broadcast(SimMsg::Lbft(Rc::new(Message::PrePrepare(block.clone()))));
        Some(Some(block))
    }

    /// Send what the own engine wants to broadcast, misbehaving on the way.
    pub fn broadcast(
        &mut self,
        shared: &Shared,
        me: NodeId,
        msg: Message,
        ctx: &mut Context<SimMsg, Record, Event>,
    ) {
        if self.silent {
            return;
        }
        let b = self.behaviour;
        let Message::Vote(v) = msg else {
            if b.tamper_seals {
                if let Some(bad) = self.tampered(&msg) {
                    ctx.broadcast(SimMsg::Lbft(Rc::new(bad)));
                }
            }
            ctx.broadcast(SimMsg::Lbft(Rc::new(msg)));
            return;
        };
        let chain = shared.spec.chain_id;
        let phase = v.kind.phase();
        let both_paths = b.both_paths_then_silent && v.height.0 >= self.both_paths_height;
        if b.double_vote || both_paths {
            // The other path's block: impeach if this is normal, else the normal block
            // (or one nobody proposed).
            let alt = if v.kind.is_impeach() {
                self.normal_block.unwrap_or_else(|| self.random_id())
            } else {
                self.impeach_block
            };
            let alt_kind = VoteKind::of(phase, alt == self.impeach_block);
            let w = Vote::sign(&self.key, chain, alt_kind, v.height, v.round, alt);
            self.note_sent(&v, ctx);
            self.note_sent(&w, ctx);
            let (normal, impeach) = if v.kind.is_impeach() {
                (w, v.clone())
            } else {
                (v.clone(), w)
            };
            if b.double_vote_to_all || both_paths {
                ctx.broadcast(SimMsg::Lbft(Rc::new(Message::Vote(normal))));
                ctx.broadcast(SimMsg::Lbft(Rc::new(Message::Vote(impeach))));
            } else {
                let normal = SimMsg::Lbft(Rc::new(Message::Vote(normal)));
                let impeach = SimMsg::Lbft(Rc::new(Message::Vote(impeach)));
                self.to_camp(shared, me, false, normal, ctx);
                self.to_camp(shared, me, true, impeach, ctx);
            }
            if both_paths && phase == Phase::Commit {
                self.silent = true;
            }
        } else {
            self.note_sent(&v, ctx);
            ctx.broadcast(SimMsg::Lbft(Rc::new(Message::Vote(v.clone()))));
        }
        if b.unknown_block_votes {
            let u = self.random_id();
            let w = Vote::sign(
                &self.key,
                chain,
                VoteKind::of(phase, false),
                v.height,
                v.round,
                u,
            );
            self.note_sent(&w, ctx);
            ctx.broadcast(SimMsg::Lbft(Rc::new(Message::Vote(w))));
        }
        if b.bad_signatures {
            // A vote in an honest validator's name, signed with our key...
            let victim = uniform(
                &mut self.rng,
                0,
                shared.n_validators.saturating_sub(1) as u64,
            );
            let victim = usize::try_from(victim).unwrap_or(0);
            if victim != me {
                let other = self.random_id();
                let mut forged = Vote::sign(&self.key, chain, v.kind, v.height, v.round, other);
                forged.voter = shared.address(victim);
                ctx.broadcast(SimMsg::Lbft(Rc::new(Message::Vote(forged))));
            }
            // ...and our own vote for another block carrying a signature over something
            // else (a valid signature, on the wrong payload).
            let mut wrong = v.clone();
            wrong.block = self.random_id();
            wrong.signature = Signature::from_bytes(&v.signature.to_bytes()).unwrap_or(v.signature);
            ctx.broadcast(SimMsg::Lbft(Rc::new(Message::Vote(wrong))));
        }
    }
}

impl Byzantine {
    /// With `tamper_seals`: send a seal-tampered copy of a block-carrying message just
    /// heard, so it may arrive before the real one.
    pub fn relay_tampered(&mut self, msg: &Message, ctx: &mut Context<SimMsg, Record, Event>) {
        if self.silent || !self.behaviour.tamper_seals || msg.height() < self.height {
            return;
        }
        if let Some(bad) = self.tampered(msg) {
            ctx.broadcast(SimMsg::Lbft(Rc::new(bad)));
        }
    }

    /// `msg` with the seal of the normal block it carries stripped or replaced by a seal
    /// of our own over the same id; `None` if it carries no sealed block. Every signature
    /// on the message still verifies (none covers the seal).
    fn tampered(&mut self, msg: &Message) -> Option<Message> {
        let tamper = |b: &Block, rng: &mut SimRng, key: &SecretKey| -> Option<Block> {
            if b.is_impeach() {
                return None;
            }
            let seal = if chance(rng, 500) {
                None
            } else {
                Some(key.sign(&SEAL_DOMAIN, b.id().as_bytes()))
            };
            Some(Block { seal, ..b.clone() })
        };
        match msg {
            Message::PrePrepare(b) => tamper(b, &mut self.rng, &self.key).map(Message::PrePrepare),
            Message::Proposal(p) => {
                let block = tamper(&p.block, &mut self.rng, &self.key)?;
                let mut p = p.clone();
                p.block = block;
                Some(Message::Proposal(p))
            }
            Message::RoundChange(rc) => {
                let lock = rc.lock.as_ref()?;
                let block = tamper(&lock.block, &mut self.rng, &self.key)?;
                let mut rc = rc.clone();
                rc.lock = Some(LockProof {
                    block,
                    certificate: lock.certificate.clone(),
                });
                Some(Message::RoundChange(rc))
            }
            Message::Validate(v) => {
                let block = tamper(&v.block, &mut self.rng, &self.key)?;
                let mut v = v.clone();
                v.block = block;
                Some(Message::Validate(v))
            }
            Message::Vote(_) => None,
        }
    }
}
