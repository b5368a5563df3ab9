//! What can go wrong reading or writing the knowledge base.

use std::io;
use std::path::PathBuf;

/// Reading or writing the knowledge base or its scripts failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum KbError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is not valid UTF-8 (first bad byte at offset {offset})", path.display())]
    NotUtf8 { path: PathBuf, offset: usize },
    /// The knowledge-base directory does not exist; `file` is the file looked for.
    #[error("no knowledge-base directory {}: looked for {}", dir.display(), file.display())]
    NoDir { dir: PathBuf, file: PathBuf },
}
