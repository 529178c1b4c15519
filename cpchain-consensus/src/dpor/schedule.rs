//! The proposer schedule: which address proposes each height (white paper §2.4.1; mainnet
//! `DporSnapshot`). This is what the LBFT engine consumes.
//!
//! # Heights, terms, checkpoints
//! Genesis (height 0) is term 0 and has no proposer. Height `h ≥ 1` is in term
//! `(h − 1) / term_blocks` and is sealed by `committee[((h − 1) mod term_blocks) mod
//! proposers_per_term]`, so each member proposes once per view, `view_len` times a term
//! (mainnet: 12 proposers × 3 views = 36 blocks). A **checkpoint** is the last block of a
//! term (`h mod term_blocks = 0`, `h > 0`); its hash seeds the election of the committee
//! serving term `term_of(h) + election_lead_terms + 1` (mainnet's `FutureTermOf`, lead 2).
//!
//! # Which committee
//! * Heights up to `default_proposers_until`, and terms no checkpoint can have elected for
//!   (`term ≤ election_lead_terms`), are sealed by default proposers.
//! * Otherwise the committee installed for the term; [`Schedule::proposer_of`] returns
//!   `None` if none is installed, because guessing would let two nodes disagree silently.
//!
//! # As the LBFT engine's schedule
//! [`Schedule`] implements [`ProposerSchedule`], so a validator or a light verifier takes
//! it as is (`lbft::Validator<dpor::Schedule>`); the host installs each elected committee
//! through `Validator::schedule_mut` before the term it serves begins.
//!
//! # Bounds
//! At most `capacity` terms are held; [`Schedule::install`] refuses beyond that
//! ([`ScheduleError::Full`]) and the host prunes served terms with
//! [`Schedule::prune_before`].

use super::election::{elect, Committee};
use super::error::ScheduleError;
use super::rpt::{duplicate_address, Candidate};
use crate::lbft::ProposerSchedule;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use cpchain_core::{Address, ChainSpec, Hash, Height, Term};

/// Default number of terms a [`Schedule`] holds: the lead window plus ample history.
pub const DEFAULT_SCHEDULE_CAPACITY: usize = 64;

/// Term arithmetic of a chain spec, without any committee: cheap to copy into other
/// machines that need only `term_of` and checkpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TermClock {
    term_blocks: u64,
    proposers: u64,
    lead: u64,
}

impl TermClock {
    /// The clock of `spec`; refuses a spec whose term or committee length is zero.
    pub fn new(spec: &ChainSpec) -> Result<Self, ScheduleError> {
        let term_blocks = spec.term_blocks();
        if term_blocks == 0 || spec.proposers_per_term == 0 {
            return Err(ScheduleError::Spec);
        }
        Ok(TermClock {
            term_blocks,
            proposers: u64::from(spec.proposers_per_term),
            lead: spec.election_lead_terms,
        })
    }

    /// The term `height` belongs to (genesis is term 0).
    pub fn term_of(&self, height: Height) -> Term {
        Term(height.get().saturating_sub(1) / self.term_blocks)
    }

    /// Whether `height` is the last block of its term, where the next election happens.
    pub fn is_checkpoint(&self, height: Height) -> bool {
        height.get() > 0 && height.get().is_multiple_of(self.term_blocks)
    }

    /// The committee slot sealing `height`: `((h − 1) mod term_blocks) mod proposers`.
    pub fn slot_of(&self, height: Height) -> Option<usize> {
        let h = height.get().checked_sub(1)?;
        usize::try_from(h % self.term_blocks % self.proposers).ok()
    }

    /// The term a committee elected at `checkpoint` serves: `term + lead + 1`.
    pub fn served_term(&self, checkpoint: Height) -> Term {
        Term(
            self.term_of(checkpoint)
                .get()
                .saturating_add(self.lead)
                .saturating_add(1),
        )
    }

    /// First height of `term`.
    pub fn first_height(&self, term: Term) -> Height {
        Height(
            term.get()
                .saturating_mul(self.term_blocks)
                .saturating_add(1),
        )
    }

    /// Blocks in a term.
    pub fn term_blocks(&self) -> u64 {
        self.term_blocks
    }
}

/// Committees per term and the default proposers: answers "who proposes height h".
#[derive(Debug, Clone)]
pub struct Schedule {
    spec: ChainSpec,
    clock: TermClock,
    defaults: Vec<Address>,
    committees: BTreeMap<Term, Committee>,
    capacity: usize,
}

impl Schedule {
    /// A schedule for a valid `spec` (see [`ChainSpec::validate`]) with `default_proposers` (at least `proposers_per_term`
    /// distinct addresses, so a default-only committee and any election's padding can
    /// always be filled without seating anyone twice).
    pub fn new(
        spec: &ChainSpec,
        default_proposers: &[Address],
        capacity: usize,
    ) -> Result<Self, ScheduleError> {
        let clock = TermClock::new(spec)?;
        if spec.elected_seats > spec.proposers_per_term || spec.low_rpt_seats > spec.elected_seats {
            return Err(ScheduleError::Spec);
        }
        if let Some(dup) = duplicate_address(default_proposers.iter().copied()) {
            return Err(ScheduleError::DuplicateMember(dup));
        }
        if default_proposers.len() < spec.proposers_per_term as usize {
            return Err(ScheduleError::CommitteeSize(default_proposers.len()));
        }
        Ok(Schedule {
            spec: spec.clone(),
            clock,
            defaults: default_proposers.to_vec(),
            committees: BTreeMap::new(),
            capacity,
        })
    }

    /// The chain spec the schedule was made for (a host checks it against its validator's).
    pub fn spec(&self) -> &ChainSpec {
        &self.spec
    }

    /// The term arithmetic.
    pub fn clock(&self) -> &TermClock {
        &self.clock
    }

    /// The term `height` belongs to.
    pub fn term_of(&self, height: Height) -> Term {
        self.clock.term_of(height)
    }

    /// Whether `height` is a checkpoint (an election happens on it).
    pub fn is_checkpoint(&self, height: Height) -> bool {
        self.clock.is_checkpoint(height)
    }

    /// The default proposers, in configuration order.
    pub fn default_proposers(&self) -> &[Address] {
        &self.defaults
    }

    /// The default-only committee of `term`: `proposers_per_term` default proposers from a
    /// term-rotating offset, so a longer default list shares the load.
    pub fn default_committee(&self, term: Term) -> Committee {
        let n = self.spec.proposers_per_term as usize;
        let len = self.defaults.len() as u128;
        let start = (u128::from(term.get()) * n as u128)
            .checked_rem(len)
            .unwrap_or(0) as usize;
        let members: Vec<Address> = self
            .defaults
            .iter()
            .cycle()
            .skip(start)
            .take(n)
            .copied()
            .collect();
        Committee::of_defaults(&members)
    }

    /// Whether `height` is sealed by default proposers regardless of elections.
    pub fn is_default_height(&self, height: Height) -> bool {
        height <= self.spec.default_proposers_until
            || self.term_of(height).get() <= self.spec.election_lead_terms
    }

    /// The committee serving `term` if it is known: installed, or default-only for terms
    /// no election can reach. Heights up to `default_proposers_until` use defaults even in
    /// a term that has an elected committee; ask [`Schedule::proposer_of`] per height.
    pub fn committee_of(&self, term: Term) -> Option<Committee> {
        if let Some(c) = self.committees.get(&term) {
            return Some(c.clone());
        }
        if term.get() <= self.spec.election_lead_terms {
            return Some(self.default_committee(term));
        }
        None
    }

    /// The proposer of `height`, or `None` for genesis or a term with no committee yet.
    pub fn proposer_of(&self, height: Height) -> Option<Address> {
        let slot = self.clock.slot_of(height)?;
        let term = self.term_of(height);
        if height <= self.spec.default_proposers_until {
            return self.default_committee(term).at(slot);
        }
        match self.committees.get(&term) {
            Some(c) => c.at(slot),
            None if term.get() <= self.spec.election_lead_terms => {
                self.default_committee(term).at(slot)
            }
            None => None,
        }
    }

    /// Install the committee of `term`. Idempotent for the same committee; a different one
    /// for an installed term is a [`ScheduleError::Conflict`].
    pub fn install(&mut self, term: Term, committee: Committee) -> Result<(), ScheduleError> {
        if committee.len() != self.spec.proposers_per_term as usize {
            return Err(ScheduleError::CommitteeSize(committee.len()));
        }
        if let Some(dup) = committee.first_duplicate() {
            return Err(ScheduleError::DuplicateMember(dup));
        }
        match self.committees.get(&term) {
            Some(existing) if existing == &committee => return Ok(()),
            Some(_) => return Err(ScheduleError::Conflict(term)),
            None => {}
        }
        if self.committees.len() >= self.capacity {
            return Err(ScheduleError::Full(self.capacity));
        }
        self.committees.insert(term, committee);
        Ok(())
    }

    /// Run the election at `checkpoint` and install its committee for the served term.
    /// Returns the term elected for. State is unchanged on error.
    pub fn elect_at(
        &mut self,
        checkpoint: Height,
        checkpoint_hash: &Hash,
        candidates: &[Candidate],
    ) -> Result<Term, ScheduleError> {
        if !self.is_checkpoint(checkpoint) {
            return Err(ScheduleError::NotCheckpoint(checkpoint));
        }
        let term = self.clock.served_term(checkpoint);
        let committee = elect(
            &self.spec,
            checkpoint_hash,
            term,
            candidates,
            &self.defaults,
        )?;
        self.install(term, committee)?;
        Ok(term)
    }

    /// Forget committees of terms before `term` (already served); returns how many.
    pub fn prune_before(&mut self, term: Term) -> usize {
        let keep = self.committees.split_off(&term);
        let dropped = self.committees.len();
        self.committees = keep;
        dropped
    }

    /// Installed terms, ascending.
    pub fn installed_terms(&self) -> impl Iterator<Item = Term> + '_ {
        self.committees.keys().copied()
    }

    /// Whether `who` sits in the committee of `term`, which an RNode pool needs to refuse
    /// a withdrawal before the term ends.
    pub fn is_elected(&self, who: &Address, term: Term) -> bool {
        self.committees.get(&term).is_some_and(|c| c.contains(who))
    }
}

/// The engine asks the DPoR schedule directly (§2.4.1: the elected committee proposes in
/// turn); `None` for genesis and for a term whose committee is not installed, where only
/// an impeach block can be certified.
impl ProposerSchedule for Schedule {
    fn proposer_of(&self, height: Height) -> Option<Address> {
        Schedule::proposer_of(self, height)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpor_term_arithmetic_matches_mainnet() {
        let clock = TermClock::new(&ChainSpec::mainnet()).unwrap();
        assert_eq!(clock.term_of(Height(0)), Term(0));
        assert_eq!(clock.term_of(Height(1)), Term(0));
        assert_eq!(clock.term_of(Height(36)), Term(0));
        assert_eq!(clock.term_of(Height(37)), Term(1));
        assert!(!clock.is_checkpoint(Height(0)));
        assert!(clock.is_checkpoint(Height(36)));
        assert!(!clock.is_checkpoint(Height(37)));
        // Heights 1, 13, 25 of a term are slot 0: one proposal per view.
        assert_eq!(clock.slot_of(Height(1)), Some(0));
        assert_eq!(clock.slot_of(Height(12)), Some(11));
        assert_eq!(clock.slot_of(Height(13)), Some(0));
        assert_eq!(clock.slot_of(Height(36)), Some(11));
        assert_eq!(clock.slot_of(Height(0)), None);
        // Checkpoint 36 ends term 0 and elects for term 3 (mainnet FutureTermOf).
        assert_eq!(clock.served_term(Height(36)), Term(3));
        assert_eq!(clock.first_height(Term(1)), Height(37));
    }

    #[test]
    fn proposer_schedule_is_the_schedule() {
        let spec = ChainSpec::devnet();
        let defaults: Vec<Address> = (1..=4u8).map(|i| Address([i; 20])).collect();
        let mut s = Schedule::new(&spec, &defaults, 4).unwrap();
        let elected = Committee::of_defaults(&[
            Address([4; 20]),
            Address([3; 20]),
            Address([2; 20]),
            Address([1; 20]),
        ]);
        s.install(Term(3), elected).unwrap();
        let as_engine: &dyn ProposerSchedule = &s;
        // Genesis, the default terms, the elected term 3 and the uninstalled term 4.
        for h in 0..=spec.term_blocks() * 5 {
            assert_eq!(as_engine.proposer_of(Height(h)), s.proposer_of(Height(h)));
        }
        assert_eq!(as_engine.proposer_of(Height(0)), None);
        assert_eq!(as_engine.proposer_of(Height(37)), Some(Address([4; 20])));
        assert_eq!(as_engine.proposer_of(Height(49)), None);
    }
}
