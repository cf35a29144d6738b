//! Glance's default policy rules (name, check string, scope types), as registered by
//! glance 33.0.0 (`glance.policies.list_rules()`). An operator policy file overrides them.

use auth::RuleDefault;

pub const RULES: &[RuleDefault] = &[
    RuleDefault {
        name: "default",
        check: "",
        scope_types: &[],
    },
    RuleDefault {
        name: "context_is_admin",
        check: "role:admin",
        scope_types: &[],
    },
    RuleDefault {
        name: "service_api",
        check: "role:service or role:admin",
        scope_types: &[],
    },
    RuleDefault {
        name: "add_image",
        check: "rule:context_is_admin or (role:member and project_id:%(project_id)s and project_id:%(owner)s)",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "delete_image",
        check: "rule:context_is_admin or (role:member and project_id:%(project_id)s)",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "get_image",
        check: "rule:context_is_admin or (role:reader and (project_id:%(project_id)s or project_id:%(member_id)s or 'community':%(visibility)s or 'public':%(visibility)s or 'shared':%(visibility)s))",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "get_images",
        check: "rule:context_is_admin or (role:reader and project_id:%(project_id)s)",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "modify_image",
        check: "rule:context_is_admin or (role:member and project_id:%(project_id)s)",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "publicize_image",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "communitize_image",
        check: "rule:context_is_admin or (role:member and project_id:%(project_id)s)",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "download_image",
        check: "rule:context_is_admin or (role:member and (project_id:%(project_id)s or project_id:%(member_id)s or 'community':%(visibility)s or 'public':%(visibility)s or 'shared':%(visibility)s))",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "download_from_store",
        check: "rule:context_is_admin or (role:member and (project_id:%(project_id)s or project_id:%(member_id)s or 'community':%(visibility)s or 'public':%(visibility)s or 'shared':%(visibility)s))",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "upload_image",
        check: "rule:context_is_admin or (role:member and project_id:%(project_id)s)",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "delete_image_location",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "get_image_location",
        check: "rule:context_is_admin or (role:reader and project_id:%(project_id)s)",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "set_image_location",
        check: "rule:context_is_admin or (role:member and project_id:%(project_id)s)",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "add_image_location",
        check: "rule:service_api or (role:member and project_id:%(project_id)s and project_id:%(owner)s)",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "fetch_image_location",
        check: "rule:service_api",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "add_member",
        check: "rule:context_is_admin or (role:member and project_id:%(project_id)s)",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "delete_member",
        check: "rule:context_is_admin or (role:member and project_id:%(project_id)s)",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "get_member",
        check: "rule:context_is_admin or role:reader and (project_id:%(project_id)s or project_id:%(member_id)s)",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "get_members",
        check: "rule:context_is_admin or role:reader and (project_id:%(project_id)s or project_id:%(member_id)s)",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "modify_member",
        check: "rule:context_is_admin or (role:member and project_id:%(member_id)s)",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "manage_image_cache",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "deactivate",
        check: "rule:context_is_admin or (role:member and project_id:%(project_id)s)",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "reactivate",
        check: "rule:context_is_admin or (role:member and project_id:%(project_id)s)",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "copy_image",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "list_cached_nodes",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "get_task",
        check: "rule:default",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "get_tasks",
        check: "rule:default",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "add_task",
        check: "rule:default",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "modify_task",
        check: "rule:default",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "tasks_api_access",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "metadef_default",
        check: "",
        scope_types: &[],
    },
    RuleDefault {
        name: "metadef_admin",
        check: "rule:context_is_admin",
        scope_types: &[],
    },
    RuleDefault {
        name: "get_metadef_namespace",
        check: "rule:context_is_admin or (role:reader and (project_id:%(project_id)s or 'public':%(visibility)s))",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "get_metadef_namespaces",
        check: "rule:context_is_admin or (role:reader and project_id:%(project_id)s)",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "modify_metadef_namespace",
        check: "rule:metadef_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "add_metadef_namespace",
        check: "rule:metadef_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "delete_metadef_namespace",
        check: "rule:metadef_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "get_metadef_object",
        check: "rule:context_is_admin or (role:reader and (project_id:%(project_id)s or 'public':%(visibility)s))",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "get_metadef_objects",
        check: "rule:context_is_admin or (role:reader and (project_id:%(project_id)s or 'public':%(visibility)s))",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "modify_metadef_object",
        check: "rule:metadef_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "add_metadef_object",
        check: "rule:metadef_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "delete_metadef_object",
        check: "rule:metadef_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "list_metadef_resource_types",
        check: "rule:context_is_admin or (role:reader and (project_id:%(project_id)s or 'public':%(visibility)s))",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "get_metadef_resource_type",
        check: "rule:context_is_admin or (role:reader and (project_id:%(project_id)s or 'public':%(visibility)s))",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "add_metadef_resource_type_association",
        check: "rule:metadef_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "remove_metadef_resource_type_association",
        check: "rule:metadef_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "get_metadef_property",
        check: "rule:context_is_admin or (role:reader and (project_id:%(project_id)s or 'public':%(visibility)s))",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "get_metadef_properties",
        check: "rule:context_is_admin or (role:reader and (project_id:%(project_id)s or 'public':%(visibility)s))",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "modify_metadef_property",
        check: "rule:metadef_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "add_metadef_property",
        check: "rule:metadef_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "remove_metadef_property",
        check: "rule:metadef_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "get_metadef_tag",
        check: "rule:context_is_admin or (role:reader and (project_id:%(project_id)s or 'public':%(visibility)s))",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "get_metadef_tags",
        check: "rule:context_is_admin or (role:reader and (project_id:%(project_id)s or 'public':%(visibility)s))",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "modify_metadef_tag",
        check: "rule:metadef_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "add_metadef_tag",
        check: "rule:metadef_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "add_metadef_tags",
        check: "rule:metadef_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "delete_metadef_tag",
        check: "rule:metadef_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "delete_metadef_tags",
        check: "rule:metadef_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "cache_image",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "cache_list",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "cache_delete",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "cache_clean",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "cache_prune",
        check: "rule:context_is_admin",
        scope_types: &["project"],
    },
    RuleDefault {
        name: "stores_info_detail",
        check: "rule:context_is_admin or rule:service_api",
        scope_types: &["project"],
    },
];
