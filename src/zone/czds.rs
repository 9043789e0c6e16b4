//! A fast path for the form CZDS serves: one record a line, fields split by one tab,
//! `owner.<TAB>ttl<TAB>in<TAB>type<TAB>rdata`, names absolute and lower case.
//!
//! It reads the NS, DS and A lines that make up nearly all of a TLD zone, where the text as
//! written already is the canonical text (DS digests only change case). Any other line, or
//! one it is not sure of (upper case, escapes, a comment, a TTL with units, a leading zero,
//! another type...), it declines without a word, and the full lexer and parser read it: so
//! the records, errors and parse state equal the full parser's, which the `parse` fuzz target
//! and the tests check by running both.

use super::name;
use super::types;

/// A line this path read.
#[derive(Debug, PartialEq, Eq)]
pub struct Line<'a> {
    /// The owner as written, final dot included.
    pub owner: &'a [u8],
    pub ttl: u32,
    pub rtype: u16,
    /// The RDATA as written (the canonical text but for an NS target's final dot and a DS
    /// digest's case: see [`Line::push_rdata`]).
    rdata: &'a [u8],
    /// Bytes the line took, its newline included.
    pub len: usize,
    /// False for a last line without a newline.
    pub newline: bool,
}

/// The line at the start of `s`, when it is a record this path reads exactly as the full
/// parser does.
pub fn read(s: &[u8]) -> Option<Line<'_>> {
    let o = name::plain_prefix(s)?;
    let mut i = after(s, o, b'\t')?;
    let (ttl, n) = ttl(&s[i..])?;
    i = after(s, i + n, b'\t')?;
    if !s.get(i..i + 2)?.eq_ignore_ascii_case(b"in") {
        return None;
    }
    i = after(s, i + 2, b'\t')?;
    let t = i;
    while s.get(i).is_some_and(u8::is_ascii_alphabetic) {
        i += 1;
    }
    let rtype = match &s[t..i] {
        b"ns" | b"NS" => types::NS,
        b"ds" | b"DS" => types::DS,
        b"a" | b"A" => types::A,
        _ => return None,
    };
    i = after(s, i, b'\t')?;
    let r = &s[i..];
    let n = match rtype {
        types::NS => name::plain_prefix(r)?,
        types::DS => ds(r)?,
        _ => ipv4(r)?,
    };
    let (len, newline) = match r.get(n) {
        None => (i + n, false),
        Some(b'\n') => (i + n + 1, true),
        Some(_) => return None,
    };
    Some(Line { owner: &s[..o], ttl, rtype, rdata: &r[..n], len, newline })
}

impl Line<'_> {
    /// Appends the canonical RDATA text to `out`.
    pub fn push_rdata(&self, out: &mut String) {
        let text = if self.rtype == types::NS { &self.rdata[..self.rdata.len() - 1] } else { self.rdata };
        // Only ASCII got this far.
        out.push_str(std::str::from_utf8(text).unwrap_or_default());
        if self.rtype == types::DS {
            out.make_ascii_uppercase();
        }
    }
}

/// The index after the separator `sep` at `i`.
fn after(s: &[u8], i: usize, sep: u8) -> Option<usize> {
    (s.get(i) == Some(&sep)).then_some(i + 1)
}

/// Decimal seconds of at most 10 digits, at most 2^31-1 (RFC 2181 §8), and their length.
fn ttl(s: &[u8]) -> Option<(u32, usize)> {
    let (v, n) = digits(s, 10)?;
    Some((u32::try_from(v).ok().filter(|&v| v <= i32::MAX as u32)?, n))
}

/// Leading decimal digits, at most `max` of them: their value and count.
fn digits(s: &[u8], max: usize) -> Option<(u64, usize)> {
    let mut v = 0u64;
    let mut n = 0;
    while let Some(&b) = s.get(n).filter(|b| b.is_ascii_digit()) {
        n += 1;
        if n > max {
            return None;
        }
        v = v * 10 + u64::from(b - b'0');
    }
    (n > 0).then_some((v, n))
}

/// A number as the canonical text writes it (no leading zero), at most `max`: its length.
fn canonical_number(s: &[u8], max: u64) -> Option<usize> {
    let (v, n) = digits(s, 5)?;
    (v <= max && (n == 1 || s[0] != b'0')).then_some(n)
}

/// Dotted-quad IPv4 as its canonical text writes it: its length.
fn ipv4(s: &[u8]) -> Option<usize> {
    let mut i = 0;
    for part in 0..4 {
        if part > 0 {
            i = after(s, i, b'.')?;
        }
        i += canonical_number(&s[i..], 255)?;
    }
    Some(i)
}

/// `keytag algorithm digest-type DIGEST` (RFC 4034 §5.3), numbers as the canonical text
/// writes them, the digest one run of hex digits: its length.
fn ds(s: &[u8]) -> Option<usize> {
    let mut i = canonical_number(s, u16::MAX.into())?;
    for _ in 0..2 {
        i = after(s, i, b' ')?;
        i += canonical_number(&s[i..], u8::MAX.into())?;
    }
    i = after(s, i, b' ')?;
    let hex = s[i..].iter().take(MAX_DIGEST + 1).take_while(|b| b.is_ascii_hexdigit()).count();
    (hex > 0 && hex % 2 == 0 && hex <= MAX_DIGEST).then_some(i + hex)
}

/// The longest DS digest this path reads, in hex digits (SHA-384's is 96; longer ones go to
/// the full parser).
const MAX_DIGEST: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    fn rdata(l: &Line<'_>) -> String {
        let mut s = String::new();
        l.push_rdata(&mut s);
        s
    }

    #[test]
    fn reads_the_czds_form() {
        let z = b"a.com.\t172800\tin\tns\tns1.b.net.\nns1.a.com.\t1\tIN\tA\t192.0.2.10\nb.com.\t86400\tin\tds\t60485 13 2 ab09\n";
        let l = read(z).unwrap();
        assert_eq!((l.owner, l.ttl, l.rtype, rdata(&l).as_str(), l.newline), (&b"a.com."[..], 172800, types::NS, "ns1.b.net", true));
        let l2 = read(&z[l.len..]).unwrap();
        assert_eq!((l2.owner, l2.rtype, rdata(&l2).as_str()), (&b"ns1.a.com."[..], types::A, "192.0.2.10"));
        let l3 = read(&z[l.len + l2.len..]).unwrap();
        assert_eq!((l3.rtype, rdata(&l3).as_str(), l3.len), (types::DS, "60485 13 2 AB09", z.len() - l.len - l2.len));
        let last = read(b"a.com.\t1\tin\tns\tb.net.").unwrap();
        assert!(!last.newline);
    }

    #[test]
    fn declines_what_the_full_parser_must_read() {
        let declined = [
            "A.com.\t1\tin\tns\tb.net.\n",      // upper case owner: the wire keeps its case
            "a.com.\t1\tin\tns\tB.net.\n",      // upper case target
            "a.com \t1\tin\tns\tb.net.\n",      // a blank before the tab
            "a.com\t1\tin\tns\tb.net.\n",       // relative owner
            "a.com.\t1h\tin\tns\tb.net.\n",     // TTL units
            "a.com.\t2147483648\tin\tns\tb.\n", // TTL over 2^31-1
            "a.com.\t1\tch\tns\tb.net.\n",      // another class
            "a.com.\t1\tin\ttxt\t\"x\"\n",      // another type
            "a.com.\t1\tin\tns\tb.net. ; c\n",  // a comment
            "a.com.\t1\tin\tns\tb.net.\r\n",    // CR
            "a.com.\t1\tin\tns\tb\\.net.\n",    // an escape
            "a.com.\t1\tin\ta\t01.2.3.4\n",     // a leading zero
            "a.com.\t1\tin\ta\t1.2.3.256\n",
            "a.com.\t1\tin\ta\t1.2.3\n",
            "a.com.\t1\tin\tds\t1 13 2 abc\n", // odd digest
            "a.com.\t1\tin\tds\t1 013 2 ab\n",
            "a.com.\t1\tin\tds\t65536 13 2 ab\n",
            "a.com.\t1\tin\tds\t1 13 2 ab cd\n", // digest in two tokens
            "a.com.\t1\tin\tds\t1 RSASHA256 2 ab\n",
            ".\t1\tin\tns\tb.net.\n",
            "$ORIGIN com.\n",
            "\tns\tb.net.\n",
        ];
        for d in declined {
            assert_eq!(read(d.as_bytes()), None, "{d:?}");
        }
        let long = format!("a.com.\t1\tin\tds\t1 13 2 {}\n", "ab".repeat(MAX_DIGEST));
        assert_eq!(read(long.as_bytes()), None);
    }
}
