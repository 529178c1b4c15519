//! The sharing adapters (feature `pre`, GPL-3.0 through umbral-pre): the owner, the proxies
//! and the grantee of `cpchain-storage`'s proxy re-encryption (white paper §2.2.2) as
//! simulated nodes, each a [`MachineNode`] around its machine.
//!
//! The wire carries what real hosts exchange: the signed grant (published to the grantees,
//! standing in for the chain), kfrag deliveries, re-encryption requests, signed cfrag
//! responses as their wire bytes, revokes. The owner acts on a script of [`OwnerCommand`]s
//! (its inputs are the host's commands, not peer messages); a grantee asks for each interval
//! it wants as soon as it accepts a grant covering it, and asks again when a request expires
//! ([`GranteeOutput::Expired`]): over a lossy network that retry is the host's liveness.
//! Everything a node does or refuses is reported as a [`SharingEvent`] for checkers.

use crate::machine::{Host, HostContext, MachineNode};
use crate::node::NodeId;
use alloc::collections::VecDeque;
use alloc::rc::Rc;
use alloc::vec::Vec;
use cpchain_core::{encoding, Address, Timestamp};
use cpchain_crypto::pre::{PrePublicKey, WrappedKey};
use cpchain_storage::sharing::{
    CfragResponse, Fault, GrantId, GrantRequest, Grantee, GranteeOutput, KfragDelivery, Owner,
    OwnerOutput, Proxy, ProxyOutput, ReencryptionRequest, SharingError, SignedGrant, SignedRevoke,
};
use rand_chacha::ChaCha20Rng;

/// A message of the sharing protocol on the simulated wire (shared between the copies of a
/// send).
#[derive(Debug, Clone)]
pub enum SharingMsg {
    /// The owner's signed grant, as published on chain.
    Grant(Rc<SignedGrant>),
    /// One proxy's kfrags of a grant.
    Delivery(Rc<KfragDelivery>),
    /// A grantee's re-encryption request.
    Request(Rc<ReencryptionRequest>),
    /// A proxy's signed cfrag response, in its wire encoding.
    Cfrag(Rc<Vec<u8>>),
    /// The owner's signed revoke.
    Revoke(SignedRevoke),
}

/// What sharing nodes report to the simulator's checkers.
#[derive(Debug, Clone, PartialEq)]
pub enum SharingEvent {
    /// The owner issued (and published) a grant.
    Granted(GrantId),
    /// The owner revoked a grant.
    Revoked(GrantId),
    /// A proxy verified a delivery and holds the grant's kfrags.
    Accepted(GrantId),
    /// A proxy re-encrypted a capsule for a request.
    Served(GrantId),
    /// A proxy did not serve a request or delivery, and why.
    Refused(GrantId, SharingError),
    /// A proxy honoured a revoke: the grant's kfrags are gone.
    Dropped(GrantId),
    /// A grantee holds `m` verified cfrags of an interval: it can open it.
    Ready(GrantId, u64),
    /// A grantee's request expired before `m` cfrags came (it asks again).
    Expired(GrantId, u64),
    /// A peer misbehaved, with evidence.
    Fault(Fault),
    /// A machine refused a host input (the host's mistake or a local limit).
    Error(SharingError),
    /// Bytes from a peer that do not decode (dropped by the host before the machine).
    Undecodable,
}

/// Who is who: node `i`'s address, so outputs addressed to an [`Address`] find their node.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    /// Node `i`'s address.
    pub addresses: Vec<Address>,
}

impl Directory {
    /// The node with address `a`, if any.
    pub fn node_of(&self, a: &Address) -> Option<NodeId> {
        self.addresses.iter().position(|x| x == a)
    }
}

/// A grant the owner's host asks for (an owned [`GrantRequest`]).
#[derive(Debug, Clone)]
pub struct GrantPlan {
    /// First encryption interval granted.
    pub first_interval: u64,
    /// Last encryption interval granted.
    pub last_interval: u64,
    /// The grantee's re-encryption public key.
    pub grantee: PrePublicKey,
    /// Cfrags needed (`m` of the `n` proxies).
    pub threshold: u8,
    /// The proxies.
    pub proxies: Vec<Address>,
    /// When the grant ends.
    pub expires_at: Timestamp,
}

/// A command of the owner's script.
#[derive(Debug, Clone)]
pub enum OwnerCommand {
    /// Issue a grant.
    Grant(GrantPlan),
    /// Revoke the `i`-th grant this owner issued (0-based).
    Revoke(usize),
}

/// A simulated data owner.
pub type OwnerNode = MachineNode<Owner, OwnerHost>;
/// A simulated proxy.
pub type ProxyNode = MachineNode<Proxy, ProxyHost>;
/// A simulated grantee (a data buyer).
pub type GranteeNode = MachineNode<Grantee, GranteeHost>;

type Ctx<H, M> = HostContext<H, M>;

/// The owner's host: runs its script at the given times and routes the owner's outputs.
#[derive(Debug)]
pub struct OwnerHost {
    dir: Rc<Directory>,
    rng: ChaCha20Rng,
    script: VecDeque<(Timestamp, OwnerCommand)>,
    publish_to: Vec<NodeId>,
    /// Grants issued, in order.
    pub issued: Vec<GrantId>,
}

impl OwnerHost {
    /// An owner host that runs `script` (sorted by time) and publishes its grants to
    /// `publish_to` (the grantees; the chain in a real deployment). `rng` makes the kfrags.
    pub fn new(
        dir: Rc<Directory>,
        rng: ChaCha20Rng,
        mut script: Vec<(Timestamp, OwnerCommand)>,
        publish_to: Vec<NodeId>,
    ) -> Self {
        script.sort_by_key(|(t, _)| *t);
        OwnerHost {
            dir,
            rng,
            script: script.into(),
            publish_to,
            issued: Vec::new(),
        }
    }
}

impl Host<Owner> for OwnerHost {
    type Message = SharingMsg;
    type Persisted = ();
    type Observation = SharingEvent;

    /// The owner takes no peer input.
    fn on_message(
        &mut self,
        _: &mut Owner,
        _: Timestamp,
        _: NodeId,
        _: SharingMsg,
        _: &mut Ctx<Self, Owner>,
    ) {
    }

    fn on_output(&mut self, _: Timestamp, output: OwnerOutput, ctx: &mut Ctx<Self, Owner>) {
        match output {
            OwnerOutput::PublishGrant(g) => {
                let g: Rc<SignedGrant> = Rc::from(g);
                for &n in &self.publish_to {
                    ctx.send(n, SharingMsg::Grant(g.clone()));
                }
            }
            OwnerOutput::SendKfrags { to, delivery } => {
                if let Some(n) = self.dir.node_of(&to) {
                    ctx.send(n, SharingMsg::Delivery(Rc::from(delivery)));
                }
            }
            OwnerOutput::PublishRevoke(_) => {}
            OwnerOutput::SendRevoke { to, revoke } => {
                if let Some(n) = self.dir.node_of(&to) {
                    ctx.send(n, SharingMsg::Revoke(revoke));
                }
            }
            // An output kind added after this adapter: nothing to route yet.
            _ => {}
        }
    }

    fn deadline(&self, _: &Owner) -> Option<Timestamp> {
        self.script.front().map(|(t, _)| *t)
    }

    fn on_timeout(&mut self, owner: &mut Owner, now: Timestamp, ctx: &mut Ctx<Self, Owner>) {
        while self.script.front().is_some_and(|(t, _)| *t <= now) {
            let Some((_, command)) = self.script.pop_front() else {
                break;
            };
            match command {
                OwnerCommand::Grant(p) => {
                    let request = GrantRequest {
                        first_interval: p.first_interval,
                        last_interval: p.last_interval,
                        grantee: p.grantee,
                        threshold: p.threshold,
                        proxies: &p.proxies,
                        expires_at: p.expires_at,
                    };
                    match owner.grant(now, &mut self.rng, &request) {
                        Ok(id) => {
                            self.issued.push(id);
                            ctx.observe(SharingEvent::Granted(id));
                        }
                        Err(e) => ctx.observe(SharingEvent::Error(e)),
                    }
                }
                OwnerCommand::Revoke(i) => {
                    let Some(id) = self.issued.get(i).copied() else {
                        ctx.observe(SharingEvent::Error(SharingError::UnknownGrant));
                        continue;
                    };
                    match owner.revoke(now, &id) {
                        Ok(()) => ctx.observe(SharingEvent::Revoked(id)),
                        Err(e) => ctx.observe(SharingEvent::Error(e)),
                    }
                }
            }
            // Each command's outputs leave before the next command runs.
            crate::machine::drain_to(self, owner, now, ctx);
        }
    }
}

/// A proxy's host: hands deliveries, requests and revokes to the proxy and sends each
/// reply back to whoever asked.
#[derive(Debug)]
pub struct ProxyHost {
    rng: ChaCha20Rng,
    requester: Option<NodeId>,
}

impl ProxyHost {
    /// A proxy host; `rng` feeds the re-encryptions.
    pub fn new(rng: ChaCha20Rng) -> Self {
        ProxyHost {
            rng,
            requester: None,
        }
    }
}

impl Host<Proxy> for ProxyHost {
    type Message = SharingMsg;
    type Persisted = ();
    type Observation = SharingEvent;

    fn on_message(
        &mut self,
        proxy: &mut Proxy,
        now: Timestamp,
        from: NodeId,
        msg: SharingMsg,
        ctx: &mut Ctx<Self, Proxy>,
    ) {
        let r = match msg {
            SharingMsg::Delivery(d) => proxy.handle_delivery(now, (*d).clone()),
            SharingMsg::Request(r) => {
                // Replies of this step go to the requester (one request per step).
                self.requester = Some(from);
                proxy.handle_request(now, &mut self.rng, (*r).clone())
            }
            SharingMsg::Revoke(r) => proxy.handle_revoke(now, r),
            SharingMsg::Grant(_) | SharingMsg::Cfrag(_) => Ok(()),
        };
        if let Err(e) = r {
            ctx.observe(SharingEvent::Error(e));
        }
    }

    fn on_output(&mut self, _: Timestamp, output: ProxyOutput, ctx: &mut Ctx<Self, Proxy>) {
        match output {
            ProxyOutput::Accepted(g) => ctx.observe(SharingEvent::Accepted(g)),
            ProxyOutput::Reply { response, bytes } => {
                if let Some(to) = self.requester {
                    ctx.send(to, SharingMsg::Cfrag(Rc::new(bytes)));
                }
                ctx.observe(SharingEvent::Served(response.body.grant));
            }
            // Signed replies are the default; a transport-authenticated proxy's bare cfrag
            // has no authenticated channel to go back on in this simulation.
            ProxyOutput::UnsignedReply(b) => ctx.observe(SharingEvent::Served(b.grant)),
            ProxyOutput::Refused { grant, reason } => {
                ctx.observe(SharingEvent::Refused(grant, reason))
            }
            ProxyOutput::Dropped(g) => ctx.observe(SharingEvent::Dropped(g)),
            ProxyOutput::Fault(f) => ctx.observe(SharingEvent::Fault(f)),
            // An output kind added after this adapter: nothing to route yet.
            _ => {}
        }
    }

    fn after_step(&mut self, _: &Proxy, _: Timestamp, _: &mut Ctx<Self, Proxy>) {
        self.requester = None;
    }
}

/// A grantee's host: accepts grants published to it, asks for every wanted interval a
/// grant covers, routes requests to the proxies and cfrags to the grantee, and asks again
/// when a request expires.
#[derive(Debug)]
pub struct GranteeHost {
    dir: Rc<Directory>,
    /// Intervals wanted, with the capsule of each (from the key-index record).
    wanted: Vec<(u64, WrappedKey)>,
    retry: Vec<(GrantId, u64)>,
    /// Intervals that became ready, in order.
    pub ready: Vec<(GrantId, u64)>,
}

impl GranteeHost {
    /// A grantee host that wants `wanted` (interval, wrapped key) pairs.
    pub fn new(dir: Rc<Directory>, wanted: Vec<(u64, WrappedKey)>) -> Self {
        GranteeHost {
            dir,
            wanted,
            retry: Vec::new(),
            ready: Vec::new(),
        }
    }

    fn ask(
        &self,
        grantee: &mut Grantee,
        now: Timestamp,
        grant: &GrantId,
        interval: u64,
        ctx: &mut Ctx<Self, Grantee>,
    ) {
        if let Some((_, w)) = self.wanted.iter().find(|(i, _)| *i == interval) {
            if let Err(e) = grantee.request(now, grant, interval, w.clone()) {
                ctx.observe(SharingEvent::Error(e));
            }
        }
    }
}

impl Host<Grantee> for GranteeHost {
    type Message = SharingMsg;
    type Persisted = ();
    type Observation = SharingEvent;

    fn on_message(
        &mut self,
        grantee: &mut Grantee,
        now: Timestamp,
        _: NodeId,
        msg: SharingMsg,
        ctx: &mut Ctx<Self, Grantee>,
    ) {
        match msg {
            SharingMsg::Grant(g) => match grantee.accept_grant(now, &g) {
                Ok(id) => {
                    let covered: Vec<u64> = self
                        .wanted
                        .iter()
                        .map(|(i, _)| *i)
                        .filter(|i| (g.body.first_interval..=g.body.last_interval).contains(i))
                        .collect();
                    for i in covered {
                        self.ask(grantee, now, &id, i, ctx);
                    }
                }
                Err(e) => ctx.observe(SharingEvent::Error(e)),
            },
            SharingMsg::Cfrag(bytes) => match encoding::decode::<CfragResponse>(&bytes) {
                Ok(r) => {
                    if let Err(e) = grantee.handle_cfrag(now, r) {
                        ctx.observe(SharingEvent::Error(e));
                    }
                }
                Err(_) => ctx.observe(SharingEvent::Undecodable),
            },
            SharingMsg::Delivery(_) | SharingMsg::Request(_) | SharingMsg::Revoke(_) => {}
        }
    }

    fn on_output(&mut self, _: Timestamp, output: GranteeOutput, ctx: &mut Ctx<Self, Grantee>) {
        match output {
            GranteeOutput::SendRequest { to, request } => {
                if let Some(n) = self.dir.node_of(&to) {
                    ctx.send(n, SharingMsg::Request(Rc::from(request)));
                }
            }
            GranteeOutput::Ready { grant, interval } => {
                self.ready.push((grant, interval));
                ctx.observe(SharingEvent::Ready(grant, interval));
            }
            GranteeOutput::Expired { grant, interval } => {
                self.retry.push((grant, interval));
                ctx.observe(SharingEvent::Expired(grant, interval));
            }
            GranteeOutput::Fault(f) => ctx.observe(SharingEvent::Fault(f)),
            // An output kind added after this adapter: nothing to route yet.
            _ => {}
        }
    }

    /// Ask again for every interval whose request expired (unless it is ready).
    fn after_drain(
        &mut self,
        grantee: &mut Grantee,
        now: Timestamp,
        ctx: &mut Ctx<Self, Grantee>,
    ) -> bool {
        if self.retry.is_empty() {
            return false;
        }
        for (grant, interval) in core::mem::take(&mut self.retry) {
            if !self.ready.contains(&(grant, interval)) {
                self.ask(grantee, now, &grant, interval, ctx);
            }
        }
        true
    }
}
