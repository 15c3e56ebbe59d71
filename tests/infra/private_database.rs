//! `database.ip = "private"`: the instance has a private IP only, on the cluster's VPC
//! network, through private services access, which the network's owner sets up; the
//! preflight checks the connection and that the cluster is VPC-native, naming the command
//! that fixes each; a public instance the stack owns is switched to private as a planned
//! update; a private IP is never removed.

use super::*;

fn public_variant(scratch: &TempDir) -> PathBuf {
    changed_stack(
        scratch,
        "private",
        &[("ip = \"private\"", "ip = \"public\"")],
        "",
    )
}

fn ip_configuration(sandbox: &Sandbox) -> Value {
    let instance = sandbox.resource(&format!("sql-instance {}", sandbox.plan.database.instance));
    instance["settings"]["ipConfiguration"].clone()
}

/// A private stack plans, applies (the instance without a public IP, on the cluster's
/// network), applies again with no change, and destroys only what it owns; its proxy dials
/// the private IP.
#[test]
fn a_private_database_applies_again_without_change_and_destroys() {
    let sandbox = Sandbox::new(&stack("private"));
    let plan = sandbox.infra(&["plan"]).ok();
    assert!(
        plan.stdout.contains(
            "gcloud beta sql instances create private-mlflow-db --database-version=POSTGRES_17"
        ),
        "{}",
        plan.stdout
    );
    let run = sandbox.infra(&["apply"]).ok();
    let create = run
        .calls
        .iter()
        .find(|call| call.starts_with("gcloud beta sql instances create"))
        .unwrap();
    assert!(
        create.argv.contains(&"--no-assign-ip".to_owned())
            && create
                .argv
                .contains(&"--network=projects/acme-ml-prod/global/networks/default".to_owned()),
        "{}",
        create.line()
    );
    assert_eq!(
        ip_configuration(&sandbox),
        json!({"ipv4Enabled": false, "privateNetwork": "projects/acme-ml-prod/global/networks/default"})
    );
    let again = sandbox.infra(&["apply"]).ok();
    again.changed_nothing();
    assert_eq!(
        sandbox.infra(&["plan", "--detailed-exitcode"]).code,
        0,
        "nothing to change"
    );

    let deployment = fs::read_to_string(sandbox.path("bundle/kubernetes/deployment.yaml")).unwrap();
    assert!(deployment.contains("- --private-ip\n"), "{deployment}");

    sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
    assert_eq!(
        sandbox.resources_of(&["sql-instance", "bucket", "service-account"]),
        Vec::<String>::new()
    );
    // The network's connection and the cluster are not the stack's.
    assert!(sandbox.resources().contains("vpc-peering default"));
    assert!(sandbox.resources().contains(&sandbox.cluster_key()));
}

/// A public stack's proxy connects as before: no `--private-ip`.
#[test]
fn a_public_database_proxy_has_no_private_ip_flag() {
    let deployment = plan_of(&stack("example"));
    assert!(!deployment.network.private_database);
    let scratch = TempDir::new("public-proxy");
    let bundle = scratch.path().join("bundle");
    write_bundle(&stack("example"), &bundle);
    let yaml = fs::read_to_string(bundle.join("kubernetes/deployment.yaml")).unwrap();
    assert!(!yaml.contains("--private-ip"), "{yaml}");
}

/// The cluster's network without a private services access connection stops `plan` and
/// `apply` before any change, naming the commands its owner runs.
#[test]
fn a_network_without_private_services_access_fails_before_any_change() {
    let sandbox = Sandbox::new(&stack("private"));
    let mut state = sandbox.state();
    state["resources"]
        .as_object_mut()
        .unwrap()
        .remove("vpc-peering default");
    fs::write(sandbox.path("state/state.json"), state.to_string()).unwrap();
    for command in ["plan", "apply"] {
        let run = sandbox.infra(&[command]);
        assert_eq!(run.code, 1, "{}", run.transcript);
        assert_eq!(
            run.stderr,
            "infra.sh: the private database (database.ip = \"private\") cannot be reached; \
             nothing was changed:\n  - VPC network default of cluster ml-platform has no \
             private services access connection, through which Cloud SQL gives the instance \
             its private IP; the network's owner makes one (an address range for Google's \
             services, then the peering): `gcloud compute addresses create \
             google-managed-services-default --global --purpose=VPC_PEERING --prefix-length=16 \
             --network=default && gcloud services vpc-peerings connect \
             --service=servicenetworking.googleapis.com \
             --ranges=google-managed-services-default --network=default`, or set \
             `create_peering = true` in [database] to have apply make it\n"
        );
        run.changed_nothing();
    }
}

/// A cluster without alias IPs (routes-based) cannot reach a private services access
/// range: refused before any change, on the network the cluster names.
#[test]
fn a_cluster_that_is_not_vpc_native_fails_before_any_change() {
    let sandbox = Sandbox::new(&stack("private"));
    let mut cluster = sandbox.resource(&sandbox.cluster_key());
    cluster["ipAllocationPolicy"] = json!({});
    cluster["network"] = json!("ml-vpc");
    sandbox.seed(&sandbox.cluster_key(), cluster);
    sandbox.seed("vpc-peering ml-vpc", json!({}));
    let run = sandbox.infra(&["apply"]);
    assert_eq!(run.code, 1, "{}", run.transcript);
    assert_eq!(
        run.stderr,
        "infra.sh: the private database (database.ip = \"private\") cannot be reached; nothing \
         was changed:\n  - GKE cluster ml-platform is not VPC-native (no alias IP ranges), so \
         its pods cannot reach the instance's private IP, and a cluster cannot be made \
         VPC-native: run MLflow on one that is (Autopilot clusters always are; a \
         Standard cluster created with `--enable-ip-alias`, the default), or keep the database \
         public (remove `ip = \"private\"` from [database])\n"
    );
    run.changed_nothing();
}

/// The instance takes its private IP on the network the cluster names, not `default`.
#[test]
fn the_instance_goes_on_the_clusters_network() {
    let sandbox = Sandbox::new(&stack("private"));
    let mut cluster = sandbox.resource(&sandbox.cluster_key());
    cluster["network"] = json!("ml-vpc");
    sandbox.seed(&sandbox.cluster_key(), cluster);
    sandbox.seed("vpc-peering ml-vpc", json!({}));
    sandbox.infra(&["apply"]).ok();
    assert_eq!(
        ip_configuration(&sandbox)["privateNetwork"],
        "projects/acme-ml-prod/global/networks/ml-vpc"
    );
}

/// A public instance this stack created becomes private as a planned, stated update: plan
/// says that the public IP goes and the instance restarts, apply patches it, and the next
/// apply changes nothing. Under `sql.restrictPublicIp` this is the way out.
#[test]
fn public_to_private_is_a_planned_update() {
    let scratch = TempDir::new("public-to-private");
    let mut sandbox = Sandbox::new(&public_variant(&scratch));
    sandbox.infra(&["apply"]).ok();
    assert_eq!(ip_configuration(&sandbox), json!({"ipv4Enabled": true}));

    sandbox.rebuild(&stack("private"));
    // The network's owner has made the connection since, with the Service Networking API.
    sandbox.seed("vpc-peering default", json!({}));
    sandbox.seed("service servicenetworking.googleapis.com", json!({}));
    sandbox.seed(
        "org-policy sql.restrictPublicIp",
        json!({"booleanPolicy": {"enforced": true}}),
    );
    let plan = sandbox.infra(&["plan"]).ok();
    assert_eq!(plan.result("sql-instance"), "update");
    assert!(
        plan.stdout.contains(
            "    update ip: public → private (the instance gets a private IP on network \
             default and loses its public IP; it restarts)\n    \
             gcloud sql instances patch private-mlflow-db --no-assign-ip \
             --network=projects/acme-ml-prod/global/networks/default --quiet\n"
        ),
        "{}",
        plan.stdout
    );
    let apply = sandbox.infra(&["apply"]).ok();
    assert_eq!(apply.result("sql-instance"), "updated");
    assert_eq!(
        ip_configuration(&sandbox),
        json!({"ipv4Enabled": false, "privateNetwork": "projects/acme-ml-prod/global/networks/default"})
    );
    let again = sandbox.infra(&["apply"]).ok();
    again.changed_nothing();
}

/// A private IP cannot be removed from a Cloud SQL instance: back to `public` is refused
/// before any change, with the reason.
#[test]
fn private_to_public_is_refused_with_the_reason() {
    let scratch = TempDir::new("private-to-public");
    let mut sandbox = Sandbox::new(&stack("private"));
    sandbox.infra(&["apply"]).ok();
    sandbox.rebuild(&public_variant(&scratch));
    for command in ["plan", "apply"] {
        let run = sandbox.infra(&[command]);
        assert_eq!(run.code, 1, "{}", run.transcript);
        assert_eq!(
            run.stderr,
            "infra.sh: Cloud SQL instance private-mlflow-db has a private IP, which Cloud SQL \
             cannot remove from an instance, and no public IP, so `ip = \"public\"` would \
             leave the proxy without an address it dials; nothing was changed. Keep `ip = \
             \"private\"` in [database]\n"
        );
        run.changed_nothing();
    }
}

/// An instance infra.sh did not create is used as it is: one without the IP the stack's
/// proxy dials is refused before any change.
#[test]
fn an_adopted_instance_without_a_private_ip_is_refused() {
    let scratch = TempDir::new("adopted-public");
    let public = Sandbox::new(&public_variant(&scratch));
    public
        .infra(&["apply", "services", "bucket", "sql-instance"])
        .ok();
    let instance = public.resource("sql-instance private-mlflow-db");

    let sandbox = Sandbox::new(&stack("private"));
    let mut adopted = instance;
    adopted["settings"]["userLabels"] = json!({});
    sandbox.seed("sql-instance private-mlflow-db", adopted);
    sandbox.seed("service sqladmin.googleapis.com", json!({}));
    let run = sandbox.infra(&["apply"]);
    assert_eq!(run.code, 1, "{}", run.transcript);
    assert_eq!(
        run.stderr,
        "infra.sh: Cloud SQL instance private-mlflow-db, which infra.sh did not create and does \
         not change, has no private IP, and `ip = \"private\"` has the proxy dial one; nothing \
         was changed. Ask its owners to give it one on network default (`gcloud sql instances \
         patch private-mlflow-db --network=projects/acme-ml-prod/global/networks/default`), or \
         set `ip = \"public\"` in [database]\n"
    );
    run.changed_nothing();
}

/// A cluster the stack creates is made on the default network, VPC-native: the preflight
/// checks that network's connection before the cluster exists.
#[test]
fn a_created_cluster_puts_the_instance_on_the_default_network() {
    let scratch = TempDir::new("private-created-cluster");
    let created = changed_stack(
        &scratch,
        "private",
        &[(
            "name = \"ml-platform\"",
            "name = \"ml-platform\"\ncreate = true",
        )],
        "",
    );
    let sandbox = Sandbox::new(&created);
    sandbox.infra(&["apply"]).ok();
    assert_eq!(
        ip_configuration(&sandbox)["privateNetwork"],
        "projects/acme-ml-prod/global/networks/default"
    );
    let again = sandbox.infra(&["apply"]).ok();
    again.changed_nothing();
}

/// The organization forbids public IPs: the private stack applies.
#[test]
fn a_private_database_applies_under_restrict_public_ip() {
    let sandbox = Sandbox::new(&stack("private"));
    sandbox.seed(
        "org-policy sql.restrictPublicIp",
        json!({"booleanPolicy": {"enforced": true}}),
    );
    sandbox.infra(&["apply"]).ok();
}
