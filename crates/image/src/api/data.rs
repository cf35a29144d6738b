//! Image data: `PUT|GET /v2/images/{id}/file`, `PUT /v2/images/{id}/stage`,
//! `POST /v2/images/{id}/import` (glance-direct, web-download, copy-image).

use std::net::IpAddr;
use std::sync::Arc;

use api::openapi::Routes;
use auth::Context;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use image_format::DiskFormat;
use serde_json::{Value, json};

use crate::api::St;
use crate::backend::Store;
use crate::data::{Received, UploadError, download, receive};
use crate::model::{Image, status};
use crate::{Error, ImageService, Result, store};

impl ImageService {
    /// Record an import task and mark the stores it will fill.
    async fn begin_import(&self, task: &store::Task, img: &Image, targets: &str) -> Result<()> {
        store::insert_task(&self.db, task).await?;
        store::set_property(
            &self.db,
            &img.id,
            "os_glance_importing_to_stores",
            Some(targets),
        )
        .await?;
        if !img.properties.contains_key("os_glance_failed_import") {
            store::set_property(&self.db, &img.id, "os_glance_failed_import", Some("")).await?;
        }
        Ok(())
    }

    /// Glance's import progress properties: `os_glance_importing_to_stores` lists the
    /// stores still to do, `os_glance_failed_import` those that failed.
    async fn import_progress(&self, image_id: &str, store_id: &str, ok: bool) {
        let Ok(Some(img)) = store::get(&self.db, image_id).await else {
            return;
        };
        let left: Vec<&str> = img
            .properties
            .get("os_glance_importing_to_stores")
            .map(|s| {
                s.split(',')
                    .filter(|x| !x.is_empty() && *x != store_id)
                    .collect()
            })
            .unwrap_or_default();
        let _ = store::set_property(
            &self.db,
            image_id,
            "os_glance_importing_to_stores",
            Some(&left.join(",")),
        )
        .await;
        if !ok {
            let mut failed: Vec<String> = img
                .properties
                .get("os_glance_failed_import")
                .map(|s| {
                    s.split(',')
                        .filter(|x| !x.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            failed.push(store_id.to_string());
            let _ = store::set_property(
                &self.db,
                image_id,
                "os_glance_failed_import",
                Some(&failed.join(",")),
            )
            .await;
        }
    }

    /// Copy an image's data from `src` to each of `dests`, recording glance's progress
    /// properties as each store finishes; returns the first failure.
    async fn replicate(
        &self,
        img_id: &str,
        src: &Arc<dyn Store>,
        src_url: &str,
        dests: &[Arc<dyn Store>],
    ) -> Result<()> {
        let mut outcome: Result<()> = Ok(());
        for dst in dests {
            let r: Result<()> = async {
                let (_, stream) = src.read(src_url, 0, None).await?;
                let got = receive(
                    dst,
                    img_id,
                    Body::from_stream(stream),
                    u64::MAX,
                    None,
                    false,
                )
                .await?;
                if let Err(e) =
                    store::add_location(&self.db, img_id, dst.id(), &got.url, self.now()).await
                {
                    let _ = dst.delete(&got.url).await;
                    return Err(e.into());
                }
                Ok(())
            }
            .await;
            self.import_progress(img_id, dst.id(), r.is_ok()).await;
            if let Err(e) = r {
                tracing::warn!(image = img_id, store = dst.id(), error = %e, "copy to store failed");
                if outcome.is_ok() {
                    outcome = Err(e);
                }
            }
        }
        outcome
    }

    /// After the first store of an import holds the data, fill the other requested
    /// stores. With `all_stores_must_succeed` a failure anywhere unloads the image
    /// (data removed from every store, status back to `queued`).
    async fn fan_out(
        &self,
        img_id: &str,
        first: &Arc<dyn Store>,
        url: &str,
        rest: &[Arc<dyn Store>],
        must_succeed: bool,
    ) -> Result<()> {
        let r = self.replicate(img_id, first, url, rest).await;
        if r.is_err() && must_succeed {
            let locs = store::unload(&self.db, img_id, self.now()).await?;
            for (sid, u) in locs {
                if let Some(s) = self.store(&sid) {
                    let _ = s.delete(&u).await;
                }
            }
            return r;
        }
        Ok(())
    }

    /// Record the outcome of an import task.
    pub async fn finish_task(&self, task_id: &str, image_id: &str, outcome: Result<()>) {
        let (status, result, message) = match outcome {
            Ok(()) => (
                "success",
                Some(json!({"image_id": image_id})),
                String::new(),
            ),
            Err(e) => ("failure", None, e.to_string()),
        };
        if let Err(e) = store::set_task(
            &self.db,
            task_id,
            status,
            result.as_ref(),
            &message,
            None,
            self.now(),
        )
        .await
        {
            tracing::warn!(task = task_id, error = %e, "cannot record the task outcome");
        }
    }

    /// Put data into the default path of an image being imported (task API).
    pub async fn ingest_public(
        &self,
        img: &Image,
        target: &Arc<dyn Store>,
        body: Body,
    ) -> Result<Received> {
        self.ingest(img, target, body, &[status::IMPORTING], status::QUEUED)
            .await
    }

    /// Bytes the project may still store: the size cap, narrowed by its size quota.
    async fn room(&self, owner: Option<&str>) -> Result<u64> {
        let mut room = self.cfg.image_size_cap;
        if let Some(o) = owner {
            let q = self.quotas(o).await;
            if q.size_mib >= 0 {
                let (_, used) = store::usage(&self.db, o).await?;
                let limit = q.size_mib.saturating_mul(1 << 20);
                let left = u64::try_from(limit.saturating_sub(used)).unwrap_or(0);
                if left == 0 {
                    return Err(Error::TooLarge(format!(
                        "Quota exceeded: image_size_total limit of {} MiB reached for project {o}.",
                        q.size_mib
                    )));
                }
                room = room.min(left);
            }
        }
        Ok(room)
    }

    /// Put data into a store and make the image active; on failure put the image back
    /// into `on_fail` and remove whatever was written.
    async fn ingest(
        &self,
        img: &Image,
        target: &Arc<dyn Store>,
        body: Body,
        from: &[&str],
        on_fail: &str,
    ) -> Result<Received> {
        let room = self.room(img.owner.as_deref()).await?;
        let declared = img.disk_format.as_deref().and_then(DiskFormat::parse);
        let r = receive(
            target,
            &img.id,
            body,
            room,
            declared,
            self.cfg.require_image_format_match,
        )
        .await;
        let got = match r {
            Ok(g) => g,
            Err(e) => {
                let next = match e {
                    UploadError::Store(_) => status::KILLED,
                    _ => on_fail,
                };
                store::transition(&self.db, &img.id, from, next, self.now()).await?;
                return Err(e.into());
            }
        };
        let activated = store::activate(
            &self.db,
            &img.id,
            i64::try_from(got.size).unwrap_or(i64::MAX),
            got.virtual_size.and_then(|v| i64::try_from(v).ok()),
            &got.checksum,
            "sha512",
            &got.os_hash_value,
            target.id(),
            &got.url,
            self.now(),
            from,
        )
        .await?;
        if !activated {
            // Deleted (or otherwise changed) while uploading: drop the data.
            let _ = target.delete(&got.url).await;
            return Err(Error::Conflict(format!(
                "Image {} was deleted or changed while its data was being uploaded.",
                img.id
            )));
        }
        if let Ok(Some(i)) = store::get(&self.db, &img.id).await {
            self.notify("image.upload", &i);
            self.notify("image.activate", &i);
        }
        Ok(got)
    }
}

fn octet_stream(headers: &HeaderMap) -> Result<()> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream");
    if ct.split(';').next().map(str::trim) != Some("application/octet-stream") {
        return Err(Error::UnsupportedMedia(format!(
            "Unsupported Content-Type {ct:?}: image data must be application/octet-stream."
        )));
    }
    Ok(())
}

fn require_formats(img: &Image) -> Result<()> {
    if img.disk_format.is_none() || img.container_format.is_none() {
        return Err(Error::BadRequest(
            "Properties disk_format, container_format must be set prior to saving data.".into(),
        ));
    }
    Ok(())
}

/// `PUT /v2/images/{id}/file`
pub async fn upload(
    State(svc): St,
    ctx: Context,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let (img, member) = svc.visible_image(&ctx, &id).await?;
    svc.enforce(&ctx, "upload_image", &svc.target(&img, member, &ctx))?;
    octet_stream(&headers)?;
    require_formats(&img)?;
    if !store::transition(&svc.db, &id, &[status::QUEUED], status::SAVING, svc.now()).await? {
        return Err(Error::Conflict(format!(
            "Image status transition from {} to saving is not allowed",
            img.status
        )));
    }
    let target = svc.default_store();
    svc.ingest(&img, &target, body, &[status::SAVING], status::QUEUED)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /v2/images/{id}/file` (200, 206 for a range, 204 when there is no data)
pub async fn get_file(
    State(svc): St,
    ctx: Context,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let (img, member) = svc.visible_image(&ctx, &id).await?;
    svc.enforce(&ctx, "download_image", &svc.target(&img, member, &ctx))?;
    if img.status == status::DEACTIVATED && !svc.is_admin(&ctx) {
        return Err(Error::Forbidden(
            "The requested image has been deactivated. Image data download is forbidden.".into(),
        ));
    }
    let size = img.size.and_then(|v| u64::try_from(v).ok());
    let checksum = img.checksum.as_deref();
    if let Some(c) = &svc.cache
        && img.status == status::ACTIVE
    {
        if let Some((files, url)) = c.open_for_read(&svc.db, &id).await? {
            return download(files, &url, size, checksum, &headers).await;
        }
        // As Glance's cache middleware: a whole download of an active image fills the
        // cache (here in the background, from the store) for the next reader.
        if !headers.contains_key(axum::http::header::RANGE) {
            c.enqueue(&svc.db, &id).await?;
        }
    }
    let locs = store::locations(&svc.db, &id).await?;
    let Some((sid, url)) = locs.into_iter().find(|(s, _)| svc.store(s).is_some()) else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let s = svc
        .store(&sid)
        .ok_or_else(|| Error::Internal(format!("store {sid} vanished")))?;
    download(s.as_ref(), &url, size, checksum, &headers).await
}

fn staged_url(svc: &ImageService, id: &str) -> String {
    format!("file://{}", svc.cfg.staging_dir.join(id).display())
}

fn method_enabled(svc: &ImageService, m: &str) -> Result<()> {
    if svc.cfg.enabled_import_methods.iter().any(|x| x == m) {
        Ok(())
    } else {
        Err(Error::BadRequest(format!(
            "Import method {m} is not enabled."
        )))
    }
}

/// `PUT /v2/images/{id}/stage`: data for a later `glance-direct` import.
pub async fn stage(
    State(svc): St,
    ctx: Context,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    method_enabled(&svc, "glance-direct")?;
    let (img, member) = svc.visible_image(&ctx, &id).await?;
    svc.enforce(&ctx, "upload_image", &svc.target(&img, member, &ctx))?;
    octet_stream(&headers)?;
    if !store::transition(
        &svc.db,
        &id,
        &[status::QUEUED],
        status::UPLOADING,
        svc.now(),
    )
    .await?
    {
        return Err(Error::Conflict(format!(
            "Image status transition from {} to uploading is not allowed",
            img.status
        )));
    }
    let q = svc.quotas(img.owner.as_deref().unwrap_or_default()).await;
    let mut room = svc.cfg.image_size_cap;
    if q.stage_mib >= 0 {
        room = room.min(u64::try_from(q.stage_mib).unwrap_or(0) << 20);
    }
    let staging: Arc<dyn Store> = svc.staging.clone();
    match receive(&staging, &id, body, room, None, false).await {
        Ok(_) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(e) => {
            store::transition(
                &svc.db,
                &id,
                &[status::UPLOADING],
                status::QUEUED,
                svc.now(),
            )
            .await?;
            Err(e.into())
        }
    }
}

/// Whether a web-download URL may be fetched: http(s) only, allow/deny host lists, and
/// no private, loopback or link-local addresses unless explicitly allowed.
pub async fn check_download_url(svc: &ImageService, raw: &str) -> Result<url::Url> {
    let u = url::Url::parse(raw).map_err(|_| Error::BadRequest(format!("Invalid URI {raw:?}.")))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(Error::BadRequest(format!(
            "URI scheme {:?} is not allowed.",
            u.scheme()
        )));
    }
    let host = u
        .host_str()
        .ok_or_else(|| Error::BadRequest("The URI has no host.".into()))?
        .to_string();
    if svc.cfg.web_download_disallowed_hosts.contains(&host) {
        return Err(Error::Forbidden(format!(
            "Host {host} is not allowed for web-download."
        )));
    }
    if !svc.cfg.web_download_allowed_hosts.is_empty()
        && !svc.cfg.web_download_allowed_hosts.contains(&host)
    {
        return Err(Error::Forbidden(format!(
            "Host {host} is not in the allowed hosts for web-download."
        )));
    }
    if !svc.cfg.web_download_allow_private {
        let port = u.port_or_known_default().unwrap_or(80);
        let addrs = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|_| Error::BadRequest(format!("Cannot resolve host {host}.")))?;
        for a in addrs {
            if !is_public(a.ip()) {
                return Err(Error::Forbidden(format!(
                    "URI {raw} resolves to a private or local address; web-download is not allowed there."
                )));
            }
        }
    }
    Ok(u)
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            !(a.is_private()
                || a.is_loopback()
                || a.is_link_local()
                || a.is_unspecified()
                || a.is_broadcast()
                || a.is_documentation()
                || a.octets()[0] == 100 && (a.octets()[1] & 0xc0) == 64)
        }
        IpAddr::V6(a) => {
            !(a.is_loopback()
                || a.is_unspecified()
                || (a.segments()[0] & 0xfe00) == 0xfc00
                || (a.segments()[0] & 0xffc0) == 0xfe80)
        }
    }
}

/// The store an import writes first (the first requested, else the default) and the
/// others it then copies to.
fn split_targets(
    svc: &ImageService,
    mut stores: Vec<Arc<dyn Store>>,
) -> (Arc<dyn Store>, Vec<Arc<dyn Store>>) {
    if stores.is_empty() {
        return (svc.default_store(), Vec::new());
    }
    let first = stores.remove(0);
    (first, stores)
}

fn target_ids(first: &Arc<dyn Store>, rest: &[Arc<dyn Store>]) -> String {
    std::iter::once(first.id())
        .chain(rest.iter().map(|s| s.id()))
        .collect::<Vec<_>>()
        .join(",")
}

/// `POST /v2/images/{id}/import` → 202; the work continues in the background.
pub async fn import(
    State(svc): St,
    ctx: Context,
    Path(id): Path<String>,
    axum::Extension(req): axum::Extension<api::RequestId>,
    body: api::Json<Value>,
) -> Result<Response> {
    let api::Json(body) = body;
    let name = body
        .get("method")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            Error::BadRequest("Import request requires a 'method' field with a 'name'.".into())
        })?
        .to_string();
    method_enabled(&svc, &name)?;
    let (img, member) = svc.visible_image(&ctx, &id).await?;
    let target = svc.target(&img, member, &ctx);
    let all_stores = body.get("all_stores").and_then(Value::as_bool) == Some(true);
    if all_stores && !matches!(body.get("stores"), None | Some(Value::Null)) {
        return Err(Error::BadRequest(
            "All_stores parameter can't be used with stores in the request body.".into(),
        ));
    }
    let must_succeed = match body.get("all_stores_must_succeed") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(Error::BadRequest(
                "'all_stores_must_succeed' must be a boolean.".into(),
            ));
        }
    };
    let stores: Vec<Arc<dyn Store>> = match body.get("stores") {
        None | Some(Value::Null) => {
            if body.get("all_stores").and_then(Value::as_bool) == Some(true) {
                svc.stores.clone()
            } else {
                Vec::new()
            }
        }
        Some(Value::Array(a)) => {
            let mut out = Vec::new();
            for s in a {
                let sid = s.as_str().unwrap_or_default();
                out.push(
                    svc.store(sid)
                        .ok_or_else(|| Error::BadRequest(format!("Unknown store {sid}.")))?,
                );
            }
            out
        }
        Some(_) => {
            return Err(Error::BadRequest(
                "'stores' must be a list of store ids.".into(),
            ));
        }
    };
    let now = svc.now();
    let task = store::Task {
        id: uuid::Uuid::new_v4().to_string(),
        task_type: "api_image_import".into(),
        status: "processing".into(),
        owner: img.owner.clone().unwrap_or_default(),
        image_id: Some(id.clone()),
        input: json!({
            "image_id": id,
            "import_req": body,
            "backend": stores.iter().map(|s| s.id().to_string()).collect::<Vec<_>>(),
        }),
        result: Value::Null,
        message: String::new(),
        request_id: Some(req.0.clone()),
        user_id: Some(ctx.user.user_id.clone()),
        created_at: now,
        updated_at: now,
        expires_at: Some(now + 48 * 3600 * 1_000_000),
    };
    let task_id = task.id.clone();
    match name.as_str() {
        "glance-direct" => {
            svc.enforce(&ctx, "modify_image", &target)?;
            require_formats(&img)?;
            if img.status != status::UPLOADING {
                return Err(Error::Conflict(format!(
                    "Image {id} is not in uploading status (it is {}): stage its data first.",
                    img.status
                )));
            }
            if !store::transition(
                &svc.db,
                &id,
                &[status::UPLOADING],
                status::IMPORTING,
                svc.now(),
            )
            .await?
            {
                return Err(Error::Conflict(
                    "Image status changed during the import request.".into(),
                ));
            }
            let (dest, rest) = split_targets(&svc, stores);
            svc.begin_import(&task, &img, &target_ids(&dest, &rest))
                .await?;
            let svc2 = svc.clone();
            tokio::spawn(async move {
                let url = staged_url(&svc2, &img.id);
                let result = async {
                    let (_, stream) = svc2.staging.read(&url, 0, None).await?;
                    svc2.ingest(
                        &img,
                        &dest,
                        Body::from_stream(stream),
                        &[status::IMPORTING],
                        status::QUEUED,
                    )
                    .await
                }
                .await;
                let _ = svc2.staging.delete(&url).await;
                if let Err(e) = &result {
                    tracing::warn!(image = %img.id, error = %e, "glance-direct import failed");
                }
                svc2.import_progress(&img.id, dest.id(), result.is_ok())
                    .await;
                let result = match result {
                    Ok(got) => {
                        svc2.fan_out(&img.id, &dest, &got.url, &rest, must_succeed)
                            .await
                    }
                    Err(e) => Err(e),
                };
                svc2.finish_task(&task_id, &img.id, result).await;
            });
        }
        "web-download" => {
            svc.enforce(&ctx, "modify_image", &target)?;
            require_formats(&img)?;
            let uri = body
                .get("method")
                .and_then(|m| m.get("uri"))
                .and_then(Value::as_str)
                .ok_or_else(|| Error::BadRequest("web-download requires a 'uri'.".into()))?;
            let u = check_download_url(&svc, uri).await?;
            if !store::transition(
                &svc.db,
                &id,
                &[status::QUEUED],
                status::IMPORTING,
                svc.now(),
            )
            .await?
            {
                return Err(Error::Conflict(format!(
                    "Image status transition from {} to importing is not allowed",
                    img.status
                )));
            }
            let (dest, rest) = split_targets(&svc, stores);
            svc.begin_import(&task, &img, &target_ids(&dest, &rest))
                .await?;
            let svc2 = svc.clone();
            tokio::spawn(async move {
                let result = async {
                    let resp = reqwest::get(u.clone())
                        .await
                        .and_then(reqwest::Response::error_for_status)
                        .map_err(|e| Error::BadRequest(format!("Cannot download {u}: {e}")))?;
                    let stream = resp.bytes_stream().map_err(std::io::Error::other);
                    svc2.ingest(
                        &img,
                        &dest,
                        Body::from_stream(stream),
                        &[status::IMPORTING],
                        status::QUEUED,
                    )
                    .await
                }
                .await;
                if let Err(e) = &result {
                    tracing::warn!(image = %img.id, error = %e, "web-download import failed");
                    let _ = store::transition(
                        &svc2.db,
                        &img.id,
                        &[status::IMPORTING],
                        status::QUEUED,
                        svc2.now(),
                    )
                    .await;
                }
                svc2.import_progress(&img.id, dest.id(), result.is_ok())
                    .await;
                let result = match result {
                    Ok(got) => {
                        svc2.fan_out(&img.id, &dest, &got.url, &rest, must_succeed)
                            .await
                    }
                    Err(e) => Err(e),
                };
                svc2.finish_task(&task_id, &img.id, result).await;
            });
        }
        "copy-image" => {
            svc.enforce(&ctx, "copy_image", &target)?;
            if img.status != status::ACTIVE {
                return Err(Error::Conflict(format!(
                    "Image {id} must be active to be copied."
                )));
            }
            if stores.is_empty() {
                return Err(Error::BadRequest(
                    "copy-image requires 'stores' or 'all_stores'.".into(),
                ));
            }
            let have = store::locations(&svc.db, &id).await?;
            let missing: Vec<Arc<dyn Store>> = stores
                .into_iter()
                .filter(|s| !have.iter().any(|(h, _)| h == s.id()))
                .collect();
            let Some((src_id, src_url)) = have.into_iter().next() else {
                return Err(Error::Conflict(format!("Image {id} has no data to copy.")));
            };
            let src = svc
                .store(&src_id)
                .ok_or_else(|| Error::Internal("source store vanished".into()))?;
            let targets: Vec<String> = missing.iter().map(|m| m.id().to_string()).collect();
            svc.begin_import(&task, &img, &targets.join(",")).await?;
            let svc2 = svc.clone();
            tokio::spawn(async move {
                let outcome = svc2.replicate(&img.id, &src, &src_url, &missing).await;
                svc2.finish_task(&task_id, &img.id, outcome).await;
            });
        }
        other => {
            return Err(Error::BadRequest(format!(
                "Unknown import method name '{other}'."
            )));
        }
    }
    Ok((StatusCode::ACCEPTED, axum::Json(json!({}))).into_response())
}

/// `DELETE /v2/stores/{store_id}/{image_id}`: drop one store's copy of an active image.
pub async fn delete_from_store(
    State(svc): St,
    ctx: Context,
    Path((store_id, id)): Path<(String, String)>,
) -> Result<Response> {
    let Some(store) = svc.store(&store_id) else {
        return Err(Error::Conflict(format!(
            "The selected store {store_id} is not available on this node."
        )));
    };
    let (img, member) = svc.visible_image(&ctx, &id).await?;
    let target = svc.target(&img, member, &ctx);
    svc.enforce(&ctx, "get_image_location", &target)?;
    svc.enforce(&ctx, "delete_image_location", &target)?;
    if img.status != status::ACTIVE {
        return Err(Error::Conflict(
            "It's not allowed to remove image data from store if image status is not 'active'"
                .into(),
        ));
    }
    let locs = store::locations(&svc.db, &id).await?;
    if !locs.iter().any(|(s, _)| *s == store_id) {
        return Err(Error::NotFound(format!(
            "Image {id} is not stored in store {store_id}."
        )));
    }
    if locs.len() == 1 {
        return Err(Error::Forbidden(
            "Cannot delete image data from the only store containing it. Consider deleting the image instead."
                .into(),
        ));
    }
    if let Some(url) = store::remove_location(&svc.db, &id, &store_id).await?
        && let Err(e) = store.delete(&url).await
    {
        tracing::warn!(image = %id, store = %store_id, error = %e, "cannot remove image data");
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub fn routes() -> Routes<Arc<ImageService>> {
    let r = Routes::new();
    let r = api::route!(
        r,
        "/v2/images/{image_id}/file",
        put(upload, "Upload image data"),
        get(get_file, "Download image data")
    );
    let r = api::route!(
        r,
        "/v2/images/{image_id}/stage",
        put(stage, "Stage data for an import")
    );
    let r = api::route!(
        r,
        "/v2/images/{image_id}/import",
        post(import, "Import image data")
    );
    api::route!(
        r,
        "/v2/stores/{store_id}/{image_id}",
        delete(delete_from_store, "Delete an image's data from one store")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        assert!(is_public("8.8.8.8".parse().unwrap()));
    }
}
