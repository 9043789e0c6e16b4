//! The service: `sync` once a day per zone inside a download window, as ICANN's reference
//! client offers.
//!
//! CZDS publishes zones between 00:00 and 06:00 UTC, so the service works inside a window
//! (default 00:15-05:45). A zone's day is done only once a file whose `Last-Modified` falls on
//! that UTC day has been imported; until then the zone is checked again (HEAD first, so an
//! unchanged file costs one request) every 30 minutes inside the window. The decisions are pure
//! functions of the time ([`next_wake`], [`day_done`]), tested with an injected clock.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::config::{Config, ConfigError, Settings};
use crate::sync::{self, Plan, SyncStatus};
use crate::time::{unix_now, utc};

/// Checks of a zone whose file of the day is not there yet.
pub const RECHECK: i64 = 30 * 60;

/// The daily download window, in minutes after local midnight, in a time zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub start: i64,
    pub end: i64,
    /// `service.timezone`: `UTC` (the default), an offset such as `+02:00`, or a zone name such
    /// as `Europe/Berlin`, whose offset follows its DST rules.
    pub zone: jiff::tz::TimeZone,
}

impl Default for Window {
    fn default() -> Self {
        Window { start: 15, end: 5 * 60 + 45, zone: jiff::tz::TimeZone::UTC }
    }
}

impl Window {
    pub fn from_config(cfg: &Config) -> Result<Window, ConfigError> {
        let mut w = Window::default();
        let k = &cfg.keys;
        if let Some(s) = &k.service_start_time {
            w.start = parse_hhmm(s).ok_or_else(|| cfg.invalid("service.download_start_time", format!("`{s}` is not a time like 00:15")))?;
        }
        if let Some(s) = &k.service_end_time {
            w.end = parse_hhmm(s).ok_or_else(|| cfg.invalid("service.download_end_time", format!("`{s}` is not a time like 05:45")))?;
        }
        if let Some(s) = &k.service_timezone {
            w.zone = parse_zone(s).map_err(|why| cfg.invalid("service.timezone", why))?;
        }
        if w.start == w.end {
            return Err(cfg.invalid("service.download_end_time", "the window is empty (start equals end)".into()));
        }
        Ok(w)
    }

    /// Whether `now` (Unix seconds) is inside the window. A window may cross midnight.
    pub fn contains(&self, now: i64) -> bool {
        let m = self.local(now).map_or(0, |z| i64::from(z.hour()) * 60 + i64::from(z.minute()));
        if self.start < self.end {
            (self.start..self.end).contains(&m)
        } else {
            m >= self.start || m < self.end
        }
    }

    /// The next time at or after `now` when the window opens.
    pub fn next_open(&self, now: i64) -> i64 {
        self.next_at(now, self.start, true)
    }

    /// When the window that contains `now` closes.
    pub fn close_after(&self, now: i64) -> i64 {
        self.next_at(now, self.end, false)
    }

    fn local(&self, t: i64) -> Option<jiff::ZonedDateTime> {
        Some(jiff::Timestamp::from_second(t).ok()?.to_zoned_datetime(self.zone.clone()))
    }

    /// The first instant at local time `minute` on `now`'s local day or a later one that is
    /// after `now` (at it too, with `at_too`). A time that a DST change skips is taken as the
    /// time after the gap, one it repeats as its first occurrence (jiff's "compatible").
    fn next_at(&self, now: i64, minute: i64, at_too: bool) -> i64 {
        let Some(today) = self.local(now).map(|z| z.date()) else { return now };
        let mut day = today;
        for _ in 0..3 {
            let t = day
                .at((minute / 60) as i8, (minute % 60) as i8, 0, 0)
                .to_zoned_datetime(self.zone.clone())
                .map_or(now, |z| z.timestamp().as_second());
            if t > now || (at_too && t == now) {
                return t;
            }
            day = day.tomorrow().unwrap_or(day);
        }
        now
    }
}

fn parse_hhmm(s: &str) -> Option<i64> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m)).then_some(h * 60 + m)
}

/// `UTC`, `+02:00` / `-05:30` (at most 14 hours), or an IANA zone name from the system's tz
/// database.
fn parse_zone(s: &str) -> Result<jiff::tz::TimeZone, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("utc") || s == "Z" {
        return Ok(jiff::tz::TimeZone::UTC);
    }
    if let Some(sign) = match s.as_bytes().first() {
        Some(b'+') => Some(1),
        Some(b'-') => Some(-1),
        _ => None,
    } {
        let m = parse_hhmm(&s[1..]).filter(|&m| m <= 14 * 60).ok_or_else(|| format!("`{s}` is not an offset like +02:00"))?;
        let secs = i32::try_from(sign * m * 60).map_err(|_| format!("`{s}` is too far from UTC"))?;
        return jiff::tz::Offset::from_seconds(secs).map(jiff::tz::TimeZone::fixed).map_err(|e| format!("`{s}`: {e}"));
    }
    jiff::tz::TimeZone::get(s).map_err(|_| format!("`{s}` is not UTC, an offset like +02:00, or a time zone name like Europe/Berlin"))
}

/// What the service does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// Run a sync of the pending zones now.
    Now,
    /// Sleep until this Unix time, then decide again.
    At(i64),
}

/// The decision: `pending` zones still lack today's file; `last_check` is when they were last
/// checked (None: not yet today).
pub fn next_wake(now: i64, w: &Window, pending: bool, last_check: Option<i64>) -> Wake {
    if !w.contains(now) {
        return Wake::At(w.next_open(now));
    }
    if !pending {
        // Everything done: the next window (a new day), not this one again.
        return Wake::At(w.next_open(w.close_after(now)));
    }
    match last_check {
        Some(t) if now < t + RECHECK => Wake::At((t + RECHECK).min(w.close_after(now))),
        _ => Wake::Now,
    }
}

/// The UTC day (`2026-11-24`) a time falls on.
pub fn utc_day(t: i64) -> String {
    utc(t)[..10].to_string()
}

/// Whether `tld`'s day `day` is done: the current version was imported from a download whose
/// `Last-Modified` falls on that UTC day.
pub fn day_done(conn: &Connection, tld: &str, day: &str) -> rusqlite::Result<bool> {
    let lm: Option<String> = conn
        .query_row(
            "SELECT d.last_modified FROM downloads d JOIN current_zones z ON z.tld = d.tld AND z.sha256 = d.sha256
              WHERE d.tld = ?1 ORDER BY d.id DESC LIMIT 1",
            params![tld],
            |r| r.get(0),
        )
        .optional()?;
    Ok(lm.and_then(|lm| httpdate::parse_http_date(&lm).ok()).is_some_and(|t| {
        let secs = t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        utc_day(secs) == day
    }))
}

/// One service run, as `service status` shows it.
#[derive(Debug, Serialize)]
pub struct Run {
    pub id: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub zones: i64,
    pub ok: i64,
    pub failed: i64,
    /// Zones still waiting for today's file after this run.
    pub pending: i64,
    pub result: String,
    pub next_run: Option<String>,
}

pub fn record_start(conn: &Connection, now: i64) -> rusqlite::Result<i64> {
    conn.execute("INSERT INTO service_runs (started_at, result) VALUES (?1, 'running')", params![utc(now)])?;
    Ok(conn.last_insert_rowid())
}

pub fn record_end(conn: &Connection, id: i64, r: &Run) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE service_runs SET finished_at = ?2, zones = ?3, ok = ?4, failed = ?5, pending = ?6, result = ?7, next_run = ?8 WHERE id = ?1",
        params![id, r.finished_at, r.zones, r.ok, r.failed, r.pending, r.result, r.next_run],
    )?;
    Ok(())
}

/// The last `n` runs, newest first.
pub fn runs(conn: &Connection, n: usize) -> rusqlite::Result<Vec<Run>> {
    let mut st = conn.prepare(
        "SELECT id, started_at, finished_at, coalesce(zones, 0), coalesce(ok, 0), coalesce(failed, 0), coalesce(pending, 0), result, next_run
           FROM service_runs ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = st.query_map(params![n as i64], |r| {
        Ok(Run {
            id: r.get(0)?,
            started_at: r.get(1)?,
            finished_at: r.get(2)?,
            zones: r.get(3)?,
            ok: r.get(4)?,
            failed: r.get(5)?,
            pending: r.get(6)?,
            result: r.get(7)?,
            next_run: r.get(8)?,
        })
    })?;
    rows.collect()
}

/// The pid in the pid file, if that process is alive.
pub fn running_pid(pid_file: &std::path::Path) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(pid_file).ok()?.trim().parse().ok()?;
    // SAFETY: kill with signal 0 only checks that the process exists.
    #[cfg(unix)]
    let alive = pid > 0 && unsafe { libc::kill(pid, 0) } == 0;
    #[cfg(not(unix))]
    let alive = false;
    alive.then_some(pid)
}

/// The service: syncs the zones still waiting for today's file when [`next_wake`] says so,
/// sleeps otherwise. `base` is every run's plan; its zone list is narrowed to the zones still
/// waiting. `once`: one run now, whatever the window; returns whether every zone went well.
pub fn run_loop(s: &Settings, window: &Window, base: &Plan, pid_file: &std::path::Path, once: bool) -> anyhow::Result<bool> {
    if !once {
        if let Some(pid) = running_pid(pid_file).filter(|&p| p != std::process::id() as i32) {
            anyhow::bail!("the service already runs (pid {pid})");
        }
        std::fs::write(pid_file, std::process::id().to_string())
            .map_err(|e| anyhow::Error::new(e).context(format!("pid file `{}`", pid_file.display())))?;
    }
    let log = |msg: &str| eprintln!("{} zonefeed service: {msg}", crate::time::now_utc());
    // The monitor beside the syncs (`monitor.in_service`, on by default): a thread of its own
    // that checks what is due every few seconds; a run-once checks what is due once, after
    // its sync.
    let monitor = match s.config.keys.monitor_in_service.unwrap_or(true) {
        true => Some(crate::monitor::Setup::from_config(&s.config)?),
        false => None,
    };
    if let (Some(setup), false) = (monitor.clone(), once) {
        let db = s.db.clone();
        std::thread::spawn(move || {
            crate::monitor::keep_watch(&db, &setup, |m| eprintln!("{} zonefeed service: {m}", crate::time::now_utc()))
        });
    }
    // Events that wait on a sink that was down (a webhook receiver, the mail server, the
    // broker) leave soon after it is back, not at the next day's sync: a delivery every minute.
    let endpoints = crate::changes::webhooks::endpoints(&s.config)?;
    if !endpoints.is_empty() && !once {
        let (db, opts) = (s.db.clone(), crate::changes::webhooks::DeliveryOptions::from_config(&s.config));
        std::thread::spawn(move || {
            crate::changes::webhooks::keep_delivering(&db, &endpoints, &opts, |m| {
                eprintln!("{} zonefeed service: {m}", crate::time::now_utc())
            })
        });
    }
    let mut day = utc_day(unix_now());
    // None: every zone (the day's first run); Some: the zones still waiting for today's file.
    let mut pending: Option<Vec<String>> = None;
    let mut last_check = None;
    loop {
        let now = unix_now();
        if utc_day(now) != day {
            day = utc_day(now);
            pending = None;
            last_check = None;
        }
        let waiting = pending.as_ref().is_none_or(|p| !p.is_empty());
        let wake = if once { Wake::Now } else { next_wake(now, window, waiting, last_check) };
        if let Wake::At(t) = wake {
            log(&format!("next check at {}", utc(t)));
            // Short sleeps: a suspended machine or a clock change is noticed within a minute.
            while unix_now() < t {
                std::thread::sleep(std::time::Duration::from_secs((t - unix_now()).clamp(1, 60) as u64));
            }
            continue;
        }
        let conn = crate::store::open_rw(&s.db, s.wait)?;
        let run = record_start(&conn, now).unwrap_or(0);
        let mut plan = base.clone();
        plan.zones.tlds = pending.clone().unwrap_or_default();
        log(&format!("sync of {}", if plan.zones.tlds.is_empty() { "every zone".to_string() } else { plan.zones.tlds.join(" ") }));
        let mut zones: Vec<(String, bool)> = Vec::new();
        let result = sync::sync(s, &plan, |z| {
            if let Some(e) = &z.error {
                log(&format!("{}: {e}", z.tld));
            }
            zones.push((z.tld.clone(), z.status == SyncStatus::Ok));
            Ok(())
        });
        for a in result.iter().flat_map(|o| &o.analyses) {
            match &a.result {
                Ok((run, kept)) => log(&format!("analyze: {}", kept.line(run))),
                Err(e) => log(&format!("{}: analysis failed: {e:#}", a.tld)),
            }
        }
        let all_ok = match &result {
            Ok(o) => {
                o.fatal.is_none()
                    && o.failed == 0
                    && o.deliveries.iter().all(|d| d.pending == 0 && !d.disabled)
                    && o.analyses.iter().all(|a| a.result.is_ok())
            }
            Err(e) => {
                log(&format!("sync failed: {e:#}"));
                false
            }
        };
        let failed = zones.iter().filter(|(_, ok)| !ok).count();
        let still: Vec<String> = zones.iter().map(|(t, _)| t).filter(|t| !day_done(&conn, t, &day).unwrap_or(false)).cloned().collect();
        last_check = Some(now);
        let after = unix_now();
        let next = match next_wake(after, window, !still.is_empty(), last_check) {
            Wake::At(t) => t,
            Wake::Now => after,
        };
        let outcome = if all_ok { "ok" } else { "some zones failed" };
        log(&format!("{} zones, {} still waiting for today's file: {outcome}", zones.len(), still.len()));
        let r = Run {
            id: run,
            started_at: utc(now),
            finished_at: Some(crate::time::now_utc()),
            zones: zones.len() as i64,
            ok: (zones.len() - failed) as i64,
            failed: failed as i64,
            pending: still.len() as i64,
            result: outcome.to_string(),
            next_run: (!once).then(|| utc(next)),
        };
        let _ = record_end(&conn, run, &r);
        pending = Some(still);
        if once {
            if let Some(setup) = &monitor {
                // A run-once checks what is due once, after its sync.
                match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                    Ok(rt) => crate::monitor::pass_beside(&rt, &s.db, s.wait, setup, &log),
                    Err(e) => log(&format!("monitor: {e}")),
                }
            }
            // A run that could not start at all (login refused, database busy) says why.
            return result.map(|_| all_ok);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-24 at hh:mm UTC.
    fn at(h: i64, m: i64) -> i64 {
        crate::time::days_from_civil(2026, 11, 24) * 86400 + h * 3600 + m * 60
    }

    #[test]
    fn window_bounds_and_offsets() {
        let w = Window::default();
        assert!(!w.contains(at(0, 14)) && w.contains(at(0, 15)) && w.contains(at(5, 44)) && !w.contains(at(5, 45)));
        assert_eq!(w.next_open(at(0, 0)), at(0, 15));
        assert_eq!(w.next_open(at(0, 15)), at(0, 15));
        assert_eq!(w.next_open(at(6, 0)), at(24, 15));
        assert_eq!(w.close_after(at(1, 0)), at(5, 45));
        // A window in UTC+02:00 opens at 22:15 UTC the day before.
        let east = Window { zone: parse_zone("+02:00").unwrap(), ..w.clone() };
        assert!(east.contains(at(22, 20) - 86400) && east.contains(at(1, 0)) && !east.contains(at(4, 0)));
        assert_eq!(east.next_open(at(12, 0)), at(22, 15));
        // A window across midnight.
        let night = Window { start: 23 * 60, end: 60, ..w.clone() };
        assert!(night.contains(at(23, 30)) && night.contains(at(0, 30)) && !night.contains(at(1, 0)));
        assert_eq!(parse_zone("-05:30").unwrap(), jiff::tz::TimeZone::fixed(jiff::tz::Offset::from_seconds(-19800).unwrap()));
        for bad in ["+15:00", "Mars/Olympus", "2"] {
            assert!(parse_zone(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_hhmm("24:00"), None);
    }

    #[test]
    fn a_named_zone_follows_its_dst_rules() {
        let day = |y, mo, d, h: i64, m: i64| crate::time::days_from_civil(y, mo, d) * 86400 + h * 3600 + m * 60;
        let berlin = Window { zone: parse_zone("Europe/Berlin").unwrap(), ..Window::default() };
        // Winter, UTC+1: 00:15 in Berlin is 23:15 UTC the day before; summer, UTC+2: 22:15.
        assert_eq!(berlin.next_open(day(2026, 11, 24, 12, 0)), day(2026, 11, 24, 23, 15));
        assert_eq!(berlin.next_open(day(2026, 7, 1, 12, 0)), day(2026, 7, 1, 22, 15));
        assert!(berlin.contains(day(2026, 7, 1, 22, 30)) && !berlin.contains(day(2026, 11, 24, 22, 30)));
        // The night DST begins (2026-03-29, 02:00 -> 03:00): the window still closes at 05:45
        // local, 03:45 UTC.
        assert_eq!(berlin.close_after(day(2026, 3, 29, 0, 0)), day(2026, 3, 29, 3, 45));
        // A fixed +01:00 is an hour off all summer: the reason for names.
        let fixed = Window { zone: parse_zone("+01:00").unwrap(), ..Window::default() };
        assert_ne!(fixed.next_open(day(2026, 7, 1, 12, 0)), berlin.next_open(day(2026, 7, 1, 12, 0)));
    }

    #[test]
    fn decisions_through_a_day() {
        let w = Window::default();
        // Before the window: sleep until it opens.
        assert_eq!(next_wake(at(0, 1), &w, true, None), Wake::At(at(0, 15)));
        // In the window with zones pending, not checked yet: now.
        assert_eq!(next_wake(at(0, 15), &w, true, None), Wake::Now);
        // Checked at 00:15 and a file is still yesterday's: again at 00:45, not before.
        assert_eq!(next_wake(at(0, 20), &w, true, Some(at(0, 15))), Wake::At(at(0, 45)));
        assert_eq!(next_wake(at(0, 45), &w, true, Some(at(0, 15))), Wake::Now);
        // The last recheck is cut at the window's end.
        assert_eq!(next_wake(at(5, 30), &w, true, Some(at(5, 25))), Wake::At(at(5, 45)));
        // Past the window with a zone never done: the next window, not a late run.
        assert_eq!(next_wake(at(5, 45), &w, true, Some(at(5, 25))), Wake::At(at(24, 15)));
        // All done at 01:00: tomorrow's window.
        assert_eq!(next_wake(at(1, 0), &w, false, Some(at(1, 0))), Wake::At(at(24, 15)));
    }

    #[test]
    fn a_day_is_done_only_with_a_file_of_that_day_imported() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::store::open_rw(&dir.path().join("s.db"), std::time::Duration::from_secs(1)).unwrap();
        let day = "2026-11-24";
        assert!(!day_done(&conn, "com", day).unwrap());
        conn.execute_batch(
            "INSERT INTO zones (tld, source, sha256, imported_at, state) VALUES ('com', 'com.zone.gz', 'aa', '2026-11-24T01:00:00Z', 'current');
             INSERT INTO downloads (tld, url, file, size, last_modified, sha256, downloaded_at)
               VALUES ('com', 'u', 'f', 1, 'Mon, 23 Nov 2026 23:50:00 GMT', 'aa', '2026-11-24T01:00:00Z');",
        )
        .unwrap();
        assert!(!day_done(&conn, "com", day).unwrap(), "yesterday's file does not finish today");
        conn.execute_batch(
            "INSERT INTO downloads (tld, url, file, size, last_modified, sha256, downloaded_at)
               VALUES ('com', 'u', 'f', 1, 'Tue, 24 Nov 2026 00:40:00 GMT', 'bb', '2026-11-24T01:30:00Z');",
        )
        .unwrap();
        assert!(!day_done(&conn, "com", day).unwrap(), "downloaded but not imported is not done");
        conn.execute("UPDATE zones SET sha256 = 'bb'", []).unwrap();
        assert!(day_done(&conn, "com", day).unwrap());
    }
}
