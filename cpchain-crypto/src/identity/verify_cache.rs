//! A per-thread memo of successful signature checks and recoveries, off unless a thread
//! turns it on. Verification is a pure function, so a hit is as good as the check; a miss
//! costs one lookup. Simulators turn it on so that n nodes checking the same vote pay for
//! one verification; nothing else should.
//!
//! Keys are the exact inputs of the check, never a digest of them: `(key, digest,
//! signature)` for [`crate::PublicKey::verify`], `(key, signature, domain, payload)` for
//! [`crate::PublicKey::verify_payload`] and `(signature, domain, payload)` → signer for
//! [`crate::Signature::recover_signer`] (the last two also save the signing digest and the
//! address hash on a hit). Both signature schemes go through it: under
//! `insecure-test-crypto` a hit saves a Keccak permutation rather than an ECDSA check, which
//! is what lets swarm runs reach thousands of heights a second.
//!
//! A child of `identity` because it memoises identity's checks and stores its
//! [`PublicKey`]s: as a sibling it made `identity ↔ sim_crypto` an import cycle (issue 13
//! item 5).

use crate::PublicKey;
use core::cell::{Cell, RefCell};
use core::hash::{BuildHasherDefault, Hasher};
use std::collections::{HashMap, HashSet};
use std::vec::Vec;

/// A multiply-rotate hash (FxHash's) over 8-byte words. The keys are whole signature
/// checks, so the cache stays exact whatever the hash; a weak hash only lets a peer who
/// crafts colliding signatures slow a simulation down, while SipHash would cost as much
/// as the keyed-hash check it saves under `insecure-test-crypto`.
#[derive(Default)]
struct WordHasher(u64);

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        for b in chunks.remainder() {
            self.add(u64::from(*b));
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl WordHasher {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type Build = BuildHasherDefault<WordHasher>;

struct Cache {
    capacity: usize,
    verified: HashSet<[u8; 130], Build>,
    /// Checks of [`crate::PublicKey::verify_payload`], keyed by [`payload_key`]: a hit
    /// also saves the signing digest.
    verified_payloads: HashSet<Vec<u8>, Build>,
    /// Results of [`crate::Signature::recover_signer`], keyed by [`payload_key`] with
    /// an all-zero key.
    signers: HashMap<Vec<u8>, cpchain_core::Address, Build>,
    recovered: HashMap<[u8; 97], PublicKey, Build>,
    hits: u64,
    misses: u64,
}

std::thread_local! {
    static CACHE: RefCell<Option<Cache>> = const { RefCell::new(None) };
    static ENABLED: Cell<bool> = const { Cell::new(false) };
}

/// Turn the cache on for this thread, holding at most `capacity` entries of each kind
/// (it is emptied when full).
pub fn enable(capacity: usize) {
    CACHE.with(|c| {
        *c.borrow_mut() = Some(Cache {
            capacity: capacity.max(1),
            verified: HashSet::default(),
            verified_payloads: HashSet::default(),
            signers: HashMap::default(),
            recovered: HashMap::default(),
            hits: 0,
            misses: 0,
        })
    });
    ENABLED.with(|e| e.set(true));
}

/// Turn it off and drop its contents.
pub fn disable() {
    CACHE.with(|c| *c.borrow_mut() = None);
    ENABLED.with(|e| e.set(false));
}

/// Whether [`enable`] is in force on this thread: callers skip building a key otherwise.
pub(crate) fn is_enabled() -> bool {
    ENABLED.with(|e| e.get())
}

/// `(hits, misses)` of all lookups since [`enable`] (a payload-level miss is followed by
/// a digest-level lookup, so one check may count twice).
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
    let (a, rest) = k.split_at_mut(33);
    let (b, c) = rest.split_at_mut(32);
    a.copy_from_slice(pk);
    b.copy_from_slice(digest);
    c.copy_from_slice(sig);
    k
}

/// Longest key of the payload cache; longer checks bypass it.
pub(crate) const PAYLOAD_KEY_MAX: usize = 256;

/// `pk ‖ sig ‖ len(domain) as u16 LE ‖ domain ‖ payload` written into `buf`, or `None`
/// when it does not fit. The length prefix makes the split of domain and payload
/// unambiguous; the key's own length ends the payload.
pub(crate) fn payload_key<'a>(
    buf: &'a mut [u8; PAYLOAD_KEY_MAX],
    pk: &[u8; 33],
    sig: &[u8; 65],
    domain: &[u8],
    payload: &[u8],
) -> Option<&'a [u8]> {
    let name_len = u16::try_from(domain.len()).ok()?;
    let len = 33usize
        .checked_add(65)?
        .checked_add(2)?
        .checked_add(domain.len())?
        .checked_add(payload.len())?;
    let key = buf.get_mut(..len)?;
    let (a, rest) = key.split_at_mut(33);
    let (b, rest) = rest.split_at_mut(65);
    let (c, rest) = rest.split_at_mut(2);
    let (d, e) = rest.split_at_mut(domain.len());
    a.copy_from_slice(pk);
    b.copy_from_slice(sig);
    c.copy_from_slice(&name_len.to_le_bytes());
    d.copy_from_slice(domain);
    e.copy_from_slice(payload);
    Some(key)
}

/// Whether the payload check is known good (`false` when the cache is off).
pub(crate) fn known_payload(key: &[u8]) -> bool {
    CACHE.with(|c| {
        c.borrow_mut().as_mut().is_some_and(|c| {
            let hit = c.verified_payloads.contains(key);
            if hit {
                c.hits += 1;
            } else {
                c.misses += 1;
            }
            hit
        })
    })
}

pub(crate) fn remember_payload(key: &[u8]) {
    CACHE.with(|c| {
        if let Some(c) = c.borrow_mut().as_mut() {
            if c.verified_payloads.len() >= c.capacity {
                c.verified_payloads.clear();
            }
            c.verified_payloads.insert(key.to_vec());
        }
    });
}

/// The signer recovered before for this key, if any.
pub(crate) fn recovered_signer(key: &[u8]) -> Option<cpchain_core::Address> {
    CACHE.with(|c| {
        c.borrow_mut().as_mut().and_then(|c| {
            let hit = c.signers.get(key).copied();
            if hit.is_some() {
                c.hits += 1;
            } else {
                c.misses += 1;
            }
            hit
        })
    })
}

pub(crate) fn remember_signer(key: &[u8], signer: cpchain_core::Address) {
    CACHE.with(|c| {
        if let Some(c) = c.borrow_mut().as_mut() {
            if c.signers.len() >= c.capacity {
                c.signers.clear();
            }
            c.signers.insert(key.to_vec(), signer);
        }
    });
}

pub(crate) fn recover_key(digest: &[u8; 32], sig: &[u8; 65]) -> [u8; 97] {
    let mut k = [0u8; 97];
    let (a, b) = k.split_at_mut(32);
    a.copy_from_slice(digest);
    b.copy_from_slice(sig);
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
