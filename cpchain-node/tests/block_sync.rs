//! Issue 14 test 3 (validator part): a validator offline for more than
//! `catch_up_heights` (here 100+ heights, `catch_up_heights` = 8) syncs the blocks it
//! missed from its peers, light-verifying each certificate, and rejoins: with another
//! validator then stopped, the network still decides, which needs its votes.

mod common;

use common::*;
use std::time::Duration;

#[test]
fn validator_offline_for_over_100_heights_syncs_and_rejoins() {
    let mut net = Net::init("sync", 4, 200, 600, false);
    net.start_all();
    assert!(
        net.wait_heads(&[0, 1, 2, 3], 3, Duration::from_secs(40)),
        "the network did not start"
    );
    net.stop(3);
    let left_at = net.head(3);
    assert!(
        net.wait_heads(&[0, 1, 2], left_at + 105, Duration::from_secs(90)),
        "three validators did not decide 105 heights: heads {:?}",
        (0..3).map(|i| net.head(i)).collect::<Vec<_>>()
    );
    let others = (0..3).map(|i| net.head(i)).max().unwrap_or(0);
    net.start(3);
    assert!(
        net.wait_heads(&[3], others, Duration::from_secs(40)),
        "node 3 did not sync: head {} (left at {left_at}, others at {others})",
        net.head(3)
    );
    let synced = net.status(3).map(|s| s.synced).unwrap_or(0);
    assert!(
        synced >= 90,
        "node 3 imported only {synced} blocks by block sync"
    );
    // Node 3 votes again: without node 0, nodes 1, 2, 3 are exactly the quorum.
    net.stop(0);
    let now = (1..4).map(|i| net.head(i)).max().unwrap_or(0);
    assert!(
        net.wait_heads(&[1, 2, 3], now + 5, Duration::from_secs(40)),
        "no progress without node 0: node 3 did not rejoin; heads {:?}",
        (1..4).map(|i| net.head(i)).collect::<Vec<_>>()
    );
    net.stop_all();
    let chains: Vec<_> = (0..4).map(|i| net.chain(i)).collect();
    let common = assert_chains_agree(&chains);
    assert!(common as u64 >= others, "common chain {common} < {others}");
}
