//! Issue 14 test 1: four validator processes commit at least 50 heights, and every
//! node's stored chain is identical block by block.

mod common;

use common::*;
use std::time::Duration;

#[test]
fn four_validators_commit_fifty_heights_with_identical_chains() {
    let dir = TempDir::new("devnet");
    let d = dir.0.join("net");
    let out = run_bounded(
        &[
            "devnet",
            "--validators",
            "4",
            "--period-ms",
            "200",
            "--impeach-timeout-ms",
            "600",
            "--heights",
            "50",
            "--duration-secs",
            "80",
            "--dir",
        ],
        &[&d],
        Duration::from_secs(100),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "devnet failed\n{stdout}\n{stderr}");
    assert!(stdout.contains("every node has 50 blocks"), "{stdout}");
    assert!(stdout.contains("chains agree"), "{stdout}");
    // Check it ourselves too, from the four databases.
    let configs: Vec<_> = (0..4)
        .map(|i| cpchain_node::devnet::config_path(&d, i))
        .collect();
    let chains: Vec<Vec<[u8; 32]>> = configs
        .iter()
        .map(|c| {
            let cfg = cpchain_node::config::NodeConfig::load(c).expect("config");
            let store = cpchain_node::store::Store::open_existing(&cfg.db_path()).expect("db");
            store
                .all()
                .expect("blocks")
                .iter()
                .map(|v| v.block.id().0)
                .collect()
        })
        .collect();
    let common = assert_chains_agree(&chains);
    assert!(common >= 50, "only {common} common heights");
}
