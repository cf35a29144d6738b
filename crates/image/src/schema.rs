//! The image schema. Append new migrations; never edit an applied one.

use db::Migration;

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "base schema",
        sql: r#"
CREATE TABLE image (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    name VARCHAR(255),
    status VARCHAR(30) NOT NULL,
    visibility VARCHAR(20) NOT NULL,
    owner VARCHAR(255),
    disk_format VARCHAR(20),
    container_format VARCHAR(20),
    size BIGINT,
    virtual_size BIGINT,
    checksum VARCHAR(32),
    os_hash_algo VARCHAR(64),
    os_hash_value VARCHAR(128),
    min_disk BIGINT NOT NULL DEFAULT 0,
    min_ram BIGINT NOT NULL DEFAULT 0,
    protected BIGINT NOT NULL DEFAULT 0,
    os_hidden BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
){TABLE};
CREATE INDEX image_owner ON image (owner);
CREATE INDEX image_status ON image (status);
CREATE INDEX image_created ON image (created_at);
CREATE TABLE image_property (
    image_id VARCHAR(36) NOT NULL,
    name VARCHAR(255) NOT NULL,
    value {TEXT},
    PRIMARY KEY (image_id, name)
){TABLE};
CREATE TABLE image_tag (
    image_id VARCHAR(36) NOT NULL,
    value VARCHAR(255) NOT NULL,
    PRIMARY KEY (image_id, value)
){TABLE};
CREATE TABLE image_member (
    image_id VARCHAR(36) NOT NULL,
    member VARCHAR(255) NOT NULL,
    status VARCHAR(20) NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (image_id, member)
){TABLE};
CREATE INDEX image_member_member ON image_member (member);
CREATE TABLE image_location (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    image_id VARCHAR(36) NOT NULL,
    store VARCHAR(64) NOT NULL,
    url {TEXT} NOT NULL,
    status VARCHAR(30) NOT NULL,
    created_at BIGINT NOT NULL
){TABLE};
CREATE INDEX image_location_image ON image_location (image_id);
CREATE TABLE task (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    type VARCHAR(30) NOT NULL,
    status VARCHAR(30) NOT NULL,
    owner VARCHAR(255) NOT NULL,
    image_id VARCHAR(36),
    input {TEXT},
    result {TEXT},
    message {TEXT},
    request_id VARCHAR(64),
    user_id VARCHAR(64),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    expires_at BIGINT
){TABLE};
CREATE INDEX task_image ON task (image_id)
"#,
    },
    Migration {
        version: 2,
        name: "metadata definitions",
        sql: r#"
CREATE TABLE metadef_namespace (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    namespace VARCHAR(80) NOT NULL UNIQUE,
    display_name VARCHAR(80),
    description {TEXT},
    visibility VARCHAR(32) NOT NULL,
    protected BIGINT NOT NULL DEFAULT 0,
    owner VARCHAR(255) NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
){TABLE};
CREATE INDEX metadef_namespace_created ON metadef_namespace (created_at, id);
CREATE TABLE metadef_object (
    namespace_id VARCHAR(36) NOT NULL,
    name VARCHAR(80) NOT NULL,
    body {TEXT},
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (namespace_id, name)
){TABLE};
CREATE TABLE metadef_property (
    namespace_id VARCHAR(36) NOT NULL,
    name VARCHAR(80) NOT NULL,
    body {TEXT},
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (namespace_id, name)
){TABLE};
CREATE TABLE metadef_tag (
    namespace_id VARCHAR(36) NOT NULL,
    name VARCHAR(80) NOT NULL,
    body {TEXT},
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (namespace_id, name)
){TABLE};
CREATE TABLE metadef_resource_type (
    name VARCHAR(80) NOT NULL PRIMARY KEY,
    protected BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
){TABLE};
CREATE TABLE metadef_ns_resource_type (
    namespace_id VARCHAR(36) NOT NULL,
    resource_type VARCHAR(80) NOT NULL,
    prefix VARCHAR(80),
    properties_target VARCHAR(80),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (namespace_id, resource_type)
){TABLE};
CREATE INDEX metadef_ns_rt_type ON metadef_ns_resource_type (resource_type)
"#,
    },
    Migration {
        version: 3,
        name: "list indexes",
        sql: r#"
CREATE INDEX image_created_id ON image (created_at, id);
CREATE INDEX image_updated_id ON image (updated_at, id);
CREATE INDEX image_visibility ON image (visibility);
CREATE INDEX image_property_name ON image_property (name)
"#,
    },
    Migration {
        version: 4,
        name: "image cache",
        sql: r#"
CREATE TABLE image_cache (
    node VARCHAR(255) NOT NULL,
    image_id VARCHAR(36) NOT NULL,
    size BIGINT NOT NULL,
    hits BIGINT NOT NULL,
    checksum VARCHAR(32),
    last_accessed BIGINT NOT NULL,
    last_modified BIGINT NOT NULL,
    PRIMARY KEY (node, image_id)
){TABLE};
CREATE INDEX image_cache_image ON image_cache (image_id);
CREATE TABLE image_cache_queue (
    node VARCHAR(255) NOT NULL,
    image_id VARCHAR(36) NOT NULL,
    queued_at BIGINT NOT NULL,
    PRIMARY KEY (node, image_id)
){TABLE}
"#,
    },
];
