//! Signed transaction envelopes, account state and the mempool.
//!
//! A transaction is a [`TxBody`] (chain id, nonce, kind and body: a transfer, a transfer
//! with a bounded payload, the DPoR kinds) and a 65-byte recoverable secp256k1 signature
//! over its postcard encoding
//! under [`TX_DOMAIN`]; the sender is the recovered address (Ethereum-style: no public key
//! is sent). Accounts hold a nonce, a balance and the day counter of the SDK's fee policy
//! (`dpor::transaction_fee`: `free_tx_per_day` free transactions a UTC day of the block's
//! time, then [`TRANSFER_FEE`] paid to the block's coinbase). A transaction applies only
//! with the sender's next nonce, so a replay is refused (`nonce_replayed`).
//!
//! Genesis allocation: every validator address starts with [`GENESIS_BALANCE`] (the
//! devnet has no other allocation yet).

pub mod ledger;

use crate::dpor_state::DporState;
use crate::ledger::{EmptyLedger, LedgerCtx, LedgerOverlay, LedgerRead};
use cpchain_consensus::dpor::{self, transaction_fee, Sender};
use cpchain_core::{
    encoding, keccak256, Address, ChainSpec, Domain, Hash, Height, Timestamp, WireMessage,
};
use cpchain_crypto::{SecretKey, Signature};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// Domain of transaction signatures.
pub const TX_DOMAIN: Domain = Domain::new("cpchain-node/tx/v1");

/// What a transfer costs once the sender's free daily quota is used.
pub const TRANSFER_FEE: u128 = 21_000;

/// Largest payload of a [`TxKind::TransferData`]: room for the issue 14 benchmark's
/// 200-byte transfers (107 bytes of payload) and for a hash, an IPFS-style content id or a
/// short memo, while a transaction stays far below [`MAX_TX_BYTES`]. A longer payload is
/// refused at decoding (`decode`).
pub const MAX_TRANSFER_DATA: usize = 256;

/// Fee per payload byte of a [`TxKind::TransferData`] once the free quota is used, on top
/// of [`TRANSFER_FEE`]: Ethereum's calldata price (16 gas a non-zero byte), so a payload
/// costs what its bytes cost every node to carry. Inside the free daily quota it is free,
/// like every transaction (`dpor::transaction_fee`).
pub const DATA_BYTE_FEE: u128 = 16;

/// Balance of every validator address at genesis.
pub const GENESIS_BALANCE: u128 = 1_000_000_000_000_000;

/// Balance of every listed proposer RNode at genesis: one million CPC, five times the
/// RNode deposit.
pub const PROPOSER_GENESIS_BALANCE: u128 = 1_000_000 * cpchain_core::BASE_UNITS_PER_CPC;

/// Genesis balances by address.
pub type Allocation = BTreeMap<Address, u128>;

/// What a transaction does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxKind {
    /// Move `amount` base units to `to`.
    Transfer {
        /// The recipient.
        to: Address,
        /// Base units.
        amount: u128,
    },
    /// Deposit `amount` base units into the RNode pool (at least `rnode_deposit`): the
    /// sender becomes an RNode and may campaign (white paper §5.1.1).
    JoinRNodes {
        /// Base units moved from the balance into the pool.
        amount: u128,
    },
    /// Stand for election (§2.3): the sender, an RNode, with admission proofs over a
    /// recent canonical block, for `campaign.terms` terms from the first not yet elected.
    Campaign(dpor::Campaign),
    /// A transfer carrying an opaque payload of at most [`MAX_TRANSFER_DATA`] bytes (a
    /// memo, a content hash): executes as [`TxKind::Transfer`], fee
    /// [`TRANSFER_FEE`] + [`DATA_BYTE_FEE`] per byte under the SDK's fee policy. Issue 14's
    /// benchmark feeds 200-byte encodings of this kind.
    TransferData {
        /// The recipient.
        to: Address,
        /// Base units.
        amount: u128,
        /// The payload, at most [`MAX_TRANSFER_DATA`] bytes (checked while decoding, before
        /// the copy). Through serde as bytes, not a sequence (issue 14; same encoding).
        #[serde(
            serialize_with = "cpchain_core::encoding::bytes::serialize",
            deserialize_with = "cpchain_core::encoding::bounded_bytes::<_, MAX_TRANSFER_DATA>"
        )]
        data: Vec<u8>,
    },
    // ---- The data ledger (issue 15; checks and state in [`crate::ledger`]). ----
    /// Register a data stream: the sender becomes its owner, `device` the key whose
    /// anchors count.
    RegisterStream {
        /// The stream.
        stream: cpchain_storage::StreamId,
        /// The device's secp256k1 key, 33 bytes compressed (parsed on execution, so the
        /// kind stays small in the mempool; `bad_device` if it is not a key).
        #[serde(with = "cpchain_core::fixed_bytes")]
        device: [u8; 33],
    },
    /// A device-signed anchor of a registered stream's head.
    Anchor(Box<cpchain_storage::Anchor>),
    /// A signed sharing grant (`sharing::SignedGrant`'s encoding), sent by its owner.
    Grant {
        /// The record's bytes (at most [`crate::ledger::MAX_GRANT_BYTES`]).
        #[serde(with = "cpchain_core::encoding::bytes")]
        record: Vec<u8>,
    },
    /// A signed revocation (`sharing::SignedRevoke`'s encoding), sent by the grant's owner.
    Revoke {
        /// The record's bytes (at most [`crate::ledger::MAX_REVOKE_BYTES`]).
        #[serde(with = "cpchain_core::encoding::bytes")]
        record: Vec<u8>,
    },
    /// A seller's signed market listing.
    Listing(Box<cpchain_storage::market::SignedListing>),
    /// A buyer's order: locks the price in escrow.
    Order(Box<crate::ledger::OrderTx>),
    /// The seller delivers an order with a grant on chain.
    Deliver {
        /// The order.
        order: crate::ledger::OrderId,
        /// The grant's id.
        grant: Hash,
    },
    /// The buyer releases the payment to the seller.
    Confirm {
        /// The order.
        order: crate::ledger::OrderId,
    },
    /// The buyer disputes a delivery before release: refunded.
    Dispute {
        /// The order.
        order: crate::ledger::OrderId,
    },
}

impl TxKind {
    /// The amount a transaction moves out of the sender's balance (to a recipient or
    /// into the RNode pool), before the fee.
    pub fn amount(&self) -> u128 {
        match self {
            TxKind::Transfer { amount, .. }
            | TxKind::TransferData { amount, .. }
            | TxKind::JoinRNodes { amount } => *amount,
            // Campaigns move nothing; a data-ledger order's escrow is planned by the
            // ledger on execution.
            _ => 0,
        }
    }

    /// The fee once the free daily quota is used (`dpor::transaction_fee` decides whether
    /// it is charged).
    pub fn base_fee(&self) -> u128 {
        match self {
            TxKind::TransferData { data, .. } => {
                TRANSFER_FEE.saturating_add(DATA_BYTE_FEE.saturating_mul(data.len() as u128))
            }
            _ => TRANSFER_FEE,
        }
    }
}

/// The signed part of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxBody {
    /// Chain id: a signature for another chain never applies here.
    pub chain_id: u64,
    /// The sender's sequence number, from 0; each applies once.
    pub nonce: u64,
    /// What it does.
    pub kind: TxKind,
}

impl WireMessage for TxBody {
    const TAG: u16 = 0x0a00;
    // A signed market listing is the largest kind: at most 1,600 bytes, plus the
    // envelope, chain id, nonce and variant.
    const MAX_ENCODED_LEN: usize = 1_720;
}

/// A signed transaction envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// What is signed.
    pub body: TxBody,
    /// `r ‖ s ‖ v` over the body's encoding under [`TX_DOMAIN`] (raw bytes: a malformed
    /// signature is a `bad_signature`, not an undecodable envelope).
    #[serde(with = "cpchain_core::fixed_bytes")]
    pub signature: [u8; 65],
}

impl WireMessage for Transaction {
    const TAG: u16 = 0x0a01;
    const MAX_ENCODED_LEN: usize = MAX_TX_BYTES;
}

/// Why a transaction was refused; [`TxError::code`] is the API's stable error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TxError {
    /// Not a canonical transaction encoding.
    #[error("not a transaction encoding")]
    Decode,
    /// Signed for another chain.
    #[error("signed for chain {0}")]
    WrongChain(u64),
    /// The signature is malformed or does not recover.
    #[error("bad signature")]
    BadSignature,
    /// The nonce was used already (a replay).
    #[error("nonce {got} already used (next is {next})")]
    NonceReplayed {
        /// The sender's next nonce.
        next: u64,
        /// The transaction's.
        got: u64,
    },
    /// The nonce is ahead of the sender's next one (held until the gap fills, in the pool).
    #[error("nonce {got} is ahead of the next one ({next})")]
    NonceGap {
        /// The sender's next nonce.
        next: u64,
        /// The transaction's.
        got: u64,
    },
    /// Balance below amount plus fee.
    #[error("insufficient funds")]
    InsufficientFunds,
    /// The same transaction is already pending.
    #[error("already pending")]
    Duplicate,
    /// The mempool is full.
    #[error("mempool full")]
    MempoolFull,
    /// The RNode pool refused the deposit (below the minimum, already an RNode, full).
    #[error("rnode deposit refused")]
    RNodeDeposit,
    /// The campaign was refused (not an RNode, admission proof bad or stale, term full,
    /// or not signed by its candidate).
    #[error("campaign refused")]
    Campaign,
    /// A data-ledger kind was refused (its own code, see [`crate::ledger::LedgerError`]).
    #[error("{0}")]
    Ledger(#[from] crate::ledger::LedgerError),
}

impl TxError {
    /// The stable code of the HTTP API.
    pub fn code(&self) -> &'static str {
        match self {
            TxError::Decode => "decode",
            TxError::WrongChain(_) => "wrong_chain",
            TxError::BadSignature => "bad_signature",
            TxError::NonceReplayed { .. } => "nonce_replayed",
            TxError::NonceGap { .. } => "nonce_gap",
            TxError::InsufficientFunds => "insufficient_funds",
            TxError::Duplicate => "duplicate",
            TxError::MempoolFull => "mempool_full",
            TxError::RNodeDeposit => "rnode_deposit_refused",
            TxError::Campaign => "campaign_refused",
            TxError::Ledger(e) => e.code(),
        }
    }
}

impl Transaction {
    /// Sign `body` with `key`.
    pub fn sign(key: &SecretKey, body: TxBody) -> Transaction {
        let bytes = encoding::encode_to_vec(&body).unwrap_or_default();
        let signature = key.sign(&TX_DOMAIN, &bytes).to_bytes();
        Transaction { body, signature }
    }

    /// The encoded envelope (what goes into blocks and to the API).
    pub fn to_bytes(&self) -> Vec<u8> {
        encoding::encode_to_vec(self).unwrap_or_default()
    }

    /// Decode an envelope.
    pub fn from_bytes(bytes: &[u8]) -> Result<Transaction, TxError> {
        encoding::decode(bytes).map_err(|_| TxError::Decode)
    }

    /// The sender: the address recovered from the signature (one recovery).
    pub fn sender(&self) -> Result<Address, TxError> {
        let bytes = encoding::encode_to_vec(&self.body).map_err(|_| TxError::Decode)?;
        Signature::from_bytes(&self.signature)
            .and_then(|s| s.recover_signer(&TX_DOMAIN, &bytes))
            .map_err(|_| TxError::BadSignature)
    }
}

/// The sender of a transaction decoded (canonically) from `bytes`, without encoding its
/// body again: the envelope is `header(Transaction) ‖ postcard(body) ‖ signature` (the
/// signature a 65-byte tuple, last) and the signed payload is `header(TxBody) ‖
/// postcard(body)`, so the body's bytes are the envelope's middle slice and the signing
/// digest (`encoding::signing_digest` under [`TX_DOMAIN`]) is taken over the parts
/// in place. Only for bytes `tx` was canonically decoded from (`Transaction::from_bytes`
/// refuses any other encoding), where it equals [`Transaction::sender`] (the differential
/// test `envelope_sender_matches_the_re_encoding_path` checks it on random and malformed
/// envelopes).
fn envelope_sender(bytes: &[u8], tx: &Transaction) -> Result<Address, TxError> {
    let end = bytes
        .len()
        .checked_sub(tx.signature.len())
        .ok_or(TxError::Decode)?;
    let body = bytes
        .get(encoding::HEADER_LEN..end)
        .ok_or(TxError::Decode)?;
    // The old path encoded the body with its own bound: keep refusing what it refused.
    if encoding::HEADER_LEN.saturating_add(body.len()) > <TxBody as WireMessage>::MAX_ENCODED_LEN {
        return Err(TxError::Decode);
    }
    let [hi, lo] = <TxBody as WireMessage>::TAG.to_be_bytes();
    let head = [encoding::WIRE_VERSION, hi, lo];
    let name = TX_DOMAIN.name().as_bytes();
    let len = (name.len() as u64).to_le_bytes();
    let digest =
        cpchain_core::keccak256_concat(&[encoding::SIGNING_PREFIX, &len, name, &head, body]);
    Signature::from_bytes(&tx.signature)
        .and_then(|s| s.recover(&digest))
        .map(|k| k.address())
        .map_err(|_| TxError::BadSignature)
}

/// A map keyed by transaction hash (the pool's index, the sender cache), hashed with
/// aHash under a key drawn from the OS's randomness once per process: std's SipHash-1-3
/// over the 32-byte keys (with its length prefix) was ~0.7 % of a loaded devnet's CPU
/// (issue 14). Keyed, because the keys are the hashes of transactions that anyone can
/// sign many of: an attacker who does not know the key cannot aim many at one bucket.
pub type HashKeyed<V> = HashMap<Hash, V, ahash::RandomState>;

/// The first 8 bytes of an envelope's signature `r` (an envelope ends with its 65-byte
/// `r ‖ s ‖ v`): the pool's second index ([`Mempool::known_hash`]). `r` is the x
/// coordinate of a per-signature random point, so distinct transactions share a key only
/// by chance or on purpose, and either way a lookup compares the bytes whole.
fn sig_key(bytes: &[u8]) -> Option<u64> {
    let start = bytes.len().checked_sub(65)?;
    let r = bytes.get(start..start.checked_add(8)?)?;
    Some(u64::from_le_bytes(r.try_into().ok()?))
}

/// The id of an encoded transaction.
pub fn tx_hash(bytes: &[u8]) -> Hash {
    keccak256(bytes)
}

/// One account's state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The next nonce.
    pub nonce: u64,
    /// Base units.
    pub balance: u128,
    /// UTC day (of block time) of `sent_today`.
    pub day: u64,
    /// Transactions sent that day (the fee policy's free quota).
    pub sent_today: u32,
}

/// A decoded transaction with its recovered sender.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The envelope.
    pub tx: Transaction,
    /// Its sender.
    pub sender: Address,
    /// Its hash ([`tx_hash`] of `bytes`).
    pub hash: Hash,
    /// Its encoding.
    pub bytes: Vec<u8>,
}

/// Largest encoded transaction the node takes (the API refuses longer ones as `decode`).
/// A signed listing (the largest kind) fits; 1,024 of them (a gossip batch) stay under
/// the 2 MiB gossip message bound.
pub const MAX_TX_BYTES: usize = 1_792;

static RECOVERIES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Signature recoveries this process has made through [`check_one`] (every path a node
/// recovers a transaction's sender on): the measure of "once per transaction per node".
pub fn recoveries() -> u64 {
    RECOVERIES.load(std::sync::atomic::Ordering::Relaxed)
}

/// The cores recovery spreads over (read once: `available_parallelism` reads cgroup files
/// on every call, which showed in the node loop's profile under `check_block`).
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    })
}

/// The recovery worker pools of this process, built once: one at background priority for
/// intake ([`recover_owned`], whose callers hold [`crate::priority::background_turn`]) and
/// one at normal priority for what a block needs now ([`recover_each`]: `CheckBlock`'s
/// misses, block sync). Before (issue 14), each batch spawned and joined fresh scoped
/// threads: at 5,000 tx/s on a 4-validator devnet that was ~40 thread creations a second per
/// node, each an mmap'd stack, a signal stack, a malloc arena warm-up and the kernel's RCU
/// work at exit (visible in the profile as `clone3`, `make_handler`, `tcache_init` and the
/// `rcu_preempt` thread). `None` if the OS refused the threads: the caller then recovers
/// on its own thread.
fn pool(background: bool) -> Option<&'static rayon::ThreadPool> {
    static BACKGROUND: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    static FOREGROUND: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    let cell = if background { &BACKGROUND } else { &FOREGROUND };
    cell.get_or_init(|| {
        let b = rayon::ThreadPoolBuilder::new()
            .num_threads(cores())
            .thread_name(move |i| {
                if background {
                    format!("intake-recover-{i}")
                } else {
                    format!("block-recover-{i}")
                }
            });
        let b = if background {
            b.start_handler(|_| {
                crate::priority::lower_this_thread();
            })
        } else {
            b
        };
        b.build().ok()
    })
    .as_ref()
}

/// `f(item)` for each item on `pool`'s threads, results in order; a panic in one (a bug)
/// refuses that item instead of unwinding into the caller.
fn par_map<T: Send, R: Send>(
    pool: &rayon::ThreadPool,
    items: Vec<T>,
    f: impl Fn(T) -> Result<R, TxError> + Sync + Send,
) -> Vec<Result<R, TxError>> {
    use rayon::prelude::*;
    pool.install(|| {
        items
            .into_par_iter()
            .with_min_len(8)
            .map(|t| {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(t)))
                    .unwrap_or(Err(TxError::BadSignature))
            })
            .collect()
    })
}

/// Decode, check the chain id of and recover the sender of one encoded transaction.
pub fn check_one(bytes: &[u8], chain_id: u64) -> Result<Checked, TxError> {
    if bytes.len() > MAX_TX_BYTES {
        return Err(TxError::Decode);
    }
    let tx = Transaction::from_bytes(bytes)?;
    if tx.body.chain_id != chain_id {
        return Err(TxError::WrongChain(tx.body.chain_id));
    }
    RECOVERIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let sender = envelope_sender(bytes, &tx)?;
    Ok(Checked {
        tx,
        sender,
        hash: tx_hash(bytes),
        bytes: bytes.to_vec(),
    })
}

/// [`check_one`] for a transaction whose hash the caller took already (to look it up in
/// the sender cache) and whose bytes it owns: neither is done twice (issue 14: a gossiped
/// or submitted transaction was hashed twice and copied once more on its way in).
pub fn check_owned(bytes: Vec<u8>, hash: Hash, chain_id: u64) -> Result<Checked, TxError> {
    if bytes.len() > MAX_TX_BYTES {
        return Err(TxError::Decode);
    }
    let tx = Transaction::from_bytes(&bytes)?;
    if tx.body.chain_id != chain_id {
        return Err(TxError::WrongChain(tx.body.chain_id));
    }
    RECOVERIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let sender = envelope_sender(&bytes, &tx)?;
    Ok(Checked {
        tx,
        sender,
        hash,
        bytes,
    })
}

/// [`check_owned`] for each of `items` (`(tx_hash, bytes)`), split over every core on the
/// background-priority worker pool; one result per item, in order. The caller's thread
/// waits (intake: a blocking-pool thread holding the background turn).
pub fn recover_owned(items: Vec<(Hash, Vec<u8>)>, chain_id: u64) -> Vec<Result<Checked, TxError>> {
    recover_owned_on(true, items, chain_id)
}

/// [`recover_owned`] with `each` in place of [`check_owned`], on the same background pool:
/// the intake's per-transaction sender-cache lookup ([`crate::ingest::recover_unless_known`]).
pub(crate) fn recover_owned_by(
    items: Vec<(Hash, Vec<u8>)>,
    each: impl Fn(Hash, Vec<u8>) -> Result<Checked, TxError> + Sync + Send,
) -> Vec<Result<Checked, TxError>> {
    match pool(true) {
        Some(p) if items.len() >= 32 && cores() >= 2 => par_map(p, items, |(h, b)| each(h, b)),
        _ => items.into_iter().map(|(h, b)| each(h, b)).collect(),
    }
}

/// [`recover_owned`] on the normal-priority worker pool, as [`recover_each`]: the block
/// path's misses (`CheckBlock`) whose hashes the consensus engine gave (issue 14: not
/// hashed again).
pub fn recover_owned_block(
    items: Vec<(Hash, Vec<u8>)>,
    chain_id: u64,
) -> Vec<Result<Checked, TxError>> {
    recover_owned_on(false, items, chain_id)
}

/// [`check_owned`] for each item on the background or the normal-priority pool (on the
/// caller's thread for a short batch or a single core).
fn recover_owned_on(
    background: bool,
    items: Vec<(Hash, Vec<u8>)>,
    chain_id: u64,
) -> Vec<Result<Checked, TxError>> {
    match pool(background) {
        Some(p) if items.len() >= 32 && cores() >= 2 => {
            par_map(p, items, |(h, b)| check_owned(b, h, chain_id))
        }
        _ => items
            .into_iter()
            .map(|(h, b)| check_owned(b, h, chain_id))
            .collect(),
    }
}

/// [`check_one`] for each of `txs`, split over every core on the normal-priority worker
/// pool (one result per transaction, in order); the caller's thread waits for them.
pub fn recover_each(txs: &[Vec<u8>], chain_id: u64) -> Vec<Result<Checked, TxError>> {
    match pool(false) {
        Some(p) if txs.len() >= 32 && cores() >= 2 => {
            par_map(p, txs.iter().collect(), |b| check_one(b, chain_id))
        }
        _ => txs.iter().map(|b| check_one(b, chain_id)).collect(),
    }
}

/// Decode and recover the senders of `txs`, on every core ([`recover_each`]); `Err` on
/// the first that fails.
pub fn check_all(txs: &[Vec<u8>], chain_id: u64) -> Result<Vec<Checked>, TxError> {
    recover_each(txs, chain_id).into_iter().collect()
}

/// Account changes of a block on top of the stored state.
#[derive(Debug, Default, Clone)]
pub struct Overlay {
    /// Changed accounts.
    pub accounts: BTreeMap<Address, Account>,
    /// The DPoR state after the block (stored with it).
    pub dpor: DporState,
    /// The block's data-ledger changes (stored with it).
    pub ledger: LedgerOverlay,
}

/// Where a transaction executes: the height of the block and the canonical chain below
/// it (campaign proofs name a recent canonical block).
pub struct ChainView<'a> {
    /// The block's height.
    pub height: Height,
    /// The canonical block id at a height below it (genesis at 0).
    pub canonical: &'a dyn Fn(Height) -> Option<Hash>,
    /// The stored data ledger below the block.
    pub ledger: &'a dyn LedgerRead,
}

impl std::fmt::Debug for ChainView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainView")
            .field("height", &self.height)
            .finish()
    }
}

impl Overlay {
    /// The account, from the overlay or `load`.
    pub fn get(&self, a: &Address, load: &impl Fn(&Address) -> Account) -> Account {
        self.accounts.get(a).copied().unwrap_or_else(|| load(a))
    }

    /// Credit escrow payouts.
    pub fn credit(&mut self, payouts: &[(Address, u128)], load: &impl Fn(&Address) -> Account) {
        for (a, amount) in payouts {
            let mut acct = self.get(a, load);
            acct.balance = acct.balance.saturating_add(*amount);
            self.accounts.insert(*a, acct);
        }
    }

    /// An overlay on the stored accounts and DPoR state `dpor`.
    pub fn on(dpor: DporState) -> Overlay {
        Overlay {
            accounts: BTreeMap::new(),
            dpor,
            ledger: LedgerOverlay::default(),
        }
    }

    /// Apply one checked transaction at block time `time` with fees to `coinbase`, where
    /// no chain is known (campaigns are refused).
    pub fn apply(
        &mut self,
        spec: &ChainSpec,
        c: &Checked,
        time: Timestamp,
        coinbase: Address,
        load: &impl Fn(&Address) -> Account,
    ) -> Result<(), TxError> {
        let none = |_: Height| None;
        let chain = ChainView {
            height: Height(0),
            canonical: &none,
            ledger: &EmptyLedger,
        };
        self.apply_in(spec, c, time, coinbase, load, &chain)
    }

    /// Apply one checked transaction of the block at `chain.height`, at block time `time`
    /// with fees to `coinbase`. State unchanged on error.
    pub fn apply_in(
        &mut self,
        spec: &ChainSpec,
        c: &Checked,
        time: Timestamp,
        coinbase: Address,
        load: &impl Fn(&Address) -> Account,
        chain: &ChainView<'_>,
    ) -> Result<(), TxError> {
        let mut from = self.get(&c.sender, load);
        if c.tx.body.nonce < from.nonce {
            return Err(TxError::NonceReplayed {
                next: from.nonce,
                got: c.tx.body.nonce,
            });
        }
        if c.tx.body.nonce > from.nonce {
            return Err(TxError::NonceGap {
                next: from.nonce,
                got: c.tx.body.nonce,
            });
        }
        let day = cpchain_consensus::dpor::day_of(time);
        let sent = if from.day == day { from.sent_today } else { 0 };
        let fee = transaction_fee(spec, Sender::Ordinary, sent, c.tx.body.kind.base_fee());
        let ctx = LedgerCtx {
            chain_id: spec.chain_id,
            time,
            sender: c.sender,
            nonce: c.tx.body.nonce,
        };
        let plan = self.ledger.plan(chain.ledger, &ctx, &c.tx.body.kind)?;
        let (to, amount) = match &c.tx.body.kind {
            TxKind::Transfer { to, amount } | TxKind::TransferData { to, amount, .. } => {
                (Some(*to), *amount)
            }
            TxKind::JoinRNodes { amount } => (None, *amount),
            _ => (None, plan.as_ref().map_or(0, |p| p.lock)),
        };
        let cost = amount.checked_add(fee).ok_or(TxError::InsufficientFunds)?;
        from.balance = from
            .balance
            .checked_sub(cost)
            .ok_or(TxError::InsufficientFunds)?;
        from.nonce = from.nonce.saturating_add(1);
        from.day = day;
        from.sent_today = sent.saturating_add(1);
        match &c.tx.body.kind {
            TxKind::Transfer { .. } | TxKind::TransferData { .. } => {}
            TxKind::JoinRNodes { amount } => {
                self.dpor.join(spec, time, c.sender, *amount).map_err(|e| {
                    tracing::debug!(sender = %c.sender, "rnode deposit refused: {e}");
                    TxError::RNodeDeposit
                })?;
            }
            TxKind::Campaign(campaign) => {
                self.dpor
                    .campaign(spec, c.sender, campaign, chain.height, chain.canonical)
                    .map_err(|e| {
                        tracing::debug!(sender = %c.sender, "campaign refused: {e}");
                        TxError::Campaign
                    })?;
            }
            _ => {}
        }
        self.accounts.insert(c.sender, from);
        if let Some(plan) = plan {
            let payouts = self.ledger.apply(plan);
            self.credit(&payouts, load);
        }
        if let Some(to) = to {
            let mut dest = self.get(&to, load);
            dest.balance = dest.balance.saturating_add(amount);
            self.accounts.insert(to, dest);
        }
        if fee > 0 {
            let mut cb = self.get(&coinbase, load);
            cb.balance = cb.balance.saturating_add(fee);
            self.accounts.insert(coinbase, cb);
        }
        Ok(())
    }
}

/// Heap bytes the pool charges a pending transaction beyond its encoding: the `Checked`
/// value (one shared allocation), its (sender, nonce) key in a B-tree leaf (leaves
/// between 5/11 and full), the hash index entry and the signature index entry. Measured
/// with a counting allocator by `tests/mempool_memory.rs`: 626 bytes held per 92-byte
/// transfer (534 beyond it) under a flood, 692 in the queued part (its age index besides);
/// before the signature index (issue 14, eighth pass) 561 and 623, and 755 when the B-tree
/// held the values inline; charged 768 for margin.
pub const MEMPOOL_ENTRY_OVERHEAD: usize = 768;

/// Heap a decoded transaction kind holds outside the pool's entry: a boxed listing,
/// anchor or order, a grant's or revocation's record bytes, a transfer's payload (0 for
/// every other kind).
/// Charged to the pool beside the encoding and [`MEMPOOL_ENTRY_OVERHEAD`]
/// (`tests/mempool_memory.rs` measures a pool of the longest listings against it).
pub fn decoded_heap(kind: &TxKind) -> usize {
    match kind {
        TxKind::Listing(_) => core::mem::size_of::<cpchain_storage::market::SignedListing>(),
        TxKind::Anchor(_) => core::mem::size_of::<cpchain_storage::Anchor>(),
        TxKind::Order(_) => core::mem::size_of::<crate::ledger::OrderTx>(),
        TxKind::Grant { record } | TxKind::Revoke { record } => record.capacity(),
        // The payload is a second copy of up to `MAX_TRANSFER_DATA` bytes beside the
        // encoding (uncharged before the adversarial review: a queued flood of the
        // longest ones held 1,175 heap bytes each against a charge of 1,118).
        TxKind::TransferData { data, .. } => data.capacity(),
        _ => 0,
    }
}

/// Most transactions one sender may hold queued (behind a nonce gap) in a pool: a gap
/// a client or the gossip's ordering opens is a few nonces wide; beyond that a sender is
/// filling the pool with what it does not let execute.
pub const QUEUED_PER_SENDER: usize = 64;

/// Committed blocks a queued transaction is kept for while its gap stays open (one hour at
/// the devnet's 500 ms period): the predecessor was lost or never sent, and the sender can
/// send it again.
pub const QUEUED_LIFETIME_BLOCKS: u64 = 7_200;

/// Pending transactions in two parts, bounded together by a count AND a byte budget,
/// the queued part also by its own (smaller) count and byte budget:
///
/// * **ready**: per sender, the consecutive nonces from its stored next one. Only these
///   can go into the next block, so only they count as load
///   ([`Mempool::ready_len`], what intake sheds on) and only they are selected.
/// * **queued**: the others (a nonce gap before them). At most [`QUEUED_PER_SENDER`] a
///   sender; dropped after [`QUEUED_LIFETIME_BLOCKS`]; moved to ready as soon as the gap
///   closes (the missing one is admitted or a block commits it). Most of them are not an
///   attack: a client's next transaction sent to another node often arrives before its
///   predecessor's gossip (on the devnet bench, at 7,400 tx/s, more than 12,500 at a time
///   on one node), so the queued part may take up to half of the pool; the other half is
///   always left to ready ones.
///
/// Admission does not execute a transaction: a ready one that does not apply is found
/// by [`Mempool::revalidate`] after the next commit (every new first one) or later
/// (round robin) and dropped.
///
/// Why two parts (issue 14): with one bound for both, transactions behind a gap counted
/// as load and were never evicted. Under overload the pools filled with them (23,222
/// seen in one bench run), intake refused everything and the chain decided empty blocks;
/// funded accounts sending gapped nonces could do the same on purpose. Now a flood of
/// gapped nonces fills the queued part only and never delays an executable transaction
/// (`gapped_nonces_never_take_the_ready_part`).
///
/// Each entry is charged its encoding plus [`MEMPOOL_ENTRY_OVERHEAD`] (plus
/// [`decoded_heap`] for the data-ledger kinds that hold heap), and an admission that would
/// pass the pool's bounds (or, queued, its part's) is `mempool_full`. So the pool's heap
/// stays under its byte budget whatever the transactions' sizes.
///
/// Entries are shared ([`Arc`]): the pool decoded and recovered each once, and a
/// proposal's transaction that is pending is judged and executed from the pool's entry
/// ([`Mempool::get`], used by `ingest::check_block`) with no decode, recovery or copy.
#[derive(Debug)]
pub struct Mempool {
    ready: BTreeMap<(Address, u64), Arc<Checked>>,
    /// Queued entries with the block count at their admission.
    queued: BTreeMap<(Address, u64), (u64, Arc<Checked>)>,
    /// The queued keys by age (block count at admission), for their lifetime.
    queued_age: BTreeSet<(u64, Address, u64)>,
    hashes: HashKeyed<Arc<Checked>>,
    /// The pending transactions' hashes by the first 8 bytes of their signature's `r`
    /// ([`sig_key`]): how [`Mempool::known_leaves`] finds a proposal's transactions
    /// without hashing them. One key per entry at most (a second entry under a key already
    /// taken is simply not indexed), charged in [`MEMPOOL_ENTRY_OVERHEAD`].
    by_sig: HashMap<u64, Hash, ahash::RandomState>,
    capacity: usize,
    bytes: usize,
    max_bytes: usize,
    queued_capacity: usize,
    queued_bytes: usize,
    queued_max_bytes: usize,
    /// Blocks committed since the pool was made (the queued part's clock).
    blocks: u64,
    /// Where the next [`Mempool::revalidate`] goes on (the last sender it checked).
    cursor: Option<Address>,
    /// Senders whose first ready transaction became their first since the last
    /// [`Mempool::revalidate`] (admitted, or left first by a commit): all are judged by
    /// the next call, beyond its round-robin budget. Only senders with ready entries.
    fresh: BTreeSet<Address>,
}

impl Mempool {
    /// An empty pool for at most `capacity` transactions and `max_bytes` charged bytes,
    /// at most half of each queued.
    pub fn new(capacity: usize, max_bytes: usize) -> Mempool {
        Mempool::with_queue(capacity, max_bytes, capacity / 2, max_bytes / 2)
    }

    /// An empty pool for at most `capacity` transactions and `max_bytes` charged bytes,
    /// of them at most `queued_capacity` and `queued_max_bytes` queued.
    pub fn with_queue(
        capacity: usize,
        max_bytes: usize,
        queued_capacity: usize,
        queued_max_bytes: usize,
    ) -> Mempool {
        Mempool {
            ready: BTreeMap::new(),
            queued: BTreeMap::new(),
            queued_age: BTreeSet::new(),
            hashes: HashKeyed::default(),
            by_sig: HashMap::default(),
            capacity,
            bytes: 0,
            max_bytes,
            queued_capacity,
            queued_bytes: 0,
            queued_max_bytes,
            blocks: 0,
            cursor: None,
            fresh: BTreeSet::new(),
        }
    }

    /// How many are pending (ready and queued).
    pub fn len(&self) -> usize {
        self.ready.len() + self.queued.len()
    }

    /// How many could go into the next block: the load intake sheds on.
    pub fn ready_len(&self) -> usize {
        self.ready.len()
    }

    /// How many wait behind a nonce gap.
    pub fn queued_len(&self) -> usize {
        self.queued.len()
    }

    /// Whether none is pending.
    pub fn is_empty(&self) -> bool {
        self.ready.is_empty() && self.queued.is_empty()
    }

    /// Bytes charged for what is pending, both parts (at most the budget).
    pub fn charged_bytes(&self) -> usize {
        self.bytes.saturating_add(self.queued_bytes)
    }

    /// Bytes charged for the queued part (at most its budget).
    pub fn queued_charged_bytes(&self) -> usize {
        self.queued_bytes
    }

    /// The pending transaction with this hash (decoded, its sender recovered).
    pub fn get(&self, hash: &Hash) -> Option<&Arc<Checked>> {
        self.hashes.get(hash)
    }

    fn charge(c: &Checked) -> usize {
        c.bytes
            .len()
            .saturating_add(MEMPOOL_ENTRY_OVERHEAD)
            .saturating_add(decoded_heap(&c.tx.body.kind))
    }

    /// Admit an encoded transaction: decode, chain, signature (one recovery), nonce not
    /// used; returns its hash.
    pub fn admit(
        &mut self,
        bytes: &[u8],
        chain_id: u64,
        load: &impl Fn(&Address) -> Account,
    ) -> Result<Hash, TxError> {
        if self.hashes.contains_key(&tx_hash(bytes)) {
            return Err(TxError::Duplicate);
        }
        let c = check_one(bytes, chain_id)?;
        self.admit_checked(c, load)
    }

    /// Admit a transaction whose sender was recovered already (off the node loop): nonce
    /// not used, balance, not pending, within its part's bounds; returns its hash. Ready
    /// if its nonce is the sender's next or follows the sender's ready ones (and then the
    /// queued ones it joins become ready too), queued otherwise. The pool keeps the value
    /// itself (shared, never copied).
    pub fn admit_checked(
        &mut self,
        c: impl Into<Arc<Checked>>,
        load: &impl Fn(&Address) -> Account,
    ) -> Result<Hash, TxError> {
        let c = c.into();
        let hash = c.hash;
        if self.hashes.contains_key(&hash) {
            return Err(TxError::Duplicate);
        }
        let account = load(&c.sender);
        let next = account.nonce;
        let nonce = c.tx.body.nonce;
        if nonce < next {
            return Err(TxError::NonceReplayed { next, got: nonce });
        }
        let amount = c.tx.body.kind.amount();
        if account.balance < amount {
            return Err(TxError::InsufficientFunds);
        }
        let key = (c.sender, nonce);
        if self.ready.contains_key(&key) || self.queued.contains_key(&key) {
            return Err(TxError::Duplicate);
        }
        let charge = Self::charge(&c);
        let ready = nonce == next || (nonce > 0 && self.ready.contains_key(&(c.sender, nonce - 1)));
        if !self.fits(charge) {
            return Err(TxError::MempoolFull);
        }
        if ready {
            self.bytes = self.bytes.saturating_add(charge);
            self.index(&c);
            self.ready.insert(key, c);
            if nonce == next {
                // A new first ready transaction: judged after the next commit.
                self.fresh.insert(key.0);
            }
            if let Some(after) = nonce.checked_add(1) {
                self.promote(key.0, after);
            }
        } else {
            if !self.queue_fits(c.sender, charge) {
                return Err(TxError::MempoolFull);
            }
            self.queued_bytes = self.queued_bytes.saturating_add(charge);
            self.index(&c);
            self.queued_age.insert((self.blocks, key.0, key.1));
            self.queued.insert(key, (self.blocks, c));
        }
        Ok(hash)
    }

    /// `sender`'s first ready nonce.
    fn head(&self, sender: Address) -> Option<u64> {
        self.ready
            .range((sender, 0)..=(sender, u64::MAX))
            .next()
            .map(|((_, n), _)| *n)
    }

    /// After `sender`'s ready entries changed (its first was `before`): a new first one
    /// is to be judged; a sender with none is not.
    fn note_head(&mut self, sender: Address, before: Option<u64>) {
        match self.head(sender) {
            None => {
                self.fresh.remove(&sender);
            }
            Some(n) if Some(n) != before => {
                self.fresh.insert(sender);
            }
            Some(_) => {}
        }
    }

    /// Whether one more entry of `charge` bytes fits the pool's bounds (both parts).
    fn fits(&self, charge: usize) -> bool {
        self.len() < self.capacity && self.charged_bytes().saturating_add(charge) <= self.max_bytes
    }

    /// Whether one more queued entry of `sender` of `charge` bytes fits.
    fn queue_fits(&self, sender: Address, charge: usize) -> bool {
        let held = self
            .queued
            .range((sender, 0)..=(sender, u64::MAX))
            .take(QUEUED_PER_SENDER)
            .count();
        held < QUEUED_PER_SENDER
            && self.queued.len() < self.queued_capacity
            && self.queued_bytes.saturating_add(charge) <= self.queued_max_bytes
    }

    /// Move `sender`'s queued transactions from nonce `from` on, while consecutive, to the
    /// ready part (always room: the pool's bounds count both parts).
    fn promote(&mut self, sender: Address, from: u64) {
        let mut n = from;
        loop {
            let Some((at, c)) = self.queued.remove(&(sender, n)) else {
                return;
            };
            let charge = Self::charge(&c);
            self.queued_age.remove(&(at, sender, n));
            self.queued_bytes = self.queued_bytes.saturating_sub(charge);
            self.bytes = self.bytes.saturating_add(charge);
            self.ready.insert((sender, n), c);
            match n.checked_add(1) {
                Some(m) => n = m,
                None => return,
            }
        }
    }

    /// Transactions for a block: per sender, consecutive nonces from its next one that
    /// apply (on the stored DPoR state `dpor`, in the block at `chain.height`), up to
    /// `max_count` and `max_bytes`. A sender whose next transaction does not apply or
    /// does not fit is skipped whole (its later nonces cannot go before it).
    ///
    /// Order: the senders' first transactions in turn, then their second ones, and so
    /// on, from a sender that depends on the height (`keccak256` of it, as an address)
    /// round the address space. Why: walking the pool in address order (before the
    /// adversarial review) let senders with lower addresses, keeping more valid
    /// transactions ready than a block takes, starve a higher one for as long as they
    /// paid (test `an_honest_sender_above_a_flood_of_valid_transactions_is_still_committed`);
    /// now a sender's first transaction waits only behind other senders' first ones.
    #[allow(clippy::too_many_arguments)]
    pub fn select(
        &self,
        spec: &ChainSpec,
        time: Timestamp,
        coinbase: Address,
        max_count: usize,
        max_bytes: usize,
        load: &impl Fn(&Address) -> Account,
        dpor: &DporState,
        chain: &ChainView<'_>,
    ) -> Vec<Vec<u8>> {
        self.select_hashed(
            spec, time, coinbase, max_count, max_bytes, load, dpor, chain,
        )
        .0
    }

    /// [`Mempool::select`] with each selected transaction's hash ([`tx_hash`], in the
    /// same order), which the pool holds already: the proposer's `tx_root` leaves
    /// (issue 14: the body is not hashed again to propose it). Reads the ready part only.
    #[allow(clippy::too_many_arguments)]
    pub fn select_hashed(
        &self,
        spec: &ChainSpec,
        time: Timestamp,
        coinbase: Address,
        max_count: usize,
        max_bytes: usize,
        load: &impl Fn(&Address) -> Account,
        dpor: &DporState,
        chain: &ChainView<'_>,
    ) -> (Vec<Vec<u8>>, Vec<Hash>) {
        let mut overlay = Overlay::on(dpor.clone());
        let mut hashes = Vec::new();
        let mut out = Vec::new();
        let mut bytes = 0usize;
        // Each sender's ready run, from a sender that depends on the height on, wrapping.
        let seed = keccak256(&chain.height.0.to_le_bytes());
        let mut first = [0u8; 20];
        first.copy_from_slice(seed.0.get(..20).unwrap_or(&[0; 20]));
        let start = (Address(first), 0u64);
        let mut runs: Vec<Vec<&Arc<Checked>>> = Vec::new();
        let mut last: Option<Address> = None;
        for ((a, _), c) in self.ready.range(start..).chain(self.ready.range(..start)) {
            if last != Some(*a) {
                runs.push(Vec::new());
                last = Some(*a);
            }
            if let Some(run) = runs.last_mut() {
                run.push(c);
            }
        }
        // Round `i` takes every live sender's `i`-th transaction; a sender whose next one
        // does not apply or does not fit is out (its later nonces cannot go before it).
        let mut live: Vec<usize> = (0..runs.len()).collect();
        let mut round = 0usize;
        'rounds: while !live.is_empty() {
            let mut next = Vec::with_capacity(live.len());
            for &r in &live {
                let Some(c) = runs.get(r).and_then(|run| run.get(round)) else {
                    continue;
                };
                if out.len() >= max_count {
                    break 'rounds;
                }
                if bytes.saturating_add(c.bytes.len()) > max_bytes {
                    continue;
                }
                if overlay
                    .apply_in(spec, c, time, coinbase, load, chain)
                    .is_ok()
                {
                    bytes += c.bytes.len();
                    out.push(c.bytes.clone());
                    hashes.push(c.hash);
                    next.push(r);
                }
            }
            live = next;
            round += 1;
        }
        (out, hashes)
    }

    /// Index a new entry by hash and by signature.
    fn index(&mut self, c: &Arc<Checked>) {
        self.hashes.insert(c.hash, Arc::clone(c));
        if let Some(k) = sig_key(&c.bytes) {
            self.by_sig.entry(k).or_insert(c.hash);
        }
    }

    /// Undo [`Mempool::index`] for an entry leaving the pool.
    fn unindex(&mut self, c: &Checked) {
        self.hashes.remove(&c.hash);
        if let Some(k) = sig_key(&c.bytes) {
            if self.by_sig.get(&k) == Some(&c.hash) {
                self.by_sig.remove(&k);
            }
        }
    }

    /// The hash of `bytes` if a pending transaction has exactly these bytes, found without
    /// hashing them: looked up by signature, then the bytes compared whole.
    pub fn known_hash(&self, bytes: &[u8]) -> Option<Hash> {
        let hash = self.by_sig.get(&sig_key(bytes)?)?;
        let c = self.hashes.get(hash)?;
        (c.bytes.as_slice() == bytes).then_some(*hash)
    }

    /// For each transaction of a proposal's body, its hash where the pool holds those very
    /// bytes (`None` for the others): the `tx_root` leaves the engine need not hash
    /// (`Validator::handle_message_with_known_leaves`; issue 14: a validator hashed every
    /// transaction of every proposal again, ~1 % of a loaded devnet's CPU, though its
    /// pool had hashed nearly all of them on intake).
    pub fn known_leaves(&self, txs: &[Vec<u8>]) -> Vec<Option<Hash>> {
        txs.iter().map(|b| self.known_hash(b)).collect()
    }

    /// Forget one entry, from whichever part holds it.
    fn remove(&mut self, key: &(Address, u64)) {
        if let Some(c) = self.ready.remove(key) {
            self.unindex(&c);
            self.bytes = self.bytes.saturating_sub(Self::charge(&c));
        } else if let Some((at, c)) = self.queued.remove(key) {
            self.queued_age.remove(&(at, key.0, key.1));
            self.unindex(&c);
            self.queued_bytes = self.queued_bytes.saturating_sub(Self::charge(&c));
        }
    }

    /// `sender`'s entries from nonce `from` on, ready ones moved back to queued (their
    /// predecessor left the pool without being committed); those the queued part has no
    /// room for are dropped.
    fn demote_from(&mut self, sender: Address, from: u64) {
        let before = self.head(sender);
        let keys: Vec<(Address, u64)> = self
            .ready
            .range((sender, from)..=(sender, u64::MAX))
            .map(|(k, _)| *k)
            .collect();
        for k in keys {
            let Some(c) = self.ready.remove(&k) else {
                continue;
            };
            let charge = Self::charge(&c);
            self.bytes = self.bytes.saturating_sub(charge);
            if self.queue_fits(sender, charge) {
                self.queued_bytes = self.queued_bytes.saturating_add(charge);
                self.queued_age.insert((self.blocks, k.0, k.1));
                self.queued.insert(k, (self.blocks, c));
            } else {
                self.unindex(&c);
            }
        }
        self.note_head(sender, before);
    }

    /// After the sender's stored next nonce became `next`: drop what is below it, and make
    /// ready what now follows without a gap.
    fn advance(&mut self, sender: Address, next: u64) {
        let before = self.head(sender);
        let gone: Vec<(Address, u64)> = self
            .ready
            .range((sender, 0)..(sender, next))
            .map(|(k, _)| *k)
            .chain(
                self.queued
                    .range((sender, 0)..(sender, next))
                    .map(|(k, _)| *k),
            )
            .collect();
        for k in &gone {
            self.remove(k);
        }
        let from = self
            .ready
            .range((sender, next)..=(sender, u64::MAX))
            .next_back()
            .map_or(Some(next), |((_, n), _)| n.checked_add(1));
        if let Some(from) = from {
            self.promote(sender, from);
        }
        self.note_head(sender, before);
    }

    /// One more block committed: queued entries older than their lifetime leave.
    fn tick(&mut self) {
        self.blocks = self.blocks.saturating_add(1);
        let Some(cutoff) = self.blocks.checked_sub(QUEUED_LIFETIME_BLOCKS) else {
            return;
        };
        let old: Vec<(u64, Address, u64)> = self
            .queued_age
            .range(..(cutoff, Address([0; 20]), 0))
            .copied()
            .collect();
        for (_, a, n) in old {
            self.remove(&(a, n));
        }
    }

    /// Forget what is committed or can never apply: nonces below each sender's next; and
    /// sort the rest into ready and queued again. Walks the whole pool and loads every
    /// sender: for a store changed by more than one block (block sync); after one
    /// committed block [`Mempool::prune_committed`] does the same in proportion to the
    /// block.
    pub fn prune(&mut self, load: &impl Fn(&Address) -> Account) {
        self.tick();
        let mut senders: Vec<Address> = self
            .ready
            .keys()
            .chain(self.queued.keys())
            .map(|(a, _)| *a)
            .collect();
        senders.sort();
        senders.dedup();
        for a in senders {
            let next = load(&a).nonce;
            // A ready run must start at the sender's next nonce.
            if let Some(first) = self
                .ready
                .range((a, 0)..=(a, u64::MAX))
                .map(|((_, n), _)| *n)
                .find(|n| *n >= next)
            {
                if first != next {
                    self.demote_from(a, first);
                }
            }
            self.advance(a, next);
        }
    }

    /// [`Mempool::prune`] after one committed block whose account changes are `accounts`
    /// (the block's overlay): only the accounts the block changed can have a new nonce,
    /// and the overlay holds it, so this costs a range lookup per changed account and
    /// loads nothing (the pool's invariant, every pending nonce at or above its sender's
    /// stored next one, holds for the others already). A changed account's queued
    /// transactions that now follow its next nonce become ready.
    pub fn prune_committed(&mut self, accounts: &BTreeMap<Address, Account>) {
        self.tick();
        for (a, acct) in accounts {
            if acct.nonce == 0 {
                continue;
            }
            self.advance(*a, acct.nonce);
        }
    }

    /// Judge senders' first ready transactions with `applies`, the host's judgement on
    /// its stored state: every sender's whose first ready transaction is new since the
    /// last call (admitted, or left first by a commit), then up to `budget` others (round
    /// robin over the senders). A sender whose first one does not apply (funds spent,
    /// free quota used, a deposit or campaign refused) loses it, and its later ones go
    /// back to queued (a gap is open now). Returns how many were dropped.
    ///
    /// Why: a transaction admitted as ready can stop applying (its sender's balance is
    /// spent by an earlier one, or its fee falls due), and admission does not execute
    /// it. The proposer skips such a sender, so nothing would ever commit or prune it:
    /// without this, an account could fill the ready part with transactions that never
    /// execute, and the pool would shed all intake on them (the same stall as gapped
    /// nonces).
    ///
    /// Why every new one, beyond the budget: keys cost nothing, so an attacker could add
    /// more never-applying senders a block than a fixed budget judges and keep the ready
    /// part at the shed threshold for ever (test
    /// `never_applying_heads_from_fresh_keys_leave_at_the_next_commit`). The new ones are
    /// at most the ready heads admitted or uncovered since the last call: one judgement
    /// (an account read and one apply) per admission that already cost a recovery, or per
    /// sender of the committed block. The round robin finds the heads that stop applying
    /// later without a change of their own (a deposit refused once the RNode pool fills).
    pub fn revalidate(
        &mut self,
        budget: usize,
        mut applies: impl FnMut(&Checked) -> bool,
    ) -> usize {
        let mut dropped = 0;
        let fresh = core::mem::take(&mut self.fresh);
        for sender in &fresh {
            let Some((key, c)) = self
                .ready
                .range((*sender, 0)..=(*sender, u64::MAX))
                .next()
                .map(|(k, c)| (*k, Arc::clone(c)))
            else {
                continue;
            };
            if !applies(&c) {
                self.drop_head(key);
                dropped += 1;
            }
        }
        let mut judged = 0;
        while judged < budget {
            let after = match self.cursor {
                Some(a) => self
                    .ready
                    .range((
                        core::ops::Bound::Excluded((a, u64::MAX)),
                        core::ops::Bound::Unbounded,
                    ))
                    .next(),
                None => self.ready.iter().next(),
            };
            let Some((key, c)) = after.map(|(k, c)| (*k, Arc::clone(c))) else {
                self.cursor = None;
                break;
            };
            self.cursor = Some(key.0);
            if fresh.contains(&key.0) {
                // Judged above in this call.
                continue;
            }
            judged += 1;
            if !applies(&c) {
                self.drop_head(key);
                dropped += 1;
            }
        }
        dropped
    }

    /// Drop `key`, a sender's first ready transaction that does not apply; its later
    /// ones go back to queued.
    fn drop_head(&mut self, key: (Address, u64)) {
        self.remove(&key);
        if let Some(after) = key.1.checked_add(1) {
            self.demote_from(key.0, after);
        }
        self.fresh.remove(&key.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> SecretKey {
        SecretKey::from_bytes(&[b; 32]).expect("valid scalar")
    }

    fn transfer(k: &SecretKey, chain_id: u64, nonce: u64, amount: u128) -> Vec<u8> {
        Transaction::sign(
            k,
            TxBody {
                chain_id,
                nonce,
                kind: TxKind::Transfer {
                    to: Address([9; 20]),
                    amount,
                },
            },
        )
        .to_bytes()
    }

    #[test]
    fn transfer_applies_once_and_a_replay_is_refused() {
        let spec = ChainSpec::devnet();
        let k = key(3);
        let me = k.public_key().address();
        let load = |a: &Address| Account {
            balance: if *a == me { 1_000 } else { 0 },
            ..Account::default()
        };
        let tx = transfer(&k, spec.chain_id, 0, 100);
        let c = check_all(&[tx], spec.chain_id).expect("valid");
        let mut o = Overlay::default();
        o.apply(&spec, &c[0], Timestamp(0), Address([1; 20]), &load)
            .expect("applies");
        assert_eq!(o.get(&me, &load).balance, 900);
        assert_eq!(o.get(&Address([9; 20]), &load).balance, 100);
        assert_eq!(
            o.apply(&spec, &c[0], Timestamp(0), Address([1; 20]), &load),
            Err(TxError::NonceReplayed { next: 1, got: 0 })
        );
    }

    #[test]
    fn bad_signature_and_wrong_chain_are_refused_with_their_codes() {
        let spec = ChainSpec::devnet();
        let k = key(3);
        let mut tx = Transaction::from_bytes(&transfer(&k, spec.chain_id, 0, 1)).expect("tx");
        tx.body.nonce = 5; // the signature no longer covers the body
        let recovered = tx.sender();
        assert_ne!(recovered, Ok(k.public_key().address()));
        tx.signature[64] = 7; // v > 1
        assert_eq!(tx.sender(), Err(TxError::BadSignature));
        let err = check_all(&[tx.to_bytes()], spec.chain_id).expect_err("bad v");
        assert_eq!(err.code(), "bad_signature");
        let other = transfer(&k, spec.chain_id + 1, 0, 1);
        let err = check_all(&[other], spec.chain_id).expect_err("wrong chain");
        assert_eq!(err.code(), "wrong_chain");
        let err = check_all(&[vec![1, 2, 3]], spec.chain_id).expect_err("garbage");
        assert_eq!(err.code(), "decode");
    }

    #[test]
    fn fee_is_charged_after_the_free_daily_quota() {
        let mut spec = ChainSpec::devnet();
        spec.free_tx_per_day = 1;
        let k = key(3);
        let me = k.public_key().address();
        let cb = Address([1; 20]);
        let load = |a: &Address| Account {
            balance: if *a == me { 100_000 } else { 0 },
            ..Account::default()
        };
        let txs = [
            transfer(&k, spec.chain_id, 0, 10),
            transfer(&k, spec.chain_id, 1, 10),
        ];
        let c = check_all(&txs, spec.chain_id).expect("valid");
        let mut o = Overlay::default();
        for t in &c {
            o.apply(&spec, t, Timestamp(0), cb, &load).expect("applies");
        }
        assert_eq!(o.get(&cb, &load).balance, TRANSFER_FEE);
        assert_eq!(o.get(&me, &load).balance, 100_000 - 20 - TRANSFER_FEE);
    }

    fn transfer_data(k: &SecretKey, nonce: u64, amount: u128, data: Vec<u8>) -> Vec<u8> {
        Transaction::sign(
            k,
            TxBody {
                chain_id: ChainSpec::devnet().chain_id,
                nonce,
                kind: TxKind::TransferData {
                    to: Address([9; 20]),
                    amount,
                    data,
                },
            },
        )
        .to_bytes()
    }

    /// Issue 14's 200-byte transfers: a `TransferData` (the 4th kind, index 3 on the
    /// wire) executes as a transfer, pays the fee policy's fee plus its bytes after the
    /// free quota, and a payload over `MAX_TRANSFER_DATA` is refused as `decode`.
    #[test]
    fn transfer_with_data_executes_as_a_transfer_and_its_payload_is_bounded() {
        let mut spec = ChainSpec::devnet();
        spec.free_tx_per_day = 1;
        let k = key(5);
        let me = k.public_key().address();
        let cb = Address([1; 20]);
        let load = |a: &Address| Account {
            balance: if *a == me { 1_000_000 } else { 0 },
            ..Account::default()
        };
        // A 92-byte transfer (1-byte nonce and amount) plus a 1-byte length: 107 of payload.
        let txs = [
            transfer_data(&k, 0, 10, vec![0xab; 107]),
            transfer_data(&k, 1, 10, vec![0xcd; 107]),
        ];
        assert_eq!(txs[0].len(), 200, "the benchmark's size");
        let body =
            encoding::encode_to_vec(&Transaction::from_bytes(&txs[0]).expect("decodes").body)
                .expect("encodes");
        // The kind's variant index follows chain id (1 byte) and nonce (1 byte).
        assert_eq!(body.get(cpchain_core::encoding::HEADER_LEN + 2), Some(&3));
        let c = check_all(&txs, spec.chain_id).expect("valid");
        assert_eq!(c[0].sender, me);
        let mut o = Overlay::default();
        for t in &c {
            o.apply(&spec, t, Timestamp(0), cb, &load).expect("applies");
        }
        let fee = TRANSFER_FEE + 107 * DATA_BYTE_FEE;
        assert_eq!(o.get(&Address([9; 20]), &load).balance, 20);
        assert_eq!(o.get(&cb, &load).balance, fee, "first free, second pays");
        assert_eq!(o.get(&me, &load).balance, 1_000_000 - 20 - fee);
        assert_eq!(o.get(&me, &load).nonce, 2);

        let full = transfer_data(&k, 0, 1, vec![7; MAX_TRANSFER_DATA]);
        assert!(check_one(&full, spec.chain_id).is_ok(), "at the bound");
        let over = transfer_data(&k, 0, 1, vec![7; MAX_TRANSFER_DATA + 1]);
        assert_eq!(
            check_one(&over, spec.chain_id).map(|_| ()),
            Err(TxError::Decode)
        );
    }

    /// Issue 14: the pool finds a proposal's transactions by signature without hashing
    /// them, and only where the bytes are exactly a pending transaction's: a copy with
    /// one byte changed (same signature) is not known, nor a transaction once it left the
    /// pool (committed, queued ones too).
    #[test]
    fn known_hashes_are_the_pending_transactions_very_bytes() {
        let spec = ChainSpec::devnet();
        let (k, other) = (key(4), key(6));
        let load = |_: &Address| Account {
            balance: 1_000_000,
            ..Account::default()
        };
        // Nonces 0, 1 and 3 (queued behind the gap at 2), and another sender's 0.
        let mut txs: Vec<Vec<u8>> = [0, 1, 3]
            .iter()
            .map(|n| transfer(&k, spec.chain_id, *n, 1))
            .collect();
        txs.push(transfer(&other, spec.chain_id, 0, 1));
        let mut pool = Mempool::new(100, 1 << 20);
        for b in &txs {
            pool.admit_checked(check_one(b, spec.chain_id).expect("valid"), &load)
                .expect("admitted");
        }
        assert_eq!(pool.queued_len(), 1);
        for b in &txs {
            assert_eq!(pool.known_hash(b), Some(tx_hash(b)));
        }
        let mut tampered = txs[0].clone();
        tampered[4] ^= 1;
        assert_eq!(pool.known_hash(&tampered), None);
        assert_eq!(
            pool.known_hash(&tampered[..64]),
            None,
            "shorter than a signature"
        );
        let unseen = transfer(&k, spec.chain_id, 5, 1);
        let body = vec![txs[1].clone(), unseen, tampered, txs[3].clone()];
        assert_eq!(
            pool.known_leaves(&body),
            vec![Some(tx_hash(&txs[1])), None, None, Some(tx_hash(&txs[3]))]
        );
        // `k` committed nonces 0 to 3 (3 was queued): all of them leave, the index too.
        let committed = BTreeMap::from([(
            k.public_key().address(),
            Account {
                nonce: 4,
                balance: 1_000_000,
                ..Account::default()
            },
        )]);
        pool.prune_committed(&committed);
        assert_eq!(pool.len(), 1);
        for b in &txs[..3] {
            assert_eq!(pool.known_hash(b), None);
        }
        assert_eq!(pool.known_hash(&txs[3]), Some(tx_hash(&txs[3])));
    }

    #[test]
    fn mempool_is_full_by_bytes_before_its_count() {
        let spec = ChainSpec::devnet();
        let k = key(4);
        let load = |_: &Address| Account {
            balance: 1_000_000,
            ..Account::default()
        };
        let txs: Vec<Checked> = (0..10)
            .map(|n| transfer(&k, spec.chain_id, n, 1))
            .map(|b| check_one(&b, spec.chain_id).expect("valid"))
            .collect();
        let per = txs[0].bytes.len() + MEMPOOL_ENTRY_OVERHEAD;
        // Room for 3 by bytes, 100 by count.
        let mut pool = Mempool::new(100, 3 * per + per / 2);
        for c in txs.iter().take(3) {
            pool.admit_checked(c.clone(), &load).expect("fits");
        }
        assert_eq!(
            pool.admit_checked(txs[3].clone(), &load),
            Err(TxError::MempoolFull)
        );
        assert_eq!(pool.len(), 3);
        assert!(pool.charged_bytes() <= 3 * per + per / 2);
        // Committing frees the budget.
        let next = |_: &Address| Account {
            nonce: 2,
            balance: 1_000_000,
            ..Account::default()
        };
        pool.prune(&next);
        assert_eq!(pool.len(), 1);
        assert_eq!(
            pool.charged_bytes(),
            txs[2].bytes.len() + MEMPOOL_ENTRY_OVERHEAD
        );
        pool.admit_checked(txs[3].clone(), &next)
            .expect("room again");
    }

    /// xorshift64*: the tests' deterministic randomness.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
    }

    fn random_envelope(r: &mut Rng) -> Vec<u8> {
        random_envelope_on(r, None)
    }

    /// A random envelope, for `chain` if given (else a random chain id).
    fn random_envelope_on(r: &mut Rng, chain: Option<u64>) -> Vec<u8> {
        let k = key(1 + r.below(200) as u8);
        let to = Address([r.below(256) as u8; 20]);
        let kind = match r.below(5) {
            0 => TxKind::Transfer {
                to,
                amount: u128::from(r.next()) << r.below(64),
            },
            1 => TxKind::TransferData {
                to,
                amount: u128::from(r.next()),
                data: (0..r.below(MAX_TRANSFER_DATA as u64 + 1))
                    .map(|_| r.next() as u8)
                    .collect(),
            },
            2 => TxKind::JoinRNodes {
                amount: u128::from(r.next()),
            },
            3 => TxKind::Grant {
                record: (0..r.below(1_100)).map(|_| r.next() as u8).collect(),
            },
            _ => TxKind::Confirm {
                order: crate::ledger::OrderId(Hash([r.below(256) as u8; 32])),
            },
        };
        let body = TxBody {
            chain_id: chain.unwrap_or_else(|| r.next() >> r.below(64)),
            nonce: r.next() >> r.below(64),
            kind,
        };
        Transaction::sign(&k, body).to_bytes()
    }

    /// Issue 14: the sender recovered from the envelope's own bytes (no re-encoding of the
    /// body) is exactly the old path's (`Transaction::sender`, which encodes the body
    /// again), on random valid envelopes and on malformed ones (flipped bytes, truncated,
    /// extended, bad signatures): same address or same error.
    #[test]
    fn owned_intake_gives_what_check_one_gives_in_order() {
        let mut r = Rng(0x51_7cc1_b727_220a);
        let chain_id = 41;
        let mut inputs = Vec::new();
        for i in 0..120 {
            // A few for another chain.
            let chain = (i % 10 != 9).then_some(chain_id);
            let mut b = random_envelope_on(&mut r, chain);
            match i % 4 {
                0 => {}
                1 => {
                    let at = r.below(b.len() as u64) as usize;
                    b[at] ^= 1 << r.below(8);
                }
                2 => b.truncate(b.len() / 2),
                _ => {
                    let at = b.len() - 65 + r.below(65) as usize;
                    b[at] = r.next() as u8;
                }
            }
            inputs.push(b);
        }
        // One chunk (below 32) and split over threads (above).
        for n in [10, inputs.len()] {
            let part = &inputs[..n];
            let items: Vec<(Hash, Vec<u8>)> =
                part.iter().map(|b| (tx_hash(b), b.clone())).collect();
            let got = recover_owned(items, chain_id);
            assert_eq!(got.len(), n);
            assert!(
                got.iter().filter(|g| g.is_ok()).count() > n / 5,
                "some recover"
            );
            assert!(
                got.iter().filter(|g| g.is_err()).count() > n / 5,
                "some are refused"
            );
            for (b, g) in part.iter().zip(&got) {
                let want = check_one(b, chain_id);
                assert_eq!(
                    g.as_ref().map(|c| (c.sender, c.hash, c.bytes.clone())),
                    want.as_ref().map(|c| (c.sender, c.hash, c.bytes.clone())),
                );
            }
        }
    }

    /// Issue 14: batches are recovered on long-lived worker pools, not on threads spawned
    /// per batch; intake's pool runs at background priority, the block pool at the
    /// caller's, and both give what `check_one` gives, in order.
    #[test]
    #[cfg(target_os = "linux")]
    fn recovery_reuses_its_worker_threads_at_their_priorities() {
        let mut r = Rng(0x2545_f491_4f6c_dd1d);
        let txs: Vec<Vec<u8>> = (0..64)
            .map(|_| random_envelope_on(&mut r, Some(41)))
            .collect();
        let items =
            || -> Vec<(Hash, Vec<u8>)> { txs.iter().map(|b| (tx_hash(b), b.clone())).collect() };
        // Both pools exist after one call each.
        let _ = recover_owned(items(), 41);
        let _ = recover_each(&txs, 41);
        let tids = |p: &rayon::ThreadPool| {
            let mut t = p.broadcast(|_| rustix::thread::gettid().as_raw_nonzero().get());
            t.sort_unstable();
            t
        };
        let (bg0, fg0) = (
            tids(pool(true).expect("intake pool")),
            tids(pool(false).expect("block pool")),
        );
        for _ in 0..20 {
            for (got, b) in recover_owned(items(), 41).iter().zip(&txs) {
                let want = check_one(b, 41);
                assert_eq!(
                    got.as_ref().map(|c| c.sender),
                    want.as_ref().map(|c| c.sender)
                );
            }
            for (got, b) in recover_each(&txs, 41).iter().zip(&txs) {
                let want = check_one(b, 41);
                assert_eq!(
                    got.as_ref().map(|c| c.sender),
                    want.as_ref().map(|c| c.sender)
                );
            }
        }
        let bg = pool(true).expect("intake pool");
        let fg = pool(false).expect("block pool");
        // The same threads served every batch (before, each batch spawned its own).
        assert_eq!(tids(bg), bg0);
        assert_eq!(tids(fg), fg0);
        assert_eq!(bg0.len(), cores());
        let base = std::thread::spawn(crate::priority::this_thread_nice)
            .join()
            .expect("thread");
        for _ in 0..4 {
            assert_eq!(
                bg.install(crate::priority::this_thread_nice),
                Some(crate::priority::BACKGROUND_NICE)
            );
            assert!(bg
                .broadcast(|_| crate::priority::this_thread_nice())
                .iter()
                .all(|n| *n == Some(crate::priority::BACKGROUND_NICE)));
            assert!(fg
                .broadcast(|_| crate::priority::this_thread_nice())
                .iter()
                .all(|n| *n == base));
        }
    }

    #[test]
    fn envelope_sender_matches_the_re_encoding_path() {
        let mut r = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut valid, mut decoded) = (0, 0);
        for i in 0..600 {
            let mut b = random_envelope(&mut r);
            match i % 6 {
                0 => {}
                1 | 2 => {
                    let at = r.below(b.len() as u64) as usize;
                    b[at] ^= 1 << r.below(8);
                }
                3 => {
                    let len = b.len();
                    b.truncate(len - 1 - r.below(len as u64 - 1) as usize);
                }
                4 => b.push(r.next() as u8),
                _ => {
                    let at = b.len() - 65 + r.below(65) as usize;
                    b[at] = r.next() as u8;
                }
            }
            let old = Transaction::from_bytes(&b).and_then(|tx| tx.sender());
            let new = Transaction::from_bytes(&b).and_then(|tx| envelope_sender(&b, &tx));
            assert_eq!(old, new, "case {i}");
            if new.is_ok() {
                valid += 1;
            }
            if Transaction::from_bytes(&b).is_ok() {
                decoded += 1;
            }
            // And check_one, the path every intake takes, agrees.
            if let Ok(tx) = Transaction::from_bytes(&b) {
                let c = check_one(&b, tx.body.chain_id).map(|c| c.sender);
                assert_eq!(c, old, "case {i}");
            }
        }
        // Both kinds of input were exercised.
        assert!(valid > 100, "{valid} recovered");
        assert!(
            decoded - valid > 30,
            "{} decoded but refused",
            decoded - valid
        );
    }

    /// Issue 14: pruning after a committed block looks only at the accounts the block
    /// changed and leaves exactly what the whole-pool prune leaves (same entries, same
    /// charged bytes), loading nothing.
    #[test]
    fn prune_after_a_block_equals_the_whole_pool_prune() {
        let spec = ChainSpec::devnet();
        let mut r = Rng(7);
        let keys: Vec<SecretKey> = (1..=12).map(key).collect();
        let rich = |_: &Address| Account {
            balance: 1_000_000,
            ..Account::default()
        };
        let mut whole = Mempool::new(1_000, 1 << 24);
        let mut fast = Mempool::new(1_000, 1 << 24);
        for k in &keys {
            for n in 0..8 {
                let c = check_one(&transfer(k, spec.chain_id, n, 1), spec.chain_id).expect("valid");
                whole.admit_checked(c.clone(), &rich).expect("fits");
                fast.admit_checked(c, &rich).expect("fits");
            }
        }
        let mut stored: BTreeMap<Address, u64> = BTreeMap::new();
        for _round in 0..5 {
            // A block: some senders advance, plus a recipient and a coinbase.
            let mut changed = BTreeMap::new();
            for k in &keys {
                if r.below(2) == 0 {
                    let a = k.public_key().address();
                    let n = stored.get(&a).copied().unwrap_or(0) + r.below(3);
                    stored.insert(a, n);
                    changed.insert(
                        a,
                        Account {
                            nonce: n,
                            ..Account::default()
                        },
                    );
                }
            }
            changed.insert(Address([9; 20]), Account::default());
            let store = stored.clone();
            whole.prune(&|a: &Address| Account {
                nonce: store.get(a).copied().unwrap_or(0),
                ..Account::default()
            });
            fast.prune_committed(&changed);
            let keys_of = |p: &Mempool| p.ready.keys().copied().collect::<Vec<_>>();
            let queued_of = |p: &Mempool| p.queued.keys().copied().collect::<Vec<_>>();
            assert_eq!(keys_of(&fast), keys_of(&whole));
            assert_eq!(queued_of(&fast), queued_of(&whole));
            assert_eq!(fast.charged_bytes(), whole.charged_bytes());
            assert_eq!(fast.hashes.len(), whole.hashes.len());
        }
        assert!(fast.len() < 12 * 8, "something was pruned");
    }

    fn checked(k: &SecretKey, nonce: u64) -> Checked {
        let chain = ChainSpec::devnet().chain_id;
        check_one(&transfer(k, chain, nonce, 1), chain).expect("valid")
    }

    /// The pool's invariants against the stored next nonces `next`: each sender's ready
    /// entries are consecutive from its next nonce; no queued one is below it; the byte
    /// counts are the sums of the charges; the hash index holds exactly the entries.
    fn assert_invariants(p: &Mempool, next: &dyn Fn(&Address) -> u64) {
        let mut expect: BTreeMap<Address, u64> = BTreeMap::new();
        for (a, n) in p.ready.keys() {
            let want = *expect.entry(*a).or_insert_with(|| next(a));
            assert_eq!(
                *n, want,
                "ready run of {a} is consecutive from its next nonce"
            );
            expect.insert(*a, want + 1);
        }
        for (a, n) in p.queued.keys() {
            assert!(*n >= next(a), "a queued one below the next nonce");
            assert!(!p.ready.contains_key(&(*a, *n)));
        }
        let ready_bytes: usize = p.ready.values().map(|c| Mempool::charge(c)).sum();
        let queued_bytes: usize = p.queued.values().map(|(_, c)| Mempool::charge(c)).sum();
        assert_eq!(p.bytes, ready_bytes);
        assert_eq!(p.queued_bytes, queued_bytes);
        assert_eq!(p.hashes.len(), p.ready.len() + p.queued.len());
        assert_eq!(p.queued_age.len(), p.queued.len());
        assert!(p.len() <= p.capacity && p.charged_bytes() <= p.max_bytes);
        assert!(p.queued.len() <= p.queued_capacity && p.queued_bytes <= p.queued_max_bytes);
        let mut per: BTreeMap<Address, usize> = BTreeMap::new();
        for (a, _) in p.queued.keys() {
            *per.entry(*a).or_default() += 1;
        }
        assert!(per.values().all(|n| *n <= QUEUED_PER_SENDER));
        assert!(
            p.fresh.iter().all(|a| p.head(*a).is_some()),
            "only senders with ready entries wait to be judged"
        );
    }

    /// Review (issue 14, signature index): under any sequence of admissions (ready,
    /// queued, duplicates), commits, prunes, revalidations and queued expiry, with many
    /// entries sharing the first 8 bytes of `r`, `known_hash` gives a hash only for bytes
    /// a pending entry holds exactly, that hash is theirs, and `by_sig` never holds more
    /// keys than there are entries, nor a key for an entry that left.
    #[test]
    fn review_signature_index_stays_exact_under_churn() {
        let rich = |_: &Address| Account {
            balance: 1_000_000,
            ..Account::default()
        };
        let keys: Vec<SecretKey> = (40..46).map(key).collect();
        // Each transaction in two variants: as signed, and with `r`'s first 8 bytes forced
        // to one of three values (a collision on purpose; admission trusts `Checked`).
        let forced = |c: &Checked, v: u8| {
            let mut bytes = c.bytes.clone();
            let at = bytes.len() - 65;
            bytes[at..at + 8].copy_from_slice(&[v; 8]);
            Checked {
                tx: c.tx.clone(),
                sender: c.sender,
                hash: tx_hash(&bytes),
                bytes,
            }
        };
        let txs: Vec<Vec<[Checked; 2]>> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                (0..24)
                    .map(|n| {
                        let c = checked(k, n);
                        let f = forced(&c, ((i as u64 + n) % 3) as u8);
                        [c, f]
                    })
                    .collect()
            })
            .collect();
        let mut r = Rng(77);
        let per = txs[0][0][0].bytes.len() + MEMPOOL_ENTRY_OVERHEAD;
        let mut pool = Mempool::with_queue(30, 30 * per, 20, 20 * per);
        let mut stored: BTreeMap<Address, u64> = BTreeMap::new();
        let (mut hits, mut expired, mut shadowed) = (0, 0, 0);
        for step in 0..6_000 {
            let s = r.below(keys.len() as u64) as usize;
            let a = keys[s].public_key().address();
            let next = stored.get(&a).copied().unwrap_or(0);
            let store = stored.clone();
            let load = |x: &Address| Account {
                nonce: store.get(x).copied().unwrap_or(0),
                ..rich(x)
            };
            match r.below(14) {
                0 => {
                    let n = (next + r.below(4)).min(24);
                    stored.insert(a, n);
                    let changed = BTreeMap::from([(
                        a,
                        Account {
                            nonce: n,
                            ..Account::default()
                        },
                    )]);
                    pool.prune_committed(&changed);
                }
                1 => {
                    let bad = keys[r.below(keys.len() as u64) as usize]
                        .public_key()
                        .address();
                    pool.revalidate(3, |c| c.sender != bad);
                }
                2 => {
                    let n = (next + r.below(3)).min(24);
                    stored.insert(a, n);
                    let store = stored.clone();
                    pool.prune(&|x: &Address| Account {
                        nonce: store.get(x).copied().unwrap_or(0),
                        ..rich(x)
                    });
                }
                _ if step % 500 == 250 => {
                    // Queued entries outlive their lifetime.
                    let queued = pool.queued_len();
                    for _ in 0..QUEUED_LIFETIME_BLOCKS {
                        pool.prune_committed(&BTreeMap::new());
                    }
                    if queued > 0 && pool.queued_len() == 0 {
                        expired += 1;
                    }
                }
                _ => {
                    let n = (next + r.below(8)).min(23);
                    let v = r.below(2) as usize;
                    let _ = pool.admit_checked(txs[s][n as usize][v].clone(), &load);
                }
            }
            assert_invariants(&pool, &|x| stored.get(x).copied().unwrap_or(0));
            assert!(pool.by_sig.len() <= pool.len(), "by_sig beyond the entries");
            shadowed = shadowed.max(pool.len() - pool.by_sig.len());
            for (k, h) in &pool.by_sig {
                let c = pool.hashes.get(h).expect("by_sig names a pending entry");
                assert_eq!(sig_key(&c.bytes), Some(*k));
            }
            for per_sender in &txs {
                for pair in per_sender {
                    for c in pair {
                        let pending = pool.hashes.contains_key(&c.hash);
                        if let Some(h) = pool.known_hash(&c.bytes) {
                            hits += 1;
                            assert_eq!(h, tx_hash(&c.bytes));
                            assert!(pending, "known but not pending");
                        }
                    }
                }
            }
            if stored.values().all(|n| *n >= 24) {
                stored.clear();
                pool = Mempool::with_queue(30, 30 * per, 20, 20 * per);
            }
        }
        assert!(
            hits > 1_000 && expired >= 2 && shadowed > 5,
            "{hits} {expired} {shadowed}"
        );
    }

    /// Issue 14: a flood of transactions behind nonce gaps, from many funded accounts,
    /// fills the queued part only (each sender to `QUEUED_PER_SENDER`, the part to its
    /// bounds): nothing of it is ready, so intake does not shed on it, nothing of it is
    /// selected, and an executable transaction is still admitted ready.
    #[test]
    fn gapped_nonces_never_take_the_ready_part() {
        let spec = ChainSpec::devnet();
        let rich = |_: &Address| Account {
            balance: 1_000_000,
            ..Account::default()
        };
        let mut pool = Mempool::with_queue(300, 1 << 20, 200, 1 << 20);
        let mut full = 0;
        for i in 0..5u8 {
            let k = key(100 + i);
            for n in 1..=(QUEUED_PER_SENDER as u64 + 10) {
                match pool.admit_checked(checked(&k, n), &rich) {
                    Ok(_) => {}
                    Err(TxError::MempoolFull) => full += 1,
                    Err(e) => panic!("{e}"),
                }
            }
        }
        assert_eq!(pool.ready_len(), 0);
        assert_eq!(pool.queued_len(), 200, "the queued part's count bound");
        assert!(full > 0);
        assert_invariants(&pool, &|_| 0);
        let none = |_: Height| None;
        let chain = ChainView {
            height: Height(1),
            canonical: &none,
            ledger: &EmptyLedger,
        };
        let picked = pool.select(
            &spec,
            Timestamp(0),
            Address([0; 20]),
            1_000,
            1 << 20,
            &rich,
            &DporState::default(),
            &chain,
        );
        assert!(picked.is_empty(), "nothing behind a gap is selected");
        let honest = key(7);
        for n in 0..50 {
            pool.admit_checked(checked(&honest, n), &rich)
                .expect("an executable transaction is admitted");
        }
        assert_eq!(pool.ready_len(), 50);
        assert_invariants(&pool, &|_| 0);
    }

    /// Closing a gap (the missing nonce admitted, or committed by another node's block)
    /// makes the queued transactions behind it ready, in one move.
    #[test]
    fn closing_a_gap_makes_the_queued_ones_ready() {
        let rich = |_: &Address| Account {
            balance: 1_000_000,
            ..Account::default()
        };
        let k = key(3);
        let a = k.public_key().address();
        let mut pool = Mempool::new(1_000, 1 << 24);
        for n in [1, 2, 3, 5] {
            pool.admit_checked(checked(&k, n), &rich).expect("queued");
        }
        assert_eq!((pool.ready_len(), pool.queued_len()), (0, 4));
        pool.admit_checked(checked(&k, 0), &rich).expect("ready");
        assert_eq!(
            (pool.ready_len(), pool.queued_len()),
            (4, 1),
            "0..=3 ready, 5 waits"
        );
        assert_invariants(&pool, &|_| 0);

        // Another sender's gap closed by a block: its nonces 0..=4 committed elsewhere.
        let j = key(4);
        let b = j.public_key().address();
        for n in 5..9 {
            pool.admit_checked(checked(&j, n), &rich).expect("queued");
        }
        assert_eq!(pool.queued_len(), 5);
        let mut changed = BTreeMap::new();
        changed.insert(
            b,
            Account {
                nonce: 5,
                ..Account::default()
            },
        );
        pool.prune_committed(&changed);
        assert_eq!((pool.ready_len(), pool.queued_len()), (8, 1));
        let next = |x: &Address| if *x == b { 5 } else { 0 };
        assert_invariants(&pool, &next);
        assert!(pool.ready.contains_key(&(b, 8)) && pool.queued.contains_key(&(a, 5)));
    }

    /// A gap nobody closes: the queued transactions leave after `QUEUED_LIFETIME_BLOCKS`
    /// committed blocks, so stale ones cannot hold the queued part for ever.
    #[test]
    fn queued_transactions_leave_after_their_lifetime() {
        let rich = |_: &Address| Account {
            balance: 1_000_000,
            ..Account::default()
        };
        let k = key(5);
        let mut pool = Mempool::new(1_000, 1 << 24);
        pool.admit_checked(checked(&k, 3), &rich).expect("queued");
        for _ in 0..QUEUED_LIFETIME_BLOCKS / 2 {
            pool.prune_committed(&BTreeMap::new());
        }
        pool.admit_checked(checked(&k, 4), &rich).expect("queued");
        for _ in QUEUED_LIFETIME_BLOCKS / 2..=QUEUED_LIFETIME_BLOCKS {
            pool.prune_committed(&BTreeMap::new());
        }
        assert_eq!(
            pool.queued_len(),
            1,
            "the older one left, the newer one stays"
        );
        assert!(pool.queued.contains_key(&(k.public_key().address(), 4)));
        for _ in 0..QUEUED_LIFETIME_BLOCKS / 2 + 1 {
            pool.prune(&|_| Account::default());
        }
        assert!(pool.is_empty());
        assert_eq!(pool.charged_bytes(), 0);
    }

    /// A ready transaction that stops applying (here: the sender's balance is spent by
    /// its earlier transfers) is found by `revalidate` and dropped; the sender's later
    /// ones go back to queued. Without it the proposer skips the sender for ever and the
    /// ready part fills with what never executes.
    #[test]
    fn revalidate_drops_a_head_that_no_longer_applies() {
        let rich = |_: &Address| Account {
            balance: 1_000_000,
            ..Account::default()
        };
        let (k, j) = (key(8), key(9));
        let (a, b) = (k.public_key().address(), j.public_key().address());
        let mut pool = Mempool::new(1_000, 1 << 24);
        for n in 0..4 {
            pool.admit_checked(checked(&k, n), &rich).expect("ready");
            pool.admit_checked(checked(&j, n), &rich).expect("ready");
        }
        // `a` cannot pay any more; `b` can.
        let dropped = pool.revalidate(10, |c| c.sender != a);
        assert_eq!(dropped, 1);
        assert_eq!((pool.ready_len(), pool.queued_len()), (4, 3));
        assert!(pool.ready.keys().all(|(s, _)| *s == b));
        assert_invariants(&pool, &|_| 0);
        // Round robin: a budget of one checks one sender a call, each in turn.
        let mut seen = Vec::new();
        let mut pool = Mempool::new(1_000, 1 << 24);
        for i in 0..3u8 {
            pool.admit_checked(checked(&key(20 + i), 0), &rich)
                .expect("ready");
        }
        for _ in 0..4 {
            pool.revalidate(1, |c| {
                seen.push(c.sender);
                true
            });
        }
        let mut firsts = seen[..3].to_vec();
        firsts.sort();
        firsts.dedup();
        assert_eq!(firsts.len(), 3, "each sender once before any twice");
    }

    /// Random admissions (gapped and not), commits and revalidations from a few senders:
    /// the pool's invariants hold after every step and its bounds are never passed.
    #[test]
    fn ready_and_queued_keep_their_invariants_under_random_operations() {
        let rich = |_: &Address| Account {
            balance: 1_000_000,
            ..Account::default()
        };
        let keys: Vec<SecretKey> = (30..36).map(key).collect();
        let txs: Vec<Vec<Checked>> = keys
            .iter()
            .map(|k| (0..24).map(|n| checked(k, n)).collect())
            .collect();
        let mut r = Rng(11);
        let per = txs[0][0].bytes.len() + MEMPOOL_ENTRY_OVERHEAD;
        let mut pool = Mempool::with_queue(30, 30 * per, 20, 20 * per);
        let mut stored: BTreeMap<Address, u64> = BTreeMap::new();
        let (mut most_ready, mut most_queued, mut most, mut full, mut promoted) = (0, 0, 0, 0, 0);
        for _step in 0..4_000 {
            let s = r.below(keys.len() as u64) as usize;
            let a = keys[s].public_key().address();
            let next = stored.get(&a).copied().unwrap_or(0);
            match r.below(10) {
                0 => {
                    // A block commits some of `a`'s nonces (maybe ones this pool lacks).
                    let n = (next + r.below(4)).min(24);
                    stored.insert(a, n);
                    let mut changed = BTreeMap::new();
                    changed.insert(
                        a,
                        Account {
                            nonce: n,
                            ..Account::default()
                        },
                    );
                    pool.prune_committed(&changed);
                }
                1 => {
                    let bad = r.below(keys.len() as u64) as usize;
                    let bad = keys[bad].public_key().address();
                    pool.revalidate(3, |c| c.sender != bad);
                }
                _ => {
                    let n = (next + r.below(8)).min(23);
                    let store = stored.clone();
                    let load = |x: &Address| Account {
                        nonce: store.get(x).copied().unwrap_or(0),
                        ..rich(x)
                    };
                    let queued = pool.queued_len();
                    match pool.admit_checked(txs[s][n as usize].clone(), &load) {
                        Err(TxError::MempoolFull) => full += 1,
                        Ok(_) if pool.queued_len() < queued => promoted += 1,
                        _ => {}
                    }
                }
            }
            assert_invariants(&pool, &|x| stored.get(x).copied().unwrap_or(0));
            most_ready = most_ready.max(pool.ready_len());
            most_queued = most_queued.max(pool.queued_len());
            most = most.max(pool.len());
            if stored.values().all(|n| *n >= 24) {
                stored.clear();
                pool = Mempool::with_queue(30, 30 * per, 20, 20 * per);
            }
        }
        // The run reached the pool's and the queued part's bounds, filled the ready part
        // beyond the queued part's share, and closed gaps.
        assert_eq!((most, most_queued), (30, 20));
        assert!(most_ready > 20, "{most_ready}");
        assert!(full > 0 && promoted > 0, "full {full}, promoted {promoted}");
    }
}
