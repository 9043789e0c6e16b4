//! `domain`, `search` and `stats` against zones whose text the tests read themselves.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::env::TestEnv;

/// (owner, type) of every record line of a czds-style zone text.
fn lines(text: &str) -> Vec<(String, String, String)> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() >= 5).then(|| (f[0].trim_end_matches('.').to_string(), f[3].to_ascii_uppercase(), f[4..].join("\t")))
        })
        .collect()
}

/// The first three columns of every line of TSV output.
fn first_three_columns(tsv: &[u8]) -> BTreeSet<(String, String, String)> {
    String::from_utf8_lossy(tsv)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_string(), f[1].to_string(), f[2].to_string())
        })
        .collect()
}

fn gunzip(p: &Path) -> String {
    use std::io::Read;
    let mut s = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(p).unwrap()).read_to_string(&mut s).unwrap();
    s
}

/// Delegated domains of `zone` in the text: owners one label under it with NS records.
fn delegations(recs: &[(String, String, String)], zone: &str) -> BTreeSet<String> {
    recs.iter()
        .filter(|(o, t, _)| t == "NS" && o.strip_suffix(&format!(".{zone}")).is_some_and(|l| !l.contains('.')))
        .map(|(o, _, _)| o.clone())
        .collect()
}

#[test]
fn stats_equal_counts_taken_from_the_text() {
    let t = TestEnv::new();
    let zone = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/com.zone.gz");
    t.import_ok("q.db", &[zone.to_str().unwrap()]);
    let recs = lines(&gunzip(&zone));
    let mut types: BTreeMap<String, i64> = BTreeMap::new();
    let unique: BTreeSet<_> = recs.iter().collect();
    for (_, ty, _) in &unique {
        *types.entry(ty.clone()).or_default() += 1;
    }
    let domains = delegations(&recs, "com");
    let with_ds: BTreeSet<&String> = recs.iter().filter(|(o, t, _)| t == "DS" && domains.contains(o)).map(|(o, _, _)| o).collect();
    let out = t.run(&["--db", "q.db", "stats", "com", "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let st = &v[0];
    assert_eq!(st["domains"].as_u64().unwrap() as usize, domains.len());
    let got: BTreeMap<String, i64> = st["types"].as_object().unwrap().iter().map(|(k, n)| (k.clone(), n.as_i64().unwrap())).collect();
    assert_eq!(got, types);
    assert_eq!(st["domains_with_ds"].as_u64().unwrap() as usize, with_ds.len());
    assert!((st["ds_share"].as_f64().unwrap() - with_ds.len() as f64 / domains.len() as f64).abs() < 1e-9);
    // Top NS host: the most used NS target among delegations, counted here.
    let mut hosts: BTreeMap<&str, i64> = BTreeMap::new();
    for (o, ty, r) in &recs {
        if ty == "NS" && domains.contains(o) {
            *hosts.entry(r.trim_end_matches('.')).or_default() += 1;
        }
    }
    let top = hosts.values().max().unwrap();
    assert_eq!(st["top_ns_hosts"][0][1].as_i64().unwrap(), *top);
    let bail = st["in_bailiwick"].as_i64().unwrap() + st["out_of_bailiwick"].as_i64().unwrap() + st["mixed_bailiwick"].as_i64().unwrap();
    assert_eq!(bail as usize, domains.len());
}

#[test]
fn domain_shows_its_records_and_its_history() {
    let t = TestEnv::new();
    let day = |d: u64| {
        let mut text = Vec::new();
        zonefeed::synth::write_zone_day(&mut text, "com", 2000, 3, d).unwrap();
        t.write(&format!("com-{d}.zone"), &text)
    };
    let d0 = day(0);
    t.import_ok("q.db", &[d0.to_str().unwrap()]);
    let d1 = day(1);
    t.import_ok("q.db", &[d1.to_str().unwrap()]);
    let out = t.run(&["--db", "q.db", "changes", "--kind", "modified", "--format", "tsv"]);
    let modified =
        String::from_utf8_lossy(&out.stdout).lines().next().expect("day 1 modifies a domain").split('\t').nth(1).unwrap().to_string();
    let out = t.run(&["--db", "q.db", "domain", &modified, "--history", "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = &v[0];
    assert_eq!(d["name"], modified.as_str());
    assert_eq!(d["history"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect::<Vec<_>>(), ["modified"]);
    // Its records are exactly the day-1 lines at or below it.
    let text = std::fs::read_to_string(&d1).unwrap();
    let want: BTreeSet<(String, String)> = lines(&text)
        .into_iter()
        .filter(|(o, _, _)| *o == modified || o.ends_with(&format!(".{modified}")))
        .map(|(o, t, _)| (o, t))
        .collect();
    let got: BTreeSet<(String, String)> = d["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["owner"].as_str().unwrap().to_string(), r["type"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(got, want);
    let out = t.run(&["--db", "q.db", "domain", "not-there.com"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not in any imported zone"));
}

#[test]
fn search_by_suffix_contains_and_glob_returns_exactly_the_matching_names() {
    let t = TestEnv::new();
    // A multi-label zone, where suffixes mean something, beside .com.
    let mut text = Vec::new();
    zonefeed::synth::write_zone_day(&mut text, "co.uk", 1500, 4, 0).unwrap();
    let couk = t.write("co.uk.zone", &text);
    t.import_ok("q.db", &[couk.to_str().unwrap()]);
    let com = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/com.zone.gz");
    t.import_ok("q.db", &[com.to_str().unwrap()]);
    let uk = delegations(&lines(&String::from_utf8(text).unwrap()), "co.uk");
    let coms = delegations(&lines(&gunzip(&com)), "com");
    let search = |args: &[&str]| -> BTreeSet<String> {
        let mut a = vec!["--db", "q.db", "search", "--limit", "100000", "--format", "tsv"];
        a.extend_from_slice(args);
        let out = t.run(&a);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).lines().map(|l| l.split('\t').next().unwrap().to_string()).collect()
    };
    assert_eq!(search(&[".uk"]), uk);
    assert_eq!(search(&[".co.uk"]), uk);
    let one = uk.iter().next().unwrap().clone();
    assert_eq!(search(&[&format!(".{one}")]), BTreeSet::from([one.clone()]));
    assert_eq!(search(&[&one.to_uppercase()]), BTreeSet::from([one.clone()]));
    assert_eq!(search(&[".com"]), coms);
    let all: BTreeSet<String> = uk.iter().chain(coms.iter()).cloned().collect();
    let contains: BTreeSet<String> = all.iter().filter(|n| n.contains("ab")).cloned().collect();
    assert!(!contains.is_empty());
    assert_eq!(search(&["--contains", "ab"]), contains);
    let glob: BTreeSet<String> = coms.iter().filter(|n| n.starts_with('1') && n.ends_with("y.com")).cloned().collect();
    assert!(!glob.is_empty());
    assert_eq!(search(&["--glob", "1*y.com"]), glob);
    assert_eq!(search(&["--contains", "ab", "--tld", "com"]), contains.iter().filter(|n| n.ends_with(".com")).cloned().collect());
}

#[test]
fn check_finds_the_planted_faults_at_their_levels() {
    let t = TestEnv::new();
    let zone = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/faults.zone");
    t.import_ok("q.db", &[zone.to_str().unwrap()]);
    let out = t.run(&["--db", "q.db", "check", "test", "--format", "tsv"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got = first_three_columns(&out.stdout);
    let want: BTreeSet<(String, String, String)> = [
        ("warning", "single_ns", "lonely.test"),
        ("error", "missing_glue", "noglue.test"),
        ("notice", "orphan_glue", "orphan.test"),
        ("notice", "ds_sha1_only", "sha1.test"),
        ("error", "ds_unknown_alg", "badalg.test"),
        ("error", "ds_digest_length", "shortds.test"),
        ("error", "bad_ns_hostname", "badhost.test"),
        ("notice", "ttl_outlier", "shortttl.test"),
        ("notice", "ttl_outlier", "shortttl.test"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(got, want);
    // One finding per RRset, not per record: shortttl.test's two NS records share one TTL.
    let ttl_rows = String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.contains("ttl_outlier")).count();
    assert_eq!(ttl_rows, 1, "ttl_outlier_once_per_rrset");
    // --level error keeps errors only; the summary still counts the zone's findings at every
    // level (it said 0 notices under --level error before).
    let out = t.run(&["--db", "q.db", "--json", "check", "test", "--level", "error"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["summary"], serde_json::json!({"notice": 3, "warning": 1, "error": 4, "critical": 0}));
    assert!(v[0]["findings"].as_array().unwrap().iter().all(|f| f["level"] == "error"));
    let text = t.run(&["--db", "q.db", "check", "test", "--level", "error"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("test (version 1): 3 notice, 1 warning, 4 error, 0 critical"));
    // --fail-on: exit 1 when there is a finding at that level or above, whatever --level shows.
    assert_eq!(t.run(&["--db", "q.db", "-q", "check", "test", "--fail-on", "error"]).status.code(), Some(1));
    assert_eq!(t.run(&["--db", "q.db", "-q", "check", "test", "--fail-on", "critical"]).status.code(), Some(0));
    assert_eq!(t.run(&["--db", "q.db", "-q", "check", "test", "--level", "critical", "--fail-on", "warning"]).status.code(), Some(1));
}

#[test]
fn watch_terms_catch_planted_look_alikes_and_nothing_else() {
    let t = TestEnv::new();
    let day = |d: u64| {
        let mut text = Vec::new();
        zonefeed::synth::write_zone_day(&mut text, "com", 20_000, 6, d).unwrap();
        String::from_utf8(text).unwrap()
    };
    let d0 = t.write("com-0.zone", day(0).as_bytes());
    t.import_ok("w.db", &[d0.to_str().unwrap()]);
    // Watch two brands and one existing domain, which day 1 re-delegates.
    let mut d1 = day(1);
    let recs = lines(&d1);
    let watched = delegations(&recs, "com").into_iter().find(|n| day(0).contains(&format!("\n{n}.\t"))).unwrap();
    let out = t.run(&["--db", "w.db", "watch", "add", &watched, "--term", "paypal", "--term", "microsoft"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let puny = idna::domain_to_ascii("pаypal.com").unwrap(); // Cyrillic а
    let planted = [
        ("paypa1.com", "paypal", "edit_distance"),
        ("pay-pal.com", "paypal", "hyphen"),
        ("paypal-com.com", "paypal", "extra_tld"),
        ("securepaypal.com", "paypal", "contains"),
        (puny.as_str(), "paypal", "punycode"),
        ("rnicrosoft.com", "microsoft", "homoglyph"),
        ("micros0ft.com", "microsoft", "edit_distance"),
    ];
    for (name, _, _) in &planted {
        d1.push_str(&format!("{name}.\t172800\tin\tns\tns1.evil-dns.net.\n"));
    }
    d1.push_str(&format!("{watched}.\t172800\tin\tns\tns9.new-provider.net.\n"));
    let f1 = t.write("com-1.zone", d1.as_bytes());
    let s = crate::env::summary(&t.import_ok("w.db", &[f1.to_str().unwrap()]));
    let out = t.run(&["--db", "w.db", "watch", "hits", "--format", "tsv"]);
    let got = first_three_columns(&out.stdout);
    let mut want: BTreeSet<(String, String, String)> =
        planted.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect();
    want.insert((watched.clone(), watched.clone(), "domain_modified".into()));
    assert_eq!(got, want, "the planted look-alikes and the watched domain, nothing else among {} new domains", s["new_domains"]);
    assert_eq!(s["watch_hits"].as_u64().unwrap() as usize, want.len());
    // The change feed stays a feed of domains.
    let out = t.run(&["--db", "w.db", "changes", "--format", "tsv"]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("watch\t"));
}

#[test]
fn domain_shows_what_zonegen_wrote_and_its_day_1_modification() {
    let Some(sh) = crate::env::shared("domain_shows_what_zonegen_wrote_and_its_day_1_modification") else { return };
    let t = TestEnv::new();
    for d in ["0", "1"] {
        let text = crate::env::zonegen(&sh, &["zone", "--domains", "1500", "--day", d, "--signed"]);
        let f = t.write(&format!("z{d}.zone"), &text);
        t.import_ok("z.db", &[f.to_str().unwrap()]);
    }
    let changes = String::from_utf8(crate::env::zonegen(&sh, &["changes", "--domains", "1500", "--from", "0", "--to", "1"])).unwrap();
    let modified = changes.lines().find_map(|l| l.strip_prefix("modified\t")).expect("zonegen modifies a domain on day 1").to_string();
    let out = t.run(&["--db", "z.db", "domain", &modified, "--history", "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = std::fs::read_to_string(t.path("z1.zone")).unwrap();
    let want: BTreeSet<(String, String)> = lines(&text)
        .into_iter()
        .filter(|(o, _, _)| *o == modified || o.ends_with(&format!(".{modified}")))
        .map(|(o, t, _)| (o, t))
        .collect();
    let got: BTreeSet<(String, String)> = v[0]["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["owner"].as_str().unwrap().into(), r["type"].as_str().unwrap().into()))
        .collect();
    assert_eq!(got, want);
    let kinds: Vec<&str> = v[0]["history"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["modified"]);
}

/// A name with more records than one answer holds: the CLI and the API give the first
/// `MAX_RECORDS` and say how many there are; the server stays small.
#[test]
fn a_name_with_a_flood_of_records_is_answered_in_part_and_says_so() {
    let t = TestEnv::new();
    let n = zonefeed::query::MAX_RECORDS + 50;
    let mut z =
        String::from("test.\t86400\tin\tsoa\tns.nic.test. h.nic.test. 1 1800 900 604800 86400\ntest.\t86400\tin\tns\tns.nic.test.\n");
    z.push_str("big.test.\t3600\tin\tns\tns.example.net.\n");
    for i in 0..n {
        z.push_str(&format!("big.test.\t3600\tin\ttxt\t\"{i:06}\"\n"));
    }
    let f = t.write("test.zone", z.as_bytes());
    t.import_ok("big.db", &["--tld", "test", f.to_str().unwrap()]);
    let out = t.run(&["--db", "big.db", "--json", "domain", "big.test"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["records"].as_array().unwrap().len(), zonefeed::query::MAX_RECORDS);
    assert_eq!(v[0]["records_total"].as_u64(), Some(n as u64 + 1), "the TXT records and the NS");
    let text = String::from_utf8_lossy(&t.run(&["--db", "big.db", "domain", "big.test"]).stdout).into_owned();
    assert!(text.contains(&format!("({} of its {} records shown)", zonefeed::query::MAX_RECORDS, n + 1)), "{}", &text[text.len() - 200..]);
    let s = crate::serve::start(&t, "big.db");
    let (status, v) = crate::serve::get(&format!("{}/v1/domains/big.test", s.base));
    assert_eq!(status, 200);
    assert_eq!(v["zones"][0]["records_total"].as_u64(), Some(n as u64 + 1));
}

/// Zones delegate names with `<`, `/` and `\` in a label: search lists them, and the API's
/// link to each leads to the domain.
#[test]
fn every_link_the_api_gives_to_an_odd_name_leads_to_it() {
    let t = TestEnv::new();
    let z = "test.\t86400\tin\tsoa\tns.nic.test. h.nic.test. 1 1800 900 604800 86400\ntest.\t86400\tin\tns\tns.nic.test.\n\
             a\\<b.test.\t3600\tin\tns\tns.example.net.\nc\\/d.test.\t3600\tin\tns\tns.example.net.\ne\\\\f.test.\t3600\tin\tns\tns.example.net.\n";
    let f = t.write("odd.zone", z.as_bytes());
    t.import_ok("odd.db", &["--tld", "test", f.to_str().unwrap()]);
    let s = crate::serve::start(&t, "odd.db");
    let (status, v) = crate::serve::get(&format!("{}/v1/domains?search=.test", s.base));
    assert_eq!(status, 200, "{v}");
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{v}");
    for item in items {
        let (status, d) = crate::serve::get(&format!("{}{}", s.base, item["links"]["self"].as_str().unwrap()));
        assert_eq!((status, &d["name"]), (200, &item["name"]), "{item}: {d}");
    }
    // A blank or a control character is still no name.
    assert_eq!(crate::serve::get(&format!("{}/v1/domains/a%20b.test", s.base)).0, 400);
}
