//! Simulation aids: a per-thread verification cache for real signatures (runtime opt-in,
//! feature `std`) and, behind feature `insecure-test-crypto`, a fast keyed-hash stand-in
//! for ECDSA.
//!
//! # `insecure-test-crypto`
//!
//! Real k256 costs ~50–100 µs per verification; a simulated LBFT height at `n = 7` needs
//! about a hundred. The deterministic simulator (`cpchain-consensus`, feature `sim`) runs
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
//! worthless. The build fails when the feature meets `forbid-insecure-test-crypto`, the
//! marker feature `cpchain-ffi` sets, so no shipped artifact can contain it; the feature is
//! never on by default.

#[cfg(all(
    feature = "insecure-test-crypto",
    feature = "forbid-insecure-test-crypto"
))]
compile_error!(
    "cpchain-crypto: feature `insecure-test-crypto` (simulation-only keyed-hash signatures) \
     is enabled in a build that also contains cpchain-ffi (feature `forbid-insecure-test-crypto`). \
     Build the simulator on its own: `cargo run --release -p cpchain-examples --example simulate \
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

/// A per-thread memo of successful signature checks and recoveries, off unless a thread
/// turns it on. Verification is a pure function, so a hit is as good as the check; a miss
/// costs one lookup. Simulators turn it on so that n nodes checking the same vote pay for
/// one verification; nothing else should.
#[cfg(feature = "std")]
pub mod verify_cache {
    use crate::PublicKey;
    use core::cell::RefCell;
    use std::collections::{HashMap, HashSet};

    struct Cache {
        capacity: usize,
        verified: HashSet<[u8; 130]>,
        recovered: HashMap<[u8; 97], PublicKey>,
        hits: u64,
        misses: u64,
    }

    std::thread_local! {
        static CACHE: RefCell<Option<Cache>> = const { RefCell::new(None) };
    }

    /// Turn the cache on for this thread, holding at most `capacity` entries of each kind
    /// (it is emptied when full).
    pub fn enable(capacity: usize) {
        CACHE.with(|c| {
            *c.borrow_mut() = Some(Cache {
                capacity: capacity.max(1),
                verified: HashSet::new(),
                recovered: HashMap::new(),
                hits: 0,
                misses: 0,
            })
        });
    }

    /// Turn it off and drop its contents.
    pub fn disable() {
        CACHE.with(|c| *c.borrow_mut() = None);
    }

    /// `(hits, misses)` since [`enable`].
    pub fn stats() -> (u64, u64) {
        CACHE.with(|c| {
            c.borrow()
                .as_ref()
                .map(|c| (c.hits, c.misses))
                .unwrap_or((0, 0))
        })
    }

    pub(crate) fn verify_key(pk: &[u8; 33], digest: &[u8; 32], sig: &[u8; 65]) -> [u8; 130] {
        let mut k = [0u8; 130];
        for (d, s) in k.iter_mut().zip(pk.iter().chain(digest).chain(sig)) {
            *d = *s;
        }
        k
    }

    pub(crate) fn recover_key(digest: &[u8; 32], sig: &[u8; 65]) -> [u8; 97] {
        let mut k = [0u8; 97];
        for (d, s) in k.iter_mut().zip(digest.iter().chain(sig)) {
            *d = *s;
        }
        k
    }

    /// Whether the check is known good; `None` when the cache is off.
    pub(crate) fn known(key: &[u8; 130]) -> Option<bool> {
        CACHE.with(|c| {
            c.borrow_mut().as_mut().map(|c| {
                let hit = c.verified.contains(key);
                if hit {
                    c.hits += 1;
                } else {
                    c.misses += 1;
                }
                hit
            })
        })
    }

    pub(crate) fn remember(key: [u8; 130]) {
        CACHE.with(|c| {
            if let Some(c) = c.borrow_mut().as_mut() {
                if c.verified.len() >= c.capacity {
                    c.verified.clear();
                }
                c.verified.insert(key);
            }
        });
    }

    pub(crate) fn recovered(key: &[u8; 97]) -> Option<PublicKey> {
        CACHE.with(|c| {
            c.borrow_mut().as_mut().and_then(|c| {
                let hit = c.recovered.get(key).copied();
                if hit.is_some() {
                    c.hits += 1;
                } else {
                    c.misses += 1;
                }
                hit
            })
        })
    }

    pub(crate) fn remember_recovered(key: [u8; 97], pk: PublicKey) {
        CACHE.with(|c| {
            if let Some(c) = c.borrow_mut().as_mut() {
                if c.recovered.len() >= c.capacity {
                    c.recovered.clear();
                }
                c.recovered.insert(key, pk);
            }
        });
    }
}
