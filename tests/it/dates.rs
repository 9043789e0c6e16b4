//! Right on any day: read paths count from the data's zone dates, not the clock (each runs
//! here with the clock years away from the data); history as of a day ends on that day; a
//! domain that comes back after `prune` is current again.

use std::process::Output;

use crate::env::TestEnv;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A `test.` zone in czds form: each domain `(label, ns host)`, with glue for the hosts under
/// `test.`.
fn zone(serial: u32, domains: &[(&str, &str)]) -> Vec<u8> {
    let mut t =
        format!("test.\t86400\tin\tsoa\tns.nic.test. h.nic.test. {serial} 1800 900 604800 86400\ntest.\t172800\tin\tns\tns.nic.test.\n");
    for (label, ns) in domains {
        t.push_str(&format!("{label}.test.\t172800\tin\tns\t{ns}.\n"));
        if let Some(under) = ns.strip_suffix(".test") {
            if under.ends_with(label) {
                t.push_str(&format!("{ns}.\t172800\tin\ta\t192.0.2.{}\n", 1 + label.len()));
            }
        }
    }
    t.into_bytes()
}

/// `zonefeed ARGS` with the clock at `now`.
fn run_at(t: &TestEnv, now: &str, args: &[&str]) -> Output {
    t.cmd().env("ZONEFEED_NOW", now).args(args).output().expect("run zonefeed")
}

fn import(t: &TestEnv, db: &str, name: &str, text: &[u8], date: &str, extra: &[&str]) {
    let f = t.write(name, text);
    let mut a = vec!["--db", db, "-q", "import", "--tld", "test", "--date", date, "--max-removed", "100"];
    a.extend_from_slice(extra);
    a.push(f.to_str().unwrap());
    let out = run_at(t, "2026-12-06T12:00:00Z", &a);
    assert!(out.status.success(), "import {name}: {}", stderr(&out));
}

const FAR: &str = "2031-06-01T00:00:00Z";

/// Five backfilled days, 2026-11-01..05: `moving` goes from ns.one.example to
/// ns.two.example on day 3, `late` gains ns.two.example on day 5.
fn backfill(t: &TestEnv, db: &str) {
    let days: [&[(&str, &str)]; 5] = [
        &[("a", "ns.one.example"), ("moving", "ns.one.example")],
        &[("a", "ns.one.example"), ("moving", "ns.one.example"), ("b", "ns.one.example")],
        &[("a", "ns.one.example"), ("moving", "ns.two.example"), ("b", "ns.one.example")],
        &[("a", "ns.one.example"), ("moving", "ns.two.example")],
        &[("a", "ns.one.example"), ("moving", "ns.two.example"), ("late", "ns.two.example")],
    ];
    for (i, d) in days.iter().enumerate() {
        import(t, db, &format!("d{i}.zone"), &zone(2026110100 + i as u32, d), &format!("2026-11-0{}", i + 1), &[]);
    }
}

#[test]
fn a_name_servers_window_counts_back_from_the_newest_zone_date_whatever_the_clock() {
    let t = TestEnv::new();
    backfill(&t, "ns.db");
    for now in ["2026-11-05T23:00:00Z", "2026-12-06T12:00:00Z", FAR] {
        let out = run_at(&t, now, &["--db", "ns.db", "--json", "ns", "ns.two.example"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["as_of"], "2026-11-05T00:00:00Z", "{now}");
        assert_eq!(v["added"], serde_json::json!(["late.test", "moving.test"]), "{now}: {v}");
        let out = run_at(&t, now, &["--db", "ns.db", "--json", "ns", "ns.one.example", "--days", "2"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        // 11-04 and 11-05: b went on 11-04; moving left on 11-03, outside.
        assert_eq!(v["removed"], serde_json::json!(["b.test"]), "{now}: {v}");
        let text = stdout(&run_at(&t, now, &["--db", "ns.db", "ns", "ns.two.example"]));
        assert!(text.contains("added in the 30 days to 2026-11-05: 2"), "{now}: {text}");
    }
    // The API says the same, whatever the clock.
    let s = crate::serve::start_with_env(&t, "ns.db", &[("ZONEFEED_NOW", FAR)]);
    let (status, v) = crate::serve::get(&format!("{}/v1/nameservers/ns.two.example", s.base));
    assert_eq!(status, 200, "{v}");
    assert_eq!((&v["as_of"], &v["added"]), (&serde_json::json!("2026-11-05T00:00:00Z"), &serde_json::json!(["late.test", "moving.test"])));
    let (_, v) = crate::serve::get(&format!("{}/v1/changes?since=1d", s.base));
    let got: Vec<&str> = v["items"].as_array().unwrap().iter().map(|e| e["domain"].as_str().unwrap()).collect();
    assert_eq!(got, ["late.test"], "{v}");
}

#[test]
fn an_age_in_since_counts_back_from_the_newest_zone_date() {
    let t = TestEnv::new();
    backfill(&t, "s.db");
    for now in ["2026-11-05T08:00:00Z", FAR] {
        let out = run_at(&t, now, &["--db", "s.db", "--format", "tsv", "changes", "--since", "1d"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stdout(&out), "added\tlate.test\n", "{now}");
        let out = run_at(&t, now, &["--db", "s.db", "--format", "tsv", "changes", "--since", "3d"]);
        assert_eq!(stdout(&out), "modified\tmoving.test\nremoved\tb.test\nadded\tlate.test\n", "{now}");
    }
}

#[test]
fn history_as_of_a_day_ends_on_that_day() {
    let t = TestEnv::new();
    backfill(&t, "h.db");
    let out = run_at(&t, FAR, &["--db", "h.db", "--json", "domain", "b.test", "--at", "2026-11-03", "--history"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: Vec<(&str, &str)> =
        v[0]["history"].as_array().unwrap().iter().map(|e| (e["at"].as_str().unwrap(), e["kind"].as_str().unwrap())).collect();
    assert_eq!(kinds, [("2026-11-02T00:00:00Z", "added")], "the 11-04 removal is after 11-03");
    assert_eq!(v[0]["removed_at"], serde_json::Value::Null);
    // Without --at the whole history shows.
    let v: serde_json::Value =
        serde_json::from_slice(&run_at(&t, FAR, &["--db", "h.db", "--json", "domain", "b.test", "--history"]).stdout).unwrap();
    assert_eq!(v[0]["history"].as_array().unwrap().len(), 2, "{v}");
    // An RFC 3339 time stands for its day; an age is refused, and the message offers none.
    let out = run_at(&t, FAR, &["--db", "h.db", "--json", "domain", "b.test", "--at", "2026-11-03T06:00:00Z", "--history"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run_at(&t, FAR, &["--db", "h.db", "domain", "b.test", "--at", "2d"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!stderr(&out).contains("7d"), "{}", stderr(&out));
    // The API the same, and its 404 for a day before any version says so.
    let s = crate::serve::start_with_env(&t, "h.db", &[("ZONEFEED_NOW", FAR)]);
    let (_, v) = crate::serve::get(&format!("{}/v1/domains/moving.test?at=2026-11-02", s.base));
    let hist: Vec<&str> = v["zones"][0]["history"].as_array().unwrap().iter().map(|e| e["at"].as_str().unwrap()).collect();
    assert!(hist.is_empty(), "moving.test's 11-03 change shows on 11-02: {v}");
    let (status, v) = crate::serve::get(&format!("{}/v1/domains/moving.test?at=2026-10-01", s.base));
    assert_eq!(status, 404);
    assert!(v["error"]["message"].as_str().unwrap().contains("current on 2026-10-01"), "{v}");
}

#[test]
fn versions_on_a_day_are_chosen_by_zone_date_and_dates_are_bounded() {
    let t = TestEnv::new();
    import(&t, "f.db", "a.zone", &zone(3, &[("a", "ns.one.example"), ("x", "ns.one.example")]), "2026-11-03", &[]);
    // An older day imported after it (--force): the version of 11-03 is still 11-03's.
    import(&t, "f.db", "b.zone", &zone(2, &[("a", "ns.one.example")]), "2026-11-02", &["--force"]);
    let out = run_at(&t, FAR, &["--db", "f.db", "--json", "domain", "x.test", "--at", "2026-11-03"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["removed_at"], serde_json::Value::Null, "x.test was in the zone of 11-03: {v}");
    for bad in ["0000-01-01", "9999-12-31"] {
        let f = t.write("c.zone", &zone(4, &[("a", "ns.one.example")]));
        let out = t.run(&["--db", "f.db", "import", "--date", bad, f.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "--date {bad}: {}", stderr(&out));
    }
}

/// The current state of a database, as a user reads it: current domains with their NS, the
/// count the zone row gives, and the domain x.test's page.
fn state(t: &TestEnv, db: &str) -> (Vec<String>, i64, serde_json::Value) {
    let c = t.db(db);
    let names: Vec<String> = c
        .prepare("SELECT name FROM current_domains ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let count: i64 = c.query_row("SELECT domains FROM zones WHERE state = 'current'", [], |r| r.get(0)).unwrap();
    let out = t.run(&["--db", db, "--json", "domain", "x.test"]);
    assert!(out.status.success(), "{db}: x.test is not found: {}", stderr(&out));
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // What prune rightly forgets: when it was first seen, and version numbers.
    for k in ["first_seen", "zone_version"] {
        v[0][k] = serde_json::Value::Null;
    }
    (names, count, v)
}

#[test]
fn a_domain_that_comes_back_after_prune_is_current_again_as_if_nothing_was_pruned() {
    for records in [true, false] {
        for (back_ns, later_ns) in [("ns.one.example", "ns.two.example"), ("ns.x.test", "ns.one.example")] {
            let t = TestEnv::new();
            let extra: &[&str] = if records { &[] } else { &["--no-records"] };
            let base = [("a", "ns.one.example"), ("b", "ns.one.example"), ("c", "ns.one.example")];
            let with_x = |ns| [base[0], base[1], base[2], ("x", ns)];
            for db in ["pruned.db", "kept.db"] {
                import(&t, db, "d1.zone", &zone(1, &with_x("ns.one.example")), "2026-07-01", extra);
                import(&t, db, "d2.zone", &zone(2, &base), "2026-07-02", extra);
            }
            let out = run_at(&t, "2026-12-06T12:00:00Z", &["--db", "pruned.db", "-q", "prune", "--keep-days", "90"]);
            assert!(out.status.success(), "{}", stderr(&out));
            let gone: i64 = t
                .db("pruned.db")
                .query_row("SELECT count(*) FROM domains WHERE name = 'x.test' AND until IS NULL", [], |r| r.get(0))
                .unwrap();
            assert_eq!(gone, 0, "prune dropped the removed row");
            let what = format!("records {records}, back with {back_ns}, then {later_ns}");
            for (i, (ns, date)) in [(back_ns, "2026-12-06"), (later_ns, "2026-12-07")].into_iter().enumerate() {
                for db in ["pruned.db", "kept.db"] {
                    import(&t, db, &format!("back{i}.zone"), &zone(3 + i as u32, &with_x(ns)), date, extra);
                }
                let (pruned, kept) = (state(&t, "pruned.db"), state(&t, "kept.db"));
                assert_eq!(pruned, kept, "{what}, day {date}");
                assert!(pruned.0.contains(&"x.test".to_string()) && pruned.1 == 4, "{what}: {pruned:?}");
            }
            // The return and the later change were recorded, as in the database never pruned.
            let events = |db: &str| stdout(&t.run(&["--db", db, "--format", "tsv", "changes", "--since", "2026-12-01"]));
            assert_eq!(events("pruned.db"), events("kept.db"), "{what}");
            assert_eq!(events("pruned.db"), "added\tx.test\nmodified\tx.test\n", "{what}");
            let search = |db: &str| stdout(&t.run(&["--db", db, "--format", "tsv", "search", "x.test"]));
            assert_eq!(search("pruned.db"), search("kept.db"), "{what}");
            assert!(search("pruned.db").contains("x.test"), "{what}");
            if records {
                let pivot = |db: &str| stdout(&t.run(&["--db", db, "--format", "tsv", "search", "--ns", later_ns]));
                assert_eq!(pivot("pruned.db"), pivot("kept.db"), "{what}");
                assert!(pivot("pruned.db").contains("x.test"), "{what}");
            }
        }
    }
}

/// Prune drops the name-server hosts that only the rows it dropped named, and what is left
/// reads the same.
#[test]
fn prune_drops_the_hosts_no_row_names_any_more() {
    let t = TestEnv::new();
    import(&t, "h.db", "d1.zone", &zone(1, &[("a", "ns.one.example"), ("b", "ns.gone.example")]), "2026-07-01", &[]);
    import(&t, "h.db", "d2.zone", &zone(2, &[("a", "ns.one.example"), ("b", "ns.one.example")]), "2026-07-02", &[]);
    let c = t.db("h.db");
    let list = |sql: &str| -> Vec<String> { c.prepare(sql).unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect() };
    let current = "SELECT owner || ' ' || type || ' ' || rdata FROM current_records ORDER BY 1";
    let before = list(current);
    assert_eq!(list("SELECT name FROM hosts ORDER BY name"), ["ns.gone.example", "ns.one.example"]);
    let out = run_at(&t, FAR, &["--db", "h.db", "--format", "json", "prune", "--keep-days", "30"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let p: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(p["hosts"], 1, "{p}");
    assert_eq!(list("SELECT name FROM hosts ORDER BY name"), ["ns.one.example"]);
    assert_eq!(list(current), before);
    assert!(before.contains(&"b.test NS ns.one.example".to_string()), "{before:?}");
}

/// A pivot on a past day that the index does not cover says so instead of finding nothing
/// silently: after a --no-records day, and before a prune's cutoff.
#[test]
fn a_pivot_on_a_day_the_index_does_not_cover_says_why() {
    let t = TestEnv::new();
    let day = [("a", "ns.one.example"), ("b", "ns.one.example")];
    import(&t, "p.db", "d1.zone", &zone(1, &day), "2026-11-01", &[]);
    import(&t, "p.db", "d2.zone", &zone(2, &day[..1]), "2026-11-02", &[]);
    // Covered: found, nothing to say.
    let out = run_at(&t, FAR, &["--db", "p.db", "search", "--ns", "ns.one.example", "--at", "2026-11-01"]);
    assert_eq!(stdout(&out), "a.test\nb.test\n", "{}", stderr(&out));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    // Pruned: the day before the cutoff is said to be pruned.
    let out = run_at(&t, "2026-12-06T12:00:00Z", &["--db", "p.db", "-q", "prune", "--keep-days", "0", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run_at(&t, FAR, &["--db", "p.db", "search", "--ns", "ns.one.example", "--at", "2026-11-01"]);
    assert!(stderr(&out).contains("was pruned"), "{}", stderr(&out));
    // A --no-records day drops the records, and the index with them.
    import(&t, "p.db", "d3.zone", &zone(3, &day), "2026-11-03", &["--no-records"]);
    let out = run_at(&t, FAR, &["--db", "p.db", "search", "--ns", "ns.one.example", "--at", "2026-11-01"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no name-server index") || stderr(&out).contains("imported with --no-records"), "{}", stderr(&out));
}
