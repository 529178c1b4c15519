//! The live status file of a running node (`status.json`): what the API, the `status`
//! command, the devnet display and the tests read. Its own module so that the API and the
//! node loop both use it without importing each other.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// The live status a running node writes to `status.json` twice a second (read by
/// `cpchain-node status` and the devnet display).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Status {
    /// The node's CPChain address.
    pub address: String,
    /// Its transport peer id.
    pub peer_id: String,
    /// Its process id.
    pub pid: u32,
    /// Height of the last stored block.
    pub head: u64,
    /// Height being decided.
    pub height: u64,
    /// Current round there.
    pub round: u32,
    /// Blocks decided since start.
    pub decided: u64,
    /// Impeach blocks among them.
    pub impeached: u64,
    /// Blocks proposed since start.
    pub proposed: u64,
    /// Faults reported by the engine.
    pub faults: u64,
    /// Messages refused.
    pub rejected: u64,
    /// Transactions in blocks decided since start.
    pub committed_txs: u64,
    /// Pending transactions (ready and queued).
    pub mempool: usize,
    /// Bytes the mempool charges for them (bounded by `validator::MEMPOOL_BYTES` plus
    /// `validator::MEMPOOL_QUEUED_BYTES`).
    #[serde(default)]
    pub mempool_bytes: usize,
    /// Pending transactions the next block could take (no nonce gap before them): the
    /// load intake sheds on (`validator::INTAKE_SHED_PENDING`).
    #[serde(default)]
    pub mempool_ready: usize,
    /// Pending transactions behind a nonce gap (`tx::Mempool`'s queued part).
    #[serde(default)]
    pub mempool_queued: usize,
    /// Block transactions whose sender came from the sender cache (recovered before).
    #[serde(default)]
    pub sender_cache_hits: u64,
    /// Block transactions this node had to recover when judging or committing a block.
    #[serde(default)]
    pub block_recoveries: u64,
    /// Gossiped transaction batches dropped because recovery was saturated.
    #[serde(default)]
    pub gossip_batches_dropped: u64,
    /// Consensus-topic gossip: copies received against messages delivered (issue 14).
    #[serde(default)]
    pub gossip_lbft: crate::network::GossipCount,
    /// Transaction-topic gossip: copies received against batches delivered.
    #[serde(default)]
    pub gossip_tx: crate::network::GossipCount,
    /// Transaction signature recoveries this process made (API, gossip and blocks).
    #[serde(default)]
    pub recoveries: u64,
    /// Blocks imported by block sync since start.
    pub synced: u64,
    /// Compact VALIDATEs that arrived before their block's body (`crate::compact`): how
    /// often a node missed or had not yet taken the PRE-PREPARE.
    #[serde(default)]
    pub compact_pending: u64,
    /// Messages dropped because their author's binding was not (yet) verified.
    pub unbound: u64,
    /// Peers with a verified binding.
    pub peers: usize,
    /// When this was written (Unix ms).
    pub time_ms: u64,
    /// Whether the node has stopped.
    pub stopped: bool,
}

/// Write the status file atomically (temporary file, then rename).
pub fn write_status(path: &Path, s: &Status) {
    let tmp = path.with_extension("json.tmp");
    if let Ok(text) = serde_json::to_string(s) {
        if std::fs::write(&tmp, text).is_ok() {
            let _ = std::fs::rename(&tmp, path);
        }
    }
}
