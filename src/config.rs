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

use std::collections::BTreeMap;

use serde::de::{self, Deserializer, Unexpected};
use serde::Deserialize;
use serde_json::Value;

use crate::czds::Secret;

/// A config problem: exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config `{}`: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config `{}`: not valid JSON: {source}", path.display())]
    Json { path: PathBuf, source: serde_json::Error },
    #[error("config `{}`: the top level must be a JSON object", path.display())]
    NotObject { path: PathBuf },
    /// A key's value of the wrong type or out of range; `source` names the line.
    #[error("config `{}`: `{key}`: {source}", path.display())]
    Type { path: PathBuf, key: String, source: serde_json::Error },
    #[error("config `{}`: `{key}`: {msg}", path.display())]
    Invalid { path: PathBuf, key: String, msg: String },
    #[error("{what} `{}` holds a password or secret but others can read it (mode {mode:o}); run: chmod 600 {}", path.display(), path.display())]
    Exposed { what: &'static str, path: PathBuf, mode: u32 },
    #[error("{what} `{}` holds a password or secret but belongs to another user (uid {owner}, not {user}); its owner may have changed it: run: chown {user} {}", path.display(), path.display())]
    NotOwned { what: &'static str, path: PathBuf, owner: u32, user: u32 },
}

/// Every key zonefeed reads, typed (README, "Config file"). A key's type is checked when the
/// file loads, whatever the command; what a value means (a time, a zone name, a URL) is checked
/// by the command that uses it, which names the key through [`Config::invalid`].
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Keys {
    #[serde(rename = "icann.account.username")]
    pub username: Option<String>,
    #[serde(rename = "icann.account.password")]
    pub password: Option<Secret>,
    #[serde(rename = "authentication.base.url")]
    pub auth_base_url: Option<String>,
    #[serde(rename = "czds.base.url")]
    pub czds_base_url: Option<String>,
    #[serde(rename = "working.directory")]
    pub working_directory: Option<PathBuf>,
    /// A list of zones; a single string is a list of one.
    #[serde(deserialize_with = "one_or_many")]
    pub tlds: Option<Vec<String>>,
    #[serde(rename = "database.path")]
    pub database_path: Option<PathBuf>,
    /// Where imports spill sort runs (`--temp-dir`).
    #[serde(rename = "import.temp_dir")]
    pub import_temp_dir: Option<PathBuf>,
    #[serde(rename = "log.interval_seconds")]
    pub log_interval: Option<Seconds>,
    #[serde(rename = "download.parallel")]
    pub download_parallel: Option<Count>,
    #[serde(rename = "download.retries")]
    pub download_retries: Option<Count>,
    #[serde(rename = "download.retry_delay_seconds")]
    pub download_retry_delay: Option<Seconds>,
    /// Bytes per second below which a download counts as stalled.
    #[serde(rename = "download.low_speed_limit")]
    pub download_low_speed_limit: Option<Count>,
    #[serde(rename = "download.low_speed_time")]
    pub download_low_speed_time: Option<Seconds>,
    #[serde(rename = "download.connect_timeout_seconds")]
    pub download_connect_timeout: Option<Seconds>,
    pub webhooks: Option<Vec<Webhook>>,
    /// E-mail alerts: one message per batch of events (changes::email).
    pub email: Option<Email>,
    /// RabbitMQ (amqp): the broker, the events' topic exchange, the credentials file, the
    /// event kinds sent (all by default), and a worker's prefetch.
    #[serde(rename = "amqp.url")]
    pub amqp_url: Option<String>,
    #[serde(rename = "amqp.exchange")]
    pub amqp_exchange: Option<String>,
    #[serde(rename = "amqp.credentials_file")]
    pub amqp_credentials_file: Option<PathBuf>,
    #[serde(rename = "amqp.events")]
    pub amqp_events: Option<Vec<String>>,
    #[serde(rename = "amqp.prefetch")]
    pub amqp_prefetch: Option<Count>,
    #[serde(rename = "webhooks.retries")]
    pub webhooks_retries: Option<Count>,
    #[serde(rename = "webhooks.retry_delay_seconds")]
    pub webhooks_retry_delay: Option<Seconds>,
    #[serde(rename = "webhooks.timeout_seconds")]
    pub webhooks_timeout: Option<Seconds>,
    #[serde(rename = "serve.max_limit")]
    pub serve_max_limit: Option<Count>,
    #[serde(rename = "serve.max_connections")]
    pub serve_max_connections: Option<Count>,
    #[serde(rename = "serve.header_timeout_seconds")]
    pub serve_header_timeout: Option<Seconds>,
    #[serde(rename = "serve.request_timeout_seconds")]
    pub serve_request_timeout: Option<Seconds>,
    /// `HH:MM`, in `service.timezone`.
    #[serde(rename = "service.download_start_time")]
    pub service_start_time: Option<String>,
    #[serde(rename = "service.download_end_time")]
    pub service_end_time: Option<String>,
    #[serde(rename = "service.timezone")]
    pub service_timezone: Option<String>,
    #[serde(rename = "service.pid_file")]
    pub service_pid_file: Option<PathBuf>,
    #[serde(rename = "service.log_file")]
    pub service_log_file: Option<PathBuf>,
    #[serde(rename = "service.no_records")]
    pub service_no_records: Option<bool>,
    /// Live DNS (`analyze`): questions a second and in flight per server address, the
    /// per-question timeout, root hints, and whether private addresses may be asked.
    #[serde(rename = "dns.qps")]
    pub dns_qps: Option<Count>,
    #[serde(rename = "dns.in_flight")]
    pub dns_in_flight: Option<Count>,
    #[serde(rename = "dns.timeout_seconds")]
    pub dns_timeout: Option<Seconds>,
    #[serde(rename = "dns.root_hints")]
    pub dns_root_hints: Option<PathBuf>,
    #[serde(rename = "dns.allow_private")]
    pub dns_allow_private: Option<bool>,
    /// `sync` and `service` analyse each imported zone's new and changed delegations
    /// (`analyze --tld`) after the imports, before the webhooks; domains analysed at once.
    #[serde(rename = "analyze.after_sync")]
    pub analyze_after_sync: Option<bool>,
    #[serde(rename = "analyze.concurrency")]
    pub analyze_concurrency: Option<Count>,
    /// The Zonalizer API on `serve` (docs/ZONALIZER.md): its configuration section's keys,
    /// switches written 1/0 as Zonalizer's YAML has them (or true/false).
    #[serde(rename = "zonalizer.base_url")]
    pub zonalizer_base_url: Option<Switch>,
    #[serde(rename = "zonalizer.custom_base_url")]
    pub zonalizer_custom_base_url: Option<String>,
    #[serde(rename = "zonalizer.default_limit")]
    pub zonalizer_default_limit: Option<Count>,
    #[serde(rename = "zonalizer.max_limit")]
    pub zonalizer_max_limit: Option<Count>,
    #[serde(rename = "zonalizer.allow_ipv4")]
    pub zonalizer_allow_ipv4: Option<Switch>,
    #[serde(rename = "zonalizer.allow_ipv6")]
    pub zonalizer_allow_ipv6: Option<Switch>,
    #[serde(rename = "zonalizer.test_ipv4")]
    pub zonalizer_test_ipv4: Option<Switch>,
    #[serde(rename = "zonalizer.test_ipv6")]
    pub zonalizer_test_ipv6: Option<Switch>,
    #[serde(rename = "zonalizer.max_ongoing")]
    pub zonalizer_max_ongoing: Option<Count>,
    #[serde(rename = "zonalizer.allow_undelegated")]
    pub zonalizer_allow_undelegated: Option<Switch>,
    #[serde(rename = "zonalizer.force_undelegated")]
    pub zonalizer_force_undelegated: Option<Switch>,
    #[serde(rename = "zonalizer.max_undelegated_ns")]
    pub zonalizer_max_undelegated_ns: Option<Count>,
    #[serde(rename = "zonalizer.max_undelegated_ds")]
    pub zonalizer_max_undelegated_ds: Option<Count>,
    #[serde(rename = "zonalizer.allow_meta_data")]
    pub zonalizer_allow_meta_data: Option<Switch>,
    #[serde(rename = "zonalizer.max_meta_data_entries")]
    pub zonalizer_max_meta_data_entries: Option<Count>,
    #[serde(rename = "zonalizer.max_meta_data_entry_size")]
    pub zonalizer_max_meta_data_entry_size: Option<Count>,
    /// A file holding the bearer token every POST and DELETE must carry (only its owner may
    /// read it); writes per minute per client address.
    #[serde(rename = "zonalizer.token_file")]
    pub zonalizer_token_file: Option<PathBuf>,
    #[serde(rename = "zonalizer.writes_per_minute")]
    pub zonalizer_writes_per_minute: Option<Count>,
    /// `monitor run` and the service's monitor: how often each domain is checked, how many
    /// at once, and whether the service runs the monitor beside its syncs (default: yes).
    #[serde(rename = "monitor.every_seconds")]
    pub monitor_every: Option<Seconds>,
    #[serde(rename = "monitor.concurrency")]
    pub monitor_concurrency: Option<Count>,
    #[serde(rename = "monitor.in_service")]
    pub monitor_in_service: Option<bool>,
    /// Whether monitoring fetches registration data (RDAP; default: yes).
    #[serde(rename = "monitor.rdap")]
    pub monitor_rdap: Option<bool>,
    /// RDAP (monitor::rdap): where `rdap bootstrap --update` fetches from; how often a domain
    /// is fetched, and at most how often a `dns_changed` fetches it again; the expiry window
    /// of `expiring`; each question's timeout; questions a minute per server; the longest
    /// `Retry-After` a pass waits out.
    #[serde(rename = "rdap.bootstrap_url")]
    pub rdap_bootstrap_url: Option<String>,
    #[serde(rename = "rdap.every_seconds")]
    pub rdap_every: Option<Seconds>,
    #[serde(rename = "rdap.min_interval_seconds")]
    pub rdap_min_interval: Option<Seconds>,
    #[serde(rename = "rdap.expiring_days")]
    pub rdap_expiring_days: Option<Count>,
    #[serde(rename = "rdap.timeout_seconds")]
    pub rdap_timeout: Option<Seconds>,
    #[serde(rename = "rdap.per_server_per_minute")]
    pub rdap_per_server_per_minute: Option<Count>,
    #[serde(rename = "rdap.max_wait_seconds")]
    pub rdap_max_wait: Option<Seconds>,
}

/// A switch: `true`/`false`, or `1`/`0` as Zonalizer's configuration writes them.
#[derive(Debug, Clone, Copy)]
pub struct Switch(pub bool);

impl<'de> Deserialize<'de> for Switch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = bool;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("true, false, 1 or 0")
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<bool, E> {
                Ok(b)
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<bool, E> {
                match n {
                    0 | 1 => Ok(n == 1),
                    _ => Err(E::invalid_value(Unexpected::Unsigned(n), &self)),
                }
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<bool, E> {
                match u64::try_from(n) {
                    Ok(u) => self.visit_u64(u),
                    Err(_) => Err(E::invalid_value(Unexpected::Signed(n), &self)),
                }
            }
        }
        d.deserialize_any(V).map(Switch)
    }
}

/// One entry of the `webhooks` list, as written; `changes::webhooks` checks what it means.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    pub url: String,
    /// Event kinds; the zone events when absent.
    #[serde(default)]
    pub events: Option<Vec<String>>,
    #[serde(default)]
    pub tlds: Vec<String>,
    #[serde(default)]
    pub batch_size: Option<usize>,
    #[serde(default)]
    pub secret: Option<Secret>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub allow_private: bool,
}

/// The `email` key, as written; `changes::email` checks what it means.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Email {
    /// Recipients; a single string is a list of one.
    #[serde(deserialize_with = "one_or_many")]
    pub to: Option<Vec<String>>,
    pub from: String,
    /// The SMTP server's host name (or address).
    pub server: String,
    /// 587 for STARTTLS, 465 for TLS, 25 for none, unless given.
    #[serde(default)]
    pub port: Option<u16>,
    /// `starttls` (the default), `tls` (TLS from the first byte), or `none` (a relay on
    /// loopback only).
    #[serde(default)]
    pub tls: Option<String>,
    /// A file of two lines, the user name and the password; only its owner may read it.
    #[serde(default)]
    pub credentials_file: Option<PathBuf>,
    /// PEM certificates to trust beside the usual roots (a private CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Event kinds; monitoring's and watch hits when absent.
    #[serde(default)]
    pub events: Option<Vec<String>>,
    #[serde(default)]
    pub tlds: Vec<String>,
    #[serde(default)]
    pub batch_size: Option<usize>,
}

/// A positive whole number.
#[derive(Debug, Clone, Copy)]
pub struct Count(pub u64);

impl Count {
    /// As a `usize`, the largest one when it is larger.
    pub fn usize(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX)
    }

    /// As a `u32`, the largest one when it is larger.
    pub fn u32(self) -> u32 {
        u32::try_from(self.0).unwrap_or(u32::MAX)
    }
}

/// A positive number of seconds, fractions allowed.
#[derive(Debug, Clone, Copy)]
pub struct Seconds(pub Duration);

/// Takes a positive number; `whole` refuses fractions. A visitor, not a `Value` read first,
/// so that serde_json places an error at the value, not at what follows it.
struct Positive {
    whole: bool,
}

impl de::Visitor<'_> for Positive {
    type Value = f64;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(if self.whole { "a positive whole number" } else { "a positive number" })
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<f64, E> {
        if n == 0 {
            return Err(E::invalid_value(Unexpected::Unsigned(n), &self));
        }
        Ok(n as f64)
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<f64, E> {
        match u64::try_from(n) {
            Ok(u) => self.visit_u64(u),
            Err(_) => Err(E::invalid_value(Unexpected::Signed(n), &self)),
        }
    }

    fn visit_f64<E: de::Error>(self, f: f64) -> Result<f64, E> {
        if self.whole || !(f > 0.0 && f < 1e12) {
            return Err(E::invalid_value(Unexpected::Float(f), &self));
        }
        Ok(f)
    }
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Positive { whole: true }).map(|n| Count(n as u64))
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Positive { whole: false }).map(|f| Seconds(Duration::from_secs_f64(f)))
    }
}

/// A list of strings, or one string for a list of one (ICANN's client writes `tlds` both ways).
fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    struct OneOrMany;
    impl<'de> de::Visitor<'de> for OneOrMany {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a string or a list of strings")
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<Vec<String>, E> {
            Ok(vec![s.to_string()])
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
            let mut v = Vec::new();
            while let Some(s) = seq.next_element::<String>()? {
                v.push(s);
            }
            Ok(v)
        }
    }
    d.deserialize_any(OneOrMany).map(Some)
}

/// The names of [`Keys`]' keys, from its serde derive: a deserializer that only records the
/// field list `deserialize_struct` is given. The typo hint's list, so it cannot drift.
fn known_keys() -> &'static [&'static str] {
    struct Fields<'a>(&'a mut &'static [&'static str]);
    impl<'de> Deserializer<'de> for Fields<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: de::Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("fields recorded"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
    static KEYS: std::sync::OnceLock<&'static [&'static str]> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let mut fields: &'static [&'static str] = &[];
        let _ = Keys::deserialize(Fields(&mut fields));
        fields
    })
}

/// The known key nearest to `key` by edit distance (Levenshtein, `strsim`'s), when it is near
/// enough to be a typo.
fn closest_key(key: &str) -> Option<&'static str> {
    let (best, d) = known_keys().iter().map(|k| (*k, strsim::levenshtein(key, k))).min_by_key(|&(_, d)| d)?;
    (d <= 3.max(key.len() / 4)).then_some(best)
}

/// The config file: where it is and its keys.
#[derive(Debug, Default)]
pub struct Config {
    path: PathBuf,
    pub keys: Keys,
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
        for key in map.keys().filter(|k| !known_keys().contains(&k.as_str())) {
            // Warn, not fail: ICANN's client may gain keys, and one config serves both tools.
            match closest_key(key) {
                Some(near) => log::warn!("config `{}`: unknown key `{key}` is ignored; did you mean `{near}`?", path.display()),
                None => log::warn!("config `{}`: unknown key `{key}` is ignored", path.display()),
            }
        }
        // From the text again, not the map, so that an error names its line.
        let keys: Keys = serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(&text))
            .map_err(|e| ConfigError::Type { path: path.into(), key: e.path().to_string(), source: e.into_inner() })?;
        let webhook_secret = keys.webhooks.iter().flatten().any(|w| w.secret.is_some());
        if keys.password.is_some() || webhook_secret {
            check_private("config", path)?;
        }
        Ok(Config { path: path.into(), keys })
    }

    /// An error about `key`'s value, worded by the command that read it.
    pub fn invalid(&self, key: &str, msg: String) -> ConfigError {
        ConfigError::Invalid { path: self.path.clone(), key: key.into(), msg }
    }

    /// The file the keys came from (empty when there was none).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where an import's sort runs go: `flag`, else `import.temp_dir`, else beside `db`.
    pub fn temp_dir(&self, flag: Option<&Path>, db: &Path) -> PathBuf {
        match flag.or(self.keys.import_temp_dir.as_deref()) {
            Some(d) => d.to_path_buf(),
            None => dir_of(db).to_path_buf(),
        }
    }

    /// ICANN's `working.directory`, `.` when unset.
    pub fn work_dir(&self) -> PathBuf {
        self.keys.working_directory.clone().unwrap_or_else(|| PathBuf::from("."))
    }
}

/// The directory a file such as the database is in: `.` for a bare file name.
pub fn dir_of(path: &Path) -> &Path {
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
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

/// A user name and password, a line each, from a file only its owner can read (`what`, for
/// the messages; `key`, the config key that names it).
pub fn read_credentials(what: &'static str, key: &str, path: &Path) -> Result<(String, Secret), ConfigError> {
    check_private(what, path)?;
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
    let mut lines = text.lines();
    match (lines.next().map(str::trim), lines.next()) {
        (Some(user), Some(password)) if !user.is_empty() && !password.is_empty() => {
            Ok((user.to_string(), Secret::new(password.to_string())))
        }
        _ => Err(ConfigError::Invalid {
            path: path.into(),
            key: key.into(),
            msg: "needs two lines: the user name, then the password".into(),
        }),
    }
}

#[cfg(not(unix))]
pub fn check_private(_: &'static str, _: &Path) -> Result<(), ConfigError> {
    Ok(())
}

/// How often a long step logs its progress when stderr is not a terminal.
pub const DEFAULT_LOG_INTERVAL: Duration = Duration::from_secs(5);
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
            None => cfg.keys.database_path.clone().unwrap_or_else(|| PathBuf::from("zonefeed.db")),
        };
        Ok(Settings {
            db,
            log_interval: cfg.keys.log_interval.map_or(DEFAULT_LOG_INTERVAL, |s| s.0),
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
            None => cfg.keys.username.clone().ok_or(CredentialError::Missing {
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
                None => cfg.keys.password.as_ref().map(|p| p.expose().to_string()).ok_or(CredentialError::Missing {
                    what: "password",
                    flag: "--password-file",
                    env: "CZDS_PASSWORD",
                    key: "icann.account.password",
                })?,
            },
        };
        let k = &cfg.keys;
        let auth_base = env("CZDS_AUTH_URL").or(k.auth_base_url.clone()).unwrap_or_else(|| crate::czds::AUTH_BASE.into());
        let base_url = env("CZDS_BASE_URL").or(k.czds_base_url.clone()).unwrap_or_else(|| crate::czds::BASE_URL.into());
        let mut http = crate::czds::HttpOptions::default();
        if let Some(s) = k.download_connect_timeout {
            http.connect_timeout = s.0;
        }
        if let Some(s) = k.download_low_speed_time {
            http.read_timeout = s.0;
        }
        Ok(CzdsSettings {
            endpoints: crate::czds::Endpoints { auth_base, base_url },
            credentials: crate::czds::Credentials { username, password: crate::czds::Secret::new(password) },
            work_dir: cfg.work_dir(),
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
pub fn download_options(cfg: &Config, dir: PathBuf, force: bool) -> crate::czds::download::Options {
    let k = &cfg.keys;
    crate::czds::download::Options {
        dir,
        force,
        retries: k.download_retries.map_or(5, Count::u32),
        retry_delay: k.download_retry_delay.map_or(Duration::from_secs(2), |s| s.0),
        low_speed_limit: k.download_low_speed_limit.map_or(1024, |n| n.0),
        low_speed_time: k.download_low_speed_time.map_or(Duration::from_secs(60), |s| s.0),
    }
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

    #[test]
    fn the_known_keys_are_the_typed_struct_s_fields() {
        let keys = known_keys();
        assert_eq!(keys.len(), 71, "{keys:?}");
        for k in [
            "icann.account.password",
            "tlds",
            "webhooks",
            "webhooks.retries",
            "service.no_records",
            "analyze.after_sync",
            "analyze.concurrency",
        ] {
            assert!(keys.contains(&k), "{k}");
        }
    }

    #[test]
    fn values_are_typed_when_the_file_loads() {
        let dir = std::env::temp_dir().join(format!("zonefeed-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("c.json");
        std::fs::write(&f, r#"{"tlds": "com", "download.retry_delay_seconds": 0.5, "serve.max_limit": 7}"#).unwrap();
        let k = Config::load(&f, true).unwrap().keys;
        assert_eq!(k.tlds, Some(vec!["com".to_string()]));
        assert_eq!(k.download_retry_delay.map(|s| s.0), Some(Duration::from_millis(500)));
        assert_eq!(k.serve_max_limit.map(|n| n.0), Some(7));
        std::fs::write(&f, r#"{"tlds": [1]}"#).unwrap();
        let e = Config::load(&f, true).unwrap_err().to_string();
        assert!(e.contains("`tlds[0]`: invalid type: integer `1`, expected a string at line 1 column 11"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
