//! The checked model: what validation hands to planning. Every field holds a validated
//! newtype or an enum, and every default is resolved, so no unvalidated value can reach
//! the output: the newtypes can only be built by the rules in [`crate::validate`].

pub use crate::names::{DnsLabel, InstanceId};
pub use crate::raw::{
    AuthKind, DatabaseAuth, DatabaseIp, Environment, ExposeScope, ExposeType, Permission,
    PostgresVersion, RegistryKind,
};
pub use crate::validate::armor::WafRule;
pub use crate::validate::auth::{Member, OAuthClientId};
pub use crate::validate::encryption::KmsKey;
pub use crate::validate::expose::HostName;
pub use crate::validate::gc::{CronSchedule, OlderThan};
pub use crate::validate::gcp::{
    BucketName, Cidr, ClusterLocation, ClusterName, ProjectId, Region, RepositoryId, Tier,
};
pub use crate::validate::image::{ImageRef, ImageTag, MlflowVersion};
pub use crate::validate::k8s::{DirPath, HostPattern, Quantity, SqlIdent};
pub use crate::validate::packages::Package;

/// One validated stack.
#[derive(Debug, Clone)]
pub struct Stack {
    pub project: ProjectId,
    pub region: Region,
    pub bucket: BucketName,
    pub tag: ImageTag,
    pub environment: Environment,
    pub name: DnsLabel,
    pub namespace: DnsLabel,
    /// Whether the bundle creates (and `kubectl delete -k` deletes) the namespace: false for
    /// `default` and a namespace marked `namespace_shared`.
    pub owns_namespace: bool,
    pub server: Server,
    pub database: Database,
    pub registry: Registry,
    pub expose: Expose,
    pub auth: Auth,
    /// `gke` only.
    pub cluster: Option<Cluster>,
    /// `local` only: `cluster.context`, the kubectl context every kubectl call names.
    pub kube_context: Option<String>,
    /// `local` only.
    pub credentials: Option<Credentials>,
    /// Garbage collection of deleted runs, when the stack has a `[gc]` table.
    pub gc: Option<Gc>,
    /// The customer-managed key of the data at rest, when the stack has an `[encryption]`
    /// table.
    pub encryption: Option<Encryption>,
}

/// Customer-managed encryption: the bucket's default key and the Cloud SQL instance's disk
/// key, in the stack's region.
#[derive(Debug, Clone)]
pub struct Encryption {
    pub kms_key: KmsKey,
}

/// `mlflow gc` on a schedule.
#[derive(Debug, Clone)]
pub struct Gc {
    pub schedule: CronSchedule,
    pub older_than: OlderThan,
}

#[derive(Debug, Clone)]
pub struct Server {
    pub mlflow_version: MlflowVersion,
    pub replicas: u32,
    /// The autoscaler's maximum, above `replicas`; `None` without an autoscaler.
    pub max_replicas: Option<u32>,
    pub workers: u32,
    pub cpu: Quantity,
    pub memory: Quantity,
    /// Size of `/tmp` (its `emptyDir`'s `sizeLimit`, and the ephemeral storage requested).
    pub tmp_size: Quantity,
    pub serve_artifacts: bool,
    pub allowed_hosts: Vec<HostPattern>,
    /// Prometheus metrics at `/metrics`.
    pub metrics: bool,
    /// Extra pip requirements of the image, exactly pinned.
    pub packages: Vec<Package>,
    /// SQLAlchemy pool of each engine: connections kept, and opened beyond under load.
    pub pool_size: u32,
    pub max_overflow: u32,
}

#[derive(Debug, Clone)]
pub struct Database {
    pub instance: InstanceId,
    pub version: PostgresVersion,
    pub tier: Tier,
    pub high_availability: bool,
    pub storage_gb: u32,
    pub database: SqlIdent,
    /// How the server logs in: a built-in user with a password, or its service account.
    pub login: DatabaseLogin,
    /// A public IP, or a private one only on the cluster's network (`gke` only).
    pub ip: DatabaseIp,
    /// `infra.sh` makes the private services access connection the private IP needs, when
    /// the cluster's network has none (`ip = "private"` only).
    pub create_peering: bool,
}

/// The database login of the server.
#[derive(Debug, Clone)]
pub enum DatabaseLogin {
    /// A built-in user; the password lives in Secret Manager and a Kubernetes Secret.
    Password { user: SqlIdent },
    /// Cloud SQL IAM authentication of the server's Google service account.
    Iam,
}

/// Where the server image comes from.
#[derive(Debug, Clone)]
pub enum Registry {
    /// `infra.sh` builds the image into a registry of the project.
    Build {
        kind: RegistryKind,
        repository: RepositoryId,
    },
    /// A given image, run as is.
    Image(ImageRef),
}

#[derive(Debug, Clone)]
pub struct Expose {
    pub kind: ExposeType,
    pub port: u16,
    pub static_ip: bool,
    pub allow: Vec<Cidr>,
    /// Set exactly when `kind` is [`ExposeType::Gateway`].
    pub gateway: Option<Gateway>,
}

impl Expose {
    /// Whether clients outside the cluster can reach the server.
    #[must_use]
    pub fn reachable(&self) -> bool {
        self.kind != ExposeType::ClusterIp
    }
}

/// A GKE Gateway serving HTTPS on `host`.
#[derive(Debug, Clone)]
pub struct Gateway {
    pub host: HostName,
    pub scope: ExposeScope,
    /// The proxy-only subnet an internal gateway's proxies send from; set exactly when
    /// `scope` is [`ExposeScope::Internal`].
    pub proxy_subnet: Option<Cidr>,
    /// Clients in other regions reach an internal gateway (never for an external one).
    pub global_access: bool,
    /// Cloud Armor's preconfigured WAF rules (external only; with `Expose::allow` and
    /// `rate_limit`, the gateway's security policy).
    pub waf: Vec<WafRule>,
    /// Requests per minute per client IP address (external only).
    pub rate_limit: Option<u32>,
}

/// Who may use the server.
#[derive(Debug, Clone)]
pub enum Auth {
    /// No sign-in: a cluster-internal Service, or `kind = "none"` written on purpose.
    None,
    /// MLflow's basic-auth app.
    Basic { default_permission: Permission },
    /// Identity-Aware Proxy on the gateway, and MLflow's basic-auth app behind it whose
    /// users are the identities IAP signed in; `members` is never empty.
    Iap {
        members: Vec<Member>,
        /// MLflow admins: `user:` and `serviceAccount:` principals only.
        admins: Vec<Member>,
        default_permission: Permission,
        oauth_client_id: OAuthClientId,
    },
}

impl Auth {
    /// Whether MLflow's basic-auth app runs, with its user store: with `basic`, and behind
    /// IAP (its users are the identities IAP signed in).
    #[must_use]
    pub fn user_store(&self) -> bool {
        matches!(self, Self::Basic { .. } | Self::Iap { .. })
    }
}

#[derive(Debug, Clone)]
pub struct Cluster {
    pub name: ClusterName,
    /// The region or zone of the cluster; the stack's region unless `cluster.location`.
    pub location: ClusterLocation,
    pub create: bool,
}

#[derive(Debug, Clone)]
pub struct Credentials {
    pub dir: DirPath,
}
