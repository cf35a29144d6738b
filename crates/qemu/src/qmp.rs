//! The QEMU Machine Protocol over a unix socket: line-delimited JSON, a greeting,
//! capabilities negotiation, commands matched to answers by id, events in between.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

use crate::{Error, Result};

/// Commands that take longer than this are reported as timed out.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// One QMP session. QEMU's `-qmp` socket serves a single client at a time, so
/// sessions are meant to be short: connect, run a few commands, drop.
pub struct Qmp {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    next_id: u64,
    events: Vec<Value>,
}

impl Qmp {
    /// Connect, read the greeting and negotiate capabilities, within `timeout`.
    pub async fn connect(path: &Path, timeout: Duration) -> Result<Qmp> {
        let fut = async {
            let stream = UnixStream::connect(path).await?;
            let (r, w) = stream.into_split();
            let mut q = Qmp {
                reader: BufReader::new(r),
                writer: w,
                next_id: 0,
                events: Vec::new(),
            };
            let greeting = q.read_message().await?;
            if greeting.get("QMP").is_none() {
                return Err(Error::Protocol(format!("unexpected greeting {greeting}")));
            }
            q.execute("qmp_capabilities", None).await?;
            Ok(q)
        };
        tokio::time::timeout(timeout, fut)
            .await
            .map_err(|_| Error::Timeout(format!("QMP socket {} did not answer", path.display())))?
    }

    async fn read_message(&mut self) -> Result<Value> {
        let mut line = String::new();
        loop {
            line.clear();
            let n = self.reader.read_line(&mut line).await?;
            if n == 0 {
                return Err(Error::Protocol("QEMU closed the QMP connection".into()));
            }
            if line.trim().is_empty() {
                continue;
            }
            return serde_json::from_str(line.trim())
                .map_err(|e| Error::Protocol(format!("bad JSON from QEMU ({e}): {line}")));
        }
    }

    /// Run a command; returns its `return` value. Events arriving meanwhile are kept
    /// for [`Qmp::events`].
    pub async fn execute(&mut self, command: &str, arguments: Option<Value>) -> Result<Value> {
        self.next_id += 1;
        let id = format!("fs-{}", self.next_id);
        let mut msg = json!({"execute": command, "id": id});
        if let Some(a) = arguments {
            msg["arguments"] = a;
        }
        let mut text = msg.to_string();
        text.push('\n');
        self.writer.write_all(text.as_bytes()).await?;
        let wait = async {
            loop {
                let m = self.read_message().await?;
                if m.get("event").is_some() {
                    self.events.push(m);
                    continue;
                }
                if m.get("id").and_then(Value::as_str) != Some(id.as_str()) {
                    continue;
                }
                if let Some(e) = m.get("error") {
                    return Err(Error::Qmp {
                        class: e["class"].as_str().unwrap_or("GenericError").to_string(),
                        desc: e["desc"].as_str().unwrap_or_default().to_string(),
                    });
                }
                return Ok(m.get("return").cloned().unwrap_or(Value::Null));
            }
        };
        tokio::time::timeout(COMMAND_TIMEOUT, wait)
            .await
            .map_err(|_| Error::Timeout(format!("QMP command {command}")))?
    }

    /// The asynchronous events received so far (drained).
    pub fn events(&mut self) -> Vec<Value> {
        std::mem::take(&mut self.events)
    }

    /// Wait for event `name` whose message satisfies `pred` (events already buffered
    /// count).
    pub async fn wait_event(
        &mut self,
        name: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        if let Some(pos) = self
            .events
            .iter()
            .position(|e| e["event"] == name && pred(e))
        {
            return Ok(self.events.remove(pos));
        }
        let wait = async {
            loop {
                let m = self.read_message().await?;
                if m["event"] == name && pred(&m) {
                    return Ok(m);
                }
                if m.get("event").is_some() {
                    self.events.push(m);
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| Error::Timeout(format!("QMP event {name}")))?
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tokio::net::UnixListener;

    /// A fake QEMU: greeting, then answers with an event slipped in before each return.
    async fn fake_qemu(path: std::path::PathBuf) {
        let l = UnixListener::bind(&path).unwrap();
        let (s, _) = l.accept().await.unwrap();
        let (r, mut w) = s.into_split();
        let mut r = BufReader::new(r);
        w.write_all(b"{\"QMP\": {\"version\": {}, \"capabilities\": []}}\n")
            .await
            .unwrap();
        let mut line = String::new();
        while r.read_line(&mut line).await.unwrap() > 0 {
            let m: Value = serde_json::from_str(&line).unwrap();
            line.clear();
            let id = m["id"].clone();
            w.write_all(b"{\"event\": \"STOP\", \"timestamp\": {}}\n")
                .await
                .unwrap();
            let answer = match m["execute"].as_str().unwrap() {
                "query-status" => {
                    json!({"return": {"running": true, "status": "running"}, "id": id})
                }
                "bad" => json!({"error": {"class": "CommandNotFound", "desc": "no bad"}, "id": id}),
                _ => json!({"return": {}, "id": id}),
            };
            w.write_all(format!("{answer}\n").as_bytes()).await.unwrap();
        }
    }

    #[tokio::test]
    async fn commands_events_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qmp.sock");
        let server = tokio::spawn(fake_qemu(path.clone()));
        // wait for the listener
        let mut q = loop {
            match Qmp::connect(&path, Duration::from_secs(5)).await {
                Ok(q) => break q,
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        let st = q.execute("query-status", None).await.unwrap();
        assert_eq!(st["status"], "running");
        match q.execute("bad", None).await {
            Err(Error::Qmp { class, desc }) => {
                assert_eq!(class, "CommandNotFound");
                assert_eq!(desc, "no bad");
            }
            other => panic!("expected a QMP error, got {other:?}"),
        }
        let ev = q.events();
        assert!(ev.len() >= 2 && ev.iter().all(|e| e["event"] == "STOP"));
        drop(q);
        server.await.unwrap();
    }
}
