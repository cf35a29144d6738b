//! Query parameters and typed field access on request bodies, with keystone's messages.

use serde_json::{Map, Value};

use crate::{Error, Result};

pub use api::query::{Params, truthy};

/// Typed access to the members of a JSON object, with keystone-style 400 messages.
pub trait Fields {
    fn map(&self) -> &Map<String, Value>;

    fn opt_string(&self, k: &str) -> Result<Option<String>> {
        match self.map().get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(Error::bad(format!(
                "Invalid input for field '{k}': {other} is not of type 'string'"
            ))),
        }
    }

    /// A required, non-empty string of at most `max` characters.
    fn name(&self, k: &str, max: usize) -> Result<String> {
        match self.opt_string(k)? {
            None => Err(Error::bad(format!(
                "Invalid input for field '{k}': '{k}' is a required property"
            ))),
            Some(s) if s.trim().is_empty() => Err(Error::bad(format!(
                "Invalid input for field '{k}': '{s}' is too short"
            ))),
            Some(s) if s.chars().count() > max => Err(Error::bad(format!(
                "Invalid input for field '{k}': the value is longer than {max} characters"
            ))),
            Some(s) => Ok(s),
        }
    }

    fn opt_bool(&self, k: &str) -> Result<Option<bool>> {
        match self.map().get(k) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(Error::bad(format!(
                "Invalid input for field '{k}': {other} is not of type 'boolean'"
            ))),
        }
    }

    /// Members not in `known` (kept by keystone as extra attributes).
    fn extras(&self, known: &[&str]) -> Map<String, Value> {
        self.map()
            .iter()
            .filter(|(k, _)| !known.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// An `options` object whose keys are all among `allowed`.
    fn options(&self, allowed: &[&str]) -> Result<Option<Map<String, Value>>> {
        match self.map().get("options") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(o)) => {
                for k in o.keys() {
                    if !allowed.contains(&k.as_str()) {
                        return Err(Error::bad(format!(
                            "Invalid input for field 'options': additional property '{k}' is not allowed"
                        )));
                    }
                }
                Ok(Some(o.clone()))
            }
            Some(_) => Err(Error::bad(
                "Invalid input for field 'options': it must be an object",
            )),
        }
    }
}

impl Fields for Map<String, Value> {
    fn map(&self) -> &Map<String, Value> {
        self
    }
}

/// Apply a PATCH of a JSON map: members set to null are removed, others replaced.
pub fn patch_map(dst: &mut Map<String, Value>, src: Map<String, Value>) {
    for (k, v) in src {
        if v.is_null() {
            dst.remove(&k);
        } else {
            dst.insert(k, v);
        }
    }
}

/// Reject ids that cannot be ours: keystone ids are at most 64 characters.
pub fn check_id(kind: &'static str, id: &str) -> Result<()> {
    if id.is_empty() || id.len() > 64 {
        return Err(Error::not_found(kind, id));
    }
    Ok(())
}
