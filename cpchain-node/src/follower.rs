//! The follower and proposer roles: a node whose key is not in the validators committee
//! keeps the chain without voting. It polls bound peers for the blocks after its head
//! over the block sync protocol (from genesis when it starts empty) and takes the
//! VALIDATEs the validators gossip, light-verifies every certificate like a light client
//! (`lbft::verify_validate`), executes and stores each block, and serves the same status
//! file and HTTP API reads as a validator.
//!
//! With `campaign` in its configuration it is a **proposer** (an RNode on the DPoR
//! schedule that is not a validator, white paper §2.3-2.4): once synced it deposits into
//! the RNode pool (`JoinRNodes`), then campaigns (`Campaign`, with CPU and memory
//! admission proofs over its head block) whenever it does not stand in the next election;
//! elected at a checkpoint, it proposes on its slots: at the parent's time plus the
//! block period it seals a block of its mempool (`Block::propose`) and gossips the
//! PRE-PREPARE to the validators, which run LBFT as usual and accept it only on its slots
//! (the engine checks the seal against the schedule).

use crate::api::{self, ApiRequest};
use crate::binding;
use crate::compact::BodyCache;
use crate::config::{load_key, NodeConfig};
use crate::dpor_state::first_unelected_term;
use crate::error::NodeError;
use crate::network::{self, Event as BehaviourEvent};
use crate::node::{now, open_store, parse_peers};
use crate::status::{write_status, Status};
use crate::tx::{ChainView, Mempool, Transaction, TxBody, TxKind};
use crate::validator::{
    canonical_id, genesis, import, load_account, schedule, ImportRules, MAX_BLOCK_TXS,
};
use cpchain_consensus::dpor;
use cpchain_consensus::lbft::{Block, Header, ImpeachQuorum, Message};
use cpchain_core::{encoding, Height, Timestamp};
use futures::StreamExt;
use libp2p::gossipsub;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::SwarmEvent;
use libp2p::{identify, request_response, Multiaddr, PeerId};
use std::collections::HashMap;
use std::time::Duration;

/// Run a follower until SIGTERM / Ctrl-C (or the parent's death with `exit_with_parent`).
pub async fn run(cfg: NodeConfig, exit_with_parent: bool) -> Result<(), NodeError> {
    let parent = std::os::unix::process::parent_id();
    std::fs::create_dir_all(&cfg.data_dir).map_err(|e| NodeError::io(&cfg.data_dir, e))?;
    let key = load_key(&cfg.key_file)?;
    let store = std::sync::Arc::new(open_store(&cfg)?);
    let spec = cfg.spec();
    let set = cfg.validator_set().map_err(NodeError::Consensus)?;
    let allocated = cfg.allocation().map_err(NodeError::Consensus)?;
    let mut sched = schedule(&cfg, &store)?;
    let genesis = genesis(&cfg);
    let keypair = binding::transport_keypair(&key);
    let me_peer = keypair.public().to_peer_id();
    let agent = binding::agent_version(&key, cfg.chain_id, &me_peer);
    let address = key.public_key().address();
    let mut proposer = cfg.campaign.then(|| Proposer {
        key,
        mempool: Mempool::with_queue(
            crate::validator::MEMPOOL_CAPACITY,
            crate::validator::MEMPOOL_BYTES,
            crate::validator::MEMPOOL_QUEUED_CAPACITY,
            crate::validator::MEMPOOL_QUEUED_BYTES,
        ),
        proposed_at: None,
        join_sent: None,
        campaign_sent: None,
    });
    let (mut swarm, gossip) =
        network::swarm_with(keypair, agent, cfg.gossip).map_err(NodeError::Network)?;
    let (topic, tx_topic) =
        network::subscribe_topics(&mut swarm, cfg.chain_id).map_err(NodeError::Network)?;
    // Data services (issue 15): events of non-core protocols go to these.
    let mut services = crate::services::Services::new();
    let (dht_service, storage) = crate::dht::service(
        &mut swarm,
        services.jobs(),
        address,
        crate::dht::storage_role(&cfg)?,
    );
    services.add(Box::new(dht_service));
    // The re-encryption proxy role (serves /cpchain/cfrag/1 for grants live on the chain).
    #[cfg(feature = "pre")]
    if let Some(role) = crate::proxy_role::ProxyRole::start(&cfg, store.clone(), &genesis)? {
        services.add(Box::new(role));
    }
    #[cfg(not(feature = "pre"))]
    crate::proxy_role::ProxyRole::start(&cfg, store.clone(), &genesis)?;
    // Gateway ingest (issue 15 item 3): `POST /gateway/{stream}/…` when configured.
    let gateway_routes = match crate::gateway::from_config(
        &cfg,
        std::sync::Arc::new(crate::gateway::NodeSink::new(
            storage.clone(),
            services.jobs(),
            cfg.chain_id,
            crate::config::load_key(&cfg.key_file)?,
            store.clone(),
        )),
    )? {
        Some(g) => crate::gateway::router(g),
        None => axum::Router::new(),
    };
    let listen: Multiaddr = format!("/ip4/127.0.0.1/tcp/{}", cfg.listen_port)
        .parse()
        .map_err(|e| NodeError::Network(format!("listen address: {e}")))?;
    swarm
        .listen_on(listen)
        .map_err(|e| NodeError::Network(format!("listen: {e}")))?;
    let dial_list = parse_peers(&cfg.peers)?;
    let (shared_status, mut api_rx) = api::start_with(
        cfg.api_port,
        store.clone(),
        64,
        cfg.chain_id,
        gateway_routes,
    )
    .await?;
    tracing::info!(%address, peer = %me_peer, "follower started");
    let mut bound: HashMap<PeerId, cpchain_core::Address> = HashMap::new();
    // When the outstanding block sync request was sent: one at a time, and given up after
    // `SYNC_PATIENCE` (a lost request must not stall a proposer for the protocol's timeout).
    let mut in_flight: Option<std::time::Instant> = None;
    let mut turn = 0usize;
    // Bodies of the PRE-PREPAREs heard, for the compact VALIDATEs (`crate::compact`).
    let mut bodies = BodyCache::default();
    let mut status = Status {
        address: address.to_string(),
        peer_id: me_peer.to_string(),
        pid: std::process::id(),
        ..Status::default()
    };
    let status_path = cfg.status_path();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| NodeError::Network(format!("signal handler: {e}")))?;
    let rules = ImportRules {
        spec: &spec,
        validators: &set,
        impeach_quorum: ImpeachQuorum::default(),
        genesis: &genesis,
        allocated: &allocated,
    };
    let result = loop {
        let head_header = match store.head() {
            Ok(h) => h.map(|v| v.block.header).unwrap_or_else(|| genesis.clone()),
            Err(e) => break Err(e),
        };
        let wait = proposer
            .as_ref()
            .and_then(|p| p.propose_time(&spec, &sched, &head_header, address))
            .map(|t| Duration::from_millis(t.0.saturating_sub(now().0)))
            .unwrap_or(Duration::from_secs(1));
        tokio::select! {
            ev = swarm.select_next_some() => match ev {
                SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message { message, .. })) => {
                    gossip.delivered(&message.topic);
                    if message.topic == tx_topic.hash() {
                        if let (Some(p), Some(batch)) = (proposer.as_mut(), crate::ingest::decode_batch(&message.data)) {
                            for bytes in batch {
                                let _ = p.mempool.admit(&bytes, cfg.chain_id, &|a: &cpchain_core::Address| load_account(&store, &allocated, a));
                            }
                        }
                    } else {
                        // The next block, as the validators announce it (compact, with the
                        // body of the PRE-PREPARE heard before, see `crate::compact`; or
                        // whole): light-verified by `import` like a synced one.
                        let next = Height(head_header.height.0 + 1);
                        let mut validates = Vec::new();
                        if crate::compact::is_compact(&message.data) {
                            match crate::compact::decode(&message.data) {
                                Ok(cv) if cv.height() == next => {
                                    if let Some(v) = bodies.expand(cpchain_core::Address::ZERO, cv) {
                                        validates.push(v);
                                    }
                                }
                                _ => {}
                            }
                        } else {
                            match encoding::decode::<Message>(&message.data) {
                                Ok(Message::Validate(v)) if v.block.header.height == next => validates.push(v),
                                // Kept only from the proposer the schedule names, sealed.
                                Ok(Message::PrePrepare(b))
                                    if b.header.height == next
                                        && sched.proposer_of(next) == Some(b.header.proposer)
                                        && b.verify_seal().is_ok() =>
                                {
                                    bodies.keep(b.id(), b.transactions);
                                    validates.extend(bodies.ready(next).into_iter().map(|(_, v)| v));
                                }
                                _ => {}
                            }
                        }
                        if !validates.is_empty() {
                            tracing::debug!(height = next.0, "gossiped VALIDATE");
                            match import(&rules, &mut sched, &store, validates) {
                                Ok((n, _)) => {
                                    if n > 0 {
                                        if let Some(p) = proposer.as_mut() {
                                            p.mempool.prune(&|a: &cpchain_core::Address| load_account(&store, &allocated, a));
                                            if let (Ok(Some(head)), Ok(dpor)) = (store.head(), store.dpor()) {
                                                crate::validator::revalidate_pool(&mut p.mempool, &spec, &store, &allocated, address, &head.block.header, &dpor);
                                            }
                                        }
                                    }
                                }
                                Err(e) => break Err(e),
                            }
                        }
                    }
                }
                SwarmEvent::Behaviour(BehaviourEvent::Identify(ev)) => {
                    if let identify::Event::Received { peer_id, info, .. } = *ev {
                        match binding::verify(&info.agent_version, cfg.chain_id, &peer_id) {
                            Ok(a) => {
                                // Validators serve block sync; every bound peer may speak
                                // the data services' protocols.
                                if set.contains(&a) { bound.insert(peer_id, a); }
                                let peer = crate::services::BoundPeer { peer: peer_id, address: a, info };
                                services.on_bound(&mut swarm, &peer);
                            }
                            Err(_) => { let _ = swarm.disconnect_peer_id(peer_id); }
                        }
                    }
                }
                SwarmEvent::Behaviour(BehaviourEvent::Sync(request_response::Event::Message {
                    message: request_response::Message::Response { response, .. }, peer, ..
                })) => {
                    in_flight = None;
                    let mut blocks = Vec::new();
                    for b in &response.0 {
                        match cpchain_core::encoding::decode(b) {
                            Ok(v) => blocks.push(v),
                            Err(e) => { tracing::warn!(%peer, "sync: undecodable block: {e}"); break; }
                        }
                    }
                    match import(&rules, &mut sched, &store, blocks) {
                        Ok((n, head)) if n > 0 => {
                            status.synced += n as u64;
                            tracing::info!(head = head.height.0, n, "follower: verified and stored");
                        }
                        Ok(_) => {}
                        Err(e) => break Err(e),
                    }
                }
                SwarmEvent::Behaviour(BehaviourEvent::Sync(request_response::Event::OutboundFailure { .. })) => in_flight = None,
                SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } => {
                    bound.remove(&peer_id);
                    services.on_gone(&mut swarm, &peer_id);
                }
                SwarmEvent::Behaviour(ev) => { let _ = services.on_event(&mut swarm, ev); }
                _ => {}
            },
            job = services.next_job() => job(&mut swarm),
            Some(req) = api_rx.recv() => match req {
                ApiRequest::Submit(items, reply) => match proposer.as_mut() {
                    Some(p) => {
                        let mut out = Vec::with_capacity(items.len());
                        for item in items {
                            let r = item.and_then(|c| {
                                let bytes = c.bytes.clone();
                                let load = |a: &cpchain_core::Address| load_account(&store, &allocated, a);
                                if crate::ledger::is_ledger_kind(&c.tx.body.kind) {
                                    let g = cfg.genesis_time();
                                    let now = store.head_time(g).unwrap_or(g);
                                    crate::ledger::admit(&*store, cfg.chain_id, now, &c, &load)?;
                                }
                                let h = p.mempool.admit_checked(c, &load)?;
                                let _ = gossip.publish(&mut swarm, &tx_topic, crate::ingest::encode_batch(&[bytes]));
                                Ok(h)
                            });
                            out.push(r);
                        }
                        let _ = reply.send(out);
                    }
                    None => {
                        let _ = reply.send(items.iter().map(|_| Err(crate::tx::TxError::MempoolFull)).collect());
                    }
                },
                ApiRequest::Account(a, reply) => {
                    let _ = reply.send(load_account(&store, &allocated, &a));
                }
            },
            _ = tokio::time::sleep(wait), if proposer.is_some() => {
                if let Some(p) = proposer.as_mut() {
                    if let Some(bytes) = p.propose(&spec, &sched, &head_header, address, &store, &allocated, now()) {
                        if let Err(e) = gossip.publish(&mut swarm, &topic, bytes) {
                            tracing::warn!("proposal not published: {e}");
                        } else {
                            status.proposed += 1;
                        }
                    }
                }
            }
            _ = tick.tick() => {
                if exit_with_parent && std::os::unix::process::parent_id() != parent {
                    break Ok(());
                }
                services.on_tick(&mut swarm, now().0);
                if let Some(p) = proposer.as_mut() {
                    for bytes in p.campaign(&spec, &head_header, address, &store, &allocated, now()) {
                        let _ = p.mempool.admit(&bytes, cfg.chain_id, &|a: &cpchain_core::Address| load_account(&store, &allocated, a));
                        if let Err(e) = gossip.publish(&mut swarm, &tx_topic, crate::ingest::encode_batch(&[bytes])) {
                            tracing::debug!("campaign transaction gossip: {e}");
                        }
                    }
                    status.mempool = p.mempool.len();
                    status.mempool_bytes = p.mempool.charged_bytes();
                    status.mempool_ready = p.mempool.ready_len();
                    status.mempool_queued = p.mempool.queued_len();
                }
                for (pid, addr) in &dial_list {
                    if !swarm.is_connected(pid) {
                        let opts = DialOpts::peer_id(*pid)
                            .addresses(vec![addr.clone()])
                            .condition(PeerCondition::DisconnectedAndNotDialing)
                            .build();
                        let _ = swarm.dial(opts);
                    }
                }
                let head = store.head().ok().flatten().map(|v| v.block.header.height.0).unwrap_or(0);
                if in_flight.is_some_and(|t| t.elapsed() > SYNC_PATIENCE) {
                    tracing::debug!("block sync request unanswered; asking another peer");
                    in_flight = None;
                }
                if in_flight.is_none() {
                    let mut ids: Vec<PeerId> = bound.keys().copied().collect();
                    ids.sort();
                    if !ids.is_empty() {
                        turn = turn.wrapping_add(1);
                        if let Some(p) = ids.get(turn % ids.len()) {
                            let req = network::SyncRequest { from: head + 1, max: network::SYNC_MAX_BLOCKS };
                            swarm.behaviour_mut().sync.send_request(p, req);
                            in_flight = Some(std::time::Instant::now());
                        }
                    }
                }
                status.head = head;
                status.height = head + 1;
                status.peers = bound.len();
                (status.gossip_lbft, status.gossip_tx) = (gossip.lbft(), gossip.tx());
                status.time_ms = now().0;
                write_status(&status_path, &status);
                if let Ok(mut g) = shared_status.lock() {
                    *g = status.clone();
                }
            }
            _ = sigterm.recv() => break Ok(()),
            _ = tokio::signal::ctrl_c() => break Ok(()),
        }
    };
    status.stopped = true;
    write_status(&status_path, &status);
    result
}

/// How long a block sync request may stay unanswered before another peer is asked.
const SYNC_PATIENCE: Duration = Duration::from_millis(1_500);

/// The proposer's part: its key, mempool and campaign progress.
struct Proposer {
    key: cpchain_crypto::SecretKey,
    mempool: Mempool,
    proposed_at: Option<Height>,
    join_sent: Option<u64>,
    campaign_sent: Option<u64>,
}

impl Proposer {
    /// When to propose the block after `head`, if this node holds that slot.
    fn propose_time(
        &self,
        spec: &cpchain_core::ChainSpec,
        sched: &dpor::Schedule,
        head: &Header,
        me: cpchain_core::Address,
    ) -> Option<Timestamp> {
        let h = Height(head.height.0.saturating_add(1));
        if self.proposed_at == Some(h) || sched.proposer_of(h) != Some(me) {
            return None;
        }
        Some(head.timestamp.saturating_add(spec.block_period))
    }

    /// Whether a proposal on `head` can still be in time: before the validators impeach
    /// the slot (a proposer catching up on old blocks does not seal stale ones).
    fn in_time(spec: &cpchain_core::ChainSpec, head: &Header, now: Timestamp) -> bool {
        now <= head
            .timestamp
            .saturating_add(spec.block_period)
            .saturating_add(spec.impeach_timeout)
    }

    /// Seal the block after `head` from the mempool if it is our slot and time: the
    /// encoded PRE-PREPARE to gossip.
    #[allow(clippy::too_many_arguments)]
    fn propose(
        &mut self,
        spec: &cpchain_core::ChainSpec,
        sched: &dpor::Schedule,
        head: &Header,
        me: cpchain_core::Address,
        store: &crate::store::Store,
        allocated: &crate::tx::Allocation,
        now: Timestamp,
    ) -> Option<Vec<u8>> {
        let earliest = self.propose_time(spec, sched, head, me)?;
        if now < earliest {
            return None;
        }
        let h = Height(head.height.0.saturating_add(1));
        self.proposed_at = Some(h);
        if !Self::in_time(spec, head, now) {
            tracing::info!(
                height = h.0,
                "proposer: too late for our slot (behind the chain)"
            );
            return None;
        }
        let canonical = |x: Height| canonical_id(store, head, x);
        let chain = ChainView {
            height: h,
            canonical: &canonical,
            ledger: store,
        };
        let base = store.dpor().unwrap_or_default();
        let (txs, hashes) = self.mempool.select_hashed(
            spec,
            now,
            me,
            MAX_BLOCK_TXS,
            cpchain_consensus::lbft::MAX_BLOCK_BYTES,
            &|a: &cpchain_core::Address| load_account(store, allocated, a),
            &base,
            &chain,
        );
        let n = txs.len();
        let block = Block::propose_with_leaves(spec, head, &self.key, me, now, txs, &hashes);
        tracing::info!(
            height = h.0,
            txs = n,
            "proposer: sealed a block on our slot"
        );
        encoding::encode_to_vec(&Message::PrePrepare(block)).ok()
    }

    /// The campaign transactions due now (signed, encoded): the RNode deposit once, then a
    /// campaign whenever we do not stand in the next election; each re-sent if it was not
    /// committed within a proof's lifetime. Only once synced (head at most a few periods
    /// old).
    fn campaign(
        &mut self,
        spec: &cpchain_core::ChainSpec,
        head: &Header,
        me: cpchain_core::Address,
        store: &crate::store::Store,
        allocated: &crate::tx::Allocation,
        now: Timestamp,
    ) -> Vec<Vec<u8>> {
        let fresh = head
            .timestamp
            .0
            .saturating_add(spec.block_period.as_millis() * 4)
            >= now.0;
        if !fresh {
            return Vec::new();
        }
        let Ok(state) = store.dpor() else {
            return Vec::new();
        };
        let account = load_account(store, allocated, &me);
        let h = head.height.0;
        // Re-sent if not committed within 10 blocks (a gossip publish before the mesh
        // formed is lost); well inside a proof's lifetime.
        let retry = 10u64.min(spec.admission_max_block_age);
        let due = |sent: Option<u64>| sent.is_none_or(|s| h > s.saturating_add(retry));
        let mut nonce = account.nonce;
        let mut out = Vec::new();
        if !state.is_rnode(&me) {
            if !due(self.join_sent) {
                return Vec::new();
            }
            self.join_sent = Some(h);
            tracing::info!("proposer: joining the RNode pool");
            let tx = Transaction::sign(
                &self.key,
                TxBody {
                    chain_id: spec.chain_id,
                    nonce,
                    kind: TxKind::JoinRNodes {
                        amount: spec.rnode_deposit,
                    },
                },
            );
            out.push(tx.to_bytes());
            // The campaign follows in the same or a later block (next nonce).
            nonce = nonce.saturating_add(1);
            self.campaign_sent = None;
        }
        let next = first_unelected_term(spec, Height(h.saturating_add(1)));
        if state.is_candidate(&me, next) || !due(self.campaign_sent) {
            return out;
        }
        self.campaign_sent = Some(h);
        let proof = match dpor::prove_admission(spec, &me, head.height, &head.id(), 1 << 24) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!("proposer: no admission proof: {e}");
                return out;
            }
        };
        tracing::info!(term = next.get(), "proposer: campaigning");
        let tx = Transaction::sign(
            &self.key,
            TxBody {
                chain_id: spec.chain_id,
                nonce,
                kind: TxKind::Campaign(dpor::Campaign {
                    candidate: me,
                    terms: spec.max_campaign_terms,
                    proof,
                }),
            },
        );
        out.push(tx.to_bytes());
        out
    }
}
