//! The first hour of a user: the README's commands, `--out` layout, `check` output,
//! `explain`, `man`.

use std::fs;

use mlflow_stack::diag::Code;
use mlflow_stack::explain::EXPLANATIONS;

use crate::support::{TempDir, code, repo, run, run_in, stderr, stdout};

const GOOD: &str = "project = \"acme-ml-prod\"\nregion = \"europe-west3\"\nbucket = \"acme-ml-prod-mlflow\"\ntag = \"1.0.0\"\nenvironment = \"gke\"\n";

fn write(dir: &TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

fn readme() -> String {
    fs::read_to_string(repo().join("README.md")).unwrap()
}

// ---- --out layout

/// STACK as another stack of the project: its own name and bucket.
fn dev_stack(stack: &str) -> String {
    format!(
        "{}name = \"mlflow-dev\"\n",
        stack.replace("acme-ml-prod-mlflow", "acme-ml-prod-mlflow-dev")
    )
}

#[test]
fn a_bundle_is_out_stem_whatever_the_number_of_stacks() {
    let dir = TempDir::new("layout");
    let prod = write(&dir, "prod.toml", GOOD);
    // Another stack: `check` and `build` refuse two that would share resources.
    let dev = write(
        &dir,
        "dev.toml",
        &dev_stack(&GOOD.replace("1.0.0", "2.0.0")),
    );
    let out = dir.path().join("deploy");
    let out = out.to_str().unwrap();

    let output = run(&["build", &prod, "--out", out]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let first = fs::read(dir.path().join("deploy/prod/kubernetes/deployment.yaml")).unwrap();
    assert!(!dir.path().join("deploy/README.md").exists());

    // Adding a second stack does not move the first bundle.
    let output = run(&["build", &prod, &dev, "--out", out]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("unchanged "),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        fs::read(dir.path().join("deploy/prod/kubernetes/deployment.yaml")).unwrap(),
        first
    );
    assert!(dir.path().join("deploy/dev/infra.sh").exists());
}

/// Two stack files of one name in two folders, built in separate runs into one `--out`:
/// the second never silently replaces the first's bundle.
#[test]
fn a_stack_of_the_same_name_in_another_folder_does_not_replace_a_bundle() {
    let dir = TempDir::new("same-stem");
    fs::create_dir_all(dir.path().join("team-a")).unwrap();
    fs::create_dir_all(dir.path().join("team-b")).unwrap();
    fs::write(dir.path().join("team-a/prod.toml"), GOOD).unwrap();
    fs::write(
        dir.path().join("team-b/prod.toml"),
        GOOD.replace("acme-ml-prod", "acme-ml-other"),
    )
    .unwrap();
    let output = run_in(
        dir.path(),
        &["build", "team-a/prod.toml", "--out", "deploy"],
    );
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let record = fs::read_to_string(dir.path().join("deploy/prod/.mlflow-stack-source")).unwrap();
    assert!(record.ends_with("\n../../team-a/prod.toml\n"), "{record}");
    let before = fs::read(dir.path().join("deploy/prod/kubernetes/deployment.yaml")).unwrap();

    for extra in [&[][..], &["--check"][..]] {
        let mut args = vec!["build", "team-b/prod.toml", "--out", "deploy"];
        args.extend(extra);
        let output = run_in(dir.path(), &args);
        assert_eq!(code(&output), 2, "{args:?}: {}", stderr(&output));
        assert!(
            stderr(&output).contains(
                "deploy/prod is the bundle of team-a/prod.toml, another stack file of the same name; refusing to replace it with the bundle of team-b/prod.toml"
            ),
            "{}",
            stderr(&output)
        );
    }
    assert_eq!(
        fs::read(dir.path().join("deploy/prod/kubernetes/deployment.yaml")).unwrap(),
        before
    );
    // The same stack, named another way, is the same stack: absolute paths give the same
    // bytes.
    let absolute = dir.path().join("team-a/prod.toml");
    let out = dir.path().join("deploy");
    let output = run(&[
        "build",
        absolute.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--check",
    ]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    // A stack file moved away leaves its bundle to the stack that now has its name.
    fs::rename(dir.path().join("team-a"), dir.path().join("team-c")).unwrap();
    let output = run_in(
        dir.path(),
        &["build", "team-b/prod.toml", "--out", "deploy"],
    );
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let record = fs::read_to_string(dir.path().join("deploy/prod/.mlflow-stack-source")).unwrap();
    assert!(record.ends_with("\n../../team-b/prod.toml\n"), "{record}");
}

#[test]
fn build_check_reports_an_orphaned_bundle() {
    let dir = TempDir::new("orphan");
    let prod = write(&dir, "prod.toml", GOOD);
    let dev = write(&dir, "dev.toml", &dev_stack(GOOD));
    let out = dir.path().join("deploy");
    let out = out.to_str().unwrap();
    assert_eq!(code(&run(&["build", &prod, &dev, "--out", out])), 0);
    // A directory that is not a bundle of ours is not an orphan.
    fs::create_dir_all(dir.path().join("deploy/notes")).unwrap();
    fs::write(dir.path().join("deploy/notes/README.md"), "# notes\n").unwrap();

    let output = run(&["build", &prod, &dev, "--out", out, "--check"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));

    fs::remove_file(&dev).unwrap();
    let output = run(&["build", &prod, "--out", out, "--check"]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("deploy/dev: orphaned bundle: no stack `dev.toml` among the arguments"),
        "{err}"
    );
    assert!(!err.contains("notes"), "{err}");
    // The stack passed is fine: bundles are counted apart from stacks.
    assert!(
        err.contains("checked 1 stack: 0 failed; 1 orphaned bundle"),
        "{err}"
    );
    // `--check` writes and deletes nothing.
    assert!(dir.path().join("deploy/dev/infra.sh").exists());
}

#[test]
fn an_orphan_names_the_stack_file_its_directory_stands_for() {
    let dir = TempDir::new("orphan-dots");
    // Three stacks that share nothing: each its own name and bucket.
    let stack = |name: &str| {
        format!("{GOOD}name = \"{name}\"\n").replace("acme-ml-prod-mlflow", &format!("acme-{name}"))
    };
    let team = write(&dir, "team.toml", &stack("team"));
    let versioned = write(&dir, "team.v1.toml", &stack("team-v1"));
    let old = write(&dir, "old.toml", &stack("old"));
    let out = dir.path().join("deploy");
    let out = out.to_str().unwrap();
    assert_eq!(
        code(&run(&["build", &team, &versioned, &old, "--out", out])),
        0
    );
    fs::remove_file(&versioned).unwrap();
    fs::remove_file(&old).unwrap();

    let output = run(&["build", &team, "--out", out, "--check"]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains(
            "deploy/team.v1: orphaned bundle: no stack `team.v1.toml` among the arguments"
        ),
        "{err}"
    );
    assert!(
        err.contains("checked 1 stack: 0 failed; 2 orphaned bundles"),
        "{err}"
    );
}

#[test]
fn build_check_of_a_stack_never_built_lists_its_files_instead_of_a_diff() {
    let dir = TempDir::new("never-built");
    let prod = write(&dir, "prod.toml", GOOD);
    let out = dir.path().join("deploy");
    let out = out.to_str().unwrap();
    let output = run(&["build", &prod, "--out", out, "--check"]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("deploy/prod: missing (never built)"), "{err}");
    assert!(!err.contains("stale"), "{err}");
    let listed = stdout(&output);
    assert!(!listed.contains("@@"), "a diff: {listed}");
    assert!(listed.contains("deploy/prod/README.md"), "{listed}");
    assert!(
        listed.contains("deploy/prod/image/requirements.lock"),
        "{listed}"
    );
    // One line per file `build` would write.
    assert_eq!(listed.lines().count(), 14, "{listed}");
    assert!(
        listed.contains("deploy/prod/.mlflow-stack-source"),
        "{listed}"
    );
    // Nothing was written.
    assert!(!dir.path().join("deploy").exists());
}

#[test]
fn build_help_states_the_layout_rule() {
    let help = stdout(&run(&["build", "--help"]));
    assert!(
        help.contains("DIR/<file stem>/, however many stacks"),
        "{help}"
    );
    assert!(help.contains("orphan"), "{help}");
}

// ---- check output

#[test]
fn check_prints_a_line_per_file_and_a_total() {
    let dir = TempDir::new("check-lines");
    let good = write(&dir, "good.toml", GOOD);
    let warn = write(&dir, "warn.toml", &GOOD.replace("1.0.0", "latest"));
    let bad = write(&dir, "bad.toml", &GOOD.replace("gke", "gcp"));

    let output = run(&["check", &good]);
    assert_eq!(code(&output), 0);
    assert_eq!(
        stderr(&output),
        format!("{good}: ok\nchecked 1 stack: 0 failed\n")
    );

    let output = run(&["check", &good, &warn, &bad]);
    assert_eq!(code(&output), 1);
    let err = stderr(&output);
    assert!(err.contains(&format!("{good}: ok\n")), "{err}");
    assert!(
        err.contains(&format!("{warn}: 0 errors, 1 warning\n")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{bad}: 1 error, 0 warnings\n")),
        "{err}"
    );
    assert!(err.contains("checked 3 stacks: 1 failed\n"), "{err}");
}

#[test]
fn check_quiet_silences_success_only() {
    let dir = TempDir::new("quiet");
    let good = write(&dir, "good.toml", GOOD);
    let bad = write(&dir, "bad.toml", &GOOD.replace("gke", "gcp"));
    let output = run(&["check", "--quiet", &good]);
    assert_eq!(code(&output), 0);
    assert_eq!(stderr(&output), "");
    let output = run(&["check", "-q", &good, &bad]);
    assert_eq!(code(&output), 1);
    let err = stderr(&output);
    assert!(!err.contains("ok\n"), "{err}");
    assert!(err.contains("unknown-value"), "{err}");
    assert!(err.contains("checked 2 stacks: 1 failed"), "{err}");
    let out = dir.path().join("deploy");
    let output = run(&["build", "-q", &good, "--out", out.to_str().unwrap()]);
    assert_eq!(code(&output), 0);
    assert_eq!(stderr(&output), "");
}

#[test]
fn diagnostics_point_at_explain() {
    let dir = TempDir::new("hint");
    let bad = write(
        &dir,
        "bad.toml",
        &GOOD.replace("europe-west3", "europe-west3-a"),
    );
    for args in [vec!["check", &bad], vec!["manifests", &bad]] {
        let err = stderr(&run(&args));
        assert!(
            err.contains("`mlflow-stack explain zone-not-region`\n"),
            "{err}"
        );
    }
}

// ---- explain

#[test]
fn every_code_has_an_explanation_and_nothing_else_does() {
    let explained: Vec<&str> = EXPLANATIONS.iter().map(|e| e.code.name()).collect();
    let mut sorted = explained.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted, explained, "one explanation per code, sorted");
    let codes: Vec<Code> = EXPLANATIONS.iter().map(|e| e.code).collect();
    assert_eq!(codes, Code::ALL, "the codes and the explanations differ");
    for explanation in EXPLANATIONS {
        for (what, text) in [
            ("protects", explanation.protects),
            ("example", explanation.example),
            ("fix", explanation.fix),
        ] {
            assert!(
                !text.trim().is_empty(),
                "{}: empty {what}",
                explanation.code
            );
        }
    }
}

#[test]
fn explain_prints_what_the_rule_protects_an_example_and_the_fix() {
    for code_name in Code::ALL.iter().map(|code| code.name()) {
        let output = run(&["explain", code_name]);
        assert_eq!(code(&output), 0, "{code_name}");
        let text = stdout(&output);
        assert!(text.starts_with(&format!("{code_name}\n")), "{text}");
        for section in ["What it protects against\n", "Example\n", "Fix\n"] {
            assert!(text.contains(section), "{code_name}: {text}");
        }
    }
}

#[test]
fn explain_list_prints_every_code_with_a_line_about_it() {
    let output = run(&["explain", "--list"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let text = stdout(&output);
    let listed: Vec<&str> = text
        .lines()
        .map(|line| line.split_whitespace().next().unwrap_or_default())
        .collect();
    let codes: Vec<&str> = Code::ALL.iter().map(|code| code.name()).collect();
    assert_eq!(listed, codes, "{text}");
    let mut sorted = listed.clone();
    sorted.sort_unstable();
    assert_eq!(listed, sorted, "the list is in alphabetical order");
    for line in text.lines() {
        assert!(line.split_whitespace().count() > 3, "no summary: {line}");
    }
    // A code or --list, not both, not neither.
    assert_eq!(code(&run(&["explain"])), 2);
    assert_eq!(code(&run(&["explain", "--list", "zone-not-region"])), 2);
}

#[test]
fn manifests_help_points_at_the_applyset_command_of_the_bundle_readme() {
    let help = stdout(&run(&["manifests", "--help"]));
    assert!(!help.contains("kubectl apply -f -"), "{help}");
    assert!(help.contains("--applyset"), "{help}");
    assert!(help.contains("--prune"), "{help}");
}

#[test]
fn explain_an_unknown_code_suggests_one_with_status_2() {
    let output = run(&["explain", "zone-not-regoin"]);
    assert_eq!(code(&output), 2);
    assert_eq!(stdout(&output), "");
    assert!(
        stderr(&output)
            .contains("no diagnostic code `zone-not-regoin`; did you mean `zone-not-region`?"),
        "{}",
        stderr(&output)
    );
}

// ---- man

#[test]
fn man_writes_a_page_per_subcommand() {
    let dir = TempDir::new("man");
    let output = run_in(dir.path(), &["man", "man1"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let help = stdout(&run(&["--help"]));
    let subcommands = help_commands(&help);
    assert!(subcommands.contains(&"build".to_owned()), "{help}");
    for sub in subcommands.iter().filter(|s| *s != "help") {
        let page = dir.path().join(format!("man1/mlflow-stack-{sub}.1"));
        let text = fs::read_to_string(&page).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
        assert!(
            text.contains(&format!(".TH mlflow-stack-{sub} 1")),
            "{text}"
        );
    }
    let top = fs::read_to_string(dir.path().join("man1/mlflow-stack.1")).unwrap();
    assert!(top.contains(".TH mlflow-stack 1"), "{top}");
}

/// The subcommand names a `--help` lists under `Commands:`.
fn help_commands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| *line != "Commands:")
        .skip(1)
        .take_while(|line| !line.is_empty())
        .filter(|line| !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .collect()
}

// ---- README

/// The text between `<!-- NAME:start -->` and `<!-- NAME:end -->`.
fn section<'a>(text: &'a str, name: &str) -> &'a str {
    let start = format!("<!-- {name}:start -->\n");
    let end = format!("<!-- {name}:end -->");
    let begin = text.find(&start).unwrap_or_else(|| panic!("{start}")) + start.len();
    let finish = text.find(&end).unwrap_or_else(|| panic!("{end}"));
    &text[begin..finish]
}

#[test]
fn the_readme_usage_is_the_help() {
    let readme = readme();
    let usage = section(&readme, "usage");
    let help = stdout(&run(&["--help"]));
    let mut expected = format!("```\n$ mlflow-stack --help\n{help}```\n\n```\n");
    for sub in help_commands(&help).iter().filter(|s| *s != "help") {
        let sub_help = stdout(&run(&[sub, "--help"]));
        let line = sub_help
            .lines()
            .find_map(|l| l.strip_prefix("Usage: "))
            .unwrap_or_else(|| panic!("{sub} --help has no usage"));
        expected.push_str(line);
        expected.push('\n');
    }
    expected.push_str("```\n");
    if usage != expected {
        if std::env::var_os("UPDATE_README").is_some() {
            let start = "<!-- usage:start -->\n";
            let at = readme.find(start).unwrap() + start.len();
            let updated = format!("{}{expected}{}", &readme[..at], &readme[at + usage.len()..]);
            fs::write(repo().join("README.md"), updated).unwrap();
        } else {
            panic!(
                "README.md's usage is not `mlflow-stack --help`: run `UPDATE_README=1 cargo test readme`"
            );
        }
    }
}

/// The shell commands of the README's fenced `shell` blocks, comments removed, in order.
fn shell_commands(text: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("```") {
            inside = !inside && line == "```shell";
            continue;
        }
        if inside {
            let command = line.split(" # ").next().unwrap_or(line).trim();
            if !command.is_empty() && !command.starts_with('#') {
                commands.push(command.to_owned());
            }
        }
    }
    commands
}

#[test]
fn the_readme_starts_with_the_two_commands_that_do_everything() {
    let readme = readme();
    let commands = shell_commands(&readme);
    assert_eq!(
        commands[..2],
        [
            "cargo run --release -- build stacks/example.toml --out deploy",
            "cargo test",
        ],
        "the README's first block"
    );
    let first_block = readme.find("```shell").unwrap();
    assert!(
        readme[..first_block]
            .lines()
            .filter(|l| !l.is_empty())
            .count()
            == 1,
        "nothing but the title before the first commands"
    );
}

#[test]
fn the_readme_walks_from_install_to_tear_down_in_order() {
    let readme = readme();
    let headings = [
        "## What it needs",
        "## Install",
        "## First bundle",
        "## Apply",
        "## Reach the server",
        "## Change it",
        "## Tear down",
    ];
    let positions: Vec<usize> = headings
        .iter()
        .map(|h| {
            readme
                .find(&format!("\n{h}\n"))
                .unwrap_or_else(|| panic!("README has no `{h}`"))
        })
        .collect();
    assert!(positions.is_sorted(), "{headings:?} out of order");
    // Each step has a command a user can paste.
    let ends = positions.iter().skip(1).copied().chain([readme.len()]);
    for ((heading, start), end) in headings.iter().zip(&positions).zip(ends) {
        let body = &readme[*start..end];
        let body = &body[..body[1..].find("\n## ").map_or(body.len(), |i| i + 1)];
        assert!(
            *heading == "## What it needs" || !shell_commands(body).is_empty(),
            "{heading} has no command to paste"
        );
    }
    let install = shell_commands(&readme[positions[1]..positions[2]]);
    assert!(
        install.iter().any(|c| c == "cargo install --path ."),
        "{install:?}"
    );
    assert!(
        install
            .iter()
            .any(|c| c.starts_with("cargo install ") && c.contains(" --git ")),
        "{install:?}"
    );
    assert!(install.iter().any(|c| c == "just install"), "{install:?}");
}

#[test]
fn the_readme_walkthrough_paths_are_what_build_writes() {
    let readme = readme();
    // No clone: an empty directory, and the README's own `mlflow-stack` commands.
    let dir = TempDir::new("walkthrough");
    let commands = shell_commands(&readme);
    let first_bundle = &readme[readme.find("\n## First bundle\n").unwrap()..];
    let first_bundle = &first_bundle[..first_bundle[1..].find("\n## ").unwrap()];
    let steps: Vec<String> = shell_commands(first_bundle);
    assert!(steps[0].starts_with("mlflow-stack init "), "{steps:?}");
    assert!(
        steps.iter().any(|c| c.starts_with("mlflow-stack build ")),
        "{steps:?}"
    );
    for step in &steps {
        let args: Vec<&str> = step
            .strip_prefix("mlflow-stack ")
            .expect("the README runs the installed binary")
            .split_whitespace()
            .collect();
        let output = run_in(dir.path(), &args);
        assert_eq!(code(&output), 0, "`{step}`: {}", stderr(&output));
    }
    // The stack `init` wrote is the example stack: the same bundle.
    let output = run(&[
        "build",
        "stacks/example.toml",
        "--out",
        dir.path().join("clone").to_str().unwrap(),
    ]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    for file in ["kubernetes/deployment.yaml", "infra.sh", "README.md"] {
        assert_eq!(
            fs::read(dir.path().join("deploy/example").join(file)).unwrap(),
            fs::read(dir.path().join("clone/example").join(file)).unwrap(),
            "{file}"
        );
    }
    // Every bundle path the later commands use exists.
    let mut checked = 0;
    for command in &commands {
        for word in command.split_whitespace() {
            if word.starts_with("deploy/") {
                let path = dir.path().join(word.trim_end_matches('/'));
                assert!(path.exists(), "`{command}`: {word} is not in the bundle");
                checked += 1;
            }
        }
    }
    assert!(checked >= 3, "the walkthrough names the bundle's files");
    // The names it uses are the bundle's: namespace, objects, cluster.
    let bundle_readme = fs::read_to_string(dir.path().join("deploy/example/README.md")).unwrap();
    let manifests =
        fs::read_to_string(dir.path().join("deploy/example/kubernetes/deployment.yaml")).unwrap()
            + &fs::read_to_string(dir.path().join("deploy/example/kubernetes/service.yaml"))
                .unwrap();
    for command in &commands {
        for word in command.split_whitespace() {
            if let Some(namespace) = word.strip_prefix("--namespace=") {
                assert!(
                    manifests.contains(&format!("namespace: {namespace}\n")),
                    "{command}"
                );
            }
            if let Some(name) = word
                .strip_prefix("service/")
                .or_else(|| word.strip_prefix("deployment/"))
            {
                assert!(manifests.contains(&format!("name: {name}\n")), "{command}");
            }
        }
        if command.starts_with("gcloud container clusters get-credentials") {
            assert!(bundle_readme.contains(command.as_str()), "{command}");
        }
    }
}

/// The part of the README for users, up to the reference material.
fn user_part(readme: &str) -> &str {
    &readme[..readme.find("\n## Usage\n").expect("a Usage section")]
}

#[test]
fn the_readme_serves_a_user_first_and_links_the_rest() {
    let readme = readme();
    let user = user_part(&readme);
    let lines = user.lines().count();
    assert!(
        (120..=175).contains(&lines),
        "the user part has {lines} lines"
    );
    // Proofs, performance and development live in docs/, linked from the user part.
    for (doc, heading) in [
        ("docs/proofs.md", "## Proof: the server really runs"),
        ("docs/performance.md", "`just bench`"),
        ("docs/development.md", "just test"),
    ] {
        assert!(user.contains(&format!("]({doc})")), "no link to {doc}");
        let text = fs::read_to_string(repo().join(doc)).unwrap();
        assert!(text.contains(heading), "{doc}: {heading}");
    }
    // What a new cloud resource touches: the section the README links, and every source
    // file it names exists (`NAME` stands for a step's name, e.g. `ssl-policy`).
    assert!(user.contains("](docs/development.md#adding-a-cloud-resource)"));
    let development = fs::read_to_string(repo().join("docs/development.md")).unwrap();
    let section = development
        .split_once("\n## Adding a cloud resource\n")
        .expect("docs/development.md: ## Adding a cloud resource")
        .1;
    let section = section.split("\n## ").next().unwrap();
    let named: Vec<&str> = section
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|word| word.starts_with("src/") && !word.ends_with('*'))
        .collect();
    assert!(named.len() >= 6, "{named:?}");
    for path in named {
        let path = path.replace("NAME", "ssl-policy");
        assert!(
            repo().join(&path).exists(),
            "docs/development.md names {path}"
        );
    }
    for moved in [
        "## Proof:",
        "## Performance",
        "## Development",
        "working sessions",
    ] {
        assert!(!readme.contains(moved), "README still holds {moved}");
    }
    // The Rust version is Cargo.toml's.
    let manifest = fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let version = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .unwrap()
        .trim_matches('"');
    assert!(
        user.contains(&format!(
            "Rust {version} or newer (`rust-version` in `Cargo.toml`)"
        )),
        "Rust {version}"
    );
}

/// The README's "before you start": every role a bundle of `stacks/` or of the good
/// fixtures lists, and nothing else; the database's public address; keys on a local
/// cluster; OpenSSL and the GKE auth plugin among what Apply needs.
#[test]
fn the_readme_says_what_the_cloud_needs_before_you_start() {
    let readme = readme();
    let user = user_part(&readme);
    let table_roles = |text: &str| -> std::collections::BTreeSet<String> {
        text.lines()
            .filter_map(|line| line.strip_prefix("| `roles/"))
            .map(|rest| format!("roles/{}", rest.split('`').next().unwrap()))
            .collect()
    };
    let mut needed = std::collections::BTreeSet::new();
    let mut stacks = crate::support::stack_files("stacks");
    stacks.extend(crate::support::stack_files("tests/fixtures/good"));
    for stack in stacks {
        let (_, compiled) = crate::support::compile_file(&stack);
        let bundle = compiled.bundle.unwrap();
        needed.extend(table_roles(bundle.get("README.md").unwrap()));
    }
    assert_eq!(table_roles(user), needed);
    assert!(
        user.contains(
            "the Cloud SQL instance gets a public IP address with no\nauthorized network"
        )
    );
    assert!(user.contains("a local stack (`environment = \"local\"`) needs service-account keys"));
    let apply =
        &user[user.find("\n## Apply\n").unwrap()..user.find("\n## Reach the server\n").unwrap()];
    assert!(apply.contains("OpenSSL"), "{apply}");
    assert!(apply.contains("gke-gcloud-auth-plugin"), "{apply}");
}

#[test]
fn the_readme_check_example_is_what_check_prints() {
    let readme = readme();
    let prompt = "$ mlflow-stack check stacks/team-a.toml\n";
    let start = readme.find(prompt).expect("the check example") + prompt.len();
    let shown = &readme[start..start + readme[start..].find("```").unwrap()];
    let dir = TempDir::new("team-a");
    fs::create_dir_all(dir.path().join("stacks")).unwrap();
    fs::write(
        dir.path().join("stacks/team-a.toml"),
        GOOD.replace("europe-west3", "europe-west3-a"),
    )
    .unwrap();
    let output = run_in(dir.path(), &["check", "stacks/team-a.toml"]);
    assert_eq!(code(&output), 1);
    assert_eq!(stderr(&output), shown);
}

#[test]
fn just_install_installs_the_binary_completions_and_man_pages() {
    let justfile = fs::read_to_string(repo().join("Justfile")).unwrap();
    let recipe: String = justfile
        .split("\ninstall")
        .nth(1)
        .expect("an install recipe")
        .lines()
        .skip(1)
        .take_while(|line| line.starts_with("    ") || line.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    for needed in [
        "cargo install --path .",
        "completions bash",
        "completions zsh",
        "completions fish",
        "man ",
    ] {
        assert!(
            recipe.contains(needed),
            "`just install` lacks `{needed}`:\n{recipe}"
        );
    }
}

// ---- init

#[test]
fn init_placeholders_warn_until_replaced() {
    let dir = TempDir::new("init-placeholders");
    let output = run_in(dir.path(), &["init", "gke.toml"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("replace its 3 placeholders"),
        "{}",
        stderr(&output)
    );
    let text = fs::read_to_string(dir.path().join("gke.toml")).unwrap();
    assert!(
        text.contains("[cluster]\nname = \"my-gke-cluster\""),
        "{text}"
    );
    let output = run_in(dir.path(), &["check", "gke.toml"]);
    assert_eq!(code(&output), 0, "warnings do not fail");
    let err = stderr(&output);
    for key in ["`project`", "`bucket`", "`cluster.name`"] {
        assert!(
            err.contains(&format!("{key} is still the placeholder")),
            "{key}: {err}"
        );
    }
    assert!(err.contains("gke.toml: 0 errors, 3 warnings"), "{err}");

    let replaced = text
        .replace("my-gcp-project", "acme-research")
        .replace("my-gke-cluster", "research");
    fs::write(dir.path().join("gke.toml"), replaced).unwrap();
    let output = run_in(dir.path(), &["check", "gke.toml"]);
    assert_eq!(stderr(&output), "gke.toml: ok\nchecked 1 stack: 0 failed\n");

    let output = run_in(
        dir.path(),
        &[
            "init",
            "local.toml",
            "--environment",
            "local",
            "--cluster",
            "x",
        ],
    );
    assert_eq!(code(&output), 2);
    assert!(!dir.path().join("local.toml").exists());
}

// ---- memory

fn codes_of(text: &str) -> Vec<&'static str> {
    let source = mlflow_stack::source::Source::new("stack.toml", text);
    let compiled = mlflow_stack::compile(&source);
    compiled.diagnostics.iter().map(|d| d.code.name()).collect()
}

#[test]
fn memory_too_low_scales_with_the_workers() {
    // A tier with connections for 16 workers, so that only the memory rule speaks.
    let tier = "\n[database]\ntier = \"db-custom-8-30720\"\n";
    let with = |workers: u32, memory: &str| {
        codes_of(&format!(
            "{GOOD}\n[server]\nworkers = {workers}\nmemory = \"{memory}\"\n{tier}"
        ))
    };
    // The floor is three quarters of the default, 512Mi + 256Mi per worker.
    for (workers, floor_mib) in [(1, 576), (2, 768), (8, 1920), (16, 3456)] {
        assert_eq!(
            with(workers, &format!("{floor_mib}Mi")),
            [] as [&str; 0],
            "{workers}"
        );
        assert_eq!(
            with(workers, &format!("{}Mi", floor_mib - 1)),
            ["memory-too-low"],
            "{workers}"
        );
    }
    assert_eq!(with(8, "1Gi"), ["memory-too-low"]);
    // Every default passes its own rule.
    for workers in 1..=16 {
        assert_eq!(
            codes_of(&format!("{GOOD}\n[server]\nworkers = {workers}\n{tier}")),
            [] as [&str; 0]
        );
    }
}

// ---- basic auth in clear text

/// Basic auth behind a load balancer on gke is plain HTTP across the internet: an error
/// that offers a gateway, with or without `allow`; the same on a gateway, or on a local
/// load balancer (the LAN), compiles.
#[test]
fn basic_auth_through_a_load_balancer_on_gke_is_an_error() {
    let stack = |environment: &str, expose: &str| {
        format!(
            "{}\n[server]\nallowed_hosts = [\"mlflow.example.com\"]\n\n[expose]\n{expose}\n[auth]\nkind = \"basic\"\n",
            GOOD.replace(
                "environment = \"gke\"",
                &format!("environment = \"{environment}\"")
            )
        )
    };
    let load_balancer = "type = \"load-balancer\"\nallow = [\"203.0.113.0/24\"]\n";
    assert_eq!(
        codes_of(&stack("gke", load_balancer)),
        ["basic-auth-in-clear-text"]
    );
    assert_eq!(
        codes_of(&stack(
            "gke",
            "type = \"load-balancer\"\nallow = [\"10.0.0.0/8\"]\nstatic_ip = true\n"
        )),
        ["basic-auth-in-clear-text"]
    );
    let source = mlflow_stack::source::Source::new("stack.toml", stack("gke", load_balancer));
    let compiled = mlflow_stack::compile(&source);
    assert!(compiled.bundle.is_none());
    let help = compiled
        .diagnostics
        .iter()
        .next()
        .unwrap()
        .help
        .clone()
        .unwrap();
    assert!(help.contains("type = \"gateway\""), "{help}");
    let none: [&str; 0] = [];
    assert_eq!(
        codes_of(&stack(
            "gke",
            "type = \"gateway\"\nhost = \"mlflow.example.com\"\n"
        )),
        none
    );
    assert_eq!(
        codes_of(&stack("local", "type = \"load-balancer\"\n")),
        none
    );
}

// ---- load balancer host

#[test]
fn the_load_balancer_host_hint_fires_unless_a_client_name_is_allowed() {
    // No sign-in (a warning of its own): basic auth through a load balancer on gke is an error.
    let lb = |hosts: &str, extra: &str| {
        let mut codes = codes_of(&format!(
            "{GOOD}\n[server]\nallowed_hosts = [{hosts}]\n\n[expose]\ntype = \"load-balancer\"\nallow = [\"203.0.113.0/24\"]\n{extra}\n[auth]\nkind = \"none\"\n"
        ));
        assert_eq!(codes.pop(), Some("no-auth"));
        codes
    };
    let hint = ["load-balancer-host"];
    let none: [&str; 0] = [];
    assert_eq!(lb("", ""), hint);
    assert_eq!(
        lb("", "static_ip = true\n"),
        hint,
        "the reserved address is not allowed yet"
    );
    // Names only the cluster or the machine itself uses.
    assert_eq!(
        lb(
            "\"mlflow-server\", \"mlflow-server.mlflow.svc.cluster.local\"",
            ""
        ),
        hint
    );
    assert_eq!(lb("\"localhost:8080\", \"127.0.0.1\"", ""), hint);
    // A name on another port than the load balancer's.
    assert_eq!(lb("\"mlflow.example.com:9443\"", ""), hint);
    // What clients use: a DNS name (any port, or the Service's), a wildcard, an address.
    assert_eq!(lb("\"mlflow.example.com\"", ""), none);
    assert_eq!(lb("\"mlflow.example.com:8080\"", ""), none);
    assert_eq!(lb("\"mlflow.example.com:*\"", ""), none);
    assert_eq!(lb("\"*.example.com\"", ""), none);
    assert_eq!(lb("\"203.0.113.10\"", "static_ip = true\n"), none);
}

/// A stack with an explanation's example in it: its top-level keys replace GOOD's, its
/// tables follow.
fn with_example(example: &str) -> String {
    let split = example.find("\n[").map_or(example.len(), |i| i + 1);
    let split = if example.starts_with('[') { 0 } else { split };
    let (top, tables) = example.split_at(split);
    let key = |line: &str| line.split('=').next().unwrap_or_default().trim().to_owned();
    let replaced: Vec<String> = top.lines().map(key).collect();
    let mut text = String::new();
    for line in GOOD.lines().filter(|line| !replaced.contains(&key(line))) {
        text.push_str(line);
        text.push('\n');
    }
    text.push_str(top);
    text.push('\n');
    text.push_str(tables);
    text.push('\n');
    text
}

#[test]
fn every_explanation_example_triggers_its_code() {
    let mut wrong = Vec::new();
    for explanation in EXPLANATIONS {
        let text = match explanation.code {
            // Not a TOML fragment: a file in another encoding (fixtures cover it).
            Code::NotUtf8 => continue,
            // The example is the whole (incomplete) file.
            Code::MissingKey => explanation.example.to_owned(),
            _ => with_example(explanation.example),
        };
        let codes = codes_of(&text);
        if !codes.contains(&explanation.code.name()) {
            wrong.push(format!("{}: the example gives {codes:?}", explanation.code));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// The README's comparison says what IAP mode adds to a proxy in front; the team bundle
/// does each of those things, and tells programs how to stay signed in with the client
/// package instead of the scripts that used to export a one-hour token.
#[test]
fn the_readme_says_what_iap_mode_adds_and_the_team_bundle_does_it() {
    let readme = readme();
    let row = readme
        .lines()
        .find(|line| line.starts_with("| no sign-in, plain HTTP |"))
        .expect("the sign-in row");
    for claim in [
        "the stack's own OAuth client",
        "verifies IAP's signed header and answers 401 without it",
        "`bash infra.sh check-iap`",
        "the signed-in Google identity is the MLflow user",
        "`admins` are MLflow admins",
        "the client package `client/` (`MLFLOW_TRACKING_AUTH=iap`)",
    ] {
        assert!(row.contains(claim), "{claim}: {row}");
    }
    assert!(!readme.contains("examples/iap"));
    assert!(!repo().join("examples/iap").exists());
    let pyproject = fs::read_to_string(repo().join("client/pyproject.toml")).unwrap();
    assert!(
        pyproject.contains("[project.entry-points.\"mlflow.request_auth_provider\"]\niap = "),
        "{pyproject}"
    );

    let (_, compiled) = crate::support::compile_file(&repo().join("stacks/team.toml"));
    let bundle = compiled.bundle.unwrap();
    let file = |name: &str| bundle.get(name).unwrap().to_owned();
    let config = file("kubernetes/configmap.yaml");
    assert!(
        config.contains("authorization_function = mlflow_stack_iap:authenticate_request_iap"),
        "{config}"
    );
    assert!(
        config.contains("admins =\n        user:ana@acme.example\n"),
        "{config}"
    );
    let deployment = file("kubernetes/deployment.yaml");
    assert!(
        deployment.contains("- --app-name=basic-auth\n"),
        "{deployment}"
    );
    assert!(
        deployment.contains("- name: MLFLOW_BASIC_AUTH_FAIL_CLOSED\n          value: 'true'\n"),
        "{deployment}"
    );
    let policy = file("kubernetes/gcpbackendpolicy.yaml");
    assert!(
        policy.contains(
            "      enabled: true\n      clientID: 123456789012-mlflowteam.apps.googleusercontent.com\n      oauth2ClientSecret:\n        name: team-mlflow-iap-oauth\n"
        ),
        "{policy}"
    );
    assert!(file("infra.sh").contains("\n    check-iap) iap_status \"$@\" ;;\n"));
    let bundle_readme = file("README.md");
    for setup in [
        "export MLFLOW_TRACKING_AUTH=iap MLFLOW_IAP_AUDIENCE=123456789012-mlflowteam.apps.googleusercontent.com\nexport MLFLOW_TRACKING_URI=https://mlflow.acme.example\n",
        "import os; os.environ.update(MLFLOW_TRACKING_AUTH=\"iap\", MLFLOW_IAP_DESKTOP_CLIENT_ID=\"DESKTOP_CLIENT_ID\", MLFLOW_IAP_DESKTOP_CLIENT_SECRET=\"DESKTOP_CLIENT_SECRET\")\nimport mlflow; mlflow.set_tracking_uri(\"https://mlflow.acme.example\")\n",
        "bash infra.sh check-iap",
    ] {
        assert!(bundle_readme.contains(setup), "{setup}\n{bundle_readme}");
    }
    for gone in [
        "MLFLOW_TRACKING_TOKEN",
        "examples/iap",
        "Google-managed OAuth client",
    ] {
        assert!(!bundle_readme.contains(gone), "{gone}");
    }
}
