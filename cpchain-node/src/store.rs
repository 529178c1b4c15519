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

use crate::dpor_state::DporState;
use crate::error::NodeError;
use crate::ledger::{DataLedger, LedgerError, LedgerRead};
use crate::tx::{Account, Overlay};
use cpchain_consensus::lbft::{Persisted, Validate};
use cpchain_core::{encoding, Address, Hash, Timestamp};
use redb::{Database, Durability, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::path::{Path, PathBuf};

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const STATE: TableDefinition<&str, &[u8]> = TableDefinition::new("state");
const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
const ACCOUNTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("accounts");
/// The data ledger ([`crate::ledger`]): keys prefixed by record type.
const LEDGER: TableDefinition<&[u8], &[u8]> = TableDefinition::new("ledger");

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

    /// The validator's last persisted record.
    pub fn persisted(&self) -> Result<Option<Persisted>, NodeError> {
        let tx = self.db.begin_read().map_err(storage)?;
        let t = tx.open_table(STATE).map_err(storage)?;
        let Some(v) = t.get("validator").map_err(storage)? else {
            return Ok(None);
        };
        encoding::decode(v.value())
            .map(Some)
            .map_err(|e| NodeError::DatabaseCorrupt {
                path: self.path.clone(),
                reason: format!("persisted validator state does not decode: {e}"),
            })
    }

    /// Write the validator's record durably (fsynced when this returns `Ok`).
    pub fn put_persisted(&self, p: &Persisted) -> Result<(), NodeError> {
        let bytes = encoding::encode_to_vec(p).map_err(codec)?;
        let mut tx = self.db.begin_write().map_err(storage)?;
        tx.set_durability(Durability::Immediate);
        {
            let mut t = tx.open_table(STATE).map_err(storage)?;
            t.insert("validator", bytes.as_slice()).map_err(storage)?;
        }
        tx.commit().map_err(storage)
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
