//! The two callers of proxies, as library calls over `/cpchain/cfrag/1`: the owner, who
//! sends each proxy of a grant its kfrags ([`deliver_kfrags`]), and the grantee (the
//! buyer), who asks the grant's proxies for one interval's cfrags, checks every reply with
//! `Grantee::handle_cfrag` and opens the interval key with `m` of them
//! ([`open_interval`]). Each call runs its own small libp2p swarm (TCP + noise + yamux,
//! the cfrag protocol only) with a fresh transport key: the proxies' signatures, not the
//! transport, tie a cfrag to a proxy, so the caller needs no binding of its own.

use super::wire::{CfragReply, CfragRequest, RefusalCode};
use crate::network::{cfrag_behaviour, CfragCodec, CfragFrame};
use cpchain_core::{encoding, Address, Timestamp};
use cpchain_crypto::pre::WrappedKey;
use cpchain_storage::keys::IntervalKey;
use cpchain_storage::sharing::{
    Fault, GrantId, Grantee, GranteeOutput, KfragDelivery, Owner, OwnerOutput, SharingError,
    SignedGrant, SignedRevoke,
};
use futures::StreamExt;
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, OutboundRequestId};
use libp2p::swarm::SwarmEvent;
use libp2p::{noise, tcp, yamux, Multiaddr, PeerId, Swarm};
use std::collections::HashMap;
use std::time::Duration;
use thiserror::Error;

/// A proxy as a caller reaches it: its chain address (as the grant names it) and its
/// libp2p address ending in `/p2p/<peer id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyEndpoint {
    /// The proxy's chain address.
    pub address: Address,
    /// Where to dial it.
    pub multiaddr: Multiaddr,
}

/// Why a call to proxies failed as a whole (one proxy's failure is in [`ProxyReport`]).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ProxyClientError {
    /// The caller's grant or request was refused by the local sharing machine.
    #[error("sharing: {0}")]
    Sharing(SharingError),
    /// The local swarm could not be built.
    #[error("network: {0}")]
    Network(String),
    /// A proxy endpoint's address does not end in `/p2p/<peer id>`.
    #[error("endpoint {0} has no /p2p/ peer id")]
    NoPeerId(Multiaddr),
    /// Fewer than `m` proxies returned a verified cfrag in time.
    #[error("interval not opened: {have} verified cfrags, {need} needed ({report})")]
    NotEnoughCfrags {
        /// Verified cfrags.
        have: usize,
        /// The grant's threshold.
        need: usize,
        /// What each proxy did.
        report: ProxyReport,
    },
}

impl From<SharingError> for ProxyClientError {
    fn from(e: SharingError) -> Self {
        ProxyClientError::Sharing(e)
    }
}

/// What each proxy asked did, by its chain address.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProxyReport {
    /// Proxies whose cfrag verified and counted.
    pub served: Vec<Address>,
    /// Proxies that refused, with their code.
    pub refused: Vec<(Address, RefusalCode)>,
    /// Proxies that could not be reached or answered garbage (dial failure, timeout,
    /// undecodable reply).
    pub unreachable: Vec<(Address, String)>,
    /// Checkable misbehaviour, each naming the proxy (a signed cfrag that is not a
    /// correct re-encryption).
    pub faults: Vec<Fault>,
}

impl core::fmt::Display for ProxyReport {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{} served, {} refused",
            self.served.len(),
            self.refused.len()
        )?;
        for (a, c) in &self.refused {
            write!(f, " [{a}: {c}]")?;
        }
        write!(f, ", {} unreachable", self.unreachable.len())?;
        for (a, e) in &self.unreachable {
            write!(f, " [{a}: {e}]")?;
        }
        write!(f, ", {} faults", self.faults.len())
    }
}

/// A grant's outputs of the owner machine, ready for the chain and the proxies.
#[derive(Debug, Clone, PartialEq)]
pub struct GrantOutputs {
    /// The signed grant, for a grant transaction.
    pub grant: SignedGrant,
    /// One kfrag delivery per proxy, for [`deliver_kfrags`] once the grant is on chain.
    pub deliveries: Vec<KfragDelivery>,
}

/// Drain the owner machine after `Owner::grant`: the signed grant and its deliveries
/// (`None` if it emitted no grant).
pub fn grant_outputs(owner: &mut Owner) -> Option<GrantOutputs> {
    let mut grant = None;
    let mut deliveries = Vec::new();
    while let Some(o) = owner.poll_output() {
        match o {
            OwnerOutput::PublishGrant(g) => grant = Some(*g),
            OwnerOutput::SendKfrags { delivery, .. } => deliveries.push(*delivery),
            _ => {}
        }
    }
    grant.map(|grant| GrantOutputs { grant, deliveries })
}

/// Drain the owner machine after `Owner::revoke`: the signed revocation for the chain (the
/// proxies learn of it from the chain; the machine's direct `SendRevoke`s are dropped).
pub fn revoke_output(owner: &mut Owner) -> Option<SignedRevoke> {
    let mut out = None;
    while let Some(o) = owner.poll_output() {
        if let OwnerOutput::PublishRevoke(r) = o {
            out = Some(r);
        }
    }
    out
}

type ClientSwarm = Swarm<request_response::Behaviour<CfragCodec>>;

fn client_swarm() -> Result<ClientSwarm, ProxyClientError> {
    let net = |e: &dyn std::fmt::Display| ProxyClientError::Network(e.to_string());
    Ok(libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| net(&e))?
        .with_behaviour(|_| cfrag_behaviour())
        .map_err(|e| net(&e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(10)))
        .build())
}

fn peer_of(m: &Multiaddr) -> Result<PeerId, ProxyClientError> {
    match m.iter().last() {
        Some(Protocol::P2p(p)) => Ok(p),
        _ => Err(ProxyClientError::NoPeerId(m.clone())),
    }
}

/// Send each `(endpoint, request)` and hand every reply (or failure) to `on_reply` as it
/// comes, until all have answered, `on_reply` says it is done, or `timeout` passes (the
/// ones still out are reported as timed out).
async fn exchange(
    requests: Vec<(ProxyEndpoint, Vec<u8>)>,
    timeout: Duration,
    mut on_reply: impl FnMut(Address, Result<CfragReply, String>) -> bool,
) -> Result<(), ProxyClientError> {
    let mut swarm = client_swarm()?;
    let mut out: HashMap<OutboundRequestId, Address> = HashMap::new();
    for (ep, bytes) in requests {
        let peer = peer_of(&ep.multiaddr)?;
        let id = swarm.behaviour_mut().send_request_with_addresses(
            &peer,
            CfragFrame(bytes),
            vec![ep.multiaddr.clone()],
        );
        out.insert(id, ep.address);
    }
    let deadline = tokio::time::Instant::now() + timeout;
    while !out.is_empty() {
        let ev = tokio::select! {
            ev = swarm.select_next_some() => ev,
            _ = tokio::time::sleep_until(deadline) => break,
        };
        let (id, result) = match ev {
            SwarmEvent::Behaviour(request_response::Event::Message {
                message:
                    request_response::Message::Response {
                        request_id,
                        response,
                    },
                ..
            }) => (
                request_id,
                encoding::decode::<CfragReply>(&response.0).map_err(|e| format!("reply: {e}")),
            ),
            SwarmEvent::Behaviour(request_response::Event::OutboundFailure {
                request_id,
                error,
                ..
            }) => (request_id, Err(error.to_string())),
            _ => continue,
        };
        if let Some(address) = out.remove(&id) {
            if on_reply(address, result) {
                return Ok(());
            }
        }
    }
    for (_, address) in out {
        on_reply(address, Err("timed out".into()));
    }
    Ok(())
}

/// Send every delivery to its proxy (the delivery names it; `proxies` says where it is).
/// Returns each proxy's answer: the grant accepted, or why not (a refusal code, or a
/// network failure as text). Send only once the grant is on chain: proxies refuse
/// deliveries for grants the chain has not recorded (`not_on_chain`).
pub async fn deliver_kfrags(
    deliveries: &[KfragDelivery],
    proxies: &[ProxyEndpoint],
    timeout: Duration,
) -> Result<Vec<(Address, Result<GrantId, String>)>, ProxyClientError> {
    let mut results = Vec::new();
    let mut requests = Vec::new();
    for d in deliveries {
        let Some(ep) = proxies.iter().find(|p| p.address == d.proxy) else {
            results.push((d.proxy, Err("no endpoint for this proxy".to_string())));
            continue;
        };
        let bytes = encoding::encode_to_vec(&CfragRequest::Deliver(Box::new(d.clone())))
            .map_err(|e| ProxyClientError::Network(format!("encode: {e}")))?;
        requests.push((ep.clone(), bytes));
    }
    exchange(requests, timeout, |address, r| {
        results.push((
            address,
            match r {
                Ok(CfragReply::Accepted(id)) => Ok(id),
                Ok(CfragReply::Refused { code, .. }) => Err(code.as_str().to_string()),
                Ok(CfragReply::Cfrag(_)) => Err("unexpected cfrag".to_string()),
                Err(e) => Err(e),
            },
        ));
        false
    })
    .await?;
    Ok(results)
}

/// The grantee's side (PRE steps 4 and 6): ask every proxy of `grant` (accepted by
/// `grantee` before) for `interval`'s cfrag of `wrapped` (from the interval's key-index
/// record), check each reply with `Grantee::handle_cfrag` (a bad one is a fault naming
/// the proxy, in the report), and open the interval key as soon as `m` verified cfrags
/// are held; the other proxies' replies are not waited for. `now` is the grantee's time
/// for its own request deadline (proxies judge the grant by block time). With fewer
/// than `m` in `timeout`: [`ProxyClientError::NotEnoughCfrags`] with the report.
pub async fn open_interval(
    grantee: &mut Grantee,
    now: Timestamp,
    grant: &GrantId,
    interval: u64,
    wrapped: WrappedKey,
    proxies: &[ProxyEndpoint],
    timeout: Duration,
) -> Result<(IntervalKey, ProxyReport), ProxyClientError> {
    grantee.request(now, grant, interval, wrapped)?;
    let mut report = ProxyReport::default();
    let mut requests = Vec::new();
    while let Some(o) = grantee.poll_output() {
        if let GranteeOutput::SendRequest { to, request } = o {
            let Some(ep) = proxies.iter().find(|p| p.address == to) else {
                report.unreachable.push((to, "no endpoint".into()));
                continue;
            };
            let bytes = encoding::encode_to_vec(&CfragRequest::Reencrypt(request))
                .map_err(|e| ProxyClientError::Network(format!("encode: {e}")))?;
            requests.push((ep.clone(), bytes));
        }
    }
    exchange(requests, timeout, |address, r| {
        match r {
            Ok(CfragReply::Cfrag(response)) => {
                let before = grantee.verified_cfrags(grant, interval);
                if let Err(e) = grantee.handle_cfrag(now, response) {
                    report.unreachable.push((address, format!("grantee: {e}")));
                }
                if grantee.verified_cfrags(grant, interval) > before {
                    report.served.push(address);
                }
                let mut ready = false;
                while let Some(o) = grantee.poll_output() {
                    match o {
                        GranteeOutput::Ready {
                            grant: g,
                            interval: i,
                        } if g == *grant && i == interval => {
                            ready = true;
                        }
                        GranteeOutput::Fault(f) => report.faults.push(f),
                        _ => {}
                    }
                }
                return ready;
            }
            Ok(CfragReply::Refused { code, .. }) => report.refused.push((address, code)),
            Ok(CfragReply::Accepted(_)) => report
                .unreachable
                .push((address, "unexpected reply".into())),
            Err(e) => report.unreachable.push((address, e)),
        }
        false
    })
    .await?;
    match grantee.open(grant, interval) {
        Ok(key) => Ok((key, report)),
        Err(SharingError::NotEnoughCfrags { have, need }) => {
            grantee.forget(grant, interval);
            Err(ProxyClientError::NotEnoughCfrags {
                have: usize::from(have),
                need: usize::from(need),
                report,
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// Send one request to one proxy and return its reply, or why none came (a dial failure,
/// a timeout, an undecodable reply). For tools and tests that need a proxy's exact
/// answer; owners and grantees use [`deliver_kfrags`] and [`open_interval`].
pub async fn ask(
    endpoint: &ProxyEndpoint,
    request: &CfragRequest,
    timeout: Duration,
) -> Result<CfragReply, ProxyClientError> {
    let bytes = encoding::encode_to_vec(request)
        .map_err(|e| ProxyClientError::Network(format!("encode: {e}")))?;
    let mut answer = Err("no answer".to_string());
    exchange(vec![(endpoint.clone(), bytes)], timeout, |_, r| {
        answer = r;
        true
    })
    .await?;
    answer.map_err(ProxyClientError::Network)
}
