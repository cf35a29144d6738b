//! Compute's RPC vocabulary over the bus: the conductor (topic `conductor`) and the
//! agents (topic `compute`, server = host name). Payloads carry a version; a receiver
//! refuses a major version it does not know.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

pub const CONDUCTOR_TOPIC: &str = "conductor";
pub const COMPUTE_TOPIC: &str = "compute";
/// The RPC API version of both topics.
pub const VERSION: &str = "1.0";

#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    #[error("timed out waiting for a reply from {0}")]
    Timeout(String),
    #[error("{0}")]
    Remote(String),
    #[error("message bus: {0}")]
    Bus(String),
}

/// Something that answers RPC methods.
#[async_trait]
pub trait Endpoint: Send + Sync {
    async fn dispatch(&self, method: &str, args: Value) -> Result<Value, String>;
}

struct Adapter(Arc<dyn Endpoint>);

#[async_trait]
impl bus::Handler for Adapter {
    async fn handle(
        &self,
        method: &str,
        args: Value,
        ctx: Value,
    ) -> Result<Value, bus::RemoteError> {
        let version = ctx
            .get("version")
            .and_then(Value::as_str)
            .unwrap_or(VERSION);
        if version.split('.').next() != VERSION.split('.').next() {
            return Err(bus::RemoteError::new(
                "UnsupportedVersion",
                format!("RPC version {version} is not supported (this side speaks {VERSION})"),
            ));
        }
        self.0
            .dispatch(method, args)
            .await
            .map_err(|m| bus::RemoteError::new("RemoteError", m))
    }
}

/// Typed access to the bus for compute's two topics.
#[derive(Clone)]
pub struct Rpc {
    pub bus: bus::Bus,
    pub timeout: Duration,
}

fn ctx() -> Value {
    json!({"version": VERSION})
}

fn map_err(who: &str, e: bus::BusError) -> RpcError {
    match e {
        bus::BusError::Timeout => RpcError::Timeout(who.to_string()),
        bus::BusError::Remote { message, .. } => RpcError::Remote(message),
        other => RpcError::Bus(other.to_string()),
    }
}

impl Rpc {
    pub async fn call_conductor<T: DeserializeOwned>(
        &self,
        method: &str,
        args: impl Serialize,
    ) -> Result<T, RpcError> {
        let t = bus::Target::topic(CONDUCTOR_TOPIC);
        let v = self
            .bus
            .call(&t, method, json!(args), ctx(), self.timeout)
            .await
            .map_err(|e| map_err(CONDUCTOR_TOPIC, e))?;
        serde_json::from_value(v).map_err(|e| RpcError::Remote(e.to_string()))
    }

    /// Call the agent on `host`; `timeout` overrides the default for long operations.
    pub async fn call_agent(
        &self,
        host: &str,
        method: &str,
        args: Value,
        timeout: Option<Duration>,
    ) -> Result<Value, RpcError> {
        let t = bus::Target::server(COMPUTE_TOPIC, host);
        self.bus
            .call(&t, method, args, ctx(), timeout.unwrap_or(self.timeout))
            .await
            .map_err(|e| map_err(&format!("compute agent {host}"), e))
    }

    pub async fn serve(
        &self,
        topic: &str,
        server: &str,
        endpoint: Arc<dyn Endpoint>,
    ) -> Result<bus::Listener, RpcError> {
        self.bus
            .listen(topic, server, Arc::new(Adapter(endpoint)))
            .await
            .map_err(|e| RpcError::Bus(e.to_string()))
    }
}
