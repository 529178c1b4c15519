//! CPChain consensus: the LBFT 2.0 validator state machine (normal case and impeachment,
//! white paper §2.4), Dynamic Proof of Reputation (RNode admission, RPT scoring, proposer
//! committee election, rewards; §2.3 and §5.1) and a deterministic network simulator.
//!
//! # DPoR
//! [`dpor`] decides who proposes: RNode pools and admission proofs, RPT reputation, the
//! seeded committee election at each term checkpoint, the per-height proposer
//! [`dpor::Schedule`] the LBFT engine consumes, block and economy-pool rewards, the §4 free
//! transaction quota and the §2.6.3 DDoS whitelist. All of it is integer-only and
//! deterministic; see the module docs for the rules and the deviations from mainnet.
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

extern crate alloc;

pub mod dpor;
