//! The import pipeline: a zone file in, one new current version of its TLD in SQLite out.
//!
//! Threads (all scoped, all joined; the first error wins and stops the rest):
//! the reader decompresses and cuts chunks ([`source`]); the rayon pool parses them, each from
//! the latest known parse state ([`crate::zone::parser`]); this thread takes results in file
//! order, checks each chunk's start state and parses again where the guess was wrong
//! ([`commit`]), and collects sort runs ([`crate::sort`]); at the end the merged records are grouped
//! into RRsets and domains ([`group`]) and sent to the single writer ([`crate::store::writer`]).
//!
//! Nothing becomes visible until the whole file has parsed within `--max-errors` and every
//! row is written: then one short transaction makes the new version current.

pub mod commit;
pub mod group;
pub mod source;
pub mod space;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{Scope, ScopedJoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender};
use rayon::iter::{ParallelBridge, ParallelIterator};
use rusqlite::Connection;
use serde::Serialize;

use crate::progress::{human_bytes, Progress};
use crate::store::links::Bulk;
use crate::store::{self, writer};
use crate::zone::name::Origin;
use crate::zone::parser::{self, State};
use source::{ChunkBytes, Counters, Input};

/// How one import runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub tld: Option<String>,
    pub no_records: bool,
    pub max_errors: u64,
    /// Memory budget for sorting, bytes.
    pub memory: usize,
    /// Chunk size, bytes (tests force tiny chunks).
    pub chunk: usize,
    /// Directory for sort spills (next to the database by default).
    pub spill_dir: PathBuf,
    /// Error details printed before only counting.
    pub show_errors: usize,
    /// Parser options; with `$INCLUDE` allowed the file is parsed as one chunk, in order.
    pub parser: parser::Options,
    /// Import even an older serial or a version that removes more than `max_removed`.
    pub force: bool,
    /// The share of a zone's domains (percent) a new version may remove without `force`.
    pub max_removed: f64,
    /// Webhook endpoints whose outbox gets this version's events, in the switch transaction.
    pub webhooks: Vec<crate::changes::webhooks::Endpoint>,
    /// The zone date (RFC 3339, midnight UTC) [None: the `Last-Modified` a download recorded
    /// for the file, else its mtime, else today].
    pub date: Option<String>,
}

pub use crate::config::{DEFAULT_MAX_REMOVED, DEFAULT_MEMORY};
/// Malformed records whose details are printed before they are only counted.
const SHOW_ERRORS: usize = 20;

impl Options {
    /// The defaults every entry point starts from (`import`, `sync`, the service).
    pub fn new(spill_dir: PathBuf) -> Options {
        Options {
            tld: None,
            no_records: false,
            max_errors: 0,
            memory: DEFAULT_MEMORY,
            chunk: source::CHUNK,
            spill_dir,
            show_errors: SHOW_ERRORS,
            parser: Default::default(),
            force: false,
            max_removed: DEFAULT_MAX_REMOVED,
            webhooks: Vec::new(),
            date: None,
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub file: String,
    pub tld: String,
    pub version: i64,
    /// The day the version's data is for (`YYYY-MM-DD`).
    pub zone_date: String,
    pub serial: Option<u32>,
    pub records: u64,
    pub domains: u64,
    pub errors: u64,
    /// Bytes of zone text (uncompressed).
    pub bytes: u64,
    pub seconds: f64,
    /// True when the file equals the current version and nothing was written.
    pub unchanged: bool,
    pub new_domains: u64,
    pub changed_domains: u64,
    pub removed_domains: u64,
    /// Webhook outbox rows queued for this version's events.
    pub queued: u64,
    /// `watch` events: watched domains changed, new look-alikes of watched terms.
    pub watch_hits: u64,
    /// Unique records per type.
    pub types: std::collections::BTreeMap<String, u64>,
    /// Sorted runs that went to disk because the records outgrew `--memory`.
    pub spilled_runs: usize,
    /// Domains with DS records (kept in `zones.ds_domains` for the zone's DNSSEC share over time).
    #[serde(skip)]
    pub ds_domains: u64,
    /// Blocks of packed comparison state written (`zones.state_blocks`), and the version
    /// they are a delta on (`zones.state_prev`).
    #[serde(skip)]
    pub state_blocks: Option<i64>,
    #[serde(skip)]
    pub state_prev: Option<i64>,
}

/// Why an import failed. The previous version of the TLD is untouched in every case.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{file}: {source}")]
    Open { file: String, source: std::io::Error },
    #[error("{file}: {msg}")]
    Read { file: String, msg: String },
    #[error("{file}: {count} malformed record(s), more than --max-errors {max} allows; the previous version is kept")]
    TooManyErrors { file: String, count: u64, max: u64 },
    #[error("{file}: cannot tell which zone this is (no --tld, no SOA, no $ORIGIN, and not a CZDS file name like com.zone.gz)")]
    NoZone { file: String },
    #[error("{file}: --tld `{tld}`: {msg}")]
    BadTld { file: String, tld: String, msg: String },
    #[error("{file}: {count} SOA records at the origin `{zone}`; a zone version has exactly one (RFC 1035 §5.2){hint}")]
    Soa { file: String, zone: String, count: u64, hint: &'static str },
    #[error("{file}: dated {date}, before the current version's {current}; --force imports it anyway (or give --date)")]
    OlderDate { file: String, date: String, current: String },
    #[error("{file}: holds no records")]
    Empty { file: String },
    #[error("{file}: sort spill in `{}`: {source}", dir.display())]
    Spill { file: String, dir: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("{file}: serial {serial} is older than the current version's {current} (RFC 1982); --force imports it anyway")]
    OlderSerial { file: String, serial: u32, current: u32 },
    #[error("{file}: would remove {removed} of {of} domains ({pct:.1}%, more than --max-removed {max}%): a short or broken file? --force imports it anyway")]
    TooManyRemoved { file: String, removed: u64, of: u64, pct: f64, max: f64 },
    #[error("{file}: writing the database: {source}")]
    Write { file: String, source: rusqlite::Error },
    #[error(
        "{file}: needs about {} on `{}` ({}, and a reserve) but {} is free; free some space, give --temp-dir on another disk, or --force (sync: --force-import) to try anyway",
        human_bytes(short.need), short.dir.display(), short.what, human_bytes(short.free)
    )]
    NoSpace { file: String, short: space::Short },
    /// The writer thread was gone or panicked: not the input's fault, and not one that reading
    /// the file again would mend (`sync` retries only reading).
    #[error("{file}: the database writer {msg}")]
    Writer { file: String, msg: &'static str },
}

impl ImportError {
    pub fn is_busy(&self) -> bool {
        match self {
            ImportError::Store(e) => e.is_busy(),
            ImportError::Write { source, .. } => {
                matches!(source.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
            }
            _ => false,
        }
    }
}

/// A chunk on its way to a parse worker.
pub(crate) struct RawChunk {
    pub seq: u64,
    pub bytes: ChunkBytes,
}

/// Imports one zone file as a new version of its TLD.
pub fn import(conn: &mut Connection, input: &Input, opts: &Options, progress: &Progress) -> Result<Summary, ImportError> {
    let (p, opened) = Pipeline::new(input, opts)?;
    store::clean_leftovers(conn).map_err(|e| p.write_error(e))?;
    progress.start(&p.file, p.size, p.counters.clone());
    let result = std::thread::scope(|s| {
        let mut threads = Threads::new(&p.cancel);
        p.run(s, &mut *conn, opened, progress, &mut threads)
    });
    progress.finish();
    p.finish(conn, result)
}

/// One import, a method per step: [`Pipeline::probe`] the file for its zone,
/// [`Pipeline::begin`] a version, start the writer and the parsers ([`Pipeline::start`]),
/// [`Pipeline::parse`] in file order, [`Pipeline::write`] the sorted records, check the
/// [`Pipeline::guards`]; then [`Pipeline::finish`] makes the version current, or removes what
/// it wrote. The threads stop in one place, when [`Threads`] drops.
struct Pipeline<'a> {
    input: &'a Input,
    opts: &'a Options,
    file: String,
    started: Instant,
    counters: Arc<Counters>,
    /// The digest of the bytes read, for stdin, where it is known only at the end.
    digest: source::DigestSlot,
    /// A file's digest, taken first: an unchanged file is skipped before any parsing.
    file_digest: Option<[u8; 32]>,
    /// The input's size in bytes, when known; whether it is gzip.
    size: Option<u64>,
    gzip: bool,
    /// The zone `--tld` or the file name gives, if any.
    initial_origin: Option<Origin>,
    /// The parse state the file starts in.
    initial: State,
    /// The latest parse state the in-order step knows: workers start from it.
    latest: Mutex<State>,
    /// Set on an error: the reader stops cutting chunks.
    cancel: AtomicBool,
}

/// The threads of a running import, and the guard that stops them. Each handle is taken when
/// the import joins it for its result; whatever is left when the guard drops (an error, an
/// unchanged file, a panic) is stopped and joined there, the one place teardown happens.
struct Threads<'s> {
    /// Set when stopping early: the reader cuts no more chunks.
    cancel: &'s AtomicBool,
    reader: Option<ScopedJoinHandle<'s, Result<(), String>>>,
    parsers: Option<ScopedJoinHandle<'s, ()>>,
    writer: Option<ScopedJoinHandle<'s, rusqlite::Result<writer::Stats>>>,
    /// The writer's input: dropping it ends the writer.
    to_writer: Option<Sender<writer::ToWriter>>,
}

impl<'s> Threads<'s> {
    fn new(cancel: &'s AtomicBool) -> Threads<'s> {
        Threads { cancel, reader: None, parsers: None, writer: None, to_writer: None }
    }
}

impl Drop for Threads<'_> {
    /// Stops whatever still runs: the reader at its next chunk, the writer at the end of its
    /// input; the parsers run out with the reader. Their own errors are not the import's: the
    /// import already has its error, or an answer that needed none of them.
    fn drop(&mut self) {
        if self.reader.is_some() || self.parsers.is_some() || self.writer.is_some() {
            self.cancel.store(true, Ordering::Relaxed);
        }
        self.to_writer = None;
        if let Some(p) = self.parsers.take() {
            let _ = p.join();
        }
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

/// What [`Pipeline::begin`] found: the file is the current version's, or a version begun.
enum Begin {
    Unchanged(store::Current),
    Begun(Begun),
}

struct Begun {
    version: i64,
    zone_date: String,
    previous: Option<store::Current>,
}

impl<'a> Pipeline<'a> {
    /// The import of `input`, its file open.
    fn new(input: &'a Input, opts: &'a Options) -> Result<(Pipeline<'a>, source::Opened), ImportError> {
        let file = input.display();
        let open_error = |source| ImportError::Open { file: file.clone(), source };
        let file_digest = match input.path() {
            Some(p) if p.is_file() => Some(source::sha256_file(p).map_err(open_error)?),
            _ => None,
        };
        let counters = Arc::new(Counters::default());
        let digest: source::DigestSlot = Default::default();
        let opened = source::open(input, &counters, &digest).map_err(open_error)?;
        let initial_origin = match &opts.tld {
            Some(t) => {
                Some(Origin::parse(t).map_err(|e| ImportError::BadTld { file: file.clone(), tld: t.clone(), msg: e.to_string() })?)
            }
            None => input.path().and_then(source::zone_from_file_name).and_then(|z| Origin::parse(&z).ok()),
        };
        // As BIND does, a first record that leaves out its owner owns the origin.
        let initial =
            State { prev_owner: initial_origin.as_ref().map(|o| o.wire().to_vec()), origin: initial_origin.clone(), ..State::default() };
        // Before the in-order step knows any state, workers guess the class nearly every zone
        // has: else each chunk parsed before the first one is committed reads a class that is
        // not yet known, and is parsed again.
        let guess = State { class: initial.class.or(Some(crate::zone::types::CLASS_IN)), ..initial.clone() };
        let p = Pipeline {
            input,
            opts,
            file,
            started: Instant::now(),
            counters,
            digest,
            file_digest,
            size: opened.size,
            gzip: opened.gzip,
            initial_origin,
            initial,
            latest: Mutex::new(guess),
            cancel: AtomicBool::new(false),
        };
        Ok((p, opened))
    }

    fn write_error(&self, source: rusqlite::Error) -> ImportError {
        ImportError::Write { file: self.file.clone(), source }
    }

    fn spill_error(&self, source: std::io::Error) -> ImportError {
        ImportError::Spill { file: self.file.clone(), dir: self.opts.spill_dir.clone(), source }
    }

    /// The reader's failure, or the file's emptiness, as the import's error.
    fn read_error(&self, r: Option<std::thread::Result<Result<(), String>>>) -> ImportError {
        match r {
            Some(Ok(Err(msg))) => ImportError::Read { file: self.file.clone(), msg: gzip_hint(msg, self.gzip) },
            Some(Err(_)) => ImportError::Read { file: self.file.clone(), msg: "reader thread panicked".into() },
            _ => ImportError::Empty { file: self.file.clone() },
        }
    }

    /// Every step, on the scope's threads.
    fn run<'s>(
        &'s self,
        s: &'s Scope<'s, '_>,
        conn: &'s mut Connection,
        opened: source::Opened,
        progress: &Progress,
        threads: &mut Threads<'s>,
    ) -> Result<Summary, ImportError> {
        let (raw_tx, raw_rx) = bounded::<RawChunk>(in_flight());
        threads.reader = Some(s.spawn(move || self.read(opened, raw_tx)));
        let (zone, head) = self.probe(&raw_rx, threads)?;
        let tld = zone.text().to_string();
        let begun = match self.begin(conn, &tld)? {
            Begin::Begun(b) => b,
            // The reader is stopped when `threads` drops, after `raw_rx` has.
            Begin::Unchanged(cur) => return Ok(Summary::unchanged(self.file.clone(), tld, &cur, self.started)),
        };
        let res_rx = self.start(s, conn, &zone, &begun, head, raw_rx, threads);
        let mut sorter = crate::sort::Sorter::new(self.opts.memory, self.opts.spill_dir.clone());
        let committed = self.parse(res_rx, &zone, &mut sorter)?;
        if let Some(p) = threads.parsers.take() {
            let _ = p.join();
        }
        match threads.reader.take().map(|r| r.join()) {
            Some(Ok(Ok(()))) => {}
            r => return Err(self.read_error(r)),
        }
        if committed.errors > self.opts.max_errors {
            return Err(ImportError::TooManyErrors { file: self.file.clone(), count: committed.errors, max: self.opts.max_errors });
        }
        progress.phase("writing");
        let spilled_runs = sorter.spilled_runs();
        let (g, wstats) = self.write(sorter, &zone, &begun, threads)?;
        self.guards(&g, &wstats, &tld, begun.previous.as_ref())?;
        Ok(Summary {
            file: self.file.clone(),
            tld,
            version: begun.version,
            zone_date: crate::time::date_of(&begun.zone_date).to_string(),
            serial: g.serial,
            records: g.records,
            domains: wstats.domains,
            errors: committed.errors,
            bytes: self.counters.text.load(Ordering::Relaxed),
            seconds: 0.0,
            unchanged: false,
            new_domains: wstats.new_domains,
            changed_domains: wstats.changed_domains,
            removed_domains: wstats.removed_domains,
            queued: 0,
            watch_hits: 0,
            types: g.types,
            spilled_runs,
            ds_domains: g.ds_domains,
            state_blocks: wstats.state_blocks,
            state_prev: wstats.state_prev,
        })
    }

    /// The reader: decompresses and cuts chunks until the input ends or the import stops.
    fn read(&self, opened: source::Opened, raw_tx: Sender<RawChunk>) -> Result<(), String> {
        let mut seq = 0;
        // An included file can change any state: with $INCLUDE allowed, one chunk.
        let chunk = if self.opts.parser.include.is_some() { 1 << 40 } else { self.opts.chunk };
        source::split(opened, chunk, &self.counters, |bytes| {
            if self.cancel.load(Ordering::Relaxed) {
                return false;
            }
            let ok = raw_tx.send(RawChunk { seq, bytes }).is_ok();
            seq += 1;
            ok
        })
    }

    /// The zone the file holds, from its first chunks (up to PROBE bytes): `--tld`, else the
    /// SOA owner or first `$ORIGIN`, else the file name. Returns the chunks it read.
    fn probe(&self, raw_rx: &Receiver<RawChunk>, threads: &mut Threads<'_>) -> Result<(Origin, Vec<RawChunk>), ImportError> {
        let mut head: Vec<RawChunk> = Vec::new();
        let mut head_bytes: Vec<u8> = Vec::new();
        let mut probed = None;
        while let Ok(c) = raw_rx.recv() {
            head_bytes.extend_from_slice(&c.bytes);
            head.push(c);
            if self.opts.tld.is_some() {
                break;
            }
            probed = probe_zone(&head_bytes, &self.initial);
            if probed.is_some() || head_bytes.len() >= PROBE {
                break;
            }
        }
        if head.is_empty() {
            return Err(self.read_error(threads.reader.take().map(|r| r.join())));
        }
        let zone = match (&self.opts.tld, probed, self.initial_origin.clone()) {
            (Some(_), _, Some(o)) => o,
            (_, Some(p), _) => p,
            (_, None, Some(fallback)) => {
                log::info!(
                    "{}: no SOA or $ORIGIN in its first {} MiB; the zone `{}` is taken from the file name",
                    self.file,
                    PROBE >> 20,
                    fallback.text()
                );
                fallback
            }
            _ => return Err(ImportError::NoZone { file: self.file.clone() }),
        };
        Ok((zone, head))
    }

    /// Starts a version of `tld`, or None when the file is the current version's, imported
    /// the same way (nothing to do). Refuses data older than the current version's.
    fn begin(&self, conn: &Connection, tld: &str) -> Result<Begin, ImportError> {
        let previous = store::current_version(conn, tld).map_err(|e| self.write_error(e))?;
        let same =
            |cur: &store::Current, d: &[u8; 32]| cur.sha256.as_deref() == Some(hex(d).as_str()) && cur.with_records != self.opts.no_records;
        if let (Some(cur), Some(d)) = (&previous, &self.file_digest) {
            if same(cur, d) {
                return Ok(Begin::Unchanged(cur.clone()));
            }
        }
        // The day the data is for: every date a row or event gets is this one, so importing a
        // year of archived files gives each day its own date.
        let zone_date = match &self.opts.date {
            Some(d) => d.clone(),
            None => zone_date_of(conn, self.input, self.file_digest.as_ref()),
        };
        if let (Some(cur), false) = (&previous, self.opts.force) {
            if cur.zone_date.as_ref().is_some_and(|c| zone_date < *c) {
                let current = cur.zone_date.clone().unwrap_or_default();
                return Err(ImportError::OlderDate {
                    file: self.file.clone(),
                    date: crate::time::date_of(&zone_date).to_string(),
                    current: crate::time::date_of(&current).to_string(),
                });
            }
        }
        self.check_space(conn, previous.as_ref())?;
        let version = store::begin_version(
            conn,
            &store::NewVersion {
                tld,
                source: &self.file,
                size: self.size,
                sha256: self.file_digest.as_ref().map(hex),
                with_records: !self.opts.no_records,
                zone_date: &zone_date,
            },
        )
        .map_err(|e| self.write_error(e))?;
        Ok(Begin::Begun(Begun { version, zone_date, previous }))
    }

    /// Refuses, before anything is written, an import the disk cannot hold (`--force` tries
    /// anyway; the headroom watermark still stops it cleanly).
    fn check_space(&self, conn: &Connection, previous: Option<&store::Current>) -> Result<(), ImportError> {
        let input = space::Input { path: self.input.path(), size: self.size, gzip: self.gzip };
        let Some(need) = space::estimate(&input, previous, !self.opts.no_records, self.opts.memory) else { return Ok(()) };
        log::debug!(
            "space: about {} of text; the database needs about {}, sort runs {}",
            human_bytes(need.text),
            human_bytes(need.db),
            human_bytes(need.temp)
        );
        let Some(db) = conn.path().filter(|p| !p.is_empty()).map(Path::new) else { return Ok(()) };
        match space::check(&need, crate::config::dir_of(db), &self.opts.spill_dir) {
            Err(short) if !self.opts.force => Err(ImportError::NoSpace { file: self.file.clone(), short }),
            Err(short) => {
                log::warn!(
                    "{}: may not fit: {} wanted on `{}`, {} free (--force)",
                    self.file,
                    human_bytes(short.need),
                    short.dir.display(),
                    human_bytes(short.free)
                );
                Ok(())
            }
            Ok(()) => Ok(()),
        }
    }

    /// Spawns the writer, which takes the connection until it is joined (only one thread
    /// ever uses it), and the parsers: the probed chunks again, then the rest as they come.
    #[allow(clippy::too_many_arguments)]
    fn start<'s>(
        &'s self,
        s: &'s Scope<'s, '_>,
        conn: &'s mut Connection,
        zone: &Origin,
        begun: &Begun,
        head: Vec<RawChunk>,
        raw_rx: Receiver<RawChunk>,
        threads: &mut Threads<'s>,
    ) -> Receiver<commit::Parsed> {
        let job = writer::Job {
            zone: begun.version,
            tld: zone.text().to_string(),
            previous: begun.previous.as_ref().map(|p| writer::Previous {
                id: p.id,
                imported_at: p.zone_date.clone().unwrap_or_else(|| p.imported_at.clone()),
                records: p.with_records,
                state_blocks: p.state_blocks,
            }),
            now: begun.zone_date.clone(),
            records: !self.opts.no_records,
        };
        let (w_tx, w_rx) = bounded::<writer::ToWriter>(4);
        threads.to_writer = Some(w_tx);
        threads.writer = Some(s.spawn(move || writer::run(conn, &job, w_rx)));

        let (res_tx, res_rx) = bounded::<commit::Parsed>(in_flight());
        let zone = Arc::new(zone.clone());
        threads.parsers = Some(s.spawn(move || {
            head.into_iter().chain(raw_rx.iter()).par_bridge().for_each_with(res_tx, |tx, raw| {
                let guess = self.latest.lock().map(|g| g.clone()).unwrap_or_default();
                let parsed = commit::parse(raw, guess, &zone, &self.opts.parser);
                let _ = tx.send(parsed);
            });
        }));
        res_rx
    }
    /// Takes the parsed chunks in file order: checks each chunk's start state and parses
    /// again where the guess was wrong, prints the first errors, and sorts.
    fn parse(
        &self,
        res_rx: Receiver<commit::Parsed>,
        zone: &Origin,
        sorter: &mut crate::sort::Sorter,
    ) -> Result<commit::Committed, ImportError> {
        let show = self.opts.show_errors;
        let mut shown = 0usize;
        let mut print = |e: &parser::ParseError| {
            shown += 1;
            if shown <= show {
                eprintln!("{}:{}: {}", self.file, e.line, e.msg);
            } else if shown == show + 1 {
                eprintln!("{}: more errors follow; only counting them now", self.file);
            }
        };
        let r =
            commit::commit_all(res_rx, self.initial.clone(), zone, &self.latest, sorter, self.opts, &self.file, &self.counters, &mut print);
        trace(self.started, "parsed and sorted into runs");
        r
    }

    /// Merges the sorted runs, groups them into RRsets and domains for the writer, and waits
    /// for it to finish.
    fn write(
        &self,
        sorter: crate::sort::Sorter,
        zone: &Origin,
        begun: &Begun,
        threads: &mut Threads<'_>,
    ) -> Result<(group::Grouped, writer::Stats), ImportError> {
        let merged = sorter.finish().map_err(|e| self.spill_error(e))?;
        trace(self.started, "last run sorted");
        let Some(w_tx) = threads.to_writer.take() else {
            return Err(ImportError::Writer { file: self.file.clone(), msg: "is not running" });
        };
        // A version with no current one with records to compare with is written whole: its
        // reverse-lookup index is collected by the grouping step, then sent to the writer
        // after the last batch.
        let whole = !self.opts.no_records && !begun.previous.as_ref().is_some_and(|p| p.with_records);
        let mut bulk = whole.then(|| Bulk::new(self.opts.memory, self.opts.spill_dir.clone()));
        let grouped = group::run(merged, zone, self.opts.no_records, &w_tx, &self.counters, bulk.as_mut());
        if let (Some(b), true) = (bulk, grouped.is_ok()) {
            let _ = w_tx.send(writer::ToWriter::Index(b));
        }
        trace(self.started, "grouped");
        drop(w_tx);
        let wstats = threads.writer.take().map(|w| w.join());
        trace(self.started, "written");
        // The writer's own error is the cause when grouping stopped because the writer did
        // (a full disk says "database or disk is full", not "the writer stopped").
        let wstats = match wstats {
            Some(Ok(w)) => w.map_err(|e| self.write_error(e))?,
            _ => return Err(ImportError::Writer { file: self.file.clone(), msg: "thread panicked" }),
        };
        Ok((grouped.map_err(|e| self.spill_error(e))?, wstats))
    }

    /// What makes a version unfit to replace the current one without `--force`: not one SOA,
    /// an older serial, too many domains removed.
    fn guards(&self, g: &group::Grouped, w: &writer::Stats, tld: &str, previous: Option<&store::Current>) -> Result<(), ImportError> {
        if self.opts.force {
            return Ok(());
        }
        let file = || self.file.clone();
        if g.soas != 1 {
            let hint = if g.soas == 0 {
                " (is --tld or the file name the right zone?); --force imports a fragment anyway"
            } else {
                "; --force imports it anyway"
            };
            return Err(ImportError::Soa { file: file(), zone: tld.to_string(), count: g.soas, hint });
        }
        let Some(cur) = previous else { return Ok(()) };
        if let (Some(serial), Some(current)) = (g.serial, cur.serial) {
            if serial_older(serial, current) {
                return Err(ImportError::OlderSerial { file: file(), serial, current });
            }
        }
        let of = cur.domains.max(1);
        let pct = w.removed_domains as f64 * 100.0 / of as f64;
        if pct > self.opts.max_removed {
            return Err(ImportError::TooManyRemoved { file: file(), removed: w.removed_domains, of, pct, max: self.opts.max_removed });
        }
        Ok(())
    }

    /// After the threads: makes the version current, or on an error drops what it wrote.
    fn finish(&self, conn: &mut Connection, result: Result<Summary, ImportError>) -> Result<Summary, ImportError> {
        match result {
            Ok(mut sum) if !sum.unchanged => {
                // stdin: the digest is known only now.
                let sha = self.file_digest.or_else(|| self.digest.lock().ok().and_then(|d| *d)).map(|d| hex(&d));
                make_current(conn, &mut sum, sha, self.opts, self.started).map_err(|e| self.write_error(e))?;
                sum.seconds = self.started.elapsed().as_secs_f64();
                Ok(sum)
            }
            Ok(mut sum) => {
                sum.seconds = self.started.elapsed().as_secs_f64();
                Ok(sum)
            }
            Err(e) => {
                // Drop the half-written version now, so its rows do not keep a full disk full.
                // The writer stopped while the disk had room for the WAL's committed frames in
                // the database file (`store::space`): moving them there first frees the WAL's
                // room for the deletions. Should a deletion still fail, truncating the WAL
                // once more makes room, then it tries again.
                let _ = store::truncate_wal(conn, store::READER_BOUND);
                if store::clean_leftovers(conn).is_err() {
                    let _ = store::truncate_wal(conn, store::READER_BOUND);
                    if let Err(c) = store::clean_leftovers(conn) {
                        log::warn!("{}: the failed import's rows could not be removed now ({c}); the next import removes them", self.file);
                    }
                }
                // Give the WAL's room back to the disk: the writer stopped while there was
                // room for this (see `store::space`).
                let _ = store::truncate_wal(conn, store::READER_BOUND);
                Err(e)
            }
        }
    }
}

/// Runs the pipeline's own split, parse and in-order commit over `data` cut into `chunk`-byte
/// chunks, every worker guessing the initial state, and returns the sorted, deduplicated sort
/// keys (`domain \0 owner \0 TYPE \0 rdata`, TTL) or the error lines. No database: this is
/// what the chunking fuzz target and tests compare across chunk sizes.
pub fn parse_in_chunks(data: Vec<u8>, chunk: usize, zone: &str) -> Result<Vec<(Vec<u8>, u32)>, Vec<String>> {
    let zone = Origin::parse(zone).map_err(|e| vec![e.to_string()])?;
    let initial = State { origin: Some(zone.clone()), prev_owner: Some(zone.wire().to_vec()), ..State::default() };
    let counters = Counters::default();
    let (tx, rx) = crossbeam_channel::unbounded::<commit::Parsed>();
    let mut seq = 0;
    let split = source::split(source::from_bytes(data), chunk.max(1), &counters, |bytes| {
        let _ = tx.send(commit::parse(RawChunk { seq, bytes }, initial.clone(), &zone, &parser::Options::default()));
        seq += 1;
        true
    });
    drop(tx);
    split.map_err(|e| vec![e])?;
    let dir = std::env::temp_dir();
    // Inputs here are small (fuzz cases, tests): a small budget keeps each call cheap.
    let mut sorter = crate::sort::Sorter::new(4 << 20, dir.clone());
    let opts = Options { max_errors: u64::MAX, chunk, show_errors: 0, ..Options::new(dir) };
    let latest = Mutex::new(initial.clone());
    let mut errors = Vec::new();
    commit::commit_all(rx, initial, &zone, &latest, &mut sorter, &opts, "<memory>", &counters, &mut |e| {
        errors.push(format!("{}: {}", e.line, e.msg))
    })
    .map_err(|e| vec![e.to_string()])?;
    if !errors.is_empty() {
        return Err(errors);
    }
    sorter.finish().and_then(crate::sort::Merged::collect_folded).map_err(|e| vec![e.to_string()])
}

/// Chunks each channel between the reader, the parsers and the in-order step holds: two per
/// parse worker keep every worker fed.
fn in_flight() -> usize {
    2 * rayon::current_num_threads().max(1)
}

/// Phase timings at debug level: on stderr with `-v` (for profiling, not an interface).
fn trace(started: Instant, what: &str) {
    log::debug!("{:7.3}s {what}", started.elapsed().as_secs_f64());
}

/// Switches the TLD to the new version in one short transaction, then drops the old rows.
fn make_current(conn: &mut Connection, sum: &mut Summary, sha: Option<String>, opts: &Options, started: Instant) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let figures = store::Figures {
        serial: sum.serial,
        records: sum.records,
        domains: sum.domains,
        errors: sum.errors,
        bytes: sum.bytes,
        sha256: sha,
        ds_domains: sum.ds_domains,
        added: sum.new_domains,
        removed: sum.removed_domains,
        modified: sum.changed_domains,
        state_blocks: sum.state_blocks,
        state_prev: sum.state_prev,
    };
    store::switch_version(&tx, &sum.tld, sum.version, &figures)?;
    // Watch hits and the outbox commit with the version: no event is lost, none announced
    // for a version that never became current.
    sum.watch_hits = crate::changes::watch::match_version(&tx, sum.version, &sum.tld)?;
    sum.queued = crate::changes::webhooks::enqueue(&tx, sum.version, &sum.tld, &opts.webhooks)?;
    tx.commit()?;
    trace(started, "current");
    // The version is current: what follows tidies up, and a failure of it (an I/O error, a
    // full disk) is no failed import. The next import, or `clean_leftovers`, finishes it.
    if let Err(e) = tidy(conn, sum, opts.no_records, started) {
        log::warn!("{}: version {} is current; tidying up after it failed ({e}); the next import finishes it", sum.file, sum.version);
    }
    Ok(())
}

/// After the switch: drops what the new version made obsolete, and truncates the WAL.
fn tidy(conn: &Connection, sum: &Summary, no_records: bool, started: Instant) -> rusqlite::Result<()> {
    // Packed state the new version's chain does not build on is no comparison's now (after
    // the switch, which stays tiny: freeing the blocks reads their pages).
    store::state::drop_unchained(conn, Some(&sum.tld))?;
    // The rows this version replaced are no reader's now.
    store::settle(conn, sum.version)?;
    trace(started, "pending names settled (the replaced rows stay as history)");
    if no_records {
        // --no-records keeps no records of this TLD: a previous version's go now, in batches
        // (readers already ignore them: the current version says it has none).
        store::delete_tld_rows(conn, &sum.tld, store::RECORD_TABLES)?;
    }
    // Readers never stall the import here: at most READER_BOUND, then the WAL waits for them.
    if !store::truncate_wal(conn, store::READER_BOUND)? {
        trace(started, "a reader kept the WAL from being truncated");
    }
    trace(started, "checkpointed");
    Ok(())
}

/// The zone a file holds, from its first chunk: the SOA owner, else the first `$ORIGIN`.
fn probe_zone(first: &[u8], initial: &State) -> Option<Origin> {
    // The SOA comes first in nearly every file: its first lines settle it without parsing all
    // of the head. Without a SOA there, the whole head decides (an `$ORIGIN` in the first
    // lines must not win over a SOA further on).
    let lines = memchr::memrchr(b'\n', &first[..first.len().min(PROBE_FIRST)]).map(|i| &first[..=i]);
    if let Some(soa) = lines.and_then(|l| probe(l, initial).0) {
        return Some(soa);
    }
    let (soa, origin) = probe(first, initial);
    soa.or(origin)
}

/// The owner of the first SOA in `text`, and its first `$ORIGIN`.
fn probe(text: &[u8], initial: &State) -> (Option<Origin>, Option<Origin>) {
    struct Soa(Option<Vec<u8>>);
    impl parser::Sink for Soa {
        fn record(&mut self, r: &parser::Record<'_>) {
            if self.0.is_none() && r.rtype == crate::zone::types::SOA {
                self.0 = Some(r.owner.to_ascii_lowercase());
            }
        }
    }
    let mut sink = Soa(None);
    let out = parser::parse_chunk(text, 1, initial.clone(), &mut sink);
    (sink.0.map(Origin::from_wire), out.first_origin)
}

fn gzip_hint(msg: String, gzip: bool) -> String {
    if gzip && !msg.contains("gzip") {
        format!("gzip: {msg}")
    } else {
        msg
    }
}

/// A version's zone date when none is given: the `Last-Modified` that `download` or `sync`
/// recorded for these bytes, else the file's mtime, else (stdin) today.
fn zone_date_of(conn: &Connection, input: &Input, digest: Option<&[u8; 32]>) -> String {
    let recorded = digest.and_then(|d| store::last_modified_of(conn, &hex(d)).ok().flatten());
    if let Some(day) = recorded.as_deref().and_then(crate::time::day_of_http_date) {
        return day;
    }
    let mtime = input.path().and_then(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    let secs = mtime.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_secs() as i64);
    crate::time::day(secs.unwrap_or_else(crate::time::unix_now))
}

pub fn hex(d: &[u8; 32]) -> String {
    data_encoding::HEXLOWER.encode(d)
}

impl Summary {
    /// An unchanged file: the figures of the current version it equals.
    fn unchanged(file: String, tld: String, cur: &store::Current, started: Instant) -> Summary {
        Summary {
            file,
            tld,
            version: cur.id,
            zone_date: cur.zone_date.as_deref().map(crate::time::date_of).unwrap_or_default().to_string(),
            serial: cur.serial,
            records: cur.records,
            domains: cur.domains,
            errors: cur.errors,
            bytes: cur.bytes,
            seconds: started.elapsed().as_secs_f64(),
            unchanged: true,
            new_domains: 0,
            changed_domains: 0,
            removed_domains: 0,
            queued: 0,
            watch_hits: 0,
            types: Default::default(),
            spilled_runs: 0,
            ds_domains: 0,
            state_blocks: None,
            state_prev: None,
        }
    }
}

/// RFC 1982 §3.2: `a` is older than `b` when `b` is ahead of it by less than 2^31.
pub fn serial_older(a: u32, b: u32) -> bool {
    a != b && b.wrapping_sub(a) < (1 << 31)
}

/// How much of a file's start is searched for its SOA or first `$ORIGIN`.
const PROBE: usize = 4 << 20; // 4 MiB
/// How much of it is tried first.
const PROBE_FIRST: usize = 64 << 10; // 64 KiB

/// How long a second writer waits for the lock.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;

    /// A SOA in the first lines settles the zone; past them, the whole head decides, and a SOA
    /// there still wins over an earlier `$ORIGIN`.
    #[test]
    fn probe_prefers_the_soa_wherever_it_is() {
        let none = State::default();
        let soa = |owner: &str| format!("{owner} 3600 IN SOA ns.{owner} h.{owner} 1 2 3 4 5\n");
        let text = |o: Option<Origin>| o.map(|o| o.text().to_string());
        assert_eq!(text(probe_zone(soa("net.").as_bytes(), &none)), Some("net".into()));
        let filler = "a.org. 60 IN A 192.0.2.1\n".repeat(PROBE_FIRST / 20);
        let late = format!("$ORIGIN org.\n{filler}{}", soa("example."));
        assert_eq!(text(probe_zone(late.as_bytes(), &none)), Some("example".into()));
        let no_soa = format!("$ORIGIN org.\n{filler}");
        assert_eq!(text(probe_zone(no_soa.as_bytes(), &none)), Some("org".into()));
    }
}
