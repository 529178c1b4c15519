//! The node's configuration file (JSON) and key file, and the chain parameters they give.

use crate::error::NodeError;
use cpchain_consensus::lbft::ValidatorSet;
use cpchain_core::{ChainSpec, Duration, Height, Timestamp};
use cpchain_crypto::{PublicKey, SecretKey};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One node's configuration: which chain, which committee, where its key and data live,
/// and whom to dial. Every validator of a network has the same chain fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeConfig {
    /// Chain id, bound into every signature.
    pub chain_id: u64,
    /// Target time between blocks, milliseconds.
    pub block_period_ms: u64,
    /// Wait for a proposal beyond the period before impeaching, milliseconds.
    pub impeach_timeout_ms: u64,
    /// Genesis time (Unix milliseconds): the genesis header is derived from it.
    pub genesis_ms: u64,
    /// The validators committee: compressed SEC1 public keys, hex.
    pub validators: Vec<String>,
    /// The file holding this node's secp256k1 secret key (hex), relative to the config.
    pub key_file: PathBuf,
    /// Directory for the database, status file and vote log, relative to the config.
    pub data_dir: PathBuf,
    /// TCP port on 127.0.0.1.
    pub listen_port: u16,
    /// Port of the HTTP JSON API on 127.0.0.1 (none: no API).
    #[serde(default)]
    pub api_port: Option<u16>,
    /// Peers to keep connected to: multiaddrs ending in `/p2p/<peer id>`.
    pub peers: Vec<String>,
    /// Record every vote seen (sent or received) in `votes.log`, for the equivocation
    /// observer of the tests.
    #[serde(default)]
    pub vote_log: bool,
    /// Fault injection for tests and demonstrations: a silent proposer never proposes on
    /// its slots (it still votes), so the others impeach it.
    #[serde(default)]
    pub silent_proposer: bool,
    /// Proposer RNodes of the network (addresses, `0x…`): each is funded at genesis with
    /// `tx::PROPOSER_GENESIS_BALANCE`, enough for the RNode deposit.
    #[serde(default)]
    pub proposers: Vec<String>,
    /// This node campaigns (it must not be a validator): it deposits into the RNode pool,
    /// campaigns with admission proofs, and proposes blocks on the slots it is elected to.
    #[serde(default)]
    pub campaign: bool,
    /// How this node relays gossip (`"mesh"`, the default, or `"direct"`): see
    /// [`crate::network::GossipMode`] for which to choose. `direct` only where every
    /// validator dials every other one.
    #[serde(default)]
    pub gossip: crate::network::GossipMode,
    /// Recent VALIDATEs each validator keeps to catch up a lagging peer.
    #[serde(default = "default_catch_up")]
    pub catch_up_heights: u64,
    /// Largest block body (sum of transaction bytes) proposed or accepted; the engine caps
    /// it at `lbft::MAX_BLOCK_BYTES` (1 MiB). Every validator of a network sets the same.
    #[serde(default = "default_block_bytes")]
    pub max_block_bytes: usize,
    /// The re-encryption proxy role (issue 15, feature `pre`): a node with this section
    /// keeps the chain as a follower and serves `/cpchain/cfrag/1` for grants live on it
    /// (see `crate::proxy`). A node built without `pre` refuses to start with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ProxyRoleConfig>,
    /// This node is a storage node of the data layer (issue 15): it keeps shards and
    /// key-index records within these bounds (see [`crate::dht`]). None: not a storage node.
    #[serde(default)]
    pub storage: Option<StorageConfig>,
    /// Gateway ingest (issue 15 item 3): the streams whose gateways hand this node their
    /// blocks and anchors (`POST /gateway/{stream}/…`, see [`crate::gateway`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<GatewayConfig>,
}

/// The `proxy` section of a node's configuration: the bounds of what a proxy keeps for
/// owners (kfrags of live grants, persisted in `proxy.redb` in the data directory).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyRoleConfig {
    /// Most grants whose kfrags are held (a delivery beyond it is refused as `full`).
    #[serde(default = "default_proxy_grants")]
    pub max_grants: usize,
    /// Most bytes of stored kfrag deliveries (their encodings; a delivery beyond it is
    /// refused as `full`).
    #[serde(default = "default_proxy_bytes")]
    pub max_bytes: u64,
}

impl Default for ProxyRoleConfig {
    fn default() -> Self {
        ProxyRoleConfig {
            max_grants: default_proxy_grants(),
            max_bytes: default_proxy_bytes(),
        }
    }
}

fn default_proxy_grants() -> usize {
    1024
}

fn default_proxy_bytes() -> u64 {
    8 * 1024 * 1024
}

/// The storage role's settings (`"storage": {...}` in the configuration).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StorageConfig {
    /// Most bytes of shards and records kept (each charged its encoding plus
    /// `dht::ENTRY_OVERHEAD`); beyond it a put is refused with `quota_full`.
    pub quota_bytes: u64,
    /// Most bytes kept on behalf of one writer address; beyond it `peer_quota_full`.
    #[serde(default = "default_per_peer")]
    pub per_peer_bytes: u64,
    /// Addresses (`0x…`) allowed to store: the network's ingest nodes (gateways' hosts)
    /// and its storage nodes (they re-replicate). A put from any other peer is refused
    /// with `not_authorised` before anything is kept.
    #[serde(default)]
    pub writers: Vec<String>,
    /// FAULT INJECTION, tests only: serve every shard with one byte flipped (a lying
    /// storage node, which readers must detect and route around).
    #[serde(default)]
    pub tamper_shards: bool,
}

fn default_per_peer() -> u64 {
    u64::MAX
}

fn default_catch_up() -> u64 {
    8
}

fn default_block_bytes() -> usize {
    cpchain_consensus::lbft::MAX_BLOCK_BYTES
}

impl NodeConfig {
    /// Read and check a configuration file; relative paths are made relative to it.
    pub fn load(path: &Path) -> Result<NodeConfig, NodeError> {
        let text = std::fs::read_to_string(path).map_err(|e| NodeError::io(path, e))?;
        let mut cfg: NodeConfig = serde_json::from_str(&text).map_err(|e| NodeError::Config {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        if cfg.key_file.is_relative() {
            cfg.key_file = base.join(&cfg.key_file);
        }
        if cfg.data_dir.is_relative() {
            cfg.data_dir = base.join(&cfg.data_dir);
        }
        cfg.spec().validate().map_err(|e| NodeError::Config {
            path: path.to_path_buf(),
            reason: format!("chain parameters: {e}"),
        })?;
        cfg.validator_set().map_err(|reason| NodeError::Config {
            path: path.to_path_buf(),
            reason,
        })?;
        cfg.allocation().map_err(|reason| NodeError::Config {
            path: path.to_path_buf(),
            reason,
        })?;
        Ok(cfg)
    }

    /// Write the configuration as pretty JSON.
    pub fn save(&self, path: &Path) -> Result<(), NodeError> {
        let text = serde_json::to_string_pretty(self).map_err(|e| NodeError::Config {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        std::fs::write(path, text).map_err(|e| NodeError::io(path, e))
    }

    /// The chain parameters: the devnet spec with this file's chain id, period, timeout
    /// and committee size (`f = (n − 1) / 3`; every validator is also a default proposer).
    pub fn spec(&self) -> ChainSpec {
        let n = u32::try_from(self.validators.len()).unwrap_or(u32::MAX);
        let mut spec = ChainSpec::devnet();
        spec.chain_id = self.chain_id;
        spec.block_period = Duration::from_millis(self.block_period_ms);
        spec.impeach_timeout = Duration::from_millis(self.impeach_timeout_ms);
        spec.fault_tolerance = n.saturating_sub(1) / 3;
        spec.proposers_per_term = n.max(1);
        spec.elected_seats = spec.elected_seats.min(spec.proposers_per_term);
        spec.low_rpt_seats = spec.low_rpt_seats.min(spec.elected_seats);
        spec.default_proposers_until = Height(u64::from(spec.proposers_per_term) * 3);
        // An admission proof may be over a block as old in time as on mainnet (10 blocks
        // of 3 s): the devnet's blocks are much faster than the proofs are to compute.
        spec.admission_max_block_age = (30_000 / self.block_period_ms.max(1)).max(10);
        spec
    }

    /// Genesis balances: every validator `tx::GENESIS_BALANCE`, every listed proposer
    /// `tx::PROPOSER_GENESIS_BALANCE`.
    pub fn allocation(&self) -> Result<crate::tx::Allocation, String> {
        let mut out = crate::tx::Allocation::new();
        for p in &self.proposers {
            let a: cpchain_core::Address =
                p.parse().map_err(|_| format!("proposer address {p}"))?;
            out.insert(a, crate::tx::PROPOSER_GENESIS_BALANCE);
        }
        for k in self.validator_keys()? {
            out.insert(k.address(), crate::tx::GENESIS_BALANCE);
        }
        Ok(out)
    }

    /// The genesis time.
    pub fn genesis_time(&self) -> Timestamp {
        Timestamp(self.genesis_ms)
    }

    /// The committee's public keys, in file order.
    pub fn validator_keys(&self) -> Result<Vec<PublicKey>, String> {
        self.validators
            .iter()
            .map(|h| {
                let bytes = hex::decode(h).map_err(|e| format!("validator key {h}: {e}"))?;
                PublicKey::from_sec1_bytes(&bytes).map_err(|e| format!("validator key {h}: {e}"))
            })
            .collect()
    }

    /// The committee.
    pub fn validator_set(&self) -> Result<ValidatorSet, String> {
        let keys = self.validator_keys()?;
        let n = keys.len();
        if n == 0 || n % 3 != 1 {
            return Err(format!(
                "{n} validators: the committee must have 3f + 1 members"
            ));
        }
        ValidatorSet::new(&keys).map_err(|e| format!("validators: {e}"))
    }

    /// Path of the redb database.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("chain.redb")
    }

    /// Path of the live status file (JSON, rewritten twice a second).
    pub fn status_path(&self) -> PathBuf {
        self.data_dir.join("status.json")
    }

    /// Path of the blocked-peers file: peer ids (one a line) this node refuses to talk
    /// to, re-read twice a second (partitions in tests; operators banning a peer).
    pub fn blocked_peers_path(&self) -> PathBuf {
        self.data_dir.join("blocked_peers")
    }

    /// Path of the storage node's shard database (separate from the chain's).
    pub fn shards_path(&self) -> PathBuf {
        self.data_dir.join("shards.redb")
    }

    /// Path of the vote log.
    pub fn vote_log_path(&self) -> PathBuf {
        self.data_dir.join("votes.log")
    }
}

/// Read a key file: the secret scalar in hex (64 digits), surrounding whitespace ignored.
pub fn load_key(path: &Path) -> Result<SecretKey, NodeError> {
    let text = std::fs::read_to_string(path).map_err(|e| NodeError::io(path, e))?;
    let bytes = zeroize::Zeroizing::new(
        hex::decode(text.trim()).map_err(|_| NodeError::Key(path.to_path_buf()))?,
    );
    let arr: &[u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| NodeError::Key(path.to_path_buf()))?;
    SecretKey::from_bytes(arr).map_err(|_| NodeError::Key(path.to_path_buf()))
}

/// A fresh key from the OS RNG, written to `path` (mode 0600); returns it.
pub fn generate_key(path: &Path) -> Result<SecretKey, NodeError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let key = SecretKey::random(&mut rand_core::OsRng);
    let hexed = zeroize::Zeroizing::new(hex::encode(key.to_bytes().as_slice()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| NodeError::io(path, e))?;
    f.write_all(hexed.as_bytes())
        .and_then(|()| f.write_all(b"\n"))
        .map_err(|e| NodeError::io(path, e))?;
    Ok(key)
}

/// The `gateway` section of a node's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayConfig {
    /// The streams this node ingests.
    pub streams: Vec<GatewayStream>,
    /// With feature `pre`: the owner's master secret (hex, 32 bytes), a file relative to
    /// the data directory. When set, this node is the owner's: its key is the owner's
    /// identity and every key-index record it stores carries the interval key wrapped for
    /// proxy re-encryption. Without it records carry no capsule (nobody can be granted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_master_file: Option<std::path::PathBuf>,
}

/// One ingested stream in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayStream {
    /// The stream id, 64 hex digits.
    pub stream: String,
    /// The device's compressed secp256k1 key, hex (the key registered on chain with
    /// `RegisterStream`).
    pub device: String,
    /// T, milliseconds.
    pub period_ms: u64,
    /// e, milliseconds.
    pub interval_ms: u64,
    /// u, milliseconds.
    pub upload_ms: u64,
    /// Reed–Solomon data shards k.
    pub data: u8,
    /// Reed–Solomon parity shards m.
    pub parity: u8,
}
