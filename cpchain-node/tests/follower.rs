//! Issue 14 test 3 (follower part): a follower started late (not a validator: its key is
//! not in the committee) syncs from genesis, light-verifying every certificate, and then
//! keeps up; its chain is the validators' chain.

mod common;

use common::*;
use cpchain_node::config::{generate_key, NodeConfig};
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn follower_started_late_syncs_from_genesis_verifying_every_certificate() {
    let mut net = Net::init("follower", 4, 200, 600, false);
    net.start_all();
    assert!(
        net.wait_heads(&[0, 1, 2, 3], 40, Duration::from_secs(60)),
        "validators did not reach 40"
    );
    // A follower: a fresh key, the validators as peers, its own directory and ports.
    let dir = net.dir.0.join("follower");
    std::fs::create_dir_all(&dir).expect("dir");
    generate_key(&dir.join("key")).expect("key");
    let mut cfg = NodeConfig::load(&net.configs[0]).expect("cfg");
    let me = cpchain_node::binding::peer_id_of(
        &cpchain_node::config::load_key(&cfg.key_file).expect("key"),
    );
    cfg.peers
        .push(format!("/ip4/127.0.0.1/tcp/{}/p2p/{me}", cfg.listen_port));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    cfg.listen_port = port;
    cfg.api_port = None;
    cfg.key_file = "key".into();
    cfg.data_dir = ".".into();
    let path = dir.join("config.json");
    cfg.save(&path).expect("save");
    let log = std::fs::File::create(dir.join("node.log")).expect("log");
    let mut follower = Command::new(EXE)
        .args(["run", "--exit-with-parent", "--config"])
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("spawn follower");
    let status = || {
        cpchain_node::devnet::read_status(&path)
            .map(|s| s.head)
            .unwrap_or(0)
    };
    let target = (0..4).map(|i| net.head(i)).max().unwrap_or(0) + 10;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while status() < target && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = Command::new("kill").arg(follower.id().to_string()).status();
    let _ = follower.wait();
    assert!(status() >= target, "follower at {} of {target}", status());
    net.stop_all();
    let follower_cfg = NodeConfig::load(&path).expect("cfg");
    let store = cpchain_node::store::Store::open_existing(&follower_cfg.db_path()).expect("db");
    let follower_chain: Vec<[u8; 32]> = store
        .all()
        .expect("blocks")
        .iter()
        .map(|v| v.block.id().0)
        .collect();
    let mut chains: Vec<_> = (0..4).map(|i| net.chain(i)).collect();
    chains.push(follower_chain);
    let common = assert_chains_agree(&chains);
    assert!(common as u64 >= target, "common {common} < {target}");
}
