//! REST clients for the services compute calls: placement (service token) and image
//! (the caller's token, so image visibility applies as in nova).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use auth::ServiceSession;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

/// Image data transfers may take long; API calls keep the client's 60 s.
const DATA_TIMEOUT: Duration = Duration::from_secs(3600);

/// The hash glance recorded (`os_hash_algo` / `os_hash_value`), computed while streaming.
enum ImageHasher {
    Sha256(sha2::Sha256, String),
    Sha384(sha2::Sha384, String),
    Sha512(sha2::Sha512, String),
    None,
}

impl ImageHasher {
    fn for_record(rec: &Value) -> Self {
        use sha2::Digest;
        let want = rec["os_hash_value"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if want.is_empty() {
            return ImageHasher::None;
        }
        match rec["os_hash_algo"].as_str().unwrap_or_default() {
            "sha256" => ImageHasher::Sha256(sha2::Sha256::new(), want),
            "sha384" => ImageHasher::Sha384(sha2::Sha384::new(), want),
            "sha512" => ImageHasher::Sha512(sha2::Sha512::new(), want),
            _ => ImageHasher::None,
        }
    }

    fn update(&mut self, data: &[u8]) {
        use sha2::Digest;
        match self {
            ImageHasher::Sha256(h, _) => h.update(data),
            ImageHasher::Sha384(h, _) => h.update(data),
            ImageHasher::Sha512(h, _) => h.update(data),
            ImageHasher::None => {}
        }
    }

    /// `(computed, recorded)` hex digests, None when the record has no usable hash.
    fn finish(self) -> Option<(String, String)> {
        use sha2::Digest;
        match self {
            ImageHasher::Sha256(h, w) => Some((hex::encode(h.finalize()), w)),
            ImageHasher::Sha384(h, w) => Some((hex::encode(h.finalize()), w)),
            ImageHasher::Sha512(h, w) => Some((hex::encode(h.finalize()), w)),
            ImageHasher::None => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{service} is unreachable: {message}")]
    Unreachable {
        service: &'static str,
        message: String,
    },
    #[error("{message}")]
    Data {
        service: &'static str,
        message: String,
    },
    #[error("{service} answered {status}: {body}")]
    Status {
        service: &'static str,
        status: u16,
        body: String,
    },
}

pub type Result<T> = std::result::Result<T, ClientError>;

/// Where a service is: a fixed URL, or looked up in the catalog.
#[derive(Clone)]
pub struct Endpoint {
    pub service_type: &'static str,
    pub url: Option<String>,
    pub interface: String,
    pub region: Option<String>,
}

/// One service's REST client authenticated with the service's session.
#[derive(Clone)]
pub struct Rest {
    http: reqwest::Client,
    session: Arc<ServiceSession>,
    endpoint: Endpoint,
}

impl Rest {
    pub fn new(session: Arc<ServiceSession>, endpoint: Endpoint) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(64)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Rest {
            http,
            session,
            endpoint,
        }
    }

    fn unreachable(&self, e: impl std::fmt::Display) -> ClientError {
        ClientError::Unreachable {
            service: self.endpoint.service_type,
            message: e.to_string(),
        }
    }

    async fn base(&self) -> Result<String> {
        if let Some(u) = &self.endpoint.url {
            return Ok(u.trim_end_matches('/').to_string());
        }
        self.session
            .endpoint(
                self.endpoint.service_type,
                &self.endpoint.interface,
                self.endpoint.region.as_deref(),
            )
            .await
            .map_err(|e| self.unreachable(e))
    }

    /// Send a request; `token` is the caller's (None: the service's own, renewed once
    /// on 401). Returns the status and the JSON body (Null when empty).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
        token: Option<&str>,
    ) -> Result<(StatusCode, Value)> {
        let url = format!("{}{path}", self.base().await?);
        let mut renewed = false;
        loop {
            let tok = match token {
                Some(t) => t.to_string(),
                None => self
                    .session
                    .token(renewed)
                    .await
                    .map_err(|e| self.unreachable(e))?,
            };
            let mut req = self
                .http
                .request(method.clone(), &url)
                .header("X-Auth-Token", tok)
                .header("Accept", "application/json");
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = req.send().await.map_err(|e| self.unreachable(e))?;
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED && token.is_none() && !renewed {
                renewed = true;
                continue;
            }
            let bytes = resp.bytes().await.map_err(|e| self.unreachable(e))?;
            let v = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
            };
            return Ok((status, v));
        }
    }

    fn fail(&self, status: StatusCode, body: &Value) -> ClientError {
        ClientError::Status {
            service: self.endpoint.service_type,
            status: status.as_u16(),
            body: body.to_string(),
        }
    }
}

/// Placement as compute uses it.
#[derive(Clone)]
pub struct Placement {
    rest: Rest,
}

const PLACEMENT_VERSION: &str = "placement 1.39";

/// An allocation request from `GET /allocation_candidates`: the providers and amounts.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// `{"allocations": {rp_uuid: {"resources": {...}}}, ...}` as placement returned it.
    pub request: Value,
    /// The root provider (the compute node) of the candidate.
    pub root: String,
    /// Free capacity of the root after this request (for the weighers).
    pub free_ram_mb: i64,
    pub free_vcpus: i64,
}

impl Placement {
    pub fn new(rest: Rest) -> Self {
        Placement { rest }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value)> {
        self.rest
            .send(
                method,
                path,
                body,
                &[("OpenStack-API-Version", PLACEMENT_VERSION)],
                None,
            )
            .await
    }

    /// Create the provider for a compute node when missing; returns its generation.
    pub async fn ensure_provider(&self, uuid: &str, name: &str) -> Result<i64> {
        let (s, v) = self
            .call(Method::GET, &format!("/resource_providers/{uuid}"), None)
            .await?;
        if s.is_success() {
            return Ok(v["generation"].as_i64().unwrap_or(0));
        }
        let (s, v) = self
            .call(
                Method::POST,
                "/resource_providers",
                Some(&json!({"uuid": uuid, "name": name})),
            )
            .await?;
        if s.is_success() {
            return Ok(v["generation"].as_i64().unwrap_or(0));
        }
        if s == StatusCode::CONFLICT {
            // Same name, another uuid (a re-created node): take over by name.
            let (s2, v2) = self
                .call(
                    Method::GET,
                    &format!("/resource_providers?name={}", urlencode(name)),
                    None,
                )
                .await?;
            if s2.is_success()
                && let Some(old) = v2["resource_providers"].get(0)
                && let Some(old_uuid) = old["uuid"].as_str()
            {
                let _ = self
                    .call(
                        Method::DELETE,
                        &format!("/resource_providers/{old_uuid}"),
                        None,
                    )
                    .await?;
                let (s3, v3) = self
                    .call(
                        Method::POST,
                        "/resource_providers",
                        Some(&json!({"uuid": uuid, "name": name})),
                    )
                    .await?;
                if s3.is_success() {
                    return Ok(v3["generation"].as_i64().unwrap_or(0));
                }
                return Err(self.rest.fail(s3, &v3));
            }
        }
        Err(self.rest.fail(s, &v))
    }

    /// Replace a provider's inventories (retrying on generation conflicts) and traits.
    pub async fn set_inventory(
        &self,
        uuid: &str,
        inventories: &Value,
        traits: &[String],
    ) -> Result<()> {
        for _ in 0..10 {
            let (s, v) = self
                .call(Method::GET, &format!("/resource_providers/{uuid}"), None)
                .await?;
            if !s.is_success() {
                return Err(self.rest.fail(s, &v));
            }
            let generation = v["generation"].as_i64().unwrap_or(0);
            let (s, v) = self
                .call(
                    Method::PUT,
                    &format!("/resource_providers/{uuid}/inventories"),
                    Some(&json!({"resource_provider_generation": generation, "inventories": inventories})),
                )
                .await?;
            if s == StatusCode::CONFLICT {
                continue;
            }
            if !s.is_success() {
                return Err(self.rest.fail(s, &v));
            }
            let generation = v["resource_provider_generation"]
                .as_i64()
                .unwrap_or(generation + 1);
            if traits.is_empty() {
                return Ok(());
            }
            for t in traits.iter().filter(|t| t.starts_with("CUSTOM_")) {
                let _ = self
                    .call(Method::PUT, &format!("/traits/{t}"), None)
                    .await?;
            }
            let (s, v) = self
                .call(
                    Method::PUT,
                    &format!("/resource_providers/{uuid}/traits"),
                    Some(&json!({"resource_provider_generation": generation, "traits": traits})),
                )
                .await?;
            if s == StatusCode::CONFLICT {
                continue;
            }
            if !s.is_success() {
                return Err(self.rest.fail(s, &v));
            }
            return Ok(());
        }
        Err(ClientError::Status {
            service: "placement",
            status: 409,
            body: "provider generation kept changing".into(),
        })
    }

    /// Allocation candidates for the given resources and traits.
    pub async fn candidates(
        &self,
        resources: &[(&str, i64)],
        required: &[String],
        member_of: &[String],
        limit: usize,
    ) -> Result<Vec<Candidate>> {
        let res: Vec<String> = resources
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(rc, n)| format!("{rc}:{n}"))
            .collect();
        let mut q = format!(
            "/allocation_candidates?resources={}&limit={limit}",
            res.join(",")
        );
        if !required.is_empty() {
            q.push_str(&format!("&required={}", urlencode(&required.join(","))));
        }
        for m in member_of {
            q.push_str(&format!("&member_of={}", urlencode(m)));
        }
        let (s, v) = self.call(Method::GET, &q, None).await?;
        if !s.is_success() {
            return Err(self.rest.fail(s, &v));
        }
        let summaries = &v["provider_summaries"];
        let mut out = Vec::new();
        for r in v["allocation_requests"].as_array().into_iter().flatten() {
            let Some(allocs) = r["allocations"].as_object() else {
                continue;
            };
            let root = allocs
                .keys()
                .map(|rp| {
                    summaries[rp]["root_provider_uuid"]
                        .as_str()
                        .unwrap_or(rp)
                        .to_string()
                })
                .next()
                .unwrap_or_default();
            let free = |rc: &str, want: i64| {
                let s = &summaries[root.as_str()]["resources"][rc];
                s["capacity"].as_i64().unwrap_or(0) - s["used"].as_i64().unwrap_or(0) - want
            };
            let want = |rc: &str| {
                resources
                    .iter()
                    .find(|(n, _)| *n == rc)
                    .map(|(_, v)| *v)
                    .unwrap_or(0)
            };
            out.push(Candidate {
                request: r.clone(),
                free_ram_mb: free("MEMORY_MB", want("MEMORY_MB")),
                free_vcpus: free("VCPU", want("VCPU")),
                root,
            });
        }
        Ok(out)
    }

    /// Claim: write the consumer's allocations if it has none (`consumer_generation`
    /// null). False when placement refused (capacity taken meanwhile).
    pub async fn claim(
        &self,
        consumer: &str,
        request: &Value,
        project: &str,
        user: &str,
    ) -> Result<bool> {
        let body = json!({
            "allocations": request["allocations"],
            "project_id": project,
            "user_id": user,
            "consumer_generation": Value::Null,
            "consumer_type": "INSTANCE",
        });
        let (s, v) = self
            .call(
                Method::PUT,
                &format!("/allocations/{consumer}"),
                Some(&body),
            )
            .await?;
        if s.is_success() {
            return Ok(true);
        }
        if s == StatusCode::CONFLICT || s == StatusCode::BAD_REQUEST {
            tracing::debug!(consumer, body = %v, "claim refused");
            return Ok(false);
        }
        Err(self.rest.fail(s, &v))
    }

    /// The consumer's allocations `{rp: {"resources": {...}}}` and generation.
    pub async fn allocations(&self, consumer: &str) -> Result<(Value, Option<i64>)> {
        let (s, v) = self
            .call(Method::GET, &format!("/allocations/{consumer}"), None)
            .await?;
        if !s.is_success() {
            return Err(self.rest.fail(s, &v));
        }
        Ok((v["allocations"].clone(), v["consumer_generation"].as_i64()))
    }

    /// Move every allocation of consumer `from` to the new consumer `to` (of
    /// placement consumer type `to_type`, `INSTANCE` or `MIGRATION`): resize parks the
    /// old flavor's allocations on the migration and gives them back on revert. `to`
    /// must hold no allocations. False when placement refused the write.
    pub async fn move_allocations(
        &self,
        from: &str,
        to: &str,
        to_type: &str,
        project: &str,
        user: &str,
    ) -> Result<bool> {
        let (allocations, _) = self.allocations(from).await?;
        if allocations.as_object().is_none_or(|m| m.is_empty()) {
            return Ok(true);
        }
        let body = json!({
            "allocations": allocations,
            "project_id": project,
            "user_id": user,
            "consumer_generation": Value::Null,
            "consumer_type": to_type,
        });
        let (s, v) = self
            .call(Method::PUT, &format!("/allocations/{to}"), Some(&body))
            .await?;
        if s == StatusCode::CONFLICT {
            return Ok(false);
        }
        if !s.is_success() {
            return Err(self.rest.fail(s, &v));
        }
        self.release(from).await?;
        Ok(true)
    }

    /// Add the provider to (or take it out of) a placement aggregate, as nova mirrors
    /// host aggregate membership; retried when the provider generation moved.
    pub async fn set_aggregate_member(
        &self,
        rp: &str,
        aggregate: &str,
        member: bool,
    ) -> Result<()> {
        let path = format!("/resource_providers/{rp}/aggregates");
        for _ in 0..5 {
            let (s, v) = self.call(Method::GET, &path, None).await?;
            if !s.is_success() {
                return Err(self.rest.fail(s, &v));
            }
            let mut aggs: Vec<String> = v["aggregates"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let present = aggs.iter().any(|a| a == aggregate);
            if present == member {
                return Ok(());
            }
            if member {
                aggs.push(aggregate.to_string());
            } else {
                aggs.retain(|a| a != aggregate);
            }
            let body = json!({
                "aggregates": aggs,
                "resource_provider_generation": v["resource_provider_generation"],
            });
            let (s, v) = self.call(Method::PUT, &path, Some(&body)).await?;
            if s.is_success() {
                return Ok(());
            }
            if s != StatusCode::CONFLICT {
                return Err(self.rest.fail(s, &v));
            }
        }
        Err(ClientError::Status {
            service: "placement",
            status: 409,
            body: format!("provider {rp} kept changing while its aggregates were updated"),
        })
    }

    pub async fn release(&self, consumer: &str) -> Result<()> {
        let (s, v) = self
            .call(Method::DELETE, &format!("/allocations/{consumer}"), None)
            .await?;
        if s.is_success() || s == StatusCode::NOT_FOUND {
            return Ok(());
        }
        Err(self.rest.fail(s, &v))
    }

    /// Usage of a provider (`{"VCPU": n, ...}`).
    pub async fn usages(&self, rp: &str) -> Result<Value> {
        let (s, v) = self
            .call(
                Method::GET,
                &format!("/resource_providers/{rp}/usages"),
                None,
            )
            .await?;
        if !s.is_success() {
            return Err(self.rest.fail(s, &v));
        }
        Ok(v["usages"].clone())
    }

    pub async fn delete_provider(&self, rp: &str) -> Result<()> {
        let (s, v) = self
            .call(Method::DELETE, &format!("/resource_providers/{rp}"), None)
            .await?;
        if s.is_success() || s == StatusCode::NOT_FOUND {
            return Ok(());
        }
        Err(self.rest.fail(s, &v))
    }
}

/// The image service as compute uses it.
#[derive(Clone)]
pub struct Images {
    rest: Rest,
}

impl Images {
    pub fn new(rest: Rest) -> Self {
        Images { rest }
    }

    /// An image visible to the caller (None: not found for them).
    pub async fn get(&self, id: &str, token: &str) -> Result<Option<Value>> {
        let (s, v) = self
            .rest
            .send(
                Method::GET,
                &format!("/v2/images/{id}"),
                None,
                &[],
                Some(token),
            )
            .await?;
        if s == StatusCode::NOT_FOUND || s == StatusCode::FORBIDDEN {
            return Ok(None);
        }
        if !s.is_success() {
            return Err(self.rest.fail(s, &v));
        }
        Ok(Some(v))
    }

    /// Create an image record (a snapshot) as the caller.
    pub async fn create(&self, body: &Value, token: &str) -> Result<Value> {
        let (s, v) = self
            .rest
            .send(Method::POST, "/v2/images", Some(body), &[], Some(token))
            .await?;
        if !s.is_success() {
            return Err(self.rest.fail(s, &v));
        }
        Ok(v)
    }

    /// Upload bytes to a queued image as the caller.
    pub async fn upload(&self, id: &str, data: Vec<u8>, token: &str) -> Result<()> {
        let url = format!("{}/v2/images/{id}/file", self.rest.base().await?);
        let resp = self
            .rest
            .http
            .put(&url)
            .header("X-Auth-Token", token)
            .header("Content-Type", "application/octet-stream")
            .body(data)
            .send()
            .await
            .map_err(|e| self.rest.unreachable(e))?;
        data_status(resp).await?;
        Ok(())
    }

    /// Download an image's data to `dest` with the service's token (`token` None) or
    /// the caller's, verifying it against the record's `os_hash_value` (or the legacy
    /// md5 `checksum`). The file is written whole or not at all. Returns the record.
    pub async fn download(&self, id: &str, dest: &Path, token: Option<&str>) -> Result<Value> {
        use md5::Digest as _;
        let (s, rec) = self
            .rest
            .send(Method::GET, &format!("/v2/images/{id}"), None, &[], token)
            .await?;
        if !s.is_success() {
            return Err(self.rest.fail(s, &rec));
        }
        if rec["status"].as_str() != Some("active") {
            return Err(self.bad_data(format!("image {id} is not active")));
        }
        let url = format!("{}/v2/images/{id}/file", self.rest.base().await?);
        let tok = match token {
            Some(t) => t.to_string(),
            None => self
                .rest
                .session
                .token(false)
                .await
                .map_err(|e| self.rest.unreachable(e))?,
        };
        let resp = self
            .rest
            .http
            .get(&url)
            .header("X-Auth-Token", tok)
            .timeout(DATA_TIMEOUT)
            .send()
            .await
            .map_err(|e| self.rest.unreachable(e))?;
        let mut resp = data_status(resp).await?;
        let mut hasher = ImageHasher::for_record(&rec);
        let part = dest.with_extension("part");
        let io = |e: std::io::Error| self.bad_data(format!("cannot write {}: {e}", part.display()));
        let mut f = tokio::fs::File::create(&part).await.map_err(io)?;
        let mut md5 = md5::Md5::new();
        let written = async {
            while let Some(chunk) = resp.chunk().await.map_err(|e| self.rest.unreachable(e))? {
                hasher.update(&chunk);
                md5.update(&chunk);
                f.write_all(&chunk).await.map_err(io)?;
            }
            f.sync_all().await.map_err(io)?;
            Ok::<(), ClientError>(())
        }
        .await;
        drop(f);
        let verified = written.and_then(|()| {
            let md5 = hex::encode(md5.finalize());
            match (hasher.finish(), rec["checksum"].as_str()) {
                (Some((got, want)), _) if got != want => Err(self.bad_data(format!(
                    "image {id} data does not match its {}: the download is corrupt",
                    rec["os_hash_algo"].as_str().unwrap_or("hash")
                ))),
                (None, Some(want)) if md5 != want => Err(self.bad_data(format!(
                    "image {id} data does not match its checksum: the download is corrupt"
                ))),
                _ => Ok(()),
            }
        });
        if let Err(e) = verified {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(e);
        }
        tokio::fs::rename(&part, dest)
            .await
            .map_err(|e| self.bad_data(format!("cannot write {}: {e}", dest.display())))?;
        Ok(rec)
    }

    /// Stream a file to a queued image as the caller, setting its formats first.
    pub async fn upload_file(
        &self,
        id: &str,
        src: &Path,
        disk_format: &str,
        container_format: &str,
        token: &str,
    ) -> Result<()> {
        let patch = json!([
            {"op": "replace", "path": "/disk_format", "value": disk_format},
            {"op": "replace", "path": "/container_format", "value": container_format},
        ]);
        let (s, v) = self
            .rest
            .send(
                Method::PATCH,
                &format!("/v2/images/{id}"),
                Some(&patch),
                &[(
                    "Content-Type",
                    "application/openstack-images-v2.1-json-patch",
                )],
                Some(token),
            )
            .await?;
        if !s.is_success() {
            return Err(self.rest.fail(s, &v));
        }
        let f = tokio::fs::File::open(src)
            .await
            .map_err(|e| self.bad_data(format!("cannot read {}: {e}", src.display())))?;
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(f));
        let url = format!("{}/v2/images/{id}/file", self.rest.base().await?);
        let resp = self
            .rest
            .http
            .put(&url)
            .header("X-Auth-Token", token)
            .header("Content-Type", "application/octet-stream")
            .timeout(DATA_TIMEOUT)
            .body(body)
            .send()
            .await
            .map_err(|e| self.rest.unreachable(e))?;
        data_status(resp).await?;
        Ok(())
    }

    fn bad_data(&self, message: String) -> ClientError {
        ClientError::Data {
            service: "image",
            message,
        }
    }

    /// Any image API request as the caller: status and JSON body.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
        token: &str,
    ) -> Result<(StatusCode, Value)> {
        self.rest
            .send(method, path, body, headers, Some(token))
            .await
    }

    /// `GET /v2/images?…` with these filters (one page, up to glance's default limit).
    pub async fn list(&self, filters: &[(&str, String)], token: &str) -> Result<Vec<Value>> {
        let mut path = "/v2/images".to_string();
        if !filters.is_empty() {
            let url = reqwest::Url::parse_with_params("http://x/", filters)
                .map_err(|e| self.rest.unreachable(e))?;
            path.push('?');
            path.push_str(url.query().unwrap_or_default());
        }
        let (s, v) = self
            .rest
            .send(Method::GET, &path, None, &[], Some(token))
            .await?;
        if !s.is_success() {
            return Err(self.rest.fail(s, &v));
        }
        Ok(v["images"].as_array().cloned().unwrap_or_default())
    }

    pub async fn delete(&self, id: &str, token: &str) -> Result<()> {
        let _ = self
            .rest
            .send(
                Method::DELETE,
                &format!("/v2/images/{id}"),
                None,
                &[],
                Some(token),
            )
            .await?;
        Ok(())
    }
}

/// A data transfer's response, or the image service's error.
async fn data_status(resp: reqwest::Response) -> Result<reqwest::Response> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    Err(ClientError::Status {
        service: "image",
        status: status.as_u16(),
        body,
    })
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
