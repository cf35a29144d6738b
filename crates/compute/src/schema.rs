//! The compute schema. Append new migrations; never edit an applied one.

use db::Migration;

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "base schema",
        sql: r#"
CREATE TABLE flavor (
    id VARCHAR(255) NOT NULL PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    vcpus BIGINT NOT NULL,
    ram BIGINT NOT NULL,
    disk BIGINT NOT NULL,
    ephemeral BIGINT NOT NULL DEFAULT 0,
    swap BIGINT NOT NULL DEFAULT 0,
    rxtx_factor VARCHAR(32) NOT NULL,
    is_public BIGINT NOT NULL DEFAULT 1,
    disabled BIGINT NOT NULL DEFAULT 0,
    description {TEXT},
    extra_specs {TEXT} NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
){TABLE};
CREATE UNIQUE INDEX flavor_name ON flavor (name);
CREATE TABLE flavor_project (
    flavor_id VARCHAR(255) NOT NULL,
    project_id VARCHAR(255) NOT NULL,
    PRIMARY KEY (flavor_id, project_id)
){TABLE};
CREATE TABLE keypair (
    user_id VARCHAR(255) NOT NULL,
    name VARCHAR(255) NOT NULL,
    id BIGINT NOT NULL,
    key_type VARCHAR(10) NOT NULL,
    fingerprint VARCHAR(255) NOT NULL,
    public_key {TEXT} NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, name)
){TABLE};
CREATE TABLE instance (
    uuid VARCHAR(36) NOT NULL PRIMARY KEY,
    seq BIGINT NOT NULL,
    name VARCHAR(255) NOT NULL,
    hostname VARCHAR(255) NOT NULL,
    description {TEXT},
    project_id VARCHAR(255) NOT NULL,
    user_id VARCHAR(255) NOT NULL,
    flavor {TEXT} NOT NULL,
    image_ref VARCHAR(255) NOT NULL,
    image_meta {TEXT} NOT NULL,
    key_name VARCHAR(255),
    key_data {TEXT},
    user_data {TEXT},
    config_drive VARCHAR(255) NOT NULL,
    availability_zone VARCHAR(255),
    pinned_az VARCHAR(255),
    host VARCHAR(255),
    node VARCHAR(255),
    vm_state VARCHAR(32) NOT NULL,
    task_state VARCHAR(64),
    power_state BIGINT NOT NULL,
    locked_by VARCHAR(16),
    locked_reason {TEXT},
    access_ip_v4 VARCHAR(64),
    access_ip_v6 VARCHAR(64),
    reservation_id VARCHAR(255) NOT NULL,
    launch_index BIGINT NOT NULL,
    metadata {TEXT} NOT NULL,
    system_metadata {TEXT} NOT NULL,
    request_spec {TEXT} NOT NULL,
    launched_at BIGINT,
    terminated_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
){TABLE};
CREATE INDEX instance_project ON instance (project_id, deleted_at);
CREATE INDEX instance_created ON instance (created_at, uuid);
CREATE INDEX instance_host ON instance (host);
CREATE TABLE instance_tag (
    instance_uuid VARCHAR(36) NOT NULL,
    tag VARCHAR(60) NOT NULL,
    PRIMARY KEY (instance_uuid, tag)
){TABLE};
CREATE TABLE instance_fault (
    instance_uuid VARCHAR(36) NOT NULL PRIMARY KEY,
    code BIGINT NOT NULL,
    message {TEXT} NOT NULL,
    details {TEXT} NOT NULL,
    created_at BIGINT NOT NULL
){TABLE};
CREATE TABLE instance_action (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    instance_uuid VARCHAR(36) NOT NULL,
    action VARCHAR(64) NOT NULL,
    request_id VARCHAR(255) NOT NULL,
    user_id VARCHAR(255),
    project_id VARCHAR(255),
    message {TEXT},
    start_time BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
){TABLE};
CREATE INDEX instance_action_instance ON instance_action (instance_uuid, start_time);
CREATE TABLE instance_action_event (
    action_id VARCHAR(36) NOT NULL,
    event VARCHAR(255) NOT NULL,
    host VARCHAR(255),
    result VARCHAR(64),
    traceback {TEXT},
    start_time BIGINT NOT NULL,
    finish_time BIGINT
){TABLE};
CREATE INDEX instance_action_event_action ON instance_action_event (action_id);
CREATE TABLE server_group (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    policy VARCHAR(64) NOT NULL,
    rules {TEXT} NOT NULL,
    project_id VARCHAR(255) NOT NULL,
    user_id VARCHAR(255) NOT NULL,
    created_at BIGINT NOT NULL
){TABLE};
CREATE TABLE server_group_member (
    group_id VARCHAR(36) NOT NULL,
    instance_uuid VARCHAR(36) NOT NULL,
    PRIMARY KEY (group_id, instance_uuid)
){TABLE};
CREATE TABLE quota (
    project_id VARCHAR(255) NOT NULL,
    user_id VARCHAR(255) NOT NULL,
    resource VARCHAR(64) NOT NULL,
    hard_limit BIGINT NOT NULL,
    PRIMARY KEY (project_id, user_id, resource)
){TABLE};
CREATE TABLE quota_class (
    class_name VARCHAR(255) NOT NULL,
    resource VARCHAR(64) NOT NULL,
    hard_limit BIGINT NOT NULL,
    PRIMARY KEY (class_name, resource)
){TABLE};
CREATE TABLE compute_service (
    id BIGINT NOT NULL PRIMARY KEY,
    uuid VARCHAR(36) NOT NULL,
    host VARCHAR(255) NOT NULL,
    binary_name VARCHAR(255) NOT NULL,
    topic VARCHAR(255) NOT NULL,
    zone VARCHAR(255) NOT NULL,
    disabled BIGINT NOT NULL DEFAULT 0,
    disabled_reason {TEXT},
    forced_down BIGINT NOT NULL DEFAULT 0,
    report_count BIGINT NOT NULL DEFAULT 0,
    last_seen_up BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
){TABLE};
CREATE UNIQUE INDEX compute_service_host_binary ON compute_service (host, binary_name);
CREATE TABLE compute_node (
    id BIGINT NOT NULL PRIMARY KEY,
    uuid VARCHAR(36) NOT NULL,
    host VARCHAR(255) NOT NULL,
    hypervisor_hostname VARCHAR(255) NOT NULL,
    hypervisor_type VARCHAR(255) NOT NULL,
    hypervisor_version BIGINT NOT NULL,
    host_ip VARCHAR(64) NOT NULL,
    vcpus BIGINT NOT NULL,
    memory_mb BIGINT NOT NULL,
    local_gb BIGINT NOT NULL,
    cpu_info {TEXT} NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
){TABLE};
CREATE UNIQUE INDEX compute_node_name ON compute_node (hypervisor_hostname);
CREATE TABLE migration (
    id BIGINT NOT NULL PRIMARY KEY,
    uuid VARCHAR(36) NOT NULL,
    instance_uuid VARCHAR(36) NOT NULL,
    migration_type VARCHAR(32) NOT NULL,
    status VARCHAR(32) NOT NULL,
    source_compute VARCHAR(255),
    dest_compute VARCHAR(255),
    source_node VARCHAR(255),
    dest_node VARCHAR(255),
    old_flavor_id VARCHAR(255),
    new_flavor_id VARCHAR(255),
    project_id VARCHAR(255),
    user_id VARCHAR(255),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
){TABLE};
CREATE INDEX migration_instance ON migration (instance_uuid);
CREATE TABLE counter (
    name VARCHAR(64) NOT NULL PRIMARY KEY,
    value BIGINT NOT NULL
){TABLE};
"#,
    },
    Migration {
        version: 2,
        name: "host aggregates",
        sql: r#"
CREATE TABLE aggregate (
    id BIGINT NOT NULL PRIMARY KEY,
    uuid VARCHAR(36) NOT NULL,
    name VARCHAR(255) NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT
){TABLE};
CREATE UNIQUE INDEX aggregate_name ON aggregate (name);
CREATE TABLE aggregate_host (
    aggregate_id BIGINT NOT NULL,
    host VARCHAR(255) NOT NULL,
    PRIMARY KEY (aggregate_id, host)
){TABLE};
CREATE TABLE aggregate_metadata (
    aggregate_id BIGINT NOT NULL,
    meta_key VARCHAR(255) NOT NULL,
    meta_value VARCHAR(255) NOT NULL,
    PRIMARY KEY (aggregate_id, meta_key)
){TABLE};
"#,
    },
    Migration {
        version: 3,
        name: "flavor internal ids",
        sql: r#"
ALTER TABLE flavor ADD COLUMN internal_id BIGINT;
"#,
    },
    Migration {
        version: 4,
        name: "console auth tokens",
        sql: r#"
CREATE TABLE console_auth_token (
    token_hash VARCHAR(64) NOT NULL PRIMARY KEY,
    console_type VARCHAR(32) NOT NULL,
    host VARCHAR(255) NOT NULL,
    port INTEGER NOT NULL,
    internal_access_path VARCHAR(255),
    instance_uuid VARCHAR(36) NOT NULL,
    expires BIGINT NOT NULL
){TABLE};
CREATE INDEX console_auth_token_instance ON console_auth_token (instance_uuid);
"#,
    },
];
