//! The registry of `infra.sh` steps: one [`Step`] per cloud resource `infra.sh` manages,
//! in apply order. Each step knows its name, its script template
//! (`templates/infra/steps/NAME.sh.j2`: its `step_*` and `undo_*` functions), its bullet in
//! the bundle's README (`templates/readme/steps/NAME.md.j2`), when a plan has it, and what
//! `destroy` does with it. The plan's step list, the script's templates and dispatch, the
//! README's step and keep lists, the operator's roles and the bindings all read it.

use std::fmt;

use serde::{Serialize, Serializer};

/// What `destroy` does with what a step created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destroy {
    /// Never deleted: the APIs may serve other workloads.
    Kept,
    /// Data, and what clients may know (an address): deleted only with `--delete-data`.
    KeptUnlessDeleteData,
    /// Deleted only with `--delete-cluster` (and only when `infra.sh` created it).
    KeptUnlessDeleteCluster,
    /// Deleted when this stack created it.
    DeletedWhenOwned,
}

/// What decides which steps a plan has.
#[derive(Debug, Clone, Copy, Default)]
#[allow(clippy::struct_excessive_bools)]
pub struct Facts {
    /// The environment is GKE (else a local cluster).
    pub gke: bool,
    /// The database login is the server's IAM user (no password).
    pub iam_auth: bool,
    /// `infra.sh` builds the image (no `registry.image`).
    pub build_image: bool,
    /// The image goes to the stack's own Artifact Registry repository.
    pub artifact_registry: bool,
    /// A reserved address for the load balancer.
    pub static_ip: bool,
    /// MLflow's basic-auth app signs users in.
    pub basic_auth: bool,
    /// A GKE Gateway exposes the server.
    pub gateway: bool,
    /// IAP signs users in (through the gateway).
    pub iap: bool,
    /// A customer-managed key encrypts the bucket and the instance.
    pub encryption: bool,
    /// The stack makes the private services access connection of its private database's
    /// network when it has none (`database.create_peering`).
    pub peering: bool,
    /// A Cloud Armor security policy guards the gateway.
    pub security_policy: bool,
}

macro_rules! steps {
    ($(
        $(#[$doc:meta])*
        $variant:ident = $name:literal, fn $function:ident, $destroy:ident, |$facts:ident| $when:expr;
    )*) => {
        /// An `infra.sh` step. The variants are in apply order; `destroy` runs them backwards.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Step {
            $($(#[$doc])* $variant,)*
        }

        impl Step {
            /// Every step, in apply order.
            pub const ALL: &[Step] = &[$(Step::$variant),*];

            /// The name `infra.sh` prints and takes (`apply STEP`).
            #[must_use]
            pub const fn name(self) -> &'static str {
                match self {
                    $(Step::$variant => $name,)*
                }
            }

            /// The suffix of the step's shell functions: `step_FUNCTION` applies it and
            /// `undo_FUNCTION` destroys it.
            #[must_use]
            pub const fn function(self) -> &'static str {
                match self {
                    $(Step::$variant => stringify!($function),)*
                }
            }

            /// The step's templates, each by name and source: its script's (its `step_*`
            /// and `undo_*` functions), then its README's (its bullet in the list of steps,
            /// and with `kept` defined, what `destroy` keeps).
            const fn templates(self) -> [(&'static str, &'static str); 2] {
                match self {
                    $(Step::$variant => [
                        (
                            concat!("infra/steps/", $name, ".sh.j2"),
                            include_str!(concat!("../templates/infra/steps/", $name, ".sh.j2")),
                        ),
                        (
                            concat!("readme/steps/", $name, ".md.j2"),
                            include_str!(concat!("../templates/readme/steps/", $name, ".md.j2")),
                        ),
                    ],)*
                }
            }

            /// What `destroy` does with what the step created.
            #[must_use]
            pub const fn destroy(self) -> Destroy {
                match self {
                    $(Step::$variant => Destroy::$destroy,)*
                }
            }

            /// Whether a plan with these facts has the step.
            #[must_use]
            pub const fn in_plan(self, facts: &Facts) -> bool {
                match self {
                    $(Step::$variant => {
                        let $facts = facts;
                        $when
                    })*
                }
            }
        }
    };
}

steps! {
    /// Enables the Google APIs.
    Services = "services", fn services, Kept, |_f| true;
    /// The service agents' access to the customer-managed key, before the bucket and the
    /// instance are created with it. The key and that access are its owners': kept.
    EncryptionKey = "encryption-key", fn encryption_key, Kept, |f| f.encryption;
    Bucket = "bucket", fn bucket, KeptUnlessDeleteData, |_f| true;
    /// The private services access connection of the network the private instance takes
    /// its IP on, before the instance: it serves every Google service on that network,
    /// other teams' included, so it is the network's and `destroy` keeps it.
    Peering = "peering", fn peering, Kept, |f| f.peering;
    SqlInstance = "sql-instance", fn sql_instance, KeptUnlessDeleteData, |_f| true;
    Database = "database", fn database, KeptUnlessDeleteData, |_f| true;
    ServiceAccount = "service-account", fn service_account, DeletedWhenOwned, |_f| true;
    Iam = "iam", fn iam, DeletedWhenOwned, |_f| true;
    /// The generated database password (password login only).
    DbPassword = "db-password", fn db_password, KeptUnlessDeleteData, |f| !f.iam_auth;
    DbUser = "db-user", fn db_user, KeptUnlessDeleteData, |_f| true;
    /// The basic-auth user store: after the database user, so that `destroy --delete-data`,
    /// in reverse, drops it before the user that owns its tables.
    AuthDatabase = "auth-database", fn auth_database, KeptUnlessDeleteData, |f| f.basic_auth;
    AuthSecrets = "auth-secrets", fn auth_secrets, KeptUnlessDeleteData, |f| f.basic_auth;
    Backup = "backup", fn backup, DeletedWhenOwned, |_f| true;
    Registry = "registry", fn registry, DeletedWhenOwned,
        |f| f.build_image && f.artifact_registry;
    Image = "image", fn image, DeletedWhenOwned, |f| f.build_image;
    Cluster = "cluster", fn cluster, KeptUnlessDeleteCluster, |f| f.gke;
    /// The gateway's Google Cloud side, after the cluster: the address, the SSL policy,
    /// the certificate (its DNS authorization first) and its map; IAP's access.
    GatewayAddress = "gateway-address", fn gateway_address, KeptUnlessDeleteData, |f| f.gateway;
    SslPolicy = "ssl-policy", fn ssl_policy, DeletedWhenOwned, |f| f.gateway;
    /// The gateway's Cloud Armor security policy and its rules, named in its
    /// GCPBackendPolicy.
    SecurityPolicy = "security-policy", fn security_policy, DeletedWhenOwned,
        |f| f.gateway && f.security_policy;
    Certificate = "certificate", fn certificate, DeletedWhenOwned, |f| f.gateway;
    Iap = "iap", fn iap, DeletedWhenOwned, |f| f.gateway && f.iap;
    /// The nodes' own account may read the image's repository (the stack's own).
    NodePull = "node-pull", fn node_pull, DeletedWhenOwned,
        |f| f.gke && f.build_image && f.artifact_registry;
    StaticIp = "static-ip", fn static_ip, KeptUnlessDeleteData, |f| f.static_ip;
    WorkloadIdentity = "workload-identity", fn workload_identity, DeletedWhenOwned, |f| f.gke;
    Keys = "keys", fn keys, DeletedWhenOwned, |f| !f.gke;
    Secrets = "secrets", fn secrets, DeletedWhenOwned, |_f| true;
    /// The Kubernetes Secrets of basic auth, after the other Secrets (their namespace
    /// exists by then).
    AuthSecret = "auth-secret", fn auth_secret, DeletedWhenOwned, |f| f.basic_auth;
}

impl Step {
    /// The name and the source of the step's script template.
    #[must_use]
    pub const fn template(self) -> (&'static str, &'static str) {
        self.templates()[0]
    }

    /// The name and the source of the step's README template.
    #[must_use]
    pub const fn readme(self) -> (&'static str, &'static str) {
        self.templates()[1]
    }

    /// The steps of a plan with these facts, in apply order.
    #[must_use]
    pub fn of(facts: &Facts) -> Vec<Step> {
        Self::ALL
            .iter()
            .copied()
            .filter(|step| step.in_plan(facts))
            .collect()
    }

    /// The step of this name.
    #[must_use]
    pub fn named(name: &str) -> Option<Step> {
        Self::ALL.iter().copied().find(|step| step.name() == name)
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A step is written as its name: in the script's `STEPS`, the README, the plan's JSON.
impl Serialize for Step {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The script calls `PREFIX_${step//-/_}` for a step: the registry's function names
    /// follow that rule, and each step's template defines both of its functions.
    #[test]
    fn each_template_defines_the_functions_the_script_calls() {
        for step in Step::ALL {
            assert_eq!(step.function(), step.name().replace('-', "_"), "{step}");
            let (_, source) = step.template();
            for prefix in ["step", "undo"] {
                let definition = format!("\n{prefix}_{}() {{\n", step.function());
                assert!(source.contains(&definition), "{step}: no {definition:?}");
            }
        }
    }

    #[test]
    fn names_are_unique() {
        for (i, step) in Step::ALL.iter().enumerate() {
            assert_eq!(Step::named(step.name()), Some(*step));
            assert_eq!(Step::ALL[i], *step);
            assert!(
                Step::ALL[..i].iter().all(|s| s < step),
                "{step}: out of order"
            );
        }
    }

    /// Every file in `templates/infra/steps/` and `templates/readme/steps/` belongs to a
    /// step: a file no step names would silently never be rendered.
    #[test]
    fn every_step_template_is_registered() {
        for (dir, of) in [
            (
                "infra/steps",
                Step::template as fn(Step) -> (&'static str, &'static str),
            ),
            ("readme/steps", Step::readme),
        ] {
            let path = format!("{}/src/templates/{dir}", env!("CARGO_MANIFEST_DIR"));
            let mut files: Vec<String> = std::fs::read_dir(path)
                .unwrap()
                .map(|entry| format!("{dir}/{}", entry.unwrap().file_name().to_string_lossy()))
                .collect();
            files.sort();
            let mut registered: Vec<String> = Step::ALL
                .iter()
                .map(|step| of(*step).0.to_owned())
                .collect();
            registered.sort();
            assert_eq!(files, registered);
        }
    }

    /// No step name is spelled as a quoted string outside this registry: everything that
    /// lists, orders, renders or keeps steps reads [`Step`]. The stages before the plan
    /// (`parse`, `raw`, `problem`, `names`, `validate`, `model`, `init`, and `suggest` for
    /// their keys) spell
    /// stack keys, some of which are also step names (`bucket`, `database`, `cluster`), and
    /// are not searched.
    #[test]
    fn no_step_name_is_spelled_outside_the_registry() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let mut files = Vec::new();
        let mut dirs = vec![std::path::PathBuf::from(root)];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    files.push(path);
                }
            }
        }
        let before_the_plan = [
            "parse", "raw", "problem", "names", "validate", "model", "init", "suggest", "image",
        ];
        let mut found = Vec::new();
        for path in files {
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let first = relative.split(['/', '.']).next().unwrap_or_default();
            if relative == "plan/steps.rs" || before_the_plan.contains(&first) {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            for (number, line) in text.lines().enumerate() {
                for step in Step::ALL {
                    let quoted = format!("\"{}\"", step.name());
                    if line.contains(&quoted) && !ALLOWED.iter().any(|a| line.contains(a)) {
                        found.push(format!("src/{relative}:{}: {}", number + 1, line.trim()));
                    }
                }
            }
        }
        assert!(
            found.is_empty(),
            "step names outside the registry:\n{}",
            found.join("\n")
        );
    }

    /// Lines that spell a step's name as something else: `auth.kind`'s value, the kind of
    /// a registry given as an image, the diagram's edge label, and `MLFLOW_TRACKING_AUTH`'s value.
    const ALLOWED: &[&str] = &[
        "Registry::Image(image) => (image.to_string(), false, \"image\", None)",
        "Auth::Iap { .. } => \"iap\"",
        "auth.kind == \"iap\"",
        "-.->|\"image\"|",
        "MLFLOW_TRACKING_AUTH=\"iap\"",
    ];
}
