//! Questions asked of the database: a domain's records and history, search, zone statistics.
//!
//! Read-only and parameterised throughout. Names may come in Unicode (U-labels); they are
//! turned into A-labels (IDNA, UTS #46) before any lookup, and results carry both forms.

pub mod analyses;
pub mod check;
pub mod delegations;
mod host;
pub mod series;

use std::collections::{BTreeMap, HashMap};

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::changes::Event;
use crate::store;

/// A name the user gave that cannot be a domain name.
#[derive(Debug, thiserror::Error)]
#[error("`{name}` is not a valid domain name: {why}")]
pub struct BadName {
    pub name: String,
    pub why: String,
}

/// Canonical lookup form: A-labels, lower case, no trailing dot; `.` or `root` is the root.
pub fn normalize(name: &str) -> Result<String, BadName> {
    let t = name.trim();
    if t == "." || t.eq_ignore_ascii_case("root") {
        return Ok(".".into());
    }
    let t = t.strip_suffix('.').unwrap_or(t);
    let bad = |why: String| BadName { name: name.into(), why };
    if t.is_empty() || t.starts_with('.') || t.contains("..") {
        return Err(bad("empty label".into()));
    }
    let ascii = if t.is_ascii() { t.to_ascii_lowercase() } else { idna::domain_to_ascii(t).map_err(|e| bad(format!("IDNA: {e:?}")))? };
    if ascii.len() > 253 || ascii.split('.').any(|l| l.len() > 63) {
        return Err(bad("longer than DNS allows".into()));
    }
    // Host names and the names zones delegate: letters, digits, hyphens, underscores (`_dmarc`)
    // and `*`. A blank or a control character is a typo, not a lookup.
    if let Some(c) = ascii.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '*'))) {
        return Err(bad(format!("{} is not allowed in a name", crate::zone::escape_char(c))));
    }
    Ok(ascii)
}

/// The Unicode form of an A-label name (the name itself when nothing decodes).
pub fn unicode(name: &str) -> String {
    let (u, r) = idna::domain_to_unicode(name);
    if r.is_ok() {
        u
    } else {
        name.to_string()
    }
}

#[derive(Debug, Serialize)]
pub struct Record {
    pub owner: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub ttl: i64,
    pub rdata: String,
}

/// A domain as one imported zone holds it.
#[derive(Debug, Serialize)]
pub struct Domain {
    pub name: String,
    pub unicode: String,
    pub tld: String,
    pub zone_version: i64,
    pub first_seen: String,
    pub last_seen: String,
    pub last_changed: String,
    pub removed_at: Option<String>,
    /// Empty when the zone was imported with `--no-records`; at most [`MAX_RECORDS`].
    pub records: Vec<Record>,
    pub records_kept: bool,
    /// Set when the name has more records than [`MAX_RECORDS`]: how many it has (the list
    /// holds the first, by owner, type and data).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records_total: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<Event>>,
    /// With the history: `prune` dropped what came before this time, so an empty or short
    /// history is not "no changes" before it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_pruned_before: Option<String>,
    /// Its latest kept analysis (`analyze --tld`), as of `at` when asked for a day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis: Option<analyses::Analysis>,
    /// With the history: how the analyses' findings came and went.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis_history: Option<Vec<analyses::Change>>,
}

/// The most records one answer about a domain holds. A zone can put any number at one name (a
/// probe imported a million TXT records, and the API answered 76 MB from a server that grew to
/// 1 GB); real delegations have a handful.
pub const MAX_RECORDS: usize = 10_000;

/// `name` in every zone whose current version holds it (or held it: `removed_at` set); with
/// `at` (a zone date, RFC 3339 midnight), in the version of each zone that was current on
/// that day, read from the kept history.
pub fn domain(conn: &Connection, name: &str, history: bool, at: Option<&str>) -> rusqlite::Result<Vec<Domain>> {
    // One snapshot for the domain rows and their records: an import may switch versions
    // between two statements.
    let tx = conn.unchecked_transaction()?;
    let version = match at {
        None => "z.state = 'current' AND ?2 IS NULL",
        Some(_) => &format!("z.id = {}", version_on("z.tld", "?2")),
    };
    // Zones first (CROSS JOIN fixes the order), then a key lookup of the name in each: left
    // to itself the planner scanned every domain row (0.5 s on a 10M zone).
    let mut st = tx.prepare(&format!(
        "SELECT d.tld, z.id, d.first_seen, coalesce(d.last_seen, z.zone_date, z.imported_at), d.last_changed, d.removed_at, z.with_records
           FROM zones z CROSS JOIN domains d ON d.tld = z.tld AND d.name = ?1
          WHERE {version} AND {} ORDER BY d.tld",
        store::visible("d", "z.id")
    ))?;
    let rows = st.query_map(params![name, at], |r| {
        Ok(Domain {
            name: name.to_string(),
            unicode: unicode(name),
            tld: r.get(0)?,
            zone_version: r.get(1)?,
            first_seen: r.get(2)?,
            last_seen: r.get(3)?,
            last_changed: r.get(4)?,
            removed_at: r.get(5)?,
            records: Vec::new(),
            records_kept: r.get::<_, i64>(6)? != 0,
            records_total: None,
            history: None,
            history_pruned_before: None,
            analysis: None,
            analysis_history: None,
        })
    })?;
    let mut out = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    for d in out.iter_mut() {
        if d.records_kept {
            let live = store::visible("r", "?3");
            let mut st = tx.prepare(&format!(
                "SELECT owner, type, ttl, rdata FROM records r WHERE tld = ?1 AND domain = ?2 AND {live} ORDER BY owner, type, rdata LIMIT ?4"
            ))?;
            d.records = st
                .query_map(params![d.tld, name, d.zone_version, MAX_RECORDS as i64 + 1], |r| {
                    Ok(Record { owner: r.get(0)?, rtype: r.get(1)?, ttl: r.get(2)?, rdata: r.get(3)? })
                })?
                .collect::<rusqlite::Result<_>>()?;
            if d.records.len() > MAX_RECORDS {
                d.records.truncate(MAX_RECORDS);
                let sql = format!("SELECT count(*) FROM records r WHERE tld = ?1 AND domain = ?2 AND {live}");
                d.records_total = Some(tx.query_row(&sql, params![d.tld, name, d.zone_version], |r| r.get(0))?);
            }
        }
        if history {
            // History as of a day ends on that day.
            let filter = crate::changes::Filter {
                tld: Some(d.tld.clone()),
                domain: Some(name.to_string()),
                until: at.map(str::to_string),
                diffs: true,
                ..Default::default()
            };
            d.history = Some(crate::changes::list(&tx, &filter)?);
            d.history_pruned_before = store::pruned_before(&tx)?;
            d.analysis_history = Some(analyses::history(&tx, name, at)?);
        }
        d.analysis = analyses::latest(&tx, name, at)?;
    }
    Ok(out)
}

/// Why [`domain`] found nothing, as the CLI and the API say it.
pub fn domain_absent(name: &str, at: Option<&str>) -> String {
    match at {
        Some(at) => format!("{name}: in no version of an imported zone current on {}", crate::time::date_of(at)),
        None => format!("{name}: not in any imported zone"),
    }
}

/// The (host, domain) pairs of zone `tld` in version `v` (SQL expressions) whose host (its
/// labels reversed) meets `hosts`, as rows (`rhost`, `domain`, `base`: 1 for the base's):
/// the base's pairs but those closed by `v`, and the pairs gained after the base still held
/// in `v` (see `store::links`). `ranges` selects (`lo`, `hi`) bounds of `rhost` that cover
/// every host meeting `hosts`: a base row holds the pairs of consecutive hosts from its key
/// on, so a range starts at the last row keyed before it.
pub fn pairs_sql(hosts: &dyn Fn(&str) -> String, ranges: &str, tld: &str, v: &str) -> String {
    format!(
        "SELECT h.value ->> 0 AS rhost, d.value AS domain, 1 AS base
           {}
           JOIN json_each(h.value, '$[1]') d
          WHERE b.since <= {v} AND (h.value ->> 0) BETWEEN q.lo AND q.hi AND {}
            AND NOT EXISTS (SELECT 1 FROM ns_links c WHERE c.rhost = (h.value ->> 0) AND c.tld = b.tld AND c.domain = d.value
                              AND c.since = b.since AND c.until <= {v})
         UNION ALL
         SELECT l.rhost, l.domain, 0 FROM ns_links l
          WHERE {} AND l.tld = {tld} AND l.since > coalesce((SELECT version FROM ns_bases WHERE tld = {tld}), 0) AND {}",
        base_hosts(ranges, tld),
        hosts("(h.value ->> 0)"),
        hosts("l.rhost"),
        store::visible("l", v)
    )
}

/// The base rows that can hold hosts of `ranges` in zone `tld`, one row per host entry
/// (`h.value`: `[rhost, [domain...]]`), as a FROM clause.
fn base_hosts(ranges: &str, tld: &str) -> String {
    format!("{} JOIN json_each(zf_pairs(b.pairs)) h", base_rows(ranges, tld))
}

/// The base rows (`b`) that can hold hosts of `ranges` (`q`) in zone `tld`, as a FROM clause.
/// A base row holds the pairs of consecutive hosts from its key on, so a range starts at the
/// last row keyed before it.
fn base_rows(ranges: &str, tld: &str) -> String {
    let last_before = |col: &str| {
        format!("(SELECT x.{col} FROM ns_base x WHERE x.tld = {tld} AND x.rhost < r.lo ORDER BY x.rhost DESC, x.first DESC LIMIT 1)")
    };
    format!(
        "FROM (SELECT r.lo, r.hi, {} AS pr, {} AS pf FROM ({ranges}) r) q
           JOIN ns_base b ON b.tld = {tld} AND (b.rhost, b.first) >= (coalesce(q.pr, q.lo), coalesce(q.pf, '')) AND b.rhost <= q.hi",
        last_before("rhost"),
        last_before("first"),
    )
}

/// How many (host, domain) pairs of zone `tld` whose host meets `hosts` version `v` holds
/// (SQL expressions, as [`pairs_sql`]), as (pairs of the base, pairs gained since), without
/// listing them: a base row of one host's pairs gives its count (`n`), any other row's lists
/// are measured, not walked. So a host of a million domains costs a read of its rows, and
/// no decompression but at its ends.
pub fn pair_counts_sql(hosts: &dyn Fn(&str) -> String, ranges: &str, tld: &str, v: &str) -> String {
    let base = format!("(SELECT version FROM ns_bases WHERE tld = {tld})");
    format!(
        "SELECT (SELECT coalesce(sum(b.n), 0) {}
                  WHERE b.n IS NOT NULL AND b.since <= {v} AND b.rhost BETWEEN q.lo AND q.hi AND {})
              + (SELECT coalesce(sum(json_array_length(h.value, '$[1]')), 0) {}
                  WHERE b.n IS NULL AND b.since <= {v} AND (h.value ->> 0) BETWEEN q.lo AND q.hi AND {})
              - (SELECT count(*) FROM ns_links c WHERE {} AND c.tld = {tld} AND c.since = {base} AND c.until <= {v}),
                (SELECT count(*) FROM ns_links l WHERE {} AND l.tld = {tld} AND l.since > coalesce({base}, 0) AND {})",
        base_rows(ranges, tld),
        hosts("b.rhost"),
        base_hosts(ranges, tld),
        hosts("(h.value ->> 0)"),
        hosts("c.rhost"),
        hosts("l.rhost"),
        store::visible("l", v)
    )
}

/// A `--contains` word or `--glob` pattern that cannot match a name.
#[derive(Debug, thiserror::Error)]
#[error("`{query}`: {why}")]
pub struct BadQuery {
    pub query: String,
    pub why: &'static str,
}

/// How `search` matches names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// `example.com`: that name.
    Exact(String),
    /// `.example.com`: the name and every name under it.
    Suffix(String),
    /// A word anywhere in the name.
    Contains(String),
    /// A shell glob over the whole name (`pay*pal*`).
    Glob(String),
    /// Delegated to this name server.
    Ns(String),
    /// Delegated to a name server under this registrable domain (`cloudflare.com`).
    Provider(String),
    /// Delegated to a name server that glue gives this address.
    Ip(String),
}

impl Pattern {
    /// Zonalizer's rule: a leading dot means "this name and everything under it".
    pub fn parse(query: &str) -> Result<Pattern, BadName> {
        match query.trim().strip_prefix('.') {
            Some(rest) => normalize(rest).map(Pattern::Suffix),
            None => normalize(query).map(Pattern::Exact),
        }
    }

    /// The query of zone `?1`'s matching names in version `?5`, after (or, `desc`, before)
    /// `?4`, at most `?3` (-1: all), and the value it takes as `?2`. A pivot reads records;
    /// `--ip` also takes the zone date `?6` (NULL: now) for the glue's zones.
    fn zone_query(&self, zone: &str, desc: bool) -> (String, String) {
        let (cmp, order) = if desc { ("<", "DESC") } else { (">", "ASC") };
        let (cond, arg) = match self {
            Pattern::Ns(h) | Pattern::Provider(h) => return (self.pivot_sql(cmp, order), crate::zone::name::reversed(h)),
            Pattern::Ip(a) => return (self.pivot_sql(cmp, order), a.clone()),
            Pattern::Exact(n) => ("name = ?2", n.clone()),
            Pattern::Suffix(s) if s == "." || s == zone || zone.ends_with(&format!(".{s}")) => ("?2 = ?2", String::new()),
            Pattern::Suffix(s) => ("name = ?2", s.clone()),
            Pattern::Contains(w) => ("instr(name, ?2) > 0", w.clone()),
            Pattern::Glob(g) => ("name GLOB ?2", g.clone()),
        };
        let sql = format!(
            "SELECT name FROM domains d WHERE tld = ?1 AND {cond} AND removed_at IS NULL AND {} AND (?4 IS NULL OR name {cmp} ?4)
              ORDER BY name {order} LIMIT ?3",
            store::visible("d", "?5")
        );
        (sql, arg)
    }

    /// The parameters of [`Pattern::zone_query`]'s query.
    fn zone_args(
        &self,
        zone: &str,
        arg: String,
        limit: i64,
        cursor: Option<&str>,
        version: i64,
        at: Option<&str>,
    ) -> rusqlite::ParamsFromIter<Vec<rusqlite::types::Value>> {
        use rusqlite::types::Value;
        let text = |v: Option<&str>| v.map_or(Value::Null, |v| Value::Text(v.to_string()));
        let mut args = vec![Value::Text(zone.to_string()), Value::Text(arg), Value::Integer(limit), text(cursor), Value::Integer(version)];
        if matches!(self, Pattern::Ip(_)) {
            args.push(text(at));
        }
        rusqlite::params_from_iter(args)
    }

    /// The pivots on name servers, which read the reverse-lookup index (`ns_links`,
    /// `glue_links`) that imports with records keep.
    pub fn is_pivot(&self) -> bool {
        matches!(self, Pattern::Ns(_) | Pattern::Provider(_) | Pattern::Ip(_))
    }

    /// `--ip ADDRESS`: an IPv4 or IPv6 address, in the form records store.
    pub fn ip(addr: &str) -> Result<Pattern, BadQuery> {
        // An IPv4-mapped IPv6 address (::ffff:192.0.2.7) is the IPv4 address glue holds.
        addr.trim()
            .parse::<std::net::IpAddr>()
            .map(|a| Pattern::Ip(a.to_canonical().to_string()))
            .map_err(|_| BadQuery { query: addr.into(), why: "not an IPv4 or IPv6 address" })
    }

    /// The index query of a pivot: the domains of zone `?1` delegated as asked (`?2`: a
    /// host or provider with its labels reversed, or an address), in version `?5`, after `?4`,
    /// at most `?3`. See [`pairs_sql`].
    fn pivot_sql(&self, cmp: &str, order: &str) -> String {
        format!(
            "SELECT DISTINCT domain FROM ({}) WHERE (?4 IS NULL OR domain {cmp} ?4) ORDER BY domain {order} LIMIT ?3",
            pairs_sql(&|h| self.host_match(h), &self.host_ranges(), "?1", "?5")
        )
    }

    /// The condition that the reversed host `h` (an SQL expression) is one the pivot asks for
    /// (`?2`: the host or provider reversed, or the address).
    fn host_match(&self, h: &str) -> String {
        match self {
            Pattern::Ns(_) => format!("{h} = ?2"),
            // The provider itself and the hosts under it: [p, p + "/") holds p, p + "." and
            // p + "-..." (another name); the substr test keeps the first two.
            Pattern::Provider(_) => format!("{h} >= ?2 AND {h} < ?2 || '/' AND ({h} = ?2 OR substr({h}, 1, length(?2) + 1) = ?2 || '.')"),
            _ => format!("{h} IN ({})", Self::glue_hosts()),
        }
    }

    /// The (`lo`, `hi`) bounds of the reversed hosts that [`Self::host_match`] admits.
    fn host_ranges(&self) -> String {
        match self {
            Pattern::Ns(_) => "SELECT ?2 AS lo, ?2 AS hi".to_string(),
            Pattern::Provider(_) => "SELECT ?2 AS lo, ?2 || '/' AS hi".to_string(),
            _ => format!("SELECT rhost AS lo, rhost AS hi FROM ({})", Self::glue_hosts()),
        }
    }

    /// The hosts that glue of any imported zone gives address `?2`, in the version of its zone
    /// that is asked for (`?6`: a zone date, or NULL for the current ones).
    fn glue_hosts() -> String {
        format!(
            "SELECT DISTINCT g.rhost FROM glue_links g WHERE g.addr = ?2 AND {}",
            store::visible(
                "g",
                &format!(
                    "CASE WHEN ?6 IS NULL THEN (SELECT y.id FROM current_zones y WHERE y.tld = g.tld) ELSE {} END",
                    version_on("g.tld", "?6")
                )
            )
        )
    }

    /// `--contains WORD`: a non-empty run of name characters.
    pub fn contains(word: &str) -> Result<Pattern, BadQuery> {
        let w = word.trim().to_ascii_lowercase();
        if w.is_empty() || !w.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
            return Err(BadQuery { query: word.into(), why: "a word is letters, digits, hyphens, underscores and dots" });
        }
        Ok(Pattern::Contains(w))
    }

    /// `--glob PATTERN`: `*`, `?` and closed `[...]` classes over name characters.
    pub fn glob(pattern: &str) -> Result<Pattern, BadQuery> {
        let g = pattern.trim().to_ascii_lowercase();
        let bad = |why| Err(BadQuery { query: pattern.into(), why });
        if g.is_empty() {
            return bad("the pattern is empty");
        }
        let mut in_class = false;
        for b in g.bytes() {
            match b {
                b'[' if in_class => return bad("`[` inside a `[...]` class"),
                b'[' => in_class = true,
                b']' if in_class => in_class = false,
                b']' => return bad("`]` without `[`"),
                b'^' | b'!' if in_class => {}
                b if b.is_ascii_alphanumeric() || b"-_.*?".contains(&b) => {}
                _ => return bad("a glob is name characters, `*`, `?` and `[...]`"),
            }
        }
        if in_class {
            return bad("`[` is not closed");
        }
        Ok(Pattern::Glob(g))
    }
}

#[derive(Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hit {
    pub name: String,
    pub tld: String,
    pub unicode: String,
    /// For a name server's or provider's domains: the zone date since which it has been
    /// delegated to it (to one of its hosts), as far as the index's history reaches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delegated_since: Option<String>,
}

/// Where a page of search results starts: after `cursor` in name order, or before it
/// (descending) when `desc`.
#[derive(Debug, Default, Clone)]
pub struct Page {
    pub cursor: Option<String>,
    pub desc: bool,
    /// A zone date (RFC 3339 midnight): search the versions current then.
    pub at: Option<String>,
}

/// Current (not removed) domains matching `p`, by name, at most `limit`.
///
/// A suffix is answered with index scans only: a domain under `S` is `S` itself, a domain of
/// zone `S`, or a domain of a zone under `S`. Contains and glob scan the names of the zones
/// chosen (all, or `tld`).
pub fn search(conn: &Connection, p: &Pattern, tld: Option<&str>, limit: usize) -> rusqlite::Result<Vec<Hit>> {
    search_page(conn, p, tld, limit, &Page::default())
}

/// The version of each zone (all, or `tld`) current now, or on the zone date `at`, and
/// whether it kept its records.
pub fn versions(conn: &Connection, tld: Option<&str>, at: Option<&str>) -> rusqlite::Result<Vec<(i64, String, bool)>> {
    // On a day: the version with the latest zone date up to it (the latest import of that
    // date), not the latest import, which `import --force` may have dated earlier.
    let mut st = conn.prepare(&format!(
        "SELECT z.id, z.tld, z.with_records FROM zones z
          WHERE (?1 IS NULL OR z.tld = ?1)
            AND CASE WHEN ?2 IS NULL THEN z.state = 'current' ELSE z.id = {} END
          ORDER BY z.tld",
        version_on("z.tld", "?2")
    ))?;
    let v = st.query_map(params![tld, at], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? != 0)))?.collect();
    v
}

/// The version of zone `tld` that was current on zone date `day` (SQL expressions), as a
/// subquery: the one with the latest zone date up to that day, the latest import of that date
/// among them; not the latest import, which `import --force` may have dated earlier.
fn version_on(tld: &str, day: &str) -> String {
    format!(
        "(SELECT y.id FROM zones y WHERE y.tld = {tld} AND y.state IN ('current', 'replaced') AND y.zone_date <= {day}
           ORDER BY y.zone_date DESC, y.id DESC LIMIT 1)"
    )
}

/// The most hosts of a provider whose pages are merged (see [`search_page`]).
const MERGED_HOSTS: usize = 64;

pub fn search_page(conn: &Connection, p: &Pattern, tld: Option<&str>, limit: usize, page: &Page) -> rusqlite::Result<Vec<Hit>> {
    let tx = conn.unchecked_transaction()?;
    let at = page.at.as_deref();
    let mut hits = Vec::new();
    let lim = limit as i64;
    for (version, zone, _) in &versions(&tx, tld, at)? {
        // A name server's or provider's domains, each with the date since which it is theirs.
        let hosts = match p {
            Pattern::Ns(h) => Some(vec![crate::zone::name::reversed(h)]),
            // A provider is a few hosts, mostly: a page of each, merged. Thousands of hosts
            // (vanity names) take the one query over them all instead.
            Pattern::Provider(prov) => {
                Some(host::under(&tx, &crate::zone::name::reversed(prov), zone)?).filter(|h| h.len() <= MERGED_HOSTS)
            }
            _ => None,
        };
        if let Some(hosts) = hosts {
            let mut names: Vec<(String, i64)> = Vec::new();
            for h in &hosts {
                names.extend(host::page(&tx, h, zone, *version, page.cursor.as_deref(), page.desc, limit)?);
            }
            // By name, the earliest first: a domain with two of a provider's hosts is theirs
            // since the first.
            names.sort();
            names.dedup_by(|b, a| a.0 == b.0);
            if page.desc {
                names.reverse();
            }
            names.truncate(limit);
            let dates: HashMap<i64, String> = tx
                .prepare_cached("SELECT id, substr(zone_date, 1, 10) FROM zones WHERE tld = ?1 AND zone_date IS NOT NULL")?
                .query_map([zone], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            hits.extend(names.into_iter().map(|(name, since)| Hit {
                unicode: unicode(&name),
                delegated_since: dates.get(&since).cloned(),
                name,
                tld: zone.clone(),
            }));
            continue;
        }
        let (sql, arg) = p.zone_query(zone, page.desc);
        let mut st = tx.prepare_cached(&sql)?;
        let names = st.query_map(p.zone_args(zone, arg, lim, page.cursor.as_deref(), *version, at), |r| r.get::<_, String>(0))?;
        for n in names {
            let name = n?;
            hits.push(Hit { unicode: unicode(&name), name, tld: zone.clone(), delegated_since: None });
        }
    }
    hits.sort();
    if page.desc {
        hits.reverse();
    }
    hits.truncate(limit);
    Ok(hits)
}

/// How many current domains match `p` (for "100 of N shown").
pub fn search_count(conn: &Connection, p: &Pattern, tld: Option<&str>, at: Option<&str>) -> rusqlite::Result<u64> {
    let tx = conn.unchecked_transaction()?;
    let mut total = 0;
    // The same per-zone queries as a page, counted whole.
    for (version, zone, _) in &versions(&tx, tld, at)? {
        // A host's pairs are its domains, counted from the base rows' lengths; a provider's
        // are counted once each in one pass. Listing them in SQL took seconds a million.
        match p {
            Pattern::Ns(h) => {
                let sql = pair_counts_sql(&|c| p.host_match(c), &p.host_ranges(), "?1", "?3");
                let (base, gained): (i64, i64) = tx
                    .prepare_cached(&sql)?
                    .query_row(params![zone, crate::zone::name::reversed(h), version], |r| Ok((r.get(0)?, r.get(1)?)))?;
                total += (base + gained) as u64;
                continue;
            }
            Pattern::Provider(prov) => {
                total += host::count_under(&tx, &crate::zone::name::reversed(prov), zone, *version)?;
                continue;
            }
            _ => {}
        }
        let (sql, arg) = p.zone_query(zone, false);
        let args = p.zone_args(zone, arg, -1, None, *version, at);
        total += tx.query_row(&format!("SELECT count(*) FROM ({sql})"), args, |r| r.get::<_, i64>(0))? as u64;
    }
    Ok(total)
}

/// A zone's numbers, from its current version.
#[derive(Debug, Serialize)]
pub struct Stats {
    pub tld: String,
    pub version: i64,
    pub serial: Option<i64>,
    /// The day the current version's data is for (RFC 3339 midnight UTC).
    pub zone_date: Option<String>,
    pub imported_at: String,
    pub domains: i64,
    pub records: i64,
    pub records_kept: bool,
    pub types: BTreeMap<String, i64>,
    pub domains_with_ds: i64,
    pub ds_share: f64,
    /// Name-server hosts by delegations using them.
    pub top_ns_hosts: Vec<(String, i64)>,
    /// Providers (the registrable domain of NS hosts, by the Public Suffix List) by domains using them.
    pub top_providers: Vec<(String, i64)>,
    /// Delegations whose NS hosts are all inside the zone, all outside, or both.
    pub in_bailiwick: i64,
    pub out_of_bailiwick: i64,
    pub mixed_bailiwick: i64,
    pub versions: Vec<VersionChanges>,
}

#[derive(Debug, Serialize)]
pub struct VersionChanges {
    pub version: i64,
    /// The day its data is for (RFC 3339 midnight UTC).
    pub zone_date: Option<String>,
    pub imported_at: String,
    /// None for a zone's first version, which had nothing to compare with.
    pub added: Option<i64>,
    pub removed: Option<i64>,
    pub modified: Option<i64>,
}

/// Statistics of `tld`'s current version; None when the zone was never imported.
pub fn stats(conn: &Connection, tld: &str, top: usize) -> rusqlite::Result<Option<Stats>> {
    // One snapshot: an import may switch versions between two statements.
    let tx = conn.unchecked_transaction()?;
    let conn: &Connection = &tx;
    let cur = conn
        .query_row(
            "SELECT id, serial, coalesce(finished_at, imported_at), coalesce(domains, 0), coalesce(records, 0), with_records, zone_date, ds_domains
               FROM current_zones WHERE tld = ?1",
            params![tld],
            |r| {
                Ok((
                    (r.get::<_, i64>(0)?, r.get::<_, Option<i64>>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?, r.get::<_, i64>(4)?),
                    (r.get::<_, i64>(5)? != 0, r.get::<_, Option<String>>(6)?, r.get::<_, Option<i64>>(7)?),
                ))
            },
        )
        .optional()?;
    let Some(((version, serial, imported_at, domains, records), (kept, zone_date, ds_domains))) = cur else { return Ok(None) };
    let mut types = BTreeMap::new();
    // Records of a zone whose current version kept none are leftovers on their way out.
    let records_of = if kept { tld } else { "" };
    let live = store::visible("r", "?2");
    let mut st = conn.prepare(&format!("SELECT type, count(*) FROM records r WHERE tld = ?1 AND {live} GROUP BY type"))?;
    for r in st.query_map(params![records_of, version], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
        let (t, n) = r?;
        types.insert(t, n);
    }
    // The version's own count, kept with --no-records too; else (before schema 10) counted.
    let domains_with_ds: i64 = match ds_domains {
        Some(n) => n,
        None => conn.query_row(
            &format!("SELECT count(DISTINCT domain) FROM records r WHERE tld = ?1 AND type = 'DS' AND owner = domain AND {live}"),
            params![records_of, version],
            |r| r.get(0),
        )?,
    };
    let ns = NsCensus::of(conn, tld, records_of, version)?;
    let ranked = |m: HashMap<String, i64>| {
        let mut v: Vec<(String, i64)> = m.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(top);
        v
    };
    Ok(Some(Stats {
        tld: tld.into(),
        version,
        serial,
        zone_date,
        imported_at,
        domains,
        records,
        records_kept: kept,
        types,
        domains_with_ds,
        ds_share: if domains > 0 { domains_with_ds as f64 / domains as f64 } else { 0.0 },
        top_ns_hosts: ranked(ns.hosts),
        top_providers: ranked(ns.providers),
        in_bailiwick: ns.inside,
        out_of_bailiwick: ns.outside,
        mixed_bailiwick: ns.mixed,
        versions: version_changes(conn, tld)?,
    }))
}

/// What a zone's delegations point at: domains per name-server host and per provider, and
/// how many delegations are inside the zone, outside it, or both.
#[derive(Default)]
struct NsCensus {
    hosts: HashMap<String, i64>,
    providers: HashMap<String, i64>,
    inside: i64,
    outside: i64,
    mixed: i64,
}

impl NsCensus {
    /// One pass over the delegations' NS records of `version`, in domain order (`records_of`
    /// is the zone, or "" when its version kept no records).
    fn of(conn: &Connection, tld: &str, records_of: &str, version: i64) -> rusqlite::Result<NsCensus> {
        let mut c = NsCensus::default();
        let mut st = conn.prepare(&format!(
            "SELECT domain, rdata FROM records r WHERE tld = ?1 AND type = 'NS' AND owner = domain AND domain <> ?3 AND {}
              ORDER BY domain",
            store::visible("r", "?2")
        ))?;
        let mut rows = st.query(params![records_of, version, tld])?;
        let mut current: Option<String> = None;
        let (mut any_in, mut any_out) = (false, false);
        let mut seen: Vec<String> = Vec::new();
        while let Some(r) = rows.next()? {
            let (domain, host): (String, String) = (r.get(0)?, r.get(1)?);
            if current.as_deref() != Some(domain.as_str()) {
                if current.is_some() {
                    c.close(any_in, any_out, &mut seen);
                }
                current = Some(domain);
                (any_in, any_out) = (false, false);
            }
            if tld == "." || host.ends_with(&format!(".{tld}")) {
                any_in = true;
            } else {
                any_out = true;
            }
            seen.push(provider(&host));
            *c.hosts.entry(host).or_default() += 1;
        }
        if current.is_some() {
            c.close(any_in, any_out, &mut seen);
        }
        Ok(c)
    }

    /// Counts one domain: where its hosts are, and each of its providers once.
    fn close(&mut self, any_in: bool, any_out: bool, seen: &mut Vec<String>) {
        match (any_in, any_out) {
            (true, false) => self.inside += 1,
            (false, true) => self.outside += 1,
            (true, true) => self.mixed += 1,
            _ => {}
        }
        seen.sort();
        seen.dedup();
        for p in seen.drain(..) {
            *self.providers.entry(p).or_default() += 1;
        }
    }
}

/// Every version of `tld` that was current, oldest zone date first, with its change counts.
fn version_changes(conn: &Connection, tld: &str) -> rusqlite::Result<Vec<VersionChanges>> {
    let mut st = conn.prepare(
        "SELECT id, zone_date, coalesce(finished_at, imported_at), added, removed, modified
           FROM zones WHERE tld = ?1 AND state IN ('current', 'replaced') ORDER BY zone_date, id",
    )?;
    let rows = st.query_map(params![tld], |r| {
        Ok(VersionChanges {
            version: r.get(0)?,
            zone_date: r.get(1)?,
            imported_at: r.get(2)?,
            added: r.get(3)?,
            removed: r.get(4)?,
            modified: r.get(5)?,
        })
    })?;
    rows.collect()
}

pub use crate::zone::name::provider;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv4_mapped_address_is_its_ipv4_address() {
        assert!(matches!(Pattern::ip("::ffff:192.0.2.7"), Ok(Pattern::Ip(a)) if a == "192.0.2.7"));
        assert!(matches!(Pattern::ip("2001:DB8::1"), Ok(Pattern::Ip(a)) if a == "2001:db8::1"));
    }

    #[test]
    fn names_are_normalised_and_idna_encoded() {
        assert_eq!(normalize("Example.COM.").unwrap(), "example.com");
        assert_eq!(normalize("root").unwrap(), ".");
        assert_eq!(normalize("bücher.de").unwrap(), "xn--bcher-kva.de");
        assert_eq!(unicode("xn--bcher-kva.de"), "bücher.de");
        assert!(normalize("a..b").is_err() && normalize("").is_err() && normalize(&"a".repeat(64)).is_err());
        assert_eq!(Pattern::parse(".Com").unwrap(), Pattern::Suffix("com".into()));
        assert_eq!(Pattern::parse("example.com").unwrap(), Pattern::Exact("example.com".into()));
        assert_eq!(provider("ns1.dns.example.net"), "example.net");
        assert_eq!(provider("ns1.example.co.uk"), "example.co.uk");
        assert_eq!(provider("localhost"), "localhost");
    }
}

/// A name server's page, DZDB's: how many domains it serves, since when, what it gained and
/// lost lately, and the addresses glue gives it.
#[derive(Debug, Serialize)]
pub struct NameServer {
    pub host: String,
    /// Its registrable domain ([`provider`]).
    pub provider: String,
    /// Domains delegated to it in the current versions.
    pub domains: u64,
    /// The zone date of the first version that delegated a domain to it, as far as history
    /// reaches (see `history_pruned_before`).
    pub first_seen: Option<String>,
    /// The last zone date a version delegated a domain to it.
    pub last_seen: Option<String>,
    /// Domains that gained it, and lost it, in versions of the `days` days up to `as_of`.
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub days: i64,
    /// The day the window of `days` counts back from: the newest zone date of the current
    /// versions, not the clock, so that a backfilled history reads the same on any day.
    pub as_of: Option<String>,
    /// A and AAAA records for it in the current versions of the imported zones.
    pub addresses: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_pruned_before: Option<String>,
}

/// The page of name server `host`, from the reverse-lookup index.
pub fn nameserver(conn: &Connection, host: &str, days: i64) -> rusqlite::Result<NameServer> {
    let tx = conn.unchecked_transaction()?;
    let rhost = crate::zone::name::reversed(host);
    let one = |sql: &str| tx.query_row(sql, params![rhost], |r| r.get::<_, Option<String>>(0));
    // Domains now: the pairs each zone's current version holds; a zone whose base gave
    // some was delegating to it since its base.
    let mut domains = 0i64;
    let mut now_in: Vec<String> = Vec::new();
    // The dates it was first seen in each zone, from the base's side.
    let mut seen: Vec<String> = Vec::new();
    let host_is = |h: &str| format!("{h} = ?1");
    for (version, zone, _) in versions(&tx, None, None)? {
        let (base, gained): (i64, i64) =
            tx.query_row(&pair_counts_sql(&host_is, "SELECT ?1 AS lo, ?1 AS hi", "?2", "?3"), params![rhost, zone, version], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        let n = base + gained;
        if n > 0 {
            domains += n;
            now_in.push(zone.clone());
        }
        if base > 0 {
            let d: Option<String> = tx
                .query_row("SELECT z.zone_date FROM ns_bases b JOIN zones z ON z.id = b.version WHERE b.tld = ?1", params![zone], |r| {
                    r.get(0)
                })
                .optional()?
                .flatten();
            seen.extend(d);
        }
    }
    // Rows of the links: pairs gained, and base pairs lost (their `since` is the base).
    let linked = one(
        "SELECT min(z.zone_date) FROM ns_links l JOIN zones z ON z.id = l.since WHERE l.rhost = ?1 AND z.state IN ('current', 'replaced')",
    )?;
    let first_seen = seen.into_iter().chain(linked).min();
    // Still delegated: its zones' current dates; else the last version before one that
    // closed a pair (every pair of the base that went has a closing row).
    let last_seen = if now_in.is_empty() {
        one("SELECT max((SELECT max(p.zone_date) FROM zones p WHERE p.tld = l.tld AND p.id < l.until AND p.state IN ('current', 'replaced')))
               FROM ns_links l WHERE l.rhost = ?1 AND l.until IS NOT NULL")?
    } else {
        let mut st = tx.prepare("SELECT zone_date FROM current_zones WHERE tld = ?1")?;
        let mut best: Option<String> = None;
        for z in &now_in {
            let d: Option<String> = st.query_row(params![z], |r| r.get(0)).optional()?.flatten();
            best = best.max(d);
        }
        best
    };
    let as_of = newest_zone_date(&tx)?;
    // The window holds `days` zone dates: as_of and the days - 1 before it.
    let since = as_of.as_deref().and_then(|d| crate::time::parse_instant(d).ok()).map(|t| crate::time::day(t - (days - 1) * 86400));
    // Gains are the pairs opened after each zone's base (a zone's first version is its
    // baseline, not gains); losses the pairs closed, base pairs included.
    let changed = |at: &str, gains: bool| -> rusqlite::Result<Vec<String>> {
        let Some(since) = since.as_deref().filter(|_| days > 0) else {
            return Ok(Vec::new());
        };
        let not_base = if gains { "AND l.since <> coalesce((SELECT version FROM ns_bases b WHERE b.tld = l.tld), 0)" } else { "" };
        let sql = format!(
            "SELECT DISTINCT l.domain FROM ns_links l JOIN zones z ON z.id = l.{at}
              WHERE l.rhost = ?1 AND z.zone_date >= ?2 AND z.state IN ('current', 'replaced') {not_base}
              ORDER BY l.domain"
        );
        let mut st = tx.prepare(&sql)?;
        let v = st.query_map(params![rhost, since], |r| r.get(0))?.collect();
        v
    };
    let added = changed("since", true)?;
    let removed = changed("until", false)?;
    Ok(NameServer {
        host: host.to_string(),
        provider: provider(host),
        domains: domains as u64,
        first_seen,
        last_seen,
        added,
        removed,
        days,
        as_of,
        addresses: glue_addresses(&tx, host)?,
        history_pruned_before: store::pruned_before(&tx)?,
    })
}

/// The addresses the current versions' glue gives `host`. Glue for a host sits in the zone
/// above it, under the domain directly below that zone's origin: a primary-key lookup in each
/// zone that could hold it.
fn glue_addresses(conn: &Connection, host: &str) -> rusqlite::Result<Vec<String>> {
    let mut addresses = std::collections::BTreeSet::new();
    let mut st = conn.prepare(&format!(
        "SELECT r.rdata FROM records r JOIN current_zones z ON z.tld = r.tld
          WHERE r.tld = ?1 AND r.domain = ?2 AND r.owner = ?3 AND r.type IN ('A', 'AAAA') AND {}",
        store::visible("r", "z.id")
    ))?;
    for zone in store::current_zones(conn)? {
        let under = if zone == "." { Some(host) } else { host.strip_suffix(&format!(".{zone}")) };
        let Some(label) = under.and_then(|u| u.rsplit('.').next()) else { continue };
        let domain = if zone == "." { label.to_string() } else { format!("{label}.{zone}") };
        for a in st.query_map(params![zone, domain, host], |r| r.get::<_, String>(0))? {
            addresses.insert(a?);
        }
    }
    drop(st);
    Ok(addresses.into_iter().collect())
}

/// The zone date the name-server index of `tld` starts on (its base version's); None when the
/// zone has no index (never imported with records, or its records were dropped by a
/// `--no-records` import since). Pivots on a day before it find nothing of that day.
pub fn index_start(conn: &Connection, tld: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT z.zone_date FROM ns_bases b JOIN zones z ON z.id = b.version WHERE b.tld = ?1", params![tld], |r| r.get(0))
        .optional()
        .map(Option::flatten)
}

/// The newest zone date of the current versions: where windows such as "the last 30 days"
/// end. Counting them from the clock would empty them for a backfilled or a paused history.
pub fn newest_zone_date(conn: &Connection) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT max(zone_date) FROM current_zones", [], |r| r.get(0))
}

/// What an age such as `--since 7d` counts back from: the end of the newest zone date (events
/// carry their version's zone date), so `1d` is that day's changes whatever the clock says;
/// the clock only when no zone is imported.
pub fn age_reference(conn: &Connection) -> rusqlite::Result<i64> {
    let newest = newest_zone_date(conn)?.and_then(|d| crate::time::parse_instant(&d).ok());
    Ok(newest.map_or_else(crate::time::unix_now, |t| t + 86400))
}
