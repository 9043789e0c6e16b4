//! `zonefeed monitor` over the DNS lab (tests/lab/lab.py): its zones changed between checks,
//! the events equal the changes made, and `domain --live --at` gives each state back.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::env::TestEnv;
use crate::lab::Lab;

fn lab_py(args: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lab/lab.py");
    let out = Command::new("python3").arg(script).args(args).output().unwrap();
    assert!(out.status.success(), "lab.py {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Rewrites the provider's copy of `zone`: its SOA and NS lines kept, `records` after them
/// (`owner TYPE rdata`), then has knot load it.
fn set_records(lab: &Lab, zone: &str, records: &[&str]) {
    let path = lab.path(&format!("zones/provider/{zone}.zone"));
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> =
        text.lines().filter(|l| l.starts_with('$') || l.contains(" SOA ") || l.contains(" NS ")).map(str::to_string).collect();
    lines.extend(records.iter().map(|r| {
        let (owner, rest) = r.split_once(' ').unwrap();
        format!("{owner} IN {rest}")
    }));
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    lab_py(&["reload", lab.path("").to_str().unwrap(), "provider", zone]);
}

fn lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The records of a diff side as `owner TYPE rdata`, SOA left out (each edit bumps it).
fn recs(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["type"] != "SOA")
        .map(|r| format!("{} {} {}", r["owner"].as_str().unwrap(), r["type"].as_str().unwrap(), r["rdata"].as_str().unwrap()))
        .collect();
    out.sort();
    out
}

#[test]
fn monitoring_turns_each_change_of_live_records_into_an_event_and_keeps_every_state() {
    let t = TestEnv::new();
    let Some(lab) = Lab::up(&t.path("lab"), 3) else { return };
    // The registry's RDAP server: a domain's registration is fetched first, and again after
    // a dns_changed (not sooner than rdap.min_interval_seconds).
    let registry = crate::rdap::Registry::start("lab", Vec::new());
    for n in ["c0.lab", "c1.lab", "c2.lab", "onens.lab"] {
        registry.set(n, crate::rdap::dom("Lab Registrar", 4242, 400));
    }
    let cfg = serde_json::json!({"dns.root_hints": lab.path("hints"), "dns.allow_private": true, "dns.qps": 1000,
                                 "rdap.min_interval_seconds": 0.5});
    t.write_private("config.json", cfg.to_string().as_bytes());
    let url = format!("http://{}/dns.json", registry.addr);
    // Day 1 lacks onens.lab; a watch term that monitors its hits is set; day 2 brings it.
    let full = std::fs::read_to_string(lab.path("zones/lab.zone")).unwrap();
    let day1: String = full.lines().filter(|l| !l.starts_with("onens ")).map(|l| format!("{l}\n")).collect();
    t.import_ok("z.db", &["--date", "2026-12-01", "--tld", "lab", t.write("day1.zone", day1.as_bytes()).to_str().unwrap()]);
    let out = t.run(&["--db", "z.db", "watch", "add", "--term", "onens", "--monitor", "14d"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    t.import_ok("z.db", &["--date", "2026-12-02", lab.path("zones/lab.zone").to_str().unwrap()]);
    let out = t.run(&["--db", "z.db", "rdap", "bootstrap", "--update", "--url", &url]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let fetched = std::cell::RefCell::new(Vec::new());
    let run = |what: &str| -> Vec<Value> {
        let out = t.run(&["--db", "z.db", "--format", "jsonl", "monitor", "run", "--once"]);
        assert!(out.status.success(), "{what}: {}", String::from_utf8_lossy(&out.stderr));
        // The live checks; the registrations fetched are kept aside.
        let (checks, rdap): (Vec<Value>, Vec<Value>) = lines(&out.stdout).into_iter().partition(|l| l.get("rdap").is_none());
        let mut names: Vec<String> = rdap.iter().map(|r| r["domain"].as_str().unwrap().to_string()).collect();
        names.sort();
        *fetched.borrow_mut() = names;
        checks
    };
    let out = t.run(&["--db", "z.db", "monitor", "add", "c0.lab", "c1.lab", "c2.lab"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The first check is the baseline: records kept, no event. The term's hit is monitored
    // too, with no address or mail server yet: not armed.
    let checks = run("baseline");
    assert_eq!(*fetched.borrow(), ["c0.lab", "c1.lab", "c2.lab", "onens.lab"], "every registration fetched first");
    let mut names: Vec<&str> = checks.iter().map(|c| c["domain"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["c0.lab", "c1.lab", "c2.lab", "onens.lab"]);
    assert!(checks.iter().all(|c| c["state"] == "ok" && c["events"].as_array().unwrap().is_empty()), "{checks:?}");
    let live = |at: Option<&str>| -> Vec<String> {
        let mut a = vec!["--db", "z.db", "--format", "json", "domain", "c0.lab", "--live"];
        if let Some(at) = at {
            a.extend(["--at", at]);
        }
        let out = t.run(&a);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        recs(&v[0]["live"]["records"])
    };
    let checked_at = || -> String {
        let out = t.run(&["--db", "z.db", "--format", "json", "domain", "c0.lab", "--live"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v[0]["live"]["since"].as_str().unwrap().to_string()
    };
    let state0 = live(None);
    assert!(state0.contains(&"c0.lab A 192.0.2.1".to_string()) && state0.contains(&"www.c0.lab A 192.0.2.1".to_string()), "{state0:?}");
    let t0 = checked_at();
    // Two seconds apart: each check's time is its own second.
    std::thread::sleep(std::time::Duration::from_millis(1100));

    // An MX and a TXT come to c0.lab; the term's hit gets its first address: armed.
    set_records(&lab, "c0.lab", &["@ A 192.0.2.1", "www A 192.0.2.1", "@ MX 10 mail.dns.zf.", "@ TXT \"v=spf1 -all\""]);
    set_records(&lab, "onens.lab", &["@ A 192.0.2.7"]);
    let checks = run("mx and txt");
    let events_of = |d: &str| checks.iter().find(|c| c["domain"] == d).unwrap()["events"].clone();
    assert_eq!(events_of("c0.lab"), serde_json::json!(["dns_changed"]), "{checks:?}");
    assert_eq!(events_of("onens.lab"), serde_json::json!(["dns_changed", "armed"]), "{checks:?}");
    assert_eq!(events_of("c1.lab"), serde_json::json!([]), "{checks:?}");
    assert_eq!(*fetched.borrow(), ["c0.lab", "onens.lab"], "fetched again after their dns_changed, the others not");
    assert_eq!(registry.asked("/domain/c1.lab"), 1);
    let out = t.run(&["--db", "z.db", "--format", "jsonl", "changes", "--kind", "armed"]);
    let armed = lines(&out.stdout);
    assert_eq!(armed.len(), 1, "{armed:?}");
    assert_eq!(recs(&armed[0]["diff"]["added"]), ["onens.lab A 192.0.2.7"]);
    let state1 = live(None);
    let t1 = checked_at();
    std::thread::sleep(std::time::Duration::from_millis(1100));

    // An A record added, the MX changed, the TXT removed.
    set_records(&lab, "c0.lab", &["@ A 192.0.2.1", "@ A 192.0.2.99", "www A 192.0.2.1", "@ MX 20 mx2.dns.zf."]);
    run("a added, mx changed, txt removed");
    let state2 = live(None);

    // c1.lab's delegation gains a server that does not serve it (lame): a finding of the
    // check, not a change of its records. c2.lab leaves the TLD: gone.
    let tld = lab.path("zones/tld/lab.zone");
    let text = std::fs::read_to_string(&tld).unwrap();
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("c2 "))
        .map(|l| if l == "c1 IN NS ns2.dns.zf." { "c1 IN NS ns3.dns.zf.".to_string() } else { l.to_string() })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&tld, text + "\n").unwrap();
    lab_py(&["reload", lab.path("").to_str().unwrap(), "tld", "lab"]);
    let checks = run("lame and gone");
    let by = |d: &str| checks.iter().find(|c| c["domain"] == d).unwrap().clone();
    assert_eq!(by("c1.lab")["state"], "degraded", "{checks:?}");
    assert_eq!(by("c1.lab")["events"], serde_json::json!([]), "{checks:?}");
    assert_eq!(by("c2.lab")["state"], "gone", "{checks:?}");
    assert_eq!(by("c2.lab")["events"], serde_json::json!(["dns_gone"]));
    // Gone stays gone: no second event.
    let checks = run("again");
    assert!(checks.iter().all(|c| c["events"].as_array().unwrap().is_empty()), "{checks:?}");

    // The events equal the changes made, with their records.
    let out = t.run(&["--db", "z.db", "--format", "jsonl", "changes", "--kind", "dns_changed"]);
    let events: Vec<Value> = lines(&out.stdout).into_iter().filter(|e| e["domain"] == "c0.lab").collect();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events.iter().all(|e| e["zone_version"].is_null()), "{events:?}");
    assert_eq!(recs(&events[0]["diff"]["added"]), ["c0.lab MX 10 mail.dns.zf.", "c0.lab TXT \"v=spf1 -all\""]);
    assert_eq!(recs(&events[0]["diff"]["removed"]), Vec::<String>::new());
    assert_eq!(recs(&events[1]["diff"]["added"]), ["c0.lab A 192.0.2.99", "c0.lab MX 20 mx2.dns.zf."]);
    assert_eq!(recs(&events[1]["diff"]["removed"]), ["c0.lab MX 10 mail.dns.zf.", "c0.lab TXT \"v=spf1 -all\""]);
    let out = t.run(&["--db", "z.db", "--format", "tsv", "changes", "--kind", "dns_gone"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "dns_gone\tc2.lab\n");
    // The domain's history has them too.
    let out = t.run(&["--db", "z.db", "--format", "json", "domain", "c0.lab", "--history"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: Vec<&str> = v[0]["history"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "dns_changed").count(), 2, "{kinds:?}");

    // --live --at gives each state back.
    assert_eq!(live(Some(&t0)), state0);
    assert_eq!(live(Some(&t1)), state1);
    assert_eq!(live(None), state2);
    assert_ne!(state1, state0);
    assert_ne!(state2, state1);
    let out = t.run(&["--db", "z.db", "domain", "c0.lab", "--live", "--at", "2001-01-01"]);
    assert_eq!(out.status.code(), Some(1), "no check that early");
    // monitor list says when each was checked and changed.
    let out = t.run(&["--db", "z.db", "--format", "json", "monitor", "list"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let c0 = v.as_array().unwrap().iter().find(|e| e["name"] == "c0.lab").unwrap();
    assert!(c0["last_check"].is_string() && c0["last_change"].is_string(), "{v}");
    let c1 = v.as_array().unwrap().iter().find(|e| e["name"] == "c1.lab").unwrap();
    assert!(c1["last_change"].is_null(), "a lame server is no change of records: {v}");
    // The API shows the same: the live records, the checks and the events.
    let server = crate::serve::start(&t, "z.db");
    let (status, v) = crate::serve::get(&format!("{}/v1/monitor/domains/c0.lab", server.base));
    assert_eq!(status, 200, "{v}");
    assert_eq!(recs(&v["live"]["records"]), state2);
    let (_, v) = crate::serve::get(&format!("{}/v1/monitor/domains/c0.lab/history", server.base));
    let kinds: Vec<&str> = v["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["dns_changed", "dns_changed"], "{v}");
    // Kept checks: the baseline and the two changes; the checks that found c0.lab as it was
    // only moved its last_check.
    assert_eq!(v["checks"].as_array().unwrap().len(), 3, "{v}");
    // The domain's own answer carries them too, for its page; a domain not monitored has none.
    let (_, v) = crate::serve::get(&format!("{}/v1/domains/c0.lab", server.base));
    assert_eq!(recs(&v["monitor"]["live"]["records"]), state2);
    let (_, v) = crate::serve::get(&format!("{}/v1/domains/lame.lab", server.base));
    assert!(v["monitor"].is_null(), "{v}");
    let (_, v) = crate::serve::get(&format!("{}/v1/monitor/domains/c1.lab/history", server.base));
    let states: Vec<&str> = v["checks"].as_array().unwrap().iter().map(|c| c["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["ok", "degraded"], "the baseline, then the check that found a server lame");
}

/// (status, body) of a write to the monitor API.
fn write(method: &str, url: &str, body: &str, token: Option<&str>) -> (u16, Value) {
    let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
    let auth = token.map(|t| format!("Bearer {t}"));
    let resp = match method {
        "POST" => {
            let mut r = agent.post(url).header("Content-Type", "application/json");
            if let Some(a) = &auth {
                r = r.header("Authorization", a);
            }
            r.send(body.to_string()).unwrap()
        }
        _ => {
            let mut r = agent.delete(url);
            if let Some(a) = &auth {
                r = r.header("Authorization", a);
            }
            r.call().unwrap()
        }
    };
    let status = resp.status().as_u16();
    (status, serde_json::from_str(&resp.into_body().read_to_string().unwrap()).unwrap_or(Value::Null))
}

#[test]
fn the_monitor_api_adds_lists_and_removes_domains_behind_the_write_guard() {
    let t = TestEnv::new();
    let token = "monitor-token-0123456789";
    let file = t.write("token", token.as_bytes());
    crate::env::set_mode(&file, 0o600);
    t.write_private("config.json", serde_json::json!({"zonalizer.token_file": file}).to_string().as_bytes());
    let zone = b"test. 3600 IN SOA ns.b.test. h.b.test. 1 3600 900 604800 300\na.test. 3600 IN NS ns.b.test.\n";
    t.import_ok("z.db", &[t.write("test.zone", zone).to_str().unwrap()]);
    let url = |s: &crate::serve::Server, p: &str| format!("{}/v1/monitor/domains{p}", s.base);
    // Without --allow-monitor: readable, not writable.
    let s = crate::serve::start(&t, "z.db");
    assert_eq!(crate::serve::get(&url(&s, "")).0, 200);
    let (status, v) = write("POST", &url(&s, ""), r#"{"domains": ["a.test"]}"#, Some(token));
    assert_eq!((status, v["error"]["code"].as_str()), (403, Some("monitor_not_allowed")));
    drop(s);
    let mut child = t
        .cmd()
        .args(["--db", "z.db", "serve", "--listen", "127.0.0.1:0", "--allow-monitor"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    let base = line.strip_prefix("listening on ").and_then(|l| l.split_whitespace().next()).unwrap().trim_end_matches('/').to_string();
    let u = |p: &str| format!("{base}/v1/monitor/domains{p}");
    assert_eq!(write("POST", &u(""), r#"{"domains": ["a.test"]}"#, None).0, 401, "the token is needed");
    assert_eq!(write("POST", &u(""), r#"{"domains": ["a.test"]}"#, Some("wrong-token-0123456789")).0, 401);
    let (status, v) = write("POST", &u(""), r#"{"domains": ["A.Test.", "b.test"]}"#, Some(token));
    assert_eq!((status, v["added"].as_i64()), (200, Some(2)), "{v}");
    let (status, v) = write("POST", &u(""), r#"{"domains": ["not a name"]}"#, Some(token));
    assert_eq!((status, v["error"]["code"].as_str()), (400, Some("invalid_fqdn")));
    let (_, v) = crate::serve::get(&u(""));
    let names: Vec<&str> = v["items"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a.test", "b.test"]);
    // Never checked yet: no live records.
    let (status, v) = crate::serve::get(&u("/a.test"));
    assert_eq!(status, 200);
    assert!(v["live"].is_null() && v["monitored"]["source"] == "manual", "{v}");
    assert_eq!(write("DELETE", &u("/a.test"), "", Some(token)).0, 200);
    assert_eq!(write("DELETE", &u("/a.test"), "", Some(token)).0, 404);
    assert_eq!(crate::serve::get(&u("/a.test")).0, 404);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_cycle_killed_midway_loses_no_event_and_doubles_none() {
    let t = TestEnv::new();
    let Some(lab) = Lab::up(&t.path("lab"), 30) else { return };
    let cfg = serde_json::json!({"dns.root_hints": lab.path("hints"), "dns.allow_private": true});
    t.write_private("config.json", cfg.to_string().as_bytes());
    t.import_ok("z.db", &[lab.path("zones/lab.zone").to_str().unwrap()]);
    let names: Vec<String> = (0..30).map(|i| format!("c{i}.lab")).collect();
    let mut add = vec!["--db", "z.db", "monitor", "add"];
    add.extend(names.iter().map(String::as_str));
    assert!(t.run(&add).status.success());
    let out = t.run(&["--db", "z.db", "--quiet", "monitor", "run", "--once", "--qps", "1000"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Every zone gains an MX; then a slow cycle is killed after a few checks.
    for n in &names {
        set_records(&lab, n, &["@ A 192.0.2.1", "@ MX 10 mail.dns.zf."]);
    }
    let conn = t.db("z.db");
    let checks = |c: &rusqlite::Connection| -> i64 { c.query_row("SELECT count(*) FROM live_checks", [], |r| r.get(0)).unwrap() };
    let baseline = checks(&conn);
    let mut child =
        t.cmd().args(["--db", "z.db", "--quiet", "monitor", "run", "--once", "--qps", "15", "--concurrency", "2"]).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while checks(&conn) < baseline + 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let done = checks(&conn) - baseline;
    assert!((3..30).contains(&done), "killed after {done} of 30 checks");
    // Run again: each domain's change is one event, whether its check came before the kill or after.
    let out = t.run(&["--db", "z.db", "--quiet", "monitor", "run", "--once", "--qps", "1000"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = t.run(&["--db", "z.db", "--format", "tsv", "changes", "--kind", "dns_changed"]);
    let mut got: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(|l| l.split('\t').nth(1).unwrap().to_string()).collect();
    got.sort();
    let mut want = names.clone();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn the_service_checks_monitored_domains_after_its_sync() {
    let dir = tempfile::tempdir().unwrap();
    let Some(lab) = Lab::up(dir.path(), 3) else { return };
    let s = crate::sync::Setup::with(serde_json::json!({
        "dns.root_hints": lab.path("hints"),
        "dns.allow_private": true,
        "dns.qps": 1000,
    }));
    let text = std::fs::read(lab.path("zones/lab.zone")).unwrap();
    s.czds.add_zone("lab", crate::env::gzip(&text));
    let out = s.env.run(&["--db", "s.db", "monitor", "add", "c0.lab", "c1.lab"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = s.env.run(&["--db", "s.db", "service", "run-once"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("monitor: 2 checked"), "{err}");
    let out = s.env.run(&["--db", "s.db", "--format", "json", "domain", "c0.lab", "--live"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["live"]["state"], "ok", "{v}");
    // Checked moments ago: the next run-once has nothing due.
    let out = s.env.run(&["--db", "s.db", "service", "run-once"]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("monitor:"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn monitor_add_reads_a_list_and_names_the_line_of_a_bad_entry() {
    let t = TestEnv::new();
    t.write("list.txt", b"# brands\nexample.com\n\npaypa1-login.xyz  # seen 2026-12-07\nexample.com\n");
    let out = t.run(&["--db", "m.db", "monitor", "add", "--from", "list.txt", "other.net"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 of 4 domain(s) added"), "{}", String::from_utf8_lossy(&out.stdout));
    let listed = crate::env::column(&t.db("m.db"), "SELECT name FROM monitored ORDER BY name");
    assert_eq!(listed, ["example.com", "other.net", "paypa1-login.xyz"]);
    t.write("bad.txt", b"good.org\ncom\n");
    let out = t.run(&["--db", "m.db", "monitor", "add", "--from", "bad.txt"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.txt line 2: `com`: a domain has a dot"), "{err}");
    assert_eq!(crate::env::column(&t.db("m.db"), "SELECT CAST(count(*) AS TEXT) FROM monitored"), ["3"], "nothing of a bad list is added");
}
