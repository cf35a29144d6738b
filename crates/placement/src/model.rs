//! Placement's records as the store reads them.

use serde_json::{Value, json};

/// Largest integer placement accepts for inventory fields (a signed 32-bit column).
pub const MAX_INT: i64 = 2_147_483_647;
/// Largest allocation ratio (a single-precision float column).
pub const MAX_RATIO: f64 = 3.40282e38;

#[derive(Debug, Clone, PartialEq)]
pub struct Provider {
    pub uuid: String,
    pub name: String,
    pub generation: i64,
    pub parent_uuid: Option<String>,
    pub root_uuid: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    pub resource_class: String,
    pub total: i64,
    pub reserved: i64,
    pub min_unit: i64,
    pub max_unit: i64,
    pub step_size: i64,
    pub allocation_ratio: f64,
    pub updated_at: i64,
}

impl Inventory {
    /// `(total - reserved) * allocation_ratio`, as placement compares it.
    pub fn capacity_f(&self) -> f64 {
        (self.total - self.reserved) as f64 * self.allocation_ratio
    }

    /// The capacity shown in provider summaries (truncated to an integer).
    pub fn capacity(&self) -> i64 {
        let c = self.capacity_f();
        if c >= i64::MAX as f64 {
            i64::MAX
        } else {
            c as i64
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "total": self.total,
            "reserved": self.reserved,
            "min_unit": self.min_unit,
            "max_unit": self.max_unit,
            "step_size": self.step_size,
            "allocation_ratio": self.allocation_ratio,
        })
    }
}

/// A resource class: standard ones have no timestamps.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceClass {
    pub name: String,
    pub updated_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Consumer {
    pub uuid: String,
    pub project_id: String,
    pub user_id: String,
    pub consumer_type: Option<String>,
    pub generation: i64,
    pub updated_at: i64,
}

/// One allocation row, with the generations clients see next to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Allocation {
    pub consumer_uuid: String,
    pub rp_uuid: String,
    pub resource_class: String,
    pub used: i64,
    pub updated_at: i64,
}
