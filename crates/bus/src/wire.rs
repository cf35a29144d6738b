//! The oslo.messaging wire format, as the rabbit driver writes it.
//!
//! Every message body is the "messaging v2" envelope:
//! `{"oslo.version": "2.0", "oslo.message": "<the message as a JSON string>"}`.
//!
//! - RPC request: `{"method", "args", "version", "_context_<key>"…, "_unique_id"}`, plus
//!   `"_msg_id"` and `"_reply_q"` for a call. A context that is not a JSON object travels
//!   as `"context"` instead of `_context_` keys.
//! - RPC reply: `{"result", "failure", "ending": true, "_msg_id"}`, `failure` being null or
//!   oslo's serialized exception (a JSON string with `class`, `module`, `message`, `tb`,
//!   `args`, `kwargs`).
//! - Notification: `{"message_id", "publisher_id", "event_type", "priority", "payload",
//!   "timestamp", "_context_<key>"…}`.
//!
//! Bodies without the envelope are accepted too (oslo's older "messaging" v1 format).

use serde_json::{Map, Value, json};

use crate::{Notification, RemoteError};

pub(crate) const OSLO_VERSION: &str = "2.0";
const CONTEXT_PREFIX: &str = "_context_";
/// The version a message without one is taken to ask for (oslo's default).
pub(crate) const DEFAULT_VERSION: &str = "1.0";

/// Wrap a message in the oslo "messaging v2" envelope.
pub(crate) fn envelope(msg: Map<String, Value>) -> Vec<u8> {
    let inner = Value::Object(msg).to_string();
    json!({"oslo.version": OSLO_VERSION, "oslo.message": inner})
        .to_string()
        .into_bytes()
}

/// Parse a body, unwrapping the envelope when there is one.
pub(crate) fn open_envelope(body: &[u8]) -> Result<Map<String, Value>, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(mut outer) = v else {
        return Err("message is not a JSON object".into());
    };
    match outer.remove("oslo.message") {
        None => Ok(outer),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(&s) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err("oslo.message is not a JSON object".into()),
            Err(e) => Err(format!("oslo.message is not JSON: {e}")),
        },
        Some(_) => Err("oslo.message is not a string".into()),
    }
}

/// Put a context into a message: an object's keys as `_context_<key>`, anything else
/// (but null) as `context`.
pub(crate) fn pack_context(msg: &mut Map<String, Value>, ctx: &Value) {
    match ctx {
        Value::Null => {}
        Value::Object(m) => {
            for (k, v) in m {
                msg.insert(format!("{CONTEXT_PREFIX}{k}"), v.clone());
            }
        }
        other => {
            msg.insert("context".into(), other.clone());
        }
    }
}

/// Take the context out of a message: `context` if present, else the `_context_` keys
/// gathered into an object (an empty object when there are none).
pub(crate) fn unpack_context(msg: &mut Map<String, Value>) -> Value {
    if let Some(c) = msg.remove("context") {
        return c;
    }
    let keys: Vec<String> = msg
        .keys()
        .filter(|k| k.starts_with(CONTEXT_PREFIX))
        .cloned()
        .collect();
    let mut ctx = Map::new();
    for k in keys {
        if let Some(v) = msg.remove(&k) {
            ctx.insert(k[CONTEXT_PREFIX.len()..].to_string(), v);
        }
    }
    Value::Object(ctx)
}

/// A context as handlers see it: null becomes `{}` (as it would after a trip over AMQP).
pub(crate) fn normalize_context(ctx: Value) -> Value {
    if ctx.is_null() {
        Value::Object(Map::new())
    } else {
        ctx
    }
}

/// An RPC request (call or cast).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RpcMessage {
    pub method: String,
    pub args: Value,
    pub ctx: Value,
    pub version: String,
    /// Set for a call: the reply carries it back.
    pub msg_id: Option<String>,
    /// Set for a call: the queue the reply goes to.
    pub reply_q: Option<String>,
    pub unique_id: String,
}

impl RpcMessage {
    pub(crate) fn to_map(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("method".into(), Value::String(self.method.clone()));
        m.insert("args".into(), self.args.clone());
        m.insert("version".into(), Value::String(self.version.clone()));
        pack_context(&mut m, &self.ctx);
        if let Some(id) = &self.msg_id {
            m.insert("_msg_id".into(), Value::String(id.clone()));
        }
        if let Some(q) = &self.reply_q {
            m.insert("_reply_q".into(), Value::String(q.clone()));
        }
        m.insert("_unique_id".into(), Value::String(self.unique_id.clone()));
        m
    }

    pub(crate) fn from_map(mut m: Map<String, Value>) -> Result<Self, String> {
        let method = match m.remove("method") {
            Some(Value::String(s)) => s,
            _ => return Err("RPC message without a method".into()),
        };
        let args = m.remove("args").unwrap_or(Value::Object(Map::new()));
        let version = match m.remove("version") {
            Some(Value::String(s)) => s,
            Some(Value::Null) | None => DEFAULT_VERSION.to_string(),
            Some(other) => other.to_string(),
        };
        let msg_id = take_string(&mut m, "_msg_id");
        let reply_q = take_string(&mut m, "_reply_q");
        let unique_id = take_string(&mut m, "_unique_id").unwrap_or_default();
        let ctx = unpack_context(&mut m);
        Ok(RpcMessage {
            method,
            args,
            ctx,
            version,
            msg_id,
            reply_q,
            unique_id,
        })
    }
}

fn take_string(m: &mut Map<String, Value>, key: &str) -> Option<String> {
    match m.remove(key) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

/// The reply to a call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ReplyMessage {
    pub msg_id: String,
    pub result: Result<Value, RemoteError>,
}

impl ReplyMessage {
    pub(crate) fn to_map(&self) -> Map<String, Value> {
        let mut m = Map::new();
        match &self.result {
            Ok(v) => {
                m.insert("result".into(), v.clone());
                m.insert("failure".into(), Value::Null);
            }
            Err(e) => {
                m.insert("result".into(), Value::Null);
                m.insert("failure".into(), failure_to_value(e));
            }
        }
        m.insert("ending".into(), Value::Bool(true));
        m.insert("_msg_id".into(), Value::String(self.msg_id.clone()));
        m
    }

    /// `Ok(None)` for a message that carries neither result nor failure (a heartbeat of
    /// oslo's call monitor): the caller keeps waiting.
    pub(crate) fn from_map(mut m: Map<String, Value>) -> Result<Option<Self>, String> {
        let msg_id = take_string(&mut m, "_msg_id").ok_or("reply without _msg_id")?;
        let failure = m.remove("failure").unwrap_or(Value::Null);
        let result = m.remove("result");
        if failure.is_null() && result.is_none() {
            return Ok(None);
        }
        let result = if failure.is_null() {
            Ok(result.unwrap_or(Value::Null))
        } else {
            Err(failure_from_value(&failure))
        };
        Ok(Some(ReplyMessage { msg_id, result }))
    }
}

/// oslo's `serialize_remote_exception`: a JSON string.
pub(crate) fn failure_to_value(e: &RemoteError) -> Value {
    Value::String(
        json!({
            "class": e.kind,
            "module": "ferrostack.bus",
            "message": e.message,
            "tb": [],
            "args": [e.message],
            "kwargs": {},
        })
        .to_string(),
    )
}

pub(crate) fn failure_from_value(v: &Value) -> RemoteError {
    let parsed;
    let obj = match v {
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(p @ Value::Object(_)) => {
                parsed = p;
                &parsed
            }
            _ => return RemoteError::new("RemoteError", s.clone()),
        },
        other => other,
    };
    let kind = obj
        .get("class")
        .and_then(Value::as_str)
        .unwrap_or("RemoteError");
    let message = match obj.get("message") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => obj.to_string(),
    };
    RemoteError::new(kind, message)
}

pub(crate) fn notification_to_map(n: &Notification) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("message_id".into(), Value::String(n.message_id.clone()));
    m.insert("publisher_id".into(), Value::String(n.publisher_id.clone()));
    m.insert("event_type".into(), Value::String(n.event_type.clone()));
    m.insert("priority".into(), Value::String(n.priority.clone()));
    m.insert("payload".into(), n.payload.clone());
    m.insert("timestamp".into(), Value::String(n.timestamp.clone()));
    pack_context(&mut m, &n.context);
    m
}

pub(crate) fn notification_from_map(mut m: Map<String, Value>) -> Result<Notification, String> {
    let event_type = take_string(&mut m, "event_type").ok_or("notification without event_type")?;
    let context = unpack_context(&mut m);
    Ok(Notification {
        message_id: take_string(&mut m, "message_id").unwrap_or_default(),
        publisher_id: take_string(&mut m, "publisher_id").unwrap_or_default(),
        event_type,
        priority: take_string(&mut m, "priority").unwrap_or_else(|| "INFO".into()),
        payload: m.remove("payload").unwrap_or(Value::Null),
        timestamp: take_string(&mut m, "timestamp").unwrap_or_default(),
        context,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rpc_message_round_trips_through_the_envelope() {
        let msg = RpcMessage {
            method: "build".into(),
            args: json!({"instance": {"uuid": "u"}}),
            ctx: json!({"user_id": "alice", "project_id": "p"}),
            version: "6.0".into(),
            msg_id: Some("m1".into()),
            reply_q: Some("reply_x".into()),
            unique_id: "u1".into(),
        };
        let body = envelope(msg.to_map());
        let outer: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(outer["oslo.version"], "2.0");
        let inner: Value = serde_json::from_str(outer["oslo.message"].as_str().unwrap()).unwrap();
        assert_eq!(inner["_context_user_id"], "alice");
        assert_eq!(inner["_msg_id"], "m1");
        assert_eq!(inner["_reply_q"], "reply_x");
        assert_eq!(inner["version"], "6.0");
        let back = RpcMessage::from_map(open_envelope(&body).unwrap()).unwrap();
        assert_eq!(back, msg);
    }

    #[test]
    fn non_object_context_and_missing_version() {
        let mut m = Map::new();
        m.insert("method".into(), json!("ping"));
        m.insert("context".into(), json!("token"));
        let back = RpcMessage::from_map(m).unwrap();
        assert_eq!(back.ctx, json!("token"));
        assert_eq!(back.version, DEFAULT_VERSION);
        assert_eq!(back.args, json!({}));
        assert!(back.msg_id.is_none());
    }

    #[test]
    fn unenveloped_body_is_accepted() {
        let m = open_envelope(br#"{"method": "x", "args": {}}"#).unwrap();
        assert_eq!(m["method"], "x");
        assert!(open_envelope(b"[1]").is_err());
        assert!(open_envelope(b"nope").is_err());
    }

    #[test]
    fn replies_and_failures() {
        let ok = ReplyMessage {
            msg_id: "a".into(),
            result: Ok(json!({"x": 1})),
        };
        let m = ok.to_map();
        assert_eq!(m["ending"], true);
        assert_eq!(m["failure"], Value::Null);
        assert_eq!(ReplyMessage::from_map(m).unwrap().unwrap(), ok);
        let err = ReplyMessage {
            msg_id: "b".into(),
            result: Err(RemoteError::new("NoSuchMethod", "no method x")),
        };
        let m = err.to_map();
        let failure: Value = serde_json::from_str(m["failure"].as_str().unwrap()).unwrap();
        assert_eq!(failure["class"], "NoSuchMethod");
        assert_eq!(ReplyMessage::from_map(m).unwrap().unwrap(), err);
        // An oslo heartbeat carries neither.
        let mut hb = Map::new();
        hb.insert("_msg_id".into(), json!("c"));
        assert!(ReplyMessage::from_map(hb).unwrap().is_none());
        // A bare string failure.
        assert_eq!(
            failure_from_value(&json!("boom")),
            RemoteError::new("RemoteError", "boom")
        );
    }

    #[test]
    fn notification_round_trip() {
        let mut n = Notification::info(
            "compute.host1",
            "compute.instance.create.end",
            json!({"a": 1}),
        );
        n.context = json!({"request_id": "req-1"});
        let m = notification_to_map(&n);
        assert_eq!(m["_context_request_id"], "req-1");
        let back = notification_from_map(open_envelope(&envelope(m)).unwrap()).unwrap();
        assert_eq!(back, n);
    }
}
