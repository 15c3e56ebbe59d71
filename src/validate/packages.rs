//! `server.packages`: extra pip requirements of the server image, each exactly pinned.

use std::fmt;

use crate::diag::Code;
use crate::lock;
use crate::problem::{Checked, Problem};

/// A requirement `name==version` (extras allowed: `name[a,b]==version`): a PEP 508 name
/// and an exact PEP 440 version, nothing else (no ranges, URLs or markers), so that two
/// builds of the same tag install the same code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    name: String,
    extras: Vec<String>,
    version: String,
}

impl fmt::Display for Package {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if !self.extras.is_empty() {
            write!(f, "[{}]", self.extras.join(","))?;
        }
        write!(f, "=={}", self.version)
    }
}

/// PEP 508 names: ASCII letters and digits, with `.`, `_` and `-` inside.
fn is_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A PEP 440 public version, optionally with a local part: `1.2.3`, `2.0.0rc1`,
/// `1.0.post2`, `3.1.dev4`, `1.0+cpu`. No `*`.
fn is_exact_version(version: &str) -> bool {
    let (public, local) = match version.split_once('+') {
        Some((public, local)) => (public, Some(local)),
        None => (version, None),
    };
    if local.is_some_and(|l| {
        l.is_empty()
            || !l
                .split('.')
                .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric()))
    }) {
        return false;
    }
    let public = public.strip_prefix('v').unwrap_or(public);
    // Release: N(.N)*, each N digits.
    let bytes = public.as_bytes();
    let mut end = 0;
    loop {
        let digits = bytes[end..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 {
            return false;
        }
        end += digits;
        if bytes.get(end) == Some(&b'.') && bytes.get(end + 1).is_some_and(u8::is_ascii_digit) {
            end += 1;
        } else {
            break;
        }
    }
    let mut rest = &public[end..];
    for suffix in ["a", "b", "rc", ".post", ".dev"] {
        if let Some(after) = rest.strip_prefix(suffix) {
            let digits = after
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after.len());
            if digits == 0 {
                return false;
            }
            rest = &after[digits..];
        }
    }
    rest.is_empty()
}

impl Package {
    pub fn parse(value: &str) -> Checked<Self> {
        let help = "write `name==version`, e.g. `\"mlflow-oidc-auth==11.0.2\"`: an exact version, so \
                    that every build of this tag installs the same code";
        let bad = |message: String| {
            Problem::new(Code::InvalidPackage, message)
                .label("not a pinned requirement")
                .help(help)
        };
        for (mark, what) in [
            ('@', "a direct URL reference"),
            (';', "an environment marker"),
        ] {
            if let Some(i) = value.find(mark) {
                return Err(bad(format!(
                    "`{mark}` starts {what}, which is not pinned by version"
                ))
                .within(i..i + 1));
            }
        }
        if let Some((i, c)) = value.char_indices().find(|(_, c)| {
            !(c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    '.' | '_' | '-' | '[' | ']' | ',' | '=' | '+' | '<' | '>' | '~' | '!' | '*'
                ))
        }) {
            return Err(bad(format!(
                "`{}` cannot appear in a pinned requirement",
                crate::diag::shown(&c.to_string())
            ))
            .within(i..i + c.len_utf8()));
        }
        let Some((requirement, version)) = value.split_once("==") else {
            let name_end = value
                .find(['<', '>', '~', '!', '=', '['])
                .unwrap_or(value.len());
            let name = &value[..name_end];
            return Err(Problem::new(
                Code::UnpinnedPackage,
                format!("`{}` is not pinned to one version", crate::diag::shown(value)),
            )
            .label("a range or no version at all")
            .help(format!(
                "pin it exactly, e.g. `\"{name}==1.2.3\"` with the version you tested (`pip index versions {name}` lists them)"
            )));
        };
        if version.starts_with('=') || version.contains("==") {
            return Err(bad(
                "`===` is an arbitrary-equality match, not a version pin".to_owned(),
            ));
        }
        if version.contains('*') {
            return Err(Problem::new(
                Code::UnpinnedPackage,
                format!("`=={version}` is a wildcard, not one version"),
            )
            .label("a range")
            .help("pin the exact version you tested, e.g. `==1.2.3`"));
        }
        if !is_exact_version(version) {
            return Err(bad(format!("`{version}` is not a version")));
        }
        let (name, extras) = match requirement.split_once('[') {
            Some((name, extras)) => {
                let Some(extras) = extras.strip_suffix(']') else {
                    return Err(bad("an extra is not closed with `]`".to_owned()));
                };
                let extras: Vec<String> = extras.split(',').map(str::to_owned).collect();
                if !extras.iter().all(|e| is_name(e)) {
                    return Err(bad(format!(
                        "`[{}]` are not valid extras",
                        extras.join(",")
                    )));
                }
                (name, extras)
            }
            None => (requirement, Vec::new()),
        };
        if !is_name(name) {
            return Err(bad(format!(
                "`{}` is not a package name",
                crate::diag::shown(name)
            )));
        }
        Ok(Self {
            name: name.to_owned(),
            extras,
            version: version.to_owned(),
        })
    }

    /// The name as pip compares it.
    #[must_use]
    pub fn key(&self) -> String {
        lock::normalize(&self.name)
    }

    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    #[must_use]
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The extras asked for (`name[a,b]==version`), as written.
    #[must_use]
    pub fn extras(&self) -> &[String] {
        &self.extras
    }
}

impl lock::Requirement for Package {
    fn key(&self) -> String {
        Package::key(self)
    }

    fn version(&self) -> &str {
        &self.version
    }

    fn has_extras(&self) -> bool {
        !self.extras.is_empty()
    }
}

/// The requirement as written in `requirements.txt`.
impl serde::Serialize for Package {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_requirements() {
        for good in [
            "mlflow-oidc-auth==11.0.2",
            "Flask_Cors==6.0.1",
            "mlflow[auth]==3.17.2",
            "torch==2.5.1+cpu",
            "pkg==1.0rc1",
            "pkg==1.0.post2",
            "pkg==1.0.dev3",
            "a.b==1",
        ] {
            assert!(Package::parse(good).is_ok(), "{good}");
        }
        assert_eq!(
            Package::parse("mlflow[auth,extras]==3.17.2")
                .unwrap()
                .to_string(),
            "mlflow[auth,extras]==3.17.2"
        );
        for (bad, code) in [
            ("requests", Code::UnpinnedPackage),
            ("requests>=2", Code::UnpinnedPackage),
            ("requests~=2.3", Code::UnpinnedPackage),
            ("requests==2.*", Code::UnpinnedPackage),
            ("requests===2.3", Code::InvalidPackage),
            ("requests==two", Code::InvalidPackage),
            ("-requests==1", Code::InvalidPackage),
            ("pkg @ https://example.com/pkg.whl", Code::InvalidPackage),
            ("pkg==1.0; python_version<'3.12'", Code::InvalidPackage),
            ("pkg[x==1.0", Code::InvalidPackage),
        ] {
            assert_eq!(Package::parse(bad).map_err(|p| p.code), Err(code), "{bad}");
        }
    }

    #[test]
    fn names_compare_as_pip_does() {
        assert_eq!(
            lock::normalize("Google_Cloud.Storage"),
            "google-cloud-storage"
        );
        assert_eq!(lock::normalize("a__b"), "a-b");
    }
}
