//! MLflow's basic-auth app in the pod (`[auth] kind = "basic"`, and behind IAP with
//! `mlflow_stack_iap` as its authorization function): its configuration file (no secret in
//! it), the admin password and Flask secret key from the Secret `infra.sh` creates (behind
//! IAP, the project number too), and the migration of its user store behind the proxy
//! before the server starts.

use std::fmt::Write as _;

use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, Container, EnvVar, EnvVarSource, KeyToPath, SecretKeySelector, Volume,
    VolumeMount,
};

use super::{BACKEND_STORE_URI, mount, resources, restricted_security_context, value};
use crate::plan::auth::{AUTH_CONFIG_DIR, AUTH_CONFIG_FILE, BasicAuthPlan};
use crate::plan::{DB_HOST, DB_PORT, Plan};

const VOLUME: &str = "auth-config";
/// The ConfigMap key and environment variable of the user store's URI.
pub(super) const AUTH_DATABASE_URI: &str = "AUTH_STORE_URI";
/// Where `mlflow_stack_iap` reads the project number when its section does not say it.
const PROJECT_NUMBER_ENV: &str = "MLFLOW_STACK_IAP_PROJECT_NUMBER";

fn basic(plan: &Plan) -> Option<&BasicAuthPlan> {
    plan.auth.basic.as_ref()
}

/// The basic-auth configuration file: settings only. The admin password comes from
/// `MLFLOW_AUTH_ADMIN_PASSWORD`, which MLflow prefers to the file. The user store's URI is
/// assembled by configparser's interpolation from its parts, so that no line of the
/// ConfigMap outgrows 80 columns. Behind IAP, the authorization function is
/// `mlflow_stack_iap`'s and its section lists the admins (the project number comes from
/// `MLFLOW_STACK_IAP_PROJECT_NUMBER`, out of the Secret `infra.sh` makes).
#[must_use]
pub fn config_file(plan: &Plan, basic: &BasicAuthPlan) -> String {
    let mut text = basic_section(plan, basic);
    if let Some(iap) = &plan.auth.iap {
        let _ = write!(
            text,
            "authorization_function = {}\n\n[mlflow-stack-iap]\nadmins =\n",
            iap.authorization_function
        );
        // One principal a line: the module splits on commas and white space.
        for admin in &iap.admins {
            let _ = writeln!(text, "    {admin}");
        }
        let _ = writeln!(
            text,
            "load_balancer_ranges = {}",
            iap.load_balancer_ranges.join(", ")
        );
    }
    text
}

fn basic_section(plan: &Plan, basic: &BasicAuthPlan) -> String {
    // configparser interpolates `%`: an IAM user's `%40` is written `%%40`.
    format!(
        "[mlflow]\n\
         default_permission = {}\n\
         admin_username = {}\n\
         user = {}\n\
         proxy = {DB_HOST}:{DB_PORT}\n\
         database = {}\n\
         database_uri = postgresql+psycopg2://%(user)s@%(proxy)s/%(database)s\n",
        basic.default_permission,
        basic.admin_username,
        plan.database.db_user_uri.replace('%', "%%"),
        basic.database,
    )
}

/// ConfigMap entries: the configuration file and the user store's URI.
pub(super) fn config_entries(plan: &Plan) -> Vec<(String, String)> {
    basic(plan).map_or_else(Vec::new, |basic| {
        vec![
            (AUTH_CONFIG_FILE.to_owned(), config_file(plan, basic)),
            (AUTH_DATABASE_URI.to_owned(), basic.database_uri.clone()),
        ]
    })
}

pub(super) fn args(plan: &Plan) -> Vec<String> {
    basic(plan).map_or_else(Vec::new, |_| vec!["--app-name=basic-auth".to_owned()])
}

fn from_secret(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.to_owned(),
                key: key.to_owned(),
                optional: None,
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

pub(super) fn env(plan: &Plan) -> Vec<EnvVar> {
    basic(plan).map_or_else(Vec::new, |basic| {
        let mut env = vec![
            value(
                "MLFLOW_AUTH_CONFIG_PATH",
                &format!("{AUTH_CONFIG_DIR}/{AUTH_CONFIG_FILE}"),
            ),
            from_secret(
                "MLFLOW_AUTH_ADMIN_PASSWORD",
                &basic.admin_password_k8s_secret,
                basic.admin_password_key,
            ),
            // One key for every replica: a session or CSRF token made by one pod is
            // accepted by the others.
            from_secret(
                "MLFLOW_FLASK_SERVER_SECRET_KEY",
                &basic.flask_key_k8s_secret,
                basic.flask_key_key,
            ),
        ];
        if let Some(iap) = &plan.auth.iap {
            // Not optional: without the Secret the container does not start, and no request
            // is answered without the audience checked.
            env.push(from_secret(
                PROJECT_NUMBER_ENV,
                &iap.project_k8s_secret,
                iap.project_number_key,
            ));
            // A route the app has no authorization rule for is denied, whatever MLflow
            // release's default.
            env.push(value("MLFLOW_BASIC_AUTH_FAIL_CLOSED", "true"));
        }
        env
    })
}

/// The admin's credentials as MLflow's client reads them, for a container that calls the
/// server's API (the garbage collector deleting proxied artifacts); nothing without basic
/// auth.
pub(in crate::emit) fn tracking_credentials(plan: &Plan) -> Vec<EnvVar> {
    basic(plan).map_or_else(Vec::new, |basic| {
        vec![
            value("MLFLOW_TRACKING_USERNAME", basic.admin_username),
            from_secret(
                "MLFLOW_TRACKING_PASSWORD",
                &basic.admin_password_k8s_secret,
                basic.admin_password_key,
            ),
        ]
    })
}

pub(super) fn mounts(plan: &Plan) -> Vec<VolumeMount> {
    basic(plan).map_or_else(Vec::new, |_| vec![mount(VOLUME, AUTH_CONFIG_DIR, true)])
}

pub(super) fn volumes(plan: &Plan) -> Vec<Volume> {
    basic(plan).map_or_else(Vec::new, |_| {
        vec![Volume {
            name: VOLUME.to_owned(),
            config_map: Some(ConfigMapVolumeSource {
                name: plan.names.config_map.clone(),
                items: Some(vec![KeyToPath {
                    key: AUTH_CONFIG_FILE.to_owned(),
                    path: AUTH_CONFIG_FILE.to_owned(),
                    mode: None,
                }]),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        }]
    })
}

/// The init container that migrates the user store, after the main schema's, as its
/// owner and under an advisory lock of its own (see [`super::MIGRATE`]).
pub(super) fn migrate(plan: &Plan) -> Option<Container> {
    basic(plan)?;
    let mut env = server_env_for_migration(plan);
    env.push(super::from_config(plan, AUTH_DATABASE_URI));
    Some(Container {
        name: "migrate-auth".to_owned(),
        image: Some(plan.image.image.clone()),
        image_pull_policy: Some("Always".to_owned()),
        command: Some(vec![
            "python".to_owned(),
            "-c".to_owned(),
            super::MIGRATE.to_owned(),
        ]),
        args: Some(vec!["auth".to_owned(), format!("$({AUTH_DATABASE_URI})")]),
        env: Some(env),
        resources: Some(resources("100m", "512Mi", "512Mi")),
        security_context: Some(restricted_security_context()),
        volume_mounts: Some(super::server_mounts(plan)),
        ..Container::default()
    })
}

/// The database password and key file the main migration uses, without its URI.
fn server_env_for_migration(plan: &Plan) -> Vec<EnvVar> {
    super::server_env(plan)
        .into_iter()
        .filter(|var| var.name != BACKEND_STORE_URI)
        .collect()
}
