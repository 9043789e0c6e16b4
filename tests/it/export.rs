//! `zonefeed export`: the Parquet dataset, read back by an independent reader (DuckDB's Python
//! package, as Spark or Trino would read it), incremental, whole after a kill -9.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::env::{self, TestEnv};

/// Whether DuckDB's Python package is there, else false after saying loudly that the test
/// skips. With ZONEFEED_REQUIRE_DUCKDB=1 (CI installs it) a missing package fails the test
/// instead.
fn duckdb(test: &str) -> bool {
    let ok = Command::new("python3").args(["-c", "import duckdb"]).output().is_ok_and(|o| o.status.success());
    if ok {
        return true;
    }
    env::skip(test, "ZONEFEED_REQUIRE_DUCKDB", "python3 has no duckdb (pip install duckdb)");
    false
}

/// Runs a Python script with DuckDB over the dataset in `dir`; its stdout as JSON.
fn duck(dir: &Path, script: &str) -> serde_json::Value {
    let prelude = "import duckdb, json, sys\nD = sys.argv[1]\n\
        def q(sql, *args):\n    return duckdb.sql(sql.replace('$D', D)).fetchall() if not args else duckdb.execute(sql.replace('$D', D), list(args)).fetchall()\n";
    let out = Command::new("python3").args(["-c", &format!("{prelude}{script}"), dir.to_str().unwrap()]).output().expect("python3 runs");
    assert!(out.status.success(), "duckdb script: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

const DATES: [&str; 4] = ["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"];

#[test]
fn duckdb_reads_each_days_domains_changes_and_records_as_zonegen_says() {
    let Some(sh) = env::shared("duckdb_reads_each_days_domains_changes_and_records") else { return };
    if !duckdb("duckdb_reads_each_days_domains_changes_and_records") {
        return;
    }
    let t = TestEnv::new();
    // Two zones, days 0..3 each, backfilled with their dates.
    for tld in ["com", "net"] {
        for (d, date) in DATES.iter().enumerate() {
            let text = env::zonegen(&sh, &["zone", "--tld", tld, "--domains", "2000", "--day", &d.to_string()]);
            let f = t.write(&format!("{tld}{d}.zone"), &text);
            t.import_ok("x.db", &["--date", date, f.to_str().unwrap()]);
        }
    }
    let dir = t.path("ds");
    let out = t.run(&["--db", "x.db", "--json", "export", "--to", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Three tables for each of 8 versions (the changes of a zone's first version: no rows, no file).
    assert_eq!(report["written"].as_array().unwrap().len(), 24, "{report}");

    let got = duck(
        &dir,
        r#"
out = {}
for tld, date, n, names in q("""SELECT tld, CAST(date AS VARCHAR), count(*), list(name ORDER BY name)
        FROM read_parquet('$D/domains/**/*.parquet', hive_partitioning = true) GROUP BY ALL"""):
    import hashlib
    names = sorted(names, key=lambda s: s.encode())
    out.setdefault(f"{tld} {date}", {})["domains"] = [n, hashlib.sha256("\n".join(names).encode()).hexdigest()]
for tld, date, changes in q("""SELECT tld, CAST(date AS VARCHAR), list(kind || chr(9) || domain ORDER BY domain)
        FROM read_parquet('$D/changes/**/*.parquet', hive_partitioning = true) GROUP BY ALL"""):
    out.setdefault(f"{tld} {date}", {})["changes"] = changes
for tld, date, ty, n in q("""SELECT tld, CAST(date AS VARCHAR), lower(type), count(*)
        FROM read_parquet('$D/records/**/*.parquet', hive_partitioning = true) GROUP BY ALL"""):
    out.setdefault(f"{tld} {date}", {}).setdefault("types", {})[ty] = n
# The declared types: DATE columns, a list of hosts, nested diffs.
types = dict(q("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('$D/domains/**/*.parquet', hive_partitioning = true))"))
ctypes = dict(q("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('$D/changes/**/*.parquet', hive_partitioning = true))"))
out["types"] = {"first_seen": types["first_seen"], "ns": types["ns"], "at": ctypes["at"], "diff": ctypes["diff"], "moved": ctypes["moved"]}
out["diffs"] = [[d, json.loads(j)] for d, j in q("""SELECT domain, to_json({diff: diff, moved: moved}) FROM read_parquet('$D/changes/tld=com/date=2026-11-22/*.parquet')
        WHERE kind = 'modified' ORDER BY domain""")]
print(json.dumps(out))
"#,
    );
    for tld in ["com", "net"] {
        for (d, date) in DATES.iter().enumerate() {
            let key = format!("{tld} {date}");
            let truth: serde_json::Value =
                serde_json::from_slice(&env::zonegen(&sh, &["truth", "--tld", tld, "--domains", "2000", "--day", &d.to_string()])).unwrap();
            assert_eq!(got[&key]["domains"][0], truth["domains"], "{key}");
            assert_eq!(got[&key]["domains"][1], truth["domains_sha256"], "{key}");
            assert_eq!(got[&key]["types"], truth["types"], "{key}");
            if d == 0 {
                assert!(got[&key].get("changes").is_none(), "a zone's first version has no events: {key}");
                continue;
            }
            let want =
                env::zonegen(&sh, &["changes", "--tld", tld, "--domains", "2000", "--from", &(d - 1).to_string(), "--to", &d.to_string()]);
            let want: Vec<String> = String::from_utf8(want).unwrap().lines().map(String::from).collect();
            let mut have: Vec<String> = got[&key]["changes"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
            have.sort_by(|a, b| a.split('\t').nth(1).cmp(&b.split('\t').nth(1)));
            assert_eq!(have, want, "{key}");
        }
    }
    assert_eq!(got["types"]["first_seen"], "DATE");
    assert_eq!(got["types"]["at"], "DATE");
    assert_eq!(got["types"]["ns"], "VARCHAR[]");
    assert!(got["types"]["diff"].as_str().unwrap().starts_with("STRUCT(added STRUCT(\"owner\" VARCHAR"), "{}", got["types"]["diff"]);
    // The nested diff and move equal what `changes --json` says for the same day.
    let out = t.run(&["--db", "x.db", "--json", "changes", "--tld", "com", "--kind", "modified", "--since", DATES[2]]);
    let cli: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cli: BTreeMap<String, (serde_json::Value, serde_json::Value)> = cli
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["at"].as_str().unwrap().starts_with(DATES[2]))
        .map(|e| {
            (e["domain"].as_str().unwrap().to_string(), (e["diff"].clone(), e.get("moved").cloned().unwrap_or(serde_json::Value::Null)))
        })
        .collect();
    let diffs = got["diffs"].as_array().unwrap();
    assert_eq!(diffs.len(), cli.len());
    assert!(!diffs.is_empty());
    for d in diffs {
        let (want_diff, want_moved) = &cli[d[0].as_str().unwrap()];
        assert_eq!(&d[1]["diff"], want_diff, "{}", d[0]);
        assert_eq!(&d[1]["moved"], want_moved, "{}", d[0]);
    }
}

/// Every file under `dir` with its bytes, by relative path (none when a run killed early
/// never made `dir`).
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = if dir.exists() { vec![dir.to_path_buf()] } else { Vec::new() };
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.strip_prefix(dir).unwrap().display().to_string(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn export(t: &TestEnv, db: &str, dir: &Path) -> serde_json::Value {
    let out = t.run(&["--db", db, "--json", "export", "--to", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A database of two synthetic zones, `days` days each.
fn synth_db(t: &TestEnv, db: &str, domains: u64, days: u64) {
    for tld in ["com", "org"] {
        for d in 0..days {
            let f = env::synth_day(t, &format!("{tld}-{d}.zone"), tld, domains, 7, d);
            t.import_ok(db, &["--date", DATES[d as usize], f.to_str().unwrap()]);
        }
    }
}

#[test]
fn a_second_run_writes_nothing_and_a_new_day_only_its_partitions() {
    let t = TestEnv::new();
    synth_db(&t, "a.db", 300, 2);
    let dir = t.path("out");
    let first = export(&t, "a.db", &dir);
    assert_eq!(first["written"].as_array().unwrap().len(), 3 * 2 * 2, "{first}");
    let before = files(&dir);
    let again = export(&t, "a.db", &dir);
    assert_eq!(again["written"].as_array().unwrap().len(), 0, "{again}");
    assert_eq!(again["kept"], 12);
    assert_eq!(files(&dir), before, "a second run changes no byte");
    // A new day: only its partitions.
    let f = env::synth_day(&t, "com-2.zone", "com", 300, 7, 2);
    t.import_ok("a.db", &["--date", DATES[2], f.to_str().unwrap()]);
    let next = export(&t, "a.db", &dir);
    let keys: Vec<String> =
        next["written"].as_array().unwrap().iter().map(|w| format!("{} {} {}", w["table"], w["tld"], w["date"])).collect();
    assert_eq!(keys, ["\"domains\" \"com\" \"2026-11-22\"", "\"records\" \"com\" \"2026-11-22\"", "\"changes\" \"com\" \"2026-11-22\""]);
    let after = files(&dir);
    for (k, v) in &before {
        if k != "zonefeed-export.json" {
            assert_eq!(after.get(k), Some(v), "{k} rewritten");
        }
    }
    // A part file that is not the one written (junk of the same size, or cut short) is
    // written again, not trusted because the manifest names it.
    let part = "domains/tld=com/date=2026-11-20/part-0.parquet";
    let good = after[part].clone();
    std::fs::write(dir.join(part), vec![b'x'; good.len()]).unwrap();
    let fixed = export(&t, "a.db", &dir);
    assert_eq!(fixed["written"].as_array().unwrap().len(), 1, "{fixed}");
    assert_eq!(std::fs::read(dir.join(part)).unwrap(), good);
    std::fs::write(dir.join(part), &good[..good.len() / 2]).unwrap();
    assert_eq!(export(&t, "a.db", &dir)["written"].as_array().unwrap().len(), 1);
    assert_eq!(std::fs::read(dir.join(part)).unwrap(), good);
    // --tables, --tld and --since choose what goes.
    let dir2 = t.path("out2");
    let out = t.run(&[
        "--db",
        "a.db",
        "--json",
        "export",
        "--to",
        dir2.to_str().unwrap(),
        "--tables",
        "domains",
        "--tld",
        "org",
        "--since",
        DATES[1],
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<String> = v["written"].as_array().unwrap().iter().map(|w| format!("{} {} {}", w["table"], w["tld"], w["date"])).collect();
    assert_eq!(keys, ["\"domains\" \"org\" \"2026-11-21\""]);
}

/// A Parquet file is whole when it starts and ends with its magic and the footer length fits.
fn whole_parquet(bytes: &[u8]) -> bool {
    let n = bytes.len();
    n >= 12 && &bytes[..4] == b"PAR1" && &bytes[n - 4..] == b"PAR1" && {
        let footer = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().unwrap()) as usize;
        footer + 12 <= n
    }
}

#[test]
fn killed_mid_export_leaves_only_whole_files_and_a_rerun_equals_a_clean_run() {
    let t = TestEnv::new();
    synth_db(&t, "k.db", 20_000, 3);
    let clean = t.path("clean");
    export(&t, "k.db", &clean);
    let want = files(&clean);
    let dir = t.path("killed");
    let mut killed = 0;
    for delay_ms in [5u64, 40, 120, 300, 700] {
        let mut child = t
            .cmd()
            .args(["--db", "k.db", "-q", "export", "--to", dir.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        }
        child.wait().unwrap();
        for (name, bytes) in files(&dir) {
            if name.ends_with(".parquet") {
                assert!(whole_parquet(&bytes), "killed after {delay_ms} ms: {name} is visible and partial");
            }
            if name == "zonefeed-export.json" {
                serde_json::from_slice::<serde_json::Value>(&bytes).expect("the manifest is whole");
            }
        }
        if files(&dir).keys().filter(|k| k.ends_with(".parquet")).count() == want.keys().filter(|k| k.ends_with(".parquet")).count() {
            break;
        }
    }
    assert!(killed > 0, "the export always finished before it was killed; make the zones bigger");
    export(&t, "k.db", &dir);
    assert_eq!(files(&dir).keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());
    assert!(files(&dir) == want, "a rerun after kills gives the clean run's bytes");
}

#[test]
fn a_file_a_foreign_directory_and_an_unknown_table_are_usage_errors() {
    let t = TestEnv::new();
    synth_db(&t, "b.db", 50, 1);
    let file = t.write("plain.txt", b"x");
    let out = t.run(&["--db", "b.db", "export", "--to", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a directory"), "{}", String::from_utf8_lossy(&out.stderr));
    let foreign: PathBuf = t.path("theirs");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("report.csv"), "a,b\n").unwrap();
    let out = t.run(&["--db", "b.db", "export", "--to", foreign.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a zonefeed export"), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_dir(&foreign).unwrap().count(), 1, "nothing written into someone else's directory");
    let out = t.run(&["--db", "b.db", "export", "--to", t.path("new").to_str().unwrap(), "--tables", "domains,zones"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("zones"));
    // A first run killed before its manifest's rename left only the lock and that temporary
    // file: the directory is still ours (the kill test caught this once).
    let half = t.path("half");
    std::fs::create_dir_all(&half).unwrap();
    std::fs::write(half.join(".zonefeed-export.lock"), b"").unwrap();
    std::fs::write(half.join(".tmp-x1y2z3"), b"{\"form").unwrap();
    export(&t, "b.db", &half);
    assert!(!half.join(".tmp-x1y2z3").exists(), "the leftover is removed");
    // A damaged manifest is named, not overwritten.
    let dir = t.path("dmg");
    export(&t, "b.db", &dir);
    std::fs::write(dir.join("zonefeed-export.json"), b"{not json").unwrap();
    let out = t.run(&["--db", "b.db", "export", "--to", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("zonefeed-export.json"));
}
