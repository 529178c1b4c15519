//! Issue 14 test 6: a truncated, corrupt or foreign database makes the node refuse to
//! start and say why; it never starts afresh.

mod common;

use common::*;
use std::time::Duration;

/// A small network that decided a few blocks, stopped; returns it.
fn network_with_blocks() -> Net {
    let mut net = Net::init("corrupt", 4, 200, 600, false);
    net.start_all();
    assert!(
        net.wait_heads(&[0, 1, 2, 3], 5, Duration::from_secs(40)),
        "no progress"
    );
    net.stop_all();
    net
}

fn refuses(net: &Net, i: usize, why: &str) {
    let out = run_bounded(
        &["run", "--config"],
        &[&net.configs[i]],
        Duration::from_secs(15),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "node started on a {why} database\n{stderr}"
    );
    assert!(
        stderr.contains("refusing to start"),
        "no clear error for a {why} database:\n{stderr}"
    );
}

#[test]
fn truncated_corrupt_or_foreign_database_is_refused_at_start_up() {
    let net = network_with_blocks();
    let db0 = net.db_path(0);
    let len = std::fs::metadata(&db0).expect("db").len();

    // Truncated to half.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&db0)
        .expect("open");
    f.set_len(len / 2).expect("truncate");
    drop(f);
    refuses(&net, 0, "truncated");

    // Truncated to nothing.
    std::fs::write(&db0, b"").expect("empty");
    refuses(&net, 0, "empty");

    // Not a database at all.
    let junk: Vec<u8> = (0..len).map(|i| (i * 131 % 251) as u8).collect();
    std::fs::write(&db0, &junk).expect("junk");
    refuses(&net, 0, "garbage");

    // A redb file of another chain: node 1's database is intact, node 0's config is of
    // the same chain, so give node 1's database a different chain by taking one from a
    // second network.
    let other = network_with_blocks();
    std::fs::copy(other.db_path(1), net.db_path(1)).expect("copy");
    let out = run_bounded(
        &["run", "--config"],
        &[&net.configs[1]],
        Duration::from_secs(15),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "started on a foreign database\n{stderr}"
    );
    assert!(stderr.contains("foreign"), "{stderr}");

    // Node 2's database, untouched, still starts (the checks do not refuse good files):
    // it runs until stopped.
    let out = run_bounded(
        &["run", "--config"],
        &[&net.configs[2]],
        Duration::from_secs(3),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("node started"), "{stderr}");
}
