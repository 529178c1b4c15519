//! The one sans-IO contract every state machine of the SDK keeps.
//!
//! A host that has wrapped one machine (the LBFT validator, a data-chain writer, a sharing
//! proxy, the DPoR whitelist …) has wrapped them all: the same four calls drive each, and only
//! the inputs named for what happened differ from machine to machine.
//!
//! # The contract
//! * **Inputs** are methods named for what happened (`handle_message`, `handle_request`,
//!   `handle_cfrag`, `append`, `grant` …). Each takes `now: Timestamp` first; nothing reads a
//!   clock. The one input every machine shares is [`Machine::handle_timeout`].
//! * **Outputs** are drained in order with [`Machine::poll_output`] until it returns `None`.
//!   An output enum is named `<Machine>Output` and is `#[non_exhaustive]` where it may grow.
//!   Order is part of each machine's contract and written in its docs (for example: a
//!   `Persist` precedes every send that depends on it).
//! * **One timer**: the host arms a single timer at [`Machine::next_deadline`] and calls
//!   [`Machine::handle_timeout`] when it fires (calling it early is harmless).
//! * **Counters**: [`Machine::stats`] returns plain counters; every peer input the machine
//!   dropped is counted there by reason ([`Drops`]), never silently discarded.
//! * **Bad input, one rule**: `Err` is for the caller's own mistakes and local limits (a bad
//!   config, a full buffer, a call in the wrong state). A peer's bad or unauthenticated input
//!   is not the caller's error: it is dropped and counted by reason in the stats, and, when it
//!   *proves* misbehaviour (two signatures by one key that conflict, a validly sealed illicit
//!   block), it also comes out as a `Fault` output carrying evidence a third party can check.
//!   Errors leave the machine's state unchanged.
//!
//! # Why a trait and not only a documented shape
//! Generic hosts exist: the deterministic simulator, the C boundary's pending-output
//! wrapper, the reference host node and the tests each drive every machine with one loop
//! ([`drain`]). A trait lets that loop be written once and checked by the compiler. Outputs
//! are a generic associated type so that a `no_std` machine may lend its output from a
//! fixed-capacity buffer it owns (the data-chain writer's sealed block) instead of
//! allocating.
use crate::Timestamp;

/// The drain / timer / counters half of the SDK's sans-IO contract (see the module docs).
///
/// ```
/// use cpchain_core::machine::{Drops, Machine, MachineStats};
/// use cpchain_core::Timestamp;
///
/// /// A toy machine: emits "tick" once its deadline passes.
/// struct Ticker { due: Option<Timestamp>, ready: bool, stats: TickerStats }
/// #[derive(Clone, Debug, Default, PartialEq)]
/// struct TickerStats { ticks: u64, dropped: Drops<1> }
/// impl MachineStats for TickerStats {
///     fn dropped(&self) -> u64 { self.dropped.total() }
/// }
/// impl Machine for Ticker {
///     type Output<'a> = &'static str;
///     type Stats = TickerStats;
///     fn handle_timeout(&mut self, now: Timestamp) {
///         if self.due.is_some_and(|d| now >= d) {
///             self.due = None;
///             self.ready = true;
///         }
///     }
///     fn next_deadline(&self) -> Option<Timestamp> { self.due }
///     fn poll_output(&mut self) -> Option<&'static str> {
///         core::mem::take(&mut self.ready).then(|| {
///             self.stats.ticks += 1;
///             "tick"
///         })
///     }
///     fn stats(&self) -> TickerStats { self.stats.clone() }
/// }
///
/// let mut t = Ticker { due: Some(Timestamp::from_millis(10)), ready: false, stats: Default::default() };
/// t.handle_timeout(Timestamp::from_millis(10));
/// let mut seen = 0;
/// cpchain_core::machine::drain(&mut t, |out| { assert_eq!(out, "tick"); seen += 1; });
/// assert_eq!((seen, t.stats().ticks, t.next_deadline()), (1, 1, None));
/// ```
pub trait Machine {
    /// What the host must do, drained in order with [`Machine::poll_output`].
    type Output<'a>
    where
        Self: 'a;
    /// The machine's counters, dropped peer input by reason among them.
    type Stats: MachineStats;

    /// The host's single timer fired (or any time at or after [`Machine::next_deadline`]).
    fn handle_timeout(&mut self, now: Timestamp);
    /// When the host must call [`Machine::handle_timeout`] next; `None` when nothing waits.
    fn next_deadline(&self) -> Option<Timestamp>;
    /// The next thing the host must do; `None` once everything is drained.
    fn poll_output(&mut self) -> Option<Self::Output<'_>>;
    /// Counters for monitoring and tests.
    fn stats(&self) -> Self::Stats;
}

/// What every machine's counters have in common, so generic hosts and tests can read it.
pub trait MachineStats: Clone + core::fmt::Debug {
    /// How many peer inputs were dropped, for any reason.
    fn dropped(&self) -> u64;
}

/// Drains every pending output into `f`, in order; returns how many there were.
///
/// The one drain loop of the SDK: hosts, the C boundary and tests call this instead of writing
/// their own `while let Some(..) = poll_output()`.
pub fn drain<M, F>(machine: &mut M, mut f: F) -> usize
where
    M: Machine + ?Sized,
    F: FnMut(M::Output<'_>),
{
    let mut n = 0usize;
    while let Some(out) = machine.poll_output() {
        f(out);
        n = n.saturating_add(1);
    }
    n
}

/// Counts of dropped peer inputs, one slot per reason.
///
/// A machine numbers its reasons with a small enum (`reason as usize`) and keeps `N` slots, so
/// the counters cost no heap and a firmware build keeps them. Counters saturate; an index past
/// `N` is counted in the last slot rather than lost or panicking.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Drops<const N: usize>([u64; N]);

impl<const N: usize> Default for Drops<N> {
    fn default() -> Self {
        Self([0; N])
    }
}

impl<const N: usize> Drops<N> {
    /// Counts one dropped input for `reason`.
    pub fn add(&mut self, reason: usize) {
        let slot = reason.min(N.saturating_sub(1));
        if let Some(c) = self.0.get_mut(slot) {
            *c = c.saturating_add(1);
        }
    }

    /// How many inputs were dropped for `reason`.
    pub fn get(&self, reason: usize) -> u64 {
        self.0.get(reason).copied().unwrap_or(0)
    }

    /// How many inputs were dropped for any reason.
    pub fn total(&self) -> u64 {
        self.0.iter().fold(0u64, |a, c| a.saturating_add(*c))
    }

    /// The raw slots, indexed by reason, for hosts that export them as metrics.
    pub fn as_slice(&self) -> &[u64] {
        &self.0
    }
}

/// Checks that a machine keeps the contract, written once for every machine's tests and for
/// a host author adding a machine (see `docs/ARCHITECTURE.md`, "How to add a machine").
///
/// Each check drives the machine through [`Machine`] only and returns what it drained, or
/// the [`Violation`](conformance::Violation) it saw; a test asserts `Ok`. Outputs are
/// rendered by the caller's `show` into an owned value, since they may borrow the machine.
#[cfg(feature = "alloc")]
pub mod conformance {
    use super::{drain, Machine, MachineStats};
    use crate::Timestamp;
    use alloc::vec::Vec;

    /// A way a machine broke the contract.
    #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
    #[non_exhaustive]
    pub enum Violation {
        /// `poll_output` gave more after a drain reported the queue empty.
        #[error("poll_output returned an output after the queue was drained")]
        NotDrained,
        /// `fire` needs a deadline and the machine had none.
        #[error("the machine has no deadline to fire")]
        NoDeadline,
        /// A timeout before the deadline moved the deadline.
        #[error("an early handle_timeout moved the deadline")]
        EarlyTimeoutMovedDeadline,
        /// A timeout before the deadline produced outputs.
        #[error("an early handle_timeout emitted output")]
        EarlyTimeoutEmitted,
        /// The deadline was the same after it fired.
        #[error("the deadline did not move on after it fired")]
        DeadlineStuck,
        /// A peer's bad input changed the machine's observable state.
        #[error("a dropped peer input changed the state")]
        StateChanged,
        /// A peer's bad input was counted this many times in `stats().dropped()`, not once.
        #[error("a dropped peer input was counted {0} times, not once")]
        CountedNotOnce(u64),
        /// A peer's bad input moved the deadline.
        #[error("a dropped peer input moved the deadline")]
        DeadlineChanged,
    }

    /// Apply `input` (one of the machine's own input methods), then drain every output
    /// through the trait, rendered with `show`; the queue must then be empty.
    pub fn step<M, I, S, T>(m: &mut M, input: I, mut show: S) -> Result<Vec<T>, Violation>
    where
        M: Machine,
        I: FnOnce(&mut M),
        S: FnMut(M::Output<'_>) -> T,
    {
        input(m);
        let mut out = Vec::new();
        drain(m, |o| out.push(show(o)));
        if m.poll_output().is_some() {
            return Err(Violation::NotDrained);
        }
        Ok(out)
    }

    /// Fire the machine's timer exactly at its deadline, after checking that a call one
    /// millisecond earlier changes nothing; returns the deadline and what firing drained.
    pub fn fire<M, S, T>(m: &mut M, show: S) -> Result<(Timestamp, Vec<T>), Violation>
    where
        M: Machine,
        S: FnMut(M::Output<'_>) -> T,
    {
        let due = m.next_deadline().ok_or(Violation::NoDeadline)?;
        m.handle_timeout(Timestamp(due.0.saturating_sub(1)));
        if m.next_deadline() != Some(due) {
            return Err(Violation::EarlyTimeoutMovedDeadline);
        }
        if m.poll_output().is_some() {
            return Err(Violation::EarlyTimeoutEmitted);
        }
        let out = step(m, |m| m.handle_timeout(due), show)?;
        if m.next_deadline() == Some(due) {
            return Err(Violation::DeadlineStuck);
        }
        Ok((due, out))
    }

    /// Apply a peer's bad input: it must be counted exactly once in `stats().dropped()`
    /// and leave the observable state (`snapshot`) and the deadline unchanged. Returns its
    /// outputs rendered with `show` (a machine may tell its host, or report a `Fault`).
    pub fn bad_peer_input<M, I, P, Q, S, T>(
        m: &mut M,
        input: I,
        snapshot: P,
        show: S,
    ) -> Result<Vec<T>, Violation>
    where
        M: Machine,
        I: FnOnce(&mut M),
        P: Fn(&M) -> Q,
        Q: PartialEq,
        S: FnMut(M::Output<'_>) -> T,
    {
        let (state, dropped, deadline) = (snapshot(m), m.stats().dropped(), m.next_deadline());
        let out = step(m, input, show)?;
        if snapshot(m) != state {
            return Err(Violation::StateChanged);
        }
        let counted = m.stats().dropped().saturating_sub(dropped);
        if counted != 1 {
            return Err(Violation::CountedNotOnce(counted));
        }
        if m.next_deadline() != deadline {
            return Err(Violation::DeadlineChanged);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::Drops;

    #[test]
    fn drops_count_by_reason_and_saturate() {
        let mut d = Drops::<3>::default();
        d.add(0);
        d.add(2);
        d.add(2);
        d.add(9); // past the end: counted in the last slot
        assert_eq!((d.get(0), d.get(1), d.get(2), d.total()), (1, 0, 3, 4));
        assert_eq!(d.get(9), 0);
        let mut z = Drops::<0>::default();
        z.add(0);
        assert_eq!(z.total(), 0);
    }

    /// A toy machine whose faults the conformance checks must each catch.
    #[cfg(feature = "alloc")]
    mod conformance_catches {
        use super::super::conformance::{bad_peer_input, fire, step, Violation};
        use super::super::{Drops, Machine, MachineStats};
        use crate::Timestamp;

        #[derive(Default)]
        struct Toy {
            due: Option<Timestamp>,
            ready: u32,
            dropped: Drops<1>,
            state: u32,
            /// Misbehaviours to switch on.
            early_fires: bool,
            sticky_deadline: bool,
            count_twice: bool,
            change_state: bool,
        }
        #[derive(Clone, Debug)]
        struct ToyStats(u64);
        impl MachineStats for ToyStats {
            fn dropped(&self) -> u64 {
                self.0
            }
        }
        impl Toy {
            fn peer_garbage(&mut self) {
                self.dropped.add(0);
                if self.count_twice {
                    self.dropped.add(0);
                }
                if self.change_state {
                    self.state += 1;
                }
            }
        }
        impl Machine for Toy {
            type Output<'a> = u32;
            type Stats = ToyStats;
            fn handle_timeout(&mut self, now: Timestamp) {
                if self.early_fires || self.due.is_some_and(|d| now >= d) {
                    self.ready += 1;
                    if !self.sticky_deadline {
                        self.due = None;
                    }
                }
            }
            fn next_deadline(&self) -> Option<Timestamp> {
                self.due
            }
            fn poll_output(&mut self) -> Option<u32> {
                (self.ready > 0).then(|| {
                    self.ready -= 1;
                    7
                })
            }
            fn stats(&self) -> ToyStats {
                ToyStats(self.dropped.total())
            }
        }

        fn toy() -> Toy {
            Toy {
                due: Some(Timestamp(10)),
                ..Toy::default()
            }
        }

        #[test]
        fn a_machine_that_keeps_the_contract_passes() {
            let mut m = toy();
            assert_eq!(fire(&mut m, |o| o), Ok((Timestamp(10), alloc::vec![7])));
            assert_eq!(step(&mut m, |_| {}, |o| o), Ok(alloc::vec![]));
            let r = bad_peer_input(&mut m, Toy::peer_garbage, |m| m.state, |o| o);
            assert_eq!(r, Ok(alloc::vec![]));
        }

        #[test]
        fn each_broken_rule_is_named() {
            let mut m = Toy {
                early_fires: true,
                ..toy()
            };
            assert_eq!(
                fire(&mut m, |o| o),
                Err(Violation::EarlyTimeoutMovedDeadline)
            );
            let mut m = Toy {
                early_fires: true,
                sticky_deadline: true,
                ..toy()
            };
            assert_eq!(fire(&mut m, |o| o), Err(Violation::EarlyTimeoutEmitted));
            let mut m = Toy {
                sticky_deadline: true,
                ..toy()
            };
            assert_eq!(fire(&mut m, |o| o), Err(Violation::DeadlineStuck));
            let mut m = Toy { due: None, ..toy() };
            assert_eq!(fire(&mut m, |o| o), Err(Violation::NoDeadline));
            let mut m = Toy {
                count_twice: true,
                ..toy()
            };
            let r = bad_peer_input(&mut m, Toy::peer_garbage, |m| m.state, |o| o);
            assert_eq!(r, Err(Violation::CountedNotOnce(2)));
            let mut m = Toy {
                change_state: true,
                ..toy()
            };
            let r = bad_peer_input(&mut m, Toy::peer_garbage, |m| m.state, |o| o);
            assert_eq!(r, Err(Violation::StateChanged));
        }
    }
}
