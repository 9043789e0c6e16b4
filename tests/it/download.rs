//! `zonefeed download` against the CZDS test server: resume, skip, tokens, failures.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use crate::czds_server::{Czds, PASSWORD};
use crate::env::{gzip, set_mode, with_keys, TestEnv};

/// A gzip zone file of about `kb` KiB compressed: varied text so it does not shrink to nothing.
fn zone_gz(tld: &str, kb: usize, seed: u64) -> Vec<u8> {
    let mut text = format!("{tld}.\t86400\tin\tsoa\ta.nic.{tld}. hostmaster.{tld}. {seed} 900 900 1800 3600\n");
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut i = 0u64;
    loop {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        text.push_str(&format!("d{x:016x}{i}.{tld}.\t172800\tin\tns\tns{}.h{:x}.net.\n", x % 4, x >> 40));
        i += 1;
        if i.is_multiple_of(512) && gzip(text.as_bytes()).len() > kb << 10 {
            return gzip(text.as_bytes());
        }
    }
}

struct Setup {
    env: TestEnv,
    czds: Czds,
}

impl Setup {
    fn new() -> Setup {
        Setup::with(serde_json::json!({}))
    }

    /// A setup whose config has `extra` keys on top of the usual ones.
    fn with(extra: serde_json::Value) -> Setup {
        let env = TestEnv::new();
        let czds = Czds::start();
        let ours =
            serde_json::json!({"download.retry_delay_seconds": 0.05, "download.low_speed_time": 1, "download.low_speed_limit": 4096});
        let cfg = with_keys(with_keys(czds.config(&env.path("work")), &ours), &extra);
        env.write_private("config.json", cfg.to_string().as_bytes());
        Setup { env, czds }
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut a = vec!["--format", "jsonl", "download", "--wait", "1"];
        a.extend_from_slice(args);
        let out = self.env.run(&a);
        assert_no_secret(&out, &self.czds);
        out
    }

    fn zones_dir(&self) -> std::path::PathBuf {
        self.env.path("work/zonefiles")
    }

    fn file(&self, tld: &str) -> Vec<u8> {
        std::fs::read(self.zones_dir().join(format!("{tld}.zone.gz"))).unwrap_or_default()
    }
}

/// Neither the password nor any token the server issued appears in stdout or stderr.
fn assert_no_secret(out: &Output, czds: &Czds) {
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!text.contains(PASSWORD), "password leaked:\n{text}");
    for tok in czds.state().tokens.keys() {
        assert!(!text.contains(tok.as_str()), "token leaked:\n{text}");
    }
}

/// Per-zone JSON results: tld -> status.
fn statuses(out: &Output) -> Vec<(String, String)> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| (v["tld"].as_str().unwrap_or("").to_string(), v["status"].as_str().unwrap_or("").to_string()))
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_cut_transfer_resumes_to_a_byte_identical_file() {
    let t = Setup::new();
    let data = zone_gz("com", 200, 1);
    t.czds.add_zone("com", data.clone());
    t.czds.state().faults.cut_after = Some((70_000, 2));
    let out = t.run(&["com"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(t.file("com"), data);
    let s = t.czds.state();
    let lm = s.zones["com"].last_modified.clone();
    assert_eq!(s.gets.len(), 3, "{:?}", s.gets);
    assert_eq!(s.gets[0].1, None);
    assert_eq!(s.gets[1], ("com".into(), Some("bytes=70000-".into()), Some(lm.clone())));
    assert_eq!(s.gets[2], ("com".into(), Some("bytes=140000-".into()), Some(lm)));
    assert!(!t.zones_dir().join("com.zone.gz.part").exists() && !t.zones_dir().join("com.zone.gz.part.json").exists());
    drop(s);
    // What was downloaded is recorded, with the file's SHA-256.
    let conn = t.env.db("zonefeed.db");
    let (size, sha): (i64, String) =
        conn.query_row("SELECT size, sha256 FROM downloads WHERE tld = 'com'", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!(size as usize, data.len());
    use sha2::Digest;
    assert_eq!(sha, data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(&data)));
}

#[test]
fn a_part_left_by_a_killed_run_is_continued_by_the_next() {
    let t = Setup::new();
    let data = zone_gz("net", 300, 2);
    t.czds.add_zone("net", data.clone());
    // Every attempt of the first run is cut: it gives up, keeping the bytes it has.
    t.czds.state().faults.cut_after = Some((30_000, 6));
    let out = t.run(&["net"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(t.zones_dir().join("net.zone.gz.part").exists());
    assert!(!t.zones_dir().join("net.zone.gz").exists(), "an incomplete file must never take the final name");
    let out = t.run(&["net"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(t.file("net"), data);
    let s = t.czds.state();
    let last = s.gets.last().unwrap();
    assert_eq!(last.1.as_deref(), Some("bytes=180000-"), "the second run continues where the first stopped");
}

#[test]
fn a_file_changed_between_requests_is_never_spliced() {
    let t = Setup::new();
    let old = zone_gz("org", 150, 3);
    let new = zone_gz("org", 160, 4);
    t.czds.add_zone("org", old);
    {
        let mut s = t.czds.state();
        s.faults.cut_after = Some((50_000, 1));
        s.faults.change_after_cut = Some(new.clone());
    }
    let out = t.run(&["org"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(t.file("org"), new, "the new version, whole");
    let s = t.czds.state();
    // The retry asked to continue, but only if unchanged; the server sent the new file whole.
    assert_eq!(s.gets.len(), 2);
    assert!(s.gets[1].2.is_some(), "If-Range sent with the Range");
}

#[test]
fn a_server_ignoring_range_gets_the_file_started_over() {
    let t = Setup::new();
    let data = zone_gz("info", 100, 5);
    t.czds.add_zone("info", data.clone());
    {
        let mut s = t.czds.state();
        s.faults.cut_after = Some((40_000, 1));
        s.faults.ignore_range = true;
    }
    let out = t.run(&["info"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(t.file("info"), data);
}

#[test]
fn a_stalled_transfer_is_aborted_and_resumed() {
    let t = Setup::new();
    let data = zone_gz("xyz", 60, 6);
    t.czds.add_zone("xyz", data.clone());
    // 20 000 bytes, then one byte every 50 ms: far under 4096 B/s over the 1 s window.
    t.czds.state().faults.drip = Some((20_000, Duration::from_millis(50), 1));
    let out = t.run(&["xyz"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(t.file("xyz"), data);
    let s = t.czds.state();
    assert_eq!(s.gets.len(), 2);
    let resumed_at: u64 = s.gets[1].1.as_deref().and_then(|r| r.strip_prefix("bytes=")?.strip_suffix('-')?.parse().ok()).unwrap();
    assert!(resumed_at >= 20_000, "resumed from the bytes on disk, at {resumed_at}");
}

#[test]
fn unchanged_zones_are_skipped_and_one_login_serves_parallel_runs() {
    let t = Setup::new();
    let tlds = ["aaa", "bbb", "ccc", "ddd", "eee", "fff"];
    for (i, tld) in tlds.iter().enumerate() {
        t.czds.add_zone(tld, zone_gz(tld, 20, 10 + i as u64));
    }
    let out = t.run(&["--parallel", "4"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(statuses(&out).iter().filter(|(_, s)| s == "downloaded").count(), tlds.len());
    let gets = t.czds.state().gets.len();
    assert_eq!(t.czds.state().logins_ok, 1, "one login for the whole parallel run");

    let out = t.run(&["--parallel", "4"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(statuses(&out).iter().all(|(_, s)| s == "skipped"), "{:?}", statuses(&out));
    let s = t.czds.state();
    assert_eq!(s.gets.len(), gets, "no GET for unchanged zones");
    assert_eq!(s.heads.len(), 2 * tlds.len());
    assert_eq!(s.logins_ok, 1, "the cached token serves the second run");
    drop(s);
    let cache = t.env.path("work/.zonefeed-token.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&cache).unwrap().permissions().mode() & 0o077, 0);
    }

    // --force downloads anyway; a new Last-Modified downloads that zone only.
    t.czds.state().zones.get_mut("bbb").unwrap().last_modified = crate::czds_server::http_date(std::time::SystemTime::now());
    let out = t.run(&[]);
    let st = statuses(&out);
    assert_eq!(st.iter().filter(|(_, s)| s == "downloaded").map(|(t, _)| t.as_str()).collect::<Vec<_>>(), ["bbb"]);
    let out = t.run(&["--force", "ccc"]);
    assert_eq!(statuses(&out), [("ccc".to_string(), "downloaded".to_string())]);
}

#[test]
fn an_expired_session_gets_one_fresh_login_and_a_dead_one_no_loop() {
    let t = Setup::new();
    t.czds.add_zone("com", zone_gz("com", 10, 7));
    assert!(t.run(&[]).status.success());
    // The server forgets every session; the cached token is refused.
    t.czds.state().tokens.clear();
    std::fs::remove_file(t.zones_dir().join("com.zone.gz")).unwrap();
    let out = t.run(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(t.czds.state().logins_ok, 2);

    // A server that refuses every token: one re-login, then a clear failure (exit 3).
    t.czds.state().faults.reject_tokens = true;
    let before = t.czds.state().login_attempts;
    let out = t.run(&[]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(t.czds.state().login_attempts - before, 1, "one fresh login, never a loop");
    assert!(stderr(&out).contains("401"), "{}", stderr(&out));
}

#[test]
fn rate_limited_login_stops_with_the_time_logins_resume() {
    let t = Setup::new();
    t.czds.add_zone("com", zone_gz("com", 10, 8));
    {
        let mut s = t.czds.state();
        let now = std::time::Instant::now();
        s.login_times = vec![now; 8];
    }
    let out = t.run(&[]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("rate limited") && err.contains("possible again after 20"), "{err}");
    assert_eq!(t.czds.state().login_attempts, 1);
    // The next run inside the window does not even try (which would extend the block).
    let out = t.run(&[]);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(t.czds.state().login_attempts, 1);
}

#[test]
fn wrong_password_exits_3_without_showing_it() {
    let t = Setup::new();
    t.czds.add_zone("com", zone_gz("com", 10, 9));
    let pw = t.env.write_private("pw", b"not-the-password-xyzzy\n");
    let out = t.run(&["--password-file", pw.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(!text.contains("xyzzy"), "{text}");
    assert!(text.contains("wrong username or password"), "{text}");
    // A password file others can read is refused before any request.
    set_mode(&pw, 0o644);
    let attempts = t.czds.state().login_attempts;
    let out = t.run(&["--password-file", pw.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("chmod 600"), "{}", stderr(&out));
    assert_eq!(t.czds.state().login_attempts, attempts);
}

#[test]
fn hostile_names_never_leave_the_directory() {
    let t = Setup::new();
    let data = zone_gz("com", 10, 11);
    t.czds.add_zone("com", data.clone());
    {
        let mut s = t.czds.state();
        s.faults.disposition = Some("../../escaped.txt.gz".into());
        let base = format!("http://{}/czds/downloads", t.czds.addr);
        s.extra_links =
            vec![format!("{base}/..%2F..%2Fevil.zone"), format!("{base}/%2Fetc%2Fx.zone"), format!("{base}/a\\b.zone"), format!("{base}/")];
    }
    let before: Vec<_> = walk(t.env.dir.path());
    let out = t.run(&[]);
    assert_eq!(out.status.code(), Some(6), "the unsafe links fail, com is done: {}", stderr(&out));
    assert_eq!(t.file("com"), data);
    let after = walk(t.env.dir.path());
    let new: Vec<_> = after.iter().filter(|p| !before.contains(p)).collect();
    for p in &new {
        let db = p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("zonefeed.db"));
        assert!(db || p.starts_with(t.env.path("work")), "written outside the work dir: {}", p.display());
        let name = p.file_name().unwrap().to_string_lossy();
        assert!(!name.contains("escaped") && !name.contains("evil"), "{}", p.display());
    }
    assert_eq!(statuses(&out).iter().filter(|(_, s)| s == "failed").count(), 4);
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[test]
fn forbidden_and_terms_zones_fail_while_the_rest_is_done() {
    let t = Setup::new();
    for (i, tld) in ["one", "two", "three"].iter().enumerate() {
        t.czds.add_zone(tld, zone_gz(tld, 10, 20 + i as u64));
    }
    {
        let mut s = t.czds.state();
        s.zones.get_mut("two").unwrap().status = Some(403);
        s.zones.get_mut("three").unwrap().status = Some(409);
    }
    let out = t.run(&["one", "two", "three", "four"]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    let mut st = statuses(&out);
    st.sort();
    assert_eq!(
        st,
        [("four", "failed"), ("one", "downloaded"), ("three", "failed"), ("two", "failed")].map(|(a, b)| (a.to_string(), b.to_string()))
    );
    let err = stderr(&out);
    assert!(
        err.contains("two: not authorised") && err.contains("three: the account must accept") && err.contains("four: no download link"),
        "{err}"
    );
    // --exclude leaves a zone out entirely.
    let out = t.run(&["--exclude", "two,three"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(statuses(&out), [("one".to_string(), "skipped".to_string())]);
}

#[test]
fn a_corrupt_gzip_never_takes_the_final_name() {
    let t = Setup::new();
    let mut data = zone_gz("bad", 20, 30);
    let n = data.len();
    data[n / 2] ^= 0xff;
    data.truncate(n - 3);
    t.czds.add_zone("bad", data);
    let out = t.run(&["bad"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("gzip"), "{}", stderr(&out));
    assert!(!t.zones_dir().join("bad.zone.gz").exists());
}

#[test]
fn a_second_run_on_the_same_directory_waits_then_exits_5() {
    let t = Setup::new();
    t.czds.add_zone("com", zone_gz("com", 10, 31));
    std::fs::create_dir_all(t.zones_dir()).unwrap();
    let lock =
        std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(t.zones_dir().join(".zonefeed-download.lock")).unwrap();
    lock.lock().unwrap();
    let out = t.run(&[]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("busy"));
    drop(lock);
    assert!(t.run(&[]).status.success());
}

#[test]
fn missing_credentials_are_a_usage_error() {
    let env = TestEnv::new();
    let out = env.cmd().args(["download"]).env_remove("CZDS_USERNAME").env_remove("CZDS_PASSWORD").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("CZDS_USERNAME"), "{}", stderr(&out));
}

#[test]
fn a_long_download_logs_progress_lines_when_stderr_is_not_a_terminal() {
    let t = Setup::with(serde_json::json!({"log.interval_seconds": 0.3, "download.low_speed_limit": 1}));
    let text: String = (0..120).map(|i| format!("d{i}x{}.slow.\t3600\tin\tns\tns.h{}.net.\n", i * 7919 % 1000, i % 7)).collect();
    let data = gzip(text.as_bytes());
    let len = data.len();
    t.czds.add_zone("slow", data.clone());
    // About a millisecond a byte: a few seconds in all, slow but never stalled.
    t.czds.state().faults.drip = Some((0, Duration::from_millis(1), 1));
    let out = t.env.run(&["download", "--wait", "1", "slow"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(t.file("slow"), data);
    let lines = stderr(&out).lines().filter(|l| l.starts_with("zonefeed: download: ") && l.contains("zones done")).count();
    assert!(lines >= 2, "expected progress lines for a {len}-byte drip:\n{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("slow: downloaded"), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn a_complete_part_is_finished_from_a_416_answer() {
    let t = Setup::new();
    let data = zone_gz("biz", 20, 41);
    t.czds.add_zone("biz", data.clone());
    let (lm, link) = (t.czds.state().zones["biz"].last_modified.clone(), format!("{}/czds/downloads/biz.zone", t.czds.base()));
    // A run killed after the last byte but before the rename.
    std::fs::create_dir_all(t.zones_dir()).unwrap();
    std::fs::write(t.zones_dir().join("biz.zone.gz.part"), &data).unwrap();
    let note = serde_json::json!({"url": link, "last_modified": lm, "length": data.len()});
    std::fs::write(t.zones_dir().join("biz.zone.gz.part.json"), note.to_string()).unwrap();
    let out = t.run(&["biz"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(t.file("biz"), data);
    let s = t.czds.state();
    assert_eq!(s.gets, [("biz".to_string(), Some(format!("bytes={}-", data.len())), Some(lm))], "one ranged GET, answered 416");
}
