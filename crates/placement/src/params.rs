//! Placement's query-string grammar: `resources=VCPU:1,MEMORY_MB:512`,
//! `required=T1,!T2` / `required=in:T1,T2`, `member_of=in:A,B` / `!A` / `!in:A,B`,
//! `in_tree=UUID`, and the granular request groups of `GET /allocation_candidates`.

use std::collections::{BTreeMap, BTreeSet};

use api::microversion::Version;
use api::query::Params;
use regex::Regex;
use serde_json::{Map, Value};

use crate::candidates::{Group, GroupPolicy, Wide};
use crate::error::{Error, Result, codes};
use crate::validate::is_uuid_like;

/// The query string as a JSON object for schema validation (the last value of a
/// repeated key wins, as in webob's `dict(req.GET)`).
pub fn as_object(p: &Params) -> Value {
    let mut m = Map::new();
    for (k, v) in &p.0 {
        m.insert(k.clone(), Value::String(v.clone()));
    }
    Value::Object(m)
}

/// Validate a query string against a schema: 400 "Invalid query string parameters".
pub fn check(p: &Params, schema: &Value) -> Result<()> {
    crate::validate::validate(&as_object(p), schema)
        .map_err(|v| Error::bad(format!("Invalid query string parameters: {v}")))
}

/// `VCPU:2,MEMORY_MB:1024` into amounts by class.
pub fn resources(qs: &str) -> Result<BTreeMap<String, i64>> {
    if qs.trim().is_empty() {
        return Err(Error::bad(
            "Badly formed resources parameter. Expected resources query string parameter \
             in form: ?resources=VCPU:2,MEMORY_MB:1024. Got: empty string.",
        ));
    }
    let mut out = BTreeMap::new();
    for part in qs.split(',') {
        let mut it = part.split(':');
        let (Some(rc), Some(amount), None) = (it.next(), it.next(), it.next()) else {
            return Err(Error::bad(format!(
                "Badly formed resources parameter. Expected resources query string \
                 parameter in form: ?resources=VCPU:2,MEMORY_MB:1024. Got: {part}."
            )));
        };
        let Ok(n) = amount.trim().parse::<i64>() else {
            return Err(Error::bad(format!(
                "Requested resource {rc} expected positive integer amount. Got: {amount}."
            )));
        };
        if n < 1 {
            return Err(Error::bad(format!(
                "Requested resource {rc} requires amount >= 1. Got: {n}."
            )));
        }
        out.insert(rc.to_string(), n);
    }
    Ok(out)
}

/// Required (all of these any-of sets) and forbidden traits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Traits {
    pub required: Vec<BTreeSet<String>>,
    pub forbidden: BTreeSet<String>,
}

impl Traits {
    pub fn names(&self) -> BTreeSet<String> {
        self.required
            .iter()
            .flatten()
            .chain(self.forbidden.iter())
            .cloned()
            .collect()
    }
}

/// One `required` value.
pub fn traits_value(val: &str, allow_forbidden: bool, allow_any: bool) -> Result<Traits> {
    if let Some(rest) = val.strip_prefix("in:") {
        if !allow_any {
            return Err(Error::bad(format!(
                "Invalid query string parameters: The format 'in:HW_CPU_X86_VMX,CUSTOM_MAGIC' \
                 only supported since microversion 1.39. Got: {val}"
            )));
        }
        let any: BTreeSet<String> = rest.split(',').map(|s| s.trim().to_string()).collect();
        if any.iter().any(String::is_empty) {
            return Err(Error::bad(format!(
                "Invalid query string parameters: Expected 'required' parameter value of \
                 the form: in:HW_CPU_X86_VMX,CUSTOM_MAGIC. Got an empty trait in: {val}"
            )));
        }
        if any.iter().any(|t| t.starts_with('!')) {
            return Err(Error::bad(format!(
                "Invalid query string parameters: The format 'in:HW_CPU_X86_VMX,CUSTOM_MAGIC' \
                 does not support forbidden traits. Got: {val}"
            )));
        }
        return Ok(Traits {
            required: vec![any],
            forbidden: BTreeSet::new(),
        });
    }
    let all: Vec<String> = val.split(',').map(|s| s.trim().to_string()).collect();
    let forbidden: BTreeSet<String> = all
        .iter()
        .filter(|t| t.starts_with('!'))
        .map(|t| t.trim_start_matches('!').to_string())
        .collect();
    if all.iter().any(String::is_empty) || forbidden.iter().any(String::is_empty) {
        let form = if allow_forbidden {
            "HW_CPU_X86_VMX,!CUSTOM_MAGIC"
        } else {
            "HW_CPU_X86_VMX,CUSTOM_MAGIC"
        };
        return Err(Error::bad(format!(
            "Invalid query string parameters: Expected 'required' parameter value of the \
             form: {form}. Got an empty trait in: {val}"
        )));
    }
    if !forbidden.is_empty() && !allow_forbidden {
        return Err(Error::bad(format!(
            "Invalid query string parameters: Expected 'required' parameter value of the \
             form: HW_CPU_X86_VMX,CUSTOM_MAGIC. Got: {val}"
        )));
    }
    Ok(Traits {
        required: all
            .into_iter()
            .filter(|t| !t.starts_with('!'))
            .map(|t| BTreeSet::from([t]))
            .collect(),
        forbidden,
    })
}

/// Every `required{suffix}` of the request: forbidden traits from 1.22, `in:` and
/// repetition from 1.39 (before, the last one counts).
pub fn traits_params(p: &Params, key: &str, v: Version) -> Result<Traits> {
    let allow_forbidden = v.at_least(1, 22);
    let allow_any = v.at_least(1, 39);
    let mut values = p.all(key);
    if !allow_any && values.len() > 1 {
        values = values.split_off(values.len() - 1);
    }
    let mut out = Traits::default();
    for val in values {
        let t = traits_value(val, allow_forbidden, allow_any)?;
        out.required.extend(t.required);
        out.forbidden.extend(t.forbidden);
    }
    Ok(out)
}

/// Required (all of these any-of sets) and forbidden aggregates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemberOf {
    pub required: Vec<BTreeSet<String>>,
    pub forbidden: BTreeSet<String>,
}

/// One `member_of` value.
pub fn member_of_value(value: &str) -> Result<(BTreeSet<String>, BTreeSet<String>)> {
    if value.contains(',') && !(value.starts_with("in:") || value.starts_with("!in:")) {
        return Err(Error::bad(format!(
            "Multiple values for 'member_of' must be prefixed with the 'in:' or '!in:' \
             keyword using the valid microversion. Got: {value}"
        )));
    }
    let split = |s: &str| -> BTreeSet<String> { s.split(',').map(str::to_string).collect() };
    let (required, forbidden) = if let Some(r) = value.strip_prefix("!in:") {
        (BTreeSet::new(), split(r))
    } else if let Some(r) = value.strip_prefix('!') {
        (BTreeSet::new(), BTreeSet::from([r.to_string()]))
    } else if let Some(r) = value.strip_prefix("in:") {
        (split(r), BTreeSet::new())
    } else {
        (BTreeSet::from([value.to_string()]), BTreeSet::new())
    };
    for a in required.iter().chain(forbidden.iter()) {
        if !is_uuid_like(a) {
            return Err(Error::bad(format!(
                "Invalid query string parameters: Expected 'member_of' parameter to contain \
                 valid UUID(s). Got: {a}"
            )));
        }
    }
    Ok((required, forbidden))
}

/// Every `member_of{suffix}`: several from 1.24, forbidden (`!`) from 1.32.
pub fn member_of_params(p: &Params, suffix: &str, v: Version) -> Result<MemberOf> {
    let key = format!("member_of{suffix}");
    let values = p.all(&key);
    if !v.at_least(1, 24) && values.len() > 1 {
        return Err(Error::bad(format!(
            "Multiple member_of{suffix} parameters are not supported"
        )));
    }
    let mut out = MemberOf::default();
    for val in values {
        let (req, forb) = member_of_value(val)?;
        if !req.is_empty() {
            out.required.push(req);
        }
        if !forb.is_empty() {
            if !v.at_least(1, 32) {
                return Err(Error::bad(format!(
                    "Forbidden member_of{suffix} parameters are not supported in the \
                     specified microversion"
                )));
            }
            out.forbidden.extend(forb);
        }
    }
    Ok(out)
}

pub fn in_tree(value: &str) -> Result<String> {
    let v = value.trim();
    if !is_uuid_like(v) {
        return Err(Error::bad(format!(
            "Invalid query string parameters: Expected 'in_tree' parameter to be a format \
             of uuid. Got: {value}"
        )));
    }
    Ok(v.to_string())
}

/// The groups and request-wide parameters of `GET /allocation_candidates`.
pub fn candidate_request(p: &Params, v: Version) -> Result<(Vec<Group>, Wide)> {
    let wide = wide_params(p)?;
    let suffix_pat = if v.at_least(1, 33) {
        "[a-zA-Z0-9_-]{1,64}"
    } else {
        "[1-9][0-9]*"
    };
    let re = Regex::new(&format!(
        "^(resources|required|member_of|in_tree)({suffix_pat})?$"
    ))
    .map_err(|e| Error::Internal(e.to_string()))?;
    let mut groups: Vec<Group> = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (k, val) in &p.0 {
        let Some(m) = re.captures(k) else { continue };
        let prefix = m.get(1).map(|x| x.as_str()).unwrap_or_default();
        let suffix = m.get(2).map(|x| x.as_str()).unwrap_or_default().to_string();
        let gi = match seen.get(&suffix) {
            Some(i) => *i,
            None => {
                groups.push(Group {
                    suffix: suffix.clone(),
                    use_same_provider: !suffix.is_empty(),
                    ..Group::default()
                });
                seen.insert(suffix.clone(), groups.len() - 1);
                groups.len() - 1
            }
        };
        let Some(g) = groups.get_mut(gi) else {
            continue;
        };
        match prefix {
            "resources" => g.resources = resources(val)?,
            "required" => {
                let t = traits_params(p, &format!("required{suffix}"), v)?;
                g.required = t.required;
                g.forbidden = t.forbidden;
            }
            "member_of" => {
                let m = member_of_params(p, &suffix, v)?;
                g.member_of = m.required;
                g.forbidden_aggs = m.forbidden;
            }
            _ => g.in_tree = Some(in_tree(val)?),
        }
    }
    if v.at_least(1, 36) {
        let resourceless: Vec<&str> = groups
            .iter()
            .filter(|g| g.resources.is_empty())
            .map(|g| g.suffix.as_str())
            .collect();
        if resourceless.len() == groups.len() {
            return Err(Error::bad_code(
                "There must be at least one resources or resources[$S] parameter.",
                codes::QUERYPARAM_MISSING_VALUE,
            ));
        }
        let in_subtree: BTreeSet<&str> = wide
            .same_subtrees
            .iter()
            .flatten()
            .map(String::as_str)
            .collect();
        let bad: Vec<String> = resourceless
            .iter()
            .filter(|s| !in_subtree.contains(*s))
            .map(|s| format!("'{s}'"))
            .collect();
        if !bad.is_empty() {
            return Err(Error::bad_code(
                format!(
                    "Resourceless suffixed group request should be specified in \
                     `same_subtree` query param: bad group(s) - [{}].",
                    bad.join(", ")
                ),
                codes::QUERYPARAM_BAD_VALUE,
            ));
        }
        let known: BTreeSet<&str> = groups.iter().map(|g| g.suffix.as_str()).collect();
        let unknown: Vec<String> = in_subtree
            .iter()
            .filter(|s| !known.contains(*s))
            .map(|s| format!("'{s}'"))
            .collect();
        if !unknown.is_empty() {
            return Err(Error::bad_code(
                format!(
                    "Real suffixes should be specified in `same_subtree`: [{}] not found in \
                     [{}].",
                    unknown.join(", "),
                    groups
                        .iter()
                        .map(|g| format!("'{}'", g.suffix))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                codes::QUERYPARAM_BAD_VALUE,
            ));
        }
    } else {
        let orphans: Vec<String> = groups
            .iter()
            .filter(|g| !g.required.is_empty() && g.resources.is_empty())
            .map(|g| format!("required{}", g.suffix))
            .collect();
        if !orphans.is_empty() {
            return Err(Error::bad(format!(
                "All traits parameters must be associated with resources.  Found the \
                 following orphaned traits keys: {}",
                orphans.join(", ")
            )));
        }
        let orphans: Vec<String> = groups
            .iter()
            .filter(|g| {
                g.resources.is_empty() && (!g.member_of.is_empty() || !g.forbidden_aggs.is_empty())
            })
            .map(|g| format!("member_of{}", g.suffix))
            .collect();
        if !orphans.is_empty() {
            return Err(Error::bad(format!(
                "All member_of parameters must be associated with resources. Found the \
                 following orphaned member_of keys: {}",
                orphans.join(", ")
            )));
        }
        if groups.iter().any(|g| g.resources.is_empty()) {
            return Err(Error::bad("All request groups must specify resources."));
        }
        if groups.is_empty() {
            return Err(Error::bad(
                "At least one request group (`resources` or `resources{$S}`) is required.",
            ));
        }
    }
    if v.at_least(1, 22) {
        let mut conflicts: Vec<String> = Vec::new();
        for g in &groups {
            for any in &g.required {
                if any.iter().all(|t| g.forbidden.contains(t)) {
                    conflicts.push(format!(
                        "required{}: ({})",
                        g.suffix,
                        any.iter().cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
            }
        }
        if !conflicts.is_empty() {
            conflicts.sort();
            return Err(Error::bad(format!(
                "Conflicting required and forbidden traits found in the following traits \
                 keys: {}",
                conflicts.join(", ")
            )));
        }
    }
    if wide.group_policy.is_none() && groups.iter().filter(|g| g.use_same_provider).count() > 1 {
        return Err(Error::bad(
            "The \"group_policy\" parameter is required when specifying more than one \
             \"resources{N}\" parameter.",
        ));
    }
    Ok((
        groups,
        Wide {
            nested_aware: v.at_least(1, 29),
            ..wide
        },
    ))
}

fn wide_params(p: &Params) -> Result<Wide> {
    let limit = match p.all("limit").first() {
        Some(l) => Some(l.trim().parse::<usize>().map_err(|_| {
            Error::bad(format!(
                "Invalid query string parameters: '{l}' does not match '^[1-9][0-9]*$'"
            ))
        })?),
        None => None,
    };
    let group_policy = match p.all("group_policy").first().copied() {
        Some("none") => Some(GroupPolicy::None),
        Some("isolate") => Some(GroupPolicy::Isolate),
        Some(other) => {
            return Err(Error::bad(format!(
                "Invalid query string parameters: '{other}' is not one of ['none', 'isolate']"
            )));
        }
        None => None,
    };
    let mut wide = Wide {
        limit,
        group_policy,
        ..Wide::default()
    };
    let rr = p.all("root_required");
    if rr.len() > 1 {
        return Err(Error::bad_code(
            "Query parameter 'root_required' may be specified only once.",
            codes::ILLEGAL_DUPLICATE_QUERYPARAM,
        ));
    }
    if let Some(val) = rr.first() {
        let t = traits_value(val, true, false)?;
        let required: BTreeSet<String> = t.required.into_iter().flatten().collect();
        let conflicts: Vec<&String> = required.intersection(&t.forbidden).collect();
        if !conflicts.is_empty() {
            return Err(Error::bad_code(
                format!(
                    "Conflicting required and forbidden traits found in root_required: {}",
                    conflicts
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                codes::QUERYPARAM_BAD_VALUE,
            ));
        }
        wide.root_required = required;
        wide.root_forbidden = t.forbidden;
    }
    for val in p.all("same_subtree") {
        let set: BTreeSet<String> = val.split(',').map(|s| s.trim().to_string()).collect();
        if set.contains("") {
            return Err(Error::bad_code(
                "Empty string (unsuffixed group) can not be specified in `same_subtree` ",
                codes::QUERYPARAM_BAD_VALUE,
            ));
        }
        wide.same_subtrees.push(set);
    }
    Ok(wide)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn params(q: &str) -> Params {
        Params(
            q.split('&')
                .filter(|s| !s.is_empty())
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    (k.to_string(), v.to_string())
                })
                .collect(),
        )
    }

    #[test]
    fn resources_grammar() {
        let r = resources("VCPU:2,MEMORY_MB:1024").unwrap();
        assert_eq!(r["VCPU"], 2);
        assert!(resources("VCPU").is_err());
        assert!(resources("VCPU:x").is_err());
        assert!(resources("VCPU:0").is_err());
        assert!(resources(" ").is_err());
    }

    #[test]
    fn traits_grammar() {
        let t = traits_value("A,!B", true, false).unwrap();
        assert_eq!(t.required, vec![BTreeSet::from(["A".to_string()])]);
        assert!(t.forbidden.contains("B"));
        assert!(traits_value("!B", false, false).is_err());
        assert!(traits_value("in:A,B", true, false).is_err());
        let t = traits_value("in:A,B", true, true).unwrap();
        assert_eq!(t.required[0].len(), 2);
        assert!(traits_value("A,,B", true, true).is_err());
        assert!(traits_value("in:A,!B", true, true).is_err());
    }

    #[test]
    fn member_of_grammar() {
        let a = "5e08ea53-c4c6-448e-9334-ac4953de3cfa";
        let b = "ecad2a2a-1ed4-4ce4-9a1a-24d8d5e1a0de";
        assert!(member_of_value(&format!("{a},{b}")).is_err());
        let (r, f) = member_of_value(&format!("in:{a},{b}")).unwrap();
        assert_eq!(r.len(), 2);
        assert!(f.is_empty());
        let (r, f) = member_of_value(&format!("!in:{a},{b}")).unwrap();
        assert!(r.is_empty());
        assert_eq!(f.len(), 2);
        assert!(member_of_value("nope").is_err());
        let p = params(&format!("member_of=!{a}"));
        assert!(member_of_params(&p, "", Version::new(1, 31)).is_err());
        assert!(member_of_params(&p, "", Version::new(1, 32)).is_ok());
    }

    #[test]
    fn granular_groups() {
        let v = Version::new(1, 39);
        let (g, w) = candidate_request(
            &params("resources=VCPU:1&resources1=SRIOV_NET_VF:1&required1=CUSTOM_A&resources_X=PCPU:2&group_policy=isolate&limit=5"),
            v,
        )
        .unwrap();
        assert_eq!(g.len(), 3);
        assert!(!g[0].use_same_provider);
        assert_eq!(g[1].suffix, "1");
        assert_eq!(g[2].suffix, "_X");
        assert_eq!(w.limit, Some(5));
        assert_eq!(w.group_policy, Some(GroupPolicy::Isolate));
        // more than one numbered group needs group_policy
        assert!(candidate_request(&params("resources1=VCPU:1&resources2=VCPU:1"), v).is_err());
        // orphaned traits before 1.36
        assert!(
            candidate_request(
                &params("resources=VCPU:1&required1=CUSTOM_A"),
                Version::new(1, 25)
            )
            .is_err()
        );
        // resourceless group outside same_subtree
        let e = candidate_request(&params("resources=VCPU:1&required1=CUSTOM_A"), v).unwrap_err();
        assert_eq!(e.code(), Some(codes::QUERYPARAM_BAD_VALUE));
        assert!(
            candidate_request(
                &params("resources=VCPU:1&required1=CUSTOM_A&same_subtree=1"),
                v
            )
            .is_ok()
        );
        let e = candidate_request(
            &params("resources=VCPU:1&root_required=A&root_required=B"),
            v,
        )
        .unwrap_err();
        assert_eq!(e.code(), Some(codes::ILLEGAL_DUPLICATE_QUERYPARAM));
        assert!(candidate_request(&params("resources=VCPU:1&required=A,!A"), v).is_err());
    }
}
