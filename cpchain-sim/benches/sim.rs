//! Simulator speed (figures in docs/BENCHMARKS.md, "Simulator"): simulated LBFT heights per
//! second of wall time, swarm nemesis, 2 light nodes, for a fixed batch of seeds.
//!
//! The signature scheme is chosen at compile time: run once with
//! `--features insecure-test-crypto` and `RUSTFLAGS="--cfg cpchain_insecure_test_crypto"`
//! (keyed hashes, simulation only; the cfg is the required opt-in) and once with
//! no features (real k256 with the simulator's verification cache). Criterion's
//! throughput is "elements/s" = heights committed per second (the highest height an honest
//! node reached, summed over the runs of one iteration — what the `simulate` CLI counts).
//!
//! * `sim_swarm/<scheme>/n4`, `n7`: the seeds one after another on one thread.
//! * `sim_swarm/<scheme>/n7_jobs2`: the same seeds split over two threads, as
//!   `simulate --jobs 2` does (the 5,000 heights/s goal of issue #6 is stated for a swarm
//!   run at n = 7).

#![allow(missing_docs)] // criterion_group! generates undocumented public items

use cpchain_sim::lbft::{run, NemesisMode, Scenario};
use cpchain_sim::INSECURE_TEST_CRYPTO;
use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use std::time::Duration;

/// Run `seeds` of `scenario` on `jobs` threads (seed `i` on thread `i mod jobs`); returns
/// the heights committed (and panics on a violation: a fast wrong simulator is no figure).
fn play(scenario: &Scenario, seeds: &[u64], jobs: usize) -> u64 {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..jobs)
            .map(|j| {
                s.spawn(move || {
                    seeds
                        .iter()
                        .skip(j)
                        .step_by(jobs)
                        .map(|&seed| {
                            let r = run(scenario, seed, 0);
                            assert!(r.violations.is_empty(), "seed {seed}: {:?}", r.violations);
                            r.figures.heights
                        })
                        .sum::<u64>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    })
}

fn bench_sim(c: &mut Criterion) {
    let scheme = if INSECURE_TEST_CRYPTO {
        "insecure"
    } else {
        "k256_cache"
    };
    // Real signatures are ~10x slower: fewer seeds and heights keep the bench short.
    let (seeds, heights): (Vec<u64>, u64) = if INSECURE_TEST_CRYPTO {
        ((0..16).collect(), 30)
    } else {
        ((1_000_000..1_000_004).collect(), 10)
    };
    let mut g = c.benchmark_group(format!("sim_swarm/{scheme}"));
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for (n, jobs) in [(4usize, 1usize), (7, 1), (7, 2)] {
        let scenario = Scenario::new(n, heights, NemesisMode::Swarm);
        let committed = play(&scenario, &seeds, 1);
        g.throughput(Throughput::Elements(committed));
        let id = if jobs == 1 {
            format!("n{n}")
        } else {
            format!("n{n}_jobs{jobs}")
        };
        g.bench_function(BenchmarkId::from_parameter(id), |b| {
            b.iter(|| play(&scenario, &seeds, jobs))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_sim);
criterion_main!(benches);
