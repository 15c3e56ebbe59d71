//! Who may use the server, planned: the names of MLflow's basic-auth user store and of the
//! secrets `infra.sh` generates for it.

use serde::Serialize;

use super::{DB_HOST, DB_PORT};
use crate::model::{Auth, DnsLabel, Permission};
use crate::names::auth_database;
use crate::raw::Choice;

/// The admin MLflow's basic-auth app creates on its first start.
pub const ADMIN_USERNAME: &str = "admin";
/// Where the basic-auth configuration file is mounted in the server container.
pub const AUTH_CONFIG_DIR: &str = "/etc/mlflow/auth";
pub const AUTH_CONFIG_FILE: &str = "basic_auth.ini";
/// Keys of the Kubernetes Secrets holding the generated admin password and Flask key.
pub const ADMIN_PASSWORD_KEY: &str = "admin-password";
pub const FLASK_SECRET_KEY_KEY: &str = "flask-secret-key";

/// Who may use the server, and what that takes.
#[derive(Debug, Clone, Serialize)]
pub struct AuthPlan {
    /// `none`, `basic` or `iap`.
    pub kind: &'static str,
    pub basic: Option<BasicAuthPlan>,
}

/// MLflow's basic-auth app: a user store in its own database on the stack's Cloud SQL
/// instance (replicas must agree on users), an admin password and a Flask secret key
/// generated once by `infra.sh`, kept in Secret Manager and copied into a Kubernetes Secret.
#[derive(Debug, Clone, Serialize)]
pub struct BasicAuthPlan {
    /// MLflow's permission name, e.g. `READ`.
    pub default_permission: &'static str,
    /// The user store's database: `<database>_auth`.
    pub database: String,
    /// The user store as SQLAlchemy reaches it through the proxy; no password (libpq reads
    /// `PGPASSWORD`).
    pub database_uri: String,
    pub admin_username: &'static str,
    /// Secret Manager secrets `infra.sh` generates once.
    pub admin_password_secret: String,
    pub flask_key_secret: String,
    /// The Kubernetes Secrets the server reads them from, one per Secret Manager secret.
    pub admin_password_k8s_secret: String,
    pub flask_key_k8s_secret: String,
    pub admin_password_key: &'static str,
    pub flask_key_key: &'static str,
}

impl AuthPlan {
    #[must_use]
    pub fn new(auth: &Auth, name: &DnsLabel, database: &str, db_user_uri: &str) -> Self {
        let kind = match auth {
            Auth::None => "none",
            Auth::Basic { .. } => "basic",
            Auth::Iap { .. } => "iap",
        };
        let basic = match auth {
            Auth::Basic { default_permission } => {
                let auth_database = auth_database(database);
                Some(BasicAuthPlan {
                    default_permission: permission(*default_permission),
                    database_uri: format!(
                        "postgresql+psycopg2://{db_user_uri}@{DB_HOST}:{DB_PORT}/{auth_database}"
                    ),
                    database: auth_database,
                    admin_username: ADMIN_USERNAME,
                    admin_password_secret: format!("{name}-admin-password"),
                    flask_key_secret: format!("{name}-flask-secret-key"),
                    admin_password_k8s_secret: format!("{name}-auth-admin"),
                    flask_key_k8s_secret: format!("{name}-auth-flask"),
                    admin_password_key: ADMIN_PASSWORD_KEY,
                    flask_key_key: FLASK_SECRET_KEY_KEY,
                })
            }
            Auth::None | Auth::Iap { .. } => None,
        };
        Self { kind, basic }
    }
}

fn permission(permission: Permission) -> &'static str {
    permission.as_str()
}
