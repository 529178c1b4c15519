//! The proxy's disk: the kfrag deliveries it accepted, in its own redb file
//! (`proxy.redb` in the data directory), so a restarted proxy still serves. Bounded by a
//! grant count and a byte budget; each write fsynced (`Durability::Immediate`) before the
//! proxy answers `Accepted`.

use crate::error::NodeError;
use cpchain_storage::sharing::GrantId;
use redb::{Database, Durability, ReadableTable, TableDefinition};
use std::collections::BTreeMap;
use std::path::Path;

const DELIVERIES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("kfrag_deliveries");

/// redb's page cache for the kfrag store (its default is 1 GiB): deliveries are read
/// once, at start-up, so a small cache costs nothing and bounds the store's memory.
pub const KFRAG_CACHE_BYTES: usize = 1 << 20;

/// Encoded kfrag deliveries by grant id, with their sizes in memory.
pub struct KfragStore {
    db: Database,
    sizes: BTreeMap<GrantId, u64>,
    bytes: u64,
    max_grants: usize,
    max_bytes: u64,
}

impl std::fmt::Debug for KfragStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KfragStore")
            .field("grants", &self.sizes.len())
            .field("bytes", &self.bytes)
            .finish_non_exhaustive()
    }
}

fn storage(e: impl Into<redb::Error>) -> NodeError {
    let e: redb::Error = e.into();
    if let redb::Error::Io(io) = &e {
        if crate::store::is_disk_full(io) {
            return NodeError::DiskFull(io.to_string());
        }
    }
    NodeError::Storage(e.to_string())
}

impl KfragStore {
    /// Open (or create) the store at `path` with these bounds. Entries beyond the bounds
    /// (a restart with a smaller budget) are kept on disk but the store refuses new ones
    /// until it is back under them.
    pub fn open(path: &Path, max_grants: usize, max_bytes: u64) -> Result<KfragStore, NodeError> {
        let db = Database::builder()
            .set_cache_size(KFRAG_CACHE_BYTES)
            .create(path)
            .map_err(|e| NodeError::DatabaseCorrupt {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        let mut store = KfragStore {
            db,
            sizes: BTreeMap::new(),
            bytes: 0,
            max_grants,
            max_bytes,
        };
        let mut w = store.db.begin_write().map_err(storage)?;
        w.set_durability(Durability::Immediate);
        w.open_table(DELIVERIES).map_err(storage)?;
        w.commit().map_err(storage)?;
        for (id, bytes) in store.all()? {
            store.account(id, bytes.len() as u64);
        }
        Ok(store)
    }

    fn account(&mut self, id: GrantId, len: u64) {
        if let Some(old) = self.sizes.insert(id, len) {
            self.bytes = self.bytes.saturating_sub(old);
        }
        self.bytes = self.bytes.saturating_add(len);
    }

    /// Whether a delivery of `len` bytes for `id` fits the bounds (replacing `id`'s own).
    pub fn has_room(&self, id: &GrantId, len: u64) -> bool {
        let old = self.sizes.get(id).copied();
        let grants = self.sizes.len() + usize::from(old.is_none());
        let bytes = self
            .bytes
            .saturating_sub(old.unwrap_or(0))
            .saturating_add(len);
        grants <= self.max_grants && bytes <= self.max_bytes
    }

    /// Store `id`'s delivery (fsynced). The caller checked [`has_room`](Self::has_room).
    pub fn put(&mut self, id: &GrantId, delivery: &[u8]) -> Result<(), NodeError> {
        let mut w = self.db.begin_write().map_err(storage)?;
        w.set_durability(Durability::Immediate);
        {
            let mut t = w.open_table(DELIVERIES).map_err(storage)?;
            t.insert(id.0 .0.as_slice(), delivery).map_err(storage)?;
        }
        w.commit().map_err(storage)?;
        self.account(*id, delivery.len() as u64);
        Ok(())
    }

    /// Remove `id`'s delivery (fsynced); whether there was one.
    pub fn remove(&mut self, id: &GrantId) -> Result<bool, NodeError> {
        if !self.sizes.contains_key(id) {
            return Ok(false);
        }
        let mut w = self.db.begin_write().map_err(storage)?;
        w.set_durability(Durability::Immediate);
        {
            let mut t = w.open_table(DELIVERIES).map_err(storage)?;
            t.remove(id.0 .0.as_slice()).map_err(storage)?;
        }
        w.commit().map_err(storage)?;
        if let Some(len) = self.sizes.remove(id) {
            self.bytes = self.bytes.saturating_sub(len);
        }
        Ok(true)
    }

    /// Every stored delivery, by grant id.
    pub fn all(&self) -> Result<Vec<(GrantId, Vec<u8>)>, NodeError> {
        let r = self.db.begin_read().map_err(storage)?;
        let t = r.open_table(DELIVERIES).map_err(storage)?;
        let mut out = Vec::new();
        for item in t.iter().map_err(storage)? {
            let (k, v) = item.map_err(storage)?;
            let Ok(id) = <[u8; 32]>::try_from(k.value()) else {
                continue;
            };
            out.push((GrantId(cpchain_core::Hash(id)), v.value().to_vec()));
        }
        Ok(out)
    }

    /// The grants stored.
    pub fn grants(&self) -> Vec<GrantId> {
        self.sizes.keys().copied().collect()
    }

    /// Bytes of deliveries stored.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Number of grants stored.
    pub fn len(&self) -> usize {
        self.sizes.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.sizes.is_empty()
    }
}
