//! `zonefeed serve`: real HTTP requests against the API, paging and every error code.

use std::io::BufRead;
use std::process::{Child, Stdio};

use crate::env::TestEnv;

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(t: &TestEnv, db: &str) -> Server {
    let mut child = t.cmd().args(["--db", db, "serve", "--listen", "127.0.0.1:0"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base =
        line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("no address in {line:?}")).trim_end_matches("/v1/").to_string();
    Server { child, base }
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
    for day in 0..3 {
        let mut text = Vec::new();
        zonefeed::synth::write_zone_day(&mut text, "com", 2500, 8, day).unwrap();
        let f = t.write(&format!("com-{day}.zone"), &text);
        t.import_ok("s.db", &[f.to_str().unwrap()]);
    }
    let f = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/faults.zone");
    t.import_ok("s.db", &[f.to_str().unwrap()]);
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
