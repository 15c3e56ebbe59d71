//! `mlflow-stack init`: a commented starter stack file.

use std::fmt::Write;

use crate::cli::InitEnvironment;

/// What the user passed to `init`.
#[derive(Debug, Clone)]
pub struct Options {
    pub environment: InitEnvironment,
    pub project: String,
    pub region: String,
    pub bucket: String,
    pub tag: String,
    pub name: String,
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

/// The starter stack: the required keys, then every optional table commented out with
/// its default.
#[must_use]
pub fn starter(options: &Options) -> String {
    let environment = match options.environment {
        InitEnvironment::Gke => "gke",
        InitEnvironment::Local => "local",
    };
    let mut text = format!(
        r#"# mlflow-stack stack file: `mlflow-stack check` validates it, `mlflow-stack build` compiles it.
# For editor completion, `mlflow-stack schema > stack.schema.json` and uncomment the next line.
# #:schema ./stack.schema.json

project = {project}         # Google Cloud project id
region = {region}           # bucket, Cloud SQL, registry and cluster live here
bucket = {bucket}           # artifact bucket, created by infra.sh
tag = {tag}                 # tag of the server image infra.sh builds; bump it to roll out
environment = {environment} # "gke" or "local"
name = {name}               # prefix of every Kubernetes object and cloud resource

# [server]
# mlflow_version = "3.17.2"
# replicas = {replicas}
# workers = 2
# cpu = "500m"
# memory = "1Gi"               # default: 512Mi + 256Mi per worker
# serve_artifacts = true       # clients reach artifacts through the server
# allowed_hosts = []           # extra Host names, e.g. ["mlflow.example.com"]

# [database]
# version = "POSTGRES_17"
# tier = "db-custom-1-3840"
# high_availability = false
# storage_gb = 10
# auth = "password"            # or "iam"
"#,
        project = literal(&options.project),
        region = literal(&options.region),
        bucket = literal(&options.bucket),
        tag = literal(&options.tag),
        environment = literal(environment),
        name = literal(&options.name),
        replicas = if environment == "gke" { 2 } else { 1 },
    );
    match options.environment {
        InitEnvironment::Gke => text.push_str(
            r#"
# [expose]
# type = "cluster-ip"          # or "load-balancer" (then `allow` is required)
# port = 8080
# allow = ["203.0.113.0/24"]

# [cluster]
# create = false               # true: infra.sh creates a GKE Autopilot cluster
"#,
        ),
        InitEnvironment::Local => text.push_str(
            r#"
# [expose]
# type = "load-balancer"       # Docker Desktop serves it on localhost
# port = 8080

# [credentials]
# dir = ".mlflow_credentials"  # key files, ignored by git
"#,
        ),
    }
    text
}
