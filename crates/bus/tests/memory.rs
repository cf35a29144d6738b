//! The in-process transport.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use bus::{Bus, BusError, BusOptions, Notification, Target};
use common::*;
use serde_json::json;

#[tokio::test]
async fn call_and_reply() {
    let bus = Bus::from_url("memory://").await.unwrap();
    assert_eq!(bus.transport_name(), "memory");
    common::call_and_reply(&bus, &bus).await;
}

#[tokio::test]
async fn timeout_and_concurrency() {
    let bus = Bus::memory();
    common::timeout_and_concurrency(&bus, &bus).await;
}

#[tokio::test]
async fn remote_errors() {
    let bus = Bus::from_url("").await.unwrap();
    common::remote_errors(&bus, &bus).await;
}

#[tokio::test]
async fn cast_round_robin() {
    let bus = Bus::memory();
    common::cast_round_robin(&bus, &bus, &bus).await;
}

#[tokio::test]
async fn calls_alternate_between_servers() {
    let bus = Bus::memory();
    let topic = unique("t");
    let (ha, _a) = Recorder::new("a");
    let (hb, _b) = Recorder::new("b");
    let _la = bus.listen(&topic, "a", ha).await.unwrap();
    let _lb = bus.listen(&topic, "b", hb).await.unwrap();
    let mut servers = Vec::new();
    for _ in 0..4 {
        let r = bus
            .call(&Target::topic(&topic), "echo", json!(0), json!({}), LONG)
            .await
            .unwrap();
        servers.push(r["server"].as_str().unwrap().to_string());
    }
    assert_eq!(servers, ["a", "b", "a", "b"]);
}

#[tokio::test]
async fn direct_to_server() {
    let bus = Bus::memory();
    common::direct_to_server(&bus, &bus, &bus).await;
}

#[tokio::test]
async fn fanout_reaches_all() {
    let bus = Bus::memory();
    common::fanout_reaches_all(&bus, &bus, &bus).await;
}

#[tokio::test]
async fn notifications() {
    let topic = unique("notifications");
    let opts = BusOptions {
        notification_topics: vec![topic.clone()],
        ..Default::default()
    };
    let bus = Bus::from_url_with("memory://", opts).await.unwrap();
    common::notifications(&bus, &bus, &topic).await;
    // Another topic's subscriber sees nothing; a dropped receiver is forgotten.
    let mut other = bus.subscribe_notifications("elsewhere", "").await.unwrap();
    let gone = bus.subscribe_notifications(&topic, "").await.unwrap();
    drop(gone);
    let mut kept = bus.subscribe_notifications(&topic, "").await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    for _ in 0..2 {
        bus.notify(Notification::info("p", "e", json!({})))
            .await
            .unwrap();
    }
    for _ in 0..2 {
        tokio::time::timeout(LONG, kept.recv())
            .await
            .unwrap()
            .unwrap();
    }
    assert!(other.try_recv().is_err());
}

#[tokio::test]
async fn listener_stop() {
    let bus = Bus::memory();
    let topic = common::listener_stop(&bus, &bus).await;
    // In-process, nothing can receive any more.
    let e = bus
        .call(
            &Target::server(&topic, "a"),
            "echo",
            json!(1),
            json!({}),
            LONG,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, BusError::NoListener(_)), "{e:?}");
}

#[tokio::test]
async fn handler_fn_and_close() {
    let bus = Bus::memory();
    let h = bus::handler_fn(|method, args, _ctx| async move {
        match method.as_str() {
            "double" => Ok(json!(args.as_i64().unwrap_or(0) * 2)),
            m => Err(bus::RemoteError::no_such_method(m)),
        }
    })
    .with_version("2.1");
    let _l = bus.listen("math", "m1", Arc::new(h)).await.unwrap();
    let t = Target::topic("math").with_version("2.0");
    assert_eq!(
        bus.call(&t, "double", json!(21), json!({}), LONG)
            .await
            .unwrap(),
        42
    );
    let e = bus
        .call(
            &t.clone().with_version("3.0"),
            "double",
            json!(1),
            json!({}),
            LONG,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, BusError::Remote { ref kind, .. } if kind == "UnsupportedVersion"));
    let clone = bus.clone();
    bus.close().await;
    let e = clone
        .call(&t, "double", json!(1), json!({}), LONG)
        .await
        .unwrap_err();
    assert!(matches!(e, BusError::Closed), "{e:?}");
}

#[tokio::test]
async fn urls() {
    assert!(matches!(
        Bus::from_url("kafka://x").await.unwrap_err(),
        BusError::UnsupportedUrl(_)
    ));
    assert!(matches!(
        Bus::from_url("rabbit://u:p@h/?bogus=1").await.unwrap_err(),
        BusError::InvalidUrl { .. }
    ));
    // A broker that is not there fails at once with a clear error.
    let opts = BusOptions {
        connect_timeout: Duration::from_secs(2),
        ..Default::default()
    };
    let e = Bus::from_url_with("rabbit://guest:guest@127.0.0.1:1/", opts)
        .await
        .unwrap_err();
    assert!(
        matches!(e, BusError::Transport(ref m) if m.contains("127.0.0.1:1")),
        "{e:?}"
    );
}
