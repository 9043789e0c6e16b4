//! The master-file parser: entries in, records with resolved owner, TTL and canonical RDATA out.
//!
//! A chunk is parsed alone, from a [`State`]: the `$ORIGIN`, `$TTL`, last explicit TTL, SOA
//! MINIMUM, previous owner and class in force where it starts. A chunk is handed the state the
//! previous chunk ended in when that is known, and a guess otherwise; [`ChunkOut::used`] says
//! which parts of the start state the chunk actually read before setting them itself, so the
//! caller can check the guess against the true state and parse again when it was wrong. That
//! keeps the result independent of where chunk boundaries fall.

use super::czds;
use super::lexer::{Lexed, Lexer, Token};
use super::name::{self, Origin};
use super::rdata::{self, Scratch, Tok};
use super::types;

/// The parse state a chunk starts in and ends in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    pub origin: Option<Origin>,
    pub default_ttl: Option<u32>,
    pub last_ttl: Option<u32>,
    pub soa_minimum: Option<u32>,
    /// Wire form of the last owner, for entries that leave it out.
    pub prev_owner: Option<Vec<u8>>,
    pub class: Option<u16>,
}

/// Bits of [`State`] a chunk read from its start state.
pub mod used {
    pub const ORIGIN: u8 = 1;
    pub const DEFAULT_TTL: u8 = 2;
    pub const LAST_TTL: u8 = 4;
    pub const SOA_MINIMUM: u8 = 8;
    pub const PREV_OWNER: u8 = 16;
    pub const CLASS: u8 = 32;
}

impl State {
    /// The state after a chunk that started in `self` and ended in `end`, setting the parts in
    /// `set`: those come from `end`, the rest were never touched and stay as they were.
    pub fn after(&self, end: &State, set: u8) -> State {
        let pick = |bit: u8| set & bit != 0;
        State {
            origin: if pick(used::ORIGIN) { end.origin.clone() } else { self.origin.clone() },
            default_ttl: if pick(used::DEFAULT_TTL) { end.default_ttl } else { self.default_ttl },
            last_ttl: if pick(used::LAST_TTL) { end.last_ttl } else { self.last_ttl },
            soa_minimum: if pick(used::SOA_MINIMUM) { end.soa_minimum } else { self.soa_minimum },
            prev_owner: if pick(used::PREV_OWNER) { end.prev_owner.clone() } else { self.prev_owner.clone() },
            class: if pick(used::CLASS) { end.class } else { self.class },
        }
    }

    /// True when `other` agrees with `self` on every part named in `mask`.
    pub fn agrees(&self, other: &State, mask: u8) -> bool {
        (mask & used::ORIGIN == 0 || self.origin == other.origin)
            && (mask & used::DEFAULT_TTL == 0 || self.default_ttl == other.default_ttl)
            && (mask & used::LAST_TTL == 0 || self.last_ttl == other.last_ttl)
            && (mask & used::SOA_MINIMUM == 0 || self.soa_minimum == other.soa_minimum)
            && (mask & used::PREV_OWNER == 0 || self.prev_owner == other.prev_owner)
            && (mask & used::CLASS == 0 || self.class == other.class)
    }
}

/// A parsed record, borrowed from the parser's buffers.
#[derive(Debug)]
pub struct Record<'a> {
    /// Owner in wire form (case as written; text output lower-cases it).
    pub owner: &'a [u8],
    /// The owner's canonical text, when the parser has it at hand (a line the CZDS fast path
    /// read: its owner as written, less the final dot).
    pub owner_text: Option<&'a str>,
    pub ttl: u32,
    pub rtype: u16,
    /// Canonical RDATA text.
    pub rdata: &'a str,
    /// Line (relative to the chunk's first line as given to the parser).
    pub line: u64,
}

/// Where parsed records go.
pub trait Sink {
    fn record(&mut self, r: &Record<'_>);
}

/// A record that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: u64,
    pub msg: String,
}

/// What parsing a chunk produced besides its records.
#[derive(Debug, Default)]
pub struct ChunkOut {
    pub end: State,
    pub used: u8,
    /// Bits of [`State`] the chunk set itself.
    pub set: u8,
    pub errors: Vec<ParseError>,
    pub records: u64,
    /// Byte offset where an entry starts that the chunk's end cut off (open parenthesis or
    /// quote), and its line: the caller prepends these bytes to the next chunk.
    pub incomplete: Option<(usize, u64)>,
    /// Newlines the lexer passed.
    pub lines: u64,
    /// The first `$ORIGIN` the chunk set (to tell which zone a file holds).
    pub first_origin: Option<Origin>,
}

/// Options that change how entries are read.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `$INCLUDE` is followed only when this is set (`--allow-include`).
    pub include: Option<Include>,
    /// Read every line with the full lexer, CZDS's one-record-a-line form too ([`czds`]):
    /// the tests and the fuzzer compare the two paths.
    pub no_fast_path: bool,
}

/// Where `$INCLUDE` may read: files inside `dir` (after resolving symlinks), `depth` levels
/// deep at most.
#[derive(Debug, Clone)]
pub struct Include {
    pub dir: std::path::PathBuf,
    pub depth: u8,
}

/// How deep `$INCLUDE` may nest.
pub const MAX_INCLUDE_DEPTH: u8 = 8;

/// Tracks which parts of the start state a chunk has replaced, and which it read first.
struct Tracked {
    state: State,
    set: u8,
    used: u8,
}

impl Tracked {
    fn read(&mut self, bit: u8) {
        if self.set & bit == 0 {
            self.used |= bit;
        }
    }
    fn write(&mut self, bit: u8) {
        self.set |= bit;
    }
}

/// Parses one chunk of zone text, starting on line `first_line` in state `start`.
pub fn parse_chunk(data: &[u8], first_line: u64, start: State, sink: &mut dyn Sink) -> ChunkOut {
    parse_chunk_with(data, first_line, start, sink, &Options::default())
}

/// [`parse_chunk`] with options (`$INCLUDE`).
pub fn parse_chunk_with(data: &[u8], first_line: u64, start: State, sink: &mut dyn Sink, opts: &Options) -> ChunkOut {
    let mut p = Parser {
        st: Tracked { state: start, set: 0, used: 0 },
        scratch: Scratch::default(),
        rdata: String::new(),
        owner: Vec::new(),
        first_origin: None,
    };
    let mut rtoks = Vec::with_capacity(16);
    let mut out = ChunkOut::default();
    let mut lx = Lexer::new(data, first_line);
    let mut toks = Vec::with_capacity(16);
    loop {
        if !opts.no_fast_path {
            if let Some(l) = czds::read(lx.rest()).filter(|l| p.czds_line(l, lx.line(), sink)) {
                lx.consume(l.len, l.newline);
                out.records += 1;
                continue;
            }
        }
        match lx.next_entry(&mut toks) {
            Lexed::Eof => break,
            Lexed::Incomplete { start, line } => {
                out.incomplete = Some((start, line));
                break;
            }
            Lexed::Error { line, msg } => out.errors.push(ParseError { line, msg: super::escape_text(msg) }),
            Lexed::Entry(e) => {
                let first = &data[toks[0].start..toks[0].end];
                if !e.blank_owner && !toks[0].quoted && first.eq_ignore_ascii_case(b"$INCLUDE") {
                    match p.include(data, &toks[1..], sink, opts) {
                        Ok(n) => out.records += n,
                        Err(msg) => out.errors.push(ParseError { line: e.line, msg: super::escape_text(&msg) }),
                    }
                    continue;
                }
                match p.entry(data, &toks, &mut rtoks, e.blank_owner, e.line, sink) {
                    Ok(true) => out.records += 1,
                    Ok(false) => {}
                    Err(msg) => out.errors.push(ParseError { line: e.line, msg: super::escape_text(&msg) }),
                }
            }
        }
    }
    out.lines = lx.line() - first_line;
    out.first_origin = p.first_origin;
    out.end = p.st.state;
    out.used = p.st.used;
    out.set = p.st.set;
    out
}

struct Parser {
    st: Tracked,
    scratch: Scratch,
    rdata: String,
    /// A spare buffer for parsing the owner (see [`Parser::entry`]).
    owner: Vec<u8>,
    first_origin: Option<Origin>,
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Parser {
    /// `$INCLUDE file [origin]` (RFC 1035 §5.1): the file's records in a copy of the current
    /// state, the origin set for that file alone; the includer's state is untouched after.
    /// Errors inside it are reported at the `$INCLUDE` line, naming the file and its line.
    fn include(&mut self, data: &[u8], args: &[Token], sink: &mut dyn Sink, opts: &Options) -> Result<u64, String> {
        let Some(inc) = &opts.include else {
            return Err("$INCLUDE is not followed unless --allow-include is given".into());
        };
        if inc.depth >= MAX_INCLUDE_DEPTH {
            return Err(format!("$INCLUDE nested more than {MAX_INCLUDE_DEPTH} deep"));
        }
        let file = args.first().ok_or("$INCLUDE needs a file name")?;
        let raw = rdata::unescape_string(&data[file.start..file.end])?;
        let name = String::from_utf8(raw).map_err(|_| "$INCLUDE file name is not UTF-8".to_string())?;
        let rel = std::path::Path::new(&name);
        if rel.is_absolute() {
            return Err(format!("$INCLUDE `{name}`: absolute paths are refused; name a file inside the zone file's directory"));
        }
        let path = inc.dir.join(rel).canonicalize().map_err(|e| format!("$INCLUDE `{name}`: {e}"))?;
        if !path.starts_with(&inc.dir) {
            return Err(format!("$INCLUDE `{name}` is outside the zone file's directory"));
        }
        if !path.is_file() {
            return Err(format!("$INCLUDE `{name}` is not a file"));
        }
        let bytes = std::fs::read(&path).map_err(|e| format!("$INCLUDE `{name}`: {e}"))?;
        let mut state = self.st.state.clone();
        self.st.read(used::ORIGIN);
        if let Some(o) = args.get(1) {
            let tok = &data[o.start..o.end];
            let mut w = Vec::new();
            name::parse_wire(tok, self.origin_for(tok), &mut w).map_err(|e| format!("$INCLUDE origin `{}`: {e}", lossy(tok)))?;
            state.origin = Some(Origin::from_wire(w));
        }
        if args.len() > 2 {
            return Err("$INCLUDE takes a file and an optional origin".into());
        }
        let deeper = Options { include: Some(Include { dir: inc.dir.clone(), depth: inc.depth + 1 }), ..opts.clone() };
        let out = parse_chunk_with(&bytes, 1, state, sink, &deeper);
        if let Some((_, line)) = out.incomplete {
            return Err(format!("$INCLUDE `{name}`:{line}: unclosed parenthesis or quote at the end of the file"));
        }
        if let Some(e) = out.errors.first() {
            return Err(format!(
                "$INCLUDE `{name}`:{}: {}{}",
                e.line,
                e.msg,
                if out.errors.len() > 1 { format!(" (and {} more)", out.errors.len() - 1) } else { String::new() }
            ));
        }
        Ok(out.records)
    }

    fn origin(&mut self) -> Option<&Origin> {
        self.st.read(used::ORIGIN);
        self.st.state.origin.as_ref()
    }

    /// One entry: a directive (Ok(false)) or a record handed to the sink (Ok(true)).
    fn entry<'a>(
        &mut self,
        data: &'a [u8],
        toks: &[Token],
        rtoks: &mut Vec<Tok<'a>>,
        blank_owner: bool,
        line: u64,
        sink: &mut dyn Sink,
    ) -> Result<bool, String> {
        let text = |t: &Token| &data[t.start..t.end];
        let first = text(&toks[0]);
        if !blank_owner && !toks[0].quoted && first.first() == Some(&b'$') {
            self.directive(first, &toks[1..], data)?;
            return Ok(false);
        }
        let mut i = 0;
        // Owner: the first token, or the previous owner when the line began with a blank. It
        // is parsed into a spare buffer, which then trades places with the previous owner's:
        // no copy per record, and a bad owner leaves the previous one in place.
        if blank_owner {
            self.st.read(used::PREV_OWNER);
            if self.st.state.prev_owner.is_none() {
                return Err("no owner: the first record leaves it out".into());
            }
        } else {
            let mut w = std::mem::take(&mut self.owner);
            w.clear();
            let r = name::parse_wire(first, self.origin_for(first), &mut w);
            self.owner = w;
            r.map_err(|e| format!("owner `{}`: {e}", lossy(first)))?;
            i = 1;
            self.owner_read();
        }
        // [TTL] [class] type, TTL and class in either order (RFC 1035 §5.1).
        let mut ttl = None;
        let mut class = None;
        let rtype = loop {
            let t = toks.get(i).ok_or("missing type")?;
            let tt = text(t);
            i += 1;
            if ttl.is_none() && tt.first().is_some_and(u8::is_ascii_digit) {
                ttl = Some(rdata::parse_ttl(tt).ok_or_else(|| format!("bad TTL `{}`", lossy(tt)))?);
                continue;
            }
            if class.is_none() {
                if let Some(c) = types::parse_class(tt) {
                    class = Some(c);
                    continue;
                }
            }
            break types::parse_type(tt).ok_or_else(|| format!("unknown type `{}`", lossy(tt)))?;
        };
        if let Some(c) = class {
            self.class(c)?;
        }
        // RDATA.
        rtoks.clear();
        rtoks.extend(toks[i..].iter().map(|t| Tok { text: &data[t.start..t.end], quoted: t.quoted }));
        self.rdata.clear();
        let origin = self.st.state.origin.as_ref();
        let r = rdata::canonical(rtype, rtoks, origin, &mut self.scratch, &mut self.rdata);
        if self.scratch.used_origin {
            self.st.read(used::ORIGIN);
        }
        let mut rname = String::new();
        r.map_err(|e| {
            types::push_type(rtype, &mut rname);
            format!("{rname}: {e}")
        })?;
        if rtype == types::SOA {
            if let Some(min) = self.rdata.rsplit(' ').next().and_then(|m| m.parse::<u32>().ok()) {
                self.st.state.soa_minimum = Some(min);
                self.st.write(used::SOA_MINIMUM);
            }
        }
        let ttl = match ttl {
            Some(t) => self.explicit_ttl(t),
            None => self.default_ttl(),
        };
        let owner = self.st.state.prev_owner.as_deref().unwrap_or_default();
        sink.record(&Record { owner, owner_text: None, ttl, rtype, rdata: &self.rdata, line });
        Ok(true)
    }

    /// A line [`czds::read`] read: the record as [`Parser::entry`] would give it, the state
    /// moved on as it would move it. False, and nothing done, for a zone of another class:
    /// the full parser reports that (the class check first marks the class read, as it would).
    fn czds_line(&mut self, l: &czds::Line<'_>, line: u64, sink: &mut dyn Sink) -> bool {
        if self.class(types::CLASS_IN).is_err() {
            return false;
        }
        self.owner.clear();
        name::plain_wire(l.owner, &mut self.owner);
        self.owner_read();
        self.rdata.clear();
        l.push_rdata(&mut self.rdata);
        let ttl = self.explicit_ttl(l.ttl);
        let owner = self.st.state.prev_owner.as_deref().unwrap_or_default();
        // Fast-path owners are plain lower-case absolute names, never the root: as written
        // they are canonical text.
        let owner_text = l.owner.strip_suffix(b".").and_then(|t| std::str::from_utf8(t).ok());
        sink.record(&Record { owner, owner_text, ttl, rtype: l.rtype, rdata: &self.rdata, line });
        true
    }

    /// The owner just parsed into the spare buffer becomes the previous owner; the buffers
    /// trade places, so no copy per record.
    fn owner_read(&mut self) {
        match &mut self.st.state.prev_owner {
            Some(prev) => std::mem::swap(prev, &mut self.owner),
            None => self.st.state.prev_owner = Some(std::mem::take(&mut self.owner)),
        }
        self.st.write(used::PREV_OWNER);
    }

    /// A record's class: a zone has one (the first record's, or the one it started in).
    fn class(&mut self, c: u16) -> Result<(), String> {
        self.st.read(used::CLASS);
        match self.st.state.class {
            Some(z) if z != c => Err(format!("class {} differs from the zone's class {}", types::class_name(c), types::class_name(z))),
            _ => {
                self.st.state.class = Some(c);
                self.st.write(used::CLASS);
                Ok(())
            }
        }
    }

    /// A TTL written on the record: the fallback for the records after it that leave theirs out.
    fn explicit_ttl(&mut self, t: u32) -> u32 {
        self.st.state.last_ttl = Some(t);
        self.st.write(used::LAST_TTL);
        t
    }

    /// The origin for a name token, reading it from the state only when the name needs it.
    fn origin_for(&mut self, tok: &[u8]) -> Option<&Origin> {
        if name::is_relative(tok) {
            self.origin()
        } else {
            None
        }
    }

    /// RFC 1035 §5.1 and RFC 2308 §4: `$TTL`, then the last explicit TTL, then the SOA
    /// MINIMUM, then 3600.
    fn default_ttl(&mut self) -> u32 {
        self.st.read(used::DEFAULT_TTL);
        if let Some(t) = self.st.state.default_ttl {
            return t;
        }
        self.st.read(used::LAST_TTL);
        if let Some(t) = self.st.state.last_ttl {
            return t;
        }
        self.st.read(used::SOA_MINIMUM);
        self.st.state.soa_minimum.unwrap_or(3600)
    }

    fn directive(&mut self, d: &[u8], args: &[Token], data: &[u8]) -> Result<(), String> {
        let arg = |i: usize| args.get(i).map(|t| &data[t.start..t.end]);
        if d.eq_ignore_ascii_case(b"$ORIGIN") {
            let a = arg(0).ok_or("$ORIGIN needs a name")?;
            let mut w = Vec::new();
            let o = self.origin_for(a).cloned();
            name::parse_wire(a, o.as_ref(), &mut w).map_err(|e| format!("$ORIGIN `{}`: {e}", lossy(a)))?;
            if args.len() > 1 {
                return Err("$ORIGIN takes one name".into());
            }
            let o = Origin::from_wire(w);
            if self.first_origin.is_none() {
                self.first_origin = Some(o.clone());
            }
            self.st.state.origin = Some(o);
            self.st.write(used::ORIGIN);
            Ok(())
        } else if d.eq_ignore_ascii_case(b"$TTL") {
            let a = arg(0).ok_or("$TTL needs a value")?;
            let t = rdata::parse_ttl(a).ok_or_else(|| format!("bad $TTL `{}`", lossy(a)))?;
            if args.len() > 1 {
                return Err("$TTL takes one value".into());
            }
            self.st.state.default_ttl = Some(t);
            self.st.write(used::DEFAULT_TTL);
            Ok(())
        } else if d.eq_ignore_ascii_case(b"$GENERATE") {
            Err("$GENERATE is not supported: expand it first (named-compilezone -o - writes the expanded zone)".into())
        } else {
            Err(format!("unknown directive `{}`", lossy(d)))
        }
    }
}

/// A sink that keeps records as owned values (tests, fuzzing, small tools).
#[derive(Debug, Default)]
pub struct VecSink(pub Vec<OwnedRecord>);

/// An owned record in canonical text form.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct OwnedRecord {
    pub owner: String,
    pub ttl: u32,
    pub rtype: String,
    pub rdata: String,
}

impl Sink for VecSink {
    fn record(&mut self, r: &Record<'_>) {
        let mut owner = String::new();
        name::wire_to_text(r.owner, &mut owner);
        let mut rtype = String::new();
        types::push_type(r.rtype, &mut rtype);
        self.0.push(OwnedRecord { owner, ttl: r.ttl, rtype, rdata: r.rdata.to_string() });
    }
}

/// A [`VecSink`] that also checks each owner text a record brings against the text of its
/// wire form, and counts them (the CZDS fast path's test and the `parse` fuzz target).
/// Panics when they differ: that is a parser bug, which is what those callers look for.
#[derive(Debug, Default)]
pub struct CheckedSink {
    pub records: VecSink,
    pub owner_texts: usize,
}

impl Sink for CheckedSink {
    fn record(&mut self, r: &Record<'_>) {
        if let Some(t) = r.owner_text {
            let mut w = String::new();
            name::wire_to_text(r.owner, &mut w);
            assert_eq!(t, w, "an owner text that is not the owner's");
            self.owner_texts += 1;
        }
        self.records.record(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_follows_confines_and_limits() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::write(root.join("inc.db"), "www A 192.0.2.7\n").unwrap();
        std::fs::write(root.join("loop.db"), "$INCLUDE loop.db\n").unwrap();
        let opts = Options { include: Some(Include { dir: root.clone(), depth: 0 }), ..Options::default() };
        let run = |z: &str| {
            let st = State { origin: Some(Origin::parse("t").unwrap()), ..State::default() };
            let mut sink = VecSink::default();
            let out = parse_chunk_with(z.as_bytes(), 1, st, &mut sink, &opts);
            (sink.0, out)
        };
        let (recs, out) = run("$INCLUDE inc.db sub\nx A 192.0.2.1\n");
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let got: Vec<String> = recs.iter().map(|r| r.owner.clone()).collect();
        assert_eq!(got, ["www.sub.t", "x.t"], "the origin applies to the included file only");
        let (_, out) = run("$INCLUDE ../escape.db\n$INCLUDE /etc/hostname\n$INCLUDE loop.db\n$INCLUDE .\n");
        let msgs: Vec<&str> = out.errors.iter().map(|e| e.msg.as_str()).collect();
        assert_eq!(msgs.len(), 4, "{msgs:?}");
        assert!(msgs[1].contains("absolute paths are refused"), "{msgs:?}");
        assert!(msgs[2].contains("nested more than 8 deep"), "{msgs:?}");
        assert!(msgs[3].contains("not a file"), "{msgs:?}");
    }

    fn parse(z: &str, origin: Option<&str>) -> (Vec<OwnedRecord>, ChunkOut) {
        let st = State { origin: origin.map(|o| Origin::parse(o).unwrap()), ..State::default() };
        let mut sink = VecSink::default();
        let out = parse_chunk(z.as_bytes(), 1, st, &mut sink);
        (sink.0, out)
    }

    fn line(r: &OwnedRecord) -> String {
        format!("{} {} {} {}", r.owner, r.ttl, r.rtype, r.rdata)
    }

    #[test]
    fn master_file_syntax() {
        let z = "$ORIGIN Example.\n$TTL 1h\n@ IN 900 SOA ns hostmaster ( 1 ; serial\n 2 3 4 5 )\n\tNS ns\nns 60 IN A 192.0.2.1\n\tIN AAAA ::1\nsub CLASS1 TXT \"x y\" z\n";
        let (recs, out) = parse(z, None);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let got: Vec<String> = recs.iter().map(line).collect();
        assert_eq!(
            got,
            vec![
                "example 900 SOA ns.example hostmaster.example 1 2 3 4 5",
                "example 3600 NS ns.example",
                "ns.example 60 A 192.0.2.1",
                "ns.example 3600 AAAA ::1",
                "sub.example 3600 TXT \"x y\" \"z\"",
            ]
        );
        // It set origin, $TTL and owner before reading them; only the zone class came from outside.
        assert_eq!(out.used, used::CLASS);
    }

    #[test]
    fn ttl_fallbacks() {
        // No $TTL: the last explicit TTL, and before any, the SOA MINIMUM.
        let z = "@ SOA a. b. 1 2 3 4 77\na NS b.\nc 5 NS d.\ne NS f.\n";
        let (recs, _) = parse(z, Some("t"));
        let ttls: Vec<u32> = recs.iter().map(|r| r.ttl).collect();
        assert_eq!(ttls, vec![77, 77, 5, 5]);
        let (recs, _) = parse("a NS b.\n", Some("t"));
        assert_eq!(recs[0].ttl, 3600);
    }

    #[test]
    fn errors_carry_lines_and_skip() {
        let z = "a 1 IN A 1.2.3.4\nb 1 IN A 300.1.1.1\nc 1 IN BOGUS x\nd 1 CH A 1.2.3.4\ne 1 IN A 1.2.3.5\n";
        let (recs, out) = parse(z, Some("t"));
        assert_eq!(recs.len(), 2);
        let lines: Vec<u64> = out.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 3, 4]);
        assert!(out.errors[2].msg.contains("class CH"), "{}", out.errors[2].msg);
    }

    #[test]
    fn start_state_dependencies() {
        let (_, out) = parse("a NS b\n", Some("t"));
        assert_eq!(out.used & used::ORIGIN, used::ORIGIN);
        let (_, out) = parse("a. 1 NS b.\n", None);
        assert_eq!(out.used, 0);
        let (_, out) = parse(" 1 NS b.\n", None);
        assert_eq!(out.errors.len(), 1);
        assert_eq!(out.used & used::PREV_OWNER, used::PREV_OWNER);
        let (_, out) = parse("a. NS b.\n", None);
        assert_eq!(
            out.used & (used::DEFAULT_TTL | used::LAST_TTL | used::SOA_MINIMUM),
            used::DEFAULT_TTL | used::LAST_TTL | used::SOA_MINIMUM
        );
    }

    /// Parses `z` on both paths, the CZDS fast path and the full lexer: records, errors and
    /// the state the chunk ends in must be identical. Returns how many of its lines the fast
    /// path reads, and how many records came with the owner's text.
    fn both_paths(z: &[u8], start: State) -> (usize, usize) {
        let run = |no_fast_path| {
            let mut sink = CheckedSink::default();
            let out = parse_chunk_with(z, 1, start.clone(), &mut sink, &Options { no_fast_path, ..Options::default() });
            (sink.records.0, format!("{out:?}"), sink.owner_texts)
        };
        let (fast, slow) = (run(false), run(true));
        assert_eq!(fast.0, slow.0, "records");
        assert_eq!(fast.1, slow.1, "errors and end state");
        let read = z.split(|&b| b == b'\n').filter(|l| czds::read(l).is_some()).count();
        assert_eq!(slow.2, 0, "the full parser gives no owner text");
        assert!(fast.2 <= read, "owner texts: {} of {read} fast lines", fast.2);
        (read, fast.2)
    }

    #[test]
    fn the_czds_fast_path_equals_the_full_parser() {
        let origin = || State { origin: Some(Origin::parse("com").unwrap()), ..State::default() };
        let mut zone = Vec::new();
        crate::synth::write_zone_day(&mut zone, "com", 3000, 1, 1).unwrap();
        let lines = zone.iter().filter(|&&b| b == b'\n').count();
        assert_eq!(both_paths(&zone, origin()), (lines - 1, lines - 1), "every line but the SOA takes the fast path");
        // Lines it reads, declines, and lines that change the state it reads in between.
        let mixed = "a.com.\t5\tin\tns\tns1.b.net.\n\tNS ns2.b.net.\nA.com.\t6\tin\tns\tb.net.\n\
            b.com. NS c.net.\nb.com.\t7\tIN\tDS\t1 13 2 ab\nb.com.\t8\tin\tds\t1 13 2 abc\n\
            c.com.\t9\tin\ta\t01.2.3.4\nc.com.\t10\tin\ta\t1.2.3.4 ; x\n$TTL 60\nd NS e.net.\n\
            d.com.\t11\tin\tns\t( x.net. )\nd.com.\t2147483648\tin\tns\tx.net.\ne.com.\t12\tin\tns\te.net.";
        assert_eq!(both_paths(mixed.as_bytes(), origin()), (3, 3));
        // A zone of another class: the full parser reports each IN line.
        let ch = State { class: Some(3), ..origin() };
        both_paths(b"a.com.\t5\tin\tns\tb.net.\na.com.\t5\tch\tns\tb.net.\n", ch);
        // Lines the fast path reads, one after another, with the others between them.
        let mut lines = String::new();
        for l in mixed.split('\n') {
            lines.push_str(l);
            lines.push('\n');
            lines.push_str("z.com.\t1\tin\tns\tz.net.\n");
        }
        both_paths(lines.as_bytes(), origin());
        both_paths(lines.as_bytes(), State::default());
    }

    #[test]
    fn directives_refused_clearly() {
        let (_, out) = parse("$INCLUDE other.zone\n$GENERATE 1-2 a$ A 1.2.3.$\n$FOO\n", Some("t"));
        assert_eq!(out.errors.len(), 3);
        assert!(out.errors[0].msg.contains("--allow-include"));
        assert!(out.errors[1].msg.contains("$GENERATE"));
    }
}
