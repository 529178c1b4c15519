//! The boundary between C and Rust: the panic guard and the checked pointer conversions.
//!
//! All `unsafe` of the crate that turns C pointers into Rust values lives here, in small
//! functions whose contracts the exported functions forward from their own `# Safety`
//! sections. Each helper checks what can be checked (NULL, alignment, a length that no
//! Rust slice may have) and returns a `cpchain_result` instead of proceeding.

use crate::cpchain_result;
use core::ptr::NonNull;

/// What the inner body of every exported function returns; `?` works on it.
pub(crate) type FfiResult<T = ()> = Result<T, cpchain_result>;

/// Run the body (which evaluates to `FfiResult<()>`) and turn it into a `cpchain_result`.
///
/// On `panic = "unwind"` builds a panic is caught here and becomes `CPCHAIN_RESULT_PANIC`,
/// so no unwinding ever crosses into C. On `panic = "abort"` builds there is nothing to
/// catch; the library is written panic-free (no unwrap, expect, panic or slice indexing,
/// enforced by clippy), and `extern "C"` functions abort rather than unwind in any case.
#[cfg(feature = "std")]
macro_rules! ffi_boundary {
    ($($body:tt)*) => {{
        let run = || -> $crate::boundary::FfiResult { $($body)* };
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(run)) {
            ::core::result::Result::Ok(::core::result::Result::Ok(())) => {
                $crate::cpchain_result::Ok
            }
            ::core::result::Result::Ok(::core::result::Result::Err(e)) => e,
            ::core::result::Result::Err(_) => $crate::cpchain_result::Panic,
        }
    }};
}

/// The `no_std` form: there is no unwinding to catch (firmware targets abort on panic, and
/// the panic handler calls the firmware's `cpchain_hook_panic`, which never returns), so the
/// body's result is the call's result.
#[cfg(not(feature = "std"))]
macro_rules! ffi_boundary {
    ($($body:tt)*) => {{
        let run = || -> $crate::boundary::FfiResult { $($body)* };
        match run() {
            ::core::result::Result::Ok(()) => $crate::cpchain_result::Ok,
            ::core::result::Result::Err(e) => e,
        }
    }};
}

/// The same guard for functions that return nothing (the `_free` functions): a panic is
/// swallowed, because there is no way to report it and unwinding into C is not an option.
#[cfg(feature = "std")]
macro_rules! ffi_boundary_void {
    ($($body:tt)*) => {{
        let run = || { $($body)* };
        let _ = ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(run));
    }};
}

/// The `no_std` form of [`ffi_boundary_void`]: nothing to catch (see `ffi_boundary`).
#[cfg(not(feature = "std"))]
macro_rules! ffi_boundary_void {
    ($($body:tt)*) => {{
        let run = || { $($body)* };
        run();
    }};
}

pub(crate) use ffi_boundary;
pub(crate) use ffi_boundary_void;

/// The largest length a Rust slice may have (`isize::MAX` bytes).
const MAX_SLICE_LEN: usize = isize::MAX as usize;

/// Borrow `len` bytes at `ptr` as an input. NULL is accepted only with `len == 0`.
///
/// # Safety
///
/// Unless `len == 0`, `ptr` must be valid for reads of `len` bytes, initialised, and not
/// written by anyone for `'a`.
pub(crate) unsafe fn input<'a>(ptr: *const u8, len: usize) -> FfiResult<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(cpchain_result::NullParameter);
    }
    if len > MAX_SLICE_LEN {
        return Err(cpchain_result::InvalidParameter);
    }
    // SAFETY: non-NULL, u8 has alignment 1, len <= isize::MAX, and the caller guarantees
    // `len` initialised readable bytes that stay unchanged for 'a.
    Ok(unsafe { core::slice::from_raw_parts(ptr, len) })
}

/// Borrow a fixed-size input of exactly `N` bytes: a key, a digest, a signature. A NULL
/// pointer is `NullParameter` even with `len == 0`; any other length is `InvalidLength`.
///
/// # Safety
///
/// As [`input`].
pub(crate) unsafe fn input_array<'a, const N: usize>(
    ptr: *const u8,
    len: usize,
) -> FfiResult<&'a [u8; N]> {
    if ptr.is_null() {
        return Err(cpchain_result::NullParameter);
    }
    if len != N {
        return Err(cpchain_result::InvalidLength);
    }
    // SAFETY: forwarded from this function's contract.
    let bytes = unsafe { input(ptr, len) }?;
    bytes.try_into().map_err(|_| cpchain_result::InvalidLength)
}

/// Borrow `len` initialised bytes at `ptr` for in-place transformation (AEAD).
///
/// # Safety
///
/// Unless `len == 0`, `ptr` must be valid for reads and writes of `len` initialised bytes,
/// accessed by no one else for `'a`.
pub(crate) unsafe fn in_place<'a>(ptr: *mut u8, len: usize) -> FfiResult<&'a mut [u8]> {
    if len == 0 {
        return Ok(&mut []);
    }
    if ptr.is_null() {
        return Err(cpchain_result::NullParameter);
    }
    if len > MAX_SLICE_LEN {
        return Err(cpchain_result::InvalidParameter);
    }
    // SAFETY: non-NULL, alignment 1, len <= isize::MAX, and the caller guarantees `len`
    // initialised bytes that only we access for 'a.
    Ok(unsafe { core::slice::from_raw_parts_mut(ptr, len) })
}

/// Borrow an array of `n` C structs (for example `cpchain_bytes`). NULL is accepted only
/// with `n == 0`; a misaligned pointer or a byte size over `isize::MAX` is refused.
///
/// # Safety
///
/// Unless `n == 0`, `ptr` must be valid for reads of `n` initialised `T`s, unchanged for `'a`,
/// and every bit pattern C may put there must be a valid `T` (plain integers and pointers).
#[cfg_attr(not(feature = "alloc"), allow(dead_code))]
pub(crate) unsafe fn input_items<'a, T>(ptr: *const T, n: usize) -> FfiResult<&'a [T]> {
    if n == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(cpchain_result::NullParameter);
    }
    if !ptr.is_aligned() {
        return Err(cpchain_result::InvalidParameter);
    }
    match n.checked_mul(core::mem::size_of::<T>()) {
        Some(bytes) if bytes <= MAX_SLICE_LEN => {}
        _ => return Err(cpchain_result::InvalidParameter),
    }
    // SAFETY: non-NULL, aligned, total size <= isize::MAX, and the caller guarantees `n`
    // initialised, valid, unchanging `T`s.
    Ok(unsafe { core::slice::from_raw_parts(ptr, n) })
}

/// Borrow the object behind a handle. NULL and misaligned pointers are refused.
///
/// # Safety
///
/// A non-NULL `ptr` must come from this library's matching `_new`-style function and not
/// have been freed, and no other thread may free it during `'a`.
pub(crate) unsafe fn handle<'a, T>(ptr: *const T) -> FfiResult<&'a T> {
    if ptr.is_null() {
        return Err(cpchain_result::NullParameter);
    }
    if !ptr.is_aligned() {
        return Err(cpchain_result::InvalidParameter);
    }
    // SAFETY: non-NULL and aligned; the caller guarantees it points to a live T that we
    // allocated, with no concurrent free.
    Ok(unsafe { &*ptr })
}

/// Where a handle's memory came from, so that one `_free` function serves both kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Boxed by a constructor; `_free` deallocates.
    #[cfg(feature = "alloc")]
    Heap,
    /// Placed in caller storage by an `_in` constructor; `_free` drops (wipes) in place and
    /// leaves the memory to the caller.
    Caller,
}

/// Check caller storage `S` for a handle of type `T` before any work is done: non-NULL and
/// aligned for `T`. The size is checked at compile time by each storage type.
pub(crate) fn storage_slot<T, S>(storage: *mut S) -> FfiResult<NonNull<T>> {
    let slot = NonNull::new(storage.cast::<T>()).ok_or(cpchain_result::NullParameter)?;
    if !slot.as_ptr().is_aligned() {
        return Err(cpchain_result::InvalidParameter);
    }
    Ok(slot)
}

/// Do two byte ranges share any byte? Zero-length ranges overlap nothing.
pub(crate) fn overlaps(a: *const u8, a_len: usize, b: *const u8, b_len: usize) -> bool {
    if a_len == 0 || b_len == 0 {
        return false;
    }
    let (a, b) = (a as usize, b as usize);
    a < b.saturating_add(b_len) && b < a.saturating_add(a_len)
}

/// A checked, writable `T` slot of the caller's: a `size_t *out_len` or a `T **out`.
///
/// Writing goes through the raw pointer, so the slot may be uninitialised C memory.
pub(crate) struct OutPtr<T>(NonNull<T>);

impl<T> OutPtr<T> {
    /// Check `ptr` (NULL, alignment) before any work is done.
    ///
    /// # Safety
    ///
    /// A non-NULL `ptr` must be valid for writes of one `T` for as long as the returned
    /// value lives.
    pub(crate) unsafe fn new(ptr: *mut T) -> FfiResult<OutPtr<T>> {
        let p = NonNull::new(ptr).ok_or(cpchain_result::NullParameter)?;
        if !ptr.is_aligned() {
            return Err(cpchain_result::InvalidParameter);
        }
        Ok(OutPtr(p))
    }

    /// Store `value` without reading or dropping the old contents.
    pub(crate) fn set(&self, value: T) {
        // SAFETY: checked non-NULL and aligned in `new`, whose caller guaranteed it writable.
        unsafe { self.0.as_ptr().write(value) }
    }
}

/// A caller-owned output array of `cap` C structs, possibly uninitialised; written element
/// by element through raw pointers, never referenced.
#[cfg_attr(not(feature = "alloc"), allow(dead_code))]
pub(crate) struct OutArray<T> {
    ptr: *mut T,
    cap: usize,
}

#[cfg_attr(not(feature = "alloc"), allow(dead_code))]
impl<T> OutArray<T> {
    /// Check the array: NULL only with `cap == 0` (a size query), aligned, and a byte size
    /// no Rust slice would refuse.
    ///
    /// # Safety
    ///
    /// Unless `cap == 0`, `ptr` must be valid for writes of `cap` `T`s while the value lives.
    pub(crate) unsafe fn new(ptr: *mut T, cap: usize) -> FfiResult<OutArray<T>> {
        if cap != 0 {
            if ptr.is_null() {
                return Err(cpchain_result::NullParameter);
            }
            if !ptr.is_aligned() {
                return Err(cpchain_result::InvalidParameter);
            }
        }
        match cap.checked_mul(core::mem::size_of::<T>()) {
            Some(bytes) if bytes <= MAX_SLICE_LEN => Ok(OutArray { ptr, cap }),
            _ => Err(cpchain_result::InvalidParameter),
        }
    }

    /// Write all `items`, or report how many are needed and write nothing.
    pub(crate) fn write_all(
        &self,
        items: impl ExactSizeIterator<Item = T>,
        out_len: &OutPtr<usize>,
    ) -> FfiResult {
        let n = items.len();
        out_len.set(n);
        if n > self.cap {
            return Err(cpchain_result::InsufficientSize);
        }
        for (i, item) in items.enumerate().take(self.cap) {
            // `wrapping_add` is safe; i < n <= cap keeps the pointer inside the array.
            let slot = self.ptr.wrapping_add(i);
            // SAFETY: the slot is inside the array `new`'s caller vouched writable and
            // aligned; it may be uninitialised, and `write` does not read or drop it.
            unsafe { slot.write(item) };
        }
        Ok(())
    }
}

/// A caller-owned output buffer of `cap` bytes, possibly uninitialised; no Rust reference to
/// it is ever made, only raw copies into it.
pub(crate) struct OutBuf {
    ptr: *mut u8,
    cap: usize,
}

impl OutBuf {
    /// Check the buffer. NULL is accepted with `cap == 0`: the caller is asking for the size.
    ///
    /// # Safety
    ///
    /// Unless `cap == 0`, `ptr` must be valid for writes of `cap` bytes for as long as the
    /// returned value lives.
    pub(crate) unsafe fn new(ptr: *mut u8, cap: usize) -> FfiResult<OutBuf> {
        if cap != 0 && ptr.is_null() {
            return Err(cpchain_result::NullParameter);
        }
        if cap > MAX_SLICE_LEN {
            return Err(cpchain_result::InvalidParameter);
        }
        Ok(OutBuf { ptr, cap })
    }

    /// The start of the buffer, for overlap checks.
    pub(crate) fn start(&self) -> *const u8 {
        self.ptr
    }

    /// Capacity in bytes.
    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    /// Copy `data` to the start of the buffer, or report the size needed. `memmove`
    /// semantics: `data` may overlap the buffer.
    pub(crate) fn write(&self, data: &[u8], out_len: Option<&OutPtr<usize>>) -> FfiResult {
        if data.len() > self.cap {
            if let Some(o) = out_len {
                o.set(data.len());
            }
            return Err(cpchain_result::InsufficientSize);
        }
        if !data.is_empty() {
            // SAFETY: data.len() <= cap, and `new`'s caller guaranteed `cap` writable bytes
            // at the non-NULL (cap > 0 here) ptr; `copy` tolerates overlap.
            unsafe { core::ptr::copy(data.as_ptr(), self.ptr, data.len()) };
        }
        if let Some(o) = out_len {
            o.set(data.len());
        }
        Ok(())
    }

    /// Write a fixed-size result (a digest, an address): it must fit entirely.
    pub(crate) fn write_fixed(&self, data: &[u8]) -> FfiResult {
        self.write(data, None)
    }

    /// Write `text` and a NUL. On success `*out_len` is the text length (as `strlen`); on a
    /// too-small buffer it is the size needed, NUL included.
    pub(crate) fn write_c_str(&self, text: &str, out_len: OutPtr<usize>) -> FfiResult {
        let needed = text.len().saturating_add(1);
        if needed > self.cap {
            out_len.set(needed);
            return Err(cpchain_result::InsufficientSize);
        }
        self.write(text.as_bytes(), None)?;
        // SAFETY: text.len() < cap, so the byte after the text is inside the buffer.
        unsafe { self.ptr.wrapping_add(text.len()).write(0) };
        out_len.set(text.len());
        Ok(())
    }

    /// The whole buffer as a Rust slice, for encoders that write in place (no staging copy).
    /// The bytes are zeroed first, so the slice never exposes uninitialised C memory.
    pub(crate) fn zeroed_slice(&mut self) -> &mut [u8] {
        if self.cap == 0 {
            return &mut [];
        }
        // SAFETY: `new`'s caller guaranteed `cap` writable bytes at a non-NULL `ptr`.
        unsafe { core::ptr::write_bytes(self.ptr, 0, self.cap) };
        // SAFETY: the `cap` bytes are now initialised, cap <= isize::MAX (checked in `new`),
        // and `&mut self` keeps any other view of the buffer from this OutBuf away.
        unsafe { core::slice::from_raw_parts_mut(self.ptr, self.cap) }
    }

    /// Write `data` at byte offset `at`; the caller has checked `at + data.len() <= cap`.
    pub(crate) fn write_at(&self, at: usize, data: &[u8]) -> FfiResult {
        let end = at
            .checked_add(data.len())
            .ok_or(cpchain_result::InvalidParameter)?;
        if end > self.cap {
            return Err(cpchain_result::InsufficientSize);
        }
        if !data.is_empty() {
            // SAFETY: at + data.len() <= cap, inside the buffer `new`'s caller vouched for;
            // `copy` tolerates overlap.
            unsafe { core::ptr::copy(data.as_ptr(), self.ptr.wrapping_add(at), data.len()) };
        }
        Ok(())
    }
}

/// A mutable handle's state: exclusive use, checked at run time, and poisoning.
///
/// Mutable handles (a data-chain writer, a validator) are single-threaded: C may move one
/// between threads but must not call into it from two at once. Rather than trust that, each
/// call takes the handle with a compare-and-swap; a concurrent call gets
/// `CPCHAIN_RESULT_HANDLE_BUSY` instead of undefined behaviour. A call that panics (an SDK
/// bug) leaves the state machine possibly half-updated, so the handle is poisoned: every
/// later call returns `CPCHAIN_RESULT_HANDLE_POISONED`; only `_free` remains valid.
pub(crate) struct Exclusive<T> {
    state: core::sync::atomic::AtomicU8,
    inner: core::cell::UnsafeCell<T>,
}

const IDLE: u8 = 0;
const BUSY: u8 = 1;
const POISONED: u8 = 2;

// SAFETY: access to `inner` is serialised by `state` (one guard at a time), so sharing the
// wrapper between threads only ever hands `&mut T` to one thread at a time; T: Send suffices.
unsafe impl<T: Send> Sync for Exclusive<T> {}

impl<T> Exclusive<T> {
    /// Wrap a fresh state machine.
    #[inline(always)]
    pub(crate) fn new(inner: T) -> Self {
        Exclusive {
            state: core::sync::atomic::AtomicU8::new(IDLE),
            inner: core::cell::UnsafeCell::new(inner),
        }
    }

    /// Take the handle for one call.
    pub(crate) fn lock(&self) -> FfiResult<ExclusiveGuard<'_, T>> {
        use core::sync::atomic::Ordering;
        match self
            .state
            .compare_exchange(IDLE, BUSY, Ordering::Acquire, Ordering::Relaxed)
        {
            Ok(_) => Ok(ExclusiveGuard { owner: self }),
            Err(POISONED) => Err(cpchain_result::HandlePoisoned),
            Err(_) => Err(cpchain_result::HandleBusy),
        }
    }

    /// Has a call panicked inside this handle?
    #[cfg(test)]
    pub(crate) fn is_poisoned(&self) -> bool {
        self.state.load(core::sync::atomic::Ordering::Relaxed) == POISONED
    }
}

/// One call's exclusive access; released (or poisoned, if unwinding) when dropped.
pub(crate) struct ExclusiveGuard<'a, T> {
    owner: &'a Exclusive<T>,
}

impl<T> core::ops::Deref for ExclusiveGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while `state` is BUSY, set by our CAS: no other
        // reference to `inner` exists.
        unsafe { &*self.owner.inner.get() }
    }
}

impl<T> core::ops::DerefMut for ExclusiveGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only borrow through the guard.
        unsafe { &mut *self.owner.inner.get() }
    }
}

impl<T> Drop for ExclusiveGuard<'_, T> {
    fn drop(&mut self) {
        // Without std a panic never unwinds (the panic hook does not return), so a guard
        // is only ever dropped on a normal return.
        #[cfg(feature = "std")]
        let next = if std::thread::panicking() {
            POISONED
        } else {
            IDLE
        };
        #[cfg(not(feature = "std"))]
        let next = IDLE;
        self.owner
            .state
            .store(next, core::sync::atomic::Ordering::Release);
    }
}

/// An output taken from a machine and converted for C: the bytes that go to the caller's
/// buffer (the kind and info beside them are the handle's own business).
#[cfg_attr(not(feature = "alloc"), allow(dead_code))] // the validator and sharing handles use it
pub(crate) trait PolledBytes {
    /// The bytes for the caller's buffer.
    fn bytes(&self) -> &[u8];
}

/// The one pending-output wrapper of every C handle whose machine has outputs (issue 13):
/// the machine and the output it handed out that did not fit the caller's buffer yet,
/// which the next poll hands out again, so a too-small buffer loses nothing.
#[cfg_attr(not(feature = "alloc"), allow(dead_code))] // the validator and sharing handles use it
pub(crate) struct Driven<M, P> {
    /// The machine (any `cpchain_core::machine::Machine`, or a hand-rolled one).
    pub(crate) machine: M,
    pending: Option<P>,
}

#[cfg_attr(not(feature = "alloc"), allow(dead_code))] // the validator and sharing handles use it
impl<M, P: PolledBytes> Driven<M, P> {
    /// Wrap `machine` with nothing pending.
    pub(crate) fn new(machine: M) -> Self {
        Driven {
            machine,
            pending: None,
        }
    }

    /// Hand out the pending output, or take the next one with `next` (the handle's
    /// `poll_output` and conversion); write its bytes to `out` and their length to
    /// `out_len`. Returns the output so the caller can report its kind and info.
    /// `NoOutput` (with `*out_len` 0) when there is none; `InsufficientSize` (with the size
    /// needed in `*out_len`) keeps it pending.
    pub(crate) fn poll_into(
        &mut self,
        next: impl FnOnce(&mut M) -> Option<FfiResult<P>>,
        out: &OutBuf,
        out_len: &OutPtr<usize>,
    ) -> FfiResult<P> {
        let p = match self.pending.take() {
            Some(p) => p,
            None => match next(&mut self.machine) {
                Some(p) => p?,
                None => {
                    out_len.set(0);
                    return Err(cpchain_result::NoOutput);
                }
            },
        };
        if let Err(e) = out.write(p.bytes(), Some(out_len)) {
            self.pending = Some(p);
            return Err(e);
        }
        Ok(p)
    }
}

/// The C form of `Machine::next_deadline`, shared by every handle: `*has_deadline` false
/// means no timer is needed; otherwise `*deadline_ms` is when to call `_handle_timeout`.
///
/// # Safety
///
/// `has_deadline` and `deadline_ms` writable (NULL is refused).
#[cfg_attr(not(feature = "alloc"), allow(dead_code))] // the validator and sharing handles use it
pub(crate) unsafe fn write_deadline(
    next: Option<cpchain_core::Timestamp>,
    has_deadline: *mut bool,
    deadline_ms: *mut u64,
) -> FfiResult {
    // SAFETY: forwarded from this function's contract.
    let has = unsafe { OutPtr::new(has_deadline) }?;
    // SAFETY: forwarded from this function's contract.
    let at = unsafe { OutPtr::new(deadline_ms) }?;
    has.set(next.is_some());
    at.set(next.map_or(0, |t| t.as_millis()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_inside_the_boundary_becomes_a_code() {
        fn boom(x: Option<u8>) -> cpchain_result {
            ffi_boundary! {
                #[allow(clippy::unwrap_used)]
                let _ = x.unwrap();
                Ok(())
            }
        }
        assert_eq!(boom(None), cpchain_result::Panic);
        assert_eq!(boom(Some(1)), cpchain_result::Ok);
    }

    #[test]
    fn void_boundary_swallows_panics() {
        fn boom() {
            ffi_boundary_void! {
                let v: Vec<u8> = Vec::new();
                #[allow(clippy::indexing_slicing)]
                let _ = v[3];
            }
        }
        boom();
    }

    #[test]
    fn a_panic_poisons_an_exclusive_handle() {
        let h = Exclusive::new(5u32);
        fn bump(h: &Exclusive<u32>, boom: bool) -> cpchain_result {
            ffi_boundary! {
                let mut g = h.lock()?;
                *g += 1;
                if boom {
                    #[allow(clippy::panic)]
                    { panic!("simulated SDK bug") }
                }
                Ok(())
            }
        }
        assert_eq!(bump(&h, false), cpchain_result::Ok);
        {
            let _held = h.lock().unwrap();
            assert!(matches!(h.lock(), Err(cpchain_result::HandleBusy)));
        }
        assert_eq!(bump(&h, true), cpchain_result::Panic);
        assert!(h.is_poisoned());
        assert_eq!(bump(&h, false), cpchain_result::HandlePoisoned);
    }

    #[test]
    fn overlap_arithmetic() {
        let a = 100 as *const u8;
        assert!(overlaps(a, 10, (105) as *const u8, 10));
        assert!(!overlaps(a, 10, (110) as *const u8, 10));
        assert!(!overlaps(a, 0, a, 10));
        assert!(overlaps(
            (usize::MAX - 1) as *const u8,
            5,
            (usize::MAX - 1) as *const u8,
            5
        ));
    }

    #[test]
    fn null_and_length_checks() {
        // SAFETY: NULL with len 0 is allowed and reads nothing.
        let empty = unsafe { input(core::ptr::null(), 0) };
        assert_eq!(empty, Ok(&[][..]));
        // SAFETY: the helper refuses NULL before reading.
        let null = unsafe { input(core::ptr::null(), 3) };
        assert_eq!(null, Err(cpchain_result::NullParameter));
        let x = [1u8; 4];
        // SAFETY: the helper refuses the huge length before reading.
        let huge = unsafe { input(x.as_ptr(), usize::MAX) };
        assert_eq!(huge, Err(cpchain_result::InvalidParameter));
        // SAFETY: x is 4 readable bytes.
        let short = unsafe { input_array::<5>(x.as_ptr(), 4) };
        assert_eq!(short, Err(cpchain_result::InvalidLength));
        // SAFETY: the helper refuses NULL.
        let null_out = unsafe { OutPtr::<usize>::new(core::ptr::null_mut()) };
        assert!(null_out.is_err());
        let mut words = [0usize; 2];
        let misaligned = words
            .as_mut_ptr()
            .cast::<u8>()
            .wrapping_add(1)
            .cast::<usize>();
        // SAFETY: the helper refuses the misaligned pointer before writing.
        let bad = unsafe { OutPtr::new(misaligned) };
        assert!(matches!(bad, Err(cpchain_result::InvalidParameter)));
    }

    #[test]
    fn out_buf_reports_needed_size_and_writes_nothing() {
        let mut buf = [0xaau8; 4];
        let mut needed = 0usize;
        // SAFETY: buf is 4 writable bytes.
        let out = unsafe { OutBuf::new(buf.as_mut_ptr(), buf.len()) }.unwrap();
        // SAFETY: needed is a writable usize.
        let len = unsafe { OutPtr::new(&mut needed) }.unwrap();
        assert_eq!(
            out.write_c_str("abcd", len),
            Err(cpchain_result::InsufficientSize)
        );
        assert_eq!(needed, 5);
        assert_eq!(buf, [0xaa; 4]);
    }
}
