//! A simulated validator: the engine on the generic [`MachineNode`], driven only through
//! its public sans-IO API and the one machine contract, and [`ValidatorHost`], what a real
//! host adds (judging transactions, proposing on schedule, keeping the chain, answering block
//! sync), plus the checkers' instrumentation.

use super::byzantine::Byzantine;
use super::shared::{Event, FaultClass, Record, Shared, SimMsg, ILLICIT_TX};
use crate::machine::{Host, HostContext, MachineNode};
use crate::NodeId;
use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use alloc::vec::Vec;
use cpchain_consensus::lbft::{
    BlockError, BlockId, Config, Fault, FixedSchedule, Header, Message, Phase, ProposerSchedule,
    Rejected, Validate, Validator, ValidatorOutput, Verdict,
};
use cpchain_core::{Address, Height, Timestamp};

/// The simulated validator's engine: the LBFT validator, which keeps the one machine
/// contract itself. Generic over the proposer schedule, so any host (the demo's, with a DPoR
/// schedule) can put it on a [`MachineNode`].
pub type Engine<S = FixedSchedule> = Validator<S>;

/// A simulated validator: the engine and its host on the generic node.
pub type ValidatorNode = MachineNode<Engine, ValidatorHost>;

type Ctx = HostContext<ValidatorHost, Engine>;

/// One validator host (the engine is beside it, in the [`ValidatorNode`]).
pub struct ValidatorHost {
    shared: Rc<Shared>,
    id: NodeId,
    byzantine: Option<Byzantine>,
    /// Decided VALIDATE messages by height (the host's chain, also on disk).
    chain: BTreeMap<u64, Rc<Message>>,
    last: Header,
    last_id: BlockId,
    next_status: Timestamp,
    status_peer: usize,
    proposed_at: Option<Height>,
    // Detection instrumentation for the current height.
    height: Height,
    impeach_id: BlockId,
    seen_votes: BTreeMap<(Address, u32, Phase), BlockId>,
    seen_proposal: Option<BlockId>,
    /// Content verdicts owed to the engine (its `CheckBlock` outputs), given after the drain.
    checks: Vec<(BlockId, bool)>,
    /// What the step's input must make the engine report, and whether it did.
    expect: Expect,
    met: bool,
    /// Whether the step's input was a peer's LBFT message (the memory checker runs then).
    check_memory: bool,
}

/// What an input must make the engine report.
#[derive(Clone, Copy)]
enum Expect {
    Nothing,
    Equivocation(Address, u32),
    ProposerEquivocation(Address),
}

impl ValidatorHost {
    /// A host for `engine`; `disk` are the records it left before a crash (empty on first
    /// start).
    pub fn new(
        shared: Rc<Shared>,
        id: NodeId,
        engine: &Engine,
        byzantine: Option<Byzantine>,
        disk: &[Record],
    ) -> Self {
        let mut chain = BTreeMap::new();
        for r in disk {
            if let Record::Block(m) = r {
                chain.insert(m.height().0, m.clone());
            }
        }
        let last = engine.parent().clone();
        let height = engine.height();
        let impeach_id = engine.impeach_id();
        ValidatorHost {
            shared,
            id,
            byzantine,
            chain,
            last_id: last.id(),
            last,
            next_status: Timestamp(0),
            status_peer: id,
            proposed_at: None,
            height,
            impeach_id,
            seen_votes: BTreeMap::new(),
            seen_proposal: None,
            checks: Vec::new(),
            expect: Expect::Nothing,
            met: true,
            check_memory: false,
        }
    }

    /// Build from configuration, or restore from the last persisted engine state.
    pub fn start(
        shared: Rc<Shared>,
        id: NodeId,
        cfg: Config,
        genesis: &Header,
        now: Timestamp,
        byzantine: Option<Byzantine>,
        disk: &[Record],
    ) -> Option<ValidatorNode> {
        let persisted = disk.iter().rev().find_map(|r| match r {
            Record::Engine(p) => Some(p),
            _ => None,
        });
        let schedule = shared.schedule.clone();
        // The decided VALIDATEs on disk, newest first: the head's is the first.
        let recent: Vec<Validate> = disk
            .iter()
            .rev()
            .filter_map(|r| match r {
                Record::Block(m) => match &**m {
                    Message::Validate(v) => Some(v.clone()),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        let head = recent
            .first()
            .map(|v| v.block.header.clone())
            .unwrap_or_else(|| genesis.clone());
        // The one restart call of the engine: record, head and recent VALIDATEs.
        let engine = Validator::restart(
            cfg,
            schedule,
            persisted.map(|p| (**p).clone()),
            head,
            recent,
            now,
        )
        .ok()?;
        let host = ValidatorHost::new(shared, id, &engine, byzantine, disk);
        Some(MachineNode::new(engine, host))
    }

    /// Whether this host is Byzantine.
    pub fn is_byzantine(&self) -> bool {
        self.byzantine.is_some()
    }

    /// Height of the last decided block.
    pub fn committed_height(&self) -> Height {
        self.last.height
    }

    fn new_height(&mut self, engine: &Engine, ctx: &mut Ctx) {
        if engine.height() == self.height {
            return;
        }
        self.height = engine.height();
        self.impeach_id = engine.impeach_id();
        self.seen_votes.clear();
        self.seen_proposal = None;
        if let Some(b) = self.byzantine.as_mut() {
            b.enter_height(&self.shared, self.id, self.height, self.impeach_id, ctx);
        }
    }

    fn propose_at(&self, engine: &Engine) -> Option<Timestamp> {
        let h = engine.height();
        if self.proposed_at == Some(h)
            || engine.round() != 0
            || self.shared.schedule.proposer_of(h) != Some(engine.address())
        {
            return None;
        }
        Some(
            engine
                .parent()
                .timestamp
                .saturating_add(self.shared.spec.block_period),
        )
    }

    fn maybe_propose(&mut self, engine: &mut Engine, now: Timestamp, ctx: &mut Ctx) {
        let Some(at) = self.propose_at(engine) else {
            return;
        };
        if now < at {
            return;
        }
        let h = engine.height();
        self.proposed_at = Some(h);
        let txs = alloc::vec![alloc::format!("tx h{} n{}", h.0, self.id).into_bytes()];
        if let Some(b) = self.byzantine.as_mut() {
            let parent = engine.parent().clone();
            if let Some(own) = b.propose(&self.shared, self.id, &parent, now, txs.clone(), ctx) {
                if let Some(block) = own {
                    let me = engine.address();
                    let _ = engine.handle_message(now, me, Message::PrePrepare(block));
                }
                return;
            }
        }
        if engine.propose(now, txs).is_ok() {
            ctx.observe(Event::Proposed { height: h });
        }
    }

    /// One output of the engine (see [`Host::on_output`]).
    fn output(&mut self, out: ValidatorOutput, ctx: &mut Ctx) {
        match out {
            ValidatorOutput::Persist(p) => ctx.persist(Record::Engine(Rc::new(p))),
            ValidatorOutput::Broadcast(m) => self.send(m, ctx),
            ValidatorOutput::Send { to, msg } => {
                if let Some(node) = self.shared.node_of(&to) {
                    let silent = self.byzantine.as_ref().is_some_and(|b| b.is_silent());
                    if !silent {
                        ctx.send(node, SimMsg::Lbft(Rc::new(msg)));
                    }
                }
            }
            ValidatorOutput::CheckBlock { block, .. } => {
                let valid = !block
                    .transactions
                    .iter()
                    .any(|t| t.as_slice() == ILLICIT_TX);
                // Answered in `after_drain`: the verdict's outputs queue behind this drain's,
                // as they did when the verdict was given inside the drain loop.
                self.checks.push((block.id(), valid));
            }
            ValidatorOutput::Commit { block, certificate } => {
                let claimed = certificate.block;
                let certified = block.header.parent == self.last_id
                    && self.shared.certified(
                        &self.last,
                        self.last_id,
                        &block,
                        claimed,
                        &certificate,
                    );
                // Certified means the block hashes to `claimed` (checked there).
                let id = if certified { claimed } else { block.id() };
                self.last_id = id;
                ctx.observe(Event::Committed {
                    height: block.header.height,
                    block: id,
                    impeach: block.is_impeach(),
                    round: certificate.round,
                    certified,
                });
                self.last = block.header.clone();
                let m = Rc::new(Message::Validate(Validate { block, certificate }));
                self.chain.insert(self.last.height.0, m.clone());
                ctx.persist(Record::Block(m));
            }
            ValidatorOutput::Fault(f) => {
                if self.byzantine.is_some() {
                    return;
                }
                let ev = fault_event(&f);
                match (&self.expect, &f) {
                    (Expect::Equivocation(a, r), Fault::Equivocation { second, .. })
                        if second.voter == *a && second.round == *r =>
                    {
                        self.met = true
                    }
                    (
                        Expect::ProposerEquivocation(a),
                        Fault::ProposerEquivocation { second, .. },
                    ) if second.proposer == *a => self.met = true,
                    _ => {}
                }
                ctx.observe(ev);
            }
            // An output kind added to the engine after this adapter: nothing to route yet.
            _ => {}
        }
    }

    /// The detection checker's verdict on the step: the input's expected fault came out.
    fn judge_detection(&mut self, ctx: &mut Ctx) {
        let expect = core::mem::replace(&mut self.expect, Expect::Nothing);
        let met = core::mem::replace(&mut self.met, true);
        if met || self.byzantine.is_some() {
            return;
        }
        let missed = match expect {
            Expect::Equivocation(culprit, round) => Some((culprit, round)),
            Expect::ProposerEquivocation(culprit) => Some((culprit, 0)),
            Expect::Nothing => None,
        };
        if let Some((culprit, round)) = missed {
            ctx.observe(Event::MissedDetection {
                culprit,
                height: self.height,
                round,
            });
        }
    }

    fn send(&mut self, m: Message, ctx: &mut Ctx) {
        if let Some(b) = self.byzantine.as_mut() {
            b.broadcast(&self.shared, self.id, m, ctx);
            return;
        }
        if let Message::Vote(v) = &m {
            ctx.observe(Event::Signed {
                height: v.height,
                round: v.round,
                phase: v.kind.phase(),
                block: v.block,
            });
        }
        ctx.broadcast(SimMsg::Lbft(Rc::new(m)));
    }

    /// What handing `msg` to the engine must produce. Only the rare conflicting case costs
    /// a signature check here; first votes are recorded after the engine accepted them.
    fn expectation(&self, engine: &Engine, msg: &Message) -> Expect {
        if self.byzantine.is_some() || msg.height() != engine.height() {
            return Expect::Nothing;
        }
        match msg {
            Message::Vote(v) => {
                let kind_fits = (v.block == self.impeach_id) == v.kind.is_impeach();
                let in_reach = v.round
                    <= engine
                        .round()
                        .saturating_add(engine.config().round_lookahead);
                match self.seen_votes.get(&(v.voter, v.round, v.kind.phase())) {
                    Some(first)
                        if *first != v.block && kind_fits && in_reach && self.shared.vote_ok(v) =>
                    {
                        Expect::Equivocation(v.voter, v.round)
                    }
                    _ => Expect::Nothing,
                }
            }
            Message::PrePrepare(b) => match self.seen_proposal {
                Some(first)
                    if first != b.id()
                        && !b.is_impeach()
                        && self.shared.schedule.proposer_of(engine.height())
                            == Some(b.header.proposer)
                        && b.header.parent == self.last_id
                        && cpchain_consensus::lbft::block::tx_root(&b.transactions)
                            == b.header.tx_root
                        && b.verify_seal().is_ok() =>
                {
                    Expect::ProposerEquivocation(b.header.proposer)
                }
                _ => Expect::Nothing,
            },
            _ => Expect::Nothing,
        }
    }

    /// Record what the engine took in at the current height.
    fn accepted(&mut self, engine: &Engine, msg: &Message, height: Height, r: &Verdict) {
        if self.byzantine.is_some() || msg.height() != height || engine.height() != height {
            return;
        }
        match msg {
            Message::Vote(v) if r.is_accept() => {
                self.seen_votes
                    .entry((v.voter, v.round, v.kind.phase()))
                    .or_insert(v.block);
            }
            Message::PrePrepare(b) => {
                // The engine keeps the first correctly sealed PRE-PREPARE of the scheduled
                // proposer for this chain, height and parent, with the body its header
                // commits to, licit or not.
                let kept = match r.rejected() {
                    None => true,
                    Some(Rejected::Block(e)) => !matches!(
                        e,
                        BlockError::BadSeal
                            | BlockError::WrongProposer
                            | BlockError::NotTheImpeachBlock
                            | BlockError::WrongChain
                            | BlockError::WrongHeight
                            | BlockError::WrongParent
                            | BlockError::TxRoot
                    ),
                    Some(_) => false,
                };
                if kept && self.seen_proposal.is_none() {
                    self.seen_proposal = Some(b.id());
                }
            }
            _ => {}
        }
    }

    /// The memory checker: an honest engine's accounted holdings against its bound.
    fn check_memory(&self, engine: &Engine, ctx: &mut Ctx) {
        if self.byzantine.is_some() {
            return;
        }
        let held = engine.held();
        let cfg = engine.config();
        let bytes = held
            .future
            .saturating_add(held.height)
            .saturating_add(held.catch_up);
        let bound =
            cfg.peer_memory_bound(self.shared.n_validators, engine.round().saturating_add(1));
        if bytes > bound || held.future > cfg.future_bytes {
            ctx.observe(Event::OverBudget { held: bytes, bound });
        }
    }

    fn on_status(&mut self, from: NodeId, next: Height, ctx: &mut Ctx) {
        if self.byzantine.is_some() {
            return;
        }
        let end = next.0.saturating_add(self.shared.sync_batch);
        for (_, m) in self.chain.range(next.0..end) {
            ctx.send(from, SimMsg::Lbft(m.clone()));
        }
    }
}

fn fault_event(f: &Fault) -> Event {
    match f {
        Fault::Equivocation { second, .. } => Event::Fault {
            class: FaultClass::Equivocation,
            culprit: Some(second.voter),
            height: second.height,
            round: second.round,
            phase: Some(second.kind.phase()),
        },
        Fault::ProposerEquivocation { second, .. } => Event::Fault {
            class: FaultClass::ProposerEquivocation,
            culprit: Some(second.proposer),
            height: second.height,
            round: 0,
            phase: None,
        },
        Fault::IllicitBlock { header, .. } => Event::Fault {
            class: FaultClass::IllicitBlock,
            culprit: Some(header.proposer),
            height: header.height,
            round: 0,
            phase: None,
        },
        Fault::LeaderEquivocation { second, .. } => Event::Fault {
            class: FaultClass::ProposerEquivocation,
            culprit: Some(second.leader),
            height: second.height,
            round: second.round,
            phase: None,
        },
        Fault::BadSeal { .. } => Event::Fault {
            class: FaultClass::BadSeal,
            culprit: None,
            height: Height(0),
            round: 0,
            phase: None,
        },
        _ => Event::Fault {
            class: FaultClass::Other,
            culprit: None,
            height: Height(0),
            round: 0,
            phase: None,
        },
    }
}

impl Host<Engine> for ValidatorHost {
    type Message = SimMsg;
    type Persisted = Record;
    type Observation = Event;

    /// A restored engine re-broadcasts its votes: the wrapper drains them next.
    fn on_start(&mut self, _: &mut Engine, now: Timestamp, _: &mut Ctx) {
        self.next_status = now.saturating_add(self.shared.sync_interval);
    }

    fn on_message(
        &mut self,
        engine: &mut Engine,
        now: Timestamp,
        from: NodeId,
        msg: SimMsg,
        ctx: &mut Ctx,
    ) {
        match msg {
            SimMsg::Status(h) => self.on_status(from, h, ctx),
            SimMsg::Lbft(m) => {
                if let Some(b) = self.byzantine.as_mut() {
                    b.heard(&m);
                    b.relay_tampered(&m, ctx);
                }
                self.expect = self.expectation(engine, &m);
                self.met = matches!(self.expect, Expect::Nothing);
                let height = engine.height();
                let from_addr = self.shared.address(from);
                let r = engine.handle_message(now, from_addr, (*m).clone());
                self.accepted(engine, &m, height, &r);
                self.check_memory = true;
            }
        }
    }

    fn on_output(&mut self, _: Timestamp, out: ValidatorOutput, ctx: &mut Ctx) {
        self.output(out, ctx);
    }

    /// Owed content verdicts first (their outputs are drained next); then a new height's
    /// bookkeeping and, on the proposer's slot, a proposal.
    fn after_drain(&mut self, engine: &mut Engine, now: Timestamp, ctx: &mut Ctx) -> bool {
        if !self.checks.is_empty() {
            for (id, valid) in self.checks.drain(..) {
                engine.block_checked(now, id, valid);
            }
            return true;
        }
        self.new_height(engine, ctx);
        let before = self.proposed_at;
        self.maybe_propose(engine, now, ctx);
        self.proposed_at != before
    }

    fn after_step(&mut self, engine: &Engine, _: Timestamp, ctx: &mut Ctx) {
        self.judge_detection(ctx);
        if core::mem::take(&mut self.check_memory) {
            self.check_memory(engine, ctx);
        }
    }

    fn deadline(&self, engine: &Engine) -> Option<Timestamp> {
        match self.propose_at(engine) {
            Some(p) => Some(p.min(self.next_status)),
            None => Some(self.next_status),
        }
    }

    /// The block-sync status timer (before the engine's own timeout, as a host's loop
    /// would order them).
    fn on_timeout(&mut self, engine: &mut Engine, now: Timestamp, ctx: &mut Ctx) {
        if now >= self.next_status {
            self.next_status = now.saturating_add(self.shared.sync_interval);
            let n = self.shared.n_validators.max(1);
            self.status_peer = (self.status_peer + 1) % n;
            if self.status_peer == self.id {
                self.status_peer = (self.status_peer + 1) % n;
            }
            if self.byzantine.as_ref().is_none_or(|b| !b.is_silent()) {
                ctx.send(self.status_peer, SimMsg::Status(engine.height()));
            }
            if let Some(b) = self.byzantine.as_mut() {
                b.replay(ctx);
            }
        }
    }
}
