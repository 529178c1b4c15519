//! What a validator hands its host: outputs, the record it persists, fault evidence, the
//! paper's states and the work counters.

use crate::lbft::block::{Block, BlockId, Header};
use crate::lbft::error::{BlockError, Rejected};
use crate::lbft::message::{LockProof, Message, Proposal};
use crate::lbft::vote::{Certificate, Vote};
use alloc::vec::Vec;
use cpchain_core::machine::{Drops, MachineStats};
use cpchain_core::{Address, Hash, Height, Timestamp, WireMessage};
use cpchain_crypto::Signature;
use serde::{Deserialize, Serialize};

/// What the host must do, drained with [`Validator::poll_output`](super::Validator::poll_output) in order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
#[non_exhaustive]
pub enum ValidatorOutput {
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
        /// `keccak256` of each transaction of the body, in body order: the leaves the
        /// engine hashed to check the header's `tx_root` against this body (so they are
        /// the transactions' hashes), handed over so the host need not hash the body again
        /// to look its transactions up (issue 14). One per transaction: at most
        /// [`MAX_LEAVES_HEAP`](crate::lbft::block::MAX_LEAVES_HEAP) = 2 MiB of heap, held
        /// only while the output waits in the queue (which the budgets do not count: the
        /// host drains it after every input).
        tx_hashes: Vec<Hash>,
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

/// What a validator must keep across a crash: everything it has signed at the current
/// height and round, its lock, and the sealed block it prepared or proposed (version 2,
/// tag `0x0207`; version 1, tag `0x0204`, kept no block but the locked one, so a restarted
/// validator forgot its good copy, issue 12 item 0). A v1 record does not decode (wrong
/// tag): upgrade a validator between heights, not with votes of the current height on
/// disk, since [`Validator::new`](super::Validator::new) at the chain head knows nothing it signed there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Persisted {
    /// Chain id, checked on restore.
    pub chain_id: u64,
    /// The last decided block's header; the current height is the next.
    pub parent: Header,
    /// Current round.
    pub round: u32,
    /// When the current round started.
    pub round_start: Timestamp,
    /// Own PREPARE / IMPEACH PREPARE in the current round.
    pub prepared: Option<Vote>,
    /// Own COMMIT / IMPEACH COMMIT in the current round.
    pub committed: Option<Vote>,
    /// Own lock and the P-certificate behind it.
    pub lock: Option<(u32, LockProof)>,
    /// The sealed normal block of this height this validator prepared in the current
    /// round, or else the PRE-PREPARE it holds (its own, if it proposed), unless it is the
    /// locked block (kept above). Restored only if its seal is valid, so a restarted
    /// validator commits its good copy when the COMMITs arrive.
    pub prepared_block: Option<Block>,
    /// Whether this node sealed a proposal at this height (a second one is equivocation).
    pub proposed: bool,
    /// Whether this node sent its leader proposal in the current round.
    pub led: bool,
}

impl WireMessage for Persisted {
    const TAG: u16 = 0x0207;
    const MAX_ENCODED_LEN: usize =
        <Message as WireMessage>::MAX_ENCODED_LEN + <Block as WireMessage>::MAX_ENCODED_LEN + 1024;
}

/// Evidence of misbehaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
#[non_exhaustive]
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
    /// A PRE-PREPARE of the scheduled proposer, for this chain, height and parent, whose
    /// seal does not verify. **No evidence a third party can check exists**, so none is
    /// carried and DPoR must not punish on it: the seal does not recover to the proposer,
    /// so nothing shows the proposer made the message (anyone can put any 65 bytes beside
    /// a header it has seen), and `from` is the transport's name for the peer that handed
    /// it over, authenticated to this node only by its link (no signature of `from`
    /// covers the message), so not even the deliverer can be shown to anyone else. It
    /// stays an output for the host's own view of its peers (the same drop is counted as
    /// [`ValidatorDrop::Block`] and returned as [`Verdict::Reject`]).
    BadSeal {
        /// Who delivered it, as this node's transport names the peer.
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

impl Fault {
    /// A short name of the offence, for logs and displays (hosts print it without matching
    /// every variant of this growing enum).
    pub fn name(&self) -> &'static str {
        match self {
            Fault::Equivocation { .. } => "vote equivocation",
            Fault::ProposerEquivocation { .. } => "proposer equivocation",
            Fault::LeaderEquivocation { .. } => "leader equivocation",
            Fault::BadSeal { .. } => "bad seal",
            Fault::IllicitBlock { .. } => "illicit block",
        }
    }
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

/// Work counters ([`Machine::stats`](cpchain_core::machine::Machine::stats)): the
/// benchmark's signature accounting, decisions, and every dropped peer message by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Signatures made.
    pub signs: u64,
    /// Signatures verified against a known validator key.
    pub verifies: u64,
    /// Public keys recovered (proposer seals: proposers are known by address only).
    pub recoveries: u64,
    /// Blocks decided.
    pub decided: u64,
    /// Block bodies hashed to check a header's `tx_root` (issue 14: once per block taken
    /// in, whatever the path).
    pub body_hashes: u64,
    /// Peer messages dropped, by [`ValidatorDrop`] reason (also those replayed from the
    /// future buffer when their height came and then refused).
    pub dropped: Drops<VALIDATOR_DROP_REASONS>,
}

impl Stats {
    /// How many peer messages were dropped for `reason`.
    pub fn dropped_for(&self, reason: ValidatorDrop) -> u64 {
        self.dropped.get(reason as usize)
    }
}

impl MachineStats for Stats {
    fn dropped(&self) -> u64 {
        self.dropped.total()
    }
}

/// Why the validator dropped a peer's message: the index into [`Stats::dropped`], one per
/// variant of [`Rejected`] (whose nested block and certificate errors are counted under
/// [`ValidatorDrop::Block`] and [`ValidatorDrop::Certificate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(usize)]
#[non_exhaustive]
pub enum ValidatorDrop {
    /// [`Rejected::Decode`].
    Decode = 0,
    /// [`Rejected::WrongChain`].
    WrongChain = 1,
    /// [`Rejected::StaleHeight`].
    StaleHeight = 2,
    /// [`Rejected::TooFarAhead`].
    TooFarAhead = 3,
    /// [`Rejected::BufferFull`]: the future buffer or the sender's quota in it was full.
    BufferFull = 4,
    /// [`Rejected::StaleRound`].
    StaleRound = 5,
    /// [`Rejected::NotMember`].
    NotMember = 6,
    /// [`Rejected::BadSignature`].
    BadSignature = 7,
    /// [`Rejected::KindMismatch`].
    KindMismatch = 8,
    /// [`Rejected::Duplicate`].
    Duplicate = 9,
    /// [`Rejected::Equivocation`] (also a [`Fault::Equivocation`]).
    Equivocation = 10,
    /// [`Rejected::Block`]: any [`BlockError`].
    Block = 11,
    /// [`Rejected::Certificate`]: any certificate error.
    Certificate = 12,
    /// [`Rejected::ConflictingProposal`] (also a proposer or leader equivocation fault).
    ConflictingProposal = 13,
    /// [`Rejected::TooManyBlocks`].
    TooManyBlocks = 14,
    /// [`Rejected::Unexpected`].
    Unexpected = 15,
}

/// Number of [`ValidatorDrop`] reasons.
pub const VALIDATOR_DROP_REASONS: usize = 16;

impl Rejected {
    /// The counter this rejection is counted under.
    pub fn drop_reason(&self) -> ValidatorDrop {
        match self {
            Rejected::Decode(_) => ValidatorDrop::Decode,
            Rejected::WrongChain => ValidatorDrop::WrongChain,
            Rejected::StaleHeight => ValidatorDrop::StaleHeight,
            Rejected::TooFarAhead => ValidatorDrop::TooFarAhead,
            Rejected::BufferFull => ValidatorDrop::BufferFull,
            Rejected::StaleRound => ValidatorDrop::StaleRound,
            Rejected::NotMember => ValidatorDrop::NotMember,
            Rejected::BadSignature => ValidatorDrop::BadSignature,
            Rejected::KindMismatch => ValidatorDrop::KindMismatch,
            Rejected::Duplicate => ValidatorDrop::Duplicate,
            Rejected::Equivocation => ValidatorDrop::Equivocation,
            Rejected::Block(_) => ValidatorDrop::Block,
            Rejected::Certificate(_) => ValidatorDrop::Certificate,
            Rejected::ConflictingProposal => ValidatorDrop::ConflictingProposal,
            Rejected::TooManyBlocks => ValidatorDrop::TooManyBlocks,
            Rejected::Unexpected => ValidatorDrop::Unexpected,
        }
    }

    /// Whether the message is invalid in itself, so that no honest peer relays it
    /// (gossipsub `Reject`: penalise the peer that delivered it), rather than merely of no
    /// use here now (gossipsub `Ignore`: stale, ahead, already held, over a local budget,
    /// or for another chain, height or parent, which an honest relay at another height may
    /// forward). A validly signed conflicting message (an equivocation) is not the
    /// deliverer's doing: `Ignore`, and the signer's evidence comes out as a [`Fault`].
    pub fn blames_sender(&self) -> bool {
        match self {
            Rejected::Decode(_)
            | Rejected::NotMember
            | Rejected::BadSignature
            | Rejected::KindMismatch
            | Rejected::Certificate(_)
            | Rejected::Unexpected => true,
            Rejected::Block(e) => !matches!(
                e,
                BlockError::WrongChain | BlockError::WrongHeight | BlockError::WrongParent
            ),
            Rejected::WrongChain
            | Rejected::StaleHeight
            | Rejected::TooFarAhead
            | Rejected::BufferFull
            | Rejected::StaleRound
            | Rejected::Duplicate
            | Rejected::Equivocation
            | Rejected::ConflictingProposal
            | Rejected::TooManyBlocks => false,
        }
    }
}

/// What became of a peer's message ([`Validator::handle_message`](super::Validator::handle_message)):
/// not an error of the caller, but the host's input for scoring the peer that delivered it,
/// shaped after gossipsub's message acceptance (`Accept`, `Ignore`, `Reject`). Every drop
/// is also counted in [`Stats::dropped`] by its [`ValidatorDrop`] reason, and the state is
/// unchanged apart from counters and `Fault` outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Taken in: it authenticated and changed the state, or was buffered for its later
    /// height. Relay it.
    Accept,
    /// Dropped without blame on the deliverer ([`Rejected::blames_sender`] is false):
    /// do not relay, do not penalise.
    Ignore(Rejected),
    /// Dropped as invalid in itself ([`Rejected::blames_sender`]): do not relay; the peer
    /// that delivered it relayed what no honest node relays.
    Reject(Rejected),
}

impl Verdict {
    /// The verdict on a message refused for `why`.
    pub fn of(why: Rejected) -> Verdict {
        if why.blames_sender() {
            Verdict::Reject(why)
        } else {
            Verdict::Ignore(why)
        }
    }

    /// Whether the message was taken in.
    pub fn is_accept(&self) -> bool {
        matches!(self, Verdict::Accept)
    }

    /// Why the message was dropped, if it was.
    pub fn rejected(&self) -> Option<Rejected> {
        match self {
            Verdict::Accept => None,
            Verdict::Ignore(r) | Verdict::Reject(r) => Some(*r),
        }
    }
}
