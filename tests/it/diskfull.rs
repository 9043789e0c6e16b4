//! A disk that fills up for real: a 12 MiB tmpfs (needs root to mount; CI runs as root). An
//! import the estimate says cannot fit is refused before it writes; with `--force` it runs
//! into the headroom watermark, which stops it while there is room to undo it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::env::TestEnv;

/// A tmpfs mounted for one test, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// None (after saying so loudly) where mounting is not possible; under CI that fails.
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(std::env::var("CI").is_err(), "cannot mount a tmpfs (root is needed), and CI must run this test");
            use std::io::Write;
            let _ = writeln!(std::io::stderr().lock(), "SKIPPED disk-full test: cannot mount a tmpfs here (not root?)");
            return None;
        }
        Some(Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn zone(t: &TestEnv, tld: &str, domains: u64, day: u64) -> String {
    let mut text = Vec::new();
    zonefeed::synth::write_zone_day(&mut text, tld, domains, 9, day).unwrap();
    t.write(&format!("{tld}-{day}.zone"), &text).to_str().unwrap().to_string()
}

#[test]
fn a_full_disk_names_the_cause_keeps_nothing_of_the_failed_import_and_the_next_one_succeeds() {
    let t = TestEnv::new();
    let Some(fs) = Tmpfs::mount(&t.path("small"), "12m") else { return };
    let db = fs.0.join("z.db");
    let db = db.to_str().unwrap();
    let com0 = zone(&t, "com", 12_000, 0);
    let com1 = zone(&t, "com", 12_000, 1);
    let net = zone(&t, "net", 80_000, 0);
    t.import_ok(db, &[&com0]);
    // net does not fit: the estimate refuses it before anything is written, naming what it
    // needs and what is free.
    let out = t.run(&["--db", db, "import", &net]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs about") && err.contains("MB") && err.contains("is free") && err.contains("--force"), "{err}");
    let c = t.db(db);
    let begun: i64 = c.query_row("SELECT count(*) FROM zones WHERE tld = 'net'", [], |r| r.get(0)).unwrap();
    assert_eq!(begun, 0, "a refused import begins no version");
    drop(c);
    // With --force it tries, and fails cleanly, saying why.
    let out = t.run(&["--db", db, "import", "--force", &net]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("disk is nearly full") || err.contains("database or disk is full") || err.contains("No space left on device"),
        "{err}"
    );
    assert!(!err.contains("writer stopped"), "the first error is not the real cause: {err}");
    // Its rows are gone before the command exits (they kept the disk full before).
    let c = t.db(db);
    let left: i64 = c
        .query_row("SELECT (SELECT count(*) FROM records WHERE tld = 'net') + (SELECT count(*) FROM domains WHERE tld = 'net')", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(left, 0, "the failed import left {left} rows");
    let current: i64 = c.query_row("SELECT count(*) FROM zones WHERE state = 'current'", [], |r| r.get(0)).unwrap();
    assert_eq!(current, 1, "com stays current");
    drop(c);
    // The next day of com fits, and imports.
    let out = t.run(&["--db", db, "-q", "import", &com1]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Sort runs go to `--temp-dir`: one too small for them is refused up front, naming it; with
/// `--force` the spill fails, naming where it was writing, and the zone is not imported; the
/// same import with its runs beside the database succeeds.
#[test]
fn sort_runs_go_to_the_temp_dir_and_one_too_small_is_named() {
    let t = TestEnv::new();
    let Some(tiny) = Tmpfs::mount(&t.path("tiny"), "64k") else { return };
    let tiny_dir = tiny.0.to_str().unwrap();
    let db = t.path("z.db");
    let db = db.to_str().unwrap();
    let org = zone(&t, "org", 12_000, 0);
    let out = t.run(&["--db", db, "import", "--memory", "1M", "--chunk-size", "65536", "--temp-dir", tiny_dir, &org]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("on `{tiny_dir}` (")) && err.contains("for sort runs"), "{err}");
    let out = t.run(&["--db", db, "import", "--force", "--memory", "1M", "--chunk-size", "65536", "--temp-dir", tiny_dir, &org]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains(&format!("sort spill in `{tiny_dir}`")), "{err}");
    let current: i64 = t.db(db).query_row("SELECT count(*) FROM current_zones", [], |r| r.get(0)).unwrap();
    assert_eq!(current, 0);
    let out = t.run(&["--db", db, "-q", "-v", "import", "--memory", "1M", "--chunk-size", "65536", &org]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("runs spilled"), "the import did spill");
    // A --temp-dir that is not a directory is a usage error.
    assert_eq!(t.run(&["--db", db, "import", "--temp-dir", &org, &org]).status.code(), Some(2));
}

/// The sequence a full disk left broken: a small import, a large one that cannot fit, then a
/// small one. The large one stops while there is room to remove what it wrote; the last one
/// imports; the database holds exactly the two small ones.
#[test]
fn after_an_import_that_filled_the_disk_the_next_small_one_succeeds_and_only_the_small_ones_remain() {
    let t = TestEnv::new();
    let Some(fs) = Tmpfs::mount(&t.path("small"), "12m") else { return };
    let db = fs.0.join("z.db");
    let db = db.to_str().unwrap();
    let (com, net, org) = (zone(&t, "com", 2_000, 0), zone(&t, "net", 300_000, 0), zone(&t, "org", 2_000, 0));
    t.import_ok(db, &[&com]);
    // --force past the estimate's refusal: the watermark is what stops it.
    let out = t.run(&["--db", db, "import", "--force", &net]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("disk is nearly full"), "the import did not stop before the disk was full: {err}");
    assert!(!err.contains("could not be removed"), "{err}");
    let out = t.run(&["--db", db, "-q", "import", &org]);
    assert!(out.status.success(), "the import after a full disk: {}", String::from_utf8_lossy(&out.stderr));
    let c = t.db(db);
    let zones: Vec<(String, i64)> = c
        .prepare("SELECT tld, domains FROM zones WHERE state = 'current' ORDER BY tld")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(zones, [("com".to_string(), 2_000), ("org".to_string(), 2_000)]);
    let rows = |sql: &str| -> i64 { c.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(rows("SELECT count(*) FROM domains WHERE tld = 'net'") + rows("SELECT count(*) FROM records WHERE tld = 'net'"), 0);
    assert_eq!(rows("SELECT count(*) FROM current_domains"), 4_000);
    // And the disk was given back: the WAL no longer holds the failed import.
    let wal = std::fs::metadata(format!("{db}-wal")).map_or(0, |m| m.len());
    assert!(wal < 4 << 20, "the WAL holds {wal} bytes");
}
