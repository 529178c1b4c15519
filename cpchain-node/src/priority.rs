//! Scheduling priority of the node's background work.
//!
//! Under overload a node is offered more transactions than the network can commit. What
//! it must not do then is starve its own consensus: recovering the senders of transactions
//! that no block carries yet (a gossiped batch, a `POST /txs`) is work that can wait, while
//! a proposal, a vote or a VALIDATE that waits past the impeach timeout costs the whole
//! network a height. Measured on the loopback devnet (7 validator processes on 2 cores,
//! docs/BENCHMARKS.md "Host node"): offered more than they could recover, the recovery
//! threads took the cores from the node loops, rounds ran past the 3 s impeach timeout and
//! the committed rate collapsed (1,657 tx/s offered, 68 committed, 3 heights impeached);
//! with intake at background priority the same offer commits at the rate the cores allow.
//!
//! So the threads that recover intake run at a lower priority (nice
//! [`BACKGROUND_NICE`]): the consensus loop, and the recovery of a proposal's unseen
//! transactions it does itself on `CheckBlock`, run first; intake takes what is left. The
//! recovered rate then follows what the cores can give, and the pool and the API's refusal
//! (`mempool_full`) bound the backlog.
//!
//! Linux only (`setpriority(PRIO_PROCESS, tid)` is per thread there, and threads the lowered
//! thread creates inherit it); elsewhere it does nothing. Raising a thread's nice value needs
//! no privilege; it is never lowered back (the blocking pool's threads do nothing else).

/// One background recovery at a time per process (each over every core, on the intake
/// worker pool of [`crate::ingest::recover_owned`]): without it every gossiped batch and every `POST /txs`
/// in flight recovered on threads of its own, so a loaded 4-validator devnet on 2 cores ran
/// dozens of recovery threads at once (load averages of 20-50) and each recovery cost about
/// a third more CPU than on a quiet core (65 µs against 47.6 µs measured, the cache
/// refilled at every switch). Waiting threads cost no CPU; the gossip slots and the pool's
/// shed threshold bound how many wait.
static BACKGROUND: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Hold this while recovering intake on a background thread: the one background recovery
/// of this process (a poisoned lock is still a lock: the guarded data is `()`).
pub fn background_turn() -> std::sync::MutexGuard<'static, ()> {
    BACKGROUND
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The nice value of intake recovery threads (0 is the default, 19 the lowest priority).
pub const BACKGROUND_NICE: i32 = 10;

/// Run the calling thread (and the threads it creates afterwards) at [`BACKGROUND_NICE`].
/// Returns whether the priority was set.
pub fn lower_this_thread() -> bool {
    #[cfg(target_os = "linux")]
    {
        rustix::process::setpriority_process(Some(rustix::thread::gettid()), BACKGROUND_NICE)
            .is_ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// The calling thread's nice value (Linux; `None` elsewhere or on error).
pub fn this_thread_nice() -> Option<i32> {
    #[cfg(target_os = "linux")]
    {
        rustix::process::getpriority_process(Some(rustix::thread::gettid())).ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn a_lowered_thread_and_its_children_run_at_background_nice_and_others_do_not() {
        let before = this_thread_nice();
        let (own, child) = std::thread::spawn(|| {
            assert!(lower_this_thread(), "setpriority refused");
            let own = this_thread_nice();
            let child = std::thread::spawn(this_thread_nice)
                .join()
                .expect("child thread");
            (own, child)
        })
        .join()
        .expect("thread");
        assert_eq!(own, Some(BACKGROUND_NICE));
        assert_eq!(
            child,
            Some(BACKGROUND_NICE),
            "threads it creates inherit it"
        );
        assert_eq!(this_thread_nice(), before, "other threads keep theirs");
    }
}
