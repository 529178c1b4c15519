//! ChaCha20-Poly1305 over caller-owned buffers, with no allocation.
//!
//! Two shapes, for the two ways C code keeps its data:
//!
//! * **Detached**: the ciphertext replaces the plaintext in the same `buf`, and the 16-byte
//!   tag goes to a separate array. For fixed-size records and DMA buffers.
//! * **In place with capacity**: `buf` holds `msg_len` bytes of plaintext in a buffer of
//!   `buf_cap` bytes; sealing appends the tag (`msg_len + CPCHAIN_AEAD_TAG_LEN` bytes out),
//!   opening removes it. A too-small capacity is `CPCHAIN_RESULT_INSUFFICIENT_SIZE` with the
//!   size needed in `*out_len`, before anything is touched.
//!
//! A failed open leaves the ciphertext in `buf`, never unauthenticated plaintext. The
//! in-place buffer must not overlap the key, nonce, associated data or tag
//! (`CPCHAIN_RESULT_OVERLAPPING_BUFFERS`). A nonce must never repeat under one key.

use crate::boundary::{ffi_boundary, in_place, input, input_array, overlaps, OutBuf, OutPtr};
use crate::{cpchain_result, FfiResult};
use cpchain_crypto::aead::{open_detached, seal_detached, AeadKey, Nonce, TAG_LEN};

/// Bytes of a ChaCha20-Poly1305 key.
pub const CPCHAIN_AEAD_KEY_LEN: usize = 32;
/// Bytes of a nonce.
pub const CPCHAIN_AEAD_NONCE_LEN: usize = 12;
/// Bytes of the Poly1305 tag that sealing adds.
pub const CPCHAIN_AEAD_TAG_LEN: usize = 16;

const _: () = assert!(CPCHAIN_AEAD_TAG_LEN == TAG_LEN);

/// The key, nonce and associated data of one call, checked.
struct Params<'a> {
    key: AeadKey,
    nonce: Nonce,
    aad: &'a [u8],
    /// The caller's ranges, for the overlap check against the in-place buffer.
    ranges: [(*const u8, usize); 3],
}

impl Params<'_> {
    /// Check the three inputs.
    ///
    /// # Safety
    ///
    /// Each pointer must be readable for its length (`aad` may be NULL when 0).
    unsafe fn new<'a>(
        key: *const u8,
        key_len: usize,
        nonce: *const u8,
        nonce_len: usize,
        aad: *const u8,
        aad_len: usize,
    ) -> FfiResult<Params<'a>> {
        // SAFETY: forwarded from this function's contract.
        let key_bytes = unsafe { input_array::<CPCHAIN_AEAD_KEY_LEN>(key, key_len) }?;
        // SAFETY: forwarded from this function's contract.
        let nonce_bytes = unsafe { input_array::<CPCHAIN_AEAD_NONCE_LEN>(nonce, nonce_len) }?;
        // SAFETY: forwarded from this function's contract.
        let aad_bytes = unsafe { input(aad, aad_len) }?;
        Ok(Params {
            key: AeadKey::from_bytes(*key_bytes),
            nonce: Nonce(*nonce_bytes),
            aad: aad_bytes,
            ranges: [(key, key_len), (nonce, nonce_len), (aad, aad_len)],
        })
    }

    /// Refuse an in-place range that overlaps any input (aliasing would be undefined
    /// behaviour in Rust and garbage in C).
    fn check_disjoint(&self, buf: *const u8, buf_len: usize) -> FfiResult {
        if self
            .ranges
            .iter()
            .any(|(p, l)| overlaps(*p, *l, buf, buf_len))
        {
            return Err(cpchain_result::OverlappingBuffers);
        }
        Ok(())
    }
}

/// Encrypt `buf` in place and write the 16-byte tag to `tag`. `aad` is authenticated but
/// not encrypted (a record header, a stream id).
///
/// # Safety
///
/// `key` (32 bytes), `nonce` (12 bytes) and `aad` (NULL allowed when 0) readable for their
/// lengths; `buf` readable and writable for `buf_len` initialised bytes (NULL allowed when
/// 0); `tag` writable for `tag_len` bytes (`CPCHAIN_AEAD_TAG_LEN` needed).
#[no_mangle]
pub unsafe extern "C" fn cpchain_aead_seal_detached(
    key: *const u8,
    key_len: usize,
    nonce: *const u8,
    nonce_len: usize,
    aad: *const u8,
    aad_len: usize,
    buf: *mut u8,
    buf_len: usize,
    tag: *mut u8,
    tag_len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let p = unsafe { Params::new(key, key_len, nonce, nonce_len, aad, aad_len) }?;
        // SAFETY: forwarded from this function's contract.
        let tag_out = unsafe { OutBuf::new(tag, tag_len) }?;
        if tag_out.cap() < CPCHAIN_AEAD_TAG_LEN {
            return Err(cpchain_result::InsufficientSize);
        }
        p.check_disjoint(buf, buf_len)?;
        if overlaps(tag_out.start(), tag_out.cap(), buf, buf_len) {
            return Err(cpchain_result::OverlappingBuffers);
        }
        // SAFETY: forwarded from this function's contract; disjoint from the inputs (checked).
        let data = unsafe { in_place(buf, buf_len) }?;
        let t = seal_detached(&p.key, &p.nonce, p.aad, data)?;
        tag_out.write_fixed(&t)
    }
}

/// Check the tag and decrypt `buf` in place. On `CPCHAIN_RESULT_OPEN_FAILED` (wrong key,
/// nonce, associated data or tag, or tampering) `buf` still holds the ciphertext.
///
/// # Safety
///
/// As `cpchain_aead_seal_detached`, with `tag` readable for `tag_len` bytes (16).
#[no_mangle]
pub unsafe extern "C" fn cpchain_aead_open_detached(
    key: *const u8,
    key_len: usize,
    nonce: *const u8,
    nonce_len: usize,
    aad: *const u8,
    aad_len: usize,
    buf: *mut u8,
    buf_len: usize,
    tag: *const u8,
    tag_len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let p = unsafe { Params::new(key, key_len, nonce, nonce_len, aad, aad_len) }?;
        // SAFETY: forwarded from this function's contract.
        let tag_in = unsafe { input_array::<CPCHAIN_AEAD_TAG_LEN>(tag, tag_len) }?;
        p.check_disjoint(buf, buf_len)?;
        if overlaps(tag, tag_len, buf, buf_len) {
            return Err(cpchain_result::OverlappingBuffers);
        }
        let tag_copy = *tag_in;
        // SAFETY: forwarded from this function's contract; disjoint from the inputs (checked).
        let data = unsafe { in_place(buf, buf_len) }?;
        Ok(open_detached(&p.key, &p.nonce, p.aad, data, &tag_copy)?)
    }
}

/// Seal the first `msg_len` bytes of `buf` in place and append the tag. `buf` has room for
/// `buf_cap` bytes; `msg_len + CPCHAIN_AEAD_TAG_LEN` are needed. On success `*out_len` is the
/// sealed length; if `buf_cap` is too small, `*out_len` is the capacity needed and `buf` is
/// untouched (`CPCHAIN_RESULT_INSUFFICIENT_SIZE`).
///
/// # Safety
///
/// `key`, `nonce`, `aad` as in `cpchain_aead_seal_detached`; `buf` valid for writes of
/// `buf_cap` bytes, of which the first `msg_len` are initialised (the bytes after them may be
/// uninitialised); `out_len` a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_aead_seal_in_place(
    key: *const u8,
    key_len: usize,
    nonce: *const u8,
    nonce_len: usize,
    aad: *const u8,
    aad_len: usize,
    buf: *mut u8,
    msg_len: usize,
    buf_cap: usize,
    out_len: *mut usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out_len = unsafe { OutPtr::new(out_len) }?;
        // SAFETY: forwarded from this function's contract.
        let p = unsafe { Params::new(key, key_len, nonce, nonce_len, aad, aad_len) }?;
        // SAFETY: forwarded from this function's contract.
        let whole = unsafe { OutBuf::new(buf, buf_cap) }?;
        if msg_len > buf_cap {
            return Err(cpchain_result::InvalidParameter);
        }
        p.check_disjoint(buf, buf_cap)?;
        let sealed_len = msg_len
            .checked_add(CPCHAIN_AEAD_TAG_LEN)
            .ok_or(cpchain_result::InvalidParameter)?;
        if sealed_len > buf_cap {
            out_len.set(sealed_len);
            return Err(cpchain_result::InsufficientSize);
        }
        let tag = {
            // SAFETY: the first msg_len <= buf_cap bytes are initialised and ours for this
            // call (contract); disjoint from the inputs (checked). The borrow ends here.
            let data = unsafe { in_place(buf, msg_len) }?;
            seal_detached(&p.key, &p.nonce, p.aad, data)?
        };
        whole.write_at(msg_len, &tag)?;
        out_len.set(sealed_len);
        Ok(())
    }
}

/// Open `sealed_len` bytes of `buf` (ciphertext then tag) in place. On success the plaintext
/// is at the start of `buf` and `*out_len` is its length (`sealed_len - 16`). On failure
/// `buf` still holds the ciphertext. Fewer than 16 bytes is `CPCHAIN_RESULT_INVALID_LENGTH`.
///
/// # Safety
///
/// `key`, `nonce`, `aad` as in `cpchain_aead_seal_detached`; `buf` readable and writable for
/// `sealed_len` initialised bytes; `out_len` a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_aead_open_in_place(
    key: *const u8,
    key_len: usize,
    nonce: *const u8,
    nonce_len: usize,
    aad: *const u8,
    aad_len: usize,
    buf: *mut u8,
    sealed_len: usize,
    out_len: *mut usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out_len = unsafe { OutPtr::new(out_len) }?;
        // SAFETY: forwarded from this function's contract.
        let p = unsafe { Params::new(key, key_len, nonce, nonce_len, aad, aad_len) }?;
        if buf.is_null() {
            return Err(cpchain_result::NullParameter);
        }
        p.check_disjoint(buf, sealed_len)?;
        let msg_len = sealed_len
            .checked_sub(CPCHAIN_AEAD_TAG_LEN)
            .ok_or(cpchain_result::InvalidLength)?;
        // SAFETY: forwarded from this function's contract; disjoint from the inputs (checked).
        let all = unsafe { in_place(buf, sealed_len) }?;
        let (data, tag) = all.split_at_mut(msg_len);
        let tag: [u8; TAG_LEN] = (&*tag)
            .try_into()
            .map_err(|_| cpchain_result::InvalidLength)?;
        open_detached(&p.key, &p.nonce, p.aad, data, &tag)?;
        out_len.set(msg_len);
        Ok(())
    }
}
