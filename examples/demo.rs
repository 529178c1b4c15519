//! The end-to-end demo: a gateway's sensor stream is recorded as an interval-encrypted data
//! chain, its anchors are committed by a 7-validator LBFT network with mainnet parameters
//! (deterministic simulator, real k256 signatures) in which a silent proposer is impeached,
//! a buyer is granted one interval through 2-of-3 proxies and checks it against the chain
//! with light verification, and DPoR scores the candidates and elects the next committee.
//!
//! Run: `cargo run --release --example demo` (optionally `-- --seed N`).

use cpchain_examples::story::{self, DEFAULT_SEED};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut seed = DEFAULT_SEED;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--seed" => {
                seed = args.next().ok_or("--seed needs a value")?.parse()?;
            }
            other => return Err(format!("unknown argument {other:?} (use --seed N)").into()),
        }
    }
    let started = Instant::now();
    let mut stdout = std::io::stdout().lock();
    story::run(seed, &mut stdout)?;
    // On stderr, so the story on stdout is the same every run.
    eprintln!("(ran in {:.2} s)", started.elapsed().as_secs_f64());
    Ok(())
}
