//! Storage nodes on a Kademlia DHT (issue 15 item 2): the shard protocol, placement over
//! the live routing table, the Rust API of the data layer ([`StorageClient::put_block`],
//! [`StorageClient::get_block`]) and the re-replication (repair) loop.
//!
//! # Roles
//! A node with `"storage": {...}` in its configuration is a **storage node**: its
//! Kademlia behaviour runs in server mode (`/cpchain/kad/1`), it keeps shards and
//! key-index records in a [`ShardStore`] and it serves [`ShardRequest`]s. Every other node
//! runs Kademlia in client mode, so routing tables hold storage nodes only, and can still
//! put and get blocks through a [`StorageClient`] (the gateway's ingest and the buyer do).
//!
//! # The protocol (`/cpchain/shard/1`, request-response, postcard, tags 0x0a40/0x0a41)
//! `Put { record, shard }` (a shard and its key-index record, or the record alone),
//! `GetShard`, `GetRecord`, `Holds` (which positions of a block a node holds). Frames are
//! bounded by [`crate::network::MAX_MESSAGE_BYTES`] before anything is allocated.
//!
//! # Placement and the DHT's closeness (decision)
//! The live storage nodes are the peers in the Kademlia routing table that are connected
//! and bound (identify with a valid CPChain binding, advertising `/cpchain/kad/1`), plus
//! this node if it is a storage node. A peer's point in the key space is
//! `KadKey::from_preimage(peer_id.to_bytes())`, which *is* libp2p's
//! `kbucket::Key::from(peer_id)` (SHA-256 of the peer id bytes), and a shard's point is
//! [`cpchain_storage::ShardId::kad_key`], which is libp2p's `kbucket::Key::new` of the
//! shard id's 32 bytes: the SDK's XOR distance and the DHT's are the same function on the
//! same points (test `sdk_kad_keys_are_libp2p_kbucket_keys`). Shards are then placed
//! with the SDK's [`cpchain_storage::place_shards`] (r = 1): shard 0 on the live node
//! closest to its key, as plain Kademlia would, and each later shard on the closest node
//! that holds no earlier shard of the block. This differs from "each shard on its own
//! closest node" on purpose (the SDK's refinement, see `cpchain_storage::placement`): two
//! shards of one block never share a node, so losing any m nodes loses at most m shards.
//! The record goes with every shard and also to the [`RECORD_REPLICAS`] live nodes
//! closest to [`KeyIndexRecord::dht_key`], where a reader who knows only the block id
//! finds it. The routing table is the local one (`get_closest_local_peers` order): on a
//! network of a few dozen storage nodes every node knows every other; Kademlia's
//! iterative lookup would matter only beyond one k-bucket's reach (not done here).
//!
//! Each shard is kept on one node (r = 1): the k + m code is the redundancy, and repair
//! restores it when a holder leaves; more copies would multiply the bytes stored without
//! surviving more losses than m between two repairs.
//!
//! # Authentication before keeping (decision)
//! A storage node keeps a put only from a **bound peer whose address is a configured
//! writer** (`storage.writers`: the network's ingest nodes and its storage nodes), and
//! only after the shard checks out against its record ([`crate::storage_node`]). This
//! stops a stranger from filling quotas with self-consistent junk (a made-up record and
//! shards that match it), which the record check alone cannot stop, and stops a writer
//! from overwriting another's record (first kept wins). It does not stop a configured
//! writer from storing junk within its per-writer bound (`per_peer_bytes`). Checking
//! each block against an anchored head on chain would stop that too, but needs the
//! chain's anchor state (issue 15 item 1) at every storage node: left for then. Readers
//! never trust storage nodes: every fetched shard is checked against the record, and the
//! reassembled block against the record's block id (which the buyer checks against the
//! anchors on chain).
//!
//! # Re-replication (decision: who repairs)
//! When its live set changes (a storage node joined or left, and at start) a storage node
//! sweeps once over the records it holds: every [`REPAIR_EVERY`] it takes the next
//! [`REPAIR_BATCH`] of them (round robin over its store: bounded work per tick), until it
//! has taken as many as it held when the sweep began (a record whose repair failed, say
//! for want of verified shards, makes the sweep run again). A join triggers a sweep too,
//! so shards move to the new node where the placement now puts them (the old copies
//! stay). For each record it is the **repairer** if no live node closer to the record's DHT key holds the record (it asks at most
//! [`REPAIR_MAX_CLOSER`] closer nodes `Holds`; further away it leaves the record to
//! them). The repairer recomputes the placement over the live nodes, asks each placed
//! node which positions it holds, and for each missing one fetches ≥ k verified shards,
//! reassembles, re-shards (the shards are a deterministic function of the block, checked
//! against the record's ids) and puts the missing shard on its node; it also puts the
//! record on the [`RECORD_REPLICAS`] closest live nodes lacking it. A holder "leaves"
//! when its last connection closes (SIGKILL on loopback closes it at once) or when
//! [`NOT_ANSWERING_AFTER`] shard requests in a row to it time out ([`SHARD_REQUEST_TIMEOUT`]
//! each; test phase with SIGSTOP in `tests/dht_storage.rs`): it is then dropped from the
//! live set and the routing table and disconnected, and rejoins when it binds again. Only
//! requests detect a silent peer (there is no separate liveness probe): a node that
//! sends nothing to a stopped peer keeps it live until it does.
//!
//! Measured (`tests/dht_storage.rs`, debug build, the shared 2-core machine, four runs):
//! from the SIGKILL of two of six storage nodes until all 12 blocks (≈ 4.4 KB, k = 2,
//! m = 2) had k + m shards on live nodes again, as the test's polling saw it (the reads of
//! all 12 blocks happen in between): 5.5 s, 4.6 s, 3.7 s, 3.8 s. A node stopped with
//! SIGSTOP was dropped after 20.0 s (two 10 s request timeouts).
//!
//! **Repair needs k + m live storage nodes.** Shards of one block never share a node (the
//! disjoint rule above), so after losing j of N storage nodes a block is repaired back to
//! k + m shards only if k + m ≤ N − j; otherwise it stays readable from the k or more
//! shards left, and repair resumes as soon as enough nodes are live again. Measured (the
//! bench `data_services`, part `repair`): with k = 4, m = 2 on six nodes, 0 of 24 blocks
//! were back to six shards 110 s after two nodes were killed; with k = 2, m = 2 every block
//! was, in a median 2.95 s. So a network that must heal after losing j storage nodes runs
//! with at least k + m + j of them (the end-to-end test's streams, k = 4, m = 2 on six
//! nodes, survive two losses for reading but not for repair). Placing two shards of one
//! block on a node to heal sooner would let one node's loss take two shards, which is the
//! failure the disjoint rule exists to prevent.
//!
//! # Attacks considered
//! The data layer attacked from outside, through its public API and the shard protocol
//! only. What a storage node keeps for peers is bounded: on disk, the bytes charged to a
//! writer ≤ `per_peer_bytes` and to all ≤ `quota_bytes`, the file ≤
//! [`crate::storage_node::DISK_FACTOR`] × the quota (+ 2 MiB); in memory, redb's cache ≤
//! [`crate::storage_node::STORE_CACHE_BYTES`] plus requests being read (≤
//! [`SHARD_STREAMS`] × `ShardRequest::MAX_ENCODED_LEN` per connection). Heap figures are
//! from a counting allocator (`tests/shard_store_memory.rs`, debug build).
//! * **A stranger that never binds** puts: `not_authorised`, nothing kept. *Held*
//!   (`a_non_storage_node_refuses_and_a_stranger_cannot_put`).
//! * **A bound peer that is not a writer** puts: `not_authorised`, nothing kept, as real
//!   processes. *Held* (`tests/dht_storage.rs`). It can still read (by design: blocks are
//!   sealed; access is the proxies' business).
//! * **A bound stranger advertising `/cpchain/kad/1`** to be chosen for shards and records
//!   and drop them. *Fixed* on storage nodes: only writers join their live set (test
//!   `a_bound_stranger_advertising_kad_is_not_a_storage_node_of_a_storage_node`, which
//!   fails on the old rule), so repair and record replicas never go to it. *Left* on
//!   nodes without the storage role (ingest, buyer): they have no list of storage-node
//!   addresses, so a client's put can place shards on it; they are then missing, and the
//!   honest holders of the block's other shards (which hold its record) repair them onto
//!   writers. Closing it needs the storage-node set on chain or in the client's config.
//! * **A writer that lies about shards** (bytes, position, another block's shard, an altered
//!   shard list): `mismatch`, nothing kept. *Held* (`a_shard_is_kept_only_if_it_matches_its_record`).
//! * **A record for a block id already kept, with other contents**: `mismatch`, first kept
//!   wins. *Held* against overwriting. *Left*: the other way round, a writer that puts a
//!   made-up record under a block id before the real one squats it at that node
//!   (`a_writer_can_squat_a_block_id_with_a_made_up_record`): the store cannot tell which
//!   record is the block's without the block ids anchored on chain (issue 15 item 1). It
//!   costs the squatter its own per-writer bytes, and readers detect it (the reassembled
//!   block's id) and use other holders.
//! * **Shard bytes at the size limits**: the largest shard (k = 1, a full block) is kept
//!   and its request fits a frame; one byte more or less, a block one byte over, an empty
//!   block, bad k/m, a position past the list: `mismatch`, nothing kept. *Held*
//!   (`shards_at_the_size_limits_are_kept_and_one_byte_over_is_refused`); a refused new
//!   record with its shard (quota or writer bound) keeps neither
//!   (`a_refused_new_record_and_shard_keep_nothing`).
//! * **Many small puts to grow index overhead past the charge**: a 1 MiB quota filled with
//!   the smallest puts (k = 1, m = 1, one-byte blocks: 1,025 records, 2,050 shards) charged
//!   1,048,447 bytes for a 3,686,400-byte file (3.52×, under the 5× stated). *Held*
//!   (`many_tiny_puts_stay_within_the_quota_and_the_disk_bound`).
//! * **Filling a quota to grow the node's heap**: redb's default page cache is 1 GiB, so
//!   heap grew with what writers put (5,819,584 bytes held after 12,571,108 charged).
//!   *Fixed*: the cache is capped at 4 MiB (4,343,708 held;
//!   `a_full_store_holds_at_most_its_cache_in_heap`, fails on the old code).
//! * **Huge frames**: the codec accepted 2 MiB frames and allocated a frame's claimed
//!   length before its bytes came (a full-size claim followed by 100 bytes: 1,051,512
//!   bytes allocated). *Fixed*: a frame is bounded by its message's `MAX_ENCODED_LEN`
//!   (1,051,416 bytes for a request), refused before reading if longer, and read in
//!   64 KiB steps (65,656 bytes for the same attack;
//!   `a_claimed_frame_length_costs_only_the_bytes_sent`, fails on the old code).
//! * **Malformed postcard** (every truncation, a trailing byte, a wrong tag, each byte set
//!   to 0xff: 1,054 frames): a typed decode error or a request the store then refuses; at
//!   most 2,698 bytes allocated by one decode. *Held*
//!   (`hostile_postcard_in_a_frame_is_a_bounded_typed_error`).
//! * **Gets, record gets and holds queries for unknown ids in a loop**: `not_found` /
//!   nothing held, the store unchanged (`gets_for_unknown_ids_change_nothing`); 192 heap
//!   bytes left after 5,000 rounds of the three. *Held*.
//! * **A peer that opens many streams**: at most [`SHARD_STREAMS`] (16) per connection,
//!   ≈ 16.8 MB of requests being read. *Held* per connection, and the connections are
//!   capped ([`crate::network::connection_limits`]: 2 established per peer, 256 incoming,
//!   64 still handshaking), so one peer holds at most ≈ 33.6 MB of shard requests in
//!   reading and all strangers together at most 256 connections' worth. *Fixed* (the
//!   swarm had no cap; `network::tests::a_third_connection_from_one_peer_is_denied`).
//! * **Rate**: each put costs a keccak over ≤ 1 MiB and a redb commit, each get a read
//!   transaction; nothing limits a peer's request rate beyond stream concurrency. *Left*:
//!   CPU and disk time, not bytes kept; a per-peer rate limit would go in [`DhtService`].
//! * **Junk records and repair** (read from the code, not tested): a writer's record whose
//!   shards exist nowhere fails repair each sweep, and a failed record restarts the sweep,
//!   so a storage node holding one retries it forever, at the sweep's bounded rate
//!   ([`REPAIR_BATCH`] records per [`REPAIR_EVERY`]). A writer's *consistent* junk block is
//!   re-replicated like any other, charged to the repairing storage node's address. *Left*:
//!   both need the anchored block ids of item 1 to tell junk from data.

use crate::network::{self, Behaviour, Event};
use crate::services::{BoundPeer, Job, Service};
pub use crate::shard_wire::{
    ShardCodec, ShardRequest, ShardResponse, SHARD_REQUEST_TIMEOUT, SHARD_STREAMS,
};
pub use crate::storage_node::sample_blocks;
use crate::storage_node::{check_record, check_shard, serve, Refusal, ShardStore};
use cpchain_core::Address;
use cpchain_storage::{
    place_shards, reassemble, shard_block, BlockId, KadKey, KeyIndexRecord, Shard, VecBlock,
};
use libp2p::request_response::{self, OutboundRequestId};
use libp2p::{kad, PeerId, Swarm};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Live nodes closest to a record's DHT key that keep the record (besides shard holders).
pub const RECORD_REPLICAS: usize = 3;

/// Records a storage node examines per repair pass.
pub const REPAIR_BATCH: usize = 8;

/// Time between repair passes.
pub const REPAIR_EVERY: Duration = Duration::from_secs(1);

/// Consecutive timed-out shard requests after which a connected storage node counts as
/// gone (not answering): it leaves the live set and is disconnected.
pub const NOT_ANSWERING_AFTER: u32 = 2;

/// A holder further than this many live nodes from a record's key does not repair it.
pub const REPAIR_MAX_CLOSER: usize = 8;

/// Why a data-layer call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DhtError {
    /// Fewer live storage nodes than the placement needs.
    #[error("not_enough_nodes: {needed} storage nodes needed, {have} live")]
    NotEnoughNodes {
        /// Needed.
        needed: usize,
        /// Live.
        have: usize,
    },
    /// Storage nodes refused shards (each with its position, node and reason).
    #[error("refused: {}", .0.iter().map(|(p, n, r)| format!("shard {p} by {n}: {}", r.code())).collect::<Vec<_>>().join(", "))]
    Refused(Vec<(u8, PeerId, Refusal)>),
    /// The shards given do not match the record.
    #[error("mismatch: the shards do not match the key-index record")]
    Mismatch,
    /// Fewer than k verified shards could be fetched.
    #[error("not_enough_shards: {needed} needed, {have} verified")]
    NotEnoughShards {
        /// k.
        needed: usize,
        /// Verified shards found.
        have: usize,
    },
    /// No live storage node has the record.
    #[error("not_found")]
    NotFound,
    /// A request failed (timeout, connection closed, unexpected answer).
    #[error("request: {0}")]
    Request(String),
    /// The node loop is gone.
    #[error("the node loop stopped")]
    Stopped,
}

impl DhtError {
    /// A stable code (`quota_full` when any refusal was a full quota).
    pub fn code(&self) -> &'static str {
        match self {
            DhtError::NotEnoughNodes { .. } => "not_enough_nodes",
            DhtError::Refused(r) => r.first().map(|(_, _, x)| x.code()).unwrap_or("refused"),
            DhtError::Mismatch => "mismatch",
            DhtError::NotEnoughShards { .. } => "not_enough_shards",
            DhtError::NotFound => "not_found",
            DhtError::Request(_) => "request",
            DhtError::Stopped => "stopped",
        }
    }
}

/// Where a block's shards went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutReport {
    /// (position, storage node) for each shard.
    pub placed: Vec<(u8, PeerId)>,
}

/// A block read back, with what was wrong on the way.
#[derive(Debug, Clone)]
pub struct GetReport {
    /// The reassembled block (its id is the record's).
    pub block: VecBlock,
    /// Storage nodes that returned a shard not matching the record (position, node):
    /// skipped, other shards used.
    pub tampered: Vec<(u8, PeerId)>,
    /// (position, storage node) of the shards used.
    pub used: Vec<(u8, PeerId)>,
}

type Pending = HashMap<OutboundRequestId, oneshot::Sender<Result<ShardResponse, String>>>;

#[derive(Default)]
struct Shared {
    pending: Pending,
    live: BTreeSet<PeerId>,
}

/// The data layer's Rust API on a running node: cheap to clone, usable from any task.
#[derive(Clone)]
pub struct StorageClient {
    jobs: mpsc::Sender<Job>,
    shared: Arc<Mutex<Shared>>,
    me: PeerId,
    my_address: Address,
    local: Option<Arc<ShardStore>>,
    tamper: bool,
}

/// A peer's point in the Kademlia key space (libp2p's `kbucket::Key::from(peer)`).
pub fn peer_kad_key(peer: &PeerId) -> KadKey {
    KadKey::from_preimage(&peer.to_bytes())
}

/// The shard placement of `record` over `nodes` (r = 1, disjoint): (position, node).
pub fn placement(record: &KeyIndexRecord, nodes: &[PeerId]) -> Result<Vec<(u8, PeerId)>, DhtError> {
    let by_key: HashMap<KadKey, PeerId> = nodes.iter().map(|p| (peer_kad_key(p), *p)).collect();
    let keys: Vec<KadKey> = by_key.keys().copied().collect();
    let placed = place_shards(&record.shards, &keys, 1).map_err(|_| DhtError::NotEnoughNodes {
        needed: record.shards.len(),
        have: keys.len(),
    })?;
    let mut out = Vec::with_capacity(placed.len());
    for (pos, p) in placed.iter().enumerate() {
        let node = p
            .nodes
            .first()
            .and_then(|k| by_key.get(k))
            .ok_or(DhtError::Mismatch)?;
        out.push((u8::try_from(pos).map_err(|_| DhtError::Mismatch)?, *node));
    }
    Ok(out)
}

/// `nodes` ordered by XOR distance of their kad keys to `key`, nearest first.
pub fn closest_to(key: &KadKey, nodes: &[PeerId]) -> Vec<PeerId> {
    let mut v: Vec<PeerId> = nodes.to_vec();
    v.sort_by_key(|p| key.distance(&peer_kad_key(p)));
    v.dedup();
    v
}

impl StorageClient {
    /// This node's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.me
    }

    /// The live storage nodes (this node first if it is one).
    pub fn storage_nodes(&self) -> Vec<PeerId> {
        let mut v: Vec<PeerId> = Vec::new();
        if self.local.is_some() {
            v.push(self.me);
        }
        if let Ok(g) = self.shared.lock() {
            v.extend(g.live.iter().copied());
        }
        v
    }

    /// Wait until at least `n` storage nodes are live (including this one); false on timeout.
    pub async fn wait_for_nodes(&self, n: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.storage_nodes().len() >= n {
                return true;
            }
            if tokio::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Send one request to `peer` (answered locally if `peer` is this node).
    pub async fn request(
        &self,
        peer: PeerId,
        req: ShardRequest,
    ) -> Result<ShardResponse, DhtError> {
        if peer == self.me {
            return Ok(serve(
                self.local.as_deref(),
                Some(&self.my_address),
                self.tamper,
                req,
            ));
        }
        let (tx, rx) = oneshot::channel();
        let shared = self.shared.clone();
        let job: Job = Box::new(move |swarm: &mut Swarm<Behaviour>| {
            let id = swarm.behaviour_mut().shard.send_request(&peer, req);
            if let Ok(mut g) = shared.lock() {
                g.pending.insert(id, tx);
            }
        });
        self.jobs.send(job).await.map_err(|_| DhtError::Stopped)?;
        match tokio::time::timeout(SHARD_REQUEST_TIMEOUT + Duration::from_secs(2), rx).await {
            Ok(Ok(Ok(r))) => Ok(r),
            Ok(Ok(Err(e))) => Err(DhtError::Request(e)),
            Ok(Err(_)) => Err(DhtError::Stopped),
            Err(_) => Err(DhtError::Request("timeout".into())),
        }
    }

    /// What `peer` holds of `block`: (record held, bit mask of positions held).
    pub async fn holds(&self, peer: PeerId, block: BlockId) -> Result<(bool, u64), DhtError> {
        match self.request(peer, ShardRequest::Holds { block }).await? {
            ShardResponse::Holds { record, positions } => Ok((record, positions)),
            ShardResponse::Refused(r) => Err(DhtError::Refused(vec![(0, peer, r)])),
            other => Err(DhtError::Request(format!("unexpected answer {other:?}"))),
        }
    }

    /// Store a sealed block's shards (from `cpchain_storage::shard_block`) on the live
    /// storage nodes: each shard with its record on its placed node, and the record on the
    /// [`RECORD_REPLICAS`] nodes closest to its DHT key. Fails unless every shard was kept.
    pub async fn put_block(
        &self,
        record: &KeyIndexRecord,
        shards: &[Shard],
    ) -> Result<PutReport, DhtError> {
        check_record(record).map_err(|_| DhtError::Mismatch)?;
        let mut by_pos: Vec<Option<&Shard>> = vec![None; record.shards.len()];
        for s in shards {
            check_shard(record, s).map_err(|_| DhtError::Mismatch)?;
            if let Some(slot) = by_pos.get_mut(usize::from(s.position)) {
                *slot = Some(s);
            }
        }
        if by_pos.iter().any(Option::is_none) {
            return Err(DhtError::Mismatch);
        }
        let nodes = self.storage_nodes();
        let placed = placement(record, &nodes)?;
        let mut calls = Vec::new();
        for (pos, peer) in &placed {
            let shard = by_pos.get(usize::from(*pos)).copied().flatten().cloned();
            let req = ShardRequest::Put {
                record: Box::new(record.clone()),
                shard,
            };
            calls.push(async move { (*pos, *peer, self.request(*peer, req).await) });
        }
        let holders: HashSet<PeerId> = placed.iter().map(|(_, p)| *p).collect();
        let mut rec_calls = Vec::new();
        for peer in closest_to(&record.dht_key(), &nodes)
            .into_iter()
            .take(RECORD_REPLICAS)
            .filter(|p| !holders.contains(p))
        {
            let req = ShardRequest::Put {
                record: Box::new(record.clone()),
                shard: None,
            };
            rec_calls.push(async move { self.request(peer, req).await });
        }
        let (results, _) = futures::future::join(
            futures::future::join_all(calls),
            futures::future::join_all(rec_calls),
        )
        .await;
        let mut refused = Vec::new();
        for (pos, peer, r) in results {
            match r {
                Ok(ShardResponse::Stored) => {}
                Ok(ShardResponse::Refused(x)) => refused.push((pos, peer, x)),
                Ok(other) => return Err(DhtError::Request(format!("unexpected answer {other:?}"))),
                Err(e) => return Err(e),
            }
        }
        if !refused.is_empty() {
            return Err(DhtError::Refused(refused));
        }
        Ok(PutReport { placed })
    }

    /// Find the key-index record of `block`: asked of the nodes closest to its DHT key
    /// first, then of every live storage node. (The record is not authenticated here:
    /// [`StorageClient::get_block`] checks the block it rebuilds against it, and the
    /// caller checks the block id against the anchors on chain.)
    pub async fn get_record(&self, block: BlockId) -> Result<KeyIndexRecord, DhtError> {
        let key = KadKey::from_preimage(block.0.as_bytes());
        for peer in closest_to(&key, &self.storage_nodes()) {
            if let Ok(ShardResponse::Record(r)) =
                self.request(peer, ShardRequest::GetRecord { block }).await
            {
                if r.block == block && check_record(&r).is_ok() {
                    return Ok(*r);
                }
            }
        }
        Err(DhtError::NotFound)
    }

    /// Fetch ≥ k shards of `record`'s block, check each against the record (a shard that
    /// does not match is reported in [`GetReport::tampered`] and skipped), and reassemble.
    /// Placed holders are asked first, in parallel; if fewer than k shards check out,
    /// every other live storage node is asked for the missing positions.
    pub async fn get_block(&self, record: &KeyIndexRecord) -> Result<GetReport, DhtError> {
        check_record(record).map_err(|_| DhtError::Mismatch)?;
        let k = usize::from(record.params.data);
        let nodes = self.storage_nodes();
        // Fewer nodes than shards: no placement, the second pass asks everyone.
        let first: Vec<(u8, PeerId)> = placement(record, &nodes).unwrap_or_default();
        let mut good: Vec<Shard> = Vec::new();
        let mut used = Vec::new();
        let mut tampered = Vec::new();
        let mut have: u64 = 0;
        let mut asked: HashSet<(u8, PeerId)> = HashSet::new();
        let mut round = first;
        for pass in 0..2 {
            if pass == 1 {
                round = Vec::new();
                for pos in 0..record.shards.len() {
                    let pos = u8::try_from(pos).map_err(|_| DhtError::Mismatch)?;
                    if have & (1 << pos) == 0 {
                        for n in &nodes {
                            if !asked.contains(&(pos, *n)) {
                                round.push((pos, *n));
                            }
                        }
                    }
                }
            }
            let calls = round.iter().map(|(pos, peer)| {
                let req = ShardRequest::GetShard {
                    block: record.block,
                    position: *pos,
                };
                async move { (*pos, *peer, self.request(*peer, req).await) }
            });
            asked.extend(round.iter().copied());
            for (pos, peer, r) in futures::future::join_all(calls).await {
                if let Ok(ShardResponse::Shard(s)) = r {
                    if s.position != pos || check_shard(record, &s).is_err() {
                        tampered.push((pos, peer));
                    } else if have & (1 << pos) == 0 {
                        have |= 1 << pos;
                        used.push((pos, peer));
                        good.push(s);
                    }
                }
            }
            if good.len() >= k {
                break;
            }
        }
        if good.len() < k {
            return Err(DhtError::NotEnoughShards {
                needed: k,
                have: good.len(),
            });
        }
        let block = reassemble(record, &good).map_err(|_| DhtError::Mismatch)?;
        Ok(GetReport {
            block,
            tampered,
            used,
        })
    }

    /// One repair pass over `records` (see the module docs); returns how many shards and
    /// records it put, and how many records it could not repair.
    pub async fn repair(&self, records: &[KeyIndexRecord]) -> (usize, usize) {
        let (mut puts, mut failed) = (0, 0);
        for r in records {
            match self.repair_one(r).await {
                Ok(n) => puts += n,
                Err(e) => {
                    failed += 1;
                    tracing::debug!(block = ?r.block, "repair failed: {e}");
                }
            }
        }
        (puts, failed)
    }

    async fn repair_one(&self, record: &KeyIndexRecord) -> Result<usize, DhtError> {
        let nodes = self.storage_nodes();
        let order = closest_to(&record.dht_key(), &nodes);
        let rank = order
            .iter()
            .position(|p| *p == self.me)
            .ok_or(DhtError::NotFound)?;
        if rank > REPAIR_MAX_CLOSER {
            return Ok(0);
        }
        for p in order.iter().take(rank) {
            if let Ok((true, _)) = self.holds(*p, record.block).await {
                return Ok(0); // a closer holder repairs it
            }
        }
        let placed = placement(record, &nodes)?;
        let mut missing = Vec::new();
        let mut has_record: HashMap<PeerId, bool> = HashMap::new();
        for (pos, peer) in &placed {
            let (rec, mask) = self.holds(*peer, record.block).await?;
            has_record.insert(*peer, rec);
            if mask & (1 << pos) == 0 {
                missing.push((*pos, *peer));
            }
        }
        let mut puts = 0;
        if !missing.is_empty() {
            let got = self.get_block(record).await?;
            let (again, shards) =
                shard_block(&got.block, record.params).map_err(|_| DhtError::Mismatch)?;
            if again.shards != record.shards {
                return Err(DhtError::Mismatch);
            }
            for (pos, peer) in missing {
                let shard = shards.get(usize::from(pos)).cloned();
                let req = ShardRequest::Put {
                    record: Box::new(record.clone()),
                    shard,
                };
                match self.request(peer, req).await? {
                    ShardResponse::Stored => {
                        puts += 1;
                        has_record.insert(peer, true);
                        tracing::info!(block = ?record.block, pos, %peer, "repair: shard re-replicated");
                    }
                    ShardResponse::Refused(x) => {
                        tracing::warn!(block = ?record.block, pos, %peer, "repair refused: {x}")
                    }
                    _ => {}
                }
            }
        }
        for peer in order.iter().take(RECORD_REPLICAS) {
            let held = match has_record.get(peer) {
                Some(h) => *h,
                None => self
                    .holds(*peer, record.block)
                    .await
                    .map(|x| x.0)
                    .unwrap_or(true),
            };
            if !held {
                let req = ShardRequest::Put {
                    record: Box::new(record.clone()),
                    shard: None,
                };
                if let Ok(ShardResponse::Stored) = self.request(*peer, req).await {
                    puts += 1;
                }
            }
        }
        Ok(puts)
    }
}

/// Whether a bound peer joins this node's live set of storage nodes (placement, repair,
/// record replicas). Any key can bind and any peer can advertise `/cpchain/kad/1`: on a
/// storage node only peers whose bound address is a configured writer count (storage nodes
/// are writers of each other), so a stranger cannot make itself the place where repaired
/// shards and records go and then drop them (test
/// `a_bound_stranger_advertising_kad_is_not_a_storage_node_of_a_storage_node`). A node
/// without the storage role has no such list and still takes any bound Kademlia server
/// (see "Attacks considered").
fn counts_as_storage_node(
    i_am_storage: bool,
    writers: &HashSet<Address>,
    address: &Address,
    advertises_kad: bool,
) -> bool {
    advertises_kad && (!i_am_storage || writers.contains(address))
}

/// The storage service on a node loop: serves the shard protocol (if this is a storage
/// node), completes this node's outgoing requests, keeps the live set and the Kademlia
/// routing table, and runs the repair loop.
pub struct DhtService {
    client: StorageClient,
    writers: HashSet<Address>,
    bound: HashMap<PeerId, Address>,
    unanswered: HashMap<PeerId, u32>,
    membership_changed: bool,
    sweep_left: u64,
    last_repair_ms: u64,
    cursor: Option<BlockId>,
    repairing: Arc<std::sync::atomic::AtomicBool>,
    retry: Arc<std::sync::atomic::AtomicBool>,
}

/// Settings of the storage role.
pub struct StorageRole {
    /// The store.
    pub store: Arc<ShardStore>,
    /// Writer addresses.
    pub writers: HashSet<Address>,
    /// Fault injection: serve tampered shards.
    pub tamper: bool,
}

/// The storage role of a node's configuration: its store opened with the configured
/// bounds, or `None` if the node is not a storage node.
pub fn storage_role(
    cfg: &crate::config::NodeConfig,
) -> Result<Option<StorageRole>, crate::error::NodeError> {
    let Some(s) = &cfg.storage else {
        return Ok(None);
    };
    let mut writers = HashSet::new();
    for w in &s.writers {
        let a: Address = w.parse().map_err(|_| crate::error::NodeError::Config {
            path: cfg.data_dir.clone(),
            reason: format!("storage writer address {w}"),
        })?;
        writers.insert(a);
    }
    let store = ShardStore::open(&cfg.shards_path(), s.quota_bytes, s.per_peer_bytes)?;
    Ok(Some(StorageRole {
        store: Arc::new(store),
        writers,
        tamper: s.tamper_shards,
    }))
}

/// Make the storage service and its client for a node loop. `role`: this node is a storage
/// node (its Kademlia switches to server mode).
pub fn service(
    swarm: &mut Swarm<Behaviour>,
    jobs: mpsc::Sender<Job>,
    my_address: Address,
    role: Option<StorageRole>,
) -> (DhtService, StorageClient) {
    let me = *swarm.local_peer_id();
    if role.is_some() {
        swarm.behaviour_mut().kad.set_mode(Some(kad::Mode::Server));
    }
    let (local, writers, tamper) = match role {
        Some(r) => (Some(r.store), r.writers, r.tamper),
        None => (None, HashSet::new(), false),
    };
    let client = StorageClient {
        jobs,
        shared: Arc::new(Mutex::new(Shared::default())),
        me,
        my_address,
        local,
        tamper,
    };
    let svc = DhtService {
        client: client.clone(),
        writers,
        bound: HashMap::new(),
        unanswered: HashMap::new(),
        membership_changed: true,
        sweep_left: 0,
        last_repair_ms: 0,
        cursor: None,
        repairing: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        retry: Arc::new(std::sync::atomic::AtomicBool::new(false)),
    };
    (svc, client)
}

impl Service for DhtService {
    fn on_event(&mut self, swarm: &mut Swarm<Behaviour>, event: Event) -> Option<Event> {
        match event {
            Event::Shard(request_response::Event::Message { peer, message, .. }) => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    let writer = self.bound.get(&peer).filter(|a| self.writers.contains(*a));
                    let res = serve(
                        self.client.local.as_deref(),
                        writer,
                        self.client.tamper,
                        request,
                    );
                    if let ShardResponse::Refused(r) = &res {
                        tracing::info!(%peer, "shard put refused: {r}");
                    }
                    let _ = swarm.behaviour_mut().shard.send_response(channel, res);
                    None
                }
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    self.unanswered.remove(&peer);
                    let tx = self
                        .client
                        .shared
                        .lock()
                        .ok()
                        .and_then(|mut g| g.pending.remove(&request_id));
                    if let Some(tx) = tx {
                        let _ = tx.send(Ok(response));
                    }
                    None
                }
            },
            Event::Shard(request_response::Event::OutboundFailure {
                request_id,
                error,
                peer,
                ..
            }) => {
                if matches!(error, request_response::OutboundFailure::Timeout) {
                    let n = self.unanswered.entry(peer).or_insert(0);
                    *n += 1;
                    if *n >= NOT_ANSWERING_AFTER {
                        // Connected but not answering: it has left, as far as placement
                        // and repair are concerned (it rejoins when it binds again).
                        tracing::warn!(%peer, "storage node not answering: dropped");
                        self.on_gone(swarm, &peer);
                        let _ = swarm.disconnect_peer_id(peer);
                    }
                }
                let tx = self
                    .client
                    .shared
                    .lock()
                    .ok()
                    .and_then(|mut g| g.pending.remove(&request_id));
                if let Some(tx) = tx {
                    let _ = tx.send(Err(error.to_string()));
                }
                None
            }
            Event::Shard(_) => None,
            Event::Kad(ev) => {
                if let kad::Event::RoutingUpdated { peer, .. } = *ev {
                    tracing::debug!(%peer, "kad: routing table updated");
                }
                None
            }
            other => Some(other),
        }
    }

    fn on_bound(&mut self, swarm: &mut Swarm<Behaviour>, peer: &BoundPeer) {
        self.bound.insert(peer.peer, peer.address);
        let advertises = peer
            .info
            .protocols
            .iter()
            .any(|p| p.as_ref() == network::KAD_PROTOCOL);
        if counts_as_storage_node(
            self.client.local.is_some(),
            &self.writers,
            &peer.address,
            advertises,
        ) {
            for a in &peer.info.listen_addrs {
                swarm.behaviour_mut().kad.add_address(&peer.peer, a.clone());
            }
            if let Ok(mut g) = self.client.shared.lock() {
                if g.live.insert(peer.peer) {
                    tracing::info!(peer = %peer.peer, "storage node joined");
                    self.membership_changed = true;
                }
            }
        }
    }

    fn on_gone(&mut self, swarm: &mut Swarm<Behaviour>, peer: &PeerId) {
        self.bound.remove(peer);
        self.unanswered.remove(peer);
        swarm.behaviour_mut().kad.remove_peer(peer);
        if let Ok(mut g) = self.client.shared.lock() {
            if g.live.remove(peer) {
                tracing::info!(%peer, "storage node left");
                self.membership_changed = true;
            }
        }
    }

    fn on_tick(&mut self, _swarm: &mut Swarm<Behaviour>, now_ms: u64) {
        use std::sync::atomic::Ordering;
        let Some(store) = self.client.local.clone() else {
            return;
        };
        if now_ms
            < self
                .last_repair_ms
                .saturating_add(REPAIR_EVERY.as_millis() as u64)
            || self.repairing.load(Ordering::Acquire)
        {
            return;
        }
        self.last_repair_ms = now_ms;
        // A sweep over every record held starts when the live set changes (a storage node
        // joined or left, and at start) and ends after as many records as were held then:
        // a quiet network costs no repair traffic.
        if self.sweep_left == 0 && self.retry.swap(false, Ordering::AcqRel) {
            self.membership_changed = true;
        }
        if self.membership_changed {
            self.membership_changed = false;
            self.sweep_left = store.counts().map(|c| c.0).unwrap_or(0);
        }
        if self.sweep_left == 0 {
            return;
        }
        let batch = match store.records_after(self.cursor.as_ref(), REPAIR_BATCH) {
            Ok(b) if !b.is_empty() => b,
            _ => {
                self.sweep_left = 0;
                return;
            }
        };
        self.sweep_left = self.sweep_left.saturating_sub(batch.len() as u64);
        self.cursor = batch.last().map(|r| r.block);
        self.repairing.store(true, Ordering::Release);
        let flag = self.repairing.clone();
        let client = self.client.clone();
        let retry = self.retry.clone();
        tokio::spawn(async move {
            let (n, failed) = client.repair(&batch).await;
            if n > 0 || failed > 0 {
                tracing::info!(puts = n, failed, "repair pass");
            }
            if failed > 0 {
                retry.store(true, Ordering::Release);
            }
            flag.store(false, Ordering::Release);
        });
    }
}

/// A node without a chain that only uses the data layer (a buyer, a test driver, a
/// gateway host that is not a chain node): its own swarm and loop on a spawned tokio task,
/// bound to the CPChain address of `key` (so storage nodes can check it is a writer),
/// dialling `peers` (multiaddrs ending in `/p2p/<peer id>`) and redialling them while
/// disconnected. The task runs until the tokio runtime shuts down.
pub fn spawn_client(
    key: &cpchain_crypto::SecretKey,
    chain_id: u64,
    peers: &[String],
) -> Result<StorageClient, crate::error::NodeError> {
    use crate::error::NodeError;
    use futures::StreamExt;
    use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
    use libp2p::swarm::SwarmEvent;
    use libp2p::Multiaddr;
    let keypair = crate::binding::transport_keypair(key);
    let me = keypair.public().to_peer_id();
    let agent = crate::binding::agent_version(key, chain_id, &me);
    let mut swarm = network::swarm(keypair, agent).map_err(NodeError::Network)?;
    swarm
        .listen_on(
            "/ip4/127.0.0.1/tcp/0"
                .parse::<Multiaddr>()
                .map_err(|e| NodeError::Network(e.to_string()))?,
        )
        .map_err(|e| NodeError::Network(format!("listen: {e}")))?;
    let dial = crate::node::parse_peers(peers)?;
    let mut services = crate::services::Services::new();
    let (svc, client) = service(
        &mut swarm,
        services.jobs(),
        key.public_key().address(),
        None,
    );
    services.add(Box::new(svc));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                ev = swarm.select_next_some() => match ev {
                    SwarmEvent::Behaviour(Event::Identify(ev)) => {
                        if let libp2p::identify::Event::Received { peer_id, info, .. } = *ev {
                            match crate::binding::verify(&info.agent_version, chain_id, &peer_id) {
                                Ok(address) => {
                                    let p = BoundPeer { peer: peer_id, address, info };
                                    services.on_bound(&mut swarm, &p);
                                }
                                Err(_) => { let _ = swarm.disconnect_peer_id(peer_id); }
                            }
                        }
                    }
                    SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } => {
                        services.on_gone(&mut swarm, &peer_id);
                    }
                    SwarmEvent::Behaviour(ev) => { let _ = services.on_event(&mut swarm, ev); }
                    _ => {}
                },
                job = services.next_job() => job(&mut swarm),
                _ = tick.tick() => {
                    for (pid, addr) in &dial {
                        if !swarm.is_connected(pid) {
                            let opts = DialOpts::peer_id(*pid)
                                .addresses(vec![addr.clone()])
                                .condition(PeerCondition::DisconnectedAndNotDialing)
                                .build();
                            let _ = swarm.dial(opts);
                        }
                    }
                    services.on_tick(&mut swarm, crate::node::now().0);
                }
            }
        }
    });
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpchain_core::encoding;
    use cpchain_storage::ShardParams;
    use libp2p::kad::KBucketKey;
    use libp2p::StreamProtocol;

    fn peers(n: usize) -> Vec<PeerId> {
        (0..n)
            .map(|_| {
                libp2p::identity::Keypair::generate_ed25519()
                    .public()
                    .to_peer_id()
            })
            .collect()
    }

    /// The decision of the module docs: the SDK's key-space points are libp2p's.
    #[test]
    fn sdk_kad_keys_are_libp2p_kbucket_keys() {
        let blocks = sample_blocks(1, 5, 50, ShardParams::new(2, 2).expect("params"));
        let (record, _) = &blocks[0];
        let nodes = peers(12);
        for p in &nodes {
            assert_eq!(KBucketKey::from(*p).hashed_bytes(), peer_kad_key(p).0);
        }
        for id in &record.shards {
            let k = KBucketKey::new(id.0.as_bytes().to_vec());
            assert_eq!(k.hashed_bytes(), id.kad_key().0);
            // Same order by distance: libp2p's U256 distance against the SDK's.
            let mut by_libp2p = nodes.clone();
            by_libp2p.sort_by_key(|p| KBucketKey::from(*p).distance(&k));
            assert_eq!(by_libp2p, closest_to(&id.kad_key(), &nodes));
        }
        let rk = KBucketKey::new(record.block.0.as_bytes().to_vec());
        assert_eq!(rk.hashed_bytes(), record.dht_key().0);
    }

    /// Shard 0 lands on the DHT's closest live node; later shards on the closest node that
    /// holds no earlier shard of the block (never two on one node).
    #[test]
    fn placement_is_kademlia_closeness_made_disjoint() {
        let nodes = peers(6);
        for (record, _) in sample_blocks(5, 5, 50, ShardParams::new(2, 2).expect("params")) {
            let placed = placement(&record, &nodes).expect("6 nodes for 4 shards");
            assert_eq!(placed.len(), 4);
            let mut used = HashSet::new();
            for (pos, node) in &placed {
                let key = record.shards[usize::from(*pos)].kad_key();
                let nearest_free = closest_to(&key, &nodes)
                    .into_iter()
                    .find(|p| !used.contains(p))
                    .expect("free node");
                assert_eq!(*node, nearest_free);
                assert!(used.insert(*node), "two shards on one node");
                if *pos == 0 {
                    assert_eq!(*node, closest_to(&key, &nodes)[0]);
                }
            }
            assert_eq!(
                placement(&record, &nodes[..3]),
                Err(DhtError::NotEnoughNodes { needed: 4, have: 3 })
            );
        }
    }

    #[test]
    fn shard_messages_round_trip_and_garbage_is_refused() {
        let blocks = sample_blocks(1, 5, 50, ShardParams::new(2, 2).expect("params"));
        let (record, shards) = &blocks[0];
        let req = ShardRequest::Put {
            record: Box::new(record.clone()),
            shard: Some(shards[0].clone()),
        };
        let bytes = encoding::encode_to_vec(&req).expect("encodes");
        assert_eq!(encoding::decode::<ShardRequest>(&bytes), Ok(req));
        let res = ShardResponse::Refused(Refusal::QuotaFull);
        let bytes = encoding::encode_to_vec(&res).expect("encodes");
        assert_eq!(encoding::decode::<ShardResponse>(&bytes), Ok(res));
        assert!(
            encoding::decode::<ShardRequest>(&bytes).is_err(),
            "wrong tag"
        );
        assert!(encoding::decode::<ShardResponse>(&[1, 2, 3, 4, 5]).is_err());
    }

    /// Attack: a stranger binds (any key can) and advertises the Kademlia server protocol
    /// to a storage node, to be chosen for repaired shards and record replicas and drop
    /// them. It does not join the storage node's live set; a configured writer does.
    #[tokio::test]
    async fn a_bound_stranger_advertising_kad_is_not_a_storage_node_of_a_storage_node() {
        let dir = std::env::temp_dir().join(format!("cpchain-dht-sybil-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let store = ShardStore::open(&dir.join("s.redb"), u64::MAX, u64::MAX).expect("open");
        let keypair = libp2p::identity::Keypair::generate_ed25519();
        let mut swarm = network::swarm(keypair, "test".into()).expect("swarm");
        let (jobs, _rx) = mpsc::channel(4);
        let honest = Address([0x11; 20]);
        let role = StorageRole {
            store: Arc::new(store),
            writers: [honest].into_iter().collect(),
            tamper: false,
        };
        let (mut svc, client) = service(&mut swarm, jobs, Address([0x22; 20]), Some(role));
        let bound = |address: Address| {
            let key = libp2p::identity::Keypair::generate_ed25519();
            BoundPeer {
                peer: key.public().to_peer_id(),
                address,
                info: libp2p::identify::Info {
                    public_key: key.public(),
                    protocol_version: "/cpchain/1".into(),
                    agent_version: "x".into(),
                    listen_addrs: vec!["/ip4/127.0.0.1/tcp/1".parse().expect("addr")],
                    protocols: vec![StreamProtocol::new(network::KAD_PROTOCOL)],
                    observed_addr: "/ip4/127.0.0.1/tcp/2".parse().expect("addr"),
                    signed_peer_record: None,
                },
            }
        };
        let stranger = bound(Address([0x33; 20]));
        svc.on_bound(&mut swarm, &stranger);
        assert_eq!(
            client.storage_nodes(),
            vec![client.peer_id()],
            "stranger not live"
        );
        let writer = bound(honest);
        svc.on_bound(&mut swarm, &writer);
        assert_eq!(client.storage_nodes(), vec![client.peer_id(), writer.peer]);
        // A node without the storage role has no list: it takes any bound Kademlia server.
        assert!(counts_as_storage_node(
            false,
            &HashSet::new(),
            &stranger.address,
            true
        ));
        assert!(!counts_as_storage_node(
            false,
            &HashSet::new(),
            &honest,
            false
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_non_storage_node_refuses_and_a_stranger_cannot_put() {
        let blocks = sample_blocks(1, 5, 50, ShardParams::new(2, 2).expect("params"));
        let (record, shards) = &blocks[0];
        let put = ShardRequest::Put {
            record: Box::new(record.clone()),
            shard: Some(shards[0].clone()),
        };
        assert_eq!(
            serve(None, Some(&Address([1; 20])), false, put.clone()),
            ShardResponse::Refused(Refusal::NotStorage)
        );
        let dir = std::env::temp_dir().join(format!("cpchain-dht-serve-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let store = ShardStore::open(&dir.join("s.redb"), u64::MAX, u64::MAX).expect("open");
        assert_eq!(
            serve(Some(&store), None, false, put.clone()),
            ShardResponse::Refused(Refusal::NotAuthorised)
        );
        assert_eq!(store.counts().expect("counts"), (0, 0));
        assert_eq!(
            serve(Some(&store), Some(&Address([1; 20])), false, put),
            ShardResponse::Stored
        );
        let get = ShardRequest::GetShard {
            block: record.block,
            position: 0,
        };
        assert_eq!(
            serve(Some(&store), None, false, get.clone()),
            ShardResponse::Shard(shards[0].clone())
        );
        match serve(Some(&store), None, true, get) {
            ShardResponse::Shard(s) => assert!(check_shard(record, &s).is_err(), "tampered"),
            other => panic!("{other:?}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
