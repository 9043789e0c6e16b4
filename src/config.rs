//! Resolved settings: flags, then environment, then the config file, then defaults.
//!
//! The config file is JSON with flat dotted keys, a superset of the official ICANN czds
//! client's `config.json` (`icann.account.username`, `icann.account.password`,
//! `authentication.base.url`, `czds.base.url`, `working.directory`, `tlds`), plus our own
//! (`database.path`, `log.interval_seconds`, ...). A missing file at the default path is fine;
//! a file given explicitly must exist. A file holding a password must not be readable by
//! others.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

/// A config problem: exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config `{}`: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config `{}`: not valid JSON: {source}", path.display())]
    Json { path: PathBuf, source: serde_json::Error },
    #[error("config `{}`: the top level must be a JSON object", path.display())]
    NotObject { path: PathBuf },
    #[error("config `{}`: `{key}` must be {want}, found {found}", path.display())]
    Type { path: PathBuf, key: String, want: &'static str, found: String },
    #[error("config `{}`: `{key}`: {msg}", path.display())]
    Invalid { path: PathBuf, key: String, msg: String },
    #[error("{what} `{}` holds a password or secret but others can read it (mode {mode:o}); run: chmod 600 {}", path.display(), path.display())]
    Exposed { what: &'static str, path: PathBuf, mode: u32 },
    #[error("{what} `{}` holds a password or secret but belongs to another user (uid {owner}, not {user}); its owner may have changed it: run: chown {user} {}", path.display(), path.display())]
    NotOwned { what: &'static str, path: PathBuf, owner: u32, user: u32 },
}

/// Every key zonefeed reads (README, "Config file").
pub const KEYS: &[&str] = &[
    "icann.account.username",
    "icann.account.password",
    "authentication.base.url",
    "czds.base.url",
    "working.directory",
    "tlds",
    "database.path",
    "log.interval_seconds",
    "download.parallel",
    "download.retries",
    "download.retry_delay_seconds",
    "download.low_speed_limit",
    "download.low_speed_time",
    "download.connect_timeout_seconds",
    "webhooks",
    "webhooks.retries",
    "webhooks.retry_delay_seconds",
    "webhooks.timeout_seconds",
    "serve.max_limit",
    "serve.max_connections",
    "serve.header_timeout_seconds",
    "serve.request_timeout_seconds",
    "service.download_start_time",
    "service.download_end_time",
    "service.timezone",
    "service.pid_file",
    "service.log_file",
    "service.no_records",
];

/// The known key nearest to `key` by edit distance (Levenshtein, `strsim`'s), when it is near
/// enough to be a typo.
fn closest_key(key: &str) -> Option<&'static str> {
    let (best, d) = KEYS.iter().map(|k| (*k, strsim::levenshtein(key, k))).min_by_key(|&(_, d)| d)?;
    (d <= 3.max(key.len() / 4)).then_some(best)
}

/// The config file's keys, as read.
#[derive(Debug, Default)]
pub struct Config {
    path: PathBuf,
    map: Map<String, Value>,
}

impl Config {
    /// Loads `path`; when `explicit` is false a missing file gives an empty config.
    pub fn load(path: &Path, explicit: bool) -> Result<Config, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => return Ok(Config::default()),
            Err(source) => return Err(ConfigError::Read { path: path.into(), source }),
        };
        let v: Value = serde_json::from_str(&text).map_err(|source| ConfigError::Json { path: path.into(), source })?;
        let Value::Object(map) = v else { return Err(ConfigError::NotObject { path: path.into() }) };
        let cfg = Config { path: path.into(), map };
        for key in cfg.map.keys().filter(|k| !KEYS.contains(&k.as_str())) {
            // Warn, not fail: ICANN's client may gain keys, and one config serves both tools.
            match closest_key(key) {
                Some(near) => log::warn!("config `{}`: unknown key `{key}` is ignored; did you mean `{near}`?", path.display()),
                None => log::warn!("config `{}`: unknown key `{key}` is ignored", path.display()),
            }
        }
        let webhook_secret = cfg.map.get("webhooks").and_then(Value::as_array).is_some_and(|l| l.iter().any(|w| w.get("secret").is_some()));
        if cfg.map.contains_key("icann.account.password") || webhook_secret {
            check_private("config", path)?;
        }
        Ok(cfg)
    }

    fn type_err(&self, key: &str, want: &'static str, v: &Value) -> ConfigError {
        let found = match v {
            Value::Null => "null".to_string(),
            Value::Bool(_) => "a boolean".to_string(),
            Value::Number(_) => "a number".to_string(),
            Value::String(_) => "a string".to_string(),
            Value::Array(_) => "an array".to_string(),
            Value::Object(_) => "an object".to_string(),
        };
        ConfigError::Type { path: self.path.clone(), key: key.into(), want, found }
    }

    pub fn string(&self, key: &str) -> Result<Option<String>, ConfigError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(self.type_err(key, "a string", v)),
        }
    }

    /// A list of strings (`tlds`); a single string is taken as a one-element list.
    pub fn string_list(&self, key: &str) -> Result<Option<Vec<String>>, ConfigError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(vec![s.clone()])),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    v => Err(self.type_err(key, "a list of strings", v)),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(v) => Err(self.type_err(key, "a list of strings", v)),
        }
    }

    pub fn boolean(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(self.type_err(key, "true or false", v)),
        }
    }

    pub fn positive_integer(&self, key: &str) -> Result<Option<u64>, ConfigError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) if n.as_u64().is_some_and(|i| i > 0) => Ok(n.as_u64()),
            Some(v) => Err(self.type_err(key, "a positive whole number", v)),
        }
    }

    /// A key's raw value, for structured keys (`webhooks`) that a module parses itself.
    pub fn value(&self, key: &str) -> Option<&Value> {
        self.map.get(key)
    }

    /// An error about `key` that the caller worded.
    pub fn invalid(&self, key: &str, msg: String) -> ConfigError {
        ConfigError::Invalid { path: self.path.clone(), key: key.into(), msg }
    }

    /// The file the keys came from (empty when there was none).
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn positive_number(&self, key: &str) -> Result<Option<f64>, ConfigError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) if n.as_f64().is_some_and(|f| f > 0.0) => Ok(n.as_f64()),
            Some(v) => Err(self.type_err(key, "a positive number", v)),
        }
    }
}

/// Refuses a file holding a secret (`what`: "config", "password file") that others can read,
/// or that belongs to a user other than the one running (or root), as ssh does: its owner
/// could put in a URL that sends the password elsewhere.
#[cfg(unix)]
pub fn check_private(what: &'static str, path: &Path) -> Result<(), ConfigError> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::metadata(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(ConfigError::Exposed { what, path: path.into(), mode: mode & 0o777 });
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let user = unsafe { libc::geteuid() };
    if meta.uid() != user && meta.uid() != 0 {
        return Err(ConfigError::NotOwned { what, path: path.into(), owner: meta.uid(), user });
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn check_private(_: &'static str, _: &Path) -> Result<(), ConfigError> {
    Ok(())
}

/// How long a writer waits for another by default (`--wait`).
pub const DEFAULT_WAIT_SECS: u64 = 30;
/// The share of a zone's domains a new version may remove before it is refused as a short or
/// broken file (`--max-removed`), percent.
pub const DEFAULT_MAX_REMOVED: f64 = 5.0;
/// Memory for sorting an import's records before they spill to disk (`--memory`): 2 GiB.
pub const DEFAULT_MEMORY: usize = 2 << 30;

/// Settings every command shares.
#[derive(Debug)]
pub struct Settings {
    pub db: PathBuf,
    pub log_interval: Duration,
    pub quiet: bool,
    pub wait: Duration,
    /// The config file, for the keys of single commands.
    pub config: Config,
}

/// The global flags, as the command line gave them.
#[derive(Debug, Clone, Copy)]
pub struct Flags<'a> {
    pub db: Option<&'a Path>,
    pub config: &'a Path,
    pub quiet: bool,
}

impl Settings {
    /// `wait`: the command's `--wait` (commands that do not write have none).
    pub fn resolve(g: Flags<'_>, wait: Option<u64>) -> Result<Settings, ConfigError> {
        let explicit = std::env::var_os("ZONEFEED_CONFIG").is_some() || g.config != Path::new("config.json");
        let cfg = Config::load(g.config, explicit)?;
        let db = match g.db {
            Some(p) => p.to_path_buf(),
            None => cfg.string("database.path")?.map(PathBuf::from).unwrap_or_else(|| PathBuf::from("zonefeed.db")),
        };
        let secs = cfg.positive_number("log.interval_seconds")?.unwrap_or(5.0);
        Ok(Settings {
            db,
            log_interval: Duration::from_secs_f64(secs),
            quiet: g.quiet,
            wait: Duration::from_secs(wait.unwrap_or(DEFAULT_WAIT_SECS)),
            config: cfg,
        })
    }
}

/// What the CZDS commands need, resolved: flags, then environment, then the config file,
/// then the production defaults.
#[derive(Debug)]
pub struct CzdsSettings {
    pub endpoints: crate::czds::Endpoints,
    pub credentials: crate::czds::Credentials,
    /// ICANN's `working.directory`: the token cache lives here, zones go to `zonefiles/`.
    pub work_dir: PathBuf,
    pub http: crate::czds::HttpOptions,
}

/// A missing or unreadable credential: exit code 2 like any config problem.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("no CZDS {what}: give {flag}, set {env}, or put `{key}` in the config file")]
    Missing { what: &'static str, flag: &'static str, env: &'static str, key: &'static str },
    #[error("password file `{}`: {source}", path.display())]
    PasswordFile { path: PathBuf, source: std::io::Error },
    #[error("password file `{}` is empty", path.display())]
    EmptyPassword { path: PathBuf },
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl CzdsSettings {
    pub fn resolve(cfg: &Config, username: Option<&str>, password_file: Option<&Path>) -> Result<CzdsSettings, CredentialError> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let username = match username.map(str::to_string).or_else(|| env("CZDS_USERNAME")) {
            Some(u) => u,
            None => cfg.string("icann.account.username")?.ok_or(CredentialError::Missing {
                what: "username",
                flag: "--username",
                env: "CZDS_USERNAME",
                key: "icann.account.username",
            })?,
        };
        let password = match password_file {
            Some(path) => {
                check_private("password file", path)?;
                let text = std::fs::read_to_string(path).map_err(|source| CredentialError::PasswordFile { path: path.into(), source })?;
                let pw = text.trim_end_matches(['\r', '\n']).to_string();
                if pw.is_empty() {
                    return Err(CredentialError::EmptyPassword { path: path.into() });
                }
                pw
            }
            None => match env("CZDS_PASSWORD") {
                Some(p) => p,
                None => cfg.string("icann.account.password")?.ok_or(CredentialError::Missing {
                    what: "password",
                    flag: "--password-file",
                    env: "CZDS_PASSWORD",
                    key: "icann.account.password",
                })?,
            },
        };
        let auth_base = env("CZDS_AUTH_URL").or(cfg.string("authentication.base.url")?).unwrap_or_else(|| crate::czds::AUTH_BASE.into());
        let base_url = env("CZDS_BASE_URL").or(cfg.string("czds.base.url")?).unwrap_or_else(|| crate::czds::BASE_URL.into());
        let work_dir = cfg.string("working.directory")?.map_or_else(|| PathBuf::from("."), PathBuf::from);
        let mut http = crate::czds::HttpOptions::default();
        if let Some(s) = cfg.positive_number("download.connect_timeout_seconds")? {
            http.connect_timeout = Duration::from_secs_f64(s);
        }
        if let Some(s) = cfg.positive_number("download.low_speed_time")? {
            http.read_timeout = Duration::from_secs_f64(s);
        }
        Ok(CzdsSettings {
            endpoints: crate::czds::Endpoints { auth_base, base_url },
            credentials: crate::czds::Credentials { username, password: crate::czds::Secret::new(password) },
            work_dir,
            http,
        })
    }

    /// The token cache file.
    pub fn token_cache(&self) -> PathBuf {
        self.work_dir.join(".zonefeed-token.json")
    }

    /// A CZDS client with these endpoints, credentials, token cache and HTTP settings.
    pub fn client(&self) -> crate::czds::Client {
        crate::czds::Client::new(
            self.endpoints.clone(),
            self.credentials.clone(),
            crate::czds::TokenCache::new(self.token_cache()),
            &self.http,
        )
    }
}

/// `download.*` keys: retries and the stall guard.
pub fn download_options(cfg: &Config, dir: PathBuf, force: bool) -> Result<crate::czds::download::Options, ConfigError> {
    Ok(crate::czds::download::Options {
        dir,
        force,
        retries: cfg.positive_integer("download.retries")?.unwrap_or(5) as u32,
        retry_delay: Duration::from_secs_f64(cfg.positive_number("download.retry_delay_seconds")?.unwrap_or(2.0)),
        low_speed_limit: cfg.positive_integer("download.low_speed_limit")?.unwrap_or(1024),
        low_speed_time: Duration::from_secs_f64(cfg.positive_number("download.low_speed_time")?.unwrap_or(60.0)),
    })
}

#[cfg(test)]
mod key_tests {
    use super::*;

    #[test]
    fn a_misspelled_key_names_the_closest_one() {
        assert_eq!(closest_key("databse.path"), Some("database.path"));
        assert_eq!(closest_key("download.paralel"), Some("download.parallel"));
        assert_eq!(closest_key("something.else.entirely"), None);
    }
}
