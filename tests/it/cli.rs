//! The command layer (issue "One command layer"): one output contract, exit codes, errors
//! reported once, closed pipes, and what a new user and a hostile client found.

use std::io::{BufRead, BufReader, Read};
use std::process::{Output, Stdio};

use crate::env::{summary, TestEnv};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/com.zone.gz");
const FAULTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/faults.zone");

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The delegated names of a synthetic zone's text.
fn delegations(text: &[u8]) -> std::collections::BTreeSet<String> {
    String::from_utf8_lossy(text)
        .lines()
        .filter(|l| l.contains("\tns\t"))
        .filter_map(|l| l.split('\t').next())
        .filter(|o| o.matches('.').count() == 2)
        .map(|o| o.trim_end_matches('.').to_string())
        .collect()
}

/// Two days of a synthetic zone (so there are changes), the faults zone (findings), and every
/// domain day 1 removes watched (so there are watch hits).
fn two_days(t: &TestEnv, db: &str, domains: u64) {
    let days: Vec<Vec<u8>> = (0..2)
        .map(|day| {
            let mut text = Vec::new();
            zonefeed::synth::write_zone_day(&mut text, "com", domains, 3, day).unwrap();
            text
        })
        .collect();
    let gone: Vec<String> = delegations(&days[0]).difference(&delegations(&days[1])).cloned().collect();
    assert!(!gone.is_empty());
    for (day, text) in days.iter().enumerate() {
        let f = t.write(&format!("com-{day}.zone"), text);
        if day == 1 {
            let mut a = vec!["--db", db, "-q", "watch", "add"];
            a.extend(gone.iter().map(String::as_str));
            assert!(t.run(&a).status.success());
        }
        t.import_ok(db, &[f.to_str().unwrap()]);
    }
    t.import_ok(db, &[FAULTS]);
}

/// Every list command, in every format: json is one array, jsonl one object a line, text and
/// tsv lines; an empty result is `[]` in json and nothing in jsonl.
#[test]
fn every_list_command_keeps_the_output_contract_in_every_format() {
    let t = TestEnv::new();
    two_days(&t, "o.db", 3000);
    let lists: &[&[&str]] = &[
        &["changes"],
        &["changes", "--kind", "added"],
        &["search", ".com", "--limit", "50"],
        &["search", "--contains", "a", "--limit", "5"],
        &["watch", "list"],
        &["watch", "hits"],
        &["stats"],
        &["check", "test"],
        &["domain", "lonely.test"],
    ];
    for args in lists {
        let run = |format: &str| {
            let mut a = vec!["--db", "o.db", "--format", format];
            a.extend_from_slice(args);
            let out = t.run(&a);
            assert!(out.status.success(), "{args:?} {format}: {}", stderr(&out));
            stdout(&out)
        };
        let json: serde_json::Value = serde_json::from_str(&run("json")).unwrap_or_else(|e| panic!("{args:?}: json is one document: {e}"));
        let items = json.as_array().unwrap_or_else(|| panic!("{args:?}: json is an array"));
        assert!(!items.is_empty(), "{args:?}: the fixture gives results");
        let lines: Vec<serde_json::Value> =
            run("jsonl").lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{args:?}: jsonl line {l:?}: {e}"))).collect();
        assert_eq!(&lines, items, "{args:?}: jsonl holds the same objects, one a line");
        assert!(lines.iter().all(serde_json::Value::is_object), "{args:?}");
        // --json is --format json.
        let mut a = vec!["--db", "o.db", "--json"];
        a.extend_from_slice(args);
        assert_eq!(serde_json::from_slice::<serde_json::Value>(&t.run(&a).stdout).unwrap(), json, "{args:?}: --json");
        let text = run("text");
        assert!(!text.trim().is_empty() && !text.trim_start().starts_with('['), "{args:?} text: {text}");
        // A tab form where the command has one; elsewhere a usage error, not text.
        if matches!(args[0], "stats" | "domain") {
            let mut a = vec!["--db", "o.db", "--format", "tsv"];
            a.extend_from_slice(args);
            let out = t.run(&a);
            assert_eq!((out.status.code(), stdout(&out).as_str()), (Some(2), ""), "{args:?} tsv");
            assert!(stderr(&out).contains("no tsv form"), "{}", stderr(&out));
        } else {
            let tsv = run("tsv");
            assert!(!tsv.trim().is_empty() && !tsv.trim_start().starts_with('['), "{args:?} tsv: {tsv}");
        }
    }
    // Empty results: `[]` and exit 0 for a feed (as git log), nothing in jsonl.
    for args in [
        &["changes", "--since", "2999-01-01"][..],
        &["watch", "hits", "--since", "2999-01-01"],
        &["changes", "--kind", "watch", "--tld", "test"],
    ] {
        let mut a = vec!["--db", "o.db", "--json"];
        a.extend_from_slice(args);
        let out = t.run(&a);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert_eq!(stdout(&out).trim(), "[]", "{args:?}");
        let mut a = vec!["--db", "o.db", "--format", "jsonl"];
        a.extend_from_slice(args);
        assert_eq!(stdout(&t.run(&a)), "", "{args:?}");
    }
    // Runs over several items are one array too: two files, one JSON document.
    let out = t.run(&["--db", "o.db", "-q", "--json", "import", SAMPLE, SAMPLE]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(2), "{v}");
}

/// With a JSON format an error is a JSON object on stdout too, and `error:` on stderr once.
#[test]
fn errors_are_reported_once_and_as_json_with_json() {
    let t = TestEnv::new();
    let out = t.run(&["--db", "none.db", "--json", "stats"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["code"], "failed");
    assert!(v["error"]["message"].as_str().unwrap().contains("no database at `none.db`"), "{v}");
    assert_eq!(stderr(&out).matches("error:").count(), 1, "{}", stderr(&out));
    let out = t.run(&["--db", "none.db", "--format", "jsonl", "changes", "--since", "2026-13-45"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["error"]["code"], "usage");
}

/// Reads one line of a command's stdout, then closes the pipe: the command must end quietly
/// with exit 0, as `| head -1` leaves it (it aborted with exit 134 before).
fn head_1(t: &TestEnv, args: &[&str]) -> (Option<i32>, String, String) {
    let mut child = t.cmd().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    // The reader is dropped here: the pipe is closed.
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    (child.wait().unwrap().code(), first, err)
}

#[test]
fn a_closed_pipe_ends_every_long_command_quietly_with_exit_0() {
    let t = TestEnv::new();
    two_days(&t, "p.db", 150_000);
    // Each prints far more than a pipe buffer (64 KiB).
    let long: &[&[&str]] = &[
        &["search", ".com", "--limit", "0"],
        &["search", ".com", "--limit", "0", "--format", "tsv"],
        &["search", "--glob", "*", "--limit", "0", "--json"],
        &["changes", "--json"],
        &["changes", "--format", "jsonl"],
        &["watch", "hits", "--json"],
        &["stats", "--json", "--top", "5000"],
        &["check", "--json"],
    ];
    for args in long {
        let mut a = vec!["--db", "p.db"];
        a.extend_from_slice(args);
        let full = t.run(&a);
        assert!(full.status.success(), "{args:?}: {}", stderr(&full));
        assert!(full.stdout.len() > 64 << 10, "{args:?} prints only {} bytes: not a pipe test", full.stdout.len());
        let (code, first, err) = head_1(&t, &a);
        assert_eq!(code, Some(0), "{args:?}: {err}");
        assert!(!first.is_empty(), "{args:?}");
        assert!(err.is_empty() || err.ends_with("shown (--limit N for more, --limit 0 for all)\n"), "{args:?} said: {err}");
    }
}

#[test]
fn dates_are_checked_for_existence_and_ages_are_accepted() {
    let t = TestEnv::new();
    t.import_ok("d.db", &[SAMPLE]);
    for bad in ["2026-13-45", "2026-02-30", "2025-02-29", "2026-11-23T25:00:00Z", "2026-11-23T06:00:00", "yesterday"] {
        for cmd in [&["changes", "--since", bad][..], &["watch", "hits", "--since", bad]] {
            let mut a = vec!["--db", "d.db"];
            a.extend_from_slice(cmd);
            let out = t.run(&a);
            assert_eq!(out.status.code(), Some(2), "{cmd:?}");
            assert!(stderr(&out).contains(bad), "{}", stderr(&out));
        }
    }
    for good in ["2024-02-29", "2026-11-23T06:00:00Z", "2026-11-23T08:00:00+02:00", "2026-11-23T06:00:00.5Z", "7d", "24h", "30m"] {
        let out = t.run(&["--db", "d.db", "changes", "--since", good]);
        assert_eq!(out.status.code(), Some(0), "{good}: {}", stderr(&out));
    }
}

#[test]
fn read_commands_never_create_a_database() {
    let t = TestEnv::new();
    for cmd in [
        &["watch", "list"][..],
        &["watch", "hits"],
        &["watch", "remove", "example.com"],
        &["search", ".com"],
        &["changes"],
        &["stats"],
        &["check"],
        &["domain", "example.com"],
        &["prune", "--keep-days", "30"],
        &["webhooks", "status"],
    ] {
        let mut a = vec!["--db", "nope.db"];
        a.extend_from_slice(cmd);
        let out = t.run(&a);
        assert_eq!(out.status.code(), Some(1), "{cmd:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("no database at `nope.db`"), "{cmd:?}: {}", stderr(&out));
        assert!(!t.path("nope.db").exists(), "{cmd:?} created the database");
    }
    let out = t.run(&["--db", "nope.db", "import", "missing.zone"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("missing.zone"), "{}", stderr(&out));
    assert!(!t.path("nope.db").exists(), "a failed import of a missing file created the database");
}

#[test]
fn someone_elses_sqlite_file_is_refused_and_left_as_it_was() {
    let t = TestEnv::new();
    let theirs = t.db("theirs.db");
    theirs.execute_batch("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO accounts VALUES (1, 'x');").unwrap();
    drop(theirs);
    let before = std::fs::read(t.path("theirs.db")).unwrap();
    for cmd in [&["import", SAMPLE][..], &["stats"], &["watch", "add", "example.com"]] {
        let mut a = vec!["--db", "theirs.db"];
        a.extend_from_slice(cmd);
        let out = t.run(&a);
        assert_eq!(out.status.code(), Some(1), "{cmd:?}");
        assert!(stderr(&out).contains("`theirs.db` is an SQLite database but not zonefeed's"), "{cmd:?}: {}", stderr(&out));
    }
    let tables = crate::env::column(&t.db("theirs.db"), "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name");
    assert_eq!(tables, ["accounts"], "our tables were added to someone else's database");
    assert_eq!(std::fs::read(t.path("theirs.db")).unwrap(), before);
}

#[test]
fn names_flags_and_queries_are_checked() {
    let t = TestEnv::new();
    t.import_ok("n.db", &[SAMPLE]);
    // --zone-version is the flag; --version is the program's version, as everywhere.
    let out = t.run(&["--db", "n.db", "changes", "--zone-version", "1", "--format", "tsv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&t.run(&["changes", "--version"])).starts_with("zonefeed"));
    let usage = |args: &[&str], says: &str| {
        let mut a = vec!["--db", "n.db"];
        a.extend_from_slice(args);
        let out = t.run(&a);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    };
    usage(&["import", "--max-removed", "150", SAMPLE], "not a percentage from 0 to 100");
    usage(&["sync", "--max-removed=-1"], "not a percentage from 0 to 100");
    usage(&["watch", "add", "not a domain"], "is not a valid domain name");
    usage(&["watch", "add", "--term", "a\u{1b}[31m"], "\\027");
    usage(&["search", "--glob", "["], "`[` is not closed");
    usage(&["search", "a b"], "is not a valid domain name");
    usage(&["search", "--contains", "a b"], "a word is");
    usage(&["check", "--level", "loud"], "invalid value 'loud'");
    usage(&["changes", "--kind", "gone"], "invalid value 'gone'");
    // --wait is only where something is written.
    assert_eq!(t.run(&["--db", "n.db", "search", ".com", "--wait", "1"]).status.code(), Some(2));
    assert!(t.run(&["--db", "n.db", "-q", "import", "--wait", "1", SAMPLE]).status.success());
    // A misspelled config key is named, with the key meant.
    t.write("typo.json", br#"{"databse.path": "x.db"}"#);
    let out = t.run(&["--config", "typo.json", "--db", "n.db", "stats"]);
    assert!(out.status.success());
    assert!(stderr(&out).contains("unknown key `databse.path` is ignored; did you mean `database.path`?"), "{}", stderr(&out));
}

#[test]
fn search_says_what_it_left_out_and_exits_like_grep() {
    let t = TestEnv::new();
    t.import_ok("s.db", &[SAMPLE]);
    let out = t.run(&["--db", "s.db", "search", ".com"]);
    assert_eq!(stdout(&out).lines().count(), 100);
    assert!(stderr(&out).contains("100 of 1000 shown"), "{}", stderr(&out));
    let out = t.run(&["--db", "s.db", "search", ".com", "--limit", "0"]);
    assert_eq!(stdout(&out).lines().count(), 1000);
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    // No match: exit 1 and nothing, as grep and rg; `[]` with --json.
    let out = t.run(&["--db", "s.db", "--json", "search", "no-such-name.com"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out).trim(), "[]");
    // An unknown zone is an error (exit 1) in every command that takes one.
    for cmd in [&["search", ".com", "--tld", "net"][..], &["changes", "--tld", "net"], &["stats", "net"], &["check", "net"]] {
        let mut a = vec!["--db", "s.db"];
        a.extend_from_slice(cmd);
        let out = t.run(&a);
        assert_eq!(out.status.code(), Some(1), "{cmd:?}");
        assert!(stderr(&out).contains("net: not an imported zone"), "{cmd:?}: {}", stderr(&out));
    }
}

#[test]
fn messages_say_what_happened() {
    let t = TestEnv::new();
    // An unchanged re-import reports the current version's figures.
    let first = summary(&t.import_ok("m.db", &[SAMPLE]));
    let again = summary(&t.import_ok("m.db", &[SAMPLE]));
    assert_eq!(again["unchanged"], true);
    for k in ["version", "serial", "records", "domains", "bytes"] {
        assert_eq!(again[k], first[k], "{k}");
    }
    let out = t.run(&["--db", "m.db", "import", SAMPLE]);
    assert!(stdout(&out).contains("unchanged (same SHA-256 as version 1, serial 2026110100, 1000 domains)"), "{}", stdout(&out));
    // A --no-records zone keeps its count of DS domains, and has no NS data to count: "not
    // kept", not zeros.
    t.import_ok("nr.db", &["--no-records", "--date", "2026-11-01", SAMPLE]);
    let out = t.run(&["--db", "nr.db", "stats"]);
    let text = stdout(&out);
    let ds = t.db("nr.db").query_row("SELECT ds_domains FROM zones", [], |r| r.get::<_, i64>(0)).unwrap();
    assert!(ds > 0 && text.contains(&format!("with DS {ds} (")), "{text}");
    assert!(text.contains("not kept (imported with --no-records)") && !text.contains("0 in-bailiwick"), "{text}");
    // Versions by their zone date; a first version is no "+0 -0 ~0".
    assert!(text.contains("zone date 2026-11-01") && text.contains("version 1 of 2026-11-01: first version"), "{text}");
    // A database with no zone (its one import failed): `stats` says so, exit 1.
    let bad = t.write("bad.zone", b"this is no zone\n");
    assert_eq!(t.run(&["--db", "empty.db", "-q", "import", "--tld", "test", bad.to_str().unwrap()]).status.code(), Some(1));
    let out = t.run(&["--db", "empty.db", "stats"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no zone is imported"), "{}", stderr(&out));
    // A complete gzip with junk after it is not "truncated"; a cut one is.
    let gz = std::fs::read(SAMPLE).unwrap();
    let mut junk = gz.clone();
    junk.extend_from_slice(b"not gzip at all\n");
    let f = t.write("junk.zone.gz", &junk);
    let out = t.run(&["--db", "j.db", "import", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("data after the end of the gzip stream") && !stderr(&out).contains("truncated"), "{}", stderr(&out));
    let f = t.write("cut.zone.gz", &gz[..gz.len() / 2]);
    let out = t.run(&["--db", "j.db", "import", f.to_str().unwrap()]);
    assert!(stderr(&out).contains("truncated gzip stream"), "{}", stderr(&out));
}

#[test]
fn a_version_needs_exactly_one_soa() {
    let t = TestEnv::new();
    let soa = "com. 3600 IN SOA a.nic. h.nic. 2026110100 1800 900 604800 86400\n";
    let body = "example.com. 3600 IN NS ns1.example.net.\n";
    let none = t.write("none.zone", format!("$ORIGIN com.\n{body}").as_bytes());
    let two = t.write("two.zone", format!("{soa}com. 3600 IN SOA b.nic. h.nic. 2026110101 1800 900 604800 86400\n{body}").as_bytes());
    for (f, says) in [(&none, "0 SOA records at the origin `com`"), (&two, "2 SOA records at the origin `com`")] {
        let out = t.run(&["--db", "soa.db", "import", f.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
    }
    let versions: i64 = t.db("soa.db").query_row("SELECT count(*) FROM zones WHERE state = 'current'", [], |r| r.get(0)).unwrap();
    assert_eq!(versions, 0, "a file without one SOA never became a version");
    // So an SOA-less file can no longer reset the serial guard.
    let good = t.write("good.zone", format!("{soa}{body}").as_bytes());
    t.import_ok("soa.db", &[good.to_str().unwrap()]);
    let older = t.write("older.zone", format!("{}{body}", soa.replace("2026110100", "2026010100")).as_bytes());
    assert_eq!(t.run(&["--db", "soa.db", "import", none.to_str().unwrap()]).status.code(), Some(1));
    let out = t.run(&["--db", "soa.db", "import", older.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("older than the current version's 2026110100"), "{}", stderr(&out));
}

#[test]
fn zone_text_in_errors_is_escaped() {
    let t = TestEnv::new();
    let f = t.write(
        "evil.zone",
        b"com. 3600 IN SOA a.nic. h.nic. 1 2 3 4 5\nevil.com. 3600 IN A 1.2.3.\x1b[2J4\nnul.com. 3600 IN TYPEX\x1b]0\x07\x00 x\n",
    );
    let out = t.run(&["--db", "e.db", "import", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = &out.stderr;
    assert!(!err.iter().any(|&b| b == 0x1b || b == 0 || b == 0x07), "raw control bytes reached the terminal: {:?}", stderr(&out));
    assert!(stderr(&out).contains("bad IPv4 address `1.2.3.\\027[2J4`"), "{}", stderr(&out));
    assert!(stderr(&out).contains("unknown type `TYPEX\\027]0\\007\\000`"), "{}", stderr(&out));
}

#[test]
fn prune_dry_run_changes_nothing_and_keep_days_0_needs_yes() {
    let t = TestEnv::new();
    two_days(&t, "pr.db", 3000);
    // Age everything, so there is something to prune.
    let db = t.db("pr.db");
    db.execute_batch(
        "UPDATE events SET at = '2020-01-01T00:00:00Z'; UPDATE zones SET imported_at = '2020-01-01T00:00:00Z', finished_at = '2020-01-01T00:00:00Z';
         UPDATE domain_rows SET removed_ts = unixepoch('2020-01-01T00:00:00Z') WHERE removed_ts IS NOT NULL;",
    )
    .unwrap();
    let counts = |db: &rusqlite::Connection| -> Vec<i64> {
        ["events", "zones", "domains", "records"]
            .iter()
            .map(|tb| db.query_row(&format!("SELECT count(*) FROM {tb}"), [], |r| r.get(0)).unwrap())
            .collect()
    };
    let before = counts(&db);
    let out = t.run(&["--db", "pr.db", "--json", "prune", "--keep-days", "30", "--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let would: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(would["dry_run"], true);
    assert!(would["events"].as_u64().unwrap() > 0 && would["removed_domains"].as_u64().unwrap() > 0, "{would}");
    assert_eq!(counts(&db), before, "--dry-run changed the database");
    // --keep-days 0 drops everything: only with --yes.
    let out = t.run(&["--db", "pr.db", "prune", "--keep-days", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert_eq!(counts(&db), before);
    // A real prune removes exactly what the dry run said, removed domains included.
    let out = t.run(&["--db", "pr.db", "--json", "prune", "--keep-days", "30"]);
    let did: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for k in ["events", "outbox", "batches", "versions", "downloads", "removed_domains", "history_rows"] {
        assert_eq!(did[k], would[k], "{k}");
    }
    let removed: i64 = db.query_row("SELECT count(*) FROM domains WHERE removed_at IS NOT NULL", [], |r| r.get(0)).unwrap();
    assert_eq!(removed, 0, "removed-domain rows older than the cutoff are pruned");
    // The history rows those versions replaced go too, and history views say where what is
    // left begins instead of presenting the pruned part as "no changes".
    assert!(did["history_rows"].as_u64().unwrap() > 0, "{did}");
    let closed: i64 = db.query_row("SELECT count(*) FROM records WHERE until IS NOT NULL", [], |r| r.get(0)).unwrap();
    assert_eq!(closed, 0);
    let out = t.run(&["--db", "pr.db", "domain", "lonely.test", "--history"]);
    assert!(stdout(&out).contains(&format!("(history before {} was pruned)", did["before"].as_str().unwrap())), "{}", stdout(&out));
    let out = t.run(&["--db", "pr.db", "--json", "domain", "lonely.test", "--history"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["history_pruned_before"], did["before"]);
}

#[test]
fn every_argument_and_flag_has_help_and_every_command_an_example() {
    use clap::CommandFactory;
    // `examples`: whether this command or one above it shows examples in its help.
    fn walk(cmd: &clap::Command, path: &str, examples: bool) -> usize {
        for a in cmd.get_arguments() {
            let id = a.get_id().as_str();
            if a.is_hide_set() || id == "help" || id == "version" {
                continue;
            }
            assert!(a.get_help().is_some(), "`{path}` argument `{id}` has no help line");
        }
        let examples = examples || cmd.get_after_help().is_some_and(|h| h.to_string().contains("Example"));
        if cmd.get_subcommands().next().is_none() {
            assert!(examples, "`{path} --help` shows no example");
            return 1;
        }
        cmd.get_subcommands().map(|sub| walk(sub, &format!("{path} {}", sub.get_name()), examples)).sum()
    }
    let cmd = zonefeed::cli::Cli::command();
    // The top level's exit-code text names one example; each command needs its own.
    let leaves: usize = cmd.get_subcommands().map(|sub| walk(sub, &format!("zonefeed {}", sub.get_name()), false)).sum();
    assert!(leaves > 20, "{leaves} commands walked");
}

#[test]
fn the_database_writer_never_waits_long_on_a_reader() {
    let t = TestEnv::new();
    let f0 = crate::env::synth_day(&t, "d0.zone", "com", 20_000, 4, 0);
    t.import_ok("r.db", &[f0.to_str().unwrap()]);
    let f1 = crate::env::synth_day(&t, "d1.zone", "com", 20_000, 4, 1);
    // A reader in the middle of a read transaction, as a sqlite3 shell or a dashboard holds one.
    let reader = t.db("r.db");
    reader.execute_batch("BEGIN").unwrap();
    let _: i64 = reader.query_row("SELECT count(*) FROM domains", [], |r| r.get(0)).unwrap();
    let started = std::time::Instant::now();
    let out = t.run(&["--db", "r.db", "-q", "import", "--wait", "60", f1.to_str().unwrap()]);
    let took = started.elapsed();
    assert!(out.status.success(), "{}", stderr(&out));
    // It waited the whole --wait (60 s here, 30 s by default) for the reader before.
    assert!(took < std::time::Duration::from_secs(20), "the import waited {took:?} for a reader");
    let wal = t.path("r.db-wal");
    assert!(std::fs::metadata(&wal).map_or(0, |m| m.len()) > 0, "the reader kept the WAL: nothing to test");
    reader.execute_batch("COMMIT").unwrap();
    // Once the reader lets go, serve's upkeep truncates the WAL.
    let mut server = t.cmd().args(["--db", "r.db", "serve", "--listen", "127.0.0.1:0"]).stdout(Stdio::piped()).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::fs::metadata(&wal).map_or(0, |m| m.len()) > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(std::fs::metadata(&wal).map_or(0, |m| m.len()), 0, "the WAL was not truncated after the reader let go");
}

/// `-v` shows an import's phase timings (what scripts/bench.sh reads), and nothing else does.
#[test]
fn verbose_shows_the_phase_timings_and_only_verbose_does() {
    let t = TestEnv::new();
    let out = t.run(&["-v", "--db", "v.db", "import", SAMPLE]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("trace:") && err.contains("parsed and sorted") && err.contains("trace: writer: busy"), "{err}");
    let out = t.run(&["--db", "q.db", "import", SAMPLE]);
    assert!(!stderr(&out).contains("trace:"), "{}", stderr(&out));
}
