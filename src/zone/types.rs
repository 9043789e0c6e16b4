//! Record types and classes: mnemonics, numbers, and which RDATA forms we decode.
//!
//! The table is IANA's "Resource Record (RR) TYPEs" registry for everything a zone file may
//! hold. Types not in it are written `TYPEnnn` (RFC 3597 §5).

/// IANA type numbers and their mnemonics, sorted by number.
const TYPES: &[(u16, &str)] = &[
    (1, "A"),
    (2, "NS"),
    (3, "MD"),
    (4, "MF"),
    (5, "CNAME"),
    (6, "SOA"),
    (7, "MB"),
    (8, "MG"),
    (9, "MR"),
    (10, "NULL"),
    (11, "WKS"),
    (12, "PTR"),
    (13, "HINFO"),
    (14, "MINFO"),
    (15, "MX"),
    (16, "TXT"),
    (17, "RP"),
    (18, "AFSDB"),
    (19, "X25"),
    (20, "ISDN"),
    (21, "RT"),
    (22, "NSAP"),
    (23, "NSAP-PTR"),
    (24, "SIG"),
    (25, "KEY"),
    (26, "PX"),
    (27, "GPOS"),
    (28, "AAAA"),
    (29, "LOC"),
    (30, "NXT"),
    (31, "EID"),
    (32, "NIMLOC"),
    (33, "SRV"),
    (34, "ATMA"),
    (35, "NAPTR"),
    (36, "KX"),
    (37, "CERT"),
    (38, "A6"),
    (39, "DNAME"),
    (40, "SINK"),
    (42, "APL"),
    (43, "DS"),
    (44, "SSHFP"),
    (45, "IPSECKEY"),
    (46, "RRSIG"),
    (47, "NSEC"),
    (48, "DNSKEY"),
    (49, "DHCID"),
    (50, "NSEC3"),
    (51, "NSEC3PARAM"),
    (52, "TLSA"),
    (53, "SMIMEA"),
    (55, "HIP"),
    (56, "NINFO"),
    (57, "RKEY"),
    (58, "TALINK"),
    (59, "CDS"),
    (60, "CDNSKEY"),
    (61, "OPENPGPKEY"),
    (62, "CSYNC"),
    (63, "ZONEMD"),
    (64, "SVCB"),
    (65, "HTTPS"),
    (66, "DSYNC"),
    (67, "HHIT"),
    (68, "BRID"),
    (99, "SPF"),
    (100, "UINFO"),
    (101, "UID"),
    (102, "GID"),
    (103, "UNSPEC"),
    (104, "NID"),
    (105, "L32"),
    (106, "L64"),
    (107, "LP"),
    (108, "EUI48"),
    (109, "EUI64"),
    (256, "URI"),
    (257, "CAA"),
    (258, "AVC"),
    (259, "DOA"),
    (260, "AMTRELAY"),
    (261, "RESINFO"),
    (262, "WALLET"),
    (263, "CLA"),
    (264, "IPN"),
    (32768, "TA"),
    (32769, "DLV"),
];

pub const A: u16 = 1;
pub const NS: u16 = 2;
/// The class nearly every zone has (RFC 1035 §3.2.4).
pub const CLASS_IN: u16 = 1;
pub const SOA: u16 = 6;
pub const TXT: u16 = 16;
pub const AAAA: u16 = 28;
pub const DS: u16 = 43;
pub const RRSIG: u16 = 46;
pub const NSEC: u16 = 47;
pub const NSEC3: u16 = 50;

/// The mnemonic of a type, or `None` when it has none (write it `TYPEnnn`).
pub fn type_name(t: u16) -> Option<&'static str> {
    // The types of nearly every TLD zone record first: each record's sort key spells its type.
    match t {
        A => return Some("A"),
        NS => return Some("NS"),
        DS => return Some("DS"),
        AAAA => return Some("AAAA"),
        _ => {}
    }
    TYPES.binary_search_by_key(&t, |&(n, _)| n).ok().map(|i| TYPES[i].1)
}

/// Appends a type's presentation form: its mnemonic or `TYPEnnn`.
pub fn push_type(t: u16, out: &mut String) {
    match type_name(t) {
        Some(n) => out.push_str(n),
        None => {
            out.push_str("TYPE");
            out.push_str(itoa_u32(t as u32).as_str());
        }
    }
}

/// A type from its mnemonic (any case) or `TYPEnnn` (RFC 3597 §5).
pub fn parse_type(tok: &[u8]) -> Option<u16> {
    // The common CZDS types first: a linear scan of the table costs more than these compares.
    match tok.len() {
        1 if tok[0].eq_ignore_ascii_case(&b'a') => return Some(A),
        2 if tok.eq_ignore_ascii_case(b"ns") => return Some(NS),
        2 if tok.eq_ignore_ascii_case(b"ds") => return Some(DS),
        4 if tok.eq_ignore_ascii_case(b"aaaa") => return Some(AAAA),
        _ => {}
    }
    if let Some(&(n, _)) = TYPES.iter().find(|(_, name)| name.as_bytes().eq_ignore_ascii_case(tok)) {
        return Some(n);
    }
    if tok.len() > 4 && tok[..4].eq_ignore_ascii_case(b"TYPE") {
        return parse_decimal(&tok[4..]).and_then(|v| u16::try_from(v).ok());
    }
    None
}

/// A class from `IN`, `CH`, `HS`, `NONE`, `ANY` or `CLASSnn` (RFC 3597 §5), any case.
pub fn parse_class(tok: &[u8]) -> Option<u16> {
    if tok.eq_ignore_ascii_case(b"IN") {
        Some(CLASS_IN)
    } else if tok.eq_ignore_ascii_case(b"CH") || tok.eq_ignore_ascii_case(b"CS") {
        Some(if tok[1].eq_ignore_ascii_case(&b'H') { 3 } else { 2 })
    } else if tok.eq_ignore_ascii_case(b"HS") {
        Some(4)
    } else if tok.len() > 5 && tok[..5].eq_ignore_ascii_case(b"CLASS") {
        parse_decimal(&tok[5..]).and_then(|v| u16::try_from(v).ok())
    } else {
        None
    }
}

/// The presentation form of a class number.
pub fn class_name(c: u16) -> String {
    match c {
        CLASS_IN => "IN".into(),
        2 => "CS".into(),
        3 => "CH".into(),
        4 => "HS".into(),
        n => format!("CLASS{n}"),
    }
}

/// Plain unsigned decimal, no sign, no units; `None` on anything else or overflow of u64.
pub fn parse_decimal(tok: &[u8]) -> Option<u64> {
    if tok.is_empty() || tok.len() > 19 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in tok {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u64::from(b - b'0');
    }
    Some(v)
}

/// A u32 in decimal on the stack, for the hot paths that would otherwise `format!`.
pub fn itoa_u32(mut v: u32) -> DecimalBuf {
    let mut buf = [0u8; 10];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    DecimalBuf { buf, start: i as u8 }
}

/// The digits [`itoa_u32`] wrote.
pub struct DecimalBuf {
    buf: [u8; 10],
    start: u8,
}

impl DecimalBuf {
    pub fn as_str(&self) -> &str {
        // Only ASCII digits were written.
        std::str::from_utf8(&self.buf[self.start as usize..]).unwrap_or("0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_round_trip() {
        for &(n, name) in TYPES {
            assert_eq!(parse_type(name.as_bytes()), Some(n), "{name}");
            assert_eq!(parse_type(name.to_ascii_lowercase().as_bytes()), Some(n));
        }
        assert!(TYPES.windows(2).all(|w| w[0].0 < w[1].0), "table must stay sorted");
        assert_eq!(parse_type(b"TYPE65280"), Some(65280));
        assert_eq!(parse_type(b"type1"), Some(1));
        assert_eq!(parse_type(b"TYPE65536"), None);
        assert_eq!(parse_type(b"BOGUS"), None);
        let mut s = String::new();
        push_type(65280, &mut s);
        assert_eq!(s, "TYPE65280");
    }

    #[test]
    fn classes() {
        assert_eq!(parse_class(b"in"), Some(1));
        assert_eq!(parse_class(b"CH"), Some(3));
        assert_eq!(parse_class(b"hs"), Some(4));
        assert_eq!(parse_class(b"CLASS1"), Some(1));
        assert_eq!(parse_class(b"CLASS255"), Some(255));
        assert_eq!(parse_class(b"CLASS"), None);
        assert_eq!(parse_class(b"A"), None);
    }

    #[test]
    fn itoa() {
        assert_eq!(itoa_u32(0).as_str(), "0");
        assert_eq!(itoa_u32(172800).as_str(), "172800");
        assert_eq!(itoa_u32(u32::MAX).as_str(), "4294967295");
    }
}
