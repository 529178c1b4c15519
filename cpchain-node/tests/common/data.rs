//! Helpers of the data-services tests (issue 15 items 3 and 5): storage, gateway and
//! peer settings on a devnet's proposer slots, and (feature `pre`) the 14-process
//! data-services network that `tests/data_services.rs` and `benches/data_services.rs`
//! both set up, written once here.

use super::Net;
use cpchain_node::config::NodeConfig;
use std::path::PathBuf;

impl Net {
    /// Make node `i` (a proposer slot of `init_with`) a storage node instead: no campaign,
    /// a `storage` section with `quota_bytes` and the given writer addresses (issue 15).
    pub fn make_storage(&self, i: usize, quota_bytes: u64, writers: &[cpchain_core::Address]) {
        let mut cfg = NodeConfig::load(&self.configs[i]).expect("config");
        cfg.campaign = false;
        cfg.storage = Some(cpchain_node::config::StorageConfig {
            quota_bytes,
            per_peer_bytes: u64::MAX,
            writers: writers.iter().map(|a| a.to_string()).collect(),
            tamper_shards: false,
        });
        cfg.save(&self.configs[i]).expect("save config");
    }

    /// Make node `i` (a proposer slot) the owner's gateway-ingest node for `streams`, with
    /// the owner's master secret `master` written beside its data (issue 15 item 3).
    pub fn make_gateway(
        &self,
        i: usize,
        streams: Vec<cpchain_node::gateway::GatewayStream>,
        master: Option<&[u8; 32]>,
    ) {
        let mut cfg = NodeConfig::load(&self.configs[i]).expect("config");
        cfg.campaign = false;
        let owner_master_file = master.map(|m| {
            std::fs::create_dir_all(&cfg.data_dir).expect("data dir");
            std::fs::write(cfg.data_dir.join("owner.master"), hex::encode(m)).expect("master");
            PathBuf::from("owner.master")
        });
        cfg.gateway = Some(cpchain_node::gateway::GatewayConfig {
            streams,
            owner_master_file,
        });
        cfg.save(&self.configs[i]).expect("save config");
    }
}

impl Net {
    /// Add nodes `others` to node `i`'s peers (the devnet's followers dial only the
    /// validators; storage nodes and their clients must dial each other).
    pub fn add_peers(&self, i: usize, others: &[usize]) {
        let extra: Vec<String> = others
            .iter()
            .filter(|&&o| o != i)
            .map(|&o| self.endpoint(o).0)
            .collect();
        let mut cfg = NodeConfig::load(&self.configs[i]).expect("config");
        for e in extra {
            if !cfg.peers.contains(&e) {
                cfg.peers.push(e);
            }
        }
        cfg.save(&self.configs[i]).expect("save config");
    }
}

/// The gateway stream settings every data-services network uses (T = 10 s, e = 60 s,
/// u = 30 s; k = 4, m = 2) for `stream` from `device`: one place, so that the test and
/// the bench configure the ingest node alike.
pub fn gateway_stream(
    stream: cpchain_storage::StreamId,
    device: &cpchain_crypto::SecretKey,
) -> cpchain_node::gateway::GatewayStream {
    cpchain_node::gateway::GatewayStream {
        stream: hex::encode(stream.0),
        device: hex::encode(device.public_key().to_compressed()),
        period_ms: 10_000,
        interval_ms: 60_000,
        upload_ms: 30_000,
        data: 4,
        parity: 2,
    }
}

#[cfg(feature = "pre")]
#[allow(unused_imports)]
pub use self::network::*;

/// The 14-process data-services network of `tests/data_services.rs` and
/// `benches/data_services.rs` (issue 15), set up once for both.
#[cfg(feature = "pre")]
mod network {
    use super::super::{get_json, wait_for, Net};
    use super::gateway_stream;
    use cpchain_core::{Address, Timestamp};
    use cpchain_crypto::SecretKey;
    use cpchain_node::config::{load_key, NodeConfig};
    use cpchain_node::devgateway::{self, SimOptions, SimOutput};
    use cpchain_node::gateway::{self, DirReport};
    use cpchain_node::proxy::ProxyEndpoint;
    use cpchain_node::trade;
    use cpchain_node::tx::TxKind;
    use cpchain_storage::market::{Listing, ListingId};
    use cpchain_storage::sharing::{Owner, OwnerConfig};
    use cpchain_storage::{MasterSecret, StreamId};
    use std::path::{Path, PathBuf};
    use std::time::{Duration, Instant};

    /// Validators: nodes `0..VALIDATORS`.
    pub const VALIDATORS: usize = 4;
    /// The re-encryption proxies.
    pub const PROXIES: [usize; 3] = [4, 5, 6];
    /// The storage nodes.
    pub const STORAGE: [usize; 6] = [7, 8, 9, 10, 11, 12];
    /// The owner's gateway-ingest node.
    pub const GATEWAY: usize = 13;
    /// How long a step may take.
    pub const TIMEOUT: Duration = Duration::from_secs(60);

    /// A started data-services network with the owner's stream registered and listed and
    /// 10 minutes of the gateway's output written to `dir` (not yet ingested).
    pub struct DataNet {
        /// The processes.
        pub net: Net,
        /// The owner (the gateway node's key).
        pub owner_key: SecretKey,
        /// The owner's address.
        pub owner_addr: Address,
        /// The owner's master secret.
        pub master_bytes: [u8; 32],
        /// The stream.
        pub stream: StreamId,
        /// Validator 0's API port.
        pub port: u16,
        /// The chain id.
        pub chain_id: u64,
        /// The gateway node's API port.
        pub gw_port: u16,
        /// The listing's first interval (intervals `first..=first + 9` are listed).
        pub first: u64,
        /// The listing on chain.
        pub listing_id: ListingId,
        /// The gateway's outputs.
        pub outputs: Vec<SimOutput>,
        /// The readings given (time ms, bytes).
        pub readings: Vec<(u64, Vec<u8>)>,
        /// Where the outputs were written.
        pub dir: PathBuf,
    }

    impl DataNet {
        /// 4 validators, 3 proxies, 6 storage nodes and the owner's ingest node, started
        /// (heads at 3); the stream registered and listed (intervals 20 minutes back); the
        /// gateway's 10 minutes of 1 Hz readings (seed 15) written to a directory.
        pub fn start(name: &str) -> DataNet {
            let mut net = Net::init_with(
                name,
                VALIDATORS,
                PROXIES.len() + STORAGE.len() + 1,
                300,
                3_000,
                false,
            );
            let gw_cfg = NodeConfig::load(&net.configs[GATEWAY]).expect("config");
            let owner_key = load_key(&gw_cfg.key_file).expect("owner key");
            let owner_addr = owner_key.public_key().address();
            let mut writers: Vec<_> = STORAGE.iter().map(|&i| net.endpoint(i).1).collect();
            writers.push(owner_addr);
            for i in PROXIES {
                net.make_proxy(i);
            }
            for i in STORAGE {
                net.make_storage(i, 64 << 20, &writers);
            }
            let device = SecretKey::from_bytes(&[0x42; 32]).expect("device key");
            let master_bytes = [0x24; 32];
            let master = MasterSecret::from_bytes(master_bytes);
            let stream = StreamId([0x5a; 32]);
            net.make_gateway(
                GATEWAY,
                vec![gateway_stream(stream, &device)],
                Some(&master_bytes),
            );
            for i in STORAGE.iter().copied().chain([GATEWAY]) {
                net.add_peers(i, &STORAGE);
            }
            net.start_all();
            let all: Vec<usize> = (0..=GATEWAY).collect();
            assert!(
                net.wait_heads(&all, 3, Duration::from_secs(90)),
                "network did not start"
            );
            let cfg0 = NodeConfig::load(&net.configs[0]).expect("config");
            let (port, chain_id) = (cfg0.api_port.expect("api"), cfg0.chain_id);
            let gw_port = gw_cfg.api_port.expect("gateway api");

            // The owner registers the stream and lists it.
            trade::commit(
                port,
                &owner_key,
                chain_id,
                TxKind::RegisterStream {
                    stream,
                    device: device.public_key().to_compressed(),
                },
                TIMEOUT,
            )
            .expect("register");
            let now_ms = cpchain_node::node::now().0;
            let start_ms = (now_ms / 60_000 - 20) * 60_000;
            let first = start_ms / 60_000;
            let listing = Listing {
                chain_id,
                seller: owner_addr,
                title: heapless::String::try_from("greenhouse 7").expect("fits"),
                labels: heapless::Vec::new(),
                description: heapless::String::new(),
                price: 1_000,
                stream,
                first_interval: first,
                last_interval: first + 9,
                created_at: Timestamp(now_ms),
            }
            .sign(&owner_key)
            .expect("listing");
            let listing_id = listing.body.id().expect("id");
            trade::commit(
                port,
                &owner_key,
                chain_id,
                TxKind::Listing(Box::new(listing)),
                TIMEOUT,
            )
            .expect("listing");

            // The gateway: 10 minutes of 1 Hz readings, handed over from a directory.
            let opts = SimOptions {
                stream,
                schedule: devgateway::default_schedule(),
                start_ms,
                seconds: 600,
                pad: 0,
                seed: 15,
            };
            let (outputs, readings) =
                devgateway::simulate(&opts, &device, &master).expect("simulate");
            let dir = net.dir.0.join("gateway-out");
            devgateway::write_dir(&dir, &outputs).expect("write");
            DataNet {
                net,
                owner_key,
                owner_addr,
                master_bytes,
                stream,
                port,
                chain_id,
                gw_port,
                first,
                listing_id,
                outputs,
                readings,
                dir,
            }
        }
    }

    /// Hand `dir` to the ingest node at `gw_port`, retrying (every 500 ms, up to
    /// `TIMEOUT`) while the DHT has too few live storage nodes (503).
    pub fn ingest_until_ready(dir: &Path, gw_port: u16) -> DirReport {
        let started = Instant::now();
        loop {
            match gateway::ingest_dir(dir, gw_port) {
                Ok(r) => break r,
                Err(e) => {
                    assert!(started.elapsed() < TIMEOUT, "ingest: {e}");
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }
    }

    /// Wait until the chain's head anchor of `stream` has index `last_index`.
    pub fn wait_anchors(port: u16, stream: StreamId, last_index: u64) {
        assert!(
            wait_for(TIMEOUT, || {
                let (_, v) = get_json(port, &format!("/stream/{}", hex::encode(stream.0)));
                v["head"]["last_index"].as_u64() == Some(last_index)
            }),
            "anchors not on chain"
        );
    }

    /// The owner's sharing state machine for `stream` on `chain_id` (default settings).
    pub fn owner_of(
        owner_key: &SecretKey,
        master_bytes: [u8; 32],
        stream: StreamId,
        chain_id: u64,
    ) -> Owner {
        Owner::new(
            owner_key.clone(),
            MasterSecret::from_bytes(master_bytes),
            stream,
            OwnerConfig {
                chain_id,
                ..OwnerConfig::default()
            },
        )
        .expect("owner")
    }

    impl Net {
        /// The proxies `nodes` as a caller reaches them (chain address and multiaddr).
        pub fn proxy_endpoints(&self, nodes: &[usize]) -> Vec<ProxyEndpoint> {
            nodes
                .iter()
                .map(|&i| {
                    let (m, address) = self.endpoint(i);
                    ProxyEndpoint {
                        address,
                        multiaddr: m.parse().expect("multiaddr"),
                    }
                })
                .collect()
        }
    }
}
