//! One node wrapper for every machine of the SDK: [`MachineNode`] drives any
//! [`cpchain_core::machine::Machine`] (the LBFT validator, the data-chain writer, the sharing
//! owner, proxy and grantee …) through the contract's own calls: it arms the machine's single
//! timer ([`Machine::next_deadline`], [`Machine::handle_timeout`]) and drains its outputs
//! ([`drain`]) after every input, in order. What differs from machine to machine (which
//! input a wire message is, where an output goes) is a [`Host`]: a small adapter that turns
//! a message into an input and an output into effects on the simulator's [`Context`].
//!
//! The wrapper is generic, not `dyn`: it sits in the simulator's inner loop, so each
//! (machine, host) pair compiles to its own loop with no boxing or allocation per event.
//!
//! Order within one step, which adapters may rely on:
//! 1. the input: [`Host::on_start`], [`Host::on_message`], or, on a timer, [`Host::on_timeout`]
//!    (the host's own timer work) followed by the machine's `handle_timeout` when its
//!    deadline has passed;
//! 2. every output, in the machine's order, to [`Host::on_output`] (a `Persist` before the
//!    sends that depend on it stays before them: effects apply in order);
//! 3. [`Host::after_drain`], which may give the machine more input (a content verdict, a
//!    proposal); while it returns `true`, 2 and 3 repeat;
//! 4. [`Host::after_step`] once, for checks that look at the whole step.

use crate::node::{Context, NodeId, SimNode};
use core::fmt::Debug;
use cpchain_core::machine::{drain, Machine};
use cpchain_core::Timestamp;

/// The effects context a host of machine `M` writes to.
pub type HostContext<H, M> =
    Context<<H as Host<M>>::Message, <H as Host<M>>::Persisted, <H as Host<M>>::Observation>;

/// What one kind of node adds around its machine: how a wire message becomes an input and
/// an output becomes effects. Every hook but [`Host::on_message`] and [`Host::on_output`]
/// has a do-nothing default.
///
/// The machine is handed to each hook separately from the host (`&mut M` beside `&mut
/// self`), so a host can feed it inputs while it keeps its own state; [`Host::on_output`] gets
/// no machine because an output may borrow it (the writer lends its sealed block): a host
/// that must answer an output with an input (the validator's `CheckBlock`) notes it and
/// answers in [`Host::after_drain`].
pub trait Host<M: Machine> {
    /// Wire message between nodes (see [`SimNode::Message`]).
    type Message: Clone + Debug;
    /// One durable record (see [`SimNode::Persisted`]).
    type Persisted: Clone;
    /// What checkers look at (see [`SimNode::Observation`]).
    type Observation: Debug;

    /// The node starts or restarts; the machine's outputs are drained afterwards (a restored
    /// validator re-broadcasts its votes).
    fn on_start(&mut self, machine: &mut M, now: Timestamp, ctx: &mut HostContext<Self, M>) {
        let _ = (machine, now, ctx);
    }

    /// A message from node `from` arrived: hand it to the machine (or answer it directly).
    fn on_message(
        &mut self,
        machine: &mut M,
        now: Timestamp,
        from: NodeId,
        msg: Self::Message,
        ctx: &mut HostContext<Self, M>,
    );

    /// One output of the machine, in order.
    fn on_output(&mut self, now: Timestamp, output: M::Output<'_>, ctx: &mut HostContext<Self, M>);

    /// Every pending output is drained. Return `true` if the host gave the machine more
    /// input (its outputs are then drained and this is asked again).
    fn after_drain(
        &mut self,
        machine: &mut M,
        now: Timestamp,
        ctx: &mut HostContext<Self, M>,
    ) -> bool {
        let _ = (machine, now, ctx);
        false
    }

    /// The step is over (all outputs drained): a place for checks of the whole step.
    fn after_step(&mut self, machine: &M, now: Timestamp, ctx: &mut HostContext<Self, M>) {
        let _ = (machine, now, ctx);
    }

    /// The host's own next timer (a sensor reading, a status message, a proposal slot),
    /// besides the machine's; `None` when it has none.
    fn deadline(&self, machine: &M) -> Option<Timestamp> {
        let _ = machine;
        None
    }

    /// A timer fired: the host's own timer work, done before the machine's `handle_timeout`.
    /// A host that gives the machine several inputs here drains between them with
    /// [`drain_to`] (the writer lends one sealed block at a time).
    fn on_timeout(&mut self, machine: &mut M, now: Timestamp, ctx: &mut HostContext<Self, M>) {
        let _ = (machine, now, ctx);
    }
}

/// Drains every pending output of `machine` into `host`'s [`Host::on_output`], in order;
/// returns how many there were. The wrapper's own drain, for hosts that feed several inputs
/// in one hook.
pub fn drain_to<M: Machine, H: Host<M>>(
    host: &mut H,
    machine: &mut M,
    now: Timestamp,
    ctx: &mut HostContext<H, M>,
) -> usize {
    drain(machine, |out| host.on_output(now, out, ctx))
}

/// A simulated node: a machine of the SDK and its host, driven through
/// [`cpchain_core::machine::Machine`] (see the module docs for the order within a step).
#[derive(Debug, Clone)]
pub struct MachineNode<M, H> {
    /// The sans-IO machine.
    pub machine: M,
    /// Its host adapter.
    pub host: H,
}

impl<M: Machine, H: Host<M>> MachineNode<M, H> {
    /// A node running `machine` under `host`.
    pub fn new(machine: M, host: H) -> Self {
        MachineNode { machine, host }
    }

    /// Drain, let the host answer, repeat; then the step's closing hook.
    fn pump(&mut self, now: Timestamp, ctx: &mut HostContext<H, M>) {
        loop {
            drain_to(&mut self.host, &mut self.machine, now, ctx);
            if !self.host.after_drain(&mut self.machine, now, ctx) {
                break;
            }
        }
        self.host.after_step(&self.machine, now, ctx);
    }
}

impl<M: Machine, H: Host<M>> SimNode for MachineNode<M, H> {
    type Message = H::Message;
    type Persisted = H::Persisted;
    type Observation = H::Observation;

    fn on_start(&mut self, now: Timestamp, ctx: &mut HostContext<H, M>) {
        self.host.on_start(&mut self.machine, now, ctx);
        self.pump(now, ctx);
    }

    fn on_message(
        &mut self,
        now: Timestamp,
        from: NodeId,
        msg: H::Message,
        ctx: &mut HostContext<H, M>,
    ) {
        self.host.on_message(&mut self.machine, now, from, msg, ctx);
        self.pump(now, ctx);
    }

    fn on_timeout(&mut self, now: Timestamp, ctx: &mut HostContext<H, M>) {
        self.host.on_timeout(&mut self.machine, now, ctx);
        if self.machine.next_deadline().is_some_and(|d| now >= d) {
            self.machine.handle_timeout(now);
        }
        self.pump(now, ctx);
    }

    fn next_deadline(&self) -> Option<Timestamp> {
        match (
            self.machine.next_deadline(),
            self.host.deadline(&self.machine),
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
