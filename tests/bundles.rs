//! The bundle of every ready-made and good stack: snapshots, typed round trips,
//! determinism.

use std::fmt::Write as _;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use mlflow_stack::diag::Severity;
use mlflow_stack::emit::yaml;
use mlflow_stack::source::Source;

use crate::support::{compile_file, repo, snapshot_settings, stack_files};

fn good_stacks() -> Vec<std::path::PathBuf> {
    let mut stacks = stack_files("stacks");
    stacks.extend(stack_files("tests/fixtures/good"));
    stacks
}

/// The whole bundle as one text, file by file.
fn bundle_text(bundle: &mlflow_stack::emit::Bundle) -> String {
    let mut out = String::new();
    for (path, contents) in &bundle.files {
        let _ = write!(out, "=== {path} ===\n{contents}");
        if !contents.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// Good stacks with an extra package the lock does not hold: their one diagnostic is the
/// warning that it resolves when the image is built.
const UNLOCKED_PACKAGES: &[&str] = &["gke-gateway-operations", "local-operations"];

/// The good stack behind a load balancer on gke: its one diagnostic is the warning that
/// nobody signs in (basic auth there would be plain HTTP, an error).
const LOAD_BALANCER_WITHOUT_SIGN_IN: &str = "gke-given-image-lb";

#[test]
fn every_good_stack_compiles_without_warnings() {
    for path in good_stacks() {
        let (source, compiled) = compile_file(&path);
        let stem = path.file_stem().unwrap().to_str().unwrap();
        let codes: Vec<&str> = compiled.diagnostics.iter().map(|d| d.code.name()).collect();
        let expected: &[&str] = if UNLOCKED_PACKAGES.contains(&stem) {
            &["unlocked-dependencies"]
        } else if stem == LOAD_BALANCER_WITHOUT_SIGN_IN {
            &["no-auth"]
        } else {
            &[]
        };
        assert_eq!(
            codes,
            expected,
            "{}:\n{}",
            path.display(),
            crate::support::render_all(&source, &compiled)
        );
        assert_eq!(compiled.diagnostics.count(Severity::Error), 0);
        assert!(compiled.bundle.is_some());
    }
}

#[test]
fn bundle_snapshots() {
    for path in stack_files("stacks") {
        let (_, compiled) = compile_file(&path);
        let bundle = compiled.bundle.expect("stacks/ compile");
        let name = format!("bundle@{}", path.file_stem().unwrap().to_string_lossy());
        snapshot_settings().bind(|| insta::assert_snapshot!(name, bundle_text(&bundle)));
    }
}

#[test]
fn manifests_parse_back_into_kubernetes_types() {
    for path in good_stacks() {
        let (_, compiled) = compile_file(&path);
        let bundle = compiled.bundle.unwrap();
        let get = |file: &str| {
            bundle
                .get(&format!("kubernetes/{file}"))
                .unwrap_or_else(|| panic!("{file}"))
        };
        let deployment: Deployment = yaml::parse(get("deployment.yaml")).unwrap();
        let spec = deployment.spec.unwrap();
        // Every old pod stops before a new one migrates: an MLflow server refuses a schema
        // revision other than its own.
        let strategy = spec.strategy.unwrap();
        assert_eq!(
            strategy.type_.as_deref(),
            Some("Recreate"),
            "{}",
            path.display()
        );
        assert!(strategy.rolling_update.is_none(), "{}", path.display());
        let pod = spec.template.spec.unwrap();
        let init: Vec<&str> = pod
            .init_containers
            .as_ref()
            .unwrap()
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        // MLflow's basic-auth app never starts before its user store is migrated.
        let basic_auth = pod.containers[0]
            .args
            .as_ref()
            .is_some_and(|args| args.iter().any(|arg| arg == "--app-name=basic-auth"));
        let expected: &[&str] = if basic_auth {
            &["cloud-sql-proxy", "migrate", "migrate-auth"]
        } else {
            &["cloud-sql-proxy", "migrate"]
        };
        assert_eq!(init, expected, "{}", path.display());
        assert_eq!(pod.containers[0].name, "mlflow");
        if let Some(namespace) = bundle.get("kubernetes/namespace.yaml") {
            let _: Namespace = yaml::parse(namespace).unwrap();
        }
        let _: ServiceAccount = yaml::parse(get("serviceaccount.yaml")).unwrap();
        let _: ConfigMap = yaml::parse(get("configmap.yaml")).unwrap();
        let _: Service = yaml::parse(get("service.yaml")).unwrap();
        let _: NetworkPolicy = yaml::parse(get("networkpolicy.yaml")).unwrap();
        if let Some(pdb) = bundle.get("kubernetes/poddisruptionbudget.yaml") {
            let _: PodDisruptionBudget = yaml::parse(pdb).unwrap();
        }
    }
}

#[test]
fn no_secret_value_or_password_reaches_the_bundle() {
    for path in good_stacks() {
        let (_, compiled) = compile_file(&path);
        let bundle = compiled.bundle.unwrap();
        for (file, contents) in &bundle.files {
            assert!(!contents.contains("BEGIN PRIVATE KEY"), "{file}");
            if file.starts_with("kubernetes/") {
                assert!(!contents.contains("kind: Secret"), "{file}");
                assert!(!contents.contains(":password@"), "{file}");
                // The basic-auth admin password comes from a Secret, never the config file.
                assert!(!contents.contains("admin_password"), "{file}");
            }
        }
    }
}

#[test]
fn output_does_not_depend_on_the_path_spelling() {
    let text = std::fs::read_to_string(repo().join("stacks/example.toml")).unwrap();
    let spellings = [
        "stacks/example.toml",
        "./stacks/../stacks/example.toml",
        "/somewhere/else/example.toml",
    ];
    let bundles: Vec<_> = spellings
        .iter()
        .map(|path| {
            mlflow_stack::compile(&Source::new(*path, text.clone()))
                .bundle
                .unwrap()
        })
        .collect();
    assert!(bundles.windows(2).all(|pair| pair[0] == pair[1]));
}

#[test]
fn every_file_starts_with_the_generated_by_header() {
    let (_, compiled) = compile_file(&repo().join("stacks/example.toml"));
    for (file, contents) in &compiled.bundle.unwrap().files {
        let header_line = if file == "infra.sh" {
            contents.lines().nth(1)
        } else {
            contents.lines().next()
        };
        assert!(
            header_line
                .is_some_and(|line| line.contains("generated by mlflow-stack from example.toml")),
            "{file}"
        );
    }
}

#[test]
fn bash_accepts_every_infra_script() {
    for path in good_stacks() {
        let (_, compiled) = compile_file(&path);
        let script = compiled.bundle.unwrap().get("infra.sh").unwrap().to_owned();
        let output = std::process::Command::new("bash")
            .args(["-n", "-c", &script])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn values_yaml_1_1_reads_as_booleans_come_out_quoted() {
    let (_, compiled) = compile_file(&repo().join("tests/fixtures/good/yaml-1-1-words.toml"));
    let bundle = compiled.bundle.unwrap();
    let namespace = bundle.get("kubernetes/namespace.yaml").unwrap();
    assert!(namespace.contains("\n  name: 'on'\n"), "{namespace}");
    assert!(
        namespace.contains("app.kubernetes.io/instance: 'yes'\n"),
        "{namespace}"
    );
    for (file, contents) in &bundle.files {
        if file.starts_with("kubernetes/") {
            assert!(!contents.contains(": on\n"), "{file}");
            assert!(!contents.contains(": yes\n"), "{file}");
        }
    }
    let parsed: Namespace = yaml::parse(namespace).unwrap();
    assert_eq!(parsed.metadata.name.as_deref(), Some("on"));
}

#[test]
fn a_shared_or_default_namespace_is_never_an_object_of_the_bundle() {
    let default =
        std::fs::read_to_string(repo().join("tests/fixtures/bad/default-namespace.toml")).unwrap();
    let shared =
        std::fs::read_to_string(repo().join("tests/fixtures/good/shared-namespace.toml")).unwrap();
    for (name, text, namespace) in [
        ("default.toml", default, "default"),
        ("shared.toml", shared, "data-platform"),
    ] {
        let compiled = mlflow_stack::compile(&Source::new(name, text));
        assert!(!compiled.diagnostics.has_errors(), "{name}");
        let bundle = compiled.bundle.unwrap();
        assert!(bundle.get("kubernetes/namespace.yaml").is_none(), "{name}");
        let kustomization = bundle.get("kubernetes/kustomization.yaml").unwrap();
        assert!(!kustomization.contains("namespace.yaml"), "{kustomization}");
        let manifests = bundle.manifests();
        assert!(!manifests.contains("kind: Namespace"), "{name}");
        assert!(!manifests.contains("pod-security.kubernetes.io"), "{name}");
        // The objects still go into that namespace.
        assert!(
            manifests.contains(&format!("namespace: {namespace}\n")),
            "{name}"
        );
    }
    // An owned namespace is an object of the bundle, with its Pod Security label.
    let (_, compiled) = compile_file(&repo().join("stacks/example.toml"));
    let bundle = compiled.bundle.unwrap();
    let namespace = bundle.get("kubernetes/namespace.yaml").unwrap();
    assert!(namespace.contains("pod-security.kubernetes.io/enforce: restricted"));
}

/// A gateway's custom resources read back into their typed structs (unknown fields are
/// errors), and hang together: the Gateway of the scope's class serves `host` on the
/// reserved address with its certificate (an external one through its certificate map, an
/// internal one named in its HTTPS listener), the routes attach to its listeners, the policies target the Service,
/// IAP is on exactly when it signs users in, MLflow accepts `host`, and the NetworkPolicy
/// admits only the load balancer's ranges.
#[test]
fn gateway_resources_hang_together() {
    use mlflow_stack::emit::gateway::{
        CERT_MANAGER_CERTS_OPTION, CERTMAP_ANNOTATION, Gateway, GcpBackendPolicy, GcpGatewayPolicy,
        HealthCheckPolicy, HttpRoute,
    };
    let mut gateways = 0;
    let mut internal_gateways = 0;
    for path in good_stacks() {
        let (_, compiled) = compile_file(&path);
        let bundle = compiled.bundle.unwrap();
        let get = |file: &str| bundle.get(&format!("kubernetes/{file}"));
        let Some(gateway) = get("gateway.yaml") else {
            continue;
        };
        gateways += 1;
        // Every manifest is a resource of the kustomization (`kubectl apply -k`).
        let kustomization = get("kustomization.yaml").unwrap();
        for file in bundle.files.keys() {
            if let Some(name) = file.strip_prefix("kubernetes/")
                && name != "kustomization.yaml"
            {
                assert!(kustomization.contains(&format!("- {name}\n")), "{name}");
            }
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let gateway: Gateway = yaml::parse(gateway).unwrap();
        let route: HttpRoute = yaml::parse(get("httproute.yaml").unwrap()).unwrap();
        let redirect: HttpRoute = yaml::parse(get("httproute-redirect.yaml").unwrap()).unwrap();
        let health: HealthCheckPolicy =
            yaml::parse(get("healthcheckpolicy.yaml").unwrap()).unwrap();
        let backend: GcpBackendPolicy = yaml::parse(get("gcpbackendpolicy.yaml").unwrap()).unwrap();
        let service: Service = yaml::parse(get("service.yaml").unwrap()).unwrap();
        let service_name = service.metadata.name.clone().unwrap();
        let host = &gateway.spec.listeners[0].hostname;
        assert!(
            text.contains(&format!("host = \"{host}\"")),
            "{}",
            path.display()
        );
        let stack: toml::Table = toml::from_str(&text).unwrap();
        let proxy_subnet = stack["expose"]
            .get("proxy_subnet")
            .and_then(toml::Value::as_str);
        let internal =
            stack["expose"].get("scope").and_then(toml::Value::as_str) == Some("internal");
        assert_eq!(internal, proxy_subnet.is_some(), "{}", path.display());
        let https = &gateway.spec.listeners[1];
        if internal {
            internal_gateways += 1;
            assert_eq!(gateway.spec.gateway_class_name, "gke-l7-rilb");
            // A regional Gateway takes no certificate map: its certificate is named in the
            // HTTPS listener, and the plain HTTP one has none.
            assert!(gateway.metadata.annotations.is_none());
            let tls = https.tls.as_ref().unwrap();
            assert_eq!(tls.mode, "Terminate");
            assert!(tls.options[CERT_MANAGER_CERTS_OPTION].ends_with("-cert"));
            assert!(gateway.spec.listeners[0].tls.is_none());
        } else {
            assert_eq!(
                gateway.spec.gateway_class_name,
                "gke-l7-global-external-managed"
            );
            assert!(
                gateway
                    .metadata
                    .annotations
                    .as_ref()
                    .unwrap()
                    .contains_key(CERTMAP_ANNOTATION)
            );
            assert!(https.tls.is_none());
        }
        let listeners: Vec<(&str, &str, i32)> = gateway
            .spec
            .listeners
            .iter()
            .map(|l| (l.name.as_str(), l.protocol.as_str(), l.port))
            .collect();
        assert_eq!(listeners, [("http", "HTTP", 80), ("https", "HTTPS", 443)]);
        assert_eq!(route.spec.parent_refs[0].section_name, "https");
        assert_eq!(route.spec.rules[0].backend_refs[0].name, service_name);
        assert_eq!(
            route.spec.rules[0].backend_refs[0].port,
            service.spec.as_ref().unwrap().ports.as_ref().unwrap()[0].port
        );
        assert_eq!(redirect.spec.parent_refs[0].section_name, "http");
        assert!(redirect.spec.rules[0].backend_refs.is_empty());
        assert_eq!(
            redirect.spec.rules[0].filters[0].request_redirect.scheme,
            "https"
        );
        assert_eq!(
            health.spec.default.config.http_health_check.request_path,
            "/health"
        );
        for target in [&health.spec.target_ref, &backend.spec.target_ref] {
            assert_eq!(
                (target.kind.as_str(), target.name.as_str()),
                ("Service", service_name.as_str())
            );
        }
        assert!(
            backend.spec.default.timeout_sec >= 600,
            "large uploads need time"
        );
        assert_eq!(
            backend.spec.default.iap.is_some(),
            text.contains("kind = \"iap\"")
        );
        // The Gateway's frontend takes the SSL policy infra.sh creates (TLS 1.2 and newer);
        // an internal gateway says whether other regions reach it, as the stack asks.
        let frontend: GcpGatewayPolicy =
            yaml::parse(get("gcpgatewaypolicy.yaml").unwrap()).unwrap();
        let target = &frontend.spec.target_ref;
        assert_eq!(
            (
                target.group.as_str(),
                target.kind.as_str(),
                target.name.as_str()
            ),
            (
                "gateway.networking.k8s.io",
                "Gateway",
                gateway.metadata.name.as_deref().unwrap()
            )
        );
        let infra = bundle.get("infra.sh").unwrap();
        let ssl_policy = &frontend.spec.default.ssl_policy;
        assert!(
            infra.contains(&format!("readonly SSL_POLICY={ssl_policy}\n")),
            "{}",
            path.display()
        );
        let global_access = stack["expose"]
            .get("global_access")
            .and_then(toml::Value::as_bool);
        assert_eq!(
            frontend.spec.default.allow_global_access,
            internal.then_some(global_access.unwrap_or(false)),
            "{}",
            path.display()
        );

        let deployment: Deployment = yaml::parse(get("deployment.yaml").unwrap()).unwrap();
        let args = deployment.spec.unwrap().template.spec.unwrap().containers[0]
            .args
            .clone()
            .unwrap();
        let allowed = args
            .iter()
            .find_map(|a| a.strip_prefix("--allowed-hosts="))
            .unwrap();
        assert!(allowed.split(',').any(|h| h == host), "{allowed}");
        let policy: NetworkPolicy = yaml::parse(get("networkpolicy.yaml").unwrap()).unwrap();
        let from: Vec<String> = policy.spec.unwrap().ingress.unwrap()[0]
            .from
            .clone()
            .unwrap()
            .into_iter()
            .filter_map(|peer| peer.ip_block.map(|block| block.cidr))
            .collect();
        // Besides the load balancer (an internal one's proxies in the proxy-only subnet, and
        // the health checks), only the bundle's own pods (see `operations.rs`).
        let expected: Vec<&str> = proxy_subnet
            .into_iter()
            .chain(["35.191.0.0/16", "130.211.0.0/22"])
            .collect();
        assert_eq!(from, expected);
    }
    assert!(gateways >= 3, "the good stacks hold {gateways} gateways");
    assert!(
        internal_gateways >= 1,
        "no internal gateway among the good stacks"
    );
}

#[test]
fn only_a_built_image_has_an_image_directory_and_it_is_locked() {
    for path in good_stacks() {
        let text = std::fs::read_to_string(&path).unwrap();
        let stack: toml::Table = toml::from_str(&text).unwrap();
        let given = stack.get("registry").and_then(|r| r.get("image")).is_some();
        let (_, compiled) = compile_file(&path);
        let bundle = compiled.bundle.unwrap();
        let image_files: Vec<&String> = bundle
            .files
            .keys()
            .filter(|p| p.starts_with("image/"))
            .collect();
        if given {
            assert!(
                image_files.is_empty(),
                "{}: {image_files:?}",
                path.display()
            );
            continue;
        }
        let iap = stack
            .get("auth")
            .and_then(|a| a.get("kind"))
            .and_then(|k| k.as_str())
            == Some("iap");
        let mut expected = vec!["image/Dockerfile"];
        if iap {
            expected.push("image/mlflow_stack_iap.py");
        }
        expected.extend(["image/requirements.lock", "image/requirements.txt"]);
        assert_eq!(image_files, expected, "{}", path.display());
        let dockerfile = bundle.get("image/Dockerfile").unwrap();
        // Behind IAP the image installs the module of src/image/, checked by its sha256.
        if let Some(module) = bundle.get("image/mlflow_stack_iap.py") {
            use sha2::Digest as _;
            assert!(module.ends_with(include_str!("../src/image/mlflow_stack_iap.py")));
            let sha = format!("{:x}", sha2::Sha256::digest(module.as_bytes()));
            assert!(
                dockerfile.contains(&format!(
                    "RUN printf '%s  %s\\n' {sha} /tmp/mlflow_stack_iap.py | sha256sum --check --strict \\\n && install -m 0644 /tmp/mlflow_stack_iap.py /usr/local/lib/python3.12/site-packages/ \\\n"
                )),
                "{dockerfile}"
            );
        }
        assert!(
            dockerfile.contains("\nFROM python:3.12.12-slim-trixie\n"),
            "{dockerfile}"
        );
        // `server.packages` are not in the lock: pip resolves them when the image is built.
        let packages: Vec<String> = stack
            .get("server")
            .and_then(|s| s.get("packages"))
            .and_then(|p| p.as_array())
            .map(|p| {
                p.iter()
                    .filter_map(|v| v.as_str())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let index = if packages.is_empty() {
            "--no-index "
        } else {
            ""
        };
        assert!(
            dockerfile.contains(&format!(
                "RUN pip install --no-compile --require-hashes -r /tmp/requirements.lock \\\n && pip install --no-compile {index}-r /tmp/requirements.txt \\\n"
            )),
            "{}: {dockerfile}",
            path.display()
        );
        // Every other pin of requirements.txt is in the lock, at that version, with hashes.
        let lock = bundle.get("image/requirements.lock").unwrap();
        for line in bundle.get("image/requirements.txt").unwrap().lines() {
            if line.starts_with('#') || packages.iter().any(|p| p == line) {
                continue;
            }
            let (name, version) = line.split_once("==").unwrap();
            let normalized = mlflow_stack::lock::normalize(name);
            assert!(
                lock.contains(&format!("\n{normalized}=={version} \\\n    --hash=sha256:")),
                "{}: {line} is not locked",
                path.display()
            );
        }
    }
}

#[test]
fn another_mlflow_keeps_the_rest_of_the_lock_and_resolves_mlflow_at_build_time() {
    let text = std::fs::read_to_string(repo().join("stacks/example.toml")).unwrap()
        + "\n[server]\nmlflow_version = \"3.16.1\"\n";
    let source = Source::new("previous.toml", text);
    let compiled = mlflow_stack::compile(&source);
    let codes: Vec<&str> = compiled.diagnostics.iter().map(|d| d.code.name()).collect();
    assert_eq!(codes, ["unlocked-dependencies"]);
    let bundle = compiled.bundle.unwrap();
    let lock = bundle.get("image/requirements.lock").unwrap();
    assert!(!lock.contains("\nmlflow=="), "{lock}");
    assert!(!lock.contains("\nmlflow-skinny=="));
    assert!(lock.contains("\nsqlalchemy=="));
    assert!(
        bundle
            .get("image/requirements.txt")
            .unwrap()
            .contains("\nmlflow==3.16.1\n")
    );
    let dockerfile = bundle.get("image/Dockerfile").unwrap();
    assert!(dockerfile.contains(" && pip install --no-compile -r /tmp/requirements.txt \\\n"));
    assert!(dockerfile.contains("--require-hashes -r /tmp/requirements.lock"));
}

/// The `mlflow` container of a stack written into `scratch` as `name.toml`.
fn server_container(
    scratch: &crate::support::TempDir,
    name: &str,
    text: &str,
) -> (k8s_openapi::api::core::v1::Container, Deployment) {
    let path = scratch.path().join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    let (source, compiled) = compile_file(&path);
    let rendered = crate::support::render_all(&source, &compiled);
    let bundle = compiled
        .bundle
        .unwrap_or_else(|| panic!("{name}: {rendered}"));
    let deployment: Deployment =
        yaml::parse(bundle.get("kubernetes/deployment.yaml").unwrap()).unwrap();
    let spec = deployment.spec.clone().unwrap().template.spec.unwrap();
    let container = spec
        .containers
        .into_iter()
        .find(|c| c.name == "mlflow")
        .unwrap();
    (container, deployment)
}

fn flag<'a>(container: &'a k8s_openapi::api::core::v1::Container, name: &str) -> Option<&'a str> {
    container
        .args
        .iter()
        .flatten()
        .find_map(|arg| arg.strip_prefix(&format!("{name}=")))
}

const GKE_STACK: &str = "project = \"acme-ml-prod\"\nregion = \"europe-west3\"\n\
    bucket = \"acme-ml-prod-mlflow\"\ntag = \"1.0.0\"\nenvironment = \"gke\"\n";

/// MLflow refuses a state-changing API call whose `Origin` is neither localhost nor listed
/// in `--cors-allowed-origins`, and browsers send `Origin` on every POST: the server lists
/// exactly the origins of the names clients use, never `*`. Behind a Google load balancer,
/// uvicorn keeps idle connections longer than the load balancer's 600 s.
#[test]
fn the_front_door_admits_the_origins_clients_use() {
    let scratch = crate::support::TempDir::new("front-door");
    let cases: &[(&str, String, Option<&str>, bool)] = &[
        ("cluster-ip", GKE_STACK.to_owned(), None, false),
        (
            "gateway",
            format!(
                "{GKE_STACK}\n[expose]\ntype = \"gateway\"\nhost = \"mlflow.acme.example\"\n\n[auth]\nkind = \"iap\"\nmembers = [\"group:ml@acme.example\"]\noauth_client_id = \"123456789012-mlflowteam.apps.googleusercontent.com\"\n"
            ),
            Some("https://mlflow.acme.example"),
            true,
        ),
        (
            "load-balancer",
            format!(
                "{GKE_STACK}\n[server]\nallowed_hosts = [\"mlflow.acme.example\", \"*.ml.acme.example:8080\", \"mlflow-server.mlflow.svc\", \"203.0.113.7:9000\"]\n\n[expose]\ntype = \"load-balancer\"\nallow = [\"203.0.113.0/24\"]\n\n[auth]\nkind = \"none\"\n"
            ),
            Some("http://mlflow.acme.example:8080,http://*.ml.acme.example:8080"),
            true,
        ),
        (
            "load-balancer-80",
            format!(
                "{GKE_STACK}\n[server]\nallowed_hosts = [\"mlflow.acme.example\"]\n\n[expose]\ntype = \"load-balancer\"\nport = 80\nallow = [\"203.0.113.0/24\"]\n\n[auth]\nkind = \"none\"\n"
            ),
            Some("http://mlflow.acme.example"),
            true,
        ),
    ];
    for (name, text, origins, keep_alive) in cases {
        let (container, _) = server_container(&scratch, name, text);
        assert_eq!(
            flag(&container, "--cors-allowed-origins"),
            *origins,
            "{name}"
        );
        assert_eq!(
            flag(&container, "--uvicorn-opts"),
            keep_alive.then_some("--timeout-keep-alive=650"),
            "{name}"
        );
    }
    for path in good_stacks() {
        let (_, compiled) = compile_file(&path);
        let bundle = compiled.bundle.unwrap();
        let text = bundle.get("kubernetes/deployment.yaml").unwrap();
        assert!(!text.contains("origins=*"), "{}", path.display());
        if bundle.get("kubernetes/gateway.yaml").is_some() {
            assert!(
                text.contains("--cors-allowed-origins=https://"),
                "{}",
                path.display()
            );
            assert!(
                text.contains("--timeout-keep-alive=650"),
                "{}",
                path.display()
            );
        }
    }
}

/// Proxied artifacts pass through `/tmp`: its `emptyDir` has a `sizeLimit` (8Gi unless
/// `server.tmp_size` says otherwise) and the server container requests as much ephemeral
/// storage.
#[test]
fn tmp_is_sized_for_model_files_and_requested() {
    let scratch = crate::support::TempDir::new("tmp-size");
    for (name, text, size) in [
        ("default", GKE_STACK.to_owned(), "8Gi"),
        (
            "sized",
            format!("{GKE_STACK}\n[server]\ntmp_size = \"20Gi\"\n"),
            "20Gi",
        ),
    ] {
        let (container, deployment) = server_container(&scratch, name, &text);
        let spec = deployment.spec.unwrap().template.spec.unwrap();
        let tmp = spec
            .volumes
            .unwrap()
            .into_iter()
            .find(|v| v.name == "tmp")
            .unwrap();
        let limit = tmp.empty_dir.unwrap().size_limit.unwrap();
        assert_eq!(limit.0, size, "{name}");
        let requests = container.resources.unwrap().requests.unwrap();
        assert_eq!(requests["ephemeral-storage"].0, size, "{name}");
        assert!(
            container
                .volume_mounts
                .unwrap()
                .iter()
                .any(|m| m.name == "tmp" && m.mount_path == "/tmp")
        );
    }
}
