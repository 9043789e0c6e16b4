//! History (issue "History that answers what was it before"): replaced rows are kept, and a
//! modified event says what changed, checked against the zone texts themselves.

use std::collections::{BTreeMap, BTreeSet};

use crate::env::{self, TestEnv};

/// (owner, TYPE, ttl, rdata) as zonefeed stores them, computed here from czds-style text:
/// names without their final dot, IPv6 as RFC 5952 writes it.
type Rec = (String, String, i64, String);

/// Every domain's records (at or below it, RRSIG/NSEC/NSEC3 left out) in a czds-style text.
fn records_by_domain(text: &[u8], tld: &str) -> BTreeMap<String, BTreeSet<Rec>> {
    let mut out: BTreeMap<String, BTreeSet<Rec>> = BTreeMap::new();
    for line in String::from_utf8_lossy(text).lines() {
        let f: Vec<&str> = line.splitn(5, '\t').collect();
        let (owner, ttl, rtype, rdata) = (f[0].trim_end_matches('.').to_string(), f[1].parse().unwrap(), f[3].to_ascii_uppercase(), f[4]);
        if matches!(rtype.as_str(), "RRSIG" | "NSEC" | "NSEC3" | "SOA" | "DNSKEY" | "NSEC3PARAM") || owner == tld {
            continue;
        }
        let labels: Vec<&str> = owner.split('.').collect();
        let domain = labels[labels.len() - 2..].join(".");
        let rdata = match rtype.as_str() {
            "NS" => rdata.trim_end_matches('.').to_string(),
            "AAAA" => rdata.parse::<std::net::Ipv6Addr>().unwrap().to_string(),
            _ => rdata.to_string(),
        };
        out.entry(domain).or_default().insert((owner, rtype, ttl, rdata));
    }
    out
}

fn providers(recs: &BTreeSet<Rec>, domain: &str) -> BTreeSet<String> {
    recs.iter().filter(|r| r.1 == "NS" && r.0 == domain).map(|r| psl::domain_str(&r.3).unwrap_or(&r.3).to_string()).collect()
}

fn recs_of(v: &serde_json::Value) -> BTreeSet<Rec> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["owner"].as_str().unwrap().into(),
                r["type"].as_str().unwrap().into(),
                r["ttl"].as_i64().unwrap(),
                r["rdata"].as_str().unwrap().into(),
            )
        })
        .collect()
}

#[test]
fn every_modified_event_carries_the_diff_of_the_two_days_texts_and_moved_when_providers_changed() {
    let Some(sh) = env::shared("every_modified_event_carries_the_diff_of_the_two_days_texts") else { return };
    let t = TestEnv::new();
    let days: Vec<Vec<u8>> =
        (0..4).map(|d| env::zonegen(&sh, &["zone", "--domains", "3000", "--day", &d.to_string(), "--signed"])).collect();
    let by_day: Vec<_> = days.iter().map(|d| records_by_domain(d, "com")).collect();
    for style in ["czds", "master"] {
        let db = format!("{style}.db");
        for (d, czds) in days.iter().enumerate() {
            let text = if style == "czds" {
                czds.clone()
            } else {
                env::zonegen(&sh, &["zone", "--domains", "3000", "--day", &d.to_string(), "--signed", "--style", "master"])
            };
            let f = t.write(&format!("{style}-{d}.zone"), &text);
            t.import_ok(&db, &[f.to_str().unwrap()]);
        }
        let out = t.run(&["--db", &db, "changes", "--kind", "modified", "--format", "jsonl"]);
        let events: Vec<serde_json::Value> =
            String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert!(events.len() > 20, "{style}: {} modified events", events.len());
        let (mut moved, mut stayed) = (0, 0);
        for e in &events {
            let day = e["zone_version"].as_i64().unwrap() as usize - 1;
            let domain = e["domain"].as_str().unwrap();
            let empty = BTreeSet::new();
            let before = by_day[day - 1].get(domain).unwrap_or(&empty);
            let after = by_day[day].get(domain).unwrap_or(&empty);
            let want_added: BTreeSet<Rec> = after.difference(before).cloned().collect();
            let want_removed: BTreeSet<Rec> = before.difference(after).cloned().collect();
            assert_eq!(recs_of(&e["diff"]["added"]), want_added, "{style} day {day} {domain}: added");
            assert_eq!(recs_of(&e["diff"]["removed"]), want_removed, "{style} day {day} {domain}: removed");
            assert!(!want_added.is_empty() || !want_removed.is_empty(), "{domain}: a modified event with no change");
            let (from, to) = (providers(before, domain), providers(after, domain));
            if from == to {
                assert!(e.get("moved").is_none(), "{domain}: moved without a provider change: {e}");
                stayed += 1;
            } else {
                let got: (BTreeSet<String>, BTreeSet<String>) = (
                    e["moved"]["from"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect(),
                    e["moved"]["to"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect(),
                );
                assert_eq!(got, (from, to), "{domain}");
                moved += 1;
            }
        }
        assert!(moved > 0, "{style}: the fixture moves some domains ({moved} moved, {stayed} not)");
        // `changes --moved` lists exactly the moved ones, as domain<TAB>from<TAB>to.
        let out = t.run(&["--db", &db, "changes", "--moved", "--format", "tsv"]);
        let lines: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
        assert_eq!(lines.len(), moved, "{style}");
        assert!(lines.iter().all(|l| l.split('\t').count() == 3), "{lines:?}");
        // The replaced rows are kept: every version's records can be read back.
        let conn = t.db(&db);
        let closed: i64 = conn.query_row("SELECT count(*) FROM records WHERE until IS NOT NULL", [], |r| r.get(0)).unwrap();
        assert!(closed > 0, "{style}: no history kept");
    }
    // A --no-records zone has no diff to give, and says so: "diff": null.
    for (d, text) in days.iter().take(2).enumerate() {
        let f = t.write(&format!("nr-{d}.zone"), text);
        t.import_ok("nr.db", &["--no-records", f.to_str().unwrap()]);
    }
    let out = t.run(&["--db", "nr.db", "--json", "changes", "--kind", "modified"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!v.as_array().unwrap().is_empty());
    assert!(v.as_array().unwrap().iter().all(|e| e.get("diff") == Some(&serde_json::Value::Null)), "{v}");
}

/// A base row holds the pairs of consecutive hosts: a provider whose hosts sit inside a row
/// keyed by another host, with no pair gained since, is found there, counted and listed.
#[test]
fn a_providers_hosts_inside_a_base_row_keyed_by_another_host_are_found() {
    let t = TestEnv::new();
    let mut text = "example. 300 IN SOA ns.nic.example. hm.nic.example. 1 2 3 4 5\n".to_string();
    for (label, host) in [("a", "ns1.aaa.net"), ("b", "ns1.prov.net"), ("c", "ns2.prov.net"), ("d", "ns1.prov.net"), ("e", "ns1.zzz.net")] {
        text.push_str(&format!("{label}.example. 300 IN NS {host}.\n"));
    }
    let f = t.write("p.zone", text.as_bytes());
    t.import_ok("p.db", &[f.to_str().unwrap()]);
    let keys: Vec<String> =
        t.db("p.db").prepare("SELECT rhost FROM ns_base").unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    assert_eq!(keys, ["net.aaa.ns1"], "one base row, keyed by the first host");
    let out = t.run(&["--db", "p.db", "--format", "tsv", "search", "--provider", "prov.net", "--limit", "2"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "b.example\texample\nc.example\texample\n");
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("2 of 3 shown"), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A host of thousands of domains spans many base rows, and a row of its pairs alone stores
/// their count (`n`): the host's count read from those counts (with the rows holding several
/// hosts read whole) equals its domains now and on a past day, as the `search` count and on
/// its `ns` page; and a database written before the counts (schema 20) gets the same counts
/// when a query upgrades it.
#[test]
fn a_big_hosts_count_comes_from_its_base_rows_counts_and_an_older_database_gains_them() {
    let t = TestEnv::new();
    let day = |moved: std::ops::Range<usize>, added: std::ops::Range<usize>| {
        let mut text = "example. 300 IN SOA ns.nic.example. hm.nic.example. 1 2 3 4 5\n".to_string();
        text.push_str("a.example. 300 IN NS ns1.aaa.net.\n");
        for i in (0..6000).chain(added) {
            let host = if moved.contains(&i) { "ns1.zzz.net" } else { "ns1.big.net" };
            text.push_str(&format!("d{i:05}.example. 300 IN NS {host}.\nd{i:05}.example. 300 IN NS ns2.big.net.\n"));
        }
        text.push_str("y.example. 300 IN NS ns1.zzz.net.\nz.example. 300 IN NS ns1.zzz.net.\n");
        text
    };
    for (d, text) in [day(0..0, 0..0), day(3000..3100, 9000..9050)].iter().enumerate() {
        let f = t.write(&format!("b{d}.zone"), text.as_bytes());
        t.import_ok("b.db", &["--date", &format!("2026-11-0{}", d + 1), f.to_str().unwrap()]);
    }
    let c = t.db("b.db");
    let mut st = c.prepare("SELECT rhost, n, pairs FROM ns_base WHERE n IS NOT NULL").unwrap();
    let mut rows = st.query([]).unwrap();
    let mut counted = 0;
    while let Some(r) = rows.next().unwrap() {
        let (rhost, n): (String, i64) = (r.get(0).unwrap(), r.get(1).unwrap());
        let mut entries: Vec<(String, Vec<String>)> = Vec::new();
        zonefeed::store::each_pair_entry(r.get_ref(2).unwrap(), |h, d| {
            entries.push((h.to_string(), d.iter().map(|d| d.to_string()).collect()))
        })
        .unwrap();
        assert_eq!(entries.len(), 1, "a row that counts holds one host's pairs");
        assert_eq!((&entries[0].0, entries[0].1.len() as i64), (&rhost, n), "its count is its pairs'");
        counted += (rhost == "net.big.ns1") as usize;
    }
    drop(rows);
    drop(st);
    assert!(counted >= 3, "ns1.big.net spans rows that count themselves ({counted})");
    let rows_with_several: i64 = c.query_row("SELECT count(*) FROM ns_base WHERE n IS NULL", [], |r| r.get(0)).unwrap();
    assert!(rows_with_several >= 1, "some rows hold several hosts and are read whole");
    let counts = |at: Option<&str>| -> Vec<String> {
        let mut out = Vec::new();
        for host in ["ns1.big.net", "ns2.big.net", "ns1.zzz.net"] {
            let mut a = vec!["--db", "b.db", "search", "--ns", host, "--limit", "1"];
            a.extend(at.map(|d| ["--at", d]).into_iter().flatten());
            let err = String::from_utf8_lossy(&t.run(&a).stderr).to_string();
            out.push(format!("{host} {}", err.split(" shown").next().unwrap()));
            if at.is_none() {
                let v: serde_json::Value = serde_json::from_slice(&t.run(&["--db", "b.db", "--json", "ns", host]).stdout).unwrap();
                out.push(format!("{host} page {}", v["domains"]));
            }
        }
        out
    };
    let want = [
        "ns1.big.net 1 of 5950",
        "ns1.big.net page 5950",
        "ns2.big.net 1 of 6050",
        "ns2.big.net page 6050",
        "ns1.zzz.net 1 of 102",
        "ns1.zzz.net page 102",
    ];
    assert_eq!(counts(None), want);
    let past = ["ns1.big.net 1 of 6000", "ns2.big.net 1 of 6000", "ns1.zzz.net 1 of 2"];
    assert_eq!(counts(Some("2026-11-01")), past);
    // The same database as schema 20 wrote it: no counts, upgraded by the next query.
    let keys = "SELECT rhost || ' ' || first || ' ' || coalesce(n, '-') FROM ns_base ORDER BY 1";
    let before = env::column(&c, keys);
    c.execute_batch("ALTER TABLE ns_base DROP COLUMN n; UPDATE meta SET value = '20' WHERE key = 'schema_version';").unwrap();
    drop(c);
    assert_eq!(counts(None), want);
    assert_eq!(counts(Some("2026-11-01")), past);
    assert_eq!(env::column(&t.db("b.db"), keys), before, "the upgrade counts the rows the import counted");
}

#[test]
fn a_ttl_change_is_a_removed_and_an_added_record_and_a_new_host_of_the_same_provider_is_no_move() {
    let t = TestEnv::new();
    let soa = |serial: u32| format!("example. 300 IN SOA ns.nic.example. hm.nic.example. {serial} 2 3 4 5\n");
    let v1 = format!(
        "{}ttl.example. 300 IN NS ns1.host.net.\nsame.example. 300 IN NS ns1.host.net.\nmove.example. 300 IN NS ns1.host.net.\n",
        soa(1)
    );
    let v2 = format!(
        "{}ttl.example. 600 IN NS ns1.host.net.\nsame.example. 300 IN NS ns2.host.net.\nmove.example. 300 IN NS a.other.org.\n",
        soa(2)
    );
    for (i, v) in [v1, v2].iter().enumerate() {
        let f = t.write(&format!("v{i}.zone"), v.as_bytes());
        t.import_ok("m.db", &[f.to_str().unwrap()]);
    }
    let out = t.run(&["--db", "m.db", "--json", "changes"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let by: BTreeMap<&str, &serde_json::Value> = v.as_array().unwrap().iter().map(|e| (e["domain"].as_str().unwrap(), e)).collect();
    let rec = |o: &str, ttl: i64, host: &str| serde_json::json!({"owner": o, "type": "NS", "ttl": ttl, "rdata": host});
    assert_eq!(
        by["ttl.example"]["diff"],
        serde_json::json!({"added": [rec("ttl.example", 600, "ns1.host.net")], "removed": [rec("ttl.example", 300, "ns1.host.net")]})
    );
    assert!(by["ttl.example"].get("moved").is_none());
    assert!(by["same.example"].get("moved").is_none(), "host.net to host.net is no move");
    assert_eq!(by["move.example"]["moved"], serde_json::json!({"from": ["host.net"], "to": ["other.org"]}));
    // domain --history shows the diff, marked + and - (readable without colour).
    let out = t.run(&["--db", "m.db", "domain", "move.example", "--history"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("- move.example 300 NS ns1.host.net") && text.contains("+ move.example 300 NS a.other.org"), "{text}");
    assert!(text.contains("moved from host.net to other.org"), "{text}");
}

#[test]
fn the_views_hold_the_current_versions_and_a_past_version_reads_back_from_history() {
    let t = TestEnv::new();
    let mut days = Vec::new();
    for day in 0..3 {
        let mut text = Vec::new();
        zonefeed::synth::write_zone_day(&mut text, "com", 4000, 11, day).unwrap();
        let f = t.write(&format!("c{day}.zone"), &text);
        t.import_ok("v.db", &[f.to_str().unwrap()]);
        days.push(text);
    }
    let conn = t.db("v.db");
    let names = |sql: &str| -> BTreeSet<String> { env::column(&conn, sql).into_iter().collect() };
    // current_domains: the delegations of the last day's text, removed ones left out.
    let text: BTreeSet<String> = String::from_utf8_lossy(&days[2])
        .lines()
        .filter(|l| l.contains("\tns\t"))
        .filter_map(|l| l.split('\t').next())
        .filter(|o| o.matches('.').count() == 2)
        .map(|o| o.trim_end_matches('.').to_string())
        .collect();
    assert_eq!(names("SELECT name FROM current_domains WHERE tld = 'com'"), text);
    let (tables, _) = env::tables(&conn);
    let view = env::column(
        &conn,
        "SELECT tld || ' ' || domain || ' ' || owner || ' ' || type || ' ' || ttl || ' ' || rdata FROM current_records ORDER BY tld, domain, owner, type, rdata",
    );
    assert_eq!(view, tables);
    // Version 1 (day 0) reads back exactly from the kept history.
    let day0 = records_by_domain(&days[0], "com");
    let want: BTreeSet<String> = day0.keys().cloned().collect();
    let got = names(&format!(
        "SELECT DISTINCT d.name FROM domains d WHERE d.tld = 'com' AND d.removed_at IS NULL AND {}",
        zonefeed::store::visible("d", "1")
    ));
    assert_eq!(got, want, "day 0's domains, read from version 1's history");
}

/// Every table, ids and wall-clock times aside, history included: what two databases must
/// share to be "the same import".
fn dump(conn: &rusqlite::Connection) -> Vec<String> {
    let mut out = dump_rows(conn);
    out.extend(query_all(conn, "SELECT zone, seq, count, sum, hex(data) FROM state_blocks ORDER BY 1, 2"));
    out.extend(query_all(conn, "SELECT id, state_blocks, state_prev FROM zones ORDER BY id"));
    out
}

/// Every row but the packed state's.
fn dump_rows(conn: &rusqlite::Connection) -> Vec<String> {
    let mut out = Vec::new();
    for sql in [
        "SELECT tld, domain, owner, type, ttl, rdata, since, until FROM records ORDER BY 1, 2, 3, 4, 6, 7",
        "SELECT tld, name, hex(hash), hex(sig), first_seen, last_seen, last_changed, removed_at, since, until FROM domains ORDER BY 1, 2, 9",
        "SELECT tld, name, hex(hash), since, until FROM record_groups ORDER BY 1, 2, 4",
        "SELECT zone, prev_zone, tld, domain, kind, at FROM events ORDER BY 1, 4, 5",
        "SELECT id, tld, serial, state, records, domains, zone_date FROM zones ORDER BY id",
        "SELECT rhost, tld, domain, since, until FROM ns_links ORDER BY 1, 2, 3, 4",
        "SELECT tld, rhost, first, pairs, since FROM ns_base ORDER BY 1, 2, 3",
        "SELECT tld, version FROM ns_bases ORDER BY 1",
        "SELECT addr, rhost, tld, since, until FROM glue_links ORDER BY 1, 2, 3, 4",
    ] {
        out.extend(query_all(conn, sql));
    }
    out
}

fn query_all(conn: &rusqlite::Connection, sql: &str) -> Vec<String> {
    let mut st = conn.prepare(sql).unwrap();
    let n = st.column_count();
    let rows = st.query_map([], |r| Ok((0..n).map(|i| format!("{:?}", r.get_ref(i).unwrap())).collect::<Vec<_>>().join("|"))).unwrap();
    rows.map(Result::unwrap).collect()
}

/// CZDS serves its files sorted (the SOA first and last, glue far from its domain); the same
/// days in a scattered order must give the same database, history and index included.
#[test]
fn the_order_of_a_files_lines_never_changes_the_database() {
    let t = TestEnv::new();
    for (d, date) in ["2026-11-01", "2026-11-02", "2026-11-03"].iter().enumerate() {
        let day = d as u64;
        for (db, czds) in [("scattered.db", false), ("czds.db", true)] {
            let mut text = Vec::new();
            if czds {
                zonefeed::synth::write_zone_czds(&mut text, "com", 3000, 7, day, 0.05).unwrap();
            } else {
                zonefeed::synth::write_zone_churn(&mut text, "com", 3000, 7, day, 0.05).unwrap();
            }
            let f = t.write(&format!("{db}-{d}.zone"), &text);
            t.import_ok(db, &["--date", date, f.to_str().unwrap()]);
        }
    }
    let (a, b) = (t.db("scattered.db"), t.db("czds.db"));
    let events = env::column(&a, "SELECT CAST(count(*) AS TEXT) FROM events");
    assert!(events[0].parse::<u64>().unwrap() > 200, "the days differ: {events:?}");
    assert_eq!(dump(&a), dump(&b));
}

/// The packed state is a faster way to read what the current rows say, never a second truth:
/// days compared with its chains of deltas, with no blocks (a database from before them), or
/// with damaged blocks (said, and the rows read from there on) give the same database, history
/// included, and every state a chain leaves reads as the rows say. Records are kept, then
/// not, then kept again.
#[test]
fn a_day_compared_with_the_packed_state_or_with_the_rows_gives_the_same_database() {
    let t = TestEnv::new();
    let dbs = ["chain.db", "none.db", "damaged.db"];
    let records = [true, true, true, true, false, false, true, true, true, true, true];
    // Which blocks are damaged before a day's import: the base, then the newest delta.
    let damage = |d: usize| match d {
        3 => Some("(SELECT min(zone) FROM state_blocks)"),
        8 => Some("(SELECT max(zone) FROM state_blocks)"),
        _ => None,
    };
    let mut kinds = Vec::new();
    for (d, &records) in records.iter().enumerate() {
        let mut text = Vec::new();
        zonefeed::synth::write_zone_churn(&mut text, "com", 3000, 7, d as u64, 0.05).unwrap();
        let f = t.write(&format!("day{d}.zone"), &text);
        let date = format!("2026-11-{:02}", d + 1);
        for db in dbs {
            let conn = t.db(db);
            match (db, damage(d)) {
                ("none.db", _) if d > 0 => {
                    conn.execute_batch("DELETE FROM state_blocks; UPDATE zones SET state_blocks = NULL, state_prev = NULL;").unwrap()
                }
                ("damaged.db", Some(zone)) => conn
                    .execute_batch(&format!(
                        "UPDATE state_blocks SET data = zeroblob(length(data)) WHERE zone = {zone} AND seq = (SELECT max(seq) FROM state_blocks WHERE zone = {zone});"
                    ))
                    .unwrap(),
                _ => {}
            }
            let mut args = vec!["--date", &date, f.to_str().unwrap()];
            if !records {
                args.insert(0, "--no-records");
            }
            let out = t.import_ok(db, &args);
            let err = String::from_utf8_lossy(&out.stderr);
            let noticed = err.contains("packed state is damaged");
            assert_eq!(noticed, db == "damaged.db" && damage(d).is_some(), "{db} day {d}: {err}");
            // Whatever the chain, it reads as the rows say.
            let conn = t.db(db);
            if let Some(state) = zonefeed::store::state::current(&conn, "com").unwrap() {
                assert_eq!(state, env::state_of_rows(&conn, "com"), "{db} day {d}");
            } else {
                assert!(db != "chain.db", "day {d}: the chain database always has a packed state");
            }
            if db == "chain.db" {
                let prev = env::column(&conn, "SELECT coalesce(CAST(state_prev AS TEXT), 'base') FROM zones WHERE state = 'current'");
                kinds.push(if prev == ["base"] { "base" } else { "delta" });
            }
        }
    }
    // Deltas pile up, then a base is written again.
    let kinds = kinds.join(" ");
    assert!(kinds.starts_with("base delta delta") && kinds.contains("delta base"), "{kinds}");
    let (a, b, c) = (t.db(dbs[0]), t.db(dbs[1]), t.db(dbs[2]));
    let events = env::column(&a, "SELECT CAST(count(*) AS TEXT) FROM events");
    assert!(events[0].parse::<u64>().unwrap() > 300, "the days differ: {events:?}");
    let want = dump_rows(&a);
    assert_eq!(want, dump_rows(&b));
    assert_eq!(want, dump_rows(&c));
}

/// Nothing reads the packed state destructively: an import refused after its writer ran
/// leaves the current version's chain as it was, and the next day compares with it and comes
/// out as it would have without the refusal.
#[test]
fn a_refused_import_leaves_the_packed_state_as_it_was() {
    let t = TestEnv::new();
    let day = |d: u64| {
        let mut text = Vec::new();
        zonefeed::synth::write_zone_churn(&mut text, "com", 3000, 7, d, 0.05).unwrap();
        text
    };
    let (day0, day1) = (t.write("day0.zone", &day(0)), t.write("day1.zone", &day(1)));
    // Day 1 cut short: the SOA and a third of the rest, which would remove most domains.
    let text = String::from_utf8(day(1)).unwrap();
    let short: String = text.lines().enumerate().filter(|(i, _)| i % 3 == 0).map(|(_, l)| format!("{l}\n")).collect();
    assert!(short.contains("\tsoa\t"), "the SOA stays in the short file");
    let short = t.write("short.zone", short.as_bytes());
    for db in ["a.db", "b.db"] {
        t.import_ok(db, &["--date", "2026-11-01", day0.to_str().unwrap()]);
    }
    let state = |db: &str| query_all(&t.db(db), "SELECT zone, seq, count, sum, hex(data) FROM state_blocks ORDER BY 1, 2");
    let before = state("b.db");
    let refused = t.run(&["--db", "b.db", "--quiet", "import", "--date", "2026-11-02", short.to_str().unwrap()]);
    assert!(!refused.status.success(), "the short file is refused");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--max-removed"), "{}", String::from_utf8_lossy(&refused.stderr));
    assert!(!before.is_empty());
    assert_eq!(state("b.db"), before, "the refused import changed the packed state");
    let out: Vec<String> = ["a.db", "b.db"]
        .iter()
        .map(|db| {
            let out = t.import_ok(db, &["--date", "2026-11-02", day1.to_str().unwrap()]);
            assert!(out.stderr.is_empty(), "{db}: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
        .collect();
    let counts = |json: &str| -> Vec<u64> {
        let v: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
        ["new_domains", "changed_domains", "removed_domains"].iter().map(|k| v[k].as_u64().unwrap()).collect()
    };
    assert_eq!(counts(&out[0]), counts(&out[1]));
    assert!(counts(&out[0]).iter().all(|&n| n > 10), "{}", out[0]);
    for sql in [
        "SELECT domain || ' ' || kind FROM events WHERE zone = (SELECT id FROM zones WHERE state = 'current') ORDER BY 1",
        "SELECT name || ' ' || hex(hash) || ' ' || first_seen || ' ' || last_changed || ' ' || coalesce(removed_at, '-') FROM domains WHERE until IS NULL ORDER BY 1",
    ] {
        assert_eq!(env::column(&t.db("a.db"), sql), env::column(&t.db("b.db"), sql), "{sql}");
    }
    assert_eq!(zonefeed::store::state::current(&t.db("b.db"), "com").unwrap().unwrap(), env::state_of_rows(&t.db("b.db"), "com"));
}

#[test]
fn zone_dates_come_from_the_data_so_a_backfill_equals_daily_imports_and_at_reads_the_past() {
    let Some(sh) = env::shared("zone_dates_come_from_the_data") else { return };
    let t = TestEnv::new();
    let dates = ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05", "2026-11-06"];
    let texts: Vec<Vec<u8>> = (0..6).map(|d| env::zonegen(&sh, &["zone", "--domains", "2000", "--day", &d.to_string()])).collect();
    for style in ["czds", "master"] {
        for (d, date) in dates.iter().enumerate() {
            let text = if style == "czds" {
                texts[d].clone()
            } else {
                env::zonegen(&sh, &["zone", "--domains", "2000", "--day", &d.to_string(), "--style", "master"])
            };
            // The backfill: every file at once, dated by --date.
            let f = t.write(&format!("{style}-{d}.zone"), &text);
            t.import_ok(&format!("{style}-backfill.db"), &["--date", date, f.to_str().unwrap()]);
            // Each on its own day: the date comes from the file (its mtime here).
            let g = t.write(&format!("{style}-{d}-daily.zone"), &text);
            let touched = std::process::Command::new("touch").args(["-d", &format!("{date} 06:00:00Z")]).arg(&g).status().unwrap();
            assert!(touched.success());
            t.import_ok(&format!("{style}-daily.db"), &[g.to_str().unwrap()]);
        }
        let (backfill, daily) = (t.db(&format!("{style}-backfill.db")), t.db(&format!("{style}-daily.db")));
        assert_eq!(dump(&backfill), dump(&daily), "{style}: a backfill with --date equals daily imports dated by their files");
        // Events are dated by the day their data is for, not by when they were imported.
        let ats: BTreeSet<String> = env::column(&backfill, "SELECT DISTINCT at FROM events").into_iter().collect();
        let want: BTreeSet<String> = dates[1..].iter().map(|d| format!("{d}T00:00:00Z")).collect();
        assert_eq!(ats, want);
        // `domain --at` each day shows exactly the records that day's text holds for the name.
        let out = t.run(&["--db", &format!("{style}-backfill.db"), "changes", "--kind", "modified", "--format", "tsv"]);
        let modified: Vec<String> =
            String::from_utf8_lossy(&out.stdout).lines().map(|l| l.split('\t').nth(1).unwrap().to_string()).collect();
        assert!(modified.len() >= 5, "{style}: {} modified", modified.len());
        for name in modified.iter().take(8) {
            for (d, date) in dates.iter().enumerate() {
                let want = records_by_domain(&texts[d], "com").remove(name.as_str()).unwrap_or_default();
                let out = t.run(&["--db", &format!("{style}-backfill.db"), "--json", "domain", name, "--at", date]);
                let got: BTreeSet<Rec> = if out.status.success() {
                    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                    if v[0]["removed_at"].is_null() {
                        recs_of(&v[0]["records"])
                    } else {
                        BTreeSet::new()
                    }
                } else {
                    BTreeSet::new()
                };
                assert_eq!(got, want, "{style} {name} --at {date}");
            }
        }
    }
    // A file dated before the current version is refused, like an older serial.
    let f = t.write("late.zone", &texts[0]);
    let out = t.run(&["--db", "czds-backfill.db", "import", "--date", "2026-10-01", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("dated 2026-10-01, before the current version's 2026-11-06"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(t.run(&["--db", "czds-backfill.db", "import", "--date", "2026-02-30", f.to_str().unwrap()]).status.code(), Some(2));
}

/// Domains delegated to each NS host, per a czds-style text; and each glue address's hosts.
fn delegations_by_host(text: &[u8]) -> (BTreeMap<String, BTreeSet<String>>, BTreeMap<String, BTreeSet<String>>) {
    let (mut ns, mut glue): (BTreeMap<String, BTreeSet<String>>, BTreeMap<String, BTreeSet<String>>) = Default::default();
    for (domain, recs) in records_by_domain(text, "com") {
        for (owner, rtype, _, rdata) in recs {
            match rtype.as_str() {
                "NS" if owner == domain => {
                    ns.entry(rdata).or_default().insert(domain.clone());
                }
                "A" | "AAAA" => {
                    glue.entry(rdata).or_default().insert(owner);
                }
                _ => {}
            }
        }
    }
    (ns, glue)
}

#[test]
fn reverse_lookups_equal_the_sets_the_texts_give_now_and_at_a_past_day() {
    let Some(sh) = env::shared("reverse_lookups_equal_the_sets_the_texts_give") else { return };
    let t = TestEnv::new();
    let dates = ["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"];
    let texts: Vec<Vec<u8>> = (0..4).map(|d| env::zonegen(&sh, &["zone", "--domains", "3000", "--day", &d.to_string()])).collect();
    for (d, text) in texts.iter().enumerate() {
        let f = t.write(&format!("r{d}.zone"), text);
        t.import_ok("r.db", &["--date", dates[d], f.to_str().unwrap()]);
    }
    let search = |args: &[&str]| -> BTreeSet<String> {
        let mut a = vec!["--db", "r.db", "search", "--limit", "0", "--format", "tsv"];
        a.extend_from_slice(args);
        let out = t.run(&a);
        String::from_utf8_lossy(&out.stdout).lines().map(|l| l.split('\t').next().unwrap().to_string()).collect()
    };
    for (day, at) in [(3usize, None), (1, Some(dates[1]))] {
        let (ns, glue) = delegations_by_host(&texts[day]);
        let with_at = |mut a: Vec<String>| {
            if let Some(d) = at {
                a.extend(["--at".to_string(), d.to_string()]);
            }
            a
        };
        let run = |a: Vec<String>| search(&a.iter().map(String::as_str).collect::<Vec<_>>());
        // The count a first page gives ("1 of N shown"), made apart from the listing.
        let counted = |mut a: Vec<String>| -> Option<usize> {
            a.splice(0..0, ["--db", "r.db", "search", "--limit", "1"].map(String::from));
            let out = t.run(&a.iter().map(String::as_str).collect::<Vec<_>>());
            let err = String::from_utf8_lossy(&out.stderr).to_string();
            err.strip_prefix("1 of ")?.split(' ').next()?.parse().ok()
        };
        // The busiest hosts, and one with a single domain.
        let mut hosts: Vec<(&String, &BTreeSet<String>)> = ns.iter().collect();
        hosts.sort_by_key(|(h, d)| (std::cmp::Reverse(d.len()), (*h).clone()));
        let single = ns.iter().find(|(_, d)| d.len() == 1).unwrap();
        for (host, want) in hosts.iter().take(4).copied().chain([single]) {
            assert_eq!(&run(with_at(vec!["--ns".into(), host.clone()])), want, "--ns {host} {at:?}");
            if want.len() > 1 {
                assert_eq!(counted(with_at(vec!["--ns".into(), host.clone()])), Some(want.len()), "--ns {host} {at:?} counted");
            }
        }
        // Providers: every host under the registrable domain.
        for (host, _) in hosts.iter().take(3) {
            let provider = psl::domain_str(host).unwrap().to_string();
            let want: BTreeSet<String> =
                ns.iter().filter(|(h, _)| psl::domain_str(h) == Some(provider.as_str())).flat_map(|(_, d)| d.clone()).collect();
            assert_eq!(run(with_at(vec!["--provider".into(), provider.clone()])), want, "--provider {provider} {at:?}");
            assert_eq!(
                counted(with_at(vec!["--provider".into(), provider.clone()])),
                Some(want.len()),
                "--provider {provider} {at:?} counted"
            );
        }
        // Addresses: the hosts glue gives them, then the domains delegated to those hosts.
        for (ip, owners) in glue.iter().take(4) {
            let want: BTreeSet<String> = owners.iter().flat_map(|h| ns.get(h).cloned().unwrap_or_default()).collect();
            assert_eq!(run(with_at(vec!["--ip".into(), ip.clone()])), want, "--ip {ip} {at:?}");
        }
    }
    // The name server page: domains now, and what it gained and lost over the four days.
    let by_day: Vec<BTreeMap<String, BTreeSet<String>>> = texts.iter().map(|x| delegations_by_host(x).0).collect();
    let (host, now) = by_day[3].iter().max_by_key(|(_, d)| d.len()).unwrap();
    let out = t.run(&["--db", "r.db", "--json", "ns", host, "--days", "40"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["domains"].as_u64(), Some(now.len() as u64));
    let empty = BTreeSet::new();
    let (mut added, mut removed) = (BTreeSet::new(), BTreeSet::new());
    for d in 1..4 {
        let (before, after) = (by_day[d - 1].get(host).unwrap_or(&empty), by_day[d].get(host).unwrap_or(&empty));
        added.extend(after.difference(before).cloned());
        removed.extend(before.difference(after).cloned());
    }
    let list = |k: &str| -> BTreeSet<String> { v[k].as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect() };
    assert_eq!(list("added"), added, "{host}");
    assert_eq!(list("removed"), removed, "{host}");
    assert_eq!(v["first_seen"], "2026-11-20T00:00:00Z");
    assert_eq!(v["last_seen"], "2026-11-23T00:00:00Z");
    // The index kept in place day by day equals the one a first import builds whole (sorted
    // apart and appended): the current version's pairs, read the way a reader reads them.
    let f = t.path("r3.zone");
    t.import_ok("whole.db", &["--date", dates[3], f.to_str().unwrap()]);
    let pairs = |db: &str| {
        let c = t.db(db);
        let (version, _): (i64, String) =
            c.query_row("SELECT id, tld FROM zones WHERE state = 'current'", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        let mut v = env::column(
            &c,
            &format!(
                "SELECT 'ns ' || rhost || ' ' || domain FROM ({})",
                zonefeed::query::pairs_sql(&|_| "1".to_string(), "SELECT '' AS lo, '~' AS hi", "'com'", &version.to_string())
            ),
        );
        v.extend(env::column(
            &c,
            &format!(
                "SELECT 'glue ' || g.addr || ' ' || g.rhost FROM glue_links g JOIN zones z ON z.tld = g.tld AND z.state = 'current' WHERE {}",
                zonefeed::store::visible("g", "z.id")
            ),
        ));
        v.sort();
        v
    };
    let whole = pairs("whole.db");
    assert!(whole.len() > 3000, "{}", whole.len());
    assert_eq!(pairs("r.db"), whole);
    // A zone imported with --no-records has no NS data: that is said, not an empty answer.
    t.import_ok("nr.db", &["--no-records", t.path("r0.zone").to_str().unwrap()]);
    let out = t.run(&["--db", "nr.db", "search", "--ns", host]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("imported with --no-records, so there is no NS data"));
}

#[test]
fn a_query_upgrades_a_schema_9_database_to_the_figures_imports_write() {
    let t = TestEnv::new();
    for day in 0..3u64 {
        let mut text = Vec::new();
        zonefeed::synth::write_zone_day(&mut text, "com", 3000, 8, day).unwrap();
        let f = t.write(&format!("com-{day}.zone"), &text);
        t.import_ok("s.db", &["--date", &format!("2026-11-2{day}"), f.to_str().unwrap()]);
    }
    let figures = |db: &rusqlite::Connection| -> Vec<String> {
        env::column(db, "SELECT id || ' ' || coalesce(ds_domains, '-') || ' ' || coalesce(added, '-') || ' ' || coalesce(removed, '-') || ' ' || coalesce(modified, '-') FROM zones ORDER BY id")
    };
    let db = t.db("s.db");
    let written = figures(&db);
    // Signed delegations and every kind of change, or the comparison below proves little.
    assert!(written.iter().skip(1).all(|r| r.split(' ').all(|f| f != "-" && f != "0")), "{written:?}");
    assert!(written[0].ends_with(" - - -"), "a first version compared with nothing: {written:?}");
    db.execute_batch(
        "ALTER TABLE zones DROP COLUMN ds_domains; ALTER TABLE zones DROP COLUMN added; ALTER TABLE zones DROP COLUMN removed;
         ALTER TABLE zones DROP COLUMN modified; UPDATE meta SET value = '9' WHERE key = 'schema_version';",
    )
    .unwrap();
    drop(db);
    // A read-only command brings the database up to its schema first.
    let out = t.run(&["--db", "s.db", "stats", "com"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let db = t.db("s.db");
    assert_eq!(figures(&db), written);
    assert_eq!(env::column(&db, "SELECT value FROM meta WHERE key = 'schema_version'"), [zonefeed::store::SCHEMA_VERSION.to_string()]);
}
