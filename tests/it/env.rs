//! The test environment: a temp dir, the real binary, and ../shared when it is there.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use rusqlite::Connection;

pub struct TestEnv {
    pub dir: tempfile::TempDir,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        TestEnv { dir: tempfile::tempdir().expect("temp dir") }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `zonefeed ARGS` in the temp dir, no config, not quiet.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_zonefeed"));
        c.current_dir(self.dir.path()).env_remove("ZONEFEED_DB").env_remove("ZONEFEED_CONFIG").stdin(Stdio::null());
        for k in ["CZDS_USERNAME", "CZDS_PASSWORD", "CZDS_AUTH_URL", "CZDS_BASE_URL"] {
            c.env_remove(k);
        }
        c
    }

    /// `script` run by bash in the temp dir, without the environment [`TestEnv::cmd`] leaves out.
    pub fn cmd_in_shell(&self, script: &str) -> Output {
        let mut c = Command::new("bash");
        c.current_dir(self.dir.path()).env_remove("ZONEFEED_DB").env_remove("ZONEFEED_CONFIG").stdin(Stdio::null());
        for k in ["CZDS_USERNAME", "CZDS_PASSWORD", "CZDS_AUTH_URL", "CZDS_BASE_URL"] {
            c.env_remove(k);
        }
        c.args(["-c", script]).output().expect("run bash")
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run zonefeed")
    }

    /// Imports into `db` and returns the output, asserting success.
    pub fn import_ok(&self, db: &str, args: &[&str]) -> Output {
        let mut a = vec!["--db", db, "--quiet", "--format", "jsonl", "import"];
        a.extend_from_slice(args);
        let out = self.run(&a);
        assert!(out.status.success(), "import {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        out
    }

    pub fn write(&self, name: &str, data: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, data).expect("write fixture");
        p
    }

    /// Writes a file only its owner may read (a config holding a secret, a password file).
    pub fn write_private(&self, name: &str, data: &[u8]) -> PathBuf {
        let p = self.write(name, data);
        set_mode(&p, 0o600);
        p
    }

    /// The database, with the SQL functions zonefeed's own connections have (`zf_pairs`...).
    pub fn db(&self, name: &str) -> Connection {
        let conn = Connection::open(self.path(name)).expect("open db");
        zonefeed::store::register_functions(&conn).expect("functions");
        conn
    }
}

/// `base` with the keys of `more` added (or replaced): test configs built from parts.
pub fn with_keys(mut base: serde_json::Value, more: &serde_json::Value) -> serde_json::Value {
    if let (Some(b), Some(m)) = (base.as_object_mut(), more.as_object()) {
        b.extend(m.clone());
    }
    base
}

pub fn set_mode(path: &Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
}

/// The summary object `--json` prints (last line of stdout).
pub fn summary(out: &Output) -> serde_json::Value {
    let s = String::from_utf8_lossy(&out.stdout);
    let line = s.lines().last().unwrap_or_else(|| panic!("no JSON on stdout; stderr: {}", String::from_utf8_lossy(&out.stderr)));
    serde_json::from_str(line).expect("summary is JSON")
}

/// ../shared beside the repository, or None after saying loudly that the test skips.
/// With ZONEFEED_REQUIRE_SHARED=1 (CI) a missing ../shared fails the test instead.
pub fn shared(test: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if dir.join("zonegen.py").is_file() && dir.join("realzones").is_dir() {
        return Some(dir);
    }
    skip(test, "ZONEFEED_REQUIRE_SHARED", "../shared (zonegen.py, realzones) is not beside the repository");
    None
}

/// Says loudly that `test` skips because `missing`; when the environment variable `require`
/// is 1 (CI, which installs what tests need) the test fails instead.
pub fn skip(test: &str, require: &str, missing: &str) {
    if std::env::var(require).is_ok_and(|v| v == "1") {
        panic!("{test}: {missing}, and {require}=1");
    }
    // Straight to the stderr handle: the test harness captures eprintln! of passing tests,
    // and a skip must be seen.
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {test}: {missing} (set {require}=1 to make this a failure)");
}

/// Runs `zonegen.py ARGS` and returns its stdout.
pub fn zonegen(shared: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("python3").arg(shared.join("zonegen.py")).args(args).output().expect("python3 runs zonegen.py");
    assert!(out.status.success(), "zonegen {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

/// What a reader sees of `records`, `domains` (live ones) and `record_groups` in the current
/// versions, without versions and timestamps, sorted.
pub fn tables(conn: &Connection) -> (Vec<String>, Vec<String>) {
    use zonefeed::store::visible;
    let mut r = conn
        .prepare(&format!(
            "SELECT r.tld, r.domain, r.owner, r.type, r.ttl, r.rdata FROM records r JOIN zones z ON z.tld = r.tld AND z.state = 'current'
              WHERE {} ORDER BY 1, 2, 3, 4, 6",
            visible("r", "z.id")
        ))
        .expect("records query");
    let recs: Vec<String> = r
        .query_map([], |row| {
            Ok(format!(
                "{} {} {} {} {} {}",
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, i64>(4)?,
                row.get::<_, String>(5)?
            ))
        })
        .expect("records")
        .collect::<Result<_, _>>()
        .expect("records rows");
    let mut d = conn
        .prepare(&format!(
            "SELECT d.tld, d.name, hex(d.hash) || '/' || coalesce(hex(d.sig), '') FROM domains d JOIN zones z ON z.tld = d.tld AND z.state = 'current'
              WHERE d.removed_at IS NULL AND {}
             UNION ALL SELECT 'group ' || g.tld, g.name, hex(g.hash) || '/' || coalesce(hex(g.sig), '')
               FROM record_groups g JOIN zones z ON z.tld = g.tld AND z.state = 'current'
              WHERE {} ORDER BY 1, 2",
            visible("d", "z.id"),
            visible("g", "z.id")
        ))
        .expect("domains query");
    let doms: Vec<String> = d
        .query_map([], |row| Ok(format!("{} {} {}", row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, String>(2)?)))
        .expect("domains")
        .collect::<Result<_, _>>()
        .expect("domain rows");
    (recs, doms)
}

/// Asserts that no import is half-done or half-purged: every row belongs to a current
/// version and nothing is pending.
pub fn assert_settled(conn: &Connection) {
    for table in ["records", "domains", "record_groups"] {
        let stale: i64 = conn
            .query_row(
                &format!(
                    "SELECT count(*) FROM {table} t LEFT JOIN zones z ON z.tld = t.tld AND z.state = 'current'
                      WHERE t.since > coalesce(z.id, -1) OR t.until > coalesce(z.id, -1)"
                ),
                [],
                |r| r.get(0),
            )
            .expect("stale rows");
        assert_eq!(stale, 0, "{table}: rows newer than the current version (history rows are closed at or before it)");
    }
    let pending: i64 = conn.query_row("SELECT count(*) FROM pending", [], |r| r.get(0)).expect("pending");
    assert_eq!(pending, 0, "pending names left");
}

/// The first column of `sql`'s rows, as text.
pub fn column(conn: &Connection, sql: &str) -> Vec<String> {
    let mut st = conn.prepare(sql).expect("query");
    let rows = st.query_map([], |r| r.get::<_, String>(0)).expect("rows");
    rows.collect::<Result<_, _>>().expect("row")
}

/// Day `day` of a synthetic zone (`zonefeed::synth`), written to `name` in the test's dir.
pub fn synth_day(t: &TestEnv, name: &str, tld: &str, domains: u64, seed: u64, day: u64) -> PathBuf {
    let mut text = Vec::new();
    zonefeed::synth::write_zone_day(&mut text, tld, domains, seed, day).expect("synthetic zone");
    t.write(name, &text)
}

/// The current domain list of a TLD hashed as zonegen's `domains_sha256` is.
pub fn domains_sha256(conn: &Connection, tld: &str) -> String {
    use sha2::Digest;
    let mut st = conn
        .prepare(&format!(
            "SELECT name FROM domains d JOIN zones z ON z.tld = d.tld AND z.state = 'current'
              WHERE d.tld = ?1 AND d.removed_at IS NULL AND {} ORDER BY name",
            zonefeed::store::visible("d", "z.id")
        ))
        .expect("query");
    let names: Vec<String> = st.query_map([tld], |r| r.get(0)).expect("names").collect::<Result<_, _>>().expect("rows");
    data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(names.join("\n").as_bytes()))
}

/// The comparison state the current rows of `tld` hold: what its packed state must say.
pub fn state_of_rows(conn: &Connection, tld: &str) -> Vec<zonefeed::store::state::Entry> {
    use std::collections::BTreeMap;
    use zonefeed::store::state::{DomainState, GroupState};
    let mut out: BTreeMap<String, (Option<DomainState>, Option<GroupState>)> = BTreeMap::new();
    let hash = |v: Vec<u8>| -> [u8; 16] { v.try_into().unwrap() };
    let mut st = conn.prepare("SELECT name, hash, sig, removed_at IS NOT NULL FROM domains WHERE tld = ?1 AND until IS NULL").unwrap();
    let rows = st.query_map([tld], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get::<_, Option<Vec<u8>>>(2)?, r.get(3)?))).unwrap();
    for (name, h, sig, removed) in rows.map(Result::unwrap) {
        out.entry(name).or_default().0 = Some(DomainState { hash: hash(h), sig: sig.map(hash), removed });
    }
    let mut st = conn.prepare("SELECT name, hash, sig FROM record_groups WHERE tld = ?1 AND until IS NULL").unwrap();
    let rows = st.query_map([tld], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get::<_, Option<Vec<u8>>>(2)?))).unwrap();
    for (name, h, sig) in rows.map(Result::unwrap) {
        out.entry(name).or_default().1 = Some(GroupState { hash: hash(h), sig: sig.map(hash) });
    }
    out.into_iter().map(|(name, (domain, group))| zonefeed::store::state::Entry { name, domain, group }).collect()
}
