//! The nemesis: faults as data. A [`FaultPlan`] lists time windows, each with one fault
//! that starts at the window's start and heals at its end, plus each node's clock. The plan
//! is drawn from a seed by a [`Nemesis`] (each kind of fault switchable) or by
//! [`Nemesis::swarm`], which switches kinds and intensities on and off per seed, as
//! TigerBeetle's VOPR does, so that many seeds explore many different mixes.
//!
//! Every window ends, so every plan has a known [`FaultPlan::heals_at`]: the time after which
//! the network is only its base topology and every node is up. Liveness is judged from there.

use super::clock::NodeClock;
use super::network::{chance, uniform, Weather};
use super::node::NodeId;
use super::SimRng;
use alloc::vec::Vec;
use cpchain_core::{Duration, Timestamp};
use rand_core::RngCore;

/// One fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// Extra loss, duplication and delay on every link.
    Weather(Weather),
    /// Symmetric partition: nodes with `side[i]` differing cannot exchange messages (in
    /// flight messages across the cut are lost too).
    Partition {
        /// Which side each node is on.
        side: Vec<bool>,
    },
    /// Asymmetric partition: messages from any node in `from` to any node in `to` are lost;
    /// the other direction works.
    OneWay {
        /// Senders cut off.
        from: Vec<bool>,
        /// Receivers cut off.
        to: Vec<bool>,
    },
    /// The node crashes at the window's start (all volatile state lost, messages to it
    /// dropped) and restarts at its end from its persisted records only.
    Crash {
        /// Who crashes.
        node: NodeId,
    },
}

/// A fault active over `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultWindow {
    /// When the fault begins.
    pub start: Timestamp,
    /// When it heals.
    pub end: Timestamp,
    /// What it is.
    pub kind: FaultKind,
}

/// Everything the nemesis will do in one run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FaultPlan {
    /// Fault windows, in any order.
    pub windows: Vec<FaultWindow>,
    /// Each node's clock (missing entries are exact clocks).
    pub clocks: Vec<NodeClock>,
}

impl FaultPlan {
    /// No faults, exact clocks.
    pub fn none() -> Self {
        FaultPlan::default()
    }

    /// When the last window ends (`origin` if there are none): from then on only the base
    /// topology and the clocks remain.
    pub fn heals_at(&self, origin: Timestamp) -> Timestamp {
        self.windows
            .iter()
            .map(|w| w.end)
            .max()
            .unwrap_or(origin)
            .max(origin)
    }

    /// Count of windows of each kind: (weather, partitions, one-way, crashes).
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let mut c = (0, 0, 0, 0);
        for w in &self.windows {
            match w.kind {
                FaultKind::Weather(_) => c.0 += 1,
                FaultKind::Partition { .. } => c.1 += 1,
                FaultKind::OneWay { .. } => c.2 += 1,
                FaultKind::Crash { .. } => c.3 += 1,
            }
        }
        c
    }
}

/// Which faults to draw and how hard. Times are relative to the run's origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nemesis {
    /// Loss, duplication, extra delay (reordering) windows.
    pub weather: bool,
    /// Symmetric and asymmetric partitions.
    pub partitions: bool,
    /// Crash and restart from persisted state.
    pub crashes: bool,
    /// Per-node clock skew and drift.
    pub clocks: bool,
    /// Faults start within `[origin, origin + horizon)`.
    pub horizon: Duration,
    /// Longest fault window.
    pub max_window: Duration,
    /// Most windows of each enabled kind.
    pub max_windows: u32,
    /// Worst loss of a weather window, per mille.
    pub max_loss_per_mille: u32,
    /// Worst duplication of a weather window, per mille.
    pub max_duplicate_per_mille: u32,
    /// Worst extra delay of a weather window, ms.
    pub max_extra_delay_ms: u64,
    /// Largest clock offset, ms (either sign).
    pub max_skew_ms: u64,
    /// Largest drift, ppm (either sign).
    pub max_drift_ppm: u64,
    /// Nodes the nemesis may crash and partition (the adapter may exclude e.g. observers).
    pub targets: Vec<NodeId>,
}

impl Nemesis {
    /// Nothing enabled, moderate intensities, targeting nodes `0..n`.
    pub fn quiet(n: usize, horizon: Duration) -> Self {
        Nemesis {
            weather: false,
            partitions: false,
            crashes: false,
            clocks: false,
            horizon,
            max_window: Duration(horizon.0 / 3 + 1),
            max_windows: 4,
            max_loss_per_mille: 300,
            max_duplicate_per_mille: 200,
            max_extra_delay_ms: 200,
            max_skew_ms: 200,
            max_drift_ppm: 20_000,
            targets: (0..n).collect(),
        }
    }

    /// Swarm testing: from `base`'s intensities and targets, switch each kind on with
    /// probability ½ (at least one on) and draw each intensity uniformly below its maximum,
    /// so that one seed may be a storm of loss and another a single long partition.
    pub fn swarm(base: &Nemesis, rng: &mut SimRng) -> Self {
        let mut n = base.clone();
        loop {
            n.weather = chance(rng, 500);
            n.partitions = chance(rng, 500);
            n.crashes = chance(rng, 500);
            n.clocks = chance(rng, 500);
            if n.weather || n.partitions || n.crashes || n.clocks {
                break;
            }
        }
        n.max_windows =
            u32::try_from(uniform(rng, 1, u64::from(base.max_windows.max(1)))).unwrap_or(1);
        n.max_window = Duration(uniform(rng, 1, base.max_window.0.max(1)));
        n.max_loss_per_mille =
            u32::try_from(uniform(rng, 0, u64::from(base.max_loss_per_mille))).unwrap_or(0);
        n.max_duplicate_per_mille =
            u32::try_from(uniform(rng, 0, u64::from(base.max_duplicate_per_mille))).unwrap_or(0);
        n.max_extra_delay_ms = uniform(rng, 0, base.max_extra_delay_ms);
        n.max_skew_ms = uniform(rng, 0, base.max_skew_ms);
        n.max_drift_ppm = uniform(rng, 0, base.max_drift_ppm);
        n
    }

    fn window(&self, origin: Timestamp, rng: &mut SimRng) -> (Timestamp, Timestamp) {
        let start = origin.saturating_add(Duration(uniform(rng, 0, self.horizon.0)));
        let len = uniform(rng, 1, self.max_window.0.max(1));
        (start, start.saturating_add(Duration(len)))
    }

    fn side(&self, n: usize, rng: &mut SimRng) -> Vec<bool> {
        // A random non-trivial split of the targets; non-targets stay with side `false`.
        let mut side = alloc::vec![false; n];
        loop {
            for &t in &self.targets {
                if let Some(s) = side.get_mut(t) {
                    *s = chance(rng, 500);
                }
            }
            let ones = self
                .targets
                .iter()
                .filter(|&&t| side.get(t).copied().unwrap_or(false))
                .count();
            if self.targets.len() < 2 || (ones > 0 && ones < self.targets.len()) {
                return side;
            }
        }
    }

    /// Draw a plan for `n` nodes starting at `origin`.
    pub fn plan(&self, n: usize, origin: Timestamp, rng: &mut SimRng) -> FaultPlan {
        let mut windows = Vec::new();
        let count = |rng: &mut SimRng| uniform(rng, 1, u64::from(self.max_windows.max(1)));
        if self.weather {
            for _ in 0..count(rng) {
                let (start, end) = self.window(origin, rng);
                let w = Weather {
                    loss_per_mille: u32::try_from(uniform(
                        rng,
                        0,
                        u64::from(self.max_loss_per_mille),
                    ))
                    .unwrap_or(0),
                    duplicate_per_mille: u32::try_from(uniform(
                        rng,
                        0,
                        u64::from(self.max_duplicate_per_mille),
                    ))
                    .unwrap_or(0),
                    extra_delay_ms: uniform(rng, 0, self.max_extra_delay_ms),
                };
                windows.push(FaultWindow {
                    start,
                    end,
                    kind: FaultKind::Weather(w),
                });
            }
        }
        if self.partitions && !self.targets.is_empty() {
            for _ in 0..count(rng) {
                let (start, end) = self.window(origin, rng);
                let kind = if chance(rng, 500) {
                    FaultKind::Partition {
                        side: self.side(n, rng),
                    }
                } else {
                    let from = self.side(n, rng);
                    let to = from.iter().map(|s| !s).collect();
                    FaultKind::OneWay { from, to }
                };
                windows.push(FaultWindow { start, end, kind });
            }
        }
        if self.crashes && !self.targets.is_empty() {
            let len = u64::try_from(self.targets.len()).unwrap_or(1);
            for _ in 0..count(rng) {
                let (start, end) = self.window(origin, rng);
                let pick = usize::try_from(rng.next_u64() % len).unwrap_or(0);
                if let Some(&node) = self.targets.get(pick) {
                    windows.push(FaultWindow {
                        start,
                        end,
                        kind: FaultKind::Crash { node },
                    });
                }
            }
        }
        let clocks = (0..n)
            .map(|_| {
                if self.clocks {
                    let skew = uniform(rng, 0, self.max_skew_ms.saturating_mul(2));
                    let drift = uniform(rng, 0, self.max_drift_ppm.saturating_mul(2));
                    NodeClock {
                        skew_ms: i64::try_from(skew).unwrap_or(0)
                            - i64::try_from(self.max_skew_ms).unwrap_or(0),
                        drift_ppm: i64::try_from(drift).unwrap_or(0)
                            - i64::try_from(self.max_drift_ppm).unwrap_or(0),
                        origin,
                    }
                } else {
                    NodeClock::exact(origin)
                }
            })
            .collect();
        FaultPlan { windows, clocks }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    #[test]
    fn every_window_heals_within_horizon_plus_max_window() {
        let mut base = Nemesis::quiet(7, Duration(10_000));
        base.weather = true;
        base.partitions = true;
        base.crashes = true;
        base.clocks = true;
        for seed in 0..200 {
            let mut rng = SimRng::seed_from_u64(seed);
            let nem = Nemesis::swarm(&base, &mut rng);
            let plan = nem.plan(7, Timestamp(1000), &mut rng);
            let heal = plan.heals_at(Timestamp(1000));
            assert!(heal.0 <= 1000 + 10_000 + base.max_window.0);
            for w in &plan.windows {
                assert!(w.start < w.end && w.end <= heal);
                if let FaultKind::Partition { side } = &w.kind {
                    assert!(side.iter().any(|s| *s) && side.iter().any(|s| !*s));
                }
            }
            assert_eq!(plan.clocks.len(), 7);
            for c in &plan.clocks {
                assert!(c.skew_ms.unsigned_abs() <= base.max_skew_ms);
                assert!(c.drift_ppm.unsigned_abs() <= base.max_drift_ppm);
            }
        }
    }

    #[test]
    fn plans_are_reproducible_and_seeds_differ() {
        let mut base = Nemesis::quiet(4, Duration(5_000));
        base.weather = true;
        base.crashes = true;
        let a = base.plan(4, Timestamp(0), &mut SimRng::seed_from_u64(9));
        let b = base.plan(4, Timestamp(0), &mut SimRng::seed_from_u64(9));
        let c = base.plan(4, Timestamp(0), &mut SimRng::seed_from_u64(10));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn quiet_nemesis_plans_nothing() {
        let plan =
            Nemesis::quiet(4, Duration(5_000)).plan(4, Timestamp(0), &mut SimRng::seed_from_u64(1));
        assert!(plan.windows.is_empty());
        assert_eq!(plan.heals_at(Timestamp(0)), Timestamp(0));
    }
}
