//! Issue 14 test 5, scaled down (see the crate docs): signed transfers submitted over
//! the HTTP API to every node are each committed exactly once; a bad signature, a wrong
//! chain, garbage and a replayed nonce are refused with their error codes; the pool stays
//! within its bound and the total balance is conserved.

mod common;

use common::*;
use cpchain_core::Address;
use cpchain_node::api::http;
use cpchain_node::config::{load_key, NodeConfig};
use cpchain_node::tx::{tx_hash, Transaction, TxBody, TxKind, GENESIS_BALANCE};
use cpchain_node::validator::MEMPOOL_CAPACITY;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const N: u64 = 600;

fn submit(port: u16, tx: &Transaction) -> (u16, String) {
    let body = format!("{{\"tx\":\"{}\"}}", hex::encode(tx.to_bytes()));
    http(port, "POST", "/tx", Some(&body)).expect("API reachable")
}

fn account(port: u16, a: &Address) -> (u64, u128) {
    let (status, body) = http(port, "GET", &format!("/account/{a}"), None).expect("API");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    (
        v["nonce"].as_u64().expect("nonce"),
        v["balance"]
            .as_str()
            .expect("balance")
            .parse()
            .expect("u128"),
    )
}

fn code(reply: &(u16, String)) -> String {
    let v: serde_json::Value = serde_json::from_str(&reply.1).unwrap_or_default();
    v["code"].as_str().unwrap_or("").to_string()
}

#[test]
fn signed_transfers_commit_exactly_once_and_invalid_ones_are_refused_with_codes() {
    let mut net = Net::init("tx", 4, 200, 600, false);
    net.start_all();
    assert!(
        net.wait_heads(&[0, 1, 2, 3], 2, Duration::from_secs(40)),
        "no start"
    );
    let cfgs: Vec<NodeConfig> = net
        .configs
        .iter()
        .map(|c| NodeConfig::load(c).expect("cfg"))
        .collect();
    let ports: Vec<u16> = cfgs.iter().map(|c| c.api_port.expect("api port")).collect();
    let key = load_key(&cfgs[0].key_file).expect("key");
    let sender = key.public_key().address();
    let to = Address([7; 20]);
    let body = |chain_id, nonce, amount| TxBody {
        chain_id,
        nonce,
        kind: TxKind::Transfer { to, amount },
    };

    let mut hashes = Vec::new();
    for n in 0..N {
        let tx = Transaction::sign(&key, body(41, n, u128::from(n) + 1));
        // Submitted to every node in turn: the others learn it by gossip.
        let port = ports[(n % 4) as usize];
        let reply = submit(port, &tx);
        assert_eq!(reply.0, 200, "tx {n} refused: {}", reply.1);
        hashes.push(tx_hash(&tx.to_bytes()));
    }
    // Invalid ones, with their codes.
    let mut bad_v = Transaction::sign(&key, body(41, N, 1));
    bad_v.signature[64] = 9;
    assert_eq!(code(&submit(ports[0], &bad_v)), "bad_signature");
    let wrong_chain = Transaction::sign(&key, body(42, N, 1));
    assert_eq!(code(&submit(ports[1], &wrong_chain)), "wrong_chain");
    let garbage = http(ports[2], "POST", "/tx", Some("{\"tx\":\"0badbeef\"}")).expect("API");
    assert_eq!(code(&garbage), "decode");
    let (status, body_404) = http(ports[3], "GET", "/block/999999", None).expect("API");
    assert_eq!(
        (status, code(&(status, body_404))),
        (404, "not_found".to_string())
    );

    // Every valid transfer commits: the sender's nonce reaches N.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if account(ports[0], &sender).0 == N {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "nonce {} of {N}",
            account(ports[0], &sender).0
        );
        let mempool = net.status(0).map(|s| s.mempool).unwrap_or(0);
        assert!(mempool <= MEMPOOL_CAPACITY);
        std::thread::sleep(Duration::from_millis(200));
    }
    // A replay of a committed nonce is refused.
    let replay = Transaction::sign(&key, body(41, 0, 1));
    assert_eq!(code(&submit(ports[1], &replay)), "nonce_replayed");
    let sum: u128 = (1..=u128::from(N)).sum();
    assert_eq!(account(ports[2], &to).1, sum);
    // Supply is conserved (fees move from senders to coinbases).
    let validators: Vec<Address> = cfgs
        .iter()
        .map(|c| load_key(&c.key_file).expect("key").public_key().address())
        .collect();
    let total: u128 = validators
        .iter()
        .map(|a| account(ports[3], a).1)
        .sum::<u128>()
        + account(ports[3], &to).1;
    assert_eq!(total, 4 * GENESIS_BALANCE);

    // Wait for every node to hold the last transaction, then stop and count.
    let target = (0..4).map(|i| net.head(i)).max().unwrap_or(0);
    assert!(net.wait_heads(&[0, 1, 2, 3], target, Duration::from_secs(30)));
    net.stop_all();
    let chains: Vec<_> = (0..4).map(|i| net.chain(i)).collect();
    assert_chains_agree(&chains);
    let store = cpchain_node::store::Store::open_existing(&cfgs[1].db_path()).expect("db");
    let mut seen: HashMap<[u8; 32], u32> = HashMap::new();
    for v in store.all().expect("blocks") {
        for t in &v.block.transactions {
            *seen.entry(tx_hash(t).0).or_default() += 1;
        }
    }
    for (n, h) in hashes.iter().enumerate() {
        assert_eq!(
            seen.get(&h.0),
            Some(&1),
            "tx {n} committed {:?} times",
            seen.get(&h.0)
        );
    }
    assert_eq!(seen.len() as u64, N, "unexpected transactions in the chain");
}
