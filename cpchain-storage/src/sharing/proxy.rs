//! The proxy's side: hold verified kfrags, re-encrypt under live grants, honour revokes.

use super::grant::{
    CfragBody, CfragResponse, Grant, GrantId, KfragDelivery, ReencryptionRequest, SignedRevoke,
};
use super::memory::{btree_map_bytes, deque_bytes};
use super::{Fault, ReplyAuth, SharingError, MAX_GRANT_INTERVALS};
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::mem::size_of;
use cpchain_core::machine::{Drops, Machine, MachineStats};
use cpchain_core::{Address, Timestamp};
use cpchain_crypto::pre::{reencrypt, VerifiedKeyFrag};
use cpchain_crypto::{CryptoRngCore, SecretKey};

/// The proxy machine's limits and chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyConfig {
    /// Chain whose grants are honoured.
    pub chain_id: u64,
    /// Most grants held (and, separately, most revocation tombstones).
    pub max_grants: usize,
    /// Capacity of the output queue.
    pub max_outputs: usize,
    /// Whether replies are signed ([`ReplyAuth::Signed`], the default) or left to the
    /// host's authenticated transport ([`ReplyAuth::Transport`]).
    pub reply_auth: ReplyAuth,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            chain_id: 337,
            max_grants: 4096,
            max_outputs: 256,
            reply_auth: ReplyAuth::Signed,
        }
    }
}

impl ProxyConfig {
    /// Most heap bytes a [`Proxy`] with this config holds, whatever owners, grantees and
    /// outsiders send (see the `sharing` module docs for the formula): held grants with
    /// their verified kfrags, revocation tombstones and the output queue, each entry at its
    /// largest.
    pub const fn memory_bound(&self) -> usize {
        let held = btree_map_bytes::<GrantId, Held>(self.max_grants)
            + self.max_grants * MAX_GRANT_INTERVALS * size_of::<VerifiedKeyFrag>();
        let tombstones = btree_map_bytes::<GrantId, (Address, Timestamp)>(self.max_grants);
        let outputs =
            deque_bytes::<ProxyOutput>(self.max_outputs) + self.max_outputs * PROXY_OUTPUT_HEAP_MAX;
        held + tombstones + outputs
    }
}

/// Largest heap part of one [`ProxyOutput`]: a signed reply (the boxed response and its wire
/// bytes, whose buffer grew by doubling), an unsigned reply, or a fault carrying a delivery.
const PROXY_OUTPUT_HEAP_MAX: usize = max(
    size_of::<CfragResponse>() + 2 * <CfragResponse as cpchain_core::WireMessage>::MAX_ENCODED_LEN,
    max(size_of::<CfragBody>(), size_of::<KfragDelivery>()),
);

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

/// What the host must do for the proxy.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ProxyOutput {
    /// A delivery was verified and its kfrags are held.
    Accepted(GrantId),
    /// Send this signed cfrag back to whoever asked.
    Reply {
        /// The response.
        response: Box<CfragResponse>,
        /// Its wire encoding, ready to send.
        bytes: Vec<u8>,
    },
    /// Send this unsigned cfrag back over the authenticated channel the request came in on
    /// ([`ReplyAuth::Transport`] only). The host encodes it (`encode_to_vec`) if it sends
    /// bytes: the proxy does not pay for an encoding a local host may not need.
    UnsignedReply(Box<CfragBody>),
    /// A request or delivery was not served, and why (not a fault: it may be stale).
    Refused {
        /// The grant named.
        grant: GrantId,
        /// The reason.
        reason: SharingError,
    },
    /// A revoke was honoured: the grant's kfrags are gone.
    Dropped(GrantId),
    /// A peer misbehaved.
    Fault(Fault),
}

/// Why the proxy did not act on a peer's delivery, request or revoke: the index into
/// [`ProxyStats::dropped`]. Each such input also comes out as [`ProxyOutput::Refused`] (so
/// the host can answer the requester), except an invalid kfrag, which is a `Fault`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum ProxyDrop {
    /// Bad signature, wrong chain, or a grant that does not decode to a valid one.
    Unauthenticated = 0,
    /// A delivery for another proxy.
    NotForUs = 1,
    /// The grant is expired, not yet valid, or revoked.
    NotLive = 2,
    /// No kfrags of the grant are held.
    UnknownGrant = 3,
    /// The interval asked for is outside the grant.
    OutsideGrant = 4,
    /// A delivery whose kfrag count does not match its grant, or another malformed input.
    Malformed = 5,
    /// A delivery whose kfrag does not verify under the owner's signed grant (a `Fault`).
    InvalidKfrag = 6,
}

/// Number of [`ProxyDrop`] reasons.
pub const PROXY_DROP_REASONS: usize = 7;

impl ProxyDrop {
    /// The reason a refusal with `e` counts under.
    fn of(e: SharingError) -> ProxyDrop {
        match e {
            SharingError::NotAddressedToUs => ProxyDrop::NotForUs,
            SharingError::GrantNotLive => ProxyDrop::NotLive,
            SharingError::UnknownGrant => ProxyDrop::UnknownGrant,
            SharingError::IntervalOutsideGrant => ProxyDrop::OutsideGrant,
            SharingError::BadSignature
            | SharingError::WrongChain
            | SharingError::Decode(_)
            | SharingError::Crypto(_) => ProxyDrop::Unauthenticated,
            _ => ProxyDrop::Malformed,
        }
    }
}

/// The proxy's counters ([`Machine::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Deliveries verified and held.
    pub accepted: u64,
    /// Cfrags returned (signed or not).
    pub replies: u64,
    /// Revokes honoured.
    pub revoked: u64,
    /// Dropped peer inputs by [`ProxyDrop`] reason.
    pub dropped: Drops<PROXY_DROP_REASONS>,
}

impl MachineStats for ProxyStats {
    fn dropped(&self) -> u64 {
        self.dropped.total()
    }
}

struct Held {
    grant: Grant,
    kfrags: Vec<VerifiedKeyFrag>,
}

/// A re-encryption proxy (an Ursula in Umbral's terms, a PDash proxy in §2.2.3).
pub struct Proxy {
    identity: SecretKey,
    address: Address,
    config: ProxyConfig,
    held: BTreeMap<GrantId, Held>,
    tombstones: BTreeMap<GrantId, (Address, Timestamp)>,
    outputs: VecDeque<ProxyOutput>,
    stats: ProxyStats,
}

impl core::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Proxy")
            .field("address", &self.address)
            .field("held", &self.held.len())
            .field("tombstones", &self.tombstones.len())
            .finish_non_exhaustive()
    }
}

impl Proxy {
    /// A proxy with chain identity `identity` (it signs every cfrag it returns).
    pub fn new(identity: SecretKey, config: ProxyConfig) -> Proxy {
        Proxy {
            address: identity.public_key().address(),
            identity,
            config,
            held: BTreeMap::new(),
            tombstones: BTreeMap::new(),
            outputs: VecDeque::new(),
            stats: ProxyStats::default(),
        }
    }

    /// Counters, dropped peer inputs by reason among them.
    pub fn stats(&self) -> ProxyStats {
        self.stats
    }

    /// Drop a peer's input: count it and tell the host (room was checked by the caller).
    fn refuse(&mut self, grant: GrantId, reason: SharingError) {
        self.stats.dropped.add(ProxyDrop::of(reason) as usize);
        self.outputs
            .push_back(ProxyOutput::Refused { grant, reason });
    }

    /// The proxy's chain address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// Whether kfrags of `grant` are held.
    pub fn holds(&self, grant: &GrantId) -> bool {
        self.held.contains_key(grant)
    }

    /// Number of grants held.
    pub fn held_grants(&self) -> usize {
        self.held.len()
    }

    /// Drop `grant`'s kfrags because the host's own authority says the grant is over: a
    /// host that reads grants and revocations from its chain (the node's proxy role) learns
    /// of a revocation or an expiry by block timestamp from its ledger, not from a revoke
    /// message, and must not keep kfrags the chain no longer backs. No tombstone is kept:
    /// the host refuses a later delivery of the grant from the same authority. Returns
    /// whether kfrags were held; emits `Dropped` when they were and the output queue has
    /// room (the kfrags are dropped either way).
    pub fn forget_grant(&mut self, grant: &GrantId) -> bool {
        let held = self.held.remove(grant).is_some();
        if held && self.outputs.len() < self.config.max_outputs {
            self.outputs.push_back(ProxyOutput::Dropped(*grant));
        }
        held
    }

    fn room(&self, n: usize) -> Result<(), SharingError> {
        if self.outputs.len().saturating_add(n) > self.config.max_outputs {
            Err(SharingError::CapacityExceeded)
        } else {
            Ok(())
        }
    }

    /// Kfrags from an owner (PRE step 3). All are verified against the signed grant before
    /// any is kept.
    /// A kfrag that fails is a fault of the owner; an unusable delivery (wrong chain,
    /// expired, revoked, not for this proxy, bad signature) is refused. `Err` only when the
    /// output queue or grant table is full.
    pub fn handle_delivery(
        &mut self,
        now: Timestamp,
        delivery: KfragDelivery,
    ) -> Result<(), SharingError> {
        self.room(1)?;
        // PRE step 3: the grant is the owner's (§2.2.1 access rights), before anything else.
        let grant_id = match delivery.grant.verify(self.config.chain_id) {
            Ok(id) => id,
            Err(reason) => {
                let grant = delivery
                    .grant
                    .body
                    .id()
                    .unwrap_or(GrantId(Default::default()));
                self.refuse(grant, reason);
                return Ok(());
            }
        };
        let grant = &delivery.grant.body;
        // PRE step 3: the user authorised this proxy (§2.2.4 OTP aim 3), and the grant lives.
        let refusal =
            if delivery.proxy != self.address || grant.proxy_index(&self.address).is_none() {
                Some(SharingError::NotAddressedToUs)
            } else if now >= grant.expires_at
                || self
                    .tombstones
                    .get(&grant_id)
                    .is_some_and(|(owner, _)| *owner == grant.owner)
            {
                // Expired, or revoked by its owner before (or after) this delivery.
                Some(SharingError::GrantNotLive)
            } else if delivery.kfrags.len() != grant.delegating_keys.len() {
                Some(SharingError::MalformedGrant)
            } else {
                None
            };
        if let Some(reason) = refusal {
            self.refuse(grant_id, reason);
            return Ok(());
        }
        if !self.held.contains_key(&grant_id) && self.held.len() >= self.config.max_grants {
            return Err(SharingError::CapacityExceeded);
        }
        let mut verified = Vec::with_capacity(delivery.kfrags.len());
        for ((kfrag, delegating), interval) in delivery
            .kfrags
            .iter()
            .zip(grant.delegating_keys.iter())
            .zip(grant.first_interval..)
        {
            // PRE step 3: every kfrag verified before any is kept; a bad one is the owner's
            // fault, with the signed delivery as evidence.
            match kfrag.verify(&grant.kfrag_signer, delegating, &grant.grantee) {
                Ok(v) => verified.push(v),
                Err(_) => {
                    let owner = grant.owner;
                    self.stats.dropped.add(ProxyDrop::InvalidKfrag as usize);
                    self.outputs
                        .push_back(ProxyOutput::Fault(Fault::InvalidKfrag {
                            owner,
                            interval,
                            evidence: Box::new(delivery),
                        }));
                    return Ok(());
                }
            }
        }
        let grant = delivery.grant.body;
        self.held.insert(
            grant_id,
            Held {
                grant,
                kfrags: verified,
            },
        );
        self.stats.accepted = self.stats.accepted.saturating_add(1);
        self.outputs.push_back(ProxyOutput::Accepted(grant_id));
        Ok(())
    }

    /// A grantee's request (§2.2.2 step 4, PRE step 5): re-encrypt only under a live grant
    /// that covers the interval.
    /// Emits `Reply` with the signed cfrag (or `UnsignedReply` under
    /// [`ReplyAuth::Transport`]), or `Refused`. `Err` only when the output queue
    /// is full.
    pub fn handle_request(
        &mut self,
        now: Timestamp,
        rng: &mut impl CryptoRngCore,
        request: ReencryptionRequest,
    ) -> Result<(), SharingError> {
        self.room(1)?;
        let Some(held) = self.held.get(&request.grant) else {
            let reason = if self.tombstones.contains_key(&request.grant) {
                SharingError::GrantNotLive
            } else {
                SharingError::UnknownGrant
            };
            self.refuse(request.grant, reason);
            return Ok(());
        };
        if !held.grant.is_live(now) {
            self.refuse(request.grant, SharingError::GrantNotLive);
            return Ok(());
        }
        let kfrag = request
            .interval
            .checked_sub(held.grant.first_interval)
            .and_then(|o| usize::try_from(o).ok())
            .and_then(|o| held.kfrags.get(o));
        let Some(kfrag) = kfrag else {
            // §2.2.2 step 4: "limited to a single encryption interval" — no kfrag, no cfrag.
            self.refuse(request.grant, SharingError::IntervalOutsideGrant);
            return Ok(());
        };
        // PRE step 5: re-encrypt the capsule with this interval's kfrag.
        let cfrag = reencrypt(rng, &request.capsule, kfrag).to_unverified();
        let body = CfragBody {
            grant: request.grant,
            interval: request.interval,
            capsule: request.capsule,
            cfrag,
        };
        let output = match self.config.reply_auth {
            ReplyAuth::Signed => {
                let (response, bytes) = CfragResponse::sign_to_wire(body, &self.identity)?;
                ProxyOutput::Reply {
                    response: Box::new(response),
                    bytes,
                }
            }
            ReplyAuth::Transport => ProxyOutput::UnsignedReply(Box::new(body)),
        };
        self.stats.replies = self.stats.replies.saturating_add(1);
        self.outputs.push_back(output);
        Ok(())
    }

    /// The owner's revoke (PRE step 7): drop the grant's kfrags and keep a tombstone until
    /// the grant would have expired. A revoke not signed by the grant's owner is refused.
    pub fn handle_revoke(
        &mut self,
        now: Timestamp,
        revoke: SignedRevoke,
    ) -> Result<(), SharingError> {
        self.room(1)?;
        let id = revoke.body.grant;
        let refusal = match revoke.verify(self.config.chain_id) {
            Err(e) => Some(e),
            Ok(()) => match self.held.get(&id) {
                Some(h) if h.grant.owner != revoke.body.owner => Some(SharingError::BadSignature),
                _ => None,
            },
        };
        if let Some(reason) = refusal {
            self.refuse(id, reason);
            return Ok(());
        }
        let needs_tombstone = revoke.body.until > now;
        if needs_tombstone
            && self.tombstones.len() >= self.config.max_grants
            && !self.tombstones.contains_key(&id)
        {
            // Without a tombstone a replayed delivery could reinstall the grant: refuse
            // rather than half-apply.
            return Err(SharingError::CapacityExceeded);
        }
        self.held.remove(&id);
        if needs_tombstone {
            self.tombstones
                .insert(id, (revoke.body.owner, revoke.body.until));
        }
        self.stats.revoked = self.stats.revoked.saturating_add(1);
        self.outputs.push_back(ProxyOutput::Dropped(id));
        Ok(())
    }

    /// Forget expired grants and tombstones (they can no longer be used or replayed).
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.held.retain(|_, h| now < h.grant.expires_at);
        self.tombstones.retain(|_, (_, until)| now < *until);
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has something to forget.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        let held = self.held.values().map(|h| h.grant.expires_at);
        let tomb = self.tombstones.values().map(|(_, t)| *t);
        held.chain(tomb).min()
    }

    /// The next thing the host must do, if any.
    pub fn poll_output(&mut self) -> Option<ProxyOutput> {
        self.outputs.pop_front()
    }
}

/// The SDK's one machine contract ([`cpchain_core::machine`]); it calls the inherent
/// methods of the same names.
impl Machine for Proxy {
    type Output<'a> = ProxyOutput;
    type Stats = ProxyStats;

    fn handle_timeout(&mut self, now: Timestamp) {
        Proxy::handle_timeout(self, now);
    }

    fn next_deadline(&self) -> Option<Timestamp> {
        Proxy::next_deadline(self)
    }

    fn poll_output(&mut self) -> Option<ProxyOutput> {
        Proxy::poll_output(self)
    }

    fn stats(&self) -> ProxyStats {
        Proxy::stats(self)
    }
}
