//! RPC call round trips: in-process always; over RabbitMQ when
//! FERROSTACK_TEST_RABBIT_URL is set (`scripts/rabbitmq.sh` prints one).
//!
//!   FERROSTACK_TEST_RABBIT_URL=amqp://guest:guest@127.0.0.1:5672/%2f cargo bench -p bus
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use bus::{Bus, BusOptions, Listener, Target};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use tokio::runtime::Runtime;

const TIMEOUT: Duration = Duration::from_secs(10);

async fn serve(bus: &Bus, topic: &str) -> Listener {
    let h = bus::handler_fn(|_method, args, _ctx| async move { Ok(args) });
    bus.listen(topic, "bench", Arc::new(h)).await.unwrap()
}

fn payload() -> serde_json::Value {
    json!({"instance": {"uuid": "6a3f6f9c-3f4e-4c49-9a8e-0d5c2b0f4c11", "flavor": {"vcpus": 2, "ram": 2048}}})
}

/// Returns the topic it used.
fn bench_pair(c: &mut Criterion, rt: &Runtime, name: &str, server: &Bus, client: &Bus) -> String {
    let topic = format!("bench_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let _l = rt.block_on(serve(server, &topic));
    let t = Target::server(&topic, "bench");
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(1));
    g.bench_function("call", |b| {
        b.iter(|| {
            rt.block_on(client.call(
                &t,
                "echo",
                payload(),
                json!({"request_id": "req-1"}),
                TIMEOUT,
            ))
            .unwrap()
        })
    });
    g.bench_function("cast", |b| {
        b.iter(|| {
            rt.block_on(client.cast(&t, "echo", payload(), json!({})))
                .unwrap()
        })
    });
    // 32 calls in flight at once: throughput rather than latency.
    g.throughput(Throughput::Elements(32));
    g.bench_function("call_x32_concurrent", |b| {
        b.iter(|| {
            rt.block_on(async {
                let calls = (0..32).map(|_| client.call(&t, "echo", payload(), json!({}), TIMEOUT));
                for r in futures::future::join_all(calls).await {
                    r.unwrap();
                }
            })
        })
    });
    g.finish();
    topic
}

/// Delete the benchmark's queues (they outlive their listeners, like oslo's).
async fn delete_queues(url: &str, topic: &str) {
    use lapin::options::QueueDeleteOptions;
    let Ok(conn) = lapin::Connection::connect(url, lapin::ConnectionProperties::default()).await
    else {
        return;
    };
    for q in [topic.to_string(), format!("{topic}.bench")] {
        if let Ok(ch) = conn.create_channel().await {
            let _ = ch
                .queue_delete(q.into(), QueueDeleteOptions::default())
                .await;
        }
    }
    let _ = conn.close(200, "OK".into()).await;
}

fn rpc(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let mem = Bus::memory();
    bench_pair(c, &rt, "memory", &mem, &mem);

    match std::env::var("FERROSTACK_TEST_RABBIT_URL") {
        Ok(url) if !url.trim().is_empty() => {
            let opts = BusOptions {
                control_exchange: "ferrostack_bench".into(),
                ..Default::default()
            };
            let server = rt.block_on(Bus::from_url_with(&url, opts.clone())).unwrap();
            let client = rt.block_on(Bus::from_url_with(&url, opts)).unwrap();
            // Two connections, as two processes would have.
            let topic = bench_pair(c, &rt, "amqp", &server, &client);
            rt.block_on(client.close());
            rt.block_on(server.close());
            rt.block_on(delete_queues(&url, &topic));
        }
        _ => eprintln!("amqp benchmarks skipped: FERROSTACK_TEST_RABBIT_URL is not set"),
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(4));
    targets = rpc
}
criterion_main!(benches);
