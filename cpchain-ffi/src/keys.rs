//! Hashing, identities, signatures and addresses.
//!
//! Secret keys live behind an opaque handle (`cpchain_secret_key`), on the heap or in caller
//! storage, so that C code never has to hold the scalar, and the library zeroizes it on
//! `cpchain_secret_key_free`. Everything public (public keys, signatures, addresses,
//! digests) crosses as plain bytes in caller-owned buffers, so verification and recovery
//! need no allocation at all.
//!
//! Public keys are accepted in the two standard SEC1 forms only (33 bytes `0x02`/`0x03`,
//! 65 bytes `0x04`), so each key has exactly two encodings and no more.

use crate::boundary::{
    ffi_boundary, ffi_boundary_void, handle, input, input_array, storage_slot, Origin, OutBuf,
    OutPtr,
};
use crate::{cpchain_result, FfiResult};
use core::ffi::c_char;
use core::ptr::NonNull;
use cpchain_core::encoding::SIGNING_PREFIX;
use cpchain_core::{keccak256, keccak256_concat, Address, Hash};
use cpchain_crypto::{PublicKey, SecretKey, Signature};
use rand_core::SeedableRng;
use zeroize::{Zeroize, Zeroizing};

/// Bytes of a secret key scalar.
pub const CPCHAIN_SECRET_KEY_LEN: usize = 32;
/// Bytes of the caller's entropy for `cpchain_secret_key_from_seed`.
pub const CPCHAIN_SEED_LEN: usize = 32;
/// Bytes of a Keccak-256 digest.
pub const CPCHAIN_HASH_LEN: usize = 32;
/// Bytes of an account address.
pub const CPCHAIN_ADDRESS_LEN: usize = 20;
/// Characters of an EIP-55 address text (`0x` + 40 hex digits), without the NUL.
pub const CPCHAIN_ADDRESS_TEXT_LEN: usize = 42;
/// Bytes of a compressed SEC1 public key, the SDK's wire form of keys.
pub const CPCHAIN_PUBLIC_KEY_COMPRESSED_LEN: usize = 33;
/// Bytes of an uncompressed SEC1 public key (`0x04 || x || y`), go-ethereum's form.
pub const CPCHAIN_PUBLIC_KEY_UNCOMPRESSED_LEN: usize = 65;
/// Bytes of a recoverable signature `r || s || v`.
pub const CPCHAIN_SIGNATURE_LEN: usize = 65;
/// Longest signing-domain name accepted, in bytes.
pub const CPCHAIN_DOMAIN_MAX_LEN: usize = 255;

/// A secp256k1 secret key: an account, validator or device identity.
///
/// Create with `cpchain_secret_key_from_bytes` or `cpchain_secret_key_from_seed` (or their
/// `_in` forms, in caller storage); release with `cpchain_secret_key_free`, which wipes the
/// scalar. Immutable once made, so one
/// handle may be used from several threads at once.
pub struct cpchain_secret_key {
    pub(crate) key: SecretKey,
    origin: Origin,
}

/// Memory for one secret key in the caller's storage (a `static`, a stack frame), for
/// firmware that has no heap: pass it to `cpchain_secret_key_from_bytes_in` or
/// `cpchain_secret_key_from_seed_in`. Its contents are private. The storage must stay in
/// place, untouched, until `cpchain_secret_key_free` is called on the handle made in it;
/// that call wipes the key and leaves the memory to the caller.
#[repr(C)]
pub struct cpchain_secret_key_storage {
    _opaque: [u64; 24],
}

// The storage type is big and aligned enough for the handle, on every target (checked here
// at compile time; alignment of the caller's pointer is checked at run time).
const _: () = assert!(
    core::mem::size_of::<cpchain_secret_key>()
        <= core::mem::size_of::<cpchain_secret_key_storage>()
        && core::mem::align_of::<cpchain_secret_key>()
            <= core::mem::align_of::<cpchain_secret_key_storage>()
);

/// The signing digest of a domain given as bytes from C.
///
/// `cpchain_core::Domain` holds a `&'static str` (protocol domains are constants in Rust),
/// which a C string cannot be. This computes the same digest as
/// `cpchain_core::encoding::signing_digest`, byte for byte (a unit test holds the two
/// together): `keccak256(SIGNING_PREFIX || len(domain) as u64 LE || domain || payload)`.
pub(crate) fn domain_digest(domain: &[u8], payload: &[u8]) -> FfiResult<Hash> {
    if domain.is_empty() || domain.len() > CPCHAIN_DOMAIN_MAX_LEN {
        return Err(cpchain_result::InvalidDomain);
    }
    core::str::from_utf8(domain).map_err(|_| cpchain_result::InvalidUtf8)?;
    let len = u64::try_from(domain.len())
        .map_err(|_| cpchain_result::InvalidDomain)?
        .to_le_bytes();
    Ok(keccak256_concat(&[SIGNING_PREFIX, &len, domain, payload]))
}

/// Box a new secret key into `*out`.
#[cfg(feature = "alloc")]
fn emit_key(out: &OutPtr<*mut cpchain_secret_key>, key: SecretKey) {
    out.set(alloc::boxed::Box::into_raw(alloc::boxed::Box::new(
        cpchain_secret_key {
            key,
            origin: Origin::Heap,
        },
    )));
}

/// Move a new secret key into checked caller storage and hand out the handle.
fn emit_key_in(
    out: &OutPtr<*mut cpchain_secret_key>,
    slot: NonNull<cpchain_secret_key>,
    key: SecretKey,
) {
    let value = cpchain_secret_key {
        key,
        origin: Origin::Caller,
    };
    // SAFETY: `slot` was checked non-NULL and aligned by storage_slot; the storage type is
    // large enough (compile-time assertion above) and the caller vouched it writable and
    // unused. Writing does not drop whatever bytes were there.
    unsafe { slot.as_ptr().write(value) };
    out.set(slot.as_ptr());
}

/// Keccak-256 of `data`: the hash of addresses, block hashes and every signing digest.
///
/// Writes 32 bytes to `out`, which may alias `data` (hash chains in place).
///
/// # Safety
///
/// `data` must be readable for `data_len` bytes (NULL allowed when 0); `out` must be
/// writable for `out_len` bytes, and `out_len` must be at least `CPCHAIN_HASH_LEN`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_keccak256(
    data: *const u8,
    data_len: usize,
    out: *mut u8,
    out_len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutBuf::new(out, out_len) }?;
        // SAFETY: forwarded from this function's contract.
        let data = unsafe { input(data, data_len) }?;
        out.write_fixed(keccak256(data).as_bytes())
    }
}

/// The domain-separated digest that `cpchain_secret_key_sign` signs for `payload`: the
/// digest a hardware signer or another library must sign to interoperate.
///
/// `domain` is a UTF-8 name such as `"cpchain/gateway/reading/v1"`, 1 to
/// `CPCHAIN_DOMAIN_MAX_LEN` bytes, not NUL-terminated. Writes 32 bytes to `out`.
///
/// # Safety
///
/// `domain` and `payload` must be readable for their lengths (`payload` may be NULL when
/// its length is 0); `out` must be writable for `out_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn cpchain_signing_digest(
    domain: *const c_char,
    domain_len: usize,
    payload: *const u8,
    payload_len: usize,
    out: *mut u8,
    out_len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutBuf::new(out, out_len) }?;
        // SAFETY: forwarded from this function's contract.
        let domain = unsafe { input_nonnull(domain.cast::<u8>(), domain_len) }?;
        // SAFETY: forwarded from this function's contract.
        let payload = unsafe { input(payload, payload_len) }?;
        out.write_fixed(domain_digest(domain, payload)?.as_bytes())
    }
}

/// Like [`input`] but NULL is refused even with length 0 (domains are never empty).
///
/// # Safety
///
/// As [`input`].
pub(crate) unsafe fn input_nonnull<'a>(ptr: *const u8, len: usize) -> FfiResult<&'a [u8]> {
    if ptr.is_null() {
        return Err(cpchain_result::NullParameter);
    }
    // SAFETY: forwarded from this function's contract.
    unsafe { input(ptr, len) }
}

/// Make a secret key from its 32-byte big-endian scalar (go-ethereum's `crypto.ToECDSA`).
///
/// On success `*out` is a new handle to free with `cpchain_secret_key_free`; on any error
/// `*out` is set to NULL (when `out` itself is not NULL). A zero scalar or one not below the
/// group order is `CPCHAIN_RESULT_INVALID_SECRET_KEY`.
///
/// # Safety
///
/// `bytes` must be readable for `len` bytes; `out` must point to a writable pointer.
#[cfg(feature = "alloc")]
#[no_mangle]
pub unsafe extern "C" fn cpchain_secret_key_from_bytes(
    bytes: *const u8,
    len: usize,
    out: *mut *mut cpchain_secret_key,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutPtr::new(out) }?;
        out.set(core::ptr::null_mut());
        // SAFETY: forwarded from this function's contract.
        let bytes = unsafe { input_array::<CPCHAIN_SECRET_KEY_LEN>(bytes, len) }?;
        let scalar = Zeroizing::new(*bytes);
        emit_key(&out, SecretKey::from_bytes(&scalar)?);
        Ok(())
    }
}

/// Make a secret key from 32 bytes of the caller's entropy. The library reads no OS
/// randomness: the caller supplies it (a hardware RNG, `getrandom`, a KDF output).
///
/// Deterministic: the key is the one Rust's `SecretKey::random(&mut
/// ChaCha20Rng::from_seed(seed))` gives, so C and Rust derive the same identities from the
/// same seed. A seed must be secret and uniformly random; a guessable seed gives a
/// guessable key. `*out` as in `cpchain_secret_key_from_bytes`.
///
/// # Safety
///
/// `seed` must be readable for `seed_len` bytes; `out` must point to a writable pointer.
#[cfg(feature = "alloc")]
#[no_mangle]
pub unsafe extern "C" fn cpchain_secret_key_from_seed(
    seed: *const u8,
    seed_len: usize,
    out: *mut *mut cpchain_secret_key,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutPtr::new(out) }?;
        out.set(core::ptr::null_mut());
        // SAFETY: forwarded from this function's contract.
        let seed = unsafe { input_array::<CPCHAIN_SEED_LEN>(seed, seed_len) }?;
        let seed = Zeroizing::new(*seed);
        let mut rng = rand_chacha::ChaCha20Rng::from_seed(*seed);
        emit_key(&out, SecretKey::random(&mut rng));
        Ok(())
    }
}

/// `cpchain_secret_key_from_bytes` without the heap: the key is made in `storage`, and
/// `*out` (a handle that points into `storage`) is used and freed like any other. A NULL or
/// misaligned `storage` is refused before anything is written; on any error `*out` is NULL.
///
/// # Safety
///
/// `storage` must be writable and must stay in place, used for nothing else, until
/// `cpchain_secret_key_free(*out)`; `bytes` readable for `len` bytes; `out` a writable
/// pointer.
#[no_mangle]
pub unsafe extern "C" fn cpchain_secret_key_from_bytes_in(
    storage: *mut cpchain_secret_key_storage,
    bytes: *const u8,
    len: usize,
    out: *mut *mut cpchain_secret_key,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutPtr::new(out) }?;
        out.set(core::ptr::null_mut());
        let slot = storage_slot::<cpchain_secret_key, _>(storage)?;
        // SAFETY: forwarded from this function's contract.
        let bytes = unsafe { input_array::<CPCHAIN_SECRET_KEY_LEN>(bytes, len) }?;
        let scalar = Zeroizing::new(*bytes);
        emit_key_in(&out, slot, SecretKey::from_bytes(&scalar)?);
        Ok(())
    }
}

/// `cpchain_secret_key_from_seed` without the heap, in `storage`: see
/// `cpchain_secret_key_from_bytes_in`.
///
/// # Safety
///
/// As `cpchain_secret_key_from_bytes_in`, with `seed` readable for `seed_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn cpchain_secret_key_from_seed_in(
    storage: *mut cpchain_secret_key_storage,
    seed: *const u8,
    seed_len: usize,
    out: *mut *mut cpchain_secret_key,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutPtr::new(out) }?;
        out.set(core::ptr::null_mut());
        let slot = storage_slot::<cpchain_secret_key, _>(storage)?;
        // SAFETY: forwarded from this function's contract.
        let seed = unsafe { input_array::<CPCHAIN_SEED_LEN>(seed, seed_len) }?;
        let seed = Zeroizing::new(*seed);
        let mut rng = rand_chacha::ChaCha20Rng::from_seed(*seed);
        emit_key_in(&out, slot, SecretKey::random(&mut rng));
        Ok(())
    }
}

/// Release a secret key, wiping the scalar. `NULL` is accepted and does nothing. A key made
/// in caller storage (`_in` constructors) is wiped in place and its storage handed back to
/// the caller, free to reuse.
///
/// # Safety
///
/// `key` must be NULL or a handle from this library not freed before; it must not be used
/// afterwards.
#[no_mangle]
pub unsafe extern "C" fn cpchain_secret_key_free(key: *mut cpchain_secret_key) {
    ffi_boundary_void! {
        if key.is_null() {
            return;
        }
        // SAFETY: a non-NULL `key` is a live handle from emit_key or emit_key_in (contract).
        let origin = unsafe { (*key).origin };
        match origin {
            // SAFETY: a heap handle came from Box::into_raw in emit_key and is freed once,
            // per this function's contract. SecretKey zeroizes on drop.
            #[cfg(feature = "alloc")]
            Origin::Heap => drop(unsafe { alloc::boxed::Box::from_raw(key) }),
            Origin::Caller => {
                // SAFETY: a caller-storage handle was written by emit_key_in and is dropped
                // once, per this function's contract; the memory stays the caller's. The drop
                // wipes the scalar.
                unsafe { core::ptr::drop_in_place(key) };
                // SAFETY: the handle's bytes are ours until we return (contract) and are valid
                // as MaybeUninit<u8>, whatever they hold after the drop.
                let bytes = unsafe {
                    core::slice::from_raw_parts_mut(
                        key.cast::<core::mem::MaybeUninit<u8>>(),
                        core::mem::size_of::<cpchain_secret_key>(),
                    )
                };
                // Wipe the whole slot (public key and padding too) so the caller gets back
                // plain zeros.
                bytes.zeroize();
            }
        }
    }
}

/// Export the 32-byte scalar, for the host's key store. Handle the output as a secret.
///
/// # Safety
///
/// `key` must be a live handle; `out` must be writable for `out_len` bytes
/// (`CPCHAIN_SECRET_KEY_LEN` needed).
#[no_mangle]
pub unsafe extern "C" fn cpchain_secret_key_to_bytes(
    key: *const cpchain_secret_key,
    out: *mut u8,
    out_len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let key = unsafe { handle(key) }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutBuf::new(out, out_len) }?;
        out.write_fixed(key.key.to_bytes().as_slice())
    }
}

/// The key's compressed public key (33 bytes), the form SDK messages carry.
///
/// # Safety
///
/// `key` must be a live handle; `out` must be writable for `out_len` bytes
/// (`CPCHAIN_PUBLIC_KEY_COMPRESSED_LEN` needed).
#[no_mangle]
pub unsafe extern "C" fn cpchain_secret_key_public_key(
    key: *const cpchain_secret_key,
    out: *mut u8,
    out_len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let key = unsafe { handle(key) }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutBuf::new(out, out_len) }?;
        out.write_fixed(&key.key.public_key().to_compressed())
    }
}

/// The key's 20-byte account address.
///
/// # Safety
///
/// `key` must be a live handle; `out` must be writable for `out_len` bytes
/// (`CPCHAIN_ADDRESS_LEN` needed).
#[no_mangle]
pub unsafe extern "C" fn cpchain_secret_key_address(
    key: *const cpchain_secret_key,
    out: *mut u8,
    out_len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let key = unsafe { handle(key) }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutBuf::new(out, out_len) }?;
        out.write_fixed(key.key.public_key().address().as_bytes())
    }
}

/// Sign a 32-byte digest as go-ethereum's `crypto.Sign`: RFC 6979 nonce, low-s, 65 bytes
/// `r || s || v` with `v` in {0, 1}. Use this for digests defined elsewhere (CPChain header
/// seals); for SDK payloads prefer the domain-separated `cpchain_secret_key_sign`.
///
/// # Safety
///
/// `key` must be a live handle; `digest` readable for `digest_len` bytes (must be 32);
/// `out` writable for `out_len` bytes (`CPCHAIN_SIGNATURE_LEN` needed).
#[no_mangle]
pub unsafe extern "C" fn cpchain_secret_key_sign_prehash(
    key: *const cpchain_secret_key,
    digest: *const u8,
    digest_len: usize,
    out: *mut u8,
    out_len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let key = unsafe { handle(key) }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutBuf::new(out, out_len) }?;
        // SAFETY: forwarded from this function's contract.
        let digest = unsafe { input_array::<CPCHAIN_HASH_LEN>(digest, digest_len) }?;
        let sig = key.key.sign_prehash(&Hash(*digest));
        out.write_fixed(&sig.to_bytes())
    }
}

/// Sign `payload` for one purpose only: the digest is `cpchain_signing_digest(domain,
/// payload)`, so the signature cannot be replayed under any other domain. Bind chain id,
/// height and kind into `payload` where they matter.
///
/// # Safety
///
/// `key` must be a live handle; `domain` readable for `domain_len` bytes; `payload`
/// readable for `payload_len` bytes (NULL allowed when 0); `out` writable for `out_len`
/// bytes (`CPCHAIN_SIGNATURE_LEN` needed).
#[no_mangle]
pub unsafe extern "C" fn cpchain_secret_key_sign(
    key: *const cpchain_secret_key,
    domain: *const c_char,
    domain_len: usize,
    payload: *const u8,
    payload_len: usize,
    out: *mut u8,
    out_len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let key = unsafe { handle(key) }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutBuf::new(out, out_len) }?;
        // SAFETY: forwarded from this function's contract.
        let domain = unsafe { input_nonnull(domain.cast::<u8>(), domain_len) }?;
        // SAFETY: forwarded from this function's contract.
        let payload = unsafe { input(payload, payload_len) }?;
        let sig = key.key.sign_prehash(&domain_digest(domain, payload)?);
        out.write_fixed(&sig.to_bytes())
    }
}

/// Parse a 65-byte signature from its inputs.
///
/// # Safety
///
/// As [`input_array`].
unsafe fn signature(ptr: *const u8, len: usize) -> FfiResult<Signature> {
    // SAFETY: forwarded from this function's contract.
    let bytes = unsafe { input_array::<CPCHAIN_SIGNATURE_LEN>(ptr, len) }?;
    Ok(Signature::from_bytes(bytes)?)
}

/// Parse a SEC1 public key, compressed (33 bytes) or uncompressed (65 bytes).
///
/// # Safety
///
/// As [`input`].
pub(crate) unsafe fn public_key(ptr: *const u8, len: usize) -> FfiResult<PublicKey> {
    // SAFETY: forwarded from this function's contract.
    let bytes = unsafe { input_nonnull(ptr, len) }?;
    // Only the two standard forms: `0x02`/`0x03` with 33 bytes, `0x04` with 65. The SEC1
    // parser underneath also takes the 33-byte "compact" form (tag `0x05`), which would give
    // one key a second encoding; the C API refuses it.
    match (len, bytes.first()) {
        (CPCHAIN_PUBLIC_KEY_COMPRESSED_LEN, Some(0x02 | 0x03))
        | (CPCHAIN_PUBLIC_KEY_UNCOMPRESSED_LEN, Some(0x04)) => {}
        (CPCHAIN_PUBLIC_KEY_COMPRESSED_LEN | CPCHAIN_PUBLIC_KEY_UNCOMPRESSED_LEN, _) => {
            return Err(cpchain_result::InvalidPublicKey)
        }
        _ => return Err(cpchain_result::InvalidLength),
    }
    Ok(PublicKey::from_sec1_bytes(bytes)?)
}

/// Check that 65 bytes are a signature the SDK accepts: `r`, `s` in range, low-s, `v` in
/// {0, 1}. Returns `CPCHAIN_RESULT_OK` or the reason (for example `CPCHAIN_RESULT_HIGH_S`).
///
/// # Safety
///
/// `sig` must be readable for `sig_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn cpchain_signature_validate(
    sig: *const u8,
    sig_len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        unsafe { signature(sig, sig_len) }.map(|_| ())
    }
}

/// Recover the compressed public key that made `sig` over a 32-byte `digest`
/// (go-ethereum's `Ecrecover`).
///
/// # Safety
///
/// `sig` readable for `sig_len` bytes (65); `digest` readable for `digest_len` bytes (32);
/// `out` writable for `out_len` bytes (`CPCHAIN_PUBLIC_KEY_COMPRESSED_LEN` needed).
#[no_mangle]
pub unsafe extern "C" fn cpchain_signature_recover(
    sig: *const u8,
    sig_len: usize,
    digest: *const u8,
    digest_len: usize,
    out: *mut u8,
    out_len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutBuf::new(out, out_len) }?;
        // SAFETY: forwarded from this function's contract.
        let sig = unsafe { signature(sig, sig_len) }?;
        // SAFETY: forwarded from this function's contract.
        let digest = unsafe { input_array::<CPCHAIN_HASH_LEN>(digest, digest_len) }?;
        let pk = sig.recover(&Hash(*digest))?;
        out.write_fixed(&pk.to_compressed())
    }
}

/// Recover the 20-byte address that made `sig` over a 32-byte `digest`: how CPChain header
/// seals name their sealer.
///
/// # Safety
///
/// As `cpchain_signature_recover`, with `CPCHAIN_ADDRESS_LEN` bytes needed in `out`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_signature_recover_address(
    sig: *const u8,
    sig_len: usize,
    digest: *const u8,
    digest_len: usize,
    out: *mut u8,
    out_len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutBuf::new(out, out_len) }?;
        // SAFETY: forwarded from this function's contract.
        let sig = unsafe { signature(sig, sig_len) }?;
        // SAFETY: forwarded from this function's contract.
        let digest = unsafe { input_array::<CPCHAIN_HASH_LEN>(digest, digest_len) }?;
        let pk = sig.recover(&Hash(*digest))?;
        out.write_fixed(pk.address().as_bytes())
    }
}

/// Recover the address that signed `payload` under `domain` with `cpchain_secret_key_sign`.
/// Compare it with the expected signer; a signature for another domain or payload recovers
/// an unrelated address (or fails).
///
/// # Safety
///
/// `sig` readable for `sig_len` bytes (65); `domain` and `payload` readable for their
/// lengths (`payload` may be NULL when 0); `out` writable for `out_len` bytes
/// (`CPCHAIN_ADDRESS_LEN` needed).
#[no_mangle]
pub unsafe extern "C" fn cpchain_signature_recover_signer(
    sig: *const u8,
    sig_len: usize,
    domain: *const c_char,
    domain_len: usize,
    payload: *const u8,
    payload_len: usize,
    out: *mut u8,
    out_len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutBuf::new(out, out_len) }?;
        // SAFETY: forwarded from this function's contract.
        let sig = unsafe { signature(sig, sig_len) }?;
        // SAFETY: forwarded from this function's contract.
        let domain = unsafe { input_nonnull(domain.cast::<u8>(), domain_len) }?;
        // SAFETY: forwarded from this function's contract.
        let payload = unsafe { input(payload, payload_len) }?;
        let pk = sig.recover(&domain_digest(domain, payload)?)?;
        out.write_fixed(pk.address().as_bytes())
    }
}

/// Check that `sig` over a 32-byte `digest` was made by the account `expected` (20 bytes):
/// how a CPChain header seal is checked against the proposer it should come from. Returns
/// `CPCHAIN_RESULT_OK`, `CPCHAIN_RESULT_WRONG_SIGNER`, or why the signature is unusable.
///
/// # Safety
///
/// Each pointer must be readable for its length (65, 32 and 20 bytes).
#[no_mangle]
pub unsafe extern "C" fn cpchain_signature_check_address(
    sig: *const u8,
    sig_len: usize,
    digest: *const u8,
    digest_len: usize,
    expected: *const u8,
    expected_len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let sig = unsafe { signature(sig, sig_len) }?;
        // SAFETY: forwarded from this function's contract.
        let digest = unsafe { input_array::<CPCHAIN_HASH_LEN>(digest, digest_len) }?;
        // SAFETY: forwarded from this function's contract.
        let expected = unsafe { input_array::<CPCHAIN_ADDRESS_LEN>(expected, expected_len) }?;
        same_signer(sig.recover(&Hash(*digest))?.address(), expected)
    }
}

/// Check that `sig` over `payload` under `domain` was made by the account `expected` (20
/// bytes) with `cpchain_secret_key_sign`: one call for "is this message from that device".
/// Returns `CPCHAIN_RESULT_OK`, `CPCHAIN_RESULT_WRONG_SIGNER` (another key signed it, or it
/// was signed for another domain or payload), or why the signature is unusable.
///
/// # Safety
///
/// Each pointer must be readable for its length (`payload` may be NULL when 0).
#[no_mangle]
pub unsafe extern "C" fn cpchain_signature_check_signer(
    sig: *const u8,
    sig_len: usize,
    domain: *const c_char,
    domain_len: usize,
    payload: *const u8,
    payload_len: usize,
    expected: *const u8,
    expected_len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let sig = unsafe { signature(sig, sig_len) }?;
        // SAFETY: forwarded from this function's contract.
        let domain = unsafe { input_nonnull(domain.cast::<u8>(), domain_len) }?;
        // SAFETY: forwarded from this function's contract.
        let payload = unsafe { input(payload, payload_len) }?;
        // SAFETY: forwarded from this function's contract.
        let expected = unsafe { input_array::<CPCHAIN_ADDRESS_LEN>(expected, expected_len) }?;
        let digest = domain_digest(domain, payload)?;
        same_signer(sig.recover(&digest)?.address(), expected)
    }
}

/// `Ok` if the recovered address is the expected one. Addresses are public: a plain
/// comparison is fine.
fn same_signer(recovered: Address, expected: &[u8; CPCHAIN_ADDRESS_LEN]) -> FfiResult {
    if recovered.as_bytes() == expected {
        Ok(())
    } else {
        Err(cpchain_result::WrongSigner)
    }
}

/// Verify `sig` over a 32-byte `digest` under a SEC1 public key (33 or 65 bytes). Returns
/// `CPCHAIN_RESULT_OK` only for a valid signature; `CPCHAIN_RESULT_BAD_SIGNATURE` when it
/// does not verify.
///
/// # Safety
///
/// Each pointer must be readable for its length.
#[no_mangle]
pub unsafe extern "C" fn cpchain_public_key_verify(
    public_key: *const u8,
    public_key_len: usize,
    digest: *const u8,
    digest_len: usize,
    sig: *const u8,
    sig_len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let pk = unsafe { self::public_key(public_key, public_key_len) }?;
        // SAFETY: forwarded from this function's contract.
        let digest = unsafe { input_array::<CPCHAIN_HASH_LEN>(digest, digest_len) }?;
        // SAFETY: forwarded from this function's contract.
        let sig = unsafe { signature(sig, sig_len) }?;
        Ok(pk.verify(&Hash(*digest), &sig)?)
    }
}

/// Verify a domain-separated signature made with `cpchain_secret_key_sign`.
///
/// # Safety
///
/// Each pointer must be readable for its length (`payload` may be NULL when 0).
#[no_mangle]
pub unsafe extern "C" fn cpchain_public_key_verify_payload(
    public_key: *const u8,
    public_key_len: usize,
    domain: *const c_char,
    domain_len: usize,
    payload: *const u8,
    payload_len: usize,
    sig: *const u8,
    sig_len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let pk = unsafe { self::public_key(public_key, public_key_len) }?;
        // SAFETY: forwarded from this function's contract.
        let domain = unsafe { input_nonnull(domain.cast::<u8>(), domain_len) }?;
        // SAFETY: forwarded from this function's contract.
        let payload = unsafe { input(payload, payload_len) }?;
        // SAFETY: forwarded from this function's contract.
        let sig = unsafe { signature(sig, sig_len) }?;
        Ok(pk.verify(&domain_digest(domain, payload)?, &sig)?)
    }
}

/// Convert a SEC1 public key (33 or 65 bytes) to its 33-byte compressed form; also how to
/// check that bytes are a valid key.
///
/// # Safety
///
/// `public_key` readable for its length; `out` writable for `out_len` bytes
/// (`CPCHAIN_PUBLIC_KEY_COMPRESSED_LEN` needed).
#[no_mangle]
pub unsafe extern "C" fn cpchain_public_key_compress(
    public_key: *const u8,
    public_key_len: usize,
    out: *mut u8,
    out_len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutBuf::new(out, out_len) }?;
        // SAFETY: forwarded from this function's contract.
        let pk = unsafe { self::public_key(public_key, public_key_len) }?;
        out.write_fixed(&pk.to_compressed())
    }
}

/// Convert a SEC1 public key (33 or 65 bytes) to its 65-byte uncompressed form
/// `0x04 || x || y`, as go-ethereum and Ethereum tooling expect.
///
/// # Safety
///
/// `public_key` readable for its length; `out` writable for `out_len` bytes
/// (`CPCHAIN_PUBLIC_KEY_UNCOMPRESSED_LEN` needed).
#[no_mangle]
pub unsafe extern "C" fn cpchain_public_key_uncompress(
    public_key: *const u8,
    public_key_len: usize,
    out: *mut u8,
    out_len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutBuf::new(out, out_len) }?;
        // SAFETY: forwarded from this function's contract.
        let pk = unsafe { self::public_key(public_key, public_key_len) }?;
        out.write_fixed(&pk.to_uncompressed())
    }
}

/// The 20-byte address of a SEC1 public key (33 or 65 bytes).
///
/// # Safety
///
/// `public_key` readable for its length; `out` writable for `out_len` bytes
/// (`CPCHAIN_ADDRESS_LEN` needed).
#[no_mangle]
pub unsafe extern "C" fn cpchain_public_key_address(
    public_key: *const u8,
    public_key_len: usize,
    out: *mut u8,
    out_len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutBuf::new(out, out_len) }?;
        // SAFETY: forwarded from this function's contract.
        let pk = unsafe { self::public_key(public_key, public_key_len) }?;
        out.write_fixed(pk.address().as_bytes())
    }
}

/// Parse address text: `0x` and 40 hex digits, all lower-case, all upper-case, or with a
/// correct EIP-55 checksum (mixed case with a wrong checksum is refused as a likely typo).
/// `text` need not be NUL-terminated; `text_len` excludes any NUL.
///
/// # Safety
///
/// `text` readable for `text_len` bytes; `out` writable for `out_len` bytes
/// (`CPCHAIN_ADDRESS_LEN` needed).
#[no_mangle]
pub unsafe extern "C" fn cpchain_address_parse(
    text: *const c_char,
    text_len: usize,
    out: *mut u8,
    out_len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutBuf::new(out, out_len) }?;
        // SAFETY: forwarded from this function's contract.
        let text = unsafe { input_nonnull(text.cast::<u8>(), text_len) }?;
        let text = core::str::from_utf8(text).map_err(|_| cpchain_result::InvalidUtf8)?;
        let addr: Address = text.parse()?;
        out.write_fixed(addr.as_bytes())
    }
}

/// Format a 20-byte address as EIP-55 checksummed text, NUL-terminated: 42 characters, so
/// `buf` needs `CPCHAIN_ADDRESS_TEXT_LEN + 1` bytes. On success `*out_len` is 42 (as
/// `strlen`); on a too-small buffer it is the size needed (43) and nothing is written.
///
/// # Safety
///
/// `address` readable for `address_len` bytes (20); `buf` writable for `buf_len` bytes (NULL
/// allowed when 0); `out_len` a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_address_to_checksum(
    address: *const u8,
    address_len: usize,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out_len = unsafe { OutPtr::new(out_len) }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutBuf::new(buf.cast::<u8>(), buf_len) }?;
        // SAFETY: forwarded from this function's contract.
        let address = unsafe { input_array::<CPCHAIN_ADDRESS_LEN>(address, address_len) }?;
        let text = Address(*address).to_checksum_bytes();
        let text = core::str::from_utf8(&text).map_err(|_| cpchain_result::InvalidUtf8)?;
        out.write_c_str(text, out_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpchain_core::encoding::signing_digest;
    use cpchain_core::Domain;

    #[test]
    fn domain_digest_matches_core() {
        for payload in [&b""[..], b"x", b"a longer payload of readings"] {
            let core = signing_digest(&Domain::new("cpchain/test/v1"), payload);
            assert_eq!(domain_digest(b"cpchain/test/v1", payload), Ok(core));
        }
        assert_eq!(domain_digest(b"", b"p"), Err(cpchain_result::InvalidDomain));
        assert_eq!(
            domain_digest(&[b'a'; CPCHAIN_DOMAIN_MAX_LEN + 1], b"p"),
            Err(cpchain_result::InvalidDomain)
        );
        assert_eq!(
            domain_digest(&[0xff, 0xfe], b"p"),
            Err(cpchain_result::InvalidUtf8)
        );
    }

    #[test]
    fn caller_storage_key_is_the_same_key_and_is_wiped_on_free() {
        let seed = [7u8; 32];
        let mut storage = cpchain_secret_key_storage { _opaque: [0; 24] };
        let mut out = core::ptr::null_mut();
        // SAFETY: storage is a live local; seed is 32 readable bytes; out is writable.
        let r =
            unsafe { cpchain_secret_key_from_seed_in(&mut storage, seed.as_ptr(), 32, &mut out) };
        assert_eq!(r, cpchain_result::Ok);
        let rust = SecretKey::random(&mut rand_chacha::ChaCha20Rng::from_seed(seed));
        // SAFETY: out points into storage, a live handle.
        assert_eq!(unsafe { &(*out).key }, &rust);
        // SAFETY: out is live and freed once.
        unsafe { cpchain_secret_key_free(out) };
        assert_eq!(storage._opaque, [0; 24]);
    }

    #[test]
    fn seed_derivation_matches_rust_random() {
        let seed = [42u8; 32];
        let mut out = core::ptr::null_mut();
        // SAFETY: seed is 32 readable bytes; out is a writable pointer.
        let r = unsafe { cpchain_secret_key_from_seed(seed.as_ptr(), seed.len(), &mut out) };
        assert_eq!(r, cpchain_result::Ok);
        let rust = SecretKey::random(&mut rand_chacha::ChaCha20Rng::from_seed(seed));
        // SAFETY: out is a live handle from the call above.
        let ours = unsafe { &*out };
        assert_eq!(ours.key, rust);
        // SAFETY: out is live and freed once.
        unsafe { cpchain_secret_key_free(out) };
    }
}
