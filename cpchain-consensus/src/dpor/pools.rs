//! Node types and the two deposit pools of white paper §5.1.1.
//!
//! * **RNode pool**: at least `spec.rnode_deposit` (200,000 CPC) to join; the deposit is
//!   locked for `spec.rnode_lock` (100 minutes); an RNode elected for a term cannot withdraw
//!   until that term has ended.
//! * **Economy pool**: at least `spec.economy_deposit` (20,000 CPC); deposits and
//!   withdrawals only in a season's raising period; rewards split pro rata in the
//!   settlement period (see [`super::rewards`]).
//! * **Industry nodes** are registered off-pool (by the foundation); the host passes the
//!   registration in when asking for a node's [`NodeRoles`].
//!
//! Both pools are plain state with methods named after what happened; `now` comes in as an
//! argument. Every refused operation returns a [`PoolError`] and leaves the pool unchanged.
//! Capacities are explicit: joining a full pool is [`PoolError::Full`].

use super::election::Committee;
use super::error::PoolError;
use super::rewards::{season_at, split_pool, SeasonPhase};
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use cpchain_core::{Address, ChainSpec, Duration, Term, Timestamp};
use serde::{Deserialize, Serialize};

/// What a node is entitled to (§5.1.1). A node may be several at once (an RNode may also
/// hold an economy deposit); one with none of them is a Civilian.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NodeRoles {
    /// Holds at least the economy minimum in the economy pool: votes, earns basic rewards.
    pub economy: bool,
    /// Holds at least the RNode minimum in the RNode pool: may campaign.
    pub rnode: bool,
    /// Registered industry partner.
    pub industry: bool,
}

impl NodeRoles {
    /// A node with no deposit and no registration.
    pub fn is_civilian(&self) -> bool {
        !self.economy && !self.rnode && !self.industry
    }
}

/// The roles of `who` from the two pools and the host's industry registry.
pub fn roles_of(
    who: &Address,
    economy: &EconomyPool,
    rnodes: &RNodePool,
    industry_registered: bool,
) -> NodeRoles {
    NodeRoles {
        economy: economy.deposit_of(who) > 0,
        rnode: rnodes.is_rnode(who),
        industry: industry_registered,
    }
}

/// One RNode's deposit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RNodeDeposit {
    /// Deposited amount, base units.
    pub amount: u128,
    /// When it joined; the lock runs from here.
    pub joined_at: Timestamp,
    /// The last term the node is elected for, if any: it may not quit before it ends.
    pub elected_until: Option<Term>,
}

/// The RNode pool.
#[derive(Debug, Clone)]
pub struct RNodePool {
    minimum: u128,
    lock: Duration,
    capacity: usize,
    members: BTreeMap<Address, RNodeDeposit>,
}

impl RNodePool {
    /// An empty pool with the spec's minimum and lock, holding at most `capacity` RNodes.
    pub fn new(spec: &ChainSpec, capacity: usize) -> Self {
        RNodePool {
            minimum: spec.rnode_deposit,
            lock: spec.rnode_lock,
            capacity,
            members: BTreeMap::new(),
        }
    }

    /// Join with `amount` at `now`.
    pub fn join(&mut self, now: Timestamp, who: Address, amount: u128) -> Result<(), PoolError> {
        if self.members.contains_key(&who) {
            return Err(PoolError::AlreadyMember(who));
        }
        if amount < self.minimum {
            return Err(PoolError::BelowMinimum {
                amount,
                minimum: self.minimum,
            });
        }
        if self.members.len() >= self.capacity {
            return Err(PoolError::Full(self.capacity));
        }
        self.members.insert(
            who,
            RNodeDeposit {
                amount,
                joined_at: now,
                elected_until: None,
            },
        );
        Ok(())
    }

    /// Record that `who` was elected for `term`, so it cannot quit before the term ends.
    pub fn mark_elected(&mut self, who: &Address, term: Term) -> Result<(), PoolError> {
        let d = self
            .members
            .get_mut(who)
            .ok_or(PoolError::NotMember(*who))?;
        d.elected_until = Some(d.elected_until.map_or(term, |t| t.max(term)));
        Ok(())
    }

    /// Record a whole committee's election for `term`: every seated member that is in the
    /// pool is held (default proposers need not be RNodes and are skipped). Returns how
    /// many were marked.
    pub fn mark_committee(&mut self, committee: &Committee, term: Term) -> usize {
        committee
            .members()
            .filter(|who| self.mark_elected(who, term).is_ok())
            .count()
    }

    /// Quit at `now` during `current` term; returns the refund. Refused while locked and
    /// while `current` is at or before a term the node is elected for.
    pub fn quit(
        &mut self,
        now: Timestamp,
        current: Term,
        who: &Address,
    ) -> Result<u128, PoolError> {
        let d = self.members.get(who).ok_or(PoolError::NotMember(*who))?;
        let until = d.joined_at.saturating_add(self.lock);
        if now < until {
            return Err(PoolError::Locked { until });
        }
        if let Some(t) = d.elected_until {
            if current <= t {
                return Err(PoolError::ElectedUntil(t));
            }
        }
        let amount = d.amount;
        self.members.remove(who);
        Ok(amount)
    }

    /// Whether `who` is an RNode (holds a deposit of at least the minimum).
    pub fn is_rnode(&self, who: &Address) -> bool {
        self.members
            .get(who)
            .is_some_and(|d| d.amount >= self.minimum)
    }

    /// The deposit of `who`, if any.
    pub fn deposit_of(&self, who: &Address) -> Option<&RNodeDeposit> {
        self.members.get(who)
    }

    /// Number of RNodes.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

/// The economy pool with its 90-day season calendar starting at `start`.
#[derive(Debug, Clone)]
pub struct EconomyPool {
    minimum: u128,
    start: Timestamp,
    capacity: usize,
    total: u128,
    deposits: BTreeMap<Address, u128>,
}

impl EconomyPool {
    /// An empty pool whose first season starts (raising) at `start`.
    pub fn new(spec: &ChainSpec, start: Timestamp, capacity: usize) -> Self {
        EconomyPool {
            minimum: spec.economy_deposit,
            start,
            capacity,
            total: 0,
            deposits: BTreeMap::new(),
        }
    }

    /// The season index and phase at `now`.
    pub fn phase_at(&self, now: Timestamp) -> Result<(u64, SeasonPhase), PoolError> {
        season_at(self.start, now).ok_or(PoolError::BeforeFirstSeason)
    }

    fn require(&self, now: Timestamp, phase: SeasonPhase) -> Result<(), PoolError> {
        let (_, p) = self.phase_at(now)?;
        if p != phase {
            return Err(match phase {
                SeasonPhase::Settlement => PoolError::NotSettling,
                _ => PoolError::NotRaising,
            });
        }
        Ok(())
    }

    /// Deposit `amount` for `who`; only while raising; the node's balance afterwards must
    /// reach the minimum.
    pub fn deposit(&mut self, now: Timestamp, who: Address, amount: u128) -> Result<(), PoolError> {
        if amount == 0 {
            return Err(PoolError::ZeroAmount);
        }
        self.require(now, SeasonPhase::Raising)?;
        let current = self.deposit_of(&who);
        let after = current.checked_add(amount).ok_or(PoolError::Overflow)?;
        let total = self.total.checked_add(amount).ok_or(PoolError::Overflow)?;
        if after < self.minimum {
            return Err(PoolError::BelowMinimum {
                amount: after,
                minimum: self.minimum,
            });
        }
        if current == 0 && self.deposits.len() >= self.capacity {
            return Err(PoolError::Full(self.capacity));
        }
        self.deposits.insert(who, after);
        self.total = total;
        Ok(())
    }

    /// Withdraw `amount` for `who`; only while raising; what remains must be 0 or at least
    /// the minimum, so nobody holds a sub-minimum deposit that earns without qualifying.
    pub fn withdraw(
        &mut self,
        now: Timestamp,
        who: &Address,
        amount: u128,
    ) -> Result<(), PoolError> {
        if amount == 0 {
            return Err(PoolError::ZeroAmount);
        }
        self.require(now, SeasonPhase::Raising)?;
        let current = self.deposit_of(who);
        if current == 0 {
            return Err(PoolError::NotMember(*who));
        }
        let after = current
            .checked_sub(amount)
            .ok_or(PoolError::Insufficient { available: current })?;
        if after != 0 && after < self.minimum {
            return Err(PoolError::BelowMinimum {
                amount: after,
                minimum: self.minimum,
            });
        }
        self.total = self.total.saturating_sub(amount);
        if after == 0 {
            self.deposits.remove(who);
        } else {
            self.deposits.insert(*who, after);
        }
        Ok(())
    }

    /// The deposit of `who`, 0 if none.
    pub fn deposit_of(&self, who: &Address) -> u128 {
        self.deposits.get(who).copied().unwrap_or(0)
    }

    /// The pool's total `D`.
    pub fn total(&self) -> u128 {
        self.total
    }

    /// Each member's reward from `season_pool` (`pool × d / D`, rounded down, in address
    /// order) and the dust left by rounding. Only in the settlement period; an empty pool
    /// pays nothing and returns the whole pool as dust.
    pub fn settle(
        &self,
        now: Timestamp,
        season_pool: u128,
    ) -> Result<(Vec<(Address, u128)>, u128), PoolError> {
        self.require(now, SeasonPhase::Settlement)?;
        if self.deposits.is_empty() {
            return Ok((Vec::new(), season_pool));
        }
        let amounts: Vec<u128> = self.deposits.values().copied().collect();
        let (shares, dust) = split_pool(season_pool, &amounts).ok_or(PoolError::Overflow)?;
        Ok((self.deposits.keys().copied().zip(shares).collect(), dust))
    }
}
