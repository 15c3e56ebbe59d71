//! Running it for a year: the autoscaler, the garbage collector, metrics, the connection
//! pool settings and the config digest, as objects the bundle really contains.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use mlflow_stack::emit::{Bundle, yaml};
use mlflow_stack::source::Source;

const BASE: &str = r#"project = "acme-ml-prod"
region = "europe-west3"
bucket = "acme-ml-prod-mlflow"
tag = "1.0.0"
environment = "gke"
"#;

fn with(extra: &str) -> Bundle {
    compile(&format!("{BASE}{extra}"))
}

fn compile(text: &str) -> Bundle {
    let compiled = mlflow_stack::compile(&Source::new("ops.toml", text.to_owned()));
    let diagnostics: Vec<_> = compiled.diagnostics.iter().map(|d| d.code.name()).collect();
    compiled
        .bundle
        .unwrap_or_else(|| panic!("{text}\ndoes not compile: {diagnostics:?}"))
}

fn object<T: serde::de::DeserializeOwned>(bundle: &Bundle, file: &str) -> T {
    yaml::parse(
        bundle
            .get(&format!("kubernetes/{file}"))
            .unwrap_or_else(|| panic!("no {file}")),
    )
    .unwrap()
}

fn digest(bundle: &Bundle) -> String {
    let deployment: Deployment = object(bundle, "deployment.yaml");
    deployment
        .spec
        .unwrap()
        .template
        .metadata
        .unwrap()
        .annotations
        .unwrap()["mlflow-stack/config-digest"]
        .clone()
}

#[test]
fn an_autoscaler_owns_the_replica_count_between_replicas_and_max_replicas() {
    let bundle = with("[server]\nreplicas = 2\nmax_replicas = 3\nworkers = 1\n");
    let hpa: HorizontalPodAutoscaler = object(&bundle, "horizontalpodautoscaler.yaml");
    let spec = hpa.spec.unwrap();
    assert_eq!((spec.min_replicas, spec.max_replicas), (Some(2), 3));
    assert_eq!(spec.scale_target_ref.name, "mlflow-server");
    let deployment: Deployment = object(&bundle, "deployment.yaml");
    assert_eq!(deployment.spec.unwrap().replicas, None);
    // One replica that may scale out still gets a disruption budget.
    let bundle = with("[server]\nreplicas = 1\nmax_replicas = 2\n");
    let _: PodDisruptionBudget = object(&bundle, "poddisruptionbudget.yaml");
    // Without a maximum above the minimum there is no autoscaler.
    let bundle = with("[server]\nreplicas = 2\nmax_replicas = 2\n");
    assert!(
        bundle
            .get("kubernetes/horizontalpodautoscaler.yaml")
            .is_none()
    );
    let deployment: Deployment = object(&bundle, "deployment.yaml");
    assert_eq!(deployment.spec.unwrap().replicas, Some(2));
}

#[test]
fn the_garbage_collector_is_a_forbid_cronjob_with_the_proxy_as_a_native_sidecar() {
    let bundle = with("[gc]\nschedule = \"15 4 * * 0\"\nolder_than = \"14d\"\n");
    let cron: CronJob = object(&bundle, "cronjob.yaml");
    let spec = cron.spec.unwrap();
    assert_eq!(spec.schedule, "15 4 * * 0");
    assert_eq!(spec.concurrency_policy.as_deref(), Some("Forbid"));
    assert!(
        spec.successful_jobs_history_limit.is_some() && spec.failed_jobs_history_limit.is_some()
    );
    let pod = spec.job_template.spec.unwrap().template.spec.unwrap();
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    let sidecars: Vec<_> = pod
        .init_containers
        .unwrap()
        .into_iter()
        .map(|c| (c.name, c.restart_policy))
        .collect();
    assert_eq!(
        sidecars,
        [("cloud-sql-proxy".to_owned(), Some("Always".to_owned()))]
    );
    let gc = &pod.containers[0];
    assert_eq!(
        gc.command.as_deref(),
        Some(&["mlflow".to_owned(), "gc".to_owned()][..])
    );
    let args = gc.args.clone().unwrap();
    assert!(args.contains(&"--older-than=14d".to_owned()), "{args:?}");
    assert!(
        args.contains(
            &"--tracking-uri=http://mlflow-server.mlflow.svc.cluster.local:8080".to_owned()
        ),
        "proxied artifacts are deleted through the server: {args:?}"
    );
    let security = gc.security_context.clone().unwrap();
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(security.allow_privilege_escalation, Some(false));
    // The collector's pods are no server pods: no selector of the server matches them.
    let labels = cron.metadata.labels.unwrap();
    assert_eq!(labels["app.kubernetes.io/component"], "gc");
}

#[test]
fn metrics_expose_prometheus_on_an_empty_dir_and_allow_the_scraper() {
    let bundle = with("[server]\nmetrics = true\n");
    let deployment: Deployment = object(&bundle, "deployment.yaml");
    let pod = deployment.spec.unwrap().template.spec.unwrap();
    let args = pod.containers[0].args.clone().unwrap();
    let dir = args
        .iter()
        .find_map(|a| a.strip_prefix("--expose-prometheus="))
        .expect("--expose-prometheus");
    let mount = pod.containers[0]
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.mount_path == dir)
        .expect("a mount at the metrics directory");
    let volume = pod
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == mount.name)
        .unwrap();
    assert!(volume.empty_dir.is_some());
    assert!(
        args.iter()
            .any(|a| a.starts_with("--allowed-hosts=") && a.ends_with(",$(POD_IP):*"))
    );
    let monitoring = bundle.get("kubernetes/podmonitoring.yaml").unwrap();
    assert!(monitoring.contains("kind: PodMonitoring") && monitoring.contains("path: /metrics"));
    assert!(
        bundle
            .get("image/requirements.txt")
            .unwrap()
            .contains("prometheus-flask-exporter==")
    );
    // Off GKE there is no Managed Prometheus to scrape it.
    let local = compile(&format!(
        "{}[server]\nmetrics = true\n",
        BASE.replace("\"gke\"", "\"local\"")
    ));
    assert!(local.get("kubernetes/podmonitoring.yaml").is_none());
}

#[test]
fn the_pool_settings_check_verified_are_what_the_server_runs() {
    let bundle = with("[server]\npool_size = 3\nmax_overflow = 1\n");
    let config: ConfigMap = object(&bundle, "configmap.yaml");
    let data = config.data.unwrap();
    assert_eq!(data["MLFLOW_SQLALCHEMYSTORE_POOL_SIZE"], "3");
    assert_eq!(data["MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW"], "1");
}

#[test]
fn a_config_change_changes_the_pod_template() {
    let before = digest(&with(""));
    assert!(
        before.starts_with("sha256:") && before.len() == 7 + 64,
        "{before}"
    );
    assert_eq!(digest(&with("")), before, "deterministic");
    // The ConfigMap changes: the pods roll.
    assert_ne!(digest(&with("[server]\npool_size = 1\n")), before);
    let other_bucket = compile(&BASE.replace("acme-ml-prod-mlflow", "acme-ml-prod-other"));
    assert_ne!(digest(&other_bucket), before);
    // A change the pods do not read from the ConfigMap leaves the digest alone.
    assert_eq!(digest(&with("[server]\ncpu = \"1\"\n")), before);
}

fn gc_container(bundle: &Bundle) -> k8s_openapi::api::core::v1::Container {
    let cron: CronJob = object(bundle, "cronjob.yaml");
    let pod = cron
        .spec
        .unwrap()
        .job_template
        .spec
        .unwrap()
        .template
        .spec
        .unwrap();
    pod.containers.into_iter().next().unwrap()
}

#[test]
fn the_schedule_means_utc_on_every_cluster() {
    let cron: CronJob = object(&with("[gc]\n"), "cronjob.yaml");
    let spec = cron.spec.unwrap();
    assert_eq!(
        (spec.schedule.as_str(), spec.time_zone.as_deref()),
        ("0 3 * * *", Some("Etc/UTC"))
    );
}

#[test]
fn behind_basic_auth_the_collector_signs_in_as_the_admin_from_the_secret() {
    let auth = "[expose]\ntype = \"gateway\"\nhost = \"mlflow.acme.example\"\n\
                [auth]\nkind = \"basic\"\n[gc]\n";
    let env = gc_container(&with(auth)).env.unwrap();
    let user = env
        .iter()
        .find(|e| e.name == "MLFLOW_TRACKING_USERNAME")
        .unwrap();
    assert_eq!(user.value.as_deref(), Some("admin"));
    let password = env
        .iter()
        .find(|e| e.name == "MLFLOW_TRACKING_PASSWORD")
        .unwrap();
    assert!(password.value.is_none(), "never a literal");
    assert!(
        password
            .value_from
            .as_ref()
            .unwrap()
            .secret_key_ref
            .is_some()
    );
    // Without basic auth, or when the collector deletes in the bucket itself, no credentials.
    for stack in [
        "[gc]\n",
        "[server]\nserve_artifacts = false\n[expose]\ntype = \"gateway\"\n\
         host = \"mlflow.acme.example\"\n[auth]\nkind = \"basic\"\n[gc]\n",
    ] {
        let env = gc_container(&with(stack)).env.unwrap();
        assert!(
            !env.iter().any(|e| e.name.starts_with("MLFLOW_TRACKING_")),
            "{stack}"
        );
    }
}

#[test]
fn behind_a_gateway_the_network_policy_admits_the_collector_and_the_scrapers() {
    use k8s_openapi::api::networking::v1::NetworkPolicy;
    let gateway = "[expose]\ntype = \"gateway\"\nhost = \"mlflow.acme.example\"\n\
                   [auth]\nkind = \"iap\"\nmembers = [\"group:ml@acme.example\"]\noauth_client_id = \"123456789012-mlflowteam.apps.googleusercontent.com\"\n";
    let peers = |stack: &str| {
        let policy: NetworkPolicy = object(&with(stack), "networkpolicy.yaml");
        policy.spec.unwrap().ingress.unwrap()[0]
            .from
            .clone()
            .unwrap()
    };
    let plain = peers(gateway);
    assert!(
        plain.iter().all(|peer| peer.ip_block.is_some()),
        "{plain:?}"
    );
    let all = peers(&format!("[server]\nmetrics = true\n{gateway}[gc]\n"));
    let selected: Vec<_> = all
        .iter()
        .filter(|peer| peer.ip_block.is_none())
        .map(|peer| {
            let labels =
                |s: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>| {
                    s.as_ref()
                        .and_then(|s| s.match_labels.clone())
                        .unwrap_or_default()
                };
            (labels(&peer.namespace_selector), labels(&peer.pod_selector))
        })
        .collect();
    assert_eq!(selected.len(), 2, "{all:?}");
    // The collector's own pods, in the namespace of the policy.
    assert!(selected[0].0.is_empty());
    assert_eq!(selected[0].1["app.kubernetes.io/component"], "gc");
    // Managed Prometheus's collectors.
    assert_eq!(selected[1].0["kubernetes.io/metadata.name"], "gmp-system");
    assert_eq!(selected[1].1["app.kubernetes.io/name"], "collector");
}

#[test]
fn extra_packages_follow_the_image_pins_in_requirements() {
    let bundle = with("[server]\npackages = [\"mlflow-oidc-auth==11.0.2\", \"boto3==1.35.49\"]\n");
    let requirements = bundle.get("image/requirements.txt").unwrap();
    let lines: Vec<&str> = requirements.lines().skip(1).collect();
    assert_eq!(lines[0], "mlflow==3.17.2");
    assert_eq!(
        &lines[lines.len() - 2..],
        ["mlflow-oidc-auth==11.0.2", "boto3==1.35.49"]
    );
    // The image's pins, whatever the spelling, are refused.
    for pinned in [
        "Flask_WTF==1.2.0",
        "PROMETHEUS-flask-exporter==0.23.1",
        "mlflow==3.17.2",
    ] {
        let compiled = mlflow_stack::compile(&Source::new(
            "ops.toml",
            format!("{BASE}[server]\npackages = [\"{pinned}\"]\n"),
        ));
        let codes: Vec<_> = compiled.diagnostics.iter().map(|d| d.code.name()).collect();
        assert_eq!(codes, ["duplicate-package"], "{pinned}");
    }
}
