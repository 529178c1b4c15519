//! A sale end to end across processes (issue 15 items 5 and the owner's side; feature
//! `pre`): [`buy`] is `cpchain-node buy`, [`sell`] is `cpchain-node sell`.
//!
//! * **Buyer** ([`buy`]): reads the listing and the stream's registration from a node's
//!   HTTP API, places an order (escrow) for one interval with a fresh Umbral receiving
//!   key, waits until the order is delivered on chain, accepts the delivered grant (the
//!   signed record the chain holds), takes the stream's anchors from the chain, walks the
//!   interval's blocks back from the closing anchor through the DHT
//!   ([`crate::dht::spawn_client`]: key-index record, then shards, reassembled and checked),
//!   opens the interval key with m of n proxies' cfrags ([`crate::proxy::open_interval`]),
//!   verifies the blocks against the anchors and decrypts them
//!   ([`crate::buyer::open_interval`]), writes the CSV, and confirms the order.
//! * **Owner** ([`sell`]): decision: a person (or a script) runs the sale for an order it
//!   sees on chain, rather than the owner's node granting by itself on seeing an order. A
//!   grant hands out a key; an owner's node that granted automatically would hold the
//!   owner's identity key online and sell to anyone who pays, which an owner may want, but
//!   it is a policy, not a mechanism; `sell` is the mechanism. It grants the order's
//!   intervals to the order's receiving key through the given proxies, puts the grant on
//!   chain, delivers the kfrags (retrying while proxies have not yet seen the grant's
//!   block), and delivers the order.

use crate::api::http;
use crate::buyer::{self, OnChainStream, Reading, Walk};
use crate::ledger::{order_id, OrderId, OrderTx};
use crate::proxy::{deliver_kfrags, grant_outputs, open_interval, ProxyEndpoint};
use crate::tx::TxKind;
use cpchain_core::{encoding, Address, Hash, Timestamp};
use cpchain_crypto::pre::{PrePublicKey, PreSecretKey};
use cpchain_crypto::SecretKey;
use cpchain_storage::sharing::{self, GrantRequest, Grantee, GranteeConfig, Owner, SignedGrant};
use cpchain_storage::{Anchor, BlockId, StreamId};
use serde_json::Value;
use std::time::{Duration, Instant};

fn get(port: u16, path: &str) -> Result<Value, String> {
    let (status, body) = http(port, "GET", path, None).map_err(|e| format!("API: {e}"))?;
    if status != 200 {
        return Err(format!("GET {path}: {status} {body}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("GET {path}: {e}"))
}

fn hex32(v: &Value) -> Result<[u8; 32], String> {
    let s = v.as_str().ok_or("expected hex")?;
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).map_err(|e| format!("hex: {e}"))?;
    Ok(out)
}

fn nonce(port: u16, a: &Address) -> Result<u64, String> {
    get(port, &format!("/account/{a}"))?["nonce"]
        .as_u64()
        .ok_or_else(|| "account without nonce".to_string())
}

/// Send `kind` from `key` and wait (bounded by `timeout`) until the chain has it (the
/// sender's nonce moved past it). Returns the nonce used.
pub fn commit(
    port: u16,
    key: &SecretKey,
    chain_id: u64,
    kind: TxKind,
    timeout: Duration,
) -> Result<u64, String> {
    let me = key.public_key().address();
    let (status, reply, n) =
        crate::api::send_kind(port, key, chain_id, None, kind).map_err(|e| format!("API: {e}"))?;
    if status != 200 {
        return Err(format!("refused: {reply}"));
    }
    let deadline = Instant::now() + timeout;
    while nonce(port, &me)? <= n {
        if Instant::now() > deadline {
            return Err("transaction not committed in time".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(n)
}

/// What the buyer asks for.
pub struct BuyOptions {
    /// A node's HTTP API on 127.0.0.1 (reads and submissions).
    pub api_port: u16,
    /// The chain.
    pub chain_id: u64,
    /// The buyer's account key (pays, signs the order and the confirmation).
    pub key: SecretKey,
    /// The listing bought from.
    pub listing: Hash,
    /// The encryption interval bought.
    pub interval: u64,
    /// The stream's T, e and u (the chain records neither; the listing's seller states
    /// them with the listing's description, the devnet uses
    /// [`crate::devgateway::default_schedule`]).
    pub schedule: cpchain_storage::Schedule,
    /// Storage nodes to dial (multiaddrs ending in `/p2p/<peer id>`).
    pub storage_peers: Vec<String>,
    /// Where the grant's proxies are.
    pub proxies: Vec<ProxyEndpoint>,
    /// Bound on each wait (delivery, DHT, proxies).
    pub timeout: Duration,
}

/// What a purchase gave.
#[derive(Debug)]
pub struct Bought {
    /// The order.
    pub order: OrderId,
    /// The interval's readings, in chain order.
    pub readings: Vec<Reading>,
    /// From seeing the delivery on chain to the first reading decrypted.
    pub time_to_first_reading: Duration,
    /// The grant delivered.
    pub grant: sharing::GrantId,
    /// The receiving side, holding the grant (to show what else it can and cannot open).
    pub grantee: Grantee,
}

/// Buy one interval (see the module docs); the CSV goes to `csv`.
pub fn buy(opts: &BuyOptions, csv: &mut impl std::io::Write) -> Result<Bought, String> {
    let port = opts.api_port;
    let listing = get(port, &format!("/listing/{}", hex::encode(opts.listing.0)))?;
    let stream = StreamId(hex32(&listing["stream"])?);
    let reg = get(port, &format!("/stream/{}", hex::encode(stream.0)))?;
    let device_hex = reg["device"].as_str().ok_or("stream without device")?;
    let device = cpchain_crypto::PublicKey::from_sec1_bytes(
        &hex::decode(device_hex).map_err(|e| format!("device: {e}"))?,
    )
    .map_err(|e| format!("device: {e}"))?;
    // The receiving key of this purchase (fresh: a grant to it opens nothing else).
    let (gk, _) =
        PreSecretKey::random(&mut rand_core::OsRng).map_err(|e| format!("receiving key: {e}"))?;
    let mut grantee = Grantee::new(
        gk,
        GranteeConfig {
            chain_id: opts.chain_id,
            ..GranteeConfig::default()
        },
    );
    let me = opts.key.public_key().address();
    let n = nonce(port, &me)?;
    let order = order_id(&me, n);
    commit(
        port,
        &opts.key,
        opts.chain_id,
        TxKind::Order(Box::new(OrderTx {
            listing: cpchain_storage::market::ListingId(opts.listing),
            first_interval: opts.interval,
            last_interval: opts.interval,
            grantee: grantee.public_key().to_compressed(),
            deliver_within_ms: opts.timeout.as_millis() as u64,
            confirm_within_ms: opts.timeout.as_millis() as u64,
        })),
        opts.timeout,
    )?;
    // Wait for the delivery.
    let deadline = Instant::now() + opts.timeout;
    let grant_id = loop {
        let o = get(port, &format!("/order/{}", hex::encode(order.0 .0)))?;
        if o["state"] == "delivered" {
            break Hash(hex32(&o["grant"])?);
        }
        if o["state"] == "refunded" || Instant::now() > deadline {
            return Err(format!("order not delivered: {}", o["state"]));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let started = Instant::now();
    let g = get(port, &format!("/grant/{}", hex::encode(grant_id.0)))?;
    let record = hex::decode(g["record"].as_str().ok_or("grant without record")?)
        .map_err(|e| format!("grant record: {e}"))?;
    let signed: SignedGrant = encoding::decode(&record).map_err(|e| format!("grant: {e}"))?;
    let now = crate::node::now();
    let gid = grantee
        .accept_grant(now, &signed)
        .map_err(|e| format!("grant: {e}"))?;
    // The stream's anchors on chain, checked against the registered device.
    let a = get(port, &format!("/anchors/{}/0", hex::encode(stream.0)))?;
    let mut anchors = Vec::new();
    for v in a["anchors"].as_array().ok_or("anchors")? {
        let bytes =
            hex::decode(v["anchor"].as_str().ok_or("anchor")?).map_err(|e| e.to_string())?;
        let anchor: Anchor = encoding::decode(&bytes).map_err(|e| format!("anchor: {e}"))?;
        if anchor.stream == stream && anchor.verify(&device).is_ok() {
            anchors.push(anchor);
        }
    }
    let on_chain = OnChainStream {
        stream,
        device,
        schedule: opts.schedule,
    };
    let (start, end) =
        buyer::bracket(&anchors, &on_chain.schedule, opts.interval).map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let (blocks, records) = rt.block_on(async {
        let client = crate::dht::spawn_client(&opts.key, opts.chain_id, &opts.storage_peers)
            .map_err(|e| e.to_string())?;
        // Every named storage node live (bounded): the shards are spread over all of them.
        client
            .wait_for_nodes(opts.storage_peers.len(), opts.timeout)
            .await;
        let mut walk = Walk::new(&end, start.map_or(0, |a| a.last_index + 1));
        let mut records = Vec::new();
        while let Some(id) = walk.want() {
            let record = fetch_record(&client, id, opts.timeout).await?;
            let got = client
                .get_block(&record)
                .await
                .map_err(|e| format!("block: {e}"))?;
            walk.push(got.block).map_err(|e| e.to_string())?;
            records.push(record);
        }
        Ok::<_, String>((walk.blocks(), records))
    })?;
    let record = records
        .iter()
        .find(|r| r.interval == opts.interval)
        .ok_or("no block of the interval")?;
    let wrapped = sharing::wrapped_key(record).map_err(|e| format!("capsule: {e}"))?;
    let (key, _report) = rt
        .block_on(open_interval(
            &mut grantee,
            now,
            &gid,
            opts.interval,
            wrapped,
            &opts.proxies,
            opts.timeout,
        ))
        .map_err(|e| e.to_string())?;
    let start_ref = start.as_ref();
    let readings = buyer::open_interval(&on_chain, start_ref, &end, &blocks, opts.interval, &key)
        .map_err(|e| e.to_string())?;
    let time_to_first_reading = started.elapsed();
    buyer::write_csv(&readings, csv).map_err(|e| format!("csv: {e}"))?;
    commit(
        port,
        &opts.key,
        opts.chain_id,
        TxKind::Confirm { order },
        opts.timeout,
    )?;
    Ok(Bought {
        order,
        readings,
        time_to_first_reading,
        grant: gid,
        grantee,
    })
}

async fn fetch_record(
    client: &crate::dht::StorageClient,
    id: BlockId,
    timeout: Duration,
) -> Result<cpchain_storage::KeyIndexRecord, String> {
    let deadline = Instant::now() + timeout;
    loop {
        match client.get_record(id).await {
            Ok(r) if r.block == id => return Ok(r),
            Ok(_) => return Err("a storage node returned another block's record".into()),
            Err(e) if Instant::now() > deadline => return Err(format!("record: {e}")),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// The owner's side of a sale: grant the order's intervals to its receiving key through
/// `proxies` (threshold `threshold`), put the grant on chain, deliver the kfrags, deliver
/// the order. Returns the grant id.
#[allow(clippy::too_many_arguments)] // one call site per tool; a struct would only rename them
pub fn sell(
    api_port: u16,
    chain_id: u64,
    owner: &mut Owner,
    owner_key: &SecretKey,
    order: &OrderId,
    proxies: &[ProxyEndpoint],
    threshold: u8,
    timeout: Duration,
) -> Result<Hash, String> {
    let o = get(api_port, &format!("/order/{}", hex::encode(order.0 .0)))?;
    let first = o["first_interval"].as_u64().ok_or("order")?;
    let last = o["last_interval"].as_u64().ok_or("order")?;
    let gk = hex::decode(o["grantee"].as_str().ok_or("order")?).map_err(|e| e.to_string())?;
    let gk: [u8; 33] = gk.try_into().map_err(|_| "grantee key length")?;
    let grantee = PrePublicKey::from_compressed(&gk).map_err(|e| format!("grantee: {e}"))?;
    let addrs: Vec<Address> = proxies.iter().map(|p| p.address).collect();
    let now = crate::node::now();
    let gid = owner
        .grant(
            now,
            &mut rand_core::OsRng,
            &GrantRequest {
                first_interval: first,
                last_interval: last,
                grantee,
                threshold,
                proxies: &addrs,
                expires_at: Timestamp(now.0 + 24 * 3_600_000),
            },
        )
        .map_err(|e| format!("grant: {e}"))?;
    let out = grant_outputs(owner).ok_or("no grant output")?;
    commit(
        api_port,
        owner_key,
        chain_id,
        TxKind::Grant {
            record: encoding::encode_to_vec(&out.grant).map_err(|e| e.to_string())?,
        },
        timeout,
    )?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + timeout;
    let mut pending = out.deliveries.clone();
    while !pending.is_empty() {
        if Instant::now() > deadline {
            return Err(format!(
                "{} proxies did not take their kfrags",
                pending.len()
            ));
        }
        let results = rt
            .block_on(deliver_kfrags(&pending, proxies, timeout))
            .map_err(|e| e.to_string())?;
        for (a, r) in results {
            if r.is_ok() {
                pending.retain(|d| d.proxy != a);
            }
        }
        if !pending.is_empty() {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    commit(
        api_port,
        owner_key,
        chain_id,
        TxKind::Deliver {
            order: *order,
            grant: gid.0,
        },
        timeout,
    )?;
    Ok(gid.0)
}
