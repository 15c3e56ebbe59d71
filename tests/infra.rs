//! `infra.sh` run for real, against fake `gcloud`, `gsutil`, `kubectl` and `openssl`
//! (`tests/fakes/`). The fakes keep the state of one pretend project and cluster, so that
//! `describe` answers "exists" only after `create`, and they refuse what the real services
//! refuse: an API that is not enabled, a database before its instance, a binding for a
//! service account that does not exist, Workload Identity before a cluster, kubectl before
//! the cluster's credentials, a flag gcloud does not know. An `apply` that succeeds on an
//! empty project therefore also proves the order of its steps.
//!
//! Each test runs the bundle's `infra.sh` in a sandbox: `PATH` holds only the fakes, bash
//! and the few coreutils the script uses; `HOME` is empty; stdin is not a terminal; the
//! environment names another project in `CLOUDSDK_CORE_PROJECT`, which the script must
//! override. Every call lands in `state/calls.jsonl`; the transcript of a run (the calls
//! interleaved with the script's output) is what the `infra@STACK` snapshots show.
//! `destroy`'s confirmation prompt is answered on a pseudo-terminal (`tests/fakes/terminal.py`).
//! The fakes in `PATH` are one small compiled client (`tests/fakes/client.rs`) that hands
//! each call to the sandbox's long-running `fakecloud.py serve`: a call costs a millisecond
//! where starting Python for each took tens.
#![cfg(unix)]

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use mlflow_stack::diag::Diagnostics;
use mlflow_stack::emit::readme::ReadmeFacts;
use mlflow_stack::plan::Plan;
use mlflow_stack::{parse, validate};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::{TempDir, compile_file, repo, snapshot_settings, stack_files};

mod iap;
mod ownership;

const FAKES: [&str; 5] = [
    "gcloud",
    "gsutil",
    "kubectl",
    "openssl",
    "gke-gcloud-auth-plugin",
];
/// What the script runs besides the tools it checks for.
const SYSTEM_TOOLS: [&str; 17] = [
    "base64",
    "bash",
    "cat",
    "chmod",
    "cut",
    "dirname",
    "find",
    "grep",
    "mkdir",
    "mktemp",
    "rm",
    "sed",
    "sha256sum",
    "sleep",
    "sort",
    "tr",
    "xargs",
];
/// The project of the user's own gcloud configuration, which the script must not touch.
const OTHER_PROJECT: &str = "someone-elses-project";
/// A local stack on the legacy Container Registry: the one branch no stack file covers.
const GCR_STACK: &str = "project = \"acme-ml-dev\"\nregion = \"europe-west3\"\n\
    bucket = \"acme-ml-dev-legacy\"\ntag = \"1.0.0\"\nenvironment = \"local\"\n\
    name = \"legacy\"\n\n[registry]\nkind = \"gcr\"\n";

fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3 runs the fake gcloud, gsutil, kubectl and openssl");
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
}

/// The fakes' client (`tests/fakes/client.rs`), compiled by rustc once per version of its
/// source into the target directory.
fn fake_client() -> &'static Path {
    static CLIENT: OnceLock<PathBuf> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let source = repo().join("tests/fakes/client.rs");
        let digest = Sha256::digest(fs::read(&source).unwrap());
        let name = format!(
            "{:016x}",
            u64::from_be_bytes(digest[..8].try_into().unwrap())
        );
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let client = dir.join(format!("fake-client-{name}"));
        if !client.is_file() {
            let partial = dir.join(format!("fake-client-{name}.{}", std::process::id()));
            let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
            let status = Command::new(rustc)
                .args([
                    "--edition=2024",
                    "-O",
                    "-Cstrip=symbols",
                    "-Dwarnings",
                    "-o",
                ])
                .arg(&partial)
                .arg(&source)
                .status()
                .expect("rustc compiles the fakes' client");
            assert!(status.success(), "rustc {}: {status}", source.display());
            fs::rename(&partial, &client).unwrap();
        }
        client
    })
}

/// The fakes' server of one sandbox (`fakecloud.py serve`), which every call of a fake
/// reaches through the client. Killed when dropped; when the test process dies, its stdin
/// (a pipe from here) closes and it exits by itself.
struct FakeServer(Child);

impl FakeServer {
    fn start(state: &Path, tmp: &Path) -> Self {
        let mut child = Command::new(python())
            .args(["-I", "-S"])
            .arg(repo().join("tests/fakes/fakecloud.py"))
            .arg("serve")
            .env_clear()
            .env("FAKE_STATE", state)
            .env("TMPDIR", tmp)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the fake gcloud, gsutil, kubectl and openssl");
        let mut ready = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut ready)
            .unwrap();
        assert_eq!(ready, "ready\n", "the fake server starts");
        Self(child)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The number the fakes give PROJECT (`projects describe`, a bucket's `project_number`): the
/// SHA-256 of its id, as a number, modulo 10^12.
fn project_number(project: &str) -> String {
    let digest = Sha256::digest(project.as_bytes());
    let number = digest.iter().fold(0u128, |n, byte| {
        (n * 256 + u128::from(*byte)) % 1_000_000_000_000
    });
    number.to_string()
}

fn system_tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("{name} is not on PATH"))
}

fn plan_of(path: &Path) -> Plan {
    let (source, _) = compile_file(path);
    let mut diagnostics = Diagnostics::default();
    let parsed = parse::parse(&source, &mut diagnostics);
    let stack = validate::validate(&source, &parsed, &mut diagnostics)
        .unwrap_or_else(|| panic!("{} is valid", path.display()));
    Plan::new(&stack)
}

fn write_bundle(stack: &Path, dir: &Path) {
    let (_, compiled) = compile_file(stack);
    let bundle = compiled
        .bundle
        .unwrap_or_else(|| panic!("{} compiles", stack.display()));
    for (path, contents) in &bundle.files {
        let file = dir.join(path);
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        fs::write(file, contents).unwrap();
    }
}

/// `stacks/NAME.toml` with the `(from, to)` replacements made and LINES (tables) added, in
/// SCRATCH.
fn changed_stack(scratch: &TempDir, name: &str, replace: &[(&str, &str)], lines: &str) -> PathBuf {
    let mut text = fs::read_to_string(stack(name)).unwrap();
    for (from, to) in replace {
        assert!(text.contains(from), "{from}");
        text = text.replace(from, to);
    }
    let changed = scratch.path().join(format!("{name}.toml"));
    fs::write(&changed, format!("{text}\n{lines}\n")).unwrap();
    changed
}

fn gcr_stack(scratch: &TempDir) -> PathBuf {
    let gcr = scratch.path().join("gcr.toml");
    fs::write(&gcr, GCR_STACK).unwrap();
    gcr
}

/// Every stack file whose bundle the tests run: `stacks/`, the good fixtures, and a
/// Container Registry stack written into `scratch`.
fn every_stack(scratch: &TempDir) -> Vec<PathBuf> {
    let mut stacks = stack_files("stacks");
    stacks.extend(stack_files("tests/fixtures/good"));
    stacks.push(gcr_stack(scratch));
    stacks
}

fn stack(name: &str) -> PathBuf {
    repo().join("stacks").join(format!("{name}.toml"))
}

/// One call a fake recorded.
#[derive(Debug)]
struct Call {
    tool: String,
    argv: Vec<String>,
    /// What gcloud would use: `--project`, else `CLOUDSDK_CORE_PROJECT`.
    project: Option<String>,
    mutating: bool,
    /// What the call read on stdin, for `kubectl apply -f -`: `stdin: KIND/NAMESPACE/NAME`.
    note: String,
}

impl Call {
    fn line(&self) -> String {
        format!("{} {}", self.tool, self.argv.join(" "))
    }

    fn starts_with(&self, command: &str) -> bool {
        self.line().starts_with(command)
    }
}

/// One run of `infra.sh`.
#[derive(Debug)]
struct Run {
    code: i32,
    /// The script's stdout.
    stdout: String,
    stderr: String,
    /// The calls interleaved with the script's stdout, one `$ COMMAND` line per call.
    transcript: String,
    calls: Vec<Call>,
}

impl Run {
    /// `(step, result)` of every `[i/n] step: result (elapsed)` line (`[i/n] step: result`
    /// when only looking) of the last pass over the steps: `destroy` lists what it deletes
    /// in a first pass.
    fn results(&self) -> Vec<(String, String)> {
        let last = self.stdout.rfind("\n[1/").map_or(0, |at| at + 1);
        self.stdout[last..]
            .lines()
            .filter(|line| line.starts_with('['))
            .filter_map(|line| {
                let (_, rest) = line.split_once("] ")?;
                let (step, result) = rest.split_once(": ")?;
                let result = elapsed_at(result).map_or(result, |at| &result[..at]);
                Some((step.to_owned(), result.to_owned()))
            })
            .collect()
    }

    /// The result of STEP in the last pass over the steps.
    fn result(&self, step: &str) -> String {
        self.results()
            .into_iter()
            .find(|(s, _)| s == step)
            .unwrap_or_else(|| panic!("no {step} in {}", self.stdout))
            .1
    }

    /// The calls of each step, from the transcript: a step's calls come before its
    /// `[i/n] step: result` line.
    fn calls_by_step(&self) -> Vec<(String, Vec<&Call>)> {
        let mut calls = self.calls.iter();
        let mut steps = Vec::new();
        let mut pending = Vec::new();
        for line in self.transcript.lines() {
            if line.starts_with("$ ") {
                pending.push(calls.next().expect("a call for every transcript line"));
            } else if let Some((_, rest)) = line.strip_prefix('[').and_then(|l| l.split_once("] "))
            {
                let step = rest.split_once(": ").unwrap().0.to_owned();
                steps.push((step, std::mem::take(&mut pending)));
            }
        }
        steps
    }

    fn mutating(&self) -> Vec<String> {
        self.calls
            .iter()
            .filter(|call| call.mutating)
            .map(Call::line)
            .collect()
    }

    fn ok(self) -> Self {
        assert_eq!(self.code, 0, "{self:#?}");
        self
    }
}

/// Where the ` (1m 05s)` a step's result line ends with when changing things begins: not a
/// reason such as ` (it holds other images)`.
fn elapsed_at(line: &str) -> Option<usize> {
    let at = line.rfind(" (")?;
    let time = line[at + 2..].strip_suffix("s)")?;
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let ok = match time.split_once("m ") {
        Some((minutes, seconds)) => digits(minutes) && digits(seconds),
        None => digits(time),
    };
    ok.then_some(at)
}

/// An Autopilot cluster as `gcloud container clusters describe` shows it: Workload
/// Identity with the project's pool, GKE Dataplane V2, HttpLoadBalancing, the Gateway API
/// and Managed Service for Prometheus, all on.
fn autopilot_cluster(project: &str) -> Value {
    json!({
        "status": "RUNNING",
        "subnetwork": "default",
        "autopilot": {"enabled": true},
        "workloadIdentityConfig": {"workloadPool": format!("{project}.svc.id.goog")},
        "addonsConfig": {"httpLoadBalancing": {}},
        "networkConfig": {
            "datapathProvider": "ADVANCED_DATAPATH",
            "gatewayApiConfig": {"channel": "CHANNEL_STANDARD"},
        },
        "monitoringConfig": {"managedPrometheusConfig": {"enabled": true}},
    })
}

/// A Standard cluster with what a bundle needs (zonal clusters are Standard): its nodes
/// pull images as the Compute Engine default service account.
fn standard_cluster(project: &str) -> Value {
    let mut cluster = autopilot_cluster(project);
    cluster["autopilot"] = json!({"enabled": false});
    cluster["nodeConfig"] = json!({"serviceAccount": "default"});
    cluster
}

/// A bundle written into a temporary directory, with the fakes and an empty project.
struct Sandbox {
    /// Before `dir`: the server stops before its directory goes.
    _fakes: FakeServer,
    dir: TempDir,
    plan: Plan,
}

impl Sandbox {
    fn new(stack: &Path) -> Self {
        Self::without(stack, &[])
    }

    /// A sandbox whose `PATH` lacks the `missing` tools.
    fn without(stack: &Path, missing: &[&str]) -> Self {
        let stem = stack.file_stem().unwrap().to_string_lossy().into_owned();
        let dir = TempDir::new(&format!("infra-{stem}"));
        write_bundle(stack, &dir.path().join("bundle"));
        for sub in ["bin", "state", "work", "home", "tmp"] {
            fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        let bin = dir.path().join("bin");
        for tool in FAKES.iter().filter(|tool| !missing.contains(tool)) {
            let launcher = bin.join(tool);
            if *tool == "gke-gcloud-auth-plugin" {
                // Only looked for, never run.
                fs::write(
                    &launcher,
                    format!(
                        "#!{}\nexec {} -I -S {} \"$@\"\n",
                        system_tool("bash").display(),
                        python().display(),
                        repo().join("tests/fakes").join(tool).display()
                    ),
                )
                .unwrap();
                fs::set_permissions(&launcher, fs::Permissions::from_mode(0o755)).unwrap();
            } else {
                symlink(fake_client(), launcher).unwrap();
            }
        }
        for tool in SYSTEM_TOOLS {
            symlink(system_tool(tool), bin.join(tool)).unwrap();
        }
        let sandbox = Self {
            _fakes: FakeServer::start(&dir.path().join("state"), &dir.path().join("tmp")),
            dir,
            plan: plan_of(stack),
        };
        for (key, attributes) in sandbox.prerequisites() {
            sandbox.seed(&key, attributes);
        }
        sandbox
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    /// The bundle of a changed stack file in place of the old one; the project stays.
    fn rebuild(&mut self, stack: &Path) {
        fs::remove_dir_all(self.path("bundle")).unwrap();
        write_bundle(stack, &self.path("bundle"));
        self.plan = plan_of(stack);
    }

    /// What the script expects to find rather than create: a cluster it does not create
    /// (gke), a current kubectl context (local).
    fn prerequisites(&self) -> Vec<(String, Value)> {
        let plan = &self.plan;
        let mut prerequisites = if plan.local {
            // The kubeconfig's current context, and the context itself.
            vec![
                (
                    "kube-context current".into(),
                    json!({"name": "kind-mlflow"}),
                ),
                ("kube-context kind-mlflow".into(), json!({})),
            ]
        } else if plan.create_cluster {
            vec![]
        } else {
            // A cluster: its API is on.
            vec![
                (
                    self.cluster_key(),
                    if plan.zonal_cluster {
                        standard_cluster(&plan.project)
                    } else {
                        autopilot_cluster(&plan.project)
                    },
                ),
                ("service container.googleapis.com".into(), json!({})),
            ]
        };
        // A shared namespace exists already (`default` in every cluster, as the fake knows).
        if !plan.owns_namespace && plan.namespace != "default" {
            prerequisites.push((format!("k8s Namespace/{}", plan.namespace), json!({})));
        }
        // IAP's OAuth client secret, which an administrator keeps in Secret Manager.
        if let Some(iap) = &plan.auth.iap {
            prerequisites.extend(iap::oauth_secret(iap));
        }
        prerequisites
    }

    fn cluster_key(&self) -> String {
        let cluster = self.plan.cluster.as_deref().unwrap();
        let location = self.plan.cluster_location.as_deref().unwrap();
        format!("cluster {location}/{cluster}")
    }

    fn state(&self) -> Value {
        fs::read_to_string(self.path("state/state.json")).map_or_else(
            |_| json!({"resources": {}, "bindings": []}),
            |text| serde_json::from_str(&text).unwrap(),
        )
    }

    fn seed(&self, key: &str, attributes: Value) {
        let mut state = self.state();
        state["resources"][key] = attributes;
        fs::write(
            self.path("state/state.json"),
            serde_json::to_string(&state).unwrap(),
        )
        .unwrap();
    }

    fn resources(&self) -> BTreeSet<String> {
        let state = self.state();
        state["resources"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    }

    /// The keys of the resources of these KINDS (`image`, `sql-user`, …), in order.
    fn resources_of(&self, kinds: &[&str]) -> Vec<String> {
        self.resources()
            .into_iter()
            .filter(|key| {
                key.split_once(' ')
                    .is_some_and(|(kind, _)| kinds.contains(&kind))
            })
            .collect()
    }

    fn resource(&self, key: &str) -> Value {
        let state = self.state();
        let found = &state["resources"][key];
        assert!(!found.is_null(), "no {key} in {:#?}", self.resources());
        found.clone()
    }

    /// `[resource, role, member, condition title]` of every IAM binding.
    /// The attributes of each resource at KEYS, in order.
    fn resources_at(&self, keys: &[&String]) -> Vec<Value> {
        keys.iter().map(|key| self.resource(key)).collect()
    }

    fn bindings(&self) -> BTreeSet<[String; 4]> {
        let state = self.state();
        state["bindings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| [0, 1, 2, 3].map(|i| b[i].as_str().unwrap().to_owned()))
            .collect()
    }

    fn calls(&self) -> Vec<Call> {
        let text = fs::read_to_string(self.path("state/calls.jsonl")).unwrap_or_default();
        text.lines()
            .map(|line| {
                let call: Value = serde_json::from_str(line).unwrap();
                Call {
                    tool: call["tool"].as_str().unwrap().to_owned(),
                    argv: call["argv"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|arg| arg.as_str().unwrap().to_owned())
                        .collect(),
                    project: call["project"].as_str().map(str::to_owned),
                    mutating: call["mutating"].as_bool().unwrap(),
                    note: call["note"].as_str().unwrap().to_owned(),
                }
            })
            .collect()
    }

    fn infra(&self, args: &[&str]) -> Run {
        self.infra_with(args, &[])
    }

    fn infra_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let transcript = self.path("state/transcript.txt");
        let _ = fs::remove_file(&transcript);
        let stdout = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&transcript)
            .unwrap();
        let before = self.calls().len();
        let output = self
            .command(&[self.path("bundle/infra.sh").to_str().unwrap()], args, env)
            .stdout(stdout)
            .output()
            .unwrap();
        let transcript = fs::read_to_string(transcript).unwrap();
        let calls = self.calls().split_off(before);
        self.check_targets(&calls);
        Run {
            code: output.status.code().expect("infra.sh exited"),
            stdout: transcript
                .split_inclusive('\n')
                .filter(|line| !line.starts_with("$ "))
                .collect(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            transcript,
            calls,
        }
    }

    /// What every run of every test checks: each gcloud call targets the stack's project
    /// (the environment names another one), and nothing calls the legacy gsutil.
    fn check_targets(&self, calls: &[Call]) {
        for call in calls {
            assert_ne!(call.tool, "gsutil", "{}", call.line());
            if call.tool == "gcloud" {
                assert_eq!(
                    call.project.as_deref(),
                    Some(self.plan.project.as_str()),
                    "{}",
                    call.line()
                );
            }
        }
    }

    /// `infra.sh ARGS` on a pseudo-terminal that answers the confirmation prompt.
    fn infra_on_terminal(&self, args: &[&str], answer: &str) -> Run {
        let before = self.calls().len();
        let tty = repo().join("tests/fakes/terminal.py");
        let bash = system_tool("bash");
        let infra = self.path("bundle/infra.sh");
        let output = Command::new(python())
            .arg("-I")
            .arg(&tty)
            .arg(answer)
            .arg(&bash)
            .arg(&infra)
            .args(args)
            .current_dir(self.path("work"))
            .env_clear()
            .envs(self.env(&[]))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        Run {
            code: output.status.code().unwrap(),
            transcript: stdout.clone(),
            stdout,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            calls: {
                let calls = self.calls().split_off(before);
                self.check_targets(&calls);
                calls
            },
        }
    }

    fn env(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let path = |sub: &str| self.path(sub).to_string_lossy().into_owned();
        let mut env = vec![
            ("PATH".to_owned(), path("bin")),
            ("HOME".to_owned(), path("home")),
            ("FAKE_STATE".to_owned(), path("state")),
            ("TMPDIR".to_owned(), path("tmp")),
            ("FAKE_TRANSCRIPT".to_owned(), path("state/transcript.txt")),
            ("CLOUDSDK_CORE_PROJECT".to_owned(), OTHER_PROJECT.to_owned()),
        ];
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        env
    }

    fn command(&self, script: &[&str], args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut command = Command::new(system_tool("bash"));
        command
            .args(script)
            .args(args)
            .current_dir(self.path("work"))
            .env_clear()
            .envs(self.env(env))
            .stdin(Stdio::null())
            .stderr(Stdio::piped());
        command
    }

    /// The transcript with the sandbox's paths, the script's private directory
    /// (`mktemp -d`) and the elapsed times made stable.
    fn normalized(&self, transcript: &str) -> String {
        let root = self.dir.path().to_string_lossy().into_owned();
        let mut out = String::new();
        let mut transcript = transcript
            .replace(&format!("{root}/bundle"), "<bundle>")
            .replace(&root, "<sandbox>");
        while let Some(at) = transcript.find("<sandbox>/tmp/tmp.") {
            let end = transcript[at + "<sandbox>/tmp/tmp.".len()..]
                .find(|c: char| !c.is_ascii_alphanumeric())
                .map_or(transcript.len(), |n| at + "<sandbox>/tmp/tmp.".len() + n);
            transcript.replace_range(at..end, "<private>");
        }
        for line in transcript.lines() {
            match elapsed_at(line) {
                Some(at) if line.starts_with('[') => {
                    out.push_str(&line[..at]);
                    out.push_str(" (<elapsed>)");
                }
                _ => out.push_str(line),
            }
            out.push('\n');
        }
        out
    }

    /// Every step with the result an apply on an empty project must report: a cluster
    /// the stack does not create is adopted.
    fn created(&self) -> Vec<(String, String)> {
        self.every_step("created")
    }

    /// Every step with RESULT, but for a cluster the stack does not create (adopted) and
    /// the nodes of an Autopilot cluster, which are left alone (nothing to create).
    fn every_step(&self, result: &str) -> Vec<(String, String)> {
        self.plan
            .steps
            .iter()
            .map(|step| {
                let result = if *step == "cluster" && !self.plan.create_cluster {
                    "adopted"
                } else if *step == "node-pull" && !self.plan.zonal_cluster {
                    match result {
                        "created" => "exists",
                        "create" => "ok",
                        other => other,
                    }
                } else {
                    result
                };
                ((*step).to_owned(), result.to_owned())
            })
            .collect()
    }

    /// Resources that no `destroy` removes: the prerequisites (a shared namespace among
    /// them), the enabled APIs, the namespace the bundle owns (its `kubectl delete -k`
    /// removes it), the cluster's credentials.
    fn always_kept(&self) -> BTreeSet<String> {
        let plan = &self.plan;
        let mut kept: BTreeSet<String> = self
            .prerequisites()
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        kept.extend(plan.services.iter().map(|s| format!("service {s}")));
        if plan.owns_namespace {
            kept.insert(format!("k8s Namespace/{}", plan.namespace));
        }
        if plan.gke && !plan.create_cluster {
            kept.insert(self.kube_context());
        }
        kept
    }

    fn kube_context(&self) -> String {
        let plan = &self.plan;
        let cluster = plan.cluster.as_deref().unwrap();
        format!(
            "kube-context gke_{}_{}_{cluster}",
            plan.project,
            plan.cluster_location.as_deref().unwrap()
        )
    }

    /// The data `destroy` keeps unless `--delete-data`: the bucket, the instance, the
    /// database and its user (and the record saying they are the stack's), the password,
    /// the address.
    fn data(&self) -> BTreeSet<String> {
        let plan = &self.plan;
        let mut data = BTreeSet::from([
            format!("bucket {}", plan.bucket),
            format!("sql-instance {}", plan.instance),
            format!("sql-database {}/{}", plan.instance, plan.database),
            format!("sql-user {}/{}", plan.instance, plan.db_user),
            format!("secret {}", plan.record_secret),
        ]);
        data.extend(plan.password_secret.iter().map(|s| format!("secret {s}")));
        if let Some(gateway) = &plan.gateway {
            // Its DNS record points at it: global, or in the region of an internal gateway.
            let location = gateway.region.as_deref().unwrap_or("global");
            data.insert(format!("address {location}/{}", gateway.address));
        }
        if let Some(basic) = &plan.auth.basic {
            data.insert(format!("sql-database {}/{}", plan.instance, basic.database));
            data.insert(format!("secret {}", basic.admin_password_secret));
            data.insert(format!("secret {}", basic.flask_key_secret));
        }
        if let Some(ip) = &plan.static_ip {
            data.insert(format!("address {}/{ip}", plan.region));
        }
        data
    }

    /// What `destroy` keeps without `--delete-cluster`: a cluster the stack created, and the
    /// record that names it.
    fn owned_cluster(&self) -> BTreeSet<String> {
        let plan = &self.plan;
        if plan.gke && plan.create_cluster {
            BTreeSet::from([
                self.cluster_key(),
                self.kube_context(),
                format!("secret {}", plan.record_secret),
            ])
        } else {
            BTreeSet::new()
        }
    }

    /// Every resource of the project after `apply`.
    fn everything(&self) -> BTreeSet<String> {
        let plan = &self.plan;
        let mut all = self.always_kept();
        all.extend(self.data());
        all.insert(format!("service-account {}", plan.server_email));
        all.extend(
            plan.puller_email
                .iter()
                .chain(&plan.builder_email)
                .map(|e| format!("service-account {e}")),
        );
        if plan.local {
            // One key of each account a local stack has (its id is random).
            let keys = self.resources_of(&["service-account-key"]);
            for email in std::iter::once(&plan.server_email).chain(&plan.puller_email) {
                let of = |key: &&String| key.starts_with(&format!("service-account-key {email}/"));
                assert_eq!(keys.iter().filter(of).count(), 1, "{email}: {keys:?}");
            }
            all.extend(keys);
        }
        if plan.build_image {
            all.insert(format!("image {}", plan.image));
            if let Some(repository) = &plan.repository {
                all.insert(format!("repository {}/{repository}", plan.region));
            }
        }
        if plan.gke {
            all.insert(self.cluster_key());
            all.insert(self.kube_context());
        }
        if let Some(ip) = &plan.static_ip {
            all.insert(format!("address {}/{ip}", plan.region));
        }
        if let Some(gateway) = &plan.gateway {
            // Global resources by name; an internal gateway's in its region.
            let at = gateway
                .region
                .as_ref()
                .map_or_else(String::new, |region| format!("{region}/"));
            all.insert(format!(
                "dns-authorization {at}{}",
                gateway.dns_authorization
            ));
            all.insert(format!("certificate {at}{}", gateway.certificate));
            let location = gateway.region.as_deref().unwrap_or("global");
            all.insert(format!("ssl-policy {location}/{}", gateway.ssl_policy));
            if let (Some(map), Some(entry)) =
                (&gateway.certificate_map, &gateway.certificate_map_entry)
            {
                all.insert(format!("certificate-map {map}"));
                all.insert(format!("certificate-map-entry {map}/{entry}"));
            }
        }
        for secret in &plan.k8s_secrets {
            all.insert(format!("k8s Secret/{}/{secret}", plan.namespace));
        }
        if let Some(basic) = &plan.auth.basic {
            for secret in [
                &basic.admin_password_k8s_secret,
                &basic.flask_key_k8s_secret,
            ] {
                all.insert(format!("k8s Secret/{}/{secret}", plan.namespace));
            }
        }
        if let Some(iap) = &plan.auth.iap {
            for secret in [&iap.oauth_k8s_secret, &iap.project_k8s_secret] {
                all.insert(format!("k8s Secret/{}/{secret}", plan.namespace));
            }
        }
        all
    }

    /// Every IAM binding `apply` grants, as `[resource, role, member, condition title]`:
    /// the Cloud SQL roles only on the stack's instance.
    fn grants(&self) -> BTreeSet<[String; 4]> {
        let plan = &self.plan;
        let server = format!("serviceAccount:{}", plan.server_email);
        let project = format!("project {}", plan.project);
        let on_instance = plan.sql_condition_title.clone();
        let mut grants = BTreeSet::from([
            [
                format!("bucket {}", plan.bucket),
                "roles/storage.objectUser".into(),
                server.clone(),
                String::new(),
            ],
            [
                project.clone(),
                "roles/cloudsql.client".into(),
                server.clone(),
                on_instance.clone(),
            ],
        ]);
        if plan.iam_auth {
            grants.insert([
                project.clone(),
                "roles/cloudsql.instanceUser".into(),
                server,
                on_instance,
            ]);
        }
        if let Some(puller) = &plan.puller_email {
            let on = plan.repository.as_ref().map_or(project, |repository| {
                format!("repository {}/{repository}", plan.region)
            });
            grants.insert([
                on,
                "roles/artifactregistry.reader".into(),
                format!("serviceAccount:{puller}"),
                String::new(),
            ]);
        }
        // The builder: the staged source and its logs in the bucket, the image's repository
        // (or the project's gcr.io repository, created on push).
        if let Some(builder) = &plan.builder_email {
            let member = format!("serviceAccount:{builder}");
            for role in ["roles/storage.objectViewer", "roles/storage.objectCreator"] {
                grants.insert([
                    format!("bucket {}", plan.bucket),
                    role.into(),
                    member.clone(),
                    String::new(),
                ]);
            }
            grants.insert(match &plan.repository {
                Some(repository) => [
                    format!("repository {}/{repository}", plan.region),
                    "roles/artifactregistry.writer".into(),
                    member,
                    String::new(),
                ],
                None => [
                    format!("project {}", plan.project),
                    "roles/artifactregistry.createOnPushWriter".into(),
                    member,
                    String::new(),
                ],
            });
        }
        // The nodes of a Standard (zonal) cluster pull the image as the Compute Engine
        // default service account: it may read the stack's repository.
        if let (true, true, Some(repository)) =
            (plan.zonal_cluster, plan.build_image, &plan.repository)
        {
            grants.insert([
                format!("repository {}/{repository}", plan.region),
                "roles/artifactregistry.reader".into(),
                format!(
                    "serviceAccount:{}-compute@developer.gserviceaccount.com",
                    project_number(&plan.project)
                ),
                String::new(),
            ]);
        }
        if let Some(member) = &plan.workload_identity_member {
            grants.insert([
                format!("service-account {}", plan.server_email),
                "roles/iam.workloadIdentityUser".into(),
                member.clone(),
                String::new(),
            ]);
        }
        if let Some(gateway) = &plan.gateway {
            for member in &gateway.iap_members {
                grants.insert([
                    format!("iap-web {}", plan.project),
                    "roles/iap.httpsResourceAccessor".into(),
                    member.clone(),
                    gateway.host.clone(),
                ]);
            }
        }
        grants
    }

    fn key_files(&self) -> Vec<PathBuf> {
        let plan = &self.plan;
        let Some(dir) = &plan.credentials_dir else {
            return vec![];
        };
        // Without git, beside the bundle: the sandbox's root.
        let dir = self.dir.path().join(dir);
        let mut files = vec![dir.join(format!("{}.json", plan.server_account))];
        files.extend(
            plan.puller_account
                .iter()
                .map(|a| dir.join(format!("{a}.json"))),
        );
        files
    }
}

/// `plan` reads and never changes: on an empty project every step would create (a cluster
/// the stack does not create is adopted), the summary counts them, and
/// `--detailed-exitcode` exits 2; after `apply` it finds nothing to change and exits 0.
#[test]
fn plan_is_a_read_only_diff() {
    let scratch = TempDir::new("infra-plan");
    for stack in every_stack(&scratch) {
        let sandbox = Sandbox::new(&stack);
        let context = stack.display();
        let run = sandbox.infra(&["plan", "--detailed-exitcode"]);
        assert_eq!(run.code, 2, "{context}: {run:#?}");
        assert_eq!(run.mutating(), Vec::<String>::new(), "{context}");
        let expected: Vec<(String, String)> = sandbox
            .every_step("create")
            .into_iter()
            .map(|(step, result)| {
                let result = if step == "cluster" && !sandbox.plan.create_cluster {
                    "adopted".to_owned()
                } else {
                    result
                };
                (step, result)
            })
            .collect();
        assert_eq!(run.results(), expected, "{context}\n{}", run.stdout);
        let adopted = usize::from(sandbox.plan.gke && !sandbox.plan.create_cluster);
        // The nodes of an Autopilot cluster are left alone: nothing to create.
        let unchanged =
            usize::from(sandbox.plan.steps.contains(&"node-pull") && !sandbox.plan.zonal_cluster);
        let summary = format!(
            "Plan: {} to create, 0 to update, {adopted} adopted, {unchanged} unchanged.\n",
            sandbox.plan.steps.len() - adopted - unchanged
        );
        assert!(run.stdout.ends_with(&summary), "{context}\n{}", run.stdout);

        sandbox.infra(&["apply"]).ok();
        let (resources, bindings) = (sandbox.resources(), sandbox.bindings());
        let run = sandbox.infra(&["plan", "--detailed-exitcode"]);
        assert_eq!(run.code, 0, "{context}: {}", run.stdout);
        assert_eq!(run.results(), sandbox.every_step("ok"), "{context}");
        assert_eq!(run.mutating(), Vec::<String>::new(), "{context}");
        assert_eq!(sandbox.resources(), resources, "{context}");
        assert_eq!(sandbox.bindings(), bindings, "{context}");
    }
}

/// The plan of a stack on an empty project: every command apply would run, under its step.
#[test]
fn plan_prints_the_commands_it_would_run() {
    let sandbox = Sandbox::new(&stack("local"));
    let run = sandbox.infra(&["plan"]).ok();
    let transcript = sandbox.normalized(&run.stdout);
    snapshot_settings().bind(|| insta::assert_snapshot!("infra-plan@local", transcript));
}

/// Without gcloud there is no plan: a clear failure, not a listing that pretends.
#[test]
fn plan_without_gcloud_or_an_account_fails_clearly() {
    let sandbox = Sandbox::without(&stack("local"), &["gcloud"]);
    let run = sandbox.infra(&["plan"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "infra.sh: gcloud is required but not installed: install the Google Cloud CLI and run 'gcloud auth login'\n"
    );

    let sandbox = Sandbox::new(&stack("local"));
    sandbox.seed("auth logged-out", json!({}));
    let run = sandbox.infra(&["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "infra.sh: no authenticated gcloud account: run 'gcloud auth login'\n"
    );
}

/// A read that fails for another reason than "not found" (here IAM's answer to a caller
/// without `storage.buckets.get`) is an error: `plan --detailed-exitcode` exits 1, not 2
/// with a create; `apply` and `destroy` change nothing.
#[test]
fn a_failed_read_is_an_error_not_an_absence() {
    let sandbox = Sandbox::new(&stack("local"));
    sandbox.infra(&["apply"]).ok();
    sandbox.seed(
        "denied storage buckets describe",
        json!({"permission": "storage.buckets.get"}),
    );
    for args in [
        &["plan", "--detailed-exitcode"][..],
        &["apply"],
        &["destroy", "--plan"],
        &["destroy", "--yes", "--delete-data"],
    ] {
        let run = sandbox.infra(args);
        assert_eq!(run.code, 1, "{args:?}: {}", run.stdout);
        assert!(
            run.stderr.starts_with(
                "infra.sh: cannot read what gcloud storage buckets describe gs://acme-ml-dev-mlflow"
            ),
            "{args:?}: {}",
            run.stderr
        );
        assert!(
            run.stderr.ends_with(
                "PERMISSION_DENIED: Permission 'storage.buckets.get' denied on resource (or it may not exist).\n"
            ),
            "{}",
            run.stderr
        );
        assert_eq!(run.mutating(), Vec::<String>::new(), "{args:?}");
        assert!(!run.stdout.contains("Nothing to delete."), "{args:?}");
    }
}

/// `destroy` runs the preflight of `plan` and `apply` before it reads anything: logged out
/// of gcloud, it stops at once instead of finding "nothing to delete".
#[test]
fn destroy_logged_out_stops_at_the_preflight() {
    let sandbox = Sandbox::new(&stack("local"));
    sandbox.infra(&["apply"]).ok();
    sandbox.seed("auth logged-out", json!({}));
    for args in [&["destroy", "--plan"][..], &["destroy", "--yes"]] {
        let run = sandbox.infra(args);
        assert_eq!(run.code, 1, "{args:?}: {}", run.stdout);
        assert_eq!(
            run.stderr,
            "infra.sh: no authenticated gcloud account: run 'gcloud auth login'\n"
        );
        assert!(run.results().is_empty(), "{}", run.stdout);
    }
}

/// The snapshots show every call of an `apply` on an empty project, in order, between the
/// script's `[i/n] step: created` lines.
#[test]
fn apply_on_an_empty_project_creates_everything_in_order() {
    for path in stack_files("stacks") {
        let sandbox = Sandbox::new(&path);
        let plan = &sandbox.plan;
        let run = sandbox.infra(&["apply"]).ok();
        assert_eq!(run.results(), sandbox.created(), "{}", run.stdout);
        assert_eq!(sandbox.resources(), sandbox.everything());
        assert_eq!(sandbox.bindings(), sandbox.grants());

        let mark = json!({"managed-by": "mlflow-stack", "mlflow-stack": plan.stack_name,
                          "mlflow-stack-id": plan.stack_id});
        let bucket = sandbox.resource(&format!("bucket {}", plan.bucket));
        assert_eq!(bucket["uniform_bucket_level_access"], true);
        assert_eq!(bucket["public_access_prevention"], "enforced");
        assert_eq!(bucket["location"], plan.region.to_uppercase());
        assert_eq!(bucket["labels"], mark);
        let instance = sandbox.resource(&format!("sql-instance {}", plan.instance));
        assert_eq!(instance["databaseVersion"], plan.database_version);
        let settings = &instance["settings"];
        assert_eq!(settings["deletionProtectionEnabled"], true);
        assert_eq!(settings["userLabels"], mark);
        assert_eq!(settings["tier"], plan.tier.as_str());
        let iam_flag = settings["databaseFlags"]
            == json!([{"name": "cloudsql.iam_authentication", "value": "on"}]);
        assert_eq!(iam_flag, plan.iam_auth);
        let account = sandbox.resource(&format!("service-account {}", plan.server_email));
        assert_eq!(
            account["description"],
            format!(
                "managed-by=mlflow-stack mlflow-stack={} mlflow-stack-id={}",
                plan.stack_name, plan.stack_id
            )
        );
        let record = &sandbox.resource(&format!("secret {}", plan.record_secret))["labels"];
        assert_eq!(record["managed-by"], "mlflow-stack");
        assert_eq!(record["mlflow-stack"], plan.stack_name.as_str());
        assert_eq!(record["mlflow-stack-id"], plan.stack_id.as_str());
        assert_eq!(record["sql-database"], "true");
        if plan.iam_auth {
            assert_eq!(record["iam-user"], "true");
        } else {
            assert_eq!(record["password-user"], plan.db_user.as_str());
        }
        assert_eq!(record["bucket"], "true");
        assert_eq!(record["sql-instance"], "true");
        assert_eq!(
            record["cluster"].as_str(),
            plan.create_cluster.then_some("true")
        );
        assert_eq!(record["mlflow-version"], plan.mlflow_version_label.as_str());
        if plan.build_image {
            assert_eq!(record["image-tag"], plan.image_tag_label.as_str());
            assert_eq!(record["image-digest"].as_str().unwrap().len(), 16);
        }
        let user = sandbox.resource(&format!("sql-user {}/{}", plan.instance, plan.db_user));
        if plan.iam_auth {
            assert_eq!(user["type"], "CLOUD_IAM_SERVICE_ACCOUNT");
            assert_eq!(user["databaseRoles"], json!(["cloudsqlsuperuser"]));
        } else {
            assert_eq!(user["type"], "BUILT_IN");
            let secret = sandbox.resource(&format!(
                "secret {}",
                plan.password_secret.as_ref().unwrap()
            ));
            let password = secret["data"].as_str().unwrap();
            assert_eq!(
                password.len(),
                48,
                "openssl rand -hex 24, without its newline"
            );
            assert_eq!(
                user["password"], password,
                "the user gets the password kept in Secret Manager"
            );
            assert_eq!(secret["labels"], mark);
        }
        for secret in &plan.k8s_secrets {
            let data =
                &sandbox.resource(&format!("k8s Secret/{}/{secret}", plan.namespace))["data"];
            let expected = if Some(secret) == plan.db_secret.as_ref() {
                "password"
            } else if Some(secret) == plan.key_secret.as_ref() {
                "key.json"
            } else {
                ".dockerconfigjson"
            };
            assert_eq!(data, &json!([expected]), "{secret}");
        }
        if let Some(basic) = &plan.auth.basic {
            // MLflow refuses an admin password shorter than 12 characters.
            for secret in [&basic.admin_password_secret, &basic.flask_key_secret] {
                let value = sandbox.resource(&format!("secret {secret}"))["data"].clone();
                assert_eq!(value.as_str().unwrap().len(), 48, "{secret}");
                assert!(
                    run.calls.iter().all(|call| call
                        .argv
                        .iter()
                        .all(|arg| !arg.contains(value.as_str().unwrap()))),
                    "{secret} never reaches a command line"
                );
            }
            for (secret, key) in [
                (&basic.admin_password_k8s_secret, basic.admin_password_key),
                (&basic.flask_key_k8s_secret, basic.flask_key_key),
            ] {
                let data =
                    &sandbox.resource(&format!("k8s Secret/{}/{secret}", plan.namespace))["data"];
                assert_eq!(data, &json!([key]), "{secret}");
            }
        }
        for file in sandbox.key_files() {
            assert!(file.is_file(), "{}", file.display());
            let gitignore = file.parent().unwrap().join(".gitignore");
            assert_eq!(fs::read_to_string(gitignore).unwrap(), "*\n");
        }
        assert!(run.calls.iter().all(|call| call.tool != "gsutil"));

        let name = format!("infra@{}", path.file_stem().unwrap().to_string_lossy());
        let transcript = sandbox.normalized(&run.transcript);
        snapshot_settings().bind(|| insta::assert_snapshot!(name, transcript));
    }
}

/// Every step of a second `apply` reports `exists` and makes no mutating call.
#[test]
fn a_second_apply_creates_nothing() {
    for path in stack_files("stacks") {
        let sandbox = Sandbox::new(&path);
        sandbox.infra(&["apply"]).ok();
        let (resources, bindings) = (sandbox.resources(), sandbox.bindings());
        let run = sandbox.infra(&["apply"]).ok();
        assert_eq!(
            run.results(),
            sandbox.every_step("exists"),
            "{}",
            run.stdout
        );
        assert_eq!(run.mutating(), Vec::<String>::new());
        assert_eq!(sandbox.resources(), resources);
        assert_eq!(sandbox.bindings(), bindings);
    }
}

/// Apply, apply again, destroy, destroy again, destroy with the data, for the fixtures
/// and a Container Registry stack (`stacks/` have tests of their own below): each run
/// succeeds, and a repeated run changes nothing.
#[test]
fn every_fixture_applies_and_destroys_idempotently() {
    let scratch = TempDir::new("infra-every");
    let mut stacks = stack_files("tests/fixtures/good");
    stacks.push(gcr_stack(&scratch));
    for path in stacks {
        let sandbox = Sandbox::new(&path);
        let context = path.display();
        let run = sandbox.infra(&["apply"]).ok();
        assert_eq!(
            run.results(),
            sandbox.created(),
            "{context}\n{}",
            run.stdout
        );
        assert_eq!(sandbox.resources(), sandbox.everything(), "{context}");
        assert_eq!(sandbox.bindings(), sandbox.grants(), "{context}");
        let run = sandbox.infra(&["apply"]).ok();
        assert_eq!(run.results(), sandbox.every_step("exists"), "{context}");
        assert_eq!(run.mutating(), Vec::<String>::new(), "{context}");

        let facts = ReadmeFacts::new(&sandbox.plan);
        let run = sandbox.infra(&["destroy", "--yes"]).ok();
        assert_eq!(kept_steps(&run), facts.destroy_keeps, "{context}");
        let mut kept = sandbox.always_kept();
        kept.extend(sandbox.data());
        kept.extend(sandbox.owned_cluster());
        assert_eq!(sandbox.resources(), kept, "{context}");
        let run = sandbox.infra(&["destroy", "--yes"]).ok();
        assert_eq!(run.mutating(), Vec::<String>::new(), "{context}");
        assert_eq!(run.stdout.lines().last(), Some("Nothing to delete."));

        let run = sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
        assert_eq!(
            kept_steps(&run),
            facts.destroy_keeps_with_delete_data,
            "{context}"
        );
        let mut kept = sandbox.always_kept();
        kept.extend(sandbox.owned_cluster());
        assert_eq!(sandbox.resources(), kept, "{context}");
        assert_eq!(sandbox.bindings(), BTreeSet::new(), "{context}");
        assert!(sandbox.key_files().iter().all(|file| !file.exists()));
    }
}

/// `CLOUDSDK_CORE_PROJECT` names another project in every run of these tests, and every
/// run checks each gcloud call (`Sandbox::check_targets`); here once more, explicitly.
#[test]
fn every_gcloud_call_targets_the_stack_project() {
    let sandbox = Sandbox::new(&stack("production"));
    sandbox.infra(&["apply"]).ok();
    sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
    let calls = sandbox.calls();
    let projects: BTreeSet<Option<&str>> = calls
        .iter()
        .filter(|call| call.tool == "gcloud")
        .map(|call| call.project.as_deref())
        .collect();
    assert_eq!(projects, BTreeSet::from([Some("acme-ml-prod")]));
    assert!(calls.len() > 50, "{}", calls.len());
}

/// An `apply` that fails in the middle stops there; the next one finds what the first
/// created and ends where a clean `apply` ends.
#[test]
fn a_failed_apply_resumes_where_it_stopped() {
    let sandbox = Sandbox::new(&stack("example"));
    let failed = sandbox.infra_with(&["apply"], &[("FAKE_FAIL", "iam service-accounts create")]);
    assert_eq!(failed.code, 1, "{failed:#?}");
    assert!(
        failed.stderr.contains("injected failure"),
        "{}",
        failed.stderr
    );
    let done = ["services", "bucket", "sql-instance", "database"];
    assert_eq!(failed.results(), sandbox.created()[..done.len()].to_vec());
    let last = failed.calls.last().unwrap();
    assert!(
        last.starts_with("gcloud iam service-accounts create"),
        "{last:?}"
    );

    let resumed = sandbox.infra(&["apply"]).ok();
    let mut expected = sandbox.created();
    for (step, result) in &mut expected {
        if done.contains(&step.as_str()) {
            *result = "exists".into();
        }
    }
    assert_eq!(resumed.results(), expected);

    let clean = Sandbox::new(&stack("example"));
    clean.infra(&["apply"]).ok();
    assert_eq!(sandbox.resources(), clean.resources());
    assert_eq!(sandbox.bindings(), clean.bindings());
}

/// `gcloud sql instances create` gives up waiting after a while and fails while Cloud SQL
/// goes on creating the instance; the next run waits for it before creating the database.
#[test]
fn an_instance_still_being_created_is_waited_for() {
    let sandbox = Sandbox::new(&stack("production"));
    let failed = sandbox.infra_with(
        &["apply"],
        &[
            ("FAKE_FAIL", "sql instances create"),
            ("FAKE_FAIL_AFTER", "1"),
        ],
    );
    assert_eq!(failed.code, 1);
    assert!(
        failed.stderr.contains("taking longer than expected"),
        "{}",
        failed.stderr
    );
    let instance = sandbox.resource("sql-instance research-mlflow-db");
    assert_eq!(instance["state"], "PENDING_CREATE");

    let resumed = sandbox.infra(&["apply"]).ok();
    assert_eq!(
        resumed.results()[2],
        ("sql-instance".into(), "exists".into())
    );
    let lines: Vec<String> = resumed.calls.iter().map(Call::line).collect();
    let wait = lines
        .iter()
        .position(|l| l.starts_with("gcloud sql operations wait op-create-research-mlflow-db"))
        .unwrap_or_else(|| panic!("{lines:#?}"));
    let database = lines
        .iter()
        .position(|l| l.starts_with("gcloud sql databases create mlflow"))
        .unwrap();
    assert!(wait < database);
    assert!(
        resumed
            .stdout
            .contains("    waiting for Cloud SQL operation op-create-research-mlflow-db\n")
    );
    assert_eq!(
        sandbox.resource("sql-instance research-mlflow-db")["state"],
        "RUNNABLE"
    );
}

/// A failed Secret Manager read stops the script before `sql users create`, which would
/// otherwise get `--password=` (empty).
#[test]
fn a_password_that_cannot_be_read_creates_no_user() {
    let sandbox = Sandbox::new(&stack("example"));
    let failed = sandbox.infra_with(&["apply"], &[("FAKE_FAIL", "secrets versions access")]);
    assert_eq!(failed.code, 1);
    assert!(
        failed
            .calls
            .iter()
            .all(|call| !call.starts_with("gcloud sql users create")),
        "{:#?}",
        failed.calls
    );
    assert_eq!(failed.results().last().unwrap().0, "db-password");
}

/// An adopted password with a quote, a backslash and a line that reads as a flag reaches
/// gcloud's flags file as one string: the user gets exactly that password, and the flags
/// of the command stay what infra.sh gave.
#[test]
fn no_password_changes_the_flags_file() {
    let sandbox = Sandbox::new(&stack("example"));
    let plan = &sandbox.plan;
    let password = "p\"a\\b\n--database-roles: \"nope\n";
    sandbox.seed(
        &format!("secret {}", plan.password_secret.as_deref().unwrap()),
        json!({"replication": "automatic", "data": password}),
    );
    sandbox.infra(&["apply"]).ok();
    let user = sandbox.resource(&format!("sql-user {}/{}", plan.instance, plan.db_user));
    assert_eq!(user["password"], password);
    assert_eq!(user["databaseRoles"], json!(["cloudsqlsuperuser"]));
}

/// A password with a control character YAML does not take is refused before the user is
/// created.
#[test]
fn a_password_with_a_control_character_is_refused() {
    let sandbox = Sandbox::new(&stack("example"));
    let plan = &sandbox.plan;
    let secret = plan.password_secret.as_deref().unwrap();
    sandbox.seed(
        &format!("secret {secret}"),
        json!({"replication": "automatic", "data": "a\tb"}),
    );
    let run = sandbox.infra(&["apply"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        format!(
            "infra.sh: the password in Secret Manager {secret} holds a control character (a tab, \
             a carriage return, ...), which gcloud's flags file cannot carry: give the secret a new \
             version without one\n"
        )
    );
    assert!(sandbox.resources_of(&["sql-user"]).is_empty());
}

/// `database.auth = "iam"` on an adopted instance without `cloudsql.iam_authentication`:
/// the preflight says so before anything changes (infra.sh does not change an instance it
/// adopted, and `sql users create --type=cloud_iam_service_account` would fail halfway).
#[test]
fn iam_auth_on_an_adopted_instance_without_the_flag_is_refused() {
    let sandbox = Sandbox::new(&stack("production"));
    let plan = &sandbox.plan;
    for service in &plan.services {
        sandbox.seed(&format!("service {service}"), json!({}));
    }
    sandbox.seed(
        &format!("sql-instance {}", plan.instance),
        json!({"name": plan.instance, "state": "RUNNABLE", "databaseVersion": "POSTGRES_16",
               "settings": {"tier": "db-custom-2-7680", "availabilityType": "REGIONAL",
                            "dataDiskSizeGb": "100", "deletionProtectionEnabled": true,
                            "databaseFlags": [{"name": "max_connections", "value": "200"}]}}),
    );
    for args in [&["plan", "--detailed-exitcode"][..], &["apply"]] {
        let run = sandbox.infra(args);
        assert_eq!(run.code, 1, "{args:?}: {}", run.stdout);
        assert_eq!(
            run.stderr,
            format!(
                "infra.sh: database.auth = \"iam\" needs the flag cloudsql.iam_authentication=on on \
                 Cloud SQL instance {0}, which infra.sh did not create and does not change: ask its \
                 owners to turn it on (gcloud sql instances patch {0} \
                 --database-flags=cloudsql.iam_authentication=on plus every flag it has already: \
                 the list replaces them), or set database.auth = \"password\"\n",
                plan.instance
            )
        );
        assert!(run.results().is_empty(), "{}", run.stdout);
        assert_eq!(run.mutating(), Vec::<String>::new());
    }
}

#[test]
fn apply_step_runs_only_that_step() {
    let sandbox = Sandbox::new(&stack("example"));
    let run = sandbox.infra(&["apply", "services"]).ok();
    assert_eq!(run.results(), [("services".into(), "created".into())]);
    assert!(
        run.mutating()
            .iter()
            .all(|call| call.starts_with("gcloud services enable "))
    );

    let run = sandbox.infra(&["apply", "bucket"]).ok();
    assert!(
        run.stdout.starts_with("[1/1] bucket: created ("),
        "{}",
        run.stdout
    );
    let id = &sandbox.plan.stack_id;
    assert_eq!(
        run.mutating(),
        [
            // The record that this stack creates the bucket, created with its first entry,
            // before the bucket: `buckets create` takes no labels.
            format!(
                "gcloud secrets create mlflow-infra-record --replication-policy=automatic \
                 --labels=managed-by=mlflow-stack,mlflow-stack=mlflow,mlflow-stack-id={id} \
                 --set-annotations=stack-bucket=acme-ml-prod-mlflow"
            ),
            "gcloud secrets update mlflow-infra-record --update-labels=bucket=true".to_owned(),
            "gcloud storage buckets create gs://acme-ml-prod-mlflow --location=europe-west3 \
             --uniform-bucket-level-access --public-access-prevention"
                .to_owned(),
            format!(
                "gcloud storage buckets update gs://acme-ml-prod-mlflow \
                 --update-labels=managed-by=mlflow-stack,mlflow-stack=mlflow,mlflow-stack-id={id}"
            ),
        ]
    );

    // Several steps run in the order of the script, whatever the order given.
    let run = sandbox.infra(&["apply", "database", "sql-instance"]).ok();
    assert_eq!(
        run.results(),
        [
            ("sql-instance".into(), "created".into()),
            ("database".into(), "created".into())
        ]
    );

    let run = sandbox.infra(&["apply", "buckets"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        format!(
            "infra.sh: unknown step 'buckets'; the steps are: {}\n",
            sandbox.plan.steps.join(" ")
        )
    );
    assert!(run.calls.is_empty());
}

#[test]
fn destroy_without_a_terminal_asks_for_yes() {
    let sandbox = Sandbox::new(&stack("example"));
    sandbox.infra(&["apply"]).ok();
    let before = sandbox.resources();
    let run = sandbox.infra(&["destroy"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "infra.sh: destroy asks for confirmation; pass --yes when not running in a terminal\n"
    );
    assert_eq!(run.mutating(), Vec::<String>::new());
    assert_eq!(sandbox.resources(), before);
}

#[test]
fn destroy_on_a_terminal_asks_first() {
    let sandbox = Sandbox::new(&stack("example"));
    sandbox.infra(&["apply"]).ok();
    let before = sandbox.resources();

    let run = sandbox.infra_on_terminal(&["destroy", "--delete-data"], "n");
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stdout.ends_with(
            "Delete the resources listed above from project acme-ml-prod? [y/N] n\n\
             infra.sh: nothing removed\n"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("gcloud storage rm --recursive gs://acme-ml-prod-mlflow\n")
    );
    assert_eq!(run.mutating(), Vec::<String>::new());
    assert_eq!(sandbox.resources(), before);

    let run = sandbox.infra_on_terminal(&["destroy"], "y");
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        run.stdout
            .contains("Delete the resources listed above from project acme-ml-prod? [y/N] y\n"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("gcloud storage rm"), "{}", run.stdout);
    let mut kept = sandbox.always_kept();
    kept.extend(sandbox.data());
    assert_eq!(sandbox.resources(), kept);
}

/// `destroy --yes` runs the steps backwards, each removing what the same step of `apply`
/// created, keeps the bucket, the instance, the database, its user and password, and
/// changes nothing when run again; `--delete-data` removes those too.
#[test]
fn destroy_removes_in_reverse_order_and_keeps_the_data() {
    for path in stack_files("stacks") {
        let sandbox = Sandbox::new(&path);
        let plan = &sandbox.plan;
        let applied = sandbox.infra(&["apply"]).ok();
        let run = sandbox.infra(&["destroy", "--yes"]).ok();
        assert_eq!(kept_steps(&run), ReadmeFacts::new(plan).destroy_keeps);

        let steps: Vec<String> = run.results().into_iter().map(|(step, _)| step).collect();
        // The record of what apply created last: the steps ask it what is the stack's.
        let mut reversed: Vec<String> = plan.steps.iter().rev().map(|s| (*s).to_owned()).collect();
        reversed.push("record".to_owned());
        assert_eq!(steps, reversed);
        for (step, result) in run.results() {
            let expected = match step.as_str() {
                "bucket" | "sql-instance" | "database" | "db-user" | "db-password"
                | "auth-database" | "auth-secrets" | "gateway-address" | "static-ip" | "record" => {
                    "kept (--delete-data removes it)"
                }
                "services" => "kept (other workloads may use the APIs)",
                "cluster" if !plan.create_cluster => "kept (not created by infra.sh)",
                "cluster" => "kept (--delete-cluster removes it)",
                "secrets" if plan.k8s_secrets.is_empty() => "absent",
                // An Autopilot cluster's nodes got nothing.
                "node-pull" if !plan.zonal_cluster => "absent",
                "backup" => "absent",
                _ => "deleted",
            };
            assert_eq!(result, expected, "{step}");
        }
        let mut kept = sandbox.always_kept();
        kept.extend(sandbox.data());
        kept.extend(sandbox.owned_cluster());
        assert_eq!(sandbox.resources(), kept);
        assert_eq!(sandbox.bindings(), BTreeSet::new());

        // Whatever a step created, the same step removes: with the steps reversed, what
        // was created last is removed first.
        let mut created_by = std::collections::BTreeMap::new();
        for (step, calls) in applied.calls_by_step() {
            for subject in calls.iter().filter_map(|call| subject(call)) {
                created_by.insert(subject, step.clone());
            }
        }
        for (step, calls) in run.calls_by_step() {
            for subject in calls.iter().filter_map(|call| subject(call)) {
                assert_eq!(created_by.get(&subject), Some(&step), "{subject}");
            }
        }

        let again = sandbox.infra(&["destroy", "--yes"]).ok();
        assert_eq!(again.mutating(), Vec::<String>::new());

        // With the data: the database goes before its user, who owns MLflow's tables.
        let run = sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
        let mut kept = sandbox.always_kept();
        kept.extend(sandbox.owned_cluster());
        assert_eq!(sandbox.resources(), kept, "{}", run.stdout);
        assert_eq!(sandbox.bindings(), BTreeSet::new());
        assert!(sandbox.key_files().iter().all(|file| !file.exists()));
        // (The last db-user step: the first pass only lists.)
        let (_, calls) = run
            .calls_by_step()
            .into_iter()
            .rev()
            .find(|(step, _)| step == "db-user")
            .unwrap();
        let deletions: Vec<String> = calls
            .iter()
            .filter(|call| call.mutating)
            .map(|call| call.argv[..3].join(" "))
            .collect();
        assert_eq!(deletions, ["sql databases delete", "sql users delete"]);
        let again = sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
        assert_eq!(again.mutating(), Vec::<String>::new());
    }
}

/// The resource a mutating call creates or deletes, named the same both ways; `None` for
/// a call that does not (`services enable`, `sql instances patch`, a read).
fn subject(call: &Call) -> Option<String> {
    if !call.mutating {
        return None;
    }
    let words: Vec<&str> = call
        .argv
        .iter()
        .map(String::as_str)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    let flag = |name: &str| {
        let prefix = format!("--{name}=");
        call.argv
            .iter()
            .find_map(|arg| arg.strip_prefix(&prefix))
            .unwrap_or_default()
            .to_owned()
    };
    // An image without its tag: `destroy` deletes every version of it.
    let untagged = |image: &str| match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => name.to_owned(),
        _ => image.to_owned(),
    };
    let subject = match words.as_slice() {
        [
            ..,
            "add-iam-policy-binding" | "remove-iam-policy-binding",
            on,
        ] => {
            format!("binding {on} {} {}", flag("role"), flag("member"))
        }
        [
            "iap",
            "web",
            "add-iam-policy-binding" | "remove-iam-policy-binding",
        ] => {
            format!("binding iap-web {} {}", flag("role"), flag("member"))
        }
        ["certificate-manager", kind @ .., "create" | "delete", name] => {
            format!("certificate-manager {} {name}", kind.join(" "))
        }
        ["storage", "buckets", "create", url] | ["storage", "rm", url] => format!("bucket {url}"),
        ["sql", "instances", "delete", name] | ["beta", "sql", "instances", "create", name] => {
            format!("sql-instance {name}")
        }
        [
            "sql",
            kind @ ("databases" | "users"),
            "create" | "delete",
            name,
        ] => {
            format!("sql {kind} {}/{name}", flag("instance"))
        }
        ["iam", "service-accounts", "create", id] => format!(
            "service-account {id}@{}.iam.gserviceaccount.com",
            call.project.as_deref().unwrap()
        ),
        ["iam", "service-accounts", "delete", email] => format!("service-account {email}"),
        ["iam", "service-accounts", "keys", "create", file] => format!("key {file}"),
        ["secrets", "create" | "delete", name] => format!("secret {name}"),
        ["artifacts", "repositories", "create" | "delete", name] => format!("repository {name}"),
        ["builds", "submit", ..] => format!("image {}", untagged(&flag("tag"))),
        ["artifacts" | "container", .., "images", "delete", image] => {
            format!("image {}", untagged(image))
        }
        ["container", "clusters", "create-auto" | "delete", name] => format!("cluster {name}"),
        ["compute", "addresses", "create" | "delete", name] => format!("address {name}"),
        ["compute", "ssl-policies", "create" | "delete", name] => format!("ssl-policy {name}"),
        ["apply"] => format!(
            "k8s {}",
            call.note.strip_prefix("stdin: ")?.split(' ').next()?
        ),
        ["delete", "secret", name] => format!("k8s Secret/{}/{name}", flag("namespace")),
        ["create", "namespace", name] => format!("k8s Namespace/{name}"),
        _ => return None,
    };
    Some(subject)
}

/// `database.instance` may name a shared instance: `--delete-data` removes this stack's
/// database and user from it, not the other databases with the instance.
#[test]
fn delete_data_keeps_an_instance_that_holds_other_databases() {
    let sandbox = Sandbox::new(&repo().join("tests/fixtures/good/custom-database.toml"));
    sandbox.infra(&["apply"]).ok();
    sandbox.seed("sql-database shared-postgres/billing", json!({}));
    let run = sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
    assert_eq!(
        run.result("sql-instance"),
        "kept (it holds other databases: billing)"
    );
    let resources = sandbox.resources();
    assert!(resources.contains("sql-instance shared-postgres"));
    assert!(!resources.contains("sql-database shared-postgres/tracking_db"));
    assert!(!resources.contains("sql-user shared-postgres/tracking_app"));
}

/// `registry.repository` may name a shared repository: `destroy` deletes every version of
/// this stack's image, and the repository only when nothing else is left in it.
/// The production stack applied at its tag, then at a bumped one: two tags this stack built.
fn two_tags_built(scratch: &TempDir) -> (Sandbox, String) {
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
    let record = sandbox.resource(&format!("secret {}", sandbox.plan.record_secret));
    assert_eq!(record["annotations"]["image-tags"], "2.3.1 2.4.0");
    // The registry digest each build made.
    let versions = record["annotations"]["image-versions"].as_str().unwrap();
    let tags: Vec<&str> = versions
        .split(' ')
        .map(|entry| entry.split_once("@sha256:").unwrap().0)
        .collect();
    assert_eq!(tags, ["2.3.1", "2.4.0"], "{versions}");
    let (package, _) = sandbox.plan.image.rsplit_once(':').unwrap();
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
    let record = sandbox.resource(&format!("secret {}", sandbox.plan.record_secret));
    assert_eq!(
        record["annotations"],
        json!({"stack-bucket": sandbox.plan.bucket}),
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

#[test]
fn a_missing_tool_is_named_before_anything_runs() {
    let cases = [
        (
            "gcloud",
            "infra.sh: gcloud is required but not installed: install the Google Cloud CLI and run 'gcloud auth login'\n",
        ),
        (
            "kubectl",
            "infra.sh: kubectl is required but not installed: install kubectl ('gcloud components install kubectl')\n",
        ),
        (
            "openssl",
            "infra.sh: openssl is required but not installed: install OpenSSL (it generates the database password)\n",
        ),
    ];
    for (tool, message) in cases {
        let sandbox = Sandbox::without(&stack("example"), &[tool]);
        for args in [&["apply"][..], &["apply", "bucket"], &["destroy", "--yes"]] {
            let run = sandbox.infra(args);
            assert_eq!(run.code, 1, "{tool} {args:?}");
            assert_eq!(run.stderr, message, "{tool} {args:?}");
            assert_eq!(run.stdout, "");
            assert!(run.calls.is_empty());
        }
    }
}

/// The steps a destroy run reports as kept, in apply order: what the bundle README's
/// "destroy keeps" sentence must say ([`ReadmeFacts`]).
fn kept_steps(run: &Run) -> Vec<String> {
    let mut kept: Vec<String> = run
        .results()
        .into_iter()
        .filter(|(_, result)| result.starts_with("kept"))
        .map(|(step, _)| step)
        .collect();
    kept.reverse();
    kept
}

/// Resources that existed before `apply` (no mark of this stack) are adopted: reported as
/// such by `plan` and `apply`, used, never changed, and never deleted, not even by
/// `destroy --yes --delete-data --delete-cluster`.
#[test]
fn pre_existing_resources_are_adopted_and_survive_destroy() {
    let sandbox = Sandbox::new(&stack("production"));
    let plan = &sandbox.plan;
    let cluster = sandbox.cluster_key();
    let bucket = format!("bucket {}", plan.bucket);
    let instance = format!("sql-instance {}", plan.instance);
    let account = format!("service-account {}", plan.server_email);
    for service in &plan.services {
        sandbox.seed(&format!("service {service}"), json!({}));
    }
    let mut existing = autopilot_cluster(&plan.project);
    existing["name"] = json!("ml-platform");
    sandbox.seed(&cluster, existing);
    sandbox.seed(
        &bucket,
        json!({"name": plan.bucket, "location": "EU", "uniform_bucket_level_access": false,
               "public_access_prevention": "inherited", "labels": {"team": "research"}}),
    );
    sandbox.seed(
        &instance,
        json!({"name": plan.instance, "state": "RUNNABLE", "databaseVersion": "POSTGRES_16",
               "settings": {"tier": "db-f1-micro", "availabilityType": "ZONAL",
                            "dataDiskSizeGb": "100", "deletionProtectionEnabled": true,
                            "databaseFlags": [{"name": "cloudsql.iam_authentication", "value": "on"}]}}),
    );
    sandbox.seed(
        &account,
        json!({"email": plan.server_email, "displayName": "made by hand"}),
    );
    let before = sandbox.resources_at(&[&cluster, &bucket, &instance, &account]);

    let run = sandbox.infra(&["plan"]).ok();
    for (step, what) in [
        ("bucket", "gs://acme-ml-prod-mlflow-research"),
        ("sql-instance", "Cloud SQL instance research-mlflow-db"),
        ("service-account", "service account research-mlflow-server@"),
        ("cluster", "GKE cluster ml-platform"),
    ] {
        // The service-account step creates the builder's account beside the adopted one.
        let result = if step == "service-account" {
            "create"
        } else {
            "adopted"
        };
        assert!(
            run.results()
                .contains(&(step.to_owned(), result.to_owned())),
            "{step}\n{}",
            run.stdout
        );
        assert!(
            run.stdout.contains(&format!("    adopted: {what}")),
            "{}",
            run.stdout
        );
    }
    // An adopted bucket's settings are checked and reported, not changed.
    assert!(
        run.stdout
            .contains("    warning: uniform bucket-level access is off")
    );
    assert!(
        run.stdout
            .contains("    warning: public access prevention is not enforced")
    );
    assert!(
        run.stdout
            .contains("    warning: the bucket is in EU, not in europe-west4")
    );

    let run = sandbox.infra(&["apply"]).ok();
    assert!(
        run.results()
            .contains(&("bucket".to_owned(), "adopted".to_owned()))
    );
    let after = sandbox.resources_at(&[&cluster, &bucket, &instance, &account]);
    assert_eq!(after, before, "apply changed an adopted resource");
    assert!(
        run.mutating()
            .iter()
            .all(|call| !call.contains("sql instances patch")
                && !call.contains("buckets update")
                && !call.contains("clusters create")),
        "{:#?}",
        run.mutating()
    );

    let run = sandbox
        .infra(&["destroy", "--yes", "--delete-data", "--delete-cluster"])
        .ok();
    for key in [&cluster, &bucket, &instance, &account] {
        assert!(
            sandbox.resources().contains(key.as_str()),
            "{key} was deleted\n{}",
            run.stdout
        );
    }
    let results = run.results();
    for step in ["bucket", "sql-instance", "cluster"] {
        assert!(
            results.contains(&(step.to_owned(), "kept (not created by infra.sh)".to_owned())),
            "{step}: {results:?}"
        );
    }
    // The server's account stays (checked above); the builder's, created by the stack, goes.
    assert!(
        results.contains(&("service-account".to_owned(), "deleted".to_owned())),
        "{results:?}"
    );
    assert!(!sandbox.resources().contains(&format!(
        "service-account {}",
        plan.builder_email.as_ref().unwrap()
    )));
    // What this stack created in them goes: its database, user and bindings.
    assert!(
        !sandbox
            .resources()
            .contains(&format!("sql-database {}/mlflow", plan.instance))
    );
    assert_eq!(sandbox.bindings(), BTreeSet::new());
}

/// Changing the database's tier, availability, disk size and authentication in the stack:
/// `plan` shows exactly those updates (saying which restart the instance), `apply` makes
/// them, and the plan after it is empty.
#[test]
fn database_changes_are_planned_then_applied() {
    let scratch = TempDir::new("infra-changes");
    let mut sandbox = Sandbox::new(&stack("example"));
    sandbox.infra(&["apply"]).ok();
    let changed = changed_stack(
        &scratch,
        "example",
        &[],
        "[database]\ntier = \"db-custom-2-7680\"\nhigh_availability = true\nstorage_gb = 20\nauth = \"iam\"",
    );
    sandbox.rebuild(&changed);
    let run = sandbox.infra(&["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 2, "{run:#?}");
    let updates: Vec<&str> = run
        .stdout
        .lines()
        .filter(|line| line.starts_with("    update "))
        .collect();
    assert_eq!(
        updates,
        [
            "    update tier: db-custom-1-3840 → db-custom-2-7680 (restarts the instance)",
            "    update availability: ZONAL → REGIONAL (restarts the instance)",
            "    update storage_gb: 10 → 20",
            "    update cloudsql.iam_authentication: (none) → on",
        ]
    );
    assert!(
        run.results()
            .contains(&("sql-instance".into(), "update".into()))
    );
    assert_eq!(run.mutating(), Vec::<String>::new());

    let run = sandbox.infra(&["apply"]).ok();
    assert!(
        run.results()
            .contains(&("sql-instance".into(), "updated".into())),
        "{}",
        run.stdout
    );
    let patches: Vec<String> = run
        .mutating()
        .into_iter()
        .filter(|call| call.contains("sql instances patch"))
        .collect();
    assert_eq!(
        patches,
        [
            "gcloud sql instances patch mlflow-db --tier=db-custom-2-7680 \
          --availability-type=REGIONAL --storage-size=20 \
          --database-flags=cloudsql.iam_authentication=on --quiet"
        ]
    );
    let settings = &sandbox.resource("sql-instance mlflow-db")["settings"];
    assert_eq!(settings["tier"], "db-custom-2-7680");
    assert_eq!(settings["availabilityType"], "REGIONAL");
    assert_eq!(settings["dataDiskSizeGb"], "20");
    // The IAM user now exists beside the password user, which only destroy removes.
    let users: BTreeSet<String> = sandbox.resources_of(&["sql-user"]).into_iter().collect();
    assert_eq!(
        users,
        BTreeSet::from([
            "sql-user mlflow-db/mlflow".to_owned(),
            format!("sql-user mlflow-db/{}", sandbox.plan.db_user),
        ])
    );
    let run = sandbox.infra(&["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
}

/// A smaller disk is refused before anything changes, in `plan` and in `apply`.
#[test]
fn a_shrink_fails_before_any_mutation() {
    let scratch = TempDir::new("infra-shrink");
    let mut sandbox = Sandbox::new(&stack("production"));
    sandbox.infra(&["apply"]).ok();
    let base = fs::read_to_string(stack("production")).unwrap();
    let smaller = scratch.path().join("production.toml");
    fs::write(&smaller, base.replace("storage_gb = 50", "storage_gb = 20")).unwrap();
    sandbox.rebuild(&smaller);
    let (resources, bindings) = (sandbox.resources(), sandbox.bindings());
    for args in [&["plan"][..], &["apply"]] {
        let run = sandbox.infra(args);
        assert_eq!(run.code, 1, "{args:?}");
        assert_eq!(
            run.stderr,
            "infra.sh: database.storage_gb = 20 is smaller than the 50 GB of instance \
             research-mlflow-db: Cloud SQL disks only grow; set storage_gb = 50 or more\n"
        );
        assert_eq!(run.mutating(), Vec::<String>::new());
        assert!(run.results().is_empty(), "{}", run.stdout);
    }
    assert_eq!(sandbox.resources(), resources);
    assert_eq!(sandbox.bindings(), bindings);
}

/// A gke stack whose cluster does not exist stops in the preflight, naming `cluster.name`,
/// before Cloud SQL, the bucket or the image cost anything.
#[test]
fn a_missing_cluster_fails_before_any_mutation() {
    let sandbox = Sandbox::new(&stack("example"));
    let mut state = sandbox.state();
    state["resources"]
        .as_object_mut()
        .unwrap()
        .remove(&sandbox.cluster_key());
    fs::write(sandbox.path("state/state.json"), state.to_string()).unwrap();
    let run = sandbox.infra(&["apply"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "infra.sh: GKE cluster mlflow not found in europe-west3 (project acme-ml-prod): create \
         it, correct `cluster.name` or `cluster.location` in the stack file, or set `create = true` \
         in its [cluster] table\n"
    );
    assert!(
        run.calls.iter().all(|call| !call.mutating),
        "{:#?}",
        run.mutating()
    );
    assert_eq!(run.stdout, "");
}

/// An existing cluster without what the bundle needs (Workload Identity's pool, and for
/// a gateway with metrics: HttpLoadBalancing, the Gateway API, Managed Service for
/// Prometheus) stops `apply` in the preflight, naming each with the command that turns
/// it on, before anything changes.
#[test]
fn a_cluster_without_the_needed_features_fails_before_any_mutation() {
    let scratch = TempDir::new("cluster-features");
    let team = changed_stack(
        &scratch,
        "team",
        &[("[expose]", "[server]\nmetrics = true\n\n[expose]")],
        "",
    );
    let sandbox = Sandbox::new(&team);
    sandbox.seed(
        &sandbox.cluster_key(),
        json!({"status": "RUNNING", "subnetwork": "default",
               "addonsConfig": {"httpLoadBalancing": {"disabled": true}},
               "networkConfig": {"datapathProvider": "LEGACY_DATAPATH"},
               "monitoringConfig": {"managedPrometheusConfig": {"enabled": false}}}),
    );
    let run = sandbox.infra(&["apply"]);
    assert_eq!(run.code, 1, "{}", run.transcript);
    assert_eq!(
        run.stderr,
        "infra.sh: GKE cluster team-mlflow (europe-west3) lacks what this bundle needs; nothing was changed:\n  \
         - Workload Identity with the pool acme-ml-prod.svc.id.goog (the server's Kubernetes \
         ServiceAccount acts as its Google service account): gcloud container clusters update \
         team-mlflow --location=europe-west3 --workload-pool=acme-ml-prod.svc.id.goog (and \
         GKE_METADATA as the workload metadata of each node pool)\n  \
         - the HttpLoadBalancing add-on (the Gateway controller runs on it): gcloud container \
         clusters update team-mlflow --location=europe-west3 --update-addons=HttpLoadBalancing=ENABLED\n  \
         - the Gateway API (the bundle's Gateway and HTTPRoute): gcloud container clusters \
         update team-mlflow --location=europe-west3 --gateway-api=standard\n  \
         - Managed Service for Prometheus (the bundle's PodMonitoring): gcloud container \
         clusters update team-mlflow --location=europe-west3 --enable-managed-prometheus\n"
    );
    assert!(
        run.calls.iter().all(|call| !call.mutating),
        "{:#?}",
        run.mutating()
    );
    assert_eq!(run.stdout, "");
}

/// A cluster that does not enforce NetworkPolicy (neither GKE Dataplane V2 nor network
/// policy enforcement) is a warning, in `plan` and `apply`: the bundle still works, with
/// its policy ignored. Each enforcer silences it.
#[test]
fn a_cluster_without_network_policy_enforcement_warns() {
    let sandbox = Sandbox::new(&stack("example"));
    let mut cluster = autopilot_cluster("acme-ml-prod");
    cluster["autopilot"] = json!({"enabled": false});
    cluster["networkConfig"]["datapathProvider"] = json!("LEGACY_DATAPATH");
    sandbox.seed(&sandbox.cluster_key(), cluster.clone());
    let warning = "    warning: mlflow does not enforce NetworkPolicy (no GKE Dataplane V2, no network \
        policy enforcement): the server's port is open to every pod; enable it with gcloud \
        container clusters update mlflow --location=europe-west3 \
        --update-addons=NetworkPolicy=ENABLED, then --enable-network-policy\n";
    let plan = sandbox.infra(&["plan"]);
    assert_eq!(plan.code, 0, "{}", plan.transcript);
    assert!(
        plan.stdout.contains(&format!(
            "] cluster: adopted\n    adopted: GKE cluster mlflow (not created by infra.sh: \
             left as it is)\n{warning}"
        )),
        "{}",
        plan.stdout
    );
    let apply = sandbox.infra(&["apply", "cluster"]);
    assert_eq!(apply.code, 0, "{}", apply.transcript);
    assert!(apply.stdout.contains(warning), "{}", apply.stdout);
    cluster["networkPolicy"] = json!({"enabled": true, "provider": "CALICO"});
    sandbox.seed(&sandbox.cluster_key(), cluster);
    let calico = sandbox.infra(&["apply", "cluster"]);
    assert!(!calico.stdout.contains("warning"), "{}", calico.stdout);
}

/// A zonal cluster `infra.sh` creates is a Standard cluster with GKE Dataplane V2, so the
/// bundle's NetworkPolicy is enforced, and with the project's Workload Identity pool.
#[test]
fn a_zonal_cluster_is_created_with_dataplane_v2() {
    let sandbox = Sandbox::new(&repo().join("tests/fixtures/good/zonal-cluster.toml"));
    let run = sandbox.infra(&["apply"]);
    assert_eq!(run.code, 0, "{}", run.transcript);
    let create = run
        .calls
        .iter()
        .find(|call| {
            call.argv
                .starts_with(&["container".into(), "clusters".into(), "create".into()])
        })
        .unwrap();
    assert!(
        create.argv.contains(&"--enable-dataplane-v2".to_owned()),
        "{:?}",
        create.argv
    );
    let cluster = &sandbox.state()["resources"][sandbox.cluster_key()];
    assert_eq!(
        cluster["networkConfig"]["datapathProvider"],
        "ADVANCED_DATAPATH"
    );
    assert_eq!(
        cluster["workloadIdentityConfig"]["workloadPool"],
        "acme-ml-dev.svc.id.goog"
    );
    assert!(!run.stdout.contains("warning"), "{}", run.stdout);
}

/// In a hardened project the default build account has no roles (the fake refuses a
/// build without its own account): Cloud Build runs as the stack's builder, which holds
/// exactly what the build needs, on this stack's resources only: the staged source and the
/// logs in the bucket, and the image's repository. `destroy` revokes it all.
#[test]
fn the_image_is_built_by_a_builder_holding_only_what_the_build_needs() {
    let sandbox = Sandbox::new(&stack("example"));
    let plan = &sandbox.plan;
    let builder = plan.builder_email.clone().unwrap();
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
    let nodes = format!(
        "serviceAccount:{}-compute@developer.gserviceaccount.com",
        project_number("acme-ml-dev")
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
    let zonal = repo().join("tests/fixtures/good/zonal-cluster.toml");
    let sandbox = Sandbox::new(&zonal);
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
    let mut state = sandbox.state();
    state["bindings"].as_array_mut().unwrap().push(json!([
        "repository europe-west1/mlflow",
        "roles/artifactregistry.reader",
        nodes,
        ""
    ]));
    fs::write(sandbox.path("state/state.json"), state.to_string()).unwrap();
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

/// No password, key or token is ever a command argument: the database password reaches
/// gcloud in a flags file, the pull secret's credentials in a file, all in a private
/// directory that is gone after the run. Checked for every value of every stack's first
/// apply (which destroy then deletes) and of the apply after it, which makes new ones.
#[test]
fn no_secret_value_in_any_argv() {
    let scratch = TempDir::new("infra-secrets");
    let mut stacks = stack_files("stacks");
    stacks.push(gcr_stack(&scratch));
    for path in stacks {
        let sandbox = Sandbox::new(&path);
        sandbox.infra(&["plan"]).ok();
        sandbox.infra(&["apply"]).ok();
        let mut secrets = secret_values(&sandbox);
        sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
        sandbox.infra(&["apply"]).ok();
        secrets.extend(secret_values(&sandbox));
        assert!(!secrets.is_empty() || sandbox.plan.iam_auth && sandbox.plan.gke);
        for call in sandbox.calls() {
            for secret in &secrets {
                assert!(
                    call.argv.iter().all(|arg| !arg.contains(secret.as_str())),
                    "{}: a secret in {}",
                    path.display(),
                    call.line()
                );
            }
        }
        let script = fs::read_to_string(sandbox.path("bundle/infra.sh")).unwrap();
        assert!(!script.contains("--password="), "{}", path.display());
        assert!(!script.contains("--docker-password"), "{}", path.display());
    }
}

/// Every secret value in the project and the key files: Secret Manager data, database
/// passwords, private keys.
fn secret_values(sandbox: &Sandbox) -> Vec<String> {
    let mut secrets: Vec<String> = Vec::new();
    let state = sandbox.state();
    for (key, value) in state["resources"].as_object().unwrap() {
        if key.starts_with("secret ") {
            secrets.extend(value["data"].as_str().map(str::to_owned));
        }
        if key.starts_with("sql-user ") {
            secrets.extend(value["password"].as_str().map(str::to_owned));
        }
    }
    for file in sandbox.key_files() {
        let key: Value = serde_json::from_str(&fs::read_to_string(file).unwrap()).unwrap();
        secrets.push(key["private_key"].as_str().unwrap().to_owned());
    }
    secrets
}

/// `destroy --plan` prints what destroy would delete, and deletes nothing.
#[test]
fn destroy_plan_lists_and_changes_nothing() {
    let sandbox = Sandbox::new(&stack("production"));
    sandbox.infra(&["apply"]).ok();
    let before = sandbox.resources();
    let run = sandbox.infra(&["destroy", "--plan", "--delete-data"]).ok();
    assert_eq!(run.mutating(), Vec::<String>::new());
    assert_eq!(sandbox.resources(), before);
    let transcript = sandbox.normalized(&run.stdout);
    snapshot_settings()
        .bind(|| insta::assert_snapshot!("infra-destroy-plan@production", transcript));
    let run = sandbox
        .infra(&["destroy", "--plan", "--delete-data", "--delete-cluster"])
        .ok();
    assert!(
        run.stdout
            .contains("gcloud container clusters delete ml-platform")
    );
}

/// An organization policy that forbids key files stops a local stack with what to do.
#[test]
fn an_org_policy_against_keys_gets_a_clear_message() {
    let sandbox = Sandbox::new(&stack("local"));
    sandbox.seed("org-policy iam.disableServiceAccountKeyCreation", json!({}));
    let run = sandbox.infra(&["apply"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "infra.sh: the organization policy constraints/iam.disableServiceAccountKeyCreation \
         forbids service account keys in acme-ml-dev: ask an organization policy administrator \
         to exempt this project, or run MLflow on GKE (environment = \"gke\"), where Workload \
         Identity needs no key\n"
    );
}

/// Key files are written at the top of the git work tree holding the bundle, whichever
/// directory infra.sh runs from, never inside the bundle; git must ignore them first.
#[test]
fn key_files_live_outside_the_bundle_where_git_ignores_them() {
    let sandbox = Sandbox::new(&stack("local"));
    symlink(system_tool("git"), sandbox.path("bin/git")).unwrap();
    let repo_dir = sandbox.path("repo");
    fs::create_dir_all(repo_dir.join("deploy")).unwrap();
    fs::rename(sandbox.path("bundle"), repo_dir.join("deploy/local")).unwrap();
    let git = |args: &[&str]| {
        let status = Command::new(system_tool("git"))
            .args(args)
            .current_dir(&repo_dir)
            .env("HOME", sandbox.path("home"))
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    };
    git(&["init", "-q"]);
    // A rule that re-includes JSON files: git would not ignore the keys.
    fs::write(repo_dir.join(".gitignore"), "!*.json\n").unwrap();
    fs::create_dir_all(repo_dir.join(".mlflow_credentials")).unwrap();
    fs::write(repo_dir.join(".mlflow_credentials/.gitignore"), "!*.json\n").unwrap();
    let script = repo_dir.join("deploy/local/infra.sh");
    let run = |dir: &Path| {
        sandbox
            .command(&[script.to_str().unwrap()], &["apply"], &[])
            .current_dir(dir)
            .output()
            .unwrap()
    };
    let out = run(&sandbox.path("work"));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.ends_with("mlflow-server.json: a rule in a .gitignore re-includes it; fix that before key files are written\n"),
        "{stderr}"
    );
    assert!(
        !repo_dir
            .join(".mlflow_credentials/mlflow-server.json")
            .exists()
    );

    fs::write(repo_dir.join(".mlflow_credentials/.gitignore"), "*\n").unwrap();
    fs::write(repo_dir.join(".gitignore"), "").unwrap();
    for dir in [sandbox.path("work"), repo_dir.join("deploy")] {
        let out = run(&dir);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        repo_dir
            .join(".mlflow_credentials/mlflow-server.json")
            .is_file()
    );
    assert!(!repo_dir.join("deploy/local/.mlflow_credentials").exists());
    assert!(!sandbox.path("work/.mlflow_credentials").exists());
}

/// A new `server.mlflow_version` takes an on-demand backup of the instance before the new
/// version's pods migrate the schema; the version is recorded, so the next run takes none.
#[test]
fn a_version_bump_takes_a_backup_first() {
    let scratch = TempDir::new("infra-bump");
    let mut sandbox = Sandbox::new(&stack("example"));
    sandbox.infra(&["apply"]).ok();
    let record = sandbox.resource(&format!("secret {}", sandbox.plan.record_secret));
    assert_eq!(record["labels"]["mlflow-version"], "3_17_2");
    assert!(sandbox.resources_of(&["sql-backup"]).is_empty());

    let bumped = changed_stack(
        &scratch,
        "example",
        &[("tag = \"1.0.0\"", "tag = \"1.0.1\"")],
        "[server]\nmlflow_version = \"3.17.3\"",
    );
    sandbox.rebuild(&bumped);
    let run = sandbox.infra(&["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stdout.contains(
            "[9/15] backup: update\n    update mlflow-version: 3_17_2 → 3_17_3 (an on-demand backup of mlflow-db first)\n"
        ),
        "{}",
        run.stdout
    );
    let run = sandbox.infra(&["apply"]).ok();
    // The backup, before the new image is built.
    let mutating = run.mutating();
    assert_eq!(
        mutating[..2],
        [
            "gcloud sql backups create --instance=mlflow-db --description=before MLflow 3.17.3 migrates the schema",
            "gcloud secrets update mlflow-infra-record --update-labels=mlflow-version=3_17_3",
        ]
    );
    assert!(
        mutating[2..]
            .iter()
            .any(|call| call.starts_with("gcloud builds submit")),
        "{mutating:#?}"
    );
    let backup = sandbox.resource("sql-backup mlflow-db/1");
    assert_eq!(backup["type"], "ON_DEMAND");
    let again = sandbox.infra(&["apply"]).ok();
    assert_eq!(again.mutating(), Vec::<String>::new());
}

/// A lower `server.mlflow_version` than the schema was migrated for is refused in `plan`
/// and `apply`, before anything changes, with the way back: the backup taken before the
/// upgrade.
#[test]
fn an_older_mlflow_than_the_schema_is_refused() {
    let scratch = TempDir::new("infra-downgrade");
    let newer = changed_stack(
        &scratch,
        "example",
        &[("tag = \"1.0.0\"", "tag = \"1.0.1\"")],
        "[server]\nmlflow_version = \"3.17.3\"",
    );
    let mut sandbox = Sandbox::new(&newer);
    sandbox.infra(&["apply"]).ok();
    sandbox.rebuild(&stack("example"));
    for args in [&["plan", "--detailed-exitcode"][..], &["apply"]] {
        let run = sandbox.infra(args);
        assert_eq!(run.code, 1, "{args:?}: {}", run.stdout);
        assert_eq!(
            run.stderr,
            "infra.sh: server.mlflow_version = 3.17.2 is older than 3.17.3, which the schema of \
             database mlflow was migrated for: MLflow has no downgrade, and an older server \
             refuses a newer schema. To go back, restore onto mlflow-db the on-demand backup taken \
             before that upgrade (in its list of backups, described \"before MLflow 3.17.3 \
             migrates the schema\"; a restore replaces every database of the instance) and record \
             the version it holds (gcloud secrets update mlflow-infra-record \
             --update-labels=mlflow-version=3_17_2), or keep mlflow_version = \"3.17.3\" or later\n"
        );
        assert_eq!(run.mutating(), Vec::<String>::new());
    }
}

/// In a bucket others use too, `apply` removes the source archive its build staged under
/// `cloudbuild-source/`, and nothing else there.
#[test]
fn apply_removes_only_the_source_it_staged() {
    let sandbox = Sandbox::new(&stack("example"));
    let plan = &sandbox.plan;
    sandbox.seed(
        &format!("bucket {}", plan.bucket),
        json!({"name": plan.bucket, "location": "EUROPE-WEST3",
               "uniform_bucket_level_access": true, "public_access_prevention": "enforced"}),
    );
    let theirs = format!(
        "object {}/cloudbuild-source/1700000000.1-theirs.tgz",
        plan.bucket
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
    let image = format!("image {}", sandbox.plan.image);
    let pushed = format!("sha256:{}", "f".repeat(64));
    sandbox.seed(&image, json!({"digest": pushed}));
    let run = sandbox.infra(&["plan"]).ok();
    assert_eq!(run.result("image"), "adopted");
    assert!(
        run.stdout.contains(&format!(
            "    adopted: image {} (pushed over the version infra.sh built: {pushed} is not sha256:",
            sandbox.plan.image
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
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(sandbox.resources_of(&["image"]).is_empty());
    let run = sandbox.infra_with(
        &["apply"],
        &[("FAKE_FAIL", "--update-annotations=image-versions")],
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(sandbox.resources_of(&["image"]).len(), 1);
    // The next run records the version the build made, and the image is the stack's.
    sandbox.infra(&["apply"]).ok();
    let record = sandbox.resource(&format!("secret {}", sandbox.plan.record_secret));
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
        assert_eq!(run.code, 1, "{args:?}");
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
        assert_eq!(run.mutating(), Vec::<String>::new());
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
    assert_eq!(run.mutating(), Vec::<String>::new());
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
    let key = format!("secret {}", sandbox.plan.record_secret);
    state["resources"][&key]["labels"]["image-digest"] = json!(legacy.trim());
    fs::write(sandbox.path("state/state.json"), state.to_string()).unwrap();
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
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("bump `tag`"), "{}", run.stderr);
}

/// `bash -x` prints every command and assignment: none carries a secret.
#[test]
fn bash_xtrace_prints_no_secret() {
    for name in ["local", "local-basic"] {
        let sandbox = Sandbox::new(&stack(name));
        let script = sandbox.path("bundle/infra.sh");
        let out = sandbox
            .command(&["-x", script.to_str().unwrap()], &["apply"], &[])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{name}");
        let trace = String::from_utf8_lossy(&out.stderr);
        assert!(trace.contains("gcloud sql users create"), "{trace}");
        // The database password, the basic-auth admin password and Flask key, the keys.
        let secrets = secret_values(&sandbox);
        assert!(secrets.len() >= 2, "{name}: {secrets:?}");
        for secret in secrets {
            assert!(!trace.contains(&secret), "{name}: a secret is in the trace");
        }
    }
}

/// A shared namespace (`namespace_shared`, and `default`, which every cluster has) belongs
/// to others: `infra.sh` puts its Secrets there but never creates, labels or deletes it
/// (one that does not exist: `a_missing_shared_namespace_fails_before_any_mutation`).
#[test]
fn a_shared_namespace_is_never_created_labelled_or_deleted() {
    let scratch = TempDir::new("infra-shared-namespace");
    let default = changed_stack(
        &scratch,
        "local",
        &[(
            "environment = \"local\"",
            "environment = \"local\"\nnamespace = \"default\"",
        )],
        "",
    );
    let shared = repo().join("tests/fixtures/good/shared-namespace.toml");
    let touches_a_namespace = |run: &Run| -> Vec<String> {
        run.calls
            .iter()
            .filter(|call| call.tool == "kubectl")
            .filter(|call| {
                let words: Vec<&str> = call.argv.iter().map(String::as_str).collect();
                matches!(
                    words.first(),
                    Some(&("create" | "label" | "annotate" | "delete" | "patch" | "apply"))
                ) && (words.contains(&"namespace")
                    || words.contains(&"ns")
                    || call.note.contains("Namespace/"))
            })
            .map(Call::line)
            .collect()
    };
    for path in [&default, &shared] {
        let sandbox = Sandbox::new(path);
        let namespace = sandbox.plan.namespace.clone();
        assert!(!sandbox.plan.owns_namespace, "{namespace}");
        let before = sandbox.state()["resources"][format!("k8s Namespace/{namespace}")].clone();
        for args in [
            &["apply"][..],
            &["apply"],
            &["destroy", "--yes", "--delete-data"],
        ] {
            let run = sandbox.infra(args).ok();
            assert_eq!(
                touches_a_namespace(&run),
                Vec::<String>::new(),
                "{namespace} {args:?}"
            );
            assert_eq!(
                sandbox.state()["resources"][format!("k8s Namespace/{namespace}")],
                before,
                "{namespace} {args:?}"
            );
        }
    }
}

/// A shared namespace that does not exist stops `plan` and `apply` in the preflight, with
/// its name and what to do, before anything changes: not in the `secrets` step after Cloud
/// SQL, the bucket and the image. The check belongs to the steps that write into the
/// namespace (`apply bucket` goes on). On a cluster this run would create, the namespace
/// cannot exist yet: the message says to create the cluster first.
#[test]
fn a_missing_shared_namespace_fails_before_any_mutation() {
    let scratch = TempDir::new("infra-missing-namespace");
    let shared = "namespace = \"data-platform\"\nnamespace_shared = true";
    let local = changed_stack(
        &scratch,
        "local",
        &[(
            "environment = \"local\"",
            &format!("environment = \"local\"\n{shared}"),
        )],
        "",
    );
    let hint = "it is shared, so infra.sh does not create it: ask its owners to create it \
                (kubectl create namespace data-platform), or drop namespace_shared from the \
                stack file to let the bundle own it";
    for path in [
        repo().join("tests/fixtures/good/shared-namespace.toml"),
        local,
    ] {
        let sandbox = Sandbox::new(&path);
        let plan = &sandbox.plan;
        let cluster = if plan.gke {
            format!("GKE cluster {}", plan.cluster.as_deref().unwrap())
        } else {
            "the cluster of kubectl context kind-mlflow".to_owned()
        };
        let mut state = sandbox.state();
        state["resources"]
            .as_object_mut()
            .unwrap()
            .remove("k8s Namespace/data-platform");
        fs::write(sandbox.path("state/state.json"), state.to_string()).unwrap();
        let before = sandbox.resources();
        for args in [&["plan"][..], &["apply"], &["apply", "secrets"]] {
            let run = sandbox.infra(args);
            let context = format!("{} {args:?}", path.display());
            assert_eq!(run.code, 1, "{context}: {run:#?}");
            assert_eq!(
                run.stderr,
                format!("infra.sh: namespace data-platform does not exist in {cluster}; {hint}\n"),
                "{context}"
            );
            // No step ran.
            assert!(run.results().is_empty(), "{context}: {}", run.stdout);
            assert_eq!(run.mutating(), Vec::<String>::new(), "{context}");
            // Nothing changed, the user's kubeconfig (the fake's kube-context entries)
            // included.
            assert_eq!(sandbox.resources(), before, "{context}");
        }
        let run = sandbox.infra(&["apply", "services", "bucket"]).ok();
        assert!(!run.mutating().is_empty());
    }

    // The cluster this run would create.
    let path = changed_stack(
        &scratch,
        "production",
        &[("namespace = \"ml-research\"", shared)],
        "",
    );
    let sandbox = Sandbox::new(&path);
    let before = sandbox.resources();
    let run = sandbox.infra(&["apply"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(
        run.stderr,
        "infra.sh: namespace data-platform is shared, so it must exist before infra.sh puts \
         Secrets in it, and GKE cluster ml-platform does not exist yet: run 'bash infra.sh apply \
         services cluster' first, then ask the namespace's owners to create it, or drop \
         namespace_shared from the stack file to let the bundle own it\n"
    );
    assert_eq!(run.mutating(), Vec::<String>::new());
    assert_eq!(sandbox.resources(), before);
}

/// Local stacks run kubectl against its current context: without one, preflight stops
/// before anything changes.
#[test]
fn a_local_stack_without_a_kubectl_context_fails_before_any_mutation() {
    let sandbox = Sandbox::new(&stack("local"));
    let mut state = sandbox.state();
    state["resources"]
        .as_object_mut()
        .unwrap()
        .remove("kube-context current");
    fs::write(sandbox.path("state/state.json"), state.to_string()).unwrap();
    for args in [&["plan"][..], &["apply"]] {
        let run = sandbox.infra(args);
        assert_eq!(run.code, 1, "{args:?}: {run:#?}");
        assert_eq!(
            run.stderr,
            "infra.sh: kubectl has no current context: point it at the cluster MLflow runs on \
             (kubectl config use-context NAME), or name its context in the stack file \
             ([cluster] context = \"NAME\")\n"
        );
        assert!(run.results().is_empty(), "{}", run.stdout);
        assert_eq!(run.mutating(), Vec::<String>::new());
        assert_eq!(
            sandbox.resources(),
            BTreeSet::from(["kube-context kind-mlflow".to_owned()])
        );
    }
}

/// Makes `kind-other`, a context of another cluster, kubectl's current context; that
/// cluster has the stack's namespace and Secrets of the same names, which are not the
/// stack's.
fn switch_to_another_cluster(sandbox: &Sandbox) -> Vec<String> {
    let plan = &sandbox.plan;
    sandbox.seed("kube-context kind-other", json!({"cluster": "other"}));
    sandbox.seed("kube-context current", json!({"name": "kind-other"}));
    sandbox.seed(
        &format!("k8s other:Namespace/{}", plan.namespace),
        json!({}),
    );
    let theirs: Vec<String> = plan
        .k8s_secrets
        .iter()
        .map(|secret| format!("k8s other:Secret/{}/{secret}", plan.namespace))
        .collect();
    for key in &theirs {
        sandbox.seed(key, json!({"data": ["theirs"]}));
    }
    theirs
}

/// Every kubectl call names the stack's context: after `kubectl config use-context` to
/// another cluster, `destroy` deletes the Secrets where `apply` put them, and none of the
/// other cluster's Secrets of the same names.
#[test]
fn kubectl_stays_on_the_context_apply_used() {
    let sandbox = Sandbox::new(&stack("local"));
    sandbox.infra(&["apply"]).ok();
    let plan = &sandbox.plan;
    let ours: Vec<String> = plan
        .k8s_secrets
        .iter()
        .map(|secret| format!("k8s Secret/{}/{secret}", plan.namespace))
        .collect();
    assert!(!ours.is_empty());
    let theirs = switch_to_another_cluster(&sandbox);
    let run = sandbox.infra(&["destroy", "--yes"]).ok();
    assert!(
        run.stdout
            .contains("kubectl context: kind-mlflow, where apply put this stack (the current context is kind-other)\n"),
        "{}",
        run.stdout
    );
    for call in run.calls.iter().filter(|call| call.tool == "kubectl") {
        assert!(
            call.argv[0] == "--context=kind-mlflow" || call.argv[0] == "config",
            "{}",
            call.line()
        );
    }
    let left = sandbox.resources();
    for key in &ours {
        assert!(!left.contains(key), "{key} is left");
    }
    for key in &theirs {
        assert!(left.contains(key), "{key} was deleted");
    }
}

/// `[cluster] context` names the context of a local stack: every kubectl call names it,
/// whatever the current context is.
#[test]
fn cluster_context_pins_a_local_stack() {
    let scratch = TempDir::new("infra-context");
    let pinned = changed_stack(
        &scratch,
        "local",
        &[],
        "[cluster]\ncontext = \"kind-mlflow\"",
    );
    let sandbox = Sandbox::new(&pinned);
    let theirs = switch_to_another_cluster(&sandbox);
    sandbox.infra(&["apply"]).ok();
    let plan = &sandbox.plan;
    for secret in &plan.k8s_secrets {
        sandbox.resource(&format!("k8s Secret/{}/{secret}", plan.namespace));
    }
    sandbox.infra(&["destroy", "--yes"]).ok();
    let left = sandbox.resources();
    for key in &theirs {
        assert!(left.contains(key), "{key} was deleted");
    }
    assert!(
        sandbox
            .resources_of(&["k8s"])
            .iter()
            .all(|key| key.starts_with("k8s other:") || key.starts_with("k8s Namespace/"))
    );
    // A context the kubeconfig does not have stops the preflight.
    let mut state = sandbox.state();
    state["resources"]
        .as_object_mut()
        .unwrap()
        .remove("kube-context kind-mlflow");
    fs::write(sandbox.path("state/state.json"), state.to_string()).unwrap();
    let run = sandbox.infra(&["plan"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "infra.sh: kubectl has no context kind-mlflow: point the kubeconfig at the cluster \
         MLflow runs on, or change [cluster] context in the stack file\n"
    );
}

/// A Secret of the stack's name that existed before `apply` (in a namespace others use
/// too) is adopted: reported, never replaced, and never deleted by `destroy`.
#[test]
fn a_secret_without_the_mark_is_adopted_and_kept() {
    let sandbox = Sandbox::new(&stack("local"));
    let plan = &sandbox.plan;
    let theirs = format!("k8s Secret/{}/{}", plan.namespace, plan.k8s_secrets[0]);
    sandbox.seed(&format!("k8s Namespace/{}", plan.namespace), json!({}));
    sandbox.seed(&theirs, json!({"data": ["theirs"]}));
    let run = sandbox.infra(&["apply"]).ok();
    assert!(
        run.stdout.contains(&format!(
            "    adopted: Secret {}/{} (not created by infra.sh: left as it is)\n",
            plan.namespace, plan.k8s_secrets[0]
        )),
        "{}",
        run.stdout
    );
    assert_eq!(sandbox.resource(&theirs), json!({"data": ["theirs"]}));
    // What apply created carries the mark.
    for secret in &plan.k8s_secrets[1..] {
        let created = sandbox.resource(&format!("k8s Secret/{}/{secret}", plan.namespace));
        assert_eq!(created["labels"]["mlflow-stack"], plan.stack_name.as_str());
    }
    sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
    assert_eq!(sandbox.resource(&theirs), json!({"data": ["theirs"]}));
    for secret in &plan.k8s_secrets[1..] {
        assert!(
            !sandbox
                .resources()
                .contains(&format!("k8s Secret/{}/{secret}", plan.namespace))
        );
    }
}

/// A credentials directory that is a symbolic link (here to a directory outside the work
/// tree) is refused before anything changes: no key is written through it, and its target
/// keeps its mode.
#[test]
fn a_linked_credentials_directory_is_refused() {
    let sandbox = Sandbox::new(&stack("local"));
    let outside = sandbox.path("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::set_permissions(&outside, fs::Permissions::from_mode(0o755)).unwrap();
    let link = sandbox.path(".mlflow_credentials");
    symlink(&outside, &link).unwrap();
    let run = sandbox.infra(&["apply"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(
        run.stderr,
        format!(
            "infra.sh: {} is a symbolic link: infra.sh writes key files only into a directory of \
             their own, never through a link; replace the link with a directory, or set \
             credentials.dir to another path\n",
            link.display()
        )
    );
    assert_eq!(run.mutating(), Vec::<String>::new());
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
    assert_eq!(
        fs::metadata(&outside).unwrap().permissions().mode() & 0o777,
        0o755
    );
}

/// A key file that is a symbolic link is no key: refused before anything changes, and its
/// target never reaches a Kubernetes Secret.
#[test]
fn a_linked_key_file_is_refused() {
    let sandbox = Sandbox::new(&stack("local"));
    let dir = sandbox.path(".mlflow_credentials");
    fs::create_dir_all(&dir).unwrap();
    fs::write(sandbox.path("not-a-key.txt"), "someone else's file").unwrap();
    let key = dir.join("mlflow-server.json");
    symlink(sandbox.path("not-a-key.txt"), &key).unwrap();
    for args in [&["plan"][..], &["apply"], &["apply", "secrets"]] {
        let run = sandbox.infra(args);
        assert_eq!(run.code, 1, "{args:?}: {}", run.stdout);
        assert_eq!(
            run.stderr,
            format!(
                "infra.sh: {} is a symbolic link, not a key file infra.sh wrote: remove it (apply \
                 writes a new key)\n",
                key.display()
            )
        );
        assert_eq!(run.mutating(), Vec::<String>::new(), "{args:?}");
    }
}

/// The keys `apply` created are deleted from IAM by `destroy`, also those of a service
/// account that existed before (it stays, and a key left on it would stay valid).
#[test]
fn destroy_deletes_the_keys_apply_created() {
    let sandbox = Sandbox::new(&stack("local"));
    let plan = &sandbox.plan;
    sandbox.seed(
        &format!("service-account {}", plan.server_email),
        json!({"email": plan.server_email, "displayName": "made by hand"}),
    );
    sandbox.infra(&["apply"]).ok();
    let keys = sandbox.resources_of(&["service-account-key"]);
    assert_eq!(keys.len(), 2, "{keys:?}");
    let run = sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
    assert!(
        run.calls
            .iter()
            .any(|call| call.starts_with("gcloud iam service-accounts keys delete")),
        "{:#?}",
        run.calls
    );
    assert_eq!(
        sandbox.resources_of(&["service-account-key"]),
        Vec::<String>::new()
    );
    // The adopted account stays.
    sandbox.resource(&format!("service-account {}", plan.server_email));
}

/// A bucket created by a run that stopped before its labels is the stack's on the next run
/// (the record says so before the bucket exists): marked then, and deleted by `destroy`.
#[test]
fn a_bucket_created_but_not_yet_marked_is_the_stacks() {
    let sandbox = Sandbox::new(&stack("local"));
    let plan = &sandbox.plan;
    let failed = sandbox.infra_with(&["apply"], &[("FAKE_FAIL", "storage buckets update")]);
    assert_eq!(failed.code, 1);
    let bucket = format!("bucket {}", plan.bucket);
    assert!(sandbox.resource(&bucket).get("labels").is_none());
    let run = sandbox.infra(&["apply"]).ok();
    assert_eq!(run.result("bucket"), "updated");
    assert_eq!(
        sandbox.resource(&bucket)["labels"]["mlflow-stack"],
        plan.stack_name.as_str()
    );
    sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
    assert!(!sandbox.resources().contains(&bucket));
}

/// An address is created with the stack's mark as its description: a run that stopped
/// before its labels leaves an address the next run marks, not one it adopts.
#[test]
fn an_address_created_but_not_yet_labelled_is_the_stacks() {
    let sandbox = Sandbox::new(&repo().join("tests/fixtures/good/gke-given-image-lb.toml"));
    let plan = &sandbox.plan;
    let failed = sandbox.infra_with(&["apply"], &[("FAKE_FAIL", "compute addresses update")]);
    assert_eq!(failed.code, 1);
    let address = format!(
        "address {}/{}",
        plan.region,
        plan.static_ip.as_deref().unwrap()
    );
    assert!(sandbox.resource(&address).get("labels").is_none());
    let run = sandbox.infra(&["apply"]).ok();
    assert_eq!(run.result("static-ip"), "updated");
    assert_eq!(
        sandbox.resource(&address)["labels"]["mlflow-stack"],
        plan.stack_name.as_str()
    );
    sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
    assert!(!sandbox.resources().contains(&address));
}

/// Whether LOGIN can use the tables of DATABASE in the fake: it owns them, or it is a
/// member of their owner (what `--database-roles` makes it; the e2e suite's `login-switch`
/// scenario proves on a real PostgreSQL that a member reads, writes and migrates them).
fn can_use_tables(sandbox: &Sandbox, login: &str) -> bool {
    let plan = &sandbox.plan;
    let database = sandbox.resource(&format!("sql-database {}/{}", plan.instance, plan.database));
    let owner = database["tables_owned_by"].as_str().unwrap();
    let user = sandbox.resource(&format!("sql-user {}/{login}", plan.instance));
    owner == login
        || user["databaseRoles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|role| role == owner)
}

fn updates(run: &Run) -> Vec<&str> {
    run.stdout
        .lines()
        .filter(|line| line.starts_with("    update ") || line.starts_with("    member of "))
        .collect()
}

/// `database.auth` from password to iam and back: the instance flag, the IAM user (a member
/// of the password user, who owns MLflow's tables), the instanceUser binding granted and,
/// back on password, revoked; the password user and its secret stay until `destroy`.
#[test]
fn password_to_iam_and_back() {
    let scratch = TempDir::new("infra-login");
    let mut sandbox = Sandbox::new(&stack("example"));
    sandbox.infra(&["apply"]).ok();
    let iam_user = sandbox.plan.iam_db_user.clone();
    let server = format!("serviceAccount:{}", sandbox.plan.server_email);
    let instance_user = [
        "project acme-ml-prod".to_owned(),
        "roles/cloudsql.instanceUser".to_owned(),
        server,
        sandbox.plan.sql_condition_title.clone(),
    ];

    let iam = changed_stack(&scratch, "example", &[], "[database]\nauth = \"iam\"");
    sandbox.rebuild(&iam);
    let run = sandbox.infra(&["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert_eq!(
        updates(&run),
        [
            "    update cloudsql.iam_authentication: (none) → on",
            "    member of mlflow, the login of database.auth = \"password\", which owns the tables",
        ]
    );
    assert!(run.stdout.contains(&format!(
        "gcloud sql users create {iam_user} --instance=mlflow-db --type=cloud_iam_service_account \
         --database-roles=cloudsqlsuperuser\\,mlflow\n"
    )));
    assert_eq!(run.mutating(), Vec::<String>::new());
    sandbox.infra(&["apply"]).ok();
    assert!(can_use_tables(&sandbox, &iam_user));
    assert!(sandbox.bindings().contains(&instance_user));
    // The password login and its secret stay.
    sandbox.resource("sql-user mlflow-db/mlflow");
    sandbox.resource("secret mlflow-db-password");
    let run = sandbox.infra(&["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 0, "{}", run.stdout);

    // Back: the password user exists and owns the tables; the binding goes.
    sandbox.rebuild(&stack("example"));
    let run = sandbox.infra(&["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert_eq!(updates(&run), Vec::<&str>::new());
    assert!(
        run.stdout.contains(&format!(
            "    revoke roles/cloudsql.instanceUser for serviceAccount:{} on project:acme-ml-prod: \
             the stack no longer grants it\n",
            sandbox.plan.server_email
        )),
        "{}",
        run.stdout
    );
    assert!(run.results().contains(&("iam".into(), "update".into())));
    assert!(run.results().contains(&("db-user".into(), "ok".into())));
    let run = sandbox.infra(&["apply"]).ok();
    let mutating = run.mutating();
    assert_eq!(
        mutating[0],
        format!(
            "gcloud projects remove-iam-policy-binding acme-ml-prod --member=serviceAccount:{} \
             --role=roles/cloudsql.instanceUser --condition={} --quiet",
            sandbox.plan.server_email, sandbox.plan.sql_condition
        )
    );
    // The record forgets the binding it revoked.
    assert_eq!(mutating.len(), 2, "{mutating:#?}");
    assert!(
        mutating[1]
            .starts_with("gcloud secrets update mlflow-infra-record --remove-annotations=binding-"),
        "{mutating:#?}"
    );
    assert!(!sandbox.bindings().contains(&instance_user));
    assert!(can_use_tables(&sandbox, "mlflow"));
    let run = sandbox.infra(&["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 0, "{}", run.stdout);

    // Only destroy removes both logins, and the password.
    let run = sandbox.infra(&["destroy", "--yes"]).ok();
    assert!(
        sandbox
            .resources()
            .contains(&format!("sql-user mlflow-db/{iam_user}"))
    );
    assert!(
        run.results()
            .contains(&("db-user".into(), "kept (--delete-data removes it)".into()))
    );
    sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
    assert_eq!(
        sandbox.resources_of(&["sql-user", "secret"]),
        Vec::<String>::new()
    );
}

/// A stack that began on iam and moves to password: the new password user is a member of
/// the IAM user, who owns the tables; `destroy --delete-data` removes both and the password.
#[test]
fn iam_to_password() {
    let scratch = TempDir::new("infra-login-iam");
    let iam = changed_stack(&scratch, "example", &[], "[database]\nauth = \"iam\"");
    let mut sandbox = Sandbox::new(&iam);
    sandbox.infra(&["apply"]).ok();
    let iam_user = sandbox.plan.iam_db_user.clone();
    sandbox.rebuild(&stack("example"));
    let run = sandbox.infra(&["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stdout.contains(&format!(
            "    member of {iam_user}, the login of database.auth = \"iam\", which owns the tables\n"
        )),
        "{}",
        run.stdout
    );
    let run = sandbox.infra(&["apply"]).ok();
    assert!(
        run.mutating().iter().any(|call| call.starts_with(&format!(
            "gcloud sql users create mlflow --instance=mlflow-db --database-roles=cloudsqlsuperuser,{iam_user} --flags-file="
        ))),
        "{:#?}",
        run.mutating()
    );
    assert!(can_use_tables(&sandbox, "mlflow"));
    assert_eq!(sandbox.infra(&["plan", "--detailed-exitcode"]).code, 0);

    // Back on iam, then destroy: no login, no password left.
    sandbox.rebuild(&iam);
    assert_eq!(sandbox.infra(&["plan", "--detailed-exitcode"]).code, 2);
    sandbox.infra(&["apply"]).ok();
    assert_eq!(sandbox.infra(&["plan", "--detailed-exitcode"]).code, 0);
    sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
    assert_eq!(
        sandbox.resources_of(&["sql-user", "secret"]),
        Vec::<String>::new()
    );
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
    let image = format!("image {}", sandbox.plan.image);
    sandbox.seed(&image, json!({}));
    let adopted = format!(
        "    adopted: image {} (built elsewhere: its image/ files are unknown)",
        sandbox.plan.image
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

/// The mark removed by hand from resources `apply` created (the record says so): `plan`
/// shows it as an update, `apply` puts it back, and they stay the stack's for `destroy`.
#[test]
fn a_mark_removed_by_hand_is_put_back() {
    let sandbox = Sandbox::new(&stack("production"));
    sandbox.infra(&["apply"]).ok();
    let plan = &sandbox.plan;
    let (bucket, instance, cluster) = (
        format!("bucket {}", plan.bucket),
        format!("sql-instance {}", plan.instance),
        sandbox.cluster_key(),
    );
    unmark(&sandbox, &[&bucket, &instance, &cluster]);

    let run = sandbox.infra(&["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 2, "{run:#?}");
    let labels = format!(
        "managed-by=mlflow-stack,mlflow-stack=research-mlflow,mlflow-stack-id={}",
        plan.stack_id
    );
    let update = format!("    update labels: team=research → {labels}");
    for step in ["bucket", "sql-instance", "cluster"] {
        let (_, calls) = run
            .calls_by_step()
            .into_iter()
            .find(|(s, _)| s == step)
            .unwrap();
        assert!(!calls.is_empty());
        assert!(
            run.results().contains(&(step.into(), "update".into())),
            "{step}\n{}",
            run.stdout
        );
    }
    assert_eq!(run.stdout.matches(&update).count(), 3, "{}", run.stdout);
    let run = sandbox.infra(&["apply"]).ok();
    assert_eq!(
        run.mutating(),
        [
            format!(
                "gcloud storage buckets update gs://acme-ml-prod-mlflow-research \
                 --update-labels={labels}"
            ),
            format!(
                "gcloud beta sql instances patch research-mlflow-db --update-labels={labels} --quiet"
            ),
            format!(
                "gcloud container clusters update ml-platform --location=europe-west4 \
                 --update-labels={labels}"
            ),
        ]
    );
    assert_eq!(sandbox.resource(&bucket)["labels"]["team"], "research");
    assert_eq!(sandbox.infra(&["plan", "--detailed-exitcode"]).code, 0);
}

/// Removes this stack's mark by hand from the bucket, instance or cluster KEYS: their labels
/// become `team=research`.
fn unmark(sandbox: &Sandbox, keys: &[&str]) {
    let mut state = sandbox.state();
    for key in keys {
        let labels = match key.split_once(' ').unwrap().0 {
            "bucket" => "/labels",
            "sql-instance" => "/settings/userLabels",
            "cluster" => "/resourceLabels",
            kind => unreachable!("{kind} takes no labels here"),
        };
        let found = state["resources"][*key].pointer_mut(labels).unwrap();
        *found = json!({"team": "research"});
    }
    fs::write(sandbox.path("state/state.json"), state.to_string()).unwrap();
}

/// The keys of the record's labels.
fn record_entries(sandbox: &Sandbox) -> Vec<String> {
    let record = sandbox.resource(&format!("secret {}", sandbox.plan.record_secret));
    record["labels"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

/// `(step, result, calls)` of each step of a `destroy --plan` listing, with the result
/// `destroy` would then report (`delete` → `deleted`) and the number of gcloud and kubectl
/// commands listed (`kube` is kubectl with the cluster's context).
fn listed_steps(run: &Run) -> Vec<(String, String, usize)> {
    let mut steps: Vec<(String, String, usize)> = Vec::new();
    for line in run.stdout.lines() {
        let command = line.starts_with("    gcloud ")
            || (line.starts_with("    kubectl ") && !line.starts_with("    kubectl context: "));
        if command {
            steps.last_mut().unwrap().2 += 1;
        } else if let Some((_, rest)) = line.strip_prefix('[').and_then(|l| l.split_once("] ")) {
            let (step, result) = rest.split_once(": ").unwrap();
            let result = if result == "delete" {
                "deleted"
            } else {
                result
            };
            steps.push((step.to_owned(), result.to_owned(), 0));
        }
    }
    steps
}

/// `(step, result, calls)` of each step of the last pass of a run: the mutating gcloud and
/// kubectl calls it made.
fn done_steps(run: &Run) -> Vec<(String, String, usize)> {
    let results = run.results();
    let by_step = run.calls_by_step();
    let last = &by_step[by_step.len() - results.len()..];
    results
        .into_iter()
        .zip(last)
        .map(|((step, result), (same, calls))| {
            assert_eq!(&step, same);
            let mutating = calls.iter().filter(|call| call.mutating).count();
            (step, result, mutating)
        })
        .collect()
}

/// `destroy --plan` lists exactly what `destroy` then does: the same result for every step
/// and as many commands as it runs, with each flag, after `apply` and after a partial
/// destroy. While listing nothing changes, so a step must decide from what the steps before
/// it would have removed, not from the project as it still is.
#[test]
fn destroy_plan_lists_what_destroy_does() {
    for path in stack_files("stacks") {
        let sandbox = Sandbox::new(&path);
        sandbox.infra(&["apply"]).ok();
        let mut passes = vec![vec![], vec!["--delete-data"]];
        if sandbox.plan.create_cluster {
            passes.push(vec!["--delete-data", "--delete-cluster"]);
        }
        for flags in passes {
            let context = format!("{} {flags:?}", path.display());
            let listed = sandbox
                .infra(&[&["destroy", "--plan"][..], &flags].concat())
                .ok();
            let done = sandbox
                .infra(&[&["destroy", "--yes"][..], &flags].concat())
                .ok();
            assert_eq!(
                done_steps(&done),
                listed_steps(&listed),
                "{context}\n{}\n{}",
                listed.stdout,
                done.stdout
            );
        }
    }
}

/// The record vouches for what takes no mark and for resources whose mark was removed by
/// hand. `destroy` removes it last, and only once nothing it names remains: a destroy that
/// keeps the cluster (no `--delete-cluster`) or the instance (it holds other databases)
/// keeps the record for them, and the next destroy still knows they are the stack's.
#[test]
fn the_record_outlives_what_it_vouches_for() {
    let sandbox = Sandbox::new(&stack("production"));
    sandbox.infra(&["apply"]).ok();
    let plan = &sandbox.plan;
    let record = format!("secret {}", plan.record_secret);
    let (bucket, instance, cluster) = (
        format!("bucket {}", plan.bucket),
        format!("sql-instance {}", plan.instance),
        sandbox.cluster_key(),
    );
    unmark(&sandbox, &[&bucket, &instance, &cluster]);
    let run = sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
    assert_eq!(run.result("bucket"), "deleted", "{}", run.stdout);
    assert_eq!(run.result("sql-instance"), "deleted", "{}", run.stdout);
    assert_eq!(run.result("cluster"), "kept (--delete-cluster removes it)");
    assert_eq!(run.result("record"), "kept (it names what stays: cluster)");
    assert_eq!(run.results().last().unwrap().0, "record");
    let mut kept = sandbox.always_kept();
    kept.extend(sandbox.owned_cluster());
    assert_eq!(sandbox.resources(), kept, "{}", run.stdout);
    assert!(kept.contains(&record));
    // It names only what stays: a bucket made later under the same name by someone else
    // is not the stack's.
    assert_eq!(
        record_entries(&sandbox),
        ["cluster", "managed-by", "mlflow-stack", "mlflow-stack-id"]
    );
    sandbox.seed(&bucket, json!({"labels": {"team": "research"}}));

    let run = sandbox
        .infra(&["destroy", "--yes", "--delete-data", "--delete-cluster"])
        .ok();
    assert_eq!(run.result("cluster"), "deleted", "{}", run.stdout);
    assert_eq!(run.result("bucket"), "kept (not created by infra.sh)");
    assert_eq!(run.result("record"), "deleted", "{}", run.stdout);
    let mut kept = sandbox.always_kept();
    kept.insert(bucket);
    assert_eq!(sandbox.resources(), kept, "{}", run.stdout);

    // An instance kept for the databases of others, whose mark was removed by hand.
    let sandbox = Sandbox::new(&repo().join("tests/fixtures/good/custom-database.toml"));
    sandbox.infra(&["apply"]).ok();
    let instance = format!("sql-instance {}", sandbox.plan.instance);
    let record = format!("secret {}", sandbox.plan.record_secret);
    unmark(&sandbox, &[&instance]);
    sandbox.seed("sql-database shared-postgres/billing", json!({}));
    let run = sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
    assert_eq!(
        run.result("sql-instance"),
        "kept (it holds other databases: billing)"
    );
    assert_eq!(
        run.result("record"),
        "kept (it names what stays: sql-instance)"
    );
    assert_eq!(
        record_entries(&sandbox),
        [
            "managed-by",
            "mlflow-stack",
            "mlflow-stack-id",
            "sql-instance"
        ]
    );
    let mut state = sandbox.state();
    state["resources"]
        .as_object_mut()
        .unwrap()
        .remove("sql-database shared-postgres/billing");
    fs::write(sandbox.path("state/state.json"), state.to_string()).unwrap();
    let run = sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
    assert_eq!(run.result("sql-instance"), "deleted", "{}", run.stdout);
    assert_eq!(run.result("record"), "deleted", "{}", run.stdout);
    assert!(!sandbox.resources().contains(&instance));
    assert!(!sandbox.resources().contains(&record));
}

/// An internal gateway's Google Cloud side is regional: an internal address in the
/// cluster's subnet that its HTTP and HTTPS listeners share, and a DNS authorization and a
/// certificate in the cluster's region, with no certificate map (global only); `apply`
/// prints the records to add. What existed before is adopted and survives destroy.
#[test]
fn an_internal_gateway_is_regional_and_adopts_what_it_did_not_create() {
    let sandbox = Sandbox::new(&stack("team-internal"));
    let plan = &sandbox.plan;
    let gateway = plan.gateway.as_ref().unwrap();
    let region = gateway.region.as_deref().unwrap();
    assert_eq!(region, plan.region);
    let run = sandbox.infra(&["apply"]).ok();
    let mark = json!({"managed-by": "mlflow-stack", "mlflow-stack": plan.stack_name,
                      "mlflow-stack-id": plan.stack_id});
    let address = sandbox.resource(&format!("address {region}/{}", gateway.address));
    assert_eq!(address["addressType"], "INTERNAL");
    assert_eq!(address["subnetwork"], "default", "the cluster's subnet");
    assert_eq!(address["purpose"], "SHARED_LOADBALANCER_VIP");
    assert_eq!(address["labels"], mark);
    let authorization = format!("dns-authorization {region}/{}", gateway.dns_authorization);
    let certificate = format!("certificate {region}/{}", gateway.certificate);
    assert_eq!(sandbox.resource(&authorization)["labels"], mark);
    assert_eq!(sandbox.resource(&certificate)["labels"], mark);
    assert!(
        sandbox
            .resources()
            .iter()
            .all(|key| !key.starts_with("certificate-map")),
        "{:?}",
        sandbox.resources()
    );
    assert!(
        run.stdout
            .contains(&format!("{} A 10.132.0.50", gateway.host)),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(&format!("_acme-challenge.{}. CNAME", gateway.host)),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!(
            "certificate {}: PROVISIONING",
            gateway.certificate
        )),
        "{}",
        run.stdout
    );
    let run = sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
    for key in [&authorization, &certificate] {
        assert!(!sandbox.resources().contains(key), "{key}\n{}", run.stdout);
    }

    // Made by hand before: adopted, left as it is, kept by destroy.
    let sandbox = Sandbox::new(&stack("team-internal"));
    let address = format!("address {region}/{}", gateway.address);
    sandbox.seed(
        &address,
        json!({"name": gateway.address, "address": "10.132.0.7", "addressType": "INTERNAL"}),
    );
    sandbox.seed(
        &authorization,
        json!({"domain": gateway.host, "labels": {"team": "net"},
               "dnsResourceRecord": {"name": format!("_acme-challenge.{}.", gateway.host),
                                     "type": "CNAME", "data": "x.authorize.certificatemanager.goog."}}),
    );
    sandbox.seed(
        &certificate,
        json!({"domain": gateway.host, "dnsAuthorization": authorization,
               "labels": {"team": "net"}, "managed": {"state": "ACTIVE"}}),
    );
    let before = sandbox.resources_at(&[&address, &authorization, &certificate]);
    let run = sandbox.infra(&["apply"]).ok();
    let results = run.results();
    for step in ["gateway-address", "certificate"] {
        let adopted = (step.to_owned(), "adopted".to_owned());
        assert!(results.contains(&adopted), "{step}: {results:?}");
    }
    assert!(
        run.stdout
            .contains(&format!("{} A 10.132.0.7", gateway.host)),
        "{}",
        run.stdout
    );
    let run = sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
    let after = sandbox.resources_at(&[&address, &authorization, &certificate]);
    assert_eq!(after, before, "{}", run.stdout);
    let results = run.results();
    for step in ["gateway-address", "certificate"] {
        assert!(
            results.contains(&(step.to_owned(), "kept (not created by infra.sh)".to_owned())),
            "{step}: {results:?}"
        );
    }
}

/// The tools of a pipeline, and calls sent to the background, run at the same time: the
/// fakes' server runs them one after the other, so that no change is lost.
#[test]
fn concurrent_calls_change_the_state_one_after_the_other() {
    let sandbox = Sandbox::new(&stack("local"));
    let script = "for i in {1..24}; do \
        gcloud services enable --project=p s$i.googleapis.com & done; wait";
    let output = sandbox.command(&["-c", script], &[], &[]).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let services = sandbox.resources_of(&["service"]);
    assert_eq!(services.len(), 24, "{services:#?}");
    assert_eq!(sandbox.calls().len(), 24);
}

/// Like the real tools, a fake reads stdin only when an argument names it (`-`,
/// `/dev/stdin`): a call inside a `while read` loop leaves the loop's input alone, and a
/// call that names stdin gets all of it.
#[test]
fn a_fake_reads_stdin_only_when_an_argument_names_it() {
    let sandbox = Sandbox::new(&stack("local"));
    let script = "printf '%s\\n' a b c | while read -r x; do \
        gcloud services enable --project=p s$x.googleapis.com; done; \
        printf 'line one\\nline two' | kubectl create secret generic s \
        --from-file=k=/dev/stdin --dry-run=client -o yaml";
    let output = sandbox.command(&["-c", script], &[], &[]).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        sandbox.resources_of(&["service"]),
        [
            "service sa.googleapis.com",
            "service sb.googleapis.com",
            "service sc.googleapis.com"
        ]
    );
    let yaml = String::from_utf8(output.stdout).unwrap();
    assert!(yaml.contains("  k: bGluZSBvbmUKbGluZSB0d28=\n"), "{yaml}");
}

/// A fakes' server never outlives its test: it exits by itself when the test's end of its
/// stdin closes, as it does when the test process dies.
#[test]
fn the_fake_server_exits_when_its_test_is_gone() {
    let dir = TempDir::new("infra-server");
    let mut server = FakeServer::start(dir.path(), dir.path());
    drop(server.0.stdin.take());
    let mut waited = 0;
    while server.0.try_wait().unwrap().is_none() {
        assert!(waited < 600, "the server is still running 60 s later");
        std::thread::sleep(std::time::Duration::from_millis(100));
        waited += 1;
    }
}
