//! `cpchain-node run`: one validator process. A single-threaded tokio loop owns the
//! swarm, the engine adapter and the database; the engine's outputs are acted on in
//! order after each input (persist first, see [`crate::validator`]).

use crate::api::{self, ApiRequest};
use crate::binding;
use crate::config::{load_key, NodeConfig};
use crate::error::NodeError;
use crate::network::{self, Event as BehaviourEvent};
use crate::status::{write_status, Status};
use crate::store::{ChainStamp, Store};
use crate::validator::{genesis, Action, Counters, ValidatorHost};
use cpchain_core::{keccak256, Address, Timestamp};
use futures::StreamExt;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::SwarmEvent;
use libp2p::{gossipsub, identify, request_response, Multiaddr, PeerId};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

/// Wall-clock time in Unix milliseconds: the engine's `now`.
pub fn now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    Timestamp(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// Hash of the committee's addresses (followed, when there are any, by the proposer
/// RNodes funded at genesis: they are part of the genesis state), stamped into the
/// database, so a node restarted with another genesis allocation refuses its database.
pub fn committee_hash(cfg: &NodeConfig) -> Result<cpchain_core::Hash, NodeError> {
    let set = cfg.validator_set().map_err(NodeError::Consensus)?;
    let mut bytes = Vec::new();
    for a in set.addresses() {
        bytes.extend_from_slice(&a.0);
    }
    if !cfg.proposers.is_empty() {
        bytes.extend_from_slice(b"proposers");
        let alloc = cfg.allocation().map_err(NodeError::Consensus)?;
        for (a, balance) in &alloc {
            if !set.contains(a) {
                bytes.extend_from_slice(&a.0);
                bytes.extend_from_slice(&balance.to_be_bytes());
            }
        }
    }
    Ok(keccak256(&bytes))
}

/// The configured peers as (peer id, address) pairs to dial; every role reads them the same
/// way, and a peer without its `/p2p/<peer id>` is a configuration error, not a silent skip.
pub fn parse_peers(peers: &[String]) -> Result<Vec<(PeerId, Multiaddr)>, NodeError> {
    let mut dial_list = Vec::with_capacity(peers.len());
    for p in peers {
        let addr: Multiaddr = p
            .parse()
            .map_err(|e| NodeError::Network(format!("peer {p}: {e}")))?;
        let Some(libp2p::multiaddr::Protocol::P2p(pid)) = addr.iter().last() else {
            return Err(NodeError::Network(format!("peer {p}: no /p2p/<peer id>")));
        };
        dial_list.push((pid, addr));
    }
    Ok(dial_list)
}

/// Open the database `cfg` names, checking it belongs to `cfg`'s chain.
pub fn open_store(cfg: &NodeConfig) -> Result<Store, NodeError> {
    let stamp = ChainStamp {
        chain_id: cfg.chain_id,
        genesis: genesis(cfg).id(),
        committee: committee_hash(cfg)?,
    };
    Store::open(&cfg.db_path(), stamp)
}

/// Gossiped transaction batches being recovered at once (beyond: dropped, see `run`).
const GOSSIP_RECOVERY_SLOTS: usize = 8;

/// Transactions per gossip message (at most ~1.8 MiB with `MAX_TX_BYTES` each, under the
/// 2 MiB gossip message bound).
const GOSSIP_BATCH_TXS: usize = 1_024;

struct Peers {
    bound: HashMap<PeerId, Address>,
    /// Bound peers outside the committee (followers, proposer RNodes).
    followers: HashMap<PeerId, Address>,
    sync_in_flight: bool,
    sync_turn: usize,
    by_address: HashMap<Address, PeerId>,
    unbound_drops: u64,
}

/// Run a validator until SIGTERM / Ctrl-C (or a storage error); with `exit_with_parent`,
/// also when the parent process dies (the node is re-parented).
pub async fn run(cfg: NodeConfig, exit_with_parent: bool) -> Result<(), NodeError> {
    if cfg.proxy.is_some() {
        // Issue 15: the proxy role runs on the follower loop, never beside LBFT voting.
        return Err(NodeError::Config {
            path: cfg.data_dir.clone(),
            reason: "a validator cannot have a `proxy` section (proxies are followers)".into(),
        });
    }
    let parent = std::os::unix::process::parent_id();
    std::fs::create_dir_all(&cfg.data_dir).map_err(|e| NodeError::io(&cfg.data_dir, e))?;
    let key = load_key(&cfg.key_file)?;
    let store = std::sync::Arc::new(open_store(&cfg)?);
    let set = cfg.validator_set().map_err(NodeError::Consensus)?;
    let mut host = ValidatorHost::start(&cfg, key.clone(), &store, now())?;
    let keypair = binding::transport_keypair(&key);
    let me_peer = keypair.public().to_peer_id();
    let agent = binding::agent_version(&key, cfg.chain_id, &me_peer);
    drop(key);
    let (mut swarm, gossip) =
        network::swarm_with(keypair, agent, cfg.gossip).map_err(NodeError::Network)?;
    let listen: Multiaddr = format!("/ip4/127.0.0.1/tcp/{}", cfg.listen_port)
        .parse()
        .map_err(|e| NodeError::Network(format!("listen address: {e}")))?;
    swarm
        .listen_on(listen)
        .map_err(|e| NodeError::Network(format!("listen on port {}: {e}", cfg.listen_port)))?;
    let (topic, tx_topic) =
        network::subscribe_topics(&mut swarm, cfg.chain_id).map_err(NodeError::Network)?;
    let (shared_status, mut api_rx) =
        api::start(cfg.api_port, store.clone(), 1024, cfg.chain_id).await?;
    // Gossiped transaction batches, recovered on the blocking pool, come back here.
    let (gossip_checked_tx, mut gossip_checked) = tokio::sync::mpsc::channel::<
        Vec<Result<crate::tx::Checked, crate::tx::TxError>>,
    >(GOSSIP_RECOVERY_SLOTS);
    let in_flight = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut gossip_dropped = 0u64;
    let dial_list = parse_peers(&cfg.peers)?;
    let mut peers = Peers {
        bound: HashMap::new(),
        followers: HashMap::new(),
        sync_in_flight: false,
        sync_turn: 0,
        by_address: HashMap::new(),
        unbound_drops: 0,
    };
    let status_path = cfg.status_path();
    let mut status = Status {
        address: host.address().to_string(),
        peer_id: me_peer.to_string(),
        pid: std::process::id(),
        ..Status::default()
    };
    tracing::info!(address = %host.address(), peer = %me_peer, port = cfg.listen_port, "node started");

    let actions = host.drain(now(), &store)?;
    execute(&mut swarm, &gossip, &topic, &peers, actions);

    let mut blocked: std::collections::HashSet<PeerId> = std::collections::HashSet::new();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| NodeError::Network(format!("signal handler: {e}")))?;
    let result = loop {
        let wait = host
            .next_deadline()
            .map(|d| Duration::from_millis(d.0.saturating_sub(now().0)))
            .unwrap_or(Duration::from_secs(1));
        tokio::select! {
            ev = swarm.select_next_some() => {
                if let SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message { message, .. })) = &ev {
                    gossip.delivered(&message.topic);
                    if message.topic == tx_topic.hash() {
                        // Transactions authenticate themselves by signature: recovered off
                        // the loop, at most GOSSIP_RECOVERY_SLOTS batches at once (beyond
                        // that a batch is dropped: its transactions are recovered once
                        // when a block carries them).
                        use std::sync::atomic::Ordering;
                        let Some(batch) = crate::ingest::decode_batch(&message.data) else {
                            tracing::debug!("undecodable transaction batch");
                            continue;
                        };
                        // Already recovered here (a block carried them first): not again.
                        // The hash is taken once, here, and goes with the bytes.
                        let batch: Vec<(cpchain_core::Hash, Vec<u8>)> = {
                            let known = crate::ingest::lock_senders(&host.senders);
                            batch
                                .into_iter()
                                .map(|b| (crate::tx::tx_hash(&b), b))
                                .filter(|(h, _)| known.get(h).is_none())
                                .collect()
                        };
                        if batch.is_empty() {
                            continue;
                        }
                        // Overload (issue 14): beyond INTAKE_SHED_PENDING ready, no
                        // recovery (a block carrying them recovers them once then).
                        if host.mempool.ready_len() >= crate::validator::INTAKE_SHED_PENDING {
                            gossip_dropped += 1;
                            continue;
                        }
                        if in_flight.fetch_add(1, Ordering::SeqCst) >= GOSSIP_RECOVERY_SLOTS {
                            in_flight.fetch_sub(1, Ordering::SeqCst);
                            gossip_dropped += 1;
                            continue;
                        }
                        let (out, flight, chain_id) = (gossip_checked_tx.clone(), in_flight.clone(), cfg.chain_id);
                        let senders = host.senders.clone();
                        tokio::task::spawn_blocking(move || {
                            // Intake waits behind consensus (see `crate::priority`).
                            crate::priority::lower_this_thread();
                            let turn = crate::priority::background_turn();
                            // What a block carried while this batch waited: not again.
                            let r = crate::ingest::recover_unless_known(batch, chain_id, &senders);
                            drop(turn);
                            let _ = out.blocking_send(r);
                            flight.fetch_sub(1, Ordering::SeqCst);
                        });
                        continue;
                    }
                }
                if let Err(e) = on_event(ev, &mut swarm, &mut host, &store, &mut peers, &set, cfg.chain_id) {
                    break Err(e);
                }
            }
            Some(items) = gossip_checked.recv() => {
                host.admit_checked(items, &store);
            }
            Some(req) = api_rx.recv() => match req {
                ApiRequest::Submit(items, reply) => {
                    let results = host.admit_checked(items, &store);
                    let admitted: Vec<Vec<u8>> = results
                        .iter()
                        .filter_map(|r| r.as_ref().ok().map(|c| c.bytes.clone()))
                        .collect();
                    for chunk in admitted.chunks(GOSSIP_BATCH_TXS) {
                        let msg = crate::ingest::encode_batch(chunk);
                        if let Err(e) = gossip.publish(&mut swarm, &tx_topic, msg) {
                            tracing::debug!("transaction gossip: {e}");
                        }
                    }
                    let _ = reply.send(results.into_iter().map(|r| r.map(|c| c.hash)).collect());
                }
                ApiRequest::Account(a, reply) => {
                    let _ = reply.send(host.account(&a, &store));
                }
            },
            _ = tokio::time::sleep(wait) => host.on_timeout(now(), &store),
            _ = tick.tick() => {
                if exit_with_parent && std::os::unix::process::parent_id() != parent {
                    tracing::info!("parent process gone");
                    break Ok(());
                }
                for (pid, addr) in &dial_list {
                    if !swarm.is_connected(pid) && !blocked.contains(pid) {
                        let opts = DialOpts::peer_id(*pid)
                            .addresses(vec![addr.clone()])
                            .condition(PeerCondition::DisconnectedAndNotDialing)
                            .build();
                        let _ = swarm.dial(opts);
                    }
                }
                apply_blocked(&mut swarm, &cfg.blocked_peers_path(), &mut blocked);
                host.tick();
                if host.is_behind() && !peers.sync_in_flight {
                    request_blocks(&mut swarm, &store, &mut peers);
                }
                fill_status(&mut status, &host, &store, &peers);
                status.gossip_batches_dropped = gossip_dropped;
                (status.gossip_lbft, status.gossip_tx) = (gossip.lbft(), gossip.tx());
                write_status(&status_path, &status);
                if let Ok(mut g) = shared_status.lock() {
                    *g = status.clone();
                }
            }
            _ = sigterm.recv() => break Ok(()),
            _ = tokio::signal::ctrl_c() => break Ok(()),
        }
        match host.drain(now(), &store) {
            Ok(actions) => execute(&mut swarm, &gossip, &topic, &peers, actions),
            Err(e) => break Err(e),
        }
    };
    fill_status(&mut status, &host, &store, &peers);
    status.stopped = true;
    write_status(&status_path, &status);
    match &result {
        Ok(()) => tracing::info!("stopped"),
        Err(e) => tracing::error!("stopping: {e}"),
    }
    result
}

/// Block exactly the peers listed in `path` (absent file: none).
fn apply_blocked(
    swarm: &mut libp2p::Swarm<network::Behaviour>,
    path: &Path,
    blocked: &mut std::collections::HashSet<PeerId>,
) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let want: std::collections::HashSet<PeerId> =
        text.lines().filter_map(|l| l.trim().parse().ok()).collect();
    for p in want.difference(blocked) {
        tracing::info!(peer = %p, "blocking peer");
        swarm.behaviour_mut().blocked.block_peer(*p);
    }
    for p in blocked.difference(&want) {
        tracing::info!(peer = %p, "unblocking peer");
        swarm.behaviour_mut().blocked.unblock_peer(*p);
    }
    *blocked = want;
}

/// Ask the next bound peer (round robin) for the blocks after our head.
fn request_blocks(swarm: &mut libp2p::Swarm<network::Behaviour>, store: &Store, peers: &mut Peers) {
    let mut ids: Vec<PeerId> = peers.bound.keys().copied().collect();
    if ids.is_empty() {
        return;
    }
    ids.sort();
    peers.sync_turn = peers.sync_turn.wrapping_add(1);
    let Some(peer) = ids.get(peers.sync_turn % ids.len()) else {
        return;
    };
    let head = store
        .head()
        .ok()
        .flatten()
        .map(|v| v.block.header.height.0)
        .unwrap_or(0);
    let req = network::SyncRequest {
        from: head.saturating_add(1),
        max: network::SYNC_MAX_BLOCKS,
    };
    tracing::info!(%peer, from = req.from, "block sync: requesting");
    swarm.behaviour_mut().sync.send_request(peer, req);
    peers.sync_in_flight = true;
}

/// The blocks a peer asked for, from our store.
fn serve_blocks(store: &Store, req: network::SyncRequest) -> network::SyncResponse {
    let mut out = Vec::new();
    let mut bytes = 0usize;
    let max = u64::from(req.max.min(network::SYNC_MAX_BLOCKS));
    for h in req.from..req.from.saturating_add(max) {
        let Ok(Some(v)) = store.block(h) else { break };
        let Ok(b) = cpchain_core::encoding::encode_to_vec(&v) else {
            break;
        };
        bytes = bytes.saturating_add(b.len());
        out.push(b);
        if bytes >= network::SYNC_SOFT_BYTES {
            break;
        }
    }
    network::SyncResponse(out)
}

fn fill_status(s: &mut Status, host: &ValidatorHost, store: &Store, peers: &Peers) {
    let Counters {
        decided,
        impeached,
        proposed,
        faults,
        rejected,
        synced,
        committed_txs,
        compact_pending,
    } = host.counters;
    s.head = store
        .head()
        .ok()
        .flatten()
        .map(|v| v.block.header.height.0)
        .unwrap_or(0);
    s.height = host.height().0;
    s.round = host.round();
    s.decided = decided;
    s.impeached = impeached;
    s.proposed = proposed;
    s.faults = faults;
    s.rejected = rejected;
    s.synced = synced;
    s.compact_pending = compact_pending;
    s.committed_txs = committed_txs;
    s.mempool = host.mempool.len();
    s.mempool_bytes = host.mempool.charged_bytes();
    s.mempool_ready = host.mempool.ready_len();
    s.mempool_queued = host.mempool.queued_len();
    s.recoveries = crate::ingest::recoveries();
    (s.sender_cache_hits, s.block_recoveries) = crate::ingest::lock_senders(&host.senders).stats();
    s.unbound = peers.unbound_drops;
    s.peers = peers.bound.len();
    s.time_ms = now().0;
}

fn execute(
    swarm: &mut libp2p::Swarm<network::Behaviour>,
    gossip: &network::GossipCounters,
    topic: &gossipsub::IdentTopic,
    peers: &Peers,
    actions: Vec<Action>,
) {
    for a in actions {
        match a {
            Action::Broadcast(bytes) => {
                if let Err(e) = gossip.publish(swarm, topic, bytes) {
                    // No peers yet, or a duplicate of a message already published: the
                    // engine's round changes repeat what matters.
                    tracing::debug!("publish: {e}");
                }
            }
            Action::Send { to, bytes } => {
                if let Some(pid) = peers.by_address.get(&to) {
                    swarm.behaviour_mut().direct.send_request(pid, bytes);
                } else {
                    tracing::debug!(%to, "no connection to send to");
                }
            }
        }
    }
}

fn on_event(
    ev: SwarmEvent<BehaviourEvent>,
    swarm: &mut libp2p::Swarm<network::Behaviour>,
    host: &mut ValidatorHost,
    store: &Store,
    peers: &mut Peers,
    set: &cpchain_consensus::lbft::ValidatorSet,
    chain_id: u64,
) -> Result<(), NodeError> {
    match ev {
        SwarmEvent::Behaviour(BehaviourEvent::Sync(request_response::Event::Message {
            peer,
            message,
            ..
        })) => match message {
            request_response::Message::Request {
                request, channel, ..
            } => {
                if peers.bound.contains_key(&peer) || peers.followers.contains_key(&peer) {
                    let resp = serve_blocks(store, request);
                    let _ = swarm.behaviour_mut().sync.send_response(channel, resp);
                }
            }
            request_response::Message::Response { response, .. } => {
                peers.sync_in_flight = false;
                let mut blocks = Vec::new();
                for b in &response.0 {
                    match cpchain_core::encoding::decode(b) {
                        Ok(v) => blocks.push(v),
                        Err(e) => {
                            tracing::warn!(%peer, "sync: undecodable block: {e}");
                            break;
                        }
                    }
                }
                let got = blocks.len();
                let applied = host.apply_synced(now(), blocks, store)?;
                if got == 0 || applied < got {
                    host.sync_done();
                }
            }
        },
        SwarmEvent::Behaviour(BehaviourEvent::Sync(request_response::Event::OutboundFailure {
            ..
        })) => peers.sync_in_flight = false,
        SwarmEvent::Behaviour(BehaviourEvent::Identify(ev)) => {
            let identify::Event::Received { peer_id, info, .. } = *ev else {
                return Ok(());
            };
            match binding::verify(&info.agent_version, chain_id, &peer_id) {
                Ok(address) if set.contains(&address) => {
                    if peers.bound.insert(peer_id, address).is_none() {
                        tracing::info!(peer = %peer_id, %address, "peer bound");
                    }
                    peers.by_address.insert(address, peer_id);
                }
                Ok(address) => {
                    // A follower or proposer RNode: served block sync; on consensus only
                    // its PRE-PREPAREs are heard (accepted on its elected slots only).
                    if peers.followers.insert(peer_id, address).is_none() {
                        tracing::info!(peer = %peer_id, %address, "follower or proposer bound");
                    }
                }
                Err(e) => {
                    tracing::warn!(peer = %peer_id, "binding refused: {e}; disconnecting");
                    let _ = swarm.disconnect_peer_id(peer_id);
                }
            }
        }
        SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
            propagation_source,
            message,
            ..
        })) => {
            // Anonymous gossip: only a bound peer may relay to us, and `from` comes from
            // the message's own signature (VALIDATE: the relay's bound address), see
            // `crate::attribution`.
            let relay = peers
                .bound
                .get(&propagation_source)
                .or_else(|| peers.followers.get(&propagation_source))
                .copied();
            if relay.is_none() {
                peers.unbound_drops += 1;
                return Ok(());
            }
            if crate::compact::is_compact(&message.data) {
                // Attributed like a whole VALIDATE: to the bound relay (`crate::attribution`).
                match (relay, crate::compact::decode(&message.data)) {
                    (Some(from), Ok(cv)) => host.on_compact_validate(now(), from, cv),
                    _ => host.counters.rejected += 1,
                }
                return Ok(());
            }
            match crate::attribution::gossip_sender(&message.data, chain_id, set, relay) {
                Ok((from, msg @ cpchain_consensus::lbft::Message::PrePrepare(_)))
                    if !set.contains(&from) =>
                {
                    host.on_rnode_message(now(), from, msg)
                }
                Ok((from, msg)) => host.on_message(now(), from, msg),
                Err(e) => {
                    tracing::debug!(relay = %propagation_source, "gossip refused: {e}");
                    host.counters.rejected += 1;
                }
            }
        }
        SwarmEvent::Behaviour(BehaviourEvent::Direct(request_response::Event::Message {
            peer,
            message:
                request_response::Message::Request {
                    request, channel, ..
                },
            ..
        })) => {
            let _ = swarm
                .behaviour_mut()
                .direct
                .send_response(channel, Vec::new());
            match peers.bound.get(&peer).copied() {
                Some(from) => host.on_bytes(now(), from, &request),
                None => peers.unbound_drops += 1,
            }
        }
        SwarmEvent::ConnectionClosed {
            peer_id,
            num_established: 0,
            ..
        } => {
            peers.followers.remove(&peer_id);
            if let Some(a) = peers.bound.remove(&peer_id) {
                peers.by_address.remove(&a);
                tracing::info!(peer = %peer_id, "peer disconnected");
            }
        }
        _ => {}
    }
    Ok(())
}
