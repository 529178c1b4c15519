//! Issue 14, pass 5: the validator's `Persist` record without block copies. The blocks a
//! record names are written once into `persist_blocks` (keyed by block id, in the
//! record's own durable transaction) and the record names them by id; reading back
//! reassembles the exact record; the table holds only the current record's blocks; an
//! old database (whole record) still restores; a record whose block is missing or stored
//! under a wrong id is a corrupt database at start-up. And the count of full blocks
//! written per height per validator, before and after, from four in-process validators.

use cpchain_consensus::lbft::{Block, Certificate, Header, LockProof, Persisted, Vote, VoteKind};
use cpchain_core::{encoding, Address, ChainSpec, Hash, Height, Timestamp};
use cpchain_crypto::SecretKey;
use cpchain_node::config::NodeConfig;
use cpchain_node::error::NodeError;
use cpchain_node::store::{ChainStamp, PersistCounters, Store};
use cpchain_node::tx::{check_one, Transaction, TxBody, TxKind};
use cpchain_node::validator::{Action, ValidatorHost};
use std::path::{Path, PathBuf};

const CHAIN_ID: u64 = 41;

/// A directory removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let d = std::env::temp_dir().join(format!(
            "cpchain-persist-blocks-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("dir");
        Dir(d)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn key(i: u8) -> SecretKey {
    SecretKey::from_bytes(&[i; 32]).expect("scalar")
}

fn stamp() -> ChainStamp {
    ChainStamp {
        chain_id: CHAIN_ID,
        genesis: Hash([1; 32]),
        committee: Hash([2; 32]),
    }
}

fn spec() -> ChainSpec {
    let mut s = ChainSpec::devnet();
    s.chain_id = CHAIN_ID;
    s
}

fn parent() -> Header {
    Header::genesis(&spec(), Timestamp(0))
}

/// A sealed block at height 1 with `n` 200-byte transactions marked `salt`.
fn block(salt: u8, n: usize) -> Block {
    Block::propose(
        &spec(),
        &parent(),
        &key(2),
        Address([salt; 20]),
        Timestamp(1_000 + u64::from(salt)),
        (0..n).map(|i| vec![salt ^ (i as u8); 200]).collect(),
    )
}

fn vote(kind: VoteKind, b: &Block) -> Vote {
    Vote::sign(&key(1), CHAIN_ID, kind, Height(1), 0, b.id())
}

fn lock(b: &Block) -> (u32, LockProof) {
    (
        0,
        LockProof {
            block: b.clone(),
            certificate: Certificate {
                kind: VoteKind::Prepare,
                height: Height(1),
                round: 0,
                block: b.id(),
                signatures: vec![(Address([9; 20]), vote(VoteKind::Prepare, b).signature)],
            },
        },
    )
}

fn record(prepared: Option<&Block>, locked: Option<&Block>) -> Persisted {
    Persisted {
        chain_id: CHAIN_ID,
        parent: parent(),
        round: 0,
        round_start: Timestamp(1_000),
        prepared: prepared.map(|b| vote(VoteKind::Prepare, b)),
        committed: locked.map(|b| vote(VoteKind::Commit, b)),
        lock: locked.map(lock),
        prepared_block: prepared.cloned(),
        proposed: false,
        led: true,
    }
}

fn db(dir: &Dir) -> PathBuf {
    dir.0.join("chain.redb")
}

/// Every shape a record takes reads back exactly, from the open store and after a
/// reopen (the layout on disk, not a cache).
#[test]
fn persist_record_round_trips_none_prepared_lock_both_and_shared() {
    let dir = Dir::new("round-trip");
    let (a, b) = (block(1, 10), block(2, 7));
    // The same id as `a`, another body: an id cannot key both, one stays inline.
    let mut a_other = a.clone();
    a_other.transactions.push(vec![0xee; 3]);
    assert_eq!(a_other.id(), a.id());
    let cases = [
        ("none", record(None, None)),
        ("prepared", record(Some(&a), None)),
        ("lock", record(None, Some(&b))),
        ("both", record(Some(&a), Some(&b))),
        ("same block in both", record(Some(&a), Some(&a))),
        ("same id, other block", record(Some(&a_other), Some(&a))),
    ];
    for (name, r) in cases {
        {
            let s = Store::open(&db(&dir), stamp()).expect("open");
            s.put_persisted(&r).expect("put");
            assert_eq!(s.persisted().expect("read"), Some(r.clone()), "{name}");
        }
        let s = Store::open(&db(&dir), stamp()).expect("reopen");
        assert_eq!(s.persisted().expect("read"), Some(r), "{name}, reopened");
    }
}

/// One write of the table test: prepared block, locked block, the table's ids after it,
/// blocks written by it.
type Step<'a> = (Option<&'a Block>, Option<&'a Block>, Vec<Hash>, u64);

/// The table holds exactly the blocks the current record names, after every write (a
/// block no longer named is deleted in the same transaction), also when the store was
/// reopened and does not know what the table holds; and a record naming a block the
/// table holds already writes no block.
#[test]
fn persist_blocks_table_holds_only_the_current_records_blocks() {
    let dir = Dir::new("table-bound");
    let (a, b, c) = (block(1, 10), block(2, 7), block(3, 5));
    let ids = |v: &[&Block]| {
        let mut ids: Vec<Hash> = v.iter().map(|b| b.id()).collect();
        ids.sort();
        ids
    };
    let s = Store::open(&db(&dir), stamp()).expect("open");
    let steps: [Step; 7] = [
        (Some(&a), None, ids(&[&a]), 1),
        (Some(&a), None, ids(&[&a]), 0),
        (Some(&a), Some(&b), ids(&[&a, &b]), 1),
        (None, Some(&b), ids(&[&b]), 0),
        (Some(&b), Some(&b), ids(&[&b]), 0),
        (None, None, vec![], 0),
        (Some(&c), None, ids(&[&c]), 1),
    ];
    for (i, (p, l, want, written)) in steps.into_iter().enumerate() {
        let before = s.persist_counters();
        s.put_persisted(&record(p, l)).expect("put");
        assert_eq!(s.persist_block_ids().expect("ids"), want, "step {i}");
        let after = s.persist_counters();
        assert_eq!(
            after.blocks_written - before.blocks_written,
            written,
            "step {i}"
        );
        assert_eq!(after.records - before.records, 1);
    }
    drop(s);
    // Reopened: what the table holds is unknown to the store; the stale row still goes.
    let s = Store::open(&db(&dir), stamp()).expect("reopen");
    s.put_persisted(&record(Some(&a), None)).expect("put");
    assert_eq!(s.persist_block_ids().expect("ids"), ids(&[&a]));
    assert_eq!(s.persisted().expect("read"), Some(record(Some(&a), None)));
    // A block with a known id but another body is written again, never taken for the
    // stored one.
    let mut a_other = a.clone();
    a_other.transactions.pop();
    let before = s.persist_counters();
    s.put_persisted(&record(Some(&a_other), None)).expect("put");
    assert_eq!(
        s.persist_counters().blocks_written - before.blocks_written,
        1
    );
    assert_eq!(
        s.persisted().expect("read"),
        Some(record(Some(&a_other), None))
    );
}

/// A database written by the old code (the whole record under the old key) restores
/// with the new; the first new write replaces the old key.
#[test]
fn old_layout_database_still_restores() {
    let dir = Dir::new("old-layout");
    let (a, b) = (block(1, 10), block(2, 7));
    let old = record(Some(&a), Some(&b));
    {
        let s = Store::open(&db(&dir), stamp()).expect("open");
        s.put_persisted_whole(&old).expect("old write");
        assert!(s.persist_block_ids().expect("ids").is_empty());
    }
    let s = Store::open(&db(&dir), stamp()).expect("reopen");
    assert_eq!(s.persisted().expect("read"), Some(old.clone()));
    let new = record(Some(&a), None);
    s.put_persisted(&new).expect("new write");
    drop(s);
    let s = Store::open(&db(&dir), stamp()).expect("reopen");
    assert_eq!(s.persisted().expect("read"), Some(new));
    drop(s);
    // The old key is gone (raw look at the file).
    let raw = redb::Database::open(db(&dir)).expect("redb");
    let tx = raw.begin_read().expect("read");
    let t = tx
        .open_table(redb::TableDefinition::<&str, &[u8]>::new("state"))
        .expect("state");
    assert!(t.get("validator").expect("get").is_none());
    assert!(t.get("validator/refs").expect("get").is_some());
}

/// A node configuration whose database is `dir/chain.redb` (for `ValidatorHost::start`).
fn node_cfg(dir: &Path, keys: &[SecretKey]) -> NodeConfig {
    NodeConfig {
        chain_id: CHAIN_ID,
        block_period_ms: 1_000,
        impeach_timeout_ms: 5_000,
        genesis_ms: 1_000_000,
        validators: keys
            .iter()
            .map(|k| hex::encode(k.public_key().to_compressed()))
            .collect(),
        key_file: PathBuf::from("key"),
        data_dir: dir.to_path_buf(),
        listen_port: 0,
        api_port: None,
        peers: Vec::new(),
        vote_log: false,
        silent_proposer: false,
        proposers: Vec::new(),
        campaign: false,
        gossip: Default::default(),
        catch_up_heights: 8,
        max_block_bytes: cpchain_consensus::lbft::MAX_BLOCK_BYTES,
        proxy: None,
        storage: None,
        gateway: None,
    }
}

/// Write a record naming `a` (prepared) and `b` (locked) into a real node database,
/// then let `tamper` edit `persist_blocks` raw; the node must refuse to start with a
/// corrupt-database error naming `why`.
fn start_refuses(name: &str, why: &str, tamper: impl FnOnce(&mut redb::Table<&[u8], &[u8]>)) {
    let dir = Dir::new(name);
    let keys: Vec<SecretKey> = (1..=4).map(key).collect();
    let cfg = node_cfg(&dir.0, &keys);
    let (a, b) = (block(1, 10), block(2, 7));
    {
        let s = cpchain_node::node::open_store(&cfg).expect("store");
        s.put_persisted(&record(Some(&a), Some(&b))).expect("put");
    }
    {
        let raw = redb::Database::open(cfg.db_path()).expect("redb");
        let tx = raw.begin_write().expect("write");
        {
            let mut t = tx
                .open_table(redb::TableDefinition::<&[u8], &[u8]>::new("persist_blocks"))
                .expect("table");
            tamper(&mut t);
        }
        tx.commit().expect("commit");
    }
    let s = cpchain_node::node::open_store(&cfg).expect("the file itself is intact");
    match ValidatorHost::start(&cfg, keys[0].clone(), &s, Timestamp(1_000_000)) {
        Err(NodeError::DatabaseCorrupt { reason, .. }) => {
            assert!(reason.contains(why), "{reason}")
        }
        Err(e) => panic!("another error: {e}"),
        Ok(_) => panic!("started on a corrupt database"),
    }
}

/// A record naming a block the table lacks: a corrupt database, not a fresh start.
#[test]
fn record_naming_a_missing_block_refuses_start_up() {
    let a = block(1, 10);
    start_refuses("missing", "which is not stored", |t| {
        t.remove(a.id().0.as_slice()).expect("remove");
    });
}

/// A block stored under another block's id: a corrupt database.
#[test]
fn block_under_a_wrong_id_refuses_start_up() {
    let (a, c) = (block(1, 10), block(3, 5));
    start_refuses("wrong-id", "has id", |t| {
        let enc = encoding::encode_to_vec(&c).expect("encode");
        t.insert(a.id().0.as_slice(), enc.as_slice())
            .expect("insert");
    });
}

/// A stored block that does not decode: a corrupt database.
#[test]
fn undecodable_persisted_block_refuses_start_up() {
    let b = block(2, 7);
    start_refuses("garbage", "does not decode", |t| {
        t.insert(b.id().0.as_slice(), [7u8; 40].as_slice())
            .expect("insert");
    });
}

/// Four in-process validators (the test routes every broadcast to every other node, as
/// the node loop does) decide `HEIGHTS` heights, each block with a transaction. Counted:
/// how many `Persist` records each validator writes per height, how many blocks those
/// records name (each one a full block encoded and fsynced by the old layout) and how
/// many the new layout writes.
#[test]
fn full_blocks_written_per_height_per_validator() {
    const N: usize = 4;
    const HEIGHTS: u64 = 6;
    const GENESIS_MS: u64 = 1_000_000;
    let dir = Dir::new("count");
    let keys: Vec<SecretKey> = (1..=N as u8).map(key).collect();
    let addrs: Vec<Address> = keys.iter().map(|k| k.public_key().address()).collect();
    let mut stores = Vec::new();
    let mut hosts = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let d = dir.0.join(format!("n{i}"));
        std::fs::create_dir_all(&d).expect("dir");
        let cfg = node_cfg(&d, &keys);
        let s = cpchain_node::node::open_store(&cfg).expect("store");
        hosts.push(ValidatorHost::start(&cfg, k.clone(), &s, Timestamp(GENESIS_MS)).expect("host"));
        stores.push(s);
    }
    let mut now = Timestamp(GENESIS_MS);
    for h in 0..HEIGHTS {
        let tx = Transaction::sign(
            &keys[0],
            TxBody {
                chain_id: CHAIN_ID,
                nonce: h,
                kind: TxKind::Transfer {
                    to: Address([7; 20]),
                    amount: 1,
                },
            },
        )
        .to_bytes();
        for (host, s) in hosts.iter_mut().zip(&stores) {
            let r = host.admit_checked(vec![check_one(&tx, CHAIN_ID)], s);
            assert!(r.iter().all(|r| r.is_ok()), "admitted");
        }
        now = Timestamp(now.0 + 1_000);
        for (host, s) in hosts.iter_mut().zip(&stores) {
            host.on_timeout(now, s);
        }
        let mut settled = false;
        for _ in 0..1_000 {
            let mut queue = Vec::new();
            for i in 0..N {
                for a in hosts[i].drain(now, &stores[i]).expect("drain") {
                    match a {
                        Action::Broadcast(b) => {
                            for j in (0..N).filter(|j| *j != i) {
                                queue.push((i, j, b.clone()));
                            }
                        }
                        Action::Send { to, bytes } => {
                            if let Some(j) = addrs.iter().position(|a| *a == to) {
                                queue.push((i, j, bytes));
                            }
                        }
                    }
                }
            }
            if queue.is_empty() {
                settled = true;
                break;
            }
            for (i, j, b) in queue {
                if cpchain_node::compact::is_compact(&b) {
                    if let Ok(cv) = cpchain_node::compact::decode(&b) {
                        hosts[j].on_compact_validate(now, addrs[i], cv);
                    }
                } else {
                    hosts[j].on_bytes(now, addrs[i], &b);
                }
            }
        }
        assert!(settled, "the network settled");
    }
    let mut total = PersistCounters::default();
    for (i, s) in stores.iter().enumerate() {
        let head = s.head().expect("head").expect("a block");
        assert_eq!(
            head.block.header.height,
            Height(HEIGHTS),
            "node {i} decided every height"
        );
        assert!(!head.block.transactions.is_empty(), "blocks have bodies");
        let c = s.persist_counters();
        // One block per height, in the happy path: each written once.
        assert_eq!(c.blocks_written, HEIGHTS, "node {i}: {c:?}");
        assert!(c.blocks_named > c.blocks_written, "node {i}: {c:?}");
        // The table holds only what the last record names.
        assert!(s.persist_block_ids().expect("ids").len() <= 1);
        total.records += c.records;
        total.blocks_named += c.blocks_named;
        total.blocks_written += c.blocks_written;
        total.bytes_written += c.bytes_written;
    }
    let per = (N as u64 * HEIGHTS) as f64;
    println!(
        "per height per validator: {:.2} Persist records, {:.2} full blocks named (written by the \
         whole-record layout), {:.2} blocks written now; totals {total:?}",
        total.records as f64 / per,
        total.blocks_named as f64 / per,
        total.blocks_written as f64 / per,
    );
}
