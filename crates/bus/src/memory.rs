//! The in-process transport: tokio channels, no serialization.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::{
    BusError, BusOptions, Handler, Notification, Outgoing, RemoteError, Request, Target, Transport,
    run_handler, wire,
};

type ReplyTx = oneshot::Sender<Result<Value, RemoteError>>;

struct Delivery {
    req: Request,
    reply: Option<ReplyTx>,
}

#[derive(Clone)]
struct Endpoint {
    id: u64,
    server: String,
    tx: mpsc::UnboundedSender<Delivery>,
}

#[derive(Default)]
struct TopicEntry {
    endpoints: Vec<Endpoint>,
    /// Round-robin positions: "" for the shared topic, else per server.
    next: HashMap<String, usize>,
}

struct Subscriber {
    id: u64,
    topic: String,
    pool: String,
    tx: mpsc::UnboundedSender<Notification>,
}

#[derive(Default)]
struct State {
    topics: HashMap<String, TopicEntry>,
    subscribers: Vec<Subscriber>,
    /// Round-robin positions per (topic, pool).
    pool_next: HashMap<(String, String), usize>,
    ids: u64,
}

pub(crate) struct Memory {
    state: Arc<Mutex<State>>,
    closed: AtomicBool,
    options: BusOptions,
}

impl Memory {
    pub(crate) fn new(options: BusOptions) -> Memory {
        Memory {
            state: Arc::new(Mutex::new(State::default())),
            closed: AtomicBool::new(false),
            options,
        }
    }

    fn check_open(&self) -> Result<(), BusError> {
        if self.closed.load(Ordering::Acquire) {
            Err(BusError::Closed)
        } else {
            Ok(())
        }
    }

    /// The endpoints a message for `t` goes to (none for a fanout with no listener).
    fn pick(&self, t: &Target) -> Result<Vec<Endpoint>, BusError> {
        let mut st = self.state.lock();
        let entry = st.topics.get_mut(&t.topic);
        if t.fanout {
            return Ok(entry.map(|e| e.endpoints.clone()).unwrap_or_default());
        }
        let no_listener = || BusError::NoListener(t.routing_key());
        let entry = entry.ok_or_else(no_listener)?;
        let key = t.server.clone().unwrap_or_default();
        let candidates: Vec<&Endpoint> = entry
            .endpoints
            .iter()
            .filter(|e| t.server.as_ref().is_none_or(|s| &e.server == s))
            .collect();
        if candidates.is_empty() {
            return Err(no_listener());
        }
        let n = candidates.len();
        let pos = entry.next.entry(key).or_insert(0);
        let chosen = candidates[*pos % n].clone();
        *pos = (*pos + 1) % n;
        Ok(vec![chosen])
    }

    fn request(msg: &Outgoing, ep: &Endpoint, t: &Target, wants_reply: bool) -> Request {
        Request {
            method: msg.method.clone(),
            args: msg.args.clone(),
            ctx: wire::normalize_context(msg.ctx.clone()),
            version: msg.version.clone(),
            topic: t.topic.clone(),
            server: ep.server.clone(),
            wants_reply,
            redelivered: false,
        }
    }
}

#[async_trait]
impl Transport for Memory {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn call(&self, t: &Target, msg: Outgoing, timeout: Duration) -> Result<Value, BusError> {
        self.check_open()?;
        let ep = self
            .pick(t)?
            .into_iter()
            .next()
            .ok_or_else(|| BusError::NoListener(t.routing_key()))?;
        let (tx, rx) = oneshot::channel();
        let req = Memory::request(&msg, &ep, t, true);
        ep.tx
            .send(Delivery {
                req,
                reply: Some(tx),
            })
            .map_err(|_| BusError::NoListener(t.routing_key()))?;
        match tokio::time::timeout(timeout, rx).await {
            Err(_) => Err(BusError::Timeout),
            // The listener went away without answering.
            Ok(Err(_)) => Err(BusError::Closed),
            Ok(Ok(Ok(v))) => Ok(v),
            Ok(Ok(Err(e))) => Err(e.into()),
        }
    }

    async fn cast(&self, t: &Target, msg: Outgoing) -> Result<(), BusError> {
        self.check_open()?;
        let eps = self.pick(t)?;
        if eps.is_empty() {
            tracing::debug!(target_ = %t, method = %msg.method, "fanout cast with no listener");
        }
        for ep in eps {
            let req = Memory::request(&msg, &ep, t, false);
            let _ = ep.tx.send(Delivery { req, reply: None });
        }
        Ok(())
    }

    async fn listen(
        &self,
        topic: &str,
        server: &str,
        handler: Arc<dyn Handler>,
        stop: CancellationToken,
    ) -> Result<JoinHandle<()>, BusError> {
        self.check_open()?;
        let (tx, mut rx) = mpsc::unbounded_channel::<Delivery>();
        let id = {
            let mut st = self.state.lock();
            st.ids += 1;
            let id = st.ids;
            st.topics
                .entry(topic.to_string())
                .or_default()
                .endpoints
                .push(Endpoint {
                    id,
                    server: server.to_string(),
                    tx,
                });
            id
        };
        let state = self.state.clone();
        let topic = topic.to_string();
        let grace = self.options.stop_grace;
        let handle = move |inflight: &mut JoinSet<()>, d: Delivery| {
            let h = handler.clone();
            inflight.spawn(async move {
                let method = d.req.method.clone();
                let r = run_handler(&h, d.req).await;
                match d.reply {
                    Some(reply) => {
                        let _ = reply.send(r);
                    }
                    None => {
                        if let Err(e) = r {
                            tracing::warn!(method = %method, error = %e, "cast handler failed");
                        }
                    }
                }
            });
        };
        Ok(tokio::spawn(async move {
            let mut inflight = JoinSet::new();
            loop {
                tokio::select! {
                    biased;
                    _ = stop.cancelled() => break,
                    Some(_) = inflight.join_next(), if !inflight.is_empty() => {}
                    d = rx.recv() => match d {
                        Some(d) => handle(&mut inflight, d),
                        None => break,
                    },
                }
            }
            // Deregister, then handle what was already routed here.
            {
                let mut st = state.lock();
                if let Some(e) = st.topics.get_mut(&topic) {
                    e.endpoints.retain(|e| e.id != id);
                    if e.endpoints.is_empty() {
                        st.topics.remove(&topic);
                    }
                }
            }
            rx.close();
            while let Ok(d) = rx.try_recv() {
                handle(&mut inflight, d);
            }
            let drained = tokio::time::timeout(grace, async {
                while inflight.join_next().await.is_some() {}
            })
            .await;
            if drained.is_err() {
                tracing::warn!(topic = %topic, "listener stopped with handlers still running");
                inflight.detach_all();
            }
        }))
    }

    async fn notify(&self, n: Notification) -> Result<(), BusError> {
        self.check_open()?;
        let mut st = self.state.lock();
        let State {
            subscribers,
            pool_next,
            ..
        } = &mut *st;
        subscribers.retain(|s| !s.tx.is_closed());
        for topic in &self.options.notification_topics {
            let mut pools: Vec<&str> = subscribers
                .iter()
                .filter(|s| &s.topic == topic)
                .map(|s| s.pool.as_str())
                .collect();
            pools.sort_unstable();
            pools.dedup();
            for pool in pools {
                let members: Vec<&Subscriber> = subscribers
                    .iter()
                    .filter(|s| &s.topic == topic && s.pool == pool)
                    .collect();
                let pos = pool_next
                    .entry((topic.clone(), pool.to_string()))
                    .or_insert(0);
                let chosen = members[*pos % members.len()];
                *pos = (*pos + 1) % members.len();
                tracing::trace!(topic = %topic, pool, subscriber = chosen.id, "notification");
                let _ = chosen.tx.send(n.clone());
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
        self.check_open()?;
        // An unbounded queue in front of the bounded receiver: a slow subscriber never
        // blocks `notify`, and nothing is dropped (a broker queue would hold them too).
        let (utx, mut urx) = mpsc::unbounded_channel::<Notification>();
        {
            let mut st = self.state.lock();
            st.ids += 1;
            let id = st.ids;
            st.subscribers.push(Subscriber {
                id,
                topic: topic.to_string(),
                pool: pool.to_string(),
                tx: utx,
            });
        }
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tx.closed() => break,
                    n = urx.recv() => match n {
                        Some(n) => {
                            if tx.send(n).await.is_err() {
                                break;
                            }
                        }
                        None => break,
                    },
                }
            }
        });
        Ok(())
    }

    async fn close(&self) {
        self.shutdown();
    }

    fn shutdown(&self) {
        self.closed.store(true, Ordering::Release);
        let mut st = self.state.lock();
        // Dropping the senders ends every listener (after its running handlers) and
        // every subscription.
        st.topics.clear();
        st.subscribers.clear();
    }
}
