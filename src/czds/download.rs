//! Zone downloads: HEAD to skip what is unchanged, GET with Range resume, verify, rename.
//!
//! A transfer writes `<dir>/<tld>.zone.gz.part` and, beside it, `.part.json` with the URL and
//! the `Last-Modified` the bytes came from. A later attempt (this run or the next) continues
//! with `Range` + `If-Range: <that Last-Modified>`, so bytes of two versions are never spliced:
//! the server answers 206 only if the file is unchanged, and 200 (start over) otherwise. The
//! final name appears only after the length matches, the gzip stream decodes whole (CRC and
//! size trailer) and file and directory are synced. File names come from the TLD, never from
//! the server's `Content-Disposition`.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::feed::Feed;
use super::{Client, CzdsError};
use crate::http::header;
use crate::progress::TransferBar;

/// How downloads behave (flags and the config's `download.*` keys).
#[derive(Debug, Clone)]
pub struct Options {
    pub dir: PathBuf,
    pub force: bool,
    /// Attempts after the first, for dropped connections, stalls and 5xx answers.
    pub retries: u32,
    /// The first pause between attempts; it doubles each time (at most a minute).
    pub retry_delay: Duration,
    /// A transfer slower than this many bytes per second over `low_speed_time` is aborted
    /// (and resumed): a stall, as opposed to a long transfer.
    pub low_speed_limit: u64,
    pub low_speed_time: Duration,
}

/// What a download did with a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Downloaded,
    /// The local file is complete and current.
    Skipped,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Downloaded => "downloaded",
            Status::Skipped => "skipped",
            Status::Failed => "failed",
        }
    }
}

/// What happened to one zone.
#[derive(Debug, Clone, Serialize)]
pub struct ZoneResult {
    pub tld: String,
    pub status: Status,
    /// Bytes of the zone file on disk (downloaded or skipped), received bytes when failed.
    pub bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Set when the failure should stop the whole run (login refused, rate limited).
    #[serde(skip)]
    pub fatal: Option<super::Fatal>,
}

impl ZoneResult {
    pub fn failed(tld: &str, url: &str, reason: String) -> ZoneResult {
        ZoneResult {
            tld: tld.into(),
            status: Status::Failed,
            bytes: 0,
            file: None,
            url: url.into(),
            last_modified: None,
            sha256: None,
            reason: Some(reason),
            fatal: None,
        }
    }
}

/// Why a zone failed.
#[derive(Debug, thiserror::Error)]
pub enum ZoneError {
    #[error("not authorised for this zone (HTTP 403): request access with `zonefeed requests new`")]
    Forbidden,
    #[error("the account must accept the new CZDS Terms and Conditions in the portal first (HTTP {0})")]
    Terms(u16),
    #[error(transparent)]
    Czds(#[from] CzdsError),
    #[error("`{}`: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("gave up after {attempts} attempts: {last}")]
    GaveUp { attempts: u32, last: String },
}

/// The zone a download link serves (`https://.../czds/downloads/com.zone` -> `com`), if the
/// name is one we can safely use in a file name.
pub fn zone_of_link(link: &str) -> Option<String> {
    let path = link.split(['?', '#']).next()?;
    let last = path.rsplit('/').next()?;
    let tld = last.strip_suffix(".zone").unwrap_or(last).to_ascii_lowercase();
    safe_zone_name(&tld).then_some(tld)
}

/// Letters, digits and hyphens in dot-separated labels: nothing that can climb out of a
/// directory or name a device.
pub fn safe_zone_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.')
            .all(|l| !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// `com` -> `com.zone.gz`, the name the file gets in `--dir`.
pub fn file_name(tld: &str) -> String {
    format!("{tld}.zone.gz")
}

/// The resume note beside a `.part` file.
#[derive(Debug, Serialize, Deserialize)]
struct PartNote {
    url: String,
    last_modified: String,
    length: Option<u64>,
}

/// Where the bytes of `fin` are written until it is complete.
pub fn part_path(fin: &Path) -> PathBuf {
    with_suffix(fin, ".part")
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Downloads (or skips) one zone; `feed`, when given, follows the transfer for a reader
/// that imports it as it arrives.
pub fn fetch(client: &Client, link: &str, tld: &str, opts: &Options, bar: &TransferBar, feed: Option<&Feed>) -> ZoneResult {
    let mut res = ZoneResult::failed(tld, link, String::new());
    let outcome = fetch_inner(client, link, tld, opts, bar, feed, &mut res);
    if let Some(f) = feed {
        match &outcome {
            Ok(()) => f.complete(),
            Err(e) => f.fail(e.to_string()),
        }
    }
    match outcome {
        Ok(()) => res.reason = None,
        Err(e) => {
            if let ZoneError::Czds(c) = &e {
                res.fatal = c.fatal();
            }
            res.status = Status::Failed;
            res.reason = Some(e.to_string());
        }
    }
    res
}

fn fetch_inner(
    client: &Client,
    link: &str,
    tld: &str,
    opts: &Options,
    bar: &TransferBar,
    feed: Option<&Feed>,
    res: &mut ZoneResult,
) -> Result<(), ZoneError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ZoneError::Io { path, source }
    };
    let fin = opts.dir.join(file_name(tld));
    let mut head = client.send("HEAD", link, &[])?;
    check_status(client, link, &mut head)?;
    let length = header(&head, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
    let modified = header(&head, "last-modified").map(str::to_string);
    res.last_modified = modified.clone();
    if let Some(f) = feed {
        f.set_last_modified(modified.clone());
    }
    if let (false, Some(len), Some(lm)) = (opts.force, length, &modified) {
        if is_current(&fin, len, lm) {
            res.status = Status::Skipped;
            res.bytes = len;
            res.file = Some(fin);
            return Ok(());
        }
    }

    let part = part_path(&fin);
    let note_path = with_suffix(&fin, ".part.json");
    // Resume only bytes that came from this URL and the version the HEAD just saw.
    let note: Option<PartNote> = std::fs::read(&note_path).ok().and_then(|b| serde_json::from_slice(&b).ok());
    let mut validator = note.filter(|n| n.url == link && Some(&n.last_modified) == modified.as_ref()).map(|n| n.last_modified);
    let mut attempt = 0u32;
    loop {
        let outcome = transfer(client, link, &part, &note_path, &mut validator, opts, bar, feed);
        let err = match outcome {
            Ok(total) => match verify(&part, total) {
                Ok(sha) => {
                    let lm = validator.clone().or(modified.clone());
                    finish(&part, &fin, lm.as_deref()).map_err(io(&fin))?;
                    let _ = std::fs::remove_file(&note_path);
                    res.status = Status::Downloaded;
                    res.bytes = std::fs::metadata(&fin).map_err(io(&fin))?.len();
                    res.file = Some(fin);
                    res.sha256 = Some(sha);
                    res.last_modified = lm;
                    return Ok(());
                }
                Err(why) => {
                    // A whole-length file that does not decode: start over, it cannot be repaired.
                    let _ = std::fs::remove_file(&part);
                    let _ = std::fs::remove_file(&note_path);
                    validator = None;
                    why
                }
            },
            Err(Step::Fatal(e)) => return Err(e),
            Err(Step::Retry(why)) => why,
        };
        res.bytes = std::fs::metadata(&part).map_or(0, |m| m.len());
        attempt += 1;
        if attempt > opts.retries {
            return Err(ZoneError::GaveUp { attempts: attempt, last: err });
        }
        let pause = opts.retry_delay.saturating_mul(1 << (attempt - 1).min(10)).min(Duration::from_secs(60));
        bar.message(&format!("retry {attempt}/{} in {:.1}s: {err}", opts.retries, pause.as_secs_f64()));
        std::thread::sleep(pause);
    }
}

/// The zones a run downloads, and those it refuses before starting.
pub struct Plan {
    /// (zone, link), in the order of the server's list.
    pub jobs: Vec<(String, String)>,
    /// Requested zones without a link, and links whose zone name is unsafe.
    pub refused: Vec<ZoneResult>,
}

/// Picks the links to download: every one, or the `wanted` zones, less `exclude`. Zones are
/// matched exactly (case and a trailing dot ignored); links are used as the server gave them.
pub fn plan(links: &[String], wanted: Option<&[String]>, exclude: &[String]) -> Plan {
    let norm = |s: &String| s.trim().trim_end_matches('.').to_ascii_lowercase();
    let wanted: Option<Vec<String>> = wanted.map(|w| w.iter().map(norm).collect());
    let exclude: Vec<String> = exclude.iter().map(norm).collect();
    let mut plan = Plan { jobs: Vec::new(), refused: Vec::new() };
    for link in links {
        match zone_of_link(link) {
            Some(tld) => {
                let asked = wanted.as_ref().is_none_or(|w| w.contains(&tld));
                if asked && !exclude.contains(&tld) && !plan.jobs.iter().any(|(t, _)| *t == tld) {
                    plan.jobs.push((tld, link.clone()));
                }
            }
            None if wanted.is_none() => {
                plan.refused.push(ZoneResult::failed(
                    "?",
                    link,
                    "the link does not name a zone usable as a file name; not downloaded".into(),
                ));
            }
            None => {}
        }
    }
    for tld in wanted.iter().flatten() {
        if !exclude.contains(tld) && !plan.jobs.iter().any(|(t, _)| t == tld) {
            let reason = "no download link for this zone: the account is not approved for it (see `zonefeed requests`)".to_string();
            plan.refused.push(ZoneResult::failed(tld, "", reason));
        }
    }
    plan
}

impl ZoneResult {
    /// What the database keeps of a finished download (`store::record_download`).
    pub fn record(&self) -> crate::store::Download<'_> {
        crate::store::Download {
            tld: &self.tld,
            url: &self.url,
            file: self.file.as_deref().map(|f| f.display().to_string()).unwrap_or_default(),
            size: self.bytes,
            last_modified: self.last_modified.as_deref().unwrap_or(""),
            sha256: self.sha256.as_deref().unwrap_or(""),
        }
    }
}

/// Downloads `jobs` (zone, link) on `parallel` threads, handing each result to `done` on the
/// calling thread as it comes. A login refusal or a rate limit stops the run: zones not yet
/// started are reported failed with that reason.
pub fn fetch_all(
    client: &Client,
    jobs: &[(String, String)],
    opts: &Options,
    parallel: usize,
    progress: &crate::progress::Transfers,
    mut done: impl FnMut(ZoneResult),
) {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = crossbeam_channel::unbounded::<ZoneResult>();
    std::thread::scope(|s| {
        for _ in 0..parallel.clamp(1, jobs.len().max(1)) {
            let (tx, next, stop) = (tx.clone(), &next, &stop);
            s.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Some((tld, link)) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) else { break };
                    let bar = progress.begin(tld);
                    let r = fetch(client, link, tld, opts, &bar, None);
                    drop(bar);
                    if r.fatal.is_some() {
                        stop.store(true, Ordering::Relaxed);
                    }
                    if tx.send(r).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut stopped: Option<(String, super::Fatal)> = None;
        for r in rx {
            progress.zone_done(&format!("{} {}", r.tld, r.status.as_str()));
            if let (Some(code), Some(reason)) = (r.fatal, &r.reason) {
                stopped.get_or_insert((reason.clone(), code));
            }
            done(r);
        }
        if let Some((reason, code)) = stopped {
            let started = next.load(Ordering::Relaxed).min(jobs.len());
            for (tld, link) in &jobs[started..] {
                let mut r = ZoneResult::failed(tld, link, format!("not attempted: {reason}"));
                r.fatal = Some(code);
                done(r);
            }
        }
    });
}

/// A failed attempt: worth retrying (from the bytes on disk) or not.
enum Step {
    Retry(String),
    Fatal(ZoneError),
}

impl From<CzdsError> for Step {
    fn from(e: CzdsError) -> Step {
        match e {
            // A dropped connection or a timeout: try again. Login trouble is not retried.
            CzdsError::Transport { .. } => Step::Retry(e.to_string()),
            e => Step::Fatal(ZoneError::Czds(e)),
        }
    }
}

/// 403 and 409/428 end the zone; any other non-2xx is the caller's to judge.
fn check_status(client: &Client, link: &str, resp: &mut ureq::http::Response<ureq::Body>) -> Result<(), ZoneError> {
    match resp.status().as_u16() {
        200..=299 => Ok(()),
        403 => Err(ZoneError::Forbidden),
        s @ (409 | 428) => Err(ZoneError::Terms(s)),
        s => Err(ZoneError::Czds(client.http_error(link, s, resp))),
    }
}

/// One GET, appending to `part` from its current length when `validator` allows a resume.
/// Returns the full length the server announced.
#[allow(clippy::too_many_arguments)]
fn transfer(
    client: &Client,
    link: &str,
    part: &Path,
    note_path: &Path,
    validator: &mut Option<String>,
    opts: &Options,
    bar: &TransferBar,
    feed: Option<&Feed>,
) -> Result<Option<u64>, Step> {
    let io = |source: std::io::Error| Step::Fatal(ZoneError::Io { path: part.to_path_buf(), source });
    let mut have = match validator {
        Some(_) => std::fs::metadata(part).map_or(0, |m| m.len()),
        None => 0,
    };
    let mut headers = Vec::new();
    if let (Some(v), true) = (validator.as_ref(), have > 0) {
        headers.push(("Range", format!("bytes={have}-")));
        headers.push(("If-Range", v.clone()));
    }
    let mut resp = client.send("GET", link, &headers)?;
    let status = resp.status().as_u16();
    let lm = header(&resp, "last-modified").map(str::to_string);
    let total = match status {
        200 => {
            have = 0;
            header(&resp, "content-length").and_then(|v| v.trim().parse::<u64>().ok())
        }
        206 => match header(&resp, "content-range").and_then(parse_content_range) {
            Some((Some(start), total)) if start == have => total,
            _ => {
                // Not the bytes we asked for: never splice them; start over.
                *validator = None;
                return Err(Step::Retry("206 answer does not continue the partial file; starting over".into()));
            }
        },
        416 => {
            let total = header(&resp, "content-range").and_then(parse_content_range).and_then(|(_, t)| t);
            if total == Some(have) && have > 0 {
                return Ok(total);
            }
            *validator = None;
            return Err(Step::Retry("416 answer: the partial file does not fit the zone; starting over".into()));
        }
        403 => return Err(Step::Fatal(ZoneError::Forbidden)),
        s @ (409 | 428) => return Err(Step::Fatal(ZoneError::Terms(s))),
        s if s == 429 || s >= 500 => return Err(Step::Retry(client.http_error(link, s, &mut resp).to_string())),
        s => return Err(Step::Fatal(ZoneError::Czds(client.http_error(link, s, &mut resp)))),
    };
    // The bytes we are about to append belong to this Last-Modified; note it first so an
    // interrupted run resumes only against the same version.
    let lm = lm.or_else(|| validator.clone());
    *validator = lm.clone();
    write_note(note_path, link, lm.as_deref(), total).map_err(io)?;
    let file = if have == 0 {
        File::create(part).map_err(io)?
    } else {
        let f = OpenOptions::new().append(true).open(part).map_err(io)?;
        // Bytes past `have` cannot exist (we measured it), but be exact.
        f.set_len(have).map_err(io)?;
        f
    };
    if let Some(f) = feed {
        f.writing(have == 0);
    }
    bar.reset(total, have);
    let body = Watch::new(resp.into_body().into_reader(), opts.low_speed_limit, opts.low_speed_time);
    let mut got = have;
    append(body, file, &mut got, bar, feed.is_some()).map_err(|e| match e {
        Append::Write(e) => io(e),
        Append::Read(e) => Step::Retry(format!("connection lost after {got} bytes: {e}")),
    })?;
    match total {
        Some(t) if got < t => Err(Step::Retry(format!("connection closed after {got} of {t} bytes"))),
        Some(t) if got > t => {
            *validator = None;
            Err(Step::Retry(format!("received {got} bytes, more than the {t} announced; starting over")))
        }
        _ => Ok(total),
    }
}

/// Notes which version of the zone the partial file holds (its Last-Modified), so that an
/// interrupted run resumes only against the same version; without one, no note.
fn write_note(note_path: &Path, link: &str, last_modified: Option<&str>, length: Option<u64>) -> std::io::Result<()> {
    match last_modified {
        Some(lm) => {
            let note = PartNote { url: link.into(), last_modified: lm.to_string(), length };
            std::fs::write(note_path, serde_json::to_vec(&note).map_err(std::io::Error::other)?)
        }
        None => match std::fs::remove_file(note_path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        },
    }
}

/// Why copying a body stopped: the file (fatal) or the connection (worth a retry).
enum Append {
    Write(std::io::Error),
    Read(std::io::Error),
}

/// Copies `body` to the end of `file`, counting into `got`. What arrived is flushed even when
/// the connection fails: the next attempt continues from it. `follow`: a reader follows the
/// file, so every block is flushed as it comes.
fn append(mut body: impl Read, file: File, got: &mut u64, bar: &TransferBar, follow: bool) -> Result<(), Append> {
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut buf = vec![0u8; 256 << 10];
    let result = loop {
        match body.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                out.write_all(&buf[..n]).map_err(Append::Write)?;
                if follow {
                    out.flush().map_err(Append::Write)?;
                }
                *got += n as u64;
                bar.inc(n as u64);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => break Err(Append::Read(e)),
        }
    };
    out.flush().map_err(Append::Write)?;
    result
}

/// `bytes 100-199/1000` -> (Some(100), Some(1000)); `bytes */1000` -> (None, Some(1000)).
pub fn parse_content_range(v: &str) -> Option<(Option<u64>, Option<u64>)> {
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    let start = match range.trim() {
        "*" => None,
        r => Some(r.split_once('-')?.0.trim().parse().ok()?),
    };
    Some((start, total))
}

/// Whether `path` is the complete file the server describes (size and Last-Modified, which
/// a finished download sets as the file's mtime).
fn is_current(path: &Path, len: u64, last_modified: &str) -> bool {
    let Ok(meta) = std::fs::metadata(path) else { return false };
    let (Ok(remote), Ok(local)) = (httpdate::parse_http_date(last_modified), meta.modified()) else { return false };
    meta.len() == len && secs(remote) == secs(local)
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Checks length and the whole gzip stream; returns the file's SHA-256.
fn verify(part: &Path, total: Option<u64>) -> Result<String, String> {
    let file = File::open(part).map_err(|e| format!("`{}`: {e}", part.display()))?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    if let Some(t) = total {
        if len != t {
            return Err(format!("file has {len} bytes, the server announced {t}"));
        }
    }
    let mut hashing = HashingReader { inner: std::io::BufReader::with_capacity(1 << 20, file), sha: Sha256::new() };
    let mut gz = flate2::read::MultiGzDecoder::new(&mut hashing);
    std::io::copy(&mut gz, &mut std::io::sink()).map_err(|e| format!("the downloaded file is not a whole gzip stream ({e})"))?;
    drop(gz);
    // The decoder may stop before the last bytes (none expected after the trailer); hash them too.
    std::io::copy(&mut hashing, &mut std::io::sink()).map_err(|e| e.to_string())?;
    Ok(data_encoding::HEXLOWER.encode(&hashing.sha.finalize()))
}

struct HashingReader<R> {
    inner: R,
    sha: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha.update(&buf[..n]);
        Ok(n)
    }
}

/// Sync, rename into place, date the file with the server's Last-Modified, sync the directory.
fn finish(part: &Path, fin: &Path, last_modified: Option<&str>) -> std::io::Result<()> {
    let f = OpenOptions::new().write(true).open(part)?;
    if let Some(t) = last_modified.and_then(|lm| httpdate::parse_http_date(lm).ok()) {
        f.set_modified(t)?;
    }
    f.sync_all()?;
    drop(f);
    std::fs::rename(part, fin)?;
    #[cfg(unix)]
    if let Some(dir) = fin.parent() {
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// A body reader that fails when the transfer falls under `limit` bytes/s for a whole
/// `window`: a connection that trickles is as dead as one that stopped.
struct Watch<R> {
    inner: R,
    limit: u64,
    window: Duration,
    since: Instant,
    bytes: u64,
}

impl<R> Watch<R> {
    fn new(inner: R, limit: u64, window: Duration) -> Watch<R> {
        Watch { inner, limit, window, since: Instant::now(), bytes: 0 }
    }
}

impl<R: Read> Read for Watch<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        let elapsed = self.since.elapsed();
        if elapsed >= self.window {
            if (self.bytes as f64) < self.limit as f64 * elapsed.as_secs_f64() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("transfer stalled: under {} bytes/s for {:.0}s", self.limit, self.window.as_secs_f64()),
                ));
            }
            self.since = Instant::now();
            self.bytes = 0;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_names_from_links_are_safe_or_refused() {
        assert_eq!(zone_of_link("https://czds-api.icann.org/czds/downloads/com.zone").as_deref(), Some("com"));
        assert_eq!(zone_of_link("https://x/czds/downloads/XN--P1AI.zone?sig=1").as_deref(), Some("xn--p1ai"));
        for bad in [
            "https://x/czds/downloads/..%2Fetc.zone",
            "https://x/czds/downloads/",
            "https://x/a\\b.zone",
            "https://x/..",
            "https://x/-x.zone",
        ] {
            assert_eq!(zone_of_link(bad), None, "{bad}");
        }
        assert!(!safe_zone_name("a/b") && !safe_zone_name("a\0b") && !safe_zone_name("") && !safe_zone_name(".."));
        assert_eq!(file_name("com"), "com.zone.gz");
    }

    #[test]
    fn content_range_forms() {
        assert_eq!(parse_content_range("bytes 100-199/1000"), Some((Some(100), Some(1000))));
        assert_eq!(parse_content_range("bytes */1000"), Some((None, Some(1000))));
        assert_eq!(parse_content_range("bytes 0-9/*"), Some((Some(0), None)));
        assert_eq!(parse_content_range("items 0-9/10"), None);
        assert_eq!(parse_content_range("bytes x-9/10"), None);
    }

    #[test]
    fn watch_fails_a_trickle_but_not_a_steady_transfer() {
        struct Slow(u32);
        impl Read for Slow {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0 == 0 {
                    return Ok(0);
                }
                self.0 -= 1;
                std::thread::sleep(Duration::from_millis(20));
                buf[0] = b'x';
                Ok(1)
            }
        }
        let mut w = Watch::new(Slow(100), 1000, Duration::from_millis(100));
        let err = std::io::copy(&mut w, &mut std::io::sink()).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        let mut ok = Watch::new(&b"plenty of bytes, at once"[..], 1000, Duration::from_millis(100));
        assert_eq!(std::io::copy(&mut ok, &mut std::io::sink()).unwrap(), 24);
    }
}
