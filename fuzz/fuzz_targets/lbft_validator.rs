//! One LBFT validator (n = 4, validator 0) driven by an arbitrary sequence of
//! (sender, message, time step) inputs: raw bytes, and — so that the fuzzer reaches the
//! state machine's deep paths — validly signed votes, proposals, round changes and
//! VALIDATEs built from the input by the other validators and the proposer.
//!
//! Checked: nothing panics; the validator never broadcasts two votes of one phase in one
//! round of a height for different blocks (which also excludes COMMIT + IMPEACH COMMIT);
//! every vote it broadcasts was persisted first; every block it commits carries a
//! certificate that verifies.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use cpchain_consensus::lbft::*;
use cpchain_core::{ChainSpec, Hash, Height, Timestamp};
use cpchain_crypto::SecretKey;
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;
use std::sync::OnceLock;

struct World {
    spec: ChainSpec,
    keys: Vec<SecretKey>,
    set: ValidatorSet,
    proposers: Vec<SecretKey>,
    schedule: FixedSchedule,
    genesis: Header,
}

fn secret(i: u32) -> SecretKey {
    let mut b = [0u8; 32];
    b[0] = 0x42;
    b[28..].copy_from_slice(&i.to_be_bytes());
    SecretKey::from_bytes(&b).expect("valid scalar")
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let spec = ChainSpec::devnet();
        let mut keys: Vec<SecretKey> = (0..4).map(|i| secret(1000 + i)).collect();
        keys.sort_by_key(|k| k.public_key().address());
        let pubs: Vec<_> = keys.iter().map(|k| k.public_key()).collect();
        let set = ValidatorSet::new(&pubs).expect("set");
        let proposers: Vec<SecretKey> = (0..2).map(|i| secret(5000 + i)).collect();
        let schedule =
            FixedSchedule::new(proposers.iter().map(|k| k.public_key().address()).collect());
        let genesis = Header::genesis(&spec, Timestamp(1_000_000));
        World {
            spec,
            keys,
            set,
            proposers,
            schedule,
            genesis,
        }
    })
}

#[derive(Arbitrary, Debug)]
enum Pick {
    ProposalA,
    ProposalB,
    Impeach,
    Random([u8; 4]),
}

#[derive(Arbitrary, Debug)]
enum Op {
    Raw {
        sender: u8,
        bytes: Vec<u8>,
    },
    Vote {
        sender: u8,
        kind: u8,
        round: u8,
        pick: Pick,
        height_delta: i8,
    },
    PrePrepare {
        pick: Pick,
        late: bool,
    },
    Validate {
        signers: u8,
        pick: Pick,
        impeach_kind: bool,
    },
    RoundChange {
        sender: u8,
        round: u8,
        lock: Option<(u8, u8, Pick)>,
    },
    Proposal {
        round: u8,
        pick: Pick,
        pol: Option<(u8, u8)>,
    },
    Verdict {
        ok: bool,
    },
    Time {
        step_ms: u16,
    },
}

fn kind_of(k: u8) -> VoteKind {
    match k % 4 {
        0 => VoteKind::Prepare,
        1 => VoteKind::Commit,
        2 => VoteKind::ImpeachPrepare,
        _ => VoteKind::ImpeachCommit,
    }
}

struct Ctx<'a> {
    w: &'a World,
    parent: Header,
    height: Height,
}

impl Ctx<'_> {
    fn block(&self, pick: &Pick, late: bool) -> Block {
        let proposer = self
            .w
            .schedule
            .proposer_of(self.height)
            .and_then(|a| {
                self.w
                    .proposers
                    .iter()
                    .find(|k| k.public_key().address() == a)
            })
            .unwrap_or(&self.w.proposers[0]);
        let t = self.parent.timestamp
            + self.w.spec.block_period
            + if late {
                self.w.spec.impeach_timeout + cpchain_core::Duration(1)
            } else {
                cpchain_core::Duration(0)
            };
        match pick {
            Pick::ProposalA => Block::propose(
                &self.w.spec,
                &self.parent,
                proposer,
                proposer.public_key().address(),
                t,
                vec![vec![1; 8]],
            ),
            Pick::ProposalB => Block::propose(
                &self.w.spec,
                &self.parent,
                proposer,
                proposer.public_key().address(),
                t,
                vec![vec![2; 8]],
            ),
            Pick::Impeach | Pick::Random(_) => Block::impeach(
                &self.w.spec,
                &self.parent,
                self.w.schedule.proposer_of(self.height).unwrap_or_default(),
            ),
        }
    }

    fn id(&self, pick: &Pick) -> Hash {
        match pick {
            Pick::Random(r) => {
                let mut h = [0u8; 32];
                h[..4].copy_from_slice(r);
                Hash(h)
            }
            p => self.block(p, false).id(),
        }
    }

    fn cert(&self, signers: u8, kind: VoteKind, round: u32, block: Hash) -> Certificate {
        let mut sigs: Vec<_> = (0..4usize)
            .filter(|i| signers & (1 << i) != 0)
            .map(|i| {
                let v = Vote::sign(
                    &self.w.keys[i],
                    self.w.spec.chain_id,
                    kind,
                    self.height,
                    round,
                    block,
                );
                (v.voter, v.signature)
            })
            .collect();
        sigs.sort_by_key(|s| s.0);
        Certificate {
            kind,
            height: self.height,
            round,
            block,
            signatures: sigs,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    let mut cfg = Config::new(w.spec.clone(), w.set.clone(), w.keys[0].clone());
    cfg.future_buffer = 64;
    let me = w.keys[0].public_key().address();
    let Ok(mut v) = Validator::new(
        cfg,
        w.schedule.clone(),
        w.genesis.clone(),
        Timestamp(1_003_000),
    ) else {
        return;
    };
    let mut now = Timestamp(1_003_000);
    let mut u = Unstructured::new(data);
    let mut signed: BTreeMap<(u64, u32, Phase), Hash> = BTreeMap::new();
    let mut last_persist: Option<Persisted> = None;
    let mut pending: Option<Hash> = None;
    for _ in 0..64 {
        let Ok(op) = Op::arbitrary(&mut u) else { break };
        let ctx = Ctx {
            w,
            parent: v.parent().clone(),
            height: v.height(),
        };
        let sender = |s: u8| w.keys[usize::from(s % 4)].public_key().address();
        match op {
            Op::Raw { sender: s, bytes } => {
                let _ = v.handle_bytes(now, sender(s), &bytes);
            }
            Op::Vote {
                sender: s,
                kind,
                round,
                pick,
                height_delta,
            } => {
                let i = usize::from(s % 4);
                let h = Height(
                    ctx.height
                        .0
                        .saturating_add_signed(i64::from(height_delta % 3)),
                );
                let vote = Vote::sign(
                    &w.keys[i],
                    w.spec.chain_id,
                    kind_of(kind),
                    h,
                    u32::from(round % 6),
                    ctx.id(&pick),
                );
                let _ = v.handle_message(now, sender(s), Message::Vote(vote));
            }
            Op::PrePrepare { pick, late } => {
                let b = ctx.block(&pick, late);
                let _ = v.handle_message(now, sender(1), Message::PrePrepare(b));
            }
            Op::Validate {
                signers,
                pick,
                impeach_kind,
            } => {
                let b = ctx.block(&pick, false);
                let kind = if impeach_kind {
                    VoteKind::ImpeachCommit
                } else {
                    VoteKind::Commit
                };
                let cert = ctx.cert(signers, kind, 0, b.id());
                let _ = v.handle_message(
                    now,
                    sender(2),
                    Message::Validate(Validate {
                        block: b,
                        certificate: cert,
                    }),
                );
            }
            Op::RoundChange {
                sender: s,
                round,
                lock,
            } => {
                let i = usize::from(s % 4);
                let lock = lock.map(|(signers, r, pick)| {
                    let b = ctx.block(&pick, false);
                    let kind = if b.is_impeach() {
                        VoteKind::ImpeachPrepare
                    } else {
                        VoteKind::Prepare
                    };
                    let certificate = ctx.cert(signers, kind, u32::from(r % 4), b.id());
                    LockProof {
                        block: b,
                        certificate,
                    }
                });
                let rc = RoundChange::sign(
                    &w.keys[i],
                    w.spec.chain_id,
                    ctx.height,
                    u32::from(round % 6),
                    lock,
                );
                let _ = v.handle_message(now, sender(s), Message::RoundChange(rc));
            }
            Op::Proposal { round, pick, pol } => {
                let r = u32::from(round % 6);
                let Some(leader) = leader(&w.set, ctx.height, r) else {
                    continue;
                };
                let Some(k) = w.keys.iter().find(|k| k.public_key().address() == leader) else {
                    continue;
                };
                let b = ctx.block(&pick, false);
                let pol = pol.map(|(signers, pr)| {
                    let kind = if b.is_impeach() {
                        VoteKind::ImpeachPrepare
                    } else {
                        VoteKind::Prepare
                    };
                    ctx.cert(signers, kind, u32::from(pr % 4), b.id())
                });
                let p = Proposal::sign(k, w.spec.chain_id, ctx.height, r, b, pol);
                let _ = v.handle_message(now, leader, Message::Proposal(p));
            }
            Op::Verdict { ok } => {
                if let Some(id) = pending.take() {
                    v.block_checked(now, id, ok);
                }
            }
            Op::Time { step_ms } => {
                now = now + cpchain_core::Duration(u64::from(step_ms) * 8);
                v.handle_timeout(now);
            }
        }
        while let Some(out) = v.poll_output() {
            match out {
                ValidatorOutput::Persist(p) => last_persist = Some(p),
                ValidatorOutput::Broadcast(Message::Vote(x)) => {
                    assert_eq!(x.voter, me);
                    let p = last_persist
                        .as_ref()
                        .expect("persist before the first vote");
                    assert!(
                        p.prepared.as_ref() == Some(&x) || p.committed.as_ref() == Some(&x),
                        "vote sent before it was persisted"
                    );
                    let key = (x.height.0, x.round, x.kind.phase());
                    if let Some(prev) = signed.insert(key, x.block) {
                        assert_eq!(prev, x.block, "conflicting signatures at {key:?}");
                    }
                }
                ValidatorOutput::CheckBlock { block, .. } => pending = Some(block.id()),
                ValidatorOutput::Commit { block, certificate } => {
                    let quorum = if block.is_impeach() {
                        w.set.impeach_quorum(ImpeachQuorum::default())
                    } else {
                        w.set.quorum()
                    };
                    assert_eq!(certificate.block, block.id());
                    certificate
                        .verify(w.spec.chain_id, &w.set, quorum)
                        .expect("committed certificate verifies");
                }
                _ => {}
            }
        }
    }
});
