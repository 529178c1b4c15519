//! Gateway ingest (issue 15 item 3): a gateway hands the node its encoded outputs — sealed
//! blocks and anchors, byte for byte as the Rust `Writer` (`BlockRef::encode_to_slice`,
//! `encoding::encode_to_vec(&anchor)`) and the C gateway (`cpchain_chain_writer_poll_output`)
//! emit them — and the node verifies them, shards and stores the blocks, and submits the
//! anchors as transactions. A gateway needs no network stack beyond handing over bytes.
//!
//! # Shape
//!
//! * [`Gateway`] is the sans-IO judge: per registered stream a [`Progress`] (the position
//!   of the chain ingested so far and the ids of the blocks not yet anchored). Untrusted
//!   bytes go through [`Gateway::prepare_block`] (decode, stream, device signature and
//!   position with `ChainVerifier::resume` from the stream's progress, Reed–Solomon
//!   sharding with `shard_block`, and with feature `pre` the owner's capsule in the
//!   key-index record) and [`Gateway::check_anchor`] (signature, and that it names a block
//!   this node ingested). Nothing changes on a refusal; a prepared block is kept only by
//!   [`Gateway::commit_block`], which the caller runs after the shards were stored, so a
//!   block whose shards could not be stored is not counted as ingested (authenticate, then
//!   store, then keep).
//! * [`GatewayService`] joins the judge to a [`GatewaySink`] (the DHT's `put_block` and the
//!   anchor transaction) and to its own redb file (`gateway.redb` in the data directory:
//!   each stream's [`Progress`], written durably after every accepted block or anchor, so
//!   a restarted node continues the chain where it stopped and refuses a replay).
//! * [`router`]: `POST /gateway/{stream}/blocks` and `POST /gateway/{stream}/anchors`, each
//!   body one encoded output (`application/octet-stream`), at most [`MAX_BLOCK_BYTES`] or
//!   [`MAX_ANCHOR_BYTES`]. Answers are JSON; refusals are `{"code", "message"}` with the
//!   codes of [`IngestError::code`].
//! * [`ingest_dir`]: `cpchain-node ingest --dir D --api-port P` posts the files of a
//!   gateway's output directory to a node in name order (`*.block`, `*.anchor`, each one
//!   encoded output, as a gateway's flash log would be dumped) and renames each to
//!   `*.done` or `*.refused`.
//!
//! # Bounds
//!
//! A body is refused unread past its bound (axum's `DefaultBodyLimit`), and decoding checks
//! the same bound again. Per stream the node keeps at most [`MAX_UNANCHORED`] ids of blocks
//! not yet anchored; a gateway that sends more without an anchor is
//! refused with `unanchored_backlog` until it anchors; each is charged
//! [`UNANCHORED_ENTRY_BYTES`] (128; test `gateway_memory` measured 78). Streams are only those registered
//! (the node's configuration today, see below), so their number is the operator's.
//!
//! # Deviations, with reasons
//!
//! * A stream's device key, schedule and shard parameters come from the node's
//!   configuration ([`StreamConfig`]): the ledger registers only the owner and the device
//!   (`TxKind::RegisterStream`), not a schedule or k/m. The chain's registry outranks the
//!   configuration where both exist: a stream the chain registers to another device is
//!   refused (`device_mismatch`) before anything is stored or submitted (test
//!   `a_stream_the_chain_registers_to_another_device_is_refused_and_nothing_is_kept`). A
//!   stream not yet registered is ingested (the registration may still be on its way to
//!   this node), and its anchors are then refused by the validators (`unknown_stream`).
//! * An anchor is checked against the blocks this node ingested (it must name an ingested
//!   block by index and id, and lie after the last anchor); its `through` boundary is
//!   left to the buyer's `verify_chain`, which sees the blocks on both sides of it.

pub use crate::config::{GatewayConfig, GatewayStream};
use cpchain_core::encoding::{self, WireMessage};
use cpchain_core::{DecodeError, Timestamp};
use cpchain_crypto::PublicKey;
use cpchain_storage::{
    shard_block, Anchor, BlockId, ChainVerifier, Checkpoint, KeyIndexRecord, Schedule, Shard,
    ShardError, ShardParams, StreamId, VecBlock, VerifyError,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Largest body of `POST /gateway/{stream}/blocks`: one encoded block of the largest body
/// the data layer allows (`cpchain_storage::MAX_BLOCK_BODY`, 1 MiB, plus its envelope).
pub const MAX_BLOCK_BYTES: usize = <VecBlock as WireMessage>::MAX_ENCODED_LEN;
/// Largest body of `POST /gateway/{stream}/anchors`: one encoded anchor.
pub const MAX_ANCHOR_BYTES: usize = <Anchor as WireMessage>::MAX_ENCODED_LEN;
/// Most ids of not-yet-anchored blocks kept per stream (bounds memory and the progress
/// record; a writer anchors every u, normally a handful of blocks).
pub const MAX_UNANCHORED: usize = 4096;
/// Heap bytes charged per not-yet-anchored block (a B-tree entry of index and id, with the
/// tree's overhead); test `gateway_memory` measures what is held against it (78 bytes per
/// block measured over 300 blocks). Per stream the judge keeps at most
/// `MAX_UNANCHORED × UNANCHORED_ENTRY_BYTES` (512 KiB).
pub const UNANCHORED_ENTRY_BYTES: usize = 128;

/// A registered stream: what the node needs to judge its gateway's outputs.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// The stream.
    pub stream: StreamId,
    /// The device key that signs its blocks and anchors.
    pub device: PublicKey,
    /// Its T, e and u.
    pub schedule: Schedule,
    /// Reed–Solomon k and m for its blocks.
    pub params: ShardParams,
}

/// How far a stream's chain has been ingested (stored durably after every change).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Progress {
    /// Index the next block must have.
    pub next_index: u64,
    /// Id of the last ingested block (zero before the first).
    pub head: [u8; 32],
    /// Time of the last record of the last ingested block (Unix ms).
    pub last_time_ms: u64,
    /// Index and id of the last block an accepted anchor covers.
    pub anchored: Option<(u64, [u8; 32])>,
    /// Ids of ingested blocks after the last anchor, by index (at most [`MAX_UNANCHORED`]).
    pub unanchored: BTreeMap<u64, [u8; 32]>,
}

impl Progress {
    fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            next_index: self.next_index,
            head: BlockId(cpchain_core::Hash(self.head)),
            last_time: Timestamp(self.last_time_ms),
        }
    }
}

/// Why a gateway output was refused. Nothing was kept; the code is stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// The body exceeds its bound.
    #[error("body of {len} bytes exceeds {max}")]
    TooLarge {
        /// Body length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// The bytes are not an encoded block (or anchor).
    #[error("decode: {0}")]
    Decode(DecodeError),
    /// The stream in the path is not the stream in the bytes.
    #[error("the output belongs to another stream than the path names")]
    WrongStream,
    /// The stream is not registered with this node.
    #[error("stream not registered with this node")]
    UnknownStream,
    /// The chain verifier's verdict (signature, link, position, header).
    #[error("{0}")]
    Verify(VerifyError),
    /// The same block index came before with another id: the device signed a fork.
    #[error("block {index} conflicts with the block ingested at that index")]
    Conflicting {
        /// The index.
        index: u64,
    },
    /// Too many blocks without an anchor.
    #[error("{MAX_UNANCHORED} blocks wait for an anchor; send the anchor first")]
    UnanchoredBacklog,
    /// The anchor covers a block this node has not ingested yet.
    #[error("anchor covers block {last_index}, but only {next_index} blocks were ingested")]
    AnchorAhead {
        /// Its head index.
        last_index: u64,
        /// Blocks ingested.
        next_index: u64,
    },
    /// The anchor's head is not the block ingested at its index.
    #[error("anchor head does not match the block ingested at index {last_index}")]
    AnchorMismatch {
        /// Its head index.
        last_index: u64,
    },
    /// The anchor does not move past the last accepted anchor.
    #[error("anchor at {last_index} is not past the last anchor ({anchored})")]
    AnchorStale {
        /// Its head index.
        last_index: u64,
        /// The last anchored index.
        anchored: u64,
    },
    /// The chain registers this stream under another device key than the node's
    /// configuration: the chain's registry wins, nothing is stored or submitted.
    #[error("the chain registers stream {stream} to another device than the configured one")]
    DeviceMismatch {
        /// The stream, hex.
        stream: String,
    },
    /// Sharding failed (a block the verifier accepted always shards; kept for completeness).
    #[error("shard: {0}")]
    Shard(ShardError),
    /// The owner could not wrap the interval key (feature `pre`).
    #[error("capsule: {0}")]
    Capsule(String),
    /// The DHT or the chain refused or could not be reached: retry later.
    #[error("{code}: {message}")]
    Sink {
        /// The sink's code.
        code: String,
        /// Its message.
        message: String,
    },
}

impl IngestError {
    /// The stable code of the refusal (the HTTP API's `code`).
    pub fn code(&self) -> &'static str {
        match self {
            IngestError::TooLarge { .. } => "too_large",
            IngestError::Decode(_) => "decode",
            IngestError::WrongStream => "wrong_stream",
            IngestError::UnknownStream => "unknown_stream",
            IngestError::Verify(v) => verify_code(v),
            IngestError::Conflicting { .. } => "conflicting_block",
            IngestError::UnanchoredBacklog => "unanchored_backlog",
            IngestError::AnchorAhead { .. } => "anchor_ahead",
            IngestError::AnchorMismatch { .. } => "anchor_mismatch",
            IngestError::AnchorStale { .. } => "anchor_stale",
            IngestError::DeviceMismatch { .. } => "device_mismatch",
            IngestError::Shard(_) => "shard",
            IngestError::Capsule(_) => "capsule",
            IngestError::Sink { .. } => "unavailable",
        }
    }

    /// The HTTP status of the refusal: 400 malformed, 404 unknown stream, 409 out of place,
    /// 413 too large, 422 not authentic, 503 retry later.
    pub fn http_status(&self) -> u16 {
        match self {
            IngestError::TooLarge { .. } => 413,
            IngestError::Decode(_) | IngestError::WrongStream => 400,
            IngestError::UnknownStream => 404,
            IngestError::Verify(
                VerifyError::BadSignature { .. }
                | VerifyError::BodyTampered { .. }
                | VerifyError::BadAnchor { .. }
                | VerifyError::MalformedHeader { .. }
                | VerifyError::IntervalMismatch { .. },
            ) => 422,
            IngestError::Verify(_)
            | IngestError::Conflicting { .. }
            | IngestError::UnanchoredBacklog
            | IngestError::AnchorAhead { .. }
            | IngestError::AnchorMismatch { .. }
            | IngestError::AnchorStale { .. } => 409,
            IngestError::Shard(_) | IngestError::Capsule(_) => 500,
            IngestError::DeviceMismatch { .. } => 409,
            IngestError::Sink { .. } => 503,
        }
    }
}

fn verify_code(v: &VerifyError) -> &'static str {
    match v {
        VerifyError::Decode(_) => "decode",
        VerifyError::BodyTampered { .. } => "body_tampered",
        VerifyError::BadSignature { .. } | VerifyError::BadAnchor { .. } => "bad_signature",
        VerifyError::WrongStream { .. } | VerifyError::AnchorWrongStream { .. } => "wrong_stream",
        VerifyError::MissingBlock { .. } => "missing_block",
        VerifyError::Replayed { .. } => "replayed",
        VerifyError::BrokenLink { .. } => "broken_link",
        VerifyError::TimeNotMonotonic { .. } => "time_not_monotonic",
        VerifyError::MalformedHeader { .. } => "malformed_header",
        VerifyError::IntervalMismatch { .. } => "interval_mismatch",
        _ => "verify",
    }
}

/// A verified, sharded block, not yet kept: store `shards` and `record`, then
/// [`Gateway::commit_block`].
#[derive(Debug, Clone)]
pub struct PreparedBlock {
    /// The block's key-index record (with the owner's capsule where the node is the
    /// owner's and has feature `pre`).
    pub record: KeyIndexRecord,
    /// Its k + m shards.
    pub shards: Vec<Shard>,
    /// The position after it.
    next: Checkpoint,
}

/// What an accepted block or anchor amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict<T> {
    /// New: act on it.
    New(T),
    /// Ingested before (the same bytes again): nothing to do; the gateway may drop it.
    Duplicate,
}

struct StreamState {
    config: StreamConfig,
    progress: Progress,
    #[cfg(feature = "pre")]
    owner: Option<cpchain_storage::sharing::Owner>,
}

/// The sans-IO judge of gateway outputs for the registered streams.
pub struct Gateway {
    streams: BTreeMap<StreamId, StreamState>,
}

impl Gateway {
    /// A judge for `streams`, each continuing from its stored progress (absent: genesis).
    pub fn new(streams: Vec<(StreamConfig, Option<Progress>)>) -> Gateway {
        Gateway {
            streams: streams
                .into_iter()
                .map(|(config, progress)| {
                    (
                        config.stream,
                        StreamState {
                            config,
                            progress: progress.unwrap_or_default(),
                            #[cfg(feature = "pre")]
                            owner: None,
                        },
                    )
                })
                .collect(),
        }
    }

    /// Make this node the owner's for its stream: every key-index record it makes then
    /// carries the interval key wrapped for proxy re-encryption (`Owner::attach_capsule`).
    #[cfg(feature = "pre")]
    pub fn set_owner(&mut self, owner: cpchain_storage::sharing::Owner) -> bool {
        match self.streams.get_mut(owner.stream()) {
            Some(s) => {
                s.owner = Some(owner);
                true
            }
            None => false,
        }
    }

    /// The ingest progress of `stream`.
    pub fn progress(&self, stream: &StreamId) -> Option<&Progress> {
        self.streams.get(stream).map(|s| &s.progress)
    }

    /// The configured device key of `stream`.
    pub fn device(&self, stream: &StreamId) -> Option<&PublicKey> {
        self.streams.get(stream).map(|s| &s.config.device)
    }

    /// The registered streams.
    pub fn streams(&self) -> impl Iterator<Item = &StreamConfig> {
        self.streams.values().map(|s| &s.config)
    }

    /// Judge one encoded block for `stream` (the path's stream; `None` takes the block's).
    /// On `Ok(New)` store the result and call [`Gateway::commit_block`]; nothing changes here.
    pub fn prepare_block(
        &mut self,
        stream: Option<&StreamId>,
        bytes: &[u8],
        rng: &mut impl cpchain_crypto::CryptoRngCore,
    ) -> Result<Verdict<PreparedBlock>, IngestError> {
        if bytes.len() > MAX_BLOCK_BYTES {
            return Err(IngestError::TooLarge {
                len: bytes.len(),
                max: MAX_BLOCK_BYTES,
            });
        }
        let block: VecBlock = encoding::decode(bytes).map_err(IngestError::Decode)?;
        let id_stream = block.header.stream;
        if stream.is_some_and(|s| *s != id_stream) {
            return Err(IngestError::WrongStream);
        }
        let state = self
            .streams
            .get_mut(&id_stream)
            .ok_or(IngestError::UnknownStream)?;
        let mut verifier = ChainVerifier::resume(
            id_stream,
            state.config.device,
            state.config.schedule,
            state.progress.checkpoint(),
        );
        let index = block.header.index;
        match verifier.verify_block(&block) {
            Ok(_) => {}
            Err(VerifyError::Replayed { .. }) => {
                // Authentic (the verifier checks the signature first) and behind the head.
                let id = block.id();
                return match state.progress.unanchored.get(&index) {
                    Some(known) if *known == *id.0.as_bytes() => Ok(Verdict::Duplicate),
                    Some(_) => Err(IngestError::Conflicting { index }),
                    None if index + 1 == state.progress.next_index
                        && state.progress.head == *id.0.as_bytes() =>
                    {
                        Ok(Verdict::Duplicate)
                    }
                    None => Err(IngestError::Verify(VerifyError::Replayed { index })),
                };
            }
            Err(e) => return Err(IngestError::Verify(e)),
        }
        if state.progress.unanchored.len() >= MAX_UNANCHORED {
            return Err(IngestError::UnanchoredBacklog);
        }
        #[allow(unused_mut)]
        let (mut record, shards) =
            shard_block(&block, state.config.params).map_err(IngestError::Shard)?;
        #[cfg(feature = "pre")]
        if let Some(owner) = state.owner.as_mut() {
            owner
                .attach_capsule(rng, &mut record)
                .map_err(|e| IngestError::Capsule(e.to_string()))?;
        }
        #[cfg(not(feature = "pre"))]
        let _ = rng;
        Ok(Verdict::New(PreparedBlock {
            record,
            shards,
            next: Checkpoint {
                next_index: verifier.next_index(),
                head: verifier.head(),
                last_time: block.header.last_time,
            },
        }))
    }

    /// Keep a prepared block whose shards were stored: the stream's position moves past it.
    /// Refused (`missing_block`/`replayed`) if another block of the stream was committed
    /// since it was prepared.
    pub fn commit_block(&mut self, prepared: &PreparedBlock) -> Result<(), IngestError> {
        let state = self
            .streams
            .get_mut(&prepared.record.stream)
            .ok_or(IngestError::UnknownStream)?;
        let index = prepared.record.index;
        if state.progress.next_index != index {
            return Err(IngestError::Verify(VerifyError::Replayed { index }));
        }
        let p = &mut state.progress;
        p.next_index = prepared.next.next_index;
        p.head = *prepared.next.head.0.as_bytes();
        p.last_time_ms = prepared.next.last_time.as_millis();
        p.unanchored.insert(index, p.head);
        Ok(())
    }

    /// Judge one encoded anchor for `stream`; on `Ok(New)` the stream's progress already
    /// counts it as anchored (submit it; a lost submission is resent by the gateway's next
    /// anchor, which covers this one).
    pub fn accept_anchor(
        &mut self,
        stream: Option<&StreamId>,
        bytes: &[u8],
    ) -> Result<Verdict<Anchor>, IngestError> {
        let anchor = self.check_anchor(stream, bytes)?;
        let Verdict::New(anchor) = anchor else {
            return Ok(Verdict::Duplicate);
        };
        if let Some(state) = self.streams.get_mut(&anchor.stream) {
            let p = &mut state.progress;
            p.anchored = Some((anchor.last_index, *anchor.head.0.as_bytes()));
            p.unanchored = p.unanchored.split_off(&(anchor.last_index + 1));
        }
        Ok(Verdict::New(anchor))
    }

    /// Judge one encoded anchor without changing anything.
    pub fn check_anchor(
        &self,
        stream: Option<&StreamId>,
        bytes: &[u8],
    ) -> Result<Verdict<Anchor>, IngestError> {
        if bytes.len() > MAX_ANCHOR_BYTES {
            return Err(IngestError::TooLarge {
                len: bytes.len(),
                max: MAX_ANCHOR_BYTES,
            });
        }
        let anchor: Anchor = encoding::decode(bytes).map_err(IngestError::Decode)?;
        if stream.is_some_and(|s| *s != anchor.stream) {
            return Err(IngestError::WrongStream);
        }
        let state = self
            .streams
            .get(&anchor.stream)
            .ok_or(IngestError::UnknownStream)?;
        anchor
            .verify(&state.config.device)
            .map_err(IngestError::Verify)?;
        let p = &state.progress;
        if anchor.last_index >= p.next_index {
            return Err(IngestError::AnchorAhead {
                last_index: anchor.last_index,
                next_index: p.next_index,
            });
        }
        if let Some((anchored, head)) = p.anchored {
            if anchor.last_index <= anchored {
                return if anchor.last_index == anchored && head == *anchor.head.0.as_bytes() {
                    Ok(Verdict::Duplicate)
                } else {
                    Err(IngestError::AnchorStale {
                        last_index: anchor.last_index,
                        anchored,
                    })
                };
            }
        }
        match p.unanchored.get(&anchor.last_index) {
            Some(id) if id == anchor.head.0.as_bytes() => Ok(Verdict::New(anchor)),
            _ => Err(IngestError::AnchorMismatch {
                last_index: anchor.last_index,
            }),
        }
    }
}

/// Where verified gateway outputs go: the DHT (engineer B's `put_block`) and the chain
/// (engineer A's anchor transaction). An `Err` is a retry-later (`unavailable`) for the
/// gateway; nothing was kept.
#[async_trait::async_trait]
pub trait GatewaySink: Send + Sync {
    /// Store a block's key-index record and its shards.
    async fn store_block(&self, record: &KeyIndexRecord, shards: &[Shard]) -> Result<(), String>;
    /// Submit an accepted anchor as a transaction.
    async fn submit_anchor(&self, anchor: &Anchor) -> Result<(), String>;
    /// The device key the chain registers for `stream` (`TxKind::RegisterStream`), if the
    /// sink sees a chain and the stream is registered there. A configured key that differs
    /// is refused (`device_mismatch`): the chain would refuse every anchor of it anyway,
    /// and its blocks would fill the DHT for nothing. Default: no chain view.
    async fn registered_device(&self, _stream: &StreamId) -> Result<Option<PublicKey>, String> {
        Ok(None)
    }
}

const PROGRESS: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("progress");

/// The gateway's own redb file: each stream's [`Progress`] (postcard), written durably.
pub struct GatewayDb {
    db: redb::Database,
}

fn db_err(e: impl Into<redb::Error>) -> crate::error::NodeError {
    let e: redb::Error = e.into();
    crate::error::NodeError::Storage(format!("gateway.redb: {e}"))
}

impl GatewayDb {
    /// Open or create the file.
    pub fn open(path: &std::path::Path) -> Result<GatewayDb, crate::error::NodeError> {
        let db = redb::Database::create(path).map_err(db_err)?;
        Ok(GatewayDb { db })
    }

    /// The stored progress of `stream`; a record that does not decode is an error, never a
    /// fresh start.
    pub fn progress(&self, stream: &StreamId) -> Result<Option<Progress>, crate::error::NodeError> {
        let r = self.db.begin_read().map_err(db_err)?;
        let t = match r.open_table(PROGRESS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(db_err(e)),
        };
        match t.get(&stream.0[..]).map_err(db_err)? {
            Some(v) => postcard::from_bytes(v.value()).map(Some).map_err(|e| {
                crate::error::NodeError::Storage(format!("gateway.redb: progress record: {e}"))
            }),
            None => Ok(None),
        }
    }

    /// Store the progress of `stream` (fsynced before returning).
    pub fn put(&self, stream: &StreamId, p: &Progress) -> Result<(), crate::error::NodeError> {
        let bytes = postcard::to_allocvec(p)
            .map_err(|e| crate::error::NodeError::Storage(format!("encode progress: {e}")))?;
        let w = self.db.begin_write().map_err(db_err)?;
        {
            let mut t = w.open_table(PROGRESS).map_err(db_err)?;
            t.insert(&stream.0[..], bytes.as_slice()).map_err(db_err)?;
        }
        w.commit().map_err(db_err)
    }
}

/// The judge, its store and its sink, shared by the HTTP handlers. One output is judged at
/// a time (a stream's chain is sequential anyway), the lock held across the sink's store.
pub struct GatewayService {
    inner: tokio::sync::Mutex<Inner>,
    sink: std::sync::Arc<dyn GatewaySink>,
}

struct Inner {
    gateway: Gateway,
    db: Option<GatewayDb>,
    rng: rand_core::OsRng,
}

/// What an accepted output is answered with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    /// `block` or `anchor`.
    pub kind: String,
    /// The block index, or the anchor's head index.
    pub index: u64,
    /// The block id, or the anchor's head id (hex).
    pub id: String,
    /// Shards stored (blocks only).
    pub shards: usize,
    /// True when the output had been ingested before (nothing was done again).
    pub duplicate: bool,
}

impl GatewayService {
    /// A service over `gateway`, persisting to `db` (none: in memory, for tests and
    /// benches), handing outputs to `sink`.
    pub fn new(
        gateway: Gateway,
        db: Option<GatewayDb>,
        sink: std::sync::Arc<dyn GatewaySink>,
    ) -> GatewayService {
        GatewayService {
            inner: tokio::sync::Mutex::new(Inner {
                gateway,
                db,
                rng: rand_core::OsRng,
            }),
            sink,
        }
    }

    /// Open `gateway.redb` in `data_dir` and build the judge for `streams` from it.
    pub fn open(
        data_dir: &std::path::Path,
        streams: Vec<StreamConfig>,
        sink: std::sync::Arc<dyn GatewaySink>,
    ) -> Result<GatewayService, crate::error::NodeError> {
        let db = GatewayDb::open(&data_dir.join("gateway.redb"))?;
        let mut with = Vec::with_capacity(streams.len());
        for s in streams {
            let p = db.progress(&s.stream)?;
            with.push((s, p));
        }
        Ok(Self::new(Gateway::new(with), Some(db), sink))
    }

    /// Make the node the owner's for its stream (see [`Gateway::set_owner`]).
    #[cfg(feature = "pre")]
    pub async fn set_owner(&self, owner: cpchain_storage::sharing::Owner) -> bool {
        self.inner.lock().await.gateway.set_owner(owner)
    }

    /// The progress of `stream`.
    pub async fn progress(&self, stream: &StreamId) -> Option<Progress> {
        self.inner.lock().await.gateway.progress(stream).cloned()
    }

    /// Verify, shard, store and keep one encoded block.
    pub async fn ingest_block(
        &self,
        stream: Option<&StreamId>,
        bytes: &[u8],
    ) -> Result<Accepted, IngestError> {
        let mut guard = self.inner.lock().await;
        let inner = &mut *guard;
        let prepared = match inner.gateway.prepare_block(stream, bytes, &mut inner.rng)? {
            Verdict::New(p) => p,
            Verdict::Duplicate => {
                return Ok(Accepted {
                    kind: "block".into(),
                    index: 0,
                    id: String::new(),
                    shards: 0,
                    duplicate: true,
                })
            }
        };
        check_device(&inner.gateway, &*self.sink, &prepared.record.stream).await?;
        self.sink
            .store_block(&prepared.record, &prepared.shards)
            .await
            .map_err(|message| IngestError::Sink {
                code: "dht".into(),
                message,
            })?;
        inner.gateway.commit_block(&prepared)?;
        let stream = prepared.record.stream;
        persist(inner, &stream)?;
        Ok(Accepted {
            kind: "block".into(),
            index: prepared.record.index,
            id: hex::encode(prepared.record.block.0.as_bytes()),
            shards: prepared.shards.len(),
            duplicate: false,
        })
    }

    /// Verify one encoded anchor, submit it as a transaction, keep it.
    pub async fn ingest_anchor(
        &self,
        stream: Option<&StreamId>,
        bytes: &[u8],
    ) -> Result<Accepted, IngestError> {
        let mut guard = self.inner.lock().await;
        let inner = &mut *guard;
        let anchor = match inner.gateway.check_anchor(stream, bytes)? {
            Verdict::New(a) => a,
            Verdict::Duplicate => {
                return Ok(Accepted {
                    kind: "anchor".into(),
                    index: 0,
                    id: String::new(),
                    shards: 0,
                    duplicate: true,
                })
            }
        };
        check_device(&inner.gateway, &*self.sink, &anchor.stream).await?;
        self.sink
            .submit_anchor(&anchor)
            .await
            .map_err(|message| IngestError::Sink {
                code: "chain".into(),
                message,
            })?;
        inner.gateway.accept_anchor(stream, bytes)?;
        persist(inner, &anchor.stream)?;
        Ok(Accepted {
            kind: "anchor".into(),
            index: anchor.last_index,
            id: hex::encode(anchor.head.0.as_bytes()),
            shards: 0,
            duplicate: false,
        })
    }
}

/// Refuse `stream` when the chain registers it to another device than the configuration.
async fn check_device(
    gateway: &Gateway,
    sink: &dyn GatewaySink,
    stream: &StreamId,
) -> Result<(), IngestError> {
    let on_chain = sink
        .registered_device(stream)
        .await
        .map_err(|message| IngestError::Sink {
            code: "chain".into(),
            message,
        })?;
    match (on_chain, gateway.device(stream)) {
        (Some(chain), Some(configured)) if chain != *configured => {
            Err(IngestError::DeviceMismatch {
                stream: hex::encode(stream.0),
            })
        }
        _ => Ok(()),
    }
}

fn persist(inner: &Inner, stream: &StreamId) -> Result<(), IngestError> {
    if let (Some(db), Some(p)) = (&inner.db, inner.gateway.progress(stream)) {
        db.put(stream, p).map_err(|e| IngestError::Sink {
            code: "storage".into(),
            message: e.to_string(),
        })?;
    }
    Ok(())
}

/// Parse a stream id from its 64-hex-digit form (the path segment of the routes).
pub fn parse_stream(s: &str) -> Option<StreamId> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(StreamId(out))
}

/// The gateway routes: `POST /gateway/{stream}/blocks` and `POST /gateway/{stream}/anchors`
/// (see the module docs), bodies bounded before they are read.
pub fn router(service: std::sync::Arc<GatewayService>) -> axum::Router {
    use axum::extract::DefaultBodyLimit;
    use axum::routing::post;
    axum::Router::new()
        .route(
            "/gateway/{stream}/blocks",
            post(post_block).layer(DefaultBodyLimit::max(MAX_BLOCK_BYTES)),
        )
        .route(
            "/gateway/{stream}/anchors",
            post(post_anchor).layer(DefaultBodyLimit::max(MAX_ANCHOR_BYTES)),
        )
        .with_state(service)
}

type Reply = (axum::http::StatusCode, axum::Json<serde_json::Value>);

fn reply(r: Result<Accepted, IngestError>) -> Reply {
    use axum::http::StatusCode;
    match r {
        Ok(a) => (
            StatusCode::OK,
            axum::Json(serde_json::to_value(a).unwrap_or_default()),
        ),
        Err(e) => (
            StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST),
            axum::Json(serde_json::json!({ "code": e.code(), "message": e.to_string() })),
        ),
    }
}

fn bad_stream() -> Reply {
    (
        axum::http::StatusCode::BAD_REQUEST,
        axum::Json(
            serde_json::json!({ "code": "bad_stream", "message": "stream must be 64 hex digits" }),
        ),
    )
}

async fn post_block(
    axum::extract::State(s): axum::extract::State<std::sync::Arc<GatewayService>>,
    axum::extract::Path(stream): axum::extract::Path<String>,
    body: axum::body::Bytes,
) -> Reply {
    let Some(stream) = parse_stream(&stream) else {
        return bad_stream();
    };
    reply(s.ingest_block(Some(&stream), &body).await)
}

async fn post_anchor(
    axum::extract::State(s): axum::extract::State<std::sync::Arc<GatewayService>>,
    axum::extract::Path(stream): axum::extract::Path<String>,
    body: axum::body::Bytes,
) -> Reply {
    let Some(stream) = parse_stream(&stream) else {
        return bad_stream();
    };
    reply(s.ingest_anchor(Some(&stream), &body).await)
}

/// `POST` raw bytes to `127.0.0.1:port` (the gateway's side: no client library needed);
/// returns (status, body).
pub fn post_bytes(port: u16, path: &str, body: &[u8]) -> std::io::Result<(u16, String)> {
    crate::api::http_raw(
        port,
        "POST",
        path,
        "application/octet-stream",
        body,
        std::time::Duration::from_secs(30),
    )
}

/// What [`ingest_dir`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirReport {
    /// Outputs the node accepted (or had already).
    pub accepted: usize,
    /// Outputs the node refused, with the file and the node's answer.
    pub refused: Vec<(std::path::PathBuf, String)>,
}

/// Hand a gateway's output directory to a node: every `*.block` and `*.anchor` file (one
/// encoded output each), in file-name order, is posted to the node's gateway routes (the
/// stream read from the bytes) and renamed `*.done` when accepted, `*.refused` when the
/// node refused it. A node that cannot be reached, or answers 503, stops the walk with an
/// error and the file stays, to be retried.
pub fn ingest_dir(
    dir: &std::path::Path,
    api_port: u16,
) -> Result<DirReport, crate::error::NodeError> {
    use crate::error::NodeError;
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| NodeError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("block" | "anchor")
            )
        })
        .collect();
    files.sort();
    let mut report = DirReport::default();
    for f in files {
        let bytes = std::fs::read(&f).map_err(|e| NodeError::io(&f, e))?;
        let is_block = f.extension().and_then(|e| e.to_str()) == Some("block");
        let stream = if is_block {
            encoding::decode::<VecBlock>(&bytes).map(|b| b.header.stream)
        } else {
            encoding::decode::<Anchor>(&bytes).map(|a| a.stream)
        };
        let (status, body) = match stream {
            Ok(stream) => {
                let path = format!(
                    "/gateway/{}/{}",
                    hex::encode(stream.0),
                    if is_block { "blocks" } else { "anchors" }
                );
                post_bytes(api_port, &path, &bytes)
                    .map_err(|e| NodeError::Network(format!("API: {e}")))?
            }
            Err(e) => (400, format!("{{\"code\":\"decode\",\"message\":\"{e}\"}}")),
        };
        if status == 503 || status == 0 {
            return Err(NodeError::Network(format!("{}: {body}", f.display())));
        }
        let to = if status == 200 {
            report.accepted += 1;
            f.with_extension(format!(
                "{}.done",
                if is_block { "block" } else { "anchor" }
            ))
        } else {
            report.refused.push((f.clone(), body));
            f.with_extension(format!(
                "{}.refused",
                if is_block { "block" } else { "anchor" }
            ))
        };
        std::fs::rename(&f, &to).map_err(|e| NodeError::io(&to, e))?;
    }
    Ok(report)
}

/// The judge's view of one configured stream (the configuration's own types live in
/// [`crate::config`], which depends on nothing of the gateway).
pub fn stream_config(entry: &GatewayStream) -> Result<StreamConfig, String> {
    use cpchain_core::Duration;
    let stream = parse_stream(&entry.stream).ok_or("stream: 64 hex digits")?;
    let dev = hex::decode(&entry.device).map_err(|_| "device: hex")?;
    let device = PublicKey::from_sec1_bytes(&dev).map_err(|_| "device: not a secp256k1 key")?;
    let schedule = Schedule::new(
        Duration::from_millis(entry.period_ms),
        Duration::from_millis(entry.interval_ms),
        Duration::from_millis(entry.upload_ms),
    )
    .map_err(|e| format!("schedule: {e}"))?;
    let params = ShardParams::new(entry.data, entry.parity).map_err(|e| format!("shards: {e}"))?;
    Ok(StreamConfig {
        stream,
        device,
        schedule,
        params,
    })
}

/// The node's sink: shards through the DHT's [`crate::dht::StorageClient::put_block`],
/// anchors as `TxKind::Anchor` transactions signed by the node's key and gossiped on the
/// chain's transaction topic (a follower keeps no mempool; validators admit them).
pub struct NodeSink {
    storage: crate::dht::StorageClient,
    jobs: tokio::sync::mpsc::Sender<crate::services::Job>,
    tx_topic: libp2p::gossipsub::IdentTopic,
    key: cpchain_crypto::SecretKey,
    chain_id: u64,
    store: std::sync::Arc<crate::store::Store>,
    next_nonce: std::sync::Mutex<u64>,
}

impl NodeSink {
    /// A sink on a running node loop.
    pub fn new(
        storage: crate::dht::StorageClient,
        jobs: tokio::sync::mpsc::Sender<crate::services::Job>,
        chain_id: u64,
        key: cpchain_crypto::SecretKey,
        store: std::sync::Arc<crate::store::Store>,
    ) -> NodeSink {
        NodeSink {
            storage,
            jobs,
            tx_topic: libp2p::gossipsub::IdentTopic::new(format!("/cpchain/{chain_id}/tx")),
            key,
            chain_id,
            store,
            next_nonce: std::sync::Mutex::new(0),
        }
    }
}

#[async_trait::async_trait]
impl GatewaySink for NodeSink {
    async fn store_block(&self, record: &KeyIndexRecord, shards: &[Shard]) -> Result<(), String> {
        self.storage
            .put_block(record, shards)
            .await
            .map(|_| ())
            .map_err(|e| format!("{}: {e}", e.code()))
    }

    async fn registered_device(&self, stream: &StreamId) -> Result<Option<PublicKey>, String> {
        let record = self
            .store
            .ledger()
            .stream(stream)
            .map_err(|e| e.to_string())?;
        Ok(record.map(|r| r.device))
    }

    async fn submit_anchor(&self, anchor: &Anchor) -> Result<(), String> {
        use crate::tx::{Transaction, TxBody, TxKind};
        let me = self.key.public_key().address();
        let on_chain = self
            .store
            .account(&me)
            .map_err(|e| e.to_string())?
            .map_or(0, |a| a.nonce);
        let nonce = {
            let mut n = self.next_nonce.lock().map_err(|_| "nonce lock")?;
            let nonce = (*n).max(on_chain);
            *n = nonce + 1;
            nonce
        };
        let tx = Transaction::sign(
            &self.key,
            TxBody {
                chain_id: self.chain_id,
                nonce,
                kind: TxKind::Anchor(Box::new(*anchor)),
            },
        );
        let batch = crate::ingest::encode_batch(&[tx.to_bytes()]);
        let (done, result) = tokio::sync::oneshot::channel();
        let topic = self.tx_topic.clone();
        self.jobs
            .send(Box::new(move |swarm| {
                let r = swarm
                    .behaviour_mut()
                    .gossipsub
                    .publish(topic, batch)
                    .map(|_| ())
                    .map_err(|e| format!("publish: {e}"));
                let _ = done.send(r);
            }))
            .await
            .map_err(|_| "node loop stopped".to_string())?;
        let r = result.await.map_err(|_| "node loop stopped".to_string())?;
        if r.is_err() {
            // Not sent: the nonce is free again.
            if let Ok(mut n) = self.next_nonce.lock() {
                *n = nonce;
            }
        }
        r
    }
}

/// Build the gateway service of a node from its configuration (`None` when the node has
/// no `gateway` section).
pub fn from_config(
    cfg: &crate::config::NodeConfig,
    sink: std::sync::Arc<dyn GatewaySink>,
) -> Result<Option<std::sync::Arc<GatewayService>>, crate::error::NodeError> {
    let Some(g) = &cfg.gateway else {
        return Ok(None);
    };
    let bad = |reason: String| crate::error::NodeError::Config {
        path: cfg.data_dir.clone(),
        reason: format!("gateway: {reason}"),
    };
    let mut streams = Vec::with_capacity(g.streams.len());
    for s in &g.streams {
        streams.push(stream_config(s).map_err(bad)?);
    }
    let service = GatewayService::open(&cfg.data_dir, streams, sink)?;
    #[cfg(feature = "pre")]
    if let Some(f) = &g.owner_master_file {
        let master = load_master(&cfg.data_dir.join(f))?;
        let key = crate::config::load_key(&cfg.key_file)?;
        let mut inner = service.inner.try_lock().map_err(|_| bad("busy".into()))?;
        let owned: Vec<StreamId> = inner.gateway.streams().map(|s| s.stream).collect();
        for stream in owned {
            let owner = cpchain_storage::sharing::Owner::new(
                key.clone(),
                master.clone(),
                stream,
                cpchain_storage::sharing::OwnerConfig {
                    chain_id: cfg.chain_id,
                    ..Default::default()
                },
            )
            .map_err(|e| bad(format!("owner: {e}")))?;
            inner.gateway.set_owner(owner);
        }
        drop(inner);
    }
    #[cfg(not(feature = "pre"))]
    if g.owner_master_file.is_some() {
        return Err(bad(
            "owner_master_file needs a node built with feature `pre`".into(),
        ));
    }
    Ok(Some(std::sync::Arc::new(service)))
}

/// Read an owner's master secret (64 hex digits) from `path`.
pub fn load_master(
    path: &std::path::Path,
) -> Result<cpchain_storage::MasterSecret, crate::error::NodeError> {
    use crate::error::NodeError;
    let text =
        zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|e| NodeError::io(path, e))?);
    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text.trim(), &mut *bytes)
        .map_err(|_| NodeError::Key(path.to_path_buf()))?;
    Ok(cpchain_storage::MasterSecret::from_bytes(*bytes))
}
