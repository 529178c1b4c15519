//! DPoR from arbitrary observations and candidate lists: RPT, election and the schedule
//! never panic; every success is a valid committee (right size, distinct members, elected
//! seats from positive-RPT candidates, padding from the default proposers), every failure a
//! typed error.
#![no_main]

use arbitrary::Arbitrary;
use cpchain_consensus::dpor::{
    compute_rpt, elect, CampaignRegistry, Candidate, Observation, Rpt, Schedule, SeatKind,
};
use cpchain_core::{Address, ChainSpec, Hash, Height, Term};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Obs {
    who: u8,
    balance: u128,
    transactions: u64,
    proposed_blocks: u64,
    data_uploaded: u64,
    data_bought: u64,
    proxy_assists: u64,
    impeached_blocks: u64,
}

#[derive(Debug, Arbitrary)]
struct Input {
    proposers: u8,
    elected: u8,
    low: u8,
    max_candidates: u8,
    lead: u8,
    defaults: Vec<u8>,
    observations: Vec<Obs>,
    direct: Vec<(u8, u32)>,
    hash: [u8; 32],
    term: u64,
    heights: Vec<u64>,
    campaigns: Vec<(u8, u64, u32)>,
}

fn addr(tag: u8, i: u8) -> Address {
    let mut a = [0u8; 20];
    a[0] = tag;
    a[19] = i;
    Address(a)
}

fn check(spec: &ChainSpec, cands: &[Candidate], defaults: &[Address], hash: &Hash, term: Term) {
    let Ok(c) = elect(spec, hash, term, cands, defaults) else {
        return;
    };
    assert_eq!(c.len(), spec.proposers_per_term as usize);
    assert_eq!(c.first_duplicate(), None);
    assert!(c.count(SeatKind::Low) <= spec.low_rpt_seats as usize);
    assert!(c.count(SeatKind::Low) + c.count(SeatKind::High) <= spec.elected_seats as usize);
    for seat in c.seats() {
        match seat.kind {
            SeatKind::Default => assert!(defaults.contains(&seat.address)),
            _ => {
                let cand = cands.iter().find(|x| x.address == seat.address).unwrap();
                assert!(cand.rpt.0 > 0);
            }
        }
    }
}

fuzz_target!(|input: Input| {
    let mut spec = ChainSpec::mainnet();
    spec.proposers_per_term = u32::from(input.proposers % 16);
    spec.elected_seats = u32::from(input.elected % 17);
    spec.low_rpt_seats = u32::from(input.low % 17);
    spec.max_candidates = u32::from(input.max_candidates);
    spec.election_lead_terms = u64::from(input.lead % 4);
    let defaults: Vec<Address> = input
        .defaults
        .iter()
        .take(40)
        .map(|i| addr(0xd0, *i))
        .collect();
    let hash = Hash(input.hash);
    let term = Term(input.term);

    // Observations → RPT → election.
    let obs: Vec<Observation> = input
        .observations
        .iter()
        .take(300)
        .map(|o| Observation {
            address: addr(0xc0, o.who),
            balance: o.balance,
            transactions: o.transactions,
            proposed_blocks: o.proposed_blocks,
            data_uploaded: o.data_uploaded,
            data_bought: o.data_bought,
            proxy_assists: o.proxy_assists,
            impeached_blocks: o.impeached_blocks,
        })
        .collect();
    if let Ok(records) = compute_rpt(&spec, &obs) {
        assert_eq!(records.len(), obs.len());
        let cands: Vec<Candidate> = records
            .iter()
            .map(|r| Candidate {
                address: r.address,
                rpt: r.rpt,
            })
            .collect();
        check(&spec, &cands, &defaults, &hash, term);
    }

    // Arbitrary candidate lists, duplicates and default proposers included.
    let direct: Vec<Candidate> = input
        .direct
        .iter()
        .take(300)
        .map(|(i, r)| Candidate {
            address: if i % 5 == 0 {
                addr(0xd0, *i)
            } else {
                addr(0xc0, *i)
            },
            rpt: Rpt(*r),
        })
        .collect();
    check(&spec, &direct, &defaults, &hash, term);

    // The schedule answers any height without panicking.
    if let Ok(mut s) = Schedule::new(&spec, &defaults, 4) {
        for h in input.heights.iter().take(16) {
            let h = Height(*h);
            let _ = s.proposer_of(h);
            let _ = s.term_of(h);
            if let Ok(t) = s.elect_at(h, &hash, &direct) {
                assert!(s.committee_of(t).is_some());
            }
        }
    }

    // Campaign registrations keep every term within max_candidates, all or nothing.
    let mut reg = CampaignRegistry::new(&spec, 8);
    for (who, first, terms) in input.campaigns.iter().take(64) {
        let who = addr(0xc0, *who);
        let before: Vec<_> = (0..4)
            .map(|k| reg.candidates_for(Term(first.wrapping_add(k))))
            .collect();
        let r = reg.register(who, Term(*first), *terms);
        for k in 0..4u64 {
            let now = reg.candidates_for(Term(first.wrapping_add(k)));
            assert!(now.len() <= spec.max_candidates as usize);
            if r.is_err() {
                assert_eq!(now, before[k as usize]);
            }
        }
    }
});
