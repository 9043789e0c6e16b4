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
