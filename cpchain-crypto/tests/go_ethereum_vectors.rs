#![cfg_attr(feature = "insecure-test-crypto", allow(dead_code))]
//! go-ethereum's published crypto test vectors (crypto/crypto_test.go and
//! crypto/signature_test.go): our identities must match mainnet byte for byte.

use cpchain_crypto::{
    keccak256, Address, CryptoError, Domain, Hash, PublicKey, SecretKey, Signature,
};

fn h32(s: &str) -> [u8; 32] {
    hex::decode(s).unwrap().try_into().unwrap()
}

const TEST_PRIV: &str = "289c2857d4598e37fb9647507e47a309d6133539bf21a8b9cb6df88fd5232032";
const TEST_ADDR: &str = "0x970E8128AB834E8EAC17Ab8E3812F010678CF791";
const TEST_MSG: &str = "ce0677bb30baa8cf067c88db9811f4333d131bf8bcf12fe7065d211dce971008";
const TEST_SIG: &str = "90f27b8b488db00b00606796d2987f6a5f59ae62ea05effe84fef5b8b0e549984a691139ad57a3f0b906637673aa2f63d1f55cb1a69199d4009eea23ceaddc9301";
const TEST_PUB: &str = "04e32df42865e97135acfb65f3bae71bdc86f4d49150ad6a440b6f15878109880a0a2b2667f7e725ceea70c673093bf67663e0312623c8e091b13cf2c0f11ef652";
const TEST_PUB_C: &str = "02e32df42865e97135acfb65f3bae71bdc86f4d49150ad6a440b6f15878109880a";

#[test]
fn keccak256_known_answers() {
    // TestKeccak256Hash: keccak256("abc").
    assert_eq!(
        keccak256(b"abc").to_string(),
        "0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
    );
    assert_eq!(
        keccak256(b"").to_string(),
        "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    );
}

#[test]
fn address_of_test_key() {
    // TestSign / TestNewContractAddress: key 289c…2032 has address 0x970e…f791.
    let sk = SecretKey::from_bytes(&h32(TEST_PRIV)).unwrap();
    let want: Address = TEST_ADDR.to_lowercase().parse().unwrap();
    assert_eq!(sk.public_key().address(), want);
}

#[test]
fn sign_recover_round_trip_like_geth_test_sign() {
    // TestSign: sign keccak256("foo"), recover the public key and the address.
    let sk = SecretKey::from_bytes(&h32(TEST_PRIV)).unwrap();
    let msg = keccak256(b"foo");
    let sig = sk.sign_prehash(&msg);
    let bytes = sig.to_bytes();
    assert!(bytes[64] <= 1);
    let pk = Signature::from_bytes(&bytes)
        .unwrap()
        .recover(&msg)
        .unwrap();
    assert_eq!(pk, sk.public_key());
    assert_eq!(pk.address(), sk.public_key().address());
    pk.verify(&msg, &sig).unwrap();
    // RFC 6979: deterministic.
    assert_eq!(sk.sign_prehash(&msg), sig);
}

#[test]
#[cfg(not(feature = "insecure-test-crypto"))] // a real ECDSA vector: not the simulation scheme
fn ecrecover_vector() {
    // TestEcrecover.
    let sig = Signature::from_bytes(&hex::decode(TEST_SIG).unwrap().try_into().unwrap()).unwrap();
    let pk = sig.recover(&Hash(h32(TEST_MSG))).unwrap();
    assert_eq!(
        pk.to_uncompressed().to_vec(),
        hex::decode(TEST_PUB).unwrap()
    );
    assert_eq!(
        pk.to_compressed().to_vec(),
        hex::decode(TEST_PUB_C).unwrap()
    );
    // TestVerifySignature: verifies with the key, not with a wrong message.
    pk.verify(&Hash(h32(TEST_MSG)), &sig).unwrap();
    let mut other = h32(TEST_MSG);
    other[0] ^= 1;
    assert_eq!(
        pk.verify(&Hash(other), &sig),
        Err(CryptoError::BadSignature)
    );
    // Only the 02/03 and 04 SEC1 forms are accepted: one key, one encoding per length.
    let mut compact = hex::decode(TEST_PUB_C).unwrap();
    compact[0] = 0x05;
    assert_eq!(
        PublicKey::from_sec1_bytes(&compact),
        Err(CryptoError::InvalidPublicKey)
    );
    let mut hybrid = hex::decode(TEST_PUB).unwrap();
    hybrid[0] = 0x06;
    assert_eq!(
        PublicKey::from_sec1_bytes(&hybrid),
        Err(CryptoError::InvalidPublicKey)
    );
    assert_eq!(
        PublicKey::from_sec1_bytes(&[]),
        Err(CryptoError::InvalidPublicKey)
    );
    // Decompression agrees.
    assert_eq!(
        PublicKey::from_sec1_bytes(&hex::decode(TEST_PUB_C).unwrap()).unwrap(),
        pk
    );
}

#[test]
fn malleable_high_s_is_refused() {
    // TestVerifySignatureMalleable: this (r, s) has s in the upper half.
    let rs = hex::decode("638a54215d80a6713c8d523a6adc4e6e73652d859103a36b700851cb0e61b66b8ebfc1a610c57d732ec6e0a8f06a9a7a28df5051ece514702ff9cdff0b11f454").unwrap();
    let mut b = [0u8; 65];
    b[..64].copy_from_slice(&rs);
    assert_eq!(Signature::from_bytes(&b), Err(CryptoError::HighS));
    b[64] = 1;
    assert_eq!(Signature::from_bytes(&b), Err(CryptoError::HighS));
}

#[test]
fn bad_recovery_ids_and_scalars_are_refused() {
    let mut b: [u8; 65] = hex::decode(TEST_SIG).unwrap().try_into().unwrap();
    for v in [2u8, 3, 27, 28, 255] {
        b[64] = v;
        assert_eq!(
            Signature::from_bytes(&b),
            Err(CryptoError::InvalidRecoveryId(v))
        );
    }
    assert_eq!(
        Signature::from_bytes(&[0u8; 65]),
        Err(CryptoError::MalformedSignature)
    );
    assert_eq!(
        SecretKey::from_bytes(&[0u8; 32]),
        Err(CryptoError::InvalidSecretKey)
    );
    assert_eq!(
        SecretKey::from_bytes(&[0xff; 32]),
        Err(CryptoError::InvalidSecretKey)
    );
}

#[test]
fn flipped_v_recovers_a_different_key() {
    let sk = SecretKey::from_bytes(&h32(TEST_PRIV)).unwrap();
    let msg = keccak256(b"bar");
    let mut b = sk.sign_prehash(&msg).to_bytes();
    b[64] ^= 1;
    let other = Signature::from_bytes(&b).unwrap().recover(&msg);
    assert_ne!(other.ok(), Some(sk.public_key()));
}

#[test]
fn domain_separation() {
    let sk = SecretKey::from_bytes(&h32(TEST_PRIV)).unwrap();
    let prepare = Domain::new("cpchain/test/prepare/v1");
    let commit = Domain::new("cpchain/test/commit/v1");
    let sig = sk.sign(&prepare, b"block");
    assert_eq!(
        sig.recover_signer(&prepare, b"block").unwrap(),
        sk.public_key().address()
    );
    assert_ne!(
        sig.recover_signer(&commit, b"block").ok(),
        Some(sk.public_key().address())
    );
    sk.public_key()
        .verify_payload(&prepare, b"block", &sig)
        .unwrap();
    assert!(sk
        .public_key()
        .verify_payload(&commit, b"block", &sig)
        .is_err());
}

#[test]
fn secret_debug_is_redacted() {
    let sk = SecretKey::from_bytes(&h32(TEST_PRIV)).unwrap();
    let s = format!("{sk:?}");
    assert!(!s.to_lowercase().contains(TEST_PRIV));
    assert!(!s.contains("289c"));
    assert!(s.contains("redacted"));
}

#[test]
fn wire_forms_round_trip_through_serde() {
    let sk = SecretKey::from_bytes(&h32(TEST_PRIV)).unwrap();
    let sig = sk.sign_prehash(&keccak256(b"x"));
    let bytes = postcard::to_allocvec(&(sig, sk.public_key())).unwrap();
    assert_eq!(bytes.len(), 65 + 33);
    let (s2, p2): (Signature, PublicKey) = postcard::from_bytes(&bytes).unwrap();
    assert_eq!((s2, p2), (sig, sk.public_key()));
    // A high-s signature in the wire form is refused by the decoder.
    let mut bad = bytes.clone();
    bad[32..64].copy_from_slice(&[0xff; 32]);
    assert!(postcard::from_bytes::<(Signature, PublicKey)>(&bad).is_err());
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn sign_is_low_s_and_recovers(seed in any::<[u8; 32]>(), msg in any::<[u8; 32]>()) {
            if let Ok(sk) = SecretKey::from_bytes(&seed) {
                let sig = sk.sign_prehash(&Hash(msg));
                let b = sig.to_bytes();
                // from_bytes refuses high s, so accepting it proves low s.
                prop_assert_eq!(Signature::from_bytes(&b).unwrap(), sig);
                prop_assert_eq!(sig.recover(&Hash(msg)).unwrap(), sk.public_key());
            }
        }

        #[test]
        fn signature_decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 65)) {
            let arr: [u8; 65] = bytes.try_into().unwrap();
            let _ = Signature::from_bytes(&arr).map(|s| s.recover(&Hash([1; 32])));
        }
    }
}
