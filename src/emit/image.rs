//! `image/Dockerfile` and `image/requirements.txt`: the MLflow server image.

use serde::Serialize;

use super::script;
use crate::plan::{Plan, SERVER_PORT, SERVER_UID};

/// The base image: slim Debian with CPython.
pub const PYTHON_IMAGE: &str = "python:3.12-slim";
/// Versions installed next to MLflow, pinned so that a rebuild gives the same server.
pub const PSYCOPG2_BINARY: &str = "2.9.13";
pub const GOOGLE_CLOUD_STORAGE: &str = "3.17.1";
/// MLflow's basic-auth app needs it (`mlflow[auth]`: `Flask-WTF<2`).
pub const FLASK_WTF: &str = "1.3.0";

#[derive(Serialize)]
struct Context<'a> {
    python_image: &'static str,
    mlflow_version: &'a str,
    uid: i64,
    port: u16,
}
///
/// # Panics
///
/// Only when an embedded template is broken, which every test run would show.
#[must_use]
pub fn dockerfile(plan: &Plan, header: &str) -> String {
    let context = Context {
        python_image: PYTHON_IMAGE,
        mlflow_version: &plan.mlflow_version,
        uid: SERVER_UID,
        port: SERVER_PORT,
    };
    let body = script::shared()
        .get_template("Dockerfile.j2")
        .and_then(|t| t.render(minijinja::Value::from(minijinja::value::Serde(context))))
        .unwrap_or_else(|error| panic!("rendering Dockerfile.j2: {error:#}"));
    format!("# {header}\n{body}")
}

#[must_use]
pub fn requirements(plan: &Plan, header: &str) -> String {
    let mut text = format!(
        "# {header}\nmlflow=={}\npsycopg2-binary=={PSYCOPG2_BINARY}\ngoogle-cloud-storage=={GOOGLE_CLOUD_STORAGE}\n",
        plan.mlflow_version
    );
    if plan.auth.basic.is_some() {
        text.push_str("Flask-WTF==");
        text.push_str(FLASK_WTF);
        text.push('\n');
    }
    text
}
