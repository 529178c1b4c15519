//! Property tests over message orderings, losses, one Byzantine validator and crashes
//! (n = 4 and n = 7): agreement (no two honest validators decide different blocks at one
//! height), no honest equivocation (no two votes of one phase in one round for different
//! blocks, across restarts), and liveness once the network delivers everything. In half the
//! cases the Byzantine validator also strips or forges the proposer's seal in every
//! block-carrying message it sends or hears (issue 12 item 0), and every `Commit` output
//! and every VALIDATE a validator sends is checked with the light verifier (in
//! `common::Net`).
//!
//! 256 cases each in CI (`PROPTEST_CASES` overrides for soak runs).

mod common;
use common::*;
use cpchain_core::Height;
use proptest::prelude::*;

/// `default` cases, or `PROPTEST_CASES` when set (for long soak runs; the explicit
/// `cases` of a `ProptestConfig` would otherwise override the environment).
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

#[allow(clippy::too_many_arguments)]
fn run_scenario(
    n: usize,
    seed: u64,
    loss: u8,
    lossy_ticks: usize,
    byz: u8,
    silent_h1: bool,
    crash: bool,
    tamper: bool,
) {
    let fx = Fixture::new(n);
    let mut roles = vec![Role::Honest; n];
    let byz_index = (seed as usize) % n;
    match byz % 3 {
        0 => roles[byz_index] = Role::Equivocator,
        1 => roles[byz_index] = Role::Silent,
        _ => {}
    }
    let mut net = Net::new(fx, roles);
    if tamper {
        net.tamperer = Some(byz_index);
    }
    net.rng = seed | 1;
    net.loss = loss;
    if silent_h1 {
        net.silent_proposer.push(Height(1));
    }
    if crash {
        let c = net.honest().find(|&i| i != byz_index);
        net.crash_node = c;
    }
    // Asynchrony: random order and losses for a while.
    net.lossy = true;
    net.maybe_propose();
    for _ in 0..lossy_ticks {
        net.deliver_all();
        net.tick();
    }
    net.assert_agreement();
    // Stabilisation: everything is delivered from now on; no more crashes.
    net.lossy = false;
    net.crash_node = None;
    let live = net.run(3, 200);
    net.assert_agreement();
    assert!(net.light_checked > 0 || !live, "no Commit was checked");
    assert!(
        live,
        "no progress after stabilisation: heights {:?}",
        net.nodes
            .iter()
            .map(|v| (v.height(), v.round()))
            .collect::<Vec<_>>()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(256), ..ProptestConfig::default() })]

    #[test]
    fn agreement_under_reordering_and_loss_n4(
        seed in any::<u64>(), loss in 0u8..96, lossy_ticks in 0usize..8,
        byz in 0u8..3, silent_h1 in any::<bool>(), crash in any::<bool>(),
        tamper in any::<bool>(),
    ) {
        run_scenario(4, seed, loss, lossy_ticks, byz, silent_h1, crash, tamper);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(256), ..ProptestConfig::default() })]

    #[test]
    fn agreement_under_reordering_and_loss_n7(
        seed in any::<u64>(), loss in 0u8..96, lossy_ticks in 0usize..8,
        byz in 0u8..3, silent_h1 in any::<bool>(), crash in any::<bool>(),
        tamper in any::<bool>(),
    ) {
        run_scenario(7, seed, loss, lossy_ticks, byz, silent_h1, crash, tamper);
    }
}
