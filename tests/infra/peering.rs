//! `database.create_peering` (`stacks/private-peered.toml`): the stack makes the private
//! services access connection of its private database's network when the network has none
//! (an address range for Google's services, then the peering), leaves one that exists as it
//! is, never connects another's range, resumes between the two, and keeps both on `destroy`:
//! the connection serves every Google service on the network.

use super::*;

const RANGE: &str = "peered-mlflow-google-services";

/// `gcloud ARGS` in the sandbox's project, as the fake answers it: exit code and stderr.
fn gcloud(sandbox: &Sandbox, args: &[&str]) -> (i32, String) {
    let script = format!("gcloud --project=acme-ml-platform {}", args.join(" "));
    let output = sandbox
        .command(&["-c", &script], &[], &[])
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Positions of the first mutating calls starting with each prefix, in order.
fn first_of(run: &Run, prefixes: &[&str]) -> Vec<usize> {
    let mutating = run.mutating();
    prefixes
        .iter()
        .map(|prefix| {
            mutating
                .iter()
                .position(|line| line.starts_with(prefix))
                .unwrap_or_else(|| panic!("no {prefix} in {mutating:#?}"))
        })
        .collect()
}

/// On a network without a connection, `plan` says the preflight's finding and shows the
/// range and the peering apply makes; apply makes the range, then the connection, then the
/// instance on that network; a second apply and `plan` change nothing; `destroy
/// --delete-data` keeps both and says why.
/// Asserts that no command the run changed something with contains one of `commands`.
fn never_ran(run: &Run, commands: &[&str]) {
    let mutating = run.mutating();
    assert!(
        mutating
            .iter()
            .all(|line| commands.iter().all(|command| !line.contains(command))),
        "{mutating:#?}"
    );
}

#[test]
fn apply_makes_the_range_then_the_connection_then_the_instance() {
    let sandbox = Sandbox::new(&stack("private-peered"));
    let plan = sandbox.infra(&["plan"]).ok();
    assert!(
        plan.stdout.contains(&format!(
            "VPC network default of cluster ml-platform has no private services access \
             connection: apply makes one (database.create_peering = true), the address range \
             {RANGE} for Google's services, then the peering\n"
        )),
        "{}",
        plan.stdout
    );
    assert_eq!(plan.result("peering"), "create");
    assert!(
        plan.stdout.contains(&format!(
            "    gcloud compute addresses create {RANGE} --global --purpose=VPC_PEERING \
             --prefix-length=16 --network=default --description="
        )) && plan.stdout.contains(&format!(
            "    gcloud services vpc-peerings connect --service=servicenetworking.googleapis.com \
             --ranges={RANGE} --network=default\n"
        )),
        "{}",
        plan.stdout
    );
    plan.changed_nothing();

    let run = sandbox.infra(&["apply"]).ok();
    assert_eq!(run.results(), sandbox.created(), "{}", run.stdout);
    let order = first_of(
        &run,
        &[
            "gcloud services enable",
            "gcloud compute addresses create",
            "gcloud services vpc-peerings connect",
            "gcloud beta sql instances create",
        ],
    );
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    let range = sandbox.resource(&format!("address global/{RANGE}"));
    assert_eq!(range["purpose"], "VPC_PEERING");
    assert_eq!(range["addressType"], "INTERNAL");
    assert_eq!(range["prefixLength"], 16);
    assert_eq!(
        range["network"],
        "https://www.googleapis.com/compute/v1/projects/acme-ml-platform/global/networks/default"
    );
    assert_eq!(
        sandbox.resource("vpc-peering default"),
        json!({"reservedPeeringRanges": [RANGE]})
    );
    let instance = sandbox.resource(&format!("sql-instance {}", sandbox.plan.database.instance));
    assert_eq!(
        instance["settings"]["ipConfiguration"],
        json!({"ipv4Enabled": false, "privateNetwork": "projects/acme-ml-platform/global/networks/default"})
    );

    let again = sandbox.infra(&["apply"]).ok();
    again.changed_nothing();
    assert_eq!(again.result("peering"), "exists");
    assert!(
        again.stdout.contains(
            "VPC network default has its private services access connection: the network's, \
             left as it is\n"
        ),
        "{}",
        again.stdout
    );
    assert!(
        !again.stdout.contains("apply makes one"),
        "{}",
        again.stdout
    );
    let planned = sandbox.infra(&["plan", "--detailed-exitcode"]);
    assert_eq!(planned.code, 0, "{}", planned.stdout);

    let destroyed = sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
    assert_eq!(
        destroyed.result("peering"),
        "kept (the network's connection to Google's services, which other instances may use)"
    );
    assert!(sandbox.resources().contains("vpc-peering default"));
    assert!(
        sandbox
            .resources()
            .contains(&format!("address global/{RANGE}"))
    );
    assert!(
        destroyed
            .calls
            .iter()
            .all(|call| !call.line().contains("vpc-peerings") && !call.line().contains(RANGE))
    );
}

/// A network that has its connection (its owner's) gets no range and no peering: the step
/// reads it and changes nothing, and the preflight does not mention making one.
#[test]
fn an_existing_connection_means_no_range_and_no_connect() {
    let sandbox = Sandbox::new(&stack("private-peered"));
    sandbox.seed("service servicenetworking.googleapis.com", json!({}));
    sandbox.seed(
        "vpc-peering default",
        json!({"reservedPeeringRanges": ["google-managed-services-default"]}),
    );
    let plan = sandbox.infra(&["plan"]).ok();
    assert_eq!(plan.result("peering"), "ok");
    assert!(!plan.stdout.contains("apply makes one"), "{}", plan.stdout);
    let run = sandbox.infra(&["apply"]).ok();
    assert_eq!(run.result("peering"), "exists");
    never_ran(&run, &["compute addresses create", "vpc-peerings connect"]);
    assert!(
        !sandbox
            .resources()
            .contains(&format!("address global/{RANGE}"))
    );
    assert_eq!(
        sandbox.resource("vpc-peering default"),
        json!({"reservedPeeringRanges": ["google-managed-services-default"]})
    );
    sandbox.infra(&["apply"]).ok().changed_nothing();
}

/// An address of the range's name that this stack did not make is never connected in its
/// stead: `plan` and `apply` stop in the preflight, before any change.
#[test]
fn a_foreign_range_of_that_name_stops_before_any_change() {
    let sandbox = Sandbox::new(&stack("private-peered"));
    let foreign = json!({"name": RANGE, "address": "10.30.0.0", "addressType": "INTERNAL",
        "purpose": "VPC_PEERING", "prefixLength": 20, "description": "the data team's",
        "network": "https://www.googleapis.com/compute/v1/projects/acme-ml-platform/global/networks/default"});
    sandbox.seed(&format!("address global/{RANGE}"), foreign.clone());
    sandbox.seed("service compute.googleapis.com", json!({}));
    for command in ["plan", "apply"] {
        let run = sandbox.infra(&[command]);
        run.stopped_before_any_change();
        assert_eq!(
            run.stderr,
            format!(
                "infra.sh: the global address {RANGE}, which database.create_peering would \
                 connect to Google's services on network default, exists and was not created \
                 by infra.sh for this stack; infra.sh never connects another's range: nothing \
                 was changed. Delete or rename that address if it is unused, or have the \
                 network's owner make the connection and remove `create_peering` from \
                 [database]\n"
            )
        );
    }
    assert_eq!(
        sandbox.resource(&format!("address global/{RANGE}")),
        foreign
    );
    assert!(!sandbox.resources().contains("vpc-peering default"));
}

/// A run that stopped after the range and before the peering: the next apply connects the
/// range it made, and makes no second one.
#[test]
fn a_failure_between_the_range_and_the_peering_resumes() {
    let sandbox = Sandbox::new(&stack("private-peered"));
    let failed = sandbox.infra_with(&["apply"], &[("FAKE_FAIL", "vpc-peerings connect")]);
    failed.failed_as_injected();
    assert!(
        sandbox
            .resources()
            .contains(&format!("address global/{RANGE}"))
    );
    assert!(!sandbox.resources().contains("vpc-peering default"));
    never_ran(&failed, &["sql instances create"]);

    let resumed = sandbox.infra(&["apply"]).ok();
    assert_eq!(resumed.result("peering"), "created");
    never_ran(&resumed, &["compute addresses create"]);
    assert_eq!(
        sandbox.resource("vpc-peering default"),
        json!({"reservedPeeringRanges": [RANGE]})
    );
    sandbox.infra(&["apply"]).ok().changed_nothing();
}

/// The connection is made on the network the cluster names, not `default`.
#[test]
fn the_connection_is_made_on_the_clusters_network() {
    let sandbox = Sandbox::new(&stack("private-peered"));
    let mut cluster = sandbox.resource(&sandbox.cluster_key());
    cluster["network"] = json!("ml-vpc");
    sandbox.seed(&sandbox.cluster_key(), cluster);
    sandbox.infra(&["apply"]).ok();
    assert!(
        sandbox.resource(&format!("address global/{RANGE}"))["network"]
            .as_str()
            .unwrap()
            .ends_with("/global/networks/ml-vpc")
    );
    assert_eq!(
        sandbox.resource("vpc-peering ml-vpc"),
        json!({"reservedPeeringRanges": [RANGE]})
    );
    assert!(!sandbox.resources().contains("vpc-peering default"));
}

/// Without `create_peering` a network without a connection still stops the preflight, and
/// the message says the key that has apply make it; a cluster that is not VPC-native stops
/// it with `create_peering` too.
#[test]
fn the_preflight_still_stops_what_create_peering_cannot_fix() {
    let scratch = TempDir::new("peering-not-vpc-native");
    let sandbox = Sandbox::new(&stack("private-peered"));
    let mut cluster = sandbox.resource(&sandbox.cluster_key());
    cluster["ipAllocationPolicy"] = json!({});
    sandbox.seed(&sandbox.cluster_key(), cluster);
    let run = sandbox.infra(&["apply"]);
    run.stopped_before_any_change();
    assert!(
        run.stderr
            .contains("GKE cluster ml-platform is not VPC-native"),
        "{}",
        run.stderr
    );

    let without = changed_stack(
        &scratch,
        "private-peered",
        &[("create_peering = true\n", "")],
        "",
    );
    let sandbox = Sandbox::new(&without);
    sandbox.unseed("vpc-peering default");
    let run = sandbox.infra(&["plan"]);
    run.stopped_before_any_change();
    assert!(
        run.stderr
            .ends_with("or set `create_peering = true` in [database] to have apply make it\n"),
        "{}",
        run.stderr
    );
}

/// The fake refuses what Service Networking and Compute Engine refuse: a connect with a
/// range that is not a global VPC_PEERING address on the network, a second connect with
/// other ranges, a VPC_PEERING address without `--global` or `--prefix-length`.
#[test]
fn the_fakes_refuse_what_the_apis_refuse() {
    let sandbox = Sandbox::new(&stack("private-peered"));
    for service in ["servicenetworking.googleapis.com", "compute.googleapis.com"] {
        sandbox.seed(&format!("service {service}"), json!({}));
    }
    let gcloud = |args: &[&str]| gcloud(&sandbox, args);
    let refused = gcloud(&[
        "services",
        "vpc-peerings",
        "connect",
        "--ranges=missing",
        "--network=default",
    ]);
    assert!(
        refused
            .1
            .contains("Allocated IP range 'missing' not found in network."),
        "{refused:?}"
    );
    let regional = gcloud(&[
        "compute",
        "addresses",
        "create",
        "r1",
        "--region=europe-west3",
        "--purpose=VPC_PEERING",
        "--prefix-length=16",
        "--network=default",
    ]);
    assert!(
        regional.1.contains("only allowed for global addresses"),
        "{regional:?}"
    );
    let no_size = gcloud(&[
        "compute",
        "addresses",
        "create",
        "r1",
        "--global",
        "--purpose=VPC_PEERING",
        "--network=default",
    ]);
    assert!(no_size.1.contains("needs --prefix-length"), "{no_size:?}");
    for range in ["r1", "r2"] {
        let made = gcloud(&[
            "compute",
            "addresses",
            "create",
            range,
            "--global",
            "--purpose=VPC_PEERING",
            "--prefix-length=20",
            "--network=default",
        ]);
        assert_eq!(made.0, 0, "{made:?}");
    }
    let again = gcloud(&[
        "compute",
        "addresses",
        "create",
        "r1",
        "--global",
        "--purpose=VPC_PEERING",
        "--prefix-length=20",
        "--network=default",
    ]);
    assert!(again.1.contains("ALREADY_EXISTS"), "{again:?}");
    let connect = |range: &str| {
        gcloud(&[
            "services",
            "vpc-peerings",
            "connect",
            &format!("--ranges={range}"),
            "--network=default",
        ])
    };
    assert_eq!(connect("r1").0, 0);
    let other = connect("r2");
    assert!(
        other
            .1
            .contains("Cannot modify allocated ranges in CreateConnection"),
        "{other:?}"
    );
}

/// The bundle README says what the step does, with the range and its size the script
/// uses, that `destroy` keeps the connection and how its owner removes it, and that the
/// stack makes the connection (not the network's owner) in "Apply".
#[test]
fn the_bundle_readme_says_what_the_step_makes_and_keeps() {
    let sandbox = Sandbox::new(&stack("private-peered"));
    let readme = fs::read_to_string(sandbox.path("bundle/README.md")).unwrap();
    let script = fs::read_to_string(sandbox.path("bundle/infra.sh")).unwrap();
    assert!(script.contains(&format!("readonly PEERING_RANGE={RANGE}\n")));
    assert!(script.contains("readonly PEERING_PREFIX_LENGTH=16\n"));
    assert!(
        readme.contains(&format!(
            "- `peering`: when the VPC network of cluster `ml-platform` has no private services \
             access connection (`database.create_peering = true`), allocates the global address \
             range `{RANGE}` (a /16, purpose `VPC_PEERING`) for Google's services and connects \
             the network to them; a network that has a connection is left as it is."
        )),
        "{readme}"
    );
    assert!(
        readme.contains(&format!(
            "`gcloud services vpc-peerings delete --service=servicenetworking.googleapis.com \
             --network=NETWORK --project=acme-ml-platform` and then `gcloud compute addresses \
             delete {RANGE} --global --project=acme-ml-platform`"
        )),
        "{readme}"
    );
    let keeps = format!(
        "the private services access connection of the cluster's network and its address range \
         `{RANGE}` (`peering`)"
    );
    assert_eq!(readme.matches(&keeps).count(), 2, "{readme}");
    assert!(
        readme.contains("when that network has no\nconnection, `infra.sh` makes one"),
        "{readme}"
    );
    assert!(
        !readme.contains("which the network's owner sets up"),
        "{readme}"
    );

    let private = Sandbox::new(&stack("private"));
    let readme = fs::read_to_string(private.path("bundle/README.md")).unwrap();
    assert!(
        readme.contains("which the network's owner sets up"),
        "{readme}"
    );
    assert!(!readme.contains("`peering`"), "{readme}");
}

/// The stack's range on another network than the cluster's (the cluster moved): connecting
/// it would peer the wrong network, so the preflight stops before any change.
#[test]
fn the_stacks_range_on_another_network_stops_before_any_change() {
    let sandbox = Sandbox::new(&stack("private-peered"));
    let names = &sandbox.plan.names;
    let description = format!(
        "managed-by=mlflow-stack mlflow-stack={} mlflow-stack-id={}",
        names.stack_name, names.stack_id
    );
    sandbox.seed("service compute.googleapis.com", json!({}));
    sandbox.seed(
        &format!("address global/{RANGE}"),
        json!({"name": RANGE, "address": "10.20.0.0", "addressType": "INTERNAL",
               "purpose": "VPC_PEERING", "prefixLength": 16, "description": description,
               "network": "https://www.googleapis.com/compute/v1/projects/acme-ml-platform/global/networks/old-vpc"}),
    );
    let run = sandbox.infra(&["apply"]);
    run.stopped_before_any_change();
    assert_eq!(
        run.stderr,
        format!(
            "infra.sh: the address range {RANGE} that this stack allocated is on network \
             old-vpc, and cluster ml-platform is on network default: nothing was changed. Have \
             the owner of network default make its connection and remove `create_peering` from \
             [database], or run MLflow on a cluster on network old-vpc\n"
        )
    );
}

/// A cluster the stack creates is made on the default network: the preflight, before the
/// cluster exists, says apply makes that network's connection, and apply does, once.
#[test]
fn a_created_cluster_gets_the_default_networks_connection() {
    let scratch = TempDir::new("peering-created-cluster");
    let created = changed_stack(
        &scratch,
        "private-peered",
        &[(
            "name = \"ml-platform\"",
            "name = \"ml-platform\"\ncreate = true",
        )],
        "",
    );
    let sandbox = Sandbox::new(&created);
    let run = sandbox.infra(&["apply"]).ok();
    assert!(
        run.stdout
            .contains("VPC network default of cluster ml-platform has no private services"),
        "{}",
        run.stdout
    );
    assert_eq!(run.result("peering"), "created");
    assert_eq!(
        sandbox.resource("vpc-peering default"),
        json!({"reservedPeeringRanges": [RANGE]})
    );
    sandbox.infra(&["apply"]).ok().changed_nothing();
}
