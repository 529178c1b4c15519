//! Dynamic Proof of Reputation (white paper §2.3, §2.4.1, §2.6.3, §4, §5.1): who may
//! campaign, how reputation is scored, who proposes each block, what they earn.
//!
//! DPoR is three layers: Civilians become **RNodes** by depositing in the RNode pool
//! ([`pools`]) and pass **admission** with CPU and memory proofs of work ([`admission`]);
//! campaigning RNodes ([`campaigns`]) are scored by **RPT** ([`rpt`]); at each term's
//! checkpoint an **election** seeded by the checkpoint hash draws a proposer committee
//! ([`election`])
//! that serves a fixed number of terms later, and the **schedule** answers which committee
//! member proposes each height ([`schedule`]) — that is the interface the LBFT engine
//! consumes. Proposers earn the per-block maintenance reward and economy nodes the
//! seasonal basic reward ([`rewards`]); ordinary addresses have a free daily transaction
//! quota ([`fees`]); validators protect themselves with a whitelist of default proposers
//! under DDoS ([`whitelist`]).
//!
//! ```
//! use cpchain_consensus::dpor::{compute_rpt, Observation, Schedule, DEFAULT_SCHEDULE_CAPACITY};
//! use cpchain_core::{Address, ChainSpec, Hash, Height};
//!
//! let spec = ChainSpec::mainnet();
//! let defaults: Vec<Address> = (1..=12u8).map(|i| Address([i; 20])).collect();
//! let mut schedule = Schedule::new(&spec, &defaults, DEFAULT_SCHEDULE_CAPACITY)?;
//! // Before the first election the default proposers seal, one slot per block.
//! assert_eq!(schedule.proposer_of(Height(2)), Some(defaults[1]));
//!
//! // At checkpoint 36 (end of term 0): score the campaigning RNodes, elect for term 3.
//! let observed: Vec<Observation> = (100..120u8)
//!     .map(|i| Observation { address: Address([i; 20]), transactions: i.into(), ..Default::default() })
//!     .collect();
//! let candidates: Vec<_> = compute_rpt(&spec, &observed)?.iter().map(|r| r.candidate()).collect();
//! let checkpoint_hash = Hash([7; 32]); // the hash of block 36
//! let term = schedule.elect_at(Height(36), &checkpoint_hash, &candidates)?;
//! assert_eq!(term.get(), 3);
//! let first = schedule.clock().first_height(term);
//! assert!(schedule.proposer_of(first).is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Determinism
//! Everything here is a pure function or a sans-IO state machine: no clock (time comes in
//! as `now`), no OS randomness (the election's ChaCha20 stream is seeded from the
//! checkpoint hash), no floating point. Every node computing over the same chain gets the
//! same RPT, the same committee and the same rewards, byte for byte — the mainnet failure
//! "sealed but not in the chain", where clients disagreed on RPT, cannot come from here.
//!
//! # Shape
//! Only the DDoS [`whitelist`] is an event-driven machine (`handle_*`, `poll_output`,
//! `next_deadline`, per the house style). The rest are pure functions or plain state with
//! query methods: they have no effects to emit, and the host calls them at the points the
//! chain defines (a checkpoint, a campaign transaction, a block's reward).
//!
//! # Invariants
//! * A committee has exactly `proposers_per_term` distinct members.
//! * All amounts are base units (1 CPC = 10¹⁸) in `u128`; overflow is a typed error, and
//!   products that could exceed `u128` go through a 256-bit intermediate.
//! * Every refused input returns a typed error from [`error`] and leaves state unchanged.
//!
//! # Deviations from mainnet and the paper
//! * The election PRNG is ChaCha20 seeded with `keccak256(hash ‖ term)` instead of Go's
//!   `math/rand` (portable; see [`election`]).
//! * A default proposer is never seated twice (mainnet bug; see [`election`]).
//! * Zero-RPT candidates (punished for ≥ 9 impeachments) are never elected; the RPT floor
//!   of 1,000 applies before the punishment (see [`rpt`]).
//! * Year 5's supply is the exact 12,743,827.2 CPC; the paper truncates it (see
//!   [`rewards`]).
//! * Upload (DC) and proxy (PR) scores were always 0 on mainnet; here they rank the
//!   observed values the host supplies (a purchase counts as one extra upload).
//! * Seats a partition cannot fill (too few positive-RPT candidates) go to default
//!   proposers, which rotate through the default list by term; mainnet's `Elect` returned
//!   an empty result for too few candidates.
//! * A height after `default_proposers_until` whose term has no installed committee has no
//!   proposer ([`Schedule::proposer_of`] returns `None`) rather than a guessed one.
//! * The DDoS whitelist's thresholds are the SDK's defaults; the paper gives none. The §4
//!   "transaction frequency too fast" clause is left to the host's mempool rate limit.

pub mod admission;
pub mod campaigns;
pub mod election;
pub mod error;
pub mod fees;
pub mod pools;
pub mod rewards;
pub mod rpt;
pub mod schedule;
pub mod whitelist;

pub use admission::{
    check_campaign, cpu_digest, meets_difficulty, memory_digest, verify_admission, AdmissionProof,
    Campaign, WorkProof,
};
#[cfg(feature = "std")]
pub use admission::{prove_admission, prove_cpu, prove_memory};
pub use campaigns::CampaignRegistry;
pub use election::{elect, election_seed, Committee, Seat, SeatKind};
pub use error::{
    AdmissionError, ElectionError, PoolError, RptError, ScheduleError, WhitelistError,
};
pub use fees::{day_of, free_remaining, transaction_fee, Sender};
pub use pools::{roles_of, EconomyPool, NodeRoles, RNodeDeposit, RNodePool};
pub use rewards::{
    basic_reward, block_reward, mul_div_floor, reward_year, season_at, split_pool,
    total_maintenance_supply, RewardYear, SeasonPhase, MAINNET_REWARD_YEARS, SEASON_POOL,
    YEARLY_BASIC_POOL,
};
pub use rpt::{
    compute_rpt, punish, punish_window, rank_scores, rpt_window, Candidate, DimensionScores,
    Observation, Rpt, RptRecord, RPT_FLOOR, RPT_MAX,
};
pub use schedule::{Schedule, TermClock, DEFAULT_SCHEDULE_CAPACITY};
pub use whitelist::{LiftReason, Whitelist, WhitelistConfig, WhitelistOutput, WhitelistStats};
