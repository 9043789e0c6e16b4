//! E-mail alerts: a sink of the webhooks' outbox that sends each batch of events as one
//! message over SMTP (lettre), STARTTLS by default, with credentials from a file.
//!
//! The config's `email` entry becomes an [`Endpoint`](super::webhooks::Endpoint) whose URL
//! is `mailto:` and its recipients, so e-mail shares the outbox's guarantees: events are
//! queued in the transaction that raises them, a batch is fixed before it is sent, a failed
//! send is retried with backoff (the same batch, the same Message-ID, so a mail client shows a
//! resend as one), and the batch leaves the outbox only when the server accepted it.

use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};

use super::{Event, Kind};
use crate::config::{Config, ConfigError};
use crate::czds::Secret;

/// The kinds a message carries when the entry names none: what a person wants to read
/// about, not every zone's daily churn.
pub const DEFAULT_KINDS: [Kind; 7] =
    [Kind::Watch, Kind::DnsChanged, Kind::DnsGone, Kind::Armed, Kind::RegistrarChanged, Kind::StatusChanged, Kind::Expiring];

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain connection upgraded with STARTTLS, which must succeed.
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// None: only to a relay on loopback.
    None,
}

/// A checked `email` entry.
pub struct Mailer {
    pub server: String,
    pub port: u16,
    pub security: Security,
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    credentials: Option<(String, Secret)>,
    /// Extra trust anchors (PEM), read when the config loads.
    ca: Option<Vec<u8>>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("server", &self.server)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("to", &self.to.iter().map(ToString::to_string).collect::<Vec<_>>())
            .field("credentials", &self.credentials.as_ref().map(|_| "***"))
            .finish()
    }
}

/// The checked entry: the mailer, the outbox's name for it (`mailto:` and the recipients),
/// its kinds, zones and batch size.
#[derive(Debug)]
pub struct Entry {
    pub mailer: Mailer,
    pub url: String,
    pub events: Vec<String>,
    pub tlds: Vec<String>,
    pub batch_size: usize,
}

/// Checks the config's `email` entry; None when there is none.
pub fn entry(cfg: &Config) -> Result<Option<Entry>, ConfigError> {
    let Some(raw) = &cfg.keys.email else { return Ok(None) };
    let bad = |msg: String| cfg.invalid("email", msg);
    let mailbox = |s: &str, what: &str| s.parse::<Mailbox>().map_err(|e| bad(format!("{what} `{s}` is not an e-mail address: {e}")));
    let to = raw.to.clone().unwrap_or_default().iter().map(|t| mailbox(t, "to")).collect::<Result<Vec<_>, _>>()?;
    if to.is_empty() {
        return Err(bad("`to` names no recipient".into()));
    }
    let from = mailbox(&raw.from, "from")?;
    let security = match raw.tls.as_deref().unwrap_or("starttls") {
        "starttls" => Security::StartTls,
        "tls" => Security::Tls,
        "none" => Security::None,
        other => return Err(bad(format!("tls `{other}`: use starttls, tls or none"))),
    };
    let loopback = raw.server == "localhost" || raw.server.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if security == Security::None && !loopback {
        return Err(bad(format!("tls none sends mail in the clear: only to a relay on loopback, not `{}`", raw.server)));
    }
    let port = raw.port.unwrap_or(match security {
        Security::StartTls => 587,
        Security::Tls => 465,
        Security::None => 25,
    });
    let credentials = match &raw.credentials_file {
        Some(path) => Some(crate::config::read_credentials("email credentials file", "email.credentials_file", path)?),
        None => None,
    };
    if credentials.is_some() && security == Security::None {
        return Err(bad("credentials are never sent without TLS: set tls to starttls or tls".into()));
    }
    let ca = match &raw.ca_file {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|source| ConfigError::Read { path: path.clone(), source })?;
            Certificate::from_pem(&pem).map_err(|e| bad(format!("ca_file `{}`: {e}", path.display())))?;
            Some(pem)
        }
        None => None,
    };
    let (events, tlds, batch_size) =
        super::webhooks::routing(cfg, "email", raw.events.as_deref(), &DEFAULT_KINDS, &raw.tlds, raw.batch_size.unwrap_or(200))?;
    let url = format!("mailto:{}", to.iter().map(|m| m.email.to_string()).collect::<Vec<_>>().join(","));
    let mailer = Mailer { server: raw.server.clone(), port, security, from, to, credentials, ca };
    Ok(Some(Entry { mailer, url, events, tlds, batch_size }))
}

impl Mailer {
    /// Sends one message; what went wrong otherwise (the password never in it).
    pub fn send(&self, subject: &str, body: String, message_id: &str, timeout: Duration) -> Result<(), String> {
        let mut m = Message::builder().from(self.from.clone()).subject(subject).message_id(Some(format!("<{message_id}@zonefeed>")));
        for to in &self.to {
            m = m.to(to.clone());
        }
        let message = m.header(ContentType::TEXT_PLAIN).body(body).map_err(|e| format!("building the message: {e}"))?;
        let tls = || -> Result<TlsParameters, String> {
            let mut b = TlsParameters::builder(self.server.clone());
            if let Some(pem) = &self.ca {
                b = b.add_root_certificate(Certificate::from_pem(pem).map_err(|e| e.to_string())?);
            }
            b.build_rustls().map_err(|e| format!("TLS: {e}"))
        };
        let security = match self.security {
            Security::StartTls => Tls::Required(tls()?),
            Security::Tls => Tls::Wrapper(tls()?),
            Security::None => Tls::None,
        };
        let mut t = SmtpTransport::builder_dangerous(&self.server).port(self.port).tls(security).timeout(Some(timeout));
        if let Some((user, password)) = &self.credentials {
            t = t.credentials(Credentials::new(user.clone(), password.expose().to_string()));
        }
        let where_ = format!("smtp://{}:{}", self.server, self.port);
        t.build().send(&message).map(|_| ()).map_err(|e| format!("{where_}: {e}"))
    }
}

/// A batch of events as a message: a subject that counts them by kind, and a body with a
/// few lines per event.
pub fn render(batch: &str, tld: &str, events: &[Event]) -> (String, String) {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for e in events {
        match counts.iter_mut().find(|(k, _)| *k == e.kind.as_str()) {
            Some((_, n)) => *n += 1,
            None => counts.push((e.kind.as_str(), 1)),
        }
    }
    let tally = counts.iter().map(|(k, n)| format!("{n} {k}")).collect::<Vec<_>>().join(", ");
    let subject = match events {
        [one] => format!("zonefeed: {} {}", one.kind.as_str(), one.domain),
        _ => format!("zonefeed: {} events in {tld} ({tally})", events.len()),
    };
    let mut body = format!("{} event(s) in {tld}: {tally}\n\n", events.len());
    for e in events {
        body += &format!("{}  {}  {}\n", e.at, e.kind.as_str(), e.domain);
        for line in details(e) {
            body += &format!("    {line}\n");
        }
    }
    body += &format!("\nBatch {batch}. `zonefeed changes --domain NAME` has each domain's history.\n");
    (subject, body)
}

/// What an event says beyond its kind and domain, a line each.
fn details(e: &Event) -> Vec<String> {
    let mut out = Vec::new();
    if let (Some(term), Some(rule)) = (&e.term, &e.rule) {
        out.push(format!("matches `{term}` ({rule})"));
    }
    if let Some(Some(d)) = &e.diff {
        out.extend(d.added.iter().map(|r| format!("+ {} {} {} {}", r.owner, r.ttl, r.rtype, r.rdata)));
        out.extend(d.removed.iter().map(|r| format!("- {} {} {} {}", r.owner, r.ttl, r.rtype, r.rdata)));
    }
    if let Some(d) = &e.delegation {
        out.push(format!("worst {} (was {})", d.worst.as_deref().unwrap_or("none"), d.previous_worst.as_deref().unwrap_or("none")));
        out.extend(d.tags_added.iter().map(|t| format!("+ {t}")));
        out.extend(d.tags_removed.iter().map(|t| format!("- {t}")));
    }
    if let Some(r) = &e.registration {
        let who = |v: &serde_json::Value| match (v["name"].as_str(), v["iana_id"].as_str()) {
            (Some(n), Some(id)) => format!("{n} (IANA {id})"),
            (Some(n), None) => n.to_string(),
            _ => "unknown".to_string(),
        };
        let list = |v: &serde_json::Value| v.as_array().map(|a| a.iter().filter_map(|s| s.as_str()).collect::<Vec<_>>().join(", "));
        match e.kind {
            Kind::RegistrarChanged => out.push(format!("registrar {} -> {}", who(&r["from"]), who(&r["to"]))),
            Kind::StatusChanged => {
                out.extend(list(&r["added"]).filter(|s| !s.is_empty()).map(|s| format!("+ {s}")));
                out.extend(list(&r["removed"]).filter(|s| !s.is_empty()).map(|s| format!("- {s}")));
            }
            Kind::Expiring => out.push(format!("expires {} ({} days left)", r["expires"].as_str().unwrap_or("?"), r["days_left"])),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(email: serde_json::Value) -> Result<Option<Entry>, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.json");
        std::fs::write(&f, serde_json::json!({ "email": email }).to_string()).unwrap();
        entry(&Config::load(&f, true)?)
    }

    #[test]
    fn an_email_entry_is_checked_when_it_is_read() {
        let e = cfg(serde_json::json!({"to": "soc@example.org", "from": "zonefeed@example.org", "server": "smtp.example.org"}))
            .unwrap()
            .unwrap();
        assert_eq!((e.mailer.port, e.mailer.security, e.url.as_str()), (587, Security::StartTls, "mailto:soc@example.org"));
        assert!(e.events.contains(&"armed".to_string()) && !e.events.contains(&"added".to_string()));
        let err = |v: serde_json::Value| cfg(v).unwrap_err().to_string();
        let base = |k: &str, v: serde_json::Value| {
            let mut m = serde_json::json!({"to": ["soc@example.org"], "from": "z@example.org", "server": "smtp.example.org"});
            m[k] = v;
            m
        };
        assert!(err(base("to", serde_json::json!("not an address"))).contains("`not an address` is not an e-mail address"));
        assert!(err(base("tls", serde_json::json!("none"))).contains("only to a relay on loopback"));
        assert!(err(base("tls", serde_json::json!("ssl"))).contains("use starttls, tls or none"));
        assert!(err(base("events", serde_json::json!(["armd"]))).contains("unknown event kind `armd`"));
        assert!(err(base("port", serde_json::json!("587"))).contains("`email.port`"), "a wrong type names the key");
    }

    #[test]
    fn a_credentials_file_must_be_private_and_have_two_lines() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("creds");
        std::fs::write(&f, "user\nhunter2\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        let v = serde_json::json!({"to": "a@example.org", "from": "b@example.org", "server": "smtp.example.org", "credentials_file": f});
        let e = cfg(v.clone()).unwrap_err().to_string();
        assert!(e.contains("others can read it") && !e.contains("hunter2"), "{e}");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        let m = cfg(v.clone()).unwrap().unwrap().mailer;
        assert!(!format!("{m:?}").contains("hunter2"));
        std::fs::write(&f, "user only\n").unwrap();
        assert!(cfg(v).unwrap_err().to_string().contains("needs two lines"));
    }
}
