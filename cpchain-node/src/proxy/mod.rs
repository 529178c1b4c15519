//! Re-encryption proxies as a node role (issue 15 item 4; white paper §2.2.2 step 4,
//! §2.2.4), with feature `pre`.
//!
//! A node with a `proxy` section in its configuration runs the follower loop (it keeps
//! and verifies the chain, votes on nothing) plus the proxy service, which answers
//! `/cpchain/cfrag/1` (request-response, [`crate::network::CFRAG_PROTOCOL`]):
//!
//! * **Kfrag delivery** ([`CfragRequest::Deliver`], from the owner): kept only if the
//!   chain has recorded the grant, not revoked it, and the latest block's timestamp is
//!   before its expiry ([`chain_refusal`]); then the SDK's `sharing::Proxy` verifies the
//!   owner's signature and every kfrag before any is kept; then the delivery is written to
//!   the proxy's own redb file (`proxy.redb` in the data directory, fsynced) and the
//!   proxy answers [`CfragReply::Accepted`].
//! * **Cfrag request** ([`CfragRequest::Reencrypt`], from the grantee): served only under
//!   the same chain check and the machine's (kfrags held, interval inside the grant); the
//!   reply is the cfrag signed by the proxy's chain key ([`CfragReply::Cfrag`]), which the
//!   grantee verifies (a bad one is a fault naming the proxy). Otherwise
//!   [`CfragReply::Refused`] with a stable [`RefusalCode`]: `not_on_chain`, `revoked`,
//!   `expired`, `no_kfrags`, `outside_grant`, `not_for_us`, `unauthenticated`,
//!   `malformed`, `invalid_kfrag`, `full`, `decode`, `not_live`, `internal`.
//! * **Revocation and expiry** come from the chain only: after every stored block the
//!   service drops the kfrags (memory and disk) of each held grant the chain no longer
//!   backs ([`ProxyService::on_block`]); a request for such a grant in between is refused
//!   and drops them too. Time is the latest block's timestamp, never the proxy's clock.
//! * **Restart**: the stored deliveries are verified again by the machine and reinstated
//!   if the chain still backs them (a killed proxy serves again after a restart).
//!
//! The callers' side: [`deliver_kfrags`] for the owner and
//! [`open_interval`] for the grantee (the buyer's cfrag path).
//!
//! # Bounds
//!
//! * A request frame is at most [`crate::network::CFRAG_MAX_REQUEST_BYTES`] (16 KiB; the
//!   largest delivery, 16 intervals, is [`CfragRequest`]'s `MAX_ENCODED_LEN`) and a reply
//!   at most [`crate::network::CFRAG_MAX_REPLY_BYTES`] (4 KiB), refused by the codec
//!   before allocating; both are checked against the message types at compile time.
//!   At most [`crate::network::CFRAG_STREAMS`] (16) streams per connection: 256 KiB of
//!   request frames per peer.
//! * Kept: at most `proxy.max_grants` grants (default 1,024) and `proxy.max_bytes` bytes of
//!   stored delivery encodings (default 8 MiB); beyond either a delivery is refused as
//!   `full`. In memory the machine holds at most `ProxyConfig::memory_bound()` for
//!   `max_grants` (the `sharing` module's formula).
//!
//! # Deviations, with reasons
//!
//! * The owner's signed revocation reaches proxies through the chain, not as a direct
//!   message: the proxy drops kfrags with `Proxy::forget_grant` (added to
//!   `cpchain-storage` for this host) when its ledger says revoked or expired, and a
//!   later delivery of that grant is refused by the same ledger check, so no tombstone is
//!   needed.
//! * The grantee's call asks all `n` proxies at once and opens with the first `m`
//!   verified cfrags ("m of n": it does not wait for the rest), so one dead proxy costs
//!   nothing but its dial failure.
//! * Requests are unauthenticated at the transport (anyone may ask, as in the SDK's
//!   machine): a cfrag is useful only to the grant's grantee key. Each costs one
//!   re-encryption and one signature (a delivery, up to 16 kfrag verifications) on the
//!   follower loop; there is no per-peer rate limit yet.

mod chain;
mod client;
mod kfrag_store;
mod service;
mod wire;

pub use chain::StoreLedger;
pub use client::{
    ask, deliver_kfrags, grant_outputs, open_interval, revoke_output, GrantOutputs,
    ProxyClientError, ProxyEndpoint, ProxyReport,
};
pub use kfrag_store::{KfragStore, KFRAG_CACHE_BYTES};
pub use service::{
    chain_refusal, ChainGrant, GrantLedger, ProxyService, ProxyServiceStats, REDB_OVERHEAD_BYTES,
};
pub use wire::{CfragReply, CfragRequest, RefusalCode};

#[cfg(test)]
mod tests;
