//! Checkpoints beside the writer.
//!
//! With SQLite's own checkpoints, the connection that commits copies the WAL into the database
//! and waits for the fsyncs before it writes on: 1.2-1.5 s of a 6.4 s first import of 1M
//! domains. Here a second connection checkpoints on a thread of its own while the writer fills
//! its next transaction. SQLite starts the WAL over only when a transaction begins with every
//! frame copied, which a checkpoint running beside the writer never leaves behind; so every
//! [`EVERY`]th commit the writer waits for that thread and copies its last transaction itself.
//! The WAL then holds at most [`EVERY`] transactions, never a whole version.

use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, Sender};
use rusqlite::{Connection, OpenFlags};

/// Commits between two checkpoints the writer completes itself.
const EVERY: usize = 4;

/// Runs `f` with checkpoints beside it: `f` calls [`Checkpointer::committed`] after each of
/// its commits on `conn`.
pub fn beside<T>(conn: &Connection, f: impl FnOnce(&mut Checkpointer) -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let mut ck = Checkpointer::start(conn)?;
    let done = f(&mut ck);
    let finished = ck.finish(conn);
    let v = done?;
    finished.map(|()| v)
}

/// The checkpoint thread of one run of the writer.
pub struct Checkpointer {
    /// None when the database has no file to open a second connection to (in memory): the
    /// writer's connection then keeps checkpointing itself.
    go: Option<Sender<()>>,
    done: Receiver<rusqlite::Result<()>>,
    thread: Option<JoinHandle<()>>,
    /// A checkpoint was asked for and has not reported back.
    running: bool,
    commits: usize,
    /// The writer's `wal_autocheckpoint` before, given back at the end.
    auto: i64,
}

impl Checkpointer {
    /// Starts the thread and turns off `conn`'s own checkpoints until [`Checkpointer::finish`].
    fn start(conn: &Connection) -> rusqlite::Result<Checkpointer> {
        let (go_tx, go_rx) = bounded::<()>(1);
        let (done_tx, done_rx) = bounded(1);
        let auto: i64 = conn.pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0))?;
        let mut ck = Checkpointer { go: None, done: done_rx, thread: None, running: false, commits: 0, auto };
        let Some(path) = conn.path().filter(|p| !p.is_empty()) else { return Ok(ck) };
        let other = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        other.busy_timeout(Duration::from_secs(60))?;
        let spawned = std::thread::Builder::new().name("checkpoint".into()).spawn(move || {
            for () in go_rx {
                let r = other.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                if done_tx.send(r).is_err() {
                    break;
                }
            }
        });
        // Without a thread, the writer's connection keeps checkpointing itself.
        let Ok(thread) = spawned else { return Ok(ck) };
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        ck.go = Some(go_tx);
        ck.thread = Some(thread);
        Ok(ck)
    }

    /// Call between a COMMIT and the next BEGIN on the writer's connection.
    pub fn committed(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        let Some(go) = &self.go else { return Ok(()) };
        self.commits += 1;
        if self.commits.is_multiple_of(EVERY) {
            return self.complete(conn);
        }
        if self.running {
            match self.done.try_recv() {
                Ok(r) => {
                    self.running = false;
                    r?;
                }
                // Still copying: it takes this commit's frames with the next request.
                Err(_) => return Ok(()),
            }
        }
        self.running = go.send(()).is_ok();
        Ok(())
    }

    /// Waits for the thread, then copies what is left: the next transaction starts the WAL over.
    fn complete(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        if std::mem::take(&mut self.running) {
            if let Ok(r) = self.done.recv() {
                r?;
            }
        }
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
    }

    /// Waits for a checkpoint under way, stops the thread and gives `conn` its own checkpoints
    /// back.
    fn finish(mut self, conn: &Connection) -> rusqlite::Result<()> {
        if self.go.is_none() {
            return Ok(());
        }
        let waited = match std::mem::take(&mut self.running) {
            true => self.done.recv().unwrap_or(Ok(())),
            false => Ok(()),
        };
        self.stop();
        conn.pragma_update(None, "wal_autocheckpoint", self.auto)?;
        waited
    }

    fn stop(&mut self) {
        self.go = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 40 transactions of ~200 KiB each: the WAL (whose file keeps its high-water mark) must
    /// stay within a few of them, and the connection checkpoints itself again afterwards.
    #[test]
    fn the_wal_starts_over_every_few_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB);").unwrap();
        let wal = dir.path().join("t.db-wal");
        let txn = 50 * 4096;
        let mut biggest = 0;
        beside(&conn, |ck| {
            for i in 0..40 {
                conn.execute_batch("BEGIN")?;
                for j in 0..50 {
                    conn.execute("INSERT INTO t VALUES (?1, zeroblob(4000))", [i * 50 + j])?;
                }
                conn.execute_batch("COMMIT")?;
                ck.committed(&conn)?;
                biggest = biggest.max(std::fs::metadata(&wal).unwrap().len());
            }
            Ok(())
        })
        .unwrap();
        assert!(biggest > txn as u64, "the writer's own checkpoints were not off: WAL at most {biggest} bytes");
        assert!(biggest < (EVERY as u64 + 2) * txn as u64, "WAL reached {biggest} bytes");
        let auto: i64 = conn.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0)).unwrap();
        assert_eq!(auto, 1000, "the connection's own checkpoints are back");
        let rows: i64 = conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 2000);
    }
}
