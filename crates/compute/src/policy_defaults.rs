//! Nova's default policy rules (names and check strings as nova ships them).

use auth::RuleDefault;

pub const RULES: &[RuleDefault] = &[
    RuleDefault {
        name: "context_is_admin",
        check: "role:admin",
        scope_types: &[],
    },
    RuleDefault {
        name: "admin_or_owner",
        check: "is_admin:True or project_id:%(project_id)s",
        scope_types: &[],
    },
    RuleDefault {
        name: "admin_api",
        check: "is_admin:True",
        scope_types: &[],
    },
    RuleDefault {
        name: "project_manager_api",
        check: "role:manager and project_id:%(project_id)s",
        scope_types: &[],
    },
    RuleDefault {
        name: "project_member_api",
        check: "role:member and project_id:%(project_id)s",
        scope_types: &[],
    },
    RuleDefault {
        name: "project_reader_api",
        check: "role:reader and project_id:%(project_id)s",
        scope_types: &[],
    },
    RuleDefault {
        name: "service_api",
        check: "role:service",
        scope_types: &[],
    },
    RuleDefault {
        name: "project_manager_or_admin",
        check: "rule:project_manager_api or rule:context_is_admin",
        scope_types: &[],
    },
    RuleDefault {
        name: "project_member_or_admin",
        check: "rule:project_member_api or rule:context_is_admin",
        scope_types: &[],
    },
    RuleDefault {
        name: "project_reader_or_admin",
        check: "rule:project_reader_api or rule:context_is_admin",
        scope_types: &[],
    },
    RuleDefault {
        name: "service_or_admin",
        check: "rule:service_api or rule:context_is_admin",
        scope_types: &[],
    },
    RuleDefault {
        name: "os_compute_api:os-admin-actions:reset_state",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-admin-actions:inject_network_info",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-admin-password",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-aggregates:set_metadata",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-aggregates:add_host",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-aggregates:create",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-aggregates:remove_host",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-aggregates:update",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-aggregates:index",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-aggregates:delete",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-aggregates:show",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "compute:aggregates:images",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-assisted-volume-snapshots:create",
        check: "rule:service_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-assisted-volume-snapshots:delete",
        check: "rule:service_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-attach-interfaces:list",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-attach-interfaces:show",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-attach-interfaces:create",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-attach-interfaces:delete",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-availability-zone:list",
        check: "@",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-availability-zone:detail",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-baremetal-nodes:list",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-baremetal-nodes:show",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-console-auth-tokens",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-console-output",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-create-backup",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-deferred-delete:restore",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-deferred-delete:force",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-evacuate",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-extended-server-attributes",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:extensions",
        check: "@",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-flavor-access:add_tenant_access",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-flavor-access:remove_tenant_access",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-flavor-access",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-flavor-extra-specs:show",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-flavor-extra-specs:create",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-flavor-extra-specs:update",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-flavor-extra-specs:delete",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-flavor-extra-specs:index",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-flavor-manage:create",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-flavor-manage:update",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-flavor-manage:delete",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-floating-ip-pools",
        check: "@",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-floating-ips:add",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-floating-ips:remove",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-floating-ips:list",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-floating-ips:create",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-floating-ips:show",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-floating-ips:delete",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-hosts:list",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-hosts:show",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-hosts:update",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-hosts:reboot",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-hosts:shutdown",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-hosts:start",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-hypervisors:list",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-hypervisors:list-detail",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-hypervisors:statistics",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-hypervisors:show",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-hypervisors:uptime",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-hypervisors:search",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-hypervisors:servers",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-instance-actions:events:details",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-instance-actions:events",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-instance-actions:list",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-instance-actions:show",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-instance-usage-audit-log:list",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-instance-usage-audit-log:show",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:ips:show",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:ips:index",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-keypairs:index",
        check: "(rule:context_is_admin) or user_id:%(user_id)s",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-keypairs:create",
        check: "(rule:context_is_admin) or user_id:%(user_id)s",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-keypairs:delete",
        check: "(rule:context_is_admin) or user_id:%(user_id)s",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-keypairs:show",
        check: "(rule:context_is_admin) or user_id:%(user_id)s",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:limits",
        check: "@",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:limits:other_project",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-lock-server:lock",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-lock-server:unlock",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-lock-server:unlock:unlock_override",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-migrate-server:migrate",
        check: "rule:project_manager_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-migrate-server:migrate:host",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-migrate-server:migrate_live",
        check: "rule:project_manager_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-migrate-server:migrate_live:host",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-migrations:index",
        check: "rule:project_manager_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-migrations:index:all_projects",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-migrations:index:host",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-multinic:add",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-multinic:remove",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-networks:list",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-networks:show",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-pause-server:pause",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-pause-server:unpause",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-quota-class-sets:show",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-quota-class-sets:update",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-quota-sets:update",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-quota-sets:defaults",
        check: "@",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-quota-sets:show",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-quota-sets:delete",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-quota-sets:detail",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-remote-consoles",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-rescue",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-unrescue",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-security-groups:get",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-security-groups:show",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-security-groups:create",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-security-groups:update",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-security-groups:delete",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-security-groups:rule:create",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-security-groups:rule:delete",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-security-groups:list",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-security-groups:add",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-security-groups:remove",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-server-diagnostics",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-server-external-events:create",
        check: "rule:service_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-server-groups:create",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-server-groups:delete",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-server-groups:index",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-server-groups:index:all_projects",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-server-groups:show",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:server-metadata:index",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:server-metadata:show",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:server-metadata:create",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:server-metadata:update_all",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:server-metadata:update",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:server-metadata:delete",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-server-password:show",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-server-password:clear",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-server-shares:index",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-server-shares:create",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-server-shares:show",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-server-shares:delete",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-server-tags:delete_all",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-server-tags:index",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-server-tags:update_all",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-server-tags:delete",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-server-tags:update",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-server-tags:show",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "compute:server:topology:index",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "compute:server:topology:host:index",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:servers:index",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:servers:detail",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:servers:index:get_all_tenants",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:servers:detail:get_all_tenants",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:servers:allow_all_filters",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:servers:show",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:servers:show:flavor-extra-specs",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:servers:show:host_status",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:servers:show:host_status:unknown-only",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:servers:create",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:servers:create:forced_host",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "compute:servers:create:requested_destination",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:servers:create:attach_volume",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:servers:create:attach_network",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:servers:create:trusted_certs",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:servers:create:zero_disk_flavor",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "network:attach_external_network",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:servers:delete",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:servers:update",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:servers:confirm_resize",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:servers:revert_resize",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:servers:reboot",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:servers:resize",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "compute:servers:resize:cross_cell",
        check: "!",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:servers:rebuild",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:servers:rebuild:trusted_certs",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:servers:create_image",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:servers:create_image:allow_volume_backed",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:servers:start",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:servers:stop",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:servers:trigger_crash_dump",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:servers:migrations:show",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:servers:migrations:force_complete",
        check: "rule:project_manager_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:servers:migrations:delete",
        check: "rule:project_manager_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:servers:migrations:index",
        check: "rule:project_manager_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:servers:migrations:index:host",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-services:list",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-services:update",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-services:delete",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-shelve:shelve",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-shelve:unshelve",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-shelve:unshelve_to_host",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-shelve:shelve_offload",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-simple-tenant-usage:show",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-simple-tenant-usage:list",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-suspend-server:resume",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-suspend-server:suspend",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-tenant-networks:list",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-tenant-networks:show",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-volumes:list",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-volumes:create",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-volumes:detail",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-volumes:show",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-volumes:delete",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-volumes:snapshots:list",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-volumes:snapshots:create",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-volumes:snapshots:detail",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-volumes:snapshots:show",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-volumes:snapshots:delete",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-volumes-attachments:index",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-volumes-attachments:create",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-volumes-attachments:show",
        check: "rule:project_reader_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-volumes-attachments:update",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-volumes-attachments:swap",
        check: "rule:service_or_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "os_compute_api:os-volumes-attachments:delete",
        check: "rule:project_member_or_admin",
        scope_types: &["project"],
    },
];
