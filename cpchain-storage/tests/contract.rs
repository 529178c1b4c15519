//! Issue 13: every storage machine keeps the one sans-IO contract
//! ([`cpchain_core::machine::Machine`]). The SDK's one set of contract checks
//! (`cpchain_core::machine::conformance`, also used by `cpchain-consensus/tests/contract.rs`)
//! drives each machine through the trait only (inputs, then a drain): deadlines fire, outputs drain to `None`,
//! a bad peer input is counted in `stats().dropped()` and leaves the state unchanged.
mod common;

use common::*;
#[cfg(feature = "pre")]
use cpchain_core::machine::conformance::bad_peer_input;
use cpchain_core::machine::conformance::{fire, step};
#[cfg(feature = "pre")]
use cpchain_core::machine::drain;
use cpchain_core::machine::{Machine, MachineStats};
use cpchain_core::Timestamp;
use cpchain_storage::*;

fn show_writer(o: WriterOutput<'_>) -> String {
    match o {
        WriterOutput::Block(b) => format!("block {}", b.header.index),
        WriterOutput::Anchor(_) => "anchor".into(),
    }
}

#[test]
fn writer_keeps_the_contract() {
    let mut w = writer();
    assert_eq!(
        Machine::next_deadline(&w),
        None,
        "nothing open, nothing due"
    );
    let out = step(
        &mut w,
        |w| w.append(Timestamp(100), b"r1").unwrap(),
        show_writer,
    )
    .unwrap();
    assert!(out.is_empty());
    // The block of the first period seals at its end (T = 1 s).
    let (due, out) = fire(&mut w, show_writer).unwrap();
    assert_eq!((due, out), (Timestamp(1000), vec!["block 0".to_string()]));
    // Then the upload boundary (u = 2 s) anchors it.
    let (due, out) = fire(&mut w, show_writer).unwrap();
    assert_eq!((due, out), (Timestamp(2000), vec!["anchor".to_string()]));
    assert_eq!(Machine::next_deadline(&w), None);
    // A writer takes no peer input: nothing is ever dropped.
    assert_eq!(Machine::stats(&w).dropped(), 0);
    assert_eq!(Machine::stats(&w).blocks, 1);
}

#[test]
fn writer_flush_takes_now_and_lets_time_pass_first() {
    let mut w = writer();
    w.append(Timestamp(100), b"r1").unwrap();
    // A flush at a time before one already seen seals nothing.
    assert!(!w.flush(Timestamp(99)));
    assert!(step(&mut w, |_| {}, show_writer).unwrap().is_empty());
    // At 2500 the first period is over and the upload boundary passed: time passes first
    // (block 0 sealed by its period, then anchored), and the flush reports the seal.
    w.append(Timestamp(200), b"r2").unwrap();
    assert!(w.flush(Timestamp(2_500)));
    let out = step(&mut w, |_| {}, show_writer).unwrap();
    assert_eq!(out, vec!["block 0".to_string(), "anchor".to_string()]);
    // Inside a period, flush seals the open block early.
    w.append(Timestamp(3_000), b"r3").unwrap();
    assert!(w.flush(Timestamp(3_100)));
    let out = step(&mut w, |_| {}, show_writer).unwrap();
    assert_eq!(out, vec!["block 1".to_string()]);
    assert!(!w.flush(Timestamp(3_200)), "nothing left to seal");
}

#[cfg(feature = "pre")]
mod sharing {
    use super::*;
    use cpchain_core::encoding;
    use cpchain_crypto::pre::PreSecretKey;
    use cpchain_crypto::SecretKey;
    use cpchain_storage::sharing::*;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    const NOW: Timestamp = Timestamp(1_000);
    const EXPIRES: Timestamp = Timestamp(100_000);

    fn wire<T: cpchain_core::WireMessage>(msg: &T) -> T {
        encoding::decode(&encoding::encode_to_vec(msg).unwrap()).unwrap()
    }

    fn show_owner(o: OwnerOutput) -> String {
        match o {
            OwnerOutput::PublishGrant(_) => "publish".into(),
            OwnerOutput::SendKfrags { .. } => "kfrags".into(),
            other => format!("{other:?}"),
        }
    }

    struct Parties {
        rng: ChaCha20Rng,
        owner: Owner,
        proxies: Vec<Proxy>,
        grantee: Grantee,
        grant: Option<Box<SignedGrant>>,
        deliveries: Vec<KfragDelivery>,
    }

    /// An owner with a 2-of-2 grant of interval 1 issued and drained through the trait.
    fn parties() -> Parties {
        let mut rng = ChaCha20Rng::from_seed([13; 32]);
        let mut owner = Owner::new(
            SecretKey::from_bytes(&[0x44; 32]).unwrap(),
            master(),
            STREAM,
            OwnerConfig::default(),
        )
        .unwrap();
        let proxies: Vec<Proxy> = (0..3u8)
            .map(|i| {
                Proxy::new(
                    SecretKey::from_bytes(&[0x50 + i; 32]).unwrap(),
                    ProxyConfig::default(),
                )
            })
            .collect();
        let (gk, _) = PreSecretKey::random(&mut rng).unwrap();
        let grantee = Grantee::new(gk, GranteeConfig::default());
        let addrs: Vec<_> = proxies.iter().take(2).map(|p| p.address()).collect();
        let request = GrantRequest {
            first_interval: 1,
            last_interval: 1,
            grantee: grantee.public_key(),
            threshold: 2,
            proxies: &addrs,
            expires_at: EXPIRES,
        };
        let mut grant = None;
        let mut deliveries = Vec::new();
        let mut outs = Vec::new();
        let mut r2 = rng.clone();
        let shown = step(
            &mut owner,
            |o| {
                o.grant(NOW, &mut r2, &request).unwrap();
            },
            |o| {
                let s = show_owner(o.clone());
                outs.push(o);
                s
            },
        )
        .unwrap();
        rng = r2;
        assert_eq!(shown, ["publish", "kfrags", "kfrags"]);
        for o in outs {
            match o {
                OwnerOutput::PublishGrant(g) => grant = Some(g),
                OwnerOutput::SendKfrags { delivery, .. } => deliveries.push(wire(&*delivery)),
                other => panic!("unexpected {other:?}"),
            }
        }
        Parties {
            rng,
            owner,
            proxies,
            grantee,
            grant,
            deliveries,
        }
    }

    #[test]
    fn owner_keeps_the_contract() {
        let mut p = parties();
        assert_eq!(Machine::stats(&p.owner).grants, 1);
        // The grant's expiry is the owner's deadline; firing it forgets the grant.
        let (due, out) = fire(&mut p.owner, show_owner).unwrap();
        assert_eq!((due, out.len()), (EXPIRES, 0));
        assert_eq!(p.owner.grants(), 0);
        assert_eq!(Machine::next_deadline(&p.owner), None);
        assert_eq!(Machine::stats(&p.owner).expired, 1);
        assert_eq!(Machine::stats(&p.owner).dropped(), 0);
    }

    #[test]
    fn proxy_keeps_the_contract() {
        let mut p = parties();
        let proxy = &mut p.proxies[0];
        let d = p.deliveries[0].clone();
        let out = step(
            proxy,
            |x| x.handle_delivery(NOW, d).unwrap(),
            |o| format!("{o:?}"),
        )
        .unwrap();
        assert_eq!(out.len(), 1);
        assert!(proxy.holds(&p.grant.as_ref().unwrap().body.id().unwrap()));
        // A delivery for another proxy is a peer's bad input: counted, state unchanged.
        let foreign = p.deliveries[1].clone();
        let out = bad_peer_input(
            proxy,
            |x| x.handle_delivery(NOW, foreign).unwrap(),
            |x| x.held_grants(),
            |o| format!("{o:?}"),
        )
        .unwrap();
        assert_eq!(out.len(), 1, "the host is told (Refused)");
        assert_eq!(
            Machine::stats(proxy)
                .dropped
                .get(ProxyDrop::NotForUs as usize),
            1
        );
        // A request under an unknown grant: counted, state unchanged.
        let mut rng = p.rng.clone();
        let wrapped = p.owner.wrap_interval_key(&mut rng, 1).unwrap();
        let req = ReencryptionRequest {
            grant: GrantId(Default::default()),
            interval: 1,
            capsule: wrapped.capsule().clone(),
        };
        bad_peer_input(
            proxy,
            |x| x.handle_request(NOW, &mut rng, req).unwrap(),
            |x| x.held_grants(),
            |o| format!("{o:?}"),
        )
        .unwrap();
        // The grant's expiry fires; the proxy forgets it.
        let (due, out) = fire(proxy, |o| format!("{o:?}")).unwrap();
        assert_eq!((due, out.len(), proxy.held_grants()), (EXPIRES, 0, 0));
    }

    #[test]
    fn grantee_keeps_the_contract_and_its_requests_expire() {
        let mut p = parties();
        let signed = wire(&**p.grant.as_ref().unwrap());
        let id = p.grantee.accept_grant(NOW, &signed).unwrap();
        // An expired grant is refused with `Err`: the host handed it in.
        assert_eq!(
            p.grantee.accept_grant(EXPIRES, &signed),
            Err(SharingError::GrantNotLive)
        );
        assert_eq!(Machine::next_deadline(&p.grantee), Some(EXPIRES));
        let mut rng = p.rng.clone();
        let wrapped = p.owner.wrap_interval_key(&mut rng, 1).unwrap();
        let out = step(
            &mut p.grantee,
            |g| g.request(NOW, &id, 1, wrapped.clone()).unwrap(),
            |o| format!("{o:?}"),
        )
        .unwrap();
        assert_eq!(out.len(), 2, "one request per proxy");
        let timeout = GranteeConfig::default().request_timeout;
        let due = NOW.saturating_add(timeout);
        assert_eq!(Machine::next_deadline(&p.grantee), Some(due));

        // An outsider's correct-looking cfrag: counted (not a fault), state unchanged.
        let d = p.deliveries[0].clone();
        p.proxies[0].handle_delivery(NOW, d).unwrap();
        drain(&mut p.proxies[0], |_| {});
        let req = ReencryptionRequest {
            grant: id,
            interval: 1,
            capsule: wrapped.capsule().clone(),
        };
        p.proxies[0].handle_request(NOW, &mut rng, req).unwrap();
        let mut body = None;
        drain(&mut p.proxies[0], |o| {
            if let ProxyOutput::Reply { response, .. } = o {
                body = Some(response.body.clone());
            }
        });
        let relayed =
            CfragResponse::sign(body.unwrap(), &SecretKey::from_bytes(&[0x52; 32]).unwrap())
                .unwrap();
        let out = bad_peer_input(
            &mut p.grantee,
            |g| g.handle_cfrag(NOW, relayed).unwrap(),
            |g| g.verified_cfrags(&id, 1),
            |o| format!("{o:?}"),
        )
        .unwrap();
        assert!(out.is_empty(), "no Fault for an outsider");
        assert_eq!(
            Machine::stats(&p.grantee)
                .dropped
                .get(GranteeDrop::OutsideGrant as usize),
            1
        );

        // Nobody answers in time: the request expires at its deadline and says so.
        let (fired, out) = fire(&mut p.grantee, |o| match o {
            GranteeOutput::Expired { interval, .. } => format!("expired {interval}"),
            other => format!("{other:?}"),
        })
        .unwrap();
        assert_eq!((fired, out), (due, vec!["expired 1".to_string()]));
        assert_eq!(p.grantee.verified_cfrags(&id, 1), 0);
        assert_eq!(Machine::stats(&p.grantee).requests_expired, 1);
        // What is left is the grant's expiry.
        assert_eq!(Machine::next_deadline(&p.grantee), Some(EXPIRES));
    }
}
