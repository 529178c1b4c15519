//! CPChain consensus: the LBFT 2.0 validator state machine (normal case and impeachment,
//! white paper §2.4), Dynamic Proof of Reputation (RNode admission, RPT scoring, proposer
//! committee election, rewards; §2.3 and §5.1) and a deterministic network simulator.
//!
//! This crate is being filled by the LBFT, DPoR and simulator issues; it holds nothing yet.
#![no_std]
