//! The binary as users run it: exit codes, stdout, stderr, files written.

use std::fs;

use crate::support::{TempDir, code, repo, run, run_in, stderr, stdout};

fn write(dir: &TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

const GOOD: &str = "project = \"acme-ml-prod\"\nregion = \"europe-west3\"\nbucket = \"acme-ml-prod-mlflow\"\ntag = \"1.0.0\"\nenvironment = \"gke\"\n";

#[test]
fn check_passes_the_ready_made_stacks() {
    let output = run(&[
        "check",
        "stacks/example.toml",
        "stacks/local.toml",
        "stacks/production.toml",
    ]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(stdout(&output), "");
    assert_eq!(
        stderr(&output),
        "stacks/example.toml: ok\nstacks/local.toml: ok\nstacks/production.toml: ok\nchecked 3 stacks: 0 failed\n"
    );
}

#[test]
fn check_fails_an_invalid_stack_with_status_1() {
    let dir = TempDir::new("check");
    let stack = write(
        &dir,
        "bad.toml",
        &GOOD.replace("europe-west3", "europe-west3-a"),
    );
    let output = run(&["check", &stack]);
    assert_eq!(code(&output), 1);
    let err = stderr(&output);
    assert!(err.contains("zone-not-region"), "{err}");
    assert!(err.contains("bad.toml:2:10"), "{err}");
    assert!(err.contains("1 error, 0 warnings"), "{err}");
}

#[test]
fn a_missing_file_is_an_io_failure_with_status_2() {
    let output = run(&["check", "no/such/stack.toml"]);
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("cannot read no/such/stack.toml: No such file or directory"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn bad_usage_is_status_2() {
    assert_eq!(code(&run(&["check"])), 2);
    assert_eq!(code(&run(&["frobnicate"])), 2);
    assert_eq!(code(&run(&["build", "stacks/example.toml"])), 2);
}

#[test]
fn warnings_do_not_fail_unless_denied() {
    let dir = TempDir::new("warn");
    let stack = write(&dir, "latest.toml", &GOOD.replace("1.0.0", "latest"));
    let output = run(&["check", &stack]);
    assert_eq!(code(&output), 0);
    assert!(stderr(&output).contains("latest-tag"));
    assert_eq!(code(&run(&["check", "--deny-warnings", &stack])), 1);
    let out = dir.path().join("out");
    let output = run(&["build", &stack, "--out", out.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(out.join("latest/infra.sh").exists());
}

#[test]
fn json_format_prints_one_object_per_diagnostic() {
    let dir = TempDir::new("json");
    let stack = write(
        &dir,
        "s.toml",
        &format!("{GOOD}regoin = \"x\"\n").replace("1.0.0", "latest"),
    );
    let output = run(&["check", "--format", "json", &stack]);
    assert_eq!(code(&output), 1);
    let lines: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["code"], "latest-tag");
    assert_eq!(lines[0]["severity"], "warning");
    assert_eq!(lines[0]["line"], 4);
    assert_eq!(lines[0]["column"], 7);
    assert_eq!(lines[1]["code"], "unknown-key");
    assert_eq!(lines[1]["help"], "did you mean `region`?");
}

#[test]
fn build_writes_then_reports_unchanged_and_check_agrees() {
    let dir = TempDir::new("build");
    let out = dir.path().join("deploy");
    let out = out.to_str().unwrap();
    let output = run(&["build", "stacks/example.toml", "--out", out]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(stderr(&output).starts_with("wrote "));
    let script = dir.path().join("deploy/example/infra.sh");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&script).unwrap().permissions().mode() & 0o777,
            0o755
        );
    }
    let output = run(&["build", "stacks/example.toml", "--out", out]);
    assert!(
        stderr(&output).starts_with("unchanged "),
        "{}",
        stderr(&output)
    );
    let output = run(&["build", "stacks/example.toml", "--out", out, "--check"]);
    assert_eq!(code(&output), 0);
    assert_eq!(stdout(&output), "");

    fs::write(
        dir.path().join("deploy/example/kubernetes/service.yaml"),
        "edited by hand\n",
    )
    .unwrap();
    let output = run(&["build", "stacks/example.toml", "--out", out, "--check"]);
    assert_eq!(code(&output), 1);
    let diff = stdout(&output);
    assert!(diff.contains("-edited by hand"), "{diff}");
    assert!(diff.contains("+kind: Service"), "{diff}");
    assert!(stderr(&output).contains("stale"), "{}", stderr(&output));
    assert_eq!(
        fs::read_to_string(dir.path().join("deploy/example/kubernetes/service.yaml")).unwrap(),
        "edited by hand\n"
    );

    let output = run(&["build", "stacks/example.toml", "--out", out]);
    assert_eq!(code(&output), 0);
    assert_eq!(
        code(&run(&[
            "build",
            "stacks/example.toml",
            "--out",
            out,
            "--check"
        ])),
        0
    );
}

#[test]
fn an_invalid_stack_leaves_the_previous_bundle_untouched() {
    let dir = TempDir::new("untouched");
    let stack = write(&dir, "s.toml", GOOD);
    let out = dir.path().join("b");
    assert_eq!(
        code(&run(&["build", &stack, "--out", out.to_str().unwrap()])),
        0
    );
    let before = fs::read_to_string(out.join("s/kubernetes/deployment.yaml")).unwrap();
    fs::write(&stack, GOOD.replace("1.0.0", "1.0.1").replace("gke", "gcp")).unwrap();
    let output = run(&["build", &stack, "--out", out.to_str().unwrap()]);
    assert_eq!(code(&output), 1);
    assert!(stderr(&output).contains("not written"));
    assert_eq!(
        fs::read_to_string(out.join("s/kubernetes/deployment.yaml")).unwrap(),
        before
    );
}

#[test]
fn build_refuses_a_directory_that_is_not_a_bundle() {
    let dir = TempDir::new("refuse");
    fs::create_dir_all(dir.path().join("example")).unwrap();
    fs::write(dir.path().join("example/notes.txt"), "mine\n").unwrap();
    let output = run(&[
        "build",
        "stacks/example.toml",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("is not empty and is not a bundle written by mlflow-stack"),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("example/notes.txt")).unwrap(),
        "mine\n"
    );
}

#[test]
fn several_stacks_build_into_subdirectories_and_failures_do_not_stop_the_others() {
    let dir = TempDir::new("fleet");
    let good = write(&dir, "team-a.toml", GOOD);
    let bad = write(
        &dir,
        "team-b.toml",
        &GOOD.replace("europe-west3\"", "mars-north1\""),
    );
    let out = dir.path().join("deploy");
    let output = run(&["build", &good, &bad, "--out", out.to_str().unwrap()]);
    assert_eq!(code(&output), 1);
    assert!(out.join("team-a/kubernetes/kustomization.yaml").exists());
    assert!(!out.join("team-b").exists());
    assert!(
        stderr(&output).contains("built 2 stacks: 1 failed"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn the_same_stem_twice_is_refused() {
    let dir = TempDir::new("stems");
    fs::create_dir_all(dir.path().join("a")).unwrap();
    fs::create_dir_all(dir.path().join("b")).unwrap();
    let one = write(&dir, "a/x.toml", GOOD);
    let two = write(&dir, "b/x.toml", GOOD);
    let output = run(&[
        "build",
        &one,
        &two,
        "--out",
        dir.path().join("o").to_str().unwrap(),
    ]);
    assert_eq!(code(&output), 2);
    assert!(stderr(&output).contains("would both build into"));
}

#[test]
fn manifests_and_infra_print_to_stdout() {
    let output = run(&["manifests", "stacks/example.toml"]);
    assert_eq!(code(&output), 0);
    let yaml = stdout(&output);
    assert!(yaml.starts_with("# generated by mlflow-stack from example.toml"));
    assert_eq!(yaml.matches("\n---\n").count(), 6, "{yaml}");
    let output = run(&["infra", "stacks/local.toml"]);
    assert!(stdout(&output).starts_with("#!/usr/bin/env bash\n"));
}

#[test]
fn the_committed_schema_is_current() {
    let output = run(&["schema"]);
    assert_eq!(code(&output), 0);
    let schema = stdout(&output);
    let parsed: serde_json::Value = serde_json::from_str(&schema).unwrap();
    assert_eq!(parsed["additionalProperties"], false);
    let committed = fs::read_to_string(repo().join("stacks/stack.schema.json")).unwrap_or_default();
    assert!(
        committed == schema,
        "stacks/stack.schema.json is stale: run `just schema`"
    );
}

#[test]
fn init_writes_a_stack_that_checks_and_never_overwrites() {
    let dir = TempDir::new("init");
    for environment in ["gke", "local"] {
        let name = format!("{environment}.toml");
        let output = run_in(
            dir.path(),
            &[
                "init",
                &name,
                "--environment",
                environment,
                "--project",
                "acme-research",
            ]
            .into_iter()
            .chain(
                (environment == "gke")
                    .then_some(["--cluster", "ml"])
                    .into_iter()
                    .flatten(),
            )
            .collect::<Vec<_>>(),
        );
        assert_eq!(code(&output), 0, "{}", stderr(&output));
        let text = fs::read_to_string(dir.path().join(&name)).unwrap();
        assert!(text.contains("bucket = \"acme-research-mlflow\""), "{text}");
        let output = run_in(dir.path(), &["check", &name]);
        assert_eq!(code(&output), 0, "{}", stderr(&output));
        assert_eq!(
            stderr(&output),
            format!("{name}: ok\nchecked 1 stack: 0 failed\n")
        );
        let output = run_in(dir.path(), &["init", &name]);
        assert_eq!(code(&output), 2);
        assert_eq!(fs::read_to_string(dir.path().join(&name)).unwrap(), text);
    }
    let output = run_in(
        dir.path(),
        &["init", "bad.toml", "--project", "Bad Project"],
    );
    assert_eq!(code(&output), 1);
    assert!(!dir.path().join("bad.toml").exists());
}

/// `text` with the commented-out lines of `keys` (and the headers of their tables)
/// uncommented, as a user following the starter's examples would.
fn uncomment(text: &str, tables: &[&str], keys: &[&str]) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let code = line.split("  # ").next().unwrap_or(line).trim_end();
        let wanted = code.strip_prefix("# ").is_some_and(|code| {
            tables.iter().any(|t| code == format!("[{t}]"))
                || keys.iter().any(|k| code.starts_with(&format!("{k} = ")))
        });
        out.push_str(if wanted { &code[2..] } else { line });
        out.push('\n');
    }
    out
}

#[test]
fn init_shows_a_team_server_and_day_two_settings_that_check() {
    let dir = TempDir::new("init-examples");
    // A directory that does not exist yet is created.
    let output = run_in(
        dir.path(),
        &[
            "init",
            "stacks/new/team.toml",
            "--project",
            "acme-research",
            "--cluster",
            "ml",
        ],
    );
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let text = fs::read_to_string(dir.path().join("stacks/new/team.toml")).unwrap();
    for key in [
        "type = \"gateway\"",
        "host = ",
        "kind = \"iap\"",
        "members = ",
        "admins = ",
        "oauth_client_id = ",
        "[gc]",
        "max_replicas = ",
        "metrics = true",
    ] {
        assert!(text.contains(&format!("# {key}")), "{key}: {text}");
    }
    // The team server and the day-two settings, uncommented, make a stack that checks.
    let team = uncomment(
        &text,
        &["server", "database", "expose", "auth", "gc"],
        &[
            "type",
            "host",
            "kind",
            "members",
            "admins",
            "oauth_client_id",
            "max_replicas",
            "metrics",
            "tier",
            "schedule",
            "older_than",
        ],
    );
    assert!(team.contains("\n[gc]\nschedule = "), "{team}");
    fs::write(dir.path().join("team.toml"), &team).unwrap();
    let output = run_in(dir.path(), &["check", "team.toml"]);
    assert_eq!(code(&output), 0, "{}\n{team}", stderr(&output));
    assert_eq!(
        stderr(&output),
        "team.toml: ok\nchecked 1 stack: 0 failed\n"
    );
    let output = run_in(dir.path(), &["manifests", "team.toml"]);
    let manifests = stdout(&output);
    for kind in [
        "kind: Gateway",
        "kind: HorizontalPodAutoscaler",
        "kind: CronJob",
        "kind: PodMonitoring",
    ] {
        assert!(manifests.contains(kind), "{kind}");
    }
    // On a local cluster: the day-two settings too.
    let output = run_in(
        dir.path(),
        &[
            "init",
            "local.toml",
            "--environment",
            "local",
            "--project",
            "acme-research",
        ],
    );
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let text = fs::read_to_string(dir.path().join("local.toml")).unwrap();
    let local = uncomment(
        &text,
        &["server", "database", "gc"],
        &["max_replicas", "metrics", "tier", "schedule", "older_than"],
    );
    fs::write(dir.path().join("local.toml"), &local).unwrap();
    let output = run_in(dir.path(), &["check", "local.toml"]);
    assert_eq!(code(&output), 0, "{}\n{local}", stderr(&output));
}

#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish"] {
        let output = run(&["completions", shell]);
        assert_eq!(code(&output), 0);
        assert!(stdout(&output).contains("mlflow-stack"));
    }
    let output = run(&["man"]);
    assert_eq!(code(&output), 0);
    assert!(stdout(&output).contains(".TH mlflow-stack"));
}

/// What the bash completion of `mlflow-stack completions bash` offers for `words`, the
/// last being the word under the cursor, asked of a real bash as readline would.
fn bash_completes(words: &[&str]) -> Vec<String> {
    let dir = TempDir::new("bash-completion");
    let script = dir.path().join("mlflow-stack.bash");
    fs::write(&script, stdout(&run(&["completions", "bash"]))).unwrap();
    let quoted: Vec<String> = words
        .iter()
        .map(|w| format!("'{}'", w.replace('\'', "'\\''")))
        .collect();
    let cword = words.len() - 1;
    let program = format!(
        "source \"$1\"\nCOMP_WORDS=({})\nCOMP_CWORD={cword}\nCOMP_LINE=\"${{COMP_WORDS[*]}}\"\nCOMP_POINT=${{#COMP_LINE}}\n_mlflow__stack mlflow-stack \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        quoted.join(" ")
    );
    let output = std::process::Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program, "bash"])
        .arg(&script)
        .output()
        .expect("bash runs");
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output).lines().map(str::to_owned).collect()
}

#[test]
fn bash_completes_the_flags_and_values_of_a_subcommand() {
    // The control: the subcommands themselves.
    let top = bash_completes(&["mlflow-stack", "bu"]);
    assert_eq!(top, ["build"]);
    let values = bash_completes(&["mlflow-stack", "init", "--environment", ""]);
    assert_eq!(values, ["gke", "local"]);
    let flags = bash_completes(&["mlflow-stack", "build", "--"]);
    for flag in ["--out", "--check", "--format", "--quiet", "--deny-warnings"] {
        assert!(flags.iter().any(|f| f == flag), "{flag}: {flags:?}");
    }
    let formats = bash_completes(&["mlflow-stack", "check", "--format", "j"]);
    assert_eq!(formats, ["json"]);
}

#[test]
fn the_readme_reference_matches_the_schema() {
    let readme_path = repo().join("README.md");
    let readme = fs::read_to_string(&readme_path).unwrap();
    let (start, end) = ("<!-- reference:start -->\n", "<!-- reference:end -->");
    let begin = readme.find(start).expect("reference start marker") + start.len();
    let finish = readme.find(end).expect("reference end marker");
    let expected = mlflow_stack::schema::reference_markdown();
    if readme[begin..finish] != expected {
        if std::env::var_os("UPDATE_README").is_some() {
            fs::write(
                &readme_path,
                format!("{}{expected}{}", &readme[..begin], &readme[finish..]),
            )
            .unwrap();
        } else {
            panic!(
                "README.md's stack file reference is stale: run `UPDATE_README=1 cargo test readme`"
            );
        }
    }
}

/// Two stack files in one project that keep the default `name`, with different buckets
/// (a prod and a staging): `check` and `build` of both refuse them, naming both files and
/// what they would share, and `build` writes no bundle. Two names in one owned namespace
/// share the namespace, which each bundle creates and deletes.
#[test]
fn stacks_that_would_share_resources_are_refused_together() {
    let dir = TempDir::new("shared");
    let prod = write(&dir, "prod.toml", GOOD);
    let staging = write(
        &dir,
        "staging.toml",
        &GOOD.replace("acme-ml-prod-mlflow", "acme-ml-staging-mlflow"),
    );
    let output = run(&["check", &prod, &staging]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let err = stderr(&output);
    for shared in [
        "the name mlflow in project acme-ml-prod",
        "database mlflow on Cloud SQL instance mlflow-db of project acme-ml-prod",
        "the Kubernetes objects mlflow-server, mlflow-config, … in namespace mlflow",
    ] {
        assert!(
            err.contains(&format!("error: {prod} and {staging} would share {shared}")),
            "{err}"
        );
    }
    assert!(
        err.contains("help: give one of them another `name`"),
        "{err}"
    );
    assert!(!err.contains("would share bucket"), "{err}");

    let out = dir.path().join("out");
    let output = run(&["build", &prod, &staging, "--out", out.to_str().unwrap()]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("wrote nothing"),
        "{}",
        stderr(&output)
    );
    assert!(!out.exists());

    let other_name = write(
        &dir,
        "other.toml",
        &format!(
            "{}name = \"other\"\nnamespace = \"mlflow\"\n\n[cluster]\nname = \"mlflow\"\n",
            GOOD.replace("acme-ml-prod-mlflow", "acme-ml-other-mlflow")
        ),
    );
    let output = run(&["check", &prod, &other_name]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&format!(
            "error: {prod} and {other_name} would share namespace mlflow"
        )),
        "{}",
        stderr(&output)
    );
    assert_eq!(code(&run(&["check", &prod])), 0);
}

/// The README's example of a stack's identity is the example stack's.
#[test]
fn the_readme_names_the_example_stacks_identity() {
    let readme = fs::read_to_string(repo().join("README.md")).unwrap();
    let script = stdout(&run(&["infra", "stacks/example.toml"]));
    let id = script
        .lines()
        .find_map(|line| line.strip_prefix("readonly STACK_ID="))
        .unwrap();
    assert!(
        readme.contains(&format!("`mlflow-stack-id={id}` for `stacks/example.toml`")),
        "{id}"
    );
}

#[test]
fn an_oauth_client_secret_in_the_stack_file_is_refused_without_being_shown() {
    let secret = "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";
    let iap = "[expose]\ntype = \"gateway\"\nhost = \"mlflow.acme.example\"\n\n[auth]\nkind = \"iap\"\nmembers = [\"group:ml-team@acme.example\"]\n";
    let dir = TempDir::new("secret");
    for (name, value) in [
        ("basic.toml", format!("\"{secret}\"")),
        ("literal.toml", format!("'{secret}'")),
        ("multiline.toml", format!("\"\"\"{secret}\"\"\"")),
        // A line long enough to be shortened around the label.
        (
            "long.toml",
            format!(
                "\"{secret}\"                                                            # the ID"
            ),
        ),
    ] {
        let stack = write(
            &dir,
            name,
            &format!("{GOOD}\n{iap}oauth_client_id = {value}\n"),
        );
        for format in ["human", "json"] {
            let output = run(&["check", "--format", format, &stack]);
            assert_eq!(code(&output), 1, "{name} {format}");
            let printed = format!("{}{}", stdout(&output), stderr(&output));
            assert!(printed.contains("invalid-oauth-client-id"), "{printed}");
            assert!(
                !printed.contains("Zq8vT3kWm1Lr5"),
                "{name} {format}: {printed}"
            );
        }
        let output = run(&["check", &stack]);
        let err = stderr(&output);
        assert!(err.contains(&format!("{name}:14:19")), "{err}");
        assert!(err.contains("oauth_client_id = "), "{err}");
        assert!(err.contains("********"), "{err}");
        let out = dir.path().join("out");
        let output = run(&["build", &stack, "--out", &out.to_string_lossy()]);
        assert_eq!(code(&output), 1, "{name}");
        let printed = format!("{}{}", stdout(&output), stderr(&output));
        assert!(
            !printed.contains("Zq8vT3kWm1Lr5"),
            "{name} build: {printed}"
        );
    }
}
