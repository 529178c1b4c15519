//! Signature recovery at its real cost (issue 14): ecdsa 0.16's `recover_from_prehash`
//! (one double-scalar multiplication plus a full verification) beside the SDK's
//! one-multiplication recovery on k256 and, with feature `libsecp256k1`, libsecp256k1; with
//! sign and verify for scale. Every recovery here includes the address (keccak of the
//! uncompressed point), as a transaction or seal check does. Figures go to
//! docs/BENCHMARKS.md, "Signature recovery".
//!
//! `cargo bench -p cpchain-crypto --features libsecp256k1 --bench recovery`
//!
//! Instruction counts (a busy, shared machine makes wall-clock ratios noisy): with
//! `RECOVERY_CALLGRIND=<op>:<n>` the bench binary runs `n` operations `op` (one of the names
//! in [`OPS`]) instead of criterion; run it under `valgrind --tool=callgrind` with n = 0 and
//! n = 200 and divide the difference by 200 (see docs/BENCHMARKS.md).

#![allow(missing_docs)] // criterion_group! generates undocumented public items

use cpchain_crypto::{keccak256, Hash, SecretKey, Signature};
use criterion::{black_box, criterion_group, Criterion};
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::{RecoveryId, VerifyingKey};
use sha3::{Digest, Keccak256};
use std::time::Duration;

/// Sixteen (digest, signature) pairs of sixteen keys, cycled, so no run reuses one input.
fn inputs() -> Vec<(Hash, Signature, cpchain_crypto::PublicKey)> {
    (1u8..=16)
        .map(|i| {
            let sk = SecretKey::from_bytes(&[i; 32]).unwrap();
            let d = keccak256(&[i, 0x5a]);
            (d, sk.sign_prehash(&d), sk.public_key())
        })
        .collect()
}

fn recovery(c: &mut Criterion) {
    let items = inputs();
    let raw: Vec<_> = items
        .iter()
        .map(|(d, s, pk)| {
            let b = s.to_bytes();
            let rs = k256::ecdsa::Signature::from_slice(&b[..64]).unwrap();
            (*d, rs, RecoveryId::from_byte(b[64]).unwrap(), *pk.as_k256())
        })
        .collect();
    let sk = SecretKey::from_bytes(&[0x11; 32]).unwrap();
    let mut g = c.benchmark_group("recovery");
    g.sample_size(40)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4));
    let mut i = 0usize;
    g.bench_function("recover+address/k256-recover_from_prehash", |b| {
        b.iter(|| {
            i = (i + 1) % raw.len();
            let (d, rs, v, _) = &raw[i];
            let vk = VerifyingKey::recover_from_prehash(black_box(d.as_bytes()), rs, *v).unwrap();
            let p = vk.to_encoded_point(false);
            Keccak256::digest(&p.as_bytes()[1..])
        })
    });
    g.bench_function("recover+address/sdk-k256-one-lincomb", |b| {
        b.iter(|| {
            i = (i + 1) % items.len();
            let (d, s, _) = &items[i];
            s.recover_k256(black_box(d)).unwrap().address()
        })
    });
    #[cfg(feature = "libsecp256k1")]
    g.bench_function("recover+address/sdk-libsecp256k1", |b| {
        b.iter(|| {
            i = (i + 1) % items.len();
            let (d, s, _) = &items[i];
            s.recover_libsecp256k1(black_box(d)).unwrap().address()
        })
    });
    g.bench_function("sign/sdk-k256", |b| {
        b.iter(|| {
            i = (i + 1) % items.len();
            sk.sign_prehash(black_box(&items[i].0))
        })
    });
    g.bench_function("verify/k256-verify_prehash", |b| {
        b.iter(|| {
            i = (i + 1) % raw.len();
            let (d, rs, _, vk) = &raw[i];
            vk.verify_prehash(black_box(d.as_bytes()), rs).unwrap()
        })
    });
    g.bench_function("verify/sdk-k256-strict-v", |b| {
        b.iter(|| {
            i = (i + 1) % items.len();
            let (d, s, pk) = &items[i];
            pk.verify_k256(black_box(d), s).unwrap()
        })
    });
    #[cfg(feature = "libsecp256k1")]
    g.bench_function("verify/sdk-libsecp256k1", |b| {
        b.iter(|| {
            i = (i + 1) % items.len();
            let (d, s, pk) = &items[i];
            pk.verify_libsecp256k1(black_box(d), s).unwrap()
        })
    });
    g.finish();
}

/// The operations `RECOVERY_CALLGRIND` can repeat.
const OPS: [&str; 7] = [
    "raw-recover",
    "sdk-k256-recover",
    "sdk-libsecp256k1-recover",
    "sign",
    "raw-verify",
    "sdk-k256-verify",
    "sdk-libsecp256k1-verify",
];

/// Run `n` operations `op` on the same inputs as the criterion benches.
fn callgrind(spec: &str) {
    let (op, n) = spec.split_once(':').expect("RECOVERY_CALLGRIND=<op>:<n>");
    let n: usize = n.parse().expect("a count");
    assert!(OPS.contains(&op), "op is one of {OPS:?}");
    let items = inputs();
    let sk = SecretKey::from_bytes(&[0x11; 32]).unwrap();
    for k in 0..n {
        let (d, s, pk) = &items[k % items.len()];
        let b = s.to_bytes();
        match op {
            "raw-recover" => {
                let rs = k256::ecdsa::Signature::from_slice(&b[..64]).unwrap();
                let v = RecoveryId::from_byte(b[64]).unwrap();
                let vk = VerifyingKey::recover_from_prehash(d.as_bytes(), &rs, v).unwrap();
                let p = vk.to_encoded_point(false);
                black_box(Keccak256::digest(&p.as_bytes()[1..]));
            }
            "sdk-k256-recover" => {
                black_box(s.recover_k256(d).unwrap().address());
            }
            #[cfg(feature = "libsecp256k1")]
            "sdk-libsecp256k1-recover" => {
                black_box(s.recover_libsecp256k1(d).unwrap().address());
            }
            "sign" => {
                black_box(sk.sign_prehash(d));
            }
            "raw-verify" => {
                let rs = k256::ecdsa::Signature::from_slice(&b[..64]).unwrap();
                pk.as_k256().verify_prehash(d.as_bytes(), &rs).unwrap();
            }
            "sdk-k256-verify" => pk.verify_k256(d, s).unwrap(),
            #[cfg(feature = "libsecp256k1")]
            "sdk-libsecp256k1-verify" => pk.verify_libsecp256k1(d, s).unwrap(),
            _ => panic!("{op} needs feature libsecp256k1"),
        }
    }
}

criterion_group!(benches, recovery);

fn main() {
    if let Ok(spec) = std::env::var("RECOVERY_CALLGRIND") {
        callgrind(&spec);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
