//! The AMQP 0-9-1 transport (RabbitMQ, through `lapin`), laid out like oslo.messaging's
//! rabbit driver; the crate documentation describes the exchanges and queues.
//!
//! Structure: a supervisor task owns the connection. It publishes the current
//! connection (a [`Conn`], numbered by generation) on a watch channel, and replaces it
//! with a new one, with exponential backoff, when it breaks. Listeners and notification
//! subscriptions each run a task with their own channel; when their channel or the
//! connection fails they wait for a usable connection and declare and consume again.
//! Publishing goes through one confirm-mode channel per connection.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::SelectAll;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions,
    BasicPublishOptions, BasicQosOptions, BasicRejectOptions, ConfirmSelectOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::uri::AMQPUri;
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, Consumer, Event,
    ExchangeKind,
};
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Instant, timeout};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::url::RabbitUrl;
use crate::wire::{self, ReplyMessage, RpcMessage};
use crate::{
    AckMode, BusError, BusOptions, Handler, Notification, Outgoing, PRIORITIES, RemoteError,
    Request, Target, Transport, run_handler,
};

type Pending = Mutex<HashMap<String, oneshot::Sender<Result<Value, RemoteError>>>>;

/// How long closing a channel or the connection may take before we move on.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

fn tr(e: lapin::Error) -> BusError {
    BusError::Transport(e.to_string())
}

/// `now + d`, saturating far in the future (a caller may pass `Duration::MAX`).
fn deadline_after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86_400))
}

fn simple_uuid() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// One broker connection.
struct Conn {
    generation: u64,
    connection: Connection,
    publisher: tokio::sync::Mutex<Option<Publisher>>,
    /// Cancelled by whoever notices the connection is dead; the supervisor replaces it.
    broken: CancellationToken,
}

struct Publisher {
    channel: Channel,
    /// Topic exchanges declared on this channel (fanout ones are declared every time:
    /// they are auto-deleted when their last listener goes).
    declared: HashSet<String>,
}

#[derive(Clone, Copy)]
enum Exchange<'a> {
    /// The default exchange (routing key = queue name).
    Default,
    Topic(&'a str),
    Fanout(&'a str),
}

struct Publish<'a> {
    exchange: Exchange<'a>,
    routing_key: &'a str,
    body: &'a [u8],
    persistent: bool,
    expiration: Option<Duration>,
    /// Ask the broker to return the message when no queue is bound (calls and casts
    /// fail fast); notifications without a listener are simply dropped, as in oslo.
    mandatory: bool,
}

async fn declare_topic_exchange(ch: &Channel, name: &str, durable: bool) -> lapin::Result<()> {
    ch.exchange_declare(
        name.into(),
        ExchangeKind::Topic,
        ExchangeDeclareOptions {
            durable,
            auto_delete: false,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
}

async fn declare_fanout_exchange(ch: &Channel, name: &str) -> lapin::Result<()> {
    ch.exchange_declare(
        name.into(),
        ExchangeKind::Fanout,
        ExchangeDeclareOptions {
            durable: false,
            auto_delete: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
}

impl Conn {
    /// Publish (mandatory as the message asks) and wait for the broker's confirm. `Ok(false)`:
    /// the broker returned it as unroutable (no queue bound).
    async fn publish(&self, opts: &BusOptions, p: &Publish<'_>) -> Result<bool, BusError> {
        let confirm = {
            let mut guard = self.publisher.lock().await;
            if guard
                .as_ref()
                .is_none_or(|p| !p.channel.status().connected())
            {
                let channel = self.connection.create_channel().await.map_err(tr)?;
                channel
                    .confirm_select(ConfirmSelectOptions::default())
                    .await
                    .map_err(tr)?;
                *guard = Some(Publisher {
                    channel,
                    declared: HashSet::new(),
                });
            }
            let publisher = guard
                .as_mut()
                .ok_or_else(|| BusError::Transport("no publishing channel".into()))?;
            let exchange = match p.exchange {
                Exchange::Default => "",
                Exchange::Topic(name) => {
                    if !publisher.declared.contains(name) {
                        declare_topic_exchange(&publisher.channel, name, opts.durable_queues)
                            .await
                            .map_err(tr)?;
                        publisher.declared.insert(name.to_string());
                    }
                    name
                }
                Exchange::Fanout(name) => {
                    declare_fanout_exchange(&publisher.channel, name)
                        .await
                        .map_err(tr)?;
                    name
                }
            };
            let mut props = BasicProperties::default()
                .with_content_type("application/json".into())
                .with_content_encoding("utf-8".into())
                .with_delivery_mode(if p.persistent { 2 } else { 1 });
            if let Some(ttl) = p.expiration {
                // RabbitMQ takes at most 2^32-1 ms.
                let ms = ttl.as_millis().min(u128::from(u32::MAX));
                props = props.with_expiration(ms.to_string().into());
            }
            publisher
                .channel
                .basic_publish(
                    exchange.into(),
                    p.routing_key.into(),
                    BasicPublishOptions {
                        mandatory: p.mandatory,
                        immediate: false,
                    },
                    p.body,
                    props,
                )
                .await
                .map_err(tr)?
        };
        match confirm.await.map_err(tr)? {
            Confirmation::Ack(None) | Confirmation::NotRequested => Ok(true),
            Confirmation::Ack(Some(_)) => Ok(false),
            Confirmation::Nack(_) => Err(BusError::Transport(
                "the broker refused the message (nack)".into(),
            )),
        }
    }
}

/// A channel with its consumers merged into one stream.
struct Session {
    channel: Channel,
    stream: SelectAll<Consumer>,
    tags: Vec<String>,
}

impl Session {
    async fn consume(channel: Channel, queues: &[String]) -> lapin::Result<Session> {
        let mut consumers = Vec::new();
        let mut tags = Vec::new();
        for q in queues {
            let tag = format!("{q}:{}", simple_uuid());
            let c = channel
                .basic_consume(
                    q.as_str().into(),
                    tag.as_str().into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            consumers.push(c);
            tags.push(tag);
        }
        Ok(Session {
            channel,
            stream: futures::stream::select_all(consumers),
            tags,
        })
    }

    /// Cancel the consumers (the broker stops delivering), then close the channel
    /// (what was delivered but not acknowledged goes back to its queue).
    async fn cancel(&self) {
        for tag in &self.tags {
            let _ = timeout(
                CLOSE_TIMEOUT,
                self.channel
                    .basic_cancel(tag.as_str().into(), BasicCancelOptions::default()),
            )
            .await;
        }
    }

    async fn close(&self) {
        let _ = timeout(CLOSE_TIMEOUT, self.channel.close(200, "OK".into())).await;
    }
}

struct ListenSpec {
    topic: String,
    server: String,
    fanout_queue: String,
    handler: Arc<dyn Handler>,
}

struct SubscribeSpec {
    topic: String,
    pool: String,
    /// (queue, routing key)
    bindings: Vec<(String, String)>,
    queues: Vec<String>,
}

pub(crate) struct Amqp {
    me: Weak<Amqp>,
    url: RabbitUrl,
    opts: BusOptions,
    reply_queue: String,
    pending: Arc<Pending>,
    state: watch::Sender<Option<Arc<Conn>>>,
    shutdown: CancellationToken,
    /// Listener and subscription tasks: the supervisor lets them finish before it
    /// closes the connection.
    tasks: TaskTracker,
    supervisor: Mutex<Option<JoinHandle<()>>>,
    next_host: AtomicUsize,
}

fn default_connection_name() -> String {
    let program = std::env::args()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "ferrostack".into());
    format!("ferrostack:{program}:{}", std::process::id())
}

/// A token cancelled when either `a` is cancelled or `parent` is.
fn merged_token(a: CancellationToken, parent: &CancellationToken) -> CancellationToken {
    let merged = parent.child_token();
    let m = merged.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = a.cancelled() => m.cancel(),
            _ = m.cancelled() => {}
        }
    });
    merged
}

/// Removes a call's pending entry however the call ends.
struct PendingGuard<'a> {
    pending: &'a Pending,
    id: &'a str,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.pending.lock().remove(self.id);
    }
}

/// For publishes that have no caller deadline of their own (casts, notifications,
/// listen): a time-out means the broker could not be reached or did not confirm.
fn not_connected(e: BusError) -> BusError {
    match e {
        BusError::Timeout => BusError::Transport(
            "the message broker is not reachable (or did not confirm in time)".into(),
        ),
        e => e,
    }
}

impl Amqp {
    pub(crate) async fn connect(url: RabbitUrl, opts: BusOptions) -> Result<Arc<Amqp>, BusError> {
        let (state, _) = watch::channel(None);
        let this = Arc::new_cyclic(|me| Amqp {
            me: me.clone(),
            url,
            opts,
            reply_queue: format!("reply_{}", simple_uuid()),
            pending: Arc::new(Mutex::new(HashMap::new())),
            state,
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            supervisor: Mutex::new(None),
            next_host: AtomicUsize::new(0),
        });
        let conn = this.open(1).await?;
        tracing::info!(url = %this.url.display, exchange = %this.opts.control_exchange,
            reply_queue = %this.reply_queue, "connected to the message broker");
        this.state.send_replace(Some(conn.clone()));
        let sup = tokio::spawn(this.clone().supervise(conn));
        *this.supervisor.lock() = Some(sup);
        Ok(this)
    }

    fn arc(&self) -> Result<Arc<Amqp>, BusError> {
        self.me.upgrade().ok_or(BusError::Closed)
    }

    /// Connect to the URL's hosts in turn; the first that answers wins.
    async fn open(&self, generation: u64) -> Result<Arc<Conn>, BusError> {
        let n = self.url.hosts.len().max(1);
        let mut last = BusError::Transport("no broker host in the URL".into());
        for _ in 0..n {
            let i = self.next_host.fetch_add(1, Ordering::Relaxed) % n;
            let Some(uri) = self.url.hosts.get(i) else {
                break;
            };
            match self.open_host(generation, uri).await {
                Ok(c) => return Ok(c),
                Err(e) => {
                    tracing::debug!(host = %uri.authority.host, port = uri.authority.port, error = %e,
                        "broker connection attempt failed");
                    last = e;
                }
            }
        }
        Err(last)
    }

    async fn open_host(&self, generation: u64, uri: &AMQPUri) -> Result<Arc<Conn>, BusError> {
        let where_ = format!(
            "{}:{} (vhost {:?})",
            uri.authority.host, uri.authority.port, uri.vhost
        );
        let name = self
            .opts
            .connection_name
            .clone()
            .unwrap_or_else(default_connection_name);
        let props = ConnectionProperties::default().with_connection_name(name.into());
        let connection = timeout(
            self.opts.connect_timeout,
            Connection::connect_uri(uri.clone(), props),
        )
        .await
        .map_err(|_| BusError::Transport(format!("connecting to {where_}: timed out")))?
        .map_err(|e| BusError::Transport(format!("connecting to {where_}: {e}")))?;

        // The reply queue: auto-deleted with its consumer, declared again (same name) on
        // every connection so replies to calls made before a reconnect still arrive.
        let setup = async {
            let ch = connection.create_channel().await?;
            ch.queue_declare(
                self.reply_queue.as_str().into(),
                QueueDeclareOptions {
                    auto_delete: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?;
            ch.basic_consume(
                self.reply_queue.as_str().into(),
                format!("{}:consumer", self.reply_queue).into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
        };
        let consumer = match timeout(self.opts.connect_timeout, setup).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                let _ = timeout(CLOSE_TIMEOUT, connection.close(200, "OK".into())).await;
                return Err(BusError::Transport(format!(
                    "declaring the reply queue on {where_}: {e}"
                )));
            }
            Err(_) => {
                return Err(BusError::Transport(format!(
                    "declaring the reply queue on {where_}: timed out"
                )));
            }
        };
        let conn = Arc::new(Conn {
            generation,
            connection,
            publisher: tokio::sync::Mutex::new(None),
            broken: CancellationToken::new(),
        });
        tokio::spawn(reply_loop(
            consumer,
            self.pending.clone(),
            conn.broken.clone(),
            self.shutdown.clone(),
        ));
        tokio::spawn(watch_connection(conn.clone(), self.shutdown.clone()));
        Ok(conn)
    }

    /// Keep a connection up until shutdown.
    async fn supervise(self: Arc<Self>, mut conn: Arc<Conn>) {
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => break,
                _ = conn.broken.cancelled() => {}
            }
            self.state.send_replace(None);
            tracing::warn!(url = %self.url.display, generation = conn.generation,
                "lost the connection to the message broker; reconnecting");
            let _ = timeout(
                Duration::from_millis(500),
                conn.connection.close(320, "reconnecting".into()),
            )
            .await;
            let mut attempt: u32 = 0;
            let next = loop {
                let delay = self
                    .opts
                    .reconnect_min
                    .saturating_mul(2u32.saturating_pow(attempt.min(16)))
                    .min(self.opts.reconnect_max);
                tokio::select! {
                    _ = self.shutdown.cancelled() => {
                        self.finish(None).await;
                        return;
                    }
                    _ = tokio::time::sleep(delay) => {}
                }
                match self.open(conn.generation + 1).await {
                    Ok(c) => break c,
                    Err(e) => {
                        attempt = attempt.saturating_add(1);
                        tracing::warn!(attempt, retry_in = ?self.opts.reconnect_min
                            .saturating_mul(2u32.saturating_pow(attempt.min(16)))
                            .min(self.opts.reconnect_max),
                            error = %e, "reconnecting to the message broker failed");
                    }
                }
            };
            tracing::info!(url = %self.url.display, generation = next.generation,
                "reconnected to the message broker");
            conn = next;
            self.state.send_replace(Some(conn.clone()));
        }
        self.finish(Some(conn)).await;
    }

    /// Shutdown: let listeners finish (their last replies and acks need the
    /// connection), fail the calls still waiting, close the connection.
    async fn finish(&self, conn: Option<Arc<Conn>>) {
        self.tasks.close();
        if timeout(
            self.opts.stop_grace.saturating_add(CLOSE_TIMEOUT),
            self.tasks.wait(),
        )
        .await
        .is_err()
        {
            tracing::warn!("closing the broker connection with listeners still running");
        }
        self.state.send_replace(None);
        self.pending.lock().clear();
        if let Some(conn) = conn {
            conn.broken.cancel();
            let _ = timeout(CLOSE_TIMEOUT, conn.connection.close(200, "OK".into())).await;
        }
        tracing::debug!(url = %self.url.display, "message bus closed");
    }

    /// A usable connection of at least `min_generation`; `Timeout` at `deadline`,
    /// `Closed` when `cancel` or the bus shuts down.
    async fn wait_conn(
        &self,
        min_generation: u64,
        deadline: Option<Instant>,
        cancel: &CancellationToken,
    ) -> Result<Arc<Conn>, BusError> {
        let mut rx = self.state.subscribe();
        loop {
            let current = rx.borrow_and_update().clone();
            if let Some(c) = current
                && c.generation >= min_generation
                && !c.broken.is_cancelled()
            {
                return Ok(c);
            }
            if cancel.is_cancelled() || self.shutdown.is_cancelled() {
                return Err(BusError::Closed);
            }
            let until = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => return Err(BusError::Closed),
                _ = self.shutdown.cancelled() => return Err(BusError::Closed),
                _ = until => return Err(BusError::Timeout),
                r = rx.changed() => if r.is_err() { return Err(BusError::Closed) },
            }
        }
    }

    /// Publish on the current connection, waiting for one (until `deadline`) and
    /// retrying on a fresh channel when the publishing channel failed.
    async fn publish(&self, p: &Publish<'_>, deadline: Instant) -> Result<bool, BusError> {
        let mut attempt = 0u64;
        loop {
            let conn = self.wait_conn(0, Some(deadline), &self.shutdown).await?;
            let published = tokio::time::timeout_at(deadline, conn.publish(&self.opts, p))
                .await
                .unwrap_or(Err(BusError::Timeout));
            match published {
                Ok(routed) => return Ok(routed),
                Err(BusError::Timeout) => return Err(BusError::Timeout),
                Err(e) => {
                    attempt += 1;
                    if !conn.connection.status().connected() {
                        conn.broken.cancel();
                    }
                    if attempt >= 3 || Instant::now() >= deadline {
                        return Err(e);
                    }
                    tracing::debug!(error = %e, attempt, "publishing failed; retrying");
                    tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
                }
            }
        }
    }

    /// After a channel or connection failure: wait for a usable connection and open the
    /// session again, backing off while that fails. `None` when cancelled.
    async fn reopen<F, Fut>(
        &self,
        what: &str,
        cancel: &CancellationToken,
        lost: &Conn,
        open: F,
    ) -> Option<(Arc<Conn>, Session)>
    where
        F: Fn(Arc<Conn>) -> Fut,
        Fut: Future<Output = Result<Session, BusError>>,
    {
        if !lost.connection.status().connected() {
            lost.broken.cancel();
        }
        let mut pause = self.opts.reconnect_min.min(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return None,
                _ = tokio::time::sleep(pause) => {}
            }
            let conn = self.wait_conn(0, None, cancel).await.ok()?;
            match open(conn.clone()).await {
                Ok(s) => {
                    tracing::info!(what, generation = conn.generation, "resumed consuming");
                    return Some((conn, s));
                }
                Err(e) => {
                    tracing::warn!(what, error = %e, retry_in = ?pause, "could not consume again");
                    if !conn.connection.status().connected() {
                        conn.broken.cancel();
                    }
                    pause = pause.saturating_mul(2).min(self.opts.reconnect_max);
                }
            }
        }
    }

    async fn open_listener(&self, conn: &Conn, spec: &ListenSpec) -> Result<Session, BusError> {
        let ch = conn.connection.create_channel().await.map_err(tr)?;
        let exchange = self.opts.control_exchange.as_str();
        let server_queue = format!("{}.{}", spec.topic, spec.server);
        let fanout_exchange = format!("{}_fanout", spec.topic);
        let setup = async {
            ch.basic_qos(self.opts.prefetch, BasicQosOptions::default())
                .await?;
            declare_topic_exchange(&ch, exchange, self.opts.durable_queues).await?;
            for q in [&spec.topic, &server_queue] {
                ch.queue_declare(
                    q.as_str().into(),
                    QueueDeclareOptions {
                        durable: self.opts.durable_queues,
                        ..Default::default()
                    },
                    FieldTable::default(),
                )
                .await?;
                ch.queue_bind(
                    q.as_str().into(),
                    exchange.into(),
                    q.as_str().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            }
            declare_fanout_exchange(&ch, &fanout_exchange).await?;
            ch.queue_declare(
                spec.fanout_queue.as_str().into(),
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?;
            ch.queue_bind(
                spec.fanout_queue.as_str().into(),
                fanout_exchange.as_str().into(),
                spec.topic.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
            Session::consume(
                ch.clone(),
                &[
                    spec.topic.clone(),
                    server_queue.clone(),
                    spec.fanout_queue.clone(),
                ],
            )
            .await
        };
        match timeout(self.opts.connect_timeout, setup).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => {
                let _ = timeout(CLOSE_TIMEOUT, ch.close(200, "OK".into())).await;
                Err(BusError::Transport(format!(
                    "listening on {} as {}: {e}",
                    spec.topic, spec.server
                )))
            }
            Err(_) => Err(BusError::Transport(format!(
                "listening on {} as {}: timed out",
                spec.topic, spec.server
            ))),
        }
    }

    async fn listener_loop(
        self: Arc<Self>,
        spec: Arc<ListenSpec>,
        mut conn: Arc<Conn>,
        mut session: Session,
        cancel: CancellationToken,
    ) {
        let mut inflight = JoinSet::new();
        let what = format!("listener {}.{}", spec.topic, spec.server);
        loop {
            let lost = loop {
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => break None,
                    Some(_) = inflight.join_next(), if !inflight.is_empty() => {}
                    d = session.stream.next() => match d {
                        Some(Ok(d)) => {
                            inflight.spawn(handle_request(self.clone(), spec.clone(), d));
                        }
                        Some(Err(e)) => break Some(e.to_string()),
                        None => break Some("the broker cancelled the consumer".to_string()),
                    },
                }
            };
            let Some(reason) = lost else {
                session.cancel().await;
                self.drain(&mut inflight, &what).await;
                session.close().await;
                return;
            };
            tracing::warn!(topic = %spec.topic, server = %spec.server, reason = %reason,
                "listener lost its channel; it will consume again");
            let this = self.clone();
            let s = spec.clone();
            let open = move |c: Arc<Conn>| {
                let this = this.clone();
                let s = s.clone();
                async move { this.open_listener(&c, &s).await }
            };
            match self.reopen(&what, &cancel, &conn, open).await {
                Some((c, s)) => {
                    conn = c;
                    session = s;
                }
                None => {
                    self.drain(&mut inflight, &what).await;
                    return;
                }
            }
        }
    }

    /// Wait for running handlers, up to the grace period.
    async fn drain(&self, inflight: &mut JoinSet<()>, what: &str) {
        let done = timeout(self.opts.stop_grace, async {
            while inflight.join_next().await.is_some() {}
        })
        .await;
        if done.is_err() {
            tracing::warn!(what, "stopped with handlers still running");
            inflight.detach_all();
        }
    }

    async fn open_subscription(
        &self,
        conn: &Conn,
        spec: &SubscribeSpec,
    ) -> Result<Session, BusError> {
        let ch = conn.connection.create_channel().await.map_err(tr)?;
        let exchange = self.opts.control_exchange.as_str();
        let setup = async {
            ch.basic_qos(self.opts.prefetch, BasicQosOptions::default())
                .await?;
            declare_topic_exchange(&ch, exchange, self.opts.durable_queues).await?;
            for q in &spec.queues {
                ch.queue_declare(
                    q.as_str().into(),
                    QueueDeclareOptions {
                        durable: self.opts.durable_queues,
                        ..Default::default()
                    },
                    FieldTable::default(),
                )
                .await?;
            }
            for (q, key) in &spec.bindings {
                ch.queue_bind(
                    q.as_str().into(),
                    exchange.into(),
                    key.as_str().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            }
            Session::consume(ch.clone(), &spec.queues).await
        };
        match timeout(self.opts.connect_timeout, setup).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => {
                let _ = timeout(CLOSE_TIMEOUT, ch.close(200, "OK".into())).await;
                Err(BusError::Transport(format!(
                    "subscribing to {} notifications: {e}",
                    spec.topic
                )))
            }
            Err(_) => Err(BusError::Transport(format!(
                "subscribing to {} notifications: timed out",
                spec.topic
            ))),
        }
    }

    async fn subscription_loop(
        self: Arc<Self>,
        spec: Arc<SubscribeSpec>,
        mut conn: Arc<Conn>,
        mut session: Session,
        tx: mpsc::Sender<Notification>,
    ) {
        let cancel = self.shutdown.child_token();
        let what = format!("notifications {} (pool {:?})", spec.topic, spec.pool);
        loop {
            let lost = loop {
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => break None,
                    _ = tx.closed() => break None,
                    d = session.stream.next() => match d {
                        Some(Ok(d)) => {
                            if !deliver_notification(&d, &tx, &cancel).await {
                                break None;
                            }
                        }
                        Some(Err(e)) => break Some(e.to_string()),
                        None => break Some("the broker cancelled the consumer".to_string()),
                    },
                }
            };
            let Some(reason) = lost else {
                session.cancel().await;
                session.close().await;
                return;
            };
            tracing::warn!(what = %what, reason = %reason,
                "notification subscription lost its channel; it will consume again");
            let this = self.clone();
            let s = spec.clone();
            let open = move |c: Arc<Conn>| {
                let this = this.clone();
                let s = s.clone();
                async move { this.open_subscription(&c, &s).await }
            };
            // Stop trying when the receiver is dropped meanwhile.
            let give_up = cancel.child_token();
            let reopened = tokio::select! {
                r = self.reopen(&what, &give_up, &conn, open) => r,
                _ = tx.closed() => None,
            };
            match reopened {
                Some((c, s)) => {
                    conn = c;
                    session = s;
                }
                None => return,
            }
        }
    }
}

/// Hand one notification to the subscriber, then acknowledge it. `false` when the
/// subscription is over (the message goes back to the queue).
async fn deliver_notification(
    d: &Delivery,
    tx: &mpsc::Sender<Notification>,
    cancel: &CancellationToken,
) -> bool {
    let n = match wire::open_envelope(&d.data).and_then(wire::notification_from_map) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, routing_key = %d.routing_key, "dropping a malformed notification");
            let _ = d.reject(BasicRejectOptions { requeue: false }).await;
            return true;
        }
    };
    let sent = tokio::select! {
        r = tx.send(n) => r.is_ok(),
        _ = cancel.cancelled() => false,
    };
    if sent {
        let _ = d.ack(BasicAckOptions::default()).await;
    } else {
        let _ = d
            .nack(BasicNackOptions {
                multiple: false,
                requeue: true,
            })
            .await;
    }
    sent
}

async fn ack(d: &Delivery) {
    if let Err(e) = d.ack(BasicAckOptions::default()).await {
        tracing::debug!(error = %e, "could not acknowledge (the channel is gone); the broker will redeliver");
    }
}

/// Run one request and answer it.
async fn handle_request(amqp: Arc<Amqp>, spec: Arc<ListenSpec>, d: Delivery) {
    let msg = match wire::open_envelope(&d.data).and_then(RpcMessage::from_map) {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, routing_key = %d.routing_key, "dropping a malformed RPC message");
            let _ = d.reject(BasicRejectOptions { requeue: false }).await;
            return;
        }
    };
    let on_receipt = amqp.opts.ack == AckMode::OnReceipt;
    if on_receipt {
        ack(&d).await;
    }
    let reply_to = match (msg.msg_id, msg.reply_q) {
        (Some(id), Some(q)) => Some((id, q)),
        _ => None,
    };
    let method = msg.method.clone();
    let req = Request {
        method: msg.method,
        args: msg.args,
        ctx: msg.ctx,
        version: msg.version,
        topic: spec.topic.clone(),
        server: spec.server.clone(),
        wants_reply: reply_to.is_some(),
        redelivered: d.redelivered,
    };
    let result = run_handler(&spec.handler, req).await;
    match reply_to {
        Some((msg_id, reply_q)) => {
            let body = wire::envelope(ReplyMessage { msg_id, result }.to_map());
            let p = Publish {
                exchange: Exchange::Default,
                routing_key: &reply_q,
                body: &body,
                persistent: false,
                expiration: None,
                mandatory: true,
            };
            let deadline = deadline_after(amqp.opts.publish_timeout);
            match amqp.publish(&p, deadline).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::debug!(method = %method, reply_queue = %reply_q,
                        "the caller's reply queue is gone; reply dropped")
                }
                Err(e) => {
                    tracing::warn!(method = %method, error = %e, "could not send an RPC reply")
                }
            }
        }
        None => {
            if let Err(e) = result {
                tracing::warn!(topic = %spec.topic, server = %spec.server, method = %method,
                    error = %e, "cast handler failed");
            }
        }
    }
    if !on_receipt {
        ack(&d).await;
    }
}

/// Route replies to the calls waiting for them.
async fn reply_loop(
    mut consumer: Consumer,
    pending: Arc<Pending>,
    broken: CancellationToken,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = broken.cancelled() => return,
            _ = shutdown.cancelled() => return,
            d = consumer.next() => match d {
                Some(Ok(d)) => {
                    match wire::open_envelope(&d.data).and_then(ReplyMessage::from_map) {
                        Ok(Some(r)) => {
                            let waiter = pending.lock().remove(&r.msg_id);
                            match waiter {
                                Some(tx) => {
                                    let _ = tx.send(r.result);
                                }
                                None => tracing::debug!(msg_id = %r.msg_id,
                                    "reply to a call that is no longer waiting"),
                            }
                        }
                        Ok(None) => {}
                        Err(e) => tracing::warn!(error = %e, "dropping a malformed RPC reply"),
                    }
                }
                other => {
                    if !shutdown.is_cancelled() {
                        let reason = match other {
                            Some(Err(e)) => e.to_string(),
                            _ => "consumer cancelled".into(),
                        };
                        tracing::warn!(reason = %reason, "the reply consumer stopped");
                        broken.cancel();
                    }
                    return;
                }
            },
        }
    }
}

/// Mark the connection broken when lapin reports it dead.
async fn watch_connection(conn: Arc<Conn>, shutdown: CancellationToken) {
    let mut events = Box::pin(conn.connection.events_listener());
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = conn.broken.cancelled() => return,
            _ = shutdown.cancelled() => return,
            ev = events.next() => match ev {
                Some(Event::Error(e)) => {
                    if !conn.connection.status().connected() {
                        tracing::debug!(error = %e, "connection error");
                        conn.broken.cancel();
                        return;
                    }
                }
                Some(_) => {}
                None => {
                    conn.broken.cancel();
                    return;
                }
            },
            _ = tick.tick() => {
                if !conn.connection.status().connected() {
                    conn.broken.cancel();
                    return;
                }
            }
        }
    }
}

#[async_trait]
impl Transport for Amqp {
    fn name(&self) -> &'static str {
        "rabbit"
    }

    async fn call(&self, t: &Target, msg: Outgoing, timeout: Duration) -> Result<Value, BusError> {
        if self.shutdown.is_cancelled() {
            return Err(BusError::Closed);
        }
        let deadline = deadline_after(timeout);
        let msg_id = simple_uuid();
        let (tx, rx) = oneshot::channel();
        self.pending.lock().insert(msg_id.clone(), tx);
        let _guard = PendingGuard {
            pending: &self.pending,
            id: &msg_id,
        };
        let rpc = RpcMessage {
            method: msg.method,
            args: msg.args,
            ctx: msg.ctx,
            version: msg.version,
            msg_id: Some(msg_id.clone()),
            reply_q: Some(self.reply_queue.clone()),
            unique_id: simple_uuid(),
        };
        let body = wire::envelope(rpc.to_map());
        let key = t.routing_key();
        let p = Publish {
            exchange: Exchange::Topic(&self.opts.control_exchange),
            routing_key: &key,
            body: &body,
            persistent: false,
            // A call nobody takes within its timeout is dropped by the broker.
            expiration: Some(timeout),
            mandatory: true,
        };
        if !self.publish(&p, deadline).await? {
            return Err(BusError::NoListener(key));
        }
        match tokio::time::timeout_at(deadline, rx).await {
            Err(_) => Err(BusError::Timeout),
            Ok(Err(_)) => Err(BusError::Closed),
            Ok(Ok(Ok(v))) => Ok(v),
            Ok(Ok(Err(e))) => Err(e.into()),
        }
    }

    async fn cast(&self, t: &Target, msg: Outgoing) -> Result<(), BusError> {
        if self.shutdown.is_cancelled() {
            return Err(BusError::Closed);
        }
        let rpc = RpcMessage {
            method: msg.method,
            args: msg.args,
            ctx: msg.ctx,
            version: msg.version,
            msg_id: None,
            reply_q: None,
            unique_id: simple_uuid(),
        };
        let body = wire::envelope(rpc.to_map());
        let deadline = deadline_after(self.opts.publish_timeout);
        if t.fanout {
            let exchange = format!("{}_fanout", t.topic);
            let p = Publish {
                exchange: Exchange::Fanout(&exchange),
                routing_key: &t.topic,
                body: &body,
                persistent: false,
                expiration: None,
                mandatory: true,
            };
            if !self.publish(&p, deadline).await.map_err(not_connected)? {
                tracing::debug!(target_ = %t, method = %rpc.method, "fanout cast with no listener");
            }
            return Ok(());
        }
        let key = t.routing_key();
        let p = Publish {
            exchange: Exchange::Topic(&self.opts.control_exchange),
            routing_key: &key,
            body: &body,
            persistent: false,
            expiration: None,
            mandatory: true,
        };
        if self.publish(&p, deadline).await.map_err(not_connected)? {
            Ok(())
        } else {
            tracing::warn!(routing_key = %key, method = %rpc.method,
                "cast to a topic no listener ever declared: message dropped");
            Err(BusError::NoListener(key))
        }
    }

    async fn listen(
        &self,
        topic: &str,
        server: &str,
        handler: Arc<dyn Handler>,
        stop: CancellationToken,
    ) -> Result<JoinHandle<()>, BusError> {
        let this = self.arc()?;
        let cancel = merged_token(stop, &self.shutdown);
        let spec = Arc::new(ListenSpec {
            topic: topic.to_string(),
            server: server.to_string(),
            fanout_queue: format!("{topic}_fanout_{}", simple_uuid()),
            handler,
        });
        let deadline = deadline_after(self.opts.connect_timeout);
        let conn = self
            .wait_conn(0, Some(deadline), &cancel)
            .await
            .map_err(not_connected)?;
        let session = self.open_listener(&conn, &spec).await?;
        Ok(self
            .tasks
            .spawn(this.listener_loop(spec, conn, session, cancel)))
    }

    async fn notify(&self, n: Notification) -> Result<(), BusError> {
        if self.shutdown.is_cancelled() {
            return Err(BusError::Closed);
        }
        let body = wire::envelope(wire::notification_to_map(&n));
        let deadline = deadline_after(self.opts.publish_timeout);
        for topic in &self.opts.notification_topics {
            let key = format!("{topic}.{}", n.priority_key());
            let p = Publish {
                exchange: Exchange::Topic(&self.opts.control_exchange),
                routing_key: &key,
                body: &body,
                persistent: true,
                expiration: None,
                mandatory: false,
            };
            if !self.publish(&p, deadline).await.map_err(not_connected)? {
                tracing::debug!(routing_key = %key, event_type = %n.event_type,
                    "no queue bound for this notification: dropped");
            }
        }
        Ok(())
    }

    async fn subscribe(
        &self,
        topic: &str,
        pool: &str,
        tx: mpsc::Sender<Notification>,
    ) -> Result<(), BusError> {
        let this = self.arc()?;
        let mut bindings = Vec::new();
        for p in PRIORITIES {
            let key = format!("{topic}.{p}");
            let queue = if pool.is_empty() {
                key.clone()
            } else {
                pool.to_string()
            };
            bindings.push((queue, key));
        }
        let mut queues: Vec<String> = bindings.iter().map(|(q, _)| q.clone()).collect();
        queues.dedup();
        let spec = Arc::new(SubscribeSpec {
            topic: topic.to_string(),
            pool: pool.to_string(),
            bindings,
            queues,
        });
        let deadline = deadline_after(self.opts.connect_timeout);
        let conn = self
            .wait_conn(0, Some(deadline), &self.shutdown)
            .await
            .map_err(not_connected)?;
        let session = self.open_subscription(&conn, &spec).await?;
        self.tasks
            .spawn(this.subscription_loop(spec, conn, session, tx));
        Ok(())
    }

    async fn close(&self) {
        self.shutdown.cancel();
        let sup = self.supervisor.lock().take();
        if let Some(sup) = sup {
            let _ = sup.await;
        }
    }

    fn shutdown(&self) {
        self.shutdown.cancel();
    }
}
