//! Sharing costs (§2.2.2), each beside the raw umbral-pre call doing the same Umbral work in
//! the same run: grant (m = 2, n = 3, one interval), re-encrypt, cfrag check, open.
//!
//! `raw` is umbral-pre alone; `wrapper` is `cpchain_crypto::pre`; `machine` is the sans-IO
//! state machine step (which adds key derivation, signatures, encoding and bookkeeping).
#![allow(missing_docs)]

use core::cell::RefCell;
use core::time::Duration;
use cpchain_core::Timestamp;
use cpchain_crypto::pre::{self, raw, PreSecretKey};
use cpchain_crypto::SecretKey;
use cpchain_storage::sharing::*;
use cpchain_storage::{MasterSecret, StreamId};
use criterion::black_box;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::time::Instant;

const STREAM: StreamId = StreamId([0x33; 32]);
const NOW: Timestamp = Timestamp(1_000);
const EXPIRES: Timestamp = Timestamp(1_000_000_000);
const INTERVAL: u64 = 5;
const PAIRED_SAMPLES: usize = 20;

fn owner() -> Owner {
    Owner::new(
        SecretKey::from_bytes(&[0x44; 32]).unwrap(),
        MasterSecret::from_bytes([0x22; 32]),
        STREAM,
        OwnerConfig::default(),
    )
    .unwrap()
}

fn proxy_key(i: u8) -> SecretKey {
    SecretKey::from_bytes(&[0x50 + i; 32]).unwrap()
}

struct Setup {
    rng: ChaCha20Rng,
    proxies: Vec<Proxy>,
    grantee: Grantee,
    grant: GrantId,
    wrapped: pre::WrappedKey,
    delivery0: KfragDelivery,
    responses: Vec<CfragResponse>,
    bob: PreSecretKey,
}

fn setup() -> Setup {
    let mut rng = ChaCha20Rng::from_seed([1; 32]);
    let mut owner = owner();
    let (bob, _) = PreSecretKey::random(&mut rng).unwrap();
    let mut grantee = Grantee::new(bob.clone(), GranteeConfig::default());
    let mut proxies: Vec<Proxy> = (0..3)
        .map(|i| Proxy::new(proxy_key(i), ProxyConfig::default()))
        .collect();
    let addrs: Vec<_> = proxies.iter().map(|p| p.address()).collect();
    let req = GrantRequest {
        first_interval: INTERVAL,
        last_interval: INTERVAL,
        grantee: grantee.public_key(),
        threshold: 2,
        proxies: &addrs,
        expires_at: EXPIRES,
    };
    let grant = owner.grant(NOW, &mut rng, &req).unwrap();
    let mut delivery0 = None;
    while let Some(o) = owner.poll_output() {
        match o {
            OwnerOutput::PublishGrant(g) => {
                grantee.accept_grant(NOW, &g).unwrap();
            }
            OwnerOutput::SendKfrags { to, delivery } => {
                let p = proxies.iter_mut().find(|p| p.address() == to).unwrap();
                if delivery0.is_none() {
                    delivery0 = Some((*delivery).clone());
                }
                p.handle_delivery(NOW, *delivery).unwrap();
                p.poll_output();
            }
            _ => {}
        }
    }
    let wrapped = owner.wrap_interval_key(&mut rng, INTERVAL).unwrap();
    grantee
        .request(NOW, &grant, INTERVAL, wrapped.clone())
        .unwrap();
    let mut responses = Vec::new();
    while let Some(GranteeOutput::SendRequest { to, request }) = grantee.poll_output() {
        let p = proxies.iter_mut().find(|p| p.address() == to).unwrap();
        p.handle_request(NOW, &mut rng, *request).unwrap();
        if let Some(ProxyOutput::Reply { response, .. }) = p.poll_output() {
            responses.push(*response);
        }
    }
    for r in responses.iter().take(2) {
        grantee.handle_cfrag(NOW, r.clone()).unwrap();
    }
    while grantee.poll_output().is_some() {}
    Setup {
        rng,
        proxies,
        grantee,
        grant,
        wrapped,
        delivery0: delivery0.unwrap(),
        responses,
        bob,
    }
}

fn benches(c: &mut Criterion) {
    let mut s = setup();
    let master = MasterSecret::from_bytes([0x22; 32]);
    let delegating = delegating_key(&master, &STREAM, INTERVAL).unwrap();
    let dpk = delegating.public_key();
    let signer = pre::KfragSigner::new(&kfrag_signer_key(&master, &STREAM).unwrap());
    let bob_pk = s.bob.public_key();
    let kfrags = pre::generate_kfrags(&mut s.rng, &delegating, &bob_pk, &signer, 2, 3).unwrap();
    let capsule = s.wrapped.capsule().clone();

    let mut g = c.benchmark_group("sharing");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));

    // --- grant, m = 2, n = 3, one interval ---
    let mut rng = ChaCha20Rng::from_seed([2; 32]);
    g.bench_function("grant/raw", |b| {
        b.iter(|| {
            raw::generate_kfrags_with_rng(
                &mut rng,
                raw::secret_key(&delegating),
                raw::public_key(&bob_pk),
                raw::signer(&signer),
                2,
                3,
                true,
                true,
            )
        })
    });
    g.bench_function("grant/wrapper", |b| {
        b.iter(|| pre::generate_kfrags(&mut rng, &delegating, &bob_pk, &signer, 2, 3).unwrap())
    });
    let addrs: Vec<_> = s.proxies.iter().map(|p| p.address()).collect();
    g.bench_function("grant/machine", |b| {
        b.iter_batched(
            owner,
            |mut o| {
                let req = GrantRequest {
                    first_interval: INTERVAL,
                    last_interval: INTERVAL,
                    grantee: bob_pk,
                    threshold: 2,
                    proxies: &addrs,
                    expires_at: EXPIRES,
                };
                o.grant(NOW, &mut rng, &req).unwrap();
                while o.poll_output().is_some() {}
                o
            },
            BatchSize::SmallInput,
        )
    });

    // --- re-encrypt ---
    let raw_kfrag = raw::verified_kfrag(&kfrags[0]).clone();
    g.bench_function("reencrypt/raw", |b| {
        b.iter(|| raw::reencrypt_with_rng(&mut rng, raw::capsule(&capsule), raw_kfrag.clone()))
    });
    g.bench_function("reencrypt/wrapper", |b| {
        b.iter(|| pre::reencrypt(&mut rng, &capsule, &kfrags[0]))
    });
    let request = ReencryptionRequest {
        grant: s.grant,
        interval: INTERVAL,
        capsule: capsule.clone(),
    };
    let proxy = &mut s.proxies[0];
    g.bench_function("reencrypt/machine", |b| {
        b.iter(|| {
            proxy
                .handle_request(NOW, &mut rng, request.clone())
                .unwrap();
            proxy.poll_output()
        })
    });

    // --- kfrag check on receipt (proxy) ---
    let kfrag0 = kfrags[0].to_unverified();
    g.bench_function("kfrag_verify/raw", |b| {
        b.iter(|| {
            raw::KeyFrag::from(kfrag0.clone())
                .verify(
                    raw::public_key(&signer.verifying_key()),
                    Some(raw::public_key(&dpk)),
                    Some(raw::public_key(&bob_pk)),
                )
                .is_ok()
        })
    });
    g.bench_function("kfrag_verify/machine", |b| {
        b.iter_batched(
            || {
                (
                    Proxy::new(proxy_key(0), ProxyConfig::default()),
                    s.delivery0.clone(),
                )
            },
            |(mut p, d)| {
                p.handle_delivery(NOW, d).unwrap();
                p
            },
            BatchSize::SmallInput,
        )
    });

    // --- cfrag check (grantee) ---
    let cfrag = s.responses[2].body.cfrag.clone();
    let raw_cfrag = raw::cfrag(&cfrag).clone();
    g.bench_function("cfrag_verify/raw", |b| {
        b.iter(|| {
            raw_cfrag
                .clone()
                .verify(
                    raw::capsule(&capsule),
                    raw::public_key(&signer.verifying_key()),
                    raw::public_key(&dpk),
                    raw::public_key(&bob_pk),
                )
                .is_ok()
        })
    });
    // The loaded grantee already holds m cfrags: the third is verified (signature recovery
    // plus the Umbral check) and then counted as surplus, every time.
    let response = s.responses[2].clone();
    g.bench_function("cfrag_verify/machine", |b| {
        b.iter(|| {
            s.grantee.handle_cfrag(NOW, response.clone()).unwrap();
            while s.grantee.poll_output().is_some() {}
        })
    });

    // --- open with m = 2 cfrags ---
    let raw_cfrags: Vec<raw::VerifiedCapsuleFrag> = s.responses[..2]
        .iter()
        .map(|r| {
            let v = r
                .body
                .cfrag
                .verify(&capsule, &signer.verifying_key(), &dpk, &bob_pk)
                .unwrap();
            raw::verified_cfrag(&v).clone()
        })
        .collect();
    let ciphertext = raw::wrapped_ciphertext(&s.wrapped).to_vec();
    g.bench_function("open/raw", |b| {
        b.iter(|| {
            raw::decrypt_reencrypted(
                raw::secret_key(&s.bob),
                raw::public_key(&dpk),
                raw::capsule(&capsule),
                raw_cfrags.iter().cloned(),
                &ciphertext,
            )
            .unwrap()
        })
    });
    g.bench_function("open/machine", |b| {
        b.iter(|| s.grantee.open(&s.grant, INTERVAL).unwrap())
    });
    g.finish();

    // --- paired: raw and machine alternate call by call, so the shared machine's load
    // drifts over both alike; the ratio is the median over samples of machine / raw. ---
    let mut g = c.benchmark_group("sharing_paired");
    g.sample_size(PAIRED_SAMPLES)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let addrs = &addrs;
    let raw_grant = |rng: &mut ChaCha20Rng| {
        black_box(raw::generate_kfrags_with_rng(
            rng,
            raw::secret_key(&delegating),
            raw::public_key(&bob_pk),
            raw::signer(&signer),
            2,
            3,
            true,
            true,
        ));
    };
    // A fresh owner per call, built outside the timed region; `wrapped` first wraps the
    // interval's key (untimed), as an owner does when the interval closes.
    let machine_grant = |wrapped: bool| {
        move |rng: &mut ChaCha20Rng| {
            let mut o = owner();
            if wrapped {
                black_box(o.wrap_interval_key(rng, INTERVAL).unwrap());
            }
            let req = GrantRequest {
                first_interval: INTERVAL,
                last_interval: INTERVAL,
                grantee: bob_pk,
                threshold: 2,
                proxies: addrs,
                expires_at: EXPIRES,
            };
            let t = Instant::now();
            o.grant(NOW, rng, &req).unwrap();
            while let Some(out) = o.poll_output() {
                black_box(out);
            }
            t.elapsed()
        }
    };
    paired(
        &mut g,
        "grant",
        "grant (m = 2, n = 3, one interval)",
        &mut rng,
        raw_grant,
        machine_grant(false),
    );
    // The normal flow: the interval's key was wrapped for its key-index record when the
    // interval closed; the grant sells it later. A repeat grant hits the same kept key.
    paired(
        &mut g,
        "grant_after_wrap",
        "grant of an interval the owner wrapped (m = 2, n = 3)",
        &mut rng,
        raw_grant,
        machine_grant(true),
    );
    let raw_reencrypt = |rng: &mut ChaCha20Rng| {
        black_box(raw::reencrypt_with_rng(
            rng,
            raw::capsule(&capsule),
            raw_kfrag.clone(),
        ));
    };
    // The same, with the raw side also serializing its cfrag for the wire, as any
    // deployment must (a signed reply already carries its wire bytes).
    let raw_reencrypt_to_wire = |rng: &mut ChaCha20Rng| {
        let c = raw::reencrypt_with_rng(rng, raw::capsule(&capsule), raw_kfrag.clone());
        black_box(postcard::to_allocvec(&c).unwrap());
    };
    let signed = RefCell::new(proxy);
    let serve_signed = |rng: &mut ChaCha20Rng| {
        let t = Instant::now();
        let mut p = signed.borrow_mut();
        p.handle_request(NOW, rng, request.clone()).unwrap();
        black_box(p.poll_output());
        t.elapsed()
    };
    paired(
        &mut g,
        "reencrypt",
        "re-encrypt",
        &mut rng,
        raw_reencrypt,
        serve_signed,
    );
    paired(
        &mut g,
        "reencrypt_to_wire",
        "re-encrypt, both sides producing wire bytes",
        &mut rng,
        raw_reencrypt_to_wire,
        serve_signed,
    );

    // The same proxy with `ReplyAuth::Transport`: no signature, the host's authenticated
    // transport names the sender. Same grant, same kfrag, same capsule.
    let mut transport = Proxy::new(
        proxy_key(0),
        ProxyConfig {
            reply_auth: ReplyAuth::Transport,
            ..ProxyConfig::default()
        },
    );
    transport.handle_delivery(NOW, s.delivery0.clone()).unwrap();
    assert_eq!(
        transport.poll_output(),
        Some(ProxyOutput::Accepted(s.grant))
    );
    let transport = RefCell::new(transport);
    paired(
        &mut g,
        "reencrypt_transport",
        "re-encrypt, ReplyAuth::Transport",
        &mut rng,
        raw_reencrypt,
        |rng| {
            let t = Instant::now();
            let mut p = transport.borrow_mut();
            p.handle_request(NOW, rng, request.clone()).unwrap();
            black_box(p.poll_output());
            t.elapsed()
        },
    );
    paired(
        &mut g,
        "reencrypt_transport_to_wire",
        "re-encrypt, ReplyAuth::Transport, both sides producing wire bytes",
        &mut rng,
        raw_reencrypt_to_wire,
        |rng| {
            let t = Instant::now();
            let mut p = transport.borrow_mut();
            p.handle_request(NOW, rng, request.clone()).unwrap();
            if let Some(ProxyOutput::UnsignedReply(body)) = p.poll_output() {
                black_box(cpchain_core::encoding::encode_to_vec(&*body).unwrap());
            }
            t.elapsed()
        },
    );
    paired(
        &mut g,
        "open",
        "open (m = 2)",
        &mut rng,
        |_| {
            black_box(
                raw::decrypt_reencrypted(
                    raw::secret_key(&s.bob),
                    raw::public_key(&dpk),
                    raw::capsule(&capsule),
                    raw_cfrags.iter().cloned(),
                    &ciphertext,
                )
                .unwrap(),
            );
        },
        |_| {
            let t = Instant::now();
            black_box(s.grantee.open(&s.grant, INTERVAL).unwrap());
            t.elapsed()
        },
    );
    g.finish();
}

/// Run `raw` and `machine` alternately, call by call inside one `iter_custom`, so the shared
/// machine's load drifts over both alike; then print the median per-sample ratio. `machine`
/// returns the time of its own timed region (so it can build inputs untimed).
fn paired(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    id: &str,
    what: &str,
    rng: &mut ChaCha20Rng,
    mut raw: impl FnMut(&mut ChaCha20Rng),
    mut machine: impl FnMut(&mut ChaCha20Rng) -> Duration,
) {
    let pairs = RefCell::new(Vec::new());
    g.bench_function(id, |b| {
        b.iter_custom(|iters| {
            let (mut raw_t, mut mach_t) = (Duration::ZERO, Duration::ZERO);
            for _ in 0..iters {
                let t0 = Instant::now();
                raw(rng);
                raw_t += t0.elapsed();
                mach_t += machine(rng);
            }
            pairs
                .borrow_mut()
                .push((raw_t / iters as u32, mach_t / iters as u32));
            mach_t
        })
    });
    report(what, &pairs);
}

/// Print the median per-sample raw and machine times and their ratio, then reset.
fn report(what: &str, pairs: &RefCell<Vec<(Duration, Duration)>>) {
    let mut v = pairs.borrow_mut();
    // The last samples are the measured ones (warm-up calls come first).
    let n = v.len().min(PAIRED_SAMPLES);
    if n == 0 {
        // Filtered out (or `--list`): nothing was measured.
        return;
    }
    let tail = &v[v.len() - n..];
    let mut ratios: Vec<f64> = tail
        .iter()
        .map(|(r, m)| m.as_secs_f64() / r.as_secs_f64())
        .collect();
    ratios.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let median = ratios[ratios.len() / 2];
    let mut raws: Vec<Duration> = tail.iter().map(|(r, _)| *r).collect();
    let mut machines: Vec<Duration> = tail.iter().map(|(_, m)| *m).collect();
    raws.sort();
    machines.sort();
    println!(
        "PAIRED {what}: median per call raw {:?}, machine {:?}; machine/raw median ratio \
         {median:.3} (min {:.3}, max {:.3})",
        raws[raws.len() / 2],
        machines[machines.len() / 2],
        ratios[0],
        ratios[ratios.len() - 1],
    );
    v.clear();
}

criterion_group!(sharing, benches);
criterion_main!(sharing);
