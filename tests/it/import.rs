//! `zonefeed import`: correctness against ground truth, input forms, errors, atomicity.

use std::io::Write;
use std::process::Stdio;

use crate::env::{self, gzip, summary, tables, TestEnv};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/com.zone.gz");
const SAMPLE_TRUTH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/com.truth.json");
const TRICKY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tricky.zone");
const TRICKY_EXPECTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tricky.expected");

fn sample_text() -> Vec<u8> {
    use std::io::Read;
    let mut s = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(SAMPLE).unwrap()).read_to_end(&mut s).unwrap();
    s
}

/// Checks a summary and the database against a zonegen `truth` object.
fn assert_truth(t: &TestEnv, db: &str, sum: &serde_json::Value, truth: &serde_json::Value) {
    assert_eq!(sum["records"], truth["records"], "record count");
    assert_eq!(sum["domains"], truth["domains"], "domain count");
    let types: serde_json::Map<String, serde_json::Value> =
        truth["types"].as_object().unwrap().iter().map(|(k, v)| (k.to_uppercase(), v.clone())).collect();
    assert_eq!(sum["types"], serde_json::Value::Object(types), "per-type counts");
    let tld = truth["tld"].as_str().unwrap();
    assert_eq!(env::domains_sha256(&t.db(db), tld), truth["domains_sha256"].as_str().unwrap(), "domains_sha256");
}

#[test]
fn bundled_sample_matches_its_truth() {
    let t = TestEnv::new();
    let out = t.import_ok("z.db", &[SAMPLE]);
    let truth: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(SAMPLE_TRUTH).unwrap()).unwrap();
    let sum = summary(&out);
    assert_truth(&t, "z.db", &sum, &truth);
    assert_eq!(sum["tld"], "com");
    assert_eq!(sum["serial"], 2026110100);
    assert_eq!(sum["errors"], 0);
}

#[test]
fn zonegen_styles_match_truth_and_each_other() {
    let Some(sh) = env::shared("zonegen_styles_match_truth_and_each_other") else { return };
    let t = TestEnv::new();
    for signed in [false, true] {
        let mut base = vec!["--tld", "com", "--domains", "3000", "--day", "1"];
        if signed {
            base.push("--signed");
        }
        let mut truth_args = vec!["truth"];
        truth_args.extend_from_slice(&base);
        let truth: serde_json::Value = serde_json::from_slice(&env::zonegen(&sh, &truth_args)).unwrap();
        let mut all = Vec::new();
        for style in [&["--style", "czds"][..], &["--style", "master"], &["--shuffle"]] {
            let mut args = vec!["zone"];
            args.extend_from_slice(&base);
            args.extend_from_slice(style);
            let zone = t.write("z.zone", &env::zonegen(&sh, &args));
            let db = format!("{signed}{}.db", style.join(""));
            let sum = summary(&t.import_ok(&db, &[zone.to_str().unwrap()]));
            assert_truth(&t, &db, &sum, &truth);
            all.push(tables(&t.db(&db)));
        }
        assert!(all[0].0.len() as u64 == truth["records"].as_u64().unwrap());
        assert_eq!(all[0], all[1], "czds and master style store the same rows");
        assert_eq!(all[0], all[2], "shuffled czds stores the same rows");
    }
}

#[test]
fn tiny_chunks_give_the_same_tables() {
    let t = TestEnv::new();
    // The tricky file has parentheses, $ORIGIN switches and owner-less lines to cut through.
    let base = tables(&{
        t.import_ok("one.db", &[TRICKY]);
        t.db("one.db")
    });
    for size in ["1", "7", "64", "333"] {
        let db = format!("c{size}.db");
        t.import_ok(&db, &["--chunk-size", size, TRICKY]);
        assert_eq!(tables(&t.db(&db)), base, "chunk size {size}");
    }
    // Master style with every boundary position the splitter picks at 4 KiB.
    if let Some(sh) = env::shared("tiny_chunks_give_the_same_tables (master style)") {
        let zone = t.write("m.zone", &env::zonegen(&sh, &["zone", "--domains", "2000", "--style", "master", "--signed"]));
        t.import_ok("m1.db", &[zone.to_str().unwrap()]);
        t.import_ok("m2.db", &["--chunk-size", "4096", zone.to_str().unwrap()]);
        t.import_ok("m3.db", &["--chunk-size", "100", "--threads", "1", zone.to_str().unwrap()]);
        let a = tables(&t.db("m1.db"));
        assert!(!a.0.is_empty());
        assert_eq!(a, tables(&t.db("m2.db")));
        assert_eq!(a, tables(&t.db("m3.db")));
    }
}

#[test]
fn golden_tricky_zone() {
    let t = TestEnv::new();
    let sum = summary(&t.import_ok("g.db", &[TRICKY]));
    assert_eq!(sum["tld"], "example");
    assert_eq!(sum["serial"], 2026112301);
    let conn = t.db("g.db");
    let mut st = conn.prepare("SELECT tld, domain, owner, type, ttl, rdata FROM records ORDER BY domain, owner, type, rdata").unwrap();
    let got: Vec<String> = st
        .query_map([], |r| {
            Ok([r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get::<_, i64>(4)?.to_string(), r.get(5)?].join("\t"))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let want: Vec<String> = std::fs::read_to_string(TRICKY_EXPECTED).unwrap().lines().map(String::from).collect();
    assert_eq!(got, want);
    let mut st = conn.prepare("SELECT name FROM domains ORDER BY name").unwrap();
    let names: Vec<String> = st.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(names, ["ds-sub.example", "sub.example", "sub2.example", "weird\\.label.example"]);
}

/// A FILE that is a pipe reads as stdin does: `import <(zcat f)` and `/dev/stdin`, plain and
/// gzip, give the tables of the file itself.
#[test]
fn a_file_that_is_a_pipe_imports_like_the_file() {
    let t = TestEnv::new();
    t.import_ok("base.db", &[SAMPLE]);
    let base = tables(&t.db("base.db"));
    let bin = env!("CARGO_BIN_EXE_zonefeed");
    for (name, script) in [
        ("gz", format!("'{bin}' --db gz.db -q import <(cat '{SAMPLE}')")),
        ("plain", format!("'{bin}' --db plain.db -q import <(gzip -dc '{SAMPLE}')")),
        ("devstdin", format!("gzip -dc '{SAMPLE}' | '{bin}' --db devstdin.db -q import /dev/stdin")),
    ] {
        let out = t.cmd_in_shell(&script);
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(tables(&t.db(&format!("{name}.db"))), base, "{name}");
    }
}

#[test]
fn crlf_no_final_newline_stdin_and_multi_member_gzip() {
    let t = TestEnv::new();
    let text = sample_text();
    t.import_ok("base.db", &[SAMPLE]);
    let base = tables(&t.db("base.db"));

    let crlf: Vec<u8> = String::from_utf8(text.clone()).unwrap().replace('\n', "\r\n").into_bytes();
    let p = t.write("crlf.zone", &crlf);
    t.import_ok("crlf.db", &[p.to_str().unwrap()]);
    assert_eq!(tables(&t.db("crlf.db")), base, "CRLF");

    let p = t.write("nonl.zone", text.strip_suffix(b"\n").unwrap());
    t.import_ok("nonl.db", &[p.to_str().unwrap()]);
    assert_eq!(tables(&t.db("nonl.db")), base, "no final newline");

    // Two gzip members, split in the middle of a line.
    let cut = text.len() / 2 + 3;
    let mut multi = gzip(&text[..cut]);
    multi.extend_from_slice(&gzip(&text[cut..]));
    let p = t.write("multi.gz", &multi);
    t.import_ok("multi.db", &[p.to_str().unwrap()]);
    assert_eq!(tables(&t.db("multi.db")), base, "multi-member gzip");

    for (name, data) in [("plain", text.clone()), ("gz", gzip(&text))] {
        let db = format!("stdin-{name}.db");
        let mut child = t
            .cmd()
            .args(["--db", &db, "-q", "--format", "jsonl", "import", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&data).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(tables(&t.db(&db)), base, "stdin {name}");
        assert_eq!(summary(&out)["file"], "<stdin>");
    }
}

/// The current version of a TLD: (id, records, sha256).
fn current(t: &TestEnv, db: &str, tld: &str) -> (i64, i64, String) {
    t.db(db)
        .query_row("SELECT id, records, sha256 FROM zones WHERE tld = ?1 AND state = 'current'", [tld], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap()
}

#[test]
fn truncated_gzip_fails_and_keeps_the_previous_version() {
    let t = TestEnv::new();
    t.import_ok("z.db", &[SAMPLE]);
    let before = (current(&t, "z.db", "com"), tables(&t.db("z.db")));
    let gz = std::fs::read(SAMPLE).unwrap();
    for (name, data) in [
        ("cut.zone.gz", gz[..gz.len() * 2 / 3].to_vec()),
        ("corrupt.zone.gz", {
            let mut c = gz.clone();
            for b in &mut c[200..260] {
                *b ^= 0x5a;
            }
            c
        }),
    ] {
        let p = t.write(name, &data);
        let out = t.run(&["--db", "z.db", "import", p.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(name) && err.contains("gzip"), "{name}: {err}");
        assert_eq!((current(&t, "z.db", "com"), tables(&t.db("z.db"))), before, "{name}: previous version intact");
    }
    let leftovers: i64 = t
        .db("z.db")
        .query_row("SELECT count(*) FROM records WHERE tld NOT IN (SELECT tld FROM zones WHERE state = 'current')", [], |r| r.get(0))
        .unwrap();
    assert_eq!(leftovers, 0, "a failed import leaves no rows behind");
}

#[test]
fn malformed_lines_name_file_and_line_and_keep_the_previous_version() {
    let t = TestEnv::new();
    t.import_ok("z.db", &[SAMPLE]);
    let before = current(&t, "z.db", "com");
    let mut text = String::from_utf8(sample_text()).unwrap();
    text.push_str("bad1.com.\t172800\tin\tns\n"); // line 2909: no RDATA
    text.push_str("bad2.com.\t172800\tin\ta\t1.2.3.999\n"); // line 2910
    let p = t.write("com.zone", text.as_bytes());
    let out = t.run(&["--db", "z.db", "import", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines = text.lines().count();
    assert!(err.contains(&format!("com.zone:{}: NS: missing name in RDATA", lines - 1)), "{err}");
    assert!(err.contains(&format!("com.zone:{}: A: bad IPv4 address `1.2.3.999`", lines)), "{err}");
    assert!(err.contains("2 malformed record(s)"), "{err}");
    assert_eq!(current(&t, "z.db", "com"), before);

    // --max-errors accepts them, skipped and counted.
    let sum = summary(&t.import_ok("z.db", &["--max-errors", "2", p.to_str().unwrap()]));
    assert_eq!(sum["errors"], 2);
    assert_eq!(sum["records"], 2907);
    let (_, recs, _) = current(&t, "z.db", "com");
    assert_eq!(recs, 2907);
    let errors: i64 = t.db("z.db").query_row("SELECT errors FROM zones WHERE state = 'current'", [], |r| r.get(0)).unwrap();
    assert_eq!(errors, 2);
    let out = t.run(&["--db", "z2.db", "import", "--max-errors", "1", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "one more than allowed fails");
}

#[test]
fn limits_are_enforced_with_clear_errors() {
    let t = TestEnv::new();
    let l63 = "a".repeat(63);
    let cases: Vec<(String, &str)> = vec![
        (format!("{l63}a.t. 1 IN A 192.0.2.1"), "label of 64 octets is longer than 63"),
        (format!("{}.t. 1 IN NS x.t.", [l63.as_str(); 4].join(".")), "name of 259 octets is longer than 255"),
        (format!("x.t. 1 IN TXT \"{}\"", "s".repeat(256)), "string of 256 octets is longer than 255"),
        (
            format!("x.t. 1 IN TXT {}", vec![format!("\"{}\"", "s".repeat(255)); 257].join(" ")),
            "RDATA of 65792 octets is longer than 65535",
        ),
        (format!("x.t. 1 IN TYPE65280 \\# 65536 {}", "00".repeat(65536)), "RDATA of 65536 octets is longer than 65535"),
        (format!("x.t. 1 IN TXT \"{}\"", "s".repeat(300 << 10)), "longer than the 256 KiB limit"),
        ("x.t. 2147483648 IN A 192.0.2.1".to_string(), "bad TTL"),
        ("x.t. 1 CH A 192.0.2.1".to_string(), "class CH differs from the zone's class IN"),
        ("x.t. 1 IN BOGUS 1".to_string(), "unknown type `BOGUS`"),
        ("x.t. 1 IN A ( 192.0.2.1".to_string(), "unclosed parenthesis or quote"),
        ("x.t. 1 IN TXT \"open".to_string(), "unclosed parenthesis or quote"),
        ("x.t. 1 IN A 192.0.2.1 )".to_string(), "')' without '('"),
    ];
    for (i, (line, want)) in cases.iter().enumerate() {
        let text = format!("t. 1 IN SOA a.t. b.t. 1 2 3 4 5\n{line}\n");
        let p = t.write(&format!("c{i}.zone"), text.as_bytes());
        let out = t.run(&["--db", "l.db", "import", p.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "case {i} should fail: {err}");
        assert!(err.contains(&format!("c{i}.zone:2: ")) && err.contains(want), "case {i}: want `{want}`, got: {err}");
    }
    // At the limits, all is well.
    let ok = format!("t. 1 IN SOA a.t. b.t. 1 2 3 4 5\n{l63}.t. 2147483647 IN TXT \"{}\"\n", "s".repeat(255));
    let p = t.write("ok.zone", ok.as_bytes());
    t.import_ok("ok.db", &[p.to_str().unwrap()]);
}

#[test]
fn same_file_twice_adds_no_version() {
    let t = TestEnv::new();
    let first = summary(&t.import_ok("z.db", &[SAMPLE]));
    let again = summary(&t.import_ok("z.db", &[SAMPLE]));
    assert_eq!(again["unchanged"], true);
    assert_eq!(again["version"], first["version"]);
    let n: i64 = t.db("z.db").query_row("SELECT count(*) FROM zones", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 1);
}

#[test]
fn no_records_keeps_domains_only() {
    let t = TestEnv::new();
    t.import_ok("full.db", &[SAMPLE]);
    t.import_ok("full.db", &["--no-records", TRICKY, SAMPLE]);
    let n: i64 = t.db("full.db").query_row("SELECT count(*) FROM records WHERE tld = 'com'", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 0, "--no-records drops the TLD's older records too");
    let n: i64 = t.db("full.db").query_row("SELECT count(*) FROM records WHERE tld = 'example'", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 0, "--no-records stores no records");
    let d: i64 = t.db("full.db").query_row("SELECT count(*) FROM domains WHERE tld = 'example'", [], |r| r.get(0)).unwrap();
    assert_eq!(d, 4);
}

#[test]
fn a_second_writer_waits_then_exits_5() {
    let t = TestEnv::new();
    t.import_ok("z.db", &[TRICKY]);
    let lock = std::fs::OpenOptions::new().write(true).open(t.path("z.db.lock")).unwrap();
    lock.lock().unwrap();
    let start = std::time::Instant::now();
    let out = t.run(&["--db", "z.db", "import", "--wait", "1", SAMPLE]);
    assert_eq!(out.status.code(), Some(5));
    assert!(start.elapsed() >= std::time::Duration::from_millis(900), "it waited");
    assert!(String::from_utf8_lossy(&out.stderr).contains("is busy"));
    drop(lock);
    t.import_ok("z.db", &[SAMPLE]);
}

#[test]
fn zone_comes_from_flag_soa_origin_or_file_name() {
    let t = TestEnv::new();
    let no_soa = "$ORIGIN org.\nexample 1 IN NS ns.example\n";
    // Fragments without an SOA are no version of a zone: they import only with --force.
    let p = t.write("x.zone", no_soa.as_bytes());
    assert_eq!(summary(&t.import_ok("a.db", &["--force", p.to_str().unwrap()]))["tld"], "org");
    let p = t.write("net.txt", b"example.net. 1 IN NS ns.example.net.\n");
    let out = t.import_ok("a.db", &["--force", p.to_str().unwrap()]);
    assert_eq!(summary(&out)["tld"], "net");
    let note = String::from_utf8_lossy(&out.stderr);
    assert!(note.contains("the zone `net` is taken from the file name"), "a guessed zone is said: {note}");
    let p = t.write("mystery.db", b"example.net. 1 IN NS ns.example.net.\n");
    let out = t.run(&["--db", "a.db", "import", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot tell which zone"));
    assert_eq!(summary(&t.import_ok("a.db", &["--force", "--tld", "net", p.to_str().unwrap()]))["tld"], "net");
    let root = t.write(
        "root.zone",
        b". 1 IN SOA a.root-servers.net. n.s. 1 2 3 4 5\ncom. 1 IN NS a.gtld-servers.net.\na.gtld-servers.net. 1 IN A 192.0.2.1\n",
    );
    let sum = summary(&t.import_ok("a.db", &[root.to_str().unwrap()]));
    assert_eq!(sum["tld"], ".");
    assert_eq!(sum["domains"], 1, "com is the root zone's delegation; the net glue is out-of-delegation data of the root");
}

#[test]
fn sigkill_mid_import_then_rerun_equals_one_clean_run() {
    let t = TestEnv::new();
    // Big enough that the debug binary is still writing when it is killed.
    let mut big = String::from("com. 900 IN SOA a.nic. h.nic. 7 1 1 1 1\n");
    for i in 0..300_000 {
        big.push_str(&format!("d{i}x.com.\t172800\tin\tns\tns{}.host{}.net.\n", i % 2, i % 97));
    }
    let p = t.write("big.zone", big.as_bytes());
    t.import_ok("clean.db", &[TRICKY]);
    t.import_ok("clean.db", &[p.to_str().unwrap()]);
    let clean = tables(&t.db("clean.db"));

    t.import_ok("k.db", &[TRICKY]);
    let mut child = t.cmd().args(["--db", "k.db", "-q", "import", p.to_str().unwrap()]).spawn().unwrap();
    // Wait until the new version has rows on disk, then kill -9.
    let mut killed_mid_write = false;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while std::time::Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        let conn = rusqlite::Connection::open_with_flags(t.path("k.db"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM records WHERE tld IN (SELECT tld FROM zones WHERE state = 'importing')", [], |r| r.get(0))
            .unwrap_or(0);
        if rows > 0 {
            child.kill().unwrap();
            killed_mid_write = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.wait().unwrap();
    assert!(killed_mid_write, "the import finished before it could be killed mid-write; make the zone bigger");
    // Readers see the old version whole meanwhile.
    let (_, recs, _) = current(&t, "k.db", "example");
    assert_eq!(recs, 20);
    t.import_ok("k.db", &[p.to_str().unwrap()]);
    assert_eq!(tables(&t.db("k.db")), clean);
    let stray: i64 = t
        .db("k.db")
        .query_row("SELECT count(*) FROM records WHERE tld NOT IN (SELECT tld FROM zones WHERE state = 'current')", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stray, 0);

    // The next version is staged, then applied in the switch: killed at moments spread over
    // the run, the database is always the old version or the new one, and a rerun gives the
    // new one.
    let next = big.replace(" 7 1 1 1 1", " 8 1 1 1 1").replace("ns0.host3.net", "ns0.moved.net");
    let p2 = t.write("big2.zone", next.as_bytes());
    t.import_ok("clean.db", &[p2.to_str().unwrap()]);
    let clean2 = tables(&t.db("clean.db"));
    assert_ne!(clean, clean2);
    for delay_ms in [0u64, 150, 400, 900] {
        let mut child = t.cmd().args(["--db", "k.db", "-q", "import", p2.to_str().unwrap()]).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        child.wait().unwrap();
        let now = tables(&t.db("k.db"));
        assert!(now == clean || now == clean2, "killed after {delay_ms} ms: neither version whole");
        if now == clean2 {
            break;
        }
    }
    t.import_ok("k.db", &[p2.to_str().unwrap()]);
    assert_eq!(tables(&t.db("k.db")), clean2);
    crate::env::assert_settled(&t.db("k.db"));
    // The kept history too: every row with the versions that wrote and closed it (named by
    // serial, since the killed runs used up ids), as one clean run of each day leaves it.
    let history = |db: &str| {
        crate::env::column(
            &t.db(db),
            "SELECT r.tld || ' ' || r.domain || ' ' || r.owner || ' ' || r.type || ' ' || r.ttl || ' ' || r.rdata
                    || ' ' || s.serial || ' ' || coalesce(u.serial, '-')
               FROM records r JOIN zones s ON s.id = r.since LEFT JOIN zones u ON u.id = r.until ORDER BY 1",
        )
    };
    let kept = history("clean.db");
    assert!(kept.iter().any(|r| r.ends_with(" 7 8")), "the replaced rows are kept as history");
    assert_eq!(history("k.db"), kept, "history after kills and reruns");
    let links = |db: &str| {
        let mut v = crate::env::column(
            &t.db(db),
            "SELECT l.rhost || ' ' || l.tld || ' ' || l.domain || ' ' || s.serial || ' ' || coalesce(u.serial, '-')
               FROM ns_links l JOIN zones s ON s.id = l.since LEFT JOIN zones u ON u.id = l.until ORDER BY 1",
        );
        // Base rows' pairs are compressed JSON: read back as zonefeed's SQL does (`zf_pairs`).
        let conn = t.db(db);
        let mut st = conn
            .prepare("SELECT b.rhost, b.tld, b.pairs, s.serial FROM ns_base b JOIN zones s ON s.id = b.since ORDER BY 1, b.first")
            .unwrap();
        let base = st.query_map([], |r| {
            let pairs = zonefeed::store::pairs_json(r.get_ref(2)?).unwrap();
            Ok(format!("base {} {} {pairs} {}", r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(3)?))
        });
        v.extend(base.unwrap().map(Result::unwrap));
        v
    };
    let kept = links("clean.db");
    assert!(kept.iter().any(|r| r.starts_with("net.moved.ns0 ") && r.ends_with(" 8 -")), "a gained name server opens a row");
    assert!(kept.iter().any(|r| r.starts_with("net.host3.ns0 ") && r.ends_with(" 7 8")), "a lost one of the base gets its closing row");
    assert!(kept.iter().any(|r| r.starts_with("base ") && r.contains("\"net.host3.ns0\"")), "the first version is the base");
    assert_eq!(links("k.db"), kept, "the reverse-lookup index after kills and reruns");
    // The packed state the rerun left (a delta on the first version's, whatever the killed
    // runs had written) reads as the rows say.
    let k = t.db("k.db");
    let prev =
        crate::env::column(&k, "SELECT coalesce(CAST(state_prev AS TEXT), 'base') FROM zones WHERE tld = 'com' AND state = 'current'");
    assert_ne!(prev, ["base"], "the next day wrote a delta");
    assert_eq!(zonefeed::store::state::current(&k, "com").unwrap().unwrap(), crate::env::state_of_rows(&k, "com"));
}

#[test]
fn cli_conventions() {
    let t = TestEnv::new();
    let out = t.run(&["import", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("Examples:") && help.contains("zonefeed import com.zone.gz"), "{help}");
    let out = t.run(&["--help"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Exit codes"));
    assert_eq!(t.run(&["import"]).status.code(), Some(2), "missing FILE is a usage error");
    assert_eq!(t.run(&["import", "--max-errors", "x", "f"]).status.code(), Some(2));
    assert_eq!(t.run(&["--db", "z.db", "import", "does-not-exist.zone"]).status.code(), Some(1));
    // Config with wrong types: exit 2, naming the file, the key and its line, whatever the
    // command and whether or not it reads the key.
    t.write("bad.json", b"{\n  \"tlds\": [\"com\"],\n  \"log.interval_seconds\": \"often\"\n}");
    let out = t.run(&["--config", "bad.json", "import", SAMPLE]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("config `bad.json`: `log.interval_seconds`: invalid type: string \"often\", expected a positive number at line 3"),
        "{err}"
    );
    t.write("bad.json", br#"{"webhooks": [{"url": "http://127.0.0.1:9/", "batch_size": -1}], "serve.max_limit": 0}"#);
    let out = t.run(&["--config", "bad.json", "--db", "z.db", "stats"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("`webhooks[0].batch_size`: invalid value: integer `-1`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    t.write("bad.json", br#"{"serve.max_limit": 0, "tlds": "com"}"#);
    let out = t.run(&["--config", "bad.json", "--db", "z.db", "stats"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("`serve.max_limit`: invalid value: integer `0`, expected a positive whole number"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A config holding a password readable by others is refused, and the password not shown.
    let p = t.write("pw.json", br#"{"icann.account.password": "hunter2-secret"}"#);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = t.run(&["--config", "pw.json", "import", SAMPLE]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("chmod 600") && !err.contains("hunter2"), "{err}");
    // Private, but another user's (as ssh, refused): only root can hand a file away here.
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    if std::os::unix::fs::chown(&p, Some(54321), None).is_ok() {
        let out = t.run(&["--config", "pw.json", "import", SAMPLE]);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("belongs to another user (uid 54321") && !err.contains("hunter2"), "{err}");
    }
    // Several files, one bad: partly done.
    let out = t.run(&["--db", "p.db", "-q", "import", SAMPLE, "does-not-exist.zone"]);
    assert_eq!(out.status.code(), Some(6));
    // Cron: no terminal, so progress comes as log lines, and --quiet silences them.
    t.write("cfg.json", br#"{"log.interval_seconds": 0.05, "database.path": "cfg.db"}"#);
    let out = t.run(&["--config", "cfg.json", "import", "--chunk-size", "4096", "--threads", "1", TRICKY]);
    assert!(out.status.success());
    assert!(t.path("cfg.db").exists(), "database.path from the config is used");
}

#[test]
fn memory_cap_spills_sorted_runs_with_the_same_result() {
    let t = TestEnv::new();
    let mut zone = Vec::new();
    zonefeed::synth::write_zone(&mut zone, "com", 40_000, 7).unwrap();
    let p = t.write("com.zone", &zone);
    // ~5 MB of sort keys against a 1 MiB budget: several runs go to disk and are merged.
    let small = summary(&t.import_ok("small.db", &["--memory", "1M", "--chunk-size", "65536", p.to_str().unwrap()]));
    let big = summary(&t.import_ok("big.db", &[p.to_str().unwrap()]));
    assert!(small["spilled_runs"].as_u64().unwrap() >= 3, "{small}");
    assert_eq!(big["spilled_runs"], 0);
    assert_eq!(small["records"], big["records"]);
    assert!(big["records"].as_u64().unwrap() > 90_000);
    assert_eq!(tables(&t.db("small.db")), tables(&t.db("big.db")));
    let stray =
        std::fs::read_dir(t.dir.path()).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with(".tmp")).count();
    assert_eq!(stray, 0, "spill files are removed");
}

#[test]
fn include_only_with_allow_include_and_inside_the_zone_dir() {
    let t = TestEnv::new();
    std::fs::create_dir(t.path("sub")).unwrap();
    t.write("sub/hosts.zone", b"ns1 A 192.0.2.1\nns2 A 192.0.2.2\n");
    t.write("secret.txt", b"x. 1 IN A 192.0.2.9\n");
    let main = "$ORIGIN example.\n@ 60 IN SOA ns1 h 1 2 3 4 5\n@ NS ns1\n$INCLUDE \"hosts.zone\"\nafter A 192.0.2.3\n";
    let p = t.write("sub/main.zone", main.as_bytes());
    let out = t.run(&["--db", "i.db", "import", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("main.zone:4: $INCLUDE is not followed unless --allow-include is given"));
    let sum = summary(&t.import_ok("i.db", &["--allow-include", p.to_str().unwrap()]));
    assert_eq!(sum["records"], 5);
    let hosts: i64 =
        t.db("i.db").query_row("SELECT count(*) FROM records WHERE owner IN ('ns1.example', 'ns2.example')", [], |r| r.get(0)).unwrap();
    assert_eq!(hosts, 2);
    // Nothing outside the zone file's directory, even through a symlink.
    std::os::unix::fs::symlink(t.path("secret.txt"), t.path("sub/link.zone")).unwrap();
    for (inc, want) in [
        ("../secret.txt", "outside the zone file's directory"),
        ("link.zone", "outside the zone file's directory"),
        ("/etc/passwd", "absolute paths are refused"),
    ] {
        let p = t.write("sub/evil.zone", format!("@ 60 IN SOA ns1.example. h.example. 1 2 3 4 5\n$INCLUDE {inc}\n").as_bytes());
        let out = t.run(&["--db", "e.db", "import", "--tld", "example", "--allow-include", p.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{inc}");
        assert!(err.contains("evil.zone:2:") && err.contains(want), "{inc}: {err}");
    }
}

/// Names that are not domains (NSEC3 owners, `_dmarc`, data) form groups whose records are
/// compared by hash; names that turn from data into a domain and back, and records that only
/// differ in their signatures or TTL, must all end as one import of the new file leaves them.
#[test]
fn changes_to_non_domain_names_and_signatures_are_applied() {
    let t = TestEnv::new();
    let v1 = "$ORIGIN example.\n$TTL 300\n@ SOA ns.nic hm.nic 1 2 3 4 5\n@ NS ns.nic\n\
        _dmarc TXT \"v=DMARC1; p=none\"\n\
        h4sh NSEC3 1 1 0 - 0P9MHAVEQVM6T7VBL5LOP2U3T2RP3TOM A RRSIG\n\
        h4sh RRSIG NSEC3 8 2 300 20261201000000 20261101000000 1 example. AAAA\n\
        keep NS ns.keep\nns.keep A 192.0.2.1\n\
        keep DS 1 8 2 AAAA\nkeep RRSIG DS 8 2 300 20261201000000 20261101000000 1 example. AAAA\n\
        flip NS ns.other.\nflip A 192.0.2.9\n\
        data A 192.0.2.2\n\
        ttl NS ns.other.\n\
        gone NS ns.other.\n";
    let v2 = "$ORIGIN example.\n$TTL 300\n@ SOA ns.nic hm.nic 2 2 3 4 5\n@ NS ns.nic\n\
        _dmarc TXT \"v=DMARC1; p=reject\"\n\
        z9 NSEC3 1 1 0 - 1P9MHAVEQVM6T7VBL5LOP2U3T2RP3TOM A RRSIG\n\
        keep NS ns.keep\nns.keep A 192.0.2.1\n\
        keep DS 1 8 2 AAAA\nkeep RRSIG DS 8 2 300 20261202000000 20261102000000 1 example. BBBB\n\
        flip A 192.0.2.9\n\
        data NS ns.other.\ndata A 192.0.2.2\n\
        ttl 600 NS ns.other.\n";
    let p1 = t.write("v1.zone", v1.as_bytes());
    let p2 = t.write("v2.zone", v2.as_bytes());
    t.import_ok("chain.db", &["--date", "2026-11-01", p1.to_str().unwrap()]);
    let sum = summary(&t.import_ok("chain.db", &["--force", "--date", "2026-11-02", p2.to_str().unwrap()]));
    t.import_ok("fresh.db", &[p2.to_str().unwrap()]);
    assert_eq!(tables(&t.db("chain.db")), tables(&t.db("fresh.db")));
    crate::env::assert_settled(&t.db("chain.db"));
    // Re-signing `keep` is no change; `ttl` changed, `data` became a domain, `flip` and
    // `gone` stopped being ones.
    assert_eq!(
        (sum["new_domains"].as_u64(), sum["changed_domains"].as_u64(), sum["removed_domains"].as_u64()),
        (Some(1), Some(1), Some(2))
    );
    let out = t.run(&["--db", "chain.db", "changes", "--format", "tsv"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "added\tdata.example\nremoved\tflip.example\nremoved\tgone.example\nmodified\tttl.example\n"
    );
    let rrsig = |cond: &str| -> String {
        let sql = format!("SELECT rdata FROM records WHERE domain = 'keep.example' AND type = 'RRSIG' AND {cond}");
        t.db("chain.db").query_row(&sql, [], |r| r.get(0)).unwrap()
    };
    assert!(rrsig("until IS NULL").ends_with("BBBB"), "the current signature");
    // The replaced one is kept as history, closed by version 2.
    assert!(rrsig("until = 2").ends_with("AAAA"), "the signature version 2 replaced");
    // Dates are zone dates: carried over where nothing changed, the new version's where
    // something did.
    let conn = t.db("chain.db");
    let at = |v: i64| conn.query_row("SELECT zone_date FROM zones WHERE id = ?1", [v], |r| r.get::<_, String>(0)).unwrap();
    let (t1, t2) = (at(1), at(2));
    assert_eq!((t1.as_str(), t2.as_str()), ("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"));
    let dates = |name: &str| {
        conn.query_row(
            "SELECT first_seen, last_seen, last_changed, removed_at FROM domains WHERE name = ?1 AND until IS NULL",
            [name],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?, r.get::<_, String>(2)?, r.get::<_, Option<String>>(3)?)),
        )
        .unwrap()
    };
    assert_eq!(dates("keep.example"), (t1.clone(), None, t1.clone(), None), "re-signed only");
    assert_eq!(dates("ttl.example"), (t1.clone(), None, t2.clone(), None), "modified");
    assert_eq!(dates("data.example"), (t2.clone(), None, t2.clone(), None), "added");
    assert_eq!(dates("gone.example"), (t1.clone(), Some(t1.clone()), t1.clone(), Some(t2.clone())), "removed");
    // The CLI shows a live domain as last seen in the current version.
    let out = t.run(&["--db", "chain.db", "--format", "jsonl", "domain", "keep.example"]);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let shown = if shown.is_array() { shown[0].clone() } else { shown };
    assert_eq!(shown["last_seen"].as_str(), Some(t2.as_str()), "{shown}");
}

/// Records are an `rrsets` row per RRset, and the `records` view reads them back one per
/// record as the zone gave them: quotes and backslashes in rdata, an
/// RRset whose TTLs differ (it gets the lowest, RFC 2181 §5.2), glue, a name that is no
/// delegation.
#[test]
fn a_groups_records_are_one_row_and_the_records_view_reads_them_back() {
    let t = TestEnv::new();
    let zone = "$ORIGIN example.\n$TTL 300\n@ SOA ns.nic hm.nic 1 2 3 4 5\n@ NS ns.nic\n\
        _t TXT \"say \\\"hi\\\"\" \"back\\\\slash\" \"\\255\"\n\
        split NS ns1.other.\nsplit 600 NS ns2.other.\nsplit NS ns3.other.\n\
        ns.split A 192.0.2.1\nns.split AAAA 2001:db8::1\n";
    let p = t.write("v1.zone", zone.as_bytes());
    t.import_ok("r.db", &[p.to_str().unwrap()]);
    let conn = t.db("r.db");
    let recs = crate::env::column(
        &conn,
        "SELECT domain || ' ' || owner || ' ' || type || ' ' || ttl || ' ' || rdata FROM records ORDER BY domain, owner, type, rdata",
    );
    assert_eq!(
        recs,
        [
            r#"_t.example _t.example TXT 300 "say \"hi\"" "back\\slash" "\255""#,
            "example example NS 300 ns.nic.example",
            "example example SOA 300 ns.nic.example hm.nic.example 1 2 3 4 5",
            "split.example ns.split.example A 300 192.0.2.1",
            "split.example ns.split.example AAAA 300 2001:db8::1",
            "split.example split.example NS 300 ns1.other",
            "split.example split.example NS 300 ns2.other",
            "split.example split.example NS 300 ns3.other",
        ]
    );
    let sets =
        crate::env::column(&conn, "SELECT owner || ' ' || type || ' ' || ttl || ' ' || rdata FROM rrsets ORDER BY domain, owner, type");
    assert_eq!(
        sets,
        [
            r#" TXT 300 ["\"say \\\"hi\\\"\" \"back\\\\slash\" \"\\255\""]"#,
            r#" NS 300 ["ns.nic"]"#,
            r#" SOA 300 ["ns.nic.example hm.nic.example 1 2 3 4 5"]"#,
            r#" NS 300 [1,2,3]"#,
            r#"ns A 300 ["192.0.2.1"]"#,
            r#"ns AAAA 300 ["2001:db8::1"]"#,
        ],
        "owners relative to the domain, NS targets below it relative too, others `hosts` ids"
    );
    let hosts = crate::env::column(&conn, "SELECT id || ' ' || name FROM hosts ORDER BY id");
    assert_eq!(hosts, ["1 ns1.other", "2 ns2.other", "3 ns3.other"]);
    // The same domain read by the CLI, which reads the view.
    let out = t.run(&["--db", "r.db", "--format", "jsonl", "domain", "split.example"]);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rdata: Vec<&str> = shown["records"].as_array().unwrap().iter().map(|r| r["rdata"].as_str().unwrap()).collect();
    assert_eq!(rdata, ["192.0.2.1", "2001:db8::1", "ns1.other", "ns2.other", "ns3.other"], "{shown}");
}
