//! CPChain consensus: the LBFT 2.0 validator state machine (normal case and impeachment,
//! white paper §2.4), Dynamic Proof of Reputation (RNode admission, RPT scoring, proposer
//! committee election, rewards; §2.3 and §5.1).
//!
//! # LBFT
//!
//! [`lbft`] is the control layer: a sans-IO [`lbft::Validator`] per committee member
//! (inputs `handle_message`, `handle_timeout`, `block_checked`, `propose`; outputs drained
//! from `poll_output`: broadcasts, `Persist` before any dependent send, content checks,
//! committed blocks with their certificates, and faults as evidence), the wire messages
//! (tags `0x0200`–`0x0207`), and light verification of VALIDATE messages for ordinary
//! nodes ([`lbft::light`]). A fault's evidence crosses the wire as an
//! [`evidence::Evidence`] (tag `0x0208`) that anyone holding the committee checks with
//! [`evidence::verify_evidence`]. It is Byzantine-safe where the paper's rule is not: impeach
//! certificates need `2f + 1` by default, and heights have Tendermint-style rounds with
//! locks. The safety and liveness arguments, with the tests guarding each invariant, are
//! in the [`lbft`] module docs.
//!
//! # DPoR
//! [`dpor`] decides who proposes: RNode pools and admission proofs, RPT reputation, the
//! seeded committee election at each term checkpoint, the per-height proposer
//! [`dpor::Schedule`] the LBFT engine consumes (it implements `lbft::ProposerSchedule`), block and economy-pool rewards, the §4 free
//! transaction quota and the §2.6.3 DDoS whitelist. All of it is integer-only and
//! deterministic; see the module docs for the rules and the deviations from mainnet.
//!
//! # Simulator
//!
//! The deterministic simulator that drives these machines under a nemesis is its own crate,
//! `cpchain-sim` (std only), so this crate stays `no_std` without exceptions.
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
pub mod evidence;
pub mod lbft;
