//! The CZDS REST API (ICANN's spec 1.0.8): login, the zone list, HEAD checks, downloads.
//!
//! One [`Client`] serves a whole run: it logs in at most once (the token is cached on disk and
//! shared by every download thread), answers a 401 with one fresh login and one retry, and stops
//! at a 429 instead of looping. The password and the token never reach a message: they live in
//! [`Secret`], whose `Debug` and `Display` print `***`.

pub mod download;
pub mod feed;
pub mod requests;
mod token;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use ureq::http::Response;
use ureq::Body;

pub use token::{jwt_exp, TokenCache};

/// Production endpoints, as in ICANN's own client.
pub const AUTH_BASE: &str = "https://account-api.icann.org";
pub const BASE_URL: &str = "https://czds-api.icann.org";

/// ICANN may answer a request without a User-Agent with a maintenance page.
const USER_AGENT: &str = concat!("zonefeed/", env!("CARGO_PKG_VERSION"), " (+https://github.com/zonefeed/zonefeed)");

/// A string that must never be shown: a password or a token.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: String) -> Secret {
        Secret(s)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// Where to log in and where to ask for links. Both are bases: the client appends
/// `/api/authenticate` and `/czds/...`, as ICANN's client does.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub auth_base: String,
    pub base_url: String,
}

#[derive(Debug, Clone)]
pub struct Credentials {
    pub username: String,
    pub password: Secret,
}

/// What went wrong talking to CZDS. Messages hold URLs and statuses, never a secret.
#[derive(Debug, thiserror::Error)]
pub enum CzdsError {
    #[error("CZDS login as `{user}` failed: wrong username or password (HTTP 401 from {url})")]
    LoginFailed { user: String, url: String },
    #[error("CZDS refused the login: rate limited (HTTP 429; at most 8 logins per 5 minutes from one IP); logins are possible again after {until}")]
    RateLimited { until: String },
    #[error("{url}: still HTTP 401 after a fresh login; the account may lack access")]
    Unauthorized { url: String },
    #[error("{url}: HTTP {status}{detail}")]
    Http { url: String, status: u16, detail: String },
    #[error("{url}: {source}")]
    Transport { url: String, source: ureq::Error },
    #[error("{url}: unexpected answer: {what}")]
    Protocol { url: String, what: String },
    #[error("token cache `{}`: {source}", path.display())]
    Cache { path: PathBuf, source: std::io::Error },
}

/// A CZDS answer that ends a whole run, not just one zone: every later request would get
/// the same (the command layer maps them to exit 3 and 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fatal {
    /// The login was refused, or the token no longer accepted.
    Auth,
    /// CZDS answered 429.
    RateLimited,
}

impl CzdsError {
    /// Whether this error ends the run, and how.
    pub fn fatal(&self) -> Option<Fatal> {
        match self {
            CzdsError::LoginFailed { .. } | CzdsError::Unauthorized { .. } => Some(Fatal::Auth),
            CzdsError::RateLimited { .. } => Some(Fatal::RateLimited),
            _ => None,
        }
    }
}

/// Timeouts and the like, from the config file's `download.*` keys.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub connect_timeout: Duration,
    /// A read that gets no byte for this long fails (a dead connection).
    pub read_timeout: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions { connect_timeout: Duration::from_secs(30), read_timeout: Duration::from_secs(60) }
    }
}

/// A logged-in (lazily) CZDS client, shared by every download thread.
pub struct Client {
    agent: ureq::Agent,
    endpoints: Endpoints,
    creds: Credentials,
    cache: TokenCache,
    /// The token in use and a generation counter, so that threads hitting 401 at once cause
    /// one login between them, not one each.
    token: Mutex<Option<(Secret, u64)>>,
    logins: AtomicU32,
}

impl Client {
    pub fn new(endpoints: Endpoints, creds: Credentials, cache: TokenCache, http: &HttpOptions) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(USER_AGENT)
            // No Accept-Encoding: a transfer-level gzip would shift Range offsets. The zones are
            // gzip files already.
            .accept_encoding("")
            .timeout_connect(Some(http.connect_timeout))
            .timeout_per_read(Some(http.read_timeout))
            .timeout_recv_response(Some(http.read_timeout))
            .build()
            .new_agent();
        Client { agent, endpoints, creds, cache, token: Mutex::new(None), logins: AtomicU32::new(0) }
    }

    /// Logins this client made (a cached token counts none).
    pub fn logins(&self) -> u32 {
        self.logins.load(Ordering::Relaxed)
    }

    /// The token to send, logging in only when neither memory nor the cache holds a live one.
    fn bearer(&self) -> Result<(Secret, u64), CzdsError> {
        let mut slot = self.token.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = slot.as_ref() {
            return Ok(t.clone());
        }
        let tok = match self.cache.load(&self.endpoints.auth_base, &self.creds.username)? {
            Some(t) => t,
            None => self.login()?,
        };
        let t = (tok, 1);
        *slot = Some(t.clone());
        Ok(t)
    }

    /// After a 401 with token generation `seen`: logs in again unless another thread already did.
    fn relogin(&self, seen: u64) -> Result<(Secret, u64), CzdsError> {
        let mut slot = self.token.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((t, g)) = slot.as_ref() {
            if *g != seen {
                return Ok((t.clone(), *g));
            }
        }
        self.cache.forget();
        let tok = self.login()?;
        let next = (tok, seen + 1);
        *slot = Some(next.clone());
        Ok(next)
    }

    fn login(&self) -> Result<Secret, CzdsError> {
        if let Some(until) = self.cache.blocked_until() {
            return Err(CzdsError::RateLimited { until });
        }
        let url = format!("{}/api/authenticate", self.endpoints.auth_base.trim_end_matches('/'));
        let body = serde_json::json!({"username": self.creds.username, "password": self.creds.password.expose()}).to_string();
        self.logins.fetch_add(1, Ordering::Relaxed);
        let mut resp = self
            .agent
            .post(&url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .send(body)
            .map_err(|source| CzdsError::Transport { url: url.clone(), source })?;
        match resp.status().as_u16() {
            200 => {}
            401 => return Err(CzdsError::LoginFailed { user: self.creds.username.clone(), url }),
            429 => {
                let wait = crate::http::retry_after(&resp).unwrap_or(Duration::from_secs(300));
                let until = self.cache.block(wait);
                return Err(CzdsError::RateLimited { until });
            }
            status => return Err(self.http_error(&url, status, &mut resp)),
        }
        let text = resp.body_mut().read_to_string().map_err(|source| CzdsError::Transport { url: url.clone(), source })?;
        let token = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("accessToken").and_then(|t| t.as_str()).map(str::to_string))
            .filter(|t| !t.is_empty())
            .ok_or_else(|| CzdsError::Protocol { url: url.clone(), what: "no accessToken in the login answer".into() })?;
        let token = Secret::new(token);
        self.cache.store(&self.endpoints.auth_base, &self.creds.username, &token)?;
        Ok(token)
    }

    /// Sends `method url` with the token and extra headers; a 401 gets one fresh login and one
    /// retry. Any other status is the caller's to judge.
    pub fn send(&self, method: &str, url: &str, headers: &[(&str, String)]) -> Result<Response<Body>, CzdsError> {
        self.send_body(method, url, headers, None)
    }

    fn send_body(&self, method: &str, url: &str, headers: &[(&str, String)], body: Option<&str>) -> Result<Response<Body>, CzdsError> {
        let (tok, gen) = self.bearer()?;
        let resp = self.send_with(method, url, headers, body, &tok)?;
        if resp.status().as_u16() != 401 {
            return Ok(resp);
        }
        let (tok, _) = self.relogin(gen)?;
        let resp = self.send_with(method, url, headers, body, &tok)?;
        if resp.status().as_u16() == 401 {
            return Err(CzdsError::Unauthorized { url: url.to_string() });
        }
        Ok(resp)
    }

    fn send_with(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: Option<&str>,
        tok: &Secret,
    ) -> Result<Response<Body>, CzdsError> {
        let bearer = format!("Bearer {}", tok.expose());
        let result = match method {
            "HEAD" => {
                let mut r = self.agent.head(url).header("Authorization", &bearer);
                for (k, v) in headers {
                    r = r.header(*k, v);
                }
                r.call()
            }
            "POST" => {
                let mut r = self.agent.post(url).header("Authorization", &bearer).header("Content-Type", "application/json");
                for (k, v) in headers {
                    r = r.header(*k, v);
                }
                r.send(body.unwrap_or("{}"))
            }
            _ => {
                let mut r = self.agent.get(url).header("Authorization", &bearer);
                for (k, v) in headers {
                    r = r.header(*k, v);
                }
                r.call()
            }
        };
        result.map_err(|source| CzdsError::Transport { url: url.to_string(), source })
    }

    /// A JSON call to the CZDS API: `path` under the base URL, a JSON body for POST. Anything
    /// but 200 is an error carrying the status.
    pub fn api(&self, method: &str, path: &str, body: Option<&serde_json::Value>) -> Result<serde_json::Value, CzdsError> {
        let url = format!("{}{path}", self.endpoints.base_url.trim_end_matches('/'));
        let text = body.map(|b| b.to_string());
        let mut resp = self.send_body(method, &url, &[("Accept", "application/json".into())], text.as_deref())?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(self.http_error(&url, status, &mut resp));
        }
        let text = resp.body_mut().read_to_string().map_err(|source| CzdsError::Transport { url: url.clone(), source })?;
        if text.trim().is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| CzdsError::Protocol { url, what: format!("not JSON ({e})") })
    }

    /// `GET <base>/czds/downloads/links`: the zones this account may download.
    pub fn links(&self) -> Result<Vec<String>, CzdsError> {
        let url = format!("{}/czds/downloads/links", self.endpoints.base_url.trim_end_matches('/'));
        let mut resp = self.send("GET", &url, &[("Accept", "application/json".into())])?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(self.http_error(&url, status, &mut resp));
        }
        let text = resp.body_mut().read_to_string().map_err(|source| CzdsError::Transport { url: url.clone(), source })?;
        serde_json::from_str::<Vec<String>>(&text)
            .map_err(|e| CzdsError::Protocol { url, what: format!("the zone list is not a JSON array of URLs ({e})") })
    }

    /// An error for an unexpected status, with a short excerpt of the body (secrets removed).
    pub fn http_error(&self, url: &str, status: u16, resp: &mut Response<Body>) -> CzdsError {
        let body = resp.body_mut().with_config().limit(4096).lossy_utf8(true).read_to_string().unwrap_or_default();
        let mut text: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
        text = self.redact(&text);
        if text.chars().count() > 200 {
            text = text.chars().take(200).collect::<String>() + "...";
        }
        let detail = if text.is_empty() { String::new() } else { format!(": {text}") };
        CzdsError::Http { url: url.to_string(), status, detail }
    }

    /// Removes the password and the token from text a server sent back.
    fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        let pw = self.creds.password.expose();
        if !pw.is_empty() {
            out = out.replace(pw, "***");
        }
        if let Some((t, _)) = self.token.lock().ok().and_then(|s| s.clone()) {
            out = out.replace(t.expose(), "***");
        }
        out
    }
}
