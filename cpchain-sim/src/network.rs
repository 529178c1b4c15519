//! The simulated network: per-link latency distributions, loss and duplication, all in
//! integer milliseconds and per-mille probabilities drawn from the run's seeded RNG.
//! Reordering is what random latencies do to messages on one link; a wide distribution or
//! a weather window with jitter makes a lot of it.

use super::node::NodeId;
use super::SimRng;
use alloc::vec::Vec;
use rand_core::RngCore;

/// Draw `true` with probability `per_mille / 1000`.
pub(crate) fn chance(rng: &mut SimRng, per_mille: u32) -> bool {
    per_mille > 0 && (rng.next_u32() % 1000) < per_mille
}

/// Uniform draw in `lo..=hi` (returns `lo` when `hi <= lo`).
pub(crate) fn uniform(rng: &mut SimRng, lo: u64, hi: u64) -> u64 {
    if hi <= lo {
        return lo;
    }
    let span = hi - lo + 1;
    lo + rng.next_u64() % span
}

/// One link's one-way delay in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Latency {
    /// Always this many ms.
    Constant(u64),
    /// Uniform in `min..=max` ms.
    Uniform {
        /// Least delay.
        min: u64,
        /// Greatest delay.
        max: u64,
    },
    /// Uniform in `min..=max`, except that `tail_per_mille` of messages take up to
    /// `tail_max` ms (a long tail, as on a congested WAN).
    LongTail {
        /// Least delay.
        min: u64,
        /// Greatest ordinary delay.
        max: u64,
        /// Share of messages in the tail, per mille.
        tail_per_mille: u32,
        /// Greatest tail delay.
        tail_max: u64,
    },
}

impl Latency {
    /// Draw one delay.
    pub fn sample(&self, rng: &mut SimRng) -> u64 {
        match *self {
            Latency::Constant(d) => d,
            Latency::Uniform { min, max } => uniform(rng, min, max),
            Latency::LongTail {
                min,
                max,
                tail_per_mille,
                tail_max,
            } => {
                if chance(rng, tail_per_mille) {
                    uniform(rng, max, tail_max.max(max))
                } else {
                    uniform(rng, min, max)
                }
            }
        }
    }

    /// Greatest delay the distribution can produce: the "message delay" unit of liveness
    /// bounds.
    pub fn max_ms(&self) -> u64 {
        match *self {
            Latency::Constant(d) => d,
            Latency::Uniform { max, .. } => max,
            Latency::LongTail { max, tail_max, .. } => max.max(tail_max),
        }
    }
}

/// How one directed link behaves when no fault is active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkProfile {
    /// One-way delay.
    pub latency: Latency,
    /// Messages lost, per mille.
    pub loss_per_mille: u32,
    /// Messages delivered twice, per mille.
    pub duplicate_per_mille: u32,
}

impl LinkProfile {
    /// A reliable link with a fixed delay.
    pub const fn reliable(delay_ms: u64) -> Self {
        LinkProfile {
            latency: Latency::Constant(delay_ms),
            loss_per_mille: 0,
            duplicate_per_mille: 0,
        }
    }
}

/// Bad weather for a while: extra loss, duplication and delay on every link. Applied by a
/// fault window (see [`super::FaultKind::Weather`]); several windows add up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Weather {
    /// Extra loss, per mille.
    pub loss_per_mille: u32,
    /// Extra duplication, per mille.
    pub duplicate_per_mille: u32,
    /// Extra delay, uniform in `0..=extra_delay_ms` (this is what reorders).
    pub extra_delay_ms: u64,
}

impl Weather {
    pub(crate) fn add(&mut self, o: &Weather) {
        self.loss_per_mille = self.loss_per_mille.saturating_add(o.loss_per_mille);
        self.duplicate_per_mille = self
            .duplicate_per_mille
            .saturating_add(o.duplicate_per_mille);
        self.extra_delay_ms = self.extra_delay_ms.saturating_add(o.extra_delay_ms);
    }
}

/// Every directed link's profile, `n × n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    n: usize,
    links: Vec<LinkProfile>,
}

impl Topology {
    /// Every link the same.
    pub fn uniform(n: usize, profile: LinkProfile) -> Self {
        Topology {
            n,
            links: alloc::vec![profile; n.saturating_mul(n)],
        }
    }

    /// Each directed link gets its own uniform latency range drawn from `min_ms..=max_ms`
    /// (so some peers are near, some far), reliable otherwise.
    pub fn random(n: usize, min_ms: u64, max_ms: u64, rng: &mut SimRng) -> Self {
        let mut links = Vec::with_capacity(n.saturating_mul(n));
        for _ in 0..n.saturating_mul(n) {
            let a = uniform(rng, min_ms, max_ms);
            let b = uniform(rng, min_ms, max_ms);
            links.push(LinkProfile {
                latency: Latency::Uniform {
                    min: a.min(b),
                    max: a.max(b),
                },
                loss_per_mille: 0,
                duplicate_per_mille: 0,
            });
        }
        Topology { n, links }
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Profile of the link `from → to`.
    pub fn link(&self, from: NodeId, to: NodeId) -> Option<&LinkProfile> {
        self.links.get(from.checked_mul(self.n)?.checked_add(to)?)
    }

    /// Replace the profile of `from → to`.
    pub fn set_link(&mut self, from: NodeId, to: NodeId, profile: LinkProfile) {
        if let Some(i) = from.checked_mul(self.n).and_then(|x| x.checked_add(to)) {
            if let Some(l) = self.links.get_mut(i) {
                *l = profile;
            }
        }
    }

    /// Greatest delay of any link without weather: one "message delay" for bounds.
    pub fn max_delay_ms(&self) -> u64 {
        self.links
            .iter()
            .map(|l| l.latency.max_ms())
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    #[test]
    fn samples_stay_in_range() {
        let mut rng = SimRng::seed_from_u64(7);
        let l = Latency::LongTail {
            min: 5,
            max: 20,
            tail_per_mille: 100,
            tail_max: 500,
        };
        let mut tail = 0;
        for _ in 0..10_000 {
            let d = l.sample(&mut rng);
            assert!((5..=500).contains(&d));
            if d > 20 {
                tail += 1;
            }
        }
        // 10 % tail, loosely.
        assert!((500..1500).contains(&tail), "{tail}");
        assert_eq!(l.max_ms(), 500);
    }

    #[test]
    fn chance_is_per_mille() {
        let mut rng = SimRng::seed_from_u64(1);
        assert!(!(0..1000).any(|_| chance(&mut rng, 0)));
        assert!((0..1000).all(|_| chance(&mut rng, 1000)));
        let hits = (0..100_000).filter(|_| chance(&mut rng, 250)).count();
        assert!((24_000..26_000).contains(&hits), "{hits}");
    }

    #[test]
    fn random_topology_is_seeded() {
        let a = Topology::random(5, 1, 50, &mut SimRng::seed_from_u64(3));
        let b = Topology::random(5, 1, 50, &mut SimRng::seed_from_u64(3));
        assert_eq!(a, b);
        assert!(a.max_delay_ms() <= 50);
        assert!(a.link(4, 4).is_some());
        assert!(a.link(5, 0).is_none());
    }
}
