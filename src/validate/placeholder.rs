//! Values `mlflow-stack init` writes when it was not told better: a stack that still holds
//! one warns until it is replaced, so a starter file never reaches `infra.sh apply` by
//! mistake (and a bucket named after the placeholder project is likely someone else's).

use crate::diag::{Code, Diagnostic};
use crate::init::{PLACEHOLDER_CLUSTER, PLACEHOLDER_PROJECT};
use crate::raw::{Spanned, StackFile};

/// A warning for each value of `raw` that is still one of init's placeholders.
#[must_use]
pub fn placeholders(raw: &StackFile) -> Vec<Diagnostic> {
    let cluster_name = raw.cluster.as_ref().and_then(|c| c.value.name.as_ref());
    let checks: [(&str, Option<&Spanned<String>>, bool, &str); 3] = [
        (
            "project",
            raw.project.as_ref(),
            raw.project
                .as_ref()
                .is_some_and(|p| p.value == PLACEHOLDER_PROJECT),
            "write your Google Cloud project id (`gcloud projects list`)",
        ),
        (
            "bucket",
            raw.bucket.as_ref(),
            raw.bucket
                .as_ref()
                .is_some_and(|b| b.value.starts_with(PLACEHOLDER_PROJECT)),
            "bucket names are global: name it after your project, e.g. `<project>-mlflow`",
        ),
        (
            "cluster.name",
            cluster_name,
            cluster_name.is_some_and(|n| n.value == PLACEHOLDER_CLUSTER),
            "write the name `gcloud container clusters list` shows (or the cluster to create \
             with `create = true`)",
        ),
    ];
    checks
        .into_iter()
        .filter_map(|(key, field, placeholder, help)| {
            let field = field.filter(|_| placeholder)?;
            Some(
                Diagnostic::warning(
                    Code::PlaceholderValue,
                    field.span.clone(),
                    format!("`{key}` is still the placeholder `mlflow-stack init` wrote"),
                )
                .label("replace this")
                .help(help),
            )
        })
        .collect()
}
