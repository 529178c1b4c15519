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
//! Buyer's time to first reading (feature `pre`): 4 validators, 3 proxies, 6 storage
//! nodes and the owner's ingest node (the layout of `tests/data_services.rs`, release
//! build); 10 minutes of 1 Hz readings are ingested, then one interval is bought per run
//! (a different interval each run, same network). The clock starts when `trade::buy` is
//! called (listing lookup, order placed) and stops at the first write of the CSV (all of
//! the interval's readings decrypted). Parts, each measured: order commit (until the bench
//! sees the order on chain, polled every 10 ms), delivery wait (the owner's
//! `trade::sell`, run by the bench as the test does, until the buyer sees the delivery)
//! and fetch to decrypt (`Bought::time_to_first_reading`: grant accepted, anchors read,
//! the interval's blocks fetched from the DHT, 2-of-3 cfrags, verify, decrypt).
//!
//! Repair: six storage nodes (`Net::init_storage`) and this process as a writer/reader;
//! 24 blocks (~4 KiB each, k = 2, m = 2 as in `tests/dht_storage.rs`: k + m must fit on
//! the four survivors, since two shards of a block never share a node) put; two storage nodes SIGKILLed; the clock
//! runs from the kill until every block has k + m shards on the four live nodes, asked of
//! the holders (`Holds`, polled every 200 ms, as `tests/dht_storage.rs` does). A fresh
//! network per run.
//!
//! `DATA_BENCH_PARTS` (default `ingest,buyer,repair`) selects parts.
//!
//! `cargo bench -p cpchain-node --features pre --bench data_services`

#![allow(missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use cpchain_crypto::SecretKey;
use cpchain_node::config::NodeConfig;
use cpchain_node::devgateway::{simulate_cap, SimOptions, SimOutput};
use cpchain_node::gateway::{post_bytes, GatewayConfig};
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
    let parts = std::env::var("DATA_BENCH_PARTS").unwrap_or_else(|_| "ingest,buyer,repair".into());
    if parts.contains("ingest") {
        ingest(runs);
    }
    #[cfg(feature = "pre")]
    if parts.contains("buyer") {
        buyer(runs);
    }
    if parts.contains("repair") {
        repair(runs);
    }
}

fn ingest(runs: usize) {
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
                    streams.push(common::data::gateway_stream(stream_of(size, run), &device));
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

/// The repair figure (see the file docs).
fn repair(runs: usize) {
    use common::{positions_on, Net, STORAGE_CHAIN_ID};
    use cpchain_node::dht::{sample_blocks, spawn_client};
    const NODES: usize = 6;
    const BLOCKS: usize = 24;
    const KILLED: [usize; 2] = [0, 1];
    // k + m = 4: with r = 1 and two shards of a block never on one node, k + m must not
    // exceed the four survivors, or there is nowhere to repair to (`dht::placement`:
    // `NotEnoughNodes`; with k = 4, m = 2 no block ever returned to six shards).
    let params = ShardParams::new(2, 2).expect("params");
    let full = (1u64 << params.total()) - 1;
    let (mut repair, mut seen, mut lost) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        let writer = SecretKey::from_bytes(&[0x77; 32]).expect("writer");
        let (mut net, info) = Net::init_storage(
            "ds-bench-repair",
            NODES,
            1 << 30,
            &[writer.public_key().address()],
            &[],
        );
        net.start_all();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let client = spawn_client(&writer, STORAGE_CHAIN_ID, &info.addrs).expect("client");
            assert!(
                client.wait_for_nodes(NODES, Duration::from_secs(60)).await,
                "six storage nodes"
            );
            let blocks = sample_blocks(BLOCKS, 20, 200, params);
            for (record, shards) in &blocks {
                client.put_block(record, shards).await.expect("put");
            }
            for (record, _) in &blocks {
                assert_eq!(positions_on(&client, &info.peers, record).await, full);
            }
            for i in KILLED {
                net.kill9(i);
            }
            let killed_at = Instant::now();
            let deadline = killed_at + Duration::from_secs(30);
            while client.storage_nodes().len() != NODES - KILLED.len() {
                assert!(Instant::now() < deadline, "the kills were not seen");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            seen.push(killed_at.elapsed().as_secs_f64());
            let live: Vec<libp2p::PeerId> = (0..NODES)
                .filter(|i| !KILLED.contains(i))
                .map(|i| info.peers[i])
                .collect();
            let mut first_poll = None;
            let deadline = killed_at + Duration::from_secs(110);
            loop {
                let mut complete = 0;
                for (record, _) in &blocks {
                    if positions_on(&client, &live, record).await == full {
                        complete += 1;
                    }
                }
                first_poll.get_or_insert(BLOCKS - complete);
                if complete == BLOCKS {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "repair incomplete: {complete} of {BLOCKS} blocks have k + m shards"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let t = killed_at.elapsed().as_secs_f64();
            let incomplete = first_poll.unwrap_or(0);
            println!(
                "repair run {run}: kills seen by the client after {:.2} s; {incomplete} of {BLOCKS} blocks short of k + m at the first poll; all {BLOCKS} back to k + m = {} shards on the {} live nodes {t:.2} s after the kill",
                seen[run],
                params.total(),
                NODES - KILLED.len()
            );
            repair.push(t);
            lost.push(incomplete as f64);
        });
        net.stop_all();
    }
    println!(
        "repair after SIGKILL of 2 of {NODES} storage nodes (k = 2, m = 2, {BLOCKS} blocks): median {:.2} s from the kill (runs: {repair:.2?}); kills seen after median {:.2} s; blocks short at first poll: median {}",
        median(repair.clone()),
        median(seen.clone()),
        median(lost.clone())
    );
}

/// Records when the buyer writes its first CSV bytes.
#[cfg(feature = "pre")]
struct FirstWrite {
    first: Option<Instant>,
    bytes: Vec<u8>,
}

#[cfg(feature = "pre")]
impl std::io::Write for FirstWrite {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.first.get_or_insert_with(Instant::now);
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The buyer's time to first reading (see the file docs).
#[cfg(feature = "pre")]
fn buyer(runs: usize) {
    use common::data::{
        ingest_until_ready, owner_of, wait_anchors, DataNet, PROXIES, STORAGE, TIMEOUT,
    };
    use common::get_json;
    use cpchain_node::config::load_key;
    use cpchain_node::devgateway;
    use cpchain_node::ledger::order_id;
    use cpchain_node::proxy::ProxyEndpoint;
    use cpchain_node::trade::{self, BuyOptions};
    assert!(runs <= 10, "one interval of the listing per run");
    let DataNet {
        mut net,
        owner_key,
        master_bytes,
        stream,
        port,
        chain_id,
        gw_port,
        first,
        listing_id,
        readings,
        dir,
        ..
    } = DataNet::start("ds-bench-buyer");
    let r = ingest_until_ready(&dir, gw_port);
    assert!(r.refused.is_empty(), "{:?}", r.refused);
    wait_anchors(port, stream, 59);
    let buyer_key = load_key(&NodeConfig::load(&net.configs[1]).expect("c").key_file).expect("k");
    let buyer_addr = buyer_key.public_key().address();
    let proxies: Vec<ProxyEndpoint> = net.proxy_endpoints(&PROXIES);
    let mut owner = owner_of(&owner_key, master_bytes, stream, chain_id);
    let secs = |d: Duration| d.as_secs_f64();
    let (mut total, mut order_p, mut delivery_p, mut fetch_p, mut sale_p) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        let interval = first + 4 + run as u64;
        let (_, acct) = get_json(port, &format!("/account/{buyer_addr}"));
        let order = order_id(&buyer_addr, acct["nonce"].as_u64().expect("nonce"));
        let buy_opts = BuyOptions {
            api_port: port,
            chain_id,
            key: buyer_key.clone(),
            listing: listing_id.0,
            interval,
            schedule: devgateway::default_schedule(),
            storage_peers: STORAGE.iter().map(|&i| net.endpoint(i).0).collect(),
            proxies: proxies.clone(),
            timeout: TIMEOUT,
        };
        let buyer = std::thread::spawn(move || {
            let mut csv = FirstWrite {
                first: None,
                bytes: Vec::new(),
            };
            let t0 = Instant::now();
            let bought = trade::buy(&buy_opts, &mut csv);
            (t0, bought, csv)
        });
        let order_path = format!("/order/{}", hex::encode(order.0 .0));
        let deadline = Instant::now() + TIMEOUT;
        while get_json(port, &order_path).0 != 200 {
            assert!(Instant::now() < deadline, "order not on chain");
            std::thread::sleep(Duration::from_millis(10));
        }
        let t_order = Instant::now();
        trade::sell(
            port, chain_id, &mut owner, &owner_key, &order, &proxies, 2, TIMEOUT,
        )
        .expect("sell");
        let t_sold = Instant::now();
        let (t0, bought, csv) = buyer.join().expect("buyer thread");
        let bought = bought.expect("buy");
        let want = readings
            .iter()
            .filter(|(t, _)| t / 60_000 == interval)
            .count();
        assert_eq!(bought.readings.len(), want, "the whole interval");
        assert!(want > 0 && !csv.bytes.is_empty());
        let t_first = csv.first.expect("csv written");
        let fetch = bought.time_to_first_reading;
        let seen_delivery = t_first - fetch;
        let r = (
            secs(t_first - t0),
            secs(t_order - t0),
            secs(seen_delivery.saturating_duration_since(t_order)),
            secs(fetch),
            secs(t_sold - t_order),
        );
        println!(
            "buyer run {run} (interval {interval}, {want} readings): first CSV row {:.2} s after buy start = order commit {:.2} s + delivery wait {:.2} s (owner's sell {:.2} s) + fetch to decrypt {:.2} s",
            r.0, r.1, r.2, r.4, r.3
        );
        total.push(r.0);
        order_p.push(r.1);
        delivery_p.push(r.2);
        fetch_p.push(r.3);
        sale_p.push(r.4);
    }
    println!(
        "buyer's time to first reading, one interval, median of {runs}: {:.2} s; parts (medians): order commit {:.2} s, delivery wait {:.2} s (owner's sell {:.2} s), fetch to decrypt {:.2} s",
        median(total),
        median(order_p),
        median(delivery_p),
        median(sale_p),
        median(fetch_p)
    );
    net.stop_all();
}
