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
    "encryption",
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
    "ip",
    "create_peering",
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
    "waf",
    "rate_limit",
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
const ENCRYPTION_KEYS: &[&str] = &["kms_key"];
pub(super) const TABLES: &[(&str, &[&str])] = &[
    ("server", SERVER_KEYS),
    ("database", DATABASE_KEYS),
    ("registry", REGISTRY_KEYS),
    ("expose", EXPOSE_KEYS),
    ("auth", AUTH_KEYS),
    ("cluster", CLUSTER_KEYS),
    ("gc", GC_KEYS),
    ("credentials", CREDENTIALS_KEYS),
    ("encryption", ENCRYPTION_KEYS),
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
        "region" | "cluster.location" => "\"europe-west3\"",
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
        "database.ip" => "\"private\"",
        "registry.kind" => "\"artifact-registry\"",
        "registry.image" => "\"europe-west3-docker.pkg.dev/acme/tools/mlflow:3.17.2\"",
        "expose.type" => "\"load-balancer\"",
        "expose.port" => "8080",
        "expose.allow" => "[\"203.0.113.0/24\"]",
        "expose.host" => "\"mlflow.acme.example\"",
        "expose.scope" => "\"external\"",
        "expose.proxy_subnet" => "\"10.129.0.0/23\"",
        "expose.waf" => "[\"sqli-v422-stable\", \"xss-v422-stable\"]",
        "expose.rate_limit" => "600",
        "auth.kind" => "\"basic\"",
        "auth.default_permission" => "\"READ\"",
        "auth.members" => "[\"group:ml-team@acme.example\"]",
        "auth.admins" => "[\"user:ana@acme.example\"]",
        "auth.oauth_client_id" => "\"123456789012-abc.apps.googleusercontent.com\"",
        "cluster.name" => "\"ml-platform\"",
        "cluster.context" => "\"kind-mlflow\"",
        "credentials.dir" => "\".mlflow_credentials\"",
        "encryption.kms_key" => {
            "\"projects/acme-kms/locations/europe-west3/keyRings/mlflow/cryptoKeys/data\""
        }
        "gc.schedule" => "\"0 3 * * *\"",
        "gc.older_than" => "\"30d\"",
        "namespace_shared"
        | "server.serve_artifacts"
        | "server.metrics"
        | "database.high_availability"
        | "database.create_peering"
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

#[cfg(test)]
mod tests {
    //! The stack file's keys are declared once, as the fields of [`crate::raw`]; the lists
    //! here, the parser's match arms, the examples and the `init` starter must follow them.
    //! The declarations are read from the JSON Schema that `raw.rs` derives.

    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::{REQUIRED_KEYS, TABLES, TOP_KEYS, example};
    use crate::diag::Diagnostics;
    use crate::init::{InitEnvironment, Options, starter};
    use crate::source::Source;

    /// Keys the `init` starter leaves out on purpose: it shows the keys a new stack is
    /// likely to set, not every one.
    const NOT_IN_STARTER: &[&str] = &[
        "namespace",
        "namespace_shared",
        "server.tmp_size",
        "server.packages",
        "server.pool_size",
        "server.max_overflow",
        "database.instance",
        "database.database",
        "database.user",
        "database.ip",
        "database.create_peering",
        "registry",
        "registry.kind",
        "registry.repository",
        "registry.image",
        "expose.static_ip",
        "expose.scope",
        "expose.proxy_subnet",
        "expose.global_access",
        "expose.waf",
        "expose.rate_limit",
        "auth.default_permission",
        "cluster.location",
        "cluster.context",
        "encryption",
        "encryption.kms_key",
    ];

    /// The keys `raw.rs` declares: the top-level ones, and each table's, as dotted paths.
    fn declared() -> (BTreeSet<String>, Vec<(String, BTreeSet<String>)>) {
        let schema: Value = serde_json::from_str(&crate::schema::json_schema()).unwrap();
        let mut top = BTreeSet::new();
        let mut tables = Vec::new();
        for (key, property) in schema["properties"].as_object().unwrap() {
            top.insert(key.clone());
            let definition = property
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/definitions/"));
            if let Some(Value::Object(keys)) =
                definition.map(|d| &schema["definitions"][d]["properties"])
            {
                tables.push((key.clone(), keys.keys().cloned().collect()));
            }
        }
        (top, tables)
    }

    fn every_declared_key() -> Vec<String> {
        let (top, tables) = declared();
        let mut keys: Vec<String> = top.into_iter().collect();
        for (table, table_keys) in tables {
            keys.extend(table_keys.iter().map(|key| format!("{table}.{key}")));
        }
        keys
    }

    fn parse(text: &str) -> (crate::parse::Parsed, Diagnostics) {
        let mut diagnostics = Diagnostics::default();
        let parsed = crate::parse::parse(&Source::new("stack.toml", text), &mut diagnostics);
        (parsed, diagnostics)
    }

    #[test]
    fn the_key_lists_are_the_keys_raw_rs_declares() {
        let (top, tables) = declared();
        let mut wrong = Vec::new();
        let listed: BTreeSet<String> = TOP_KEYS.iter().map(|k| (*k).to_owned()).collect();
        for key in top.difference(&listed) {
            wrong.push(format!(
                "`{key}` is declared in src/raw.rs but missing from TOP_KEYS in src/parse/keys.rs"
            ));
        }
        for key in listed.difference(&top) {
            wrong.push(format!(
                "`{key}` is in TOP_KEYS in src/parse/keys.rs but src/raw.rs does not declare it"
            ));
        }
        for (table, keys) in &tables {
            let Some((_, listed)) = TABLES.iter().find(|(t, _)| t == table) else {
                wrong.push(format!(
                    "the table `{table}` is declared in src/raw.rs but missing from TABLES in \
                     src/parse/keys.rs"
                ));
                continue;
            };
            let listed: BTreeSet<String> = listed.iter().map(|k| (*k).to_owned()).collect();
            for key in keys.difference(&listed) {
                wrong.push(format!(
                    "`{table}.{key}` is declared in src/raw.rs but missing from the `{table}` \
                     keys of TABLES in src/parse/keys.rs"
                ));
            }
            for key in listed.difference(keys) {
                wrong.push(format!(
                    "`{table}.{key}` is in TABLES in src/parse/keys.rs but src/raw.rs does not \
                     declare it"
                ));
            }
        }
        for (table, _) in TABLES {
            if !tables.iter().any(|(t, _)| t == table) {
                wrong.push(format!(
                    "the table `{table}` is in TABLES in src/parse/keys.rs but src/raw.rs does \
                     not declare it"
                ));
            }
        }
        let schema: Value = serde_json::from_str(&crate::schema::json_schema()).unwrap();
        let required: BTreeSet<&str> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        if required != REQUIRED_KEYS.iter().copied().collect() {
            wrong.push(format!(
                "REQUIRED_KEYS in src/parse/keys.rs is {REQUIRED_KEYS:?}, but src/raw.rs \
                 requires {required:?}"
            ));
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    /// Every key has an example of its type, and the parser reads it into its field.
    #[test]
    fn every_key_has_an_example_the_parser_reads_into_its_field() {
        let (_, tables) = declared();
        let mut wrong = Vec::new();
        for path in every_declared_key() {
            if tables.iter().any(|(table, _)| *table == path) {
                continue;
            }
            let value = example(&path);
            if value == "\"…\"" {
                wrong.push(format!(
                    "`{path}` has no example in `example` in src/parse/keys.rs"
                ));
                continue;
            }
            let (header, key) = match path.split_once('.') {
                Some((table, key)) => (format!("[{table}]\n"), key),
                None => (String::new(), path.as_str()),
            };
            let (with, diagnostics) = parse(&format!("{header}{key} = {value}\n"));
            let (without, _) = parse(&header);
            if !diagnostics.is_empty() {
                wrong.push(format!(
                    "`{path} = {value}`, its example in src/parse/keys.rs, does not parse \
                     (is it read in src/parse.rs?): {diagnostics:?}"
                ));
            } else if format!("{:?}", with.stack) == format!("{:?}", without.stack) {
                wrong.push(format!(
                    "src/parse.rs does not read `{path}` into its field of src/raw.rs"
                ));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    /// The `init` starter (everything in it uncommented) writes only declared keys, each
    /// of the right type; a declared key it leaves out is in [`NOT_IN_STARTER`].
    #[test]
    fn the_init_starter_writes_declared_keys_and_leaves_out_only_the_listed_ones() {
        let declared: BTreeSet<String> = every_declared_key().into_iter().collect();
        let mut written = BTreeSet::new();
        for environment in [InitEnvironment::Gke, InitEnvironment::Local] {
            let text = starter(&Options {
                environment,
                project: "acme-ml-prod".into(),
                region: "europe-west3".into(),
                bucket: "acme-ml-prod-mlflow".into(),
                tag: "1.0.0".into(),
                name: "mlflow".into(),
                cluster: "ml-platform".into(),
            });
            let uncommented: String = text
                .lines()
                .map(|line| {
                    let code = line.split("  # ").next().unwrap_or_default();
                    let inner = code.strip_prefix("# ").unwrap_or(code);
                    let is_toml = inner.starts_with('[')
                        || inner.split_once(" = ").is_some_and(|(key, _)| {
                            key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                        });
                    if is_toml {
                        format!("{inner}\n")
                    } else {
                        String::new()
                    }
                })
                .collect();
            let (parsed, diagnostics) = parse(&uncommented);
            assert!(
                diagnostics.is_empty(),
                "the init starter in src/init.rs, uncommented, does not parse: \
                 {diagnostics:?}\n{uncommented}"
            );
            written.extend(parsed.keys);
        }
        assert!(written.len() > 20, "{written:?}");
        let mut wrong = Vec::new();
        for key in written.difference(&declared) {
            wrong.push(format!(
                "the init starter in src/init.rs writes `{key}`, which src/raw.rs does not declare"
            ));
        }
        for key in NOT_IN_STARTER {
            if !declared.contains(*key) || written.contains(*key) {
                wrong.push(format!(
                    "`{key}` in NOT_IN_STARTER is not a declared key the starter leaves out"
                ));
            }
        }
        for key in declared.difference(&written) {
            if !NOT_IN_STARTER.contains(&key.as_str()) {
                wrong.push(format!(
                    "`{key}` is declared in src/raw.rs but the init starter in src/init.rs \
                     leaves it out: add it to the starter, or to NOT_IN_STARTER in \
                     src/parse/keys.rs"
                ));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }
}
