//! CZDS access requests: list, show, extend before expiry, request, cancel.
//!
//! This is the CZDS portal's own API (not in ICANN's published spec). Its `filter` matches
//! substrings (`red` also finds `kred`), so TLDs are always matched exactly here, after the
//! server's answer. `extend` walks the approved requests by expiry date and stops once past
//! the window; it sends an extension only when the details say `extensible` and not
//! `extensionInProcess`, so running it daily never extends twice.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Client, CzdsError};
use crate::time::unix_now;

/// Page size of `requests/all` (the portal's own).
const PAGE: usize = 100;
/// Pages read at most (100 000 requests): a server that never says "past the end" stops here.
const MAX_PAGES: usize = 1000;

/// One access request, as `requests/all` lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    pub request_id: String,
    pub tld: String,
    #[serde(default)]
    pub ulable: Option<String>,
    pub status: String,
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default, rename = "last_updated", alias = "lastUpdated")]
    pub last_updated: Option<String>,
    #[serde(default)]
    pub expired: Option<String>,
    #[serde(default)]
    pub sftp: Option<bool>,
    #[serde(default, rename = "auto_renew", alias = "autoRenew")]
    pub auto_renew: Option<bool>,
}

impl Request {
    /// Seconds since the epoch when access expires, if the request has a date.
    pub fn expires(&self) -> Option<i64> {
        self.expired.as_deref().and_then(parse_iso)
    }
}

/// `2026-12-01T00:00:00Z`, `2026-12-01T00:00:00.000+0000`, `2026-12-01`: seconds since the
/// epoch (UTC; CZDS sends UTC).
pub fn parse_iso(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|t| t.parse::<i64>().ok());
    let days = crate::time::days_from_civil(num(0..4)?, num(5..7)?, num(8..10)?);
    let secs = if b.len() >= 19 && (b[10] == b'T' || b[10] == b' ') { num(11..13)? * 3600 + num(14..16)? * 60 + num(17..19)? } else { 0 };
    Some(days * 86400 + secs)
}

/// Which requests to list.
#[derive(Debug, Default, Clone)]
pub struct Query {
    /// `Approved`, `Pending`, ... (empty: all).
    pub status: String,
    /// Exact TLDs (empty: all).
    pub tlds: Vec<String>,
    /// Sort field and direction, as the portal names them.
    pub sort: Option<(&'static str, &'static str)>,
}

/// Every request matching `q`, page by page. With one TLD the server's substring filter
/// narrows the pages; the exact match is ours.
pub fn list(client: &Client, q: &Query) -> Result<Vec<Request>, CzdsError> {
    list_until(client, q, |_| true)
}

/// Like [`list`], but stops paging after a page whose last request fails `more`.
fn list_until(client: &Client, q: &Query, more: impl Fn(&Request) -> bool) -> Result<Vec<Request>, CzdsError> {
    let filter = if q.tlds.len() == 1 { q.tlds[0].clone() } else { String::new() };
    let (field, direction) = q.sort.unwrap_or(("tld", "asc"));
    let mut out = Vec::new();
    for page in 0..MAX_PAGES {
        let body = json!({"status": q.status, "filter": filter, "pagination": {"size": PAGE, "page": page}, "sort": {"field": field, "direction": direction}});
        let v = client.api("POST", "/czds/requests/all", Some(&body))?;
        let batch: Vec<Request> = serde_json::from_value(v.get("requests").cloned().unwrap_or_default())
            .map_err(|e| CzdsError::Protocol { url: "/czds/requests/all".into(), what: format!("unexpected request list ({e})") })?;
        let Some(last) = batch.last().cloned() else { break };
        let n = batch.len();
        out.extend(batch.into_iter().filter(|r| q.tlds.is_empty() || q.tlds.iter().any(|t| t.eq_ignore_ascii_case(&r.tld))));
        if n < PAGE || !more(&last) {
            break;
        }
    }
    Ok(out)
}

/// `requests/<id>`: details (`extensible`, `extensionInProcess`, `reason`, `history`, ...).
pub fn details(client: &Client, id: &str) -> Result<serde_json::Value, CzdsError> {
    client.api("GET", &format!("/czds/requests/{}", path_segment(id)?), None)
}

/// Request ids go into a URL path: letters, digits, `-` and `_` only.
fn path_segment(id: &str) -> Result<&str, CzdsError> {
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        Ok(id)
    } else {
        Err(CzdsError::Protocol { url: "/czds/requests".into(), what: format!("`{id}` is not a request id") })
    }
}

/// What `extend` did, or would do, with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Action {
    #[serde(rename = "extended")]
    Extended,
    /// A dry run's.
    #[serde(rename = "would extend")]
    WouldExtend,
    #[serde(rename = "skipped")]
    Skipped,
    #[serde(rename = "failed")]
    Failed,
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Action::Extended => "extended",
            Action::WouldExtend => "would extend",
            Action::Skipped => "skipped",
            Action::Failed => "failed",
        })
    }
}

/// What `extend` did with one request.
#[derive(Debug, Serialize)]
pub struct Extension {
    pub tld: String,
    pub request_id: String,
    pub expired: Option<String>,
    pub action: Action,
    pub reason: String,
}

/// Extends every approved request (of `tlds`, or all) expiring within `within_days`.
pub fn extend(client: &Client, tlds: &[String], within_days: i64, dry_run: bool) -> Result<Vec<Extension>, CzdsError> {
    let limit = unix_now() + within_days * 86400;
    let q = Query { status: "Approved".into(), tlds: tlds.to_vec(), sort: Some(("expired", "asc")) };
    // Sorted by expiry: once a page ends past the window, later pages are further out still.
    let approved = list_until(client, &q, |r| r.expires().is_some_and(|t| t <= limit))?;
    let mut out = Vec::new();
    for r in approved.into_iter().filter(|r| r.expires().is_some_and(|t| t <= limit)) {
        let mut e = Extension {
            tld: r.tld.clone(),
            request_id: r.request_id.clone(),
            expired: r.expired.clone(),
            action: Action::Skipped,
            reason: String::new(),
        };
        let d = match details(client, &r.request_id) {
            Ok(d) => d,
            Err(err) => {
                e.action = Action::Failed;
                e.reason = err.to_string();
                out.push(e);
                continue;
            }
        };
        let extensible = d.get("extensible").and_then(|v| v.as_bool()).unwrap_or(false);
        let in_process = d.get("extensionInProcess").and_then(|v| v.as_bool()).unwrap_or(false);
        if in_process {
            e.reason = "an extension is already in process".into();
        } else if !extensible {
            e.reason = "CZDS says it cannot be extended now (extensions open 30 days before expiry)".into();
        } else if dry_run {
            e.action = Action::WouldExtend;
            e.reason = "--dry-run".into();
        } else {
            match client.api("POST", &format!("/czds/requests/extension/{}", path_segment(&r.request_id)?), Some(&json!({}))) {
                Ok(_) => {
                    e.action = Action::Extended;
                    e.reason = "extension requested".into();
                }
                Err(err) => {
                    e.action = Action::Failed;
                    e.reason = err.to_string();
                }
            }
        }
        out.push(e);
    }
    Ok(out)
}

/// The current terms: (version, content URL).
pub fn terms(client: &Client) -> Result<(String, String), CzdsError> {
    let v = client.api("GET", "/czds/terms/condition", None)?;
    let version = match v.get("version") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => return Err(CzdsError::Protocol { url: "/czds/terms/condition".into(), what: "no terms version".into() }),
    };
    let url = v.get("contentUrl").and_then(|u| u.as_str()).unwrap_or("").to_string();
    Ok((version, url))
}

/// A TLD as `czds/tlds` lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tld {
    pub tld: String,
    #[serde(default)]
    pub ulable: Option<String>,
    #[serde(default)]
    pub current_status: Option<String>,
    #[serde(default)]
    pub sftp: Option<bool>,
}

pub fn tlds(client: &Client) -> Result<Vec<Tld>, CzdsError> {
    let v = client.api("GET", "/czds/tlds", None)?;
    serde_json::from_value(v).map_err(|e| CzdsError::Protocol { url: "/czds/tlds".into(), what: format!("unexpected TLD list ({e})") })
}

/// Requests access to `tlds` (an explicit list: `allTlds: true` would ignore exclusions).
pub fn create(client: &Client, tlds: &[String], reason: &str, tc_version: &str) -> Result<serde_json::Value, CzdsError> {
    client.api(
        "POST",
        "/czds/requests/create",
        Some(&json!({"allTlds": false, "tldNames": tlds, "reason": reason, "tcVersion": tc_version})),
    )
}

pub fn cancel(client: &Client, r: &Request) -> Result<serde_json::Value, CzdsError> {
    client.api("POST", "/czds/requests/cancel", Some(&json!({"integrationId": r.request_id, "tldName": r.tld})))
}

/// Statuses that make a new request pointless.
pub fn is_open(status: &str) -> bool {
    matches!(status.to_ascii_lowercase().as_str(), "approved" | "pending" | "submitted")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates_as_czds_writes_them() {
        let day = crate::time::days_from_civil(2026, 12, 1) * 86400;
        assert_eq!(parse_iso("2026-12-01T00:00:00Z"), Some(day));
        assert_eq!(parse_iso("2026-12-01T06:30:15.000+0000"), Some(day + 6 * 3600 + 30 * 60 + 15));
        assert_eq!(parse_iso("2026-12-01"), Some(day));
        assert_eq!(parse_iso("01/12/2026"), None);
        assert_eq!(parse_iso(""), None);
    }

    #[test]
    fn ids_that_could_leave_the_path_are_refused() {
        assert!(path_segment("a1b2-c3_d4").is_ok());
        assert!(path_segment("../all").is_err() && path_segment("").is_err() && path_segment("a/b").is_err());
    }
}
