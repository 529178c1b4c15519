//! The shard protocol's wire (`/cpchain/shard/1`): requests, responses, refusals and
//! their bounded codec. Its own module so that the network behaviour (which names the
//! codec) and the storage node (which answers requests) depend on the wire, not on each
//! other or on the DHT service ([`crate::dht`] re-exports these).

use crate::frame as network;
use cpchain_core::{encoding, WireMessage};
use cpchain_storage::{BlockId, KeyIndexRecord, Shard};
use libp2p::request_response;
use libp2p::StreamProtocol;
use serde::{Deserialize, Serialize};
use std::io;
use std::time::Duration;

/// How long a shard request may take before it fails.
pub const SHARD_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Most concurrent shard-protocol streams per connection (libp2p's default is 100): with
/// request frames of at most `ShardRequest::MAX_ENCODED_LEN` (1,051,416 bytes, read as
/// they arrive) a connection holds at most 16 × 1.05 MiB ≈ 16.8 MB of this node's memory
/// in requests being read, and only for bytes it actually sent. A reader asks one peer for at most k + m shards
/// at once, so with k + m > 16 some of a second pass's requests to one peer can be refused
/// (those positions are then missing from that peer, as if it did not answer).
pub const SHARD_STREAMS: usize = 16;

/// A request of the shard protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShardRequest {
    /// Keep this record, and this shard of its block if given.
    Put {
        /// The block's key-index record (boxed: it is ~2.5 KiB inline).
        record: Box<KeyIndexRecord>,
        /// One of its shards.
        shard: Option<Shard>,
    },
    /// Send the shard of `block` at `position`.
    GetShard {
        /// The block.
        block: BlockId,
        /// The shard's position.
        position: u8,
    },
    /// Send the key-index record of `block`.
    GetRecord {
        /// The block.
        block: BlockId,
    },
    /// Say what you hold of `block`.
    Holds {
        /// The block.
        block: BlockId,
    },
}

impl WireMessage for ShardRequest {
    const TAG: u16 = 0x0a40;
    const MAX_ENCODED_LEN: usize =
        KeyIndexRecord::MAX_ENCODED_LEN + <Shard as WireMessage>::MAX_ENCODED_LEN + 16;
}

/// A response of the shard protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShardResponse {
    /// The put was kept (or was already held).
    Stored,
    /// The put was refused, with the reason.
    Refused(Refusal),
    /// The shard asked for.
    Shard(Shard),
    /// The record asked for (boxed: ~2.5 KiB inline).
    Record(Box<KeyIndexRecord>),
    /// What the node holds of a block.
    Holds {
        /// Whether it holds the record.
        record: bool,
        /// Bit i set: it holds the shard at position i.
        positions: u64,
    },
    /// Not held here.
    NotFound,
}

impl WireMessage for ShardResponse {
    const TAG: u16 = 0x0a41;
    const MAX_ENCODED_LEN: usize = <Shard as WireMessage>::MAX_ENCODED_LEN + 16;
}

/// Codec of the shard protocol: one length-prefixed frame (≤ `MAX_MESSAGE_BYTES`) holding
/// the message's canonical encoding.
#[derive(Debug, Clone, Default)]
pub struct ShardCodec;

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// Bytes of a frame read at a time: memory follows the bytes a peer actually sent.
const READ_CHUNK: usize = 64 * 1024;

/// Read one length-prefixed frame (u32 big-endian length, then the bytes, as
/// [`network::write_frame`] writes it) of at most `max` bytes. A longer claim is refused
/// before anything is read; the buffer grows [`READ_CHUNK`] bytes at a time as bytes
/// arrive, so a claim followed by silence costs at most one chunk, not the claim (test
/// `a_claimed_frame_length_costs_only_the_bytes_sent`).
async fn read_bounded<T>(io: &mut T, max: usize) -> io::Result<Vec<u8>>
where
    T: futures::AsyncRead + Unpin + Send,
{
    use futures::AsyncReadExt;
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = usize::try_from(u32::from_be_bytes(len)).map_err(invalid)?;
    if len > max.min(network::MAX_MESSAGE_BYTES) {
        return Err(invalid(format!("frame of {len} bytes > {max}")));
    }
    let mut buf = Vec::new();
    while buf.len() < len {
        let start = buf.len();
        let step = READ_CHUNK.min(len - start);
        buf.try_reserve_exact(step).map_err(invalid)?;
        buf.resize(start + step, 0);
        io.read_exact(buf.get_mut(start..).unwrap_or_default())
            .await?;
    }
    Ok(buf)
}

#[async_trait::async_trait]
impl request_response::Codec for ShardCodec {
    type Protocol = StreamProtocol;
    type Request = ShardRequest;
    type Response = ShardResponse;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<ShardRequest>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        let frame = read_bounded(io, <ShardRequest as WireMessage>::MAX_ENCODED_LEN).await?;
        encoding::decode(&frame).map_err(invalid)
    }

    async fn read_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<ShardResponse>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        let frame = read_bounded(io, <ShardResponse as WireMessage>::MAX_ENCODED_LEN).await?;
        encoding::decode(&frame).map_err(invalid)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: ShardRequest,
    ) -> io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        let bytes = encoding::encode_to_vec(&req).map_err(invalid)?;
        network::write_frame(io, &bytes).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: ShardResponse,
    ) -> io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        let bytes = encoding::encode_to_vec(&res).map_err(invalid)?;
        network::write_frame(io, &bytes).await
    }
}

/// Why a storage node refused a put (stable codes on the wire and in errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Refusal {
    /// The node's byte quota would be exceeded.
    #[error("quota_full: the storage node's byte quota is used up")]
    QuotaFull,
    /// The writer's share of the quota would be exceeded.
    #[error("peer_quota_full: this writer's byte bound at the storage node is used up")]
    PeerQuotaFull,
    /// The sender is not bound or not a configured writer.
    #[error("not_authorised: the sender is not a writer of this storage node")]
    NotAuthorised,
    /// The shard does not match its record, or the record is malformed or conflicts
    /// with the one held for the block.
    #[error("mismatch: the shard does not match its key-index record")]
    Mismatch,
    /// The peer is not a storage node.
    #[error("not_storage: the peer is not a storage node")]
    NotStorage,
    /// The storage node failed to write (disk).
    #[error("internal: the storage node could not write")]
    Internal,
}

impl Refusal {
    /// The stable code (`quota_full`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::QuotaFull => "quota_full",
            Refusal::PeerQuotaFull => "peer_quota_full",
            Refusal::NotAuthorised => "not_authorised",
            Refusal::Mismatch => "mismatch",
            Refusal::NotStorage => "not_storage",
            Refusal::Internal => "internal",
        }
    }
}
