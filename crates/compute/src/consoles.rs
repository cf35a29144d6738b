//! Remote consoles: console auth tokens kept in the compute database (shared by the
//! API, which issues them, and the console proxies, which redeem them), and the URLs
//! handed to users.

use async_trait::async_trait;
use console_proxy::{ConsoleTarget, TokenStore};
use db::{Db, RowExt};

/// Console auth tokens in the `console_auth_token` table.
#[derive(Clone)]
pub struct SqlTokenStore {
    pub db: Db,
}

#[async_trait]
impl TokenStore for SqlTokenStore {
    async fn put(&self, hash: &str, t: &ConsoleTarget, expires_at: i64) -> Result<(), String> {
        let now = console_proxy::now();
        // Expired tokens are purged as new ones come, as nova's clean_expired.
        let _ = self
            .db
            .q("DELETE FROM console_auth_token WHERE expires <= ?")
            .bind(now)
            .execute(self.db.pool())
            .await;
        self.db
            .q(
                "INSERT INTO console_auth_token (token_hash, console_type, host, port, \
                internal_access_path, instance_uuid, expires) VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(hash)
            .bind(&t.console_type)
            .bind(&t.host)
            .bind(i64::from(t.port))
            .bind(t.internal_access_path.clone())
            .bind(&t.instance_uuid)
            .bind(expires_at)
            .execute(self.db.pool())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn get(&self, hash: &str, now: i64) -> Result<Option<ConsoleTarget>, String> {
        let row = self
            .db
            .q(
                "SELECT console_type, host, port, internal_access_path, instance_uuid \
                FROM console_auth_token WHERE token_hash = ? AND expires > ?",
            )
            .bind(hash)
            .bind(now)
            .fetch_optional(self.db.pool())
            .await
            .map_err(|e| e.to_string())?;
        let Some(r) = row else {
            return Ok(None);
        };
        let target = (|| -> db::Result<ConsoleTarget> {
            Ok(ConsoleTarget {
                console_type: r.text("console_type")?,
                host: r.text("host")?,
                port: u16::try_from(r.int("port")?).unwrap_or(0),
                internal_access_path: r.opt_text("internal_access_path")?,
                instance_uuid: r.text("instance_uuid")?,
            })
        })();
        target.map(Some).map_err(|e| e.to_string())
    }

    async fn delete_for_instance(&self, uuid: &str) -> Result<(), String> {
        self.db
            .q("DELETE FROM console_auth_token WHERE instance_uuid = ?")
            .bind(uuid)
            .execute(self.db.pool())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// The URL a user opens for a console of `kind` with `token`.
pub fn console_url(cfg: &crate::ComputeConfig, kind: &str, token: &str) -> String {
    match kind {
        "serial" => {
            let sep = if cfg.serial_base_url.contains('?') {
                '&'
            } else {
                '?'
            };
            format!("{}{sep}token={token}", cfg.serial_base_url)
        }
        // noVNC's page takes the websocket path (with the token) as `path`.
        _ => {
            let sep = if cfg.novncproxy_base_url.contains('?') {
                '&'
            } else {
                '?'
            };
            format!("{}{sep}path=%3Ftoken%3D{token}", cfg.novncproxy_base_url)
        }
    }
}
