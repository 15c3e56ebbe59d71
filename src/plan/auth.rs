//! Who may use the server, planned: the names of MLflow's basic-auth user store and of the
//! secrets `infra.sh` generates for it, behind IAP the module that makes the signed-in
//! identity the MLflow user and the OAuth client's secret.

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
/// The key of the OAuth client's secret in its Kubernetes Secret: the one GKE reads for a
/// `GCPBackendPolicy`'s `oauth2ClientSecret`
/// (<https://cloud.google.com/kubernetes-engine/docs/how-to/configure-gateway-resources>).
pub const OAUTH_SECRET_KEY: &str = "key";
/// The key of the project number in its Kubernetes Secret.
pub const PROJECT_NUMBER_KEY: &str = "project-number";
/// The basic-auth app's `authorization_function` behind IAP: the module of
/// `src/image/mlflow_stack_iap.py`, which the image installs.
pub const IAP_AUTHORIZATION_FUNCTION: &str = "mlflow_stack_iap:authenticate_request_iap";
/// The module's file, as the bundle's `image/` holds it.
pub const IAP_MODULE_FILE: &str = "mlflow_stack_iap.py";
/// The module itself.
pub const IAP_MODULE: &str = include_str!("../image/mlflow_stack_iap.py");

/// Who may use the server, and what that takes.
#[derive(Debug, Clone, Serialize)]
pub struct AuthPlan {
    /// `none`, `basic` or `iap`.
    pub kind: &'static str,
    /// MLflow's basic-auth app and its user store: with `basic`, and behind IAP.
    pub basic: Option<BasicAuthPlan>,
    /// What IAP adds: the signed-in identity is the MLflow user.
    pub iap: Option<IapAuthPlan>,
}

/// Behind IAP, the basic-auth app's `authorization_function` is `mlflow_stack_iap`: the
/// server verifies IAP's signed header, the verified e-mail is the MLflow user, `admins`
/// are MLflow admins. The audience it accepts needs the project's number, which `infra.sh`
/// reads and puts into a Kubernetes Secret the server reads it from (a pod without it does
/// not start). The OAuth client's secret, which an administrator keeps in Secret Manager,
/// is copied into the Kubernetes Secret the `GCPBackendPolicy` names.
#[derive(Debug, Clone, Serialize)]
pub struct IapAuthPlan {
    /// `user:` and `serviceAccount:` principals.
    pub admins: Vec<String>,
    pub oauth_client_id: String,
    /// The Secret Manager secret an administrator creates with the OAuth client's secret.
    pub oauth_secret: String,
    /// The Kubernetes Secret `infra.sh` copies it into, and its key.
    pub oauth_k8s_secret: String,
    pub oauth_key: &'static str,
    /// The Kubernetes Secret holding the project number, and its key.
    pub project_k8s_secret: String,
    pub project_number_key: &'static str,
    pub authorization_function: &'static str,
    /// Where the load balancer's proxies reach the server from: a request from elsewhere
    /// without `X-Forwarded-For` comes from inside the cluster (the scraper of `/metrics`,
    /// the garbage collector as the admin), which the module lets in without an assertion.
    pub load_balancer_ranges: &'static [&'static str],
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
            Auth::Basic { default_permission }
            | Auth::Iap {
                default_permission, ..
            } => {
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
            Auth::None => None,
        };
        let iap = match auth {
            Auth::Iap {
                admins,
                oauth_client_id,
                ..
            } => Some(IapAuthPlan {
                admins: admins.iter().map(ToString::to_string).collect(),
                oauth_client_id: oauth_client_id.to_string(),
                oauth_secret: format!("{name}-iap-oauth-client-secret"),
                oauth_k8s_secret: oauth_k8s_secret(name),
                oauth_key: OAUTH_SECRET_KEY,
                project_k8s_secret: format!("{name}-iap-project"),
                project_number_key: PROJECT_NUMBER_KEY,
                authorization_function: IAP_AUTHORIZATION_FUNCTION,
                load_balancer_ranges: super::gateway::GOOGLE_FRONT_END_RANGES,
            }),
            Auth::None | Auth::Basic { .. } => None,
        };
        Self { kind, basic, iap }
    }
}

/// The Kubernetes Secret holding IAP's OAuth client secret, which the `GCPBackendPolicy`
/// names.
#[must_use]
pub fn oauth_k8s_secret(name: &DnsLabel) -> String {
    format!("{name}-iap-oauth")
}

fn permission(permission: Permission) -> &'static str {
    permission.as_str()
}
