//! The IAM roles the person running `infra.sh` needs on the project, derived from the
//! steps the stack has: each step's gcloud commands need the predefined roles listed for
//! it here (from Google Cloud's role references, e.g.
//! <https://cloud.google.com/iam/docs/roles-permissions/container>), and the record of what
//! `apply` created lives in Secret Manager whatever the steps. `roles/owner` holds them all.

use serde::Serialize;

use super::steps::Step;

/// One role, and the steps (or `record`) that need it, in the order `apply` first needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperatorRole {
    pub role: &'static str,
    pub needed_by: Vec<&'static str>,
}

/// The predefined roles a step's commands need. `create_cluster`: the `cluster` step
/// creates the cluster (else it only reads it); `gke`: `secrets` writes Kubernetes Secrets
/// into a GKE cluster (on a local cluster kubectl needs no Google role);
/// `private_database`: `sql-instance` reads the private services access connection of the
/// network the instance takes its private IP on.
#[must_use]
pub fn of_step(
    step: Step,
    create_cluster: bool,
    gke: bool,
    private_database: bool,
) -> &'static [&'static str] {
    match step {
        Step::SqlInstance if private_database => {
            &["roles/cloudsql.admin", "roles/servicenetworking.admin"]
        }
        Step::Services => &["roles/serviceusage.serviceUsageAdmin"],
        // Cloud SQL's service agent, and the bindings on the key (its policy: in the key's
        // project, which may be another, the role is needed on the key).
        Step::EncryptionKey => &[
            "roles/serviceusage.serviceUsageAdmin",
            "roles/cloudkms.admin",
        ],
        Step::Bucket => &["roles/storage.admin"],
        Step::SqlInstance | Step::Database | Step::DbUser | Step::Backup | Step::AuthDatabase => {
            &["roles/cloudsql.admin"]
        }
        // Creating the account, and (workload-identity) the binding on it.
        Step::ServiceAccount | Step::WorkloadIdentity => &["roles/iam.serviceAccountAdmin"],
        // Conditional bindings on the project, and the binding on the bucket.
        Step::Iam => &[
            "roles/resourcemanager.projectIamAdmin",
            "roles/storage.admin",
        ],
        Step::Registry => &["roles/artifactregistry.admin"],
        // Cloud Build from a source staged in the bucket, run as the stack's builder account
        // (`iam.serviceAccounts.actAs` on it); destroy deletes the tags it built.
        Step::Image => &[
            "roles/cloudbuild.builds.editor",
            "roles/storage.admin",
            "roles/artifactregistry.admin",
            "roles/iam.serviceAccountUser",
        ],
        // Reads the node pool's account (as `cluster` does), then grants it read access on the
        // repository.
        Step::NodePull if create_cluster => &["roles/artifactregistry.admin"],
        Step::NodePull => &[
            "roles/container.clusterViewer",
            "roles/artifactregistry.admin",
        ],
        Step::Cluster if create_cluster => &["roles/container.admin"],
        Step::Cluster => &["roles/container.clusterViewer"],
        // The addresses; `peering` allocates its range and makes the connection
        // (https://cloud.google.com/vpc/docs/configure-private-services-access#permissions).
        Step::StaticIp | Step::GatewayAddress | Step::Peering => &["roles/compute.networkAdmin"],
        Step::SslPolicy => &["roles/compute.loadBalancerAdmin"],
        // https://cloud.google.com/armor/docs/configure-security-policies: creating,
        // changing and deleting a policy and its rules.
        Step::SecurityPolicy => &["roles/compute.securityAdmin"],
        Step::Certificate => &["roles/certificatemanager.editor"],
        Step::Iap => &["roles/iap.admin"],
        Step::Keys => &["roles/iam.serviceAccountKeyAdmin"],
        Step::Secrets | Step::AuthSecret if gke => {
            &["roles/secretmanager.admin", "roles/container.developer"]
        }
        // Secrets generated into Secret Manager; on a local cluster, copied by kubectl.
        Step::DbPassword | Step::AuthSecrets | Step::Secrets | Step::AuthSecret => {
            &["roles/secretmanager.admin"]
        }
    }
}

/// Every role the steps need, each once, with the steps that need it; the Secret Manager
/// record of what `apply` created needs `roles/secretmanager.admin` in every stack.
#[must_use]
pub fn operator_roles(
    steps: &[Step],
    create_cluster: bool,
    gke: bool,
    private_database: bool,
) -> Vec<OperatorRole> {
    let mut roles: Vec<OperatorRole> = Vec::new();
    let mut need =
        |role: &'static str, by: &'static str| match roles.iter_mut().find(|r| r.role == role) {
            Some(found) => found.needed_by.push(by),
            None => roles.push(OperatorRole {
                role,
                needed_by: vec![by],
            }),
        };
    for &step in steps {
        for role in of_step(step, create_cluster, gke, private_database) {
            need(role, step.name());
        }
    }
    need("roles/secretmanager.admin", "record");
    roles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_needs_secret_manager() {
        let roles = operator_roles(&[Step::Services, Step::Iam], false, true, false);
        assert_eq!(
            roles.iter().map(|r| r.role).collect::<Vec<_>>(),
            [
                "roles/serviceusage.serviceUsageAdmin",
                "roles/resourcemanager.projectIamAdmin",
                "roles/storage.admin",
                "roles/secretmanager.admin",
            ]
        );
        assert_eq!(roles[3].needed_by, ["record"]);
    }
}
