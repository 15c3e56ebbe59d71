//! The stack file's keys, an example value of each, and the advice for the keys and values
//! people write by mistake (a password, a zone, `environment = "kind"`).

use crate::suggest;

/// The keys of each table, for "unknown key" and "did you mean".
pub(super) const TOP_KEYS: &[&str] = &[
    "project",
    "region",
    "bucket",
    "tag",
    "environment",
    "name",
    "namespace",
    "namespace_shared",
    "server",
    "database",
    "registry",
    "expose",
    "auth",
    "cluster",
    "gc",
    "credentials",
];
/// The top-level keys every stack file must set.
pub const REQUIRED_KEYS: &[&str] = &["project", "region", "bucket", "tag", "environment"];
const SERVER_KEYS: &[&str] = &[
    "mlflow_version",
    "replicas",
    "max_replicas",
    "workers",
    "cpu",
    "memory",
    "tmp_size",
    "serve_artifacts",
    "allowed_hosts",
    "metrics",
    "packages",
    "pool_size",
    "max_overflow",
];
const DATABASE_KEYS: &[&str] = &[
    "instance",
    "version",
    "tier",
    "high_availability",
    "storage_gb",
    "database",
    "user",
    "auth",
];
const REGISTRY_KEYS: &[&str] = &["kind", "repository", "image"];
const EXPOSE_KEYS: &[&str] = &[
    "type",
    "port",
    "static_ip",
    "allow",
    "host",
    "scope",
    "proxy_subnet",
    "global_access",
];
const AUTH_KEYS: &[&str] = &[
    "kind",
    "default_permission",
    "members",
    "admins",
    "oauth_client_id",
];
const CLUSTER_KEYS: &[&str] = &["name", "location", "create", "context"];
const GC_KEYS: &[&str] = &["schedule", "older_than"];
const CREDENTIALS_KEYS: &[&str] = &["dir"];
pub(super) const TABLES: &[(&str, &[&str])] = &[
    ("server", SERVER_KEYS),
    ("database", DATABASE_KEYS),
    ("registry", REGISTRY_KEYS),
    ("expose", EXPOSE_KEYS),
    ("auth", AUTH_KEYS),
    ("cluster", CLUSTER_KEYS),
    ("gc", GC_KEYS),
    ("credentials", CREDENTIALS_KEYS),
];

/// Every key of the stack file, top-level keys first, then each table's in file order.
pub fn all_keys() -> impl Iterator<Item = &'static str> {
    TOP_KEYS
        .iter()
        .chain(TABLES.iter().flat_map(|(_, keys)| keys.iter()))
        .copied()
}

/// The most parts a stack key has, written in full (`server.replicas`: 2).
#[must_use]
pub fn max_parts() -> usize {
    TABLES
        .iter()
        .map(|(table, _)| table.split('.').count() + 1)
        .max()
        .unwrap_or(2)
}

/// A value of each key as it would be written, for the fixes the diagnostics propose.
#[must_use]
pub fn example(path: &str) -> &'static str {
    match path {
        "project" => "\"acme-ml-prod\"",
        "region" => "\"europe-west3\"",
        "bucket" => "\"acme-ml-prod-mlflow\"",
        "tag" => "\"1.0.0\"",
        "environment" => "\"gke\"",
        "name" | "namespace" | "database.database" | "database.user" | "registry.repository" => {
            "\"mlflow\""
        }
        "server.mlflow_version" => "\"3.17.2\"",
        "server.max_replicas" => "6",
        "server.replicas" | "server.workers" | "server.pool_size" | "server.max_overflow" => "2",
        "server.cpu" => "\"500m\"",
        "server.memory" => "\"1Gi\"",
        "server.tmp_size" => "\"8Gi\"",
        "server.allowed_hosts" => "[\"mlflow.example.com\"]",
        "server.packages" => "[\"mlflow-oidc-auth==11.0.2\"]",
        "database.instance" => "\"mlflow-db\"",
        "database.version" => "\"POSTGRES_17\"",
        "database.tier" => "\"db-custom-1-3840\"",
        "database.storage_gb" => "10",
        "database.auth" => "\"password\"",
        "registry.kind" => "\"artifact-registry\"",
        "registry.image" => "\"europe-west3-docker.pkg.dev/acme/tools/mlflow:3.17.2\"",
        "expose.type" => "\"load-balancer\"",
        "expose.port" => "8080",
        "expose.allow" => "[\"203.0.113.0/24\"]",
        "expose.host" => "\"mlflow.acme.example\"",
        "expose.scope" => "\"external\"",
        "expose.proxy_subnet" => "\"10.129.0.0/23\"",
        "auth.kind" => "\"basic\"",
        "auth.default_permission" => "\"READ\"",
        "auth.members" => "[\"group:ml-team@acme.example\"]",
        "auth.admins" => "[\"user:ana@acme.example\"]",
        "auth.oauth_client_id" => "\"123456789012-abc.apps.googleusercontent.com\"",
        "cluster.name" => "\"ml-platform\"",
        "credentials.dir" => "\".mlflow_credentials\"",
        "gc.schedule" => "\"0 3 * * *\"",
        "gc.older_than" => "\"30d\"",
        "namespace_shared"
        | "server.serve_artifacts"
        | "server.metrics"
        | "database.high_availability"
        | "expose.static_ip"
        | "expose.global_access"
        | "cluster.create" => "true",
        _ => "\"…\"",
    }
}

/// The example of a key named without its table (`replicas`), for syntax errors.
#[must_use]
pub fn example_of_bare_key(key: &str) -> Option<&'static str> {
    if TOP_KEYS.contains(&key) {
        return Some(example(key));
    }
    TABLES
        .iter()
        .find(|(_, keys)| keys.contains(&key))
        .map(|(table, _)| example(&format!("{table}.{key}")))
}

/// `a` or `b`; a long list, e.g. of PostgreSQL versions, as `first` to `last`.
pub(super) fn choices(names: &[&str]) -> String {
    match names {
        [first, .., last] if names.len() > 3 => format!("one of `{first}` to `{last}`"),
        _ => suggest::one_of(names),
    }
}

pub(super) fn is_table(key: &str) -> bool {
    TABLES.iter().any(|(table, _)| *table == key)
}

/// Advice for keys people add that the stack file deliberately does not have.
pub(super) fn hint(table: &str, key: &str) -> Option<&'static str> {
    match (table, key) {
        (_, "password" | "db_password" | "database_password" | "passwd") => Some(
            "passwords never go in the stack file: `infra.sh` generates one and keeps it in \
             Secret Manager; remove this key",
        ),
        ("", "zone" | "zones") => Some(
            "a stack is regional: `region` places the bucket, Cloud SQL, the registry and the \
             cluster; remove `zone`",
        ),
        _ => None,
    }
}

/// "Did you mean" for an enum value: known other names for a value first, then spelling.
pub(super) fn suggest_choice(
    path: &str,
    value: &str,
    names: &[&'static str],
) -> (Option<&'static str>, Option<&'static str>) {
    let squash = |text: &str| text.to_ascii_lowercase().replace(['-', '_', ' '], "");
    let squashed = squash(value);
    match (path, squashed.as_str()) {
        (
            "environment",
            "gcloud" | "gcp" | "google" | "googlecloud" | "kubernetes" | "k8s" | "autopilot",
        ) => {
            return (
                Some("gke"),
                Some(
                    "`gke` is Google Kubernetes Engine; `local` is a cluster outside Google Cloud",
                ),
            );
        }
        (
            "environment",
            "kind" | "docker" | "dockerdesktop" | "minikube" | "k3d" | "k3s" | "microk8s"
            | "rancherdesktop" | "orbstack",
        ) => {
            return (
                Some("local"),
                Some(
                    "`local` covers Docker Desktop, kind, minikube and any cluster outside Google Cloud",
                ),
            );
        }
        (
            "registry.kind",
            "dockerhub" | "docker" | "dockerio" | "ghcr" | "ghcrio" | "quay" | "ecr" | "acr",
        ) => {
            return (
                None,
                Some(
                    "`kind` is `artifact-registry` or `gcr`; to run an image from another \
                     registry, set `image` to its full reference instead, e.g. \
                     `image = \"ghcr.io/acme/mlflow:3.17.2\"`",
                ),
            );
        }
        ("expose.type", "nodeport" | "ingress") => {
            return (
                None,
                Some(
                    "use `cluster-ip` (reach it with `kubectl port-forward` or an ingress of your \
                     own), `load-balancer`, or `gateway` (HTTPS on a DNS name, `gke` only)",
                ),
            );
        }
        ("expose.type", "https" | "gke-gateway" | "gatewayapi" | "httproute") => {
            return (Some("gateway"), None);
        }
        ("auth.kind", "password" | "users" | "mlflow" | "basicauth" | "htpasswd") => {
            return (
                Some("basic"),
                Some("`basic` is MLflow's own users and passwords"),
            );
        }
        ("auth.kind", "google" | "oauth" | "oidc" | "sso" | "identityawareproxy" | "iapproxy") => {
            return (
                Some("iap"),
                Some("`iap` is Identity-Aware Proxy: Google sign-in in front of a `gateway`"),
            );
        }
        ("auth.kind", "off" | "disabled" | "no" | "open" | "false" | "anonymous") => {
            return (
                Some("none"),
                Some("`none` leaves the server open to everyone who reaches it"),
            );
        }
        ("auth.default_permission", "write" | "readwrite") => return (Some("EDIT"), None),
        ("auth.default_permission", "admin" | "owner" | "all") => {
            return (Some("MANAGE"), None);
        }
        ("auth.default_permission", "none" | "nopermission" | "deny") => {
            return (Some("NO_PERMISSIONS"), None);
        }
        ("database.version", version) => {
            let number = version
                .trim_start_matches("postgresql")
                .trim_start_matches("postgres")
                .trim_start_matches("pg");
            if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) {
                let candidate = format!("POSTGRES_{number}");
                return match names.iter().find(|name| **name == candidate) {
                    Some(name) => (Some(name), None),
                    None => (
                        None,
                        Some(
                            "Cloud SQL offers `POSTGRES_13` to `POSTGRES_18`; a new stack should use `POSTGRES_17` or later",
                        ),
                    ),
                };
            }
        }
        _ => {}
    }
    if let Some(name) = names.iter().find(|name| squash(name) == squashed) {
        return (Some(name), None);
    }
    (suggest::closest(value, names.iter().copied()), None)
}
