//! Issue 12 item 4: a data block or an anchor whose signature has its recovery id `v`
//! flipped (0 ↔ 1) is refused everywhere a storage node or reader checks it. Plain ECDSA
//! ignores `v`, so before the fix such a block was read back with every record.

mod common;
use common::*;
use cpchain_crypto::Signature;
use cpchain_storage::*;

fn flip_v(sig: &Signature) -> Signature {
    let mut b = sig.to_bytes();
    b[64] ^= 1;
    Signature::from_bytes(&b).unwrap()
}

#[test]
fn a_data_block_or_anchor_with_its_v_flipped_is_refused() {
    let pk = device().public_key();
    let chain = sample_chain();

    // One block with v flipped: refused by authenticate, the chain verifier and the reader,
    // which delivers no record.
    let mut bad = chain.clone();
    bad.blocks[3].signature = flip_v(&bad.blocks[3].signature);
    assert!(chain.blocks[3].authenticate(&pk).is_ok());
    assert_eq!(
        bad.blocks[3].authenticate(&pk),
        Err(VerifyError::BadSignature { index: 3 })
    );
    assert_eq!(
        verify_chain(verifier(), &bad.anchors, &bad.blocks, &master()),
        Err(VerifyError::BadSignature { index: 3 })
    );
    let mut delivered = 0;
    let r = read_chain(verifier(), &bad.anchors, &bad.blocks, &master(), |_, _| {
        delivered += 1
    });
    assert_eq!(r, Err(VerifyError::BadSignature { index: 3 }));
    assert_eq!(delivered, 0);

    // One anchor with v flipped.
    let mut bad = chain.clone();
    let a = &mut bad.anchors[0];
    assert!(a.verify(&pk).is_ok());
    a.signature = flip_v(&a.signature);
    let index = a.last_index;
    assert_eq!(a.verify(&pk), Err(VerifyError::BadAnchor { index }));
    assert_eq!(
        verify_chain(verifier(), &bad.anchors, &bad.blocks, &master()),
        Err(VerifyError::BadAnchor { index })
    );

    // The untouched chain still reads.
    assert!(verify_chain(verifier(), &chain.anchors, &chain.blocks, &master()).is_ok());
}
