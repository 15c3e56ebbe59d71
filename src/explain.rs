//! Every diagnostic code, declared once: its kebab-case name, what the rule protects
//! against, an example that triggers it and the fix, in the table at the end of this file.
//! The table yields the [`Code`] enum that every rule emits (a misspelt code does not
//! compile) and the long explanations of `mlflow-stack explain CODE`, like
//! `rustc --explain`.

use std::fmt::{self, Write as _};

use serde::{Serialize, Serializer};

/// The long explanation of one diagnostic code.
#[derive(Debug, Clone, Copy)]
pub struct Explanation {
    pub code: Code,
    /// What the rule protects against.
    pub protects: &'static str,
    /// A stack file fragment that triggers it.
    pub example: &'static str,
    /// How to fix it.
    pub fix: &'static str,
}

impl Code {
    /// The code named `name`, when it is one of ours.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|code| code.name() == name)
    }

    /// The long explanation of the code.
    #[must_use]
    pub fn explanation(self) -> &'static Explanation {
        &EXPLANATIONS[self as usize]
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// The explanation of `code`, when it is one of ours.
#[must_use]
pub fn explanation(code: &str) -> Option<&'static Explanation> {
    Code::from_name(code).map(Code::explanation)
}

/// The code closest to a misspelled one.
#[must_use]
pub fn closest(code: &str) -> Option<&'static str> {
    crate::suggest::closest(code, Code::ALL.iter().map(|code| code.name()))
}

/// `explain --list`: every code, aligned, with the first sentence of what it protects
/// against.
#[must_use]
pub fn list() -> String {
    let width = Code::ALL
        .iter()
        .map(|code| code.name().len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for explanation in EXPLANATIONS {
        let text = explanation
            .protects
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        // The first sentence: a period before a capital (`e.g. ` does not end one).
        let end = text
            .match_indices(". ")
            .map(|(at, _)| at)
            .find(|&at| text[at + 2..].starts_with(char::is_uppercase));
        let first = end.map_or(text.as_str(), |end| &text[..=end]);
        let _ = writeln!(out, "{:width$}  {first}", explanation.code.name());
    }
    out
}

/// The explanation as `explain` prints it: the code, then three indented sections.
#[must_use]
pub fn render(explanation: &Explanation) -> String {
    let indent = |text: &str| {
        text.lines()
            .map(|line| {
                if line.is_empty() {
                    String::from("\n")
                } else {
                    format!("    {line}\n")
                }
            })
            .collect::<String>()
    };
    format!(
        "{}\n\nWhat it protects against\n{}\nExample\n{}\nFix\n{}",
        explanation.code.name(),
        indent(explanation.protects),
        indent(explanation.example),
        indent(explanation.fix),
    )
}

/// Declares every code in one table: the variant, its kebab-case name and its
/// explanation. The order is the order of `explain --list`.
macro_rules! codes {
    ($($variant:ident $name:literal { $protects:literal, $example:literal, $fix:literal })*) => {
        /// A diagnostic's stable rule code, e.g. `unknown-key`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            /// Every code, in the order of the table.
            pub const ALL: &[Code] = &[$(Code::$variant,)*];

            /// The code as diagnostics and `explain` spell it.
            #[must_use]
            pub const fn name(self) -> &'static str {
                match self {
                    $(Code::$variant => $name,)*
                }
            }
        }

        /// The variants as written, for the test that each spells its code.
        #[cfg(test)]
        const VARIANTS: &[&str] = &[$(stringify!($variant),)*];

        /// Every explanation, in the order of [`Code::ALL`].
        pub const EXPLANATIONS: &[Explanation] = &[
            $(Explanation {
                code: Code::$variant,
                protects: $protects,
                example: $example,
                fix: $fix,
            },)*
        ];
    };
}

codes! {
BasicAuthInClearText "basic-auth-in-clear-text" {
"MLflow's basic auth sends the user's name and password with every request, readable by
anyone on the path unless the connection is encrypted. On gke a `load-balancer` is a
passthrough Network Load Balancer: plain HTTP from the client to the pod, across the
internet, whatever `allow` says about who may connect. A gateway terminates HTTPS with a
Google-managed certificate and refuses TLS below 1.2.",
"[expose]
type = \"load-balancer\"
allow = [\"203.0.113.0/24\"]

[auth]
kind = \"basic\"",
"Use `[expose] type = \"gateway\"` with `host = \"mlflow.acme.example\"` (HTTPS), keeping
`kind = \"basic\"` or moving to `kind = \"iap\"`; or remove `type` and reach the server with
`kubectl port-forward`. On `environment = \"local\"` a load balancer stays on the LAN and
is allowed."
}
ConflictingOptions "conflicting-options" {
"Two settings that cannot hold together, where one would be silently ignored: a database
user with IAM auth (the user is then the server's service account), a repository with a
prebuilt `registry.image`, `allow` or `static_ip` on a Service that is not a load balancer.",
"[database]
auth = \"iam\"
user = \"mlflow\"",
"Remove the setting that has no effect, or change the one that makes it meaningless."
}
ConnectionBudget "connection-budget" {
"Every MLflow worker keeps three SQLAlchemy engines (tracking, model registry, jobs), each
with up to `pool_size + max_overflow` connections. Across all replicas, an evicted pod's
replacement, the migration and a reserve, that can exceed the Cloud SQL tier's default
`max_connections` (100 for 3.75 GiB), and the server then fails under load, not at deploy
time.",
"[server]
replicas = 6
workers = 4",
"Use the tier or the pool size the help proposes (it prints the arithmetic), or fewer
replicas or workers."
}
DefaultNamespace "default-namespace" {
"The `default` namespace is shared by everything in the cluster: the bundle's
NetworkPolicy, Pod Security labels and `kubectl delete -k` would reach other workloads.",
"namespace = \"default\"",
"Leave `namespace` out: the bundle gets a namespace of its own, named after `name`."
}
DerivedNameTooLong "derived-name-too-long" {
"A name derived from the stack would exceed a Google Cloud limit, and `infra.sh` would
fail halfway through `apply`: e.g. `PROJECT:INSTANCE`, the Cloud SQL instance's full
name, is limited to 98 characters.",
"project = \"a-thirty-character-project-id1\"
[database]
instance = \"a-very-long-instance-name-that-goes-on-and-on-and-on-and-on-and-on-and-on\"",
"Shorten the value the diagnostic points at to the length its help gives."
}
DuplicateKey "duplicate-key" {
"TOML forbids defining a key or a table twice; which value was meant cannot be guessed.",
"region = \"europe-west3\"
region = \"europe-west4\"",
"Keep one definition (the diagnostic also points at the first one)."
}
DuplicatePackage "duplicate-package" {
"`server.packages` names a package the image already pins (`mlflow`, `psycopg2-binary`,
`google-cloud-storage`, `Flask-WTF`, `prometheus-flask-exporter`), or one package twice:
pip fails on two different pins of one name, and the image's pins are the versions tested
with MLflow.",
"[server]
packages = [\"psycopg2-binary==2.9.10\"]",
"Remove it from `packages`; `server.mlflow_version` sets MLflow's own version."
}
DuplicateWafRule "duplicate-waf-rule" {
"`expose.waf` names one preconfigured WAF rule twice: each name is one rule of the
gateway's Cloud Armor policy, and a second one would only hide which entry was meant.",
"[expose]
type = \"gateway\"
host = \"mlflow.acme.example\"
waf = [\"sqli-v422-stable\", \"sqli-v422-stable\"]",
"Remove the second entry."
}
IapNeedsModule "iap-needs-module" {
"Behind IAP the server runs MLflow's basic-auth app with `mlflow_stack_iap` as its
authorization function: it verifies IAP's signed header and makes the signed-in identity
the MLflow user. The image built here installs the module, checked against its sha256; a
given `registry.image` may lack it, and the server would then not start.",
"[expose]
type = \"gateway\"
host = \"mlflow.acme.example\"

[auth]
kind = \"iap\"
members = [\"group:ml-team@acme.example\"]
oauth_client_id = \"123456789012-mlflowteam.apps.googleusercontent.com\"

[registry]
image = \"ghcr.io/acme/mlflow:3.17.2\"",
"Install `mlflow_stack_iap.py` into the given image's site-packages (a bundle built without
`registry.image` holds it in `image/`, with the Dockerfile that installs it), or let the
bundle build the image."
}
IapWithoutGateway "iap-without-gateway" {
"Identity-Aware Proxy runs on Google's Application Load Balancer: a cluster-ip Service or a
passthrough load balancer has no IAP, so `kind = \"iap\"` there would leave the server open.",
"[expose]
type = \"load-balancer\"
[auth]
kind = \"iap\"
members = [\"group:ml-team@acme.example\"]",
"Use `[expose] type = \"gateway\"` with `host` (gke), or `[auth] kind = \"basic\"`."
}
ImageVersionMismatch "image-version-mismatch" {
"With `registry.image` the bundle runs that image as is, and `server.mlflow_version` says
which MLflow it holds: the version label of every object, the backup `infra.sh` takes
before a schema migration and the bundle README name it. An image tagged for another
MLflow release (`v3.16.1`, `3.16.1-py312`) would make them all wrong.",
"[server]
mlflow_version = \"3.17.2\"
[registry]
image = \"ghcr.io/acme/mlflow:v3.16.1\"",
"Write the version the image installs: `mlflow_version = \"3.16.1\"`. A tag that is not an
MLflow release (`1.0.0` of your own) is not compared."
}
InvalidBucket "invalid-bucket" {
"Cloud Storage bucket naming rules: 3 to 63 characters (222 with dots), lowercase
letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit, no `goog`
prefix, no `google`, not an IP address. `gcloud storage buckets create` would refuse it.",
"bucket = \"gs://Acme-Artifacts\"",
"Write the bare bucket name in lowercase: `bucket = \"acme-artifacts\"`."
}
InvalidCidr "invalid-cidr" {
"`expose.allow` becomes the load balancer's `loadBalancerSourceRanges`; a malformed range
is rejected by Kubernetes, and one with host bits set hides a typo in the prefix.",
"[expose]
allow = [\"203.0.113.7/24\"]",
"Write a network address with its prefix length: `203.0.113.0/24`, or `203.0.113.7/32`
for one address."
}
InvalidClusterName "invalid-cluster-name" {
"GKE cluster names are 1 to 40 characters, lowercase letters, digits and hyphens,
starting with a letter and ending with a letter or digit; `get-credentials` and
`clusters create` would fail.",
"[cluster]
name = \"ML_Cluster\"",
"Use the name `gcloud container clusters list` shows: `name = \"ml-cluster\"`."
}
InvalidCron "invalid-cron" {
"`gc.schedule` must be a schedule the Kubernetes CronJob controller accepts: five fields
(minute 0-59, hour 0-23, day of month 1-31, month 1-12 or JAN-DEC, day of week 0-6 or
SUN-SAT) or a macro such as `@daily`; the API server would refuse anything else at apply
time. It runs in UTC.",
"[gc]
schedule = \"0 25 * * *\"",
"Write five fields, e.g. `schedule = \"0 3 * * *\"` for 03:00 UTC every day."
}
InvalidHost "invalid-host" {
"`server.allowed_hosts` becomes MLflow's `--allowed-hosts`, which matches the `Host`
header: a URL, a path or a bad wildcard never matches and the server answers 403.",
"[server]
allowed_hosts = [\"https://mlflow.example.com/\"]",
"Write the host name alone (`mlflow.example.com`), optionally with a port
(`mlflow.example.com:8443`) or a leading wildcard label (`*.example.com`)."
}
InvalidIdentifier "invalid-identifier" {
"The database and user names reach SQL statements and URIs unquoted: they must be plain
PostgreSQL names (lowercase letters, digits and `_`, starting with a letter, at most 63).",
"[database]
database = \"ml-flow\"",
"Use `_` instead of `-` and lowercase letters: `database = \"ml_flow\"`."
}
InvalidImage "invalid-image" {
"`registry.image` is run as is: without a tag or digest, or with uppercase letters, it is
not a pullable reference and the pods would fail with `InvalidImageName`.",
"[registry]
image = \"europe-west3-docker.pkg.dev/acme/tools/mlflow\"",
"Give the full reference with a tag: `europe-west3-docker.pkg.dev/acme/tools/mlflow:3.17.2`."
}
InvalidInstance "invalid-instance" {
"Cloud SQL instance ids are lowercase letters, digits and hyphens, starting with a letter,
not ending with a hyphen, at most 98 characters with the project id.",
"[database]
instance = \"MLflow_DB\"",
"Write `instance = \"mlflow-db\"`, or leave it out for `<name>-db`."
}
InvalidKmsKey "invalid-kms-key" {
"`[encryption] kms_key` reaches `gcloud storage buckets create --default-encryption-key` and
`gcloud sql instances create --disk-encryption-key` as a Cloud KMS key's full resource name:
`projects/PROJECT/locations/LOCATION/keyRings/RING/cryptoKeys/KEY`. A short name, a key
version (`.../cryptoKeyVersions/1`: Cloud SQL and Cloud Storage use the key's primary version
and follow its rotation), a misspelt collection (`keyrings`) or an id Cloud KMS does not take
would fail at the first change, after the preflight.",
"[encryption]
kms_key = \"projects/acme-kms/locations/europe-west3/keyrings/mlflow/cryptoKeys/data\"",
"Write the key's name as `gcloud kms keys list --keyring=RING --location=REGION
--format='value(name)'` prints it."
}
InvalidMember "invalid-member" {
"IAP admits the IAM principals in `members`: a member without its kind (`user:`, `group:`,
`serviceAccount:`, `domain:`), with a misspelt kind, with something that is not an email
(or a domain), or `allUsers`, would fail `gcloud iap web add-iam-policy-binding` or open
the server to everyone.",
"[auth]
kind = \"iap\"
members = [\"ana@acme.example\"]",
"Write each member as IAM does: `user:ana@acme.example`, `group:ml-team@acme.example`,
`serviceAccount:ci@PROJECT.iam.gserviceaccount.com` or `domain:acme.example`."
}
InvalidMlflowVersion "invalid-mlflow-version" {
"`server.mlflow_version` is pinned into `image/requirements.txt`: it must be an exact
release (`3.17.2`), not a range or a prefixed tag that pip would read differently.",
"[server]
mlflow_version = \"v3.17\"",
"Write the exact version: `mlflow_version = \"3.17.2\"`."
}
InvalidName "invalid-name" {
"`name` prefixes every Kubernetes object and cloud resource: it must be a DNS label of 3 to
20 characters so that every derived name (`<name>-server`, `<name>-db`, service accounts
of 6 to 30 characters) fits Google's and Kubernetes' limits.",
"name = \"ML\"",
"Use 3 to 20 lowercase letters, digits and hyphens, starting with a letter: `name = \"mlflow\"`."
}
InvalidNamespace "invalid-namespace" {
"`namespace` must be a Kubernetes DNS label (lowercase letters, digits and hyphens, at most
63 characters); `kubectl apply` would reject the manifests.",
"namespace = \"ML_Team\"",
"Write `namespace = \"ml-team\"`, or leave it out to use `name`."
}
InvalidOauthClientId "invalid-oauth-client-id" {
"IAP on a GKE Gateway signs users in with the OAuth client the `GCPBackendPolicy` names:
a client ID that is not one (`NUMBER-ID.apps.googleusercontent.com`) leaves the load
balancer without IAP, and a client secret written here would end up in the bundle and in
git.",
"[auth]
kind = \"iap\"
members = [\"group:ml-team@acme.example\"]
oauth_client_id = \"GOCSPX-not-the-id\"",
"Copy the client's ID from the Google Cloud console (Google Auth Platform > Clients); its
secret goes into Secret Manager, as the bundle README says."
}
InvalidOlderThan "invalid-older-than" {
"`gc.older_than` is passed to `mlflow gc --older-than`, which reads days, hours, minutes and
seconds in that order (`30d`, `1d12h`); anything else makes every collection fail.",
"[gc]
older_than = \"30 days\"",
"Write e.g. `older_than = \"30d\"`; a week is `7d`."
}
InvalidPackage "invalid-package" {
"An entry of `server.packages` that is not `name==version`: a direct URL, an environment
marker, `===`, or a malformed name or version. Only an exact pin makes two builds of the
same tag install the same code.",
"[server]
packages = [\"pkg @ https://example.com/pkg.whl\"]",
"Write `name==version`, e.g. `\"mlflow-oidc-auth==11.0.2\"`."
}
InvalidPath "invalid-path" {
"`credentials.dir` is where `infra.sh` writes key files: a value with shell-special
characters, or one starting with `-` (read as an option), is refused rather than quoted
into surprises.",
"environment = \"local\"
[credentials]
dir = \"-keys\"",
"Use a plain relative path such as `dir = \".mlflow_credentials\"`."
}
InvalidProject "invalid-project" {
"Google Cloud project ids are 6 to 30 characters, lowercase letters, digits and hyphens,
starting with a letter and not ending with a hyphen. A project number or a display name
is not an id, and every gcloud call would fail.",
"project = \"Acme-ML-Prod\"",
"Use the id `gcloud projects list` shows in PROJECT_ID: `project = \"acme-ml-prod\"`."
}
InvalidQuantity "invalid-quantity" {
"`server.cpu` and `server.memory` become the container's resources: they must be
Kubernetes quantities (`500m`, `1`, `1Gi`, `768Mi`). `1GB` or `1gi` would be rejected
or mean something else (`1G` is 10^9 bytes).",
"[server]
memory = \"1GB\"",
"Use binary suffixes for memory (`1Gi`, `1536Mi`) and cores or millicores for CPU (`500m`)."
}
InvalidRepository "invalid-repository" {
"Artifact Registry repository ids are lowercase letters, digits and hyphens, starting with
a letter, at most 63 characters.",
"[registry]
repository = \"ML_Images\"",
"Write `repository = \"ml-images\"`, or leave it out for `mlflow`."
}
InvalidTag "invalid-tag" {
"`tag` is the server image's Docker tag: at most 128 characters of letters, digits, `_`,
`.` and `-`, not starting with `.` or `-`. A `:` or `+` would make the image reference
invalid.",
"tag = \"1.0.0+build.5\"",
"Write `tag = \"1.0.0-build.5\"`."
}
InvalidTier "invalid-tier" {
"Cloud SQL for PostgreSQL (Enterprise edition) takes `db-custom-CPUS-MEMORY_MB` tiers (1 or
an even number of CPUs up to 96, memory a multiple of 256 MB, 0.9 to 6.5 GB per CPU, at
least 3840), `db-f1-micro` or `db-g1-small`; `gcloud sql instances create` would fail
after the rest was created.",
"[database]
tier = \"db-n1-standard-1\"",
"Use a custom tier, e.g. `tier = \"db-custom-1-3840\"` (1 CPU, 3.75 GB)."
}
KmsKeyRegion "kms-key-region" {
"Cloud SQL encrypts an instance only with a key in the instance's region, never with a
`global` or multi-region key (https://cloud.google.com/sql/docs/postgres/cmek), and a bucket
in one region takes a default key of that region only
(https://cloud.google.com/storage/docs/encryption/customer-managed-keys). The stack puts
both in `region`, so its key must be there too; another location would fail `infra.sh
apply` at the bucket or the instance.",
"region = \"europe-west3\"

[encryption]
kms_key = \"projects/acme-kms/locations/global/keyRings/mlflow/cryptoKeys/data\"",
"Create a key ring and a key in the stack's region (`gcloud kms keyrings create RING
--location=europe-west3`, `gcloud kms keys create KEY --keyring=RING
--location=europe-west3 --purpose=encryption`) and name that key."
}
LatestTag "latest-tag" {
"Kubernetes rolls out a new image only when the pod template changes: rebuilding `latest`
changes nothing in the bundle, so the running pods keep the old image.",
"tag = \"latest\"",
"Use a version (`tag = \"1.0.0\"`) and bump it for every rebuild."
}
LegacyRegistry "legacy-registry" {
"Container Registry (`gcr.io`) is shut down for new use; Artifact Registry replaces it.",
"[registry]
kind = \"gcr\"",
"Remove `kind`: the default is `artifact-registry`."
}
LoadBalancerHost "load-balancer-host" {
"MLflow (3.5 and later) refuses any request whose `Host` header is not allowed, with 403.
A client reaching a gke load balancer sends its address or a DNS name pointing at it, with
the Service's port; unless one of those is in `server.allowed_hosts` (names only the
cluster resolves, localhost, or another port do not count), every such request is refused
(`/health` is exempt, so probes pass and nothing else does).",
"[expose]
type = \"load-balancer\"
allow = [\"203.0.113.0/24\"]",
"Point a DNS name at the load balancer and allow it:
`[server] allowed_hosts = [\"mlflow.example.com\"]`; or reserve the address
(`static_ip = true`), read it after `infra.sh apply` and allow it."
}
LoadBalancerWithoutAllow "load-balancer-without-allow" {
"A load balancer on gke gets a public address: without `expose.allow` the tracking server,
its runs and its artifacts would be open to the internet.",
"[expose]
type = \"load-balancer\"",
"List the source ranges that may connect: `allow = [\"203.0.113.0/24\"]`
(`[\"0.0.0.0/0\"]` opens it to the world on purpose, with a warning)."
}
MaxReplicasBelowReplicas "max-replicas-below-replicas" {
"The autoscaler scales between `replicas` (its minimum) and `max_replicas`; a maximum below
the minimum is refused by the API server.",
"[server]
replicas = 3
max_replicas = 2",
"Raise `max_replicas` to at least `replicas`, or lower `replicas`."
}
MemoryTooLow "memory-too-low" {
"MLflow's memory grows with its workers: the default limit is 512Mi plus 256Mi per worker
(MLflow 3.17 idles at about 640 MiB with 2 workers). A limit below three quarters of that
default (768Mi for 2 workers, 1920Mi for 8) gets the pod OOM-killed under load, or at start.",
"[server]
workers = 8
memory = \"1Gi\"",
"Leave `memory` out for the default sized to the workers, or give at least what the
warning says."
}
MetricsBehindSignIn "metrics-behind-sign-in" {
"MLflow's basic-auth app asks every request but `/health` to sign in, `/metrics` included,
and no scraper has an account: Prometheus would only ever get 401.",
"[server]
metrics = true

[auth]
kind = \"basic\"",
"Remove `metrics = true`, or put the server behind a gateway with `[auth] kind = \"iap\"`,
where the scraper reaches the pods directly."
}
MetricsNeedsExporter "metrics-needs-exporter" {
"`--expose-prometheus` imports `prometheus-flask-exporter`, which MLflow lists only among
its extras. The image built here pins it; a given `registry.image` may lack it, and the
server would then not start.",
"[server]
metrics = true

[registry]
image = \"ghcr.io/acme/mlflow:3.17.2\"",
"Make sure the given image installs `prometheus-flask-exporter`, or let the bundle build the
image."
}
MissingHost "missing-host" {
"A gateway serves HTTPS on one DNS name: the Google-managed certificate is issued for it,
the routes match it and MLflow accepts it as a `Host`. Without it nothing can be built.",
"[expose]
type = \"gateway\"",
"Add the name clients will use: `host = \"mlflow.acme.example\"`; `infra.sh` prints the DNS
records to add for it."
}
MissingKey "missing-key" {
"`project`, `region`, `bucket`, `tag` and `environment` have no sensible default: every
resource depends on them. So has `kms_key` in an `[encryption]` table: the table asks for a
customer-managed key, and only its name says which.",
"project = \"acme-ml-prod\"
region = \"europe-west3\"",
"Add the keys the diagnostic lists, e.g. `bucket = \"acme-ml-prod-mlflow\"`."
}
MissingMembers "missing-members" {
"With `kind = \"iap\"` only the listed members pass IAP: an empty list locks everyone out,
programs included.",
"[auth]
kind = \"iap\"",
"List who may sign in: `members = [\"group:ml-team@acme.example\"]`."
}
MissingProxySubnet "missing-proxy-subnet" {
"An internal gateway is a regional internal Application Load Balancer: its Envoy proxies run
in the proxy-only subnet (purpose REGIONAL_MANAGED_PROXY) of the cluster's region and VPC and
reach the server from its addresses. The NetworkPolicy admits the server's port only from
where traffic really comes from, so it needs that range; guessing it would either lock the
load balancer out or admit more than it.",
"[expose]
type = \"gateway\"
host = \"mlflow.acme.example\"
scope = \"internal\"",
"Add the range of the region's proxy-only subnet, e.g. `proxy_subnet = \"10.129.0.0/23\"`:
`gcloud compute networks subnets list --filter=purpose=REGIONAL_MANAGED_PROXY` shows it; the
bundle README shows how to create one."
}
NoAuth "no-auth" {
"`kind = \"none\"` leaves the server without sign-in: anyone who reaches it can read, change
and delete every experiment and model. Written on purpose it compiles, with this warning.",
"[expose]
type = \"load-balancer\"
[auth]
kind = \"none\"",
"Use `kind = \"basic\"` (MLflow users and passwords) or, with a gateway, `kind = \"iap\"`;
keep `none` only when the network alone decides who gets in."
}
NotApplicable "not-applicable" {
"A key that does nothing in this environment would be silently ignored: `cluster.name`,
`location` and `create` on `local`, `cluster.context` on `gke`, `[credentials]` on `gke`,
`static_ip` off gke.",
"environment = \"local\"
[cluster]
name = \"ml\"",
"Remove the key, or change `environment`."
}
NotUtf8 "not-utf8" {
"TOML files are UTF-8. A file saved in another encoding (UTF-16 by Windows Notepad, Latin-1)
cannot be read as written.",
"A file saved as \"Unicode\" (UTF-16 LE) in Notepad.",
"Save it as UTF-8, e.g. `iconv -f UTF-16 -t UTF-8 stack.toml > stack.utf8.toml`, or
\"Save as… / Encoding: UTF-8\" in the editor."
}
NotYetSupported "not-yet-supported" {
"A combination this version checks but does not compile: IAP on an internal gateway. GKE
documents IAP through GCPBackendPolicy for its external Gateway classes; without a documented
source for the internal class, a bundle could look signed-in and not be. Refusing it is
better than building what may not hold.",
"[expose]
type = \"gateway\"
host = \"mlflow.acme.example\"
scope = \"internal\"
proxy_subnet = \"10.129.0.0/23\"
[auth]
kind = \"iap\"
members = [\"group:ml-team@acme.example\"]
oauth_client_id = \"123456789012-abc.apps.googleusercontent.com\"",
"Use `kind = \"basic\"` (MLflow's own sign-in) with the internal gateway, or `scope =
\"external\"` with IAP."
}
OpenByDefault "open-by-default" {
"A `load-balancer` or `gateway` makes the server reachable from outside the cluster (Docker
Desktop publishes a local load balancer on the LAN), and MLflow without sign-in lets
anyone read, change and delete everything. Nothing is open unless the stack says so.",
"[expose]
type = \"load-balancer\"
allow = [\"203.0.113.0/24\"]",
"Add `[auth]` with `kind = \"basic\"` or (with a gateway) `kind = \"iap\"`, or `kind = \"none\"` to
leave it open on purpose; or remove `type` and use `kubectl port-forward`."
}
OpenToWorld "open-to-world" {
"`0.0.0.0/0` in `expose.allow` lets anyone on the internet reach the tracking server, which
has no authentication of its own.",
"[expose]
type = \"load-balancer\"
allow = [\"0.0.0.0/0\"]",
"List the ranges that need access; keep `0.0.0.0/0` only when that is the intent."
}
OutOfRange "out-of-range" {
"A count outside what the rest of the stack supports: replicas 1 to 50, workers 1 to 16,
storage 10 to 65536 GB, a port 1 to 65535, CPU up to 64 cores, memory up to 256Gi.",
"[server]
workers = 64",
"Use a value in the range the message gives."
}
PlaceholderValue "placeholder-value" {
"`mlflow-stack init` writes placeholders for what it was not told (project
`my-gcp-project`, GKE cluster `my-gke-cluster`). Applied as is, `infra.sh` would target a
project that is not yours, a bucket name someone else may own, or a cluster that does not
exist.",
"project = \"my-gcp-project\"
bucket = \"my-gcp-project-mlflow\"",
"Write the real values: `project = \"acme-ml-prod\"`, `bucket = \"acme-ml-prod-mlflow\"`, and
on gke the `[cluster] name` that `gcloud container clusters list` shows."
}
PrivateDatabaseOffGke "private-database-off-gke" {
"A Cloud SQL instance with a private IP only is reached from its VPC network, through private
services access: a local cluster (Docker Desktop, kind) outside Google Cloud has no route to
it, so the Auth Proxy would never connect.",
"environment = \"local\"
[database]
ip = \"private\"",
"Remove `ip = \"private\"` (the local proxy reaches the public IP, with its key file), or run
MLflow on GKE (`environment = \"gke\"`), on the network that peers with Cloud SQL."
}
ReservedIdentifier "reserved-identifier" {
"`postgres`, names starting with `pg_` and `cloudsql…` belong to PostgreSQL or Cloud SQL;
creating them fails or collides with system roles.",
"[database]
user = \"postgres\"",
"Choose another name, e.g. `user = \"mlflow\"`."
}
ReservedNamespace "reserved-namespace" {
"`kube-*` namespaces belong to Kubernetes itself (`kube-system`, `kube-public`); a bundle
there would mix with cluster components.",
"namespace = \"kube-mlflow\"",
"Choose another namespace, or leave it out."
}
TmpTooSmall "tmp-too-small" {
"Proxied artifact uploads and downloads (`serve_artifacts = true`) pass through the server's
`/tmp`, an `emptyDir` whose `sizeLimit` is `server.tmp_size`: a model file larger than it gets
the pod evicted in the middle of the transfer. Below 1Gi not even a small model fits.",
"[server]
tmp_size = \"200Mi\"",
"Give at least `1Gi`, as large as the largest artifact clients move, or leave `tmp_size` out
for the default `8Gi`."
}
TomlSyntax "toml-syntax" {
"The file is not valid TOML, so nothing else can be checked where the syntax broke.",
"region = europe-west3",
"Fix the syntax at the position shown: here, quote the string (`region = \"europe-west3\"`)."
}
TooManyRanges "too-many-ranges" {
"An external gateway's `allow` list becomes Cloud Armor rules of at most 10 source ranges
each (`srcIpRanges`); more than 100 ranges would be more than 10 rules of one policy, and
a list that long is better kept as wider blocks.",
"[expose]
type = \"gateway\"
host = \"mlflow.acme.example\"
allow = [
  \"10.0.0.0/24\", \"10.0.1.0/24\", \"10.0.2.0/24\", \"10.0.3.0/24\", \"10.0.4.0/24\", \"10.0.5.0/24\", \"10.0.6.0/24\", \"10.0.7.0/24\", \"10.0.8.0/24\", \"10.0.9.0/24\",
  \"10.1.0.0/24\", \"10.1.1.0/24\", \"10.1.2.0/24\", \"10.1.3.0/24\", \"10.1.4.0/24\", \"10.1.5.0/24\", \"10.1.6.0/24\", \"10.1.7.0/24\", \"10.1.8.0/24\", \"10.1.9.0/24\",
  \"10.2.0.0/24\", \"10.2.1.0/24\", \"10.2.2.0/24\", \"10.2.3.0/24\", \"10.2.4.0/24\", \"10.2.5.0/24\", \"10.2.6.0/24\", \"10.2.7.0/24\", \"10.2.8.0/24\", \"10.2.9.0/24\",
  \"10.3.0.0/24\", \"10.3.1.0/24\", \"10.3.2.0/24\", \"10.3.3.0/24\", \"10.3.4.0/24\", \"10.3.5.0/24\", \"10.3.6.0/24\", \"10.3.7.0/24\", \"10.3.8.0/24\", \"10.3.9.0/24\",
  \"10.4.0.0/24\", \"10.4.1.0/24\", \"10.4.2.0/24\", \"10.4.3.0/24\", \"10.4.4.0/24\", \"10.4.5.0/24\", \"10.4.6.0/24\", \"10.4.7.0/24\", \"10.4.8.0/24\", \"10.4.9.0/24\",
  \"10.5.0.0/24\", \"10.5.1.0/24\", \"10.5.2.0/24\", \"10.5.3.0/24\", \"10.5.4.0/24\", \"10.5.5.0/24\", \"10.5.6.0/24\", \"10.5.7.0/24\", \"10.5.8.0/24\", \"10.5.9.0/24\",
  \"10.6.0.0/24\", \"10.6.1.0/24\", \"10.6.2.0/24\", \"10.6.3.0/24\", \"10.6.4.0/24\", \"10.6.5.0/24\", \"10.6.6.0/24\", \"10.6.7.0/24\", \"10.6.8.0/24\", \"10.6.9.0/24\",
  \"10.7.0.0/24\", \"10.7.1.0/24\", \"10.7.2.0/24\", \"10.7.3.0/24\", \"10.7.4.0/24\", \"10.7.5.0/24\", \"10.7.6.0/24\", \"10.7.7.0/24\", \"10.7.8.0/24\", \"10.7.9.0/24\",
  \"10.8.0.0/24\", \"10.8.1.0/24\", \"10.8.2.0/24\", \"10.8.3.0/24\", \"10.8.4.0/24\", \"10.8.5.0/24\", \"10.8.6.0/24\", \"10.8.7.0/24\", \"10.8.8.0/24\", \"10.8.9.0/24\",
  \"10.9.0.0/24\", \"10.9.1.0/24\", \"10.9.2.0/24\", \"10.9.3.0/24\", \"10.9.4.0/24\", \"10.9.5.0/24\", \"10.9.6.0/24\", \"10.9.7.0/24\", \"10.9.8.0/24\", \"10.9.9.0/24\",
  \"10.10.0.0/24\",
]",
"Merge adjacent ranges into wider blocks (two /25 into one /24), or let `[auth]` decide
who gets in."
}
UnknownKey "unknown-key" {
"A misspelled key would otherwise be ignored and its default used without a word.",
"regoin = \"europe-west3\"",
"Use the key the did-you-mean names, or see `mlflow-stack schema` for every key."
}
UnknownLocation "unknown-location" {
"`cluster.location` is where GKE finds the cluster: a region for a regional cluster, one
of its zones for a zonal cluster; anything else would fail at the first gcloud call.",
"[cluster]
location = \"europe-west3a\"",
"Use a region from `gcloud compute regions list` or a zone from `gcloud compute zones
list`, e.g. `europe-west3` or `europe-west3-a`."
}
UnknownRegion "unknown-region" {
"`region` must be a Google Cloud region that has Cloud SQL, Cloud Storage and Artifact
Registry; a typo would fail at the first gcloud call.",
"region = \"europe-west33\"",
"Use a region from `gcloud compute regions list`, e.g. `europe-west3`."
}
UnknownValue "unknown-value" {
"A key with a fixed set of values (`environment`, `database.version`, `expose.type`, …)
got another one.",
"environment = \"gcp\"",
"Use one of the values listed, e.g. `environment = \"gke\"`."
}
UnknownWafRule "unknown-waf-rule" {
"`expose.waf` names Cloud Armor's preconfigured WAF rules by Cloud Armor's own names
(https://cloud.google.com/armor/docs/waf-rules): `sqli`, `xss`, `lfi`, `rfi`, `rce`,
`methodenforcement`, `scannerdetection`, `protocolattack`, `php`, `sessionfixation`, `java`
and `nodejs`, each as `-v422-stable`, `-v422-canary` (OWASP CRS 4.22), `-v33-stable` or
`-v33-canary` (CRS 3.3). Cloud Armor refuses a rule whose expression names another, when
`infra.sh` creates it.",
"[expose]
type = \"gateway\"
host = \"mlflow.acme.example\"
waf = [\"sqli-v422-stabel\"]",
"Use the name the did-you-mean proposes, or one from the list above."
}
UnlockedDependencies "unlocked-dependencies" {
"The image is reproducible only where its packages are locked: the compiler embeds a lock
of everything the default MLflow release needs, each file pinned by its sha256 and
installed with `pip install --require-hashes`. Another `mlflow_version`, or an entry of
`server.packages` the lock does not hold at exactly that version (or one with extras),
keeps the lock for every package it shares, but MLflow's own packages or the extra
package, and any dependency they need that the lock lacks or holds at another version,
are resolved by pip when the image is built, without hashes: two builds of the same
bundle can then differ.",
"[server]
mlflow_version = \"3.16.1\"
packages = [\"mlflow-oidc-auth==11.0.2\"]",
"Leave `mlflow_version` out (or write the default), and leave out the extra packages or
pin them at the lock's version, for an image locked throughout; or build and lock an
image yourself and give it as `registry.image`; or accept the build-time resolution the
warning describes."
}
UnpinnedPackage "unpinned-package" {
"An entry of `server.packages` without one exact version (`requests`, `requests>=2`,
`requests==2.*`): two builds of the same tag could install different code.",
"[server]
packages = [\"mlflow-oidc-auth\"]",
"Pin the version you tested: `\"mlflow-oidc-auth==11.0.2\"`."
}
UnsafeCharacter "unsafe-character" {
"Values reach a bash script, YAML and command lines: control characters, newlines, quotes
and shell metacharacters are refused wherever a valid value cannot contain them.",
"bucket = \"acme;rm -rf ~\"",
"Remove the character; no valid value for that key contains it."
}
UnsupportedMlflowVersion "unsupported-mlflow-version" {
"The bundle relies on `--allowed-hosts` (MLflow 3.5.0 and later); some releases cannot be
installed (e.g. 3.18.0 lacks a matching `mlflow-skinny`).",
"[server]
mlflow_version = \"2.22.0\"",
"Use a supported version, e.g. `mlflow_version = \"3.17.2\"` (the default)."
}
WrongType "wrong-type" {
"A value of the wrong TOML type (a number for a string, a string for a table) cannot mean
what was intended.",
"[server]
replicas = \"2\"",
"Write the type the message names: `replicas = 2`."
}
ZoneNotRegion "zone-not-region" {
"Cloud SQL, the bucket, the registry and the cluster are regional; a zone such as
`europe-west3-a` is not a region.",
"region = \"europe-west3-a\"",
"Drop the zone suffix: `region = \"europe-west3\"`."
}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_variant_spells_its_code_and_the_codes_are_sorted() {
        assert_eq!(VARIANTS.len(), Code::ALL.len());
        for (variant, code) in VARIANTS.iter().zip(Code::ALL) {
            let kebab: String = code
                .name()
                .split('-')
                .map(|word| word[..1].to_ascii_uppercase() + &word[1..])
                .collect();
            assert_eq!(
                *variant,
                kebab,
                "`{}` is declared as `{variant}`",
                code.name()
            );
        }
        let names: Vec<&str> = Code::ALL.iter().map(|code| code.name()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted, "keep the codes sorted, each once");
    }

    #[test]
    fn each_code_finds_its_own_explanation() {
        for (index, code) in Code::ALL.iter().enumerate() {
            assert_eq!(code.explanation().code, *code);
            assert_eq!(*code as usize, index);
            assert_eq!(Code::from_name(code.name()), Some(*code));
        }
        assert_eq!(Code::from_name("unknown-keys"), None);
    }
}
