//! Live DNS: the query engine under `analyze`. One question to one server ([`ask`]): over
//! UDP, again over TCP when the answer comes back truncated, with a timeout and retries, and
//! the guard that keeps questions off private and reserved addresses unless they are allowed.
//! Above it, [`client::Client`] is what the analysis asks through (per-server politeness, one
//! answer per question, transcripts) and [`resolve`] walks the tree from the root hints.
//! Messages are built and read by `hickory-proto`; nothing here encodes DNS.

pub mod client;
pub mod guard;
pub mod hints;
pub mod resolve;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, Query};
use hickory_proto::rr::{Name, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// How a question is asked.
#[derive(Debug, Clone)]
pub struct Options {
    /// Per attempt.
    pub timeout: Duration,
    /// Attempts over UDP before the server counts as not answering.
    pub tries: u32,
    /// The EDNS0 UDP payload size offered when a question asks for DNSSEC records (1232:
    /// the DNS flag day 2020's advice).
    pub payload: u16,
    /// Allows private, loopback and other reserved addresses ([`guard`]).
    pub allow_private: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { timeout: Duration::from_secs(2), tries: 2, payload: 1232, allow_private: false }
    }
}

/// How one question is put. The default is Zonemaster's: UDP, no EDNS, no recursion wanted;
/// `dnssec` adds EDNS0 with the DO bit, `edns` EDNS0 alone with that payload size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Flags {
    pub tcp: bool,
    pub dnssec: bool,
    pub edns: Option<u16>,
    pub recurse: bool,
}

impl Flags {
    pub const TCP: Flags = Flags { tcp: true, dnssec: false, edns: None, recurse: false };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Udp,
    Tcp,
}

/// Why a question got no answer.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("{addr}: not asked: {why} (--allow-private allows it)")]
    Refused { addr: std::net::IpAddr, why: &'static str },
    #[error("{server}: no answer over {transport:?} after {tries} tries of {timeout:?}")]
    Timeout { server: SocketAddr, transport: Transport, tries: u32, timeout: Duration },
    #[error("{server}: not asked over {transport:?}: it did not answer over it before")]
    Silent { server: SocketAddr, transport: Transport },
    #[error("{server}: {source}")]
    Io { server: SocketAddr, source: std::io::Error },
    #[error("{server}: an answer that is not DNS: {msg}")]
    Malformed { server: SocketAddr, msg: String },
    #[error("`{name}`: {msg}")]
    Question { name: String, msg: String },
}

/// One question and what came of it: a line of a `--trace` transcript.
#[derive(Debug)]
pub struct Exchange {
    pub server: SocketAddr,
    pub name: Name,
    pub rtype: RecordType,
    pub transport: Transport,
    pub elapsed: Duration,
    /// Shared, not copied, by every analysis that reads it.
    pub answer: Result<std::sync::Arc<Message>, DnsError>,
}

/// Asks `server` for `name`/`rtype`: over UDP (again over TCP when the answer is truncated),
/// or over TCP alone when `flags.tcp`. An answer whose id or question is not ours is ignored,
/// as a spoofed or late one is, and the wait goes on.
pub async fn ask(server: SocketAddr, name: &Name, rtype: RecordType, opts: &Options, flags: Flags) -> Exchange {
    let started = Instant::now();
    let mut transport = if flags.tcp { Transport::Tcp } else { Transport::Udp };
    let answer = match guard::check(server.ip(), opts.allow_private) {
        Err(why) => Err(DnsError::Refused { addr: server.ip(), why }),
        Ok(()) => {
            let query = question(name, rtype, opts, flags);
            let mut r = if flags.tcp { over_tcp(server, &query, opts).await } else { over_udp(server, &query, opts).await };
            if matches!(&r, Ok(m) if m.metadata.truncation) {
                transport = Transport::Tcp;
                r = over_tcp(server, &query, opts).await;
            }
            r
        }
    };
    Exchange { server, name: name.clone(), rtype, transport, elapsed: started.elapsed(), answer: answer.map(std::sync::Arc::new) }
}

/// The query message: recursion wanted only when asked (the engine asks authoritative
/// servers), EDNS0 when the flags ask for it.
fn question(name: &Name, rtype: RecordType, opts: &Options, flags: Flags) -> Message {
    let mut m = Message::query();
    m.metadata.recursion_desired = flags.recurse;
    m.add_query(Query::query(name.clone(), rtype));
    if flags.dnssec || flags.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(flags.edns.unwrap_or(opts.payload)).set_dnssec_ok(flags.dnssec);
        m.set_edns(edns);
    }
    m
}

/// Whether `answer` answers `query`: the same id and the same question.
fn answers(query: &Message, answer: &Message) -> bool {
    answer.metadata.id == query.metadata.id && answer.queries == query.queries
}

async fn over_udp(server: SocketAddr, query: &Message, opts: &Options) -> Result<Message, DnsError> {
    let io = |source| DnsError::Io { server, source };
    let wire = query.to_vec().map_err(|e| DnsError::Malformed { server, msg: e.to_string() })?;
    let any: IpAddr = if server.is_ipv4() { Ipv4Addr::UNSPECIFIED.into() } else { Ipv6Addr::UNSPECIFIED.into() };
    let socket = UdpSocket::bind((any, 0)).await.map_err(io)?;
    socket.connect(server).await.map_err(io)?;
    let mut buf = vec![0u8; 65535];
    for _ in 0..opts.tries.max(1) {
        socket.send(&wire).await.map_err(io)?;
        let deadline = tokio::time::Instant::now() + opts.timeout;
        loop {
            match tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await {
                Err(_) => break,
                // An ICMP unreachable (nothing listens there) or a local failure: another try
                // would not change it.
                Ok(Err(e)) => return Err(io(e)),
                Ok(Ok(n)) => match Message::from_vec(&buf[..n]) {
                    Ok(m) if answers(query, &m) => return Ok(m),
                    _ => continue,
                },
            }
        }
    }
    Err(DnsError::Timeout { server, transport: Transport::Udp, tries: opts.tries.max(1), timeout: opts.timeout })
}

async fn over_tcp(server: SocketAddr, query: &Message, opts: &Options) -> Result<Message, DnsError> {
    let io = |source| DnsError::Io { server, source };
    let timeout = || DnsError::Timeout { server, transport: Transport::Tcp, tries: 1, timeout: opts.timeout };
    let wire = query.to_vec().map_err(|e| DnsError::Malformed { server, msg: e.to_string() })?;
    let exchange = async {
        let mut s = TcpStream::connect(server).await.map_err(io)?;
        // RFC 1035 4.2.2: a two-byte length, then the message.
        let mut framed = (wire.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&wire);
        s.write_all(&framed).await.map_err(io)?;
        loop {
            let mut len = [0u8; 2];
            s.read_exact(&mut len).await.map_err(io)?;
            let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
            s.read_exact(&mut msg).await.map_err(io)?;
            let m = Message::from_vec(&msg).map_err(|e| DnsError::Malformed { server, msg: e.to_string() })?;
            if answers(query, &m) {
                return Ok(m);
            }
        }
    };
    tokio::time::timeout(opts.timeout, exchange).await.map_err(|_| timeout())?
}

/// A name as users type it (`example.com`, with or without the final dot), as a fully
/// qualified DNS name.
pub fn parse_name(text: &str) -> Result<Name, DnsError> {
    let bad = |msg: String| DnsError::Question { name: text.to_string(), msg };
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("a name holds no blanks or control characters".into()));
    }
    let mut n = Name::from_ascii(text).map_err(|e| bad(e.to_string()))?;
    n.set_fqdn(true);
    Ok(n)
}

/// A name as Zonemaster writes it: lower case, no final dot (the root is `.`).
pub fn text(n: &Name) -> String {
    if n.is_root() {
        return ".".into();
    }
    n.to_lowercase().to_ascii().trim_end_matches('.').to_string()
}

/// An rcode by its registry name (RFC 6895 §2.3): `NOERROR`, `REFUSED`, as Zonemaster and dig
/// write them.
pub fn rcode_name(rc: hickory_proto::op::ResponseCode) -> String {
    let code = u16::from(rc);
    let name = match code {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        16 => "BADVERS",
        _ => return format!("RCODE{code}"),
    };
    name.to_string()
}

/// Runs `work` on each of `items`, `concurrency` at once: tasks start as others finish, so a
/// zone's worth of work is never spawned at once. Each result goes to `done` as it comes, in
/// the order they finish; an error from `done` stops the run. A task that panicked is a bug:
/// it goes on as the panic it was. `analyze` and `monitor` run their domains through it.
pub async fn at_most<I, T, Fut, E>(
    items: impl IntoIterator<Item = I>,
    concurrency: usize,
    work: impl Fn(I) -> Fut,
    mut done: impl FnMut(T) -> Result<(), E>,
) -> Result<(), E>
where
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let mut tasks = tokio::task::JoinSet::new();
    let mut todo = items.into_iter();
    loop {
        while tasks.len() < concurrency.max(1) {
            let Some(item) = todo.next() else { break };
            tasks.spawn(work(item));
        }
        match tasks.join_next().await {
            None => return Ok(()),
            Some(Ok(t)) => done(t)?,
            Some(Err(e)) => std::panic::resume_unwind(e.into_panic()),
        }
    }
}
