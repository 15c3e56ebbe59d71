//! A sandbox: one bundle in a temporary directory with its own fake project and cluster,
//! where `infra.sh` runs as a user would run it, and what the project holds, read and
//! changed behind the script's back.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use mlflow_stack::plan::Plan;
use serde_json::{Value, json};

use super::{
    Call, FAKES, FakeServer, Run, SYSTEM_TOOLS, autopilot_cluster, elapsed_at, fake_client,
    kms_key, oauth_secret, plan_of, python, standard_cluster, system_tool, write_bundle,
};
use crate::support::{TempDir, repo};

/// The project of the user's own gcloud configuration, which the script must not touch.
pub const OTHER_PROJECT: &str = "someone-elses-project";

/// A bundle written into a temporary directory, with the fakes and an empty project.
pub struct Sandbox {
    /// Before `dir`: the server stops before its directory goes.
    _fakes: FakeServer,
    /// Holds `bundle/`, the fakes' `state/`, `bin/` (the whole `PATH`), `work/` (where
    /// `infra.sh` runs), an empty `home/` and `tmp/`.
    pub dir: TempDir,
    /// The plan of the stack file the bundle was built from.
    pub plan: Plan,
    /// That stack file.
    pub stack: PathBuf,
}

impl Sandbox {
    /// The bundle of the stack file STACK, with every tool and a project holding only the
    /// prerequisites.
    pub fn new(stack: &Path) -> Self {
        Self::without(stack, &[])
    }

    /// A sandbox whose `PATH` lacks the `missing` tools.
    pub fn without(stack: &Path, missing: &[&str]) -> Self {
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
            stack: stack.to_owned(),
        };
        for (key, attributes) in sandbox.prerequisites() {
            sandbox.seed(&key, attributes);
        }
        sandbox
    }

    /// SUB (`bundle/infra.sh`, `state/state.json`, …) in the sandbox.
    pub fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    /// The bundle of a changed stack file in place of the old one; the project stays.
    pub fn rebuild(&mut self, stack: &Path) {
        fs::remove_dir_all(self.path("bundle")).unwrap();
        write_bundle(stack, &self.path("bundle"));
        self.plan = plan_of(stack);
        stack.clone_into(&mut self.stack);
    }

    /// What the script expects to find rather than create: a cluster it does not create
    /// (gke), a current kubectl context (local).
    pub fn prerequisites(&self) -> Vec<(String, Value)> {
        let plan = &self.plan;
        let mut prerequisites = if plan.cluster.local() {
            // The kubeconfig's current context, and the context itself.
            vec![
                (
                    "kube-context current".into(),
                    json!({"name": "kind-mlflow"}),
                ),
                ("kube-context kind-mlflow".into(), json!({})),
            ]
        } else if plan.cluster.create_cluster {
            vec![]
        } else {
            // A cluster: its API is on.
            vec![
                (
                    self.cluster_key(),
                    if plan.cluster.zonal_cluster {
                        standard_cluster(&plan.names.project)
                    } else {
                        autopilot_cluster(&plan.names.project)
                    },
                ),
                ("service container.googleapis.com".into(), json!({})),
            ]
        };
        // A private database's network has its private services access connection, which
        // its owner made with the Service Networking API, unless the stack makes it.
        if plan.network.private_database && plan.network.peering.is_none() {
            prerequisites.push(("vpc-peering default".into(), json!({})));
            prerequisites.push(("service servicenetworking.googleapis.com".into(), json!({})));
        }
        // A shared namespace exists already (`default` in every cluster, as the fake knows).
        if !plan.names.owns_namespace && plan.names.namespace != "default" {
            prerequisites.push((format!("k8s Namespace/{}", plan.names.namespace), json!({})));
        }
        // IAP's OAuth client secret, which an administrator keeps in Secret Manager.
        if let Some(iap) = &plan.auth.iap {
            prerequisites.extend(oauth_secret(iap));
        }
        // The customer-managed key belongs to its owners.
        if let Some(encryption) = &plan.encryption {
            prerequisites.push((
                format!("kms-key {}", encryption.kms_key),
                kms_key(&encryption.kms_key),
            ));
        }
        prerequisites
    }

    /// The fake's key of the stack's GKE cluster: `cluster LOCATION/NAME`.
    pub fn cluster_key(&self) -> String {
        let cluster = self.plan.cluster.cluster.as_deref().unwrap();
        let location = self.plan.cluster.cluster_location.as_deref().unwrap();
        format!("cluster {location}/{cluster}")
    }

    /// The fakes' state: `{"resources": {"KIND NAME": {…}}, "bindings": [[…]]}`.
    pub fn state(&self) -> Value {
        fs::read_to_string(self.path("state/state.json")).map_or_else(
            |_| json!({"resources": {}, "bindings": []}),
            |text| serde_json::from_str(&text).unwrap(),
        )
    }

    /// Replaces the fakes' state with STATE, as if the project had been changed by hand.
    pub fn save_state(&self, state: &Value) {
        fs::write(
            self.path("state/state.json"),
            serde_json::to_string(state).unwrap(),
        )
        .unwrap();
    }

    /// The resource KEY with ATTRIBUTES in the fake project, made or replaced by hand.
    pub fn seed(&self, key: &str, attributes: Value) {
        let mut state = self.state();
        state["resources"][key] = attributes;
        self.save_state(&state);
    }

    /// The fake project without the resource KEY, as if deleted by hand.
    pub fn unseed(&self, key: &str) {
        let mut state = self.state();
        state["resources"].as_object_mut().unwrap().remove(key);
        self.save_state(&state);
    }

    /// IAM bindings `[resource, role, member, condition title]` added to the fake project
    /// by hand.
    pub fn seed_bindings(&self, bindings: &[[&str; 4]]) {
        let mut state = self.state();
        for binding in bindings {
            state["bindings"]
                .as_array_mut()
                .unwrap()
                .push(json!(binding));
        }
        self.save_state(&state);
    }

    /// The keys of every resource in the fake project.
    pub fn resources(&self) -> BTreeSet<String> {
        let state = self.state();
        state["resources"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    }

    /// The keys of the resources of these KINDS (`image`, `sql-user`, …), in order.
    pub fn resources_of(&self, kinds: &[&str]) -> Vec<String> {
        self.resources()
            .into_iter()
            .filter(|key| {
                key.split_once(' ')
                    .is_some_and(|(kind, _)| kinds.contains(&kind))
            })
            .collect()
    }

    /// The attributes of the resource KEY, which must exist.
    pub fn resource(&self, key: &str) -> Value {
        let state = self.state();
        let found = &state["resources"][key];
        assert!(!found.is_null(), "no {key} in {:#?}", self.resources());
        found.clone()
    }

    /// The attributes of each resource at KEYS, in order.
    pub fn resources_at(&self, keys: &[&String]) -> Vec<Value> {
        keys.iter().map(|key| self.resource(key)).collect()
    }

    /// `[resource, role, member, condition title]` of every IAM binding.
    pub fn bindings(&self) -> BTreeSet<[String; 4]> {
        let state = self.state();
        state["bindings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| [0, 1, 2, 3].map(|i| b[i].as_str().unwrap().to_owned()))
            .collect()
    }

    /// Every call the fakes recorded in this sandbox, in order.
    pub fn calls(&self) -> Vec<Call> {
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

    /// `bash infra.sh ARGS`, run from `work/` with stdin not a terminal.
    pub fn infra(&self, args: &[&str]) -> Run {
        self.infra_with(args, &[])
    }

    /// `bash infra.sh ARGS` with ENV added to the sandbox's environment (`FAKE_FAIL`, …).
    pub fn infra_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
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
            command: self.described(args),
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
    pub fn check_targets(&self, calls: &[Call]) {
        for call in calls {
            assert_ne!(call.tool, "gsutil", "{}", call.line());
            if call.tool == "gcloud" {
                assert_eq!(
                    call.project.as_deref(),
                    Some(self.plan.names.project.as_str()),
                    "{}",
                    call.line()
                );
            }
        }
    }

    /// `infra.sh ARGS` on a pseudo-terminal that answers the confirmation prompt.
    pub fn infra_on_terminal(&self, args: &[&str], answer: &str) -> Run {
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
            command: self.described(args),
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

    /// `infra.sh ARGS (STACK FILE)`, for a run's messages.
    fn described(&self, args: &[&str]) -> String {
        format!("infra.sh {} ({})", args.join(" "), self.stack.display())
    }

    /// The environment of every command the sandbox runs, with EXTRA added: only the
    /// sandbox's `PATH`, an empty `HOME`, and another project as gcloud's default.
    pub fn env(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
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

    /// `bash SCRIPT ARGS` in `work/` with the sandbox's environment and ENV, stdin not a
    /// terminal, stderr captured: for runs the other methods do not cover (`bash -x`, a
    /// script of the test's own).
    pub fn command(&self, script: &[&str], args: &[&str], env: &[(&str, &str)]) -> Command {
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
    pub fn normalized(&self, transcript: &str) -> String {
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

    /// The number of the fake project (`gcloud projects describe`), which names its
    /// Compute Engine default service account.
    pub fn project_number(&self) -> String {
        let project = &self.plan.names.project;
        let output = Command::new(self.path("bin/gcloud"))
            .args(["projects", "describe", project])
            .arg(format!("--project={project}"))
            .arg("--format=value(projectNumber)")
            .current_dir(self.path("work"))
            .env_clear()
            .envs(self.env(&[]))
            .env_remove("FAKE_TRANSCRIPT")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout)
            .unwrap()
            .trim_end()
            .to_owned()
    }
}

/// The keys of the record's labels.
pub fn record_entries(sandbox: &Sandbox) -> Vec<String> {
    let record = sandbox.resource(&format!("secret {}", sandbox.plan.names.record_secret));
    record["labels"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}
