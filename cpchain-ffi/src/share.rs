//! Authorised sharing per encryption interval (white paper §2.2.2) with Umbral proxy
//! re-encryption: built only with the `pre` feature (GPL-3.0, see the crate docs), declared in
//! the header under `#if defined(CPCHAIN_PRE)`.
//!
//! Three mutable, single-threaded handles wrap the sans-IO machines of
//! `cpchain_storage::sharing`; each is fed with calls and drained with `_poll` into caller
//! buffers, like the validator:
//!
//! * `cpchain_share_owner` (the data owner, from its chain key, master secret and stream):
//!   `_wrap_interval_key` makes an interval's capsule for the key index; `_grant` (intervals,
//!   the grantee's key, `m`, `n` proxies) emits `PUBLISH_GRANT` (the signed grant record, for
//!   the chain and the grantee) then one `SEND_KFRAGS` per proxy (its signed kfrag package);
//!   `_revoke` emits `PUBLISH_REVOKE` then one `SEND_REVOKE` per proxy.
//! * `cpchain_share_proxy` (from its chain key): `_handle_delivery` verifies a kfrag package
//!   (`ACCEPTED`, `REFUSED`, or a `FAULT` of the owner); `_handle_request` re-encrypts a
//!   capsule only under a live grant covering the interval (`REPLY` with the signed cfrag, or
//!   `REFUSED`); `_handle_revoke` drops the grant's kfrags (`DROPPED`).
//! * `cpchain_share_grantee` (from a 32-byte key seed): `_accept_grant`, `_request` (one
//!   `SEND_REQUEST` per proxy), `_handle_cfrag` (verified; `READY` once `m` are held, a `FAULT`
//!   naming a proxy that sent a bad one), then `_open` gives the interval's 32-byte data key,
//!   which decrypts that interval's blocks with `cpchain_chain_open_block`.
//!
//! Randomness comes in as 32-byte seeds from the caller's entropy (a fresh one per call);
//! time as `now_ms`. A peer's misbehaviour is a `FAULT` output, not an error code; error codes
//! (78xx, 73xx for undecodable bytes) are the caller's mistakes and local limits, and leave
//! the handle unchanged.

use crate::boundary::{
    ffi_boundary, ffi_boundary_void, handle, input, input_array, input_items, write_deadline,
    Driven, Exclusive, OutBuf, OutPtr, PolledBytes,
};
use crate::{cpchain_result, cpchain_secret_key, FfiResult, CPCHAIN_ADDRESS_LEN};
use cpchain_core::encoding::{self, WireMessage};
use cpchain_core::{Address, Hash, Timestamp};
use cpchain_crypto::pre::{PrePublicKey, PreSecretKey, WrappedKey};
use cpchain_storage::sharing::{
    CfragBody, CfragResponse, Fault, GrantId, GrantRequest, Grantee, GranteeConfig, GranteeOutput,
    KfragDelivery, Owner, OwnerConfig, OwnerOutput, Proxy, ProxyConfig, ProxyOutput,
    ReencryptionRequest, ReplyAuth, SharingError, SignedGrant, SignedRevoke,
};
use cpchain_storage::{MasterSecret, StreamId};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use zeroize::Zeroizing;

/// Bytes of a grant id (Keccak-256 of the grant).
pub const CPCHAIN_SHARE_GRANT_ID_LEN: usize = 32;
/// Bytes of an Umbral public key (compressed point): the grantee's receiving key.
pub const CPCHAIN_PRE_PUBLIC_KEY_LEN: usize = 33;
/// Bytes of the seed a grantee's Umbral key is made from.
pub const CPCHAIN_PRE_SEED_LEN: usize = 32;
/// Most proxies (`n`) of one grant.
pub const CPCHAIN_SHARE_MAX_PROXIES: usize = 16;
/// Most encryption intervals one grant covers.
pub const CPCHAIN_SHARE_MAX_INTERVALS: usize = 16;
/// Largest encoded wrapped interval key (`cpchain_share_owner_wrap_interval_key`).
pub const CPCHAIN_SHARE_WRAPPED_KEY_MAX_LEN: usize = 192;
/// Largest output any sharing handle polls (a kfrag package of a grant of
/// `CPCHAIN_SHARE_MAX_INTERVALS` intervals): a buffer of this size always suffices.
pub const CPCHAIN_SHARE_OUTPUT_MAX_LEN: usize = 7268;

const _: () = {
    assert!(cpchain_storage::sharing::MAX_PROXIES == CPCHAIN_SHARE_MAX_PROXIES);
    assert!(cpchain_storage::sharing::MAX_GRANT_INTERVALS == CPCHAIN_SHARE_MAX_INTERVALS);
    assert!(<WrappedKey as WireMessage>::MAX_ENCODED_LEN == CPCHAIN_SHARE_WRAPPED_KEY_MAX_LEN);
    assert!(<KfragDelivery as WireMessage>::MAX_ENCODED_LEN == CPCHAIN_SHARE_OUTPUT_MAX_LEN);
    assert!(<SignedGrant as WireMessage>::MAX_ENCODED_LEN <= CPCHAIN_SHARE_OUTPUT_MAX_LEN);
    assert!(<CfragResponse as WireMessage>::MAX_ENCODED_LEN <= CPCHAIN_SHARE_OUTPUT_MAX_LEN);
    assert!(<CfragBody as WireMessage>::MAX_ENCODED_LEN <= CPCHAIN_SHARE_OUTPUT_MAX_LEN);
    assert!(<SignedRevoke as WireMessage>::MAX_ENCODED_LEN <= CPCHAIN_SHARE_OUTPUT_MAX_LEN);
    assert!(<ReencryptionRequest as WireMessage>::MAX_ENCODED_LEN <= CPCHAIN_SHARE_OUTPUT_MAX_LEN);
};

/// What a sharing handle's `_poll` wrote, in the order the host must act on it.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum cpchain_share_output_kind {
    /// Nothing (with `CPCHAIN_RESULT_NO_OUTPUT` or an error).
    None = 0,
    /// Owner: publish the signed grant record (the bytes) on chain and give it to the
    /// grantee (`cpchain_share_grantee_accept_grant`). Comes before the grant's kfrags.
    PublishGrant = 1,
    /// Owner: send the bytes (a signed kfrag package) to proxy `info.peer` over a
    /// confidential, authenticated channel.
    SendKfrags = 2,
    /// Owner: publish the signed revoke (the bytes) on chain.
    PublishRevoke = 3,
    /// Owner: send the signed revoke (the bytes) to proxy `info.peer`.
    SendRevoke = 4,
    /// Proxy: the kfrags of grant `info.grant_id` verified and are held.
    Accepted = 5,
    /// Proxy: send the bytes (a signed cfrag response) back to the grantee that asked.
    Reply = 6,
    /// Proxy: a delivery, request or revoke for `info.grant_id` was not served;
    /// `info.reason` says why (it may be stale: not a fault).
    Refused = 7,
    /// Proxy: a revoke was honoured; the kfrags of `info.grant_id` are gone.
    Dropped = 8,
    /// Grantee: send the bytes (a re-encryption request) to proxy `info.peer`.
    SendRequest = 9,
    /// Grantee: `m` verified cfrags are held for (`info.grant_id`, `info.interval`):
    /// `cpchain_share_grantee_open` will succeed.
    Ready = 10,
    /// Proxy or grantee: a peer misbehaved; `info.fault` says how, `info.peer` who, and the
    /// bytes are the evidence (a signed cfrag response or kfrag package; an unsigned cfrag
    /// for the two `UNSIGNED` faults).
    Fault = 11,
    /// Proxy made with `CPCHAIN_SHARE_REPLY_AUTH_TRANSPORT`: send the bytes (an unsigned
    /// cfrag) back to the grantee that asked, over the authenticated channel the request
    /// came in on.
    UnsignedReply = 12,
    /// Grantee: the request for (`info.grant_id`, `info.interval`) timed out before `m`
    /// verified cfrags came; it is forgotten (ask again with `cpchain_share_grantee_request`).
    Expired = 13,
}

/// `reply_auth` of `cpchain_share_proxy_new_with`: every cfrag reply signed by the proxy's
/// chain key (evidence a third party can check; what `cpchain_share_proxy_new` makes).
pub const CPCHAIN_SHARE_REPLY_AUTH_SIGNED: u32 = 0;
/// `reply_auth` of `cpchain_share_proxy_new_with`: unsigned replies, for hosts whose
/// transport authenticates the proxy (a re-encryption at the cost of Umbral alone; see
/// `ReplyAuth` in the Rust docs for what is given up).
pub const CPCHAIN_SHARE_REPLY_AUTH_TRANSPORT: u32 = 1;

/// Kinds of sharing misbehaviour.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum cpchain_share_fault {
    /// Not a fault output.
    None = 0,
    /// A proxy of the grant signed a cfrag that is not a correct re-encryption.
    InvalidCfrag = 1,
    /// Reserved (was: a cfrag signed by a party outside the grant). Since issue 13 such a
    /// cfrag proves nothing about anyone: it is dropped and counted, never a fault. The
    /// value is kept so that the other values do not move.
    ProxyOutsideGrant = 2,
    /// The owner signed a grant whose kfrag for `info.interval` does not verify.
    InvalidKfrag = 3,
    /// An unsigned cfrag from proxy `info.peer` (as the host's transport named it) of the
    /// grant that is not a correct re-encryption; the evidence convinces the grantee only.
    InvalidUnsignedCfrag = 4,
    /// Reserved (was: an unsigned cfrag from a peer outside the grant); dropped and counted
    /// since issue 13, never a fault.
    UnsignedCfragOutsideGrant = 5,
}

/// Facts about a polled sharing output beside its bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct cpchain_share_output_info {
    /// The recipient (`SEND_*`), or the offender (`FAULT`); zero otherwise.
    pub peer: [u8; 20],
    /// The grant the output concerns; zero when none.
    pub grant_id: [u8; 32],
    /// The interval (`SEND_REQUEST`, `REPLY`, `READY`, `FAULT`); zero otherwise.
    pub interval: u64,
    /// For `REFUSED`, why; `CPCHAIN_RESULT_OK` otherwise.
    pub reason: cpchain_result,
    /// For `FAULT`, its kind.
    pub fault: cpchain_share_fault,
}

const NO_INFO: cpchain_share_output_info = cpchain_share_output_info {
    peer: [0; 20],
    grant_id: [0; 32],
    interval: 0,
    reason: cpchain_result::Ok,
    fault: cpchain_share_fault::None,
};

impl From<SharingError> for cpchain_result {
    fn from(e: SharingError) -> Self {
        use cpchain_result as R;
        match e {
            SharingError::EmptyIntervalRange => R::ShareEmptyIntervalRange,
            SharingError::TooManyIntervals { .. } => R::ShareTooManyIntervals,
            SharingError::InvalidThreshold => R::ShareInvalidThreshold,
            SharingError::InvalidProxySet => R::ShareInvalidProxySet,
            SharingError::InvalidExpiry => R::ShareInvalidExpiry,
            SharingError::WrongChain => R::ShareWrongChain,
            SharingError::BadSignature => R::ShareBadSignature,
            SharingError::MalformedGrant => R::ShareMalformedGrant,
            SharingError::NotAddressedToUs => R::ShareNotAddressedToUs,
            SharingError::UnknownGrant => R::ShareUnknownGrant,
            SharingError::GrantNotLive => R::ShareGrantNotLive,
            SharingError::IntervalOutsideGrant => R::ShareIntervalOutsideGrant,
            SharingError::NotEnoughCfrags { .. } => R::ShareNotEnoughCfrags,
            SharingError::NoPendingRequest => R::ShareNoPendingRequest,
            SharingError::CapacityExceeded => R::ShareCapacityExceeded,
            SharingError::DuplicateGrant => R::ShareDuplicateGrant,
            SharingError::Decode(d) => d.into(),
            SharingError::Crypto(c) => c.into(),
            SharingError::Encode(_) => R::EncodeFailed,
            _ => R::ShareOther,
        }
    }
}

/// One output taken from a machine, ready for the caller's buffer.
struct Polled {
    kind: cpchain_share_output_kind,
    bytes: Vec<u8>,
    info: cpchain_share_output_info,
}

impl PolledBytes for Polled {
    fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// A sharing machine behind a C handle: the boundary's one pending-output wrapper.
type Machine<M> = Driven<M, Polled>;

fn wrap<M>(machine: M) -> Exclusive<Machine<M>> {
    Exclusive::new(Driven::new(machine))
}

/// An RNG from the caller's 32-byte seed (wiped after use).
///
/// # Safety
///
/// `seed` readable for `seed_len` bytes.
unsafe fn rng_from(seed: *const u8, seed_len: usize) -> FfiResult<ChaCha20Rng> {
    // SAFETY: forwarded from this function's contract.
    let seed = unsafe { input_array::<CPCHAIN_PRE_SEED_LEN>(seed, seed_len) }?;
    let seed = Zeroizing::new(*seed);
    Ok(ChaCha20Rng::from_seed(*seed))
}

/// Read a 32-byte grant id.
///
/// # Safety
///
/// `id` readable for `id_len` bytes.
unsafe fn grant_id(id: *const u8, id_len: usize) -> FfiResult<GrantId> {
    // SAFETY: forwarded from this function's contract.
    let id = unsafe { input_array::<CPCHAIN_SHARE_GRANT_ID_LEN>(id, id_len) }?;
    Ok(GrantId(Hash(*id)))
}

fn fault_polled(f: Fault) -> FfiResult<Polled> {
    let mut info = NO_INFO;
    let bytes = match f {
        Fault::InvalidCfrag { proxy, evidence } => {
            info.peer = proxy.0;
            info.fault = cpchain_share_fault::InvalidCfrag;
            info.grant_id = evidence.body.grant.0 .0;
            info.interval = evidence.body.interval;
            encoding::encode_to_vec(&*evidence)?
        }
        Fault::InvalidKfrag {
            owner,
            interval,
            evidence,
        } => {
            info.peer = owner.0;
            info.fault = cpchain_share_fault::InvalidKfrag;
            info.interval = interval;
            info.grant_id = evidence.grant.body.id()?.0 .0;
            encoding::encode_to_vec(&*evidence)?
        }
        Fault::InvalidUnsignedCfrag { peer, evidence } => {
            info.peer = peer.0;
            info.fault = cpchain_share_fault::InvalidUnsignedCfrag;
            info.grant_id = evidence.grant.0 .0;
            info.interval = evidence.interval;
            encoding::encode_to_vec(&*evidence)?
        }
        _ => return Err(cpchain_result::ShareOther),
    };
    Ok(Polled {
        kind: cpchain_share_output_kind::Fault,
        bytes,
        info,
    })
}

/// The shared body of the three `_poll` functions: hand out the pending output, or take
/// the next one from the machine; keep it when the buffer is too small.
///
/// # Safety
///
/// As each `_poll` function's contract.
unsafe fn poll_machine<M>(
    cell: &Exclusive<Machine<M>>,
    next: impl FnOnce(&mut M) -> Option<FfiResult<Polled>>,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
    kind: *mut cpchain_share_output_kind,
    info: *mut cpchain_share_output_info,
) -> FfiResult {
    // SAFETY: forwarded from this function's contract.
    let kind = unsafe { OutPtr::new(kind) }?;
    kind.set(cpchain_share_output_kind::None);
    // SAFETY: forwarded from this function's contract.
    let info = unsafe { OutPtr::new(info) }?;
    info.set(NO_INFO);
    // SAFETY: forwarded from this function's contract.
    let out_len = unsafe { OutPtr::new(out_len) }?;
    // SAFETY: forwarded from this function's contract.
    let out = unsafe { OutBuf::new(buf, buf_len) }?;
    let p = cell.lock()?.poll_into(next, &out, &out_len)?;
    kind.set(p.kind);
    info.set(p.info);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Owner.
// ---------------------------------------------------------------------------------------

/// The owner of a data stream: wraps interval keys, issues and revokes grants. A mutable,
/// single-threaded handle; holds the master secret and chain key (wiped when freed).
pub struct cpchain_share_owner {
    inner: Exclusive<Machine<Owner>>,
}

/// Make an owner of `stream` (32 bytes) with chain identity `identity` (copied: the key
/// handle may be freed afterwards) and the stream's 32-byte `master` secret (the one its
/// data-chain writer was made with), signing grants for chain `chain_id`. `*out` is NULL
/// on any error.
///
/// # Safety
///
/// `identity` a live handle; `master` readable for `master_len` bytes, `stream` for
/// `stream_len`; `out` a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn cpchain_share_owner_new(
    identity: *const cpchain_secret_key,
    master: *const u8,
    master_len: usize,
    stream: *const u8,
    stream_len: usize,
    chain_id: u64,
    out: *mut *mut cpchain_share_owner,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutPtr::new(out) }?;
        out.set(core::ptr::null_mut());
        // SAFETY: forwarded from this function's contract.
        let identity = unsafe { handle(identity) }?.key.clone();
        // SAFETY: forwarded from this function's contract.
        let master = unsafe { input_array::<32>(master, master_len) }?;
        let master = MasterSecret::from_bytes(*Zeroizing::new(*master));
        // SAFETY: forwarded from this function's contract.
        let stream = unsafe { input_array::<32>(stream, stream_len) }?;
        let config = OwnerConfig {
            chain_id,
            ..OwnerConfig::default()
        };
        let owner = Owner::new(identity, master, StreamId(*stream), config)?;
        out.set(Box::into_raw(Box::new(cpchain_share_owner {
            inner: wrap(owner),
        })));
        Ok(())
    }
}

/// Release an owner, wiping its secrets. NULL is fine.
///
/// # Safety
///
/// `o` NULL or a live handle not freed before, used by no other thread now or afterwards.
#[no_mangle]
pub unsafe extern "C" fn cpchain_share_owner_free(o: *mut cpchain_share_owner) {
    ffi_boundary_void! {
        if !o.is_null() {
            // SAFETY: a non-NULL handle came from Box::into_raw in `_new` and is freed once.
            drop(unsafe { Box::from_raw(o) });
        }
    }
}

/// Wrap encryption interval `interval`'s data key under that interval's own delegating key:
/// the capsule the key-index record of every block of the interval carries, and what a
/// grantee asks proxies to re-encrypt. `seed` is 32 bytes of fresh entropy. Encoded into
/// `buf` (at most `CPCHAIN_SHARE_WRAPPED_KEY_MAX_LEN` bytes); `*out_len` as usual. The
/// handle keeps the interval's delegating public key for the grants that sell the interval
/// later (a cache inside the handle's lock, hence the `const` pointer).
///
/// # Safety
///
/// `o` a live handle; `seed` readable for `seed_len` bytes; `buf` writable for `buf_len`;
/// `out_len` a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_share_owner_wrap_interval_key(
    o: *const cpchain_share_owner,
    seed: *const u8,
    seed_len: usize,
    interval: u64,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let o = unsafe { handle(o) }?;
        // SAFETY: forwarded from this function's contract.
        let out_len = unsafe { OutPtr::new(out_len) }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutBuf::new(buf, buf_len) }?;
        // SAFETY: forwarded from this function's contract.
        let mut rng = unsafe { rng_from(seed, seed_len) }?;
        let wrapped = o.inner.lock()?.machine.wrap_interval_key(&mut rng, interval)?;
        out.write(&encoding::encode_to_vec(&wrapped)?, Some(&out_len))
    }
}

/// Grant the holder of the Umbral receiving key `grantee` (33 bytes) encryption intervals
/// `first_interval..=last_interval` through the `n_proxies` proxies (20-byte addresses back
/// to back, `n`), any `threshold` (`m`) of which open, until `expires_at_ms`. `seed` is 32
/// bytes of fresh entropy. Writes the grant id (32 bytes) to `grant_id`; then poll:
/// `PUBLISH_GRANT` (the signed grant record) and one `SEND_KFRAGS` per proxy. Refusals:
/// `CPCHAIN_RESULT_SHARE_EMPTY_INTERVAL_RANGE`, `..._TOO_MANY_INTERVALS`,
/// `..._INVALID_THRESHOLD`, `..._INVALID_PROXY_SET`, `..._INVALID_EXPIRY`,
/// `..._CAPACITY_EXCEEDED` (poll first), `CPCHAIN_RESULT_INVALID_PUBLIC_KEY`; nothing is
/// emitted on any refusal.
///
/// # Safety
///
/// `o` a live handle; every (pointer, length) readable; `grant_id` writable for `id_len`
/// bytes.
#[no_mangle]
pub unsafe extern "C" fn cpchain_share_owner_grant(
    o: *mut cpchain_share_owner,
    now_ms: u64,
    seed: *const u8,
    seed_len: usize,
    first_interval: u64,
    last_interval: u64,
    grantee: *const u8,
    grantee_len: usize,
    threshold: u8,
    proxies: *const u8,
    n_proxies: usize,
    expires_at_ms: u64,
    grant_id: *mut u8,
    id_len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let o = unsafe { handle(o) }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutBuf::new(grant_id, id_len) }?;
        if out.cap() < CPCHAIN_SHARE_GRANT_ID_LEN {
            return Err(cpchain_result::InsufficientSize);
        }
        // SAFETY: forwarded from this function's contract.
        let mut rng = unsafe { rng_from(seed, seed_len) }?;
        // SAFETY: forwarded from this function's contract.
        let pk = unsafe { input_array::<CPCHAIN_PRE_PUBLIC_KEY_LEN>(grantee, grantee_len) }?;
        let grantee = PrePublicKey::from_compressed(pk)?;
        // SAFETY: forwarded from this function's contract (arrays of 20 bytes).
        let proxies =
            unsafe { input_items(proxies.cast::<[u8; CPCHAIN_ADDRESS_LEN]>(), n_proxies) }?;
        let proxies: Vec<Address> = proxies.iter().map(|a| Address(*a)).collect();
        let request = GrantRequest {
            first_interval,
            last_interval,
            grantee,
            threshold,
            proxies: &proxies,
            expires_at: Timestamp(expires_at_ms),
        };
        let id = o.inner.lock()?.machine.grant(Timestamp(now_ms), &mut rng, &request)?;
        out.write_fixed(id.0.as_bytes())
    }
}

/// Withdraw grant `grant_id` (32 bytes); then poll: `PUBLISH_REVOKE` and one `SEND_REVOKE`
/// per proxy. `CPCHAIN_RESULT_SHARE_UNKNOWN_GRANT` for a grant this owner did not make (or
/// revoked already).
///
/// # Safety
///
/// `o` a live handle; `grant_id` readable for `id_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn cpchain_share_owner_revoke(
    o: *mut cpchain_share_owner,
    now_ms: u64,
    grant_id: *const u8,
    id_len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let o = unsafe { handle(o) }?;
        // SAFETY: forwarded from this function's contract.
        let id = unsafe { self::grant_id(grant_id, id_len) }?;
        o.inner.lock()?.machine.revoke(Timestamp(now_ms), &id)?;
        Ok(())
    }
}

fn owner_polled(o: OwnerOutput) -> FfiResult<Polled> {
    use cpchain_share_output_kind as K;
    let mut info = NO_INFO;
    let (kind, bytes) = match o {
        OwnerOutput::PublishGrant(g) => {
            info.grant_id = g.body.id()?.0 .0;
            (K::PublishGrant, encoding::encode_to_vec(&*g)?)
        }
        OwnerOutput::SendKfrags { to, delivery } => {
            info.peer = to.0;
            info.grant_id = delivery.grant.body.id()?.0 .0;
            (K::SendKfrags, encoding::encode_to_vec(&*delivery)?)
        }
        OwnerOutput::PublishRevoke(r) => {
            info.grant_id = r.body.grant.0 .0;
            (K::PublishRevoke, encoding::encode_to_vec(&r)?)
        }
        OwnerOutput::SendRevoke { to, revoke } => {
            info.peer = to.0;
            info.grant_id = revoke.body.grant.0 .0;
            (K::SendRevoke, encoding::encode_to_vec(&revoke)?)
        }
        _ => return Err(cpchain_result::ShareOther),
    };
    Ok(Polled { kind, bytes, info })
}

/// The owner's next output (see `cpchain_share_output_kind`), as the validator's poll:
/// `CPCHAIN_RESULT_NO_OUTPUT` when none; on a too-small buffer the size needed in
/// `*out_len` and the same output next time (`CPCHAIN_SHARE_OUTPUT_MAX_LEN` always fits).
///
/// # Safety
///
/// `o` a live handle; `buf` writable for `buf_len` bytes; `out_len`, `kind`, `info`
/// writable.
#[no_mangle]
pub unsafe extern "C" fn cpchain_share_owner_poll(
    o: *mut cpchain_share_owner,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
    kind: *mut cpchain_share_output_kind,
    info: *mut cpchain_share_output_info,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract (out-parameters are checked
        // before the handle, so they are reset even when the handle is NULL).
        let cell = unsafe { handle(o) }.map(|o| &o.inner);
        match cell {
            // SAFETY: forwarded from this function's contract.
            Ok(cell) => unsafe {
                poll_machine(cell, |m| m.poll_output().map(owner_polled), buf, buf_len, out_len, kind, info)
            },
            Err(e) => {
                reset_outputs(kind, info);
                Err(e)
            }
        }
    }
}

/// The timer fired at `now_ms`: forget grants that have expired. Without it an owner
/// remembers every grant it ever made and refuses new ones once it holds
/// `max_grants` (1,024) of them (`CPCHAIN_RESULT_SHARE_CAPACITY_EXCEEDED`).
///
/// # Safety
///
/// `o` a live handle.
#[no_mangle]
pub unsafe extern "C" fn cpchain_share_owner_handle_timeout(
    o: *mut cpchain_share_owner,
    now_ms: u64,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let o = unsafe { handle(o) }?;
        o.inner.lock()?.machine.handle_timeout(Timestamp(now_ms));
        Ok(())
    }
}

/// When to call `cpchain_share_owner_handle_timeout` next: the earliest expiry of a grant
/// the owner remembers (`*has_deadline` false: none).
///
/// # Safety
///
/// `o` a live handle; `has_deadline` and `deadline_ms` writable.
#[no_mangle]
pub unsafe extern "C" fn cpchain_share_owner_next_deadline(
    o: *const cpchain_share_owner,
    has_deadline: *mut bool,
    deadline_ms: *mut u64,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let o = unsafe { handle(o) }?;
        let next = o.inner.lock()?.machine.next_deadline();
        // SAFETY: forwarded from this function's contract.
        unsafe { write_deadline(next, has_deadline, deadline_ms) }
    }
}

/// Reset `kind` and `info` when they are writable (a poll refused before it started).
fn reset_outputs(kind: *mut cpchain_share_output_kind, info: *mut cpchain_share_output_info) {
    // SAFETY: a poll's contract makes non-NULL `kind`/`info` writable; OutPtr checks NULL
    // and alignment.
    if let Ok(k) = unsafe { OutPtr::new(kind) } {
        k.set(cpchain_share_output_kind::None);
    }
    // SAFETY: as above.
    if let Ok(i) = unsafe { OutPtr::new(info) } {
        i.set(NO_INFO);
    }
}

// ---------------------------------------------------------------------------------------
// Proxy.
// ---------------------------------------------------------------------------------------

/// A re-encryption proxy: holds verified kfrags, re-encrypts under live grants, honours
/// revokes. A mutable, single-threaded handle; its chain key signs every cfrag it returns.
pub struct cpchain_share_proxy {
    inner: Exclusive<Machine<Proxy>>,
}

/// Make a proxy with chain identity `identity` (copied) serving grants of chain `chain_id`.
/// `*out` is NULL on any error.
///
/// # Safety
///
/// `identity` a live handle; `out` a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn cpchain_share_proxy_new(
    identity: *const cpchain_secret_key,
    chain_id: u64,
    out: *mut *mut cpchain_share_proxy,
) -> cpchain_result {
    // SAFETY: forwarded from this function's contract (the same as `_new_with`'s), which has
    // its own panic boundary.
    unsafe {
        cpchain_share_proxy_new_with(identity, chain_id, CPCHAIN_SHARE_REPLY_AUTH_SIGNED, out)
    }
}

/// A proxy as `cpchain_share_proxy_new`, with its reply authentication chosen:
/// `CPCHAIN_SHARE_REPLY_AUTH_SIGNED` (the same as `_new`) or
/// `CPCHAIN_SHARE_REPLY_AUTH_TRANSPORT` (replies are polled as `UNSIGNED_REPLY`; only for a
/// transport that authenticates this proxy to the grantee). Any other value is
/// `CPCHAIN_RESULT_INVALID_PARAMETER`.
///
/// # Safety
///
/// As `cpchain_share_proxy_new`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_share_proxy_new_with(
    identity: *const cpchain_secret_key,
    chain_id: u64,
    reply_auth: u32,
    out: *mut *mut cpchain_share_proxy,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutPtr::new(out) }?;
        out.set(core::ptr::null_mut());
        let reply_auth = match reply_auth {
            CPCHAIN_SHARE_REPLY_AUTH_SIGNED => ReplyAuth::Signed,
            CPCHAIN_SHARE_REPLY_AUTH_TRANSPORT => ReplyAuth::Transport,
            _ => return Err(cpchain_result::InvalidParameter),
        };
        // SAFETY: forwarded from this function's contract.
        let identity = unsafe { handle(identity) }?.key.clone();
        let config = ProxyConfig {
            chain_id,
            reply_auth,
            ..ProxyConfig::default()
        };
        out.set(Box::into_raw(Box::new(cpchain_share_proxy {
            inner: wrap(Proxy::new(identity, config)),
        })));
        Ok(())
    }
}

/// Release a proxy, wiping its key and kfrags. NULL is fine.
///
/// # Safety
///
/// `p` NULL or a live handle not freed before, used by no other thread now or afterwards.
#[no_mangle]
pub unsafe extern "C" fn cpchain_share_proxy_free(p: *mut cpchain_share_proxy) {
    ffi_boundary_void! {
        if !p.is_null() {
            // SAFETY: a non-NULL handle came from Box::into_raw in `_new` and is freed once.
            drop(unsafe { Box::from_raw(p) });
        }
    }
}

/// A kfrag package (`SEND_KFRAGS` bytes) from an owner. Every kfrag is verified against the
/// signed grant before any is kept; poll for `ACCEPTED`, `REFUSED` (wrong chain, expired,
/// revoked, not for this proxy, bad signature) or a `FAULT` of the owner. Error codes only
/// for undecodable bytes (`CPCHAIN_RESULT_DECODE_*`) and a full proxy.
///
/// # Safety
///
/// `p` a live handle; `bytes` readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn cpchain_share_proxy_handle_delivery(
    p: *mut cpchain_share_proxy,
    now_ms: u64,
    bytes: *const u8,
    len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let p = unsafe { handle(p) }?;
        // SAFETY: forwarded from this function's contract.
        let delivery: KfragDelivery = encoding::decode(unsafe { input(bytes, len) }?)?;
        p.inner.lock()?.machine.handle_delivery(Timestamp(now_ms), delivery)?;
        Ok(())
    }
}

/// A grantee's re-encryption request (`SEND_REQUEST` bytes). Served only under a live grant
/// that covers the interval: poll for `REPLY` (the signed cfrag response) or `REFUSED`.
/// `seed` is 32 bytes of fresh entropy. Error codes only for undecodable bytes and a full
/// output queue.
///
/// # Safety
///
/// `p` a live handle; `seed` readable for `seed_len` bytes, `bytes` for `len`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_share_proxy_handle_request(
    p: *mut cpchain_share_proxy,
    now_ms: u64,
    seed: *const u8,
    seed_len: usize,
    bytes: *const u8,
    len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let p = unsafe { handle(p) }?;
        // SAFETY: forwarded from this function's contract.
        let mut rng = unsafe { rng_from(seed, seed_len) }?;
        // SAFETY: forwarded from this function's contract.
        let request: ReencryptionRequest = encoding::decode(unsafe { input(bytes, len) }?)?;
        p.inner
            .lock()?
            .machine
            .handle_request(Timestamp(now_ms), &mut rng, request)?;
        Ok(())
    }
}

/// An owner's signed revoke (`SEND_REVOKE` bytes): the grant's kfrags are dropped and a
/// replayed package cannot reinstall them; poll for `DROPPED` or `REFUSED` (not signed by
/// the grant's owner).
///
/// # Safety
///
/// `p` a live handle; `bytes` readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn cpchain_share_proxy_handle_revoke(
    p: *mut cpchain_share_proxy,
    now_ms: u64,
    bytes: *const u8,
    len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let p = unsafe { handle(p) }?;
        // SAFETY: forwarded from this function's contract.
        let revoke: SignedRevoke = encoding::decode(unsafe { input(bytes, len) }?)?;
        p.inner.lock()?.machine.handle_revoke(Timestamp(now_ms), revoke)?;
        Ok(())
    }
}

/// Whether the proxy holds kfrags of grant `grant_id` (32 bytes) now.
///
/// # Safety
///
/// `p` a live handle; `grant_id` readable for `id_len` bytes; `holds` writable.
#[no_mangle]
pub unsafe extern "C" fn cpchain_share_proxy_holds(
    p: *const cpchain_share_proxy,
    grant_id: *const u8,
    id_len: usize,
    holds: *mut bool,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let p = unsafe { handle(p) }?;
        // SAFETY: forwarded from this function's contract.
        let holds = unsafe { OutPtr::new(holds) }?;
        // SAFETY: forwarded from this function's contract.
        let id = unsafe { self::grant_id(grant_id, id_len) }?;
        holds.set(p.inner.lock()?.machine.holds(&id));
        Ok(())
    }
}

/// The timer fired at `now_ms`: forget expired grants and revocation tombstones.
///
/// # Safety
///
/// `p` a live handle.
#[no_mangle]
pub unsafe extern "C" fn cpchain_share_proxy_handle_timeout(
    p: *mut cpchain_share_proxy,
    now_ms: u64,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let p = unsafe { handle(p) }?;
        p.inner.lock()?.machine.handle_timeout(Timestamp(now_ms));
        Ok(())
    }
}

/// When to call `cpchain_share_proxy_handle_timeout` next (`*has_deadline` false: never).
///
/// # Safety
///
/// `p` a live handle; `has_deadline` and `deadline_ms` writable.
#[no_mangle]
pub unsafe extern "C" fn cpchain_share_proxy_next_deadline(
    p: *const cpchain_share_proxy,
    has_deadline: *mut bool,
    deadline_ms: *mut u64,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let p = unsafe { handle(p) }?;
        let next = p.inner.lock()?.machine.next_deadline();
        // SAFETY: forwarded from this function's contract.
        unsafe { write_deadline(next, has_deadline, deadline_ms) }
    }
}

fn proxy_polled(o: ProxyOutput) -> FfiResult<Polled> {
    use cpchain_share_output_kind as K;
    let mut info = NO_INFO;
    let (kind, bytes) = match o {
        ProxyOutput::Accepted(id) => {
            info.grant_id = id.0 .0;
            (K::Accepted, Vec::new())
        }
        ProxyOutput::Reply { response, bytes } => {
            info.grant_id = response.body.grant.0 .0;
            info.interval = response.body.interval;
            (K::Reply, bytes)
        }
        ProxyOutput::UnsignedReply(body) => {
            info.grant_id = body.grant.0 .0;
            info.interval = body.interval;
            (K::UnsignedReply, encoding::encode_to_vec(&*body)?)
        }
        ProxyOutput::Refused { grant, reason } => {
            info.grant_id = grant.0 .0;
            info.reason = reason.into();
            (K::Refused, Vec::new())
        }
        ProxyOutput::Dropped(id) => {
            info.grant_id = id.0 .0;
            (K::Dropped, Vec::new())
        }
        ProxyOutput::Fault(f) => return fault_polled(f),
        _ => return Err(cpchain_result::ShareOther),
    };
    Ok(Polled { kind, bytes, info })
}

/// The proxy's next output; as `cpchain_share_owner_poll`.
///
/// # Safety
///
/// `p` a live handle; `buf` writable for `buf_len` bytes; `out_len`, `kind`, `info`
/// writable.
#[no_mangle]
pub unsafe extern "C" fn cpchain_share_proxy_poll(
    p: *mut cpchain_share_proxy,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
    kind: *mut cpchain_share_output_kind,
    info: *mut cpchain_share_output_info,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        match unsafe { handle(p) } {
            // SAFETY: forwarded from this function's contract.
            Ok(p) => unsafe {
                poll_machine(&p.inner, |m| m.poll_output().map(proxy_polled), buf, buf_len, out_len, kind, info)
            },
            Err(e) => {
                reset_outputs(kind, info);
                Err(e)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Grantee.
// ---------------------------------------------------------------------------------------

/// The party a grant authorises: holds its Umbral receiving key, collects cfrags and opens
/// interval keys. A mutable, single-threaded handle; the key is wiped when freed.
pub struct cpchain_share_grantee {
    inner: Exclusive<Machine<Grantee>>,
}

/// Make a grantee whose Umbral receiving key comes from the 32-byte secret `seed` (the
/// key's storage form: the same seed gives the same key), accepting grants of chain
/// `chain_id`. Its public key, for the owner, is `cpchain_share_grantee_public_key`.
/// `*out` is NULL on any error.
///
/// # Safety
///
/// `seed` readable for `seed_len` bytes; `out` a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn cpchain_share_grantee_new(
    seed: *const u8,
    seed_len: usize,
    chain_id: u64,
    out: *mut *mut cpchain_share_grantee,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutPtr::new(out) }?;
        out.set(core::ptr::null_mut());
        // SAFETY: forwarded from this function's contract.
        let seed = unsafe { input_array::<CPCHAIN_PRE_SEED_LEN>(seed, seed_len) }?;
        let key = PreSecretKey::from_seed(&Zeroizing::new(*seed))?;
        let config = GranteeConfig {
            chain_id,
            ..GranteeConfig::default()
        };
        out.set(Box::into_raw(Box::new(cpchain_share_grantee {
            inner: wrap(Grantee::new(key, config)),
        })));
        Ok(())
    }
}

/// Release a grantee, wiping its key and opened material. NULL is fine.
///
/// # Safety
///
/// `g` NULL or a live handle not freed before, used by no other thread now or afterwards.
#[no_mangle]
pub unsafe extern "C" fn cpchain_share_grantee_free(g: *mut cpchain_share_grantee) {
    ffi_boundary_void! {
        if !g.is_null() {
            // SAFETY: a non-NULL handle came from Box::into_raw in `_new` and is freed once.
            drop(unsafe { Box::from_raw(g) });
        }
    }
}

/// The grantee's Umbral receiving key (33 bytes), which an owner grants to.
///
/// # Safety
///
/// `g` a live handle; `out` writable for `out_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn cpchain_share_grantee_public_key(
    g: *const cpchain_share_grantee,
    out: *mut u8,
    out_len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let g = unsafe { handle(g) }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutBuf::new(out, out_len) }?;
        if out.cap() < CPCHAIN_PRE_PUBLIC_KEY_LEN {
            return Err(cpchain_result::InsufficientSize);
        }
        let pk = g.inner.lock()?.machine.public_key().to_compressed();
        out.write_fixed(&pk)
    }
}

/// Take a signed grant record (`PUBLISH_GRANT` bytes, from the chain or the owner) after
/// checking it is signed by its owner, for this chain and for this grantee; its id (32
/// bytes) goes to `grant_id`. Refusals: `CPCHAIN_RESULT_SHARE_BAD_SIGNATURE`,
/// `..._WRONG_CHAIN`, `..._NOT_ADDRESSED_TO_US`, `..._MALFORMED_GRANT`,
/// `..._GRANT_NOT_LIVE` (expired at `now_ms`), `CPCHAIN_RESULT_DECODE_*`.
///
/// # Safety
///
/// `g` a live handle; `bytes` readable for `len` bytes; `grant_id` writable for `id_len`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_share_grantee_accept_grant(
    g: *mut cpchain_share_grantee,
    now_ms: u64,
    bytes: *const u8,
    len: usize,
    grant_id: *mut u8,
    id_len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let g = unsafe { handle(g) }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutBuf::new(grant_id, id_len) }?;
        if out.cap() < CPCHAIN_SHARE_GRANT_ID_LEN {
            return Err(cpchain_result::InsufficientSize);
        }
        // SAFETY: forwarded from this function's contract.
        let grant: SignedGrant = encoding::decode(unsafe { input(bytes, len) }?)?;
        let id = g.inner.lock()?.machine.accept_grant(Timestamp(now_ms), &grant)?;
        out.write_fixed(id.0.as_bytes())
    }
}

/// Ask every proxy of grant `grant_id` to re-encrypt interval `interval`'s wrapped key
/// (`wrapped`: the encoded capsule from the interval's key-index record, as
/// `cpchain_share_owner_wrap_interval_key` made it); then poll one `SEND_REQUEST` per proxy.
/// Asking again restarts the collection. Refusals: `CPCHAIN_RESULT_SHARE_UNKNOWN_GRANT`,
/// `..._INTERVAL_OUTSIDE_GRANT`, `..._GRANT_NOT_LIVE`, `..._CAPACITY_EXCEEDED`,
/// `CPCHAIN_RESULT_DECODE_*`.
///
/// # Safety
///
/// `g` a live handle; `grant_id` readable for `id_len` bytes, `wrapped` for `wrapped_len`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_share_grantee_request(
    g: *mut cpchain_share_grantee,
    now_ms: u64,
    grant_id: *const u8,
    id_len: usize,
    interval: u64,
    wrapped: *const u8,
    wrapped_len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let g = unsafe { handle(g) }?;
        // SAFETY: forwarded from this function's contract.
        let id = unsafe { self::grant_id(grant_id, id_len) }?;
        // SAFETY: forwarded from this function's contract.
        let wrapped: WrappedKey = encoding::decode(unsafe { input(wrapped, wrapped_len) }?)?;
        g.inner
            .lock()?
            .machine
            .request(Timestamp(now_ms), &id, interval, wrapped)?;
        Ok(())
    }
}

/// A proxy's signed cfrag response (`REPLY` bytes). Verified against the grant before it
/// counts: a bad one is a `FAULT` naming the proxy, an unattributable or stale one is
/// ignored; `READY` once `m` verified cfrags are held. Error codes only for undecodable
/// bytes and a full output queue.
///
/// # Safety
///
/// `g` a live handle; `bytes` readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn cpchain_share_grantee_handle_cfrag(
    g: *mut cpchain_share_grantee,
    now_ms: u64,
    bytes: *const u8,
    len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let g = unsafe { handle(g) }?;
        // SAFETY: forwarded from this function's contract.
        let response: CfragResponse = encoding::decode(unsafe { input(bytes, len) }?)?;
        g.inner.lock()?.machine.handle_cfrag(Timestamp(now_ms), response)?;
        Ok(())
    }
}

/// An unsigned cfrag (`UNSIGNED_REPLY` bytes of a proxy made with
/// `CPCHAIN_SHARE_REPLY_AUTH_TRANSPORT`) from `from` (`CPCHAIN_ADDRESS_LEN` bytes): the proxy
/// the host's *authenticated* transport says sent it. That address is all that ties the
/// cfrag to a proxy, so never take it from the message or an unauthenticated channel.
/// Checked as `cpchain_share_grantee_handle_cfrag`; faults name `from`.
///
/// # Safety
///
/// `g` a live handle; `from` readable for `from_len` bytes; `bytes` readable for `len`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_share_grantee_handle_unsigned_cfrag(
    g: *mut cpchain_share_grantee,
    now_ms: u64,
    from: *const u8,
    from_len: usize,
    bytes: *const u8,
    len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let g = unsafe { handle(g) }?;
        // SAFETY: forwarded from this function's contract.
        let from = Address(*unsafe { input_array::<CPCHAIN_ADDRESS_LEN>(from, from_len) }?);
        // SAFETY: forwarded from this function's contract.
        let body: CfragBody = encoding::decode(unsafe { input(bytes, len) }?)?;
        g.inner
            .lock()?
            .machine
            .handle_unsigned_cfrag(Timestamp(now_ms), from, body)?;
        Ok(())
    }
}

/// How many verified cfrags the grantee holds for (`grant_id`, `interval`).
///
/// # Safety
///
/// `g` a live handle; `grant_id` readable for `id_len` bytes; `count` writable.
#[no_mangle]
pub unsafe extern "C" fn cpchain_share_grantee_verified_cfrags(
    g: *const cpchain_share_grantee,
    grant_id: *const u8,
    id_len: usize,
    interval: u64,
    count: *mut usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let g = unsafe { handle(g) }?;
        // SAFETY: forwarded from this function's contract.
        let count = unsafe { OutPtr::new(count) }?;
        // SAFETY: forwarded from this function's contract.
        let id = unsafe { self::grant_id(grant_id, id_len) }?;
        count.set(g.inner.lock()?.machine.verified_cfrags(&id, interval));
        Ok(())
    }
}

/// Open interval `interval`'s 32-byte data key with the `m` verified cfrags held for grant
/// `grant_id`, into `key` (`CPCHAIN_DATA_KEY_LEN` bytes; handle it as a secret). It decrypts
/// that interval's blocks with `cpchain_chain_open_block`, and no other interval's.
/// Refusals: `CPCHAIN_RESULT_SHARE_NOT_ENOUGH_CFRAGS` (fewer than `m`), `..._UNKNOWN_GRANT`,
/// `..._NO_PENDING_REQUEST`, `..._INTERVAL_OUTSIDE_GRANT`, a `CPCHAIN_RESULT_*` crypto code
/// when the capsule does not open (a substituted capsule).
///
/// # Safety
///
/// `g` a live handle; `grant_id` readable for `id_len` bytes; `key` writable for `key_len`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_share_grantee_open(
    g: *const cpchain_share_grantee,
    grant_id: *const u8,
    id_len: usize,
    interval: u64,
    key: *mut u8,
    key_len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let g = unsafe { handle(g) }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutBuf::new(key, key_len) }?;
        if out.cap() < crate::CPCHAIN_DATA_KEY_LEN {
            return Err(cpchain_result::InsufficientSize);
        }
        // SAFETY: forwarded from this function's contract.
        let id = unsafe { self::grant_id(grant_id, id_len) }?;
        let opened = g.inner.lock()?.machine.open(&id, interval)?;
        out.write_fixed(opened.aead_key().expose_secret())
    }
}

fn grantee_polled(o: GranteeOutput) -> FfiResult<Polled> {
    use cpchain_share_output_kind as K;
    let mut info = NO_INFO;
    let (kind, bytes) = match o {
        GranteeOutput::SendRequest { to, request } => {
            info.peer = to.0;
            info.grant_id = request.grant.0 .0;
            info.interval = request.interval;
            (K::SendRequest, encoding::encode_to_vec(&*request)?)
        }
        GranteeOutput::Ready { grant, interval } => {
            info.grant_id = grant.0 .0;
            info.interval = interval;
            (K::Ready, Vec::new())
        }
        GranteeOutput::Expired { grant, interval } => {
            info.grant_id = grant.0 .0;
            info.interval = interval;
            (K::Expired, Vec::new())
        }
        GranteeOutput::Fault(f) => return fault_polled(f),
        _ => return Err(cpchain_result::ShareOther),
    };
    Ok(Polled { kind, bytes, info })
}

/// The grantee's next output; as `cpchain_share_owner_poll`.
///
/// # Safety
///
/// `g` a live handle; `buf` writable for `buf_len` bytes; `out_len`, `kind`, `info`
/// writable.
#[no_mangle]
pub unsafe extern "C" fn cpchain_share_grantee_poll(
    g: *mut cpchain_share_grantee,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
    kind: *mut cpchain_share_output_kind,
    info: *mut cpchain_share_output_info,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        match unsafe { handle(g) } {
            // SAFETY: forwarded from this function's contract.
            Ok(g) => unsafe {
                poll_machine(&g.inner, |m| m.poll_output().map(grantee_polled), buf, buf_len, out_len, kind, info)
            },
            Err(e) => {
                reset_outputs(kind, info);
                Err(e)
            }
        }
    }
}

/// The timer fired at `now_ms`: expire requests that waited longer than the grantee's
/// request timeout (30 s) or outlived their grant (each comes out as an `EXPIRED` output),
/// and forget expired grants.
///
/// # Safety
///
/// `g` a live handle.
#[no_mangle]
pub unsafe extern "C" fn cpchain_share_grantee_handle_timeout(
    g: *mut cpchain_share_grantee,
    now_ms: u64,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let g = unsafe { handle(g) }?;
        g.inner.lock()?.machine.handle_timeout(Timestamp(now_ms));
        Ok(())
    }
}

/// When to call `cpchain_share_grantee_handle_timeout` next: the earliest unanswered
/// request's deadline or grant expiry (`*has_deadline` false: none).
///
/// # Safety
///
/// `g` a live handle; `has_deadline` and `deadline_ms` writable.
#[no_mangle]
pub unsafe extern "C" fn cpchain_share_grantee_next_deadline(
    g: *const cpchain_share_grantee,
    has_deadline: *mut bool,
    deadline_ms: *mut u64,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let g = unsafe { handle(g) }?;
        let next = g.inner.lock()?.machine.next_deadline();
        // SAFETY: forwarded from this function's contract.
        unsafe { write_deadline(next, has_deadline, deadline_ms) }
    }
}
