//! Helpers of the data-services tests (issue 15 items 3 and 5): storage, gateway and
//! peer settings on a devnet's proposer slots.

use super::Net;
use cpchain_node::config::NodeConfig;
use std::path::PathBuf;

impl Net {
    /// Make node `i` (a proposer slot of `init_with`) a storage node instead: no campaign,
    /// a `storage` section with `quota_bytes` and the given writer addresses (issue 15).
    pub fn make_storage(&self, i: usize, quota_bytes: u64, writers: &[cpchain_core::Address]) {
        let mut cfg = NodeConfig::load(&self.configs[i]).expect("config");
        cfg.campaign = false;
        cfg.storage = Some(cpchain_node::config::StorageConfig {
            quota_bytes,
            per_peer_bytes: u64::MAX,
            writers: writers.iter().map(|a| a.to_string()).collect(),
            tamper_shards: false,
        });
        cfg.save(&self.configs[i]).expect("save config");
    }

    /// Make node `i` (a proposer slot) the owner's gateway-ingest node for `streams`, with
    /// the owner's master secret `master` written beside its data (issue 15 item 3).
    pub fn make_gateway(
        &self,
        i: usize,
        streams: Vec<cpchain_node::gateway::GatewayStream>,
        master: Option<&[u8; 32]>,
    ) {
        let mut cfg = NodeConfig::load(&self.configs[i]).expect("config");
        cfg.campaign = false;
        let owner_master_file = master.map(|m| {
            std::fs::create_dir_all(&cfg.data_dir).expect("data dir");
            std::fs::write(cfg.data_dir.join("owner.master"), hex::encode(m)).expect("master");
            PathBuf::from("owner.master")
        });
        cfg.gateway = Some(cpchain_node::gateway::GatewayConfig {
            streams,
            owner_master_file,
        });
        cfg.save(&self.configs[i]).expect("save config");
    }
}

impl Net {
    /// Add nodes `others` to node `i`'s peers (the devnet's followers dial only the
    /// validators; storage nodes and their clients must dial each other).
    pub fn add_peers(&self, i: usize, others: &[usize]) {
        let extra: Vec<String> = others
            .iter()
            .filter(|&&o| o != i)
            .map(|&o| self.endpoint(o).0)
            .collect();
        let mut cfg = NodeConfig::load(&self.configs[i]).expect("config");
        for e in extra {
            if !cfg.peers.contains(&e) {
                cfg.peers.push(e);
            }
        }
        cfg.save(&self.configs[i]).expect("save config");
    }
}
