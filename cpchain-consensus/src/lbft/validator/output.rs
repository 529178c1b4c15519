//! What a validator hands its host: outputs, fault evidence, the paper's states and the
//! work counters.

use super::Persisted;
use crate::lbft::block::{Block, BlockId, Header};
use crate::lbft::error::BlockError;
use crate::lbft::message::{Message, Proposal};
use crate::lbft::vote::{Certificate, Vote};
use cpchain_core::{Address, Height};
use cpchain_crypto::Signature;

/// What the host must do, drained with [`Validator::poll_output`](super::Validator::poll_output) in order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum Output {
    /// Send to every validator (a VALIDATE also to every node, §2.4.2 step 4).
    Broadcast(Message),
    /// Send to one peer: a recent VALIDATE to a validator whose round change (or
    /// re-broadcast VALIDATE) shows it is behind — catch-up. At most once per peer and
    /// height in each of this validator's rounds, so a lost answer is repeated a round
    /// later while a Byzantine peer gets at most `catch_up_heights` blocks per round.
    Send {
        /// The peer, as named by the transport.
        to: Address,
        /// What to send.
        msg: Message,
    },
    /// Write durably before acting on any later output.
    Persist(Persisted),
    /// Judge the transactions of this proposal and answer with
    /// [`Validator::block_checked`](super::Validator::block_checked). The engine prepares only after a positive answer.
    CheckBlock {
        /// Height of the proposal.
        height: Height,
        /// The block to judge.
        block: Block,
    },
    /// A block is final: insert it into the chain (§2.4.2 step 4).
    Commit {
        /// The decided block.
        block: Block,
        /// Its C-certificate.
        certificate: Certificate,
    },
    /// A peer misbehaved; the evidence is for DPoR's punishment.
    Fault(Fault),
}

/// Evidence of misbehaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum Fault {
    /// Two signed votes of one phase for different blocks in one round of a height
    /// (PREPARE vs PREPARE, or PREPARE vs IMPEACH PREPARE; likewise for COMMIT). Both
    /// votes verify, so the evidence convinces anyone.
    Equivocation {
        /// The vote seen first.
        first: Vote,
        /// The conflicting vote.
        second: Vote,
    },
    /// The proposer sealed two different blocks for one height.
    ProposerEquivocation {
        /// First sealed header.
        first: Header,
        /// Its seal.
        first_seal: Signature,
        /// Second sealed header.
        second: Header,
        /// Its seal.
        second_seal: Signature,
    },
    /// A round leader signed two different proposals for one round (rounds ≥ 1).
    LeaderEquivocation {
        /// The proposal seen first.
        first: Proposal,
        /// The conflicting one.
        second: Proposal,
    },
    /// A proposal whose seal does not verify; not attributable to the proposer, so only
    /// the transport sender is named.
    BadSeal {
        /// Who delivered it.
        from: Address,
        /// Id of the header.
        block: BlockId,
    },
    /// A correctly sealed but illicit proposal (§2.4.2: triggers impeachment).
    IllicitBlock {
        /// The proposer's header.
        header: Header,
        /// Its (valid) seal: the proof the proposer made it.
        seal: Signature,
        /// What is wrong with it.
        reason: BlockError,
    },
}

/// The paper's five states (§2.4.2, Figure 10), as seen in the current round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Waiting for a proposal.
    Idle,
    /// PREPARE sent.
    Prepare,
    /// COMMIT sent.
    Commit,
    /// IMPEACH PREPARE sent.
    ImpeachPrepare,
    /// IMPEACH COMMIT sent.
    ImpeachCommit,
}

/// Work counters: the benchmark's signature accounting and the bounded-buffer drops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Signatures made.
    pub signs: u64,
    /// Signatures verified against a known validator key.
    pub verifies: u64,
    /// Public keys recovered (proposer seals: proposers are known by address only).
    pub recoveries: u64,
    /// Authenticated future-height messages dropped because the buffer or the sender's
    /// quota was full (in messages or bytes).
    pub dropped_future: u64,
    /// Messages rejected.
    pub rejected: u64,
    /// Blocks decided.
    pub decided: u64,
}
