//! Image references, tags and the MLflow version.

use crate::diag::Code;
use crate::problem::{Checked, Problem, string_newtype};

string_newtype!(
    /// A Docker image tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
    ImageTag
);
string_newtype!(
    /// A full image reference with a tag or digest, e.g. `europe-docker.pkg.dev/p/r/mlflow:1.0`.
    ImageRef
);
string_newtype!(
    /// An MLflow release `X.Y.Z` with the `--allowed-hosts` option (3.5.0 or later).
    MlflowVersion
);

/// MLflow releases whose `pip install` fails, with the reason.
const BROKEN_MLFLOW: &[(&str, &str)] = &[(
    "3.18.0",
    "3.18.0 has no matching mlflow-skinny release, so the image build fails",
)];

use crate::lock::DEFAULT_MLFLOW;

fn is_tag(value: &str) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && (bytes[0].is_ascii_alphanumeric() || bytes[0] == b'_')
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

impl ImageTag {
    pub fn parse(value: &str) -> Checked<Self> {
        if is_tag(value) {
            return Ok(Self(value.to_owned()));
        }
        let grammar = "a tag is up to 128 letters, digits, `_`, `.` and `-`, not starting with `.` or `-`, e.g. `1.0.0`";
        let (what, help) = if value.is_empty() {
            ("is empty".to_owned(), grammar.to_owned())
        } else if let Some(stripped) = value.strip_prefix(':') {
            (
                "starts with `:`".to_owned(),
                format!(
                    "leave out the colon: `tag = \"{}\"`",
                    crate::diag::shown(stripped)
                ),
            )
        } else if value.len() > 128 {
            (
                format!("is {} characters long; Docker allows 128", value.len()),
                grammar.to_owned(),
            )
        } else if value.starts_with(['.', '-']) {
            (format!("starts with `{}`", &value[..1]), grammar.to_owned())
        } else if let Some(c) = value
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
        {
            let help = if c == '+' {
                format!(
                    "Docker tags cannot hold `+`; write the build metadata with `-` or `_`: `tag = \"{}\"`",
                    crate::diag::shown(&value.replace('+', "-"))
                )
            } else {
                grammar.to_owned()
            };
            (format!("holds `{c}`"), help)
        } else {
            ("is not a Docker tag".to_owned(), grammar.to_owned())
        };
        Err(Problem::new(Code::InvalidTag, format!("`tag` {what}"))
            .label("not a Docker tag")
            .help(help))
    }

    #[must_use]
    pub fn is_latest(&self) -> bool {
        self.0 == "latest"
    }
}

impl ImageRef {
    /// `[HOST[:PORT]/]PATH[:TAG][@sha256:DIGEST]`, with a tag or a digest.
    pub fn parse(value: &str) -> Checked<Self> {
        let bad = |what: &str| {
            let lower = value.to_ascii_lowercase();
            let help = if lower != value && Self::parse(&lower).is_ok() {
                format!(
                    "repository paths are lowercase: did you mean `{}`?",
                    crate::diag::shown(&lower)
                )
            } else {
                "write a full reference with a tag or digest, e.g. `europe-west3-docker.pkg.dev/acme/tools/mlflow:3.17.2`".to_owned()
            };
            Problem::new(Code::InvalidImage, format!("`registry.image` {what}"))
                .label("not an image reference")
                .help(help)
        };
        let (name, digest) = match value.split_once('@') {
            Some((name, digest)) => (name, Some(digest)),
            None => (value, None),
        };
        if let Some(digest) = digest {
            let hex = digest.strip_prefix("sha256:").unwrap_or("");
            if hex.len() != 64
                || !hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return Err(bad("has an invalid digest (`sha256:` and 64 hex digits)"));
            }
        }
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let (path, tag) = match name[last_slash..].rfind(':') {
            Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
            None => (name, None),
        };
        if let Some(tag) = tag
            && !is_tag(tag)
        {
            return Err(bad("has an invalid tag"));
        }
        if tag.is_none() && digest.is_none() {
            return Err(
                Problem::new(Code::InvalidImage, "`registry.image` has no tag or digest")
                    .label("the registry would resolve `latest`")
                    .help(format!(
                        "pin the image: `{0}:1.0.0` or `{0}@sha256:…`",
                        crate::diag::shown(value)
                    )),
            );
        }
        let mut parts = path.split('/').peekable();
        let host = parts
            .peek()
            .copied()
            .filter(|first| first.contains('.') || first.contains(':') || *first == "localhost");
        if host.is_some() {
            parts.next();
        }
        if let Some(host) = host {
            let (hostname, port) = host
                .split_once(':')
                .map_or((host, None), |(h, p)| (h, Some(p)));
            let host_ok = hostname.split('.').all(|l| {
                !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            }) && port.is_none_or(|p| p.parse::<u16>().is_ok());
            if !host_ok {
                return Err(bad("has an invalid registry host"));
            }
        }
        let components: Vec<&str> = parts.collect();
        let component_ok = |c: &&str| {
            !c.is_empty()
                && c.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
                })
                && c.starts_with(|ch: char| ch.is_ascii_alphanumeric())
                && c.ends_with(|ch: char| ch.is_ascii_alphanumeric())
        };
        if components.is_empty() || !components.iter().all(component_ok) {
            return Err(bad(
                "has an invalid repository path (lowercase letters, digits, `.`, `_`, `-`)",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// The registry host of the reference, when it names one.
    #[must_use]
    pub fn host(&self) -> Option<&str> {
        let first = self.0.split('/').next()?;
        (self.0.contains('/')
            && (first.contains('.') || first.contains(':') || first == "localhost"))
            .then_some(first)
    }

    /// The tag of the reference, when it has one (`name:tag` or `name:tag@digest`).
    #[must_use]
    pub fn tag(&self) -> Option<&str> {
        let name = self.0.split('@').next().unwrap_or_default();
        let last = &name[name.rfind('/').map_or(0, |i| i + 1)..];
        last.split_once(':').map(|(_, tag)| tag)
    }

    /// A reference the compiler derives from validated parts.
    pub(crate) fn derived(value: String) -> Self {
        Self(value)
    }
}

impl MlflowVersion {
    pub fn parse(value: &str) -> Checked<Self> {
        let numbers: Vec<Option<u32>> = value
            .split('.')
            .map(|n| n.parse().ok().filter(|_| !n.starts_with('+')))
            .collect();
        let [Some(major), Some(minor), Some(_)] = numbers.as_slice() else {
            return Err(Problem::new(
                Code::InvalidMlflowVersion,
                format!("`{}` is not an MLflow release", crate::diag::shown(value)),
            )
            .label("not `MAJOR.MINOR.PATCH`")
            .help(
                match value
                    .strip_prefix(['v', 'V'])
                    .filter(|rest| Self::parse(rest).is_ok())
                {
                    Some(rest) => format!("leave out the `v`: `mlflow_version = \"{rest}\"`"),
                    None => format!(
                        "pin an exact release, e.g. `mlflow_version = \"{DEFAULT_MLFLOW}\"`"
                    ),
                },
            ));
        };
        if (*major, *minor) < (3, 5) {
            return Err(Problem::new(Code::UnsupportedMlflowVersion, format!("MLflow {value} is older than 3.5.0"))
                .label("too old")
                .help(format!("the bundle relies on `--allowed-hosts` (MLflow 3.5.0 and later); use `{DEFAULT_MLFLOW}`")));
        }
        if let Some((_, why)) = BROKEN_MLFLOW.iter().find(|(version, _)| *version == value) {
            return Err(
                Problem::new(Code::UnsupportedMlflowVersion, format!("MLflow {why}"))
                    .label("cannot be installed")
                    .help(format!("use `{DEFAULT_MLFLOW}`")),
            );
        }
        Ok(Self(value.to_owned()))
    }

    #[must_use]
    pub fn default_version() -> Self {
        Self(DEFAULT_MLFLOW.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        assert!(ImageTag::parse("1.0.0").is_ok());
        assert!(ImageTag::parse("latest").unwrap().is_latest());
        for bad in ["", ".1", "-1", "1.0 ", "a/b", "x".repeat(129).as_str()] {
            assert!(ImageTag::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            ImageTag::parse(":1.0").unwrap_err().help,
            "leave out the colon: `tag = \"1.0\"`"
        );
    }

    #[test]
    fn image_refs() {
        for good in [
            "europe-west3-docker.pkg.dev/acme/tools/mlflow:3.17.2",
            "ghcr.io/mlflow/mlflow:v3.17.2",
            "localhost:5000/mlflow:1",
            "mlflow/mlflow@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert!(ImageRef::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "ghcr.io/mlflow/mlflow",
            "ghcr.io/MLflow/mlflow:1",
            "ghcr.io//mlflow:1",
            "ghcr.io/mlflow:bad tag",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            ImageRef::parse("ghcr.io/mlflow/mlflow:1").unwrap().host(),
            Some("ghcr.io")
        );
        assert_eq!(ImageRef::parse("mlflow/mlflow:1").unwrap().host(), None);
        assert_eq!(
            ImageRef::parse("localhost:5000/mlflow:v3.16.1")
                .unwrap()
                .tag(),
            Some("v3.16.1")
        );
        assert_eq!(
            ImageRef::parse(
                "ghcr.io/a/mlflow:3.17.2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
            )
            .unwrap()
            .tag(),
            Some("3.17.2")
        );
        assert_eq!(
            ImageRef::parse(
                "localhost:5000/mlflow@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
            )
            .unwrap()
            .tag(),
            None
        );
    }

    #[test]
    fn mlflow_versions() {
        assert!(MlflowVersion::parse("3.17.2").is_ok());
        assert_eq!(
            MlflowVersion::parse("2.22.0").unwrap_err().code,
            Code::UnsupportedMlflowVersion
        );
        assert_eq!(
            MlflowVersion::parse("3.18.0").unwrap_err().code,
            Code::UnsupportedMlflowVersion
        );
        assert_eq!(
            MlflowVersion::parse("3.17").unwrap_err().code,
            Code::InvalidMlflowVersion
        );
    }
}
