//! The message bus: RPC `call` (with a timeout), `cast`, fanout, and OpenStack
//! notifications, behind one [`Bus`] handle with two transports:
//!
//! - **in-process** (`memory://`, or an empty URL): tokio channels; the all-in-one default.
//! - **AMQP 0-9-1** (`rabbit://user:pass@host:5672/vhost`, also `amqp://`, `amqps://`):
//!   RabbitMQ, laid out like oslo.messaging's rabbit driver so an operator recognises
//!   the exchanges and queues (see [the AMQP layout](#amqp-layout)).
//!
//! Addressing follows oslo.messaging: a [`Target`] names a topic; with a server it goes to
//! that server's listener (`topic.server`); without, to one listener of the topic (round
//! robin); with `fanout`, to every listener of the topic.
//!
//! ```no_run
//! # use std::{sync::Arc, time::Duration};
//! # use serde_json::json;
//! # async fn demo() -> Result<(), bus::BusError> {
//! let bus = bus::Bus::from_url("memory://").await?;
//! let handler = bus::handler_fn(|method, args, _ctx| async move {
//!     match method.as_str() {
//!         "ping" => Ok(json!({"pong": args})),
//!         _ => Err(bus::RemoteError::no_such_method(&method)),
//!     }
//! })
//! .with_version("6.0");
//! let _listener = bus.listen("compute", "host1", Arc::new(handler)).await?;
//! let target = bus::Target::server("compute", "host1").with_version("6.0");
//! let pong = bus
//!     .call(&target, "ping", json!(1), json!({}), Duration::from_secs(5))
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! # Versions
//! Every RPC message carries a `version` (the target's, "1.0" when it has none). A
//! handler that returns `Some` from [`Handler::version`] refuses, with a
//! [`RemoteError`] of kind `UnsupportedVersion`, a message of another major version or
//! of a newer minor version than it implements (oslo's rule).
//!
//! # Delivery guarantees
//! - `call`: waits for one reply, or fails with [`BusError::Timeout`]. Handler errors
//!   come back as [`BusError::Remote`].
//! - `cast`: fire and forget; a handler error is logged by the listener.
//! - [`BusError::NoListener`]: nothing can receive the message. In-process that means no
//!   listener right now; over AMQP it means no queue is bound for the routing key
//!   (queues outlive their listeners, like oslo's: a message for a topic whose listeners
//!   all stopped waits in the queue, and a call then times out; calls carry a message
//!   TTL equal to their timeout so stale ones are dropped).
//! - A fanout cast with no listener at all is not an error.
//! - AMQP acknowledgement: by default a request is acknowledged **after its handler
//!   returns** (and after the reply of a call is confirmed by the broker), so a listener
//!   that dies mid-request leaves the message to be redelivered to another listener
//!   (at-least-once; [`Request::redelivered`] tells). [`AckMode::OnReceipt`] gives
//!   oslo's at-most-once behaviour instead. Mind RabbitMQ's `consumer_timeout` (30
//!   minutes by default): a handler running longer gets its channel closed by the
//!   broker and its request redelivered, so listeners with very long handlers should
//!   use `OnReceipt` (or the broker's timeout be raised).
//!
//! # AMQP layout
//! With control exchange `E` (default `ferrostack`, `BusOptions::control_exchange` or
//! `?control_exchange=` in the URL):
//! - topic exchange `E` (durable only with `durable_queues`, not auto-deleted);
//! - queue `topic` (shared: the broker round-robins among listeners) and queue
//!   `topic.server` (direct), both non-exclusive, not auto-deleted, durable only with
//!   `durable_queues` (oslo's `amqp_durable_queues`, default false), bound to `E` with
//!   routing keys of the same names;
//! - fanout exchange `topic_fanout` (auto-delete) with one exclusive auto-delete queue
//!   per listener, `topic_fanout_<uuid>`;
//! - replies: each process (each [`Bus`]) has a `reply_<uuid>` queue; servers publish
//!   replies to it through the default exchange, matched to the call by `_msg_id`;
//! - notifications: published to `E` with routing key `<topic>.<priority>` (e.g.
//!   `notifications.info`), persistent (delivery mode 2), in the "messagingv2" envelope.
//!   A subscriber with pool `P` consumes queue `P` bound to `<topic>.<priority>` for every
//!   priority; without a pool it consumes the queues `<topic>.<priority>` (oslo's
//!   `notification pool` semantics: each pool gets every notification, listeners of one
//!   pool share them).
//!
//! All bodies are JSON (`application/json`) in oslo's envelope
//! `{"oslo.version": "2.0", "oslo.message": "<json string>"}`; requests are
//! `{"method", "args", "version", "_context_<key>"…, "_msg_id", "_reply_q", "_unique_id"}`,
//! replies `{"result", "failure", "ending": true, "_msg_id"}`.
//!
//! Publishing uses publisher confirms and the mandatory flag. One connection per [`Bus`];
//! one channel for publishing, one per listener and per notification subscription. When
//! the connection drops, the bus reconnects with exponential backoff (trying each host of
//! the URL in turn) and every listener and subscription resumes on the new connection;
//! calls and casts made meanwhile wait for it (up to their timeout, or
//! [`BusOptions::publish_timeout`]).

mod amqp;
mod memory;
mod url;
mod wire;

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub topic: String,
    /// Deliver to this server's listener (`topic.server`) rather than any listener.
    pub server: Option<String>,
    /// Deliver to every listener of the topic (cast only).
    pub fanout: bool,
    /// The RPC API version the message asks for ("6.0"); "1.0" when `None`.
    pub version: Option<String>,
}

impl Target {
    /// Any one listener of `topic`.
    pub fn topic(topic: impl Into<String>) -> Self {
        Target {
            topic: topic.into(),
            server: None,
            fanout: false,
            version: None,
        }
    }

    /// The listener of `topic` on `server`.
    pub fn server(topic: impl Into<String>, server: impl Into<String>) -> Self {
        Target {
            server: Some(server.into()),
            ..Target::topic(topic)
        }
    }

    /// Every listener of `topic`.
    pub fn fanout(topic: impl Into<String>) -> Self {
        Target {
            fanout: true,
            ..Target::topic(topic)
        }
    }

    /// Ask for RPC API `version` ("major.minor").
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// The AMQP routing key / queue name: `topic` or `topic.server`.
    pub fn routing_key(&self) -> String {
        match &self.server {
            Some(s) => format!("{}.{s}", self.topic),
            None => self.topic.clone(),
        }
    }

    pub(crate) fn version_or_default(&self) -> String {
        self.version
            .clone()
            .unwrap_or_else(|| wire::DEFAULT_VERSION.to_string())
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.fanout {
            write!(f, "{} (fanout)", self.topic)
        } else {
            f.write_str(&self.routing_key())
        }
    }
}

/// An error a handler returns; travels back to the caller of `call` as
/// [`BusError::Remote`]. `kind` is the exception class name on the wire (oslo's
/// `failure.class`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RemoteError {
    pub kind: String,
    pub message: String,
}

impl RemoteError {
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        RemoteError {
            kind: kind.into(),
            message: message.into(),
        }
    }

    /// oslo's `NoSuchMethod`.
    pub fn no_such_method(method: &str) -> Self {
        RemoteError::new(
            "NoSuchMethod",
            format!("Endpoint does not support RPC method {method}"),
        )
    }

    /// oslo's `UnsupportedVersion`.
    pub fn unsupported_version(method: &str, requested: &str, implemented: &str) -> Self {
        RemoteError::new(
            "UnsupportedVersion",
            format!(
                "Endpoint does not support RPC version {requested} (it implements \
                 {implemented}). Attempted method: {method}"
            ),
        )
    }
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for RemoteError {}

/// What can go wrong on the bus.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BusError {
    #[error("timed out waiting for a reply")]
    Timeout,
    /// The handler returned an error.
    #[error("{kind}: {message}")]
    Remote { kind: String, message: String },
    /// Nothing can receive a message for this target (see the crate docs).
    #[error("no listener for {0}")]
    NoListener(String),
    #[error("unsupported transport URL {0:?}: use memory:// or rabbit://user:pass@host:5672/vhost")]
    UnsupportedUrl(String),
    #[error("invalid transport URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("invalid target {0}")]
    InvalidTarget(String),
    /// The broker could not be reached or refused an operation.
    #[error("message broker: {0}")]
    Transport(String),
    #[error("the bus is shut down")]
    Closed,
}

impl From<RemoteError> for BusError {
    fn from(e: RemoteError) -> Self {
        BusError::Remote {
            kind: e.kind,
            message: e.message,
        }
    }
}

/// One RPC request as a listener received it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Request {
    pub method: String,
    pub args: Value,
    /// The request context (`{}` when the caller sent none).
    pub ctx: Value,
    /// The RPC API version the caller asked for.
    pub version: String,
    /// The topic and server of the listener that received it.
    pub topic: String,
    pub server: String,
    /// A call (a reply is expected) rather than a cast.
    pub wants_reply: bool,
    /// The broker delivered it before to a listener that did not acknowledge it.
    pub redelivered: bool,
}

impl Request {
    /// A request as a test would build it (version "1.0", a call, first delivery).
    pub fn new(method: impl Into<String>, args: Value, ctx: Value) -> Self {
        Request {
            method: method.into(),
            args,
            ctx,
            version: wire::DEFAULT_VERSION.into(),
            topic: String::new(),
            server: String::new(),
            wants_reply: true,
            redelivered: false,
        }
    }

    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }
}

/// Answers RPC methods for a topic.
///
/// Implement [`handle`](Handler::handle); declare [`version`](Handler::version) to have
/// the bus refuse versions the handler does not speak; override
/// [`dispatch`](Handler::dispatch) to see the whole [`Request`].
#[async_trait]
pub trait Handler: Send + Sync {
    async fn handle(&self, method: &str, args: Value, ctx: Value) -> Result<Value, RemoteError>;

    /// The RPC API version implemented ("6.2"), or `None` to accept every version.
    fn version(&self) -> Option<&str> {
        None
    }

    /// Called by the bus for each request: checks the version, then calls `handle`.
    async fn dispatch(&self, req: Request) -> Result<Value, RemoteError> {
        if let Some(imp) = self.version()
            && !version_is_compatible(imp, &req.version)
        {
            return Err(RemoteError::unsupported_version(
                &req.method,
                &req.version,
                imp,
            ));
        }
        self.handle(&req.method, req.args, req.ctx).await
    }
}

/// oslo's rule: same major version, and the requested minor (and revision) no newer
/// than the implemented one. Unparseable versions are incompatible.
pub fn version_is_compatible(implemented: &str, requested: &str) -> bool {
    fn parts(v: &str) -> Option<Vec<u64>> {
        v.trim().split('.').map(|p| p.parse().ok()).collect()
    }
    let (Some(imp), Some(req)) = (parts(implemented), parts(requested)) else {
        return false;
    };
    let get = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
    if imp.is_empty() || req.is_empty() || get(&imp, 0) != get(&req, 0) {
        return false;
    }
    (get(&req, 1), get(&req, 2)) <= (get(&imp, 1), get(&imp, 2))
}

/// A [`Handler`] from a closure; see [`handler_fn`].
pub struct FnHandler<F> {
    f: F,
    version: Option<String>,
}

/// Make a handler from `async |method, args, ctx| -> Result<Value, RemoteError>`.
pub fn handler_fn<F, Fut>(f: F) -> FnHandler<F>
where
    F: Fn(String, Value, Value) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, RemoteError>> + Send + 'static,
{
    FnHandler { f, version: None }
}

impl<F> FnHandler<F> {
    /// Refuse requests for versions other than `version` (see [`Handler::version`]).
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }
}

#[async_trait]
impl<F, Fut> Handler for FnHandler<F>
where
    F: Fn(String, Value, Value) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, RemoteError>> + Send + 'static,
{
    async fn handle(&self, method: &str, args: Value, ctx: Value) -> Result<Value, RemoteError> {
        (self.f)(method.to_string(), args, ctx).await
    }

    fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }
}

/// Run a handler, turning a panic into a `HandlerPanicked` error.
pub(crate) async fn run_handler(
    handler: &Arc<dyn Handler>,
    req: Request,
) -> Result<Value, RemoteError> {
    let method = req.method.clone();
    match AssertUnwindSafe(handler.dispatch(req)).catch_unwind().await {
        Ok(r) => r,
        Err(_) => {
            tracing::error!(method = %method, "RPC handler panicked");
            Err(RemoteError::new(
                "HandlerPanicked",
                format!("the handler of {method} panicked"),
            ))
        }
    }
}

/// An OpenStack notification (the oslo "messagingv2" message).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Notification {
    pub message_id: String,
    pub publisher_id: String,
    pub event_type: String,
    /// `INFO`, `WARN`, `ERROR`, `CRITICAL`, `AUDIT`, `DEBUG` or `SAMPLE`.
    pub priority: String,
    pub payload: Value,
    /// UTC, `YYYY-MM-DD HH:MM:SS.ffffff` as oslo writes it.
    pub timestamp: String,
    /// The request context (travels as `_context_<key>` on the wire).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub context: Value,
}

/// The notification priorities oslo knows, lower-case as in routing keys.
pub const PRIORITIES: [&str; 7] = [
    "audit", "debug", "info", "warn", "error", "critical", "sample",
];

impl Notification {
    pub fn new(publisher_id: &str, event_type: &str, priority: &str, payload: Value) -> Self {
        Notification {
            message_id: uuid::Uuid::new_v4().to_string(),
            publisher_id: publisher_id.into(),
            event_type: event_type.into(),
            priority: priority.to_ascii_uppercase(),
            payload,
            timestamp: chrono::Utc::now()
                .format("%Y-%m-%d %H:%M:%S%.6f")
                .to_string(),
            context: Value::Null,
        }
    }

    pub fn info(publisher_id: &str, event_type: &str, payload: Value) -> Self {
        Notification::new(publisher_id, event_type, "INFO", payload)
    }

    pub fn error(publisher_id: &str, event_type: &str, payload: Value) -> Self {
        Notification::new(publisher_id, event_type, "ERROR", payload)
    }

    pub fn with_context(mut self, context: Value) -> Self {
        self.context = context;
        self
    }

    /// The routing-key form of the priority: lower case, `warning` → `warn`.
    pub fn priority_key(&self) -> String {
        match self.priority.to_ascii_lowercase().as_str() {
            "warning" => "warn".into(),
            p => p.to_string(),
        }
    }
}

/// When an AMQP listener acknowledges a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AckMode {
    /// After the handler returned and a call's reply was confirmed (at-least-once).
    #[default]
    AfterHandle,
    /// As soon as it is received, before the handler runs (at-most-once, like oslo).
    OnReceipt,
}

/// Tuning. Options in the URL's query string (`?control_exchange=nova&prefetch=10`)
/// override these.
#[derive(Debug, Clone)]
pub struct BusOptions {
    /// The topic exchange (oslo's `control_exchange`). URL: `control_exchange`.
    pub control_exchange: String,
    /// Topics notifications are published to (oslo's `[oslo_messaging_notifications]
    /// topics`). URL: `notification_topics` (comma-separated).
    pub notification_topics: Vec<String>,
    /// Unacknowledged requests a listener may hold (oslo's `rabbit_qos_prefetch_count`);
    /// also bounds the handlers running at once per listener. URL: `prefetch`.
    pub prefetch: u16,
    /// Declare exchanges and queues durable (oslo's `amqp_durable_queues`). Every
    /// process on a broker must agree. URL: `durable_queues`.
    pub durable_queues: bool,
    /// URL: `ack` = `after_handle` | `on_receipt`.
    pub ack: AckMode,
    /// First reconnect delay, doubled on each failure up to `reconnect_max`.
    /// URL: `reconnect_min_ms`, `reconnect_max_ms`.
    pub reconnect_min: Duration,
    pub reconnect_max: Duration,
    /// How long to wait for a TCP+AMQP connection (and `listen` for its queues).
    pub connect_timeout: Duration,
    /// How long a cast, a notification or a reply waits for the broker connection.
    pub publish_timeout: Duration,
    /// How long [`Listener::stop`] waits for running handlers.
    pub stop_grace: Duration,
    /// Shown in RabbitMQ's management UI; default `ferrostack:<program>:<pid>`.
    pub connection_name: Option<String>,
}

impl Default for BusOptions {
    fn default() -> Self {
        BusOptions {
            control_exchange: "ferrostack".into(),
            notification_topics: vec!["notifications".into()],
            prefetch: 64,
            durable_queues: false,
            ack: AckMode::AfterHandle,
            reconnect_min: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            publish_timeout: Duration::from_secs(30),
            stop_grace: Duration::from_secs(30),
            connection_name: None,
        }
    }
}

impl BusOptions {
    pub(crate) fn apply_overrides(mut self, kv: &[(String, String)]) -> Result<Self, String> {
        for (k, v) in kv {
            let bad = |what: &str| format!("query option {k}={v}: {what}");
            let ms = |v: &str| {
                v.parse::<u64>()
                    .map(Duration::from_millis)
                    .map_err(|_| bad("not a number of milliseconds"))
            };
            match k.as_str() {
                "control_exchange" | "exchange" => {
                    if v.is_empty() {
                        return Err(bad("empty"));
                    }
                    self.control_exchange = v.clone();
                }
                "notification_topics" => {
                    self.notification_topics = v
                        .split(',')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(String::from)
                        .collect();
                }
                "prefetch" | "rabbit_qos_prefetch_count" => {
                    self.prefetch = v.parse().map_err(|_| bad("not a number"))?
                }
                "durable_queues" | "amqp_durable_queues" => {
                    self.durable_queues = url::parse_bool(v).ok_or_else(|| bad("not a boolean"))?
                }
                "ack" => {
                    self.ack = match v.as_str() {
                        "after_handle" => AckMode::AfterHandle,
                        "on_receipt" => AckMode::OnReceipt,
                        _ => return Err(bad("expected after_handle or on_receipt")),
                    }
                }
                "reconnect_min_ms" => self.reconnect_min = ms(v)?,
                "reconnect_max_ms" => self.reconnect_max = ms(v)?,
                "connect_timeout_ms" => self.connect_timeout = ms(v)?,
                "publish_timeout_ms" => self.publish_timeout = ms(v)?,
                "connection_name" => self.connection_name = Some(v.clone()),
                _ => return Err(format!("unknown query option {k:?}")),
            }
        }
        Ok(self)
    }
}

/// An RPC request on its way out.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub method: String,
    pub args: Value,
    pub ctx: Value,
    pub version: String,
}

/// The two transports' common face.
#[async_trait]
pub(crate) trait Transport: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    async fn call(&self, t: &Target, msg: Outgoing, timeout: Duration) -> Result<Value, BusError>;
    async fn cast(&self, t: &Target, msg: Outgoing) -> Result<(), BusError>;
    /// Start serving; returns once messages can be received. The task ends when `stop`
    /// is cancelled (after running handlers finish, up to the grace period).
    async fn listen(
        &self,
        topic: &str,
        server: &str,
        handler: Arc<dyn Handler>,
        stop: CancellationToken,
    ) -> Result<JoinHandle<()>, BusError>;
    async fn notify(&self, n: Notification) -> Result<(), BusError>;
    /// Deliver notifications to `tx` until it is closed.
    async fn subscribe(
        &self,
        topic: &str,
        pool: &str,
        tx: mpsc::Sender<Notification>,
    ) -> Result<(), BusError>;
    /// Graceful close: stop everything, close the connection.
    async fn close(&self);
    /// Start shutting down (no waiting); called when the last handle goes away.
    fn shutdown(&self);
}

struct Shared {
    transport: Arc<dyn Transport>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.transport.shutdown();
    }
}

/// A handle on the bus; cheap to clone. The transport shuts down when the last clone
/// and the last [`Listener`] are gone, or at [`Bus::close`].
#[derive(Clone)]
pub struct Bus {
    shared: Arc<Shared>,
}

impl fmt::Debug for Bus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bus")
            .field("transport", &self.shared.transport.name())
            .finish()
    }
}

/// How many notifications a subscription buffers before the bus waits (AMQP: leaves
/// them in the queue) for the receiver to catch up.
const SUBSCRIPTION_BUFFER: usize = 256;

impl Bus {
    /// `memory://` (or empty) for in-process; `rabbit://user:pass@host:5672/vhost`
    /// (`amqp://`, `amqps://`, several hosts comma-separated) for RabbitMQ, connecting
    /// before it returns.
    pub async fn from_url(url: &str) -> Result<Bus, BusError> {
        Bus::from_url_with(url, BusOptions::default()).await
    }

    pub async fn from_url_with(url: &str, options: BusOptions) -> Result<Bus, BusError> {
        let transport: Arc<dyn Transport> = match url::parse(url)? {
            url::TransportUrl::Memory => Arc::new(memory::Memory::new(options)),
            url::TransportUrl::Rabbit(r) => {
                let options = options.apply_overrides(&r.overrides).map_err(|reason| {
                    BusError::InvalidUrl {
                        url: r.display.clone(),
                        reason,
                    }
                })?;
                amqp::Amqp::connect(r, options).await?
            }
        };
        Ok(Bus {
            shared: Arc::new(Shared { transport }),
        })
    }

    /// An in-process bus.
    pub fn memory() -> Bus {
        Bus {
            shared: Arc::new(Shared {
                transport: Arc::new(memory::Memory::new(BusOptions::default())),
            }),
        }
    }

    /// `"memory"` or `"rabbit"`.
    pub fn transport_name(&self) -> &'static str {
        self.shared.transport.name()
    }

    fn outgoing(t: &Target, method: &str, args: Value, ctx: Value) -> Outgoing {
        Outgoing {
            method: method.to_string(),
            args,
            ctx,
            version: t.version_or_default(),
        }
    }

    /// Send a request to one listener and wait for its reply.
    pub async fn call(
        &self,
        t: &Target,
        method: &str,
        args: Value,
        ctx: Value,
        timeout: Duration,
    ) -> Result<Value, BusError> {
        if t.fanout {
            return Err(BusError::InvalidTarget(format!(
                "{t}: a call cannot be used with fanout"
            )));
        }
        let msg = Bus::outgoing(t, method, args, ctx);
        let r = self.shared.transport.call(t, msg, timeout).await;
        if let Err(e) = &r {
            tracing::debug!(target_ = %t, method, error = %e, "RPC call failed");
        }
        r
    }

    /// Send a request without waiting (to every listener when the target is a fanout).
    pub async fn cast(
        &self,
        t: &Target,
        method: &str,
        args: Value,
        ctx: Value,
    ) -> Result<(), BusError> {
        let msg = Bus::outgoing(t, method, args, ctx);
        self.shared.transport.cast(t, msg).await
    }

    /// Serve `topic` as `server`: requests to the topic (shared round robin with the
    /// topic's other listeners), to `topic.server`, and the topic's fanout. Each request
    /// is handled in its own task. Returns once the listener can receive.
    pub async fn listen(
        &self,
        topic: &str,
        server: &str,
        handler: Arc<dyn Handler>,
    ) -> Result<Listener, BusError> {
        if topic.is_empty() || server.is_empty() {
            return Err(BusError::InvalidTarget(format!(
                "listen needs a topic and a server (got {topic:?}, {server:?})"
            )));
        }
        let stop = CancellationToken::new();
        let task = self
            .shared
            .transport
            .listen(topic, server, handler, stop.clone())
            .await?;
        tracing::debug!(
            topic,
            server,
            transport = self.transport_name(),
            "listening"
        );
        Ok(Listener {
            topic: topic.to_string(),
            server: server.to_string(),
            stop,
            task: Some(task),
            _shared: self.shared.clone(),
        })
    }

    /// Publish a notification to every topic of `BusOptions::notification_topics`.
    pub async fn notify(&self, n: Notification) -> Result<(), BusError> {
        self.shared.transport.notify(n).await
    }

    /// Receive the notifications published to `topic` (usually `"notifications"`), of
    /// every priority. Subscribers with the same `pool` share the notifications (each
    /// gets some); each pool gets all of them. An empty pool is oslo's default (queues
    /// `topic.priority`). Dropping the receiver ends the subscription.
    pub async fn subscribe_notifications(
        &self,
        topic: &str,
        pool: &str,
    ) -> Result<mpsc::Receiver<Notification>, BusError> {
        if topic.is_empty() {
            return Err(BusError::InvalidTarget("empty notification topic".into()));
        }
        let (tx, rx) = mpsc::channel(SUBSCRIPTION_BUFFER);
        self.shared.transport.subscribe(topic, pool, tx).await?;
        Ok(rx)
    }

    /// Stop every listener and subscription and close the connection. Other clones of
    /// this handle then fail with [`BusError::Closed`].
    pub async fn close(&self) {
        self.shared.transport.close().await;
    }
}

/// A running listener; [`Listener::stop`] (or dropping it) stops delivery to it.
pub struct Listener {
    topic: String,
    server: String,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
    _shared: Arc<Shared>,
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field("topic", &self.topic)
            .field("server", &self.server)
            .finish()
    }
}

impl Listener {
    pub fn topic(&self) -> &str {
        &self.topic
    }

    pub fn server(&self) -> &str {
        &self.server
    }

    /// Stop receiving, and wait for the handlers still running (up to
    /// `BusOptions::stop_grace`). Over AMQP, requests received but not yet acknowledged
    /// go back to their queue for another listener.
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Listener {
    /// Stops in the background (as [`Listener::stop`] without the wait).
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn version_rules() {
        assert!(version_is_compatible("6.2", "6.0"));
        assert!(version_is_compatible("6.2", "6.2"));
        assert!(!version_is_compatible("6.2", "6.3"));
        assert!(!version_is_compatible("6.2", "5.0"));
        assert!(!version_is_compatible("6.2", "7.0"));
        assert!(version_is_compatible("6", "6.0"));
        assert!(version_is_compatible("6.2.1", "6.2"));
        assert!(!version_is_compatible("6.2", "6.2.1"));
        assert!(!version_is_compatible("6.2", "six"));
        assert!(!version_is_compatible("6.2", ""));
    }

    #[test]
    fn targets() {
        let t = Target::server("compute", "host1").with_version("6.0");
        assert_eq!(t.routing_key(), "compute.host1");
        assert_eq!(t.to_string(), "compute.host1");
        assert_eq!(t.version_or_default(), "6.0");
        assert_eq!(Target::topic("conductor").version_or_default(), "1.0");
        assert_eq!(Target::fanout("compute").to_string(), "compute (fanout)");
    }

    #[test]
    fn options_from_query() {
        let o = BusOptions::default()
            .apply_overrides(&[
                ("control_exchange".into(), "nova".into()),
                ("prefetch".into(), "8".into()),
                ("durable_queues".into(), "true".into()),
                ("ack".into(), "on_receipt".into()),
                (
                    "notification_topics".into(),
                    "notifications, versioned_notifications".into(),
                ),
            ])
            .unwrap();
        assert_eq!(o.control_exchange, "nova");
        assert_eq!(o.prefetch, 8);
        assert!(o.durable_queues);
        assert_eq!(o.ack, AckMode::OnReceipt);
        assert_eq!(
            o.notification_topics,
            ["notifications", "versioned_notifications"]
        );
        assert!(
            BusOptions::default()
                .apply_overrides(&[("x".into(), "1".into())])
                .is_err()
        );
    }

    #[test]
    fn priorities() {
        let mut n = Notification::info("p", "e", Value::Null);
        assert_eq!(n.priority_key(), "info");
        n.priority = "WARNING".into();
        assert_eq!(n.priority_key(), "warn");
        assert_eq!(
            Notification::new("p", "e", "error", Value::Null).priority,
            "ERROR"
        );
    }
}
