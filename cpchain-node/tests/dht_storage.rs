//! Storage nodes on the Kademlia DHT as real processes (issue 15 item 2): six storage
//! nodes (one of them, by a test-only fault-injection flag in its config, serves tampered
//! shards) and this test as a chainless writer/reader node (`dht::spawn_client`).
//!
//! Blocks are put; two storage nodes are killed with SIGKILL; every block is still read
//! (the tampered shards detected, named and skipped); the survivors re-replicate until
//! every block has its k + m shards again on live nodes (checked by asking each holder);
//! a bound peer that is not a configured writer is refused with `not_authorised` and
//! nothing is kept; a node whose quota is used up refuses with `quota_full`; and a node that stays
//! connected but stops answering (SIGSTOP) is dropped from the live set and rejoins
//! when resumed.

mod common;

use common::{positions_on, Net, STORAGE_CHAIN_ID};
use cpchain_node::dht::{sample_blocks, spawn_client, StorageClient};
use cpchain_storage::{KeyIndexRecord, Shard, ShardParams};
use std::time::{Duration, Instant};

const NODES: usize = 6;
const TAMPERER: usize = 5;
/// The tamperer is one of the two killed: with k = 2, m = 2 a block that lost two
/// shards to the kills cannot also afford a lying holder (three faults > m).
const KILLED: [usize; 2] = [0, TAMPERER];
const BLOCKS: usize = 12;
/// Stopped (SIGSTOP) in the last phase: connected but silent.
const STOPPED: usize = 2;
/// Per-node quota: roomy for the 12 small blocks and their repair, filled by the big ones.
const QUOTA: u64 = 512 * 1024;

fn params() -> ShardParams {
    ShardParams::new(2, 2).expect("k = 2, m = 2")
}

#[test]
fn storage_nodes_survive_two_kills_detect_tampering_repair_and_refuse_when_full() {
    let writer = cpchain_crypto::SecretKey::random(&mut rand_core::OsRng);
    let (mut net, info) = Net::init_storage(
        "dht-storage",
        NODES,
        QUOTA,
        &[writer.public_key().address()],
        &[TAMPERER],
    );
    net.start_all();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let client = spawn_client(&writer, STORAGE_CHAIN_ID, &info.addrs).expect("client");
        assert!(
            client.wait_for_nodes(NODES, Duration::from_secs(60)).await,
            "the six storage nodes bound"
        );
        let full = (1u64 << params().total()) - 1;

        // Put.
        let blocks: Vec<(KeyIndexRecord, Vec<Shard>)> = sample_blocks(BLOCKS, 20, 200, params());
        for (record, shards) in &blocks {
            let report = client.put_block(record, shards).await.expect("put_block");
            assert_eq!(report.placed.len(), params().total());
        }
        for (record, _) in &blocks {
            assert_eq!(positions_on(&client, &info.peers, record).await, full);
            // The record is found by block id alone.
            assert_eq!(
                &client.get_record(record.block).await.expect("record"),
                record
            );
        }

        // Read every block back with all six up: byte-identical, the tamperer's shards
        // named and skipped.
        let mut tampered_reads = 0;
        for (record, _) in &blocks {
            let got = client.get_block(record).await.expect("block read");
            assert_eq!(got.block.id(), record.block);
            for (_, peer) in &got.tampered {
                assert_eq!(*peer, info.peers[TAMPERER], "only the tamperer is named");
            }
            assert!(got.used.iter().all(|(_, p)| *p != info.peers[TAMPERER]));
            if !got.tampered.is_empty() {
                tampered_reads += 1;
            }
        }
        assert!(
            tampered_reads > 0,
            "the tampering node was met and detected"
        );
        eprintln!("{tampered_reads} of {BLOCKS} reads met the tampered shard and used others");

        // Kill two storage nodes with SIGKILL.
        for i in KILLED {
            net.kill9(i);
        }
        let killed_at = Instant::now();
        assert!(
            wait_live(&client, NODES - KILLED.len()).await,
            "the client saw two storage nodes leave"
        );
        let live: Vec<libp2p::PeerId> = (0..NODES)
            .filter(|i| !KILLED.contains(i))
            .map(|i| info.peers[i])
            .collect();
        let mut incomplete = 0;
        for (record, _) in &blocks {
            if positions_on(&client, &live, record).await != full {
                incomplete += 1;
            }
        }
        eprintln!("{incomplete} of {BLOCKS} blocks had lost shards when the kills were seen");
        assert!(
            incomplete > 0,
            "the killed nodes held shards (repair has work to do)"
        );
        // Still read.
        for (record, _) in &blocks {
            let got = client.get_block(record).await.expect("block still read");
            assert_eq!(got.block.id(), record.block);
        }
        eprintln!("all {BLOCKS} blocks read with two storage nodes killed");

        // Repair: every block has k + m shards on live nodes again.
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let mut complete = 0;
            for (record, _) in &blocks {
                if positions_on(&client, &live, record).await == full {
                    complete += 1;
                }
            }
            if complete == BLOCKS {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "repair incomplete: {complete} of {BLOCKS} blocks have k + m shards"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let repair = killed_at.elapsed();
        eprintln!(
            "repair after losing two storage nodes: {} blocks back to k + m = {} shards in {:.1} s",
            BLOCKS,
            params().total(),
            repair.as_secs_f64()
        );
        // And each block still reads after repair.
        for (record, _) in &blocks {
            assert_eq!(
                client.get_block(record).await.expect("read").block.id(),
                record.block
            );
        }

        // A bound peer that is not a configured writer keeps nothing.
        let stranger = cpchain_crypto::SecretKey::random(&mut rand_core::OsRng);
        let outsider = spawn_client(&stranger, STORAGE_CHAIN_ID, &info.addrs).expect("client");
        assert!(
            outsider
                .wait_for_nodes(NODES - KILLED.len(), Duration::from_secs(30))
                .await
        );
        let (record, shards) = &sample_blocks(1, 20, 200, params())[0];
        let e = outsider
            .put_block(record, shards)
            .await
            .expect_err("not a writer");
        assert_eq!(e.code(), "not_authorised", "{e}");
        for p in &live {
            assert_eq!(
                client.holds(*p, record.block).await.expect("holds"),
                (false, 0)
            );
        }
        // It can still read (shards are ciphertext; the buyer is such a peer).
        assert_eq!(
            outsider
                .get_block(&blocks[1].0)
                .await
                .expect("read")
                .block
                .id(),
            blocks[1].0.block
        );

        // Quota: bigger blocks until a storage node refuses with quota_full.
        let mut refused = None;
        for (i, (record, shards)) in sample_blocks(40, 50, 1_000, params()).iter().enumerate() {
            match client.put_block(record, shards).await {
                Ok(_) => {}
                Err(e) => {
                    refused = Some((i, e));
                    break;
                }
            }
        }
        let (i, e) = refused.expect("a 512 KiB quota fills up");
        assert_eq!(e.code(), "quota_full", "{e}");
        assert!(i > 0, "some big blocks fitted before the quota was full");
        eprintln!("quota_full after {i} blocks of ~50 KB: {e}");
        // What was stored before stays readable.
        assert_eq!(
            client
                .get_block(&blocks[0].0)
                .await
                .expect("read")
                .block
                .id(),
            blocks[0].0.block
        );

        // A storage node that stays connected but stops answering (SIGSTOP) is dropped
        // after `NOT_ANSWERING_AFTER` timed-out requests, reads go on without it, and it
        // rejoins once it answers again (SIGCONT).
        let pid = net.children[STOPPED]
            .as_ref()
            .expect("running")
            .id()
            .to_string();
        let stopped_peer = info.peers[STOPPED];
        assert!(std::process::Command::new("kill")
            .args(["-STOP", &pid])
            .status()
            .expect("kill")
            .success());
        let stopped_at = Instant::now();
        let mut reads = 0;
        while client.storage_nodes().contains(&stopped_peer) {
            assert!(
                stopped_at.elapsed() < Duration::from_secs(90),
                "a silent node stays live"
            );
            let record = &blocks[reads % BLOCKS].0;
            assert_eq!(
                client.get_block(record).await.expect("read").block.id(),
                record.block
            );
            reads += 1;
        }
        eprintln!(
            "a stopped storage node dropped after {:.1} s ({reads} reads, all served)",
            stopped_at.elapsed().as_secs_f64()
        );
        let record = &blocks[0].0;
        assert_eq!(
            client.get_block(record).await.expect("read").block.id(),
            record.block
        );
        assert!(std::process::Command::new("kill")
            .args(["-CONT", &pid])
            .status()
            .expect("kill")
            .success());
        assert!(
            wait_live(&client, NODES - KILLED.len()).await,
            "the resumed node rejoined"
        );
    });
    net.stop_all();
}

async fn wait_live(client: &StorageClient, n: usize) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if client.storage_nodes().len() == n {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
