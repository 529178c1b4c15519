//! LBFT benchmarks (figures in docs/BENCHMARKS.md, "LBFT"):
//!
//! * `lbft_commit/n`: one block committed end to end in process by `n` validators with
//!   real k256 signatures (proposal, PREPARE, COMMIT, decision, VALIDATE broadcast),
//!   messages passed as values in FIFO order. The bench prints the signs and verifies the
//!   engine made per block; `raw_k256/*` measures those operations on the raw crate in the
//!   same run, so the overhead ratio is `time per block / (signs·sign + verifies·verify)`.
//! * `lbft_tx_check`: a validator receiving a proposal of 200-byte transactions whose host
//!   content check recovers each transaction's signer with k256, against the raw recovery
//!   of the same transactions.

#![allow(missing_docs)] // criterion_group! generates undocumented public items

use cpchain_consensus::lbft::*;
use cpchain_core::{keccak256, ChainSpec, Height, Timestamp};
use cpchain_crypto::SecretKey;
use criterion::{
    black_box, criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, SamplingMode,
    Throughput,
};
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::{RecoveryId, Signature as RawSig, SigningKey, VerifyingKey};
use sha3::{Digest, Keccak256};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

fn secret(seed: u32) -> SecretKey {
    let mut b = [0u8; 32];
    b[0] = 0x42;
    b[28..].copy_from_slice(&seed.to_be_bytes());
    SecretKey::from_bytes(&b).unwrap()
}

struct Cluster {
    spec: ChainSpec,
    nodes: Vec<Validator<FixedSchedule>>,
    addrs: Vec<cpchain_core::Address>,
    proposer: SecretKey,
    queue: VecDeque<(usize, usize, Message)>,
}

impl Cluster {
    fn new(n: usize) -> Cluster {
        let mut spec = ChainSpec::devnet();
        spec.fault_tolerance = ((n - 1) / 3) as u32;
        let keys: Vec<SecretKey> = (0..n as u32).map(|i| secret(1000 + i)).collect();
        let pubs: Vec<_> = keys.iter().map(|k| k.public_key()).collect();
        let set = ValidatorSet::new(&pubs).unwrap();
        let proposer = secret(5000);
        let schedule = FixedSchedule::new(vec![proposer.public_key().address()]);
        let genesis = Header::genesis(&spec, Timestamp(1_000_000));
        let mut nodes: Vec<_> = keys
            .iter()
            .map(|k| {
                let cfg = Config::new(spec.clone(), set.clone(), k.clone());
                Validator::new(cfg, schedule.clone(), genesis.clone(), genesis.timestamp).unwrap()
            })
            .collect();
        for v in &mut nodes {
            while v.poll_output().is_some() {}
        }
        let addrs = keys.iter().map(|k| k.public_key().address()).collect();
        Cluster {
            spec,
            nodes,
            addrs,
            proposer,
            queue: VecDeque::new(),
        }
    }

    fn work(&self) -> Work {
        self.nodes.iter().fold(Work::default(), |w, n| Work {
            signs: w.signs + n.stats().signs,
            verifies: w.verifies + n.stats().verifies,
            recoveries: w.recoveries + n.stats().recoveries,
        })
    }

    /// Commit the next height; returns the signature work, the proposer's seal included.
    fn commit_one(&mut self) -> Work {
        let before = self.work();
        let n = self.nodes.len();
        let parent = self.nodes[0].parent().clone();
        let now = parent.timestamp + self.spec.block_period;
        let block = Block::propose(
            &self.spec,
            &parent,
            &self.proposer,
            self.proposer.public_key().address(),
            now,
            vec![],
        );
        for i in 0..n {
            self.queue
                .push_back((i, i, Message::PrePrepare(block.clone())));
        }
        let target = parent.height.0 + 1;
        while let Some((from, to, msg)) = self.queue.pop_front() {
            let _ = self.nodes[to].handle_message(now, self.addrs[from], msg);
            while let Some(out) = self.nodes[to].poll_output() {
                match out {
                    ValidatorOutput::Broadcast(m) => {
                        for j in (0..n).filter(|&j| j != to) {
                            self.queue.push_back((to, j, m.clone()));
                        }
                    }
                    ValidatorOutput::CheckBlock { block, .. } => {
                        self.nodes[to].block_checked(now, block.id(), true)
                    }
                    _ => {}
                }
            }
        }
        assert!(self.nodes.iter().all(|v| v.height() == Height(target + 1)));
        let after = self.work();
        Work {
            signs: after.signs - before.signs + 1,
            verifies: after.verifies - before.verifies,
            recoveries: after.recoveries - before.recoveries,
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Work {
    signs: u64,
    verifies: u64,
    recoveries: u64,
}

/// CPU time of this thread in nanoseconds (Linux schedstat): unlike wall time it does
/// not count the time other processes on this shared machine hold the core.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The protocol's signature work done on the raw crate: `w.signs` signs, `w.verifies`
/// verifies and `w.recoveries` address recoveries, on distinct digests.
fn raw_work(w: Work) {
    let sk = SigningKey::from_bytes((&[0x11u8; 32]).into()).unwrap();
    let vk = *sk.verifying_key();
    let digest = [0x5au8; 32];
    let (sig, v) = sk.sign_prehash_recoverable(&digest).unwrap();
    for i in 0..w.signs {
        let mut d = digest;
        d[..8].copy_from_slice(&i.to_le_bytes());
        black_box(sk.sign_prehash_recoverable(&d).unwrap());
    }
    for _ in 0..w.verifies {
        vk.verify_prehash(black_box(&digest), &sig).unwrap();
    }
    for _ in 0..w.recoveries {
        let k = VerifyingKey::recover_from_prehash(black_box(&digest), &sig, v).unwrap();
        black_box(Keccak256::digest(
            &k.to_encoded_point(false).as_bytes()[1..],
        ));
    }
}

/// Interleave engine blocks with the same signature work on the raw crate, measuring
/// thread CPU time, so load from other processes affects both sides alike. The kernel
/// updates a thread's CPU time only at scheduler ticks (about 4 ms), so each side of a pair
/// runs `chunk` blocks, enough for at least `MIN_CHUNK`. Returns the median CPU per block
/// per validator (µs) and the median of the per-pair ratios.
fn paired_commit_ratio(cluster: &mut Cluster, pairs: usize) -> (f64, f64) {
    const MIN_CHUNK: Duration = Duration::from_millis(250);
    let probe = Instant::now();
    cluster.commit_one();
    let one = probe.elapsed().max(Duration::from_micros(1));
    let chunk = (MIN_CHUNK.as_nanos() / one.as_nanos()).max(1) as usize;
    let mut engine = Vec::new();
    let mut ratios = Vec::new();
    for _ in 0..pairs {
        let t0 = thread_cpu_ns();
        let works: Vec<Work> = (0..chunk).map(|_| cluster.commit_one()).collect();
        let t1 = thread_cpu_ns();
        for w in works {
            raw_work(w);
        }
        let t2 = thread_cpu_ns();
        engine.push((t1 - t0) as f64 / chunk as f64);
        ratios.push((t1 - t0) as f64 / (t2 - t1) as f64);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    let n = cluster.nodes.len() as f64;
    (median(&mut engine) / n / 1e3, median(&mut ratios))
}

fn raw_ops(c: &mut Criterion) {
    let sk = SigningKey::from_bytes((&[0x11u8; 32]).into()).unwrap();
    let vk = *sk.verifying_key();
    let digest = [0x5au8; 32];
    let (sig, v) = sk.sign_prehash_recoverable(&digest).unwrap();
    let mut g = c.benchmark_group("raw_k256");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    g.bench_function("sign", |b| {
        b.iter(|| sk.sign_prehash_recoverable(black_box(&digest)).unwrap())
    });
    g.bench_function("verify", |b| {
        b.iter(|| vk.verify_prehash(black_box(&digest), &sig).unwrap())
    });
    g.bench_function("recover_address", |b| {
        b.iter(|| {
            let k = VerifyingKey::recover_from_prehash(black_box(&digest), &sig, v).unwrap();
            Keccak256::digest(&k.to_encoded_point(false).as_bytes()[1..])
        })
    });
    g.finish();
}

fn commit(c: &mut Criterion) {
    let mut g = c.benchmark_group("lbft_commit");
    g.sampling_mode(SamplingMode::Flat);
    for n in [4usize, 7, 22, 100] {
        let mut cluster = Cluster::new(n);
        let w = cluster.commit_one();
        let pairs = if n >= 100 { 5 } else { 7 };
        let (cpu_us, ratio) = paired_commit_ratio(&mut cluster, pairs);
        eprintln!(
            "lbft_commit/{n}: per block {} signs, {} verifies, {} recoveries; \
             paired CPU per block per validator {cpu_us:.0} µs, ratio to raw signature work {ratio:.3}",
            w.signs, w.verifies, w.recoveries
        );
        let (samples, secs) = if n >= 100 {
            (10, 20)
        } else if n >= 22 {
            (10, 5)
        } else {
            (10, 3)
        };
        g.sample_size(samples)
            .warm_up_time(Duration::from_millis(200))
            .measurement_time(Duration::from_secs(secs));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(cluster.commit_one());
                }
                start.elapsed()
            })
        });
    }
    g.finish();
}

/// A 200-byte transaction: 135 bytes of payload and a 65-byte signature over its keccak.
fn transactions(count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            let key = secret(9000 + (i % 16) as u32);
            let mut payload = vec![0u8; 135];
            payload[..8].copy_from_slice(&(i as u64).to_le_bytes());
            let sig = key.sign_prehash(&keccak256(&payload));
            let mut tx = payload;
            tx.extend_from_slice(&sig.to_bytes());
            tx
        })
        .collect()
}

/// The host's content check: recover every signer (what a node does before executing).
fn host_check(block: &Block) -> bool {
    block.transactions.iter().all(|tx| {
        let (payload, sig) = tx.split_at(135);
        let Ok(sig) = cpchain_crypto::Signature::from_bytes(sig.try_into().unwrap()) else {
            return false;
        };
        sig.recover(&keccak256(payload))
            .is_ok_and(|pk| !pk.address().is_zero())
    })
}

fn raw_check(txs: &[Vec<u8>]) -> bool {
    txs.iter().all(|tx| {
        let (payload, sig) = tx.split_at(135);
        let rs = RawSig::from_slice(&sig[..64]).unwrap();
        let v = RecoveryId::from_byte(sig[64]).unwrap();
        let digest = Keccak256::digest(payload);
        let k = VerifyingKey::recover_from_prehash(&digest, &rs, v).unwrap();
        Keccak256::digest(&k.to_encoded_point(false).as_bytes()[1..])[0] != 0xff
    })
}

fn tx_check(c: &mut Criterion) {
    const TXS: usize = 500;
    let cluster = Cluster::new(4);
    let spec = cluster.spec.clone();
    let genesis = cluster.nodes[0].parent().clone();
    let now = genesis.timestamp + spec.block_period;
    let txs = transactions(TXS);
    let block = Block::propose(
        &spec,
        &genesis,
        &cluster.proposer,
        cluster.proposer.public_key().address(),
        now,
        txs.clone(),
    );
    let fresh = || {
        let mut v = Validator::new(
            cluster.nodes[0].config().clone(),
            cluster.nodes[0].schedule().clone(),
            genesis.clone(),
            genesis.timestamp,
        )
        .unwrap();
        while v.poll_output().is_some() {}
        (v, Message::PrePrepare(block.clone()))
    };
    let engine_once = || {
        let (mut v, msg) = fresh();
        let _ = v.handle_message(now, cluster.addrs[1], msg);
        while let Some(out) = v.poll_output() {
            if let ValidatorOutput::CheckBlock { block, .. } = out {
                let ok = host_check(&block);
                v.block_checked(now, block.id(), ok);
            }
        }
    };
    // Paired by thread CPU time, one block a side (about 25 scheduler ticks each), median
    // of the per-pair ratios so that load spikes from other processes do not decide it.
    let mut pairs: Vec<(u64, u64)> = (0..9)
        .map(|_| {
            let t0 = thread_cpu_ns();
            engine_once();
            let t1 = thread_cpu_ns();
            assert!(raw_check(black_box(&txs)));
            let t2 = thread_cpu_ns();
            (t1 - t0, t2 - t1)
        })
        .collect();
    pairs.sort_by(|a, b| (a.1 * b.0).cmp(&(b.1 * a.0)));
    let (engine, raw) = pairs[pairs.len() / 2];
    let per_s = |ns: u64| TXS as f64 / (ns as f64 / 1e9);
    eprintln!(
        "lbft_tx_check: paired CPU throughput engine+host {:.0} tx/s, raw recovery {:.0} tx/s, median ratio {:.3}",
        per_s(engine),
        per_s(raw),
        raw as f64 / engine as f64
    );
    let mut g = c.benchmark_group("lbft_tx_check");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Elements(TXS as u64));
    g.bench_function("validator_with_host_recovery", |b| {
        b.iter_batched(
            fresh,
            |(mut v, msg)| {
                let _ = v.handle_message(now, cluster.addrs[1], msg);
                let mut prepared = false;
                while let Some(out) = v.poll_output() {
                    match out {
                        ValidatorOutput::CheckBlock { block, .. } => {
                            let ok = host_check(&block);
                            v.block_checked(now, block.id(), ok);
                        }
                        ValidatorOutput::Broadcast(Message::Vote(_)) => prepared = true,
                        _ => {}
                    }
                }
                assert!(prepared);
                v
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("raw_recovery", |b| {
        b.iter(|| assert!(raw_check(black_box(&txs))))
    });
    g.finish();
}

criterion_group!(benches, raw_ops, commit, tx_check);
criterion_main!(benches);
