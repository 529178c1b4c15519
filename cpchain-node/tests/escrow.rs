//! Issue 15's escrow test, on four real validator processes: a stream registered, listed
//! and anchored; a buyer's order whose delivery (the owner's grant on chain) and
//! confirmation pay the owner exactly the locked price; a confirmation by someone else
//! (`not_buyer`) and a second confirmation (`already_confirmed`, through the `tx confirm`
//! CLI) refused with their codes; an order nobody delivers refunded after its delivery
//! deadline, judged by block time.
//!
//! The delivery uses a real signed grant (`sharing::Grant`), so this file needs the
//! `pre` feature: `cargo test -p cpchain-node --features pre --test escrow`.

#![cfg(feature = "pre")]

mod common;

use common::*;
use cpchain_core::{encoding, Address, Hash, Timestamp};
use cpchain_crypto::pre::PreSecretKey;
use cpchain_crypto::SecretKey;
use cpchain_node::api::send_kind;
use cpchain_node::config::load_key;
use cpchain_node::ledger::{order_id, OrderId, OrderTx};
use cpchain_node::tx::TxKind;
use cpchain_storage::market::Listing;
use cpchain_storage::sharing::Grant;
use cpchain_storage::{Anchor, BlockId, StreamId};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const CHAIN: u64 = 41;
/// Price per interval.
const PRICE: u128 = 5_000_000;
/// How long a step may take to commit on a loaded 2-core machine.
const STEP: Duration = Duration::from_secs(60);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn balance(port: u16, a: &Address) -> u128 {
    let (status, v) = get_json(port, &format!("/account/{a}"));
    assert_eq!(status, 200, "{v}");
    v["balance"]
        .as_str()
        .expect("balance")
        .parse()
        .expect("u128")
}

/// Submit and expect admission; returns the nonce used.
fn send(port: u16, key: &SecretKey, kind: TxKind) -> u64 {
    let (status, reply, nonce) = send_kind(port, key, CHAIN, None, kind).expect("API");
    assert_eq!(status, 200, "{reply}");
    nonce
}

/// Submit and expect refusal with `code`.
fn refused(port: u16, key: &SecretKey, kind: TxKind, code: &str) {
    let (status, reply, _) = send_kind(port, key, CHAIN, None, kind).expect("API");
    assert_eq!(status, 400, "{reply}");
    let v: serde_json::Value = serde_json::from_str(&reply).expect("json");
    assert_eq!(v["code"], code, "{reply}");
}

fn order_state(port: u16, id: &OrderId) -> String {
    let (_, v) = get_json(port, &format!("/order/{}", hex::encode(id.0 .0)));
    v["state"].as_str().unwrap_or("").to_string()
}

#[test]
fn escrow_pays_the_owner_on_confirmation_refunds_an_undelivered_order_and_refuses_bad_confirmations(
) {
    let mut net = Net::init("escrow", 4, 300, 2_000, false);
    net.start_all();
    assert!(
        net.wait_heads(&[0, 1, 2, 3], 2, Duration::from_secs(60)),
        "no start"
    );
    let cfgs = net.loaded_configs();
    let ports = net.api_ports();
    let keys: Vec<SecretKey> = cfgs
        .iter()
        .map(|c| load_key(&c.key_file).expect("key"))
        .collect();
    // Validators' funded accounts play the parts.
    let (owner, buyer, other) = (&keys[1], &keys[2], &keys[3]);
    let (owner_a, buyer_a) = (owner.public_key().address(), buyer.public_key().address());
    let device = SecretKey::from_bytes(&[0x5d; 32]).expect("scalar");
    let stream = StreamId::derive(&owner_a, b"greenhouse-7/temperature");
    let stream_hex = hex::encode(stream.0);

    // The owner registers the stream, then lists intervals 0..=9.
    send(
        ports[1],
        owner,
        TxKind::RegisterStream {
            stream,
            device: device.public_key().to_compressed(),
        },
    );
    assert!(
        wait_for(STEP, || get_json(
            ports[0],
            &format!("/stream/{stream_hex}")
        )
        .0 == 200),
        "registration not committed"
    );
    let listing = Listing {
        chain_id: CHAIN,
        seller: owner_a,
        title: heapless::String::try_from("greenhouse 7 temperature").expect("fits"),
        labels: heapless::Vec::new(),
        description: heapless::String::new(),
        price: PRICE,
        stream,
        first_interval: 0,
        last_interval: 9,
        created_at: Timestamp(now_ms()),
    }
    .sign(owner)
    .expect("signs");
    let listing_id = listing.body.id().expect("id");
    send(ports[1], owner, TxKind::Listing(Box::new(listing)));
    // A gateway's host (another account) anchors the device's head.
    let anchor = Anchor::sign(
        stream,
        3,
        BlockId(Hash([3; 32])),
        Timestamp(now_ms()),
        &device,
    );
    send(ports[3], other, TxKind::Anchor(Box::new(anchor)));
    assert!(
        wait_for(STEP, || {
            let (s, v) = get_json(ports[2], &format!("/stream/{stream_hex}"));
            s == 200 && v["head"]["last_index"] == 3
        }),
        "anchor not committed"
    );
    let (s, page) = get_json(ports[0], "/listings");
    assert_eq!(s, 200);
    assert_eq!(page["listings"][0]["id"], hex::encode(listing_id.0 .0));

    // Two orders: A (intervals 2..=3) will be delivered; B (5) will not.
    let grantee_sk = PreSecretKey::from_seed(&[0x33; 32]).expect("key");
    let grantee = grantee_sk.public_key();
    let order = |first, last, deliver_within_ms| {
        TxKind::Order(Box::new(OrderTx {
            listing: listing_id,
            first_interval: first,
            last_interval: last,
            grantee: grantee.to_compressed(),
            deliver_within_ms,
            confirm_within_ms: 600_000,
        }))
    };
    let b0 = balance(ports[2], &buyer_a);
    let na = send(ports[2], buyer, order(2, 3, 600_000));
    let a = order_id(&buyer_a, na);
    let nb = send_kind(ports[2], buyer, CHAIN, Some(na + 1), order(5, 5, 3_000))
        .map(|(s, r, n)| {
            assert_eq!(s, 200, "{r}");
            n
        })
        .expect("API");
    let b = order_id(&buyer_a, nb);
    assert!(
        wait_for(STEP, || order_state(ports[0], &a) == "placed"
            && balance(ports[0], &buyer_a) <= b0 - 2 * PRICE),
        "order A not committed"
    );
    // Someone else may not confirm, nor may the buyer before delivery.
    refused(ports[3], other, TxKind::Confirm { order: a }, "not_buyer");
    refused(
        ports[2],
        buyer,
        TxKind::Confirm { order: a },
        "not_delivered",
    );

    // The owner's grant for order A, then the delivery linking it.
    let pk = |seed: u8| {
        PreSecretKey::from_seed(&[seed; 32])
            .expect("key")
            .public_key()
    };
    let (grant_id, signed) = Grant {
        chain_id: CHAIN,
        owner: owner_a,
        stream,
        first_interval: 2,
        last_interval: 3,
        grantee,
        threshold: 2,
        proxies: [7u8, 8, 9].iter().map(|b| Address([*b; 20])).collect(),
        kfrag_signer: pk(0x51),
        delegating_keys: [pk(0x62), pk(0x63)].into_iter().collect(),
        issued_at: Timestamp(now_ms()),
        expires_at: Timestamp(now_ms() + 3_600_000),
        salt: [0xab; 16],
    }
    .sign(owner)
    .expect("signs");
    let record = encoding::encode_to_vec(&signed).expect("encodes");
    send(ports[1], owner, TxKind::Grant { record });
    let grant_path = format!("/grant/{}", hex::encode(grant_id.0 .0));
    assert!(
        wait_for(STEP, || get_json(ports[3], &grant_path).0 == 200),
        "grant not committed"
    );
    send(
        ports[1],
        owner,
        TxKind::Deliver {
            order: a,
            grant: grant_id.0,
        },
    );
    assert!(
        wait_for(STEP, || order_state(ports[0], &a) == "delivered"),
        "delivery not committed"
    );
    let (_, g) = get_json(ports[0], &grant_path);
    assert_eq!(g["order"], hex::encode(a.0 .0));
    assert_eq!(g["revoked"], false);

    // Confirmation pays the owner exactly the locked price (the owner sends nothing
    // meanwhile, and the devnet's free daily quota leaves no fee to anyone).
    let paid_before = balance(ports[0], &owner_a);
    refused(ports[3], other, TxKind::Confirm { order: a }, "not_buyer");
    send(ports[2], buyer, TxKind::Confirm { order: a });
    assert!(
        wait_for(STEP, || order_state(ports[1], &a) == "confirmed"),
        "confirmation not committed"
    );
    assert!(
        wait_for(STEP, || balance(ports[3], &owner_a)
            == paid_before + 2 * PRICE),
        "owner not paid: {} vs {}",
        balance(ports[3], &owner_a),
        paid_before + 2 * PRICE
    );
    // A second confirmation, through the CLI, is refused with its code.
    let key_file = cfgs[2].key_file.to_string_lossy().into_owned();
    let port = ports[2].to_string();
    let a_hex = hex::encode(a.0 .0);
    let out = run_bounded(
        &[
            "tx",
            "confirm",
            "--key",
            &key_file,
            "--api-port",
            &port,
            "--order",
            &a_hex,
        ],
        &[],
        Duration::from_secs(30),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("already_confirmed"), "{stdout}");

    // Order B was never delivered: refunded once block time passes its deadline.
    assert!(
        wait_for(STEP, || order_state(ports[3], &b) == "refunded"),
        "order B not refunded: {}",
        order_state(ports[3], &b)
    );
    assert!(
        wait_for(STEP, || balance(ports[0], &buyer_a) == b0 - 2 * PRICE),
        "buyer not refunded: {} vs {}",
        balance(ports[0], &buyer_a),
        b0 - 2 * PRICE
    );
    refused(
        ports[1],
        owner,
        TxKind::Deliver {
            order: b,
            grant: grant_id.0,
        },
        "order_closed",
    );
    net.stop_all();
    let chains: Vec<_> = (0..4).map(|i| net.chain(i)).collect();
    assert!(assert_chains_agree(&chains) > 0);
}
