//! What the kept analyses say (`analyze --tld`, see `crate::analyze::history`): a domain's
//! latest analysis and how its findings came and went, the domains with a finding now, and a
//! zone's findings per tag over time.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

/// One analysis of a domain: its summary and the findings it had.
#[derive(Debug, Serialize)]
pub struct Analysis {
    pub id: i64,
    pub run: i64,
    /// The day its run speaks for (the zone date of the version it read).
    pub date: String,
    /// When the domain was analysed (UTC).
    pub analysed_at: String,
    pub worst: Option<String>,
    pub count: Counts,
    pub findings: Vec<Finding>,
}

/// Findings per level.
#[derive(Debug, Serialize, Default)]
pub struct Counts {
    pub info: i64,
    pub notice: i64,
    pub warning: i64,
    pub error: i64,
    pub critical: i64,
}

/// One finding as kept.
#[derive(Debug, Serialize)]
pub struct Finding {
    pub level: String,
    pub module: String,
    pub testcase: String,
    pub tag: String,
    pub args: serde_json::Value,
}

/// A finding that came or went, on the day of the analysis that saw it.
#[derive(Debug, Serialize)]
pub struct Change {
    pub date: String,
    /// `found` or `gone`.
    pub change: &'static str,
    #[serde(flatten)]
    pub finding: Finding,
}

/// The latest analysis of `domain` (of a run that speaks for `until` or earlier, when given:
/// RFC 3339), with its findings, worst first.
pub fn latest(conn: &Connection, domain: &str, until: Option<&str>) -> rusqlite::Result<Option<Analysis>> {
    let row = conn
        .prepare_cached(
            "SELECT a.id, a.run, r.at, a.at, a.worst, a.info, a.notice, a.warning, a.error, a.critical
               FROM analyses a JOIN analysis_runs r ON r.id = a.run
              WHERE a.domain = ?1 AND (?2 IS NULL OR r.at <= ?2) ORDER BY a.id DESC LIMIT 1",
        )?
        .query_row(params![domain, until], |r| {
            Ok(Analysis {
                id: r.get(0)?,
                run: r.get(1)?,
                date: crate::time::date_of(&r.get::<_, String>(2)?).to_string(),
                analysed_at: r.get(3)?,
                worst: r.get(4)?,
                count: Counts { info: r.get(5)?, notice: r.get(6)?, warning: r.get(7)?, error: r.get(8)?, critical: r.get(9)? },
                findings: Vec::new(),
            })
        })
        .optional()?;
    let Some(mut a) = row else { return Ok(None) };
    let mut st = conn.prepare_cached(
        "SELECT level, module, testcase, tag, args FROM findings
          WHERE domain = ?1 AND since <= ?2 AND (until IS NULL OR until > ?2) ORDER BY module, testcase, tag, args",
    )?;
    a.findings = st.query_map(params![domain, a.id], finding)?.collect::<rusqlite::Result<_>>()?;
    a.findings.sort_by_key(|f| std::cmp::Reverse(rank(&f.level)));
    Ok(Some(a))
}

/// How `domain`'s findings came and went, oldest first (its first analysis's findings count as
/// found), up to the runs that speak for `until` when given.
pub fn history(conn: &Connection, domain: &str, until: Option<&str>) -> rusqlite::Result<Vec<Change>> {
    // Each row opens on its `since` analysis and, when closed, closes on its `until`.
    let side = |edge: &str, change: &str| {
        format!(
            "SELECT r.at, '{change}', f.level, f.module, f.testcase, f.tag, f.args, f.{edge} AS k
               FROM findings f JOIN analyses a ON a.id = f.{edge} JOIN analysis_runs r ON r.id = a.run
              WHERE f.domain = ?1 AND (?2 IS NULL OR r.at <= ?2)"
        )
    };
    let mut st =
        conn.prepare_cached(&format!("{} UNION ALL {} ORDER BY 8, 2 DESC, 5, 6", side("since", "found"), side("until", "gone")))?;
    let rows = st.query_map(params![domain, until], |r| {
        let at: String = r.get(0)?;
        let change: String = r.get(1)?;
        Ok(Change {
            date: crate::time::date_of(&at).to_string(),
            change: if change == "found" { "found" } else { "gone" },
            finding: Finding { level: r.get(2)?, module: r.get(3)?, testcase: r.get(4)?, tag: r.get(5)?, args: args(r.get(6)?) },
        })
    })?;
    rows.collect()
}

/// A domain with a finding now.
#[derive(Debug, Serialize)]
pub struct Holder {
    pub name: String,
    pub tld: String,
    pub level: String,
    pub testcase: String,
    /// The day of the analysis that first found it, of the current stretch.
    pub since: String,
}

/// The domains still delegated whose latest analysis has a finding tagged `tag` (of zone
/// `tld` when given), by name, at most `limit`.
pub fn with_finding(conn: &Connection, tag: &str, tld: Option<&str>, limit: usize) -> rusqlite::Result<Vec<Holder>> {
    let mut st = conn.prepare_cached(
        "SELECT f.domain, f.tld, f.level, f.testcase, r.at
           FROM findings f JOIN analyses a ON a.id = f.since JOIN analysis_runs r ON r.id = a.run
          WHERE f.tag = ?1 AND f.until IS NULL AND (?2 IS NULL OR f.tld = ?2)
            AND EXISTS (SELECT 1 FROM current_domains d WHERE d.tld = f.tld AND d.name = f.domain)
          ORDER BY f.domain, f.tld, r.at",
    )?;
    let mut rows = st.query(params![tag, tld])?;
    let mut out: Vec<Holder> = Vec::new();
    // A tag a domain holds with other arguments too (two servers, say) is one holder: its
    // first stretch's day.
    while let Some(r) = rows.next()? {
        let (name, tld): (String, String) = (r.get(0)?, r.get(1)?);
        if out.last().is_some_and(|h| h.name == name && h.tld == tld) {
            continue;
        }
        if out.len() == limit {
            break;
        }
        let at: String = r.get(4)?;
        out.push(Holder { name, tld, level: r.get(2)?, testcase: r.get(3)?, since: crate::time::date_of(&at).to_string() });
    }
    Ok(out)
}

/// How many domains of `tld` had each tag at WARNING or above, on each day a run of the
/// zone speaks for: (date, tag, domains), by date then tag. A domain counts by its latest
/// analysis up to that day.
pub fn per_tag(conn: &Connection, tld: &str) -> rusqlite::Result<Vec<(String, String, i64)>> {
    // The last analysis of the zone on each day: a finding open at it was held that day.
    let mut st = conn.prepare_cached(
        "WITH days AS (SELECT substr(r.at, 1, 10) AS day, max(a.id) AS last FROM analysis_runs r JOIN analyses a ON a.run = r.id
                        WHERE r.tld = ?1 GROUP BY 1)
         SELECT d.day, f.tag, count(DISTINCT f.domain) FROM days d JOIN findings f
             ON f.tld = ?1 AND f.since <= d.last AND (f.until IS NULL OR f.until > d.last)
          WHERE f.level IN ('WARNING', 'ERROR', 'CRITICAL')
          GROUP BY d.day, f.tag ORDER BY d.day, f.tag",
    )?;
    let rows = st.query_map(params![tld], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    rows.collect()
}

fn finding(r: &rusqlite::Row<'_>) -> rusqlite::Result<Finding> {
    Ok(Finding { level: r.get(0)?, module: r.get(1)?, testcase: r.get(2)?, tag: r.get(3)?, args: args(r.get(4)?) })
}

/// Kept arguments (a JSON object) as a value; text that is not JSON stays a string.
fn args(text: String) -> serde_json::Value {
    serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
}

/// A level's place, worst highest.
fn rank(level: &str) -> usize {
    ["DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL"].iter().position(|l| *l == level).unwrap_or(0)
}
