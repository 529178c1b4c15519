//! Drive every C API entry point that takes untrusted bytes through its C signature: no
//! input may panic (CPCHAIN_RESULT_PANIC), a decoder returns a handle exactly when it
//! succeeds, a decoded spec re-encodes to the input, a failed AEAD open leaves the
//! ciphertext in place, and fault evidence that is refused names no offender.
#![no_main]

use cpchain_ffi::*;
use libfuzzer_sys::fuzz_target;
use std::ptr;
use std::sync::OnceLock;

/// A devnet committee of four keys (33-byte compressed, back to back), made once.
fn committee() -> &'static [u8; 4 * 33] {
    static KEYS: OnceLock<[u8; 4 * 33]> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut keys = [0u8; 4 * 33];
        for (i, pk) in keys.chunks_exact_mut(33).enumerate() {
            let mut sk = ptr::null_mut();
            let seed = [u8::try_from(i).unwrap_or(0) + 1; 32];
            // SAFETY: pointers to locals of the lengths passed.
            unsafe {
                assert_eq!(
                    cpchain_secret_key_from_bytes(seed.as_ptr(), 32, &mut sk),
                    cpchain_result::Ok
                );
                assert_eq!(
                    cpchain_secret_key_public_key(sk, pk.as_mut_ptr(), 33),
                    cpchain_result::Ok
                );
                cpchain_secret_key_free(sk);
            }
        }
        keys
    })
}

fn no_panic(r: cpchain_result) -> cpchain_result {
    assert_ne!(r, cpchain_result::Panic, "the C API panicked");
    r
}

fuzz_target!(|data: &[u8]| {
    // SAFETY (all calls): every pointer is to `data` or to a local of the length passed.
    unsafe {
        // Chain spec from the wire.
        let mut spec = ptr::null_mut();
        let r = no_panic(cpchain_chain_spec_decode(
            data.as_ptr(),
            data.len(),
            &mut spec,
        ));
        assert_eq!(r == cpchain_result::Ok, !spec.is_null());
        if !spec.is_null() {
            let mut buf = [0u8; CPCHAIN_CHAIN_SPEC_MAX_ENCODED_LEN];
            let mut len = 0usize;
            let r = cpchain_chain_spec_encode(spec, buf.as_mut_ptr(), buf.len(), &mut len);
            assert_eq!(r, cpchain_result::Ok);
            assert_eq!(&buf[..len], data, "decode -> encode is not the identity");
            cpchain_chain_spec_free(spec);
        }

        // Address text.
        let mut addr = [0u8; CPCHAIN_ADDRESS_LEN];
        no_panic(cpchain_address_parse(
            data.as_ptr().cast(),
            data.len(),
            addr.as_mut_ptr(),
            20,
        ));

        // Keys and signatures, at their own lengths and at the input's.
        let mut out = [0u8; 65];
        no_panic(cpchain_public_key_compress(
            data.as_ptr(),
            data.len(),
            out.as_mut_ptr(),
            33,
        ));
        no_panic(cpchain_signature_validate(data.as_ptr(), data.len()));
        let mut sk = ptr::null_mut();
        let r = no_panic(cpchain_secret_key_from_bytes(
            data.as_ptr(),
            data.len(),
            &mut sk,
        ));
        assert_eq!(r == cpchain_result::Ok, !sk.is_null());
        cpchain_secret_key_free(sk);
        if data.len() >= 65 + 32 {
            let (sig, digest) = data.split_at(65);
            no_panic(cpchain_signature_recover_address(
                sig.as_ptr(),
                65,
                digest.as_ptr(),
                32,
                addr.as_mut_ptr(),
                20,
            ));
        }

        // Domain names and payloads: arbitrary split of the input.
        if let Some((&n, rest)) = data.split_first() {
            let (domain, payload) = rest.split_at(usize::from(n).min(rest.len()));
            let mut digest = [0u8; 32];
            no_panic(cpchain_signing_digest(
                domain.as_ptr().cast(),
                domain.len(),
                payload.as_ptr(),
                payload.len(),
                digest.as_mut_ptr(),
                32,
            ));
        }

        // LBFT fault evidence from a stranger: refused evidence names no offender.
        let mut devnet = ptr::null_mut();
        assert_eq!(cpchain_chain_spec_devnet(&mut devnet), cpchain_result::Ok);
        let keys = committee();
        let mut offence = std::mem::zeroed::<cpchain_lbft_offence>();
        let r = no_panic(cpchain_lbft_verify_evidence(
            devnet,
            keys.as_ptr(),
            4,
            data.as_ptr(),
            data.len(),
            &mut offence,
        ));
        if r != cpchain_result::Ok {
            assert_eq!(
                offence.fault,
                cpchain_lbft_fault::None,
                "refused evidence blamed someone"
            );
        }
        cpchain_chain_spec_free(devnet);

        // AEAD open of garbage under a fixed key: must fail and leave the bytes.
        let mut buf = data.to_vec();
        let mut len = 0usize;
        let r = no_panic(cpchain_aead_open_in_place(
            [7u8; 32].as_ptr(),
            32,
            [1u8; 12].as_ptr(),
            12,
            ptr::null(),
            0,
            buf.as_mut_ptr(),
            buf.len(),
            &mut len,
        ));
        if r != cpchain_result::Ok {
            assert_eq!(buf, data, "a failed open changed the buffer");
        }
    }
});
