//! Node types and the RNode pool of white paper §5.1.1: 200,000 CPC to join, a 100-minute
//! lock, no withdrawal while elected for a term that has not ended; and the §4 free quota.

use cpchain_consensus::dpor::{
    free_remaining, roles_of, transaction_fee, EconomyPool, PoolError, RNodePool, Sender,
};
use cpchain_core::{Address, ChainSpec, Duration, Term, Timestamp, BASE_UNITS_PER_CPC};

const CPC: u128 = BASE_UNITS_PER_CPC;

#[test]
fn dpor_pools_rnode_join_lock_and_election_hold() {
    let spec = ChainSpec::mainnet();
    let mut pool = RNodePool::new(&spec, 2);
    let a = Address([1; 20]);
    let t0 = Timestamp(1_000_000);
    assert_eq!(
        pool.join(t0, a, 199_999 * CPC),
        Err(PoolError::BelowMinimum {
            amount: 199_999 * CPC,
            minimum: 200_000 * CPC
        })
    );
    assert!(!pool.is_rnode(&a));
    pool.join(t0, a, 200_000 * CPC).unwrap();
    assert!(pool.is_rnode(&a));
    assert_eq!(
        pool.join(t0, a, 200_000 * CPC),
        Err(PoolError::AlreadyMember(a))
    );
    // Locked for 100 minutes.
    let unlock = t0.saturating_add(Duration::from_mins(100));
    assert_eq!(
        pool.quit(Timestamp(unlock.0 - 1), Term(0), &a),
        Err(PoolError::Locked { until: unlock })
    );
    // Elected for term 8: no withdrawal until term 8 has ended.
    pool.mark_elected(&a, Term(8)).unwrap();
    pool.mark_elected(&a, Term(5)).unwrap(); // an earlier term does not shorten the hold
    assert_eq!(
        pool.quit(unlock, Term(8), &a),
        Err(PoolError::ElectedUntil(Term(8)))
    );
    assert_eq!(pool.quit(unlock, Term(9), &a), Ok(200_000 * CPC));
    assert!(pool.is_empty());
    assert_eq!(pool.quit(unlock, Term(9), &a), Err(PoolError::NotMember(a)));
    // Capacity is explicit.
    for i in 0..2u8 {
        pool.join(t0, Address([i + 10; 20]), 200_000 * CPC).unwrap();
    }
    assert_eq!(
        pool.join(t0, Address([99; 20]), 200_000 * CPC),
        Err(PoolError::Full(2))
    );
}

#[test]
fn dpor_pools_node_roles() {
    let spec = ChainSpec::mainnet();
    let mut rnodes = RNodePool::new(&spec, 8);
    let mut economy = EconomyPool::new(&spec, Timestamp(0), 8);
    let civ = Address([1; 20]);
    let both = Address([2; 20]);
    rnodes.join(Timestamp(0), both, 200_000 * CPC).unwrap();
    economy.deposit(Timestamp(0), both, 20_000 * CPC).unwrap();
    assert!(roles_of(&civ, &economy, &rnodes, false).is_civilian());
    let r = roles_of(&both, &economy, &rnodes, false);
    assert!(r.rnode && r.economy && !r.industry);
    assert!(roles_of(&civ, &economy, &rnodes, true).industry);
}

#[test]
fn dpor_pools_economy_pool_refuses_overflow() {
    let spec = ChainSpec::mainnet();
    let mut economy = EconomyPool::new(&spec, Timestamp(10), 8);
    let a = Address([1; 20]);
    assert_eq!(
        economy.deposit(Timestamp(0), a, 20_000 * CPC),
        Err(PoolError::BeforeFirstSeason)
    );
    economy.deposit(Timestamp(10), a, u128::MAX - 5).unwrap();
    assert_eq!(
        economy.deposit(Timestamp(10), a, 10),
        Err(PoolError::Overflow)
    );
    assert_eq!(
        economy.deposit(Timestamp(10), a, 0),
        Err(PoolError::ZeroAmount)
    );
    assert_eq!(economy.total(), u128::MAX - 5);
}

#[test]
fn dpor_fees_free_daily_quota_then_fee() {
    let mut spec = ChainSpec::mainnet();
    spec.free_tx_per_day = 3;
    let fee = 21_000u128;
    let charged: Vec<u128> = (0..5)
        .map(|sent| transaction_fee(&spec, Sender::Ordinary, sent, fee))
        .collect();
    assert_eq!(charged, vec![0, 0, 0, fee, fee]);
    assert_eq!(free_remaining(&spec, Sender::Ordinary, 1), 2);
    assert_eq!(free_remaining(&spec, Sender::Ordinary, u32::MAX), 0);
    // dApp transactions are paid by their developer: no quota.
    assert_eq!(transaction_fee(&spec, Sender::DApp, 0, fee), fee);
    assert_eq!(free_remaining(&spec, Sender::DApp, 0), 0);
}

#[test]
fn dpor_pools_elected_committee_is_held_until_its_term_ends() {
    use cpchain_consensus::dpor::{Candidate, Rpt};
    use cpchain_consensus::dpor::{Schedule, DEFAULT_SCHEDULE_CAPACITY};
    use cpchain_core::{keccak256, Height};
    let spec = ChainSpec::mainnet();
    let dp: Vec<Address> = (0..12u8).map(|i| Address([0xd0 + i; 20])).collect();
    let mut schedule = Schedule::new(&spec, &dp, DEFAULT_SCHEDULE_CAPACITY).unwrap();
    let mut pool = RNodePool::new(&spec, 64);
    let cands: Vec<Candidate> = (0..20u8)
        .map(|i| Candidate {
            address: Address([i + 1; 20]),
            rpt: Rpt(2_000),
        })
        .collect();
    for c in &cands {
        pool.join(Timestamp(0), c.address, 200_000 * CPC).unwrap();
    }
    let term = schedule
        .elect_at(Height(36), &keccak256(b"cp"), &cands)
        .unwrap();
    let committee = schedule.committee_of(term).unwrap();
    // Eight elected RNodes are held; the four default proposers are not pool members.
    assert_eq!(pool.mark_committee(&committee, term), 8);
    let later = Timestamp(Duration::from_days(1).as_millis());
    for c in &cands {
        let elected = committee.contains(&c.address);
        let r = pool.clone().quit(later, term, &c.address);
        assert_eq!(r.is_err(), elected, "{:?}", c.address);
    }
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn dpor_pools_economy_total_is_the_sum_of_deposits(
            ops in proptest::collection::vec((any::<bool>(), 0u8..6, 0u128..100_000), 0..100)
        ) {
            let spec = ChainSpec::mainnet();
            let mut pool = EconomyPool::new(&spec, Timestamp(0), 4);
            let who = |i: u8| Address([i; 20]);
            for (deposit, i, amount) in ops {
                let before: Vec<u128> = (0..6).map(|k| pool.deposit_of(&who(k))).collect();
                let r = if deposit {
                    pool.deposit(Timestamp(0), who(i), amount * CPC)
                } else {
                    pool.withdraw(Timestamp(0), &who(i), amount * CPC)
                };
                let after: Vec<u128> = (0..6).map(|k| pool.deposit_of(&who(k))).collect();
                if r.is_err() {
                    prop_assert_eq!(&before, &after, "a refused operation changed the pool");
                }
                prop_assert_eq!(pool.total(), after.iter().sum::<u128>());
                for d in after {
                    prop_assert!(d == 0 || d >= spec.economy_deposit);
                }
            }
        }
    }
}
