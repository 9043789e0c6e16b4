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
    #[error("config `{}` holds a password but others can read it (mode {mode:o}); run: chmod 600 {}", path.display(), path.display())]
    Exposed { path: PathBuf, mode: u32 },
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
        if cfg.map.contains_key("icann.account.password") {
            check_private(path)?;
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

    pub fn positive_number(&self, key: &str) -> Result<Option<f64>, ConfigError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) if n.as_f64().is_some_and(|f| f > 0.0) => Ok(n.as_f64()),
            Some(v) => Err(self.type_err(key, "a positive number", v)),
        }
    }
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), ConfigError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).map_err(|source| ConfigError::Read { path: path.into(), source })?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(ConfigError::Exposed { path: path.into(), mode: mode & 0o777 });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_: &Path) -> Result<(), ConfigError> {
    Ok(())
}

/// Settings every command shares.
#[derive(Debug)]
pub struct Settings {
    pub db: PathBuf,
    pub log_interval: Duration,
    pub json: bool,
    pub quiet: bool,
    pub wait: Duration,
}

impl Settings {
    pub fn resolve(g: &crate::cli::Global) -> Result<Settings, ConfigError> {
        let explicit = std::env::var_os("ZONEFEED_CONFIG").is_some() || g.config != Path::new("config.json");
        let cfg = Config::load(&g.config, explicit)?;
        let db = match &g.db {
            Some(p) => p.clone(),
            None => cfg.string("database.path")?.map(PathBuf::from).unwrap_or_else(|| PathBuf::from("zonefeed.db")),
        };
        let secs = cfg.positive_number("log.interval_seconds")?.unwrap_or(5.0);
        Ok(Settings { db, log_interval: Duration::from_secs_f64(secs), json: g.json, quiet: g.quiet, wait: Duration::from_secs(g.wait) })
    }
}
