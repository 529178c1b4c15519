//! Error types of DPoR. One enum per concept so a caller matches only what its call can
//! return; all are small and `Copy` so `no_std` callers and the C API can pass them around.

use cpchain_core::{Address, Height, Term, Timestamp};
use thiserror::Error;

/// Why a pool refused a deposit, withdrawal or quit. The pool is unchanged on every one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PoolError {
    /// The deposit would leave the node below the pool's minimum (§5.1.1).
    #[error("deposit of {amount} is below the minimum of {minimum}")]
    BelowMinimum {
        /// What the node would hold after the operation.
        amount: u128,
        /// The pool's minimum from the chain spec.
        minimum: u128,
    },
    /// A total would exceed `u128`; no real supply gets near it, so the input is hostile.
    #[error("amount overflows")]
    Overflow,
    /// The address already holds a deposit where a new one was expected.
    #[error("{0} already has a deposit")]
    AlreadyMember(Address),
    /// A withdrawal larger than the deposit.
    #[error("withdrawal exceeds the deposit of {available}")]
    Insufficient {
        /// What the node holds.
        available: u128,
    },
    /// The address holds no deposit.
    #[error("{0} has no deposit")]
    NotMember(Address),
    /// The RNode deposit is still in its lock (100 minutes on mainnet).
    #[error("deposit locked until {until}")]
    Locked {
        /// First instant at which the node may quit.
        until: Timestamp,
    },
    /// The RNode is elected for a term that has not ended yet (§5.1.1).
    #[error("elected for term {0}; cannot withdraw before it ends")]
    ElectedUntil(Term),
    /// The economy pool accepts deposits and withdrawals only while raising.
    #[error("the economy pool is not in its raising period")]
    NotRaising,
    /// The economy pool pays rewards only in its settlement period.
    #[error("the economy pool is not in its settlement period")]
    NotSettling,
    /// The pool already holds its capacity of members.
    #[error("pool full ({0} members)")]
    Full(usize),
    /// Zero-amount operations are refused so every accepted call changes state.
    #[error("amount must be positive")]
    ZeroAmount,
    /// `now` is before the economy calendar's start.
    #[error("time is before the first season")]
    BeforeFirstSeason,
}

/// Why an admission proof or a campaign was refused (§2.3, mainnet campaign contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AdmissionError {
    /// The proof's block is more than `admission_max_block_age` blocks behind the head.
    #[error("proof block {block} is too old for head {head}")]
    StaleBlock {
        /// Height the proof is over.
        block: Height,
        /// Current head.
        head: Height,
    },
    /// The proof's block is above the head: nobody can have its hash yet.
    #[error("proof block {0} is in the future")]
    FutureBlock(Height),
    /// The proof names a hash that is not the canonical block at its height.
    #[error("proof block hash is not canonical at {0}")]
    UnknownBlock(Height),
    /// The CPU (sha256) proof is above its target.
    #[error("cpu proof does not meet the difficulty")]
    CpuProof,
    /// The memory (scrypt) proof is above its target.
    #[error("memory proof does not meet the difficulty")]
    MemoryProof,
    /// The scrypt parameters were refused by the scrypt crate (cannot happen with the fixed
    /// mainnet parameters; kept typed rather than unwrapped).
    #[error("scrypt parameters refused")]
    ScryptParams,
    /// The prover gave up after its iteration budget.
    #[error("no proof found within {0} nonces")]
    Exhausted(u64),
    /// A campaign must cover 1 to `max_campaign_terms` terms.
    #[error("campaign of {0} terms is out of range")]
    CampaignTerms(u32),
    /// The term already has `max_candidates` candidates.
    #[error("term {0} already has the most candidates allowed")]
    TermFull(Term),
    /// The campaign registry holds its capacity of terms; prune elected terms first.
    #[error("campaign registry full ({0} terms)")]
    RegistryFull(usize),
    /// Only RNodes may campaign.
    #[error("{0} is not an RNode")]
    NotRNode(Address),
}

/// Why RPT could not be computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RptError {
    /// One address appears twice in the observations; a rank over duplicates is meaningless.
    #[error("duplicate observation for {0}")]
    DuplicateCandidate(Address),
    /// More observations than `max_candidates`.
    #[error("{count} candidates exceed the limit of {max}")]
    TooManyCandidates {
        /// Observations given.
        count: usize,
        /// The chain spec's limit.
        max: u32,
    },
    /// RPT weights do not sum to 100 (an unvalidated spec).
    #[error("RPT weights do not sum to 100")]
    Weights,
}

/// Why an election could not produce a committee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ElectionError {
    /// One address is a candidate twice.
    #[error("duplicate candidate {0}")]
    DuplicateCandidate(Address),
    /// One address is in the default-proposer list twice.
    #[error("duplicate default proposer {0}")]
    DuplicateDefaultProposer(Address),
    /// More candidates than `max_candidates`: the campaign contract should have refused them.
    #[error("{count} candidates exceed the limit of {max}")]
    TooManyCandidates {
        /// Candidates given.
        count: usize,
        /// The chain spec's limit.
        max: u32,
    },
    /// Not enough distinct default proposers to fill the seats the election left open.
    #[error("{needed} default proposers needed, {available} available")]
    NotEnoughDefaultProposers {
        /// Seats to fill.
        needed: usize,
        /// Distinct default proposers not already elected.
        available: usize,
    },
    /// The chain spec's seat counts are inconsistent (an unvalidated spec).
    #[error("inconsistent seat counts in the chain spec")]
    Seats,
}

/// Why the schedule refused a committee or a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// The chain spec is inconsistent (term length zero, seats not fitting).
    #[error("inconsistent chain spec")]
    Spec,
    /// A committee must have exactly `proposers_per_term` distinct members.
    #[error("committee of {0} members does not fit the term")]
    CommitteeSize(usize),
    /// A committee names one address twice.
    #[error("duplicate committee member {0}")]
    DuplicateMember(Address),
    /// A different committee is already installed for the term; a second one would fork
    /// the schedule.
    #[error("a different committee is already installed for term {0}")]
    Conflict(Term),
    /// The schedule holds its capacity of terms; prune old terms first.
    #[error("schedule full ({0} terms)")]
    Full(usize),
    /// The height is not a checkpoint (`height % term_blocks != 0` or genesis).
    #[error("{0} is not a checkpoint")]
    NotCheckpoint(Height),
    /// The election failed.
    #[error(transparent)]
    Election(#[from] ElectionError),
}

/// Why a DDoS whitelist input was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum WhitelistError {
    /// Utilisation is given in permille, 0..=1000.
    #[error("utilisation {0}‰ is above 1000‰")]
    Utilisation(u16),
    /// The whitelist holds its capacity of addresses.
    #[error("whitelist full ({0} addresses)")]
    Full(usize),
    /// A configuration duration is zero or the threshold is out of range.
    #[error("invalid whitelist configuration: {0}")]
    Config(&'static str),
}
