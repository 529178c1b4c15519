//! The proxy service against a ledger it is told about: every rule of the module docs,
//! through encoded requests, with a real redb store. Test code only (declared
//! `#[cfg(test)] mod tests;` in `proxy/mod.rs`, and gated here too): its unwraps are on
//! fixtures the test builds, never on outside input.
#![cfg(test)]

use super::*;
use crate::config::ProxyRoleConfig;
use cpchain_core::{encoding, Address, Timestamp};
use cpchain_crypto::pre::{PreSecretKey, WrappedKey};
use cpchain_crypto::SecretKey;
use cpchain_storage::block::StreamId;
use cpchain_storage::keys::MasterSecret;
use cpchain_storage::sharing::{
    GrantId, GrantRequest, Grantee, GranteeConfig, KfragDelivery, Owner, OwnerConfig,
    ReencryptionRequest,
};
use rand_core::OsRng;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;

const CHAIN: u64 = 337;
const ISSUED: Timestamp = Timestamp(1_000);
const EXPIRES: Timestamp = Timestamp(100_000);
const STREAM: StreamId = StreamId([0x33; 32]);

#[derive(Default)]
struct Ledger(RefCell<BTreeMap<GrantId, ChainGrant>>);

impl GrantLedger for Ledger {
    fn chain_grant(&self, id: &GrantId) -> Result<ChainGrant, crate::error::NodeError> {
        Ok(self
            .0
            .borrow()
            .get(id)
            .copied()
            .unwrap_or(ChainGrant::Unknown))
    }
}

impl Ledger {
    fn record(&self, id: GrantId) {
        self.0.borrow_mut().insert(
            id,
            ChainGrant::Recorded {
                expires_at: EXPIRES,
                revoked: false,
            },
        );
    }
    fn revoke(&self, id: GrantId) {
        self.0.borrow_mut().insert(
            id,
            ChainGrant::Recorded {
                expires_at: EXPIRES,
                revoked: true,
            },
        );
    }
}

struct Dir(PathBuf);
impl Dir {
    fn new(name: &str) -> Dir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let p = std::env::temp_dir().join(format!("cpchain-proxy-{name}-{nanos}"));
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }
    fn db(&self) -> PathBuf {
        self.0.join("proxy.redb")
    }
}
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn proxy_key(i: u8) -> SecretKey {
    SecretKey::from_bytes(&[0x50 + i; 32]).unwrap()
}

struct World {
    owner: Owner,
    grantee: Grantee,
    proxies: Vec<Address>,
}

fn world() -> World {
    let owner = Owner::new(
        SecretKey::from_bytes(&[0x44; 32]).unwrap(),
        MasterSecret::from_bytes([7; 32]),
        STREAM,
        OwnerConfig::default(),
    )
    .unwrap();
    let (gk, _) = PreSecretKey::random(&mut OsRng).unwrap();
    World {
        owner,
        grantee: Grantee::new(gk, GranteeConfig::default()),
        proxies: (0..3)
            .map(|i| proxy_key(i).public_key().address())
            .collect(),
    }
}

impl World {
    /// A grant of intervals `first..=last`, 2 of 3: its id and proxy 0's delivery.
    fn grant(&mut self, first: u64, last: u64) -> (GrantId, KfragDelivery) {
        let req = GrantRequest {
            first_interval: first,
            last_interval: last,
            grantee: self.grantee.public_key(),
            threshold: 2,
            proxies: &self.proxies,
            expires_at: EXPIRES,
        };
        let id = self.owner.grant(ISSUED, &mut OsRng, &req).unwrap();
        let out = grant_outputs(&mut self.owner).unwrap();
        self.grantee.accept_grant(ISSUED, &out.grant).unwrap();
        let d = out
            .deliveries
            .into_iter()
            .find(|d| d.proxy == self.proxies[0])
            .unwrap();
        (id, d)
    }

    fn request(&mut self, id: GrantId, interval: u64) -> (WrappedKey, ReencryptionRequest) {
        let wrapped = self.owner.wrap_interval_key(&mut OsRng, interval).unwrap();
        let req = ReencryptionRequest {
            grant: id,
            interval,
            capsule: wrapped.capsule().clone(),
        };
        (wrapped, req)
    }
}

fn open(dir: &Dir, ledger: &Ledger, role: ProxyRoleConfig) -> ProxyService {
    ProxyService::open(&dir.db(), proxy_key(0), &role, CHAIN, ledger, ISSUED).unwrap()
}

/// Through the wire, as a peer sends it.
fn ask(svc: &mut ProxyService, ledger: &Ledger, now: Timestamp, req: CfragRequest) -> CfragReply {
    let bytes = encoding::encode_to_vec(&req).unwrap();
    let reply = svc.handle_bytes(now, &mut OsRng, ledger, &bytes).unwrap();
    encoding::decode(&encoding::encode_to_vec(&reply).unwrap()).unwrap()
}

fn refused(code: RefusalCode) -> impl Fn(&CfragReply) -> bool {
    move |r| matches!(r, CfragReply::Refused { code: c, .. } if *c == code)
}

/// What every test starts from: a fresh store folder, an empty ledger, an owner and grantee.
fn setup(name: &str) -> (Dir, Ledger, World) {
    (Dir::new(name), Ledger::default(), world())
}

/// A kfrag delivery, through the wire.
fn deliver(
    svc: &mut ProxyService,
    ledger: &Ledger,
    now: Timestamp,
    d: KfragDelivery,
) -> CfragReply {
    ask(svc, ledger, now, CfragRequest::Deliver(Box::new(d)))
}

/// A re-encryption request, through the wire.
fn reencrypt(
    svc: &mut ProxyService,
    ledger: &Ledger,
    now: Timestamp,
    req: ReencryptionRequest,
) -> CfragReply {
    ask(svc, ledger, now, CfragRequest::Reencrypt(Box::new(req)))
}

/// A grant of `first..=last` recorded on chain, and a proxy with the default role that was
/// handed proxy 0's delivery for it at `ISSUED`.
fn holding(
    dir: &Dir,
    ledger: &Ledger,
    w: &mut World,
    first: u64,
    last: u64,
) -> (GrantId, ProxyService) {
    let (id, d) = w.grant(first, last);
    ledger.record(id);
    let mut svc = open(dir, ledger, ProxyRoleConfig::default());
    deliver(&mut svc, ledger, ISSUED, d);
    (id, svc)
}

#[test]
fn delivery_for_a_grant_not_on_chain_is_refused_and_nothing_is_kept() {
    let (dir, ledger, mut w) = setup("not-on-chain");
    let (id, d) = w.grant(3, 4);
    let mut svc = open(&dir, &ledger, ProxyRoleConfig::default());
    let r = deliver(&mut svc, &ledger, ISSUED, d);
    assert!(refused(RefusalCode::NotOnChain)(&r), "{r:?}");
    assert!(!svc.holds(&id));
    assert_eq!(svc.stored_bytes(), 0);
    let (_, req) = w.request(id, 3);
    let r = reencrypt(&mut svc, &ledger, ISSUED, req);
    assert!(refused(RefusalCode::NotOnChain)(&r), "{r:?}");
}

#[test]
fn grant_on_chain_is_kept_served_and_the_cfrag_verifies_for_the_grantee() {
    let (dir, ledger, mut w) = setup("served");
    let (id, d) = w.grant(3, 4);
    ledger.record(id);
    let mut svc = open(&dir, &ledger, ProxyRoleConfig::default());
    assert_eq!(
        deliver(&mut svc, &ledger, ISSUED, d),
        CfragReply::Accepted(id)
    );
    assert!(svc.holds(&id) && svc.stored_bytes() > 0);
    let (wrapped, req) = w.request(id, 3);
    w.grantee.request(ISSUED, &id, 3, wrapped).unwrap();
    while w.grantee.poll_output().is_some() {}
    let CfragReply::Cfrag(resp) = reencrypt(&mut svc, &ledger, Timestamp(2_000), req) else {
        panic!("not served")
    };
    assert_eq!(resp.signer().unwrap(), w.proxies[0]);
    w.grantee.handle_cfrag(ISSUED, resp).unwrap();
    assert_eq!(w.grantee.verified_cfrags(&id, 3), 1);
    assert_eq!(svc.stats().served, 1);
}

#[test]
fn interval_outside_the_grant_is_refused() {
    let (dir, ledger, mut w) = setup("outside");
    let (id, mut svc) = holding(&dir, &ledger, &mut w, 3, 4);
    let (_, req) = w.request(id, 5);
    let r = reencrypt(&mut svc, &ledger, ISSUED, req);
    assert!(refused(RefusalCode::OutsideGrant)(&r), "{r:?}");
}

#[test]
fn revocation_on_chain_drops_the_kfrags_from_memory_and_disk() {
    let (dir, ledger, mut w) = setup("revoked");
    let (id, d) = w.grant(3, 4);
    let (id2, d2) = w.grant(6, 6);
    ledger.record(id);
    ledger.record(id2);
    let mut svc = open(&dir, &ledger, ProxyRoleConfig::default());
    deliver(&mut svc, &ledger, ISSUED, d.clone());
    deliver(&mut svc, &ledger, ISSUED, d2);
    ledger.revoke(id);
    assert_eq!(svc.on_block(Timestamp(2_000), &ledger).unwrap(), vec![id]);
    assert!(!svc.holds(&id) && svc.holds(&id2));
    let (_, req) = w.request(id, 3);
    let r = reencrypt(&mut svc, &ledger, Timestamp(2_000), req);
    assert!(refused(RefusalCode::Revoked)(&r), "{r:?}");
    // A replayed delivery is refused by the chain's word.
    let r = deliver(&mut svc, &ledger, Timestamp(2_000), d);
    assert!(refused(RefusalCode::Revoked)(&r), "{r:?}");
    drop(svc);
    let svc = open(&dir, &ledger, ProxyRoleConfig::default());
    assert!(!svc.holds(&id) && svc.holds(&id2), "gone from disk too");
}

#[test]
fn a_request_after_revocation_but_before_the_next_block_check_is_refused() {
    let (dir, ledger, mut w) = setup("revoked-between");
    let (id, mut svc) = holding(&dir, &ledger, &mut w, 3, 3);
    ledger.revoke(id);
    let (_, req) = w.request(id, 3);
    let r = reencrypt(&mut svc, &ledger, ISSUED, req);
    assert!(refused(RefusalCode::Revoked)(&r), "{r:?}");
    assert!(!svc.holds(&id));
}

#[test]
fn expiry_is_judged_by_block_time() {
    let (dir, ledger, mut w) = setup("expired");
    let (id, mut svc) = holding(&dir, &ledger, &mut w, 3, 3);
    // Block time just before expiry: still served.
    let (_, req) = w.request(id, 3);
    let just_before = Timestamp(EXPIRES.0 - 1);
    assert!(matches!(
        reencrypt(&mut svc, &ledger, just_before, req.clone()),
        CfragReply::Cfrag(_)
    ));
    assert!(svc.on_block(just_before, &ledger).unwrap().is_empty());
    assert_eq!(svc.on_block(EXPIRES, &ledger).unwrap(), vec![id]);
    let r = reencrypt(&mut svc, &ledger, EXPIRES, req);
    assert!(refused(RefusalCode::Expired)(&r), "{r:?}");
}

#[test]
fn restarted_proxy_serves_from_its_store() {
    let (dir, ledger, mut w) = setup("restart");
    let (id, svc) = holding(&dir, &ledger, &mut w, 3, 3);
    let bytes = svc.stored_bytes();
    drop(svc);
    let mut svc = open(&dir, &ledger, ProxyRoleConfig::default());
    assert!(svc.holds(&id));
    assert_eq!(svc.stored_bytes(), bytes);
    let (_, req) = w.request(id, 3);
    assert!(matches!(
        reencrypt(&mut svc, &ledger, ISSUED, req),
        CfragReply::Cfrag(_)
    ));
}

#[test]
fn deliveries_beyond_the_byte_budget_or_grant_count_are_refused_as_full() {
    let (dir, ledger, mut w) = setup("full");
    let (id1, d1) = w.grant(1, 2);
    let (id2, d2) = w.grant(3, 3);
    ledger.record(id1);
    ledger.record(id2);
    let len = encoding::encode_to_vec(&d1).unwrap().len() as u64;
    // Room for the first delivery only, by bytes.
    let role = ProxyRoleConfig {
        max_grants: 10,
        max_bytes: len,
    };
    let mut svc = open(&dir, &ledger, role);
    assert_eq!(
        deliver(&mut svc, &ledger, ISSUED, d1.clone()),
        CfragReply::Accepted(id1)
    );
    let r = deliver(&mut svc, &ledger, ISSUED, d2.clone());
    assert!(refused(RefusalCode::Full)(&r), "{r:?}");
    assert!(svc.stored_bytes() <= len);
    drop(svc);
    // By count.
    let dir = Dir::new("full-count");
    let role = ProxyRoleConfig {
        max_grants: 1,
        max_bytes: 1 << 20,
    };
    let mut svc = open(&dir, &ledger, role);
    deliver(&mut svc, &ledger, ISSUED, d1);
    let r = deliver(&mut svc, &ledger, ISSUED, d2);
    assert!(refused(RefusalCode::Full)(&r), "{r:?}");
    assert!(!svc.holds(&id2));
}

#[test]
fn garbage_and_tampered_deliveries_are_refused_without_keeping_anything() {
    let (dir, ledger, mut w) = setup("garbage");
    let (id, mut d) = w.grant(3, 3);
    ledger.record(id);
    let mut svc = open(&dir, &ledger, ProxyRoleConfig::default());
    let r = svc
        .handle_bytes(ISSUED, &mut OsRng, &ledger, &[1, 2, 3, 4])
        .unwrap();
    assert!(refused(RefusalCode::Decode)(&r), "{r:?}");
    let too_big = vec![0u8; <CfragRequest as cpchain_core::WireMessage>::MAX_ENCODED_LEN + 1];
    let r = svc
        .handle_bytes(ISSUED, &mut OsRng, &ledger, &too_big)
        .unwrap();
    assert!(refused(RefusalCode::Decode)(&r), "{r:?}");
    // Another proxy's delivery.
    d.proxy = w.proxies[1];
    let r = deliver(&mut svc, &ledger, ISSUED, d);
    assert!(refused(RefusalCode::NotForUs)(&r), "{r:?}");
    assert_eq!(svc.stored_bytes(), 0);
    assert_eq!(svc.held_grants(), 0);
}

#[test]
fn the_largest_delivery_and_a_signed_cfrag_fit_the_protocol_frames() {
    let (dir, ledger, mut w) = setup("frames");
    // 16 intervals: the most one grant carries (`MAX_GRANT_INTERVALS`).
    let (id, d) = w.grant(10, 25);
    ledger.record(id);
    let request = encoding::encode_to_vec(&CfragRequest::Deliver(Box::new(d))).unwrap();
    assert!(
        request.len() <= crate::network::CFRAG_MAX_REQUEST_BYTES,
        "{}",
        request.len()
    );
    let mut svc = open(&dir, &ledger, ProxyRoleConfig::default());
    let reply = svc
        .handle_bytes(ISSUED, &mut OsRng, &ledger, &request)
        .unwrap();
    assert_eq!(reply, CfragReply::Accepted(id));
    let (_, req) = w.request(id, 25);
    let r = encoding::encode_to_vec(&CfragRequest::Reencrypt(Box::new(req))).unwrap();
    let reply = svc.handle_bytes(ISSUED, &mut OsRng, &ledger, &r).unwrap();
    assert!(matches!(reply, CfragReply::Cfrag(_)));
    let bytes = encoding::encode_to_vec(&reply).unwrap();
    assert!(
        bytes.len() <= crate::network::CFRAG_MAX_REPLY_BYTES,
        "{}",
        bytes.len()
    );
}
