//! Simulation aid: behind feature `insecure-test-crypto`, a fast keyed-hash stand-in for
//! ECDSA. (The per-thread verification cache, the other aid, is [`crate::verify_cache`].)
//!
//! # `insecure-test-crypto`
//!
//! Real k256 costs ~50–100 µs per verification; a simulated LBFT height at `n = 7` needs
//! about a hundred. The deterministic simulator (crate `cpchain-sim`) runs
//! thousands of heights a second only if signatures are nearly free. With this feature,
//! [`crate::SecretKey::sign_prehash`], [`crate::PublicKey::verify`] and
//! [`crate::Signature::recover`] switch to a keyed hash; the types, byte sizes and API stay
//! the same, so the consensus engine runs the very same code.
//!
//! A signature is `r ‖ s ‖ v` with `r` = the signer's x coordinate, `v` = its y parity and
//! `s` = `keccak256(KEY ‖ signer ‖ digest)` with the top two bits cleared (so it is a valid
//! low-s scalar and the 65 bytes still parse). `KEY` is a private constant of this module:
//! code outside it (the simulated Byzantine validators) cannot compute a MAC for a key it
//! does not hold, so inside the simulation signatures are unforgeable; outside it, they are
//! worthless. The feature alone does not build: rustc must also get
//! `--cfg cpchain_insecure_test_crypto` (RUSTFLAGS), an opt-in that no dependency can switch
//! on through feature unification, so a host crate that merely inherits the feature fails to
//! compile. The build also fails when the feature meets `forbid-insecure-test-crypto`, the
//! marker feature `cpchain-ffi` sets, so no shipped artifact can contain it; the feature is
//! never on by default.

#[cfg(all(feature = "insecure-test-crypto", not(cpchain_insecure_test_crypto)))]
compile_error!(
    "cpchain-crypto: feature `insecure-test-crypto` makes every signature forgeable (a keyed \
     hash with its key in the source). It was enabled, perhaps through feature unification, \
     without the explicit opt-in. For the simulator only, build with \
     RUSTFLAGS=\"--cfg cpchain_insecure_test_crypto\" (and a separate --target-dir); never \
     ship such a build."
);

#[cfg(all(
    feature = "insecure-test-crypto",
    feature = "forbid-insecure-test-crypto"
))]
compile_error!(
    "cpchain-crypto: feature `insecure-test-crypto` (simulation-only keyed-hash signatures) \
     is enabled in a build that also contains cpchain-ffi (feature `forbid-insecure-test-crypto`). \
     Build the simulator on its own: `RUSTFLAGS=\"--cfg cpchain_insecure_test_crypto\" cargo run \
     --release --target-dir target/insecure-sim -p cpchain-examples --example simulate \
     --features insecure-test-crypto`."
);

#[cfg(feature = "insecure-test-crypto")]
pub(crate) mod insecure {
    use cpchain_core::{keccak256_concat, Hash};

    /// The simulation's MAC key. Private: holding a `SecretKey` is the only way to sign.
    const KEY: &[u8; 32] = b"cpchain-sim-insecure-mac-key-v1!";

    /// The `s` half of a signature by `signer` (compressed key) over `digest`.
    pub(crate) fn mac(signer: &[u8; 33], digest: &Hash) -> [u8; 32] {
        let mut s = keccak256_concat(&[KEY, signer, digest.as_bytes()]).0;
        if let Some(top) = s.first_mut() {
            *top &= 0x3f;
        }
        if let Some(last) = s.last_mut() {
            *last |= 1;
        }
        s
    }
}
