//! The libp2p stack, in the shape of malachite's network crate: one `NetworkBehaviour`
//! of gossipsub (consensus traffic, VALIDATE and transaction batches; anonymous, with
//! content-addressed message ids, SHA-256 per kind and topic ([`gossip_id`],
//! [`crate::gossip_id`]): every payload carries its own secp256k1 signatures, and who
//! sent a consensus message is decided by [`crate::attribution`]), request-response
//! (direct sends: catch-up VALIDATEs) and identify (which
//! carries the CPChain address binding, see [`crate::binding`]), over TCP + noise + yamux.

use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::NetworkBehaviour;
use libp2p::{
    allow_block_list, gossipsub, identify, kad, noise, tcp, yamux, StreamProtocol, Swarm,
};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use crate::frame::MAX_MESSAGE_BYTES;
pub(crate) use crate::frame::{read_frame, read_frame_bounded, write_frame};

/// The request-response protocol for direct LBFT sends.
pub const DIRECT_PROTOCOL: &str = "/cpchain/lbft/direct/1";

/// What the combined behaviour reports to the node loop.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Event {
    /// A gossipsub event (a received broadcast, subscriptions).
    Gossipsub(gossipsub::Event),
    /// A request-response event (a direct message, an ack, a failure).
    Direct(request_response::Event<Vec<u8>, Vec<u8>>),
    /// An identify event (carries the peer's binding).
    Identify(Box<identify::Event>),
    /// A block sync event (a request for blocks, or the blocks).
    Sync(request_response::Event<SyncRequest, SyncResponse>),
    /// A cfrag protocol event (issue 15: a kfrag delivery or cfrag request to a proxy, or
    /// a proxy's reply).
    Cfrag(request_response::Event<CfragFrame, CfragFrame>),
    /// A Kademlia event (routing table updates, query progress): storage nodes' DHT.
    Kad(Box<kad::Event>),
    /// A shard protocol event (`/cpchain/shard/1`): handled by [`crate::dht`].
    Shard(request_response::Event<crate::dht::ShardRequest, crate::dht::ShardResponse>),
}

impl From<request_response::Event<CfragFrame, CfragFrame>> for Event {
    fn from(e: request_response::Event<CfragFrame, CfragFrame>) -> Self {
        Event::Cfrag(e)
    }
}

impl From<kad::Event> for Event {
    fn from(e: kad::Event) -> Self {
        Event::Kad(Box::new(e))
    }
}

impl From<request_response::Event<crate::dht::ShardRequest, crate::dht::ShardResponse>> for Event {
    fn from(
        e: request_response::Event<crate::dht::ShardRequest, crate::dht::ShardResponse>,
    ) -> Self {
        Event::Shard(e)
    }
}

impl From<std::convert::Infallible> for Event {
    fn from(e: std::convert::Infallible) -> Self {
        match e {}
    }
}

impl From<request_response::Event<SyncRequest, SyncResponse>> for Event {
    fn from(e: request_response::Event<SyncRequest, SyncResponse>) -> Self {
        Event::Sync(e)
    }
}

impl From<gossipsub::Event> for Event {
    fn from(e: gossipsub::Event) -> Self {
        Event::Gossipsub(e)
    }
}

impl From<request_response::Event<Vec<u8>, Vec<u8>>> for Event {
    fn from(e: request_response::Event<Vec<u8>, Vec<u8>>) -> Self {
        Event::Direct(e)
    }
}

impl From<identify::Event> for Event {
    fn from(e: identify::Event) -> Self {
        Event::Identify(Box::new(e))
    }
}

/// The combined behaviour.
#[derive(NetworkBehaviour)]
#[behaviour(to_swarm = "Event")]
pub struct Behaviour {
    /// Broadcast of consensus messages.
    pub gossipsub: gossipsub::Behaviour,
    /// Direct sends.
    pub direct: request_response::Behaviour<BytesCodec>,
    /// Peer identification, carrying the address binding.
    pub identify: identify::Behaviour,
    /// Block sync.
    pub sync: request_response::Behaviour<SyncCodec>,
    /// Peers refused by the operator (the `blocked_peers` file: partitions in tests).
    pub blocked: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    /// Re-encryption proxies' protocol (issue 15; served only by a node with a `proxy`
    /// configuration and the `pre` feature, see `crate::proxy`).
    pub cfrag: request_response::Behaviour<CfragCodec>,
    /// Kademlia routing of the storage nodes (`/cpchain/kad/1`): server mode on storage
    /// nodes only, so the routing table holds storage nodes and nothing else (see
    /// [`crate::dht`]). Its record store is not used (inserts filtered): shards and
    /// key-index records go over [`SHARD_PROTOCOL`] into the bounded redb store.
    pub kad: kad::Behaviour<kad::store::MemoryStore>,
    /// The shard protocol (`/cpchain/shard/1`): put shard + record, get shard, get record.
    pub shard: request_response::Behaviour<crate::dht::ShardCodec>,
    /// Connection caps ([`connection_limits`]): every per-connection bound (16 shard
    /// streams of at most ~1 MiB each, request-response buffers, yamux windows) multiplies
    /// with the connections a peer or a crowd of strangers may open, so they are capped.
    pub limits: libp2p::connection_limits::Behaviour,
}

/// At most this many established connections with one peer (two: both sides may dial at
/// once; a third is denied before any protocol runs).
pub const MAX_CONNECTIONS_PER_PEER: u32 = 2;

/// At most this many incoming connections established at once (bound or not).
pub const MAX_INCOMING_CONNECTIONS: u32 = 256;

/// At most this many incoming connections still handshaking (noise, yamux) at once.
pub const MAX_PENDING_INCOMING: u32 = 64;

/// The caps of [`Behaviour::limits`].
pub fn connection_limits() -> libp2p::connection_limits::ConnectionLimits {
    libp2p::connection_limits::ConnectionLimits::default()
        .with_max_established_per_peer(Some(MAX_CONNECTIONS_PER_PEER))
        .with_max_established_incoming(Some(MAX_INCOMING_CONNECTIONS))
        .with_max_pending_incoming(Some(MAX_PENDING_INCOMING))
}

/// The request-response protocol of re-encryption proxies: kfrag deliveries and cfrag
/// requests in, signed cfrags or refusals out (encodings in `crate::proxy`, feature `pre`).
pub const CFRAG_PROTOCOL: &str = "/cpchain/cfrag/1";

/// Largest cfrag-protocol request frame: a kfrag delivery of the largest grant fits
/// (`crate::proxy` checks this at compile time).
pub const CFRAG_MAX_REQUEST_BYTES: usize = 16 * 1024;

/// Largest cfrag-protocol reply frame: a signed cfrag fits (checked at compile time in
/// `crate::proxy`).
pub const CFRAG_MAX_REPLY_BYTES: usize = 4 * 1024;

/// One encoded cfrag-protocol message (a `crate::proxy::CfragRequest` or `CfragReply`).
/// The bytes are not interpreted by the network layer, only bounded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CfragFrame(pub Vec<u8>);

/// Codec of the cfrag protocol: one length-prefixed frame each way, refused before any
/// allocation when longer than [`CFRAG_MAX_REQUEST_BYTES`] / [`CFRAG_MAX_REPLY_BYTES`].
#[derive(Debug, Clone, Default)]
pub struct CfragCodec;

#[async_trait::async_trait]
impl request_response::Codec for CfragCodec {
    type Protocol = StreamProtocol;
    type Request = CfragFrame;
    type Response = CfragFrame;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<CfragFrame>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        read_frame_bounded(io, CFRAG_MAX_REQUEST_BYTES)
            .await
            .map(CfragFrame)
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<CfragFrame>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        read_frame_bounded(io, CFRAG_MAX_REPLY_BYTES)
            .await
            .map(CfragFrame)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: CfragFrame,
    ) -> io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        write_frame(io, &req.0).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: CfragFrame,
    ) -> io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        write_frame(io, &res.0).await
    }
}

/// Concurrent cfrag-protocol streams per connection (libp2p's default is 100): with
/// [`CFRAG_MAX_REQUEST_BYTES`] frames, at most 256 KiB of request frames per peer.
pub const CFRAG_STREAMS: usize = 16;

/// The cfrag protocol's behaviour: `Full` support (a node without a proxy service answers
/// nothing; the requester's request times out), 10 s per request, [`CFRAG_STREAMS`]
/// streams per connection.
pub fn cfrag_behaviour() -> request_response::Behaviour<CfragCodec> {
    request_response::Behaviour::with_codec(
        CfragCodec,
        [(StreamProtocol::new(CFRAG_PROTOCOL), ProtocolSupport::Full)],
        request_response::Config::default()
            .with_request_timeout(Duration::from_secs(10))
            .with_max_concurrent_streams(CFRAG_STREAMS),
    )
}

/// The Kademlia protocol name of CPChain storage nodes (not the public IPFS DHT's).
pub const KAD_PROTOCOL: &str = "/cpchain/kad/1";

/// The shard request-response protocol.
pub const SHARD_PROTOCOL: &str = "/cpchain/shard/1";

/// The block sync protocol.
pub const SYNC_PROTOCOL: &str = "/cpchain/sync/1";

/// Most blocks in one sync response.
pub const SYNC_MAX_BLOCKS: u32 = 64;

/// Body bytes after which a sync response stops adding blocks (it stays under
/// [`MAX_MESSAGE_BYTES`] since one block with its certificate is at most ~1.1 MiB).
pub const SYNC_SOFT_BYTES: usize = 512 * 1024;

/// "Send me up to `max` blocks from height `from`."
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncRequest {
    /// First height wanted.
    pub from: u64,
    /// Most blocks wanted (the server caps it at [`SYNC_MAX_BLOCKS`]).
    pub max: u32,
}

/// Encoded VALIDATEs (block + C-certificate) in height order; empty if none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncResponse(pub Vec<Vec<u8>>);

/// Codec of the sync protocol: a 12-byte request; a response of length-prefixed blocks,
/// the whole bounded by [`MAX_MESSAGE_BYTES`] and at most [`SYNC_MAX_BLOCKS`] entries.
#[derive(Debug, Clone, Default)]
pub struct SyncCodec;

fn bad(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

#[async_trait::async_trait]
impl request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = SyncRequest;
    type Response = SyncResponse;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SyncRequest>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        let frame = read_frame(io).await?;
        let (from, max) = frame
            .split_at_checked(8)
            .ok_or_else(|| bad("short sync request"))?;
        let from = u64::from_le_bytes(from.try_into().map_err(|_| bad("sync request"))?);
        let max = u32::from_le_bytes(max.try_into().map_err(|_| bad("sync request"))?);
        Ok(SyncRequest { from, max })
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SyncResponse>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        let frame = read_frame(io).await?;
        let mut rest = frame.as_slice();
        let mut blocks = Vec::new();
        while !rest.is_empty() {
            if blocks.len() >= SYNC_MAX_BLOCKS as usize {
                return Err(bad("too many blocks"));
            }
            let (len, tail) = rest
                .split_at_checked(4)
                .ok_or_else(|| bad("short length"))?;
            let len = u32::from_be_bytes(len.try_into().map_err(|_| bad("length"))?) as usize;
            let (block, tail) = tail
                .split_at_checked(len)
                .ok_or_else(|| bad("short block"))?;
            blocks.push(block.to_vec());
            rest = tail;
        }
        Ok(SyncResponse(blocks))
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: SyncRequest,
    ) -> io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        let mut frame = req.from.to_le_bytes().to_vec();
        frame.extend_from_slice(&req.max.to_le_bytes());
        write_frame(io, &frame).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: SyncResponse,
    ) -> io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        let mut frame = Vec::new();
        for b in res.0 {
            let len = u32::try_from(b.len()).map_err(|_| bad("block too large"))?;
            frame.extend_from_slice(&len.to_be_bytes());
            frame.extend_from_slice(&b);
        }
        write_frame(io, &frame).await
    }
}

/// Length-prefixed raw bytes (u32 big-endian length, then the bytes), bounded by
/// [`MAX_MESSAGE_BYTES`] before anything is allocated. The response is empty (an ack).
#[derive(Debug, Clone, Default)]
pub struct BytesCodec;

#[async_trait::async_trait]
impl request_response::Codec for BytesCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        read_frame(io).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        read_frame(io).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Vec<u8>,
    ) -> io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        write_frame(io, &req).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Vec<u8>,
    ) -> io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        write_frame(io, &res).await
    }
}

/// The gossipsub message id of `data` published on `topic` (the topic's string):
/// SHA-256 under a domain per kind, bound to the topic ([`crate::gossip_id`]). For a
/// whole VALIDATE the id of its block ([`validate_gossip_id`]); for a compact VALIDATE
/// another id of its block ([`crate::compact::gossip_id`]); for anything else the hash of
/// the whole message, so a message re-sent after a restart is one message. Deterministic:
/// every node computes the same id for the same message; ids are local to gossipsub
/// (never signed, stored or handed to the engine), so nodes whose versions compute other
/// ids still agree on blocks (see [`crate::gossip_id`] for what mixing costs).
pub fn gossip_id(topic: &str, data: &[u8]) -> cpchain_core::Hash {
    validate_gossip_id(topic, data)
        .or_else(|| crate::compact::gossip_id(topic, data))
        .unwrap_or_else(|| crate::gossip_id::hash(crate::gossip_id::Kind::Message, topic, data))
}

fn message_id(m: &gossipsub::Message) -> gossipsub::MessageId {
    gossipsub::MessageId::new(&gossip_id(m.topic.as_str(), &m.data).0)
}

/// How a node relays gossip: the one choice that decides how many copies of each
/// message every node receives (and hashes for its id, and decrypts, and parses).
///
/// * `mesh` (the default): gossipsub's mesh (degree 3, at most 12) forwards every
///   message it delivers, as well as the publisher flooding it to every subscribed peer.
///   Right for any topology (a node reached only through others, validators behind NAT
///   that cannot dial each other, followers behind one validator), at the price of
///   copies: at n = 4 with every validator connected to every other one, each node
///   received about 3 copies of each transaction batch and each proposal (issue 14).
/// * `direct`: no mesh (degree 0; GRAFTs are answered with PRUNE), so a node forwards
///   nothing eagerly; its own messages still reach every peer connected to it at once
///   (flood publish), and what it has seen is still announced to its peers every
///   heartbeat (IHAVE, fetched by IWANT within about 1-2 heartbeats) as the fallback.
///   Right for the validators of a committee that dial each other (every validator has
///   every other one in `peers`; the devnet writes this for its validators): each
///   validator then receives each message exactly once, from the node that published it.
///   NOT right where a validator can reach another only through a third one (NAT, a
///   partial `peers` list): its consensus messages would wait for the IHAVE round trip
///   (500 ms heartbeats) on every hop, longer than a block period. Followers and proposer
///   RNodes may run either; one that dials every validator receives every message
///   directly in either mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GossipMode {
    /// Gossipsub's mesh forwards every message (any topology).
    #[default]
    Mesh,
    /// No eager forwarding: publishers reach their direct peers, IHAVE/IWANT the rest.
    Direct,
}

/// Per-topic gossip counts of one swarm: the copies received (every one costs a message
/// id, noise decryption, yamux and protobuf parsing) against the messages delivered (the
/// unique ones the node acts on). Their ratio is the copies per message the node paid for.
#[derive(Debug, Default)]
pub struct GossipCounters {
    lbft: TopicCounters,
    tx: TopicCounters,
}

#[derive(Debug, Default)]
struct TopicCounters {
    /// Message ids computed: one per received copy and one per publish attempt.
    ids: AtomicU64,
    /// Publish attempts (each computes an id without a copy being received).
    published: AtomicU64,
    /// Messages delivered to the node (first copies).
    delivered: AtomicU64,
}

/// A snapshot of one topic's [`GossipCounters`] (in the status file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GossipCount {
    /// Copies received from peers (duplicates included).
    pub copies: u64,
    /// Messages delivered (unique).
    pub delivered: u64,
}

impl GossipCounters {
    fn topic(&self, topic: &gossipsub::TopicHash) -> Option<&TopicCounters> {
        let t = topic.as_str();
        if t.ends_with("/lbft") {
            Some(&self.lbft)
        } else if t.ends_with("/tx") {
            Some(&self.tx)
        } else {
            None
        }
    }

    /// Count a delivered message (call on every `gossipsub::Event::Message`).
    pub fn delivered(&self, topic: &gossipsub::TopicHash) {
        if let Some(c) = self.topic(topic) {
            c.delivered.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Publish `data` on `topic`, counted (so that publishes are not taken for copies).
    pub fn publish(
        &self,
        swarm: &mut Swarm<Behaviour>,
        topic: &gossipsub::IdentTopic,
        data: Vec<u8>,
    ) -> Result<gossipsub::MessageId, gossipsub::PublishError> {
        if let Some(c) = self.topic(&topic.hash()) {
            c.published.fetch_add(1, Ordering::Relaxed);
        }
        swarm.behaviour_mut().gossipsub.publish(topic.clone(), data)
    }

    fn snapshot(c: &TopicCounters) -> GossipCount {
        let ids = c.ids.load(Ordering::Relaxed);
        GossipCount {
            copies: ids.saturating_sub(c.published.load(Ordering::Relaxed)),
            delivered: c.delivered.load(Ordering::Relaxed),
        }
    }

    /// The consensus topic's counts.
    pub fn lbft(&self) -> GossipCount {
        Self::snapshot(&self.lbft)
    }

    /// The transaction topic's counts.
    pub fn tx(&self) -> GossipCount {
        Self::snapshot(&self.tx)
    }
}

/// The gossip id of an encoded VALIDATE on `topic`: SHA-256 of its block's id under the
/// VALIDATE domain ([`crate::gossip_id::Kind::Validate`]), the id read from the header at
/// the front of the encoding (the body and certificate are not hashed). Every validator
/// broadcasts the VALIDATE of each block it decides (§2.4.2), each
/// with its own certificate, so without this a node received and hashed `n − 1` copies of
/// every block (up to 1 MiB each) per height; with it gossipsub delivers the first copy
/// and drops the others as duplicates (and IDONTWANT stops most from being sent). The
/// cost: a copy with a bad certificate, if it comes first, suppresses the good ones at
/// that node; validators decide from their own COMMIT votes, and a node left behind
/// catches up from its peers (engine catch-up, block sync), so only the shortcut is lost.
/// `None` for anything that is not a VALIDATE.
pub fn validate_gossip_id(topic: &str, data: &[u8]) -> Option<cpchain_core::Hash> {
    use cpchain_core::WireMessage;
    const VALIDATE_VARIANT: u8 = 4;
    let (head, rest) = data.split_at_checked(4)?;
    let tag = <cpchain_consensus::lbft::Message as WireMessage>::TAG.to_be_bytes();
    if head
        != [
            cpchain_core::encoding::WIRE_VERSION,
            tag[0],
            tag[1],
            VALIDATE_VARIANT,
        ]
    {
        return None;
    }
    let (header, _) = postcard::take_from_bytes::<cpchain_consensus::lbft::Header>(rest).ok()?;
    Some(crate::gossip_id::hash(
        crate::gossip_id::Kind::Validate,
        topic,
        &header.id().0,
    ))
}

/// Subscribe to the chain's two gossip topics (consensus traffic, transactions) and return
/// them in that order: every role listens to both, so they are named in one place.
pub fn subscribe_topics(
    swarm: &mut Swarm<Behaviour>,
    chain_id: u64,
) -> Result<(gossipsub::IdentTopic, gossipsub::IdentTopic), String> {
    let topic = gossipsub::IdentTopic::new(format!("/cpchain/{chain_id}/lbft"));
    let tx_topic = gossipsub::IdentTopic::new(format!("/cpchain/{chain_id}/tx"));
    for t in [&topic, &tx_topic] {
        swarm
            .behaviour_mut()
            .gossipsub
            .subscribe(t)
            .map_err(|e| format!("subscribe: {e}"))?;
    }
    Ok((topic, tx_topic))
}

/// Build the swarm for `keypair`, announcing `agent_version` (the binding), relaying
/// gossip in [`GossipMode::Mesh`].
pub fn swarm(
    keypair: libp2p::identity::Keypair,
    agent_version: String,
) -> Result<Swarm<Behaviour>, String> {
    swarm_with(keypair, agent_version, GossipMode::Mesh).map(|(s, _)| s)
}

/// The gossipsub configuration of `mode` (see [`GossipMode`]); `counters` count every
/// message id computed, by topic.
fn gossip_config(
    mode: GossipMode,
    counters: Arc<GossipCounters>,
) -> Result<gossipsub::Config, String> {
    // (mesh_outbound_min, mesh_n_low, mesh_n, mesh_n_high)
    let (outbound, low, n, high) = match mode {
        GossipMode::Mesh => (1, 1, 3, 12),
        GossipMode::Direct => (0, 0, 0, 0),
    };
    gossipsub::ConfigBuilder::default()
        .max_transmit_size(MAX_MESSAGE_BYTES)
        .heartbeat_interval(Duration::from_millis(500))
        // No author, sequence number or ed25519 signature on a message, and none accepted:
        // the payloads authenticate themselves (see `crate::attribution`).
        .validation_mode(gossipsub::ValidationMode::Anonymous)
        .message_id_fn(move |m: &gossipsub::Message| {
            // Called once per received copy and once per publish (gossipsub 0.49).
            if let Some(c) = counters.topic(&m.topic) {
                c.ids.fetch_add(1, Ordering::Relaxed);
            }
            message_id(m)
        })
        .mesh_n_low(low)
        .mesh_n(n)
        .mesh_outbound_min(outbound)
        .mesh_n_high(high)
        .flood_publish(true)
        .build()
        .map_err(|e| format!("gossipsub config: {e}"))
}

/// [`swarm`] relaying gossip in `mode`, with its gossip counters.
pub fn swarm_with(
    keypair: libp2p::identity::Keypair,
    agent_version: String,
    mode: GossipMode,
) -> Result<(Swarm<Behaviour>, Arc<GossipCounters>), String> {
    let counters = Arc::new(GossipCounters::default());
    let gcfg = gossip_config(mode, counters.clone())?;
    let builder = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| format!("transport: {e}"))?;
    let built = builder
        .with_behaviour(|key| {
            let gossipsub =
                gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Anonymous, gcfg)?;
            let direct = request_response::Behaviour::with_codec(
                BytesCodec,
                [(StreamProtocol::new(DIRECT_PROTOCOL), ProtocolSupport::Full)],
                request_response::Config::default().with_request_timeout(Duration::from_secs(5)),
            );
            let identify = identify::Behaviour::new(
                identify::Config::new("/cpchain/node/1".into(), key.public())
                    .with_agent_version(agent_version),
            );
            let sync = request_response::Behaviour::with_codec(
                SyncCodec,
                [(StreamProtocol::new(SYNC_PROTOCOL), ProtocolSupport::Full)],
                request_response::Config::default().with_request_timeout(Duration::from_secs(10)),
            );
            let peer = key.public().to_peer_id();
            let mut kcfg = kad::Config::new(StreamProtocol::new(KAD_PROTOCOL));
            kcfg.set_record_filtering(kad::StoreInserts::FilterBoth)
                .set_query_timeout(Duration::from_secs(10))
                .set_periodic_bootstrap_interval(Some(Duration::from_secs(30)));
            let mut kad =
                kad::Behaviour::with_config(peer, kad::store::MemoryStore::new(peer), kcfg);
            // Client until the node says it is a storage node (`dht::service`).
            kad.set_mode(Some(kad::Mode::Client));
            let shard = request_response::Behaviour::with_codec(
                crate::dht::ShardCodec,
                [(StreamProtocol::new(SHARD_PROTOCOL), ProtocolSupport::Full)],
                request_response::Config::default()
                    .with_request_timeout(crate::dht::SHARD_REQUEST_TIMEOUT)
                    .with_max_concurrent_streams(crate::dht::SHARD_STREAMS),
            );
            Ok(Behaviour {
                gossipsub,
                direct,
                identify,
                sync,
                blocked: allow_block_list::Behaviour::default(),
                cfrag: cfrag_behaviour(),
                kad,
                shard,
                limits: libp2p::connection_limits::Behaviour::new(connection_limits()),
            })
        })
        .map_err(|e| format!("behaviour: {e}"))?;
    Ok((
        built
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
            .build(),
        counters,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpchain_consensus::lbft::{Block, Certificate, Header, Message, Validate, VoteKind};
    use cpchain_core::{encoding::encode_to_vec, ChainSpec, Height, Timestamp};
    use cpchain_crypto::SecretKey;

    const LBFT: &str = "/cpchain/41/lbft";
    const TX: &str = "/cpchain/41/tx";

    /// The id gossipsub computes for `data` received on `topic`.
    fn id_on(topic: &str, data: &[u8]) -> gossipsub::MessageId {
        message_id(&gossipsub::Message {
            source: None,
            data: data.to_vec(),
            sequence_number: None,
            topic: gossipsub::TopicHash::from_raw(topic),
        })
    }

    /// A signed block of `txs` transactions at height 1, its id and its encodings: the
    /// PRE-PREPARE, two validators' whole VALIDATEs (other certificates), and the compact
    /// VALIDATE.
    type Messages = (cpchain_core::Hash, Vec<u8>, [Vec<u8>; 2], Vec<u8>);
    fn block_messages(txs: usize) -> Messages {
        let spec = ChainSpec::devnet();
        let genesis = Header::genesis(&spec, Timestamp(0));
        let key = SecretKey::from_bytes(&[9; 32]).expect("scalar");
        let block = Block::propose(
            &spec,
            &genesis,
            &key,
            key.public_key().address(),
            Timestamp(3_000),
            (0..txs).map(|i| vec![i as u8; 200]).collect(),
        );
        let validate = |round| Validate {
            block: block.clone(),
            certificate: Certificate {
                kind: VoteKind::Commit,
                height: Height(1),
                round,
                block: block.id(),
                signatures: Vec::new(),
            },
        };
        let whole = |round| encode_to_vec(&Message::Validate(validate(round))).expect("encodes");
        (
            block.id(),
            encode_to_vec(&Message::PrePrepare(block.clone())).expect("encodes"),
            [whole(0), whole(1)],
            encode_to_vec(&crate::compact::CompactValidate::of(&validate(0))).expect("encodes"),
        )
    }

    /// Issue 14 (SHA-256 ids): the id of a message is the same on every call (every node
    /// computes it alone), for every kind, and is what gossipsub is handed.
    #[test]
    fn gossip_ids_are_stable_across_calls() {
        let (_, pre, [v, _], compact) = block_messages(3);
        let batch = crate::ingest::encode_batch(&[vec![7; 200], vec![8; 200]]);
        for (topic, m) in [(LBFT, &pre), (LBFT, &v), (LBFT, &compact), (TX, &batch)] {
            let id = gossip_id(topic, m);
            assert_eq!(gossip_id(topic, m), id);
            assert_eq!(gossip_id(topic, &m.clone()), id, "from other memory");
            assert_eq!(id_on(topic, m), gossipsub::MessageId::new(&id.0));
        }
        // Pinned: a whole message's id is SHA-256 of the domain and topic, each with its
        // length, then the message (a change here splits the network's duplicate caches).
        let d = b"cpchain-node/gossip-id/sha256/message/v1";
        let mut input = vec![d.len() as u8];
        input.extend_from_slice(d);
        input.extend_from_slice(&(TX.len() as u64).to_le_bytes());
        input.extend_from_slice(TX.as_bytes());
        input.extend_from_slice(&batch);
        use sha2::Digest;
        assert_eq!(
            gossip_id(TX, &batch).0,
            <[u8; 32]>::from(sha2::Sha256::digest(&input))
        );
    }

    /// Issue 14: ids of different kinds (whole message, VALIDATE, compact VALIDATE) never
    /// coincide, even over the same 32 content bytes, and the same bytes on another topic
    /// are another message. The old Keccak ids ignored the topic (gossipsub's duplicate
    /// cache is one for all topics), so a copy on the transaction topic suppressed the
    /// consensus one: this test fails on a90933b.
    #[test]
    fn gossip_ids_differ_by_kind_and_topic() {
        use crate::gossip_id::{hash, Kind};
        let (block, pre, [v, _], compact) = block_messages(3);
        let id = block.0;
        let kinds = [
            hash(Kind::Message, LBFT, &id),
            hash(Kind::Validate, LBFT, &id),
            hash(Kind::CompactValidate, LBFT, &id),
        ];
        assert_ne!(kinds[0], kinds[1]);
        assert_ne!(kinds[0], kinds[2]);
        assert_ne!(kinds[1], kinds[2]);
        assert_eq!(
            gossip_id(LBFT, &v),
            kinds[1],
            "a VALIDATE's id is its block's"
        );
        assert_eq!(gossip_id(LBFT, &compact), kinds[2]);
        assert_eq!(
            gossip_id(LBFT, &id),
            kinds[0],
            "32 bytes are a whole message"
        );
        for m in [&pre, &v, &compact] {
            assert_ne!(
                id_on(LBFT, m),
                id_on(TX, m),
                "another topic, another message"
            );
            assert_ne!(
                id_on(LBFT, m),
                id_on("/cpchain/42/lbft", m),
                "another chain"
            );
        }
    }

    /// Issue 14: different messages have different ids (a PRE-PREPARE, each transaction
    /// batch, one byte changed anywhere in a 1 MiB proposal), and only the VALIDATEs of
    /// one block share one.
    #[test]
    fn gossip_ids_differ_for_different_messages() {
        let (_, pre, [v0, v1], compact) = block_messages(5_200);
        assert!(pre.len() > 1 << 20, "a 1 MiB proposal: {}", pre.len());
        let ids = [&pre, &v0, &compact].map(|m| gossip_id(LBFT, m));
        assert_ne!(ids[0], ids[1]);
        assert_ne!(ids[0], ids[2]);
        assert_ne!(ids[1], ids[2]);
        assert_eq!(gossip_id(LBFT, &v1), ids[1], "per block, not per copy");
        for at in [0, pre.len() / 2, pre.len() - 1] {
            let mut other = pre.clone();
            other[at] ^= 1;
            assert_ne!(gossip_id(LBFT, &other), ids[0], "byte {at} changed");
        }
        let mut seen = std::collections::HashSet::new();
        for i in 0..1_000u32 {
            let batch = crate::ingest::encode_batch(&[i.to_be_bytes().to_vec()]);
            assert!(seen.insert(gossip_id(TX, &batch)), "batch {i}");
        }
        let (_, other_pre, [other_v, _], other_compact) = block_messages(6);
        assert_ne!(gossip_id(LBFT, &other_pre), ids[0]);
        assert_ne!(gossip_id(LBFT, &other_v), ids[1], "another block");
        assert_ne!(gossip_id(LBFT, &other_compact), ids[2], "another block");
    }

    #[test]
    fn validates_of_one_block_share_a_gossip_id_and_other_messages_do_not() {
        let spec = ChainSpec::devnet();
        let genesis = Header::genesis(&spec, Timestamp(0));
        let key = SecretKey::from_bytes(&[9; 32]).expect("scalar");
        let block = Block::propose(
            &spec,
            &genesis,
            &key,
            key.public_key().address(),
            Timestamp(3_000),
            vec![vec![1, 2, 3]],
        );
        let cert = |round| Certificate {
            kind: VoteKind::Commit,
            height: Height(1),
            round,
            block: block.id(),
            signatures: Vec::new(),
        };
        let v = |round| {
            encode_to_vec(&Message::Validate(Validate {
                block: block.clone(),
                certificate: cert(round),
            }))
            .expect("encodes")
        };
        let (a, b) = (v(0), v(1));
        assert_ne!(a, b, "two validators' copies differ");
        let id = validate_gossip_id(LBFT, &a).expect("a VALIDATE");
        assert_eq!(validate_gossip_id(LBFT, &b), Some(id));
        let pre = encode_to_vec(&Message::PrePrepare(block.clone())).expect("encodes");
        assert_eq!(validate_gossip_id(LBFT, &pre), None);
        assert_eq!(validate_gossip_id(LBFT, &a[..10]), None, "truncated");
        assert_eq!(validate_gossip_id(LBFT, &[]), None);
        // The compact form of the same VALIDATE has another id, so a whole VALIDATE (an
        // older node's) is never suppressed by a compact one (`crate::compact`).
        let compact = encode_to_vec(&crate::compact::CompactValidate::of(&Validate {
            block: block.clone(),
            certificate: cert(0),
        }))
        .expect("encodes");
        let cid = crate::compact::gossip_id(LBFT, &compact).expect("a compact VALIDATE");
        assert_ne!(cid, id);
        assert_eq!(validate_gossip_id(LBFT, &compact), None);
    }

    /// Three swarms in `mode` with the connections `links` (dialer, listener), all on
    /// the transaction topic; once every link's subscriptions are known and the first
    /// heartbeat has passed (the mesh, if any, formed), node 0 publishes `count`
    /// distinct 2 KB messages; after `settle`, every node's transaction-topic counts.
    fn gossip_counts(
        mode: GossipMode,
        links: &[(usize, usize)],
        count: usize,
        settle: Duration,
    ) -> Vec<GossipCount> {
        use futures::StreamExt;
        use libp2p::swarm::SwarmEvent;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let mut nodes: Vec<(Swarm<Behaviour>, Arc<GossipCounters>)> = (0..3)
                .map(|i| {
                    swarm_with(
                        libp2p::identity::Keypair::generate_ed25519(),
                        format!("n{i}"),
                        mode,
                    )
                    .expect("swarm")
                })
                .collect();
            let topic = gossipsub::IdentTopic::new("/cpchain/41/tx");
            let mut addrs = Vec::new();
            for (s, _) in nodes.iter_mut() {
                s.behaviour_mut()
                    .gossipsub
                    .subscribe(&topic)
                    .expect("subscribe");
                s.listen_on("/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr"))
                    .expect("listen");
                let addr = loop {
                    if let SwarmEvent::NewListenAddr { address, .. } = s.select_next_some().await {
                        break address;
                    }
                };
                addrs.push(addr);
            }
            for &(from, to) in links {
                let (peer, addr) = (*nodes[to].0.local_peer_id(), addrs[to].clone());
                nodes[from]
                    .0
                    .dial(
                        libp2p::swarm::dial_opts::DialOpts::peer_id(peer)
                            .addresses(vec![addr])
                            .build(),
                    )
                    .expect("dial");
            }
            // Drive every swarm for `d`, counting subscriptions seen.
            async fn drive(
                nodes: &mut [(Swarm<Behaviour>, Arc<GossipCounters>)],
                d: Duration,
                subscribed: &mut usize,
            ) {
                let deadline = tokio::time::Instant::now() + d;
                let [(a, ca), (b, cb), (c, cc)] = nodes else {
                    panic!("three nodes")
                };
                loop {
                    let ev = tokio::select! {
                        ev = a.select_next_some() => (ev, &*ca),
                        ev = b.select_next_some() => (ev, &*cb),
                        ev = c.select_next_some() => (ev, &*cc),
                        _ = tokio::time::sleep_until(deadline) => break,
                    };
                    match ev {
                        (
                            SwarmEvent::Behaviour(Event::Gossipsub(gossipsub::Event::Message {
                                message,
                                ..
                            })),
                            counters,
                        ) => counters.delivered(&message.topic),
                        (
                            SwarmEvent::Behaviour(Event::Gossipsub(gossipsub::Event::Subscribed {
                                ..
                            })),
                            _,
                        ) => *subscribed += 1,
                        _ => {}
                    }
                }
            }
            let mut subscribed = 0;
            for _ in 0..50 {
                if subscribed >= 2 * links.len() {
                    break;
                }
                drive(&mut nodes, Duration::from_millis(100), &mut subscribed).await;
            }
            assert_eq!(
                subscribed,
                2 * links.len(),
                "every link's subscriptions seen"
            );
            // Gossipsub's first heartbeat (the mesh, IHAVE) comes 5 s after start.
            drive(&mut nodes, Duration::from_millis(5_600), &mut subscribed).await;
            for i in 0..count {
                let (s, c) = &mut nodes[0];
                c.publish(s, &topic, vec![i as u8; 2_048])
                    .expect("published");
            }
            drive(&mut nodes, settle, &mut subscribed).await;
            nodes.iter().map(|(_, c)| c.tx()).collect()
        })
    }

    /// Issue 14: validators that dial each other receive each gossip message once in
    /// `direct` mode (from its publisher), where gossipsub's mesh (`mesh` mode) makes each
    /// relay it again, so that a node of three receives it twice.
    #[test]
    fn fully_connected_nodes_receive_each_gossip_message_once_in_direct_mode() {
        let full = [(0, 1), (0, 2), (1, 2)];
        let direct = gossip_counts(GossipMode::Direct, &full, 20, Duration::from_millis(1_000));
        for c in &direct[1..] {
            assert_eq!(
                *c,
                GossipCount {
                    copies: 20,
                    delivered: 20
                },
                "{direct:?}"
            );
        }
        assert_eq!(
            direct[0],
            GossipCount {
                copies: 0,
                delivered: 0
            }
        );
        let mesh = gossip_counts(GossipMode::Mesh, &full, 20, Duration::from_millis(1_000));
        for c in &mesh[1..] {
            assert_eq!(c.delivered, 20, "{mesh:?}");
        }
        let copies: u64 = mesh[1..].iter().map(|c| c.copies).sum();
        assert!(copies > 40, "the mesh relays copies: {mesh:?}");
    }

    /// The fallback of `direct` mode: a node connected only to a relay (a follower behind
    /// one validator) still receives every message, by the relay's IHAVE and its IWANT.
    #[test]
    fn direct_mode_reaches_a_node_two_hops_away_by_ihave() {
        let line = [(0, 1), (2, 1)];
        let counts = gossip_counts(GossipMode::Direct, &line, 5, Duration::from_millis(3_000));
        assert_eq!(
            counts[1],
            GossipCount {
                copies: 5,
                delivered: 5
            },
            "{counts:?}"
        );
        assert_eq!(counts[2].delivered, 5, "two hops away: {counts:?}");
    }

    /// Issue 14: the bytes of a consensus message sent first on the transaction topic do
    /// not suppress the consensus topic's copy. Gossipsub keeps one duplicate cache for
    /// all topics, so with the Keccak ids (content only, a90933b) the second publish was
    /// refused as a duplicate and the receiver never saw the consensus message.
    #[test]
    fn a_copy_on_another_topic_does_not_suppress_the_consensus_message() {
        use futures::StreamExt;
        use libp2p::swarm::SwarmEvent;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let new = |name: &str| {
                swarm_with(
                    libp2p::identity::Keypair::generate_ed25519(),
                    name.into(),
                    GossipMode::Direct,
                )
                .expect("swarm")
            };
            let ((mut a, ca), (mut b, cb)) = (new("a"), new("b"));
            let lbft = gossipsub::IdentTopic::new(LBFT);
            let tx = gossipsub::IdentTopic::new(TX);
            for s in [&mut a, &mut b] {
                for t in [&lbft, &tx] {
                    s.behaviour_mut().gossipsub.subscribe(t).expect("subscribe");
                }
            }
            b.listen_on("/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr"))
                .expect("listen");
            let addr = loop {
                if let SwarmEvent::NewListenAddr { address, .. } = b.select_next_some().await {
                    break address;
                }
            };
            a.dial(addr).expect("dial");
            // Until `a` knows both of `b`'s subscriptions (bounded: 10 s).
            let mut subscribed = 0;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            while subscribed < 2 {
                tokio::select! {
                    ev = a.select_next_some() => {
                        if let SwarmEvent::Behaviour(Event::Gossipsub(
                            gossipsub::Event::Subscribed { .. },
                        )) = ev
                        {
                            subscribed += 1;
                        }
                    }
                    _ = b.select_next_some() => {}
                    _ = tokio::time::sleep_until(deadline) => panic!("no subscriptions"),
                }
            }
            let (_, pre, _, _) = block_messages(3);
            ca.publish(&mut a, &tx, pre.clone())
                .expect("on the tx topic");
            ca.publish(&mut a, &lbft, pre.clone())
                .expect("on the consensus topic: not a duplicate");
            let mut got = Vec::new();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
            loop {
                tokio::select! {
                    _ = a.select_next_some() => {}
                    ev = b.select_next_some() => {
                        if let SwarmEvent::Behaviour(Event::Gossipsub(gossipsub::Event::Message {
                            message,
                            ..
                        })) = ev
                        {
                            cb.delivered(&message.topic);
                            got.push((message.topic.to_string(), message.data == pre));
                        }
                    }
                    _ = tokio::time::sleep_until(deadline) => break,
                }
            }
            got.sort();
            assert_eq!(
                got,
                vec![(LBFT.to_string(), true), (TX.to_string(), true)],
                "both copies delivered, each on its topic"
            );
            assert_eq!(cb.lbft().delivered, 1);
        });
    }

    /// A peer that dials a node again and again gets two connections, never a third: the
    /// per-connection bounds (shard streams, buffers) multiply by at most two per peer.
    #[test]
    fn a_third_connection_from_one_peer_is_denied() {
        use futures::StreamExt;
        use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
        use libp2p::swarm::SwarmEvent;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let mut a =
                swarm(libp2p::identity::Keypair::generate_ed25519(), "a".into()).expect("swarm a");
            let mut b =
                swarm(libp2p::identity::Keypair::generate_ed25519(), "b".into()).expect("swarm b");
            a.listen_on("/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr"))
                .expect("listen");
            let addr = loop {
                if let SwarmEvent::NewListenAddr { address, .. } = a.select_next_some().await {
                    break address;
                }
            };
            let a_id = *a.local_peer_id();
            for _ in 0..3 {
                b.dial(
                    DialOpts::peer_id(a_id)
                        .addresses(vec![addr.clone()])
                        .condition(PeerCondition::Always)
                        .build(),
                )
                .expect("dial");
            }
            // Drive both for a bounded 5 s: every dial resolves well within it on loopback.
            let (mut open, mut most, mut denied) = (0u32, 0u32, 0u32);
            let deadline = tokio::time::sleep(Duration::from_secs(5));
            tokio::pin!(deadline);
            loop {
                tokio::select! {
                    ev = b.select_next_some() => {
                        if let SwarmEvent::OutgoingConnectionError { .. } = ev {
                            denied += 1;
                        }
                    }
                    ev = a.select_next_some() => match ev {
                        SwarmEvent::ConnectionEstablished { .. } => {
                            open += 1;
                            most = most.max(open);
                        }
                        SwarmEvent::ConnectionClosed { .. } => open = open.saturating_sub(1),
                        SwarmEvent::IncomingConnectionError { .. } => denied += 1,
                        _ => {}
                    },
                    _ = &mut deadline => break,
                }
            }
            assert!(
                (1..=MAX_CONNECTIONS_PER_PEER).contains(&most),
                "at most {MAX_CONNECTIONS_PER_PEER} connections with one peer, saw {most}"
            );
            assert!(denied >= 1, "the third dial is denied");
        });
    }
}
