//! Reading files the CLI did not write (stack files, what an `--out` directory holds):
//! regular files only, never through a symbolic link, never more than a size cap.
//!
//! A file is checked with `lstat` before it is opened (a FIFO, a device or a socket is never
//! opened at all), opened with `O_NOFOLLOW | O_NONBLOCK`, and checked again with `fstat` on
//! the open descriptor, so a file swapped for a link or a device in between is refused too.
//! It is read through `take(limit + 1)`: `/dev/zero` or a huge file cannot exhaust memory.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::printable::printable_path;

/// The largest stack file read: far above any real stack (a few hundred bytes).
pub const STACK_LIMIT: u64 = 4 << 20;

/// The largest file of an existing bundle read by `build` and `build --check`.
pub const BUNDLE_FILE_LIMIT: u64 = 4 << 20;

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {}: {source}", printable_path(.path))]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "cannot read {}: it is {kind}; mlflow-stack reads only regular files",
        printable_path(.path)
    )]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error(
        "cannot read {}: it is larger than {} MiB",
        printable_path(.path),
        .limit >> 20
    )]
    TooLarge { path: PathBuf, limit: u64 },
}

/// What kind of file system entry a file type is, for messages ("a symbolic link").
#[must_use]
pub fn kind(file_type: fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_socket() {
            return "a socket";
        }
        if file_type.is_char_device() || file_type.is_block_device() {
            return "a device";
        }
    }
    if file_type.is_symlink() {
        "a symbolic link"
    } else if file_type.is_dir() {
        "a directory"
    } else if file_type.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

/// The bytes of the regular file at `path` (not a link to one), at most `limit` of them.
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let file = open_regular(path)?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| ReadError::Io {
            path: path.to_owned(),
            source,
        })?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge {
            path: path.to_owned(),
            limit,
        });
    }
    Ok(bytes)
}

/// The first `len` bytes (or fewer) of the regular file at `path`.
pub fn read_prefix(path: &Path, len: u64) -> Result<Vec<u8>, ReadError> {
    let file = open_regular(path)?;
    let mut bytes = Vec::new();
    file.take(len)
        .read_to_end(&mut bytes)
        .map_err(|source| ReadError::Io {
            path: path.to_owned(),
            source,
        })?;
    Ok(bytes)
}

fn open_regular(path: &Path) -> Result<File, ReadError> {
    let io_error = |source| ReadError::Io {
        path: path.to_owned(),
        source,
    };
    let not_regular = |file_type| ReadError::NotRegular {
        path: path.to_owned(),
        kind: kind(file_type),
    };
    let before = fs::symlink_metadata(path).map_err(io_error)?;
    if !before.file_type().is_file() {
        return Err(not_regular(before.file_type()));
    }
    let file = open_no_follow(path).map_err(|source| match fs::symlink_metadata(path) {
        Ok(now) if !now.file_type().is_file() => not_regular(now.file_type()),
        _ => io_error(source),
    })?;
    let opened = file.metadata().map_err(io_error)?;
    if !opened.file_type().is_file() {
        return Err(not_regular(opened.file_type()));
    }
    Ok(file)
}

#[cfg(unix)]
fn open_no_follow(path: &Path) -> io::Result<File> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = rustix::fs::open(path, flags, Mode::empty())?;
    Ok(File::from(fd))
}

#[cfg(not(unix))]
fn open_no_follow(path: &Path) -> io::Result<File> {
    File::open(path)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    struct Scratch(PathBuf);

    impl Scratch {
        fn new(label: &str) -> Self {
            let path = std::env::temp_dir()
                .join(format!("mlflow-stack-read-{label}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&path);
            fs::create_dir_all(&path).unwrap();
            Self(path)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_regular_file_is_read_whole_up_to_the_limit() {
        let scratch = Scratch::new("regular");
        let path = scratch.0.join("a.toml");
        fs::write(&path, "0123456789").unwrap();
        assert_eq!(read_regular(&path, 10).unwrap(), b"0123456789");
        assert!(matches!(
            read_regular(&path, 9),
            Err(ReadError::TooLarge { limit: 9, .. })
        ));
        assert_eq!(read_prefix(&path, 4).unwrap(), b"0123");
    }

    #[test]
    fn links_fifos_devices_and_directories_are_refused_unread() {
        let scratch = Scratch::new("special");
        let target = scratch.0.join("target");
        fs::write(&target, "secret").unwrap();
        let link = scratch.0.join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let fifo = scratch.0.join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
            0,
        )
        .unwrap();
        for (path, expected) in [
            (link.as_path(), "a symbolic link"),
            (fifo.as_path(), "a FIFO"),
            (Path::new("/dev/zero"), "a device"),
            (scratch.0.as_path(), "a directory"),
        ] {
            match read_regular(path, 1 << 20) {
                Err(ReadError::NotRegular { kind, .. }) => assert_eq!(kind, expected),
                other => panic!("{}: {other:?}", path.display()),
            }
        }
    }
}
