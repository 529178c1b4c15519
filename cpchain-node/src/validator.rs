//! The adapter between the LBFT validator engine and this host: the only module that
//! knows `cpchain_consensus::lbft::Validator`'s API (so the coming one-contract reshape of
//! the machines' outputs stays local).
//!
//! The host's duties, in the engine's output order: `Persist` is written to redb with
//! immediate durability before any later output is acted on (sends are returned to the
//! caller only after the whole drain, so every send follows every persist before it);
//! `Commit` goes to the block store (and, at a DPoR checkpoint, runs the election);
//! `CheckBlock` is answered at once; `Fault` is counted and logged.

use crate::compact::{BodyCache, CompactValidate};
use crate::config::NodeConfig;
use crate::dpor_state::{self, DporState};
use crate::error::NodeError;
use crate::ingest::{lock_senders, SenderCache, SharedSenders};
use crate::store::Store;
use crate::tx::{self, Account, Allocation, ChainView, Checked, Mempool, Overlay};
use cpchain_consensus::dpor;
use cpchain_consensus::lbft::Block;
use cpchain_consensus::lbft::{
    verify_validate, Config, ConfigError, Header, ImpeachQuorum, Message, ProposeError, Rejected,
    Validate, Validator, ValidatorOutput, ValidatorSet, Vote,
};
use cpchain_core::{encoding, Address, ChainSpec, Hash, Height, Timestamp};
use cpchain_crypto::SecretKey;
use std::io::Write;
use std::sync::Arc;

/// What the network must do after a drain, in order.
#[derive(Debug, Clone)]
pub enum Action {
    /// Publish to every node (gossipsub).
    Broadcast(Vec<u8>),
    /// Send to one validator (request-response).
    Send {
        /// The validator.
        to: Address,
        /// The encoded message.
        bytes: Vec<u8>,
    },
}

/// Counters for the status file and the devnet display.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Counters {
    /// Blocks this node decided or adopted since it started.
    pub decided: u64,
    /// Of those, impeach blocks.
    pub impeached: u64,
    /// Blocks this node proposed.
    pub proposed: u64,
    /// Faults the engine reported.
    pub faults: u64,
    /// Messages the engine refused.
    pub rejected: u64,
    /// Blocks imported by block sync.
    pub synced: u64,
    /// Transactions in the blocks this node decided.
    pub committed_txs: u64,
    /// Compact VALIDATEs that arrived before (or without) their block's body.
    pub compact_pending: u64,
}

/// The validator role: engine + schedule glue + durable outputs.
pub struct ValidatorHost {
    engine: Validator<dpor::Schedule>,
    lcfg: Config,
    genesis: Header,
    catch_up: usize,
    behind: bool,
    allocated: Allocation,
    defaults: Vec<Address>,
    /// Pending transactions.
    pub mempool: Mempool,
    /// Senders recovered by this node, by transaction hash: a block's transactions are
    /// not recovered again when the block is judged or committed.
    /// Shared with the intake workers ([`crate::ingest::recover_unless_known`]).
    pub senders: SharedSenders,
    /// Account changes of the proposals judged valid at the current height, by block id:
    /// the committed one is stored without executing it again.
    checked: Vec<(cpchain_consensus::lbft::BlockId, Overlay)>,
    /// Bodies of recent blocks, for the compact VALIDATEs peers gossip ([`crate::compact`]).
    bodies: BodyCache,
    spec: ChainSpec,
    me: Address,
    proposed_at: Option<Height>,
    silent: bool,
    vote_log: Option<std::fs::File>,
    /// Counters since start.
    pub counters: Counters,
}

impl std::fmt::Debug for ValidatorHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidatorHost")
            .field("me", &self.me)
            .field("height", &self.engine.height())
            .finish()
    }
}

/// Most pending transactions a node holds (admission beyond it is `mempool_full`).
pub const MEMPOOL_CAPACITY: usize = 50_000;

/// The mempool's byte budget: encodings plus [`tx::MEMPOOL_ENTRY_OVERHEAD`] each
/// (admission beyond it is `mempool_full`). 50,000 transfers of 92 bytes are charged
/// 41 MiB; transactions over ~240 bytes meet this bound before the count.
pub const MEMPOOL_BYTES: usize = 48 << 20;

/// Most pending transactions a node holds behind a nonce gap (`tx::Mempool`'s queued
/// part; admission beyond it is `mempool_full`): half the pool, counted within
/// [`MEMPOOL_CAPACITY`], so the other half is always left to transactions that can
/// execute.
pub const MEMPOOL_QUEUED_CAPACITY: usize = MEMPOOL_CAPACITY / 2;

/// The queued part's byte budget (half of [`MEMPOOL_BYTES`], counted within it).
pub const MEMPOOL_QUEUED_BYTES: usize = MEMPOOL_BYTES / 2;

/// Senders whose first ready transaction is judged again after each commit
/// (`tx::Mempool::revalidate`, round robin), besides every sender whose first one is
/// new since the last commit (all of those are judged): every sender of a pool of a few
/// thousand within a few blocks; each costs an account read and one transaction applied.
pub const REVALIDATE_PER_BLOCK: usize = 256;

/// Ready transactions (`tx::Mempool::ready_len`, none behind a nonce gap) beyond which
/// intake sheds load BEFORE recovery (the API refuses
/// `mempool_full`, gossiped batches are dropped): two full blocks, 1.5-3 s of what the
/// network commits. Offered load beyond what the network commits would otherwise be
/// recovered by every node (a recovery per node per offered transaction) and take the
/// block pipeline's CPU: measured on the 4-node devnet bench, committed fell from 5,389
/// to 4,696 tx/s when 5,829 were offered with only the full pool (50,000) shedding.
/// Transactions recovered already are still admitted up to [`MEMPOOL_CAPACITY`].
pub const INTAKE_SHED_PENDING: usize = 2 * MAX_BLOCK_TXS;

/// Entries of the sender cache: the whole pool plus four full blocks of transactions the
/// node did not have pending (at most `SENDER_CACHE_ENTRY_BYTES` × this ≈ 10 MiB).
pub const SENDER_CACHE_CAPACITY: usize = MEMPOOL_CAPACITY + 4 * MAX_BLOCK_TXS;

/// Most judged proposals whose account changes are kept for their commit (one a round).
const MAX_CHECKED_OVERLAYS: usize = 4;

/// Most transactions a proposer puts in one block (with ~100-byte transfers a 1 MiB
/// block meets this bound and the byte bound together).
pub const MAX_BLOCK_TXS: usize = 8_192;

/// The state of `a`: stored, else its genesis allocation.
pub fn load_account(store: &Store, allocated: &Allocation, a: &Address) -> Account {
    match store.account(a) {
        Ok(Some(acct)) => acct,
        _ => Account {
            balance: allocated.get(a).copied().unwrap_or(0),
            ..Account::default()
        },
    }
}

/// Account loads for one batch (a block's execution, a batch of admissions, a
/// proposal): stored state from one read snapshot ([`Store::accounts`]), else the genesis
/// allocation, as [`load_account`] answers per call.
pub struct Accounts<'a> {
    reader: Option<crate::store::AccountReader>,
    store: &'a Store,
    allocated: &'a Allocation,
}

impl std::fmt::Debug for Accounts<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts").finish_non_exhaustive()
    }
}

impl<'a> Accounts<'a> {
    /// A snapshot of `store`'s accounts over `allocated`.
    pub fn new(store: &'a Store, allocated: &'a Allocation) -> Accounts<'a> {
        Accounts {
            reader: store.accounts().ok(),
            store,
            allocated,
        }
    }

    /// The state of `a` ([`load_account`]'s answer, from the snapshot).
    pub fn load(&self, a: &Address) -> Account {
        let Some(reader) = &self.reader else {
            return load_account(self.store, self.allocated, a);
        };
        match reader.account(a) {
            Ok(Some(acct)) => acct,
            _ => Account {
                balance: self.allocated.get(a).copied().unwrap_or(0),
                ..Account::default()
            },
        }
    }
}

/// The canonical block id at `h` as seen by a block whose parent is `parent` (at
/// `parent_height`): the parent itself, else the stored block.
pub fn canonical_id(store: &Store, parent: &Header, h: Height) -> Option<cpchain_core::Hash> {
    if h == parent.height {
        return Some(parent.id());
    }
    if h > parent.height {
        return None;
    }
    store.block(h.0).ok().flatten().map(|v| v.block.id())
}

/// After a commit, while more than a block's worth is ready: the new first ready
/// transactions and up to [`REVALIDATE_PER_BLOCK`] other senders' first ready
/// transactions in
/// `pool` are judged on the stored state after `header` (the new head, at its time, with
/// the DPoR state `dpor` it left), and those that no longer apply leave the pool
/// (`Mempool::revalidate`: otherwise they would hold the ready part for ever).
pub(crate) fn revalidate_pool(
    pool: &mut Mempool,
    spec: &ChainSpec,
    store: &Store,
    allocated: &Allocation,
    coinbase: Address,
    header: &Header,
    dpor: &DporState,
) {
    // Only while the ready part holds more than a block: below that, what cannot apply
    // costs a proposer one skipped sender and holds no intake back (the shed threshold
    // is two blocks), and judging every sender whose first transaction is new after
    // every commit would cost an account read and an apply per sender of each block
    // (up to one a sender: 1,000 on the 4-validator bench). Above it, the senders new since the
    // last judgement are all judged (`Mempool::revalidate`).
    if pool.ready_len() <= MAX_BLOCK_TXS {
        return;
    }
    let accounts = Accounts::new(store, allocated);
    let load = |a: &Address| accounts.load(a);
    let canonical = |x: Height| canonical_id(store, header, x);
    let chain = ChainView {
        height: Height(header.height.0.saturating_add(1)),
        canonical: &canonical,
        ledger: store,
    };
    let mut overlay = Overlay::on(dpor.clone());
    let time = header.timestamp;
    let dropped = pool.revalidate(REVALIDATE_PER_BLOCK, |c| {
        overlay
            .apply_in(spec, c, time, coinbase, &load, &chain)
            .is_ok()
    });
    if dropped > 0 {
        tracing::debug!(dropped, "pending transactions that no longer apply dropped");
    }
}

/// Execute a block on the stored state (`base`: the stored DPoR state): its transactions
/// (`Err` if any fails to decode, recover, or apply; signatures are recovered on all
/// cores), then the DPoR bookkeeping of the block and, at a checkpoint, the election with
/// the real candidates and RPT inputs from the chain ([`dpor_state`]).
pub fn execute(
    spec: &ChainSpec,
    block: &Block,
    store: &Store,
    allocated: &Allocation,
    defaults: &[Address],
    base: DporState,
) -> Result<Overlay, tx::TxError> {
    let checked = tx::check_all(&block.transactions, spec.chain_id)?;
    apply_all(spec, block, &checked, store, allocated, defaults, base)
}

/// [`execute`] with the pending transactions taken from `pool` as they are, and senders
/// taken from `cache` where this node recovered them before (only the misses are
/// recovered, and then remembered): `crate::ingest::check_block`. `tx_hashes`, when
/// known (the engine's `CheckBlock` leaves: each transaction's hash, in order), spare
/// hashing the body again (`crate::ingest::check_block_hashed`).
#[allow(clippy::too_many_arguments)]
pub fn execute_cached(
    spec: &ChainSpec,
    block: &Block,
    store: &Store,
    allocated: &Allocation,
    defaults: &[Address],
    base: DporState,
    pool: &Mempool,
    cache: &mut SenderCache,
    tx_hashes: Option<&[Hash]>,
) -> Result<Overlay, tx::TxError> {
    let txs = &block.transactions;
    let checked = match tx_hashes {
        Some(h) => crate::ingest::check_block_hashed(txs, h, spec.chain_id, pool, cache)?,
        None => crate::ingest::check_block(txs, spec.chain_id, pool, cache)?,
    };
    apply_all(spec, block, &checked, store, allocated, defaults, base)
}

fn apply_all<C: std::borrow::Borrow<Checked>>(
    spec: &ChainSpec,
    block: &Block,
    checked: &[C],
    store: &Store,
    allocated: &Allocation,
    defaults: &[Address],
    base: DporState,
) -> Result<Overlay, tx::TxError> {
    let accounts = Accounts::new(store, allocated);
    let load = |a: &Address| accounts.load(a);
    let mut overlay = Overlay::on(base);
    let height = block.header.height;
    let parent_height = Height(height.0.saturating_sub(1));
    let parent = block.header.parent;
    let canonical = |h: Height| {
        if h == parent_height {
            Some(parent)
        } else if h > parent_height {
            None
        } else {
            store.block(h.0).ok().flatten().map(|v| v.block.id())
        }
    };
    let chain = ChainView {
        height,
        canonical: &canonical,
        ledger: store,
    };
    for c in checked {
        overlay.apply_in(
            spec,
            c.borrow(),
            block.header.timestamp,
            block.header.coinbase,
            &load,
            &chain,
        )?;
    }
    // Escrow timeouts at the block's time (crate::ledger).
    let payouts = overlay.ledger.end_block(store, block.header.timestamp)?;
    overlay.credit(&payouts, &load);
    let senders: Vec<Address> = checked.iter().map(|c| c.borrow().sender).collect();
    let accounts = &overlay.accounts;
    let balance = |a: &Address| accounts.get(a).copied().unwrap_or_else(|| load(a)).balance;
    overlay.dpor.end_block(
        spec,
        defaults,
        height,
        &block.id(),
        block.header.proposer,
        block.is_impeach(),
        &senders,
        &overlay.ledger.activity,
        balance,
    );
    Ok(overlay)
}

/// What checking and executing a synced block needs.
#[derive(Debug, Clone, Copy)]
pub struct ImportRules<'a> {
    /// Chain parameters.
    pub spec: &'a ChainSpec,
    /// The committee whose certificates are checked.
    pub validators: &'a ValidatorSet,
    /// The impeach certificate rule.
    pub impeach_quorum: ImpeachQuorum,
    /// The genesis header (the parent of height 1).
    pub genesis: &'a Header,
    /// Genesis balances.
    pub allocated: &'a Allocation,
}

/// Import synced blocks in height order from the stored head + 1: each is light-verified
/// (`verify_validate`: parent, scheduled seal or the impeach block, a quorum of distinct
/// valid signatures), executed and stored with its account changes, and elections run at
/// checkpoints; stops at the first that fails. Returns how many and the new head.
pub fn import(
    rules: &ImportRules<'_>,
    sched: &mut dpor::Schedule,
    store: &Store,
    blocks: Vec<Validate>,
) -> Result<(usize, Header), NodeError> {
    let ImportRules {
        spec,
        validators,
        impeach_quorum,
        genesis,
        allocated,
    } = *rules;
    let mut head = match store.head()? {
        Some(v) => v.block.header,
        None => genesis.clone(),
    };
    let mut applied = 0usize;
    for v in blocks {
        let height = v.block.header.height.0;
        if Some(height) != head.height.0.checked_add(1) {
            break;
        }
        if let Err(e) = verify_validate(spec, validators, impeach_quorum, &*sched, &v, &head) {
            tracing::warn!(height, "synced block refused: {e}");
            break;
        }
        let defaults: Vec<Address> = validators.addresses().collect();
        let overlay = match execute(spec, &v.block, store, allocated, &defaults, store.dpor()?) {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(height, "certified block does not execute: {e}");
                break;
            }
        };
        store.put_block(&v, &overlay)?;
        install(sched, &overlay.dpor, v.block.header.height);
        head = v.block.header.clone();
        applied += 1;
    }
    Ok((applied, head))
}

/// The genesis header of the chain `cfg` describes.
pub fn genesis(cfg: &NodeConfig) -> Header {
    Header::genesis(&cfg.spec(), cfg.genesis_time())
}

/// The DPoR schedule with the committee as default proposers and the committees elected
/// at checkpoints as stored with the head block (elections ran when each checkpoint
/// block was executed, with the campaigning RNodes and RPT from the chain at that block).
pub fn schedule(cfg: &NodeConfig, store: &Store) -> Result<dpor::Schedule, NodeError> {
    let spec = cfg.spec();
    let set = cfg.validator_set().map_err(NodeError::Consensus)?;
    let defaults: Vec<Address> = set.addresses().collect();
    let mut s = dpor::Schedule::new(&spec, &defaults, 8)
        .map_err(|e| NodeError::Consensus(format!("schedule: {e}")))?;
    let head = store
        .head()?
        .map(|v| v.block.header.height)
        .unwrap_or(Height(0));
    install(&mut s, &store.dpor()?, head);
    Ok(s)
}

/// Install the committees elected up to the block at `height` and forget served terms.
pub fn install(s: &mut dpor::Schedule, state: &DporState, height: Height) {
    let current = s.term_of(height);
    s.prune_before(current);
    dpor_state::install(s, state);
}

impl ValidatorHost {
    /// Start from the database with the engine's one restart call, `Validator::restart`:
    /// the last `Persist` record, the chain head and its newest VALIDATEs. It restores a
    /// record at the head, starts fresh at a head past it (a crash between a `Commit` and
    /// the next `Persist`: nothing was signed at the new height yet), and refuses a record
    /// above the head (reported as a corrupt database).
    pub fn start(
        cfg: &NodeConfig,
        key: SecretKey,
        store: &Store,
        now: Timestamp,
    ) -> Result<ValidatorHost, NodeError> {
        let spec = cfg.spec();
        let set = cfg.validator_set().map_err(NodeError::Consensus)?;
        let me = key.public_key().address();
        let mut lcfg = Config::new(spec.clone(), set, key);
        lcfg.catch_up_heights = cfg.catch_up_heights;
        lcfg.max_block_bytes = cfg
            .max_block_bytes
            .min(cpchain_consensus::lbft::MAX_BLOCK_BYTES);
        lcfg.future_heights = cfg.catch_up_heights;
        let engine_cfg = lcfg.clone();
        let sched = schedule(cfg, store)?;
        let head = store.head()?;
        let head_header = head
            .as_ref()
            .map(|v| v.block.header.clone())
            .unwrap_or_else(|| genesis(cfg));
        let persisted = store.persisted()?;
        let catch_up = usize::try_from(cfg.catch_up_heights).unwrap_or(8);
        // The engine's one restart call: it restores a record at the head, starts afresh
        // at a head past the record (a Commit stored before the next Persist), and keeps
        // the head's VALIDATE and older ones for lagging peers.
        let engine = Validator::restart(
            engine_cfg,
            sched,
            persisted.clone(),
            head_header.clone(),
            store.newest(catch_up)?,
            now,
        )
        .map_err(|e| match (e, &persisted) {
            (ConfigError::PersistedMismatch, Some(p)) => NodeError::DatabaseCorrupt {
                path: cfg.db_path(),
                reason: format!(
                    "validator state at height {} does not match the block store head {}",
                    p.parent.height.0 + 1,
                    head_header.height.0
                ),
            },
            (e, _) => NodeError::Consensus(e.to_string()),
        })?;
        tracing::info!(
            height = engine.height().0,
            round = engine.round(),
            restored = persisted.is_some_and(|p| p.parent == head_header),
            "validator started"
        );
        let vote_log = if cfg.vote_log {
            let path = cfg.vote_log_path();
            Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(|e| NodeError::io(path, e))?,
            )
        } else {
            None
        };
        Ok(ValidatorHost {
            engine,
            lcfg,
            genesis: genesis(cfg),
            catch_up,
            behind: false,
            allocated: cfg.allocation().map_err(NodeError::Consensus)?,
            defaults: cfg
                .validator_set()
                .map_err(NodeError::Consensus)?
                .addresses()
                .collect(),
            mempool: Mempool::with_queue(
                MEMPOOL_CAPACITY,
                MEMPOOL_BYTES,
                MEMPOOL_QUEUED_CAPACITY,
                MEMPOOL_QUEUED_BYTES,
            ),
            senders: Arc::new(std::sync::Mutex::new(SenderCache::new(
                SENDER_CACHE_CAPACITY,
            ))),
            checked: Vec::new(),
            bodies: BodyCache::default(),
            spec,
            me,
            proposed_at: None,
            silent: cfg.silent_proposer,
            vote_log,
            counters: Counters::default(),
        })
    }

    /// Whether current traffic is further ahead than the engine can buffer or be caught
    /// up on (`catch_up_heights`): the host must sync blocks.
    pub fn is_behind(&self) -> bool {
        self.behind
    }

    /// Nothing more to sync from the peer asked.
    pub fn sync_done(&mut self) {
        self.behind = false;
    }

    /// Block sync: import `blocks` (in height order from the head + 1), each light-verified
    /// against its parent and the DPoR schedule (seal, impeach block, a quorum of distinct
    /// valid COMMIT signatures) before it is stored; stop at the first that fails. If any
    /// was imported, restart the engine with `Validator::restart` at the new head (the
    /// engine cannot jump heights itself), handing it the newest VALIDATEs. Returns how
    /// many.
    pub fn apply_synced(
        &mut self,
        now: Timestamp,
        blocks: Vec<Validate>,
        store: &Store,
    ) -> Result<usize, NodeError> {
        let mut sched = self.engine.schedule().clone();
        let rules = ImportRules {
            spec: &self.spec,
            validators: &self.lcfg.validators,
            impeach_quorum: self.lcfg.impeach_quorum,
            genesis: &self.genesis,
            allocated: &self.allocated,
        };
        let (applied, head) = import(&rules, &mut sched, store, blocks)?;
        if applied > 0 {
            self.engine = Validator::restart(
                self.lcfg.clone(),
                sched,
                None,
                head.clone(),
                store.newest(self.catch_up)?,
                now,
            )
            .map_err(|e| NodeError::Consensus(e.to_string()))?;
            self.proposed_at = None;
            self.checked.clear();
            let allocated = &self.allocated;
            self.mempool
                .prune(&|a: &Address| load_account(store, allocated, a));
            self.counters.synced += applied as u64;
            tracing::info!(head = head.height.0, applied, "block sync");
        }
        Ok(applied)
    }

    /// Admit transactions recovered off the loop (API or gossip, see [`crate::ingest`]):
    /// every recovered sender is remembered (whether or not the pool takes it), then
    /// nonce, balance and the pool's bounds are checked (accounts read from one
    /// snapshot for the batch). One result per transaction: the admitted one as the pool
    /// keeps it (shared, not copied).
    pub fn admit_checked(
        &mut self,
        items: Vec<Result<Checked, tx::TxError>>,
        store: &Store,
    ) -> Vec<Result<Arc<Checked>, tx::TxError>> {
        let accounts = Accounts::new(store, &self.allocated);
        let load = |a: &Address| accounts.load(a);
        let mut head_time = None;
        let genesis_time = self.genesis.timestamp;
        let chain_id = self.spec.chain_id;
        let mut senders = lock_senders(&self.senders);
        items
            .into_iter()
            .map(|r| {
                let c = r?;
                senders.insert(c.hash, c.sender);
                if crate::ledger::is_ledger_kind(&c.tx.body.kind) {
                    let now = match head_time {
                        Some(t) => t,
                        None => {
                            let t = store.head_time(genesis_time).unwrap_or(genesis_time);
                            head_time = Some(t);
                            t
                        }
                    };
                    crate::ledger::admit(store, chain_id, now, &c, &load)?;
                }
                let c = Arc::new(c);
                self.mempool.admit_checked(Arc::clone(&c), &load).map(|_| c)
            })
            .collect()
    }

    /// An account's state.
    pub fn account(&self, a: &Address, store: &Store) -> Account {
        load_account(store, &self.allocated, a)
    }

    /// This validator's address.
    pub fn address(&self) -> Address {
        self.me
    }

    /// The height being decided.
    pub fn height(&self) -> Height {
        self.engine.height()
    }

    /// The current round.
    pub fn round(&self) -> u32 {
        self.engine.round()
    }

    fn log_vote(&mut self, vote: &Vote) {
        if let Some(f) = self.vote_log.as_mut() {
            if let Ok(bytes) = encoding::encode_to_vec(vote) {
                // Written before the vote is sent; the page cache survives SIGKILL.
                let _ = writeln!(f, "{}", hex::encode(bytes));
            }
        }
    }

    /// Bytes from the peer bound to `from`.
    pub fn on_bytes(&mut self, now: Timestamp, from: Address, bytes: &[u8]) {
        let msg = match encoding::decode::<Message>(bytes) {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(%from, "undecodable message: {e}");
                self.counters.rejected += 1;
                return;
            }
        };
        self.on_message(now, from, msg);
    }

    /// A decoded message whose `from` is authenticated (by the connection, or by the
    /// message's own signature: [`crate::attribution`]).
    pub fn on_message(&mut self, now: Timestamp, from: Address, msg: Message) {
        if let Message::Vote(v) = &msg {
            self.log_vote(v);
        }
        // A proposal for the height being decided, naming its scheduled proposer: the
        // leaves its transactions have in the pool go with it, so the engine hashes only
        // the others. One refused on height or proposer costs no lookups; one the engine
        // refuses later (a bad seal, a duplicate) costs them, bounded by its body (one map
        // lookup and at most one byte comparison per transaction, about a decode's work).
        let height = self.engine.height();
        let verdict = match msg {
            Message::PrePrepare(block)
                if block.header.height == height
                    && self.engine.schedule().proposer_of(height)
                        == Some(block.header.proposer) =>
            {
                let known = self.mempool.known_leaves(&block.transactions);
                self.engine.handle_message_with_known_leaves(
                    now,
                    from,
                    Message::PrePrepare(block),
                    known,
                )
            }
            other => self.engine.handle_message(now, from, other),
        };
        // A peer's bad message is a verdict, not an error (the engine counts it by reason).
        if let Some(e) = verdict.rejected() {
            tracing::trace!(%from, "refused: {e}");
            if e == Rejected::TooFarAhead {
                self.behind = true;
            }
            self.counters.rejected += 1;
        }
    }

    /// A compact VALIDATE gossiped by the peer bound to `from` ([`crate::compact`]): with
    /// the body this node holds, the whole VALIDATE goes to the engine like any other;
    /// without it, it waits (the body may be in the engine's queue of a later height), and
    /// if it is for the height being decided still after a tick ([`Self::tick`]), the
    /// block comes by block sync.
    pub fn on_compact_validate(&mut self, now: Timestamp, from: Address, cv: CompactValidate) {
        match self.bodies.expand(from, cv) {
            Some(v) => self.on_message(now, from, Message::Validate(v)),
            None => self.counters.compact_pending += 1,
        }
    }

    /// The node loop's periodic tick (twice a second): a compact VALIDATE of the height
    /// being decided that still has no body means this node missed the block; sync it.
    pub fn tick(&mut self) {
        if self.bodies.overdue(self.engine.height()) {
            tracing::debug!(
                height = self.engine.height().0,
                "VALIDATE without a body: block sync"
            );
            self.behind = true;
        }
    }

    /// Bytes gossiped by a bound peer outside the committee (a proposer RNode): only a
    /// PRE-PREPARE is taken, and the engine accepts it only from the proposer the DPoR
    /// schedule names for the height (it checks the seal); anything else is refused, and
    /// such a peer never makes this node think it is behind.
    pub fn on_rnode_bytes(&mut self, now: Timestamp, from: Address, bytes: &[u8]) {
        match encoding::decode::<Message>(bytes) {
            Ok(m) => self.on_rnode_message(now, from, m),
            Err(_) => self.counters.rejected += 1,
        }
    }

    /// [`ValidatorHost::on_rnode_bytes`], decoded: only a PRE-PREPARE is taken.
    pub fn on_rnode_message(&mut self, now: Timestamp, from: Address, msg: Message) {
        if !matches!(msg, Message::PrePrepare(_)) {
            self.counters.rejected += 1;
            return;
        }
        if let Some(e) = self.engine.handle_message(now, from, msg).rejected() {
            tracing::debug!(%from, "proposal from an RNode refused: {e}");
            self.counters.rejected += 1;
        }
    }

    /// When the host must call [`ValidatorHost::on_timeout`] next.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        let engine = self.engine.next_deadline();
        match (engine, self.propose_time()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn propose_time(&self) -> Option<Timestamp> {
        let h = self.engine.height();
        if self.silent
            || self.proposed_at == Some(h)
            || self.engine.round() != 0
            || self.engine.schedule().proposer_of(h) != Some(self.me)
        {
            return None;
        }
        Some(
            self.engine
                .parent()
                .timestamp
                .saturating_add(self.spec.block_period),
        )
    }

    /// The timer fired: propose on our slot, and let the engine act on its deadlines.
    pub fn on_timeout(&mut self, now: Timestamp, store: &Store) {
        if let Some(earliest) = self.propose_time().filter(|t| now >= *t) {
            let h = self.engine.height();
            self.proposed_at = Some(h);
            let time = if now > earliest { now } else { earliest };
            let allocated = &self.allocated;
            let parent = self.engine.parent().clone();
            let canonical = |x: Height| canonical_id(store, &parent, x);
            let chain = ChainView {
                height: h,
                canonical: &canonical,
                ledger: store,
            };
            let base = store.dpor().unwrap_or_default();
            let accounts = Accounts::new(store, allocated);
            // With the pool's hashes: `tx_root` without hashing the body (issue 14).
            let (txs, hashes) = self.mempool.select_hashed(
                &self.spec,
                time,
                self.lcfg.coinbase,
                MAX_BLOCK_TXS,
                self.lcfg.max_block_bytes,
                &|a: &Address| accounts.load(a),
                &base,
                &chain,
            );
            match self.engine.propose_with_leaves(now, txs, &hashes) {
                Ok(_) => {
                    self.counters.proposed += 1;
                    tracing::debug!(height = h.0, "proposed");
                }
                Err(ProposeError::AlreadyProposed) => {}
                Err(e) => tracing::debug!(height = h.0, "not proposing: {e}"),
            }
        }
        if self.engine.next_deadline().is_some_and(|d| now >= d) {
            self.engine.handle_timeout(now);
        }
    }

    /// Drain the engine: persist, store commits, answer block checks; return the sends.
    /// On a storage error nothing after the failed write is acted on.
    pub fn drain(&mut self, now: Timestamp, store: &Store) -> Result<Vec<Action>, NodeError> {
        let mut actions = Vec::new();
        loop {
            while let Some(out) = self.engine.poll_output() {
                match out {
                    ValidatorOutput::Persist(p) => store.put_persisted(&p)?,
                    ValidatorOutput::Broadcast(m) => {
                        if let Message::Vote(v) = &m {
                            self.log_vote(v);
                        }
                        // A VALIDATE goes out compact (its body is what every peer holds,
                        // see `crate::compact`); our own proposal's body is kept for them.
                        let encoded = match &m {
                            Message::Validate(v) => {
                                encoding::encode_to_vec(&CompactValidate::of(v))
                            }
                            other => encoding::encode_to_vec(other),
                        };
                        match encoded {
                            Ok(b) => actions.push(Action::Broadcast(b)),
                            Err(e) => tracing::error!("cannot encode own message: {e}"),
                        }
                        match m {
                            Message::PrePrepare(b) => self.bodies.keep(b.id(), b.transactions),
                            Message::Validate(v) => {
                                self.bodies.keep(v.block.id(), v.block.transactions)
                            }
                            _ => {}
                        }
                    }
                    ValidatorOutput::Send { to, msg } => match encoding::encode_to_vec(&msg) {
                        Ok(bytes) => actions.push(Action::Send { to, bytes }),
                        Err(e) => tracing::error!("cannot encode own message: {e}"),
                    },
                    ValidatorOutput::CheckBlock {
                        block, tx_hashes, ..
                    } => {
                        let id = block.id();
                        let base = store.dpor()?;
                        let valid = match execute_cached(
                            &self.spec,
                            &block,
                            store,
                            &self.allocated,
                            &self.defaults,
                            base,
                            &self.mempool,
                            &mut lock_senders(&self.senders),
                            Some(&tx_hashes),
                        ) {
                            Ok(overlay) => {
                                // Kept for the commit of this block: the stored state cannot
                                // change before it (only commits and block sync change it,
                                // and both clear this).
                                if self.checked.len() >= MAX_CHECKED_OVERLAYS {
                                    self.checked.remove(0);
                                }
                                self.checked.push((id, overlay));
                                true
                            }
                            Err(e) => {
                                tracing::warn!(
                                    height = block.header.height.0,
                                    "illicit proposal: {e}"
                                );
                                false
                            }
                        };
                        self.engine.block_checked(now, id, valid);
                        // Judged by the engine (the scheduled proposer's seal, the header):
                        // kept for the compact VALIDATEs of this block.
                        self.bodies.keep(id, block.transactions);
                    }
                    ValidatorOutput::Commit { block, certificate } => {
                        let height = block.header.height;
                        let impeach = block.is_impeach();
                        let txs = block.transactions.len();
                        let base = store.dpor()?;
                        let id = block.id();
                        let known = self
                            .checked
                            .drain(..)
                            .find(|(checked, _)| *checked == id)
                            .map(|(_, o)| o);
                        let overlay = match known {
                            Some(o) => Ok(o),
                            None => execute_cached(
                                &self.spec,
                                &block,
                                store,
                                &self.allocated,
                                &self.defaults,
                                base.clone(),
                                &self.mempool,
                                &mut lock_senders(&self.senders),
                                None,
                            ),
                        }
                        .unwrap_or_else(|e| {
                            // Only a Byzantine quorum certifies such a block.
                            tracing::error!(
                                height = height.0,
                                "certified block does not execute: {e}"
                            );
                            Overlay::on(base)
                        });
                        let v = Validate { block, certificate };
                        store.put_block(&v, &overlay)?;
                        let header = v.block.header.clone();
                        self.bodies.keep(id, v.block.transactions);
                        // Only the accounts this block changed have new nonces.
                        self.mempool.prune_committed(&overlay.accounts);
                        revalidate_pool(
                            &mut self.mempool,
                            &self.spec,
                            store,
                            &self.allocated,
                            self.lcfg.coinbase,
                            &header,
                            &overlay.dpor,
                        );
                        self.counters.committed_txs += txs as u64;
                        install(self.engine.schedule_mut(), &overlay.dpor, height);
                        self.counters.decided += 1;
                        if impeach {
                            self.counters.impeached += 1;
                        }
                        tracing::info!(height = height.0, impeach, "committed");
                    }
                    ValidatorOutput::Fault(f) => {
                        self.counters.faults += 1;
                        tracing::warn!("fault: {}", f.name());
                    }
                    other => tracing::warn!("output this host does not know: {other:?}"),
                }
            }
            // Compact VALIDATEs that waited for a body this drain has kept.
            let ready = self.bodies.ready(self.engine.height());
            if ready.is_empty() {
                break;
            }
            for (from, v) in ready {
                self.on_message(now, from, Message::Validate(v));
            }
        }
        Ok(actions)
    }
}
