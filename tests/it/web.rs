//! The web page on `zonefeed serve`, in a real browser: headless Chromium driven by
//! Playwright's Python client (tests/it/web_browser.py), over zonegen days 0..3 imported with
//! records. What the pages show is compared with the zone texts and zonegen's own truth.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use crate::env::{self, TestEnv};

const DATES: [&str; 4] = ["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"];
const GEN: [&str; 5] = ["--tld", "com", "--domains", "2000", "--signed"];

/// Chromium and Playwright's Python package, or None after saying loudly that the test skips.
/// With ZONEFEED_REQUIRE_BROWSER=1 (CI installs both) their absence fails the test instead.
fn browser(test: &str) -> Option<String> {
    let chromium = std::env::var("ZONEFEED_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let playwright = Command::new("python3").args(["-c", "import playwright.sync_api"]).output().is_ok_and(|o| o.status.success());
    if playwright && std::path::Path::new(&chromium).is_file() {
        return Some(chromium);
    }
    let missing = format!("needs Chromium ({chromium}, apt install chromium) and Playwright (pip install playwright)");
    env::skip(test, "ZONEFEED_REQUIRE_BROWSER", &missing);
    None
}

/// A zone text's records at or below `domain` (NS, DS, glue; not the signatures), as the page
/// prints them: `owner TTL TYPE rdata`, names without the final dot.
fn records_of(text: &[u8], domain: &str) -> BTreeSet<String> {
    let below = format!(".{domain}");
    String::from_utf8_lossy(text)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let owner = f.first()?.trim_end_matches('.');
            let rtype = f.get(3)?.to_ascii_uppercase();
            if (owner != domain && !owner.ends_with(&below)) || matches!(rtype.as_str(), "RRSIG" | "NSEC" | "NSEC3") {
                return None;
            }
            Some(format!("{owner} {} {rtype} {}", f[1], f[4..].join(" ").trim_end_matches('.')))
        })
        .collect()
}

fn ns_set(recs: &BTreeSet<String>, domain: &str) -> BTreeSet<String> {
    let head = format!("{domain} ");
    recs.iter()
        .filter(|r| r.starts_with(&head) && r.split(' ').nth(2) == Some("NS"))
        .filter_map(|r| r.split(' ').nth(3))
        .map(str::to_string)
        .collect()
}

/// Delegations and delegations with DS in a zone text; and the domains delegated to `host`.
fn delegations(text: &[u8], tld: &str, host: Option<&str>) -> (usize, usize, usize) {
    let (mut ns, mut ds, mut to_host) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for l in String::from_utf8_lossy(text).lines() {
        let f: Vec<&str> = l.split('\t').collect();
        if f.len() < 5 || f[0].trim_end_matches('.') == tld {
            continue;
        }
        let owner = f[0].trim_end_matches('.').to_string();
        match f[3].to_ascii_lowercase().as_str() {
            "ns" => {
                if Some(f[4].trim_end_matches('.')) == host {
                    to_host.insert(owner.clone());
                }
                ns.insert(owner);
            }
            "ds" => {
                ds.insert(owner);
            }
            _ => {}
        }
    }
    (ns.len(), ds.intersection(&ns).count(), to_host.len())
}

fn changes(sh: &std::path::Path, from: usize, to: usize) -> Vec<(String, String)> {
    let out = env::zonegen(sh, &[&["changes", "--from", &from.to_string(), "--to", &to.to_string()][..], &GEN[..]].concat());
    String::from_utf8_lossy(&out).lines().filter_map(|l| l.split_once('\t')).map(|(k, n)| (k.to_string(), n.to_string())).collect()
}

fn points(v: &serde_json::Value) -> Vec<(String, f64)> {
    v.as_array().unwrap().iter().map(|p| (p[0].as_str().unwrap().to_string(), p[1].as_f64().unwrap())).collect()
}

#[test]
fn a_browser_finds_what_the_zone_texts_say_on_every_page() {
    let Some(sh) = env::shared("a_browser_finds_what_the_zone_texts_say_on_every_page") else { return };
    let Some(chromium) = browser("a_browser_finds_what_the_zone_texts_say_on_every_page") else { return };
    let t = TestEnv::new();
    let texts: Vec<Vec<u8>> = (0..4).map(|d| env::zonegen(&sh, &[&["zone", "--day", &d.to_string()][..], &GEN[..]].concat())).collect();
    let day2 = changes(&sh, 1, 2);
    let added2: Vec<String> = day2.iter().filter(|(k, _)| k == "added").map(|(_, n)| n.clone()).collect();
    // A watched term, set before day 2: the first new domain's name is a hit in its feed.
    let term = added2[0].split('.').next().unwrap().to_string();
    for (d, text) in texts.iter().enumerate() {
        if d == 2 {
            let out = t.run(&["--db", "w.db", "watch", "add", "--term", &term]);
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
        let f = t.write(&format!("com{d}.zone"), text);
        t.import_ok("w.db", &["--date", DATES[d], f.to_str().unwrap()]);
    }
    // A second zone, kept without its records.
    let net: Vec<u8> = env::zonegen(&sh, &["zone", "--tld", "net", "--domains", "300", "--day", "0"]);
    let f = t.write("net0.zone", &net);
    t.import_ok("w.db", &["--no-records", "--date", DATES[0], f.to_str().unwrap()]);
    // A domain modified on day 2 whose name servers changed (records NS and glue only), and
    // that day 3 left as it was.
    let day3 = changes(&sh, 2, 3);
    // Of those, the one whose first name server serves the most domains, for the name
    // server's page.
    let domain = day2
        .iter()
        .filter(|(k, n)| k == "modified" && !day3.iter().any(|(_, m)| m == n))
        .map(|(_, n)| n.clone())
        .filter(|n| {
            let (a, b) = (records_of(&texts[1], n), records_of(&texts[2], n));
            ns_set(&a, n) != ns_set(&b, n) && a.symmetric_difference(&b).all(|r| [" NS ", " A ", " AAAA "].iter().any(|t| r.contains(t)))
        })
        .max_by_key(|n| ns_set(&records_of(&texts[2], n), n).first().map(|h| delegations(&texts[3], "com", Some(h)).2))
        .expect("zonegen's day 2 moves some domain to other name servers");
    let (r1, r2) = (records_of(&texts[1], &domain), records_of(&texts[2], &domain));

    let server = crate::serve::start(&t, "w.db");
    let shots = std::env::var("ZONEFEED_SCREENSHOTS").ok();
    let args = serde_json::json!({
        "base": server.base, "domain": domain, "day1": DATES[1], "day2": DATES[2], "feed_day": DATES[2], "tld": "com",
        "shots": shots, "chromium": chromium, "nr_tld": "net",
    });
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/web_browser.py");
    let out = Command::new("python3").arg(&script).arg(args.to_string()).output().expect("python3 runs");
    assert!(out.status.success(), "browser script: {}", String::from_utf8_lossy(&out.stderr));
    let got: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let strings =
        |v: &serde_json::Value| -> Vec<String> { v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect() };

    if std::env::var_os("ZONEFEED_DUMP").is_some() {
        eprintln!("{got:#}");
    }
    // Every page loaded without an error in the console.
    assert!(got["console"].as_array().unwrap().is_empty(), "console errors: {}", got["console"]);
    assert!(strings(&got["pages"]).len() >= 8, "{}", got["pages"]);
    assert!(got.get("bad_text").is_none(), "{}", got["bad_text"]);

    // Search, then the domain page: the NS sets of day 1 and day 2, and day 2's diff.
    assert!(strings(&got["search_results"]).contains(&domain));
    assert!(got["domain_url"].as_str().unwrap().ends_with(&format!("/domain/{domain}")));
    let set = |v: &serde_json::Value| strings(v).into_iter().collect::<BTreeSet<_>>();
    assert_eq!(set(&got["ns_day1"]), ns_set(&r1, &domain), "NS on {}", DATES[1]);
    assert_eq!(set(&got["ns_day2"]), ns_set(&r2, &domain), "NS on {}", DATES[2]);
    assert_eq!(set(&got["ns_now"]), ns_set(&r2, &domain), "NS now");
    let mut want_diff: Vec<String> =
        r1.difference(&r2).map(|r| format!("- {r}")).chain(r2.difference(&r1).map(|r| format!("+ {r}"))).collect();
    want_diff.sort();
    let mut diff = strings(&got["diff"]);
    diff.sort();
    assert_eq!(diff, want_diff, "the diff of {domain} on {}", DATES[2]);
    // Marked in colour and in text alike.
    for (line, class) in strings(&got["diff"]).iter().zip(strings(&got["diff_classes"])) {
        assert_eq!(class, if line.starts_with('+') { "add" } else { "del" }, "{line}");
    }

    // The name server's page counts the domains day 3's text delegates to it.
    let host = got["ns_host"].as_str().unwrap();
    let (_, _, served) = delegations(&texts[3], "com", Some(host));
    assert!(got["ns_url"].as_str().unwrap().ends_with(&format!("/ns/{host}")));
    assert_eq!(got["ns_domains_now"].as_str().unwrap().replace(',', ""), served.to_string(), "{host}");
    // Its domains, each delegated to it since the first of the days up to the last that were.
    let rows = got["ns_rows"].as_array().unwrap();
    assert_eq!(rows.len(), served.min(50), "{host}");
    for row in rows {
        let (name, since) = (row[0].as_str().unwrap(), row[1].as_str().unwrap());
        let first = (0..4).rev().take_while(|d| ns_set(&records_of(&texts[*d], name), name).contains(host)).last();
        assert_eq!(first.map(|d| DATES[d]), Some(since), "{name} on {host}");
    }
    let ns_chart = points(&got["ns_chart"]);
    assert_eq!(ns_chart.last().map(|p| p.1 as usize), Some(served), "{host}: {ns_chart:?}");

    // The zone page: one point per imported day, equal to zonegen's truth and change sets.
    let chart = &got["zone_chart"];
    let mut want: BTreeMap<&str, Vec<(String, f64)>> = BTreeMap::new();
    for (d, text) in texts.iter().enumerate() {
        let truth: serde_json::Value =
            serde_json::from_slice(&env::zonegen(&sh, &[&["truth", "--day", &d.to_string()][..], &GEN[..]].concat())).unwrap();
        let (delegated, signed, _) = delegations(text, "com", None);
        assert_eq!(delegated as u64, truth["domains"].as_u64().unwrap());
        want.entry("domains").or_default().push((DATES[d].into(), truth["domains"].as_f64().unwrap()));
        want.entry("ds_share").or_default().push((DATES[d].into(), signed as f64 / delegated as f64));
        if d > 0 {
            let c = changes(&sh, d - 1, d);
            for kind in ["added", "removed", "modified"] {
                want.entry(kind).or_default().push((DATES[d].into(), c.iter().filter(|(k, _)| k == kind).count() as f64));
            }
        }
    }
    for (key, want) in want {
        let got = points(&chart[key]);
        assert_eq!(got.len(), want.len(), "{key}: {got:?}");
        for ((gd, gv), (wd, wv)) in got.iter().zip(&want) {
            assert_eq!(gd, wd, "{key}");
            assert!((gv - wv).abs() < 1e-9, "{key} on {gd}: page {gv}, zone text {wv}");
        }
    }

    // The new domains of day 2, on the page and as CSV, equal zonegen's change set.
    assert_eq!(strings(&got["feed_rows"]), added2);
    let csv = got["csv"].as_str().unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("date,tld,kind,domain,unicode,moved_from,moved_to,watch"));
    let csv_names: Vec<String> = lines.map(|l| l.split(',').nth(3).unwrap().to_string()).collect();
    assert_eq!(csv_names, added2);
    assert!(strings(&got["feed_hits"]).contains(&added2[0]), "watch `{term}`: {}", got["feed_hits"]);

    // The zone without records: its domains, and why it has no checks.
    assert_eq!(got["nr_domains"].as_str(), Some(delegations(&net, "net", None).0.to_string().as_str()));
    assert!(got["nr_checks"].as_str().unwrap().contains("--no-records"), "{}", got["nr_checks"]);

    // Hostile URLs get a message, and no script of theirs runs.
    assert!(got.get("dialogs").is_none(), "{}", got["dialogs"]);
    assert!(strings(&got["hostile_console"]).iter().all(|m| m.contains("status of 400")), "{}", got["hostile_console"]);
    let hostile = strings(&got["hostile"]);
    assert!(hostile[0].contains("Something went wrong") || hostile[0].contains("Not found"), "{hostile:?}");
    assert!(hostile[1].contains("not a valid") || hostile[1].contains("invalid") || hostile[1].contains("label"), "{hostile:?}");

    // Chart labels read at one size on every page, whatever the chart's width.
    for page in ["ns", "zone"] {
        let px: Vec<f64> = got["text_px"][page].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert!(!px.is_empty() && px.iter().all(|h| (10.0..=18.0).contains(h)), "{page}: label heights {px:?}");
    }
    // An error box shows the API's `quoted` names as code, not raw backticks.
    assert!(hostile.iter().all(|m| !m.contains('`')), "{hostile:?}");

    // The keyboard reaches the skip link first.
    assert_eq!(got["first_tab"].as_str(), Some("Skip to content"));
}
