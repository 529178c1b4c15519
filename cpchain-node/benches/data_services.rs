//! Issue 15 "Figures": the gateway-to-DHT ingest rate through one node (release-built
//! `cpchain-node` processes on 127.0.0.1: one ingest node, six storage nodes, k = 4,
//! m = 2), for ~4 KiB and ~64 KiB blocks, against the library's own write + shard rate
//! (`Writer` sealing and signing, then `shard_block`) measured in this process in the same
//! run. Not criterion: it measures processes (like `benches/devnet.rs`). Each figure is
//! the median of `DATA_BENCH_RUNS` runs (default 3).
//!
//! The ingest node judges each block (decode, signature, chain position), shards it,
//! attaches nothing (no owner master: no capsule) and stores it through
//! `StorageClient::put_block`: six shard puts and the record to the closest nodes, each
//! kept durably by its storage node before it answers. Blocks go one at a time over
//! `POST /gateway/{stream}/blocks` (a gateway's own pace); anchors are not sent (they go
//! to the chain, not the DHT).
//!
//! `cargo bench -p cpchain-node --features pre --bench data_services`

#![allow(missing_docs)]

use cpchain_crypto::SecretKey;
use cpchain_node::config::NodeConfig;
use cpchain_node::devgateway::{simulate_cap, SimOptions, SimOutput};
use cpchain_node::gateway::{post_bytes, GatewayConfig, GatewayStream};
use cpchain_storage::{shard_block, MasterSecret, ShardParams, StreamId, VecBlock};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const EXE: &str = env!("CARGO_BIN_EXE_cpchain-node");
const STORAGE: usize = 6;

struct Procs(Vec<Child>);
impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn blocks_of(outputs: &[SimOutput]) -> Vec<Vec<u8>> {
    outputs
        .iter()
        .filter_map(|o| match o {
            SimOutput::Block(b) => Some(b.clone()),
            SimOutput::Anchor(_) => None,
        })
        .collect()
}

/// Library: write (seal + sign every block) and shard them; blocks per second.
fn library_rate<const N: usize>(
    opts: &SimOptions,
    device: &SecretKey,
    master: &MasterSecret,
) -> (f64, Vec<Vec<u8>>) {
    let t = Instant::now();
    let (outputs, _) = simulate_cap::<N>(opts, device, master).expect("simulate");
    let blocks = blocks_of(&outputs);
    let params = ShardParams::new(4, 2).expect("params");
    for b in &blocks {
        let block: VecBlock = cpchain_core::encoding::decode(b).expect("decode");
        let _ = shard_block(&block, params).expect("shard");
    }
    (blocks.len() as f64 / t.elapsed().as_secs_f64(), blocks)
}

fn main() {
    let runs: usize = std::env::var("DATA_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let dir = std::env::temp_dir().join(format!("cpchain-data-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(EXE)
        .args(["devnet", "--init-only", "--validators", "4", "--proposers"])
        .arg((STORAGE + 1).to_string())
        .arg("--dir")
        .arg(&dir)
        .output()
        .expect("init");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let configs: Vec<PathBuf> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(PathBuf::from)
        .collect();
    let endpoint = |i: usize| {
        let cfg = NodeConfig::load(&configs[i]).expect("config");
        let key = cpchain_node::config::load_key(&cfg.key_file).expect("key");
        let peer = cpchain_node::binding::peer_id_of(&key);
        (
            format!("/ip4/127.0.0.1/tcp/{}/p2p/{peer}", cfg.listen_port),
            key.public_key().address(),
        )
    };
    let storage: Vec<usize> = (4..4 + STORAGE).collect();
    let gw = 4 + STORAGE;
    let mut writers: Vec<String> = storage.iter().map(|&i| endpoint(i).1.to_string()).collect();
    writers.push(endpoint(gw).1.to_string());
    let peers: Vec<String> = storage.iter().map(|&i| endpoint(i).0).collect();
    let device = SecretKey::from_bytes(&[0x42; 32]).expect("device");
    let master = MasterSecret::from_bytes([0x24; 32]);
    let schedule = cpchain_node::devgateway::default_schedule();
    // One stream per (size, run): each run starts a fresh chain.
    let stream_of = |size: u8, run: usize| {
        StreamId([
            size, run as u8, 0x5a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0,
        ])
    };
    for &i in storage.iter().chain([gw].iter()) {
        let mut cfg = NodeConfig::load(&configs[i]).expect("config");
        cfg.campaign = false;
        for p in &peers {
            if !cfg.peers.contains(p) && *p != endpoint(i).0 {
                cfg.peers.push(p.clone());
            }
        }
        if i == gw {
            let mut streams = Vec::new();
            for size in [4u8, 64] {
                for run in 0..runs {
                    streams.push(GatewayStream {
                        stream: hex::encode(stream_of(size, run).0),
                        device: hex::encode(device.public_key().to_compressed()),
                        period_ms: 10_000,
                        interval_ms: 60_000,
                        upload_ms: 30_000,
                        data: 4,
                        parity: 2,
                    });
                }
            }
            cfg.gateway = Some(GatewayConfig {
                streams,
                owner_master_file: None,
            });
        } else {
            cfg.storage = Some(cpchain_node::config::StorageConfig {
                quota_bytes: 4 << 30,
                per_peer_bytes: u64::MAX,
                writers: writers.clone(),
                tamper_shards: false,
            });
        }
        cfg.save(&configs[i]).expect("save");
    }
    let mut procs = Procs(Vec::new());
    for &i in storage.iter().chain([gw].iter()) {
        let log = std::fs::File::create(configs[i].with_file_name("node.log")).expect("log");
        procs.0.push(
            Command::new(EXE)
                .args(["run", "--exit-with-parent", "--config"])
                .arg(&configs[i])
                .env("CPCHAIN_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::from(log))
                .spawn()
                .expect("spawn"),
        );
    }
    let port = NodeConfig::load(&configs[gw])
        .expect("c")
        .api_port
        .expect("api");
    let start_ms = 1_800_000_000_000;
    println!(
        "data services bench: 1 ingest node, {STORAGE} storage nodes (k = 4, m = 2), {runs} runs"
    );
    for (size, pad, seconds) in [(4u8, 380usize, 2_000u64), (64, 6_400, 600)] {
        let (mut lib, mut node, mut bytes) = (Vec::new(), Vec::new(), 0usize);
        for run in 0..runs {
            let opts = SimOptions {
                stream: stream_of(size, run),
                schedule,
                start_ms,
                seconds,
                pad,
                seed: run as u64,
            };
            let (rate, blocks) = if size == 4 {
                library_rate::<4096>(&opts, &device, &master)
            } else {
                library_rate::<65_536>(&opts, &device, &master)
            };
            lib.push(rate);
            bytes = blocks.iter().map(Vec::len).sum::<usize>() / blocks.len();
            let path = format!("/gateway/{}/blocks", hex::encode(opts.stream.0));
            // The first block waits (bounded) until the DHT has its six live nodes.
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let (status, body) = post_bytes(port, &path, &blocks[0]).expect("post");
                if status == 200 {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "ingest not ready: {status} {body}"
                );
                std::thread::sleep(Duration::from_millis(250));
            }
            let t = Instant::now();
            for b in &blocks[1..] {
                let (status, body) = post_bytes(port, &path, b).expect("post");
                assert_eq!(status, 200, "{body}");
            }
            node.push((blocks.len() - 1) as f64 / t.elapsed().as_secs_f64());
        }
        let (l, n) = (median(lib), median(node));
        println!(
            "~{size} KiB blocks ({bytes} B encoded): ingest through one node {n:.1} blocks/s ({:.2} MiB/s); library write + shard {l:.1} blocks/s; ratio {:.3}",
            n * bytes as f64 / (1 << 20) as f64,
            n / l
        );
    }
    drop(procs);
    let _ = std::fs::remove_dir_all(&dir);
}
