//! Issue 14 test 4: a silent proposer is impeached at its slots and the chain goes on;
//! a partition (each half refuses the other's connections) stops the chain, and once it
//! heals the chain continues and the chains agree.

mod common;

use common::*;
use cpchain_node::config::{load_key, NodeConfig};
use cpchain_node::store::Store;
use std::time::Duration;

#[test]
fn silent_proposer_is_impeached_and_a_healed_partition_continues() {
    let mut net = Net::init("impeach", 4, 200, 600, false);
    // Node 2 never proposes.
    let mut cfg2 = NodeConfig::load(&net.configs[2]).expect("cfg");
    let silent = load_key(&cfg2.key_file)
        .expect("key")
        .public_key()
        .address();
    cfg2.silent_proposer = true;
    cfg2.key_file = "key".into();
    cfg2.data_dir = ".".into();
    cfg2.save(&net.configs[2]).expect("save");
    net.start_all();
    assert!(
        net.wait_heads(&[0, 1, 2, 3], 30, Duration::from_secs(90)),
        "no 30 heights with a silent proposer: heads {:?}",
        (0..4).map(|i| net.head(i)).collect::<Vec<_>>()
    );

    // Partition {0, 1} | {2, 3}: no side has the quorum of 3.
    let cfgs: Vec<NodeConfig> = net
        .configs
        .iter()
        .map(|c| NodeConfig::load(c).expect("cfg"))
        .collect();
    let peer =
        |i: usize| cpchain_node::binding::peer_id_of(&load_key(&cfgs[i].key_file).expect("key"));
    let halves = [[0usize, 1], [2, 3]];
    for (h, half) in halves.iter().enumerate() {
        let other = halves[1 - h];
        for &i in half {
            let list = other
                .iter()
                .map(|&j| peer(j).to_string())
                .collect::<Vec<_>>()
                .join("\n");
            std::fs::write(cfgs[i].blocked_peers_path(), list).expect("block");
        }
    }
    std::thread::sleep(Duration::from_secs(2));
    let during: Vec<u64> = (0..4).map(|i| net.head(i)).collect();
    std::thread::sleep(Duration::from_secs(4));
    let later: Vec<u64> = (0..4).map(|i| net.head(i)).collect();
    assert_eq!(during, later, "a half without quorum decided");
    for c in &cfgs {
        std::fs::remove_file(c.blocked_peers_path()).expect("heal");
    }
    let top = later.iter().copied().max().unwrap_or(0);
    assert!(
        net.wait_heads(&[0, 1, 2, 3], top + 10, Duration::from_secs(90)),
        "no progress after the partition healed: heads {:?}",
        (0..4).map(|i| net.head(i)).collect::<Vec<_>>()
    );
    net.stop_all();
    let chains: Vec<_> = (0..4).map(|i| net.chain(i)).collect();
    assert_chains_agree(&chains);

    // Node 2's slots: every block naming it as proposer is an impeach block.
    let store = Store::open_existing(&cfgs[0].db_path()).expect("db");
    let blocks = store.all().expect("blocks");
    let at_silent: Vec<_> = blocks
        .iter()
        .filter(|v| v.block.header.proposer == silent)
        .collect();
    assert!(
        at_silent.len() >= 6,
        "only {} slots of the silent proposer",
        at_silent.len()
    );
    assert!(
        at_silent.iter().all(|v| v.block.is_impeach()),
        "the silent proposer sealed a block"
    );
    let normal = blocks.iter().filter(|v| !v.block.is_impeach()).count();
    assert!(
        normal >= blocks.len() / 2,
        "only {normal} of {} blocks are normal",
        blocks.len()
    );
}
