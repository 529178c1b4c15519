//! CPChain consensus: the LBFT 2.0 validator state machine (normal case and impeachment,
//! white paper §2.4), Dynamic Proof of Reputation (RNode admission, RPT scoring, proposer
//! committee election, rewards; §2.3 and §5.1) and a deterministic network simulator.
//!
//! Feature `sim` (host only) adds [`sim`], a seeded discrete-event simulator with a nemesis
//! that drives any sans-IO state machine, and the LBFT adapter with its checkers.
#![no_std]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

#[cfg(any(feature = "sim", test))]
extern crate alloc;
#[cfg(feature = "sim")]
extern crate std;

#[cfg(feature = "sim")]
pub mod sim;
