//! Domain names: presentation form in, wire form, and our canonical text out.
//!
//! Canonical text (what every table stores): absolute, lower-case (ASCII only, RFC 4343),
//! without the trailing dot, the root written `.`. Octets that would be ambiguous in a master
//! file are escaped: `.` `\` `"` `(` `)` `;` `@` `$` as `\X`, anything outside `!`..`~` as
//! `\DDD` (RFC 1035 §5.1). The same name written two ways always gives the same text.

use std::fmt;

/// RFC 1035 §2.3.4: a label holds at most 63 octets, a name at most 255 in wire form.
pub const MAX_LABEL: usize = 63;
pub const MAX_NAME: usize = 255;

/// Why a name token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    Empty,
    EmptyLabel,
    LabelTooLong(usize),
    NameTooLong(usize),
    BadEscape,
    NoOrigin,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::Empty => write!(f, "empty name"),
            NameError::EmptyLabel => write!(f, "empty label in name"),
            NameError::LabelTooLong(n) => write!(f, "label of {n} octets is longer than 63"),
            NameError::NameTooLong(n) => write!(f, "name of {n} octets is longer than 255"),
            NameError::BadEscape => write!(f, "bad escape in name"),
            NameError::NoOrigin => {
                write!(f, "relative name but no $ORIGIN is known (give --tld or an $ORIGIN line)")
            }
        }
    }
}

/// A zone origin: its wire form and canonical text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    wire: Vec<u8>,
    text: String,
}

impl Origin {
    /// The root origin `.`.
    pub fn root() -> Origin {
        Origin { wire: vec![0], text: ".".into() }
    }

    /// An origin from presentation text; relative text is taken as absolute.
    pub fn parse(text: &str) -> Result<Origin, NameError> {
        let t = text.trim();
        let t = if t.ends_with('.') { t.to_string() } else { format!("{t}.") };
        let mut wire = Vec::new();
        parse_wire(t.as_bytes(), None, &mut wire)?;
        Ok(Origin::from_wire(wire))
    }

    pub fn from_wire(wire: Vec<u8>) -> Origin {
        let mut text = String::new();
        wire_to_text(&wire, &mut text);
        Origin { wire, text }
    }

    pub fn wire(&self) -> &[u8] {
        &self.wire
    }

    /// Canonical text: `com`, `in-addr.arpa`, `.` for the root.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn is_root(&self) -> bool {
        self.wire.len() == 1
    }
}

/// Parses a name token (raw presentation bytes, escapes not yet applied) into wire form,
/// appended to `out`. `@` is the origin; a name without a final unescaped `.` is relative.
pub fn parse_wire(tok: &[u8], origin: Option<&Origin>, out: &mut Vec<u8>) -> Result<(), NameError> {
    if tok.is_empty() {
        return Err(NameError::Empty);
    }
    let start = out.len();
    if tok == b"@" {
        let o = origin.ok_or(NameError::NoOrigin)?;
        out.extend_from_slice(&o.wire);
        return Ok(());
    }
    if tok == b"." {
        out.push(0);
        return Ok(());
    }
    let mut len_at = out.len();
    out.push(0);
    let mut label_len = 0usize;
    let mut absolute = false;
    let mut i = 0;
    while i < tok.len() {
        // A run of octets up to the next dot or backslash is copied whole.
        let run = tok[i..].iter().position(|&b| b == b'.' || b == b'\\').unwrap_or(tok.len() - i);
        if run > 0 {
            if label_len + run > MAX_LABEL {
                return Err(NameError::LabelTooLong(label_len + count_label_rest(&tok[i..])));
            }
            label_len += run;
            out.extend_from_slice(&tok[i..i + run]);
            i += run;
            continue;
        }
        let b = tok[i];
        i += 1;
        let byte = match b {
            b'.' => {
                if label_len == 0 {
                    return Err(NameError::EmptyLabel);
                }
                out[len_at] = label_len as u8;
                if i == tok.len() {
                    absolute = true;
                    break;
                }
                len_at = out.len();
                out.push(0);
                label_len = 0;
                continue;
            }
            b'\\' => {
                let (v, used) = unescape(&tok[i..]).ok_or(NameError::BadEscape)?;
                i += used;
                v
            }
            _ => b,
        };
        label_len += 1;
        if label_len > MAX_LABEL {
            return Err(NameError::LabelTooLong(label_len + count_label_rest(&tok[i..])));
        }
        out.push(byte);
    }
    if absolute {
        out.push(0);
    } else {
        out[len_at] = label_len as u8;
        let o = origin.ok_or(NameError::NoOrigin)?;
        out.extend_from_slice(&o.wire);
    }
    let n = out.len() - start;
    if n > MAX_NAME {
        return Err(NameError::NameTooLong(n));
    }
    Ok(())
}

/// How many more octets the label that overflowed would have had, for the error message.
fn count_label_rest(rest: &[u8]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < rest.len() && rest[i] != b'.' {
        if rest[i] == b'\\' {
            i += unescape(&rest[i + 1..]).map_or(1, |(_, used)| used + 1);
        } else {
            i += 1;
        }
        n += 1;
    }
    n
}

/// The canonical text of a name token that is already canonical but for its final dot:
/// absolute, only octets canonical text holds as they are (no upper case, no escapes), no
/// label over 63 octets, at most 255 octets in wire form. None for any other token (which
/// [`parse_wire`] then reads).
pub fn plain_absolute(tok: &[u8]) -> Option<&str> {
    if plain_prefix(tok)? != tok.len() {
        return None;
    }
    std::str::from_utf8(&tok[..tok.len() - 1]).ok()
}

/// The length of the name [`plain_absolute`] would take at the start of `s` (final dot
/// included), up to the first octet no such name holds; None when what is there is not one.
pub fn plain_prefix(s: &[u8]) -> Option<usize> {
    let mut label = 0;
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if CANONICAL[b as usize] {
            label += 1;
            if label > MAX_LABEL {
                return None;
            }
        } else if b == b'.' && label > 0 {
            label = 0;
        } else {
            break;
        }
        i += 1;
    }
    // Ends with a dot after a label (`.` alone, the root, is left to the full reader); its
    // wire form, one length octet per label and the root's, is one octet longer.
    (i > 0 && label == 0 && i < MAX_NAME).then_some(i)
}

/// The wire form of a name [`plain_prefix`] accepted (`name` with its final dot).
pub fn plain_wire(name: &[u8], out: &mut Vec<u8>) {
    for label in name[..name.len() - 1].split(|&b| b == b'.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label);
    }
    out.push(0);
}

/// True when a name token needs the origin: `@`, or no final unescaped `.`.
pub fn is_relative(tok: &[u8]) -> bool {
    if tok == b"@" {
        return true;
    }
    if tok.last() != Some(&b'.') {
        return true;
    }
    // `a\.` is relative: an odd number of backslashes escapes the final dot.
    let n = tok[..tok.len() - 1].iter().rev().take_while(|&&b| b == b'\\').count();
    n % 2 == 1
}

/// One escape after its backslash: `\DDD` (0-255) or `\X`. Returns the octet and the bytes used.
pub fn unescape(rest: &[u8]) -> Option<(u8, usize)> {
    let first = *rest.first()?;
    if first.is_ascii_digit() {
        if rest.len() < 3 || !rest[1].is_ascii_digit() || !rest[2].is_ascii_digit() {
            return None;
        }
        let v = u32::from(first - b'0') * 100 + u32::from(rest[1] - b'0') * 10 + u32::from(rest[2] - b'0');
        u8::try_from(v).ok().map(|v| (v, 3))
    } else {
        Some((first, 1))
    }
}

/// Appends the canonical text of a wire-form name (see the module docs).
pub fn wire_to_text(wire: &[u8], out: &mut String) {
    let mut i = 0;
    let mut first = true;
    while i < wire.len() {
        let n = wire[i] as usize;
        if n == 0 {
            break;
        }
        if !first {
            out.push('.');
        }
        first = false;
        let end = (i + 1 + n).min(wire.len());
        let label = &wire[i + 1..end];
        // Most labels are already canonical: lower-case letters, digits, hyphens.
        match std::str::from_utf8(label) {
            Ok(text) if label.iter().all(|&b| CANONICAL[b as usize]) => out.push_str(text),
            _ => label.iter().for_each(|&b| push_label_octet(b, out)),
        }
        i = end;
    }
    if first {
        out.push('.');
    }
}

/// Octets a label's canonical text holds as they are (see [`push_label_octet`]).
static CANONICAL: [bool; 256] = canonical_octets();

const fn canonical_octets() -> [bool; 256] {
    let mut t = [false; 256];
    let mut b = 0x21;
    while b <= 0x7e {
        t[b] = !matches!(b as u8, b'A'..=b'Z' | b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$');
        b += 1;
    }
    t
}

fn push_label_octet(b: u8, out: &mut String) {
    match b {
        b'A'..=b'Z' => out.push((b + 32) as char),
        b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
            out.push('\\');
            out.push(b as char);
        }
        0x21..=0x7e => out.push(b as char),
        _ => push_ddd(b, out),
    }
}

/// `\DDD`, three decimal digits.
pub fn push_ddd(b: u8, out: &mut String) {
    out.push('\\');
    out.push((b'0' + b / 100) as char);
    out.push((b'0' + b / 10 % 10) as char);
    out.push((b'0' + b % 10) as char);
}

/// Reads one wire-form name at the start of `data`; returns its length in octets.
pub fn wire_len(data: &[u8]) -> Option<usize> {
    let mut i = 0;
    loop {
        let n = *data.get(i)? as usize;
        if n > MAX_LABEL {
            return None;
        }
        i += 1 + n;
        if n == 0 {
            return (i <= MAX_NAME).then_some(i);
        }
        if i > data.len() {
            return None;
        }
    }
}

/// An owner name that is not at or below the zone's origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfZone;

/// The name of the delegation an owner sits at or under: the owner cut to one label more than
/// the origin. `None` for the origin itself; `Err` when the owner is not inside the zone.
/// Both arguments are wire form; the result is a suffix of `owner`.
pub fn delegation_of<'a>(owner: &'a [u8], origin: &Origin) -> Result<Option<&'a [u8]>, OutOfZone> {
    let o = origin.wire();
    if owner.len() < o.len() || !owner[owner.len() - o.len()..].eq_ignore_ascii_case(o) {
        return Err(OutOfZone);
    }
    // Walk labels from the front; the suffix that is one label longer than the origin wins.
    let end = owner.len() - o.len();
    let (mut i, mut last) = (0, None);
    while i < end {
        last = Some(i);
        i += 1 + owner[i] as usize;
    }
    if i != end {
        return Err(OutOfZone); // the match was not on a label boundary
    }
    Ok(last.map(|s| &owner[s..]))
}

/// The provider of an NS host: its registrable domain by the Public Suffix List
/// (`ns1.dns.example.co.uk` -> `example.co.uk`), else the host itself.
pub fn provider(host: &str) -> String {
    psl::domain_str(host).unwrap_or(host).to_string()
}

/// A name in canonical text with its labels in reverse order (`ns1.cloudflare.com` →
/// `com.cloudflare.ns1`): the names under a domain are then one range of a sorted key, from
/// `reversed(domain) + "."` to before `reversed(domain) + "/"`. Its own inverse (an escaped dot
/// splits like a dot, both ways).
pub fn reversed(name: &str) -> String {
    let mut out = Vec::with_capacity(name.len());
    reversed_into(name.as_bytes(), &mut out);
    // Labels of UTF-8 text, split at an ASCII dot, are UTF-8 again.
    String::from_utf8(out).unwrap_or_default()
}

/// [`reversed`] of a name's bytes, appended to `out` (the importer's sort keys).
pub fn reversed_into(name: &[u8], out: &mut Vec<u8>) {
    for (i, label) in name.rsplit(|&c| c == b'.').enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        out.extend_from_slice(label);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(tok: &str, origin: &str) -> Result<String, NameError> {
        let o = Origin::parse(origin).unwrap();
        let mut w = Vec::new();
        parse_wire(tok.as_bytes(), Some(&o), &mut w)?;
        let mut s = String::new();
        wire_to_text(&w, &mut s);
        Ok(s)
    }

    #[test]
    fn canonical_text() {
        assert_eq!(text("Example.COM.", "com").unwrap(), "example.com");
        assert_eq!(text("ns1.Example", "com").unwrap(), "ns1.example.com");
        assert_eq!(text("@", "com").unwrap(), "com");
        assert_eq!(text(".", "com").unwrap(), ".");
        assert_eq!(text("com", ".").unwrap(), "com");
        assert_eq!(text("a\\.b.c.", ".").unwrap(), "a\\.b.c");
        assert_eq!(text("\\065b.", ".").unwrap(), "ab");
        assert_eq!(text("a\\000b.", ".").unwrap(), "a\\000b");
        assert_eq!(text("\\@x.", ".").unwrap(), "\\@x");
        assert_eq!(text("*.com.", ".").unwrap(), "*.com");
        assert_eq!(text("xn--Bcher-kva.EXAMPLE", "com").unwrap(), "xn--bcher-kva.example.com");
        assert_eq!(text("a\\(b\\200.c", "com").unwrap(), "a\\(b\\200.c.com");
    }

    /// Where the shortcut applies, it gives what the wire round trip gives; elsewhere it
    /// declines.
    #[test]
    fn plain_absolute_agrees_with_the_round_trip() {
        let l63 = "a".repeat(63);
        let long = ["abcdefghi"; 25].join(".") + ".abc."; // 255 octets in wire form
        let too_long = ["abcdefghi"; 25].join(".") + ".abcd.";
        let cases = ["ns1.example.net.".to_string(), "a-b_c.9.".into(), "com.".into(), "*.a.".into(), format!("{l63}.com."), long.clone()];
        for c in &cases {
            assert_eq!(plain_absolute(c.as_bytes()), Some(text(c, "com").unwrap().as_str()), "{c}");
        }
        let declined = [".", "", "a", "a..b.", ".a.", "a..", "Ns1.example.net.", "a\\.b.", "a\\065.", "a@b.", "$a.", "a b.", "é.", "a\\."]
            .map(String::from);
        for c in declined.into_iter().chain([format!("{l63}a.com."), too_long]) {
            assert_eq!(plain_absolute(c.as_bytes()), None, "{c}");
        }
    }

    #[test]
    fn limits() {
        let l63 = "a".repeat(63);
        assert!(text(&format!("{l63}.com."), ".").is_ok());
        assert_eq!(text(&format!("{l63}a.com."), "."), Err(NameError::LabelTooLong(64)));
        // The octet that overflows may come from an escape, or in the middle of a plain run.
        assert_eq!(text(&format!("{}\\065bcd.com.", "a".repeat(60)), "."), Err(NameError::LabelTooLong(64)));
        assert_eq!(text(&format!("{}\\065{}.com.", "a".repeat(30), "b".repeat(40)), "."), Err(NameError::LabelTooLong(71)));
        let long = ["abcdefghi"; 26].join(".") + ".";
        assert!(matches!(text(&long, "."), Err(NameError::NameTooLong(261))));
        let ok = ["abcdefghi"; 25].join(".") + ".";
        assert!(text(&ok, ".").is_ok());
        assert_eq!(text("a..b.", "."), Err(NameError::EmptyLabel));
        assert_eq!(text("a\\25", "."), Err(NameError::BadEscape));
        assert_eq!(text("a\\256", "."), Err(NameError::BadEscape));
    }

    #[test]
    fn delegation() {
        let com = Origin::parse("com").unwrap();
        let mut w = Vec::new();
        parse_wire(b"ns1.example.com.", None, &mut w).unwrap();
        let d = delegation_of(&w, &com).unwrap().unwrap();
        let mut s = String::new();
        wire_to_text(d, &mut s);
        assert_eq!(s, "example.com");
        assert_eq!(delegation_of(com.wire(), &com), Ok(None));
        let mut other = Vec::new();
        parse_wire(b"example.net.", None, &mut other).unwrap();
        assert!(delegation_of(&other, &com).is_err());
        let mut tricky = Vec::new();
        parse_wire(b"xcom.", None, &mut tricky).unwrap();
        assert!(delegation_of(&tricky, &com).is_err());
        let root = Origin::root();
        let d = delegation_of(&w, &root).unwrap().unwrap();
        s.clear();
        wire_to_text(d, &mut s);
        assert_eq!(s, "com");
    }

    #[test]
    fn reversed_names_put_a_domains_names_in_one_range_and_reverse_back() {
        assert_eq!(reversed("ns1.cloudflare.com"), "com.cloudflare.ns1");
        assert_eq!(reversed("com"), "com");
        for n in ["a.b.c", "a\\.b.c", "x"] {
            assert_eq!(reversed(&reversed(n)), n);
        }
        let p = reversed("cloudflare.com");
        let (lo, hi) = (format!("{p}."), format!("{p}/"));
        let within = |n: &str| {
            let r = reversed(n);
            r.as_str() >= lo.as_str() && r.as_str() < hi.as_str()
        };
        assert!(within("ns1.cloudflare.com") && within("a.b.cloudflare.com"));
        assert!(!within("cloudflare.com") && !within("ns1.cloudflare-dns.com") && !within("cloudflare.com.evil.net"));
    }
}
