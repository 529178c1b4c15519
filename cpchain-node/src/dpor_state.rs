//! The DPoR part of the chain state (white paper §2.3, §2.4.1, §5.1): RNode deposits,
//! campaigns, the activity RPT observes, and the committees elected at checkpoints.
//!
//! It changes only by executing blocks (transaction kinds [`crate::tx::TxKind::JoinRNodes`]
//! and [`crate::tx::TxKind::Campaign`], and each block's proposer / impeachment), and it is
//! stored in the same redb transaction as the block that produced it, so a restarted node
//! reads the committees it elected instead of recomputing them from today's balances.
//! Validation is the library's: [`dpor::RNodePool::join`] for deposits,
//! [`dpor::check_campaign`] (RNode membership, admission proofs over a canonical recent
//! block) and [`dpor::CampaignRegistry::register`] for campaigns, [`dpor::compute_rpt`]
//! and [`dpor::elect`] at checkpoints.
//!
//! # RPT inputs (§2.3, [`dpor::Observation`])
//!
//! * **Real, from the chain**: account balance (AB: the stored balance after the
//!   checkpoint block), transactions (TX: the candidate's transactions in the blocks of
//!   the last `rpt_window` heights), blockchain maintenance (BM: blocks it proposed in that
//!   window) and impeachments (blocks impeached at its slots in the last
//!   `impeach_punish_window` heights).
//! * **Real, from the data ledger** ([`crate::ledger`], issue 15): data contribution
//!   (DC: blocks newly anchored for streams the candidate owns, plus its sales released
//!   by confirmation or timeout) and proxy reputation (PR: released orders whose grant
//!   names it as a proxy, minus disputed ones, not below 0), each summed over the
//!   blocks of the RPT window.
//!
//! # Bounds
//!
//! At most [`MAX_RNODES`] deposits; campaigns by the library's per-term limit
//! (`max_candidates`) and [`MAX_CAMPAIGN_TERMS_HELD`] terms; activity only for RNodes and
//! only inside the windows; committees for the terms not yet served.

use crate::ledger::DataActivity;
use cpchain_consensus::dpor::{self, Committee, Observation, RNodeDeposit, RNodePool, RptRecord};
use cpchain_core::{Address, ChainSpec, Hash, Height, Term, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Most RNodes the chain holds (a join beyond it is refused as the pool being full).
pub const MAX_RNODES: usize = 1_000;

/// Most distinct future terms campaigns are held for.
pub const MAX_CAMPAIGN_TERMS_HELD: usize = 64;

/// One RNode's activity in one block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// The RNode.
    pub address: Address,
    /// Its transactions in the block.
    pub transactions: u32,
    /// Whether it proposed the (normal) block.
    pub proposed: bool,
    /// Its data-layer activity in the block ([`crate::ledger`]: anchored blocks of its
    /// streams, sales released to it, proxy deliveries released or disputed).
    pub data: DataActivity,
}

/// The DPoR chain state after a block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DporState {
    /// RNode deposits (moved out of the balance by `JoinRNodes`).
    pub rnodes: BTreeMap<Address, RNodeDeposit>,
    /// Candidates by term (the campaign registry's contents).
    pub campaigns: BTreeMap<Term, BTreeSet<Address>>,
    /// Committees elected at checkpoints, by the term they serve.
    pub committees: BTreeMap<Term, Committee>,
    /// RNode activity by height, inside the RPT window.
    pub activity: VecDeque<(Height, Vec<Activity>)>,
    /// Impeach blocks at RNodes' slots, inside the punishment window.
    pub impeachments: VecDeque<(Height, Address)>,
    /// The RPT records of the last election (audit and status).
    pub last_rpt: Vec<RptRecord>,
}

/// Why a DPoR transaction does not apply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DporTxError {
    /// The RNode pool refused the deposit (below the minimum, already a member, full).
    #[error("rnode deposit: {0}")]
    Pool(#[from] dpor::PoolError),
    /// The campaign was refused (not an RNode, bad or stale admission proof, term full).
    #[error("campaign: {0}")]
    Campaign(#[from] dpor::AdmissionError),
    /// A campaign names another candidate than its signer.
    #[error("a campaign must be signed by its candidate")]
    NotCandidate,
}

impl DporState {
    /// The RNode pool as the library sees it.
    pub fn pool(&self, spec: &ChainSpec) -> RNodePool {
        let mut pool = RNodePool::new(spec, MAX_RNODES);
        for (a, d) in &self.rnodes {
            // Every stored deposit passed `join` when it was made.
            let _ = pool.join(d.joined_at, *a, d.amount);
        }
        pool
    }

    /// Whether `who` holds an RNode deposit.
    pub fn is_rnode(&self, who: &Address) -> bool {
        self.rnodes.contains_key(who)
    }

    /// Whether `who` stands for election in `term`.
    pub fn is_candidate(&self, who: &Address, term: Term) -> bool {
        self.campaigns.get(&term).is_some_and(|s| s.contains(who))
    }

    /// Deposit `amount` of `who` into the RNode pool at block time `now`.
    pub fn join(
        &mut self,
        spec: &ChainSpec,
        now: Timestamp,
        who: Address,
        amount: u128,
    ) -> Result<(), DporTxError> {
        let mut pool = self.pool(spec);
        pool.join(now, who, amount)?;
        if let Some(d) = pool.deposit_of(&who) {
            self.rnodes.insert(who, *d);
        }
        Ok(())
    }

    /// Admit a campaign executed in the block at `height` (whose parent is the head the
    /// proof's age is measured from): RNode membership and the admission proof
    /// ([`dpor::check_campaign`]), then the registry's per-term bounds. It stands from the
    /// first term not yet elected: the one the next checkpoint at or after `height` elects.
    pub fn campaign(
        &mut self,
        spec: &ChainSpec,
        signer: Address,
        campaign: &dpor::Campaign,
        height: Height,
        canonical_hash: impl Fn(Height) -> Option<Hash>,
    ) -> Result<(), DporTxError> {
        if campaign.candidate != signer {
            return Err(DporTxError::NotCandidate);
        }
        let first = first_unelected_term(spec, height);
        let head = Height(height.get().saturating_sub(1));
        let terms = dpor::check_campaign(
            spec,
            campaign,
            &self.pool(spec),
            head,
            first,
            canonical_hash,
        )?;
        let mut registry = dpor::CampaignRegistry::new(spec, MAX_CAMPAIGN_TERMS_HELD);
        for (t, set) in &self.campaigns {
            for a in set {
                registry.register(*a, *t, 1)?;
            }
        }
        registry.register(signer, *terms.start(), campaign.terms)?;
        for t in terms.start().get()..=terms.end().get() {
            self.campaigns.entry(Term(t)).or_default().insert(signer);
        }
        Ok(())
    }

    /// The block at `height` (proposed by `proposer`, or an impeach block at its slot) is
    /// executed: record RNode activity, trim the windows, and at a checkpoint elect the
    /// committee of the served term from the campaigning RNodes, scored by RPT from the
    /// chain (`balance` reads balances after this block), seeded by `block_id`.
    #[allow(clippy::too_many_arguments)]
    pub fn end_block(
        &mut self,
        spec: &ChainSpec,
        defaults: &[Address],
        height: Height,
        block_id: &Hash,
        proposer: Address,
        impeach: bool,
        senders: &[Address],
        data: &BTreeMap<Address, DataActivity>,
        balance: impl Fn(&Address) -> u128,
    ) {
        let mut acts: BTreeMap<Address, Activity> = BTreeMap::new();
        for s in senders.iter().filter(|s| self.is_rnode(s)) {
            let a = acts.entry(*s).or_insert(Activity {
                address: *s,
                transactions: 0,
                proposed: false,
                data: DataActivity::default(),
            });
            a.transactions = a.transactions.saturating_add(1);
        }
        if self.is_rnode(&proposer) {
            if impeach {
                self.impeachments.push_back((height, proposer));
            } else {
                acts.entry(proposer)
                    .or_insert(Activity {
                        address: proposer,
                        transactions: 0,
                        proposed: false,
                        data: DataActivity::default(),
                    })
                    .proposed = true;
            }
        }
        for (a, d) in data.iter().filter(|(a, _)| self.is_rnode(a)) {
            acts.entry(*a)
                .or_insert(Activity {
                    address: *a,
                    transactions: 0,
                    proposed: false,
                    data: DataActivity::default(),
                })
                .data = *d;
        }
        if !acts.is_empty() {
            self.activity
                .push_back((height, acts.into_values().collect()));
        }
        let rpt_from = *dpor::rpt_window(spec, height).start();
        while self.activity.front().is_some_and(|(h, _)| *h < rpt_from) {
            self.activity.pop_front();
        }
        let punish_from = *dpor::punish_window(spec, height).start();
        while self
            .impeachments
            .front()
            .is_some_and(|(h, _)| *h < punish_from)
        {
            self.impeachments.pop_front();
        }
        let Ok(clock) = dpor::TermClock::new(spec) else {
            return;
        };
        if !clock.is_checkpoint(height) {
            return;
        }
        let term = clock.served_term(height);
        let observed = self.observe(term, &balance);
        let records = match dpor::compute_rpt(spec, &observed) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(height = height.get(), "rpt: {e}");
                Vec::new()
            }
        };
        let candidates: Vec<_> = records.iter().map(RptRecord::candidate).collect();
        match dpor::elect(spec, block_id, term, &candidates, defaults) {
            Ok(c) => {
                self.committees.insert(term, c);
            }
            Err(e) => tracing::warn!(height = height.get(), "election: {e}"),
        }
        self.last_rpt = records;
        // Served and elected terms are forgotten.
        let current = clock.term_of(height);
        self.committees = self.committees.split_off(&current);
        self.campaigns = self
            .campaigns
            .split_off(&Term(term.get().saturating_add(1)));
    }

    /// What the chain shows of the candidates of `term` (see the module docs for which
    /// inputs are real).
    pub fn observe(&self, term: Term, balance: &impl Fn(&Address) -> u128) -> Vec<Observation> {
        let Some(cands) = self.campaigns.get(&term) else {
            return Vec::new();
        };
        cands
            .iter()
            .map(|a| {
                let mut o = Observation {
                    address: *a,
                    balance: balance(a),
                    ..Observation::default()
                };
                let (mut confirmed, mut disputed) = (0u64, 0u64);
                for (_, acts) in &self.activity {
                    for act in acts.iter().filter(|x| x.address == *a) {
                        o.transactions = o.transactions.saturating_add(act.transactions.into());
                        o.proposed_blocks =
                            o.proposed_blocks.saturating_add(u64::from(act.proposed));
                        o.data_uploaded = o.data_uploaded.saturating_add(act.data.uploaded);
                        o.data_bought = o.data_bought.saturating_add(act.data.bought);
                        confirmed = confirmed.saturating_add(act.data.proxy_confirmed);
                        disputed = disputed.saturating_add(act.data.proxy_disputed);
                    }
                }
                o.proxy_assists = confirmed.saturating_sub(disputed);
                o.impeached_blocks =
                    self.impeachments.iter().filter(|(_, x)| x == a).count() as u64;
                o
            })
            .collect()
    }
}

/// The term the next checkpoint at or after `height` elects: the first term a campaign
/// executed at `height` can stand in.
pub fn first_unelected_term(spec: &ChainSpec, height: Height) -> Term {
    let Ok(clock) = dpor::TermClock::new(spec) else {
        return Term(0);
    };
    let tb = clock.term_blocks();
    let h = height.get().max(1);
    let checkpoint = h.div_ceil(tb).saturating_mul(tb);
    clock.served_term(Height(checkpoint))
}

/// Install the committees of `state` into `schedule` (idempotent; a conflict or a full
/// schedule is logged: the schedule then keeps what it had).
pub fn install(schedule: &mut dpor::Schedule, state: &DporState) {
    for (term, c) in &state.committees {
        if let Err(e) = schedule.install(*term, c.clone()) {
            tracing::warn!(term = term.get(), "committee not installed: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpchain_core::BASE_UNITS_PER_CPC;

    fn spec() -> ChainSpec {
        let mut s = ChainSpec::devnet();
        s.admission_max_block_age = 100;
        s
    }

    fn defaults() -> Vec<Address> {
        (1..=4u8).map(|i| Address([i; 20])).collect()
    }

    fn chain_hash(h: Height) -> Option<Hash> {
        Some(Hash([h.get() as u8; 32]))
    }

    fn proof_for(spec: &ChainSpec, who: &Address, at: Height) -> dpor::Campaign {
        let hash = chain_hash(at).unwrap_or_default();
        let proof = dpor::prove_admission(spec, who, at, &hash, 1 << 20).expect("proof");
        dpor::Campaign {
            candidate: *who,
            terms: 2,
            proof,
        }
    }

    #[test]
    fn campaign_needs_an_rnode_deposit_and_a_valid_admission_proof() {
        let spec = spec();
        let me = Address([0x77; 20]);
        let mut st = DporState::default();
        let c = proof_for(&spec, &me, Height(3));
        assert!(matches!(
            st.campaign(&spec, me, &c, Height(5), chain_hash),
            Err(DporTxError::Campaign(dpor::AdmissionError::NotRNode(_)))
        ));
        assert!(matches!(
            st.join(&spec, Timestamp(0), me, spec.rnode_deposit - 1),
            Err(DporTxError::Pool(_))
        ));
        st.join(&spec, Timestamp(0), me, spec.rnode_deposit)
            .expect("deposit");
        // Signed by someone else.
        assert_eq!(
            st.campaign(&spec, Address([1; 20]), &c, Height(5), chain_hash),
            Err(DporTxError::NotCandidate)
        );
        // A proof over a block that is not canonical.
        let before = st.clone();
        assert!(st
            .campaign(&spec, me, &c, Height(5), |_| Some(Hash([0xee; 32])))
            .is_err());
        assert_eq!(st, before, "state unchanged on error");
        st.campaign(&spec, me, &c, Height(5), chain_hash)
            .expect("campaign");
        let first = first_unelected_term(&spec, Height(5));
        // Devnet: 12-block terms, lead 2: the checkpoint at 12 elects term 3.
        assert_eq!(first, Term(3));
        assert!(st.is_candidate(&me, Term(3)) && st.is_candidate(&me, Term(4)));
        assert!(!st.is_candidate(&me, Term(5)));
    }

    #[test]
    fn checkpoint_elects_the_campaigning_rnode_with_rpt_inputs_from_the_chain() {
        let spec = spec();
        let (a, b) = (Address([0x71; 20]), Address([0x72; 20]));
        let mut st = DporState::default();
        for who in [a, b] {
            st.join(&spec, Timestamp(0), who, spec.rnode_deposit)
                .expect("deposit");
            let c = proof_for(&spec, &who, Height(2));
            st.campaign(&spec, who, &c, Height(3), chain_hash)
                .expect("campaign");
        }
        let balance = |x: &Address| {
            if *x == a {
                900_000 * BASE_UNITS_PER_CPC
            } else {
                10 * BASE_UNITS_PER_CPC
            }
        };
        let d = defaults();
        for h in 4..12u64 {
            // `a` sends two transactions in every block and proposes block 5; `b` sends
            // none and is impeached at block 6.
            let (proposer, impeach) = match h {
                5 => (a, false),
                6 => (b, true),
                _ => (d[0], false),
            };
            st.end_block(
                &spec,
                &d,
                Height(h),
                &Hash([h as u8; 32]),
                proposer,
                impeach,
                &[a, a],
                &BTreeMap::new(),
                balance,
            );
        }
        let obs = st.observe(Term(3), &balance);
        let oa = obs.iter().find(|o| o.address == a).expect("a observed");
        let ob = obs.iter().find(|o| o.address == b).expect("b observed");
        assert_eq!(
            (oa.transactions, oa.proposed_blocks, oa.impeached_blocks),
            (16, 1, 0)
        );
        assert_eq!(
            (ob.transactions, ob.proposed_blocks, ob.impeached_blocks),
            (0, 0, 1)
        );
        assert_eq!(oa.balance, 900_000 * BASE_UNITS_PER_CPC);
        assert_eq!((oa.data_uploaded, oa.proxy_assists), (0, 0));
        st.end_block(
            &spec,
            &d,
            Height(12),
            &Hash([12; 32]),
            d[3],
            false,
            &[],
            &BTreeMap::new(),
            balance,
        );
        let committee = st.committees.get(&Term(3)).expect("term 3 elected");
        assert_eq!(committee.len(), spec.proposers_per_term as usize);
        assert!(committee.contains(&a), "the top-RPT candidate is seated");
        let ra = st
            .last_rpt
            .iter()
            .find(|r| r.address == a)
            .expect("rpt of a");
        let rb = st
            .last_rpt
            .iter()
            .find(|r| r.address == b)
            .expect("rpt of b");
        assert!(ra.rpt > rb.rpt, "{ra:?} vs {rb:?}");
        // Term 3 is elected: its campaigns are gone, later ones stay.
        assert!(!st.campaigns.contains_key(&Term(3)));
        assert!(st.is_candidate(&a, Term(4)));
    }

    #[test]
    fn rpt_data_contribution_and_proxy_reputation_come_from_the_ledger_activity() {
        let spec = spec();
        let (a, outsider) = (Address([0x71; 20]), Address([0x99; 20]));
        let mut st = DporState::default();
        st.join(&spec, Timestamp(0), a, spec.rnode_deposit)
            .expect("deposit");
        let c = proof_for(&spec, &a, Height(2));
        st.campaign(&spec, a, &c, Height(3), chain_hash)
            .expect("campaign");
        let d = defaults();
        for h in 4..7u64 {
            let mut data = BTreeMap::new();
            let act = DataActivity {
                uploaded: 10,
                bought: 1,
                proxy_confirmed: 3,
                proxy_disputed: if h == 5 { 5 } else { 0 },
            };
            data.insert(a, act);
            // Not an RNode: not recorded (the activity window holds RNodes only).
            data.insert(outsider, act);
            st.end_block(
                &spec,
                &d,
                Height(h),
                &Hash([h as u8; 32]),
                d[0],
                false,
                &[],
                &data,
                |_| 0,
            );
        }
        let obs = st.observe(Term(3), &|_| 0);
        let oa = obs.iter().find(|o| o.address == a).expect("a observed");
        assert_eq!((oa.data_uploaded, oa.data_bought), (30, 3));
        // 9 released deliveries as a proxy, 5 disputed.
        assert_eq!(oa.proxy_assists, 4);
        assert!(st
            .activity
            .iter()
            .all(|(_, acts)| acts.iter().all(|x| x.address != outsider)));
    }
}
