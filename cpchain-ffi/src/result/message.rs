//! `cpchain_result_message`: a result code's readable text for C.

use super::{cpchain_result, UNKNOWN_MESSAGE};
use crate::boundary::{ffi_boundary, OutBuf, OutPtr};
use core::ffi::c_char;

/// Write the readable text of `result` into `buf`, NUL-terminated, for logs and error
/// reports. Any number is accepted: codes this build does not know get a generic text.
///
/// On success `*out_len` is the text's length without the NUL (as `strlen`). If `len` is
/// too small, nothing is written, `*out_len` is the buffer size needed (NUL included) and
/// `CPCHAIN_RESULT_INSUFFICIENT_SIZE` is returned; `CPCHAIN_RESULT_MESSAGE_MAX` bytes always
/// suffice. `buf` may be NULL when `len` is 0, to ask for the size.
///
/// # Safety
///
/// `buf` must be valid for writes of `len` bytes (or NULL with `len == 0`); `out_len` must
/// point to a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_result_message(
    result: u32,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract on `out_len`.
        let out_len = unsafe { OutPtr::new(out_len) }?;
        // SAFETY: forwarded from this function's contract on `buf`/`len`.
        let out = unsafe { OutBuf::new(buf.cast::<u8>(), len) }?;
        let text = cpchain_result::from_code(result)
            .map(cpchain_result::message)
            .unwrap_or(UNKNOWN_MESSAGE);
        out.write_c_str(text, out_len)
    }
}
