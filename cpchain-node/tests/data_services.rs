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

use common::data::*;
use common::*;
use cpchain_node::config::{load_key, NodeConfig};
use cpchain_node::devgateway;
use cpchain_node::ledger::order_id;
use cpchain_node::proxy::ProxyEndpoint;
use cpchain_node::trade::{self, BuyOptions};
use std::time::Duration;

#[test]
fn gateway_to_buyer_exact_interval_byte_identical_next_interval_closed() {
    let DataNet {
        mut net,
        owner_key,
        master_bytes,
        stream,
        port,
        chain_id,
        gw_port,
        first,
        listing_id,
        outputs,
        readings,
        dir,
        ..
    } = DataNet::start("data_services");
    let started = std::time::Instant::now();
    // 503 while the DHT has too few live storage nodes: retried.
    let report = ingest_until_ready(&dir, gw_port);
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    eprintln!(
        "ingested {} outputs in {:?}",
        outputs.len(),
        started.elapsed()
    );
    let last_index = 59; // 600 s at T = 10 s
    wait_anchors(port, stream, last_index);

    // The sale: the buyer (validator 1's funded account) orders interval first + 4.
    let buyer_key = load_key(&NodeConfig::load(&net.configs[1]).expect("c").key_file).expect("k");
    let buyer_addr = buyer_key.public_key().address();
    let (_, acct) = get_json(port, &format!("/account/{buyer_addr}"));
    let order = order_id(&buyer_addr, acct["nonce"].as_u64().expect("nonce"));
    let proxies: Vec<ProxyEndpoint> = net.proxy_endpoints(&PROXIES);
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
    let mut owner = owner_of(&owner_key, master_bytes, stream, chain_id);
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
