//! Progress on stderr: a bar on a terminal, a log line every `log.interval_seconds` otherwise
//! (cron), nothing with `--quiet`.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// What an import has read, parsed and written so far: the progress display and the summary
/// read them.
#[derive(Default)]
pub struct Counters {
    /// Bytes of the input as stored (compressed for gzip).
    pub raw: AtomicU64,
    /// Bytes of zone text.
    pub text: AtomicU64,
    pub records: AtomicU64,
    /// Records handed to the writer (the write phase's progress).
    pub written: AtomicU64,
}

#[derive(Debug, Clone, Copy)]
pub enum Mode {
    Quiet,
    Bar,
    Log(Duration),
}

impl Mode {
    /// A bar when stderr is a terminal, log lines otherwise, nothing when quiet.
    pub fn detect(quiet: bool, interval: Duration) -> Mode {
        if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Bar
        } else {
            Mode::Log(interval)
        }
    }
}

struct Running {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<()>,
}

impl Running {
    /// Stops the log-line thread at once (it parks between lines) and waits for it.
    fn end(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.thread().unpark();
        let _ = self.handle.join();
    }
}

/// The log-line thread of every reporter when stderr is no terminal (cron): calls `line` with
/// the seconds since it started, every `every`, until `stop` is set.
fn log_every(stop: Arc<AtomicBool>, every: Duration, mut line: impl FnMut(f64) + Send + 'static) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let start = Instant::now();
        let mut next = every;
        while !stop.load(Ordering::Relaxed) {
            // Parked, so that `Running::end` wakes it at once: a short command does not wait
            // for its reporter's next tick.
            std::thread::park_timeout(next.saturating_sub(start.elapsed()));
            if stop.load(Ordering::Relaxed) || start.elapsed() < next {
                continue;
            }
            next += every;
            line(start.elapsed().as_secs_f64());
        }
    })
}

pub struct Progress {
    mode: Mode,
    running: Mutex<Option<Running>>,
    phase: Arc<Mutex<&'static str>>,
}

impl Progress {
    pub fn new(mode: Mode) -> Progress {
        Progress { mode, running: Mutex::new(None), phase: Arc::new(Mutex::new("reading")) }
    }

    /// Starts reporting on one file of `size` stored bytes (when known).
    pub fn start(&self, file: &str, size: Option<u64>, counters: Arc<Counters>) {
        let stop = Arc::new(AtomicBool::new(false));
        let (mode, file, phase, stop2) = (self.mode, file.to_string(), self.phase.clone(), stop.clone());
        if let Ok(mut p) = self.phase.lock() {
            *p = "reading";
        }
        let handle = match mode {
            Mode::Quiet => return,
            Mode::Bar => std::thread::spawn(move || {
                let bar = match size {
                    Some(n) => ProgressBar::new(n),
                    None => ProgressBar::new_spinner(),
                };
                let style = ProgressStyle::with_template("{spinner} {prefix} [{bar:30}] {bytes}/{total_bytes} {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ");
                bar.set_style(style);
                bar.set_prefix(file);
                let start = Instant::now();
                while !stop2.load(Ordering::Relaxed) {
                    bar.set_position(counters.raw.load(Ordering::Relaxed));
                    let recs = counters.records.load(Ordering::Relaxed);
                    let rate = recs as f64 / start.elapsed().as_secs_f64().max(1e-3);
                    let ph = phase.lock().map(|p| *p).unwrap_or("");
                    if ph == "writing" {
                        let done = counters.written.load(Ordering::Relaxed);
                        bar.set_message(format!("writing: {done} of {recs} records"));
                    } else {
                        bar.set_message(format!("{ph}: {recs} records, {:.0}k rec/s", rate / 1e3));
                    }
                    std::thread::sleep(Duration::from_millis(150));
                }
                bar.finish_and_clear();
            }),
            Mode::Log(every) => log_every(stop2, every, move |secs| {
                let raw = counters.raw.load(Ordering::Relaxed);
                let text = counters.text.load(Ordering::Relaxed);
                let recs = counters.records.load(Ordering::Relaxed);
                let pct = size.filter(|&s| s > 0).map(|s| format!(" ({:.0}%)", raw as f64 * 100.0 / s as f64)).unwrap_or_default();
                let ph = phase.lock().map(|p| *p).unwrap_or("");
                if ph == "writing" {
                    let done = counters.written.load(Ordering::Relaxed);
                    eprintln!("zonefeed: {file}: writing: {done} of {recs} records, {secs:.0}s");
                } else {
                    eprintln!(
                        "zonefeed: {file}: {ph}: {:.1} MB read{pct}, {recs} records, {:.0} MB/s of zone text, {secs:.0}s",
                        raw as f64 / 1e6,
                        text as f64 / 1e6 / secs.max(1e-3),
                    );
                }
            }),
        };
        if let Ok(mut r) = self.running.lock() {
            *r = Some(Running { stop, handle });
        }
    }

    /// Names the step now running (reading, writing).
    pub fn phase(&self, name: &'static str) {
        if let Ok(mut p) = self.phase.lock() {
            *p = name;
        }
    }

    pub fn finish(&self) {
        let r = self.running.lock().ok().and_then(|mut r| r.take());
        if let Some(r) = r {
            r.end();
        }
    }
}

/// Progress of parallel downloads: a bar per transfer and a total on a terminal, a summary
/// line every interval otherwise.
pub struct Transfers {
    multi: Option<indicatif::MultiProgress>,
    total: Option<ProgressBar>,
    state: Arc<TransferState>,
    ticker: Option<Running>,
}

#[derive(Default)]
struct TransferState {
    zones: u64,
    done: std::sync::atomic::AtomicU64,
    active: std::sync::atomic::AtomicU64,
    bytes: std::sync::atomic::AtomicU64,
}

/// One zone's transfer; finishing (or dropping) it clears its bar.
pub struct TransferBar {
    bar: Option<ProgressBar>,
    state: Arc<TransferState>,
}

impl Transfers {
    pub fn new(mode: Mode, zones: u64) -> Transfers {
        let state = Arc::new(TransferState { zones, ..Default::default() });
        match mode {
            Mode::Quiet => Transfers { multi: None, total: None, state, ticker: None },
            Mode::Bar => {
                let multi = indicatif::MultiProgress::new();
                let total = multi.add(ProgressBar::new(zones));
                let style = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} zones {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ");
                total.set_style(style);
                total.set_prefix("download");
                Transfers { multi: Some(multi), total: Some(total), state, ticker: None }
            }
            Mode::Log(every) => {
                let stop = Arc::new(AtomicBool::new(false));
                let st = state.clone();
                let handle = log_every(stop.clone(), every, move |secs| {
                    let bytes = st.bytes.load(Ordering::Relaxed) as f64;
                    eprintln!(
                        "zonefeed: download: {} of {} zones done, {} active, {:.1} MB received ({:.1} MB/s), {secs:.0}s",
                        st.done.load(Ordering::Relaxed),
                        st.zones,
                        st.active.load(Ordering::Relaxed),
                        bytes / 1e6,
                        bytes / 1e6 / secs.max(1e-3)
                    );
                });
                Transfers { multi: None, total: None, state, ticker: Some(Running { stop, handle }) }
            }
        }
    }

    /// Starts showing the transfer of `name`.
    pub fn begin(&self, name: &str) -> TransferBar {
        self.state.active.fetch_add(1, Ordering::Relaxed);
        let bar = self.multi.as_ref().map(|m| {
            let bar = m.add(ProgressBar::new(0));
            let style = ProgressStyle::with_template("  {prefix:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(name.to_string());
            bar
        });
        TransferBar { bar, state: self.state.clone() }
    }

    /// Counts a zone finished (downloaded, skipped or failed).
    pub fn zone_done(&self, note: &str) {
        self.state.done.fetch_add(1, Ordering::Relaxed);
        if let Some(t) = &self.total {
            t.inc(1);
            t.set_message(note.to_string());
        }
    }

    pub fn finish(self) {
        if let Some(t) = &self.total {
            t.finish_and_clear();
        }
        if let Some(r) = self.ticker {
            r.end();
        }
    }
}

impl TransferBar {
    /// The size of the whole file and the bytes already on disk (a resumed transfer).
    pub fn reset(&self, total: Option<u64>, have: u64) {
        if let Some(b) = &self.bar {
            b.set_length(total.unwrap_or(0));
            b.set_position(have);
        }
    }

    pub fn inc(&self, n: u64) {
        self.state.bytes.fetch_add(n, Ordering::Relaxed);
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }

    pub fn message(&self, msg: &str) {
        if let Some(b) = &self.bar {
            b.set_message(msg.to_string());
        }
    }
}

impl Drop for TransferBar {
    fn drop(&mut self) {
        self.state.active.fetch_sub(1, Ordering::Relaxed);
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// Progress of work counted in rows, one step at a time (a partition, a table): a spinner on a
/// terminal, a line every interval otherwise.
pub struct Tally {
    bar: Option<ProgressBar>,
    state: Arc<Mutex<(String, u64)>>,
    ticker: Option<Running>,
    unit: &'static str,
}

impl Tally {
    /// `task` names the work in log lines (`export`).
    pub fn new(mode: Mode, task: &'static str) -> Tally {
        Tally::counting(mode, task, "rows")
    }

    /// A tally whose count is of `unit` (`questions`), not rows.
    pub fn counting(mode: Mode, task: &'static str, unit: &'static str) -> Tally {
        let state = Arc::new(Mutex::new((String::new(), 0u64)));
        match mode {
            Mode::Quiet => Tally { bar: None, state, ticker: None, unit },
            Mode::Bar => {
                let bar = ProgressBar::new_spinner();
                let style = ProgressStyle::with_template("{spinner} {prefix} {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner());
                bar.set_style(style);
                bar.set_prefix(task);
                bar.enable_steady_tick(Duration::from_millis(200));
                Tally { bar: Some(bar), state, ticker: None, unit }
            }
            Mode::Log(every) => {
                let stop = Arc::new(AtomicBool::new(false));
                let st = state.clone();
                let handle = log_every(stop.clone(), every, move |secs| {
                    if let Ok(s) = st.lock() {
                        eprintln!("zonefeed: {task}: {}: {} {unit}, {secs:.0}s", s.0, s.1);
                    }
                });
                Tally { bar: None, state, ticker: Some(Running { stop, handle }), unit }
            }
        }
    }

    /// The current step and the rows it has done.
    pub fn set(&self, step: &str, rows: u64) {
        if let Ok(mut s) = self.state.lock() {
            if s.0 != step {
                s.0 = step.to_string();
            }
            s.1 = rows;
        }
        if let Some(b) = &self.bar {
            b.set_message(format!("{step}: {rows} {}", self.unit));
        }
    }

    pub fn finish(self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        if let Some(r) = self.ticker {
            r.end();
        }
    }
}

/// `31.2 MB`, `850.0 kB`, `12 bytes` (decimal units, as the summaries use).
pub fn human_bytes(n: u64) -> String {
    match n {
        0..1_000 => format!("{n} bytes"),
        1_000..1_000_000 => format!("{:.1} kB", n as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", n as f64 / 1e6),
        _ => format!("{:.2} GB", n as f64 / 1e9),
    }
}
