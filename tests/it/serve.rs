//! `zonefeed serve`: real HTTP requests against the API, paging and every error code.

use std::io::BufRead;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::env::{self, TestEnv};

pub struct Server {
    child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start(t: &TestEnv, db: &str) -> Server {
    start_with(t, &["--db", db, "serve", "--listen", "127.0.0.1:0"])
}

/// `serve` on `db` with `env` set (the clock moved, for one).
pub fn start_with_env(t: &TestEnv, db: &str, env: &[(&str, &str)]) -> Server {
    let mut c = t.cmd();
    c.envs(env.iter().copied());
    spawn(c, &["--db", db, "serve", "--listen", "127.0.0.1:0"])
}

fn start_with(t: &TestEnv, args: &[&str]) -> Server {
    spawn(t.cmd(), args)
}

fn spawn(mut c: std::process::Command, args: &[&str]) -> Server {
    let mut child = c.args(args).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line
        .strip_prefix("listening on ")
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .trim_end_matches('/')
        .to_string();
    Server { child, base }
}

/// (status, body) of a GET.
pub fn get(url: &str) -> (u16, serde_json::Value) {
    call("GET", url)
}

/// (status, body) of a GET, or of `method`.
fn call(method: &str, url: &str) -> (u16, serde_json::Value) {
    let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
    let mut resp = match method {
        "POST" => agent.post(url).send("{}").unwrap(),
        _ => agent.get(url).call().unwrap(),
    };
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
}

fn setup() -> (TestEnv, Server) {
    let t = TestEnv::new();
    // Dated explicitly: a date taken from the files' mtimes would differ between the
    // committed fixture and the files written here, or when a run straddles midnight.
    let dates = ["2026-11-01", "2026-11-02", "2026-11-03"];
    for (day, date) in dates.iter().enumerate() {
        let mut text = Vec::new();
        zonefeed::synth::write_zone_day(&mut text, "com", 2500, 8, day as u64).unwrap();
        let f = t.write(&format!("com-{day}.zone"), &text);
        t.import_ok("s.db", &["--date", date, f.to_str().unwrap()]);
    }
    let f = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/faults.zone");
    t.import_ok("s.db", &["--date", dates[2], f.to_str().unwrap()]);
    let s = start(&t, "s.db");
    (t, s)
}

#[test]
fn paging_through_changes_yields_every_event_once_in_order() {
    let (t, s) = setup();
    let out = t.run(&["--db", "s.db", "changes", "--format", "jsonl"]);
    let mut want: Vec<i64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].as_i64().unwrap())
        .collect();
    want.sort();
    assert!(want.len() > 30);
    let mut got = Vec::new();
    let mut url = format!("{}/v1/changes?limit=7", s.base);
    let mut pages = 0;
    loop {
        let (st, v) = call("GET", &url);
        assert_eq!(st, 200, "{v}");
        got.extend(v["items"].as_array().unwrap().iter().map(|e| e["id"].as_i64().unwrap()));
        pages += 1;
        match v["paging"]["next"].as_str() {
            Some(n) => url = n.to_string(),
            None => break,
        }
    }
    assert_eq!(got, want, "every event exactly once, in order");
    assert_eq!(pages, want.len().div_ceil(7));
    // Relative links on request.
    let (_, v) = call("GET", &format!("{}/v1/changes?limit=2&base_url=0", s.base));
    assert!(v["paging"]["next"].as_str().unwrap().starts_with("/v1/changes?"));
}

#[test]
fn domains_status_zones_and_checks() {
    let (t, s) = setup();
    let (st, v) = call("GET", &format!("{}/v1/version", s.base));
    assert_eq!(st, 200);
    assert_eq!(v["name"], "zonefeed");
    let (_, v) = call("GET", &format!("{}/v1/status", s.base));
    assert_eq!(v["zones"].as_array().unwrap().len(), 2);
    // A domain modified on day 1 or 2: its records and history, as the CLI shows them.
    let out = t.run(&["--db", "s.db", "changes", "--kind", "modified", "--format", "tsv"]);
    let name = String::from_utf8_lossy(&out.stdout).lines().next().unwrap().split('\t').nth(1).unwrap().to_string();
    let (st, v) = call("GET", &format!("{}/v1/domains/{name}", s.base));
    assert_eq!(st, 200, "{v}");
    let cli = t.run(&["--db", "s.db", "domain", &name, "--history", "--format", "json"]);
    let cli: serde_json::Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(v["zones"], cli);
    assert!(v["zones"][0]["history"].as_array().unwrap().iter().any(|e| e["kind"] == "modified"));
    // Unicode in the path is looked up as its A-label.
    let (st, v) = call("GET", &format!("{}/v1/domains/b%C3%BCcher.com", s.base));
    assert_eq!((st, v["error"]["code"].as_str()), (404, Some("not_found")));
    assert!(v["error"]["message"].as_str().unwrap().contains("xn--bcher-kva.com"));
    // Search with cursor paging: forward then back.
    let (_, all) = call("GET", &format!("{}/v1/domains?search=.com&limit=1000", s.base));
    let names: Vec<String> = all["items"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap().to_string()).collect();
    assert!(names.len() > 100 && names.windows(2).all(|w| w[0] < w[1]));
    let (_, p1) = call("GET", &format!("{}/v1/domains?search=.com&limit=50", s.base));
    let (_, p2) = call("GET", p1["paging"]["next"].as_str().unwrap());
    assert_eq!(p2["items"][0]["name"].as_str().unwrap(), names[50]);
    let (_, back) = call("GET", p2["paging"]["previous"].as_str().unwrap());
    assert_eq!(back["items"], p1["items"]);
    // Zones and checks.
    let (_, z) = call("GET", &format!("{}/v1/zones/test/checks?level=error", s.base));
    assert_eq!(z["summary"]["error"], 4);
    let (st, z) = call("GET", &format!("{}/v1/zones/com", s.base));
    assert_eq!(st, 200);
    assert_eq!(z["tld"], "com");
}

#[test]
fn every_error_code_comes_from_a_real_request() {
    let (_t, s) = setup();
    let b = &s.base;
    let cases = [
        (format!("{b}/v1/changes?limit=0"), 400, "invalid_limit"),
        (format!("{b}/v1/changes?limit=abc"), 400, "invalid_limit"),
        (format!("{b}/v1/changes?limit=100000"), 400, "invalid_limit"),
        (format!("{b}/v1/changes?after=!!notacursor"), 400, "invalid_cursor"),
        (format!("{b}/v1/domains?search=.com&after=ZTox"), 400, "invalid_cursor"),
        (format!("{b}/v1/domains?search=.com&sort=serial"), 400, "invalid_sort_field"),
        (format!("{b}/v1/domains/a..b"), 400, "invalid_fqdn"),
        (format!("{b}/v1/zones/test/checks?level=loud"), 400, "invalid_level"),
        (format!("{b}/v1/domains/nothere.com"), 404, "not_found"),
        (format!("{b}/v1/zones/nope"), 404, "not_found"),
        (format!("{b}/v1/nothing"), 404, "not_found"),
        (format!("{b}/v1/changes?since=2026-13-45"), 400, "invalid_since"),
        (format!("{b}/v1/changes?since=2026-02-30"), 400, "invalid_since"),
        (format!("{b}/v1/watch/hits?since=2026-11-23T06:00"), 400, "invalid_since"),
        (format!("{b}/v1/domains?search=a%20b"), 400, "invalid_fqdn"),
        (format!("{b}/v1/domains?glob=%5B"), 400, "invalid_query"),
        (format!("{b}/v1/domains?contains=a%20b"), 400, "invalid_query"),
        (format!("{b}/v1/domains?search=.com&glob=*"), 400, "invalid_query"),
        (format!("{b}/v1/domains/example.com?at=2026-13-01"), 400, "invalid_date"),
    ];
    for (url, status, code) in &cases {
        let (st, v) = call("GET", url);
        assert_eq!((st, v["error"]["code"].as_str().unwrap_or("")), (*status, *code), "{url}: {v}");
        assert!(v["error"]["message"].is_string());
    }
    let (st, v) = call("POST", &format!("{b}/v1/version"));
    assert_eq!((st, v["error"]["code"].as_str()), (405, Some("method_not_allowed")));
    // The counters saw them.
    let (_, v) = call("GET", &format!("{b}/v1/status"));
    assert!(v["api"]["errors"].as_u64().unwrap() > cases.len() as u64);
}

#[test]
fn the_api_lists_its_endpoints_and_searches_by_word_and_glob() {
    let (_t, s) = setup();
    let (st, v) = call("GET", &format!("{}/v1/", s.base));
    assert_eq!(st, 200);
    let paths: Vec<&str> = v["endpoints"].as_array().unwrap().iter().filter_map(|e| e["path"].as_str()).collect();
    assert!(paths.contains(&"/v1/changes?tld=&kind=&since=&limit=&after=") && paths.len() >= 9, "{v}");
    // Every listed endpoint answers (placeholders filled in).
    for p in &paths {
        let url = p.split('?').next().unwrap().replace("{tld}", "com").replace("{name}", "example.com");
        let (st, _) = call("GET", &format!("{}{url}", s.base));
        assert!(st == 200 || st == 404 || st == 400, "{url}: {st}");
    }
    let (st, v) = call("GET", &format!("{}/v1/domains?contains=ba&limit=1000", s.base));
    assert_eq!(st, 200);
    let names: Vec<&str> = v["items"].as_array().unwrap().iter().filter_map(|i| i["name"].as_str()).collect();
    assert!(!names.is_empty() && names.iter().all(|n| n.contains("ba")), "{names:?}");
    let (_, v) = call("GET", &format!("{}/v1/domains?glob=b*.com&limit=1000", s.base));
    let names: Vec<&str> = v["items"].as_array().unwrap().iter().filter_map(|i| i["name"].as_str()).collect();
    assert!(!names.is_empty() && names.iter().all(|n| n.starts_with('b') && n.ends_with(".com")), "{names:?}");
}

#[test]
fn serve_refuses_a_database_it_cannot_read_at_startup() {
    let t = TestEnv::new();
    t.write("garbage.db", &[7u8; 8192]);
    let c = t.db("theirs.db");
    c.execute_batch("CREATE TABLE t (x)").unwrap();
    drop(c);
    for (db, says) in [("garbage.db", "garbage.db"), ("theirs.db", "not zonefeed's"), ("missing.db", "no database at")] {
        let out = t.run(&["--db", db, "serve", "--listen", "127.0.0.1:0"]);
        assert_eq!(out.status.code(), Some(1), "{db}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{db}: {err}");
    }
}

/// (threads, resident KiB) of a process.
fn usage_of(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |k: &str| -> u64 {
        status.lines().find_map(|l| l.strip_prefix(k)).and_then(|v| v.split_whitespace().next()).and_then(|v| v.parse().ok()).unwrap_or(0)
    };
    (field("Threads:"), field("VmRSS:"))
}

/// A status line from a raw connection, or "" when the server closed it without one.
fn status_line(conn: &mut std::net::TcpStream) -> String {
    use std::io::Read;
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = conn.read(&mut chunk) {
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(2).any(|w| w == b"\r\n") {
            break;
        }
    }
    String::from_utf8_lossy(&buf).lines().next().unwrap_or("").to_string()
}

#[test]
fn serve_stays_bounded_under_idle_crowds_and_huge_heads() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    let t = TestEnv::new();
    let f = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/com.zone.gz");
    t.import_ok("b.db", &[f.to_str().unwrap()]);
    t.write("serve.json", br#"{"serve.header_timeout_seconds": 2}"#);
    // -q: the address is still printed, it is what scripts read.
    let s = start_with(&t, &["--config", "serve.json", "--db", "b.db", "-q", "serve", "--listen", "127.0.0.1:0", "--threads", "4"]);
    let pid = s.child.id();
    let addr = s.base.trim_start_matches("http://").to_string();
    assert_eq!(call("GET", &format!("{}/v1/status", s.base)).0, 200);
    let (_, rss0) = usage_of(pid);

    // 2,000 idle connections: no thread each, and a normal request still answers at once.
    let idle: Vec<TcpStream> = (0..2000).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    let (threads, rss) = usage_of(pid);
    assert!(threads <= 12, "{threads} threads for 2,000 idle connections");
    assert!(rss < rss0 + 64 * 1024, "RSS grew from {rss0} to {rss} KiB for idle connections");
    let started = Instant::now();
    assert_eq!(call("GET", &format!("{}/v1/status", s.base)).0, 200);
    assert!(started.elapsed() < Duration::from_secs(1), "a request behind 2,000 idle connections took {:?}", started.elapsed());

    // A 100 MiB header is not read: 431 after the first 16 KiB, and memory stays put.
    let mut big = TcpStream::connect(&addr).unwrap();
    big.write_all(b"GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Big: ").unwrap();
    let chunk = vec![b'a'; 64 << 10];
    let mut sent = 0usize;
    while sent < 100 << 20 {
        match big.write(&chunk) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    assert!(sent < 100 << 20, "the server read a 100 MiB header whole");
    assert!(status_line(&mut big).contains(" 431 "), "no 431 for a huge header");
    let mut long = TcpStream::connect(&addr).unwrap();
    long.write_all(format!("GET /v1/status?{} HTTP/1.1\r\nHost: x\r\n\r\n", "q".repeat(64 << 10)).as_bytes()).ok();
    let line = status_line(&mut long);
    assert!(line.contains(" 431 ") || line.contains(" 414 "), "a 64 KiB request line got {line:?}");
    let (_, rss) = usage_of(pid);
    assert!(rss < rss0 + 64 * 1024, "RSS grew from {rss0} to {rss} KiB");

    // Idle and half-sent connections are closed after the header timeout (2 s here).
    let mut half = TcpStream::connect(&addr).unwrap();
    half.write_all(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n").unwrap();
    let mut kept = TcpStream::connect(&addr).unwrap();
    kept.write_all(b"GET /v1/version HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert!(status_line(&mut kept).contains(" 200 "));
    std::thread::sleep(Duration::from_secs(4));
    for (what, mut c) in [("half-sent", half), ("idle keep-alive", kept), ("idle", idle.into_iter().next().unwrap())] {
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut rest = Vec::new();
        // Closed: EOF (perhaps after a 408) or a reset, never a timeout.
        match c.read_to_end(&mut rest) {
            Ok(_) => {}
            Err(e) => assert!(
                e.kind() != std::io::ErrorKind::WouldBlock && e.kind() != std::io::ErrorKind::TimedOut,
                "{what} connection still open"
            ),
        }
    }
    let (threads, _) = usage_of(pid);
    assert!(threads <= 12, "{threads} threads");
    assert_eq!(call("GET", &format!("{}/v1/status", s.base)).0, 200);
}

/// GET `url`: status, content type, content disposition and body text.
fn get_text(url: &str) -> (u16, String, Option<String>, String) {
    let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
    let mut resp = agent.get(url).call().unwrap();
    let header = |n: &str| resp.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (ctype, disposition) = (header("content-type").unwrap_or_default(), header("content-disposition"));
    (resp.status().as_u16(), ctype, disposition, resp.body_mut().read_to_string().unwrap())
}

/// Every item of a paged list, following `next` from `url`.
fn all_pages(url: &str) -> Vec<serde_json::Value> {
    let (mut items, mut next) = (Vec::new(), Some(url.to_string()));
    while let Some(u) = next {
        let (status, page) = call("GET", &u);
        assert_eq!(status, 200, "{u}: {page}");
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        next = page["paging"]["next"].as_str().map(str::to_string);
    }
    items
}

#[test]
fn series_feeds_and_name_server_history_agree_with_the_stored_history() {
    let (t, s) = setup();
    let db = t.db("s.db");
    // The zone's series: one item per version, its figures those of the version and its events.
    let (status, series) = call("GET", &format!("{}/v1/zones/com/series", s.base));
    assert_eq!(status, 200, "{series}");
    let items = series["items"].as_array().unwrap();
    let versions: Vec<(i64, i64, String)> = db
        .prepare(
            "SELECT id, domains, substr(zone_date, 1, 10) FROM zones WHERE tld = 'com' AND state IN ('current', 'replaced') ORDER BY id",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(items.len(), versions.len());
    let events = |v: i64, kind: &str| -> i64 {
        db.query_row("SELECT count(*) FROM events WHERE zone = ?1 AND kind = ?2", rusqlite::params![v, kind], |r| r.get(0)).unwrap()
    };
    for (i, (item, (id, domains, date))) in items.iter().zip(&versions).enumerate() {
        assert_eq!(
            (item["version"].as_i64(), item["domains"].as_i64(), item["date"].as_str()),
            (Some(*id), Some(*domains), Some(date.as_str()))
        );
        for kind in ["added", "removed", "modified"] {
            // A first version compared with nothing.
            let want = if i == 0 { serde_json::Value::Null } else { events(*id, kind).into() };
            assert_eq!(item[kind], want, "{kind} of version {id}");
        }
        assert!(item["ds_share"].as_f64().is_some_and(|x| (0.0..=1.0).contains(&x)), "{item}");
    }
    assert!(items[2]["added"].as_i64().unwrap() > 0 && items[2]["modified"].as_i64().unwrap() > 0, "{series}");

    // A day's feed: pages of 3 and the CSV list the same events the store has, for every kind
    // (of every version of that day: the synthetic days share one).
    let date = &versions[2].2;
    for kind in ["added", "removed", "modified"] {
        let want: Vec<String> = env::column(
            &db,
            &format!("SELECT e.domain FROM events e JOIN zones z ON z.id = e.zone WHERE z.tld = 'com' AND z.zone_date LIKE '{date}%' AND e.kind = '{kind}' ORDER BY e.id"),
        );
        assert!(!want.is_empty(), "{kind}");
        let paged: Vec<String> = all_pages(&format!("{}/v1/zones/com/feed/{date}?kind={kind}&limit=3", s.base))
            .iter()
            .map(|e| e["domain"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(paged, want, "{kind}");
        let (status, ctype, disposition, csv) = get_text(&format!("{}/v1/zones/com/feed/{date}?kind={kind}&format=csv", s.base));
        assert_eq!((status, ctype.as_str()), (200, "text/csv; charset=utf-8"));
        assert_eq!(disposition, Some(format!("attachment; filename=\"com-{date}-{kind}.csv\"")));
        let names: Vec<String> = csv.lines().skip(1).map(|l| l.split(',').nth(3).unwrap().to_string()).collect();
        assert_eq!(names, want, "{kind} CSV");
    }
    // Without `kind`: the whole day, every kind, in the JSON pages and the CSV alike.
    let want: Vec<(String, String)> = env::column(
        &db,
        &format!("SELECT e.kind || ',' || e.domain FROM events e JOIN zones z ON z.id = e.zone WHERE z.tld = 'com' AND z.zone_date LIKE '{date}%' AND e.kind <> 'watch' ORDER BY e.id"),
    )
    .iter()
    .map(|l| l.split_once(',').map(|(k, d)| (k.to_string(), d.to_string())).unwrap())
    .collect();
    let paged: Vec<(String, String)> = all_pages(&format!("{}/v1/zones/com/feed/{date}?limit=7", s.base))
        .iter()
        .map(|e| (e["kind"].as_str().unwrap().to_string(), e["domain"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(paged, want, "the whole day");
    let (_, _, disposition, csv) = get_text(&format!("{}/v1/zones/com/feed/{date}?format=csv", s.base));
    assert_eq!(disposition, Some(format!("attachment; filename=\"com-{date}-all.csv\"")));
    let rows: Vec<(String, String)> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[2].to_string(), f[3].to_string())
        })
        .collect();
    assert_eq!(rows, want, "the whole day's CSV");
    // Moved: the modified events whose providers changed, each with from and to.
    let moved = all_pages(&format!("{}/v1/zones/com/feed/{date}?kind=moved&limit=2", s.base));
    let modified = all_pages(&format!("{}/v1/zones/com/feed/{date}?kind=modified&limit=50", s.base));
    let want: Vec<&serde_json::Value> = modified.iter().filter(|e| e.get("moved").is_some()).collect();
    assert_eq!(moved.iter().collect::<Vec<_>>(), want);
    assert!(!moved.is_empty() && moved.iter().all(|e| e["moved"]["from"] != e["moved"]["to"]));

    // A name server: its series and its gained/lost list replay what the records say.
    let host: String = db
        .query_row(
            "SELECT rdata FROM records r JOIN zones z ON z.tld = r.tld AND z.state = 'current'
              WHERE r.tld = 'com' AND r.type = 'NS' AND r.owner = r.domain AND r.domain <> 'com' AND r.since <= z.id AND (r.until IS NULL OR r.until > z.id)
              GROUP BY rdata ORDER BY count(*) DESC, rdata LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let delegated = |v: i64| -> std::collections::BTreeSet<String> {
        env::column(
            &db,
            &format!(
                "SELECT DISTINCT domain FROM records WHERE tld = 'com' AND type = 'NS' AND owner = domain AND rdata = '{host}'
                   AND since <= {v} AND (until IS NULL OR until > {v})"
            ),
        )
        .into_iter()
        .collect()
    };
    let (status, ns_series) = call("GET", &format!("{}/v1/nameservers/{host}/series", s.base));
    assert_eq!(status, 200, "{ns_series}");
    // Per day: the day's last version.
    let mut counts: Vec<(String, usize)> = Vec::new();
    for (v, _, d) in &versions {
        if counts.last().is_some_and(|(last, _)| last == d) {
            counts.pop();
        }
        counts.push((d.clone(), delegated(*v).len()));
    }
    let got: Vec<(String, usize)> = ns_series["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["date"].as_str().unwrap().to_string(), p["domains"].as_u64().unwrap() as usize))
        .collect();
    assert_eq!(got, counts, "{host}");
    let mut want: Vec<(String, String, &str)> = Vec::new();
    for w in versions.windows(2) {
        let (before, after) = (delegated(w[0].0), delegated(w[1].0));
        want.extend(after.difference(&before).map(|d| (w[1].2.clone(), d.clone(), "gained")));
        want.extend(before.difference(&after).map(|d| (w[1].2.clone(), d.clone(), "lost")));
    }
    want.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let got: Vec<(String, String, String)> = all_pages(&format!("{}/v1/nameservers/{host}/changes?limit=2", s.base))
        .iter()
        .map(|c| (c["date"].as_str().unwrap().into(), c["domain"].as_str().unwrap().into(), c["kind"].as_str().unwrap().into()))
        .collect();
    assert_eq!(got, want.iter().map(|(a, b, c)| (a.clone(), b.clone(), c.to_string())).collect::<Vec<_>>(), "{host}");
    assert!(!want.is_empty(), "the synthetic days move domains to and from {host}");

    // Its provider: the domains now are those the provider pivot pages through.
    let (_, ns) = call("GET", &format!("{}/v1/nameservers/{host}", s.base));
    let (_, brief) = call("GET", &format!("{}/v1/nameservers/{host}?days=0", s.base));
    assert!(!ns["added"].as_array().unwrap().is_empty(), "{ns}");
    assert_eq!((brief["added"].as_array().unwrap().len(), brief["removed"].as_array().unwrap().len()), (0, 0));
    assert_eq!((&brief["domains"], &brief["first_seen"]), (&ns["domains"], &ns["first_seen"]));
    let provider = ns["provider"].as_str().unwrap();
    let (status, p) = call("GET", &format!("{}/v1/providers/{provider}", s.base));
    assert_eq!(status, 200, "{p}");
    let listed = all_pages(&format!("{}/v1/domains?provider={provider}&limit=100", s.base)).len() as u64;
    assert_eq!(p["domains"].as_u64(), Some(listed), "{p}");
    // Dates in one form across the API: RFC 3339, as the name server's.
    for k in ["first_seen", "last_seen"] {
        assert!(p[k].as_str().is_some_and(|d| d.len() == 20 && d.ends_with("T00:00:00Z")), "{k}: {p}");
    }
    assert!(ns["first_seen"].as_str().is_some_and(|d| d.ends_with("T00:00:00Z")), "{ns}");

    // Wrong requests are named; an unknown day or host is 404.
    for (url, status, code) in [
        (format!("/v1/zones/com/feed/{date}?kind=renamed"), 400, "invalid_kind"),
        (format!("/v1/zones/com/feed/{date}?format=xml"), 400, "invalid_format"),
        ("/v1/zones/com/feed/2026-02-30".to_string(), 400, "invalid_date"),
        ("/v1/zones/com/feed/1999-01-01".to_string(), 404, "not_found"),
        ("/v1/zones/nope/series".to_string(), 404, "not_found"),
        ("/v1/nameservers/ns.nowhere.example/series".to_string(), 404, "not_found"),
        ("/v1/providers/nowhere.example".to_string(), 404, "not_found"),
        ("/v1/zones/com/checks?limit=0".to_string(), 400, "invalid_limit"),
        (format!("/v1/nameservers/{host}?days=-1"), 400, "invalid_days"),
    ] {
        let (got, body) = call("GET", &format!("{}{url}", s.base));
        assert_eq!((got, body["error"]["code"].as_str()), (status, Some(code)), "{url}: {body}");
    }
    // Checks cut to a limit still count them all.
    let (_, all) = call("GET", &format!("{}/v1/zones/com/checks?level=notice", s.base));
    let (_, two) = call("GET", &format!("{}/v1/zones/com/checks?level=notice&limit=2", s.base));
    assert!(all["findings"].as_array().unwrap().len() > 2, "{all}");
    assert_eq!(two["findings"].as_array().unwrap()[..], all["findings"].as_array().unwrap()[..2]);
    assert_eq!(two["findings_total"], all["findings"].as_array().unwrap().len());
}

#[test]
fn the_web_page_is_served_with_its_own_files_only() {
    let t = TestEnv::new();
    let mut text = Vec::new();
    zonefeed::synth::write_zone_day(&mut text, "com", 50, 8, 0).unwrap();
    let f = t.write("com.zone", &text);
    t.import_ok("s.db", &[f.to_str().unwrap()]);
    let s = start(&t, "s.db");
    for (path, status, ctype) in [
        ("/", 200, "text/html; charset=utf-8"),
        ("/domain/example.com?at=2026-11-20", 200, "text/html; charset=utf-8"),
        ("/feed/com/2026-11-20", 200, "text/html; charset=utf-8"),
        ("/assets/app.js", 200, "text/javascript; charset=utf-8"),
        ("/assets/style.css", 200, "text/css; charset=utf-8"),
        ("/no/such/page", 404, "text/html; charset=utf-8"),
    ] {
        let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
        let resp = agent.get(&format!("{}{path}", s.base)).call().unwrap();
        let h = |n: &str| resp.headers().get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        assert_eq!((resp.status().as_u16(), h("content-type").as_str()), (status, ctype), "{path}");
        assert!(h("content-security-policy").contains("script-src 'self'"), "{path}");
        assert_eq!(h("x-content-type-options"), "nosniff");
    }
    // The API is not the page: an unknown /v1 path is still a JSON error.
    let (status, body) = call("GET", &format!("{}/v1/nope", s.base));
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")));
}

#[test]
fn a_name_servers_domains_page_by_page_both_ways_equal_its_delegations() {
    let (t, s) = setup();
    let db = t.db("s.db");
    let versions: Vec<(i64, String)> = db
        .prepare("SELECT id, zone_date FROM zones WHERE tld = 'com' AND state IN ('current', 'replaced') ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let delegated = |host: &str, v: i64| -> Vec<String> {
        env::column(
            &db,
            &format!(
                "SELECT DISTINCT domain FROM records WHERE tld = 'com' AND type = 'NS' AND owner = domain AND rdata = '{host}'
                   AND since <= {v} AND (until IS NULL OR until > {v}) ORDER BY domain"
            ),
        )
    };
    // The busiest hosts span several index rows, which pages of 7 cross both ways; the
    // synthetic days open and close pairs of them.
    let hosts = env::column(
        &db,
        "SELECT rdata FROM records WHERE tld = 'com' AND type = 'NS' AND owner = domain AND domain <> 'com' GROUP BY rdata ORDER BY count(*) DESC, rdata LIMIT 4",
    );
    let (last, first) = (versions.last().unwrap().0, versions[0].0);
    assert!(delegated(&hosts[0], last).len() > 150, "{:?}", delegated(&hosts[0], last).len());
    let names = |items: Vec<serde_json::Value>| -> Vec<String> { items.iter().map(|d| d["name"].as_str().unwrap().to_string()).collect() };
    for host in &hosts {
        let want = delegated(host, last);
        assert_eq!(names(all_pages(&format!("{}/v1/domains?ns={host}&limit=7", s.base))), want, "{host}");
        let mut down = names(all_pages(&format!("{}/v1/domains?ns={host}&limit=7&direction=desc", s.base)));
        down.reverse();
        assert_eq!(down, want, "{host} descending");
    }
    // Pairs that came and went between the days: the set changed for some host.
    assert!(hosts.iter().any(|h| delegated(h, first) != delegated(h, last)));
    // A provider's pages merge its hosts' and hold each domain once.
    for host in &hosts[..2] {
        let (_, ns) = call("GET", &format!("{}/v1/nameservers/{host}", s.base));
        let provider = ns["provider"].as_str().unwrap();
        let want = env::column(
            &db,
            &format!(
                "SELECT DISTINCT domain FROM records WHERE tld = 'com' AND type = 'NS' AND owner = domain AND (rdata = '{provider}' OR rdata LIKE '%.{provider}')
                   AND since <= {last} AND (until IS NULL OR until > {last}) ORDER BY domain"
            ),
        );
        assert!(want.len() > delegated(host, last).len(), "{provider} has more than {host}");
        assert_eq!(names(all_pages(&format!("{}/v1/domains?provider={provider}&limit=7", s.base))), want, "{provider}");
        let mut down = names(all_pages(&format!("{}/v1/domains?provider={provider}&limit=7&direction=desc", s.base)));
        down.reverse();
        assert_eq!(down, want, "{provider} descending");
    }
}
