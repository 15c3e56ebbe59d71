//! The stack file as written: every field optional and spanned, nothing checked yet
//! beyond its TOML type. The `///` comments on these fields are the stack file reference:
//! they become the JSON Schema descriptions (`mlflow-stack schema`) and editor hover text.

use std::borrow::Cow;
use std::ops::Range;

use schemars::{JsonSchema, Schema, SchemaGenerator};

/// A value and where it was written: `span` covers the value, `key` the key naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Range<usize>,
    pub key: Range<usize>,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Range<usize>, key: Range<usize>) -> Self {
        Self { value, span, key }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Spanned<U> {
        Spanned {
            value: f(self.value),
            span: self.span,
            key: self.key,
        }
    }
}

impl<T: JsonSchema> JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

type Field<T> = Option<Spanned<T>>;

/// An mlflow-stack stack file (v1): one MLflow tracking server on Google Cloud.
#[derive(Debug, Default, Clone, JsonSchema)]
#[schemars(title = "mlflow-stack stack file", deny_unknown_fields)]
pub struct StackFile {
    /// Google Cloud project id: 6 to 30 characters, lowercase letters, digits and hyphens,
    /// starting with a letter and not ending with a hyphen.
    #[schemars(
        required,
        length(min = 6, max = 30),
        regex(pattern = r"^[a-z][a-z0-9-]*[a-z0-9]$")
    )]
    pub project: Field<String>,
    /// Google Cloud region of the bucket, the Cloud SQL instance, the registry and the
    /// cluster, e.g. `europe-west3` (a region, not a zone such as `europe-west3-a`).
    #[schemars(required, regex(pattern = r"^[a-z]+-[a-z]+[0-9]+$"))]
    pub region: Field<String>,
    /// Cloud Storage bucket for the artifacts, created by `infra.sh`: 3 to 63 characters
    /// (222 with dots), lowercase letters, digits, `-`, `_` and `.`, starting and ending with
    /// a letter or digit; no `goog` prefix, no `google`, not an IP address.
    #[schemars(
        required,
        length(min = 3, max = 222),
        regex(pattern = r"^[a-z0-9][a-z0-9._-]*[a-z0-9]$")
    )]
    pub bucket: Field<String>,
    /// Tag of the MLflow server image that `infra.sh` builds, e.g. `1.0.0`. Bump it to roll
    /// out a new image; `latest` is accepted with a warning (a rebuilt image is not rolled out).
    #[schemars(
        required,
        length(min = 1, max = 128),
        regex(pattern = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
    )]
    pub tag: Field<String>,
    /// Where the server runs: `gke` (Google Kubernetes Engine, Workload Identity) or `local`
    /// (Docker Desktop or kind outside Google Cloud, with a key file).
    #[schemars(required)]
    pub environment: Field<Environment>,
    /// Name of this MLflow: a DNS label of 3 to 20 characters, the prefix of every
    /// Kubernetes object and cloud resource. Default `mlflow`.
    #[schemars(
        length(min = 3, max = 20),
        regex(pattern = r"^[a-z][a-z0-9-]*[a-z0-9]$")
    )]
    pub name: Field<String>,
    /// Kubernetes namespace (a DNS label). Defaults to `name`.
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
    )]
    pub namespace: Field<String>,
    /// The namespace is shared: it exists already and belongs to others (a platform team's
    /// namespace). The bundle then neither creates nor labels it, and `kubectl delete -k`
    /// leaves it in place. `default` is always shared. Default false: the bundle owns its
    /// namespace and enforces the restricted Pod Security Standard on it.
    pub namespace_shared: Field<bool>,
    /// The MLflow tracking server.
    pub server: Field<Server>,
    /// The Cloud SQL for PostgreSQL backend store.
    pub database: Field<Database>,
    /// Where the server image lives.
    pub registry: Field<Registry>,
    /// How clients reach the server.
    pub expose: Field<Expose>,
    /// Who may use the server. Required when the server is reachable from outside the
    /// cluster (`expose.type = "load-balancer"` or `"gateway"`).
    pub auth: Field<Auth>,
    /// The GKE cluster (`environment = "gke"` only).
    pub cluster: Field<Cluster>,
    /// Garbage collection: a CronJob runs `mlflow gc`, which deletes the rows and artifacts
    /// of runs, experiments and models that have been in the `deleted` stage for
    /// `older_than`. Without this table nothing is ever removed.
    pub gc: Field<Gc>,
    /// Key files of the server's service account (`environment = "local"` only).
    pub credentials: Field<Credentials>,
    /// Customer-managed encryption keys (CMEK) for the data at rest.
    pub encryption: Field<Encryption>,
}

/// Where the server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Environment {
    /// Google Kubernetes Engine with Workload Identity: no key files exist.
    Gke,
    /// Docker Desktop or kind outside Google Cloud: a key file in a Kubernetes Secret.
    Local,
}

/// The `[server]` table.
#[derive(Debug, Default, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Server {
    /// MLflow version the server image installs, e.g. `3.17.2`. Default `3.17.2`, whose whole
    /// dependency set the compiler has locked with hashes; another version keeps the lock for
    /// what it shares and resolves the rest when the image is built (a warning).
    #[schemars(regex(pattern = r"^[0-9]+\.[0-9]+\.[0-9]+$"))]
    pub mlflow_version: Field<String>,
    /// Number of server pods. Default 1 on `local`, 2 on `gke`.
    #[schemars(range(min = 1, max = 50))]
    pub replicas: Field<i64>,
    /// The most server pods: a HorizontalPodAutoscaler (`autoscaling/v2`, on CPU) scales the
    /// Deployment between `replicas` and `max_replicas`; the PodDisruptionBudget and the
    /// connection budget count the maximum. Default: no autoscaler, `replicas` pods.
    #[schemars(range(min = 1, max = 50))]
    pub max_replicas: Field<i64>,
    /// Worker processes per pod (`mlflow server --workers`). Default 2.
    #[schemars(range(min = 1, max = 16))]
    pub workers: Field<i64>,
    /// CPU request of the server container, a Kubernetes quantity. Default `500m`.
    pub cpu: Field<String>,
    /// Memory request and limit of the server container, a Kubernetes quantity.
    /// Default 512Mi plus 256Mi per worker (1Gi for 2 workers): MLflow idles at about
    /// 640 MiB with 2 workers and its job runner off.
    pub memory: Field<String>,
    /// Size of the server's `/tmp`, a Kubernetes quantity: an `emptyDir` with this
    /// `sizeLimit`, and as much ephemeral storage requested for the server container.
    /// Proxied artifact uploads and downloads pass through `/tmp`, so it must hold the
    /// largest model file clients move. At least `1Gi`. Default `8Gi` (GKE Autopilot's
    /// default request, 1 GiB, would evict the pod on the first large model).
    pub tmp_size: Field<String>,
    /// Proxy artifact uploads and downloads through the server (`--serve-artifacts` with
    /// `--artifacts-destination`), so clients need no bucket access. Default true.
    pub serve_artifacts: Field<bool>,
    /// Extra `Host` values the server accepts (MLflow's `--allowed-hosts`), e.g. the DNS
    /// name of an ingress: `mlflow.example.com`. Localhost (port-forward) and the Service's
    /// cluster DNS names are always allowed.
    pub allowed_hosts: Field<Vec<Spanned<String>>>,
    /// Extra pip requirements of the server image (an auth or artifact plugin, a database
    /// driver), each pinned exactly: `name==version`, e.g. `["mlflow-oidc-auth==11.0.2"]`.
    /// They go into `image/requirements.txt`; what the image pins itself (`mlflow`,
    /// `psycopg2-binary`, `google-cloud-storage`, `Flask-WTF`, `prometheus-flask-exporter`)
    /// may not be listed again. One the lock holds at that version (without extras) is
    /// installed from it with its hashes; any other resolves when the image is built, with
    /// its dependencies (a warning).
    pub packages: Field<Vec<Spanned<String>>>,
    /// Prometheus metrics at `/metrics` (MLflow's `--expose-prometheus`, its multiprocess
    /// files on an `emptyDir`); on `gke` a `PodMonitoring` has Google Cloud Managed Service
    /// for Prometheus scrape them. Default false.
    pub metrics: Field<bool>,
    /// Connections each of the server's SQLAlchemy engines keeps open
    /// (`MLFLOW_SQLALCHEMYSTORE_POOL_SIZE`). Every worker has three engines (tracking,
    /// model registry, jobs); `check` fails when the most the stack can open exceeds the
    /// Cloud SQL tier's `max_connections`. Default 2.
    #[schemars(range(min = 1, max = 50))]
    pub pool_size: Field<i64>,
    /// Connections each engine may open beyond `pool_size` under load, closed when idle
    /// (`MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW`); at least 1, since MLflow ignores 0 and
    /// SQLAlchemy then allows 10. Default 2, or 1 with `[auth] kind = "basic"` (its user
    /// store adds an engine to every worker; the defaults then hold as many connections).
    #[schemars(range(min = 1, max = 50))]
    pub max_overflow: Field<i64>,
}

/// The `[database]` table.
#[derive(Debug, Default, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Database {
    /// Cloud SQL instance id. Default `<name>-db`.
    #[schemars(
        length(min = 1, max = 80),
        regex(pattern = r"^[a-z][a-z0-9-]*[a-z0-9]$")
    )]
    pub instance: Field<String>,
    /// PostgreSQL major version, always pinned (gcloud's default moves). Default `POSTGRES_17`.
    pub version: Field<PostgresVersion>,
    /// Cloud SQL machine tier: `db-custom-CPUS-MEMORY_MB`, `db-f1-micro` or `db-g1-small`.
    /// Default `db-custom-1-3840`.
    #[schemars(regex(pattern = r"^db-(custom-[0-9]+-[0-9]+|f1-micro|g1-small)$"))]
    pub tier: Field<String>,
    /// Regional (high) availability: a standby in a second zone. Default false.
    pub high_availability: Field<bool>,
    /// Storage size in GB (10 to 65536; Cloud SQL grows it automatically). Default 10.
    #[schemars(range(min = 10, max = 65536))]
    pub storage_gb: Field<i64>,
    /// Database name. Default `mlflow`.
    #[schemars(length(min = 1, max = 63), regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub database: Field<String>,
    /// Database user (password auth only; with IAM auth the user is the server's service
    /// account). Default `mlflow`.
    #[schemars(length(min = 1, max = 63), regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub user: Field<String>,
    /// How the server authenticates: `password` (a built-in user whose password `infra.sh`
    /// generates and keeps in Secret Manager) or `iam` (Cloud SQL IAM database
    /// authentication of the server's service account). Default `password`.
    pub auth: Field<DatabaseAuth>,
    /// How the instance is reached: `public` (a public IP, through the Cloud SQL Auth Proxy)
    /// or `private` (a private IP only, on the GKE cluster's VPC network through private
    /// services access, which the network's owner has set up: `infra.sh` checks it and
    /// names the command that makes it, or makes it with `create_peering`). `gke` only. Default `public`. An instance made
    /// public is switched to private by `apply` (its public IP goes); a private IP cannot be
    /// removed again.
    pub ip: Field<DatabaseIp>,
    /// With `ip = "private"`: when the cluster's network has no private services access
    /// connection, `infra.sh` makes one (an address range for Google's services, then the
    /// peering). The connection serves every Google service on the network, other teams'
    /// included: `destroy` keeps it. Default false: the network's owner makes it.
    pub create_peering: Field<bool>,
}

/// How the Cloud SQL instance is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DatabaseIp {
    /// A public IP address (no authorized networks: only the Auth Proxy connects).
    Public,
    /// A private IP address on the cluster's VPC network, and no public one.
    Private,
}

/// PostgreSQL major version of the Cloud SQL instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
pub enum PostgresVersion {
    #[serde(rename = "POSTGRES_13")]
    Postgres13,
    #[serde(rename = "POSTGRES_14")]
    Postgres14,
    #[serde(rename = "POSTGRES_15")]
    Postgres15,
    #[serde(rename = "POSTGRES_16")]
    Postgres16,
    #[serde(rename = "POSTGRES_17")]
    Postgres17,
    #[serde(rename = "POSTGRES_18")]
    Postgres18,
}

/// How the server authenticates to PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DatabaseAuth {
    /// A built-in Cloud SQL user with a generated password.
    Password,
    /// Cloud SQL IAM database authentication (`--auto-iam-authn`).
    Iam,
}

/// The `[registry]` table.
#[derive(Debug, Default, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Registry {
    /// `artifact-registry` (default) or `gcr` (Container Registry: legacy, shut down for
    /// new use).
    pub kind: Field<RegistryKind>,
    /// Artifact Registry repository id. Default `mlflow`.
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z][a-z0-9-]*[a-z0-9]$")
    )]
    pub repository: Field<String>,
    /// A full image reference to run as is, e.g.
    /// `europe-west3-docker.pkg.dev/acme/tools/mlflow:3.17.2`; `infra.sh` then builds nothing
    /// and the bundle has no `image/`. A tag naming another MLflow release than
    /// `server.mlflow_version` is a warning.
    pub image: Field<String>,
}

/// The kind of image registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RegistryKind {
    /// Artifact Registry: `REGION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE:TAG`.
    ArtifactRegistry,
    /// Container Registry: `gcr.io/PROJECT/IMAGE:TAG` (legacy).
    Gcr,
}

/// The `[expose]` table.
#[derive(Debug, Default, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Expose {
    /// How the server is reached: `cluster-ip` (default: `kubectl port-forward`, or an
    /// ingress of your own), `load-balancer` (a cloud or Docker Desktop load balancer, plain
    /// HTTP) or `gateway` (`gke` only: HTTPS on `host` through a GKE Gateway with a
    /// Google-managed certificate). A `load-balancer` or `gateway` needs an `[auth]` table.
    #[serde(rename = "type")]
    pub kind: Field<ExposeType>,
    /// Service port. Default 8080.
    #[schemars(range(min = 1, max = 65535))]
    pub port: Field<i64>,
    /// Reserve a regional static IP address for the load balancer (`gke` only).
    pub static_ip: Field<bool>,
    /// Source CIDRs allowed to reach the server, e.g. `["203.0.113.0/24"]`. A load
    /// balancer admits only them (`loadBalancerSourceRanges`; required on `gke`,
    /// `["0.0.0.0/0"]` opens it to the world). An external gateway gets a Cloud Armor
    /// security policy that admits them and answers everyone else 403; at most 100 ranges.
    pub allow: Field<Vec<Spanned<String>>>,
    /// Cloud Armor's preconfigured WAF rules on an external gateway, by Cloud Armor's
    /// names, e.g. `["sqli-v422-stable", "xss-v422-stable"]`: a request one of them matches
    /// (at sensitivity 1, the fewest false positives) is answered 403, before `allow` and
    /// `rate_limit` are looked at. Each of `sqli`, `xss`, `lfi`, `rfi`, `rce`,
    /// `methodenforcement`, `scannerdetection`, `protocolattack`, `php`, `sessionfixation`,
    /// `java` and `nodejs`, as `-v33-stable`, `-v33-canary`, `-v422-stable` or
    /// `-v422-canary`.
    pub waf: Field<Vec<Spanned<String>>>,
    /// Requests per minute each client IP address may send through an external gateway
    /// (a Cloud Armor throttle rule); above it, 429. 1 to 100000.
    #[schemars(range(min = 1, max = 100_000))]
    pub rate_limit: Field<i64>,
    /// The DNS name clients use with `type = "gateway"`, e.g. `mlflow.acme.example`: the
    /// Google-managed certificate is issued for it and MLflow accepts it as a `Host`. A
    /// name you can add DNS records to, not an IP address or a wildcard. Required with
    /// `gateway`.
    #[schemars(length(min = 4, max = 253))]
    pub host: Field<String>,
    /// Who can reach the gateway: `external` (the internet, through a global external
    /// Application Load Balancer; default) or `internal` (the VPC, through a regional
    /// internal Application Load Balancer). `gateway` only.
    pub scope: Field<ExposeScope>,
    /// The range of the proxy-only subnet (purpose `REGIONAL_MANAGED_PROXY`) in the
    /// cluster's region and VPC, e.g. `10.129.0.0/23`: the internal load balancer's proxies
    /// reach the server from it, so the NetworkPolicy admits it. Required with
    /// `scope = "internal"`; the subnet must exist.
    pub proxy_subnet: Field<String>,
    /// Let clients in other regions of the VPC reach an internal gateway (its load
    /// balancer's global access; `allowGlobalAccess` of its `GCPGatewayPolicy`). Default
    /// `false`: only clients in the cluster's region. `scope = "internal"` only.
    pub global_access: Field<bool>,
}

/// How the server is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ExposeType {
    /// A cluster-internal Service.
    ClusterIp,
    /// A cloud load balancer.
    LoadBalancer,
    /// A GKE Gateway: HTTPS on a DNS name with a Google-managed certificate.
    Gateway,
}

/// Where a gateway is reachable from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ExposeScope {
    /// The internet: `gke-l7-global-external-managed`, a global address.
    External,
    /// The VPC: `gke-l7-rilb`, a regional internal address.
    Internal,
}

/// The `[auth]` table.
#[derive(Debug, Default, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Auth {
    /// How users sign in: `basic` (MLflow's own users and permissions, HTTP basic auth;
    /// the admin password is generated by `infra.sh`), `iap` (Identity-Aware Proxy in front
    /// of a `gateway`: Google accounts listed in `members`) or `none` (no sign-in at all:
    /// anyone who reaches the server can read, change and delete every experiment).
    #[schemars(required)]
    pub kind: Field<AuthKind>,
    /// `basic` and `iap`: the permission every user has on experiments and models they did
    /// not create, `READ`, `EDIT`, `MANAGE` or `NO_PERMISSIONS`. Default `READ`.
    pub default_permission: Field<Permission>,
    /// `iap` only: who may sign in, each an IAM principal: `user:EMAIL`, `group:EMAIL`,
    /// `serviceAccount:EMAIL` or `domain:DOMAIN`. `infra.sh` grants each one
    /// `roles/iap.httpsResourceAccessor` (passing through IAP) and nothing else. Required
    /// with `iap`.
    pub members: Field<Vec<Spanned<String>>>,
    /// `iap` only: the MLflow admins, each a single signed-in identity: `user:EMAIL` or
    /// `serviceAccount:EMAIL` (a group or a domain is no MLflow user). Every other member is
    /// an MLflow user with `default_permission` on what others made.
    pub admins: Field<Vec<Spanned<String>>>,
    /// `iap` only: the ID of the OAuth client IAP signs users in with
    /// (`NUMBER-ID.apps.googleusercontent.com`), created by an administrator in the Google
    /// Cloud console; its secret goes into Secret Manager, never into the stack file.
    /// Required with `iap`.
    pub oauth_client_id: Field<String>,
}

/// How users sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AuthKind {
    /// No sign-in (on purpose; a warning).
    None,
    /// MLflow's basic-auth app.
    Basic,
    /// Identity-Aware Proxy on the gateway.
    Iap,
}

/// An MLflow basic-auth permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
pub enum Permission {
    #[serde(rename = "READ")]
    Read,
    #[serde(rename = "EDIT")]
    Edit,
    #[serde(rename = "MANAGE")]
    Manage,
    #[serde(rename = "NO_PERMISSIONS")]
    NoPermissions,
}

/// The `[cluster]` table: the GKE cluster (`gke`), or the kubectl context (`local`).
#[derive(Debug, Default, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Cluster {
    /// GKE cluster name (1 to 40 characters). Default `<name>`.
    #[schemars(
        length(min = 1, max = 40),
        regex(pattern = r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
    )]
    pub name: Field<String>,
    /// Where the cluster is: a region (a regional cluster) or a zone such as
    /// `europe-west3-a` (a zonal cluster). Default `region`.
    pub location: Field<String>,
    /// Create the cluster when it does not exist: GKE Autopilot in a region, a Standard
    /// cluster in a zone. Default false.
    pub create: Field<bool>,
    /// `local` only: the kubectl context of the cluster MLflow runs on, named in every
    /// kubectl call of `infra.sh`. Default: the context `apply` used first (it records it),
    /// else the current one.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[A-Za-z0-9._:@/+%~*\[\]-]+$")
    )]
    pub context: Field<String>,
}

/// The `[gc]` table.
#[derive(Debug, Default, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Gc {
    /// When `mlflow gc` runs: a Kubernetes CronJob schedule of five fields (minute, hour,
    /// day of month, month, day of week) or a macro such as `@daily`, in UTC. Default
    /// `0 3 * * *`.
    pub schedule: Field<String>,
    /// How long something stays deleted before `mlflow gc` removes it for good: MLflow's
    /// `--older-than`, days, hours, minutes and seconds in that order, e.g. `30d` or
    /// `1d12h`. Default `30d`.
    #[schemars(regex(pattern = r"^([0-9.]+d)?([0-9.]+h)?([0-9.]+m)?([0-9.]+s)?$"))]
    pub older_than: Field<String>,
}

/// The `[credentials]` table (`local` only).
#[derive(Debug, Default, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Credentials {
    /// Directory for the service account key files, relative to the top of the git work
    /// tree that holds the bundle (the bundle's parent directory without git), whichever
    /// directory `infra.sh` runs from; `infra.sh` creates it with a `.gitignore` and checks
    /// with `git check-ignore` that keys are never committed. A relative path without `.`,
    /// `..` or empty components. Default `.mlflow_credentials`.
    #[schemars(regex(pattern = r"^[A-Za-z0-9._/-]+$"))]
    pub dir: Field<String>,
}

/// The `[encryption]` table.
#[derive(Debug, Default, Clone, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Encryption {
    /// A Cloud KMS key, `projects/PROJECT/locations/REGION/keyRings/RING/cryptoKeys/KEY`, in
    /// the stack's `region` (Cloud SQL and a regional bucket take only a key of their own
    /// region): the default key of the bucket and the disk encryption key of the Cloud SQL
    /// instance. `infra.sh` grants the Cloud SQL and Cloud Storage service agents
    /// `roles/cloudkms.cryptoKeyEncrypterDecrypter` on this key only. An instance's key is
    /// set when it is created and cannot change; the bucket's applies to new objects.
    #[schemars(regex(
        pattern = r"^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$"
    ))]
    pub kms_key: Field<String>,
}

/// An enum written as a string in the stack file: its spellings, for parsing, messages
/// and "did you mean".
pub trait Choice: Copy + Sized + 'static {
    /// Every spelling and the value it stands for.
    const ALL: &'static [(&'static str, Self)];

    fn as_str(self) -> &'static str
    where
        Self: PartialEq,
    {
        Self::ALL
            .iter()
            .find(|(_, value)| *value == self)
            .map_or("", |(name, _)| name)
    }

    #[must_use]
    fn from_str(input: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(name, _)| *name == input)
            .map(|&(_, value)| value)
    }

    #[must_use]
    fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|(name, _)| *name).collect()
    }
}

impl Choice for Environment {
    const ALL: &'static [(&'static str, Self)] = &[("gke", Self::Gke), ("local", Self::Local)];
}

impl Choice for PostgresVersion {
    const ALL: &'static [(&'static str, Self)] = &[
        ("POSTGRES_13", Self::Postgres13),
        ("POSTGRES_14", Self::Postgres14),
        ("POSTGRES_15", Self::Postgres15),
        ("POSTGRES_16", Self::Postgres16),
        ("POSTGRES_17", Self::Postgres17),
        ("POSTGRES_18", Self::Postgres18),
    ];
}

impl Choice for DatabaseAuth {
    const ALL: &'static [(&'static str, Self)] =
        &[("password", Self::Password), ("iam", Self::Iam)];
}

impl Choice for DatabaseIp {
    const ALL: &'static [(&'static str, Self)] =
        &[("public", Self::Public), ("private", Self::Private)];
}

impl Choice for RegistryKind {
    const ALL: &'static [(&'static str, Self)] = &[
        ("artifact-registry", Self::ArtifactRegistry),
        ("gcr", Self::Gcr),
    ];
}

impl Choice for ExposeType {
    const ALL: &'static [(&'static str, Self)] = &[
        ("cluster-ip", Self::ClusterIp),
        ("load-balancer", Self::LoadBalancer),
        ("gateway", Self::Gateway),
    ];
}

impl Choice for ExposeScope {
    const ALL: &'static [(&'static str, Self)] =
        &[("external", Self::External), ("internal", Self::Internal)];
}

impl Choice for AuthKind {
    const ALL: &'static [(&'static str, Self)] = &[
        ("none", Self::None),
        ("basic", Self::Basic),
        ("iap", Self::Iap),
    ];
}

impl Choice for Permission {
    const ALL: &'static [(&'static str, Self)] = &[
        ("READ", Self::Read),
        ("EDIT", Self::Edit),
        ("MANAGE", Self::Manage),
        ("NO_PERMISSIONS", Self::NoPermissions),
    ];
}
