//! Declares the `cpchain_insecure_test_crypto` cfg: the explicit opt-in (set through
//! RUSTFLAGS, never through features) that feature `insecure-test-crypto` requires.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(cpchain_insecure_test_crypto)");
}
