//! Issue 14, found by the devnet bench (fifth pass): transactions behind a nonce gap are
//! not load. Funded accounts flood a validator with more gapped transactions (their nonce 0
//! never sent) than `INTAKE_SHED_PENDING`; the pools queue them (`tx::Mempool`'s queued
//! part, at most `QUEUED_PER_SENDER` a sender) and go on admitting and committing an honest
//! sender's consecutive transactions. Before the pool's split the gapped ones counted
//! toward the shed threshold and were never evicted: the API refused the honest sender
//! with `mempool_full` for good.

mod common;

use common::*;
use cpchain_core::Address;
use cpchain_crypto::SecretKey;
use cpchain_node::config::load_key;
use cpchain_node::tx::QUEUED_PER_SENDER;
use cpchain_node::validator::{INTAKE_SHED_PENDING, MEMPOOL_QUEUED_CAPACITY};
use std::time::Duration;

/// Accounts sending gapped nonces: with `QUEUED_PER_SENDER` each, past the shed threshold.
const ATTACKERS: usize = INTAKE_SHED_PENDING / QUEUED_PER_SENDER + 4;
/// The honest sender's transactions.
const HONEST: u64 = 200;

fn nonce(port: u16, a: &Address) -> u64 {
    account_state(port, a).0
}

/// Sign on every core: `(key index, nonce)` jobs.
fn sign_all(keys: &[SecretKey], jobs: &[(usize, u64)]) -> Vec<Vec<u8>> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| {
        let hs: Vec<_> = jobs
            .chunks(jobs.len().div_ceil(cores).max(1))
            .map(|c| {
                s.spawn(move || {
                    c.iter()
                        .map(|(k, n)| signed_transfer(&keys[*k], 41, *n, Address([7; 20]), 1))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter()
            .flat_map(|h| h.join().expect("signer"))
            .collect()
    })
}

#[test]
fn a_flood_of_gapped_nonces_does_not_stop_an_honest_sender() {
    let mut net = Net::init("gap", 4, 300, 3_000, false);
    net.start_all();
    assert!(
        net.wait_heads(&[0, 1, 2, 3], 2, Duration::from_secs(40)),
        "no start"
    );
    let ports = net.api_ports();
    let funder = load_key(&net.loaded_configs()[0].key_file).expect("key");
    // Keys 0..ATTACKERS attack; the last one is honest.
    let keys: Vec<SecretKey> = (0..=ATTACKERS)
        .map(|i| {
            let mut b = [0x33u8; 32];
            b[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
            SecretKey::from_bytes(&b).expect("scalar")
        })
        .collect();
    let funding: Vec<Vec<u8>> = keys
        .iter()
        .enumerate()
        .map(|(n, k)| {
            signed_transfer(
                &funder,
                41,
                n as u64,
                k.public_key().address(),
                1_000_000_000,
            )
        })
        .collect();
    assert!(post_txs(ports[0], &funding).iter().all(Result::is_ok));
    let funded = keys.len() as u64;
    assert!(
        wait_for(Duration::from_secs(60), || nonce(
            ports[1],
            &funder.public_key().address()
        ) >= funded),
        "funding not committed"
    );

    // The flood: nonces 1..=QUEUED_PER_SENDER of every attacker (nonce 0 never comes).
    let jobs: Vec<(usize, u64)> = (1..=QUEUED_PER_SENDER as u64)
        .flat_map(|n| (0..ATTACKERS).map(move |k| (k, n)))
        .collect();
    let flood = sign_all(&keys, &jobs);
    let mut queued = 0usize;
    for chunk in flood.chunks(2_000) {
        for r in post_txs(ports[0], chunk) {
            match r {
                Ok(_) => queued += 1,
                Err(code) => assert_eq!(code, "mempool_full", "a gapped one refused so"),
            }
        }
    }
    assert!(
        queued > INTAKE_SHED_PENDING,
        "{queued} gapped transactions admitted (queued), more than the shed threshold"
    );
    assert!(
        wait_for(Duration::from_secs(10), || net
            .status(0)
            .is_some_and(|s| s.mempool_queued > INTAKE_SHED_PENDING)),
        "node 0 reports them queued"
    );

    // The honest sender: every transaction admitted, all committed.
    let honest = &keys[ATTACKERS];
    let jobs: Vec<(usize, u64)> = (0..HONEST).map(|n| (ATTACKERS, n)).collect();
    let txs = sign_all(&keys, &jobs);
    for (i, chunk) in txs.chunks(50).enumerate() {
        let results = post_txs(ports[i % 4], chunk);
        assert!(
            results.iter().all(Result::is_ok),
            "honest transactions refused: {:?}",
            results.iter().find(|r| r.is_err())
        );
    }
    let a = honest.public_key().address();
    assert!(
        wait_for(Duration::from_secs(60), || (0..4)
            .all(|i| nonce(ports[i], &a) == HONEST)),
        "the honest sender's transactions committed on every node"
    );
    for i in 0..4 {
        let s = net.status(i).expect("status");
        assert!(s.mempool_queued <= MEMPOOL_QUEUED_CAPACITY);
        assert!(
            s.mempool_ready < INTAKE_SHED_PENDING,
            "node {i}: {} ready",
            s.mempool_ready
        );
    }
    // None of the gapped ones executed.
    assert!((0..ATTACKERS).all(|k| nonce(ports[2], &keys[k].public_key().address()) == 0));
    net.stop_all();
}
