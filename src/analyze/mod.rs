//! Delegation analysis as Zonemaster does it (issue 30): Zonemaster's test cases, with its
//! test case names, message tags and default levels, run by zonefeed's own code against live
//! servers through the [`crate::dns`] engine.
//!
//! The reference is Zonemaster Engine 4.6.2 (Debian's `zonemaster-cli` 5.0.2), the version the
//! agreement test runs beside zonefeed: its test-case specifications say what each case asks
//! and when it speaks. A domain is analysed in a [`Zone`], which finds and keeps what the
//! cases share (Zonemaster's "methods"): the parent zone, the delegation's name servers and
//! their addresses, and the child's own. Many domains run at once on one [`Resolver`]: the
//! engine's limits and caches are shared, the findings are each domain's own.
//!
//! As in Zonemaster, when BASIC finds no name server that answers for the zone, the other
//! modules do not run.

mod basic;
mod connectivity;
mod consistency;
mod delegation;
mod dnssec;
pub mod history;
mod levels;
mod nameserver;
mod zone;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::sync::OnceCell;

use crate::dns::client::Scope;
use crate::dns::resolve::{Ns, Resolver};
use crate::dns::{Exchange, Flags};

/// A finding's severity, Zonemaster's levels in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Debug,
    Info,
    Notice,
    Warning,
    Error,
    Critical,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Notice => "NOTICE",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
            Level::Critical => "CRITICAL",
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One message of a test case: Zonemaster's (module, test case, level, tag, arguments).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub module: &'static str,
    pub testcase: &'static str,
    pub level: Level,
    pub tag: &'static str,
    pub args: BTreeMap<&'static str, String>,
}

/// The test cases zonefeed runs, in Zonemaster's order: (module, test case).
pub const CASES: &[(&str, &str)] = &[
    ("BASIC", "BASIC01"),
    ("BASIC", "BASIC02"),
    ("CONNECTIVITY", "CONNECTIVITY01"),
    ("CONNECTIVITY", "CONNECTIVITY02"),
    ("CONSISTENCY", "CONSISTENCY01"),
    ("CONSISTENCY", "CONSISTENCY02"),
    ("CONSISTENCY", "CONSISTENCY03"),
    ("CONSISTENCY", "CONSISTENCY04"),
    ("CONSISTENCY", "CONSISTENCY05"),
    ("CONSISTENCY", "CONSISTENCY06"),
    ("DELEGATION", "DELEGATION01"),
    ("DELEGATION", "DELEGATION02"),
    ("DELEGATION", "DELEGATION04"),
    ("DELEGATION", "DELEGATION05"),
    ("DELEGATION", "DELEGATION06"),
    ("DELEGATION", "DELEGATION07"),
    ("DNSSEC", "DNSSEC01"),
    ("DNSSEC", "DNSSEC02"),
    ("DNSSEC", "DNSSEC03"),
    ("DNSSEC", "DNSSEC05"),
    ("DNSSEC", "DNSSEC07"),
    ("DNSSEC", "DNSSEC08"),
    ("DNSSEC", "DNSSEC09"),
    ("DNSSEC", "DNSSEC11"),
    ("NAMESERVER", "NAMESERVER01"),
    ("NAMESERVER", "NAMESERVER02"),
    ("NAMESERVER", "NAMESERVER03"),
    ("NAMESERVER", "NAMESERVER05"),
    ("ZONE", "ZONE01"),
    ("ZONE", "ZONE02"),
    ("ZONE", "ZONE03"),
    ("ZONE", "ZONE04"),
    ("ZONE", "ZONE05"),
    ("ZONE", "ZONE06"),
    ("ZONE", "ZONE07"),
    ("ZONE", "ZONE08"),
    ("ZONE", "ZONE09"),
    ("ZONE", "ZONE10"),
];

/// Which test cases run: `MODULE` or `MODULE/CASE`, any case (`--test`).
#[derive(Debug, Clone, Default)]
pub struct Selection(Vec<(String, Option<String>)>);

#[derive(Debug, thiserror::Error)]
#[error("--test `{0}`: no such module or test case (modules: BASIC, CONNECTIVITY, CONSISTENCY, DELEGATION, DNSSEC, NAMESERVER, ZONE; cases as BASIC/BASIC01)")]
pub struct UnknownTest(String);

impl Selection {
    /// Every test case.
    pub fn all() -> Selection {
        Selection(Vec::new())
    }

    pub fn parse(picks: &[String]) -> Result<Selection, UnknownTest> {
        let mut out = Vec::new();
        for p in picks {
            let (m, c) = match p.split_once('/') {
                Some((m, c)) => (m.to_ascii_uppercase(), Some(c.to_ascii_uppercase())),
                None => (p.to_ascii_uppercase(), None),
            };
            let known = CASES.iter().any(|(cm, cc)| *cm == m && c.as_deref().is_none_or(|c| c == *cc));
            if !known {
                return Err(UnknownTest(p.clone()));
            }
            out.push((m, c));
        }
        Ok(Selection(out))
    }

    fn wants(&self, module: &str, case: &str) -> bool {
        self.0.is_empty() || self.0.iter().any(|(m, c)| m == module && c.as_deref().is_none_or(|c| c == case))
    }
}

/// What `--ns` and `--ds` say instead of the parent (an undelegated test).
#[derive(Debug, Clone, Default)]
pub struct Undelegated {
    /// Name servers: a name, with an address or to be looked up.
    pub ns: Vec<(Name, Option<IpAddr>)>,
    /// DS records (`--ds`); none means the parent's are not looked at either.
    pub ds: Vec<hickory_proto::dnssec::rdata::DS>,
}

pub use dnssec::parse_ds;

/// What one domain's analysis found.
#[derive(Debug)]
pub struct Analysis {
    pub domain: String,
    pub findings: Vec<Finding>,
    /// Every question the analysis used, in order (answers from the run's cache included).
    pub trace: Vec<Arc<Exchange>>,
    pub elapsed: Duration,
}

impl Analysis {
    /// The worst level found.
    pub fn worst(&self) -> Option<Level> {
        self.findings.iter().map(|f| f.level).max()
    }
}

/// The engine's settings: what `analyze` takes from its flags over the config's `dns.*` keys,
/// and `sync` (`analyze.after_sync`) and `serve` from the config alone.
#[derive(Debug, Clone)]
pub struct Engine {
    pub options: crate::dns::Options,
    pub limits: crate::dns::client::Limits,
    pub hints: crate::dns::hints::Hints,
    pub ipv4: bool,
    pub ipv6: bool,
    /// Domains analysed at once.
    pub concurrency: usize,
}

impl Engine {
    /// From the config's `dns.*` and `analyze.*` keys, defaults where it has none.
    pub fn from_config(cfg: &crate::config::Config) -> Result<Engine, crate::dns::hints::HintsError> {
        let k = &cfg.keys;
        let hints = match &k.dns_root_hints {
            Some(path) => crate::dns::hints::load(path)?,
            None => crate::dns::hints::iana(),
        };
        let limits = crate::dns::client::Limits::default();
        Ok(Engine {
            options: crate::dns::Options {
                timeout: k.dns_timeout.map_or(Duration::from_secs(2), |t| t.0),
                allow_private: k.dns_allow_private.unwrap_or(false),
                ..Default::default()
            },
            limits: crate::dns::client::Limits {
                qps: k.dns_qps.map_or(limits.qps, |c| c.u32()),
                in_flight: k.dns_in_flight.map_or(limits.in_flight, |c| c.usize()),
            },
            hints,
            ipv4: true,
            ipv6: true,
            concurrency: k.analyze_concurrency.map_or(256, |c| c.usize()),
        })
    }

    /// A resolver of these settings: its client's limits and caches last as long as it does.
    pub fn resolver(&self) -> Arc<Resolver> {
        let client = Arc::new(crate::dns::client::Client::new(self.options.clone(), self.limits));
        Arc::new(Resolver::new(client, &self.hints, self.ipv4, self.ipv6))
    }
}

/// Analyses each of `names` (with its place in the list), `concurrency` at a time: tasks start
/// as others finish, so a zone's worth of domains is never spawned at once. Each result goes
/// to `done` as it comes, in the order they finish; an error from `done` stops the run.
pub async fn many<E>(
    r: &Arc<Resolver>,
    names: Vec<(i64, Name)>,
    undelegated: Option<&Undelegated>,
    pick: &Selection,
    concurrency: usize,
    mut done: impl FnMut(i64, Analysis) -> Result<(), E>,
) -> Result<(), E> {
    let work = |(i, name): (i64, Name)| {
        let (r, pick, und) = (r.clone(), pick.clone(), undelegated.cloned());
        async move { (i, analyze(&r, &name, und.as_ref(), &pick).await) }
    };
    crate::dns::at_most(names, concurrency, work, |(i, a)| done(i, a)).await
}

/// Analyses `name` with the selected test cases.
pub async fn analyze(r: &Resolver, name: &Name, undelegated: Option<&Undelegated>, pick: &Selection) -> Analysis {
    analyze_tracked(r, name, undelegated, pick, &AtomicU8::new(0)).await
}

/// As [`analyze`], keeping `progress` (percent) at the share of its steps done: BASIC's two
/// cases, each other case, DNSSEC as one; 100 once it is over.
pub async fn analyze_tracked(
    r: &Resolver,
    name: &Name,
    undelegated: Option<&Undelegated>,
    pick: &Selection,
    progress: &AtomicU8,
) -> Analysis {
    let started = Instant::now();
    let z = Zone::new(r, name, undelegated.cloned());
    let mut out = Out::default();
    let others: Vec<(&str, &str)> = CASES.iter().copied().filter(|(m, _)| *m != "BASIC" && *m != "DNSSEC").collect();
    let steps = 2 + others.len() + 1;
    let tick = |done: usize| progress.store((done * 100 / steps).min(99) as u8, Ordering::Relaxed);
    // BASIC decides whether the rest can run, so it always runs; its findings show only when
    // picked.
    basic::basic01(&z, &mut out).await;
    tick(1);
    basic::basic02(&z, &mut out).await;
    tick(2);
    let can_continue = out.has("HAS_NAMESERVERS") && !out.has("NO_GLUE_PREVENTS_NAMESERVER_TESTS");
    if !pick.wants("BASIC", "BASIC01") {
        out.0.retain(|f| f.testcase != "BASIC01");
    }
    if !pick.wants("BASIC", "BASIC02") {
        out.0.retain(|f| f.testcase != "BASIC02");
    }
    if can_continue {
        for (i, &(module, case)) in others.iter().enumerate() {
            if pick.wants(module, case) {
                run(case, &z, &mut out).await;
            }
            tick(3 + i);
        }
        dnssec::run(&z, &mut out, |case| pick.wants("DNSSEC", case)).await;
    }
    progress.store(100, Ordering::Relaxed);
    let trace = z.trace.take_trace();
    Analysis { domain: text(name), findings: out.0, trace, elapsed: started.elapsed() }
}

async fn run(case: &str, z: &Zone<'_>, out: &mut Out) {
    match case {
        "CONNECTIVITY01" => connectivity::connectivity01(z, out).await,
        "CONNECTIVITY02" => connectivity::connectivity02(z, out).await,
        "CONSISTENCY01" => consistency::consistency01(z, out).await,
        "CONSISTENCY02" => consistency::consistency02(z, out).await,
        "CONSISTENCY03" => consistency::consistency03(z, out).await,
        "CONSISTENCY04" => consistency::consistency04(z, out).await,
        "CONSISTENCY05" => consistency::consistency05(z, out).await,
        "CONSISTENCY06" => consistency::consistency06(z, out).await,
        "DELEGATION01" => delegation::delegation01(z, out).await,
        "DELEGATION02" => delegation::delegation02(z, out).await,
        "DELEGATION04" => delegation::delegation04(z, out).await,
        "DELEGATION05" => delegation::delegation05(z, out).await,
        "DELEGATION06" => delegation::delegation06(z, out).await,
        "DELEGATION07" => delegation::delegation07(z, out).await,
        "NAMESERVER01" => nameserver::nameserver01(z, out).await,
        "NAMESERVER02" => nameserver::nameserver02(z, out).await,
        "NAMESERVER03" => nameserver::nameserver03(z, out).await,
        "NAMESERVER05" => nameserver::nameserver05(z, out).await,
        "ZONE01" => zone::zone01(z, out).await,
        "ZONE02" => zone::zone02(z, out).await,
        "ZONE03" => zone::zone03(z, out).await,
        "ZONE04" => zone::zone04(z, out).await,
        "ZONE05" => zone::zone05(z, out).await,
        "ZONE06" => zone::zone06(z, out).await,
        "ZONE07" => zone::zone07(z, out).await,
        "ZONE08" => zone::zone08(z, out).await,
        "ZONE09" => zone::zone09(z, out).await,
        "ZONE10" => zone::zone10(z, out).await,
        _ => {}
    }
}

/// The findings of a run so far.
#[derive(Default)]
struct Out(Vec<Finding>);

impl Out {
    /// Adds `tag` of `testcase` at its default level.
    fn add<const N: usize>(&mut self, testcase: &'static str, tag: &'static str, args: [(&'static str, String); N]) {
        self.add_vec(testcase, tag, args.into());
    }

    fn add_vec(&mut self, testcase: &'static str, tag: &'static str, args: Vec<(&'static str, String)>) {
        let module = CASES.iter().find(|(_, c)| *c == testcase).map_or("SYSTEM", |(m, _)| *m);
        let level = levels::of(module, tag);
        self.0.push(Finding { module, testcase, level, tag, args: args.into_iter().collect() });
    }

    /// A module's message outside its test cases (Zonemaster's `UNSPECIFIED`).
    fn add_unspecified<const N: usize>(&mut self, module: &'static str, tag: &'static str, args: [(&'static str, String); N]) {
        let level = levels::of(module, tag);
        self.0.push(Finding { module, testcase: "UNSPECIFIED", level, tag, args: args.into_iter().collect() });
    }

    fn has(&self, tag: &str) -> bool {
        self.0.iter().any(|f| f.tag == tag)
    }

    fn has_in(&self, testcase: &str, tag: &str) -> bool {
        self.0.iter().any(|f| f.testcase == testcase && f.tag == tag)
    }
}

/// One domain under analysis, and what its test cases share, found once.
pub struct Zone<'a> {
    r: &'a Resolver,
    name: Name,
    undelegated: Option<Undelegated>,
    parent: OnceCell<Option<(Name, Vec<Ns>)>>,
    glue_names: OnceCell<Vec<Name>>,
    glue: OnceCell<Vec<Ns>>,
    ns_names: OnceCell<Vec<Name>>,
    ns: OnceCell<Vec<Ns>>,
    child_names: OnceCell<Vec<Name>>,
    trace: Scope,
}

impl<'a> Zone<'a> {
    fn new(r: &'a Resolver, name: &Name, undelegated: Option<Undelegated>) -> Zone<'a> {
        Zone {
            r,
            name: name.to_lowercase(),
            undelegated,
            parent: OnceCell::new(),
            glue_names: OnceCell::new(),
            glue: OnceCell::new(),
            ns_names: OnceCell::new(),
            ns: OnceCell::new(),
            child_names: OnceCell::new(),
            trace: Scope::of(name),
        }
    }

    /// Asks `ns`; None when no answer came (or the question was not sent).
    async fn query(&self, ns: &Ns, name: &Name, rtype: RecordType, flags: Flags) -> Option<Arc<Message>> {
        let e = self.trace.ask(self.r.client(), ns.ip, name, rtype, flags).await;
        e.answer.as_ref().ok().cloned()
    }

    /// `--ds`: the DS records that replace the parent's, in an undelegated test that gives them.
    fn undelegated_ds(&self) -> Option<&[hickory_proto::dnssec::rdata::DS]> {
        self.undelegated.as_ref().filter(|u| !u.ds.is_empty()).map(|u| u.ds.as_slice())
    }

    fn ip_ok(&self, ns: &Ns) -> bool {
        self.r.family_ok(ns.ip)
    }

    /// The parent zone and its servers (method 1).
    async fn parent(&self) -> Option<&(Name, Vec<Ns>)> {
        self.parent.get_or_init(|| self.r.parent(&self.name, &self.trace)).await.as_ref()
    }

    /// The delegation's name-server names, from the parent or `--ns` (method 2).
    async fn glue_names(&self) -> &[Name] {
        self.glue_names
            .get_or_init(|| async {
                if let Some(u) = &self.undelegated {
                    return sorted(u.ns.iter().map(|(n, _)| n.to_lowercase()).collect());
                }
                let Some((_, servers)) = self.parent().await else { return Vec::new() };
                for s in servers.iter().filter(|s| self.ip_ok(s)) {
                    if let Some(m) = self.query(s, &self.name, RecordType::NS, Flags::default()).await {
                        let names = ns_names(&records(&m, RecordType::NS, Some(&self.name), Section::All));
                        if !names.is_empty() {
                            return sorted(names);
                        }
                    }
                }
                Vec::new()
            })
            .await
    }

    /// The delegation's name servers with addresses (method 4).
    async fn glue(&self) -> &[Ns] {
        self.glue
            .get_or_init(|| async {
                if let Some(u) = &self.undelegated {
                    let mut out = Vec::new();
                    for (n, ip) in &u.ns {
                        let n = n.to_lowercase();
                        match ip {
                            Some(ip) => out.push(Ns { name: n, ip: *ip }),
                            None => out.extend(self.r.addresses(&n, &self.trace).await.into_iter().map(|ip| Ns { name: n.clone(), ip })),
                        }
                    }
                    return dedup(out);
                }
                let names = self.glue_names().await.to_vec();
                self.with_addresses(&names).await
            })
            .await
    }

    async fn with_addresses(&self, names: &[Name]) -> Vec<Ns> {
        let mut out = Vec::new();
        for n in names {
            let mut ips = self.r.addresses(n, &self.trace).await;
            ips.sort_by_key(|ip| ip.to_string());
            out.extend(ips.into_iter().map(|ip| Ns { name: n.clone(), ip }));
        }
        dedup(out)
    }

    /// The child's NS names, from the first delegated server that answers (Zonemaster's
    /// `ns_names`).
    async fn ns_names(&self) -> &[Name] {
        self.ns_names
            .get_or_init(|| async {
                for s in self.glue().await {
                    if let Some(m) = self.query(s, &self.name, RecordType::NS, Flags::default()).await {
                        if kind(&m) == Kind::Answer && m.metadata.response_code == ResponseCode::NoError {
                            return sorted(ns_names(&records(&m, RecordType::NS, Some(&self.name), Section::All)));
                        }
                    }
                }
                Vec::new()
            })
            .await
    }

    /// The child's name servers with addresses (method 5).
    async fn ns(&self) -> &[Ns] {
        self.ns
            .get_or_init(|| async {
                let names = self.ns_names().await.to_vec();
                self.with_addresses(&names).await
            })
            .await
    }

    /// Every NS name the child's servers give (method 3).
    async fn child_names(&self) -> &[Name] {
        self.child_names
            .get_or_init(|| async {
                let mut names = Vec::new();
                for s in self.ns().await.iter().filter(|s| self.ip_ok(s)) {
                    if let Some(m) = self.query(s, &self.name, RecordType::NS, Flags::default()).await {
                        names.extend(ns_names(&records(&m, RecordType::NS, Some(&self.name), Section::All)));
                    }
                }
                sorted(names)
            })
            .await
    }

    /// Methods 4 and 5: the delegation's servers then the child's, each once.
    async fn all_ns(&self) -> Vec<Ns> {
        let mut all = dedup(self.glue_then_ns().await);
        all.sort_by_key(|n| n.to_string());
        all
    }

    /// Methods 2 and 3: every NS name, the delegation's and the child's.
    async fn all_names(&self) -> Vec<Name> {
        let mut all = self.glue_names().await.to_vec();
        all.extend(self.child_names().await.iter().cloned());
        sorted(all)
    }

    /// The glue and child servers in Zonemaster's order (delegation first, then child), for
    /// the cases that walk them one by one.
    async fn glue_then_ns(&self) -> Vec<Ns> {
        let mut all = self.glue().await.to_vec();
        all.extend(self.ns().await.iter().cloned());
        all
    }
}

fn sorted(mut names: Vec<Name>) -> Vec<Name> {
    names.sort_by_key(text);
    names.dedup();
    names
}

fn dedup(v: Vec<Ns>) -> Vec<Ns> {
    let mut out: Vec<Ns> = Vec::new();
    for n in v {
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

pub use crate::dns::text;

/// Which sections [`records`] reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    All,
    Answer,
}

/// The records of `rtype` (owned by `name` when given) in `m`.
fn records(m: &Message, rtype: RecordType, name: Option<&Name>, section: Section) -> Vec<Record> {
    let all: Box<dyn Iterator<Item = &Record>> = match section {
        Section::Answer => Box::new(m.answers.iter()),
        Section::All => Box::new(m.answers.iter().chain(&m.authorities).chain(&m.additionals)),
    };
    all.filter(|r| r.record_type() == rtype && name.is_none_or(|n| r.name == *n)).cloned().collect()
}

fn ns_names(rs: &[Record]) -> Vec<Name> {
    rs.iter()
        .filter_map(|r| match &r.data {
            RData::NS(n) => Some(n.0.to_lowercase()),
            _ => None,
        })
        .collect()
}

fn soa(rs: &[Record]) -> Option<&hickory_proto::rr::rdata::SOA> {
    rs.iter().find_map(|r| match &r.data {
        RData::SOA(s) => Some(s),
        _ => None,
    })
}

/// How an answer reads, as ldns (under Zonemaster) classes it.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Answer,
    Referral,
    NxDomain,
    NoData,
    Other,
}

fn kind(m: &Message) -> Kind {
    match m.metadata.response_code {
        ResponseCode::NXDomain => Kind::NxDomain,
        ResponseCode::NoError if !m.answers.is_empty() => Kind::Answer,
        ResponseCode::NoError if m.authorities.iter().any(|r| r.record_type() == RecordType::NS) && !m.metadata.authoritative => {
            Kind::Referral
        }
        ResponseCode::NoError => Kind::NoData,
        _ => Kind::Other,
    }
}

/// An authoritative NOERROR answer.
fn authoritative(m: &Message) -> bool {
    m.metadata.response_code == ResponseCode::NoError && m.metadata.authoritative
}

/// An rcode as Zonemaster names it.
fn rcode(m: &Message) -> String {
    crate::dns::rcode_name(m.metadata.response_code)
}

/// `a;b;c` of the sorted texts.
fn list<T: ToString>(items: impl IntoIterator<Item = T>) -> String {
    let mut v: Vec<String> = items.into_iter().map(|t| t.to_string()).collect();
    v.sort();
    v.dedup();
    v.join(";")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_picks_are_modules_or_cases_in_any_case_and_unknown_ones_are_refused() {
        let all = Selection::all();
        assert!(all.wants("ZONE", "ZONE01") && all.wants("BASIC", "BASIC02"));
        let p = Selection::parse(&["zone/zone02".into(), "Consistency".into()]).unwrap();
        assert!(p.wants("ZONE", "ZONE02") && !p.wants("ZONE", "ZONE03"));
        assert!(p.wants("CONSISTENCY", "CONSISTENCY05") && !p.wants("DELEGATION", "DELEGATION01"));
        let e = Selection::parse(&["ZONE/ZONE99".into()]).unwrap_err().to_string();
        assert!(e.starts_with("--test `ZONE/ZONE99`: no such module or test case"), "{e}");
        assert!(Selection::parse(&["DNSSEC/DNSSEC04".into()]).is_err(), "a case zonefeed does not run");
    }

    #[test]
    fn every_case_has_a_module_and_levels_follow_zonemasters_profile() {
        assert_eq!(levels::of("BASIC", "NO_PARENT"), Level::Critical);
        assert_eq!(levels::of("CONSISTENCY", "MULTIPLE_SOA_SERIALS"), Level::Warning);
        assert_eq!(levels::of("DELEGATION", "EXTRA_NAME_CHILD"), Level::Notice);
        assert_eq!(levels::of("ZONE", "REFRESH_MINIMUM_VALUE_OK"), Level::Info);
        assert_eq!(CASES.len(), 38);
        let mut out = Out::default();
        out.add("ZONE05", "EXPIRE_LOWER_THAN_REFRESH", [("expire", "1".into())]);
        assert_eq!((out.0[0].module, out.0[0].level), ("ZONE", Level::Warning));
    }

    #[test]
    fn rcodes_read_as_zonemaster_writes_them() {
        assert_eq!(crate::dns::rcode_name(ResponseCode::Refused), "REFUSED");
        assert_eq!(crate::dns::rcode_name(ResponseCode::NXDomain), "NXDOMAIN");
        assert_eq!(text(&Name::from_ascii("NS1.Example.COM.").unwrap()), "ns1.example.com");
        assert_eq!(text(&Name::root()), ".");
    }
}
