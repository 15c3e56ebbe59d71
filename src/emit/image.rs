//! `image/Dockerfile` and `image/requirements.txt`: the MLflow server image.

use std::fmt::Write as _;

use serde::Serialize;

use super::script;
use crate::plan::{Plan, SERVER_PORT, SERVER_UID};
use crate::validate::packages::{IMAGE_PINS, PinnedFor};

/// The base image: slim Debian with CPython.
pub const PYTHON_IMAGE: &str = "python:3.12-slim";

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

/// `mlflow` at the stack's version, the image's own pins, then `server.packages`.
#[must_use]
pub fn requirements(plan: &Plan, header: &str) -> String {
    let mut out = format!("# {header}\nmlflow=={}\n", plan.mlflow_version);
    for (name, version, pinned_for) in IMAGE_PINS {
        let needed = match pinned_for {
            PinnedFor::Always => true,
            PinnedFor::BasicAuth => plan.auth.basic.is_some(),
            PinnedFor::Metrics => plan.metrics,
        };
        if needed {
            let _ = writeln!(out, "{name}=={version}");
        }
    }
    for package in &plan.packages {
        let _ = writeln!(out, "{package}");
    }
    out
}
