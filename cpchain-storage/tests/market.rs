//! PDash market listings (§2.2.3): id = keccak of the canonical encoding, signed by the
//! seller, bounded fields.

use cpchain_core::{encoding, keccak256, Timestamp};
use cpchain_crypto::SecretKey;
use cpchain_storage::market::*;
use cpchain_storage::StreamId;

fn seller() -> SecretKey {
    SecretKey::from_bytes(&[0x77; 32]).unwrap()
}

fn listing() -> Listing {
    let mut labels = heapless::Vec::new();
    labels.push("temperature".try_into().unwrap()).unwrap();
    labels.push("shenzhen".try_into().unwrap()).unwrap();
    Listing {
        chain_id: 337,
        seller: seller().public_key().address(),
        title: "Factory floor temperature, 2026 Q3".try_into().unwrap(),
        labels,
        description: "One reading per second from 12 sensors."
            .try_into()
            .unwrap(),
        price: 5_000_000_000_000_000_000,
        stream: StreamId([0x33; 32]),
        first_interval: 100,
        last_interval: 190,
        created_at: Timestamp(1_700_000_000_000),
    }
}

#[test]
fn listing_id_is_keccak_of_its_canonical_encoding() {
    let l = listing();
    let bytes = encoding::encode_to_vec(&l).unwrap();
    assert_eq!(l.id().unwrap(), ListingId(keccak256(&bytes)));
    let mut other = l.clone();
    other.price += 1;
    assert_ne!(other.id().unwrap(), l.id().unwrap());
}

#[test]
fn signed_listing_round_trips_and_verifies() {
    let signed = listing().sign(&seller()).unwrap();
    let bytes = encoding::encode_to_vec(&signed).unwrap();
    let back: SignedListing = encoding::decode(&bytes).unwrap();
    assert_eq!(back, signed);
    assert_eq!(back.verify(337).unwrap(), listing().id().unwrap());
    assert_eq!(back.verify(1), Err(ListingError::WrongChain));
}

#[test]
fn altered_or_misattributed_listing_fails_verification() {
    let signed = listing().sign(&seller()).unwrap();
    let mut altered = signed.clone();
    altered.body.price = 1;
    assert_eq!(altered.verify(337), Err(ListingError::BadSignature));
    // Signed by someone who is not the named seller.
    let other = SecretKey::from_bytes(&[0x78; 32]).unwrap();
    let stolen = listing().sign(&other).unwrap();
    assert_eq!(stolen.verify(337), Err(ListingError::BadSignature));
}

#[test]
fn invalid_fields_are_refused() {
    let mut l = listing();
    l.title.clear();
    assert_eq!(l.sign(&seller()).unwrap_err(), ListingError::EmptyTitle);
    let mut l = listing();
    l.first_interval = 200;
    assert_eq!(
        l.sign(&seller()).unwrap_err(),
        ListingError::EmptyIntervalRange
    );
}

#[test]
fn over_long_fields_do_not_decode() {
    // Hand-build an encoding whose title is one byte over the bound: the decoder refuses it
    // (the type cannot even hold it).
    let l = listing();
    let bytes = encoding::encode_to_vec(&l).unwrap();
    let header = encoding::HEADER_LEN;
    // chain_id (2-byte varint 337) then seller (20 bytes), then the title's length varint.
    let title_at = header + 2 + 20;
    assert_eq!(usize::from(bytes[title_at]), l.title.len());
    let mut long = bytes[..title_at].to_vec();
    long.extend_from_slice(&[129, 1]); // varint 129 = MAX_TITLE_LEN + 1
    long.extend(std::iter::repeat_n(b'a', MAX_TITLE_LEN + 1));
    long.extend_from_slice(&bytes[title_at + 1 + l.title.len()..]);
    assert!(encoding::decode::<Listing>(&long).is_err());
    assert!(l.encode(&mut [0u8; 16]).is_err());
}

/// Issue 13 item 6: `SignedListing` is now `Signed<Listing>`, and its wire form and signed
/// bytes are what the hand-written type had: the tag 0x0521, then the listing's fields, then
/// the 65-byte signature; the signature is over the listing's canonical encoding under
/// `LISTING_DOMAIN`.
#[test]
fn signed_listing_keeps_its_wire_form_and_signed_bytes() {
    let l = listing();
    let signed = l.clone().sign(&seller()).unwrap();
    let wire = encoding::encode_to_vec(&signed).unwrap();
    let body = encoding::encode_to_vec(&l).unwrap();
    assert_eq!(wire[1..3], 0x0521u16.to_be_bytes());
    assert_eq!(wire[0], body[0]);
    assert_eq!(wire[3..wire.len() - 65], body[3..]);
    assert_eq!(wire[wire.len() - 65..], signed.signature.to_bytes());
    let signer = signed
        .signature
        .recover_signer(&LISTING_DOMAIN, &body)
        .unwrap();
    assert_eq!(signer, seller().public_key().address());
}
