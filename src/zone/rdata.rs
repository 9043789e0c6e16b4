//! RDATA: presentation form -> wire form -> canonical presentation form.
//!
//! Every type we know the layout of is read into its wire form (RFC 1035 §3.3 and the RFC of
//! each type) and written back from it, so two spellings of one record (`\# 4 c0000201` and
//! `192.0.2.1`, `0x`-free hex in any case, base64 broken across lines) come out identical:
//! numbers in decimal, names canonical ([`super::name`]), IPv6 as RFC 5952 writes it, strings
//! quoted with `\DDD` outside printable ASCII, hex and base32hex upper case, base64 unbroken.
//! A type whose layout we do not know keeps RFC 3597's generic `\# len HEX`.

use std::net::{Ipv4Addr, Ipv6Addr};

use data_encoding::{BASE32HEX_NOPAD, BASE64, HEXUPPER, HEXUPPER_PERMISSIVE};

use super::name::{self, Origin};
use super::types::{self, itoa_u32};

/// RFC 1035 §3.2.1: RDLENGTH is 16 bits.
pub const MAX_RDATA: usize = 65535;
/// RFC 1035 §3.3: a <character-string> holds at most 255 octets.
pub const MAX_STRING: usize = 255;

/// One field of a type's RDATA layout.
#[derive(Clone, Copy, Debug)]
enum F {
    U8,
    U16,
    U32,
    /// A u32 that may be written with TTL units (SOA timers).
    Period,
    Name,
    Ip4,
    Ip6,
    /// One <character-string>.
    Str,
    /// One or more <character-string>s, to the end.
    Strs,
    /// Hex to the end, possibly split into several tokens.
    Hex,
    /// Base64 to the end, possibly split into several tokens.
    B64,
    /// A length-prefixed hex string, `-` for none (NSEC3 salt).
    Salt,
    /// A length-prefixed base32hex string (NSEC3 next hashed owner).
    B32,
    /// A type bitmap to the end (RFC 4034 §4.1.2).
    Bitmap,
    /// RRSIG time: YYYYMMDDHHmmSS or seconds (RFC 4034 §3.2).
    Time,
    /// A DNSSEC algorithm number or mnemonic.
    Alg,
    /// A type mnemonic stored as u16 (RRSIG type covered).
    Type,
    /// CAA tag: a length-prefixed alphanumeric word.
    Tag,
    /// A string to the end of RDATA without a length prefix (CAA value, URI target).
    Tail,
    /// SVCB parameters to the end (RFC 9460 §2.1).
    Svc,
    /// EUI-48 / EUI-64: hex pairs joined by `-` (RFC 7043 §3.2, §4.2).
    Eui(usize),
    /// NSAP: `0x` and hex, dots allowed (RFC 1706 §5).
    Nsap,
}

use F::*;

fn layout(t: u16) -> Option<&'static [F]> {
    Some(match t {
        1 => &[Ip4],
        28 => &[Ip6],
        2 | 3 | 4 | 5 | 7 | 8 | 9 | 12 | 39 => &[Name],
        6 => &[Name, Name, U32, Period, Period, Period, Period],
        13 => &[Str, Str],
        14 | 17 => &[Name, Name],
        15 | 18 | 21 | 36 => &[U16, Name],
        16 | 99 => &[Strs],
        26 => &[U16, Name, Name],
        33 => &[U16, U16, U16, Name],
        35 => &[U16, U16, Str, Str, Str, Name],
        43 | 59 | 32768 | 32769 => &[U16, Alg, U8, Hex],
        44 => &[U8, U8, Hex],
        46 | 24 => &[Type, Alg, U8, U32, Time, Time, U16, Name, B64],
        47 => &[Name, Bitmap],
        48 | 60 | 25 => &[U16, U8, Alg, B64],
        49 | 61 => &[B64],
        50 => &[U8, U8, U16, Salt, B32, Bitmap],
        51 => &[U8, U8, U16, Salt],
        52 | 53 => &[U8, U8, U8, Hex],
        62 => &[U32, U16, Bitmap],
        63 => &[U32, U8, U8, Hex],
        64 | 65 => &[U16, Name, Svc],
        256 => &[U16, U16, Tail],
        257 => &[U8, Tag, Tail],
        22 => &[Nsap],
        108 => &[Eui(6)],
        109 => &[Eui(8)],
        _ => return None,
    })
}

/// A token handed to RDATA parsing: raw bytes and whether it was quoted.
#[derive(Clone, Copy, Debug)]
pub struct Tok<'a> {
    pub text: &'a [u8],
    pub quoted: bool,
}

/// Scratch space reused across records.
#[derive(Default)]
pub struct Scratch {
    wire: Vec<u8>,
    tmp: Vec<u8>,
    /// Set when a relative name in the RDATA was completed with the origin.
    pub used_origin: bool,
}

/// Writes the canonical RDATA of a record of type `t` from its tokens into `out`, checking
/// the 65535-octet limit on its wire form.
pub fn canonical(t: u16, toks: &[Tok<'_>], origin: Option<&Origin>, s: &mut Scratch, out: &mut String) -> Result<(), String> {
    s.wire.clear();
    s.used_origin = false;
    // One plain absolute name (NS, CNAME, PTR... in a TLD zone nearly every record): its text
    // without the final dot already is what the wire round trip below would give.
    if let ([tok], Some([Name])) = (toks, layout(t)) {
        if let Some(text) = name::plain_absolute(tok.text).filter(|_| !tok.quoted) {
            out.push_str(text);
            return Ok(());
        }
    }
    let generic = toks.first().is_some_and(|t| !t.quoted && t.text == b"\\#");
    if generic {
        read_generic(&toks[1..], &mut s.wire)?;
    } else if let Some(l) = layout(t) {
        encode(l, toks, origin, &mut s.wire, &mut s.tmp, &mut s.used_origin)?;
    } else if types::type_name(t).is_some() && !matches!(t, 10 | 103) {
        // (NULL and UNSPEC have no presentation form but `\#`. Only APL may be empty.)
        if toks.is_empty() && t != 42 {
            return Err("missing RDATA".into());
        }
        // A type we can name but whose layout we do not decode: keep its text, spaces folded.
        for (i, tok) in toks.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            if tok.quoted {
                push_quoted(&unescape_string(tok.text)?, out);
            } else {
                // Raw octets outside printable ASCII become \DDD: the text must never hold a
                // NUL or a blank (the fuzzer found a NUL splitting a sort key).
                for &b in tok.text {
                    match b {
                        0x21..=0x7e => out.push(b as char),
                        _ => name::push_ddd(b, out),
                    }
                }
            }
        }
        return Ok(());
    } else {
        return Err("RDATA of an unknown type must be written in RFC 3597 form (\\# length hex)".into());
    }
    if s.wire.len() > MAX_RDATA {
        return Err(format!("RDATA of {} octets is longer than 65535", s.wire.len()));
    }
    if t == 50 && s.wire.len() > 5 {
        let salt = s.wire[4] as usize;
        if s.wire[0] == 1 && s.wire.get(5 + salt) != Some(&20) {
            return Err("NSEC3 with SHA-1 (algorithm 1) needs a 20-octet next hashed owner".into());
        }
    }
    match layout(t) {
        Some(l) => decode(l, &s.wire, out).map_err(|e| format!("RDATA does not fit its type: {e}"))?,
        None => push_generic(&s.wire, out),
    }
    Ok(())
}

fn read_generic(toks: &[Tok<'_>], wire: &mut Vec<u8>) -> Result<(), String> {
    let len = toks.first().and_then(|t| types::parse_decimal(t.text)).ok_or("\\# must be followed by the RDATA length")? as usize;
    if len > MAX_RDATA {
        return Err(format!("RDATA of {len} octets is longer than 65535"));
    }
    let mut hex = Vec::new();
    for t in &toks[1..] {
        hex.extend_from_slice(t.text);
    }
    let data = HEXUPPER_PERMISSIVE.decode(&hex).map_err(|_| "bad hex in \\# RDATA".to_string())?;
    if data.len() != len {
        return Err(format!("\\# says {len} octets but the hex holds {}", data.len()));
    }
    wire.extend_from_slice(&data);
    Ok(())
}

fn push_generic(wire: &[u8], out: &mut String) {
    out.push_str("\\# ");
    out.push_str(itoa_u32(wire.len() as u32).as_str());
    if !wire.is_empty() {
        out.push(' ');
        out.push_str(&HEXUPPER.encode(wire));
    }
}

fn encode(
    layout: &[F],
    toks: &[Tok<'_>],
    origin: Option<&Origin>,
    w: &mut Vec<u8>,
    tmp: &mut Vec<u8>,
    used_origin: &mut bool,
) -> Result<(), String> {
    let mut i = 0;
    fn take<'t>(toks: &[Tok<'t>], i: &mut usize, what: &str) -> Result<Tok<'t>, String> {
        let t = toks.get(*i).copied().ok_or_else(|| format!("missing {what} in RDATA"))?;
        *i += 1;
        Ok(t)
    }
    for f in layout {
        let mut next = |what: &str| take(toks, &mut i, what);
        match f {
            U8 => w.push(num(next("number")?.text, u8::MAX.into())? as u8),
            U16 => w.extend_from_slice(&(num(next("number")?.text, u16::MAX.into())? as u16).to_be_bytes()),
            U32 => w.extend_from_slice(&(num(next("number")?.text, u32::MAX.into())? as u32).to_be_bytes()),
            Period => {
                let t = next("number")?.text;
                let v = parse_ttl(t).ok_or_else(|| format!("bad time value `{}`", lossy(t)))?;
                w.extend_from_slice(&v.to_be_bytes());
            }
            Name => {
                let t = next("name")?;
                *used_origin |= name::is_relative(t.text);
                name::parse_wire(t.text, origin, w).map_err(|e| e.to_string())?;
            }
            Ip4 => {
                let t = next("address")?.text;
                let a: Ipv4Addr =
                    std::str::from_utf8(t).ok().and_then(|s| s.parse().ok()).ok_or_else(|| format!("bad IPv4 address `{}`", lossy(t)))?;
                w.extend_from_slice(&a.octets());
            }
            Ip6 => {
                let t = next("address")?.text;
                let a: Ipv6Addr =
                    std::str::from_utf8(t).ok().and_then(|s| s.parse().ok()).ok_or_else(|| format!("bad IPv6 address `{}`", lossy(t)))?;
                w.extend_from_slice(&a.octets());
            }
            Str => push_string(w, &unescape_string(next("string")?.text)?)?,
            Strs => {
                if toks.get(i).is_none() {
                    return Err("missing string in RDATA".into());
                }
                while let Some(t) = toks.get(i) {
                    push_string(w, &unescape_string(t.text)?)?;
                    i += 1;
                }
            }
            Hex | B64 => {
                tmp.clear();
                while let Some(t) = toks.get(i) {
                    tmp.extend_from_slice(t.text);
                    i += 1;
                }
                if matches!(f, Hex) {
                    if tmp.as_slice() == b"-" {
                        tmp.clear(); // some writers spell an empty digest "-"
                    }
                    let d = HEXUPPER_PERMISSIVE.decode(tmp).map_err(|_| format!("bad hex `{}`", lossy(tmp)))?;
                    w.extend_from_slice(&d);
                } else {
                    if tmp.is_empty() {
                        return Err("missing base64 data in RDATA".into());
                    }
                    let d = BASE64.decode(tmp).map_err(|_| format!("bad base64 `{}`", short(tmp)))?;
                    w.extend_from_slice(&d);
                }
            }
            Salt => {
                let t = next("salt")?.text;
                let d =
                    if t == b"-" { Vec::new() } else { HEXUPPER_PERMISSIVE.decode(t).map_err(|_| format!("bad salt `{}`", lossy(t)))? };
                if d.len() > 255 {
                    return Err("salt longer than 255 octets".into());
                }
                w.push(d.len() as u8);
                w.extend_from_slice(&d);
            }
            B32 => {
                let t = next("hash")?.text.to_ascii_uppercase();
                let d = BASE32HEX_NOPAD.decode(&t).map_err(|_| format!("bad base32hex `{}`", lossy(&t)))?;
                if d.len() > 255 {
                    return Err("hash longer than 255 octets".into());
                }
                w.push(d.len() as u8);
                w.extend_from_slice(&d);
            }
            Bitmap => {
                let mut ts = Vec::new();
                while let Some(t) = toks.get(i) {
                    ts.push(types::parse_type(t.text).ok_or_else(|| format!("unknown type `{}` in bitmap", lossy(t.text)))?);
                    i += 1;
                }
                write_bitmap(&mut ts, w);
            }
            Time => {
                let t = next("time")?.text;
                w.extend_from_slice(&parse_time(t).ok_or_else(|| format!("bad time `{}`", lossy(t)))?.to_be_bytes());
            }
            Alg => {
                let t = next("algorithm")?.text;
                let v = match types::parse_decimal(t) {
                    Some(v) if v <= 255 => v as u8,
                    Some(_) => return Err(format!("algorithm `{}` out of range", lossy(t))),
                    None => alg_mnemonic(t).ok_or_else(|| format!("unknown algorithm `{}`", lossy(t)))?,
                };
                w.push(v);
            }
            Type => {
                let t = next("type")?.text;
                let v = types::parse_type(t).ok_or_else(|| format!("unknown type `{}`", lossy(t)))?;
                w.extend_from_slice(&v.to_be_bytes());
            }
            Tag => {
                let t = unescape_string(next("tag")?.text)?;
                if t.is_empty() || t.len() > 255 || !t.iter().all(u8::is_ascii_alphanumeric) {
                    return Err(format!("bad CAA tag `{}`", lossy(&t)));
                }
                w.push(t.len() as u8);
                w.extend_from_slice(&t);
            }
            Tail => w.extend_from_slice(&unescape_string(next("value")?.text)?),
            Svc => {
                encode_svc(&toks[i..], w)?;
                i = toks.len();
            }
            Eui(n) => {
                let t = next("address")?.text;
                let parts: Vec<&[u8]> = t.split(|&b| b == b'-').collect();
                if parts.len() != *n || parts.iter().any(|p| p.len() != 2) {
                    return Err(format!("bad EUI-{} address `{}` (want {n} hex pairs joined by -)", n * 8, lossy(t)));
                }
                for p in parts {
                    w.extend_from_slice(&HEXUPPER_PERMISSIVE.decode(p).map_err(|_| format!("bad EUI address `{}`", lossy(t)))?);
                }
            }
            Nsap => {
                let t = next("NSAP address")?.text;
                let hex: Vec<u8> = match t.get(..2) {
                    Some(p) if p.eq_ignore_ascii_case(b"0x") => t[2..].iter().copied().filter(|&b| b != b'.').collect(),
                    _ => return Err(format!("NSAP address `{}` must start with 0x", lossy(t))),
                };
                if hex.is_empty() || hex.len() % 2 == 1 {
                    return Err(format!("NSAP address `{}` needs a whole number of octets", lossy(t)));
                }
                w.extend_from_slice(&HEXUPPER_PERMISSIVE.decode(&hex).map_err(|_| format!("bad NSAP address `{}`", lossy(t)))?);
            }
        }
    }
    if i < toks.len() {
        return Err(format!("unexpected `{}` after RDATA", lossy(toks[i].text)));
    }
    Ok(())
}

fn decode(layout: &[F], w: &[u8], out: &mut String) -> Result<(), &'static str> {
    let mut p = 0usize;
    let take = |p: &mut usize, n: usize| -> Result<&[u8], &'static str> {
        let s = w.get(*p..*p + n).ok_or("RDATA too short")?;
        *p += n;
        Ok(s)
    };
    for (k, f) in layout.iter().enumerate() {
        let mark = out.len();
        match f {
            U8 | Alg => out.push_str(itoa_u32(take(&mut p, 1)?[0].into()).as_str()),
            U16 => out.push_str(itoa_u32(be16(take(&mut p, 2)?).into()).as_str()),
            U32 | Period => out.push_str(itoa_u32(be32(take(&mut p, 4)?)).as_str()),
            Name => {
                let n = name::wire_len(&w[p..]).ok_or("bad name")?;
                name::wire_to_text(&w[p..p + n], out);
                p += n;
            }
            Ip4 => {
                let o = take(&mut p, 4)?;
                out.push_str(&Ipv4Addr::new(o[0], o[1], o[2], o[3]).to_string());
            }
            Ip6 => {
                let o: [u8; 16] = take(&mut p, 16)?.try_into().map_err(|_| "RDATA too short")?;
                out.push_str(&Ipv6Addr::from(o).to_string());
            }
            Str => {
                let n = take(&mut p, 1)?[0] as usize;
                push_quoted(take(&mut p, n)?, out);
            }
            Strs => {
                let mut first = true;
                while p < w.len() || first {
                    if !first {
                        out.push(' ');
                    }
                    first = false;
                    let n = take(&mut p, 1)?[0] as usize;
                    push_quoted(take(&mut p, n)?, out);
                }
            }
            Hex => {
                out.push_str(&HEXUPPER.encode(&w[p..]));
                p = w.len();
            }
            B64 => {
                out.push_str(&BASE64.encode(&w[p..]));
                p = w.len();
            }
            Salt => {
                let n = take(&mut p, 1)?[0] as usize;
                let s = take(&mut p, n)?;
                if s.is_empty() {
                    out.push('-');
                } else {
                    out.push_str(&HEXUPPER.encode(s));
                }
            }
            B32 => {
                let n = take(&mut p, 1)?[0] as usize;
                out.push_str(&BASE32HEX_NOPAD.encode(take(&mut p, n)?));
            }
            Bitmap => {
                read_bitmap(&w[p..], out)?;
                p = w.len();
            }
            Time => out.push_str(&format_time(be32(take(&mut p, 4)?))),
            Type => types::push_type(be16(take(&mut p, 2)?), out),
            Tag => {
                let n = take(&mut p, 1)?[0] as usize;
                let t = take(&mut p, n)?;
                out.push_str(&String::from_utf8_lossy(t).to_ascii_lowercase());
            }
            Tail => {
                push_quoted(&w[p..], out);
                p = w.len();
            }
            Svc => {
                decode_svc(&w[p..], out)?;
                p = w.len();
            }
            Eui(n) => {
                let e = take(&mut p, *n)?;
                let parts: Vec<String> = e.iter().map(|b| format!("{b:02x}")).collect();
                out.push_str(&parts.join("-"));
            }
            Nsap => {
                out.push_str("0x");
                out.push_str(&HEXUPPER.encode(&w[p..]));
                p = w.len();
            }
        }
        // Fields are separated by one space; a field that wrote nothing (an empty bitmap or
        // digest at the end) leaves no trailing space.
        if k > 0 && out.len() > mark {
            out.insert(mark, ' ');
        }
    }
    if p != w.len() {
        return Err("RDATA longer than its type allows");
    }
    Ok(())
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn short(b: &[u8]) -> String {
    let s = lossy(b);
    if s.len() > 40 {
        format!("{}...", &s[..s.char_indices().nth(40).map_or(s.len(), |c| c.0)])
    } else {
        s
    }
}

fn num(t: &[u8], max: u64) -> Result<u64, String> {
    match types::parse_decimal(t) {
        Some(v) if v <= max => Ok(v),
        Some(_) => Err(format!("number `{}` is larger than {max}", lossy(t))),
        None => Err(format!("expected a number, found `{}`", lossy(t))),
    }
}

/// A TTL: decimal seconds or units (`1w2d3h4m5s`, any case), at most 2^31-1 (RFC 2181 §8).
pub fn parse_ttl(t: &[u8]) -> Option<u32> {
    if t.is_empty() {
        return None;
    }
    if let Some(v) = types::parse_decimal(t) {
        return u32::try_from(v).ok().filter(|&v| v <= i32::MAX as u32);
    }
    let mut total: u64 = 0;
    let mut cur: Option<u64> = None;
    for &b in t {
        if b.is_ascii_digit() {
            cur = Some(cur.unwrap_or(0).checked_mul(10)?.checked_add(u64::from(b - b'0'))?);
            if cur? > u64::from(u32::MAX) {
                return None;
            }
        } else {
            let mult = match b.to_ascii_lowercase() {
                b's' => 1,
                b'm' => 60,
                b'h' => 3600,
                b'd' => 86400,
                b'w' => 604800,
                _ => return None,
            };
            total = total.checked_add(cur.take()?.checked_mul(mult)?)?;
        }
    }
    if let Some(c) = cur {
        total = total.checked_add(c)?;
    }
    u32::try_from(total).ok().filter(|&v| v <= i32::MAX as u32)
}

/// A <character-string> token with its escapes applied (RFC 1035 §5.1).
pub fn unescape_string(t: &[u8]) -> Result<Vec<u8>, String> {
    let mut v = Vec::with_capacity(t.len());
    let mut i = 0;
    while i < t.len() {
        if t[i] == b'\\' {
            let (b, used) = name::unescape(&t[i + 1..]).ok_or("bad escape in string")?;
            v.push(b);
            i += 1 + used;
        } else {
            v.push(t[i]);
            i += 1;
        }
    }
    Ok(v)
}

fn push_string(w: &mut Vec<u8>, s: &[u8]) -> Result<(), String> {
    if s.len() > MAX_STRING {
        return Err(format!("string of {} octets is longer than 255", s.len()));
    }
    w.push(s.len() as u8);
    w.extend_from_slice(s);
    Ok(())
}

/// `"..."` with `"` and `\` escaped and octets outside printable ASCII as `\DDD`.
pub fn push_quoted(s: &[u8], out: &mut String) {
    out.push('"');
    for &b in s {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => name::push_ddd(b, out),
        }
    }
    out.push('"');
}

fn write_bitmap(ts: &mut Vec<u16>, w: &mut Vec<u8>) {
    ts.sort_unstable();
    ts.dedup();
    let mut i = 0;
    while i < ts.len() {
        let window = (ts[i] >> 8) as u8;
        let mut bits = [0u8; 32];
        let mut len = 0;
        while i < ts.len() && (ts[i] >> 8) as u8 == window {
            let lo = (ts[i] & 0xff) as usize;
            bits[lo / 8] |= 0x80 >> (lo % 8);
            len = lo / 8 + 1;
            i += 1;
        }
        w.push(window);
        w.push(len as u8);
        w.extend_from_slice(&bits[..len]);
    }
}

fn read_bitmap(mut w: &[u8], out: &mut String) -> Result<(), &'static str> {
    let mut first = true;
    let mut last_window: i32 = -1;
    while !w.is_empty() {
        if w.len() < 2 {
            return Err("truncated type bitmap");
        }
        let (window, len) = (w[0], w[1] as usize);
        if i32::from(window) <= last_window || len == 0 || len > 32 || w.len() < 2 + len {
            return Err("bad type bitmap");
        }
        last_window = window.into();
        for (byte, &bits) in w[2..2 + len].iter().enumerate() {
            for bit in 0..8 {
                if bits & (0x80 >> bit) != 0 {
                    if !first {
                        out.push(' ');
                    }
                    first = false;
                    types::push_type((u16::from(window) << 8) | (byte * 8 + bit) as u16, out);
                }
            }
        }
        w = &w[2 + len..];
    }
    Ok(())
}

/// RRSIG times: `YYYYMMDDHHmmSS` (UTC) or plain seconds since the epoch (RFC 4034 §3.2).
fn parse_time(t: &[u8]) -> Option<u32> {
    if t.len() == 14 && t.iter().all(u8::is_ascii_digit) {
        let d = |a: usize, b: usize| types::parse_decimal(&t[a..b]);
        let (y, mo, da, h, mi, s) = (d(0, 4)?, d(4, 6)?, d(6, 8)?, d(8, 10)?, d(10, 12)?, d(12, 14)?);
        if !(1..=12).contains(&mo) || !(1..=31).contains(&da) || h > 23 || mi > 59 || s > 60 {
            return None;
        }
        let days = crate::time::days_from_civil(y as i64, mo as i64, da as i64);
        let secs = days * 86400 + (h * 3600 + mi * 60 + s) as i64;
        // Serial-number arithmetic (RFC 4034 §3.1.5): the value is taken modulo 2^32.
        return Some(secs.rem_euclid(1 << 32) as u32);
    }
    types::parse_decimal(t).and_then(|v| u32::try_from(v).ok())
}

fn format_time(v: u32) -> String {
    let secs = i64::from(v);
    let (y, m, d) = crate::time::civil_from_days(secs.div_euclid(86400));
    let r = secs.rem_euclid(86400);
    format!("{y:04}{m:02}{d:02}{:02}{:02}{:02}", r / 3600, r / 60 % 60, r % 60)
}

fn alg_mnemonic(t: &[u8]) -> Option<u8> {
    const ALGS: &[(&str, u8)] = &[
        ("RSAMD5", 1),
        ("DH", 2),
        ("DSA", 3),
        ("RSASHA1", 5),
        ("DSA-NSEC3-SHA1", 6),
        ("RSASHA1-NSEC3-SHA1", 7),
        ("RSASHA256", 8),
        ("RSASHA512", 10),
        ("ECC-GOST", 12),
        ("ECDSAP256SHA256", 13),
        ("ECDSAP384SHA384", 14),
        ("ED25519", 15),
        ("ED448", 16),
        ("INDIRECT", 252),
        ("PRIVATEDNS", 253),
        ("PRIVATEOID", 254),
    ];
    ALGS.iter().find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(t)).map(|&(_, v)| v)
}

// --- SVCB / HTTPS (RFC 9460) ---------------------------------------------------------------

const SVC_KEYS: &[&str] = &["mandatory", "alpn", "no-default-alpn", "port", "ipv4hint", "ech", "ipv6hint", "dohpath", "ohttp"];

fn svc_key(k: &[u8]) -> Option<u16> {
    if let Some(i) = SVC_KEYS.iter().position(|n| n.as_bytes().eq_ignore_ascii_case(k)) {
        return Some(i as u16);
    }
    if k.len() > 3 && k[..3].eq_ignore_ascii_case(b"key") {
        return types::parse_decimal(&k[3..]).and_then(|v| u16::try_from(v).ok());
    }
    None
}

fn push_svc_key(k: u16, out: &mut String) {
    match SVC_KEYS.get(k as usize) {
        Some(n) => out.push_str(n),
        None => {
            out.push_str("key");
            out.push_str(itoa_u32(k.into()).as_str());
        }
    }
}

/// Splits a comma-separated value list; `\,` keeps a comma inside an item (RFC 9460 App. A.1).
fn split_commas(v: &[u8]) -> Vec<Vec<u8>> {
    let mut items = vec![Vec::new()];
    let mut i = 0;
    while i < v.len() {
        match v[i] {
            b'\\' if i + 1 < v.len() && v[i + 1] == b',' => {
                if let Some(it) = items.last_mut() {
                    it.push(b',');
                }
                i += 2;
            }
            b',' => {
                items.push(Vec::new());
                i += 1;
            }
            b => {
                if let Some(it) = items.last_mut() {
                    it.push(b);
                }
                i += 1;
            }
        }
    }
    items
}

fn encode_svc(toks: &[Tok<'_>], w: &mut Vec<u8>) -> Result<(), String> {
    let mut params: Vec<(u16, Vec<u8>)> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let t = toks[i].text;
        i += 1;
        let (k, mut v) = match t.iter().position(|&b| b == b'=') {
            Some(eq) => (&t[..eq], Some(t[eq + 1..].to_vec())),
            None => (t, None),
        };
        let key = svc_key(k).ok_or_else(|| format!("unknown SvcParamKey `{}`", lossy(k)))?;
        if v.as_ref().is_some_and(|v| v.is_empty()) && toks.get(i).is_some_and(|t| t.quoted) {
            v = Some(toks[i].text.to_vec()); // key="quoted value" lexes as two tokens
            i += 1;
        }
        let v = match v {
            Some(v) => unescape_string(&v)?,
            None => Vec::new(),
        };
        let mut data = Vec::new();
        match key {
            0 => {
                for item in split_commas(&v) {
                    data.extend_from_slice(&svc_key(&item).ok_or("unknown key in mandatory")?.to_be_bytes());
                }
            }
            1 => {
                for item in split_commas(&v) {
                    if item.is_empty() {
                        return Err("empty protocol in alpn".into());
                    }
                    push_string(&mut data, &item)?;
                }
            }
            2 => {}
            3 => data.extend_from_slice(&(num(&v, 65535)? as u16).to_be_bytes()),
            4 => {
                for item in split_commas(&v) {
                    let a: Ipv4Addr = std::str::from_utf8(&item).ok().and_then(|s| s.parse().ok()).ok_or("bad ipv4hint")?;
                    data.extend_from_slice(&a.octets());
                }
            }
            6 => {
                for item in split_commas(&v) {
                    let a: Ipv6Addr = std::str::from_utf8(&item).ok().and_then(|s| s.parse().ok()).ok_or("bad ipv6hint")?;
                    data.extend_from_slice(&a.octets());
                }
            }
            5 => data = BASE64.decode(&v).map_err(|_| "bad ech base64")?,
            _ => data = v,
        }
        if params.iter().any(|(k, _)| *k == key) {
            return Err("duplicate SvcParamKey".into());
        }
        params.push((key, data));
    }
    params.sort_by_key(|p| p.0);
    // RFC 9460 §8: every key that `mandatory` lists must be present, and not `mandatory` itself.
    if let Some((_, m)) = params.iter().find(|p| p.0 == 0) {
        for k in m.chunks(2).map(|c| u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])) {
            if k == 0 || !params.iter().any(|p| p.0 == k) {
                return Err("mandatory lists a key that is not present".into());
            }
        }
    }
    for (k, d) in params {
        w.extend_from_slice(&k.to_be_bytes());
        w.extend_from_slice(&(u16::try_from(d.len()).map_err(|_| "SvcParam too long")?).to_be_bytes());
        w.extend_from_slice(&d);
    }
    Ok(())
}

fn decode_svc(mut w: &[u8], out: &mut String) -> Result<(), &'static str> {
    let mut first = true;
    while !w.is_empty() {
        if w.len() < 4 {
            return Err("truncated SvcParam");
        }
        let key = be16(&w[..2]);
        let len = be16(&w[2..4]) as usize;
        let v = w.get(4..4 + len).ok_or("truncated SvcParam")?;
        w = &w[4 + len..];
        if !first {
            out.push(' ');
        }
        first = false;
        push_svc_key(key, out);
        match key {
            2 if v.is_empty() => {}
            0 => {
                out.push('=');
                for (i, c) in v.chunks(2).enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    push_svc_key(be16(c.get(..2).ok_or("bad mandatory")?), out);
                }
            }
            3 if len == 2 => {
                out.push('=');
                out.push_str(itoa_u32(be16(v).into()).as_str());
            }
            4 if len.is_multiple_of(4) => {
                out.push('=');
                let s: Vec<String> = v.chunks(4).map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]).to_string()).collect();
                out.push_str(&s.join(","));
            }
            6 if len.is_multiple_of(16) => {
                out.push('=');
                let s: Vec<String> = v.chunks(16).map(|c| Ipv6Addr::from(<[u8; 16]>::try_from(c).unwrap_or([0; 16])).to_string()).collect();
                out.push_str(&s.join(","));
            }
            5 => {
                out.push('=');
                out.push_str(&BASE64.encode(v));
            }
            1 => {
                out.push('=');
                // Items joined by `,`, a comma inside an item escaped (RFC 9460 App. A.1), as
                // octets: push_quoted escapes what is not printable ASCII.
                let mut joined = Vec::new();
                let mut p = 0;
                while p < v.len() {
                    let n = v[p] as usize;
                    let item = v.get(p + 1..p + 1 + n).ok_or("bad alpn")?;
                    if p > 0 {
                        joined.push(b',');
                    }
                    for &b in item {
                        if b == b',' {
                            joined.push(b'\\');
                        }
                        joined.push(b);
                    }
                    p += 1 + n;
                }
                push_quoted(&joined, out);
            }
            _ => {
                out.push('=');
                push_quoted(v, out);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(t: &str, rdata: &str) -> Result<String, String> {
        let t = types::parse_type(t.as_bytes()).unwrap();
        let origin = Origin::parse("example.com").unwrap();
        // Split like the lexer would, honouring quotes.
        let mut toks = Vec::new();
        let b = rdata.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b' ' {
                i += 1;
            } else if b[i] == b'"' {
                let mut j = i + 1;
                while b[j] != b'"' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                toks.push(Tok { text: &b[i + 1..j], quoted: true });
                i = j + 1;
            } else {
                let j = b[i..].iter().position(|&c| c == b' ').map_or(b.len(), |p| i + p);
                toks.push(Tok { text: &b[i..j], quoted: false });
                i = j;
            }
        }
        let mut out = String::new();
        canonical(t, &toks, Some(&origin), &mut Scratch::default(), &mut out)?;
        Ok(out)
    }

    #[test]
    fn common_types() {
        assert_eq!(canon("A", "192.0.2.1").unwrap(), "192.0.2.1");
        assert_eq!(canon("A", "\\# 4 C0000201").unwrap(), "192.0.2.1");
        assert_eq!(canon("AAAA", "2001:DB8:0:0:0:0:0:1").unwrap(), "2001:db8::1");
        assert_eq!(canon("NS", "NS1.Example.NET.").unwrap(), "ns1.example.net");
        assert_eq!(canon("NS", "ns1").unwrap(), "ns1.example.com");
        assert_eq!(canon("MX", "10 .").unwrap(), "10 .");
        assert_eq!(canon("SOA", "a. b. 1 1h 30m 1w 1d").unwrap(), "a b 1 3600 1800 604800 86400");
        assert!(canon("DS", "1 8 2 ( abcd EF01 )").is_err(), "parentheses are the lexer's business");
        assert_eq!(canon("DS", "1 8 2 abcd EF01").unwrap(), "1 8 2 ABCDEF01");
        assert_eq!(canon("DS", "1 RSASHA256 2 abcd").unwrap(), "1 8 2 ABCD");
        assert_eq!(canon("TXT", "\"a \\\"b\\\"\" c \\255").unwrap(), "\"a \\\"b\\\"\" \"c\" \"\\255\"");
        assert_eq!(canon("DNSKEY", "257 3 8 AwEA AQ==").unwrap(), "257 3 8 AwEAAQ==");
        assert_eq!(canon("NSEC", "b.example. NS A RRSIG ns").unwrap(), "b.example A NS RRSIG");
        assert_eq!(canon("NSEC", "b.example.").unwrap(), "b.example");
        assert_eq!(
            canon("NSEC3", "1 0 10 aBcD 0p9mhaveqvm6t7vbl5lop2u3t2rp3tom NS").unwrap(),
            "1 0 10 ABCD 0P9MHAVEQVM6T7VBL5LOP2U3T2RP3TOM NS"
        );
        assert_eq!(canon("NSEC3PARAM", "1 0 0 -").unwrap(), "1 0 0 -");
        assert_eq!(
            canon("RRSIG", "NS 8 1 86400 20260101000000 1767225600 12345 . AAAA").unwrap(),
            "NS 8 1 86400 20260101000000 20260101000000 12345 . AAAA"
        );
        assert_eq!(canon("CAA", "0 ISSUE \"ca.example\"").unwrap(), "0 issue \"ca.example\"");
        assert_eq!(canon("NAPTR", "10 20 \"U\" \"E2U+sip\" \"!^.*$!sip:x@y!\" .").unwrap(), "10 20 \"U\" \"E2U+sip\" \"!^.*$!sip:x@y!\" .");
        assert_eq!(canon("HTTPS", "1 . port=443 alpn=h2,h3").unwrap(), "1 . alpn=\"h2,h3\" port=443");
        assert_eq!(canon("TYPE65280", "\\# 2 abcd").unwrap(), "\\# 2 ABCD");
        assert_eq!(canon("TYPE65280", "\\# 0").unwrap(), "\\# 0");
        assert_eq!(canon("ZONEMD", "2021 1 1 ab").unwrap(), "2021 1 1 AB");
    }

    #[test]
    fn raw_octets_in_undecoded_types_are_escaped_not_copied() {
        // Found by the parse fuzzer: a NUL in a token of a type kept as text.
        let t = types::parse_type(b"LOC").unwrap();
        let toks = [Tok { text: b"a\x00b\xff", quoted: false }, Tok { text: b"x y", quoted: true }];
        let mut out = String::new();
        canonical(t, &toks, None, &mut Scratch::default(), &mut out).unwrap();
        assert_eq!(out, "a\\000b\\255 \"x y\"");
        assert_eq!(canon("HTTPS", "1 . alpn=h\\255x").unwrap(), "1 . alpn=\"h\\255x\"");
    }

    #[test]
    fn rejects() {
        assert!(canon("A", "1.2.3").is_err());
        assert!(canon("A", "1.2.3.4 5").is_err());
        assert!(canon("MX", "65536 a.").is_err());
        assert!(canon("A", "\\# 3 c00002").is_err());
        assert!(canon("A", "\\# 4 c00002").is_err());
        assert!(canon("TXT", &format!("\"{}\"", "x".repeat(256))).is_err());
        assert!(canon("TXT", &format!("\"{}\"", "x".repeat(255))).is_ok());
        assert!(canon("TYPE65280", "abcd").is_err());
        assert!(canon("DS", "1 8 2 xyz").is_err());
    }

    #[test]
    fn ttls() {
        assert_eq!(parse_ttl(b"3600"), Some(3600));
        assert_eq!(parse_ttl(b"1h30m"), Some(5400));
        assert_eq!(parse_ttl(b"2D"), Some(172800));
        assert_eq!(parse_ttl(b"1w"), Some(604800));
        assert_eq!(parse_ttl(b"2147483647"), Some(i32::MAX as u32));
        assert_eq!(parse_ttl(b"2147483648"), None);
        assert_eq!(parse_ttl(b"1x"), None);
        assert_eq!(parse_ttl(b"h"), None);
        assert_eq!(parse_ttl(b""), None);
    }

    #[test]
    fn times_round_trip() {
        assert_eq!(parse_time(b"19700101000000"), Some(0));
        assert_eq!(format_time(1767225600), "20260101000000");
        assert_eq!(parse_time(b"20260101000000"), Some(1767225600));
    }
}
