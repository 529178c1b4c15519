//! Transaction fees of white paper §4, item 2: "ordinary nodes … have the right to send a
//! fixed number of free transactions every day. If this number is exceeded … the system
//! will charge a fee." dApp transactions are paid by the dApp developer (item 4), so they
//! never draw on the free quota.
//!
//! A pure function: the host counts each address's transactions per UTC day (see
//! [`day_of`]) and asks what the next one costs. The quota is `spec.free_tx_per_day`; the
//! fee itself (gas × price) is the host's, passed in, because the paper fixes no figure.
//! The paper's "or the transaction frequency is too fast" is rate limiting, which belongs to
//! the host's mempool, not to a fee rule every node must agree on.

use cpchain_core::{ChainSpec, Timestamp};
use serde::{Deserialize, Serialize};

/// Milliseconds in a day: the quota's period.
pub const DAY_MS: u64 = 86_400_000;

/// Who sends a transaction, for fee purposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Sender {
    /// An ordinary address: has a free daily quota.
    Ordinary,
    /// A transaction resulting from a dApp: its developer bears the cost (§4 item 4).
    DApp,
}

/// The UTC day index of `now` (days since the epoch): the key of the host's daily counter.
pub fn day_of(now: Timestamp) -> u64 {
    now.as_millis() / DAY_MS
}

/// What the next transaction of a sender costs, given how many it already sent today.
///
/// ```
/// use cpchain_consensus::dpor::{transaction_fee, Sender};
/// let spec = cpchain_core::ChainSpec::mainnet(); // 100 free a day
/// assert_eq!(transaction_fee(&spec, Sender::Ordinary, 99, 21_000), 0);
/// assert_eq!(transaction_fee(&spec, Sender::Ordinary, 100, 21_000), 21_000);
/// assert_eq!(transaction_fee(&spec, Sender::DApp, 0, 21_000), 21_000);
/// ```
pub fn transaction_fee(spec: &ChainSpec, sender: Sender, sent_today: u32, fee: u128) -> u128 {
    match sender {
        Sender::Ordinary if sent_today < spec.free_tx_per_day => 0,
        _ => fee,
    }
}

/// Free transactions `sender` has left today.
pub fn free_remaining(spec: &ChainSpec, sender: Sender, sent_today: u32) -> u32 {
    match sender {
        Sender::Ordinary => spec.free_tx_per_day.saturating_sub(sent_today),
        Sender::DApp => 0,
    }
}
