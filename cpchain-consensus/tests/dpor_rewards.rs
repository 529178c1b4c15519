//! Rewards of white paper §5.1.3: table 1.1 to the base unit, impeach blocks earning
//! nothing, and the economy pool's 5,000,000 × d / D seasons.

use cpchain_consensus::dpor::{
    basic_reward, block_reward, reward_year, season_at, split_pool, total_maintenance_supply,
    EconomyPool, PoolError, SeasonPhase, MAINNET_REWARD_YEARS, SEASON_POOL, YEARLY_BASIC_POOL,
};
use cpchain_core::{Address, ChainSpec, Duration, Height, Timestamp, BASE_UNITS_PER_CPC};
use proptest::prelude::*;

const CPC: u128 = BASE_UNITS_PER_CPC;

#[test]
fn dpor_rewards_table_1_1_to_the_base_unit() {
    // (CPC per block in cents, blocks, supply in CPC hundredths)
    let table = [
        (1265u128, 3_162_240u64, 4_000_233_600u128), // 40,002,336
        (951, 3_153_600, 2_999_073_600),             // 29,990,736
        (713, 3_153_600, 2_248_516_800),             // 22,485,168
        (539, 3_153_600, 1_699_790_400),             // 16,997,904
        (403, 3_162_240, 1_274_382_720),             // 12,743,827.20 (paper truncates)
    ];
    for (year, (cents, blocks, supply_cents)) in table.iter().enumerate() {
        let row = MAINNET_REWARD_YEARS[year];
        assert_eq!(row.per_block, cents * CPC / 100, "year {}", year + 1);
        assert_eq!(row.blocks, *blocks);
        assert_eq!(row.supply(), supply_cents * CPC / 100);
    }
    assert_eq!(MAINNET_REWARD_YEARS[0].supply(), 40_002_336 * CPC);
    assert_eq!(
        total_maintenance_supply(),
        (4_000_233_600 + 2_999_073_600 + 2_248_516_800 + 1_699_790_400 + 1_274_382_720) * CPC / 100
    );
}

#[test]
fn dpor_rewards_year_boundaries_and_after_year_five() {
    let ends = [3_162_240u64, 6_315_840, 9_469_440, 12_623_040, 15_785_280];
    assert_eq!(block_reward(Height(0), false), 0, "genesis earns nothing");
    assert_eq!(reward_year(Height(1)), Some(1));
    for (i, end) in ends.iter().enumerate() {
        assert_eq!(reward_year(Height(*end)), Some(i + 1));
        assert_eq!(
            block_reward(Height(*end), false),
            MAINNET_REWARD_YEARS[i].per_block
        );
        let next = reward_year(Height(end + 1));
        assert_eq!(next, if i < 4 { Some(i + 2) } else { None });
    }
    assert_eq!(block_reward(Height(15_785_281), false), 0);
    assert_eq!(block_reward(Height(u64::MAX), false), 0);
    // Summing block by block over year 1 gives the table's figure.
    let first: u128 = (1..=3_162_240u64)
        .map(|h| block_reward(Height(h), false))
        .sum();
    assert_eq!(first, 40_002_336 * CPC);
}

#[test]
fn dpor_rewards_impeach_blocks_earn_nothing() {
    for h in [1u64, 3_162_240, 3_162_241, 15_785_280] {
        assert_eq!(block_reward(Height(h), true), 0);
        assert!(block_reward(Height(h), false) > 0);
    }
}

#[test]
fn dpor_rewards_basic_reward_is_pool_times_d_over_d_total() {
    assert_eq!(SEASON_POOL, 1_250_000 * CPC);
    assert_eq!(YEARLY_BASIC_POOL, 5_000_000 * CPC);
    // 5,000,000 × d / D table.
    let cases = [
        (20_000u128, 100_000u128, 1_000_000u128),
        (50_000, 50_000, 5_000_000),
        (1, 3, 1_666_666_666_666_666_666_666_666), // 5,000,000/3 CPC in base units, floored
        (200_000, 1_000_000_000, 1_000),
    ];
    for (d, total, want) in cases {
        let got = basic_reward(YEARLY_BASIC_POOL, d * CPC, total * CPC).unwrap();
        let want = if d == 1 { want } else { want * CPC };
        assert_eq!(got, want, "d = {d}, D = {total}");
    }
    assert_eq!(basic_reward(SEASON_POOL, 1, 0), None);
    assert_eq!(basic_reward(SEASON_POOL, 2, 1), None);
    // A whole supply of 1e9 CPC deposited does not overflow.
    let all = 1_000_000_000 * CPC;
    assert_eq!(basic_reward(SEASON_POOL, all, all), Some(SEASON_POOL));
}

#[test]
fn dpor_rewards_season_boundaries() {
    let start = Timestamp(1_000);
    let day = Duration::from_days(1);
    let at = |d: u64| start.saturating_add(day.saturating_mul(d));
    assert_eq!(season_at(start, Timestamp(999)), None);
    assert_eq!(season_at(start, at(0)), Some((0, SeasonPhase::Raising)));
    assert_eq!(
        season_at(start, Timestamp(at(3).0 - 1)),
        Some((0, SeasonPhase::Raising))
    );
    assert_eq!(season_at(start, at(3)), Some((0, SeasonPhase::Locked)));
    assert_eq!(
        season_at(start, Timestamp(at(87).0 - 1)),
        Some((0, SeasonPhase::Locked))
    );
    assert_eq!(season_at(start, at(87)), Some((0, SeasonPhase::Settlement)));
    assert_eq!(
        season_at(start, Timestamp(at(90).0 - 1)),
        Some((0, SeasonPhase::Settlement))
    );
    assert_eq!(season_at(start, at(90)), Some((1, SeasonPhase::Raising)));
    assert_eq!(
        season_at(start, at(4 * 90 + 50)),
        Some((4, SeasonPhase::Locked))
    );
}

#[test]
fn dpor_rewards_economy_pool_season_cycle() {
    let spec = ChainSpec::mainnet();
    let start = Timestamp(0);
    let day = |d: u64| Timestamp(Duration::from_days(d).as_millis());
    let a = Address([1; 20]);
    let b = Address([2; 20]);
    let mut pool = EconomyPool::new(&spec, start, 16);
    assert_eq!(
        pool.deposit(day(0), a, 19_999 * CPC),
        Err(PoolError::BelowMinimum {
            amount: 19_999 * CPC,
            minimum: 20_000 * CPC
        })
    );
    pool.deposit(day(0), a, 20_000 * CPC).unwrap();
    pool.deposit(day(1), b, 60_000 * CPC).unwrap();
    // A partial withdrawal may not leave a sub-minimum deposit; a full one may.
    assert!(matches!(
        pool.withdraw(day(2), &b, 50_000 * CPC),
        Err(PoolError::BelowMinimum { .. })
    ));
    pool.withdraw(day(2), &b, 20_000 * CPC).unwrap();
    assert_eq!(
        pool.withdraw(day(2), &b, 40_001 * CPC),
        Err(PoolError::Insufficient {
            available: 40_000 * CPC
        })
    );
    // Locked: nothing moves.
    assert_eq!(pool.deposit(day(3), a, CPC), Err(PoolError::NotRaising));
    assert_eq!(pool.withdraw(day(50), &a, CPC), Err(PoolError::NotRaising));
    assert_eq!(
        pool.settle(day(50), SEASON_POOL),
        Err(PoolError::NotSettling)
    );
    // Settlement: 1,250,000 × 20,000 / 60,000 and × 40,000 / 60,000.
    let (shares, dust) = pool.settle(day(88), SEASON_POOL).unwrap();
    assert_eq!(shares[0], (a, 416_666_666_666_666_666_666_666));
    assert_eq!(shares[1], (b, 833_333_333_333_333_333_333_333));
    assert_eq!(dust, 1);
    // Next season raising again.
    pool.withdraw(day(90), &a, 20_000 * CPC).unwrap();
    assert_eq!(pool.total(), 40_000 * CPC);
}

proptest! {
    #[test]
    fn dpor_rewards_split_pays_at_most_the_pool_with_small_dust(
        deposits in proptest::collection::vec(1u128..=(1u128 << 100), 1..50),
        pool in 0u128..=(1u128 << 100),
    ) {
        let (shares, dust) = split_pool(pool, &deposits).unwrap();
        let paid: u128 = shares.iter().sum();
        prop_assert_eq!(paid + dust, pool);
        prop_assert!(dust < deposits.len() as u128);
    }
}
