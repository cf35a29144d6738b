//! The AMQP transport against a real RabbitMQ. Runs when FERROSTACK_TEST_RABBIT_URL is
//! set (`scripts/rabbitmq.sh` starts a broker and prints the URL), e.g.
//!
//!   FERROSTACK_TEST_RABBIT_URL=amqp://guest:guest@127.0.0.1:5672/%2f cargo test -p bus
//!
//! and otherwise says it skipped. Topics are random per run; each test deletes the
//! queues it made.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use bus::{Bus, BusError, BusOptions, Notification, Target};
use common::*;
use futures::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ExchangeDeleteOptions, QueueBindOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const EXCHANGE: &str = "ferrostack_test";

fn rabbit_url(test: &str) -> Option<String> {
    match std::env::var("FERROSTACK_TEST_RABBIT_URL") {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ => {
            // Straight to stderr: libtest does not capture this, so the skip shows.
            let line = format!(
                "SKIPPED amqp::{test}: FERROSTACK_TEST_RABBIT_URL is not set \
                 (run scripts/rabbitmq.sh for a broker)\n"
            );
            let _ = std::io::stderr().write_all(line.as_bytes());
            None
        }
    }
}

macro_rules! rabbit_or_skip {
    ($name:expr) => {
        match rabbit_url($name) {
            Some(u) => {
                common::init_tracing();
                Cleanup(u)
            }
            None => return,
        }
    };
}

fn options() -> BusOptions {
    BusOptions {
        control_exchange: EXCHANGE.into(),
        reconnect_min: Duration::from_millis(100),
        reconnect_max: Duration::from_secs(1),
        connection_name: Some("ferrostack-bus-tests".into()),
        ..Default::default()
    }
}

async fn connect(url: &str, opts: BusOptions) -> Bus {
    let bus = Bus::from_url_with(url, opts).await.unwrap();
    assert_eq!(bus.transport_name(), "rabbit");
    bus
}

/// Deletes the queues of the topics this test made (see `common::unique`) when the test
/// ends, pass or fail.
struct Cleanup(String);

impl Cleanup {
    fn url(&self) -> &str {
        &self.0
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let names = common::made_names();
        if names.is_empty() {
            return;
        }
        let url = self.0.clone();
        let names_for_exchanges = names.clone();
        // The test's runtime is gone or going: use a small one of our own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let Ok(conn) = Connection::connect(&url, ConnectionProperties::default()).await
                else {
                    return;
                };
                let mut suffixes: Vec<String> = ["", ".a", ".b", ".c", ".x", ".y"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                suffixes.extend(bus::PRIORITIES.iter().map(|p| format!(".{p}")));
                for name in names {
                    for s in &suffixes {
                        // A failed delete closes the channel: one channel each.
                        if let Ok(ch) = conn.create_channel().await {
                            let _ = ch
                                .queue_delete(
                                    format!("{name}{s}").into(),
                                    QueueDeleteOptions::default(),
                                )
                                .await;
                            let _ = ch.close(200, "OK".into()).await;
                        }
                    }
                }
                for name in names_for_exchanges {
                    if let Ok(ch) = conn.create_channel().await {
                        let _ = ch
                            .exchange_delete(
                                format!("{name}_fanout").into(),
                                ExchangeDeleteOptions::default(),
                            )
                            .await;
                        let _ = ch.close(200, "OK".into()).await;
                    }
                }
                let _ = conn.close(200, "OK".into()).await;
            });
        })
        .join();
    }
}

#[tokio::test]
async fn call_and_reply() {
    let env = rabbit_or_skip!("call_and_reply");
    let server = connect(env.url(), options()).await;
    let client = connect(env.url(), options()).await;
    common::call_and_reply(&server, &client).await;
    // Same process, same connection.
    common::call_and_reply(&server, &server).await;
}

#[tokio::test]
async fn timeout_and_concurrency() {
    let env = rabbit_or_skip!("timeout_and_concurrency");
    let server = connect(env.url(), options()).await;
    let client = connect(env.url(), options()).await;
    common::timeout_and_concurrency(&server, &client).await;
}

#[tokio::test]
async fn remote_errors() {
    let env = rabbit_or_skip!("remote_errors");
    let server = connect(env.url(), options()).await;
    let client = connect(env.url(), options()).await;
    common::remote_errors(&server, &client).await;
}

#[tokio::test]
async fn cast_round_robin() {
    let env = rabbit_or_skip!("cast_round_robin");
    let a = connect(env.url(), options()).await;
    let b = connect(env.url(), options()).await;
    let client = connect(env.url(), options()).await;
    common::cast_round_robin(&a, &b, &client).await;
}

#[tokio::test]
async fn direct_to_server() {
    let env = rabbit_or_skip!("direct_to_server");
    let a = connect(env.url(), options()).await;
    let b = connect(env.url(), options()).await;
    common::direct_to_server(&a, &b, &a).await;
}

#[tokio::test]
async fn fanout_reaches_all() {
    let env = rabbit_or_skip!("fanout_reaches_all");
    let a = connect(env.url(), options()).await;
    let b = connect(env.url(), options()).await;
    let client = connect(env.url(), options()).await;
    common::fanout_reaches_all(&a, &b, &client).await;
}

#[tokio::test]
async fn notifications_reach_another_bus() {
    let env = rabbit_or_skip!("notifications_reach_another_bus");
    let topic = unique("notifications");
    let opts = BusOptions {
        notification_topics: vec![topic.clone()],
        ..options()
    };
    let notifier = connect(env.url(), opts.clone()).await;
    let subscriber = connect(env.url(), opts).await;
    common::notifications(&notifier, &subscriber, &topic).await;

    // oslo's default pool: queues `topic.priority`, shared by pool-less subscribers.
    let mut rx = subscriber
        .subscribe_notifications(&topic, "")
        .await
        .unwrap();
    notifier
        .notify(Notification::new(
            "p",
            "volume.attach",
            "warning",
            json!({}),
        ))
        .await
        .unwrap();
    let n = next_notification(&mut rx).await;
    assert_eq!(
        (n.event_type.as_str(), n.priority.as_str()),
        ("volume.attach", "WARNING")
    );
}

#[tokio::test]
async fn listener_stop() {
    let env = rabbit_or_skip!("listener_stop");
    let server = connect(env.url(), options()).await;
    let client = connect(env.url(), options()).await;
    let topic = common::listener_stop(&server, &client).await;
    // The queue outlives the listener: a call waits there and times out.
    let e = client
        .call(
            &Target::server(&topic, "a"),
            "echo",
            json!(1),
            json!({}),
            Duration::from_millis(300),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, BusError::Timeout), "{e:?}");
}

#[tokio::test]
async fn close_fails_pending_and_later_calls() {
    let env = rabbit_or_skip!("close_fails_pending_and_later_calls");
    let server = connect(env.url(), options()).await;
    let client = connect(env.url(), options()).await;
    let topic = unique("t_close");
    let (h, _seen) = Recorder::new("a");
    let _l = server.listen(&topic, "a", h).await.unwrap();
    let t = Target::server(&topic, "a");
    let pending = {
        let client = client.clone();
        let t = t.clone();
        tokio::spawn(async move {
            client
                .call(&t, "slow", json!({"ms": 2000}), json!({}), LONG)
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    client.close().await;
    let e = pending.await.unwrap().unwrap_err();
    assert!(matches!(e, BusError::Closed), "{e:?}");
    let e = client
        .call(&t, "echo", json!(1), json!({}), LONG)
        .await
        .unwrap_err();
    assert!(matches!(e, BusError::Closed), "{e:?}");
    server.close().await;
}

/// Speak oslo's wire format by hand: an enveloped call from a "Python" client, and a
/// notification read from a queue bound by hand.
#[tokio::test]
async fn oslo_wire_format() {
    let env = rabbit_or_skip!("oslo_wire_format");
    let topic = unique("t_wire");
    let ntopic = unique("notifications");
    let bus = connect(
        env.url(),
        BusOptions {
            notification_topics: vec![ntopic.clone()],
            ..options()
        },
    )
    .await;
    let (h, mut seen) = Recorder::new("a");
    let _l = bus.listen(&topic, "a", h).await.unwrap();

    let raw = Connection::connect(env.url(), ConnectionProperties::default())
        .await
        .unwrap();
    let ch = raw.create_channel().await.unwrap();
    let reply_q = unique("raw_reply");
    let exclusive = QueueDeclareOptions {
        exclusive: true,
        auto_delete: true,
        ..Default::default()
    };
    ch.queue_declare(reply_q.as_str().into(), exclusive, FieldTable::default())
        .await
        .unwrap();
    let mut replies = ch
        .basic_consume(
            reply_q.as_str().into(),
            "r".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let inner = json!({
        "method": "echo",
        "args": {"instance_uuid": "u-1"},
        "version": "6.0",
        "_context_user_id": "alice",
        "_context_roles": ["admin"],
        "_msg_id": "m-1",
        "_reply_q": reply_q,
        "_unique_id": "x-1",
    });
    let body = json!({"oslo.version": "2.0", "oslo.message": inner.to_string()}).to_string();
    let props = BasicProperties::default().with_content_type("application/json".into());
    ch.basic_publish(
        EXCHANGE.into(),
        format!("{topic}.a").into(),
        BasicPublishOptions::default(),
        body.as_bytes(),
        props.clone(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    let d = tokio::time::timeout(LONG, replies.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        d.properties.content_type().as_ref().map(|c| c.as_str()),
        Some("application/json")
    );
    let outer: Value = serde_json::from_slice(&d.data).unwrap();
    assert_eq!(outer["oslo.version"], "2.0");
    let reply: Value = serde_json::from_str(outer["oslo.message"].as_str().unwrap()).unwrap();
    assert_eq!(reply["_msg_id"], "m-1");
    assert_eq!(reply["ending"], true);
    assert_eq!(reply["failure"], Value::Null);
    assert_eq!(reply["result"]["args"]["instance_uuid"], "u-1");
    assert_eq!(
        reply["result"]["ctx"],
        json!({"user_id": "alice", "roles": ["admin"]})
    );
    assert_eq!(reply["result"]["version"], "6.0");
    recv(&mut seen).await;

    // A failure is oslo's serialized exception.
    let inner = json!({"method": "nope", "args": {}, "_msg_id": "m-2", "_reply_q": reply_q});
    let body = json!({"oslo.version": "2.0", "oslo.message": inner.to_string()}).to_string();
    ch.basic_publish(
        EXCHANGE.into(),
        topic.as_str().into(),
        BasicPublishOptions::default(),
        body.as_bytes(),
        props.clone(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    let d = tokio::time::timeout(LONG, replies.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let outer: Value = serde_json::from_slice(&d.data).unwrap();
    let reply: Value = serde_json::from_str(outer["oslo.message"].as_str().unwrap()).unwrap();
    assert_eq!(reply["_msg_id"], "m-2");
    assert_eq!(reply["result"], Value::Null);
    let failure: Value = serde_json::from_str(reply["failure"].as_str().unwrap()).unwrap();
    assert_eq!(failure["class"], "NoSuchMethod");
    assert!(failure["message"].as_str().unwrap().contains("nope"));
    recv(&mut seen).await;

    // An un-enveloped (messaging v1) cast is understood too.
    let body = json!({"method": "echo", "args": {"v": 1}}).to_string();
    ch.basic_publish(
        EXCHANGE.into(),
        topic.as_str().into(),
        BasicPublishOptions::default(),
        body.as_bytes(),
        props,
    )
    .await
    .unwrap()
    .await
    .unwrap();
    let s = recv(&mut seen).await;
    assert_eq!(
        (s.method.as_str(), s.args.clone(), s.wants_reply),
        ("echo", json!({"v": 1}), false)
    );

    // A notification as a ceilometer-like consumer sees it on `<topic>.info`.
    let nq = format!("{ntopic}.info");
    ch.queue_declare(nq.as_str().into(), exclusive, FieldTable::default())
        .await
        .unwrap();
    ch.queue_bind(
        nq.as_str().into(),
        EXCHANGE.into(),
        nq.as_str().into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let mut notes = ch
        .basic_consume(
            nq.as_str().into(),
            "n".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    bus.notify(
        Notification::info("image.host1", "image.upload", json!({"id": "img"}))
            .with_context(json!({"request_id": "req-7"})),
    )
    .await
    .unwrap();
    let d = tokio::time::timeout(LONG, notes.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(d.properties.delivery_mode(), &Some(2));
    let outer: Value = serde_json::from_slice(&d.data).unwrap();
    assert_eq!(outer["oslo.version"], "2.0");
    let n: Value = serde_json::from_str(outer["oslo.message"].as_str().unwrap()).unwrap();
    assert_eq!(n["event_type"], "image.upload");
    assert_eq!(n["priority"], "INFO");
    assert_eq!(n["publisher_id"], "image.host1");
    assert_eq!(n["payload"]["id"], "img");
    assert_eq!(n["_context_request_id"], "req-7");
    assert!(n["message_id"].as_str().is_some_and(|m| m.len() == 36));
    assert!(
        n["timestamp"].as_str().is_some_and(|t| t.len() == 26),
        "{}",
        n["timestamp"]
    );

    // The listener's queues are where an operator expects them (passive declare fails
    // on a missing queue).
    for q in [topic.clone(), format!("{topic}.a")] {
        let c = raw.create_channel().await.unwrap();
        c.queue_declare(
            q.as_str().into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("queue {q}: {e}"));
    }
    let _ = raw.close(200, "OK".into()).await;
}

/// A TCP proxy in front of the broker whose connections the test can cut.
struct Proxy {
    port: u16,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let c = conns.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let up = upstream.clone();
                c.lock().push(tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(up).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                }));
            }
        });
        Proxy {
            port,
            conns,
            accept,
        }
    }

    /// Drop every proxied connection (both sides see the socket close).
    fn cut(&self) {
        for h in self.conns.lock().drain(..) {
            h.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

/// `amqp://u:p@host:port/vhost` → (`host:port`, the URL with `127.0.0.1:<port>` instead).
fn via_proxy(url: &str, port: u16) -> (String, String) {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (userinfo, hostpart) = match rest.rsplit_once('@') {
        Some((u, h)) => (format!("{u}@"), h),
        None => (String::new(), rest),
    };
    let (hostport, tail) = match hostpart.find(['/', '?']) {
        Some(i) => (&hostpart[..i], &hostpart[i..]),
        None => (hostpart, ""),
    };
    let upstream = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:5672")
    };
    (
        upstream,
        format!("{scheme}://{userinfo}127.0.0.1:{port}{tail}"),
    )
}

#[tokio::test]
async fn reconnects_and_listeners_resume() {
    let env = rabbit_or_skip!("reconnects_and_listeners_resume");
    let (upstream, _) = via_proxy(env.url(), 0);
    let proxy = Proxy::start(upstream).await;
    let (_, proxied) = via_proxy(env.url(), proxy.port);
    let flaky = connect(&proxied, options()).await;
    let steady = connect(env.url(), options()).await;
    let topic = unique("t_reconnect");
    let (hf, mut seen_f) = Recorder::new("a");
    let (hs, mut seen_s) = Recorder::new("b");
    let _lf = flaky.listen(&topic, "a", hf).await.unwrap();
    let _ls = steady.listen(&topic, "b", hs).await.unwrap();
    let to_a = Target::server(&topic, "a");
    let to_b = Target::server(&topic, "b");
    steady
        .call(&to_a, "echo", json!(1), json!({}), LONG)
        .await
        .unwrap();
    flaky
        .call(&to_b, "echo", json!(1), json!({}), LONG)
        .await
        .unwrap();
    recv(&mut seen_f).await;
    recv(&mut seen_s).await;

    proxy.cut();
    // Calls made while the flaky side is down wait in its queue / for its connection.
    let r = steady
        .call(&to_a, "echo", json!(2), json!({}), LONG)
        .await
        .unwrap();
    assert_eq!(r["args"], 2);
    assert_eq!(recv(&mut seen_f).await.args, 2);
    let r = flaky
        .call(&to_b, "echo", json!(3), json!({}), LONG)
        .await
        .unwrap();
    assert_eq!(r["args"], 3);
    assert_eq!(recv(&mut seen_s).await.args, 3);
    // The fanout queue (exclusive to the old connection) is back too.
    steady
        .cast(&Target::fanout(&topic), "echo", json!("fan"), json!({}))
        .await
        .unwrap();
    assert_eq!(recv(&mut seen_f).await.args, "fan");
    assert_eq!(recv(&mut seen_s).await.args, "fan");

    // And once more, with a notification subscription on the flaky side.
    let ntopic = unique("notifications");
    let nopts = BusOptions {
        notification_topics: vec![ntopic.clone()],
        ..options()
    };
    let flaky_sub = connect(&proxied, nopts.clone()).await;
    let notifier = connect(env.url(), nopts).await;
    let pool = unique("pool");
    let mut rx = flaky_sub
        .subscribe_notifications(&ntopic, &pool)
        .await
        .unwrap();
    proxy.cut();
    notifier
        .notify(Notification::info("p", "after.cut", json!({})))
        .await
        .unwrap();
    assert_eq!(next_notification(&mut rx).await.event_type, "after.cut");
    flaky
        .call(&to_b, "echo", json!(4), json!({}), LONG)
        .await
        .unwrap();
}

/// A request whose listener dies before acknowledging it goes to another listener.
#[tokio::test]
async fn unacknowledged_request_is_redelivered() {
    let env = rabbit_or_skip!("unacknowledged_request_is_redelivered");
    let (upstream, _) = via_proxy(env.url(), 0);
    let proxy = Proxy::start(upstream).await;
    let (_, proxied) = via_proxy(env.url(), proxy.port);
    let opts = BusOptions {
        // Do not let the flaky side come back and take the message again.
        reconnect_min: Duration::from_secs(30),
        ..options()
    };
    let flaky = connect(&proxied, opts).await;
    let steady = connect(env.url(), options()).await;
    let topic = unique("t_redeliver");
    let (hx, mut seen_x) = Recorder::new("x");
    let _lx = flaky.listen(&topic, "x", hx).await.unwrap();
    steady
        .cast(
            &Target::topic(&topic),
            "slow",
            json!({"ms": 5000}),
            json!({}),
        )
        .await
        .unwrap();
    let first = recv(&mut seen_x).await;
    assert!(!first.redelivered);
    let (hy, mut seen_y) = Recorder::new("y");
    let _ly = steady.listen(&topic, "y", hy).await.unwrap();
    proxy.cut();
    let again = recv(&mut seen_y).await;
    assert_eq!(again.method, "slow");
    assert!(again.redelivered, "{again:?}");
}

/// Options from the URL's query string, and a host list whose first host is down.
#[tokio::test]
async fn url_options_and_host_failover() {
    let env = rabbit_or_skip!("url_options_and_host_failover");
    let (upstream, _) = via_proxy(env.url(), 0);
    // Port 1 on loopback refuses at once; the second host is the real broker.
    let (scheme, rest) = env.url().split_once("://").unwrap();
    let (userinfo, hostpart) = rest.rsplit_once('@').unwrap();
    let tail = &hostpart[hostpart.find(['/', '?']).unwrap_or(hostpart.len())..];
    let sep = if tail.contains('?') { '&' } else { '?' };
    let url = format!(
        "{scheme}://{userinfo}@127.0.0.1:1,{upstream}{tail}{sep}\
         control_exchange={EXCHANGE}&ack=on_receipt&prefetch=4&reconnect_min_ms=100"
    );
    let server = Bus::from_url(&url).await.unwrap();
    let client = connect(env.url(), options()).await;
    let topic = unique("t_url");
    let (h, mut seen) = Recorder::new("a");
    let _l = server.listen(&topic, "a", h).await.unwrap();
    for i in 0..8 {
        let r = client
            .call(&Target::topic(&topic), "echo", json!(i), json!({}), LONG)
            .await
            .unwrap();
        assert_eq!(r["args"], i);
        recv(&mut seen).await;
    }
    // Both sides agree on the exchange: the server can call the client's listeners.
    let (h2, _seen2) = Recorder::new("b");
    let _l2 = client.listen(&topic, "b", h2).await.unwrap();
    server
        .call(
            &Target::server(&topic, "b"),
            "echo",
            json!(1),
            json!({}),
            LONG,
        )
        .await
        .unwrap();
}
