//! What a fake project must hold, computed from the plan and written out independently of
//! the templates: the results `apply` and `plan` report on an empty project, every resource
//! and IAM binding `apply` makes, and what each `destroy` keeps. These are the tests'
//! oracle; a cluster as the tests seed it is here too.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::{Value, json};

use mlflow_stack::plan::auth::IapAuthPlan;

use super::Sandbox;

/// The client secret the fake Secret Manager holds: it must appear in no argument, no
/// output and no transcript.
pub const OAUTH_CLIENT_SECRET: &str = "GOCSPX-fake-client-secret-7f3a9c";

/// What an administrator does before the first `apply`: the Secret Manager API on (to
/// create the secret) and the OAuth client's secret in it.
pub fn oauth_secret(iap: &IapAuthPlan) -> Vec<(String, Value)> {
    vec![
        ("service secretmanager.googleapis.com".into(), json!({})),
        (
            format!("secret {}", iap.oauth_secret),
            json!({"replication": "automatic", "data": OAUTH_CLIENT_SECRET}),
        ),
    ]
}

/// A Cloud KMS key NAME as `kms keys describe` shows it: a symmetric encryption key whose
/// primary version is enabled.
pub fn kms_key(name: &str) -> Value {
    json!({"name": name, "purpose": "ENCRYPT_DECRYPT",
           "primary": {"name": format!("{name}/cryptoKeyVersions/1"), "state": "ENABLED"}})
}

/// An Autopilot cluster as `gcloud container clusters describe` shows it: Workload
/// Identity with the project's pool, GKE Dataplane V2, HttpLoadBalancing, the Gateway API
/// and Managed Service for Prometheus, all on; VPC-native on the default network.
pub fn autopilot_cluster(project: &str) -> Value {
    json!({
        "status": "RUNNING",
        "subnetwork": "default",
        "network": "default",
        "ipAllocationPolicy": {"useIpAliases": true},
        "autopilot": {"enabled": true},
        "workloadIdentityConfig": {"workloadPool": format!("{project}.svc.id.goog")},
        "addonsConfig": {"httpLoadBalancing": {}},
        "networkConfig": {
            "datapathProvider": "ADVANCED_DATAPATH",
            "gatewayApiConfig": {"channel": "CHANNEL_STANDARD"},
        },
        "monitoringConfig": {"managedPrometheusConfig": {"enabled": true}},
    })
}

/// A Standard cluster with what a bundle needs (zonal clusters are Standard): its nodes
/// pull images as the Compute Engine default service account.
pub fn standard_cluster(project: &str) -> Value {
    let mut cluster = autopilot_cluster(project);
    cluster["autopilot"] = json!({"enabled": false});
    cluster["nodeConfig"] = json!({"serviceAccount": "default"});
    cluster
}

impl Sandbox {
    /// Every step with the result an apply on an empty project must report: a cluster
    /// the stack does not create is adopted.
    pub fn created(&self) -> Vec<(String, String)> {
        self.every_step("created")
    }

    /// Every step with RESULT, but for a cluster the stack does not create (adopted) and
    /// the nodes of an Autopilot cluster, which are left alone (nothing to create).
    pub fn every_step(&self, result: &str) -> Vec<(String, String)> {
        self.plan
            .infra
            .steps
            .iter()
            .map(|step| {
                let result = if step.name() == "cluster" && !self.plan.cluster.create_cluster {
                    "adopted"
                } else if step.name() == "node-pull" && !self.plan.cluster.zonal_cluster {
                    match result {
                        "created" => "exists",
                        "create" => "ok",
                        other => other,
                    }
                } else {
                    result
                };
                (step.to_string(), result.to_owned())
            })
            .collect()
    }

    /// Resources that no `destroy` removes: the prerequisites (a shared namespace among
    /// them), the enabled APIs, the namespace the bundle owns (its `kubectl delete -k`
    /// removes it), the cluster's credentials.
    pub fn always_kept(&self) -> BTreeSet<String> {
        let plan = &self.plan;
        let mut kept: BTreeSet<String> = self
            .prerequisites()
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        kept.extend(plan.infra.services.iter().map(|s| format!("service {s}")));
        if plan.names.owns_namespace {
            kept.insert(format!("k8s Namespace/{}", plan.names.namespace));
        }
        if plan.cluster.gke() && !plan.cluster.create_cluster {
            kept.insert(self.kube_context());
        }
        // Cloud SQL's service agent, once made, is the project's.
        if plan.encryption.is_some() {
            kept.insert("service-identity sqladmin.googleapis.com".into());
        }
        // The private services access connection the stack made, and its range, are the
        // network's: other instances may use them.
        if let Some(peering) = &plan.network.peering {
            kept.insert("vpc-peering default".into());
            kept.insert(format!("address global/{}", peering.range));
        }
        kept
    }

    /// The bindings no `destroy` removes: the service agents' on a customer-managed key,
    /// which infra.sh may not remove (what the key encrypts may stay).
    pub fn kept_grants(&self) -> BTreeSet<[String; 4]> {
        self.grants()
            .into_iter()
            .filter(|[on, ..]| on.starts_with("kms-key "))
            .collect()
    }

    /// The fake's key of the kubeconfig context `gcloud container clusters get-credentials`
    /// writes for the stack's cluster.
    pub fn kube_context(&self) -> String {
        let plan = &self.plan;
        let cluster = plan.cluster.cluster.as_deref().unwrap();
        format!(
            "kube-context gke_{}_{}_{cluster}",
            plan.names.project,
            plan.cluster.cluster_location.as_deref().unwrap()
        )
    }

    /// The data `destroy` keeps unless `--delete-data`: the bucket, the instance, the
    /// database and its user (and the record saying they are the stack's), the password,
    /// the address.
    pub fn data(&self) -> BTreeSet<String> {
        let plan = &self.plan;
        let mut data = BTreeSet::from([
            format!("bucket {}", plan.names.bucket),
            format!("sql-instance {}", plan.database.instance),
            format!(
                "sql-database {}/{}",
                plan.database.instance, plan.database.database
            ),
            format!(
                "sql-user {}/{}",
                plan.database.instance, plan.database.db_user
            ),
            format!("secret {}", plan.names.record_secret),
        ]);
        data.extend(
            plan.database
                .password_secret
                .iter()
                .map(|s| format!("secret {s}")),
        );
        if let Some(gateway) = &plan.gateway {
            // Its DNS record points at it: global, or in the region of an internal gateway.
            let location = gateway.region.as_deref().unwrap_or("global");
            data.insert(format!("address {location}/{}", gateway.address));
        }
        if let Some(basic) = &plan.auth.basic {
            data.insert(format!(
                "sql-database {}/{}",
                plan.database.instance, basic.database
            ));
            data.insert(format!("secret {}", basic.admin_password_secret));
            data.insert(format!("secret {}", basic.flask_key_secret));
        }
        if let Some(ip) = &plan.exposure.static_ip {
            data.insert(format!("address {}/{ip}", plan.names.region));
        }
        data
    }

    /// What `destroy` keeps without `--delete-cluster`: a cluster the stack created, and the
    /// record that names it.
    pub fn owned_cluster(&self) -> BTreeSet<String> {
        let plan = &self.plan;
        if plan.cluster.gke() && plan.cluster.create_cluster {
            BTreeSet::from([
                self.cluster_key(),
                self.kube_context(),
                format!("secret {}", plan.names.record_secret),
            ])
        } else {
            BTreeSet::new()
        }
    }

    /// Every resource of the project after `apply`.
    pub fn everything(&self) -> BTreeSet<String> {
        let plan = &self.plan;
        let mut all = self.always_kept();
        all.extend(self.data());
        all.insert(format!("service-account {}", plan.identity.server_email));
        all.extend(
            plan.identity
                .puller_email
                .iter()
                .chain(&plan.identity.builder_email)
                .map(|e| format!("service-account {e}")),
        );
        if plan.cluster.local() {
            // One key of each account a local stack has (its id is random).
            let keys = self.resources_of(&["service-account-key"]);
            for email in
                std::iter::once(&plan.identity.server_email).chain(&plan.identity.puller_email)
            {
                let of = |key: &&String| key.starts_with(&format!("service-account-key {email}/"));
                assert_eq!(keys.iter().filter(of).count(), 1, "{email}: {keys:?}");
            }
            all.extend(keys);
        }
        if plan.image.build_image {
            all.insert(format!("image {}", plan.image.image));
            if let Some(repository) = &plan.image.repository {
                all.insert(format!("repository {}/{repository}", plan.names.region));
            }
        }
        if plan.cluster.gke() {
            all.insert(self.cluster_key());
            all.insert(self.kube_context());
        }
        if let Some(ip) = &plan.exposure.static_ip {
            all.insert(format!("address {}/{ip}", plan.names.region));
        }
        if let Some(gateway) = &plan.gateway {
            // Global resources by name; an internal gateway's in its region.
            let at = gateway
                .region
                .as_ref()
                .map_or_else(String::new, |region| format!("{region}/"));
            all.insert(format!(
                "dns-authorization {at}{}",
                gateway.dns_authorization
            ));
            all.insert(format!("certificate {at}{}", gateway.certificate));
            let location = gateway.region.as_deref().unwrap_or("global");
            all.insert(format!("ssl-policy {location}/{}", gateway.ssl_policy));
            if let Some(armor) = &gateway.armor {
                all.insert(format!("security-policy {}", armor.policy));
            }
            if let (Some(map), Some(entry)) =
                (&gateway.certificate_map, &gateway.certificate_map_entry)
            {
                all.insert(format!("certificate-map {map}"));
                all.insert(format!("certificate-map-entry {map}/{entry}"));
            }
        }
        for secret in &plan.names.k8s_secrets {
            all.insert(format!("k8s Secret/{}/{secret}", plan.names.namespace));
        }
        if let Some(basic) = &plan.auth.basic {
            for secret in [
                &basic.admin_password_k8s_secret,
                &basic.flask_key_k8s_secret,
            ] {
                all.insert(format!("k8s Secret/{}/{secret}", plan.names.namespace));
            }
        }
        if let Some(iap) = &plan.auth.iap {
            for secret in [&iap.oauth_k8s_secret, &iap.project_k8s_secret] {
                all.insert(format!("k8s Secret/{}/{secret}", plan.names.namespace));
            }
        }
        all
    }

    /// Every IAM binding `apply` grants, as `[resource, role, member, condition title]`:
    /// the Cloud SQL roles only on the stack's instance.
    pub fn grants(&self) -> BTreeSet<[String; 4]> {
        let plan = &self.plan;
        let server = format!("serviceAccount:{}", plan.identity.server_email);
        let project = format!("project {}", plan.names.project);
        let on_instance = plan.database.sql_condition_title.clone();
        let mut grants = BTreeSet::from([
            [
                format!("bucket {}", plan.names.bucket),
                "roles/storage.objectUser".into(),
                server.clone(),
                String::new(),
            ],
            [
                project.clone(),
                "roles/cloudsql.client".into(),
                server.clone(),
                on_instance.clone(),
            ],
        ]);
        if plan.database.iam_auth {
            grants.insert([
                project.clone(),
                "roles/cloudsql.instanceUser".into(),
                server,
                on_instance,
            ]);
        }
        if let Some(puller) = &plan.identity.puller_email {
            let on = plan
                .image
                .repository
                .as_ref()
                .map_or(project, |repository| {
                    format!("repository {}/{repository}", plan.names.region)
                });
            grants.insert([
                on,
                "roles/artifactregistry.reader".into(),
                format!("serviceAccount:{puller}"),
                String::new(),
            ]);
        }
        // The builder: the staged source and its logs in the bucket, the image's repository
        // (or the project's gcr.io repository, created on push).
        if let Some(builder) = &plan.identity.builder_email {
            let member = format!("serviceAccount:{builder}");
            for role in ["roles/storage.objectViewer", "roles/storage.objectCreator"] {
                grants.insert([
                    format!("bucket {}", plan.names.bucket),
                    role.into(),
                    member.clone(),
                    String::new(),
                ]);
            }
            grants.insert(match &plan.image.repository {
                Some(repository) => [
                    format!("repository {}/{repository}", plan.names.region),
                    "roles/artifactregistry.writer".into(),
                    member,
                    String::new(),
                ],
                None => [
                    format!("project {}", plan.names.project),
                    "roles/artifactregistry.createOnPushWriter".into(),
                    member,
                    String::new(),
                ],
            });
        }
        // The nodes of a Standard (zonal) cluster pull the image as the Compute Engine
        // default service account: it may read the stack's repository.
        if let (true, true, Some(repository)) = (
            plan.cluster.zonal_cluster,
            plan.image.build_image,
            &plan.image.repository,
        ) {
            grants.insert([
                format!("repository {}/{repository}", plan.names.region),
                "roles/artifactregistry.reader".into(),
                format!(
                    "serviceAccount:{}-compute@developer.gserviceaccount.com",
                    self.project_number()
                ),
                String::new(),
            ]);
        }
        if let Some(member) = &plan.identity.workload_identity_member {
            grants.insert([
                format!("service-account {}", plan.identity.server_email),
                "roles/iam.workloadIdentityUser".into(),
                member.clone(),
                String::new(),
            ]);
        }
        if let Some(encryption) = &plan.encryption {
            let number = self.project_number();
            for agent in ["gs-project-accounts", "gcp-sa-cloud-sql"] {
                grants.insert([
                    format!("kms-key {}", encryption.kms_key),
                    "roles/cloudkms.cryptoKeyEncrypterDecrypter".into(),
                    format!("serviceAccount:service-{number}@{agent}.iam.gserviceaccount.com"),
                    String::new(),
                ]);
            }
        }
        if let Some(gateway) = &plan.gateway {
            for member in &gateway.iap_members {
                grants.insert([
                    format!("iap-web {}", plan.names.project),
                    "roles/iap.httpsResourceAccessor".into(),
                    member.clone(),
                    gateway.host.clone(),
                ]);
            }
        }
        grants
    }

    /// The key files `apply` writes for a local stack (none for a gke one).
    pub fn key_files(&self) -> Vec<PathBuf> {
        let plan = &self.plan;
        let Some(dir) = &plan.cluster.credentials_dir else {
            return vec![];
        };
        // Without git, beside the bundle: the sandbox's root.
        let dir = self.dir.path().join(dir);
        let mut files = vec![dir.join(format!("{}.json", plan.identity.server_account))];
        files.extend(
            plan.identity
                .puller_account
                .iter()
                .map(|a| dir.join(format!("{a}.json"))),
        );
        files
    }
}
