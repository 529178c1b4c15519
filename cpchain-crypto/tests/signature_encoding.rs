//! Issue 12 item 4 and issue 14: one accepted byte encoding per signature, and recovery with
//! one double-scalar multiplication that agrees with ecdsa 0.16's `recover_from_prehash`
//! (the path it replaces) on go-ethereum's vectors and on random and malformed inputs.
#![cfg(not(feature = "insecure-test-crypto"))] // real ECDSA only: not the simulation scheme

use cpchain_crypto::{keccak256, verify_cache, CryptoError, Domain, Hash, SecretKey, Signature};
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::{RecoveryId, VerifyingKey};
use proptest::prelude::*;

fn h<const N: usize>(s: &str) -> [u8; N] {
    hex::decode(s).unwrap().try_into().unwrap()
}

// go-ethereum crypto/signature_test.go, TestRecoverSanity / TestEcrecover.
const GETH_MSG: &str = "ce0677bb30baa8cf067c88db9811f4333d131bf8bcf12fe7065d211dce971008";
const GETH_SIG: &str = "90f27b8b488db00b00606796d2987f6a5f59ae62ea05effe84fef5b8b0e549984a691139ad57a3f0b906637673aa2f63d1f55cb1a69199d4009eea23ceaddc9301";
const GETH_PUB: &str = "04e32df42865e97135acfb65f3bae71bdc86f4d49150ad6a440b6f15878109880a0a2b2667f7e725ceea70c673093bf67663e0312623c8e091b13cf2c0f11ef652";
// TestRecoverSanity2 (btcd issue 709): must not recover.
const GETH_BAD_MSG: &str = "00c547e4f7b0f325ad1e56f57e26c745b09a3e503d86e00e5255ff7f715d3d1c";
const GETH_BAD_SIG: &str = "00b1693892219d736caba55bdb67216e485557ea6b6af75f37096c9aa6a5a75f00b940b1d03b21e36b0e47e79769f095fe2ab855bd91e3a38756b7d75a9c454901";

const D: Domain = Domain::new("cpchain/test/v-flip");

fn flip_v(sig: &Signature) -> Signature {
    let mut b = sig.to_bytes();
    b[64] ^= 1;
    Signature::from_bytes(&b).unwrap()
}

/// The recovery this crate used before: strict parse, then ecdsa 0.16's
/// `recover_from_prehash` (recover, then verify again).
fn old_recover(digest: &[u8; 32], b: &[u8; 65]) -> Result<[u8; 33], ()> {
    let _ = Signature::from_bytes(b).map_err(|_| ())?;
    let rs = k256::ecdsa::Signature::from_slice(&b[..64]).map_err(|_| ())?;
    let v = RecoveryId::from_byte(b[64]).ok_or(())?;
    let vk = VerifyingKey::recover_from_prehash(digest, &rs, v).map_err(|_| ())?;
    Ok(vk.to_encoded_point(true).as_bytes().try_into().unwrap())
}

fn new_recover(digest: &[u8; 32], b: &[u8; 65]) -> Result<[u8; 33], ()> {
    let sig = Signature::from_bytes(b).map_err(|_| ())?;
    let pk = sig.recover_k256(&Hash(*digest)).map_err(|_| ())?;
    // The dispatching entry point agrees with the named backend.
    assert_eq!(sig.recover(&Hash(*digest)).ok(), Some(pk));
    Ok(pk.to_compressed())
}

#[test]
fn every_verify_entry_point_refuses_a_v_flipped_signature() {
    let sk = SecretKey::from_bytes(&[0x42; 32]).unwrap();
    let pk = sk.public_key();
    let digest = keccak256(b"one encoding");
    let sig = sk.sign_prehash(&digest);
    let flipped = flip_v(&sig);
    // Plain ECDSA (what `verify` was) accepts the flipped form: v is not part of (r, s).
    let rs = k256::ecdsa::Signature::from_slice(&sig.to_bytes()[..64]).unwrap();
    assert!(pk.as_k256().verify_prehash(digest.as_bytes(), &rs).is_ok());
    for cache in [false, true] {
        if cache {
            verify_cache::enable(64);
        }
        assert_eq!(pk.verify(&digest, &sig), Ok(()));
        assert_eq!(pk.verify(&digest, &flipped), Err(CryptoError::BadSignature));
        assert_eq!(pk.verify_k256(&digest, &sig), Ok(()));
        assert_eq!(
            pk.verify_k256(&digest, &flipped),
            Err(CryptoError::BadSignature)
        );
        #[cfg(feature = "libsecp256k1")]
        {
            assert_eq!(pk.verify_libsecp256k1(&digest, &sig), Ok(()));
            assert!(pk.verify_libsecp256k1(&digest, &flipped).is_err());
        }
        let psig = sk.sign(&D, b"payload");
        assert_eq!(pk.verify_payload(&D, b"payload", &psig), Ok(()));
        assert_eq!(
            pk.verify_payload(&D, b"payload", &flip_v(&psig)),
            Err(CryptoError::BadSignature)
        );
        // Recovery gives another key, so signer checks refuse it too.
        assert_ne!(flipped.recover(&digest).ok(), Some(pk));
        assert_ne!(
            flip_v(&psig).recover_signer(&D, b"payload").ok(),
            Some(pk.address())
        );
        verify_cache::disable();
    }
}

#[test]
fn go_ethereum_recovery_vectors_on_the_one_multiplication_path() {
    let sig = Signature::from_bytes(&h(GETH_SIG)).unwrap();
    let pk = sig.recover_k256(&Hash(h(GETH_MSG))).unwrap();
    assert_eq!(
        pk.to_uncompressed().to_vec(),
        hex::decode(GETH_PUB).unwrap()
    );
    assert_eq!(pk.verify_k256(&Hash(h(GETH_MSG)), &sig), Ok(()));
    // Its v-flipped twin parses but is not this key's signature.
    assert_eq!(
        pk.verify(&Hash(h(GETH_MSG)), &flip_v(&sig)),
        Err(CryptoError::BadSignature)
    );
    // TestRecoverSanity2: refused, by either path.
    let bad: [u8; 65] = h(GETH_BAD_SIG);
    let msg: [u8; 32] = h(GETH_BAD_MSG);
    assert!(new_recover(&msg, &bad).is_err());
    assert!(old_recover(&msg, &bad).is_err());
}

#[test]
fn edge_scalars_agree_with_recover_from_prehash() {
    // n − 1, n, 2^256 − 1, 1, half order, and an r that is no x coordinate (x = 5: 5³ + 7 =
    // 132 is a non-residue mod p), each as r and as s, with digests 0, n and 2^256 − 1 (the
    // latter two reduce mod n).
    let n = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
    let scalars = [
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140",
        n,
        "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "0000000000000000000000000000000000000000000000000000000000000001",
        "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0",
        "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a1",
        "0000000000000000000000000000000000000000000000000000000000000005",
        "0000000000000000000000000000000000000000000000000000000000000000",
    ];
    let digests = [[0u8; 32], h(n), [0xff; 32], h(GETH_MSG)];
    let mut agreed_ok = 0;
    for r in scalars {
        for s in scalars {
            for v in 0u8..=3 {
                for d in &digests {
                    let mut b = [0u8; 65];
                    b[..32].copy_from_slice(&h::<32>(r));
                    b[32..64].copy_from_slice(&h::<32>(s));
                    b[64] = v;
                    let (old, new) = (old_recover(d, &b), new_recover(d, &b));
                    assert_eq!(old, new, "r={r} s={s} v={v} d={}", hex::encode(d));
                    agreed_ok += usize::from(new.is_ok());
                }
            }
        }
    }
    // Not a vacuous agreement on refusals alone.
    assert!(agreed_ok > 20, "{agreed_ok}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Random 65 bytes (about half with a valid r, half with low s) and random digests.
    #[test]
    fn one_multiplication_recovery_agrees_with_recover_from_prehash_on_random_bytes(
        sig in proptest::collection::vec(any::<u8>(), 65),
        digest in any::<[u8; 32]>(),
    ) {
        let mut b: [u8; 65] = sig.try_into().unwrap();
        b[64] &= 1;
        prop_assert_eq!(old_recover(&digest, &b), new_recover(&digest, &b));
    }

    /// Real signatures, then one bit of the signature or the digest flipped.
    #[test]
    fn one_multiplication_recovery_agrees_on_real_and_corrupted_signatures(
        key in any::<[u8; 32]>(),
        digest in any::<[u8; 32]>(),
        bit in 0usize..(65 * 8 + 32 * 8 + 1),
    ) {
        let Ok(sk) = SecretKey::from_bytes(&key) else { return Ok(()) };
        let sig = sk.sign_prehash(&Hash(digest));
        let (mut b, mut d) = (sig.to_bytes(), digest);
        if bit < 65 * 8 {
            b[bit / 8] ^= 1 << (bit % 8);
        } else if bit < 65 * 8 + 32 * 8 {
            let i = bit - 65 * 8;
            d[i / 8] ^= 1 << (i % 8);
        }
        let new = new_recover(&d, &b);
        prop_assert_eq!(old_recover(&d, &b), new);
        if bit == 65 * 8 + 32 * 8 {
            prop_assert_eq!(new, Ok(sk.public_key().to_compressed()));
        }
        // Verification accepts exactly when recovery gives the key.
        if let Ok(parsed) = Signature::from_bytes(&b) {
            let verified = sk.public_key().verify(&Hash(d), &parsed).is_ok();
            prop_assert_eq!(verified, new == Ok(sk.public_key().to_compressed()));
        }
    }
}
