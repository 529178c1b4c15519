//! Chain parameters.

use crate::{Duration, Height, SpecError};
use serde::{Deserialize, Serialize};

/// Base units in one CPC (CPC has 18 decimals, like ether).
pub const BASE_UNITS_PER_CPC: u128 = 1_000_000_000_000_000_000;

/// Weights of the five RPT dimensions of white paper §5.1.2, in percent (they sum to 100).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RptWeights {
    /// Account balance (AB); 50 on mainnet.
    pub balance: u32,
    /// Transactions sent in the window (TX); 15.
    pub transactions: u32,
    /// Proxy assists (PR); 10.
    pub proxy: u32,
    /// Data contributed (DC); 15.
    pub data: u32,
    /// Blocks proposed in the window, blockchain maintenance (BM); 10.
    pub maintenance: u32,
}

impl RptWeights {
    /// The paper's weights: RPT = 0.5·AB + 0.15·TX + 0.1·PR + 0.15·DC + 0.1·BM.
    pub const PAPER: RptWeights = RptWeights {
        balance: 50,
        transactions: 15,
        proxy: 10,
        data: 15,
        maintenance: 10,
    };

    /// Sum of the weights (100 for a valid spec), computed without overflow.
    pub fn sum(&self) -> u64 {
        [
            self.balance,
            self.transactions,
            self.proxy,
            self.data,
            self.maintenance,
        ]
        .iter()
        .map(|w| u64::from(*w))
        .sum()
    }
}

/// The parameters every node of one chain must agree on.
///
/// Consensus, DPoR and the reward schedule read their figures from here instead of from
/// constants, so a devnet and mainnet run the same code. The struct is `#[non_exhaustive]`
/// (a new parameter must not break every host), so a custom chain starts from a base and
/// changes what differs: [`ChainSpec::builder`] / [`ChainSpecBuilder`], whose `build()`
/// validates. A spec changed field by field is checked with [`ChainSpec::validate`] before it
/// is handed to a state machine.
///
/// ```
/// let spec = cpchain_core::ChainSpec::mainnet();
/// assert_eq!(spec.validators(), 7);
/// assert_eq!(spec.term_blocks(), 36);
/// spec.validate().unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChainSpec {
    /// Chain id; bound into every signed protocol payload so signatures never cross chains.
    pub chain_id: u64,
    /// Target time between blocks.
    pub block_period: Duration,
    /// Proposers in one committee (mainnet 12): the term length in proposer slots.
    pub proposers_per_term: u32,
    /// Blocks each proposer seals per term (mainnet 3): a term is `proposers × view_len` blocks.
    pub view_len: u32,
    /// Byzantine validators tolerated; the validator committee has `3f + 1` members.
    pub fault_tolerance: u32,
    /// How long after the block period validators wait for a proposal before impeaching.
    pub impeach_timeout: Duration,
    /// Minimum RNode-pool deposit, base units.
    pub rnode_deposit: u128,
    /// Minimum economy-pool deposit, base units.
    pub economy_deposit: u128,
    /// How long an RNode deposit is locked after joining.
    pub rnode_lock: Duration,
    /// Heights up to and including this one are sealed by the default proposers only.
    pub default_proposers_until: Height,
    /// Most candidates an election considers.
    pub max_candidates: u32,
    /// Blocks in the RPT observation window (mainnet 100; the contract allows 10–100).
    pub rpt_window: u64,
    /// Weights of the RPT dimensions, percent.
    pub rpt_weights: RptWeights,
    /// Blocks over which impeachments of a proposer are counted for the RPT punishment.
    pub impeach_punish_window: u64,
    /// Committee seats filled by election (mainnet 8); the rest go to default proposers.
    pub elected_seats: u32,
    /// Of the elected seats, how many are drawn from the low-RPT half (mainnet 2).
    pub low_rpt_seats: u32,
    /// How many terms ahead of the checkpoint an elected committee serves (mainnet 2).
    pub election_lead_terms: u64,
    /// Leading zero bits required of the CPU admission proof (mainnet 12).
    pub admission_cpu_difficulty: u32,
    /// Leading zero bits required of the memory (scrypt) admission proof (mainnet 6).
    pub admission_memory_difficulty: u32,
    /// Oldest block, in blocks behind the head, an admission proof may be over (mainnet 10).
    pub admission_max_block_age: u64,
    /// Most terms one campaign may cover (mainnet 3).
    pub max_campaign_terms: u32,
    /// Free transactions an ordinary address may send per day before fees apply (§4).
    pub free_tx_per_day: u32,
}

impl ChainSpec {
    /// The CPChain mainnet figures (Go client `configs/`, white paper §2.4 and §5.1).
    pub fn mainnet() -> Self {
        ChainSpec {
            chain_id: 337,
            block_period: Duration::from_secs(10),
            proposers_per_term: 12,
            view_len: 3,
            fault_tolerance: 2,
            impeach_timeout: Duration::from_secs(10),
            rnode_deposit: 200_000 * BASE_UNITS_PER_CPC,
            economy_deposit: 20_000 * BASE_UNITS_PER_CPC,
            rnode_lock: Duration::from_mins(100),
            default_proposers_until: Height(180),
            max_candidates: 100,
            rpt_window: 100,
            rpt_weights: RptWeights::PAPER,
            impeach_punish_window: 10_000,
            elected_seats: 8,
            low_rpt_seats: 2,
            election_lead_terms: 2,
            admission_cpu_difficulty: 12,
            admission_memory_difficulty: 6,
            admission_max_block_age: 10,
            max_campaign_terms: 3,
            free_tx_per_day: 100,
        }
    }

    /// A fast development chain (mainnet devnet/testnet figures): 3 s blocks, f = 1 (4
    /// validators), 4 proposers a term.
    pub fn devnet() -> Self {
        ChainSpec {
            chain_id: 41,
            block_period: Duration::from_secs(3),
            proposers_per_term: 4,
            view_len: 3,
            fault_tolerance: 1,
            impeach_timeout: Duration::from_secs(3),
            default_proposers_until: Height(12),
            elected_seats: 3,
            low_rpt_seats: 1,
            ..Self::mainnet()
        }
    }

    /// Members of the validator committee: `3f + 1`.
    pub fn validators(&self) -> u32 {
        self.fault_tolerance.saturating_mul(3).saturating_add(1)
    }

    /// Votes in a normal-case quorum certificate: `2f + 1`.
    pub fn quorum(&self) -> u32 {
        self.fault_tolerance.saturating_mul(2).saturating_add(1)
    }

    /// Blocks in one term: `proposers_per_term × view_len`.
    pub fn term_blocks(&self) -> u64 {
        u64::from(self.proposers_per_term).saturating_mul(u64::from(self.view_len))
    }

    /// Check the spec is internally consistent; state machines refuse a spec that is not.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.block_period.as_millis() == 0 {
            return Err(SpecError::Zero("block_period"));
        }
        if self.impeach_timeout.as_millis() == 0 {
            return Err(SpecError::Zero("impeach_timeout"));
        }
        if self.proposers_per_term == 0 {
            return Err(SpecError::Zero("proposers_per_term"));
        }
        if self.view_len == 0 {
            return Err(SpecError::Zero("view_len"));
        }
        if self.rpt_window == 0 {
            return Err(SpecError::Zero("rpt_window"));
        }
        if self.max_candidates == 0 {
            return Err(SpecError::Zero("max_candidates"));
        }
        if self.max_campaign_terms == 0 {
            return Err(SpecError::Zero("max_campaign_terms"));
        }
        if self.election_lead_terms == 0 {
            return Err(SpecError::Zero("election_lead_terms"));
        }
        // 3f+1 must fit comfortably; f = 0 gives no Byzantine tolerance at all.
        if self.fault_tolerance == 0 || self.fault_tolerance > 1_000 {
            return Err(SpecError::FaultBound);
        }
        if self.elected_seats > self.proposers_per_term || self.low_rpt_seats > self.elected_seats {
            return Err(SpecError::Seats);
        }
        let sum = self.rpt_weights.sum();
        if sum != 100 {
            return Err(SpecError::RptWeights(
                u32::try_from(sum).unwrap_or(u32::MAX),
            ));
        }
        if self.rnode_deposit < self.economy_deposit {
            return Err(SpecError::Deposits);
        }
        if self.admission_cpu_difficulty > 255 || self.admission_memory_difficulty > 255 {
            return Err(SpecError::Range("admission difficulty"));
        }
        Ok(())
    }
}

/// A custom [`ChainSpec`], built from a base spec ([`ChainSpec::mainnet`] by default) with
/// one setter per parameter; [`ChainSpecBuilder::build`] returns the spec only if it passes
/// [`ChainSpec::validate`], so an inconsistent chain is a typed [`SpecError`] before any state
/// machine sees it. Exists because `ChainSpec` is `#[non_exhaustive]`: hosts cannot write it
/// as a literal, and should not have to edit `mainnet()` for a private chain.
///
/// ```
/// use cpchain_core::{ChainSpec, Duration, Height, SpecError};
///
/// // A private 4-validator chain with 2 s blocks and 6 proposers a term.
/// let spec = ChainSpec::builder()
///     .chain_id(9_001)
///     .block_period(Duration::from_secs(2))
///     .impeach_timeout(Duration::from_secs(2))
///     .fault_tolerance(1)
///     .proposers_per_term(6)
///     .elected_seats(4)
///     .default_proposers_until(Height(18))
///     .build()?;
/// assert_eq!(spec.validators(), 4);
/// assert_eq!(spec.term_blocks(), 18);
///
/// // More elected seats than committee seats: refused with its reason.
/// let bad = ChainSpec::builder().proposers_per_term(6).build();
/// assert_eq!(bad, Err(SpecError::Seats));
/// # Ok::<(), SpecError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a builder does nothing until build() is called"]
pub struct ChainSpecBuilder {
    spec: ChainSpec,
}

impl ChainSpec {
    /// A builder starting from the mainnet figures; see [`ChainSpecBuilder`].
    pub fn builder() -> ChainSpecBuilder {
        ChainSpecBuilder::new(ChainSpec::mainnet())
    }
}

impl ChainSpecBuilder {
    /// A builder starting from `base` (for example [`ChainSpec::devnet`]): every parameter
    /// not set keeps the base's value.
    pub fn new(base: ChainSpec) -> Self {
        ChainSpecBuilder { spec: base }
    }

    /// The spec, if it is consistent ([`ChainSpec::validate`]'s checks and errors).
    pub fn build(self) -> Result<ChainSpec, SpecError> {
        self.spec.validate()?;
        Ok(self.spec)
    }
}

/// One setter per `ChainSpec` field, each documented by the field it sets.
macro_rules! setters {
    ($($field:ident: $ty:ty),* $(,)?) => {
        impl ChainSpecBuilder {
            $(
                #[doc = concat!("Set [`ChainSpec::", stringify!($field), "`].")]
                pub fn $field(mut self, value: $ty) -> Self {
                    self.spec.$field = value;
                    self
                }
            )*
        }
    };
}

setters! {
    chain_id: u64,
    block_period: Duration,
    proposers_per_term: u32,
    view_len: u32,
    fault_tolerance: u32,
    impeach_timeout: Duration,
    rnode_deposit: u128,
    economy_deposit: u128,
    rnode_lock: Duration,
    default_proposers_until: Height,
    max_candidates: u32,
    rpt_window: u64,
    rpt_weights: RptWeights,
    impeach_punish_window: u64,
    elected_seats: u32,
    low_rpt_seats: u32,
    election_lead_terms: u64,
    admission_cpu_difficulty: u32,
    admission_memory_difficulty: u32,
    admission_max_block_age: u64,
    max_campaign_terms: u32,
    free_tx_per_day: u32,
}

impl crate::WireMessage for ChainSpec {
    /// Hosts distribute a devnet's spec as bytes; the tag keeps it from being read as
    /// anything else.
    const TAG: u16 = 0x0001;
    const MAX_ENCODED_LEN: usize = 512;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mainnet_figures() {
        let s = ChainSpec::mainnet();
        assert_eq!(s.chain_id, 337);
        assert_eq!(s.block_period, Duration::from_millis(10_000));
        assert_eq!(s.validators(), 7);
        assert_eq!(s.quorum(), 5);
        assert_eq!(s.term_blocks(), 36);
        assert_eq!(s.impeach_timeout.as_millis(), 10_000);
        assert_eq!(s.rnode_deposit, 200_000 * 10u128.pow(18));
        assert_eq!(s.economy_deposit, 20_000 * 10u128.pow(18));
        assert_eq!(s.rnode_lock.as_millis(), 100 * 60 * 1000);
        s.validate().unwrap();
    }

    #[test]
    fn devnet_figures() {
        let s = ChainSpec::devnet();
        assert_eq!(s.block_period.as_millis(), 3_000);
        assert_eq!(s.validators(), 4);
        assert_eq!(s.proposers_per_term, 4);
        s.validate().unwrap();
    }

    #[test]
    fn inconsistent_specs_are_typed_errors() {
        let mut s = ChainSpec::mainnet();
        s.fault_tolerance = 0;
        assert_eq!(s.validate(), Err(SpecError::FaultBound));
        let mut s = ChainSpec::mainnet();
        s.rpt_weights.balance = 51;
        assert_eq!(s.validate(), Err(SpecError::RptWeights(101)));
        let mut s = ChainSpec::mainnet();
        s.elected_seats = 13;
        assert_eq!(s.validate(), Err(SpecError::Seats));
        let mut s = ChainSpec::mainnet();
        s.block_period = Duration::ZERO;
        assert_eq!(s.validate(), Err(SpecError::Zero("block_period")));
        let mut s = ChainSpec::mainnet();
        s.rnode_deposit = 1;
        assert_eq!(s.validate(), Err(SpecError::Deposits));
    }

    /// Issue 13 item 8: a custom chain without editing `mainnet()`. Every setter reaches its
    /// field, unset fields keep the base's values, and `build()` refuses what `validate()`
    /// refuses, with the same error.
    #[test]
    fn chain_spec_builder_sets_every_field_and_validates() {
        let weights = RptWeights {
            balance: 40,
            transactions: 20,
            proxy: 10,
            data: 20,
            maintenance: 10,
        };
        let s = ChainSpec::builder()
            .chain_id(9_001)
            .block_period(Duration::from_secs(2))
            .proposers_per_term(6)
            .view_len(2)
            .fault_tolerance(3)
            .impeach_timeout(Duration::from_secs(4))
            .rnode_deposit(500)
            .economy_deposit(50)
            .rnode_lock(Duration::from_mins(5))
            .default_proposers_until(Height(24))
            .max_candidates(40)
            .rpt_window(50)
            .rpt_weights(weights)
            .impeach_punish_window(1_000)
            .elected_seats(5)
            .low_rpt_seats(1)
            .election_lead_terms(3)
            .admission_cpu_difficulty(8)
            .admission_memory_difficulty(4)
            .admission_max_block_age(20)
            .max_campaign_terms(2)
            .free_tx_per_day(7)
            .build()
            .unwrap();
        let mut want = ChainSpec::mainnet();
        want.chain_id = 9_001;
        want.block_period = Duration::from_secs(2);
        want.proposers_per_term = 6;
        want.view_len = 2;
        want.fault_tolerance = 3;
        want.impeach_timeout = Duration::from_secs(4);
        want.rnode_deposit = 500;
        want.economy_deposit = 50;
        want.rnode_lock = Duration::from_mins(5);
        want.default_proposers_until = Height(24);
        want.max_candidates = 40;
        want.rpt_window = 50;
        want.rpt_weights = weights;
        want.impeach_punish_window = 1_000;
        want.elected_seats = 5;
        want.low_rpt_seats = 1;
        want.election_lead_terms = 3;
        want.admission_cpu_difficulty = 8;
        want.admission_memory_difficulty = 4;
        want.admission_max_block_age = 20;
        want.max_campaign_terms = 2;
        want.free_tx_per_day = 7;
        assert_eq!(s, want);
        // Every value above differs from mainnet's, so a setter that wrote no field or the
        // wrong one would leave a mainnet value behind and fail the comparison.
        assert_eq!(s.validators(), 10);

        // A base other than mainnet keeps its own values.
        let d = ChainSpecBuilder::new(ChainSpec::devnet())
            .chain_id(42)
            .build()
            .unwrap();
        assert_eq!(d.block_period, ChainSpec::devnet().block_period);
        assert_eq!(d.chain_id, 42);

        // Refused exactly as validate() refuses.
        assert_eq!(
            ChainSpec::builder().fault_tolerance(0).build(),
            Err(SpecError::FaultBound)
        );
        assert_eq!(
            ChainSpec::builder().view_len(0).build(),
            Err(SpecError::Zero("view_len"))
        );
        assert_eq!(
            ChainSpec::builder().economy_deposit(u128::MAX).build(),
            Err(SpecError::Deposits)
        );
        assert_eq!(
            ChainSpec::builder().low_rpt_seats(9).build(),
            Err(SpecError::Seats)
        );
    }
}
