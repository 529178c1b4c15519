//! The proposer schedule the LBFT engine consumes (white paper §2.4.1; mainnet
//! `proposer_of`): term arithmetic, default proposers before the first election, elected
//! committees serving `election_lead_terms + 1` terms after their checkpoint.

use cpchain_consensus::dpor::{
    elect, Candidate, Committee, Rpt, Schedule, ScheduleError, Seat, SeatKind,
    DEFAULT_SCHEDULE_CAPACITY,
};
use cpchain_core::{keccak256, Address, ChainSpec, Height, Term};
use proptest::prelude::*;

fn addr(tag: u8, i: u32) -> Address {
    let mut a = [0u8; 20];
    a[0] = tag;
    a[16..].copy_from_slice(&i.to_be_bytes());
    Address(a)
}

fn defaults() -> Vec<Address> {
    (0..12).map(|i| addr(0xd0, i)).collect()
}

fn candidates(n: u32) -> Vec<Candidate> {
    (0..n)
        .map(|i| Candidate {
            address: addr(0xc0, i),
            rpt: Rpt(1_000 + i * 100),
        })
        .collect()
}

fn schedule() -> Schedule {
    Schedule::new(
        &ChainSpec::mainnet(),
        &defaults(),
        DEFAULT_SCHEDULE_CAPACITY,
    )
    .unwrap()
}

#[test]
fn dpor_schedule_default_proposers_before_the_first_election() {
    let s = schedule();
    assert_eq!(s.proposer_of(Height(0)), None, "genesis has no proposer");
    // Heights 1..=180 (mainnet default_proposers_until) rotate through the defaults, each
    // proposing once per view: committee[((h − 1) mod 36) mod 12].
    for h in 1..=180u64 {
        let slot = ((h - 1) % 36 % 12) as usize;
        assert_eq!(
            s.proposer_of(Height(h)),
            Some(defaults()[slot]),
            "height {h}"
        );
        assert!(s.is_default_height(Height(h)));
    }
    // Term 5 starts at 181: no election has been installed, so nobody is known.
    assert_eq!(s.proposer_of(Height(181)), None);
}

#[test]
fn dpor_schedule_elected_committee_serves_lead_terms_ahead() {
    let spec = ChainSpec::mainnet();
    let mut s = schedule();
    let hash = keccak256(b"checkpoint 216");
    assert_eq!(
        s.elect_at(Height(215), &hash, &candidates(20)),
        Err(ScheduleError::NotCheckpoint(Height(215)))
    );
    // Checkpoint 216 ends term 5; with lead 2 it elects for term 8 (heights 289..=324).
    let term = s.elect_at(Height(216), &hash, &candidates(20)).unwrap();
    assert_eq!(term, Term(8));
    let want = elect(&spec, &hash, Term(8), &candidates(20), &defaults()).unwrap();
    assert_eq!(s.committee_of(Term(8)), Some(want.clone()));
    for h in 289..=324u64 {
        let slot = ((h - 1) % 36 % 12) as usize;
        assert_eq!(s.proposer_of(Height(h)), want.at(slot));
    }
    assert_eq!(s.proposer_of(Height(288)), None, "term 7 was never elected");
    assert_eq!(s.proposer_of(Height(325)), None, "term 9 not yet elected");
    // Electing again at the same checkpoint is idempotent.
    assert_eq!(s.elect_at(Height(216), &hash, &candidates(20)), Ok(Term(8)));
    // Another result for the same term is a conflict, and the schedule is unchanged.
    assert_eq!(
        s.elect_at(Height(216), &keccak256(b"fork"), &candidates(20)),
        Err(ScheduleError::Conflict(Term(8)))
    );
    assert_eq!(s.committee_of(Term(8)), Some(want));
    assert!(s.is_elected(&s.proposer_of(Height(289)).unwrap(), Term(8)));
}

#[test]
fn dpor_schedule_devnet_terms_before_any_election_use_defaults() {
    // Devnet: 4 proposers × 3 views, defaults until 12. Terms 1 and 2 cannot be elected
    // (the first checkpoint, 12, elects term 3), so they fall back to default proposers.
    let spec = ChainSpec::devnet();
    let dp: Vec<Address> = (0..4).map(|i| addr(0xd0, i)).collect();
    let mut s = Schedule::new(&spec, &dp, 8).unwrap();
    for h in 13..=36u64 {
        assert!(s.proposer_of(Height(h)).is_some(), "height {h}");
    }
    assert_eq!(s.proposer_of(Height(37)), None);
    assert_eq!(s.elect_at(Height(12), &keccak256(b"x"), &[]), Ok(Term(3)));
    assert!(s.proposer_of(Height(37)).is_some());
}

#[test]
fn dpor_schedule_refuses_bad_committees_and_bounds_its_memory() {
    let mut s = Schedule::new(&ChainSpec::mainnet(), &defaults(), 2).unwrap();
    let short = Committee::of_defaults(&defaults()[..11]);
    assert_eq!(
        s.install(Term(9), short),
        Err(ScheduleError::CommitteeSize(11))
    );
    let mut twice = defaults();
    twice[5] = twice[4];
    assert_eq!(
        s.install(Term(9), Committee::of_defaults(&twice)),
        Err(ScheduleError::DuplicateMember(twice[4]))
    );
    let c = Committee::from_seats(
        defaults()
            .into_iter()
            .map(|address| Seat {
                address,
                kind: SeatKind::Default,
            })
            .collect(),
    );
    s.install(Term(9), c.clone()).unwrap();
    s.install(Term(10), c.clone()).unwrap();
    assert_eq!(s.install(Term(11), c.clone()), Err(ScheduleError::Full(2)));
    assert_eq!(s.prune_before(Term(10)), 1);
    s.install(Term(11), c).unwrap();
    assert_eq!(
        s.installed_terms().collect::<Vec<_>>(),
        vec![Term(10), Term(11)]
    );
    // Too few or duplicate default proposers are refused up front.
    assert_eq!(
        Schedule::new(&ChainSpec::mainnet(), &defaults()[..11], 4).err(),
        Some(ScheduleError::CommitteeSize(11))
    );
}

proptest! {
    #[test]
    fn dpor_schedule_every_member_proposes_once_per_view(term in 10u64..1_000_000, seed in any::<[u8; 32]>()) {
        let spec = ChainSpec::mainnet();
        let mut s = schedule();
        // Checkpoint (term − 2)·36 ends term − 3 and elects term (lead 2).
        let checkpoint = Height((term - 2) * 36);
        let hash = cpchain_core::Hash(seed);
        prop_assert_eq!(s.elect_at(checkpoint, &hash, &candidates(30)), Ok(Term(term)));
        let first = s.clock().first_height(Term(term)).get();
        let mut counts = std::collections::BTreeMap::new();
        for h in first..first + spec.term_blocks() {
            prop_assert_eq!(s.term_of(Height(h)), Term(term));
            *counts.entry(s.proposer_of(Height(h)).unwrap()).or_insert(0u32) += 1;
        }
        prop_assert_eq!(counts.len(), 12);
        prop_assert!(counts.values().all(|c| *c == spec.view_len));
        prop_assert!(s.is_checkpoint(Height(first + spec.term_blocks() - 1)));
    }
}
