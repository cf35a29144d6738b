//! Scenarios run against both transports. Each takes two buses: the same one twice for
//! the in-process transport, two connections ("processes") to one broker for AMQP.
#![allow(clippy::unwrap_used, dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bus::{Bus, BusError, Handler, Notification, RemoteError, Request, Target};
use serde_json::{Value, json};
use tokio::sync::mpsc;

pub const LONG: Duration = Duration::from_secs(10);

/// What a handler saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub server: String,
    pub method: String,
    pub args: Value,
    pub redelivered: bool,
    pub wants_reply: bool,
}

/// A test handler: `echo`, `slow` (args.ms), `gate` (waits for a permit of `gate`),
/// `fail`, `panic`; records every request.
pub struct Recorder {
    pub server: String,
    pub version: Option<String>,
    pub seen: mpsc::UnboundedSender<Seen>,
    pub done: Arc<AtomicUsize>,
    pub gate: Arc<tokio::sync::Semaphore>,
}

impl Recorder {
    pub fn new(server: &str) -> (Arc<Recorder>, mpsc::UnboundedReceiver<Seen>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Arc::new(Recorder {
                server: server.into(),
                version: None,
                seen: tx,
                done: Arc::new(AtomicUsize::new(0)),
                gate: Arc::new(tokio::sync::Semaphore::new(0)),
            }),
            rx,
        )
    }

    pub fn versioned(
        server: &str,
        version: &str,
    ) -> (Arc<Recorder>, mpsc::UnboundedReceiver<Seen>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Arc::new(Recorder {
                server: server.into(),
                version: Some(version.into()),
                seen: tx,
                done: Arc::new(AtomicUsize::new(0)),
                gate: Arc::new(tokio::sync::Semaphore::new(0)),
            }),
            rx,
        )
    }
}

#[async_trait]
impl Handler for Recorder {
    async fn handle(&self, _method: &str, _args: Value, _ctx: Value) -> Result<Value, RemoteError> {
        unreachable!("dispatch is overridden")
    }

    fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    async fn dispatch(&self, req: Request) -> Result<Value, RemoteError> {
        let _ = self.seen.send(Seen {
            server: self.server.clone(),
            method: req.method.clone(),
            args: req.args.clone(),
            redelivered: req.redelivered,
            wants_reply: req.wants_reply,
        });
        if let Some(imp) = self.version()
            && !bus::version_is_compatible(imp, &req.version)
        {
            return Err(RemoteError::unsupported_version(
                &req.method,
                &req.version,
                imp,
            ));
        }
        let r = match req.method.as_str() {
            "echo" => Ok(json!({
                "server": self.server,
                "args": req.args,
                "ctx": req.ctx,
                "version": req.version,
                "topic": req.topic,
            })),
            "slow" => {
                let ms = req.args.get("ms").and_then(Value::as_u64).unwrap_or(200);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(json!({"slept": ms, "server": self.server}))
            }
            "gate" => {
                if let Ok(p) = self.gate.acquire().await {
                    p.forget();
                }
                Ok(json!("opened"))
            }
            "fail" => Err(RemoteError::new("Boom", "it failed on purpose")),
            "panic" => panic!("handler panic on purpose"),
            m => Err(RemoteError::no_such_method(m)),
        };
        self.done.fetch_add(1, Ordering::SeqCst);
        r
    }
}

thread_local! {
    /// The names `unique` made on this thread (a `#[tokio::test]` runs on its own
    /// thread), for the AMQP tests to delete their queues afterwards.
    static MADE: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A topic (or pool) name no earlier run used (AMQP queues outlive the test).
pub fn unique(prefix: &str) -> String {
    let name = format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    record_name(&name);
    name
}

pub fn record_name(name: &str) {
    MADE.with(|m| m.borrow_mut().push(name.to_string()));
}

/// The names made on this thread so far (and forget them).
pub fn made_names() -> Vec<String> {
    MADE.with(|m| std::mem::take(&mut *m.borrow_mut()))
}

pub async fn recv(rx: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    tokio::time::timeout(LONG, rx.recv())
        .await
        .expect("timed out waiting for a handler")
        .expect("handler channel closed")
}

/// Nothing more arrives within `d`.
pub async fn quiet(rx: &mut mpsc::UnboundedReceiver<Seen>, d: Duration) {
    if let Ok(Some(s)) = tokio::time::timeout(d, rx.recv()).await {
        panic!("unexpected request {s:?}");
    }
}

pub async fn call_and_reply(server_bus: &Bus, client: &Bus) {
    let topic = unique("t_call");
    let (h, mut seen) = Recorder::new("a");
    let _l = server_bus.listen(&topic, "a", h).await.unwrap();
    let t = Target::server(&topic, "a").with_version("6.1");
    let r = client
        .call(
            &t,
            "echo",
            json!({"x": [1, 2]}),
            json!({"user_id": "alice", "request_id": "req-1"}),
            LONG,
        )
        .await
        .unwrap();
    assert_eq!(r["server"], "a");
    assert_eq!(r["args"], json!({"x": [1, 2]}));
    assert_eq!(r["ctx"]["user_id"], "alice");
    assert_eq!(r["ctx"]["request_id"], "req-1");
    assert_eq!(r["version"], "6.1");
    assert_eq!(r["topic"], topic);
    let s = recv(&mut seen).await;
    assert!(s.wants_reply && !s.redelivered);

    // Shared topic, no context, default version.
    let r = client
        .call(
            &Target::topic(&topic),
            "echo",
            json!(null),
            Value::Null,
            LONG,
        )
        .await
        .unwrap();
    assert_eq!(r["ctx"], json!({}));
    assert_eq!(r["version"], "1.0");
    assert_eq!(r["args"], Value::Null);

    // A call cannot be fanout.
    let e = client
        .call(&Target::fanout(&topic), "echo", json!(1), json!({}), LONG)
        .await
        .unwrap_err();
    assert!(matches!(e, BusError::InvalidTarget(_)), "{e:?}");
}

pub async fn timeout_and_concurrency(server_bus: &Bus, client: &Bus) {
    let topic = unique("t_timeout");
    let (h, _seen) = Recorder::new("a");
    let _l = server_bus.listen(&topic, "a", h).await.unwrap();
    let t = Target::server(&topic, "a");
    let e = client
        .call(
            &t,
            "slow",
            json!({"ms": 1500}),
            json!({}),
            Duration::from_millis(100),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, BusError::Timeout), "{e:?}");

    // A handler that is still running does not hold up others on the same listener:
    // the echo below completes while the gated call waits (no timing involved).
    let (h, mut seen) = Recorder::new("b");
    let gate = h.gate.clone();
    let _l = server_bus.listen(&topic, "b", h).await.unwrap();
    let t = Target::server(&topic, "b");
    let blocked = {
        let client = client.clone();
        let t = t.clone();
        tokio::spawn(async move { client.call(&t, "gate", json!({}), json!({}), LONG).await })
    };
    assert_eq!(recv(&mut seen).await.method, "gate");
    let r = client
        .call(&t, "echo", json!(1), json!({}), LONG)
        .await
        .unwrap();
    assert_eq!(r["args"], 1);
    assert!(!blocked.is_finished());
    gate.add_permits(1);
    assert_eq!(blocked.await.unwrap().unwrap(), "opened");
}

pub async fn remote_errors(server_bus: &Bus, client: &Bus) {
    let topic = unique("t_err");
    let (h, _seen) = Recorder::versioned("a", "6.2");
    let _l = server_bus.listen(&topic, "a", h).await.unwrap();
    let t = Target::server(&topic, "a").with_version("6.0");
    let kind_of = |e: BusError| match e {
        BusError::Remote { kind, message } => (kind, message),
        other => panic!("expected a remote error, got {other:?}"),
    };
    let (kind, message) = kind_of(
        client
            .call(&t, "fail", json!({}), json!({}), LONG)
            .await
            .unwrap_err(),
    );
    assert_eq!(kind, "Boom");
    assert_eq!(message, "it failed on purpose");
    let (kind, message) = kind_of(
        client
            .call(&t, "nope", json!({}), json!({}), LONG)
            .await
            .unwrap_err(),
    );
    assert_eq!(kind, "NoSuchMethod");
    assert!(message.contains("nope"), "{message}");
    let (kind, message) = kind_of(
        client
            .call(
                &t.clone().with_version("7.0"),
                "echo",
                json!({}),
                json!({}),
                LONG,
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(kind, "UnsupportedVersion");
    assert!(
        message.contains("7.0") && message.contains("6.2"),
        "{message}"
    );
    let (kind, _) = kind_of(
        client
            .call(
                &t.clone().with_version("6.3"),
                "echo",
                json!({}),
                json!({}),
                LONG,
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(kind, "UnsupportedVersion");
    let (kind, _) = kind_of(
        client
            .call(&t, "panic", json!({}), json!({}), LONG)
            .await
            .unwrap_err(),
    );
    assert_eq!(kind, "HandlerPanicked");
    // The listener survives all that.
    let r = client
        .call(&t, "echo", json!(5), json!({}), LONG)
        .await
        .unwrap();
    assert_eq!(r["args"], 5);
}

pub async fn cast_round_robin(bus_a: &Bus, bus_b: &Bus, client: &Bus) {
    let topic = unique("t_rr");
    let (ha, mut seen_a) = Recorder::new("a");
    let (hb, mut seen_b) = Recorder::new("b");
    let _la = bus_a.listen(&topic, "a", ha).await.unwrap();
    let _lb = bus_b.listen(&topic, "b", hb).await.unwrap();
    let n = 10;
    for i in 0..n {
        client
            .cast(&Target::topic(&topic), "echo", json!(i), json!({}))
            .await
            .unwrap();
    }
    let (mut a, mut b) = (0, 0);
    while a + b < n {
        tokio::select! {
            s = recv(&mut seen_a) => { assert!(!s.wants_reply); a += 1 }
            s = recv(&mut seen_b) => { assert!(!s.wants_reply); b += 1 }
        }
    }
    assert!(a > 0 && b > 0, "both servers got casts (a={a}, b={b})");
    quiet(&mut seen_a, Duration::from_millis(200)).await;
    quiet(&mut seen_b, Duration::from_millis(10)).await;
}

pub async fn direct_to_server(bus_a: &Bus, bus_b: &Bus, client: &Bus) {
    let topic = unique("t_direct");
    let (ha, mut seen_a) = Recorder::new("a");
    let (hb, mut seen_b) = Recorder::new("b");
    let _la = bus_a.listen(&topic, "a", ha).await.unwrap();
    let _lb = bus_b.listen(&topic, "b", hb).await.unwrap();
    for _ in 0..4 {
        let r = client
            .call(
                &Target::server(&topic, "b"),
                "echo",
                json!(1),
                json!({}),
                LONG,
            )
            .await
            .unwrap();
        assert_eq!(r["server"], "b");
        client
            .cast(&Target::server(&topic, "b"), "echo", json!(2), json!({}))
            .await
            .unwrap();
    }
    for _ in 0..8 {
        assert_eq!(recv(&mut seen_b).await.server, "b");
    }
    quiet(&mut seen_a, Duration::from_millis(200)).await;

    // Nothing ever listened on c.
    let e = client
        .call(
            &Target::server(&topic, "c"),
            "echo",
            json!(1),
            json!({}),
            Duration::from_secs(2),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, BusError::NoListener(ref k) if *k == format!("{topic}.c")),
        "{e:?}"
    );
    let e = client
        .cast(
            &Target::topic(unique("t_nobody")),
            "echo",
            json!(1),
            json!({}),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, BusError::NoListener(_)), "{e:?}");
}

pub async fn fanout_reaches_all(bus_a: &Bus, bus_b: &Bus, client: &Bus) {
    let topic = unique("t_fan");
    let other = unique("t_other");
    let (ha, mut seen_a) = Recorder::new("a");
    let (hb, mut seen_b) = Recorder::new("b");
    let (hc, mut seen_c) = Recorder::new("c");
    let _la = bus_a.listen(&topic, "a", ha).await.unwrap();
    let _lb = bus_b.listen(&topic, "b", hb).await.unwrap();
    let _lc = bus_a.listen(&other, "c", hc).await.unwrap();
    client
        .cast(&Target::fanout(&topic), "echo", json!("all"), json!({}))
        .await
        .unwrap();
    assert_eq!(recv(&mut seen_a).await.args, "all");
    assert_eq!(recv(&mut seen_b).await.args, "all");
    quiet(&mut seen_a, Duration::from_millis(200)).await;
    quiet(&mut seen_b, Duration::from_millis(10)).await;
    quiet(&mut seen_c, Duration::from_millis(10)).await;
    // A fanout nobody listens to is not an error.
    client
        .cast(
            &Target::fanout(unique("t_empty")),
            "echo",
            json!(1),
            json!({}),
        )
        .await
        .unwrap();
}

/// `notifier` publishes to `topic` (its BusOptions::notification_topics); `subscriber`
/// subscribes with two pools and twice within one pool.
pub async fn notifications(notifier: &Bus, subscriber: &Bus, topic: &str) {
    let (pool1, pool2) = (unique("pool1"), unique("pool2"));
    let mut p1 = subscriber
        .subscribe_notifications(topic, &pool1)
        .await
        .unwrap();
    let mut p2 = subscriber
        .subscribe_notifications(topic, &pool2)
        .await
        .unwrap();
    let mut p2b = subscriber
        .subscribe_notifications(topic, &pool2)
        .await
        .unwrap();
    let n = Notification::info(
        "compute.host1",
        "compute.instance.create.end",
        json!({"id": "x"}),
    )
    .with_context(json!({"request_id": "req-9"}));
    notifier.notify(n.clone()).await.unwrap();
    notifier
        .notify(Notification::error(
            "compute.host1",
            "compute.instance.create.error",
            json!({"id": "y"}),
        ))
        .await
        .unwrap();
    let first = next_notification(&mut p1).await;
    assert_eq!(first, n);
    assert_eq!(first.context["request_id"], "req-9");
    let second = next_notification(&mut p1).await;
    assert_eq!(second.event_type, "compute.instance.create.error");
    assert_eq!(second.priority, "ERROR");
    // pool2's two subscribers share the two notifications.
    let mut got = Vec::new();
    while got.len() < 2 {
        tokio::select! {
            Some(x) = p2.recv() => got.push(x.event_type),
            Some(x) = p2b.recv() => got.push(x.event_type),
            _ = tokio::time::sleep(LONG) => panic!("pool2 got {got:?}"),
        }
    }
    got.sort();
    assert_eq!(
        got,
        [
            "compute.instance.create.end",
            "compute.instance.create.error"
        ]
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(200), p2.recv())
            .await
            .is_err()
            && tokio::time::timeout(Duration::from_millis(10), p2b.recv())
                .await
                .is_err(),
        "each notification reached pool2 once"
    );
}

/// After `stop`, a running handler has finished and nothing more reaches the listener.
pub async fn listener_stop(server_bus: &Bus, client: &Bus) -> String {
    let topic = unique("t_stop");
    let (h, mut seen) = Recorder::new("a");
    let done = h.done.clone();
    let l = server_bus.listen(&topic, "a", h).await.unwrap();
    assert_eq!((l.topic(), l.server()), (topic.as_str(), "a"));
    let t = Target::server(&topic, "a");
    client
        .call(&t, "echo", json!(1), json!({}), LONG)
        .await
        .unwrap();
    client
        .cast(&t, "slow", json!({"ms": 300}), json!({}))
        .await
        .unwrap();
    recv(&mut seen).await;
    assert_eq!(recv(&mut seen).await.method, "slow");
    let before = done.load(Ordering::SeqCst);
    l.stop().await;
    assert_eq!(
        done.load(Ordering::SeqCst),
        before + 1,
        "stop waited for the slow handler"
    );
    // Dropping a listener stops it too.
    let (h2, mut seen2) = Recorder::new("b");
    let l2 = server_bus.listen(&topic, "b", h2).await.unwrap();
    drop(l2);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = client
        .cast(&Target::server(&topic, "b"), "echo", json!(1), json!({}))
        .await;
    quiet(&mut seen2, Duration::from_millis(300)).await;
    quiet(&mut seen, Duration::from_millis(10)).await;
    topic
}

pub async fn next_notification(rx: &mut mpsc::Receiver<Notification>) -> Notification {
    tokio::time::timeout(LONG, rx.recv())
        .await
        .expect("timed out waiting for a notification")
        .expect("subscription ended")
}

/// Logs to the test output with RUST_LOG (e.g. `RUST_LOG=bus=debug`).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .try_init();
}
