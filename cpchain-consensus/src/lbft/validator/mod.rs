//! The validator state machine (§2.4.2), sans-IO.
//!
//! Inputs: [`Validator::handle_message`] (or [`Validator::handle_bytes`]),
//! [`Validator::handle_timeout`], [`Validator::block_checked`] (the host's verdict on a
//! block's transactions) and [`Validator::propose`]. Outputs: drained from
//! [`Validator::poll_output`]; the host arms one timer at [`Validator::next_deadline`].
//!
//! Ordering contract: every [`ValidatorOutput::Persist`] precedes the [`ValidatorOutput::Broadcast`] of any
//! vote, proposal or round change that depends on it. A host that writes each `Persist`
//! durably before sending what follows can restart with [`Validator::restart`] and never
//! sign two conflicting votes (test `restore_after_crash_never_double_votes`).

use super::block::{Block, BlockId, Header};
use super::budget::{heap_of_certificate, FutureBuffer, Held};
use super::config::Config;
use super::error::{BlockError, ConfigError, ProposeError, Rejected};
use super::message::{Message, Proposal, Validate};
use super::round::RoundTimes;
use super::schedule::ProposerSchedule;
use super::vote::Vote;
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::vec::Vec;
use cpchain_core::encoding::decode;
use cpchain_core::machine::Machine;
use cpchain_core::{Address, Hash, Height, Timestamp};
use cpchain_crypto::Signature;

mod blocks;
mod catch_up;
mod future;
mod lock;
mod output;
mod persist;
mod receive;
mod steps;
mod tally;

use tally::Tally;

pub use output::{
    Fault, Persisted, State, Stats, ValidatorDrop, ValidatorOutput, Verdict, VALIDATOR_DROP_REASONS,
};

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
    /// Votes, counts and learnt P-certificates of this height.
    tally: Tally,
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
    outputs: VecDeque<ValidatorOutput>,
    stats: Stats,
    /// Leaves the host vouched for, for the message being handled only
    /// ([`Validator::handle_message_with_known_leaves`]); `None` outside that call.
    known_leaves: Option<Vec<Option<Hash>>>,
}

impl<S: ProposerSchedule> Validator<S> {
    /// A fresh validator starting at the height after `parent` (genesis or the host's
    /// chain head), at time `now`, with nothing persisted. A host that may have state on
    /// disk starts with [`Validator::restart`] instead, which also takes the record and the
    /// head's VALIDATE.
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

    pub(super) fn blank(
        cfg: Config,
        schedule: S,
        me: Address,
        parent: Header,
        now: Timestamp,
    ) -> Self {
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
            tally: Tally::default(),
            seen_round: Vec::new(),
            round_changes: BTreeSet::new(),
            recent: VecDeque::new(),
            helped: BTreeSet::new(),
            future: FutureBuffer::default(),
            outputs: VecDeque::new(),
            stats: Stats::default(),
            known_leaves: None,
        }
    }

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
        let (votes, counts, pcerts) = self.tally.entries();
        Held {
            future: self.future.bytes(),
            height: self
                .height_bytes()
                .saturating_add(self.tally.pcerts().map(heap_of_certificate).sum::<usize>()),
            catch_up: self.catch_up_bytes(),
            entries: votes
                .saturating_add(counts)
                .saturating_add(self.round_changes.len())
                .saturating_add(self.proposals.len())
                .saturating_add(pcerts)
                .saturating_add(self.helped.len())
                .saturating_add(self.future.len()),
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
    pub fn poll_output(&mut self) -> Option<ValidatorOutput> {
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

    /// Decode and handle bytes from a peer (see [`Validator::handle_message`]); bytes
    /// that do not decode are [`Verdict::Reject`] with [`Rejected::Decode`].
    pub fn handle_bytes(&mut self, now: Timestamp, from: Address, bytes: &[u8]) -> Verdict {
        match decode::<Message>(bytes) {
            Ok(msg) => self.handle_message(now, from, msg),
            Err(e) => self.count_drop(Rejected::Decode(e)),
        }
    }

    /// Handle a message from a peer. `from` is the transport sender, used to answer a
    /// laggard and to name the deliverer of a bad seal: every message authenticates itself
    /// by signature. A peer's bad message is not the caller's error: the [`Verdict`] says
    /// whether it was taken in, ignored or rejected (for the host's peer scoring), a dropped
    /// one is counted by reason in [`Stats::dropped`], and the state is then unchanged
    /// (apart from counters and `Fault` outputs).
    pub fn handle_message(&mut self, now: Timestamp, from: Address, msg: Message) -> Verdict {
        // No leaf known (an empty `known` is used only for an empty body, where it is
        // exactly the body's leaves); `Vec::new` does not allocate.
        self.handle_message_with_known_leaves(now, from, msg, Vec::new())
    }

    /// [`Validator::handle_message`] with the `tx_root` leaves of a PRE-PREPARE's body that
    /// the host already knows: `known[i]`, where `Some`, is `keccak256` of the body's
    /// `i`-th transaction, and the engine hashes only the others. Why: the host's pool
    /// holds most of a proposal's transactions already hashed, and hashing a full body
    /// again was ~1 % of a loaded devnet's CPU per validator (issue 14). The host vouches
    /// for each `Some` (the host node gives one only where the body's bytes equal, byte for
    /// byte, a transaction it hashed before), as for [`ValidatorOutput::CheckBlock`]'s
    /// `tx_hashes`; the header's `tx_root` is still checked over all the leaves, so a
    /// wrong leaf makes the engine refuse the body, not accept another one. `known` of
    /// another length than the body, or given with any other message, is not used, and it
    /// is used only while this call handles `msg` (a PRE-PREPARE set aside for a later
    /// height is hashed when its height comes). The outcome is exactly
    /// [`Validator::handle_message`]'s.
    pub fn handle_message_with_known_leaves(
        &mut self,
        now: Timestamp,
        from: Address,
        msg: Message,
        known: Vec<Option<Hash>>,
    ) -> Verdict {
        self.known_leaves = matches!(msg, Message::PrePrepare(_)).then_some(known);
        let verdict = match self.dispatch(now, from, msg) {
            Ok(()) => Verdict::Accept,
            Err(why) => self.count_drop(why),
        };
        self.known_leaves = None;
        self.drain_future(now);
        verdict
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
    /// [`ValidatorOutput::CheckBlock`]. An invalid body is illicit (§2.4.2): impeach.
    pub fn block_checked(&mut self, now: Timestamp, block: BlockId, valid: bool) {
        if self.pending_check != Some(block) {
            return;
        }
        self.pending_check = None;
        if valid {
            self.approved.insert(block);
        } else if let Some((_, header, seal)) = self.pre_prepare.clone() {
            self.outputs
                .push_back(ValidatorOutput::Fault(Fault::IllicitBlock {
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
        self.propose_inner(now, transactions, None)
    }

    /// [`Validator::propose`] with the transactions' hashes (`keccak256` of each, in order)
    /// from the host's pool, which holds them already: `tx_root` is built from them and
    /// the body is not hashed again (issue 14, [`Block::propose_with_leaves`]). The block
    /// is the one [`Validator::propose`] seals when the hashes are right; the host vouches
    /// for them (a wrong one makes a block every peer refuses for its `tx_root`).
    pub fn propose_with_leaves(
        &mut self,
        now: Timestamp,
        transactions: Vec<Vec<u8>>,
        leaves: &[Hash],
    ) -> Result<BlockId, ProposeError> {
        self.propose_inner(now, transactions, Some(leaves))
    }

    fn propose_inner(
        &mut self,
        now: Timestamp,
        transactions: Vec<Vec<u8>>,
        leaves: Option<&[Hash]>,
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
        // No leaves (or leaves of another length) and the body is hashed.
        let block = Block::propose_with_leaves(
            &self.cfg.spec,
            &self.parent,
            &self.cfg.key,
            self.cfg.coinbase,
            time,
            transactions,
            leaves.unwrap_or(&[]),
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
            .push_back(ValidatorOutput::Broadcast(Message::PrePrepare(block)));
        self.progress(now);
        Ok(id)
    }

    pub(super) fn dispatch(
        &mut self,
        now: Timestamp,
        from: Address,
        msg: Message,
    ) -> Result<(), Rejected> {
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
}

/// The SDK's one machine contract ([`cpchain_core::machine`]); it calls the inherent
/// methods of the same names. The validator always has a deadline (its round timer).
impl<S: ProposerSchedule> Machine for Validator<S> {
    type Output<'a>
        = ValidatorOutput
    where
        S: 'a;
    type Stats = Stats;

    fn handle_timeout(&mut self, now: Timestamp) {
        Validator::handle_timeout(self, now);
    }

    fn next_deadline(&self) -> Option<Timestamp> {
        Validator::next_deadline(self)
    }

    fn poll_output(&mut self) -> Option<ValidatorOutput> {
        Validator::poll_output(self)
    }

    fn stats(&self) -> Stats {
        Validator::stats(self)
    }
}
