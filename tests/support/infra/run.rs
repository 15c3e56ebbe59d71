//! One run of `infra.sh`: its exit status, output and the calls it made; what tests read
//! from it, and the assertions they share.

/// One call a fake recorded.
#[derive(Debug)]
pub struct Call {
    /// `gcloud`, `kubectl`, …
    pub tool: String,
    pub argv: Vec<String>,
    /// What gcloud would use: `--project`, else `CLOUDSDK_CORE_PROJECT`.
    pub project: Option<String>,
    /// Whether the call changed (or, refused, would have changed) the project or cluster.
    pub mutating: bool,
    /// What the call read on stdin, for `kubectl apply -f -`: `stdin: KIND/NAMESPACE/NAME`.
    pub note: String,
}

impl Call {
    /// The command line: the tool and its arguments, joined by spaces.
    pub fn line(&self) -> String {
        format!("{} {}", self.tool, self.argv.join(" "))
    }

    /// Whether the command line starts with COMMAND (`gcloud builds submit`).
    pub fn starts_with(&self, command: &str) -> bool {
        self.line().starts_with(command)
    }
}

/// One run of `infra.sh`.
#[derive(Debug)]
pub struct Run {
    /// `infra.sh ARGS` (STACK FILE): what ran, for the messages of failed assertions.
    pub command: String,
    /// The exit status.
    pub code: i32,
    /// The script's stdout.
    pub stdout: String,
    pub stderr: String,
    /// The calls interleaved with the script's stdout, one `$ COMMAND` line per call.
    pub transcript: String,
    /// The calls the fakes recorded during the run, in order.
    pub calls: Vec<Call>,
}

impl Run {
    /// `(step, result)` of every `[i/n] step: result (elapsed)` line (`[i/n] step: result`
    /// when only looking) of the last pass over the steps: `destroy` lists what it deletes
    /// in a first pass.
    pub fn results(&self) -> Vec<(String, String)> {
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
    pub fn result(&self, step: &str) -> String {
        self.results()
            .into_iter()
            .find(|(s, _)| s == step)
            .unwrap_or_else(|| panic!("no {step} in {}", self.stdout))
            .1
    }

    /// The calls of each step, from the transcript: a step's calls come before its
    /// `[i/n] step: result` line.
    pub fn calls_by_step(&self) -> Vec<(String, Vec<&Call>)> {
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

    /// The command lines of the calls that changed something.
    pub fn mutating(&self) -> Vec<String> {
        self.calls
            .iter()
            .filter(|call| call.mutating)
            .map(Call::line)
            .collect()
    }

    /// Asserts that the run made no mutating call, whatever its exit code.
    #[track_caller]
    pub fn changed_nothing(&self) -> &Self {
        assert_eq!(
            self.mutating(),
            Vec::<String>::new(),
            "{}\n{}",
            self.command,
            self.transcript
        );
        self
    }

    /// The run, asserted to have succeeded (exit 0).
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "{self:#?}");
        self
    }

    /// Asserts that the run failed (exit 1) on the call the fakes were told to fail
    /// (`FAKE_FAIL`), with the fake's message on stderr.
    #[track_caller]
    pub fn failed_as_injected(&self) -> &Self {
        assert_eq!(self.code, 1, "{self:#?}");
        assert!(self.stderr.contains("injected failure"), "{}", self.stderr);
        self
    }

    /// Asserts that the run stopped before its first change: it failed (exit 1) and made no
    /// mutating call. What it said on stderr is the test's to check.
    #[track_caller]
    pub fn stopped_before_any_change(&self) -> &Self {
        assert_eq!(self.code, 1, "{self:#?}");
        self.changed_nothing()
    }

    /// Asserts that the run stopped before its first step, in the checks of its arguments,
    /// tools and preflight: it stopped before any change, and printed nothing (but `plan`'s
    /// heading, which comes before its preflight), no step's result in particular.
    #[track_caller]
    pub fn stopped_before_any_step(&self) -> &Self {
        self.stopped_before_any_change();
        let printed = match self.stdout.split_once('\n') {
            Some((heading, rest)) if heading.starts_with("infra.sh plan for project ") => rest,
            _ => &self.stdout,
        };
        assert_eq!(printed, "", "{}", self.command);
        self
    }
}

/// Where the ` (1m 05s)` a step's result line ends with when changing things begins: not a
/// reason such as ` (it holds other images)`.
pub fn elapsed_at(line: &str) -> Option<usize> {
    let at = line.rfind(" (")?;
    let time = line[at + 2..].strip_suffix("s)")?;
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let ok = match time.split_once("m ") {
        Some((minutes, seconds)) => digits(minutes) && digits(seconds),
        None => digits(time),
    };
    ok.then_some(at)
}

/// The steps a destroy run reports as kept, in apply order: what the bundle README's
/// "destroy keeps" sentence must say ([`mlflow_stack::emit::readme::ReadmeFacts`]).
pub fn kept_steps(run: &Run) -> Vec<String> {
    let mut kept: Vec<String> = run
        .results()
        .into_iter()
        .filter(|(_, result)| result.starts_with("kept"))
        .map(|(step, _)| step)
        .collect();
    kept.reverse();
    kept
}
