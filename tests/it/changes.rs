//! Change tracking: events between versions equal zonegen's change sets; guards.

use std::path::{Path, PathBuf};

use crate::env::{self, summary, TestEnv};

/// zonegen's signed zone of `domains` domains on `day` in `style`, written as
/// `{prefix}{day}{style joined}.zone`.
fn signed_day(t: &TestEnv, sh: &Path, prefix: &str, domains: &str, day: &str, style: &[&str]) -> PathBuf {
    let mut a = vec!["zone", "--domains", domains, "--day", day, "--signed"];
    a.extend_from_slice(style);
    t.write(&format!("{prefix}{day}{}.zone", style.join("")), &env::zonegen(sh, &a))
}

fn changes_tsv(t: &TestEnv, db: &str, version: i64) -> String {
    let v = version.to_string();
    let out = t.run(&["--db", db, "changes", "--zone-version", &v, "--format", "tsv"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn events_equal_zonegen_changes_in_order_skipped_and_repeated() {
    let Some(sh) = env::shared("events_equal_zonegen_changes_in_order_skipped_and_repeated") else { return };
    let t = TestEnv::new();
    let zone = |day: &str, style: &[&str]| signed_day(&t, &sh, "d", "2000", day, style);
    let want =
        |from: &str, to: &str| String::from_utf8(env::zonegen(&sh, &["changes", "--domains", "2000", "--from", from, "--to", to])).unwrap();
    let base = summary(&t.import_ok("c.db", &[zone("0", &["--shuffle"]).to_str().unwrap()]));
    assert_eq!(changes_tsv(&t, "c.db", base["version"].as_i64().unwrap()), "", "the baseline records no events");
    // Consecutive days, master style after czds.
    let v1 = summary(&t.import_ok("c.db", &[zone("1", &["--style", "master"]).to_str().unwrap()]));
    assert_eq!(changes_tsv(&t, "c.db", v1["version"].as_i64().unwrap()), want("0", "1"));
    // The same file again: nothing new.
    let again = summary(&t.import_ok("c.db", &[t.path("d1--stylemaster.zone").to_str().unwrap()]));
    assert_eq!(again["unchanged"], true);
    // A skipped day.
    let v3 = summary(&t.import_ok("c.db", &[zone("3", &[]).to_str().unwrap()]));
    let got = changes_tsv(&t, "c.db", v3["version"].as_i64().unwrap());
    assert_eq!(got, want("1", "3"));
    assert!(got.lines().count() > 20 && got.contains("added\t") && got.contains("removed\t") && got.contains("modified\t"));
    // Removed domains keep their row; the current list is removed_at IS NULL.
    let conn = t.db("c.db");
    let removed: i64 = conn
        .query_row(
            "SELECT count(*) FROM domains d JOIN zones z ON z.tld = d.tld AND z.state = 'current' WHERE d.removed_at IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let want_removed = want("0", "1").lines().chain(want("1", "3").lines()).filter(|l| l.starts_with("removed")).count() as i64;
    assert!(removed >= want_removed - 2 && removed > 0, "{removed} vs {want_removed}");
    // Without --version: every event, oldest version first.
    let out = t.run(&["--db", "c.db", "changes", "--format", "tsv"]);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), want("0", "1") + &want("1", "3"));
    let out = t.run(&["--db", "c.db", "changes", "--kind", "added", "--format", "jsonl"]);
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!lines.is_empty() && lines.iter().all(|e| e["kind"] == "added" && e["tld"] == "com"));
}

#[test]
fn older_serial_and_mass_removal_are_refused_without_force() {
    let Some(sh) = env::shared("older_serial_and_mass_removal_are_refused_without_force") else { return };
    let t = TestEnv::new();
    let day = |d: &str, n: &str| t.write(&format!("d{d}-{n}.zone"), &env::zonegen(&sh, &["zone", "--domains", n, "--day", d]));
    let d2 = day("2", "1000");
    t.import_ok("g.db", &[d2.to_str().unwrap()]);
    let before = env::tables(&t.db("g.db"));
    let d1 = day("1", "1000");
    let out = t.run(&["--db", "g.db", "import", d1.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is older than the current version's"));
    assert_eq!(env::tables(&t.db("g.db")), before, "refused import changes nothing");
    // A short but valid file (a tenth of the zone) would remove 90%.
    let short = day("3", "100");
    let out = t.run(&["--db", "g.db", "import", "--tld", "com", short.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--max-removed 5%"), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(env::tables(&t.db("g.db")), before);
    let events: i64 = t.db("g.db").query_row("SELECT count(*) FROM events", [], |r| r.get(0)).unwrap();
    assert_eq!(events, 0, "a refused import leaves no events behind");
    env::assert_settled(&t.db("g.db"));
    // --force takes both.
    t.import_ok("g.db", &["--force", d1.to_str().unwrap()]);
    assert_eq!(t.run(&["--db", "g.db", "changes", "--since", "not-a-date"]).status.code(), Some(2));
}

/// Imports store only what changed; the state they leave must be the state one import of the
/// last file gives, whatever came before (styles, skipped days, `--no-records` in between).
#[test]
fn a_chain_of_imports_leaves_what_one_import_of_the_last_day_leaves() {
    let Some(sh) = env::shared("a_chain_of_imports_leaves_what_one_import_of_the_last_day_leaves") else { return };
    let t = TestEnv::new();
    let zone = |day: &str, style: &[&str]| signed_day(&t, &sh, "chain", "3000", day, style);
    let d0 = zone("0", &["--shuffle"]);
    let d1 = zone("1", &["--style", "master"]);
    let d2 = zone("2", &[]);
    let d3 = zone("3", &["--style", "master", "--shuffle"]);
    let p = |f: &std::path::Path| f.to_str().unwrap().to_string();
    for (db, steps) in [
        ("days.db", vec![vec![p(&d0)], vec![p(&d1)], vec![p(&d2)], vec![p(&d3)]]),
        ("skip.db", vec![vec![p(&d0)], vec![p(&d3)]]),
        ("modes.db", vec![vec![p(&d0)], vec!["--no-records".into(), p(&d1)], vec![p(&d2)], vec![p(&d3)]]),
    ] {
        for args in &steps {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            t.import_ok(db, &args);
        }
    }
    // The same days with pages of 7 current rows and a commit every 7 rows: the merge reads
    // many pages across many commits of its own changes.
    for day in [&d0, &d1, &d2, &d3] {
        let out = t.cmd().env("ZONEFEED_TEST_BATCH", "7").args(["--db", "paged.db", "--quiet", "import", &p(day)]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    t.import_ok("fresh.db", &[&p(&d3)]);
    let fresh = env::tables(&t.db("fresh.db"));
    assert!(fresh.0.len() > 6000 && fresh.0.iter().any(|r| r.contains(" RRSIG ")));
    assert!(fresh.1.iter().any(|g| g.starts_with("group com com ")), "the apex is a group of its own");
    for db in ["days.db", "skip.db", "modes.db", "paged.db"] {
        let got = env::tables(&t.db(db));
        assert_eq!(got.0.len(), fresh.0.len(), "{db}: records");
        assert_eq!(got, fresh, "{db}");
        env::assert_settled(&t.db(db));
    }
    // --no-records drops every record and group row of the zone, and keeps the domains.
    t.import_ok("days.db", &["--no-records", "--force", &p(&d2)]);
    let conn = t.db("days.db");
    let n = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!((n("SELECT count(*) FROM records"), n("SELECT count(*) FROM record_groups")), (0, 0));
    let truth: serde_json::Value =
        serde_json::from_slice(&env::zonegen(&sh, &["truth", "--domains", "3000", "--day", "2", "--signed"])).unwrap();
    assert_eq!(env::domains_sha256(&conn, "com"), truth["domains_sha256"].as_str().unwrap());
}
