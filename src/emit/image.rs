//! `image/Dockerfile`, `image/requirements.txt` and `image/requirements.lock`: the MLflow
//! server image. `requirements.txt` names what the image installs, exactly pinned;
//! `requirements.lock` pins everything it needs with hashes (the embedded [`crate::lock`],
//! or the part of it the stack shares), installed first with `pip install --require-hashes`.

use std::fmt::Write as _;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::script;

use crate::lock::{self, Coverage, Flavour, IMAGE_PINS, PinnedFor};
use crate::model::Package;
use crate::plan::auth::{IAP_MODULE, IAP_MODULE_FILE};
use crate::plan::{Plan, SERVER_PORT, SERVER_UID};

/// The base image: CPython on slim Debian, pinned to a patch release and a Debian release
/// so that two builds of one bundle start from the same interpreter.
pub const PYTHON_IMAGE: &str = "python:3.12.12-slim-trixie";

#[derive(Serialize)]
struct Context<'a> {
    python_image: &'static str,
    mlflow_version: &'a str,
    uid: i64,
    port: u16,
    complete: bool,
    /// Behind IAP: the module's file, its sha256, and where the image installs it.
    iap_module: Option<IapModule>,
}

#[derive(Serialize)]
struct IapModule {
    file: &'static str,
    sha256: String,
    site_packages: String,
}

/// How much of the embedded lock this stack's image keeps: the lock of its flavour (basic
/// auth, metrics), less what another MLflow release or `server.packages` replaces.
#[must_use]
pub fn coverage(plan: &Plan) -> Coverage<Package> {
    let flavour = Flavour {
        basic_auth: plan.auth.basic.is_some(),
        metrics: plan.server.metrics,
    };
    lock::coverage(flavour, &plan.server.mlflow_version, &plan.server.packages)
}

///
/// # Panics
///
/// Only when an embedded template is broken, which every test run would show.
#[must_use]
pub fn dockerfile(plan: &Plan, header: &str) -> String {
    let context = Context {
        python_image: PYTHON_IMAGE,
        mlflow_version: &plan.server.mlflow_version,
        uid: SERVER_UID,
        port: SERVER_PORT,
        complete: coverage(plan).complete,
        iap_module: iap_module(plan, header).map(|text| IapModule {
            file: IAP_MODULE_FILE,
            sha256: format!("{:x}", Sha256::digest(text.as_bytes())),
            site_packages: format!("/usr/local/lib/python{}/site-packages", lock::PYTHON_MINOR),
        }),
    };
    let body = script::shared()
        .get_template("Dockerfile.j2")
        .and_then(|t| t.render(minijinja::Value::from(minijinja::value::Serde(context))))
        .unwrap_or_else(|error| panic!("rendering Dockerfile.j2: {error:#}"));
    format!("# {header}\n{body}")
}

/// `image/mlflow_stack_iap.py` behind IAP: the module the basic-auth app calls to verify
/// IAP's signed header, after the bundle's header.
#[must_use]
pub fn iap_module(plan: &Plan, header: &str) -> Option<String> {
    plan.auth
        .iap
        .as_ref()
        .map(|_| format!("# {header}\n{IAP_MODULE}"))
}

/// `mlflow` at the stack's version, the image's own pins, then `server.packages`.
#[must_use]
pub fn requirements(plan: &Plan, header: &str) -> String {
    let mut out = format!("# {header}\nmlflow=={}\n", plan.server.mlflow_version);
    for (name, version, pinned_for) in IMAGE_PINS {
        let needed = match pinned_for {
            PinnedFor::Always => true,
            PinnedFor::BasicAuth => plan.auth.basic.is_some(),
            PinnedFor::Metrics => plan.server.metrics,
        };
        if needed {
            let _ = writeln!(out, "{name}=={version}");
        }
    }
    for package in &plan.server.packages {
        let _ = writeln!(out, "{package}");
    }
    out
}

/// `requirements.lock`: the locked packages with their hashes, after a comment that says
/// whether they are all the image installs.
#[must_use]
pub fn lock_file(plan: &Plan, header: &str) -> String {
    let coverage = coverage(plan);
    let what = if coverage.complete {
        "Everything the image installs"
    } else {
        "The part of mlflow-stack's lock this image shares (requirements.txt adds the rest,\n# which pip resolves when the image is built)"
    };
    let mut text = format!(
        "# {header}\n# {what}, pinned with the sha256 of each wheel pip may install\n# on CPython {} for linux x86_64; `pip install --require-hashes` refuses any other file.\n",
        lock::PYTHON_MINOR
    );
    for entry in &coverage.locked {
        text.push_str(entry.text);
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::entries;

    #[test]
    fn the_base_image_is_a_patch_release_of_the_locked_python_minor() {
        let tag = PYTHON_IMAGE.strip_prefix("python:").unwrap();
        let version = tag.split('-').next().unwrap();
        assert_eq!(version.split('.').count(), 3, "{PYTHON_IMAGE}");
        assert!(version.starts_with(&format!("{}.", lock::PYTHON_MINOR)));
        let lock_sh = include_str!("../../lock/lock.sh");
        assert!(lock_sh.contains(&format!("\nPYTHON={}\n", lock::PYTHON_MINOR)));
    }

    #[test]
    fn the_lock_pins_what_the_image_pins() {
        let inputs = [
            include_str!("../../lock/server.in"),
            include_str!("../../lock/server-auth.in"),
            include_str!("../../lock/server-metrics.in"),
            include_str!("../../lock/server-auth-metrics.in"),
        ]
        .concat();
        assert!(inputs.contains(&format!("\nmlflow=={}\n", lock::DEFAULT_MLFLOW)));
        for (name, version, _) in IMAGE_PINS {
            assert!(inputs.contains(&format!("\n{name}=={version}\n")), "{name}");
        }
        for basic_auth in [false, true] {
            for metrics in [false, true] {
                let flavour = Flavour {
                    basic_auth,
                    metrics,
                };
                let locked = entries(flavour);
                let pins = IMAGE_PINS
                    .iter()
                    .filter(|(_, _, pinned_for)| match pinned_for {
                        PinnedFor::Always => true,
                        PinnedFor::BasicAuth => basic_auth,
                        PinnedFor::Metrics => metrics,
                    });
                for (name, version, _) in pins {
                    let name = lock::normalize(name);
                    assert!(
                        locked
                            .iter()
                            .any(|e| e.name == name && e.version == *version),
                        "{flavour:?} does not lock {name}=={version}: run `just lock`"
                    );
                }
            }
        }
    }
}
