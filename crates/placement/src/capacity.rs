//! What fits in an inventory: the rules every allocation write and every candidate
//! search applies.
//!
//! Capacity is `(total - reserved) * allocation_ratio`; a single request of `amount`
//! must also respect `min_unit <= amount <= max_unit` and `amount % step_size == 0`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::model::Inventory;

/// Whether `amount` more fits on an inventory already using `used`.
pub fn fits(inv: &Inventory, used: i64, amount: i64) -> bool {
    amount >= inv.min_unit
        && amount <= inv.max_unit
        && inv.step_size > 0
        && amount % inv.step_size == 0
        && (used.saturating_add(amount)) as f64 <= inv.capacity_f()
}

/// Why a set of allocations does not fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Some provider has no inventory of the classes asked from it (or of one class).
    NoInventory {
        resource_class: String,
        provider: String,
    },
    /// min_unit / max_unit / step_size.
    Constraints {
        resource_class: String,
        provider: String,
    },
    /// Not enough room left.
    Capacity {
        resource_class: String,
        provider: String,
    },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NoInventory {
                resource_class,
                provider,
            } => write!(
                f,
                "Inventory for '{resource_class}' on resource provider '{provider}' invalid."
            ),
            Refusal::Constraints {
                resource_class,
                provider,
            } => write!(
                f,
                "Unable to create allocation for '{resource_class}' on resource provider \
                 '{provider}'. The requested amount would violate inventory constraints."
            ),
            Refusal::Capacity {
                resource_class,
                provider,
            } => write!(
                f,
                "Unable to create allocation for '{resource_class}' on resource provider \
                 '{provider}'. The requested amount would exceed the capacity."
            ),
        }
    }
}

/// One requested amount (0 means "removing", never checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    pub provider: String,
    pub resource_class: String,
    pub amount: i64,
}

/// Check new allocations. `inventories` holds the inventories of the providers
/// involved; `used` the usage once the consumers' previous allocations are gone;
/// `prev_used` the usage before. A provider already over capacity (inventory shrunk
/// under its allocations) may still be written to if the result is no worse.
pub fn check(
    wants: &[Want],
    inventories: &HashMap<(String, String), Inventory>,
    used: &HashMap<(String, String), i64>,
    prev_used: &HashMap<(String, String), i64>,
) -> Result<(), Refusal> {
    let classes: BTreeSet<&str> = wants.iter().map(|w| w.resource_class.as_str()).collect();
    let providers: BTreeSet<&str> = wants.iter().map(|w| w.provider.as_str()).collect();
    let with_inventory: BTreeSet<&str> = inventories
        .keys()
        .filter(|(_, rc)| classes.contains(rc.as_str()))
        .map(|(rp, _)| rp.as_str())
        .filter(|rp| providers.contains(rp))
        .collect();
    let missing: Vec<&str> = providers.difference(&with_inventory).copied().collect();
    if !missing.is_empty() {
        return Err(Refusal::NoInventory {
            resource_class: classes.iter().copied().collect::<Vec<_>>().join(", "),
            provider: missing.join(", "),
        });
    }
    let mut so_far: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for w in wants {
        let key = (w.provider.clone(), w.resource_class.clone());
        let all = so_far
            .entry((w.provider.as_str(), w.resource_class.as_str()))
            .or_insert(0);
        *all = all.saturating_add(w.amount);
        let amount_all = *all;
        if w.amount == 0 {
            continue;
        }
        let Some(inv) = inventories.get(&key) else {
            return Err(Refusal::NoInventory {
                resource_class: w.resource_class.clone(),
                provider: w.provider.clone(),
            });
        };
        if w.amount < inv.min_unit
            || w.amount > inv.max_unit
            || inv.step_size <= 0
            || w.amount % inv.step_size != 0
        {
            return Err(Refusal::Constraints {
                resource_class: w.resource_class.clone(),
                provider: w.provider.clone(),
            });
        }
        let u = used.get(&key).copied().unwrap_or(0);
        let cap = inv.capacity_f();
        let over =
            cap < u.saturating_add(w.amount) as f64 || cap < u.saturating_add(amount_all) as f64;
        if over {
            let no_worse = prev_used
                .get(&key)
                .is_some_and(|p| u.saturating_add(amount_all) <= *p);
            if !no_worse {
                return Err(Refusal::Capacity {
                    resource_class: w.resource_class.clone(),
                    provider: w.provider.clone(),
                });
            }
            tracing::warn!(
                provider = %w.provider,
                resource_class = %w.resource_class,
                "over capacity, but the new allocations reduce the overage"
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(total: i64, reserved: i64, ratio: f64) -> Inventory {
        Inventory {
            resource_class: "VCPU".into(),
            total,
            reserved,
            min_unit: 1,
            max_unit: 8,
            step_size: 1,
            allocation_ratio: ratio,
            updated_at: 0,
        }
    }

    fn want(amount: i64) -> Want {
        Want {
            provider: "rp".into(),
            resource_class: "VCPU".into(),
            amount,
        }
    }

    #[test]
    fn capacity_and_constraints() {
        let mut invs = HashMap::new();
        invs.insert(("rp".to_string(), "VCPU".to_string()), inv(4, 1, 2.0));
        let mut used = HashMap::new();
        used.insert(("rp".to_string(), "VCPU".to_string()), 4);
        let none = HashMap::new();
        // capacity (4 - 1) * 2 = 6; 4 used
        assert!(check(&[want(2)], &invs, &used, &none).is_ok());
        assert!(matches!(
            check(&[want(3)], &invs, &used, &none),
            Err(Refusal::Capacity { .. })
        ));
        assert!(matches!(
            check(&[want(9)], &invs, &HashMap::new(), &none),
            Err(Refusal::Constraints { .. })
        ));
        // two consumers on the same inventory add up
        assert!(matches!(
            check(&[want(1), want(2)], &invs, &used, &none),
            Err(Refusal::Capacity { .. })
        ));
        // no inventory of that class
        let w = Want {
            provider: "rp".into(),
            resource_class: "DISK_GB".into(),
            amount: 1,
        };
        assert!(matches!(
            check(&[w], &invs, &used, &none),
            Err(Refusal::NoInventory { .. })
        ));
        // over capacity already, but no worse than before
        let mut prev = HashMap::new();
        prev.insert(("rp".to_string(), "VCPU".to_string()), 8);
        used.insert(("rp".to_string(), "VCPU".to_string()), 0);
        assert!(check(&[want(7)], &invs, &used, &prev).is_ok());
        assert!(fits(&inv(4, 0, 1.0), 3, 1));
        assert!(!fits(&inv(4, 0, 1.0), 4, 1));
    }
}
