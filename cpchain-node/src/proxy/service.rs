//! The proxy service: the SDK's `sharing::Proxy` machine behind the chain's word. A
//! delivery is kept and a request served only for a grant the ledger has recorded, not
//! revoked and not expired by the latest block's timestamp; the machine does the
//! cryptographic checks (owner's signature, every kfrag verified before any is kept).

use super::kfrag_store::KfragStore;
use super::wire::{CfragReply, CfragRequest, RefusalCode};
use crate::config::ProxyRoleConfig;
use crate::error::NodeError;
use cpchain_core::{encoding, Hash, Timestamp};
use cpchain_crypto::{CryptoRngCore, SecretKey};
use cpchain_storage::sharing::{
    Fault, GrantId, KfragDelivery, Proxy, ProxyConfig, ProxyOutput, ReencryptionRequest,
};
use std::path::Path;

/// A grant as the chain records it: what the proxy role needs to know of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainGrant {
    /// No grant with this id was recorded.
    Unknown,
    /// Recorded by a committed grant transaction.
    Recorded {
        /// The grant's expiry (compared with block timestamps, never a clock).
        expires_at: Timestamp,
        /// Whether a committed revocation names it.
        revoked: bool,
    },
}

/// The chain's grant records, as the proxy role reads them (the node's ledger state;
/// tests use a map).
pub trait GrantLedger {
    /// The chain's record of grant `id`.
    fn chain_grant(&self, id: &GrantId) -> Result<ChainGrant, NodeError>;
}

/// Why the chain does not back grant `id` at block time `now`, if it does not.
pub fn chain_refusal(
    ledger: &dyn GrantLedger,
    id: &GrantId,
    now: Timestamp,
) -> Result<Option<RefusalCode>, NodeError> {
    Ok(match ledger.chain_grant(id)? {
        ChainGrant::Unknown => Some(RefusalCode::NotOnChain),
        ChainGrant::Recorded { revoked: true, .. } => Some(RefusalCode::Revoked),
        ChainGrant::Recorded { expires_at, .. } if now >= expires_at => Some(RefusalCode::Expired),
        ChainGrant::Recorded { .. } => None,
    })
}

/// Counters of the service, for the status file and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyServiceStats {
    /// Deliveries accepted and stored.
    pub accepted: u64,
    /// Cfrags served.
    pub served: u64,
    /// Requests and deliveries refused (any code).
    pub refused: u64,
    /// Grants whose kfrags were dropped because the chain no longer backs them.
    pub dropped: u64,
}

/// A proxy node's service: the sharing machine, its persisted deliveries and counters.
pub struct ProxyService {
    machine: Proxy,
    store: KfragStore,
    stats: ProxyServiceStats,
}

impl std::fmt::Debug for ProxyService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyService")
            .field("machine", &self.machine)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// The machine's output queue: the service drains it after every input.
const MACHINE_OUTPUTS: usize = 16;

/// redb's heap beyond its page cache (open database, allocator state, transaction
/// bookkeeping), a fixed allowance: measured in `tests/proxy_memory.rs`.
pub const REDB_OVERHEAD_BYTES: usize = 256 * 1024;

const ZERO_GRANT: GrantId = GrantId(Hash([0; 32]));

impl ProxyService {
    /// Open the service with the store at `path`: deliveries kept before a restart are
    /// verified again by the machine and reinstated if the chain still backs them at
    /// `now` (the latest block's timestamp); the others are deleted.
    pub fn open(
        path: &Path,
        identity: SecretKey,
        role: &ProxyRoleConfig,
        chain_id: u64,
        ledger: &dyn GrantLedger,
        now: Timestamp,
    ) -> Result<ProxyService, NodeError> {
        let store = KfragStore::open(path, role.max_grants, role.max_bytes)?;
        let machine = Proxy::new(
            identity,
            ProxyConfig {
                chain_id,
                max_grants: role.max_grants,
                max_outputs: MACHINE_OUTPUTS,
                ..ProxyConfig::default()
            },
        );
        let mut service = ProxyService {
            machine,
            store,
            stats: ProxyServiceStats::default(),
        };
        for (id, bytes) in service.store.all()? {
            let keep = match encoding::decode::<KfragDelivery>(&bytes) {
                Ok(d) if chain_refusal(ledger, &id, now)?.is_none() => {
                    service.machine.handle_delivery(now, d).is_ok()
                        && service.drain_delivery() == Ok(id)
                }
                _ => false,
            };
            if !keep {
                tracing::info!(grant = %hex::encode(id.0 .0), "proxy: dropping a stored grant the chain no longer backs");
                service.store.remove(&id)?;
                service.machine.forget_grant(&id);
                while service.machine.poll_output().is_some() {}
            }
        }
        Ok(service)
    }

    /// Most heap bytes a service with `role`'s bounds holds, whatever owners, grantees and
    /// outsiders send: the sharing machine's own bound (`ProxyConfig::memory_bound`, held
    /// kfrags and tombstones and output queue), the store's index of sizes, redb's page
    /// cache ([`super::KFRAG_CACHE_BYTES`]) and [`super::REDB_OVERHEAD_BYTES`] for
    /// redb's own structures (measured in `tests/proxy_memory.rs`).
    pub fn memory_bound(role: &ProxyRoleConfig) -> usize {
        let machine = ProxyConfig {
            max_grants: role.max_grants,
            max_outputs: MACHINE_OUTPUTS,
            ..ProxyConfig::default()
        }
        .memory_bound();
        machine
            + cpchain_storage::sharing::btree_map_bytes::<GrantId, u64>(role.max_grants)
            + super::kfrag_store::KFRAG_CACHE_BYTES
            + REDB_OVERHEAD_BYTES
    }

    /// Counters.
    pub fn stats(&self) -> ProxyServiceStats {
        self.stats
    }

    /// Whether kfrags of `grant` are held.
    pub fn holds(&self, grant: &GrantId) -> bool {
        self.machine.holds(grant)
    }

    /// Grants held.
    pub fn held_grants(&self) -> usize {
        self.machine.held_grants()
    }

    /// Bytes of stored deliveries.
    pub fn stored_bytes(&self) -> u64 {
        self.store.bytes()
    }

    /// The machine's verdict on the delivery just handed in: the grant accepted, or why not.
    fn drain_delivery(&mut self) -> Result<GrantId, RefusalCode> {
        let mut verdict = Err(RefusalCode::Internal);
        while let Some(o) = self.machine.poll_output() {
            match o {
                ProxyOutput::Accepted(id) => verdict = Ok(id),
                ProxyOutput::Refused { reason, .. } => verdict = Err(RefusalCode::of(reason)),
                ProxyOutput::Fault(Fault::InvalidKfrag {
                    owner, interval, ..
                }) => {
                    tracing::warn!(%owner, interval, "proxy: owner's kfrag does not verify");
                    verdict = Err(RefusalCode::InvalidKfrag);
                }
                _ => {}
            }
        }
        verdict
    }

    /// Answer one encoded request at block time `now`. `Err` only for a local disk failure
    /// (the node stops); every peer's mistake is a `Refused` reply.
    pub fn handle_bytes(
        &mut self,
        now: Timestamp,
        rng: &mut impl CryptoRngCore,
        ledger: &dyn GrantLedger,
        request: &[u8],
    ) -> Result<CfragReply, NodeError> {
        match encoding::decode::<CfragRequest>(request) {
            Ok(r) => self.handle(now, rng, ledger, r),
            Err(_) => Ok(self.refuse(ZERO_GRANT, RefusalCode::Decode)),
        }
    }

    fn refuse(&mut self, grant: GrantId, code: RefusalCode) -> CfragReply {
        self.stats.refused = self.stats.refused.saturating_add(1);
        CfragReply::Refused { grant, code }
    }

    /// Answer one request at block time `now` (the latest block's timestamp).
    pub fn handle(
        &mut self,
        now: Timestamp,
        rng: &mut impl CryptoRngCore,
        ledger: &dyn GrantLedger,
        request: CfragRequest,
    ) -> Result<CfragReply, NodeError> {
        match request {
            CfragRequest::Deliver(d) => self.deliver(now, ledger, *d),
            CfragRequest::Reencrypt(r) => self.reencrypt(now, rng, ledger, *r),
        }
    }

    fn deliver(
        &mut self,
        now: Timestamp,
        ledger: &dyn GrantLedger,
        delivery: KfragDelivery,
    ) -> Result<CfragReply, NodeError> {
        let Ok(id) = delivery.grant.body.id() else {
            return Ok(self.refuse(ZERO_GRANT, RefusalCode::Malformed));
        };
        // The chain's word first: nothing is verified, let alone kept, for a grant the
        // chain does not back.
        if let Some(code) = chain_refusal(ledger, &id, now)? {
            return Ok(self.refuse(id, code));
        }
        let Ok(bytes) = encoding::encode_to_vec(&delivery) else {
            return Ok(self.refuse(id, RefusalCode::Malformed));
        };
        if !self.store.has_room(&id, bytes.len() as u64) {
            return Ok(self.refuse(id, RefusalCode::Full));
        }
        if self.machine.handle_delivery(now, delivery).is_err() {
            return Ok(self.refuse(id, RefusalCode::Full));
        }
        match self.drain_delivery() {
            Ok(accepted) if accepted == id => {
                if let Err(e) = self.store.put(&id, &bytes) {
                    self.machine.forget_grant(&id);
                    while self.machine.poll_output().is_some() {}
                    return Err(e);
                }
                self.stats.accepted = self.stats.accepted.saturating_add(1);
                Ok(CfragReply::Accepted(id))
            }
            Ok(_) => Ok(self.refuse(id, RefusalCode::Internal)),
            Err(code) => Ok(self.refuse(id, code)),
        }
    }

    fn reencrypt(
        &mut self,
        now: Timestamp,
        rng: &mut impl CryptoRngCore,
        ledger: &dyn GrantLedger,
        request: ReencryptionRequest,
    ) -> Result<CfragReply, NodeError> {
        let id = request.grant;
        if let Some(code) = chain_refusal(ledger, &id, now)? {
            // Revoked or expired since the last block was seen: drop the kfrags now.
            self.drop_grant(&id)?;
            return Ok(self.refuse(id, code));
        }
        if self.machine.handle_request(now, rng, request).is_err() {
            return Ok(self.refuse(id, RefusalCode::Full));
        }
        let mut reply = None;
        while let Some(o) = self.machine.poll_output() {
            match o {
                ProxyOutput::Reply { response, .. } => {
                    reply = Some(CfragReply::Cfrag(*response));
                }
                ProxyOutput::Refused { reason, .. } => {
                    reply = Some(CfragReply::Refused {
                        grant: id,
                        code: RefusalCode::of(reason),
                    });
                }
                _ => {}
            }
        }
        match reply {
            Some(r @ CfragReply::Cfrag(_)) => {
                self.stats.served = self.stats.served.saturating_add(1);
                Ok(r)
            }
            Some(CfragReply::Refused { code, .. }) => Ok(self.refuse(id, code)),
            _ => Ok(self.refuse(id, RefusalCode::Internal)),
        }
    }

    fn drop_grant(&mut self, id: &GrantId) -> Result<bool, NodeError> {
        let held = self.machine.forget_grant(id);
        while self.machine.poll_output().is_some() {}
        let stored = self.store.remove(id)?;
        if held || stored {
            self.stats.dropped = self.stats.dropped.saturating_add(1);
        }
        Ok(held || stored)
    }

    /// A new block was stored (its timestamp `now`): drop the kfrags of every held grant
    /// the chain no longer backs (revoked, or expired by block time). Returns them.
    pub fn on_block(
        &mut self,
        now: Timestamp,
        ledger: &dyn GrantLedger,
    ) -> Result<Vec<GrantId>, NodeError> {
        let mut dropped = Vec::new();
        for id in self.store.grants() {
            if chain_refusal(ledger, &id, now)?.is_some() && self.drop_grant(&id)? {
                dropped.push(id);
            }
        }
        self.machine.handle_timeout(now);
        while self.machine.poll_output().is_some() {}
        Ok(dropped)
    }
}
