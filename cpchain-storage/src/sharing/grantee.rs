//! The grantee's side: ask the grant's proxies, verify their cfrags, open with `m`.

use super::grant::{CfragBody, CfragResponse, Grant, GrantId, ReencryptionRequest, SignedGrant};
use super::memory::{btree_map_bytes, deque_bytes};
use super::{Fault, SharingError, MAX_PROXIES};
use crate::keys::IntervalKey;
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::mem::size_of;
use cpchain_core::machine::{Drops, Machine, MachineStats};
use cpchain_core::{Address, Duration, Timestamp};
use cpchain_crypto::pre::{PrePublicKey, PreSecretKey, VerifiedCapsuleFrag, WrappedKey};

/// The grantee machine's limits and chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GranteeConfig {
    /// Chain whose grants are accepted.
    pub chain_id: u64,
    /// Most grants held.
    pub max_grants: usize,
    /// Most (grant, interval) requests in flight or opened.
    pub max_pending: usize,
    /// Capacity of the output queue.
    pub max_outputs: usize,
    /// How long a request may wait for its `m` cfrags before it expires (its deadline is
    /// also capped by the grant's expiry). An expired request is forgotten and reported
    /// with [`GranteeOutput::Expired`], so proxies that never answer cannot hold a pending
    /// slot for ever.
    pub request_timeout: Duration,
}

impl Default for GranteeConfig {
    fn default() -> Self {
        GranteeConfig {
            chain_id: 337,
            max_grants: 256,
            max_pending: 1024,
            max_outputs: 256,
            request_timeout: Duration::from_secs(30),
        }
    }
}

impl GranteeConfig {
    /// Most heap bytes a [`Grantee`] with this config holds, whatever owners, proxies and
    /// outsiders send (see the `sharing` module docs for the formula): grants, pending
    /// requests with at most one verified cfrag per proxy of the grant, and the output queue.
    pub const fn memory_bound(&self) -> usize {
        let grants = btree_map_bytes::<GrantId, Grant>(self.max_grants);
        let pending = btree_map_bytes::<(GrantId, u64), Pending>(self.max_pending)
            + self.max_pending * btree_map_bytes::<Address, VerifiedCapsuleFrag>(MAX_PROXIES);
        let outputs = deque_bytes::<GranteeOutput>(self.max_outputs)
            + self.max_outputs * GRANTEE_OUTPUT_HEAP_MAX;
        grants + pending + outputs
    }
}

/// Largest heap part of one [`GranteeOutput`]: a boxed request, or a fault's boxed evidence.
const GRANTEE_OUTPUT_HEAP_MAX: usize = {
    let a = size_of::<ReencryptionRequest>();
    let b = size_of::<CfragResponse>();
    let c = size_of::<CfragBody>();
    let ab = if a > b { a } else { b };
    if ab > c {
        ab
    } else {
        c
    }
};

/// What the host must do for the grantee.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum GranteeOutput {
    /// Send this request to proxy `to`.
    SendRequest {
        /// The proxy.
        to: Address,
        /// The request.
        request: Box<ReencryptionRequest>,
    },
    /// `m` verified cfrags are held: [`Grantee::open`] will succeed.
    Ready {
        /// The grant.
        grant: GrantId,
        /// The interval.
        interval: u64,
    },
    /// A request timed out before `m` verified cfrags came ([`GranteeConfig::request_timeout`]
    /// or the grant's expiry): it is forgotten; ask again with [`Grantee::request`].
    Expired {
        /// The grant.
        grant: GrantId,
        /// The interval.
        interval: u64,
    },
    /// A proxy of the grant misbehaved, with evidence.
    Fault(Fault),
}

/// Why the grantee dropped a peer's cfrag: the index into [`GranteeStats::dropped`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum GranteeDrop {
    /// The response's signature did not recover a signer.
    BadSignature = 0,
    /// It names a grant this grantee does not hold.
    UnknownGrant = 1,
    /// Its sender (signer, or the peer the transport named) is not a proxy of the grant:
    /// an outsider's cfrag proves nothing about anyone, so it is no `Fault`.
    OutsideGrant = 2,
    /// A correct cfrag of a capsule no pending request asked for (stale or misrouted).
    NotRequested = 3,
    /// A second share from the same proxy or of the same kfrag: adds nothing towards `m`.
    Duplicate = 4,
    /// From a proxy of the grant but not a correct re-encryption (also a `Fault`).
    Invalid = 5,
}

/// Number of [`GranteeDrop`] reasons.
pub const GRANTEE_DROP_REASONS: usize = 6;

/// The grantee's counters ([`Machine::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GranteeStats {
    /// Grants accepted.
    pub grants_accepted: u64,
    /// Verified cfrags counted towards a threshold.
    pub cfrags_counted: u64,
    /// Requests that reached their threshold (`Ready`).
    pub ready: u64,
    /// Requests that expired before their threshold.
    pub requests_expired: u64,
    /// Dropped cfrags by [`GranteeDrop`] reason.
    pub dropped: Drops<GRANTEE_DROP_REASONS>,
}

impl MachineStats for GranteeStats {
    fn dropped(&self) -> u64 {
        self.dropped.total()
    }
}

/// What [`Grantee::check_cfrag`] made of a cfrag.
enum Verdict {
    /// Verified and counted towards the threshold.
    Counted,
    /// Dropped and counted for this reason; a fault when `Invalid`.
    Dropped(GranteeDrop),
}

struct Pending {
    wrapped: WrappedKey,
    cfrags: BTreeMap<Address, VerifiedCapsuleFrag>,
    /// When the request expires unless it reached its threshold first.
    expires_at: Timestamp,
    /// Whether `m` verified cfrags are held (then it waits only for the grant's expiry).
    ready: bool,
}

/// The party a grant authorises: holds its Umbral receiving key.
pub struct Grantee {
    key: PreSecretKey,
    public: PrePublicKey,
    config: GranteeConfig,
    grants: BTreeMap<GrantId, Grant>,
    pending: BTreeMap<(GrantId, u64), Pending>,
    outputs: VecDeque<GranteeOutput>,
    stats: GranteeStats,
}

impl core::fmt::Debug for Grantee {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Grantee")
            .field("public", &self.public)
            .field("grants", &self.grants.len())
            .field("pending", &self.pending.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Grantee {
    /// A grantee with Umbral receiving key `key`.
    pub fn new(key: PreSecretKey, config: GranteeConfig) -> Grantee {
        Grantee {
            public: key.public_key(),
            key,
            config,
            grants: BTreeMap::new(),
            pending: BTreeMap::new(),
            outputs: VecDeque::new(),
            stats: GranteeStats::default(),
        }
    }

    /// The receiving key an owner grants to.
    pub fn public_key(&self) -> PrePublicKey {
        self.public
    }

    /// Counters, dropped cfrags by reason among them.
    pub fn stats(&self) -> GranteeStats {
        self.stats
    }

    /// Take a grant (from the chain or the owner) at `now` after checking it is signed by
    /// its owner, on this chain, for this grantee, and not expired (PRE step 4: the grant is
    /// the grantee's proof of access, §2.2.1). `Err` here is not a
    /// peer's input being dropped: the host chose to hand this grant in (its own mistake or
    /// a local limit), and nothing changes.
    pub fn accept_grant(
        &mut self,
        now: Timestamp,
        grant: &SignedGrant,
    ) -> Result<GrantId, SharingError> {
        let id = grant.verify(self.config.chain_id)?;
        if grant.body.grantee != self.public {
            return Err(SharingError::NotAddressedToUs);
        }
        if now >= grant.body.expires_at {
            return Err(SharingError::GrantNotLive);
        }
        if !self.grants.contains_key(&id) && self.grants.len() >= self.config.max_grants {
            return Err(SharingError::CapacityExceeded);
        }
        if self.grants.insert(id, grant.body.clone()).is_none() {
            self.stats.grants_accepted = self.stats.grants_accepted.saturating_add(1);
        }
        Ok(id)
    }

    /// Ask every proxy of `grant` to re-encrypt `interval`'s wrapped key (from the
    /// interval's key-index record; PRE step 4). Emits one `SendRequest` per proxy. Asking again for the
    /// same (grant, interval) starts the collection afresh (cfrags already held are dropped),
    /// which is how a grantee retries after a substituted capsule. The request expires at
    /// `now +` [`GranteeConfig::request_timeout`] or the grant's expiry, whichever is first
    /// ([`Machine::next_deadline`]).
    pub fn request(
        &mut self,
        now: Timestamp,
        grant: &GrantId,
        interval: u64,
        wrapped: WrappedKey,
    ) -> Result<(), SharingError> {
        let g = self.grants.get(grant).ok_or(SharingError::UnknownGrant)?;
        if !g.covers(interval) {
            return Err(SharingError::IntervalOutsideGrant);
        }
        if !g.is_live(now) {
            return Err(SharingError::GrantNotLive);
        }
        let key = (*grant, interval);
        if !self.pending.contains_key(&key) && self.pending.len() >= self.config.max_pending {
            return Err(SharingError::CapacityExceeded);
        }
        if self.outputs.len().saturating_add(g.proxies.len()) > self.config.max_outputs {
            return Err(SharingError::CapacityExceeded);
        }
        for to in &g.proxies {
            self.outputs.push_back(GranteeOutput::SendRequest {
                to: *to,
                request: Box::new(ReencryptionRequest {
                    grant: *grant,
                    interval,
                    capsule: wrapped.capsule().clone(),
                }),
            });
        }
        let expires_at = now
            .saturating_add(self.config.request_timeout)
            .min(g.expires_at);
        self.pending.insert(
            key,
            Pending {
                wrapped,
                cfrags: BTreeMap::new(),
                expires_at,
                ready: false,
            },
        );
        Ok(())
    }

    /// A proxy's signed cfrag (§2.2.2 step 4, PRE step 6: the proxies re-encrypt, the buyer
    /// collects).
    /// Verified against the grant before it counts. One that is not a correct re-encryption,
    /// signed by a proxy of the grant, is a `Fault` naming the signer with the signed
    /// response as evidence; anything else unusable (no signer, unknown grant, a signer
    /// outside the grant, not asked for, a duplicate share) is dropped and counted by
    /// [`GranteeDrop`] reason. `Err` only when the output queue is full.
    pub fn handle_cfrag(
        &mut self,
        _now: Timestamp,
        response: CfragResponse,
    ) -> Result<(), SharingError> {
        if self.outputs.len() >= self.config.max_outputs {
            return Err(SharingError::CapacityExceeded);
        }
        let Ok(proxy) = response.signer() else {
            self.drop_cfrag(GranteeDrop::BadSignature);
            return Ok(());
        };
        let fault = match self.check_cfrag(proxy, &response.body) {
            Verdict::Dropped(GranteeDrop::Invalid) => Fault::InvalidCfrag {
                proxy,
                evidence: Box::new(response),
            },
            Verdict::Counted | Verdict::Dropped(_) => return Ok(()),
        };
        self.outputs.push_back(GranteeOutput::Fault(fault));
        Ok(())
    }

    /// An unsigned cfrag (a proxy running [`ReplyAuth::Transport`]) from `from`, the peer
    /// the host's *authenticated* transport says sent it: that is the only thing tying the
    /// cfrag to a proxy, so never pass an address taken from the message or from an
    /// unauthenticated channel. Checked exactly as [`handle_cfrag`](Self::handle_cfrag);
    /// faults name `from`, drops are counted. `Err` only when the output queue is full.
    ///
    /// [`ReplyAuth::Transport`]: super::ReplyAuth::Transport
    pub fn handle_unsigned_cfrag(
        &mut self,
        _now: Timestamp,
        from: Address,
        body: CfragBody,
    ) -> Result<(), SharingError> {
        if self.outputs.len() >= self.config.max_outputs {
            return Err(SharingError::CapacityExceeded);
        }
        let fault = match self.check_cfrag(from, &body) {
            Verdict::Dropped(GranteeDrop::Invalid) => Fault::InvalidUnsignedCfrag {
                peer: from,
                evidence: Box::new(body),
            },
            Verdict::Counted | Verdict::Dropped(_) => return Ok(()),
        };
        self.outputs.push_back(GranteeOutput::Fault(fault));
        Ok(())
    }

    fn drop_cfrag(&mut self, reason: GranteeDrop) -> Verdict {
        self.stats.dropped.add(reason as usize);
        Verdict::Dropped(reason)
    }

    /// The checks shared by signed and unsigned cfrags, `proxy` being whoever the cfrag is
    /// attributed to. Counts a good cfrag (emitting `Ready` at the threshold) and every
    /// dropped one by reason; the caller turns `Invalid` into a fault.
    fn check_cfrag(&mut self, proxy: Address, body: &CfragBody) -> Verdict {
        let Some(grant) = self.grants.get(&body.grant) else {
            return self.drop_cfrag(GranteeDrop::UnknownGrant);
        };
        if grant.proxy_index(&proxy).is_none() {
            return self.drop_cfrag(GranteeDrop::OutsideGrant);
        }
        let Some(delegating) = grant.delegating_key(body.interval) else {
            // §2.2.2 step 4, one interval per kfrag: a granted proxy answering for an interval
            // outside the grant had no kfrag for it, so what it sent cannot be a valid cfrag.
            return self.drop_cfrag(GranteeDrop::Invalid);
        };
        let threshold = grant.threshold;
        let verified = body.cfrag.verify(
            &body.capsule,
            &grant.kfrag_signer,
            delegating,
            &grant.grantee,
        );
        let Ok(verified) = verified else {
            return self.drop_cfrag(GranteeDrop::Invalid);
        };
        let key = (body.grant, body.interval);
        let Some(pending) = self
            .pending
            .get_mut(&key)
            .filter(|p| p.wrapped.capsule() == &body.capsule)
        else {
            // A correct cfrag of a capsule we did not ask about: stale or misrouted.
            return self.drop_cfrag(GranteeDrop::NotRequested);
        };
        let share = verified.kfrag_id();
        let same_share = pending.cfrags.values().any(|held| held.kfrag_id() == share);
        if pending.cfrags.contains_key(&proxy) || same_share {
            // One share per proxy and per kfrag: a duplicate adds nothing towards `m`.
            return self.drop_cfrag(GranteeDrop::Duplicate);
        }
        pending.cfrags.insert(proxy, verified);
        self.stats.cfrags_counted = self.stats.cfrags_counted.saturating_add(1);
        if pending.cfrags.len() == usize::from(threshold) {
            pending.ready = true;
            self.stats.ready = self.stats.ready.saturating_add(1);
            self.outputs.push_back(GranteeOutput::Ready {
                grant: key.0,
                interval: key.1,
            });
        }
        Verdict::Counted
    }

    /// Verified cfrags held for (`grant`, `interval`).
    pub fn verified_cfrags(&self, grant: &GrantId, interval: u64) -> usize {
        self.pending
            .get(&(*grant, interval))
            .map_or(0, |p| p.cfrags.len())
    }

    /// Open `interval`'s data key with `m` verified cfrags (§2.2.2 step 4, PRE step 6); it
    /// decrypts the interval's blocks with the data-chain reader, and no other interval's.
    pub fn open(&self, grant: &GrantId, interval: u64) -> Result<IntervalKey, SharingError> {
        let g = self.grants.get(grant).ok_or(SharingError::UnknownGrant)?;
        let pending = self
            .pending
            .get(&(*grant, interval))
            .ok_or(SharingError::NoPendingRequest)?;
        let have = pending.cfrags.len();
        if have < usize::from(g.threshold) {
            return Err(SharingError::NotEnoughCfrags {
                have: u8::try_from(have).unwrap_or(u8::MAX),
                need: g.threshold,
            });
        }
        let delegating = g
            .delegating_key(interval)
            .ok_or(SharingError::IntervalOutsideGrant)?;
        let cfrags: Vec<VerifiedCapsuleFrag> = pending
            .cfrags
            .values()
            .take(usize::from(g.threshold))
            .cloned()
            .collect();
        let key = pending
            .wrapped
            .open_reencrypted(&self.key, delegating, &cfrags)?;
        Ok(IntervalKey::from_parts(g.stream, interval, key))
    }

    /// Forget a finished request.
    pub fn forget(&mut self, grant: &GrantId, interval: u64) {
        self.pending.remove(&(*grant, interval));
    }

    /// Time passed: forget expired grants (with their requests) and expire requests that
    /// did not reach their threshold in time, emitting `Expired` for each (while the output
    /// queue has room; the count in [`GranteeStats::requests_expired`] is always kept).
    pub fn handle_timeout(&mut self, now: Timestamp) {
        let grants = &self.grants;
        let mut expired = Vec::new();
        self.pending.retain(|key, p| {
            let grant_live = grants.get(&key.0).is_some_and(|g| now < g.expires_at);
            let keep = grant_live && (p.ready || now < p.expires_at);
            if !keep && !p.ready {
                expired.push(*key);
            }
            keep
        });
        self.grants.retain(|_, g| now < g.expires_at);
        for (grant, interval) in expired {
            self.stats.requests_expired = self.stats.requests_expired.saturating_add(1);
            if self.outputs.len() < self.config.max_outputs {
                self.outputs
                    .push_back(GranteeOutput::Expired { grant, interval });
            }
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has something to expire: the
    /// earliest unanswered request's deadline or grant expiry.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        let requests = self
            .pending
            .values()
            .filter(|p| !p.ready)
            .map(|p| p.expires_at);
        let grants = self.grants.values().map(|g| g.expires_at);
        requests.chain(grants).min()
    }

    /// The next thing the host must do, if any.
    pub fn poll_output(&mut self) -> Option<GranteeOutput> {
        self.outputs.pop_front()
    }
}

/// The SDK's one machine contract ([`cpchain_core::machine`]); it calls the inherent
/// methods of the same names.
impl Machine for Grantee {
    type Output<'a> = GranteeOutput;
    type Stats = GranteeStats;

    fn handle_timeout(&mut self, now: Timestamp) {
        Grantee::handle_timeout(self, now);
    }

    fn next_deadline(&self) -> Option<Timestamp> {
        Grantee::next_deadline(self)
    }

    fn poll_output(&mut self) -> Option<GranteeOutput> {
        Grantee::poll_output(self)
    }

    fn stats(&self) -> GranteeStats {
        Grantee::stats(self)
    }
}
