//! Every gcloud command line in every generated `infra.sh` uses only flags the real
//! gcloud has for that command. `tests/fixtures/gcloud-flags.json` lists them, read from
//! `gcloud COMMAND --help` of a real Google Cloud SDK (its `_about` says which); the fake
//! gcloud of the infra tests accepts what the script sends, this test what gcloud accepts.

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
fn invocations(script: &str) -> Vec<(Vec<String>, Vec<String>)> {
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

#[test]
fn every_gcloud_flag_in_every_script_exists() {
    let known: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/fixtures/gcloud-flags.json")).unwrap(),
    )
    .unwrap();
    let mut stacks = stack_files("stacks");
    stacks.extend(stack_files("tests/fixtures/good"));
    let mut commands = BTreeSet::new();
    for path in stacks {
        let (_, compiled) = compile_file(&path);
        let bundle = compiled.bundle.unwrap();
        let script = bundle.get("infra.sh").unwrap();
        for (words, flags) in invocations(script) {
            let command = (1..=words.len())
                .rev()
                .map(|n| words[..n].join(" "))
                .find(|command| known.get(command).is_some())
                .unwrap_or_else(|| {
                    panic!(
                        "{}: gcloud {} is not a known command",
                        path.display(),
                        words.join(" ")
                    )
                });
            let accepted = &known[&command]["flags"];
            for flag in flags {
                let negated = flag
                    .strip_prefix("no-")
                    .is_some_and(|base| accepted[base] == "bn");
                assert!(
                    accepted.get(&flag).is_some() || negated || GLOBAL.contains(&flag.as_str()),
                    "{}: gcloud {command} has no --{flag}",
                    path.display()
                );
            }
            commands.insert(command);
        }
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
