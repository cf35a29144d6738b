//! The placement schema. Append new migrations; never edit an applied one.
//!
//! Providers, inventories, aggregates and traits are keyed by the provider's UUID;
//! standard resource classes and traits live in [`crate::standard`], custom ones in
//! their own tables.

use db::Migration;

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "base schema",
    sql: r#"
CREATE TABLE placement_provider (
    uuid VARCHAR(36) NOT NULL PRIMARY KEY,
    name VARCHAR(200) NOT NULL,
    generation BIGINT NOT NULL DEFAULT 0,
    parent_uuid VARCHAR(36),
    root_uuid VARCHAR(36) NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    FOREIGN KEY (parent_uuid) REFERENCES placement_provider (uuid)
){TABLE};
CREATE UNIQUE INDEX placement_provider_name ON placement_provider (name);
CREATE INDEX placement_provider_root ON placement_provider (root_uuid);
CREATE INDEX placement_provider_parent ON placement_provider (parent_uuid);
CREATE INDEX placement_provider_created ON placement_provider (created_at, uuid);
CREATE TABLE placement_custom_class (
    name VARCHAR(255) NOT NULL PRIMARY KEY,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
){TABLE};
CREATE TABLE placement_custom_trait (
    name VARCHAR(255) NOT NULL PRIMARY KEY,
    created_at BIGINT NOT NULL
){TABLE};
CREATE TABLE placement_inventory (
    rp_uuid VARCHAR(36) NOT NULL,
    resource_class VARCHAR(255) NOT NULL,
    total BIGINT NOT NULL,
    reserved BIGINT NOT NULL,
    min_unit BIGINT NOT NULL,
    max_unit BIGINT NOT NULL,
    step_size BIGINT NOT NULL,
    allocation_ratio DOUBLE PRECISION NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (rp_uuid, resource_class),
    FOREIGN KEY (rp_uuid) REFERENCES placement_provider (uuid)
){TABLE};
CREATE INDEX placement_inventory_class ON placement_inventory (resource_class);
CREATE TABLE placement_provider_aggregate (
    rp_uuid VARCHAR(36) NOT NULL,
    aggregate_uuid VARCHAR(36) NOT NULL,
    PRIMARY KEY (rp_uuid, aggregate_uuid),
    FOREIGN KEY (rp_uuid) REFERENCES placement_provider (uuid)
){TABLE};
CREATE INDEX placement_provider_aggregate_agg ON placement_provider_aggregate (aggregate_uuid);
CREATE TABLE placement_provider_trait (
    rp_uuid VARCHAR(36) NOT NULL,
    trait_name VARCHAR(255) NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (rp_uuid, trait_name),
    FOREIGN KEY (rp_uuid) REFERENCES placement_provider (uuid)
){TABLE};
CREATE INDEX placement_provider_trait_name ON placement_provider_trait (trait_name);
CREATE TABLE placement_consumer (
    uuid VARCHAR(36) NOT NULL PRIMARY KEY,
    project_id VARCHAR(255) NOT NULL,
    user_id VARCHAR(255) NOT NULL,
    consumer_type VARCHAR(255),
    generation BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
){TABLE};
CREATE INDEX placement_consumer_project_user ON placement_consumer (project_id, user_id);
CREATE TABLE placement_allocation (
    consumer_uuid VARCHAR(36) NOT NULL,
    rp_uuid VARCHAR(36) NOT NULL,
    resource_class VARCHAR(255) NOT NULL,
    used BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (consumer_uuid, rp_uuid, resource_class),
    FOREIGN KEY (rp_uuid) REFERENCES placement_provider (uuid)
){TABLE};
CREATE INDEX placement_allocation_rp_class ON placement_allocation (rp_uuid, resource_class)
"#,
}];
