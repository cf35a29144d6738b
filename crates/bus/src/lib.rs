//! The message bus: RPC `call` (with a timeout), `cast`, fanout, and notifications,
//! behind one [`Bus`] handle. Transports: in-process (`memory://`, the all-in-one
//! default). The AMQP 0-9-1 transport (`rabbit://`) is not implemented yet:
//! [`Bus::from_url`] refuses such URLs with a clear error.
//!
//! Addressing follows oslo.messaging: a [`Target`] names a topic; with a server it is
//! delivered to that server's listener (`topic.server`); without, to one listener of
//! the topic (round robin); with `fanout`, to every listener of the topic.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub topic: String,
    pub server: Option<String>,
    pub fanout: bool,
}

impl Target {
    /// Any one listener of `topic`.
    pub fn topic(topic: &str) -> Self {
        Target {
            topic: topic.into(),
            server: None,
            fanout: false,
        }
    }

    /// The listener of `topic` on `server`.
    pub fn server(topic: &str, server: &str) -> Self {
        Target {
            topic: topic.into(),
            server: Some(server.into()),
            fanout: false,
        }
    }

    /// Every listener of `topic`.
    pub fn fanout(topic: &str) -> Self {
        Target {
            topic: topic.into(),
            server: None,
            fanout: true,
        }
    }
}

/// An error a handler returns; travels back to the caller of `call`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RemoteError {
    pub kind: String,
    pub message: String,
}

impl RemoteError {
    pub fn new(kind: &str, message: impl Into<String>) -> Self {
        RemoteError {
            kind: kind.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("timed out waiting for a reply")]
    Timeout,
    #[error("{kind}: {message}")]
    Remote { kind: String, message: String },
    #[error("no listener for {0}")]
    NoListener(String),
    #[error("unsupported transport URL {0:?}: use memory:// (rabbit:// is not available yet)")]
    UnsupportedUrl(String),
    #[error("the bus is shut down")]
    Closed,
}

/// Answers RPC methods for a topic.
#[async_trait]
pub trait Handler: Send + Sync {
    async fn handle(&self, method: &str, args: Value, ctx: Value) -> Result<Value, RemoteError>;
}

/// An OpenStack notification (the oslo "messagingv2" envelope's message).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Notification {
    pub message_id: String,
    pub publisher_id: String,
    pub event_type: String,
    pub priority: String,
    pub payload: Value,
    pub timestamp: String,
}

impl Notification {
    pub fn info(publisher_id: &str, event_type: &str, payload: Value) -> Self {
        Notification {
            message_id: uuid::Uuid::new_v4().to_string(),
            publisher_id: publisher_id.into(),
            event_type: event_type.into(),
            priority: "INFO".into(),
            payload,
            timestamp: chrono::Utc::now()
                .format("%Y-%m-%d %H:%M:%S%.6f")
                .to_string(),
        }
    }
}

struct Message {
    method: String,
    args: Value,
    ctx: Value,
    reply: Option<oneshot::Sender<Result<Value, RemoteError>>>,
}

#[derive(Clone)]
struct Endpoint {
    id: u64,
    server: String,
    tx: mpsc::UnboundedSender<Message>,
}

#[derive(Default)]
struct Memory {
    topics: RwLock<HashMap<String, Vec<Endpoint>>>,
    subscribers: RwLock<Vec<(String, mpsc::UnboundedSender<Notification>)>>,
    next: AtomicUsize,
    ids: AtomicUsize,
}

/// A handle on the bus; cheap to clone.
#[derive(Clone)]
pub struct Bus {
    mem: Arc<Memory>,
}

/// A running listener; dropping it (or [`Listener::stop`]) stops delivery to it.
pub struct Listener {
    mem: Arc<Memory>,
    topic: String,
    id: u64,
    task: tokio::task::JoinHandle<()>,
}

impl Listener {
    pub fn stop(self) {}
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(v) = self.mem.topics.write().get_mut(&self.topic) {
            v.retain(|e| e.id != self.id);
        }
        self.task.abort();
    }
}

impl Bus {
    /// `memory://` (or empty): in-process.
    pub async fn from_url(url: &str) -> Result<Bus, BusError> {
        let u = url.trim();
        if u.is_empty() || u.starts_with("memory:") || u.starts_with("fake:") {
            return Ok(Bus::memory());
        }
        Err(BusError::UnsupportedUrl(u.to_string()))
    }

    pub fn memory() -> Bus {
        Bus {
            mem: Arc::new(Memory::default()),
        }
    }

    fn pick(&self, t: &Target) -> Result<Vec<Endpoint>, BusError> {
        let topics = self.mem.topics.read();
        let all = topics.get(&t.topic).cloned().unwrap_or_default();
        let chosen: Vec<Endpoint> = if t.fanout {
            all
        } else if let Some(s) = &t.server {
            all.into_iter().filter(|e| &e.server == s).take(1).collect()
        } else if all.is_empty() {
            Vec::new()
        } else {
            let i = self.mem.next.fetch_add(1, Ordering::Relaxed) % all.len();
            vec![all[i].clone()]
        };
        if chosen.is_empty() {
            let name = match &t.server {
                Some(s) => format!("{}.{s}", t.topic),
                None => t.topic.clone(),
            };
            return Err(BusError::NoListener(name));
        }
        Ok(chosen)
    }

    /// Send and wait for the reply.
    pub async fn call(
        &self,
        t: &Target,
        method: &str,
        args: Value,
        ctx: Value,
        timeout: Duration,
    ) -> Result<Value, BusError> {
        let ep = self
            .pick(t)?
            .into_iter()
            .next()
            .ok_or_else(|| BusError::NoListener(t.topic.clone()))?;
        let (tx, rx) = oneshot::channel();
        ep.tx
            .send(Message {
                method: method.into(),
                args,
                ctx,
                reply: Some(tx),
            })
            .map_err(|_| BusError::NoListener(t.topic.clone()))?;
        match tokio::time::timeout(timeout, rx).await {
            Err(_) => Err(BusError::Timeout),
            Ok(Err(_)) => Err(BusError::Closed),
            Ok(Ok(Ok(v))) => Ok(v),
            Ok(Ok(Err(e))) => Err(BusError::Remote {
                kind: e.kind,
                message: e.message,
            }),
        }
    }

    /// Send without waiting (to every listener when the target is a fanout).
    pub async fn cast(
        &self,
        t: &Target,
        method: &str,
        args: Value,
        ctx: Value,
    ) -> Result<(), BusError> {
        for ep in self.pick(t)? {
            let _ = ep.tx.send(Message {
                method: method.into(),
                args: args.clone(),
                ctx: ctx.clone(),
                reply: None,
            });
        }
        Ok(())
    }

    /// Serve `topic` as `server`: messages to the topic, to `topic.server` and the
    /// topic's fanout. Each message is handled in its own task.
    pub async fn listen(
        &self,
        topic: &str,
        server: &str,
        handler: Arc<dyn Handler>,
    ) -> Result<Listener, BusError> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
        let id = self.mem.ids.fetch_add(1, Ordering::Relaxed) as u64;
        self.mem
            .topics
            .write()
            .entry(topic.to_string())
            .or_default()
            .push(Endpoint {
                id,
                server: server.to_string(),
                tx,
            });
        let task = tokio::spawn(async move {
            while let Some(m) = rx.recv().await {
                let h = handler.clone();
                tokio::spawn(async move {
                    let r = h.handle(&m.method, m.args, m.ctx).await;
                    if let Some(reply) = m.reply {
                        let _ = reply.send(r);
                    }
                });
            }
        });
        Ok(Listener {
            mem: self.mem.clone(),
            topic: topic.to_string(),
            id,
            task,
        })
    }

    /// Publish a notification to subscribers of `notifications` (priority-less topic).
    pub async fn notify(&self, n: Notification) -> Result<(), BusError> {
        let subs = self.mem.subscribers.read().clone();
        for (topic, tx) in subs {
            if topic == "notifications" {
                let _ = tx.send(n.clone());
            }
        }
        Ok(())
    }

    pub async fn subscribe_notifications(
        &self,
        topic: &str,
    ) -> Result<mpsc::UnboundedReceiver<Notification>, BusError> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.mem.subscribers.write().push((topic.to_string(), tx));
        Ok(rx)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Echo(&'static str);

    #[async_trait]
    impl Handler for Echo {
        async fn handle(
            &self,
            method: &str,
            args: Value,
            _ctx: Value,
        ) -> Result<Value, RemoteError> {
            match method {
                "echo" => Ok(json!({"server": self.0, "args": args})),
                "slow" => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    Ok(Value::Null)
                }
                _ => Err(RemoteError::new(
                    "NoSuchMethod",
                    format!("no method {method}"),
                )),
            }
        }
    }

    #[tokio::test]
    async fn call_reply_errors_and_timeout() {
        let bus = Bus::from_url("memory://").await.unwrap();
        let _l = bus
            .listen("compute", "a", Arc::new(Echo("a")))
            .await
            .unwrap();
        let t = Target::server("compute", "a");
        let r = bus
            .call(&t, "echo", json!(1), json!({}), Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(r["server"], "a");
        let e = bus
            .call(&t, "nope", json!(1), json!({}), Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(matches!(e, BusError::Remote { ref kind, .. } if kind == "NoSuchMethod"));
        let e = bus
            .call(&t, "slow", json!(1), json!({}), Duration::from_millis(20))
            .await
            .unwrap_err();
        assert!(matches!(e, BusError::Timeout));
        let e = bus
            .call(
                &Target::server("compute", "b"),
                "echo",
                json!(1),
                json!({}),
                Duration::from_secs(1),
            )
            .await
            .unwrap_err();
        assert!(matches!(e, BusError::NoListener(_)));
        assert!(
            Bus::from_url("rabbit://guest:guest@localhost//")
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn round_robin_fanout_and_stop() {
        let bus = Bus::memory();
        let la = bus.listen("t", "a", Arc::new(Echo("a"))).await.unwrap();
        let _lb = bus.listen("t", "b", Arc::new(Echo("b"))).await.unwrap();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..4 {
            let r = bus
                .call(
                    &Target::topic("t"),
                    "echo",
                    json!(0),
                    json!({}),
                    Duration::from_secs(1),
                )
                .await
                .unwrap();
            seen.insert(r["server"].as_str().unwrap().to_string());
        }
        assert_eq!(seen.len(), 2, "both servers got calls");
        bus.cast(&Target::fanout("t"), "echo", json!(0), json!({}))
            .await
            .unwrap();
        drop(la);
        for _ in 0..3 {
            let r = bus
                .call(
                    &Target::topic("t"),
                    "echo",
                    json!(0),
                    json!({}),
                    Duration::from_secs(1),
                )
                .await
                .unwrap();
            assert_eq!(r["server"], "b");
        }
    }

    #[tokio::test]
    async fn notifications_reach_subscribers() {
        let bus = Bus::memory();
        let mut rx = bus.subscribe_notifications("notifications").await.unwrap();
        bus.notify(Notification::info(
            "image.host",
            "image.create",
            json!({"id": "x"}),
        ))
        .await
        .unwrap();
        let n = rx.recv().await.unwrap();
        assert_eq!(n.event_type, "image.create");
        assert_eq!(n.priority, "INFO");
    }
}
