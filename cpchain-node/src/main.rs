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
    /// Data services (issue 15): ingest, gateway-sim, buy, sell.
    #[command(flatten)]
    Data(cpchain_node::data_cli::DataCommand),
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
        /// Stop when the parent process dies (devnets and tests: no orphaned nodes).
        #[arg(long)]
        exit_with_parent: bool,
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
    /// Transactions.
    Tx {
        #[command(subcommand)]
        command: TxCommand,
    },
    /// Start a local network of validator processes on 127.0.0.1.
    Devnet {
        /// Validators (3f + 1).
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// Proposer RNodes that are not validators (they campaign and propose when
        /// elected).
        #[arg(long, default_value_t = 0)]
        proposers: usize,
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

/// What every data-ledger `tx` subcommand needs.
#[derive(clap::Args)]
struct TxArgs {
    /// The sender's key file.
    #[arg(long)]
    key: PathBuf,
    /// Nonce (default: the sender's next, asked from the node).
    #[arg(long)]
    nonce: Option<u64>,
    /// Chain id.
    #[arg(long, default_value_t = 41)]
    chain_id: u64,
    /// The node's API port on 127.0.0.1.
    #[arg(long)]
    api_port: u16,
}

#[derive(Subcommand)]
enum TxCommand {
    /// Order intervals of a listing: locks price × intervals in escrow (prints the order id).
    Order {
        #[command(flatten)]
        args: TxArgs,
        /// The listing's id (32-byte hex).
        #[arg(long)]
        listing: String,
        /// First interval.
        #[arg(long)]
        first: u64,
        /// Last interval (inclusive).
        #[arg(long)]
        last: u64,
        /// The buyer's Umbral receiving key (33-byte compressed hex).
        #[arg(long)]
        grantee: String,
        /// Block-time milliseconds the seller has to deliver.
        #[arg(long, default_value_t = 600_000)]
        deliver_within_ms: u64,
        /// Block-time milliseconds to confirm or dispute after delivery.
        #[arg(long, default_value_t = 600_000)]
        confirm_within_ms: u64,
    },
    /// Deliver an order with a grant already on chain (the seller).
    Deliver {
        #[command(flatten)]
        args: TxArgs,
        /// The order's id (32-byte hex).
        #[arg(long)]
        order: String,
        /// The grant's id (32-byte hex).
        #[arg(long)]
        grant: String,
    },
    /// Confirm a delivered order: releases the payment to the seller (the buyer).
    Confirm {
        #[command(flatten)]
        args: TxArgs,
        /// The order's id (32-byte hex).
        #[arg(long)]
        order: String,
    },
    /// Dispute a delivered order before release: refunds the buyer (the buyer).
    Dispute {
        #[command(flatten)]
        args: TxArgs,
        /// The order's id (32-byte hex).
        #[arg(long)]
        order: String,
    },
    /// Sign a transfer with KEY and submit it to a node's HTTP API.
    Send {
        /// The sender's key file.
        #[arg(long)]
        key: PathBuf,
        /// Recipient address (0x…).
        #[arg(long)]
        to: String,
        /// Base units.
        #[arg(long)]
        amount: u128,
        /// Nonce (default: the sender's next, asked from the node).
        #[arg(long)]
        nonce: Option<u64>,
        /// Chain id.
        #[arg(long, default_value_t = 41)]
        chain_id: u64,
        /// The node's API port on 127.0.0.1.
        #[arg(long)]
        api_port: u16,
    },
}

fn send_tx(
    key: PathBuf,
    to: String,
    amount: u128,
    nonce: Option<u64>,
    chain_id: u64,
    api_port: u16,
) -> Result<(), NodeError> {
    use cpchain_node::api::http;
    use cpchain_node::tx::{Transaction, TxBody, TxKind};
    let net = |e: std::io::Error| NodeError::Network(format!("API: {e}"));
    let key = cpchain_node::config::load_key(&key)?;
    let to: cpchain_core::Address = to.parse().map_err(|e| NodeError::Config {
        path: PathBuf::from("--to"),
        reason: format!("{e}"),
    })?;
    let nonce = match nonce {
        Some(n) => n,
        None => {
            let me = key.public_key().address();
            let (_, body) = http(api_port, "GET", &format!("/account/{me}"), None).map_err(net)?;
            let v: serde_json::Value =
                serde_json::from_str(&body).map_err(|e| NodeError::Network(e.to_string()))?;
            v["nonce"].as_u64().unwrap_or(0)
        }
    };
    let tx = Transaction::sign(
        &key,
        TxBody {
            chain_id,
            nonce,
            kind: TxKind::Transfer { to, amount },
        },
    );
    // The batch wire form (`POST /txs`, application/octet-stream): no hex, no JSON.
    let (status, reply) = cpchain_node::api::post_batch(api_port, &[tx.to_bytes()]).map_err(net)?;
    let result = serde_json::from_str::<serde_json::Value>(&reply)
        .ok()
        .and_then(|v| v["results"].get(0).cloned());
    match result {
        Some(r) if status == 200 => {
            println!("{status} {r}");
            if r.get("hash").is_some() {
                Ok(())
            } else {
                Err(NodeError::Network(format!("refused: {r}")))
            }
        }
        _ => {
            println!("{status} {reply}");
            Err(NodeError::Network(format!("refused: {reply}")))
        }
    }
}

fn hex_arg<const N: usize>(flag: &str, s: &str) -> Result<[u8; N], NodeError> {
    let mut out = [0u8; N];
    hex::decode_to_slice(s.trim_start_matches("0x"), &mut out).map_err(|e| NodeError::Config {
        path: PathBuf::from(flag),
        reason: format!("expected {N} bytes of hex: {e}"),
    })?;
    Ok(out)
}

/// Sign and submit a data-ledger kind; prints the reply (and, for an order, its id).
fn send_ledger_tx(args: TxArgs, kind: cpchain_node::tx::TxKind) -> Result<(), NodeError> {
    let key = cpchain_node::config::load_key(&args.key)?;
    let is_order = matches!(kind, cpchain_node::tx::TxKind::Order(_));
    let (status, reply, nonce) =
        cpchain_node::api::send_kind(args.api_port, &key, args.chain_id, args.nonce, kind)
            .map_err(|e| NodeError::Network(format!("API: {e}")))?;
    println!("{status} {reply}");
    if is_order {
        let id = cpchain_node::ledger::order_id(&key.public_key().address(), nonce);
        println!("order {}", hex::encode(id.0 .0));
    }
    if status == 200 {
        Ok(())
    } else {
        Err(NodeError::Network(format!("refused: {reply}")))
    }
}

fn ledger_command(command: TxCommand) -> Result<(), NodeError> {
    use cpchain_core::Hash;
    use cpchain_node::ledger::{OrderId, OrderTx};
    use cpchain_node::tx::TxKind;
    let order = |s: &str| hex_arg::<32>("--order", s).map(|b| OrderId(Hash(b)));
    match command {
        TxCommand::Order {
            args,
            listing,
            first,
            last,
            grantee,
            deliver_within_ms,
            confirm_within_ms,
        } => {
            let kind = TxKind::Order(Box::new(OrderTx {
                listing: cpchain_storage::market::ListingId(Hash(hex_arg("--listing", &listing)?)),
                first_interval: first,
                last_interval: last,
                grantee: hex_arg("--grantee", &grantee)?,
                deliver_within_ms,
                confirm_within_ms,
            }));
            send_ledger_tx(args, kind)
        }
        TxCommand::Deliver {
            args,
            order: o,
            grant,
        } => {
            let kind = TxKind::Deliver {
                order: order(&o)?,
                grant: Hash(hex_arg("--grant", &grant)?),
            };
            send_ledger_tx(args, kind)
        }
        TxCommand::Confirm { args, order: o } => {
            let kind = TxKind::Confirm { order: order(&o)? };
            send_ledger_tx(args, kind)
        }
        TxCommand::Dispute { args, order: o } => {
            let kind = TxKind::Dispute { order: order(&o)? };
            send_ledger_tx(args, kind)
        }
        TxCommand::Send { .. } => Ok(()),
    }
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
        Command::Data(cmd) => cpchain_node::data_cli::run(cmd),
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
        Command::Run {
            config,
            exit_with_parent,
        } => {
            let cfg = NodeConfig::load(&config)?;
            let key = cpchain_node::config::load_key(&cfg.key_file)?;
            let set = cfg
                .validator_set()
                .map_err(cpchain_node::error::NodeError::Consensus)?;
            if set.contains(&key.public_key().address()) {
                runtime()?.block_on(cpchain_node::node::run(cfg, exit_with_parent))
            } else {
                runtime()?.block_on(cpchain_node::follower::run(cfg, exit_with_parent))
            }
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
        Command::Tx {
            command:
                TxCommand::Send {
                    key,
                    to,
                    amount,
                    nonce,
                    chain_id,
                    api_port,
                },
        } => send_tx(key, to, amount, nonce, chain_id, api_port),
        Command::Tx { command } => ledger_command(command),
        Command::Devnet {
            validators,
            proposers,
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
                proposers,
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
