//! Time, injectable for tests, and keystone's time formats.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, NaiveDateTime, Utc};

/// The source of "now", in microseconds since the epoch.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now_micros(&self) -> i64;

    fn now(&self) -> i64 {
        self.now_micros().div_euclid(1_000_000)
    }
}

#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_micros(&self) -> i64 {
        db::micros(std::time::SystemTime::now())
    }
}

/// A clock tests move by hand.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(secs: i64) -> Self {
        ManualClock(AtomicI64::new(secs * 1_000_000))
    }

    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs * 1_000_000, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_micros(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

fn dt(secs: i64, micros: u32) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, micros * 1000).unwrap_or_default()
}

/// Token times: `2024-01-02T03:04:05.000000Z` (keystone keeps whole seconds).
pub fn token_time(secs: i64) -> String {
    dt(secs, 0).format("%Y-%m-%dT%H:%M:%S.000000Z").to_string()
}

/// Resource timestamps from microseconds: `2024-01-02T03:04:05.123456` (no zone).
pub fn iso_micros(us: i64) -> String {
    let secs = us.div_euclid(1_000_000);
    let sub = u32::try_from(us.rem_euclid(1_000_000)).unwrap_or(0);
    dt(secs, sub).format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

/// Parse the ISO 8601 forms clients send (`2030-01-01T00:00:00Z`, with or without
/// fraction or zone, or a `+hh:mm` offset) into microseconds since the epoch.
pub fn parse_iso(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.timestamp_micros());
    }
    let bare = s.trim_end_matches('Z');
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(bare, f) {
            return Some(n.and_utc().timestamp_micros());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(bare, "%Y-%m-%d") {
        return d
            .and_hms_opt(0, 0, 0)
            .map(|n| n.and_utc().timestamp_micros());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(token_time(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(iso_micros(1_500_000), "1970-01-01T00:00:01.500000");
        assert_eq!(parse_iso("1970-01-01T00:00:01Z"), Some(1_000_000));
        assert_eq!(parse_iso("1970-01-01T00:00:01.5"), Some(1_500_000));
        assert_eq!(parse_iso("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_iso("yesterday"), None);
        let c = ManualClock::new(10);
        c.advance(5);
        assert_eq!(c.now(), 15);
    }
}
