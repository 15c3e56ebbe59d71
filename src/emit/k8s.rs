//! The Kubernetes objects of the bundle, as typed k8s-openapi structs.

pub(super) mod auth;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMap, ConfigMapKeySelector, Container, ContainerPort, EmptyDirVolumeSource,
    EnvVar, EnvVarSource, HTTPGetAction, Lifecycle, LifecycleHandler, LocalObjectReference,
    Namespace, ObjectFieldSelector, PodSecurityContext, PodSpec, PodTemplateSpec, Probe,
    ResourceRequirements, SeccompProfile, SecretKeySelector, SecretVolumeSource, SecurityContext,
    Service, ServiceAccount, ServicePort, ServiceSpec, SleepAction, TopologySpreadConstraint,
    Volume, VolumeMount,
};
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use sha2::{Digest, Sha256};

use crate::plan::ingress::IngressPlan;
use crate::plan::{
    DB_HOST, DB_PORT, KEY_DIR, KEY_FILE, PROXY_HEALTH_PORT, Plan, SERVER_PORT, SERVER_UID,
};

/// ConfigMap keys, also the environment variable names the containers read them as.
pub(super) const CONNECTION_NAME: &str = "INSTANCE_CONNECTION_NAME";
pub(super) const BACKEND_STORE_URI: &str = "MLFLOW_BACKEND_STORE_URI";
pub(super) const ARTIFACTS_DESTINATION: &str = "MLFLOW_ARTIFACTS_DESTINATION";
pub(super) const DEFAULT_ARTIFACT_ROOT: &str = "MLFLOW_DEFAULT_ARTIFACT_ROOT";
const JOB_EXECUTION: &str = "MLFLOW_SERVER_ENABLE_JOB_EXECUTION";
const POD_IP: &str = "POD_IP";
/// MLflow's Prometheus multiprocess files: an `emptyDir`, fresh in every pod.
const METRICS_DIR: &str = "/var/run/mlflow-metrics";
const METRICS_VOLUME: &str = "metrics";
pub(super) const POOL_SIZE: &str = "MLFLOW_SQLALCHEMYSTORE_POOL_SIZE";
pub(super) const MAX_OVERFLOW: &str = "MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW";

/// Key of the database password in its Secret.
pub const PASSWORD_KEY: &str = "password";

/// The `migrate` and `migrate-auth` init containers' program (argv: `tracking` or `auth`,
/// then the database's URI): MLflow's own migration (`mlflow db upgrade`, which
/// initialises an empty database too; the basic-auth app's for its user store) under a
/// PostgreSQL advisory lock, so that pods starting together migrate one at a time, and as
/// the role that owns the schema, so that what it creates belongs to that role whichever
/// of the stack's logins migrates (see `infra.sh`'s `db-user` step).
pub(super) const MIGRATE: &str = include_str!("k8s/migrate.py");

/// The metadata every namespaced object of the bundle carries: its name, the namespace and
/// the stack's labels.
pub(super) fn meta(plan: &Plan, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(plan.names.namespace.clone()),
        labels: Some(plan.names.labels.clone()),
        ..ObjectMeta::default()
    }
}

pub(super) fn namespace(plan: &Plan) -> Namespace {
    let mut labels = plan.names.labels.clone();
    // The pod meets the restricted Pod Security Standard. `enforce` rejects pods that do
    // not; only `warn` makes the API server warn about a Deployment's pod template when
    // it is applied, and only `audit` records violations: set all three.
    for mode in ["enforce", "warn", "audit"] {
        labels.insert(
            format!("pod-security.kubernetes.io/{mode}"),
            "restricted".into(),
        );
    }
    Namespace {
        metadata: ObjectMeta {
            name: Some(plan.names.namespace.clone()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    }
}

pub(super) fn service_account(plan: &Plan) -> ServiceAccount {
    let mut metadata = meta(plan, &plan.names.workload);
    if plan.cluster.gke() {
        metadata.annotations = Some(BTreeMap::from([(
            "iam.gke.io/gcp-service-account".to_owned(),
            plan.identity.server_email.clone(),
        )]));
    }
    ServiceAccount {
        metadata,
        automount_service_account_token: Some(false),
        ..ServiceAccount::default()
    }
}

pub(super) fn config_map(plan: &Plan) -> ConfigMap {
    let artifacts_key = if plan.server.serve_artifacts {
        ARTIFACTS_DESTINATION
    } else {
        DEFAULT_ARTIFACT_ROOT
    };
    ConfigMap {
        metadata: meta(plan, &plan.names.config_map),
        data: Some(
            BTreeMap::from([
                (
                    CONNECTION_NAME.to_owned(),
                    plan.database.connection_name.clone(),
                ),
                (
                    BACKEND_STORE_URI.to_owned(),
                    plan.database.backend_store_uri.clone(),
                ),
                (artifacts_key.to_owned(), plan.server.artifact_uri.clone()),
                // The job runner adds ~1.3 GiB per pod (7 consumer processes) and schedules
                // periodic tasks on every replica; the tracking server does not need it.
                (JOB_EXECUTION.to_owned(), "false".to_owned()),
                // Explicit, so that the connection budget `check` verified is what runs.
                (POOL_SIZE.to_owned(), plan.server.pool_size.to_string()),
                (
                    MAX_OVERFLOW.to_owned(),
                    plan.server.max_overflow.to_string(),
                ),
            ])
            .into_iter()
            .chain(auth::config_entries(plan))
            .collect(),
        ),
        ..ConfigMap::default()
    }
}

pub(super) fn from_config(plan: &Plan, key: &str) -> EnvVar {
    EnvVar {
        name: key.to_owned(),
        value_from: Some(EnvVarSource {
            config_map_key_ref: Some(ConfigMapKeySelector {
                name: plan.names.config_map.clone(),
                key: key.to_owned(),
                optional: None,
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

pub(super) fn value(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        ..EnvVar::default()
    }
}

/// The environment of the containers that talk to PostgreSQL and Cloud Storage.
pub(super) fn server_env(plan: &Plan) -> Vec<EnvVar> {
    let mut env = vec![from_config(plan, BACKEND_STORE_URI)];
    if let Some(secret) = &plan.names.db_secret {
        // libpq reads the password from here; it never appears in a URI or argument.
        env.push(EnvVar {
            name: "PGPASSWORD".to_owned(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: secret.clone(),
                    key: PASSWORD_KEY.to_owned(),
                    optional: None,
                }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        });
    }
    if plan.cluster.local() {
        env.push(value(
            "GOOGLE_APPLICATION_CREDENTIALS",
            &format!("{KEY_DIR}/{KEY_FILE}"),
        ));
    }
    env
}

fn http_probe(path: &str, port: &str, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String(port.to_owned()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        timeout_seconds: Some(5),
        failure_threshold: Some(failures),
        ..Probe::default()
    }
}

pub(super) fn restricted_security_context() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_owned()]),
            ..Capabilities::default()
        }),
        privileged: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        ..SecurityContext::default()
    }
}

pub(super) fn resources(cpu: &str, memory: &str, memory_limit: &str) -> ResourceRequirements {
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_owned(), Quantity(cpu.to_owned())),
            ("memory".to_owned(), Quantity(memory.to_owned())),
        ])),
        limits: Some(BTreeMap::from([(
            "memory".to_owned(),
            Quantity(memory_limit.to_owned()),
        )])),
        ..ResourceRequirements::default()
    }
}

pub(super) fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.to_owned(),
        mount_path: path.to_owned(),
        read_only: read_only.then_some(true),
        ..VolumeMount::default()
    }
}

/// The Cloud SQL Auth Proxy as a native sidecar: an init container that keeps running
/// (`restartPolicy: Always`) and must pass its startup probe before the migration starts.
pub(super) fn proxy(plan: &Plan) -> Container {
    let mut args = vec![
        format!("--address={DB_HOST}"),
        format!("--port={DB_PORT}"),
        "--health-check".to_owned(),
        "--http-address=0.0.0.0".to_owned(),
        format!("--http-port={PROXY_HEALTH_PORT}"),
        "--structured-logs".to_owned(),
        "--exit-zero-on-sigterm".to_owned(),
    ];
    if plan.database.iam_auth {
        args.push("--auto-iam-authn".to_owned());
    }
    // The instance has no public IP: the proxy dials its private one, on the pod's VPC.
    if plan.network.private_database {
        args.push("--private-ip".to_owned());
    }
    let mut mounts = Vec::new();
    if let Some(secret) = &plan.names.key_secret {
        args.push(format!("--credentials-file={KEY_DIR}/{KEY_FILE}"));
        mounts.push(mount(secret, KEY_DIR, true));
    }
    args.push(format!("$({CONNECTION_NAME})"));
    Container {
        name: "cloud-sql-proxy".to_owned(),
        image: Some(plan.server.proxy_image.to_owned()),
        image_pull_policy: Some("Always".to_owned()),
        restart_policy: Some("Always".to_owned()),
        args: Some(args),
        env: Some(vec![from_config(plan, CONNECTION_NAME)]),
        ports: Some(vec![ContainerPort {
            name: Some("proxy-health".to_owned()),
            container_port: i32::from(PROXY_HEALTH_PORT),
            ..ContainerPort::default()
        }]),
        startup_probe: Some(Probe {
            period_seconds: Some(1),
            ..http_probe("/startup", "proxy-health", 1, 60)
        }),
        liveness_probe: Some(http_probe("/liveness", "proxy-health", 10, 3)),
        resources: Some(resources("100m", "128Mi", "256Mi")),
        security_context: Some(restricted_security_context()),
        volume_mounts: (!mounts.is_empty()).then_some(mounts),
        ..Container::default()
    }
}

pub(super) fn server_mounts(plan: &Plan) -> Vec<VolumeMount> {
    let mut mounts = vec![mount("tmp", "/tmp", false)];
    if let Some(secret) = &plan.names.key_secret {
        mounts.push(mount(secret, KEY_DIR, true));
    }
    mounts
}

/// Creates or upgrades the schema behind the proxy before the server of a new version
/// starts; see [`MIGRATE`].
fn migrate(plan: &Plan) -> Container {
    Container {
        name: "migrate".to_owned(),
        image: Some(plan.image.image.clone()),
        image_pull_policy: Some("Always".to_owned()),
        command: Some(vec![
            "python".to_owned(),
            "-c".to_owned(),
            MIGRATE.to_owned(),
        ]),
        args: Some(vec![
            "tracking".to_owned(),
            format!("$({BACKEND_STORE_URI})"),
        ]),
        env: Some(server_env(plan)),
        resources: Some(resources("100m", "512Mi", "512Mi")),
        security_context: Some(restricted_security_context()),
        volume_mounts: Some(server_mounts(plan)),
        ..Container::default()
    }
}

fn mlflow(plan: &Plan) -> Container {
    let artifacts = if plan.server.serve_artifacts {
        [
            format!("--artifacts-destination=$({ARTIFACTS_DESTINATION})"),
            "--serve-artifacts".to_owned(),
        ]
    } else {
        [
            format!("--default-artifact-root=$({DEFAULT_ARTIFACT_ROOT})"),
            "--no-serve-artifacts".to_owned(),
        ]
    };
    let mut args = vec![
        "--host=0.0.0.0".to_owned(),
        format!("--port={SERVER_PORT}"),
        format!("--workers={}", plan.server.workers),
        format!("--backend-store-uri=$({BACKEND_STORE_URI})"),
    ];
    args.extend(artifacts);
    let mut hosts = plan.server.allowed_hosts.clone();
    if plan.server.metrics {
        // Prometheus scrapes the pod by its IP, and MLflow checks the Host of `/metrics`.
        hosts.push(format!("$({POD_IP}):*"));
        args.push(format!("--expose-prometheus={METRICS_DIR}"));
    }
    args.push(format!("--allowed-hosts={}", hosts.join(",")));
    if !plan.server.cors_origins.is_empty() {
        args.push(format!(
            "--cors-allowed-origins={}",
            plan.server.cors_origins.join(",")
        ));
    }
    if let Some(seconds) = plan.server.keep_alive_seconds {
        // MLflow passes these to the uvicorn it starts (shell-split).
        args.push(format!("--uvicorn-opts=--timeout-keep-alive={seconds}"));
    }
    args.extend(auth::args(plan));
    let artifacts_key = if plan.server.serve_artifacts {
        ARTIFACTS_DESTINATION
    } else {
        DEFAULT_ARTIFACT_ROOT
    };
    let mut env = server_env(plan);
    if plan.server.metrics {
        env.push(EnvVar {
            name: POD_IP.to_owned(),
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    field_path: "status.podIP".to_owned(),
                    ..ObjectFieldSelector::default()
                }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        });
    }
    env.push(from_config(plan, artifacts_key));
    env.push(from_config(plan, JOB_EXECUTION));
    env.push(from_config(plan, POOL_SIZE));
    env.push(from_config(plan, MAX_OVERFLOW));
    env.extend(auth::env(plan));
    let mut mounts = server_mounts(plan);
    if plan.server.metrics {
        mounts.push(mount(METRICS_VOLUME, METRICS_DIR, false));
    }
    mounts.extend(auth::mounts(plan));
    let mut resources = resources(&plan.server.cpu, &plan.server.memory, &plan.server.memory);
    // What `/tmp` may hold, so that the node (or Autopilot's 1Gi default) does not evict the
    // pod in the middle of a large proxied upload or download.
    if let Some(requests) = resources.requests.as_mut() {
        requests.insert(
            "ephemeral-storage".to_owned(),
            Quantity(plan.server.tmp_size.clone()),
        );
    }
    Container {
        name: "mlflow".to_owned(),
        image: Some(plan.image.image.clone()),
        image_pull_policy: Some("Always".to_owned()),
        command: Some(vec!["mlflow".to_owned(), "server".to_owned()]),
        args: Some(args),
        env: Some(env),
        ports: Some(vec![ContainerPort {
            name: Some("http".to_owned()),
            container_port: i32::from(SERVER_PORT),
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        }]),
        // Allow up to 5 minutes for the first start (imports, schema check), then check often.
        startup_probe: Some(http_probe("/health", "http", 5, 60)),
        readiness_probe: Some(http_probe("/health", "http", 10, 3)),
        liveness_probe: Some(http_probe("/health", "http", 20, 3)),
        lifecycle: Some(Lifecycle {
            // Endpoints stop routing to the pod before the server stops accepting.
            pre_stop: Some(LifecycleHandler {
                sleep: Some(SleepAction { seconds: 5 }),
                ..LifecycleHandler::default()
            }),
            ..Lifecycle::default()
        }),
        resources: Some(resources),
        security_context: Some(restricted_security_context()),
        volume_mounts: Some(mounts),
        ..Container::default()
    }
}

/// The pod runs as the image's non-root user; volumes belong to its group.
pub(super) fn pod_security_context() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(SERVER_UID),
        run_as_group: Some(SERVER_UID),
        fs_group: Some(SERVER_UID),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_owned(),
            ..SeccompProfile::default()
        }),
        ..PodSecurityContext::default()
    }
}

/// The server pod's volumes: the common ones, and the metrics directory.
fn server_volumes(plan: &Plan) -> Vec<Volume> {
    let mut all = volumes(plan);
    if plan.server.metrics {
        all.push(Volume {
            name: METRICS_VOLUME.to_owned(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        });
    }
    all
}

pub(super) fn volumes(plan: &Plan) -> Vec<Volume> {
    let mut volumes = vec![Volume {
        name: "tmp".to_owned(),
        // Proxied artifacts pass through `/tmp`: bounded, so that a full one fails the
        // transfer in this pod rather than filling the node's disk.
        empty_dir: Some(EmptyDirVolumeSource {
            size_limit: Some(Quantity(plan.server.tmp_size.clone())),
            ..EmptyDirVolumeSource::default()
        }),
        ..Volume::default()
    }];
    volumes.extend(auth::volumes(plan));
    if let Some(secret) = &plan.names.key_secret {
        volumes.push(Volume {
            name: secret.clone(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret.clone()),
                // Readable by the pod's fsGroup only.
                default_mode: Some(0o440),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
    }
    volumes
}

fn selector(plan: &Plan) -> LabelSelector {
    LabelSelector {
        match_labels: Some(plan.names.selector.clone()),
        ..LabelSelector::default()
    }
}

/// Annotation of the pod template with a digest of what the pods read only when they start
/// (the ConfigMap, through environment variables): a changed value changes the template,
/// so `kubectl apply` rolls the pods.
const CONFIG_DIGEST: &str = "mlflow-stack/config-digest";

/// `sha256:HEX` of the ConfigMap's data, keys in order.
fn config_digest(config: &ConfigMap) -> String {
    let mut hasher = Sha256::new();
    for (key, value) in config.data.iter().flatten() {
        // Length-prefixed, so that no two different maps hash the same bytes.
        for part in [key, value] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
    }
    let mut out = String::from("sha256:");
    for byte in hasher.finalize() {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

pub(super) fn deployment(plan: &Plan) -> Deployment {
    let topology_spread = (plan.server.max_replicas > 1).then(|| {
        vec![TopologySpreadConstraint {
            max_skew: 1,
            topology_key: "kubernetes.io/hostname".to_owned(),
            when_unsatisfiable: "ScheduleAnyway".to_owned(),
            label_selector: Some(selector(plan)),
            ..TopologySpreadConstraint::default()
        }]
    });
    Deployment {
        metadata: meta(plan, &plan.names.workload),
        spec: Some(DeploymentSpec {
            // The autoscaler owns the count; an applied `replicas` would reset it on every apply.
            replicas: (!plan.server.autoscale)
                .then(|| i32::try_from(plan.server.replicas).ok())
                .flatten(),
            revision_history_limit: Some(5),
            selector: selector(plan),
            // Every old pod is stopped before a new one migrates the schema: MLflow serves
            // only the schema revision it was released with (it checks at start and exits
            // otherwise), and its upgrade guide stops the server before `mlflow db upgrade`.
            // MLflow's client retries through the gap.
            strategy: Some(DeploymentStrategy {
                type_: Some("Recreate".to_owned()),
                rolling_update: None,
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(plan.names.labels.clone()),
                    annotations: Some(BTreeMap::from([
                        (
                            "kubectl.kubernetes.io/default-container".to_owned(),
                            "mlflow".to_owned(),
                        ),
                        (CONFIG_DIGEST.to_owned(), config_digest(&config_map(plan))),
                    ])),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(plan.names.workload.clone()),
                    automount_service_account_token: Some(false),
                    // Service links would set MLFLOW_PORT=tcp://… for a Service named `mlflow`,
                    // which `mlflow server` reads as its --port.
                    enable_service_links: Some(false),
                    security_context: Some(pod_security_context()),
                    image_pull_secrets: plan.names.pull_secret.as_ref().map(|secret| {
                        vec![LocalObjectReference {
                            name: secret.clone(),
                        }]
                    }),
                    init_containers: Some(
                        [proxy(plan), migrate(plan)]
                            .into_iter()
                            .chain(auth::migrate(plan))
                            .collect(),
                    ),
                    containers: vec![mlflow(plan)],
                    volumes: Some(server_volumes(plan)),
                    topology_spread_constraints: topology_spread,
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

pub(super) fn service(plan: &Plan) -> Service {
    let mut metadata = meta(plan, &plan.names.workload);
    if let Some(address) = &plan.exposure.static_ip {
        metadata.annotations = Some(BTreeMap::from([(
            "networking.gke.io/load-balancer-ip-addresses".to_owned(),
            address.clone(),
        )]));
    }
    Service {
        metadata,
        spec: Some(ServiceSpec {
            type_: Some(plan.exposure.service_type.to_owned()),
            selector: Some(plan.names.selector.clone()),
            ports: Some(vec![ServicePort {
                name: Some("http".to_owned()),
                port: i32::from(plan.exposure.port),
                target_port: Some(IntOrString::String("http".to_owned())),
                protocol: Some("TCP".to_owned()),
                ..ServicePort::default()
            }]),
            load_balancer_source_ranges: (plan.exposure.load_balancer
                && !plan.exposure.allow.is_empty())
            .then(|| plan.exposure.allow.clone()),
            // A GKE load balancer delivers only to nodes with a server pod, which then sees
            // the client's own address: the NetworkPolicy can admit just `allow`.
            external_traffic_policy: (plan.exposure.load_balancer && plan.cluster.gke())
                .then(|| "Local".to_owned()),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

pub(super) fn network_policy(plan: &Plan) -> NetworkPolicy {
    NetworkPolicy {
        metadata: meta(plan, &plan.names.workload),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(selector(plan)),
            policy_types: Some(vec!["Ingress".to_owned()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                ports: Some(vec![NetworkPolicyPort {
                    port: Some(IntOrString::String("http".to_owned())),
                    protocol: Some("TCP".to_owned()),
                    ..NetworkPolicyPort::default()
                }]),
                // Only where the exposure's clients come from (plan::ingress). Behind a
                // gateway nothing in the cluster reaches the server around it (and IAP) but
                // the bundle's own garbage collector and Managed Prometheus's scrapes; where
                // pods of every namespace are admitted, those are among them.
                from: (!plan.exposure.ingress.anyone).then(|| {
                    let mut peers = ingress_peers(&plan.exposure.ingress);
                    if !plan.exposure.ingress.cluster_pods {
                        if let Some(gc) = plan.gc.as_ref().filter(|gc| gc.server_url.is_some()) {
                            peers.push(NetworkPolicyPeer {
                                pod_selector: Some(LabelSelector {
                                    match_labels: Some(gc.selector.clone()),
                                    ..LabelSelector::default()
                                }),
                                ..NetworkPolicyPeer::default()
                            });
                        }
                        if plan.server.metrics && plan.cluster.gke() {
                            peers.push(collector_peer());
                        }
                    }
                    peers
                }),
            }]),
            ..NetworkPolicySpec::default()
        }),
    }
}

/// Managed Service for Prometheus's collectors: the DaemonSet pods labelled
/// `app.kubernetes.io/name: collector` in the `gmp-system` namespace, which scrape the pods
/// on their node. A NetworkPolicy that admits only some sources must admit them too.
#[must_use]
pub fn collector_peer() -> NetworkPolicyPeer {
    let labels = |key: &str, value: &str| LabelSelector {
        match_labels: Some(BTreeMap::from([(key.to_owned(), value.to_owned())])),
        ..LabelSelector::default()
    };
    NetworkPolicyPeer {
        namespace_selector: Some(labels("kubernetes.io/metadata.name", "gmp-system")),
        pod_selector: Some(labels("app.kubernetes.io/name", "collector")),
        ..NetworkPolicyPeer::default()
    }
}

/// The NetworkPolicy peers of `ingress`: pods of every namespace, then each range.
fn ingress_peers(ingress: &IngressPlan) -> Vec<NetworkPolicyPeer> {
    let pods = ingress.cluster_pods.then(|| NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector::default()),
        ..NetworkPolicyPeer::default()
    });
    pods.into_iter()
        .chain(ingress.ranges.iter().map(|range| NetworkPolicyPeer {
            ip_block: Some(IPBlock {
                cidr: range.cidr.clone(),
                except: None,
            }),
            ..NetworkPolicyPeer::default()
        }))
        .collect()
}

pub(super) fn pod_disruption_budget(plan: &Plan) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: meta(plan, &plan.names.workload),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(selector(plan)),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    }
}

/// Average CPU use, as a share of the request, the autoscaler keeps the server pods at.
const CPU_TARGET_PERCENT: i32 = 75;

pub(super) fn autoscaler(plan: &Plan) -> HorizontalPodAutoscaler {
    HorizontalPodAutoscaler {
        metadata: meta(plan, &plan.names.workload),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".to_owned()),
                kind: "Deployment".to_owned(),
                name: plan.names.workload.clone(),
            },
            min_replicas: i32::try_from(plan.server.replicas).ok(),
            max_replicas: i32::try_from(plan.server.max_replicas).unwrap_or(i32::MAX),
            metrics: Some(vec![MetricSpec {
                type_: "Resource".to_owned(),
                resource: Some(ResourceMetricSource {
                    name: "cpu".to_owned(),
                    target: MetricTarget {
                        type_: "Utilization".to_owned(),
                        average_utilization: Some(CPU_TARGET_PERCENT),
                        ..MetricTarget::default()
                    },
                }),
                ..MetricSpec::default()
            }]),
            ..HorizontalPodAutoscalerSpec::default()
        }),
        ..HorizontalPodAutoscaler::default()
    }
}

#[cfg(test)]
mod tests {
    use super::MIGRATE;

    /// The program is a block scalar in `deployment.yaml`, ten columns in; yamllint (the
    /// conformance suite) allows 80.
    #[test]
    fn the_migration_program_fits_the_yaml_line_length() {
        for line in MIGRATE.lines() {
            assert!(
                line.chars().count() <= 70,
                "too long for the bundle: {line}"
            );
        }
    }
}
