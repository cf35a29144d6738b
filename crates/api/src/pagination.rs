//! `limit` / `marker` pagination and the `links` objects of collections.

use serde::Serialize;

use crate::error::Fault;

/// Collection links as keystone renders them: `{"self": ..., "previous": null, "next": ...}`.
#[derive(Debug, Clone, Serialize)]
pub struct CollectionLinks {
    #[serde(rename = "self")]
    pub self_: String,
    pub previous: Option<String>,
    pub next: Option<String>,
}

impl CollectionLinks {
    pub fn new(self_url: impl Into<String>) -> Self {
        Self {
            self_: self_url.into(),
            previous: None,
            next: None,
        }
    }
}

/// Parse an optional `limit` query value: a non-negative integer, else 400.
pub fn parse_limit(raw: Option<&str>) -> Result<Option<usize>, Fault> {
    match raw {
        None | Some("") => Ok(None),
        Some(v) => v.parse::<usize>().map(Some).map_err(|_| {
            Fault::bad_request(format!(
                "Invalid limit value: {v:?}; a non-negative integer was expected."
            ))
        }),
    }
}

/// Apply `marker` (exclusive: items after the one with this id) and `limit` to a sorted
/// list. Returns the page and whether more items follow. Unknown markers yield 404.
pub fn page<T>(
    items: Vec<T>,
    id_of: impl Fn(&T) -> &str,
    marker: Option<&str>,
    limit: Option<usize>,
) -> Result<(Vec<T>, bool), Fault> {
    let start = match marker {
        None => 0,
        Some(m) => match items.iter().position(|i| id_of(i) == m) {
            Some(p) => p + 1,
            None => return Err(Fault::not_found(format!("Marker {m} could not be found."))),
        },
    };
    let mut rest: Vec<T> = items.into_iter().skip(start).collect();
    let more = match limit {
        Some(l) if rest.len() > l => {
            rest.truncate(l);
            true
        }
        _ => false,
    };
    Ok((rest, more))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_after_marker() {
        let items = vec!["a", "b", "c", "d"];
        let (p, more) = page(items.clone(), |s| s, Some("a"), Some(2)).unwrap();
        assert_eq!(p, vec!["b", "c"]);
        assert!(more);
        let (p, more) = page(items.clone(), |s| s, Some("c"), Some(2)).unwrap();
        assert_eq!(p, vec!["d"]);
        assert!(!more);
        assert_eq!(
            page(items, |s| s, Some("zz"), None).unwrap_err().status,
            404
        );
    }

    #[test]
    fn limit_must_be_a_number() {
        assert_eq!(parse_limit(Some("5")).unwrap(), Some(5));
        assert_eq!(parse_limit(None).unwrap(), None);
        assert_eq!(parse_limit(Some("-1")).unwrap_err().status, 400);
        assert_eq!(parse_limit(Some("x")).unwrap_err().status, 400);
    }
}
