//! Hot paths of token validation: opening a Fernet token and evaluating a policy rule.
//! `cargo bench -p auth --bench hot_paths`

use auth::policy::{Enforcer, RuleDefault};
use auth::token::new_audit_id;
use auth::{KeySet, Scope, TokenPayload};
use criterion::{Criterion, black_box, criterion_group, criterion_main};
use serde_json::json;

fn tokens(c: &mut Criterion) {
    let keys = KeySet::from_keys(&[
        fernet::Fernet::generate_key(),
        fernet::Fernet::generate_key(),
        fernet::Fernet::generate_key(),
    ])
    .expect("keys");
    let p = TokenPayload {
        user_id: "0ca8f6a5e2f54e5ba0ad9f2b3c4d5e6f".into(),
        methods: vec!["password".into()],
        scope: Scope::Project {
            project_id: "1ca8f6a5e2f54e5ba0ad9f2b3c4d5e6f".into(),
        },
        expires_at: 1_900_000_000,
        audit_ids: vec![new_audit_id()],
        issued_at: 1_800_000_000,
    };
    let token = p.seal(&keys, 1_800_000_000);
    c.bench_function("token seal (project scope)", |b| {
        b.iter(|| black_box(p.seal(&keys, 1_800_000_000)))
    });
    c.bench_function("token open (project scope, primary key)", |b| {
        b.iter(|| TokenPayload::open(black_box(&token), &keys, 1_800_000_100).expect("open"))
    });
}

fn policy(c: &mut Criterion) {
    let e = Enforcer::new(
        &[
            RuleDefault {
                name: "admin_required",
                check: "role:admin or is_admin:1",
                scope_types: &[],
            },
            RuleDefault {
                name: "identity:get_project",
                check: "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.project.domain_id)s) or project_id:%(target.project.id)s",
                scope_types: &[],
            },
        ],
        false,
    );
    let creds = json!({"roles": ["member", "reader"], "project_id": "p1", "domain_id": null,
                       "system_scope": null, "user_id": "u"});
    let target = json!({"target": {"project": {"id": "p1", "domain_id": "d"}}});
    c.bench_function("policy identity:get_project (member, own project)", |b| {
        b.iter(|| assert!(e.check(black_box("identity:get_project"), &target, &creds)))
    });
}

criterion_group!(benches, tokens, policy);
criterion_main!(benches);
