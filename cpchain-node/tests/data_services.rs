//! Issue 15 end to end, as real processes on 127.0.0.1: 4 validators, 6 storage nodes, 3
//! re-encryption proxies and the owner's gateway-ingest node. A gateway's 10 minutes of
//! 1 Hz readings (the Rust `Writer`, fixed seed) are handed to the ingest node from a
//! directory (`gateway::ingest_dir`, what `cpchain-node ingest` runs); it verifies them,
//! stores the shards on the DHT and puts the anchors on chain. A buyer orders one interval
//! of the owner's listing; the owner sells (grant, kfrags, delivery); the buyer fetches the
//! interval from the DHT, opens it through the proxies, checks it against the anchors,
//! gets exactly that interval's readings byte for byte, and confirms; the next interval
//! stays closed.
#![cfg(feature = "pre")]

mod common;

use common::*;
use cpchain_core::Timestamp;
use cpchain_crypto::SecretKey;
use cpchain_node::config::{load_key, NodeConfig};
use cpchain_node::devgateway::{self, SimOptions};
use cpchain_node::gateway::{self, GatewayStream};
use cpchain_node::ledger::order_id;
use cpchain_node::proxy::ProxyEndpoint;
use cpchain_node::trade::{self, BuyOptions};
use cpchain_node::tx::TxKind;
use cpchain_storage::market::Listing;
use cpchain_storage::sharing::{Owner, OwnerConfig};
use cpchain_storage::{MasterSecret, StreamId};
use std::time::Duration;

const VALIDATORS: usize = 4;
const PROXIES: [usize; 3] = [4, 5, 6];
const STORAGE: [usize; 6] = [7, 8, 9, 10, 11, 12];
const GATEWAY: usize = 13;
const TIMEOUT: Duration = Duration::from_secs(60);

#[test]
fn gateway_to_buyer_exact_interval_byte_identical_next_interval_closed() {
    let mut net = Net::init_with(
        "data_services",
        VALIDATORS,
        PROXIES.len() + STORAGE.len() + 1,
        300,
        3_000,
        false,
    );
    let gw_cfg = NodeConfig::load(&net.configs[GATEWAY]).expect("config");
    let owner_key = load_key(&gw_cfg.key_file).expect("owner key");
    let owner_addr = owner_key.public_key().address();
    let storage_addrs: Vec<_> = STORAGE.iter().map(|&i| net.endpoint(i).1).collect();
    let mut writers = storage_addrs.clone();
    writers.push(owner_addr);
    for i in PROXIES {
        net.make_proxy(i);
    }
    for i in STORAGE {
        net.make_storage(i, 64 << 20, &writers);
    }
    let device = SecretKey::from_bytes(&[0x42; 32]).expect("device key");
    let master_bytes = [0x24; 32];
    let master = MasterSecret::from_bytes(master_bytes);
    let stream = StreamId([0x5a; 32]);
    net.make_gateway(
        GATEWAY,
        vec![GatewayStream {
            stream: hex::encode(stream.0),
            device: hex::encode(device.public_key().to_compressed()),
            period_ms: 10_000,
            interval_ms: 60_000,
            upload_ms: 30_000,
            data: 4,
            parity: 2,
        }],
        Some(&master_bytes),
    );
    for i in STORAGE.iter().copied().chain([GATEWAY]) {
        net.add_peers(i, &STORAGE);
    }
    net.start_all();
    let all: Vec<usize> = (0..=GATEWAY).collect();
    assert!(
        net.wait_heads(&all, 3, Duration::from_secs(90)),
        "network did not start"
    );
    let cfg0 = NodeConfig::load(&net.configs[0]).expect("config");
    let (port, chain_id) = (cfg0.api_port.expect("api"), cfg0.chain_id);
    let gw_port = gw_cfg.api_port.expect("gateway api");

    // The owner registers the stream and lists it.
    trade::commit(
        port,
        &owner_key,
        chain_id,
        TxKind::RegisterStream {
            stream,
            device: device.public_key().to_compressed(),
        },
        TIMEOUT,
    )
    .expect("register");
    let now_ms = cpchain_node::node::now().0;
    let start_ms = (now_ms / 60_000 - 20) * 60_000;
    let first = start_ms / 60_000;
    let listing = Listing {
        chain_id,
        seller: owner_addr,
        title: heapless::String::try_from("greenhouse 7").expect("fits"),
        labels: heapless::Vec::new(),
        description: heapless::String::new(),
        price: 1_000,
        stream,
        first_interval: first,
        last_interval: first + 9,
        created_at: Timestamp(now_ms),
    }
    .sign(&owner_key)
    .expect("listing");
    let listing_id = listing.body.id().expect("id");
    trade::commit(
        port,
        &owner_key,
        chain_id,
        TxKind::Listing(Box::new(listing)),
        TIMEOUT,
    )
    .expect("listing");

    // The gateway: 10 minutes of 1 Hz readings, handed over from a directory.
    let opts = SimOptions {
        stream,
        schedule: devgateway::default_schedule(),
        start_ms,
        seconds: 600,
        pad: 0,
        seed: 15,
    };
    let (outputs, readings) = devgateway::simulate(&opts, &device, &master).expect("simulate");
    let dir = net.dir.0.join("gateway-out");
    devgateway::write_dir(&dir, &outputs).expect("write");
    let started = std::time::Instant::now();
    let report = loop {
        // 503 while the DHT has too few live storage nodes: retried.
        match gateway::ingest_dir(&dir, gw_port) {
            Ok(r) => break r,
            Err(e) => {
                assert!(started.elapsed() < TIMEOUT, "ingest: {e}");
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    };
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    eprintln!(
        "ingested {} outputs in {:?}",
        outputs.len(),
        started.elapsed()
    );
    let last_index = 59; // 600 s at T = 10 s
    assert!(
        wait_for(TIMEOUT, || {
            let (_, v) = get_json(port, &format!("/stream/{}", hex::encode(stream.0)));
            v["head"]["last_index"].as_u64() == Some(last_index)
        }),
        "anchors not on chain"
    );

    // The sale: the buyer (validator 1's funded account) orders interval first + 4.
    let buyer_key = load_key(&NodeConfig::load(&net.configs[1]).expect("c").key_file).expect("k");
    let buyer_addr = buyer_key.public_key().address();
    let (_, acct) = get_json(port, &format!("/account/{buyer_addr}"));
    let order = order_id(&buyer_addr, acct["nonce"].as_u64().expect("nonce"));
    let proxies: Vec<ProxyEndpoint> = PROXIES
        .iter()
        .map(|&i| {
            let (m, address) = net.endpoint(i);
            ProxyEndpoint {
                address,
                multiaddr: m.parse().expect("multiaddr"),
            }
        })
        .collect();
    let interval = first + 4;
    let buy_opts = BuyOptions {
        api_port: port,
        chain_id,
        key: buyer_key,
        listing: listing_id.0,
        interval,
        schedule: devgateway::default_schedule(),
        storage_peers: STORAGE.iter().map(|&i| net.endpoint(i).0).collect(),
        proxies: proxies.clone(),
        timeout: TIMEOUT,
    };
    let buyer = std::thread::spawn(move || {
        let mut csv = Vec::new();
        let bought = trade::buy(&buy_opts, &mut csv);
        (bought, csv)
    });
    assert!(
        wait_for(TIMEOUT, || get_json(
            port,
            &format!("/order/{}", hex::encode(order.0 .0))
        )
        .0 == 200),
        "order not on chain"
    );
    let mut owner = Owner::new(
        owner_key.clone(),
        MasterSecret::from_bytes(master_bytes),
        stream,
        OwnerConfig {
            chain_id,
            ..OwnerConfig::default()
        },
    )
    .expect("owner");
    trade::sell(
        port, chain_id, &mut owner, &owner_key, &order, &proxies, 2, TIMEOUT,
    )
    .expect("sell");
    let (bought, csv) = buyer.join().expect("buyer thread");
    let mut bought = bought.expect("buy");
    let want: Vec<(u64, Vec<u8>)> = readings
        .iter()
        .filter(|(t, _)| t / 60_000 == interval)
        .cloned()
        .collect();
    assert_eq!(want.len(), 60);
    let got: Vec<(u64, Vec<u8>)> = bought
        .readings
        .iter()
        .map(|r| (r.time_ms, r.data.clone()))
        .collect();
    assert_eq!(got, want, "exactly the interval, byte for byte");
    let mut expected = String::from("time_ms,reading\n");
    for (t, r) in &want {
        expected.push_str(&format!(
            "{t},{}\n",
            String::from_utf8(r.clone()).expect("text")
        ));
    }
    assert_eq!(String::from_utf8(csv).expect("csv"), expected);
    eprintln!("time to first reading {:?}", bought.time_to_first_reading);
    // Confirmed on chain.
    let (_, o) = get_json(port, &format!("/order/{}", hex::encode(order.0 .0)));
    assert_eq!(o["state"], "confirmed", "{o}");
    // The next interval stays closed: the proxies refuse it under this grant.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let wrapped = owner
        .wrap_interval_key(&mut rand_core::OsRng, interval + 1)
        .expect("wrap");
    let next = rt.block_on(cpchain_node::proxy::open_interval(
        &mut bought.grantee,
        cpchain_node::node::now(),
        &bought.grant,
        interval + 1,
        wrapped,
        &proxies,
        Duration::from_secs(10),
    ));
    assert!(next.is_err(), "interval {} opened", interval + 1);
    net.stop_all();
}
