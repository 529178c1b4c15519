//! The C API beside the Rust API it wraps, in one run, so the cost of the boundary (pointer
//! checks, panic guard, copies, and parsing keys and signatures from bytes on every call)
//! reads as a ratio. Figures go to docs/BENCHMARKS.md under "C API".

#![allow(missing_docs)] // criterion_group! generates undocumented public items
#![allow(clippy::undocumented_unsafe_blocks)] // every pointer below is to a live local of the length passed

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

criterion_group!(c_api, benches);
criterion_main!(c_api);
