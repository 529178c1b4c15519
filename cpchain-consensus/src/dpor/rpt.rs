//! RPT, the reputation of white paper §5.1.2, computed exactly as the mainnet client ranks
//! it, in integers.
//!
//! # Scale
//! Each dimension scores 0..=100 and the spec's weights are percent (summing to 100), so
//! `Σ weight × score` lies in 0..=10,000: one unit is 1/100 of a paper RPT point. This is
//! the mainnet client's scale (`50·Balance + 15·Txs + …`), so the mainnet floor of 1,000
//! ([`RPT_FLOOR`]) carries over unchanged. No division happens before the punishment, so the
//! weighted sum is exact.
//!
//! # Rank scores
//! A dimension's score is the candidate's rank among all candidates, not its raw value, so
//! one whale cannot dominate: sort the values descending, `idx` = the first position holding
//! the candidate's value (ties share the best rank), score = ⌊(len − idx) · 100 / len⌋, which
//! is mainnet's ⌊(1 − idx/len) · 100⌋ without the float.
//!
//! # Punishment
//! `k` impeached blocks in the last `impeach_punish_window` blocks multiply RPT by
//! `(9 − k) / 9`, rounded down (so `k ≥ 9` gives 0 and the node cannot be elected). The
//! floor is applied *before* the punishment: the floor exists so that a newcomer ranked last
//! everywhere still has a chance, not to shield a proposer that keeps failing.

use super::error::RptError;
use alloc::vec::Vec;
use core::ops::RangeInclusive;
use cpchain_core::{Address, ChainSpec, Height, BASE_UNITS_PER_CPC};
use serde::{Deserialize, Serialize};

/// Highest RPT: every dimension scored 100 with weights summing to 100.
pub const RPT_MAX: u32 = 10_000;

/// Lowest RPT of an unpunished candidate (mainnet: 1,000 on the same scale). Without it a
/// candidate ranked last in every dimension would have RPT 0 and weight 0 in the election.
pub const RPT_FLOOR: u32 = 1_000;

/// Impeachments at which the punishment reaches zero: × (1 − k/9).
pub const IMPEACH_PUNISH_DIVISOR: u64 = 9;

/// A reputation value on the 0..=10,000 scale described in the module docs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Rpt(pub u32);

/// A campaigning RNode with its RPT at the checkpoint: the election's input
/// ([`super::elect`]). It lives here, beside [`Rpt`], so that the election depends on RPT
/// and never the reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Candidate {
    /// The RNode.
    pub address: Address,
    /// Its RPT (see the module docs).
    pub rpt: Rpt,
}

/// The smallest address occurring twice in `addrs`, if any. Sorting a copy is several
/// times faster than a `BTreeSet` for the 10,000-candidate lists a benchmark feeds in.
pub(crate) fn duplicate_address(addrs: impl Iterator<Item = Address>) -> Option<Address> {
    let mut v: Vec<Address> = addrs.collect();
    v.sort_unstable();
    v.windows(2).find_map(|w| match w {
        [a, b] if a == b => Some(*a),
        _ => None,
    })
}

/// What the chain shows of one candidate over the RPT window (`spec.rpt_window` blocks) and
/// the punishment window (`spec.impeach_punish_window` blocks). The host extracts these from
/// its chain; this module only ranks them, so every node computes the same RPT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Observation {
    /// The candidate.
    pub address: Address,
    /// Balance at the window's end, base units. Ranked in whole CPC as on mainnet, so that
    /// dust does not break ties.
    pub balance: u128,
    /// Transactions sent in the window (mainnet: nonce difference).
    pub transactions: u64,
    /// Blocks proposed in the window: blockchain maintenance (BM).
    pub proposed_blocks: u64,
    /// Data items uploaded in the window (DC base).
    pub data_uploaded: u64,
    /// Uploaded items bought in the window: the paper's "extra reward" when data is
    /// purchased. Each counts once more on top of its upload.
    pub data_bought: u64,
    /// Trades assisted as a proxy in the window (PR).
    pub proxy_assists: u64,
    /// Impeach blocks at this candidate's slots in the punishment window.
    pub impeached_blocks: u64,
}

impl Observation {
    /// The data-contribution value ranked for DC: uploads plus a bonus of one per purchase.
    pub fn data_contribution(&self) -> u64 {
        self.data_uploaded.saturating_add(self.data_bought)
    }

    /// The balance value ranked for AB: whole CPC, rounded down.
    pub fn balance_cpc(&self) -> u128 {
        self.balance / BASE_UNITS_PER_CPC
    }
}

/// The five rank scores of one candidate, each 0..=100, kept for audit and display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DimensionScores {
    /// Account balance (AB).
    pub balance: u8,
    /// Transactions (TX).
    pub transactions: u8,
    /// Proxy reputation (PR).
    pub proxy: u8,
    /// Data contribution (DC).
    pub data: u8,
    /// Blockchain maintenance (BM).
    pub maintenance: u8,
}

/// One candidate's RPT with how it was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RptRecord {
    /// The candidate.
    pub address: Address,
    /// The rank scores.
    pub scores: DimensionScores,
    /// RPT after floor and punishment: what the election uses.
    pub rpt: Rpt,
}

impl RptRecord {
    /// The record as an election candidate: the step from RPT to the election.
    pub fn candidate(&self) -> Candidate {
        Candidate {
            address: self.address,
            rpt: self.rpt,
        }
    }
}

/// Heights whose activity the RPT at `at` observes: the last `spec.rpt_window` blocks up to
/// and including `at` (fewer near genesis). The host fills [`Observation`]s from these.
pub fn rpt_window(spec: &ChainSpec, at: Height) -> RangeInclusive<Height> {
    window(at, spec.rpt_window)
}

/// Heights whose impeach blocks count against a proposer at `at`: the last
/// `spec.impeach_punish_window` blocks up to and including `at`.
pub fn punish_window(spec: &ChainSpec, at: Height) -> RangeInclusive<Height> {
    window(at, spec.impeach_punish_window)
}

fn window(at: Height, len: u64) -> RangeInclusive<Height> {
    let first = at.get().saturating_sub(len.saturating_sub(1)).max(1);
    Height(first)..=at
}

/// Rank scores of `values` in input order: ⌊(len − idx) · 100 / len⌋ with `idx` the number
/// of values strictly greater (ties share the best rank). O(n log n).
///
/// ```
/// use cpchain_consensus::dpor::rank_scores;
/// assert_eq!(rank_scores(&[5u64, 9, 5, 1]), vec![75, 100, 75, 25]);
/// ```
pub fn rank_scores<T: Ord + Copy>(values: &[T]) -> Vec<u8> {
    let len = values.len();
    // One sort of (value, position), descending by value; a run of equal values shares the
    // position where it starts. O(n log n), no per-value search.
    let mut order: Vec<(T, usize)> = values.iter().copied().zip(0..).collect();
    order.sort_unstable_by_key(|p| core::cmp::Reverse(p.0));
    let mut out = alloc::vec![0u8; len];
    let mut run: Option<(T, u8)> = None;
    for (pos, (v, i)) in order.iter().enumerate() {
        let score = match run {
            Some((prev, score)) if prev == *v => score,
            _ => {
                let score = score_at(pos, len);
                run = Some((*v, score));
                score
            }
        };
        if let Some(slot) = out.get_mut(*i) {
            *slot = score;
        }
    }
    out
}

/// ⌊(len − idx) · 100 / len⌋; 0 for an empty list. u64 covers any slice length that fits
/// in memory; the u128 fallback only keeps the function total.
fn score_at(idx: usize, len: usize) -> u8 {
    let len = len as u64;
    let idx = (idx as u64).min(len);
    let score = match (len - idx).checked_mul(100) {
        Some(p) => p.checked_div(len).unwrap_or(0),
        None => u64::try_from(u128::from(len - idx) * 100 / u128::from(len)).unwrap_or(100),
    };
    u8::try_from(score).unwrap_or(100)
}

/// Weighted sum of the five scores: 0..=10,000 for weights summing to 100. Exact.
pub fn weighted_sum(spec: &ChainSpec, s: &DimensionScores) -> Result<u32, RptError> {
    let w = &spec.rpt_weights;
    if w.sum() != 100 {
        return Err(RptError::Weights);
    }
    let total = u64::from(w.balance) * u64::from(s.balance)
        + u64::from(w.transactions) * u64::from(s.transactions)
        + u64::from(w.proxy) * u64::from(s.proxy)
        + u64::from(w.data) * u64::from(s.data)
        + u64::from(w.maintenance) * u64::from(s.maintenance);
    // Scores are ≤ 100 and weights sum to 100, so the total is ≤ 10,000.
    Ok(u32::try_from(total).unwrap_or(RPT_MAX).min(RPT_MAX))
}

/// `rpt × (9 − k) / 9`, rounded down; 0 for `k ≥ 9` (§5.1.2 punishment as on mainnet since
/// block 1,244,472).
pub fn punish(rpt: u32, impeached: u64) -> u32 {
    let keep = IMPEACH_PUNISH_DIVISOR.saturating_sub(impeached);
    let v = u64::from(rpt) * keep / IMPEACH_PUNISH_DIVISOR;
    u32::try_from(v).unwrap_or(0)
}

/// RPT of every observed candidate, in input order.
///
/// Refuses duplicate addresses and more than `spec.max_candidates` observations: both would
/// make the ranks depend on how the host assembled the list rather than on the chain.
pub fn compute_rpt(spec: &ChainSpec, obs: &[Observation]) -> Result<Vec<RptRecord>, RptError> {
    if obs.len() > spec.max_candidates as usize {
        return Err(RptError::TooManyCandidates {
            count: obs.len(),
            max: spec.max_candidates,
        });
    }
    if let Some(dup) = duplicate_address(obs.iter().map(|o| o.address)) {
        return Err(RptError::DuplicateCandidate(dup));
    }
    if spec.rpt_weights.sum() != 100 {
        return Err(RptError::Weights);
    }
    let ab = rank_scores(&obs.iter().map(Observation::balance_cpc).collect::<Vec<_>>());
    let tx = rank_scores(&obs.iter().map(|o| o.transactions).collect::<Vec<_>>());
    let pr = rank_scores(&obs.iter().map(|o| o.proxy_assists).collect::<Vec<_>>());
    let dc = rank_scores(
        &obs.iter()
            .map(Observation::data_contribution)
            .collect::<Vec<_>>(),
    );
    let bm = rank_scores(&obs.iter().map(|o| o.proposed_blocks).collect::<Vec<_>>());
    let mut out = Vec::with_capacity(obs.len());
    for (i, o) in obs.iter().enumerate() {
        let scores = DimensionScores {
            balance: ab.get(i).copied().unwrap_or(0),
            transactions: tx.get(i).copied().unwrap_or(0),
            proxy: pr.get(i).copied().unwrap_or(0),
            data: dc.get(i).copied().unwrap_or(0),
            maintenance: bm.get(i).copied().unwrap_or(0),
        };
        let raw = weighted_sum(spec, &scores)?;
        let rpt = punish(raw.max(RPT_FLOOR), o.impeached_blocks);
        out.push(RptRecord {
            address: o.address,
            scores,
            rpt: Rpt(rpt),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn dpor_rank_scores_share_the_best_rank_on_ties() {
        // Sorted descending: 9, 5, 5, 1 → idx 0, 1, 1, 3 of 4.
        assert_eq!(rank_scores(&[5u64, 9, 5, 1]), vec![75, 100, 75, 25]);
        // All equal: everyone is first.
        assert_eq!(rank_scores(&[7u64, 7, 7]), vec![100, 100, 100]);
        // ⌊(3 − 2)·100/3⌋ = 33, ⌊(3 − 1)·100/3⌋ = 66.
        assert_eq!(rank_scores(&[1u64, 2, 3]), vec![33, 66, 100]);
        assert!(rank_scores::<u64>(&[]).is_empty());
    }

    #[test]
    fn dpor_windows_end_at_the_checkpoint() {
        let spec = ChainSpec::mainnet();
        assert_eq!(
            rpt_window(&spec, Height(1_000)),
            Height(901)..=Height(1_000)
        );
        assert_eq!(rpt_window(&spec, Height(36)), Height(1)..=Height(36));
        assert_eq!(
            punish_window(&spec, Height(20_000)),
            Height(10_001)..=Height(20_000)
        );
    }

    #[test]
    fn dpor_punishment_is_k_ninths_rounded_down() {
        assert_eq!(punish(9_000, 0), 9_000);
        assert_eq!(punish(9_000, 1), 8_000);
        assert_eq!(punish(1_000, 1), 888); // 888.8 rounded down
        assert_eq!(punish(10_000, 8), 1_111);
        assert_eq!(punish(10_000, 9), 0);
        assert_eq!(punish(10_000, u64::MAX), 0);
    }

    #[test]
    fn dpor_weighted_sum_is_the_paper_formula() {
        let spec = ChainSpec::mainnet();
        let s = DimensionScores {
            balance: 100,
            transactions: 60,
            proxy: 40,
            data: 20,
            maintenance: 80,
        };
        // 0.5·100 + 0.15·60 + 0.1·40 + 0.15·20 + 0.1·80 = 74 paper points = 7,400 units.
        assert_eq!(weighted_sum(&spec, &s), Ok(7_400));
    }
}
