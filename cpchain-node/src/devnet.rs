//! `cpchain-node devnet`: a local validator network of real OS processes on 127.0.0.1,
//! each with its own key, database, port and log under `DIR/node-<i>/`. Shows live
//! progress, stops the nodes cleanly (SIGTERM, then SIGKILL after 5 s) on Ctrl-C, SIGTERM,
//! `--duration-secs` or `--heights`, and then checks that the stored chains agree.

use crate::binding::peer_id_of;
use crate::config::{generate_key, load_key, NodeConfig};
use crate::error::NodeError;
use crate::node::now;
use crate::status::Status;
use crate::store::Store;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// What the devnet command was asked for.
#[derive(Debug, Clone)]
pub struct DevnetOptions {
    /// Validators (3f + 1).
    pub validators: usize,
    /// Proposer RNodes (not validators): they campaign, are elected at checkpoints and
    /// propose on their slots. Their directories follow the validators' (`node-<n+j>`).
    pub proposers: usize,
    /// Block period, ms.
    pub period_ms: u64,
    /// Impeach timeout, ms.
    pub impeach_timeout_ms: u64,
    /// Directory of the network.
    pub dir: PathBuf,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Stop once every node stored this many blocks.
    pub heights: Option<u64>,
    /// Only write keys and configs.
    pub init_only: bool,
    /// Make every node log the votes it sees.
    pub vote_log: bool,
}

fn free_ports(n: usize) -> Result<Vec<u16>, NodeError> {
    let listeners: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()
        .map_err(|e| NodeError::Network(format!("no free port: {e}")))?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<_, _>>()
        .map_err(|e| NodeError::Network(format!("no free port: {e}")))
}

/// The config file of node `i` under `dir`.
pub fn config_path(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("node-{i}")).join("config.json")
}

/// Write keys and configs for a new network under `opts.dir`, or reuse an existing one
/// (a devnet restarted on its directory keeps its chain).
pub fn init(opts: &DevnetOptions) -> Result<Vec<PathBuf>, NodeError> {
    let n = opts.validators;
    if n == 0 || n % 3 != 1 {
        return Err(NodeError::Config {
            path: opts.dir.clone(),
            reason: format!("{n} validators: use 3f + 1 (4, 7, 10, ...)"),
        });
    }
    let total = n.saturating_add(opts.proposers);
    let paths: Vec<PathBuf> = (0..total).map(|i| config_path(&opts.dir, i)).collect();
    if paths.iter().all(|p| p.exists()) {
        return Ok(paths);
    }
    let mut keys = Vec::new();
    for i in 0..total {
        let d = opts.dir.join(format!("node-{i}"));
        std::fs::create_dir_all(&d).map_err(|e| NodeError::io(&d, e))?;
        let kp = d.join("key");
        let key = if kp.exists() {
            load_key(&kp)?
        } else {
            generate_key(&kp)?
        };
        keys.push(key);
    }
    let all_ports = free_ports(2 * total)?;
    let (ports, api_ports) = all_ports.split_at(total);
    let proposers: Vec<String> = keys
        .iter()
        .skip(n)
        .map(|k| k.public_key().address().to_string())
        .collect();
    let validators: Vec<String> = keys
        .iter()
        .take(n)
        .map(|k| hex::encode(k.public_key().to_compressed()))
        .collect();
    // Genesis a little ahead, so the first proposal is on time after the processes start.
    let genesis_ms = now().0.saturating_add(3_000);
    for (i, path) in paths.iter().enumerate() {
        // Everyone dials the validators (a proposer needs no proposer peers).
        let peers = keys
            .iter()
            .zip(ports)
            .enumerate()
            .filter(|(j, _)| *j != i && *j < n)
            .map(|(_, (k, port))| format!("/ip4/127.0.0.1/tcp/{port}/p2p/{}", peer_id_of(k)))
            .collect();
        let cfg = NodeConfig {
            chain_id: 41,
            block_period_ms: opts.period_ms,
            impeach_timeout_ms: opts.impeach_timeout_ms,
            genesis_ms,
            validators: validators.clone(),
            key_file: PathBuf::from("key"),
            data_dir: PathBuf::from("."),
            listen_port: ports.get(i).copied().unwrap_or(0),
            api_port: api_ports.get(i).copied(),
            peers,
            vote_log: opts.vote_log,
            silent_proposer: false,
            proposers: proposers.clone(),
            campaign: i >= n,
            // The validators dial each other: each receives each message once, from its
            // publisher (see `network::GossipMode`); the others keep the mesh.
            gossip: if i < n {
                crate::network::GossipMode::Direct
            } else {
                crate::network::GossipMode::Mesh
            },
            catch_up_heights: 8,
            max_block_bytes: cpchain_consensus::lbft::MAX_BLOCK_BYTES,
            proxy: None,
            storage: None,
            gateway: None,
        };
        cfg.save(path)?;
    }
    Ok(paths)
}

/// Read a node's status file.
pub fn read_status(cfg_path: &Path) -> Option<Status> {
    let dir = cfg_path.parent()?;
    let text = std::fs::read_to_string(dir.join("status.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// The stored chains' block ids, compared height by height. Returns the common length.
pub fn check_agreement(configs: &[PathBuf]) -> Result<u64, String> {
    let mut chains = Vec::new();
    for p in configs {
        let cfg = NodeConfig::load(p).map_err(|e| e.to_string())?;
        let store = Store::open_existing(&cfg.db_path()).map_err(|e| e.to_string())?;
        let ids: Vec<_> = store
            .all()
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|v| v.block.id())
            .collect();
        chains.push(ids);
    }
    let common = chains.iter().map(Vec::len).min().unwrap_or(0);
    for h in 0..common {
        let first = chains.first().and_then(|c| c.get(h));
        if chains.iter().any(|c| c.get(h) != first) {
            return Err(format!("chains differ at height {}", h + 1));
        }
    }
    Ok(common as u64)
}

fn terminate(child: &tokio::process::Child) {
    if let Some(pid) = child.id() {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap_or(0));
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    }
}

/// Run the devnet with the `exe` binary (this program).
pub async fn run(opts: DevnetOptions, exe: PathBuf) -> Result<(), NodeError> {
    let configs = init(&opts)?;
    if opts.init_only {
        for c in &configs {
            println!("{}", c.display());
        }
        return Ok(());
    }
    let mut children = Vec::new();
    for c in &configs {
        let log_path = c.with_file_name("node.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| NodeError::io(&log_path, e))?;
        let child = tokio::process::Command::new(&exe)
            .arg("run")
            .arg("--config")
            .arg(c)
            .arg("--exit-with-parent")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| NodeError::io(&exe, e))?;
        children.push(child);
    }
    println!(
        "devnet: {} validators and {} proposers on 127.0.0.1, block period {} ms, data in {}",
        opts.validators,
        opts.proposers,
        opts.period_ms,
        opts.dir.display()
    );
    let start = now();
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| NodeError::Network(format!("signal handler: {e}")))?;
    let mut tick = tokio::time::interval(Duration::from_millis(1000));
    let mut failure = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = sigterm.recv() => { println!("devnet: SIGTERM, stopping"); break; }
            _ = tokio::signal::ctrl_c() => { println!("devnet: Ctrl-C, stopping"); break; }
        }
        let statuses: Vec<Option<Status>> = configs.iter().map(|c| read_status(c)).collect();
        let line: Vec<String> = statuses
            .iter()
            .enumerate()
            .map(|(i, s)| match s {
                Some(s) if i >= opts.validators => {
                    format!("p{i} h={} proposed={}", s.head, s.proposed)
                }
                Some(s) => format!(
                    "n{i} h={} r={} peers={} imp={}",
                    s.head, s.round, s.peers, s.impeached
                ),
                None => format!("n{i} starting"),
            })
            .collect();
        let secs = now().0.saturating_sub(start.0) as f64 / 1000.0;
        println!("[{secs:6.1}s] {}", line.join(" | "));
        for (i, c) in children.iter_mut().enumerate() {
            if let Ok(Some(st)) = c.try_wait() {
                failure = Some(format!("node {i} exited ({st}); see its node.log"));
            }
        }
        if failure.is_some() {
            break;
        }
        if let Some(h) = opts.heights {
            if statuses
                .iter()
                .all(|s| s.as_ref().is_some_and(|s| s.head >= h))
            {
                println!("devnet: every node has {h} blocks, stopping");
                break;
            }
        }
        if opts
            .duration
            .is_some_and(|d| now().0.saturating_sub(start.0) >= d.as_millis() as u64)
        {
            println!("devnet: duration reached, stopping");
            break;
        }
    }
    for c in &children {
        terminate(c);
    }
    for c in children.iter_mut() {
        if tokio::time::timeout(Duration::from_secs(5), c.wait())
            .await
            .is_err()
        {
            let _ = c.kill().await;
        }
    }
    match check_agreement(&configs) {
        Ok(n) => println!(
            "devnet: stopped; the {} chains agree on all {n} common heights",
            configs.len()
        ),
        Err(e) => failure = Some(e),
    }
    match failure {
        Some(f) => Err(NodeError::Consensus(f)),
        None => Ok(()),
    }
}
