//! `/v2/cache`: the image cache management API (image API 2.14+, admin by default).

use std::sync::Arc;

use api::openapi::Routes;
use auth::Context;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::api::St;
use crate::cache::{Cached, ImageCache};
use crate::model::status;
use crate::{Error, ImageService, Result};

/// The cache, once the caller passed `rule`; 404 where this node has no cache (Glance
/// checks the policy first, too).
fn cache<'a>(
    svc: &'a ImageService,
    ctx: &Context,
    rule: &str,
    target: &Value,
) -> Result<&'a ImageCache> {
    svc.enforce(ctx, rule, target)?;
    svc.cache
        .as_ref()
        .ok_or_else(|| Error::NotFound("Caching via API is not supported at this site.".into()))
}

fn not_found(id: &str) -> Error {
    Error::NotFound(format!("Image {id} not found."))
}

/// `GET /v2/cache`: this node's cached and queued images.
pub async fn state(State(svc): St, ctx: Context) -> Result<Response> {
    let c = cache(&svc, &ctx, "cache_list", &json!({}))?;
    let cached: Vec<Value> = c
        .cached(&svc.db)
        .await?
        .iter()
        .map(Cached::to_json)
        .collect();
    let queued = c.queued(&svc.db).await?;
    Ok(axum::Json(json!({"cached_images": cached, "queued_images": queued})).into_response())
}

/// `DELETE /v2/cache`: empty the cache, the queue, or both
/// (`x-image-cache-clear-target: cache | queue`, empty or absent for both).
pub async fn clear(State(svc): St, ctx: Context, headers: HeaderMap) -> Result<StatusCode> {
    let c = cache(&svc, &ctx, "cache_delete", &json!({}))?;
    let target = headers
        .get("x-image-cache-clear-target")
        .map(|v| v.to_str().unwrap_or("?").to_ascii_lowercase())
        .unwrap_or_default();
    let (cache, queue) = match target.as_str() {
        "" => (true, true),
        "cache" => (true, false),
        "queue" => (false, true),
        _ => {
            return Err(Error::BadRequest(
                "If provided 'x-image-cache-clear-target' must be 'cache', 'queue' or empty string."
                    .into(),
            ));
        }
    };
    if queue {
        c.delete_queued(&svc.db, None).await?;
    }
    if cache {
        c.delete_all_cached(&svc.db).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /v2/cache/{image_id}`: queue an active image for caching (202); the cache worker
/// copies it in the background.
pub async fn queue(State(svc): St, ctx: Context, Path(id): Path<String>) -> Result<Response> {
    let (img, member) = svc
        .visible_image(&ctx, &id)
        .await
        .map_err(|_| not_found(&id))?;
    let c = cache(&svc, &ctx, "cache_image", &svc.target(&img, member, &ctx))?;
    if img.status != status::ACTIVE {
        return Err(Error::BadRequest(
            "Only images with status active can be targeted for queueing".into(),
        ));
    }
    c.queue(&svc.db, &id).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `DELETE /v2/cache/{image_id}`: drop the image from the cache and the queue (also for
/// an image deleted since it was cached).
pub async fn delete(State(svc): St, ctx: Context, Path(id): Path<String>) -> Result<StatusCode> {
    let target = match svc.visible_image(&ctx, &id).await {
        Ok((img, member)) => svc.target(&img, member, &ctx),
        Err(_) => {
            svc.enforce(&ctx, "cache_delete", &json!({}))?;
            let known = match &svc.cache {
                Some(c) => c.knows(&svc.db, &id).await?,
                None => false,
            };
            if !known {
                return Err(not_found(&id));
            }
            json!({})
        }
    };
    let c = cache(&svc, &ctx, "cache_delete", &target)?;
    c.delete_cached(&svc.db, &id).await?;
    c.delete_queued(&svc.db, Some(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v2/cache/nodes/{image_id}`: the reference URLs of the nodes that cache it.
pub async fn nodes(State(svc): St, ctx: Context, Path(id): Path<String>) -> Result<Response> {
    cache(&svc, &ctx, "list_cached_nodes", &json!({}))?;
    svc.visible_image(&ctx, &id)
        .await
        .map_err(|_| not_found(&id))?;
    Ok(axum::Json(ImageCache::nodes(&svc.db, &id).await?).into_response())
}

/// `POST /v2/cache/clean`: remove stalled partial copies and entries without data.
pub async fn clean(State(svc): St, ctx: Context) -> Result<StatusCode> {
    let c = cache(&svc, &ctx, "cache_clean", &json!({}))?;
    c.clean(&svc.db).await?;
    Ok(StatusCode::OK)
}

/// `POST /v2/cache/prune`: shrink the cache to `image_cache_max_size`, least recently
/// used first.
pub async fn prune(State(svc): St, ctx: Context) -> Result<Response> {
    let c = cache(&svc, &ctx, "cache_prune", &json!({}))?;
    let (files, bytes) = c.prune(&svc.db).await?;
    Ok(
        axum::Json(json!({"total_files_pruned": files, "total_bytes_pruned": bytes}))
            .into_response(),
    )
}

pub fn routes() -> Routes<Arc<ImageService>> {
    let r = Routes::new();
    let r = api::route!(
        r,
        "/v2/cache",
        get(state, "List cached and queued images"),
        delete(clear, "Clear the cache and/or its queue")
    );
    let r = api::route!(
        r,
        "/v2/cache/{image_id}",
        put(queue, "Queue an image for caching"),
        delete(delete, "Remove an image from the cache and the queue")
    );
    let r = api::route!(
        r,
        "/v2/cache/nodes/{image_id}",
        get(nodes, "List the nodes that cache an image")
    );
    let r = api::route!(
        r,
        "/v2/cache/clean",
        post(clean, "Clean stalled and invalid cache entries")
    );
    api::route!(
        r,
        "/v2/cache/prune",
        post(prune, "Prune the cache to its maximum size")
    )
}
