//! Exhaustive model checking (stateright) of LBFT 2.0's rules at n = 4, f = 1.
//!
//! The model is written from the engine's rules (`cpchain_consensus::lbft::validator`), not by
//! driving the engine (its state holds signatures, maps and timers: too large to hash and
//! explore). Validators 0–2 are honest, validator 3 is Byzantine. Heights 1 and 2, each with
//! two possible blocks: the proposer's normal block `N` (the proposers of heights 1 and 2 are
//! validators 0 and 1, honest) and the deterministic impeach block `I`. Rules modelled, as in
//! the engine:
//!
//! * round 0: PREPARE(N) on the proposal, or PREPARE(I) when the proposal timer gives up;
//! * any round: with a P-certificate for some block in the current round (and a PREPARE of its
//!   own sent), lock on it and COMMIT it — at most one PREPARE-phase and one COMMIT-phase vote
//!   per round, and only the first vote of a voter per round and phase is counted; a
//!   C-certificate of any round decides, and the decider broadcasts VALIDATE, which others
//!   adopt; the next height's proposer proposes as soon as it gets there;
//! * rounds ≥ 1: the leader `(h + r) mod 4` proposes a quarter into the round its
//!   highest-round P-certified block with that proof-of-lock, or `I`; a validator prepares
//!   the proposal if it is not locked, locked on it, or shown a proof-of-lock from a round ≥
//!   its lock round, else its lock or `I` (also when it gives up, half-way into the round);
//!   round changes carry locks; proposals of a later round are kept, of an earlier one
//!   ignored (proof-of-lock included);
//! * the `f + 1` round catch-up (liveness mode): a validator that has seen two others in
//!   later rounds (round changes, votes, proposals) jumps to the lower of the two highest;
//! * certificates: `2f + 1 = 3` for `N`; for `I` the impeach quorum (3, or the paper's 2).
//!
//! Two modes.
//!
//! * **Safety** (agreement): the network loses (a message may stay in flight forever) and
//!   reorders (any in-flight message may be next); every timer may fire at any moment. The
//!   Byzantine validator is adaptive: at any moment it may hand any honest validator a vote
//!   of either phase for either block in any round (at most one per round and phase to each:
//!   the engine counts the first and reports the second), a P-certificate that can exist
//!   (its own PREPARE plus honest ones actually sent: a round change's lock or a
//!   proof-of-lock), and, as a round leader, any proposal — `I`, or a block with such a
//!   proof-of-lock — a different one to each validator. Reductions, each keeping every
//!   reachable decision: votes and certificates are delivered at the moment they are used —
//!   votes in groups that exactly complete a quorum at their recipient (honest votes in
//!   flight plus the Byzantine's), P-certificates (PREPARE quorums, round-change locks, the
//!   Byzantine's) only when read: a commit in the current round, or a leader choosing its
//!   proposal. Before that a vote or certificate changes nothing but a tally, so a path on
//!   which it arrives early is matched, decision for decision, by one on which it arrives
//!   then (or never). A message whose delivery would change nothing is dropped (the same as
//!   losing it); a height's record of sent PREPAREs is dropped once every honest validator
//!   has left it.
//! * **Liveness**: nothing is lost. The Byzantine's round-0 votes of height 1 are in flight
//!   from the start, one per honest validator and phase, each for either block (every
//!   combination: both paths at once), and it sends nothing else. Height 1's round-0
//!   proposal timer fires at any moment, so some validators impeach while others commit
//!   (the part before stabilisation). Every other timer outlasts message delays: it fires
//!   only when no message is deliverable, and timers fire in the engine's order within a
//!   round — every leader's proposal (a quarter into the round) before any give-up
//!   (half-way) before any round end — lowest round first. Checked: every maximal path ends
//!   with every honest validator deciding both heights (an `Eventually` property, and,
//!   because stateright checks those only at terminal states and may miss one behind a join
//!   of paths, also an `Always` property that no reachable state without successors leaves
//!   an honest validator undecided; all paths are finite).
//!
//! Left out (see docs/TESTING.md): Byzantine round-0 proposers, crashes, block contents,
//! signatures (votes are unforgeable by construction), block transfer (a decided block's
//! content is assumed known), rounds beyond the bound each test states.

use stateright::{Checker, HasDiscoveries, Model, Property};
use std::collections::BTreeSet;

const HONEST: usize = 3;
const BYZ: u8 = 3;
/// Rounds the state has room for (0..ROUNDS); each test bounds its rounds below this.
const ROUNDS: usize = 4;
const HEIGHTS: usize = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Val {
    N,
    I,
}

impl Val {
    fn ix(self) -> usize {
        self as usize
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Phase {
    Prepare,
    Commit,
}

impl Phase {
    fn ix(self) -> usize {
        self as usize
    }
}

/// A proposal: the block and the round of its proof-of-lock.
type Prop = (Val, Option<u8>);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Msg {
    PrePrepare {
        to: u8,
        h: u8,
    },
    Vote {
        to: u8,
        h: u8,
        voter: u8,
        r: u8,
        phase: Phase,
        val: Val,
    },
    Proposal {
        to: u8,
        h: u8,
        from: u8,
        r: u8,
        prop: Prop,
    },
    RoundChange {
        to: u8,
        h: u8,
        from: u8,
        r: u8,
        lock: Option<(u8, Val)>,
    },
    Validate {
        to: u8,
        h: u8,
        val: Val,
    },
}

impl Msg {
    fn to(&self) -> u8 {
        match *self {
            Msg::PrePrepare { to, .. }
            | Msg::Vote { to, .. }
            | Msg::Proposal { to, .. }
            | Msg::RoundChange { to, .. }
            | Msg::Validate { to, .. } => to,
        }
    }
    fn h(&self) -> u8 {
        match *self {
            Msg::PrePrepare { h, .. }
            | Msg::Vote { h, .. }
            | Msg::Proposal { h, .. }
            | Msg::RoundChange { h, .. }
            | Msg::Validate { h, .. } => h,
        }
    }
}

/// One honest validator's state at its current height.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct V {
    h: u8,
    r: u8,
    prepared: Option<Val>,
    committed: Option<Val>,
    lock: Option<(u8, Val)>,
    /// The current round's proposal: round 0's PRE-PREPARE, or the leader's.
    proposal: Option<Prop>,
    led: bool,
    /// First proposal received for each later round.
    later: [Option<Prop>; ROUNDS],
    /// Voter bitmask per round, phase and block (first vote per voter, round and phase).
    votes: [[[u8; 2]; 2]; ROUNDS],
    /// P-certificates known from round changes and proposals: bit `2r + block`.
    pcerts: u8,
    /// Highest round each validator was seen in at this height (liveness mode only).
    seen: [u8; 4],
    decided: [Option<Val>; HEIGHTS],
}

impl V {
    fn fresh(h: u8, decided: [Option<Val>; HEIGHTS]) -> V {
        V {
            h,
            r: 0,
            prepared: None,
            committed: None,
            lock: None,
            proposal: None,
            led: false,
            later: [None; ROUNDS],
            votes: [[[0; 2]; 2]; ROUNDS],
            pcerts: 0,
            seen: [0; 4],
            decided,
        }
    }

    fn voted(&self, voter: u8, r: u8, phase: Phase) -> bool {
        let m = self.votes[r as usize][phase.ix()];
        (m[0] | m[1]) & (1 << voter) != 0
    }

    fn count(&self, r: u8, phase: Phase, val: Val) -> usize {
        self.votes[r as usize][phase.ix()][val.ix()].count_ones() as usize
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct S {
    v: [V; HONEST],
    net: BTreeSet<Msg>,
    /// Honest PREPAREs ever sent, voter bitmask per height, round and block: what a
    /// P-certificate the Byzantine shows may contain (with its own vote). Cleared for a
    /// height once every honest validator has left it (state abstraction).
    hp: [[[u8; 2]; ROUNDS]; HEIGHTS],
    /// Some validator decided on a C-certificate of a round ≥ 1 (for a `Sometimes` check).
    late: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Action {
    Deliver(Msg),
    /// Safety mode: votes for one round, phase and block delivered to `to` together — honest
    /// ones in flight and the Byzantine's (bit 3) — exactly enough to complete the quorum.
    Votes {
        to: u8,
        r: u8,
        phase: Phase,
        val: Val,
        voters: u8,
    },
    /// Safety mode: a P-certificate that can exist, shown to `to`.
    ByzCert {
        to: u8,
        r: u8,
        val: Val,
    },
    /// Safety mode: the Byzantine leader's proposal of `to`'s current round.
    ByzPropose {
        to: u8,
        prop: Prop,
    },
    GiveUp(u8),
    EndRound(u8),
    Lead(u8),
}

struct Lbft {
    impeach_quorum: usize,
    /// Heights modelled (1 or 2).
    heights: u8,
    /// Highest round entered.
    max_round: u8,
    /// First height modelled: 2 starts every honest validator at height 2, with its roles
    /// (proposer 1, the Byzantine leading round 1). For agreement this stands for reaching
    /// height 2 at different times: a validator that arrives late is one whose messages and
    /// timers are delayed, which the lossy network and free timers already cover.
    start: u8,
    /// Safety mode (see the module docs); otherwise liveness mode.
    adversarial: bool,
    /// The lock rule (Tendermint's prevote rule); off only to show that the check catches
    /// its absence.
    lock_rule: bool,
    /// Liveness mode: heights whose round-0 proposal timer may fire at any moment.
    early_heights: u8,
    /// Stop at the first discovery of this property, searching breadth first (the
    /// shortest counterexample) if the flag is set; otherwise explore everything.
    first: Option<(&'static str, bool)>,
}

fn leader(h: u8, r: u8) -> u8 {
    (h + r) % 4
}

fn proposer(h: u8) -> u8 {
    (h - 1) % 4
}

fn bit(r: u8, val: Val) -> u8 {
    1 << (2 * r as usize + val.ix())
}

impl Lbft {
    fn quorum(&self, val: Val) -> usize {
        match val {
            Val::N => 3,
            Val::I => self.impeach_quorum,
        }
    }

    fn tally(&self, v: &V, r: u8, phase: Phase, val: Val) -> bool {
        v.count(r, phase, val) >= self.quorum(val)
    }

    fn has_pcert(&self, v: &V, r: u8, val: Val) -> bool {
        v.pcerts & bit(r, val) != 0 || self.tally(v, r, Phase::Prepare, val)
    }

    /// Whether a P-certificate for `val` at round `r` of height `h` can exist: the Byzantine
    /// vote plus honest PREPAREs sent.
    fn pcert_exists(&self, s: &S, h: u8, r: u8, val: Val) -> bool {
        let honest = s.hp[(h - 1) as usize][r as usize][val.ix()].count_ones() as usize;
        honest + 1 >= self.quorum(val)
    }

    fn broadcast(s: &mut S, from: u8, mk: impl Fn(u8) -> Msg) {
        for to in 0..HONEST as u8 {
            if to != from {
                s.net.insert(mk(to));
            }
        }
    }

    fn vote(&self, s: &mut S, i: u8, phase: Phase, val: Val) {
        let v = &mut s.v[i as usize];
        let (h, r) = (v.h, v.r);
        v.votes[r as usize][phase.ix()][val.ix()] |= 1 << i;
        if phase == Phase::Prepare {
            s.hp[(h - 1) as usize][r as usize][val.ix()] |= 1 << i;
        }
        Self::broadcast(s, i, |to| Msg::Vote {
            to,
            h,
            voter: i,
            r,
            phase,
            val,
        });
    }

    fn fallback(v: &V) -> Val {
        v.lock.map(|(_, b)| b).unwrap_or(Val::I)
    }

    fn acceptable(&self, v: &V, val: Val, pol: Option<u8>) -> bool {
        if !self.lock_rule {
            return true;
        }
        match v.lock {
            None => true,
            Some((_, b)) if b == val => true,
            Some((l, _)) => pol.is_some_and(|p| p >= l),
        }
    }

    fn prepare(&self, s: &mut S, i: u8, val: Val) {
        if s.v[i as usize].prepared.is_some() {
            return;
        }
        s.v[i as usize].prepared = Some(val);
        self.vote(s, i, Phase::Prepare, val);
    }

    fn decide(&self, s: &mut S, i: u8, val: Val) {
        let v = &mut s.v[i as usize];
        let h = v.h;
        let mut decided = v.decided;
        decided[(h - 1) as usize] = Some(val);
        *v = V::fresh(h + 1, decided);
        Self::broadcast(s, i, |to| Msg::Validate { to, h, val });
        // Messages for a height this node has left can no longer matter to it.
        s.net.retain(|m| !(m.to() == i && m.h() <= h));
        // State abstraction: once every honest validator has left a height, what was sent
        // at it can matter to nobody.
        if s.v.iter().all(|w| w.h > h) {
            s.hp[(h - 1) as usize] = [[0; 2]; ROUNDS];
        }
        // The next height's proposer proposes as soon as it gets there.
        let nh = h + 1;
        if nh <= self.heights && proposer(nh) == i {
            s.v[i as usize].proposal = Some((Val::N, None));
            Self::broadcast(s, i, |to| Msg::PrePrepare { to, h: nh });
        }
    }

    /// Enter round `r` (timer or catch-up) and announce it with the lock.
    fn enter_round(&self, s: &mut S, i: u8, r: u8) {
        let v = &mut s.v[i as usize];
        v.r = r;
        v.prepared = None;
        v.committed = None;
        v.led = false;
        v.proposal = v.later[r as usize];
        for x in 0..=r as usize {
            v.later[x] = None;
        }
        let (h, lock) = (v.h, v.lock);
        Self::broadcast(s, i, |to| Msg::RoundChange {
            to,
            h,
            from: i,
            r,
            lock,
        });
    }

    fn note(&self, v: &mut V, from: u8, r: u8) {
        if !self.adversarial && r > v.seen[from as usize] {
            v.seen[from as usize] = r;
        }
    }

    /// The engine's `progress`: apply every rule whose condition holds.
    fn progress(&self, s: &mut S, i: u8) {
        loop {
            let v = &s.v[i as usize];
            if v.h > self.heights {
                return;
            }
            let decided = (0..=self.max_round)
                .flat_map(|r| [(r, Val::N), (r, Val::I)])
                .find(|&(r, val)| self.tally(v, r, Phase::Commit, val));
            if let Some((r, val)) = decided {
                s.late |= r >= 1;
                self.decide(s, i, val);
                continue;
            }
            // f + 1 round catch-up: the second-highest round seen among the others.
            let mut seen = v.seen;
            seen.sort_unstable_by(|a, b| b.cmp(a));
            if seen[1] > v.r {
                self.enter_round(s, i, seen[1]);
                continue;
            }
            if v.prepared.is_none() {
                if let Some((val, pol)) = v.proposal {
                    let pick = if v.r == 0 || self.acceptable(v, val, pol) {
                        val
                    } else {
                        Self::fallback(v)
                    };
                    self.prepare(s, i, pick);
                    continue;
                }
            }
            if v.prepared.is_some() && v.committed.is_none() {
                let r = v.r;
                if let Some(val) = [Val::N, Val::I]
                    .into_iter()
                    .find(|&val| self.has_pcert(v, r, val))
                {
                    let v = &mut s.v[i as usize];
                    v.lock = Some((r, val));
                    v.committed = Some(val);
                    self.vote(s, i, Phase::Commit, val);
                    continue;
                }
            }
            return;
        }
    }

    fn valid_value(&self, v: &V) -> Option<(u8, Val)> {
        (0..=self.max_round)
            .flat_map(|r| [(r, Val::N), (r, Val::I)])
            .filter(|&(r, val)| self.has_pcert(v, r, val))
            .max_by_key(|&(r, _)| r)
    }

    fn receive_proposal(&self, v: &mut V, from: u8, r: u8, prop: Prop) {
        let known = if r == v.r {
            v.proposal.is_some()
        } else {
            r > v.r && v.later[r as usize].is_some()
        };
        if r < v.r || known {
            return; // stale, or a second one for the round: ignored, proof-of-lock included
        }
        if let Some(p) = prop.1 {
            v.pcerts |= bit(p, prop.0);
        }
        self.note(v, from, r);
        if r == v.r {
            v.proposal = Some(prop);
        } else {
            v.later[r as usize] = Some(prop);
        }
    }

    /// Liveness mode after GST: the next timer of validator `i`, as (round, kind) with kind
    /// 0 = lead, 1 = give up, 2 = end the round; timers fire in this order across validators.
    fn next_timer(&self, v: &V, i: u8) -> Option<(u8, u8, Action)> {
        if v.h > self.heights {
            None
        } else if v.r >= 1 && leader(v.h, v.r) == i && !v.led {
            Some((v.r, 0, Action::Lead(i)))
        } else if v.prepared.is_none() {
            Some((v.r, 1, Action::GiveUp(i)))
        } else if v.r < self.max_round {
            Some((v.r, 2, Action::EndRound(i)))
        } else {
            None
        }
    }

    /// Whether delivering `m` would change nothing at its recipient (a duplicate, a stale
    /// proposal, a round change that shows nothing new). Such a message is dropped at once:
    /// delivering it is the same as losing it, and keeping it would only multiply states.
    fn useless(&self, s: &S, m: &Msg) -> bool {
        let v = &s.v[m.to() as usize];
        if v.h != m.h() {
            return v.h > m.h();
        }
        match *m {
            Msg::PrePrepare { .. } => v.r != 0 || v.proposal.is_some(),
            Msg::Vote {
                voter,
                r,
                phase,
                val,
                ..
            } => {
                let counted = v.voted(voter, r, phase);
                if self.adversarial {
                    // Votes are delivered in quorum-completing groups: once the quorum is
                    // there, one more changes nothing.
                    counted || self.tally(v, r, phase, val)
                } else {
                    counted && r <= v.seen[voter as usize]
                }
            }
            Msg::Proposal { r, .. } => {
                r < v.r
                    || (r == v.r && v.proposal.is_some())
                    || (r > v.r && v.later[r as usize].is_some())
            }
            Msg::RoundChange { from, r, lock, .. } => {
                lock.is_none_or(|(lr, lv)| v.pcerts & bit(lr, lv) != 0)
                    && (self.adversarial || r <= v.seen[from as usize])
            }
            Msg::Validate { .. } => false,
        }
    }

    fn all_decided(&self, s: &S) -> bool {
        s.v.iter().all(|v| v.h > self.heights)
    }
}

impl Model for Lbft {
    type State = S;
    type Action = Action;

    fn init_states(&self) -> Vec<S> {
        let h = self.start;
        let mut s = S {
            v: [
                V::fresh(h, [None; HEIGHTS]),
                V::fresh(h, [None; HEIGHTS]),
                V::fresh(h, [None; HEIGHTS]),
            ],
            net: BTreeSet::new(),
            hp: [[[0; 2]; ROUNDS]; HEIGHTS],
            late: false,
        };
        // The first height's proposer proposes: its PRE-PREPARE is in flight to the others,
        // and it has judged its own block.
        let p = proposer(h);
        s.v[p as usize].proposal = Some((Val::N, None));
        Self::broadcast(&mut s, p, |to| Msg::PrePrepare { to, h });
        self.progress(&mut s, p);
        if self.adversarial {
            return vec![s];
        }
        // Liveness mode: the Byzantine's round-0 votes of height 1 are in flight, one per
        // honest validator and phase, each for either block (both paths at once), and it
        // sends nothing else.
        let mut out = Vec::new();
        for bits in 0u32..(1 << (2 * HONEST)) {
            let mut t = s.clone();
            for to in 0..HONEST as u8 {
                for phase in [Phase::Prepare, Phase::Commit] {
                    let k = 2 * to as u32 + phase.ix() as u32;
                    let val = if bits >> k & 1 == 1 { Val::I } else { Val::N };
                    t.net.insert(Msg::Vote {
                        to,
                        h: 1,
                        voter: BYZ,
                        r: 0,
                        phase,
                        val,
                    });
                }
            }
            out.push(t);
        }
        out
    }

    fn actions(&self, s: &S, actions: &mut Vec<Action>) {
        for m in &s.net {
            let v = &s.v[m.to() as usize];
            let now = v.h == m.h()
                && match *m {
                    // Safety mode: votes go in quorum-completing groups (adversary_actions);
                    // a round change's lock is read only to commit in that round or to lead,
                    // so it is delivered at those moments (the argument of the Byzantine's
                    // certificates).
                    Msg::Vote { .. } => !self.adversarial,
                    Msg::RoundChange {
                        lock: Some((lr, _)),
                        ..
                    } if self.adversarial => {
                        let leading = v.r >= 1 && leader(v.h, v.r) == m.to() && !v.led;
                        leading || (v.prepared.is_some() && v.committed.is_none() && lr == v.r)
                    }
                    _ => true,
                };
            if now {
                actions.push(Action::Deliver(*m));
            }
        }
        if self.adversarial {
            self.adversary_actions(s, actions);
            for i in 0..HONEST as u8 {
                let v = &s.v[i as usize];
                if v.h > self.heights {
                    continue;
                }
                if v.r >= 1 && leader(v.h, v.r) == i && !v.led {
                    actions.push(Action::Lead(i));
                }
                if v.prepared.is_none() {
                    actions.push(Action::GiveUp(i));
                } else if v.r < self.max_round {
                    actions.push(Action::EndRound(i));
                }
            }
            return;
        }
        // Liveness mode. The round-0 proposal timer may fire at any moment (it races the
        // proposal: some validators impeach while others prepare `N`).
        let early = |i: u8| {
            let v = &s.v[i as usize];
            v.h <= self.early_heights && v.r == 0 && v.prepared.is_none()
        };
        let deliverable = |m: &Msg| s.v[m.to() as usize].h == m.h();
        let quiet = !s.net.iter().any(deliverable);
        for i in 0..HONEST as u8 {
            if early(i) {
                actions.push(Action::GiveUp(i));
            }
        }
        if !quiet {
            return;
        }
        // Nothing in flight: other timers, lowest (round, kind) first.
        let timers: Vec<_> = (0..HONEST as u8)
            .filter_map(|i| self.next_timer(&s.v[i as usize], i))
            .collect();
        if let Some(min) = timers.iter().map(|t| (t.0, t.1)).min() {
            for t in timers {
                if (t.0, t.1) == min && !actions.contains(&t.2) {
                    actions.push(t.2);
                }
            }
        }
    }

    fn next_state(&self, last: &S, action: Action) -> Option<S> {
        let mut s = last.clone();
        match action {
            Action::Deliver(m) => {
                s.net.remove(&m);
                let i = m.to();
                let v = &mut s.v[i as usize];
                match m {
                    Msg::PrePrepare { .. } => {
                        if v.r == 0 && v.proposal.is_none() {
                            v.proposal = Some((Val::N, None));
                        }
                    }
                    Msg::Vote {
                        voter,
                        r,
                        phase,
                        val,
                        ..
                    } => {
                        if !v.voted(voter, r, phase) {
                            v.votes[r as usize][phase.ix()][val.ix()] |= 1 << voter;
                        }
                        self.note(v, voter, r);
                    }
                    Msg::Proposal { from, r, prop, .. } => {
                        self.receive_proposal(v, from, r, prop);
                    }
                    Msg::RoundChange { from, r, lock, .. } => {
                        if let Some((lr, lv)) = lock {
                            v.pcerts |= bit(lr, lv);
                        }
                        self.note(v, from, r);
                    }
                    Msg::Validate { val, .. } => {
                        self.decide(&mut s, i, val);
                    }
                }
                self.progress(&mut s, i);
            }
            Action::Votes {
                to,
                r,
                phase,
                val,
                voters,
            } => {
                let h = s.v[to as usize].h;
                for voter in (0..4u8).filter(|x| voters & (1 << x) != 0) {
                    s.net.remove(&Msg::Vote {
                        to,
                        h,
                        voter,
                        r,
                        phase,
                        val,
                    });
                }
                s.v[to as usize].votes[r as usize][phase.ix()][val.ix()] |= voters;
                self.progress(&mut s, to);
            }
            Action::ByzCert { to, r, val } => {
                s.v[to as usize].pcerts |= bit(r, val);
                self.progress(&mut s, to);
            }
            Action::ByzPropose { to, prop } => {
                let v = &mut s.v[to as usize];
                let r = v.r;
                self.receive_proposal(v, BYZ, r, prop);
                self.progress(&mut s, to);
            }
            Action::GiveUp(i) => {
                let fb = Self::fallback(&s.v[i as usize]);
                self.prepare(&mut s, i, fb);
                self.progress(&mut s, i);
            }
            Action::Lead(i) => {
                let v = &s.v[i as usize];
                let prop = match self.valid_value(v) {
                    Some((r, val)) => (val, Some(r)),
                    None => (Val::I, None),
                };
                let (h, r) = (v.h, v.r);
                let v = &mut s.v[i as usize];
                v.led = true;
                if v.proposal.is_none() {
                    v.proposal = Some(prop);
                }
                Self::broadcast(&mut s, i, |to| Msg::Proposal {
                    to,
                    h,
                    from: i,
                    r,
                    prop,
                });
                self.progress(&mut s, i);
            }
            Action::EndRound(i) => {
                let r = s.v[i as usize].r + 1;
                self.enter_round(&mut s, i, r);
                self.progress(&mut s, i);
            }
        }
        let drop: Vec<Msg> = s
            .net
            .iter()
            .filter(|m| self.useless(&s, m))
            .copied()
            .collect();
        for m in drop {
            s.net.remove(&m);
        }
        Some(s)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::always("agreement", |_, s: &S| {
                (0..HEIGHTS).all(|h| {
                    let mut seen = s.v.iter().filter_map(|v| v.decided[h]);
                    match seen.next() {
                        Some(first) => seen.all(|x| x == first),
                        None => true,
                    }
                })
            }),
            Property::eventually("every honest validator decides every height", |m, s: &S| {
                m.all_decided(s)
            }),
            Property::always("no honest validator is stuck undecided", |m, s: &S| {
                if m.adversarial || m.all_decided(s) {
                    return true;
                }
                let mut next = Vec::new();
                m.actions(s, &mut next);
                !next.is_empty()
            }),
            Property::sometimes("a height decided by impeachment", |_, s: &S| {
                s.v.iter().any(|v| v.decided.contains(&Some(Val::I)))
            }),
            Property::sometimes("a normal block decided", |_, s: &S| {
                s.v.iter().any(|v| v.decided.contains(&Some(Val::N)))
            }),
            Property::sometimes("a later round entered", |_, s: &S| {
                s.v.iter().any(|v| v.r >= 1)
            }),
            Property::sometimes("a decision in a later round", |_, s: &S| s.late),
            Property::sometimes("height 2 decided by every honest validator", |_, s: &S| {
                s.v.iter().all(|v| v.decided[1].is_some())
            }),
        ]
    }
}

impl Lbft {
    /// Safety mode: every adaptive Byzantine move (see the module docs).
    fn adversary_actions(&self, s: &S, actions: &mut Vec<Action>) {
        for i in 0..HONEST as u8 {
            let v = &s.v[i as usize];
            if v.h > self.heights {
                continue;
            }
            // A P-certificate (a completed PREPARE tally, or one shown) is used only to
            // commit in the current round once prepared, or by a leader about to propose:
            // it is offered at those moments only (the same argument as for votes).
            let leading = v.r >= 1 && leader(v.h, v.r) == i && !v.led;
            let committing = v.prepared.is_some() && v.committed.is_none();
            for r in 0..=self.max_round {
                let usable = leading || (committing && r == v.r);
                for phase in [Phase::Prepare, Phase::Commit] {
                    if phase == Phase::Prepare && !usable {
                        continue;
                    }
                    for val in [Val::N, Val::I] {
                        let have = v.count(r, phase, val);
                        let q = self.quorum(val);
                        if have >= q {
                            continue;
                        }
                        let mut can = 0u8;
                        for m in &s.net {
                            if let Msg::Vote {
                                to,
                                h,
                                voter,
                                r: vr,
                                phase: vp,
                                val: vv,
                            } = *m
                            {
                                if to == i && h == v.h && vr == r && vp == phase && vv == val {
                                    can |= 1 << voter;
                                }
                            }
                        }
                        if !v.voted(BYZ, r, phase) {
                            can |= 1 << BYZ;
                        }
                        for voters in 1..16u8 {
                            if voters & !can == 0 && have + voters.count_ones() as usize == q {
                                actions.push(Action::Votes {
                                    to: i,
                                    r,
                                    phase,
                                    val,
                                    voters,
                                });
                            }
                        }
                    }
                }
                if !usable {
                    continue;
                }
                for val in [Val::N, Val::I] {
                    if v.pcerts & bit(r, val) == 0
                        && !self.tally(v, r, Phase::Prepare, val)
                        && self.pcert_exists(s, v.h, r, val)
                    {
                        actions.push(Action::ByzCert { to: i, r, val });
                    }
                }
            }
            if v.r >= 1 && leader(v.h, v.r) == BYZ && v.proposal.is_none() {
                actions.push(Action::ByzPropose {
                    to: i,
                    prop: (Val::I, None),
                });
                for pr in 0..v.r {
                    for val in [Val::N, Val::I] {
                        if self.pcert_exists(s, v.h, pr, val) {
                            actions.push(Action::ByzPropose {
                                to: i,
                                prop: (val, Some(pr)),
                            });
                        }
                    }
                }
            }
        }
    }
}

fn check(model: Lbft, what: &str) -> Box<dyn Checker<Lbft>> {
    let start = model.start;
    let (q, h, r, first) = (
        model.impeach_quorum,
        model.heights,
        model.max_round,
        model.first,
    );
    let b = model.checker().threads(2);
    let checker: Box<dyn Checker<Lbft>> = match first {
        Some((name, true)) => Box::new(
            b.finish_when(HasDiscoveries::AnyOf([name].into_iter().collect()))
                .spawn_bfs()
                .join(),
        ),
        Some((name, false)) => Box::new(
            b.finish_when(HasDiscoveries::AnyOf([name].into_iter().collect()))
                .spawn_dfs()
                .join(),
        ),
        None => Box::new(b.spawn_dfs().join()),
    };
    println!(
        "stateright: {what}, impeach quorum {q}, heights {start}..={h}, rounds 0..={r}{}: {} unique states ({} visited)",
        if first.is_some() { ", stopped at the first counterexample" } else { "" },
        checker.unique_state_count(),
        checker.state_count()
    );
    checker
}

fn safety(impeach_quorum: usize, heights: u8, max_round: u8) -> Lbft {
    Lbft {
        impeach_quorum,
        heights,
        max_round,
        adversarial: true,
        start: 1,
        lock_rule: true,
        early_heights: 0,
        first: None,
    }
}

fn liveness(early_heights: u8, max_round: u8) -> Lbft {
    Lbft {
        impeach_quorum: 3,
        heights: 2,
        max_round,
        adversarial: false,
        start: 1,
        lock_rule: true,
        early_heights,
        first: None,
    }
}

// The exhaustive runs take seconds to a minute in a release build and many minutes in the
// dev profile: they are `#[ignore]`d in `cargo test` and run by .ci/run with
// `cargo test --release -p cpchain-consensus --test model_lbft -- --include-ignored`.
// The small versions below run everywhere.

#[test]
fn model_agreement_holds_under_two_f_plus_one_impeach_quorum() {
    // Heights 1 and 2, round 0, the full adversary (every Byzantine vote, certificate and
    // delivery order, losses, timers at any moment).
    let checker = check(safety(3, 2, 0), "safety");
    checker.assert_no_discovery("agreement");
    // Both paths and the second height are reachable: agreement is not vacuous.
    checker.assert_any_discovery("a height decided by impeachment");
    checker.assert_any_discovery("a normal block decided");
    checker.assert_any_discovery("height 2 decided by every honest validator");
}

#[test]
#[ignore = "exhaustive, about 20 s in release: run by .ci/run with --release --include-ignored"]
fn model_agreement_holds_across_rounds_under_two_f_plus_one_impeach_quorum() {
    // Height 1, rounds 0 and 1 (locks, proofs-of-lock, round changes, the round-1 leader),
    // the full adversary.
    let checker = check(safety(3, 1, 1), "safety");
    checker.assert_no_discovery("agreement");
    checker.assert_any_discovery("a later round entered");
    checker.assert_any_discovery("a decision in a later round");
    checker.assert_any_discovery("a height decided by impeachment");
    checker.assert_any_discovery("a normal block decided");
}

#[test]
#[ignore = "exhaustive, about 20 s in release: run by .ci/run with --release --include-ignored"]
fn model_agreement_holds_across_rounds_with_a_byzantine_leader_under_two_f_plus_one_impeach_quorum()
{
    // Height 2 on its own (see `Lbft::start`), rounds 0 and 1: the Byzantine leads round 1
    // and may propose anything, a different proposal to each validator.
    let mut m = safety(3, 2, 1);
    m.start = 2;
    let checker = check(m, "safety");
    checker.assert_no_discovery("agreement");
    checker.assert_any_discovery("a decision in a later round");
    checker.assert_any_discovery("a height decided by impeachment");
    checker.assert_any_discovery("a normal block decided");
}

#[test]
fn model_finds_a_fork_across_rounds_without_the_lock_rule() {
    // The rounds check has teeth: with the lock rule removed (prepare any proposal, whatever
    // the lock), the same configuration yields a fork across rounds 0 and 1.
    let mut m = safety(3, 1, 1);
    m.lock_rule = false;
    m.first = Some(("agreement", false));
    let checker = check(m, "safety without the lock rule");
    let path = checker.assert_any_discovery("agreement");
    println!("fork without the lock rule: {:?}", path.into_actions());
}

#[test]
fn model_finds_the_fork_under_f_plus_one_impeach_quorum() {
    // Same configuration as the agreement check, breadth first: the shortest fork.
    let mut m = safety(2, 2, 0);
    m.first = Some(("agreement", true));
    let checker = check(m, "safety");
    let path = checker.assert_any_discovery("agreement");
    println!("fork counterexample: {:?}", path.into_actions());
}

#[test]
#[ignore = "exhaustive, about 40 s in release: run by .ci/run with --release --include-ignored"]
fn model_every_honest_validator_decides_once_the_byzantine_stops_and_the_network_delivers() {
    let checker = check(liveness(1, 3), "liveness");
    checker.assert_no_discovery("every honest validator decides every height");
    checker.assert_no_discovery("no honest validator is stuck undecided");
    checker.assert_no_discovery("agreement");
    // The double votes do force later rounds, and decisions in them, in some schedules: the
    // round machinery is what the liveness result rests on.
    checker.assert_any_discovery("a later round entered");
    checker.assert_any_discovery("a decision in a later round");
    checker.assert_any_discovery("a height decided by impeachment");
}

#[test]
fn model_liveness_check_finds_the_deadlock_without_later_rounds() {
    // The liveness check has teeth: with round 0 only (the paper's protocol with one vote
    // per phase) it finds the n = 4 deadlock that rounds resolve (module docs of `lbft`).
    let mut m = liveness(1, 0);
    m.heights = 1;
    m.first = Some(("no honest validator is stuck undecided", false));
    let checker = check(m, "liveness");
    let path = checker.assert_any_discovery("no honest validator is stuck undecided");
    println!("deadlock without rounds: {:?}", path.into_actions());
}
