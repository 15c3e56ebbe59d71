//! The first hour of a user: the README's commands, `--out` layout, `check` output,
//! `explain`, `man`.

use std::fs;

use mlflow_stack::diag::CODES;
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
    assert!(err.contains("checked 1 stack: 1 failed"), "{err}");
    // `--check` writes and deletes nothing.
    assert!(dir.path().join("deploy/dev/infra.sh").exists());
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
    let explained: Vec<&str> = EXPLANATIONS.iter().map(|e| e.code).collect();
    let mut sorted = explained.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted, explained, "one explanation per code, sorted");
    assert_eq!(explained, CODES, "diag::CODES and the explanations differ");
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
    for code_name in CODES {
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
        "## Install",
        "## First bundle",
        "## Apply",
        "## Reach the server",
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
            !shell_commands(body).is_empty(),
            "{heading} has no command to paste"
        );
    }
    let install = shell_commands(&readme[positions[0]..positions[1]]);
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
    let dir = TempDir::new("walkthrough");
    fs::create_dir_all(dir.path().join("stacks")).unwrap();
    fs::copy(
        repo().join("stacks/example.toml"),
        dir.path().join("stacks/example.toml"),
    )
    .unwrap();
    let commands = shell_commands(&readme);
    let build: Vec<&str> = commands
        .iter()
        .find_map(|c| c.strip_prefix("mlflow-stack build "))
        .expect("the README builds with the installed binary")
        .split_whitespace()
        .collect();
    let mut args = vec!["build"];
    args.extend(&build);
    let output = run_in(dir.path(), &args);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
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
    compiled.diagnostics.iter().map(|d| d.code).collect()
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

// ---- load balancer host

#[test]
fn the_load_balancer_host_hint_fires_unless_a_client_name_is_allowed() {
    let lb = |hosts: &str, extra: &str| {
        codes_of(&format!(
            "{GOOD}\n[server]\nallowed_hosts = [{hosts}]\n\n[expose]\ntype = \"load-balancer\"\nallow = [\"203.0.113.0/24\"]\n{extra}\n[auth]\nkind = \"basic\"\n"
        ))
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
            "not-utf8" => continue,
            // The example is the whole (incomplete) file.
            "missing-key" => explanation.example.to_owned(),
            _ => with_example(explanation.example),
        };
        let codes = codes_of(&text);
        if !codes.contains(&explanation.code) {
            wrong.push(format!("{}: the example gives {codes:?}", explanation.code));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
