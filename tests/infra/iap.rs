//! IAP's side of `infra.sh`: the OAuth client secret an administrator keeps in Secret
//! Manager, copied into the Kubernetes Secret the `GCPBackendPolicy` names without ever
//! being an argument or output; the project number the server checks audiences against;
//! the preflight that stops while the secret is missing; and `check-iap`, which reads the
//! backend service GKE made.

use mlflow_stack::plan::auth::IapAuthPlan;

use super::*;

fn iap(sandbox: &Sandbox) -> IapAuthPlan {
    sandbox.plan.auth.iap.clone().expect("an IAP stack")
}

fn assert_secret_never_shown(run: &Run) {
    for call in &run.calls {
        assert!(
            !call.line().contains(OAUTH_CLIENT_SECRET) && !call.note.contains(OAUTH_CLIENT_SECRET),
            "{}",
            call.line()
        );
    }
    for text in [&run.stdout, &run.stderr, &run.transcript] {
        assert!(!text.contains(OAUTH_CLIENT_SECRET), "{text}");
    }
}

#[test]
fn apply_copies_the_oauth_client_secret_and_the_project_number_without_showing_them() {
    let sandbox = Sandbox::new(&stack("team"));
    let iap = iap(&sandbox);
    let namespace = &sandbox.plan.names.namespace;

    let first = sandbox.infra(&["apply"]).ok();
    assert_secret_never_shown(&first);
    assert_eq!(first.result("auth-secret"), "created");
    let oauth = sandbox.resource(&format!("k8s Secret/{namespace}/{}", iap.oauth_k8s_secret));
    // GKE reads the key `key` of the Secret a GCPBackendPolicy's oauth2ClientSecret names.
    assert_eq!(oauth["data"], json!(["key"]));
    assert_eq!(
        oauth["labels"]["mlflow-stack"],
        json!(sandbox.plan.names.stack_name)
    );
    let project = sandbox.resource(&format!(
        "k8s Secret/{namespace}/{}",
        iap.project_k8s_secret
    ));
    assert_eq!(project["data"], json!(["project-number"]));
    // The secret went through a pipe: Secret Manager's answer into kubectl's stdin.
    let access = first
        .calls
        .iter()
        .find(|call| {
            call.starts_with("gcloud secrets versions access latest")
                && call.line().contains(&iap.oauth_secret)
        })
        .expect("the secret is read once");
    assert!(!access.mutating);

    // A second apply changes nothing: the Kubernetes Secrets exist.
    let second = sandbox.infra(&["apply"]).ok();
    assert_secret_never_shown(&second);
    assert_eq!(second.result("auth-secret"), "exists");
    second.changed_nothing();
    let plan = sandbox.infra(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{plan:#?}");
    assert_secret_never_shown(&plan);
}

/// The README tells the administrator how to create the secret; the preflight, which
/// stops before any change, says the same command.
#[test]
fn a_missing_oauth_client_secret_stops_the_preflight_with_the_readme_fix() {
    let sandbox = Sandbox::new(&stack("team"));
    let iap = iap(&sandbox);
    let mut state = sandbox.state();
    state["resources"]
        .as_object_mut()
        .unwrap()
        .remove(&format!("secret {}", iap.oauth_secret));
    fs::write(
        sandbox.path("state/state.json"),
        serde_json::to_string(&state).unwrap(),
    )
    .unwrap();
    let fix = format!(
        "gcloud secrets create {} --project={} --replication-policy=automatic --data-file=-",
        iap.oauth_secret, sandbox.plan.names.project
    );
    let readme = fs::read_to_string(sandbox.path("bundle/README.md")).unwrap();
    assert!(readme.contains(&format!("\n{fix}\n")), "{readme}");

    for args in [&["apply"][..], &["plan"]] {
        let run = sandbox.infra(args);
        assert_eq!(run.code, 1, "{run:#?}");
        assert!(
            run.stderr.contains(&format!(
                "Secret Manager secret {} not found",
                iap.oauth_secret
            )),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains(&fix), "{}", run.stderr);
        run.changed_nothing();
    }
}

/// The backend service GKE makes for the Service, as the Compute Engine API shows it.
fn backend_service(sandbox: &Sandbox, iap: Value) -> (String, Value) {
    let plan = &sandbox.plan;
    let service = &plan.gateway.as_ref().unwrap().name;
    let name = format!(
        "gkegw1-x2fk-{}-{service}-{}-3nbrdm8vbtoa",
        plan.names.namespace, plan.exposure.port
    );
    let mut attributes = json!({
        "name": name,
        "protocol": "HTTP",
        "loadBalancingScheme": "EXTERNAL_MANAGED",
        "timeoutSec": 3600,
    });
    if !iap.is_null() {
        attributes["iap"] = iap;
    }
    (format!("backend-service global/{name}"), attributes)
}

#[test]
fn check_iap_reports_iap_on_the_backend_service_gke_made() {
    let sandbox = Sandbox::new(&stack("team"));
    let client = iap(&sandbox).oauth_client_id;
    sandbox.infra(&["apply"]).ok();
    // Another stack's backend service, and GKE's default backend, are not looked at.
    sandbox.seed(
        "backend-service global/gkegw1-x2fk-default-other-8080-aaaa",
        json!({"name": "gkegw1-x2fk-default-other-8080-aaaa"}),
    );

    // Before GKE made it: not yet, and a non-zero exit.
    let run = sandbox.infra(&["check-iap"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr
            .contains("no backend service for Service team-mlflow/team-mlflow-server yet"),
        "{}",
        run.stderr
    );
    run.changed_nothing();

    // Made, IAP off (the GCPBackendPolicy not applied): a non-zero exit.
    let (key, off) = backend_service(&sandbox, json!({"enabled": false}));
    sandbox.seed(&key, off);
    let run = sandbox.infra(&["check-iap"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stdout.contains("IAP is OFF for backend service gkegw1-x2fk-team-mlflow-team-mlflow-server-8080-3nbrdm8vbtoa"), "{}", run.stdout);

    // Made without IAP's block at all: off too.
    let (key, bare) = backend_service(&sandbox, Value::Null);
    sandbox.seed(&key, bare);
    assert_eq!(sandbox.infra(&["check-iap"]).code, 1);

    // On, with another OAuth client than the stack's: a non-zero exit.
    let (key, other) = backend_service(
        &sandbox,
        json!({"enabled": true, "oauth2ClientId": "999-other.apps.googleusercontent.com",
               "oauth2ClientSecretSha256": "ab12"}),
    );
    sandbox.seed(&key, other);
    let run = sandbox.infra(&["check-iap"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stdout
            .contains("but with OAuth client 999-other.apps.googleusercontent.com"),
        "{}",
        run.stdout
    );

    // On, with the stack's client: exit 0, read-only.
    let (key, on) = backend_service(
        &sandbox,
        json!({"enabled": true, "oauth2ClientId": client, "oauth2ClientSecretSha256": "ab12"}),
    );
    sandbox.seed(&key, on);
    let run = sandbox.infra(&["check-iap"]).ok();
    assert_eq!(
        run.stdout,
        format!(
            "IAP is on for backend service gkegw1-x2fk-team-mlflow-team-mlflow-server-8080-3nbrdm8vbtoa, with OAuth client {client}\n"
        )
    );
    run.changed_nothing();
    let list = run
        .calls
        .iter()
        .find(|call| call.starts_with("gcloud compute backend-services list"))
        .expect("it lists the backend services");
    assert!(
        list.argv.contains(&"--global".to_owned()),
        "{}",
        list.line()
    );
}
