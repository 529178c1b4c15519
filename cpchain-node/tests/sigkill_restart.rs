//! Issue 14 test 2: a validator is killed with SIGKILL (a real `kill -9` of the process)
//! at random moments, 20 times, and restarted. The network keeps deciding; an observer of
//! every signed vote (each node logs the votes it signs before sending them, and every
//! vote it receives) finds no equivocation; the stored chains agree.

mod common;

use common::*;
use cpchain_consensus::lbft::Vote;
use cpchain_core::encoding;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// xorshift64*: the test's randomness, seeded from the clock and printed for replay.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Every vote in every node's log, grouped by (voter, height, round, phase): more than
/// one block in a group is an equivocation.
fn equivocations(net: &Net) -> (usize, Vec<String>) {
    let mut seen: BTreeMap<(String, u64, u32, String), Vec<[u8; 32]>> = BTreeMap::new();
    let mut votes = 0;
    for c in &net.configs {
        let log = std::fs::read_to_string(c.with_file_name("votes.log")).unwrap_or_default();
        for line in log.lines() {
            // A line cut by SIGKILL mid-write is not a vote anyone received.
            let Ok(bytes) = hex::decode(line) else {
                continue;
            };
            let Ok(vote) = encoding::decode::<Vote>(&bytes) else {
                continue;
            };
            votes += 1;
            let key = (
                vote.voter.to_string(),
                vote.height.0,
                vote.round,
                format!("{:?}", vote.kind.phase()),
            );
            let blocks = seen.entry(key).or_default();
            if !blocks.contains(&vote.block.0) {
                blocks.push(vote.block.0);
            }
        }
    }
    let bad = seen
        .iter()
        .filter(|(_, b)| b.len() > 1)
        .map(|(k, b)| format!("{k:?}: {} blocks", b.len()))
        .collect();
    (votes, bad)
}

#[test]
fn sigkill_restart_twenty_times_never_equivocates_and_chains_agree() {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    eprintln!("seed {seed}");
    let mut rng = Rng(seed);
    let mut net = Net::init("sigkill", 4, 200, 600, true);
    net.start_all();
    assert!(
        net.wait_heads(&[0, 1, 2, 3], 3, Duration::from_secs(40)),
        "the network did not start"
    );
    let started = Instant::now();
    let before = (0..4).map(|i| net.head(i)).max().unwrap_or(0);
    for k in 0..20 {
        let victim = rng.below(4) as usize;
        // A random moment: anywhere in a few block periods (mid-round, just before or
        // after a persist, while catching up from the previous kill).
        std::thread::sleep(Duration::from_millis(rng.below(700)));
        net.kill9(victim);
        std::thread::sleep(Duration::from_millis(rng.below(400)));
        net.start(victim);
        eprintln!("kill {k}: node {victim} at head {}", net.head(victim));
    }
    let after_kills = (0..4).map(|i| net.head(i)).max().unwrap_or(0);
    // The network keeps deciding: every node, the killed ones included, gets 10 heights
    // past the highest head seen when the kills ended.
    let target = after_kills + 10;
    assert!(
        net.wait_heads(&[0, 1, 2, 3], target, Duration::from_secs(60)),
        "stalled: heads {:?}, target {target}",
        (0..4).map(|i| net.head(i)).collect::<Vec<_>>()
    );
    eprintln!(
        "heights {before} -> {after_kills} during 20 kills ({:.1} s), all nodes reached {target}",
        started.elapsed().as_secs_f64()
    );
    assert!(after_kills > before, "no height decided during the kills");
    net.stop_all();
    let (votes, bad) = equivocations(&net);
    assert!(votes > 100, "only {votes} votes observed");
    assert!(bad.is_empty(), "equivocation by an honest node: {bad:?}");
    let chains: Vec<_> = (0..4).map(|i| net.chain(i)).collect();
    let common = assert_chains_agree(&chains);
    assert!(common as u64 >= target, "common chain {common} < {target}");
}
