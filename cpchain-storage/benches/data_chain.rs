//! Data-chain benchmarks (filled below).
fn main() {}
