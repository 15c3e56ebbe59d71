//! Naming: the stack's name and the Cloud SQL instance id (the typed ids every derived
//! name is made from, each behind the rule that alone constructs it), the pure functions
//! that derive every other name from them, and which addresses clients reach the server by
//! ([`reach`]). Validation calls these to check lengths and fill defaults, planning to name
//! what it plans; neither derives a name itself.

pub mod reach;

use crate::diag::Code;
use crate::problem::{Checked, Problem, string_newtype};

string_newtype!(
    /// A Kubernetes DNS label (RFC 1123): lowercase letters, digits and hyphens, a letter
    /// or digit at both ends, at most 63 characters.
    DnsLabel
);
string_newtype!(
    /// A Cloud SQL instance id: lowercase letters, digits and hyphens, a letter first.
    InstanceId
);

/// A DNS label (RFC 1123): 1 to 63 lowercase letters, digits and hyphens, no hyphen at
/// either end.
pub(crate) fn is_dns_label(value: &str) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

impl DnsLabel {
    /// The stack's `name`: a DNS label of 3 to 20 characters starting with a letter, so that
    /// every derived name (`<name>-server` as a service account id, …) fits Google's limits.
    pub fn parse_name(value: &str) -> Checked<Self> {
        let help = || {
            let candidate = value.to_ascii_lowercase().replace('_', "-");
            if candidate != value && Self::parse_name(&candidate).is_ok() {
                format!("did you mean `{candidate}`?")
            } else {
                "use 3 to 20 lowercase letters, digits and hyphens, starting with a letter, e.g. `mlflow` or `team-a-mlflow`".into()
            }
        };
        if !(3..=20).contains(&value.len()) {
            return Err(Problem::new(
                Code::InvalidName,
                format!("`name` must be 3 to 20 characters long, not {}", value.len()),
            )
            .label("every Kubernetes object and cloud resource name starts with this")
            .help("service account ids are limited to 30 characters and `<name>-server` must fit; use 3 to 20 characters"));
        }
        if !is_dns_label(value) || !value.starts_with(|c: char| c.is_ascii_lowercase()) {
            let why = if value.chars().any(|c| c.is_ascii_uppercase()) {
                "must be lowercase"
            } else if !value.starts_with(|c: char| c.is_ascii_lowercase()) {
                "must start with a lowercase letter"
            } else if value.ends_with('-') {
                "must not end with a hyphen"
            } else {
                "may hold only lowercase letters, digits and hyphens"
            };
            return Err(Problem::new(Code::InvalidName, format!("`name` {why}"))
                .label("not a DNS label")
                .help(help()));
        }
        Ok(Self(value.to_owned()))
    }

    /// A Kubernetes namespace.
    pub fn parse_namespace(value: &str) -> Checked<Self> {
        if !is_dns_label(value) {
            let help = if value.chars().any(|c| c.is_ascii_uppercase() || c == '_') {
                format!(
                    "did you mean `{}`?",
                    value.to_ascii_lowercase().replace('_', "-")
                )
            } else {
                "use up to 63 lowercase letters, digits and hyphens".into()
            };
            return Err(Problem::new(
                Code::InvalidNamespace,
                "`namespace` must be a DNS label: lowercase letters, digits and hyphens, at most 63",
            )
            .label("not a Kubernetes namespace")
            .help(help));
        }
        if value.starts_with("kube-") {
            return Err(Problem::new(
                Code::ReservedNamespace,
                format!(
                    "namespace `{}` belongs to Kubernetes itself",
                    crate::diag::shown(value)
                ),
            )
            .label("reserved namespace")
            .help("leave `namespace` out to use the stack's `name`, or choose another"));
        }
        Ok(Self(value.to_owned()))
    }
}

impl InstanceId {
    pub fn parse(value: &str) -> Checked<Self> {
        if is_lower_name(value) && value.len() <= 84 {
            return Ok(Self(value.to_owned()));
        }
        Err(lower_name_problem(
            Code::InvalidInstance,
            "database.instance",
            value,
            84,
            "a Cloud SQL instance id",
            hyphenated_help(value, |v| Self::parse(v).is_ok())
                .unwrap_or_else(|| "for example `mlflow-db`".into()),
        ))
    }
}

/// "Did you mean" the value in lowercase with hyphens for `_`, `.` and spaces, when that
/// is a valid value.
pub(crate) fn hyphenated_help(value: &str, valid: impl Fn(&str) -> bool) -> Option<String> {
    let candidate: String = value
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if matches!(c, '_' | '.' | ' ') { '-' } else { c })
        .collect::<String>()
        .trim_matches('-')
        .to_owned();
    (candidate != value && valid(&candidate)).then(|| format!("did you mean `{candidate}`?"))
}

/// Why a value is not a lowercase name of at most `max` characters (see [`is_lower_name`]).
pub(crate) fn lower_name_problem(
    code: Code,
    key: &str,
    value: &str,
    max: usize,
    what: &str,
    help: String,
) -> Problem {
    let why = if value.is_empty() {
        "is empty".to_owned()
    } else if value.len() > max {
        format!("is {} characters long; at most {max} fit", value.len())
    } else if value.chars().any(|c| c.is_ascii_uppercase()) {
        "must be lowercase".to_owned()
    } else if !value.starts_with(|c: char| c.is_ascii_lowercase()) {
        "must start with a lowercase letter".to_owned()
    } else if value.ends_with('-') {
        "must not end with a hyphen".to_owned()
    } else {
        "may hold only lowercase letters, digits and hyphens".to_owned()
    };
    Problem::new(code, format!("`{key}` {why}"))
        .label(format!("not {what}"))
        .help(help)
}

/// Lowercase letters, digits and hyphens, a letter first, a letter or digit last.
pub(crate) fn is_lower_name(value: &str) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes[0].is_ascii_lowercase()
        && bytes[bytes.len() - 1] != b'-'
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// The Cloud SQL instance when the stack does not name one: `<name>-db`.
#[must_use]
pub fn instance(name: &DnsLabel) -> InstanceId {
    // A 3–20 character DNS label plus `-db` is always a valid instance id.
    InstanceId::parse(&format!("{name}-db"))
        .unwrap_or_else(|_| unreachable!("`{name}-db` is an instance id"))
}

/// Kubernetes objects of the server: Deployment, Service, ServiceAccount, …
#[must_use]
pub fn workload(name: &DnsLabel) -> String {
    format!("{name}-server")
}

/// The server's Google service account id (6–30 characters for every valid name).
#[must_use]
pub fn server_account(name: &DnsLabel) -> String {
    format!("{name}-server")
}

/// The Google service account whose key pulls images on a local cluster.
#[must_use]
pub fn puller_account(name: &DnsLabel) -> String {
    format!("{name}-puller")
}

/// The Google service account Cloud Build runs the image build as.
#[must_use]
pub fn builder_account(name: &DnsLabel) -> String {
    format!("{name}-builder")
}

/// The basic-auth user store's database: the main database's name with `_auth`.
#[must_use]
pub fn auth_database(database: &str) -> String {
    format!("{database}_auth")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in ["mlf", "mlflow", "team-a-mlflow", "a".repeat(20).as_str()] {
            assert!(DnsLabel::parse_name(good).is_ok(), "{good}");
        }
        for bad in [
            "ml",
            "MLflow",
            "ml_flow",
            "1mlflow",
            "mlflow-",
            "a".repeat(21).as_str(),
        ] {
            assert_eq!(
                DnsLabel::parse_name(bad).unwrap_err().code,
                Code::InvalidName,
                "{bad}"
            );
        }
    }

    #[test]
    fn derived_names_fit_their_ids() {
        let name = DnsLabel::parse_name("a".repeat(20).as_str()).unwrap();
        assert_eq!(instance(&name).as_str(), format!("{name}-db"));
        assert!(server_account(&name).len() <= 30);
        assert!(builder_account(&name).len() <= 30);
        assert_eq!(auth_database("mlflow"), "mlflow_auth");
    }
}
