//! Who stands for election in each term: the state of mainnet's campaign contract.
//!
//! An admitted campaign (see [`super::admission::check_campaign`]) makes its RNode a
//! candidate for 1 to `max_campaign_terms` consecutive terms, starting with the first term
//! not yet elected (the term the next checkpoint elects for). At each checkpoint the host
//! takes [`CampaignRegistry::candidates_for`] the served term, scores them
//! ([`super::rpt::compute_rpt`]) and runs the election.
//!
//! Each term holds at most `max_candidates` candidates (mainnet 100): a registration that
//! would overflow any of its terms is refused whole, so the election never sees more
//! candidates than the spec allows. Registering again for terms one already stands in is
//! idempotent for those terms. Served terms are dropped with
//! [`CampaignRegistry::prune_before`]; the number of terms held is bounded by
//! `max_terms`.

use super::error::AdmissionError;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;
use core::ops::RangeInclusive;
use cpchain_core::{Address, ChainSpec, Term};

/// Candidates per term.
#[derive(Debug, Clone)]
pub struct CampaignRegistry {
    max_per_term: usize,
    max_campaign_terms: u32,
    max_terms: usize,
    by_term: BTreeMap<Term, BTreeSet<Address>>,
}

impl CampaignRegistry {
    /// An empty registry holding candidates for at most `max_terms` distinct terms.
    pub fn new(spec: &ChainSpec, max_terms: usize) -> Self {
        CampaignRegistry {
            max_per_term: spec.max_candidates as usize,
            max_campaign_terms: spec.max_campaign_terms,
            max_terms,
            by_term: BTreeMap::new(),
        }
    }

    /// Record an admitted campaign of `who` for `terms` terms from `first`. All or
    /// nothing: on error the registry is unchanged.
    pub fn register(
        &mut self,
        who: Address,
        first: Term,
        terms: u32,
    ) -> Result<RangeInclusive<Term>, AdmissionError> {
        if terms == 0 || terms > self.max_campaign_terms {
            return Err(AdmissionError::CampaignTerms(terms));
        }
        // Bound the span by the registry's own capacity before building it, so a spec with
        // a huge `max_campaign_terms` cannot make one call allocate without limit.
        if terms as usize > self.max_terms {
            return Err(AdmissionError::RegistryFull(self.max_terms));
        }
        let last = Term(first.get().saturating_add(u64::from(terms) - 1));
        let span: Vec<Term> = (first.get()..=last.get()).map(Term).collect();
        let mut new_terms = 0usize;
        for t in &span {
            match self.by_term.get(t) {
                Some(set) if set.contains(&who) => {}
                Some(set) if set.len() >= self.max_per_term => {
                    return Err(AdmissionError::TermFull(*t));
                }
                Some(_) => {}
                None if self.max_per_term == 0 => return Err(AdmissionError::TermFull(*t)),
                None => new_terms += 1,
            }
        }
        if self.by_term.len().saturating_add(new_terms) > self.max_terms {
            return Err(AdmissionError::RegistryFull(self.max_terms));
        }
        for t in span {
            self.by_term.entry(t).or_default().insert(who);
        }
        Ok(first..=last)
    }

    /// Candidates standing in `term`, in address order.
    pub fn candidates_for(&self, term: Term) -> Vec<Address> {
        self.by_term
            .get(&term)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Whether `who` stands in `term`.
    pub fn is_candidate(&self, who: &Address, term: Term) -> bool {
        self.by_term.get(&term).is_some_and(|s| s.contains(who))
    }

    /// Withdraw `who` from every term from `from` on (an RNode that quit the pool).
    /// Returns how many terms it left.
    pub fn withdraw(&mut self, who: &Address, from: Term) -> usize {
        let mut left = 0;
        for (_, set) in self.by_term.range_mut(from..) {
            if set.remove(who) {
                left += 1;
            }
        }
        self.by_term.retain(|_, s| !s.is_empty());
        left
    }

    /// Forget terms before `term` (already elected); returns how many.
    pub fn prune_before(&mut self, term: Term) -> usize {
        let keep = self.by_term.split_off(&term);
        let dropped = self.by_term.len();
        self.by_term = keep;
        dropped
    }
}
