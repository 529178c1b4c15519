//! Authorised sharing per encryption interval (§2.2.2) through the public API: owner, proxies
//! and grantee exchanging real wire bytes.
#![cfg(feature = "pre")]

mod common;

use common::*;
use cpchain_core::{encoding, Address, Timestamp};
use cpchain_crypto::pre::{self, KfragSigner, PreSecretKey, WrappedKey};
use cpchain_crypto::SecretKey;
use cpchain_storage::sharing::*;
use cpchain_storage::*;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

const NOW: Timestamp = Timestamp(1_000);
const EXPIRES: Timestamp = Timestamp(1_000_000);

/// Every message crosses the wire as bytes, as between real hosts.
fn wire<T: cpchain_core::WireMessage>(msg: &T) -> T {
    encoding::decode(&encoding::encode_to_vec(msg).unwrap()).unwrap()
}

struct World {
    rng: ChaCha20Rng,
    owner: Owner,
    proxies: Vec<Proxy>,
    grantee: Grantee,
}

fn proxy_key(i: u8) -> SecretKey {
    SecretKey::from_bytes(&[0x50 + i; 32]).unwrap()
}

fn world(seed: u8) -> World {
    let mut rng = ChaCha20Rng::from_seed([seed; 32]);
    let owner = Owner::new(
        SecretKey::from_bytes(&[0x44; 32]).unwrap(),
        master(),
        STREAM,
        OwnerConfig::default(),
    )
    .unwrap();
    let proxies = (0..4)
        .map(|i| Proxy::new(proxy_key(i), ProxyConfig::default()))
        .collect();
    let (gk, _seed) = PreSecretKey::random(&mut rng).unwrap();
    let grantee = Grantee::new(gk, GranteeConfig::default());
    World {
        rng,
        owner,
        proxies,
        grantee,
    }
}

impl World {
    /// Addresses of the first `n` proxies (the fourth stays outside every grant).
    fn proxy_addrs(&self, n: usize) -> Vec<Address> {
        self.proxies.iter().take(n).map(|p| p.address()).collect()
    }

    fn proxy(&mut self, a: Address) -> &mut Proxy {
        self.proxies.iter_mut().find(|p| p.address() == a).unwrap()
    }

    /// Issue a grant and deliver everything it emits; returns its id.
    fn grant(&mut self, first: u64, last: u64, m: u8, n: usize) -> GrantId {
        let proxies = self.proxy_addrs(n);
        let req = GrantRequest {
            first_interval: first,
            last_interval: last,
            grantee: self.grantee.public_key(),
            threshold: m,
            proxies: &proxies,
            expires_at: EXPIRES,
        };
        let id = self.owner.grant(NOW, &mut self.rng, &req).unwrap();
        let mut outs = Vec::new();
        while let Some(o) = self.owner.poll_output() {
            outs.push(o);
        }
        // Ordering contract: the grant is published before any kfrag leaves.
        assert!(matches!(outs.first(), Some(OwnerOutput::PublishGrant(_))));
        for o in outs {
            match o {
                OwnerOutput::PublishGrant(g) => {
                    assert_eq!(self.grantee.accept_grant(NOW, &wire(&*g)).unwrap(), id);
                }
                OwnerOutput::SendKfrags { to, delivery } => {
                    let d = wire(&*delivery);
                    let p = self.proxy(to);
                    p.handle_delivery(NOW, d).unwrap();
                    assert_eq!(p.poll_output(), Some(ProxyOutput::Accepted(id)));
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        id
    }

    fn wrapped(&mut self, interval: u64) -> WrappedKey {
        wire(
            &self
                .owner
                .wrap_interval_key(&mut self.rng, interval)
                .unwrap(),
        )
    }

    /// Ask the proxies and return their responses (after the wire), without handing them to
    /// the grantee.
    fn responses(
        &mut self,
        grant: &GrantId,
        interval: u64,
        wrapped: WrappedKey,
    ) -> Vec<CfragResponse> {
        self.grantee.request(NOW, grant, interval, wrapped).unwrap();
        let mut out = Vec::new();
        while let Some(o) = self.grantee.poll_output() {
            let GranteeOutput::SendRequest { to, request } = o else {
                panic!("unexpected {o:?}")
            };
            let req = wire(&*request);
            let mut rng = self.rng.clone();
            let p = self.proxy(to);
            p.handle_request(NOW, &mut rng, req).unwrap();
            match p.poll_output() {
                Some(ProxyOutput::Reply { response, bytes }) => {
                    // The ready-made wire bytes are the canonical encoding of the response.
                    assert_eq!(bytes, encoding::encode_to_vec(&*response).unwrap());
                    out.push(encoding::decode(&bytes).unwrap())
                }
                other => panic!("proxy did not serve: {other:?}"),
            }
            self.rng = rng;
        }
        out
    }

    fn deliver(&mut self, responses: Vec<CfragResponse>) -> Vec<GranteeOutput> {
        for r in responses {
            self.grantee.handle_cfrag(NOW, r).unwrap();
        }
        let mut out = Vec::new();
        while let Some(o) = self.grantee.poll_output() {
            out.push(o);
        }
        out
    }
}

#[test]
fn grant_for_interval_i_opens_i_only() {
    let mut w = world(1);
    let g = w.grant(5, 5, 2, 3);

    let wrapped5 = w.wrapped(5);
    let rs = w.responses(&g, 5, wrapped5);
    let outs = w.deliver(rs);
    assert_eq!(
        outs,
        vec![GranteeOutput::Ready {
            grant: g,
            interval: 5
        }]
    );
    let key = w.grantee.open(&g, 5).unwrap();
    assert_eq!(key, master().interval_key(&STREAM, 5));

    // The grantee cannot even ask for i − 1 or i + 1 under this grant …
    for j in [4, 6] {
        let wrapped = w.wrapped(j);
        assert_eq!(
            w.grantee.request(NOW, &g, j, wrapped),
            Err(SharingError::IntervalOutsideGrant)
        );
    }
    // … and the proxies refuse to re-encrypt them.
    for j in [4u64, 6] {
        let capsule = w.wrapped(j).capsule().clone();
        let mut rng = w.rng.clone();
        let p = &mut w.proxies[0];
        p.handle_request(
            NOW,
            &mut rng,
            ReencryptionRequest {
                grant: g,
                interval: j,
                capsule,
            },
        )
        .unwrap();
        assert_eq!(
            p.poll_output(),
            Some(ProxyOutput::Refused {
                grant: g,
                reason: SharingError::IntervalOutsideGrant
            })
        );
    }
    // Cryptographically too: kfrags of interval 5 applied to the capsules of 4 and 6 (as if
    // passed off as interval 5's) yield cfrags that do not open them.
    for j in [4u64, 6] {
        let wrapped_j = w.wrapped(j);
        let rs = w.responses(&g, 5, wrapped_j);
        w.deliver(rs);
        // Umbral's check passes (the cfrags match interval 5's delegating key) but the
        // recovered secret is interval 5's, not j's: the sealed key does not authenticate.
        assert_eq!(
            w.grantee.open(&g, 5),
            Err(SharingError::Crypto(
                cpchain_crypto::CryptoError::OpenFailed
            ))
        );
    }
}

#[test]
fn kfrags_of_one_interval_do_not_open_another_at_the_umbral_level() {
    let mut rng = ChaCha20Rng::from_seed([2; 32]);
    let m = master();
    let d4 = delegating_key(&m, &STREAM, 4).unwrap();
    let d5 = delegating_key(&m, &STREAM, 5).unwrap();
    let signer = KfragSigner::new(&kfrag_signer_key(&m, &STREAM).unwrap());
    let (bob, _) = PreSecretKey::random(&mut rng).unwrap();
    let k4 = m.interval_key(&STREAM, 4);
    let w4 = pre::wrap_key(&mut rng, &d4.public_key(), k4.aead_key()).unwrap();
    let kfrags5 = pre::generate_kfrags(&mut rng, &d5, &bob.public_key(), &signer, 2, 3).unwrap();
    let cfrags: Vec<_> = kfrags5
        .iter()
        .map(|k| pre::reencrypt(&mut rng, w4.capsule(), k))
        .collect();
    assert!(w4
        .open_reencrypted(&bob, &d5.public_key(), &cfrags)
        .is_err());
    assert!(w4
        .open_reencrypted(&bob, &d4.public_key(), &cfrags)
        .is_err());
    // The cfrags also fail verification as cfrags of interval 4's delegation.
    assert!(cfrags[0]
        .to_unverified()
        .verify(
            w4.capsule(),
            &signer.verifying_key(),
            &d4.public_key(),
            &bob.public_key()
        )
        .is_err());
}

#[test]
fn m_minus_one_cfrags_do_not_open() {
    let mut w = world(3);
    let g = w.grant(7, 8, 3, 4);
    let wrapped = w.wrapped(8);
    let mut rs = w.responses(&g, 8, wrapped);
    rs.truncate(2);
    let outs = w.deliver(rs);
    assert!(outs.is_empty(), "no Ready before m cfrags: {outs:?}");
    assert_eq!(w.grantee.verified_cfrags(&g, 8), 2);
    assert_eq!(
        w.grantee.open(&g, 8),
        Err(SharingError::NotEnoughCfrags { have: 2, need: 3 })
    );
}

#[test]
fn tampered_or_forged_cfrag_is_rejected_and_its_proxy_identified() {
    let mut w = world(4);
    let g = w.grant(2, 3, 2, 3);
    let wrapped = w.wrapped(2);
    let other = w.wrapped(3);
    let rs = w.responses(&g, 2, wrapped.clone());
    let (p0, p1) = (w.proxies[0].address(), w.proxies[1].address());

    // Tampered: proxy 0 signs a cfrag of another capsule as the answer for this one.
    let mut tampered = rs[0].body.clone();
    let foreign = w.responses(&g, 3, other);
    tampered.cfrag = foreign[0].body.cfrag.clone();
    let tampered = CfragResponse::sign(tampered, &proxy_key(0)).unwrap();

    // Forged: proxy 1 answers with a cfrag of a kfrag the owner never made.
    let mut rng = ChaCha20Rng::from_seed([9; 32]);
    let (fake_owner, _) = PreSecretKey::random(&mut rng).unwrap();
    let fake = pre::generate_kfrags(
        &mut rng,
        &fake_owner,
        &w.grantee.public_key(),
        &KfragSigner::new(&fake_owner),
        1,
        1,
    )
    .unwrap();
    let mut forged = rs[1].body.clone();
    forged.cfrag = pre::reencrypt(&mut rng, wrapped.capsule(), &fake[0]).to_unverified();
    let forged = CfragResponse::sign(forged, &proxy_key(1)).unwrap();

    // Re-register the request (the foreign fetch replaced nothing for interval 2).
    w.grantee.request(NOW, &g, 2, wrapped).unwrap();
    while w.grantee.poll_output().is_some() {}
    let outs = w.deliver(vec![tampered.clone(), forged.clone()]);
    assert_eq!(
        outs,
        vec![
            GranteeOutput::Fault(Fault::InvalidCfrag {
                proxy: p0,
                evidence: Box::new(tampered)
            }),
            GranteeOutput::Fault(Fault::InvalidCfrag {
                proxy: p1,
                evidence: Box::new(forged)
            }),
        ]
    );
    assert_eq!(w.grantee.verified_cfrags(&g, 2), 0);

    // Bytes flipped in transit break the proxy's signature: the response no longer names a
    // proxy of the grant, and it does not count.
    let mut bytes = encoding::encode_to_vec(&rs[2]).unwrap();
    let last = bytes.len() - 70;
    bytes[last] ^= 0x01;
    if let Ok(r) = encoding::decode::<CfragResponse>(&bytes) {
        let outs = w.deliver(vec![r]);
        assert!(outs
            .iter()
            .all(|o| !matches!(o, GranteeOutput::Ready { .. })));
    }
    assert_eq!(w.grantee.verified_cfrags(&g, 2), 0);

    // The honest answers still open.
    let outs = w.deliver(rs[2..].to_vec());
    assert!(outs.is_empty());
    let outs = w.deliver(rs[..1].to_vec());
    assert!(matches!(outs.as_slice(), [GranteeOutput::Ready { .. }]));
    assert_eq!(
        w.grantee.open(&g, 2).unwrap(),
        master().interval_key(&STREAM, 2)
    );
}

#[test]
fn cfrag_from_a_proxy_outside_the_grant_is_dropped_and_counted_not_a_fault() {
    let mut w = world(5);
    let g = w.grant(1, 1, 2, 3);
    let wrapped = w.wrapped(1);
    let rs = w.responses(&g, 1, wrapped);
    // Proxy 3 is not in the grant; it relays a correct cfrag under its own signature.
    let outsider = w.proxies[3].address();
    let relayed = CfragResponse::sign(rs[0].body.clone(), &proxy_key(3)).unwrap();
    assert_ne!(relayed.signer().unwrap(), w.proxies[0].address());
    let before = w.grantee.stats();
    let outs = w.deliver(vec![relayed]);
    // An outsider's cfrag proves nothing about anyone: no fault, one drop by reason.
    assert_eq!(outs, vec![]);
    let after = w.grantee.stats();
    assert_eq!(
        after.dropped.get(GranteeDrop::OutsideGrant as usize),
        before.dropped.get(GranteeDrop::OutsideGrant as usize) + 1
    );
    assert_eq!(after.dropped.total(), before.dropped.total() + 1);
    let _ = outsider;
    assert_eq!(w.grantee.verified_cfrags(&g, 1), 0);
    // And proxy 3 never held kfrags of the grant to begin with.
    assert!(!w.proxies[3].holds(&g));
}

#[test]
fn duplicate_share_from_a_second_proxy_does_not_count() {
    let mut w = world(6);
    let g = w.grant(1, 1, 2, 3);
    let wrapped = w.wrapped(1);
    let rs = w.responses(&g, 1, wrapped);
    // Proxy 1 replays proxy 0's cfrag as its own: same kfrag share, adds nothing.
    let copy = CfragResponse::sign(rs[0].body.clone(), &proxy_key(1)).unwrap();
    let outs = w.deliver(vec![rs[0].clone(), copy]);
    assert!(outs.is_empty());
    assert_eq!(w.grantee.verified_cfrags(&g, 1), 1);
    let outs = w.deliver(vec![rs[2].clone()]);
    assert!(matches!(outs.as_slice(), [GranteeOutput::Ready { .. }]));
    assert!(w.grantee.open(&g, 1).is_ok());
}

#[test]
fn revoked_grant_stops_new_reencryptions() {
    let mut w = world(7);
    let g = w.grant(3, 4, 2, 3);
    let mut deliveries = Vec::new();
    // Keep a copy of a delivery to replay after the revoke.
    let proxies = w.proxy_addrs(3);
    let req = GrantRequest {
        first_interval: 9,
        last_interval: 9,
        grantee: w.grantee.public_key(),
        threshold: 2,
        proxies: &proxies,
        expires_at: EXPIRES,
    };
    let g2 = w.owner.grant(NOW, &mut w.rng, &req).unwrap();
    while let Some(o) = w.owner.poll_output() {
        if let OwnerOutput::SendKfrags { delivery, .. } = o {
            deliveries.push(*delivery);
        }
    }

    // A revoke signed by someone else is refused and changes nothing.
    let forged = Revoke {
        chain_id: 337,
        owner: w.owner.address(),
        grant: g,
        until: EXPIRES,
        at: NOW,
    }
    .sign(&proxy_key(9))
    .unwrap();
    w.proxies[0].handle_revoke(NOW, forged).unwrap();
    assert!(matches!(
        w.proxies[0].poll_output(),
        Some(ProxyOutput::Refused {
            reason: SharingError::BadSignature,
            ..
        })
    ));
    assert!(w.proxies[0].holds(&g));

    w.owner.revoke(Timestamp(2_000), &g).unwrap();
    let mut outs = Vec::new();
    while let Some(o) = w.owner.poll_output() {
        outs.push(o);
    }
    assert!(matches!(outs.first(), Some(OwnerOutput::PublishRevoke(_))));
    for o in outs.into_iter().skip(1) {
        let OwnerOutput::SendRevoke { to, revoke } = o else {
            panic!("unexpected {o:?}")
        };
        let p = w.proxy(to);
        p.handle_revoke(Timestamp(2_000), wire(&revoke)).unwrap();
        assert_eq!(p.poll_output(), Some(ProxyOutput::Dropped(g)));
        assert!(!p.holds(&g));
    }

    // No proxy re-encrypts under the revoked grant any more.
    let wrapped = w.wrapped(3);
    w.grantee.request(NOW, &g, 3, wrapped).unwrap();
    while let Some(o) = w.grantee.poll_output() {
        let GranteeOutput::SendRequest { to, request } = o else {
            panic!()
        };
        let mut rng = w.rng.clone();
        let p = w.proxy(to);
        p.handle_request(Timestamp(3_000), &mut rng, *request)
            .unwrap();
        assert_eq!(
            p.poll_output(),
            Some(ProxyOutput::Refused {
                grant: g,
                reason: SharingError::GrantNotLive
            })
        );
    }
    // Revoking one grant leaves the others alone; a revoked one cannot be re-delivered.
    let p0 = w.proxies[0].address();
    let d = deliveries.iter().find(|d| d.proxy == p0).unwrap().clone();
    w.proxies[0].handle_delivery(NOW, d).unwrap();
    assert_eq!(w.proxies[0].poll_output(), Some(ProxyOutput::Accepted(g2)));
    assert_eq!(w.owner.revoke(NOW, &g), Err(SharingError::UnknownGrant));
}

#[test]
fn replayed_delivery_after_revoke_does_not_reinstall_kfrags() {
    let mut w = world(8);
    let proxies = w.proxy_addrs(2);
    let req = GrantRequest {
        first_interval: 1,
        last_interval: 2,
        grantee: w.grantee.public_key(),
        threshold: 1,
        proxies: &proxies,
        expires_at: EXPIRES,
    };
    let g = w.owner.grant(NOW, &mut w.rng, &req).unwrap();
    let mut delivery = None;
    while let Some(o) = w.owner.poll_output() {
        if let OwnerOutput::SendKfrags { to, delivery: d } = o {
            if to == proxies[0] {
                delivery = Some(*d);
            }
        }
    }
    let delivery = delivery.unwrap();
    w.proxies[0].handle_delivery(NOW, delivery.clone()).unwrap();
    w.owner.revoke(NOW, &g).unwrap();
    let _publish = w.owner.poll_output();
    let Some(OwnerOutput::SendRevoke { revoke, .. }) = w.owner.poll_output() else {
        panic!()
    };
    let p = &mut w.proxies[0];
    p.handle_revoke(NOW, revoke).unwrap();
    p.handle_delivery(NOW, delivery).unwrap();
    let outs: Vec<_> = std::iter::from_fn(|| p.poll_output()).collect();
    assert_eq!(
        outs,
        vec![
            ProxyOutput::Accepted(g),
            ProxyOutput::Dropped(g),
            ProxyOutput::Refused {
                grant: g,
                reason: SharingError::GrantNotLive
            }
        ]
    );
    assert!(!p.holds(&g));
    // Past the grant's expiry the tombstone is forgotten (the grant is dead anyway).
    assert_eq!(p.next_deadline(), Some(EXPIRES));
    p.handle_timeout(EXPIRES);
    assert_eq!(p.next_deadline(), None);
}

#[test]
fn expired_grant_is_not_served() {
    let mut w = world(10);
    let g = w.grant(1, 1, 1, 1);
    let capsule = w.wrapped(1).capsule().clone();
    let mut rng = w.rng.clone();
    let p = &mut w.proxies[0];
    p.handle_request(
        EXPIRES,
        &mut rng,
        ReencryptionRequest {
            grant: g,
            interval: 1,
            capsule,
        },
    )
    .unwrap();
    assert_eq!(
        p.poll_output(),
        Some(ProxyOutput::Refused {
            grant: g,
            reason: SharingError::GrantNotLive
        })
    );
}

#[test]
fn proxy_refuses_a_kfrag_that_does_not_verify_and_blames_the_owner() {
    let mut w = world(11);
    let proxies = w.proxy_addrs(2);
    let req = GrantRequest {
        first_interval: 1,
        last_interval: 2,
        grantee: w.grantee.public_key(),
        threshold: 1,
        proxies: &proxies,
        expires_at: EXPIRES,
    };
    let g = w.owner.grant(NOW, &mut w.rng, &req).unwrap();
    let _ = w.owner.poll_output();
    let Some(OwnerOutput::SendKfrags { mut delivery, .. }) = w.owner.poll_output() else {
        panic!()
    };
    // Kfrags in the wrong interval order: interval 1's kfrag does not verify against
    // interval 1's delegating key.
    delivery.kfrags.swap(0, 1);
    let p = &mut w.proxies[0];
    p.handle_delivery(NOW, *delivery.clone()).unwrap();
    match p.poll_output() {
        Some(ProxyOutput::Fault(Fault::InvalidKfrag {
            owner, interval, ..
        })) => {
            assert_eq!(owner, w.owner.address());
            assert_eq!(interval, 1);
        }
        other => panic!("expected a fault, got {other:?}"),
    }
    assert!(!p.holds(&g));
    // A delivery addressed to another proxy is refused, not kept.
    let p1 = &mut w.proxies[1];
    p1.handle_delivery(NOW, *delivery).unwrap();
    assert!(matches!(
        p1.poll_output(),
        Some(ProxyOutput::Refused {
            reason: SharingError::NotAddressedToUs,
            ..
        })
    ));
}

#[test]
fn grant_requests_are_checked() {
    let mut w = world(12);
    let proxies = w.proxy_addrs(3);
    let base = GrantRequest {
        first_interval: 1,
        last_interval: 1,
        grantee: w.grantee.public_key(),
        threshold: 2,
        proxies: &proxies,
        expires_at: EXPIRES,
    };
    let cases = [
        (
            GrantRequest {
                first_interval: 2,
                ..base.clone()
            },
            SharingError::EmptyIntervalRange,
        ),
        (
            GrantRequest {
                last_interval: 1 + MAX_GRANT_INTERVALS as u64,
                ..base.clone()
            },
            SharingError::TooManyIntervals {
                len: 1 + MAX_GRANT_INTERVALS as u64,
                max: MAX_GRANT_INTERVALS,
            },
        ),
        (
            GrantRequest {
                threshold: 4,
                ..base.clone()
            },
            SharingError::InvalidThreshold,
        ),
        (
            GrantRequest {
                threshold: 0,
                ..base.clone()
            },
            SharingError::InvalidThreshold,
        ),
        (
            GrantRequest {
                expires_at: NOW,
                ..base.clone()
            },
            SharingError::InvalidExpiry,
        ),
    ];
    for (req, err) in cases {
        assert_eq!(w.owner.grant(NOW, &mut w.rng, &req), Err(err));
        assert_eq!(w.owner.poll_output(), None, "nothing emitted on error");
    }
    let dup = [proxies[0], proxies[0]];
    let req = GrantRequest {
        proxies: &dup,
        threshold: 1,
        ..base
    };
    assert_eq!(
        w.owner.grant(NOW, &mut w.rng, &req),
        Err(SharingError::InvalidProxySet)
    );
}

#[test]
fn same_inputs_same_outputs() {
    fn run() -> Vec<Vec<u8>> {
        let mut w = world(13);
        let proxies = w.proxy_addrs(3);
        let req = GrantRequest {
            first_interval: 1,
            last_interval: 3,
            grantee: w.grantee.public_key(),
            threshold: 2,
            proxies: &proxies,
            expires_at: EXPIRES,
        };
        w.owner.grant(NOW, &mut w.rng, &req).unwrap();
        let mut out = Vec::new();
        while let Some(o) = w.owner.poll_output() {
            match o {
                OwnerOutput::PublishGrant(g) => out.push(encoding::encode_to_vec(&*g).unwrap()),
                OwnerOutput::SendKfrags { delivery, .. } => {
                    out.push(encoding::encode_to_vec(&*delivery).unwrap())
                }
                _ => {}
            }
        }
        out.push(encoding::encode_to_vec(&w.wrapped(2)).unwrap());
        out
    }
    assert_eq!(run(), run());
}

#[test]
fn end_to_end_over_a_real_data_chain() {
    // The device writes an anchored chain over several encryption intervals.
    let chain = sample_chain();
    let summary = verify_chain(verifier(), &chain.anchors, &chain.blocks, &NoKeys);
    assert!(summary.is_ok(), "{summary:?}");

    // The owner's host shards each block and attaches the interval's capsule to its
    // key-index record (one capsule per interval, shared by the interval's blocks).
    let mut w = world(14);
    let mut capsules = std::collections::BTreeMap::new();
    let mut records = Vec::new();
    for b in &chain.blocks {
        let (mut rec, _shards) = shard_block(b, ShardParams::new(4, 2).unwrap()).unwrap();
        // One call puts the interval's capsule in the record (issue 13 item 8) …
        w.owner.attach_capsule(&mut w.rng, &mut rec).unwrap();
        let cap = rec.capsule.clone().unwrap();
        // … and every block of an interval carries the same one.
        let first = capsules
            .entry(b.header.interval)
            .or_insert_with(|| cap.clone());
        assert_eq!(*first, cap);
        records.push(wire(&rec));
    }
    let intervals: Vec<u64> = capsules.keys().copied().collect();
    assert!(intervals.len() >= 3, "sample chain spans several intervals");
    let target = intervals[1];

    // A buyer is granted exactly one interval.
    let g = w.grant(target, target, 2, 3);
    let rec = records.iter().find(|r| r.interval == target).unwrap();
    let wrapped = wrapped_key(rec).unwrap();
    let rs = w.responses(&g, target, wrapped);
    let outs = w.deliver(rs);
    assert!(matches!(outs.as_slice(), [GranteeOutput::Ready { .. }]));
    let key = w.grantee.open(&g, target).unwrap();
    assert_eq!(key.id(), rec.key_id);

    // It decrypts every block of that interval, and none of the others.
    let mut opened = 0;
    for b in &chain.blocks {
        let res = open_block_to_vec(b, &key);
        if b.header.interval == target {
            let expected = open_block_to_vec(b, &master().interval_key(&STREAM, target)).unwrap();
            let got = res.unwrap();
            let a: Vec<_> = got.records().map(|r| (r.time, r.data.to_vec())).collect();
            let e: Vec<_> = expected
                .records()
                .map(|r| (r.time, r.data.to_vec()))
                .collect();
            assert_eq!(a, e);
            assert!(!a.is_empty());
            opened += 1;
        } else {
            assert!(matches!(res, Err(VerifyError::WrongIntervalKey { .. })));
        }
    }
    assert!(opened > 0);

    // A capsule substituted in an (unsigned) key-index record opens a key whose commitment
    // does not match the block header: the reader refuses it.
    let other = intervals[2];
    let mut bad = rec.clone();
    bad.capsule = records
        .iter()
        .find(|r| r.interval == other)
        .unwrap()
        .capsule
        .clone();
    let rs = w.responses(&g, target, wrapped_key(&bad).unwrap());
    w.deliver(rs);
    assert!(w.grantee.open(&g, target).is_err());
}

/// Proxies running [`ReplyAuth::Transport`]: bare cfrag bodies, attributed to the sender the
/// host's authenticated transport names.
fn transport_world(seed: u8) -> World {
    let mut w = world(seed);
    w.proxies = (0..4)
        .map(|i| {
            Proxy::new(
                proxy_key(i),
                ProxyConfig {
                    reply_auth: ReplyAuth::Transport,
                    ..ProxyConfig::default()
                },
            )
        })
        .collect();
    w
}

/// Ask every proxy of the grant; return (sender, unsigned body) pairs after the wire.
fn unsigned_bodies(
    w: &mut World,
    grant: &GrantId,
    interval: u64,
    wrapped: WrappedKey,
) -> Vec<(Address, CfragBody)> {
    w.grantee.request(NOW, grant, interval, wrapped).unwrap();
    let mut out = Vec::new();
    while let Some(o) = w.grantee.poll_output() {
        let GranteeOutput::SendRequest { to, request } = o else {
            panic!("unexpected {o:?}")
        };
        let mut rng = w.rng.clone();
        let p = w.proxy(to);
        p.handle_request(NOW, &mut rng, wire(&*request)).unwrap();
        match p.poll_output() {
            Some(ProxyOutput::UnsignedReply(body)) => out.push((to, wire(&*body))),
            other => panic!("proxy did not serve: {other:?}"),
        }
        w.rng = rng;
    }
    out
}

#[test]
fn proxies_sign_replies_unless_told_the_transport_authenticates() {
    assert_eq!(ProxyConfig::default().reply_auth, ReplyAuth::Signed);
    let mut w = transport_world(21);
    let g = w.grant(4, 4, 2, 3);
    let wrapped = w.wrapped(4);
    let bodies = unsigned_bodies(&mut w, &g, 4, wrapped);
    assert_eq!(bodies.len(), 3);
    // One body is not enough; the second makes the threshold.
    let (from, body) = bodies[0].clone();
    w.grantee.handle_unsigned_cfrag(NOW, from, body).unwrap();
    assert_eq!(w.grantee.poll_output(), None);
    assert!(w.grantee.open(&g, 4).is_err());
    let (from, body) = bodies[1].clone();
    w.grantee.handle_unsigned_cfrag(NOW, from, body).unwrap();
    assert_eq!(
        w.grantee.poll_output(),
        Some(GranteeOutput::Ready {
            grant: g,
            interval: 4
        })
    );
    assert_eq!(
        w.grantee.open(&g, 4).unwrap(),
        master().interval_key(&STREAM, 4)
    );
    // The same body again, even named as another proxy's, is the same kfrag share.
    let (_, body) = bodies[0].clone();
    let before = w.grantee.stats().dropped;
    w.grantee
        .handle_unsigned_cfrag(NOW, bodies[2].0, body)
        .unwrap();
    assert_eq!(w.grantee.poll_output(), None);
    let after = w.grantee.stats().dropped;
    assert_eq!(
        after.get(GranteeDrop::Duplicate as usize),
        before.get(GranteeDrop::Duplicate as usize) + 1
    );
}

#[test]
fn unsigned_bad_cfrag_blames_the_transport_sender_and_outsiders_are_refused() {
    let mut w = transport_world(22);
    let g = w.grant(6, 7, 2, 3);
    let wrapped6 = w.wrapped(6);
    let wrapped7 = w.wrapped(7);
    let foreign = unsigned_bodies(&mut w, &g, 7, wrapped7);
    let bodies = unsigned_bodies(&mut w, &g, 6, wrapped6);
    let (p0, body0) = bodies[0].clone();

    // Proxy 0 answers interval 6 with a cfrag of interval 7's capsule.
    let mut tampered = body0.clone();
    tampered.cfrag = foreign[0].1.cfrag.clone();
    w.grantee
        .handle_unsigned_cfrag(NOW, p0, tampered.clone())
        .unwrap();
    assert_eq!(
        w.grantee.poll_output(),
        Some(GranteeOutput::Fault(Fault::InvalidUnsignedCfrag {
            peer: p0,
            evidence: Box::new(tampered)
        }))
    );

    // A correct cfrag relayed by a peer outside the grant (proxy 3) does not count: it is
    // dropped and counted, not a fault.
    let outsider = w.proxies[3].address();
    w.grantee
        .handle_unsigned_cfrag(NOW, outsider, body0.clone())
        .unwrap();
    assert_eq!(w.grantee.poll_output(), None);
    assert_eq!(
        w.grantee
            .stats()
            .dropped
            .get(GranteeDrop::OutsideGrant as usize),
        1
    );
    assert_eq!(w.grantee.verified_cfrags(&g, 6), 0);

    // The honest bodies still open interval 6, and only 6.
    for (from, body) in bodies.into_iter().skip(1) {
        w.grantee.handle_unsigned_cfrag(NOW, from, body).unwrap();
    }
    assert_eq!(
        w.grantee.open(&g, 6).unwrap(),
        master().interval_key(&STREAM, 6)
    );
    assert_ne!(
        w.grantee.open(&g, 6).unwrap(),
        master().interval_key(&STREAM, 7)
    );
}

#[test]
fn transport_mode_refuses_exactly_what_signed_mode_refuses() {
    let mut w = transport_world(23);
    let g = w.grant(1, 1, 2, 3);
    let wrapped = w.wrapped(1);
    let p0 = w.proxies[0].address();
    // Outside the grant's intervals.
    let req = ReencryptionRequest {
        grant: g,
        interval: 2,
        capsule: wrapped.capsule().clone(),
    };
    let mut rng = w.rng.clone();
    w.proxy(p0).handle_request(NOW, &mut rng, req).unwrap();
    assert_eq!(
        w.proxy(p0).poll_output(),
        Some(ProxyOutput::Refused {
            grant: g,
            reason: SharingError::IntervalOutsideGrant
        })
    );
    // After expiry.
    let req = ReencryptionRequest {
        grant: g,
        interval: 1,
        capsule: wrapped.capsule().clone(),
    };
    w.proxy(p0).handle_request(EXPIRES, &mut rng, req).unwrap();
    assert_eq!(
        w.proxy(p0).poll_output(),
        Some(ProxyOutput::Refused {
            grant: g,
            reason: SharingError::GrantNotLive
        })
    );
}

#[test]
fn owner_forgets_expired_grants_so_its_table_does_not_fill_for_good() {
    let mut rng = ChaCha20Rng::from_seed([31; 32]);
    let mut owner = Owner::new(
        SecretKey::from_bytes(&[0x44; 32]).unwrap(),
        master(),
        STREAM,
        OwnerConfig {
            max_grants: 2,
            ..OwnerConfig::default()
        },
    )
    .unwrap();
    let proxies: Vec<Address> = (0..3)
        .map(|i| proxy_key(i).public_key().address())
        .collect();
    let (gk, _) = PreSecretKey::random(&mut rng).unwrap();
    let request = |expires_at| GrantRequest {
        first_interval: 1,
        last_interval: 1,
        grantee: gk.public_key(),
        threshold: 2,
        proxies: &proxies,
        expires_at,
    };
    owner
        .grant(NOW, &mut rng, &request(Timestamp(5_000)))
        .unwrap();
    owner
        .grant(NOW, &mut rng, &request(Timestamp(9_000)))
        .unwrap();
    while owner.poll_output().is_some() {}
    assert_eq!(
        owner.grant(NOW, &mut rng, &request(EXPIRES)),
        Err(SharingError::CapacityExceeded)
    );
    assert_eq!(owner.next_deadline(), Some(Timestamp(5_000)));
    owner.handle_timeout(Timestamp(4_999));
    assert_eq!(owner.grants(), 2);
    owner.handle_timeout(Timestamp(5_000));
    assert_eq!(owner.grants(), 1);
    assert_eq!(owner.next_deadline(), Some(Timestamp(9_000)));
    owner
        .grant(Timestamp(5_000), &mut rng, &request(EXPIRES))
        .unwrap();
    assert_eq!(owner.grants(), 2);
}

#[test]
fn a_second_grant_of_an_interval_names_the_same_delegating_key_cached_or_not() {
    let mut rng = ChaCha20Rng::from_seed([32; 32]);
    let owner = |max_cached_keys| {
        Owner::new(
            SecretKey::from_bytes(&[0x44; 32]).unwrap(),
            master(),
            STREAM,
            OwnerConfig {
                max_cached_keys,
                ..OwnerConfig::default()
            },
        )
        .unwrap()
    };
    let proxies: Vec<Address> = (0..3)
        .map(|i| proxy_key(i).public_key().address())
        .collect();
    let (gk, _) = PreSecretKey::random(&mut rng).unwrap();
    let req = GrantRequest {
        first_interval: 3,
        last_interval: 6,
        grantee: gk.public_key(),
        threshold: 2,
        proxies: &proxies,
        expires_at: EXPIRES,
    };
    let keys_of = |o: &mut Owner, rng: &mut ChaCha20Rng| {
        o.grant(NOW, rng, &req).unwrap();
        let mut keys = None;
        while let Some(out) = o.poll_output() {
            if let OwnerOutput::PublishGrant(g) = out {
                keys = Some(g.body.delegating_keys.to_vec());
            }
        }
        keys.unwrap()
    };
    // A cache of 2 keeps only the two highest intervals of 3..=6: hits and misses mix.
    let (mut cached, mut uncached) = (owner(2), owner(0));
    // Wrapping an interval's key (at the interval's close) keeps its public key too.
    let wrapped = cached.wrap_interval_key(&mut rng, 6).unwrap();
    assert_eq!(
        wrapped
            .open_original(&delegating_key(&master(), &STREAM, 6).unwrap())
            .unwrap(),
        *master().interval_key(&STREAM, 6).aead_key()
    );
    let first = keys_of(&mut cached, &mut rng);
    let again = keys_of(&mut cached, &mut rng);
    let fresh = keys_of(&mut uncached, &mut rng);
    assert_eq!(first, again);
    assert_eq!(first, fresh);
    for (interval, pk) in (3..=6).zip(&first) {
        assert_eq!(
            pk,
            &delegating_key(&master(), &STREAM, interval)
                .unwrap()
                .public_key()
        );
        assert_eq!(&cached.delegating_public_key(interval).unwrap(), pk);
    }
}

/// Issue 12 item 6: two grants of one request in one millisecond used to share a `GrantId`
/// while carrying different kfrags; proxies holding either set let the grantee reach
/// `Ready`, then `open` failed. Now every grant is salted from the RNG: the ids differ, and
/// `Ready` under an id means `open` succeeds.
#[test]
fn equal_grants_in_one_millisecond_get_distinct_ids_and_ready_means_open_succeeds() {
    let mut w = world(61);
    let proxies = w.proxy_addrs(2);
    let req = GrantRequest {
        first_interval: 3,
        last_interval: 3,
        grantee: w.grantee.public_key(),
        threshold: 2,
        proxies: &proxies,
        expires_at: EXPIRES,
    };
    let a = w.owner.grant(NOW, &mut w.rng, &req).unwrap();
    let b = w.owner.grant(NOW, &mut w.rng, &req).unwrap();
    assert_ne!(a, b, "one id for two kfrag sets");
    assert_eq!(w.owner.grants(), 2);
    let mut deliveries = Vec::new();
    while let Some(o) = w.owner.poll_output() {
        match o {
            OwnerOutput::PublishGrant(g) => {
                w.grantee.accept_grant(NOW, &wire(&*g)).unwrap();
            }
            OwnerOutput::SendKfrags { to, delivery } => deliveries.push((to, wire(&*delivery))),
            other => panic!("unexpected {other:?}"),
        }
    }
    // The adversarial mix: proxy 0 gets only grant a's kfrags, proxy 1 only grant b's.
    for (to, d) in &deliveries {
        let id = d.grant.verify(337).unwrap();
        if (*to == proxies[0] && id == a) || (*to == proxies[1] && id == b) {
            let p = w.proxy(*to);
            p.handle_delivery(NOW, d.clone()).unwrap();
            assert_eq!(p.poll_output(), Some(ProxyOutput::Accepted(id)));
        }
    }
    for id in [a, b] {
        let wrapped = w.wrapped(3);
        w.grantee.request(NOW, &id, 3, wrapped).unwrap();
        let mut rng = w.rng.clone();
        while let Some(o) = w.grantee.poll_output() {
            let GranteeOutput::SendRequest { to, request } = o else {
                panic!("unexpected {o:?}")
            };
            let p = w.proxy(to);
            p.handle_request(NOW, &mut rng, wire(&*request)).unwrap();
            match p.poll_output() {
                Some(ProxyOutput::Reply { response, .. }) => {
                    w.grantee.handle_cfrag(NOW, wire(&*response)).unwrap();
                }
                Some(ProxyOutput::Refused { reason, .. }) => {
                    assert_eq!(reason, SharingError::UnknownGrant)
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        // One proxy of each set: never Ready with cfrags of two kfrag sets.
        assert_eq!(w.grantee.verified_cfrags(&id, 3), 1);
        assert_eq!(w.grantee.poll_output(), None);
        assert!(matches!(
            w.grantee.open(&id, 3),
            Err(SharingError::NotEnoughCfrags { have: 1, need: 2 })
        ));
    }
    // Now both proxies hold grant a: Ready, and open gives the interval's key.
    for (to, d) in &deliveries {
        if *to == proxies[1] && d.grant.verify(337).unwrap() == a {
            let p = w.proxy(*to);
            p.handle_delivery(NOW, d.clone()).unwrap();
            assert_eq!(p.poll_output(), Some(ProxyOutput::Accepted(a)));
        }
    }
    let wrapped = w.wrapped(3);
    let responses = w.responses(&a, 3, wrapped);
    for r in responses {
        w.grantee.handle_cfrag(NOW, r).unwrap();
    }
    let mut ready = false;
    while let Some(o) = w.grantee.poll_output() {
        ready |= o
            == GranteeOutput::Ready {
                grant: a,
                interval: 3,
            };
    }
    assert!(ready);
    let key = w.grantee.open(&a, 3).unwrap();
    assert_eq!(key, master().interval_key(&STREAM, 3));
}

/// The owner never names two kfrag sets with one id, even when its RNG repeats itself.
#[test]
fn a_repeating_rng_cannot_issue_a_second_grant_under_one_id() {
    let mut w = world(62);
    let proxies = w.proxy_addrs(2);
    let req = GrantRequest {
        first_interval: 1,
        last_interval: 1,
        grantee: w.grantee.public_key(),
        threshold: 1,
        proxies: &proxies,
        expires_at: EXPIRES,
    };
    let mut stuck = w.rng.clone();
    w.owner.grant(NOW, &mut stuck.clone(), &req).unwrap();
    while w.owner.poll_output().is_some() {}
    assert_eq!(
        w.owner.grant(NOW, &mut stuck, &req),
        Err(SharingError::DuplicateGrant)
    );
    assert_eq!(w.owner.poll_output(), None);
    assert_eq!(w.owner.grants(), 1);
}

/// Issue 13 item 6: grants, revokes and cfrag responses are `Signed<T>` now; their wire
/// form (tag, body, 65-byte signature) and their signed bytes (the body's canonical
/// encoding under the old domain) are unchanged, so no version moves.
#[test]
fn signed_sharing_records_keep_their_wire_form_and_signed_bytes() {
    fn check<T: cpchain_storage::Signable>(
        signed: &cpchain_storage::Signed<T>,
        tag: u16,
        domain: &cpchain_core::encoding::Domain,
        signer: Address,
    ) {
        let wire = encoding::encode_to_vec(signed).unwrap();
        let body = encoding::encode_to_vec(&signed.body).unwrap();
        assert_eq!(wire[1..3], tag.to_be_bytes());
        assert_eq!(wire[3..wire.len() - 65], body[3..]);
        assert_eq!(wire[wire.len() - 65..], signed.signature.to_bytes());
        assert_eq!(
            signed.signature.recover_signer(domain, &body).unwrap(),
            signer
        );
    }
    let mut w = world(31);
    let owner = w.owner.address();
    let proxies = w.proxy_addrs(2);
    let req = GrantRequest {
        first_interval: 1,
        last_interval: 1,
        grantee: w.grantee.public_key(),
        threshold: 1,
        proxies: &proxies,
        expires_at: EXPIRES,
    };
    let id = w.owner.grant(NOW, &mut w.rng, &req).unwrap();
    let Some(OwnerOutput::PublishGrant(g)) = w.owner.poll_output() else {
        panic!("no grant")
    };
    check(&*g, 0x0511, &GRANT_DOMAIN, owner);
    assert_eq!(
        GrantId(cpchain_core::keccak256(
            &encoding::encode_to_vec(&g.body).unwrap()
        )),
        id
    );
    while w.owner.poll_output().is_some() {}
    w.owner.revoke(NOW, &id).unwrap();
    let Some(OwnerOutput::PublishRevoke(r)) = w.owner.poll_output() else {
        panic!("no revoke")
    };
    check(&r, 0x0513, &REVOKE_DOMAIN, owner);
    while w.owner.poll_output().is_some() {}
    let body = CfragBody {
        grant: id,
        interval: 1,
        capsule: w.wrapped(1).capsule().clone(),
        cfrag: {
            let g2 = w.grant(2, 2, 1, 1);
            let wrapped = w.wrapped(2);
            w.responses(&g2, 2, wrapped).remove(0).body.cfrag
        },
    };
    let response = CfragResponse::sign(body, &proxy_key(0)).unwrap();
    check(
        &response,
        0x0517,
        &CFRAG_DOMAIN,
        proxy_key(0).public_key().address(),
    );
}

/// A host whose chain says a grant is over (revoked or expired by block time) drops its
/// kfrags with `forget_grant`: the proxy stops serving it, other grants are untouched.
#[test]
fn forget_grant_drops_the_kfrags_on_the_hosts_word() {
    let mut w = world(11);
    let g = w.grant(3, 3, 2, 3);
    let g2 = w.grant(5, 5, 2, 3);
    let a = w.proxies[0].address();
    assert!(w.proxy(a).forget_grant(&g));
    assert_eq!(w.proxy(a).poll_output(), Some(ProxyOutput::Dropped(g)));
    assert!(!w.proxy(a).holds(&g));
    assert!(w.proxy(a).holds(&g2));
    assert!(!w.proxy(a).forget_grant(&g), "nothing left to forget");
    assert_eq!(w.proxy(a).poll_output(), None);
    let wrapped = w.wrapped(3);
    w.grantee.request(NOW, &g, 3, wrapped).unwrap();
    let mut rng = w.rng.clone();
    while let Some(o) = w.grantee.poll_output() {
        let GranteeOutput::SendRequest { to, request } = o else {
            panic!("unexpected {o:?}")
        };
        if to != a {
            continue;
        }
        let p = w.proxy(a);
        p.handle_request(NOW, &mut rng, *request).unwrap();
        assert_eq!(
            p.poll_output(),
            Some(ProxyOutput::Refused {
                grant: g,
                reason: SharingError::UnknownGrant
            })
        );
    }
}
