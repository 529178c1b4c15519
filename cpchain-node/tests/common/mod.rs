//! Real-process test harness: a devnet directory made by `cpchain-node devnet --init-only`,
//! validator processes spawned from the built binary, killed on drop.

#![allow(dead_code)]

use cpchain_node::config::NodeConfig;
use cpchain_node::devnet::read_status;
use cpchain_node::status::Status;
use cpchain_node::store::Store;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

// Storage-node networks (issue 15 item 2): `Net::init_storage`.
pub mod data;
pub mod storage;
#[allow(unused_imports)]
pub use storage::*;

/// The binary under test.
pub const EXE: &str = env!("CARGO_BIN_EXE_cpchain-node");

/// A fresh directory under the system temp dir, removed on drop unless the test failed.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let p = std::env::temp_dir().join(format!(
            "cpchain-node-{name}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        } else {
            eprintln!("test data kept in {}", self.0.display());
        }
    }
}

/// A network of validator processes.
pub struct Net {
    pub dir: TempDir,
    pub configs: Vec<PathBuf>,
    pub children: Vec<Option<Child>>,
}

impl Net {
    /// Write keys and configs (no process started).
    pub fn init(name: &str, n: usize, period_ms: u64, impeach_ms: u64, vote_log: bool) -> Net {
        Net::init_with(name, n, 0, period_ms, impeach_ms, vote_log)
    }

    /// Write keys and configs of `n` validators and `proposers` proposer RNodes (nodes
    /// `n..n + proposers`).
    pub fn init_with(
        name: &str,
        n: usize,
        proposers: usize,
        period_ms: u64,
        impeach_ms: u64,
        vote_log: bool,
    ) -> Net {
        let dir = TempDir::new(name);
        let mut cmd = Command::new(EXE);
        cmd.args(["devnet", "--init-only", "--validators"])
            .arg(n.to_string())
            .arg("--proposers")
            .arg(proposers.to_string())
            .arg("--period-ms")
            .arg(period_ms.to_string())
            .arg("--impeach-timeout-ms")
            .arg(impeach_ms.to_string())
            .arg("--dir")
            .arg(&dir.0);
        if vote_log {
            cmd.arg("--vote-log");
        }
        let out = cmd.output().expect("run devnet --init-only");
        assert!(
            out.status.success(),
            "init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let configs: Vec<PathBuf> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(PathBuf::from)
            .collect();
        assert_eq!(configs.len(), n + proposers);
        let children = (0..n + proposers).map(|_| None).collect();
        Net {
            dir,
            configs,
            children,
        }
    }

    /// Start validator `i`.
    pub fn start(&mut self, i: usize) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.configs[i].with_file_name("node.log"))
            .expect("log file");
        let child = Command::new(EXE)
            .arg("run")
            .arg("--config")
            .arg(&self.configs[i])
            .arg("--exit-with-parent")
            .env(
                "CPCHAIN_LOG",
                std::env::var("CPCHAIN_TEST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn node");
        self.children[i] = Some(child);
    }

    pub fn start_all(&mut self) {
        for i in 0..self.configs.len() {
            self.start(i);
        }
    }

    /// SIGKILL validator `i` (std's `Child::kill` is `kill -9`) and reap it.
    pub fn kill9(&mut self, i: usize) {
        if let Some(mut c) = self.children[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM validator `i` and wait for it to exit (SIGKILL after 10 s).
    pub fn stop(&mut self, i: usize) {
        if let Some(mut c) = self.children[i].take() {
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                match c.try_wait() {
                    Ok(Some(_)) => break,
                    _ if Instant::now() > deadline => {
                        let _ = c.kill();
                        let _ = c.wait();
                        break;
                    }
                    _ => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        }
    }

    pub fn stop_all(&mut self) {
        for i in 0..self.children.len() {
            self.stop(i);
        }
    }

    /// Live status of node `i` (from its status file).
    pub fn status(&self, i: usize) -> Option<Status> {
        read_status(&self.configs[i])
    }

    /// Stored head height of node `i` as its status file reports it (0 if none yet).
    pub fn head(&self, i: usize) -> u64 {
        self.status(i).map(|s| s.head).unwrap_or(0)
    }

    /// Wait until every listed node reports a head of at least `h`.
    pub fn wait_heads(&self, nodes: &[usize], h: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if nodes.iter().all(|&i| self.head(i) >= h) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// Block ids of a stopped node's chain, in height order.
    pub fn chain(&self, i: usize) -> Vec<[u8; 32]> {
        let cfg = NodeConfig::load(&self.configs[i]).expect("config");
        let store = Store::open_existing(&cfg.db_path()).expect("database");
        store
            .all()
            .expect("blocks")
            .iter()
            .enumerate()
            .map(|(k, v)| {
                assert_eq!(v.block.header.height.0, k as u64 + 1, "chain has a gap");
                v.block.id().0
            })
            .collect()
    }

    /// Every node's config, as written.
    pub fn loaded_configs(&self) -> Vec<NodeConfig> {
        self.configs
            .iter()
            .map(|c| NodeConfig::load(c).expect("config"))
            .collect()
    }

    /// Every node's API port.
    pub fn api_ports(&self) -> Vec<u16> {
        self.loaded_configs()
            .iter()
            .map(|c| c.api_port.expect("api port"))
            .collect()
    }

    /// The database file of node `i`.
    pub fn db_path(&self, i: usize) -> PathBuf {
        NodeConfig::load(&self.configs[i])
            .expect("config")
            .db_path()
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for c in self.children.iter_mut().flatten() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Assert that the chains agree block by block on their common heights; returns the
/// shortest length.
pub fn assert_chains_agree(chains: &[Vec<[u8; 32]>]) -> usize {
    let common = chains.iter().map(Vec::len).min().unwrap_or(0);
    for h in 0..common {
        let first = chains[0][h];
        for (i, c) in chains.iter().enumerate() {
            assert_eq!(
                c[h],
                first,
                "node {i} differs from node 0 at height {}",
                h + 1
            );
        }
    }
    common
}

/// Run the binary with `args`, killing it after `timeout`.
pub fn run_bounded(args: &[&str], extra: &[&Path], timeout: Duration) -> Output {
    let mut cmd = Command::new(EXE);
    cmd.args(args);
    for p in extra {
        cmd.arg(p);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            _ if Instant::now() > deadline => {
                // SIGTERM first: a devnet stops its nodes on it.
                let _ = Command::new("kill").arg(child.id().to_string()).status();
                std::thread::sleep(Duration::from_secs(6));
                let _ = child.kill();
                break;
            }
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    child.wait_with_output().expect("output")
}

impl Net {
    /// Make node `i` (a proposer slot of `init_with`) a re-encryption proxy instead: no
    /// campaign, a `proxy` section with the default bounds (issue 15).
    pub fn make_proxy(&self, i: usize) {
        let mut cfg = NodeConfig::load(&self.configs[i]).expect("config");
        cfg.campaign = false;
        cfg.proxy = Some(cpchain_node::config::ProxyRoleConfig::default());
        cfg.save(&self.configs[i]).expect("save config");
    }

    /// Node `i`'s libp2p address (`/ip4/127.0.0.1/tcp/<port>/p2p/<peer id>`) and chain
    /// address.
    pub fn endpoint(&self, i: usize) -> (String, cpchain_core::Address) {
        let cfg = NodeConfig::load(&self.configs[i]).expect("config");
        let key = cpchain_node::config::load_key(&cfg.key_file).expect("key");
        let peer = cpchain_node::binding::peer_id_of(&key);
        (
            format!("/ip4/127.0.0.1/tcp/{}/p2p/{peer}", cfg.listen_port),
            key.public_key().address(),
        )
    }
}

/// `GET path` on the API at 127.0.0.1:`port`: status and JSON body (`Null` if not JSON).
pub fn get_json(port: u16, path: &str) -> (u16, serde_json::Value) {
    let (status, body) = cpchain_node::api::http(port, "GET", path, None).expect("API reachable");
    (
        status,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
    )
}

/// `POST /txs` (the JSON form) to the API at 127.0.0.1:`port`: per transaction its hash
/// or its error code.
pub fn post_txs(port: u16, txs: &[Vec<u8>]) -> Vec<Result<[u8; 32], String>> {
    let hexes: Vec<String> = txs.iter().map(hex::encode).collect();
    let body = serde_json::json!({ "txs": hexes }).to_string();
    let (status, reply) =
        cpchain_node::api::http(port, "POST", "/txs", Some(&body)).expect("API reachable");
    assert_eq!(status, 200, "{reply}");
    let v: serde_json::Value = serde_json::from_str(&reply).expect("json");
    let results = v["results"].as_array().expect("results");
    assert_eq!(results.len(), txs.len());
    results
        .iter()
        .map(|r| match r["hash"].as_str() {
            Some(h) => {
                let mut out = [0u8; 32];
                hex::decode_to_slice(h, &mut out).expect("hash hex");
                Ok(out)
            }
            None => Err(r["code"].as_str().unwrap_or("").to_string()),
        })
        .collect()
}

/// An account's (nonce, balance) as the API at 127.0.0.1:`port` reports it.
pub fn account_state(port: u16, a: &cpchain_core::Address) -> (u64, u128) {
    let (status, v) = get_json(port, &format!("/account/{a}"));
    assert_eq!(status, 200, "{v}");
    (
        v["nonce"].as_u64().expect("nonce"),
        v["balance"]
            .as_str()
            .expect("balance")
            .parse()
            .expect("u128"),
    )
}

/// A signed transfer, encoded.
pub fn signed_transfer(
    key: &cpchain_crypto::SecretKey,
    chain_id: u64,
    nonce: u64,
    to: cpchain_core::Address,
    amount: u128,
) -> Vec<u8> {
    use cpchain_node::tx::{Transaction, TxBody, TxKind};
    Transaction::sign(
        key,
        TxBody {
            chain_id,
            nonce,
            kind: TxKind::Transfer { to, amount },
        },
    )
    .to_bytes()
}

/// Poll `f` every 100 ms until it holds or `timeout` passes; whether it held.
pub fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}
