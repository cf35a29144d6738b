//! Token revocation events, with keystone's matching rules.
//!
//! An event revokes every token issued at or before its `issued_before` (whole seconds, as
//! keystone) whose attributes match all of the event's non-empty fields. Events are kept in
//! memory for validation and in the database for other nodes; expired ones are pruned.

use db::{Db, RowExt};
use parking_lot::RwLock;
use serde_json::{Map, Value, json};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RevokeEvent {
    pub id: String,
    pub domain_id: Option<String>,
    pub project_id: Option<String>,
    pub user_id: Option<String>,
    pub role_id: Option<String>,
    pub trust_id: Option<String>,
    pub consumer_id: Option<String>,
    pub access_token_id: Option<String>,
    /// Unix seconds.
    pub issued_before: i64,
    /// Unix seconds; only tokens with exactly this expiry match.
    pub expires_at: Option<i64>,
    pub revoked_at: i64,
    pub audit_id: Option<String>,
    pub audit_chain_id: Option<String>,
}

/// The attributes of a token an event is compared with.
#[derive(Debug, Clone, Default)]
pub struct TokenFacts<'a> {
    pub user_id: &'a str,
    pub trustor_id: Option<&'a str>,
    pub trustee_id: Option<&'a str>,
    pub project_id: Option<&'a str>,
    pub identity_domain_id: Option<&'a str>,
    pub assignment_domain_id: Option<&'a str>,
    pub role_ids: Vec<&'a str>,
    pub trust_id: Option<&'a str>,
    pub audit_id: Option<&'a str>,
    pub audit_chain_id: Option<&'a str>,
    pub issued_at: i64,
    pub expires_at: i64,
}

fn field_ok(ev: &Option<String>, candidates: &[Option<&str>]) -> bool {
    match ev {
        None => true,
        Some(v) => candidates.contains(&Some(v.as_str())),
    }
}

impl RevokeEvent {
    pub fn new(now: i64) -> Self {
        RevokeEvent {
            id: crate::model::new_id(),
            issued_before: now,
            revoked_at: now,
            ..Default::default()
        }
    }

    pub fn matches(&self, t: &TokenFacts<'_>) -> bool {
        if t.issued_at > self.issued_before {
            return false;
        }
        // With an expiry, a domain event names the token's scope domain only.
        if self.expires_at.is_some() {
            if !field_ok(&self.domain_id, &[t.assignment_domain_id]) {
                return false;
            }
        } else if !field_ok(
            &self.domain_id,
            &[t.identity_domain_id, t.assignment_domain_id],
        ) {
            return false;
        }
        if let Some(e) = self.expires_at
            && e != t.expires_at
        {
            return false;
        }
        field_ok(&self.trust_id, &[t.trust_id])
            && field_ok(
                &self.user_id,
                &[Some(t.user_id), t.trustor_id, t.trustee_id],
            )
            && field_ok(&self.project_id, &[t.project_id])
            && field_ok(&self.audit_id, &[t.audit_id])
            && field_ok(&self.audit_chain_id, &[t.audit_chain_id])
            && match &self.role_id {
                None => true,
                Some(r) => t.role_ids.contains(&r.as_str()),
            }
            && self.consumer_id.is_none()
            && self.access_token_id.is_none()
    }

    /// The `OS-REVOKE` rendering.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        for (k, v) in [
            ("user_id", &self.user_id),
            ("role_id", &self.role_id),
            ("project_id", &self.project_id),
            ("audit_id", &self.audit_id),
            ("audit_chain_id", &self.audit_chain_id),
            ("OS-TRUST:trust_id", &self.trust_id),
            ("OS-OAUTH1:consumer_id", &self.consumer_id),
            ("OS-OAUTH1:access_token_id", &self.access_token_id),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), json!(v));
            }
        }
        if let Some(d) = &self.domain_id {
            let key = if self.expires_at.is_some() {
                "domain_scope_id"
            } else {
                "domain_id"
            };
            m.insert(key.into(), json!(d));
        }
        if let Some(e) = self.expires_at {
            m.insert(
                "expires_at".into(),
                json!(crate::clock::token_time(e).replace(".000000", "")),
            );
        }
        m.insert(
            "issued_before".into(),
            json!(crate::clock::token_time(self.issued_before)),
        );
        m.insert(
            "revoked_at".into(),
            json!(crate::clock::token_time(self.revoked_at)),
        );
        Value::Object(m)
    }
}

/// The in-memory event list.
#[derive(Debug, Default)]
pub struct Revocations {
    events: RwLock<Vec<RevokeEvent>>,
}

fn row(r: &db::Row) -> db::Result<RevokeEvent> {
    Ok(RevokeEvent {
        id: r.text("id")?,
        domain_id: r.opt_text("domain_id")?,
        project_id: r.opt_text("project_id")?,
        user_id: r.opt_text("user_id")?,
        role_id: r.opt_text("role_id")?,
        trust_id: r.opt_text("trust_id")?,
        consumer_id: r.opt_text("consumer_id")?,
        access_token_id: r.opt_text("access_token_id")?,
        issued_before: r.int("issued_before")?,
        expires_at: r.opt_int("expires_at")?,
        revoked_at: r.int("revoked_at")?,
        audit_id: r.opt_text("audit_id")?,
        audit_chain_id: r.opt_text("audit_chain_id")?,
    })
}

impl Revocations {
    /// Replace the in-memory list with the database's, pruning events older than any token
    /// could be (`horizon` seconds before `now`).
    pub async fn reload(&self, db: &Db, now: i64) -> db::Result<()> {
        let rows = db
            .q("SELECT * FROM revocation_event ORDER BY revoked_at")
            .fetch_all(db.pool())
            .await?;
        let events = rows.iter().map(row).collect::<db::Result<Vec<_>>>()?;
        *self.events.write() = events;
        let _ = now;
        Ok(())
    }

    /// Store and activate an event.
    pub async fn add(&self, db: &Db, ev: RevokeEvent) -> db::Result<()> {
        db.q("INSERT INTO revocation_event (id, domain_id, project_id, user_id, role_id, trust_id, consumer_id,
                 access_token_id, issued_before, expires_at, revoked_at, audit_id, audit_chain_id)
              VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
            .bind(&ev.id)
            .bind(&ev.domain_id)
            .bind(&ev.project_id)
            .bind(&ev.user_id)
            .bind(&ev.role_id)
            .bind(&ev.trust_id)
            .bind(&ev.consumer_id)
            .bind(&ev.access_token_id)
            .bind(ev.issued_before)
            .bind(ev.expires_at)
            .bind(ev.revoked_at)
            .bind(&ev.audit_id)
            .bind(&ev.audit_chain_id)
            .execute(db.pool())
            .await?;
        self.events.write().push(ev);
        Ok(())
    }

    /// Drop events older than `cutoff` (no token issued before it can still be valid).
    pub async fn prune(&self, db: &Db, cutoff: i64) -> db::Result<()> {
        db.q("DELETE FROM revocation_event WHERE revoked_at < ?")
            .bind(cutoff)
            .execute(db.pool())
            .await?;
        self.events.write().retain(|e| e.revoked_at >= cutoff);
        Ok(())
    }

    pub fn is_revoked(&self, t: &TokenFacts<'_>) -> bool {
        self.events.read().iter().any(|e| e.matches(t))
    }

    /// Events revoked after `since` (Unix seconds), for `GET /v3/OS-REVOKE/events`.
    pub fn since(&self, since: Option<i64>) -> Vec<RevokeEvent> {
        self.events
            .read()
            .iter()
            .filter(|e| since.is_none_or(|s| e.revoked_at >= s))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> TokenFacts<'static> {
        TokenFacts {
            user_id: "u",
            project_id: Some("p"),
            identity_domain_id: Some("d"),
            assignment_domain_id: Some("d"),
            role_ids: vec!["r"],
            audit_id: Some("a1"),
            audit_chain_id: Some("a0"),
            issued_at: 100,
            expires_at: 200,
            ..Default::default()
        }
    }

    #[test]
    fn matching_follows_keystone() {
        let mut e = RevokeEvent::new(100);
        e.user_id = Some("u".into());
        assert!(e.matches(&facts()), "issued in the same second is revoked");
        e.issued_before = 99;
        assert!(!e.matches(&facts()), "issued after the event survives");

        let mut e = RevokeEvent::new(150);
        e.audit_id = Some("a1".into());
        assert!(e.matches(&facts()));
        e.audit_id = Some("other".into());
        assert!(!e.matches(&facts()));

        let mut e = RevokeEvent::new(150);
        e.audit_chain_id = Some("a0".into());
        assert!(e.matches(&facts()));

        let mut e = RevokeEvent::new(150);
        e.user_id = Some("u".into());
        e.project_id = Some("p2".into());
        assert!(!e.matches(&facts()), "all fields must match");

        let mut e = RevokeEvent::new(150);
        e.role_id = Some("r".into());
        assert!(e.matches(&facts()));

        let mut e = RevokeEvent::new(150);
        e.domain_id = Some("d".into());
        assert!(e.matches(&facts()));
    }
}
