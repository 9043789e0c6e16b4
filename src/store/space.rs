//! Disk headroom: an import stops while the disk still has room to undo it.
//!
//! SQLite needs disk to remove rows: a deletion writes WAL frames, and a checkpoint copies the
//! WAL's committed frames into the database file, which may grow by as much. An import that
//! runs the disk to 100% therefore leaves its committed batches behind: neither the deletion
//! nor the checkpoint can run, and every later import fails too (measured on a 12 MiB tmpfs
//! before this check: the WAL stayed at 9.3 MB and the disk full). So the writer stops, as
//! Elasticsearch's flood-stage watermark does, once the free space falls below a reserve plus
//! what the committed and the open transactions may still take: the WAL's size (its frames
//! go into the database file at a checkpoint), and twice the page cache's (SQLite keeps a
//! transaction's dirty pages there until the commit writes them to the WAL in one go, 9.4 MB
//! at once on the test's 12 MiB disk, and a checkpoint then copies them into the database
//! file). The failed import's rows are then removed in that room, and the next import reuses
//! their pages.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

/// The smallest reserve: room for a deletion's WAL frames (interior and freelist pages; a
/// deletion frees leaf pages without writing them) and a small import's first transactions.
const MIN_RESERVE: u64 = 1 << 20; // 1 MiB
/// The largest reserve, for large disks.
const MAX_RESERVE: u64 = 1 << 30; // 1 GiB

/// Rows written between two looks at the free space: a look is a `statvfs` and a `stat` (a few
/// microseconds), and 2,048 rows are at most a few hundred KiB of pages.
const CHECK_ROWS: usize = 2048;

/// The free space an import watches: the database's file system, and its WAL.
pub struct Headroom {
    dir: PathBuf,
    wal: PathBuf,
    /// Rows written since the last look.
    rows: std::cell::Cell<usize>,
}

/// Free and total bytes of the file system holding `dir` (for an unprivileged user: what
/// `df` shows as available).
#[cfg(unix)]
pub fn free_space(dir: &Path) -> Option<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path and `st` a statvfs the call fills in.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    let unit = st.f_frsize as u64;
    Some((st.f_bavail as u64 * unit, st.f_blocks as u64 * unit))
}

#[cfg(not(unix))]
pub fn free_space(_: &Path) -> Option<(u64, u64)> {
    None
}

/// The reserve kept on a file system of `total` bytes: 1% of it, from 1 MiB to 1 GiB.
pub fn reserve(total: u64) -> u64 {
    (total / 100).clamp(MIN_RESERVE, MAX_RESERVE)
}

impl Headroom {
    /// None for a database without a file (in memory).
    pub fn of(conn: &Connection) -> Option<Headroom> {
        let db = PathBuf::from(conn.path().filter(|p| !p.is_empty())?);
        let dir = db.parent().filter(|p| !p.as_os_str().is_empty()).map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let mut wal = db.into_os_string();
        wal.push("-wal");
        Some(Headroom { dir, wal: wal.into(), rows: std::cell::Cell::new(0) })
    }

    /// Counts `rows` written on `conn`, and looks at the free space every [`CHECK_ROWS`] of them.
    pub fn wrote(&self, conn: &Connection, rows: usize) -> rusqlite::Result<()> {
        let n = self.rows.get() + rows;
        if n < CHECK_ROWS {
            self.rows.set(n);
            return Ok(());
        }
        self.rows.set(0);
        self.check(conn)
    }

    /// An error (SQLite's "disk full", so that it is reported and cleaned up as one) once the
    /// free space is below the reserve plus the WAL's and `conn`'s page cache's sizes. A file
    /// system that cannot be asked is not checked.
    pub fn check(&self, conn: &Connection) -> rusqlite::Result<()> {
        let Some((free, total)) = free_space(&self.dir) else { return Ok(()) };
        let wal = std::fs::metadata(&self.wal).map_or(0, |m| m.len());
        // The open transaction's pages go to the WAL at its commit, then with the WAL's
        // frames into the database file at the next checkpoint: twice.
        let keep = reserve(total) + wal + 2 * cache_used(conn);
        if free >= keep {
            return Ok(());
        }
        let msg = format!(
            "the disk is nearly full: the import stopped with {} free in `{}`, short of the {} it needs to go on and still be able to undo itself; nothing of it was kept; free some space and run it again",
            mib(free),
            self.dir.display(),
            mib(keep)
        );
        Err(rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL), Some(msg)))
    }
}

/// Bytes of memory `conn`'s page cache holds: at most what the open transaction may still
/// write to the WAL.
fn cache_used(conn: &Connection) -> u64 {
    let (mut cur, mut high) = (0, 0);
    // SAFETY: the handle is live for as long as `conn`, and the call only reads a counter of
    // the connection (SQLITE_DBSTATUS_CACHE_USED, not reset).
    let rc = unsafe { rusqlite::ffi::sqlite3_db_status(conn.handle(), rusqlite::ffi::SQLITE_DBSTATUS_CACHE_USED, &mut cur, &mut high, 0) };
    if rc == rusqlite::ffi::SQLITE_OK {
        cur.max(0) as u64
    } else {
        0
    }
}

fn mib(n: u64) -> String {
    format!("{:.1} MiB", n as f64 / f64::from(1 << 20))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserve_is_a_hundredth_of_the_disk_within_bounds() {
        assert_eq!(reserve(12 << 20), MIN_RESERVE);
        assert_eq!(reserve(10 << 30), (10 << 30) / 100);
        assert_eq!(reserve(1 << 40), MAX_RESERVE);
    }

    #[test]
    fn statvfs_answers_and_a_disk_with_room_passes() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("z.db")).unwrap();
        let h = Headroom::of(&conn).unwrap();
        // The test machine's temp dir has more than its reserve free, or this says why.
        let (free, total) = free_space(dir.path()).unwrap();
        assert_eq!(h.check(&conn).is_ok(), free >= reserve(total) + 2 * cache_used(&conn), "{free} of {total}");
        assert!(Headroom::of(&Connection::open_in_memory().unwrap()).is_none());
    }
}
