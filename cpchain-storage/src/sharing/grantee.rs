//! The grantee's side: ask the grant's proxies, verify their cfrags, open with `m`.

use super::grant::{CfragBody, CfragResponse, Grant, GrantId, ReencryptionRequest, SignedGrant};
use super::memory::{btree_map_bytes, deque_bytes};
use super::{Fault, SharingError, MAX_PROXIES};
use crate::keys::IntervalKey;
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::mem::size_of;
use cpchain_core::{Address, Timestamp};
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
}

impl Default for GranteeConfig {
    fn default() -> Self {
        GranteeConfig {
            chain_id: 337,
            max_grants: 256,
            max_pending: 1024,
            max_outputs: 256,
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
    /// A proxy misbehaved.
    Fault(Fault),
}

/// What [`Grantee::check_cfrag`] made of a cfrag.
enum Verdict {
    /// Verified and counted towards the threshold.
    Counted,
    /// Stale, misrouted or a duplicate share: dropped and counted in `ignored`.
    Ignored,
    /// Attributed to a party that is not a proxy of the grant.
    OutsideGrant,
    /// From a proxy of the grant, but not a correct re-encryption.
    Invalid,
}

struct Pending {
    wrapped: WrappedKey,
    cfrags: BTreeMap<Address, VerifiedCapsuleFrag>,
}

/// The party a grant authorises: holds its Umbral receiving key.
pub struct Grantee {
    key: PreSecretKey,
    public: PrePublicKey,
    config: GranteeConfig,
    grants: BTreeMap<GrantId, Grant>,
    pending: BTreeMap<(GrantId, u64), Pending>,
    outputs: VecDeque<GranteeOutput>,
    ignored: u64,
}

impl core::fmt::Debug for Grantee {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Grantee")
            .field("public", &self.public)
            .field("grants", &self.grants.len())
            .field("pending", &self.pending.len())
            .field("ignored", &self.ignored)
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
            ignored: 0,
        }
    }

    /// The receiving key an owner grants to.
    pub fn public_key(&self) -> PrePublicKey {
        self.public
    }

    /// Responses dropped as unattributable or stale (bad signature, unknown grant, capsule
    /// not asked for, duplicate).
    pub fn ignored(&self) -> u64 {
        self.ignored
    }

    /// Take a grant (from the chain or the owner) after checking it is signed by its owner,
    /// on this chain, and for this grantee.
    pub fn accept_grant(&mut self, grant: &SignedGrant) -> Result<GrantId, SharingError> {
        let id = grant.verify(self.config.chain_id)?;
        if grant.grant.grantee != self.public {
            return Err(SharingError::NotAddressedToUs);
        }
        if !self.grants.contains_key(&id) && self.grants.len() >= self.config.max_grants {
            return Err(SharingError::CapacityExceeded);
        }
        self.grants.insert(id, grant.grant.clone());
        Ok(id)
    }

    /// Ask every proxy of `grant` to re-encrypt `interval`'s wrapped key (from the
    /// interval's key-index record). Emits one `SendRequest` per proxy. Asking again for the
    /// same (grant, interval) starts the collection afresh (cfrags already held are dropped),
    /// which is how a grantee retries after a substituted capsule.
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
        self.pending.insert(
            key,
            Pending {
                wrapped,
                cfrags: BTreeMap::new(),
            },
        );
        Ok(())
    }

    /// A proxy's signed cfrag. Verified against the grant before it counts: a cfrag signed
    /// by a non-proxy, or one that is not a correct re-encryption, is a `Fault` naming the
    /// signer. `Err` only when the output queue is full.
    pub fn handle_cfrag(
        &mut self,
        _now: Timestamp,
        response: CfragResponse,
    ) -> Result<(), SharingError> {
        if self.outputs.len() >= self.config.max_outputs {
            return Err(SharingError::CapacityExceeded);
        }
        let Ok(proxy) = response.signer() else {
            self.ignored = self.ignored.saturating_add(1);
            return Ok(());
        };
        let fault = match self.check_cfrag(proxy, &response.body) {
            Verdict::Counted | Verdict::Ignored => return Ok(()),
            Verdict::OutsideGrant => Fault::ProxyOutsideGrant {
                proxy,
                evidence: Box::new(response),
            },
            Verdict::Invalid => Fault::InvalidCfrag {
                proxy,
                evidence: Box::new(response),
            },
        };
        self.outputs.push_back(GranteeOutput::Fault(fault));
        Ok(())
    }

    /// An unsigned cfrag (a proxy running [`ReplyAuth::Transport`]) from `from`, the peer
    /// the host's *authenticated* transport says sent it: that is the only thing tying the
    /// cfrag to a proxy, so never pass an address taken from the message or from an
    /// unauthenticated channel. Checked exactly as [`handle_cfrag`](Self::handle_cfrag);
    /// faults name `from`. `Err` only when the output queue is full.
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
            Verdict::Counted | Verdict::Ignored => return Ok(()),
            Verdict::OutsideGrant => Fault::UnsignedCfragOutsideGrant {
                peer: from,
                evidence: Box::new(body),
            },
            Verdict::Invalid => Fault::InvalidUnsignedCfrag {
                peer: from,
                evidence: Box::new(body),
            },
        };
        self.outputs.push_back(GranteeOutput::Fault(fault));
        Ok(())
    }

    /// The checks shared by signed and unsigned cfrags, `proxy` being whoever the cfrag is
    /// attributed to. Counts a good cfrag (emitting `Ready` at the threshold) and bumps
    /// `ignored` for a stale one; the caller turns the fault verdicts into outputs.
    fn check_cfrag(&mut self, proxy: Address, body: &CfragBody) -> Verdict {
        let Some(grant) = self.grants.get(&body.grant) else {
            self.ignored = self.ignored.saturating_add(1);
            return Verdict::Ignored;
        };
        if grant.proxy_index(&proxy).is_none() {
            return Verdict::OutsideGrant;
        }
        let Some(delegating) = grant.delegating_key(body.interval) else {
            // A granted proxy answering for an interval outside the grant: the proxy must
            // not have had a kfrag for it, so whatever it sent cannot be a valid cfrag.
            return Verdict::Invalid;
        };
        let threshold = grant.threshold;
        let verified = body.cfrag.verify(
            &body.capsule,
            &grant.kfrag_signer,
            delegating,
            &grant.grantee,
        );
        let Ok(verified) = verified else {
            return Verdict::Invalid;
        };
        let key = (body.grant, body.interval);
        let Some(pending) = self
            .pending
            .get_mut(&key)
            .filter(|p| p.wrapped.capsule() == &body.capsule)
        else {
            // A correct cfrag of a capsule we did not ask about: stale or misrouted.
            self.ignored = self.ignored.saturating_add(1);
            return Verdict::Ignored;
        };
        let share = verified.kfrag_id();
        let same_share = pending.cfrags.values().any(|held| held.kfrag_id() == share);
        if pending.cfrags.contains_key(&proxy) || same_share {
            // One share per proxy and per kfrag: a duplicate adds nothing towards `m`.
            self.ignored = self.ignored.saturating_add(1);
            return Verdict::Ignored;
        }
        pending.cfrags.insert(proxy, verified);
        if pending.cfrags.len() == usize::from(threshold) {
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

    /// Open `interval`'s data key with `m` verified cfrags; it decrypts the interval's
    /// blocks with the data-chain reader.
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

    /// The next thing the host must do, if any.
    pub fn poll_output(&mut self) -> Option<GranteeOutput> {
        self.outputs.pop_front()
    }
}
