//! `zonefeed sync`: download what changed, import it while it downloads, deliver webhooks.
//!
//! Each zone's download runs on its own thread; the zone's import reads the `.part` file
//! behind it ([`crate::czds::feed`]), so a .com sync takes little longer than its download. The
//! import commits only when the reader reaches the end, which it does only once the download
//! is complete and verified. When the download had to start over, the overlapped import is
//! dropped and the finished file imported again. One import runs at a time (one writer).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::Connection;
use serde::Serialize;

use crate::analyze::history;
use crate::changes::webhooks;
use crate::config::Settings;
use crate::czds::download::{self, Status, ZoneResult};
use crate::czds::feed::{Feed, Start};
use crate::czds::Client;
use crate::ingest::source::{Input, SharedReader};
use crate::ingest::{self, Summary};
use crate::progress::{Mode, Progress, Transfers};
use crate::query::delegations::Pick;

/// Whether a zone's sync went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncStatus {
    Ok,
    Failed,
}

/// What `sync` did with one zone.
#[derive(Debug, Serialize)]
pub struct ZoneSync {
    pub tld: String,
    pub status: SyncStatus,
    pub download: ZoneResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import: Option<Summary>,
    /// The import read the download as it arrived.
    pub overlapped: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Which zones a `download` or `sync` covers, and how they are fetched.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// The zones [empty: the config's `tlds`, else every zone the account may download].
    pub tlds: Vec<String>,
    pub exclude: Vec<String>,
    /// Where files go [None: `working.directory`/zonefiles].
    pub dir: Option<PathBuf>,
    /// Downloads at once [None: `download.parallel`, else 4].
    pub parallel: Option<usize>,
    /// Download even zones whose file is complete and current.
    pub force: bool,
    pub username: Option<String>,
    pub password_file: Option<PathBuf>,
}

/// One sync: the zones, how they are imported, and whether webhooks are delivered after.
#[derive(Debug, Clone)]
pub struct Plan {
    pub zones: Selection,
    pub import: ingest::Options,
    pub deliver: bool,
}

/// Downloads at once when neither the flag nor the config says.
const DEFAULT_PARALLEL: usize = 4;

/// A download run, ready to go: client, zone list fetched and filtered, directory locked.
pub struct Session {
    pub client: Client,
    pub plan: download::Plan,
    pub opts: download::Options,
    pub parallel: usize,
    pub conn: Connection,
    _dir_lock: std::fs::File,
}

impl Session {
    /// Resolves the selection against flags, config and defaults, locks the directory (one
    /// downloader per directory: a second waits `--wait`, then exits 5) and lists the zones.
    pub fn open(s: &Settings, sel: &Selection) -> anyhow::Result<Session> {
        let czds_cfg = crate::config::CzdsSettings::resolve(&s.config, sel.username.as_deref(), sel.password_file.as_deref())?;
        let client = czds_cfg.client();
        let dir = sel.dir.clone().unwrap_or_else(|| czds_cfg.work_dir.join("zonefiles"));
        let opts = crate::config::download_options(&s.config, dir.clone(), sel.force);
        let parallel = match sel.parallel {
            Some(p) => p,
            None => s.config.keys.download_parallel.map_or(DEFAULT_PARALLEL, crate::config::Count::usize),
        }
        .max(1);
        let wanted = if sel.tlds.is_empty() { s.config.keys.tlds.clone() } else { Some(sel.tlds.clone()) };
        std::fs::create_dir_all(&dir).map_err(|e| anyhow::Error::new(e).context(format!("`{}`", dir.display())))?;
        let what = format!("`{}` is busy: another zonefeed is downloading there", dir.display());
        let _dir_lock = crate::lock::hold(&dir.join(".zonefeed-download.lock"), &what, s.wait)?;
        let conn = crate::store::open_rw(&s.db, s.wait)?;
        let links = client.links()?;
        let plan = download::plan(&links, wanted.as_deref(), &sel.exclude);
        Ok(Session { client, plan, opts, parallel, conn, _dir_lock })
    }
}

/// How a sync went, past the per-zone reports.
#[derive(Debug, Default)]
pub struct Outcome {
    pub ok: usize,
    pub failed: usize,
    /// The exit code that stopped the run (3 login refused, 4 rate limited).
    pub fatal: Option<crate::czds::Fatal>,
    /// What the webhook delivery did (empty when it did not run).
    pub deliveries: Vec<webhooks::Delivered>,
    /// The analyses of the imported zones' new and changed delegations (`analyze.after_sync`).
    pub analyses: Vec<Analysed>,
}

/// One zone's analysis after its import.
#[derive(Debug)]
pub struct Analysed {
    pub tld: String,
    pub result: anyhow::Result<(history::Run, history::Kept)>,
}

/// Runs a sync: every zone downloaded and imported (handed to `report` as it finishes), then
/// the webhooks delivered. Per-zone failures are reported, not returned.
pub fn sync(s: &Settings, plan: &Plan, mut report: impl FnMut(&ZoneSync) -> anyhow::Result<()>) -> anyhow::Result<Outcome> {
    let delivery = webhooks::DeliveryOptions::from_config(&s.config);
    // The same lock as import: overlapping cron runs wait, then exit 5.
    let db_lock = crate::store::WriteLock::acquire(&s.db, s.wait)?;
    let Session { client, plan: zones, opts, parallel, mut conn, _dir_lock } = Session::open(s, &plan.zones)?;
    let mode = Mode::detect(s.quiet, s.log_interval);
    let transfers = Transfers::new(mode, zones.jobs.len() as u64);
    // Bars belong to the transfers; an import shows its progress as log lines only under cron.
    let progress = Progress::new(if matches!(mode, Mode::Bar) { Mode::Quiet } else { mode });
    let mut outcome = Outcome::default();
    let mut failure = None;
    let mut imported = Vec::new();
    let mut tally = |z: ZoneSync| {
        outcome.fatal = outcome.fatal.or(z.download.fatal);
        if z.status == SyncStatus::Ok {
            if z.import.as_ref().is_some_and(|i| !i.unchanged) {
                imported.push(z.tld.clone());
            }
            outcome.ok += 1;
        } else {
            outcome.failed += 1;
        }
        if failure.is_none() {
            failure = report(&z).err();
        }
    };
    for r in zones.refused {
        tally(ZoneSync {
            tld: r.tld.clone(),
            status: SyncStatus::Failed,
            error: r.reason.clone(),
            download: r,
            import: None,
            overlapped: false,
        });
    }
    let cx = Context { client: &client, download: &opts, import: &plan.import, transfers: &transfers, progress: &progress };
    run(&cx, &zones.jobs, parallel, &mut conn, &mut tally);
    transfers.finish();
    if let Some(e) = failure {
        return Err(e);
    }
    // Imports done: analysis and delivery write in small transactions of their own.
    drop(db_lock);
    if s.config.keys.analyze_after_sync.unwrap_or(false) && !imported.is_empty() {
        outcome.analyses = analyse(s, &mut conn, &imported, &plan.import.webhooks, mode)?;
    }
    if plan.deliver && !plan.import.webhooks.is_empty() {
        let _lock = crate::lock::webhooks(&s.db, s.wait)?;
        let gate = webhooks::WriteGate { db: &s.db, wait: s.wait };
        outcome.deliveries = webhooks::deliver(&conn, &plan.import.webhooks, &delivery, &gate)?;
    }
    Ok(outcome)
}

/// `analyze --tld` for each zone imported, its day's new and changed delegations (or the rest
/// of a run left unfinished), kept as that command keeps them: the delegation events go out
/// with the webhook delivery that follows. A zone whose analysis fails is reported; the
/// others go on.
fn analyse(
    s: &Settings,
    conn: &mut Connection,
    tlds: &[String],
    endpoints: &[webhooks::Endpoint],
    mode: Mode,
) -> anyhow::Result<Vec<Analysed>> {
    let _lock = crate::lock::analyses(&s.db, s.wait)?;
    let engine = crate::analyze::Engine::from_config(&s.config)?;
    let resolver = engine.resolver();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let mut out = Vec::new();
    for tld in tlds {
        let tally = crate::progress::Tally::counting(mode, "analyze", "questions sent");
        let result = (|| -> anyhow::Result<_> {
            let run =
                history::begin_or_resume(conn, tld, &Pick::Latest, None)?.ok_or_else(|| anyhow::anyhow!("{tld}: no current version"))?;
            let total = run.todo.len();
            let mut done = 0;
            let kept = history::keep_run(&rt, &resolver, conn, &run, endpoints, engine.concurrency, |_, _| {
                done += 1;
                tally.set(&format!("{tld}: {done}/{total} domains"), resolver.client().sent());
                Ok(())
            })?;
            Ok((run, kept))
        })();
        tally.finish();
        out.push(Analysed { tld: tld.clone(), result });
    }
    Ok(out)
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
            cx.transfers.zone_done(&format!("{} {}", r.tld, r.download.status.as_str()));
            done(r);
        }
        let started = next.load(Ordering::Relaxed).min(jobs.len());
        if stop.load(Ordering::Relaxed) {
            for (tld, link) in &jobs[started..] {
                let d = ZoneResult::failed(tld, link, "not attempted: the CZDS login failed or was rate limited".into());
                done(ZoneSync {
                    tld: tld.clone(),
                    status: SyncStatus::Failed,
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
        let started = feed.wait_started();
        // The zone date is the day of the file's Last-Modified, known from the HEAD.
        opts.date = feed.last_modified().as_deref().and_then(crate::time::day_of_http_date);
        let overlapped = match started {
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
        let mut out = ZoneSync { tld: tld.into(), status: SyncStatus::Failed, download: d, import: None, overlapped: false, error: None };
        if out.download.status == Status::Failed {
            out.error = out.download.reason.clone();
            return out;
        }
        if out.download.status == Status::Downloaded {
            let c = conn.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(e) = crate::store::record_download(&c, &out.download.record()) {
                out.error = Some(format!("downloaded, but recording it in the database failed: {e}"));
                return out;
            }
        }
        let result = match overlapped {
            Some(Ok(sum)) => {
                out.overlapped = true;
                Ok(sum)
            }
            // The file itself is at fault (parse errors, guards), or the database is (its
            // writer failed): importing it again would say the same. Only a read the download
            // cut short is tried again.
            Some(Err(e)) if !matches!(e, ingest::ImportError::Read { .. } | ingest::ImportError::Open { .. }) => Err(e),
            // The overlapped import lost its input to a restart of the download, or nothing was
            // written (the file was current already): import the finished file.
            _ => {
                opts.date = out.download.last_modified.as_deref().and_then(crate::time::day_of_http_date);
                import_file(conn, &fin, &opts, cx.progress)
            }
        };
        match result {
            Ok(sum) => {
                out.status = SyncStatus::Ok;
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
