//! A bundle directory holding arbitrary entries (files, links, FIFOs and directories at
//! arbitrary relative paths, bundle paths included), then `write::diff` (what
//! `build --check` prints) and `write::write` (`build`): neither prints the content of a
//! file the bundle would not write, neither blocks, and nothing planted is deleted when the
//! directory is refused. Names may hold any byte a file name can, escapes included: they
//! reach the messages only through `printable`.

#![no_main]

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use mlflow_stack::emit::Bundle;
use mlflow_stack::printable::is_unsafe;
use mlflow_stack::source::Source;
use mlflow_stack::write;

const STACK: &str = "project = \"acme-ml-prod\"\nregion = \"europe-west3\"\nbucket = \"acme-ml-prod-mlflow\"\ntag = \"1.0.0\"\nenvironment = \"gke\"\n";
const SECRET: &str = "TOP-SECRET-VALUE";

#[derive(Debug)]
enum Kind {
    /// A regular file holding the secret.
    File,
    /// A link to a file holding the secret.
    Link,
    Fifo,
    Dir,
    /// A bundle file rewritten by hand (its new content may be shown: the bundle writes it).
    Edit,
}

#[derive(Debug)]
struct Entry {
    kind: Kind,
    /// Path bytes; one of the bundle's own paths when `bundle_path` is set.
    name: Vec<u8>,
    bundle_path: Option<u8>,
}

impl Entry {
    fn take(u: &mut Unstructured<'_>) -> Result<Self> {
        let kind = match u.int_in_range(0..=4u8)? {
            0 => Kind::File,
            1 => Kind::Link,
            2 => Kind::Fifo,
            3 => Kind::Dir,
            _ => Kind::Edit,
        };
        let bundle_path = if u.arbitrary::<bool>()? {
            Some(u.arbitrary::<u8>()?)
        } else {
            None
        };
        Ok(Self {
            kind,
            name: u.arbitrary()?,
            bundle_path,
        })
    }
}

fn bundle() -> &'static Bundle {
    static BUNDLE: OnceLock<Bundle> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        mlflow_stack::compile(&Source::new("stack.toml", STACK))
            .bundle
            .expect("the stack compiles")
    })
}

/// A relative path of plain components inside the bundle directory, or none.
fn relative(name: &[u8]) -> Option<PathBuf> {
    let path = Path::new(OsStr::from_bytes(name));
    let plain = !name.is_empty()
        && !name.contains(&0)
        && name.len() < 200
        && path.components().all(|c| matches!(c, Component::Normal(_)));
    plain.then(|| path.to_owned())
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mut entries = Vec::new();
    while !u.is_empty() && entries.len() < 8 {
        match Entry::take(&mut u) {
            Ok(entry) => entries.push(entry),
            Err(_) => break,
        }
    }
    let bundle = bundle();
    let scratch = tempfile_dir();
    let secret = scratch.join("secret");
    fs::write(&secret, SECRET).unwrap();
    let out = scratch.join("stack");
    write::write(bundle, &out).unwrap();
    let names: Vec<&String> = bundle.files.keys().collect();
    let mut planted: Vec<PathBuf> = Vec::new();
    for entry in &entries {
        let name = match entry.bundle_path {
            Some(index) => PathBuf::from(names[usize::from(index) % names.len()]),
            None => match relative(&entry.name) {
                Some(name) => name,
                None => continue,
            },
        };
        let path = out.join(&name);
        // Never plant through what is there (a FIFO would block, a link would redirect).
        if fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir())
            || path
                .ancestors()
                .skip(1)
                .take_while(|a| *a != out)
                .any(|a| fs::symlink_metadata(a).is_ok_and(|m| !m.is_dir()))
        {
            continue;
        }
        let _ = fs::remove_file(&path);
        if fs::create_dir_all(path.parent().unwrap()).is_err() {
            continue;
        }
        planted.retain(|p| *p != name);
        // A regular file at a bundle path is that file edited by hand: the diff may show it.
        let made = match entry.kind {
            Kind::Edit | Kind::File
                if bundle.files.contains_key(name.to_string_lossy().as_ref()) =>
            {
                fs::write(&path, "edited by hand\n").map(|()| false)
            }
            Kind::File | Kind::Edit => fs::write(&path, SECRET).map(|()| true),
            Kind::Link => symlink(&secret, &path).map(|()| true),
            Kind::Fifo => mkfifo(&path).map(|()| true),
            Kind::Dir => fs::create_dir(&path).map(|()| true),
        };
        if made.unwrap_or(false) {
            planted.push(name);
        }
    }
    let diff = write::diff(bundle, &out);
    let written = write::write(bundle, &out);
    let printed = [
        diff.as_ref().map_or_else(ToString::to_string, Clone::clone),
        written
            .as_ref()
            .map_or_else(ToString::to_string, |_| String::new()),
    ];
    for text in &printed {
        assert!(!text.contains(SECRET), "{text}");
    }
    // Messages name entries through `printable`: the diff's own content is the bundle's.
    if let Err(error) = &written {
        let message = error.to_string();
        assert!(!message.chars().any(is_unsafe), "{message:?}");
    }
    if !planted.is_empty() {
        assert!(written.is_err(), "{planted:?} accepted");
        for name in &planted {
            assert!(
                fs::symlink_metadata(out.join(name)).is_ok(),
                "{} deleted",
                name.display()
            );
        }
    }
    let _ = fs::remove_dir_all(&scratch);
});

fn tempfile_dir() -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "mlflow-stack-fuzz-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn mkfifo(path: &Path) -> std::io::Result<()> {
    let status = std::process::Command::new("mkfifo").arg(path).status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other("mkfifo failed"))
    }
}
