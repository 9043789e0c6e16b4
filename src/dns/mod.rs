//! Live DNS, the first piece of the engine (issue 30): one question to one server, over UDP
//! with EDNS0 and again over TCP when the answer comes back truncated, with a timeout and
//! retries; and the guard that keeps questions off private and reserved addresses unless they
//! are allowed. Messages are built and read by `hickory-proto`; nothing here encodes DNS.

pub mod guard;
pub mod hints;

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
    /// The EDNS0 UDP payload size offered (1232: the DNS flag day 2020's advice).
    pub payload: u16,
    /// The DO bit: ask for DNSSEC records.
    pub dnssec_ok: bool,
    /// Allows private, loopback and other reserved addresses ([`guard`]).
    pub allow_private: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { timeout: Duration::from_secs(2), tries: 2, payload: 1232, dnssec_ok: false, allow_private: false }
    }
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
    pub answer: Result<Message, DnsError>,
}

/// Asks `server` for `name`/`rtype`: over UDP (again over TCP when the answer is truncated),
/// or over TCP alone when `tcp`. An answer whose id or question is not ours is ignored, as a
/// spoofed or late one is, and the wait goes on.
pub async fn ask(server: SocketAddr, name: &Name, rtype: RecordType, opts: &Options, tcp: bool) -> Exchange {
    let started = Instant::now();
    let mut transport = if tcp { Transport::Tcp } else { Transport::Udp };
    let answer = match guard::check(server.ip(), opts.allow_private) {
        Err(why) => Err(DnsError::Refused { addr: server.ip(), why }),
        Ok(()) => {
            let query = question(name, rtype, opts);
            let mut r = if tcp { over_tcp(server, &query, opts).await } else { over_udp(server, &query, opts).await };
            if matches!(&r, Ok(m) if m.metadata.truncation) {
                transport = Transport::Tcp;
                r = over_tcp(server, &query, opts).await;
            }
            r
        }
    };
    Exchange { server, name: name.clone(), rtype, transport, elapsed: started.elapsed(), answer }
}

/// The query message: no recursion wanted (the engine asks authoritative servers), EDNS0
/// with our payload size and the DO bit as asked.
fn question(name: &Name, rtype: RecordType, opts: &Options) -> Message {
    let mut m = Message::query();
    m.metadata.recursion_desired = false;
    m.add_query(Query::query(name.clone(), rtype));
    let mut edns = Edns::new();
    edns.set_max_payload(opts.payload).set_dnssec_ok(opts.dnssec_ok);
    m.set_edns(edns);
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
