//! The DNS lab on loopback (`tests/lab/lab.py`): real DNS servers (Knot, unbound and a small
//! misbehaving one) for the live-DNS tests, and `analyze` against it, checked against
//! Zonemaster's own `zonemaster-cli`. Needs root (port 53), `knotd` and `unbound`, and
//! `zonemaster-cli` for the agreement test; CI installs them and runs as root, so there a
//! missing lab fails instead of skipping.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::env::TestEnv;

/// A running lab, stopped on drop. Labs take the same addresses, so one runs at a time: the
/// guard holds [`ONE_LAB`] until the lab is down.
pub struct Lab(PathBuf, #[allow(dead_code)] std::sync::MutexGuard<'static, ()>);

static ONE_LAB: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Lab {
    /// None (after saying so loudly) where the lab cannot run; under CI that fails.
    pub fn up(dir: &Path, children: u32) -> Option<Lab> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lab/lab.py");
        let have = |cmd: &str, arg: &str| Command::new(cmd).arg(arg).output().is_ok_and(|o| o.status.success());
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        if !(have("knotd", "--version") && have("unbound", "-V") && root) {
            assert!(std::env::var("CI").is_err(), "the DNS lab needs knotd, unbound and root, and CI must run it");
            skipped("needs knotd (Debian knot), unbound and root");
            return None;
        }
        let one = ONE_LAB.lock().unwrap_or_else(|e| e.into_inner());
        let out = Command::new("python3").arg(&script).arg("up").arg(dir).args(["--children", &children.to_string()]).output().unwrap();
        assert!(out.status.success(), "lab up: {}", String::from_utf8_lossy(&out.stderr));
        Some(Lab(dir.to_path_buf(), one))
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// The pids of the lab's servers.
    fn pids(&self) -> Vec<i32> {
        let text = std::fs::read_to_string(self.0.join("servers.json")).unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        v.as_array().into_iter().flatten().filter_map(|s| s["pid"].as_i64()).map(|p| p as i32).collect()
    }
}

fn skipped(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED DNS lab test: {why}");
}

impl Drop for Lab {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lab/lab.py");
        let _ = Command::new("python3").arg(script).arg("down").arg(&self.0).status();
    }
}

#[test]
fn the_lab_answers_its_tld_zones_import_and_down_stops_every_server() {
    let t = TestEnv::new();
    let Some(lab) = Lab::up(&t.path("lab"), 50) else { return };
    let pids = lab.pids();
    assert_eq!(pids.len(), 7, "root, TLD, provider, alt, recursor, noedns and notcp servers");
    // The TLD zone a server serves is a file zonefeed imports like a CZDS one.
    let db = t.path("z.db");
    let db = db.to_str().unwrap();
    t.import_ok(db, &[lab.path("zones/lab.zone").to_str().unwrap()]);
    let out = t.run(&["--db", db, "--format", "json", "domain", "c7.lab"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ns1.dns.zf") && text.contains("ns2.dns.zf"), "{text}");
    let stats = t.run(&["--db", db, "--format", "json", "stats", "lab"]);
    let v: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    // The healthy children, the faulty ones and signed.lab.
    assert_eq!(v[0]["domains"], 50 + FAULTS.len() + 1, "{v}");
    // The servers answer on loopback, as the hints say: a SOA query to each role.
    let hints = std::fs::read_to_string(lab.path("hints")).unwrap();
    assert!(hints.contains("127.53.0.1"), "{hints}");
    for (addr, zone) in
        [("127.53.0.1", "."), ("127.53.0.2", "lab"), ("127.53.0.3", "zf"), ("127.53.1.1", "c7.lab"), ("127.53.1.2", "c49.lab")]
    {
        assert!(soa_answered(addr, zone), "{addr} does not answer for {zone}");
    }
    // Down stops what up started.
    drop(lab);
    for p in pids {
        // SAFETY: signal 0 only asks whether the process exists.
        assert_ne!(unsafe { libc::kill(p, 0) }, 0, "server {p} still runs");
    }
}

/// Whether `addr`:53 answers a SOA query for `zone` with NOERROR and authority (AA), asked
/// by zonefeed's engine.
fn soa_answered(addr: &str, zone: &str) -> bool {
    use zonefeed::dns::{ask, parse_name, Flags, Options};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let opts = Options { allow_private: true, ..Options::default() };
    let e = rt.block_on(ask(
        format!("{addr}:53").parse().unwrap(),
        &parse_name(zone).unwrap(),
        hickory_proto::rr::RecordType::SOA,
        &opts,
        Flags::default(),
    ));
    e.answer.is_ok_and(|m| m.metadata.authoritative && m.metadata.response_code == hickory_proto::op::ResponseCode::NoError)
}

/// The engine's one question against the lab: an authoritative answer over UDP and over TCP;
/// the lab's loopback addresses refused without --allow-private (the guard runs before any
/// socket is opened); a dead address an error within its timeout; a name with a blank refused.
#[test]
fn the_engine_asks_the_lab_over_udp_and_tcp_and_refuses_private_addresses_unless_allowed() {
    use zonefeed::dns::{ask, parse_name, DnsError, Flags, Options, Transport};
    let t = TestEnv::new();
    let Some(lab) = Lab::up(&t.path("lab"), 10) else { return };
    // The lab's hints file is what --root-hints reads.
    let hints = zonefeed::dns::hints::load(&lab.path("hints")).unwrap();
    assert_eq!(hints.servers, [("root.zf".to_string(), vec!["127.53.0.1".parse::<std::net::IpAddr>().unwrap()])]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let name = parse_name("c7.lab").unwrap();
    let allowed = Options { allow_private: true, timeout: std::time::Duration::from_millis(300), ..Options::default() };
    let server = "127.53.1.1:53".parse().unwrap();
    for tcp in [false, true] {
        let e = rt.block_on(ask(server, &name, hickory_proto::rr::RecordType::SOA, &allowed, Flags { tcp, ..Flags::default() }));
        let m = e.answer.unwrap_or_else(|err| panic!("tcp={tcp}: {err}"));
        assert!(m.metadata.authoritative, "tcp={tcp}");
        assert_eq!(m.answers.len(), 1, "tcp={tcp}: {m:?}");
        assert_eq!(e.transport, if tcp { Transport::Tcp } else { Transport::Udp });
    }
    // Without --allow-private the lab's address is refused, naming it and why.
    let e = rt.block_on(ask(server, &name, hickory_proto::rr::RecordType::SOA, &Options::default(), Flags::default()));
    let err = e.answer.unwrap_err();
    assert!(matches!(err, DnsError::Refused { .. }), "{err}");
    assert!(err.to_string().contains("127.53.1.1: not asked: a loopback address"), "{err}");
    // Nothing listens on 127.53.9.9: a clear error, in about the timeout at most.
    let dead = rt.block_on(ask("127.53.9.9:53".parse().unwrap(), &name, hickory_proto::rr::RecordType::SOA, &allowed, Flags::default()));
    assert!(dead.answer.is_err());
    assert!(dead.elapsed < std::time::Duration::from_secs(2), "{:?}", dead.elapsed);
    assert!(parse_name("a b.lab").is_err());
}

/// Each faulty child of the lab, and a finding it must raise: (test case, tag, level).
const FAULTS: [(&str, &str, &str, &str); 19] = [
    ("lame.lab", "BASIC02", "NS_FAILED", "ERROR"),
    ("dead.lab", "CONNECTIVITY01", "CN01_NO_RESPONSE_UDP", "WARNING"),
    ("serial.lab", "CONSISTENCY01", "MULTIPLE_SOA_SERIALS", "WARNING"),
    ("nsset.lab", "DELEGATION07", "EXTRA_NAME_CHILD", "NOTICE"),
    ("glue.lab", "CONSISTENCY05", "IN_BAILIWICK_ADDR_MISMATCH", "ERROR"),
    ("cname.lab", "DELEGATION05", "NS_IS_CNAME", "ERROR"),
    ("onens.lab", "DELEGATION01", "NOT_ENOUGH_NS_DEL", "ERROR"),
    ("sameip.lab", "DELEGATION02", "SAME_IP_ADDRESS", "ERROR"),
    ("recursor.lab", "NAMESERVER01", "IS_A_RECURSOR", "ERROR"),
    ("axfr.lab", "NAMESERVER03", "AXFR_AVAILABLE", "NOTICE"),
    ("noedns.lab", "NAMESERVER02", "BREAKS_ON_EDNS", "ERROR"),
    ("notcp.lab", "CONNECTIVITY02", "CN02_NO_RESPONSE_TCP", "WARNING"),
    ("timers.lab", "ZONE05", "EXPIRE_LOWER_THAN_REFRESH", "WARNING"),
    ("mname.lab", "ZONE07", "MNAME_HAS_NO_ADDRESS", "WARNING"),
    ("badds.lab", "DNSSEC02", "DS02_NO_MATCH_DS_DNSKEY", "ERROR"),
    ("nods.lab", "DNSSEC07", "DNSKEY_BUT_NOT_DS", "WARNING"),
    ("expired.lab", "DNSSEC08", "DS08_DNSKEY_RRSIG_EXPIRED", "ERROR"),
    ("nsec3.lab", "DNSSEC03", "MANY_ITERATIONS", "NOTICE"),
    ("dsonly.lab", "DNSSEC07", "DS_BUT_NOT_DNSKEY", "ERROR"),
];

/// Where zonefeed and Zonemaster 4.6.2 differ on purpose (docs/ANALYZE.md, "Where we differ
/// from Zonemaster"): (domain, test case, tag, level, reported by zonefeed rather than by
/// Zonemaster).
const DIFFERENCES: [(&str, &str, &str, &str, bool); 2] = [
    // NAMESERVER02: a NOERROR answer to an EDNS question must carry an OPT record (RFC 6891
    // §7, and the test case's own step 4.5); Zonemaster 4.6.2 counts one without as support.
    ("notcp.lab", "NAMESERVER02", "EDNS_RESPONSE_WITHOUT_EDNS", "ERROR", true),
    // ZONE09: odd1.dns.zf drops EDNS questions only. Zonemaster, once an EDNS question timed
    // out, sends that server no plain UDP question again and reports that the MX question got
    // no response; zonefeed asks it, and it answers.
    ("noedns.lab", "ZONE09", "Z09_NO_RESPONSE_MX_QUERY", "WARNING", false),
];

type Found = std::collections::BTreeSet<(String, String, String)>;

/// `zonefeed analyze` on the lab: per domain, (test case, tag, level) of every finding shown.
fn analyze(t: &TestEnv, lab: &Lab, domains: &[&str], extra: &[&str]) -> Vec<(String, Found)> {
    let hints = lab.path("hints");
    let mut args = vec!["--format", "json", "analyze", "--root-hints", hints.to_str().unwrap(), "--allow-private", "--no-ipv6"];
    if !extra.contains(&"--qps") {
        args.extend_from_slice(&["--qps", "2000", "--in-flight", "32", "--timeout", "1"]);
    }
    args.extend_from_slice(extra);
    args.extend_from_slice(domains);
    let out = t.run(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let found = r["findings"].as_array().unwrap().iter().map(triple).collect();
            (r["domain"].as_str().unwrap().to_string(), found)
        })
        .collect()
}

fn triple(f: &serde_json::Value) -> (String, String, String) {
    let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
    (s("testcase"), s("tag"), s("level"))
}

/// The agreement test (issue 30): on every lab domain, the findings at NOTICE and above of the
/// test cases zonefeed runs are the ones `zonemaster-cli` reports, but for the differences
/// listed in [`DIFFERENCES`].
#[test]
fn analyze_agrees_with_zonemaster_on_every_lab_domain() {
    let have_zm = Command::new("zonemaster-cli").arg("--version").output().is_ok_and(|o| o.status.success());
    if !have_zm {
        assert!(std::env::var("CI").is_err(), "CI must run the agreement test: install zonemaster-cli");
        skipped("the agreement test needs zonemaster-cli (Debian zonemaster-cli)");
        return;
    }
    let t = TestEnv::new();
    let Some(lab) = Lab::up(&t.path("lab"), 3) else { return };
    let mut domains = vec!["c0.lab", "c1.lab", "c2.lab", "dns.zf", "signed.lab"];
    domains.extend(FAULTS.iter().map(|f| f.0));
    let ours = analyze(&t, &lab, &domains, &[]);
    let cases: Vec<&str> = zonefeed::analyze::CASES.iter().map(|(_, c)| *c).collect();
    let hints = lab.path("hints");
    let theirs: Vec<Found> = std::thread::scope(|s| {
        let runs: Vec<_> = domains
            .iter()
            .map(|d| {
                let hints = &hints;
                s.spawn(move || {
                    let out = Command::new("zonemaster-cli")
                        .arg("--hints")
                        .arg(hints)
                        .args(["--no-ipv6", "--level", "NOTICE", "--show-testcase", "--json", "--no-progress", d])
                        .output()
                        .unwrap();
                    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
                        .unwrap_or_else(|e| panic!("zonemaster-cli {d}: {e}: {}", String::from_utf8_lossy(&out.stderr)));
                    v.as_array().unwrap().iter().map(triple).collect::<Found>()
                })
            })
            .collect();
        runs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut disagreements = Vec::new();
    for ((domain, mut found), theirs) in ours.into_iter().zip(theirs) {
        // The cases zonefeed runs, and DNSSEC's NOT_SIGNED, which Zonemaster says outside them.
        let ours_too = |tc: &str, tag: &str| cases.contains(&tc) || (tc == "UNSPECIFIED" && tag == "NOT_SIGNED");
        let mut theirs: Found = theirs.into_iter().filter(|(tc, tag, _)| ours_too(tc, tag)).collect();
        for (d, tc, tag, level, ours_only) in DIFFERENCES {
            if d == domain {
                let f = (tc.to_string(), tag.to_string(), level.to_string());
                let (has, lacks) = if ours_only { (&mut found, &mut theirs) } else { (&mut theirs, &mut found) };
                let listed = has.remove(&f) && !lacks.contains(&f);
                assert!(listed, "{domain}: the listed difference {f:?} is gone: update DIFFERENCES and docs/ANALYZE.md");
            }
        }
        if found != theirs {
            disagreements.push(format!(
                "{domain}:\n  zonemaster only: {:?}\n  zonefeed only: {:?}",
                theirs.difference(&found).collect::<Vec<_>>(),
                found.difference(&theirs).collect::<Vec<_>>()
            ));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

/// Each fault of the lab raises its tag, and a healthy child raises no warning.
#[test]
fn each_lab_fault_raises_its_tag() {
    let t = TestEnv::new();
    let Some(lab) = Lab::up(&t.path("lab"), 2) else { return };
    let mut domains = vec!["c0.lab", "signed.lab"];
    domains.extend(FAULTS.iter().map(|f| f.0));
    let found = analyze(&t, &lab, &domains, &[]);
    for (domain, healthy) in &found[..2] {
        assert!(healthy.iter().all(|(_, _, level)| level == "NOTICE"), "{domain}: {healthy:?}");
    }
    let signed = &found[1].1;
    assert!(!signed.iter().any(|(tc, _, _)| tc.starts_with("DNSSEC")), "signed.lab is signed well: {signed:?}");
    for ((domain, tc, tag, level), (d, f)) in FAULTS.iter().zip(&found[2..]) {
        assert_eq!(domain, d);
        let want = (tc.to_string(), tag.to_string(), level.to_string());
        assert!(f.contains(&want), "{domain}: no {want:?} in {f:?}");
    }
}

/// `--ns` replaces the parent's delegation (an undelegated test): a server that does not serve
/// the zone is found lame, and the names differ from the child's.
#[test]
fn undelegated_ns_replaces_the_parent_and_fail_on_sets_the_exit_code() {
    let t = TestEnv::new();
    let Some(lab) = Lab::up(&t.path("lab"), 2) else { return };
    let ns = ["--ns", "ns1.dns.zf", "--ns", "ns3.dns.zf/127.53.2.1"];
    let (_, found) = analyze(&t, &lab, &["c0.lab"], &ns).remove(0);
    for want in
        [("BASIC02", "NS_FAILED", "ERROR"), ("DELEGATION07", "EXTRA_NAME_PARENT", "ERROR"), ("DELEGATION07", "EXTRA_NAME_CHILD", "NOTICE")]
    {
        let want = (want.0.to_string(), want.1.to_string(), want.2.to_string());
        assert!(found.contains(&want), "no {want:?} in {found:?}");
    }
    // --ds gives the DS: the right one is DNSKEY_AND_DS (INFO, so nothing DNSSEC shows), a
    // wrong digest is found.
    let lab_zone = std::fs::read_to_string(lab.path("zones/lab.zone")).unwrap();
    let ds_line = lab_zone.lines().find(|l| l.starts_with("signed.lab.") && l.contains(" DS ")).unwrap();
    let f: Vec<&str> = ds_line.split_whitespace().collect();
    let (head, digest) = (f[f.len() - 4..f.len() - 1].join(","), f[f.len() - 1]);
    let good = format!("{head},{digest}");
    let bad = format!("{head},{}", "00".repeat(digest.len() / 2));
    let both = ["--ns", "ns1.dns.zf", "--ns", "ns2.dns.zf"];
    let (_, found) = analyze(&t, &lab, &["signed.lab"], &[&both[..], &["--ds", &good]].concat()).remove(0);
    assert!(!found.iter().any(|(tc, _, _)| tc.starts_with("DNSSEC")), "{found:?}");
    let (_, found) = analyze(&t, &lab, &["signed.lab"], &[&both[..], &["--ds", &bad]].concat()).remove(0);
    assert!(found.contains(&("DNSSEC02".into(), "DS02_NO_MATCH_DS_DNSKEY".into(), "ERROR".into())), "{found:?}");
    // --fail-on: exit 1 at or above the level, 0 below it; --test picks the cases; --trace
    // gives the questions asked.
    let hints = lab.path("hints");
    let base = ["analyze", "--root-hints", hints.to_str().unwrap(), "--allow-private", "--no-ipv6", "--qps", "500"];
    let run = |extra: &[&str]| t.run(&[&base[..], extra].concat());
    assert_eq!(run(&["--fail-on", "error", "onens.lab"]).status.code(), Some(1));
    assert_eq!(run(&["--fail-on", "critical", "onens.lab"]).status.code(), Some(0));
    let out = run(&["--format", "jsonl", "--test", "ZONE/ZONE02", "--trace", "c1.lab"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tags: Vec<&str> = v["findings"].as_array().unwrap().iter().map(|f| f["tag"].as_str().unwrap()).collect();
    assert_eq!(tags, ["REFRESH_MINIMUM_VALUE_LOWER"], "{v}");
    let trace = v["trace"].as_array().unwrap();
    assert!(trace.iter().any(|l| l["server"] == "127.53.0.1:53" && l["question"] == "c1.lab. SOA"), "{v}");
}

/// Without --allow-private nothing is sent to the lab's loopback addresses: the report names
/// each one skipped and why, and the server's own query log stays empty.
#[test]
fn without_allow_private_no_question_reaches_a_loopback_server() {
    let t = TestEnv::new();
    let Some(lab) = Lab::up(&t.path("lab"), 1) else { return };
    // The lab's readiness probe asked once; nothing may follow it.
    let log_path = lab.path("run/noedns/server.log");
    let probe = std::fs::read_to_string(&log_path).unwrap();
    // The lab's hints: the IANA root servers are public, and tests ask nothing off loopback.
    let hints = lab.path("hints");
    let base = ["--format", "json", "analyze", "--root-hints", hints.to_str().unwrap(), "--timeout", "0.3", "--no-ipv6"];
    let out = t.run(&[&base[..], &["--ns", "odd1.dns.zf/127.53.4.1", "noedns.lab"]].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not asked") && stderr.contains("127.53.4.1"), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let not_asked = v[0]["not_asked"].to_string();
    assert!(not_asked.contains("127.53.4.1: a loopback address (127.0.0.0/8)"), "{v}");
    assert!(not_asked.contains("127.53.0.1: a loopback address"), "the root hint is refused too: {v}");
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert_eq!(log, probe, "the server was asked");
    // With it, the same run reaches the server (the log is the server's).
    let out = t.run(&[&base[..], &["--allow-private", "--ns", "odd1.dns.zf/127.53.4.1", "noedns.lab"]].concat());
    assert!(out.status.success());
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.len() > probe.len() && log[probe.len()..].contains("query udp noedns.lab"), "{log}");
}

/// Bad input: exit 2 and a message that names what is wrong; no lab needed.
#[test]
fn analyze_refuses_bad_input_with_exit_2() {
    let t = TestEnv::new();
    let garbage = t.path("hints");
    std::fs::write(&garbage, ". 3600 NS root.zf.\nthis is not a record\n").unwrap();
    let cases: [(&[&str], &str); 9] = [
        (&["analyze", "a b.lab"], "no blanks"),
        (&["analyze", "--ns", "ns1.example/999.1.1.1", "example.lab"], "`999.1.1.1` is not an IP address"),
        (&["analyze", "--ns", "ns 1.example", "example.lab"], "--ns `ns 1.example`"),
        (&["analyze", "--root-hints", garbage.to_str().unwrap(), "example.lab"], ":2: "),
        (&["analyze", "--test", "NOPE", "example.lab"], "--test `NOPE`"),
        (&["analyze", "--ns", "ns1.example", "--ds", "1,13,2,zz", "example.lab"], "the digest `zz` is not hexadecimal"),
        (&["analyze", "--ns", "ns1.example", "--ds", "1,13,2", "example.lab"], "four fields"),
        (&["analyze", "--ds", "1,13,2,ab", "example.lab"], "--ns"),
        (&["analyze", "--tld", "lab", "--ns", "ns1.example"], "cannot be used with"),
    ];
    for (args, want) in cases {
        let out = t.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
}

/// Regression: 64 questions in flight per server on a freshly started lab sent 64 TCP
/// connections at once to one knotd; lost SYNs outlived a one-second timeout and healthy
/// children got CONNECTIVITY02 warnings. TCP connections per server are capped apart.
#[test]
fn many_domains_at_once_find_nothing_wrong_with_healthy_children() {
    let t = TestEnv::new();
    let Some(lab) = Lab::up(&t.path("lab"), 200) else { return };
    let domains: Vec<String> = (0..200).map(|i| format!("c{i}.lab")).collect();
    let domains: Vec<&str> = domains.iter().map(String::as_str).collect();
    let fast = ["--qps", "100000", "--in-flight", "64", "--timeout", "1"];
    for (domain, found) in analyze(&t, &lab, &domains, &fast) {
        assert!(found.iter().all(|(_, _, level)| level == "NOTICE"), "{domain}: {found:?}");
    }
}

/// With the TLD zones imported, resolution starts at the zone's own servers: the root is not
/// asked for the domain, and the findings are the same as from the root.
#[test]
fn imported_zones_let_analysis_skip_the_root() {
    let t = TestEnv::new();
    let Some(lab) = Lab::up(&t.path("lab"), 3) else { return };
    let db = t.path("z.db");
    let db = db.to_str().unwrap();
    t.import_ok(db, &[lab.path("zones/lab.zone").to_str().unwrap(), lab.path("zones/zf.zone").to_str().unwrap()]);
    let hints = lab.path("hints");
    let run = |extra: &[&str]| {
        let base = ["--format", "json", "analyze", "--root-hints", hints.to_str().unwrap(), "--allow-private", "--no-ipv6", "--trace"];
        let out = t.run(&[extra, &base[..], &["c1.lab", "glue.lab"]].concat());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let from_root = run(&[]);
    let from_db = run(&["--db", db]);
    let asked_root = |v: &serde_json::Value| {
        let q = format!("{}. SOA", v["domain"].as_str().unwrap());
        v["trace"].as_array().unwrap().iter().any(|l| l["server"] == "127.53.0.1:53" && l["question"] == q.as_str())
    };
    let (from_root, from_db) = (from_root.as_array().unwrap(), from_db.as_array().unwrap());
    for (a, b) in from_root.iter().zip(from_db) {
        assert_eq!(a["findings"], b["findings"], "{}", a["domain"]);
        assert!(!asked_root(b), "with lab imported the walk starts at its servers: {b}");
    }
    // The two domains are analysed at once and share what the walk learns: the one that
    // starts first asks the root, the other may take lab's servers from the cache.
    assert!(from_root.iter().any(asked_root), "without the database the walk starts at the root: {from_root:?}");
}

/// A server that does not answer costs its timeout once a run, not once per domain: after
/// odd1's silence to the first EDNS question, the second domain's is not sent (its query log
/// holds one EDNS question per try, for the two domains together).
#[test]
fn a_silent_server_is_asked_once_per_run_not_once_per_domain() {
    let t = TestEnv::new();
    let Some(lab) = Lab::up(&t.path("lab"), 2) else { return };
    let log_path = lab.path("run/noedns/server.log");
    let before = std::fs::read_to_string(&log_path).unwrap().len();
    // One domain at a time, so that the second comes after the first one's timeout.
    let ns = ["--ns", "ns1.dns.zf", "--ns", "odd1.dns.zf/127.53.4.1", "--test", "NAMESERVER/NAMESERVER02", "--concurrency", "1"];
    let found = analyze(&t, &lab, &["c0.lab", "c1.lab"], &ns);
    // Both domains report it; the server saw the question for one of them only, once a try
    // (--timeout 1, two tries).
    for (domain, f) in &found {
        assert!(f.iter().any(|(_, tag, _)| tag == "BREAKS_ON_EDNS" || tag == "NO_RESPONSE"), "{domain}: {f:?}");
    }
    let log = std::fs::read_to_string(&log_path).unwrap();
    let edns = log[before..].lines().filter(|l| l.starts_with("query udp edns")).count();
    assert_eq!(edns, 2, "{}", &log[before..]);
}

/// `--tld`: the delegations the database picks. The newest version's added and modified ones
/// by default (a daily run), those changed since a date, or all; `--limit` caps them.
#[test]
fn tld_picks_the_days_new_and_changed_delegations_from_the_database() {
    let t = TestEnv::new();
    let Some(lab) = Lab::up(&t.path("lab"), 3) else { return };
    let db = t.path("z.db");
    let db = db.to_str().unwrap();
    let day1 = lab.path("zones/lab.zone");
    t.import_ok(db, &["--date", "2026-12-01", day1.to_str().unwrap()]);
    // A first version has nothing to differ from: all its delegations are the day's new ones.
    let first = t.run(&[
        "--db",
        db,
        "--format",
        "json",
        "analyze",
        "--tld",
        "lab",
        "--root-hints",
        lab.path("hints").to_str().unwrap(),
        "--allow-private",
        "--test",
        "ZONE/ZONE02",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 3 + FAULTS.len() + 1, "{v}");
    // Day 2: c1.lab gains a name server, c2.lab goes, new.lab comes.
    let text = std::fs::read_to_string(&day1)
        .unwrap()
        .replace("2026120701", "2026120801")
        .replace("c2 IN NS ns1.dns.zf.\nc2 IN NS ns2.dns.zf.\n", "");
    let text = format!("{text}c1 IN NS ns3.dns.zf.\nnew IN NS ns1.dns.zf.\nnew IN NS ns2.dns.zf.\n");
    let day2 = t.path("lab-day2.zone");
    std::fs::write(&day2, text).unwrap();
    t.import_ok(db, &["--date", "2026-12-02", "--max-removed", "100", day2.to_str().unwrap()]);
    let hints = lab.path("hints");
    let picked = |extra: &[&str]| -> Vec<String> {
        let base = [
            "--db",
            db,
            "--format",
            "json",
            "analyze",
            "--root-hints",
            hints.to_str().unwrap(),
            "--allow-private",
            "--tld",
            "lab",
            "--qps",
            "1000",
            "--test",
            "ZONE/ZONE02",
        ];
        let out = t.run(&[&base[..], extra].concat());
        assert!(out.status.success(), "{extra:?}: {}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v.as_array().unwrap().iter().map(|r| r["domain"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(picked(&[]), ["c1.lab", "new.lab"]);
    assert_eq!(picked(&["--changed-since", "2026-12-02"]), ["c1.lab", "new.lab"]);
    // Everything day 1 added, still delegated, in name order; c2.lab is gone.
    let since_day1 = picked(&["--changed-since", "2026-12-01"]);
    assert!(since_day1.contains(&"c0.lab".to_string()) && !since_day1.contains(&"c2.lab".to_string()), "{since_day1:?}");
    assert_eq!(picked(&["--all", "--limit", "2"]), ["axfr.lab", "badds.lab"]);
    assert_eq!(picked(&["--changed-since", "2030-01-01"]), Vec::<String>::new());
    // A zone the database lacks is an error, not an empty run.
    let out = t.run(&["--db", db, "analyze", "--tld", "nope"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The run's answer cache keeps only what domains share (server addresses, other zones):
/// each domain's own questions go with its analysis. Analysing 20 children leaves the same
/// shared cache as analysing 2.
#[test]
fn the_runs_cache_does_not_grow_with_the_number_of_domains() {
    use zonefeed::analyze::{analyze, Selection};
    use zonefeed::dns::client::{Client, Limits};
    use zonefeed::dns::resolve::Resolver;
    use zonefeed::dns::{parse_name, Options};
    let t = TestEnv::new();
    let Some(lab) = Lab::up(&t.path("lab"), 20) else { return };
    let hints = zonefeed::dns::hints::load(&lab.path("hints")).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let cached_after = |n: usize| {
        let opts = Options { allow_private: true, ..Options::default() };
        let r = Resolver::new(std::sync::Arc::new(Client::new(opts, Limits { qps: 10_000, in_flight: 16 })), &hints, true, false);
        for i in 0..n {
            let a = rt.block_on(analyze(&r, &parse_name(&format!("c{i}.lab")).unwrap(), None, &Selection::all()));
            assert!(a.findings.iter().any(|f| f.tag == "HAS_NAMESERVERS"), "c{i}.lab: {:?}", a.findings);
        }
        r.client().cached()
    };
    let (two, twenty) = (cached_after(2), cached_after(20));
    assert!(two > 0);
    assert_eq!(two, twenty, "the shared cache grew with the domains");
}

/// `analyze --tld lab` as cron runs it after each day's import: the flags every run here takes.
fn analyze_tld<'a>(db: &'a str, hints: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let base = ["--db", db, "--format", "jsonl", "analyze", "--tld", "lab", "--root-hints", hints, "--allow-private"];
    [&base[..], extra].concat()
}

#[test]
fn a_daily_run_over_three_days_raises_an_event_for_each_break_and_fix() {
    let t = TestEnv::new();
    let hook = crate::receiver::Receiver::start();
    let endpoint = serde_json::json!({"url": hook.url(), "events": ["delegation_broken", "delegation_fixed"], "allow_private": true});
    t.write_private("config.json", serde_json::json!({"webhooks": [endpoint]}).to_string().as_bytes());
    let Some(lab) = Lab::up(&t.path("lab"), 3) else { return };
    let (db, hints) = (t.path("z.db"), lab.path("hints"));
    let (db, hints) = (db.to_str().unwrap(), hints.to_str().unwrap());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lab/lab.py");
    for day in 0..3u32 {
        if day > 0 {
            let out = Command::new("python3").arg(&script).arg("day").arg(lab.path("")).arg(day.to_string()).output().unwrap();
            assert!(out.status.success(), "lab day {day}: {}", String::from_utf8_lossy(&out.stderr));
        }
        t.import_ok(db, &["--date", &format!("2026-12-0{}", day + 1), lab.path("zones/lab.zone").to_str().unwrap()]);
        let out = t.run(&analyze_tld(db, hints, &["--qps", "1000"]));
        assert!(out.status.success(), "day {day}: {}", String::from_utf8_lossy(&out.stderr));
        let analysed: Vec<serde_json::Value> =
            String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        // Day 0 analyses the whole zone; later days only what the day's import changed.
        let want = if day == 0 { 3 + FAULTS.len() + 1 } else { 2 };
        assert_eq!(analysed.len(), want, "day {day}: {analysed:?}");
    }
    // The events are the breaks and fixes tests/lab/lab.py made (DAYS), on their days, with
    // the tags that broke them; the faulty children broken from day 0 on raise none.
    let out = t.run(&["--db", db, "--format", "jsonl", "changes", "--kind", "delegation_broken"]);
    let mut events = lines(&out.stdout);
    events.extend(lines(&t.run(&["--db", db, "--format", "jsonl", "changes", "--kind", "delegation_fixed"]).stdout));
    let mut got: Vec<(String, String, String)> = events
        .iter()
        .map(|e| (e["at"].as_str().unwrap()[..10].to_string(), e["kind"].as_str().unwrap().into(), e["domain"].as_str().unwrap().into()))
        .collect();
    got.sort();
    let want = [
        ("2026-12-02", "delegation_broken", "c0.lab"),
        ("2026-12-02", "delegation_broken", "c1.lab"),
        ("2026-12-03", "delegation_broken", "c2.lab"),
        ("2026-12-03", "delegation_fixed", "c0.lab"),
    ];
    assert_eq!(got, want.map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())), "{events:?}");
    let tags = |domain: &str, kind: &str, side: &str| -> Vec<String> {
        let e = events.iter().find(|e| e["domain"] == domain && e["kind"] == kind).unwrap();
        e["delegation"][side].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect()
    };
    assert!(tags("c0.lab", "delegation_broken", "tags_added").contains(&"NS_FAILED".to_string()));
    assert!(tags("c0.lab", "delegation_fixed", "tags_removed").contains(&"NS_FAILED".to_string()));
    assert!(tags("c1.lab", "delegation_broken", "tags_added").contains(&"NOT_ENOUGH_NS_DEL".to_string()));
    assert!(tags("c2.lab", "delegation_broken", "tags_added").contains(&"NS_IS_CNAME".to_string()));
    // The same events reach the webhook that asked for them.
    let out = t.run(&["--db", db, "webhooks", "deliver"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut sent: Vec<(String, String)> = hook
        .state()
        .received
        .iter()
        .flat_map(|d| d.body["events"].as_array().cloned().unwrap_or_default())
        .map(|e| (e["kind"].as_str().unwrap().to_string(), e["domain"].as_str().unwrap().to_string()))
        .collect();
    sent.sort();
    let mut want_sent: Vec<(String, String)> = want.iter().map(|(_, k, d)| (k.to_string(), d.to_string())).collect();
    want_sent.sort();
    assert_eq!(sent, want_sent);
    // Who holds a tag now: c0.lab was fixed, lame.lab never was; c2.lab's CNAME is new.
    let holders = |tag: &str| -> Vec<String> {
        let out = t.run(&["--db", db, "--format", "tsv", "search", "--finding", tag, "--tld", "lab"]);
        String::from_utf8_lossy(&out.stdout).lines().map(|l| l.split('\t').next().unwrap().to_string()).collect()
    };
    assert_eq!(holders("NS_FAILED"), ["lame.lab"]);
    assert_eq!(holders("NS_IS_CNAME"), ["c2.lab", "cname.lab"]);
    // The domain page: the latest analysis, and its findings' history with their days.
    let out = t.run(&["--db", db, "--format", "json", "domain", "c0.lab", "--history"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["analysis"]["date"], "2026-12-03");
    assert_eq!(v[0]["analysis"]["worst"], "NOTICE");
    let ns_failed: Vec<(String, String)> = v[0]["analysis_history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["tag"] == "NS_FAILED")
        .map(|c| (c["date"].as_str().unwrap().into(), c["change"].as_str().unwrap().into()))
        .collect();
    assert_eq!(ns_failed, [("2026-12-02".to_string(), "found".to_string()), ("2026-12-03".to_string(), "gone".to_string())]);
    // The API says the same: who holds a tag, how many held each tag per day, the events.
    let server = crate::serve::start(&t, db);
    let (status, v) = crate::serve::get(&format!("{}/v1/findings/NS_IS_CNAME?tld=lab", server.base));
    assert_eq!(status, 200, "{v}");
    let names: Vec<&str> = v["items"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["c2.lab", "cname.lab"]);
    let (_, v) = crate::serve::get(&format!("{}/v1/zones/lab/findings", server.base));
    let per_day = |tag: &str| -> Vec<(String, i64)> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["tag"] == tag)
            .map(|i| (i["date"].as_str().unwrap().to_string(), i["domains"].as_i64().unwrap()))
            .collect()
    };
    // lame.lab all along; c0.lab on day 2 only.
    let day = |d: &str, n: i64| (d.to_string(), n);
    assert_eq!(per_day("NS_FAILED"), [day("2026-12-01", 1), day("2026-12-02", 2), day("2026-12-03", 1)]);
    assert_eq!(per_day("NS_IS_CNAME"), [day("2026-12-01", 1), day("2026-12-02", 1), day("2026-12-03", 2)]);
    let (_, v) = crate::serve::get(&format!("{}/v1/changes?kind=delegation_fixed", server.base));
    let fixed: Vec<&str> = v["items"].as_array().unwrap().iter().map(|e| e["domain"].as_str().unwrap()).collect();
    assert_eq!(fixed, ["c0.lab"], "{v}");
    let (status, _) = crate::serve::get(&format!("{}/v1/findings/bad-tag", server.base));
    assert_eq!(status, 400);
}

fn lines(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn a_run_killed_midway_is_finished_by_the_next_which_analyses_none_twice() {
    let t = TestEnv::new();
    let Some(lab) = Lab::up(&t.path("lab"), 40) else { return };
    let (db, hints) = (t.path("z.db"), lab.path("hints"));
    let (db, hints) = (db.to_str().unwrap(), hints.to_str().unwrap());
    t.import_ok(db, &[lab.path("zones/lab.zone").to_str().unwrap()]);
    let total = 40 + FAULTS.len() + 1;
    // Slow enough to be killed midway: a few questions a second per server.
    let mut child = t.cmd().args(analyze_tld(db, hints, &["--qps", "20", "--concurrency", "4"])).spawn().unwrap();
    let conn = t.db("z.db");
    let kept = |conn: &rusqlite::Connection| -> i64 { conn.query_row("SELECT count(*) FROM analyses", [], |r| r.get(0)).unwrap_or(0) };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while kept(&conn) < 5 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = kept(&conn);
    assert!(before >= 5 && before < total as i64, "killed after {before} of {total}");
    // The next run finishes that run: the rest, and none of the kept again.
    let out = t.run(&analyze_tld(db, hints, &["--qps", "1000"]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("finishing run 1"), "{err}");
    assert_eq!(lines(&out.stdout).len() as i64, total as i64 - before, "{err}");
    let (runs, analyses, domains): (i64, i64, i64) = conn
        .query_row("SELECT (SELECT count(*) FROM analysis_runs), count(*), count(DISTINCT domain) FROM analyses", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!((runs, analyses, domains), (1, total as i64, total as i64));
    let unfinished: i64 = conn.query_row("SELECT count(*) FROM analysis_runs WHERE finished_at IS NULL", [], |r| r.get(0)).unwrap();
    assert_eq!(unfinished, 0);
    // A finished run leaves the next analyze to pick anew.
    let out = t.run(&analyze_tld(db, hints, &["--qps", "1000", "--limit", "2", "--all"]));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("finishing run"));
    assert_eq!(lines(&out.stdout).len(), 2);
}

#[test]
fn sync_with_analyze_after_sync_analyses_each_days_new_and_changed_delegations() {
    let dir = tempfile::tempdir().unwrap();
    let Some(lab) = Lab::up(dir.path(), 3) else { return };
    let s = crate::sync::Setup::with(serde_json::json!({
        "analyze.after_sync": true,
        "dns.root_hints": lab.path("hints"),
        "dns.allow_private": true,
        "dns.qps": 1000,
    }));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lab/lab.py");
    let publish = |day: u64| {
        let text = std::fs::read(lab.path("zones/lab.zone")).unwrap();
        let modified = std::time::SystemTime::now() - std::time::Duration::from_secs(86_400 * (10 - day));
        let mut st = s.czds.state();
        st.zones.insert(
            "lab".into(),
            crate::czds_server::Zone {
                data: crate::env::gzip(&text),
                last_modified: crate::czds_server::http_date(modified),
                status: None,
            },
        );
    };
    publish(0);
    let out = s.sync(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains(&format!("kept {} analyses in run 1 of lab", 3 + FAULTS.len() + 1)), "{err}");
    // Day 1 breaks c0.lab and c1.lab; the sync that imports it analyses those two only.
    let out = Command::new("python3").arg(&script).arg("day").arg(dir.path()).arg("1").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    publish(1);
    let out = s.sync(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("kept 2 analyses in run 2 of lab") && err.contains("2 delegation events"), "{err}");
    let out = s.env.run(&["--db", "s.db", "--format", "tsv", "changes", "--kind", "delegation_broken"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "delegation_broken\tc0.lab\ndelegation_broken\tc1.lab\n");
    // A sync with nothing new imports nothing and analyses nothing.
    let out = s.sync(&[]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("kept"), "{}", String::from_utf8_lossy(&out.stderr));
}
