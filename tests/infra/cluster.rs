//! The GKE cluster: one the stack does not create must exist with what the bundle needs;
//! one it creates is made so.

use super::*;

/// A gke stack whose cluster does not exist stops in the preflight, naming `cluster.name`,
/// before Cloud SQL, the bucket or the image cost anything.
#[test]
fn a_missing_cluster_fails_before_any_mutation() {
    let sandbox = Sandbox::new(&stack("example"));
    sandbox.unseed(&sandbox.cluster_key());
    let run = sandbox.infra(&["apply"]);
    run.stopped_before_any_step();
    assert_eq!(
        run.stderr,
        "infra.sh: GKE cluster mlflow not found in europe-west3 (project acme-ml-prod): create \
         it, correct `cluster.name` or `cluster.location` in the stack file, or set `create = true` \
         in its [cluster] table\n"
    );
}

/// An existing cluster without what the bundle needs (Workload Identity's pool, and for
/// a gateway with metrics: HttpLoadBalancing, the Gateway API, Managed Service for
/// Prometheus) stops `apply` in the preflight, naming each with the command that turns
/// it on, before anything changes.
#[test]
fn a_cluster_without_the_needed_features_fails_before_any_mutation() {
    let scratch = TempDir::new("cluster-features");
    let team = changed_stack(
        &scratch,
        "team",
        &[("[expose]", "[server]\nmetrics = true\n\n[expose]")],
        "",
    );
    let sandbox = Sandbox::new(&team);
    sandbox.seed(
        &sandbox.cluster_key(),
        json!({"status": "RUNNING", "subnetwork": "default",
               "addonsConfig": {"httpLoadBalancing": {"disabled": true}},
               "networkConfig": {"datapathProvider": "LEGACY_DATAPATH"},
               "monitoringConfig": {"managedPrometheusConfig": {"enabled": false}}}),
    );
    let run = sandbox.infra(&["apply"]);
    run.stopped_before_any_step();
    assert_eq!(
        run.stderr,
        "infra.sh: GKE cluster team-mlflow (europe-west3) lacks what this bundle needs; nothing was changed:\n  \
         - Workload Identity with the pool acme-ml-prod.svc.id.goog (the server's Kubernetes \
         ServiceAccount acts as its Google service account): gcloud container clusters update \
         team-mlflow --location=europe-west3 --workload-pool=acme-ml-prod.svc.id.goog (and \
         GKE_METADATA as the workload metadata of each node pool)\n  \
         - the HttpLoadBalancing add-on (the Gateway controller runs on it): gcloud container \
         clusters update team-mlflow --location=europe-west3 --update-addons=HttpLoadBalancing=ENABLED\n  \
         - the Gateway API (the bundle's Gateway and HTTPRoute): gcloud container clusters \
         update team-mlflow --location=europe-west3 --gateway-api=standard\n  \
         - Managed Service for Prometheus (the bundle's PodMonitoring): gcloud container \
         clusters update team-mlflow --location=europe-west3 --enable-managed-prometheus\n"
    );
}

/// A cluster that does not enforce NetworkPolicy (neither GKE Dataplane V2 nor network
/// policy enforcement) is a warning, in `plan` and `apply`: the bundle still works, with
/// its policy ignored. Each enforcer silences it.
#[test]
fn a_cluster_without_network_policy_enforcement_warns() {
    let sandbox = Sandbox::new(&stack("example"));
    let mut cluster = autopilot_cluster("acme-ml-prod");
    cluster["autopilot"] = json!({"enabled": false});
    cluster["networkConfig"]["datapathProvider"] = json!("LEGACY_DATAPATH");
    sandbox.seed(&sandbox.cluster_key(), cluster.clone());
    let warning = "    warning: mlflow does not enforce NetworkPolicy (no GKE Dataplane V2, no network \
        policy enforcement): the server's port is open to every pod; enable it with gcloud \
        container clusters update mlflow --location=europe-west3 \
        --update-addons=NetworkPolicy=ENABLED, then --enable-network-policy\n";
    let plan = sandbox.infra(&["plan"]);
    assert_eq!(plan.code, 0, "{}", plan.transcript);
    assert!(
        plan.stdout.contains(&format!(
            "] cluster: adopted\n    adopted: GKE cluster mlflow (not created by infra.sh: \
             left as it is)\n{warning}"
        )),
        "{}",
        plan.stdout
    );
    let apply = sandbox.infra(&["apply", "cluster"]);
    assert_eq!(apply.code, 0, "{}", apply.transcript);
    assert!(apply.stdout.contains(warning), "{}", apply.stdout);
    cluster["networkPolicy"] = json!({"enabled": true, "provider": "CALICO"});
    sandbox.seed(&sandbox.cluster_key(), cluster);
    let calico = sandbox.infra(&["apply", "cluster"]);
    assert!(!calico.stdout.contains("warning"), "{}", calico.stdout);
}

/// A zonal cluster `infra.sh` creates is a Standard cluster with GKE Dataplane V2, so the
/// bundle's NetworkPolicy is enforced, and with the project's Workload Identity pool.
#[test]
fn a_zonal_cluster_is_created_with_dataplane_v2() {
    let sandbox = Sandbox::new(&repo().join("tests/fixtures/good/zonal-cluster.toml"));
    let run = sandbox.infra(&["apply"]);
    assert_eq!(run.code, 0, "{}", run.transcript);
    let create = run
        .calls
        .iter()
        .find(|call| {
            call.argv
                .starts_with(&["container".into(), "clusters".into(), "create".into()])
        })
        .unwrap();
    assert!(
        create.argv.contains(&"--enable-dataplane-v2".to_owned()),
        "{:?}",
        create.argv
    );
    let cluster = &sandbox.state()["resources"][sandbox.cluster_key()];
    assert_eq!(
        cluster["networkConfig"]["datapathProvider"],
        "ADVANCED_DATAPATH"
    );
    assert_eq!(
        cluster["workloadIdentityConfig"]["workloadPool"],
        "acme-ml-dev.svc.id.goog"
    );
    assert!(!run.stdout.contains("warning"), "{}", run.stdout);
}
