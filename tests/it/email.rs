//! E-mail alerts against a real SMTP server on loopback (Python's aiosmtpd, tests/it/
//! smtp_server.py): STARTTLS with a certificate of a test CA, AUTH from a credentials file,
//! one message per batch of events, a refused message sent again with the same Message-ID.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

use crate::env::{skip, synth_day, TestEnv};

const REQUIRE: &str = "ZONEFEED_REQUIRE_SMTP";

/// The SMTP server, killed when dropped.
struct Smtp {
    child: Child,
    port: u16,
    outdir: PathBuf,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Smtp {
    /// The accepted messages, in order.
    fn messages(&self) -> Vec<Value> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.outdir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("msg"))
            .collect();
        names.sort();
        names.iter().map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()).collect()
    }

    fn refused(&self) -> Vec<String> {
        std::fs::read(self.outdir.join("refused.json")).map(|b| serde_json::from_slice(&b).unwrap()).unwrap_or_default()
    }
}

/// A test CA and a certificate for 127.0.0.1 it signed, by openssl; None (with a skip) when
/// openssl or aiosmtpd is missing.
fn tools(test: &str) -> bool {
    let aiosmtpd = Command::new("python3").args(["-c", "import aiosmtpd"]).output().is_ok_and(|o| o.status.success());
    let openssl = Command::new("openssl").arg("version").output().is_ok_and(|o| o.status.success());
    if !(aiosmtpd && openssl) {
        skip(test, REQUIRE, "Python's aiosmtpd (pip install aiosmtpd) or openssl is missing");
        return false;
    }
    true
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").current_dir(dir).args(args).output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "3650",
            "-subj",
            "/CN=zonefeed test CA",
        ],
    );
    openssl(dir, &["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]);
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "3650",
            "-extfile",
            "san.ext",
        ],
    );
}

fn start(t: &TestEnv, fail_first: u32) -> Smtp {
    let outdir = t.path("mail");
    std::fs::create_dir_all(&outdir).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/smtp_server.py");
    let (cert, key) = (t.path("server.pem"), t.path("server.key"));
    let mut child = Command::new("python3")
        .arg(script)
        .args([outdir.to_str().unwrap(), &port.to_string(), cert.to_str().unwrap(), key.to_str().unwrap(), "alerts", "s3cret-pw"])
        .arg(fail_first.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready", "the SMTP server started");
    Smtp { child, port, outdir }
}

fn config(t: &TestEnv, smtp: &Smtp, creds: &Path, events: &[&str]) -> Value {
    json!({
        "email": {
            "to": ["soc@example.org", "brand@example.org"], "from": "zonefeed@example.org",
            "server": "127.0.0.1", "port": smtp.port, "credentials_file": creds, "ca_file": t.path("ca.pem"),
            "events": events, "batch_size": 40,
        },
        "webhooks.retry_delay_seconds": 0.1,
    })
}

/// The `KIND  DOMAIN` pairs a message's body lists.
fn listed(body: &str) -> Vec<(String, String)> {
    body.lines()
        .filter_map(|l| {
            let mut f = l.split("  ");
            let (at, kind, domain) = (f.next()?, f.next()?, f.next()?);
            at.starts_with("20").then(|| (kind.to_string(), domain.trim().to_string()))
        })
        .collect()
}

#[test]
fn each_batch_of_events_is_one_message_over_starttls_and_a_refused_one_is_sent_again() {
    let t = TestEnv::new();
    if !tools("email::each_batch_of_events_is_one_message") {
        return;
    }
    certificates(&t.path(""));
    let smtp = start(&t, 1);
    let creds = t.write_private("smtp-credentials", b"alerts\ns3cret-pw\n");
    t.write("config.json", config(&t, &smtp, &creds, &["added", "removed", "modified"]).to_string().as_bytes());

    let day0 = synth_day(&t, "d0.zone", "example", 6000, 7, 0);
    let day1 = synth_day(&t, "d1.zone", "example", 6000, 7, 1);
    t.import_ok("z.db", &["--date", "2026-12-01", day0.to_str().unwrap()]);
    t.import_ok("z.db", &["--date", "2026-12-02", day1.to_str().unwrap()]);
    let out = t.run(&["--db", "z.db", "--format", "jsonl", "changes"]);
    let want: BTreeSet<(String, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|e| (e["kind"].as_str().unwrap().to_string(), e["domain"].as_str().unwrap().to_string()))
        .collect();
    assert!(want.len() > 40, "more events than a batch: {}", want.len());

    let out = t.run(&["--db", "z.db", "--json", "webhooks", "deliver"]);
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let messages = smtp.messages();
    assert_eq!(messages.len(), want.len().div_ceil(40), "one message per batch of 40");
    let mut got = BTreeSet::new();
    for m in &messages {
        assert_eq!(m["tls"], true, "STARTTLS was used");
        assert_eq!(m["authenticated"], true);
        assert_eq!(m["from"], "zonefeed@example.org");
        assert_eq!(m["to"], json!(["soc@example.org", "brand@example.org"]));
        let data = m["data"].as_str().unwrap();
        assert!(data.contains("Subject: zonefeed: ") && data.contains(" events in example ("), "{data}");
        let pairs = listed(data);
        assert!(!pairs.is_empty() && pairs.len() <= 40, "{data}");
        got.extend(pairs);
    }
    assert_eq!(got, want, "the messages list exactly the events");
    let refused = smtp.refused();
    assert_eq!(refused.len(), 1);
    assert_eq!(Some(&refused[0]), messages[0]["message_id"].as_str().map(str::to_string).as_ref(), "the same batch, the same Message-ID");
    // All delivered: another run sends nothing.
    assert!(t.run(&["--db", "z.db", "webhooks", "deliver"]).status.success());
    assert_eq!(smtp.messages().len(), messages.len());

    // A wrong password: the error says so without the password, and nothing is lost.
    let bad = t.write_private("bad-credentials", b"alerts\nwrong-pw-123\n");
    let mut cfg = config(&t, &smtp, &bad, &["added", "removed", "modified"]);
    cfg["webhooks.retries"] = json!(1);
    t.write("bad.json", cfg.to_string().as_bytes());
    let day2 = synth_day(&t, "d2.zone", "example", 6000, 7, 2);
    t.import_ok("z.db", &["--config", "bad.json", "--date", "2026-12-03", day2.to_str().unwrap()]);
    let out = t.run(&["--db", "z.db", "--config", "bad.json", "--json", "webhooks", "deliver"]);
    assert!(!out.status.success());
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(text.contains(&format!("smtp://127.0.0.1:{}", smtp.port)) && text.contains("535"), "{text}");
    assert!(!text.contains("wrong-pw-123") && !text.contains("s3cret-pw"), "{text}");
    let before = smtp.messages().len();
    assert!(t.run(&["--db", "z.db", "webhooks", "deliver"]).status.success(), "the right password sends what waited");
    assert!(smtp.messages().len() > before);
}

#[test]
fn the_monitor_mails_its_events_right_after_its_pass() {
    let t = TestEnv::new();
    if !tools("email::the_monitor_mails_its_events_right_after_its_pass") {
        return;
    }
    certificates(&t.path(""));
    let smtp = start(&t, 0);
    let creds = t.write_private("smtp-credentials", b"alerts\ns3cret-pw\n");
    let registry = crate::rdap::Registry::start("rdaptest", Vec::new());
    registry.set("a.rdaptest", crate::rdap::dom("R", 1, 5));
    registry.set("b.rdaptest", crate::rdap::dom("R", 1, 6));
    t.write("config.json", config(&t, &smtp, &creds, &["expiring"]).to_string().as_bytes());
    assert!(t.run(&["--db", "m.db", "monitor", "add", "a.rdaptest", "b.rdaptest"]).status.success());
    let url = format!("http://{}/dns.json", registry.addr);
    assert!(t.run(&["--db", "m.db", "rdap", "bootstrap", "--update", "--url", &url]).status.success());
    let out = t.run(&["--db", "m.db", "monitor", "run", "--once", "--only", "rdap"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1, "both events in one message, sent before the command returned");
    let data = messages[0]["data"].as_str().unwrap();
    assert!(data.contains("Subject: zonefeed: 2 events in rdaptest (2 expiring)"), "{data}");
    let mut pairs = listed(data);
    pairs.sort();
    assert_eq!(pairs, [("expiring".to_string(), "a.rdaptest".to_string()), ("expiring".to_string(), "b.rdaptest".to_string())]);
    assert!(data.contains("days left"), "{data}");
}
