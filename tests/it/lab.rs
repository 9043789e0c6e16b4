//! The DNS lab on loopback (`tests/lab/lab.py`): real Knot DNS servers for the live-DNS tests.
//! Needs root (port 53) and `knotd`; CI installs knot and runs as root, so there a missing
//! lab fails instead of skipping.

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
        let have_knot = Command::new("knotd").arg("--version").output().is_ok_and(|o| o.status.success());
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        if !(have_knot && root) {
            assert!(std::env::var("CI").is_err(), "the DNS lab needs knotd and root, and CI must run it");
            use std::io::Write;
            let _ = writeln!(std::io::stderr().lock(), "SKIPPED DNS lab test: needs knotd (Debian knot) and root");
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
    assert_eq!(pids.len(), 3, "root, TLD and provider servers");
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
    assert_eq!(v[0]["domains"], 50, "{v}");
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
    use zonefeed::dns::{ask, parse_name, Options};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let opts = Options { allow_private: true, ..Options::default() };
    let e = rt.block_on(ask(
        format!("{addr}:53").parse().unwrap(),
        &parse_name(zone).unwrap(),
        hickory_proto::rr::RecordType::SOA,
        &opts,
        false,
    ));
    e.answer.is_ok_and(|m| m.metadata.authoritative && m.metadata.response_code == hickory_proto::op::ResponseCode::NoError)
}

/// The engine's one question against the lab: an authoritative answer over UDP and over TCP;
/// the lab's loopback addresses refused without --allow-private (the guard runs before any
/// socket is opened); a dead address an error within its timeout; a name with a blank refused.
#[test]
fn the_engine_asks_the_lab_over_udp_and_tcp_and_refuses_private_addresses_unless_allowed() {
    use zonefeed::dns::{ask, parse_name, DnsError, Options, Transport};
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
        let e = rt.block_on(ask(server, &name, hickory_proto::rr::RecordType::SOA, &allowed, tcp));
        let m = e.answer.unwrap_or_else(|err| panic!("tcp={tcp}: {err}"));
        assert!(m.metadata.authoritative, "tcp={tcp}");
        assert_eq!(m.answers.len(), 1, "tcp={tcp}: {m:?}");
        assert_eq!(e.transport, if tcp { Transport::Tcp } else { Transport::Udp });
    }
    // Without --allow-private the lab's address is refused, naming it and why.
    let e = rt.block_on(ask(server, &name, hickory_proto::rr::RecordType::SOA, &Options::default(), false));
    let err = e.answer.unwrap_err();
    assert!(matches!(err, DnsError::Refused { .. }), "{err}");
    assert!(err.to_string().contains("127.53.1.1: not asked: a loopback address"), "{err}");
    // Nothing listens on 127.53.9.9: a clear error, in about the timeout at most.
    let dead = rt.block_on(ask("127.53.9.9:53".parse().unwrap(), &name, hickory_proto::rr::RecordType::SOA, &allowed, false));
    assert!(dead.answer.is_err());
    assert!(dead.elapsed < std::time::Duration::from_secs(2), "{:?}", dead.elapsed);
    assert!(parse_name("a b.lab").is_err());
}
