//! The storage adapter: a gateway node around the data-chain [`Writer`] (white paper §2.2.1,
//! §2.5), driven through the one machine contract by [`MachineNode`].
//!
//! A sensor is read every `every` from `start`; each reading is appended to the writer at
//! its own time, and the writer's outputs are handled as a host would: sealed blocks are kept
//! (for the host's shard-and-store step, which a test or demo does after the run), anchors
//! are encoded and sent to the nodes that put them on chain (the proposers' mempools) as an
//! [`AnchorTx`], and reported as [`StorageEvent::AnchorSubmitted`].
//!
//! The adapter is generic over the network's message, record and observation types (`From`
//! conversions), so one simulated network can mix gateways with LBFT validators and
//! proposers under a single message enum.

use crate::machine::{drain_to, Host, HostContext, MachineNode};
use crate::node::NodeId;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Debug;
use core::marker::PhantomData;
use cpchain_core::{encoding, Duration, Timestamp};
use cpchain_storage::{Anchor, VecBlock, Writer, WriterOutput};

/// An encoded data-chain anchor travelling as a transaction; one allocation shared by every
/// copy of a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorTx(pub Rc<Vec<u8>>);

/// What a gateway reports to the simulator's checkers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageEvent {
    /// The gateway sent an anchor to the chain.
    AnchorSubmitted,
}

/// The sensor: reading `i` (the bytes the gateway records at `start + i · every`).
pub type Sensor = fn(u64) -> Vec<u8>;

/// A simulated gateway: the data-chain writer plus its sensor and its links to the chain.
pub type GatewayNode<const BLOCK_CAP: usize, Msg, P, O> =
    MachineNode<Writer<BLOCK_CAP>, Gateway<Msg, P, O>>;

/// The gateway's host: reads the sensor on schedule and routes the writer's outputs.
#[derive(Debug)]
pub struct Gateway<Msg, P, O> {
    /// Nodes that receive every anchor (the proposers).
    recipients: Vec<NodeId>,
    sensor: Sensor,
    start: Timestamp,
    every: Duration,
    readings: u64,
    next: u64,
    /// Sealed blocks, in order.
    pub blocks: Vec<VecBlock>,
    /// Anchors emitted, in order.
    pub anchors: Vec<Anchor>,
    /// Anything that went wrong (a refused reading, an anchor that did not encode), for the
    /// test or demo to report after the run.
    pub errors: Vec<String>,
    wire: PhantomData<Wire<Msg, P, O>>,
}

/// The network's types, named only (the gateway holds none of them).
type Wire<Msg, P, O> = fn() -> (Msg, P, O);

impl<Msg, P, O> Gateway<Msg, P, O> {
    /// A gateway taking `readings` readings of `sensor` from `start`, one every `every`, and
    /// sending each anchor to `recipients`.
    pub fn new(
        recipients: Vec<NodeId>,
        sensor: Sensor,
        start: Timestamp,
        every: Duration,
        readings: u64,
    ) -> Self {
        Gateway {
            recipients,
            sensor,
            start,
            every,
            readings,
            next: 0,
            blocks: Vec::new(),
            anchors: Vec::new(),
            errors: Vec::new(),
            wire: PhantomData,
        }
    }

    /// Readings recorded so far.
    pub fn recorded(&self) -> u64 {
        self.next
    }

    fn time_of(&self, i: u64) -> Timestamp {
        self.start.saturating_add(self.every.saturating_mul(i))
    }
}

impl<const BLOCK_CAP: usize, Msg, P, O> Host<Writer<BLOCK_CAP>> for Gateway<Msg, P, O>
where
    Msg: From<AnchorTx> + Clone + Debug,
    P: Clone,
    O: From<StorageEvent> + Debug,
{
    type Message = Msg;
    type Persisted = P;
    type Observation = O;

    /// The gateway takes no peer input.
    fn on_message(
        &mut self,
        _: &mut Writer<BLOCK_CAP>,
        _: Timestamp,
        _: NodeId,
        _: Msg,
        _: &mut HostContext<Self, Writer<BLOCK_CAP>>,
    ) {
    }

    fn on_output(
        &mut self,
        _: Timestamp,
        output: WriterOutput<'_>,
        ctx: &mut HostContext<Self, Writer<BLOCK_CAP>>,
    ) {
        match output {
            WriterOutput::Block(b) => self.blocks.push(b.to_vec_block()),
            WriterOutput::Anchor(a) => {
                self.anchors.push(a);
                match encoding::encode_to_vec(&a) {
                    Ok(tx) => {
                        let tx = Rc::new(tx);
                        for &p in &self.recipients {
                            ctx.send(p, Msg::from(AnchorTx(tx.clone())));
                        }
                        ctx.observe(O::from(StorageEvent::AnchorSubmitted));
                    }
                    Err(e) => self.errors.push(format!("anchor encoding: {e}")),
                }
            }
        }
    }

    fn deadline(&self, _: &Writer<BLOCK_CAP>) -> Option<Timestamp> {
        (self.next < self.readings).then(|| self.time_of(self.next))
    }

    /// Every reading now due, each at its own time, draining after each: the writer lends
    /// one sealed block at a time.
    fn on_timeout(
        &mut self,
        writer: &mut Writer<BLOCK_CAP>,
        now: Timestamp,
        ctx: &mut HostContext<Self, Writer<BLOCK_CAP>>,
    ) {
        while self.next < self.readings && self.time_of(self.next) <= now {
            let t = self.time_of(self.next);
            if let Err(e) = writer.append(t, &(self.sensor)(self.next)) {
                self.errors.push(format!("reading {}: {e}", self.next));
            }
            self.next += 1;
            drain_to(self, writer, now, ctx);
        }
    }
}
