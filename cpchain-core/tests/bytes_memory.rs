//! Issue 14: byte strings decoded as bytes ([`encoding::bytes`], [`encoding::bounded_bytes`])
//! allocate what the input holds and no more, and a capped one refused over its cap
//! allocates nothing for it (counted with a counting allocator; one test in this binary so
//! no other thread allocates meanwhile).

use cpchain_core::encoding::{self, decode, encode_to_vec};
use cpchain_core::{DecodeError, WireMessage};
use serde::{Deserialize, Serialize};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Capped {
    #[serde(
        serialize_with = "encoding::bytes::serialize",
        deserialize_with = "encoding::bounded_bytes::<_, 1024>"
    )]
    data: Vec<u8>,
}
impl WireMessage for Capped {
    const TAG: u16 = 0x7f05;
    const MAX_ENCODED_LEN: usize = 1 << 21;
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Open {
    #[serde(with = "encoding::bytes")]
    data: Vec<u8>,
}
impl WireMessage for Open {
    const TAG: u16 = 0x7f05;
    const MAX_ENCODED_LEN: usize = 1 << 21;
}

#[test]
fn byte_strings_allocate_what_the_input_holds_and_refusals_nothing() {
    let big = encode_to_vec(&Open {
        data: vec![3; 1 << 20],
    })
    .unwrap();

    // Over the cap: refused before the copy, not after (serde's own Vec<u8> followed by a
    // length check allocates the whole megabyte first).
    let region = Region::new(GLOBAL);
    assert_eq!(decode::<Capped>(&big), Err(DecodeError::Malformed));
    let s = region.change();
    assert!(
        s.bytes_allocated < 1024,
        "{} bytes allocated",
        s.bytes_allocated
    );

    // Accepted: one allocation of exactly the string's length.
    let region = Region::new(GLOBAL);
    let open = decode::<Open>(&big).unwrap();
    let s = region.change();
    assert_eq!(open.data.len(), 1 << 20);
    assert_eq!(s.allocations, 1);
    assert_eq!(s.bytes_allocated, 1 << 20);
    assert_eq!(s.reallocations, 0);
    drop(open);

    // A length prefix the input does not pay for: refused, nothing allocated.
    let lying = big[..64].to_vec();
    let region = Region::new(GLOBAL);
    assert_eq!(decode::<Open>(&lying), Err(DecodeError::Malformed));
    assert_eq!(region.change().bytes_allocated, 0);
}
