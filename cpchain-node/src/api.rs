//! The HTTP JSON API (axum): node status, a block by height with its certificate, an
//! account, and transaction submission. Errors are JSON `{"code": …, "message": …}` with a
//! stable code. Reads go to the database directly (redb readers run beside the node's
//! writer); a submission is decoded and its signatures recovered here, on tokio's
//! blocking pool over every core ([`crate::ingest`]), and then goes to the node loop,
//! which owns the mempool and checks only nonces, balances and the pool's bounds.
//!
//! The data ledger ([`crate::ledger`]) is read with `GET /stream/{id}` (registration and
//! anchored head), `GET /anchors/{stream}/{from}` (anchors from a block index, at most
//! [`crate::ledger::ANCHORS_PAGE`]), `GET /listing/{id}`, `GET /listings` and
//! `GET /listings/after/{id}` (pages of [`crate::ledger::LISTINGS_PAGE`] in id order),
//! `GET /order/{id}` and `GET /grant/{id}`; ids are 32-byte hex (`0x` optional); codes
//! `bad_id`, `not_found`, `storage`.
//!
//! `POST /txs` takes a batch of at most [`crate::ingest::MAX_BATCH_TXS`] transactions in a
//! body of at most [`MAX_SUBMIT_BODY_BYTES`], in either of two forms, and answers one
//! result per transaction, in order: `{"results": [{"hash": …} | {"code": …, "message": …}]}`.
//!
//! * `Content-Type: application/octet-stream`: the batch wire form of
//!   [`crate::ingest::encode_batch`] (each transaction's 4-byte big-endian length, then
//!   its bytes), what the CLI's `tx send` and the devnet bench send ([`post_batch`]): no
//!   hex to write and parse, no JSON array to build (issue 14: the load generator shares
//!   the cores with the nodes).
//! * anything else: JSON, `{"txs": ["<hex>", …]}`.
//!
//! Both give the same codes: a body over the bound is `body_too_large` (413), refused
//! from its `Content-Length` before any of it is read (a chunked body is cut at the
//! bound); a body that is not a batch is `bad_request` (400); more than `MAX_BATCH_TXS`
//! transactions is `batch_too_large` (400); a transaction longer than
//! [`crate::ingest::MAX_TX_BYTES`] is that transaction's `decode` result.

use crate::ingest::{recover_owned, MAX_BATCH_TXS, MAX_TX_BYTES};
use crate::status::Status;
use crate::store::Store;
use crate::tx::{Account, Checked, TxError};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use cpchain_core::{Address, Hash};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// A request the API hands to the node loop.
#[derive(Debug)]
pub enum ApiRequest {
    /// Admit transactions whose senders the API recovered (one result each, in order).
    Submit(
        Vec<Result<Checked, TxError>>,
        oneshot::Sender<Vec<Result<Hash, TxError>>>,
    ),
    /// Read an account.
    Account(Address, oneshot::Sender<Account>),
}

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    /// The node's database.
    pub store: Arc<Store>,
    /// The node's live status.
    pub status: Arc<Mutex<Status>>,
    /// The node loop.
    pub requests: mpsc::Sender<ApiRequest>,
    /// The chain id transactions must carry.
    pub chain_id: u64,
}

/// A batch submission: encoded envelopes in hex.
#[derive(Debug, Serialize, Deserialize)]
pub struct SubmitBatch {
    /// `hex(postcard(Transaction))` each.
    pub txs: Vec<String>,
}

/// A transaction submission: the encoded envelope in hex.
#[derive(Debug, Serialize, Deserialize)]
pub struct Submit {
    /// `hex(postcard(Transaction))`.
    pub tx: String,
}

type Reply = (StatusCode, Json<Value>);

fn error(status: StatusCode, code: &str, message: impl std::fmt::Display) -> Reply {
    (
        status,
        Json(json!({ "code": code, "message": message.to_string() })),
    )
}

/// Hands a request to the node loop and waits for its answer; `Err` is the reply a caller
/// returns when the loop has gone (the node is stopping). One place for the round trip.
async fn ask<T>(
    s: &ApiState,
    make: impl FnOnce(oneshot::Sender<T>) -> ApiRequest,
) -> Result<T, Reply> {
    let stopping = || {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "stopping",
            "node is stopping",
        )
    };
    let (tx, rx) = oneshot::channel();
    s.requests.send(make(tx)).await.map_err(|_| stopping())?;
    rx.await.map_err(|_| stopping())
}

/// The API's routes.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/status", get(status))
        .route("/block/{height}", get(block))
        .route("/account/{address}", get(account))
        .route("/tx", post(submit))
        .route("/txs", post(submit_batch))
        .merge(ledger_routes())
        .with_state(state)
}

async fn status(State(s): State<ApiState>) -> Reply {
    let st = s.status.lock().map(|g| g.clone()).unwrap_or_default();
    match serde_json::to_value(st) {
        Ok(v) => (StatusCode::OK, Json(v)),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e),
    }
}

async fn block(State(s): State<ApiState>, Path(height): Path<String>) -> Reply {
    let Ok(height) = height.parse::<u64>() else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_height",
            "height must be a number",
        );
    };
    match s.store.block(height) {
        Ok(Some(v)) => {
            let b = &v.block;
            let c = &v.certificate;
            let txs: Vec<String> = b
                .transactions
                .iter()
                .map(|t| hex::encode(crate::tx::tx_hash(t).0))
                .collect();
            (
                StatusCode::OK,
                Json(json!({
                    "height": b.header.height.0,
                    "id": hex::encode(b.id().0),
                    "parent": hex::encode(b.header.parent.0),
                    "timestamp_ms": b.header.timestamp.0,
                    "proposer": b.header.proposer.to_string(),
                    "coinbase": b.header.coinbase.to_string(),
                    "impeach": b.is_impeach(),
                    "transactions": txs,
                    "certificate": {
                        "kind": format!("{:?}", c.kind),
                        "round": c.round,
                        "signers": c.signatures.iter().map(|(a, _)| a.to_string()).collect::<Vec<_>>(),
                    },
                })),
            )
        }
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no block {height}"),
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "storage", e),
    }
}

async fn account(State(s): State<ApiState>, Path(address): Path<String>) -> Reply {
    let Ok(address) = address.parse::<Address>() else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_address",
            "not a 20-byte hex address",
        );
    };
    match ask(&s, |tx| ApiRequest::Account(address, tx)).await {
        Ok(a) => (
            StatusCode::OK,
            Json(json!({
                "address": address.to_string(),
                "nonce": a.nonce,
                "balance": a.balance.to_string(),
            })),
        ),
        Err(reply) => reply,
    }
}

fn decode_hex(tx: &str) -> Result<Vec<u8>, TxError> {
    let bytes = hex::decode(tx.trim_start_matches("0x")).map_err(|_| TxError::Decode)?;
    if bytes.len() > MAX_TX_BYTES {
        return Err(TxError::Decode);
    }
    Ok(bytes)
}

/// Recover the senders of the decodable ones on the blocking pool (every core), then hand
/// all to the node loop; one result per input.
async fn admit(
    s: &ApiState,
    items: Vec<Result<Vec<u8>, TxError>>,
) -> Result<Vec<Result<Hash, TxError>>, Reply> {
    let chain_id = s.chain_id;
    // Overload (issue 14): beyond `INTAKE_SHED_PENDING` ready, refuse before paying a
    // recovery per transaction (that CPU is the block pipeline's); the status is at most
    // one tick (500 ms) old.
    let full = s
        .status
        .lock()
        .is_ok_and(|st| st.mempool_ready >= crate::validator::INTAKE_SHED_PENDING);
    if full {
        return Ok(items
            .into_iter()
            .map(|r| r.and(Err(TxError::MempoolFull)))
            .collect());
    }
    let checked = tokio::task::spawn_blocking(move || {
        // Intake waits behind consensus under overload (see `crate::priority`).
        crate::priority::lower_this_thread();
        // The decodable ones move to recovery (hashed once, not copied); the others keep
        // their place with their error.
        let mut slots: Vec<Option<TxError>> = Vec::with_capacity(items.len());
        let mut good: Vec<(Hash, Vec<u8>)> = Vec::with_capacity(items.len());
        for r in items {
            match r {
                Ok(b) => {
                    good.push((crate::tx::tx_hash(&b), b));
                    slots.push(None);
                }
                Err(e) => slots.push(Some(e)),
            }
        }
        let turn = crate::priority::background_turn();
        let mut recovered = recover_owned(good, chain_id).into_iter();
        drop(turn);
        slots
            .into_iter()
            .map(|slot| match slot {
                None => recovered.next().unwrap_or(Err(TxError::Decode)),
                Some(e) => Err(e),
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e))?;
    ask(s, |tx| ApiRequest::Submit(checked, tx)).await
}

fn tx_error(e: &TxError) -> Value {
    json!({ "code": e.code(), "message": e.to_string() })
}

async fn submit(
    State(s): State<ApiState>,
    body: Result<Json<Submit>, axum::extract::rejection::JsonRejection>,
) -> Reply {
    let Ok(Json(body)) = body else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "expected {\"tx\": \"<hex>\"}",
        );
    };
    let one = decode_hex(&body.tx);
    match admit(&s, vec![one]).await.map(|mut v| v.pop()) {
        Ok(Some(Ok(hash))) => (StatusCode::OK, Json(json!({ "hash": hex::encode(hash.0) }))),
        Ok(Some(Err(e))) => {
            let status = match e {
                TxError::MempoolFull => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_REQUEST,
            };
            error(status, e.code(), e)
        }
        Ok(None) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "no result"),
        Err(reply) => reply,
    }
}

/// Largest `POST /txs` body in either form (axum's default limit, which the JSON form
/// always had): 4,096 transfers of 200 bytes are 0.8 MB in the wire form, 1.7 MB in hex.
pub const MAX_SUBMIT_BODY_BYTES: usize = 2 * 1024 * 1024;

/// The `Content-Type` of a `POST /txs` body in the batch wire form.
pub const BATCH_CONTENT_TYPE: &str = "application/octet-stream";

fn batch_too_large() -> Reply {
    error(
        StatusCode::BAD_REQUEST,
        "batch_too_large",
        format!("at most {MAX_BATCH_TXS} transactions per batch"),
    )
}

/// The transactions of a batch in the wire form (`ingest::encode_batch`), one item per
/// entry (`Err(Decode)` for one longer than `MAX_TX_BYTES`); `Err` with the reply when
/// the framing is broken or there are more than `MAX_BATCH_TXS` entries.
fn split_wire_batch(bytes: &[u8]) -> Result<Vec<Result<Vec<u8>, TxError>>, Reply> {
    let bad = || {
        error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "expected a batch: for each transaction a 4-byte big-endian length, then its bytes",
        )
    };
    let mut rest = bytes;
    let mut out = Vec::new();
    while !rest.is_empty() {
        if out.len() >= MAX_BATCH_TXS {
            return Err(batch_too_large());
        }
        let (len, tail) = rest.split_at_checked(4).ok_or_else(bad)?;
        let len = u32::from_be_bytes(len.try_into().map_err(|_| bad())?) as usize;
        let (tx, tail) = tail.split_at_checked(len).ok_or_else(bad)?;
        out.push(if len > MAX_TX_BYTES {
            Err(TxError::Decode)
        } else {
            Ok(tx.to_vec())
        });
        rest = tail;
    }
    Ok(out)
}

/// The transactions of a JSON batch (`{"txs": ["<hex>", …]}`), as [`split_wire_batch`].
fn split_json_batch(bytes: &[u8]) -> Result<Vec<Result<Vec<u8>, TxError>>, Reply> {
    let Ok(body) = serde_json::from_slice::<SubmitBatch>(bytes) else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "expected {\"txs\": [\"<hex>\", ...]}",
        ));
    };
    if body.txs.len() > MAX_BATCH_TXS {
        return Err(batch_too_large());
    }
    Ok(body.txs.iter().map(|t| decode_hex(t)).collect())
}

async fn submit_batch(
    State(s): State<ApiState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> Reply {
    use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("a body of at most {MAX_SUBMIT_BODY_BYTES} bytes"),
        )
    };
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    // Refused by its declared length, before a byte of the body is read.
    if header(CONTENT_LENGTH)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|len| len > MAX_SUBMIT_BODY_BYTES as u64)
    {
        return too_large();
    }
    // A body without a length (chunked) is read up to the bound and no further.
    let Ok(bytes) = axum::body::to_bytes(body, MAX_SUBMIT_BODY_BYTES).await else {
        return too_large();
    };
    let wire = header(CONTENT_TYPE).is_some_and(|t| t.trim().starts_with(BATCH_CONTENT_TYPE));
    let items = match if wire {
        split_wire_batch(&bytes)
    } else {
        split_json_batch(&bytes)
    } {
        Ok(items) => items,
        Err(reply) => return reply,
    };
    drop(bytes);
    match admit(&s, items).await {
        Ok(results) => {
            let results: Vec<Value> = results
                .iter()
                .map(|r| match r {
                    Ok(h) => json!({ "hash": hex::encode(h.0) }),
                    Err(e) => tx_error(e),
                })
                .collect();
            (StatusCode::OK, Json(json!({ "results": results })))
        }
        Err(reply) => reply,
    }
}

/// A minimal HTTP/1.1 client for the CLI and the tests (no client library needed):
/// `method path` with an optional JSON body to `127.0.0.1:port`; returns (status, body).
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    http_raw(
        port,
        method,
        path,
        "application/json",
        body.unwrap_or("").as_bytes(),
        std::time::Duration::from_secs(10),
    )
}

/// The one request/response exchange under [`http`] and `gateway::post_bytes`: one
/// request with `body` of `content_type` on a fresh connection, read to its end (the
/// server closes it), status and body split off.
pub fn http_raw(
    port: u16,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
    timeout: std::time::Duration,
) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(timeout))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    s.write_all(body)?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// `POST /txs` of `txs` in the batch wire form ([`BATCH_CONTENT_TYPE`]) to the node's API
/// on 127.0.0.1:`port`: (HTTP status, reply body). The CLI's and the devnet bench's way
/// to submit.
pub fn post_batch(port: u16, txs: &[Vec<u8>]) -> std::io::Result<(u16, String)> {
    http_raw(
        port,
        "POST",
        "/txs",
        BATCH_CONTENT_TYPE,
        &crate::ingest::encode_batch(txs),
        std::time::Duration::from_secs(10),
    )
}

/// Sign a transaction of `kind` with `key` and submit it to the node's API on
/// 127.0.0.1:`port` (`nonce` `None`: the sender's next, asked from the node); returns the
/// HTTP status, the reply body and the nonce used (an order's id is
/// [`crate::ledger::order_id`] of the sender and that nonce). For the CLI, the buyer and
/// tests.
pub fn send_kind(
    port: u16,
    key: &cpchain_crypto::SecretKey,
    chain_id: u64,
    nonce: Option<u64>,
    kind: crate::tx::TxKind,
) -> std::io::Result<(u16, String, u64)> {
    use crate::tx::{Transaction, TxBody};
    let nonce = match nonce {
        Some(n) => n,
        None => {
            let me = key.public_key().address();
            let (_, body) = http(port, "GET", &format!("/account/{me}"), None)?;
            let v: Value = serde_json::from_str(&body)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            v["nonce"].as_u64().unwrap_or(0)
        }
    };
    let tx = Transaction::sign(
        key,
        TxBody {
            chain_id,
            nonce,
            kind,
        },
    );
    let body = json!({ "tx": hex::encode(tx.to_bytes()) }).to_string();
    let (status, reply) = http(port, "POST", "/tx", Some(&body))?;
    Ok((status, reply, nonce))
}

/// Starts the HTTP API on 127.0.0.1:`port` in the background; shared by every role so the
/// validator and the follower serve the same routes with the same errors.
pub async fn serve(port: u16, state: ApiState) -> Result<(), crate::error::NodeError> {
    serve_with(port, state, Router::new()).await
}

/// [`serve`] with `extra` routes merged in (a role's own routes, e.g. the gateway's).
pub async fn serve_with(
    port: u16,
    state: ApiState,
    extra: Router,
) -> Result<(), crate::error::NodeError> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| crate::error::NodeError::Network(format!("API port {port}: {e}")))?;
    let app = router(state).merge(extra);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("API server: {e}");
        }
    });
    tracing::info!(port, "HTTP API");
    Ok(())
}

/// The live status and the request queue every role shares with its API; starts the HTTP
/// API when the config names a port. `capacity` bounds the requests waiting for the loop.
pub async fn start(
    port: Option<u16>,
    store: Arc<Store>,
    capacity: usize,
    chain_id: u64,
) -> Result<(Arc<Mutex<Status>>, mpsc::Receiver<ApiRequest>), crate::error::NodeError> {
    start_with(port, store, capacity, chain_id, Router::new()).await
}

/// [`start`] with `extra` routes merged into the API.
pub async fn start_with(
    port: Option<u16>,
    store: Arc<Store>,
    capacity: usize,
    chain_id: u64,
    extra: Router,
) -> Result<(Arc<Mutex<Status>>, mpsc::Receiver<ApiRequest>), crate::error::NodeError> {
    let status = Arc::new(Mutex::new(Status::default()));
    let (requests, rx) = mpsc::channel::<ApiRequest>(capacity);
    if let Some(port) = port {
        serve_with(
            port,
            ApiState {
                store,
                status: status.clone(),
                requests,
                chain_id,
            },
            extra,
        )
        .await?;
    }
    Ok((status, rx))
}

// ---- The data ledger's reads (crate::ledger). ----

fn ledger_routes() -> Router<ApiState> {
    Router::new()
        .route("/stream/{id}", get(stream))
        .route("/anchors/{stream}/{from}", get(anchors))
        .route("/listing/{id}", get(listing))
        .route("/listings", get(listings_first))
        .route("/listings/after/{id}", get(listings_after))
        .route("/order/{id}", get(order))
        .route("/grant/{id}", get(grant))
}

fn parse_id(s: &str) -> Result<Hash, Reply> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s.trim_start_matches("0x"), &mut out)
        .map(|()| Hash(out))
        .map_err(|_| error(StatusCode::BAD_REQUEST, "bad_id", "not a 32-byte hex id"))
}

fn found<T>(
    r: Result<Option<T>, crate::ledger::LedgerError>,
    what: &str,
    render: impl FnOnce(T) -> Value,
) -> Reply {
    match r {
        Ok(Some(v)) => (StatusCode::OK, Json(render(v))),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no such {what}"),
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.code(), e),
    }
}

fn wire<T: cpchain_core::WireMessage>(v: &T) -> String {
    hex::encode(cpchain_core::encoding::encode_to_vec(v).unwrap_or_default())
}

fn anchor_json(r: &crate::ledger::AnchorRecord) -> Value {
    json!({
        "last_index": r.anchor.last_index,
        "head": hex::encode(r.anchor.head.0 .0),
        "through_ms": r.anchor.through.0,
        "recorded_at_ms": r.recorded_at.0,
        "anchor": wire(&r.anchor),
    })
}

async fn stream(State(s): State<ApiState>, Path(id): Path<String>) -> Reply {
    let id = match parse_id(&id) {
        Ok(h) => cpchain_storage::StreamId(h.0),
        Err(r) => return r,
    };
    found(s.store.ledger().stream(&id), "stream", |r| {
        json!({
            "stream": hex::encode(id.0),
            "owner": r.owner.to_string(),
            "device": hex::encode(r.device.to_compressed()),
            "registered_at_ms": r.registered_at.0,
            "head": r.head.map(|h| json!({
                "last_index": h.last_index,
                "head": hex::encode(h.head.0 .0),
                "through_ms": h.through.0,
            })),
        })
    })
}

async fn anchors(State(s): State<ApiState>, Path((id, from)): Path<(String, String)>) -> Reply {
    let id = match parse_id(&id) {
        Ok(h) => cpchain_storage::StreamId(h.0),
        Err(r) => return r,
    };
    let Ok(from) = from.parse::<u64>() else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_index",
            "index must be a number",
        );
    };
    match s.store.ledger().anchors(&id, from) {
        Ok(v) => (
            StatusCode::OK,
            Json(json!({ "anchors": v.iter().map(anchor_json).collect::<Vec<_>>() })),
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.code(), e),
    }
}

fn listing_json(
    id: &cpchain_storage::market::ListingId,
    r: &crate::ledger::ListingRecord,
) -> Value {
    let l = &r.listing.body;
    json!({
        "id": hex::encode(id.0 .0),
        "seller": l.seller.to_string(),
        "title": l.title.as_str(),
        "labels": l.labels.iter().map(|x| x.as_str()).collect::<Vec<_>>(),
        "description": l.description.as_str(),
        "price": l.price.to_string(),
        "stream": hex::encode(l.stream.0),
        "first_interval": l.first_interval,
        "last_interval": l.last_interval,
        "created_at_ms": l.created_at.0,
        "recorded_at_ms": r.recorded_at.0,
        "signed": wire(&r.listing),
    })
}

async fn listing(State(s): State<ApiState>, Path(id): Path<String>) -> Reply {
    let id = match parse_id(&id) {
        Ok(h) => cpchain_storage::market::ListingId(h),
        Err(r) => return r,
    };
    found(s.store.ledger().listing(&id), "listing", |r| {
        listing_json(&id, &r)
    })
}

fn listings_page(s: &ApiState, after: Option<cpchain_storage::market::ListingId>) -> Reply {
    match s.store.ledger().listings(after.as_ref()) {
        Ok(v) => (
            StatusCode::OK,
            Json(json!({
                "listings": v.iter().map(|(id, r)| listing_json(id, r)).collect::<Vec<_>>(),
            })),
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.code(), e),
    }
}

async fn listings_first(State(s): State<ApiState>) -> Reply {
    listings_page(&s, None)
}

async fn listings_after(State(s): State<ApiState>, Path(id): Path<String>) -> Reply {
    match parse_id(&id) {
        Ok(h) => listings_page(&s, Some(cpchain_storage::market::ListingId(h))),
        Err(r) => r,
    }
}

async fn order(State(s): State<ApiState>, Path(id): Path<String>) -> Reply {
    let id = match parse_id(&id) {
        Ok(h) => crate::ledger::OrderId(h),
        Err(r) => return r,
    };
    found(s.store.ledger().order(&id), "order", |o| {
        use crate::ledger::OrderState;
        let (grant, at, confirm_deadline) = match o.state {
            OrderState::Placed => (None, None, None),
            OrderState::Delivered {
                grant,
                at,
                confirm_deadline,
            } => (Some(grant), Some(at), Some(confirm_deadline)),
            OrderState::Confirmed { grant, at }
            | OrderState::Released { grant, at }
            | OrderState::Disputed { grant, at } => (Some(grant), Some(at), None),
            OrderState::Refunded { at } => (None, Some(at), None),
        };
        json!({
            "id": hex::encode(id.0 .0),
            "state": o.state.name(),
            "buyer": o.buyer.to_string(),
            "seller": o.seller.to_string(),
            "listing": hex::encode(o.listing.0 .0),
            "stream": hex::encode(o.stream.0),
            "first_interval": o.first_interval,
            "last_interval": o.last_interval,
            "grantee": hex::encode(o.grantee),
            "price": o.price.to_string(),
            "placed_at_ms": o.placed_at.0,
            "delivery_deadline_ms": o.delivery_deadline.0,
            "confirm_within_ms": o.confirm_within_ms,
            "grant": grant.map(|g| hex::encode(g.0)),
            "state_at_ms": at.map(|t| t.0),
            "confirm_deadline_ms": confirm_deadline.map(|t| t.0),
        })
    })
}

async fn grant(State(s): State<ApiState>, Path(id): Path<String>) -> Reply {
    let id = match parse_id(&id) {
        Ok(h) => h,
        Err(r) => return r,
    };
    found(s.store.ledger().grant(&id), "grant", |g| {
        json!({
            "id": hex::encode(id.0),
            "owner": g.owner.to_string(),
            "stream": hex::encode(g.stream.0),
            "first_interval": g.first_interval,
            "last_interval": g.last_interval,
            "grantee": hex::encode(g.grantee),
            "proxies": g.proxies.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            "expires_at_ms": g.expires_at.0,
            "revoked": g.revoked_at.is_some(),
            "revoked_at_ms": g.revoked_at.map(|t| t.0),
            "order": g.order.map(|o| hex::encode(o.0 .0)),
            "record": hex::encode(&g.bytes),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tx::{Transaction, TxBody, TxKind};
    use cpchain_crypto::SecretKey;

    /// An API on 127.0.0.1, served by a thread of its own, whose "node loop" admits
    /// whatever was recovered (a hash for each recovered transaction, the recovery's error
    /// otherwise); returns its port.
    fn serve_api(dir: &std::path::Path) -> u16 {
        let store = Store::open(
            &dir.join("db.redb"),
            crate::store::ChainStamp {
                chain_id: 41,
                genesis: Hash([1; 32]),
                committee: Hash([2; 32]),
            },
        )
        .expect("store");
        let (requests, mut rx) = mpsc::channel::<ApiRequest>(16);
        let state = ApiState {
            store: Arc::new(store),
            status: Arc::new(Mutex::new(Status::default())),
            requests,
            chain_id: 41,
        };
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                tokio::spawn(async move {
                    while let Some(req) = rx.recv().await {
                        if let ApiRequest::Submit(items, reply) = req {
                            let _ =
                                reply.send(items.into_iter().map(|r| r.map(|c| c.hash)).collect());
                        }
                    }
                });
                let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
                    .await
                    .expect("bind");
                let _ = port_tx.send(listener.local_addr().expect("addr").port());
                let _ = axum::serve(listener, router(state)).await;
            })
        });
        port_rx.recv().expect("API started")
    }

    fn tx(chain_id: u64, nonce: u64) -> Vec<u8> {
        let k = SecretKey::from_bytes(&[5; 32]).expect("scalar");
        Transaction::sign(
            &k,
            TxBody {
                chain_id,
                nonce,
                kind: TxKind::Transfer {
                    to: Address([3; 20]),
                    amount: 1,
                },
            },
        )
        .to_bytes()
    }

    fn post(port: u16, content_type: &str, body: &[u8]) -> (u16, Value) {
        let (status, reply) = http_raw(
            port,
            "POST",
            "/txs",
            content_type,
            body,
            std::time::Duration::from_secs(10),
        )
        .expect("API reachable");
        (status, serde_json::from_str(&reply).expect("a JSON reply"))
    }

    /// Issue 14: `POST /txs` in the batch wire form answers exactly as the JSON form does
    /// (one result per transaction, in order, with the refusals' codes), and refuses a
    /// broken framing (`bad_request`), too many transactions (`batch_too_large`) and an
    /// over-long transaction (its `decode` result) with the JSON form's codes.
    #[test]
    fn wire_form_batches_get_the_json_forms_results_and_codes() {
        let dir = std::env::temp_dir().join(format!("cpchain-api-wire-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let port = serve_api(&dir);

        let good = tx(41, 0);
        let mut forged = Transaction::from_bytes(&tx(41, 1)).expect("tx");
        forged.signature[64] = 9;
        let batch = vec![good.clone(), forged.to_bytes(), tx(42, 2), vec![1, 2, 3]];
        let (status, wire) = post(
            port,
            BATCH_CONTENT_TYPE,
            &crate::ingest::encode_batch(&batch),
        );
        assert_eq!(status, 200, "{wire}");
        let hexes: Vec<String> = batch.iter().map(hex::encode).collect();
        let (status, json) = post(
            port,
            "application/json",
            json!({ "txs": hexes }).to_string().as_bytes(),
        );
        assert_eq!(status, 200, "{json}");
        assert_eq!(wire, json, "both forms answer alike");
        let results = wire["results"].as_array().expect("results");
        assert_eq!(results.len(), 4);
        assert_eq!(
            results[0]["hash"].as_str(),
            Some(hex::encode(crate::tx::tx_hash(&good).0).as_str())
        );
        let codes: Vec<&str> = results[1..]
            .iter()
            .map(|r| r["code"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(codes, ["bad_signature", "wrong_chain", "decode"]);

        // An over-long transaction is its own `decode`; the others still go through.
        let long = crate::ingest::encode_batch(&[vec![0; MAX_TX_BYTES + 1], good.clone()]);
        let (status, r) = post(port, BATCH_CONTENT_TYPE, &long);
        assert_eq!(status, 200);
        assert_eq!(r["results"][0]["code"], "decode");
        assert!(r["results"][1]["hash"].is_string(), "{r}");

        // Broken framing: a length running past the end.
        let mut cut = crate::ingest::encode_batch(std::slice::from_ref(&good));
        cut.pop();
        let (status, r) = post(port, BATCH_CONTENT_TYPE, &cut);
        assert_eq!((status, r["code"].as_str()), (400, Some("bad_request")));
        let (status, r) = post(port, BATCH_CONTENT_TYPE, &[0, 0]);
        assert_eq!((status, r["code"].as_str()), (400, Some("bad_request")));

        let many = crate::ingest::encode_batch(&vec![Vec::new(); MAX_BATCH_TXS + 1]);
        let (status, r) = post(port, BATCH_CONTENT_TYPE, &many);
        assert_eq!((status, r["code"].as_str()), (400, Some("batch_too_large")));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A body declared longer than `MAX_SUBMIT_BODY_BYTES` is refused (`body_too_large`,
    /// 413) from its `Content-Length` before any of it is read: the request sends its
    /// headers only and the reply comes anyway (were the body buffered first, the server
    /// would wait for bytes that never come). Both forms.
    #[test]
    fn oversize_submission_is_refused_before_its_body_is_read() {
        use std::io::{Read, Write};
        let dir = std::env::temp_dir().join(format!("cpchain-api-big-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let port = serve_api(&dir);
        for content_type in [BATCH_CONTENT_TYPE, "application/json"] {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
            s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
                .expect("timeout");
            write!(
                s,
                "POST /txs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                MAX_SUBMIT_BODY_BYTES + 1
            )
            .expect("headers");
            let mut reply = String::new();
            s.read_to_string(&mut reply)
                .expect("a reply without the body being sent");
            assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
            assert!(reply.contains("\"body_too_large\""), "{reply}");
        }
        // At the bound exactly, a body is read (and, being no batch, refused as such).
        let (status, r) = post(port, BATCH_CONTENT_TYPE, &vec![0xff; MAX_SUBMIT_BODY_BYTES]);
        assert_eq!((status, r["code"].as_str()), (400, Some("bad_request")));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[cfg(test)]
mod overload_tests {
    use super::*;
    use crate::store::ChainStamp;
    use crate::tx::{Transaction, TxBody, TxKind};
    use cpchain_crypto::SecretKey;

    /// API state over a fresh store with the node status `status`, the node loop's end of
    /// its request channel, and the store's directory.
    fn api_with(
        name: &str,
        status: Status,
    ) -> (ApiState, mpsc::Receiver<ApiRequest>, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("cpchain-api-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let stamp = ChainStamp {
            chain_id: 41,
            genesis: Hash([1; 32]),
            committee: Hash([2; 32]),
        };
        let store = Store::open(&dir.join("db.redb"), stamp).expect("store");
        let (requests, rx) = mpsc::channel(4);
        let s = ApiState {
            store: Arc::new(store),
            status: Arc::new(Mutex::new(status)),
            requests,
            chain_id: 41,
        };
        (s, rx, dir)
    }

    /// A valid signed transfer, encoded.
    fn one_transfer() -> Vec<u8> {
        let k = SecretKey::from_bytes(&[5; 32]).expect("scalar");
        Transaction::sign(
            &k,
            TxBody {
                chain_id: 41,
                nonce: 0,
                kind: TxKind::Transfer {
                    to: Address([3; 20]),
                    amount: 1,
                },
            },
        )
        .to_bytes()
    }

    /// Issue 14 overload: while the pool holds `INTAKE_SHED_PENDING` ready, a submission is
    /// refused with `mempool_full` before its recovery (nothing reaches the node loop), and an
    /// undecodable one keeps its own code.
    #[test]
    fn a_full_pool_refuses_submissions_before_recovering_them() {
        let (s, mut rx, dir) = api_with(
            "full",
            Status {
                mempool: crate::validator::INTAKE_SHED_PENDING,
                mempool_ready: crate::validator::INTAKE_SHED_PENDING,
                ..Status::default()
            },
        );
        let tx = one_transfer();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        let r = rt.block_on(async {
            tokio::time::timeout(
                std::time::Duration::from_secs(5),
                admit(&s, vec![Ok(tx), Err(TxError::Decode)]),
            )
            .await
        });
        let Ok(Ok(results)) = r else {
            panic!("the API waited for the node loop");
        };
        assert_eq!(
            results,
            vec![Err(TxError::MempoolFull), Err(TxError::Decode)]
        );
        assert!(rx.try_recv().is_err(), "nothing handed to the node loop");
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Issue 14: transactions behind a nonce gap are not load. A pool holding more than
    /// `INTAKE_SHED_PENDING` of them and nothing ready still takes submissions (before
    /// the pool's split, `mempool` counted them and the API refused everything).
    #[test]
    fn a_pool_full_of_gapped_transactions_still_takes_submissions() {
        let gapped = crate::validator::INTAKE_SHED_PENDING + 1;
        let (s, mut rx, dir) = api_with(
            "gapped",
            Status {
                mempool: gapped,
                mempool_queued: gapped,
                mempool_ready: 0,
                ..Status::default()
            },
        );
        let tx = one_transfer();
        let hash = crate::tx::tx_hash(&tx);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        let r = rt.block_on(async {
            // The node loop: admits what the API recovered.
            let node = tokio::spawn(async move {
                let Some(ApiRequest::Submit(items, reply)) = rx.recv().await else {
                    return 0;
                };
                let n = items.len();
                let _ = reply.send(items.into_iter().map(|r| r.map(|c| c.hash)).collect());
                n
            });
            let results =
                tokio::time::timeout(std::time::Duration::from_secs(5), admit(&s, vec![Ok(tx)]))
                    .await;
            (results, node.await)
        });
        let (Ok(Ok(results)), Ok(handed)) = r else {
            panic!("no answer");
        };
        assert_eq!(handed, 1, "handed to the node loop");
        assert_eq!(results, vec![Ok(hash)]);
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
