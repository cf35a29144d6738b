//! Authentication and authorization shared by every ferrostack service.
//!
//! - [`keys`]: Fernet key repositories with keystone's staged/primary/secondary semantics.
//! - [`token`]: keystone's Fernet token payload formats, byte-compatible with keystone.
//! - [`policy`]: the oslo.policy rule language and an enforcer with operator overrides.
//! - [`context`]: the request context (the keystonemiddleware equivalent) and the
//!   [`TokenValidator`] trait that local and remote validation implement.

pub mod context;
pub mod keys;
pub mod policy;
pub mod remote;
pub mod token;

pub use context::{AuthError, Context, Named, ProjectRef, TokenInfo, TokenValidator, Validator};
pub use keys::{KeyRepository, KeySet};
pub use policy::{Decision, Enforcer, RuleDefault};
pub use remote::{RemoteValidator, ServiceCredentials, ServiceSession};
pub use token::{Scope, TokenPayload};
