//! Issue 14 "Benchmark": a loopback devnet of 4 and then 7 validator processes (the
//! release-built `cpchain-node`), block period 500 ms, 1 MiB block limit, fed signed
//! 200-byte transfers (`TxKind::TransferData`, the size asserted) from many accounts by a
//! load generator (this process) at rising rates (1.35× a level) until it saturates, then
//! at a few rates just above the best committed one so far (the knee; `DEVNET_BENCH_REFINE`
//! levels, default 2). Not criterion: it measures processes. For each network it prints
//!
//! * sustained tx/s (committed transactions per second over each rate's window; the
//!   highest window is the figure),
//! * submission-to-commit latency p50/p99 (POST of the batch → the block carrying the
//!   transaction seen at a node, polled every 20 ms),
//! * CPU per transaction (utime + stime of all node processes from `/proc/<pid>/stat`
//!   over the window ÷ transactions committed in it),
//!
//! and, in the same run, the raw recover (+ address) rate of k256 and (with feature
//! `libsecp256k1`) libsecp256k1 on one core, the machine's limit `cores × raw rate ÷
//! validators` for the backend the nodes were built with, and the ratio. The backend's
//! raw rate is measured just before each network and again just after it, and the limit
//! is taken from their mean: this VM's speed drifts by up to a third within minutes, and
//! one measurement minutes before the levels it is compared with moved the ratio with it.
//! Beside it (printed, not used in the limit) the rate per core with every core running
//! the same loop at once, as the cores of a saturated devnet do.
//!
//! `cargo bench -p cpchain-node --bench devnet` (k256 nodes), or with
//! `--features libsecp256k1` (libsecp256k1 nodes). `DEVNET_BENCH_VALIDATORS=4` runs one
//! size only; `DEVNET_BENCH_SECS` sets each rate's window (default 8);
//! `DEVNET_BENCH_TX_BYTES=92` feeds plain transfers instead of 200-byte ones;
//! `DEVNET_BENCH_EXE=PATH` runs another node binary (a saved build of older code);
//! `DEVNET_BENCH_RATE=R` starts at R tx/s (to profile one level);
//! `DEVNET_BENCH_GOSSIP=mesh` (or `direct`) overrides the validators' gossip mode the
//! devnet writes (`direct`; see `network::GossipMode`), for before/after runs of issue 14;
//! `DEVNET_BENCH_ROUTE=account` sends each account's transactions through one node
//! instead of each batch to the next node;
//! `DEVNET_BENCH_KEEP=1` keeps the devnet's directory (configs, databases, node logs);
//! `DEVNET_BENCH_LOG=info` sets the nodes' log filter (default `warn`);
//! `DEVNET_BENCH_JSON=1` submits `{"txs": [hex…]}` instead of the batch wire form
//! (needed for node builds older than the wire form).
//!
//! Each level also prints the gossip copies each node received per message delivered, by
//! topic (the status files' `gossip_lbft` / `gossip_tx`; "n/a" from builds without them),
//! and the CPU of this load generator per transaction (it shares the cores with the nodes).

#![allow(missing_docs)]

use cpchain_core::{Address, Hash};
use cpchain_crypto::{keccak256, SecretKey, Signature};
use cpchain_node::api::{http, post_batch};
use cpchain_node::config::{load_key, NodeConfig};
use cpchain_node::ingest::MAX_BATCH_TXS;
use cpchain_node::status::Status;
use cpchain_node::tx::{Transaction, TxBody, TxKind};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The node binary: this build's, or `DEVNET_BENCH_EXE` (a saved build of other code,
/// for before/after runs in one session with the same load generator).
fn exe() -> String {
    std::env::var("DEVNET_BENCH_EXE").unwrap_or_else(|_| env!("CARGO_BIN_EXE_cpchain-node").into())
}
const PERIOD_MS: u64 = 500;
const ACCOUNTS: usize = 1_000;
const BATCHES_PER_SEC: u64 = 10;
/// Levels run after the first saturated one, each at 1.08× the best committed rate so far
/// (`DEVNET_BENCH_REFINE`, default 2; 0 stops at the first saturated level, as before).
fn refine_levels() -> usize {
    std::env::var("DEVNET_BENCH_REFINE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2)
}
/// The transfer size: every fed transaction encodes to exactly this many bytes
/// (`DEVNET_BENCH_TX_BYTES=92` feeds plain 92-byte `Transfer`s instead, the size the
/// benchmark fed before `TransferData` existed, for before/after comparisons).
fn tx_bytes() -> usize {
    std::env::var("DEVNET_BENCH_TX_BYTES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200)
}

/// CPU time (utime + stime) of the calling thread, seconds (10 ms ticks).
fn thread_cpu(tck: f64) -> f64 {
    let s = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let rest = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ut: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let st: f64 = f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    (ut + st) / tck
}

/// A recover + address function under measurement (shared by the measuring threads).
type Recover = dyn Fn(&Hash, &Signature) -> Address + Sync;

/// One core's recover + address rate: (per wall second, per CPU second of the thread),
/// medians of 5 runs of ~1 s. On a shared machine the wall rate includes preemption; the
/// CPU rate is what one core gives when it is ours.
fn raw_rate(recover: &Recover, tck: f64) -> (f64, f64) {
    let items: Vec<(Hash, Signature)> = (1u8..=16)
        .map(|i| {
            let sk = SecretKey::from_bytes(&[i; 32]).expect("scalar");
            let d = keccak256(&[i, 0x5a]);
            (d, sk.sign_prehash(&d))
        })
        .collect();
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let c = thread_cpu(tck);
        let mut n = 0u64;
        while t.elapsed() < Duration::from_millis(1_000) {
            for (d, s) in &items {
                std::hint::black_box(recover(std::hint::black_box(d), s));
                n += 1;
            }
        }
        wall.push(n as f64 / t.elapsed().as_secs_f64());
        cpu.push(n as f64 / (thread_cpu(tck) - c).max(1e-3));
    }
    wall.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    (wall[2], cpu[2])
}

/// [`raw_rate`]'s per-CPU-second rate with the loop running on `cores` threads at once,
/// the mean of the threads: what each core gives when every core recovers, as in a
/// saturated devnet (two vCPUs can share a physical core, and cores share caches and
/// memory bandwidth). Printed beside the limit, not used in it: the limit is
/// `cores ×` the one-core rate.
fn raw_rate_all_cores(recover: &Recover, tck: f64, cores: usize) -> f64 {
    std::thread::scope(|s| {
        let threads: Vec<_> = (0..cores)
            .map(|_| s.spawn(|| raw_rate(recover, tck).1))
            .collect();
        let rates: Vec<f64> = threads
            .into_iter()
            .map(|t| t.join().expect("joins"))
            .collect();
        rates.iter().sum::<f64>() / rates.len().max(1) as f64
    })
}

fn clock_ticks() -> f64 {
    // CLK_TCK; 100 on every Linux this runs on (getconf is the portable way).
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime of a process, seconds.
fn cpu_secs(pid: u32, tck: f64) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command (which may contain spaces) start after the last ')'.
    let rest = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ut: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let st: f64 = f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    (ut + st) / tck
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Work counters of the nodes' status files, summed over the nodes.
#[derive(Default)]
struct Counters {
    recoveries: u64,
    block_recoveries: u64,
    cache_hits: u64,
    batches_dropped: u64,
    impeached: u64,
    committed: u64,
    lbft_copies: u64,
    lbft_delivered: u64,
    tx_copies: u64,
    tx_delivered: u64,
    compact_pending: u64,
    synced: u64,
}

impl Counters {
    fn minus(&self, o: &Counters) -> Counters {
        Counters {
            recoveries: self.recoveries.saturating_sub(o.recoveries),
            block_recoveries: self.block_recoveries.saturating_sub(o.block_recoveries),
            cache_hits: self.cache_hits.saturating_sub(o.cache_hits),
            batches_dropped: self.batches_dropped.saturating_sub(o.batches_dropped),
            impeached: self.impeached.saturating_sub(o.impeached),
            committed: self.committed.saturating_sub(o.committed),
            lbft_copies: self.lbft_copies.saturating_sub(o.lbft_copies),
            lbft_delivered: self.lbft_delivered.saturating_sub(o.lbft_delivered),
            tx_copies: self.tx_copies.saturating_sub(o.tx_copies),
            tx_delivered: self.tx_delivered.saturating_sub(o.tx_delivered),
            compact_pending: self.compact_pending.saturating_sub(o.compact_pending),
            synced: self.synced.saturating_sub(o.synced),
        }
    }
}

struct Devnet {
    dir: PathBuf,
    configs: Vec<PathBuf>,
    children: Vec<Child>,
}

impl Drop for Devnet {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = Command::new("kill").arg(c.id().to_string()).status();
        }
        for c in &mut self.children {
            let _ = c.wait();
        }
        if std::env::var_os("DEVNET_BENCH_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            println!("devnet kept in {}", self.dir.display());
        }
    }
}

impl Devnet {
    fn start(n: usize) -> Devnet {
        let dir = std::env::temp_dir().join(format!(
            "cpchain-node-devnet-bench-{}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let out = Command::new(exe())
            .args(["devnet", "--init-only", "--validators"])
            .arg(n.to_string())
            .args(["--period-ms", &PERIOD_MS.to_string()])
            .args(["--impeach-timeout-ms", "3000", "--dir"])
            .arg(&dir)
            .output()
            .expect("devnet --init-only");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let configs: Vec<PathBuf> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(PathBuf::from)
            .collect();
        if let Ok(mode) = std::env::var("DEVNET_BENCH_GOSSIP") {
            let mode: cpchain_node::network::GossipMode =
                serde_json::from_value(serde_json::Value::String(mode)).expect("mesh or direct");
            for c in &configs {
                let mut cfg = NodeConfig::load(c).expect("config");
                cfg.gossip = mode;
                cfg.save(c).expect("config saved");
            }
        }
        let children = configs
            .iter()
            .map(|c| {
                let log = std::fs::File::create(c.with_file_name("node.log")).expect("log");
                Command::new(exe())
                    .args(["run", "--exit-with-parent", "--config"])
                    .arg(c)
                    .env(
                        "CPCHAIN_LOG",
                        std::env::var("DEVNET_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
                    )
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::from(log))
                    .spawn()
                    .expect("spawn node")
            })
            .collect();
        Devnet {
            dir,
            configs,
            children,
        }
    }

    fn status(&self, i: usize) -> Option<Status> {
        cpchain_node::devnet::read_status(&self.configs[i])
    }

    /// The nodes' work counters, summed (committed transactions from node 0).
    fn counters(&self) -> Counters {
        let mut c = Counters::default();
        for i in 0..self.configs.len() {
            if let Some(s) = self.status(i) {
                c.recoveries += s.recoveries;
                c.block_recoveries += s.block_recoveries;
                c.cache_hits += s.sender_cache_hits;
                c.batches_dropped += s.gossip_batches_dropped;
                c.lbft_copies += s.gossip_lbft.copies;
                c.lbft_delivered += s.gossip_lbft.delivered;
                c.tx_copies += s.gossip_tx.copies;
                c.tx_delivered += s.gossip_tx.delivered;
                c.compact_pending += s.compact_pending;
                c.synced += s.synced;
                if i == 0 {
                    c.impeached = s.impeached;
                    c.committed = s.committed_txs;
                }
            }
        }
        c
    }

    /// Each node's height being decided (`?` where its status is unreadable).
    fn heights(&self) -> String {
        (0..self.configs.len())
            .map(|i| {
                self.status(i)
                    .map_or_else(|| "?".to_string(), |s| s.height.to_string())
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    fn cpu(&self, tck: f64) -> f64 {
        self.children.iter().map(|c| cpu_secs(c.id(), tck)).sum()
    }
}

/// `POST /txs` in the batch wire form (or JSON with `DEVNET_BENCH_JSON=1`): how many
/// were admitted, and the ones refused with `mempool_full` (all of them if the node did
/// not answer), which the load generator sends again like a client would: dropped, each
/// would leave a nonce gap that holds back every later transaction of its account.
fn post(port: u16, txs: &[Vec<u8>]) -> (usize, Vec<Vec<u8>>) {
    let reply = if std::env::var_os("DEVNET_BENCH_JSON").is_some() {
        let hexes: Vec<String> = txs.iter().map(hex::encode).collect();
        let body = serde_json::json!({ "txs": hexes }).to_string();
        http(port, "POST", "/txs", Some(&body))
    } else {
        post_batch(port, txs)
    };
    let (status, reply) = match reply {
        Ok(r) => r,
        Err(e) => {
            eprintln!("POST /txs failed: {e}");
            return (0, txs.to_vec());
        }
    };
    // Anything but 200 is the load generator's own mistake (a batch too large or
    // malformed): stop, rather than take it for `mempool_full` and resend.
    assert_eq!(
        status,
        200,
        "POST /txs of {} transactions: {reply}",
        txs.len()
    );
    let v: serde_json::Value = serde_json::from_str(&reply).unwrap_or_default();
    let Some(results) = v["results"].as_array() else {
        return (0, txs.to_vec());
    };
    let mut accepted = 0;
    let mut again = Vec::new();
    for (tx, r) in txs.iter().zip(results) {
        if r["hash"].is_string() {
            accepted += 1;
        } else if r["code"] == "mempool_full" {
            again.push(tx.clone());
        }
    }
    (accepted, again)
}

/// A signed transfer of exactly [`tx_bytes`] bytes: a `TransferData` whose payload fills
/// the rest (a 92-byte plain transfer at a 1-byte nonce, plus the payload's length byte),
/// or with 92 a plain `Transfer` (the size then grows with the nonce's varint).
fn transfer(k: &SecretKey, nonce: u64, to: Address) -> Vec<u8> {
    let size = tx_bytes();
    let varint = |mut v: u64| {
        let mut n = 1;
        while v >= 0x80 {
            v >>= 7;
            n += 1;
        }
        n
    };
    let kind = if size <= 92 {
        TxKind::Transfer { to, amount: 1 }
    } else {
        TxKind::TransferData {
            to,
            amount: 1,
            data: vec![0x5a; size.saturating_sub(92 + varint(nonce))],
        }
    };
    let bytes = Transaction::sign(
        k,
        TxBody {
            chain_id: 41,
            nonce,
            kind,
        },
    )
    .to_bytes();
    if size > 92 {
        assert_eq!(bytes.len(), size, "fed transfers are {size} bytes");
    }
    bytes
}

/// `count` transfers, round robin over the accounts from their next nonces, signed on
/// every core.
fn presign(keys: &[SecretKey], nonces: &mut [u64], count: usize) -> Vec<Fed> {
    let jobs: Vec<(usize, u64)> = (0..count)
        .map(|i| {
            let a = i % keys.len();
            let n = nonces[a];
            nonces[a] += 1;
            (a, n)
        })
        .collect();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| {
        let hs: Vec<_> = jobs
            .chunks(jobs.len().div_ceil(cores).max(1))
            .map(|c| {
                s.spawn(move || {
                    c.iter()
                        .map(|(a, n)| (*a, *n, transfer(&keys[*a], *n, Address([7; 20]))))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter()
            .flat_map(|h| h.join().expect("signer"))
            .collect()
    })
}

/// Blocks as seen: when, and the hashes of their transactions.
type Seen = Vec<(Instant, Vec<[u8; 32]>)>;

/// What one loader thread did: transactions accepted, and each one's hash and the time of
/// the POST that was accepted.
type Sent = (usize, Vec<([u8; 32], Instant)>);

/// An account with a refused transaction: its transactions waiting to be sent again (in
/// nonce order), by the loader thread that was refused (`owner`).
struct Hold {
    owner: usize,
    waiting: Vec<Fed>,
}

impl Hold {
    /// `f` waits behind its account's earlier ones (the account held by `owner` if it
    /// was not held yet).
    fn wait(held: &mut HashMap<usize, Hold>, owner: usize, f: Fed) {
        held.entry(f.0)
            .or_insert(Hold {
                owner,
                waiting: Vec::new(),
            })
            .waiting
            .push(f);
    }
}

/// A fed transfer: its account's index, its nonce and its bytes.
type Fed = (usize, u64, Vec<u8>);

/// Watches node 0's blocks: for each committed transaction hash, when it was seen.
struct Watcher {
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Watcher {
    fn start(port: u16, status: PathBuf) -> Watcher {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s2, st2) = (seen.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            let mut next = cpchain_node::devnet::read_status(&status)
                .map(|s| s.head + 1)
                .unwrap_or(1);
            while !st2.load(Ordering::Relaxed) {
                match http(port, "GET", &format!("/block/{next}"), None) {
                    Ok((200, body)) => {
                        let t = Instant::now();
                        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                        let hashes: Vec<[u8; 32]> = v["transactions"]
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .filter_map(|h| {
                                        let mut o = [0u8; 32];
                                        hex::decode_to_slice(h.as_str()?, &mut o).ok()?;
                                        Some(o)
                                    })
                                    .collect()
                            })
                            .unwrap_or_default();
                        s2.lock().expect("lock").push((t, hashes));
                        next += 1;
                    }
                    _ => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Watcher {
            seen,
            stop,
            handle: Some(handle),
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

struct Level {
    offered: f64,
    accepted: f64,
    sustained: f64,
    p50_ms: f64,
    p99_ms: f64,
    cpu_ms_per_tx: f64,
    backlog: usize,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn run_network(n: usize, window: Duration, limit: f64, tck: f64) -> Vec<Level> {
    let net = Devnet::start(n);
    let cfgs: Vec<NodeConfig> = net
        .configs
        .iter()
        .map(|c| NodeConfig::load(c).expect("config"))
        .collect();
    let ports: Vec<u16> = cfgs.iter().map(|c| c.api_port.expect("api")).collect();
    let t0 = Instant::now();
    while (0..n).any(|i| net.status(i).is_none_or(|s| s.head < 2 || s.peers + 1 < n)) {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "devnet did not start"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Fund the accounts from the validators.
    let vkeys: Vec<SecretKey> = cfgs
        .iter()
        .map(|c| load_key(&c.key_file).expect("key"))
        .collect();
    let keys: Vec<SecretKey> = (0..ACCOUNTS)
        .map(|i| {
            let mut b = [0x22u8; 32];
            b[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
            SecretKey::from_bytes(&b).expect("scalar")
        })
        .collect();
    let per = ACCOUNTS.div_ceil(n);
    for (v, vk) in vkeys.iter().enumerate() {
        let fund: Vec<Vec<u8>> = keys
            .iter()
            .skip(v * per)
            .take(per)
            .enumerate()
            .map(|(j, k)| {
                Transaction::sign(
                    vk,
                    TxBody {
                        chain_id: 41,
                        nonce: j as u64,
                        kind: TxKind::Transfer {
                            to: k.public_key().address(),
                            amount: 1_000_000_000_000,
                        },
                    },
                )
                .to_bytes()
            })
            .collect();
        assert_eq!(post(ports[v], &fund).0, fund.len(), "funding refused");
    }
    let funded = |net: &Devnet| net.status(0).map_or(0, |s| s.committed_txs) >= ACCOUNTS as u64;
    while !funded(&net) {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "funding did not commit"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let tx_len = transfer(&keys[0], 0, Address([7; 20])).len();
    println!(
        "devnet n={n}: started and funded {ACCOUNTS} accounts in {:.1} s; transfers are {tx_len} bytes",
        t0.elapsed().as_secs_f64()
    );

    let mut nonces = vec![0u64; ACCOUNTS];
    // Refused with `mempool_full` at the previous level: sent first at the next.
    let mut again: Vec<Fed> = Vec::new();
    let mut levels: Vec<Level> = Vec::new();
    let mut refined = 0usize;
    let watcher = Watcher::start(ports[0], net.configs[0].clone());
    // `DEVNET_BENCH_RATE` starts at a given rate (for profiling one level).
    let mut rate = std::env::var("DEVNET_BENCH_RATE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or((limit * 0.3).max(200.0));
    loop {
        let total = (rate * window.as_secs_f64()) as usize;
        let mut txs = std::mem::take(&mut again);
        if txs.len() > total {
            again = txs.split_off(total);
        }
        let fresh = total.saturating_sub(txs.len());
        txs.extend(presign(&keys, &mut nonces, fresh));
        let per_batch = (rate / BATCHES_PER_SEC as f64).ceil() as usize;
        let blocks_before = watcher.seen.lock().expect("lock").len();
        let counters_before = net.counters();
        let start = Instant::now();
        // One loader thread per node, each posting every n-th batch on schedule (a slow
        // reply from one node does not hold back the others).
        let batches: Vec<&[Fed]> = txs.chunks(per_batch.max(1)).collect();
        // Accounts with a transaction refused (`mempool_full`) at this level, as a wallet
        // handles a refusal: the refused transaction and the account's later ones wait
        // (not sent past the gap: sent past it, they would wait in the pools for a
        // predecessor the full pools keep refusing; at the knee levels of one run in
        // session 8, 18,230 such transactions filled the pools and the chain went on
        // deciding empty blocks), and the loader thread that was refused sends them again,
        // in nonce order, with its next batch (n × 100 ms later). Until session 10 they
        // waited for the next level instead (8 s): under overload every refusal left its
        // account silent for the rest of the level and a 1.35× overload level committed
        // half of what the level below it did (3,716 against 7,400 tx/s; BENCHMARKS.md,
        // seventh pass). What still waits when the level's offer ends goes first at the
        // next level.
        let held: Mutex<HashMap<usize, Hold>> = Mutex::new(HashMap::new());
        let retried = std::sync::atomic::AtomicUsize::new(0);
        let window_start: Mutex<Option<(Instant, f64, usize, f64)>> = Mutex::new(None);
        // Each batch to the next node (default), or each account through one node as a
        // wallet talks to its node (`DEVNET_BENCH_ROUTE=account`: n times the POSTs and
        // gossip messages, each 1/n the size; measured 0.262-0.276 ms CPU per transaction
        // at n = 4 against 0.244-0.250 by batch; docs/BENCHMARKS.md, sixth pass). By batch, an account's
        // consecutive nonces reach different nodes ~100 ms apart and every pool orders
        // them from the others' gossip: under deep overload (gossip shed) the queued
        // parts fill with transactions whose predecessors sit in another pool.
        let by_account = std::env::var("DEVNET_BENCH_ROUTE").is_ok_and(|r| r == "account");
        let results: Vec<Sent> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..n)
                .map(|node| {
                    let (batches, ports, watcher, net, window_start, held, retried) = (
                        &batches,
                        &ports,
                        &watcher,
                        &net,
                        &window_start,
                        &held,
                        &retried,
                    );
                    s.spawn(move || {
                        let mut accepted = 0usize;
                        let mut sent = Vec::new();
                        for (b, chunk) in batches
                            .iter()
                            .enumerate()
                            .filter(|(b, _)| by_account || b % n == node)
                        {
                            let due =
                                start + Duration::from_secs_f64(b as f64 / BATCHES_PER_SEC as f64);
                            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                                std::thread::sleep(wait);
                            }
                            // The steady-state window opens 1 s after the first batch.
                            if b as u64 == BATCHES_PER_SEC && (!by_account || node == 0) {
                                let blocks = watcher.seen.lock().expect("lock").len();
                                *window_start.lock().expect("lock") = Some((
                                    Instant::now(),
                                    net.cpu(tck),
                                    blocks,
                                    cpu_secs(std::process::id(), tck),
                                ));
                            }
                            // This thread's waiting accounts first (each in nonce order),
                            // then the batch's transactions of accounts not waiting; those
                            // of waiting accounts join their wait.
                            let (mut send, mine): (Vec<Fed>, Vec<usize>) = {
                                let mut h = held.lock().expect("lock");
                                let mut send = Vec::new();
                                let mut mine = Vec::new();
                                for (a, hold) in h.iter_mut().filter(|(_, w)| w.owner == node) {
                                    hold.waiting.sort_by_key(|f| f.1);
                                    send.append(&mut hold.waiting);
                                    mine.push(*a);
                                }
                                retried.fetch_add(send.len(), Ordering::Relaxed);
                                for f in chunk.iter().filter(|f| !by_account || f.0 % n == node) {
                                    match h.get_mut(&f.0) {
                                        // Sent again in this POST: the batch's later ones
                                        // follow it (nonce order holds within a POST).
                                        Some(hold) if hold.owner == node => send.push(f.clone()),
                                        Some(hold) => hold.waiting.push(f.clone()),
                                        None => send.push(f.clone()),
                                    }
                                }
                                // At most one API batch per POST (`MAX_BATCH_TXS`): what
                                // does not fit waits, in order, for this thread's next batch.
                                // (Uncapped, the resends of a deep overload grew a POST past
                                // the API's batch limit, its refusal was taken for
                                // `mempool_full`, and every later POST of the level failed.)
                                if send.len() > MAX_BATCH_TXS {
                                    for f in send.split_off(MAX_BATCH_TXS) {
                                        Hold::wait(&mut h, node, f);
                                    }
                                }
                                (send, mine)
                            };
                            let bytes: Vec<Vec<u8>> = send.iter().map(|f| f.2.clone()).collect();
                            let t = Instant::now();
                            let (a, r) = post(ports[node], &bytes);
                            accepted += a;
                            let refused: std::collections::HashSet<&[u8]> =
                                r.iter().map(|b| b.as_slice()).collect();
                            let mut h = held.lock().expect("lock");
                            for f in send.drain(..) {
                                if refused.contains(f.2.as_slice()) {
                                    Hold::wait(&mut h, node, f);
                                } else {
                                    // Latency counts from the POST that was accepted.
                                    sent.push((keccak256(&f.2).0, t));
                                }
                            }
                            // Accounts whose waiting transactions all went in are released.
                            for a in mine {
                                if h.get(&a).is_some_and(|w| w.waiting.is_empty()) {
                                    h.remove(&a);
                                }
                            }
                        }
                        (accepted, sent)
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().expect("loader")).collect()
        });
        let mut submitted: HashMap<[u8; 32], Instant> = HashMap::with_capacity(total);
        let mut accepted = 0usize;
        for (a, sent) in results {
            accepted += a;
            submitted.extend(sent);
        }
        let retried = retried.into_inner();
        // Next level: what still waits, first, in nonce order (an account's refused one
        // before the ones held behind it).
        again.extend(
            held.into_inner()
                .expect("lock")
                .into_values()
                .flat_map(|h| h.waiting),
        );
        let resent = again.len();
        again.sort_by_key(|f| (f.1, f.0));
        let window_start = window_start.into_inner().expect("lock");
        let offered_secs = start.elapsed().as_secs_f64();
        let (w_start, cpu0, w_blocks, loader0) = window_start.unwrap_or((
            start,
            net.cpu(tck),
            blocks_before,
            cpu_secs(std::process::id(), tck),
        ));
        let w_secs = w_start.elapsed().as_secs_f64();
        let cpu = net.cpu(tck) - cpu0;
        let loader_cpu = cpu_secs(std::process::id(), tck) - loader0;
        // The window's blocks (at node 0): how many, how full, how far apart. Full blocks
        // (1 MiB) further apart than the period mean the pipeline, not the CPU, bounds it.
        let (in_window, window_blocks, fullest, block_gap_ms) = {
            let seen = watcher.seen.lock().expect("lock");
            let blocks = seen.get(w_blocks..).unwrap_or(&[]);
            let txs: usize = blocks.iter().map(|(_, h)| h.len()).sum();
            let fullest = blocks.iter().map(|(_, h)| h.len()).max().unwrap_or(0);
            let gap = match (blocks.first(), blocks.last()) {
                (Some(a), Some(b)) if blocks.len() > 1 => {
                    b.0.duration_since(a.0).as_secs_f64() * 1e3 / (blocks.len() - 1) as f64
                }
                _ => 0.0,
            };
            (txs, blocks.len(), fullest, gap)
        };
        // Pending at the end of the offer (the queue a saturated network builds), and of
        // it the most any node held ready and queued (behind a nonce gap).
        let statuses: Vec<Status> = (0..n).filter_map(|i| net.status(i)).collect();
        let backlog = statuses.iter().map(|s| s.mempool).max().unwrap_or(0);
        let ready = statuses.iter().map(|s| s.mempool_ready).max().unwrap_or(0);
        let queued = statuses.iter().map(|s| s.mempool_queued).max().unwrap_or(0);
        // Let the level's transactions commit (bounded), then take their latencies. Queued
        // ones (behind a gap the next level's resent transactions close) do not commit.
        let drain = Instant::now();
        while (0..n).any(|i| net.status(i).map_or(0, |s| s.mempool_ready) > 0)
            && drain.elapsed() < Duration::from_secs(60)
        {
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_millis(2 * PERIOD_MS));
        let counters = net.counters().minus(&counters_before);
        let seen = watcher.seen.lock().expect("lock");
        let mut latencies: Vec<f64> = Vec::new();
        for (t, hashes) in seen.iter().skip(blocks_before) {
            for h in hashes {
                if let Some(s) = submitted.get(h) {
                    latencies.push(t.duration_since(*s).as_secs_f64() * 1e3);
                }
            }
        }
        drop(seen);
        latencies.sort_by(f64::total_cmp);
        let level = Level {
            offered: total as f64 / offered_secs,
            accepted: accepted as f64 / offered_secs,
            // Never above what this level got accepted: a backlog a previous level left
            // (a drain cut short on a loaded machine) commits in this window too.
            sustained: (in_window as f64 / w_secs).min(accepted as f64 / offered_secs),
            p50_ms: percentile(&latencies, 0.5),
            p99_ms: percentile(&latencies, 0.99),
            cpu_ms_per_tx: cpu * 1e3 / in_window.max(1) as f64,
            backlog,
        };
        println!(
            "  offered {:7.0} tx/s accepted {:7.0} committed {:7.0} tx/s  p50 {:6.0} ms p99 {:6.0} ms  CPU {:.3} ms/tx (all nodes)  backlog {} (ready {ready}, queued {queued})  load {}",
            level.offered, level.accepted, level.sustained, level.p50_ms, level.p99_ms, level.cpu_ms_per_tx, level.backlog, loadavg()
        );
        println!(
            "    per node and committed transaction: {:.3} recoveries ({:.3} of them at CheckBlock), {:.3} sender-cache hits; gossip batches shed {}; impeached heights {}; compact VALIDATEs that waited for their body {}, blocks synced {}; heights {}; refused mempool_full and sent again in the level {}, carried to the next level {}",
            counters.recoveries as f64 / (n as f64 * counters.committed.max(1) as f64),
            counters.block_recoveries as f64 / (n as f64 * counters.committed.max(1) as f64),
            counters.cache_hits as f64 / (n as f64 * counters.committed.max(1) as f64),
            counters.batches_dropped,
            counters.impeached,
            counters.compact_pending,
            counters.synced,
            net.heights(),
            retried,
            resent,
        );
        let per = |copies: u64, delivered: u64| {
            if delivered == 0 {
                "n/a".to_string()
            } else {
                format!(
                    "{:.2} ({delivered} delivered)",
                    copies as f64 / delivered as f64
                )
            }
        };
        println!(
            "    window: {window_blocks} blocks, {block_gap_ms:.0} ms apart, {:.0} transactions each (fullest {fullest}); gossip copies received per message delivered: consensus {}, transactions {}; load generator CPU {:.3} ms/tx",
            in_window as f64 / window_blocks.max(1) as f64,
            per(counters.lbft_copies, counters.lbft_delivered),
            per(counters.tx_copies, counters.tx_delivered),
            loader_cpu * 1e3 / in_window.max(1) as f64,
        );
        let saturated =
            level.sustained < 0.85 * level.accepted || level.accepted < 0.9 * level.offered;
        levels.push(level);
        if saturated || refined > 0 {
            refined += 1;
        }
        if refined > refine_levels() || levels.len() >= 10 {
            break;
        }
        // Below the knee, 1.35× a level; past it (the first saturated level), a few levels
        // just above the best committed rate so far, where the network is busy all the time
        // without the backlog and the shedding of a deep overload.
        let best = levels.iter().map(|l| l.sustained).fold(0.0, f64::max);
        rate = if refined > 0 {
            1.08 * best
        } else {
            rate * 1.35
        };
    }
    levels
}

/// The nodes' backend and its raw recover + address rate on one core (per CPU second),
/// and (printed only) the rate per core with every core recovering at once.
fn backend_rate(tck: f64, cores: usize) -> (&'static str, f64) {
    #[cfg(feature = "libsecp256k1")]
    let (name, recover): (&str, &Recover) = ("libsecp256k1", &|d, s| {
        s.recover_libsecp256k1(d).expect("recovers").address()
    });
    #[cfg(not(feature = "libsecp256k1"))]
    let (name, recover): (&str, &Recover) = ("k256", &|d, s| {
        s.recover_k256(d).expect("recovers").address()
    });
    let (wall, one) = raw_rate(recover, tck);
    let all = raw_rate_all_cores(recover, tck, cores);
    println!(
        "raw recover + address, one core: {name} {one:.0}/s per CPU second ({:.1} µs), {wall:.0}/s per wall second; on all {cores} cores at once {all:.0}/s per core ({:.2} of one core alone)",
        1e6 / one,
        all / one
    );
    (name, one)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is taken.
    let tck = clock_ticks();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let window = Duration::from_secs(
        std::env::var("DEVNET_BENCH_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(8),
    );
    let sizes: Vec<usize> = match std::env::var("DEVNET_BENCH_VALIDATORS") {
        Ok(s) => s.split(',').filter_map(|v| v.trim().parse().ok()).collect(),
        Err(_) => vec![4, 7],
    };
    println!(
        "devnet bench: {cores} cores, load average {}, nodes {}",
        loadavg(),
        exe()
    );
    let (k256_wall, k256) = raw_rate(&|d, s| s.recover_k256(d).expect("recovers").address(), tck);
    println!(
        "raw recover + address, one core: k256 {k256:.0}/s per CPU second ({:.1} µs), {k256_wall:.0}/s per wall second",
        1e6 / k256
    );
    #[cfg(not(feature = "libsecp256k1"))]
    println!(
        "(libsecp256k1: build with --features libsecp256k1 to measure it and run the nodes on it)"
    );
    for n in sizes {
        // The raw rate of the nodes' backend, measured just before this network and again
        // just after it (the VM's speed drifts by up to a third within minutes): the limit
        // is taken from their mean, and both are printed.
        let before = backend_rate(tck, cores);
        let provisional = cores as f64 * before.1 / n as f64;
        let levels = run_network(n, window, provisional, tck);
        let after = backend_rate(tck, cores);
        let backend = (before.0, (before.1 + after.1) / 2.0);
        let limit = cores as f64 * backend.1 / n as f64;
        println!(
            "devnet n={n}, nodes on {}: raw rate {:.0}/s before, {:.0}/s after; limit = {cores} cores × {:.0}/s (mean) ÷ {n} = {limit:.0} tx/s",
            backend.0, before.1, after.1, backend.1
        );
        if let Some(best) = levels
            .iter()
            .max_by(|a, b| a.sustained.total_cmp(&b.sustained))
        {
            // What the nodes' own CPU per transaction allows on `cores` idle cores, and
            // the share of it that is signature recovery (n recoveries per transaction).
            let cpu_bound = cores as f64 * 1e3 / best.cpu_ms_per_tx;
            let recovery_share = n as f64 * 1e3 / backend.1 / best.cpu_ms_per_tx;
            println!(
                "RESULT n={n} backend={} sustained {:.0} tx/s, p50 {:.0} ms, p99 {:.0} ms, CPU {:.3} ms/tx, limit {limit:.0} tx/s, ratio {:.2}; CPU-bound capacity {cpu_bound:.0} tx/s (ratio {:.2}), recovery share of node CPU {recovery_share:.2}; load {}",
                backend.0,
                best.sustained,
                best.p50_ms,
                best.p99_ms,
                best.cpu_ms_per_tx,
                best.sustained / limit,
                cpu_bound / limit,
                loadavg()
            );
        }
    }
}
