//! First-run setup, like `keystone-manage bootstrap`: the default domain, the admin
//! project and user, the standard roles and their implications, the region and the
//! catalog entries of the services this node runs. Every step is idempotent.

use crate::model::{
    Assignment, AssignmentKind, Endpoint, Project, Region, Role, Service, User, new_id,
};
use crate::schema::ROOT_DOMAIN;
use crate::service::password;
use crate::store::{self, assignment as st};
use crate::{Identity, Result};

#[derive(Debug, Clone)]
pub struct BootstrapOptions {
    pub admin_username: String,
    pub admin_password: String,
    pub project_name: String,
    pub region_id: String,
}

/// One catalog entry: service type and name, and the URL of each interface.
#[derive(Debug, Clone)]
pub struct CatalogEntry {
    pub service_type: String,
    pub name: String,
    pub description: String,
    pub public_url: String,
    pub internal_url: String,
    pub admin_url: String,
}

/// What bootstrap found or made.
#[derive(Debug, Clone)]
pub struct BootstrapReport {
    pub admin_user_id: String,
    pub admin_project_id: String,
    pub created: bool,
}

/// Standard roles keystone's bootstrap creates; each implies the next.
const ROLES: &[&str] = &["admin", "manager", "member", "reader", "service"];

impl Identity {
    async fn ensure_role(&self, name: &str) -> Result<Role> {
        if let Some(r) = st::get_role_by_name(&self.db, name, None).await? {
            return Ok(r);
        }
        let r = Role {
            id: new_id(),
            name: name.to_string(),
            domain_id: None,
            description: None,
            extra: Default::default(),
            options: Default::default(),
        };
        st::insert_role(&self.db, &r).await?;
        Ok(r)
    }

    pub async fn bootstrap(&self, o: &BootstrapOptions) -> Result<BootstrapReport> {
        let now = self.now_micros();
        let default_domain = self.cfg.default_domain_id.clone();
        if store::resource::get(&self.db, &default_domain)
            .await?
            .is_none()
        {
            let d = Project {
                id: default_domain.clone(),
                name: "Default".into(),
                domain_id: ROOT_DOMAIN.into(),
                parent_id: None,
                is_domain: true,
                enabled: true,
                description: Some("The default domain".into()),
                extra: Default::default(),
                options: Default::default(),
                tags: Vec::new(),
            };
            store::resource::insert(&self.db, &d, now).await?;
        }
        let mut roles = Vec::new();
        for n in ROLES {
            roles.push(self.ensure_role(n).await?);
        }
        // admin -> manager -> member -> reader, as keystone's bootstrap sets them up.
        let rules = st::implied_rules(&self.db).await?;
        for w in roles[..4].windows(2) {
            if !rules.iter().any(|(p, i)| *p == w[0].id && *i == w[1].id) {
                st::add_implied(&self.db, &w[0].id, &w[1].id).await?;
            }
        }
        let admin_role = &roles[0];
        let project =
            match store::resource::get_by_name(&self.db, &default_domain, &o.project_name).await? {
                Some(p) => p,
                None => {
                    let p = Project {
                        id: new_id(),
                        name: o.project_name.clone(),
                        domain_id: default_domain.clone(),
                        parent_id: Some(default_domain.clone()),
                        is_domain: false,
                        enabled: true,
                        description: Some("Bootstrap project for initializing the cloud.".into()),
                        extra: Default::default(),
                        options: Default::default(),
                        tags: Vec::new(),
                    };
                    store::resource::insert(&self.db, &p, now).await?;
                    p
                }
            };
        let (user, created) =
            match store::users::get_by_name(&self.db, &default_domain, &o.admin_username).await? {
                Some(u) => (u, false),
                None => {
                    let u = User {
                        id: new_id(),
                        domain_id: default_domain.clone(),
                        name: o.admin_username.clone(),
                        enabled: true,
                        default_project_id: None,
                        description: None,
                        extra: Default::default(),
                        options: Default::default(),
                        created_at: now,
                        last_active_at: None,
                        password_expires_at: None,
                        failed_auth_count: 0,
                        failed_auth_at: None,
                    };
                    let hash =
                        password::hash(&o.admin_password, self.cfg.password_hash_rounds).await?;
                    store::users::insert(&self.db, &u, Some((hash, now, None))).await?;
                    (u, true)
                }
            };
        for a in [
            Assignment {
                kind: AssignmentKind::UserProject,
                actor_id: user.id.clone(),
                target_id: project.id.clone(),
                role_id: admin_role.id.clone(),
                inherited: false,
            },
            Assignment {
                kind: AssignmentKind::UserSystem,
                actor_id: user.id.clone(),
                target_id: "system".into(),
                role_id: admin_role.id.clone(),
                inherited: false,
            },
        ] {
            st::grant(&self.db, &a).await?;
        }
        if store::catalog::get_region(&self.db, &o.region_id)
            .await?
            .is_none()
        {
            store::catalog::insert_region(
                &self.db,
                &Region {
                    id: o.region_id.clone(),
                    description: None,
                    parent_region_id: None,
                    extra: Default::default(),
                },
            )
            .await?;
        }
        self.changed().await;
        Ok(BootstrapReport {
            admin_user_id: user.id,
            admin_project_id: project.id,
            created,
        })
    }

    /// Make the catalog hold exactly these URLs for the service (created or updated).
    pub async fn ensure_catalog_entry(&self, region: &str, e: &CatalogEntry) -> Result<()> {
        let services = store::catalog::list_services(&self.db).await?;
        let svc = match services
            .into_iter()
            .find(|s| s.service_type == e.service_type)
        {
            Some(s) => s,
            None => {
                let s = Service {
                    id: new_id(),
                    service_type: e.service_type.clone(),
                    name: Some(e.name.clone()),
                    description: Some(e.description.clone()),
                    enabled: true,
                    extra: Default::default(),
                };
                store::catalog::insert_service(&self.db, &s).await?;
                s
            }
        };
        let endpoints = store::catalog::list_endpoints(&self.db).await?;
        for (iface, url) in [
            ("public", &e.public_url),
            ("internal", &e.internal_url),
            ("admin", &e.admin_url),
        ] {
            let existing = endpoints.iter().find(|x| {
                x.service_id == svc.id
                    && x.interface == iface
                    && x.region_id.as_deref() == Some(region)
            });
            match existing {
                Some(x) if &x.url == url => {}
                Some(x) => {
                    let mut x = x.clone();
                    x.url = url.clone();
                    store::catalog::update_endpoint(&self.db, &x).await?;
                }
                None => {
                    store::catalog::insert_endpoint(
                        &self.db,
                        &Endpoint {
                            id: new_id(),
                            service_id: svc.id.clone(),
                            interface: iface.into(),
                            url: url.clone(),
                            region_id: Some(region.to_string()),
                            enabled: true,
                            extra: Default::default(),
                        },
                    )
                    .await?;
                }
            }
        }
        self.changed().await;
        Ok(())
    }
}
