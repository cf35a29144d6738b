//! Tasks: `/v2/tasks` (the legacy `import` task) and `/v2/images/{id}/tasks` (the import
//! tasks of an image).

use std::collections::BTreeMap;
use std::sync::Arc;

use api::openapi::Routes;
use auth::Context;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use serde_json::{Value, json};

use crate::api::St;
use crate::model::{Image, status};
use crate::store::{self, Task};
use crate::{Error, ImageService, Result};

/// `GET /v2/images/{id}/tasks`
pub async fn image_tasks(State(svc): St, ctx: Context, Path(id): Path<String>) -> Result<Response> {
    let (img, member) = svc.visible_image(&ctx, &id).await?;
    svc.enforce(&ctx, "get_image", &svc.target(&img, member, &ctx))?;
    let tasks: Vec<Value> = store::list_tasks(&svc.db, Some(&id), None)
        .await?
        .iter()
        .map(Task::to_json)
        .collect();
    Ok(axum::Json(json!({"tasks": tasks})).into_response())
}

/// `POST /v2/tasks`: `{"type": "import", "input": {"import_from": URL,
/// "import_from_format": FMT, "image_properties": {...}}}` creates an image and downloads
/// its data in the background.
pub async fn create(
    State(svc): St,
    ctx: Context,
    axum::Extension(req): axum::Extension<api::RequestId>,
    body: api::Json<Value>,
) -> Result<Response> {
    let api::Json(body) = body;
    svc.enforce(&ctx, "tasks_api_access", &json!({}))?;
    svc.enforce(&ctx, "add_task", &json!({}))?;
    let typ = body.get("type").and_then(Value::as_str).unwrap_or_default();
    if typ != "import" {
        return Err(Error::BadRequest(format!("Invalid type value: {typ}")));
    }
    let input = body
        .get("input")
        .cloned()
        .filter(Value::is_object)
        .ok_or_else(|| Error::BadRequest("Input for the task is missing.".into()))?;
    let from = input
        .get("import_from")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::BadRequest("Input does not contain 'import_from' field".into()))?
        .to_string();
    let props = input.get("image_properties").cloned().unwrap_or(json!({}));
    let url = match url::Url::parse(&from) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u,
        _ => {
            return Err(Error::BadRequest(format!(
                "URI {from:?} is not a valid http(s) URI."
            )));
        }
    };
    let now = svc.now();
    let owner = ctx.user.project_id().unwrap_or_default().to_string();
    let task = Task {
        id: uuid::Uuid::new_v4().to_string(),
        task_type: "import".into(),
        status: "pending".into(),
        owner: owner.clone(),
        image_id: None,
        input: input.clone(),
        result: Value::Null,
        message: String::new(),
        request_id: Some(req.0),
        user_id: Some(ctx.user.user_id.clone()),
        created_at: now,
        updated_at: now,
        expires_at: Some(now + 48 * 3600 * 1_000_000),
    };
    store::insert_task(&svc.db, &task).await?;
    let svc2 = svc.clone();
    let task_id = task.id.clone();
    tokio::spawn(async move {
        let r = run_import_task(&svc2, &task_id, &owner, url, &props).await;
        let (st, result, msg, image) = match r {
            Ok(image_id) => (
                "success",
                Some(json!({"image_id": image_id})),
                String::new(),
                Some(image_id),
            ),
            Err(e) => ("failure", None, e.to_string(), None),
        };
        let _ = store::set_task(
            &svc2.db,
            &task_id,
            st,
            result.as_ref(),
            &msg,
            image.as_deref(),
            svc2.now(),
        )
        .await;
    });
    Ok((StatusCode::CREATED, axum::Json(task.to_json())).into_response())
}

async fn run_import_task(
    svc: &Arc<ImageService>,
    task_id: &str,
    owner: &str,
    url: url::Url,
    props: &Value,
) -> Result<String> {
    store::set_task(&svc.db, task_id, "processing", None, "", None, svc.now()).await?;
    crate::api::data::check_download_url(svc, url.as_str()).await?;
    let now = svc.now();
    let s = |k: &str| props.get(k).and_then(Value::as_str).map(str::to_string);
    let img = Image {
        id: uuid::Uuid::new_v4().to_string(),
        name: s("name"),
        status: status::IMPORTING.into(),
        visibility: s("visibility").unwrap_or_else(|| "shared".into()),
        owner: Some(owner.to_string()),
        disk_format: s("disk_format"),
        container_format: s("container_format"),
        size: None,
        virtual_size: None,
        checksum: None,
        os_hash_algo: None,
        os_hash_value: None,
        min_disk: 0,
        min_ram: 0,
        protected: false,
        os_hidden: false,
        created_at: now,
        updated_at: now,
        properties: BTreeMap::new(),
        tags: Vec::new(),
        stores: Vec::new(),
    };
    store::insert(&svc.db, &img).await?;
    let resp = reqwest::get(url.clone())
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| Error::BadRequest(format!("Cannot download {url}: {e}")))?;
    let stream = resp.bytes_stream().map_err(std::io::Error::other);
    let dest = svc.default_store();
    svc.ingest_public(&img, &dest, Body::from_stream(stream))
        .await?;
    Ok(img.id)
}

/// `GET /v2/tasks`
pub async fn list(State(svc): St, ctx: Context) -> Result<Response> {
    svc.enforce(&ctx, "tasks_api_access", &json!({}))?;
    svc.enforce(&ctx, "get_tasks", &json!({}))?;
    let owner =
        (!svc.is_admin(&ctx)).then(|| ctx.user.project_id().unwrap_or_default().to_string());
    let tasks: Vec<Value> = store::list_tasks(&svc.db, None, owner.as_deref())
        .await?
        .iter()
        .map(Task::to_json)
        .collect();
    Ok(
        axum::Json(json!({"tasks": tasks, "first": "/v2/tasks", "schema": "/v2/schemas/tasks"}))
            .into_response(),
    )
}

/// `GET /v2/tasks/{id}`
pub async fn show(State(svc): St, ctx: Context, Path(id): Path<String>) -> Result<Response> {
    svc.enforce(&ctx, "tasks_api_access", &json!({}))?;
    svc.enforce(&ctx, "get_task", &json!({}))?;
    let t = store::get_task(&svc.db, &id)
        .await?
        .filter(|t| svc.is_admin(&ctx) || Some(t.owner.as_str()) == ctx.user.project_id())
        .ok_or_else(|| Error::NotFound(format!("Task with the given ID {id} not found")))?;
    Ok(axum::Json(t.to_json()).into_response())
}

pub fn routes() -> Routes<Arc<ImageService>> {
    let r = Routes::new();
    let r = api::route!(
        r,
        "/v2/images/{image_id}/tasks",
        get(image_tasks, "Import tasks of an image")
    );
    let r = api::route!(
        r,
        "/v2/tasks",
        get(list, "List tasks"),
        post(create, "Create an import task")
    );
    api::route!(r, "/v2/tasks/{task_id}", get(show, "Show a task"))
}
