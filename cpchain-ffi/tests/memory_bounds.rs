//! Issue 12 item 1, data side: the memory a data machine holds is bounded whatever peers
//! send. This binary has its own counting global allocator (per thread, so tests running in
//! parallel do not disturb each other's figures). Each test floods one machine, directly
//! and through its C entry points, with maximum-size inputs from outsiders and from
//! legitimate-but-malicious peers, checks the heap it holds against the documented bound
//! of its config (`memory_bound()`, formulas in the `cpchain_storage::sharing` docs and
//! `docs/SECURITY.md`, section 4), then checks that honest traffic still works.
//!
//! It lives in cpchain-ffi because a global allocator needs `unsafe`, which only this crate
//! allows; it drives the Rust machines of cpchain-storage as well as the C functions.
//! Run with `--features pre` for the sharing machines. `--nocapture` prints the figures.
//!
//! SAFETY (for every `unsafe` call to a C function below, hence the lint allowance): each
//! pointer passed points to a live local of exactly the length passed with it, and each
//! handle is live until its one `_free` call. The allocator's own unsafe blocks say why.
#![allow(clippy::undocumented_unsafe_blocks)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use cpchain_core::encoding;
use cpchain_core::{Duration, Timestamp};
use cpchain_crypto::SecretKey;
use cpchain_ffi::*;
use cpchain_storage::*;
#[cfg(feature = "pre")]
use rand_chacha::ChaCha20Rng;
#[cfg(feature = "pre")]
use rand_core::SeedableRng;

// ---------------------------------------------------------------------------------------
// The counting allocator.
// ---------------------------------------------------------------------------------------

struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    // try_with: a thread being torn down has no counters left; its frees are not counted.
    let _ = LIVE.try_with(|live| {
        let v = live.get() + delta;
        live.set(v);
        let _ = PEAK.try_with(|peak| {
            if v > peak.get() {
                peak.set(v)
            }
        });
    });
}

// SAFETY: every method forwards to the system allocator with the caller's arguments, which
// meet GlobalAlloc's contract because the callers' do; the counting touches no allocation.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) };
        count(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Heap bytes this thread holds now.
fn live() -> isize {
    LIVE.with(|l| l.get())
}

/// Start a peak measurement from the current level; returns that level.
fn reset_peak() -> isize {
    let now = live();
    PEAK.with(|p| p.set(now));
    now
}

/// Highest level since the last `reset_peak`.
fn peak() -> isize {
    PEAK.with(|p| p.get())
}

#[test]
fn the_counter_sees_allocations() {
    let before = live();
    let v = vec![0u8; 12_345];
    assert_eq!(live() - before, 12_345);
    drop(v);
    assert_eq!(live(), before);
}

// ---------------------------------------------------------------------------------------
// ChainVerifier / reader: keeps nothing; decoding allocates no more than the wire carried.
// ---------------------------------------------------------------------------------------

const STREAM: StreamId = StreamId([0x33; 32]);

fn schedule() -> Schedule {
    Schedule::new(
        Duration::from_millis(1000),
        Duration::from_millis(4000),
        Duration::from_millis(2000),
    )
    .unwrap()
}

fn device() -> SecretKey {
    SecretKey::from_bytes(&[0x11; 32]).unwrap()
}

fn master() -> MasterSecret {
    MasterSecret::from_bytes([0x22; 32])
}

/// An honest chain of `n` blocks with maximum-size bodies (1 MiB), as wire bytes, and the
/// anchor of its head. Sealed block by block (a `Writer<1 MiB>` would not fit a test
/// thread's stack), exactly as the writer seals them.
fn big_chain(n: u64) -> (Vec<Vec<u8>>, Vec<Anchor>) {
    let salt = SessionSalt::from_entropy(&device().public_key().address(), &[9; 32]);
    let key = master().interval_key(&STREAM, 0);
    // Framing: a 1-byte time delta and a 3-byte length; then the 16-byte tag.
    let record = vec![0x5a; MAX_BLOCK_BODY - 16 - 4];
    let mut blocks = Vec::new();
    let mut prev = BlockId::default();
    for i in 0..n {
        let mut body = Vec::new();
        block::RecordFramer::push(&mut body, 0, &record).unwrap();
        let header = BlockHeader {
            stream: STREAM,
            index: i,
            prev,
            first_time: Timestamp(i * 1000),
            last_time: Timestamp(i * 1000),
            record_count: 1,
            interval: 0,
            key_id: key.id(),
            salt,
        };
        let b: VecBlock = Block::seal(header, body, &key, &device()).unwrap();
        assert_eq!(b.body.len(), MAX_BLOCK_BODY);
        prev = b.id();
        blocks.push(encoding::encode_to_vec(&b).unwrap());
    }
    let anchor = Anchor::sign(STREAM, n - 1, prev, Timestamp(n * 1000), &device());
    (blocks, vec![anchor])
}

#[test]
fn chain_verifier_keeps_nothing_and_decodes_only_what_the_wire_carried() {
    let (blocks, _) = big_chain(3);
    assert!(blocks[0].len() > MAX_BLOCK_BODY);
    let outsider = SecretKey::from_bytes(&[0x99; 32]).unwrap();
    // Forged: the outsider's blocks (a valid encoding, the wrong signer), a block whose body
    // length prefix claims 1 MiB but carries 10 bytes, and truncated real blocks.
    let mut forged = blocks[0].clone();
    let mut b0: VecBlock = encoding::decode(&forged).unwrap();
    let seal = seal_in_place(
        b0.header,
        &mut {
            let mut p = Vec::new();
            block::RecordFramer::push(&mut p, 0, b"x").unwrap();
            p
        },
        &master().interval_key(&STREAM, 0),
        &outsider,
    )
    .unwrap();
    b0.signature = seal.signature;
    forged = encoding::encode_to_vec(&b0).unwrap();
    let mut lying = blocks[0][..3 + 200].to_vec();
    lying.extend_from_slice(&[0xff; 16]);

    let mut verifier = ChainVerifier::new(STREAM, device().public_key(), schedule());
    let base = reset_peak();
    let mut worst_decode_excess = 0isize;
    for bytes in [
        &forged, &lying, &blocks[1], &blocks[0], &blocks[0], &blocks[2],
    ]
    .into_iter()
    .chain(blocks.iter())
    {
        let before = reset_peak();
        let decoded = encoding::decode::<VecBlock>(bytes);
        // Never more than the bytes given (plus the block's fixed-size part).
        let excess = peak() - before - bytes.len() as isize;
        worst_decode_excess = worst_decode_excess.max(excess);
        assert!(
            excess <= core::mem::size_of::<VecBlock>() as isize,
            "{excess}"
        );
        if let Ok(b) = decoded {
            let _ = verifier.verify_block(&b);
        }
    }
    // The verifier holds nothing: every byte decoded was freed with its block.
    assert_eq!(live(), base);
    // Honest traffic after the flood: the three honest blocks in order verified (the loop
    // fed them last, in order), the chain reads back.
    assert_eq!(verifier.next_index(), 3);
    let owned: Vec<VecBlock> = blocks
        .iter()
        .map(|b| encoding::decode(b).unwrap())
        .collect();
    let before = reset_peak();
    let mut n = 0;
    read_chain(
        ChainVerifier::new(STREAM, device().public_key(), schedule()),
        &[],
        &owned,
        &master(),
        |_, _| n += 1,
    )
    .unwrap();
    assert_eq!(n, 3);
    // read_chain's one scratch buffer: at most the largest body.
    let scratch = peak() - before;
    assert!(scratch <= MAX_BLOCK_BODY as isize, "{scratch}");
    println!(
        "chain verifier: 0 bytes held after {} blocks; decode excess over input ≤ {worst_decode_excess} B; read_chain peak {scratch} B",
        blocks.len() + 6
    );
}

#[test]
fn c_chain_reader_frees_everything_and_stays_within_its_inputs() {
    let (blocks, anchors) = big_chain(2);
    let anchor_bytes: Vec<Vec<u8>> = anchors
        .iter()
        .map(|a| encoding::encode_to_vec(a).unwrap())
        .collect();
    let pk = device().public_key().to_compressed();
    let sched = cpchain_chain_schedule {
        period_ms: 1000,
        encryption_interval_ms: 4000,
        upload_interval_ms: 2000,
    };
    let m = [0x22u8; 32];
    // Outsider input: garbage of maximum size, and many copies of one block (replays).
    let garbage = vec![0xa5u8; MAX_BLOCK_BODY + BLOCK_OVERHEAD_FOR_TEST];
    let mut inputs: Vec<Vec<cpchain_bytes>> = Vec::new();
    let as_bytes = |v: &Vec<u8>| cpchain_bytes {
        ptr: v.as_ptr(),
        len: v.len(),
    };
    inputs.push(vec![as_bytes(&garbage)]);
    inputs.push(vec![as_bytes(&blocks[0]); 16]);
    inputs.push(blocks.iter().map(as_bytes).collect()); // honest, last
    let anchors_c: Vec<cpchain_bytes> = anchor_bytes.iter().map(as_bytes).collect();
    let mut results = Vec::with_capacity(inputs.len());
    let base = live();
    let mut worst = 0isize;
    for blocks_c in &inputs {
        let before = reset_peak();
        let mut summary = core::mem::MaybeUninit::<cpchain_chain_summary>::uninit();
        let rc = unsafe {
            cpchain_chain_verify(
                STREAM.0.as_ptr(),
                32,
                pk.as_ptr(),
                pk.len(),
                &sched,
                core::ptr::null(),
                anchors_c.as_ptr(),
                anchors_c.len(),
                blocks_c.as_ptr(),
                blocks_c.len(),
                m.as_ptr(),
                32,
                summary.as_mut_ptr(),
            )
        };
        results.push(rc);
        let input: usize = blocks_c.iter().map(|b| b.len).sum();
        let bound = input + blocks_c.len() * core::mem::size_of::<VecBlock>() + 64 * 1024;
        let used = peak() - before;
        worst = worst.max(used - input as isize);
        assert!(used <= bound as isize, "{used} > {bound}");
        // Nothing is kept after the call returns.
        assert_eq!(live(), base);
    }
    assert_ne!(results[0], cpchain_result::Ok);
    assert_ne!(results[1], cpchain_result::Ok);
    assert_eq!(
        results[2],
        cpchain_result::Ok,
        "honest chain after the flood"
    );
    println!("cpchain_chain_verify: 0 bytes kept; peak over the input bytes ≤ {worst} B");
}

/// Envelope, header, hash, signature and length prefix: enough to make garbage over-long.
const BLOCK_OVERHEAD_FOR_TEST: usize = 512;

// ---------------------------------------------------------------------------------------
// Sharing: Proxy, Grantee, Owner (feature `pre`).
// ---------------------------------------------------------------------------------------

#[cfg(feature = "pre")]
mod sharing {
    use super::*;
    use cpchain_core::Address;
    use cpchain_crypto::pre::{generate_kfrags, KfragSigner, PreSecretKey};
    use cpchain_storage::sharing::*;

    const NOW: Timestamp = Timestamp(1_000);
    const EXPIRES: Timestamp = Timestamp(10_000_000);
    const CHAIN: u64 = 337;

    fn key(i: u32) -> SecretKey {
        let mut b = [0x40u8; 32];
        b[..4].copy_from_slice(&i.to_be_bytes());
        SecretKey::from_bytes(&b).unwrap()
    }

    fn addrs(n: u32) -> Vec<Address> {
        (0..n)
            .map(|i| key(1000 + i).public_key().address())
            .collect()
    }

    /// A maximum-size delivery for proxy `to` (16 intervals, 16 proxies), with the grantee
    /// `grantee`, signed by `owner`; kfrags made once by `kfrags_for`.
    struct BigGrant {
        grant: Grant,
        kfrags: Vec<heapless::Vec<cpchain_crypto::pre::KeyFrag, MAX_GRANT_INTERVALS>>,
    }

    fn big_grant(rng: &mut ChaCha20Rng, grantee: &PreSecretKey, proxies: &[Address]) -> BigGrant {
        let signer_sk = PreSecretKey::random(rng).unwrap().0;
        let signer = KfragSigner::new(&signer_sk);
        let mut delegating_keys = heapless::Vec::new();
        let mut kfrags: Vec<heapless::Vec<_, MAX_GRANT_INTERVALS>> =
            (0..proxies.len()).map(|_| heapless::Vec::new()).collect();
        for _ in 0..MAX_GRANT_INTERVALS {
            let d = PreSecretKey::random(rng).unwrap().0;
            delegating_keys.push(d.public_key()).unwrap();
            let ks = generate_kfrags(
                rng,
                &d,
                &grantee.public_key(),
                &signer,
                1,
                proxies.len() as u8,
            )
            .unwrap();
            for (list, k) in kfrags.iter_mut().zip(ks.iter()) {
                list.push(k.to_unverified()).unwrap();
            }
        }
        BigGrant {
            grant: Grant {
                chain_id: CHAIN,
                owner: Address::ZERO,
                stream: STREAM,
                first_interval: 0,
                last_interval: MAX_GRANT_INTERVALS as u64 - 1,
                grantee: grantee.public_key(),
                threshold: 1,
                proxies: heapless::Vec::from_slice(proxies).unwrap(),
                kfrag_signer: signer.verifying_key(),
                delegating_keys,
                issued_at: NOW,
                expires_at: EXPIRES,
                salt: [0; GRANT_SALT_LEN],
            },
            kfrags,
        }
    }

    impl BigGrant {
        /// The grant re-signed by `owner` with salt `salt`: a new id, the same valid kfrags.
        fn delivery(&self, owner: &SecretKey, salt: u32, proxy: usize) -> KfragDelivery {
            let mut g = self.grant.clone();
            g.owner = owner.public_key().address();
            g.salt[..4].copy_from_slice(&salt.to_be_bytes());
            let (_, signed) = g.sign(owner).unwrap();
            KfragDelivery {
                grant: signed,
                proxy: self.grant.proxies[proxy],
                kfrags: self.kfrags[proxy].clone(),
            }
        }
    }

    fn drain_proxy(p: &mut Proxy) {
        while p.poll_output().is_some() {}
    }

    #[test]
    fn proxy_memory_stays_within_its_bound_under_a_flood() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let config = ProxyConfig {
            chain_id: CHAIN,
            max_grants: 6,
            max_outputs: 12,
            ..ProxyConfig::default()
        };
        let bound = config.memory_bound() as isize;
        let proxies = addrs(MAX_PROXIES as u32);
        let grantee = PreSecretKey::random(&mut rng).unwrap().0;
        let big = big_grant(&mut rng, &grantee, &proxies);
        // An honest owner's grant, held before the flood.
        let honest_owner = key(1);
        let honest = big.delivery(&honest_owner, 0, 0);
        let honest_id = honest.grant.verify(CHAIN).unwrap();
        let capsule = {
            let d = PreSecretKey::random(&mut rng).unwrap().0;
            cpchain_crypto::pre::wrap_key(
                &mut rng,
                &d.public_key(),
                &cpchain_crypto::aead::AeadKey::from_bytes([1; 32]),
            )
            .unwrap()
            .capsule()
            .clone()
        };

        let mut p = Proxy::new(key(1000), config);
        let base = live();
        reset_peak();
        p.handle_delivery(NOW, honest.clone()).unwrap();
        drain_proxy(&mut p);

        // 1. Legitimate-but-malicious owners: valid maximum-size grants until the table is
        //    full, then refused (CapacityExceeded), never kept.
        let mut refused = 0;
        for i in 1..=(3 * config.max_grants as u32) {
            let d = big.delivery(&key(2000 + i), i, 0);
            match p.handle_delivery(NOW, d) {
                Ok(()) => drain_proxy(&mut p),
                Err(SharingError::CapacityExceeded) => refused += 1,
                Err(e) => panic!("{e:?}"),
            }
        }
        assert_eq!(p.held_grants(), config.max_grants);
        assert!(refused > 0);
        // 2. Revokes for made-up grant ids (anyone may revoke an id nobody holds): the
        //    tombstones fill, then are refused.
        for i in 0..(2 * config.max_grants as u32) {
            let owner = key(3000 + i);
            let mut id = [0u8; 32];
            id[..4].copy_from_slice(&i.to_be_bytes());
            let r = Revoke {
                chain_id: CHAIN,
                owner: owner.public_key().address(),
                grant: GrantId(cpchain_core::Hash(id)),
                until: EXPIRES,
                at: NOW,
            }
            .sign(&owner)
            .unwrap();
            let _ = p.handle_revoke(NOW, r);
            drain_proxy(&mut p);
        }
        // 3. Outsiders: forged signatures, bad kfrags (a fault that carries the whole
        //    delivery as evidence) and requests, left in the output queue until it is full.
        let mut bad = big.delivery(&key(4000), 4000, 0);
        bad.kfrags.swap(0, 1);
        let mut forged = big.delivery(&key(4001), 4001, 0);
        forged.grant.signature = bad.grant.signature;
        let mut full = 0;
        for i in 0..(3 * config.max_outputs) {
            let r = match i % 3 {
                0 => p.handle_delivery(NOW, bad.clone()),
                1 => p.handle_delivery(NOW, forged.clone()),
                _ => p.handle_request(
                    NOW,
                    &mut rng,
                    ReencryptionRequest {
                        grant: honest_id,
                        interval: 0,
                        capsule: capsule.clone(),
                    },
                ),
            };
            if r == Err(SharingError::CapacityExceeded) {
                full += 1;
            }
        }
        assert!(full > 0);
        // 4. Decoding a delivery whose kfrag count claims far more than the limit reserves
        //    nothing for the kfrags it does not carry.
        //    The kfrag list starts after the envelope, the signed grant and the proxy address;
        //    its length prefix claims 65 535 kfrags, one kfrag's worth of bytes follows.
        let grant_len = encoding::encode_to_vec(&honest.grant).unwrap().len() - 3;
        let full_bytes = encoding::encode_to_vec(&honest).unwrap();
        let mut lying = full_bytes[..3 + grant_len + 20].to_vec();
        lying.extend_from_slice(&[0xff, 0xff, 0x03]);
        lying.extend_from_slice(&full_bytes[3 + grant_len + 21..][..300]);
        let before = reset_peak();
        assert!(encoding::decode::<KfragDelivery>(&lying).is_err());
        assert!(peak() - before < 4096, "{}", peak() - before);

        let held = live() - base;
        println!(
            "proxy (max_grants {}, max_outputs {}): holds {held} B after the flood, bound {bound} B",
            config.max_grants, config.max_outputs
        );
        assert!(held <= bound, "{held} > {bound}");

        // Honest traffic still works: once the host drains the queue, the honest grant is
        // served.
        drain_proxy(&mut p);
        p.handle_request(
            NOW,
            &mut rng,
            ReencryptionRequest {
                grant: honest_id,
                interval: 0,
                capsule,
            },
        )
        .unwrap();
        assert!(matches!(p.poll_output(), Some(ProxyOutput::Reply { .. })));
        assert!(p.holds(&honest_id));
    }

    #[test]
    fn grantee_memory_stays_within_its_bound_under_a_flood() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let config = GranteeConfig {
            chain_id: CHAIN,
            max_grants: 6,
            max_pending: 8,
            max_outputs: 20,
            ..GranteeConfig::default()
        };
        let bound = config.memory_bound() as isize;
        let (gk, _) = PreSecretKey::random(&mut rng).unwrap();
        // The honest world: an owner, three proxies, a 2-of-3 grant of interval 3.
        let owner_key = key(1);
        let mut owner =
            Owner::new(owner_key.clone(), master(), STREAM, OwnerConfig::default()).unwrap();
        let proxy_keys: Vec<SecretKey> = (0..3).map(|i| key(1000 + i)).collect();
        let mut proxies: Vec<Proxy> = proxy_keys
            .iter()
            .map(|k| {
                Proxy::new(
                    k.clone(),
                    ProxyConfig {
                        chain_id: CHAIN,
                        ..ProxyConfig::default()
                    },
                )
            })
            .collect();
        let proxy_addrs: Vec<Address> = proxies.iter().map(|p| p.address()).collect();
        let req = GrantRequest {
            first_interval: 3,
            last_interval: 3,
            grantee: gk.public_key(),
            threshold: 2,
            proxies: &proxy_addrs,
            expires_at: EXPIRES,
        };
        let honest = owner.grant(NOW, &mut rng, &req).unwrap();
        let mut signed_honest = None;
        while let Some(o) = owner.poll_output() {
            match o {
                OwnerOutput::PublishGrant(g) => signed_honest = Some(*g),
                OwnerOutput::SendKfrags { to, delivery } => {
                    let p = proxies.iter_mut().find(|p| p.address() == to).unwrap();
                    p.handle_delivery(NOW, *delivery).unwrap();
                    drain_proxy(p);
                }
                _ => {}
            }
        }
        let wrapped = owner.wrap_interval_key(&mut rng, 3).unwrap();
        let mut responses = Vec::new();
        for p in &mut proxies {
            p.handle_request(
                NOW,
                &mut rng,
                ReencryptionRequest {
                    grant: honest,
                    interval: 3,
                    capsule: wrapped.capsule().clone(),
                },
            )
            .unwrap();
            match p.poll_output() {
                Some(ProxyOutput::Reply { response, .. }) => responses.push(*response),
                o => panic!("{o:?}"),
            }
        }
        // Maximum-size grants addressed to this grantee, signed by outsiders (anyone can).
        let outsider_grant = |i: u32| {
            let mut g = signed_honest.clone().unwrap().body;
            g.owner = key(5000 + i).public_key().address();
            g.proxies = heapless::Vec::from_slice(&addrs(MAX_PROXIES as u32)).unwrap();
            g.first_interval = 0;
            g.last_interval = MAX_GRANT_INTERVALS as u64 - 1;
            g.delegating_keys.clear();
            for _ in 0..MAX_GRANT_INTERVALS {
                g.delegating_keys.push(g.grantee).unwrap();
            }
            g.salt[..4].copy_from_slice(&i.to_be_bytes());
            g.sign(&key(5000 + i)).unwrap().1
        };

        let mut grantee = Grantee::new(gk, config);
        let base = live();
        grantee
            .accept_grant(NOW, signed_honest.as_ref().unwrap())
            .unwrap();
        let mut flood_ids = Vec::new();
        for i in 0..(2 * config.max_grants as u32) {
            if let Ok(id) = grantee.accept_grant(NOW, &outsider_grant(i)) {
                flood_ids.push(id);
            }
        }
        assert_eq!(flood_ids.len(), config.max_grants - 1);
        // Pending requests (the grantee's own, bounded by max_pending), under the flood
        // grants, with their requests sent.
        let mut pending = 0;
        'fill: for id in &flood_ids {
            for interval in 0..MAX_GRANT_INTERVALS as u64 {
                if pending + 1 == config.max_pending {
                    break 'fill;
                }
                grantee.request(NOW, id, interval, wrapped.clone()).unwrap();
                while grantee.poll_output().is_some() {}
                pending += 1;
            }
        }
        grantee.request(NOW, &honest, 3, wrapped.clone()).unwrap();
        while grantee.poll_output().is_some() {}
        // Outsiders' cfrags (a real cfrag re-signed by a non-proxy: dropped and counted
        // since issue 13), a malicious proxy's replays of its own cfrag, and a proxy of the
        // grant signing a cfrag for an interval outside it (a fault, carrying the largest
        // evidence), until the queue is full.
        let outsider = key(6000);
        let mut misrouted = responses[0].body.clone();
        misrouted.interval = 99;
        let mut full = 0;
        for i in 0..(8 * config.max_outputs) {
            let r = match i % 4 {
                0 => grantee.handle_cfrag(
                    NOW,
                    CfragResponse::sign(responses[0].body.clone(), &outsider).unwrap(),
                ),
                1 => grantee.handle_cfrag(NOW, responses[0].clone()),
                2 => grantee.handle_cfrag(
                    NOW,
                    CfragResponse::sign(responses[0].body.clone(), &proxy_keys[0]).unwrap(),
                ),
                _ => grantee.handle_cfrag(
                    NOW,
                    CfragResponse::sign(misrouted.clone(), &proxy_keys[1]).unwrap(),
                ),
            };
            if r == Err(SharingError::CapacityExceeded) {
                full += 1;
            }
        }
        assert!(full > 0);
        assert_eq!(
            grantee.verified_cfrags(&honest, 3),
            1,
            "one share per proxy"
        );
        let held = live() - base;
        println!(
            "grantee (max_grants {}, max_pending {}, max_outputs {}): holds {held} B after the flood, bound {bound} B",
            config.max_grants, config.max_pending, config.max_outputs
        );
        assert!(held <= bound, "{held} > {bound}");

        // Honest traffic still works: drain, the second proxy's cfrag makes it Ready.
        while grantee.poll_output().is_some() {}
        grantee.handle_cfrag(NOW, responses[1].clone()).unwrap();
        assert_eq!(
            grantee.poll_output(),
            Some(GranteeOutput::Ready {
                grant: honest,
                interval: 3
            })
        );
        assert_eq!(
            grantee.open(&honest, 3).unwrap(),
            master().interval_key(&STREAM, 3)
        );
    }

    #[test]
    fn owner_memory_stays_within_its_bound_under_maximum_requests() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let config = OwnerConfig {
            chain_id: CHAIN,
            max_grants: 2,
            max_outputs: 2 * (MAX_PROXIES + 1),
            max_cached_keys: 8,
        };
        let bound = config.memory_bound() as isize;
        let (gk, _) = PreSecretKey::random(&mut rng).unwrap();
        let proxies = addrs(MAX_PROXIES as u32);
        let mut owner = Owner::new(key(1), master(), STREAM, config).unwrap();
        let base = live();
        // Buyers' requests of maximum size (16 intervals, 16 proxies), more than it keeps.
        let mut refused = 0;
        for i in 0..(config.max_grants as u64 + 2) {
            let req = GrantRequest {
                first_interval: 100 * i,
                last_interval: 100 * i + MAX_GRANT_INTERVALS as u64 - 1,
                grantee: gk.public_key(),
                threshold: 3,
                proxies: &proxies,
                expires_at: EXPIRES,
            };
            match owner.grant(NOW, &mut rng, &req) {
                Ok(_) => {}
                Err(SharingError::CapacityExceeded) => refused += 1,
                Err(e) => panic!("{e:?}"),
            }
        }
        assert_eq!(refused, 2);
        let held = live() - base;
        println!(
            "owner (max_grants {}, max_outputs {}, max_cached_keys {}): holds {held} B with its queue full, bound {bound} B",
            config.max_grants, config.max_outputs, config.max_cached_keys
        );
        assert!(held <= bound, "{held} > {bound}");
        // Honest traffic still works: once the host drains and the grants expire, a new
        // grant is issued.
        while owner.poll_output().is_some() {}
        owner.handle_timeout(EXPIRES);
        let req = GrantRequest {
            first_interval: 1,
            last_interval: 1,
            grantee: gk.public_key(),
            threshold: 1,
            proxies: &proxies[..1],
            expires_at: Timestamp(EXPIRES.as_millis() + 1000),
        };
        owner.grant(EXPIRES, &mut rng, &req).unwrap();
    }

    /// The same flood through the C entry points: the proxy handle (default config) holds
    /// no more than its machine's bound plus one pending output.
    #[test]
    fn c_proxy_handle_stays_within_its_bound() {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let proxies = addrs(MAX_PROXIES as u32);
        let grantee = PreSecretKey::random(&mut rng).unwrap().0;
        let big = big_grant(&mut rng, &grantee, &proxies);
        let identity = {
            let mut k = core::ptr::null_mut();
            let seed = {
                let mut b = [0x40u8; 32];
                b[..4].copy_from_slice(&1000u32.to_be_bytes());
                b
            };
            assert_eq!(
                unsafe { cpchain_secret_key_from_bytes(seed.as_ptr(), 32, &mut k) },
                cpchain_result::Ok
            );
            k
        };
        let mut p = core::ptr::null_mut();
        assert_eq!(
            unsafe { cpchain_share_proxy_new(identity, CHAIN, &mut p) },
            cpchain_result::Ok
        );
        let bound = ProxyConfig::default().memory_bound() as isize
            + 2 * CPCHAIN_SHARE_OUTPUT_MAX_LEN as isize;
        let base = live();
        let mut bad = big.delivery(&key(4000), 4000, 0);
        bad.kfrags.swap(0, 1);
        let bad = encoding::encode_to_vec(&bad).unwrap();
        let garbage = vec![0xa5u8; 2 * CPCHAIN_SHARE_OUTPUT_MAX_LEN];
        let mut results = std::collections::BTreeMap::new();
        for i in 0..600u32 {
            let bytes = match i % 4 {
                // Valid maximum-size deliveries from 20 different owners (16 kfrag checks
                // each), then only bad ones: the output queue fills either way.
                0 if i < 80 => {
                    encoding::encode_to_vec(&big.delivery(&key(7000 + i), i, 0)).unwrap()
                }
                0 => bad.clone(),
                1 => bad.clone(),
                2 => garbage.clone(),
                _ => garbage[..7].to_vec(),
            };
            let before = reset_peak();
            let rc = unsafe {
                cpchain_share_proxy_handle_delivery(p, NOW.as_millis(), bytes.as_ptr(), bytes.len())
            };
            *results.entry(rc as u32).or_insert(0) += 1;
            // Never more than the machine's own bound (plus what the call decodes) in flight.
            assert!(peak() - before <= bound + 2 * bytes.len() as isize);
        }
        let held = live() - base;
        println!(
            "C proxy handle (default config): holds {held} B after 600 deliveries, bound {bound} B; result codes {results:?}"
        );
        assert!(held <= bound, "{held} > {bound}");
        assert!(results.contains_key(&(cpchain_result::ShareCapacityExceeded as u32)));
        // Honest traffic afterwards: drain, then a valid delivery is accepted.
        let mut buf = vec![0u8; CPCHAIN_SHARE_OUTPUT_MAX_LEN];
        loop {
            let (mut n, mut kind) = (0usize, cpchain_share_output_kind::None);
            let mut info = core::mem::MaybeUninit::uninit();
            let rc = unsafe {
                cpchain_share_proxy_poll(
                    p,
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut n,
                    &mut kind,
                    info.as_mut_ptr(),
                )
            };
            if rc == cpchain_result::NoOutput {
                break;
            }
            assert_eq!(rc, cpchain_result::Ok);
        }
        let honest = encoding::encode_to_vec(&big.delivery(&key(1), 999_999, 0)).unwrap();
        assert_eq!(
            unsafe {
                cpchain_share_proxy_handle_delivery(
                    p,
                    NOW.as_millis(),
                    honest.as_ptr(),
                    honest.len(),
                )
            },
            cpchain_result::Ok
        );
        drop((bad, garbage, results, buf, honest));
        unsafe { cpchain_share_proxy_free(p) };
        unsafe { cpchain_secret_key_free(identity) };
        // Freeing the handle returns everything it held (it was itself made before `base`).
        assert!(live() < base);
    }

    /// The same flood through the grantee's C entry points (default config): grants from
    /// outsiders until the table is full, then outsiders' cfrags until the queue is full.
    #[test]
    fn c_grantee_handle_stays_within_its_bound() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let seed = [0x0bu8; 32];
        let me = PreSecretKey::from_seed(&seed).unwrap();
        let mut g = core::ptr::null_mut();
        assert_eq!(
            unsafe { cpchain_share_grantee_new(seed.as_ptr(), 32, CHAIN, &mut g) },
            cpchain_result::Ok
        );
        let config = GranteeConfig::default();
        let bound = config.memory_bound() as isize + 2 * CPCHAIN_SHARE_OUTPUT_MAX_LEN as isize;
        let proxies = addrs(MAX_PROXIES as u32);
        let big = big_grant(&mut rng, &me, &proxies);
        let grant_bytes = |i: u32| {
            let owner = key(8000 + i);
            let mut grant = big.grant.clone();
            grant.owner = owner.public_key().address();
            grant.salt[..4].copy_from_slice(&i.to_be_bytes());
            encoding::encode_to_vec(&grant.sign(&owner).unwrap().1).unwrap()
        };
        // A real cfrag (of some capsule) under a held grant, signed by an outsider.
        let first = grant_bytes(0);
        let base = live();
        let mut id = [0u8; 32];
        let mut accepted = 0;
        let mut results = std::collections::BTreeMap::new();
        for i in 0..(config.max_grants as u32 + 20) {
            let bytes = if i == 0 {
                first.clone()
            } else {
                grant_bytes(i)
            };
            let rc = unsafe {
                cpchain_share_grantee_accept_grant(
                    g,
                    NOW.0,
                    bytes.as_ptr(),
                    bytes.len(),
                    id.as_mut_ptr(),
                    32,
                )
            };
            accepted += (rc == cpchain_result::Ok) as usize;
            *results.entry(rc as u32).or_insert(0) += 1;
        }
        assert_eq!(accepted, config.max_grants);
        let first_id = encoding::decode::<SignedGrant>(&first)
            .unwrap()
            .verify(CHAIN)
            .unwrap();
        let d = PreSecretKey::random(&mut rng).unwrap().0;
        let wrapped = cpchain_crypto::pre::wrap_key(
            &mut rng,
            &d.public_key(),
            &cpchain_crypto::aead::AeadKey::from_bytes([1; 32]),
        )
        .unwrap();
        let signer = KfragSigner::new(&d);
        let kf = generate_kfrags(&mut rng, &d, &me.public_key(), &signer, 1, 1).unwrap();
        let cfrag = cpchain_crypto::pre::reencrypt(&mut rng, wrapped.capsule(), &kf[0]);
        let body = CfragBody {
            grant: first_id,
            interval: 0,
            capsule: wrapped.capsule().clone(),
            cfrag: cfrag.to_unverified(),
        };
        let outsider =
            encoding::encode_to_vec(&CfragResponse::sign(body, &key(9000)).unwrap()).unwrap();
        let garbage = vec![0x5au8; 2 * CPCHAIN_SHARE_OUTPUT_MAX_LEN];
        for i in 0..(2 * config.max_outputs + 20) {
            let bytes = if i % 2 == 0 { &outsider } else { &garbage };
            let rc = unsafe {
                cpchain_share_grantee_handle_cfrag(g, NOW.as_millis(), bytes.as_ptr(), bytes.len())
            };
            *results.entry(rc as u32).or_insert(0) += 1;
        }
        let held = live() - base - (garbage.len() + outsider.len()) as isize;
        println!(
            "C grantee handle (default config): holds {held} B after the flood, bound {bound} B; result codes {results:?}"
        );
        assert!(held <= bound, "{held} > {bound}");
        assert!(results.contains_key(&(cpchain_result::ShareCapacityExceeded as u32)));
        // Honest traffic afterwards: drained, the grantee takes requests again.
        let mut buf = vec![0u8; CPCHAIN_SHARE_OUTPUT_MAX_LEN];
        loop {
            let (mut n, mut kind) = (0usize, cpchain_share_output_kind::None);
            let mut info = core::mem::MaybeUninit::uninit();
            let rc = unsafe {
                cpchain_share_grantee_poll(
                    g,
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut n,
                    &mut kind,
                    info.as_mut_ptr(),
                )
            };
            if rc == cpchain_result::NoOutput {
                break;
            }
            assert_eq!(rc, cpchain_result::Ok);
        }
        let wk = encoding::encode_to_vec(&wrapped).unwrap();
        assert_eq!(
            unsafe {
                cpchain_share_grantee_request(
                    g,
                    NOW.as_millis(),
                    first_id.0.as_bytes().as_ptr(),
                    32,
                    0,
                    wk.as_ptr(),
                    wk.len(),
                )
            },
            cpchain_result::Ok
        );
        unsafe { cpchain_share_grantee_free(g) };
    }

    /// The default configs' bounds stay under the ceilings `docs/SECURITY.md` (section 4)
    /// promises on x86_64. The exact figures follow the types' sizes (they moved when the
    /// signature type changed), so the test pins the promise, not the bytes, and prints them.
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn default_bounds_are_within_the_documented_ceilings() {
        let p = ProxyConfig::default().memory_bound();
        let g = GranteeConfig::default().memory_bound();
        let o = OwnerConfig::default().memory_bound();
        println!("default bounds: proxy {p} B, grantee {g} B, owner {o} B");
        assert!(p <= 80_000_000, "proxy bound {p} B over its 80 MB ceiling");
        assert!(
            g <= 64_000_000,
            "grantee bound {g} B over its 64 MB ceiling"
        );
        assert!(o <= 8_000_000, "owner bound {o} B over its 8 MB ceiling");
        // and each is a real bound, not a degenerate formula
        assert!(p > 1_000_000 && g > 1_000_000 && o > 100_000);
    }

    /// The delivery layout before this change: kfrags in a `Vec`, which serde pre-reserves
    /// from the length prefix. Same wire form as [`KfragDelivery`].
    #[derive(serde::Serialize, serde::Deserialize)]
    struct VecDelivery {
        grant: SignedGrant,
        proxy: Address,
        kfrags: Vec<cpchain_crypto::pre::KeyFrag>,
    }

    impl cpchain_core::WireMessage for VecDelivery {
        const TAG: u16 = <KfragDelivery as cpchain_core::WireMessage>::TAG;
        const MAX_ENCODED_LEN: usize =
            <KfragDelivery as cpchain_core::WireMessage>::MAX_ENCODED_LEN;
    }

    /// A delivery whose kfrag count claims 65 535 (three bytes) is refused without
    /// reserving memory for kfrags the bytes do not carry. (The former `Vec` layout was not
    /// much worse: postcard bounds serde's pre-reservation by the input left; measured
    /// here so the figure in the docs is a measurement.)
    #[test]
    fn a_forged_kfrag_count_is_refused_without_reserving_for_it() {
        let mut rng = ChaCha20Rng::seed_from_u64(6);
        let grantee = PreSecretKey::random(&mut rng).unwrap().0;
        let big = big_grant(&mut rng, &grantee, &addrs(1));
        let honest = big.delivery(&key(1), 0, 0);
        let grant_len = encoding::encode_to_vec(&honest.grant).unwrap().len() - 3;
        let full_bytes = encoding::encode_to_vec(&honest).unwrap();
        // Envelope, signed grant, proxy address, then the count: 65 535 claimed, one kfrag's
        // worth of bytes given.
        let mut lying = full_bytes[..3 + grant_len + 20].to_vec();
        lying.extend_from_slice(&[0xff, 0xff, 0x03]);
        lying.extend_from_slice(&full_bytes[3 + grant_len + 21..][..300]);
        // Both layouts read the honest bytes alike.
        let old: VecDelivery = encoding::decode(&full_bytes).unwrap();
        assert_eq!(old.kfrags.len(), MAX_GRANT_INTERVALS);
        drop(old);

        let before = reset_peak();
        assert!(encoding::decode::<KfragDelivery>(&lying).is_err());
        let now = peak() - before;
        let before = reset_peak();
        assert!(encoding::decode::<VecDelivery>(&lying).is_err());
        let then = peak() - before;
        println!("forged kfrag count: {now} B reserved now, {then} B with the Vec layout");
        assert!(now < 4096, "{now}");
        assert!(then < 64 * 1024, "{then}");
    }
}

// ---------------------------------------------------------------------------------------
// LBFT fault evidence (issue 13): anyone's bytes, a bounded heap, nothing kept.
// ---------------------------------------------------------------------------------------

/// Heap a `cpchain_lbft_verify_evidence` call may use at its peak with a committee of four
/// (the decoded committee keys and the set; the evidence itself holds no heap: votes,
/// headers and proposal claims are fixed-size fields). Measured: 800 B (2026-12-06).
const EVIDENCE_CALL_HEAP_MAX: isize = 4096;

#[test]
fn lbft_evidence_costs_a_bounded_heap_and_keeps_nothing() {
    let keys: Vec<[u8; 33]> = (0..4u8)
        .map(|i| {
            SecretKey::from_bytes(&[0x70 + i; 32])
                .unwrap()
                .public_key()
                .to_compressed()
        })
        .collect();
    let mut spec = std::ptr::null_mut();
    assert_eq!(
        unsafe { cpchain_chain_spec_devnet(&mut spec) },
        cpchain_result::Ok
    );
    let mut worst = 0isize;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    // Garbage of every length up to the cap (with the evidence envelope's tag, so the body
    // is parsed), and inputs far above it (refused before parsing).
    for len in (0..=CPCHAIN_LBFT_EVIDENCE_MAX_LEN).chain([513, 4096, 1 << 20]) {
        let mut bytes: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        if len >= 4 {
            bytes[..4].copy_from_slice(&[1, 0x02, 0x08, (len % 4) as u8]);
        }
        let mut o: cpchain_lbft_offence = unsafe { std::mem::zeroed() };
        let before = reset_peak();
        let r = unsafe {
            cpchain_lbft_verify_evidence(
                spec,
                keys.as_ptr().cast(),
                4,
                bytes.as_ptr(),
                bytes.len(),
                &mut o,
            )
        };
        assert_ne!(r, cpchain_result::Ok);
        assert_ne!(r, cpchain_result::Panic);
        assert_eq!(live(), before, "a refused call keeps nothing");
        worst = worst.max(peak() - before);
    }
    unsafe { cpchain_chain_spec_free(spec) };
    println!("cpchain_lbft_verify_evidence: peak heap {worst} B per call (bound {EVIDENCE_CALL_HEAP_MAX} B)");
    assert!(worst <= EVIDENCE_CALL_HEAP_MAX, "{worst}");
}
