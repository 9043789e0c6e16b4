//! The schema: every table, index and view zonefeed keeps, as the `CREATE` statements
//! [`super::open_rw`] runs (`IF NOT EXISTS`, so a database of this schema is left as it is; an
//! older one then climbs the ladder in `migrate`).

/// Every zone's rows, each with the version that wrote it (`since`) and the version that
/// replaced it (`until`, NULL while it is current). An import writes only the rows that differ
/// from the current version, as `since` = its own id, and marks the rows they replace with
/// `until` = its id, in batched transactions; readers see a zone's current version `C` through
/// [`super::visible`] (`since <= C AND (until IS NULL OR until > C)`), so neither half shows until
/// the switch moves `C`, in one tiny transaction. The replaced rows stay as history (read any
/// version `V` the same way); `pending` (the names a version touched) lets an interrupted
/// import be rolled back.
///
/// `ns_base`, `ns_bases`, `ns_links` and `glue_links` are the reverse-lookup index, kept by
/// imports with records (see [`super::links`]). A zone's index starts from a base version
/// (`ns_bases`): its (name server, domain) pairs in host order, cut into rows (`ns_base`, a
/// JSON array of hosts and their domains, zstd-compressed since schema 19 and read as
/// `zf_pairs(pairs)`, keyed by its first pair; `n`, since schema 21, is the row's number of
/// pairs when they are all its key host's, NULL when it holds several hosts' and so must be
/// read to be counted). A pair gained later is an `ns_links` row
/// (`since`, `until`); a pair
/// of the base lost later is an `ns_links` row whose `since` is the base version and `until`
/// the version that lost it. `glue_links` is a row per (address, host) an A or AAAA record
/// gives. Pairs change only when the pair does (a TTL change leaves them be). Hosts are
/// stored with their labels reversed (`rhost`, `com.cloudflare.ns1`, see
/// [`crate::zone::name::reversed`]): a provider's hosts are one range of the key.
///
/// `rrsets` holds a record set in one row, its rdata a JSON array in key order: a version
/// that changes any record of a group (a domain, with the glue below it) replaces all of the
/// group's RRsets, so a row per RRset carries what a row per record did. That is 1.3 rows
/// per domain of the bench zone instead of 2.7, and a first import with records spent most
/// of its writer's time on those rows (a row per group, all RRsets in one JSON value, wrote
/// fewer rows but made `stats` 2.5x slower: SQLite parsed JSON for every field). The
/// `records` view gives them back one row per record, as the table of that name did before
/// schema 13.
///
/// `domain_rows` holds the domains' rows with their dates as Unix seconds (`first_seen_ts`...:
/// 4 bytes where RFC 3339 text took 21, 35 of 92 MiB at 1M domains) since schema 20; the view
/// `domains` gives them with the dates as text, as the table of that name held them, so every
/// query and person reads `domains` as before. Writes name `domain_rows`. (Generated virtual
/// columns read the same, but SQLite computes them on every insert: 1M rows took 3.6-3.9 s
/// against 2.7 s.)
///
/// Since schema 19 each name is stored once where the text repeats it: `owner` is relative to
/// `domain` (`''` for the domain itself, `ns1` for `ns1.example.com` below `example.com`; whole
/// in the root zone, whose domain is `.`), and an NS record's target is, in the rdata array,
/// either such a relative name (a string: the host is at or below the domain, as in-bailiwick
/// hosts are) or the id of the host in `hosts` (a number: a host of another domain, which
/// thousands of domains share). [`super::below`] makes both; the `records` view puts the names
/// back together. At 1M domains of the bench zone that took `rrsets` from 130.7 MiB to 69.1
/// (docs/STORAGE.md, Size).
pub(super) const CORE: &str = r#"
CREATE TABLE IF NOT EXISTS rrsets (
    tld    TEXT NOT NULL,
    domain TEXT NOT NULL,
    owner  TEXT NOT NULL,
    type   TEXT NOT NULL,
    ttl    INTEGER NOT NULL,
    rdata  TEXT NOT NULL,
    since  INTEGER NOT NULL,
    until  INTEGER,
    PRIMARY KEY (tld, domain, owner, type, since)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hosts (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS domain_rows (
    tld             TEXT NOT NULL,
    name            TEXT NOT NULL,
    hash            BLOB NOT NULL,
    sig             BLOB,
    first_seen_ts   INTEGER NOT NULL,
    last_seen_ts    INTEGER,
    last_changed_ts INTEGER NOT NULL,
    removed_ts      INTEGER,
    since           INTEGER NOT NULL,
    until           INTEGER,
    PRIMARY KEY (tld, name, since)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS record_groups (
    tld   TEXT NOT NULL,
    name  TEXT NOT NULL,
    hash  BLOB NOT NULL,
    sig   BLOB,
    since INTEGER NOT NULL,
    until INTEGER,
    PRIMARY KEY (tld, name, since)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ns_base (
    tld   TEXT NOT NULL,
    rhost TEXT NOT NULL,
    first TEXT NOT NULL,
    pairs TEXT NOT NULL,
    since INTEGER NOT NULL,
    n     INTEGER,
    PRIMARY KEY (tld, rhost, first)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ns_bases (
    tld     TEXT PRIMARY KEY,
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ns_links (
    rhost  TEXT NOT NULL,
    tld    TEXT NOT NULL,
    domain TEXT NOT NULL,
    since  INTEGER NOT NULL,
    until  INTEGER,
    PRIMARY KEY (rhost, tld, domain, since)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS glue_links (
    addr  TEXT NOT NULL,
    rhost TEXT NOT NULL,
    tld   TEXT NOT NULL,
    since INTEGER NOT NULL,
    until INTEGER,
    PRIMARY KEY (addr, rhost, tld, since)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending (
    zone INTEGER NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (zone, name)
) WITHOUT ROWID;
"#;

/// The `records` table of schemas 7 to 12, a row per record: what the migrations before
/// schema 13 read and write.
pub(super) const RECORDS_V12: &str = r#"
CREATE TABLE IF NOT EXISTS records (
    tld    TEXT NOT NULL,
    domain TEXT NOT NULL,
    owner  TEXT NOT NULL,
    type   TEXT NOT NULL,
    ttl    INTEGER NOT NULL,
    rdata  TEXT NOT NULL,
    since  INTEGER NOT NULL,
    until  INTEGER,
    PRIMARY KEY (tld, domain, owner, type, rdata, since)
) WITHOUT ROWID;
"#;

/// The `domains` table of schemas 7 to 19, dates as text: what the migrations before schema
/// 20 write.
pub(super) const DOMAINS_V19: &str = r#"
CREATE TABLE IF NOT EXISTS domains (
    tld          TEXT NOT NULL,
    name         TEXT NOT NULL,
    hash         BLOB NOT NULL,
    sig          BLOB,
    first_seen   TEXT NOT NULL,
    last_seen    TEXT,
    last_changed TEXT NOT NULL,
    removed_at   TEXT,
    since        INTEGER NOT NULL,
    until        INTEGER,
    PRIMARY KEY (tld, name, since)
) WITHOUT ROWID;
"#;

/// Each version's comparison state, packed in name order (see [`super::state`]): the next import
/// merges with these blocks instead of reading every current row. `zones.state_blocks` says
/// how many a version has (NULL: none, compare with the rows).
pub(crate) const STATE: &str = r#"
CREATE TABLE IF NOT EXISTS state_blocks (
    zone  INTEGER NOT NULL,
    seq   INTEGER NOT NULL,
    count INTEGER NOT NULL,
    sum   INTEGER NOT NULL,
    data  BLOB NOT NULL,
    PRIMARY KEY (zone, seq)
);
"#;

pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS zones (
    id          INTEGER PRIMARY KEY,
    tld         TEXT NOT NULL,
    serial      INTEGER,
    source      TEXT NOT NULL,
    size        INTEGER,
    sha256      TEXT,
    imported_at TEXT NOT NULL,
    finished_at TEXT,
    zone_date   TEXT,
    state       TEXT NOT NULL CHECK (state IN ('importing', 'current', 'replaced', 'failed')),
    records     INTEGER,
    domains     INTEGER,
    errors      INTEGER,
    bytes       INTEGER,
    with_records INTEGER NOT NULL DEFAULT 1,
    ds_domains  INTEGER,
    added       INTEGER,
    removed     INTEGER,
    modified    INTEGER,
    state_blocks INTEGER,
    state_prev  INTEGER
);
CREATE INDEX IF NOT EXISTS zones_tld_state ON zones (tld, state);
CREATE TABLE IF NOT EXISTS events (
    id        INTEGER PRIMARY KEY,
    zone      INTEGER,
    prev_zone INTEGER,
    tld       TEXT NOT NULL,
    domain    TEXT NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('added', 'removed', 'modified', 'watch', 'delegation_broken', 'delegation_fixed',
                                            'dns_changed', 'dns_gone', 'armed',
                                            'registrar_changed', 'status_changed', 'expiring')),
    at        TEXT NOT NULL,
    term      TEXT,
    rule      TEXT,
    detail    TEXT
);
CREATE INDEX IF NOT EXISTS events_zone ON events (zone, domain, kind);
-- Events of no zone version (monitoring's): by domain, for its history.
CREATE INDEX IF NOT EXISTS events_live ON events (domain, id) WHERE zone IS NULL;
CREATE TABLE IF NOT EXISTS downloads (
    id            INTEGER PRIMARY KEY,
    tld           TEXT NOT NULL,
    url           TEXT NOT NULL,
    file          TEXT NOT NULL,
    size          INTEGER NOT NULL,
    last_modified TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    downloaded_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS downloads_tld ON downloads (tld, id);

CREATE TABLE IF NOT EXISTS outbox (
    id           INTEGER PRIMARY KEY,
    endpoint     TEXT NOT NULL,
    tld          TEXT NOT NULL,
    event        INTEGER NOT NULL,
    batch        TEXT,
    delivered_at TEXT
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (endpoint, batch, id) WHERE delivered_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_batch ON outbox (batch);
CREATE TABLE IF NOT EXISTS webhook_batches (
    id           TEXT PRIMARY KEY,
    endpoint     TEXT NOT NULL,
    tld          TEXT NOT NULL,
    events       INTEGER NOT NULL,
    created_at   TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER NOT NULL DEFAULT 0,
    last_status  INTEGER,
    last_error   TEXT,
    delivered_at TEXT
);
CREATE INDEX IF NOT EXISTS webhook_batches_pending ON webhook_batches (endpoint, delivered_at);
CREATE TABLE IF NOT EXISTS watch (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('domain', 'term')),
    value      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    monitor_days INTEGER,
    UNIQUE (kind, value)
);
CREATE TABLE IF NOT EXISTS service_runs (
    id          INTEGER PRIMARY KEY,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    zones       INTEGER,
    ok          INTEGER,
    failed      INTEGER,
    pending     INTEGER,
    result      TEXT NOT NULL,
    next_run    TEXT
);
CREATE TABLE IF NOT EXISTS webhook_endpoints (
    endpoint    TEXT PRIMARY KEY,
    disabled_at TEXT,
    reason      TEXT
);
"#;

/// Live analyses of delegations (`zonefeed analyze`, see `crate::analyze::history`).
///
/// A run (`analysis_runs`) is the list of domains one `analyze` picked, written before the
/// first question (`analysis_todo`, a row per domain not yet done); each finished domain
/// removes its row in the transaction that keeps its result, so a run killed midway is
/// finished by the next, which analyses none twice. `analyses` holds one row per domain and
/// run: its summary (worst level, a count per level), `at` when it was analysed. A run's `at`
/// is the time the version it read speaks for (its zone date, else when it was imported), the
/// `at` of its events and the date history shows for its findings. `findings` is kept like the zones' rows:
/// a finding's row opens with the analysis that first found it (`since`, an `analyses.id`) and
/// closes with the first that did not (`until`); a domain's findings in analysis `A` are the
/// rows with `since <= A AND (until IS NULL OR until > A)`, its current ones `until IS NULL`.
pub(super) const ANALYSES: &str = r#"
CREATE TABLE IF NOT EXISTS analysis_runs (
    id          INTEGER PRIMARY KEY,
    tld         TEXT NOT NULL,
    zone        INTEGER NOT NULL,
    at          TEXT NOT NULL,
    pick        TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    domains     INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS analysis_todo (
    run    INTEGER NOT NULL,
    seq    INTEGER NOT NULL,
    domain TEXT NOT NULL,
    PRIMARY KEY (run, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS analyses (
    id         INTEGER PRIMARY KEY,
    run        INTEGER NOT NULL,
    tld        TEXT NOT NULL,
    domain     TEXT NOT NULL,
    at         TEXT NOT NULL,
    worst      TEXT,
    info       INTEGER NOT NULL,
    notice     INTEGER NOT NULL,
    warning    INTEGER NOT NULL,
    error      INTEGER NOT NULL,
    critical   INTEGER NOT NULL,
    elapsed_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS analyses_domain ON analyses (domain, id);
CREATE INDEX IF NOT EXISTS analyses_run ON analyses (run);
CREATE TABLE IF NOT EXISTS findings (
    domain   TEXT NOT NULL,
    tld      TEXT NOT NULL,
    module   TEXT NOT NULL,
    testcase TEXT NOT NULL,
    level    TEXT NOT NULL,
    tag      TEXT NOT NULL,
    args     TEXT NOT NULL,
    since    INTEGER NOT NULL,
    until    INTEGER,
    PRIMARY KEY (domain, testcase, tag, args, since)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS findings_now ON findings (tag, tld, domain) WHERE until IS NULL;
CREATE INDEX IF NOT EXISTS findings_tag ON findings (tld, tag, since);
-- The Zonalizer API's analyses (`serve --allow-analysis`, docs/ZONALIZER.md): one row per
-- analysis of its space ('' is the null space), queued until the server's worker takes it.
-- ns, ds, meta_data, results, summary and error are JSON as the API shows them; created and
-- updated are Unix seconds, as Zonalizer gives them.
CREATE TABLE IF NOT EXISTS zonalizer (
    seq       INTEGER PRIMARY KEY,
    id        TEXT NOT NULL,
    space     TEXT NOT NULL,
    fqdn      TEXT NOT NULL,
    policy    TEXT NOT NULL,
    status    TEXT NOT NULL CHECK (status IN ('queued', 'analyzing', 'done', 'failed')),
    progress  INTEGER NOT NULL,
    created   INTEGER NOT NULL,
    updated   INTEGER NOT NULL,
    ipv4      INTEGER NOT NULL,
    ipv6      INTEGER NOT NULL,
    ns        TEXT NOT NULL,
    ds        TEXT NOT NULL,
    meta_data TEXT NOT NULL,
    results   TEXT,
    summary   TEXT,
    error     TEXT,
    UNIQUE (space, id)
);
CREATE INDEX IF NOT EXISTS zonalizer_status ON zonalizer (status, seq);
-- Monitored domains (`zonefeed monitor`, the monitor module): each check of their live records
-- (`live_checks`), and the record sets those checks found, one row per RRset, opened and
-- closed by the checks (`since`/`until` = live_checks.id) as the zones' rows are.
CREATE TABLE IF NOT EXISTS monitored (
    name        TEXT PRIMARY KEY,
    tld         TEXT NOT NULL,
    source      TEXT NOT NULL,
    added_at    TEXT NOT NULL,
    until       TEXT,
    last_check  TEXT,
    last_change TEXT,
    state       TEXT,
    armed       INTEGER NOT NULL DEFAULT 0,
    -- RDAP (monitor::rdap): the last fetch, when the next is due, whether a `dns_changed`
    -- asked for one sooner, what the last fetch failed with, and the expiry date an
    -- `expiring` event already announced.
    rdap_at       TEXT,
    rdap_next     TEXT,
    rdap_wanted   INTEGER NOT NULL DEFAULT 0,
    rdap_error    TEXT,
    rdap_expiring TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS live_checks (
    id      INTEGER PRIMARY KEY,
    name    TEXT NOT NULL,
    at      TEXT NOT NULL,
    state   TEXT NOT NULL,
    servers TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS live_checks_name ON live_checks (name, id);
CREATE TABLE IF NOT EXISTS live_rrsets (
    name  TEXT NOT NULL,
    owner TEXT NOT NULL,
    type  TEXT NOT NULL,
    ttl   INTEGER NOT NULL,
    rdata TEXT NOT NULL,
    since INTEGER NOT NULL,
    until INTEGER,
    PRIMARY KEY (name, owner, type, since)
) WITHOUT ROWID;
-- Registration data from the registries' RDAP servers: a row per state, opened by the fetch
-- that first found it and closed by the first that found it different (times, UTC).
CREATE TABLE IF NOT EXISTS registrations (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    since        TEXT NOT NULL,
    until        TEXT,
    registrar    TEXT,
    registrar_id TEXT,
    created      TEXT,
    expires      TEXT,
    changed      TEXT,
    status       TEXT NOT NULL,
    nameservers  TEXT NOT NULL,
    server       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS registrations_name ON registrations (name, since);
-- IANA's RDAP bootstrap for domains (`rdap bootstrap --update`); the bundled copy serves
-- until one is fetched.
CREATE TABLE IF NOT EXISTS rdap_bootstrap (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    fetched_at  TEXT NOT NULL,
    source      TEXT NOT NULL,
    publication TEXT,
    json        TEXT NOT NULL
);
"#;

/// Views over the current versions, created once the tables have their present shape (a
/// migration drops the views first: SQLite renames a table inside the views that use it).
pub(super) const VIEWS: &str = r#"
-- No reverse-lookup index yet: partial indexes on NS targets and glue addresses made the
-- first full import of the 10M-domain bench zone 5.6x slower (random inserts into a B-tree
-- larger than the cache) and its WAL 657 MiB (README, "Reverse lookups").
DROP INDEX IF EXISTS records_ns;
DROP INDEX IF EXISTS records_addr;
-- Every version's domain rows, dates as RFC 3339 text (see `domain_rows`): what the
-- `domains` table held before schema 20.
CREATE VIEW IF NOT EXISTS domains AS
    SELECT tld, name, hash, sig,
           strftime('%Y-%m-%dT%H:%M:%SZ', first_seen_ts, 'unixepoch') AS first_seen,
           strftime('%Y-%m-%dT%H:%M:%SZ', last_seen_ts, 'unixepoch') AS last_seen,
           strftime('%Y-%m-%dT%H:%M:%SZ', last_changed_ts, 'unixepoch') AS last_changed,
           strftime('%Y-%m-%dT%H:%M:%SZ', removed_ts, 'unixepoch') AS removed_at,
           since, until
      FROM domain_rows;
-- Every version's records, one row per record (see `rrsets`): what the `records` table
-- held before schema 13, for zonefeed's own queries and for people's. Owners and in-domain
-- NS targets are stored relative to the domain, other NS targets as ids of `hosts`.
CREATE VIEW IF NOT EXISTS records AS
    SELECT s.tld, s.domain,
           CASE WHEN s.owner = '' THEN s.domain WHEN s.domain = '.' THEN s.owner ELSE s.owner || '.' || s.domain END AS owner,
           s.type, s.ttl,
           CASE WHEN r.type = 'integer' THEN (SELECT h.name FROM hosts h WHERE h.id = r.value)
                WHEN s.type <> 'NS' THEN r.value
                WHEN r.value = '' THEN s.domain ELSE r.value || '.' || s.domain END AS rdata,
           s.since, s.until
      FROM rrsets s, json_each(s.rdata) r;
-- Each zone's current version: the one `state` a version has while readers see it.
CREATE VIEW IF NOT EXISTS current_zones AS SELECT * FROM zones WHERE state = 'current';
-- For people who query the database: each zone's current version only, removed domains
-- left out, one row per record, text names (README, "Views").
CREATE VIEW IF NOT EXISTS current_domains AS
    SELECT d.tld, d.name, d.first_seen, d.last_changed, z.id AS version
      FROM domains d JOIN current_zones z ON z.tld = d.tld
     WHERE d.since <= z.id AND (d.until IS NULL OR d.until > z.id) AND d.removed_at IS NULL;
CREATE VIEW IF NOT EXISTS current_records AS
    SELECT r.tld, r.domain, r.owner, r.type, r.ttl, r.rdata, z.id AS version
      FROM records r JOIN current_zones z ON z.tld = r.tld
     WHERE r.since <= z.id AND (r.until IS NULL OR r.until > z.id);
"#;
