//! Stage 3: [`model::Stack`] → [`Plan`].
//!
//! Derives every name, label, email, connection name, URI, image reference and infra step
//! exactly once; emitters read them from here and never format a name themselves. The
//! naming functions live in [`crate::names`], which validation calls too.

pub mod armor;
pub mod auth;
pub mod encryption;
pub mod gateway;
pub mod ingress;
pub mod network;
pub mod org_policy;
pub mod roles;
pub mod steps;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use sha2::{Digest, Sha256};

use auth::AuthPlan;
use encryption::{ENCRYPTER_DECRYPTER, EncryptionPlan};
use gateway::GatewayPlan;
use ingress::{Exposure, IngressPlan};
use steps::{Facts as StepFacts, Step};

use crate::model::{
    DatabaseLogin, Environment, ExposeType, HostPattern, ImageRef, Package, Registry, RegistryKind,
    Stack,
};
use crate::names;

/// The Cloud SQL Auth Proxy image the pod runs as a native sidecar.
pub const PROXY_IMAGE: &str = "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.25.3";
/// The port MLflow listens on inside the pod.
pub const SERVER_PORT: u16 = 5000;
/// The port of the proxy's health endpoints (`/startup`, `/liveness`).
pub const PROXY_HEALTH_PORT: u16 = 9090;
/// Where PostgreSQL is reached inside the pod: the proxy's listener.
pub const DB_HOST: &str = "127.0.0.1";
pub const DB_PORT: u16 = 5432;
/// The uid the server image runs as; the pod's `fsGroup` matches it.
pub const SERVER_UID: i64 = 10001;
/// Where the key file of the server's service account is mounted (local only).
pub const KEY_DIR: &str = "/var/run/secrets/google";
pub const KEY_FILE: &str = "key.json";

/// uvicorn's keep-alive behind a Google load balancer. Google's Application Load Balancers
/// keep idle connections to a backend open for up to 600 s and require the backend's
/// keep-alive to be longer (https://cloud.google.com/load-balancing/docs/https#timeouts_and_retries);
/// uvicorn's default, 5 s, has the backend close connections the load balancer is about to
/// reuse, which clients see as intermittent 502s. 650 s outlasts 600 s with a margin.
pub const KEEP_ALIVE_SECONDS: u32 = 650;

/// Everything the emitters need, derived once, by concern. The templates see every part's
/// fields as their own (`{{ bucket }}`, `{{ instance }}`): each part is flattened into the
/// template context, so no two parts share a field name.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    #[serde(flatten)]
    pub names: Names,
    #[serde(flatten)]
    pub identity: Identity,
    #[serde(flatten)]
    pub database: DatabasePlan,
    #[serde(flatten)]
    pub image: ImagePlan,
    #[serde(flatten)]
    pub server: ServerPlan,
    #[serde(flatten)]
    pub exposure: ExposurePlan,
    #[serde(flatten)]
    pub cluster: ClusterPlan,
    /// Who may use the server.
    pub auth: AuthPlan,
    /// The GKE Gateway (`expose.type = "gateway"`).
    pub gateway: Option<GatewayPlan>,
    /// The customer-managed key of the bucket and the instance (`[encryption]`).
    pub encryption: Option<EncryptionPlan>,
    /// How the Cloud SQL instance is reached (public or private IP).
    pub network: network::NetworkPlan,
    /// The organization policy constraints the preflight reads.
    pub org_policy: org_policy::OrgPolicyPlan,
    /// `mlflow gc` on a schedule, when the stack has a `[gc]` table.
    pub gc: Option<GcPlan>,
    #[serde(flatten)]
    pub infra: InfraPlan,
}

/// The stack and the names of its Kubernetes objects.
#[derive(Debug, Clone, Serialize)]
pub struct Names {
    pub stack_name: String,
    /// The stack's identity: `NAME-` and a digest of the project, the name and the bucket,
    /// none of which changes without making another stack. Every mark and the record carry
    /// it, so that two stack files in one project that share a `name` never take each
    /// other's resources for their own.
    pub stack_id: String,
    pub project: String,
    pub region: String,
    pub bucket: String,
    pub namespace: String,
    /// Whether the bundle holds the Namespace object (not for `default` or a shared one).
    pub owns_namespace: bool,
    /// `app.kubernetes.io/*` labels of every object.
    pub labels: BTreeMap<String, String>,
    /// The stable subset that selects the server's pods.
    pub selector: BTreeMap<String, String>,
    pub workload: String,
    pub config_map: String,
    /// The Secret in which `kubectl apply --prune --applyset` records what it applied,
    /// so that the next apply deletes what the bundle no longer has.
    pub applyset: String,
    pub db_secret: Option<String>,
    pub key_secret: Option<String>,
    pub pull_secret: Option<String>,
    /// Every Secret `infra.sh` creates in the namespace.
    pub k8s_secrets: Vec<String>,
    /// Secret Manager secret whose labels record what `infra.sh` created that takes no
    /// labels itself (the database and its user).
    pub record_secret: String,
}

/// The Google service accounts of the stack.
#[derive(Debug, Clone, Serialize)]
pub struct Identity {
    pub server_account: String,
    pub server_email: String,
    pub puller_account: Option<String>,
    pub puller_email: Option<String>,
    /// The service account Cloud Build runs as when `infra.sh` builds the image: it reads
    /// the staged source and writes the build's logs in the bucket, and pushes the image.
    pub builder_account: Option<String>,
    pub builder_email: Option<String>,
    /// `PROJECT.svc.id.goog[NAMESPACE/KSA]`, the Workload Identity member (gke).
    pub workload_identity_member: Option<String>,
}

/// The Cloud SQL instance, the database and how the server logs in to it.
#[derive(Debug, Clone, Serialize)]
pub struct DatabasePlan {
    pub instance: String,
    pub connection_name: String,
    pub database_version: &'static str,
    pub tier: String,
    pub high_availability: bool,
    pub storage_gb: u32,
    pub database: String,
    pub iam_auth: bool,
    /// The database user as PostgreSQL knows it.
    pub db_user: String,
    /// The database user as written in a URI (`@` as `%40`).
    pub db_user_uri: String,
    /// Secret Manager secret holding the generated database password (password auth).
    pub password_secret: Option<String>,
    /// The server's IAM database user and the password secret, whichever `database.auth`
    /// is: a stack that switched keeps the other login until `destroy`.
    pub iam_db_user: String,
    pub any_password_secret: String,
    /// The IAM condition (`gcloud --condition` form) limiting the Cloud SQL roles of the
    /// server's service account to this stack's instance, and its title.
    pub sql_condition: String,
    pub sql_condition_title: String,
    pub backend_store_uri: String,
}

/// The server's image and where it comes from.
#[derive(Debug, Clone, Serialize)]
pub struct ImagePlan {
    pub image: String,
    /// The image is built by `infra.sh` (false when `registry.image` is given).
    pub build_image: bool,
    /// The registry package (image name without host, path and tag) `infra.sh` builds.
    pub image_package: String,
    /// `tag` as a label value: lowercase, `.` and `+` written `_`.
    pub image_tag_label: String,
    pub registry_kind: &'static str,
    pub repository: Option<String>,
    /// Registry host for `docker-registry` pull secrets (local, Google registries only).
    pub registry_host: Option<String>,
    pub tag: String,
}

/// The MLflow server: its version, pods, resources and what it accepts.
#[derive(Debug, Clone, Serialize)]
pub struct ServerPlan {
    pub mlflow_version: String,
    /// `mlflow_version` as a label value (labels take no dots).
    pub mlflow_version_label: String,
    pub artifact_uri: String,
    pub serve_artifacts: bool,
    pub replicas: u32,
    /// The most pods: the autoscaler's maximum, or `replicas` without one.
    pub max_replicas: u32,
    /// A HorizontalPodAutoscaler scales the Deployment between the two.
    pub autoscale: bool,
    pub workers: u32,
    /// Prometheus metrics at `/metrics`; scraped by a PodMonitoring on gke.
    pub metrics: bool,
    /// Extra requirements of the image (`server.packages`), as written in requirements.txt.
    pub packages: Vec<Package>,
    /// SQLAlchemy pool of each of the server's engines (MLflow's environment variables).
    pub pool_size: u32,
    pub max_overflow: u32,
    pub cpu: String,
    pub memory: String,
    pub allowed_hosts: Vec<String>,
    /// The origins MLflow's CORS guard admits for state-changing API calls
    /// (`--cors-allowed-origins`): the names clients use through the stack's exposure, with
    /// scheme and port. Browsers send `Origin` on every POST, same-origin ones included,
    /// and MLflow refuses any but localhost's and these.
    pub cors_origins: Vec<String>,
    /// uvicorn's keep-alive, in seconds, when a Google load balancer holds connections to
    /// the server: it must outlast the load balancer's (see [`KEEP_ALIVE_SECONDS`]).
    pub keep_alive_seconds: Option<u32>,
    /// Size of the server's `/tmp`: its `emptyDir`'s `sizeLimit`, and the ephemeral storage
    /// the server container requests.
    pub tmp_size: String,
    /// The `Host` names the stack adds (`server.allowed_hosts`).
    pub extra_allowed_hosts: Vec<String>,
    pub proxy_image: &'static str,
}

/// How the server is reached: its Service, and what its NetworkPolicy admits.
#[derive(Debug, Clone, Serialize)]
pub struct ExposurePlan {
    pub service_type: &'static str,
    pub load_balancer: bool,
    pub port: u16,
    pub static_ip: Option<String>,
    pub allow: Vec<String>,
    /// Where the server's port is reached from: what the NetworkPolicy admits.
    pub ingress: IngressPlan,
}

/// Where the server runs.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterPlan {
    /// The templates see `environment` (`gke` or `local`) and the booleans `gke` and
    /// `local`.
    #[serde(flatten, serialize_with = "environment_facts")]
    pub environment: Environment,
    pub cluster: Option<String>,
    /// The cluster's region or zone (`cluster.location`, else the stack's region).
    pub cluster_location: Option<String>,
    /// Whether the cluster is zonal: `create` makes a Standard cluster, not Autopilot.
    pub zonal_cluster: bool,
    pub create_cluster: bool,
    pub credentials_dir: Option<String>,
    /// The kubectl context of a local stack (`cluster.context`), when given.
    pub kube_context: Option<String>,
}

/// What `infra.sh` does in the project.
#[derive(Debug, Clone, Serialize)]
pub struct InfraPlan {
    /// Google APIs `infra.sh` enables.
    pub services: Vec<&'static str>,
    /// `infra.sh apply` steps, in order.
    pub steps: Vec<Step>,
    /// Every IAM binding `infra.sh apply` grants.
    pub bindings: Vec<Binding>,
}

impl ClusterPlan {
    /// Whether the server runs on GKE.
    #[must_use]
    pub fn gke(&self) -> bool {
        self.environment == Environment::Gke
    }

    /// Whether the server runs on a local cluster.
    #[must_use]
    pub fn local(&self) -> bool {
        self.environment == Environment::Local
    }
}

/// The environment as the templates read it: `environment` (`gke` or `local`), and the
/// booleans `gke` and `local`.
#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `serialize_with` passes a reference
fn environment_facts<S: serde::Serializer>(
    environment: &Environment,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap as _;
    let gke = *environment == Environment::Gke;
    let mut map = serializer.serialize_map(Some(3))?;
    map.serialize_entry("environment", if gke { "gke" } else { "local" })?;
    map.serialize_entry("gke", &gke)?;
    map.serialize_entry("local", &!gke)?;
    map.end()
}

/// An IAM binding `infra.sh` grants: the record keeps the key of each one it granted (with
/// the value), so that `apply` revokes the ones the stack no longer lists and `destroy`
/// every one, and never one that existed before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Binding {
    /// `binding-` and a digest of the value: the record's annotation key.
    pub key: String,
    /// The step that grants it.
    pub step: Step,
    /// `TARGET|ROLE|MEMBER|TITLE|CONDITION`: the policy (`project:ID`, `bucket:NAME`,
    /// `service-account:EMAIL`, `repository:LOCATION/NAME`, `iap-web:PROJECT`), the role,
    /// the member, the condition's title and gcloud's `--condition` value (empty: no flag).
    pub value: String,
}

impl Binding {
    fn new(step: Step, fields: [&str; 5]) -> Self {
        debug_assert!(fields.iter().all(|field| !field.contains('|')));
        let value = fields.join("|");
        Self {
            key: format!("binding-{}", hex_digest(&value, 8)),
            step,
            value,
        }
    }
}

/// The identity of the stack PROJECT/NAME whose artifacts live in BUCKET: a label value
/// (lowercase letters, digits and `-`, at most 63 characters).
#[must_use]
pub fn stack_id(project: &str, name: &str, bucket: &str) -> String {
    let digest = hex_digest(&format!("{project}\n{name}\n{bucket}"), 5);
    format!("{name}-{digest}")
}

/// The first BYTES bytes of TEXT's SHA-256, in lowercase hex.
fn hex_digest(text: &str, bytes: usize) -> String {
    Sha256::digest(text.as_bytes())[..bytes]
        .iter()
        .fold(String::new(), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

impl Plan {
    #[must_use]
    pub fn new(stack: &Stack) -> Self {
        let image = ImagePlan::new(stack);
        let names = Names::new(stack, &image);
        let identity = Identity::new(stack, &names, &image);
        let database = DatabasePlan::new(stack, &identity);
        let gateway = stack.expose.gateway.as_ref().map(|gateway| {
            let cluster_region = stack
                .cluster
                .as_ref()
                .map_or(stack.region.as_str(), |c| c.location.region());
            let mut plan = GatewayPlan::new(
                gateway,
                &stack.auth,
                &stack.name,
                &names.workload,
                cluster_region,
            );
            plan.armor = armor::ArmorPlan::new(&stack.expose, &stack.name);
            plan
        });
        let exposure = ExposurePlan::new(stack);
        let server = ServerPlan::new(stack, &names, gateway.as_ref(), &exposure);
        let auth = AuthPlan::new(
            &stack.auth,
            &stack.name,
            stack.database.database.as_str(),
            &database.db_user_uri,
        );
        let gc = stack.gc.as_ref().map(|gc| GcPlan::new(gc, stack, &names));
        let encryption = stack.encryption.as_ref().map(EncryptionPlan::new);
        let infra = InfraPlan::new(&InfraFacts {
            stack,
            names: &names,
            identity: &identity,
            database: &database,
            image: &image,
            exposure: &exposure,
            auth: &auth,
            gateway: gateway.as_ref(),
            encryption: encryption.as_ref(),
        });
        Self {
            names,
            identity,
            database,
            image,
            server,
            exposure,
            cluster: ClusterPlan::new(stack),
            auth,
            gateway,
            encryption,
            network: network::NetworkPlan::new(stack),
            org_policy: org_policy::OrgPolicyPlan::new(stack),
            gc,
            infra,
        }
    }
}

impl ImagePlan {
    fn new(stack: &Stack) -> Self {
        let project = stack.project.as_str();
        let region = stack.region.as_str();
        let workload = names::workload(&stack.name);
        let (image, build_image, registry_kind, repository) = match &stack.registry {
            Registry::Image(image) => (image.to_string(), false, "image", None),
            Registry::Build {
                kind: RegistryKind::ArtifactRegistry,
                repository,
            } => (
                format!(
                    "{region}-docker.pkg.dev/{project}/{repository}/{workload}:{}",
                    stack.tag
                ),
                true,
                "artifact-registry",
                Some(repository.to_string()),
            ),
            Registry::Build {
                kind: RegistryKind::Gcr,
                ..
            } => (
                format!("gcr.io/{project}/{workload}:{}", stack.tag),
                true,
                "gcr",
                None,
            ),
        };
        let google_registry = ImageRef::derived(image.clone())
            .host()
            .filter(|host| {
                host.ends_with("-docker.pkg.dev") || *host == "gcr.io" || host.ends_with(".gcr.io")
            })
            .map(str::to_owned);
        Self {
            image,
            build_image,
            image_package: workload,
            image_tag_label: label_value(&stack.tag.to_string()),
            registry_kind,
            repository,
            registry_host: google_registry.filter(|_| stack.environment == Environment::Local),
            tag: stack.tag.to_string(),
        }
    }
}

/// `tag` as a label value: lowercase, `.` and `+` written `_`, at most 63 characters.
fn label_value(tag: &str) -> String {
    tag.to_lowercase()
        .replace(['.', '+'], "_")
        .chars()
        .take(63)
        .collect()
}

impl Names {
    fn new(stack: &Stack, image: &ImagePlan) -> Self {
        let name = &stack.name;
        let mut labels = BTreeMap::new();
        labels.insert("app.kubernetes.io/name".into(), "mlflow".into());
        labels.insert("app.kubernetes.io/instance".into(), name.to_string());
        labels.insert(
            "app.kubernetes.io/component".into(),
            "tracking-server".into(),
        );
        let selector = labels.clone();
        labels.insert("app.kubernetes.io/part-of".into(), "mlflow".into());
        labels.insert("app.kubernetes.io/managed-by".into(), "mlflow-stack".into());
        labels.insert(
            "app.kubernetes.io/version".into(),
            stack.server.mlflow_version.to_string(),
        );
        let iam_auth = matches!(stack.database.login, DatabaseLogin::Iam);
        let db_secret = (!iam_auth).then(|| format!("{name}-db"));
        let key_secret =
            (stack.environment == Environment::Local).then(|| format!("{name}-gcp-key"));
        let pull_secret = image.registry_host.as_ref().map(|_| format!("{name}-pull"));
        let k8s_secrets = [&db_secret, &key_secret, &pull_secret]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        Self {
            stack_name: name.to_string(),
            stack_id: stack_id(stack.project.as_str(), name.as_str(), stack.bucket.as_str()),
            project: stack.project.to_string(),
            region: stack.region.to_string(),
            bucket: stack.bucket.to_string(),
            namespace: stack.namespace.to_string(),
            owns_namespace: stack.owns_namespace,
            labels,
            selector,
            workload: names::workload(name),
            config_map: format!("{name}-config"),
            applyset: format!("{name}-applyset"),
            db_secret,
            key_secret,
            pull_secret,
            k8s_secrets,
            record_secret: format!("{name}-infra-record"),
        }
    }
}

impl Identity {
    fn new(stack: &Stack, names: &Names, image: &ImagePlan) -> Self {
        let name = &stack.name;
        let project = &names.project;
        let email = |account: &str| format!("{account}@{project}.iam.gserviceaccount.com");
        let server_account = names::server_account(name);
        let puller_account = image
            .registry_host
            .as_ref()
            .map(|_| names::puller_account(name));
        let builder_account = image.build_image.then(|| names::builder_account(name));
        Self {
            server_email: email(&server_account),
            server_account,
            puller_email: puller_account.as_deref().map(email),
            puller_account,
            builder_email: builder_account.as_deref().map(email),
            builder_account,
            workload_identity_member: (stack.environment == Environment::Gke).then(|| {
                format!(
                    "serviceAccount:{project}.svc.id.goog[{}/{}]",
                    names.namespace, names.workload
                )
            }),
        }
    }
}

impl DatabasePlan {
    fn new(stack: &Stack, identity: &Identity) -> Self {
        let name = &stack.name;
        let project = stack.project.as_str();
        let iam_auth = matches!(stack.database.login, DatabaseLogin::Iam);
        // Cloud SQL names an IAM service account user by its email without the domain suffix.
        let iam_db_user = format!("{}@{project}.iam", identity.server_account);
        let db_user = match &stack.database.login {
            DatabaseLogin::Password { user } => user.to_string(),
            DatabaseLogin::Iam => iam_db_user.clone(),
        };
        let db_user_uri = db_user.replace('@', "%40");
        let database = stack.database.database.to_string();
        let instance = stack.database.instance.to_string();
        // Cloud SQL checks `cloudsql.instances.connect` (and `login`) on the instance, so a
        // condition on its resource name narrows both roles to it.
        let sql_condition_title = format!("mlflow-stack-{name}-cloudsql");
        let sql_condition = format!(
            "expression=resource.name == 'projects/{project}/instances/{instance}' \
             && resource.type == 'sqladmin.googleapis.com/Instance',title={sql_condition_title}"
        );
        Self {
            connection_name: format!("{project}:{}:{instance}", stack.region),
            instance,
            database_version: crate::raw::Choice::as_str(stack.database.version),
            tier: stack.database.tier.to_string(),
            high_availability: stack.database.high_availability,
            storage_gb: stack.database.storage_gb,
            backend_store_uri: format!(
                "postgresql+psycopg2://{db_user_uri}@{DB_HOST}:{DB_PORT}/{database}"
            ),
            database,
            iam_auth,
            db_user,
            db_user_uri,
            password_secret: (!iam_auth).then(|| format!("{name}-db-password")),
            iam_db_user,
            any_password_secret: format!("{name}-db-password"),
            sql_condition,
            sql_condition_title,
        }
    }
}

impl ExposurePlan {
    fn new(stack: &Stack) -> Self {
        let gke = stack.environment == Environment::Gke;
        let load_balancer = stack.expose.kind == ExposeType::LoadBalancer;
        let allow: Vec<String> = stack.expose.allow.iter().map(ToString::to_string).collect();
        let proxy_subnet = stack
            .expose
            .gateway
            .as_ref()
            .and_then(|g| g.proxy_subnet.as_ref())
            .map(ToString::to_string);
        let ingress = IngressPlan::new(&match stack.expose.kind {
            ExposeType::Gateway => match &proxy_subnet {
                Some(subnet) => Exposure::InternalGateway {
                    proxy_subnet: subnet,
                },
                None => Exposure::Gateway,
            },
            ExposeType::LoadBalancer if gke => Exposure::GkeLoadBalancer { allow: &allow },
            ExposeType::LoadBalancer => Exposure::LocalLoadBalancer,
            ExposeType::ClusterIp => Exposure::ClusterIp,
        });
        Self {
            service_type: if load_balancer {
                "LoadBalancer"
            } else {
                "ClusterIP"
            },
            load_balancer,
            port: stack.expose.port,
            static_ip: (stack.expose.static_ip && load_balancer && gke)
                .then(|| format!("{}-ip", stack.name)),
            allow,
            ingress,
        }
    }
}

impl ServerPlan {
    fn new(
        stack: &Stack,
        names: &Names,
        gateway: Option<&GatewayPlan>,
        exposure: &ExposurePlan,
    ) -> Self {
        let server = &stack.server;
        let gke = stack.environment == Environment::Gke;
        let mut extra_hosts = server.allowed_hosts.clone();
        if let Some(gateway) = gateway {
            extra_hosts.push(HostPattern::derived(gateway.host.clone()));
        }
        Self {
            mlflow_version: server.mlflow_version.to_string(),
            mlflow_version_label: server.mlflow_version.to_string().replace('.', "_"),
            artifact_uri: format!("gs://{}/artifacts", stack.bucket),
            serve_artifacts: server.serve_artifacts,
            replicas: server.replicas,
            max_replicas: server.max_replicas.unwrap_or(server.replicas),
            autoscale: server.max_replicas.is_some(),
            workers: server.workers,
            metrics: server.metrics,
            packages: server.packages.clone(),
            pool_size: server.pool_size,
            max_overflow: server.max_overflow,
            cpu: server.cpu.to_string(),
            memory: server.memory.to_string(),
            allowed_hosts: allowed_hosts(&names.workload, &names.namespace, &extra_hosts, !gke),
            cors_origins: cors_origins(
                stack.expose.kind,
                gateway,
                &server.allowed_hosts,
                exposure.port,
            ),
            keep_alive_seconds: (gateway.is_some() || (exposure.load_balancer && gke))
                .then_some(KEEP_ALIVE_SECONDS),
            tmp_size: server.tmp_size.to_string(),
            extra_allowed_hosts: server
                .allowed_hosts
                .iter()
                .map(ToString::to_string)
                .collect(),
            proxy_image: PROXY_IMAGE,
        }
    }
}

impl ClusterPlan {
    fn new(stack: &Stack) -> Self {
        let cluster = stack.cluster.as_ref();
        Self {
            environment: stack.environment,
            cluster: cluster.map(|c| c.name.to_string()),
            cluster_location: cluster.map(|c| c.location.to_string()),
            zonal_cluster: cluster.is_some_and(|c| c.location.is_zone()),
            create_cluster: cluster.is_some_and(|c| c.create),
            credentials_dir: stack.credentials.as_ref().map(|c| c.dir.to_string()),
            kube_context: stack.kube_context.clone(),
        }
    }
}

impl GcPlan {
    fn new(gc: &crate::model::Gc, stack: &Stack, names: &Names) -> Self {
        let mut labels = names.labels.clone();
        labels.insert("app.kubernetes.io/component".into(), "gc".into());
        let mut selector = names.selector.clone();
        selector.insert("app.kubernetes.io/component".into(), "gc".into());
        Self {
            name: format!("{}-gc", stack.name),
            schedule: gc.schedule.to_string(),
            older_than: gc.older_than.to_string(),
            labels,
            selector,
            server_url: stack.server.serve_artifacts.then(|| {
                format!(
                    "http://{}.{}.svc.cluster.local:{}",
                    names.workload, names.namespace, stack.expose.port
                )
            }),
        }
    }
}

/// What decides what `infra.sh` does in the project: the other parts of the plan.
struct InfraFacts<'a> {
    stack: &'a Stack,
    names: &'a Names,
    identity: &'a Identity,
    database: &'a DatabasePlan,
    image: &'a ImagePlan,
    exposure: &'a ExposurePlan,
    auth: &'a AuthPlan,
    gateway: Option<&'a GatewayPlan>,
    encryption: Option<&'a EncryptionPlan>,
}

impl InfraPlan {
    fn new(facts: &InfraFacts) -> Self {
        let InfraFacts {
            stack,
            names,
            identity,
            database,
            image,
            exposure,
            auth,
            gateway,
            encryption,
        } = *facts;
        let gke = stack.environment == Environment::Gke;
        let network = network::NetworkPlan::new(stack);
        let peering = network.peering.as_ref();
        let steps = Step::of(&StepFacts {
            gke,
            iam_auth: database.iam_auth,
            build_image: image.build_image,
            artifact_registry: image.registry_kind == "artifact-registry",
            static_ip: exposure.static_ip.is_some(),
            basic_auth: auth.basic.is_some(),
            gateway: gateway.is_some(),
            iap: gateway.is_some_and(GatewayPlan::iap),
            encryption: encryption.is_some(),
            peering: peering.is_some(),
            security_policy: gateway.is_some_and(|g| g.armor.is_some()),
        });
        let bindings = bindings(&BindingFacts {
            project: &names.project,
            bucket: &names.bucket,
            server_email: &identity.server_email,
            sql_condition: &database.sql_condition,
            sql_condition_title: &database.sql_condition_title,
            iam_auth: database.iam_auth,
            puller_email: identity.puller_email.clone(),
            repository: image
                .repository
                .as_deref()
                .map(|r| format!("{}/{r}", names.region)),
            workload_identity_member: identity.workload_identity_member.clone(),
            gateway,
            encryption,
            builder_email: identity.builder_email.clone(),
        });
        Self {
            services: services(
                image.build_image,
                gke,
                exposure.static_ip.is_some(),
                gateway,
                peering,
            ),
            steps,
            bindings,
        }
    }
}

/// The Google APIs `infra.sh` enables, sorted. Making a private database's connection
/// (`peering`) takes the Service Networking API and a Compute Engine address range
/// (https://cloud.google.com/vpc/docs/configure-private-services-access#before-you-begin).
fn services(
    build_image: bool,
    gke: bool,
    static_ip: bool,
    gateway: Option<&GatewayPlan>,
    peering: Option<&network::PeeringPlan>,
) -> Vec<&'static str> {
    let mut services = vec![
        "artifactregistry.googleapis.com",
        "iam.googleapis.com",
        "secretmanager.googleapis.com",
        "sqladmin.googleapis.com",
        "storage.googleapis.com",
    ];
    if build_image {
        services.push("cloudbuild.googleapis.com");
    }
    if gke {
        services.push("container.googleapis.com");
    }
    if peering.is_some() {
        services.push("servicenetworking.googleapis.com");
    }
    if static_ip || gateway.is_some() || peering.is_some() {
        services.push("compute.googleapis.com");
    }
    if let Some(gateway) = gateway {
        services.push("certificatemanager.googleapis.com");
        if gateway.iap() {
            services.push("iap.googleapis.com");
        }
    }
    services.sort_unstable();
    services.dedup();
    services
}

/// What decides the IAM bindings of a stack.
struct BindingFacts<'a> {
    project: &'a str,
    bucket: &'a str,
    server_email: &'a str,
    sql_condition: &'a str,
    sql_condition_title: &'a str,
    iam_auth: bool,
    puller_email: Option<String>,
    /// `LOCATION/NAME` of the Artifact Registry repository the stack builds into.
    repository: Option<String>,
    workload_identity_member: Option<String>,
    gateway: Option<&'a GatewayPlan>,
    encryption: Option<&'a EncryptionPlan>,
    /// The account Cloud Build runs as, when the stack builds its image.
    builder_email: Option<String>,
}

/// Every IAM binding a stack grants, by the step that grants it: the server's account on
/// the bucket's objects and on Cloud SQL (only this instance), the image puller's, the
/// builder's (the staged source and the build's logs in the bucket, a push to the image's
/// repository), Workload Identity's, and IAP's members for the gateway's host; first, the
/// service agents' on a customer-managed key, before the bucket and the instance they
/// encrypt with it.
fn bindings(facts: &BindingFacts) -> Vec<Binding> {
    let mut bindings = key_bindings(facts);
    bindings.extend(server_bindings(facts));
    bindings.extend(puller_bindings(facts));
    bindings.extend(builder_bindings(facts));
    bindings.extend(identity_and_iap_bindings(facts));
    bindings
}

/// The service agents' of Cloud Storage and Cloud SQL on the customer-managed key.
fn key_bindings(facts: &BindingFacts) -> Vec<Binding> {
    let Some(encryption) = facts.encryption else {
        return Vec::new();
    };
    [&encryption.storage_agent, &encryption.sql_agent]
        .into_iter()
        .map(|agent| {
            Binding::new(
                Step::EncryptionKey,
                [&encryption.target(), ENCRYPTER_DECRYPTER, agent, "", ""],
            )
        })
        .collect()
}

/// The server's: object access on the bucket, and the Cloud SQL roles on the instance.
fn server_bindings(facts: &BindingFacts) -> Vec<Binding> {
    let project = format!("project:{}", facts.project);
    let server = format!("serviceAccount:{}", facts.server_email);
    let mut bindings = vec![
        Binding::new(
            Step::Iam,
            [
                &format!("bucket:{}", facts.bucket),
                "roles/storage.objectUser",
                &server,
                "",
                "",
            ],
        ),
        Binding::new(
            Step::Iam,
            [
                &project,
                "roles/cloudsql.client",
                &server,
                facts.sql_condition_title,
                facts.sql_condition,
            ],
        ),
    ];
    if facts.iam_auth {
        bindings.push(Binding::new(
            Step::Iam,
            [
                &project,
                "roles/cloudsql.instanceUser",
                &server,
                facts.sql_condition_title,
                facts.sql_condition,
            ],
        ));
    }
    bindings
}

/// The image puller's (local, Google registry): read access on the repository.
fn puller_bindings(facts: &BindingFacts) -> Vec<Binding> {
    let project = format!("project:{}", facts.project);
    let mut bindings = Vec::new();
    if let Some(puller) = &facts.puller_email {
        let member = format!("serviceAccount:{puller}");
        bindings.push(match &facts.repository {
            Some(repository) => Binding::new(
                Step::Registry,
                [
                    &format!("repository:{repository}"),
                    "roles/artifactregistry.reader",
                    &member,
                    "",
                    "",
                ],
            ),
            None => Binding::new(
                Step::Iam,
                [
                    &project,
                    "roles/artifactregistry.reader",
                    &member,
                    "",
                    "None",
                ],
            ),
        });
    }
    bindings
}

/// The builder's: the staged source and the build's logs in the bucket, a push to the
/// image's repository.
fn builder_bindings(facts: &BindingFacts) -> Vec<Binding> {
    let project = format!("project:{}", facts.project);
    let mut bindings = Vec::new();
    if let Some(builder) = &facts.builder_email {
        let member = format!("serviceAccount:{builder}");
        let bucket = format!("bucket:{}", facts.bucket);
        for role in ["roles/storage.objectViewer", "roles/storage.objectCreator"] {
            bindings.push(Binding::new(Step::Iam, [&bucket, role, &member, "", ""]));
        }
        bindings.push(match &facts.repository {
            Some(repository) => Binding::new(
                Step::Image,
                [
                    &format!("repository:{repository}"),
                    "roles/artifactregistry.writer",
                    &member,
                    "",
                    "",
                ],
            ),
            // The project's gcr.io repository, which Artifact Registry creates on the first
            // push: no repository exists to grant on before the build.
            None => Binding::new(
                Step::Image,
                [
                    &project,
                    "roles/artifactregistry.createOnPushWriter",
                    &member,
                    "",
                    "None",
                ],
            ),
        });
    }
    bindings
}

/// Workload Identity's (gke), and IAP's members for the gateway's host.
fn identity_and_iap_bindings(facts: &BindingFacts) -> Vec<Binding> {
    let mut bindings = Vec::new();
    if let Some(member) = &facts.workload_identity_member {
        bindings.push(Binding::new(
            Step::WorkloadIdentity,
            [
                &format!("service-account:{}", facts.server_email),
                "roles/iam.workloadIdentityUser",
                member,
                "",
                "",
            ],
        ));
    }
    if let Some(gateway) = facts.gateway {
        let host = &gateway.host;
        let condition = format!("expression=request.host == \"{host}\",title={host}");
        for member in &gateway.iap_members {
            bindings.push(Binding::new(
                Step::Iap,
                [
                    &format!("iap-web:{}", facts.project),
                    "roles/iap.httpsResourceAccessor",
                    member,
                    host,
                    &condition,
                ],
            ));
        }
    }
    bindings
}

/// The garbage collector's CronJob.
#[derive(Debug, Clone, Serialize)]
pub struct GcPlan {
    pub name: String,
    pub schedule: String,
    pub older_than: String,
    /// The labels of its objects and pods: the server's, with their own component, so
    /// that no selector of the server matches them.
    pub labels: BTreeMap<String, String>,
    /// The stable subset that selects its pods (the server's NetworkPolicy admits them).
    pub selector: BTreeMap<String, String>,
    /// Where `mlflow gc` resolves `mlflow-artifacts:` URIs: the server, through its
    /// Service, when it proxies artifacts (the server then deletes them in the bucket).
    /// `None` when artifact URIs name the bucket itself.
    pub server_url: Option<String>,
}

/// The origins a browser sends when it reaches the server the way the stack exposes it:
/// `https://HOST` through a gateway (port 443, which `Origin` omits); through a load
/// balancer, `http://NAME:PORT` (`http://NAME` on port 80) for each `server.allowed_hosts`
/// entry clients outside the cluster use (a `*.` entry stays a pattern, which MLflow matches
/// with fnmatch). None for a ClusterIP Service: its clients port-forward to localhost, which
/// MLflow admits by itself. Never `*`.
fn cors_origins(
    kind: ExposeType,
    gateway: Option<&GatewayPlan>,
    hosts: &[HostPattern],
    port: u16,
) -> Vec<String> {
    let mut origins: Vec<String> = Vec::new();
    match (kind, gateway) {
        (ExposeType::Gateway, Some(gateway)) => origins.push(format!("https://{}", gateway.host)),
        (ExposeType::LoadBalancer, _) => {
            for host in hosts {
                let host = host.as_str();
                if !crate::names::reach::reaches_from_outside(host, port) {
                    continue;
                }
                let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
                let origin = if port == 80 {
                    format!("http://{name}")
                } else {
                    format!("http://{name}:{port}")
                };
                if !origins.contains(&origin) {
                    origins.push(origin);
                }
            }
        }
        _ => {}
    }
    origins
}

/// `Host` patterns (fnmatch) of the private IPv4 ranges.
const PRIVATE_RANGES: &[&str] = &[
    "10.*",
    "172.1[6-9].*",
    "172.2[0-9].*",
    "172.3[01].*",
    "192.168.*",
];

/// Every `Host` the server answers to. MLflow compares the whole header, port included,
/// exactly unless the entry has a `*`, so each name is listed bare (ports 80/443) and with
/// `:*`: port-forwards to localhost, the Service's cluster DNS names, and the user's names.
///
/// On a local cluster the private address ranges are allowed too, as MLflow does by
/// default: a kind or minikube load balancer hands out an address from them.
fn allowed_hosts(
    workload: &str,
    namespace: &str,
    extra: &[HostPattern],
    private_ranges: bool,
) -> Vec<String> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        workload.to_owned(),
        format!("{workload}.{namespace}"),
        format!("{workload}.{namespace}.svc"),
        format!("{workload}.{namespace}.svc.cluster.local"),
    ];
    names.extend(extra.iter().map(ToString::to_string));
    if private_ranges {
        names.extend(PRIVATE_RANGES.iter().map(|range| (*range).to_owned()));
    }
    let mut hosts: Vec<String> = Vec::new();
    for name in names {
        // `10.*` matches any port already; `name:8080` names its port.
        let forms = if name.contains(':') || name.ends_with('*') {
            vec![name]
        } else {
            vec![name.clone(), format!("{name}:*")]
        };
        for form in forms {
            if !hosts.contains(&form) {
                hosts.push(form);
            }
        }
    }
    hosts
}
