//! Node-local clocks: a constant skew plus a linear drift in parts per million, so a node's
//! view of time can lead, lag, run fast or run slow relative to the simulator's.

use cpchain_core::Timestamp;

/// Drift is bounded well inside ±100 %, so local time is strictly increasing in global time
/// and can be inverted.
pub const MAX_DRIFT_PPM: i64 = 500_000;

const PPM: i128 = 1_000_000;

/// A node's clock: `local(t) = t + skew + (t - origin) · drift_ppm / 10⁶`, in integer
/// milliseconds, rounded down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeClock {
    /// Offset from global time in ms (may be negative).
    pub skew_ms: i64,
    /// Rate error in parts per million (clamped to ±[`MAX_DRIFT_PPM`]).
    pub drift_ppm: i64,
    /// Global time from which drift accumulates (the simulation's start).
    pub origin: Timestamp,
}

impl NodeClock {
    /// A perfect clock.
    pub const fn exact(origin: Timestamp) -> Self {
        NodeClock {
            skew_ms: 0,
            drift_ppm: 0,
            origin,
        }
    }

    fn drift(&self) -> i128 {
        i128::from(self.drift_ppm.clamp(-MAX_DRIFT_PPM, MAX_DRIFT_PPM))
    }

    /// The node's reading at global time `global`.
    pub fn local(&self, global: Timestamp) -> Timestamp {
        // Asked for every event: the common cases stay in 64-bit arithmetic (a 128-bit
        // division costs more than the rest), with the same truncating result.
        if self.drift_ppm == 0 {
            return Timestamp(global.0.saturating_add_signed(self.skew_ms));
        }
        let fast = i64::try_from(global.0).ok().and_then(|t| {
            let since = t.checked_sub(i64::try_from(self.origin.0).ok()?)?;
            let drift = since.checked_mul(i64::try_from(self.drift()).ok()?)? / 1_000_000;
            let local = t.checked_add(self.skew_ms)?.checked_add(drift)?;
            Some(Timestamp(u64::try_from(local.max(0)).unwrap_or(0)))
        });
        if let Some(local) = fast {
            return local;
        }
        let t = i128::from(global.0);
        let since = t - i128::from(self.origin.0);
        let local = t + i128::from(self.skew_ms) + since * self.drift() / PPM;
        Timestamp(u64::try_from(local.max(0)).unwrap_or(u64::MAX))
    }

    /// The first global time at which the node's clock reads at least `local`, so a timer
    /// set for local time `local` fires exactly then.
    pub fn global_for(&self, local: Timestamp) -> Timestamp {
        // Invert the linear map, then correct the rounding by stepping (at most a few ms).
        let target = i128::from(local.0) - i128::from(self.skew_ms);
        let o = i128::from(self.origin.0);
        let estimate = o + (target - o) * PPM / (PPM + self.drift());
        let mut g = Timestamp(u64::try_from(estimate.max(0)).unwrap_or(u64::MAX));
        while g.0 > 0 && self.local(Timestamp(g.0 - 1)) >= local {
            g = Timestamp(g.0 - 1);
        }
        while self.local(g) < local && g.0 < u64::MAX {
            g = Timestamp(g.0 + 1);
        }
        g
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_clock_is_identity() {
        let c = NodeClock::exact(Timestamp(1000));
        for t in [0, 1000, 12345] {
            assert_eq!(c.local(Timestamp(t)), Timestamp(t));
            assert_eq!(c.global_for(Timestamp(t)), Timestamp(t));
        }
    }

    #[test]
    fn inverse_is_the_first_global_time_reaching_the_local_reading() {
        for (skew, drift) in [(250, 0), (-300, 0), (0, 200_000), (40, -150_000), (-7, 3)] {
            let c = NodeClock {
                skew_ms: skew,
                drift_ppm: drift,
                origin: Timestamp(10_000),
            };
            for local in (10_000u64..30_000).step_by(997) {
                let g = c.global_for(Timestamp(local));
                assert!(c.local(g) >= Timestamp(local));
                assert!(g.0 == 0 || c.local(Timestamp(g.0 - 1)) < Timestamp(local));
            }
        }
    }

    #[test]
    fn drift_accumulates_linearly() {
        let c = NodeClock {
            skew_ms: 0,
            drift_ppm: 100_000,
            origin: Timestamp(0),
        };
        assert_eq!(c.local(Timestamp(10_000)), Timestamp(11_000));
        let slow = NodeClock {
            drift_ppm: -100_000,
            ..c
        };
        assert_eq!(slow.local(Timestamp(10_000)), Timestamp(9_000));
    }

    #[test]
    fn fast_paths_agree_with_the_wide_formula() {
        let wide = |c: &NodeClock, g: u64| {
            let t = i128::from(g);
            let since = t - i128::from(c.origin.0);
            let l = t + i128::from(c.skew_ms) + since * c.drift() / PPM;
            Timestamp(u64::try_from(l.max(0)).unwrap_or(u64::MAX))
        };
        for (skew, drift) in [(0, 0), (-500, 0), (250, 7), (-9, -333), (3, 499_999)] {
            for origin in [0u64, 1_700_000_000_000] {
                let c = NodeClock {
                    skew_ms: skew,
                    drift_ppm: drift,
                    origin: Timestamp(origin),
                };
                for g in [0, 1, 499, origin, origin + 12_345, u64::MAX / 2, u64::MAX] {
                    assert_eq!(c.local(Timestamp(g)), wide(&c, g), "{c:?} at {g}");
                }
            }
        }
    }
}
