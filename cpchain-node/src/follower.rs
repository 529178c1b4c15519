//! The follower role: a node whose key is not in the validators committee keeps the
//! chain without voting. It polls bound peers for the blocks after its head over the
//! block sync protocol (from genesis when it starts empty), light-verifies every
//! certificate like a light client (`lbft::verify_validate`), executes and stores each
//! block, and serves the same status file and HTTP API reads as a validator.

use crate::api::{self, ApiRequest};
use crate::binding;
use crate::config::{load_key, NodeConfig};
use crate::error::NodeError;
use crate::network::{self, Event as BehaviourEvent};
use crate::node::{now, open_store, parse_peers, write_status, Status};
use crate::validator::{genesis, import, load_account, schedule, ImportRules};
use cpchain_consensus::lbft::ImpeachQuorum;
use futures::StreamExt;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::SwarmEvent;
use libp2p::{identify, request_response, Multiaddr, PeerId};
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

/// Run a follower until SIGTERM / Ctrl-C (or the parent's death with `exit_with_parent`).
pub async fn run(cfg: NodeConfig, exit_with_parent: bool) -> Result<(), NodeError> {
    let parent = std::os::unix::process::parent_id();
    std::fs::create_dir_all(&cfg.data_dir).map_err(|e| NodeError::io(&cfg.data_dir, e))?;
    let key = load_key(&cfg.key_file)?;
    let store = std::sync::Arc::new(open_store(&cfg)?);
    let spec = cfg.spec();
    let set = cfg.validator_set().map_err(NodeError::Consensus)?;
    let allocated: BTreeSet<_> = set.addresses().collect();
    let mut sched = schedule(&cfg, &store)?;
    let genesis = genesis(&cfg);
    let keypair = binding::transport_keypair(&key);
    let me_peer = keypair.public().to_peer_id();
    let agent = binding::agent_version(&key, cfg.chain_id, &me_peer);
    let address = key.public_key().address();
    drop(key);
    let mut swarm = network::swarm(keypair, agent).map_err(NodeError::Network)?;
    let listen: Multiaddr = format!("/ip4/127.0.0.1/tcp/{}", cfg.listen_port)
        .parse()
        .map_err(|e| NodeError::Network(format!("listen address: {e}")))?;
    swarm
        .listen_on(listen)
        .map_err(|e| NodeError::Network(format!("listen: {e}")))?;
    let dial_list = parse_peers(&cfg.peers)?;
    let (shared_status, mut api_rx) =
        api::start(cfg.api_port, store.clone(), 64, cfg.chain_id).await?;
    tracing::info!(%address, peer = %me_peer, "follower started");
    let mut bound: HashMap<PeerId, cpchain_core::Address> = HashMap::new();
    let mut in_flight = false;
    let mut turn = 0usize;
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
    let result = loop {
        tokio::select! {
            ev = swarm.select_next_some() => match ev {
                SwarmEvent::Behaviour(BehaviourEvent::Identify(ev)) => {
                    if let identify::Event::Received { peer_id, info, .. } = *ev {
                        match binding::verify(&info.agent_version, cfg.chain_id, &peer_id) {
                            Ok(a) if set.contains(&a) => { bound.insert(peer_id, a); }
                            _ => { let _ = swarm.disconnect_peer_id(peer_id); }
                        }
                    }
                }
                SwarmEvent::Behaviour(BehaviourEvent::Sync(request_response::Event::Message {
                    message: request_response::Message::Response { response, .. }, peer, ..
                })) => {
                    in_flight = false;
                    let mut blocks = Vec::new();
                    for b in &response.0 {
                        match cpchain_core::encoding::decode(b) {
                            Ok(v) => blocks.push(v),
                            Err(e) => { tracing::warn!(%peer, "sync: undecodable block: {e}"); break; }
                        }
                    }
                    let rules = ImportRules {
                        spec: &spec,
                        validators: &set,
                        impeach_quorum: ImpeachQuorum::default(),
                        genesis: &genesis,
                        allocated: &allocated,
                    };
                    match import(&rules, &mut sched, &store, blocks) {
                        Ok((n, head)) if n > 0 => {
                            status.synced += n as u64;
                            tracing::info!(head = head.height.0, n, "follower: verified and stored");
                        }
                        Ok(_) => {}
                        Err(e) => break Err(e),
                    }
                }
                SwarmEvent::Behaviour(BehaviourEvent::Sync(request_response::Event::OutboundFailure { .. })) => in_flight = false,
                SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } => { bound.remove(&peer_id); }
                _ => {}
            },
            Some(req) = api_rx.recv() => match req {
                ApiRequest::Submit(items, reply) => {
                    let _ = reply.send(items.iter().map(|_| Err(crate::tx::TxError::MempoolFull)).collect());
                }
                ApiRequest::Account(a, reply) => {
                    let _ = reply.send(load_account(&store, &allocated, &a));
                }
            },
            _ = tick.tick() => {
                if exit_with_parent && std::os::unix::process::parent_id() != parent {
                    break Ok(());
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
                if !in_flight {
                    let mut ids: Vec<PeerId> = bound.keys().copied().collect();
                    ids.sort();
                    if !ids.is_empty() {
                        turn = turn.wrapping_add(1);
                        if let Some(p) = ids.get(turn % ids.len()) {
                            let req = network::SyncRequest { from: head + 1, max: network::SYNC_MAX_BLOCKS };
                            swarm.behaviour_mut().sync.send_request(p, req);
                            in_flight = true;
                        }
                    }
                }
                status.head = head;
                status.height = head + 1;
                status.peers = bound.len();
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
