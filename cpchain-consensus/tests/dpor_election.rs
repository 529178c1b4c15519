//! Committee election at a term checkpoint (white paper §2.4.1, issue step 4): determinism,
//! distinct members, partition counts, RPT-proportional selection and degenerate inputs.

use cpchain_consensus::dpor::{elect, Candidate, Committee, ElectionError, Rpt, SeatKind};
use cpchain_core::{keccak256, Address, ChainSpec, Hash, Term};
use proptest::prelude::*;

fn addr(tag: u8, i: u32) -> Address {
    let mut a = [0u8; 20];
    a[0] = tag;
    a[16..].copy_from_slice(&i.to_be_bytes());
    Address(a)
}

fn defaults(n: u32) -> Vec<Address> {
    (0..n).map(|i| addr(0xd0, i)).collect()
}

fn candidates(rpts: &[u32]) -> Vec<Candidate> {
    rpts.iter()
        .enumerate()
        .map(|(i, r)| Candidate {
            address: addr(0xc0, i as u32),
            rpt: Rpt(*r),
        })
        .collect()
}

fn seed(i: u64) -> Hash {
    keccak256(&i.to_le_bytes())
}

fn assert_valid(spec: &ChainSpec, c: &Committee) {
    assert_eq!(c.len(), spec.proposers_per_term as usize);
    assert_eq!(c.first_duplicate(), None, "{c:?}");
}

#[test]
fn dpor_election_is_deterministic_and_order_independent() {
    let spec = ChainSpec::mainnet();
    let cands = candidates(&(1..=40).map(|i| i * 97 % 10_000 + 1).collect::<Vec<_>>());
    let a = elect(&spec, &seed(1), Term(7), &cands, &defaults(12)).unwrap();
    let b = elect(&spec, &seed(1), Term(7), &cands, &defaults(12)).unwrap();
    assert_eq!(a, b);
    let mut reversed = cands.clone();
    reversed.reverse();
    let c = elect(&spec, &seed(1), Term(7), &reversed, &defaults(12)).unwrap();
    assert_eq!(a, c, "the host's list order must not matter");
    // Another hash or another term gives another draw (with these inputs, certainly).
    let d = elect(&spec, &seed(2), Term(7), &cands, &defaults(12)).unwrap();
    let e = elect(&spec, &seed(1), Term(8), &cands, &defaults(12)).unwrap();
    assert_ne!(a, d);
    assert_ne!(a, e);
}

#[test]
fn dpor_election_mainnet_partition_counts() {
    // 8 elected seats, 2 of them from the lowest half; 4 default proposers, one in each
    // group of three seats.
    let spec = ChainSpec::mainnet();
    let cands = candidates(&(1..=30).map(|i| 1_000 + i * 50).collect::<Vec<_>>());
    for s in 0..50 {
        let c = elect(&spec, &seed(s), Term(3), &cands, &defaults(12)).unwrap();
        assert_valid(&spec, &c);
        assert_eq!(c.count(SeatKind::Low), 2);
        assert_eq!(c.count(SeatKind::High), 6);
        assert_eq!(c.count(SeatKind::Default), 4);
        for (i, seat) in c.seats().iter().enumerate() {
            assert_eq!(seat.kind == SeatKind::Default, i % 3 == 0, "seat {i}");
        }
        // Low seats come from the lowest 15 by (RPT, address), high seats from the rest.
        let low_max = cands[14].address;
        for seat in c.seats() {
            match seat.kind {
                SeatKind::Low => assert!(seat.address <= low_max),
                SeatKind::High => assert!(seat.address > low_max),
                SeatKind::Default => assert_eq!(seat.address.0[0], 0xd0),
            }
        }
    }
}

#[test]
fn dpor_election_never_seats_a_default_proposer_twice() {
    // Mainnet bug: the padding could put one default proposer into a committee twice. Here
    // default proposers also campaign (and win, with the top RPT), and the committee stays
    // distinct for every seed.
    let spec = ChainSpec::mainnet();
    let dp = defaults(12);
    let mut cands = candidates(&[1_000; 10]);
    for (i, d) in dp.iter().take(6).enumerate() {
        cands.push(Candidate {
            address: *d,
            rpt: Rpt(9_000 + i as u32),
        });
    }
    let mut default_elected = 0;
    for s in 0..200 {
        let c = elect(&spec, &seed(s), Term(s), &cands, &dp).unwrap();
        assert_valid(&spec, &c);
        default_elected += c
            .seats()
            .iter()
            .filter(|x| x.kind != SeatKind::Default && dp.contains(&x.address))
            .count();
    }
    assert!(
        default_elected > 0,
        "the scenario must exercise the overlap"
    );
}

#[test]
fn dpor_election_selection_frequency_follows_rpt() {
    // One seat drawn from the high half: P(i) = RPT_i / Σ RPT exactly. 20,000 fixed seeds;
    // tolerance 5 standard deviations of the binomial count, checked in integers:
    // (obs·W − N·w)² ≤ 25 · N · w · (W − w).
    let mut spec = ChainSpec::mainnet();
    spec.elected_seats = 1;
    spec.low_rpt_seats = 0;
    // The low half (RPT 100..=400) never draws; the high half has weights 1000..=4000.
    let rpts = [100, 200, 300, 400, 1_000, 2_000, 3_000, 4_000];
    let cands = candidates(&rpts);
    let n: u64 = 20_000;
    let mut counts = [0u64; 8];
    for s in 0..n {
        let c = elect(&spec, &seed(s), Term(1), &cands, &defaults(12)).unwrap();
        let winner = c
            .seats()
            .iter()
            .find(|x| x.kind == SeatKind::High)
            .unwrap()
            .address;
        let i = cands.iter().position(|x| x.address == winner).unwrap();
        counts[i] += 1;
    }
    let total_w: u64 = 10_000;
    for (i, w) in rpts.iter().enumerate().skip(4) {
        let w = u64::from(*w);
        let dev = (counts[i] * total_w) as i128 - (n * w) as i128;
        let bound = 25 * n as i128 * w as i128 * (total_w - w) as i128;
        assert!(
            dev * dev <= bound,
            "candidate {i}: {} of {n}, expected {}",
            counts[i],
            n * w / total_w
        );
    }
    assert_eq!(counts[..4], [0, 0, 0, 0]);
}

#[test]
fn dpor_election_without_replacement_favours_higher_rpt() {
    // Mainnet seats: inclusion probability is monotone in RPT inside a partition.
    let spec = ChainSpec::mainnet();
    let rpts: Vec<u32> = (1..=20).map(|i| i * 500).collect();
    let cands = candidates(&rpts);
    let mut counts = vec![0u32; rpts.len()];
    for s in 0..2_000 {
        let c = elect(&spec, &seed(s), Term(1), &cands, &defaults(12)).unwrap();
        for seat in c.seats() {
            if let Some(i) = cands.iter().position(|x| x.address == seat.address) {
                counts[i] += 1;
            }
        }
    }
    // Compare the top and bottom of each partition (10 low, 10 high).
    assert!(counts[9] > counts[0], "{counts:?}");
    assert!(counts[19] > counts[10], "{counts:?}");
}

#[test]
fn dpor_election_degenerate_inputs() {
    let spec = ChainSpec::mainnet();
    let dp = defaults(12);
    // No candidates: an all-default committee.
    let c = elect(&spec, &seed(0), Term(3), &[], &dp).unwrap();
    assert_valid(&spec, &c);
    assert_eq!(c.count(SeatKind::Default), 12);
    // Fewer candidates than seats: all seated, defaults fill the rest.
    let few = candidates(&[1_000, 2_000, 3_000]);
    let c = elect(&spec, &seed(0), Term(3), &few, &dp).unwrap();
    assert_valid(&spec, &c);
    assert_eq!(c.count(SeatKind::Default), 9);
    for x in &few {
        assert!(c.contains(&x.address));
    }
    // All-zero RPT (everyone punished): nobody is elected.
    let zero = candidates(&[0; 20]);
    let c = elect(&spec, &seed(0), Term(3), &zero, &dp).unwrap();
    assert_eq!(c.count(SeatKind::Default), 12);
    // Duplicates and too many candidates are typed errors.
    let mut dup = candidates(&[1_000, 2_000]);
    dup.push(dup[0]);
    assert_eq!(
        elect(&spec, &seed(0), Term(3), &dup, &dp),
        Err(ElectionError::DuplicateCandidate(dup[0].address))
    );
    let many = candidates(&vec![1_000; 101]);
    assert_eq!(
        elect(&spec, &seed(0), Term(3), &many, &dp),
        Err(ElectionError::TooManyCandidates {
            count: 101,
            max: 100
        })
    );
    let mut dup_defaults = dp.clone();
    dup_defaults[1] = dup_defaults[0];
    assert_eq!(
        elect(&spec, &seed(0), Term(3), &few, &dup_defaults),
        Err(ElectionError::DuplicateDefaultProposer(dp[0]))
    );
    // Too few default proposers for the open seats.
    assert_eq!(
        elect(&spec, &seed(0), Term(3), &few, &dp[..5]),
        Err(ElectionError::NotEnoughDefaultProposers {
            needed: 9,
            available: 5
        })
    );
    // An inconsistent spec is refused, not trusted.
    let mut bad = spec.clone();
    bad.elected_seats = 13;
    assert_eq!(
        elect(&bad, &seed(0), Term(3), &few, &dp),
        Err(ElectionError::Seats)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn dpor_election_always_yields_a_valid_committee(
        rpts in proptest::collection::vec(0u32..=10_000, 0..100),
        n_defaults in 12u32..20,
        hash in any::<[u8; 32]>(),
        term in any::<u64>(),
    ) {
        let spec = ChainSpec::mainnet();
        let cands = candidates(&rpts);
        let c = elect(&spec, &Hash(hash), Term(term), &cands, &defaults(n_defaults)).unwrap();
        prop_assert_eq!(c.len(), 12);
        prop_assert_eq!(c.first_duplicate(), None);
        prop_assert!(c.count(SeatKind::Low) <= 2);
        prop_assert!(c.count(SeatKind::Low) + c.count(SeatKind::High) <= 8);
        for seat in c.seats() {
            if seat.kind != SeatKind::Default {
                let cand = cands.iter().find(|x| x.address == seat.address).unwrap();
                prop_assert!(cand.rpt.0 > 0, "a zero-RPT candidate was elected");
            }
        }
    }

    #[test]
    fn dpor_election_is_a_function_of_its_inputs(
        rpts in proptest::collection::vec(1u32..=10_000, 0..60),
        hash in any::<[u8; 32]>(),
        rot in 0usize..60,
    ) {
        let spec = ChainSpec::mainnet();
        let cands = candidates(&rpts);
        let mut rotated = cands.clone();
        if !rotated.is_empty() {
            let k = rot % rotated.len();
            rotated.rotate_left(k);
        }
        let a = elect(&spec, &Hash(hash), Term(5), &cands, &defaults(12));
        let b = elect(&spec, &Hash(hash), Term(5), &rotated, &defaults(12));
        prop_assert_eq!(a, b);
    }
}
