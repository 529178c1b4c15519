//! The validator state machine (§2.4.2), sans-IO.
//!
//! Inputs: [`Validator::handle_message`] (or [`Validator::handle_bytes`]),
//! [`Validator::handle_timeout`], [`Validator::block_checked`] (the host's verdict on a
//! block's transactions) and [`Validator::propose`]. Outputs: drained from
//! [`Validator::poll_output`]; the host arms one timer at [`Validator::next_deadline`].
//!
//! Ordering contract: every [`Output::Persist`] precedes the [`Output::Broadcast`] of any
//! vote, proposal or round change that depends on it. A host that writes each `Persist`
//! durably before sending what follows can restart with [`Validator::restore`] and never
//! sign two conflicting votes (test `restore_after_crash_never_double_votes`).

use super::block::{check_normal_header, tx_root, Block, BlockId, Header};
use super::budget::{
    authenticate_future, heap_of_block, heap_of_certificate, heap_of_proposal, FutureBuffer, Held,
};
use super::config::Config;
use super::error::{BlockError, CertificateError, ConfigError, ProposeError, Rejected};
use super::light::verify_validate_on;
use super::message::{
    proposal_payload, round_change_payload, LockProof, Message, Proposal, RoundChange, Validate,
    PROPOSAL_DOMAIN, ROUND_CHANGE_DOMAIN,
};
use super::round::{leader, RoundTimes};
use super::schedule::ProposerSchedule;
use super::vote::{Certificate, Phase, Vote, VoteKind};
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::vec::Vec;
use cpchain_core::encoding::decode;
use cpchain_core::{Address, Height, Timestamp, WireMessage};
use cpchain_crypto::Signature;
use serde::{Deserialize, Serialize};

/// What the host must do, drained with [`Validator::poll_output`] in order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum Output {
    /// Send to every validator (a VALIDATE also to every node, §2.4.2 step 4).
    Broadcast(Message),
    /// Send to one peer: a recent VALIDATE to a validator whose round change (or
    /// re-broadcast VALIDATE) shows it is behind — catch-up. At most once per peer and
    /// height in each of this validator's rounds, so a lost answer is repeated a round
    /// later while a Byzantine peer gets at most `catch_up_heights` blocks per round.
    Send {
        /// The peer, as named by the transport.
        to: Address,
        /// What to send.
        msg: Message,
    },
    /// Write durably before acting on any later output.
    Persist(Persisted),
    /// Judge the transactions of this proposal and answer with
    /// [`Validator::block_checked`]. The engine prepares only after a positive answer.
    CheckBlock {
        /// Height of the proposal.
        height: Height,
        /// The block to judge.
        block: Block,
    },
    /// A block is final: insert it into the chain (§2.4.2 step 4).
    Commit {
        /// The decided block.
        block: Block,
        /// Its C-certificate.
        certificate: Certificate,
    },
    /// A peer misbehaved; the evidence is for DPoR's punishment.
    Fault(Fault),
}

/// Evidence of misbehaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum Fault {
    /// Two signed votes of one phase for different blocks in one round of a height
    /// (PREPARE vs PREPARE, or PREPARE vs IMPEACH PREPARE; likewise for COMMIT). Both
    /// votes verify, so the evidence convinces anyone.
    Equivocation {
        /// The vote seen first.
        first: Vote,
        /// The conflicting vote.
        second: Vote,
    },
    /// The proposer sealed two different blocks for one height.
    ProposerEquivocation {
        /// First sealed header.
        first: Header,
        /// Its seal.
        first_seal: Signature,
        /// Second sealed header.
        second: Header,
        /// Its seal.
        second_seal: Signature,
    },
    /// A round leader signed two different proposals for one round (rounds ≥ 1).
    LeaderEquivocation {
        /// The proposal seen first.
        first: Proposal,
        /// The conflicting one.
        second: Proposal,
    },
    /// A proposal whose seal does not verify; not attributable to the proposer, so only
    /// the transport sender is named.
    BadSeal {
        /// Who delivered it.
        from: Address,
        /// Id of the header.
        block: BlockId,
    },
    /// A correctly sealed but illicit proposal (§2.4.2: triggers impeachment).
    IllicitBlock {
        /// The proposer's header.
        header: Header,
        /// Its (valid) seal: the proof the proposer made it.
        seal: Signature,
        /// What is wrong with it.
        reason: BlockError,
    },
}

/// The paper's five states (§2.4.2, Figure 10), as seen in the current round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Waiting for a proposal.
    Idle,
    /// PREPARE sent.
    Prepare,
    /// COMMIT sent.
    Commit,
    /// IMPEACH PREPARE sent.
    ImpeachPrepare,
    /// IMPEACH COMMIT sent.
    ImpeachCommit,
}

/// What a validator must keep across a crash: everything it has signed at the current
/// height and round, its lock, and the sealed block it prepared or proposed (version 2,
/// tag `0x0207`; version 1, tag `0x0204`, kept no block but the locked one, so a restarted
/// validator forgot its good copy, issue 12 item 0). A v1 record does not decode (wrong
/// tag): upgrade a validator between heights, not with votes of the current height on
/// disk, since [`Validator::new`] at the chain head knows nothing it signed there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Persisted {
    /// Chain id, checked on restore.
    pub chain_id: u64,
    /// The last decided block's header; the current height is the next.
    pub parent: Header,
    /// Current round.
    pub round: u32,
    /// When the current round started.
    pub round_start: Timestamp,
    /// Own PREPARE / IMPEACH PREPARE in the current round.
    pub prepared: Option<Vote>,
    /// Own COMMIT / IMPEACH COMMIT in the current round.
    pub committed: Option<Vote>,
    /// Own lock and the P-certificate behind it.
    pub lock: Option<(u32, LockProof)>,
    /// The sealed normal block of this height this validator prepared in the current
    /// round, or else the PRE-PREPARE it holds (its own, if it proposed), unless it is the
    /// locked block (kept above). Restored only if its seal is valid, so a restarted
    /// validator commits its good copy when the COMMITs arrive.
    pub prepared_block: Option<Block>,
    /// Whether this node sealed a proposal at this height (a second one is equivocation).
    pub proposed: bool,
    /// Whether this node sent its leader proposal in the current round.
    pub led: bool,
}

impl WireMessage for Persisted {
    const TAG: u16 = 0x0207;
    const MAX_ENCODED_LEN: usize =
        <Message as WireMessage>::MAX_ENCODED_LEN + <Block as WireMessage>::MAX_ENCODED_LEN + 1024;
}

/// Work counters: the benchmark's signature accounting and the bounded-buffer drops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Signatures made.
    pub signs: u64,
    /// Signatures verified against a known validator key.
    pub verifies: u64,
    /// Public keys recovered (proposer seals: proposers are known by address only).
    pub recoveries: u64,
    /// Authenticated future-height messages dropped because the buffer or the sender's
    /// quota was full (in messages or bytes).
    pub dropped_future: u64,
    /// Messages rejected.
    pub rejected: u64,
    /// Blocks decided.
    pub decided: u64,
}

/// An LBFT 2.0 validator. `S` is the proposer schedule (from DPoR).
#[derive(Debug)]
pub struct Validator<S> {
    cfg: Config,
    schedule: S,
    me: Address,
    // The current height.
    parent: Header,
    /// `parent.id()`, computed once per height (ids cost an encoding and a hash).
    parent_id: BlockId,
    height: Height,
    impeach: Block,
    impeach_id: BlockId,
    round: u32,
    times: RoundTimes,
    prepared: Option<Vote>,
    committed: Option<Vote>,
    proposed: bool,
    led: bool,
    lock: Option<(u32, BlockId)>,
    blocks: BTreeMap<BlockId, Block>,
    approved: BTreeSet<BlockId>,
    pending_check: Option<BlockId>,
    /// The first correctly sealed PRE-PREPARE of the height: id, header, seal.
    pre_prepare: Option<(BlockId, Header, Signature)>,
    proposals: BTreeMap<u32, Proposal>,
    votes: BTreeMap<(u32, Phase, usize), Vote>,
    tally: BTreeMap<(u32, Phase, BlockId), usize>,
    pcerts: BTreeMap<(u32, BlockId), Certificate>,
    /// Highest round each validator was seen in (signed messages only), for catch-up.
    seen_round: Vec<u32>,
    round_changes: BTreeSet<(u32, usize)>,
    /// VALIDATEs of the last `catch_up_heights` heights, oldest first, contiguous up to
    /// the parent: what a lagging validator is handed.
    recent: VecDeque<Validate>,
    /// Catch-up answers given in the current round (peer, height); reset on every round
    /// and height change, so a lost answer is repeated a round later. At most
    /// `n × catch_up_heights` entries (only heights held in `recent` are inserted).
    helped: BTreeSet<(Address, Height)>,
    // Other heights and the host.
    /// Authenticated messages for later heights, under per-sender quotas (`budget`).
    future: FutureBuffer,
    outputs: VecDeque<Output>,
    stats: Stats,
}

impl<S: ProposerSchedule> Validator<S> {
    /// A validator starting at the height after `parent` (genesis or the host's chain
    /// head), at time `now`. After a restart, give it the head's VALIDATE with
    /// [`Validator::remember`].
    pub fn new(
        cfg: Config,
        schedule: S,
        parent: Header,
        now: Timestamp,
    ) -> Result<Self, ConfigError> {
        let me = cfg.check()?;
        if parent.chain_id != cfg.spec.chain_id {
            return Err(ConfigError::PersistedMismatch);
        }
        let mut v = Validator::blank(cfg, schedule, me, parent, now);
        v.emit_persist();
        Ok(v)
    }

    /// A validator restarted from its last [`Output::Persist`]. It will not sign anything
    /// that conflicts with what it signed before the crash; it re-broadcasts its votes of
    /// the current round so peers that missed them can count them, and a round change for
    /// its height and round (with its lock), so peers that moved on while it was down
    /// answer with the VALIDATEs it missed and peers in later rounds pull it forward.
    ///
    /// A processed [`Output::Commit`] is durable in the host's chain. If the host crashed
    /// after it but before the next `Persist`, its chain head is past `persisted.parent`:
    /// start with [`Validator::new`] at the head instead — nothing was signed there yet,
    /// since the `Persist` of a new height precedes every vote at it.
    ///
    /// Either way, hand it the chain head's VALIDATE (and older ones) with
    /// [`Validator::remember`]: the engine keeps decided VALIDATEs only in memory, and a
    /// peer left at the height decided just before the crash may need exactly that
    /// certificate to move on.
    pub fn restore(cfg: Config, schedule: S, persisted: Persisted) -> Result<Self, ConfigError> {
        let me = cfg.check()?;
        if persisted.chain_id != cfg.spec.chain_id || persisted.parent.chain_id != cfg.spec.chain_id
        {
            return Err(ConfigError::PersistedMismatch);
        }
        let mut v = Validator::blank(cfg, schedule, me, persisted.parent, persisted.round_start);
        v.round = persisted.round;
        v.times = v.round_times(persisted.round, persisted.round_start);
        v.proposed = persisted.proposed;
        v.led = persisted.led;
        for own in [&persisted.prepared, &persisted.committed]
            .into_iter()
            .flatten()
        {
            if own.height != v.height || own.round != v.round || own.voter != me {
                return Err(ConfigError::PersistedMismatch);
            }
        }
        if let Some((round, proof)) = persisted.lock {
            let id = proof.block.id();
            if proof.certificate.block != id || proof.certificate.round != round {
                return Err(ConfigError::PersistedMismatch);
            }
            v.check_block_sealed(id, &proof.block)
                .map_err(|_| ConfigError::PersistedMismatch)?;
            v.blocks.insert(id, proof.block);
            v.pcerts.insert((round, id), proof.certificate);
            v.lock = Some((round, id));
        }
        if let Some(p) = persisted.prepared {
            v.record_own(p.clone());
            v.prepared = Some(p.clone());
            v.outputs.push_back(Output::Broadcast(Message::Vote(p)));
        }
        if let Some(c) = persisted.committed {
            v.record_own(c.clone());
            v.committed = Some(c.clone());
            v.outputs.push_back(Output::Broadcast(Message::Vote(c)));
        }
        if let Some(block) = persisted.prepared_block {
            v.restore_prepared_block(block)?;
        }
        v.announce_round();
        Ok(v)
    }

    /// Take back the block of [`Persisted::prepared_block`]: checked like a block from a
    /// peer (the seal rule of every path), then held as the height's PRE-PREPARE. A block
    /// this validator prepared in the current round is approved already; in round 0 with
    /// nothing prepared the host is asked to judge it again, as on first receipt.
    fn restore_prepared_block(&mut self, block: Block) -> Result<(), ConfigError> {
        let id = block.id();
        if block.is_impeach() {
            return Err(ConfigError::PersistedMismatch);
        }
        self.check_block_sealed(id, &block)
            .map_err(|_| ConfigError::PersistedMismatch)?;
        let Some(seal) = block.seal else {
            return Err(ConfigError::PersistedMismatch);
        };
        self.pre_prepare = Some((id, block.header.clone(), seal));
        if self.prepared.as_ref().is_some_and(|p| p.block == id) || self.proposed {
            self.approved.insert(id);
        } else if self.round == 0 && self.prepared.is_none() {
            self.pending_check = Some(id);
            self.outputs.push_back(Output::CheckBlock {
                height: self.height,
                block: block.clone(),
            });
        }
        self.blocks.insert(id, block);
        Ok(())
    }

    /// Give a restarted validator a VALIDATE from the host's chain, to hand to lagging
    /// peers (catch-up): first the chain head's block with its C-certificate (the block
    /// this validator builds on), then older ones, newest first, up to
    /// [`Config::catch_up_heights`]. Without it a validator restarted just after deciding
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
    fn check_remembered_block(&mut self, id: &BlockId, block: &Block) -> Result<(), Rejected> {
        check_body_binding(block)?;
        if block.is_impeach() {
            return match block.seal {
                None => Ok(()),
                Some(_) => Err(Rejected::Block(BlockError::BadSeal)),
            };
        }
        self.stats.recoveries = self.stats.recoveries.saturating_add(1);
        block.verify_seal_of(id).map_err(Rejected::Block)
    }

    fn blank(cfg: Config, schedule: S, me: Address, parent: Header, now: Timestamp) -> Self {
        let height = Height(parent.height.0.saturating_add(1));
        let impeached = schedule.proposer_of(height).unwrap_or(Address::ZERO);
        let parent_id = parent.id();
        let impeach = Block::impeach_on(&cfg.spec, &parent, parent_id, impeached);
        let impeach_id = impeach.id();
        let times = RoundTimes::first(&cfg.spec, parent.timestamp, now);
        let mut blocks = BTreeMap::new();
        blocks.insert(impeach_id, impeach.clone());
        Validator {
            cfg,
            schedule,
            me,
            parent,
            parent_id,
            height,
            impeach,
            impeach_id,
            round: 0,
            times,
            prepared: None,
            committed: None,
            proposed: false,
            led: false,
            lock: None,
            blocks,
            approved: BTreeSet::new(),
            pending_check: None,
            pre_prepare: None,
            proposals: BTreeMap::new(),
            votes: BTreeMap::new(),
            tally: BTreeMap::new(),
            pcerts: BTreeMap::new(),
            seen_round: Vec::new(),
            round_changes: BTreeSet::new(),
            recent: VecDeque::new(),
            helped: BTreeSet::new(),
            future: FutureBuffer::default(),
            outputs: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    // ----- accessors -----

    /// The height being decided.
    pub fn height(&self) -> Height {
        self.height
    }
    /// The current round.
    pub fn round(&self) -> u32 {
        self.round
    }
    /// The last decided header.
    pub fn parent(&self) -> &Header {
        &self.parent
    }
    /// This validator's address.
    pub fn address(&self) -> Address {
        self.me
    }
    /// The lock: round and block.
    pub fn lock(&self) -> Option<(u32, BlockId)> {
        self.lock
    }
    /// The deterministic impeach block of the current height.
    pub fn impeach_block(&self) -> &Block {
        &self.impeach
    }
    /// The id of [`Validator::impeach_block`], without hashing it again.
    pub fn impeach_id(&self) -> BlockId {
        self.impeach_id
    }
    /// What this validator holds on behalf of peers now, by budget; never more than
    /// [`Config::peer_memory_bound`] (see [`crate::lbft::budget`]).
    pub fn held(&self) -> Held {
        let votes = self.votes.len().saturating_add(self.tally.len());
        Held {
            future: self.future.bytes(),
            height: self
                .height_bytes()
                .saturating_add(self.pcerts.values().map(heap_of_certificate).sum::<usize>()),
            catch_up: self.catch_up_bytes(),
            entries: votes
                .saturating_add(self.round_changes.len())
                .saturating_add(self.proposals.len())
                .saturating_add(self.pcerts.len())
                .saturating_add(self.helped.len())
                .saturating_add(self.future.len()),
        }
    }

    /// Heap of the current height's blocks and proposals: what `height_bytes` caps.
    fn height_bytes(&self) -> usize {
        let blocks = self.blocks.values().map(heap_of_block).sum::<usize>();
        let proposals = self.proposals.values().map(heap_of_proposal).sum::<usize>();
        blocks.saturating_add(proposals)
    }

    fn catch_up_bytes(&self) -> usize {
        self.recent
            .iter()
            .map(|v| heap_of_block(&v.block).saturating_add(heap_of_certificate(&v.certificate)))
            .sum()
    }

    /// Refuse `extra` more bytes at this height if they would pass `height_bytes`.
    fn admit_at_height(&self, extra: usize) -> Result<(), Rejected> {
        if self.height_bytes().saturating_add(extra) > self.cfg.height_bytes {
            return Err(Rejected::TooManyBlocks);
        }
        Ok(())
    }

    /// Drop the oldest recent VALIDATEs beyond `catch_up_heights` or `catch_up_bytes`,
    /// always keeping the newest (the one a validator one height behind needs).
    fn trim_recent(&mut self) {
        let keep = usize::try_from(self.cfg.catch_up_heights).unwrap_or(usize::MAX);
        while self.recent.len() > 1
            && (self.recent.len() > keep || self.catch_up_bytes() > self.cfg.catch_up_bytes)
        {
            self.recent.pop_front();
        }
    }

    /// Work counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }
    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }
    /// The proposer schedule.
    pub fn schedule(&self) -> &S {
        &self.schedule
    }
    /// The proposer schedule, for the host to extend at term changes.
    pub fn schedule_mut(&mut self) -> &mut S {
        &mut self.schedule
    }
    /// The paper's state in the current round.
    pub fn state(&self) -> State {
        match (&self.prepared, &self.committed) {
            (_, Some(c)) if c.kind.is_impeach() => State::ImpeachCommit,
            (_, Some(_)) => State::Commit,
            (Some(p), None) if p.kind.is_impeach() => State::ImpeachPrepare,
            (Some(_), None) => State::Prepare,
            (None, None) => State::Idle,
        }
    }

    /// The next output, in order; `None` when drained.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`Validator::handle_timeout`] must next be called.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        let mut d = self.times.end;
        if self.prepared.is_none() && self.times.give_up_proposal < d {
            d = self.times.give_up_proposal;
        }
        if self.is_leader() && !self.led && self.times.leader_proposes < d {
            d = self.times.leader_proposes;
        }
        Some(d)
    }

    // ----- inputs -----

    /// Decode and handle bytes from a peer.
    pub fn handle_bytes(
        &mut self,
        now: Timestamp,
        from: Address,
        bytes: &[u8],
    ) -> Result<(), Rejected> {
        match decode::<Message>(bytes) {
            Ok(msg) => self.handle_message(now, from, msg),
            Err(e) => {
                self.stats.rejected = self.stats.rejected.saturating_add(1);
                Err(Rejected::Decode(e))
            }
        }
    }

    /// Handle a message from a peer. `from` is the transport sender, used only to name
    /// the deliverer of an unattributable bad seal: every message authenticates itself by
    /// signature. `Err` says why the message was dropped; the state is then unchanged
    /// (apart from counters and `Fault` outputs).
    pub fn handle_message(
        &mut self,
        now: Timestamp,
        from: Address,
        msg: Message,
    ) -> Result<(), Rejected> {
        let r = self.dispatch(now, from, msg);
        if r.is_err() {
            self.stats.rejected = self.stats.rejected.saturating_add(1);
        }
        self.drain_future(now);
        r
    }

    /// The round timer fired (or the host polls): give up on a missing proposal
    /// (§2.4.2 Impeachment, "the timer of validator expires"), lead a round, or start the
    /// next round.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        if self.is_leader() && !self.led && now >= self.times.leader_proposes {
            self.lead();
        }
        if self.prepared.is_none() && now >= self.times.give_up_proposal {
            let fallback = self.fallback();
            self.prepare(fallback);
        }
        if now >= self.times.end {
            let next = self.round.saturating_add(1);
            self.enter_round(next, now);
        }
        self.progress(now);
        self.drain_future(now);
    }

    /// The host's verdict on the transactions of a proposal it was asked to check with
    /// [`Output::CheckBlock`]. An invalid body is illicit (§2.4.2): impeach.
    pub fn block_checked(&mut self, now: Timestamp, block: BlockId, valid: bool) {
        if self.pending_check != Some(block) {
            return;
        }
        self.pending_check = None;
        if valid {
            self.approved.insert(block);
        } else if let Some((_, header, seal)) = self.pre_prepare.clone() {
            self.outputs.push_back(Output::Fault(Fault::IllicitBlock {
                header,
                seal,
                reason: BlockError::Content,
            }));
            if self.round == 0 && self.prepared.is_none() && self.lock.is_none() {
                let id = self.impeach_id;
                self.prepare(id);
            }
        }
        self.progress(now);
        self.drain_future(now);
    }

    /// Seal and broadcast a proposal of `transactions` when this validator is also the
    /// scheduled proposer of the current height (§2.4.2 Block Production). Proposers that
    /// are not validators use [`Block::propose`] directly.
    pub fn propose(
        &mut self,
        now: Timestamp,
        transactions: Vec<Vec<u8>>,
    ) -> Result<BlockId, ProposeError> {
        if self.schedule.proposer_of(self.height) != Some(self.me) {
            return Err(ProposeError::NotScheduled);
        }
        if self.proposed || self.pre_prepare.is_some() {
            return Err(ProposeError::AlreadyProposed);
        }
        let earliest = self
            .parent
            .timestamp
            .saturating_add(self.cfg.spec.block_period);
        let latest = earliest.saturating_add(self.cfg.spec.impeach_timeout);
        if now > latest || self.round != 0 {
            return Err(ProposeError::WindowClosed);
        }
        let body: usize = transactions
            .iter()
            .fold(0usize, |a, t| a.saturating_add(t.len()));
        if body > self.cfg.max_block_bytes || transactions.len() > self.cfg.max_transactions {
            return Err(ProposeError::TooLarge);
        }
        let time = if now > earliest { now } else { earliest };
        let block = Block::propose(
            &self.cfg.spec,
            &self.parent,
            &self.cfg.key,
            self.cfg.coinbase,
            time,
            transactions,
        );
        self.stats.signs = self.stats.signs.saturating_add(1);
        let id = block.id();
        self.proposed = true;
        if let Some(seal) = block.seal {
            self.pre_prepare = Some((id, block.header.clone(), seal));
        }
        self.blocks.insert(id, block.clone());
        self.approved.insert(id);
        // Persisted with the block it seals, so a restart keeps it (issue 12 item 0).
        self.emit_persist();
        self.outputs
            .push_back(Output::Broadcast(Message::PrePrepare(block)));
        self.progress(now);
        Ok(id)
    }

    // ----- dispatch -----

    fn dispatch(&mut self, now: Timestamp, from: Address, msg: Message) -> Result<(), Rejected> {
        let h = msg.height();
        if h < self.height {
            // Only a round change (the sender timed out at `h`) or a re-broadcast
            // VALIDATE of `h` (the sender has just adopted it and now works on `h + 1`)
            // shows the sender is behind; late votes of the normal path are expected and
            // must not cost a block transfer each.
            match msg {
                Message::RoundChange(_) => self.help_laggard(from, h),
                Message::Validate(_) => {
                    if let Some(next) = h.checked_next() {
                        self.help_laggard(from, next);
                    }
                }
                _ => {}
            }
            return Err(Rejected::StaleHeight);
        }
        if h > self.height {
            return self.buffer(from, msg);
        }
        match msg {
            Message::PrePrepare(block) => self.on_pre_prepare(now, from, block),
            Message::Proposal(p) => self.on_proposal(now, p),
            Message::Vote(v) => self.on_vote(now, v),
            Message::RoundChange(rc) => self.on_round_change(now, rc),
            Message::Validate(v) => self.on_validate(now, v),
        }
    }

    /// A validator still working on an old height `height` gets its VALIDATE, if it is
    /// recent enough to be held: nobody re-sends old messages, so without this a validator
    /// that missed one would wait forever. Answered once per peer and height per round of
    /// ours: a lost answer is repeated after our next round change (the laggard sends a
    /// round change in each of its rounds), while a Byzantine peer, whatever it sends,
    /// gets at most `catch_up_heights` blocks per round. Unsigned work only: `from` is the
    /// transport's peer, and the answer goes to it.
    fn help_laggard(&mut self, from: Address, height: Height) {
        if height >= self.height || from == self.me || !self.cfg.validators.contains(&from) {
            return;
        }
        let Some(v) = self.recent.iter().find(|v| v.block.header.height == height) else {
            return;
        };
        if self.helped.insert((from, height)) {
            self.outputs.push_back(Output::Send {
                to: from,
                msg: Message::Validate(v.clone()),
            });
        }
    }

    /// Keep a message for a later height: only if it authenticates (nothing from a sender
    /// that could not have sent it is kept) and fits its sender's quota and the buffer's
    /// byte budget (see [`crate::lbft::budget`]).
    fn buffer(&mut self, from: Address, msg: Message) -> Result<(), Rejected> {
        let ahead = msg.height().0.saturating_sub(self.height.0);
        if ahead > self.cfg.future_heights {
            return Err(Rejected::TooFarAhead);
        }
        if self.future.len() >= self.cfg.future_buffer {
            self.stats.dropped_future = self.stats.dropped_future.saturating_add(1);
            return Err(Rejected::BufferFull);
        }
        let slot = authenticate_future(&self.cfg, &self.schedule, &mut self.stats, &msg)?;
        let r = self.future.push(&self.cfg, from, slot, msg);
        if r.is_err() {
            self.stats.dropped_future = self.stats.dropped_future.saturating_add(1);
        }
        r
    }

    /// Replay buffered messages that became current; stops when none is left for the
    /// (possibly advancing) current height.
    fn drain_future(&mut self, now: Timestamp) {
        loop {
            let Some((from, msg)) = self.future.take(self.height) else {
                return;
            };
            if self.dispatch(now, from, msg).is_err() {
                self.stats.rejected = self.stats.rejected.saturating_add(1);
            }
        }
    }

    fn on_pre_prepare(
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
                    .push_back(Output::Fault(Fault::BadSeal { from, block: id }));
                return Err(Rejected::Block(BlockError::BadSeal));
            }
        };
        check_body_binding(&block)?;
        if let Some((_, first, first_seal)) = &self.pre_prepare {
            self.outputs
                .push_back(Output::Fault(Fault::ProposerEquivocation {
                    first: first.clone(),
                    first_seal: *first_seal,
                    second: block.header.clone(),
                    second_seal: seal,
                }));
            return Err(Rejected::ConflictingProposal);
        }
        self.pre_prepare = Some((id, block.header.clone(), seal));
        if let Err(reason) = check_normal_header(
            &self.cfg.spec,
            &self.parent,
            &self.parent_id,
            scheduled,
            &block,
            self.cfg.max_block_bytes,
            self.cfg.max_transactions,
        ) {
            self.outputs.push_back(Output::Fault(Fault::IllicitBlock {
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
            self.outputs.push_back(Output::CheckBlock {
                height: self.height,
                block,
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
    fn check_pre_prepare_place(&self, block: &Block) -> Result<(), Rejected> {
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

    fn on_proposal(&mut self, now: Timestamp, p: Proposal) -> Result<(), Rejected> {
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
        let key = self
            .cfg
            .validators
            .key_of(&p.leader)
            .ok_or(Rejected::NotMember)?;
        self.stats.verifies = self.stats.verifies.saturating_add(1);
        key.verify_payload(
            &PROPOSAL_DOMAIN,
            &proposal_payload(self.cfg.spec.chain_id, self.height, p.round, &id, pol_round),
            &p.signature,
        )
        .map_err(|_| Rejected::BadSignature)?;
        if let Some(first) = self.proposals.get(&p.round) {
            // Two signed proposals of one round: the leader equivocated.
            self.outputs
                .push_back(Output::Fault(Fault::LeaderEquivocation {
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
            self.pcerts.entry((cert.round, id)).or_insert(cert);
        }
        if let Some(i) = self.cfg.validators.index_of(&p.leader) {
            self.note_presence(p.round, i);
        }
        self.proposals.insert(p.round, p);
        self.progress(now);
        Ok(())
    }

    fn on_vote(&mut self, now: Timestamp, v: Vote) -> Result<(), Rejected> {
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
        if let Some(first) = self.votes.get(&key) {
            if first.block == v.block {
                return Err(Rejected::Duplicate);
            }
            self.stats.verifies = self.stats.verifies.saturating_add(1);
            v.verify(self.cfg.spec.chain_id, &self.cfg.validators)
                .map_err(|_| Rejected::BadSignature)?;
            self.outputs.push_back(Output::Fault(Fault::Equivocation {
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

    fn on_round_change(&mut self, now: Timestamp, rc: RoundChange) -> Result<(), Rejected> {
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
        let key = self
            .cfg
            .validators
            .key_of(&rc.voter)
            .ok_or(Rejected::NotMember)?;
        let lock_id = rc.lock.as_ref().map(|p| p.block.id());
        self.stats.verifies = self.stats.verifies.saturating_add(1);
        key.verify_payload(
            &ROUND_CHANGE_DOMAIN,
            &round_change_payload(
                self.cfg.spec.chain_id,
                self.height,
                rc.round,
                lock_id.zip(rc.lock.as_ref().map(|p| p.certificate.round)),
            ),
            &rc.signature,
        )
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
                self.pcerts
                    .insert((proof.certificate.round, id), proof.certificate);
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

    fn on_validate(&mut self, now: Timestamp, v: Validate) -> Result<(), Rejected> {
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

    // ----- block bookkeeping -----

    /// A lock proof's block must be the impeach block or a well-formed block for this
    /// height sealed by the scheduled proposer; its certificate a PREPARE-phase quorum on
    /// it. The content is not re-judged: the certificate holds at least f + 1 honest
    /// PREPAREs, each given only after the host's check. The seal *is* re-checked: it is
    /// not part of the id the certificate signs, so a copy with a stripped or replaced
    /// seal carries the same certificate (issue 12 item 0).
    fn check_lock_proof(
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

    /// `id` is `block.id()`, computed by the caller.
    fn check_block_shape(&self, id: BlockId, block: &Block) -> Result<(), Rejected> {
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
        check_normal_header(
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
    fn check_block_sealed(&mut self, id: BlockId, block: &Block) -> Result<(), Rejected> {
        self.check_block_shape(id, block)?;
        if id == self.impeach_id {
            return Ok(());
        }
        self.stats.recoveries = self.stats.recoveries.saturating_add(1);
        block.verify_seal_of(&id).map_err(Rejected::Block)
    }

    fn store_block(&mut self, id: BlockId, block: Block) -> Result<(), Rejected> {
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

    // ----- votes and certificates -----

    fn quorum_for(&self, impeach: bool) -> usize {
        if impeach {
            self.cfg.validators.impeach_quorum(self.cfg.impeach_quorum)
        } else {
            self.cfg.validators.quorum()
        }
    }

    fn count(&mut self, idx: usize, v: Vote) {
        let t = self
            .tally
            .entry((v.round, v.kind.phase(), v.block))
            .or_insert(0);
        *t = t.saturating_add(1);
        self.votes.insert((v.round, v.kind.phase(), idx), v);
    }

    fn record_own(&mut self, v: Vote) {
        if let Some(idx) = self.cfg.validators.index_of(&self.me) {
            if !self.votes.contains_key(&(v.round, v.kind.phase(), idx)) {
                self.count(idx, v);
            }
        }
    }

    fn has_quorum(&self, round: u32, phase: Phase, id: BlockId) -> bool {
        let n = self.tally.get(&(round, phase, id)).copied().unwrap_or(0);
        n >= self.quorum_for(id == self.impeach_id)
    }

    fn has_pcert(&self, round: u32, id: BlockId) -> bool {
        self.pcerts.contains_key(&(round, id)) || self.has_quorum(round, Phase::Prepare, id)
    }

    fn certificate(&self, round: u32, phase: Phase, id: BlockId) -> Option<Certificate> {
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

    /// The highest-round block with a P-certificate whose content is known (Tendermint's
    /// "valid value").
    fn valid_value(&self) -> Option<(u32, BlockId)> {
        let from_tally = self
            .tally
            .iter()
            .filter(|((r, ph, id), _)| *ph == Phase::Prepare && self.has_quorum(*r, *ph, *id))
            .map(|((r, _, id), _)| (*r, *id));
        let from_certs = self.pcerts.keys().copied();
        from_tally
            .chain(from_certs)
            .filter(|(_, id)| self.blocks.contains_key(id))
            .max_by_key(|(r, _)| *r)
    }

    fn note_presence(&mut self, round: u32, idx: usize) {
        if self.seen_round.len() != self.cfg.validators.len() {
            self.seen_round = alloc::vec![0; self.cfg.validators.len()];
        }
        if let Some(r) = self.seen_round.get_mut(idx) {
            if round > *r {
                *r = round;
            }
        }
    }

    // ----- own actions -----

    fn is_leader(&self) -> bool {
        self.round >= 1 && leader(&self.cfg.validators, self.height, self.round) == Some(self.me)
    }

    /// What to PREPARE when no acceptable proposal came: the locked block (a locked
    /// validator carries its lock into every later round) or else the impeach block.
    fn fallback(&self) -> BlockId {
        self.lock.map(|(_, id)| id).unwrap_or(self.impeach_id)
    }

    /// Tendermint's prevote rule. Safety rests on it: once locked on `B` at round `l`,
    /// prepare another block only with a P-certificate for it from a round ≥ `l`.
    fn acceptable(&self, id: BlockId, pol_round: Option<u32>) -> bool {
        match self.lock {
            None => true,
            Some((_, locked)) if locked == id => true,
            Some((l, _)) => pol_round.is_some_and(|vr| vr >= l),
        }
    }

    fn sign_vote(&mut self, phase: Phase, id: BlockId) -> Vote {
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
    fn prepare(&mut self, id: BlockId) {
        if self.prepared.is_some() {
            return;
        }
        let v = self.sign_vote(Phase::Prepare, id);
        self.prepared = Some(v.clone());
        self.record_own(v.clone());
        self.emit_persist();
        self.outputs.push_back(Output::Broadcast(Message::Vote(v)));
    }

    /// Lock on `id` and send this round's COMMIT (or IMPEACH COMMIT). At most one per
    /// round; never after a COMMIT of the other kind in the same round.
    fn commit(&mut self, id: BlockId) {
        if self.committed.is_some() || self.prepared.is_none() {
            return;
        }
        self.lock = Some((self.round, id));
        let v = self.sign_vote(Phase::Commit, id);
        self.committed = Some(v.clone());
        self.record_own(v.clone());
        self.emit_persist();
        self.outputs.push_back(Output::Broadcast(Message::Vote(v)));
    }

    /// Round leader: propose the valid value with its P-certificate, else the impeach block.
    fn lead(&mut self) {
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
            .push_back(Output::Broadcast(Message::Proposal(p.clone())));
        self.proposals.insert(self.round, p);
    }

    fn enter_round(&mut self, round: u32, now: Timestamp) {
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
    fn announce_round(&mut self) {
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
            .push_back(Output::Broadcast(Message::RoundChange(rc)));
    }

    fn round_times(&self, round: u32, start: Timestamp) -> RoundTimes {
        if round == 0 {
            RoundTimes::first(&self.cfg.spec, self.parent.timestamp, start)
        } else {
            RoundTimes::later(&self.cfg.spec, round, self.cfg.max_round_length, start)
        }
    }

    /// Apply every rule whose condition now holds, until none does.
    fn progress(&mut self, now: Timestamp) {
        // Bounded: each pass either changes round/height/vote state or stops.
        for _ in 0..64 {
            // §2.4.2 step 4: a C-certificate decides, in any round.
            let decided = self
                .tally
                .iter()
                .filter(|((_, ph, id), _)| *ph == Phase::Commit && self.blocks.contains_key(id))
                .map(|((r, _, id), _)| (*r, *id))
                .find(|(r, id)| self.has_quorum(*r, Phase::Commit, *id));
            if let Some((r, id)) = decided {
                let block = self.blocks.get(&id).cloned();
                let cert = self.certificate(r, Phase::Commit, id);
                if let (Some(block), Some(cert)) = (block, cert) {
                    self.decide(now, id, block, cert);
                    return;
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
                    .range((round, Phase::Prepare, BlockId::ZERO)..)
                    .take_while(|((r, ph, _), _)| *r == round && *ph == Phase::Prepare)
                    .map(|((_, _, id), _)| *id)
                    .chain(
                        self.pcerts
                            .keys()
                            .filter(|(r, _)| *r == round)
                            .map(|(_, id)| *id),
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

    fn proposal_to_prepare(&self) -> Option<BlockId> {
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
    fn decide(&mut self, now: Timestamp, id: BlockId, block: Block, certificate: Certificate) {
        self.stats.decided = self.stats.decided.saturating_add(1);
        self.outputs.push_back(Output::Commit {
            block: block.clone(),
            certificate: certificate.clone(),
        });
        let header = block.header.clone();
        let validate = Validate { block, certificate };
        self.outputs
            .push_back(Output::Broadcast(Message::Validate(validate.clone())));
        self.recent.push_back(validate);
        self.trim_recent();
        self.helped.clear();
        self.advance(header, id, now);
    }

    fn advance(&mut self, parent: Header, parent_id: BlockId, now: Timestamp) {
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
        self.votes.clear();
        self.tally.clear();
        self.pcerts.clear();
        self.seen_round.clear();
        self.round_changes.clear();
        self.emit_persist();
    }

    fn persisted(&self) -> Persisted {
        let lock = self.lock.and_then(|(r, id)| {
            Some((
                r,
                LockProof {
                    block: self.blocks.get(&id)?.clone(),
                    certificate: self.certificate(r, Phase::Prepare, id)?,
                },
            ))
        });
        Persisted {
            chain_id: self.cfg.spec.chain_id,
            parent: self.parent.clone(),
            round: self.round,
            round_start: self.times.start,
            prepared: self.prepared.clone(),
            committed: self.committed.clone(),
            lock,
            prepared_block: self.prepared_block(),
            proposed: self.proposed,
            led: self.led,
        }
    }

    /// See [`Persisted::prepared_block`]: the normal block of this round's PREPARE, else
    /// the held PRE-PREPARE (only well-formed, sealed ones are held), unless locked on it.
    fn prepared_block(&self) -> Option<Block> {
        let prepared = self
            .prepared
            .as_ref()
            .map(|p| p.block)
            .filter(|id| *id != self.impeach_id);
        let held = self.pre_prepare.as_ref().map(|(id, _, _)| *id);
        let id = prepared.or(held)?;
        if self.lock.is_some_and(|(_, locked)| locked == id) {
            return None;
        }
        self.blocks.get(&id).cloned()
    }

    fn emit_persist(&mut self) {
        let p = self.persisted();
        self.outputs.push_back(Output::Persist(p));
    }
}

/// The body a header commits to. The seal covers the header only, so anyone relaying a
/// sealed header can attach another body: a mismatch is not the proposer's doing and is
/// refused without a fault and without taking the PRE-PREPARE slot (issue 12 item 3).
fn check_body_binding(block: &Block) -> Result<(), Rejected> {
    if tx_root(&block.transactions) == block.header.tx_root {
        Ok(())
    } else {
        Err(Rejected::Block(BlockError::TxRoot))
    }
}
