//! PDash market listings (white paper §2.2.3).
//!
//! A seller publishes "the basic description information of the owned data … including the
//! title, label, description, price and other fields", and "the hash value of the data
//! description information is retrieved as a data index". A [`Listing`] is that record,
//! pointing at a stream and a range of its encryption intervals (what a buyer would be
//! granted, see the `sharing` module); its [`ListingId`] is Keccak-256 of its canonical
//! encoding, so any market server and the chain's synchroniser derive the same id (the
//! decentralised market's "ID generation module"). It is signed by the seller's chain key,
//! as PDash's market authenticates users by ECDSA without registration.
//!
//! Search, ordering, escrow and disputes stay with the host market and the chain; this
//! module only builds, encodes and verifies the record. Every text field has a fixed bound
//! (below), enforced by the types, so a listing decodes without an allocator and can never be
//! larger than [`SignedListing::MAX_ENCODED_LEN`].

use crate::block::StreamId;
use crate::signed::{Signable, Signed, SignedError};
use cpchain_core::encoding::{encode_to_heapless, encode_to_slice, Domain};
use cpchain_core::{keccak256, Address, EncodeError, Hash, Timestamp, WireMessage};
use cpchain_crypto::SecretKey;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Longest title, in bytes of UTF-8.
pub const MAX_TITLE_LEN: usize = 128;
/// Longest label, in bytes of UTF-8.
pub const MAX_LABEL_LEN: usize = 32;
/// Most labels per listing.
pub const MAX_LABELS: usize = 8;
/// Longest description, in bytes of UTF-8.
pub const MAX_DESCRIPTION_LEN: usize = 1024;

/// Domain of the seller's listing signature.
pub const LISTING_DOMAIN: Domain = Domain::new("cpchain/market/listing/v1");

/// A listing's identity: Keccak-256 of the listing's canonical encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ListingId(pub Hash);

/// One data offer on the market.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    /// Chain the offer is for.
    pub chain_id: u64,
    /// The seller's chain address; the listing is signed by it.
    pub seller: Address,
    /// Short title.
    pub title: heapless::String<MAX_TITLE_LEN>,
    /// Search labels.
    pub labels: heapless::Vec<heapless::String<MAX_LABEL_LEN>, MAX_LABELS>,
    /// Free-text description.
    pub description: heapless::String<MAX_DESCRIPTION_LEN>,
    /// Price in the chain's smallest unit (wei of CPC).
    pub price: u128,
    /// The stream on offer.
    pub stream: StreamId,
    /// First encryption interval on offer.
    pub first_interval: u64,
    /// Last encryption interval on offer (inclusive).
    pub last_interval: u64,
    /// When the seller made the listing.
    pub created_at: Timestamp,
}

impl WireMessage for Listing {
    const TAG: u16 = 0x0520;
    const MAX_ENCODED_LEN: usize = 3
        + 10
        + 20
        + 2
        + MAX_TITLE_LEN
        + 1
        + MAX_LABELS * (1 + MAX_LABEL_LEN)
        + 2
        + MAX_DESCRIPTION_LEN
        + 19
        + 32
        + 10
        + 10
        + 10;
}

/// Why a listing was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ListingError {
    /// Empty title.
    #[error("empty title")]
    EmptyTitle,
    /// First interval after the last.
    #[error("empty interval range")]
    EmptyIntervalRange,
    /// Listed for another chain.
    #[error("wrong chain id")]
    WrongChain,
    /// Not signed by the seller.
    #[error("bad signature")]
    BadSignature,
    /// Could not be encoded.
    #[error("encode: {0}")]
    Encode(EncodeError),
}

impl From<EncodeError> for ListingError {
    fn from(e: EncodeError) -> Self {
        ListingError::Encode(e)
    }
}

impl From<SignedError> for ListingError {
    fn from(e: SignedError) -> Self {
        match e {
            SignedError::BadSignature => ListingError::BadSignature,
            SignedError::Encode(e) => ListingError::Encode(e),
        }
    }
}

impl Listing {
    /// Field checks beyond the length bounds the types already enforce.
    pub fn validate(&self) -> Result<(), ListingError> {
        if self.title.is_empty() {
            return Err(ListingError::EmptyTitle);
        }
        if self.first_interval > self.last_interval {
            return Err(ListingError::EmptyIntervalRange);
        }
        Ok(())
    }

    /// Canonical encoding into `buf` (no allocator needed).
    pub fn encode<'a>(&self, buf: &'a mut [u8]) -> Result<&'a mut [u8], ListingError> {
        Ok(encode_to_slice(self, buf)?)
    }

    /// The listing's id.
    pub fn id(&self) -> Result<ListingId, ListingError> {
        let mut buf = [0u8; Listing::MAX_ENCODED_LEN];
        Ok(ListingId(keccak256(self.encode(&mut buf)?)))
    }

    /// Sign as the seller (the key must be [`Listing::seller`]'s).
    pub fn sign(self, seller: &SecretKey) -> Result<SignedListing, ListingError> {
        self.validate()?;
        Ok(Signed::sign_with(self, seller)?.1)
    }
}

impl Signable for Listing {
    const DOMAIN: Domain = LISTING_DOMAIN;
    const SIGNED_TAG: u16 = 0x0521;
    /// A fixed-capacity buffer: listings are signed and checked without an allocator.
    type Encoded = heapless::Vec<u8, { Listing::MAX_ENCODED_LEN }>;
    fn encode_payload(&self) -> Result<Self::Encoded, EncodeError> {
        encode_to_heapless(self)
    }
}

/// A listing with the seller's signature under [`LISTING_DOMAIN`] (wire tag 0x0521): what a
/// market indexes and syncs to the chain.
pub type SignedListing = Signed<Listing>;

impl Signed<Listing> {
    /// Check fields, chain and the seller's signature; return the listing id.
    pub fn verify(&self, chain_id: u64) -> Result<ListingId, ListingError> {
        if self.body.chain_id != chain_id {
            return Err(ListingError::WrongChain);
        }
        self.body.validate()?;
        Ok(ListingId(self.verify_by(&self.body.seller)?))
    }
}
