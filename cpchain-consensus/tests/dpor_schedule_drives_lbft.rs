//! `dpor::Schedule` is the LBFT engine's proposer schedule (§2.4.1 feeding §2.4.2): a
//! validator built on it lets exactly the elected proposer of a height propose, across the
//! term boundary where the elected committee takes over from the default proposers.

use cpchain_consensus::dpor::{Candidate, Rpt, Schedule, DEFAULT_SCHEDULE_CAPACITY};
use cpchain_consensus::lbft::{
    Config, Header, ProposeError, ProposerSchedule, Validator, ValidatorSet,
};
use cpchain_core::{Address, ChainSpec, Hash, Height, Term, Timestamp};
use cpchain_crypto::SecretKey;

fn keys() -> Vec<SecretKey> {
    let mut keys: Vec<SecretKey> = (1..=4u8)
        .map(|i| SecretKey::from_bytes(&[0x30 + i; 32]).unwrap())
        .collect();
    keys.sort_by_key(|k| k.public_key().address());
    keys
}

/// A header at `height` of the devnet chain: the parent a validator starts from.
fn parent_at(spec: &ChainSpec, height: u64) -> Header {
    let mut h = Header::genesis(spec, Timestamp(1_000_000));
    h.height = Height(height);
    h.parent = Hash([7; 32]);
    h
}

fn validator(
    spec: &ChainSpec,
    key: &SecretKey,
    set: &ValidatorSet,
    s: &Schedule,
    parent: &Header,
) -> Validator<Schedule> {
    let cfg = Config::new(spec.clone(), set.clone(), key.clone());
    Validator::new(cfg, s.clone(), parent.clone(), Timestamp(1_000_000)).unwrap()
}

/// Whoever the schedule names for `height` may propose there; every other validator is
/// refused with `NotScheduled`. Returns the proposer.
fn only_the_scheduled_proposer_proposes(
    spec: &ChainSpec,
    keys: &[SecretKey],
    set: &ValidatorSet,
    s: &Schedule,
    height: u64,
) -> Option<Address> {
    let parent = parent_at(spec, height - 1);
    let now = Timestamp(1_000_000).saturating_add(spec.block_period);
    let expected = ProposerSchedule::proposer_of(s, Height(height));
    for k in keys {
        let mut v = validator(spec, k, set, s, &parent);
        let r = v.propose(now, vec![vec![1, 2, 3]]);
        if Some(k.public_key().address()) == expected {
            assert!(
                r.is_ok(),
                "the scheduled proposer of {height} was refused: {r:?}"
            );
        } else {
            assert_eq!(r, Err(ProposeError::NotScheduled), "height {height}");
        }
    }
    expected
}

#[test]
fn elected_committee_proposes_after_the_term_boundary() {
    let spec = ChainSpec::devnet();
    let keys = keys();
    let set = ValidatorSet::new(&keys.iter().map(|k| k.public_key()).collect::<Vec<_>>()).unwrap();
    let addrs: Vec<Address> = keys.iter().map(|k| k.public_key().address()).collect();
    let mut s = Schedule::new(&spec, &addrs, DEFAULT_SCHEDULE_CAPACITY).unwrap();
    let term_blocks = spec.term_blocks();
    let first_elected = s
        .clock()
        .first_height(Term(spec.election_lead_terms + 1))
        .get();

    // Before any election: the last height of the default terms has its default proposer,
    // the first height of the first electable term has none (only an impeach block).
    let last_default = first_elected - 1;
    let p = only_the_scheduled_proposer_proposes(&spec, &keys, &set, &s, last_default);
    assert_eq!(
        p,
        s.default_committee(s.term_of(Height(last_default)))
            .at(s.clock().slot_of(Height(last_default)).unwrap())
    );
    assert!(p.is_some());
    assert_eq!(
        only_the_scheduled_proposer_proposes(&spec, &keys, &set, &s, first_elected),
        None
    );

    // The election at the first checkpoint installs the committee of that term.
    let candidates: Vec<Candidate> = addrs
        .iter()
        .enumerate()
        .map(|(i, a)| Candidate {
            address: *a,
            rpt: Rpt(1_000 * (i as u32 + 1)),
        })
        .collect();
    let term = s
        .elect_at(Height(term_blocks), &Hash([0x5e; 32]), &candidates)
        .unwrap();
    assert_eq!(s.clock().first_height(term).get(), first_elected);
    let committee = s.committee_of(term).unwrap();
    // Every slot of the first view: the elected member proposes, nobody else.
    for slot in 0..u64::from(spec.proposers_per_term) {
        let h = first_elected + slot;
        let p = only_the_scheduled_proposer_proposes(&spec, &keys, &set, &s, h);
        assert_eq!(p, committee.at(slot as usize));
        assert_eq!(p, s.proposer_of(Height(h)));
    }
}
