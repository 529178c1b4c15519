//! The data layer's ledger (issue 15 item 1; white paper §2.2.1–2.2.3): data-chain anchors,
//! sharing grants and revocations, PDash market listings and an escrow of orders, as
//! transaction kinds of the node with deterministic state in its redb database.
//!
//! # Kinds ([`crate::tx::TxKind`] variants 4 and up)
//!
//! * **`RegisterStream { stream, device }`** — the sender becomes the stream's owner and
//!   `device` (a secp256k1 key, 33 bytes compressed) the only key whose anchors count.
//!   A device key that does not parse is `bad_device`. First come, first served
//!   (`stream_taken`): owners should name streams with
//!   `StreamId::derive(owner, name)`, which nobody else can claim first without knowing
//!   the name, and register before they publish the id. There is no re-registration or
//!   device rotation yet.
//! * **`Anchor(Anchor)`** — a device-signed `cpchain_storage::Anchor`. Anyone may submit
//!   it (a gateway's host pays the fee); it applies only for a registered stream
//!   (`unknown_stream`), under the registered device's signature (`bad_anchor`), and only
//!   if it extends the stored head: `last_index` strictly above the head's and `through`
//!   not before it (`stale_anchor`). A second anchor at an index already anchored is
//!   refused the same way, so the chain holds one head id per index: a fork of the data
//!   chain can not be anchored twice. (The chain does not see the blocks between two
//!   anchors; a reader checks the links of those against the anchored ids.)
//! * **`Grant { record }`** / **`Revoke { record }`** — the postcard encoding of a
//!   `sharing::SignedGrant` / `SignedRevoke` (bytes, so the wire form of the kind does not
//!   depend on the `pre` feature). With `pre`: the record must decode and verify for this
//!   chain (`bad_record`), be sent by its owner, for a stream that owner registered
//!   (`not_owner`, `unknown_stream`); grants are stored by grant id (`duplicate_grant`),
//!   a revocation only by the grant's owner (`unknown_grant`, `not_owner`,
//!   `already_revoked`). Without `pre`: `unsupported` (every validator of a data network
//!   runs with `pre`).
//! * **`Listing(SignedListing)`** — verified for this chain (`bad_listing`), sent by its
//!   seller (`not_seller`), for a stream the seller owns (`unknown_stream`, `not_owner`),
//!   stored by listing id (`duplicate_listing`).
//! * **`Order(OrderTx)`** — a buyer orders intervals `first..=last` of a listing
//!   (`unknown_listing`, `own_listing`, `bad_range`: inside the listing, at most
//!   [`MAX_ORDER_INTERVALS`]) for its Umbral receiving key, and locks
//!   `price × intervals` from its balance into the order (`insufficient_funds`). It names
//!   how long the seller has to deliver and how long it has to confirm after a delivery
//!   (`bad_window`: 1 ms ..= [`MAX_WINDOW_MS`]); both deadlines are block times. The
//!   order's id is [`order_id`]`(buyer, nonce)`, known before the order is sent.
//! * **`Deliver { order, grant }`** — the seller links a grant already on chain to the
//!   order (`not_owner`, `already_delivered`, `order_closed`, `delivery_late`,
//!   `unknown_grant`, `grant_revoked`); the grant must be the owner's, of the listing's
//!   stream, exactly the ordered intervals, to the order's receiving key, not expired and
//!   not linked to another order (`grant_mismatch`).
//! * **`Confirm { order }`** — the buyer releases the locked price to the seller
//!   (`not_buyer`, `not_delivered`, `already_confirmed`, `order_closed`).
//! * **`Dispute { order }`** — the buyer, after delivery and before release, refuses the
//!   delivery: the price returns to the buyer at once, and the dispute counts against the
//!   grant's proxies (below).
//!
//! Admission (API and gossip) runs the same checker as block execution against the
//! committed ledger at the head's block time ([`admit`]); it does not see pending
//! transactions, so a transaction that depends on another (a listing on its stream's
//! registration, a delivery on its grant) is sent once that one is committed.
//!
//! Timeouts run at the end of every block, against the block's timestamp (never a
//! node's clock): an order still undelivered at its delivery deadline is refunded; a
//! delivered order neither confirmed nor disputed by its confirm deadline is released to
//! the seller. A delivery is accepted while the block time is before the delivery
//! deadline; the timeout fires in the first block at or after it.
//!
//! # Deviations, with reasons
//!
//! * There is no arbiter on chain, so a dispute refunds the buyer (PDash's buyer
//!   protection when a delivery fails its check) and is recorded against the proxies'
//!   reputation; a dishonest buyer can get data for free only once per order and
//!   exposes itself on chain (`/order/{id}` shows the dispute).
//! * Prices are per interval: a listing's `price` times the intervals ordered.
//! * Data contribution counts anchored *blocks*: anchors commit to block indices, not to
//!   byte counts, so the chain has no authenticated size to count.
//!
//! # RPT inputs from this state ([`DataActivity`], stored per RNode and height in the
//!   DPoR state's activity window)
//!
//! * **Data contribution** (`data_uploaded`): blocks newly anchored in the window for the
//!   streams an address owns (`last_index − previous last_index`, or `last_index + 1` for
//!   a stream's first anchor); `data_bought`: orders of its listings released to it in
//!   the window (by confirmation or by timeout).
//! * **Proxy reputation** (`proxy_assists`): released orders whose delivered grant names
//!   the address as a proxy, minus disputed ones (not below 0), in the window.
//!
//! # State and bounds
//!
//! One redb table (`ledger`, bytes → bytes), keys prefixed by record type; a block's
//! changes are a [`LedgerOverlay`] written in the same redb transaction as the block
//! ([`crate::store::Store::put_block`]); iteration is in key order. Records are bounded by
//! the transaction size ([`crate::tx::MAX_TX_BYTES`], 1,792 bytes) and per kind:
//! anchor 185 bytes, stream 32 + 33, grant ≤ [`MAX_GRANT_BYTES`], revocation ≤
//! [`MAX_REVOKE_BYTES`], listing ≤ `SignedListing::MAX_ENCODED_LEN` (1,600), order 128.
//! Each stored record costs its sender a transaction fee beyond the free quota; the
//! state grows with the chain like its blocks do.

use crate::tx::TxKind;
#[cfg(feature = "pre")]
use cpchain_core::encoding;
use cpchain_core::{keccak256_concat, Address, Duration, Hash, Timestamp};
use cpchain_crypto::PublicKey;
use cpchain_storage::market::{ListingId, SignedListing};
use cpchain_storage::{Anchor, BlockId, StreamId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Largest signed grant record a `Grant` transaction carries (`SignedGrant`'s bound).
pub const MAX_GRANT_BYTES: usize = 1_103;
/// Largest signed revocation record a `Revoke` transaction carries.
pub const MAX_REVOKE_BYTES: usize = 150;
/// Most intervals one order covers (a grant covers at most 16).
pub const MAX_ORDER_INTERVALS: u64 = 16;
/// Longest delivery or confirmation window: 30 days.
pub const MAX_WINDOW_MS: u64 = 30 * 24 * 3_600_000;
/// Most listings one `GET /listings` page returns.
pub const LISTINGS_PAGE: usize = 100;
/// Most anchors one `anchors` read returns.
pub const ANCHORS_PAGE: usize = 256;

#[cfg(feature = "pre")]
const _: () = assert!(
    MAX_GRANT_BYTES
        >= <cpchain_storage::sharing::SignedGrant as cpchain_core::WireMessage>::MAX_ENCODED_LEN
);
#[cfg(feature = "pre")]
const _: () = assert!(
    MAX_REVOKE_BYTES
        >= <cpchain_storage::sharing::SignedRevoke as cpchain_core::WireMessage>::MAX_ENCODED_LEN
);

/// An order's identity: Keccak-256 of a domain, the buyer and the order's nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OrderId(pub Hash);

/// The id of the order `buyer` places with transaction nonce `nonce`: the buyer knows it
/// before sending the order.
pub fn order_id(buyer: &Address, nonce: u64) -> OrderId {
    OrderId(keccak256_concat(&[
        b"cpchain-node/order/v1\0",
        &buyer.0,
        &nonce.to_be_bytes(),
    ]))
}

/// Body of an `Order` transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderTx {
    /// The listing bought from.
    pub listing: ListingId,
    /// First interval ordered.
    pub first_interval: u64,
    /// Last interval ordered (inclusive).
    pub last_interval: u64,
    /// The buyer's Umbral receiving key (33 bytes compressed): the delivered grant must
    /// name it.
    #[serde(with = "cpchain_core::fixed_bytes")]
    pub grantee: [u8; 33],
    /// Milliseconds of block time the seller has to deliver.
    pub deliver_within_ms: u64,
    /// Milliseconds of block time the buyer has to confirm or dispute after delivery.
    pub confirm_within_ms: u64,
}

/// Why a data-ledger transaction does not apply; [`LedgerError::code`] is its stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// This node was built without the `pre` feature (grants, revocations).
    #[error("grants and revocations need a node built with feature `pre`")]
    Unsupported,
    /// A record over its kind's byte bound.
    #[error("record too large")]
    TooLarge,
    /// A stream registration whose device key is not a secp256k1 key.
    #[error("not a device key")]
    BadDevice,
    /// The stream is registered already.
    #[error("stream already registered")]
    StreamTaken,
    /// No such registered stream.
    #[error("unknown stream")]
    UnknownStream,
    /// The anchor is not signed by the stream's registered device.
    #[error("anchor not signed by the stream's device")]
    BadAnchor,
    /// The anchor does not extend the stream's anchored head.
    #[error("anchor does not extend the anchored head")]
    StaleAnchor,
    /// A grant or revocation record that does not decode or verify.
    #[error("record does not decode or verify")]
    BadRecord,
    /// The sender is not the owner the kind needs.
    #[error("not the owner")]
    NotOwner,
    /// A grant with this id is on chain already.
    #[error("grant already on chain")]
    DuplicateGrant,
    /// No such grant on chain.
    #[error("unknown grant")]
    UnknownGrant,
    /// The grant was revoked already.
    #[error("grant already revoked")]
    AlreadyRevoked,
    /// The grant is revoked.
    #[error("grant revoked")]
    GrantRevoked,
    /// The listing does not verify.
    #[error("listing does not verify")]
    BadListing,
    /// The listing's seller did not send it.
    #[error("not the listing's seller")]
    NotSeller,
    /// The listing is on chain already.
    #[error("listing already on chain")]
    DuplicateListing,
    /// No such listing.
    #[error("unknown listing")]
    UnknownListing,
    /// A seller ordering from its own listing.
    #[error("own listing")]
    OwnListing,
    /// Intervals outside the listing, empty, or too many.
    #[error("bad interval range")]
    BadRange,
    /// A delivery or confirmation window of 0 or over the bound.
    #[error("bad window")]
    BadWindow,
    /// No such order.
    #[error("unknown order")]
    UnknownOrder,
    /// The sender is not the order's buyer.
    #[error("not the buyer")]
    NotBuyer,
    /// The order is not delivered yet.
    #[error("not delivered")]
    NotDelivered,
    /// The order is delivered already.
    #[error("already delivered")]
    AlreadyDelivered,
    /// The order is confirmed already.
    #[error("already confirmed")]
    AlreadyConfirmed,
    /// The order is closed (refunded, released by timeout, or disputed).
    #[error("order closed")]
    OrderClosed,
    /// The delivery deadline has passed.
    #[error("delivery deadline passed")]
    DeliveryLate,
    /// The grant does not match the order.
    #[error("grant does not match the order")]
    GrantMismatch,
    /// The database could not be read.
    #[error("storage")]
    Storage,
}

impl LedgerError {
    /// The stable code of the HTTP API.
    pub fn code(&self) -> &'static str {
        match self {
            LedgerError::Unsupported => "unsupported",
            LedgerError::TooLarge => "too_large",
            LedgerError::BadDevice => "bad_device",
            LedgerError::StreamTaken => "stream_taken",
            LedgerError::UnknownStream => "unknown_stream",
            LedgerError::BadAnchor => "bad_anchor",
            LedgerError::StaleAnchor => "stale_anchor",
            LedgerError::BadRecord => "bad_record",
            LedgerError::NotOwner => "not_owner",
            LedgerError::DuplicateGrant => "duplicate_grant",
            LedgerError::UnknownGrant => "unknown_grant",
            LedgerError::AlreadyRevoked => "already_revoked",
            LedgerError::GrantRevoked => "grant_revoked",
            LedgerError::BadListing => "bad_listing",
            LedgerError::NotSeller => "not_seller",
            LedgerError::DuplicateListing => "duplicate_listing",
            LedgerError::UnknownListing => "unknown_listing",
            LedgerError::OwnListing => "own_listing",
            LedgerError::BadRange => "bad_range",
            LedgerError::BadWindow => "bad_window",
            LedgerError::UnknownOrder => "unknown_order",
            LedgerError::NotBuyer => "not_buyer",
            LedgerError::NotDelivered => "not_delivered",
            LedgerError::AlreadyDelivered => "already_delivered",
            LedgerError::AlreadyConfirmed => "already_confirmed",
            LedgerError::OrderClosed => "order_closed",
            LedgerError::DeliveryLate => "delivery_late",
            LedgerError::GrantMismatch => "grant_mismatch",
            LedgerError::Storage => "storage",
        }
    }
}

/// The anchored head of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchoredHead {
    /// Index of the head block.
    pub last_index: u64,
    /// Id of the head block.
    pub head: BlockId,
    /// The anchor's upload boundary.
    pub through: Timestamp,
}

/// A registered stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamRecord {
    /// Who registered it (its data contribution counts for this address).
    pub owner: Address,
    /// The device key whose anchors count.
    pub device: PublicKey,
    /// Block time of the registration.
    pub registered_at: Timestamp,
    /// The newest anchor, if any.
    pub head: Option<AnchoredHead>,
}

/// One anchor on chain (keyed by stream and `last_index`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchorRecord {
    /// The anchor as the device signed it.
    pub anchor: Anchor,
    /// Block time it was recorded at.
    pub recorded_at: Timestamp,
}

/// A listing on chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingRecord {
    /// The signed listing.
    pub listing: SignedListing,
    /// Block time it was recorded at.
    pub recorded_at: Timestamp,
}

/// A grant on chain, keyed by grant id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecord {
    /// The signed grant's encoding (`sharing::SignedGrant`), as sent.
    #[serde(with = "cpchain_core::encoding::bytes")]
    pub bytes: Vec<u8>,
    /// The owner who signed it.
    pub owner: Address,
    /// Its stream.
    pub stream: StreamId,
    /// First granted interval.
    pub first_interval: u64,
    /// Last granted interval.
    pub last_interval: u64,
    /// The grantee's Umbral key (compressed).
    #[serde(with = "cpchain_core::fixed_bytes")]
    pub grantee: [u8; 33],
    /// Its proxies.
    pub proxies: Vec<Address>,
    /// When proxies stop serving it.
    pub expires_at: Timestamp,
    /// Block time of its revocation, if revoked.
    pub revoked_at: Option<Timestamp>,
    /// The order it delivered, if any.
    pub order: Option<OrderId>,
}

impl GrantRecord {
    /// Whether proxies may serve it at block time `now`: not revoked, not expired.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderState {
    /// Paid into escrow, waiting for the seller's grant.
    Placed,
    /// The seller delivered `grant` at `at`; release at `confirm_deadline` unless disputed.
    Delivered {
        /// The delivered grant's id.
        grant: Hash,
        /// Block time of the delivery.
        at: Timestamp,
        /// When the payment is released without a confirmation.
        confirm_deadline: Timestamp,
    },
    /// The buyer confirmed: paid to the seller.
    Confirmed {
        /// The delivered grant.
        grant: Hash,
        /// Block time.
        at: Timestamp,
    },
    /// Released to the seller by the confirm timeout.
    Released {
        /// The delivered grant.
        grant: Hash,
        /// Block time.
        at: Timestamp,
    },
    /// The buyer disputed the delivery: refunded.
    Disputed {
        /// The delivered grant.
        grant: Hash,
        /// Block time.
        at: Timestamp,
    },
    /// Not delivered in time: refunded.
    Refunded {
        /// Block time.
        at: Timestamp,
    },
}

impl OrderState {
    /// Stable name for the API.
    pub fn name(&self) -> &'static str {
        match self {
            OrderState::Placed => "placed",
            OrderState::Delivered { .. } => "delivered",
            OrderState::Confirmed { .. } => "confirmed",
            OrderState::Released { .. } => "released",
            OrderState::Disputed { .. } => "disputed",
            OrderState::Refunded { .. } => "refunded",
        }
    }
}

/// An order in escrow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRecord {
    /// Who pays.
    pub buyer: Address,
    /// Who is paid (the listing's seller).
    pub seller: Address,
    /// The listing.
    pub listing: ListingId,
    /// The listing's stream.
    pub stream: StreamId,
    /// First interval ordered.
    pub first_interval: u64,
    /// Last interval ordered.
    pub last_interval: u64,
    /// The buyer's Umbral receiving key.
    #[serde(with = "cpchain_core::fixed_bytes")]
    pub grantee: [u8; 33],
    /// Base units locked.
    pub price: u128,
    /// Block time it was placed at.
    pub placed_at: Timestamp,
    /// Refund if not delivered by then.
    pub delivery_deadline: Timestamp,
    /// Confirmation window after delivery, ms.
    pub confirm_within_ms: u64,
    /// Where it stands.
    pub state: OrderState,
}

/// One address's data-layer activity in one block: the RPT inputs of this ledger.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataActivity {
    /// Blocks newly anchored for streams it owns.
    pub uploaded: u64,
    /// Orders of its listings released to it.
    pub bought: u64,
    /// Released orders whose grant names it as a proxy.
    pub proxy_confirmed: u64,
    /// Disputed orders whose grant names it as a proxy.
    pub proxy_disputed: u64,
}

impl DataActivity {
    fn add(&mut self, o: &DataActivity) {
        self.uploaded = self.uploaded.saturating_add(o.uploaded);
        self.bought = self.bought.saturating_add(o.bought);
        self.proxy_confirmed = self.proxy_confirmed.saturating_add(o.proxy_confirmed);
        self.proxy_disputed = self.proxy_disputed.saturating_add(o.proxy_disputed);
    }
}

/// Key-value rows of the ledger table, in key order.
pub type Rows = Vec<(Vec<u8>, Vec<u8>)>;

/// Read access to the stored ledger table (the node's [`crate::store::Store`], or a map in
/// tests).
pub trait LedgerRead {
    /// The value at `key`. `Err` only when the database cannot be read.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, LedgerError>;
    /// Entries with `from <= key < to`, in key order, at most `limit`.
    fn scan(&self, from: &[u8], to: &[u8], limit: usize) -> Result<Rows, LedgerError>;
}

/// An empty ledger (genesis, and where no database is at hand).
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptyLedger;

impl LedgerRead for EmptyLedger {
    fn get(&self, _: &[u8]) -> Result<Option<Vec<u8>>, LedgerError> {
        Ok(None)
    }
    fn scan(&self, _: &[u8], _: &[u8], _: usize) -> Result<Rows, LedgerError> {
        Ok(Vec::new())
    }
}

impl LedgerRead for BTreeMap<Vec<u8>, Vec<u8>> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, LedgerError> {
        Ok(BTreeMap::get(self, key).cloned())
    }
    fn scan(&self, from: &[u8], to: &[u8], limit: usize) -> Result<Rows, LedgerError> {
        Ok(self
            .range(from.to_vec()..to.to_vec())
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}

const P_STREAM: u8 = b'S';
const P_ANCHOR: u8 = b'A';
const P_LISTING: u8 = b'L';
const P_ORDER: u8 = b'O';
const P_GRANT: u8 = b'G';
const P_DEADLINE: u8 = b'D';

fn key(prefix: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut k = vec![prefix];
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

fn stream_key(s: &StreamId) -> Vec<u8> {
    key(P_STREAM, &[&s.0])
}
fn anchor_key(s: &StreamId, index: u64) -> Vec<u8> {
    key(P_ANCHOR, &[&s.0, &index.to_be_bytes()])
}
fn listing_key(id: &ListingId) -> Vec<u8> {
    key(P_LISTING, &[&id.0 .0])
}
fn order_key(id: &OrderId) -> Vec<u8> {
    key(P_ORDER, &[&id.0 .0])
}
fn grant_key(id: &Hash) -> Vec<u8> {
    key(P_GRANT, &[&id.0])
}
fn deadline_key(at: Timestamp, id: &OrderId) -> Vec<u8> {
    key(P_DEADLINE, &[&at.0.to_be_bytes(), &id.0 .0])
}

fn enc<T: Serialize>(v: &T) -> Vec<u8> {
    // Our own records always encode (no maps with non-string keys, no bounds).
    postcard::to_allocvec(v).unwrap_or_default()
}

fn dec<T: for<'de> Deserialize<'de>>(bytes: Option<Vec<u8>>) -> Result<Option<T>, LedgerError> {
    match bytes {
        None => Ok(None),
        Some(b) => postcard::from_bytes(&b)
            .map(Some)
            .map_err(|_| LedgerError::Storage),
    }
}

/// Typed reads over any [`LedgerRead`]: the read API the proxy, the buyer and the HTTP
/// API use (`store.ledger()` for the committed state).
#[derive(Debug, Clone, Copy)]
pub struct DataLedger<'a, R: LedgerRead + ?Sized> {
    view: &'a R,
}

impl<'a, R: LedgerRead + ?Sized> DataLedger<'a, R> {
    /// Typed reads over `view`.
    pub fn new(view: &'a R) -> Self {
        DataLedger { view }
    }

    /// A registered stream with its anchored head.
    pub fn stream(&self, id: &StreamId) -> Result<Option<StreamRecord>, LedgerError> {
        dec(self.view.get(&stream_key(id))?)
    }

    /// The anchor of `stream` at block index `index`, if one was anchored there.
    pub fn anchor(
        &self,
        stream: &StreamId,
        index: u64,
    ) -> Result<Option<AnchorRecord>, LedgerError> {
        dec(self.view.get(&anchor_key(stream, index))?)
    }

    /// The anchors of `stream` from block index `from` on, in index order, at most
    /// [`ANCHORS_PAGE`].
    pub fn anchors(&self, stream: &StreamId, from: u64) -> Result<Vec<AnchorRecord>, LedgerError> {
        let rows = self.view.scan(
            &anchor_key(stream, from),
            &key(P_ANCHOR, &[&stream.0, &[0xff; 9]]),
            ANCHORS_PAGE,
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for (_, v) in rows {
            if let Some(r) = dec(Some(v))? {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// A listing on chain.
    pub fn listing(&self, id: &ListingId) -> Result<Option<ListingRecord>, LedgerError> {
        dec(self.view.get(&listing_key(id))?)
    }

    /// Listings in id order after `after` (from the first if `None`), at most
    /// [`LISTINGS_PAGE`].
    pub fn listings(
        &self,
        after: Option<&ListingId>,
    ) -> Result<Vec<(ListingId, ListingRecord)>, LedgerError> {
        let from = match after {
            Some(id) => {
                let mut k = listing_key(id);
                k.push(0);
                k
            }
            None => vec![P_LISTING],
        };
        let rows = self.view.scan(&from, &[P_LISTING + 1], LISTINGS_PAGE)?;
        let mut out = Vec::with_capacity(rows.len());
        for (k, v) in rows {
            let mut id = [0u8; 32];
            for (d, s) in id.iter_mut().zip(k.iter().skip(1)) {
                *d = *s;
            }
            if let Some(r) = dec::<ListingRecord>(Some(v))? {
                out.push((ListingId(Hash(id)), r));
            }
        }
        Ok(out)
    }

    /// An order.
    pub fn order(&self, id: &OrderId) -> Result<Option<OrderRecord>, LedgerError> {
        dec(self.view.get(&order_key(id))?)
    }

    /// A grant on chain (its signed bytes, revocation and expiry).
    pub fn grant(&self, id: &Hash) -> Result<Option<GrantRecord>, LedgerError> {
        dec(self.view.get(&grant_key(id))?)
    }
}

/// A block's changes to the ledger on top of the stored table, with the block's data
/// activity (RPT inputs); written in the block's redb transaction.
#[derive(Debug, Clone, Default)]
pub struct LedgerOverlay {
    /// Written (`Some`) and deleted (`None`) keys.
    pub writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Data activity of this block by address.
    pub activity: BTreeMap<Address, DataActivity>,
}

/// The overlay seen through: the block's writes over the stored table.
struct Layered<'a> {
    over: &'a LedgerOverlay,
    base: &'a dyn LedgerRead,
}

impl LedgerRead for Layered<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, LedgerError> {
        match self.over.writes.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.base.get(key),
        }
    }
    fn scan(&self, from: &[u8], to: &[u8], limit: usize) -> Result<Rows, LedgerError> {
        let extra = self
            .over
            .writes
            .range(from.to_vec()..to.to_vec())
            .filter(|(_, v)| v.is_none())
            .count();
        let mut m: BTreeMap<Vec<u8>, Vec<u8>> = self
            .base
            .scan(from, to, limit.saturating_add(extra))?
            .into_iter()
            .collect();
        for (k, v) in self.over.writes.range(from.to_vec()..to.to_vec()) {
            match v {
                Some(v) => {
                    m.insert(k.clone(), v.clone());
                }
                None => {
                    m.remove(k);
                }
            }
        }
        Ok(m.into_iter().take(limit).collect())
    }
}

/// What a checked ledger transaction does, computed before anything is written: the
/// state is unchanged unless [`LedgerOverlay::apply`] is called.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    writes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// Base units moved from the sender's balance (an order's price).
    pub lock: u128,
    /// Base units paid out of escrow.
    pub credits: Vec<(Address, u128)>,
    activity: Vec<(Address, DataActivity)>,
}

/// Where a ledger transaction is judged.
#[derive(Debug, Clone, Copy)]
pub struct LedgerCtx {
    /// Chain id records must be signed for.
    pub chain_id: u64,
    /// Block time.
    pub time: Timestamp,
    /// The sender.
    pub sender: Address,
    /// The transaction's nonce (an order's id).
    pub nonce: u64,
}

impl LedgerOverlay {
    /// The ledger as this block sees it: its writes over `base`.
    pub fn reader<'a>(&'a self, base: &'a dyn LedgerRead) -> impl LedgerRead + 'a {
        Layered { over: self, base }
    }

    /// Check a data-ledger kind against the stored state `base` plus this block's writes:
    /// the one checker of API admission and block execution. `Ok(None)` for kinds that
    /// are not the ledger's.
    pub fn plan(
        &self,
        base: &dyn LedgerRead,
        ctx: &LedgerCtx,
        kind: &TxKind,
    ) -> Result<Option<Plan>, LedgerError> {
        let view = Layered { over: self, base };
        plan_kind(&view, ctx, kind)
    }

    /// Apply a plan made by [`LedgerOverlay::plan`] on this overlay (no other write in
    /// between); returns the escrow payouts for the caller to credit.
    pub fn apply(&mut self, plan: Plan) -> Vec<(Address, u128)> {
        for (k, v) in plan.writes {
            self.writes.insert(k, v);
        }
        for (a, act) in plan.activity {
            self.activity.entry(a).or_default().add(&act);
        }
        plan.credits
    }

    /// The timeouts of the block at block time `time`: refund orders undelivered at their
    /// delivery deadline, release delivered ones unconfirmed at their confirm deadline.
    /// Returns the payouts (in deadline order) for the caller to credit.
    pub fn end_block(
        &mut self,
        base: &dyn LedgerRead,
        time: Timestamp,
    ) -> Result<Vec<(Address, u128)>, LedgerError> {
        let due = {
            let view = Layered { over: self, base };
            let to = deadline_key(Timestamp(time.0.saturating_add(1)), &OrderId(Hash([0; 32])));
            view.scan(&[P_DEADLINE], &to, usize::MAX)?
        };
        let mut payouts = Vec::new();
        for (k, _) in due {
            let mut id = [0u8; 32];
            for (d, s) in id.iter_mut().zip(k.iter().skip(9)) {
                *d = *s;
            }
            let id = OrderId(Hash(id));
            self.writes.insert(k, None);
            let view = Layered { over: self, base };
            let Some(mut o) = DataLedger::new(&view).order(&id)? else {
                continue;
            };
            let plan = match o.state {
                OrderState::Placed if time >= o.delivery_deadline => {
                    o.state = OrderState::Refunded { at: time };
                    Plan {
                        credits: vec![(o.buyer, o.price)],
                        ..Plan::default()
                    }
                }
                OrderState::Delivered {
                    grant,
                    confirm_deadline,
                    ..
                } if time >= confirm_deadline => {
                    o.state = OrderState::Released { grant, at: time };
                    release(&view, &o, grant)?
                }
                _ => continue,
            };
            let mut plan = plan;
            plan.writes.push((order_key(&id), Some(enc(&o))));
            payouts.extend(self.apply(plan));
        }
        Ok(payouts)
    }
}

/// Pay the seller and credit the seller's sale and the grant's proxies.
fn release(view: &dyn LedgerRead, o: &OrderRecord, grant: Hash) -> Result<Plan, LedgerError> {
    let mut plan = Plan {
        credits: vec![(o.seller, o.price)],
        ..Plan::default()
    };
    plan.activity.push((
        o.seller,
        DataActivity {
            bought: 1,
            ..DataActivity::default()
        },
    ));
    if let Some(g) = DataLedger::new(view).grant(&grant)? {
        for p in g.proxies {
            plan.activity.push((
                p,
                DataActivity {
                    proxy_confirmed: 1,
                    ..DataActivity::default()
                },
            ));
        }
    }
    Ok(plan)
}

fn owned_stream(
    view: &dyn LedgerRead,
    stream: &StreamId,
    owner: &Address,
) -> Result<StreamRecord, LedgerError> {
    let s = DataLedger::new(view)
        .stream(stream)?
        .ok_or(LedgerError::UnknownStream)?;
    if s.owner != *owner {
        return Err(LedgerError::NotOwner);
    }
    Ok(s)
}

fn plan_kind(
    view: &dyn LedgerRead,
    ctx: &LedgerCtx,
    kind: &TxKind,
) -> Result<Option<Plan>, LedgerError> {
    let ledger = DataLedger::new(view);
    let mut plan = Plan::default();
    match kind {
        TxKind::RegisterStream { stream, device } => {
            if ledger.stream(stream)?.is_some() {
                return Err(LedgerError::StreamTaken);
            }
            let device = PublicKey::from_sec1_bytes(device).map_err(|_| LedgerError::BadDevice)?;
            let rec = StreamRecord {
                owner: ctx.sender,
                device,
                registered_at: ctx.time,
                head: None,
            };
            plan.writes.push((stream_key(stream), Some(enc(&rec))));
        }
        TxKind::Anchor(a) => {
            let mut s = ledger
                .stream(&a.stream)?
                .ok_or(LedgerError::UnknownStream)?;
            a.verify(&s.device).map_err(|_| LedgerError::BadAnchor)?;
            let new_blocks = match s.head {
                Some(h) if a.last_index <= h.last_index || a.through < h.through => {
                    return Err(LedgerError::StaleAnchor)
                }
                Some(h) => a.last_index.saturating_sub(h.last_index),
                None => a.last_index.saturating_add(1),
            };
            s.head = Some(AnchoredHead {
                last_index: a.last_index,
                head: a.head,
                through: a.through,
            });
            plan.writes.push((stream_key(&a.stream), Some(enc(&s))));
            let rec = AnchorRecord {
                anchor: **a,
                recorded_at: ctx.time,
            };
            plan.writes
                .push((anchor_key(&a.stream, a.last_index), Some(enc(&rec))));
            plan.activity.push((
                s.owner,
                DataActivity {
                    uploaded: new_blocks,
                    ..DataActivity::default()
                },
            ));
        }
        TxKind::Grant { record } => {
            if record.len() > MAX_GRANT_BYTES {
                return Err(LedgerError::TooLarge);
            }
            let (id, rec) = grant_record(record, ctx.chain_id)?;
            if rec.owner != ctx.sender {
                return Err(LedgerError::NotOwner);
            }
            owned_stream(view, &rec.stream, &rec.owner)?;
            if ledger.grant(&id)?.is_some() {
                return Err(LedgerError::DuplicateGrant);
            }
            plan.writes.push((grant_key(&id), Some(enc(&rec))));
        }
        TxKind::Revoke { record } => {
            if record.len() > MAX_REVOKE_BYTES {
                return Err(LedgerError::TooLarge);
            }
            let (grant, owner) = revoke_record(record, ctx.chain_id)?;
            let mut g = ledger.grant(&grant)?.ok_or(LedgerError::UnknownGrant)?;
            if owner != g.owner || ctx.sender != g.owner {
                return Err(LedgerError::NotOwner);
            }
            if g.revoked_at.is_some() {
                return Err(LedgerError::AlreadyRevoked);
            }
            g.revoked_at = Some(ctx.time);
            plan.writes.push((grant_key(&grant), Some(enc(&g))));
        }
        TxKind::Listing(l) => {
            let id = l
                .verify(ctx.chain_id)
                .map_err(|_| LedgerError::BadListing)?;
            if l.body.seller != ctx.sender {
                return Err(LedgerError::NotSeller);
            }
            owned_stream(view, &l.body.stream, &l.body.seller)?;
            if ledger.listing(&id)?.is_some() {
                return Err(LedgerError::DuplicateListing);
            }
            let rec = ListingRecord {
                listing: (**l).clone(),
                recorded_at: ctx.time,
            };
            plan.writes.push((listing_key(&id), Some(enc(&rec))));
        }
        TxKind::Order(o) => {
            let l = ledger
                .listing(&o.listing)?
                .ok_or(LedgerError::UnknownListing)?
                .listing
                .body;
            if l.seller == ctx.sender {
                return Err(LedgerError::OwnListing);
            }
            let count = o
                .last_interval
                .checked_sub(o.first_interval)
                .and_then(|d| d.checked_add(1))
                .ok_or(LedgerError::BadRange)?;
            if o.first_interval < l.first_interval
                || o.last_interval > l.last_interval
                || count > MAX_ORDER_INTERVALS
            {
                return Err(LedgerError::BadRange);
            }
            let window = 1..=MAX_WINDOW_MS;
            if !window.contains(&o.deliver_within_ms) || !window.contains(&o.confirm_within_ms) {
                return Err(LedgerError::BadWindow);
            }
            let price = l
                .price
                .checked_mul(u128::from(count))
                .ok_or(LedgerError::BadRange)?;
            let id = order_id(&ctx.sender, ctx.nonce);
            if ledger.order(&id)?.is_some() {
                // Only with a nonce used twice, which the nonce check refuses first.
                return Err(LedgerError::UnknownOrder);
            }
            let deadline = ctx
                .time
                .saturating_add(Duration::from_millis(o.deliver_within_ms));
            let rec = OrderRecord {
                buyer: ctx.sender,
                seller: l.seller,
                listing: o.listing,
                stream: l.stream,
                first_interval: o.first_interval,
                last_interval: o.last_interval,
                grantee: o.grantee,
                price,
                placed_at: ctx.time,
                delivery_deadline: deadline,
                confirm_within_ms: o.confirm_within_ms,
                state: OrderState::Placed,
            };
            plan.lock = price;
            plan.writes.push((order_key(&id), Some(enc(&rec))));
            plan.writes
                .push((deadline_key(deadline, &id), Some(Vec::new())));
        }
        TxKind::Deliver { order, grant } => {
            let mut o = ledger.order(order)?.ok_or(LedgerError::UnknownOrder)?;
            if o.seller != ctx.sender {
                return Err(LedgerError::NotOwner);
            }
            match o.state {
                OrderState::Placed => {}
                OrderState::Delivered { .. } | OrderState::Confirmed { .. } => {
                    return Err(LedgerError::AlreadyDelivered)
                }
                _ => return Err(LedgerError::OrderClosed),
            }
            if ctx.time >= o.delivery_deadline {
                return Err(LedgerError::DeliveryLate);
            }
            let mut g = ledger.grant(grant)?.ok_or(LedgerError::UnknownGrant)?;
            if g.revoked_at.is_some() {
                return Err(LedgerError::GrantRevoked);
            }
            if g.owner != o.seller
                || g.stream != o.stream
                || g.first_interval != o.first_interval
                || g.last_interval != o.last_interval
                || g.grantee != o.grantee
                || g.order.is_some()
                || ctx.time >= g.expires_at
            {
                return Err(LedgerError::GrantMismatch);
            }
            let confirm_deadline = ctx
                .time
                .saturating_add(Duration::from_millis(o.confirm_within_ms));
            plan.writes
                .push((deadline_key(o.delivery_deadline, order), None));
            plan.writes
                .push((deadline_key(confirm_deadline, order), Some(Vec::new())));
            o.state = OrderState::Delivered {
                grant: *grant,
                at: ctx.time,
                confirm_deadline,
            };
            g.order = Some(*order);
            plan.writes.push((order_key(order), Some(enc(&o))));
            plan.writes.push((grant_key(grant), Some(enc(&g))));
        }
        TxKind::Confirm { order } | TxKind::Dispute { order } => {
            let mut o = ledger.order(order)?.ok_or(LedgerError::UnknownOrder)?;
            if o.buyer != ctx.sender {
                return Err(LedgerError::NotBuyer);
            }
            let (grant, deadline) = match o.state {
                OrderState::Delivered {
                    grant,
                    confirm_deadline,
                    ..
                } => (grant, confirm_deadline),
                OrderState::Placed => return Err(LedgerError::NotDelivered),
                OrderState::Confirmed { .. } => return Err(LedgerError::AlreadyConfirmed),
                _ => return Err(LedgerError::OrderClosed),
            };
            plan.writes.push((deadline_key(deadline, order), None));
            if matches!(kind, TxKind::Confirm { .. }) {
                o.state = OrderState::Confirmed {
                    grant,
                    at: ctx.time,
                };
                let paid = release(view, &o, grant)?;
                plan.credits = paid.credits;
                plan.activity = paid.activity;
            } else {
                o.state = OrderState::Disputed {
                    grant,
                    at: ctx.time,
                };
                plan.credits = vec![(o.buyer, o.price)];
                if let Some(g) = ledger.grant(&grant)? {
                    for p in g.proxies {
                        plan.activity.push((
                            p,
                            DataActivity {
                                proxy_disputed: 1,
                                ..DataActivity::default()
                            },
                        ));
                    }
                }
            }
            plan.writes.push((order_key(order), Some(enc(&o))));
        }
        _ => return Ok(None),
    }
    Ok(Some(plan))
}

/// Decode and verify a signed grant for `chain_id`: its id and the record to store.
#[cfg(feature = "pre")]
pub fn grant_record(bytes: &[u8], chain_id: u64) -> Result<(Hash, GrantRecord), LedgerError> {
    use cpchain_storage::sharing::SignedGrant;
    let g: SignedGrant = encoding::decode(bytes).map_err(|_| LedgerError::BadRecord)?;
    let id = g.verify(chain_id).map_err(|_| LedgerError::BadRecord)?;
    let b = &g.body;
    Ok((
        id.0,
        GrantRecord {
            bytes: bytes.to_vec(),
            owner: b.owner,
            stream: b.stream,
            first_interval: b.first_interval,
            last_interval: b.last_interval,
            grantee: b.grantee.to_compressed(),
            proxies: b.proxies.iter().copied().collect(),
            expires_at: b.expires_at,
            revoked_at: None,
            order: None,
        },
    ))
}

/// Without `pre` a grant cannot be checked: `unsupported`.
#[cfg(not(feature = "pre"))]
pub fn grant_record(_bytes: &[u8], _chain_id: u64) -> Result<(Hash, GrantRecord), LedgerError> {
    Err(LedgerError::Unsupported)
}

/// Decode and verify a signed revocation for `chain_id`: the grant it revokes and its
/// signer (the owner it names).
#[cfg(feature = "pre")]
pub fn revoke_record(bytes: &[u8], chain_id: u64) -> Result<(Hash, Address), LedgerError> {
    use cpchain_storage::sharing::SignedRevoke;
    let r: SignedRevoke = encoding::decode(bytes).map_err(|_| LedgerError::BadRecord)?;
    r.verify(chain_id).map_err(|_| LedgerError::BadRecord)?;
    Ok((r.body.grant.0, r.body.owner))
}

/// Without `pre` a revocation cannot be checked: `unsupported`.
#[cfg(not(feature = "pre"))]
pub fn revoke_record(_bytes: &[u8], _chain_id: u64) -> Result<(Hash, Address), LedgerError> {
    Err(LedgerError::Unsupported)
}

/// Whether `kind` is one of this ledger's (so admission runs [`admit`]).
pub fn is_ledger_kind(kind: &TxKind) -> bool {
    matches!(
        kind,
        TxKind::RegisterStream { .. }
            | TxKind::Anchor(_)
            | TxKind::Grant { .. }
            | TxKind::Revoke { .. }
            | TxKind::Listing(_)
            | TxKind::Order(_)
            | TxKind::Deliver { .. }
            | TxKind::Confirm { .. }
            | TxKind::Dispute { .. }
    )
}

/// Admission of a data-ledger transaction (API and gossip): the same checker as block
/// execution ([`LedgerOverlay::plan`]) against the committed ledger at the head's block
/// time `now`, and the sender's balance covering what it locks. Pending transactions are
/// not taken into account (a block judges them in order).
pub fn admit(
    base: &dyn LedgerRead,
    chain_id: u64,
    now: Timestamp,
    c: &crate::tx::Checked,
    load: &impl Fn(&Address) -> crate::tx::Account,
) -> Result<(), crate::tx::TxError> {
    let ctx = LedgerCtx {
        chain_id,
        time: now,
        sender: c.sender,
        nonce: c.tx.body.nonce,
    };
    let plan = LedgerOverlay::default().plan(base, &ctx, &c.tx.body.kind)?;
    if plan.is_some_and(|p| load(&c.sender).balance < p.lock) {
        return Err(crate::tx::TxError::InsufficientFunds);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tx::{check_one, Account, ChainView, Overlay, Transaction, TxBody, TxError};
    use cpchain_core::{ChainSpec, Height};
    use cpchain_crypto::SecretKey;
    use cpchain_storage::market::Listing;

    fn key(b: u8) -> SecretKey {
        SecretKey::from_bytes(&[b; 32]).expect("valid scalar")
    }

    const STREAM: StreamId = StreamId([0x44; 32]);
    const PRICE: u128 = 1_000;

    /// A chain in memory: the committed ledger table and accounts; each `block` applies
    /// its transactions one by one (recording each result), runs the timeouts and commits.
    struct Chain {
        spec: ChainSpec,
        table: BTreeMap<Vec<u8>, Vec<u8>>,
        accounts: BTreeMap<Address, Account>,
        nonces: BTreeMap<Address, u64>,
        activity: BTreeMap<Address, DataActivity>,
    }

    impl Chain {
        fn new(funded: &[Address]) -> Chain {
            let mut spec = ChainSpec::devnet();
            spec.free_tx_per_day = 1_000_000;
            let accounts = funded
                .iter()
                .map(|a| {
                    (
                        *a,
                        Account {
                            balance: 1_000_000,
                            ..Account::default()
                        },
                    )
                })
                .collect();
            Chain {
                spec,
                table: BTreeMap::new(),
                accounts,
                nonces: BTreeMap::new(),
                activity: BTreeMap::new(),
            }
        }

        fn tx(&mut self, k: &SecretKey, kind: TxKind) -> Vec<u8> {
            let me = k.public_key().address();
            let n = self.nonces.entry(me).or_insert(0);
            let nonce = *n;
            *n += 1;
            Transaction::sign(
                k,
                TxBody {
                    chain_id: self.spec.chain_id,
                    nonce,
                    kind,
                },
            )
            .to_bytes()
        }

        fn balance(&self, a: &Address) -> u128 {
            self.accounts.get(a).map_or(0, |x| x.balance)
        }

        /// Apply `txs` at block time `t`; one result per transaction (a refused one gives
        /// its nonce back, as if it had never been sent).
        fn block(&mut self, t: u64, txs: Vec<Vec<u8>>) -> Vec<Result<(), TxError>> {
            let accounts = self.accounts.clone();
            let load = move |a: &Address| accounts.get(a).copied().unwrap_or_default();
            let mut o = Overlay::default();
            let none = |_: Height| None;
            let chain = ChainView {
                height: Height(1),
                canonical: &none,
                ledger: &self.table,
            };
            let mut out = Vec::new();
            for b in txs {
                let c = check_one(&b, self.spec.chain_id).expect("valid envelope");
                let r = o.apply_in(
                    &self.spec,
                    &c,
                    Timestamp(t),
                    Address([0; 20]),
                    &load,
                    &chain,
                );
                if r.is_err() {
                    *self.nonces.entry(c.sender).or_insert(1) -= 1;
                }
                out.push(r);
            }
            let payouts = o
                .ledger
                .end_block(&self.table, Timestamp(t))
                .expect("timeouts");
            o.credit(&payouts, &load);
            for (k, v) in o.ledger.writes {
                match v {
                    Some(v) => self.table.insert(k, v),
                    None => self.table.remove(&k),
                };
            }
            for (a, act) in o.ledger.activity {
                self.activity.entry(a).or_default().add(&act);
            }
            self.accounts.extend(o.accounts);
            out
        }

        fn one(&mut self, t: u64, tx: Vec<u8>) -> Result<(), &'static str> {
            self.block(t, vec![tx])
                .pop()
                .expect("one result")
                .map_err(|e| e.code())
        }

        fn order(&self, id: &OrderId) -> OrderRecord {
            DataLedger::new(&self.table)
                .order(id)
                .expect("read")
                .expect("order on chain")
        }
    }

    fn listing(seller: &SecretKey, chain_id: u64) -> SignedListing {
        Listing {
            chain_id,
            seller: seller.public_key().address(),
            title: heapless::String::try_from("greenhouse 7").expect("fits"),
            labels: heapless::Vec::new(),
            description: heapless::String::new(),
            price: PRICE,
            stream: STREAM,
            first_interval: 0,
            last_interval: 9,
            created_at: Timestamp(0),
        }
        .sign(seller)
        .expect("signs")
    }

    fn order_tx(l: &SignedListing, first: u64, last: u64) -> TxKind {
        TxKind::Order(Box::new(OrderTx {
            listing: l.body.id().expect("id"),
            first_interval: first,
            last_interval: last,
            grantee: grantee_key(),
            deliver_within_ms: 10_000,
            confirm_within_ms: 5_000,
        }))
    }

    #[cfg(feature = "pre")]
    fn grantee_key() -> [u8; 33] {
        cpchain_crypto::pre::PreSecretKey::from_seed(&[0x33; 32])
            .expect("key")
            .public_key()
            .to_compressed()
    }

    #[cfg(not(feature = "pre"))]
    fn grantee_key() -> [u8; 33] {
        [2; 33]
    }

    /// Owner (2) with device (1) registered for STREAM and a listing of intervals 0..=9.
    fn market() -> (Chain, SecretKey, SecretKey, SignedListing) {
        let (device, owner, buyer) = (key(1), key(2), key(3));
        let mut c = Chain::new(&[owner.public_key().address(), buyer.public_key().address()]);
        let reg = c.tx(
            &owner,
            TxKind::RegisterStream {
                stream: STREAM,
                device: device.public_key().to_compressed(),
            },
        );
        assert_eq!(c.one(1_000, reg), Ok(()));
        let l = listing(&owner, c.spec.chain_id);
        let tx = c.tx(&owner, TxKind::Listing(Box::new(l.clone())));
        assert_eq!(c.one(1_000, tx), Ok(()));
        (c, owner, buyer, l)
    }

    fn anchor(index: u64, through: u64, k: &SecretKey) -> TxKind {
        TxKind::Anchor(Box::new(Anchor::sign(
            STREAM,
            index,
            BlockId(Hash([index as u8; 32])),
            Timestamp(through),
            k,
        )))
    }

    #[test]
    fn anchors_need_a_registered_stream_its_device_and_must_extend_the_head() {
        let (device, owner, other) = (key(1), key(2), key(3));
        let mut c = Chain::new(&[owner.public_key().address(), other.public_key().address()]);
        let early = c.tx(&other, anchor(0, 10, &device));
        assert_eq!(c.one(1, early), Err("unknown_stream"));
        let reg = |c: &mut Chain, k: &SecretKey| {
            c.tx(
                k,
                TxKind::RegisterStream {
                    stream: STREAM,
                    device: device.public_key().to_compressed(),
                },
            )
        };
        let junk = c.tx(
            &owner,
            TxKind::RegisterStream {
                stream: STREAM,
                device: [0; 33],
            },
        );
        assert_eq!(c.one(2, junk), Err("bad_device"));
        let r = reg(&mut c, &owner);
        assert_eq!(c.one(2, r), Ok(()));
        let r = reg(&mut c, &other);
        assert_eq!(c.one(3, r), Err("stream_taken"));
        let forged = c.tx(&other, anchor(0, 10, &other));
        assert_eq!(c.one(4, forged), Err("bad_anchor"));
        // Anyone may submit the device's anchor (a gateway's host pays the fee).
        let a = c.tx(&other, anchor(4, 10, &device));
        assert_eq!(c.one(5, a), Ok(()));
        let again = c.tx(&other, anchor(4, 10, &device));
        assert_eq!(c.one(6, again), Err("stale_anchor"), "same index: no fork");
        let lower = c.tx(&other, anchor(3, 20, &device));
        assert_eq!(c.one(7, lower), Err("stale_anchor"));
        let backdated = c.tx(&other, anchor(9, 5, &device));
        assert_eq!(c.one(8, backdated), Err("stale_anchor"));
        let next = c.tx(&other, anchor(9, 20, &device));
        assert_eq!(c.one(9, next), Ok(()));
        let ledger = DataLedger::new(&c.table);
        let s = ledger.stream(&STREAM).expect("read").expect("stream");
        assert_eq!(s.owner, owner.public_key().address());
        assert_eq!(
            s.head.map(|h| (h.last_index, h.through)),
            Some((9, Timestamp(20)))
        );
        let anchors = ledger.anchors(&STREAM, 0).expect("read");
        assert_eq!(
            anchors
                .iter()
                .map(|a| a.anchor.last_index)
                .collect::<Vec<_>>(),
            vec![4, 9]
        );
        // Data contribution: blocks 0..=4, then 5..=9, to the owner (not the submitter).
        assert_eq!(c.activity[&owner.public_key().address()].uploaded, 10);
        assert!(!c.activity.contains_key(&other.public_key().address()));
    }

    #[test]
    fn listings_are_verified_sent_by_their_seller_for_a_stream_it_owns() {
        let (device, owner, other) = (key(1), key(2), key(3));
        let mut c = Chain::new(&[owner.public_key().address(), other.public_key().address()]);
        let l = listing(&owner, c.spec.chain_id);
        let tx = c.tx(&owner, TxKind::Listing(Box::new(l.clone())));
        assert_eq!(c.one(1, tx), Err("unknown_stream"));
        let reg = c.tx(
            &owner,
            TxKind::RegisterStream {
                stream: STREAM,
                device: device.public_key().to_compressed(),
            },
        );
        assert_eq!(c.one(2, reg), Ok(()));
        let tx = c.tx(&other, TxKind::Listing(Box::new(l.clone())));
        assert_eq!(c.one(3, tx), Err("not_seller"));
        let theirs = listing(&other, c.spec.chain_id);
        let tx = c.tx(&other, TxKind::Listing(Box::new(theirs)));
        assert_eq!(c.one(4, tx), Err("not_owner"));
        let foreign = listing(&owner, c.spec.chain_id + 1);
        let tx = c.tx(&owner, TxKind::Listing(Box::new(foreign)));
        assert_eq!(c.one(5, tx), Err("bad_listing"));
        let mut tampered = l.clone();
        tampered.body.price += 1;
        let tx = c.tx(&owner, TxKind::Listing(Box::new(tampered)));
        assert_eq!(c.one(6, tx), Err("bad_listing"));
        let tx = c.tx(&owner, TxKind::Listing(Box::new(l.clone())));
        assert_eq!(c.one(7, tx), Ok(()));
        let tx = c.tx(&owner, TxKind::Listing(Box::new(l.clone())));
        assert_eq!(c.one(8, tx), Err("duplicate_listing"));
        let page = DataLedger::new(&c.table).listings(None).expect("read");
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].0, l.body.id().expect("id"));
    }

    #[test]
    fn orders_lock_the_price_and_are_refunded_when_not_delivered_in_time() {
        let (mut c, owner, buyer, l) = market();
        let me = buyer.public_key().address();
        let before = c.balance(&me);
        let unknown = TxKind::Order(Box::new(OrderTx {
            listing: ListingId(Hash([9; 32])),
            ..match order_tx(&l, 0, 0) {
                TxKind::Order(o) => *o,
                _ => unreachable!(),
            }
        }));
        let tx = c.tx(&buyer, unknown);
        assert_eq!(c.one(2_000, tx), Err("unknown_listing"));
        let tx = c.tx(&owner, order_tx(&l, 0, 0));
        assert_eq!(c.one(2_000, tx), Err("own_listing"));
        for (first, last) in [(3, 2), (5, 10), (0, 16)] {
            let tx = c.tx(&buyer, order_tx(&l, first, last));
            assert_eq!(c.one(2_000, tx), Err("bad_range"), "{first}..={last}");
        }
        let mut zero = match order_tx(&l, 0, 0) {
            TxKind::Order(o) => *o,
            _ => unreachable!(),
        };
        zero.deliver_within_ms = 0;
        let tx = c.tx(&buyer, TxKind::Order(Box::new(zero)));
        assert_eq!(c.one(2_000, tx), Err("bad_window"));
        let id = order_id(&me, c.nonces.get(&me).copied().unwrap_or(0));
        let tx = c.tx(&buyer, order_tx(&l, 2, 4));
        assert_eq!(c.one(2_000, tx), Ok(()));
        assert_eq!(c.balance(&me), before - 3 * PRICE, "three intervals locked");
        let o = c.order(&id);
        assert_eq!((o.state, o.price), (OrderState::Placed, 3 * PRICE));
        assert_eq!(o.delivery_deadline, Timestamp(12_000));
        // Confirming or disputing before delivery, or by someone else.
        let tx = c.tx(&buyer, TxKind::Confirm { order: id });
        assert_eq!(c.one(3_000, tx), Err("not_delivered"));
        let tx = c.tx(&owner, TxKind::Confirm { order: id });
        assert_eq!(c.one(3_000, tx), Err("not_buyer"));
        let tx = c.tx(&buyer, TxKind::Dispute { order: id });
        assert_eq!(c.one(3_000, tx), Err("not_delivered"));
        // A block just before the deadline changes nothing; the first at it refunds.
        c.block(11_999, vec![]);
        assert_eq!(c.order(&id).state, OrderState::Placed);
        c.block(12_000, vec![]);
        assert_eq!(
            c.order(&id).state,
            OrderState::Refunded {
                at: Timestamp(12_000)
            }
        );
        assert_eq!(c.balance(&me), before);
        let tx = c.tx(&buyer, TxKind::Confirm { order: id });
        assert_eq!(c.one(13_000, tx), Err("order_closed"));
        // The deadline entry is gone: nothing is refunded twice.
        c.block(20_000, vec![]);
        assert_eq!(c.balance(&me), before);
        let tx = c.tx(
            &buyer,
            TxKind::Confirm {
                order: OrderId(Hash([7; 32])),
            },
        );
        assert_eq!(c.one(20_000, tx), Err("unknown_order"));
    }

    #[test]
    fn an_order_costing_more_than_the_balance_is_refused() {
        let (mut c, _owner, buyer, l) = market();
        let me = buyer.public_key().address();
        c.accounts.insert(
            me,
            Account {
                balance: 2 * PRICE,
                ..Account::default()
            },
        );
        let tx = c.tx(&buyer, order_tx(&l, 0, 2));
        assert_eq!(c.one(2_000, tx), Err("insufficient_funds"));
        assert_eq!(c.balance(&me), 2 * PRICE);
    }

    #[cfg(not(feature = "pre"))]
    #[test]
    fn grants_and_revocations_are_unsupported_without_pre() {
        let (mut c, owner, _buyer, _l) = market();
        let tx = c.tx(
            &owner,
            TxKind::Grant {
                record: vec![1, 2, 3],
            },
        );
        assert_eq!(c.one(2_000, tx), Err("unsupported"));
        let tx = c.tx(
            &owner,
            TxKind::Revoke {
                record: vec![1, 2, 3],
            },
        );
        assert_eq!(c.one(2_000, tx), Err("unsupported"));
    }

    #[cfg(feature = "pre")]
    mod pre {
        use super::*;
        use cpchain_crypto::pre::PreSecretKey;
        use cpchain_storage::sharing::{Grant, Revoke};

        fn pk(seed: u8) -> cpchain_crypto::pre::PrePublicKey {
            PreSecretKey::from_seed(&[seed; 32])
                .expect("key")
                .public_key()
        }

        /// A signed grant of `first..=last` of STREAM to the test grantee, by `owner`.
        pub(super) fn grant(
            owner: &SecretKey,
            chain_id: u64,
            first: u64,
            last: u64,
            salt: u8,
        ) -> (Hash, Vec<u8>) {
            let g = Grant {
                chain_id,
                owner: owner.public_key().address(),
                stream: STREAM,
                first_interval: first,
                last_interval: last,
                grantee: PrePublicKey::from_compressed(&grantee_key()).expect("key"),
                threshold: 2,
                proxies: [7u8, 8, 9].iter().map(|b| Address([*b; 20])).collect(),
                kfrag_signer: pk(0x51),
                delegating_keys: (first..=last).map(|i| pk(0x60 + i as u8)).collect(),
                issued_at: Timestamp(0),
                expires_at: Timestamp(1_000_000),
                salt: [salt; 16],
            };
            let (id, signed) = g.sign(owner).expect("signs");
            (id.0, encoding::encode_to_vec(&signed).expect("encodes"))
        }
        use cpchain_crypto::pre::PrePublicKey;

        /// Market + an order of 2..=4 placed at 2,000 and the owner's grant for it on chain.
        fn delivered() -> (Chain, SecretKey, SecretKey, OrderId, Hash) {
            let (mut c, owner, buyer, l) = market();
            let me = buyer.public_key().address();
            let id = order_id(&me, 0);
            let tx = c.tx(&buyer, order_tx(&l, 2, 4));
            assert_eq!(c.one(2_000, tx), Ok(()));
            let (gid, g) = grant(&owner, c.spec.chain_id, 2, 4, 1);
            let tx = c.tx(&owner, TxKind::Grant { record: g });
            assert_eq!(c.one(2_000, tx), Ok(()));
            let tx = c.tx(
                &owner,
                TxKind::Deliver {
                    order: id,
                    grant: gid,
                },
            );
            assert_eq!(c.one(3_000, tx), Ok(()));
            (c, owner, buyer, id, gid)
        }

        #[test]
        fn grants_are_checked_stored_by_id_and_revoked_only_by_their_owner() {
            let (mut c, owner, buyer, _l) = market();
            let (gid, g) = grant(&owner, c.spec.chain_id, 0, 1, 1);
            let tx = c.tx(&buyer, TxKind::Grant { record: g.clone() });
            assert_eq!(c.one(2_000, tx), Err("not_owner"));
            let mut bad = g.clone();
            if let Some(b) = bad.get_mut(40) {
                *b ^= 1;
            }
            let tx = c.tx(&owner, TxKind::Grant { record: bad });
            assert_eq!(c.one(2_000, tx), Err("bad_record"));
            let tx = c.tx(
                &owner,
                TxKind::Grant {
                    record: vec![0; MAX_GRANT_BYTES + 1],
                },
            );
            assert_eq!(c.one(2_000, tx), Err("too_large"));
            let tx = c.tx(&owner, TxKind::Grant { record: g.clone() });
            assert_eq!(c.one(2_000, tx), Ok(()));
            let tx = c.tx(&owner, TxKind::Grant { record: g.clone() });
            assert_eq!(c.one(2_000, tx), Err("duplicate_grant"));
            let rec = DataLedger::new(&c.table)
                .grant(&gid)
                .expect("read")
                .expect("grant");
            assert_eq!(rec.bytes, g);
            assert!(rec.is_live(Timestamp(2_000)) && !rec.is_live(Timestamp(1_000_000)));
            let chain_id = c.spec.chain_id;
            let revoke = |k: &SecretKey, grant: Hash| {
                let r = Revoke {
                    chain_id,
                    owner: k.public_key().address(),
                    grant: cpchain_storage::sharing::GrantId(grant),
                    until: Timestamp(1_000_000),
                    at: Timestamp(2_500),
                }
                .sign(k)
                .expect("signs");
                encoding::encode_to_vec(&r).expect("encodes")
            };
            let theirs = revoke(&buyer, gid);
            let tx = c.tx(&buyer, TxKind::Revoke { record: theirs });
            assert_eq!(c.one(2_500, tx), Err("not_owner"));
            let unknown = revoke(&owner, Hash([5; 32]));
            let tx = c.tx(&owner, TxKind::Revoke { record: unknown });
            assert_eq!(c.one(2_500, tx), Err("unknown_grant"));
            let mine = revoke(&owner, gid);
            let tx = c.tx(
                &owner,
                TxKind::Revoke {
                    record: mine.clone(),
                },
            );
            assert_eq!(c.one(2_500, tx), Ok(()));
            let tx = c.tx(&owner, TxKind::Revoke { record: mine });
            assert_eq!(c.one(2_600, tx), Err("already_revoked"));
            let rec = DataLedger::new(&c.table)
                .grant(&gid)
                .expect("read")
                .expect("grant");
            assert_eq!(rec.revoked_at, Some(Timestamp(2_500)));
            assert!(!rec.is_live(Timestamp(2_600)));
        }

        #[test]
        fn confirmation_pays_the_owner_once_and_only_the_buyer_may_confirm() {
            let (mut c, owner, buyer, id, gid) = delivered();
            let seller = owner.public_key().address();
            let paid_before = c.balance(&seller);
            assert!(
                matches!(c.order(&id).state, OrderState::Delivered { grant, .. } if grant == gid)
            );
            let tx = c.tx(&owner, TxKind::Confirm { order: id });
            assert_eq!(c.one(4_000, tx), Err("not_buyer"));
            let tx = c.tx(&buyer, TxKind::Confirm { order: id });
            assert_eq!(c.one(4_000, tx), Ok(()));
            assert_eq!(c.balance(&seller), paid_before + 3 * PRICE);
            let tx = c.tx(&buyer, TxKind::Confirm { order: id });
            assert_eq!(c.one(4_100, tx), Err("already_confirmed"));
            let tx = c.tx(&buyer, TxKind::Dispute { order: id });
            assert_eq!(c.one(4_100, tx), Err("already_confirmed"));
            // No release at the old confirm deadline: paid once.
            c.block(100_000, vec![]);
            assert_eq!(c.balance(&seller), paid_before + 3 * PRICE);
            // RPT: one sale for the seller, one released delivery for each proxy.
            assert_eq!(c.activity[&seller].bought, 1);
            assert_eq!(c.activity[&Address([7; 20])].proxy_confirmed, 1);
        }

        #[test]
        fn an_unconfirmed_delivery_is_released_at_its_deadline_and_a_dispute_refunds() {
            let (mut c, owner, buyer, id, _gid) = delivered();
            let seller = owner.public_key().address();
            let before = c.balance(&seller);
            // Delivered at 3,000 with 5,000 ms to confirm.
            c.block(7_999, vec![]);
            assert!(matches!(c.order(&id).state, OrderState::Delivered { .. }));
            c.block(8_000, vec![]);
            assert!(matches!(c.order(&id).state, OrderState::Released { .. }));
            assert_eq!(c.balance(&seller), before + 3 * PRICE);
            let tx = c.tx(&buyer, TxKind::Dispute { order: id });
            assert_eq!(c.one(9_000, tx), Err("order_closed"));

            let (mut c, _owner, buyer, id, _gid) = delivered();
            let me = buyer.public_key().address();
            let before = c.balance(&me);
            let tx = c.tx(&buyer, TxKind::Dispute { order: id });
            assert_eq!(c.one(4_000, tx), Ok(()));
            assert_eq!(c.balance(&me), before + 3 * PRICE);
            assert_eq!(c.activity[&Address([8; 20])].proxy_disputed, 1);
            c.block(100_000, vec![]);
            assert!(matches!(c.order(&id).state, OrderState::Disputed { .. }));
            assert_eq!(
                c.balance(&me),
                before + 3 * PRICE,
                "no release after a dispute"
            );
        }

        #[test]
        fn a_delivery_must_be_the_sellers_matching_live_grant_in_time() {
            let (mut c, owner, buyer, l) = market();
            let me = buyer.public_key().address();
            let id = order_id(&me, 0);
            let tx = c.tx(&buyer, order_tx(&l, 2, 4));
            assert_eq!(c.one(2_000, tx), Ok(()));
            let (wrong, g) = grant(&owner, c.spec.chain_id, 2, 3, 2);
            let tx = c.tx(&owner, TxKind::Grant { record: g });
            assert_eq!(c.one(2_000, tx), Ok(()));
            let tx = c.tx(
                &owner,
                TxKind::Deliver {
                    order: id,
                    grant: wrong,
                },
            );
            assert_eq!(c.one(2_500, tx), Err("grant_mismatch"), "other intervals");
            let tx = c.tx(
                &owner,
                TxKind::Deliver {
                    order: id,
                    grant: Hash([1; 32]),
                },
            );
            assert_eq!(c.one(2_500, tx), Err("unknown_grant"));
            let (gid, g) = grant(&owner, c.spec.chain_id, 2, 4, 3);
            let tx = c.tx(&owner, TxKind::Grant { record: g });
            assert_eq!(c.one(2_500, tx), Ok(()));
            let tx = c.tx(
                &buyer,
                TxKind::Deliver {
                    order: id,
                    grant: gid,
                },
            );
            assert_eq!(c.one(2_600, tx), Err("not_owner"));
            let tx = c.tx(
                &owner,
                TxKind::Deliver {
                    order: id,
                    grant: gid,
                },
            );
            assert_eq!(c.one(11_999, tx), Ok(()));
            let tx = c.tx(
                &owner,
                TxKind::Deliver {
                    order: id,
                    grant: gid,
                },
            );
            assert_eq!(c.one(11_999, tx), Err("already_delivered"));
            // The delivery moved the deadline: no refund at the old one.
            c.block(12_000, vec![]);
            assert!(matches!(c.order(&id).state, OrderState::Delivered { .. }));
            // A second order, delivered in the block that reaches its deadline: late.
            let late = order_id(&me, 1);
            let tx = c.tx(&buyer, order_tx(&l, 5, 5));
            assert_eq!(c.one(20_000, tx), Ok(()));
            let (gid, g) = grant(&owner, c.spec.chain_id, 5, 5, 4);
            let tx = c.tx(&owner, TxKind::Grant { record: g });
            assert_eq!(c.one(20_000, tx), Ok(()));
            let tx = c.tx(
                &owner,
                TxKind::Deliver {
                    order: late,
                    grant: gid,
                },
            );
            assert_eq!(c.one(30_000, tx), Err("delivery_late"));
            assert!(matches!(c.order(&late).state, OrderState::Refunded { .. }));
            let tx = c.tx(
                &owner,
                TxKind::Deliver {
                    order: late,
                    grant: gid,
                },
            );
            assert_eq!(c.one(30_001, tx), Err("order_closed"));
        }
    }
}

#[cfg(test)]
mod bounds {
    use super::*;
    use crate::tx::{check_one, Transaction, TxBody, MAX_TX_BYTES};
    use cpchain_core::WireMessage;
    use cpchain_crypto::SecretKey;
    use cpchain_storage::market::{
        Listing, MAX_DESCRIPTION_LEN, MAX_LABELS, MAX_LABEL_LEN, MAX_TITLE_LEN,
    };

    fn longest_listing(k: &SecretKey) -> SignedListing {
        let fill = |n: usize| "x".repeat(n);
        Listing {
            chain_id: u64::MAX,
            seller: k.public_key().address(),
            title: heapless::String::try_from(fill(MAX_TITLE_LEN).as_str()).expect("fits"),
            labels: (0..MAX_LABELS)
                .map(|_| heapless::String::try_from(fill(MAX_LABEL_LEN).as_str()).expect("fits"))
                .collect(),
            description: heapless::String::try_from(fill(MAX_DESCRIPTION_LEN).as_str())
                .expect("fits"),
            price: u128::MAX,
            stream: StreamId([0xff; 32]),
            first_interval: u64::MAX - 1,
            last_interval: u64::MAX,
            created_at: Timestamp(u64::MAX),
        }
        .sign(k)
        .expect("signs")
    }

    #[test]
    fn the_longest_listing_fits_a_transaction_and_every_record_has_its_bound() {
        let k = SecretKey::from_bytes(&[3; 32]).expect("scalar");
        let l = longest_listing(&k);
        let tx = Transaction::sign(
            &k,
            TxBody {
                chain_id: u64::MAX,
                nonce: u64::MAX,
                kind: TxKind::Listing(Box::new(l)),
            },
        );
        let bytes = tx.to_bytes();
        assert!(!bytes.is_empty(), "encodes within TxBody's bound");
        assert!(bytes.len() <= MAX_TX_BYTES, "{} bytes", bytes.len());
        assert!(check_one(&bytes, u64::MAX).is_ok());
        // A record longer than its kind's bound is refused before it is parsed.
        let grant = TxKind::Grant {
            record: vec![0; MAX_GRANT_BYTES + 1],
        };
        let view = BTreeMap::new();
        let ctx = LedgerCtx {
            chain_id: 1,
            time: Timestamp(0),
            sender: Address([1; 20]),
            nonce: 0,
        };
        assert_eq!(
            LedgerOverlay::default().plan(&view, &ctx, &grant).err(),
            Some(LedgerError::TooLarge)
        );
        let revoke = TxKind::Revoke {
            record: vec![0; MAX_REVOKE_BYTES + 1],
        };
        assert_eq!(
            LedgerOverlay::default().plan(&view, &ctx, &revoke).err(),
            Some(LedgerError::TooLarge)
        );
        // A transaction over MAX_TX_BYTES is not even decoded.
        let mut long = bytes.clone();
        long.resize(MAX_TX_BYTES + 1, 0);
        assert_eq!(
            check_one(&long, u64::MAX).err().map(|e| e.code()),
            Some("decode")
        );
        assert_eq!(
            <SignedListing as WireMessage>::MAX_ENCODED_LEN,
            1_600,
            "the docs' figure"
        );
        println!("longest listing transaction: {} bytes", bytes.len());
    }
}
