//! What a validator needs to run: chain, committee, key, the impeach rule and every bound.

use super::block::{MAX_BLOCK_BYTES, MAX_BODY_HEAP, MAX_TRANSACTIONS};
use super::committee::{ImpeachQuorum, ValidatorSet};
use super::error::ConfigError;
use cpchain_core::{Address, ChainSpec, Duration};
use cpchain_crypto::SecretKey;

/// Configuration of one [`crate::lbft::Validator`]. Build with [`Config::new`] and adjust
/// the public fields; the validator checks them on construction.
#[derive(Debug, Clone)]
pub struct Config {
    /// Chain parameters: chain id, period, impeach timeout, `f`.
    pub spec: ChainSpec,
    /// The validators committee; must have `3f + 1` members and contain `key`.
    pub validators: ValidatorSet,
    /// This validator's signing key (zeroized on drop, redacted in `Debug`).
    pub key: SecretKey,
    /// Impeach certificate size; keep the default unless every validator is crash-only.
    pub impeach_quorum: ImpeachQuorum,
    /// Largest body (sum of transaction bytes) accepted; at most [`MAX_BLOCK_BYTES`].
    pub max_block_bytes: usize,
    /// Most transactions per block; at most [`MAX_TRANSACTIONS`].
    pub max_transactions: usize,
    /// Cap on a round's length (round `r` lasts `impeach_timeout × 2^r` until this cap).
    pub max_round_length: Duration,
    /// How many heights ahead messages are buffered (catch-up).
    pub future_heights: u64,
    /// Capacity of the future-message buffer, in messages; overflow is dropped and counted.
    pub future_buffer: usize,
    /// Capacity of the future-message buffer in bytes (entries plus heap, see
    /// [`crate::lbft::budget`]): messages carry blocks, so a count alone bounds nothing.
    pub future_bytes: usize,
    /// Most future messages kept per member (votes, round changes, proposals); the
    /// scheduled proposer of each future height and its VALIDATE get one each.
    pub future_sender_messages: usize,
    /// Most future-buffer bytes charged to one sender (member, or one height's PRE-PREPARE
    /// or VALIDATE); at least one maximum-size block message.
    pub future_sender_bytes: usize,
    /// Most heap bytes of blocks (and proposals carrying them) kept at the current height.
    pub height_bytes: usize,
    /// Most heap bytes of recent VALIDATEs kept for catch-up (the newest is always kept).
    pub catch_up_bytes: usize,
    /// How many recent VALIDATEs are kept to bring a lagging validator up to date (the
    /// mirror of `future_heights`): a validator at most this many heights behind is
    /// caught up by the engine; one further behind needs the host's block sync.
    pub catch_up_heights: u64,
    /// How many rounds ahead of the current one messages are accepted.
    pub round_lookahead: u32,
    /// Most distinct blocks kept at one height (proposals, locks, the impeach block).
    pub max_blocks_per_height: usize,
    /// Reward address used when this node proposes with [`crate::lbft::Validator::propose`].
    pub coinbase: Address,
}

impl Config {
    /// A configuration with default bounds: 1 MiB blocks, rounds capped at 64 impeach
    /// timeouts, 8 heights and 1024 messages buffered, 8 heights of VALIDATEs kept for
    /// catch-up, 16 rounds of lookahead. Byte budgets, in units of the largest decoded
    /// block body `B` = [`MAX_BODY_HEAP`] (2.5 MiB): future buffer `6B` with `B + 64 KiB`
    /// and 128 messages per sender, current height `5B`, catch-up `3B`; the whole is
    /// about 37 MiB at `n = 7` ([`Config::peer_memory_bound`]).
    pub fn new(spec: ChainSpec, validators: ValidatorSet, key: SecretKey) -> Config {
        let max_round_length = spec.impeach_timeout.saturating_mul(64);
        let coinbase = key.public_key().address();
        Config {
            spec,
            validators,
            key,
            impeach_quorum: ImpeachQuorum::default(),
            max_block_bytes: MAX_BLOCK_BYTES,
            max_transactions: MAX_TRANSACTIONS,
            max_round_length,
            future_heights: 8,
            future_buffer: 1024,
            future_bytes: 6 * MAX_BODY_HEAP,
            future_sender_messages: 128,
            future_sender_bytes: MAX_BODY_HEAP + (64 << 10),
            height_bytes: 5 * MAX_BODY_HEAP,
            catch_up_bytes: 3 * MAX_BODY_HEAP,
            catch_up_heights: 8,
            round_lookahead: 16,
            max_blocks_per_height: 16,
            coinbase,
        }
    }

    /// Check the configuration; returns the local validator's address.
    pub fn check(&self) -> Result<Address, ConfigError> {
        self.spec.validate().map_err(ConfigError::Spec)?;
        let expected = usize::try_from(self.spec.validators()).unwrap_or(usize::MAX);
        if self.validators.len() != expected {
            return Err(ConfigError::ValidatorCount {
                expected,
                found: self.validators.len(),
            });
        }
        let me = self.key.public_key().address();
        if !self.validators.contains(&me) {
            return Err(ConfigError::NotAValidator);
        }
        if self.max_block_bytes > MAX_BLOCK_BYTES {
            return Err(ConfigError::Limit("max_block_bytes"));
        }
        if self.max_transactions > MAX_TRANSACTIONS {
            return Err(ConfigError::Limit("max_transactions"));
        }
        if self.max_round_length < self.spec.impeach_timeout {
            return Err(ConfigError::Limit("max_round_length"));
        }
        if self.future_buffer == 0 || self.future_buffer > 1 << 20 {
            return Err(ConfigError::Limit("future_buffer"));
        }
        if self.future_sender_messages == 0 {
            return Err(ConfigError::Limit("future_sender_messages"));
        }
        // Zero would refuse every future message (the budgets are checked in
        // `budget::FutureBuffer::push`; no upper cap: they are the host's choice).
        if self.future_bytes == 0 || self.future_sender_bytes == 0 {
            return Err(ConfigError::Limit("future_bytes"));
        }
        // At least the previous height: a validator one height behind must be caught up.
        if self.catch_up_heights == 0 || self.catch_up_heights > 1024 {
            return Err(ConfigError::Limit("catch_up_heights"));
        }
        if self.round_lookahead == 0 || self.round_lookahead > 1024 {
            return Err(ConfigError::Limit("round_lookahead"));
        }
        // Room for a proposal, the impeach block and a few locks.
        if self.max_blocks_per_height < 4 || self.max_blocks_per_height > 1024 {
            return Err(ConfigError::Limit("max_blocks_per_height"));
        }
        Ok(me)
    }
}
