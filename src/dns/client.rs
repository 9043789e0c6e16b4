//! What the analysis asks through: one [`Client`] shared by every domain of a run.
//!
//! - **Polite.** Each server address gets at most `in_flight` questions at once and at most
//!   `qps` a second (paced, not burst), whatever the number of domains it serves.
//! - **One answer per question.** The same question to the same server (name, type, flags) is
//!   sent once in a run; later askers get the first answer, as Zonemaster's per-server cache
//!   does. Questions in flight are not duplicated either.
//! - **A dead server costs its timeout once.** A server that did not answer over a transport
//!   is not asked over it again in the run (Zonemaster's "blacklisting"): a registry's dead
//!   host would otherwise cost its timeout once per domain it serves.
//! - **Scoped.** Questions about the analysed domain itself (its name and names below it)
//!   are cached in its [`Scope`] and dropped with it; only the questions domains share (name
//!   server addresses, other zones) stay in the run's cache, so a run over a whole zone does
//!   not keep every domain's answers.
//! - **Guarded.** A question to a private or reserved address is not sent (unless allowed);
//!   the address and why are kept for the report.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hickory_proto::rr::{Name, RecordType};
use tokio::sync::{OnceCell, Semaphore};

use super::{ask, guard, DnsError, Exchange, Flags, Options, Transport};

/// Per-server politeness.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Questions a second to one server address.
    pub qps: u32,
    /// Questions in flight at once to one server address.
    pub in_flight: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { qps: 10, in_flight: 4 }
    }
}

type Key = (IpAddr, Name, RecordType, Flags);
type Cell = Arc<OnceCell<Arc<Exchange>>>;

/// The shared engine: see the module's documentation.
pub struct Client {
    opts: Options,
    limits: Limits,
    /// Questions a second to one server address now: `limits.qps`, or the share of it a
    /// worker of several takes (`set_qps`).
    qps: std::sync::atomic::AtomicU32,
    servers: Mutex<HashMap<IpAddr, Arc<Server>>>,
    answers: Mutex<HashMap<Key, Cell>>,
    refused: Mutex<BTreeMap<IpAddr, &'static str>>,
    sent: AtomicU64,
}

/// TCP connections open at once to one server address, at most, whatever `in_flight` says: a
/// connection costs a server more than a datagram, and a burst of them overflows its accept
/// queue. Measured on the lab: 64 connections at once to one knotd (two addresses) lost SYNs
/// after a restart, and each lost SYN cost a one-second retransmit.
const TCP_IN_FLIGHT: usize = 8;

/// One server address's share of the limits.
struct Server {
    slots: Semaphore,
    tcp_slots: Semaphore,
    /// When the next question may leave.
    next: Mutex<tokio::time::Instant>,
    /// Ways (tcp, with EDNS) the server did not answer.
    silent: Mutex<HashSet<(bool, bool)>>,
}

impl Client {
    pub fn new(opts: Options, limits: Limits) -> Client {
        Client {
            opts,
            limits: Limits { qps: limits.qps.max(1), in_flight: limits.in_flight.max(1) },
            qps: std::sync::atomic::AtomicU32::new(limits.qps.max(1)),
            servers: Mutex::default(),
            answers: Mutex::default(),
            refused: Mutex::default(),
            sent: AtomicU64::new(0),
        }
    }

    /// The per-server limit it was made with (questions a second).
    pub fn limit_qps(&self) -> u32 {
        self.limits.qps
    }

    /// Paces each server at `qps` from now on: a worker's share of the limit when several
    /// ask the same servers.
    pub fn set_qps(&self, qps: u32) {
        self.qps.store(qps.max(1), Ordering::Relaxed);
    }

    /// Questions in the run's cache (answered or in flight).
    pub fn cached(&self) -> usize {
        self.answers.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    async fn send(&self, ip: IpAddr, name: &Name, rtype: RecordType, flags: Flags) -> Arc<Exchange> {
        let addr = SocketAddr::new(ip, 53);
        let transport = if flags.tcp { Transport::Tcp } else { Transport::Udp };
        let not_sent = |answer| Arc::new(Exchange { server: addr, name: name.clone(), rtype, transport, elapsed: Duration::ZERO, answer });
        if let Err(why) = guard::check(ip, self.opts.allow_private) {
            self.refused.lock().unwrap_or_else(PoisonError::into_inner).insert(ip, why);
            return not_sent(Err(DnsError::Refused { addr: ip, why }));
        }
        let server = self.server(ip);
        // A server silent to EDNS (or DNSSEC) questions may still answer plain ones, as
        // NAMESERVER02 must learn; silent to plain ones, it is silent to EDNS ones too.
        let way = (flags.tcp, flags.dnssec || flags.edns.is_some());
        if server.silent.lock().unwrap_or_else(PoisonError::into_inner).contains(&way) {
            return not_sent(Err(DnsError::Silent { server: addr, transport }));
        }
        // A closed semaphore is never made; were it, asking without the slot is still right.
        let _slot = server.slots.acquire().await.ok();
        let _tcp = if flags.tcp { server.tcp_slots.acquire().await.ok() } else { None };
        let at = {
            let mut next = server.next.lock().unwrap_or_else(PoisonError::into_inner);
            let at = (*next).max(tokio::time::Instant::now());
            *next = at + Duration::from_secs(1) / self.qps.load(Ordering::Relaxed).max(1);
            at
        };
        tokio::time::sleep_until(at).await;
        self.sent.fetch_add(1, Ordering::Relaxed);
        let e = ask(addr, name, rtype, &self.opts, flags).await;
        if matches!(e.answer, Err(DnsError::Timeout { .. })) {
            let mut silent = server.silent.lock().unwrap_or_else(PoisonError::into_inner);
            silent.insert(way);
            if !way.1 {
                silent.insert((flags.tcp, true));
            }
        }
        Arc::new(e)
    }

    fn server(&self, ip: IpAddr) -> Arc<Server> {
        let mut servers = self.servers.lock().unwrap_or_else(PoisonError::into_inner);
        servers
            .entry(ip)
            .or_insert_with(|| {
                Arc::new(Server {
                    slots: Semaphore::new(self.limits.in_flight),
                    tcp_slots: Semaphore::new(self.limits.in_flight.min(TCP_IN_FLIGHT)),
                    next: Mutex::new(tokio::time::Instant::now()),
                    silent: Mutex::default(),
                })
            })
            .clone()
    }

    /// The addresses not asked because the guard refused them, and why.
    pub fn refused(&self) -> Vec<(IpAddr, &'static str)> {
        self.refused.lock().unwrap_or_else(PoisonError::into_inner).iter().map(|(a, w)| (*a, *w)).collect()
    }

    /// Questions sent so far (the cache's answers are not counted).
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

fn cell(map: &Mutex<HashMap<Key, Cell>>, key: Key) -> Cell {
    map.lock().unwrap_or_else(PoisonError::into_inner).entry(key).or_default().clone()
}

/// One analysis's side of the client: the answers about its own domain (cached here, not in
/// the run) and the transcript of every question it used.
pub struct Scope {
    own: Name,
    answers: Mutex<HashMap<Key, Cell>>,
    trace: Mutex<Vec<Arc<Exchange>>>,
}

impl Scope {
    /// The scope of one domain's analysis.
    pub fn of(own: &Name) -> Scope {
        Scope { own: own.to_lowercase(), answers: Mutex::default(), trace: Mutex::default() }
    }

    /// Whether `name` is the scope's domain or below it.
    pub fn owns(&self, name: &Name) -> bool {
        self.own.zone_of(name)
    }

    /// As [`Client::ask`], with the answer cached here when the scope owns the name, and the
    /// exchange added to the transcript.
    pub async fn ask(&self, client: &Client, server: IpAddr, name: &Name, rtype: RecordType, flags: Flags) -> Arc<Exchange> {
        let key = (server, name.clone(), rtype, flags);
        let cell = if self.owns(name) { cell(&self.answers, key) } else { cell(&client.answers, key) };
        let e = cell.get_or_init(|| client.send(server, name, rtype, flags)).await.clone();
        self.trace.lock().unwrap_or_else(PoisonError::into_inner).push(e.clone());
        e
    }

    /// The transcript so far, taken out.
    pub fn take_trace(&self) -> Vec<Arc<Exchange>> {
        std::mem::take(&mut *self.trace.lock().unwrap_or_else(PoisonError::into_inner))
    }
}
