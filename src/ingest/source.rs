//! Input: a file or stdin, plain or gzip, cut into line-aligned chunks.
//!
//! gzip is recognised by its magic bytes (RFC 1952 §2.3.1), never by the name, and read with
//! `MultiGzDecoder` so a multi-member file is read whole; a truncated or corrupt stream is an
//! error. Plain files are memory-mapped and chunked in place; streams are read into buffers.
//!
//! Chunks end after a `\n` and, where the next few lines allow, before a line that names its
//! owner, so a chunk rarely depends on the previous chunk's last owner. The parse state a chunk
//! starts in is not the splitter's business: see [`crate::zone::parser`].

use std::fs::File;
use std::io::{self, Read};
use std::ops::{Deref, Range};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use flate2::bufread::GzDecoder;
use memchr::{memchr, memrchr};
use memmap2::Mmap;
use sha2::{Digest, Sha256};

use crate::zone::lexer::MAX_ENTRY;

/// Target chunk size: large enough to amortise hand-offs, small enough to keep both cores fed.
pub const CHUNK: usize = 4 << 20; // 4 MiB

/// How far past the target a chunk may grow to end before a line that names its owner.
const OWNER_SEARCH: usize = 64 << 10; // 64 KiB

/// The bytes of one chunk.
pub enum ChunkBytes {
    Owned(Vec<u8>),
    Mapped(Arc<Mmap>, Range<usize>),
}

impl Deref for ChunkBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            ChunkBytes::Owned(v) => v,
            ChunkBytes::Mapped(m, r) => &m[r.clone()],
        }
    }
}

/// Where the zone comes from.
#[derive(Debug, Clone)]
pub enum Input {
    Stdin,
    File(PathBuf),
    /// A reader handed over once (`sync` feeds a download as it arrives), under a name.
    Reader(String, SharedReader),
}

/// A reader that `open` takes out of its slot (an `Input` is borrowed, and cloned for tests).
#[derive(Clone)]
pub struct SharedReader(Arc<std::sync::Mutex<Option<Box<dyn Read + Send>>>>);

impl SharedReader {
    pub fn new(r: Box<dyn Read + Send>) -> SharedReader {
        SharedReader(Arc::new(std::sync::Mutex::new(Some(r))))
    }
}

impl std::fmt::Debug for SharedReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedReader")
    }
}

impl Input {
    pub fn from_arg(a: &str) -> Input {
        if a == "-" {
            Input::Stdin
        } else {
            Input::File(PathBuf::from(a))
        }
    }

    /// The name errors and the `zones.source` column use.
    pub fn display(&self) -> String {
        match self {
            Input::Stdin => "<stdin>".into(),
            Input::File(p) => p.display().to_string(),
            Input::Reader(name, _) => name.clone(),
        }
    }

    pub fn path(&self) -> Option<&Path> {
        match self {
            Input::Stdin | Input::Reader(..) => None,
            Input::File(p) => Some(p),
        }
    }
}

pub use crate::progress::Counters;

/// An opened input, ready to be split.
pub struct Opened {
    kind: Kind,
    /// Size of the input as stored, when known (files).
    pub size: Option<u64>,
    pub gzip: bool,
}

enum Kind {
    Mapped(Arc<Mmap>),
    Stream(Box<dyn Read + Send>),
}

/// A reader that counts and hashes what passes through it.
struct Tee<R> {
    inner: R,
    hasher: Option<Sha256>,
    counters: Arc<Counters>,
    out: Arc<std::sync::Mutex<Option<[u8; 32]>>>,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = self.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        self.counters.raw.fetch_add(n as u64, Ordering::Relaxed);
        if n == 0 {
            if let (Some(h), Ok(mut slot)) = (self.hasher.take(), self.out.lock()) {
                *slot = Some(h.finalize().into());
            }
        }
        Ok(n)
    }
}

/// The SHA-256 of the input as stored, known once the input has been read to its end.
pub type DigestSlot = Arc<std::sync::Mutex<Option<[u8; 32]>>>;

/// Opens an input. The digest of a stream fills `digest` when the stream reaches its end;
/// for a regular file it is computed by [`sha256_file`] instead, before the import (it
/// decides whether the file is new), so the reader, whose inflating bounds the parse, does
/// not hash it a second time.
pub fn open(input: &Input, counters: &Arc<Counters>, digest: &DigestSlot) -> io::Result<Opened> {
    let mut hashed = false;
    let (mut reader, size): (Box<dyn Read + Send>, Option<u64>) = match input {
        Input::Stdin => (Box::new(io::stdin()), None),
        Input::Reader(_, slot) => match slot.0.lock().ok().and_then(|mut r| r.take()) {
            Some(r) => (r, None),
            None => return Err(io::Error::other("the input reader was already used")),
        },
        Input::File(p) => {
            let f = File::open(p)?;
            let meta = f.metadata()?;
            if meta.is_dir() {
                return Err(io::Error::other("is a directory"));
            }
            let size = meta.is_file().then_some(meta.len());
            let mut magic = [0u8; 2];
            let n = read_full(&mut &f, &mut magic)?;
            let gzip = n == 2 && magic == [0x1f, 0x8b];
            if !gzip && meta.is_file() && meta.len() > 0 {
                // SAFETY: the map is read-only; a file truncated under us makes reads fault,
                // which is the documented risk of mapping and the price of zero-copy chunks.
                let map = unsafe { Mmap::map(&f)? };
                counters.raw.fetch_add(map.len() as u64, Ordering::Relaxed);
                return Ok(Opened { kind: Kind::Mapped(Arc::new(map)), size, gzip: false });
            }
            hashed = meta.is_file();
            // The bytes already read go first: a pipe (`import <(zcat f)`, /dev/stdin) cannot
            // be opened again from its start.
            (Box::new(io::Cursor::new(magic[..n].to_vec()).chain(f)), size)
        }
    };
    let mut head = [0u8; 2];
    let n = read_full(&mut reader, &mut head)?;
    let gzip = n == 2 && head == [0x1f, 0x8b];
    let chained = io::Cursor::new(head[..n].to_vec()).chain(reader);
    let hasher = (!hashed).then(Sha256::new);
    let tee = Tee { inner: chained, hasher, counters: counters.clone(), out: digest.clone() };
    let stream: Box<dyn Read + Send> =
        if gzip { Box::new(Members::new(io::BufReader::with_capacity(1 << 20, tee))) } else { Box::new(tee) };
    Ok(Opened { kind: Kind::Stream(stream), size, gzip })
}

/// A gzip file of one or more members (RFC 1952 §2.2), read whole. Unlike flate2's
/// `MultiGzDecoder`, it tells a cut file (the stream ends inside a member: "truncated") from
/// one that is complete but followed by bytes that are not another member ("data after the
/// end").
struct Members<R: io::BufRead> {
    member: Option<GzDecoder<R>>,
}

impl<R: io::BufRead> Members<R> {
    fn new(r: R) -> Members<R> {
        Members { member: Some(GzDecoder::new(r)) }
    }
}

impl<R: io::BufRead> Read for Members<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(member) = self.member.as_mut() else { return Ok(0) };
            let n = member.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            // This member is complete: the input ends here, or another member follows.
            let mut rest = self.member.take().map(GzDecoder::into_inner).ok_or_else(|| io::Error::other("no member"))?;
            let next = rest.fill_buf()?;
            if next.is_empty() {
                return Ok(0);
            }
            // A buffer may end between the two magic bytes; the first must match.
            if next[0] != 0x1f || next.get(1).is_some_and(|&b| b != 0x8b) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "data after the end of the gzip stream (the file is complete, then not gzip: junk appended?)",
                ));
            }
            self.member = Some(GzDecoder::new(rest));
        }
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// An in-memory input (fuzzing, tests), read as a stream.
pub fn from_bytes(data: Vec<u8>) -> Opened {
    Opened { kind: Kind::Stream(Box::new(io::Cursor::new(data))), size: None, gzip: false }
}

/// SHA-256 of a file as stored.
pub fn sha256_file(path: &Path) -> io::Result<[u8; 32]> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(h.finalize().into());
        }
        h.update(&buf[..n]);
    }
}

/// Where a chunk ends: after the first `\n` at or past `target`, moved on to the start of a
/// line that names its owner when one is near.
fn boundary(data: &[u8], target: usize) -> Option<usize> {
    let nl = memchr(b'\n', data.get(target..)?)? + target;
    let mut end = nl + 1;
    let limit = (nl + OWNER_SEARCH).min(data.len());
    while end < limit && matches!(data[end], b' ' | b'\t') {
        match memchr(b'\n', &data[end..limit]) {
            Some(i) => end += i + 1,
            None => return Some(nl + 1),
        }
    }
    if end >= limit {
        Some(nl + 1)
    } else {
        Some(end)
    }
}

/// Cuts the input into chunks and hands each to `emit`; returns when the input is done or
/// `emit` returns false. Errors carry what went wrong (I/O, gzip, a line without end).
pub fn split(opened: Opened, chunk: usize, counters: &Counters, mut emit: impl FnMut(ChunkBytes) -> bool) -> Result<(), String> {
    match opened.kind {
        Kind::Mapped(map) => {
            let mut pos = 0;
            while pos < map.len() {
                let end = boundary(&map[pos..], chunk).map_or(map.len(), |b| pos + b);
                counters.text.fetch_add((end - pos) as u64, Ordering::Relaxed);
                if !emit(ChunkBytes::Mapped(map.clone(), pos..end)) {
                    return Ok(());
                }
                pos = end;
            }
            Ok(())
        }
        Kind::Stream(mut r) => {
            let mut buf: Vec<u8> = Vec::with_capacity(chunk + OWNER_SEARCH + (1 << 20));
            let mut eof = false;
            let mut want = chunk + OWNER_SEARCH;
            loop {
                while !eof && buf.len() < want {
                    eof = fill(&mut r, &mut buf)?;
                }
                if buf.is_empty() {
                    return Ok(());
                }
                let end = match boundary(&buf, chunk) {
                    Some(b) => b,
                    None if eof => buf.len(),
                    None => match memrchr(b'\n', &buf) {
                        Some(i) => i + 1,
                        None if buf.len() > MAX_ENTRY + chunk => {
                            return Err(format!("a line longer than {} KiB", MAX_ENTRY >> 10));
                        }
                        None => {
                            want = buf.len() + (1 << 20); // one long line: read on
                            continue;
                        }
                    },
                };
                want = chunk + OWNER_SEARCH;
                let mut next = Vec::with_capacity(chunk + OWNER_SEARCH + (1 << 20));
                next.extend_from_slice(&buf[end..]);
                buf.truncate(end);
                counters.text.fetch_add(end as u64, Ordering::Relaxed);
                if !emit(ChunkBytes::Owned(std::mem::replace(&mut buf, next))) {
                    return Ok(());
                }
            }
        }
    }
}

/// Reads up to 1 MiB more into `buf`; true at the end of the input.
fn fill(r: &mut dyn Read, buf: &mut Vec<u8>) -> Result<bool, String> {
    let old = buf.len();
    buf.resize(old + (1 << 20), 0);
    loop {
        match r.read(&mut buf[old..]) {
            Ok(n) => {
                buf.truncate(old + n);
                return Ok(n == 0);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                buf.truncate(old);
                return Err(if e.kind() == io::ErrorKind::UnexpectedEof {
                    "truncated gzip stream (the file ends before the gzip trailer)".to_string()
                } else {
                    format!("read failed: {e}")
                });
            }
        }
    }
}

/// The zone a CZDS file name names: `com.txt.gz`, `com.zone`, `com.zone.gz`, `com.txt`.
pub fn zone_from_file_name(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    for suffix in [".zone.gz", ".txt.gz", ".zone", ".txt"] {
        if let Some(stem) = name.strip_suffix(suffix) {
            if !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') {
                return Some(stem.to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_prefer_owner_lines() {
        let d = b"a NS x\n  NS y\n  NS z\nb NS w\n";
        assert_eq!(boundary(d, 0), Some(21));
        assert_eq!(boundary(d, 22), Some(d.len()));
        assert_eq!(boundary(b"abc", 0), None);
    }

    #[test]
    fn czds_file_names() {
        assert_eq!(zone_from_file_name(Path::new("/x/com.txt.gz")).as_deref(), Some("com"));
        assert_eq!(zone_from_file_name(Path::new("xn--p1ai.zone")).as_deref(), Some("xn--p1ai"));
        assert_eq!(zone_from_file_name(Path::new("COM.zone.gz")).as_deref(), Some("com"));
        assert_eq!(zone_from_file_name(Path::new("db.local")), None);
    }
}
