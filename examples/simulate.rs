//! Deterministic simulation of LBFT 2.0 under a nemesis, many seeds at a time.
//!
//! ```text
//! cargo run --release --example simulate -- --validators 7 --seeds 1000 --nemesis swarm --heights 50
//! cargo run --release --example simulate -- --validators 4 --seeds 200 --nemesis byzantine --impeach-quorum f-plus-one
//! cargo run --release --example simulate -- --validators 4 --nemesis swarm --seed 1234   # replay one seed with its trace
//! ```
//!
//! Flags: `--validators N` (3f+1, default 4), `--light-nodes M` (default 2), `--heights H`
//! (default 20), `--seeds K` (default 100), `--first-seed S` (default 0), `--seed S` (replay
//! one seed, printing its trace), `--nemesis none|network|crash|clock|byzantine|swarm`
//! (default swarm), `--impeach-quorum two-f-plus-one|f-plus-one` (default two-f-plus-one),
//! `--jobs J` (threads, default: all cores), `--trace-lines L` (default 40).
//!
//! Prints a summary and ends with `violations: N`; exits 1 when N > 0, after printing
//! every failing seed (and the trace tail of the first few).

use cpchain_consensus::lbft::ImpeachQuorum;
use cpchain_sim::lbft::{run, NemesisMode, RunReport, Scenario};
use std::process::ExitCode;
use std::time::Instant;

struct Args {
    scenario: Scenario,
    seeds: u64,
    first: u64,
    replay: Option<u64>,
    jobs: usize,
    trace_lines: usize,
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("simulate: {msg}");
    eprintln!(
        "usage: simulate [--validators N] [--light-nodes M] [--heights H] [--seeds K] [--first-seed S] \
         [--seed S] [--nemesis none|network|crash|clock|byzantine|swarm] \
         [--impeach-quorum two-f-plus-one|f-plus-one] [--jobs J] [--trace-lines L]"
    );
    ExitCode::from(2)
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        scenario: Scenario::new(4, 20, NemesisMode::Swarm),
        seeds: 100,
        first: 0,
        replay: None,
        jobs: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        trace_lines: 40,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or(format!("{flag} needs a value"));
        let num = |v: String| v.parse::<u64>().map_err(|_| format!("bad number {v}"));
        match flag.as_str() {
            "--validators" => a.scenario.validators = num(val()?)? as usize,
            "--light-nodes" => a.scenario.light_nodes = num(val()?)? as usize,
            "--heights" => a.scenario.heights = num(val()?)?,
            "--seeds" => a.seeds = num(val()?)?,
            "--first-seed" => a.first = num(val()?)?,
            "--seed" => a.replay = Some(num(val()?)?),
            "--jobs" => a.jobs = (num(val()?)? as usize).max(1),
            "--trace-lines" => a.trace_lines = num(val()?)? as usize,
            "--nemesis" => {
                let v = val()?;
                a.scenario.nemesis =
                    NemesisMode::parse(&v).ok_or(format!("unknown nemesis {v}"))?;
            }
            "--impeach-quorum" => {
                a.scenario.impeach_quorum = match val()?.as_str() {
                    "two-f-plus-one" => ImpeachQuorum::TwoFPlusOne,
                    "f-plus-one" => ImpeachQuorum::FPlusOne,
                    v => return Err(format!("unknown impeach quorum {v}")),
                }
            }
            "--help" | "-h" => return Err("help".into()),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    let n = a.scenario.validators;
    if n < 4 || !(n - 1).is_multiple_of(3) {
        return Err(format!("--validators must be 3f+1 with f >= 1, not {n}"));
    }
    if a.scenario.heights == 0 {
        return Err("--heights must be at least 1".into());
    }
    Ok(a)
}

fn run_seeds(scenario: &Scenario, seeds: &[u64], jobs: usize) -> Vec<RunReport> {
    let jobs = jobs.min(seeds.len()).max(1);
    let mut out: Vec<RunReport> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..jobs)
            .map(|j| {
                s.spawn(move || {
                    seeds
                        .iter()
                        .skip(j)
                        .step_by(jobs)
                        .map(|&seed| run(scenario, seed, 0))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    out.sort_by_key(|r| r.seed);
    out
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => return usage(&e),
    };
    let sc = &args.scenario;
    let quorum = match sc.impeach_quorum {
        ImpeachQuorum::FPlusOne => "f-plus-one",
        _ => "two-f-plus-one",
    };
    let crypto = if cpchain_sim::INSECURE_TEST_CRYPTO {
        "insecure-test-crypto (keyed hashes, simulation only)"
    } else {
        "k256 ECDSA"
    };
    let seeds: Vec<u64> = match args.replay {
        Some(s) => vec![s],
        None => (args.first..args.first.saturating_add(args.seeds)).collect(),
    };
    println!(
        "simulate: validators={} light-nodes={} heights={} nemesis={:?} impeach-quorum={quorum} seeds={} (from {}) jobs={} signatures={crypto}",
        sc.validators,
        sc.light_nodes,
        sc.heights,
        sc.nemesis,
        seeds.len(),
        seeds.first().copied().unwrap_or(0),
        args.jobs,
    );
    let started = Instant::now();
    let reports = run_seeds(sc, &seeds, args.jobs);
    let wall = started.elapsed().as_secs_f64();

    if let (Some(_), Some(r)) = (args.replay, reports.first()) {
        // Replay: print the run in full.
        let traced = run(sc, r.seed, args.trace_lines.max(200));
        println!("setup: {}", traced.setup);
        println!("trace (last {} events):", traced.trace.len());
        for l in &traced.trace {
            println!("  {l}");
        }
        println!("stats: {:?}", traced.stats);
    }

    let runs = reports.len();
    let heights: u64 = reports.iter().map(|r| r.figures.heights).sum();
    let impeach: u64 = reports.iter().map(|r| r.figures.impeachments).sum();
    let equiv: u64 = reports.iter().map(|r| r.figures.equivocations).sum();
    let detected: u64 = reports.iter().map(|r| r.figures.detected).sum();
    let faults: u64 = reports.iter().map(|r| r.figures.faults).sum();
    let sim_ms: u64 = reports.iter().map(|r| r.simulated_ms).sum();
    let longest = reports
        .iter()
        .map(|r| {
            (
                r.figures.longest_commit_ms as f64 / r.mean_delay_ms.max(1) as f64,
                r.seed,
                r.figures.longest_commit_ms,
            )
        })
        .fold((0.0, 0, 0), |a, b| if b.0 > a.0 { b } else { a });
    let failing: Vec<&RunReport> = reports
        .iter()
        .filter(|r| !r.violations.is_empty())
        .collect();
    let violations: usize = failing.iter().map(|r| r.violations.len()).sum();

    for (i, r) in failing.iter().enumerate() {
        println!();
        println!("FAILED seed {} ({})", r.seed, r.setup);
        for v in &r.violations {
            println!("  {}: {}", v.checker, v.detail);
        }
        if i < 3 {
            let traced = run(sc, r.seed, args.trace_lines);
            println!("  trace tail:");
            for l in &traced.trace {
                println!("    {l}");
            }
        }
        println!(
            "  replay: cargo run --release --example simulate -- --validators {} --light-nodes {} --heights {} --nemesis {} --impeach-quorum {quorum} --seed {}",
            sc.validators,
            sc.light_nodes,
            sc.heights,
            format!("{:?}", sc.nemesis).to_lowercase(),
            r.seed
        );
    }
    let forks: Vec<u64> = failing
        .iter()
        .filter(|r| r.violations.iter().any(|v| v.checker == "agreement"))
        .map(|r| r.seed)
        .collect();

    println!();
    println!("runs: {runs}");
    println!("heights committed: {heights} ({impeach} impeach blocks)");
    println!("impeachments: {impeach}");
    println!("faults detected: {detected} of {equiv} Byzantine equivocations ({faults} fault outputs from honest nodes)");
    println!(
        "longest commit latency: {:.1} message delays ({} ms, seed {})",
        longest.0, longest.2, longest.1
    );
    println!(
        "speed: {:.0} simulated heights/s, {:.0}x real time ({:.2} s wall, {} jobs)",
        heights as f64 / wall.max(1e-9),
        sim_ms as f64 / 1000.0 / wall.max(1e-9),
        wall,
        args.jobs
    );
    if !forks.is_empty() {
        println!(
            "FORK FOUND: two different blocks committed at one height in {} of {runs} runs (seeds {:?}){}",
            forks.len(),
            &forks[..forks.len().min(20)],
            if sc.impeach_quorum == ImpeachQuorum::FPlusOne {
                ": the paper's f+1 impeach quorum is not Byzantine-safe"
            } else {
                ""
            }
        );
    }
    if !failing.is_empty() {
        println!(
            "failing seeds: {:?}",
            failing.iter().map(|r| r.seed).collect::<Vec<_>>()
        );
    }
    println!("violations: {violations}");
    if violations > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
