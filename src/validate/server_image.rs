//! The server image: how much of it the embedded lock covers, and whether a given image's
//! tag agrees with `server.mlflow_version`.

use super::Validator;
use crate::diag::{Code, Diagnostic};
use crate::lock::{self, DEFAULT_MLFLOW, Flavour};
use crate::model::{Registry, Server};
use crate::raw;
use crate::validate::image::MlflowVersion;
use crate::validate::packages::Package;

/// The `MAJOR.MINOR.PATCH` an image tag starts with (`v3.17.2`, `3.17.2-py312`), if any.
fn tag_version(tag: &str) -> Option<&str> {
    let tag = tag.strip_prefix(['v', 'V']).unwrap_or(tag);
    let end = tag
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(tag.len());
    let version = &tag[..end];
    let parts: Vec<&str> = version.split('.').collect();
    (parts.len() == 3 && parts.iter().all(|p| !p.is_empty())).then_some(version)
}

impl Validator<'_> {
    pub(super) fn server_image(
        &mut self,
        raw: &raw::StackFile,
        server: &Server,
        registry: &Registry,
        flavour: Flavour,
    ) {
        let raw_server = raw.server.as_ref().map(|s| &s.value);
        let version_field = raw_server.and_then(|s| s.mlflow_version.as_ref());
        let version = server.mlflow_version.as_str();
        match registry {
            Registry::Image(image) => {
                // Only a tag that names an MLflow release the bundle supports is taken
                // for one (a team's own `1.0.0` is not).
                let Some(tagged) = image
                    .tag()
                    .and_then(tag_version)
                    .filter(|v| MlflowVersion::parse(v).is_ok())
                else {
                    return;
                };
                let Some(field) = raw.registry.as_ref().and_then(|r| r.value.image.as_ref()) else {
                    return;
                };
                if tagged != version {
                    let help = if version_field.is_some() {
                        format!(
                            "write the MLflow version the image installs: `mlflow_version = \"{tagged}\"`; the version label, the backup before a schema migration and the README name it"
                        )
                    } else {
                        format!(
                            "`server.mlflow_version` defaults to {DEFAULT_MLFLOW}; write the MLflow version the image installs: `mlflow_version = \"{tagged}\"`"
                        )
                    };
                    self.push(
                        Diagnostic::warning(
                            Code::ImageVersionMismatch,
                            field.span.clone(),
                            format!("`registry.image` is tagged for MLflow {tagged}, but `server.mlflow_version` is {version}"),
                        )
                        .label(format!("MLflow {tagged}?"))
                        .help(help),
                    );
                }
            }
            Registry::Build { .. } => {
                if let Some(field) = version_field
                    && version != DEFAULT_MLFLOW
                {
                    self.push(
                        Diagnostic::warning(
                            Code::UnlockedDependencies,
                            field.span.clone(),
                            format!("MLflow {version} is not the locked {DEFAULT_MLFLOW}: part of the image resolves when it is built"),
                        )
                        .label("not in the lock")
                        .help(format!("the image keeps the lock's hashes for the packages MLflow {version} shares with it; pip picks MLflow's own packages and any dependency version they need at build time, without hashes. Leave `mlflow_version` out (or write `\"{DEFAULT_MLFLOW}\"`) for an image locked throughout")),
                    );
                }
                self.unlocked_packages(raw, server, flavour);
            }
        }
    }
}

impl Validator<'_> {
    /// Warns about the entries of `server.packages` the lock does not satisfy (see
    /// [`lock::coverage`]): pip resolves them when the image is built.
    fn unlocked_packages(&mut self, raw: &raw::StackFile, server: &Server, flavour: Flavour) {
        let coverage = lock::coverage(flavour, server.mlflow_version.as_str(), &server.packages);
        if coverage.unlocked.is_empty() {
            return;
        }
        let locked = lock::entries(flavour);
        let locked_version = |package: &Package| {
            locked
                .iter()
                .find(|entry| entry.name == package.key())
                .map(|entry| entry.version)
        };
        let fields = raw
            .server
            .as_ref()
            .and_then(|s| s.value.packages.as_ref())
            .map(|list| list.value.as_slice())
            .unwrap_or_default();
        let mut places = Vec::new();
        let mut pins = Vec::new();
        for field in fields {
            let Some(package) = Package::parse(&field.value)
                .ok()
                .filter(|p| coverage.unlocked.contains(p))
            else {
                continue;
            };
            let label = match locked_version(&package) {
                Some(version) if version != package.version() => {
                    // Only the plain requirement is satisfied by the lock.
                    if package.extras().is_empty() {
                        pins.push(format!("`{}=={version}`", package.name()));
                    }
                    format!("the lock has {version}")
                }
                Some(_) => format!(
                    "`[{}]` may need packages the lock lacks",
                    package.extras().join(",")
                ),
                None => "not in the lock".to_owned(),
            };
            places.push((field.span.clone(), label));
        }
        let Some(((first, label), others)) = places.split_first() else {
            return;
        };
        let names: Vec<String> = coverage.unlocked.iter().map(|p| format!("`{p}`")).collect();
        let (listed, subject, object, need) = match names.as_slice() {
            [one] => (one.clone(), "it", "it", "needs"),
            [init @ .., last] => (
                format!("{} or {last}", init.join(", ")),
                "they",
                "them",
                "need",
            ),
            [] => return,
        };
        let pin = match pins.as_slice() {
            [] => String::new(),
            [pin] if names.len() == 1 => format!(" or pin the lock's version ({pin})"),
            _ => format!(
                " or pin the lock's version of those it holds ({})",
                pins.join(", ")
            ),
        };
        let mut diagnostic = Diagnostic::warning(
            Code::UnlockedDependencies,
            first.clone(),
            format!("the lock does not hold {listed}: part of the image resolves when it is built"),
        )
        .label(label.clone())
        .help(format!(
            "the image keeps the lock's hashes for everything else; pip picks {object}, and any dependency {subject} {need} that the lock lacks or holds at another version, at build time, without hashes. For an image locked throughout, leave {object} out{pin}, or build and lock an image yourself and give it as `registry.image`"
        ));
        for (span, label) in others {
            diagnostic = diagnostic.related(span.clone(), label.clone());
        }
        self.push(diagnostic);
    }
}

#[cfg(test)]
mod tests {
    use super::tag_version;

    #[test]
    fn versions_in_tags() {
        assert_eq!(tag_version("v3.17.2"), Some("3.17.2"));
        assert_eq!(tag_version("3.16.1-py312"), Some("3.16.1"));
        assert_eq!(tag_version("3.16"), None);
        assert_eq!(tag_version("latest"), None);
        assert_eq!(tag_version("1.0.0"), Some("1.0.0"));
        assert_eq!(tag_version("3..1"), None);
    }
}
