//! An oslo.policy-compatible rule engine.
//!
//! Rule strings use oslo.policy's language: `@` (always), `!` (never), `rule:NAME`,
//! `role:NAME`, generic `KEY:VALUE` checks where `VALUE` may substitute the target
//! (`project_id:%(project_id)s`, `'member':%(role.name)s`, `True:%(enabled)s`), combined
//! with `and`, `or`, `not` and parentheses (`not` binds tightest, then `and`, then `or`).
//! An empty rule always passes; a rule that fails to parse never does.
//!
//! Comparisons follow Python's: values are compared as `str(value)`, a missing target key
//! makes the check false, roles compare case-insensitively, and a credential that is a list
//! matches when any element does.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

/// A parsed rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    True,
    False,
    Rule(String),
    Role(String),
    Generic { kind: String, value: String },
    And(Vec<Check>),
    Or(Vec<Check>),
    Not(Box<Check>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    And,
    Or,
    Not,
    Check(Check),
}

fn parse_check(s: &str) -> Check {
    match s {
        "@" => return Check::True,
        "!" => return Check::False,
        _ => {}
    }
    let Some((kind, value)) = s.split_once(':') else {
        return Check::False;
    };
    match kind {
        "rule" => Check::Rule(value.to_string()),
        "role" => Check::Role(value.to_string()),
        // Remote HTTP checks are not supported: they fail closed.
        "http" | "https" => Check::False,
        _ => Check::Generic {
            kind: kind.to_string(),
            value: value.to_string(),
        },
    }
}

fn tokenize(rule: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    for tok in rule.split_whitespace() {
        let clean = tok.trim_start_matches('(');
        for _ in 0..(tok.len() - clean.len()) {
            out.push(Tok::Open);
        }
        if clean.is_empty() {
            continue;
        }
        let inner = clean.trim_end_matches(')');
        let trail = clean.len() - inner.len();
        match inner.to_ascii_lowercase().as_str() {
            "and" => out.push(Tok::And),
            "or" => out.push(Tok::Or),
            "not" => out.push(Tok::Not),
            "" => {}
            _ => out.push(Tok::Check(parse_check(inner))),
        }
        for _ in 0..trail {
            out.push(Tok::Close);
        }
    }
    out
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn or_expr(&mut self) -> Option<Check> {
        let mut items = vec![self.and_expr()?];
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            items.push(self.and_expr()?);
        }
        Some(if items.len() == 1 {
            items.remove(0)
        } else {
            Check::Or(items)
        })
    }

    fn and_expr(&mut self) -> Option<Check> {
        let mut items = vec![self.not_expr()?];
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            items.push(self.not_expr()?);
        }
        Some(if items.len() == 1 {
            items.remove(0)
        } else {
            Check::And(items)
        })
    }

    fn not_expr(&mut self) -> Option<Check> {
        match self.next()? {
            Tok::Not => Some(Check::Not(Box::new(self.not_expr()?))),
            Tok::Open => {
                let inner = self.or_expr()?;
                (self.next()? == Tok::Close).then_some(inner)
            }
            Tok::Check(c) => Some(c),
            Tok::Close | Tok::And | Tok::Or => None,
        }
    }
}

/// Parse a rule string. Unparseable rules become [`Check::False`] (fail closed), as in
/// oslo.policy.
pub fn parse(rule: &str) -> Check {
    if rule.trim().is_empty() {
        return Check::True;
    }
    let mut p = Parser {
        toks: tokenize(rule),
        pos: 0,
    };
    match p.or_expr() {
        Some(c) if p.pos == p.toks.len() => c,
        _ => {
            tracing::warn!(rule, "policy rule does not parse; it will always deny");
            Check::False
        }
    }
}

/// A copy of a policy target without null members, at any depth. OpenStack services only
/// put into a target what a request names, and a check on a missing key fails; a null
/// would instead compare equal to a caller's null (`str(None) == str(None)`).
pub fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, x)| !x.is_null())
                .map(|(k, x)| (k.clone(), without_nulls(x)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// Python's `str()` of a JSON value.
pub fn py_str(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("'{k}': {}", py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn py_repr(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{s}'"),
        other => py_str(other),
    }
}

/// Look `key` up in the target: first as a flattened key (`target.project.id`), then as a
/// dotted path through nested objects.
fn lookup<'a>(target: &'a Value, key: &str) -> Option<&'a Value> {
    if let Some(v) = target.get(key) {
        return Some(v);
    }
    let mut cur = target;
    for part in key.split('.') {
        cur = cur.get(part)?;
    }
    Some(cur)
}

/// Python's `template % target` for `%(name)s` placeholders; `None` on a missing key.
fn substitute(template: &str, target: &Value) -> Option<String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('%') {
            out.push('%');
            rest = r;
        } else if let Some(r) = after.strip_prefix('(') {
            let end = r.find(")s")?;
            let key = &r[..end];
            out.push_str(&py_str(lookup(target, key)?));
            rest = &r[end + 2..];
        } else {
            out.push('%');
            rest = after;
        }
    }
    out.push_str(rest);
    Some(out)
}

/// `ast.literal_eval` for the literals rule authors use on the left of a generic check.
fn literal(kind: &str) -> Option<String> {
    let k = kind.trim();
    if k.len() >= 2
        && ((k.starts_with('\'') && k.ends_with('\'')) || (k.starts_with('"') && k.ends_with('"')))
    {
        return Some(k[1..k.len() - 1].to_string());
    }
    match k {
        "True" | "False" | "None" => return Some(k.to_string()),
        _ => {}
    }
    if let Ok(i) = k.parse::<i64>() {
        return Some(i.to_string());
    }
    if k.parse::<f64>().is_ok() && k.contains('.') {
        return Some(k.to_string());
    }
    None
}

fn find_in(creds: &Value, path: &[&str], want: &str) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return want == py_str(creds);
    };
    let Some(v) = creds.get(*first) else {
        return false;
    };
    match v {
        Value::Array(items) if !rest.is_empty() => items.iter().any(|i| find_in(i, rest, want)),
        Value::Array(items) => items.iter().any(|i| want == py_str(i)),
        other => find_in(other, rest, want),
    }
}

/// A rule's default: the rule string and the token scopes it is meant for.
#[derive(Debug, Clone, Copy)]
pub struct RuleDefault {
    pub name: &'static str,
    pub check: &'static str,
    /// `system`, `domain`, `project`; empty means any.
    pub scope_types: &'static [&'static str],
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "policy file {path} is not a YAML/JSON mapping of rule names to rule strings: {reason}"
    )]
    Parse { path: String, reason: String },
}

/// Outcome of an authorization decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
    /// The rule passed but the token's scope is not one the rule is meant for.
    WrongScope,
}

/// A set of parsed rules: defaults overridden by an operator policy file.
#[derive(Debug, Clone, Default)]
pub struct Enforcer {
    rules: HashMap<String, Check>,
    scopes: HashMap<String, &'static [&'static str]>,
    enforce_scope: bool,
}

impl Enforcer {
    pub fn new(defaults: &[RuleDefault], enforce_scope: bool) -> Self {
        let mut e = Enforcer {
            rules: HashMap::new(),
            scopes: HashMap::new(),
            enforce_scope,
        };
        for d in defaults {
            e.rules.insert(d.name.to_string(), parse(d.check));
            e.scopes.insert(d.name.to_string(), d.scope_types);
        }
        e
    }

    /// Override rules with those of a YAML or JSON policy file (`name: "rule string"`).
    pub fn load_overrides(&mut self, path: &Path) -> Result<usize, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let map: HashMap<String, String> =
            serde_yaml_ng::from_str(&text).map_err(|e| PolicyError::Parse {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
        let n = map.len();
        for (k, v) in map {
            self.rules.insert(k, parse(&v));
        }
        Ok(n)
    }

    pub fn set_rule(&mut self, name: &str, rule: &str) {
        self.rules.insert(name.to_string(), parse(rule));
    }

    pub fn has_rule(&self, name: &str) -> bool {
        self.rules.contains_key(name)
    }

    /// Evaluate rule `name` for `creds` against `target`. Unknown rules deny.
    pub fn check(&self, name: &str, target: &Value, creds: &Value) -> bool {
        match self.rules.get(name) {
            Some(c) => self.eval(c, target, creds, 0),
            None => false,
        }
    }

    /// Like [`Enforcer::check`], also honouring the rule's scope types when scope
    /// enforcement is on. `token_scope` is `system`, `domain`, `project` or `None`.
    pub fn decide(
        &self,
        name: &str,
        target: &Value,
        creds: &Value,
        token_scope: Option<&str>,
    ) -> Decision {
        if self.enforce_scope
            && let Some(types) = self.scopes.get(name)
            && !types.is_empty()
            && !token_scope.is_some_and(|s| types.contains(&s))
        {
            return Decision::WrongScope;
        }
        if self.check(name, target, creds) {
            Decision::Allow
        } else {
            Decision::Deny
        }
    }

    /// Evaluate an ad-hoc rule string.
    pub fn check_str(&self, rule: &str, target: &Value, creds: &Value) -> bool {
        self.eval(&parse(rule), target, creds, 0)
    }

    fn eval(&self, c: &Check, target: &Value, creds: &Value, depth: usize) -> bool {
        if depth > 64 {
            tracing::warn!("policy rule recursion too deep; denying");
            return false;
        }
        match c {
            Check::True => true,
            Check::False => false,
            Check::Rule(name) => match self.rules.get(name) {
                Some(r) => self.eval(r, target, creds, depth + 1),
                None => false,
            },
            Check::Role(tmpl) => {
                let Some(want) = substitute(tmpl, target) else {
                    return false;
                };
                let want = want.to_lowercase();
                match creds.get("roles") {
                    Some(Value::Array(roles)) => roles
                        .iter()
                        .any(|r| r.as_str().is_some_and(|s| s.to_lowercase() == want)),
                    _ => false,
                }
            }
            Check::Generic { kind, value } => {
                let Some(want) = substitute(value, target) else {
                    return false;
                };
                if let Some(lit) = literal(kind) {
                    return want == lit;
                }
                let path: Vec<&str> = kind.split('.').collect();
                find_in(creds, &path, &want)
            }
            Check::And(items) => items.iter().all(|i| self.eval(i, target, creds, depth + 1)),
            Check::Or(items) => items.iter().any(|i| self.eval(i, target, creds, depth + 1)),
            Check::Not(inner) => !self.eval(inner, target, creds, depth + 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn creds(roles: &[&str], project: &str) -> Value {
        json!({"roles": roles, "project_id": project, "user_id": "u1",
               "system_scope": null, "domain_id": null, "is_admin_project": true})
    }

    #[test]
    fn parses_precedence_like_oslo() {
        assert_eq!(
            parse("role:a or role:b and role:c"),
            Check::Or(vec![
                Check::Role("a".into()),
                Check::And(vec![Check::Role("b".into()), Check::Role("c".into())])
            ])
        );
        assert_eq!(
            parse("not role:a and (role:b or role:c)"),
            Check::And(vec![
                Check::Not(Box::new(Check::Role("a".into()))),
                Check::Or(vec![Check::Role("b".into()), Check::Role("c".into())])
            ])
        );
        assert_eq!(parse(""), Check::True);
        assert_eq!(parse("@"), Check::True);
        assert_eq!(parse("!"), Check::False);
        assert_eq!(parse("((role:a)"), Check::False);
        assert_eq!(parse("role:a or"), Check::False);
        assert_eq!(parse("nocolon"), Check::False);
        assert_eq!(parse("(role:a) AND (role:b)"), parse("role:a and role:b"));
    }

    #[test]
    fn evaluates_roles_rules_and_targets() {
        let e = Enforcer::new(
            &[
                RuleDefault {
                    name: "admin_required",
                    check: "role:admin",
                    scope_types: &[],
                },
                RuleDefault {
                    name: "owner",
                    check: "rule:admin_required or (role:member and project_id:%(project_id)s)",
                    scope_types: &[],
                },
            ],
            false,
        );
        let t = json!({"project_id": "p1"});
        assert!(e.check("owner", &t, &creds(&["member"], "p1")));
        assert!(!e.check("owner", &t, &creds(&["member"], "p2")));
        assert!(
            e.check("owner", &t, &creds(&["Admin"], "p2")),
            "roles are case-insensitive"
        );
        assert!(!e.check("owner", &t, &creds(&["reader"], "p1")));
        assert!(!e.check("missing", &t, &creds(&["admin"], "p1")));
        // a missing target key makes the check false
        assert!(!e.check("owner", &json!({}), &creds(&["member"], "p1")));
    }

    #[test]
    fn generic_checks_follow_python_semantics() {
        let e = Enforcer::default();
        let c = creds(&["member"], "p1");
        // literal on the left
        assert!(e.check_str(
            "'member':%(role.name)s",
            &json!({"role": {"name": "member"}}),
            &c
        ));
        assert!(e.check_str("True:%(enabled)s", &json!({"enabled": true}), &c));
        assert!(!e.check_str("True:%(enabled)s", &json!({"enabled": false}), &c));
        // dotted creds and flattened targets
        assert!(e.check_str(
            "project_id:%(target.project.id)s",
            &json!({"target.project.id": "p1"}),
            &c
        ));
        assert!(e.check_str(
            "project_id:%(target.project.id)s",
            &json!({"target": {"project": {"id": "p1"}}}),
            &c
        ));
        // None compares as the string 'None', as in oslo.policy
        assert!(e.check_str("domain_id:%(d)s", &json!({"d": null}), &c));
        // list credentials match any element
        assert!(e.check_str("roles:member", &json!({}), &c));
        assert!(e.check_str("is_admin_project:True", &json!({}), &c));
        assert!(e.check_str("not role:admin", &json!({}), &c));
        assert!(!e.check_str("http://example.com", &json!({}), &c));
    }

    #[test]
    fn scope_types_are_enforced_when_asked() {
        let d = [RuleDefault {
            name: "sys",
            check: "role:admin",
            scope_types: &["system"],
        }];
        let admin = creds(&["admin"], "p1");
        let lax = Enforcer::new(&d, false);
        assert_eq!(
            lax.decide("sys", &json!({}), &admin, Some("project")),
            Decision::Allow
        );
        let strict = Enforcer::new(&d, true);
        assert_eq!(
            strict.decide("sys", &json!({}), &admin, Some("project")),
            Decision::WrongScope
        );
        assert_eq!(
            strict.decide("sys", &json!({}), &admin, Some("system")),
            Decision::Allow
        );
    }

    #[test]
    fn policy_file_overrides_defaults() {
        let d = [RuleDefault {
            name: "x",
            check: "role:admin",
            scope_types: &[],
        }];
        let mut e = Enforcer::new(&d, false);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("policy.yaml");
        std::fs::write(&p, "\"x\": \"role:member\"\n# comment\ny: \"@\"\n").unwrap();
        assert_eq!(e.load_overrides(&p).unwrap(), 2);
        assert!(e.check("x", &json!({}), &creds(&["member"], "p")));
        assert!(e.check("y", &json!({}), &creds(&[], "p")));
        std::fs::write(&p, "[1, 2]").unwrap();
        assert!(e.load_overrides(&p).is_err());
    }
}
