//! The C API beside the Rust API it wraps, in one run, so the cost of the boundary (pointer
//! checks, panic guard, copies, and parsing keys and signatures from bytes on every call)
//! reads as a ratio. Figures go to docs/BENCHMARKS.md under "C API".

#![allow(missing_docs)] // criterion_group! generates undocumented public items
#![allow(clippy::undocumented_unsafe_blocks)] // every pointer below is to a live local of the length passed
#![allow(clippy::multiple_unsafe_ops_per_block)] // setup and teardown group calls per step

use cpchain_crypto::aead::{seal_detached, AeadKey, Nonce};
use cpchain_crypto::{keccak256, SecretKey};
use cpchain_ffi::*;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::time::Duration;

fn group(c: &mut Criterion) -> criterion::BenchmarkGroup<'_, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group("c_api");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    g
}

fn benches(c: &mut Criterion) {
    let secret = [0x11u8; 32];
    let sk = SecretKey::from_bytes(&secret).unwrap();
    let mut handle = std::ptr::null_mut();
    assert_eq!(
        unsafe { cpchain_secret_key_from_bytes(secret.as_ptr(), 32, &mut handle) },
        cpchain_result::Ok
    );
    let digest = keccak256(b"bench");
    let sig = sk.sign_prehash(&digest).to_bytes();
    let pk = sk.public_key();
    let pk_bytes = pk.to_compressed();
    let data = [7u8; 64];
    let mut g = group(c);

    g.bench_function("keccak256_64B/rust", |b| {
        b.iter(|| keccak256(black_box(&data)))
    });
    g.bench_function("keccak256_64B/ffi", |b| {
        let mut out = [0u8; 32];
        b.iter(|| unsafe { cpchain_keccak256(black_box(data.as_ptr()), 64, out.as_mut_ptr(), 32) })
    });

    g.bench_function("sign_prehash/rust", |b| {
        b.iter(|| sk.sign_prehash(black_box(&digest)))
    });
    g.bench_function("sign_prehash/ffi", |b| {
        let mut out = [0u8; 65];
        b.iter(|| unsafe {
            cpchain_secret_key_sign_prehash(
                handle,
                black_box(digest.0.as_ptr()),
                32,
                out.as_mut_ptr(),
                65,
            )
        })
    });

    g.bench_function("verify/rust", |b| {
        let s = cpchain_crypto::Signature::from_bytes(&sig).unwrap();
        b.iter(|| pk.verify(black_box(&digest), &s))
    });
    g.bench_function("verify/ffi_compressed_key", |b| {
        b.iter(|| unsafe {
            cpchain_public_key_verify(
                pk_bytes.as_ptr(),
                33,
                black_box(digest.0.as_ptr()),
                32,
                sig.as_ptr(),
                65,
            )
        })
    });

    g.bench_function("recover_address/rust", |b| {
        let s = cpchain_crypto::Signature::from_bytes(&sig).unwrap();
        b.iter(|| s.recover(black_box(&digest)).map(|k| k.address()))
    });
    g.bench_function("recover_address/ffi", |b| {
        let mut out = [0u8; 20];
        b.iter(|| unsafe {
            cpchain_signature_recover_address(
                sig.as_ptr(),
                65,
                black_box(digest.0.as_ptr()),
                32,
                out.as_mut_ptr(),
                20,
            )
        })
    });

    let key = [3u8; 32];
    let nonce = [5u8; 12];
    g.bench_function("aead_seal_4KiB/rust", |b| {
        let k = AeadKey::from_bytes(key);
        let mut buf = vec![0u8; 4096];
        b.iter(|| seal_detached(&k, &Nonce(nonce), b"", black_box(&mut buf)))
    });
    g.bench_function("aead_seal_4KiB/ffi", |b| {
        let mut buf = vec![0u8; 4096];
        let mut tag = [0u8; 16];
        b.iter(|| unsafe {
            cpchain_aead_seal_detached(
                key.as_ptr(),
                32,
                nonce.as_ptr(),
                12,
                std::ptr::null(),
                0,
                black_box(buf.as_mut_ptr()),
                4096,
                tag.as_mut_ptr(),
                16,
            )
        })
    });
    g.finish();
    unsafe { cpchain_secret_key_free(handle) };
}

/// A devnet committee of four, as keys, compressed keys and addresses.
fn devnet_committee() -> (Vec<SecretKey>, Vec<[u8; 33]>, Vec<[u8; 20]>) {
    let keys: Vec<SecretKey> = (0..4u8)
        .map(|i| SecretKey::from_bytes(&[0x70 + i; 32]).unwrap())
        .collect();
    let pks = keys
        .iter()
        .map(|k| k.public_key().to_compressed())
        .collect();
    let addrs = keys.iter().map(|k| k.public_key().address().0).collect();
    (keys, pks, addrs)
}

fn consensus_benches(c: &mut Criterion) {
    use cpchain_consensus::dpor::{Schedule, DEFAULT_SCHEDULE_CAPACITY};
    use cpchain_consensus::lbft::{
        Config, FixedSchedule, Header, Persisted, Validator, ValidatorOutput, ValidatorSet,
    };
    use cpchain_core::encoding::{decode, encode_to_vec};
    use cpchain_core::{Address, ChainSpec, Height, Timestamp};

    let mut g = group(c);

    // Restore a validator from its PERSIST bytes (decode, committee, checks).
    let spec = ChainSpec::devnet();
    let (keys, pks, addrs) = devnet_committee();
    let set = ValidatorSet::new(&keys.iter().map(|k| k.public_key()).collect::<Vec<_>>()).unwrap();
    let rotation = FixedSchedule::new(addrs.iter().map(|a| Address(*a)).collect());
    let t0 = Timestamp(1_000_000);
    let genesis = Header::genesis(&spec, t0);
    let mut v = Validator::new(
        Config::new(spec.clone(), set.clone(), keys[0].clone()),
        rotation.clone(),
        genesis,
        t0,
    )
    .unwrap();
    v.propose(
        Timestamp(t0.0 + spec.block_period.as_millis()),
        vec![vec![1, 2, 3]],
    )
    .unwrap();
    let mut record = Vec::new();
    while let Some(o) = v.poll_output() {
        if let ValidatorOutput::Persist(p) = o {
            record = encode_to_vec(&p).unwrap();
        }
    }
    g.bench_function("lbft_restore/rust", |b| {
        b.iter(|| {
            let p: Persisted = decode(black_box(&record)).unwrap();
            let cfg = Config::new(spec.clone(), set.clone(), keys[0].clone());
            let head = p.parent.clone();
            let since = p.round_start;
            Validator::restart(cfg, rotation.clone(), Some(p), head, [], since).unwrap()
        })
    });
    let mut spec_h = std::ptr::null_mut();
    let mut key_h = std::ptr::null_mut();
    unsafe {
        assert_eq!(cpchain_chain_spec_devnet(&mut spec_h), cpchain_result::Ok);
        assert_eq!(
            cpchain_secret_key_from_bytes([0x70u8; 32].as_ptr(), 32, &mut key_h),
            cpchain_result::Ok
        );
    }
    g.bench_function("lbft_restore/ffi", |b| {
        b.iter(|| unsafe {
            let mut out = std::ptr::null_mut();
            let r = cpchain_lbft_validator_restore(
                spec_h,
                key_h,
                pks.as_ptr().cast(),
                4,
                addrs.as_ptr().cast(),
                4,
                0,
                black_box(record.as_ptr()),
                record.len(),
                &mut out,
            );
            cpchain_lbft_validator_free(out);
            r
        })
    });

    // The proposer of a height in an elected term (mainnet: term 5, installed by election).
    let mainnet = ChainSpec::mainnet();
    let defaults: Vec<[u8; 20]> = (0..16u8).map(|i| [0xa0 + i; 20]).collect();
    let cands: Vec<cpchain_candidate> = (0..12u8)
        .map(|i| cpchain_candidate {
            address: [0x30 + i; 20],
            rpt: 500 + 700 * u32::from(i),
        })
        .collect();
    let mut sched = Schedule::new(
        &mainnet,
        &defaults.iter().map(|a| Address(*a)).collect::<Vec<_>>(),
        DEFAULT_SCHEDULE_CAPACITY,
    )
    .unwrap();
    let rust_cands: Vec<_> = cands
        .iter()
        .map(|c| cpchain_consensus::dpor::Candidate {
            address: Address(c.address),
            rpt: cpchain_consensus::dpor::Rpt(c.rpt),
        })
        .collect();
    sched
        .elect_at(Height(108), &cpchain_core::Hash([0x5e; 32]), &rust_cands)
        .unwrap();
    g.bench_function("schedule_proposer_of/rust", |b| {
        b.iter(|| sched.proposer_of(black_box(Height(200))))
    });
    let mut spec_m = std::ptr::null_mut();
    let mut sh = std::ptr::null_mut();
    let mut term = 0u64;
    unsafe {
        assert_eq!(cpchain_chain_spec_mainnet(&mut spec_m), cpchain_result::Ok);
        assert_eq!(
            cpchain_dpor_schedule_new(spec_m, defaults.as_ptr().cast(), 16, 64, &mut sh),
            cpchain_result::Ok
        );
        assert_eq!(
            cpchain_dpor_schedule_elect_at(
                sh,
                108,
                [0x5e; 32].as_ptr(),
                32,
                cands.as_ptr(),
                12,
                &mut term
            ),
            cpchain_result::Ok
        );
    }
    g.bench_function("schedule_proposer_of/ffi", |b| {
        let mut out = [0u8; 20];
        b.iter(|| unsafe {
            cpchain_dpor_schedule_proposer_of(sh, black_box(200), out.as_mut_ptr(), 20)
        })
    });
    g.bench_function("schedule_elect_at/rust", |b| {
        b.iter(|| {
            let mut s = sched.clone();
            s.prune_before(cpchain_core::Term(6));
            s.elect_at(
                Height(144),
                &cpchain_core::Hash([0x5f; 32]),
                black_box(&rust_cands),
            )
        })
    });
    g.bench_function("schedule_elect_at/ffi", |b| {
        // Elect term 6, then prune it again, so each iteration elects afresh; the Rust side
        // pays a clone of the schedule instead (a few hundred bytes).
        b.iter(|| unsafe {
            let r = cpchain_dpor_schedule_elect_at(
                sh,
                144,
                [0x5f; 32].as_ptr(),
                32,
                black_box(cands.as_ptr()),
                12,
                &mut term,
            );
            let mut dropped = 0;
            cpchain_dpor_schedule_prune_before(sh, 7, &mut dropped);
            r
        })
    });
    g.finish();
    unsafe {
        cpchain_dpor_schedule_free(sh);
        cpchain_chain_spec_free(spec_m);
        cpchain_chain_spec_free(spec_h);
        cpchain_secret_key_free(key_h);
    }
}

criterion_group!(c_api, benches, consensus_benches, sharing::benches);
criterion_main!(c_api);

#[cfg(not(feature = "pre"))]
mod sharing {
    /// Built without `pre`: no sharing benches.
    pub fn benches(_: &mut criterion::Criterion) {}
}

#[cfg(feature = "pre")]
mod sharing {
    use super::group;
    use cpchain_core::encoding::{decode, encode_to_vec};
    use cpchain_core::{Address, Timestamp};
    use cpchain_crypto::pre::PreSecretKey;
    use cpchain_crypto::SecretKey;
    use cpchain_ffi::*;
    use cpchain_storage::sharing::*;
    use cpchain_storage::{MasterSecret, StreamId};
    use criterion::{black_box, Criterion};
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    const NOW: Timestamp = Timestamp(1_000);
    const EXPIRES: Timestamp = Timestamp(1_000_000);

    /// Drain a poll function into a vector of (kind, bytes).
    unsafe fn drain<H>(
        h: *mut H,
        poll: unsafe extern "C" fn(
            *mut H,
            *mut u8,
            usize,
            *mut usize,
            *mut cpchain_share_output_kind,
            *mut cpchain_share_output_info,
        ) -> cpchain_result,
    ) -> Vec<(
        cpchain_share_output_kind,
        Vec<u8>,
        cpchain_share_output_info,
    )> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; CPCHAIN_SHARE_OUTPUT_MAX_LEN];
        loop {
            let mut n = 0;
            let mut kind = cpchain_share_output_kind::None;
            let mut info = std::mem::MaybeUninit::<cpchain_share_output_info>::uninit();
            let r = unsafe {
                poll(
                    h,
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut n,
                    &mut kind,
                    info.as_mut_ptr(),
                )
            };
            if r != cpchain_result::Ok {
                return out;
            }
            out.push((kind, buf[..n].to_vec(), unsafe { info.assume_init() }));
        }
    }

    pub fn benches(c: &mut Criterion) {
        let mut g = group(c);
        let owner_key = SecretKey::from_bytes(&[0x44; 32]).unwrap();
        let proxy_keys: Vec<SecretKey> = (0..3u8)
            .map(|i| SecretKey::from_bytes(&[0x50 + i; 32]).unwrap())
            .collect();
        let proxies: Vec<Address> = proxy_keys
            .iter()
            .map(|k| k.public_key().address())
            .collect();
        let grantee_key = PreSecretKey::from_seed(&[0x33; 32]).unwrap();
        let grantee_pk = grantee_key.public_key();
        let master = [0x22u8; 32];
        let stream = [0x07u8; 32];
        let new_owner = || {
            Owner::new(
                owner_key.clone(),
                MasterSecret::from_bytes(master),
                StreamId(stream),
                OwnerConfig::default(),
            )
            .unwrap()
        };

        // Owner: a 2-of-3 grant of one interval, outputs encoded as the host sends them.
        let mut owner = new_owner();
        let request = GrantRequest {
            first_interval: 1,
            last_interval: 1,
            grantee: grantee_pk,
            threshold: 2,
            proxies: &proxies,
            expires_at: EXPIRES,
        };
        g.bench_function("share_grant_2of3/rust", |b| {
            b.iter(|| {
                let mut rng = ChaCha20Rng::from_seed([1; 32]);
                owner.grant(NOW, &mut rng, black_box(&request)).unwrap();
                let mut bytes = 0;
                while let Some(o) = owner.poll_output() {
                    bytes += match o {
                        OwnerOutput::PublishGrant(g) => encode_to_vec(&*g).unwrap().len(),
                        OwnerOutput::SendKfrags { delivery, .. } => {
                            encode_to_vec(&*delivery).unwrap().len()
                        }
                        _ => 0,
                    };
                }
                bytes
            })
        });
        let mut sk_h = std::ptr::null_mut();
        let mut owner_h = std::ptr::null_mut();
        unsafe {
            assert_eq!(
                cpchain_secret_key_from_bytes([0x44u8; 32].as_ptr(), 32, &mut sk_h),
                cpchain_result::Ok
            );
            assert_eq!(
                cpchain_share_owner_new(
                    sk_h,
                    master.as_ptr(),
                    32,
                    stream.as_ptr(),
                    32,
                    337,
                    &mut owner_h
                ),
                cpchain_result::Ok
            );
        }
        let pk_bytes = grantee_pk.to_compressed();
        let proxy_bytes: Vec<[u8; 20]> = proxies.iter().map(|a| a.0).collect();
        g.bench_function("share_grant_2of3/ffi", |b| {
            b.iter(|| unsafe {
                let mut id = [0u8; 32];
                let r = cpchain_share_owner_grant(
                    owner_h,
                    NOW.0,
                    [1u8; 32].as_ptr(),
                    32,
                    1,
                    1,
                    black_box(pk_bytes.as_ptr()),
                    33,
                    2,
                    proxy_bytes.as_ptr().cast(),
                    3,
                    EXPIRES.0,
                    id.as_mut_ptr(),
                    32,
                );
                assert_eq!(r, cpchain_result::Ok);
                drain(owner_h, cpchain_share_owner_poll).len()
            })
        });

        // One grant delivered to the proxies and the grantee, for the next benches.
        let mut rng = ChaCha20Rng::from_seed([2; 32]);
        let mut owner = new_owner();
        let id = owner.grant(NOW, &mut rng, &request).unwrap();
        let mut proxy_rs: Vec<Proxy> = proxy_keys
            .iter()
            .map(|k| Proxy::new(k.clone(), ProxyConfig::default()))
            .collect();
        let mut grantee = Grantee::new(grantee_key.clone(), GranteeConfig::default());
        let mut deliveries = Vec::new();
        while let Some(o) = owner.poll_output() {
            match o {
                OwnerOutput::PublishGrant(g) => {
                    grantee.accept_grant(NOW, &g).unwrap();
                }
                OwnerOutput::SendKfrags { to, delivery } => {
                    let i = proxies.iter().position(|p| *p == to).unwrap();
                    deliveries.push(encode_to_vec(&*delivery).unwrap());
                    proxy_rs[i].handle_delivery(NOW, *delivery).unwrap();
                    proxy_rs[i].poll_output();
                }
                _ => {}
            }
        }
        let wrapped = owner.wrap_interval_key(&mut rng, 1).unwrap();
        let wrapped_bytes = encode_to_vec(&wrapped).unwrap();
        grantee.request(NOW, &id, 1, wrapped.clone()).unwrap();
        let mut requests = Vec::new();
        while let Some(GranteeOutput::SendRequest { request, .. }) = grantee.poll_output() {
            requests.push(encode_to_vec(&*request).unwrap());
        }

        // Proxy: one re-encryption request in, one signed cfrag response out.
        g.bench_function("share_reencrypt/rust", |b| {
            b.iter(|| {
                let mut rng = ChaCha20Rng::from_seed([3; 32]);
                let req: ReencryptionRequest = decode(black_box(&requests[0])).unwrap();
                proxy_rs[0].handle_request(NOW, &mut rng, req).unwrap();
                match proxy_rs[0].poll_output() {
                    Some(ProxyOutput::Reply { bytes, .. }) => bytes.len(),
                    _ => 0,
                }
            })
        });
        let mut proxy_h = std::ptr::null_mut();
        let mut psk = std::ptr::null_mut();
        unsafe {
            assert_eq!(
                cpchain_secret_key_from_bytes([0x50u8; 32].as_ptr(), 32, &mut psk),
                cpchain_result::Ok
            );
            assert_eq!(
                cpchain_share_proxy_new(psk, 337, &mut proxy_h),
                cpchain_result::Ok
            );
            assert_eq!(
                cpchain_share_proxy_handle_delivery(
                    proxy_h,
                    NOW.0,
                    deliveries[0].as_ptr(),
                    deliveries[0].len()
                ),
                cpchain_result::Ok
            );
            drain(proxy_h, cpchain_share_proxy_poll);
        }
        let mut cfrags = Vec::new();
        g.bench_function("share_reencrypt/ffi", |b| {
            b.iter(|| unsafe {
                let r = cpchain_share_proxy_handle_request(
                    proxy_h,
                    NOW.0,
                    [3u8; 32].as_ptr(),
                    32,
                    black_box(requests[0].as_ptr()),
                    requests[0].len(),
                );
                assert_eq!(r, cpchain_result::Ok);
                drain(proxy_h, cpchain_share_proxy_poll).len()
            })
        });

        // Grantee: verify m = 2 cfrags and open the interval key.
        for (i, p) in proxy_rs.iter_mut().enumerate().take(2) {
            let req: ReencryptionRequest = decode(&requests[i]).unwrap();
            let mut rng = ChaCha20Rng::from_seed([4; 32]);
            p.handle_request(NOW, &mut rng, req).unwrap();
            if let Some(ProxyOutput::Reply { bytes, .. }) = p.poll_output() {
                cfrags.push(bytes);
            }
        }
        g.bench_function("share_collect_and_open_2of3/rust", |b| {
            b.iter(|| {
                grantee.request(NOW, &id, 1, wrapped.clone()).unwrap();
                while grantee.poll_output().is_some() {}
                for c in &cfrags {
                    grantee
                        .handle_cfrag(NOW, decode(black_box(c)).unwrap())
                        .unwrap();
                }
                while grantee.poll_output().is_some() {}
                grantee.open(&id, 1).unwrap()
            })
        });
        let mut grantee_h = std::ptr::null_mut();
        let mut grant_record = Vec::new();
        {
            let mut o2 = new_owner();
            let mut rng = ChaCha20Rng::from_seed([2; 32]);
            o2.grant(NOW, &mut rng, &request).unwrap();
            if let Some(OwnerOutput::PublishGrant(g)) = o2.poll_output() {
                grant_record = encode_to_vec(&*g).unwrap();
            }
        }
        let mut gid = [0u8; 32];
        unsafe {
            assert_eq!(
                cpchain_share_grantee_new([0x33u8; 32].as_ptr(), 32, 337, &mut grantee_h),
                cpchain_result::Ok
            );
            assert_eq!(
                cpchain_share_grantee_accept_grant(
                    grantee_h,
                    NOW.0,
                    grant_record.as_ptr(),
                    grant_record.len(),
                    gid.as_mut_ptr(),
                    32
                ),
                cpchain_result::Ok
            );
        }
        assert_eq!(gid, id.0 .0);
        g.bench_function("share_collect_and_open_2of3/ffi", |b| {
            let mut key = [0u8; 32];
            b.iter(|| unsafe {
                cpchain_share_grantee_request(
                    grantee_h,
                    NOW.0,
                    gid.as_ptr(),
                    32,
                    1,
                    wrapped_bytes.as_ptr(),
                    wrapped_bytes.len(),
                );
                drain(grantee_h, cpchain_share_grantee_poll);
                for c in &cfrags {
                    cpchain_share_grantee_handle_cfrag(
                        grantee_h,
                        NOW.0,
                        black_box(c.as_ptr()),
                        c.len(),
                    );
                }
                drain(grantee_h, cpchain_share_grantee_poll);
                let r = cpchain_share_grantee_open(
                    grantee_h,
                    gid.as_ptr(),
                    32,
                    1,
                    key.as_mut_ptr(),
                    32,
                );
                assert_eq!(r, cpchain_result::Ok);
            })
        });
        g.finish();
        unsafe {
            cpchain_share_grantee_free(grantee_h);
            cpchain_share_proxy_free(proxy_h);
            cpchain_share_owner_free(owner_h);
            cpchain_secret_key_free(psk);
            cpchain_secret_key_free(sk_h);
        }
    }
}
