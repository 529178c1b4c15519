//! Rewards of white paper §5.1.3: the per-block maintenance reward of table 1.1 and the
//! economy pool's seasonal basic reward, in exact integer base units.
//!
//! # Maintenance reward (table 1.1)
//! | Year | CPC / block | Blocks | Supply (CPC) |
//! |------|-------------|--------|--------------|
//! | 1 | 12.65 | 3,162,240 (leap day) | 40,002,336 |
//! | 2 | 9.51 | 3,153,600 | 29,990,736 |
//! | 3 | 7.13 | 3,153,600 | 22,485,168 |
//! | 4 | 5.39 | 3,153,600 | 16,997,904 |
//! | 5 | 4.03 | 3,162,240 (leap day) | 12,743,827.2 |
//!
//! The table assumes mainnet's 10-second blocks (8,640 a day); a chain with another block
//! period still pays by block number, so its years are shorter or longer in wall time.
//!
//! Year 5's exact supply is 12,743,827.2 CPC; the paper's table truncates it to 12,743,827.
//! This module pays the exact per-block figure, so its year-5 total is the exact one. After
//! year 5 the reward is 0. Heights are block numbers: height 1 is the first rewarded block,
//! genesis earns nothing. An impeach block (zero coinbase) earns nothing (§5.1.3: "a faulty
//! proposer cannot receive the reward").
//!
//! # Basic reward (economy pool)
//! A season lasts 90 days: 3 raising, 84 locked, 3 settlement. Each season pays
//! 1,250,000 CPC (5,000,000 a year); a node's share is `pool × d / D`, rounded down, with `d`
//! its deposit and `D` the pool's total, computed through a 256-bit intermediate so no
//! deposit can overflow. The rounding leaves at most `members − 1` base units undistributed
//! per season ("dust"); [`split_pool`] returns it so the host can carry it forward.

use alloc::vec::Vec;
use cpchain_core::{Duration, Height, Timestamp, BASE_UNITS_PER_CPC};
use serde::{Deserialize, Serialize};

/// 1/100 CPC in base units: table 1.1 gives rewards to the cent.
const CENT: u128 = BASE_UNITS_PER_CPC / 100;

/// Blocks in a 365-day year at 10 s blocks.
pub const BLOCKS_PER_YEAR: u64 = 3_153_600;
/// Blocks in a 366-day year.
pub const BLOCKS_PER_LEAP_YEAR: u64 = 3_162_240;

/// One row of table 1.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardYear {
    /// Blocks in the year.
    pub blocks: u64,
    /// Reward per block, base units.
    pub per_block: u128,
}

impl RewardYear {
    /// The year's supply: `blocks × per_block`, base units (saturating, for hand-built
    /// rows; the table's figures are far from the limit).
    pub const fn supply(&self) -> u128 {
        (self.blocks as u128).saturating_mul(self.per_block)
    }
}

/// Table 1.1 of the white paper: years 1 to 5 of the maintenance reward.
pub const MAINNET_REWARD_YEARS: [RewardYear; 5] = [
    RewardYear {
        blocks: BLOCKS_PER_LEAP_YEAR,
        per_block: 1265 * CENT,
    },
    RewardYear {
        blocks: BLOCKS_PER_YEAR,
        per_block: 951 * CENT,
    },
    RewardYear {
        blocks: BLOCKS_PER_YEAR,
        per_block: 713 * CENT,
    },
    RewardYear {
        blocks: BLOCKS_PER_YEAR,
        per_block: 539 * CENT,
    },
    RewardYear {
        blocks: BLOCKS_PER_LEAP_YEAR,
        per_block: 403 * CENT,
    },
];

/// The year (1-based) `height` falls in, or `None` for genesis and after the last year.
pub fn reward_year(height: Height) -> Option<usize> {
    let mut first = 1u64;
    for (i, y) in MAINNET_REWARD_YEARS.iter().enumerate() {
        let last = first.saturating_add(y.blocks.saturating_sub(1));
        if height.get() >= first && height.get() <= last {
            return Some(i + 1);
        }
        first = last.saturating_add(1);
    }
    None
}

/// The maintenance reward of the block at `height`, base units: 0 for genesis, for impeach
/// blocks and after year 5.
pub fn block_reward(height: Height, is_impeach: bool) -> u128 {
    if is_impeach {
        return 0;
    }
    reward_year(height)
        .and_then(|y| MAINNET_REWARD_YEARS.get(y - 1))
        .map_or(0, |y| y.per_block)
}

/// Total maintenance supply of the five years, base units.
pub fn total_maintenance_supply() -> u128 {
    MAINNET_REWARD_YEARS.iter().map(RewardYear::supply).sum()
}

/// The yearly basic-reward pool: 5,000,000 CPC.
pub const YEARLY_BASIC_POOL: u128 = 5_000_000 * BASE_UNITS_PER_CPC;
/// One season's pool: a quarter of the yearly pool, 1,250,000 CPC.
pub const SEASON_POOL: u128 = YEARLY_BASIC_POOL / 4;
/// Raising period: deposits and withdrawals allowed.
pub const RAISING_DAYS: u64 = 3;
/// Lock-up period: no operation.
pub const LOCKED_DAYS: u64 = 84;
/// Settlement period: rewards paid.
pub const SETTLEMENT_DAYS: u64 = 3;
/// A whole season.
pub const SEASON_DAYS: u64 = RAISING_DAYS + LOCKED_DAYS + SETTLEMENT_DAYS;

/// Where the economy pool's contract stands: always in exactly one period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SeasonPhase {
    /// Days 0–2: deposit and withdraw.
    Raising,
    /// Days 3–86: no operation.
    Locked,
    /// Days 87–89: collect rewards.
    Settlement,
}

/// Where `now` falls in the season calendar that starts at `start`: the 0-based season
/// index and the phase, or `None` before `start`. Periods are half-open `[begin, end)`, so
/// a boundary instant belongs to the later period.
pub fn season_at(start: Timestamp, now: Timestamp) -> Option<(u64, SeasonPhase)> {
    if now < start {
        return None;
    }
    let since = now.saturating_since(start).as_millis();
    let season_ms = Duration::from_days(SEASON_DAYS).as_millis();
    let index = since / season_ms;
    let within = since % season_ms;
    let phase = if within < Duration::from_days(RAISING_DAYS).as_millis() {
        SeasonPhase::Raising
    } else if within < Duration::from_days(RAISING_DAYS + LOCKED_DAYS).as_millis() {
        SeasonPhase::Locked
    } else {
        SeasonPhase::Settlement
    };
    Some((index, phase))
}

/// `⌊a × b / c⌋` exactly, through a 256-bit product; `None` if `c = 0` or the quotient does
/// not fit in `u128` (never when `b ≤ c`, as with a deposit and its pool's total).
pub fn mul_div_floor(a: u128, b: u128, c: u128) -> Option<u128> {
    if c == 0 {
        return None;
    }
    let (hi, lo) = mul_wide(a, b);
    if hi >= c {
        return None; // quotient ≥ 2^128
    }
    // Schoolbook binary long division of (hi, lo) by c; hi < c keeps the remainder < c.
    let mut rem = hi;
    let mut q: u128 = 0;
    for i in (0..128).rev() {
        let carry = rem >> 127;
        rem = (rem << 1) | ((lo >> i) & 1);
        q <<= 1;
        // With the carry the true remainder is 2^128 + rem ≥ c.
        if carry == 1 || rem >= c {
            rem = rem.wrapping_sub(c);
            q |= 1;
        }
    }
    Some(q)
}

/// The 256-bit product of two u128 as (high, low).
fn mul_wide(a: u128, b: u128) -> (u128, u128) {
    const MASK: u128 = u64::MAX as u128;
    let (a1, a0) = (a >> 64, a & MASK);
    let (b1, b0) = (b >> 64, b & MASK);
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    // Middle column: each term < 2^64, sum < 3·2^64 fits.
    let mid = (p00 >> 64) + (p01 & MASK) + (p10 & MASK);
    let lo = (p00 & MASK) | (mid << 64);
    let hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
    (hi, lo)
}

/// One node's basic reward: `pool × deposit / total`, rounded down. `None` when `total` is
/// 0 or `deposit > total` (a caller's bookkeeping error).
pub fn basic_reward(pool: u128, deposit: u128, total: u128) -> Option<u128> {
    if deposit > total {
        return None;
    }
    mul_div_floor(pool, deposit, total)
}

/// Split `pool` over `deposits` pro rata, rounded down. Returns each share (in input order)
/// and the undistributed dust, which is below the number of deposits. `None` if the
/// deposits' total overflows or is 0.
pub fn split_pool(pool: u128, deposits: &[u128]) -> Option<(Vec<u128>, u128)> {
    let total = deposits
        .iter()
        .try_fold(0u128, |acc, d| acc.checked_add(*d))?;
    if total == 0 {
        return None;
    }
    let shares: Vec<u128> = deposits
        .iter()
        .map(|d| mul_div_floor(pool, *d, total))
        .collect::<Option<Vec<_>>>()?;
    let paid = shares
        .iter()
        .try_fold(0u128, |acc, s| acc.checked_add(*s))?;
    Some((shares, pool.checked_sub(paid)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpor_mul_div_matches_u128_when_it_fits() {
        for (a, b, c) in [
            (10u128, 3, 4),
            (7, 7, 7),
            (0, 5, 3),
            (u64::MAX as u128, 3, 2),
        ] {
            assert_eq!(mul_div_floor(a, b, c), Some(a * b / c));
        }
        assert_eq!(mul_div_floor(1, 1, 0), None);
        assert_eq!(
            mul_div_floor(u128::MAX, u128::MAX, u128::MAX),
            Some(u128::MAX)
        );
        assert_eq!(mul_div_floor(u128::MAX, 2, 1), None);
        // 2^127 · 6 / 8 = 3 · 2^125, through a product above 2^128.
        assert_eq!(mul_div_floor(1 << 127, 6, 8), Some(3 << 125));
    }

    proptest::proptest! {
        #[test]
        fn dpor_mul_div_is_the_exact_floor(a: u128, b: u128, c in 1u128..) {
            match mul_div_floor(a, b, c) {
                // q·c ≤ a·b < (q + 1)·c, compared as 256-bit products.
                Some(q) => {
                    let (qh, ql) = mul_wide(q, c);
                    let (ph, pl) = mul_wide(a, b);
                    proptest::prop_assert!((qh, ql) <= (ph, pl));
                    if let Some(next) = q.checked_add(1) {
                        proptest::prop_assert!((ph, pl) < mul_wide(next, c));
                    }
                }
                None => {
                    let (ph, _) = mul_wide(a, b);
                    proptest::prop_assert!(ph >= c);
                }
            }
        }
    }

    #[test]
    fn dpor_mul_wide_small_cases() {
        assert_eq!(mul_wide(u128::MAX, u128::MAX), (u128::MAX - 1, 1));
        assert_eq!(mul_wide(1 << 64, 1 << 64), (1, 0));
    }
}
