//! The only place that prints diagnostics and maps outcomes to exit codes:
//! 0 success; 1 an invalid stack or a stale bundle; 2 bad usage or an I/O failure.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::{CommandFactory, Parser};

use crate::cli::{CheckOptions, Cli, Command, Format};
use crate::diag::{self, Code, Diagnostic, Diagnostics, JsonDiagnostic, Severity, Style};
use crate::init::InitEnvironment;
use crate::printable::{printable, printable_path};
use crate::read;
use crate::source::Source;
use crate::write::{self, Written};
use crate::{
    Compiled, Output, Planned, compile, compile_for, encoding, explain, init, layout, schema,
};

/// The outcome of a command, as an exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Success = 0,
    Invalid = 1,
    Failure = 2,
}

impl From<Status> for ExitCode {
    fn from(status: Status) -> Self {
        ExitCode::from(status as u8)
    }
}

#[must_use]
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let style = terminal_style();
    run(cli, style).into()
}

fn terminal_style() -> Style {
    let stderr = std::io::stderr();
    let color = stderr.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    Style {
        color,
        ..Style::PLAIN
    }
}

/// Runs a parsed command line.
#[must_use]
pub fn run(cli: Cli, style: Style) -> Status {
    match cli.command {
        Command::Check { stacks, options } => check(&stacks, &options, style),
        Command::Build {
            stacks,
            out,
            check,
            options,
        } => build(&stacks, &out, check, &options, style),
        Command::Manifests { stack } => print_one(
            &stack,
            style,
            Output::Manifests,
            super::emit::Bundle::manifests,
        ),
        Command::Infra { stack } => print_one(&stack, style, Output::Bundle, |bundle| {
            bundle.get("infra.sh").unwrap_or_default().to_owned()
        }),
        Command::Schema => {
            print_stdout(&schema::json_schema());
            Status::Success
        }
        Command::Init {
            path,
            environment,
            project,
            region,
            bucket,
            tag,
            name,
            cluster,
        } => {
            if cluster.is_some() && environment == InitEnvironment::Local {
                return fail("--cluster applies to --environment gke only");
            }
            let bucket = bucket.unwrap_or_else(|| format!("{project}-mlflow"));
            let cluster = cluster.unwrap_or_else(|| init::PLACEHOLDER_CLUSTER.to_owned());
            let options = init::Options {
                environment,
                project,
                region,
                bucket,
                tag,
                name,
                cluster,
            };
            init_stack(&path, &options, style)
        }
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), BIN, &mut out);
            let mut script = String::from_utf8_lossy(&out).into_owned();
            if shell == clap_complete::Shell::Bash {
                script = bash_states_agree(&script);
            }
            print_stdout(&script);
            Status::Success
        }
        Command::Explain { list: true, .. } => {
            print_stdout(&explain::list());
            Status::Success
        }
        Command::Explain { code, .. } => explain_code(code.as_deref().unwrap_or_default()),
        Command::Man { dir: None } => {
            let mut out = Vec::new();
            match clap_mangen::Man::new(Cli::command()).render(&mut out) {
                Ok(()) => {
                    print_stdout(&String::from_utf8_lossy(&out));
                    Status::Success
                }
                Err(error) => fail(&format!("cannot render the man page: {error}")),
            }
        }
        Command::Man { dir: Some(dir) } => man_pages(&dir),
    }
}

/// The name of the binary, as shells complete it.
const BIN: &str = "mlflow-stack";

/// clap_complete's bash script spells a subcommand's state two ways when the binary name
/// has a hyphen: its loop sets `mlflow__stack__subcmd__build`, while its `case` arms read
/// `mlflow__subcmd__stack__subcmd__build`, so nothing after a subcommand ever completes
/// (clap-rs/clap#6421). The arms are respelled the way the loop spells the state.
fn bash_states_agree(script: &str) -> String {
    const SEPARATOR: &str = "__subcmd__";
    let wrong = format!("{}{SEPARATOR}", BIN.replace('-', SEPARATOR));
    let right = format!("{}{SEPARATOR}", BIN.replace('-', "__"));
    script.replace(&wrong, &right)
}

/// `explain CODE`: the explanation on stdout; an unknown code is bad usage (status 2).
fn explain_code(code: &str) -> Status {
    if let Some(explanation) = explain::explanation(code) {
        print_stdout(&explain::render(explanation));
        return Status::Success;
    }
    let hint = explain::closest(code).map_or_else(
        || " (the code is the first word of a diagnostic, e.g. `zone-not-region`)".to_owned(),
        |close| format!("; did you mean `{close}`?"),
    );
    fail(&format!("no diagnostic code `{code}`{hint}"))
}

/// `man DIR`: mlflow-stack.1 and one page per subcommand (mlflow-stack-build.1, …).
fn man_pages(dir: &Path) -> Status {
    if let Err(error) = std::fs::create_dir_all(dir) {
        return fail(&format!("cannot create {}: {error}", printable_path(dir)));
    }
    match clap_mangen::generate_to(Cli::command(), dir) {
        Ok(()) => {
            eprintln!("wrote the man pages to {}", printable_path(dir));
            Status::Success
        }
        Err(error) => fail(&format!(
            "cannot write the man pages to {}: {error}",
            printable_path(dir)
        )),
    }
}

fn print_stdout(text: &str) {
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth reporting.
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

fn fail(message: &str) -> Status {
    eprintln!("error: {message}");
    Status::Failure
}

/// A stack file read from disk, or why it could not be.
enum Loaded {
    Source(Source),
    /// Not UTF-8: a diagnostic on a lossy copy, so it can still be shown in context.
    NotUtf8(Source, Diagnostic),
}

fn load(path: &Path) -> Result<Loaded, String> {
    let bytes = read::read_regular(path, read::STACK_LIMIT).map_err(|error| error.to_string())?;
    if let Some(loaded) = wide_encoding(path, &bytes) {
        return Ok(loaded);
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Loaded::Source(Source::new(path, text))),
        Err(error) => {
            let offset = error.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(error.as_bytes()).into_owned();
            let start = text
                .char_indices()
                .nth(
                    String::from_utf8_lossy(&error.as_bytes()[..offset])
                        .chars()
                        .count(),
                )
                .map_or(text.len(), |(i, _)| i);
            let end = text[start..]
                .chars()
                .next()
                .map_or(start, |c| start + c.len_utf8());
            let diagnostic = Diagnostic::error(
                Code::NotUtf8,
                start..end,
                "the stack file is not valid UTF-8",
            )
            .label("invalid byte here")
            .help("save the file as UTF-8 (TOML files must be UTF-8)");
            Ok(Loaded::NotUtf8(Source::new(path, text), diagnostic))
        }
    }
}

/// A file in UTF-16 or UTF-32: a diagnostic naming the encoding and the conversion, on
/// the decoded text so the file shows as the user sees it in an editor.
fn wide_encoding(path: &Path, bytes: &[u8]) -> Option<Loaded> {
    let wide = encoding::detect(bytes)?;
    let text = wide.decode(bytes);
    let first = text.chars().next().map_or(0, char::len_utf8);
    let file = crate::shell::quote(&printable_path(path));
    let converted = crate::shell::quote(&format!("{}.utf8", printable_path(path)));
    let mark = if wide.bom {
        " with a byte order mark"
    } else {
        ""
    };
    let diagnostic = Diagnostic::error(
        Code::NotUtf8,
        0..first,
        format!("the stack file is {}{mark}, not UTF-8", wide.name),
    )
    .label(format!("read as {}", wide.name))
    .help(format!(
        "TOML files must be UTF-8: convert it with `iconv -f {} -t UTF-8 {file} > {converted} && mv {converted} {file}`, or save it as UTF-8 in the editor",
        wide.iconv_from()
    ));
    Some(Loaded::NotUtf8(Source::new(path, text), diagnostic))
}

/// One stack, compiled: its source, diagnostics and bundle.
struct Job<'a> {
    source: &'a Source,
    compiled: Compiled,
}

/// Each loaded stack parsed, validated and planned, on all cores (`None` for a file that is
/// not UTF-8).
fn plan_all(loaded: &[Loaded]) -> Vec<Option<Planned>> {
    parallel(loaded, |loaded| match loaded {
        Loaded::Source(source) => Some(crate::plan_stack(source)),
        Loaded::NotUtf8(..) => None,
    })
}

/// LOADED compiled for OUTPUT, from its PLANNED when it was planned already.
fn compile_loaded<'a>(loaded: &'a Loaded, planned: Option<&Planned>, output: Output) -> Job<'a> {
    match loaded {
        Loaded::Source(source) => Job {
            source,
            compiled: match planned {
                Some(planned) => planned.compile(source, output),
                None => compile_for(source, output),
            },
        },
        Loaded::NotUtf8(source, diagnostic) => {
            let mut diagnostics = Diagnostics::default();
            diagnostics.push(diagnostic.clone());
            Job {
                source,
                compiled: Compiled {
                    diagnostics,
                    bundle: None,
                },
            }
        }
    }
}

/// Runs `work` on every item on all cores, keeping the input order of the results.
fn parallel<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(items.len())
        .max(1);
    if threads == 1 {
        return items.iter().map(work).collect();
    }
    let next = AtomicUsize::new(0);
    let mut results: Vec<(usize, R)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(index) else { break };
                        done.push((index, work(item)));
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, result)| result).collect()
}

/// A job's diagnostics as printed: human text for stderr, or JSON lines for stdout.
struct Report {
    stdout: String,
    stderr: String,
    /// The stack counts as failed: an error, or a warning with `--deny-warnings`.
    failed: bool,
    /// The first code reported, for the `explain` hint.
    first_code: Option<&'static str>,
}

/// Renders a job's diagnostics (human: stderr text; json: stdout lines).
fn report(job: &Job, options: &CheckOptions, style: Style) -> Report {
    let diagnostics = &job.compiled.diagnostics;
    let failed = diagnostics.has_errors()
        || (options.deny_warnings && diagnostics.count(Severity::Warning) > 0);
    let mut stderr = String::new();
    let mut stdout = String::new();
    match options.format {
        Format::Human => {
            stderr.push_str(&diag::render_file(job.source, diagnostics, style));
            if !diagnostics.is_empty() {
                stderr.push_str(&diag::summary(job.source, diagnostics));
                stderr.push('\n');
            }
        }
        Format::Json => {
            for diagnostic in diagnostics.iter() {
                let json = serde_json::to_string(&JsonDiagnostic::new(job.source, diagnostic))
                    .unwrap_or_default();
                stdout.push_str(&json);
                stdout.push('\n');
            }
        }
    }
    Report {
        stdout,
        stderr,
        failed,
        first_code: diagnostics.iter().next().map(|d| d.code.name()),
    }
}

/// The closing hint of human output that showed a diagnostic.
fn explain_hint(code: &str) -> String {
    format!("what a code protects against, and the fix: `mlflow-stack explain {code}`\n")
}

/// Reads every stack file in parallel; an unreadable file ends the command with status 2
/// after every file has been tried, before anything is compiled or written.
fn load_all(paths: &[PathBuf]) -> Result<Vec<Loaded>, Status> {
    let results = parallel(paths, |path| load(path));
    let mut loaded = Vec::with_capacity(results.len());
    let mut io_failed = false;
    for result in results {
        match result {
            Ok(source) => loaded.push(source),
            Err(message) => {
                eprintln!("error: {message}");
                io_failed = true;
            }
        }
    }
    if io_failed {
        Err(Status::Failure)
    } else {
        Ok(loaded)
    }
}

/// Stacks among LOADED that would share a cloud resource or a Kubernetes object, one
/// error line (naming both files) and its fix per shared thing; the number of them.
fn shared_resources(loaded: &[Loaded], planned: &[Option<Planned>]) -> (String, usize) {
    if loaded.len() < 2 {
        return (String::new(), 0);
    }
    let claims: Vec<_> = planned
        .iter()
        .map(|planned| planned.as_ref().and_then(Planned::claims))
        .collect();
    let source = |index: usize| match &loaded[index] {
        Loaded::Source(source) | Loaded::NotUtf8(source, _) => source.display_name(),
    };
    let conflicts = crate::claims::conflicts(&claims);
    let mut out = String::new();
    for conflict in &conflicts {
        let _ = writeln!(
            out,
            "error: {} and {} would share {}: the infra.sh or kubectl of one would change and \
             delete what the other created\n  help: {}",
            source(conflict.first),
            source(conflict.second),
            conflict.claim.what,
            conflict.claim.fix
        );
    }
    (out, conflicts.len())
}

fn check(paths: &[PathBuf], options: &CheckOptions, style: Style) -> Status {
    let loaded = match load_all(paths) {
        Ok(loaded) => loaded,
        Err(status) => return status,
    };
    let planned = plan_all(&loaded);
    let (shared, conflicts) = shared_resources(&loaded, &planned);
    let human = options.format == Format::Human;
    // Each stack's report is rendered on the worker that compiled it; no bundle is
    // emitted, as nothing reads it: memory stays flat however many stacks are checked.
    let pairs: Vec<(&Loaded, &Option<Planned>)> = loaded.iter().zip(&planned).collect();
    let reports = parallel(&pairs, |(loaded, planned)| {
        let job = compile_loaded(loaded, planned.as_ref(), Output::Diagnostics);
        let mut report = report(&job, options, style);
        if human && !options.quiet && job.compiled.diagnostics.is_empty() {
            let _ = writeln!(report.stderr, "{}: ok", job.source.display_name());
        }
        report
    });
    let mut failed = 0;
    let mut first_code = None;
    for report in reports {
        print_stdout(&report.stdout);
        eprint!("{}", report.stderr);
        failed += usize::from(report.failed);
        first_code = first_code.or(report.first_code);
    }
    eprint!("{shared}");
    if human && (failed > 0 || conflicts > 0 || !options.quiet) {
        eprintln!(
            "checked {}: {} failed",
            diag::plural(paths.len(), "stack"),
            failed
        );
    }
    if let (true, Some(code)) = (human, first_code) {
        eprint!("{}", explain_hint(code));
    }
    if failed > 0 || conflicts > 0 {
        Status::Invalid
    } else {
        Status::Success
    }
}

fn build(
    paths: &[PathBuf],
    out: &Path,
    check_only: bool,
    options: &CheckOptions,
    style: Style,
) -> Status {
    if let Ok(meta) = std::fs::symlink_metadata(out)
        && meta.file_type().is_symlink()
    {
        let error = write::WriteError::OutIsLink {
            dir: out.to_owned(),
            target: std::fs::read_link(out).unwrap_or_default(),
        };
        return fail(&error.to_string());
    }
    let dirs = match layout::out_dirs(paths, out) {
        Ok(dirs) => dirs,
        Err(message) => return fail(&message),
    };
    let loaded = match load_all(paths) {
        Ok(loaded) => loaded,
        Err(status) => return status,
    };
    // Stacks that would share a resource are refused before any bundle is written.
    let planned = plan_all(&loaded);
    let (shared, conflicts) = shared_resources(&loaded, &planned);
    if conflicts > 0 {
        eprint!("{shared}");
        eprintln!(
            "wrote nothing: {} would share what only one of them may own",
            diag::plural(paths.len(), "stack")
        );
        return Status::Invalid;
    }
    // Compile and write in one pass per stack: a worker writes one bundle while the other
    // compiles the next, and no more than one bundle per worker is ever in memory.
    let triples: Vec<(&Loaded, &Option<Planned>, &PathBuf)> = loaded
        .iter()
        .zip(&planned)
        .zip(&dirs)
        .map(|((loaded, planned), dir)| (loaded, planned, dir))
        .collect();
    let outcomes = parallel(&triples, |(loaded, planned, dir)| {
        let mut job = compile_loaded(loaded, planned.as_ref(), Output::Bundle);
        let stack = job.source.path();
        if let Some(bundle) = job.compiled.bundle.as_mut()
            && let Some(record) = write::source_record(stack, dir)
        {
            bundle.files.insert(write::SOURCE.to_owned(), record);
        }
        let Report {
            stdout,
            mut stderr,
            failed,
            first_code,
        } = report(&job, options, style);
        let mut status = if failed {
            Status::Invalid
        } else {
            Status::Success
        };
        let mut diff = String::new();
        let quiet = options.quiet;
        if let (false, Some(bundle)) = (failed, &job.compiled.bundle) {
            let other = write::built_from_another(dir, job.source.path());
            let never_built = check_only
                && matches!(std::fs::symlink_metadata(dir), Err(e) if e.kind() == std::io::ErrorKind::NotFound);
            let result = if let Some(other) = other {
                Err(write::WriteError::OtherStack {
                    dir: (*dir).clone(),
                    other,
                    stack: job.source.path().to_owned(),
                })
            } else if never_built {
                // Nothing to diff against: the file list says what `build` would write.
                let _ = writeln!(
                    stderr,
                    "{}: missing (never built); build it with {}",
                    printable_path(dir),
                    build_command(job.source.path(), out)
                );
                for (relative, contents) in &bundle.files {
                    let _ = writeln!(
                        diff,
                        "new file: {}/{relative} ({})",
                        printable_path(dir),
                        diag::plural(contents.lines().count(), "line")
                    );
                }
                status = Status::Invalid;
                Ok(())
            } else if check_only {
                write::diff(bundle, dir).map(|d| {
                    diff = d;
                    if diff.is_empty() {
                        if !quiet {
                            let _ = writeln!(stderr, "{}: up to date", printable_path(dir));
                        }
                    } else {
                        let _ = writeln!(
                            stderr,
                            "{}: stale; rebuild with {}",
                            printable_path(dir),
                            build_command(job.source.path(), out)
                        );
                        status = Status::Invalid;
                    }
                })
            } else {
                write::write(bundle, dir).map(|written| {
                    let what = match written {
                        Written::Written => "wrote",
                        Written::Unchanged => "unchanged",
                    };
                    if !quiet {
                        let _ = writeln!(
                            stderr,
                            "{what} {} ({} files)",
                            printable_path(dir),
                            bundle.files.len()
                        );
                    }
                })
            };
            if let Err(error) = result {
                let _ = writeln!(stderr, "error: {error}");
                status = Status::Failure;
            }
        } else if failed {
            let _ = writeln!(stderr, "{}: not written", printable_path(dir));
        }
        (stdout + &diff, stderr, status, first_code)
    });
    let mut worst = Status::Success;
    let mut failed = 0;
    let mut first = None;
    for (stdout, stderr, status, first_code) in outcomes {
        print_stdout(&stdout);
        eprint!("{stderr}");
        worst = worst.max(status);
        failed += usize::from(status != Status::Success);
        first = first.or(first_code);
    }
    let mut orphaned = 0;
    if check_only {
        match layout::orphans(out, &dirs) {
            Ok(orphans) => {
                for orphan in &orphans {
                    eprintln!(
                        "{}: orphaned bundle: no stack `{}` among the arguments; delete it \
                         (`rm -r {}`) or pass its stack",
                        printable_path(orphan),
                        printable(&layout::stack_file_name(orphan)),
                        printable_path(orphan)
                    );
                }
                if !orphans.is_empty() {
                    worst = worst.max(Status::Invalid);
                    orphaned = orphans.len();
                }
            }
            Err(error) => {
                eprintln!("error: {}: {error}", printable_path(out));
                worst = Status::Failure;
            }
        }
    }
    if options.format == Format::Human && (worst != Status::Success || !options.quiet) {
        let verb = if check_only { "checked" } else { "built" };
        let orphans = if orphaned == 0 {
            String::new()
        } else {
            format!("; {}", diag::plural(orphaned, "orphaned bundle"))
        };
        eprintln!(
            "{verb} {}: {} failed{orphans}",
            diag::plural(paths.len(), "stack"),
            failed
        );
    }
    if let (Format::Human, Some(code)) = (options.format, first) {
        eprint!("{}", explain_hint(code));
    }
    worst
}

/// The command that (re)builds STACK's bundle into OUT, as the user would type it.
fn build_command(stack: &Path, out: &Path) -> String {
    format!(
        "`mlflow-stack build {} --out {}`",
        printable_path(stack),
        printable_path(out)
    )
}

fn print_one(
    path: &Path,
    style: Style,
    output: Output,
    select: impl Fn(&crate::emit::Bundle) -> String,
) -> Status {
    let loaded = match load_all(&[path.to_owned()]) {
        Ok(loaded) => loaded,
        Err(status) => return status,
    };
    let Some(job) = loaded
        .first()
        .map(|loaded| compile_loaded(loaded, None, output))
    else {
        return Status::Failure;
    };
    let options = CheckOptions {
        format: Format::Human,
        deny_warnings: false,
        quiet: false,
    };
    let Report {
        stderr,
        failed,
        first_code,
        ..
    } = report(&job, &options, style);
    eprint!("{stderr}");
    if let Some(code) = first_code {
        eprint!("{}", explain_hint(code));
    }
    match (&job.compiled.bundle, failed) {
        (Some(bundle), false) => {
            print_stdout(&select(bundle));
            Status::Success
        }
        _ => Status::Invalid,
    }
}

fn init_stack(path: &Path, options: &init::Options, style: Style) -> Status {
    if path.exists() {
        return fail(&format!(
            "{} already exists; init never overwrites a file",
            printable_path(path)
        ));
    }
    let text = init::starter(options);
    let source = Source::new(path, text);
    let compiled = compile(&source);
    if compiled.diagnostics.has_errors() {
        for diagnostic in compiled.diagnostics.iter() {
            eprint!("{}", diag::render(&source, diagnostic, style));
        }
        eprintln!(
            "{} was not written: fix the options above",
            printable_path(path)
        );
        return Status::Invalid;
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && let Err(error) = std::fs::create_dir_all(parent)
    {
        return fail(&format!(
            "cannot create {}: {error}",
            printable_path(parent)
        ));
    }
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(file) => file,
        Err(error) => return fail(&format!("cannot create {}: {error}", printable_path(path))),
    };
    if let Err(error) = file.write_all(source.text().as_bytes()) {
        return fail(&format!("cannot write {}: {error}", printable_path(path)));
    }
    let placeholders = compiled
        .diagnostics
        .iter()
        .filter(|d| d.code == Code::PlaceholderValue)
        .count();
    if placeholders == 0 {
        eprintln!(
            "wrote {}; check it with `mlflow-stack check {}`",
            printable_path(path),
            printable_path(path)
        );
    } else {
        eprintln!(
            "wrote {}; replace its {} (`mlflow-stack check {}` points at them)",
            printable_path(path),
            diag::plural(placeholders, "placeholder"),
            printable_path(path)
        );
    }
    Status::Success
}
