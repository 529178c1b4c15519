//! The `cpchain-node` binary: see the `cpchain_node` crate docs.

use clap::{Parser, Subcommand};
use cpchain_node::config::{generate_key, NodeConfig};
use cpchain_node::devnet::{self, DevnetOptions};
use cpchain_node::error::NodeError;
use cpchain_node::store::Store;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// CPChain reference host node.
#[derive(Parser)]
#[command(name = "cpchain-node", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a secp256k1 identity key into FILE (refuses to overwrite).
    Keygen {
        /// Where to write the key (hex).
        #[arg(long)]
        out: PathBuf,
    },
    /// Run a validator.
    Run {
        /// The node's configuration file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Show a node's status (its live status file, or its database if it is stopped).
    Status {
        /// The node's configuration file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Print a stopped node's chain: one line per block, `height id kind`.
    Chain {
        /// The node's configuration file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Start a local network of validator processes on 127.0.0.1.
    Devnet {
        /// Validators (3f + 1).
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// Block period, milliseconds.
        #[arg(long, default_value_t = 1000)]
        period_ms: u64,
        /// Impeach timeout, milliseconds.
        #[arg(long, default_value_t = 1000)]
        impeach_timeout_ms: u64,
        /// Directory for the nodes' keys, configs, databases and logs.
        #[arg(long)]
        dir: PathBuf,
        /// Stop after this many seconds.
        #[arg(long)]
        duration_secs: Option<u64>,
        /// Stop once every node has stored this many blocks.
        #[arg(long)]
        heights: Option<u64>,
        /// Only write keys and configs (print the config paths) and exit.
        #[arg(long)]
        init_only: bool,
        /// Make every node log the votes it sees (votes.log).
        #[arg(long)]
        vote_log: bool,
    },
}

fn logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CPCHAIN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}

fn runtime() -> Result<tokio::runtime::Runtime, NodeError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| NodeError::Network(format!("runtime: {e}")))
}

fn main_inner(cli: Cli) -> Result<(), NodeError> {
    match cli.command {
        Command::Keygen { out } => {
            let key = generate_key(&out)?;
            println!("address {}", key.public_key().address());
            println!(
                "public key {}",
                hex::encode(key.public_key().to_compressed())
            );
            println!("peer id {}", cpchain_node::binding::peer_id_of(&key));
            Ok(())
        }
        Command::Run { config } => {
            let cfg = NodeConfig::load(&config)?;
            runtime()?.block_on(cpchain_node::node::run(cfg))
        }
        Command::Status { config } => {
            let cfg = NodeConfig::load(&config)?;
            if let Some(s) = devnet::read_status(&config) {
                if !s.stopped {
                    let text = serde_json::to_string_pretty(&s)
                        .map_err(|e| NodeError::Network(e.to_string()))?;
                    println!("{text}");
                    return Ok(());
                }
            }
            let store = Store::open_existing(&cfg.db_path())?;
            let head = store.head()?.map(|v| v.block.header.height.0).unwrap_or(0);
            println!("{{\"stopped\": true, \"head\": {head}}}");
            Ok(())
        }
        Command::Chain { config } => {
            let cfg = NodeConfig::load(&config)?;
            let store = Store::open_existing(&cfg.db_path())?;
            for v in store.all()? {
                let kind = if v.block.is_impeach() {
                    "impeach"
                } else {
                    "normal"
                };
                println!(
                    "{} {} {kind}",
                    v.block.header.height.0,
                    hex::encode(v.block.id().0)
                );
            }
            Ok(())
        }
        Command::Devnet {
            validators,
            period_ms,
            impeach_timeout_ms,
            dir,
            duration_secs,
            heights,
            init_only,
            vote_log,
        } => {
            let exe = std::env::current_exe().map_err(|e| NodeError::io("current_exe", e))?;
            let opts = DevnetOptions {
                validators,
                period_ms,
                impeach_timeout_ms,
                dir,
                duration: duration_secs.map(Duration::from_secs),
                heights,
                init_only,
                vote_log,
            };
            runtime()?.block_on(devnet::run(opts, exe))
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging();
    match main_inner(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cpchain-node: error: {e}");
            ExitCode::FAILURE
        }
    }
}
