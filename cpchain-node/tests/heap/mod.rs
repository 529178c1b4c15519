//! The counting allocator of the memory-bound tests (`mod heap;` in each test file that
//! states a byte bound): the process's allocations go through `stats_alloc`, and a test
//! reads the live heap before and after what it measures.

#![allow(dead_code)]

use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use std::sync::{Mutex, MutexGuard, PoisonError};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The counter is process-wide and cargo runs a binary's tests on parallel threads: a
/// test that measures holds this for its whole run.
static SERIAL: Mutex<()> = Mutex::new(());

/// One measuring test at a time (a panicked holder left nothing to repair).
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Live heap bytes of the process.
pub fn live() -> isize {
    let s = GLOBAL.stats();
    s.bytes_allocated as isize - s.bytes_deallocated as isize
}

/// Bytes allocated since the start, freed or not (what a call allocates in all, peaks
/// included).
pub fn allocated() -> usize {
    GLOBAL.stats().bytes_allocated
}
