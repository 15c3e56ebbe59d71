//! The server image: who builds it and with what, which tags and repository are the
//! stack's, what vouches for a tag (the record's digest of image/), who may pull it.

use super::*;

/// `registry.repository` may name a shared repository: `destroy` deletes every version of
/// this stack's image, and the repository only when nothing else is left in it.
/// The production stack applied at its tag, then at a bumped one: two tags this stack built.
pub(super) fn two_tags_built(scratch: &TempDir) -> (Sandbox, String) {
    let mut sandbox = Sandbox::new(&stack("production"));
    sandbox.infra(&["apply"]).ok();
    let bumped = changed_stack(
        scratch,
        "production",
        &[("tag = \"2.3.1\"", "tag = \"2.4.0\"")],
        "",
    );
    sandbox.rebuild(&bumped);
    let run = sandbox.infra(&["apply"]).ok();
    assert_eq!(run.result("image"), "created");
    let record = sandbox.resource(&format!("secret {}", sandbox.plan.names.record_secret));
    assert_eq!(record["annotations"]["image-tags"], "2.3.1 2.4.0");
    // The registry digest each build made.
    let versions = record["annotations"]["image-versions"].as_str().unwrap();
    let tags: Vec<&str> = versions
        .split(' ')
        .map(|entry| entry.split_once("@sha256:").unwrap().0)
        .collect();
    assert_eq!(tags, ["2.3.1", "2.4.0"], "{versions}");
    let (package, _) = sandbox.plan.image.image.rsplit_once(':').unwrap();
    let package = package.to_owned();
    (sandbox, package)
}

/// Every version a tag of this stack names is deleted, the old tags' too, and then the
/// repository it created and left empty.
#[test]
fn destroy_deletes_every_tag_this_stack_built() {
    let scratch = TempDir::new("infra-every-tag");
    let (sandbox, package) = two_tags_built(&scratch);
    assert_eq!(
        sandbox.resources_of(&["image", "repository"]),
        [
            format!("image {package}:2.3.1"),
            format!("image {package}:2.4.0"),
            "repository europe-west4/ml-platform".to_owned()
        ]
    );
    let run = sandbox.infra(&["destroy", "--yes"]).ok();
    assert_eq!(run.result("image"), "deleted");
    assert_eq!(run.result("registry"), "deleted");
    assert_eq!(
        sandbox.resources_of(&["image", "repository"]),
        Vec::<String>::new()
    );
}

/// Only what this stack built goes: a version someone else tagged too, the package's other
/// tags and another team's image stay, and so does the repository that holds them.
#[test]
fn destroy_keeps_a_repository_that_holds_other_images() {
    let scratch = TempDir::new("infra-other-images");
    let (sandbox, package) = two_tags_built(&scratch);
    let (registry, _) = package.rsplit_once('/').unwrap();
    assert!(
        registry.ends_with("/acme-ml-prod/ml-platform"),
        "{registry}"
    );
    // The first version also tagged `stable` by hand, a tag pushed by hand, another team's
    // image.
    let shared = json!({"digest": "sha256:0123"});
    sandbox.seed(&format!("image {package}:2.3.1"), shared.clone());
    sandbox.seed(&format!("image {package}:stable"), shared);
    sandbox.seed(&format!("image {package}:hand-pushed"), json!({}));
    sandbox.seed(&format!("image {registry}/feature-store:7"), json!({}));
    let listed = sandbox.infra(&["destroy", "--plan"]).ok();
    let run = sandbox.infra(&["destroy", "--yes"]).ok();
    for run in [&listed, &run] {
        assert!(
            run.stdout
                .contains(&format!("    kept {package}:2.3.1: also tagged stable\n")),
            "{}",
            run.stdout
        );
    }
    assert!(listed.stdout.contains(&format!(
        "    gcloud artifacts docker images delete {package}:2.4.0 --delete-tags --quiet\n"
    )));
    assert_eq!(run.result("image"), "deleted");
    assert_eq!(run.result("registry"), "kept (it holds other images)");
    assert_eq!(
        sandbox.resources_of(&["image", "repository"]),
        [
            format!("image {registry}/feature-store:7"),
            format!("image {package}:2.3.1"),
            format!("image {package}:hand-pushed"),
            format!("image {package}:stable"),
            "repository europe-west4/ml-platform".to_owned()
        ]
    );
    // The record names the tags no more: a tag pushed later under an old name is not ours.
    // Nor the bindings it revoked: it names only the stack's bucket.
    let record = sandbox.resource(&format!("secret {}", sandbox.plan.names.record_secret));
    assert_eq!(
        record["annotations"],
        json!({"stack-bucket": sandbox.plan.names.bucket}),
        "{record}"
    );
    assert!(
        !record_entries(&sandbox)
            .iter()
            .any(|entry| entry.starts_with("image-")),
        "{:?}",
        record_entries(&sandbox)
    );
}

/// In a hardened project the default build account has no roles (the fake refuses a
/// build without its own account): Cloud Build runs as the stack's builder, which holds
/// exactly what the build needs, on this stack's resources only: the staged source and the
/// logs in the bucket, and the image's repository. `destroy` revokes it all.
#[test]
fn the_image_is_built_by_a_builder_holding_only_what_the_build_needs() {
    let sandbox = Sandbox::new(&stack("example"));
    let plan = &sandbox.plan;
    let builder = plan.identity.builder_email.clone().unwrap();
    let run = sandbox.infra(&["apply"]);
    assert_eq!(run.code, 0, "{}", run.transcript);
    let build = run
        .calls
        .iter()
        .find(|call| call.argv.starts_with(&["builds".into(), "submit".into()]))
        .unwrap();
    for flag in [
        format!("--service-account=projects/acme-ml-prod/serviceAccounts/{builder}"),
        "--gcs-log-dir=gs://acme-ml-prod-mlflow/cloudbuild-logs".to_owned(),
    ] {
        assert!(build.argv.contains(&flag), "{flag}: {:?}", build.argv);
    }
    let member = format!("serviceAccount:{builder}");
    let held: BTreeSet<(String, String)> = sandbox.state()["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b[2] == member.as_str())
        .map(|b| {
            (
                b[0].as_str().unwrap().to_owned(),
                b[1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        held,
        BTreeSet::from([
            (
                "bucket acme-ml-prod-mlflow".into(),
                "roles/storage.objectViewer".into()
            ),
            (
                "bucket acme-ml-prod-mlflow".into(),
                "roles/storage.objectCreator".into()
            ),
            (
                "repository europe-west3/mlflow".into(),
                "roles/artifactregistry.writer".into()
            ),
        ])
    );
    let destroy = sandbox.infra(&["destroy", "--yes"]);
    assert_eq!(destroy.code, 0, "{}", destroy.transcript);
    let left = sandbox.state()["bindings"].to_string();
    assert!(!left.contains(&builder), "{left}");
    assert!(
        sandbox.state()["resources"]
            .get(format!("service-account {builder}"))
            .is_none()
    );
}

/// The nodes of a Standard cluster pull the image as their own service account (the
/// Compute Engine default one): it may read the stack's repository, and nothing else;
/// `destroy` revokes what `apply` granted. A grant that was there before is adopted and
/// stays. An Autopilot cluster's nodes are left alone.
#[test]
fn the_nodes_of_a_standard_cluster_may_read_the_repository_only() {
    let zonal = repo().join("tests/fixtures/good/zonal-cluster.toml");
    let sandbox = Sandbox::new(&zonal);
    let nodes = format!(
        "serviceAccount:{}-compute@developer.gserviceaccount.com",
        sandbox.project_number()
    );
    let nodes = nodes.as_str();
    let node_grants = |sandbox: &Sandbox| -> Vec<String> {
        sandbox.state()["bindings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b[2] == nodes)
            .map(|b| format!("{} {}", b[0].as_str().unwrap(), b[1].as_str().unwrap()))
            .collect()
    };
    let run = sandbox.infra(&["apply"]);
    assert_eq!(run.code, 0, "{}", run.transcript);
    assert_eq!(
        node_grants(&sandbox),
        ["repository europe-west1/mlflow roles/artifactregistry.reader"]
    );
    let destroy = sandbox.infra(&["destroy", "--yes"]);
    assert_eq!(destroy.code, 0, "{}", destroy.transcript);
    assert!(node_grants(&sandbox).is_empty());

    // Granted by hand before: adopted, kept by destroy.
    let sandbox = Sandbox::new(&zonal);
    let first = sandbox.infra(&["apply", "services", "service-account", "registry"]);
    assert_eq!(first.code, 0, "{}", first.transcript);
    sandbox.seed_bindings(&[[
        "repository europe-west1/mlflow",
        "roles/artifactregistry.reader",
        nodes,
        "",
    ]]);
    let run = sandbox.infra(&["apply"]);
    assert_eq!(run.code, 0, "{}", run.transcript);
    assert!(
        run.result("node-pull").starts_with("adopted"),
        "{}",
        run.stdout
    );
    // Not revoked (the repository, this stack's, goes with its policy all the same).
    let destroy = sandbox.infra(&["destroy", "--yes"]);
    assert_eq!(destroy.code, 0, "{}", destroy.transcript);
    assert!(
        !destroy.calls.iter().any(|call| call
            .argv
            .contains(&"remove-iam-policy-binding".to_owned())
            && call.argv.contains(&format!("--member={nodes}"))),
        "{}",
        destroy.transcript
    );

    // Autopilot: nothing granted.
    let sandbox = Sandbox::new(&stack("example"));
    let run = sandbox.infra(&["apply"]);
    assert_eq!(run.code, 0, "{}", run.transcript);
    assert!(node_grants(&sandbox).is_empty());
}

/// In a bucket others use too, `apply` removes the source archive its build staged under
/// `cloudbuild-source/`, and nothing else there.
#[test]
fn apply_removes_only_the_source_it_staged() {
    let sandbox = Sandbox::new(&stack("example"));
    let plan = &sandbox.plan;
    sandbox.seed(
        &format!("bucket {}", plan.names.bucket),
        json!({"name": plan.names.bucket, "location": "EUROPE-WEST3",
               "uniform_bucket_level_access": true, "public_access_prevention": "enforced"}),
    );
    let theirs = format!(
        "object {}/cloudbuild-source/1700000000.1-theirs.tgz",
        plan.names.bucket
    );
    sandbox.seed(&theirs, json!({}));
    let run = sandbox.infra(&["apply"]).ok();
    let build = run
        .calls
        .iter()
        .find(|call| call.starts_with("gcloud builds submit"))
        .unwrap();
    assert!(
        build.argv.contains(&"--suppress-logs".to_owned()),
        "{}",
        build.line()
    );
    assert_eq!(sandbox.resources_of(&["object"]), [theirs]);
}

/// An image pushed by hand over the stack's tag is no longer the stack's: `plan` reports
/// it adopted, not ok, and `destroy` keeps it.
#[test]
fn an_image_pushed_over_the_tag_is_kept() {
    let sandbox = Sandbox::new(&stack("example"));
    sandbox.infra(&["apply"]).ok();
    let image = format!("image {}", sandbox.plan.image.image);
    let pushed = format!("sha256:{}", "f".repeat(64));
    sandbox.seed(&image, json!({"digest": pushed}));
    let run = sandbox.infra(&["plan"]).ok();
    assert_eq!(run.result("image"), "adopted");
    assert!(
        run.stdout.contains(&format!(
            "    adopted: image {} (pushed over the version infra.sh built: {pushed} is not sha256:",
            sandbox.plan.image.image
        )),
        "{}",
        run.stdout
    );
    let run = sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
    // The step deletes the builder's push grant, and keeps the image.
    assert_eq!(run.result("image"), "deleted");
    assert_eq!(sandbox.resource(&image)["digest"], pushed.as_str());
}

/// A failed record update around a build stops `apply` (exit 1): the record is written
/// before the build, so that a build it does not know never happens.
#[test]
fn a_failed_image_record_stops_apply() {
    let sandbox = Sandbox::new(&stack("example"));
    let run = sandbox.infra_with(
        &["apply"],
        &[("FAKE_FAIL", "--update-annotations=image-tags")],
    );
    run.failed_as_injected();
    assert!(sandbox.resources_of(&["image"]).is_empty());
    let run = sandbox.infra_with(
        &["apply"],
        &[("FAKE_FAIL", "--update-annotations=image-versions")],
    );
    run.failed_as_injected();
    assert_eq!(sandbox.resources_of(&["image"]).len(), 1);
    // The next run records the version the build made, and the image is the stack's.
    sandbox.infra(&["apply"]).ok();
    let record = sandbox.resource(&format!("secret {}", sandbox.plan.names.record_secret));
    assert!(
        record["annotations"]["image-versions"]
            .as_str()
            .unwrap()
            .starts_with("1.0.0@sha256:"),
        "{record}"
    );
    sandbox.infra(&["destroy", "--yes"]).ok();
    assert!(sandbox.resources_of(&["image"]).is_empty());
}

/// A `tag` that exists but was built from other image/ files (here: a new MLflow version
/// without a new tag) is refused before anything changes, instead of rolling pods onto the
/// old image.
#[test]
fn a_stale_image_tag_is_refused() {
    let scratch = TempDir::new("infra-stale-tag");
    let mut sandbox = Sandbox::new(&stack("example"));
    sandbox.infra(&["apply"]).ok();
    let stale = changed_stack(
        &scratch,
        "example",
        &[],
        "[server]\nmlflow_version = \"3.17.3\"",
    );
    sandbox.rebuild(&stale);
    for args in [&["plan"][..], &["apply"]] {
        let run = sandbox.infra(args);
        run.stopped_before_any_change();
        assert!(
            run.stderr.starts_with(
                "infra.sh: image europe-west3-docker.pkg.dev/acme-ml-prod/mlflow/mlflow-server:1.0.0 \
                 exists but was built from other image/ files (digest "
            ),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr
                .ends_with(": bump `tag` in the stack file and rebuild the bundle\n")
        );
    }
}

/// The digest of an image covers what is built into it, not the generated header that
/// names the stack file: the same stack under another file name (and another directory)
/// builds the same image, so `plan` finds nothing to do and `apply` builds nothing.
#[test]
fn a_renamed_stack_file_keeps_its_image() {
    let scratch = TempDir::new("infra-renamed");
    let mut sandbox = Sandbox::new(&stack("example"));
    sandbox.infra(&["apply"]).ok();
    let renamed = scratch.path().join("moved/acme-prod.toml");
    fs::create_dir_all(renamed.parent().unwrap()).unwrap();
    fs::copy(stack("example"), &renamed).unwrap();
    sandbox.rebuild(&renamed);
    let header = fs::read_to_string(sandbox.path("bundle/image/Dockerfile")).unwrap();
    assert!(header.starts_with("# generated by mlflow-stack from acme-prod.toml;"));
    let run = sandbox.infra(&["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let run = sandbox.infra(&["apply"]).ok();
    run.changed_nothing();
}

/// A record written by an earlier bundle holds the digest of image/ byte for byte, header
/// included: the same files still pass, and other files are still refused.
#[test]
fn a_digest_recorded_by_an_earlier_bundle_still_vouches() {
    let scratch = TempDir::new("infra-legacy-digest");
    let mut sandbox = Sandbox::new(&stack("example"));
    sandbox.infra(&["apply"]).ok();
    let byte_for_byte = Command::new(system_tool("bash"))
        .arg("-c")
        .arg("cd bundle/image && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16")
        .current_dir(sandbox.path(""))
        .output()
        .unwrap();
    let legacy = String::from_utf8(byte_for_byte.stdout).unwrap();
    let mut state = sandbox.state();
    let key = format!("secret {}", sandbox.plan.names.record_secret);
    state["resources"][&key]["labels"]["image-digest"] = json!(legacy.trim());
    sandbox.save_state(&state);
    let run = sandbox.infra(&["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);

    let changed = changed_stack(
        &scratch,
        "example",
        &[],
        "[server]\nmlflow_version = \"3.17.3\"",
    );
    sandbox.rebuild(&changed);
    let run = sandbox.infra(&["plan"]);
    run.stopped_before_any_change();
    assert!(run.stderr.contains("bump `tag`"), "{}", run.stderr);
}

/// An image tag that exists without this stack's record (pushed by hand, or by another
/// tool) is adopted, by `plan` and `apply` alike: used as it is, never rebuilt or deleted;
/// only a tag the record knows is compared with the image/ files (`a_stale_image_tag_is_refused`).
#[test]
fn an_image_built_elsewhere_is_adopted() {
    let sandbox = Sandbox::new(&stack("example"));
    // The registry's API and repository, with the tag pushed into it by someone else.
    sandbox
        .infra(&["apply", "services", "service-account", "registry"])
        .ok();
    let image = format!("image {}", sandbox.plan.image.image);
    sandbox.seed(&image, json!({}));
    let adopted = format!(
        "    adopted: image {} (built elsewhere: its image/ files are unknown)",
        sandbox.plan.image.image
    );
    for args in [&["plan"][..], &["apply"]] {
        let run = sandbox.infra(args).ok();
        assert!(
            run.results().contains(&("image".into(), "adopted".into())),
            "{args:?}\n{}",
            run.stdout
        );
        assert!(run.stdout.contains(&adopted), "{args:?}\n{}", run.stdout);
        assert!(
            run.calls
                .iter()
                .all(|call| !call.starts_with("gcloud builds submit"))
        );
    }
    sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
    assert!(sandbox.resources().contains(&image));
}
