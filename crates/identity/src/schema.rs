//! The identity schema. Append new migrations; never edit an applied one.

use db::Migration;

/// The `domain_id` keystone gives domains themselves (a domain is a project with
/// `is_domain`), so that `(domain_id, name)` stays unique across both.
pub const ROOT_DOMAIN: &str = "<<keystone.domain.root>>";
/// The `domain_id` of global roles.
pub const NULL_DOMAIN: &str = "<<null>>";

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "base schema",
    sql: r#"
CREATE TABLE project (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    name VARCHAR(64) NOT NULL,
    domain_id VARCHAR(64) NOT NULL,
    parent_id VARCHAR(64),
    is_domain BIGINT NOT NULL DEFAULT 0,
    enabled BIGINT NOT NULL DEFAULT 1,
    description {TEXT},
    extra {TEXT},
    options {TEXT},
    created_at BIGINT NOT NULL,
    CONSTRAINT project_domain_name UNIQUE (domain_id, name)
){TABLE};
CREATE INDEX project_parent ON project (parent_id);
CREATE TABLE project_tag (
    project_id VARCHAR(64) NOT NULL,
    name VARCHAR(255) NOT NULL,
    PRIMARY KEY (project_id, name)
){TABLE};
CREATE TABLE user_account (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    domain_id VARCHAR(64) NOT NULL,
    name VARCHAR(255) NOT NULL,
    enabled BIGINT NOT NULL DEFAULT 1,
    default_project_id VARCHAR(64),
    description {TEXT},
    extra {TEXT},
    options {TEXT},
    created_at BIGINT NOT NULL,
    last_active_at BIGINT,
    failed_auth_count BIGINT NOT NULL DEFAULT 0,
    failed_auth_at BIGINT,
    CONSTRAINT user_domain_name UNIQUE (domain_id, name)
){TABLE};
CREATE TABLE password (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    user_id VARCHAR(64) NOT NULL,
    hash {TEXT} NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    self_service BIGINT NOT NULL DEFAULT 0
){TABLE};
CREATE INDEX password_user ON password (user_id, created_at);
CREATE TABLE user_group (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    domain_id VARCHAR(64) NOT NULL,
    name VARCHAR(64) NOT NULL,
    description {TEXT},
    extra {TEXT},
    CONSTRAINT group_domain_name UNIQUE (domain_id, name)
){TABLE};
CREATE TABLE group_membership (
    user_id VARCHAR(64) NOT NULL,
    group_id VARCHAR(64) NOT NULL,
    PRIMARY KEY (user_id, group_id)
){TABLE};
CREATE INDEX membership_group ON group_membership (group_id);
CREATE TABLE role (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    domain_id VARCHAR(64) NOT NULL,
    description {TEXT},
    extra {TEXT},
    options {TEXT},
    CONSTRAINT role_name_domain UNIQUE (name, domain_id)
){TABLE};
CREATE TABLE implied_role (
    prior_role_id VARCHAR(64) NOT NULL,
    implied_role_id VARCHAR(64) NOT NULL,
    PRIMARY KEY (prior_role_id, implied_role_id)
){TABLE};
CREATE TABLE assignment (
    kind VARCHAR(16) NOT NULL,
    actor_id VARCHAR(64) NOT NULL,
    target_id VARCHAR(64) NOT NULL,
    role_id VARCHAR(64) NOT NULL,
    inherited BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, actor_id, target_id, role_id, inherited)
){TABLE};
CREATE INDEX assignment_actor ON assignment (actor_id);
CREATE INDEX assignment_target ON assignment (target_id);
CREATE INDEX assignment_role ON assignment (role_id);
CREATE TABLE region (
    id VARCHAR(255) NOT NULL PRIMARY KEY,
    description {TEXT},
    parent_region_id VARCHAR(255),
    extra {TEXT}
){TABLE};
CREATE TABLE service (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    type VARCHAR(255) NOT NULL,
    name VARCHAR(255),
    description {TEXT},
    enabled BIGINT NOT NULL DEFAULT 1,
    extra {TEXT}
){TABLE};
CREATE TABLE endpoint (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    service_id VARCHAR(64) NOT NULL,
    interface VARCHAR(8) NOT NULL,
    url {TEXT} NOT NULL,
    region_id VARCHAR(255),
    enabled BIGINT NOT NULL DEFAULT 1,
    extra {TEXT}
){TABLE};
CREATE INDEX endpoint_service ON endpoint (service_id);
CREATE TABLE credential (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    user_id VARCHAR(64) NOT NULL,
    project_id VARCHAR(64),
    type VARCHAR(255) NOT NULL,
    encrypted_blob {TEXT} NOT NULL,
    key_hash VARCHAR(64) NOT NULL,
    extra {TEXT},
    created_at BIGINT NOT NULL
){TABLE};
CREATE INDEX credential_user ON credential (user_id);
CREATE TABLE app_cred (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    secret_hash {TEXT} NOT NULL,
    description {TEXT},
    user_id VARCHAR(64) NOT NULL,
    project_id VARCHAR(64),
    system_scope VARCHAR(64),
    expires_at BIGINT,
    unrestricted BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    CONSTRAINT app_cred_user_name UNIQUE (user_id, name)
){TABLE};
CREATE TABLE app_cred_role (
    app_cred_id VARCHAR(64) NOT NULL,
    role_id VARCHAR(64) NOT NULL,
    PRIMARY KEY (app_cred_id, role_id)
){TABLE};
CREATE TABLE access_rule (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    user_id VARCHAR(64) NOT NULL,
    service VARCHAR(64) NOT NULL,
    path VARCHAR(128),
    method VARCHAR(16) NOT NULL
){TABLE};
CREATE INDEX access_rule_user ON access_rule (user_id);
CREATE TABLE app_cred_access_rule (
    app_cred_id VARCHAR(64) NOT NULL,
    access_rule_id VARCHAR(64) NOT NULL,
    PRIMARY KEY (app_cred_id, access_rule_id)
){TABLE};
CREATE TABLE trust (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    trustor_user_id VARCHAR(64) NOT NULL,
    trustee_user_id VARCHAR(64) NOT NULL,
    project_id VARCHAR(64),
    impersonation BIGINT NOT NULL,
    expires_at BIGINT,
    remaining_uses BIGINT,
    redelegated_trust_id VARCHAR(64),
    redelegation_count BIGINT,
    deleted_at BIGINT,
    extra {TEXT}
){TABLE};
CREATE TABLE trust_role (
    trust_id VARCHAR(64) NOT NULL,
    role_id VARCHAR(64) NOT NULL,
    PRIMARY KEY (trust_id, role_id)
){TABLE};
CREATE TABLE policy (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    type VARCHAR(255) NOT NULL,
    policy_blob {TEXT} NOT NULL,
    extra {TEXT}
){TABLE};
CREATE TABLE registered_limit (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    service_id VARCHAR(64) NOT NULL,
    region_id VARCHAR(255),
    resource_name VARCHAR(255) NOT NULL,
    default_limit BIGINT NOT NULL,
    description {TEXT}
){TABLE};
CREATE TABLE project_limit (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    project_id VARCHAR(64),
    domain_id VARCHAR(64),
    service_id VARCHAR(64) NOT NULL,
    region_id VARCHAR(255),
    resource_name VARCHAR(255) NOT NULL,
    resource_limit BIGINT NOT NULL,
    description {TEXT}
){TABLE};
CREATE TABLE endpoint_group (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    description {TEXT},
    filters {TEXT} NOT NULL
){TABLE};
CREATE TABLE project_endpoint (
    endpoint_id VARCHAR(64) NOT NULL,
    project_id VARCHAR(64) NOT NULL,
    PRIMARY KEY (endpoint_id, project_id)
){TABLE};
CREATE TABLE project_endpoint_group (
    endpoint_group_id VARCHAR(64) NOT NULL,
    project_id VARCHAR(64) NOT NULL,
    PRIMARY KEY (endpoint_group_id, project_id)
){TABLE};
CREATE TABLE domain_config (
    domain_id VARCHAR(64) NOT NULL,
    group_name VARCHAR(255) NOT NULL,
    option_name VARCHAR(255) NOT NULL,
    value {TEXT} NOT NULL,
    is_sensitive BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (domain_id, group_name, option_name, is_sensitive)
){TABLE};
CREATE TABLE revocation_event (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    domain_id VARCHAR(64),
    project_id VARCHAR(64),
    user_id VARCHAR(64),
    role_id VARCHAR(64),
    trust_id VARCHAR(64),
    consumer_id VARCHAR(64),
    access_token_id VARCHAR(64),
    issued_before BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT NOT NULL,
    audit_id VARCHAR(32),
    audit_chain_id VARCHAR(32)
){TABLE};
CREATE INDEX revocation_revoked_at ON revocation_event (revoked_at);
CREATE TABLE oauth_consumer (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    description {TEXT},
    secret {TEXT} NOT NULL,
    extra {TEXT}
){TABLE};
CREATE TABLE change_counter (
    id BIGINT NOT NULL PRIMARY KEY,
    value BIGINT NOT NULL
){TABLE};
INSERT INTO change_counter (id, value) VALUES (1, 0)
"#,
}];
