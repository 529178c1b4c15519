//! Blocks as LBFT sees them: a header the engine checks and a body it does not interpret.
//!
//! The [`BlockId`] is `keccak256` of the header's canonical wire encoding; the header holds no
//! seal, no signatures and no round, so the same block keeps its id when it is re-proposed in a
//! later round and every validator computes the same id for the deterministic impeach block
//! ([`Block::impeach`], §2.4.2 Impeachment step 1).

use super::error::BlockError;
use alloc::vec::Vec;
use cpchain_core::encoding::{encode_to_slice, Domain};
use cpchain_core::{
    keccak256, keccak256_iter, Address, ChainSpec, Hash, Height, Timestamp, WireMessage,
};
use cpchain_crypto::{SecretKey, Signature};
use serde::{Deserialize, Serialize};

/// The identity of a block: hash of its header's canonical encoding (the mainnet "sigHash").
pub type BlockId = Hash;

/// Hard cap on the transaction bytes of one block; [`crate::lbft::Config::max_block_bytes`]
/// may only lower it. It bounds the wire size of every message that carries a block.
pub const MAX_BLOCK_BYTES: usize = 1 << 20;

/// Hard cap on transactions per block, bounding per-transaction overhead in messages.
pub const MAX_TRANSACTIONS: usize = 1 << 16;

/// Most heap bytes a decoded block body can hold (`MAX_BLOCK_BYTES` + 24 bytes of `Vec`
/// header per transaction on a 64-bit host: 2.5 MiB). The decoder enforces it while
/// decoding; the memory budgets of [`crate::lbft::Config`] are stated in multiples of it.
pub const MAX_BODY_HEAP: usize =
    cpchain_core::encoding::bounded_byte_vecs_heap(MAX_TRANSACTIONS, MAX_BLOCK_BYTES);

/// Domain of the proposer's seal over a block id.
pub const SEAL_DOMAIN: Domain = Domain::new("cpchain/lbft/seal/v1");

/// A block header: what validators vote on (through its id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Chain the block belongs to; in the id, so ids (and every vote) never cross chains.
    pub chain_id: u64,
    /// Height; genesis is 0.
    pub height: Height,
    /// Id of the parent block.
    pub parent: BlockId,
    /// Header time in milliseconds, as on mainnet.
    pub timestamp: Timestamp,
    /// The proposer scheduled for this height (for an impeach block: the impeached one).
    pub proposer: Address,
    /// Reward address; zero exactly for impeach blocks, which earn nothing.
    pub coinbase: Address,
    /// Commitment to the body, see [`tx_root`].
    pub tx_root: Hash,
}

impl WireMessage for Header {
    const TAG: u16 = 0x0206;
    const MAX_ENCODED_LEN: usize = 160;
}

impl Header {
    /// The block id: keccak256 of the canonical encoding. Canonical decoding guarantees one
    /// byte form per header, so the id is a function of the header's content.
    ///
    /// It costs an encoding and a Keccak permutation: the engine computes it once per
    /// block it takes in (never trusting an id from the wire) and passes it along.
    pub fn id(&self) -> BlockId {
        // A Header always fits its MAX_ENCODED_LEN (encoded on the stack, no allocation);
        // the fallback is unreachable but keeps the function total.
        let mut buf = [0u8; <Header as WireMessage>::MAX_ENCODED_LEN];
        match encode_to_slice(self, &mut buf) {
            Ok(bytes) => keccak256(bytes),
            Err(_) => Hash::ZERO,
        }
    }

    /// A block is an impeach block exactly when its coinbase is zero (as on mainnet).
    pub fn is_impeach(&self) -> bool {
        self.coinbase.is_zero()
    }

    /// A genesis header for tests and devnets: height 0, zero parent.
    pub fn genesis(spec: &ChainSpec, timestamp: Timestamp) -> Header {
        Header {
            chain_id: spec.chain_id,
            height: Height(0),
            parent: Hash::ZERO,
            timestamp,
            proposer: Address::ZERO,
            coinbase: Address::ZERO,
            tx_root: EMPTY_TX_ROOT,
        }
    }
}

/// [`tx_root`] of an empty body (`keccak256` of nothing), the root of every impeach block.
pub const EMPTY_TX_ROOT: Hash = Hash([
    0xc5, 0xd2, 0x46, 0x01, 0x86, 0xf7, 0x23, 0x3c, 0x92, 0x7e, 0x7d, 0xb2, 0xdc, 0xc7, 0x03, 0xc0,
    0xe5, 0x00, 0xb6, 0x53, 0xca, 0x82, 0x27, 0x3b, 0x7b, 0xfa, 0xd8, 0x04, 0x5d, 0x85, 0xa4, 0x70,
]);

/// Commitment to a body: `keccak256(keccak256(tx_0) ‖ … ‖ keccak256(tx_n))`. A flat list
/// hash rather than mainnet's trie, since the engine only needs binding, not proofs.
///
/// The leaves are absorbed as they are computed (no buffer of `32 × n` bytes).
pub fn tx_root(transactions: &[Vec<u8>]) -> Hash {
    if transactions.is_empty() {
        return EMPTY_TX_ROOT;
    }
    keccak256_iter(transactions.iter().map(|tx| keccak256(tx)))
}

/// The leaves of [`tx_root`]: `keccak256` of each transaction, in body order. They are the
/// transactions' hashes as a host knows them (its pool and caches key on them), so the
/// engine hands them to the host with `ValidatorOutput::CheckBlock` instead of letting it
/// hash the body a second time (issue 14). Heap: `32 × transactions.len()` bytes, at most
/// [`MAX_LEAVES_HEAP`] for a body that decoded.
pub fn tx_leaves(transactions: &[Vec<u8>]) -> Vec<Hash> {
    transactions.iter().map(|tx| keccak256(tx)).collect()
}

/// [`tx_root`] from its leaves ([`tx_leaves`]): the same root without hashing the
/// transactions again, for a caller that holds their hashes already (a proposer's pool).
pub fn tx_root_of_leaves(leaves: &[Hash]) -> Hash {
    if leaves.is_empty() {
        return EMPTY_TX_ROOT;
    }
    keccak256_iter(leaves.iter().copied())
}

/// Most heap bytes the leaves of one decoded body take ([`tx_leaves`], the `tx_hashes`
/// of `ValidatorOutput::CheckBlock`): 32 bytes per transaction, at most
/// [`MAX_TRANSACTIONS`] of them (2 MiB).
pub const MAX_LEAVES_HEAP: usize = MAX_TRANSACTIONS * core::mem::size_of::<Hash>();

/// A block: header, the proposer's seal (none on impeach blocks) and an opaque body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// The header validators vote on.
    pub header: Header,
    /// Proposer's signature over the id under [`SEAL_DOMAIN`]; `None` on impeach blocks,
    /// which every validator builds itself.
    pub seal: Option<Signature>,
    /// Transactions, opaque to the engine; the host judges them (see `ValidatorOutput::CheckBlock`).
    /// Decoding refuses more than [`MAX_TRANSACTIONS`] of them or more than
    /// [`MAX_BLOCK_BYTES`] in all, counting as it goes, so a decoded body holds at most
    /// [`MAX_BODY_HEAP`] heap bytes. Each transaction goes through serde as bytes, not as a
    /// sequence of `u8` (issue 14; the same encoding, one slice per transaction).
    #[serde(
        serialize_with = "cpchain_core::encoding::byte_vecs",
        deserialize_with = "cpchain_core::encoding::bounded_byte_vecs::<_, MAX_TRANSACTIONS, MAX_BLOCK_BYTES>"
    )]
    pub transactions: Vec<Vec<u8>>,
}

impl WireMessage for Block {
    const TAG: u16 = 0x0202;
    const MAX_ENCODED_LEN: usize = MAX_BLOCK_BYTES + 5 * MAX_TRANSACTIONS + 256;
}

impl Block {
    /// The block id (of the header).
    pub fn id(&self) -> BlockId {
        self.header.id()
    }

    /// Whether this is an impeach block (zero coinbase).
    pub fn is_impeach(&self) -> bool {
        self.header.is_impeach()
    }

    /// Transaction bytes, the figure the size limits apply to.
    pub fn body_bytes(&self) -> usize {
        self.transactions
            .iter()
            .fold(0usize, |acc, tx| acc.saturating_add(tx.len()))
    }

    /// Build and seal a proposal on `parent` (§2.4.2 Block Production). The proposer may be
    /// an RNode outside the validator committee, so this is a free constructor, not a
    /// validator method.
    pub fn propose(
        spec: &ChainSpec,
        parent: &Header,
        key: &SecretKey,
        coinbase: Address,
        timestamp: Timestamp,
        transactions: Vec<Vec<u8>>,
    ) -> Block {
        let root = tx_root(&transactions);
        Block::propose_with_root(spec, parent, key, coinbase, timestamp, transactions, root)
    }

    /// [`Block::propose`] with the transactions' hashes (`keccak256` of each, in order: the
    /// leaves of [`tx_root`]) given by the caller, whose pool holds them already: the body
    /// is not hashed again (issue 14). The block is the very one [`Block::propose`] makes
    /// if the leaves are right. `leaves` of another length than `transactions` are not
    /// used (the body is hashed instead); wrong leaves of the right length give a block
    /// whose `tx_root` does not match its body, which every validator refuses
    /// (`BlockError::TxRoot`, no fault): the caller vouches for them.
    pub fn propose_with_leaves(
        spec: &ChainSpec,
        parent: &Header,
        key: &SecretKey,
        coinbase: Address,
        timestamp: Timestamp,
        transactions: Vec<Vec<u8>>,
        leaves: &[Hash],
    ) -> Block {
        let root = if leaves.len() == transactions.len() {
            tx_root_of_leaves(leaves)
        } else {
            tx_root(&transactions)
        };
        Block::propose_with_root(spec, parent, key, coinbase, timestamp, transactions, root)
    }

    fn propose_with_root(
        spec: &ChainSpec,
        parent: &Header,
        key: &SecretKey,
        coinbase: Address,
        timestamp: Timestamp,
        transactions: Vec<Vec<u8>>,
        tx_root: Hash,
    ) -> Block {
        let header = Header {
            chain_id: spec.chain_id,
            height: Height(parent.height.0.saturating_add(1)),
            parent: parent.id(),
            timestamp,
            proposer: key.public_key().address(),
            coinbase,
            tx_root,
        };
        let seal = key.sign(&SEAL_DOMAIN, header.id().as_bytes());
        Block {
            header,
            seal: Some(seal),
            transactions,
        }
    }

    /// The deterministic impeach block for the height after `parent` (§2.4.2 Impeachment
    /// step 1): empty body, zero coinbase, the impeached `proposer`, no seal, and time
    /// `parent + period + impeach timeout`. Every honest validator builds the same id.
    pub fn impeach(spec: &ChainSpec, parent: &Header, proposer: Address) -> Block {
        Block::impeach_on(spec, parent, parent.id(), proposer)
    }

    /// [`Block::impeach`] on a parent whose id the caller has computed.
    pub(crate) fn impeach_on(
        spec: &ChainSpec,
        parent: &Header,
        parent_id: BlockId,
        proposer: Address,
    ) -> Block {
        let header = Header {
            chain_id: spec.chain_id,
            height: Height(parent.height.0.saturating_add(1)),
            parent: parent_id,
            timestamp: parent
                .timestamp
                .saturating_add(spec.block_period)
                .saturating_add(spec.impeach_timeout),
            proposer,
            coinbase: Address::ZERO,
            tx_root: EMPTY_TX_ROOT,
        };
        Block {
            header,
            seal: None,
            transactions: Vec::new(),
        }
    }

    /// Check the seal was made by the header's proposer. Costs one public-key recovery
    /// (proposers are RNodes whose keys the validators know only by address).
    pub fn verify_seal(&self) -> Result<(), BlockError> {
        self.verify_seal_of(&self.id())
    }

    /// [`Block::verify_seal`] with the block's id computed by the caller (from this very
    /// header: the seal is checked over `id`).
    pub(crate) fn verify_seal_of(&self, id: &BlockId) -> Result<(), BlockError> {
        let seal = self.seal.as_ref().ok_or(BlockError::BadSeal)?;
        let signer = seal
            .recover_signer(&SEAL_DOMAIN, id.as_bytes())
            .map_err(|_| BlockError::BadSeal)?;
        if signer == self.header.proposer {
            Ok(())
        } else {
            Err(BlockError::BadSeal)
        }
    }
}

/// What must hold of a normal (non-impeach) proposal at the height after `parent`, apart
/// from the seal and the host's judgement of the body (§2.4.2 Normal Case step 1 and the
/// mainnet time window). `parent_id` is `parent.id()`, computed once by the caller.
///
/// It hashes the whole body (the `tx_root` check); a caller that has checked the body
/// binding already uses [`check_normal_header_fields`] instead (issue 14: one body hash per
/// block taken in).
pub(crate) fn check_normal_header(
    spec: &ChainSpec,
    parent: &Header,
    parent_id: &BlockId,
    scheduled: Option<Address>,
    block: &Block,
    max_block_bytes: usize,
    max_transactions: usize,
) -> Result<(), BlockError> {
    check_normal_header_fields(
        spec,
        parent,
        parent_id,
        scheduled,
        block,
        max_block_bytes,
        max_transactions,
    )?;
    if tx_root(&block.transactions) != block.header.tx_root {
        return Err(BlockError::TxRoot);
    }
    Ok(())
}

/// [`check_normal_header`] without the `tx_root` check: every rule but the body hash, for
/// callers that compare `tx_root` themselves (once).
pub(crate) fn check_normal_header_fields(
    spec: &ChainSpec,
    parent: &Header,
    parent_id: &BlockId,
    scheduled: Option<Address>,
    block: &Block,
    max_block_bytes: usize,
    max_transactions: usize,
) -> Result<(), BlockError> {
    let h = &block.header;
    if h.chain_id != spec.chain_id {
        return Err(BlockError::WrongChain);
    }
    if h.height.0 != parent.height.0.saturating_add(1) {
        return Err(BlockError::WrongHeight);
    }
    if h.parent != *parent_id {
        return Err(BlockError::WrongParent);
    }
    if scheduled != Some(h.proposer) {
        return Err(BlockError::WrongProposer);
    }
    if h.coinbase.is_zero() {
        return Err(BlockError::ZeroCoinbase);
    }
    let earliest = parent.timestamp.saturating_add(spec.block_period);
    let latest = earliest.saturating_add(spec.impeach_timeout);
    if h.timestamp < earliest || h.timestamp > latest {
        return Err(BlockError::Timestamp);
    }
    if block.body_bytes() > max_block_bytes || block.transactions.len() > max_transactions {
        return Err(BlockError::TooLarge);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn key(i: u8) -> SecretKey {
        SecretKey::from_bytes(&[i; 32]).unwrap()
    }

    #[test]
    fn impeach_block_is_deterministic_and_round_free() {
        let spec = ChainSpec::devnet();
        let g = Header::genesis(&spec, Timestamp(1_000));
        let p = key(1).public_key().address();
        let a = Block::impeach(&spec, &g, p);
        let b = Block::impeach(&spec, &g, p);
        assert_eq!(a.id(), b.id());
        assert!(a.is_impeach());
        assert_eq!(a.header.timestamp, Timestamp(1_000 + 3_000 + 3_000));
        // A different impeached proposer is a different block.
        assert_ne!(a.id(), Block::impeach(&spec, &g, Address([9; 20])).id());
    }

    #[test]
    fn seal_binds_proposer_and_content() {
        let spec = ChainSpec::devnet();
        let g = Header::genesis(&spec, Timestamp(0));
        let k = key(2);
        let mut b = Block::propose(
            &spec,
            &g,
            &k,
            Address([1; 20]),
            Timestamp(3_000),
            vec![vec![1, 2]],
        );
        assert_eq!(b.verify_seal(), Ok(()));
        assert_eq!(
            check_normal_header(
                &spec,
                &g,
                &g.id(),
                Some(k.public_key().address()),
                &b,
                1000,
                10
            ),
            Ok(())
        );
        b.header.coinbase = Address([2; 20]);
        assert_eq!(b.verify_seal(), Err(BlockError::BadSeal));
    }

    #[test]
    fn empty_tx_root_is_keccak_of_nothing() {
        assert_eq!(EMPTY_TX_ROOT, keccak256(&[]));
        assert_eq!(tx_root(&[]), EMPTY_TX_ROOT);
    }

    #[test]
    fn id_is_keccak_of_the_wire_encoding() {
        let spec = ChainSpec::devnet();
        let g = Header::genesis(&spec, Timestamp(5));
        let b = Block::propose(
            &spec,
            &g,
            &key(3),
            Address([1; 20]),
            Timestamp(3_005),
            vec![],
        );
        let bytes = cpchain_core::encoding::encode_to_vec(&b.header).unwrap();
        assert_eq!(b.id(), keccak256(&bytes));
        assert_eq!(
            Block::impeach_on(&spec, &g, g.id(), Address([4; 20])),
            Block::impeach(&spec, &g, Address([4; 20]))
        );
    }

    /// Issue 12 item 1: a body of `MAX_TRANSACTIONS + 1` empty transactions (65 KiB on
    /// the wire) used to decode, costing 48 heap bytes per wire byte; now the decoder
    /// refuses it, and the largest body it accepts stays within `MAX_BODY_HEAP`.
    #[test]
    fn decoding_refuses_more_than_max_transactions() {
        use cpchain_core::encoding::{decode, encode_to_vec};
        use cpchain_core::DecodeError;
        let spec = ChainSpec::devnet();
        let g = Header::genesis(&spec, Timestamp(0));
        let mut b = Block::impeach(&spec, &g, Address([1; 20]));
        b.transactions = vec![Vec::new(); MAX_TRANSACTIONS + 1];
        let bytes = encode_to_vec(&b).unwrap();
        assert!(bytes.len() < 70_000);
        assert_eq!(decode::<Block>(&bytes), Err(DecodeError::Malformed));
        b.transactions.pop();
        let ok = decode::<Block>(&encode_to_vec(&b).unwrap()).unwrap();
        assert_eq!(ok.transactions.len(), MAX_TRANSACTIONS);
        // Trimmed to its length: 24 bytes per empty transaction, not 48.
        assert_eq!(ok.transactions.capacity(), MAX_TRANSACTIONS);
        // Bytes over the cap are refused too, whatever the count.
        b.transactions = vec![
            vec![7u8; MAX_BLOCK_BYTES / 2],
            vec![7u8; MAX_BLOCK_BYTES / 2 + 1],
        ];
        assert_eq!(
            decode::<Block>(&encode_to_vec(&b).unwrap()),
            Err(DecodeError::Malformed)
        );
        assert_eq!(MAX_BODY_HEAP, MAX_BLOCK_BYTES + MAX_TRANSACTIONS * 24);
    }

    /// The flat list hash, spelled out: the leaves are keccak256 of each transaction.
    #[test]
    fn tx_root_is_keccak_of_the_concatenated_leaf_hashes() {
        let txs = vec![vec![1u8; 200], vec![], vec![2u8; 137]];
        let mut leaves = Vec::new();
        for tx in &txs {
            leaves.extend_from_slice(keccak256(tx).as_bytes());
        }
        assert_eq!(tx_root(&txs), keccak256(&leaves));
    }

    /// Issue 14: a block proposed from the pool's hashes is the block `propose` makes
    /// (same id, same `tx_root`), and the engine's own check of the body binding accepts
    /// it; leaves of the wrong length are not used.
    #[test]
    fn a_block_proposed_with_leaves_is_the_block_proposed_without() {
        let spec = ChainSpec::devnet();
        let g = Header::genesis(&spec, Timestamp(0));
        let k = key(4);
        let txs: Vec<Vec<u8>> = (0..50u8).map(|i| vec![i; 200]).collect();
        let leaves: Vec<Hash> = txs.iter().map(|t| keccak256(t)).collect();
        assert_eq!(tx_leaves(&txs), leaves);
        let plain = Block::propose(
            &spec,
            &g,
            &k,
            Address([1; 20]),
            Timestamp(3_000),
            txs.clone(),
        );
        let with = Block::propose_with_leaves(
            &spec,
            &g,
            &k,
            Address([1; 20]),
            Timestamp(3_000),
            txs.clone(),
            &leaves,
        );
        assert_eq!(with.header.tx_root, plain.header.tx_root);
        assert_eq!(with.header.tx_root, tx_root(&txs));
        assert_eq!(with.id(), plain.id());
        assert_eq!(with, plain);
        assert_eq!(
            check_normal_header(
                &spec,
                &g,
                &g.id(),
                Some(k.public_key().address()),
                &with,
                MAX_BLOCK_BYTES,
                MAX_TRANSACTIONS
            ),
            Ok(())
        );
        let short = Block::propose_with_leaves(
            &spec,
            &g,
            &k,
            Address([1; 20]),
            Timestamp(3_000),
            txs.clone(),
            &leaves[1..],
        );
        assert_eq!(short.id(), plain.id(), "wrong-length leaves are not used");
        assert_eq!(tx_root_of_leaves(&[]), EMPTY_TX_ROOT);
    }

    #[test]
    fn tx_root_separates_bodies() {
        assert_ne!(tx_root(&[vec![1], vec![2]]), tx_root(&[vec![1, 2]]));
        assert_ne!(tx_root(&[]), tx_root(&[vec![]]));
    }
}
