//! The owner's side: wrap interval keys into capsules, issue and revoke grants.

use super::grant::{
    Grant, GrantId, KfragDelivery, Revoke, SignedGrant, SignedRevoke, GRANT_SALT_LEN,
};
use super::memory::{btree_map_bytes, deque_bytes};
use super::{delegating_key, kfrag_signer_key, SharingError, MAX_GRANT_INTERVALS, MAX_PROXIES};
use crate::block::StreamId;
use crate::index::{CapsuleBytes, KeyIndexRecord};
use crate::keys::MasterSecret;
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::mem::size_of;
use cpchain_core::encoding::encode_to_heapless;
use cpchain_core::machine::{Machine, MachineStats};
use cpchain_core::{Address, Timestamp};
use cpchain_crypto::pre::{generate_kfrags, wrap_key, KfragSigner, PrePublicKey, WrappedKey};
use cpchain_crypto::{CryptoRngCore, SecretKey};

/// The owner machine's limits and chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnerConfig {
    /// Chain id bound into every grant and revoke.
    pub chain_id: u64,
    /// Most grants remembered (for revocation).
    pub max_grants: usize,
    /// Capacity of the output queue.
    pub max_outputs: usize,
    /// Delegating public keys kept of intervals already wrapped or granted (the most recent
    /// intervals win). An interval is encrypted once and granted many times (§2.2.2); a
    /// kept key spares each grant of it a scalar multiplication (about 5 % of a grant).
    /// Zero disables the cache.
    pub max_cached_keys: usize,
}

impl Default for OwnerConfig {
    fn default() -> Self {
        OwnerConfig {
            chain_id: 337,
            max_grants: 1024,
            max_outputs: 4 * MAX_PROXIES,
            max_cached_keys: 256,
        }
    }
}

impl OwnerConfig {
    /// Most heap bytes an [`Owner`] with this config holds, whatever grant requests it is
    /// asked to serve (see the `sharing` module docs for the formula): remembered grants,
    /// cached delegating keys and the output queue (a signed grant or a kfrag delivery each).
    pub const fn memory_bound(&self) -> usize {
        let grants = btree_map_bytes::<GrantId, Grant>(self.max_grants);
        let keys = btree_map_bytes::<u64, PrePublicKey>(self.max_cached_keys)
            + btree_map_bytes::<u64, CapsuleBytes>(self.max_cached_keys);
        let largest = if size_of::<KfragDelivery>() > size_of::<SignedGrant>() {
            size_of::<KfragDelivery>()
        } else {
            size_of::<SignedGrant>()
        };
        let outputs = deque_bytes::<OwnerOutput>(self.max_outputs) + self.max_outputs * largest;
        grants + keys + outputs
    }
}

/// What the host must do for the owner.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum OwnerOutput {
    /// Put the signed grant on chain. Emitted before the grant's deliveries.
    PublishGrant(Box<SignedGrant>),
    /// Send this delivery to proxy `to` over a confidential, authenticated channel.
    SendKfrags {
        /// The proxy.
        to: Address,
        /// Its kfrags.
        delivery: Box<KfragDelivery>,
    },
    /// Put the signed revoke on chain. Emitted before the revoke's sends.
    PublishRevoke(SignedRevoke),
    /// Send the revoke to proxy `to`.
    SendRevoke {
        /// The proxy.
        to: Address,
        /// The revoke.
        revoke: SignedRevoke,
    },
}

/// The owner's counters ([`Machine::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OwnerStats {
    /// Grants issued.
    pub grants: u64,
    /// Grants revoked.
    pub revokes: u64,
    /// Grants forgotten at their expiry by `handle_timeout`.
    pub expired: u64,
}

impl MachineStats for OwnerStats {
    /// The owner takes no peer input (every input is its own command), so it drops none.
    fn dropped(&self) -> u64 {
        0
    }
}

/// A grant the owner is asked to make.
#[derive(Debug, Clone, PartialEq)]
pub struct GrantRequest<'a> {
    /// First encryption interval.
    pub first_interval: u64,
    /// Last encryption interval (inclusive).
    pub last_interval: u64,
    /// The grantee's Umbral receiving key.
    pub grantee: PrePublicKey,
    /// Cfrags needed to open (`m`).
    pub threshold: u8,
    /// The proxies (`n` = their number).
    pub proxies: &'a [Address],
    /// When the grant stops being honoured.
    pub expires_at: Timestamp,
}

/// The owner of a stream: derives per-interval delegating keys from its master secret, wraps
/// interval data keys for the key index, and issues and revokes grants.
pub struct Owner {
    identity: SecretKey,
    address: Address,
    master: MasterSecret,
    stream: StreamId,
    signer: KfragSigner,
    signer_pk: PrePublicKey,
    config: OwnerConfig,
    grants: BTreeMap<GrantId, Grant>,
    /// Delegating public keys by interval (public data, derived deterministically).
    key_cache: BTreeMap<u64, PrePublicKey>,
    /// The capsule [`Owner::attach_capsule`] put in each recent interval's records (public:
    /// it is in the key index), so every block of an interval shares one.
    capsule_cache: BTreeMap<u64, CapsuleBytes>,
    outputs: VecDeque<OwnerOutput>,
    stats: OwnerStats,
}

impl core::fmt::Debug for Owner {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Owner")
            .field("address", &self.address)
            .field("stream", &self.stream)
            .field("grants", &self.grants.len())
            .finish_non_exhaustive()
    }
}

impl Owner {
    /// An owner of `stream` with chain identity `identity` and key root `master`.
    pub fn new(
        identity: SecretKey,
        master: MasterSecret,
        stream: StreamId,
        config: OwnerConfig,
    ) -> Result<Owner, SharingError> {
        let signer = KfragSigner::new(&kfrag_signer_key(&master, &stream)?);
        Ok(Owner {
            signer_pk: signer.verifying_key(),
            address: identity.public_key().address(),
            identity,
            master,
            stream,
            signer,
            config,
            grants: BTreeMap::new(),
            key_cache: BTreeMap::new(),
            capsule_cache: BTreeMap::new(),
            outputs: VecDeque::new(),
            stats: OwnerStats::default(),
        })
    }

    /// The owner's chain address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The stream.
    pub fn stream(&self) -> &StreamId {
        &self.stream
    }

    /// The public key that verifies this stream's kfrags.
    pub fn kfrag_signer(&self) -> PrePublicKey {
        self.signer_pk
    }

    /// Interval `interval`'s delegating public key.
    pub fn delegating_public_key(&self, interval: u64) -> Result<PrePublicKey, SharingError> {
        if let Some(pk) = self.key_cache.get(&interval) {
            return Ok(*pk);
        }
        Ok(delegating_key(&self.master, &self.stream, interval)?.public_key())
    }

    /// Keep `interval`'s delegating public key, evicting the lowest interval when full.
    fn cache_key(&mut self, interval: u64, pk: PrePublicKey) {
        if self.config.max_cached_keys == 0 || self.key_cache.contains_key(&interval) {
            return;
        }
        if self.key_cache.len() >= self.config.max_cached_keys {
            self.key_cache.pop_first();
        }
        self.key_cache.insert(interval, pk);
    }

    /// Wrap interval `interval`'s data key under its delegating key (§2.2.2 step 2, PRE
    /// step 1): the capsule that goes in the key-index record of every block of the interval. The interval's delegating
    /// public key is kept ([`OwnerConfig::max_cached_keys`]), so the grants that sell the
    /// interval later do not multiply for it again.
    pub fn wrap_interval_key(
        &mut self,
        rng: &mut impl CryptoRngCore,
        interval: u64,
    ) -> Result<WrappedKey, SharingError> {
        let pk = self.delegating_public_key(interval)?;
        self.cache_key(interval, pk);
        let key = self.master.interval_key(&self.stream, interval);
        Ok(wrap_key(rng, &pk, key.aead_key())?)
    }

    /// [`wrap_interval_key`](Self::wrap_interval_key) in the key-index record's byte form.
    pub fn interval_capsule(
        &mut self,
        rng: &mut impl CryptoRngCore,
        interval: u64,
    ) -> Result<CapsuleBytes, SharingError> {
        let wrapped = self.wrap_interval_key(rng, interval)?;
        Ok(encode_to_heapless(&wrapped)?)
    }

    /// Put the capsule of `record`'s interval into the key-index record, in one call
    /// (§2.2.2 step 2, PRE step 1, in the `sharing` module docs: the key index records which
    /// key opens the block, here wrapped for re-encryption). Every
    /// block of an interval gets the same capsule: the first call for an interval wraps its
    /// key, later calls reuse it (the most recent [`OwnerConfig::max_cached_keys`]
    /// intervals are kept). A record of another stream is refused with
    /// [`SharingError::NotAddressedToUs`] and left unchanged.
    pub fn attach_capsule(
        &mut self,
        rng: &mut impl CryptoRngCore,
        record: &mut KeyIndexRecord,
    ) -> Result<(), SharingError> {
        if record.stream != self.stream {
            return Err(SharingError::NotAddressedToUs);
        }
        let interval = record.interval;
        let capsule = match self.capsule_cache.get(&interval) {
            Some(c) => c.clone(),
            None => {
                let c = self.interval_capsule(rng, interval)?;
                if self.config.max_cached_keys > 0 {
                    if self.capsule_cache.len() >= self.config.max_cached_keys {
                        self.capsule_cache.pop_first();
                    }
                    self.capsule_cache.insert(interval, c.clone());
                }
                c
            }
        };
        record.capsule = Some(capsule);
        Ok(())
    }

    /// Authorise `request.grantee` for the requested intervals through `request.proxies`
    /// (§2.2.2 step 4, PRE step 2).
    /// Emits `PublishGrant` then one `SendKfrags` per proxy; on error nothing is emitted.
    /// Every grant draws a salt from `rng`, so its id is its own even when an equal request
    /// comes in the same millisecond; an id already held is refused
    /// ([`SharingError::DuplicateGrant`]).
    pub fn grant(
        &mut self,
        now: Timestamp,
        rng: &mut impl CryptoRngCore,
        request: &GrantRequest<'_>,
    ) -> Result<GrantId, SharingError> {
        let count = request
            .last_interval
            .checked_sub(request.first_interval)
            .and_then(|d| d.checked_add(1))
            .ok_or(SharingError::EmptyIntervalRange)?;
        if count > MAX_GRANT_INTERVALS as u64 {
            return Err(SharingError::TooManyIntervals {
                len: count,
                max: MAX_GRANT_INTERVALS,
            });
        }
        let n = request.proxies.len();
        let shares = u8::try_from(n).map_err(|_| SharingError::InvalidProxySet)?;
        // Cheap checks first, so a bad request costs no key derivation (Grant::validate
        // repeats them on the finished grant).
        if n == 0 || n > MAX_PROXIES {
            return Err(SharingError::InvalidProxySet);
        }
        if request.threshold == 0 || request.threshold > shares {
            return Err(SharingError::InvalidThreshold);
        }
        if request.expires_at <= now {
            return Err(SharingError::InvalidExpiry);
        }
        if self.grants.len() >= self.config.max_grants
            || self.outputs.len().saturating_add(n).saturating_add(1) > self.config.max_outputs
        {
            return Err(SharingError::CapacityExceeded);
        }
        let proxies = heapless::Vec::from_slice(request.proxies)
            .map_err(|_| SharingError::InvalidProxySet)?;

        // The salt that keeps this grant's id apart from every other's (issue 12 item 6).
        let mut salt = [0u8; GRANT_SALT_LEN];
        rng.fill_bytes(&mut salt);

        // Per interval: derive the delegating key (§2.2.2 step 3) and split it into kfrags for
        // the grantee (PRE step 2).
        let mut delegating_keys = heapless::Vec::new();
        let mut per_proxy: Vec<heapless::Vec<_, MAX_GRANT_INTERVALS>> =
            (0..n).map(|_| heapless::Vec::new()).collect();
        for interval in request.first_interval..=request.last_interval {
            let sk = delegating_key(&self.master, &self.stream, interval)?;
            let pk = match self.key_cache.get(&interval) {
                Some(pk) => *pk,
                None => sk.public_key(),
            };
            delegating_keys
                .push(pk)
                .map_err(|_| SharingError::MalformedGrant)?;
            let kfrags = generate_kfrags(
                rng,
                &sk,
                &request.grantee,
                &self.signer,
                request.threshold,
                shares,
            )
            .map_err(|_| SharingError::InvalidThreshold)?;
            for (list, kfrag) in per_proxy.iter_mut().zip(kfrags.iter()) {
                // Cannot fail: count ≤ MAX_GRANT_INTERVALS was checked above.
                list.push(kfrag.to_unverified())
                    .map_err(|_| SharingError::TooManyIntervals {
                        len: count,
                        max: MAX_GRANT_INTERVALS,
                    })?;
            }
        }

        let grant = Grant {
            chain_id: self.config.chain_id,
            owner: self.address,
            stream: self.stream,
            first_interval: request.first_interval,
            last_interval: request.last_interval,
            grantee: request.grantee,
            threshold: request.threshold,
            proxies,
            kfrag_signer: self.signer_pk,
            delegating_keys,
            issued_at: now,
            expires_at: request.expires_at,
            salt,
        };
        grant.validate()?;
        let (id, signed) = grant.sign(&self.identity)?;
        if self.grants.contains_key(&id) {
            // Only a repeating RNG gets here; one id must never name two kfrag sets.
            return Err(SharingError::DuplicateGrant);
        }
        let first = signed.body.first_interval;
        for (interval, pk) in (first..).zip(signed.body.delegating_keys.iter()) {
            self.cache_key(interval, *pk);
        }

        self.grants.insert(id, signed.body.clone());
        self.stats.grants = self.stats.grants.saturating_add(1);
        self.outputs
            .push_back(OwnerOutput::PublishGrant(Box::new(signed.clone())));
        for (to, kfrags) in request.proxies.iter().zip(per_proxy) {
            self.outputs.push_back(OwnerOutput::SendKfrags {
                to: *to,
                delivery: Box::new(KfragDelivery {
                    grant: signed.clone(),
                    proxy: *to,
                    kfrags,
                }),
            });
        }
        Ok(id)
    }

    /// Withdraw a grant (PRE step 7): emits `PublishRevoke` then `SendRevoke` to each of its
    /// proxies.
    pub fn revoke(&mut self, now: Timestamp, grant: &GrantId) -> Result<(), SharingError> {
        let g = self.grants.get(grant).ok_or(SharingError::UnknownGrant)?;
        if self
            .outputs
            .len()
            .saturating_add(g.proxies.len())
            .saturating_add(1)
            > self.config.max_outputs
        {
            return Err(SharingError::CapacityExceeded);
        }
        let signed = Revoke {
            chain_id: self.config.chain_id,
            owner: self.address,
            grant: *grant,
            until: g.expires_at,
            at: now,
        }
        .sign(&self.identity)?;
        self.outputs.push_back(OwnerOutput::PublishRevoke(signed));
        for to in &g.proxies {
            self.outputs.push_back(OwnerOutput::SendRevoke {
                to: *to,
                revoke: signed,
            });
        }
        self.grants.remove(grant);
        self.stats.revokes = self.stats.revokes.saturating_add(1);
        Ok(())
    }

    /// Forget grants that have expired: nothing can revoke or use them any more, and the
    /// table of [`OwnerConfig::max_grants`] would otherwise fill for good.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        let before = self.grants.len();
        self.grants.retain(|_, g| now < g.expires_at);
        let gone = before.saturating_sub(self.grants.len());
        self.stats.expired = self.stats.expired.saturating_add(gone as u64);
    }

    /// Counters.
    pub fn stats(&self) -> OwnerStats {
        self.stats
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has a grant to forget.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.grants.values().map(|g| g.expires_at).min()
    }

    /// Number of grants remembered (live or not yet timed out).
    pub fn grants(&self) -> usize {
        self.grants.len()
    }

    /// The next thing the host must do, if any.
    pub fn poll_output(&mut self) -> Option<OwnerOutput> {
        self.outputs.pop_front()
    }
}

/// The SDK's one machine contract ([`cpchain_core::machine`]); it calls the inherent
/// methods of the same names.
impl Machine for Owner {
    type Output<'a> = OwnerOutput;
    type Stats = OwnerStats;

    fn handle_timeout(&mut self, now: Timestamp) {
        Owner::handle_timeout(self, now);
    }

    fn next_deadline(&self) -> Option<Timestamp> {
        Owner::next_deadline(self)
    }

    fn poll_output(&mut self) -> Option<OwnerOutput> {
        Owner::poll_output(self)
    }

    fn stats(&self) -> OwnerStats {
        Owner::stats(self)
    }
}
