//! Change events: what each imported version added, removed and modified, for `zonefeed
//! changes` and the webhook outbox ([`webhooks`]).
//!
//! Events are written by the store's writer in the same transactions as the version's rows, so
//! only versions that became current (state `current` or `replaced`) have events to show; a
//! failed or interrupted import's events are dropped with its rows.

pub mod diff;
pub mod email;
pub mod watch;
pub mod webhooks;

use rusqlite::{params_from_iter, Connection};
use serde::Serialize;

/// One change of one domain between two versions of its zone.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Event {
    pub id: i64,
    pub kind: Kind,
    pub domain: String,
    pub tld: String,
    /// The version that recorded it (`zones.id`); null for monitoring's events, which no
    /// zone version records.
    pub zone_version: Option<i64>,
    /// The version it was compared with (null as `zone_version` is).
    pub previous_version: Option<i64>,
    /// When that version was imported (UTC, RFC 3339).
    pub at: String,
    /// For `watch` events: the watched domain or brand term, and the rule that matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub term: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// For `modified` events: the records added and removed (`null` when the zone was
    /// imported with `--no-records`: there is nothing to compare).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<Option<diff::Diff>>,
    /// For `modified` events whose name-server providers changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved: Option<diff::Moved>,
    /// For `delegation_broken` and `delegation_fixed` events: the worst levels before and
    /// after, and the ERROR and CRITICAL tags that came and went.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delegation: Option<Delegation>,
    /// For RDAP's events: `registrar_changed` {from, to: {name, iana_id}}, `status_changed`
    /// {added, removed, status}, `expiring` {expires, days_left}.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration: Option<serde_json::Value>,
}

/// What changed in a delegation's analysis (`events.detail`, JSON).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Delegation {
    /// The analysis that raised the event (`analyses.id`).
    pub analysis: i64,
    pub worst: Option<String>,
    pub previous_worst: Option<String>,
    pub tags_added: Vec<String>,
    pub tags_removed: Vec<String>,
}

impl Event {
    /// The version that recorded it as people read it: `v7`, or `live` for monitoring's.
    pub fn version_label(&self) -> String {
        self.zone_version.map_or_else(|| "live".to_string(), |v| format!("v{v}"))
    }

    /// Fills in a `modified` event's diff and move from the history the store keeps.
    pub fn add_diff(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        if let (Kind::Modified, Some(zone), Some(prev)) = (self.kind, self.zone_version, self.previous_version) {
            let d = diff::of(conn, &self.tld, &self.domain, zone, prev)?;
            self.moved = d.as_ref().and_then(|(_, m)| m.clone());
            self.diff = Some(d.map(|(d, _)| d));
        }
        Ok(())
    }
}

/// The kinds of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Added,
    Removed,
    Modified,
    /// A watchlist match (with `term` and `rule`).
    Watch,
    /// A delegation whose analysis's worst level rose to ERROR or CRITICAL.
    #[serde(rename = "delegation_broken")]
    #[value(name = "delegation_broken")]
    DelegationBroken,
    /// A delegation whose analysis's worst level fell back below ERROR.
    #[serde(rename = "delegation_fixed")]
    #[value(name = "delegation_fixed")]
    DelegationFixed,
    /// A monitored domain's live records changed (with the diff).
    #[serde(rename = "dns_changed")]
    #[value(name = "dns_changed")]
    DnsChanged,
    /// A monitored domain is gone from the DNS: NXDOMAIN at its parent.
    #[serde(rename = "dns_gone")]
    #[value(name = "dns_gone")]
    DnsGone,
    /// A monitored domain's first address or mail server.
    Armed,
    /// A monitored domain's registrar changed (RDAP).
    #[serde(rename = "registrar_changed")]
    #[value(name = "registrar_changed")]
    RegistrarChanged,
    /// A monitored domain's registry status codes changed (RDAP).
    #[serde(rename = "status_changed")]
    #[value(name = "status_changed")]
    StatusChanged,
    /// A monitored domain's registration expires within `rdap.expiring_days`.
    Expiring,
}

/// Every kind, in the order the docs list them.
pub const KINDS: [Kind; 12] = [
    Kind::Added,
    Kind::Removed,
    Kind::Modified,
    Kind::Watch,
    Kind::DelegationBroken,
    Kind::DelegationFixed,
    Kind::DnsChanged,
    Kind::DnsGone,
    Kind::Armed,
    Kind::RegistrarChanged,
    Kind::StatusChanged,
    Kind::Expiring,
];

impl Kind {
    /// As stored in `events.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Added => "added",
            Kind::Removed => "removed",
            Kind::Modified => "modified",
            Kind::Watch => "watch",
            Kind::DelegationBroken => "delegation_broken",
            Kind::DelegationFixed => "delegation_fixed",
            Kind::DnsChanged => "dns_changed",
            Kind::DnsGone => "dns_gone",
            Kind::Armed => "armed",
            Kind::RegistrarChanged => "registrar_changed",
            Kind::StatusChanged => "status_changed",
            Kind::Expiring => "expiring",
        }
    }

    /// Raised by monitoring (live checks and RDAP), not by a zone's import or analysis.
    pub fn is_monitoring(self) -> bool {
        matches!(self, Kind::DnsChanged | Kind::DnsGone | Kind::Armed | Kind::RegistrarChanged | Kind::StatusChanged | Kind::Expiring)
    }

    /// A kind as the API spells it.
    pub fn parse(s: &str) -> Option<Kind> {
        KINDS.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl rusqlite::types::FromSql for Kind {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Kind> {
        let s = v.as_str()?;
        Kind::parse(s).ok_or_else(|| rusqlite::types::FromSqlError::Other(format!("unknown event kind `{s}`").into()))
    }
}

/// Which events to list.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub tld: Option<String>,
    pub kind: Option<Kind>,
    /// RFC 3339 UTC lower bound on `at`.
    pub since: Option<String>,
    /// RFC 3339 UTC upper bound on `at` (inclusive): history as of a zone date ends there.
    pub until: Option<String>,
    pub version: Option<i64>,
    /// One domain's events (its history).
    pub domain: Option<String>,
    /// Only events with a larger id, in id order (a poller's cursor); with `limit`.
    pub after_id: Option<i64>,
    pub limit: Option<usize>,
    /// Only `modified` events whose providers moved.
    pub moved: bool,
    /// Read each `modified` event's diff and move from history (forms that show them; a
    /// plain list of names does not pay for it).
    pub diffs: bool,
}

/// Events matching `f`, oldest version first, by domain then kind within a version.
pub fn list(conn: &Connection, f: &Filter) -> rusqlite::Result<Vec<Event>> {
    // One domain's events: its key in each version's (zone, domain) index range, versions
    // first (CROSS JOIN fixes the order; the planner would scan every event), and its events
    // of no version (monitoring's) through their own index. Other lists read events in id
    // order. A zone's events show once their version became current.
    let from = if f.domain.is_some() {
        "(SELECT e.* FROM zones z CROSS JOIN events e ON e.zone = z.id WHERE z.state IN ('current', 'replaced') AND e.domain = ?1
          UNION ALL SELECT * FROM events WHERE zone IS NULL AND domain = ?1) e"
    } else {
        "events e LEFT JOIN zones z ON z.id = e.zone"
    };
    let mut sql = format!("SELECT {EVENT_COLUMNS} FROM {from} WHERE ");
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    match &f.domain {
        Some(d) => {
            sql.push_str("1 = 1");
            args.push(d.clone().into());
        }
        None => sql.push_str("(e.zone IS NULL OR z.state IN ('current', 'replaced'))"),
    }
    if let Some(t) = &f.tld {
        sql.push_str(" AND e.tld = ?");
        args.push(t.clone().into());
    }
    match &f.kind {
        Some(k) => {
            sql.push_str(" AND e.kind = ?");
            args.push(k.as_str().to_string().into());
        }
        // The change feed is of domains; watch hits are asked for by name.
        None => sql.push_str(" AND e.kind <> 'watch'"),
    }
    if let Some(s) = &f.since {
        sql.push_str(" AND e.at >= ?");
        args.push(s.clone().into());
    }
    if let Some(u) = &f.until {
        sql.push_str(" AND e.at <= ?");
        args.push(u.clone().into());
    }
    if let Some(v) = f.version {
        sql.push_str(" AND e.zone = ?");
        args.push(v.into());
    }
    // Events are written in (version, domain) order, so id order is the same order; a cursor
    // over ids pages it exactly.
    if let Some(a) = f.after_id {
        sql.push_str(" AND e.id > ?");
        args.push(a.into());
    }
    // Monitoring's events (no version) come in the order they happened, after the zones'.
    sql.push_str(if f.after_id.is_some() || f.limit.is_some() {
        " ORDER BY e.id"
    } else {
        " ORDER BY e.zone IS NULL, e.zone, e.at, e.domain, e.kind, e.id"
    });
    if let Some(n) = f.limit {
        sql.push_str(" LIMIT ?");
        args.push((n as i64).into());
    }
    let mut st = conn.prepare(&sql)?;
    let rows = st.query_map(params_from_iter(args), event_row)?;
    let mut events: Vec<Event> = rows.collect::<rusqlite::Result<_>>()?;
    if f.diffs || f.moved {
        for e in &mut events {
            e.add_diff(conn)?;
        }
    }
    if f.moved {
        events.retain(|e| e.moved.is_some());
    }
    Ok(events)
}

/// The columns [`event_row`] reads, of `events e`.
pub(crate) const EVENT_COLUMNS: &str = "e.id, e.kind, e.domain, e.tld, e.zone, e.prev_zone, e.at, e.term, e.rule, e.detail";

/// An event from `SELECT` [`EVENT_COLUMNS`].
fn event_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Event> {
    let kind: Kind = r.get(1)?;
    let detail: Option<String> = r.get(9)?;
    let bad = |e: serde_json::Error| rusqlite::Error::FromSqlConversionFailure(9, rusqlite::types::Type::Text, Box::new(e));
    // The detail is the delegation's change for analyses' events, the records' diff for
    // monitoring's.
    let (mut delegation, mut diff, mut registration) = (None, None, None);
    if let Some(d) = detail {
        match kind {
            Kind::DelegationBroken | Kind::DelegationFixed => delegation = Some(serde_json::from_str(&d).map_err(bad)?),
            Kind::DnsChanged | Kind::Armed => diff = Some(Some(serde_json::from_str(&d).map_err(bad)?)),
            Kind::RegistrarChanged | Kind::StatusChanged | Kind::Expiring => registration = Some(serde_json::from_str(&d).map_err(bad)?),
            _ => {}
        }
    }
    Ok(Event {
        id: r.get(0)?,
        kind,
        domain: r.get(2)?,
        tld: r.get(3)?,
        zone_version: r.get(4)?,
        previous_version: r.get(5)?,
        at: r.get(6)?,
        term: r.get(7)?,
        rule: r.get(8)?,
        diff,
        moved: None,
        delegation,
        registration,
    })
}
