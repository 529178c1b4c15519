//! DPoR costs a validator pays per checkpoint or per campaign: RPT over 10,000 candidates,
//! the election among 100 (mainnet's cap) and 10,000 candidates, and admission-proof
//! verification (sha256 alone and the full check with the 4 MiB scrypt).
#![allow(missing_docs)] // criterion_group! generates undocumented public items

use cpchain_consensus::dpor::{
    compute_rpt, cpu_digest, elect, prove_admission, verify_admission, Candidate, Observation, Rpt,
};
use cpchain_core::{keccak256, Address, ChainSpec, Hash, Height, Term, BASE_UNITS_PER_CPC};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::time::Duration;

fn addr(i: u32) -> Address {
    let mut a = [0u8; 20];
    a[16..].copy_from_slice(&i.to_be_bytes());
    Address(a)
}

/// A spec that admits `n` candidates.
fn spec_for(n: u32) -> ChainSpec {
    let mut s = ChainSpec::mainnet();
    s.max_candidates = n;
    s
}

fn observations(n: u32) -> Vec<Observation> {
    (0..n)
        .map(|i| {
            let h = keccak256(&i.to_le_bytes()).0;
            let v = |k: usize| u64::from(h[k] % 50);
            Observation {
                address: addr(i),
                balance: u128::from(h[0]) * 1_000 * BASE_UNITS_PER_CPC,
                transactions: v(1),
                proposed_blocks: v(2),
                data_uploaded: v(3),
                data_bought: v(4),
                proxy_assists: v(5),
                impeached_blocks: u64::from(h[6] % 12),
            }
        })
        .collect()
}

fn candidates(n: u32) -> Vec<Candidate> {
    (0..n)
        .map(|i| Candidate {
            address: addr(i),
            rpt: Rpt(1_000 + (i * 7_919) % 9_000),
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("dpor");
    g.sample_size(10).measurement_time(Duration::from_secs(2));

    let spec = spec_for(10_000);
    let obs = observations(10_000);
    g.bench_function("rpt_10000_candidates", |b| {
        b.iter(|| compute_rpt(&spec, black_box(&obs)).unwrap())
    });

    let defaults: Vec<Address> = (0..12).map(|i| addr(0xd000_0000 + i)).collect();
    let hash = keccak256(b"checkpoint");
    for n in [100u32, 10_000] {
        let spec = spec_for(n);
        let cands = candidates(n);
        g.bench_function(format!("elect_{n}_candidates"), |b| {
            b.iter(|| elect(&spec, &hash, Term(3), black_box(&cands), &defaults).unwrap())
        });
    }

    let spec = ChainSpec::mainnet();
    let who = addr(42);
    let at = Height(995);
    let block = keccak256(&at.get().to_be_bytes());
    let proof = prove_admission(&spec, &who, at, &block, 1 << 20).unwrap();
    let canonical = |h: Height| -> Option<Hash> { (h == at).then_some(block) };
    g.bench_function("admission_cpu_digest", |b| {
        b.iter(|| cpu_digest(black_box(&who), &block, proof.cpu.nonce))
    });
    g.bench_function("admission_verify_full", |b| {
        b.iter(|| {
            verify_admission(&spec, black_box(&who), &proof, Height(1_000), canonical).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
