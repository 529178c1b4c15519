//! The proxy role's hook into the follower loop (issue 15 item 4): with feature `pre` and a
//! `proxy` section in the configuration, the follower answers `/cpchain/cfrag/1` with
//! [`crate::proxy::ProxyService`] judged against the chain's ledger and the latest block's
//! timestamp, and re-checks its grants after every new block. Without `pre` a `proxy`
//! section is refused at start-up (such a node cannot check grants), and cfrag requests
//! are left unanswered.

use crate::config::NodeConfig;
use crate::error::NodeError;
use crate::network::{Behaviour, CfragFrame};
use crate::store::Store;
use cpchain_consensus::lbft::Header;
use libp2p::request_response;
use libp2p::Swarm;

/// The running proxy role (nothing without `pre`).
#[derive(Debug)]
pub struct ProxyRole {
    #[cfg(feature = "pre")]
    service: crate::proxy::ProxyService,
    #[cfg(feature = "pre")]
    checked_head: u64,
}

/// The latest block's timestamp (genesis time before the first block): the proxy's only
/// clock for grant expiry.
#[cfg_attr(not(feature = "pre"), allow(dead_code))]
fn head_time(store: &Store, genesis: &Header) -> Result<(u64, cpchain_core::Timestamp), NodeError> {
    Ok(match store.head()? {
        Some(v) => (v.block.header.height.0, v.block.header.timestamp),
        None => (0, genesis.timestamp),
    })
}

impl ProxyRole {
    /// Start the role if the configuration asks for it.
    pub fn start(
        cfg: &NodeConfig,
        store: &Store,
        genesis: &Header,
    ) -> Result<Option<ProxyRole>, NodeError> {
        let Some(role) = cfg.proxy.as_ref() else {
            return Ok(None);
        };
        #[cfg(feature = "pre")]
        {
            let key = crate::config::load_key(&cfg.key_file)?;
            let (height, now) = head_time(store, genesis)?;
            let ledger = crate::proxy::StoreLedger(store);
            let service = crate::proxy::ProxyService::open(
                &cfg.data_dir.join("proxy.redb"),
                key,
                role,
                cfg.chain_id,
                &ledger,
                now,
            )?;
            tracing::info!(
                grants = service.held_grants(),
                bytes = service.stored_bytes(),
                "proxy role started"
            );
            Ok(Some(ProxyRole {
                service,
                checked_head: height,
            }))
        }
        #[cfg(not(feature = "pre"))]
        {
            let _ = (role, store, genesis);
            Err(NodeError::Config {
                path: cfg.data_dir.clone(),
                reason: "a `proxy` section needs a node built with feature `pre`".into(),
            })
        }
    }

    /// A cfrag-protocol event: answer a request; replies to our own requests do not occur.
    pub fn on_event(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        store: &Store,
        genesis: &Header,
        event: request_response::Event<CfragFrame, CfragFrame>,
    ) -> Result<(), NodeError> {
        #[cfg(feature = "pre")]
        if let request_response::Event::Message {
            message:
                request_response::Message::Request {
                    request, channel, ..
                },
            peer,
            ..
        } = event
        {
            self.on_block(store, genesis)?;
            let (_, now) = head_time(store, genesis)?;
            let ledger = crate::proxy::StoreLedger(store);
            let reply =
                self.service
                    .handle_bytes(now, &mut rand_core::OsRng, &ledger, &request.0)?;
            if let crate::proxy::CfragReply::Refused { code, .. } = &reply {
                tracing::debug!(%peer, %code, "proxy: refused");
            }
            let bytes = cpchain_core::encoding::encode_to_vec(&reply)
                .map_err(|e| NodeError::Storage(format!("encode reply: {e}")))?;
            let _ = swarm
                .behaviour_mut()
                .cfrag
                .send_response(channel, CfragFrame(bytes));
        }
        #[cfg(not(feature = "pre"))]
        let _ = (swarm, store, genesis, event);
        Ok(())
    }

    /// After blocks were stored: drop the kfrags of grants the chain no longer backs.
    pub fn on_block(&mut self, store: &Store, genesis: &Header) -> Result<(), NodeError> {
        #[cfg(feature = "pre")]
        {
            let (height, now) = head_time(store, genesis)?;
            if height != self.checked_head {
                self.checked_head = height;
                let ledger = crate::proxy::StoreLedger(store);
                for id in self.service.on_block(now, &ledger)? {
                    tracing::info!(grant = %hex::encode(id.0 .0), "proxy: grant revoked or expired on chain; kfrags dropped");
                }
            }
        }
        #[cfg(not(feature = "pre"))]
        let _ = (store, genesis);
        Ok(())
    }

    /// Counters for the status file: (grants held, cfrags served, refusals).
    pub fn counters(&self) -> (usize, u64, u64) {
        #[cfg(feature = "pre")]
        {
            let s = self.service.stats();
            (self.service.held_grants(), s.served, s.refused)
        }
        #[cfg(not(feature = "pre"))]
        (0, 0, 0)
    }
}
