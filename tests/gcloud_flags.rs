//! Every gcloud command line in every generated `infra.sh` uses only flags the real
//! gcloud has for that command. `tests/fixtures/gcloud-flags.json` lists them, read from
//! `gcloud COMMAND --help` of a real Google Cloud SDK (its `_about` says which); the fake
//! gcloud of the infra tests accepts what the script sends, this test what gcloud accepts.
//! Where the machine has a newer list (`../shared/gcloud/flags.json` beside the
//! repository), every script is checked against it too.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::{compile_file, repo, stack_files};

/// Flags every gcloud command takes (`gcloud topic flags`' GCLOUD WIDE FLAGS).
const GLOBAL: [&str; 15] = [
    "access-token-file",
    "account",
    "billing-project",
    "configuration",
    "flags-file",
    "flatten",
    "format",
    "help",
    "impersonate-service-account",
    "log-http",
    "project",
    "quiet",
    "trace-token",
    "user-output-enabled",
    "verbosity",
];

/// `(command, flags)` of each gcloud command line in SCRIPT: `gcloud` as a word followed by
/// command words (not in a quoted hint such as `'gcloud auth login'`), and every `--flag`
/// up to the end of the command.
pub(crate) fn invocations(script: &str) -> Vec<(Vec<String>, Vec<String>)> {
    let joined = script.replace("\\\n", " ");
    let mut found = Vec::new();
    for line in joined.lines() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("gcloud ") {
            let before = rest[..at].chars().last();
            let after = &rest[at + "gcloud ".len()..];
            rest = after;
            if !matches!(before, None | Some(' ' | '(' | '"')) {
                continue;
            }
            let mut words = Vec::new();
            let mut flags = Vec::new();
            let mut in_command = true;
            for token in after.split_whitespace() {
                if matches!(token, "|" | "||" | "&&" | ";")
                    || token.starts_with('>')
                    || token.starts_with("2>")
                {
                    break;
                }
                let token = token.trim_end_matches(['"', ')', ';']);
                if in_command
                    && !token.is_empty()
                    && token.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                {
                    words.push(token.to_owned());
                    continue;
                }
                in_command = false;
                if let Some(flag) = token.strip_prefix("--") {
                    let name = flag.split('=').next().unwrap_or_default();
                    flags.push(name.trim_matches(['"', '\'']).to_owned());
                }
            }
            // `need gcloud "..."`: the tool's name, not a command line.
            if !words.is_empty() {
                found.push((words, flags));
            }
        }
    }
    found
}

/// The flag lists to check against: the vendored copy, and the machine's shared one
/// (`../shared/gcloud/flags.json`, beside the repository) when it is there.
fn flag_lists() -> Vec<(String, Value)> {
    let mut lists = Vec::new();
    for path in [
        repo().join("tests/fixtures/gcloud-flags.json"),
        repo().join("../shared/gcloud/flags.json"),
    ] {
        if let Ok(text) = std::fs::read_to_string(&path) {
            let known = serde_json::from_str(&text)
                .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            lists.push((path.display().to_string(), known));
        }
    }
    lists
}

/// What is wrong with the gcloud command lines of SCRIPT by KNOWN: a command gcloud does
/// not have, a flag the command does not take. Also returns the commands found.
fn problems(script: &str, known: &Value) -> (Vec<String>, BTreeSet<String>) {
    let mut problems = Vec::new();
    let mut commands = BTreeSet::new();
    for (words, flags) in invocations(script) {
        let Some(command) = (1..=words.len())
            .rev()
            .map(|n| words[..n].join(" "))
            .find(|command| known.get(command).is_some())
        else {
            problems.push(format!("gcloud {} is not a known command", words.join(" ")));
            continue;
        };
        let accepted = &known[&command]["flags"];
        for flag in flags {
            let negated = flag
                .strip_prefix("no-")
                .is_some_and(|base| accepted[base] == "bn");
            if accepted.get(&flag).is_none() && !negated && !GLOBAL.contains(&flag.as_str()) {
                problems.push(format!("gcloud {command} has no --{flag}"));
            }
        }
        commands.insert(command);
    }
    (problems, commands)
}

#[test]
fn every_gcloud_flag_in_every_script_exists() {
    let mut stacks = stack_files("stacks");
    stacks.extend(stack_files("tests/fixtures/good"));
    let scripts: Vec<(String, String)> = stacks
        .iter()
        .map(|path| {
            let (_, compiled) = compile_file(path);
            let bundle = compiled.bundle.unwrap();
            let script = bundle.get("infra.sh").unwrap().to_owned();
            (path.display().to_string(), script)
        })
        .collect();
    let lists = flag_lists();
    assert!(!lists.is_empty());
    for (source, known) in &lists {
        let mut commands = BTreeSet::new();
        for (path, script) in &scripts {
            let (problems, found) = problems(script, known);
            assert_eq!(problems, Vec::<String>::new(), "{path} by {source}");
            commands.extend(found);
        }
        // The script's commands are all seen (a parser that finds nothing proves nothing).
        for expected in [
            "beta sql instances create",
            "sql instances patch",
            "storage buckets update",
            "projects add-iam-policy-binding",
            "sql users create",
            "compute addresses update",
            "container clusters create-auto",
            "builds submit",
        ] {
            assert!(
                commands.contains(expected),
                "{expected} not found in {commands:#?}"
            );
        }
    }
}

/// The negative control: flags gcloud lacks, in the forms the scripts use, are caught by
/// the same check against every flag list (GA `sql instances create` takes no labels,
/// `storage buckets create` none at all).
#[test]
fn a_flag_gcloud_lacks_is_caught() {
    let script = "step() {\n  create gcloud sql instances create \"$I\" --tier=\"$T\" \\\n    --labels=\"$LABELS\"\n  create gcloud storage buckets create \"gs://${B}\" --labels=\"$LABELS\"\n  gcloud sql users frobnicate \"$U\"\n}\n";
    for (source, known) in flag_lists() {
        assert_eq!(
            problems(script, &known).0,
            [
                "gcloud sql instances create has no --labels",
                "gcloud storage buckets create has no --labels",
                "gcloud sql users frobnicate is not a known command",
            ],
            "{source}"
        );
    }
}

#[test]
fn the_parser_finds_commands_and_flags() {
    let script = "x() {\n  create gcloud storage buckets create \"gs://${B}\" --location=\"$R\" \\\n    --uniform-bucket-level-access | grep y\n  die \"run 'gcloud auth login'\"\n  v=$(gcloud sql instances describe \"$I\" --format='value(name)')\n}\n";
    assert_eq!(
        invocations(script),
        [
            (
                vec!["storage".into(), "buckets".into(), "create".into()],
                vec!["location".into(), "uniform-bucket-level-access".into()]
            ),
            (
                vec!["sql".into(), "instances".into(), "describe".into()],
                vec!["format".into()]
            ),
        ]
    );
}
