//! The node's disk: one redb database holding the validator's last `Persist` record and
//! the block store (every decided block with its C-certificate, by height).
//!
//! Every write is its own redb transaction committed with `Durability::Immediate` (redb
//! fsyncs before `commit` returns), so a record the node acted on survives SIGKILL and
//! power loss; a write that fails returns an error and the node stops before acting on
//! anything that depended on it (a full disk leaves the previous commit intact: redb's
//! commit is atomic). The database is stamped with a magic string, the chain id, the
//! genesis id and the committee; a file that is not a redb database, is truncated or
//! corrupt, or was made for another chain is refused at start-up with
//! [`NodeError::DatabaseCorrupt`] / [`NodeError::DatabaseForeign`], never started afresh.
//!
//! # Layout
//!
//! | table | key | value |
//! |---|---|---|
//! | `meta` | `"magic"`, `"chain"` | [`MAGIC`], the [`ChainStamp`] |
//! | `state` | `"validator/refs"` | the validator's last `Persist` record, its blocks by id (tag `0x0a50`) |
//! | `state` | `"validator"` | the same record, whole (`Persisted`, tag `0x0207`): databases written before issue 14's pass 5 only |
//! | `state` | `"dpor"` | the DPoR state after the head block |
//! | `persist_blocks` | block id (32 bytes) | a block the current record names (`Block`, its own encoding) |
//! | `blocks` | height | the decided block with its C-certificate (`Validate`) |
//! | `accounts` | address | account state |
//! | `ledger` | typed key | the data ledger |
//!
//! **The `Persist` record without block copies** (issue 14). A `Persist` record names up to
//! two blocks of up to 1 MiB each (`prepared_block` and the lock's block) and the engine
//! emits several records per height (one per vote, round change or proposal), mostly
//! naming the same blocks. Writing the whole record each time encoded and fsynced each
//! block again. [`Store::put_persisted`] now writes the record with its blocks replaced
//! by their ids (`"validator/refs"`) and each block into `persist_blocks` only when the
//! table does not already hold that very block, and deletes every row of
//! `persist_blocks` the record does not name, all in the record's one
//! `Durability::Immediate` transaction: after every commit the table holds exactly the
//! blocks the current record names (at most two rows, at most 2 MiB). Which blocks the
//! table holds is remembered in memory after each commit of this `Store` (a copy of each,
//! compared in full with the record's blocks, so a block with the same id but another
//! seal or body is written again, never taken for the stored one); after `open` it is
//! unknown, so the first write rewrites its blocks and reads the table's keys. In the
//! one case an id cannot key two blocks (the record's prepared block and locked block
//! share an id but differ), the prepared block stays inline in the record.
//!
//! Measured (`tests/persist_blocks.rs`, four in-process validators, six heights with a
//! body, no faults): per height per validator 3.42 `Persist` records naming 2.25 full
//! blocks (each encoded and fsynced by the whole-record layout), now 1.00 block written.
//! The `host` bench's `persist/*` group times one durable write with a 1 MB prepared
//! block, old against new layout.
//!
//! Reading ([`Store::persisted`]) reassembles the exact `Persisted`; a record naming a
//! block the table lacks, or a stored block whose header id is not its key, is
//! [`NodeError::DatabaseCorrupt`] at start-up. A database written before this layout
//! (the whole record under `"validator"`) still restores; the first new write removes the
//! old key in the same transaction.

use crate::dpor_state::DporState;
use crate::error::NodeError;
use crate::ledger::{DataLedger, LedgerError, LedgerRead};
use crate::tx::{Account, Overlay};
use cpchain_consensus::lbft::{
    Block, BlockId, Certificate, Header, LockProof, Persisted, Validate, Vote,
};
use cpchain_core::{encoding, Address, Hash, Timestamp, WireMessage};
use redb::{Database, Durability, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const STATE: TableDefinition<&str, &[u8]> = TableDefinition::new("state");
const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
const ACCOUNTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("accounts");
/// The data ledger ([`crate::ledger`]): keys prefixed by record type.
const LEDGER: TableDefinition<&[u8], &[u8]> = TableDefinition::new("ledger");
/// The blocks the current `Persist` record names, by block id (see the module docs).
const PERSIST_BLOCKS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("persist_blocks");
/// Key (in `state`) of the `Persist` record with its blocks by id.
const RECORD_KEY: &str = "validator/refs";
/// Key (in `state`) of the whole `Persist` record of databases written before issue 14.
const OLD_RECORD_KEY: &str = "validator";

/// A block of a stored `Persist` record: by id (in `persist_blocks`) or, when an id
/// cannot name it (see the module docs), inline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum BlockRef {
    Id(BlockId),
    Inline(Block),
}

/// [`Persisted`] with its blocks replaced by ids, as stored under `"validator/refs"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredRecord {
    chain_id: u64,
    parent: Header,
    round: u32,
    round_start: Timestamp,
    prepared: Option<Vote>,
    committed: Option<Vote>,
    /// The lock's round, its block's id and its P-certificate.
    lock: Option<(u32, BlockId, Certificate)>,
    prepared_block: Option<BlockRef>,
    proposed: bool,
    led: bool,
}

impl WireMessage for StoredRecord {
    const TAG: u16 = 0x0a50;
    // An inline block keeps it within the whole record's bound.
    const MAX_ENCODED_LEN: usize = <Persisted as WireMessage>::MAX_ENCODED_LEN;
}

/// Split a record into what is stored under `"validator/refs"` and the blocks it names
/// by id (distinct ids, at most two).
fn split(p: &Persisted) -> (StoredRecord, Vec<(BlockId, &Block)>) {
    let Persisted {
        chain_id,
        parent,
        round,
        round_start,
        prepared,
        committed,
        lock,
        prepared_block,
        proposed,
        led,
    } = p;
    let mut named: Vec<(BlockId, &Block)> = Vec::with_capacity(2);
    let lock = lock.as_ref().map(|(r, proof)| {
        let id = proof.block.id();
        named.push((id, &proof.block));
        (*r, id, proof.certificate.clone())
    });
    let prepared_block = prepared_block.as_ref().map(|b| {
        let id = b.id();
        match named.iter().find(|(n, _)| *n == id) {
            Some((_, same)) if *same == b => BlockRef::Id(id),
            Some(_) => BlockRef::Inline(b.clone()),
            None => {
                named.push((id, b));
                BlockRef::Id(id)
            }
        }
    });
    let record = StoredRecord {
        chain_id: *chain_id,
        parent: parent.clone(),
        round: *round,
        round_start: *round_start,
        prepared: prepared.clone(),
        committed: committed.clone(),
        lock,
        prepared_block,
        proposed: *proposed,
        led: *led,
    };
    (record, named)
}

/// How many `Persist` records and blocks [`Store::put_persisted`] wrote since the store
/// was opened: the measure of issue 14's "each block written once".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PersistCounters {
    /// Records written (durable transactions).
    pub records: u64,
    /// Blocks the records named (the blocks the whole-record layout encoded and wrote).
    pub blocks_named: u64,
    /// Blocks encoded and written into `persist_blocks`.
    pub blocks_written: u64,
    /// Bytes of the records and blocks written.
    pub bytes_written: u64,
}

/// What `put_persisted` knows of `persist_blocks` (guarded by the store's mutex, held
/// across each write so the knowledge and the table never disagree).
#[derive(Default)]
struct PersistCache {
    /// The rows of `persist_blocks` after this store's last commit; `None` when unknown
    /// (after `open`, or after a failed write).
    held: Option<Vec<(BlockId, Block)>>,
    counters: PersistCounters,
}

/// Stamped into every node database.
pub const MAGIC: &[u8] = b"cpchain-node/db/v1";

/// What a database must have been made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainStamp {
    /// Chain id.
    pub chain_id: u64,
    /// Id of the genesis header.
    pub genesis: Hash,
    /// Hash of the committee's addresses.
    pub committee: Hash,
}

impl ChainStamp {
    fn to_bytes(self) -> Vec<u8> {
        let mut v = self.chain_id.to_le_bytes().to_vec();
        v.extend_from_slice(&self.genesis.0);
        v.extend_from_slice(&self.committee.0);
        v
    }
}

/// `Database::open`, with redb's panics turned into errors: redb 2.6 asserts (panics) on
/// a file shorter than its header says (`raw_file_len >= layout.len`), so a truncated
/// file would otherwise abort the node with a backtrace instead of an operator's error.
fn open_guarded(path: &Path) -> Result<Database, String> {
    match std::panic::catch_unwind(|| Database::open(path)) {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(e)) => Err(e.to_string()),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown".into());
            Err(format!("the file is damaged (redb: {msg})"))
        }
    }
}

/// A read snapshot of the stored accounts ([`Store::accounts`]).
pub struct AccountReader {
    table: Option<redb::ReadOnlyTable<&'static [u8], &'static [u8]>>,
}

impl std::fmt::Debug for AccountReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountReader").finish_non_exhaustive()
    }
}

impl AccountReader {
    /// An account's stored state, as [`Store::account`] reads it.
    pub fn account(&self, address: &Address) -> Result<Option<Account>, NodeError> {
        let Some(t) = &self.table else {
            return Ok(None);
        };
        let Some(v) = t.get(address.0.as_slice()).map_err(storage)? else {
            return Ok(None);
        };
        postcard::from_bytes(v.value()).map(Some).map_err(codec)
    }
}

/// The node's database.
pub struct Store {
    db: Database,
    path: PathBuf,
    persist: Mutex<PersistCache>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// A redb error while running: [`NodeError::DiskFull`] when the OS said the disk is
/// full (ENOSPC), else [`NodeError::Storage`].
fn storage(e: impl Into<redb::Error>) -> NodeError {
    let e: redb::Error = e.into();
    if let redb::Error::Io(io) = &e {
        if is_disk_full(io) {
            return NodeError::DiskFull(io.to_string());
        }
    }
    NodeError::Storage(e.to_string())
}

/// Whether an I/O error means "no space left" (ENOSPC, or EFBIG from a file-size limit).
pub fn is_disk_full(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::FileTooLarge
    ) || matches!(e.raw_os_error(), Some(28) | Some(27))
}

/// An encoding error of our own records (not the disk's fault).
fn codec(e: impl std::fmt::Display) -> NodeError {
    NodeError::Storage(e.to_string())
}

impl Store {
    /// Open the database at `path`, creating and stamping it only if the file does not
    /// exist. An existing file must be an intact node database made for `stamp`.
    pub fn open(path: &Path, stamp: ChainStamp) -> Result<Store, NodeError> {
        let fresh = !path.exists();
        let corrupt = |reason: String| NodeError::DatabaseCorrupt {
            path: path.to_path_buf(),
            reason,
        };
        let db = if fresh {
            Database::create(path).map_err(|e| corrupt(e.to_string()))?
        } else {
            open_guarded(path).map_err(corrupt)?
        };
        let store = Store {
            db,
            path: path.to_path_buf(),
            persist: Mutex::default(),
        };
        if fresh {
            let mut tx = store.db.begin_write().map_err(storage)?;
            tx.set_durability(Durability::Immediate);
            {
                let mut t = tx.open_table(META).map_err(storage)?;
                t.insert("magic", MAGIC).map_err(storage)?;
                t.insert("chain", stamp.to_bytes().as_slice())
                    .map_err(storage)?;
                tx.open_table(STATE).map_err(storage)?;
                tx.open_table(BLOCKS).map_err(storage)?;
                tx.open_table(ACCOUNTS).map_err(storage)?;
                tx.open_table(LEDGER).map_err(storage)?;
                tx.open_table(PERSIST_BLOCKS).map_err(storage)?;
            }
            tx.commit().map_err(storage)?;
        } else {
            let found = store.stamp_bytes()?;
            if found != stamp.to_bytes() {
                return Err(NodeError::DatabaseForeign {
                    path: path.to_path_buf(),
                    reason: "made for another chain id, genesis or committee".into(),
                });
            }
            store.check_blocks()?;
        }
        Ok(store)
    }

    /// Open an existing node database read-only in spirit (for `chain` and `status`),
    /// whatever chain it was made for.
    pub fn open_existing(path: &Path) -> Result<Store, NodeError> {
        if !path.exists() {
            return Err(NodeError::io(
                path,
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ));
        }
        let db = open_guarded(path).map_err(|reason| NodeError::DatabaseCorrupt {
            path: path.to_path_buf(),
            reason,
        })?;
        let store = Store {
            db,
            path: path.to_path_buf(),
            persist: Mutex::default(),
        };
        store.stamp_bytes()?;
        Ok(store)
    }

    fn stamp_bytes(&self) -> Result<Vec<u8>, NodeError> {
        let foreign = |reason: &str| NodeError::DatabaseForeign {
            path: self.path.clone(),
            reason: reason.into(),
        };
        let corrupt = |e: String| NodeError::DatabaseCorrupt {
            path: self.path.clone(),
            reason: e,
        };
        let tx = self.db.begin_read().map_err(|e| corrupt(e.to_string()))?;
        let t = tx
            .open_table(META)
            .map_err(|_| foreign("no CPChain node metadata (not a node database)"))?;
        let magic = t
            .get("magic")
            .map_err(|e| corrupt(e.to_string()))?
            .ok_or_else(|| foreign("no magic string"))?;
        if magic.value() != MAGIC {
            return Err(foreign("wrong magic string (another program's database)"));
        }
        let chain = t
            .get("chain")
            .map_err(|e| corrupt(e.to_string()))?
            .ok_or_else(|| foreign("no chain stamp"))?;
        Ok(chain.value().to_vec())
    }

    /// Every stored block must decode and link to the one below it.
    fn check_blocks(&self) -> Result<(), NodeError> {
        let corrupt = |reason: String| NodeError::DatabaseCorrupt {
            path: self.path.clone(),
            reason,
        };
        let tx = self.db.begin_read().map_err(|e| corrupt(e.to_string()))?;
        let t = tx.open_table(BLOCKS).map_err(|e| corrupt(e.to_string()))?;
        let mut prev: Option<(u64, Hash)> = None;
        for row in t.iter().map_err(|e| corrupt(e.to_string()))? {
            let (k, v) = row.map_err(|e| corrupt(e.to_string()))?;
            let height = k.value();
            let val: Validate = encoding::decode(v.value())
                .map_err(|e| corrupt(format!("block {height} does not decode: {e}")))?;
            if val.block.header.height.0 != height {
                return Err(corrupt(format!(
                    "block stored at {height} has another height"
                )));
            }
            if let Some((ph, pid)) = prev {
                if ph.checked_add(1) != Some(height) || val.block.header.parent != pid {
                    return Err(corrupt(format!(
                        "block {height} does not link to block {ph}"
                    )));
                }
            }
            prev = Some((height, val.block.id()));
        }
        Ok(())
    }

    /// The validator's last persisted record, reassembled from its blocks (see the module
    /// docs); a record under the pre-issue-14 key is read whole.
    pub fn persisted(&self) -> Result<Option<Persisted>, NodeError> {
        let corrupt = |reason: String| NodeError::DatabaseCorrupt {
            path: self.path.clone(),
            reason,
        };
        let tx = self.db.begin_read().map_err(storage)?;
        let t = tx.open_table(STATE).map_err(storage)?;
        if let Some(v) = t.get(RECORD_KEY).map_err(storage)? {
            let r: StoredRecord = encoding::decode(v.value())
                .map_err(|e| corrupt(format!("persisted validator state does not decode: {e}")))?;
            let blocks = match tx.open_table(PERSIST_BLOCKS) {
                Ok(b) => Some(b),
                Err(redb::TableError::TableDoesNotExist(_)) => None,
                Err(e) => return Err(storage(e)),
            };
            let fetch = |id: BlockId| -> Result<Block, NodeError> {
                let row = match &blocks {
                    Some(b) => b.get(id.0.as_slice()).map_err(storage)?,
                    None => None,
                };
                let Some(row) = row else {
                    return Err(corrupt(format!(
                        "persisted validator state names block {id}, which is not stored"
                    )));
                };
                let block: Block = encoding::decode(row.value())
                    .map_err(|e| corrupt(format!("persisted block {id} does not decode: {e}")))?;
                if block.id() != id {
                    return Err(corrupt(format!(
                        "block stored as {id} of the persisted validator state has id {}",
                        block.id()
                    )));
                }
                Ok(block)
            };
            let lock = match r.lock {
                Some((round, id, certificate)) => Some((
                    round,
                    LockProof {
                        block: fetch(id)?,
                        certificate,
                    },
                )),
                None => None,
            };
            let prepared_block = match r.prepared_block {
                Some(BlockRef::Id(id)) => match &lock {
                    Some((_, proof)) if proof.block.id() == id => Some(proof.block.clone()),
                    _ => Some(fetch(id)?),
                },
                Some(BlockRef::Inline(b)) => Some(b),
                None => None,
            };
            return Ok(Some(Persisted {
                chain_id: r.chain_id,
                parent: r.parent,
                round: r.round,
                round_start: r.round_start,
                prepared: r.prepared,
                committed: r.committed,
                lock,
                prepared_block,
                proposed: r.proposed,
                led: r.led,
            }));
        }
        let Some(v) = t.get(OLD_RECORD_KEY).map_err(storage)? else {
            return Ok(None);
        };
        encoding::decode(v.value())
            .map(Some)
            .map_err(|e| corrupt(format!("persisted validator state does not decode: {e}")))
    }

    /// Write the validator's record durably (fsynced when this returns `Ok`), in one
    /// transaction: the record with its blocks by id, each block the table does not hold
    /// already, and the removal of every block the record no longer names (module docs).
    pub fn put_persisted(&self, p: &Persisted) -> Result<(), NodeError> {
        let (record, named) = split(p);
        let bytes = encoding::encode_to_vec(&record).map_err(codec)?;
        let mut cache = self.persist.lock().unwrap_or_else(PoisonError::into_inner);
        // Unknown until this write commits: an error leaves it unknown.
        let held = cache.held.take();
        let mut writes: Vec<(BlockId, Vec<u8>)> = Vec::new();
        for (id, block) in &named {
            let stored = held
                .as_ref()
                .is_some_and(|h| h.iter().any(|(hid, hb)| hid == id && hb == *block));
            if !stored {
                writes.push((*id, encoding::encode_to_vec(*block).map_err(codec)?));
            }
        }
        let mut tx = self.db.begin_write().map_err(storage)?;
        tx.set_durability(Durability::Immediate);
        {
            let mut t = tx.open_table(STATE).map_err(storage)?;
            t.insert(RECORD_KEY, bytes.as_slice()).map_err(storage)?;
            t.remove(OLD_RECORD_KEY).map_err(storage)?;
            let mut b = tx.open_table(PERSIST_BLOCKS).map_err(storage)?;
            // The rows the record does not name: known, or read from the table's keys
            // (after `open`; at most two rows).
            let stale: Vec<Vec<u8>> = match &held {
                Some(h) => h
                    .iter()
                    .filter(|(id, _)| !named.iter().any(|(n, _)| n == id))
                    .map(|(id, _)| id.0.to_vec())
                    .collect(),
                None => {
                    let mut keys = Vec::new();
                    for row in b.iter().map_err(storage)? {
                        let (k, _) = row.map_err(storage)?;
                        if !named.iter().any(|(n, _)| n.0.as_slice() == k.value()) {
                            keys.push(k.value().to_vec());
                        }
                    }
                    keys
                }
            };
            for k in &stale {
                b.remove(k.as_slice()).map_err(storage)?;
            }
            for (id, enc) in &writes {
                b.insert(id.0.as_slice(), enc.as_slice()).map_err(storage)?;
            }
        }
        tx.commit().map_err(storage)?;
        let mut now_held = Vec::with_capacity(named.len());
        let mut reused = held.unwrap_or_default();
        for (id, block) in &named {
            match reused
                .iter()
                .position(|(hid, hb)| hid == id && hb == *block)
            {
                Some(i) => now_held.push(reused.swap_remove(i)),
                None => now_held.push((*id, (*block).clone())),
            }
        }
        cache.held = Some(now_held);
        let c = &mut cache.counters;
        c.records += 1;
        c.blocks_named += named.len() as u64;
        c.blocks_written += writes.len() as u64;
        c.bytes_written +=
            (bytes.len() + writes.iter().map(|(_, e)| e.len()).sum::<usize>()) as u64;
        Ok(())
    }

    /// What [`Store::put_persisted`] wrote since this store was opened.
    pub fn persist_counters(&self) -> PersistCounters {
        self.persist
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .counters
    }

    /// The ids of the blocks `persist_blocks` holds (the current record's, see the module
    /// docs), in key order: for tests and diagnostics.
    pub fn persist_block_ids(&self) -> Result<Vec<BlockId>, NodeError> {
        let tx = self.db.begin_read().map_err(storage)?;
        let b = match tx.open_table(PERSIST_BLOCKS) {
            Ok(b) => b,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(storage(e)),
        };
        let mut out = Vec::new();
        for row in b.iter().map_err(storage)? {
            let (k, _) = row.map_err(storage)?;
            let id = <[u8; 32]>::try_from(k.value()).map_err(|_| NodeError::DatabaseCorrupt {
                path: self.path.clone(),
                reason: "a persisted block's key is not a block id".into(),
            })?;
            out.push(Hash(id));
        }
        Ok(out)
    }

    /// The pre-issue-14 writer: the whole record, blocks included, under the old key (and
    /// nothing of the new layout left). Not used by the node; kept so the upgrade test can
    /// write an old database and the `host` bench can measure before against after.
    pub fn put_persisted_whole(&self, p: &Persisted) -> Result<(), NodeError> {
        let bytes = encoding::encode_to_vec(p).map_err(codec)?;
        let mut cache = self.persist.lock().unwrap_or_else(PoisonError::into_inner);
        cache.held = None;
        let mut tx = self.db.begin_write().map_err(storage)?;
        tx.set_durability(Durability::Immediate);
        {
            let mut t = tx.open_table(STATE).map_err(storage)?;
            t.insert(OLD_RECORD_KEY, bytes.as_slice())
                .map_err(storage)?;
            t.remove(RECORD_KEY).map_err(storage)?;
            let mut b = tx.open_table(PERSIST_BLOCKS).map_err(storage)?;
            b.retain(|_, _| false).map_err(storage)?;
        }
        tx.commit().map_err(storage)?;
        cache.held = Some(Vec::new());
        Ok(())
    }

    /// Append a decided block with its certificate, the account changes it makes and the
    /// DPoR state after it, in one durable transaction (the state never runs ahead of or
    /// behind the chain).
    pub fn put_block(&self, v: &Validate, accounts: &Overlay) -> Result<(), NodeError> {
        let bytes = encoding::encode_to_vec(v).map_err(codec)?;
        let mut tx = self.db.begin_write().map_err(storage)?;
        tx.set_durability(Durability::Immediate);
        {
            let mut t = tx.open_table(BLOCKS).map_err(storage)?;
            t.insert(v.block.header.height.0, bytes.as_slice())
                .map_err(storage)?;
            let mut a = tx.open_table(ACCOUNTS).map_err(storage)?;
            for (addr, acct) in &accounts.accounts {
                let enc = postcard::to_allocvec(acct).map_err(codec)?;
                a.insert(addr.0.as_slice(), enc.as_slice())
                    .map_err(storage)?;
            }
            let mut l = tx.open_table(LEDGER).map_err(storage)?;
            for (k, v) in &accounts.ledger.writes {
                match v {
                    Some(v) => {
                        l.insert(k.as_slice(), v.as_slice()).map_err(storage)?;
                    }
                    None => {
                        l.remove(k.as_slice()).map_err(storage)?;
                    }
                }
            }
            let dpor = postcard::to_allocvec(&accounts.dpor).map_err(codec)?;
            let mut st = tx.open_table(STATE).map_err(storage)?;
            st.insert("dpor", dpor.as_slice()).map_err(storage)?;
        }
        tx.commit().map_err(storage)
    }

    /// The DPoR state after the head block (empty before any block).
    pub fn dpor(&self) -> Result<DporState, NodeError> {
        let tx = self.db.begin_read().map_err(storage)?;
        let t = tx.open_table(STATE).map_err(storage)?;
        let Some(v) = t.get("dpor").map_err(storage)? else {
            return Ok(DporState::default());
        };
        postcard::from_bytes(v.value()).map_err(|e| NodeError::DatabaseCorrupt {
            path: self.path.clone(),
            reason: format!("stored DPoR state does not decode: {e}"),
        })
    }

    /// The committed data ledger: typed reads for the API, the proxy and the buyer.
    pub fn ledger(&self) -> DataLedger<'_, Store> {
        DataLedger::new(self)
    }

    /// The block time of the head block (genesis time `genesis` before any block): what
    /// admission judges deadlines and grant expiry against.
    pub fn head_time(&self, genesis: Timestamp) -> Result<Timestamp, NodeError> {
        Ok(self
            .head()?
            .map(|v| v.block.header.timestamp)
            .unwrap_or(genesis))
    }

    /// A stored account, if it was ever touched.
    pub fn account(&self, address: &Address) -> Result<Option<Account>, NodeError> {
        let tx = self.db.begin_read().map_err(storage)?;
        let t = match tx.open_table(ACCOUNTS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(storage(e)),
        };
        let Some(v) = t.get(address.0.as_slice()).map_err(storage)? else {
            return Ok(None);
        };
        postcard::from_bytes(v.value()).map(Some).map_err(codec)
    }

    /// One read snapshot of the accounts for a batch of loads (a block's execution, a
    /// batch of admissions, a proposal's selection): opening a redb read transaction and
    /// its table costs more than the lookup itself, so a batch opens them once. Hold it
    /// only for the batch (a read snapshot keeps old pages from being reused).
    pub fn accounts(&self) -> Result<AccountReader, NodeError> {
        let tx = self.db.begin_read().map_err(storage)?;
        let table = match tx.open_table(ACCOUNTS) {
            Ok(t) => Some(t),
            Err(redb::TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(storage(e)),
        };
        Ok(AccountReader { table })
    }

    /// The block at `height`, if stored.
    pub fn block(&self, height: u64) -> Result<Option<Validate>, NodeError> {
        let tx = self.db.begin_read().map_err(storage)?;
        let t = tx.open_table(BLOCKS).map_err(storage)?;
        let Some(v) = t.get(height).map_err(storage)? else {
            return Ok(None);
        };
        encoding::decode(v.value()).map(Some).map_err(codec)
    }

    /// The highest stored block.
    pub fn head(&self) -> Result<Option<Validate>, NodeError> {
        let tx = self.db.begin_read().map_err(storage)?;
        let t = tx.open_table(BLOCKS).map_err(storage)?;
        let Some((_, v)) = t.last().map_err(storage)? else {
            return Ok(None);
        };
        encoding::decode(v.value()).map(Some).map_err(codec)
    }

    /// How many blocks are stored.
    pub fn len(&self) -> Result<u64, NodeError> {
        let tx = self.db.begin_read().map_err(storage)?;
        let t = tx.open_table(BLOCKS).map_err(storage)?;
        t.len().map_err(storage)
    }

    /// Whether no block is stored.
    pub fn is_empty(&self) -> Result<bool, NodeError> {
        self.len().map(|n| n == 0)
    }

    /// The newest `n` blocks, newest first.
    pub fn newest(&self, n: usize) -> Result<Vec<Validate>, NodeError> {
        let tx = self.db.begin_read().map_err(storage)?;
        let t = tx.open_table(BLOCKS).map_err(storage)?;
        let mut out = Vec::new();
        for row in t.iter().map_err(storage)?.rev().take(n) {
            let (_, v) = row.map_err(storage)?;
            out.push(encoding::decode(v.value()).map_err(codec)?);
        }
        Ok(out)
    }

    /// Every stored block, in height order (for `cpchain-node chain`).
    pub fn all(&self) -> Result<Vec<Validate>, NodeError> {
        let tx = self.db.begin_read().map_err(storage)?;
        let t = tx.open_table(BLOCKS).map_err(storage)?;
        let mut out = Vec::new();
        for row in t.iter().map_err(storage)? {
            let (_, v) = row.map_err(storage)?;
            out.push(encoding::decode(v.value()).map_err(codec)?);
        }
        Ok(out)
    }
}

impl LedgerRead for Store {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, LedgerError> {
        let read = || -> Result<Option<Vec<u8>>, NodeError> {
            let tx = self.db.begin_read().map_err(storage)?;
            let t = match tx.open_table(LEDGER) {
                Ok(t) => t,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
                Err(e) => return Err(storage(e)),
            };
            Ok(t.get(key).map_err(storage)?.map(|v| v.value().to_vec()))
        };
        read().map_err(|e| {
            tracing::error!("ledger read: {e}");
            LedgerError::Storage
        })
    }

    fn scan(
        &self,
        from: &[u8],
        to: &[u8],
        limit: usize,
    ) -> Result<crate::ledger::Rows, LedgerError> {
        let read = || -> Result<crate::ledger::Rows, NodeError> {
            let tx = self.db.begin_read().map_err(storage)?;
            let t = match tx.open_table(LEDGER) {
                Ok(t) => t,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
                Err(e) => return Err(storage(e)),
            };
            let mut out = Vec::new();
            if from >= to {
                return Ok(out);
            }
            for row in t.range(from..to).map_err(storage)?.take(limit) {
                let (k, v) = row.map_err(storage)?;
                out.push((k.value().to_vec(), v.value().to_vec()));
            }
            Ok(out)
        };
        read().map_err(|e| {
            tracing::error!("ledger read: {e}");
            LedgerError::Storage
        })
    }
}
