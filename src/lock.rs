//! The server image's dependency lock, embedded from `lock/*.txt` (`just lock` refreshes
//! it): every package the image installs for the default MLflow version, pinned with the
//! sha256 of each wheel pip may install on the image's platform. Validation asks how much
//! of it a stack keeps (to warn about the rest); the image emitter writes that part.

/// The MLflow version the lock was resolved for, which the bundle pins when the stack does
/// not say.
pub const DEFAULT_MLFLOW: &str = "3.17.2";

/// The lock of the plain image, and with MLflow's basic-auth app (`Flask-WTF`), with its
/// Prometheus exporter, or both.
const SERVER: &str = include_str!("../lock/server.txt");
const SERVER_AUTH: &str = include_str!("../lock/server-auth.txt");
const SERVER_METRICS: &str = include_str!("../lock/server-metrics.txt");
const SERVER_AUTH_METRICS: &str = include_str!("../lock/server-auth-metrics.txt");

/// The Python minor the lock was resolved for: the base image's (a test checks both).
pub const PYTHON_MINOR: &str = "3.12";

/// MLflow's own distributions: their version is MLflow's, so another `mlflow_version`
/// replaces them all.
pub const MLFLOW_DISTRIBUTIONS: [&str; 3] = ["mlflow", "mlflow-skinny", "mlflow-tracing"];

/// Which of the locks an image starts from: what it installs beyond MLflow and the
/// database and storage clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flavour {
    pub basic_auth: bool,
    pub metrics: bool,
}

impl Flavour {
    pub const PLAIN: Self = Self {
        basic_auth: false,
        metrics: false,
    };
    pub const ALL: [Self; 4] = [
        Self::PLAIN,
        Self {
            basic_auth: true,
            metrics: false,
        },
        Self {
            basic_auth: false,
            metrics: true,
        },
        Self {
            basic_auth: true,
            metrics: true,
        },
    ];
}

/// Why the image installs one of its own pins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinnedFor {
    /// Every server: the PostgreSQL driver and the Cloud Storage client.
    Always,
    /// `[auth] kind = "basic"`: MLflow's basic-auth app (`mlflow[auth]`: `Flask-WTF<2`).
    BasicAuth,
    /// `server.metrics`: `--expose-prometheus` imports it; an `mlflow[extras]` dependency,
    /// not a core one.
    Metrics,
}

/// What the server image installs next to `mlflow` (at `server.mlflow_version`), pinned so
/// that a rebuild gives the same server. `server.packages` may not name any of them, even
/// one this stack does not need: the image owns their versions.
pub const IMAGE_PINS: &[(&str, &str, PinnedFor)] = &[
    ("psycopg2-binary", "2.9.13", PinnedFor::Always),
    ("google-cloud-storage", "3.17.1", PinnedFor::Always),
    ("Flask-WTF", "1.3.0", PinnedFor::BasicAuth),
    ("prometheus-flask-exporter", "0.23.2", PinnedFor::Metrics),
];

/// One locked package: its normalized name, version, and its whole requirement text
/// (`name==version \` and the `--hash` lines).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub name: &'static str,
    pub version: &'static str,
    pub text: &'static str,
}

/// The packages of a lock file, in file order. Comment lines are skipped; an entry is a
/// line at column 0 with its indented continuation lines.
///
/// # Panics
///
/// Only when an embedded lock file is malformed, which every test run would show.
#[must_use]
pub fn entries(flavour: Flavour) -> Vec<Entry> {
    // Each lock is read once per process: validation and the image's three files each ask
    // for it, for every stack.
    static PARSED: [std::sync::OnceLock<Vec<Entry>>; 4] = [const { std::sync::OnceLock::new() }; 4];
    let (index, text) = match (flavour.basic_auth, flavour.metrics) {
        (false, false) => (0, SERVER),
        (true, false) => (1, SERVER_AUTH),
        (false, true) => (2, SERVER_METRICS),
        (true, true) => (3, SERVER_AUTH_METRICS),
    };
    PARSED[index].get_or_init(|| parse(text)).clone()
}

fn parse(text: &'static str) -> Vec<Entry> {
    let mut starts: Vec<usize> = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if !line.starts_with([' ', '#', '\n']) {
            starts.push(offset);
        }
        offset += line.len();
    }
    starts
        .iter()
        .enumerate()
        .map(|(i, &start)| {
            let end = starts.get(i + 1).copied().unwrap_or(text.len());
            let entry = text[start..end].trim_end();
            let pin = entry.split([' ', '\n']).next().unwrap_or_default();
            let (name, version) = pin
                .split_once("==")
                .unwrap_or_else(|| panic!("lock entry without `==`: {entry}"));
            Entry {
                name,
                version,
                text: entry,
            }
        })
        .collect()
}

/// The PEP 503 normal form of a distribution name: lowercase, runs of `-`, `_` and `.`
/// as one `-`.
#[must_use]
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// What the lock needs to know of an extra requirement (an entry of `server.packages`).
pub trait Requirement: Clone {
    /// The name in its normal form (see [`normalize`]).
    fn key(&self) -> String;
    /// The exact version it pins.
    fn version(&self) -> &str;
    /// Whether it asks for extras (`name[a,b]==version`).
    fn has_extras(&self) -> bool;
}

/// How much of the lock an image keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage<R> {
    /// The locked packages the image installs with their hashes.
    pub locked: Vec<Entry>,
    /// The extra requirements the lock does not satisfy: pip resolves them, and whatever
    /// they need beyond the lock, when the image is built.
    pub unlocked: Vec<R>,
    /// The lock covers everything the image installs: nothing resolves at build time.
    pub complete: bool,
}

/// Whether the lock installs exactly what `package` asks for: its name at the same version,
/// without extras (an extra may pull in packages the lock lacks).
fn satisfies(entries: &[Entry], package: &impl Requirement) -> bool {
    !package.has_extras()
        && entries
            .iter()
            .any(|entry| entry.name == package.key() && entry.version == package.version())
}

/// The part of the lock an image of `mlflow_version` with the extra requirements `extra`
/// shares: everything but MLflow's own distributions when the version is not the locked
/// one, and but any package an extra requirement the lock does not satisfy pins itself.
#[must_use]
pub fn coverage<R: Requirement>(
    flavour: Flavour,
    mlflow_version: &str,
    extra: &[R],
) -> Coverage<R> {
    let other_mlflow = mlflow_version != DEFAULT_MLFLOW;
    let entries = entries(flavour);
    let unlocked: Vec<R> = extra
        .iter()
        .filter(|package| !satisfies(&entries, *package))
        .cloned()
        .collect();
    let replaced: Vec<String> = unlocked.iter().map(R::key).collect();
    let locked = entries
        .into_iter()
        .filter(|entry| !(other_mlflow && MLFLOW_DISTRIBUTIONS.contains(&entry.name)))
        .filter(|entry| !replaced.iter().any(|name| name == entry.name))
        .collect();
    Coverage {
        locked,
        complete: !other_mlflow && unlocked.is_empty(),
        unlocked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalized_as_pep_503_says() {
        assert_eq!(normalize("Flask_WTF"), "flask-wtf");
        assert_eq!(normalize("zope.interface"), "zope-interface");
        assert_eq!(normalize("a-_.b"), "a-b");
    }

    #[test]
    fn every_entry_is_pinned_with_hashes() {
        for flavour in Flavour::ALL {
            let entries = entries(flavour);
            assert!(entries.len() > 50, "{flavour:?}");
            for entry in entries {
                assert_eq!(entry.name, normalize(entry.name), "{}", entry.text);
                assert!(!entry.version.is_empty(), "{}", entry.text);
                let hashes = entry.text.matches("--hash=sha256:").count();
                assert!(hashes >= 1, "{}", entry.text);
                assert_eq!(
                    entry.text.lines().count(),
                    hashes + 1,
                    "one hash per line: {}",
                    entry.text
                );
            }
        }
    }

    #[test]
    fn every_lock_adds_to_the_plain_one_and_changes_no_version() {
        let plain = entries(Flavour::PLAIN);
        let all = entries(Flavour::ALL[3]);
        for flavour in Flavour::ALL {
            let locked = entries(flavour);
            for entry in &plain {
                assert!(locked.contains(entry), "{flavour:?}: {}", entry.name);
            }
            for entry in &locked {
                assert!(all.contains(entry), "{flavour:?}: {}", entry.name);
            }
        }
        assert!(all.iter().any(|e| e.name == "flask-wtf"));
        assert!(all.iter().any(|e| e.name == "prometheus-flask-exporter"));
    }

    #[test]
    fn mlflow_distributions_are_the_locked_version_and_no_other_package_is() {
        let entries = entries(Flavour::PLAIN);
        for name in MLFLOW_DISTRIBUTIONS {
            assert!(
                entries
                    .iter()
                    .any(|e| e.name == name && e.version == DEFAULT_MLFLOW),
                "{name} is not locked at {DEFAULT_MLFLOW}"
            );
        }
        for entry in &entries {
            if entry.name.starts_with("mlflow") {
                assert!(MLFLOW_DISTRIBUTIONS.contains(&entry.name), "{}", entry.name);
            }
        }
    }

    #[test]
    fn another_mlflow_keeps_everything_but_mlflow() {
        let all = entries(Flavour::PLAIN);
        let default = coverage::<Pin>(Flavour::PLAIN, DEFAULT_MLFLOW, &[]);
        assert!(default.complete);
        assert_eq!(default.locked, all);
        let other = coverage::<Pin>(Flavour::PLAIN, "3.16.1", &[]);
        assert!(!other.complete);
        assert_eq!(other.locked.len(), all.len() - MLFLOW_DISTRIBUTIONS.len());
        assert!(other.locked.iter().all(|e| !e.name.starts_with("mlflow")));
    }

    /// A requirement as `server.packages` holds it, e.g. `SQLAlchemy[asyncio]==2.0.44`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Pin(String);

    impl Requirement for Pin {
        fn key(&self) -> String {
            normalize(self.0.split(['[', '=']).next().unwrap())
        }

        fn version(&self) -> &str {
            self.0.split_once("==").unwrap().1
        }

        fn has_extras(&self) -> bool {
            self.0.contains('[')
        }
    }

    fn packages(requirements: &[&str]) -> Vec<Pin> {
        requirements.iter().map(|r| Pin((*r).to_owned())).collect()
    }

    #[test]
    fn an_extra_package_at_another_version_replaces_its_locked_entry() {
        let all = entries(Flavour::PLAIN);
        let extra = coverage(
            Flavour::PLAIN,
            DEFAULT_MLFLOW,
            &packages(&["SQLAlchemy==2.0.44", "mlflow-oidc-auth==11.0.2"]),
        );
        assert!(!extra.complete);
        assert_eq!(extra.locked.len(), all.len() - 1);
        assert!(extra.locked.iter().all(|e| e.name != "sqlalchemy"));
        assert_eq!(
            extra.unlocked,
            packages(&["SQLAlchemy==2.0.44", "mlflow-oidc-auth==11.0.2"])
        );
    }

    #[test]
    fn an_extra_package_the_lock_holds_at_its_version_stays_locked() {
        let all = entries(Flavour::PLAIN);
        let sqlalchemy = all.iter().find(|e| e.name == "sqlalchemy").unwrap();
        let same = format!("SQLAlchemy=={}", sqlalchemy.version);
        let covered = coverage(Flavour::PLAIN, DEFAULT_MLFLOW, &packages(&[&same]));
        assert!(covered.complete);
        assert_eq!(covered.locked, all);
        assert!(covered.unlocked.is_empty());

        // Extras may need packages the lock lacks.
        let with_extras = format!("SQLAlchemy[asyncio]=={}", sqlalchemy.version);
        let extras = coverage(Flavour::PLAIN, DEFAULT_MLFLOW, &packages(&[&with_extras]));
        assert!(!extras.complete);
        assert_eq!(extras.unlocked, packages(&[&with_extras]));

        // The lock of another flavour does not count.
        let exporter = entries(Flavour::ALL[2])
            .into_iter()
            .find(|e| e.name == "prometheus-client")
            .unwrap();
        assert!(all.iter().all(|e| e.name != "prometheus-client"));
        let plain = coverage(
            Flavour::PLAIN,
            DEFAULT_MLFLOW,
            &packages(&[&format!("prometheus-client=={}", exporter.version)]),
        );
        assert!(!plain.complete);

        // Another MLflow leaves the package locked, but the image is not.
        let other = coverage(Flavour::PLAIN, "3.16.1", &packages(&[&same]));
        assert!(!other.complete);
        assert!(other.unlocked.is_empty());
        assert!(other.locked.iter().any(|e| e.name == "sqlalchemy"));
    }
}
