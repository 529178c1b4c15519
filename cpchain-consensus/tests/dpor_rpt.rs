//! RPT of white paper §5.1.2 as mainnet ranks it: rank scores with ties, the weighted
//! formula, the floor and the impeachment punishment.

use cpchain_consensus::dpor::{
    compute_rpt, rank_scores, DimensionScores, Observation, Rpt, RptError, RPT_FLOOR, RPT_MAX,
};
use cpchain_core::{Address, ChainSpec, BASE_UNITS_PER_CPC};
use proptest::prelude::*;

fn addr(i: u32) -> Address {
    let mut a = [0u8; 20];
    a[16..].copy_from_slice(&i.to_be_bytes());
    Address(a)
}

fn obs(i: u32) -> Observation {
    Observation {
        address: addr(i),
        ..Observation::default()
    }
}

#[test]
fn dpor_rpt_rank_scores_with_ties() {
    // Mainnet: sort descending, idx = first position of my value, ⌊(1 − idx/len)·100⌋.
    assert_eq!(
        rank_scores(&[10u64, 20, 20, 30, 0]),
        vec![40, 80, 80, 100, 20]
    );
    assert_eq!(rank_scores(&[0u64; 4]), vec![100; 4]);
    assert_eq!(rank_scores(&[42u64]), vec![100]);
    // ⌊(7 − 6)·100/7⌋ = 14 for the last of seven.
    assert_eq!(rank_scores(&[1u64, 2, 3, 4, 5, 6, 7])[0], 14);
}

#[test]
fn dpor_rpt_formula_weights_the_five_ranks() {
    // Three candidates, each dimension ranked so the scores are known:
    //   A: balance 1st, tx 3rd, proxy 2nd, data 1st, blocks 2nd
    let spec = ChainSpec::mainnet();
    let a = Observation {
        address: addr(1),
        balance: 300 * BASE_UNITS_PER_CPC,
        transactions: 1,
        proxy_assists: 5,
        data_uploaded: 9,
        proposed_blocks: 2,
        ..obs(1)
    };
    let b = Observation {
        address: addr(2),
        balance: 200 * BASE_UNITS_PER_CPC,
        transactions: 8,
        proxy_assists: 9,
        data_uploaded: 1,
        proposed_blocks: 3,
        ..obs(2)
    };
    let c = Observation {
        address: addr(3),
        balance: 100 * BASE_UNITS_PER_CPC,
        transactions: 5,
        proxy_assists: 1,
        data_uploaded: 5,
        proposed_blocks: 1,
        ..obs(3)
    };
    let r = compute_rpt(&spec, &[a, b, c]).unwrap();
    // Scores for ranks 1/2/3 of 3: 100, 66, 33.
    assert_eq!(
        r[0].scores,
        DimensionScores {
            balance: 100,
            transactions: 33,
            proxy: 66,
            data: 100,
            maintenance: 66
        }
    );
    // 50·100 + 15·33 + 10·66 + 15·100 + 10·66 = 8,315 (83.15 paper points).
    assert_eq!(r[0].rpt, Rpt(8_315));
    // B: 50·66 + 15·100 + 10·100 + 15·33 + 10·100 = 7,295.
    assert_eq!(r[1].rpt, Rpt(7_295));
    // C: 50·33 + 15·66 + 10·33 + 15·66 + 10·33 = 4,290.
    assert_eq!(r[2].rpt, Rpt(4_290));
}

#[test]
fn dpor_rpt_balance_ranks_whole_cpc_and_data_counts_purchases() {
    let spec = ChainSpec::mainnet();
    // Dust below 1 CPC does not break a tie.
    let a = Observation {
        balance: 5 * BASE_UNITS_PER_CPC + 1,
        data_uploaded: 3,
        ..obs(1)
    };
    let b = Observation {
        balance: 5 * BASE_UNITS_PER_CPC,
        data_uploaded: 2,
        data_bought: 2,
        ..obs(2)
    };
    let r = compute_rpt(&spec, &[a, b]).unwrap();
    assert_eq!(r[0].scores.balance, r[1].scores.balance);
    // b's 2 uploads + 2 purchases outrank a's 3 uploads.
    assert!(r[1].scores.data > r[0].scores.data);
}

#[test]
fn dpor_rpt_floor_then_punishment() {
    let spec = ChainSpec::mainnet();
    // The last of 20 in every dimension scores ⌊1·100/20⌋ = 5 each, RPT 500 < 1,000.
    let mut list: Vec<Observation> = (0..20)
        .map(|i| Observation {
            transactions: u64::from(i),
            balance: u128::from(i) * BASE_UNITS_PER_CPC,
            proxy_assists: u64::from(i),
            data_uploaded: u64::from(i),
            proposed_blocks: u64::from(i),
            ..obs(i)
        })
        .collect();
    let r = compute_rpt(&spec, &list).unwrap();
    assert_eq!(r[0].rpt, Rpt(RPT_FLOOR), "the last of 20 is floored");
    assert_eq!(r[19].rpt, Rpt(RPT_MAX));
    // k impeachments: × (9 − k)/9, rounded down; the floor does not shield a failing node.
    for (k, want) in [(1u64, 8_888u32), (3, 6_666), (8, 1_111), (9, 0), (10, 0)] {
        list[19].impeached_blocks = k;
        let r = compute_rpt(&spec, &list).unwrap();
        assert_eq!(r[19].rpt, Rpt(want), "k = {k}");
    }
    list[0].impeached_blocks = 1;
    let r = compute_rpt(&spec, &list).unwrap();
    assert_eq!(r[0].rpt, Rpt(888));
}

#[test]
fn dpor_rpt_refuses_duplicates_and_oversized_lists() {
    let spec = ChainSpec::mainnet();
    assert_eq!(
        compute_rpt(&spec, &[obs(1), obs(2), obs(1)]),
        Err(RptError::DuplicateCandidate(addr(1)))
    );
    let many: Vec<_> = (0..101).map(obs).collect();
    assert_eq!(
        compute_rpt(&spec, &many),
        Err(RptError::TooManyCandidates {
            count: 101,
            max: 100
        })
    );
    let mut bad = spec.clone();
    bad.rpt_weights.balance = 0;
    assert_eq!(compute_rpt(&bad, &[obs(1)]), Err(RptError::Weights));
    assert_eq!(compute_rpt(&spec, &[]), Ok(vec![]));
}

fn arb_obs() -> impl Strategy<Value = Vec<Observation>> {
    proptest::collection::vec(
        (
            any::<u128>(),
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
            0u64..20,
        ),
        0..100,
    )
    .prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (b, t, p, d, bo, pr, k))| Observation {
                address: addr(i as u32),
                balance: b,
                transactions: t,
                proposed_blocks: p,
                data_uploaded: d,
                data_bought: bo,
                proxy_assists: pr,
                impeached_blocks: k,
            })
            .collect()
    })
}

proptest! {
    #[test]
    fn dpor_rpt_is_bounded_and_order_independent(list in arb_obs(), rot in 0usize..100) {
        let spec = ChainSpec::mainnet();
        let r = compute_rpt(&spec, &list).unwrap();
        for rec in &r {
            prop_assert!(rec.rpt.0 <= RPT_MAX);
            let o = list.iter().find(|o| o.address == rec.address).unwrap();
            if o.impeached_blocks == 0 {
                prop_assert!(rec.rpt.0 >= RPT_FLOOR);
            }
        }
        let mut rotated = list.clone();
        if !rotated.is_empty() {
            let k = rot % rotated.len();
            rotated.rotate_left(k);
        }
        let r2 = compute_rpt(&spec, &rotated).unwrap();
        for rec in &r {
            prop_assert!(r2.contains(rec));
        }
    }

    #[test]
    fn dpor_rpt_rank_matches_the_mainnet_definition(values in proptest::collection::vec(0u64..20, 0..150)) {
        // idx = number of strictly larger values; score = ⌊(len − idx)·100/len⌋.
        let len = values.len() as u64;
        let want: Vec<u8> = values
            .iter()
            .map(|v| {
                let idx = values.iter().filter(|x| *x > v).count() as u64;
                ((len - idx) * 100 / len) as u8
            })
            .collect();
        prop_assert_eq!(rank_scores(&values), want);
    }

    #[test]
    fn dpor_rpt_rank_is_monotone(values in proptest::collection::vec(any::<u64>(), 1..200)) {
        let s = rank_scores(&values);
        for (i, a) in values.iter().enumerate() {
            for (j, b) in values.iter().enumerate() {
                // Larger never ranks lower (the floor may merge neighbours past 100
                // candidates); ties share a score.
                if a > b { prop_assert!(s[i] >= s[j]); }
                if a == b { prop_assert_eq!(s[i], s[j]); }
            }
            prop_assert!(s[i] <= 100);
        }
        let top = values.iter().position(|v| v == values.iter().max().unwrap()).unwrap();
        prop_assert_eq!(s[top], 100);
    }
}
