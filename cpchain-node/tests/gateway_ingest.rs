//! Gateway ingest and the buyer's verify + decrypt + CSV path on library parts (issue 15
//! items 3 and 5): outputs made by the Rust `Writer` (fixed seed) are judged by the node's
//! `gateway` module, served over its HTTP routes and from a directory; the buyer rebuilds
//! one interval from the shards and gets exactly its readings.

use cpchain_core::encoding;
use cpchain_crypto::SecretKey;
use cpchain_node::buyer::{self, OnChainStream, Walk};
use cpchain_node::devgateway::{self, SimOptions, SimOutput};
use cpchain_node::gateway::{
    self, Gateway, GatewayDb, GatewayService, GatewaySink, IngestError, PreparedBlock, Verdict,
};
use cpchain_storage::{
    reassemble, Anchor, BlockId, KeyIndexRecord, MasterSecret, Shard, ShardParams, StreamId,
    VecBlock,
};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

const START_MS: u64 = 1_800_000_000_000; // a multiple of 60 s

struct Fixture {
    device: SecretKey,
    master: MasterSecret,
    opts: SimOptions,
    outputs: Vec<SimOutput>,
    readings: Vec<(u64, Vec<u8>)>,
}

fn fixture(seconds: u64, seed: u64) -> Fixture {
    let device = SecretKey::from_bytes(&[0x11; 32]).expect("key");
    let master = MasterSecret::from_bytes([0x22; 32]);
    let opts = SimOptions {
        stream: StreamId([7; 32]),
        schedule: devgateway::default_schedule(),
        start_ms: START_MS,
        seconds,
        pad: 0,
        seed,
    };
    let (outputs, readings) = devgateway::simulate(&opts, &device, &master).expect("simulate");
    Fixture {
        device,
        master,
        opts,
        outputs,
        readings,
    }
}

fn config(f: &Fixture) -> gateway::StreamConfig {
    gateway::StreamConfig {
        stream: f.opts.stream,
        device: f.device.public_key(),
        schedule: f.opts.schedule,
        params: ShardParams::new(4, 2).expect("params"),
    }
}

fn blocks(f: &Fixture) -> Vec<Vec<u8>> {
    f.outputs
        .iter()
        .filter_map(|o| match o {
            SimOutput::Block(b) => Some(b.clone()),
            SimOutput::Anchor(_) => None,
        })
        .collect()
}

fn anchors(f: &Fixture) -> Vec<Vec<u8>> {
    f.outputs
        .iter()
        .filter_map(|o| match o {
            SimOutput::Anchor(a) => Some(a.clone()),
            SimOutput::Block(_) => None,
        })
        .collect()
}

fn rng() -> rand_chacha::ChaCha20Rng {
    use rand_chacha::rand_core::SeedableRng;
    rand_chacha::ChaCha20Rng::seed_from_u64(9)
}

/// Feed every output in emission order; returns the prepared blocks and accepted anchors.
fn feed_all(g: &mut Gateway, f: &Fixture) -> (Vec<PreparedBlock>, Vec<Anchor>) {
    let (mut stored, mut anchored) = (Vec::new(), Vec::new());
    let mut r = rng();
    for o in &f.outputs {
        match o {
            SimOutput::Block(b) => {
                let Verdict::New(p) = g
                    .prepare_block(Some(&f.opts.stream), b, &mut r)
                    .expect("block")
                else {
                    panic!("fresh block judged duplicate")
                };
                g.commit_block(&p).expect("commit");
                stored.push(p);
            }
            SimOutput::Anchor(a) => {
                let Verdict::New(a) = g.accept_anchor(Some(&f.opts.stream), a).expect("anchor")
                else {
                    panic!("fresh anchor judged duplicate")
                };
                anchored.push(a);
            }
        }
    }
    (stored, anchored)
}

#[test]
fn gateway_accepts_a_writer_chain_and_its_anchors() {
    let f = fixture(180, 1);
    let mut g = Gateway::new(vec![(config(&f), None)]);
    let (stored, anchored) = feed_all(&mut g, &f);
    // 3 minutes at T = 10 s: 18 blocks; u = 30 s: 6 anchors.
    assert_eq!(stored.len(), 18);
    assert_eq!(anchored.len(), 6);
    for (i, p) in stored.iter().enumerate() {
        assert_eq!(p.record.index, i as u64);
        assert_eq!(p.shards.len(), 6, "k + m shards");
        assert!(p.shards.iter().all(|s| s.block == p.record.block));
    }
    let progress = g.progress(&f.opts.stream).expect("registered");
    assert_eq!(progress.next_index, 18);
    assert_eq!(progress.anchored.map(|a| a.0), Some(17));
    assert!(progress.unanchored.is_empty());
}

#[test]
fn gateway_refuses_tampered_gapped_foreign_and_oversized_outputs_and_changes_nothing() {
    let f = fixture(60, 2);
    let mut g = Gateway::new(vec![(config(&f), None)]);
    let bs = blocks(&f);
    let mut r = rng();
    let before = g.progress(&f.opts.stream).cloned();
    // Tampered body byte (the last byte is inside the ciphertext's tag area).
    let mut bad = bs[0].clone();
    let n = bad.len() - 1;
    bad[n] ^= 1;
    let e = g.prepare_block(None, &bad, &mut r).expect_err("tampered");
    assert!(
        matches!(e.code(), "body_tampered" | "bad_signature" | "decode"),
        "{e:?}"
    );
    // A gap: block 1 before block 0.
    let e = g.prepare_block(None, &bs[1], &mut r).expect_err("gap");
    assert_eq!(e.code(), "missing_block");
    assert_eq!(e.http_status(), 409);
    // The path names another stream.
    let e = g
        .prepare_block(Some(&StreamId([9; 32])), &bs[0], &mut r)
        .expect_err("path");
    assert_eq!(e.code(), "wrong_stream");
    // A stream that is not registered.
    let mut other = Gateway::new(vec![]);
    let e = other
        .prepare_block(None, &bs[0], &mut r)
        .expect_err("unregistered");
    assert_eq!(e.code(), "unknown_stream");
    // Too large, garbage.
    let e = g
        .prepare_block(None, &vec![0u8; gateway::MAX_BLOCK_BYTES + 1], &mut r)
        .expect_err("large");
    assert_eq!(e.code(), "too_large");
    let e = g
        .prepare_block(None, b"not a block", &mut r)
        .expect_err("garbage");
    assert_eq!(e.code(), "decode");
    // An anchor before its blocks.
    let a = anchors(&f);
    let e = g.accept_anchor(None, &a[0]).expect_err("ahead");
    assert_eq!(e.code(), "anchor_ahead");
    assert_eq!(g.progress(&f.opts.stream).cloned(), before);
}

#[test]
fn gateway_duplicate_is_idempotent_and_a_forked_block_is_conflicting() {
    let f = fixture(60, 3);
    // A second writer session of the same device restarted from genesis (another salt):
    // its block 0 is validly signed but differs.
    let fork = fixture(60, 4);
    let mut g = Gateway::new(vec![(config(&f), None)]);
    let mut r = rng();
    let bs = blocks(&f);
    for b in &bs[..2] {
        let Verdict::New(p) = g.prepare_block(None, b, &mut r).expect("block") else {
            panic!("duplicate")
        };
        g.commit_block(&p).expect("commit");
    }
    assert!(matches!(
        g.prepare_block(None, &bs[1], &mut r),
        Ok(Verdict::Duplicate)
    ));
    assert!(matches!(
        g.prepare_block(None, &bs[0], &mut r),
        Ok(Verdict::Duplicate)
    ));
    let e = g
        .prepare_block(None, &blocks(&fork)[0], &mut r)
        .expect_err("fork");
    assert_eq!(e, IngestError::Conflicting { index: 0 });
    // An anchor of the forked session names a block this node does not hold.
    let fork_anchor = anchors(&fork)[0].clone();
    let fork_a: Anchor = encoding::decode(&fork_anchor).expect("anchor");
    if fork_a.last_index < 2 {
        let e = g
            .accept_anchor(None, &fork_anchor)
            .expect_err("fork anchor");
        assert_eq!(e.code(), "anchor_mismatch");
    }
}

#[test]
fn gateway_progress_survives_a_restart_in_redb() {
    let dir = std::env::temp_dir().join(format!("cpchain-gw-db-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let f = fixture(60, 5);
    let bs = blocks(&f);
    let mut r = rng();
    {
        let db = GatewayDb::open(&dir.join("gateway.redb")).expect("db");
        let mut g = Gateway::new(vec![(config(&f), None)]);
        for b in &bs[..3] {
            let Verdict::New(p) = g.prepare_block(None, b, &mut r).expect("block") else {
                panic!("duplicate")
            };
            g.commit_block(&p).expect("commit");
        }
        db.put(&f.opts.stream, g.progress(&f.opts.stream).expect("p"))
            .expect("put");
    }
    let db = GatewayDb::open(&dir.join("gateway.redb")).expect("reopen");
    let p = db.progress(&f.opts.stream).expect("read");
    assert_eq!(p.as_ref().map(|p| p.next_index), Some(3));
    let mut g = Gateway::new(vec![(config(&f), p)]);
    assert!(matches!(
        g.prepare_block(None, &bs[2], &mut r),
        Ok(Verdict::Duplicate)
    ));
    assert!(matches!(
        g.prepare_block(None, &bs[3], &mut r),
        Ok(Verdict::New(_))
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A sink that keeps what it is given (the DHT and the chain stand-in of these tests),
/// or refuses everything when `down`.
#[derive(Default)]
struct Recording {
    records: Mutex<BTreeMap<BlockId, KeyIndexRecord>>,
    shards: Mutex<Vec<Shard>>,
    anchors: Mutex<Vec<Anchor>>,
    down: std::sync::atomic::AtomicBool,
    /// The chain's registry stand-in: the device the chain registers for every stream.
    registered: Mutex<Option<cpchain_crypto::PublicKey>>,
}

#[async_trait::async_trait]
impl GatewaySink for Recording {
    async fn store_block(&self, record: &KeyIndexRecord, shards: &[Shard]) -> Result<(), String> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err("no storage node reachable".into());
        }
        self.records
            .lock()
            .expect("lock")
            .insert(record.block, record.clone());
        self.shards.lock().expect("lock").extend_from_slice(shards);
        Ok(())
    }
    async fn submit_anchor(&self, anchor: &Anchor) -> Result<(), String> {
        self.anchors.lock().expect("lock").push(*anchor);
        Ok(())
    }
    async fn registered_device(
        &self,
        _stream: &StreamId,
    ) -> Result<Option<cpchain_crypto::PublicKey>, String> {
        Ok(*self.registered.lock().expect("lock"))
    }
}

/// The chain's stream registry outranks the node's configuration: a stream the chain
/// registers to another device is refused (`device_mismatch`, 409) before anything is
/// stored or submitted; registered to the configured device it is ingested.
#[test]
fn a_stream_the_chain_registers_to_another_device_is_refused_and_nothing_is_kept() {
    let f = fixture(60, 8);
    let sink = Arc::new(Recording::default());
    let other = SecretKey::from_bytes(&[0x33; 32])
        .expect("key")
        .public_key();
    *sink.registered.lock().expect("lock") = Some(other);
    let service = GatewayService::new(Gateway::new(vec![(config(&f), None)]), None, sink.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let bs = blocks(&f);
    let err = rt
        .block_on(service.ingest_block(Some(&f.opts.stream), &bs[0]))
        .expect_err("another device on chain");
    assert_eq!((err.code(), err.http_status()), ("device_mismatch", 409));
    assert!(sink.records.lock().expect("lock").is_empty());
    assert!(sink.shards.lock().expect("lock").is_empty());
    assert_eq!(
        rt.block_on(service.progress(&f.opts.stream))
            .map(|p| p.next_index),
        Some(0),
        "nothing ingested"
    );
    // The chain registers the configured device: ingested.
    *sink.registered.lock().expect("lock") = Some(f.device.public_key());
    let ok = rt
        .block_on(service.ingest_block(Some(&f.opts.stream), &bs[0]))
        .expect("ingested");
    assert!(!ok.duplicate);
    assert_eq!(sink.records.lock().expect("lock").len(), 1);
}

fn serve(service: Arc<GatewayService>) -> u16 {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
    let port = listener.local_addr().expect("addr").port();
    listener.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let _ = axum::serve(listener, gateway::router(service)).await;
        });
    });
    port
}

#[test]
fn http_ingest_stores_shards_submits_anchors_and_a_sink_failure_keeps_nothing() {
    let f = fixture(60, 6);
    let sink = Arc::new(Recording::default());
    let service = Arc::new(GatewayService::new(
        Gateway::new(vec![(config(&f), None)]),
        None,
        sink.clone(),
    ));
    let port = serve(service.clone());
    let path = |kind: &str| format!("/gateway/{}/{kind}", hex::encode(f.opts.stream.0));
    let bs = blocks(&f);
    // The DHT is down: 503, and the block is not counted as ingested.
    sink.down.store(true, std::sync::atomic::Ordering::SeqCst);
    let (status, body) = gateway::post_bytes(port, &path("blocks"), &bs[0]).expect("post");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("\"unavailable\""), "{body}");
    sink.down.store(false, std::sync::atomic::Ordering::SeqCst);
    for o in &f.outputs {
        let (kind, bytes) = match o {
            SimOutput::Block(b) => ("blocks", b),
            SimOutput::Anchor(a) => ("anchors", a),
        };
        let (status, body) = gateway::post_bytes(port, &path(kind), bytes).expect("post");
        assert_eq!(status, 200, "{kind}: {body}");
        assert!(body.contains("\"duplicate\":false"), "{body}");
    }
    assert_eq!(sink.records.lock().expect("lock").len(), bs.len());
    assert_eq!(sink.shards.lock().expect("lock").len(), bs.len() * 6);
    assert_eq!(sink.anchors.lock().expect("lock").len(), anchors(&f).len());
    // A body over the bound is refused before it is read into the judge.
    let (status, _) = gateway::post_bytes(
        port,
        &path("anchors"),
        &[0u8; gateway::MAX_ANCHOR_BYTES + 1],
    )
    .expect("post");
    assert_eq!(status, 413);
    let (status, body) = gateway::post_bytes(port, "/gateway/zz/blocks", &bs[0]).expect("post");
    assert_eq!((status, body.contains("bad_stream")), (400, true));
}

#[test]
fn ingest_dir_posts_files_in_order_and_marks_them() {
    let f = fixture(60, 7);
    let dir = std::env::temp_dir().join(format!("cpchain-gw-dir-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    devgateway::write_dir(&dir, &f.outputs).expect("write");
    // A file that is not a block.
    std::fs::write(dir.join("99999999.block"), b"garbage").expect("write");
    let sink = Arc::new(Recording::default());
    let service = Arc::new(GatewayService::new(
        Gateway::new(vec![(config(&f), None)]),
        None,
        sink.clone(),
    ));
    let port = serve(service);
    let report = gateway::ingest_dir(&dir, port).expect("ingest");
    assert_eq!(report.accepted, f.outputs.len());
    assert_eq!(report.refused.len(), 1);
    assert!(dir.join("99999999.block.refused").exists());
    assert!(dir.join("00000000.block.done").exists());
    assert_eq!(sink.anchors.lock().expect("lock").len(), anchors(&f).len());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The buyer's half on the shards the gateway made: interval 1 of three, exactly.
#[test]
fn buyer_gets_exactly_the_interval_byte_identical_and_the_next_stays_closed() {
    let f = fixture(180, 8);
    let mut g = Gateway::new(vec![(config(&f), None)]);
    let (stored, anchored) = feed_all(&mut g, &f);
    let records: BTreeMap<BlockId, (KeyIndexRecord, Vec<Shard>)> = stored
        .into_iter()
        .map(|p| (p.record.block, (p.record, p.shards)))
        .collect();
    let first = START_MS / 60_000;
    let interval = first + 1;
    let (start, end) = buyer::bracket(&anchored, &f.opts.schedule, interval).expect("closed");
    let mut walk = Walk::new(&end, start.map_or(0, |a| a.last_index + 1));
    while let Some(id) = walk.want() {
        let (record, shards) = records.get(&id).expect("record");
        // Two shards lost (m = 2): still k of k + m.
        let block: VecBlock = reassemble(record, &shards[2..]).expect("reassemble");
        walk.push(block).expect("push");
    }
    let run = walk.blocks();
    let chain = OnChainStream {
        stream: f.opts.stream,
        device: f.device.public_key(),
        schedule: f.opts.schedule,
    };
    let key = f.master.interval_key(&f.opts.stream, interval);
    let readings =
        buyer::open_interval(&chain, start.as_ref(), &end, &run, interval, &key).expect("open");
    let want: Vec<(u64, Vec<u8>)> = f
        .readings
        .iter()
        .filter(|(t, _)| t / 60_000 == interval)
        .cloned()
        .collect();
    assert_eq!(want.len(), 60);
    let got: Vec<(u64, Vec<u8>)> = readings
        .iter()
        .map(|r| (r.time_ms, r.data.clone()))
        .collect();
    assert_eq!(got, want);
    let mut csv = Vec::new();
    buyer::write_csv(&readings, &mut csv).expect("csv");
    let mut expected = String::from("time_ms,reading\n");
    for (t, r) in &want {
        expected.push_str(&format!("{t},{}\n", String::from_utf8_lossy(r)));
    }
    assert_eq!(String::from_utf8(csv).expect("utf8"), expected);
    // The next interval's key is not this one: its blocks do not open with it.
    let (s2, e2) = buyer::bracket(&anchored, &f.opts.schedule, interval + 1).expect("closed");
    let mut walk = Walk::new(&e2, s2.map_or(0, |a| a.last_index + 1));
    while let Some(id) = walk.want() {
        let (record, shards) = records.get(&id).expect("record");
        walk.push(reassemble(record, shards).expect("reassemble"))
            .expect("push");
    }
    let e = buyer::open_interval(&chain, s2.as_ref(), &e2, &walk.blocks(), interval + 1, &key)
        .expect_err("closed");
    assert!(matches!(e, buyer::BuyError::Open(_)), "{e:?}");
    // An interval no anchor closes yet.
    assert!(matches!(
        buyer::bracket(&anchored, &f.opts.schedule, first + 3),
        Err(buyer::BuyError::NotClosed { .. })
    ));
}

#[test]
fn buyer_refuses_a_block_swapped_by_a_storage_node() {
    let f = fixture(120, 10);
    let mut g = Gateway::new(vec![(config(&f), None)]);
    let (stored, anchored) = feed_all(&mut g, &f);
    let first = START_MS / 60_000;
    let (start, end) = buyer::bracket(&anchored, &f.opts.schedule, first + 1).expect("closed");
    let mut walk = Walk::new(&end, start.map_or(0, |a| a.last_index + 1));
    // A storage node answers the wanted id with another (valid) block of the stream.
    let other = reassemble(&stored[0].record, &stored[0].shards).expect("reassemble");
    assert!(matches!(
        walk.push(other),
        Err(buyer::BuyError::Walk { .. })
    ));
}
