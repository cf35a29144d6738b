//! `transport_url` parsing, as oslo.messaging reads it:
//! `rabbit://user:pass@host1:5672,user:pass@host2:5672/vhost?option=value`.

use lapin::uri::{AMQPAuthority, AMQPQueryString, AMQPScheme, AMQPUri, AMQPUserInfo};
use percent_encoding::percent_decode_str;

use crate::{BusError, BusOptions};

/// A parsed transport URL.
#[derive(Debug, Clone)]
pub(crate) enum TransportUrl {
    Memory,
    Rabbit(RabbitUrl),
}

#[derive(Debug, Clone)]
pub(crate) struct RabbitUrl {
    /// One URI per broker host, tried in turn.
    pub hosts: Vec<AMQPUri>,
    /// The URL with its passwords masked, for logs.
    pub display: String,
    /// Options set in the query string; they override [`BusOptions`].
    pub overrides: Vec<(String, String)>,
}

fn invalid(url: &str, reason: impl Into<String>) -> BusError {
    BusError::InvalidUrl {
        url: mask(url),
        reason: reason.into(),
    }
}

/// Mask passwords: `rabbit://user:***@host/`.
pub(crate) fn mask(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (netloc, tail) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let hosts: Vec<String> = netloc
        .split(',')
        .map(|h| match h.rsplit_once('@') {
            Some((userinfo, hostport)) => match userinfo.split_once(':') {
                Some((user, _)) => format!("{user}:***@{hostport}"),
                None => h.to_string(),
            },
            None => h.to_string(),
        })
        .collect();
    format!("{scheme}://{}{tail}", hosts.join(","))
}

fn decode(s: &str) -> Result<String, String> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|e| e.to_string())
}

pub(crate) fn parse(url: &str) -> Result<TransportUrl, BusError> {
    let u = url.trim();
    if u.is_empty() {
        return Ok(TransportUrl::Memory);
    }
    let Some((scheme, rest)) = u.split_once(':') else {
        return Err(BusError::UnsupportedUrl(mask(u)));
    };
    let mut tls = match scheme.to_ascii_lowercase().as_str() {
        "memory" | "fake" | "inproc" => return Ok(TransportUrl::Memory),
        "rabbit" | "amqp" => false,
        "amqps" => true,
        _ => return Err(BusError::UnsupportedUrl(mask(u))),
    };
    let Some(rest) = rest.strip_prefix("//") else {
        return Err(invalid(u, "expected SCHEME://host"));
    };
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, q),
        None => (rest, ""),
    };
    let (netloc, path) = match rest.split_once('/') {
        Some((n, p)) => (n, Some(p)),
        None => (rest, None),
    };

    let mut overrides = Vec::new();
    let mut qs = AMQPQueryString::default();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = decode(k).map_err(|e| invalid(u, e))?;
        let v = decode(v).map_err(|e| invalid(u, e))?;
        let bad = |what: &str| invalid(u, format!("query option {k}={v}: {what}"));
        match k.as_str() {
            "heartbeat" => qs.heartbeat = Some(v.parse().map_err(|_| bad("not a number"))?),
            "frame_max" => qs.frame_max = Some(v.parse().map_err(|_| bad("not a number"))?),
            "channel_max" => qs.channel_max = Some(v.parse().map_err(|_| bad("not a number"))?),
            "connection_timeout" => {
                qs.connection_timeout = Some(v.parse().map_err(|_| bad("not a number"))?)
            }
            "ssl" => tls = parse_bool(&v).ok_or_else(|| bad("not a boolean"))?,
            _ => overrides.push((k, v)),
        }
    }
    // Validate the overrides now, so a typo fails at start-up.
    BusOptions::default()
        .apply_overrides(&overrides)
        .map_err(|e| invalid(u, e))?;

    let vhost = match path {
        // oslo: an empty virtual host is the default one.
        None | Some("") => "/".to_string(),
        Some(p) => decode(p).map_err(|e| invalid(u, e))?,
    };
    let scheme = if tls {
        AMQPScheme::AMQPS
    } else {
        AMQPScheme::AMQP
    };

    let mut hosts = Vec::new();
    let mut last_user: Option<AMQPUserInfo> = None;
    for entry in netloc.split(',') {
        let (userinfo, hostport) = match entry.rsplit_once('@') {
            Some((ui, hp)) => (Some(ui), hp),
            None => (None, entry),
        };
        let user = match userinfo {
            Some(ui) => {
                let (name, pass) = ui.split_once(':').unwrap_or((ui, ""));
                AMQPUserInfo {
                    username: decode(name).map_err(|e| invalid(u, e))?,
                    password: decode(pass).map_err(|e| invalid(u, e))?,
                }
            }
            None => last_user.clone().unwrap_or_default(),
        };
        last_user = Some(user.clone());
        let (host, port) = split_host_port(hostport).map_err(|e| invalid(u, e))?;
        let host = if host.is_empty() {
            "localhost".to_string()
        } else {
            host
        };
        hosts.push(AMQPUri {
            scheme: scheme.clone(),
            authority: AMQPAuthority {
                userinfo: user,
                host,
                port: port.unwrap_or_else(|| scheme.default_port()),
            },
            vhost: vhost.clone(),
            query: qs.clone(),
        });
    }
    Ok(TransportUrl::Rabbit(RabbitUrl {
        hosts,
        display: mask(u),
        overrides,
    }))
}

fn split_host_port(s: &str) -> Result<(String, Option<u16>), String> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("unclosed [ in {s:?}"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().map_err(|_| format!("bad port in {s:?}"))?),
            None if after.is_empty() => None,
            None => return Err(format!("bad host {s:?}")),
        };
        return Ok((host.to_string(), port));
    }
    match s.rsplit_once(':') {
        Some((h, p)) => Ok((
            decode(h)?,
            Some(p.parse().map_err(|_| format!("bad port in {s:?}"))?),
        )),
        None => Ok((decode(s)?, None)),
    }
}

pub(crate) fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn rabbit(u: &str) -> RabbitUrl {
        match parse(u).unwrap() {
            TransportUrl::Rabbit(r) => r,
            TransportUrl::Memory => panic!("memory"),
        }
    }

    #[test]
    fn memory_urls() {
        for u in ["", "  ", "memory://", "fake://", "memory:"] {
            assert!(matches!(parse(u).unwrap(), TransportUrl::Memory), "{u}");
        }
        assert!(matches!(
            parse("kafka://x").unwrap_err(),
            BusError::UnsupportedUrl(_)
        ));
    }

    #[test]
    fn oslo_style_rabbit_url() {
        let r = rabbit(
            "rabbit://nova:s%40cret@10.0.0.1:5673,10.0.0.2/openstack?control_exchange=nova&heartbeat=30",
        );
        assert_eq!(r.hosts.len(), 2);
        let a = &r.hosts[0];
        assert_eq!(a.authority.userinfo.username, "nova");
        assert_eq!(a.authority.userinfo.password, "s@cret");
        assert_eq!(a.authority.host, "10.0.0.1");
        assert_eq!(a.authority.port, 5673);
        assert_eq!(a.vhost, "openstack");
        assert_eq!(a.query.heartbeat, Some(30));
        let b = &r.hosts[1];
        assert_eq!(
            b.authority.userinfo.username, "nova",
            "credentials carry over"
        );
        assert_eq!(b.authority.port, 5672);
        assert_eq!(
            r.overrides,
            vec![("control_exchange".to_string(), "nova".to_string())]
        );
        assert!(!r.display.contains("s%40cret"));
        assert!(r.display.contains("nova:***@10.0.0.1"));
    }

    #[test]
    fn vhosts_defaults_and_tls() {
        assert_eq!(
            rabbit("amqp://guest:guest@127.0.0.1:5672/%2f").hosts[0].vhost,
            "/"
        );
        assert_eq!(rabbit("rabbit://h/").hosts[0].vhost, "/");
        assert_eq!(rabbit("rabbit://h").hosts[0].vhost, "/");
        let r = rabbit("rabbit://h");
        assert_eq!(r.hosts[0].authority.userinfo.username, "guest");
        assert_eq!(
            rabbit("rabbit://[::1]:5999/").hosts[0].authority.host,
            "::1"
        );
        let t = rabbit("rabbit://h/?ssl=1");
        assert_eq!(t.hosts[0].scheme, AMQPScheme::AMQPS);
        assert_eq!(t.hosts[0].authority.port, 5671);
        assert_eq!(rabbit("amqps://h").hosts[0].scheme, AMQPScheme::AMQPS);
    }

    #[test]
    fn bad_urls() {
        assert!(parse("rabbit:nohost").is_err());
        assert!(parse("rabbit://h:notaport/").is_err());
        assert!(parse("rabbit://h/?heartbeat=x").is_err());
        assert!(parse("rabbit://h/?prefetch=lots").is_err());
        assert!(parse("rabbit://h/?no_such_option=1").is_err());
        let e = parse("rabbit://u:secret@h:x/").unwrap_err().to_string();
        assert!(!e.contains("secret"), "{e}");
    }
}
