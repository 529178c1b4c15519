//! Feature `libsecp256k1`: the libsecp256k1 backend and the k256 one-multiplication backend
//! accept and refuse the same 65-byte signatures and recover the same keys: on go-ethereum's
//! vectors, high-s twins, bad recovery ids, and fuzzed bytes. The oracle is the `secp256k1`
//! crate called directly on the raw bytes with mainnet's rules (v ∈ {0, 1}, low s).
#![cfg(all(feature = "libsecp256k1", not(feature = "insecure-test-crypto")))]

use cpchain_crypto::{keccak256, Hash, SecretKey, Signature};
use proptest::prelude::*;
use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::{Message, SECP256K1};

const GETH_MSG: &str = "ce0677bb30baa8cf067c88db9811f4333d131bf8bcf12fe7065d211dce971008";
const GETH_SIG: &str = "90f27b8b488db00b00606796d2987f6a5f59ae62ea05effe84fef5b8b0e549984a691139ad57a3f0b906637673aa2f63d1f55cb1a69199d4009eea23ceaddc9301";
const GETH_BAD_MSG: &str = "00c547e4f7b0f325ad1e56f57e26c745b09a3e503d86e00e5255ff7f715d3d1c";
const GETH_BAD_SIG: &str = "00b1693892219d736caba55bdb67216e485557ea6b6af75f37096c9aa6a5a75f00b940b1d03b21e36b0e47e79769f095fe2ab855bd91e3a38756b7d75a9c454901";
/// The group order n.
const N: &str = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";

fn h<const L: usize>(s: &str) -> [u8; L] {
    hex::decode(s).unwrap().try_into().unwrap()
}

/// libsecp256k1 on the raw bytes, with mainnet's rules: v ∈ {0, 1} and low s.
fn oracle(digest: &[u8; 32], b: &[u8; 65]) -> Option<[u8; 33]> {
    if b[64] > 1 {
        return None;
    }
    let recid = RecoveryId::try_from(i32::from(b[64])).ok()?;
    let sig = RecoverableSignature::from_compact(&b[..64], recid).ok()?;
    let standard = sig.to_standard();
    let mut low = standard;
    low.normalize_s();
    if low != standard {
        return None;
    }
    let pk = SECP256K1
        .recover_ecdsa(&Message::from_digest(*digest), &sig)
        .ok()?;
    Some(pk.serialize())
}

/// Both SDK backends; asserts they agree with each other and with the oracle, and that
/// each verifies exactly the key it recovers.
fn check(digest: &[u8; 32], b: &[u8; 65]) -> Option<[u8; 33]> {
    let d = Hash(*digest);
    let parsed = Signature::from_bytes(b).ok();
    let k = parsed.and_then(|s| s.recover_k256(&d).ok());
    let l = parsed.and_then(|s| s.recover_libsecp256k1(&d).ok());
    assert_eq!(k, l, "backends disagree on {}", hex::encode(b));
    let k = k.map(|pk| pk.to_compressed());
    assert_eq!(
        k,
        oracle(digest, b),
        "SDK and libsecp256k1 disagree on {}",
        hex::encode(b)
    );
    if let (Some(sig), Some(pk)) = (parsed, l) {
        assert!(pk.verify_k256(&d, &sig).is_ok());
        assert!(pk.verify_libsecp256k1(&d, &sig).is_ok());
        // The default entry points (libsecp256k1 in this build) agree too.
        assert!(pk.verify(&d, &sig).is_ok());
        assert_eq!(sig.recover(&d).ok(), Some(pk));
    }
    k
}

#[test]
fn backends_agree_on_go_ethereum_vectors() {
    assert!(check(&h(GETH_MSG), &h(GETH_SIG)).is_some());
    assert!(check(&h(GETH_BAD_MSG), &h(GETH_BAD_SIG)).is_none());
}

#[test]
fn backends_refuse_high_s_twins_and_bad_recovery_ids_alike() {
    let n = primitive_n();
    for i in 1u8..=12 {
        let sk = SecretKey::from_bytes(&[i; 32]).unwrap();
        let d = keccak256(&[i]);
        let good = sk.sign_prehash(&d).to_bytes();
        assert_eq!(check(&d.0, &good), Some(sk.public_key().to_compressed()));
        // The high-s twin (n − s, v flipped) is a valid ECDSA signature of the same key,
        // which raw libsecp256k1 recovery accepts: mainnet rules refuse it on both paths.
        let mut twin = good;
        twin[32..64].copy_from_slice(&sub_mod_n(&n, &good[32..64]));
        twin[64] ^= 1;
        let raw = RecoverableSignature::from_compact(
            &twin[..64],
            RecoveryId::try_from(i32::from(twin[64])).unwrap(),
        )
        .unwrap();
        assert!(SECP256K1
            .recover_ecdsa(&Message::from_digest(d.0), &raw)
            .is_ok());
        assert_eq!(check(&d.0, &twin), None);
        // v flipped: both recover the same other key; v outside {0, 1}: both refuse.
        let mut flipped = good;
        flipped[64] ^= 1;
        assert_ne!(check(&d.0, &flipped), Some(sk.public_key().to_compressed()));
        for v in [2u8, 3, 27, 28, 255] {
            let mut b = good;
            b[64] = v;
            assert_eq!(check(&d.0, &b), None);
        }
    }
}

fn primitive_n() -> [u8; 32] {
    h(N)
}

/// n − x for a 32-byte big-endian x < n.
fn sub_mod_n(n: &[u8; 32], x: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(n[i]) - i16::from(x[i]) - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        out[i] = d as u8;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn backends_agree_on_fuzzed_bytes(
        sig in proptest::collection::vec(any::<u8>(), 65),
        digest in any::<[u8; 32]>(),
        small_v in any::<bool>(),
    ) {
        let mut b: [u8; 65] = sig.try_into().unwrap();
        if small_v {
            b[64] &= 1;
        }
        check(&digest, &b);
    }

    #[test]
    fn backends_agree_on_corrupted_real_signatures(
        key in any::<[u8; 32]>(),
        digest in any::<[u8; 32]>(),
        bit in 0usize..(65 * 8 + 1),
    ) {
        let Ok(sk) = SecretKey::from_bytes(&key) else { return Ok(()) };
        let mut b = sk.sign_prehash(&Hash(digest)).to_bytes();
        if bit < 65 * 8 {
            b[bit / 8] ^= 1 << (bit % 8);
        } else {
            prop_assert_eq!(check(&digest, &b), Some(sk.public_key().to_compressed()));
        }
        check(&digest, &b);
    }
}
