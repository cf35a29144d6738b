//! Read caches for the hot paths (token validation, catalogs, the role table). Every
//! entry records the epoch it was built at; any identity write bumps the epoch, so an entry
//! is used only while nothing has changed since it was built.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use quick_cache::sync::Cache;
use serde_json::Value;

use crate::model::{Project, Role};
use crate::service::tokens::Validated;

#[derive(Clone)]
pub struct Stamped<T> {
    pub epoch: u64,
    pub value: T,
}

/// Every role and the implication rules between them.
#[derive(Debug, Default)]
pub struct RoleTable {
    pub roles: HashMap<String, Role>,
    /// prior role id -> implied role ids
    pub implies: HashMap<String, Vec<String>>,
}

impl RoleTable {
    /// `ids` plus everything they imply, transitively, in a stable order.
    pub fn expand(&self, ids: impl IntoIterator<Item = String>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut stack: Vec<String> = ids.into_iter().collect();
        stack.reverse();
        while let Some(id) = stack.pop() {
            if out.contains(&id) {
                continue;
            }
            if let Some(next) = self.implies.get(&id) {
                for n in next.iter().rev() {
                    stack.push(n.clone());
                }
            }
            out.push(id);
        }
        out
    }
}

pub struct Caches {
    pub tokens: Cache<String, Stamped<Arc<Validated>>>,
    pub catalogs: Cache<String, Stamped<Arc<Value>>>,
    pub roles: RwLock<Option<Stamped<Arc<RoleTable>>>>,
    /// Project/domain listings by filter.
    pub projects: Cache<String, Stamped<Arc<Vec<Project>>>>,
}

impl Caches {
    pub fn new() -> Self {
        Caches {
            tokens: Cache::new(50_000),
            catalogs: Cache::new(4_096),
            roles: RwLock::new(None),
            projects: Cache::new(1_024),
        }
    }
}

impl Default for Caches {
    fn default() -> Self {
        Self::new()
    }
}
