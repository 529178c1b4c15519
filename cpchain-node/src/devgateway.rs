//! A software gateway for devnets, tests and benches: the Rust `Writer` turns a run of
//! 1 Hz readings into the same encoded outputs a device emits (sealed blocks, then the
//! anchors that cover them), in emission order. `cpchain-node gateway-sim` writes them to
//! a directory as `NNNNNNNN.block` / `NNNNNNNN.anchor` files for `cpchain-node ingest`.
//!
//! Deterministic: the writer's session salt comes from a ChaCha20 stream seeded by
//! [`SimOptions::seed`], and each reading is a function of its second, so the same options
//! give the same bytes (the tests compare a buyer's readings to these).

use cpchain_core::encoding;
use cpchain_core::{Duration, Timestamp};
use cpchain_crypto::SecretKey;
use cpchain_storage::{MasterSecret, Schedule, StreamId, Writer, WriterOutput};
use rand_chacha::rand_core::SeedableRng;

/// Block buffer of the simulated device (4 KiB: 1 Hz readings of a few bytes fill a
/// fraction of it per period).
pub const SIM_BLOCK_CAP: usize = 4096;

/// One encoded gateway output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimOutput {
    /// An encoded sealed block.
    Block(Vec<u8>),
    /// An encoded anchor.
    Anchor(Vec<u8>),
}

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// The stream.
    pub stream: StreamId,
    /// T, e, u.
    pub schedule: Schedule,
    /// The first reading's time (Unix ms).
    pub start_ms: u64,
    /// Readings, one a second.
    pub seconds: u64,
    /// Bytes of padding appended to every reading (0: short text readings); benches use it
    /// to make blocks of a given size.
    pub pad: usize,
    /// Seed of the session salt.
    pub seed: u64,
}

/// A simulation's outputs in emission order, and the readings given (time ms, bytes).
pub type Simulated = (Vec<SimOutput>, Vec<(u64, Vec<u8>)>);

/// The reading the simulated sensor gives at second `i` (text, e.g. `21.37`).
pub fn reading(i: u64, pad: usize) -> Vec<u8> {
    let centi = 2000 + (i.wrapping_mul(37) % 600);
    let mut r = format!("{}.{:02}", centi / 100, centi % 100).into_bytes();
    r.extend(std::iter::repeat_n(b'x', pad));
    r
}

/// Run the writer over the readings; outputs in emission order, with the readings given
/// (time ms, bytes).
pub fn simulate(
    opts: &SimOptions,
    device: &SecretKey,
    master: &MasterSecret,
) -> Result<Simulated, String> {
    simulate_cap::<SIM_BLOCK_CAP>(opts, device, master)
}

/// [`simulate`] with a device block buffer of `N` bytes (benches: 64 KiB blocks).
pub fn simulate_cap<const N: usize>(
    opts: &SimOptions,
    device: &SecretKey,
    master: &MasterSecret,
) -> Result<Simulated, String> {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(opts.seed);
    let mut writer: Box<Writer<N>> = Box::new(Writer::new(
        opts.stream,
        opts.schedule,
        device.clone(),
        master.clone(),
        &mut rng,
    ));
    let mut out = Vec::new();
    let mut readings = Vec::new();
    let mut buf = vec![0u8; <cpchain_storage::VecBlock as encoding::WireMessage>::MAX_ENCODED_LEN];
    let mut drain = |w: &mut Writer<N>, out: &mut Vec<SimOutput>| -> Result<(), String> {
        while let Some(o) = w.poll_output() {
            match o {
                WriterOutput::Block(b) => {
                    let bytes = b.encode_to_slice(&mut buf).map_err(|e| e.to_string())?;
                    out.push(SimOutput::Block(bytes.to_vec()));
                }
                WriterOutput::Anchor(a) => {
                    out.push(SimOutput::Anchor(
                        encoding::encode_to_vec(&a).map_err(|e| e.to_string())?,
                    ));
                }
            }
        }
        Ok(())
    };
    for i in 0..opts.seconds {
        let now = Timestamp(opts.start_ms + i * 1000);
        while let Some(d) = writer.next_deadline() {
            if d > now {
                break;
            }
            writer.handle_timeout(d);
            drain(&mut writer, &mut out)?;
        }
        let r = reading(i, opts.pad);
        writer.append(now, &r).map_err(|e| e.to_string())?;
        drain(&mut writer, &mut out)?;
        readings.push((now.as_millis(), r));
    }
    // Close: seal the last block and anchor it.
    let mut guard = 0;
    while let Some(d) = writer.next_deadline() {
        writer.handle_timeout(d);
        drain(&mut writer, &mut out)?;
        guard += 1;
        if guard > 16 {
            break;
        }
    }
    Ok((out, readings))
}

/// Write outputs to `dir` as `NNNNNNNN.block` / `NNNNNNNN.anchor` (emission order).
pub fn write_dir(dir: &std::path::Path, outputs: &[SimOutput]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (i, o) in outputs.iter().enumerate() {
        let (ext, bytes) = match o {
            SimOutput::Block(b) => ("block", b),
            SimOutput::Anchor(a) => ("anchor", a),
        };
        std::fs::write(dir.join(format!("{i:08}.{ext}")), bytes)?;
    }
    Ok(())
}

/// The schedule of the devnet gateway: T = 10 s, e = 60 s, u = 30 s (as the story's).
pub fn default_schedule() -> Schedule {
    // Constants satisfy Schedule::new's rules (e and u multiples of T).
    match Schedule::new(
        Duration::from_secs(10),
        Duration::from_mins(1),
        Duration::from_secs(30),
    ) {
        Ok(s) => s,
        Err(_) => unreachable!("constant schedule is valid"),
    }
}
