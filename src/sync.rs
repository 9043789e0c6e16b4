//! `zonefeed sync`: download what changed, import it while it downloads, deliver webhooks.
//!
//! Each zone's download runs on its own thread; the zone's import reads the `.part` file
//! behind it ([`crate::czds::feed`]), so a .com sync takes little longer than its download. The
//! import commits only when the reader reaches the end, which it does only once the download
//! is complete and verified. When the download had to start over, the overlapped import is
//! dropped and the finished file imported again. One import runs at a time (one writer).

use std::path::Path;
use std::sync::Mutex;

use rusqlite::Connection;
use serde::Serialize;

use crate::czds::download::{self, ZoneResult};
use crate::czds::feed::{Feed, Start};
use crate::czds::Client;
use crate::ingest::source::{Input, SharedReader};
use crate::ingest::{self, Summary};
use crate::progress::{Progress, Transfers};

/// What `sync` did with one zone.
#[derive(Debug, Serialize)]
pub struct ZoneSync {
    pub tld: String,
    /// `ok` or `failed`.
    pub status: &'static str,
    pub download: ZoneResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import: Option<Summary>,
    /// The import read the download as it arrived.
    pub overlapped: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What every zone of a run shares.
pub struct Context<'a> {
    pub client: &'a Client,
    pub download: &'a download::Options,
    pub import: &'a ingest::Options,
    pub transfers: &'a Transfers,
    pub progress: &'a Progress,
}

/// Downloads and imports `jobs` (zone, link) on `parallel` threads, handing each zone's
/// outcome to `done`.
pub fn run(cx: &Context<'_>, jobs: &[(String, String)], parallel: usize, conn: &mut Connection, mut done: impl FnMut(ZoneSync)) {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    // A refused login or a rate limit stops every worker: more logins would only make it worse.
    let stop = AtomicBool::new(false);
    let conn = Mutex::new(conn);
    let (tx, rx) = crossbeam_channel::unbounded::<ZoneSync>();
    std::thread::scope(|s| {
        for _ in 0..parallel.clamp(1, jobs.len().max(1)) {
            let (tx, next, conn, stop) = (tx.clone(), &next, &conn, &stop);
            s.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Some((tld, link)) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) else { break };
                    let r = zone(cx, tld, link, conn);
                    if r.download.fatal.is_some() {
                        stop.store(true, Ordering::Relaxed);
                    }
                    if tx.send(r).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for r in rx {
            cx.transfers.zone_done(&format!("{} {}", r.tld, r.status));
            done(r);
        }
        let started = next.load(Ordering::Relaxed).min(jobs.len());
        if stop.load(Ordering::Relaxed) {
            for (tld, link) in &jobs[started..] {
                let d = ZoneResult::failed(tld, link, "not attempted: the CZDS login failed or was rate limited".into());
                done(ZoneSync {
                    tld: tld.clone(),
                    status: "failed",
                    error: d.reason.clone(),
                    download: d,
                    import: None,
                    overlapped: false,
                });
            }
        }
    });
}

fn zone(cx: &Context<'_>, tld: &str, link: &str, conn: &Mutex<&mut Connection>) -> ZoneSync {
    let fin = cx.download.dir.join(download::file_name(tld));
    let part = download::part_path(&fin);
    let feed = Feed::new();
    let mut opts = cx.import.clone();
    opts.tld = Some(tld.to_string());
    std::thread::scope(|s| {
        let downloading = s.spawn(|| {
            let bar = cx.transfers.begin(tld);
            download::fetch(cx.client, link, tld, cx.download, &bar, Some(&feed))
        });
        // Import behind the download while it writes; the reader ends only when it is verified.
        let overlapped = match feed.wait_started() {
            Start::Writing(generation) => Some(match feed.reader(&part, &fin, generation) {
                Ok(reader) => {
                    let input = Input::Reader(fin.display().to_string(), SharedReader::new(Box::new(reader)));
                    let mut c = conn.lock().unwrap_or_else(|p| p.into_inner());
                    ingest::import(&mut c, &input, &opts, cx.progress)
                }
                Err(e) => Err(ingest::ImportError::Open { file: part.display().to_string(), source: e }),
            }),
            Start::Done => None,
        };
        let d = downloading.join().unwrap_or_else(|_| ZoneResult::failed(tld, link, "download thread panicked".into()));
        let mut out = ZoneSync { tld: tld.into(), status: "failed", download: d, import: None, overlapped: false, error: None };
        if out.download.status == "failed" {
            out.error = out.download.reason.clone();
            return out;
        }
        if out.download.status == "downloaded" {
            let c = conn.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(e) = download::record(&c, &out.download) {
                out.error = Some(format!("downloaded, but recording it in the database failed: {e}"));
                return out;
            }
        }
        let result = match overlapped {
            Some(Ok(sum)) => {
                out.overlapped = true;
                Ok(sum)
            }
            // The file itself is at fault (parse errors, guards): importing it again would
            // say the same.
            Some(Err(e)) if !matches!(e, ingest::ImportError::Read { .. } | ingest::ImportError::Open { .. }) => Err(e),
            // The overlapped import lost its input to a restart of the download, or nothing was
            // written (the file was current already): import the finished file.
            _ => import_file(conn, &fin, &opts, cx.progress),
        };
        match result {
            Ok(sum) => {
                out.status = "ok";
                out.import = Some(sum);
            }
            Err(e) => out.error = Some(e.to_string()),
        }
        out
    })
}

fn import_file(
    conn: &Mutex<&mut Connection>,
    fin: &Path,
    opts: &ingest::Options,
    progress: &Progress,
) -> Result<Summary, ingest::ImportError> {
    let mut c = conn.lock().unwrap_or_else(|p| p.into_inner());
    ingest::import(&mut c, &Input::File(fin.to_path_buf()), opts, progress)
}
