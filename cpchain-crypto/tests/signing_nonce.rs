//! Signing derives its RFC 6979 nonce in a frame of its own (so that the HMAC-DRBG state is
//! off a firmware stack during the scalar multiplication): the signatures must stay exactly
//! k256's `sign_prehash_recoverable`, byte for byte, recovery id included.
#![cfg(not(feature = "insecure-test-crypto"))] // real ECDSA only: not the simulation scheme

use cpchain_crypto::{Hash, SecretKey};
use k256::ecdsa::SigningKey;
use proptest::prelude::*;

fn k256_signature(key: &[u8; 32], digest: &[u8; 32]) -> [u8; 65] {
    let sk = SigningKey::from_bytes(key.into()).unwrap();
    let (sig, v) = sk.sign_prehash_recoverable(digest).unwrap();
    let mut out = [0u8; 65];
    out[..64].copy_from_slice(&sig.to_bytes());
    out[64] = v.to_byte();
    out
}

#[test]
fn sign_prehash_matches_k256_on_go_ethereum_key() {
    let key: [u8; 32] =
        hex::decode("289c2857d4598e37fb9647507e47a309d6133539bf21a8b9cb6df88fd5232032")
            .unwrap()
            .try_into()
            .unwrap();
    let digest: [u8; 32] =
        hex::decode("ce0677bb30baa8cf067c88db9811f4333d131bf8bcf12fe7065d211dce971008")
            .unwrap()
            .try_into()
            .unwrap();
    let ours = SecretKey::from_bytes(&key)
        .unwrap()
        .sign_prehash(&Hash(digest))
        .to_bytes();
    assert_eq!(ours, k256_signature(&key, &digest));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn sign_prehash_matches_k256_sign_prehash_recoverable(
        key in any::<[u8; 32]>(),
        digest in any::<[u8; 32]>(),
    ) {
        let Ok(sk) = SecretKey::from_bytes(&key) else {
            return Ok(()); // zero or >= n: not a key (probability ~2^-128)
        };
        let ours = sk.sign_prehash(&Hash(digest)).to_bytes();
        prop_assert_eq!(ours, k256_signature(&key, &digest));
        prop_assert!(ours[64] <= 1);
    }
}
