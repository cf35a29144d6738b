//! SQL for the compute schema. Plain functions over [`db::Db`]; no policy here.

pub mod aggregates;
pub mod flavors;
pub mod instances;
pub mod keypairs;
pub mod misc;

use db::{Db, RowExt};
use serde_json::{Map, Value};

/// The next value of a named sequence (ids nova exposes as integers).
pub async fn next_id(db: &Db, tx: &mut db::Tx, name: &str) -> db::Result<i64> {
    let n = db
        .q("UPDATE counter SET value = value + 1 WHERE name = ?")
        .bind(name)
        .execute(tx.conn())
        .await?;
    if n == 0 {
        db.q("INSERT INTO counter (name, value) VALUES (?, 1)")
            .bind(name)
            .execute(tx.conn())
            .await?;
        return Ok(1);
    }
    let row = db
        .q("SELECT value FROM counter WHERE name = ?")
        .bind(name)
        .fetch_one(tx.conn())
        .await?;
    row.int("value")
}

/// A JSON object column.
pub(crate) fn obj(r: &db::Row, col: &str) -> db::Result<Map<String, Value>> {
    Ok(match serde_json::from_str::<Value>(&r.text(col)?) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    })
}

pub(crate) fn json_col(r: &db::Row, col: &str) -> db::Result<Value> {
    Ok(serde_json::from_str::<Value>(&r.text(col)?).unwrap_or(Value::Null))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{Flavor, Instance, Keypair};
    use serde_json::json;

    async fn db() -> Db {
        let db = Db::connect("sqlite::memory:").await.unwrap();
        db.migrate("compute", crate::schema::MIGRATIONS)
            .await
            .unwrap();
        db
    }

    fn flavor() -> Flavor {
        serde_json::from_value(
            json!({"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 512, "disk": 1}),
        )
        .unwrap()
    }

    pub(crate) fn instance(uuid: &str, project: &str, at: i64) -> Instance {
        Instance {
            uuid: uuid.into(),
            seq: 0,
            name: format!("vm-{uuid}"),
            hostname: "vm".into(),
            description: None,
            project_id: project.into(),
            user_id: "u".into(),
            flavor: flavor(),
            image_ref: "img".into(),
            image_meta: json!({}),
            key_name: None,
            key_data: None,
            user_data: None,
            config_drive: String::new(),
            availability_zone: None,
            pinned_az: None,
            host: None,
            node: None,
            vm_state: "building".into(),
            task_state: Some("scheduling".into()),
            power_state: 0,
            locked_by: None,
            locked_reason: None,
            access_ip_v4: None,
            access_ip_v6: None,
            reservation_id: "r-1".into(),
            launch_index: 0,
            metadata: Default::default(),
            system_metadata: Default::default(),
            request_spec: json!({}),
            tags: vec!["a".into()],
            launched_at: None,
            terminated_at: None,
            created_at: at,
            updated_at: at,
            deleted_at: None,
        }
    }

    #[tokio::test]
    async fn instances_round_trip_page_and_guard_updates() {
        let db = db().await;
        let mut items = vec![
            instance("i1", "p1", 1),
            instance("i2", "p1", 2),
            instance("i3", "p2", 3),
        ];
        instances::insert_many(&db, &mut items, None).await.unwrap();
        assert!(items[0].seq < items[1].seq);
        let got = instances::get(&db, "i1", false).await.unwrap().unwrap();
        assert_eq!(got.flavor, flavor());
        assert_eq!(got.tags, vec!["a"]);
        let f = instances::Filter {
            project_id: Some("p1".into()),
            ..Default::default()
        };
        let page = instances::list(&db, &f, &[("created_at", false)], None, 1)
            .await
            .unwrap();
        assert_eq!(page[0].uuid, "i2");
        let next = instances::list(&db, &f, &[("created_at", false)], Some(&page[0]), 10)
            .await
            .unwrap();
        assert_eq!(
            next.iter().map(|i| i.uuid.as_str()).collect::<Vec<_>>(),
            ["i1"]
        );
        // Guarded transition: only from the expected task state.
        let c = instances::Changes {
            vm_state: Some("active".into()),
            task_state: Some(None),
            ..Default::default()
        };
        assert!(
            !instances::update(&db, "i1", &c, &[Some("spawning")], &[], 5)
                .await
                .unwrap()
        );
        assert!(
            instances::update(&db, "i1", &c, &[Some("scheduling")], &["building"], 5)
                .await
                .unwrap()
        );
        assert_eq!(
            instances::get(&db, "i1", false)
                .await
                .unwrap()
                .unwrap()
                .status(),
            "ACTIVE"
        );
        assert_eq!(
            instances::usage(&db, "p1", None).await.unwrap(),
            (2, 2, 1024)
        );
    }

    #[tokio::test]
    async fn flavors_keypairs_and_services() {
        let db = db().await;
        flavors::insert(&db, &flavor(), 1).await.unwrap();
        assert!(
            flavors::insert(&db, &flavor(), 1).await.is_err(),
            "duplicate id"
        );
        let mut k = Keypair {
            id: 0,
            user_id: "u".into(),
            name: "k".into(),
            key_type: "ssh".into(),
            fingerprint: "f".into(),
            public_key: "p".into(),
            created_at: 1,
        };
        keypairs::insert(&db, &mut k).await.unwrap();
        assert_eq!(k.id, 1);
        assert_eq!(keypairs::count(&db, "u").await.unwrap(), 1);
        let s = misc::upsert_service(&db, "h1", "nova-compute", "compute", "nova", 10)
            .await
            .unwrap();
        let again = misc::upsert_service(&db, "h1", "nova-compute", "compute", "nova", 20)
            .await
            .unwrap();
        assert_eq!(s.id, again.id);
        assert_eq!(again.last_seen_up, Some(20));
    }
}
