//! Proposer committee election at a term checkpoint (white paper §2.3, §2.4.1; mainnet
//! `consensus/dpor/election`).
//!
//! # The procedure, step by step
//! 1. **Seed.** `keccak256(checkpoint block hash ‖ served term as 8 bytes big-endian)` seeds
//!    a ChaCha20 stream (`rand_chacha::ChaCha20Rng::from_seed`). ChaCha20 is specified and
//!    portable, so every node on every platform draws the same numbers; mainnet used Go's
//!    `math/rand` seeded with the hash's low 64 bits, which only Go reproduces.
//! 2. **Order.** Candidates are sorted ascending by `(RPT, address)`: a total order, so the
//!    host's list order never matters.
//! 3. **Partitions.** The lowest ⌊n/2⌋ form the low partition, the rest the high one.
//!    `low_rpt_seats` are drawn from the low partition, `elected_seats − low_rpt_seats` from
//!    the high one, so every committee includes some newcomers (mainnet: 2 of 8).
//! 4. **Draws.** Inside a partition, weighted sampling without replacement proportional to
//!    RPT: draw `r` uniform in `[0, Σ RPT)` by rejection sampling on `next_u64` (unbiased),
//!    take the first candidate whose cumulative RPT exceeds `r`, remove it, repeat. The low
//!    partition is drawn first, then the high one, from the same stream.
//! 5. **Default proposers** fill every seat the election left open, at evenly spread
//!    positions ⌊j · seats / defaults⌋ (mainnet: one in each group of three). They are taken
//!    from the default-proposer list starting at a term-dependent offset, skipping any that
//!    the election already seated.
//!
//! # Degenerate inputs (documented behaviour, never a panic)
//! * Fewer candidates in a partition than its seats: all of them are seated; the open seats
//!   go to default proposers.
//! * RPT 0 (a candidate punished for 9 or more impeachments): weight 0, never drawn. If a
//!   partition's RPT sums to 0 its seats go to default proposers.
//! * Duplicates, more than `max_candidates`, or too few distinct default proposers: typed
//!   [`ElectionError`]s.
//!
//! # Deviation from mainnet
//! Mainnet's padding could seat one default proposer twice (reported by users; see the
//! tests). Here a default proposer is seated at most once and never beside itself as an
//! elected candidate: the committee's members are always distinct.

use super::error::ElectionError;
use super::rpt::{duplicate_address, Candidate};
use alloc::vec::Vec;
use cpchain_core::{keccak256_concat, Address, ChainSpec, Hash, Term};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};

/// How a committee seat was filled; kept so audits and tests can check partition counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SeatKind {
    /// Drawn from the low-RPT partition.
    Low,
    /// Drawn from the high-RPT partition.
    High,
    /// A default proposer filling an open seat.
    Default,
}

/// One seat of a committee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Seat {
    /// Who proposes in this slot.
    pub address: Address,
    /// How the seat was filled.
    pub kind: SeatKind,
}

/// The proposer committee of one term: `proposers_per_term` distinct seats in slot order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Committee {
    seats: Vec<Seat>,
}

impl Committee {
    /// A committee from seats; the schedule checks size and distinctness when installing.
    pub fn from_seats(seats: Vec<Seat>) -> Self {
        Committee { seats }
    }

    /// A committee of default proposers only, as used before the first election.
    pub fn of_defaults(members: &[Address]) -> Self {
        Committee {
            seats: members
                .iter()
                .map(|a| Seat {
                    address: *a,
                    kind: SeatKind::Default,
                })
                .collect(),
        }
    }

    /// The seats in slot order.
    pub fn seats(&self) -> &[Seat] {
        &self.seats
    }

    /// The proposer addresses in slot order.
    pub fn members(&self) -> impl Iterator<Item = Address> + '_ {
        self.seats.iter().map(|s| s.address)
    }

    /// Number of seats.
    pub fn len(&self) -> usize {
        self.seats.len()
    }

    /// Whether the committee has no seats (only a hand-built one can).
    pub fn is_empty(&self) -> bool {
        self.seats.is_empty()
    }

    /// Whether `who` sits in the committee.
    pub fn contains(&self, who: &Address) -> bool {
        self.seats.iter().any(|s| &s.address == who)
    }

    /// The proposer of slot `slot`, if the committee has one.
    pub fn at(&self, slot: usize) -> Option<Address> {
        self.seats.get(slot).map(|s| s.address)
    }

    /// Seats filled with `kind`.
    pub fn count(&self, kind: SeatKind) -> usize {
        self.seats.iter().filter(|s| s.kind == kind).count()
    }

    /// An address seated twice, if any: the mainnet padding bug this SDK avoids.
    pub fn first_duplicate(&self) -> Option<Address> {
        duplicate_address(self.members())
    }
}

/// The election seed of §2.4.1 ("a random seed"): `keccak256(hash ‖ term BE)`. Binding the
/// served term makes two terms' draws independent even over one checkpoint hash.
pub fn election_seed(checkpoint_hash: &Hash, term: Term) -> Hash {
    keccak256_concat(&[checkpoint_hash.as_bytes(), &term.get().to_be_bytes()])
}

/// Elect the committee serving `term` from `candidates`, seeded by the checkpoint hash.
///
/// `default_proposers` fill the seats the election leaves open; the result always has
/// `spec.proposers_per_term` distinct members. Same inputs (in any candidate order) give the
/// same committee.
pub fn elect(
    spec: &ChainSpec,
    checkpoint_hash: &Hash,
    term: Term,
    candidates: &[Candidate],
    default_proposers: &[Address],
) -> Result<Committee, ElectionError> {
    let seats = spec.proposers_per_term as usize;
    let elected_seats = spec.elected_seats as usize;
    let low_seats = spec.low_rpt_seats as usize;
    if elected_seats > seats || low_seats > elected_seats {
        return Err(ElectionError::Seats);
    }
    if candidates.len() > spec.max_candidates as usize {
        return Err(ElectionError::TooManyCandidates {
            count: candidates.len(),
            max: spec.max_candidates,
        });
    }
    if let Some(dup) = duplicate_address(candidates.iter().map(|c| c.address)) {
        return Err(ElectionError::DuplicateCandidate(dup));
    }
    if let Some(dup) = duplicate_address(default_proposers.iter().copied()) {
        return Err(ElectionError::DuplicateDefaultProposer(dup));
    }

    // Step 2: a total order independent of the host's list order.
    let mut sorted: Vec<Candidate> = candidates.to_vec();
    sorted.sort_unstable_by_key(|c| (c.rpt, c.address));
    // Step 3: the lowest ⌊n/2⌋ are the low partition.
    let (low, high) = sorted.split_at(sorted.len() / 2);

    // Step 1 and 4.
    let seed = election_seed(checkpoint_hash, term);
    let mut rng = ChaCha20Rng::from_seed(seed.0);
    let mut elected: Vec<Seat> = Vec::with_capacity(elected_seats);
    for c in weighted_sample(low, low_seats, &mut rng) {
        elected.push(Seat {
            address: c,
            kind: SeatKind::Low,
        });
    }
    let high_seats = elected_seats.saturating_sub(low_seats);
    for c in weighted_sample(high, high_seats, &mut rng) {
        elected.push(Seat {
            address: c,
            kind: SeatKind::High,
        });
    }

    // Step 5: default proposers for the open seats, never one already seated.
    let open = seats.saturating_sub(elected.len());
    let defaults = pick_defaults(default_proposers, &elected, open, term)?;
    Ok(Committee {
        seats: interleave(elected, defaults, seats),
    })
}

/// `open` distinct default proposers not among `elected`, starting at offset
/// `term × open mod len` so consecutive terms use different default proposers when there
/// are more of them than open seats.
fn pick_defaults(
    defaults: &[Address],
    elected: &[Seat],
    open: usize,
    term: Term,
) -> Result<Vec<Address>, ElectionError> {
    let available: Vec<Address> = defaults
        .iter()
        .filter(|d| !elected.iter().any(|s| &s.address == *d))
        .copied()
        .collect();
    if available.len() < open {
        return Err(ElectionError::NotEnoughDefaultProposers {
            needed: open,
            available: available.len(),
        });
    }
    if open == 0 {
        return Ok(Vec::new());
    }
    let len = available.len() as u128;
    let start = (u128::from(term.get()) * open as u128 % len) as usize;
    Ok(available
        .iter()
        .cycle()
        .skip(start)
        .take(open)
        .copied()
        .collect())
}

/// Place `defaults` at positions ⌊j · seats / d⌋ and the elected seats, in draw order, in
/// the remaining positions.
fn interleave(elected: Vec<Seat>, defaults: Vec<Address>, seats: usize) -> Vec<Seat> {
    let d = defaults.len();
    let mut out = Vec::with_capacity(seats);
    let mut elected = elected.into_iter();
    let mut defaults = defaults.into_iter();
    let mut next_default = 0usize; // index j of the next default proposer to place
    for pos in 0..seats {
        let default_pos = (next_default as u128 * seats as u128)
            .checked_div(d as u128)
            .map(|p| p as usize);
        let seat = if next_default < d && default_pos == Some(pos) {
            next_default += 1;
            defaults.next().map(|address| Seat {
                address,
                kind: SeatKind::Default,
            })
        } else {
            elected.next()
        };
        // Only reachable if the counts disagree, which `elect` rules out; skip rather than
        // panic.
        if let Some(s) = seat {
            out.push(s);
        }
    }
    out
}

/// Draw `k` distinct candidates from `pool` with probability proportional to RPT, without
/// replacement. Zero-RPT candidates are never drawn; fewer than `k` positive candidates
/// means all of them are returned (in draw order).
fn weighted_sample(pool: &[Candidate], k: usize, rng: &mut ChaCha20Rng) -> Vec<Address> {
    let mut remaining: Vec<Candidate> = pool.iter().filter(|c| c.rpt.0 > 0).copied().collect();
    let mut out = Vec::with_capacity(k.min(remaining.len()));
    // RPT ≤ u32::MAX and at most usize candidates: the sum fits in u64 for any real list
    // and saturates (never wraps) for absurd ones.
    let mut total: u64 = remaining
        .iter()
        .fold(0u64, |acc, c| acc.saturating_add(u64::from(c.rpt.0)));
    while out.len() < k && total > 0 {
        let r = uniform_below(rng, total);
        let mut acc = 0u64;
        let mut chosen = None;
        for (i, c) in remaining.iter().enumerate() {
            acc = acc.saturating_add(u64::from(c.rpt.0));
            if r < acc {
                chosen = Some(i);
                break;
            }
        }
        // `r < total = acc at the end`, so a candidate is always found; if saturation made
        // the sums disagree, take the last one rather than loop.
        let i = chosen.unwrap_or(remaining.len().saturating_sub(1));
        if i >= remaining.len() {
            break;
        }
        let c = remaining.remove(i);
        total = total.saturating_sub(u64::from(c.rpt.0));
        out.push(c.address);
    }
    out
}

/// Uniform in `[0, bound)` by rejection: accept `x < bound · ⌊2⁶⁴ / bound⌋` and return
/// `x mod bound`. Each try is accepted with probability > 1/2, so the expected number of
/// draws is below 2. `bound` must be positive; 0 returns 0.
fn uniform_below(rng: &mut ChaCha20Rng, bound: u64) -> u64 {
    if bound == 0 {
        return 0;
    }
    // Largest multiple of `bound` that fits in 2⁶⁴: values at or above it would bias.
    let zone = u64::MAX - (u64::MAX % bound + 1) % bound;
    loop {
        let x = rng.next_u64();
        if x <= zone {
            return x % bound;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpor::rpt::Rpt;

    fn addr(i: u32) -> Address {
        let mut a = [0u8; 20];
        a[16..].copy_from_slice(&i.to_be_bytes());
        Address(a)
    }

    #[test]
    fn dpor_election_prng_is_the_published_chacha20() {
        // The election is portable only if its stream is ChaCha20 as published: with an
        // all-zero key and nonce the keystream starts 76 b8 e0 ad a0 f1 3d 90 (Bernstein's
        // test vector, also RFC 7539 A.1 #1), read as a little-endian u64.
        let mut rng = ChaCha20Rng::from_seed([0; 32]);
        assert_eq!(
            rng.next_u64().to_le_bytes(),
            [0x76, 0xb8, 0xe0, 0xad, 0xa0, 0xf1, 0x3d, 0x90]
        );
    }

    #[test]
    fn dpor_uniform_below_stays_in_range() {
        let mut rng = ChaCha20Rng::from_seed([7; 32]);
        for bound in [1u64, 2, 3, 10, 1 << 63, u64::MAX] {
            for _ in 0..100 {
                assert!(uniform_below(&mut rng, bound) < bound);
            }
        }
        assert_eq!(uniform_below(&mut rng, 0), 0);
    }

    #[test]
    fn dpor_interleave_spreads_defaults_evenly() {
        let elected: Vec<Seat> = (0..8)
            .map(|i| Seat {
                address: addr(i),
                kind: SeatKind::High,
            })
            .collect();
        let defaults: Vec<Address> = (100..104).map(addr).collect();
        let c = interleave(elected, defaults, 12);
        let kinds: Vec<_> = c.iter().map(|s| s.kind == SeatKind::Default).collect();
        // Positions 0, 3, 6, 9: one default proposer in each group of three.
        for (i, is_default) in kinds.iter().enumerate() {
            assert_eq!(*is_default, i % 3 == 0, "seat {i}");
        }
    }

    #[test]
    fn dpor_weighted_sample_skips_zero_rpt() {
        let pool = [
            Candidate {
                address: addr(1),
                rpt: Rpt(0),
            },
            Candidate {
                address: addr(2),
                rpt: Rpt(5),
            },
        ];
        let mut rng = ChaCha20Rng::from_seed([1; 32]);
        assert_eq!(weighted_sample(&pool, 2, &mut rng), alloc::vec![addr(2)]);
    }
}
