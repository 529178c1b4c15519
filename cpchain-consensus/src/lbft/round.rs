//! Rounds within a height: who leads them and how long they last.
//!
//! Round 0 is the paper's protocol: the scheduled proposer's PRE-PREPARE, or, when the
//! timer expires at `parent.time + period + impeach timeout`, the impeach block. A round
//! that ends without a decision is followed by round `r + 1`, led by a validator, whose
//! timeouts double (capped) so that after the network stabilises some round is long enough
//! for every honest validator to hear the leader and each other (see the liveness argument
//! in the module docs of [`crate::lbft`]).

use super::committee::ValidatorSet;
use cpchain_core::{Address, ChainSpec, Duration, Height, Timestamp};

/// The leader of round `round ≥ 1` at `height`: validator `(height + round) mod n` in
/// address order. Rotating through all validators guarantees an honest leader within
/// every `f + 1` consecutive rounds.
pub fn leader(set: &ValidatorSet, height: Height, round: u32) -> Option<Address> {
    let n = u64::try_from(set.len()).ok()?;
    let slot = height.0.wrapping_add(u64::from(round)).checked_rem(n)?;
    set.address_at(usize::try_from(slot).ok()?)
}

/// Length of round `round`: `impeach_timeout × 2^round`, capped at `max`.
pub fn round_length(spec: &ChainSpec, round: u32, max: Duration) -> Duration {
    let factor = 1u64.checked_shl(round.min(62)).unwrap_or(u64::MAX);
    let len = spec.impeach_timeout.saturating_mul(factor);
    if len > max {
        max
    } else {
        len
    }
}

/// Deadlines of one round, all absolute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundTimes {
    /// When the round started here.
    pub start: Timestamp,
    /// When the leader (round ≥ 1) proposes: a quarter into the round, so that the
    /// round changes carrying every lock have arrived.
    pub leader_proposes: Timestamp,
    /// When a validator that has not prepared gives up on the proposal and prepares its
    /// fallback (its lock, or the impeach block). Round 0: the paper's impeach timer.
    pub give_up_proposal: Timestamp,
    /// When the round ends without a decision.
    pub end: Timestamp,
}

impl RoundTimes {
    /// Times of round 0 at the height after a parent with time `parent_time`, entered at
    /// `now`.
    pub fn first(spec: &ChainSpec, parent_time: Timestamp, now: Timestamp) -> RoundTimes {
        let timer = parent_time
            .saturating_add(spec.block_period)
            .saturating_add(spec.impeach_timeout);
        let give_up = if timer > now { timer } else { now };
        RoundTimes {
            start: now,
            leader_proposes: now,
            give_up_proposal: give_up,
            end: give_up.saturating_add(spec.impeach_timeout),
        }
    }

    /// Times of round `round ≥ 1` entered at `now`.
    pub fn later(spec: &ChainSpec, round: u32, max: Duration, now: Timestamp) -> RoundTimes {
        let len = round_length(spec, round, max).as_millis();
        RoundTimes {
            start: now,
            leader_proposes: now.saturating_add(Duration::from_millis(len / 4)),
            give_up_proposal: now.saturating_add(Duration::from_millis(len / 2)),
            end: now.saturating_add(Duration::from_millis(len)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_lengths_double_then_cap() {
        let spec = ChainSpec::devnet();
        let max = Duration::from_secs(60);
        assert_eq!(round_length(&spec, 0, max), Duration::from_secs(3));
        assert_eq!(round_length(&spec, 1, max), Duration::from_secs(6));
        assert_eq!(round_length(&spec, 4, max), Duration::from_secs(48));
        assert_eq!(round_length(&spec, 5, max), max);
        assert_eq!(round_length(&spec, u32::MAX, max), max);
    }

    #[test]
    fn round_zero_uses_the_paper_timer() {
        let spec = ChainSpec::devnet();
        let t = RoundTimes::first(&spec, Timestamp(10_000), Timestamp(10_500));
        assert_eq!(t.give_up_proposal, Timestamp(16_000));
        assert_eq!(t.end, Timestamp(19_000));
        // Entered late: give up at once.
        let t = RoundTimes::first(&spec, Timestamp(10_000), Timestamp(20_000));
        assert_eq!(t.give_up_proposal, Timestamp(20_000));
    }
}
