//! Versioned migrations, one ordered list per service, recorded in `ferrostack_migrations`.

use crate::{Backend, Db, DbError, Result, RowExt};

/// One schema step. `sql` holds `;`-separated statements in the portable subset, with
/// `{TEXT}`, `{BLOB}` and `{TABLE}` expanded per engine.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

fn expand(sql: &str, backend: Backend) -> String {
    let (text, blob, table) = match backend {
        Backend::Sqlite => ("TEXT", "BLOB", ""),
        Backend::Postgres => ("TEXT", "BYTEA", ""),
        Backend::MySql => (
            "LONGTEXT",
            "LONGBLOB",
            " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
        ),
    };
    sql.replace("{TEXT}", text)
        .replace("{BLOB}", blob)
        .replace("{TABLE}", table)
}

fn statements(sql: &str) -> impl Iterator<Item = &str> {
    sql.split(';').map(str::trim).filter(|s| !s.is_empty())
}

impl Db {
    /// Apply the migrations of `service` that are not yet recorded, in version order.
    /// Returns the number applied. Refuses to run against a newer schema.
    pub async fn migrate(&self, service: &str, migrations: &[Migration]) -> Result<usize> {
        let create = expand(
            "CREATE TABLE IF NOT EXISTS ferrostack_migrations (
                service VARCHAR(64) NOT NULL,
                version BIGINT NOT NULL,
                name VARCHAR(255) NOT NULL,
                applied_at BIGINT NOT NULL,
                PRIMARY KEY (service, version)
            ){TABLE}",
            self.backend(),
        );
        self.q(&create).execute(self.pool()).await?;
        let rows = self
            .q("SELECT version FROM ferrostack_migrations WHERE service = ?")
            .bind(service)
            .fetch_all(self.pool())
            .await?;
        let mut applied = Vec::with_capacity(rows.len());
        for r in &rows {
            applied.push(r.int("version")?);
        }
        let known = migrations.iter().map(|m| m.version).max().unwrap_or(0);
        if let Some(found) = applied.iter().copied().max()
            && found > known
        {
            return Err(DbError::SchemaTooNew {
                service: service.to_string(),
                found,
                known,
            });
        }
        let mut todo: Vec<&Migration> = migrations
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .collect();
        todo.sort_by_key(|m| m.version);
        for m in &todo {
            self.apply(service, m)
                .await
                .map_err(|e| DbError::Migration {
                    service: service.to_string(),
                    version: m.version,
                    name: m.name.to_string(),
                    source: Box::new(e),
                })?;
            tracing::info!(
                service,
                version = m.version,
                name = m.name,
                "applied migration"
            );
        }
        Ok(todo.len())
    }

    async fn apply(&self, service: &str, m: &Migration) -> Result<()> {
        // MySQL commits DDL implicitly; on SQLite and PostgreSQL the step is atomic.
        let mut tx = self.begin().await?;
        for stmt in statements(&expand(m.sql, self.backend())) {
            self.q(stmt).execute(tx.conn()).await?;
        }
        self.q("INSERT INTO ferrostack_migrations (service, version, name, applied_at) VALUES (?, ?, ?, ?)")
            .bind(service)
            .bind(m.version)
            .bind(m.name)
            .bind(crate::micros(std::time::SystemTime::now()))
            .execute(tx.conn())
            .await?;
        tx.commit().await
    }

    /// The highest applied migration version of `service` (0 when none).
    pub async fn schema_version(&self, service: &str) -> Result<i64> {
        let row = self
            .q("SELECT MAX(version) AS v FROM ferrostack_migrations WHERE service = ?")
            .bind(service)
            .fetch_optional(self.pool())
            .await;
        match row {
            Ok(Some(r)) => Ok(r.opt_int("v")?.unwrap_or(0)),
            Ok(None) => Ok(0),
            Err(_) => Ok(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIGS: &[Migration] = &[
        Migration {
            version: 1,
            name: "base",
            sql: "CREATE TABLE t (id VARCHAR(64) PRIMARY KEY, body {TEXT}, flag BIGINT NOT NULL DEFAULT 0){TABLE};
                  CREATE INDEX t_flag ON t (flag)",
        },
        Migration {
            version: 2,
            name: "more",
            sql: "ALTER TABLE t ADD COLUMN extra {TEXT}",
        },
    ];

    #[tokio::test]
    async fn migrations_apply_once_and_queries_round_trip() {
        let dir = std::env::temp_dir().join(format!("fsdb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}/t.db", dir.display());
        let db = Db::connect(&url).await.unwrap();
        assert_eq!(db.migrate("test", MIGS).await.unwrap(), 2);
        assert_eq!(db.migrate("test", MIGS).await.unwrap(), 0);
        assert_eq!(db.schema_version("test").await.unwrap(), 2);
        db.q("INSERT INTO t (id, body, flag, extra) VALUES (?, ?, ?, ?)")
            .bind("a")
            .bind(Some("hello".to_string()))
            .bind(true)
            .bind(None::<String>)
            .execute(db.pool())
            .await
            .unwrap();
        let dup = db
            .q("INSERT INTO t (id, body, flag) VALUES (?, ?, ?)")
            .bind("a")
            .bind("x")
            .bind(false)
            .execute(db.pool())
            .await;
        assert!(matches!(dup, Err(DbError::Conflict(_))));
        let row = db
            .q("SELECT * FROM t WHERE id = ?")
            .bind("a")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(row.text("body").unwrap(), "hello");
        assert!(row.flag("flag").unwrap());
        assert_eq!(row.opt_text("extra").unwrap(), None);
        // a newer schema than this binary knows is refused
        assert!(matches!(
            db.migrate("test", &MIGS[..1]).await,
            Err(DbError::SchemaTooNew { .. })
        ));
        db.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn transactions_roll_back_when_dropped() {
        let db = Db::connect("sqlite::memory:").await.unwrap();
        db.migrate("test", MIGS).await.unwrap();
        {
            let mut tx = db.begin().await.unwrap();
            db.q("INSERT INTO t (id, flag) VALUES (?, ?)")
                .bind("b")
                .bind(false)
                .execute(tx.conn())
                .await
                .unwrap();
        }
        let n = db.q("SELECT id FROM t").fetch_all(db.pool()).await.unwrap();
        assert!(n.is_empty());
    }
}
