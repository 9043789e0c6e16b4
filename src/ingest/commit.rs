//! Parsing chunks, and taking their results in file order.
//!
//! A worker parses a chunk from the latest parse state it can see. The commit step, which
//! runs on one thread in file order, knows the true state each chunk starts in: when the
//! chunk read a part of its start state that differs from the truth, or the previous chunk
//! ended inside an entry (an open parenthesis or quote), the chunk is parsed again here, from
//! the true state and with that entry's bytes in front. So the records never depend on where
//! the chunk boundaries fell.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Mutex;

use crossbeam_channel::Receiver;
use memchr::memchr_iter;

use super::source::Counters;
use super::{ImportError, Options, RawChunk};
use crate::sort::{Part, Sorter};
use crate::zone::name::{self, Origin};
use crate::zone::parser::{self, ChunkOut, ParseError, Record, Sink, State};
use crate::zone::types;

/// A chunk after a worker parsed it.
pub struct Parsed {
    seq: u64,
    bytes: super::source::ChunkBytes,
    guess: State,
    out: ChunkOut,
    part: Part,
    newlines: u64,
    sink_errors: Vec<ParseError>,
}

/// Turns parsed records into sort keys: `domain \0 owner \0 TYPE \0 rdata`.
struct KeySink<'z> {
    zone: &'z Origin,
    part: Part,
    errors: Vec<ParseError>,
    owner_text: String,
    type_text: String,
}

impl<'z> KeySink<'z> {
    /// A sink for a chunk of `bytes` of zone text: its keys take about as many bytes.
    fn new(zone: &'z Origin, bytes: usize) -> Self {
        let part = Part::with_capacity(bytes + bytes / 4);
        KeySink { zone, part, errors: Vec::new(), owner_text: String::new(), type_text: String::new() }
    }
}

impl Sink for KeySink<'_> {
    fn record(&mut self, r: &Record<'_>) {
        let domain = match name::delegation_of(r.owner, self.zone) {
            Ok(Some(d)) => d,
            Ok(None) => self.zone.wire(),
            Err(name::OutOfZone) => {
                self.owner_text.clear();
                name::wire_to_text(r.owner, &mut self.owner_text);
                self.errors.push(ParseError {
                    line: r.line,
                    msg: format!("owner `{}` is outside the zone `{}`", self.owner_text, self.zone.text()),
                });
                return;
            }
        };
        self.owner_text.clear();
        match r.owner_text {
            Some(t) => self.owner_text.push_str(t),
            None => name::wire_to_text(r.owner, &mut self.owner_text),
        }
        self.type_text.clear();
        types::push_type(r.rtype, &mut self.type_text);
        let start = self.part.arena_len();
        let buf = self.part.key_buf();
        // The domain is a suffix of the owner: its text is the owner text's tail.
        let dlabels = label_count(domain);
        let dtext = text_suffix(&self.owner_text, label_count(r.owner) - dlabels);
        buf.extend_from_slice(dtext.as_bytes());
        buf.push(0);
        buf.extend_from_slice(self.owner_text.as_bytes());
        buf.push(0);
        buf.extend_from_slice(self.type_text.as_bytes());
        buf.push(0);
        buf.extend_from_slice(r.rdata.as_bytes());
        self.part.finish(start, r.ttl);
    }
}

fn label_count(wire: &[u8]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < wire.len() && wire[i] != 0 {
        n += 1;
        i += 1 + wire[i] as usize;
    }
    n
}

/// The text of a name after dropping its first `skip` labels (escaped dots do not count).
fn text_suffix(text: &str, skip: usize) -> &str {
    if skip == 0 {
        return text;
    }
    let b = text.as_bytes();
    let mut seen = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += if b.get(i + 1).is_some_and(u8::is_ascii_digit) { 4 } else { 2 },
            b'.' => {
                seen += 1;
                i += 1;
                if seen == skip {
                    return &text[i..];
                }
            }
            _ => i += 1,
        }
    }
    "."
}

/// Parses one chunk from a guessed start state (on a worker).
pub(crate) fn parse(raw: RawChunk, guess: State, zone: &Origin, popts: &parser::Options) -> Parsed {
    let mut sink = KeySink::new(zone, raw.bytes.len());
    let out = parser::parse_chunk_with(&raw.bytes, 1, guess.clone(), &mut sink, popts);
    // Sorted here, on the worker, while the part is small enough to sort in cache.
    sink.part.sort();
    let newlines = memchr_iter(b'\n', &raw.bytes).count() as u64;
    Parsed { seq: raw.seq, bytes: raw.bytes, guess, out, part: sink.part, newlines, sink_errors: sink.errors }
}

/// What the in-order pass found.
pub struct Committed {
    pub errors: u64,
    pub records: u64,
}

/// Takes parsed chunks in file order into the sorter. Stops early once errors pass the limit.
#[allow(clippy::too_many_arguments)]
pub(crate) fn commit_all(
    rx: Receiver<Parsed>,
    initial: State,
    zone: &Origin,
    latest: &Mutex<State>,
    sorter: &mut Sorter,
    opts: &Options,
    file: &str,
    counters: &Counters,
    on_error: &mut dyn FnMut(&ParseError),
) -> Result<Committed, ImportError> {
    let mut pending: BTreeMap<u64, Parsed> = BTreeMap::new();
    let mut next = 0u64;
    let mut state = initial;
    let mut line = 1u64; // first line of the next chunk
    let mut carry: Option<(Vec<u8>, u64)> = None; // an entry cut off by the previous chunk's end
    let mut errors = 0u64;
    let mut records = 0u64;
    let mut report = |e: &ParseError, errors: &mut u64| {
        *errors += 1;
        on_error(e);
    };
    for p in rx {
        pending.insert(p.seq, p);
        while let Some(p) = pending.remove(&next) {
            next += 1;
            let chunk_line = line;
            line += p.newlines;
            let reparse = carry.is_some() || !p.guess.agrees(&state, p.out.used);
            let (out, part, sink_errors, base) = if reparse {
                let (mut bytes, first) = carry.take().map_or((Vec::new(), chunk_line), |(b, l)| (b, l));
                bytes.extend_from_slice(&p.bytes);
                let mut sink = KeySink::new(zone, bytes.len());
                let out = parser::parse_chunk_with(&bytes, first, state.clone(), &mut sink, &opts.parser);
                if let Some((start, l)) = out.incomplete {
                    carry = Some((bytes[start..].to_vec(), l));
                }
                (out, sink.part, sink.errors, 0)
            } else {
                if let Some((start, l)) = p.out.incomplete {
                    carry = Some((p.bytes[start..].to_vec(), chunk_line + l - 1));
                }
                (p.out, p.part, p.sink_errors, chunk_line - 1)
            };
            for e in out.errors.iter().chain(sink_errors.iter()) {
                report(&ParseError { line: e.line + base, msg: e.msg.clone() }, &mut errors);
            }
            if carry.as_ref().is_some_and(|(b, _)| b.len() > crate::zone::lexer::MAX_ENTRY) {
                let l = carry.as_ref().map_or(0, |c| c.1);
                report(
                    &ParseError { line: l, msg: "entry longer than the 256 KiB limit (unclosed parenthesis or quote?)".into() },
                    &mut errors,
                );
                carry = None;
            }
            if errors > opts.max_errors {
                return Err(ImportError::TooManyErrors { file: file.to_string(), count: errors, max: opts.max_errors });
            }
            // A chunk accepted on its guess set some parts itself; the rest are the true start's.
            state = state.after(&out.end, out.set);
            if let Ok(mut l) = latest.lock() {
                l.clone_from(&state);
            }
            records += out.records;
            counters.records.store(records, Ordering::Relaxed);
            sorter.push(part).map_err(|e| ImportError::Spill { file: file.to_string(), dir: opts.spill_dir.clone(), source: e })?;
        }
    }
    if let Some((_, l)) = carry {
        report(&ParseError { line: l, msg: "unclosed parenthesis or quote at the end of the file".into() }, &mut errors);
    }
    if errors > opts.max_errors {
        return Err(ImportError::TooManyErrors { file: file.to_string(), count: errors, max: opts.max_errors });
    }
    Ok(Committed { errors, records })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same zone cut at every chunk size gives the same records.
    #[test]
    fn chunk_size_never_changes_the_result() {
        let zone = b"$ORIGIN t.\n$TTL 60\n@ SOA a b ( 1 2\n 3 4 5 )\n  NS ns\nns A 192.0.2.1\n\tAAAA ::1\nx 5 NS ns\ny NS ( ns.\n ) ; c\nz TXT \"multi\nline\"\n$ORIGIN sub.t.\nw NS ns.t.\n".to_vec();
        let whole = crate::ingest::parse_in_chunks(zone.clone(), 1 << 20, "t").expect("parses");
        assert_eq!(whole.len(), 8);
        for chunk in 1..zone.len() + 1 {
            assert_eq!(crate::ingest::parse_in_chunks(zone.clone(), chunk, "t").as_ref(), Ok(&whole), "chunk size {chunk}");
        }
    }

    #[test]
    fn suffixes() {
        assert_eq!(text_suffix("ns1.example.com", 1), "example.com");
        assert_eq!(text_suffix("a\\.b.example.com", 1), "example.com");
        assert_eq!(text_suffix("a\\046b.c", 1), "c");
        assert_eq!(text_suffix("com", 0), "com");
    }
}
