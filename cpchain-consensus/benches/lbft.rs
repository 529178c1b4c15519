//! LBFT benchmarks (filled below).
fn main() {}
