//! API microversions (nova, placement, cinder…): negotiated per request from
//! `OpenStack-API-Version: <service> X.Y` (or a legacy header such as
//! `X-OpenStack-Nova-API-Version: X.Y`), echoed in the response with `Vary`.
//!
//! [`Negotiator`] is a middleware that stores the chosen [`Version`] as a request
//! extension; handlers take it as an extractor.

use std::fmt;
use std::str::FromStr;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{ErrorStyle, Fault};

/// A microversion `major.minor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u16,
    pub minor: u16,
}

impl Version {
    pub const fn new(major: u16, minor: u16) -> Self {
        Self { major, minor }
    }

    /// True when this version is at least `major.minor`.
    pub fn at_least(self, major: u16, minor: u16) -> bool {
        self >= Version::new(major, minor)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl FromStr for Version {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        let (a, b) = s.trim().split_once('.').ok_or(())?;
        // "2.01" is not a version; digits only, no sign, no leading zeros beyond "0".
        let num = |t: &str| -> Result<u16, ()> {
            if t.is_empty()
                || !t.bytes().all(|c| c.is_ascii_digit())
                || (t.len() > 1 && t.starts_with('0'))
            {
                return Err(());
            }
            t.parse().map_err(|_| ())
        };
        Ok(Version::new(num(a)?, num(b)?))
    }
}

/// What a service supports and how it names itself in the header.
#[derive(Debug, Clone)]
pub struct Negotiator {
    /// The service name used in `OpenStack-API-Version` (`compute`, `placement`, `volume`).
    pub service: &'static str,
    /// A legacy header also accepted (`X-OpenStack-Nova-API-Version`), if any.
    pub legacy_header: Option<&'static str>,
    pub min: Version,
    pub max: Version,
    /// Used when the request names no version (nova: the minimum; placement: the minimum).
    pub default: Version,
    pub style: ErrorStyle,
}

/// Why a requested version was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionError {
    /// Not `X.Y` (or `latest`): 400.
    Malformed(String),
    /// Outside the supported range: 406.
    Unsupported(Version),
}

impl Negotiator {
    /// The version a request asks for, from its headers.
    pub fn choose(&self, headers: &axum::http::HeaderMap) -> Result<Version, VersionError> {
        let mut asked: Option<String> = None;
        for v in headers.get_all("openstack-api-version") {
            let Ok(text) = v.to_str() else { continue };
            // The header may carry several services, comma separated.
            for part in text.split(',') {
                let mut it = part.split_whitespace();
                if let (Some(svc), Some(ver)) = (it.next(), it.next())
                    && svc.eq_ignore_ascii_case(self.service)
                {
                    asked = Some(ver.to_string());
                }
            }
        }
        if asked.is_none()
            && let Some(h) = self.legacy_header
            && let Some(v) = headers.get(h).and_then(|v| v.to_str().ok())
        {
            asked = Some(v.trim().to_string());
        }
        let Some(asked) = asked else {
            return Ok(self.default);
        };
        if asked.eq_ignore_ascii_case("latest") {
            return Ok(self.max);
        }
        let v: Version = asked
            .parse()
            .map_err(|()| VersionError::Malformed(asked.clone()))?;
        if v < self.min || v > self.max {
            return Err(VersionError::Unsupported(v));
        }
        Ok(v)
    }

    fn refuse(&self, e: VersionError) -> Response {
        match e {
            VersionError::Malformed(s) => Fault::bad_request(format!(
                "Invalid API version request string: {s}. Version strings have the form X.Y or 'latest'."
            ))
            .styled(self.style)
            .into_response(),
            VersionError::Unsupported(v) => Fault::new(
                StatusCode::NOT_ACCEPTABLE,
                format!(
                    "Version {v} is not supported by the API. Minimum is {} and maximum is {}.",
                    self.min, self.max
                ),
            )
            .with_code("placement.microversion.unsupported")
            .styled(self.style)
            .into_response(),
        }
    }

    /// Middleware: negotiate, store the [`Version`], echo it on the response.
    pub async fn layer(self: std::sync::Arc<Self>, mut req: Request, next: Next) -> Response {
        let v = match self.choose(req.headers()) {
            Ok(v) => v,
            Err(e) => return self.refuse(e),
        };
        req.extensions_mut().insert(v);
        let mut resp = next.run(req).await;
        let h = resp.headers_mut();
        if let Ok(val) = HeaderValue::from_str(&format!("{} {v}", self.service)) {
            h.insert(HeaderName::from_static("openstack-api-version"), val);
        }
        h.append(
            axum::http::header::VARY,
            HeaderValue::from_static("OpenStack-API-Version"),
        );
        if let Some(legacy) = self.legacy_header
            && let (Ok(name), Ok(val)) = (
                HeaderName::from_bytes(legacy.as_bytes()),
                HeaderValue::from_str(&v.to_string()),
            )
        {
            h.insert(name.clone(), val);
            h.append(
                axum::http::header::VARY,
                HeaderValue::from_bytes(legacy.as_bytes())
                    .unwrap_or(HeaderValue::from_static("X-OpenStack-Nova-API-Version")),
            );
        }
        resp
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Version {
    type Rejection = Fault;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Fault> {
        parts
            .extensions
            .get::<Version>()
            .copied()
            .ok_or_else(Fault::internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    fn nova() -> Negotiator {
        Negotiator {
            service: "compute",
            legacy_header: Some("x-openstack-nova-api-version"),
            min: Version::new(2, 1),
            max: Version::new(2, 96),
            default: Version::new(2, 1),
            style: ErrorStyle::Nova,
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn parses_strictly() {
        assert_eq!("2.47".parse::<Version>(), Ok(Version::new(2, 47)));
        assert!("2".parse::<Version>().is_err());
        assert!("2.x".parse::<Version>().is_err());
        assert!("2.01".parse::<Version>().is_err());
        assert!(" 2.3 ".parse::<Version>().is_ok());
    }

    #[test]
    fn negotiates_from_either_header() {
        let n = nova();
        assert_eq!(n.choose(&headers(&[])), Ok(Version::new(2, 1)));
        assert_eq!(
            n.choose(&headers(&[("openstack-api-version", "compute 2.60")])),
            Ok(Version::new(2, 60))
        );
        assert_eq!(
            n.choose(&headers(&[(
                "openstack-api-version",
                "placement 1.2, compute latest"
            )])),
            Ok(Version::new(2, 96))
        );
        assert_eq!(
            n.choose(&headers(&[("x-openstack-nova-api-version", "2.10")])),
            Ok(Version::new(2, 10))
        );
        assert_eq!(
            n.choose(&headers(&[("openstack-api-version", "compute 3.0")])),
            Err(VersionError::Unsupported(Version::new(3, 0)))
        );
        assert!(matches!(
            n.choose(&headers(&[("openstack-api-version", "compute two")])),
            Err(VersionError::Malformed(_))
        ));
        // another service's version is not ours
        assert_eq!(
            n.choose(&headers(&[("openstack-api-version", "volume 3.5")])),
            Ok(Version::new(2, 1))
        );
    }
}
