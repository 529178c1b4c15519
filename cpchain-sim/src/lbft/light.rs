//! A simulated light node (the paper's "user"): it follows the chain from VALIDATE messages
//! alone, accepting a block only through the engine's light verification, and asks
//! validators for the heights it missed.

use super::shared::{Event, Record, Shared, SimMsg};
use crate::{Context, NodeId, SimNode};
use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use cpchain_consensus::lbft::{Header, LightVerifier, Message};
use cpchain_core::{Height, Timestamp};

type Ctx = Context<SimMsg, Record, Event>;

/// Most future VALIDATE messages a light node holds.
pub const LIGHT_BUFFER: usize = 32;

/// One light node.
pub struct LightNode {
    shared: Rc<Shared>,
    id: NodeId,
    verifier: LightVerifier<cpchain_consensus::lbft::FixedSchedule>,
    last: Header,
    last_id: cpchain_core::Hash,
    pending: BTreeMap<u64, Rc<Message>>,
    next_status: Timestamp,
    status_peer: usize,
}

impl LightNode {
    /// A light node at genesis, or where its disk says it was.
    pub fn new(shared: Rc<Shared>, id: NodeId, genesis: &Header, disk: &[Record]) -> Self {
        let last = disk
            .iter()
            .rev()
            .find_map(|r| match r {
                Record::Block(m) => match &**m {
                    Message::Validate(v) => Some(v.block.header.clone()),
                    _ => None,
                },
                _ => None,
            })
            .unwrap_or_else(|| genesis.clone());
        let verifier = LightVerifier {
            spec: shared.spec.clone(),
            validators: shared.validators.clone(),
            impeach_quorum: shared.impeach_quorum,
            schedule: shared.schedule.clone(),
        };
        LightNode {
            status_peer: id,
            shared,
            id,
            verifier,
            last_id: last.id(),
            last,
            pending: BTreeMap::new(),
            next_status: Timestamp(0),
        }
    }

    /// Height of the last accepted block.
    pub fn committed_height(&self) -> Height {
        self.last.height
    }

    fn accept_ready(&mut self, ctx: &mut Ctx) {
        loop {
            let next = self.last.height.0.saturating_add(1);
            self.pending = self.pending.split_off(&next);
            let Some(m) = self.pending.remove(&next) else {
                return;
            };
            let Message::Validate(v) = &*m else {
                continue;
            };
            // The engine's light verification (LightVerifier::verify), with the id of the
            // last accepted block kept rather than hashed again.
            let verdict = cpchain_consensus::lbft::light::verify_validate_on(
                &self.verifier.spec,
                &self.verifier.validators,
                self.verifier.impeach_quorum,
                &self.verifier.schedule,
                v,
                &self.last,
                &self.last_id,
            );
            let Ok((_, id)) = verdict else {
                continue;
            };
            let certified = v.block.header.parent == self.last_id
                && self
                    .shared
                    .certified(&self.last, self.last_id, &v.block, id, &v.certificate);
            self.last_id = id;
            ctx.observe(Event::Committed {
                height: v.block.header.height,
                block: id,
                impeach: v.block.is_impeach(),
                round: v.certificate.round,
                certified,
            });
            self.last = v.block.header.clone();
            ctx.persist(Record::Block(m.clone()));
        }
    }
}

impl SimNode for LightNode {
    type Message = SimMsg;
    type Persisted = Record;
    type Observation = Event;

    fn on_start(&mut self, now: Timestamp, _: &mut Ctx) {
        self.next_status = now.saturating_add(self.shared.sync_interval);
    }

    fn on_message(&mut self, _: Timestamp, _: NodeId, msg: SimMsg, ctx: &mut Ctx) {
        let SimMsg::Lbft(m) = msg else {
            return;
        };
        let Message::Validate(v) = &*m else {
            return;
        };
        let h = v.block.header.height.0;
        if h <= self.last.height.0 || self.pending.contains_key(&h) {
            return;
        }
        if self.pending.len() >= LIGHT_BUFFER {
            // Keep the nearest heights.
            match self.pending.keys().next_back().copied() {
                Some(far) if far > h => {
                    self.pending.remove(&far);
                }
                _ => return,
            }
        }
        self.pending.insert(h, m.clone());
        self.accept_ready(ctx);
    }

    fn on_timeout(&mut self, now: Timestamp, ctx: &mut Ctx) {
        if now >= self.next_status {
            self.next_status = now.saturating_add(self.shared.sync_interval);
            let n = self.shared.n_validators.max(1);
            self.status_peer = (self.status_peer + 1) % n;
            ctx.send(
                self.status_peer,
                SimMsg::Status(Height(self.last.height.0.saturating_add(1))),
            );
        }
        let _ = self.id;
    }

    fn next_deadline(&self) -> Option<Timestamp> {
        Some(self.next_status)
    }
}
