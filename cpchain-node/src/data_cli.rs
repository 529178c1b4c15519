//! The data-service subcommands of the `cpchain-node` binary (issue 15): `ingest`,
//! `gateway-sim`, and with feature `pre` `buy` and `sell`. Each is a thin shell over
//! [`crate::gateway`], [`crate::devgateway`] and `crate::trade`.

use crate::error::NodeError;
use clap::Subcommand;
use std::path::PathBuf;

/// Data-service subcommands (flattened into the binary's top level).
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Hand a gateway's output directory (`*.block`, `*.anchor`, one encoded output each)
    /// to a node's gateway ingest, in file-name order; files become `*.done` / `*.refused`.
    Ingest {
        /// The directory.
        #[arg(long)]
        dir: PathBuf,
        /// The ingest node's API port on 127.0.0.1.
        #[arg(long)]
        api_port: u16,
    },
    /// Write a simulated gateway's outputs (the Rust `Writer`, 1 Hz readings) to a
    /// directory, for `ingest` (T = 10 s, e = 60 s, u = 30 s).
    GatewaySim {
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// The device key file (hex).
        #[arg(long)]
        device_key: PathBuf,
        /// The owner's master secret file (hex, 32 bytes).
        #[arg(long)]
        master: PathBuf,
        /// The stream id (64 hex digits).
        #[arg(long)]
        stream: String,
        /// First reading's time, Unix ms (default: 20 minutes ago, on a minute).
        #[arg(long)]
        start_ms: Option<u64>,
        /// Readings (one a second).
        #[arg(long, default_value_t = 600)]
        seconds: u64,
        /// Padding bytes per reading (bigger blocks).
        #[arg(long, default_value_t = 0)]
        pad: usize,
        /// Seed of the writer's session salt.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Buy one interval of a listing and write its readings as CSV (feature `pre`).
    #[cfg(feature = "pre")]
    Buy {
        /// A node's API port on 127.0.0.1.
        #[arg(long)]
        api_port: u16,
        /// Chain id.
        #[arg(long, default_value_t = 41)]
        chain_id: u64,
        /// The buyer's key file.
        #[arg(long)]
        key: PathBuf,
        /// The listing id (hex).
        #[arg(long)]
        listing: String,
        /// The encryption interval.
        #[arg(long)]
        interval: u64,
        /// Storage nodes to dial (`/ip4/…/tcp/…/p2p/…`), repeated.
        #[arg(long = "storage-peer")]
        storage_peers: Vec<String>,
        /// Proxies, `0xADDRESS=/ip4/…/p2p/…`, repeated.
        #[arg(long = "proxy")]
        proxies: Vec<String>,
        /// The CSV file to write.
        #[arg(long)]
        out: PathBuf,
        /// Bound on each wait, seconds.
        #[arg(long, default_value_t = 60)]
        timeout_secs: u64,
    },
    /// The owner's side of an order: grant, kfrags to the proxies, delivery (feature `pre`).
    #[cfg(feature = "pre")]
    Sell {
        /// A node's API port on 127.0.0.1.
        #[arg(long)]
        api_port: u16,
        /// Chain id.
        #[arg(long, default_value_t = 41)]
        chain_id: u64,
        /// The owner's key file.
        #[arg(long)]
        key: PathBuf,
        /// The owner's master secret file.
        #[arg(long)]
        master: PathBuf,
        /// The stream (64 hex digits).
        #[arg(long)]
        stream: String,
        /// The order id (hex).
        #[arg(long)]
        order: String,
        /// Proxies, `0xADDRESS=/ip4/…/p2p/…`, repeated.
        #[arg(long = "proxy")]
        proxies: Vec<String>,
        /// Cfrags needed to open.
        #[arg(long, default_value_t = 2)]
        threshold: u8,
        /// Bound on each wait, seconds.
        #[arg(long, default_value_t = 60)]
        timeout_secs: u64,
    },
}

fn bad(what: &str, reason: impl std::fmt::Display) -> NodeError {
    NodeError::Config {
        path: PathBuf::from(what),
        reason: reason.to_string(),
    }
}

#[cfg(feature = "pre")]
fn proxies(list: &[String]) -> Result<Vec<crate::proxy::ProxyEndpoint>, NodeError> {
    list.iter()
        .map(|p| {
            let (a, m) = p
                .split_once('=')
                .ok_or_else(|| bad("--proxy", "ADDRESS=MULTIADDR"))?;
            Ok(crate::proxy::ProxyEndpoint {
                address: a.parse().map_err(|e| bad("--proxy", e))?,
                multiaddr: m.parse().map_err(|e| bad("--proxy", e))?,
            })
        })
        .collect()
}

#[cfg(feature = "pre")]
fn hash(what: &str, s: &str) -> Result<cpchain_core::Hash, NodeError> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s.strip_prefix("0x").unwrap_or(s), &mut out).map_err(|e| bad(what, e))?;
    Ok(cpchain_core::Hash(out))
}

/// Run a data-service subcommand.
pub fn run(cmd: DataCommand) -> Result<(), NodeError> {
    match cmd {
        DataCommand::Ingest { dir, api_port } => {
            let r = crate::gateway::ingest_dir(&dir, api_port)?;
            println!("accepted {}", r.accepted);
            for (f, why) in &r.refused {
                println!("refused {} {why}", f.display());
            }
            if r.refused.is_empty() {
                Ok(())
            } else {
                Err(NodeError::Network(format!("{} refused", r.refused.len())))
            }
        }
        DataCommand::GatewaySim {
            out,
            device_key,
            master,
            stream,
            start_ms,
            seconds,
            pad,
            seed,
        } => {
            let device = crate::config::load_key(&device_key)?;
            let master = crate::gateway::load_master(&master)?;
            let stream = crate::gateway::parse_stream(&stream)
                .ok_or_else(|| bad("--stream", "64 hex digits"))?;
            let start_ms = start_ms
                .unwrap_or_else(|| (crate::node::now().0 / 60_000).saturating_sub(20) * 60_000);
            let opts = crate::devgateway::SimOptions {
                stream,
                schedule: crate::devgateway::default_schedule(),
                start_ms,
                seconds,
                pad,
                seed,
            };
            let (outputs, _) = crate::devgateway::simulate(&opts, &device, &master)
                .map_err(|e| bad("simulate", e))?;
            crate::devgateway::write_dir(&out, &outputs).map_err(|e| NodeError::io(&out, e))?;
            println!("{} outputs in {}", outputs.len(), out.display());
            Ok(())
        }
        #[cfg(feature = "pre")]
        DataCommand::Buy {
            api_port,
            chain_id,
            key,
            listing,
            interval,
            storage_peers,
            proxies: p,
            out,
            timeout_secs,
        } => {
            let opts = crate::trade::BuyOptions {
                api_port,
                chain_id,
                key: crate::config::load_key(&key)?,
                listing: hash("--listing", &listing)?,
                interval,
                schedule: crate::devgateway::default_schedule(),
                storage_peers,
                proxies: proxies(&p)?,
                timeout: std::time::Duration::from_secs(timeout_secs),
            };
            let mut csv = Vec::new();
            let b = crate::trade::buy(&opts, &mut csv)
                .map_err(|e| NodeError::Network(format!("buy: {e}")))?;
            std::fs::write(&out, csv).map_err(|e| NodeError::io(&out, e))?;
            println!(
                "order {} confirmed: {} readings in {} (first after {:?})",
                hex::encode(b.order.0 .0),
                b.readings.len(),
                out.display(),
                b.time_to_first_reading
            );
            Ok(())
        }
        #[cfg(feature = "pre")]
        DataCommand::Sell {
            api_port,
            chain_id,
            key,
            master,
            stream,
            order,
            proxies: p,
            threshold,
            timeout_secs,
        } => {
            let owner_key = crate::config::load_key(&key)?;
            let stream = crate::gateway::parse_stream(&stream)
                .ok_or_else(|| bad("--stream", "64 hex digits"))?;
            let mut owner = cpchain_storage::sharing::Owner::new(
                owner_key.clone(),
                crate::gateway::load_master(&master)?,
                stream,
                cpchain_storage::sharing::OwnerConfig {
                    chain_id,
                    ..Default::default()
                },
            )
            .map_err(|e| bad("owner", e))?;
            let order = crate::ledger::OrderId(hash("--order", &order)?);
            let g = crate::trade::sell(
                api_port,
                chain_id,
                &mut owner,
                &owner_key,
                &order,
                &proxies(&p)?,
                threshold,
                std::time::Duration::from_secs(timeout_secs),
            )
            .map_err(|e| NodeError::Network(format!("sell: {e}")))?;
            println!(
                "order {} delivered with grant {}",
                hex::encode(order.0 .0),
                hex::encode(g.0)
            );
            Ok(())
        }
    }
}
