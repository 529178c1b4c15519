//! SDK primitives beside the same call on the raw RustCrypto crate, in one run, so the
//! wrapper overhead can be read as a ratio (target ≤ 1.05). Figures go to docs/BENCHMARKS.md.

#![allow(missing_docs)] // criterion_group! generates undocumented public items

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit};
use cpchain_crypto::aead::{open_in_place, seal_in_place, AeadKey, Nonce};
use cpchain_crypto::{keccak256, Hash, SecretKey, Signature};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::{RecoveryId, SigningKey, VerifyingKey};
use sha3::{Digest, Keccak256};
use std::time::Duration;

const SIZES: [(usize, &str); 3] = [(64, "64B"), (4096, "4KiB"), (1 << 20, "1MiB")];

fn quick(c: &mut Criterion) -> criterion::BenchmarkGroup<'_, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group("crypto");
    g.sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    g
}

fn ecdsa(c: &mut Criterion) {
    let sk = SecretKey::from_bytes(&[0x11; 32]).unwrap();
    let raw = SigningKey::from_bytes((&[0x11u8; 32]).into()).unwrap();
    let digest = keccak256(b"bench");
    let sig = sk.sign_prehash(&digest);
    let pk = sk.public_key();
    let (raw_sig, raw_v) = raw.sign_prehash_recoverable(digest.as_bytes()).unwrap();
    let raw_vk = *raw.verifying_key();
    let mut g = quick(c);
    g.bench_function("sign/sdk", |b| {
        b.iter(|| sk.sign_prehash(black_box(&digest)))
    });
    g.bench_function("sign/raw", |b| {
        b.iter(|| raw.sign_prehash_recoverable(black_box(digest.as_bytes())))
    });
    g.bench_function("verify/sdk", |b| {
        b.iter(|| pk.verify(black_box(&digest), &sig))
    });
    g.bench_function("verify/raw", |b| {
        b.iter(|| raw_vk.verify_prehash(black_box(digest.as_bytes()), &raw_sig))
    });
    g.bench_function("recover/sdk", |b| {
        b.iter(|| sig.recover(black_box(&digest)).map(|p| p.address()))
    });
    g.bench_function("recover/raw", |b| {
        b.iter(|| {
            // The same work: recover the key, then keccak the uncompressed point.
            let vk = VerifyingKey::recover_from_prehash(
                black_box(digest.as_bytes()),
                &raw_sig,
                RecoveryId::from_byte(raw_v.to_byte()).unwrap(),
            )
            .unwrap();
            let p = vk.to_encoded_point(false);
            Keccak256::digest(&p.as_bytes()[1..])
        })
    });
    g.bench_function("sig_from_bytes/sdk", |b| {
        let bytes = sig.to_bytes();
        b.iter(|| Signature::from_bytes(black_box(&bytes)))
    });
    g.finish();
}

fn keccak(c: &mut Criterion) {
    let mut g = quick(c);
    for (n, label) in SIZES {
        let data = vec![0xa5u8; n];
        g.throughput(Throughput::Bytes(n as u64));
        g.bench_with_input(BenchmarkId::new("keccak256/sdk", label), &data, |b, d| {
            b.iter(|| keccak256(black_box(d)))
        });
        g.bench_with_input(BenchmarkId::new("keccak256/raw", label), &data, |b, d| {
            b.iter(|| Hash(Keccak256::digest(black_box(d)).into()))
        });
    }
    g.finish();
}

fn aead(c: &mut Criterion) {
    let key = AeadKey::from_bytes([7; 32]);
    let raw = ChaCha20Poly1305::new(&[7u8; 32].into());
    let nonce = Nonce([1; 12]);
    let mut g = quick(c);
    for (n, label) in SIZES {
        g.throughput(Throughput::Bytes(n as u64));
        let mut buf = Vec::with_capacity(n + 16);
        g.bench_function(BenchmarkId::new("seal/sdk", label), |b| {
            b.iter(|| {
                buf.clear();
                buf.resize(n, 0x5a);
                seal_in_place(&key, &nonce, b"aad", &mut buf).unwrap();
            })
        });
        g.bench_function(BenchmarkId::new("seal/raw", label), |b| {
            b.iter(|| {
                buf.clear();
                buf.resize(n, 0x5a);
                raw.encrypt_in_place(&nonce.0.into(), b"aad", &mut buf)
                    .unwrap();
            })
        });
        let mut sealed = vec![0x5a; n];
        seal_in_place(&key, &nonce, b"aad", &mut sealed).unwrap();
        g.bench_function(BenchmarkId::new("open/sdk", label), |b| {
            b.iter(|| {
                buf.clear();
                buf.extend_from_slice(&sealed);
                open_in_place(&key, &nonce, b"aad", &mut buf).unwrap();
            })
        });
        g.bench_function(BenchmarkId::new("open/raw", label), |b| {
            b.iter(|| {
                buf.clear();
                buf.extend_from_slice(&sealed);
                raw.decrypt_in_place(&nonce.0.into(), b"aad", &mut buf)
                    .unwrap();
            })
        });
    }
    g.finish();
}

criterion_group!(benches, ecdsa, keccak, aead);
criterion_main!(benches);
