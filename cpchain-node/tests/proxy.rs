//! Issue 15 item 4: re-encryption proxies as a node role, as real processes. Four
//! validators and three proxies (followers with a `proxy` section); the owner registers a
//! stream and puts a 2-of-3 grant on chain, delivers the kfrags over `/cpchain/cfrag/1`,
//! and a grantee opens an interval with the proxies' signed cfrags. One proxy killed
//! (SIGKILL): 2 of 3 still open; restarted, it serves again from its store. A request for
//! a grant not on chain, and one for an interval outside the grant, are refused; after the
//! revocation is on chain every proxy refuses (`revoked`).
#![cfg(feature = "pre")]

mod common;

use common::data::owner_of;
use common::*;
use cpchain_core::{encoding, Address, Timestamp};
use cpchain_crypto::pre::PreSecretKey;
use cpchain_crypto::SecretKey;
use cpchain_node::api::http;
use cpchain_node::config::{load_key, NodeConfig};
use cpchain_node::proxy::{
    ask, deliver_kfrags, grant_outputs, open_interval, revoke_output, CfragReply, CfragRequest,
    ProxyEndpoint, RefusalCode,
};
use cpchain_node::tx::{Transaction, TxBody, TxKind};
use cpchain_storage::block::StreamId;
use cpchain_storage::keys::MasterSecret;
use cpchain_storage::sharing::{GrantRequest, Grantee, GranteeConfig, Owner, ReencryptionRequest};
use rand_core::OsRng;
use std::time::{Duration, Instant};

const VALIDATORS: usize = 4;
const PROXIES: [usize; 3] = [4, 5, 6];
const TIMEOUT: Duration = Duration::from_secs(20);

fn wall() -> Timestamp {
    cpchain_node::node::now()
}

fn nonce(port: u16, a: &Address) -> u64 {
    let (status, body) = http(port, "GET", &format!("/account/{a}"), None).expect("API");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    v["nonce"].as_u64().expect("nonce")
}

/// Submit `kind` from `key` and wait until it is committed (the sender's nonce passes it).
fn commit(port: u16, key: &SecretKey, chain_id: u64, kind: TxKind) {
    let me = key.public_key().address();
    let n = nonce(port, &me);
    let tx = Transaction::sign(
        key,
        TxBody {
            chain_id,
            nonce: n,
            kind,
        },
    );
    let body = serde_json::json!({ "tx": hex::encode(tx.to_bytes()) }).to_string();
    let (status, reply) = http(port, "POST", "/tx", Some(&body)).expect("API");
    assert_eq!(status, 200, "{reply}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while nonce(port, &me) <= n {
        assert!(Instant::now() < deadline, "transaction not committed");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn refusal(r: &CfragReply) -> Option<RefusalCode> {
    match r {
        CfragReply::Refused { code, .. } => Some(*code),
        _ => None,
    }
}

#[test]
fn proxies_serve_grants_live_on_chain_two_of_three_survive_a_kill_and_all_refuse_after_revocation()
{
    let mut net = Net::init_with("proxy", VALIDATORS, PROXIES.len(), 300, 3_000, false);
    for i in PROXIES {
        net.make_proxy(i);
    }
    net.start_all();
    let all: Vec<usize> = (0..VALIDATORS).chain(PROXIES).collect();
    assert!(
        net.wait_heads(&all, 3, Duration::from_secs(60)),
        "network did not start"
    );
    let cfg = NodeConfig::load(&net.configs[0]).expect("config");
    let port = cfg.api_port.expect("api port");
    let chain_id = cfg.chain_id;
    let owner_key = load_key(&cfg.key_file).expect("key");
    let endpoints: Vec<ProxyEndpoint> = net.proxy_endpoints(&PROXIES);
    let proxy_addrs: Vec<Address> = endpoints.iter().map(|e| e.address).collect();

    let stream = StreamId([0x77; 32]);
    let master = MasterSecret::random(&mut OsRng);
    let mut owner = owner_of(&owner_key, *master.expose_secret(), stream, chain_id);
    let (gk, _) = PreSecretKey::random(&mut OsRng).expect("grantee key");
    let mut grantee = Grantee::new(
        gk,
        GranteeConfig {
            chain_id,
            ..GranteeConfig::default()
        },
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    commit(
        port,
        &owner_key,
        chain_id,
        TxKind::RegisterStream {
            stream,
            device: owner_key.public_key().to_compressed(),
        },
    );
    let gpub = grantee.public_key();
    let grant = |owner: &mut Owner, first, last| {
        let req = GrantRequest {
            first_interval: first,
            last_interval: last,
            grantee: gpub,
            threshold: 2,
            proxies: &proxy_addrs,
            expires_at: Timestamp(wall().0 + 600_000),
        };
        let id = owner.grant(wall(), &mut OsRng, &req).expect("grant");
        (id, grant_outputs(owner).expect("grant outputs"))
    };
    let (gid, out) = grant(&mut owner, 3, 4);
    grantee
        .accept_grant(wall(), &out.grant)
        .expect("accept grant");

    // Before the grant is on chain, every proxy refuses its kfrags.
    let before = rt
        .block_on(deliver_kfrags(&out.deliveries, &endpoints, TIMEOUT))
        .expect("deliver");
    assert_eq!(before.len(), 3);
    for (a, r) in &before {
        assert_eq!(
            r.as_ref().err().map(String::as_str),
            Some("not_on_chain"),
            "proxy {a}"
        );
    }

    commit(
        port,
        &owner_key,
        chain_id,
        TxKind::Grant {
            record: encoding::encode_to_vec(&out.grant).expect("encode grant"),
        },
    );
    // Proxies judge by their own copy of the chain: retry until each has the block.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut pending = out.deliveries.clone();
    while !pending.is_empty() {
        assert!(Instant::now() < deadline, "deliveries not accepted");
        let results = rt
            .block_on(deliver_kfrags(&pending, &endpoints, TIMEOUT))
            .expect("deliver");
        for (a, r) in results {
            match r {
                Ok(id) => {
                    assert_eq!(id, gid);
                    pending.retain(|d| d.proxy != a);
                }
                Err(e) => assert_eq!(e, "not_on_chain", "proxy {a}"),
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }

    // A grantee opens interval 3 through the proxies: exactly the owner's interval key.
    let wrapped3 = owner.wrap_interval_key(&mut OsRng, 3).expect("wrap");
    let (key, report) = rt
        .block_on(open_interval(
            &mut grantee,
            wall(),
            &gid,
            3,
            wrapped3.clone(),
            &endpoints,
            TIMEOUT,
        ))
        .expect("interval 3 opens");
    assert!(key == master.interval_key(&stream, 3), "the owner's key");
    assert!(
        report.served.len() >= 2 && report.faults.is_empty(),
        "{report}"
    );

    // An interval outside the grant: refused by each proxy (the grantee's machine would
    // not even ask, so the request is sent raw).
    let wrapped5 = owner.wrap_interval_key(&mut OsRng, 5).expect("wrap");
    let outside = CfragRequest::Reencrypt(Box::new(ReencryptionRequest {
        grant: gid,
        interval: 5,
        capsule: wrapped5.capsule().clone(),
    }));
    for ep in &endpoints {
        let r = rt.block_on(ask(ep, &outside, TIMEOUT)).expect("reply");
        assert_eq!(refusal(&r), Some(RefusalCode::OutsideGrant), "{r:?}");
    }

    // A grant that was never put on chain: refused (kfrags and requests alike).
    let (gid2, out2) = grant(&mut owner, 3, 3);
    let never = CfragRequest::Reencrypt(Box::new(ReencryptionRequest {
        grant: gid2,
        interval: 3,
        capsule: wrapped3.capsule().clone(),
    }));
    for ep in &endpoints {
        let r = rt.block_on(ask(ep, &never, TIMEOUT)).expect("reply");
        assert_eq!(refusal(&r), Some(RefusalCode::NotOnChain), "{r:?}");
        let d = out2
            .deliveries
            .iter()
            .find(|d| d.proxy == ep.address)
            .expect("delivery");
        let r = rt
            .block_on(ask(
                ep,
                &CfragRequest::Deliver(Box::new(d.clone())),
                TIMEOUT,
            ))
            .expect("reply");
        assert_eq!(refusal(&r), Some(RefusalCode::NotOnChain), "{r:?}");
    }

    // SIGKILL one proxy: the other two still open interval 4.
    net.kill9(PROXIES[0]);
    let wrapped4 = owner.wrap_interval_key(&mut OsRng, 4).expect("wrap");
    let (key, report) = rt
        .block_on(open_interval(
            &mut grantee,
            wall(),
            &gid,
            4,
            wrapped4.clone(),
            &endpoints,
            TIMEOUT,
        ))
        .expect("2 of 3 open");
    assert!(key == master.interval_key(&stream, 4));
    assert_eq!(report.served.len(), 2, "{report}");
    assert!(!report.served.contains(&endpoints[0].address), "{report}");

    // Restarted, it serves again from its store (with just one other proxy asked).
    net.start(PROXIES[0]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let request4 = CfragRequest::Reencrypt(Box::new(ReencryptionRequest {
        grant: gid,
        interval: 4,
        capsule: wrapped4.capsule().clone(),
    }));
    loop {
        assert!(Instant::now() < deadline, "restarted proxy does not serve");
        match rt.block_on(ask(&endpoints[0], &request4, Duration::from_secs(3))) {
            Ok(CfragReply::Cfrag(c)) => {
                assert_eq!(c.signer().expect("signer"), endpoints[0].address);
                break;
            }
            Ok(other) => panic!("restarted proxy refused: {other:?}"),
            Err(_) => std::thread::sleep(Duration::from_millis(300)),
        }
    }

    // Revocation on chain: every proxy refuses, with the chain's reason.
    owner.revoke(wall(), &gid).expect("revoke");
    let revoke = revoke_output(&mut owner).expect("revoke record");
    commit(
        port,
        &owner_key,
        chain_id,
        TxKind::Revoke {
            record: encoding::encode_to_vec(&revoke).expect("encode revoke"),
        },
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    for ep in &endpoints {
        loop {
            let r = rt.block_on(ask(ep, &request4, TIMEOUT)).expect("reply");
            if refusal(&r) == Some(RefusalCode::Revoked) {
                break;
            }
            // Until its copy of the chain has the revocation block.
            assert!(matches!(r, CfragReply::Cfrag(_)), "{r:?}");
            assert!(
                Instant::now() < deadline,
                "proxy {} still serves",
                ep.address
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    net.stop_all();
}
