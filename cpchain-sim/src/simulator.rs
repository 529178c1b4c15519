//! The discrete-event loop: one global virtual clock, one priority queue of events ordered
//! by `(time, sequence number)` so that ties break by insertion order, and nothing else that
//! could make two runs of one seed differ (no hash maps, no wall clock, no threads).

use super::clock::NodeClock;
use super::nemesis::{FaultKind, FaultPlan};
use super::network::{chance, uniform, Topology, Weather};
use super::node::{Context, Destination, Effect, NodeId, SimNode};
use super::SimRng;
use alloc::boxed::Box;
use alloc::collections::{BinaryHeap, VecDeque};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::cmp::Ordering;
use cpchain_core::{Duration, Timestamp};
use rand_core::SeedableRng;

/// Builds a node anew after a crash, from its persisted records only (everything volatile
/// is gone: the old instance was dropped).
pub type Restart<N> = Box<dyn FnMut(NodeId, &[<N as SimNode>::Persisted]) -> N>;

/// Something a node reported, stamped by the simulator.
#[derive(Debug, Clone)]
pub struct Observed<O> {
    /// Global (simulator) time.
    pub at: Timestamp,
    /// The node's own clock at that moment.
    pub local: Timestamp,
    /// Who reported it.
    pub node: NodeId,
    /// What happened.
    pub event: O,
}

/// Counters of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events processed.
    pub events: u64,
    /// Message copies put on the wire (one per recipient).
    pub sent: u64,
    /// Copies delivered to a running node.
    pub delivered: u64,
    /// Copies lost to link loss or weather.
    pub lost: u64,
    /// Copies lost to a partition.
    pub partitioned: u64,
    /// Copies lost because the recipient was down.
    pub to_crashed: u64,
    /// Extra copies made by duplication.
    pub duplicated: u64,
    /// Timer expiries delivered.
    pub timeouts: u64,
    /// Crashes.
    pub crashes: u64,
    /// Restarts.
    pub restarts: u64,
}

/// Why [`Simulator::run_until`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The caller's condition held.
    Condition,
    /// Global time reached the deadline.
    Deadline,
    /// Nothing left to do: no message in flight, no timer set, no fault pending.
    Idle,
    /// The event budget ran out (a node that never stops setting past deadlines, or a
    /// message storm).
    EventBudget,
}

enum Event<M> {
    Deliver { from: NodeId, to: NodeId, msg: M },
    Timer { node: NodeId, generation: u64 },
    FaultStart(usize),
    FaultEnd(usize),
}

struct Scheduled<M> {
    at: Timestamp,
    seq: u64,
    event: Event<M>,
}

impl<M> PartialEq for Scheduled<M> {
    fn eq(&self, o: &Self) -> bool {
        self.at == o.at && self.seq == o.seq
    }
}
impl<M> Eq for Scheduled<M> {}
impl<M> PartialOrd for Scheduled<M> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl<M> Ord for Scheduled<M> {
    // Reversed: BinaryHeap is a max-heap, we pop the earliest (then the first scheduled).
    fn cmp(&self, o: &Self) -> Ordering {
        o.at.cmp(&self.at).then(o.seq.cmp(&self.seq))
    }
}

struct Slot<N: SimNode> {
    node: Option<N>,
    clock: NodeClock,
    disk: Vec<N::Persisted>,
    down: u32,
    timer_generation: u64,
    timer_at: Option<Timestamp>,
}

/// The most trace lines kept; a failing run prints the tail.
pub const DEFAULT_TRACE_LINES: usize = 64;
const TRACE_LINE_CHARS: usize = 200;

/// A deterministic simulation of `n` nodes of type `N` under a [`FaultPlan`].
pub struct Simulator<N: SimNode> {
    rng: SimRng,
    now: Timestamp,
    origin: Timestamp,
    seq: u64,
    queue: BinaryHeap<Scheduled<N::Message>>,
    slots: Vec<Slot<N>>,
    topology: Topology,
    plan: FaultPlan,
    active: Vec<bool>,
    cut: Vec<u32>,
    weather: Weather,
    restart: Restart<N>,
    observations: Vec<Observed<N::Observation>>,
    stats: Stats,
    event_budget: u64,
    trace: Option<VecDeque<String>>,
    trace_cap: usize,
    ctx: Context<N::Message, N::Persisted, N::Observation>,
}

impl<N: SimNode> Simulator<N> {
    /// A simulation of `nodes` (node `i` is `nodes[i]`) on `topology`, starting at global
    /// time `origin`, with network randomness drawn from `seed`. Every node's
    /// [`SimNode::on_start`] runs at `origin` in index order.
    pub fn new(
        seed: u64,
        origin: Timestamp,
        nodes: Vec<N>,
        topology: Topology,
        plan: FaultPlan,
        restart: Restart<N>,
    ) -> Self {
        let n = nodes.len();
        let slots = nodes
            .into_iter()
            .enumerate()
            .map(|(i, node)| Slot {
                node: Some(node),
                clock: plan
                    .clocks
                    .get(i)
                    .copied()
                    .unwrap_or(NodeClock::exact(origin)),
                disk: Vec::new(),
                down: 0,
                timer_generation: 0,
                timer_at: None,
            })
            .collect();
        let mut sim = Simulator {
            rng: SimRng::seed_from_u64(seed),
            now: origin,
            origin,
            seq: 0,
            queue: BinaryHeap::new(),
            slots,
            topology,
            active: alloc::vec![false; plan.windows.len()],
            plan,
            cut: alloc::vec![0; n.saturating_mul(n)],
            weather: Weather::default(),
            restart,
            observations: Vec::new(),
            stats: Stats::default(),
            event_budget: u64::MAX,
            trace: None,
            trace_cap: DEFAULT_TRACE_LINES,
            ctx: Context::new(),
        };
        let windows: Vec<(Timestamp, Timestamp)> =
            sim.plan.windows.iter().map(|w| (w.start, w.end)).collect();
        for (i, (start, end)) in windows.into_iter().enumerate() {
            sim.schedule(start.max(origin), Event::FaultStart(i));
            sim.schedule(end.max(origin), Event::FaultEnd(i));
        }
        for id in 0..n {
            sim.start_node(id);
        }
        sim
    }

    /// Keep the last `lines` lines of a human-readable trace (off by default: formatting
    /// every event costs more than simulating it). Turn it on to replay a failing seed.
    pub fn with_trace(mut self, lines: usize) -> Self {
        self.trace = Some(VecDeque::with_capacity(lines));
        self.trace_cap = lines;
        self
    }

    /// Stop after this many events whatever happens.
    pub fn with_event_budget(mut self, events: u64) -> Self {
        self.event_budget = events;
        self
    }

    /// Global time.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The time the run started.
    pub fn origin(&self) -> Timestamp {
        self.origin
    }

    /// The fault plan.
    pub fn plan(&self) -> &FaultPlan {
        &self.plan
    }

    /// The topology.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Node `id`, if it is up.
    pub fn node(&self, id: NodeId) -> Option<&N> {
        self.slots.get(id).and_then(|s| s.node.as_ref())
    }

    /// Node `id`'s persisted records.
    pub fn disk(&self, id: NodeId) -> &[N::Persisted] {
        self.slots.get(id).map(|s| s.disk.as_slice()).unwrap_or(&[])
    }

    /// Node `id`'s clock.
    pub fn clock(&self, id: NodeId) -> Option<NodeClock> {
        self.slots.get(id).map(|s| s.clock)
    }

    /// Everything reported so far, in global order.
    pub fn observations(&self) -> &[Observed<N::Observation>] {
        &self.observations
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The trace tail, oldest first (empty unless [`Simulator::with_trace`]).
    pub fn trace(&self) -> Vec<String> {
        self.trace
            .as_ref()
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn tracing(&self) -> bool {
        self.trace.is_some()
    }

    fn record(&mut self, mut line: String) {
        let cap = self.trace_cap;
        if let Some(t) = self.trace.as_mut() {
            if line.len() > TRACE_LINE_CHARS {
                let mut cut = TRACE_LINE_CHARS;
                while !line.is_char_boundary(cut) {
                    cut -= 1;
                }
                line.truncate(cut);
                line.push('…');
            }
            if t.len() >= cap {
                t.pop_front();
            }
            if cap > 0 {
                t.push_back(line);
            }
        }
    }

    fn schedule(&mut self, at: Timestamp, event: Event<N::Message>) {
        self.seq = self.seq.wrapping_add(1);
        self.queue.push(Scheduled {
            at,
            seq: self.seq,
            event,
        });
    }

    fn local_now(&self, id: NodeId) -> Timestamp {
        self.slots
            .get(id)
            .map(|s| s.clock.local(self.now))
            .unwrap_or(self.now)
    }

    fn start_node(&mut self, id: NodeId) {
        let local = self.local_now(id);
        let mut ctx = core::mem::replace(&mut self.ctx, Context::new());
        if let Some(node) = self.slots.get_mut(id).and_then(|s| s.node.as_mut()) {
            node.on_start(local, &mut ctx);
        }
        self.apply(id, local, &mut ctx);
        self.ctx = ctx;
        self.rearm(id);
    }

    /// Apply a step's effects in order, then hand the buffer back empty.
    fn apply(
        &mut self,
        id: NodeId,
        local: Timestamp,
        ctx: &mut Context<N::Message, N::Persisted, N::Observation>,
    ) {
        let n = self.slots.len();
        for effect in ctx.effects.drain(..) {
            match effect {
                Effect::Persist(p) => {
                    if let Some(s) = self.slots.get_mut(id) {
                        s.disk.push(p);
                    }
                }
                Effect::Observe(event) => self.observations.push(Observed {
                    at: self.now,
                    local,
                    node: id,
                    event,
                }),
                Effect::Send(Destination::To(to), msg) => {
                    if to < n {
                        self.transmit(id, to, msg);
                    }
                }
                Effect::Send(Destination::Broadcast, msg) => {
                    for to in (0..n).filter(|&t| t != id) {
                        self.transmit(id, to, msg.clone());
                    }
                }
            }
        }
    }

    fn is_cut(&self, from: NodeId, to: NodeId) -> bool {
        let n = self.slots.len();
        from.checked_mul(n)
            .and_then(|x| x.checked_add(to))
            .and_then(|i| self.cut.get(i))
            .is_some_and(|c| *c > 0)
    }

    /// Put one copy on the link `from → to`: the link and the weather decide its fate.
    fn transmit(&mut self, from: NodeId, to: NodeId, msg: N::Message) {
        self.stats.sent += 1;
        if from != to && self.is_cut(from, to) {
            self.stats.partitioned += 1;
            return;
        }
        let Some(link) = self.topology.link(from, to).copied() else {
            return;
        };
        let loss = link
            .loss_per_mille
            .saturating_add(self.weather.loss_per_mille);
        if from != to && chance(&mut self.rng, loss) {
            self.stats.lost += 1;
            return;
        }
        let extra = self.weather.extra_delay_ms;
        let delay = |rng: &mut SimRng| {
            if from == to {
                0
            } else {
                link.latency
                    .sample(rng)
                    .saturating_add(uniform(rng, 0, extra))
            }
        };
        let dup = link
            .duplicate_per_mille
            .saturating_add(self.weather.duplicate_per_mille);
        if from != to && chance(&mut self.rng, dup) {
            self.stats.duplicated += 1;
            let d = delay(&mut self.rng);
            let at = self.now.saturating_add(Duration(d));
            self.schedule(
                at,
                Event::Deliver {
                    from,
                    to,
                    msg: msg.clone(),
                },
            );
        }
        let d = delay(&mut self.rng);
        let at = self.now.saturating_add(Duration(d));
        self.schedule(at, Event::Deliver { from, to, msg });
    }

    /// Ask the node for its deadline and (re)arm its single timer.
    fn rearm(&mut self, id: NodeId) {
        let now = self.now;
        let Some(slot) = self.slots.get_mut(id) else {
            return;
        };
        let Some(node) = slot.node.as_ref() else {
            slot.timer_at = None;
            return;
        };
        let want = node
            .next_deadline()
            .map(|local| slot.clock.global_for(local).max(now));
        if want == slot.timer_at {
            return;
        }
        slot.timer_generation = slot.timer_generation.wrapping_add(1);
        slot.timer_at = want;
        let generation = slot.timer_generation;
        if let Some(at) = want {
            self.schedule(
                at,
                Event::Timer {
                    node: id,
                    generation,
                },
            );
        }
    }

    fn recompute_faults(&mut self) {
        let n = self.slots.len();
        self.weather = Weather::default();
        for c in self.cut.iter_mut() {
            *c = 0;
        }
        for (w, on) in self.plan.windows.iter().zip(self.active.iter()) {
            if !*on {
                continue;
            }
            match &w.kind {
                FaultKind::Weather(x) => self.weather.add(x),
                FaultKind::Partition { side } => {
                    for a in 0..n {
                        for b in 0..n {
                            let sa = side.get(a).copied().unwrap_or(false);
                            let sb = side.get(b).copied().unwrap_or(false);
                            if sa != sb {
                                if let Some(c) = self.cut.get_mut(a * n + b) {
                                    *c += 1;
                                }
                            }
                        }
                    }
                }
                FaultKind::OneWay { from, to } => {
                    for a in 0..n {
                        for b in 0..n {
                            if from.get(a).copied().unwrap_or(false)
                                && to.get(b).copied().unwrap_or(false)
                            {
                                if let Some(c) = self.cut.get_mut(a * n + b) {
                                    *c += 1;
                                }
                            }
                        }
                    }
                }
                FaultKind::Crash { .. } => {}
            }
        }
    }

    fn fault(&mut self, index: usize, starts: bool) {
        let Some(kind) = self.plan.windows.get(index).map(|w| w.kind.clone()) else {
            return;
        };
        if let Some(a) = self.active.get_mut(index) {
            *a = starts;
        }
        if self.tracing() {
            let what = if starts { "starts" } else { "heals" };
            self.record(format!("{} fault {what}: {kind:?}", self.now));
        }
        match kind {
            FaultKind::Crash { node } => {
                let Some(slot) = self.slots.get_mut(node) else {
                    return;
                };
                if starts {
                    slot.down = slot.down.saturating_add(1);
                    if slot.down == 1 {
                        slot.node = None;
                        slot.timer_at = None;
                        slot.timer_generation = slot.timer_generation.wrapping_add(1);
                        self.stats.crashes += 1;
                    }
                } else if slot.down > 0 {
                    slot.down -= 1;
                    if slot.down == 0 {
                        let fresh = (self.restart)(node, &slot.disk);
                        slot.node = Some(fresh);
                        self.stats.restarts += 1;
                        self.start_node(node);
                    }
                }
            }
            _ => self.recompute_faults(),
        }
    }

    /// Process the next event. `false` when there is none.
    pub fn step(&mut self) -> bool {
        let Some(Scheduled { at, event, .. }) = self.queue.pop() else {
            return false;
        };
        self.now = self.now.max(at);
        self.stats.events += 1;
        match event {
            Event::FaultStart(i) => self.fault(i, true),
            Event::FaultEnd(i) => self.fault(i, false),
            Event::Timer { node, generation } => {
                let live = self
                    .slots
                    .get(node)
                    .is_some_and(|s| s.timer_generation == generation && s.node.is_some());
                if live {
                    if let Some(s) = self.slots.get_mut(node) {
                        s.timer_at = None;
                    }
                    self.stats.timeouts += 1;
                    let local = self.local_now(node);
                    if self.tracing() {
                        self.record(format!("{} n{node} timeout (local {local})", self.now));
                    }
                    let mut ctx = core::mem::replace(&mut self.ctx, Context::new());
                    if let Some(n) = self.slots.get_mut(node).and_then(|s| s.node.as_mut()) {
                        n.on_timeout(local, &mut ctx);
                    }
                    self.apply(node, local, &mut ctx);
                    self.ctx = ctx;
                    self.rearm(node);
                }
            }
            Event::Deliver { from, to, msg } => {
                if from != to && self.is_cut(from, to) {
                    self.stats.partitioned += 1;
                    return true;
                }
                if self.slots.get(to).is_none_or(|s| s.node.is_none()) {
                    self.stats.to_crashed += 1;
                    return true;
                }
                self.stats.delivered += 1;
                let local = self.local_now(to);
                if self.tracing() {
                    self.record(format!("{} n{from}->n{to} {msg:?}", self.now));
                }
                let mut ctx = core::mem::replace(&mut self.ctx, Context::new());
                if let Some(n) = self.slots.get_mut(to).and_then(|s| s.node.as_mut()) {
                    n.on_message(local, from, msg, &mut ctx);
                }
                self.apply(to, local, &mut ctx);
                self.ctx = ctx;
                self.rearm(to);
            }
        }
        true
    }

    /// Run until `stop` holds (checked after every step that produced an observation, and
    /// once before the first step), global time passes `deadline`, nothing is left to do,
    /// or the event budget is spent.
    pub fn run_until(
        &mut self,
        deadline: Timestamp,
        mut stop: impl FnMut(&Self) -> bool,
    ) -> StopReason {
        if stop(self) {
            return StopReason::Condition;
        }
        loop {
            if self.stats.events >= self.event_budget {
                return StopReason::EventBudget;
            }
            match self.queue.peek() {
                None => return StopReason::Idle,
                Some(e) if e.at > deadline => {
                    self.now = self.now.max(deadline);
                    return StopReason::Deadline;
                }
                Some(_) => {}
            }
            let seen = self.observations.len();
            self.step();
            if self.observations.len() != seen && stop(self) {
                return StopReason::Condition;
            }
        }
    }
}
