//! RDAP in `zonefeed monitor`, against registries of our own on 127.0.0.1 that answer as RFC
//! 9083 says (domain objects, 404 with an error object) and fail as real ones do: 429 with
//! Retry-After, slow answers, broken JSON.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::env::TestEnv;
use crate::http::{read_request, respond};

/// How a domain's next answers go wrong.
#[derive(Clone, Debug)]
enum Fault {
    None,
    /// This many 429s (Retry-After: 1) before the answer.
    TooMany(u32),
    /// Answers after this long.
    Slow(Duration),
    /// A body cut off mid-object.
    Broken,
}

#[derive(Clone, Debug)]
pub struct Dom {
    registrar: String,
    iana: u32,
    status: Vec<&'static str>,
    expires: String,
    fault: Fault,
}

#[derive(Default)]
struct State {
    domains: HashMap<String, Dom>,
    /// Every request's path, in order.
    asked: Vec<String>,
    /// The TLD this registry serves, for its bootstrap.
    tld: String,
}

/// An RDAP server for one TLD, which also serves a bootstrap (`/dns.json`) naming itself and
/// any others given.
pub struct Registry {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl Registry {
    pub fn start(tld: &str, others: Vec<(String, SocketAddr)>) -> Registry {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State { tld: tld.to_string(), ..Default::default() }));
        let st = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (st, others) = (st.clone(), others.clone());
                std::thread::spawn(move || {
                    let Some(req) = read_request(&stream) else { return };
                    let rdap = [("Content-Type", "application/rdap+json".to_string())];
                    let (answer, tld) = {
                        let mut s = st.lock().unwrap();
                        s.asked.push(req.path.clone());
                        let name = req.path.strip_prefix("/domain/").map(str::to_ascii_lowercase);
                        let answer = name.as_ref().map(|n| {
                            let d = s.domains.get_mut(n).cloned();
                            if let Some(Dom { fault: Fault::TooMany(k), .. }) = s.domains.get_mut(n) {
                                *k = k.saturating_sub(1);
                            }
                            (n.clone(), d)
                        });
                        (answer, s.tld.clone())
                    };
                    match answer {
                        None if req.path == "/dns.json" => {
                            let mut services = vec![json!([[tld], [format!("http://{addr}/")]])];
                            services.extend(others.iter().map(|(t, a)| json!([[t], [format!("http://{a}/")]])));
                            let body = json!({"version": "1.0", "publication": "2026-12-01T00:00:00Z", "services": services});
                            let _ = respond(&stream, 200, &[("Content-Type", "application/json".into())], body.to_string().as_bytes());
                        }
                        Some((name, Some(d))) => match d.fault {
                            Fault::TooMany(k) if k > 0 => {
                                let _ = respond(&stream, 429, &[("Retry-After", "1".into())], b"");
                            }
                            Fault::Broken => {
                                let _ = respond(&stream, 200, &rdap, br#"{"objectClassName": "domain", "ldhName": "#);
                            }
                            Fault::Slow(t) => {
                                std::thread::sleep(t);
                                let _ = respond(&stream, 200, &rdap, domain_object(&name, &d).to_string().as_bytes());
                            }
                            _ => {
                                let _ = respond(&stream, 200, &rdap, domain_object(&name, &d).to_string().as_bytes());
                            }
                        },
                        _ => {
                            let body = json!({"errorCode": 404, "title": "Not Found", "description": ["no such domain"]});
                            let _ = respond(&stream, 404, &rdap, body.to_string().as_bytes());
                        }
                    }
                });
            }
        });
        Registry { addr, state }
    }

    pub fn set(&self, name: &str, d: Dom) {
        self.state.lock().unwrap().domains.insert(name.into(), d);
    }

    fn edit(&self, name: &str, f: impl FnOnce(&mut Dom)) {
        f(self.state.lock().unwrap().domains.get_mut(name).unwrap());
    }

    pub fn asked(&self, path: &str) -> usize {
        self.state.lock().unwrap().asked.iter().filter(|p| *p == path).count()
    }
}

/// An RFC 9083 domain object.
fn domain_object(name: &str, d: &Dom) -> Value {
    json!({
        "rdapConformance": ["rdap_level_0"],
        "objectClassName": "domain",
        "handle": format!("{}-TEST", name.to_uppercase()),
        "ldhName": name.to_uppercase(),
        "status": d.status,
        "events": [
            {"eventAction": "registration", "eventDate": "2025-03-01T12:00:00Z"},
            {"eventAction": "expiration", "eventDate": d.expires},
            {"eventAction": "last changed", "eventDate": "2026-11-30T08:00:00Z"},
        ],
        "entities": [{
            "objectClassName": "entity", "handle": d.iana.to_string(), "roles": ["registrar"],
            "publicIds": [{"type": "IANA Registrar ID", "identifier": d.iana.to_string()}],
            "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", d.registrar]]],
        }],
        "nameservers": [{"objectClassName": "nameserver", "ldhName": "NS1.EXAMPLE.NET."}],
    })
}

pub fn dom(registrar: &str, iana: u32, expires_in_days: i64) -> Dom {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64 + expires_in_days * 86_400;
    Dom {
        registrar: registrar.into(),
        iana,
        status: vec!["active", "client transfer prohibited"],
        expires: zonefeed::time::utc(secs),
        fault: Fault::None,
    }
}

fn lines(out: &[u8]) -> HashMap<String, Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|v| (v["domain"].as_str().unwrap().to_string(), v))
        .collect()
}

fn events(t: &TestEnv, kind: &str) -> Vec<Value> {
    let out = t.run(&["--db", "m.db", "--format", "jsonl", "changes", "--kind", kind]);
    assert!(out.status.success() || out.status.code() == Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn registration_changes_become_events_and_a_failing_server_delays_only_its_own_domains() {
    let t = TestEnv::new();
    // A second registry that answers nothing in time: its domains fail, the first's do not wait.
    let stalled = Registry::start("stalltest", Vec::new());
    for n in ["a.stalltest", "b.stalltest"] {
        stalled.set(n, Dom { fault: Fault::Slow(Duration::from_secs(3)), ..dom("Slow Registrar", 7, 400) });
    }
    let reg = Registry::start("rdaptest", vec![("stalltest".into(), stalled.addr)]);
    reg.set("good.rdaptest", dom("Good Registrar", 1001, 400));
    reg.set("moved.rdaptest", dom("Good Registrar", 1001, 400));
    reg.set("limited.rdaptest", Dom { fault: Fault::TooMany(1), ..dom("Good Registrar", 1001, 400) });
    reg.set("broken.rdaptest", Dom { fault: Fault::Broken, ..dom("Good Registrar", 1001, 400) });
    reg.set("soon.rdaptest", dom("Good Registrar", 1001, 10));
    let cfg = json!({"rdap.every_seconds": 0.5, "rdap.min_interval_seconds": 0.5, "rdap.timeout_seconds": 1, "rdap.max_wait_seconds": 5, "rdap.per_server_per_minute": 6000});
    t.write("config.json", cfg.to_string().as_bytes());

    // The bundled bootstrap serves until one is fetched.
    let out = t.run(&["--json", "rdap", "bootstrap"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["source"], "bundled");
    assert!(v["suffixes"].as_u64().unwrap() > 1000, "{v}");
    let names = ["good", "moved", "limited", "broken", "soon", "missing"].map(|n| format!("{n}.rdaptest"));
    let mut add = vec!["--db", "m.db", "monitor", "add", "a.stalltest", "b.stalltest"];
    add.extend(names.iter().map(String::as_str));
    assert!(t.run(&add).status.success());
    let url = format!("http://{}/dns.json", reg.addr);
    let out = t.run(&["--db", "m.db", "--json", "rdap", "bootstrap", "--update", "--url", &url]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["source"].as_str(), v["suffixes"].as_u64()), (Some(url.as_str()), Some(2)), "{v}");

    // First pass: the baselines; a 429 waited out; broken JSON and the stalled server named.
    let run = || t.run(&["--db", "m.db", "--format", "jsonl", "monitor", "run", "--once", "--only", "rdap"]);
    let out = run();
    assert_eq!(out.status.code(), Some(6), "some fetches failed: {}", String::from_utf8_lossy(&out.stderr));
    let seen = lines(&out.stdout);
    assert_eq!(seen.len(), 8, "{seen:?}");
    for n in ["good", "moved", "limited", "soon"] {
        assert_eq!(seen[&format!("{n}.rdaptest")]["rdap"], "found", "{n}: {}", seen[&format!("{n}.rdaptest")]);
    }
    assert_eq!(reg.asked("/domain/limited.rdaptest"), 2, "asked again after the 429's Retry-After");
    assert_eq!(seen["missing.rdaptest"]["rdap"], "not_found");
    let broken = seen["broken.rdaptest"]["detail"].as_str().unwrap();
    assert!(broken.contains(&format!("http://{}/domain/broken.rdaptest", reg.addr)) && broken.contains("not valid JSON"), "{broken}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not valid JSON"), "the failure is logged: {stderr}");
    for n in ["a.stalltest", "b.stalltest"] {
        assert_eq!(seen[n]["rdap"], "failed", "{}", seen[n]);
        assert!(seen[n]["detail"].as_str().unwrap().contains(&stalled.addr.to_string()), "{}", seen[n]);
    }
    assert_eq!(seen["soon.rdaptest"]["events"], json!(["expiring"]));
    for n in ["good", "moved", "limited"] {
        assert_eq!(seen[&format!("{n}.rdaptest")]["events"], json!([]), "a first fetch is the baseline");
    }
    let expiring = events(&t, "expiring");
    assert_eq!(expiring.len(), 1);
    assert_eq!(expiring[0]["registration"]["days_left"], 9, "{}", expiring[0]);
    assert!(expiring[0]["zone_version"].is_null());

    // The registry changes: a transfer, a hold, the broken answer mended.
    reg.edit("moved.rdaptest", |d| {
        d.registrar = "Other Registrar, Inc.".into();
        d.iana = 2002;
    });
    reg.edit("good.rdaptest", |d| d.status = vec!["active", "client hold", "client transfer prohibited"]);
    reg.edit("broken.rdaptest", |d| d.fault = Fault::None);
    std::thread::sleep(Duration::from_millis(600));
    let out = run();
    let seen = lines(&out.stdout);
    assert_eq!(seen["moved.rdaptest"]["events"], json!(["registrar_changed"]), "{}", seen["moved.rdaptest"]);
    assert_eq!(seen["good.rdaptest"]["events"], json!(["status_changed"]));
    assert_eq!(seen["soon.rdaptest"]["events"], json!([]), "an expiry is announced once");
    assert_eq!(seen["broken.rdaptest"]["rdap"], "found");
    assert_eq!(seen["broken.rdaptest"]["events"], json!([]), "its first good answer is its baseline");

    let moved = events(&t, "registrar_changed");
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0]["domain"], "moved.rdaptest");
    assert_eq!(moved[0]["registration"]["from"], json!({"name": "Good Registrar", "iana_id": "1001"}));
    assert_eq!(moved[0]["registration"]["to"], json!({"name": "Other Registrar, Inc.", "iana_id": "2002"}));
    let status = events(&t, "status_changed");
    assert_eq!(status.len(), 1);
    assert_eq!(status[0]["registration"]["added"], json!(["client hold"]));
    assert_eq!(status[0]["registration"]["removed"], json!([]));

    // `domain --live` shows the registration now and as it was.
    let out = t.run(&["--db", "m.db", "--json", "domain", "moved.rdaptest", "--live"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let v = if v.is_array() { v[0].clone() } else { v };
    assert_eq!(v["registration"]["registrar"], "Other Registrar, Inc.", "{v}");
    assert_eq!(v["registration"]["nameservers"], json!(["ns1.example.net"]));
    assert_eq!(v["registration"]["created"], "2025-03-01T12:00:00Z");
    let first = t
        .db("m.db")
        .query_row("SELECT min(since) FROM registrations WHERE name = 'moved.rdaptest'", [], |r| r.get::<_, String>(0))
        .unwrap();
    let out = t.run(&["--db", "m.db", "--json", "domain", "moved.rdaptest", "--live", "--at", &first]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let v = if v.is_array() { v[0].clone() } else { v };
    assert_eq!(v["registration"]["registrar"], "Good Registrar", "{v}");

    // `rdap lookup` asks now and keeps nothing.
    let before = reg.asked("/domain/good.rdaptest");
    let out = t.run(&["--db", "m.db", "--json", "rdap", "lookup", "good.rdaptest"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["registration"]["status"], json!(["active", "client hold", "client transfer prohibited"]));
    assert_eq!(reg.asked("/domain/good.rdaptest"), before + 1);
    let out = t.run(&["--db", "m.db", "rdap", "lookup", "missing.rdaptest"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HTTP 404: not found at the registry"));
}

#[test]
fn a_long_retry_after_leaves_the_servers_domains_for_a_later_pass() {
    let t = TestEnv::new();
    let reg = Registry::start("rdaptest", Vec::new());
    // Retry-After: 1, more than the 0.5 s a pass may wait here.
    reg.set("a.rdaptest", Dom { fault: Fault::TooMany(5), ..dom("R", 1, 400) });
    reg.set("b.rdaptest", dom("R", 1, 400));
    t.write("config.json", json!({"rdap.max_wait_seconds": 0.5, "rdap.timeout_seconds": 2}).to_string().as_bytes());
    assert!(t.run(&["--db", "m.db", "monitor", "add", "a.rdaptest", "b.rdaptest"]).status.success());
    let url = format!("http://{}/dns.json", reg.addr);
    assert!(t.run(&["--db", "m.db", "rdap", "bootstrap", "--update", "--url", &url]).status.success());
    let out = t.run(&["--db", "m.db", "--format", "jsonl", "monitor", "run", "--once", "--only", "rdap"]);
    assert_eq!(out.status.code(), Some(6));
    let seen = lines(&out.stdout);
    for n in ["a.rdaptest", "b.rdaptest"] {
        assert_eq!(seen[n]["rdap"], "failed", "{}", seen[n]);
        assert!(seen[n]["detail"].as_str().unwrap().contains("HTTP 429"), "{}", seen[n]);
    }
    assert_eq!(reg.asked("/domain/a.rdaptest"), 1, "asked once");
    assert_eq!(reg.asked("/domain/b.rdaptest"), 0, "behind it in the same server's queue, not asked");
    // Not due again before the Retry-After.
    let out = t.run(&["--db", "m.db", "--format", "jsonl", "monitor", "run", "--once", "--only", "rdap"]);
    assert!(out.status.success());
    assert!(lines(&out.stdout).is_empty());
    // After it, both are fetched (a.rdaptest's 429s run out on the way).
    reg.edit("a.rdaptest", |d| d.fault = Fault::None);
    std::thread::sleep(Duration::from_millis(2100));
    let out = t.run(&["--db", "m.db", "--format", "jsonl", "monitor", "run", "--once", "--only", "rdap"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let seen = lines(&out.stdout);
    assert_eq!((seen["a.rdaptest"]["rdap"].as_str(), seen["b.rdaptest"]["rdap"].as_str()), (Some("found"), Some("found")));
}
