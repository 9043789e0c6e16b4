//! Root hints: the servers iterative resolution starts from. IANA's are built in (its
//! `named.root`, the 13 root servers); `--root-hints FILE` replaces them with a master file of
//! NS records at the root and the addresses of their targets, as the tests' lab writes. Both
//! are read by zonefeed's own zone parser.

use std::net::IpAddr;
use std::path::Path;

use crate::zone::name::Origin;
use crate::zone::parser::{parse_chunk, State, VecSink};

/// IANA's root hints (www.internic.net/domain/named.root), the NS and address records.
const IANA: &str = "\
.                        3600000      NS    A.ROOT-SERVERS.NET.
A.ROOT-SERVERS.NET.      3600000      A     198.41.0.4
A.ROOT-SERVERS.NET.      3600000      AAAA  2001:503:ba3e::2:30
.                        3600000      NS    B.ROOT-SERVERS.NET.
B.ROOT-SERVERS.NET.      3600000      A     170.247.170.2
B.ROOT-SERVERS.NET.      3600000      AAAA  2801:1b8:10::b
.                        3600000      NS    C.ROOT-SERVERS.NET.
C.ROOT-SERVERS.NET.      3600000      A     192.33.4.12
C.ROOT-SERVERS.NET.      3600000      AAAA  2001:500:2::c
.                        3600000      NS    D.ROOT-SERVERS.NET.
D.ROOT-SERVERS.NET.      3600000      A     199.7.91.13
D.ROOT-SERVERS.NET.      3600000      AAAA  2001:500:2d::d
.                        3600000      NS    E.ROOT-SERVERS.NET.
E.ROOT-SERVERS.NET.      3600000      A     192.203.230.10
E.ROOT-SERVERS.NET.      3600000      AAAA  2001:500:a8::e
.                        3600000      NS    F.ROOT-SERVERS.NET.
F.ROOT-SERVERS.NET.      3600000      A     192.5.5.241
F.ROOT-SERVERS.NET.      3600000      AAAA  2001:500:2f::f
.                        3600000      NS    G.ROOT-SERVERS.NET.
G.ROOT-SERVERS.NET.      3600000      A     192.112.36.4
G.ROOT-SERVERS.NET.      3600000      AAAA  2001:500:12::d0d
.                        3600000      NS    H.ROOT-SERVERS.NET.
H.ROOT-SERVERS.NET.      3600000      A     198.97.190.53
H.ROOT-SERVERS.NET.      3600000      AAAA  2001:500:1::53
.                        3600000      NS    I.ROOT-SERVERS.NET.
I.ROOT-SERVERS.NET.      3600000      A     192.36.148.17
I.ROOT-SERVERS.NET.      3600000      AAAA  2001:7fe::53
.                        3600000      NS    J.ROOT-SERVERS.NET.
J.ROOT-SERVERS.NET.      3600000      A     192.58.128.30
J.ROOT-SERVERS.NET.      3600000      AAAA  2001:503:c27::2:30
.                        3600000      NS    K.ROOT-SERVERS.NET.
K.ROOT-SERVERS.NET.      3600000      A     193.0.14.129
K.ROOT-SERVERS.NET.      3600000      AAAA  2001:7fd::1
.                        3600000      NS    L.ROOT-SERVERS.NET.
L.ROOT-SERVERS.NET.      3600000      A     199.7.83.42
L.ROOT-SERVERS.NET.      3600000      AAAA  2001:500:9f::42
.                        3600000      NS    M.ROOT-SERVERS.NET.
M.ROOT-SERVERS.NET.      3600000      A     202.12.27.33
M.ROOT-SERVERS.NET.      3600000      AAAA  2001:dc3::35
";

/// The root's name servers and their addresses, in the order the hints give them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hints {
    pub servers: Vec<(String, Vec<IpAddr>)>,
}

/// A hints file that cannot be used; exit code 2, as a bad flag.
#[derive(Debug, thiserror::Error)]
pub enum HintsError {
    #[error("root hints `{file}`: {source}")]
    Read { file: String, source: std::io::Error },
    #[error("root hints `{file}`:{line}: {msg}")]
    Syntax { file: String, line: u64, msg: String },
    #[error("root hints `{file}`: no NS record at the root with an address (a hints file holds `. NS name` and `name A address` lines)")]
    Empty { file: String },
}

/// IANA's root servers.
pub fn iana() -> Hints {
    parse(IANA.as_bytes(), "(built in)").unwrap_or(Hints { servers: Vec::new() })
}

/// The hints in `path`.
pub fn load(path: &Path) -> Result<Hints, HintsError> {
    let file = path.display().to_string();
    let text = std::fs::read(path).map_err(|source| HintsError::Read { file: file.clone(), source })?;
    parse(&text, &file)
}

fn parse(text: &[u8], file: &str) -> Result<Hints, HintsError> {
    let root = Origin::parse(".").map_err(|e| HintsError::Syntax { file: file.into(), line: 0, msg: e.to_string() })?;
    let mut sink = VecSink::default();
    let out = parse_chunk(text, 1, State { origin: Some(root), ..State::default() }, &mut sink);
    if let Some(e) = out.errors.first() {
        return Err(HintsError::Syntax { file: file.into(), line: e.line, msg: e.msg.clone() });
    }
    let records = sink.0;
    let is_root = |o: &str| o.is_empty() || o == ".";
    let mut servers: Vec<(String, Vec<IpAddr>)> = Vec::new();
    for r in records.iter().filter(|r| r.rtype == "NS" && is_root(&r.owner)) {
        let name = r.rdata.trim_end_matches('.').to_ascii_lowercase();
        if !servers.iter().any(|(n, _)| *n == name) {
            servers.push((name, Vec::new()));
        }
    }
    for r in records.iter().filter(|r| r.rtype == "A" || r.rtype == "AAAA") {
        let owner = r.owner.trim_end_matches('.').to_ascii_lowercase();
        if let (Some((_, addrs)), Ok(ip)) = (servers.iter_mut().find(|(n, _)| *n == owner), r.rdata.parse::<IpAddr>()) {
            addrs.push(ip);
        }
    }
    servers.retain(|(_, a)| !a.is_empty());
    if servers.is_empty() {
        return Err(HintsError::Empty { file: file.into() });
    }
    Ok(Hints { servers })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iana_hints_are_the_13_root_servers_with_both_families() {
        let h = iana();
        assert_eq!(h.servers.len(), 13);
        assert_eq!(h.servers[0].0, "a.root-servers.net");
        assert_eq!(h.servers[0].1, ["198.41.0.4".parse::<IpAddr>().unwrap(), "2001:503:ba3e::2:30".parse().unwrap()]);
        assert!(h.servers.iter().all(|(_, a)| a.len() == 2));
    }

    #[test]
    fn a_hints_file_is_a_master_file_and_garbage_is_named_with_its_line() {
        let h = parse(b"$TTL 3600\n. NS root.zf.\nroot.zf. A 127.53.0.1\n", "hints").unwrap();
        assert_eq!(h.servers, [("root.zf".to_string(), vec!["127.53.0.1".parse::<IpAddr>().unwrap()])]);
        let e = parse(b". 3600 NS root.zf.\nthis is not a record\n", "lab/hints").unwrap_err().to_string();
        assert!(e.starts_with("root hints `lab/hints`:2: "), "{e}");
        let e = parse(b"example. 3600 A 192.0.2.1\n", "h").unwrap_err().to_string();
        assert!(e.contains("no NS record at the root"), "{e}");
    }
}
