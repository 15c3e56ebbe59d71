//! Where `build --out DIR` puts each stack's bundle: always `DIR/<file stem>/`.
//!
//! One rule whatever the number of stacks, so adding a second stack never moves the first
//! bundle, and a bundle's directory names the stack file it came from. With the rule fixed,
//! `--check` can also tell which bundles in DIR have no stack any more (orphans).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// The file stem of a stack path: the name of its bundle directory.
#[must_use]
pub fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The name of the stack file a bundle directory stands for: `deploy/team.v1` is the
/// bundle of `team.v1.toml` (its directory is the stem of that name).
#[must_use]
pub fn stack_file_name(dir: &Path) -> String {
    dir.file_name().map_or_else(String::new, |name| {
        format!("{}.toml", name.to_string_lossy())
    })
}

/// The bundle directory of each stack, `out/<stem>`, in the order of `paths`; an error
/// when two stacks share a stem (they would write into one directory).
pub fn out_dirs(paths: &[PathBuf], out: &Path) -> Result<Vec<PathBuf>, String> {
    let mut seen: BTreeMap<String, &Path> = BTreeMap::new();
    let mut dirs = Vec::with_capacity(paths.len());
    for path in paths {
        let stem = stem(path);
        let raw = path.file_stem().unwrap_or_default();
        if raw
            .to_str()
            .is_none_or(|s| s.chars().any(crate::printable::is_unsafe))
        {
            let what = if raw.to_str().is_none() {
                "is not valid UTF-8"
            } else {
                "holds a control or invisible character"
            };
            return Err(format!(
                "{}: its bundle directory would be named after it, and the name {what} \
                 (`{}`); rename the file, e.g. with letters, digits, `-`, `_` and `.`",
                crate::printable::printable_path(path),
                crate::printable::printable(&stem)
            ));
        }
        if let Some(other) = seen.insert(stem.clone(), path) {
            return Err(format!(
                "{} and {} would both build into {}; rename one of them",
                crate::printable::printable_path(other),
                crate::printable::printable_path(path),
                crate::printable::printable_path(&out.join(&stem))
            ));
        }
        dirs.push(out.join(stem));
    }
    Ok(dirs)
}

/// Bundles of ours directly in `out` whose directory is none of `dirs`: their stack was
/// deleted, renamed, or left out of the arguments. Sorted; empty when `out` is missing.
pub fn orphans(out: &Path, dirs: &[PathBuf]) -> io::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(out) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        result => result?,
    };
    let mut orphans = Vec::new();
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        // Only real directories: a link in DIR is not a bundle `build` wrote.
        if entry.file_type()?.is_dir()
            && !dirs.iter().any(|dir| dir == &path)
            && crate::write::is_bundle(&path)
        {
            orphans.push(path);
        }
    }
    orphans.sort();
    Ok(orphans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_stack_or_several_get_the_same_directory() {
        let out = Path::new("deploy");
        let one = out_dirs(&[PathBuf::from("stacks/prod.toml")], out).unwrap();
        let two = out_dirs(
            &[
                PathBuf::from("stacks/prod.toml"),
                PathBuf::from("stacks/dev.toml"),
            ],
            out,
        )
        .unwrap();
        assert_eq!(one, [PathBuf::from("deploy/prod")]);
        assert_eq!(two[0], one[0]);
        assert_eq!(two[1], PathBuf::from("deploy/dev"));
    }

    #[test]
    fn the_same_stem_twice_is_refused() {
        let paths = [PathBuf::from("a/prod.toml"), PathBuf::from("b/prod.toml")];
        let error = out_dirs(&paths, Path::new("deploy")).unwrap_err();
        assert!(
            error.contains("would both build into deploy/prod"),
            "{error}"
        );
    }
}
