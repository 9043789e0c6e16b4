//! The Zonalizer API on `serve`, checked by a client written from
//! `../shared/specs/zonalizer-api-v1.txt` alone: it knows the routes and the objects the text
//! describes, and nothing of zonefeed. Analyses run against the DNS lab (tests/lab/lab.py);
//! the write guard and the error objects need no lab (every request they make is refused
//! before anything is queued, and the config's root hints point at loopback anyway).

use std::io::BufRead;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::env::TestEnv;
use crate::lab::Lab;

/// A `serve` started with `args` (after `serve`), stopped on drop.
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

fn serve(t: &TestEnv, db: &str, args: &[&str]) -> Server {
    let mut child = t.cmd().args(["--db", db, "serve", "--listen", "127.0.0.1:0"]).args(args).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.strip_prefix("listening on ").and_then(|l| l.split_whitespace().next()).unwrap().trim_end_matches('/').to_string();
    Server { child, base }
}

/// The client: a method, a path under /zonalizer/1/, a JSON body, a bearer token.
fn call(base: &str, method: &str, path: &str, body: Option<&Value>, token: Option<&str>) -> (u16, Value) {
    let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
    let url = format!("{base}/zonalizer/1/{path}");
    let auth = token.map(|t| format!("Bearer {t}"));
    let resp = match method {
        "POST" => {
            let mut r = agent.post(&url).header("Content-Type", "application/json");
            if let Some(a) = &auth {
                r = r.header("Authorization", a);
            }
            r.send(body.map_or_else(String::new, Value::to_string)).unwrap()
        }
        "DELETE" => {
            let mut r = agent.delete(&url);
            if let Some(a) = &auth {
                r = r.header("Authorization", a);
            }
            r.call().unwrap()
        }
        _ => agent.get(&url).call().unwrap(),
    };
    let status = resp.status().as_u16();
    let text = resp.into_body().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn get(base: &str, path: &str) -> (u16, Value) {
    call(base, "GET", path, None, None)
}

/// A field's type as the text names them.
fn is(v: &Value, ty: &str) -> bool {
    match ty {
        "string" | "uuid" | "href" => v.is_string(),
        "integer" | "datetime" => v.is_i64() || v.is_u64(),
        "float" => v.is_number(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "error" => v.is_null() || (v["code"].is_string() && v["message"].is_string()),
        _ => false,
    }
}

fn fields(what: &str, v: &Value, spec: &[(&str, &str)]) {
    for (k, ty) in spec {
        assert!(is(&v[*k], ty), "{what}.{k} is not a {ty}: {v}");
    }
}

/// The analyze object, and every object inside it, against the text.
fn check_analyze(a: &Value) {
    fields(
        "analyze",
        a,
        &[
            ("id", "uuid"),
            ("fqdn", "string"),
            ("policy", "object"),
            ("url", "href"),
            ("status", "string"),
            ("error", "error"),
            ("progress", "integer"),
            ("created", "datetime"),
            ("updated", "datetime"),
            ("summary", "object"),
            ("ipv4", "integer"),
            ("ipv6", "integer"),
            ("ns", "array"),
            ("ds", "array"),
            ("meta_data", "array"),
        ],
    );
    assert!(uuid::Uuid::parse_str(a["id"].as_str().unwrap()).is_ok(), "{a}");
    fields("policy", &a["policy"], &[("name", "string"), ("display", "string"), ("description", "string")]);
    fields("summary", &a["summary"], &[("notice", "integer"), ("warning", "integer"), ("error", "integer"), ("critical", "integer")]);
    let p = a["progress"].as_i64().unwrap();
    assert!((0..=100).contains(&p), "{a}");
    for ns in a["ns"].as_array().unwrap() {
        fields("ns", ns, &[("fqdn", "string"), ("ip", "string")]);
    }
    for ds in a["ds"].as_array().unwrap() {
        fields("ds", ds, &[("keytag", "string"), ("algorithm", "string"), ("type", "string"), ("digest", "string")]);
    }
    for m in a["meta_data"].as_array().unwrap() {
        fields("meta_data", m, &[("key", "string"), ("value", "string")]);
    }
    for r in a["results"].as_array().into_iter().flatten() {
        fields(
            "result",
            r,
            &[
                ("_id", "integer"),
                ("args", "object"),
                ("level", "string"),
                ("module", "string"),
                ("tag", "string"),
                ("timestamp", "float"),
                ("message", "string"),
            ],
        );
    }
}

fn check_paging(p: &Value) {
    assert!(p["cursors"].is_object(), "{p}");
    for k in ["after", "before"] {
        assert!(p["cursors"][k].is_string() || p["cursors"][k].is_null(), "{p}");
    }
    for k in ["previous", "next"] {
        assert!(p[k].is_string() || p[k].is_null(), "{p}");
    }
}

/// The API error of a refused call: the text's `Lim::Error`, its message the error's name.
fn api_error(v: &Value) -> &str {
    v["Lim::Error"]["message"].as_str().unwrap_or_else(|| panic!("not a Lim::Error: {v}"))
}

/// Polls an analysis until it is done; the progress seen on the way.
fn wait_done(base: &str, id: &str) -> Vec<i64> {
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (status, s) = get(base, &format!("analysis/{id}/status"));
        assert_eq!(status, 200, "{s}");
        fields("status", &s, &[("status", "string"), ("progress", "integer"), ("updated", "datetime")]);
        let p = s["progress"].as_i64().unwrap();
        if seen.last() != Some(&p) {
            seen.push(p);
        }
        if s["status"] == "done" {
            return seen;
        }
        assert!(s["status"] != "failed", "{s}");
        assert!(Instant::now() < deadline, "still {s}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn lab_config(t: &TestEnv, lab: &Lab, extra: Value) {
    let mut cfg = serde_json::json!({
        "dns.root_hints": lab.path("hints"),
        "dns.allow_private": true,
        "dns.qps": 1000,
        "zonalizer.allow_undelegated": 1,
    });
    for (k, v) in extra.as_object().unwrap() {
        cfg[k] = v.clone();
    }
    t.write_private("config.json", cfg.to_string().as_bytes());
}

#[test]
fn a_zonalizer_client_posts_polls_pages_and_deletes_analyses() {
    let t = TestEnv::new();
    let Some(lab) = Lab::up(&t.path("lab"), 3) else { return };
    lab_config(&t, &lab, serde_json::json!({"zonalizer.max_ongoing": 10}));
    t.import_ok("z.db", &[lab.path("zones/lab.zone").to_str().unwrap()]);
    let s = serve(&t, "z.db", &["--allow-analysis"]);
    let base = s.base.as_str();
    let (status, v) = get(base, "version");
    assert_eq!(status, 200);
    fields("version", &v, &[("version", "string"), ("zonemaster", "object")]);
    fields("zonemaster", &v["zonemaster"], &[("version", "string"), ("tests", "array")]);
    for test in v["zonemaster"]["tests"].as_array().unwrap() {
        fields("test", test, &[("name", "string"), ("version", "string")]);
    }
    let (_, v) = get(base, "policies");
    let policies = v["policies"].as_array().unwrap();
    assert!(!policies.is_empty());
    let name = policies[0]["name"].as_str().unwrap();
    let (status, p) = get(base, &format!("policy/{name}"));
    assert_eq!(status, 200);
    fields("policy", &p, &[("name", "string"), ("display", "string"), ("description", "string")]);

    // Post three analyses: a healthy child, a lame one, and an undelegated test of c0.lab on
    // the provider's second server alone, with meta data off by default.
    let (status, a) = call(base, "POST", "analysis?fqdn=c0.lab", None, None);
    assert_eq!(status, 200, "{a}");
    check_analyze(&a);
    assert_eq!(a["fqdn"], "c0.lab");
    assert!(a["status"] == "queued" || a["status"] == "analyzing", "{a}");
    let healthy = a["id"].as_str().unwrap().to_string();
    let (_, lame) = call(base, "POST", "analysis?fqdn=lame.lab.", None, None);
    let lame = lame["id"].as_str().unwrap().to_string();
    let body = serde_json::json!({"fqdn": "c1.lab", "ns": [{"fqdn": "ns2.dns.zf", "ip": "127.53.1.2"}]});
    let (status, und) = call(base, "POST", "analysis", Some(&body), None);
    assert_eq!(status, 200, "{und}");
    check_analyze(&und);
    assert_eq!(und["ns"][0]["ip"], "127.53.1.2");
    let und = und["id"].as_str().unwrap().to_string();

    // Poll each to done: progress only moves forward and ends at 100.
    for id in [&healthy, &lame, &und] {
        let seen = wait_done(base, id);
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
        assert_eq!(seen.last(), Some(&100), "{seen:?}");
    }
    let (_, a) = get(base, &format!("analysis/{lame}?results=1"));
    check_analyze(&a);
    assert_eq!(a["status"], "done");
    let results = a["results"].as_array().unwrap();
    assert!(results.iter().any(|r| r["tag"] == "NS_FAILED" && r["level"] == "ERROR"), "{a}");
    assert!(a["summary"]["error"].as_i64().unwrap() >= 1, "{a}");
    let (_, a) = get(base, &format!("analysis/{healthy}?last_results=1"));
    assert!(a["results"].as_array().unwrap().len() <= 10 && a["summary"]["error"] == 0, "{a}");
    // The undelegated test: one name server is not enough.
    let (_, a) = get(base, &format!("analysis/{und}?results=1"));
    let tags: Vec<&str> = a["results"].as_array().unwrap().iter().filter_map(|r| r["tag"].as_str()).collect();
    assert!(tags.contains(&"NOT_ENOUGH_NS_DEL"), "{tags:?}");

    // Page through the list one at a time, forwards by `next`, then back by `previous`.
    let rel = |href: &str| href.split("/zonalizer/1/").nth(1).unwrap().to_string();
    let walk = |start: &str, link: &str| -> (Vec<String>, Value) {
        let (mut names, mut url) = (Vec::new(), start.to_string());
        loop {
            let (status, page) = get(base, &url);
            assert_eq!(status, 200, "{page}");
            check_paging(&page["paging"]);
            for a in page["analysis"].as_array().unwrap() {
                check_analyze(a);
                names.push(a["fqdn"].as_str().unwrap().to_string());
            }
            match page["paging"][link].as_str() {
                Some(next) => url = rel(next),
                None => return (names, page),
            }
        }
    };
    let (forward, last) = walk("analysis?limit=1&sort=fqdn", "next");
    assert_eq!(forward, ["c0.lab", "c1.lab", "lame.lab"]);
    assert!(last["paging"]["previous"].is_string(), "{last}");
    let before = last["paging"]["cursors"]["before"].as_str().unwrap();
    let (mut backward, first) = walk(&format!("analysis?limit=1&sort=fqdn&before={before}"), "previous");
    assert!(first["paging"]["previous"].is_null() && first["paging"]["next"].is_string(), "{first}");
    backward.reverse();
    assert_eq!(backward, ["c0.lab", "c1.lab"]);
    // Descending order, two a page.
    let (down, _) = walk("analysis?limit=2&sort=fqdn&direction=descending", "next");
    assert_eq!(down, ["lame.lab", "c1.lab", "c0.lab"]);
    // Search by name and by domain; HATEOAS off.
    let (_, found) = get(base, "analysis?search=lame.lab&base_url=0");
    let items = found["analysis"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert!(items[0]["url"].as_str().unwrap().starts_with("/zonalizer/1/analysis/"), "{found}");
    let (_, found) = get(base, "analysis?search=.lab&limit=10");
    assert_eq!(found["analysis"].as_array().unwrap().len(), 3);
    let (_, st) = get(base, "status");
    fields("status", &st, &[("api", "object"), ("analysis", "object")]);
    fields("api", &st["api"], &[("requests", "integer"), ("errors", "integer")]);
    fields("analysis", &st["analysis"], &[("ongoing", "integer"), ("completed", "integer"), ("failed", "integer")]);
    assert_eq!(st["analysis"]["completed"], 3, "{st}");

    // Spaces keep analyses apart; deleting one, then a whole space.
    let (status, other) = call(base, "POST", "analysis?fqdn=c2.lab&space=batch", None, None);
    assert_eq!(status, 200, "{other}");
    let other = other["id"].as_str().unwrap().to_string();
    assert_eq!(get(base, &format!("analysis/{other}")).0, 404, "not in the null space");
    assert_eq!(get(base, &format!("analysis/{other}?space=batch")).0, 200);
    let (status, _) = call(base, "DELETE", &format!("analysis/{lame}"), None, None);
    assert_eq!(status, 200);
    let (status, v) = get(base, &format!("analysis/{lame}"));
    assert_eq!((status, api_error(&v)), (404, "id_not_found"));
    assert_eq!(call(base, "DELETE", &format!("analysis/{lame}"), None, None).0, 404);
    assert_eq!(call(base, "DELETE", "analysis", None, None).0, 200);
    let (_, left) = get(base, "analysis");
    assert_eq!(left["analysis"].as_array().unwrap().len(), 0);
    assert_eq!(get(base, &format!("analysis/{other}?space=batch")).0, 200, "another space is left alone");
}

#[test]
fn the_queue_survives_a_restart_with_analyses_queued_and_one_running() {
    let t = TestEnv::new();
    let Some(lab) = Lab::up(&t.path("lab"), 3) else { return };
    // One at a time, slowly: dead.lab's timeouts keep the first running.
    lab_config(&t, &lab, serde_json::json!({"zonalizer.max_ongoing": 4, "dns.timeout_seconds": 2}));
    t.import_ok("z.db", &[lab.path("zones/lab.zone").to_str().unwrap()]);
    let s = serve(&t, "z.db", &["--allow-analysis"]);
    let mut ids = Vec::new();
    for d in ["dead.lab", "noedns.lab", "c0.lab", "c1.lab"] {
        let (status, a) = call(&s.base, "POST", &format!("analysis?fqdn={d}"), None, None);
        assert_eq!(status, 200, "{a}");
        ids.push(a["id"].as_str().unwrap().to_string());
    }
    // The queue is bounded: a fifth is refused while four wait or run.
    let (status, v) = call(&s.base, "POST", "analysis?fqdn=c2.lab", None, None);
    assert_eq!((status, api_error(&v)), (503, "queue_full"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(&s.base, &format!("analysis/{}/status", ids[0])).1["status"] != "analyzing" {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(s);
    // A new serve finishes all four: the one it was running and the ones waiting.
    let s = serve(&t, "z.db", &["--allow-analysis"]);
    // dead.lab and noedns.lab wait on timeouts (a dead server; one that drops EDNS questions,
    // which later cases ask): polling sees their progress move on the way to 100.
    let seen: Vec<Vec<i64>> = ids.iter().map(|id| wait_done(&s.base, id)).collect();
    assert!(seen.iter().all(|s| s.last() == Some(&100)), "{seen:?}");
    assert!(seen.iter().any(|s| s.iter().any(|p| (1..100).contains(p))), "{seen:?}");
    let (_, st) = get(&s.base, "status");
    assert_eq!((st["analysis"]["completed"].as_i64(), st["analysis"]["ongoing"].as_i64()), (Some(4), Some(0)), "{st}");
}

/// A zone for `serve` to have a database of.
const ZONE: &[u8] = b"test. 3600 IN SOA ns.b.test. h.b.test. 1 3600 900 604800 300\na.test. 3600 IN NS ns.b.test.\n";

/// A config whose root hints point at loopback, so that nothing could leave the machine even
/// if an analysis were queued.
fn quiet_config(t: &TestEnv, extra: Value) {
    let hints = t.write("hints", b".\t3600000\tIN\tNS\tnowhere.test.\nnowhere.test.\t3600000\tIN\tA\t127.0.0.1\n");
    let mut cfg = serde_json::json!({"dns.root_hints": hints});
    for (k, v) in extra.as_object().unwrap() {
        cfg[k] = v.clone();
    }
    t.write_private("config.json", cfg.to_string().as_bytes());
}

#[test]
fn writes_are_guarded_by_the_flag_a_token_and_a_rate() {
    let t = TestEnv::new();
    quiet_config(&t, serde_json::json!({"zonalizer.writes_per_minute": 5}));
    t.import_ok("z.db", &[t.write("test.zone", ZONE).to_str().unwrap()]);
    // Read-only without --allow-analysis: reads answer, writes are refused.
    let s = serve(&t, "z.db", &[]);
    assert_eq!(get(&s.base, "analysis").0, 200);
    let (status, v) = call(&s.base, "POST", "analysis?fqdn=a.test", None, None);
    assert_eq!((status, api_error(&v)), (403, "analysis_not_allowed"));
    assert_eq!(call(&s.base, "DELETE", "analysis", None, None).0, 403);
    drop(s);
    // Beyond loopback, --allow-analysis without a token does not start.
    let out = t.run(&["--db", "z.db", "serve", "--listen", "0.0.0.0:0", "--allow-analysis"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("zonalizer.token_file"));
    // A token file others can read is refused too.
    let token = "s3cret-token-0123456789";
    let file = t.write("token", token.as_bytes());
    crate::env::set_mode(&file, 0o644);
    quiet_config(&t, serde_json::json!({"zonalizer.writes_per_minute": 5, "zonalizer.token_file": file}));
    let out = t.run(&["--db", "z.db", "serve", "--listen", "127.0.0.1:0", "--allow-analysis"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&out.stderr).contains(token), "the token is never printed");
    crate::env::set_mode(&file, 0o600);
    // With the token: a write without it or with a bad one is 401; then the rate's 429.
    let s = serve(&t, "z.db", &["--allow-analysis"]);
    let (status, v) = call(&s.base, "DELETE", "analysis/x", None, None);
    assert_eq!((status, api_error(&v)), (401, "unauthorized"));
    let (status, _) = call(&s.base, "DELETE", "analysis/x", None, Some("s3cret-token-0123456788"));
    assert_eq!(status, 401);
    let (status, v) = call(&s.base, "DELETE", "analysis/x", None, Some(token));
    assert_eq!((status, api_error(&v)), (404, "id_not_found"), "the token lets the write through");
    // Five writes a minute: the flood past them gets 429 with Retry-After, token or not.
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(call(&s.base, "DELETE", "analysis/x", None, Some(token)).0);
    }
    assert_eq!(statuses, [404, 404, 429, 429, 429]);
    let (status, v) = call(&s.base, "POST", "analysis?fqdn=a.test", None, Some(token));
    assert_eq!((status, api_error(&v)), (429, "rate_limited"));
    assert_eq!(get(&s.base, "analysis").0, 200, "reads are not rate-limited");
}

#[test]
fn bad_input_gets_the_texts_error_objects() {
    let t = TestEnv::new();
    quiet_config(
        &t,
        serde_json::json!({
            "zonalizer.allow_meta_data": 1,
            "zonalizer.max_meta_data_entry_size": 16,
            "zonalizer.max_undelegated_ns": 2,
            "zonalizer.allow_ipv6": 0,
        }),
    );
    t.import_ok("z.db", &[t.write("test.zone", ZONE).to_str().unwrap()]);
    let s = serve(&t, "z.db", &["--allow-analysis"]);
    let b = s.base.as_str();
    let e = |(status, v): (u16, Value)| (status, api_error(&v).to_string());
    let want = |status: u16, code: &str| (status, code.to_string());
    assert_eq!(e(get(b, "analysis?limit=-1")), want(400, "invalid_limit"));
    assert_eq!(e(get(b, "analysis?limit=abc")), want(400, "invalid_limit"));
    assert_eq!(e(get(b, "analysis?after=bogus")), want(400, "invalid_after"));
    assert_eq!(e(get(b, "analysis?before=%2F%2F")), want(400, "invalid_before"));
    assert_eq!(e(get(b, "analysis?sort=nonsense")), want(400, "invalid_sort_field"));
    assert_eq!(e(get(b, "analysis?search=bad..name")), want(400, "invalid_fqdn"));
    assert_eq!(e(get(b, "analysis?lang=xx")), want(415, "invalid_lang"));
    assert_eq!(e(get(b, "policy/nonesuch")), want(404, "policy_not_found"));
    assert_eq!(e(get(b, "analysis/no-such-id")), want(404, "id_not_found"));
    let post = |body: Value| e(call(b, "POST", "analysis", Some(&body), None));
    assert_eq!(post(serde_json::json!({"fqdn": "a.test", "policy": "nonesuch"})), want(400, "policy_not_found"));
    assert_eq!(post(serde_json::json!({"fqdn": "not a name"})), want(400, "invalid_fqdn"));
    assert_eq!(post(serde_json::json!({})), want(400, "invalid_fqdn"));
    let three = serde_json::json!([{"fqdn": "ns1.a.test", "ip": "192.0.2.1"}, {"fqdn": "ns2.a.test", "ip": "192.0.2.2"}, {"fqdn": "ns3.a.test", "ip": "192.0.2.3"}]);
    assert_eq!(post(serde_json::json!({"fqdn": "a.test", "ns": three})), want(400, "invalid_ns"));
    assert_eq!(post(serde_json::json!({"fqdn": "a.test", "ns": [{"fqdn": "ns1.a.test", "ip": "not-an-ip"}]})), want(400, "invalid_ns"));
    let ds = serde_json::json!([{"keytag": "1", "algorithm": "13", "type": "2", "digest": "zz"}]);
    assert_eq!(
        post(serde_json::json!({"fqdn": "a.test", "ns": [{"fqdn": "ns1.a.test", "ip": "192.0.2.1"}], "ds": ds})),
        want(400, "invalid_ds")
    );
    let big = serde_json::json!([{"key": "ticket", "value": "this value is longer than sixteen"}]);
    assert_eq!(post(serde_json::json!({"fqdn": "a.test", "meta_data": big})), want(400, "invalid_meta_data"));
    assert_eq!(post(serde_json::json!({"fqdn": "a.test", "ipv6": 1})), want(400, "ipv6_not_allowed"));
    assert_eq!(post(serde_json::json!({"fqdn": "a.test", "ipv4": 0, "ipv6": 0})), want(400, "no_ip_protocol"));
    assert_eq!(e(get_raw(b, "/zonalizer/2/version")), want(404, "invalid_api_version"));
    // Nothing was queued by any of it.
    let (_, st) = get(b, "status");
    assert_eq!(st["analysis"]["ongoing"], 0, "{st}");
}

fn get_raw(base: &str, path: &str) -> (u16, Value) {
    let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
    let resp = agent.get(&format!("{base}{path}")).call().unwrap();
    let status = resp.status().as_u16();
    (status, serde_json::from_str(&resp.into_body().read_to_string().unwrap()).unwrap_or(Value::Null))
}
