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

    /// The project of that name in the default domain, created when missing.
    async fn ensure_project(&self, name: &str, description: &str) -> Result<Project> {
        let domain = self.cfg.default_domain_id.clone();
        if let Some(p) = store::resource::get_by_name(&self.db, &domain, name).await? {
            return Ok(p);
        }
        let p = Project {
            id: new_id(),
            name: name.to_string(),
            domain_id: domain.clone(),
            parent_id: Some(domain),
            is_domain: false,
            enabled: true,
            description: Some(description.to_string()),
            extra: Default::default(),
            options: Default::default(),
            tags: Vec::new(),
        };
        store::resource::insert(&self.db, &p, self.now_micros()).await?;
        Ok(p)
    }

    /// The user of that name in the default domain, created with `password` when
    /// missing; an existing user keeps its password unless `reset` is set.
    async fn ensure_user(&self, name: &str, password: &str, reset: bool) -> Result<(User, bool)> {
        let now = self.now_micros();
        let domain = self.cfg.default_domain_id.clone();
        let hash = || password::hash(password, self.cfg.password_hash_rounds);
        if let Some(u) = store::users::get_by_name(&self.db, &domain, name).await? {
            if reset && !self.check_password(&u.id, password).await? {
                store::users::set_password(&self.db, &u.id, &hash().await?, now, None, false, 1)
                    .await?;
            }
            return Ok((u, false));
        }
        let u = User {
            id: new_id(),
            domain_id: domain,
            name: name.to_string(),
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
        store::users::insert(&self.db, &u, Some((hash().await?, now, None))).await?;
        Ok((u, true))
    }

    async fn check_password(&self, user_id: &str, candidate: &str) -> Result<bool> {
        match store::users::passwords(&self.db, user_id).await?.first() {
            Some(p) => Ok(password::verify(candidate, &p.hash).await),
            None => Ok(false),
        }
    }

    /// The account services use to call each other (nova's `[placement]` and
    /// `[service_user]` credentials): `username` in the `service` project with the
    /// `admin` and `service` roles, its password set to `password`. Idempotent; run
    /// after [`Identity::bootstrap`].
    pub async fn ensure_service_user(&self, username: &str, password: &str) -> Result<()> {
        let project = self.ensure_project("service", "Service accounts.").await?;
        let (user, _) = self.ensure_user(username, password, true).await?;
        for role in ["admin", "service"] {
            let r = self.ensure_role(role).await?;
            st::grant(
                &self.db,
                &Assignment {
                    kind: AssignmentKind::UserProject,
                    actor_id: user.id.clone(),
                    target_id: project.id.clone(),
                    role_id: r.id,
                    inherited: false,
                },
            )
            .await?;
        }
        self.changed().await;
        Ok(())
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
        let project = self
            .ensure_project(
                &o.project_name,
                "Bootstrap project for initializing the cloud.",
            )
            .await?;
        let (user, created) = self
            .ensure_user(&o.admin_username, &o.admin_password, false)
            .await?;
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
