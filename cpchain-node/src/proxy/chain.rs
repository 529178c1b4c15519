//! The proxy's view of the chain: the node's ledger state (grants recorded by committed
//! `Grant` transactions, revoked by `Revoke` ones) read from its redb store.

use super::service::{ChainGrant, GrantLedger};
use crate::error::NodeError;
use crate::store::Store;
use cpchain_storage::sharing::GrantId;

/// The grant records of the node's own store.
#[derive(Debug, Clone, Copy)]
pub struct StoreLedger<'a>(pub &'a Store);

impl GrantLedger for StoreLedger<'_> {
    fn chain_grant(&self, id: &GrantId) -> Result<ChainGrant, NodeError> {
        let record = self
            .0
            .ledger()
            .grant(&id.0)
            .map_err(|e| NodeError::Storage(format!("ledger: {e}")))?;
        Ok(match record {
            None => ChainGrant::Unknown,
            Some(g) => ChainGrant::Recorded {
                expires_at: g.expires_at,
                revoked: g.revoked_at.is_some(),
            },
        })
    }
}
