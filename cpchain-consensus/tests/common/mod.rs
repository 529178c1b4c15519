//! Deterministic in-process test network for LBFT: fixtures (keys, committee, schedule),
//! message builders for scripted scenarios, and a network that delivers broadcasts in an
//! order chosen by the test (FIFO or by a seeded choice), with optional losses.
#![allow(dead_code, missing_docs)]

use cpchain_consensus::lbft::*;
use cpchain_core::{Address, ChainSpec, Duration, Height, Timestamp};
use cpchain_crypto::SecretKey;
use std::collections::VecDeque;

pub const T0: Timestamp = Timestamp(1_000_000);

pub fn secret(seed: u32) -> SecretKey {
    let mut b = [0u8; 32];
    b[0] = 0x42;
    b[28..].copy_from_slice(&seed.to_be_bytes());
    SecretKey::from_bytes(&b).unwrap()
}

pub fn spec_for(n: usize) -> ChainSpec {
    assert_eq!(n % 3, 1, "committee must be 3f+1");
    let mut spec = ChainSpec::devnet();
    spec.fault_tolerance = ((n - 1) / 3) as u32;
    spec
}

/// Keys, committee, proposers and genesis of a test chain with `n` validators.
#[derive(Clone)]
pub struct Fixture {
    pub spec: ChainSpec,
    /// Validator keys in committee (address) order: index i is validator i.
    pub keys: Vec<SecretKey>,
    pub set: ValidatorSet,
    pub proposers: Vec<SecretKey>,
    pub schedule: FixedSchedule,
    pub genesis: Header,
    pub impeach_quorum: ImpeachQuorum,
}

impl Fixture {
    pub fn new(n: usize) -> Fixture {
        Fixture::with_quorum(n, ImpeachQuorum::TwoFPlusOne)
    }

    pub fn with_quorum(n: usize, impeach_quorum: ImpeachQuorum) -> Fixture {
        let spec = spec_for(n);
        let mut keys: Vec<SecretKey> = (0..n as u32).map(|i| secret(1000 + i)).collect();
        keys.sort_by_key(|k| k.public_key().address());
        let pubs: Vec<_> = keys.iter().map(|k| k.public_key()).collect();
        let set = ValidatorSet::new(&pubs).unwrap();
        let proposers: Vec<SecretKey> = (0..4).map(|i| secret(5000 + i)).collect();
        let schedule =
            FixedSchedule::new(proposers.iter().map(|k| k.public_key().address()).collect());
        let genesis = Header::genesis(&spec, T0);
        Fixture {
            spec,
            keys,
            set,
            proposers,
            schedule,
            genesis,
            impeach_quorum,
        }
    }

    pub fn n(&self) -> usize {
        self.keys.len()
    }

    pub fn addr(&self, i: usize) -> Address {
        self.keys[i].public_key().address()
    }

    pub fn config(&self, i: usize) -> Config {
        let mut c = Config::new(self.spec.clone(), self.set.clone(), self.keys[i].clone());
        c.impeach_quorum = self.impeach_quorum;
        c
    }

    pub fn validator(&self, i: usize) -> Validator<FixedSchedule> {
        let mut v = Validator::new(
            self.config(i),
            self.schedule.clone(),
            self.genesis.clone(),
            T0,
        )
        .unwrap();
        drain(&mut v);
        v
    }

    pub fn proposer_of(&self, height: Height) -> &SecretKey {
        let p = self.schedule.proposer_of(height).unwrap();
        self.proposers
            .iter()
            .find(|k| k.public_key().address() == p)
            .unwrap()
    }

    /// The scheduled proposer's block on `parent`, at the earliest allowed time.
    pub fn proposal(&self, parent: &Header, txs: Vec<Vec<u8>>) -> Block {
        let h = Height(parent.height.0 + 1);
        let key = self.proposer_of(h);
        Block::propose(
            &self.spec,
            parent,
            key,
            key.public_key().address(),
            parent.timestamp + self.spec.block_period,
            txs,
        )
    }

    pub fn impeach(&self, parent: &Header) -> Block {
        let h = Height(parent.height.0 + 1);
        Block::impeach(&self.spec, parent, self.schedule.proposer_of(h).unwrap())
    }

    pub fn vote(&self, i: usize, kind: VoteKind, height: u64, round: u32, block: BlockId) -> Vote {
        Vote::sign(
            &self.keys[i],
            self.spec.chain_id,
            kind,
            Height(height),
            round,
            block,
        )
    }

    /// A certificate from validators `who`.
    pub fn cert(
        &self,
        who: &[usize],
        kind: VoteKind,
        height: u64,
        round: u32,
        block: BlockId,
    ) -> Certificate {
        let mut sigs: Vec<_> = who
            .iter()
            .map(|&i| {
                let v = self.vote(i, kind, height, round, block);
                (v.voter, v.signature)
            })
            .collect();
        sigs.sort_by_key(|s| s.0);
        Certificate {
            kind,
            height: Height(height),
            round,
            block,
            signatures: sigs,
        }
    }

    pub fn light(&self) -> LightVerifier<FixedSchedule> {
        LightVerifier {
            spec: self.spec.clone(),
            validators: self.set.clone(),
            impeach_quorum: self.impeach_quorum,
            schedule: self.schedule.clone(),
        }
    }
}

/// A restart whose chain head is the record's parent (the crash came before any later
/// Commit), with no VALIDATE to remember: the restore path of [`Validator::restart`].
pub fn restart_at_record(
    cfg: Config,
    schedule: FixedSchedule,
    p: Persisted,
) -> Validator<FixedSchedule> {
    let head = p.parent.clone();
    Validator::restart(cfg, schedule, Some(p), head, [], Timestamp(0)).unwrap()
}

/// Every pending output, through the SDK's one drain loop.
pub fn drain<S: ProposerSchedule + 'static>(v: &mut Validator<S>) -> Vec<ValidatorOutput> {
    let mut outs = Vec::new();
    cpchain_core::machine::drain(v, |o| outs.push(o));
    outs
}

pub fn broadcast_votes(outs: &[ValidatorOutput]) -> Vec<Vote> {
    outs.iter()
        .filter_map(|o| match o {
            ValidatorOutput::Broadcast(Message::Vote(v)) => Some(v.clone()),
            _ => None,
        })
        .collect()
}

pub fn commits(outs: &[ValidatorOutput]) -> Vec<(Block, Certificate)> {
    outs.iter()
        .filter_map(|o| match o {
            ValidatorOutput::Commit { block, certificate } => {
                Some((block.clone(), certificate.clone()))
            }
            _ => None,
        })
        .collect()
}

pub fn faults(outs: &[ValidatorOutput]) -> Vec<Fault> {
    outs.iter()
        .filter_map(|o| match o {
            ValidatorOutput::Fault(f) => Some(f.clone()),
            _ => None,
        })
        .collect()
}

/// Answer every content check positively.
pub fn approve_checks<S: ProposerSchedule + 'static>(
    v: &mut Validator<S>,
    now: Timestamp,
    outs: &[ValidatorOutput],
) -> Vec<ValidatorOutput> {
    let mut more = Vec::new();
    for o in outs {
        if let ValidatorOutput::CheckBlock { block, .. } = o {
            v.block_checked(now, block.id(), true);
            more.extend(drain(v));
        }
    }
    more
}

/// Feed a message and drain, approving content checks.
pub fn feed<S: ProposerSchedule + 'static>(
    v: &mut Validator<S>,
    now: Timestamp,
    from: Address,
    msg: Message,
) -> Vec<ValidatorOutput> {
    let _ = v.handle_message(now, from, msg);
    let mut outs = drain(v);
    let more = approve_checks(v, now, &outs);
    outs.extend(more);
    outs
}

/// Checks that no node ever signed two votes of one phase in one round for different
/// blocks, over everything it broadcast.
pub fn assert_no_equivocation(votes: &[Vote]) {
    for (i, a) in votes.iter().enumerate() {
        for b in &votes[i + 1..] {
            if a.voter == b.voter
                && a.height == b.height
                && a.round == b.round
                && a.kind.phase() == b.kind.phase()
            {
                assert_eq!(a.block, b.block, "honest equivocation: {a:?} vs {b:?}");
            }
        }
    }
}

/// How the network treats a node.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Role {
    Honest,
    /// Signs every vote it sees for both the seen block and the impeach block, and sends
    /// each to everyone: maximal equivocation.
    Equivocator,
    Silent,
}

/// In-flight message.
#[derive(Clone, Debug)]
pub struct Envelope {
    pub from: usize,
    pub to: usize,
    pub msg: Message,
}

/// A deterministic network of validators plus the scheduled proposers.
pub struct Net {
    pub fx: Fixture,
    pub roles: Vec<Role>,
    pub nodes: Vec<Validator<FixedSchedule>>,
    pub now: Timestamp,
    pub queue: VecDeque<Envelope>,
    pub decided: Vec<Vec<(Height, BlockId)>>,
    pub sent_votes: Vec<Vec<Vote>>,
    pub persisted: Vec<Option<Persisted>>,
    pub faults: Vec<Fault>,
    pub proposed: Vec<Height>,
    /// Heights whose proposer stays silent.
    pub silent_proposer: Vec<Height>,
    pub log: Vec<String>,
    /// Seed for the delivery order; 0 = FIFO.
    pub rng: u64,
    /// Probability in 1/256 to drop a message while `lossy` is set.
    pub loss: u8,
    pub lossy: bool,
    /// Byzantine votes already emitted: (round, phase, block) per height.
    byz_seen: std::collections::BTreeSet<(u64, u32, Phase, BlockId)>,
    /// Node that crashes at random points (between two outputs) and restarts.
    pub crash_node: Option<usize>,
    pub crashes: usize,
    /// Each node's chain head (last Commit output processed).
    pub heads: Vec<Option<Header>>,
    /// Each node's chain: every decided block with its certificate, as a host stores it.
    pub chains: Vec<Vec<Validate>>,
    /// Nodes cut off: messages to them are diverted into `held`.
    pub partitioned: Vec<usize>,
    pub held: Vec<Envelope>,
    /// A node that strips or forges the proposer's seal in every block-carrying message
    /// it sends (the tampered copy first), and relays a tampered copy of every such message
    /// it receives (issue 12 item 0): no signature on those messages covers the seal.
    pub tamperer: Option<usize>,
    /// Commit outputs and VALIDATEs sent by validators, each checked with the light
    /// verifier (every node's engine is honest; only what the network adds is not).
    pub light_checked: usize,
    /// (parent id, VALIDATE) pairs already light-verified: every honest node commits and
    /// broadcasts the same ones, and checking each once keeps the cases cheap.
    light_ok: std::collections::HashSet<(BlockId, Vec<u8>)>,
}

impl Net {
    pub fn new(fx: Fixture, roles: Vec<Role>) -> Net {
        let n = fx.n();
        assert_eq!(roles.len(), n);
        let nodes = (0..n)
            .map(|i| {
                Validator::new(fx.config(i), fx.schedule.clone(), fx.genesis.clone(), T0).unwrap()
            })
            .collect();
        let mut net = Net {
            fx,
            roles,
            nodes,
            now: T0,
            queue: VecDeque::new(),
            decided: vec![Vec::new(); n],
            sent_votes: vec![Vec::new(); n],
            persisted: vec![None; n],
            faults: Vec::new(),
            proposed: Vec::new(),
            silent_proposer: Vec::new(),
            log: Vec::new(),
            rng: 0,
            loss: 0,
            lossy: false,
            byz_seen: Default::default(),
            crash_node: None,
            crashes: 0,
            heads: vec![None; n],
            chains: vec![Vec::new(); n],
            partitioned: Vec::new(),
            held: Vec::new(),
            tamperer: None,
            light_checked: 0,
            light_ok: Default::default(),
        };
        for i in 0..n {
            net.pump(i);
        }
        net
    }

    /// Restart node i from its last persisted state, losing its unprocessed outputs.
    pub fn crash_restore(&mut self, i: usize) {
        let p = self.persisted[i].clone().expect("persisted state");
        while self.nodes[i].poll_output().is_some() {}
        // The host's one restart call: its record, its chain head (a processed Commit is
        // durable, so the head may be past the record) and the head's certificates, newest
        // first, so it can catch up peers that missed its last decisions.
        let head = self.heads[i]
            .clone()
            .unwrap_or_else(|| self.fx.genesis.clone());
        let recent: Vec<Validate> = self.chains[i].iter().rev().cloned().collect();
        self.nodes[i] = Validator::restart(
            self.fx.config(i),
            self.fx.schedule.clone(),
            Some(p),
            head,
            recent,
            self.now,
        )
        .unwrap();
        self.crashes += 1;
    }

    pub fn honest(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.roles.len()).filter(|&i| self.roles[i] == Role::Honest)
    }

    fn next_rand(&mut self) -> u64 {
        // splitmix64
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn send_all(&mut self, from: usize, msg: Message) {
        for to in 0..self.nodes.len() {
            if to != from {
                self.queue.push_back(Envelope {
                    from,
                    to,
                    msg: msg.clone(),
                });
            }
        }
    }

    /// Drain node i's outputs into the network.
    pub fn pump(&mut self, i: usize) {
        loop {
            let outs = drain(&mut self.nodes[i]);
            if outs.is_empty() {
                return;
            }
            for o in outs {
                if self.crash_node == Some(i) && self.next_rand().is_multiple_of(16) {
                    // Crash before acting on `o`: everything after is lost.
                    self.crash_restore(i);
                    break;
                }
                match o {
                    ValidatorOutput::Broadcast(msg) => {
                        if self.roles[i] == Role::Silent {
                            continue;
                        }
                        if let Message::Validate(v) = &msg {
                            self.assert_light_valid(i, v, "broadcast VALIDATE");
                        }
                        if self.tamperer == Some(i) {
                            if let Some(bad) = self.tampered(i, &msg) {
                                self.send_all(i, bad);
                            }
                        }
                        if let Message::Vote(v) = &msg {
                            if self.roles[i] == Role::Honest {
                                self.sent_votes[i].push(v.clone());
                                // Persist-before-send: the last persisted state holds it.
                                let p = self.persisted[i].as_ref().expect("persist before vote");
                                let held = p.prepared.as_ref() == Some(v)
                                    || p.committed.as_ref() == Some(v);
                                assert!(held, "vote broadcast before it was persisted");
                            }
                        }
                        self.send_all(i, msg);
                    }
                    ValidatorOutput::Send { to, msg } => {
                        if self.roles[i] == Role::Silent {
                            continue;
                        }
                        let to = self.fx.set.index_of(&to).unwrap();
                        if let Message::Validate(v) = &msg {
                            self.assert_light_valid(i, v, "catch-up VALIDATE");
                        }
                        if self.tamperer == Some(i) {
                            if let Some(bad) = self.tampered(i, &msg) {
                                self.queue.push_back(Envelope {
                                    from: i,
                                    to,
                                    msg: bad,
                                });
                            }
                        }
                        self.queue.push_back(Envelope { from: i, to, msg });
                    }
                    ValidatorOutput::Persist(p) => self.persisted[i] = Some(p),
                    ValidatorOutput::CheckBlock { block, .. } => {
                        let now = self.now;
                        self.nodes[i].block_checked(now, block.id(), true);
                    }
                    ValidatorOutput::Commit { block, certificate } => {
                        assert_eq!(certificate.block, block.id());
                        let v = Validate { block, certificate };
                        let parent = self.chains[i]
                            .last()
                            .map(|c| c.block.header.clone())
                            .unwrap_or_else(|| self.fx.genesis.clone());
                        self.assert_light_ok(i, &v, &parent, "Commit output");
                        let Validate { block, certificate } = v;
                        self.decided[i].push((block.header.height, block.id()));
                        self.heads[i] = Some(block.header.clone());
                        self.chains[i].push(Validate { block, certificate });
                    }
                    ValidatorOutput::Fault(f) => self.faults.push(f),
                    other => panic!("an output this network does not know: {other:?}"),
                }
            }
        }
    }

    /// A VALIDATE node `i` sends must pass light verification on its parent, taken from
    /// `i`'s own chain (a validator only hands out what it decided or remembered).
    fn assert_light_valid(&mut self, i: usize, v: &Validate, what: &str) {
        let h = v.block.header.height.0;
        let parent = if h == 1 {
            self.fx.genesis.clone()
        } else {
            match self.chains[i]
                .iter()
                .find(|c| c.block.header.height.0 + 1 == h)
            {
                Some(c) => c.block.header.clone(),
                None => return,
            }
        };
        self.assert_light_ok(i, v, &parent, what);
    }

    fn assert_light_ok(&mut self, i: usize, v: &Validate, parent: &Header, what: &str) {
        self.light_checked += 1;
        let key = (
            parent.id(),
            cpchain_core::encoding::encode_to_vec(v).expect("encodable"),
        );
        if self.light_ok.contains(&key) {
            return;
        }
        assert_eq!(
            self.fx.light().verify(v, parent).map(|_| ()),
            Ok(()),
            "node {i}: {what} fails light verification"
        );
        self.light_ok.insert(key);
    }

    /// `msg` with the seal of the normal block it carries stripped (even draws) or
    /// replaced by node `i`'s own seal over the same id; `None` if it carries none.
    pub fn tampered(&mut self, i: usize, msg: &Message) -> Option<Message> {
        let strip = self.next_rand().is_multiple_of(2);
        let key = self.fx.keys[i].clone();
        let tamper = |b: &Block| -> Option<Block> {
            if b.is_impeach() {
                return None;
            }
            let seal = if strip {
                None
            } else {
                Some(key.sign(&block::SEAL_DOMAIN, b.id().as_bytes()))
            };
            Some(Block { seal, ..b.clone() })
        };
        match msg {
            Message::PrePrepare(b) => tamper(b).map(Message::PrePrepare),
            Message::Proposal(p) => {
                let block = tamper(&p.block)?;
                Some(Message::Proposal(Proposal { block, ..p.clone() }))
            }
            Message::RoundChange(rc) => {
                let lock = rc.lock.as_ref()?;
                let block = tamper(&lock.block)?;
                Some(Message::RoundChange(RoundChange {
                    lock: Some(LockProof {
                        block,
                        certificate: lock.certificate.clone(),
                    }),
                    ..rc.clone()
                }))
            }
            Message::Validate(v) => {
                let block = tamper(&v.block)?;
                Some(Message::Validate(Validate {
                    block,
                    certificate: v.certificate.clone(),
                }))
            }
            Message::Vote(_) => None,
        }
    }

    /// An equivocator answers every vote it sees with votes of the same phase for both
    /// that block and the impeach block.
    fn byzantine_react(&mut self, i: usize, msg: &Message) {
        if self.roles[i] != Role::Equivocator {
            return;
        }
        let Message::Vote(v) = msg else { return };
        let node = &self.nodes[i];
        if v.height != node.height() {
            return;
        }
        let imp = node.impeach_block().id();
        for block in [v.block, imp] {
            let key = (v.height.0, v.round, v.kind.phase(), block);
            if self.byz_seen.insert(key) {
                let kind = VoteKind::of(v.kind.phase(), block == imp);
                let vote = self.fx.vote(i, kind, v.height.0, v.round, block);
                self.send_all(i, Message::Vote(vote));
            }
        }
    }

    /// Deliver one message (FIFO, or random when `rng != 0`). Returns false when idle.
    pub fn deliver_one(&mut self) -> bool {
        if self.queue.is_empty() {
            return false;
        }
        let idx = if self.rng == 0 {
            0
        } else {
            (self.next_rand() % self.queue.len() as u64) as usize
        };
        let env = self.queue.remove(idx).unwrap();
        if self.partitioned.contains(&env.to) || self.partitioned.contains(&env.from) {
            self.held.push(env);
            return true;
        }
        if self.lossy && (self.next_rand() % 256) < u64::from(self.loss) {
            return true;
        }
        let now = self.now;
        let from = self.fx.addr(env.from);
        self.byzantine_react(env.to, &env.msg);
        if self.tamperer == Some(env.to) && self.roles[env.to] != Role::Silent {
            // Relay a tampered copy of what it hears; in random order it may arrive first.
            if let Some(bad) = self.tampered(env.to, &env.msg) {
                self.send_all(env.to, bad);
            }
        }
        let _ = self.nodes[env.to].handle_message(now, from, env.msg);
        self.pump(env.to);
        true
    }

    pub fn deliver_all(&mut self) {
        let mut guard = 0;
        while self.deliver_one() {
            guard += 1;
            assert!(guard < 1_000_000, "message storm");
        }
    }

    /// Each scheduled proposer proposes once, on the chain head of any honest node that
    /// is working on its height (a proposer follows the chain like any full node), as soon
    /// as the block period allows. Keyed on every honest node's height, not on one node's:
    /// a lagging node must not hold back the proposals of the others (nor, through
    /// [`Net::tick`], the clock).
    pub fn maybe_propose(&mut self) {
        let honest: Vec<usize> = self.honest().collect();
        for i in honest {
            let parent = self.nodes[i].parent().clone();
            let h = Height(parent.height.0 + 1);
            if self.proposed.contains(&h) || self.silent_proposer.contains(&h) {
                continue;
            }
            if self.now < parent.timestamp + self.fx.spec.block_period {
                continue;
            }
            self.proposed.push(h);
            let block = self.fx.proposal(&parent, vec![vec![h.0 as u8; 8]]);
            for to in 0..self.nodes.len() {
                self.queue.push_back(Envelope {
                    from: to,
                    to,
                    msg: Message::PrePrepare(block.clone()),
                });
            }
        }
    }

    /// Advance the clock to the earliest deadline (or the proposal time) and fire timers.
    pub fn tick(&mut self) {
        let mut next = Timestamp(u64::MAX);
        for i in self.honest().collect::<Vec<_>>() {
            if let Some(d) = self.nodes[i].next_deadline() {
                next = next.min(d);
            }
            let parent = self.nodes[i].parent();
            let propose_at = parent.timestamp + self.fx.spec.block_period;
            let h = Height(parent.height.0 + 1);
            if !self.proposed.contains(&h) && !self.silent_proposer.contains(&h) {
                next = next.min(propose_at);
            }
        }
        if next > self.now {
            self.now = next;
        }
        let now = self.now;
        for i in 0..self.nodes.len() {
            self.nodes[i].handle_timeout(now);
            self.pump(i);
        }
        self.maybe_propose();
    }

    /// Put a message in flight from `from` to each of `to`.
    pub fn inject(&mut self, from: usize, to: &[usize], msg: Message) {
        for &t in to {
            self.queue.push_back(Envelope {
                from,
                to: t,
                msg: msg.clone(),
            });
        }
    }

    /// Set the clock to `t` and fire every node's timer.
    pub fn fire(&mut self, t: Timestamp) {
        self.now = t;
        for i in 0..self.nodes.len() {
            self.nodes[i].handle_timeout(t);
            self.pump(i);
        }
    }

    /// Drop in-flight messages matching `pred`.
    pub fn drop_where(&mut self, pred: impl Fn(&Envelope) -> bool) {
        self.queue.retain(|e| !pred(e));
    }

    pub fn min_honest_height(&self) -> u64 {
        self.honest()
            .filter(|i| !self.partitioned.contains(i))
            .map(|i| self.nodes[i].height().0)
            .min()
            .unwrap()
    }

    /// Run until every honest node has decided `heights` blocks or `max_ticks` pass.
    pub fn run(&mut self, heights: u64, max_ticks: usize) -> bool {
        self.maybe_propose();
        for _ in 0..max_ticks {
            self.deliver_all();
            if self.min_honest_height() > heights {
                return true;
            }
            self.tick();
        }
        self.deliver_all();
        self.min_honest_height() > heights
    }

    /// Agreement: honest nodes decided the same block at every height both decided.
    pub fn assert_agreement(&self) {
        let honest: Vec<_> = self.honest().collect();
        for &a in &honest {
            for &b in &honest {
                for (x, y) in self.decided[a].iter().zip(&self.decided[b]) {
                    assert_eq!(x, y, "disagreement between {a} and {b}");
                }
            }
        }
        for &i in &honest {
            assert_no_equivocation(&self.sent_votes[i]);
        }
    }
}

pub fn duration_ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}
