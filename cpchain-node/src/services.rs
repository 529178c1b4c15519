//! Data services beside the chain (issue 15): the follower loop's extension point.
//!
//! The core protocols (gossipsub, direct sends, block sync, identify) stay in the loops of
//! [`crate::node`] and [`crate::follower`]; every other protocol's events are handed to the
//! [`Services`] the loop owns, which offers each to its [`Service`]s in turn until one
//! takes it. A service also hears of peers that bound (identify with a valid CPChain
//! binding, see [`crate::binding`]) and of peers that left, and gets a tick. Code outside
//! the loop (an HTTP handler, the gateway's ingest, the buyer) reaches the swarm only
//! through [`Job`]s sent on [`Services::jobs`]: closures the loop runs between two events,
//! so the swarm keeps one owner and there are no locks around it.
//!
//! Storage ([`crate::dht`]) is one such service; the re-encryption proxy is another.

use crate::network::{Behaviour, Event};
use libp2p::{identify, PeerId, Swarm};
use tokio::sync::mpsc;

/// A closure run on the loop with the swarm: how code outside the loop sends requests.
pub type Job = Box<dyn FnOnce(&mut Swarm<Behaviour>) + Send>;

/// What the loop tells a service about a peer whose binding checked.
#[derive(Debug, Clone)]
pub struct BoundPeer {
    /// The peer.
    pub peer: PeerId,
    /// Its CPChain address (recovered from the binding).
    pub address: cpchain_core::Address,
    /// What identify said (listen addresses, protocols).
    pub info: identify::Info,
}

/// One non-core protocol's handler on the node loop.
pub trait Service: Send {
    /// Offer an event: return `None` if this service took it, else give it back.
    fn on_event(&mut self, swarm: &mut Swarm<Behaviour>, event: Event) -> Option<Event>;
    /// A peer bound (its address is authenticated).
    fn on_bound(&mut self, _swarm: &mut Swarm<Behaviour>, _peer: &BoundPeer) {}
    /// A peer's last connection closed.
    fn on_gone(&mut self, _swarm: &mut Swarm<Behaviour>, _peer: &PeerId) {}
    /// Called on the loop's tick (about 4 Hz) with the wall-clock time in Unix ms.
    fn on_tick(&mut self, _swarm: &mut Swarm<Behaviour>, _now_ms: u64) {}
}

/// Most jobs queued from outside the loop before senders wait (back-pressure).
pub const JOB_QUEUE: usize = 1024;

/// The services of one node and the queue of jobs for its swarm.
pub struct Services {
    list: Vec<Box<dyn Service>>,
    jobs_tx: mpsc::Sender<Job>,
    jobs_rx: mpsc::Receiver<Job>,
}

impl Default for Services {
    fn default() -> Self {
        Services::new()
    }
}

impl Services {
    /// No services yet.
    pub fn new() -> Services {
        let (jobs_tx, jobs_rx) = mpsc::channel(JOB_QUEUE);
        Services {
            list: Vec::new(),
            jobs_tx,
            jobs_rx,
        }
    }

    /// Add a service (events are offered in the order services were added).
    pub fn add(&mut self, s: Box<dyn Service>) {
        self.list.push(s);
    }

    /// A sender of jobs for this loop's swarm (clone freely).
    pub fn jobs(&self) -> mpsc::Sender<Job> {
        self.jobs_tx.clone()
    }

    /// Offer an event to the services; returns it if none took it.
    pub fn on_event(&mut self, swarm: &mut Swarm<Behaviour>, event: Event) -> Option<Event> {
        let mut ev = Some(event);
        for s in &mut self.list {
            match ev.take() {
                Some(e) => ev = s.on_event(swarm, e),
                None => break,
            }
        }
        ev
    }

    /// Tell every service that a peer bound.
    pub fn on_bound(&mut self, swarm: &mut Swarm<Behaviour>, peer: &BoundPeer) {
        for s in &mut self.list {
            s.on_bound(swarm, peer);
        }
    }

    /// Tell every service that a peer left.
    pub fn on_gone(&mut self, swarm: &mut Swarm<Behaviour>, peer: &PeerId) {
        for s in &mut self.list {
            s.on_gone(swarm, peer);
        }
    }

    /// Tick every service.
    pub fn on_tick(&mut self, swarm: &mut Swarm<Behaviour>, now_ms: u64) {
        for s in &mut self.list {
            s.on_tick(swarm, now_ms);
        }
    }

    /// The next job (for `tokio::select!` in the loop). Never ends: this struct holds a
    /// sender itself.
    pub async fn next_job(&mut self) -> Job {
        match self.jobs_rx.recv().await {
            Some(j) => j,
            None => futures::future::pending().await,
        }
    }
}
