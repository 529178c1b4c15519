//! The proxy service's memory bound, measured with a counting global allocator (one test
//! file, one binary): after a flood of valid maximum-size kfrag deliveries (16 intervals,
//! more grants than it may keep) and of cfrag requests (served, unknown grant, garbage),
//! the heap the service holds (live bytes after minus before it was opened) stays within
//! `ProxyService::memory_bound`.
#![cfg(feature = "pre")]

mod heap;
use heap::*;

use cpchain_core::{encoding, Timestamp};
use cpchain_crypto::pre::PreSecretKey;
use cpchain_crypto::SecretKey;
use cpchain_node::config::ProxyRoleConfig;
use cpchain_node::error::NodeError;
use cpchain_node::proxy::{
    grant_outputs, CfragReply, CfragRequest, ChainGrant, GrantLedger, ProxyService, RefusalCode,
};
use cpchain_storage::block::StreamId;
use cpchain_storage::keys::MasterSecret;
use cpchain_storage::sharing::{GrantId, GrantRequest, Owner, OwnerConfig, ReencryptionRequest};
use rand_core::OsRng;
use std::collections::BTreeMap;

struct Ledger(BTreeMap<GrantId, ChainGrant>);

impl GrantLedger for Ledger {
    fn chain_grant(&self, id: &GrantId) -> Result<ChainGrant, NodeError> {
        Ok(self.0.get(id).copied().unwrap_or(ChainGrant::Unknown))
    }
}

const NOW: Timestamp = Timestamp(1_000);

#[test]
fn proxy_service_heap_stays_within_its_bound_under_a_flood() {
    const GRANTS: usize = 8;
    let proxy = SecretKey::from_bytes(&[0x50; 32]).expect("key");
    let proxies: Vec<_> = (0..3u8)
        .map(|i| {
            SecretKey::from_bytes(&[0x50 + i; 32])
                .expect("key")
                .public_key()
                .address()
        })
        .collect();
    let mut owner = Owner::new(
        SecretKey::from_bytes(&[0x44; 32]).expect("key"),
        MasterSecret::from_bytes([7; 32]),
        StreamId([0x33; 32]),
        OwnerConfig::default(),
    )
    .expect("owner");
    let (gk, _) = PreSecretKey::random(&mut OsRng).expect("grantee");
    // Twice as many maximum-size grants as the proxy may keep, all live on chain.
    let mut ledger = Ledger(BTreeMap::new());
    let mut deliveries = Vec::new();
    for g in 0..2 * GRANTS as u64 {
        let req = GrantRequest {
            first_interval: g * 16,
            last_interval: g * 16 + 15,
            grantee: gk.public_key(),
            threshold: 2,
            proxies: &proxies,
            expires_at: Timestamp(1_000_000),
        };
        let id = owner.grant(NOW, &mut OsRng, &req).expect("grant");
        ledger.0.insert(
            id,
            ChainGrant::Recorded {
                expires_at: Timestamp(1_000_000),
                revoked: false,
            },
        );
        let d = grant_outputs(&mut owner)
            .expect("outputs")
            .deliveries
            .into_iter()
            .find(|d| d.proxy == proxies[0])
            .expect("ours");
        let bytes = encoding::encode_to_vec(&CfragRequest::Deliver(Box::new(d))).expect("enc");
        deliveries.push((id, bytes));
    }
    let wrapped = owner.wrap_interval_key(&mut OsRng, 3).expect("wrap");
    let per_delivery = deliveries[0].1.len() as u64;
    let role = ProxyRoleConfig {
        max_grants: GRANTS,
        max_bytes: per_delivery * GRANTS as u64,
    };
    let dir = std::env::temp_dir().join(format!("cpchain-proxy-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");

    let before = live();
    let mut svc =
        ProxyService::open(&dir.join("proxy.redb"), proxy, &role, 337, &ledger, NOW).expect("open");
    let opened = live() - before;
    let (mut accepted, mut full) = (0, 0);
    for (_, bytes) in &deliveries {
        match svc
            .handle_bytes(NOW, &mut OsRng, &ledger, bytes)
            .expect("serve")
        {
            CfragReply::Accepted(_) => accepted += 1,
            CfragReply::Refused {
                code: RefusalCode::Full,
                ..
            } => full += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((accepted, full), (GRANTS, GRANTS));
    // Requests: served, for grants it refused, garbage.
    for round in 0..300usize {
        let (id, _) = deliveries[round % deliveries.len()];
        let req = CfragRequest::Reencrypt(Box::new(ReencryptionRequest {
            grant: id,
            interval: (round % deliveries.len()) as u64 * 16 + 3,
            capsule: wrapped.capsule().clone(),
        }));
        let bytes = encoding::encode_to_vec(&req).expect("enc");
        let _ = svc
            .handle_bytes(NOW, &mut OsRng, &ledger, &bytes)
            .expect("serve");
        let _ = svc
            .handle_bytes(NOW, &mut OsRng, &ledger, &bytes[..round % bytes.len()])
            .expect("serve");
    }
    // The first GRANTS deliveries were kept: exactly the rounds naming one are served.
    let expected = (0..300usize)
        .filter(|r| r % deliveries.len() < GRANTS)
        .count() as u64;
    assert_eq!(svc.stats().served, expected, "the held grants were served");
    let held = live() - before;
    let bound = ProxyService::memory_bound(&role);
    eprintln!(
        "proxy service: {held} heap bytes held for {GRANTS} grants of 16 intervals \
         ({per_delivery}-byte deliveries; {opened} just opened); bound {bound}"
    );
    assert!(held > 0);
    assert!(held as usize <= bound, "{held} > {bound}");
    drop(svc);
    let _ = std::fs::remove_dir_all(&dir);
}
