//! Command-line flags and help text (clap derive). No logic lives here.

use std::path::PathBuf;

use clap::builder::TypedValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::changes::Kind;
use crate::query::check::Level;

/// zonefeed: ingest, track and query ICANN CZDS zone files.
#[derive(Debug, Parser)]
#[command(name = "zonefeed", version, about, propagate_version = true)]
#[command(after_help = "Exit codes: 0 ok, 1 failed or not found, 2 usage or config error, 3 authentication failed,\n\
4 rate limited, 5 database busy, 6 partly done (some zones failed).\n\n\
Example:\n  zonefeed --db zones.db import com.zone.gz")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes: under their own heading in every `--help`, apart from the
/// command's own.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// SQLite database [default: zonefeed.db, or `database.path` from the config]
    #[arg(long, global = true, env = "ZONEFEED_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Config file (JSON, a superset of ICANN's czds client config.json)
    #[arg(long, global = true, env = "ZONEFEED_CONFIG", value_name = "PATH", default_value = "config.json")]
    pub config: PathBuf,
    /// The same as --format json: one JSON document on stdout (errors too, as {"error": ...})
    #[arg(long, global = true)]
    pub json: bool,
    /// Output format: text, tsv (commands with a tab form), json (one document; an array for
    /// lists), jsonl (one object a line)
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    pub format: Option<Format>,
    /// No progress and no summary on stderr/stdout (errors still go to stderr)
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Also print each import's phase timings on stderr (`trace: …`, for profiling)
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

impl Global {
    /// The flags settings are resolved from.
    pub fn flags(&self) -> crate::config::Flags<'_> {
        crate::config::Flags { db: self.db.as_deref(), config: &self.config, quiet: self.quiet }
    }
}

impl Command {
    /// `--wait`, for the commands that write.
    pub fn wait(&self) -> Option<u64> {
        match self {
            Command::Import(a) => Some(a.wait.wait),
            Command::Download(a) => Some(a.wait.wait),
            Command::Sync(a) => Some(a.download.wait.wait),
            Command::Watch(a) => Some(a.wait.wait),
            Command::Webhooks(a) => Some(a.wait.wait),
            Command::Service(a) => Some(a.wait.wait),
            Command::Prune(a) => Some(a.wait.wait),
            Command::Monitor(a) => Some(a.wait.wait),
            Command::Rdap(a) => Some(a.wait.wait),
            _ => None,
        }
    }
}

impl Global {
    /// `--json` is `--format json`; text otherwise.
    pub fn output_format(&self) -> Format {
        if self.json {
            Format::Json
        } else {
            self.format.unwrap_or(Format::Text)
        }
    }
}

/// How a command prints its data (README, "Output").
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Tsv,
    Json,
    Jsonl,
}

impl Format {
    pub fn is_json(self) -> bool {
        matches!(self, Format::Json | Format::Jsonl)
    }
}

/// For commands that write the database: how long to wait for another writer.
#[derive(Debug, Clone, Copy, Args)]
pub struct WaitArgs {
    /// Seconds to wait for another zonefeed writing the same database before exiting 5
    #[arg(long, value_name = "SECS", default_value_t = crate::config::DEFAULT_WAIT_SECS)]
    pub wait: u64,
}

/// The import flags `import` and `sync` share.
#[derive(Debug, Clone, Args)]
pub struct ImportFlags {
    /// Keep only zones and domains, not every record: far faster and smaller
    #[arg(long)]
    pub no_records: bool,
    /// Accept up to N malformed records per zone (skipped and counted); more fails the import
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_errors: u64,
    /// Memory for sorting before spilling to disk, e.g. 512M, 2G
    #[arg(long, value_name = "SIZE", default_value = "2G", value_parser = parse_size)]
    pub memory: usize,
    /// Where sort runs go once the records outgrow --memory (default: beside the database,
    /// or the config's `import.temp_dir`); they are compressed, and freed as they are merged
    #[arg(long, value_name = "DIR")]
    pub temp_dir: Option<std::path::PathBuf>,
    /// The percentage (0-100) of a zone's domains a new version may remove before it is
    /// refused as a short or broken file
    #[arg(long, value_name = "PCT", default_value_t = crate::config::DEFAULT_MAX_REMOVED, value_parser = parse_percent)]
    pub max_removed: f64,
    /// Chunk size in bytes (for tests; the default suits real zones)
    #[arg(long, hide = true, value_name = "BYTES")]
    pub chunk_size: Option<usize>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Import(ImportArgs),
    Download(DownloadArgs),
    Sync(SyncArgs),
    Requests(RequestsArgs),
    Changes(ChangesArgs),
    Domain(DomainArgs),
    Search(SearchArgs),
    Ns(NsArgs),
    Stats(StatsArgs),
    Check(CheckArgs),
    Watch(WatchArgs),
    Serve(ServeArgs),
    Webhooks(WebhooksArgs),
    Service(ServiceArgs),
    Prune(PruneArgs),
    Export(ExportArgs),
    Analyze(AnalyzeArgs),
    Monitor(MonitorArgs),
    Rdap(RdapArgs),
    Worker(WorkerArgs),
}

/// Download what changed, import it while it downloads, deliver webhooks: the one command for cron.
///
/// Takes the download flags and the import flags below. A zone that fails (download or
/// import) does not stop the others; the exit code and `--json` say what happened per zone.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  zonefeed sync                       # every zone of the account\n  \
zonefeed --json sync com net org\n  \
15 6 * * *  cd /srv/zonefeed && zonefeed --quiet sync   # cron, daily at 06:15 UTC")]
pub struct SyncArgs {
    #[command(flatten)]
    pub download: DownloadArgs,
    #[command(flatten)]
    pub import: ImportFlags,
    /// Import even a version with an older serial or date, or too many removals
    #[arg(long)]
    pub force_import: bool,
    /// Do not deliver webhooks after importing (events stay queued)
    #[arg(long)]
    pub no_webhooks: bool,
}

/// CZDS access requests: list, show, extend before they expire, request, cancel.
///
/// Credentials as for `download`. TLDs are matched exactly (the portal's own filter matches
/// substrings). `extend` is safe to run daily from cron: it never sends an extension twice.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  zonefeed requests list --status Approved --expiring-within 45\n  \
zonefeed requests extend --dry-run\n  15 7 * * *  zonefeed --quiet requests extend   # daily, from cron\n  \
zonefeed requests new xyz club --reason \"Brand protection research\"\n  zonefeed requests show com")]
pub struct RequestsArgs {
    #[command(subcommand)]
    pub command: RequestsCommand,
    /// CZDS account (an e-mail address)
    #[arg(long, global = true, value_name = "USER")]
    pub username: Option<String>,
    /// A file holding the password (mode 0600)
    #[arg(long, global = true, value_name = "PATH")]
    pub password_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum RequestsCommand {
    /// Requests with their status and expiry
    List {
        /// Only this status
        #[arg(long, value_enum, ignore_case = true)]
        status: Option<RequestStatus>,
        /// Only these TLDs (exact match)
        #[arg(long, value_name = "TLD", num_args = 1.., value_delimiter = ',')]
        tld: Vec<String>,
        /// Only requests expiring within this many days
        #[arg(long, value_name = "DAYS")]
        expiring_within: Option<i64>,
    },
    /// One request's details, by TLD or request id
    Show {
        /// The request: a TLD (its newest request) or a CZDS request id
        #[arg(value_name = "TLD|ID")]
        what: String,
    },
    /// Extend approved requests that expire soon (and are extensible)
    Extend {
        /// Only these TLDs [default: every approved request]
        #[arg(value_name = "TLD")]
        tlds: Vec<String>,
        /// The window, in days before expiry
        #[arg(long, value_name = "DAYS", default_value_t = 30)]
        within: i64,
        /// Show what would be extended; send nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Request access to TLDs (shows the terms version and asks first, unless --yes)
    New {
        /// TLDs to request access to
        #[arg(value_name = "TLD", required_unless_present = "all")]
        tlds: Vec<String>,
        /// Every TLD not approved or pending yet
        #[arg(long, conflicts_with = "tlds")]
        all: bool,
        /// TLDs to leave out of --all
        #[arg(long, value_name = "TLD", value_delimiter = ',')]
        exclude: Vec<String>,
        /// Why you need the data (sent to the registries)
        #[arg(long, required = true)]
        reason: String,
        /// Accept the terms without asking
        #[arg(long)]
        yes: bool,
    },
    /// Cancel a request, by TLD or request id
    Cancel {
        /// The request: a TLD (its newest request) or a CZDS request id
        #[arg(value_name = "TLD|ID")]
        what: String,
    },
    /// Every TLD in CZDS and this account's status for it
    Tlds,
}

/// Run `sync` once a day per zone inside a download window, in the background.
///
/// CZDS publishes between 00:00 and 06:00 UTC; the service works inside
/// `service.download_start_time`-`service.download_end_time` (default 00:15-05:45, in
/// `service.timezone`: UTC or an offset like +02:00). A zone's day is done once a file whose
/// Last-Modified falls on that UTC day is imported; until then it is checked again every 30
/// minutes inside the window. The pid file and log live in the working directory.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  zonefeed service start\n  zonefeed service status\n  zonefeed service run-once   # now, whatever the window\n  \
zonefeed service stop\n  ExecStart=/usr/local/bin/zonefeed service run   # under systemd, in the foreground"
)]
pub struct ServiceArgs {
    #[command(subcommand)]
    pub command: ServiceCommand,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Start the service in the background
    Start,
    /// Stop the background service (it is safe to stop at any point)
    Stop,
    /// Whether it runs, its last runs, the next one
    Status,
    /// One sync of every zone not done today, now, whatever the window
    RunOnce,
    /// Run the service in the foreground (what `start` launches; for systemd)
    Run,
}

/// A domain's current records (from every imported zone), first seen, last changed, history.
///
/// Unicode names are looked up by their A-labels (IDNA). Exit 1 when no imported zone has it.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  zonefeed domain example.com --history\n  zonefeed domain example.com --at 2026-11-02\n  \
zonefeed domain bücher.de --format json\n  zonefeed domain example.com --live --at 2026-12-07T10:30:00Z   # a monitored domain's records then")]
pub struct DomainArgs {
    /// The domain (`example.com`, or Unicode such as `bücher.de`)
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Also every change event of the domain, oldest first, each with what changed
    #[arg(long)]
    pub history: bool,
    /// The domain as it was on this day (YYYY-MM-DD): the version of each zone current then;
    /// with --live, a time (RFC 3339) for its live records
    #[arg(long, value_name = "DATE")]
    pub at: Option<String>,
    /// Its live records only (a monitored domain's, `zonefeed monitor`): the last check, or
    /// the last at or before --at
    #[arg(long)]
    pub live: bool,
}

/// Find domains: `example.com` matches that name; a leading dot (`.example.com`, `.com`)
/// matches the name and everything under it; or --contains WORD, --glob 'pay*pal*'; or pivot
/// on name servers: --ns HOST, --provider DOMAIN, --ip ADDRESS; or --finding TAG: the domains
/// whose latest kept analysis (`analyze --tld`) has a Zonemaster finding with that tag.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  zonefeed search .co.uk --limit 20\n  zonefeed search --contains paypal --tld com\n  \
zonefeed search --glob 'pay*pa1*' --format tsv\n  zonefeed search --ns ns1.example.net --at 2026-11-02\n  \
zonefeed search --provider cloudflare.com --limit 0 | wc -l\n  zonefeed search --ip 192.0.2.53\n  \
zonefeed search --finding NS_FAILED --tld xyz --format tsv   # lame delegations now")]
pub struct SearchArgs {
    /// A name, or a leading-dot suffix
    #[arg(value_name = "QUERY", required_unless_present_any = ["contains", "glob", "ns", "provider", "ip", "finding"])]
    pub query: Option<String>,
    /// Domains whose latest kept analysis has a finding with this tag (NS_FAILED, ...)
    #[arg(long, value_name = "TAG", conflicts_with_all = ["query", "contains", "glob", "ns", "provider", "ip", "at"])]
    pub finding: Option<String>,
    /// Domains delegated to this name server
    #[arg(long, value_name = "HOST", conflicts_with_all = ["query", "contains", "glob", "provider", "ip"])]
    pub ns: Option<String>,
    /// Domains delegated to any name server under this registrable domain
    #[arg(long, value_name = "DOMAIN", conflicts_with_all = ["query", "contains", "glob", "ip"])]
    pub provider: Option<String>,
    /// Domains whose name servers have this address in the glue of any imported zone
    #[arg(long, value_name = "ADDRESS", conflicts_with_all = ["query", "contains", "glob"])]
    pub ip: Option<String>,
    /// Search the versions current on this day (YYYY-MM-DD)
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub at: Option<String>,
    /// Names containing this word
    #[arg(long, value_name = "WORD", conflicts_with_all = ["query", "glob"])]
    pub contains: Option<String>,
    /// Names matching this shell glob (`*`, `?`, `[...]`)
    #[arg(long, value_name = "PATTERN", conflicts_with = "query")]
    pub glob: Option<String>,
    /// Only this zone
    #[arg(long, value_name = "TLD")]
    pub tld: Option<String>,
    /// At most N names (0: all); when there are more, stderr says how many
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub limit: usize,
}

/// A name server's page: domains it serves now, first and last seen, the domains it gained and
/// lost lately, the addresses glue gives it (DZDB's nameserver page).
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  zonefeed ns ns1.example.net\n  zonefeed ns a.ns.cloudflare.com --days 7 --json")]
pub struct NsArgs {
    /// The name server's host name
    #[arg(value_name = "HOST")]
    pub host: String,
    /// How far back "added" and "removed" look, in days, counted back from the newest zone
    /// date imported (not from today, so a backfilled history reads the same on any day)
    #[arg(long, value_name = "N", default_value_t = 30, value_parser = clap::value_parser!(i64).range(0..=36500))]
    pub days: i64,
}

/// Zone statistics: records per type, domains, DNSSEC share, top name servers and providers,
/// bailiwick, changes per version.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  zonefeed stats com\n  zonefeed stats --format json")]
pub struct StatsArgs {
    /// One zone [default: every imported zone]
    #[arg(value_name = "TLD")]
    pub tld: Option<String>,
    /// How many name servers and providers to list
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,
}

/// Findings from the zone data alone, each with a level, a stable code, the domain and a message.
///
/// Codes: single_ns (warning), missing_glue (error: an NS host inside the delegated domain
/// without A/AAAA), orphan_glue (notice), ds_sha1_only (notice), ds_unknown_alg (error),
/// ds_digest_length (error), bad_ns_hostname (error), ttl_outlier (notice: outside
/// 300-604800 s). Needs a zone imported with its records.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  zonefeed check com --level warning\n  zonefeed check --format json | jq '.[].summary'\n  \
zonefeed check com --fail-on error   # exit 1 when there are errors")]
pub struct CheckArgs {
    /// One zone [default: every imported zone]
    #[arg(value_name = "TLD")]
    pub tld: Option<String>,
    /// The lowest level shown
    #[arg(long, value_enum, default_value = "notice")]
    pub level: Level,
    /// Exit 1 when there is a finding at this level or above (for pipelines)
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub fail_on: Option<Level>,
}

/// Analyse delegations live, as Zonemaster does: its test cases, tags and levels.
///
/// Asks the domains' name servers (found from the root hints, or given with --ns) and prints
/// each finding: test case, level, tag and arguments. Runs BASIC, CONNECTIVITY01-02,
/// CONSISTENCY01-06, DELEGATION01-02/04-07, DNSSEC01-03/05/07-09/11, NAMESERVER01-03/05 and
/// ZONE01-10. Domains run
/// at once, within a limit per server address (--qps, --in-flight). Private, loopback and
/// reserved addresses are not asked unless --allow-private; the report names each one skipped.
///
/// With --tld the results are kept in the database: each domain's analysis, its findings over
/// time (`domain NAME`, `search --finding TAG`), and a delegation_broken or delegation_fixed
/// event when its worst level crosses ERROR. A run that is stopped is finished by the next
/// `analyze --tld` of that zone. --test and --no-store analyse without keeping.
/// Config keys: dns.qps, dns.in_flight, dns.timeout_seconds, dns.root_hints, dns.allow_private.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  zonefeed analyze example.com\n  zonefeed analyze example.com --level warning --fail-on error\n  \
zonefeed analyze example.com --test CONSISTENCY --test ZONE/ZONE01\n  \
zonefeed analyze --tld xyz                  # the delegations today's import added or changed\n  \
zonefeed analyze --tld xyz --changed-since 7d --fail-on error\n  \
zonefeed analyze --tld xyz --all --limit 1000 --format jsonl   # kept: see `zonefeed changes --kind delegation_broken`\n  \
zonefeed analyze example.com --ns ns1.newprovider.net --ns ns2.newprovider.net/192.0.2.53   # before a move\n  \
zonefeed --format jsonl analyze $(cat domains.txt) --trace")]
pub struct AnalyzeArgs {
    /// Domains to analyse
    #[arg(value_name = "DOMAIN", required_unless_present = "tld")]
    pub domains: Vec<String>,
    /// The delegations of an imported zone instead: those its newest version added or
    /// modified, unless --changed-since or --all
    #[arg(long, value_name = "TLD", conflicts_with = "domains")]
    pub tld: Option<String>,
    /// With --tld: those added or modified since a date, an RFC 3339 time or an age (7d)
    #[arg(long, value_name = "SINCE", requires = "tld", conflicts_with = "all")]
    pub changed_since: Option<String>,
    /// With --tld: every current delegation
    #[arg(long, requires = "tld")]
    pub all: bool,
    /// With --tld: at most this many delegations (in name order)
    #[arg(long, value_name = "N", requires = "tld")]
    pub limit: Option<usize>,
    /// Analyse without keeping the results in the database (with --tld)
    #[arg(long, requires = "tld")]
    pub no_store: bool,
    /// With --tld: publish one task per domain to RabbitMQ at URL for `zonefeed worker`s to
    /// run, and keep their results (credentials: amqp.credentials_file)
    #[arg(long, value_name = "URL", requires = "tld", conflicts_with_all = ["no_store", "tests"])]
    pub via: Option<String>,
    /// The lowest level shown
    #[arg(long, value_enum, ignore_case = true, default_value = "notice")]
    pub level: crate::analyze::Level,
    /// Exit 1 when a finding is at this level or above
    #[arg(long, value_enum, ignore_case = true, value_name = "LEVEL")]
    pub fail_on: Option<crate::analyze::Level>,
    /// Run only this module or test case (MODULE or MODULE/CASE; repeat for more)
    #[arg(long = "test", value_name = "MODULE[/CASE]")]
    pub tests: Vec<String>,
    /// An undelegated test: these name servers instead of the parent's (NAME or NAME/IP;
    /// repeat for more)
    #[arg(long = "ns", value_name = "NAME[/IP]", conflicts_with = "tld")]
    pub ns: Vec<String>,
    /// With --ns: a DS record instead of the parent's (keytag,algorithm,type,digest in hex;
    /// repeat for more)
    #[arg(long = "ds", value_name = "KEYTAG,ALG,TYPE,DIGEST", requires = "ns")]
    pub ds: Vec<String>,
    /// Ask IPv4 servers (the default; --no-ipv4 leaves them out)
    #[arg(long, overrides_with = "no_ipv4")]
    pub ipv4: bool,
    #[arg(long, overrides_with = "ipv4", hide = true)]
    pub no_ipv4: bool,
    /// Ask IPv6 servers (the default; --no-ipv6 leaves them out)
    #[arg(long, overrides_with = "no_ipv6")]
    pub ipv6: bool,
    #[arg(long, overrides_with = "ipv6", hide = true)]
    pub no_ipv6: bool,
    /// Print each domain's questions, servers, answers and times (on stderr in text)
    #[arg(long)]
    pub trace: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Domains analysed at once [default: 256, or analyze.concurrency]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=65536).map(|n| n as usize))]
    pub concurrency: Option<usize>,
}

/// The live-DNS engine's flags, `analyze`'s and `serve`'s (its Zonalizer API).
#[derive(Debug, Args)]
pub struct EngineArgs {
    /// Root hints file (a master file of root NS and their addresses) [default: IANA's]
    #[arg(long, value_name = "FILE")]
    pub root_hints: Option<PathBuf>,
    /// Also ask private, loopback and other reserved addresses (labs, internal zones)
    #[arg(long)]
    pub allow_private: bool,
    /// Questions a second to one server address [default: 10, or dns.qps]
    #[arg(long, value_name = "N")]
    pub qps: Option<u32>,
    /// Questions in flight to one server address [default: 4, or dns.in_flight]
    #[arg(long, value_name = "N")]
    pub in_flight: Option<usize>,
    /// Seconds to wait for one answer [default: 2, or dns.timeout_seconds]
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
}

/// The web page (`/`) and a read-only JSON API (`/v1`) over the database, safe to run while
/// imports write.
///
/// Binds loopback by default: put a reverse proxy (TLS, authentication, rate limits) in front
/// to expose it. `serve.max_limit` in the config caps `limit` (default 1000).
///
/// The Zonalizer API v1 is under /zonalizer/1/ (docs/ZONALIZER.md): its analyses are readable
/// on any serve; posting and deleting them needs --allow-analysis, and a bearer token
/// (zonalizer.token_file) when listening beyond loopback.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  zonefeed serve\n  zonefeed --db /srv/zones.db serve --listen 127.0.0.1:9000\n  \
curl 'http://127.0.0.1:8080/v1/changes?tld=com&kind=added&since=2026-11-23&limit=500'\n  \
zonefeed serve --allow-analysis   # then: curl -X POST 'http://127.0.0.1:8080/zonalizer/1/analysis?fqdn=example.com'")]
pub struct ServeArgs {
    /// Address and port to listen on (port 0 picks a free one)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Threads answering requests (each with its own read-only connection)
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: u16,
    /// Open connections at most; more wait in the kernel's backlog [default: `serve.max_connections`, else 4096]
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
    /// Serve the Zonalizer API's writes: POST and DELETE of analyses, run by the engine
    #[arg(long)]
    pub allow_analysis: bool,
    /// Serve /v1/monitor/domains's writes: POST and DELETE of monitored domains
    #[arg(long)]
    pub allow_monitor: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// Monitor chosen domains' live records: their servers asked every few minutes, every change
/// kept, each a dns_changed event (NXDOMAIN at the parent is dns_gone); and their
/// registration through RDAP, once a day and after a dns_changed (registrar_changed,
/// status_changed, expiring).
///
/// Each check asks the domain's authoritative servers for the apex's A, AAAA, MX, TXT, NS,
/// SOA, CAA and DNSKEY and for www A/AAAA. `domain NAME --live` shows what they found.
/// Engine flags and config keys as `analyze` (dns.*); RDAP's keys are rdap.*.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  zonefeed monitor add paypa1-login.xyz example.com\n  zonefeed monitor add --from brands.txt\n  zonefeed monitor list\n  \
zonefeed monitor run --once\n  zonefeed monitor run --every 10m   # until stopped\n  \
zonefeed changes --kind dns_changed --format jsonl"
)]
pub struct MonitorArgs {
    #[command(subcommand)]
    pub command: MonitorCommand,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Subcommand)]
pub enum MonitorCommand {
    /// Monitor domains
    Add {
        /// Domains to monitor (`example.com`)
        #[arg(value_name = "DOMAIN", required_unless_present = "from")]
        domains: Vec<String>,
        /// Also the domains in FILE, one a line (`-`: standard input; `#` starts a comment)
        #[arg(long, value_name = "FILE")]
        from: Option<std::path::PathBuf>,
    },
    /// Stop monitoring a domain (its history stays)
    Remove {
        /// A monitored domain
        #[arg(value_name = "DOMAIN")]
        domain: String,
    },
    /// The monitored domains, with their last check and last change
    List,
    /// Check the domains that are due, then again every --every until stopped
    Run {
        /// How often each domain is checked: 10m, 1h, 90s [default: 10m, or monitor.every_seconds]
        #[arg(long, value_name = "INTERVAL")]
        every: Option<String>,
        /// Check every monitored domain once and exit
        #[arg(long)]
        once: bool,
        /// Domains checked at once [default: 256, or monitor.concurrency]
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=65536).map(|n| n as usize))]
        concurrency: Option<usize>,
        /// Only the live checks (dns) or only the registration fetches (rdap) [default: both;
        /// monitor.rdap false: dns]
        #[arg(long, value_name = "WHAT")]
        only: Option<MonitorPart>,
        /// Publish the live checks to RabbitMQ at URL for `zonefeed worker`s to run, and keep
        /// their results (credentials: amqp.credentials_file)
        #[arg(long, value_name = "URL")]
        via: Option<String>,
        #[command(flatten)]
        engine: EngineArgs,
    },
}

/// Run the analyses `analyze --tld T --via URL` publishes to RabbitMQ, on this machine.
///
/// Takes tasks from the broker's work queue (at most --prefetch at once), runs each with the
/// live-DNS engine, publishes its result, and acknowledges the task only once the broker
/// confirmed the result: a worker killed mid-task has its tasks run by another. Workers
/// share each DNS server's limit (--qps): each paces a server at the limit divided by the
/// number of workers. A task it cannot read is logged and dead-lettered. Runs until stopped.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  zonefeed worker amqp://broker.example.net/zonefeed\n  \
zonefeed analyze --tld com --all --via amqp://broker.example.net/zonefeed   # on the coordinator")]
pub struct WorkerArgs {
    /// The broker (amqp://HOST[:PORT][/VHOST]; credentials: amqp.credentials_file)
    #[arg(value_name = "URL")]
    pub url: String,
    /// Tasks run at once [default: 64, or amqp.prefetch]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub prefetch: Option<u16>,
    /// Stop after this many tasks
    #[arg(long, value_name = "N")]
    pub max_tasks: Option<u64>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// A part of the monitor's work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MonitorPart {
    Dns,
    Rdap,
}

/// RDAP: IANA's bootstrap (which registry's server answers for which TLD) and a lookup.
///
/// `monitor run` fetches the registration of monitored domains through RDAP; the bootstrap
/// bundled with zonefeed serves until `rdap bootstrap --update` fetches IANA's current one.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  zonefeed rdap bootstrap              # which copy is used, its date\n  \
zonefeed rdap bootstrap --update     # fetch IANA's current one\n  zonefeed rdap lookup example.com     # ask the registry now (nothing kept)")]
pub struct RdapArgs {
    #[command(subcommand)]
    pub command: RdapCommand,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Subcommand)]
pub enum RdapCommand {
    /// The bootstrap in use; with --update, fetch IANA's current one into the database
    Bootstrap {
        /// Fetch the bootstrap and keep it
        #[arg(long)]
        update: bool,
        /// Where from [default: rdap.bootstrap_url, or https://data.iana.org/rdap/dns.json]
        #[arg(long, value_name = "URL", requires = "update")]
        url: Option<String>,
    },
    /// Ask the registry's RDAP server for a domain's registration now (nothing is kept)
    Lookup {
        /// A registered domain (`example.com`)
        #[arg(value_name = "DOMAIN")]
        domain: String,
    },
}

/// Watchlists: exact domains (their delegation changes or they go) and brand terms (new
/// domains that contain the term or look like it).
///
/// Matches are found at import time and become `watch` events (with `term` and `rule`) that
/// webhook endpoints can subscribe to (`"events": ["watch"]`). Look-alike rules: punycode,
/// extra_tld, contains, hyphen, edit_distance, homoglyph (the README lists the tables).
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  zonefeed watch add example.com\n  zonefeed watch add --term paypal --term microsoft\n  \
zonefeed watch hits --since 2026-11-23 --format jsonl")]
pub struct WatchArgs {
    #[command(subcommand)]
    pub command: WatchCommand,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Subcommand)]
pub enum WatchCommand {
    /// Watch domains, or brand terms with --term
    Add {
        /// Domains to watch (`example.com`)
        #[arg(value_name = "DOMAIN")]
        domains: Vec<String>,
        /// A brand term (letters, digits, hyphens)
        #[arg(long = "term", value_name = "TERM")]
        terms: Vec<String>,
        /// Monitor each new domain the terms match for this many days (14d) from when an
        /// import finds it: its live records, and `armed` at its first address or mail server
        #[arg(long, value_name = "DAYS", requires = "terms")]
        monitor: Option<String>,
    },
    /// What is watched
    List,
    /// Stop watching a domain or term
    Remove {
        /// A watched domain or term
        #[arg(value_name = "DOMAIN|TERM")]
        value: String,
    },
    /// Matches found by imports
    Hits {
        /// Hits recorded at or after this date or time (2026-11-23, RFC 3339), or an age (7d,
        /// 24h) counted back from the end of the newest zone date imported
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
    },
}

/// Deliver change events to the webhook endpoints of the config's `webhooks` list.
///
/// Imports queue events in a durable outbox; `deliver` sends them in signed batches
/// (Standard Webhooks) until each endpoint has them, retrying with backoff. What a run cannot
/// deliver waits for the next run.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  zonefeed webhooks deliver\n  zonefeed --json webhooks status\n  \
zonefeed webhooks test https://hooks.example.com/zonefeed\n\n\
Config:\n  \"webhooks\": [{\"url\": \"https://hooks.example.com/zonefeed\", \"events\": [\"added\"], \"tlds\": [\"com\"],\n  \
\"batch_size\": 500, \"secret\": \"whsec_...\", \"headers\": {\"X-Team\": \"brand\"}}]")]
pub struct WebhooksArgs {
    #[command(subcommand)]
    pub command: WebhooksCommand,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Per endpoint: events waiting, batches delivered, the last error, whether disabled
    Status,
    /// Send what is waiting, oldest first
    Deliver,
    /// Send one signed sample batch (no events) to an endpoint, or to every endpoint
    Test {
        /// One endpoint's URL, as in the config
        url: Option<String>,
    },
    /// Re-enable an endpoint that answered 410 Gone
    Enable {
        /// The endpoint's URL, as in the config
        url: String,
    },
}

/// Drop history older than N days: events, the rows versions replaced, delivered webhook
/// batches, replaced versions, removed domains, download records.
///
/// Never the current version of a zone, and never an event still waiting for a webhook. On a
/// terminal it shows what it would remove and asks first (--yes does not ask); --keep-days 0
/// drops all history and always needs --yes.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  zonefeed prune --keep-days 90 --dry-run\n  \
15 7 * * *  zonefeed --quiet prune --keep-days 90   # daily, from cron")]
pub struct PruneArgs {
    /// Days of history to keep (at most 36500: a century)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=36500))]
    pub keep_days: u32,
    /// Print what would be removed; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
}

/// Write the history as a Parquet dataset that Spark, Trino, DuckDB and ClickHouse read.
///
/// One Hive partition per table, zone and zone date (DIR/domains/tld=com/date=2026-11-01/
/// part-0.parquet); the root zone's partitions are tld=root. Incremental: a manifest in DIR
/// (zonefeed-export.json) records what is there, and a run writes only the versions not
/// exported before, so running it again writes nothing. Files appear whole or not at all (an
/// interrupted run is finished by the next). Tables: domains (name, first_seen, last_changed,
/// ns, ds_count, signed), records (zones imported with records), changes (each day's events
/// with their diff and moved providers).
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  zonefeed export --to /data/zones\n  \
zonefeed export --to /data/zones --tld com --since 2026-11-01 --tables domains,changes\n  \
duckdb -c \"SELECT date, count(*) FROM read_parquet('/data/zones/domains/**/*.parquet', hive_partitioning = true) GROUP BY date\"")]
pub struct ExportArgs {
    /// The dataset's directory (created if missing; it must be empty or an export already)
    #[arg(long, value_name = "DIR")]
    pub to: PathBuf,
    /// Only these zones (repeat the flag, or separate with commas)
    #[arg(long, value_name = "TLD", value_delimiter = ',')]
    pub tld: Vec<String>,
    /// Only versions whose zone date is this day or later (YYYY-MM-DD)
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub since: Option<String>,
    /// The tables to write
    #[arg(long, value_name = "TABLES", value_delimiter = ',', default_value = "domains,records,changes")]
    pub tables: Vec<crate::export::ExportTable>,
}

/// Download zone files from CZDS: unchanged ones are skipped, cut transfers resumed.
///
/// Credentials: --username / --password-file, else CZDS_USERNAME / CZDS_PASSWORD, else the
/// config file (ICANN's `icann.account.username` / `icann.account.password`). The login token
/// is cached (mode 0600) in the working directory and reused until shortly before it expires.
/// Files are written as DIR/<tld>.zone.gz and recorded in the database's `downloads` table.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  zonefeed download com net org\n  \
zonefeed --json download --exclude com --dir /srv/zones --parallel 8\n  \
CZDS_USERNAME=me@example.com zonefeed download --password-file ~/.czds-password xyz")]
pub struct DownloadArgs {
    /// Zones to download [default: `tlds` from the config, else every zone the account may download]
    #[arg(value_name = "TLD")]
    pub tlds: Vec<String>,
    /// Zones to leave out (repeat, or separate with commas)
    #[arg(long, value_name = "TLD", value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// Where zone files go [default: `working.directory`/zonefiles, else ./zonefiles]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Downloads at once [default: `download.parallel`, else 4]
    #[arg(long, value_name = "N")]
    pub parallel: Option<usize>,
    /// Download even zones whose local file is complete and current
    #[arg(long)]
    pub force: bool,
    /// CZDS account (an e-mail address)
    #[arg(long, value_name = "USER")]
    pub username: Option<String>,
    /// A file holding the password (mode 0600); there is no password flag, argv is public
    #[arg(long, value_name = "PATH")]
    pub password_file: Option<PathBuf>,
    #[command(flatten)]
    pub wait: WaitArgs,
}

/// Domains added, removed and modified between imported versions (the newly-registered feed).
///
/// Without --since or --zone-version: every recorded change, oldest version first, by name then
/// kind within a version. The first import of a zone is its baseline and records none.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  zonefeed changes --tld com --kind added --since 2026-11-23\n  \
zonefeed changes --zone-version 42 --format tsv > com.diff\n  zonefeed changes --format jsonl | jq .domain")]
pub struct ChangesArgs {
    /// Only this zone
    #[arg(long, value_name = "TLD")]
    pub tld: Option<String>,
    /// Only this kind
    #[arg(long, value_enum)]
    pub kind: Option<Kind>,
    /// Changes recorded at or after this date or time: 2026-11-23, 2026-11-23T06:00:00Z (RFC
    /// 3339), or an age (7d, 24h) counted back from the end of the newest zone date imported
    #[arg(long, value_name = "DATE", conflicts_with = "zone_version")]
    pub since: Option<String>,
    /// Changes recorded by this zone version (a zones.id)
    #[arg(long, value_name = "ID")]
    pub zone_version: Option<i64>,
    /// Only domains whose name-server providers changed (tsv: `domain<TAB>from<TAB>to`)
    #[arg(long, conflicts_with = "kind")]
    pub moved: bool,
}

/// Import zone files (plain or gzip, CZDS form or any RFC 1035 master file) into SQLite.
///
/// Each FILE becomes a new version of its zone; the previous version stays current until the
/// new one is complete. A file identical (SHA-256) to the current version is skipped.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  zonefeed import com.zone.gz\n  zonefeed --db zones.db import --no-records net.txt.gz org.zone.gz\n  \
zcat root.zone.gz | zonefeed import --tld . -\n  zonefeed --json import --max-errors 100 xyz.zone")]
pub struct ImportArgs {
    /// Zone files; `-` reads stdin
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,
    /// The zone's origin (`com`, `.`, `in-addr.arpa`) [default: the SOA owner, else the first
    /// $ORIGIN, else the CZDS file name]
    #[arg(long, value_name = "TLD")]
    pub tld: Option<String>,
    #[command(flatten)]
    pub flags: ImportFlags,
    /// Follow `$INCLUDE` (files inside the zone file's directory, 8 levels deep at most); the
    /// file is then parsed in one piece
    #[arg(long)]
    pub allow_include: bool,
    /// Import even a version with an older SOA serial or date, or one that removes more than
    /// --max-removed of the zone's domains
    #[arg(long)]
    pub force: bool,
    /// The day the file's data is for (YYYY-MM-DD): dates first seen, changes and events
    /// [default: the Last-Modified download or sync recorded for the file, else its mtime]
    #[arg(long, value_name = "DATE", value_parser = parse_zone_date)]
    pub date: Option<String>,
    /// Parser threads [default: all cores]
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub wait: WaitArgs,
}

/// `512M`, `2G`, `1048576`.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: usize = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                _ => return Err(format!("unknown size unit in `{s}` (use K, M or G)")),
            };
            (&s[..i], m)
        }
        _ => (s, 1),
    };
    let n: usize = num.trim().parse().map_err(|_| format!("`{s}` is not a size like 512M or 2G"))?;
    n.checked_mul(mult).filter(|&v| v >= 1 << 20).ok_or_else(|| format!("`{s}` must be at least 1M"))
}

/// `--at DATE`: a day that exists (an RFC 3339 time stands for its UTC day).
pub fn parse_date(s: &str) -> Result<String, String> {
    crate::time::parse_day(s).map_err(|e| e.to_string())
}

/// `import --date DATE`: as [`parse_date`], and not in the future.
pub fn parse_zone_date(s: &str) -> Result<String, String> {
    crate::time::parse_zone_date(s).map_err(|e| e.to_string())
}

/// A percentage, 0 to 100.
pub fn parse_percent(s: &str) -> Result<f64, String> {
    match s.trim().trim_end_matches('%').parse::<f64>() {
        Ok(v) if (0.0..=100.0).contains(&v) => Ok(v),
        Ok(_) => Err(format!("`{s}` is not a percentage from 0 to 100")),
        Err(_) => Err(format!("`{s}` is not a number")),
    }
}

/// The request statuses CZDS knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RequestStatus {
    Submitted,
    Pending,
    Approved,
    Denied,
    Revoked,
    Expired,
    Canceled,
}

impl RequestStatus {
    /// As the CZDS API spells it.
    pub fn api_name(self) -> &'static str {
        match self {
            RequestStatus::Submitted => "Submitted",
            RequestStatus::Pending => "Pending",
            RequestStatus::Approved => "Approved",
            RequestStatus::Denied => "Denied",
            RequestStatus::Revoked => "Revoked",
            RequestStatus::Expired => "Expired",
            RequestStatus::Canceled => "Canceled",
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_memory_flag_default_is_the_importers() {
        assert_eq!(super::parse_size("2G"), Ok(crate::config::DEFAULT_MEMORY));
    }
}
