//! Every bundle README's claims, checked against the rest of its bundle: requirements,
//! steps, Secrets, hosts, the URL it tells clients to use, what destroy keeps, and the
//! nodes of its diagram. (What `destroy` really keeps is run against the fakes in
//! `infra/destroy.rs` and `infra/apply.rs`.)

use std::collections::BTreeSet;

use mlflow_stack::emit::Bundle;

use crate::support::{compile_file, stack_files};

struct Case {
    name: String,
    readme: String,
    infra: String,
    deployment: String,
    network_policy: String,
    service: String,
}

fn cases() -> Vec<Case> {
    let mut stacks = stack_files("stacks");
    stacks.extend(stack_files("tests/fixtures/good"));
    stacks
        .iter()
        .map(|path| {
            let (_, compiled) = compile_file(path);
            let bundle: Bundle = compiled
                .bundle
                .unwrap_or_else(|| panic!("{} compiles", path.display()));
            let file = |name: &str| bundle.get(name).unwrap_or_default().to_owned();
            Case {
                name: path.display().to_string(),
                readme: file("README.md"),
                infra: file("infra.sh"),
                deployment: file("kubernetes/deployment.yaml"),
                network_policy: file("kubernetes/networkpolicy.yaml"),
                service: file("kubernetes/service.yaml"),
            }
        })
        .collect()
}

/// The words of a bash array assignment `NAME=(a b c)` in `infra.sh`.
fn bash_array(script: &str, name: &str) -> Vec<String> {
    let start = format!("{name}=(");
    let line = script
        .lines()
        .find_map(|line| line.split_once(&start).map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("infra.sh has no {name}"));
    line.trim_end_matches(')')
        .split_whitespace()
        .map(|word| word.trim_matches('\'').to_owned())
        .collect()
}

/// The backticked words of a text.
fn backticked(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

fn line_starting<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find(|line| line.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?}"))
}

#[test]
fn requirements_are_the_tools_infra_sh_checks_for() {
    for case in cases() {
        let requirements = line_starting(&case.readme, "Requirements:");
        for (tool, named) in [
            ("gcloud", "Google Cloud CLI"),
            ("kubectl", "kubectl"),
            ("gke-gcloud-auth-plugin", "gke-gcloud-auth-plugin"),
            ("openssl", "OpenSSL"),
        ] {
            assert_eq!(
                requirements.contains(named),
                case.infra.contains(&format!("need {tool} ")),
                "{}: {requirements}",
                case.name
            );
        }
    }
}

#[test]
fn the_steps_are_infra_sh_steps_and_say_what_they_create() {
    for case in cases() {
        let steps = bash_array(&case.infra, "STEPS");
        let bullets: Vec<&str> = case
            .readme
            .lines()
            .filter(|line| line.starts_with("- `"))
            .filter_map(|line| backticked(line).first().copied())
            .collect();
        assert_eq!(bullets, steps, "{}", case.name);
        let claims = [
            (
                "creates the GKE Autopilot cluster",
                "gcloud container clusters create-auto",
            ),
            (
                "reserves the regional static IP address",
                "gcloud compute addresses create \"$STATIC_IP\"",
            ),
            (
                "reserves the global address",
                "gcloud compute addresses create \"$GATEWAY_ADDRESS\" --global",
            ),
            (
                "reserves the internal address",
                "gcloud compute addresses create \"$GATEWAY_ADDRESS\" --region=\"$GATEWAY_REGION\" --subnet=",
            ),
            (
                "and the certificate map",
                "gcloud certificate-manager maps create",
            ),
            (
                "(the Gateway names the certificate in its HTTPS listener)",
                "gcloud certificate-manager certificates create \"$CERTIFICATE\" --location=\"$GATEWAY_REGION\"",
            ),
            (
                "grants `roles/iap.httpsResourceAccessor`",
                "|roles/iap.httpsResourceAccessor|",
            ),
            ("with Cloud Build", "gcloud builds submit"),
            (
                "its disk encrypted with the customer-managed key",
                "--disk-encryption-key=\"$KMS_KEY\"",
            ),
            (
                "the customer-managed default key",
                "--default-encryption-key=\"$KMS_KEY\"",
            ),
            (
                "the database password into Secret Manager",
                "gcloud secrets create \"$PASSWORD_SECRET\"",
            ),
            (
                "answer 403 to a request they match",
                "'--action=deny-403' '--expression=evaluatePreconfiguredWaf(",
            ),
            (
                "at sensitivity 1 (the fewest false positives)",
                "{'\\''sensitivity'\\'': 1})'",
            ),
            (
                "everyone else gets 403",
                "\nreadonly ARMOR_DEFAULT_ACTION='deny(403)'\n",
            ),
            (
                "requests a minute",
                "'--rate-limit-threshold-interval-sec=60' '--conform-action=allow' '--exceed-action=deny-429' '--enforce-on-key=IP'",
            ),
        ];
        for (claim, command) in claims {
            assert_eq!(
                case.readme.contains(claim),
                case.infra.contains(command),
                "{}: `{claim}`",
                case.name
            );
        }
        // The Kubernetes Secrets it names are exactly those infra.sh creates.
        let secrets = bash_array(&case.infra, "SECRETS");
        let bullet = line_starting(&case.readme, "- `secrets`:");
        let named: Vec<&str> = backticked(bullet).into_iter().skip(1).collect();
        assert_eq!(named, secrets, "{}: {bullet}", case.name);
        // (Every stack names Secret Manager: the record of what infra.sh created.)
        assert_eq!(
            case.readme.contains("password kept in Secret Manager"),
            case.infra.contains("\nreadonly PASSWORD_SECRET="),
            "{}",
            case.name
        );
    }
}

/// The `security-policy` bullet names exactly the WAF rules, the allowed ranges and the
/// rate limit of the rules `infra.sh` makes.
#[test]
fn the_security_policy_bullet_names_the_rules_infra_sh_makes() {
    let mut seen = 0;
    for case in cases() {
        let Some(bullet) = case
            .readme
            .lines()
            .find(|line| line.starts_with("- `security-policy`:"))
        else {
            assert!(!case.infra.contains("ARMOR_FLAGS=("), "{}", case.name);
            continue;
        };
        seen += 1;
        let flags: Vec<&str> = case
            .infra
            .lines()
            .filter_map(|line| line.split_once(") ARMOR_FLAGS=(").map(|(_, rest)| rest))
            .collect();
        let waf: BTreeSet<String> = flags
            .iter()
            .filter_map(|rule| rule.split_once("evaluatePreconfiguredWaf('\\''"))
            .map(|(_, rest)| rest.split('\'').next().unwrap().to_owned())
            .collect();
        let ranges: BTreeSet<String> = flags
            .iter()
            .filter_map(|rule| rule.split_once("'--src-ip-ranges="))
            .flat_map(|(_, rest)| rest.split('\'').next().unwrap().split(','))
            .filter(|range| *range != "*")
            .map(ToOwned::to_owned)
            .collect();
        let limits: BTreeSet<&str> = flags
            .iter()
            .filter_map(|rule| rule.split_once("'--rate-limit-threshold-count="))
            .map(|(_, rest)| rest.split('\'').next().unwrap())
            .collect();
        let rules = bullet.split(". `destroy`").next().unwrap();
        let named: BTreeSet<String> = backticked(rules)
            .into_iter()
            .skip(2)
            .map(ToOwned::to_owned)
            .collect();
        let expected: BTreeSet<String> = waf.iter().chain(&ranges).cloned().collect();
        assert_eq!(named, expected, "{}: {bullet}", case.name);
        assert!(limits.len() <= 1, "{}", case.name);
        for limit in limits {
            assert!(
                bullet.contains(&format!("above {limit} requests a minute")),
                "{}: {bullet}",
                case.name
            );
        }
    }
    assert!(seen > 0, "no stack has a security policy");
}

/// The `--allowed-hosts` of the server container.
fn allowed_hosts(deployment: &str) -> BTreeSet<String> {
    let value = deployment
        .lines()
        .find_map(|line| line.trim().strip_prefix("- --allowed-hosts="))
        .expect("--allowed-hosts");
    value.split(',').map(str::to_owned).collect()
}

/// The hosts the README says the server answers to: each `name` stands for `name` and
/// `name:*`.
fn readme_hosts(readme: &str) -> BTreeSet<String> {
    let start = readme
        .find("It answers only to these `Host` values")
        .expect("the hosts sentence");
    let end = start + readme[start..].find("\n\n").expect("its end");
    let listed = &readme[start..end];
    let listed = &listed[listed.find("403:").expect("the list")..];
    let pod_ip = listed
        .contains("the pod's own IP address on any port")
        .then(|| "$(POD_IP):*".to_owned());
    backticked(listed)
        .into_iter()
        .flat_map(|host| {
            let bare = !host.contains(':') && !host.ends_with('*');
            std::iter::once(host.to_owned()).chain(bare.then(|| format!("{host}:*")))
        })
        .chain(pod_ip)
        .collect()
}

#[test]
fn the_hosts_are_exactly_what_allowed_hosts_allows() {
    for case in cases() {
        assert_eq!(
            readme_hosts(&case.readme),
            allowed_hosts(&case.deployment),
            "{}",
            case.name
        );
    }
}

/// fnmatch as MLflow applies it to `Host`: `*` and `[a-z]` classes.
fn fnmatch(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.first() {
        None => text.is_empty(),
        Some(b'*') => (0..=text.len()).any(|i| fnmatch(&pattern[1..], &text[i..])),
        Some(b'[') => {
            let Some(close) = pattern.iter().position(|&b| b == b']') else {
                return false;
            };
            let class = &pattern[1..close];
            let Some(&c) = text.first() else {
                return false;
            };
            let hit = class
                .windows(3)
                .any(|w| w[1] == b'-' && (w[0]..=w[2]).contains(&c))
                || class.contains(&c);
            hit && fnmatch(&pattern[close + 1..], &text[1..])
        }
        Some(&p) => text.first() == Some(&p) && fnmatch(&pattern[1..], &text[1..]),
    }
}

#[test]
fn the_url_it_tells_clients_to_use_is_allowed() {
    for case in cases() {
        let hosts = allowed_hosts(&case.deployment);
        let allowed = |host: &str| hosts.iter().any(|p| fnmatch(p.as_bytes(), host.as_bytes()));
        let uri = line_starting(&case.readme, "export MLFLOW_TRACKING_URI=");
        let url = uri
            .trim_start_matches("export MLFLOW_TRACKING_URI=")
            .split_whitespace()
            .next()
            .unwrap();
        let host = url
            .trim_start_matches("http://")
            .trim_start_matches("https://");
        if host.starts_with("EXTERNAL-IP") {
            // A local load balancer: Docker Desktop's localhost, or kind's private address.
            for example in ["localhost:8080", "172.18.0.5:8080", "192.168.49.2:80"] {
                let example = example.replace("8080", host.rsplit(':').next().unwrap());
                assert!(allowed(&example), "{}: {example} would get 403", case.name);
            }
        } else {
            // A client omits port 80 (443 for HTTPS) from `Host`.
            let sent = host.strip_suffix(":80").unwrap_or(host);
            assert!(allowed(sent), "{}: {url} would get 403", case.name);
        }
    }
}

#[test]
fn the_diagram_draws_the_real_nodes() {
    for case in cases() {
        let diagram = &case.readme[case.readme.find("```mermaid").unwrap()..];
        let diagram = &diagram[..diagram[3..].find("```").unwrap()];
        let builds = case.infra.contains("gcloud builds submit");
        assert_eq!(diagram.contains("registry["), builds, "{}", case.name);
        assert_eq!(
            diagram.contains("Artifact Registry"),
            case.infra.contains("gcloud artifacts repositories create"),
            "{}",
            case.name
        );
        assert_eq!(
            diagram.contains("key[\"Secret"),
            case.deployment.contains("secretName:") && case.infra.contains("KEY_SECRET="),
            "{}",
            case.name
        );
        assert_eq!(
            diagram.contains("|\"IAM auth\"|"),
            case.deployment.contains("--auto-iam-authn"),
            "{}",
            case.name
        );
    }
}

/// The NetworkPolicy admits the server's port from exactly the sources the README lists, and
/// those are where the exposure's clients come from: a gateway's Google Front End ranges
/// only; a GKE load balancer's `allow` ranges (the Service keeps client addresses) and the
/// cluster's pods; a cluster-ip Service's pods; a local load balancer's host, from anywhere.
#[test]
fn the_network_policy_admits_what_the_readme_says() {
    use k8s_openapi::api::core::v1::Service;
    use k8s_openapi::api::networking::v1::NetworkPolicy;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    use mlflow_stack::emit::yaml;

    let mut kinds = BTreeSet::new();
    for case in cases() {
        let policy: NetworkPolicy = yaml::parse(&case.network_policy).unwrap();
        let service: Service = yaml::parse(&case.service).unwrap();
        let spec = service.spec.unwrap();
        let from = policy.spec.unwrap().ingress.unwrap()[0].from.clone();
        let Some(peers) = from else {
            assert!(
                case.readme
                    .contains("admits the server's port from any address"),
                "{}",
                case.name
            );
            assert_eq!(spec.type_.as_deref(), Some("LoadBalancer"), "{}", case.name);
            kinds.insert("anyone");
            continue;
        };
        let pods = peers.iter().any(|peer| {
            peer.namespace_selector
                .as_ref()
                .is_some_and(|s| *s == LabelSelector::default())
        });
        let cidrs: BTreeSet<String> = peers
            .iter()
            .filter_map(|peer| peer.ip_block.as_ref().map(|block| block.cidr.clone()))
            .collect();
        let listed: BTreeSet<String> = case
            .readme
            .lines()
            .filter_map(|line| line.strip_prefix("- from `"))
            .filter_map(|rest| rest.split_once("`: "))
            .map(|(cidr, _)| cidr.to_owned())
            .collect();
        assert_eq!(cidrs, listed, "{}", case.name);
        assert_eq!(
            pods,
            case.readme
                .contains("- from pods of every namespace of the cluster"),
            "{}",
            case.name
        );
        let gateway = case
            .readme
            .contains("Clients inside the cluster go through the gateway");
        match spec.type_.as_deref() {
            _ if gateway => {
                assert!(!pods, "{}", case.name);
                let mut expected: BTreeSet<String> = ["35.191.0.0/16", "130.211.0.0/22"]
                    .map(str::to_owned)
                    .into();
                // An internal gateway's proxies send from the proxy-only subnet the stack
                // names, which the README says must exist and shows how to create.
                if let Some(subnet) = case.infra.contains("--purpose=SHARED_LOADBALANCER_VIP").then(|| {
                    let line = case
                        .readme
                        .lines()
                        .find(|l| l.contains(": the internal load balancer's proxies (`expose.proxy_subnet`)"))
                        .unwrap_or_else(|| panic!("{}: no proxy-only subnet listed", case.name));
                    backticked(line)[0].to_owned()
                }) {
                    assert!(
                        case.readme.contains(&format!(
                            "--purpose=REGIONAL_MANAGED_PROXY --role=ACTIVE --network=NETWORK --range={subnet}"
                        )),
                        "{}",
                        case.name
                    );
                    // "`infra.sh` neither creates nor checks it."
                    assert!(
                        case.readme.contains("`infra.sh` neither creates nor checks it")
                            && !case.infra.contains("networks subnets"),
                        "{}",
                        case.name
                    );
                    expected.insert(subnet);
                    kinds.insert("internal gateway");
                } else {
                    kinds.insert("gateway");
                }
                assert_eq!(cidrs, expected, "{}", case.name);
            }
            Some("LoadBalancer") => {
                assert!(pods, "{}", case.name);
                let allow: BTreeSet<String> = spec
                    .load_balancer_source_ranges
                    .unwrap()
                    .into_iter()
                    .collect();
                assert_eq!(cidrs, allow, "{}", case.name);
                assert_eq!(spec.external_traffic_policy.as_deref(), Some("Local"));
                kinds.insert("load-balancer");
            }
            _ => {
                assert!(pods && cidrs.is_empty(), "{}", case.name);
                kinds.insert("cluster-ip");
            }
        }
    }
    assert_eq!(
        kinds.len(),
        5,
        "every exposure is among the stacks: {kinds:?}"
    );
}

/// The predefined roles that allow a gcloud command of `infra.sh`, any one of which does:
/// Google Cloud's role references (`https://cloud.google.com/iam/docs/roles-permissions/…`).
/// `None` for what needs no role of its own (the CLI's own configuration, the preflight's
/// read of the project).
fn roles_allowing(command: &[String]) -> Option<&'static [&'static str]> {
    let words: Vec<&str> = command.iter().map(String::as_str).collect();
    let roles: &'static [&'static str] = match words.as_slice() {
        // The preflight's read of organization policies: without
        // `roles/orgpolicy.policyViewer` (on the organization) it warns and goes on.
        ["auth" | "config" | "components", ..]
        | ["projects", "describe"]
        | ["resource-manager", "org-policies", "describe"] => return None,
        // `servicenetworking.services.get`
        // (https://cloud.google.com/iam/docs/roles-permissions/servicenetworking); Compute
        // Network Admin creates allocated ranges and manages private connections
        // (https://cloud.google.com/vpc/docs/configure-private-services-access#permissions).
        ["services", "vpc-peerings", "list"] => &[
            "roles/servicenetworking.admin",
            "roles/compute.networkAdmin",
        ],
        ["services", "vpc-peerings", "connect"] => &[
            "roles/compute.networkAdmin",
            "roles/servicenetworking.admin",
        ],
        ["services", ..] | ["beta", "services", ..] => &["roles/serviceusage.serviceUsageAdmin"],
        // On the key, in its own project maybe.
        ["kms", ..] => &["roles/cloudkms.admin"],
        ["storage", ..] => &["roles/storage.admin"],
        ["sql" | "beta", ..] => &["roles/cloudsql.admin"],
        ["iam", "service-accounts", "keys", ..] => &["roles/iam.serviceAccountKeyAdmin"],
        ["iam", "service-accounts", ..] => &["roles/iam.serviceAccountAdmin"],
        ["projects", ..] => &["roles/resourcemanager.projectIamAdmin"],
        ["secrets", ..] => &["roles/secretmanager.admin"],
        ["artifacts", ..] | ["container", "images", ..] => &["roles/artifactregistry.admin"],
        ["builds", ..] => &["roles/cloudbuild.builds.editor"],
        [
            "container",
            "clusters",
            "create" | "create-auto" | "update" | "delete",
        ] => &["roles/container.admin"],
        ["container", "clusters", "describe" | "get-credentials"] => &[
            "roles/container.clusterViewer",
            "roles/container.developer",
            "roles/container.admin",
        ],
        ["compute", "addresses", ..] => &["roles/compute.networkAdmin"],
        ["compute", "ssl-policies" | "backend-services", ..] => {
            &["roles/compute.loadBalancerAdmin"]
        }
        // Creating, changing and deleting a security policy and its rules
        // (https://cloud.google.com/armor/docs/configure-security-policies).
        ["compute", "security-policies", ..] => &["roles/compute.securityAdmin"],
        ["certificate-manager", ..] => &["roles/certificatemanager.editor"],
        ["iap", ..] => &["roles/iap.admin"],
        _ => panic!("no role known for `gcloud {}`", words.join(" ")),
    };
    Some(roles)
}

/// The gcloud commands `infra.sh` may run, by their words: those written out, and for each
/// IAM binding of its `BINDINGS` table the policy command that grants it. `policy_of`, which
/// maps every kind of policy to its command (a recorded binding of any kind may need
/// revoking), is read through the table rather than line by line.
fn role_commands(infra: &str) -> Vec<Vec<String>> {
    let start = infra
        .find("\npolicy_of() {")
        .expect("infra.sh has policy_of");
    let end = start + infra[start..].find("\n}\n").expect("policy_of ends");
    let script = format!("{}{}", &infra[..start], &infra[end..]);
    let mut commands: Vec<Vec<String>> = crate::gcloud_flags::invocations(&script)
        .into_iter()
        .map(|(command, _)| command)
        .collect();
    let table = infra
        .split_once("declare -rA BINDINGS=(\n")
        .and_then(|(_, rest)| rest.split_once("\n)\n"))
        .map_or("", |(table, _)| table);
    for entry in table.lines() {
        let value = entry.split_once("]='").map_or("", |(_, value)| value);
        let words: &[&str] = match value.split(':').next().unwrap_or_default() {
            "project" => &["projects", "add-iam-policy-binding"],
            "bucket" => &["storage", "buckets", "add-iam-policy-binding"],
            "service-account" => &["iam", "service-accounts", "add-iam-policy-binding"],
            "repository" => &["artifacts", "repositories", "add-iam-policy-binding"],
            "iap-web" => &["iap", "web", "add-iam-policy-binding"],
            "kms-key" => &["kms", "keys", "add-iam-policy-binding"],
            other => panic!("a binding on an unknown kind of policy: {other}"),
        };
        commands.push(words.iter().map(|word| (*word).to_owned()).collect());
    }
    commands
}

/// Every step `infra.sh` has a template for needs a role of its own.
#[test]
fn every_step_needs_a_role() {
    for &step in mlflow_stack::plan::steps::Step::ALL {
        assert!(
            !mlflow_stack::plan::roles::of_step(step, false, true, false).is_empty(),
            "{step}"
        );
    }
}

/// What `destroy` keeps comes from the step registry: a step kept unless `--delete-data`
/// (or `--delete-cluster`) tests the flag in its section of `infra.sh`, and no other step
/// does. (What `destroy` really keeps is run against the fakes in `infra.rs`.)
#[test]
fn each_step_tests_the_destroy_flag_the_registry_gives_it() {
    use mlflow_stack::plan::steps::{Destroy, Step};
    for case in cases() {
        let sections = case.infra.split("\n# ---").skip(1);
        for section in sections {
            let Some(name) = section
                .lines()
                .next()
                .and_then(|header| header.split_once(" step "))
                .map(|(_, name)| name)
            else {
                continue;
            };
            let step = Step::named(name).unwrap_or_else(|| panic!("{}: {name}", case.name));
            let data = section.contains("[[ $DELETE_DATA == true ]] ||")
                || section.contains("remove_secret ");
            let cluster = section.contains("[[ $DELETE_CLUSTER == true ]] ||");
            let context = format!("{}: {name}", case.name);
            match step.destroy() {
                Destroy::KeptUnlessDeleteData => assert!(data && !cluster, "{context}"),
                Destroy::KeptUnlessDeleteCluster => assert!(cluster && !data, "{context}"),
                Destroy::Kept | Destroy::DeletedWhenOwned => {
                    assert!(!section.contains("DELETE_"), "{context}");
                }
            }
        }
    }
}

/// The roles of the README's "Before you start" table.
fn readme_roles(readme: &str) -> Vec<&str> {
    readme
        .lines()
        .filter(|line| line.starts_with("| `roles/"))
        .filter_map(|line| backticked(line).first().copied())
        .collect()
}

/// The README's roles are what `infra.sh`'s own commands need: each command is allowed by a
/// listed role, and each listed role allows a command (kubectl into a GKE cluster needs
/// `roles/container.developer`).
#[test]
fn the_roles_before_you_start_are_what_infra_sh_runs() {
    for case in cases() {
        let listed = readme_roles(&case.readme);
        assert!(!listed.is_empty(), "{}: no roles", case.name);
        let mut used: BTreeSet<&str> = BTreeSet::new();
        let creates_cluster = case.infra.contains("gcloud container clusters create");
        for command in role_commands(&case.infra) {
            // Without `create = true`, `cluster` relabels or deletes only a cluster this
            // stack created while it had `create = true`, as an account that could.
            if !creates_cluster
                && command.len() == 3
                && command[..2] == ["container", "clusters"]
                && matches!(command[2].as_str(), "update" | "delete")
            {
                continue;
            }
            let Some(allowing) = roles_allowing(&command) else {
                continue;
            };
            let granted: Vec<&str> = allowing
                .iter()
                .copied()
                .filter(|role| listed.contains(role))
                .collect();
            assert!(
                !granted.is_empty(),
                "{}: `gcloud {}` needs one of {allowing:?}; the README lists {listed:?}",
                case.name,
                command.join(" ")
            );
            used.extend(granted);
            // A build that runs as a user-specified account needs `iam.serviceAccounts.actAs`
            // on it (https://cloud.google.com/build/docs/securing-builds/configure-user-specified-service-accounts).
            if command.len() >= 2
                && command[..2] == ["builds", "submit"]
                && case.infra.contains("--service-account=")
            {
                assert!(
                    listed.contains(&"roles/iam.serviceAccountUser"),
                    "{}: the build runs as the builder account",
                    case.name
                );
                used.insert("roles/iam.serviceAccountUser");
            }
        }
        let gke = case.infra.contains("need gke-gcloud-auth-plugin ");
        if gke && case.infra.contains("kubectl create secret") {
            assert!(
                listed.contains(&"roles/container.developer"),
                "{}: kubectl writes Secrets into the GKE cluster",
                case.name
            );
            used.insert("roles/container.developer");
        }
        let unused: Vec<&&str> = listed
            .iter()
            .filter(|role| !used.contains(**role))
            .collect();
        assert!(
            unused.is_empty(),
            "{}: listed, yet no command needs {unused:?}",
            case.name
        );
    }
}

/// The database's public address and, on a local cluster, the key files: said exactly when
/// `infra.sh` does so.
#[test]
fn before_you_start_says_the_database_is_public_and_local_stacks_need_keys() {
    for case in cases() {
        let public = case.infra.contains("sql instances create")
            && !case.infra.contains("--no-assign-ip")
            && !case.infra.contains("--authorized-networks");
        assert_eq!(
            case.readme
                .contains("gets a public IP address with no authorized network"),
            public,
            "{}",
            case.name
        );
        assert_eq!(
            case.readme
                .contains("the server signs in with service-account keys"),
            case.infra
                .contains("gcloud iam service-accounts keys create"),
            "{}",
            case.name
        );
    }
}
