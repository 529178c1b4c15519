//! The simulation aids: the opt-in verification cache, and (with feature
//! `insecure-test-crypto`) the keyed-hash scheme's sign/verify/recover contract.

use cpchain_crypto::{keccak256, verify_cache, SecretKey};

fn key(b: u8) -> SecretKey {
    SecretKey::from_bytes(&[b; 32]).unwrap()
}

#[test]
fn signatures_verify_and_recover_and_do_not_transfer() {
    let (a, b) = (key(1), key(2));
    let d = keccak256(b"digest");
    let sig = a.sign_prehash(&d);
    assert!(a.public_key().verify(&d, &sig).is_ok());
    assert!(b.public_key().verify(&d, &sig).is_err());
    assert!(a.public_key().verify(&keccak256(b"other"), &sig).is_err());
    assert_eq!(sig.recover(&d).unwrap(), a.public_key());
    // The 65 bytes round-trip through the strict parser.
    let again = cpchain_crypto::Signature::from_bytes(&sig.to_bytes()).unwrap();
    assert_eq!(again, sig);
}

#[test]
fn verification_cache_is_off_by_default_and_never_accepts_a_bad_signature() {
    let a = key(3);
    let d = keccak256(b"cached");
    let sig = a.sign_prehash(&d);
    assert_eq!(verify_cache::stats(), (0, 0));
    verify_cache::enable(4);
    assert!(a.public_key().verify(&d, &sig).is_ok());
    assert!(a.public_key().verify(&d, &sig).is_ok());
    // Both schemes go through the cache.
    assert_eq!(verify_cache::stats(), (1, 1));
    // A miss still runs the real check: a wrong key or digest fails.
    assert!(key(4).public_key().verify(&d, &sig).is_err());
    assert!(a.public_key().verify(&keccak256(b"x"), &sig).is_err());
    assert_eq!(sig.recover(&d).unwrap(), a.public_key());
    assert_eq!(sig.recover(&d).unwrap(), a.public_key());
    // Bounded: filling past capacity empties it and keeps working.
    for i in 0..10u8 {
        let d = keccak256(&[i]);
        assert!(a.public_key().verify(&d, &a.sign_prehash(&d)).is_ok());
    }
    verify_cache::disable();
    assert_eq!(verify_cache::stats(), (0, 0));
}

#[test]
fn payload_and_signer_caches_are_exact() {
    use cpchain_core::encoding::Domain;
    const D1: Domain = Domain::new("cpchain/test/ab");
    const D2: Domain = Domain::new("cpchain/test/a");
    let (a, b) = (key(6), key(7));
    let sig = a.sign(&D1, b"c");
    verify_cache::enable(16);
    for _ in 0..2 {
        assert!(a.public_key().verify_payload(&D1, b"c", &sig).is_ok());
        assert_eq!(
            sig.recover_signer(&D1, b"c").unwrap(),
            a.public_key().address()
        );
    }
    let (hits, _) = verify_cache::stats();
    assert!(hits >= 2, "{hits}");
    // Once cached, every other (key, domain, payload, signature) still gets the real check:
    // another key, another payload, the same bytes split differently between domain and
    // payload, another signature.
    assert!(b.public_key().verify_payload(&D1, b"c", &sig).is_err());
    assert!(a.public_key().verify_payload(&D1, b"d", &sig).is_err());
    assert!(a.public_key().verify_payload(&D2, b"bc", &sig).is_err());
    assert_ne!(
        sig.recover_signer(&D2, b"bc").ok(),
        Some(a.public_key().address())
    );
    let other = b.sign(&D1, b"c");
    assert!(a.public_key().verify_payload(&D1, b"c", &other).is_err());
    assert_eq!(
        other.recover_signer(&D1, b"c").unwrap(),
        b.public_key().address()
    );
    // A payload too long for a cache key bypasses the cache and is still checked.
    let long = [9u8; 300];
    let sig_long = a.sign(&D1, &long);
    assert!(a.public_key().verify_payload(&D1, &long, &sig_long).is_ok());
    assert!(b
        .public_key()
        .verify_payload(&D1, &long, &sig_long)
        .is_err());
    verify_cache::disable();
    // Off again: the same answers without it.
    assert!(a.public_key().verify_payload(&D1, b"c", &sig).is_ok());
    assert!(b.public_key().verify_payload(&D1, b"c", &sig).is_err());
}

#[cfg(feature = "insecure-test-crypto")]
#[test]
fn insecure_scheme_is_a_keyed_hash_not_ecdsa() {
    use k256::ecdsa::signature::hazmat::PrehashVerifier;
    let a = key(5);
    let d = keccak256(b"sim");
    let sig = a.sign_prehash(&d);
    // Not an ECDSA signature: the real verifier refuses it.
    let rs = k256::ecdsa::Signature::from_slice(&sig.to_bytes()[..64]).unwrap();
    assert!(a
        .public_key()
        .as_k256()
        .verify_prehash(d.as_bytes(), &rs)
        .is_err());
    // Deterministic.
    assert_eq!(sig, a.sign_prehash(&d));
    const { assert!(cpchain_crypto::INSECURE_TEST_CRYPTO) };
}
