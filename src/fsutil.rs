//! Writing a file atomically: the one implementation every output file goes through.
//!
//! Invariants: the content goes to a uniquely named temporary file beside the target
//! (so two runs never share one, and the rename stays on one file system); the target is
//! replaced only by a synced, complete file; every error path removes the temporary file;
//! a symbolic link is written through (the link stays, its target is replaced); an existing
//! file keeps its permissions and, where allowed, its owner.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::error::FileError;

/// Suffix of our temporary files; with the target's name as prefix it identifies the
/// leftovers of an earlier run that was killed.
const TMP_SUFFIX: &str = ".incident-tmp";

/// A temporary file older than this, for the same target, was left by a killed run (a
/// live run writes to its file, which keeps it younger).
const STALE_AFTER: Duration = Duration::from_secs(600);

/// An output file being written; dropped without [`AtomicFile::commit`], it leaves the
/// target as it was.
pub(crate) struct AtomicFile {
    out: PathWriter,
    target: PathBuf,
}

/// A writer whose errors name the file they concern.
struct PathWriter {
    inner: BufWriter<tempfile::NamedTempFile>,
    path: PathBuf,
}

impl Write for PathWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf).map_err(|e| named(&self.path, e))
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner.write_all(buf).map_err(|e| named(&self.path, e))
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().map_err(|e| named(&self.path, e))
    }
}

/// An I/O error that says which file it was writing.
fn named(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), FileError::new("write", path, e))
}

/// Follows symbolic links to the file that is really written (also a dangling link's
/// target, which the write creates).
fn resolve(target: &Path) -> PathBuf {
    let mut p = target.to_path_buf();
    for _ in 0..40 {
        match fs::read_link(&p) {
            Ok(next) if next.is_absolute() => p = next,
            Ok(next) => p = p.parent().unwrap_or(Path::new("")).join(next),
            Err(_) => break,
        }
    }
    p
}

/// Removes temporary files of `name` in `dir` that a killed run left behind.
fn clean_stale(dir: &Path, name: &str) {
    let prefix = format!(".{name}.");
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for e in entries.flatten() {
        let file_name = e.file_name();
        let Some(n) = file_name.to_str() else {
            continue;
        };
        if !(n.starts_with(&prefix) && n.ends_with(TMP_SUFFIX)) {
            continue;
        }
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > STALE_AFTER);
        if old {
            let _ = fs::remove_file(e.path());
        }
    }
}

impl AtomicFile {
    /// Starts writing `target`.
    pub(crate) fn create(target: &Path) -> Result<Self, FileError> {
        let target = resolve(target);
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        clean_stale(&dir, &name);
        let existing = fs::metadata(&target).ok();
        let prefix = format!(".{name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(TMP_SUFFIX);
        // A new file gets the usual mode (0666 less the umask), not the private 0600 of
        // a temporary file.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(fs::Permissions::from_mode(0o666));
        }
        let tmp = builder
            .tempfile_in(&dir)
            .map_err(|e| FileError::new("create a temporary file in", &dir, e))?;
        if let Some(meta) = &existing {
            tmp.as_file()
                .set_permissions(meta.permissions())
                .map_err(|e| FileError::new("set permissions of", tmp.path(), e))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::MetadataExt;
                // Only a privileged user may give a file away: where not allowed, the
                // writer owns the new file.
                let _ =
                    std::os::unix::fs::fchown(tmp.as_file(), Some(meta.uid()), Some(meta.gid()));
            }
        }
        Ok(AtomicFile {
            out: PathWriter {
                inner: BufWriter::with_capacity(1 << 20, tmp),
                path: target.clone(),
            },
            target,
        })
    }

    /// Gives the new file this mode (unix permission bits) instead of the target's.
    #[cfg(unix)]
    pub(crate) fn set_mode(&mut self, mode: u32) -> Result<(), FileError> {
        use std::os::unix::fs::PermissionsExt;
        let tmp = self.out.inner.get_ref();
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(mode))
            .map_err(|e| FileError::new("set permissions of", tmp.path(), e))
    }

    /// Where the content goes until [`AtomicFile::commit`].
    pub(crate) fn writer(&mut self) -> &mut (dyn Write + '_) {
        &mut self.out
    }

    /// Flushes, syncs and moves the content over the target.
    pub(crate) fn commit(self) -> Result<(), FileError> {
        let target = self.target;
        let tmp = self
            .out
            .inner
            .into_inner()
            .map_err(|e| FileError::new("write", &target, e.into_error()))?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| FileError::new("sync", &target, e))?;
        tmp.persist(&target)
            .map_err(|e| FileError::new("replace", &target, e.error))?;
        if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Makes the rename durable; not possible on every platform.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

/// Writes `target` atomically with what `write` produces; on any error the target is
/// left as it was and no temporary file remains.
pub fn write_atomic<T, E: From<crate::Error>>(
    target: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<T, E>,
) -> Result<T, E> {
    let mut file = AtomicFile::create(target).map_err(crate::Error::from)?;
    let value = write(file.writer())?;
    file.commit().map_err(crate::Error::from)?;
    Ok(value)
}

/// Writes `path` atomically (see [`AtomicFile`]), creating its directory.
/// `mode` (unix) applies to the new file; without it an existing file keeps its
/// permissions.
pub(crate) fn write_file(path: &Path, bytes: &[u8], mode: Option<u32>) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let mut file = AtomicFile::create(path).map_err(io::Error::other)?;
    #[cfg(unix)]
    if let Some(mode) = mode {
        file.set_mode(mode).map_err(io::Error::other)?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    file.writer().write_all(bytes)?;
    file.commit().map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(w: &mut dyn Write, bytes: &[u8]) -> crate::Result<()> {
        w.write_all(bytes)
            .map_err(|e| FileError::new("write", Path::new("test"), e).into())
    }

    fn temps(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(TMP_SUFFIX))
            .collect()
    }

    #[test]
    fn replaces_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("out.json");
        fs::write(&t, "old").unwrap();
        write_atomic(&t, |w| put(w, b"new")).unwrap();
        assert_eq!(fs::read_to_string(&t).unwrap(), "new");
        let r: crate::Result<()> = write_atomic(&t, |w| {
            w.write_all(b"partial").unwrap();
            Err(FileError::new("write", &t, io::Error::other("boom")).into())
        });
        assert!(r.is_err());
        assert_eq!(fs::read_to_string(&t).unwrap(), "new");
        assert!(temps(dir.path()).is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn keeps_links_and_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        fs::write(&real, "old").unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink("real.json", &link).unwrap();
        write_atomic(&link, |w| put(w, b"new")).unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&real).unwrap(), "new");
        let mode = fs::metadata(&real).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
    }

    #[test]
    fn removes_stale_temporaries_of_the_same_target_only() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("out.json");
        let stale = dir.path().join(format!(".out.json.abc123{TMP_SUFFIX}"));
        let fresh = dir.path().join(format!(".out.json.def456{TMP_SUFFIX}"));
        let other = dir.path().join(format!(".other.json.abc123{TMP_SUFFIX}"));
        for p in [&stale, &fresh, &other] {
            fs::write(p, "x").unwrap();
        }
        let old = SystemTime::now() - Duration::from_secs(3600);
        for p in [&stale, &other] {
            File::options()
                .write(true)
                .open(p)
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
        write_atomic(&t, |w| put(w, b"x")).unwrap();
        assert!(!stale.exists());
        assert!(fresh.exists(), "a live run's file is kept");
        assert!(other.exists(), "another target's file is kept");
    }
}
