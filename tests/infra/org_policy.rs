//! Organization policies first: the preflight of `plan` and `apply` reads the project's
//! effective policy of each constraint the stack could break and stops before any change
//! when one refuses the stack, naming the constraint, why and the stack change that fits;
//! a caller who may not read a policy gets a warning. The fake keeps each policy in the
//! Resource Manager v1 `Policy` shape and refuses what the real services refuse (a public
//! IP under `sql.restrictPublicIp`, a key under `iam.disableServiceAccountKeyCreation`).

use super::*;

/// The effective policy of CONSTRAINT on the fake project (v1 `Policy`: `booleanPolicy`
/// or `listPolicy`).
fn set_policy(sandbox: &Sandbox, constraint: &str, policy: Value) {
    sandbox.seed(&format!("org-policy {constraint}"), policy);
}

fn enforce(sandbox: &Sandbox, constraint: &str) {
    set_policy(
        sandbox,
        constraint,
        json!({"booleanPolicy": {"enforced": true}}),
    );
}

/// A run that stopped before its first change, naming the organization policies of the
/// project, with each of REFUSALS (a line of the list) on stderr.
fn refused(run: &Run, project: &str, refusals: &[&str]) {
    assert_eq!(run.code, 1, "{run:#?}");
    let expected = format!(
        "infra.sh: organization policies of project {project} refuse what this stack creates; \
         nothing was changed:\n{}",
        refusals
            .iter()
            .flat_map(|refusal| ["  - ", refusal, "\n"])
            .collect::<String>()
    );
    assert!(run.stderr.ends_with(&expected), "{}", run.stderr);
    run.changed_nothing();
}

const PUBLIC_IP_REFUSED: &str = "constraints/sql.restrictPublicIp forbids a public IP on Cloud \
    SQL instance mlflow-db, and the stack's database is public: set `ip = \"private\"` in \
    [database] (a private IP on the cluster's network)";

/// A project that forbids public IPs on Cloud SQL: `plan` and `apply` of a stack with a
/// public database stop in the preflight, naming the constraint and `ip = "private"`,
/// before the bucket or an account exists.
#[test]
fn a_public_database_under_restrict_public_ip_stops_before_any_change() {
    let sandbox = Sandbox::new(&stack("example"));
    enforce(&sandbox, "sql.restrictPublicIp");
    for command in ["plan", "apply"] {
        let run = sandbox.infra(&[command]);
        refused(&run, "acme-ml-prod", &[PUBLIC_IP_REFUSED]);
        assert!(
            run.calls.iter().any(|call| call.starts_with(
                "gcloud resource-manager org-policies describe sql.restrictPublicIp \
                 --project=acme-ml-prod --effective"
            )),
            "{}",
            run.transcript
        );
    }
    assert_eq!(
        sandbox.resources_of(&["bucket", "sql-instance", "service-account"]),
        Vec::<String>::new()
    );
}

/// Without the preflight's reading (a caller without `orgpolicy.policy.get`: a warning
/// per constraint, not a failure) the same apply runs until Cloud SQL refuses the public
/// IP, with Cloud SQL's error, after the bucket was made: what the preflight prevents.
#[test]
fn without_the_right_to_read_policies_apply_warns_and_cloud_sql_refuses_mid_way() {
    let sandbox = Sandbox::new(&stack("example"));
    enforce(&sandbox, "sql.restrictPublicIp");
    sandbox.seed(
        "denied resource-manager org-policies describe",
        json!({"permission": "orgpolicy.policy.get"}),
    );
    let run = sandbox.infra(&["apply"]);
    assert_eq!(run.code, 1, "{}", run.transcript);
    for constraint in [
        "gcp.resourceLocations",
        "sql.restrictPublicIp",
        "storage.uniformBucketLevelAccess",
    ] {
        assert!(
            run.stderr.contains(&format!(
                "infra.sh: warning: cannot read the organization policy constraints/{constraint} \
                 (it takes orgpolicy.policy.get, in roles/orgpolicy.policyViewer): not checked\n"
            )),
            "{}",
            run.stderr
        );
    }
    assert!(
        run.stderr.contains(&format!(
            "HTTPError 400: Invalid request: Organization Policy check failure: the external IP \
             of this instance violates the constraints/sql.restrictPublicIp enforced at the {} \
             project.",
            sandbox.project_number()
        )),
        "{}",
        run.stderr
    );
    assert_eq!(run.result("bucket"), "created");
    assert!(
        run.mutating()
            .iter()
            .any(|line| line.starts_with("gcloud storage buckets create")),
        "{:#?}",
        run.mutating()
    );
    assert_eq!(
        sandbox.resources_of(&["sql-instance"]),
        Vec::<String>::new()
    );
}

/// The constraint is not retroactive: an instance that has its public IP already is used
/// as it is, and apply goes on.
#[test]
fn restrict_public_ip_does_not_refuse_an_instance_that_exists() {
    let sandbox = Sandbox::new(&stack("example"));
    sandbox.infra(&["apply"]).ok();
    enforce(&sandbox, "sql.restrictPublicIp");
    let run = sandbox.infra(&["apply"]).ok();
    run.changed_nothing();
}

/// `gcp.resourceLocations` as a list policy: literal values, `is:` values and the `in:`
/// value groups (a region's group, a multi-region group); denied values win; an unknown
/// group is a warning that it cannot be checked.
#[test]
fn resource_locations_are_read_with_their_value_groups() {
    let sandbox = Sandbox::new(&stack("example"));
    let refusal = |allowed: &str, denied: &str| {
        format!(
            "constraints/gcp.resourceLocations does not admit europe-west3, where this stack \
             creates its bucket, database, registry: choose a `region` the policy admits \
             (allowed: {allowed}; denied: {denied})"
        )
    };
    let cases = [
        (
            json!({"allowedValues": ["in:us-locations"]}),
            Some(refusal("in:us-locations", "none")),
        ),
        (
            json!({"allowedValues": ["in:us-east1-locations", "is:us-west1"]}),
            Some(refusal("in:us-east1-locations;is:us-west1", "none")),
        ),
        (
            json!({"deniedValues": ["in:europe-west3-locations"]}),
            Some(refusal("none", "in:europe-west3-locations")),
        ),
        (
            json!({"allowedValues": ["in:europe-locations"], "deniedValues": ["europe-west3"]}),
            Some(refusal("in:europe-locations", "europe-west3")),
        ),
        (json!({"allValues": "DENY"}), Some(refusal("none", "none"))),
        (json!({"allowedValues": ["in:europe-locations"]}), None),
        (
            json!({"allowedValues": ["in:europe-west3-locations"]}),
            None,
        ),
        (json!({"allowedValues": ["is:europe-west3"]}), None),
        (json!({"allValues": "ALLOW"}), None),
    ];
    for (list, refusal) in cases {
        set_policy(
            &sandbox,
            "gcp.resourceLocations",
            json!({"listPolicy": list}),
        );
        let run = sandbox.infra(&["plan"]);
        match refusal {
            Some(refusal) => refused(&run, "acme-ml-prod", &[&refusal]),
            None => assert_eq!(run.code, 0, "{list}: {}", run.stderr),
        }
    }
    set_policy(
        &sandbox,
        "gcp.resourceLocations",
        json!({"listPolicy": {"allowedValues": ["in:eu-locations"]}}),
    );
    let run = sandbox.infra(&["plan"]).ok();
    assert_eq!(
        run.stderr,
        "infra.sh: warning: constraints/gcp.resourceLocations names the value group \
         in:eu-locations, which infra.sh cannot resolve: check yourself that it holds \
         europe-west3\n"
    );
}

/// A cluster the stack creates in a zone is checked at its zone, in its region's group.
#[test]
fn the_location_of_a_created_cluster_is_checked_too() {
    let scratch = TempDir::new("org-policy-zonal");
    let zonal = changed_stack(
        &scratch,
        "production",
        &[("create = true", "create = true\nlocation = \"us-east1-b\"")],
        "",
    );
    let sandbox = Sandbox::new(&zonal);
    set_policy(
        &sandbox,
        "gcp.resourceLocations",
        json!({"listPolicy": {"allowedValues": ["in:europe-west4-locations"]}}),
    );
    refused(
        &sandbox.infra(&["apply"]),
        "acme-ml-prod",
        &[
            "constraints/gcp.resourceLocations does not admit us-east1-b, where this stack \
           creates its bucket, database, registry and cluster: choose a `region` (and \
           `cluster.location`) the policy admits (allowed: in:europe-west4-locations; \
           denied: none)",
        ],
    );
    set_policy(
        &sandbox,
        "gcp.resourceLocations",
        json!({"listPolicy": {"allowedValues": ["in:europe-west4-locations", "in:us-east1-locations"]}}),
    );
    assert_eq!(sandbox.infra(&["plan"]).code, 0);
}

/// `compute.restrictLoadBalancerCreationForTypes`: the external gateway is a global
/// external Application Load Balancer, the internal one a regional internal Application
/// Load Balancer, a LoadBalancer Service on gke an external passthrough Network Load
/// Balancer; `in:EXTERNAL` and `in:INTERNAL` group them.
#[test]
fn a_load_balancer_type_the_organization_restricts_is_refused() {
    let external_refused = "constraints/compute.restrictLoadBalancerCreationForTypes does not \
        admit GLOBAL_EXTERNAL_MANAGED_HTTP_HTTPS, the external gateway (a global external \
        Application Load Balancer), so GKE could never create it: use `scope = \"internal\"` \
        in [expose] (with `proxy_subnet`), or `type = \"cluster-ip\"`";
    let team = Sandbox::new(&stack("team"));
    for list in [
        json!({"allowedValues": ["in:INTERNAL"]}),
        json!({"deniedValues": ["in:EXTERNAL"]}),
        json!({"deniedValues": ["GLOBAL_EXTERNAL_MANAGED_HTTP_HTTPS"]}),
    ] {
        set_policy(
            &team,
            "compute.restrictLoadBalancerCreationForTypes",
            json!({"listPolicy": list}),
        );
        refused(&team.infra(&["plan"]), "acme-ml-prod", &[external_refused]);
    }
    set_policy(
        &team,
        "compute.restrictLoadBalancerCreationForTypes",
        json!({"listPolicy": {"allowedValues": ["in:EXTERNAL"]}}),
    );
    assert_eq!(team.infra(&["plan"]).code, 0);

    let internal = Sandbox::new(&stack("team-internal"));
    set_policy(
        &internal,
        "compute.restrictLoadBalancerCreationForTypes",
        json!({"listPolicy": {"allowedValues": ["in:INTERNAL"]}}),
    );
    assert_eq!(internal.infra(&["plan"]).code, 0);
    set_policy(
        &internal,
        "compute.restrictLoadBalancerCreationForTypes",
        json!({"listPolicy": {"deniedValues": ["INTERNAL_HTTP_HTTPS"]}}),
    );
    refused(
        &internal.infra(&["plan"]),
        "acme-ml-prod",
        &[
            "constraints/compute.restrictLoadBalancerCreationForTypes does not admit \
           INTERNAL_HTTP_HTTPS, the internal gateway (a regional internal Application Load \
           Balancer), so GKE could never create it: use `type = \"cluster-ip\"` in [expose], \
           or ask for an exemption",
        ],
    );

    let scratch = TempDir::new("org-policy-lb");
    let service = changed_stack(
        &scratch,
        "example",
        &[],
        "[expose]\ntype = \"load-balancer\"\nallow = [\"203.0.113.0/24\"]\n\n[auth]\nkind = \"none\"\n\n[server]\nallowed_hosts = [\"mlflow.acme.example:8080\"]",
    );
    let service = Sandbox::new(&service);
    set_policy(
        &service,
        "compute.restrictLoadBalancerCreationForTypes",
        json!({"listPolicy": {"allowedValues": ["in:INTERNAL"]}}),
    );
    refused(
        &service.infra(&["plan"]),
        "acme-ml-prod",
        &[
            "constraints/compute.restrictLoadBalancerCreationForTypes does not admit \
           EXTERNAL_NETWORK_TCP_UDP, the LoadBalancer Service (an external passthrough Network \
           Load Balancer), so GKE could never create it: use `type = \"gateway\"` with \
           `scope = \"internal\"` in [expose], or `type = \"cluster-ip\"`",
        ],
    );
}

/// `iam.allowedPolicyMemberDomains` lists customer ids, which nothing maps to a member's
/// domain here: a list is a warning naming the IAP members to check; a policy that admits
/// no member at all refuses the stack.
#[test]
fn iap_members_under_allowed_policy_member_domains() {
    let sandbox = Sandbox::new(&stack("team"));
    set_policy(
        &sandbox,
        "iam.allowedPolicyMemberDomains",
        json!({"listPolicy": {"allowedValues": ["C03xgje4y"]}}),
    );
    let run = sandbox.infra(&["plan"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "infra.sh: warning: constraints/iam.allowedPolicyMemberDomains admits only the customer \
         ids C03xgje4y; infra.sh cannot tell which customer a member belongs to: check that \
         group:ml-team@acme.example belong to one (Google Admin console, Account settings), or \
         granting them IAP access fails\n"
    );
    set_policy(
        &sandbox,
        "iam.allowedPolicyMemberDomains",
        json!({"listPolicy": {"allValues": "DENY"}}),
    );
    refused(
        &sandbox.infra(&["apply"]),
        "acme-ml-prod",
        &[
            "constraints/iam.allowedPolicyMemberDomains admits no member, and this stack grants \
           IAP access to group:ml-team@acme.example: ask an organization policy administrator \
           to admit your organization's customer id, or use `kind = \"basic\"` in [auth]",
        ],
    );
}

/// The bucket's constraints are met by what the bucket step creates: `plan` says so.
#[test]
fn the_bucket_satisfies_its_constraints_and_plan_says_so() {
    let sandbox = Sandbox::new(&stack("example"));
    enforce(&sandbox, "storage.uniformBucketLevelAccess");
    enforce(&sandbox, "storage.publicAccessPrevention");
    let run = sandbox.infra(&["plan"]).ok();
    assert!(
        run.stdout.contains(
            "organization policy constraints/storage.uniformBucketLevelAccess: satisfied \
             (bucket gs://acme-ml-prod-mlflow has uniform bucket-level access)\n\
             organization policy constraints/storage.publicAccessPrevention: satisfied \
             (bucket gs://acme-ml-prod-mlflow enforces public access prevention)\n"
        ),
        "{}",
        run.stdout
    );
    sandbox.infra(&["apply"]).ok();
}

/// Every constraint that refuses the stack is named at once: a local stack in a region
/// outside the allowed ones, with a key file and a public database.
#[test]
fn every_refusal_is_named_at_once() {
    let sandbox = Sandbox::new(&stack("local"));
    set_policy(
        &sandbox,
        "gcp.resourceLocations",
        json!({"listPolicy": {"allowedValues": ["in:us-locations"]}}),
    );
    enforce(&sandbox, "iam.disableServiceAccountKeyCreation");
    enforce(&sandbox, "sql.restrictPublicIp");
    let region = sandbox.plan.names.region.clone();
    let instance = sandbox.plan.database.instance.clone();
    refused(
        &sandbox.infra(&["apply"]),
        "acme-ml-dev",
        &[
            &format!(
                "constraints/gcp.resourceLocations does not admit {region}, where this stack \
                 creates its bucket, database, registry: choose a `region` the policy admits \
                 (allowed: in:us-locations; denied: none)"
            ),
            "constraints/iam.disableServiceAccountKeyCreation forbids service account keys, \
             and a local stack gives its server a key file: ask an organization policy \
             administrator to exempt project acme-ml-dev, or run MLflow on GKE (`environment = \
             \"gke\"`), where Workload Identity needs no key",
            &format!(
                "constraints/sql.restrictPublicIp forbids a public IP on Cloud SQL instance \
                 {instance}, which a local cluster reaches through its public IP: ask an \
                 organization policy administrator to exempt project acme-ml-dev, or run MLflow \
                 on GKE (`environment = \"gke\"`) with `ip = \"private\"` in [database]"
            ),
        ],
    );
}
