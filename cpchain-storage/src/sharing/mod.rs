//! Authorised sharing per encryption interval with Umbral proxy re-encryption (white paper
//! §2.2.2), behind the `pre` feature.
//!
//! # Licence boundary
//! This module exists only with feature `pre`, which enables `cpchain-crypto/pre` and so
//! links umbral-pre (GPL-3.0-only). A build with `pre` is GPL-3.0; the default build links
//! no GPL code.
//!
//! # Why one delegating key per encryption interval
//! §2.2.2 asks that "the authorization of data is limited to a single encryption interval".
//! An Umbral kfrag re-encrypts *every* capsule made under its delegating key, so if all
//! intervals' data keys were wrapped under one owner key, a single grant would hand every
//! past and future interval to the grantee and its proxies. Each interval therefore gets its
//! own delegating key pair, derived (never stored) from the owner's master secret; its data
//! key is wrapped in a capsule under that key ([`Owner::wrap_interval_key`]), and that
//! capsule goes in the block's key-index record. Kfrags for interval *i* are made from
//! interval *i*'s delegating key only, so they cannot open interval *j*
//! (`tests/sharing.rs::grant_for_interval_i_opens_i_only`).
//!
//! # The paper's steps, and where each is in the code
//! §2.2.2 describes "one-time encryption and multiple authorization" in four sentences; the
//! code cites them as steps 1–4:
//! 1. "The user uses a symmetrically encrypted secret key for encrypting each encryption
//!    interval": the data-chain writer seals each interval's blocks under its interval key
//!    ([`crate::keys::MasterSecret::interval_key`], [`crate::Writer`]).
//! 2. "the correspondence between the encrypted data block and the secret key is recorded in
//!    the improved DHT": the block's [`KeyIndexRecord`] names the key by commitment, and
//!    [`Owner::attach_capsule`] puts the interval key, wrapped for re-encryption, into it.
//! 3. "the secret key needs to be updated every encryption interval": every interval has its
//!    own data key and its own delegating key ([`delegating_key`]).
//! 4. "The re-encryption system based on asymmetric encryption is used to transmit the secret
//!    key …, thus ensuring that the authorization of data is limited to a single encryption
//!    interval": [`Owner::grant`] splits interval delegating keys into kfrags for proxies,
//!    [`Proxy::handle_request`] re-encrypts the capsule, [`Grantee::handle_cfrag`] collects
//!    `m` cfrags and [`Grantee::open`] recovers the interval key.
//!
//! Step 4 is one sentence in the paper; the re-encryption it names runs in the PRE steps
//! below (Umbral's protocol, with the paper's access rights of §2.2.1 — "the blockchain
//! stores the access rights of each data record … the user … needs to provide proof" — and
//! §2.2.4's proxy network, whose nodes the user authorises, OTP aim 3). The code tags each
//! step where it happens, as the LBFT code tags §2.4.2's, for example "(§2.2.2 step 4, PRE
//! step 5)":
//! 1. **Encapsulate** (§2.2.2 step 2): the owner wraps the interval key under the interval's
//!    delegating key; the capsule goes into the key-index record
//!    ([`Owner::wrap_interval_key`], [`Owner::attach_capsule`]).
//! 2. **Delegate** (§2.2.1 access rights on chain, §2.2.4 OTP aim 3): the owner splits each
//!    granted interval's delegating key into `n` kfrags (threshold `m`) for the grantee's
//!    key, signs the [`Grant`] for the chain and sends each proxy its kfrags
//!    ([`Owner::grant`]).
//! 3. **Admit** (§2.2.4 OTP aim 1, trust without a trusted party): a proxy keeps kfrags only
//!    under a grant signed by the owner, addressed to it, live, with every kfrag verified
//!    ([`Proxy::handle_delivery`]); a kfrag that fails is the owner's [`Fault`].
//! 4. **Request** (§2.2.1 "provide proof that the ID of the data can be obtained"): the
//!    grantee, holding the grant, asks every proxy of it to re-encrypt one interval's
//!    capsule ([`Grantee::accept_grant`], [`Grantee::request`]).
//! 5. **Re-encrypt** (§2.2.2 step 4): a proxy re-encrypts the capsule into a cfrag only under
//!    a live grant covering the interval, and signs its reply ([`Proxy::handle_request`]).
//! 6. **Collect and open** (§2.2.2 step 4, "limited to a single encryption interval"): the
//!    grantee verifies each cfrag against the grant, and with `m` of them decapsulates the
//!    interval key ([`Grantee::handle_cfrag`], [`Grantee::open`]).
//! 7. **Revoke** (not in the paper; see "Revocation" below): the owner signs a [`Revoke`]
//!    for the chain and its proxies; they drop the kfrags ([`Owner::revoke`],
//!    [`Proxy::handle_revoke`]).
//!
//! # Key derivation (HKDF over Keccak-256, `hkdf::SimpleHkdf<sha3::Keccak256>`)
//! Same construction and salt as the data chain's interval data keys, with distinct labels:
//!
//! ```text
//! seed = HKDF(salt = "cpchain/storage/kdf/v1", IKM = master secret,
//!             info = label ‖ 0x00 ‖ stream id (32 B) [‖ interval (u64 BE)], L = 32)
//! delegating key of (stream, interval): label "cpchain/sharing/interval-delegating-key/v1"
//! kfrag signer of stream:               label "cpchain/sharing/kfrag-signer/v1" (no interval)
//! Umbral key = SecretKeyFactory(seed).make_key("cpchain/pre/key/v1")
//! ```
//!
//! The data key label is `"cpchain/storage/interval-data-key/v1"`, so delegating keys, signer
//! keys and data keys are independent HKDF outputs.
//!
//! # State machines (sans-IO, house style)
//! * [`Owner`]: `grant(now, rng, request)` derives each interval's delegating key, makes `n`
//!   kfrags per interval with threshold `m`, and emits, in this order, `PublishGrant` (the
//!   signed [`Grant`] for the chain) then one `SendKfrags` per proxy (a [`KfragDelivery`]
//!   with that proxy's kfrag of every interval). `revoke(now, grant)` emits `PublishRevoke`
//!   then `SendRevoke` to every proxy of the grant. `handle_timeout(now)` forgets
//!   expired grants (`next_deadline` says when); grants reuse the delegating public
//!   key an interval's wrap or first grant computed.
//! * [`Proxy`]: `handle_delivery` verifies the grant signature and every kfrag before keeping
//!   any (all or nothing); `handle_request` re-encrypts a capsule only under a live grant
//!   (not expired, not revoked, interval inside it) and replies with a [`CfragResponse`]
//!   signed by the proxy's identity (the output carries its wire bytes too), or with the
//!   bare [`CfragBody`] under [`ReplyAuth::Transport`]; `handle_revoke` drops the grant's
//!   kfrags and keeps a tombstone until the grant would have expired, so a replayed
//!   delivery cannot reinstall them.
//! * [`Grantee`]: `accept_grant(now, grant)`, then `request(now, grant, interval, wrapped
//!   key)` emits one request per proxy (it expires after [`GranteeConfig::request_timeout`]
//!   or with its grant, whichever is first: `handle_timeout` emits `Expired`); `handle_cfrag` verifies each signed cfrag (`handle_unsigned_cfrag`
//!   each unsigned one, with the sender the host's transport names); with `m` verified
//!   cfrags it emits `Ready` and [`Grantee::open`] returns the interval's data key, which
//!   opens that interval's blocks with the data-chain reader.
//!
//! All three keep the SDK's one machine contract ([`cpchain_core::machine::Machine`]):
//! outputs are drained with `poll_output`, one timer at `next_deadline`, counters in
//! `stats()`. A peer's input that is not acted on is dropped and counted by reason
//! ([`ProxyDrop`], [`GranteeDrop`]); the proxy also reports it as `Refused`, so the host can
//! answer the requester. Only checkable misbehaviour is a [`Fault`] output naming the
//! offender with evidence: a cfrag signed by a proxy of the grant that is not a correct
//! re-encryption, a kfrag the owner signed that does not verify. A cfrag from an outsider
//! (not a proxy of the grant) proves nothing about anyone and is only counted
//! ([`GranteeDrop::OutsideGrant`]; before issue 13 it was a `Fault`). `Err` is only for the
//! caller's mistakes and local limits, and leaves state unchanged. Time comes in as `now`, randomness as
//! `&mut impl CryptoRngCore`; same inputs, same outputs.
//!
//! # Memory bounds (issue 12 item 1)
//! Every machine holds on behalf of peers only what its config allows, and each config has a
//! `memory_bound()`: the most heap bytes the machine holds (beyond `size_of` of the machine
//! itself), whatever any peer or outsider sends, as a formula of its capacities:
//!
//! ```text
//! Proxy    btree(max_grants × Held) + max_grants × 16 × VerifiedKeyFrag
//!          + btree(max_grants × tombstone) + deque(max_outputs) + max_outputs × largest output
//! Grantee  btree(max_grants × Grant) + btree(max_pending × Pending)
//!          + max_pending × btree(16 × VerifiedCapsuleFrag) + deque(max_outputs)
//!          + max_outputs × largest output
//! Owner    btree(max_grants × Grant) + btree(max_cached_keys × PrePublicKey)
//!          + btree(max_cached_keys × CapsuleBytes)
//!          + deque(max_outputs) + max_outputs × largest output
//! ```
//!
//! with [`btree_map_bytes`] and [`deque_bytes`] the collections' worst cases. Each item is
//! itself capped (at most [`MAX_GRANT_INTERVALS`] kfrags, [`MAX_PROXIES`] proxies, fixed-size
//! keys and capsules, no `Vec` decoded from the wire), so a count bound is a byte bound.
//! What is kept is authenticated first: a proxy keeps kfrags only under a grant signed by its
//! owner and every kfrag verified; a grantee keeps a grant only signed by its owner and
//! addressed to it, and a cfrag only verified, from a proxy of the grant, for a request it
//! made. `cpchain-ffi/tests/memory_bounds.rs` floods each machine with maximum-size inputs under a
//! counting allocator and checks the bound; `docs/SECURITY.md`, section 4 has the threat model.
//!
//! # Revocation
//! Revocation is forward by construction: a grant names a finite interval range, and later
//! intervals have fresh delegating keys that no kfrag covers, so the owner simply issues no
//! grant for them. For the intervals already granted, a signed [`Revoke`] makes honest
//! proxies drop their kfrags; a grantee that already opened an interval keeps what it read
//! (no scheme can take back a key already delivered).
//!
//! # Deviations and notes
//! * The paper does not fix how kfrags reach proxies; a [`KfragDelivery`] must travel over
//!   an authenticated, confidential channel (the host's), because `m` kfrags in the grantee's
//!   hands would let it bypass revocation.
//! * Proxies sign their cfrag responses by default ([`ReplyAuth::Signed`]) so that a bad
//!   cfrag is evidence a third party can check (an RPT proxy-reputation penalty, a
//!   slashing), not just the transport's word; a signed response is also the proxy's
//!   receipt of service for the Proxy Reputation (PR) part of RPT (§5.1.2). That costs one encoding and one ECDSA
//!   signature per reply: 1.15–1.2× a bare Umbral re-encryption that is also encoded
//!   for the wire, 1.35–1.4× a bare one (`docs/BENCHMARKS.md`, "Sharing"). A host whose
//!   transport already authenticates peers (devp2p RLPx, mutual TLS) and that needs no
//!   transferable evidence sets [`ReplyAuth::Transport`]: the proxy replies with the bare
//!   [`CfragBody`] at the cost of the re-encryption alone, and the grantee, told the
//!   sender by the host ([`Grantee::handle_unsigned_cfrag`]), blames that peer in a fault
//!   only it can believe.
//! * A grantee counts one share per proxy and per kfrag id: a proxy that replays another
//!   proxy's cfrag adds nothing towards `m`.
//! * Umbral kfrag signatures use a dedicated per-stream signer key (derived as above) whose
//!   public key the owner's chain identity signs into the grant, rather than the chain key
//!   itself, so chain signatures and Umbral signatures never share a key.

mod grant;
mod grantee;
mod memory;
mod owner;
mod proxy;

pub use grant::{
    CfragBody, CfragResponse, Grant, GrantId, KfragDelivery, ReencryptionRequest, Revoke,
    SignedGrant, SignedRevoke, CFRAG_DOMAIN, GRANT_DOMAIN, GRANT_SALT_LEN, MAX_GRANT_INTERVALS,
    MAX_PROXIES, REVOKE_DOMAIN,
};
pub use grantee::{
    Grantee, GranteeConfig, GranteeDrop, GranteeOutput, GranteeStats, GRANTEE_DROP_REASONS,
};
pub use memory::{btree_map_bytes, deque_bytes};
pub use owner::{GrantRequest, Owner, OwnerConfig, OwnerOutput, OwnerStats};
pub use proxy::{Proxy, ProxyConfig, ProxyDrop, ProxyOutput, ProxyStats, PROXY_DROP_REASONS};

use crate::block::StreamId;
use crate::index::KeyIndexRecord;
use crate::keys::{MasterSecret, KDF_SALT};
use alloc::boxed::Box;
use cpchain_core::{encoding, Address, DecodeError, EncodeError};
use cpchain_crypto::pre::PreSecretKey;
use cpchain_crypto::pre::WrappedKey;
use cpchain_crypto::CryptoError;
use thiserror::Error;

/// HKDF label of the per-interval delegating keys.
pub const DELEGATING_KEY_LABEL: &[u8] = b"cpchain/sharing/interval-delegating-key/v1";
/// HKDF label of the per-stream kfrag signer key.
pub const KFRAG_SIGNER_LABEL: &[u8] = b"cpchain/sharing/kfrag-signer/v1";

/// The delegating key of `stream`'s encryption interval `interval` (see the module docs).
pub fn delegating_key(
    master: &MasterSecret,
    stream: &StreamId,
    interval: u64,
) -> Result<PreSecretKey, SharingError> {
    PreSecretKey::derive(
        master.expose_secret(),
        KDF_SALT,
        &[
            DELEGATING_KEY_LABEL,
            &[0u8],
            &stream.0,
            &interval.to_be_bytes(),
        ],
    )
    .map_err(SharingError::Crypto)
}

/// The key that signs `stream`'s kfrags (see the module docs).
pub fn kfrag_signer_key(
    master: &MasterSecret,
    stream: &StreamId,
) -> Result<PreSecretKey, SharingError> {
    PreSecretKey::derive(
        master.expose_secret(),
        KDF_SALT,
        &[KFRAG_SIGNER_LABEL, &[0u8], &stream.0],
    )
    .map_err(SharingError::Crypto)
}

/// The wrapped interval key of a key-index record, for [`Grantee::request`]. The record is
/// not signed: a substituted capsule either fails to open or opens a key whose commitment
/// differs from the block header's key id, which the data-chain reader refuses.
pub fn wrapped_key(record: &KeyIndexRecord) -> Result<WrappedKey, SharingError> {
    let bytes = record.capsule.as_ref().ok_or(SharingError::NoCapsule)?;
    encoding::decode(bytes).map_err(SharingError::Decode)
}

/// How a proxy's cfrag reply is tied to the proxy (see the module docs for the costs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ReplyAuth {
    /// Every reply is a [`CfragResponse`] signed by the proxy's chain key: a bad cfrag is
    /// evidence any holder of the grant can check. Safe over any transport.
    #[default]
    Signed,
    /// Replies are bare [`CfragBody`] messages. Only for hosts whose transport
    /// authenticates the proxy: the grantee attributes a bad cfrag to the peer the host
    /// names, and that fault convinces no third party.
    Transport,
}

/// Why a sharing command was refused. Small and `Copy`; the machine's state is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SharingError {
    /// The interval range is empty (first > last).
    #[error("empty interval range")]
    EmptyIntervalRange,
    /// More intervals than one grant may carry.
    #[error("{len} intervals exceed the limit of {max} per grant")]
    TooManyIntervals {
        /// Intervals asked for.
        len: u64,
        /// Limit ([`MAX_GRANT_INTERVALS`]).
        max: usize,
    },
    /// Threshold zero or above the number of proxies.
    #[error("invalid threshold")]
    InvalidThreshold,
    /// No proxies, more than [`MAX_PROXIES`], or one listed twice.
    #[error("invalid proxy set")]
    InvalidProxySet,
    /// The grant would be expired when issued.
    #[error("expiry not after issue time")]
    InvalidExpiry,
    /// The grant is for another chain.
    #[error("wrong chain id")]
    WrongChain,
    /// A grant, revoke or response whose signature is not its claimed signer's.
    #[error("bad signature")]
    BadSignature,
    /// The grant's structure is inconsistent (key count, ranges).
    #[error("malformed grant")]
    MalformedGrant,
    /// The grant is for another grantee key or another proxy.
    #[error("not addressed to this party")]
    NotAddressedToUs,
    /// No such grant is held.
    #[error("unknown grant")]
    UnknownGrant,
    /// The grant is expired, not yet valid, or revoked.
    #[error("grant is not live")]
    GrantNotLive,
    /// The interval is outside the grant.
    #[error("interval outside the grant")]
    IntervalOutsideGrant,
    /// Fewer verified cfrags than the threshold.
    #[error("{have} verified cfrags, {need} needed")]
    NotEnoughCfrags {
        /// Verified cfrags held.
        have: u8,
        /// The grant's threshold.
        need: u8,
    },
    /// No request is pending for this grant and interval.
    #[error("no pending request")]
    NoPendingRequest,
    /// A configured capacity (grants, pending requests, output queue) is full.
    #[error("capacity exceeded")]
    CapacityExceeded,
    /// The owner already holds a grant with this id: the salt the RNG gave repeated an
    /// earlier grant's (a broken RNG), and two kfrag sets under one id would make a
    /// grantee's `Ready` a lie. Nothing was emitted; retry with a working RNG.
    #[error("a grant with this id is already held")]
    DuplicateGrant,
    /// The key-index record carries no capsule (the owner did not enable sharing for it).
    #[error("no capsule in the key-index record")]
    NoCapsule,
    /// Bytes from outside did not decode.
    #[error("decode: {0}")]
    Decode(DecodeError),
    /// A cryptographic operation failed.
    #[error("crypto: {0}")]
    Crypto(CryptoError),
    /// A message could not be encoded.
    #[error("encode: {0}")]
    Encode(EncodeError),
}

impl From<CryptoError> for SharingError {
    fn from(e: CryptoError) -> Self {
        SharingError::Crypto(e)
    }
}

impl From<EncodeError> for SharingError {
    fn from(e: EncodeError) -> Self {
        SharingError::Encode(e)
    }
}

/// A peer's misbehaviour, with the offender and the signed evidence a third party can check.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Fault {
    /// A proxy of the grant signed a cfrag that is not a correct re-encryption of the
    /// capsule it names (forged or tampered). Anyone holding the grant can re-verify the
    /// evidence.
    InvalidCfrag {
        /// The proxy whose identity signed the response.
        proxy: Address,
        /// The signed response.
        evidence: Box<CfragResponse>,
    },
    /// An unsigned cfrag ([`ReplyAuth::Transport`]) from a proxy of the grant that is not a
    /// correct re-encryption. `peer` is the sender the host's authenticated transport
    /// named; without a signature the evidence convinces the grantee only.
    InvalidUnsignedCfrag {
        /// The sender, as the host's transport named it.
        peer: Address,
        /// The cfrag as received.
        evidence: Box<CfragBody>,
    },
    /// The owner signed a grant whose kfrag for `interval` does not verify: the grant is
    /// unusable. The evidence is the delivery (grant signed by the owner, kfrags signed by
    /// the owner's kfrag signer).
    InvalidKfrag {
        /// The owner who signed the grant.
        owner: Address,
        /// The interval whose kfrag failed.
        interval: u64,
        /// The delivery.
        evidence: Box<KfragDelivery>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_distinct_from_the_data_key_label() {
        let data_label: &[u8] = b"cpchain/storage/interval-data-key/v1";
        assert_ne!(DELEGATING_KEY_LABEL, data_label);
        assert_ne!(KFRAG_SIGNER_LABEL, data_label);
        let m = MasterSecret::from_bytes([4; 32]);
        let s = StreamId([5; 32]);
        let a = delegating_key(&m, &s, 1).unwrap().public_key();
        assert_eq!(a, delegating_key(&m, &s, 1).unwrap().public_key());
        assert_ne!(a, delegating_key(&m, &s, 2).unwrap().public_key());
        assert_ne!(
            a,
            delegating_key(&m, &StreamId([6; 32]), 1)
                .unwrap()
                .public_key()
        );
        assert_ne!(a, kfrag_signer_key(&m, &s).unwrap().public_key());
    }
}
