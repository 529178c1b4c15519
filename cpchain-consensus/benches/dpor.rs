//! DPoR benchmarks (filled below).
fn main() {}
