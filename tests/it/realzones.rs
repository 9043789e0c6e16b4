//! Files real servers wrote (../shared/realzones): counts against three independent parsers,
//! and BIND's named-checkzone fixtures.

use crate::env::{self, summary, TestEnv};

#[test]
fn realzones_counts_match_bind_and_dnspython() {
    let Some(sh) = env::shared("realzones_counts_match_bind_and_dnspython") else { return };
    let dir = sh.join("realzones");
    let counts = std::fs::read_to_string(dir.join("COUNTS.txt")).unwrap();
    let t = TestEnv::new();
    let mut checked = 0;
    for line in counts.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (file, origin, bind, dnspy) = (f[0], f[1], f[5], f[6]);
        // bind 0 means BIND refused the file for a semantic reason: dnspython's unique count rules.
        let want: u64 = if bind == "0" { dnspy.split('/').nth(1).unwrap().parse().unwrap() } else { bind.parse().unwrap() };
        let db = format!("{}.db", file.replace('/', "_"));
        let out = t.run(&["--db", &db, "-q", "--format", "jsonl", "import", "--force", "--tld", origin, dir.join(file).to_str().unwrap()]);
        assert!(out.status.success(), "{file}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(summary(&out)["records"].as_u64(), Some(want), "{file}");
        checked += 1;
    }
    assert!(checked >= 20, "COUNTS.txt lists the files");
}

/// The origin named-checkzone is given for a fixture (most use `example`).
fn origin_of(name: &str) -> &'static str {
    match name {
        "crashzone.db" => "dyn.example.net",
        "zone1.db" => "zone1.com",
        "delegating-ns-address-below-dname.db" | "ns-address-below-dname.db" => "example.com",
        _ => "example",
    }
}

/// `bad-*` fixtures we accept: their fault is semantic, which an importer does not judge.
const ACCEPTED_BAD: &[(&str, &str)] = &[
    ("bad-cname-and-", "CNAME beside other data at one owner (RFC 1034 3.6.2): a zone-content rule"),
    ("bad-_dns-svcb", "SVCB at _dns names without the DoH keys RFC 9461 wants: policy, not syntax"),
    ("bad-svcb-servername", "SVCB target with an underscore label: a legal name, BIND's hostname policy"),
    ("bad-ds", "DS that does not match the zone's DNSKEY, or DS at a non-delegation: DNSSEC consistency"),
    ("bad-cds", "CDS that matches no DNSKEY: DNSSEC consistency"),
    ("bad-cdnskey", "CDNSKEY that matches no DNSKEY: DNSSEC consistency"),
    ("bad-nsec3owner-padded", "NSEC3 owner label with base32 padding: a legal name, an NSEC3 chain rule"),
    ("bad-rpz-prefix", "RPZ trigger name with a bad prefix length: an RPZ policy rule"),
    ("bad-dns-sd-reverse", "DNS-SD reverse-browsing names: a naming convention, not syntax"),
];

/// Fixtures we refuse by design: `$GENERATE`, and `$INCLUDE` without --allow-include
/// (documented in the README).
const REFUSED_BY_DESIGN: &[(&str, &str)] = &[
    ("generate-overflow.db", "$GENERATE"),
    ("good-generate-modifier.db", "$GENERATE"),
    ("nowarn.inherited.owner.db", "$INCLUDE"),
    ("warn.inherit.origin.db", "$INCLUDE"),
    ("warn.inherited.owner.db", "$INCLUDE"),
];

#[test]
fn bind_checkzone_fixtures() {
    let Some(sh) = env::shared("bind_checkzone_fixtures") else { return };
    let dir = sh.join("realzones/bind9-checkzone");
    let t = TestEnv::new();
    let mut names: Vec<String> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    let (mut rejected, mut accepted_bad, mut accepted) = (0, 0, 0);
    for name in &names {
        let path = dir.join(name);
        // Each its own database: the fixtures are unrelated zones, not versions of one.
        let db = format!("{name}.sqlite");
        // --force: some fixtures are fragments without an SOA, which a version of a zone
        // would need.
        let out = t.run(&["--db", &db, "-q", "import", "--force", "--tld", origin_of(name), path.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.code().is_some(), "{name}: killed by a signal");
        assert!(!err.contains("panicked"), "{name}: {err}");
        let bad = name.starts_with("bad");
        if let Some((_, directive)) = REFUSED_BY_DESIGN.iter().find(|(n, _)| n == name) {
            assert_eq!(out.status.code(), Some(1), "{name}");
            assert!(err.contains(directive), "{name}: {err}");
            continue;
        }
        if bad {
            if let Some((_, why)) = ACCEPTED_BAD.iter().find(|(p, _)| name.starts_with(p)) {
                assert!(out.status.success(), "{name} ({why}) should import: {err}");
                accepted_bad += 1;
            } else {
                assert_eq!(out.status.code(), Some(1), "{name} should be refused");
                // The error names the file and a line, or the file for whole-file faults.
                assert!(err.contains(&format!("{name}:")) || err.contains(name), "{name}: {err}");
                rejected += 1;
            }
        } else {
            assert!(out.status.success(), "{name} should import: {err}");
            accepted += 1;
        }
    }
    // With --allow-include, BIND's include fixtures name files outside this directory or a
    // directory: still refused, with a reason.
    for (name, want) in [("bad-include-directory.db", "is not a file"), ("warn.inherited.owner.db", "No such file")] {
        let out = t.run(&["--db", "b.db", "-q", "import", "--tld", "example", "--allow-include", dir.join(name).to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(want), "{name}: {}", String::from_utf8_lossy(&out.stderr));
    }
    eprintln!("bind fixtures: {rejected} bad refused, {accepted_bad} bad accepted (semantic), {accepted} good accepted");
    assert!(rejected >= 10 && accepted >= 30, "the fixture directory is populated");
}
