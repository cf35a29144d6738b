//! The JSON schemas of placement's request bodies and query strings, per microversion.
//! They are checked by [`crate::validate`], which words violations as Python's
//! jsonschema does.

use api::microversion::Version;
use serde_json::{Value, json};

use crate::model::{MAX_INT, MAX_RATIO};

pub const UUID_PATTERN: &str = "^[0-9a-fA-F-]{36}$";
pub const RC_PATTERN: &str = "^[A-Z0-9_]+$";
pub const CUSTOM_PATTERN: &str = "^CUSTOM_[A-Z0-9_]+$";
const GROUP_PAT_1_33: &str = "[a-zA-Z0-9_-]{1,64}";
const GROUP_PAT: &str = "[1-9][0-9]*";

fn set(mut v: Value, path: &[&str], value: Value) -> Value {
    let mut cur = &mut v;
    for p in path {
        cur = &mut cur[*p];
    }
    *cur = value;
    v
}

fn remove(mut v: Value, path: &[&str], key: &str) -> Value {
    let mut cur = &mut v;
    for p in path {
        cur = &mut cur[*p];
    }
    if let Some(o) = cur.as_object_mut() {
        o.remove(key);
    }
    v
}

fn require(mut v: Value, key: &str) -> Value {
    if let Some(a) = v["required"].as_array_mut() {
        a.push(json!(key));
    }
    v
}

// ----------------------------------------------------------------- providers

pub fn provider_post(v: Version) -> Value {
    let mut s = json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 200},
            "uuid": {"type": "string", "format": "uuid"},
        },
        "required": ["name"],
        "additionalProperties": false,
    });
    if v.at_least(1, 14) {
        s = set(
            s,
            &["properties", "parent_provider_uuid"],
            json!({"anyOf": [{"type": "string", "format": "uuid"}, {"type": "null"}]}),
        );
    }
    s
}

pub fn provider_put(v: Version) -> Value {
    remove(provider_post(v), &["properties"], "uuid")
}

pub fn provider_list(v: Version) -> Value {
    let mut s = json!({
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "uuid": {"type": "string", "format": "uuid"},
        },
        "additionalProperties": false,
    });
    if v.at_least(1, 3) {
        s = set(s, &["properties", "member_of"], json!({"type": "string"}));
    }
    if v.at_least(1, 4) {
        s = set(s, &["properties", "resources"], json!({"type": "string"}));
    }
    if v.at_least(1, 14) {
        s = set(
            s,
            &["properties", "in_tree"],
            json!({"type": "string", "format": "uuid"}),
        );
    }
    if v.at_least(1, 18) {
        s = set(s, &["properties", "required"], json!({"type": "string"}));
    }
    s
}

// ----------------------------------------------------------- resource classes

pub fn resource_class() -> Value {
    json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "pattern": CUSTOM_PATTERN, "maxLength": 255},
        },
        "required": ["name"],
        "additionalProperties": false,
    })
}

// ---------------------------------------------------------------- inventories

pub fn inventory_base() -> Value {
    let int = |min: i64| json!({"type": "integer", "maximum": MAX_INT, "minimum": min});
    json!({
        "type": "object",
        "properties": {
            "resource_provider_generation": {"type": "integer"},
            "total": int(1),
            "reserved": int(0),
            "min_unit": int(1),
            "max_unit": int(1),
            "step_size": int(1),
            "allocation_ratio": {"type": "number", "maximum": MAX_RATIO},
        },
        "required": ["total", "resource_provider_generation"],
        "additionalProperties": false,
    })
}

pub fn inventory_post() -> Value {
    let mut s = set(
        inventory_base(),
        &["properties", "resource_class"],
        json!({"type": "string", "pattern": RC_PATTERN}),
    );
    s["required"] = json!(["total", "resource_class"]);
    s
}

fn inventory_record() -> Value {
    let mut s = inventory_base();
    s["required"] = json!(["total"]);
    s
}

pub fn inventories_put() -> Value {
    json!({
        "type": "object",
        "properties": {
            "resource_provider_generation": {"type": "integer"},
            "inventories": {
                "type": "object",
                "patternProperties": {RC_PATTERN: inventory_record()},
            },
        },
        "required": ["resource_provider_generation", "inventories"],
        "additionalProperties": false,
    })
}

// ----------------------------------------------------------------- aggregates

fn aggregate_list() -> Value {
    json!({"type": "array", "items": {"type": "string", "format": "uuid"}, "uniqueItems": true})
}

pub fn aggregates_put(v: Version) -> Value {
    if v.at_least(1, 19) {
        json!({
            "type": "object",
            "properties": {
                "aggregates": aggregate_list(),
                "resource_provider_generation": {"type": "integer"},
            },
            "required": ["aggregates", "resource_provider_generation"],
            "additionalProperties": false,
        })
    } else {
        aggregate_list()
    }
}

// --------------------------------------------------------------------- traits

pub fn custom_trait() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": 255, "pattern": CUSTOM_PATTERN})
}

pub fn provider_traits_put() -> Value {
    json!({
        "type": "object",
        "properties": {
            "traits": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 255}},
            "resource_provider_generation": {"type": "integer"},
        },
        "required": ["traits", "resource_provider_generation"],
        "additionalProperties": false,
    })
}

pub fn traits_list() -> Value {
    json!({
        "type": "object",
        "properties": {"name": {"type": "string"}, "associated": {"type": "string"}},
        "additionalProperties": false,
    })
}

// ---------------------------------------------------------------- allocations

fn resources_object() -> Value {
    json!({
        "type": "object",
        "minProperties": 1,
        "patternProperties": {RC_PATTERN: {"type": "integer", "minimum": 1}},
        "additionalProperties": false,
    })
}

fn id_string() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": 255})
}

fn allocation_v1_0() -> Value {
    json!({
        "type": "object",
        "properties": {
            "allocations": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "properties": {
                        "resource_provider": {
                            "type": "object",
                            "properties": {"uuid": {"type": "string", "format": "uuid"}},
                            "additionalProperties": false,
                            "required": ["uuid"],
                        },
                        "resources": resources_object(),
                    },
                    "required": ["resource_provider", "resources"],
                    "additionalProperties": false,
                },
            },
        },
        "required": ["allocations"],
        "additionalProperties": false,
    })
}

fn allocation_v1_12(min_properties: u64) -> Value {
    json!({
        "type": "object",
        "properties": {
            "allocations": {
                "type": "object",
                "minProperties": min_properties,
                "patternProperties": {
                    UUID_PATTERN: {
                        "type": "object",
                        "properties": {
                            "generation": {"type": "integer"},
                            "resources": resources_object(),
                        },
                        "required": ["resources"],
                        "additionalProperties": false,
                    },
                },
                "additionalProperties": false,
            },
            "project_id": id_string(),
            "user_id": id_string(),
        },
        "additionalProperties": false,
        "required": ["allocations", "project_id", "user_id"],
    })
}

fn with_generation(s: Value) -> Value {
    require(
        set(
            s,
            &["properties", "consumer_generation"],
            json!({"type": ["integer", "null"]}),
        ),
        "consumer_generation",
    )
}

fn with_mappings(s: Value) -> Value {
    set(
        s,
        &["properties", "mappings"],
        json!({
            "type": "object",
            "minProperties": 1,
            "patternProperties": {
                GROUP_PAT_1_33: {
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": "string", "format": "uuid"},
                },
            },
        }),
    )
}

fn with_consumer_type(s: Value) -> Value {
    require(
        set(
            s,
            &["properties", "consumer_type"],
            json!({"type": "string", "pattern": RC_PATTERN, "minLength": 1, "maxLength": 255}),
        ),
        "consumer_type",
    )
}

/// One consumer's allocations at microversion `v` (1.12+ form, `min` providers).
fn consumer_allocations(v: Version, min: u64) -> Value {
    let mut s = allocation_v1_12(min);
    if v.at_least(1, 28) {
        s = with_generation(s);
    }
    if v.at_least(1, 34) {
        s = with_mappings(s);
    }
    if v.at_least(1, 38) {
        s = with_consumer_type(s);
    }
    s
}

/// `PUT /allocations/{consumer_uuid}`.
pub fn allocation_put(v: Version) -> Value {
    if !v.at_least(1, 8) {
        allocation_v1_0()
    } else if !v.at_least(1, 12) {
        let mut s = allocation_v1_0();
        s = set(s, &["properties", "project_id"], id_string());
        s = set(s, &["properties", "user_id"], id_string());
        require(require(s, "project_id"), "user_id")
    } else if !v.at_least(1, 28) {
        allocation_v1_12(1)
    } else {
        // From 1.28 an empty allocations object clears the consumer's allocations.
        consumer_allocations(v, 0)
    }
}

/// `POST /allocations` (1.13+): several consumers at once.
pub fn allocations_post(v: Version) -> Value {
    json!({
        "type": "object",
        "minProperties": 1,
        "additionalProperties": false,
        "patternProperties": {UUID_PATTERN: consumer_allocations(v, 0)},
    })
}

// --------------------------------------------------------------------- usages

pub fn usages_query(v: Version) -> Value {
    let mut s = json!({
        "type": "object",
        "properties": {"project_id": id_string(), "user_id": id_string()},
        "required": ["project_id"],
        "additionalProperties": false,
    });
    if v.at_least(1, 38) {
        s = set(
            s,
            &["properties", "consumer_type"],
            json!({
                "type": "string",
                "pattern": "^[A-Z0-9_]+$|^all|^unknown$",
                "minLength": 1,
                "maxLength": 255,
            }),
        );
    }
    s
}

// ------------------------------------------------------ allocation candidates

pub fn candidates_query(v: Version) -> Value {
    let mut s = json!({
        "type": "object",
        "properties": {"resources": {"type": "string"}},
        "required": ["resources"],
        "additionalProperties": false,
    });
    if v.at_least(1, 16) {
        s = set(
            s,
            &["properties", "limit"],
            json!({"type": ["integer", "string"], "pattern": "^[1-9][0-9]*$", "minimum": 1, "minLength": 1}),
        );
    }
    if v.at_least(1, 17) {
        s = set(s, &["properties", "required"], json!({"type": ["string"]}));
    }
    if v.at_least(1, 21) {
        s = set(s, &["properties", "member_of"], json!({"type": ["string"]}));
    }
    if v.at_least(1, 25) {
        let pat = if v.at_least(1, 33) {
            GROUP_PAT_1_33
        } else {
            GROUP_PAT
        };
        let mut kinds = vec!["resources", "required", "member_of"];
        if v.at_least(1, 31) {
            kinds.push("in_tree");
        }
        let mut pp = serde_json::Map::new();
        for k in kinds {
            pp.insert(format!("^{k}({pat})?$"), json!({"type": "string"}));
        }
        s = json!({
            "type": "object",
            "properties": {
                "limit": s["properties"]["limit"].clone(),
                "group_policy": {"type": "string", "enum": ["none", "isolate"]},
            },
            "patternProperties": Value::Object(pp),
            "additionalProperties": false,
        });
    }
    if v.at_least(1, 35) {
        s = set(
            s,
            &["properties", "root_required"],
            json!({"type": ["string"]}),
        );
    }
    if v.at_least(1, 36) {
        s = set(
            s,
            &["properties", "same_subtree"],
            json!({"type": ["string"]}),
        );
    }
    s
}

// ------------------------------------------------------------------- reshaper

pub fn reshaper(v: Version) -> Value {
    json!({
        "type": "object",
        "properties": {
            "inventories": {
                "type": "object",
                "patternProperties": {UUID_PATTERN: inventories_put()},
                "minProperties": 1,
                "additionalProperties": false,
            },
            "allocations": {
                "type": "object",
                "minProperties": 0,
                "additionalProperties": false,
                "patternProperties": {UUID_PATTERN: consumer_allocations(v.max(Version::new(1, 28)), 0)},
            },
        },
        "required": ["inventories", "allocations"],
        "additionalProperties": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::validate;

    #[test]
    fn allocation_schemas_follow_microversions() {
        let rp = "4e8e5957-649f-477b-9e5b-f1f75b21c03c";
        let body = json!({"allocations": {rp: {"resources": {"VCPU": 1}}},
                          "project_id": "p", "user_id": "u"});
        assert!(validate(&body, &allocation_put(Version::new(1, 12))).is_ok());
        assert!(validate(&body, &allocation_put(Version::new(1, 28))).is_err());
        let mut b = body.clone();
        b["consumer_generation"] = Value::Null;
        assert!(validate(&b, &allocation_put(Version::new(1, 28))).is_ok());
        let e = validate(&b, &allocation_put(Version::new(1, 38))).unwrap_err();
        assert_eq!(e.message, "'consumer_type' is a required property");
        b["consumer_type"] = json!("instance");
        let e = validate(&b, &allocation_put(Version::new(1, 38))).unwrap_err();
        assert_eq!(e.message, "'instance' does not match '^[A-Z0-9_]+$'");
        let old =
            json!({"allocations": [{"resource_provider": {"uuid": rp}, "resources": {"VCPU": 1}}]});
        assert!(validate(&old, &allocation_put(Version::new(1, 0))).is_ok());
        assert!(validate(&old, &allocation_put(Version::new(1, 8))).is_err());
    }

    #[test]
    fn candidate_query_keys_per_version() {
        let q = json!({"resources": "VCPU:1", "resources1": "VCPU:1"});
        assert!(validate(&q, &candidates_query(Version::new(1, 24))).is_err());
        assert!(validate(&q, &candidates_query(Version::new(1, 25))).is_ok());
        let q = json!({"resources_A": "VCPU:1"});
        assert!(validate(&q, &candidates_query(Version::new(1, 32))).is_err());
        assert!(validate(&q, &candidates_query(Version::new(1, 33))).is_ok());
        let q = json!({"resources": "VCPU:1", "limit": "0"});
        assert!(validate(&q, &candidates_query(Version::new(1, 16))).is_err());
    }
}
