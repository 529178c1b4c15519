//! The proxy role's hook into the follower loop (issue 15 item 4): with feature `pre` and a
//! `proxy` section in the configuration, a [`crate::services::Service`] that answers
//! `/cpchain/cfrag/1` with `crate::proxy::ProxyService`, judged against the chain's
//! ledger and the latest block's timestamp, and re-checks its grants on every tick after
//! the head moved (about 4 Hz). Without `pre` a `proxy` section is refused at start-up
//! (such a node cannot check grants), and cfrag requests are left unanswered.
//!
//! A local disk failure while serving (the kfrag store) is answered `internal` and logged
//! at error level rather than stopping the node: the service extension has no way to stop
//! the loop, and the chain part of the node is unaffected.

use crate::config::NodeConfig;
use crate::error::NodeError;
use crate::store::Store;
use cpchain_consensus::lbft::Header;
use std::sync::Arc;

/// The running proxy role (nothing without `pre`).
#[derive(Debug)]
pub struct ProxyRole {
    #[cfg(feature = "pre")]
    service: crate::proxy::ProxyService,
    #[cfg(feature = "pre")]
    checked_head: u64,
    #[cfg(feature = "pre")]
    store: Arc<Store>,
    #[cfg(feature = "pre")]
    genesis: Header,
}

/// The latest block's height and timestamp (genesis time before the first block): the
/// proxy's only clock for grant expiry.
#[cfg(feature = "pre")]
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
        store: Arc<Store>,
        genesis: &Header,
    ) -> Result<Option<ProxyRole>, NodeError> {
        let Some(role) = cfg.proxy.as_ref() else {
            return Ok(None);
        };
        #[cfg(feature = "pre")]
        {
            let key = crate::config::load_key(&cfg.key_file)?;
            let (height, now) = head_time(&store, genesis)?;
            let service = crate::proxy::ProxyService::open(
                &cfg.data_dir.join("proxy.redb"),
                key,
                role,
                cfg.chain_id,
                &crate::proxy::StoreLedger(&store),
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
                store,
                genesis: genesis.clone(),
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
}

#[cfg(feature = "pre")]
mod serve {
    use super::{head_time, ProxyRole};
    use crate::error::NodeError;
    use crate::network::{Behaviour, CfragFrame, Event};
    use crate::proxy::{CfragReply, RefusalCode, StoreLedger};
    use cpchain_storage::sharing::GrantId;
    use libp2p::{request_response, Swarm};

    impl ProxyRole {
        /// Drop the kfrags of grants the chain no longer backs, once per new head.
        fn check_head(&mut self) -> Result<(), NodeError> {
            let (height, now) = head_time(&self.store, &self.genesis)?;
            if height != self.checked_head {
                self.checked_head = height;
                let ledger = StoreLedger(&self.store);
                for id in self.service.on_block(now, &ledger)? {
                    tracing::info!(grant = %hex::encode(id.0 .0), "proxy: grant revoked or expired on chain; kfrags dropped");
                }
            }
            Ok(())
        }

        fn answer(&mut self, request: &[u8]) -> Result<CfragReply, NodeError> {
            self.check_head()?;
            let (_, now) = head_time(&self.store, &self.genesis)?;
            let ledger = StoreLedger(&self.store);
            self.service
                .handle_bytes(now, &mut rand_core::OsRng, &ledger, request)
        }
    }

    impl crate::services::Service for ProxyRole {
        fn on_event(&mut self, swarm: &mut Swarm<Behaviour>, event: Event) -> Option<Event> {
            let Event::Cfrag(ev) = event else {
                return Some(event);
            };
            if let request_response::Event::Message {
                message:
                    request_response::Message::Request {
                        request, channel, ..
                    },
                peer,
                ..
            } = ev
            {
                let reply = self.answer(&request.0).unwrap_or_else(|e| {
                    tracing::error!("proxy: local failure while serving: {e}");
                    CfragReply::Refused {
                        grant: GrantId(Default::default()),
                        code: RefusalCode::Internal,
                    }
                });
                if let CfragReply::Refused { code, .. } = &reply {
                    tracing::debug!(%peer, %code, "proxy: refused");
                }
                match cpchain_core::encoding::encode_to_vec(&reply) {
                    Ok(bytes) => {
                        let _ = swarm
                            .behaviour_mut()
                            .cfrag
                            .send_response(channel, CfragFrame(bytes));
                    }
                    Err(e) => tracing::error!("proxy: reply does not encode: {e}"),
                }
            }
            None
        }

        fn on_tick(&mut self, _swarm: &mut Swarm<Behaviour>, _now_ms: u64) {
            if let Err(e) = self.check_head() {
                tracing::error!("proxy: re-checking grants failed: {e}");
            }
        }
    }
}
