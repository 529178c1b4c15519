//! Act 3, the buyer: one interval through 2-of-3 proxies, checked against the chain. The
//! owner grants one encryption interval; the buyer light-verifies the LBFT chain that
//! carries the stream's anchors, gets the interval key re-encrypted by two of the three
//! proxies (the third is offline), rebuilds the interval's blocks from DHT shards with some
//! storage nodes down, verifies them against the anchors and decrypts them; another
//! interval stays closed three ways.

use super::gateway::{Stored, CLOSED, GRANTED, STORAGE_NODES, STORAGE_OFFLINE};
use super::network::{Consensus, Run};
use super::nodes::reading;
use super::{secs, section, short_hex, Cast, Result, READINGS};
use cpchain_core::{encoding, Address, Duration, Timestamp};
use cpchain_crypto::pre::PreSecretKey;
use cpchain_storage::sharing::{
    self, GrantRequest, Grantee, GranteeConfig, GranteeOutput, OwnerOutput, Proxy, ProxyConfig,
    ProxyOutput, ReencryptionRequest,
};
use cpchain_storage::{
    open_block, read_chain, reassemble, Anchor, ChainVerifier, Checkpoint, IntervalKey, KadKey,
    Shard, VecBlock,
};
use std::collections::BTreeSet;
use std::io::Write;

/// What act 3 established.
pub struct Bought {
    /// The stream's anchors found on chain (signed by the device).
    pub anchors_on_chain: usize,
    /// Whether the light client verified the chain and the anchor's VALIDATE.
    pub light_verified: bool,
    /// Readings decrypted from the granted interval.
    pub granted_readings: usize,
    /// Whether they are what the sensor produced in that interval.
    pub granted_readings_match: bool,
    /// Whether the grantee, a proxy and the reader all refused the other interval.
    pub other_interval_refused: bool,
    /// The proxies' addresses.
    pub proxy_addrs: Vec<Address>,
    /// The proxy that was offline.
    pub offline: Option<Address>,
}

/// Tell act 3: grant, verify, re-encrypt, fetch, decrypt, and refuse.
pub fn buy(
    cast: &mut Cast,
    run: &Run,
    consensus: &Consensus,
    stored: Stored,
    out: &mut dyn Write,
) -> Result<Bought> {
    section(
        out,
        "3. Buyer: one interval through 2-of-3 proxies, checked against the chain",
    )?;
    let Stored {
        owner,
        dht,
        index,
        storage_nodes,
        first_interval,
    } = stored;
    let Cast {
        spec,
        rng,
        device,
        schedule,
        stream,
        genesis_time,
        proxy_keys,
        ..
    } = cast;
    let (stream, schedule, genesis_time) = (*stream, *schedule, *genesis_time);
    let (chain, light, genesis, blocks) = (&run.chain, &run.light, &run.genesis, &run.blocks);
    let (anchor_places, last_time) = (&consensus.anchor_places, consensus.last_time);
    let granted = first_interval + GRANTED;
    let closed = first_interval + CLOSED;
    let now = last_time;
    let expires = now.saturating_add(Duration::from_days(30));
    let mut owner = owner;
    let mut proxies: Vec<Proxy> = proxy_keys
        .iter()
        .map(|k| {
            Proxy::new(
                k.clone(),
                ProxyConfig {
                    chain_id: spec.chain_id,
                    ..ProxyConfig::default()
                },
            )
        })
        .collect();
    let proxy_addrs: Vec<Address> = proxies.iter().map(|p| p.address()).collect();
    let (buyer_key, _seed) = PreSecretKey::random(&mut *rng)?;
    let mut buyer = Grantee::new(
        buyer_key,
        GranteeConfig {
            chain_id: spec.chain_id,
            ..GranteeConfig::default()
        },
    );
    let grant_id = owner.grant(
        now,
        &mut *rng,
        &GrantRequest {
            first_interval: granted,
            last_interval: granted,
            grantee: buyer.public_key(),
            threshold: 2,
            proxies: &proxy_addrs,
            expires_at: expires,
        },
    )?;
    let mut delivered = 0;
    while let Some(o) = owner.poll_output() {
        match o {
            OwnerOutput::PublishGrant(g) => {
                let bytes = encoding::encode_to_vec(&*g)?;
                buyer.accept_grant(now, &encoding::decode(&bytes)?)?;
            }
            OwnerOutput::SendKfrags { to, delivery } => {
                let bytes = encoding::encode_to_vec(&*delivery)?;
                if let Some(p) = proxies.iter_mut().find(|p| p.address() == to) {
                    p.handle_delivery(now, encoding::decode(&bytes)?)?;
                    if let Some(ProxyOutput::Accepted(_)) = p.poll_output() {
                        delivered += 1;
                    }
                }
            }
            _ => {}
        }
    }
    writeln!(
        out,
        "   owner grants interval {GRANTED} (minute {GRANTED}) to the buyer: grant {}, threshold 2, kfrags accepted by {delivered} of 3 proxies",
        short_hex(grant_id.0.as_bytes())
    )?;

    // The buyer finds the interval's anchors on chain and light-verifies the chain.
    let device_pk = device.public_key();
    let mut parent = genesis.clone();
    let mut light_ok = true;
    let mut signatures = 0usize;
    for v in chain {
        match light.verify(v, &parent) {
            Ok(n) => signatures += n,
            Err(_) => light_ok = false,
        }
        parent = v.block.header.clone();
    }
    let interval_start = Timestamp(granted * schedule.encryption_interval().as_millis());
    let interval_end = interval_start.saturating_add(schedule.encryption_interval());
    let stream_anchors: Vec<&(u64, usize, Anchor)> = anchor_places
        .iter()
        .filter(|(_, _, a)| a.stream == stream && a.verify(&device_pk).is_ok())
        .collect();
    let start_anchor = stream_anchors
        .iter()
        .filter(|(_, _, a)| a.through <= interval_start)
        .max_by_key(|(_, _, a)| a.last_index)
        .map(|(_, _, a)| *a);
    let end = stream_anchors
        .iter()
        .find(|(_, _, a)| a.through >= interval_end)
        .copied()
        .ok_or("no anchor closes the granted interval")?;
    let (end_height, end_tx, end_anchor) = (end.0, end.1, end.2);
    let carrier = chain
        .iter()
        .find(|v| v.block.header.height.0 == end_height)
        .ok_or("carrier block missing")?;
    let carrier_parent = chain
        .iter()
        .find(|v| v.block.header.height.0 + 1 == end_height)
        .map(|v| v.block.header.clone())
        .unwrap_or_else(|| genesis.clone());
    let carrier_sigs = light.verify(carrier, &carrier_parent);
    light_ok &= carrier_sigs.is_ok();
    writeln!(
        out,
        "   light client: {} VALIDATEs from genesis verified ({signatures} signatures): {}",
        chain.len(),
        if light_ok { "all final" } else { "FAILED" }
    )?;
    writeln!(
        out,
        "   the anchor of data block #{} is tx {end_tx} of LBFT block h{end_height}; its VALIDATE: {} COMMIT signatures of 7 + proposer seal -> {}",
        end_anchor.last_index,
        carrier.certificate.signatures.len(),
        match &carrier_sigs {
            Ok(n) => format!("final ({n} signatures checked)"),
            Err(e) => format!("REFUSED ({e})"),
        }
    )?;

    // Re-encryption: proxy C is offline; A and B suffice.
    let first_record = index
        .values()
        .find(|r| r.interval == granted)
        .ok_or("no block in the granted interval")?;
    let wrapped = sharing::wrapped_key(first_record)?;
    buyer.request(now, &grant_id, granted, wrapped)?;
    let mut requests = Vec::new();
    while let Some(o) = buyer.poll_output() {
        if let GranteeOutput::SendRequest { to, request } = o {
            requests.push((to, request));
        }
    }
    let offline = proxy_addrs.get(2).copied();
    let mut ready = false;
    for (to, request) in requests {
        if Some(to) == offline {
            continue;
        }
        let Some(p) = proxies.iter_mut().find(|p| p.address() == to) else {
            continue;
        };
        p.handle_request(now, &mut *rng, *request)?;
        while let Some(o) = p.poll_output() {
            if let ProxyOutput::Reply { bytes, .. } = o {
                buyer.handle_cfrag(now, encoding::decode(&bytes)?)?;
            }
        }
        while let Some(o) = buyer.poll_output() {
            ready |= matches!(o, GranteeOutput::Ready { .. });
        }
    }
    let key: IntervalKey = buyer.open(&grant_id, granted)?;
    writeln!(
        out,
        "   proxy C is offline; A and B return signed cfrags -> ready: {ready}; the opened key matches the blocks' key id: {}",
        key.id() == first_record.key_id
    )?;

    // Fetch the blocks from the DHT, walking back from the anchored head, with some storage
    // nodes offline; verify them against the on-chain anchors, then decrypt.
    let offline_nodes: BTreeSet<KadKey> = storage_nodes
        .iter()
        .take(STORAGE_OFFLINE)
        .copied()
        .collect();
    let first_index = start_anchor.map_or(0, |a| a.last_index + 1);
    let mut fetched: Vec<VecBlock> = Vec::new();
    let mut id = end_anchor.head;
    // Bounded walk: at most one step per indexed block, whatever the links say.
    for _ in 0..index.len() {
        let record = index.get(&id).ok_or("key-index record missing")?;
        let available: Vec<Shard> = dht
            .iter()
            .filter(|(node, _)| !offline_nodes.contains(node))
            .flat_map(|(_, shards)| shards.iter().filter(|s| s.block == id).cloned())
            .collect();
        let block = reassemble(record, &available)?;
        let (index_here, prev) = (block.header.index, block.header.prev);
        fetched.push(block);
        if index_here <= first_index {
            break;
        }
        id = prev;
    }
    if fetched.last().map(|b| b.header.index) != Some(first_index) {
        return Err(
            "the walk back from the anchored head did not reach the interval's first block".into(),
        );
    }
    fetched.reverse();
    let verifier = match start_anchor {
        Some(a) => ChainVerifier::resume(
            stream,
            device_pk,
            schedule,
            Checkpoint {
                next_index: a.last_index + 1,
                head: a.head,
                last_time: a.through,
            },
        ),
        None => ChainVerifier::new(stream, device_pk, schedule),
    };
    let covering: Vec<Anchor> = stream_anchors
        .iter()
        .map(|(_, _, a)| *a)
        .filter(|a| a.last_index >= first_index && a.last_index <= end_anchor.last_index)
        .collect();
    let mut readings: Vec<(Timestamp, Vec<u8>)> = Vec::new();
    let keys = [key.clone()];
    let summary = read_chain(verifier, &covering, &fetched, &keys[..], |_, r| {
        readings.push((r.time, r.data.to_vec()));
    })?;
    writeln!(
        out,
        "   {} blocks rebuilt from shards with {STORAGE_OFFLINE} of {STORAGE_NODES} storage nodes offline; verified against {} on-chain anchors (up to block #{})",
        fetched.len(),
        covering.len(),
        summary.anchored.unwrap_or(0)
    )?;
    let expected: Vec<(Timestamp, Vec<u8>)> = (0..READINGS)
        .map(|i| {
            (
                genesis_time.saturating_add(Duration::from_secs(i)),
                reading(i),
            )
        })
        .filter(|(t, _)| *t >= interval_start && *t < interval_end)
        .collect();
    let shown: Vec<String> = readings
        .iter()
        .take(3)
        .map(|(t, d)| format!("{} {}", secs(genesis_time, *t), String::from_utf8_lossy(d)))
        .collect();
    let last = readings
        .last()
        .map(|(t, d)| format!("{} {}", secs(genesis_time, *t), String::from_utf8_lossy(d)))
        .unwrap_or_default();
    writeln!(
        out,
        "   read {} readings of interval {GRANTED}: {}, ..., {last}",
        readings.len(),
        shown.join(", ")
    )?;

    // Another interval stays closed, three ways.
    let closed_record = index
        .values()
        .find(|r| r.interval == closed)
        .ok_or("no block in the closed interval")?;
    let closed_wrapped = sharing::wrapped_key(closed_record)?;
    let by_grantee = buyer.request(now, &grant_id, closed, closed_wrapped.clone());
    let mut by_proxy = None;
    if let Some(p) = proxies.first_mut() {
        p.handle_request(
            now,
            &mut *rng,
            ReencryptionRequest {
                grant: grant_id,
                interval: closed,
                capsule: closed_wrapped.capsule().clone(),
            },
        )?;
        while let Some(o) = p.poll_output() {
            match o {
                ProxyOutput::Refused { reason, .. } => by_proxy = Some(Err(reason)),
                ProxyOutput::Reply { .. } => by_proxy = Some(Ok(())),
                _ => {}
            }
        }
    }
    let closed_block = blocks
        .iter()
        .find(|b| b.header.interval == closed)
        .ok_or("no closed block")?;
    let mut scratch = vec![0u8; closed_block.body.len()];
    let by_reader = open_block(closed_block, &key, &mut scratch).map(|r| r.count());
    let other_interval_refused =
        by_grantee.is_err() && matches!(by_proxy, Some(Err(_))) && by_reader.is_err();
    writeln!(
        out,
        "   interval {CLOSED} stays closed:\n     the buyer's request -> {}\n     proxy A asked directly -> {}\n     the interval-{GRANTED} key on block #{} -> {}",
        by_grantee.err().map_or("ACCEPTED".into(), |e| e.to_string()),
        match by_proxy {
            Some(Err(e)) => format!("refused ({e})"),
            _ => "SERVED".into(),
        },
        closed_block.header.index,
        match by_reader {
            Ok(_) => "OPENED".into(),
            // The reader names absolute interval numbers (time / e); the story counts from
            // the stream's first interval.
            Err(cpchain_storage::VerifyError::WrongIntervalKey { .. }) => format!(
                "refused (its key id commits to interval {CLOSED}'s key, not this one)"
            ),
            Err(e) => format!("refused ({e})"),
        },
    )?;

    Ok(Bought {
        anchors_on_chain: stream_anchors.len(),
        light_verified: light_ok,
        granted_readings: readings.len(),
        granted_readings_match: readings == expected,
        other_interval_refused,
        proxy_addrs,
        offline,
    })
}
