//! A download read while it is being written: `sync` imports a zone as its bytes arrive.
//!
//! The downloader reports each phase to a [`Feed`]; a [`TailReader`] reads the `.part` file
//! behind it, waiting at its end for more bytes. It returns end-of-file only once the download
//! is complete and verified, so an import fed by it cannot commit a file that later turns out
//! cut or corrupt. If the downloader has to start the file over (the server sent a new version,
//! or a 200 to a Range), every later read fails: bytes of two versions never reach one import.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Waiting,
    Writing,
    Complete,
    Failed(String),
}

#[derive(Debug)]
struct FeedState {
    phase: Phase,
    /// Bumped each time the `.part` file is started from zero.
    generation: u64,
    /// The `Last-Modified` the server gave for the file: the zone date of its import.
    last_modified: Option<String>,
}

#[derive(Debug)]
pub struct Feed {
    state: Mutex<FeedState>,
    cv: Condvar,
}

/// How a download began, for the reader to decide what to read.
pub enum Start {
    /// Bytes are being written to the `.part` file (this generation of it).
    Writing(u64),
    /// Nothing is written: the file was complete already (skipped) or the download failed.
    Done,
}

impl Feed {
    pub fn new() -> Arc<Feed> {
        Arc::new(Feed { state: Mutex::new(FeedState { phase: Phase::Waiting, generation: 0, last_modified: None }), cv: Condvar::new() })
    }

    fn update(&self, f: impl FnOnce(&mut FeedState)) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut s);
        self.cv.notify_all();
    }

    /// The downloader starts writing a response body; `fresh` when it truncated the file.
    pub(crate) fn writing(&self, fresh: bool) {
        self.update(|s| {
            if fresh {
                s.generation += 1;
            }
            if s.phase == Phase::Waiting {
                s.phase = Phase::Writing;
            }
        });
    }

    pub(crate) fn set_last_modified(&self, v: Option<String>) {
        self.update(|s| s.last_modified = v);
    }

    /// The file's `Last-Modified`, known before its first byte is written.
    pub fn last_modified(&self) -> Option<String> {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).last_modified.clone()
    }

    pub(crate) fn complete(&self) {
        self.update(|s| s.phase = Phase::Complete);
    }

    pub(crate) fn fail(&self, why: String) {
        self.update(|s| s.phase = Phase::Failed(why));
    }

    /// Blocks until the download writes its first bytes, or ends without writing any.
    pub fn wait_started(&self) -> Start {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            match s.phase {
                Phase::Waiting => s = self.cv.wait(s).unwrap_or_else(|p| p.into_inner()),
                Phase::Writing => return Start::Writing(s.generation),
                Phase::Complete | Phase::Failed(_) => return Start::Done,
            }
        }
    }

    /// A reader of the file being written as `part` (renamed to `fin` when complete).
    pub fn reader(self: &Arc<Self>, part: &Path, fin: &Path, generation: u64) -> std::io::Result<TailReader> {
        let file = match File::open(part) {
            Ok(f) => f,
            // Finished and renamed before we got here.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => File::open(fin)?,
            Err(e) => return Err(e),
        };
        Ok(TailReader { file, feed: self.clone(), generation, part: part.to_path_buf() })
    }
}

/// Reads a growing download; see the module docs.
pub struct TailReader {
    file: File,
    feed: Arc<Feed>,
    generation: u64,
    part: PathBuf,
}

impl Read for TailReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            // The phase is read before the file: bytes written before `Complete` are then
            // all visible to the read that follows.
            let (phase, generation) = {
                let s = self.feed.state.lock().unwrap_or_else(|p| p.into_inner());
                (s.phase.clone(), s.generation)
            };
            if generation != self.generation {
                return Err(std::io::Error::other(format!(
                    "`{}` was started over by the download; not importing a splice",
                    self.part.display()
                )));
            }
            if let Phase::Failed(why) = phase {
                return Err(std::io::Error::other(format!("download failed: {why}")));
            }
            let n = self.file.read(buf)?;
            if n > 0 || phase == Phase::Complete {
                return Ok(n);
            }
            let s = self.feed.state.lock().unwrap_or_else(|p| p.into_inner());
            drop(self.feed.cv.wait_timeout(s, Duration::from_millis(50)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_behind_the_writer_and_ends_only_when_complete() {
        let dir = tempfile::tempdir().unwrap();
        let (part, fin) = (dir.path().join("x.part"), dir.path().join("x"));
        let feed = Feed::new();
        let mut w = File::create(&part).unwrap();
        feed.writing(true);
        let Start::Writing(g) = feed.wait_started() else { panic!("started") };
        let mut r = feed.reader(&part, &fin, g).unwrap();
        let f2 = feed.clone();
        let writer = std::thread::spawn(move || {
            for i in 0..5u8 {
                w.write_all(&[i; 1000]).unwrap();
                w.flush().unwrap();
                std::thread::sleep(Duration::from_millis(10));
            }
            f2.complete();
        });
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        writer.join().unwrap();
        assert_eq!(got.len(), 5000);
        assert!(got.chunks(1000).enumerate().all(|(i, c)| c.iter().all(|&b| b == i as u8)));
    }

    #[test]
    fn a_restart_or_failure_breaks_the_read() {
        let dir = tempfile::tempdir().unwrap();
        let (part, fin) = (dir.path().join("y.part"), dir.path().join("y"));
        std::fs::write(&part, b"abc").unwrap();
        let feed = Feed::new();
        feed.writing(true);
        let mut r = feed.reader(&part, &fin, 1).unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(r.read(&mut buf).unwrap(), 3);
        feed.writing(true);
        assert!(r.read(&mut buf).unwrap_err().to_string().contains("started over"));
        let feed = Feed::new();
        feed.writing(true);
        let mut r = feed.reader(&part, &fin, 1).unwrap();
        feed.fail("HTTP 500".into());
        assert!(r.read(&mut buf).unwrap_err().to_string().contains("HTTP 500"));
    }
}
