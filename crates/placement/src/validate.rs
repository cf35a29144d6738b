//! A small JSON Schema (draft 4 subset) validator for request bodies and query strings.
//!
//! Placement describes every request body and query string with a JSON schema and
//! reports violations in the words of Python's `jsonschema` ("'name' is a required
//! property", "Failed validating 'maxLength'"); clients and operators know those
//! messages, so the schemas here are written the same way and errors read the same.
//!
//! Supported keywords: `type`, `properties`, `required`, `additionalProperties`,
//! `patternProperties`, `minProperties`, `items`, `minItems`, `uniqueItems`, `minLength`,
//! `maxLength`, `minimum`, `maximum`, `pattern`, `format` (`uuid`), `enum`, `anyOf`.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use regex::Regex;
use serde_json::{Map, Value};

/// A violation: the message and the failing keyword with its schema path.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub message: String,
    pub keyword: &'static str,
    pub schema_path: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}\n\nFailed validating '{}' in schema{}",
            self.message, self.keyword, self.schema_path
        )
    }
}

/// Validate `instance` against `schema`; the first violation found, if any.
pub fn validate(instance: &Value, schema: &Value) -> Result<(), Violation> {
    check(instance, schema, "")
}

fn regex(pattern: &str) -> Option<Regex> {
    static CACHE: OnceLock<Mutex<HashMap<String, Regex>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut guard = match cache.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    if let Some(r) = guard.get(pattern) {
        return Some(r.clone());
    }
    let r = Regex::new(pattern).ok()?;
    guard.insert(pattern.to_string(), r.clone());
    Some(r)
}

/// Python's `search` semantics: the pattern may match anywhere unless anchored.
fn matches(pattern: &str, s: &str) -> bool {
    regex(pattern).is_some_and(|r| r.is_match(s))
}

/// Python's `repr` of a JSON value, as jsonschema prints instances.
pub fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => py_str_repr(s),
        Value::Array(a) => format!("[{}]", a.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("{}: {}", py_str_repr(k), py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn py_str_repr(s: &str) -> String {
    if s.contains('\'') && !s.contains('"') {
        format!("\"{s}\"")
    } else {
        format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

fn type_matches(v: &Value, t: &str) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        _ => false,
    }
}

pub fn is_uuid_like(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok()
}

fn fail(message: String, keyword: &'static str, path: &str) -> Result<(), Violation> {
    Err(Violation {
        message,
        keyword,
        schema_path: path.to_string(),
    })
}

fn check(inst: &Value, schema: &Value, path: &str) -> Result<(), Violation> {
    let Some(s) = schema.as_object() else {
        return Ok(());
    };
    if let Some(t) = s.get("type") {
        let ok = match t {
            Value::String(t) => type_matches(inst, t),
            Value::Array(ts) => ts
                .iter()
                .filter_map(Value::as_str)
                .any(|t| type_matches(inst, t)),
            _ => true,
        };
        if !ok {
            let want = match t {
                Value::String(t) => format!("'{t}'"),
                other => py_repr(other),
            };
            return fail(
                format!("{} is not of type {want}", py_repr(inst)),
                "type",
                path,
            );
        }
    }
    if let Some(Value::Array(options)) = s.get("enum")
        && !options.contains(inst)
    {
        return fail(
            format!(
                "{} is not one of {}",
                py_repr(inst),
                py_repr(&Value::Array(options.clone()))
            ),
            "enum",
            path,
        );
    }
    if let Some(Value::Array(any)) = s.get("anyOf") {
        let ok = any
            .iter()
            .enumerate()
            .any(|(i, sub)| check(inst, sub, &format!("{path}['anyOf'][{i}]")).is_ok());
        if !ok {
            return fail(
                format!(
                    "{} is not valid under any of the given schemas",
                    py_repr(inst)
                ),
                "anyOf",
                path,
            );
        }
    }
    match inst {
        Value::Object(o) => check_object(o, inst, s, path)?,
        Value::Array(a) => check_array(a, inst, s, path)?,
        Value::String(st) => check_string(st, inst, s, path)?,
        Value::Number(_) => check_number(inst, s, path)?,
        _ => {}
    }
    Ok(())
}

fn check_object(
    o: &Map<String, Value>,
    inst: &Value,
    s: &Map<String, Value>,
    path: &str,
) -> Result<(), Violation> {
    if let Some(min) = s.get("minProperties").and_then(Value::as_u64)
        && (o.len() as u64) < min
    {
        return fail(
            format!("{} does not have enough properties", py_repr(inst)),
            "minProperties",
            path,
        );
    }
    if let Some(Value::Array(req)) = s.get("required") {
        for r in req.iter().filter_map(Value::as_str) {
            if !o.contains_key(r) {
                return fail(format!("'{r}' is a required property"), "required", path);
            }
        }
    }
    let props = s.get("properties").and_then(Value::as_object);
    let pattern_props = s.get("patternProperties").and_then(Value::as_object);
    // Sorted keys for stable messages.
    let mut keys: Vec<&String> = o.keys().collect();
    keys.sort();
    for k in &keys {
        let v = &o[k.as_str()];
        if let Some(sub) = props.and_then(|p| p.get(k.as_str())) {
            check(v, sub, &format!("{path}['properties']['{k}']"))?;
        }
        if let Some(pp) = pattern_props {
            for (pat, sub) in pp {
                if matches(pat, k) {
                    check(v, sub, &format!("{path}['patternProperties']['{pat}']"))?;
                }
            }
        }
    }
    match s.get("additionalProperties") {
        Some(Value::Bool(false)) => {
            let extra: Vec<&String> = keys
                .iter()
                .copied()
                .filter(|k| {
                    !props.is_some_and(|p| p.contains_key(k.as_str()))
                        && !pattern_props.is_some_and(|pp| pp.keys().any(|pat| matches(pat, k)))
                })
                .collect();
            if !extra.is_empty() {
                if let Some(pp) = pattern_props {
                    let mut pats: Vec<String> = pp.keys().map(|p| py_str_repr(p)).collect();
                    pats.sort();
                    let verb = if extra.len() == 1 { "does" } else { "do" };
                    return fail(
                        format!(
                            "{} {verb} not match any of the regexes: {}",
                            extra
                                .iter()
                                .map(|k| py_str_repr(k))
                                .collect::<Vec<_>>()
                                .join(", "),
                            pats.join(", ")
                        ),
                        "additionalProperties",
                        path,
                    );
                }
                let verb = if extra.len() == 1 { "was" } else { "were" };
                return fail(
                    format!(
                        "Additional properties are not allowed ({} {verb} unexpected)",
                        extra
                            .iter()
                            .map(|k| py_str_repr(k))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    "additionalProperties",
                    path,
                );
            }
        }
        Some(sub @ Value::Object(_)) => {
            for k in &keys {
                let known = props.is_some_and(|p| p.contains_key(k.as_str()))
                    || pattern_props.is_some_and(|pp| pp.keys().any(|pat| matches(pat, k)));
                if !known {
                    check(
                        &o[k.as_str()],
                        sub,
                        &format!("{path}['additionalProperties']"),
                    )?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn check_array(
    a: &[Value],
    inst: &Value,
    s: &Map<String, Value>,
    path: &str,
) -> Result<(), Violation> {
    if let Some(min) = s.get("minItems").and_then(Value::as_u64)
        && (a.len() as u64) < min
    {
        return fail(format!("{} is too short", py_repr(inst)), "minItems", path);
    }
    if s.get("uniqueItems") == Some(&Value::Bool(true)) {
        for (i, x) in a.iter().enumerate() {
            if a[..i].contains(x) {
                return fail(
                    format!("{} has non-unique elements", py_repr(inst)),
                    "uniqueItems",
                    path,
                );
            }
        }
    }
    if let Some(items) = s.get("items") {
        for v in a {
            check(v, items, &format!("{path}['items']"))?;
        }
    }
    Ok(())
}

fn check_string(
    st: &str,
    inst: &Value,
    s: &Map<String, Value>,
    path: &str,
) -> Result<(), Violation> {
    let len = st.chars().count() as u64;
    if let Some(min) = s.get("minLength").and_then(Value::as_u64)
        && len < min
    {
        let msg = if min == 1 {
            format!("{} should be non-empty", py_repr(inst))
        } else {
            format!("{} is too short", py_repr(inst))
        };
        return fail(msg, "minLength", path);
    }
    if let Some(max) = s.get("maxLength").and_then(Value::as_u64)
        && len > max
    {
        return fail(format!("{} is too long", py_repr(inst)), "maxLength", path);
    }
    if let Some(p) = s.get("pattern").and_then(Value::as_str)
        && !matches(p, st)
    {
        return fail(
            format!("{} does not match {}", py_repr(inst), py_str_repr(p)),
            "pattern",
            path,
        );
    }
    if s.get("format").and_then(Value::as_str) == Some("uuid") && !is_uuid_like(st) {
        return fail(format!("{} is not a 'uuid'", py_repr(inst)), "format", path);
    }
    Ok(())
}

fn check_number(inst: &Value, s: &Map<String, Value>, path: &str) -> Result<(), Violation> {
    let Some(x) = inst.as_f64() else {
        return Ok(());
    };
    if let Some(min) = s.get("minimum")
        && let Some(m) = min.as_f64()
        && x < m
    {
        return fail(
            format!(
                "{} is less than the minimum of {}",
                py_repr(inst),
                py_repr(min)
            ),
            "minimum",
            path,
        );
    }
    if let Some(max) = s.get("maximum")
        && let Some(m) = max.as_f64()
        && x > m
    {
        return fail(
            format!(
                "{} is greater than the maximum of {}",
                py_repr(inst),
                py_repr(max)
            ),
            "maximum",
            path,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_read_like_jsonschema() {
        let schema = json!({
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 5},
                "uuid": {"type": "string", "format": "uuid"},
                "n": {"type": "integer", "minimum": 1},
            },
            "required": ["name"],
            "additionalProperties": false,
        });
        let e = validate(&json!({}), &schema).unwrap_err();
        assert_eq!(e.message, "'name' is a required property");
        let e = validate(&json!({"name": "toolong"}), &schema).unwrap_err();
        assert!(e.to_string().contains("Failed validating 'maxLength'"));
        let e = validate(&json!({"name": "a", "x": 1}), &schema).unwrap_err();
        assert_eq!(
            e.message,
            "Additional properties are not allowed ('x' was unexpected)"
        );
        let e = validate(&json!({"name": "a", "n": 0}), &schema).unwrap_err();
        assert_eq!(e.message, "0 is less than the minimum of 1");
        let e = validate(&json!({"name": "a", "uuid": "nope"}), &schema).unwrap_err();
        assert!(e.to_string().contains("Failed validating 'format'"));
        let e = validate(&json!({"name": 1}), &schema).unwrap_err();
        assert_eq!(e.message, "1 is not of type 'string'");
        assert!(validate(&json!({"name": "a", "n": 3}), &schema).is_ok());
    }

    #[test]
    fn pattern_properties_and_any_of() {
        let schema = json!({
            "type": "object",
            "patternProperties": {"^[A-Z0-9_]+$": {"type": "integer"}},
            "additionalProperties": false,
        });
        let e = validate(&json!({"cow": 1}), &schema).unwrap_err();
        assert!(e.message.contains("does not match any of the regexes"));
        let s2 = json!({"anyOf": [{"type": "string", "format": "uuid"}, {"type": "null"}]});
        assert!(validate(&Value::Null, &s2).is_ok());
        assert!(validate(&json!("x"), &s2).is_err());
    }
}
