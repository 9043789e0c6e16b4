//! Iterative resolution from the root hints, the way an analysis needs it: the parent zone of
//! a name (the zone whose servers refer to it), the addresses of a name server, and an
//! answer found by following referrals. Every question goes through the shared [`Client`],
//! so it is polite and asked once; the zone cuts seen are kept, so the thousand children of
//! one TLD cost one walk from the root, not a thousand.
//!
//! The walk follows Zonemaster's recursor: servers are tried in turn; REFUSED and SERVFAIL
//! move on to the next; NXDOMAIN, NODATA and an answer end the walk; a referral is followed
//! only downwards (never to the root, never to a zone seen before), at most 20 times.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

use super::client::{Client, Scope};
use super::hints::Hints;
use super::Flags;

/// Referrals followed in one walk at most.
const MAX_REFERRALS: usize = 20;
/// Name-server address lookups nested in one another at most (a server whose name needs
/// another server's address, and so on).
const MAX_DEPTH: usize = 4;

/// A name server: its name and one address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ns {
    pub name: Name,
    pub ip: IpAddr,
}

impl std::fmt::Display for Ns {
    /// `ns1.example.net/192.0.2.1`, as Zonemaster writes a server.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", super::text(&self.name), self.ip)
    }
}

/// Where a walk ended.
#[derive(Debug, Clone)]
pub struct Walk {
    /// The last answer (None when no server answered at all).
    pub answer: Option<Arc<Message>>,
    /// The zone whose servers gave it, and those servers.
    pub zone: Name,
    pub servers: Vec<Ns>,
    /// The zone above `zone` on the way down, when the walk passed one.
    pub above: Option<Name>,
}

/// The resolver: see the module's documentation.
pub struct Resolver {
    client: Arc<Client>,
    /// Zone cuts seen: zone -> its servers (names and addresses), the root's from the hints.
    cuts: Mutex<BTreeMap<Name, Vec<Ns>>>,
    /// Name-server addresses, looked up once each.
    addresses: Mutex<HashMap<Name, Vec<IpAddr>>>,
    /// Whether AAAA lookups are made (`--no-ipv6` leaves them out).
    ipv4: bool,
    ipv6: bool,
}

impl Resolver {
    pub fn new(client: Arc<Client>, hints: &Hints, ipv4: bool, ipv6: bool) -> Resolver {
        let mut root = Vec::new();
        for (name, ips) in &hints.servers {
            if let Ok(n) = super::parse_name(name) {
                root.extend(ips.iter().map(|&ip| Ns { name: n.to_lowercase(), ip }));
            }
        }
        let cuts = Mutex::new(BTreeMap::from([(Name::root(), root)]));
        Resolver { client, cuts, addresses: Mutex::default(), ipv4, ipv6 }
    }

    /// Starts resolution below `zone` at `servers` (a zone cut known from imported zone
    /// data) instead of walking down from the root to it.
    pub fn seed(&self, zone: &Name, servers: Vec<Ns>) {
        if !servers.is_empty() {
            self.cuts.lock().unwrap_or_else(PoisonError::into_inner).insert(zone.to_lowercase(), servers);
        }
    }

    pub fn client(&self) -> &Arc<Client> {
        &self.client
    }

    /// Whether `ip`'s family may be asked.
    pub fn family_ok(&self, ip: IpAddr) -> bool {
        if ip.is_ipv4() {
            self.ipv4
        } else {
            self.ipv6
        }
    }

    /// The closest known zone cut at or above `name`, and its servers.
    fn closest(&self, name: &Name) -> (Name, Vec<Ns>) {
        let cuts = self.cuts.lock().unwrap_or_else(PoisonError::into_inner);
        let mut n = name.to_lowercase();
        loop {
            if let Some(servers) = cuts.get(&n) {
                return (n, servers.clone());
            }
            if n.is_root() {
                return (n, Vec::new());
            }
            n = n.base_name();
        }
    }

    /// Walks down to `name`/`rtype` from the closest cut at or above `start`.
    pub async fn walk(&self, start: &Name, name: &Name, rtype: RecordType, scope: &Scope) -> Walk {
        self.walk_at(start, name, rtype, &[], scope).await
    }

    async fn walk_at(&self, start: &Name, name: &Name, rtype: RecordType, stack: &[Name], scope: &Scope) -> Walk {
        let (mut zone, mut servers) = self.closest(start);
        let mut above = None;
        let mut seen = vec![zone.clone()];
        'referral: for _ in 0..MAX_REFERRALS {
            let mut candidate = None;
            for s in servers.iter().filter(|s| self.family_ok(s.ip)) {
                let e = scope.ask(&self.client, s.ip, name, rtype, Flags::default()).await;
                let Ok(m) = e.answer.as_ref().map(Arc::clone) else { continue };
                let rcode = m.metadata.response_code;
                if rcode == ResponseCode::Refused || rcode == ResponseCode::ServFail {
                    candidate = Some(m);
                    continue;
                }
                if let Some((cut, names)) = referral(&m, &zone, name) {
                    if seen.contains(&cut) {
                        continue;
                    }
                    let next = self.servers_for(&m, &names, stack, scope).await;
                    // The analysed domain's own cut is its analysis's business, not the run's.
                    if !scope.owns(&cut) {
                        self.cuts.lock().unwrap_or_else(PoisonError::into_inner).insert(cut.clone(), next.clone());
                    }
                    seen.push(cut.clone());
                    above = Some(std::mem::replace(&mut zone, cut));
                    servers = next;
                    continue 'referral;
                }
                if rcode == ResponseCode::NoError || rcode == ResponseCode::NXDomain {
                    return Walk { answer: Some(m), zone, servers, above };
                }
                candidate = Some(m);
            }
            return Walk { answer: candidate, zone, servers, above };
        }
        Walk { answer: None, zone, servers, above }
    }

    /// The servers a referral names: each name with its glue, or its addresses looked up.
    async fn servers_for(&self, m: &Message, names: &[Name], stack: &[Name], scope: &Scope) -> Vec<Ns> {
        let mut out = Vec::new();
        for n in names {
            let glue = addresses_in(m, n);
            let ips = if glue.is_empty() { self.addresses_at(n, stack, scope).await } else { glue };
            out.extend(ips.into_iter().map(|ip| Ns { name: n.clone(), ip }));
        }
        out
    }

    /// The addresses of `name` (A, then AAAA), looked up once a run; CNAMEs followed within
    /// the answer.
    pub async fn addresses(&self, name: &Name, scope: &Scope) -> Vec<IpAddr> {
        self.addresses_at(name, &[], scope).await
    }

    /// `stack` holds the names whose lookups wait on this one: a lookup that needs itself (a
    /// server named inside the zone it serves, without glue) gets no addresses instead of
    /// waiting on itself. Two tasks may look the same name up at once; the client's cache
    /// still sends each question once.
    async fn addresses_at(&self, name: &Name, stack: &[Name], scope: &Scope) -> Vec<IpAddr> {
        let name = name.to_lowercase();
        // A server named inside the analysed domain is looked up for that analysis only.
        let shared = !scope.owns(&name);
        if let Some(ips) = self.addresses.lock().unwrap_or_else(PoisonError::into_inner).get(&name).filter(|_| shared) {
            return ips.clone();
        }
        if stack.contains(&name) || stack.len() > MAX_DEPTH {
            return Vec::new();
        }
        let mut inner = stack.to_vec();
        inner.push(name.clone());
        let mut ips = Vec::new();
        for rtype in [RecordType::A, RecordType::AAAA] {
            if rtype == RecordType::AAAA && !self.ipv6 {
                continue;
            }
            let w = Box::pin(self.walk_at(&name, &name, rtype, &inner, scope)).await;
            if let Some(m) = &w.answer {
                if rtype == RecordType::A && m.metadata.response_code == ResponseCode::NXDomain {
                    break;
                }
                ips.extend(answer_addresses(m, &name));
            }
        }
        ips.sort();
        ips.dedup();
        if shared {
            self.addresses.lock().unwrap_or_else(PoisonError::into_inner).insert(name, ips.clone());
        }
        ips
    }

    /// The answer to `name`/`rtype`, found from the root (Zonemaster's `recurse`).
    pub async fn recurse(&self, name: &Name, rtype: RecordType, scope: &Scope) -> Option<Arc<Message>> {
        self.walk(name, name, rtype, scope).await.answer
    }

    /// The parent zone of `name`: the zone whose servers refer to it, found by walking down
    /// with SOA questions as Zonemaster does, with that zone's servers. None when no server
    /// on the way answered.
    pub async fn parent(&self, name: &Name, scope: &Scope) -> Option<(Name, Vec<Ns>)> {
        if name.is_root() {
            let (z, s) = self.closest(name);
            return Some((z, s));
        }
        let w = self.walk(&name.base_name(), name, RecordType::SOA, scope).await;
        w.answer.as_ref()?;
        let name = name.to_lowercase();
        if w.zone == name {
            let above = w.above?;
            let servers = self.closest(&above).1;
            Some((above, servers))
        } else {
            Some((w.zone, w.servers))
        }
    }
}

/// When `m` is a referral from `zone` towards `name`: the zone it refers to and its servers'
/// names (sorted, lower case). A referral points below `zone` and at or above `name`.
pub fn referral(m: &Message, zone: &Name, name: &Name) -> Option<(Name, Vec<Name>)> {
    if !m.answers.is_empty() || m.metadata.response_code != ResponseCode::NoError {
        return None;
    }
    let ns: Vec<_> = m.authorities.iter().filter(|r| r.record_type() == RecordType::NS).collect();
    let cut = ns.first()?.name.to_lowercase();
    if cut.is_root() || !zone.zone_of(&cut) || cut == *zone || !cut.zone_of(name) {
        return None;
    }
    let mut names: Vec<Name> = ns
        .iter()
        .filter(|r| r.name.to_lowercase() == cut)
        .filter_map(|r| match &r.data {
            RData::NS(n) => Some(n.0.to_lowercase()),
            _ => None,
        })
        .collect();
    names.sort();
    names.dedup();
    Some((cut, names))
}

/// The A and AAAA addresses of `name` anywhere in `m` (glue in the additional section).
pub fn addresses_in(m: &Message, name: &Name) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = m.answers.iter().chain(&m.additionals).filter(|r| r.name == *name).filter_map(address).collect();
    ips.sort();
    ips.dedup();
    ips
}

/// The addresses an answer gives for `name`, following its CNAMEs within the answer.
pub fn answer_addresses(m: &Message, name: &Name) -> Vec<IpAddr> {
    let mut names = vec![name.clone()];
    for r in &m.answers {
        if let RData::CNAME(c) = &r.data {
            if names.contains(&r.name) {
                names.push(c.0.clone());
            }
        }
    }
    m.answers.iter().filter(|r| names.contains(&r.name)).filter_map(address).collect()
}

fn address(r: &hickory_proto::rr::Record) -> Option<IpAddr> {
    match &r.data {
        RData::A(a) => Some(IpAddr::V4(a.0)),
        RData::AAAA(a) => Some(IpAddr::V6(a.0)),
        _ => None,
    }
}
