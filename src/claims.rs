//! After [`plan`](crate::plan): what a stack takes for itself, in Google Cloud and in its
//! cluster. Two stacks given to one `check` or `build` may not share any of it: `infra.sh`
//! of one would change or delete what the other created.

use std::collections::BTreeMap;

use crate::plan::Plan;

/// One thing a stack takes: KEY identifies it among all stacks, WHAT names it for people,
/// FIX says how the stack file gives it another one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub key: String,
    pub what: String,
    pub fix: &'static str,
}

impl Claim {
    fn new(key: String, what: String, fix: &'static str) -> Self {
        Self { key, what, fix }
    }
}

/// What the stack of PLAN takes: its name in its project (every derived resource id: the
/// record, the instance, the service accounts, the secrets, the addresses), its bucket
/// (names are global), its database on its instance, and its Kubernetes objects (same
/// cluster, namespace and name), with the namespace itself when the bundle owns it.
#[must_use]
pub fn claims(plan: &Plan) -> Vec<Claim> {
    let project = &plan.names.project;
    let name = &plan.names.stack_name;
    let cluster = match (&plan.cluster.cluster, &plan.cluster.cluster_location) {
        (Some(cluster), Some(location)) => {
            format!("GKE cluster {cluster} in {location} of project {project}")
        }
        // kubectl's current context: taken as one cluster per project.
        _ => format!("the local cluster of project {project}"),
    };
    let mut claims = vec![
        Claim::new(
            format!("name {project}/{name}"),
            format!(
                "the name {name} in project {project} (its record, instance, service accounts, secrets)"
            ),
            "give one of them another `name`",
        ),
        Claim::new(
            format!("bucket {}", plan.names.bucket),
            format!("bucket gs://{}", plan.names.bucket),
            "give one of them another `bucket`",
        ),
        Claim::new(
            format!(
                "database {project}/{}/{}",
                plan.database.instance, plan.database.database
            ),
            format!(
                "database {} on Cloud SQL instance {} of project {project}",
                plan.database.database, plan.database.instance
            ),
            "give one of them another `database.database` or `database.instance`",
        ),
        Claim::new(
            format!("k8s {cluster}/{}/{name}", plan.names.namespace),
            format!(
                "the Kubernetes objects {}, {}, … in namespace {} on {cluster}",
                plan.names.workload, plan.names.config_map, plan.names.namespace
            ),
            "give one of them another `name` or `namespace`",
        ),
    ];
    if plan.names.owns_namespace {
        claims.push(Claim::new(
            format!("namespace {cluster}/{}", plan.names.namespace),
            format!(
                "namespace {} on {cluster}, which each bundle creates and deletes",
                plan.names.namespace
            ),
            "give one of them another `namespace`, or mark it shared (`namespace_shared = true`) in both",
        ));
    }
    claims
}

/// A thing two stacks (by their index among those given) would both take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub first: usize,
    pub second: usize,
    pub claim: Claim,
}

/// Every pair of stacks that would share something, for each thing shared, in the order
/// of the stacks. `None` for a stack that did not compile.
#[must_use]
pub fn conflicts(stacks: &[Option<Vec<Claim>>]) -> Vec<Conflict> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut found = Vec::new();
    for (index, claims) in stacks.iter().enumerate() {
        for claim in claims.iter().flatten() {
            match seen.get(claim.key.as_str()) {
                Some(&first) if first != index => found.push(Conflict {
                    first,
                    second: index,
                    claim: claim.clone(),
                }),
                Some(_) => {}
                None => {
                    seen.insert(&claim.key, index);
                }
            }
        }
    }
    found
}
