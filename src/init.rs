//! `mlflow-stack init`: a commented starter stack file.

use std::fmt::Write;

use clap::ValueEnum;

/// The project `init` writes when given none: `check` warns until it is replaced.
pub const PLACEHOLDER_PROJECT: &str = "my-gcp-project";
/// The GKE cluster name `init` writes when given none: the default (`name`) rarely matches
/// an existing cluster, so the file asks for it.
pub const PLACEHOLDER_CLUSTER: &str = "my-gke-cluster";

/// The environment `init --environment` writes a starter for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InitEnvironment {
    Gke,
    Local,
}

/// What the user passed to `init`.
#[derive(Debug, Clone)]
pub struct Options {
    pub environment: InitEnvironment,
    pub project: String,
    pub region: String,
    pub bucket: String,
    pub tag: String,
    pub name: String,
    /// The GKE cluster (gke only).
    pub cluster: String,
}

/// A TOML basic string holding exactly `value`: the values are validated by `check`
/// afterwards, but the file must stay well-formed TOML whatever was passed.
#[must_use]
pub fn literal(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One line of the starter: TOML (possibly commented out) and its comment.
type Line = (String, &'static str);

/// Lines whose comments start in one column: one past the longest code of the block.
fn aligned(lines: &[Line]) -> String {
    let width = lines
        .iter()
        .filter(|(_, comment)| !comment.is_empty())
        .map(|(code, _)| code.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (code, comment) in lines {
        if comment.is_empty() {
            let _ = writeln!(out, "{code}");
        } else {
            let _ = writeln!(out, "{code:width$}  # {comment}");
        }
    }
    out
}

fn line(code: impl Into<String>, comment: &'static str) -> Line {
    (code.into(), comment)
}

/// The starter stack: the required keys, then every optional table commented out with
/// its default; on gke the cluster's name, which rarely is the default.
#[must_use]
pub fn starter(options: &Options) -> String {
    let gke = matches!(options.environment, InitEnvironment::Gke);
    let mut text = String::from(
        "# mlflow-stack stack file: `mlflow-stack check` validates it, `mlflow-stack build` compiles it.\n\
         # For editor completion, `mlflow-stack schema > stack.schema.json` and uncomment the next line.\n\
         # #:schema ./stack.schema.json\n\n",
    );
    text.push_str(&aligned(&[
        line(
            format!("project = {}", literal(&options.project)),
            "Google Cloud project id (`gcloud projects list`)",
        ),
        line(
            format!("region = {}", literal(&options.region)),
            "bucket, Cloud SQL, registry and cluster live here",
        ),
        line(
            format!("bucket = {}", literal(&options.bucket)),
            "artifact bucket, created by infra.sh; names are global",
        ),
        line(
            format!("tag = {}", literal(&options.tag)),
            "tag of the server image infra.sh builds; bump it to roll out",
        ),
        line(
            format!(
                "environment = {}",
                literal(if gke { "gke" } else { "local" })
            ),
            "\"gke\" or \"local\"",
        ),
        line(
            format!("name = {}", literal(&options.name)),
            "prefix of every Kubernetes object and cloud resource",
        ),
    ]));
    if gke {
        text.push('\n');
        text.push_str(&aligned(&[
            line("[cluster]", ""),
            line(
                format!("name = {}", literal(&options.cluster)),
                "the GKE cluster (`gcloud container clusters list`)",
            ),
            line(
                "# create = false",
                "true: infra.sh creates it (GKE Autopilot)",
            ),
        ]));
    }
    text.push('\n');
    text.push_str(&aligned(&[
        line("# [server]", ""),
        line("# mlflow_version = \"3.17.2\"", ""),
        line(format!("# replicas = {}", if gke { 2 } else { 1 }), ""),
        line("# workers = 2", ""),
        line("# cpu = \"500m\"", ""),
        line("# memory = \"1Gi\"", "default: 512Mi + 256Mi per worker"),
        line(
            "# serve_artifacts = true",
            "clients reach artifacts through the server",
        ),
        line(
            "# allowed_hosts = []",
            "extra Host names, e.g. [\"mlflow.example.com\"]",
        ),
        line(
            "# max_replicas = 4",
            "day two: autoscale on CPU up to 4 pods (with the tier below)",
        ),
        line(
            "# metrics = true",
            if gke {
                "day two: Prometheus /metrics, scraped by Managed Prometheus"
            } else {
                "day two: Prometheus /metrics (not with [auth] kind = \"basic\")"
            },
        ),
    ]));
    text.push('\n');
    text.push_str(&aligned(&[
        line("# [database]", ""),
        line("# version = \"POSTGRES_17\"", ""),
        line(
            "# tier = \"db-custom-2-7680\"",
            "400 connections; default \"db-custom-1-3840\": 100",
        ),
        line("# high_availability = false", ""),
        line("# storage_gb = 10", ""),
        line("# auth = \"password\"", "or \"iam\""),
    ]));
    text.push('\n');
    if gke {
        text.push_str(
            "# A server for a team: HTTPS on a DNS name through a GKE Gateway with a Google-managed\n\
             # certificate, and Google sign-in (Identity-Aware Proxy) for the members listed.\n",
        );
        text.push_str(&aligned(&[
            line("# [expose]", ""),
            line(
                "# type = \"gateway\"",
                "default \"cluster-ip\" (kubectl port-forward); or \"load-balancer\"",
            ),
            line(
                "# host = \"mlflow.acme.example\"",
                "a DNS name you can add records to (infra.sh prints them)",
            ),
            line("# port = 8080", ""),
            line(
                "# allow = [\"203.0.113.0/24\"]",
                "\"load-balancer\" only: who may reach it",
            ),
        ]));
        text.push('\n');
        text.push_str(&aligned(&[
            line(
                "# [auth]",
                "required when the server is reachable from outside",
            ),
            line(
                "# kind = \"iap\"",
                "Google sign-in; \"basic\": MLflow users and passwords; or \"none\"",
            ),
            line(
                "# members = [\"group:ml-team@acme.example\"]",
                "\"iap\" only: who may sign in",
            ),
            line(
                "# admins = [\"user:ana@acme.example\"]",
                "MLflow admins; the others get default_permission",
            ),
            line(
                "# oauth_client_id = \"123456789012-abc.apps.googleusercontent.com\"",
                "IAP's OAuth client (README)",
            ),
        ]));
    } else {
        text.push_str(&aligned(&[
            line("# [expose]", ""),
            line(
                "# type = \"cluster-ip\"",
                "kubectl port-forward; \"load-balancer\" needs [auth]",
            ),
            line("# port = 8080", ""),
        ]));
        text.push('\n');
        text.push_str(&aligned(&[
            line(
                "# [auth]",
                "required with a load balancer (published on the LAN)",
            ),
            line(
                "# kind = \"basic\"",
                "MLflow users and passwords; or \"none\"",
            ),
        ]));
        text.push('\n');
        text.push_str(&aligned(&[
            line("# [credentials]", ""),
            line(
                "# dir = \".mlflow_credentials\"",
                "key files, ignored by git",
            ),
        ]));
    }
    text.push('\n');
    text.push_str(&aligned(&[
        line(
            "# [gc]",
            "day two: delete what has been deleted in MLflow for a while",
        ),
        line(
            "# schedule = \"0 3 * * *\"",
            "when `mlflow gc` runs, in UTC",
        ),
        line(
            "# older_than = \"30d\"",
            "how long a deleted run can still be restored",
        ),
    ]));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(environment: InitEnvironment) -> Options {
        Options {
            environment,
            project: PLACEHOLDER_PROJECT.into(),
            region: "europe-west3".into(),
            bucket: format!("{PLACEHOLDER_PROJECT}-mlflow"),
            tag: "1.0.0".into(),
            name: "mlflow".into(),
            cluster: PLACEHOLDER_CLUSTER.into(),
        }
    }

    /// Within each blank-line separated block, every `#` comment after code starts in
    /// one column.
    #[test]
    fn comments_are_aligned_per_block() {
        for environment in [InitEnvironment::Gke, InitEnvironment::Local] {
            let text = starter(&options(environment));
            for block in text.split("\n\n") {
                let columns: Vec<usize> = block
                    .lines()
                    .filter_map(|l| l.find("  # ").map(|i| l[..i].trim_end().chars().count()))
                    .collect();
                let starts: Vec<usize> = block
                    .lines()
                    .filter_map(|l| l.find("  # "))
                    .map(|i| i + 2)
                    .collect();
                assert!(
                    starts.windows(2).all(|w| w[0] == w[1]),
                    "ragged comments in\n{block}"
                );
                assert!(columns.iter().all(|c| *c + 2 <= starts[0]), "{block}");
            }
        }
    }

    #[test]
    fn gke_asks_for_the_cluster_name() {
        let text = starter(&options(InitEnvironment::Gke));
        assert!(
            text.contains(&format!("[cluster]\nname = \"{PLACEHOLDER_CLUSTER}\"")),
            "{text}"
        );
        assert!(!starter(&options(InitEnvironment::Local)).contains("[cluster]"));
    }
}
