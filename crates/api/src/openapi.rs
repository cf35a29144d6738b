//! Routers that describe themselves: every route is registered together with its
//! operations' summaries, so the OpenAPI document of a service is generated from the very
//! table that builds its router and cannot drift from it.
//!
//! ```ignore
//! let r = api::route!(Routes::new(), "/v3/projects",
//!     get(list, "List projects"), post(create, "Create a project"));
//! ```

use axum::Router;
use axum::routing::MethodRouter;
use serde_json::{Map, Value, json};

/// One operation: HTTP method (lower case) and summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
}

/// An axum router plus the operations it serves.
#[derive(Debug)]
pub struct Routes<S = ()> {
    router: Router<S>,
    ops: Vec<Operation>,
}

impl<S: Clone + Send + Sync + 'static> Default for Routes<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    pub fn new() -> Self {
        Routes {
            router: Router::new(),
            ops: Vec::new(),
        }
    }

    /// Add a path; use the [`route!`](crate::route) macro, which keeps `ops` and the
    /// method router in step.
    pub fn route(
        mut self,
        path: &'static str,
        mr: MethodRouter<S>,
        ops: &[(&'static str, &'static str)],
    ) -> Self {
        self.router = self.router.route(path, mr);
        self.ops
            .extend(ops.iter().map(|(method, summary)| Operation {
                method,
                path,
                summary,
            }));
        self
    }

    pub fn merge(mut self, other: Routes<S>) -> Self {
        self.router = self.router.merge(other.router);
        self.ops.extend(other.ops);
        self
    }

    pub fn operations(&self) -> &[Operation] {
        &self.ops
    }

    /// Split into the router and its operations.
    pub fn into_parts(self) -> (Router<S>, Vec<Operation>) {
        (self.router, self.ops)
    }
}

/// Register a path with one or more `method(handler, "summary")` operations.
#[macro_export]
macro_rules! route {
    ($routes:expr, $path:literal, $m:ident($h:expr, $doc:literal) $(, $ms:ident($hs:expr, $docs:literal))* $(,)?) => {
        $routes.route(
            $path,
            ::axum::routing::$m($h)$(.$ms($hs))*,
            &[(stringify!($m), $doc) $(, (stringify!($ms), $docs))*],
        )
    };
}

fn path_params(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}})
        })
        .collect()
}

/// Whether the committed `docs/openapi/<service>.json` of the workspace (found from a
/// crate's `CARGO_MANIFEST_DIR`) is `doc`; the error says how to regenerate it.
pub fn check_committed(manifest_dir: &str, service: &str, doc: &Value) -> Result<(), String> {
    let path = std::path::Path::new(manifest_dir)
        .join("../../docs/openapi")
        .join(format!("{service}.json"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let committed: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if &committed == doc {
        Ok(())
    } else {
        Err(format!(
            "docs/openapi/{service}.json is stale: run `ferrostack openapi {service} > docs/openapi/{service}.json`"
        ))
    }
}

/// An OpenAPI 3.1 document for the operations. Requests and responses are JSON objects;
/// every operation but version discovery takes an `X-Auth-Token`.
pub fn document(title: &str, version: &str, ops: &[Operation], public: &[&str]) -> Value {
    let mut paths: Map<String, Value> = Map::new();
    let mut sorted: Vec<&Operation> = ops.iter().collect();
    sorted.sort_by_key(|o| (o.path, o.method));
    for op in sorted {
        let entry = paths
            .entry(op.path.to_string())
            .or_insert_with(|| json!({}));
        let mut o = json!({
            "summary": op.summary,
            "operationId": format!("{}:{}", op.method, op.path),
            "parameters": path_params(op.path),
            "responses": {
                "default": {"description": "An OpenStack response (JSON body or empty)."},
            },
        });
        if matches!(op.method, "post" | "put" | "patch") {
            o["requestBody"] = json!({
                "required": false,
                "content": {"application/json": {"schema": {"type": "object"}}},
            });
        }
        if public
            .iter()
            .any(|p| (op.method.to_string() + " " + op.path) == *p)
        {
            o["security"] = json!([]);
        }
        entry[op.method] = o;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "components": {"securitySchemes": {
            "token": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"},
        }},
        "security": [{"token": []}],
        "paths": paths,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn a() -> &'static str {
        "a"
    }
    async fn b() -> &'static str {
        "b"
    }

    #[test]
    fn routes_and_document_come_from_one_table() {
        let r: Routes = crate::route!(
            Routes::new(),
            "/v3/things/{thing_id}",
            get(a, "Show a thing"),
            delete(b, "Delete a thing")
        );
        let r = r.merge(crate::route!(
            Routes::new(),
            "/v3/things",
            post(b, "Create a thing")
        ));
        assert_eq!(r.operations().len(), 3);
        let doc = document("t", "1", r.operations(), &["post /v3/things"]);
        let get = &doc["paths"]["/v3/things/{thing_id}"]["get"];
        assert_eq!(get["summary"], "Show a thing");
        assert_eq!(get["parameters"][0]["name"], "thing_id");
        assert!(doc["paths"]["/v3/things"]["post"]["requestBody"].is_object());
        assert_eq!(doc["paths"]["/v3/things"]["post"]["security"], json!([]));
    }
}
