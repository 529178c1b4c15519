//! Storage-node networks for the DHT tests (issue 15 item 2), apart from the other helpers
//! so that branches adding to `mod.rs` merge cleanly.

use super::{Net, TempDir};
use cpchain_node::config::NodeConfig;
use std::path::PathBuf;

/// Chain id of the storage-only networks of `Net::init_storage`.
pub const STORAGE_CHAIN_ID: u64 = 43;

/// Free TCP ports on 127.0.0.1 (bound together, then released).
pub fn free_ports(n: usize) -> Vec<u16> {
    let l: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("port"))
        .collect();
    l.iter()
        .map(|l| l.local_addr().expect("addr").port())
        .collect()
}

/// What `Net::init_storage` made besides the node directories.
pub struct StorageNetInfo {
    /// Multiaddrs (`/ip4/127.0.0.1/tcp/<port>/p2p/<peer>`) of the storage nodes.
    pub addrs: Vec<String>,
    /// Their peer ids.
    pub peers: Vec<libp2p::PeerId>,
}

impl Net {
    /// Keys and configs of `n` storage nodes (followers with a `storage` section, dialling
    /// each other) of a chain whose validators never run: the data layer needs no
    /// blocks. `writers` may store besides the storage nodes themselves; nodes listed in
    /// `tampered` serve tampered shards (fault injection).
    pub fn init_storage(
        name: &str,
        n: usize,
        quota_bytes: u64,
        writers: &[cpchain_core::Address],
        tampered: &[usize],
    ) -> (Net, StorageNetInfo) {
        use cpchain_node::config::{generate_key, StorageConfig};
        let dir = TempDir::new(name);
        // A committee of four (3f + 1, f ≥ 1) that never runs.
        let validators: Vec<String> = (0..4)
            .map(|i| {
                let k = generate_key(&dir.0.join(format!("validator-{i}.key"))).expect("key");
                hex::encode(k.public_key().to_compressed())
            })
            .collect();
        let keys: Vec<_> = (0..n)
            .map(|i| {
                let d = dir.0.join(format!("node-{i}"));
                std::fs::create_dir_all(&d).expect("dir");
                generate_key(&d.join("key")).expect("key")
            })
            .collect();
        let ports = free_ports(n);
        let peers: Vec<libp2p::PeerId> =
            keys.iter().map(cpchain_node::binding::peer_id_of).collect();
        let addrs: Vec<String> = ports
            .iter()
            .zip(&peers)
            .map(|(port, p)| format!("/ip4/127.0.0.1/tcp/{port}/p2p/{p}"))
            .collect();
        let mut all_writers: Vec<String> = writers.iter().map(|a| a.to_string()).collect();
        all_writers.extend(keys.iter().map(|k| k.public_key().address().to_string()));
        let mut configs = Vec::new();
        for (i, port) in ports.iter().enumerate() {
            let cfg = NodeConfig {
                chain_id: STORAGE_CHAIN_ID,
                block_period_ms: 1_000,
                impeach_timeout_ms: 3_000,
                genesis_ms: 1_700_000_000_000,
                validators: validators.clone(),
                key_file: PathBuf::from("key"),
                data_dir: PathBuf::from("."),
                listen_port: *port,
                api_port: None,
                peers: addrs
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, a)| a.clone())
                    .collect(),
                vote_log: false,
                silent_proposer: false,
                proposers: Vec::new(),
                campaign: false,
                gossip: Default::default(),
                catch_up_heights: 8,
                max_block_bytes: 1 << 20,
                proxy: None,
                storage: Some(StorageConfig {
                    quota_bytes,
                    per_peer_bytes: u64::MAX,
                    writers: all_writers.clone(),
                    tamper_shards: tampered.contains(&i),
                }),
                gateway: None,
            };
            let path = dir.0.join(format!("node-{i}")).join("config.json");
            cfg.save(&path).expect("save config");
            configs.push(path);
        }
        let children = (0..n).map(|_| None).collect();
        (
            Net {
                dir,
                configs,
                children,
            },
            StorageNetInfo { addrs, peers },
        )
    }
}

/// Union over the live nodes of the shard positions they hold of `record`'s block, asked
/// of each holder (`Holds`): how the DHT test and the repair bench judge repair alike.
pub async fn positions_on(
    client: &cpchain_node::dht::StorageClient,
    live: &[libp2p::PeerId],
    record: &cpchain_storage::KeyIndexRecord,
) -> u64 {
    let mut mask = 0;
    for p in live {
        if let Ok((_, m)) = client.holds(*p, record.block).await {
            mask |= m;
        }
    }
    mask
}
