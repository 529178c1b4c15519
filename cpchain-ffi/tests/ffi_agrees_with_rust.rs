//! The C API computes exactly what the Rust SDK computes: every FFI function is called here
//! through its C signature and its output compared with the Rust API's, on fixed and on
//! random inputs (including garbage, which must come back as the matching error code).
//!
//! SAFETY (for every `unsafe` call below, hence the lint allowance): each pointer passed
//! points to a live local array, slice or variable of exactly the length passed with it, and
//! each handle is live until the one `_free` call on it.
#![allow(clippy::undocumented_unsafe_blocks)]

use cpchain_core::encoding::{self, signing_digest};
use cpchain_core::{keccak256, Address, ChainSpec, Domain, Hash};
use cpchain_crypto::aead::{seal_in_place, AeadKey, Nonce};
use cpchain_crypto::{SecretKey, Signature};
use cpchain_ffi::*;
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::ptr;

const DOMAIN: &str = "cpchain/ffi-test/rust/v1";

/// A key handle and the same key in Rust, from one seed.
fn key_pair(seed: [u8; 32]) -> (*mut cpchain_secret_key, SecretKey) {
    let mut handle = ptr::null_mut();
    // SAFETY: seed is 32 readable bytes, handle a writable pointer.
    let r = unsafe { cpchain_secret_key_from_seed(seed.as_ptr(), seed.len(), &mut handle) };
    assert_eq!(r, cpchain_result::Ok);
    let rust = SecretKey::random(&mut ChaCha20Rng::from_seed(seed));
    (handle, rust)
}

#[test]
fn keccak_and_signing_digest_match_core() {
    let data = b"gateway reading 42";
    let mut out = [0u8; CPCHAIN_HASH_LEN];
    let r = unsafe { cpchain_keccak256(data.as_ptr(), data.len(), out.as_mut_ptr(), out.len()) };
    assert_eq!(r, cpchain_result::Ok);
    assert_eq!(Hash(out), keccak256(data));

    let r = unsafe {
        cpchain_signing_digest(
            DOMAIN.as_ptr().cast(),
            DOMAIN.len(),
            data.as_ptr(),
            data.len(),
            out.as_mut_ptr(),
            out.len(),
        )
    };
    assert_eq!(r, cpchain_result::Ok);
    assert_eq!(Hash(out), signing_digest(&Domain::new(DOMAIN), data));
}

#[test]
fn signatures_match_rust_both_ways() {
    let (handle, rust) = key_pair([9; 32]);
    let payload = b"anchor 7";

    // Signed through C, identical bytes to Rust's domain-separated signature.
    let mut sig = [0u8; CPCHAIN_SIGNATURE_LEN];
    let r = unsafe {
        cpchain_secret_key_sign(
            handle,
            DOMAIN.as_ptr().cast(),
            DOMAIN.len(),
            payload.as_ptr(),
            payload.len(),
            sig.as_mut_ptr(),
            sig.len(),
        )
    };
    assert_eq!(r, cpchain_result::Ok);
    let rust_sig = rust.sign(&Domain::new(DOMAIN), payload);
    assert_eq!(sig, rust_sig.to_bytes());

    // A Rust signature verifies through C under the Rust public key.
    let pk = rust.public_key().to_compressed();
    let r = unsafe {
        cpchain_public_key_verify_payload(
            pk.as_ptr(),
            pk.len(),
            DOMAIN.as_ptr().cast(),
            DOMAIN.len(),
            payload.as_ptr(),
            payload.len(),
            sig.as_ptr(),
            sig.len(),
        )
    };
    assert_eq!(r, cpchain_result::Ok);

    // Prehash signing and address recovery agree with Rust.
    let digest = keccak256(b"header");
    let r = unsafe {
        cpchain_secret_key_sign_prehash(handle, digest.0.as_ptr(), 32, sig.as_mut_ptr(), sig.len())
    };
    assert_eq!(r, cpchain_result::Ok);
    assert_eq!(sig, rust.sign_prehash(&digest).to_bytes());
    let mut addr = [0u8; CPCHAIN_ADDRESS_LEN];
    let r = unsafe {
        cpchain_signature_recover_address(
            sig.as_ptr(),
            sig.len(),
            digest.0.as_ptr(),
            32,
            addr.as_mut_ptr(),
            addr.len(),
        )
    };
    assert_eq!(r, cpchain_result::Ok);
    assert_eq!(Address(addr), rust.public_key().address());

    unsafe { cpchain_secret_key_free(handle) };
}

#[test]
fn aead_in_place_matches_rust_vec_sealing() {
    let key = [3u8; 32];
    let nonce = [5u8; 12];
    let aad = b"stream 1";
    let msg = b"temperature=21.5";
    let mut rust_buf = msg.to_vec();
    seal_in_place(&AeadKey::from_bytes(key), &Nonce(nonce), aad, &mut rust_buf).unwrap();

    let mut buf = [0u8; 64];
    buf[..msg.len()].copy_from_slice(msg);
    let mut out_len = 0usize;
    let r = unsafe {
        cpchain_aead_seal_in_place(
            key.as_ptr(),
            32,
            nonce.as_ptr(),
            12,
            aad.as_ptr(),
            aad.len(),
            buf.as_mut_ptr(),
            msg.len(),
            buf.len(),
            &mut out_len,
        )
    };
    assert_eq!(r, cpchain_result::Ok);
    assert_eq!(&buf[..out_len], &rust_buf[..]);
}

#[test]
fn chain_spec_wire_bytes_match_rust() {
    let mut handle = ptr::null_mut();
    assert_eq!(
        unsafe { cpchain_chain_spec_mainnet(&mut handle) },
        cpchain_result::Ok
    );
    let mut buf = [0u8; CPCHAIN_CHAIN_SPEC_MAX_ENCODED_LEN];
    let mut len = 0usize;
    let r = unsafe { cpchain_chain_spec_encode(handle, buf.as_mut_ptr(), buf.len(), &mut len) };
    assert_eq!(r, cpchain_result::Ok);
    let rust = encoding::encode_to_vec(&ChainSpec::mainnet()).unwrap();
    assert_eq!(&buf[..len], &rust[..]);
    unsafe { cpchain_chain_spec_free(handle) };

    // Rust-encoded devnet bytes decode through C.
    let dev = encoding::encode_to_vec(&ChainSpec::devnet()).unwrap();
    let mut decoded = ptr::null_mut();
    let r = unsafe { cpchain_chain_spec_decode(dev.as_ptr(), dev.len(), &mut decoded) };
    assert_eq!(r, cpchain_result::Ok);
    let mut quorum = 0u32;
    let r = unsafe { cpchain_chain_spec_quorum(decoded, &mut quorum) };
    assert_eq!(r, cpchain_result::Ok);
    assert_eq!(quorum, ChainSpec::devnet().quorum());
    unsafe { cpchain_chain_spec_free(decoded) };
}

#[test]
fn result_message_matches_the_enum() {
    for code in cpchain_result::ALL {
        let mut buf = [0u8; CPCHAIN_RESULT_MESSAGE_MAX];
        let mut n = 0usize;
        let r = unsafe {
            cpchain_result_message(*code as u32, buf.as_mut_ptr().cast(), buf.len(), &mut n)
        };
        assert_eq!(r, cpchain_result::Ok);
        assert_eq!(&buf[..n], code.message().as_bytes());
        assert_eq!(buf[n], 0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn address_text_agrees_with_rust(text in "(0x)?[0-9a-fA-Fg-z]{0,44}") {
        let mut out = [0u8; CPCHAIN_ADDRESS_LEN];
        let r = unsafe {
            cpchain_address_parse(text.as_ptr().cast(), text.len(), out.as_mut_ptr(), out.len())
        };
        match text.parse::<Address>() {
            Ok(a) => {
                prop_assert_eq!(r, cpchain_result::Ok);
                prop_assert_eq!(Address(out), a);
            }
            Err(e) => prop_assert_eq!(r, cpchain_result::from(e)),
        }
    }

    #[test]
    fn address_checksum_agrees_with_display(bytes in any::<[u8; 20]>()) {
        let mut buf = [0u8; CPCHAIN_ADDRESS_TEXT_LEN + 1];
        let mut n = 0usize;
        let r = unsafe {
            cpchain_address_to_checksum(bytes.as_ptr(), 20, buf.as_mut_ptr().cast(), buf.len(), &mut n)
        };
        prop_assert_eq!(r, cpchain_result::Ok);
        prop_assert_eq!(std::str::from_utf8(&buf[..n]).unwrap(), Address(bytes).to_string());
    }

    #[test]
    fn signature_validation_agrees_with_rust(bytes in prop::collection::vec(any::<u8>(), 65)) {
        let arr: [u8; 65] = bytes.clone().try_into().unwrap();
        let r = unsafe { cpchain_signature_validate(bytes.as_ptr(), bytes.len()) };
        match Signature::from_bytes(&arr) {
            Ok(_) => prop_assert_eq!(r, cpchain_result::Ok),
            Err(e) => prop_assert_eq!(r, cpchain_result::from(e)),
        }
    }

    #[test]
    fn spec_decoding_agrees_with_rust(
        envelope in any::<bool>(),
        body in prop::collection::vec(any::<u8>(), 0..80),
    ) {
        // Half the inputs carry a valid envelope, so the body parser is reached.
        let mut bytes = if envelope { vec![1, 0, 1] } else { Vec::new() };
        bytes.extend_from_slice(&body);
        let mut out = ptr::null_mut();
        let r = unsafe { cpchain_chain_spec_decode(bytes.as_ptr(), bytes.len(), &mut out) };
        let rust = encoding::decode::<ChainSpec>(&bytes)
            .map_err(cpchain_result::from)
            .and_then(|s| s.validate().map_err(cpchain_result::from));
        match rust {
            Ok(()) => prop_assert_eq!(r, cpchain_result::Ok),
            Err(e) => {
                prop_assert_eq!(r, e);
                prop_assert!(out.is_null());
            }
        }
        unsafe { cpchain_chain_spec_free(out) };
    }
}
