//! Exclusive lock files: one writer per database, one downloader per directory.
//!
//! The lock is the kernel's (`flock`), held by an open file: released on drop and when the
//! process dies, so a killed run never leaves a stale lock behind.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub enum LockError {
    /// Another process held the lock for the whole wait.
    Busy,
    Io(std::io::Error),
}

/// Takes the lock on `path` (creating the file), polling for up to `wait`.
pub fn exclusive(path: &Path, wait: Duration) -> Result<File, LockError> {
    let file = OpenOptions::new().create(true).truncate(false).write(true).open(path).map_err(LockError::Io)?;
    let start = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => {
                if start.elapsed() >= wait {
                    return Err(LockError::Busy);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(LockError::Io(e)),
        }
    }
}

/// A lock another process held past the wait, or one that could not be taken at all.
#[derive(Debug, thiserror::Error)]
pub enum HoldError {
    /// `what` says who holds it and what that means (exit 5, "busy").
    #[error("{what} (waited {waited}s)")]
    Busy { what: String, waited: u64 },
    #[error("lock file `{}`: {source}", path.display())]
    Io { path: std::path::PathBuf, source: std::io::Error },
}

/// Takes the lock on `path` for the whole of what follows, waiting up to `wait`; `busy` says
/// what another holder means.
pub fn hold(path: &Path, busy: &str, wait: Duration) -> Result<File, HoldError> {
    match exclusive(path, wait) {
        Ok(f) => Ok(f),
        Err(LockError::Busy) => Err(HoldError::Busy { what: busy.to_string(), waited: wait.as_secs() }),
        Err(LockError::Io(source)) => Err(HoldError::Io { path: path.to_path_buf(), source }),
    }
}

/// The webhook delivery lock of database `db`: one deliverer at a time.
pub fn webhooks(db: &Path, wait: Duration) -> Result<File, HoldError> {
    let path = std::path::PathBuf::from(format!("{}.webhooks.lock", db.display()));
    hold(&path, &format!("webhooks of `{}` are busy: another zonefeed is delivering", db.display()), wait)
}

/// The analysis lock of database `db`: one `analyze` keeping results at a time.
pub fn analyses(db: &Path, wait: Duration) -> Result<File, HoldError> {
    let path = std::path::PathBuf::from(format!("{}.analyze.lock", db.display()));
    hold(&path, &format!("analyses of `{}` are busy: another zonefeed is analysing", db.display()), wait)
}
