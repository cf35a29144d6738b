//! Placement's default policy rules (name, check string, scope types), as registered by
//! placement (`placement.policies.list_rules()`): admin or service for everything, plus
//! project readers for their own project's total usages. An operator policy file
//! overrides them.

use auth::RuleDefault;

const ADMIN_OR_SERVICE: &str = "rule:admin_or_service_api";
const PROJECT: &[&str] = &["project"];

macro_rules! admin_or_service {
    ($($name:literal),* $(,)?) => {
        &[$(RuleDefault { name: $name, check: ADMIN_OR_SERVICE, scope_types: PROJECT }),*]
    };
}

pub const BASE: &[RuleDefault] = &[
    RuleDefault {
        name: "admin_api",
        check: "role:admin",
        scope_types: PROJECT,
    },
    // Placement registers `role:service` with the deprecated `role:admin` as fallback;
    // with oslo.policy's default (`enforce_new_defaults = false`) either passes.
    RuleDefault {
        name: "service_api",
        check: "role:service or role:admin",
        scope_types: PROJECT,
    },
    RuleDefault {
        name: "admin_or_service_api",
        check: "role:admin or role:service",
        scope_types: PROJECT,
    },
    RuleDefault {
        name: "project_reader_api",
        check: "role:reader and project_id:%(project_id)s",
        scope_types: &[],
    },
    RuleDefault {
        name: "admin_or_project_reader_or_service_api",
        check: "role:admin or rule:project_reader_api or role:service",
        scope_types: PROJECT,
    },
    RuleDefault {
        name: "placement:usages",
        check: "rule:admin_or_project_reader_or_service_api",
        scope_types: PROJECT,
    },
    RuleDefault {
        name: "placement:reshaper:reshape",
        check: "rule:service_api",
        scope_types: PROJECT,
    },
];

pub const ADMIN_OR_SERVICE_RULES: &[RuleDefault] = admin_or_service!(
    "placement:resource_providers:list",
    "placement:resource_providers:create",
    "placement:resource_providers:show",
    "placement:resource_providers:update",
    "placement:resource_providers:delete",
    "placement:resource_providers:inventories:list",
    "placement:resource_providers:inventories:create",
    "placement:resource_providers:inventories:show",
    "placement:resource_providers:inventories:update",
    "placement:resource_providers:inventories:delete",
    "placement:resource_providers:aggregates:list",
    "placement:resource_providers:aggregates:update",
    "placement:resource_providers:usages",
    "placement:resource_providers:allocations:list",
    "placement:resource_providers:traits:list",
    "placement:resource_providers:traits:update",
    "placement:resource_providers:traits:delete",
    "placement:resource_classes:list",
    "placement:resource_classes:create",
    "placement:resource_classes:show",
    "placement:resource_classes:update",
    "placement:resource_classes:delete",
    "placement:traits:list",
    "placement:traits:show",
    "placement:traits:update",
    "placement:traits:delete",
    "placement:allocations:manage",
    "placement:allocations:list",
    "placement:allocations:update",
    "placement:allocations:delete",
    "placement:allocation_candidates:list",
);

/// Every default rule.
pub fn rules() -> Vec<RuleDefault> {
    BASE.iter().chain(ADMIN_OR_SERVICE_RULES).copied().collect()
}
