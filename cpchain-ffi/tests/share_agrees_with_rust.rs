//! The sharing C API (feature `pre`) produces exactly what the Rust machines produce from the
//! same seeds: the same grant id, the same grant record and kfrag packages, the same wrapped
//! key, the same receiving key; and the key it opens is the interval's data key.
//!
//! SAFETY (for every `unsafe` call below, hence the lint allowance): each pointer passed
//! points to a live local of exactly the length passed with it, and each handle is live until
//! its one `_free` call.
#![cfg(feature = "pre")]
#![allow(clippy::undocumented_unsafe_blocks)]
// One SAFETY argument (above) covers every call, so calls are grouped per step.
#![allow(clippy::multiple_unsafe_ops_per_block)]

use cpchain_core::encoding::encode_to_vec;
use cpchain_core::{Address, Timestamp};
use cpchain_crypto::pre::PreSecretKey;
use cpchain_crypto::SecretKey;
use cpchain_ffi::*;
use cpchain_storage::sharing::*;
use cpchain_storage::{MasterSecret, StreamId};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::ptr;

const MASTER: [u8; 32] = [0x22; 32];
const STREAM: [u8; 32] = [0x07; 32];

type Outputs = Vec<(
    cpchain_share_output_kind,
    Vec<u8>,
    cpchain_share_output_info,
)>;

fn drain_owner(h: *mut cpchain_share_owner) -> Outputs {
    let mut out = Vec::new();
    let mut buf = vec![0u8; CPCHAIN_SHARE_OUTPUT_MAX_LEN];
    loop {
        let mut n = 0;
        let mut kind = cpchain_share_output_kind::None;
        let mut info = std::mem::MaybeUninit::<cpchain_share_output_info>::uninit();
        let r = unsafe {
            cpchain_share_owner_poll(
                h,
                buf.as_mut_ptr(),
                buf.len(),
                &mut n,
                &mut kind,
                info.as_mut_ptr(),
            )
        };
        if r == cpchain_result::NoOutput {
            return out;
        }
        assert_eq!(r, cpchain_result::Ok);
        out.push((kind, buf[..n].to_vec(), unsafe { info.assume_init() }));
    }
}

#[test]
fn grant_wrap_and_keys_match_the_rust_machines() {
    let owner_secret = [0x44u8; 32];
    let proxies: Vec<Address> = (0..3u8)
        .map(|i| {
            SecretKey::from_bytes(&[0x50 + i; 32])
                .unwrap()
                .public_key()
                .address()
        })
        .collect();
    let grantee_seed = [0x33u8; 32];
    let grantee_pk = PreSecretKey::from_seed(&grantee_seed).unwrap().public_key();

    // The receiving key.
    let mut g = ptr::null_mut();
    assert_eq!(
        unsafe { cpchain_share_grantee_new(grantee_seed.as_ptr(), 32, 337, &mut g) },
        cpchain_result::Ok
    );
    let mut pk = [0u8; 33];
    assert_eq!(
        unsafe { cpchain_share_grantee_public_key(g, pk.as_mut_ptr(), 33) },
        cpchain_result::Ok
    );
    assert_eq!(pk, grantee_pk.to_compressed());

    // The grant, from the same RNG seed.
    let mut rust = Owner::new(
        SecretKey::from_bytes(&owner_secret).unwrap(),
        MasterSecret::from_bytes(MASTER),
        StreamId(STREAM),
        OwnerConfig::default(),
    )
    .unwrap();
    let seed = [9u8; 32];
    let request = GrantRequest {
        first_interval: 4,
        last_interval: 6,
        grantee: grantee_pk,
        threshold: 2,
        proxies: &proxies,
        expires_at: Timestamp(5_000),
    };
    let id = rust
        .grant(Timestamp(100), &mut ChaCha20Rng::from_seed(seed), &request)
        .unwrap();
    let mut expected = Vec::new();
    while let Some(o) = rust.poll_output() {
        expected.push(match o {
            OwnerOutput::PublishGrant(g) => encode_to_vec(&*g).unwrap(),
            OwnerOutput::SendKfrags { delivery, .. } => encode_to_vec(&*delivery).unwrap(),
            other => panic!("unexpected {other:?}"),
        });
    }

    let mut sk = ptr::null_mut();
    let mut o = ptr::null_mut();
    unsafe {
        assert_eq!(
            cpchain_secret_key_from_bytes(owner_secret.as_ptr(), 32, &mut sk),
            cpchain_result::Ok
        );
        assert_eq!(
            cpchain_share_owner_new(sk, MASTER.as_ptr(), 32, STREAM.as_ptr(), 32, 337, &mut o),
            cpchain_result::Ok
        );
    }
    let proxy_bytes: Vec<[u8; 20]> = proxies.iter().map(|a| a.0).collect();
    let mut gid = [0u8; 32];
    let r = unsafe {
        cpchain_share_owner_grant(
            o,
            100,
            seed.as_ptr(),
            32,
            4,
            6,
            pk.as_ptr(),
            33,
            2,
            proxy_bytes.as_ptr().cast(),
            3,
            5_000,
            gid.as_mut_ptr(),
            32,
        )
    };
    assert_eq!(r, cpchain_result::Ok);
    assert_eq!(gid, id.0 .0);
    let got = drain_owner(o);
    assert_eq!(got.len(), 4);
    assert_eq!(got[0].0, cpchain_share_output_kind::PublishGrant);
    for (i, (kind, bytes, info)) in got.iter().enumerate() {
        assert_eq!(bytes, &expected[i]);
        assert_eq!(info.grant_id, gid);
        if i > 0 {
            assert_eq!(*kind, cpchain_share_output_kind::SendKfrags);
            assert_eq!(info.peer, proxies[i - 1].0);
        }
    }

    // The wrapped interval key, from the same RNG seed.
    let wrapped = rust
        .wrap_interval_key(&mut ChaCha20Rng::from_seed(seed), 5)
        .unwrap();
    let mut buf = [0u8; CPCHAIN_SHARE_WRAPPED_KEY_MAX_LEN];
    let mut n = 0;
    let r = unsafe {
        cpchain_share_owner_wrap_interval_key(
            o,
            seed.as_ptr(),
            32,
            5,
            buf.as_mut_ptr(),
            buf.len(),
            &mut n,
        )
    };
    assert_eq!(r, cpchain_result::Ok);
    assert_eq!(&buf[..n], encode_to_vec(&wrapped).unwrap().as_slice());
    // The owner itself can open it: it holds the interval's data key.
    let delegating =
        delegating_key(&MasterSecret::from_bytes(MASTER), &StreamId(STREAM), 5).unwrap();
    assert_eq!(
        wrapped.open_original(&delegating).unwrap().expose_secret(),
        MasterSecret::from_bytes(MASTER)
            .interval_key(&StreamId(STREAM), 5)
            .aead_key()
            .expose_secret()
    );

    unsafe {
        cpchain_share_owner_free(o);
        cpchain_share_grantee_free(g);
        cpchain_secret_key_free(sk);
    }
}

#[test]
fn sharing_errors_map_to_their_codes() {
    use cpchain_result as R;
    let cases = [
        (SharingError::EmptyIntervalRange, R::ShareEmptyIntervalRange),
        (SharingError::InvalidThreshold, R::ShareInvalidThreshold),
        (SharingError::GrantNotLive, R::ShareGrantNotLive),
        (
            SharingError::NotEnoughCfrags { have: 1, need: 2 },
            R::ShareNotEnoughCfrags,
        ),
        (
            SharingError::Crypto(cpchain_crypto::CryptoError::OpenFailed),
            R::OpenFailed,
        ),
        (
            SharingError::Decode(cpchain_core::DecodeError::Truncated),
            R::DecodeTruncated,
        ),
    ];
    for (e, want) in cases {
        assert_eq!(cpchain_result::from(e), want, "{e:?}");
        assert!((7000..8000).contains(&(want as u32)));
    }
}
