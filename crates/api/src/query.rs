//! Query parameters as ordered pairs, with OpenStack's readings of flags and lists.

use axum::extract::{FromRequestParts, RawQuery};
use axum::http::request::Parts;

use crate::error::{ErrorStyle, Fault};

/// The query string as ordered pairs.
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = Fault;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let style = parts
            .extensions
            .get::<ErrorStyle>()
            .copied()
            .unwrap_or_default();
        let RawQuery(q) = RawQuery::from_request_parts(parts, state)
            .await
            .map_err(|_| Fault::bad_request("Malformed query string.").styled(style))?;
        Ok(Params(
            url::form_urlencoded::parse(q.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        ))
    }
}

/// OpenStack's reading of a boolean query value: present and not false-ish.
pub fn truthy(v: &str) -> bool {
    !matches!(
        v.to_ascii_lowercase().as_str(),
        "0" | "false" | "no" | "off" | "n" | "f"
    )
}

impl Params {
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    pub fn has(&self, k: &str) -> bool {
        self.0.iter().any(|(n, _)| n == k)
    }

    /// A flag like `nocatalog` or `effective`: true when present and not false-ish.
    pub fn flag(&self, k: &str) -> bool {
        self.get(k).is_some_and(|v| v.is_empty() || truthy(v))
    }

    /// A boolean filter like `enabled=false`; `None` when absent.
    pub fn bool_filter(&self, k: &str) -> Option<bool> {
        self.get(k).map(|v| v.is_empty() || truthy(v))
    }

    /// Every value of a repeated parameter, as given.
    pub fn all(&self, k: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Comma-separated values of one or more occurrences.
    pub fn list(&self, k: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, _)| n == k)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_lists() {
        let p = Params(vec![
            ("nocatalog".into(), "".into()),
            ("enabled".into(), "False".into()),
            ("tags".into(), "a,b".into()),
            ("tags".into(), "c".into()),
        ]);
        assert!(p.flag("nocatalog"));
        assert!(!p.flag("missing"));
        assert_eq!(p.bool_filter("enabled"), Some(false));
        assert_eq!(p.list("tags"), vec!["a", "b", "c"]);
        assert_eq!(p.all("tags"), vec!["a,b", "c"]);
    }
}
