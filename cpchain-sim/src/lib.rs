//! A deterministic discrete-event network simulator with a nemesis, for any sans-IO state
//! machine of the SDK (std only; it used to be the `sim` module of `cpchain-consensus`, whose
//! `no_std` crate it no longer weighs on).
//!
//! The white paper (§6) tests CPChain with Jepsen: packet delay, disconnection, node
//! crashes, clock drift. This crate does the same in-process and reproducibly, in the
//! style of FoundationDB's simulation and TigerBeetle's VOPR:
//!
//! * **One seed, one run.** All randomness (latencies, losses, duplications, the fault plan)
//!   comes from a ChaCha stream seeded by a `u64`; the event queue breaks ties by insertion
//!   order; there is no hash-map iteration, wall clock or thread. The same (seed, scenario)
//!   gives the same trace, byte for byte, so a failing seed is a complete bug report.
//! * **Virtual time.** A global clock in milliseconds jumps from event to event. Each node
//!   sees only its own [`NodeClock`] (skew plus drift) through the `now` it is handed.
//! * **The node is a black box** behind [`SimNode`]: messages in, timer expiries in, and
//!   effects out through a [`Context`] (send, broadcast, persist, observe). Effects apply in
//!   order, so a persist made before a send is on "disk" before the send can arrive.
//! * **The network** is a [`Topology`] of directed links, each with its own [`Latency`]
//!   distribution, loss and duplication; reordering follows from random delays.
//! * **The nemesis** is a [`FaultPlan`]: windows of bad [`Weather`] (loss, duplication,
//!   delay), symmetric and one-way partitions, crashes (the node instance is dropped; a
//!   [`Restart`] closure rebuilds it from its persisted records only) and per-node clocks.
//!   Every window heals, at [`FaultPlan::heals_at`] at the latest. [`Nemesis`] draws a plan
//!   from a seed with each fault kind switchable; [`Nemesis::swarm`] draws the switches too.
//! * **Checkers** read [`Simulator::observations`] (what nodes reported, stamped with global
//!   and local time); [`Simulator::with_trace`] keeps the tail of a readable trace to print
//!   when a seed fails (turn it on when replaying: formatting costs more than simulating).
//!
//! # Adapters
//! Every machine of the SDK keeps one contract ([`cpchain_core::machine::Machine`]), so one
//! generic node, [`MachineNode`], drives each: it arms the machine's timer and drains its
//! outputs; a small [`Host`] per kind of node says which input a message is and where each
//! output goes. The adapters:
//! * [`lbft`]: validator hosts (honest and Byzantine), light nodes, and the checkers
//!   (agreement, validity, equivocation detection, liveness, memory); the `simulate` example
//!   is its command line;
//! * [`storage`]: a gateway around the data-chain writer, its anchors sent to the chain;
//! * `sharing` (feature `pre`, which links umbral-pre and makes the build GPL-3.0): the
//!   owner, proxies and grantee of proxy re-encryption.
//!
//! Nodes that are no machine of the SDK (a light node around the stateless light
//! verification, the demo's proposers) implement [`SimNode`] directly.
//!
//! # Feature `insecure-test-crypto` (simulation only)
//! Signatures become `cpchain-crypto`'s keyed hashes (forgeable by design, much faster than
//! k256). The build also needs `RUSTFLAGS="--cfg cpchain_insecure_test_crypto"` and refuses
//! any graph that contains `cpchain-ffi`; build with `-p cpchain-sim` or `-p
//! cpchain-examples` alone, into `--target-dir target/insecure-sim`. [`INSECURE_TEST_CRYPTO`]
//! says which scheme a build has.
//!
//! ```
//! use cpchain_sim::*;
//! use cpchain_core::{Duration, Timestamp};
//!
//! /// Each node counts the pings it got and pings everyone every 100 ms.
//! struct Pinger { got: u64, next: Timestamp }
//! impl SimNode for Pinger {
//!     type Message = ();
//!     type Persisted = ();
//!     type Observation = u64;
//!     fn on_message(&mut self, _: Timestamp, _: NodeId, _: (), ctx: &mut Context<(), (), u64>) {
//!         self.got += 1;
//!         ctx.observe(self.got);
//!     }
//!     fn on_timeout(&mut self, now: Timestamp, ctx: &mut Context<(), (), u64>) {
//!         ctx.broadcast(());
//!         self.next = now + Duration(100);
//!     }
//!     fn next_deadline(&self) -> Option<Timestamp> { Some(self.next) }
//! }
//!
//! let nodes = (0..3).map(|_| Pinger { got: 0, next: Timestamp(0) }).collect();
//! let mut sim = Simulator::new(
//!     42, Timestamp(0), nodes,
//!     Topology::uniform(3, LinkProfile::reliable(10)),
//!     FaultPlan::none(),
//!     Box::new(|_, _| Pinger { got: 0, next: Timestamp(0) }),
//! );
//! sim.run_until(Timestamp(1_000), |_| false);
//! // 10 rounds of pings in the first 1 000 ms, 2 peers each.
//! assert_eq!(sim.node(0).unwrap().got, 20);
//! ```

#![forbid(unsafe_code)]

extern crate alloc;

mod clock;
pub mod machine;
mod nemesis;
pub(crate) mod network;
mod node;
mod simulator;

pub mod lbft;
#[cfg(feature = "pre")]
pub mod sharing;
pub mod storage;

pub use clock::{NodeClock, MAX_DRIFT_PPM};
pub use machine::{drain_to, Host, HostContext, MachineNode};
pub use nemesis::{FaultKind, FaultPlan, FaultWindow, Nemesis};
pub use network::{Latency, LinkProfile, Topology, Weather};
pub use node::{Context, Destination, NodeId, SimNode};
pub use simulator::{Observed, Restart, Simulator, Stats, StopReason, DEFAULT_TRACE_LINES};

/// Whether signatures are the simulation-only keyed hashes of feature
/// `insecure-test-crypto` (of `cpchain-crypto`) rather than k256 ECDSA.
pub const INSECURE_TEST_CRYPTO: bool = cpchain_crypto::INSECURE_TEST_CRYPTO;

/// The simulator's random number generator: ChaCha with 8 rounds, seeded from a `u64`.
/// Fast, portable, and the same stream on every platform.
pub type SimRng = rand_chacha::ChaCha8Rng;

#[cfg(test)]
mod tests;
