//! What the simulator drives: any sans-IO state machine that takes messages and timer
//! expiries with a node-local `now`, and answers with sends, persists and observations.

use alloc::vec::Vec;
use core::fmt::Debug;
use cpchain_core::Timestamp;

/// Index of a simulated node (`0..n`), the simulator's name for a peer.
pub type NodeId = usize;

/// Where an outgoing message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// One peer.
    To(NodeId),
    /// Every other node (the simulator sends one copy per link, each with its own fate).
    Broadcast,
}

/// The effects one step of a node produced, in the order it produced them. The simulator
/// applies them in that order, so a `persist` made before a `send` is durable before the
/// message can reach anyone (the engines' `Persist`-before-send contract).
#[derive(Debug)]
pub struct Context<M, P, O> {
    pub(crate) effects: Vec<Effect<M, P, O>>,
}

/// One effect of a step.
#[derive(Debug)]
pub(crate) enum Effect<M, P, O> {
    Send(Destination, M),
    Persist(P),
    Observe(O),
}

impl<M, P, O> Context<M, P, O> {
    pub(crate) fn new() -> Self {
        Context {
            effects: Vec::new(),
        }
    }

    /// Send `msg` to one peer through the simulated network.
    pub fn send(&mut self, to: NodeId, msg: M) {
        self.effects.push(Effect::Send(Destination::To(to), msg));
    }

    /// Send `msg` to every other node.
    pub fn broadcast(&mut self, msg: M) {
        self.effects.push(Effect::Send(Destination::Broadcast, msg));
    }

    /// Append `record` to the node's simulated disk. A crash loses everything else; a
    /// restart gets the records back, in order.
    pub fn persist(&mut self, record: P) {
        self.effects.push(Effect::Persist(record));
    }

    /// Report something checkers should see (a commit, a fault, ...), stamped by the
    /// simulator with global and local time.
    pub fn observe(&mut self, event: O) {
        self.effects.push(Effect::Observe(event));
    }
}

/// A node the simulator can drive. Implement it for a thin adapter around a sans-IO engine:
/// feed the input to the engine, then drain the engine's outputs into the [`Context`].
///
/// `now` is always the node's **local** clock (skewed and drifting under the clock
/// nemesis); the simulator converts [`SimNode::next_deadline`] back to global time.
pub trait SimNode {
    /// Wire message between nodes. Cloned once per recipient of a broadcast: wrap large
    /// payloads in `Rc`.
    type Message: Clone + Debug;
    /// One durable record (see [`Context::persist`]).
    type Persisted: Clone;
    /// What checkers look at.
    type Observation: Debug;

    /// Called once when the node starts or restarts, before any other input.
    fn on_start(
        &mut self,
        now: Timestamp,
        ctx: &mut Context<Self::Message, Self::Persisted, Self::Observation>,
    ) {
        let _ = (now, ctx);
    }

    /// A message from `from` arrived.
    fn on_message(
        &mut self,
        now: Timestamp,
        from: NodeId,
        msg: Self::Message,
        ctx: &mut Context<Self::Message, Self::Persisted, Self::Observation>,
    );

    /// The local clock reached [`SimNode::next_deadline`].
    fn on_timeout(
        &mut self,
        now: Timestamp,
        ctx: &mut Context<Self::Message, Self::Persisted, Self::Observation>,
    );

    /// The next local time at which [`SimNode::on_timeout`] must run, if any. Asked after
    /// every step; a deadline in the past fires at once.
    fn next_deadline(&self) -> Option<Timestamp>;
}
