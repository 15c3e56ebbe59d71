//! Stage 2: [`raw::StackFile`] → [`model::Stack`].
//!
//! Applies defaults, the per-field rules (each in a submodule, behind a newtype only the
//! rule can build), environment applicability and cross-field rules. Every problem is
//! pushed into the diagnostics; validation never stops early. A stack comes out only when
//! there is no error.

pub mod armor;
pub mod auth;
pub mod budget;
pub mod encryption;
pub mod expose;
pub mod gc;
pub mod gcp;
pub mod image;
pub mod k8s;
pub mod packages;
pub mod placeholder;
pub mod regions;
mod server_image;

use std::ops::Range;

use crate::diag::{Code, Diagnostic, Diagnostics, shown};
use crate::lock::IMAGE_PINS;
use crate::model::{
    Auth, BucketName, Cidr, Cluster, ClusterLocation, ClusterName, Credentials, CronSchedule,
    Database, DatabaseAuth, DatabaseIp, DatabaseLogin, DirPath, DnsLabel, Encryption, Environment,
    Expose, ExposeType, Gc, HostPattern, ImageRef, ImageTag, InstanceId, KmsKey, MlflowVersion,
    OlderThan, Package, PostgresVersion, ProjectId, Quantity, Region, Registry, RegistryKind,
    RepositoryId, Server, SqlIdent, Stack, Tier,
};
use crate::names::{self, reach};
use crate::parse::{Parsed, REQUIRED_KEYS};
use crate::problem::{Checked, Problem, safe_characters};
use crate::raw::{self, Spanned};
use crate::source::Source;
use crate::suggest::one_of;

/// The default memory of a pod: 512Mi plus 256Mi per worker (1Gi for 2 workers, where
/// MLflow 3.17 idles at about 640 MiB with its job runner off).
#[must_use]
pub fn default_memory_mib(workers: u32) -> u32 {
    512 + 256 * workers
}

/// Below this a pod is OOM-killed under load: three quarters of the default, which keeps
/// the measured 2-worker idle (about 640 MiB) under 768Mi with a fifth to spare, and grows
/// with every worker as the default does.
#[must_use]
pub fn min_memory_mib(workers: u32) -> u32 {
    default_memory_mib(workers) * 3 / 4
}

/// The default size of the server's `/tmp`: proxied uploads and downloads of model files,
/// which run to gigabytes, pass through it.
pub const DEFAULT_TMP_MIB: u32 = 8 * 1024;
/// The smallest `/tmp` that holds a model file of a common size.
pub const MIN_TMP_MIB: u32 = 1024;

pub fn validate(source: &Source, parsed: &Parsed, diags: &mut Diagnostics) -> Option<Stack> {
    if !parsed.syntax_ok {
        return None;
    }
    let mut v = Validator {
        source,
        parsed,
        diags,
    };
    let stack = v.stack(&parsed.stack);
    if v.diags.has_errors() { None } else { stack }
}

struct Validator<'a> {
    source: &'a Source,
    parsed: &'a Parsed,
    diags: &'a mut Diagnostics,
}

impl Validator<'_> {
    fn push(&mut self, diagnostic: Diagnostic) {
        self.diags.push(diagnostic);
    }

    /// Places a rule's problem on the value; a problem about part of the value (one bad
    /// character) points at that part as written, escape sequences included.
    fn place(&self, problem: Problem, value: &Spanned<String>) -> Diagnostic {
        let span = problem
            .within
            .clone()
            .and_then(|within| {
                let literal = self.source.text().get(value.span.clone())?;
                let spans = crate::parse::char_spans(literal, &value.value)?;
                let first = value.value.get(..within.start)?.chars().count();
                let count = value.value.get(within)?.chars().count().max(1);
                let start = spans.get(first)?.start;
                let end = spans.get(first + count - 1)?.end;
                Some(value.span.start + start..value.span.start + end)
            })
            .unwrap_or_else(|| value.span.clone());
        problem.at(span)
    }

    /// Runs a string rule on a field, after the universal character check.
    fn check<T>(
        &mut self,
        key: &str,
        field: Option<&Spanned<String>>,
        rule: impl FnOnce(&str) -> Checked<T>,
    ) -> Option<T> {
        let field = field?;
        let result = safe_characters(key, &field.value).and_then(|()| rule(&field.value));
        match result {
            Ok(value) => Some(value),
            Err(problem) => {
                let diagnostic = self.place(problem, field);
                self.push(diagnostic);
                None
            }
        }
    }

    /// Runs a string rule that checks the characters it takes itself, for a value that
    /// only ever reaches YAML.
    fn check_own_characters<T>(
        &mut self,
        field: &Spanned<String>,
        rule: impl FnOnce(&str) -> Checked<T>,
    ) -> Option<T> {
        match rule(&field.value) {
            Ok(value) => Some(value),
            Err(problem) => {
                let diagnostic = self.place(problem, field);
                self.push(diagnostic);
                None
            }
        }
    }

    /// Required top-level keys that are not written at all (a key written with a bad value
    /// has its own diagnostic, and so has a key an unknown-key diagnostic points to). The
    /// file as a whole is at fault, so the diagnostic points at its start.
    fn missing_keys(&mut self) {
        let missing: Vec<&str> = REQUIRED_KEYS
            .iter()
            .copied()
            .filter(|key| !self.parsed.has(key) && !self.parsed.suggested.contains(*key))
            .collect();
        let span = 0..self.source.text().chars().next().map_or(0, char::len_utf8);
        if missing.len() == REQUIRED_KEYS.len() {
            self.push(
                Diagnostic::error(
                    Code::MissingKey,
                    span,
                    format!("missing the required keys {}", one_of(&missing).replace(" or ", " and ")),
                )
                .label("in this file")
                .help("`mlflow-stack init` writes a stack file with all of them; or add them at the top of this file, e.g. `project = \"acme-ml-prod\"`, `region = \"europe-west3\"`, `bucket = \"acme-ml-prod-mlflow\"`, `tag = \"1.0.0\"` and `environment = \"gke\"`"),
            );
            return;
        }
        for key in missing {
            let help = match key {
                "project" => {
                    "add `project = \"acme-ml-prod\"`: the id of your Google Cloud project (`gcloud projects list`)"
                }
                "region" => {
                    "add `region = \"europe-west3\"`: the Google Cloud region of the bucket, Cloud SQL, the registry and the cluster"
                }
                "bucket" => {
                    "add `bucket = \"acme-ml-prod-mlflow\"`: the artifact bucket `infra.sh` creates"
                }
                "tag" => "add `tag = \"1.0.0\"`: the tag of the server image `infra.sh` builds",
                _ => {
                    "add `environment = \"gke\"` (Google Kubernetes Engine) or `environment = \"local\"` (Docker Desktop, kind)"
                }
            };
            self.push(
                Diagnostic::error(
                    Code::MissingKey,
                    span.clone(),
                    format!("missing required key `{key}`"),
                )
                .label("in this file")
                .help(format!("{help}, above the first `[table]`")),
            );
        }
    }

    fn range(
        &mut self,
        key: &str,
        field: Option<&Spanned<i64>>,
        range: Range<i64>,
        why: &str,
    ) -> Option<u32> {
        let field = field?;
        if range.contains(&field.value) {
            return u32::try_from(field.value).ok();
        }
        self.push(
            Diagnostic::error(
                Code::OutOfRange,
                field.span.clone(),
                format!(
                    "`{key}` must be between {} and {}, not {}",
                    range.start,
                    range.end - 1,
                    shown(
                        self.source
                            .text()
                            .get(field.span.clone())
                            .unwrap_or_default()
                    )
                ),
            )
            .label("out of range")
            .help(why.to_owned()),
        );
        None
    }

    fn not_applicable(&mut self, key: &str, key_span: Range<usize>, why: &str, help: &str) {
        self.push(
            Diagnostic::error(Code::NotApplicable, key_span, format!("`{key}` {why}"))
                .label("does not apply here")
                .help(help.to_owned()),
        );
    }

    fn stack(&mut self, raw: &raw::StackFile) -> Option<Stack> {
        let project = self.check("project", raw.project.as_ref(), ProjectId::parse);
        let region = self.check("region", raw.region.as_ref(), Region::parse);
        let bucket = self.check("bucket", raw.bucket.as_ref(), BucketName::parse);
        let tag = self.check("tag", raw.tag.as_ref(), ImageTag::parse);
        if let (Some(tag), Some(field)) = (&tag, &raw.tag)
            && tag.is_latest()
        {
            self.push(
                    Diagnostic::warning(Code::LatestTag, field.span.clone(), "tag `latest` does not roll out a rebuilt image")
                        .label("a moving tag")
                        .help("Kubernetes sees the same image reference after a rebuild and keeps the old pods; use a version such as `tag = \"1.0.1\"` and bump it"),
                );
        }
        let environment = raw.environment.as_ref().map(|e| e.value);
        let name = match &raw.name {
            Some(_) => self.check("name", raw.name.as_ref(), DnsLabel::parse_name),
            None => DnsLabel::parse_name("mlflow").ok(),
        };
        let namespace = match &raw.namespace {
            Some(_) => self.check(
                "namespace",
                raw.namespace.as_ref(),
                DnsLabel::parse_namespace,
            ),
            None => name.clone(),
        };
        // `namespace_shared` written next to `default` says it knowingly (or is an error).
        if let (Some(namespace), Some(field), None) =
            (&namespace, &raw.namespace, &raw.namespace_shared)
            && namespace.as_str() == "default"
        {
            self.push(
                Diagnostic::warning(
                    Code::DefaultNamespace,
                    field.span.clone(),
                    "the `default` namespace is shared by everything",
                )
                .label("shared namespace")
                .help("the bundle does not create, label or delete `default`; leave `namespace` out to give this MLflow a namespace of its own"),
            );
        }
        let is_default = namespace.as_ref().is_some_and(|n| n.as_str() == "default");
        let marked_shared = raw.namespace_shared.as_ref().map(|field| field.value);
        if let (true, Some(field)) = (is_default, raw.namespace_shared.as_ref())
            && !field.value
        {
            self.push(
                Diagnostic::error(
                    Code::ConflictingOptions,
                    field.span.clone(),
                    "`default` is always a shared namespace; a bundle cannot own it",
                )
                .label("`default` cannot be owned")
                .help(
                    "remove `namespace_shared = false`, or choose a namespace of this MLflow's own",
                ),
            );
        }
        let owns_namespace = !is_default && marked_shared != Some(true);
        self.missing_keys();

        let server = self.server(raw.server.as_ref().map(|s| &s.value), environment);
        let database = self.database(
            raw.database.as_ref().map(|d| &d.value),
            name.as_ref(),
            project.as_ref(),
            raw,
        );
        let registry = self.registry(raw.registry.as_ref().map(|r| &r.value));
        let expose = self.expose(raw.expose.as_ref(), environment);
        // The kind asked for, even when another `[expose]` rule failed: a missing `host`
        // must not hide that the gateway has no `[auth]`.
        let expose_kind = match raw.expose.as_ref().and_then(|e| e.value.kind.as_ref()) {
            Some(kind) => Some(kind.value),
            None if self.parsed.has("expose.type") => None,
            None => Some(ExposeType::ClusterIp),
        };
        let auth = self.auth(
            raw.auth.as_ref(),
            expose_kind,
            raw.expose.as_ref().map(|e| &e.value),
            environment,
        );
        self.auth_database_fits(raw, auth.as_ref());
        self.private_database_reachable(raw, environment);
        let server = server.map(|server| Self::default_pool_for_auth(raw, server, auth.as_ref()));
        self.not_yet_supported(raw, expose.as_ref());
        let cluster = self.cluster(raw, environment, name.as_ref(), region.as_ref());
        let kube_context = self.kube_context(raw, environment);
        let credentials = self.credentials(raw, environment);
        let gc = raw.gc.as_ref().map(|table| self.gc(&table.value));
        let encryption = self.encryption(raw, region.as_ref());

        if let (Some(expose), Some(Environment::Gke), Some(server)) =
            (&expose, environment, &server)
            && expose.kind == ExposeType::LoadBalancer
            && !server
                .allowed_hosts
                .iter()
                .any(|host| reach::reaches_from_outside(host.as_str(), expose.port))
        {
            let written = raw
                .server
                .as_ref()
                .and_then(|s| s.value.allowed_hosts.as_ref())
                .filter(|hosts| !hosts.value.is_empty());
            let (span, message, label) = match written {
                Some(hosts) => (
                    hosts.span.clone(),
                    format!(
                        "no `server.allowed_hosts` entry is a name clients use to reach the load balancer on port {}",
                        expose.port
                    ),
                    "only names inside the cluster, or other ports",
                ),
                None => (
                    raw.expose.as_ref().map_or(0..0, |e| e.key.clone()),
                    "MLflow refuses requests that reach the load balancer by its IP address"
                        .to_owned(),
                    "no `server.allowed_hosts` for the load balancer",
                ),
            };
            self.push(
                    Diagnostic::warning(Code::LoadBalancerHost, span, message)
                        .label(label)
                        .help("add the DNS name (or the reserved address) clients use to `[server] allowed_hosts`, e.g. `allowed_hosts = [\"mlflow.example.com\"]`"),
                );
        }

        if let (Some(expose), Some(Environment::Gke), Some(Auth::Basic { .. })) =
            (&expose, environment, &auth)
            && expose.kind == ExposeType::LoadBalancer
            && let Some(kind) = raw.auth.as_ref().and_then(|a| a.value.kind.as_ref())
        {
            let mut diagnostic = Diagnostic::error(
                Code::BasicAuthInClearText,
                kind.span.clone(),
                "a `load-balancer` on gke sends MLflow's passwords across the internet in clear text",
            )
            .label("basic auth over plain HTTP")
            .help("GKE's load balancer passes TCP through without TLS, so every request carries a password anyone on the path can read: use `[expose] type = \"gateway\"` with `host` (HTTPS with a Google-managed certificate), or `type = \"cluster-ip\"` and `kubectl port-forward`");
            if let Some(field) = raw.expose.as_ref().and_then(|e| e.value.kind.as_ref()) {
                diagnostic =
                    diagnostic.related(field.span.clone(), "plain HTTP to a public address");
            }
            self.push(diagnostic);
        }
        if let (Some(server), Some(Auth::Basic { .. })) = (&server, &auth)
            && server.metrics
            && let Some(field) = raw.server.as_ref().and_then(|s| s.value.metrics.as_ref())
        {
            let mut diagnostic = Diagnostic::error(
                Code::MetricsBehindSignIn,
                field.span.clone(),
                "`/metrics` cannot be scraped behind MLflow's basic auth",
            )
            .label("Prometheus would get 401 Unauthorized")
            .help("MLflow's basic-auth app asks every request but `/health` to sign in, and the bundle gives no scraper an account: remove `metrics = true`, or use `[auth] kind = \"iap\"` on a gateway, which leaves the pods' own port to the scraper");
            if let Some(kind) = raw.auth.as_ref().and_then(|a| a.value.kind.as_ref()) {
                diagnostic = diagnostic.related(kind.span.clone(), "basic auth");
            }
            self.push(diagnostic);
        }
        if let (Some(Auth::Iap { .. }), Some(Registry::Image(image))) = (&auth, &registry)
            && let Some(kind) = raw.auth.as_ref().and_then(|a| a.value.kind.as_ref())
        {
            let mut diagnostic = Diagnostic::warning(
                Code::IapNeedsModule,
                kind.span.clone(),
                "`kind = \"iap\"` needs the module `mlflow_stack_iap` in the server image",
            )
            .label("the server verifies IAP's signed header with it")
            .help(format!(
                "the given image `{image}` is not built here: install `mlflow_stack_iap.py` into its site-packages, or the server will not start (a bundle built without `registry.image` holds the module in `image/`, and its Dockerfile installs it); or remove `registry.image` to build the image"
            ));
            if let Some(given) = raw.registry.as_ref().and_then(|r| r.value.image.as_ref()) {
                diagnostic = diagnostic.related(given.span.clone(), "a given image");
            }
            self.push(diagnostic);
        }
        if let (Some(server), Some(Registry::Image(image))) = (&server, &registry)
            && server.metrics
            && let Some(field) = raw.server.as_ref().and_then(|s| s.value.metrics.as_ref())
        {
            let mut diagnostic = Diagnostic::warning(
                Code::MetricsNeedsExporter,
                field.span.clone(),
                "`metrics = true` needs `prometheus-flask-exporter` in the server image",
            )
            .label("MLflow's `--expose-prometheus` imports it")
            .help(format!(
                "the given image `{image}` is not built here: make sure it has `prometheus-flask-exporter` (MLflow's `extras`), or the server will not start"
            ));
            if let Some(given) = raw.registry.as_ref().and_then(|r| r.value.image.as_ref()) {
                diagnostic = diagnostic.related(given.span.clone(), "a given image");
            }
            self.push(diagnostic);
        }
        for diagnostic in placeholder::placeholders(raw) {
            self.push(diagnostic);
        }
        if let (Some(server), Some(database)) = (&server, &database) {
            self.connection_budget(raw, server, database, gc.is_some(), auth.as_ref());
        }
        if let (Some(server), Some(registry)) = (&server, &registry) {
            let flavour = crate::lock::Flavour {
                basic_auth: auth.as_ref().is_some_and(Auth::user_store),
                metrics: server.metrics,
            };
            self.server_image(raw, server, registry, flavour);
        }

        Some(Stack {
            project: project?,
            region: region?,
            bucket: bucket?,
            tag: tag?,
            environment: environment?,
            name: name?,
            namespace: namespace?,
            owns_namespace,
            server: server?,
            database: database?,
            registry: registry?,
            expose: expose?,
            auth: auth?,
            cluster,
            kube_context,
            credentials,
            gc: gc.map_or(Some(None), |gc| gc.map(Some))?,
            encryption: encryption.ok()?,
        })
    }

    fn server(
        &mut self,
        raw: Option<&raw::Server>,
        environment: Option<Environment>,
    ) -> Option<Server> {
        let default = raw::Server::default();
        let raw = raw.unwrap_or(&default);
        let mlflow_version = match &raw.mlflow_version {
            Some(field) => self.check("server.mlflow_version", Some(field), MlflowVersion::parse),
            None => Some(MlflowVersion::default_version()),
        };
        let default_replicas = if environment == Some(Environment::Local) {
            1
        } else {
            2
        };
        let replicas = match &raw.replicas {
            Some(field) => self.range(
                "server.replicas",
                Some(field),
                1..51,
                "use 1 to 50 replicas; 2 survive a node drain on gke",
            ),
            None => Some(default_replicas),
        };
        let max_replicas = self.max_replicas(raw, replicas);
        let workers = match &raw.workers {
            Some(field) => self.range(
                "server.workers",
                Some(field),
                1..17,
                "use 1 to 16 workers per pod; scale out with `replicas`",
            ),
            None => Some(2),
        };
        let cpu = match &raw.cpu {
            Some(field) => self.check("server.cpu", Some(field), Quantity::parse_cpu),
            None => Some(Quantity::millicores(500)),
        };
        let memory = match &raw.memory {
            Some(field) => self.check("server.memory", Some(field), Quantity::parse_memory),
            None => workers.map(|w| Quantity::mebibytes(default_memory_mib(w))),
        };
        if let (Some(memory), Some(field), Some(workers)) = (&memory, &raw.memory, workers)
            && memory.value() < f64::from(min_memory_mib(workers)) * 1024.0 * 1024.0
        {
            self.push(
                    Diagnostic::warning(Code::MemoryTooLow, field.span.clone(), format!("`server.memory = \"{memory}\"` is below what MLflow uses with {}", crate::diag::plural(workers as usize, "worker")))
                        .label("the pod will be OOM-killed")
                        .help(format!("MLflow 3 idles at about 640 MiB with 2 workers and grows with each; leave `memory` out for the default ({}Mi for {workers}: 512Mi + 256Mi per worker), or use at least `{}Mi`", default_memory_mib(workers), min_memory_mib(workers))),
                );
        }
        let tmp_size = self.tmp_size(raw);
        let mut allowed_hosts = Vec::new();
        for host in raw.allowed_hosts.iter().flat_map(|hosts| &hosts.value) {
            if let Some(pattern) =
                self.check("server.allowed_hosts", Some(host), HostPattern::parse)
            {
                allowed_hosts.push(pattern);
            }
        }
        let pool_size = match &raw.pool_size {
            Some(field) => self.range(
                "server.pool_size",
                Some(field),
                1..51,
                "use 1 to 50 connections per engine; the default 2 suits most stacks",
            ),
            None => Some(2),
        };
        let max_overflow = match &raw.max_overflow {
            Some(field) => self.range(
                "server.max_overflow",
                Some(field),
                1..51,
                "use 1 to 50 connections per engine (MLflow ignores 0, and SQLAlchemy then allows 10)",
            ),
            None => Some(2),
        };
        Some(Server {
            mlflow_version: mlflow_version?,
            replicas: replicas?,
            // An autoscaler only when the maximum is above the minimum.
            max_replicas: (max_replicas? > replicas?).then_some(max_replicas?),
            workers: workers?,
            cpu: cpu?,
            memory: memory?,
            tmp_size: tmp_size?,
            serve_artifacts: raw.serve_artifacts.as_ref().is_none_or(|f| f.value),
            allowed_hosts,
            metrics: raw.metrics.as_ref().is_some_and(|f| f.value),
            packages: self.packages(raw)?,
            pool_size: pool_size?,
            max_overflow: max_overflow?,
        })
    }

    /// `server.tmp_size`: the server's `/tmp`, through which proxied artifacts pass; at
    /// least [`MIN_TMP_MIB`]. `None` when invalid (reported).
    fn tmp_size(&mut self, raw: &raw::Server) -> Option<Quantity> {
        let Some(field) = &raw.tmp_size else {
            return Some(Quantity::mebibytes(DEFAULT_TMP_MIB));
        };
        let size = self.check("server.tmp_size", Some(field), Quantity::parse_memory)?;
        if size.value() < f64::from(MIN_TMP_MIB) * 1024.0 * 1024.0 {
            self.push(
                Diagnostic::error(
                    Code::TmpTooSmall,
                    field.span.clone(),
                    format!("`server.tmp_size = \"{size}\"` cannot hold a model file"),
                )
                .label("proxied uploads and downloads pass through /tmp")
                .help(format!(
                    "use at least `{}Gi`, as large as the largest artifact clients move; leave it out for the default `{}Gi`",
                    MIN_TMP_MIB / 1024,
                    DEFAULT_TMP_MIB / 1024
                )),
            );
            return None;
        }
        Some(size)
    }

    /// `server.packages`: each pinned, none the image already pins, none twice. `None` when
    /// one is invalid (reported).
    fn packages(&mut self, raw: &raw::Server) -> Option<Vec<Package>> {
        let mut packages: Vec<(Package, &Spanned<String>)> = Vec::new();
        let mut ok = true;
        for field in raw.packages.iter().flat_map(|list| &list.value) {
            let Some(package) = self.check_own_characters(field, Package::parse) else {
                ok = false;
                continue;
            };
            let key = package.key();
            if key == "mlflow" || key == "mlflow-skinny" {
                self.push(
                    Diagnostic::error(
                        Code::DuplicatePackage,
                        field.span.clone(),
                        format!("`{}` is the server itself", package.name()),
                    )
                    .label("the image installs MLflow")
                    .help("remove it; `server.mlflow_version` sets MLflow's version"),
                );
                ok = false;
            } else if let Some((name, version, _)) = IMAGE_PINS
                .iter()
                .find(|(name, _, _)| crate::lock::normalize(name) == key)
            {
                self.push(
                    Diagnostic::error(Code::DuplicatePackage, field.span.clone(), format!("the image already pins `{name}=={version}`"))
                        .label("pinned twice")
                        .help(format!("remove it from `packages`: the image installs `{name}` at the version tested with MLflow whenever the stack needs it")),
                );
                ok = false;
            } else if let Some((_, first)) = packages.iter().find(|(p, _)| p.key() == key) {
                let first_span = first.span.clone();
                self.push(
                    Diagnostic::error(
                        Code::DuplicatePackage,
                        field.span.clone(),
                        format!("`{}` is listed twice", package.name()),
                    )
                    .label("again")
                    .related(first_span, "first here")
                    .help("keep one pin of each package"),
                );
                ok = false;
            } else {
                packages.push((package, field));
            }
        }
        ok.then(|| packages.into_iter().map(|(p, _)| p).collect())
    }

    /// `server.max_replicas`: the most pods, at least `replicas` (which it is without an
    /// autoscaler). `None` when invalid (reported).
    fn max_replicas(&mut self, raw: &raw::Server, replicas: Option<u32>) -> Option<u32> {
        let Some(field) = &raw.max_replicas else {
            return replicas;
        };
        let max = self.range(
            "server.max_replicas",
            Some(field),
            1..51,
            "use 1 to 50 replicas at most; the connection budget counts every one",
        )?;
        let replicas = replicas?;
        if max < replicas {
            let mut diagnostic = Diagnostic::error(
                Code::MaxReplicasBelowReplicas,
                field.span.clone(),
                format!("`server.max_replicas = {max}` is below `replicas = {replicas}`"),
            )
            .label("the autoscaler's maximum")
            .help(format!(
                "the autoscaler scales between `replicas` and `max_replicas`: use `max_replicas = {replicas}` or more, or lower `replicas`"
            ));
            if let Some(written) = &raw.replicas {
                diagnostic = diagnostic.related(written.span.clone(), "the minimum");
            }
            self.push(diagnostic);
            return None;
        }
        Some(max)
    }

    fn database(
        &mut self,
        raw: Option<&raw::Database>,
        name: Option<&DnsLabel>,
        project: Option<&ProjectId>,
        stack: &raw::StackFile,
    ) -> Option<Database> {
        let default = raw::Database::default();
        let raw = raw.unwrap_or(&default);
        let instance = match &raw.instance {
            Some(field) => self.check("database.instance", Some(field), InstanceId::parse),
            None => name.map(names::instance),
        };
        if let (Some(instance), Some(project)) = (&instance, project) {
            let total = project.as_str().len() + 1 + instance.as_str().len();
            if total > 98 {
                let span = raw
                    .instance
                    .as_ref()
                    .or(stack.name.as_ref())
                    .or(stack.project.as_ref())
                    .map_or(0..0, |f| f.span.clone());
                self.push(
                    Diagnostic::error(
                        Code::DerivedNameTooLong,
                        span,
                        format!(
                            "the Cloud SQL instance name `PROJECT:INSTANCE` would be {total} characters; Cloud SQL allows 98"
                        ),
                    )
                    .label(format!("{} characters, with a {}-character project id", instance.as_str().len(), project.as_str().len()))
                    .help(format!("shorten `database.instance` to at most {} characters", 98 - 1 - project.as_str().len())),
                );
            }
        }
        let tier = match &raw.tier {
            Some(field) => self.check("database.tier", Some(field), Tier::parse),
            None => Tier::parse("db-custom-1-3840").ok(),
        };
        let storage_gb = match &raw.storage_gb {
            Some(field) => self.range(
                "database.storage_gb",
                Some(field),
                10..65537,
                "Cloud SQL storage is 10 to 65536 GB; it grows automatically",
            ),
            None => Some(10),
        };
        let database = match &raw.database {
            Some(field) => self.check("database.database", Some(field), |v| {
                SqlIdent::parse("database.database", v)
            }),
            None => Some(SqlIdent::mlflow()),
        };
        let auth = raw
            .auth
            .as_ref()
            .map_or(DatabaseAuth::Password, |a| a.value);
        let login = match (auth, &raw.user) {
            (DatabaseAuth::Password, user) => {
                let user = match user {
                    Some(field) => self.check("database.user", Some(field), |v| {
                        SqlIdent::parse("database.user", v)
                    }),
                    None => Some(SqlIdent::mlflow()),
                };
                user.map(|user| DatabaseLogin::Password { user })
            }
            (DatabaseAuth::Iam, Some(field)) => {
                self.push(
                    Diagnostic::error(Code::ConflictingOptions, field.key.clone(), "`database.user` cannot be chosen with `auth = \"iam\"`")
                        .label("not used with IAM authentication")
                        .help("with IAM authentication the database user is the server's service account; remove `user`"),
                );
                None
            }
            (DatabaseAuth::Iam, None) => Some(DatabaseLogin::Iam),
        };
        let ip = raw.ip.as_ref().map_or(DatabaseIp::Public, |ip| ip.value);
        let create_peering = raw.create_peering.as_ref().filter(|f| f.value);
        if let (Some(field), DatabaseIp::Public) = (create_peering, ip) {
            self.push(
                Diagnostic::error(Code::ConflictingOptions, field.key.clone(), "`database.create_peering` needs `ip = \"private\"`")
                    .label("no private IP to connect")
                    .help("the peering gives the instance's private IP a network to live on, and a public instance takes none: add `ip = \"private\"` to [database], or remove `create_peering`"),
            );
            return None;
        }
        Some(Database {
            instance: instance?,
            version: raw
                .version
                .as_ref()
                .map_or(PostgresVersion::Postgres17, |v| v.value),
            tier: tier?,
            high_availability: raw.high_availability.as_ref().is_some_and(|f| f.value),
            storage_gb: storage_gb?,
            database: database?,
            login: login?,
            ip,
            create_peering: create_peering.is_some(),
        })
    }

    fn registry(&mut self, raw: Option<&raw::Registry>) -> Option<Registry> {
        let default = raw::Registry::default();
        let raw = raw.unwrap_or(&default);
        if let Some(field) = &raw.image {
            let image = self.check("registry.image", Some(field), ImageRef::parse);
            for (key, span) in [
                ("kind", raw.kind.as_ref().map(|k| k.key.clone())),
                ("repository", raw.repository.as_ref().map(|r| r.key.clone())),
            ] {
                if let Some(span) = span {
                    self.push(
                        Diagnostic::error(Code::ConflictingOptions, span, format!("`registry.{key}` has no effect with `registry.image`"))
                            .label("unused")
                            .help(format!("`registry.image` is used as is and nothing is built; remove `{key}`, or remove `image` to build the image")),
                    );
                }
            }
            return image.map(Registry::Image);
        }
        let kind = raw
            .kind
            .as_ref()
            .map_or(RegistryKind::ArtifactRegistry, |k| k.value);
        if kind == RegistryKind::Gcr {
            if let Some(field) = &raw.repository {
                self.push(
                    Diagnostic::error(
                        Code::ConflictingOptions,
                        field.key.clone(),
                        "`registry.repository` applies to Artifact Registry, not `gcr`",
                    )
                    .label("unused with `kind = \"gcr\"`")
                    .help("remove `repository`, or use `kind = \"artifact-registry\"`"),
                );
            }
            if let Some(field) = &raw.kind {
                self.push(
                    Diagnostic::warning(
                        Code::LegacyRegistry,
                        field.span.clone(),
                        "Container Registry is shut down for new projects",
                    )
                    .label("legacy registry")
                    .help(
                        "use Artifact Registry: remove `kind` (the default is `artifact-registry`)",
                    ),
                );
            }
        }
        let repository = match &raw.repository {
            Some(field) => self.check("registry.repository", Some(field), RepositoryId::parse),
            None => Some(RepositoryId::default_id()),
        };
        Some(Registry::Build {
            kind,
            repository: repository?,
        })
    }

    fn expose(
        &mut self,
        raw: Option<&Spanned<raw::Expose>>,
        environment: Option<Environment>,
    ) -> Option<Expose> {
        let default = raw::Expose::default();
        let table_span = raw.map(|r| r.key.clone());
        let raw = raw.map_or(&default, |r| &r.value);
        // Nothing is published unless asked: port-forward by default, on every environment.
        let kind = raw.kind.as_ref().map_or(ExposeType::ClusterIp, |k| k.value);
        // A `type` or `allow` that was written but rejected has its own diagnostic; rules
        // that depend on it would guess.
        let kind_known = raw.kind.is_some() || !self.parsed.has("expose.type");
        let allow_known = raw.allow.is_some() || !self.parsed.has("expose.allow");
        let port = match &raw.port {
            Some(field) => self
                .range(
                    "expose.port",
                    Some(field),
                    1..65536,
                    "use a TCP port, e.g. `port = 8080`",
                )
                .and_then(|p| u16::try_from(p).ok()),
            None => Some(8080),
        };
        let mut allow = Vec::new();
        for cidr in raw.allow.iter().flat_map(|a| &a.value) {
            if let Some(block) = self.check("expose.allow", Some(cidr), Cidr::parse) {
                if block.is_everything() {
                    let what = if kind == ExposeType::Gateway {
                        "gateway"
                    } else {
                        "load balancer"
                    };
                    self.push(
                        Diagnostic::warning(Code::OpenToWorld, cidr.span.clone(), format!("`{block}` opens the {what} to the whole internet"))
                            .label("every address")
                            .help("everyone on the internet can then try to sign in; list the networks that need it, e.g. `allow = [\"203.0.113.0/24\"]`"),
                    );
                }
                allow.push(block);
            }
        }
        if let Some(field) = &raw.allow {
            self.open_to_world_together(field, &allow, kind);
        }
        let static_ip = raw.static_ip.as_ref().is_some_and(|f| f.value);
        if kind != ExposeType::LoadBalancer && kind_known {
            // On a gateway `allow` is Cloud Armor's allow list (see `armor`).
            if let Some(field) = raw.allow.as_ref().filter(|a| !a.value.is_empty())
                && kind != ExposeType::Gateway
            {
                self.load_balancer_only("allow", field, kind);
            }
            if let Some(field) = raw.static_ip.as_ref().filter(|f| f.value) {
                self.load_balancer_only("static_ip", field, kind);
            }
        }
        if kind != ExposeType::Gateway && kind_known {
            self.armor_gateway_only(raw, kind);
        }
        let gateway = if kind_known {
            self.gateway(raw, kind, environment)
        } else {
            Err(())
        };
        if environment == Some(Environment::Local)
            && let Some(field) = raw.static_ip.as_ref().filter(|f| f.value)
        {
            self.not_applicable("expose.static_ip", field.key.clone(), "applies to `environment = \"gke\"` only", "a local cluster has no Google load balancer to attach a static IP to; remove `static_ip`");
        }
        if kind == ExposeType::LoadBalancer
            && kind_known
            && allow_known
            && environment == Some(Environment::Gke)
            && raw.allow.as_ref().is_none_or(|a| a.value.is_empty())
        {
            let span = raw
                .allow
                .as_ref()
                .map(|a| a.span.clone())
                .or_else(|| raw.kind.as_ref().map(|k| k.span.clone()))
                .or(table_span)
                .unwrap_or(0..0);
            self.push(
                Diagnostic::error(Code::LoadBalancerWithoutAllow, span, "a load balancer on gke needs `expose.allow`")
                    .label("reachable from the internet")
                    .help("list the source networks, e.g. `allow = [\"203.0.113.0/24\"]`; `allow = [\"0.0.0.0/0\"]` exposes it to the world on purpose"),
            );
        }
        Some(Expose {
            kind,
            port: port?,
            static_ip,
            allow,
            gateway: gateway.ok()?,
        })
    }

    /// A private database is reached from the cluster's VPC network only: not from a local
    /// cluster outside Google Cloud.
    fn private_database_reachable(
        &mut self,
        raw: &raw::StackFile,
        environment: Option<Environment>,
    ) {
        let Some(field) = raw.database.as_ref().and_then(|d| d.value.ip.as_ref()) else {
            return;
        };
        if field.value != DatabaseIp::Private || environment != Some(Environment::Local) {
            return;
        }
        let mut diagnostic = Diagnostic::error(
            Code::PrivateDatabaseOffGke,
            field.span.clone(),
            "a private Cloud SQL instance cannot be reached from a local cluster",
        )
        .label("a private IP only, on a Google Cloud VPC network")
        .help("a cluster outside Google Cloud has no route to the instance's private IP: remove `ip = \"private\"` (the proxy then reaches its public IP with the key file), or set `environment = \"gke\"` and run MLflow on the cluster whose network peers with Cloud SQL");
        if let Some(environment) = &raw.environment {
            diagnostic = diagnostic.related(environment.span.clone(), "a local cluster");
        }
        self.push(diagnostic);
    }

    /// The cluster of a gke stack; `None` on local, or when the name is invalid (reported).
    fn cluster(
        &mut self,
        raw: &raw::StackFile,
        environment: Option<Environment>,
        name: Option<&DnsLabel>,
        region: Option<&Region>,
    ) -> Option<Cluster> {
        match environment {
            Some(Environment::Local) => {
                let table = raw.cluster.as_ref().map(|t| &t.value);
                let gke_only = table.into_iter().flat_map(|t| {
                    [
                        ("cluster.name", t.name.as_ref().map(|f| f.key.clone())),
                        (
                            "cluster.location",
                            t.location.as_ref().map(|f| f.key.clone()),
                        ),
                        ("cluster.create", t.create.as_ref().map(|f| f.key.clone())),
                    ]
                });
                for (key, span) in gke_only.collect::<Vec<_>>() {
                    if let Some(span) = span {
                        self.not_applicable(key, span, "applies to `environment = \"gke\"` only", "a local stack runs on the cluster of a kubectl context (`cluster.context`, else the current one); remove it");
                    }
                }
                None
            }
            Some(Environment::Gke) => {
                let default = raw::Cluster::default();
                let table = raw.cluster.as_ref().map_or(&default, |t| &t.value);
                let cluster_name = match &table.name {
                    Some(field) => self.check("cluster.name", Some(field), ClusterName::parse),
                    None => name.map(ClusterName::from_name),
                };
                let location = match &table.location {
                    Some(field) => {
                        self.check("cluster.location", Some(field), ClusterLocation::parse)
                    }
                    None => region.map(ClusterLocation::of_region),
                };
                Some(Cluster {
                    name: cluster_name?,
                    location: location?,
                    create: table.create.as_ref().is_some_and(|f| f.value),
                })
            }
            None => None,
        }
    }

    /// `cluster.context` of a local stack; `None` when not given, or when it is reported
    /// (on gke, or invalid: the error fails the validation).
    fn kube_context(
        &mut self,
        raw: &raw::StackFile,
        environment: Option<Environment>,
    ) -> Option<String> {
        let field = raw
            .cluster
            .as_ref()
            .and_then(|t| t.value.context.as_ref())?;
        if environment == Some(Environment::Gke) {
            self.not_applicable("cluster.context", field.key.clone(), "applies to `environment = \"local\"` only", "infra.sh names the context `gcloud container clusters get-credentials` writes (gke_PROJECT_LOCATION_CLUSTER); remove `context`");
            return None;
        }
        self.check("cluster.context", Some(field), |value| {
            if value.is_empty() {
                Err(Problem::new(
                    Code::UnsafeCharacter,
                    "`cluster.context` is empty",
                )
                .label("no context")
                .help("name a context of your kubeconfig (`kubectl config get-contexts -o name`), or remove `context` to use the current one"))
            } else {
                Ok(value.to_owned())
            }
        })
    }

    /// Warns when `allow` admits every IPv4 or IPv6 address only as a whole (`0.0.0.0/1` and
    /// `128.0.0.0/1`); a single `0.0.0.0/0` has its own warning at that block.
    fn open_to_world_together(
        &mut self,
        field: &Spanned<Vec<Spanned<String>>>,
        allow: &[Cidr],
        kind: ExposeType,
    ) {
        let what = if kind == ExposeType::Gateway {
            "gateway"
        } else {
            "load balancer"
        };
        for family in gcp::families_covered(allow) {
            let single = allow.iter().any(|block| {
                block.is_everything()
                    && gcp::families_covered(std::slice::from_ref(block)) == [family]
            });
            if !single {
                self.push(
                    Diagnostic::warning(Code::OpenToWorld, field.span.clone(), format!("together these blocks open the {what} to every {family} address"))
                        .label(format!("covers all of {family}"))
                        .help("MLflow has no authentication of its own; list the networks that need it, e.g. `allow = [\"203.0.113.0/24\"]`"),
                );
            }
        }
    }

    /// The `[gc]` table; `None` when a value is invalid (reported).
    fn gc(&mut self, raw: &raw::Gc) -> Option<Gc> {
        // Both values go into YAML only, never a script: their own rules say which
        // characters they take (a schedule has spaces and `*`).
        let schedule = match &raw.schedule {
            Some(field) => self.check_own_characters(field, CronSchedule::parse),
            None => Some(CronSchedule::default_schedule()),
        };
        let older_than = match &raw.older_than {
            Some(field) => self.check_own_characters(field, OlderThan::parse),
            None => Some(OlderThan::default_age()),
        };
        Some(Gc {
            schedule: schedule?,
            older_than: older_than?,
        })
    }

    /// The `[encryption]` table: its key, in the stack's region; `Ok(None)` without one,
    /// `Err` when a value is invalid (reported).
    fn encryption(
        &mut self,
        raw: &raw::StackFile,
        region: Option<&Region>,
    ) -> Result<Option<Encryption>, ()> {
        let Some(table) = &raw.encryption else {
            return Ok(None);
        };
        let Some(field) = table.value.kms_key.as_ref() else {
            // A key written with a bad value, or another key (a misspelt `kms_key`), has its
            // own diagnostic already.
            if self
                .parsed
                .keys
                .iter()
                .any(|key| key.starts_with("encryption."))
            {
                return Err(());
            }
            self.push(
                Diagnostic::error(
                    Code::MissingKey,
                    table.key.clone(),
                    "`[encryption]` needs `kms_key`",
                )
                .label("no key named")
                .help(format!(
                    "add `kms_key = {}`, or remove `[encryption]` to keep Google's default encryption",
                    crate::parse::example("encryption.kms_key")
                )),
            );
            return Err(());
        };
        let key = self
            .check("encryption.kms_key", Some(field), KmsKey::parse)
            .ok_or(())?;
        if let Some(region) = region
            && let Err(problem) = key.fits(region)
        {
            let diagnostic = self.place(problem, field);
            self.push(diagnostic);
            return Err(());
        }
        Ok(Some(Encryption { kms_key: key }))
    }

    /// The key file directory of a local stack; `None` on gke.
    fn credentials(
        &mut self,
        raw: &raw::StackFile,
        environment: Option<Environment>,
    ) -> Option<Credentials> {
        match environment {
            Some(Environment::Gke) => {
                if let Some(table) = &raw.credentials {
                    self.not_applicable("[credentials]", table.key.clone(), "applies to `environment = \"local\"` only", "on gke the server uses Workload Identity and no key files exist; remove `[credentials]`");
                }
                None
            }
            Some(Environment::Local) => {
                let dir = match raw.credentials.as_ref().and_then(|t| t.value.dir.as_ref()) {
                    Some(field) => self.check("credentials.dir", Some(field), DirPath::parse),
                    None => Some(DirPath::default_dir()),
                };
                Some(Credentials { dir: dir? })
            }
            None => None,
        }
    }
}
