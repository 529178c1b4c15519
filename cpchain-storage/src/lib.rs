//! CPChain data layer: interval-encrypted IoT data chains, on-chain anchors, Reed–Solomon
//! shards with Kademlia placement, and the key index of the "improved DHT" (white paper §2.1,
//! §2.2.1, §2.2.2, §2.5.1).
//!
//! # The data chain (§2.2.1)
//! Records of a stream are chained in time order. Each period T packs the stream's records
//! into a [`Block`]; each encryption interval e has its own key ([`keys`]); every upload
//! interval u the head of the chain is signed into an [`Anchor`] for the host to put on chain.
//! Only hashes and anchors go on chain; encrypted blocks go to the DHT as [`Shard`]s, and a
//! [`KeyIndexRecord`] per block records which shards and which key belong to it.
//!
//! ```text
//!   device / gateway (no_std, no alloc)               host (alloc)
//!   records ──► Writer ──► WriterOutput::Block ──► persist ──► shard_block ──► place_shards ──► DHT
//!                     └──► WriterOutput::Anchor ─────────────────────────────────────────────► chain
//!   reader: anchors + blocks ──► verify_chain ──► open_block (interval key) ──► records
//! ```
//!
//! ```
//! use cpchain_core::{Duration, Timestamp};
//! use cpchain_crypto::SecretKey;
//! use cpchain_storage::*;
//!
//! // T = 1 s, e = 1 min, u = 10 s.
//! let schedule = Schedule::new(Duration::from_secs(1), Duration::from_mins(1), Duration::from_secs(10))?;
//! let stream = StreamId([7; 32]);
//! let device = SecretKey::from_bytes(&[0x11; 32])?;
//! let owner = MasterSecret::from_bytes([0x22; 32]);
//! # let mut rng = rand_chacha::ChaCha20Rng::from_seed([0x5e; 32]);
//! # use rand_chacha::rand_core::SeedableRng;
//! // `rng`: the device's hardware RNG; it salts this writer session's nonces.
//! let mut writer: Writer<4096> =
//!     Writer::new(stream, schedule, device.clone(), owner.clone(), &mut rng);
//!
//! let (mut blocks, mut anchors) = (Vec::new(), Vec::new());
//! for (t, reading) in [(100, &b"21.5C"[..]), (600, b"21.6C"), (1_200, b"21.8C")] {
//!     writer.append(Timestamp(t), reading)?;
//!     while let Some(out) = writer.poll_output() {
//!         match out {
//!             WriterOutput::Block(b) => blocks.push(b.to_vec_block()), // persist, shard, place
//!             WriterOutput::Anchor(a) => anchors.push(a), // put on chain
//!         }
//!     }
//! }
//! writer.handle_timeout(Timestamp(10_000)); // the host's timer: seal and anchor
//! while let Some(out) = writer.poll_output() {
//!     match out {
//!         WriterOutput::Block(b) => blocks.push(b.to_vec_block()),
//!         WriterOutput::Anchor(a) => anchors.push(a),
//!     }
//! }
//! assert_eq!((blocks.len(), anchors.len()), (2, 1));
//!
//! let verifier = ChainVerifier::new(stream, device.public_key(), schedule);
//! let summary = verify_chain(verifier, &anchors, &blocks, &owner)?;
//! assert_eq!(summary.anchored, Some(1));
//! let key = owner.interval_key(&stream, blocks[0].header.interval);
//! let mut scratch = [0u8; 4096];
//! let first: Vec<_> = open_block(&blocks[0], &key, &mut scratch)?.map(|r| r.data.to_vec()).collect();
//! assert_eq!(first, [b"21.5C".to_vec(), b"21.6C".to_vec()]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # State machine ([`Writer`])
//! Inputs: [`Writer::append`]`(now, record)` and [`Writer::handle_timeout`]`(now)` at
//! [`Writer::next_deadline`]. Outputs, drained with [`Writer::poll_output`]: a sealed block
//! (lent as a [`BlockRef`] into the writer's buffer, valid until the next call), then the
//! anchor that covers it. Invariants: block indices are consecutive from 0; each
//! block links to the previous block's id; a block's records lie in one period T and so in
//! one encryption interval; times never go backwards; every error leaves the writer
//! unchanged; same inputs give the same bytes out. See [`writer`] for the decisions on late
//! and oversized records.
//!
//! # Verification ([`reader`])
//! [`ChainVerifier`] and [`verify_chain`] detect tampering, reordering, dropped, replayed and
//! conflicting blocks, truncation after an anchor and a block under the wrong interval's key,
//! each as its own [`VerifyError`]; [`open_block`] then decrypts (and, with `alloc`,
//! [`read_chain`] does both, delivering records only once the whole run has verified). The
//! verifier's `Err` is its verdict on untrusted data, not a caller error; the offending
//! block is the evidence.
//!
//! # Features and firmware
//! `#![no_std]`. Without features the writer, blocks, anchors, keys, verification, key-index
//! records and [`closest`] placement work with no allocator (the gateway profile, §2.5.1).
//! `alloc` adds `Vec`-bodied blocks, Reed–Solomon sharding ([`shard_block`], [`reassemble`])
//! and disjoint placement ([`place_shards`]); `std` (default) adds k256's precomputed tables.
//!
//! # Market listings (§2.2.3)
//! [`market`]: the PDash listing record (title, labels, description, price, stream, interval
//! range), its id (Keccak-256 of the canonical encoding) and the seller's signature.
//!
//! # Feature `pre`: authorised sharing (§2.2.2), the GPL-3.0 boundary
//! `sharing` exists only with feature `pre` (off by default), which links umbral-pre
//! (GPL-3.0-only): a build with `pre` is GPL-3.0, the default build has no GPL code. It wraps
//! each encryption interval's data key in an Umbral capsule under a delegating key derived
//! for that interval alone (HKDF-Keccak256, label
//! `"cpchain/sharing/interval-delegating-key/v1"`, distinct from the data-key label), because
//! a kfrag re-encrypts every capsule made under one delegating key; the capsule goes in the
//! [`KeyIndexRecord`]'s `capsule` field. Owner, proxy and grantee state machines issue,
//! serve and open grants; see the module docs.
//!
//! # Wire types (tags 0x04xx)
//! [`Block`] 0x0405 (v2; v1 was 0x0401), [`Anchor`] 0x0402, [`KeyIndexRecord`] 0x0403, [`Shard`] 0x0404; all go
//! through [`cpchain_core::encoding`] (canonical, size-limited, no panics).
//!
//! # Deviations from the paper
//! * The paper leaves T, e and u free; here e and u must be multiples of T and all three are
//!   aligned to the Unix epoch, so a block never needs two keys and an anchor never cuts a
//!   block ([`Schedule`]).
//! * Interval keys are per stream as well as per interval, so an authorisation for one
//!   interval of one stream opens nothing else.
//! * Shards of one block are placed on disjoint node sets (see [`placement`]) rather than
//!   each independently on its r closest nodes, so that losing any m nodes is survivable.
//! * Blocks are sealed with XChaCha20-Poly1305 under nonce = session salt ‖ block index,
//!   the salt drawn from the caller's RNG for every writer session and carried in the
//!   header, rather than ChaCha20-Poly1305 under an index-only nonce: a writer restarted
//!   from genesis, or a second gateway of the stream, then never reuses a (key, nonce) pair,
//!   without any persistent state (issue 12 item 5; reasoning in [`block`]).
//! * Anchors are emitted only when the head moved: an idle stream costs no transactions.
#![no_std]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod anchor;
pub mod block;
mod error;
mod ids;
pub mod index;
pub mod keys;
pub mod market;
pub mod placement;
pub mod reader;
mod schedule;
#[cfg(feature = "alloc")]
pub mod shard;
#[cfg(feature = "pre")]
pub mod sharing;
pub mod signed;
pub mod writer;

pub use anchor::{Anchor, ANCHOR_DOMAIN};
#[cfg(feature = "alloc")]
pub use block::VecBlock;
pub use block::{
    seal_in_place, Block, BlockBody, BlockHeader, BlockId, BlockRef, BlockSeal, HeaplessBlock,
    Record, Records, SessionSalt, StreamId, BLOCK_DOMAIN, MAX_BLOCK_BODY,
};
pub use error::{ConfigError, PlacementError, SealError, ShardError, VerifyError, WriteError};
pub use index::{KeyIndexRecord, ShardId, ShardParams, MAX_SHARDS};
pub use keys::{IntervalKey, KeyId, KeyPurpose, KeyRing, MasterSecret, NoKeys};
pub use placement::{closest, Distance, KadKey};
#[cfg(feature = "alloc")]
pub use placement::{closest_nodes, place_shards, ShardPlacement};
pub use reader::{open_block, verify_chain, ChainSummary, ChainVerifier};
#[cfg(feature = "alloc")]
pub use reader::{open_block_to_vec, read_chain, OpenedBlock};
pub use schedule::Schedule;
#[cfg(feature = "alloc")]
pub use shard::{reassemble, shard_block, Shard};
pub use signed::{Signable, Signed, SignedError};
pub use writer::{Checkpoint, Output, Writer, WriterOutput, WriterStats};
