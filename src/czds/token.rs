//! The login token, cached on disk between runs.
//!
//! CZDS allows 8 logins per 5 minutes per IP and a token lives 24 hours, so a run reuses the
//! token of the last run until shortly before its `exp`. The cache file is created mode 0600
//! and written whole (temp file + rename). It also remembers a 429, so a run started inside
//! the blocked window stops at once instead of extending the block.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{CzdsError, Secret};
use crate::time::{unix_now, utc};

/// A token is not used in its last 10 minutes: a long download must not outlive it.
const MARGIN: i64 = 600;
/// When a token carries no readable `exp`, ICANN's documented lifetime.
const LIFETIME: i64 = 24 * 3600;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Stored {
    auth_url: String,
    username: String,
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    exp: i64,
    #[serde(default)]
    blocked_until: i64,
}

pub struct TokenCache {
    path: PathBuf,
}

impl TokenCache {
    pub fn new(path: PathBuf) -> TokenCache {
        TokenCache { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> Option<Stored> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// The cached token for this account and endpoint, if it has more than the margin to live.
    pub fn load(&self, auth_url: &str, username: &str) -> Result<Option<Secret>, CzdsError> {
        let Some(s) = self.read() else { return Ok(None) };
        let live = s.auth_url == auth_url && s.username == username && !s.access_token.is_empty() && s.exp - MARGIN > unix_now();
        Ok(live.then(|| Secret::new(s.access_token)))
    }

    pub fn store(&self, auth_url: &str, username: &str, token: &Secret) -> Result<(), CzdsError> {
        let exp = jwt_exp(token.expose()).unwrap_or(unix_now() + LIFETIME);
        let s = Stored { auth_url: auth_url.into(), username: username.into(), access_token: token.expose().into(), exp, blocked_until: 0 };
        self.write(&s)
    }

    /// Drops the token (the server refused it) but keeps a rate-limit note.
    pub fn forget(&self) {
        if let Some(mut s) = self.read() {
            s.access_token.clear();
            s.exp = 0;
            let _ = self.write(&s);
        }
    }

    /// When a 429 seen earlier still blocks logins: its end, as UTC text.
    pub fn blocked_until(&self) -> Option<String> {
        let s = self.read()?;
        (s.blocked_until > unix_now()).then(|| utc(s.blocked_until))
    }

    /// Notes a 429 lasting `wait`; returns its end as UTC text.
    pub fn block(&self, wait: Duration) -> String {
        let until = unix_now() + wait.as_secs() as i64;
        let mut s = self.read().unwrap_or_default();
        s.blocked_until = until;
        let _ = self.write(&s);
        utc(until)
    }

    fn write(&self, s: &Stored) -> Result<(), CzdsError> {
        let err = |source| CzdsError::Cache { path: self.path.clone(), source };
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let _ = std::fs::remove_file(&tmp);
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp).map_err(err)?;
        let text = serde_json::to_vec(s).map_err(|e| err(std::io::Error::other(e)))?;
        f.write_all(&text).map_err(err)?;
        f.sync_all().map_err(err)?;
        std::fs::rename(&tmp, &self.path).map_err(err)
    }
}

/// The `exp` claim of a JWT (seconds since the epoch), read without checking the signature:
/// the server checks it; we only need to know when to stop using the token.
pub fn jwt_exp(token: &str) -> Option<i64> {
    let payload = token.split('.').nth(1)?;
    let bytes = data_encoding::BASE64URL_NOPAD.decode(payload.trim_end_matches('=').as_bytes()).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("exp")?.as_i64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        format!("eyJhbGciOiJub25lIn0.{}.sig", data_encoding::BASE64URL_NOPAD.encode(payload.as_bytes()))
    }

    #[test]
    fn exp_is_read_from_the_payload() {
        assert_eq!(jwt_exp(&jwt(r#"{"sub":"a","exp":1790000000}"#)), Some(1790000000));
        assert_eq!(jwt_exp(&jwt(r#"{"sub":"a"}"#)), None);
        assert_eq!(jwt_exp("not-a-jwt"), None);
        assert_eq!(jwt_exp("a.!!!.c"), None);
    }

    #[test]
    fn cache_reuses_a_live_token_of_the_same_account_only() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::new(dir.path().join("token.json"));
        let live = Secret::new(jwt(&format!(r#"{{"exp":{}}}"#, unix_now() + 3600)));
        cache.store("https://auth", "alice", &live).unwrap();
        assert_eq!(cache.load("https://auth", "alice").unwrap(), Some(live.clone()));
        assert_eq!(cache.load("https://auth", "bob").unwrap(), None);
        assert_eq!(cache.load("https://other", "alice").unwrap(), None);
        // Inside the margin before exp: not used.
        let dying = Secret::new(jwt(&format!(r#"{{"exp":{}}}"#, unix_now() + 60)));
        cache.store("https://auth", "alice", &dying).unwrap();
        assert_eq!(cache.load("https://auth", "alice").unwrap(), None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(cache.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "token cache must be private, mode {mode:o}");
        }
    }

    #[test]
    fn a_rate_limit_is_remembered_until_it_ends() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::new(dir.path().join("token.json"));
        assert_eq!(cache.blocked_until(), None);
        let until = cache.block(Duration::from_secs(300));
        assert_eq!(cache.blocked_until(), Some(until));
        cache.block(Duration::from_secs(0));
        assert_eq!(cache.blocked_until(), None);
    }
}
