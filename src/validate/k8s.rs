//! Kubernetes and PostgreSQL naming rules and quantities.

use std::fmt;

use crate::diag::Code;
use crate::names::is_dns_label;
use crate::problem::{Checked, Problem, string_newtype};

string_newtype!(
    /// A `Host` value MLflow accepts (`--allowed-hosts`): a DNS name or IP address,
    /// optionally `*.`-prefixed, optionally with `:PORT` or `:*`.
    HostPattern
);
string_newtype!(
    /// A PostgreSQL identifier that needs no quoting: `[a-z][a-z0-9_]*`, at most 63 bytes.
    SqlIdent
);
string_newtype!(
    /// A directory path for key files: letters, digits, `.`, `_`, `-` and `/`.
    DirPath
);

impl HostPattern {
    pub fn parse(value: &str) -> Checked<Self> {
        let bad = |what: &str| {
            Problem::new(Code::InvalidHost, format!("`{}` {what}", crate::diag::shown(value)))
                .label("not a host name")
                .help("write a host name as clients send it, e.g. `mlflow.example.com`, `mlflow.example.com:443` or `*.example.com`; no scheme, no path")
        };
        if value == "*" || value.starts_with("*:") {
            return Err(Problem::new(
                Code::InvalidHost,
                "`*` accepts any `Host`, which turns off MLflow's DNS-rebinding protection",
            )
            .label("matches every host")
            .help("list the names clients use, e.g. `mlflow.example.com`"));
        }
        if value.contains("://") || value.contains('/') {
            let host = value
                .split_once("://")
                .map_or(value, |(_, rest)| rest)
                .split('/')
                .next()
                .unwrap_or_default();
            let problem = bad("is a URL, not a host");
            return Err(match Self::parse(host) {
                Ok(_) => problem.help(format!(
                    "write the host alone, as clients send it in `Host`: did you mean `{}`?",
                    crate::diag::shown(host)
                )),
                Err(_) => problem,
            });
        }
        let (host, port) = match value.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (value, None),
        };
        if let Some(port) = port {
            let ok = port == "*" || port.parse::<u16>().is_ok_and(|p| p > 0);
            if !ok {
                return Err(bad("has an invalid port"));
            }
        }
        let name = host.strip_prefix("*.").unwrap_or(host);
        if name.len() > 253 || name.is_empty() || !name.split('.').all(is_dns_label_any_case) {
            return Err(bad("is not a valid host name"));
        }
        if host.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(bad("must be lowercase"));
        }
        Ok(Self(value.to_owned()))
    }

    /// A pattern the compiler derives (localhost, the Service's DNS names).
    #[must_use]
    pub fn derived(value: String) -> Self {
        Self(value)
    }
}

fn is_dns_label_any_case(part: &str) -> bool {
    is_dns_label(&part.to_ascii_lowercase())
}

impl SqlIdent {
    pub fn parse(key: &str, value: &str) -> Checked<Self> {
        let valid = !value.is_empty()
            && value.len() <= 63
            && value.starts_with(|c: char| c.is_ascii_lowercase())
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            let help = if value.chars().any(|c| c.is_ascii_uppercase() || c == '-') {
                format!(
                    "did you mean `{}`?",
                    value.to_ascii_lowercase().replace('-', "_")
                )
            } else {
                "use lowercase letters, digits and `_`, starting with a letter, e.g. `mlflow`"
                    .into()
            };
            let rule = "lowercase letters, digits and `_`, starting with a letter, at most 63";
            let help = if help.starts_with("did you mean") {
                format!("{help} ({rule})")
            } else {
                help
            };
            return Err(Problem::new(
                Code::InvalidIdentifier,
                format!("`{key}` is not a plain PostgreSQL name"),
            )
            .label("needs quoting in SQL")
            .help(help));
        }
        if value == "postgres" || value.starts_with("pg_") || value.starts_with("cloudsql") {
            return Err(Problem::new(
                Code::ReservedIdentifier,
                format!(
                    "`{}` is reserved by PostgreSQL or Cloud SQL",
                    crate::diag::shown(value)
                ),
            )
            .label("reserved name")
            .help("choose another name, e.g. `mlflow`"));
        }
        Ok(Self(value.to_owned()))
    }

    #[must_use]
    pub fn mlflow() -> Self {
        Self("mlflow".into())
    }
}

impl DirPath {
    pub fn parse(value: &str) -> Checked<Self> {
        let valid = !value.is_empty()
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'))
            && !value.starts_with('-');
        if !valid {
            let (why, help) = if value.starts_with('~') {
                (
                    "starts with `~`",
                    "nothing expands `~`: write a path relative to where `infra.sh` runs, e.g. `dir = \".mlflow_credentials\"`",
                )
            } else if value.starts_with('-') {
                (
                    "starts with `-`, like a command-line option",
                    "start it with a letter, a digit, `.` or `_`, e.g. `.mlflow_credentials`",
                )
            } else {
                (
                    "may hold only letters, digits, `.`, `_`, `-` and `/`",
                    "for example `dir = \".mlflow_credentials\"`",
                )
            };
            return Err(
                Problem::new(Code::InvalidPath, format!("`credentials.dir` {why}"))
                    .label("not a plain path")
                    .help(help),
            );
        }
        if let Some((why, help)) = Self::component_problem(value) {
            return Err(
                Problem::new(Code::InvalidPath, format!("`credentials.dir` {why}"))
                    .label("not a directory below where `infra.sh` runs")
                    .help(help),
            );
        }
        Ok(Self(value.to_owned()))
    }

    /// A directory strictly below the working directory: relative, no `.` or `..`
    /// component, no empty one (`a//b`, a trailing `/`). `infra.sh` creates it with mode
    /// 0700 and a `.gitignore`, so `.` would lock and hide the working directory and `..` or
    /// an absolute path would put key files where nobody looks for them.
    fn component_problem(value: &str) -> Option<(&'static str, String)> {
        let example = "for example `dir = \".mlflow_credentials\"`";
        let components: Vec<&str> = value.split('/').collect();
        let kept: Vec<&str> = components
            .iter()
            .copied()
            .filter(|c| !c.is_empty() && *c != ".")
            .collect();
        let suggestion = || {
            let candidate = kept.join("/");
            if kept.contains(&"..") || candidate.is_empty() {
                example.to_owned()
            } else {
                format!("did you mean `{candidate}`?")
            }
        };
        if value.starts_with('/') {
            Some((
                "is an absolute path",
                format!(
                    "write a directory relative to where `infra.sh` runs, so key files stay beside the stack and out of git; {example}"
                ),
            ))
        } else if components.contains(&"..") {
            Some((
                "has a `..` component",
                format!("key files belong below where `infra.sh` runs; {example}"),
            ))
        } else if components.contains(&".") {
            Some(("has a `.` component", suggestion()))
        } else if components.contains(&"") {
            Some((
                "has an empty component (`//` or a trailing `/`)",
                suggestion(),
            ))
        } else {
            None
        }
    }

    #[must_use]
    pub fn default_dir() -> Self {
        Self(".mlflow_credentials".into())
    }
}

/// A Kubernetes resource quantity, kept as written (`500m`, `1`, `1Gi`, `1.5Gi`).
#[derive(Debug, Clone, PartialEq)]
pub struct Quantity {
    text: String,
    /// The value in base units: cores for CPU, bytes for memory.
    value: f64,
}

impl Quantity {
    /// CPU: a positive number of cores, optionally in millicores (`m`).
    pub fn parse_cpu(value: &str) -> Checked<Self> {
        let parsed = parse_quantity(value).filter(|(_, suffix)| matches!(*suffix, "" | "m"));
        match parsed {
            Some((number, suffix)) if number > 0.0 => {
                let cores = if suffix == "m" {
                    number / 1000.0
                } else {
                    number
                };
                if cores > 64.0 {
                    return Err(Problem::new(
                        Code::OutOfRange,
                        "`server.cpu` is more than 64 cores",
                    )
                    .label("too much CPU for one pod")
                    .help("use more replicas instead, e.g. `cpu = \"2\"`"));
                }
                if suffix == "m" && number.fract() != 0.0 {
                    return Err(Problem::new(
                        Code::InvalidQuantity,
                        "millicores must be a whole number",
                    )
                    .label("fractional millicores")
                    .help("for example `cpu = \"500m\"`"));
                }
                Ok(Self {
                    text: value.to_owned(),
                    value: cores,
                })
            }
            _ => Err(Problem::new(
                Code::InvalidQuantity,
                format!("`{}` is not a CPU quantity", crate::diag::shown(value)),
            )
            .label("not a Kubernetes CPU quantity")
            .help("write cores or millicores, e.g. `cpu = \"500m\"` or `cpu = \"2\"`")),
        }
    }

    /// Memory: a positive number of bytes with an optional binary (`Mi`, `Gi`) or decimal
    /// (`M`, `G`) suffix.
    pub fn parse_memory(value: &str) -> Checked<Self> {
        let factor = |suffix: &str| -> Option<f64> {
            Some(match suffix {
                "" => 1.0,
                "k" => 1e3,
                "M" => 1e6,
                "G" => 1e9,
                "T" => 1e12,
                "Ki" => 1024.0,
                "Mi" => 1024.0 * 1024.0,
                "Gi" => 1024.0 * 1024.0 * 1024.0,
                "Ti" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
                _ => return None,
            })
        };
        let parsed = parse_quantity(value)
            .and_then(|(number, suffix)| factor(suffix).map(|f| number * f))
            .filter(|bytes| *bytes >= 1.0);
        let Some(bytes) = parsed else {
            let help = if value.ends_with("mb")
                || value.ends_with("MB")
                || value.ends_with("gb")
                || value.ends_with("GB")
            {
                format!(
                    "Kubernetes writes binary units as `Mi` and `Gi`: did you mean `{}i`?",
                    value[..value.len() - 1].to_ascii_uppercase()
                )
            } else if let Some(fixed) = ["Ki", "Mi", "Gi", "Ti", "k", "M", "G", "T"]
                .iter()
                .find_map(|unit| {
                    let number = value.len().checked_sub(unit.len()).and_then(|at| {
                        value
                            .get(at..)
                            .filter(|suffix| suffix.eq_ignore_ascii_case(unit))
                            .and_then(|_| value.get(..at))
                    })?;
                    let fixed = format!("{number}{unit}");
                    (fixed != value && Self::parse_memory(&fixed).is_ok()).then_some(fixed)
                })
            {
                format!("units are case-sensitive: did you mean `{fixed}`?")
            } else {
                "write bytes with a unit, e.g. `memory = \"1Gi\"` or `memory = \"1536Mi\"`".into()
            };
            return Err(Problem::new(
                Code::InvalidQuantity,
                format!("`{}` is not a memory quantity", crate::diag::shown(value)),
            )
            .label("not a Kubernetes memory quantity")
            .help(help));
        };
        if bytes > 256.0 * 1024.0 * 1024.0 * 1024.0 {
            return Err(
                Problem::new(Code::OutOfRange, "`server.memory` is more than 256Gi")
                    .label("too much memory for one pod")
                    .help("MLflow needs about 1Gi with 2 workers, e.g. `memory = \"2Gi\"`"),
            );
        }
        Ok(Self {
            text: value.to_owned(),
            value: bytes,
        })
    }

    /// A quantity of mebibytes, for computed defaults.
    #[must_use]
    pub fn mebibytes(mib: u32) -> Self {
        let text = if mib.is_multiple_of(1024) {
            format!("{}Gi", mib / 1024)
        } else {
            format!("{mib}Mi")
        };
        Self {
            text,
            value: f64::from(mib) * 1024.0 * 1024.0,
        }
    }

    /// A quantity of millicores, for computed defaults.
    #[must_use]
    pub fn millicores(m: u32) -> Self {
        Self {
            text: format!("{m}m"),
            value: f64::from(m) / 1000.0,
        }
    }

    /// The value in base units (cores or bytes).
    #[must_use]
    pub fn value(&self) -> f64 {
        self.value
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Splits `1.5Gi` into `(1.5, "Gi")`; plain decimal numbers only (no exponents, no sign).
fn parse_quantity(value: &str) -> Option<(f64, &str)> {
    let end = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (number, suffix) = value.split_at(end);
    let well_formed = !number.is_empty()
        && number != "."
        && number.matches('.').count() <= 1
        && !number.ends_with('.');
    if !well_formed {
        return None;
    }
    number.parse::<f64>().ok().map(|n| (n, suffix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert!((Quantity::parse_cpu("500m").unwrap().value() - 0.5).abs() < 1e-9);
        assert!((Quantity::parse_cpu("2").unwrap().value() - 2.0).abs() < 1e-9);
        assert!((Quantity::parse_memory("1Gi").unwrap().value() - 1_073_741_824.0).abs() < 1.0);
        for bad in ["", "0", "-1", "1.", "500mi", "1e3", "abc", "1..5"] {
            assert!(Quantity::parse_cpu(bad).is_err(), "{bad}");
        }
        for bad in ["1GB", "1gi", "0", "Gi", "1.5.5Gi"] {
            assert!(Quantity::parse_memory(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Quantity::parse_memory("512MB").unwrap_err().help,
            "Kubernetes writes binary units as `Mi` and `Gi`: did you mean `512Mi`?"
        );
        assert_eq!(Quantity::mebibytes(1024).as_str(), "1Gi");
        assert_eq!(Quantity::mebibytes(1280).as_str(), "1280Mi");
    }

    #[test]
    fn hosts() {
        for good in [
            "mlflow.example.com",
            "mlflow.example.com:443",
            "*.example.com",
            "10.0.0.7",
            "localhost:*",
        ] {
            assert!(HostPattern::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "*",
            "https://mlflow.example.com",
            "mlflow.example.com/x",
            "a..b",
            "host:0",
            "host:99999",
            "-a.com",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sql_identifiers() {
        assert!(SqlIdent::parse("database.user", "mlflow").is_ok());
        assert_eq!(
            SqlIdent::parse("database.user", "postgres")
                .unwrap_err()
                .code,
            Code::ReservedIdentifier
        );
        assert!(
            SqlIdent::parse("database.user", "ml-flow")
                .unwrap_err()
                .help
                .starts_with("did you mean `ml_flow`?")
        );
    }
}
