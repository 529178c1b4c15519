//! The node's errors: each says what went wrong in words an operator can act on.

use std::path::PathBuf;

/// Why the node (or one of its commands) stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The configuration file is not valid.
    #[error("configuration {path}: {reason}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The key file does not hold a 32-byte secp256k1 secret in hex.
    #[error("key file {0}: not a hex secp256k1 secret key")]
    Key(PathBuf),
    /// The database cannot be opened: corrupt, truncated, locked or not a redb file.
    #[error("database {path} cannot be opened ({reason}); refusing to start: restore it from a backup or remove it to sync afresh")]
    DatabaseCorrupt {
        /// The file.
        path: PathBuf,
        /// redb's diagnosis.
        reason: String,
    },
    /// The database belongs to another chain or is not a CPChain node database.
    #[error("database {path} is foreign: {reason}; refusing to start")]
    DatabaseForeign {
        /// The file.
        path: PathBuf,
        /// What does not match.
        reason: String,
    },
    /// A database read or write failed while running (disk full, I/O error): the node
    /// stops before acting on anything that depended on the write.
    #[error("database write failed: {0}; stopping before acting on it")]
    Storage(String),
    /// The disk is full: a database write failed for lack of space. The node stops before
    /// acting on anything that depended on the write; nothing is half-written (redb's
    /// commit is atomic, the previous commit stays intact). Free space and restart.
    #[error("disk full: a database write failed ({0}); stopped before acting on it, nothing half-written; free space and restart the node")]
    DiskFull(String),
    /// The consensus engine refused its configuration or persisted state.
    #[error("consensus: {0}")]
    Consensus(String),
    /// The network layer could not be set up.
    #[error("network: {0}")]
    Network(String),
}

impl NodeError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> NodeError {
        NodeError::Io {
            path: path.into(),
            source,
        }
    }
}
