//! What every simulated LBFT node may know: public chain parameters, the committee, the
//! schedule, who is where. Secret keys are not here: each node gets only its own.

use crate::NodeId;
use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::fmt;
use cpchain_consensus::lbft::{
    Block, BlockId, Certificate, FixedSchedule, Header, ImpeachQuorum, Message, Phase, Validate,
    ValidatorSet, Vote,
};
use cpchain_core::{Address, ChainSpec, Duration, Height};

/// A transaction the simulated hosts judge invalid: a block carrying one is illicit.
pub const ILLICIT_TX: &[u8] = b"ILLICIT";

/// A message between simulated nodes.
#[derive(Clone)]
pub enum SimMsg {
    /// An LBFT message, shared between the copies of a broadcast.
    Lbft(Rc<Message>),
    /// Host-level block sync: "my next height is this"; a peer that is ahead answers with
    /// the VALIDATE messages of the heights the sender lacks (the catch-up path of the
    /// engine: a lagging node is fed certificates for old heights).
    Status(Height),
}

fn short(h: &cpchain_core::Hash) -> alloc::string::String {
    h.as_bytes()
        .iter()
        .take(3)
        .map(|b| alloc::format!("{b:02x}"))
        .collect()
}

impl fmt::Debug for SimMsg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimMsg::Status(h) => write!(f, "Status(next h{})", h.0),
            SimMsg::Lbft(m) => match &**m {
                Message::PrePrepare(b) => write!(
                    f,
                    "PRE-PREPARE h{} {}{}",
                    b.header.height.0,
                    short(&b.id()),
                    if b.transactions.iter().any(|t| t.as_slice() == ILLICIT_TX) {
                        " (illicit)"
                    } else {
                        ""
                    }
                ),
                Message::Proposal(p) => write!(
                    f,
                    "PROPOSAL h{} r{} {}{} pol={:?}",
                    p.height.0,
                    p.round,
                    short(&p.block.id()),
                    if p.block.is_impeach() {
                        " (impeach)"
                    } else {
                        ""
                    },
                    p.proof_of_lock.as_ref().map(|c| c.round)
                ),
                Message::Vote(v) => write!(
                    f,
                    "{:?} h{} r{} {} by {}",
                    v.kind,
                    v.height.0,
                    v.round,
                    short(&v.block),
                    v.voter
                ),
                Message::RoundChange(rc) => write!(
                    f,
                    "ROUND-CHANGE h{} r{} lock={:?} by {}",
                    rc.height.0,
                    rc.round,
                    rc.lock
                        .as_ref()
                        .map(|l| (l.certificate.round, short(&l.block.id()))),
                    rc.voter
                ),
                Message::Validate(v) => write!(
                    f,
                    "VALIDATE h{} r{} {}{} ({} sigs)",
                    v.block.header.height.0,
                    v.certificate.round,
                    short(&v.block.id()),
                    if v.block.is_impeach() {
                        " (impeach)"
                    } else {
                        ""
                    },
                    v.certificate.signatures.len()
                ),
            },
        }
    }
}

/// A durable record of a simulated node.
#[derive(Debug, Clone)]
pub enum Record {
    /// The engine's last `ValidatorOutput::Persist`.
    Engine(Rc<cpchain_consensus::lbft::Persisted>),
    /// A decided block with its certificate (the host's chain).
    Block(Rc<Message>),
}

/// Which fault an honest node reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FaultClass {
    /// Two votes of one phase in one round.
    Equivocation,
    /// Two sealed proposals at one height.
    ProposerEquivocation,
    /// A sealed illicit proposal.
    IllicitBlock,
    /// A proposal with a bad seal.
    BadSeal,
    /// A fault kind added to the engine after this adapter (it names no culprit here, so
    /// the false-accusation checker cannot misjudge it).
    Other,
}

/// What simulated LBFT nodes report to the checkers.
#[derive(Debug, Clone)]
pub enum Event {
    /// A node decided (validators) or accepted (light nodes) a block.
    Committed {
        /// Its height.
        height: Height,
        /// Its id.
        block: BlockId,
        /// Whether it is an impeach block.
        impeach: bool,
        /// The round of its certificate.
        round: u32,
        /// Whether an independent light verification of block and certificate against the
        /// node's previous block succeeded (the validity checker).
        certified: bool,
    },
    /// An honest validator broadcast its own vote (the equivocation checker).
    Signed {
        /// Height.
        height: Height,
        /// Round.
        round: u32,
        /// Phase.
        phase: Phase,
        /// Block.
        block: BlockId,
    },
    /// An honest node reported a fault.
    Fault {
        /// What kind.
        class: FaultClass,
        /// Whom the evidence accuses (`None` for a bad seal: unattributable).
        culprit: Option<Address>,
        /// Height, round and phase of the offence (round and phase only for votes).
        height: Height,
        /// Round (votes), else 0.
        round: u32,
        /// Phase (votes).
        phase: Option<Phase>,
    },
    /// An honest validator was handed both halves of an equivocation while it could judge
    /// them, and its engine did not report it (the detection checker).
    MissedDetection {
        /// The equivocator.
        culprit: Address,
        /// Height.
        height: Height,
        /// Round.
        round: u32,
    },
    /// A Byzantine validator signed two different votes of one phase in one round, or
    /// sealed two blocks at one height (ground truth for the detection summary).
    Equivocated {
        /// Height.
        height: Height,
        /// Round (0 for proposals).
        round: u32,
        /// Phase; `None` for a proposer's double seal.
        phase: Option<Phase>,
    },
    /// The scheduled proposer sent its PRE-PREPARE (commit latency starts here).
    Proposed {
        /// Height.
        height: Height,
    },
    /// An honest validator held more on behalf of peers than its budgets allow (the
    /// memory checker): `held` bytes (future buffer + current height + catch-up, as the
    /// engine accounts them) against `bound` (`Config::peer_memory_bound`).
    OverBudget {
        /// Bytes held.
        held: usize,
        /// The bound.
        bound: usize,
    },
}

/// Per block id: the (VALIDATE, parent id) pairs already verified.
type VerifiedCertificates = BTreeMap<BlockId, Vec<(Rc<Validate>, BlockId)>>;

/// The public facts of one simulated chain.
pub struct Shared {
    /// Chain parameters.
    pub spec: ChainSpec,
    /// The committee.
    pub validators: ValidatorSet,
    /// Proposer rotation over the committee.
    pub schedule: FixedSchedule,
    /// Impeach certificate rule in force.
    pub impeach_quorum: ImpeachQuorum,
    /// Node `i`'s address (validators first, in committee order, then light nodes).
    pub addresses: Vec<Address>,
    /// Number of validators (nodes `0..validators` are validators).
    pub n_validators: usize,
    /// Host sync interval.
    pub sync_interval: Duration,
    /// Most VALIDATE messages in one sync answer.
    pub sync_batch: u64,
    /// Verified (block, certificate) pairs: the shared verification cache of the
    /// validity checker, so each distinct certificate is checked once per run.
    verified: RefCell<VerifiedCertificates>,
}

impl Shared {
    /// Collect the facts.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        spec: ChainSpec,
        validators: ValidatorSet,
        schedule: FixedSchedule,
        impeach_quorum: ImpeachQuorum,
        addresses: Vec<Address>,
        n_validators: usize,
        sync_interval: Duration,
        sync_batch: u64,
    ) -> Self {
        Shared {
            spec,
            validators,
            schedule,
            impeach_quorum,
            addresses,
            n_validators,
            sync_interval,
            sync_batch,
            verified: RefCell::new(BTreeMap::new()),
        }
    }

    /// The node id of an address.
    pub fn node_of(&self, a: &Address) -> Option<NodeId> {
        self.validators
            .index_of(a)
            .or_else(|| self.addresses.iter().position(|x| x == a))
    }

    /// Address of node `id`.
    pub fn address(&self, id: NodeId) -> Address {
        self.addresses.get(id).copied().unwrap_or(Address::ZERO)
    }

    /// Light verification of a decided block against its parent, memoised per run. `true`
    /// also means the block's own hash is `id` (a memo entry is stored only under the id
    /// computed from its block, and a hit needs an equal block).
    pub fn certified(
        &self,
        parent: &Header,
        parent_id: BlockId,
        block: &Block,
        id: BlockId,
        certificate: &Certificate,
    ) -> bool {
        if let Some(list) = self.verified.borrow().get(&id) {
            if list
                .iter()
                .any(|(v, p)| *p == parent_id && v.block == *block && v.certificate == *certificate)
            {
                return true;
            }
        }
        let v = Validate {
            block: block.clone(),
            certificate: certificate.clone(),
        };
        // The block's id is computed anew inside, from the block: `id` only keys the memo.
        let ok = cpchain_consensus::lbft::light::verify_validate_on(
            &self.spec,
            &self.validators,
            self.impeach_quorum,
            &self.schedule,
            &v,
            parent,
            &parent_id,
        )
        .is_ok_and(|(_, computed)| computed == id);
        if ok {
            self.verified
                .borrow_mut()
                .entry(id)
                .or_default()
                .push((Rc::new(v), parent_id));
        }
        ok
    }

    /// Whether a vote's signature is valid (checker side).
    pub fn vote_ok(&self, v: &Vote) -> bool {
        v.verify(self.spec.chain_id, &self.validators).is_ok()
    }
}
