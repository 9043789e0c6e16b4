//! Spilled runs on disk: sorted (key, TTL) records, front-coded and LZ4-compressed, and given
//! back to the file system as the merge reads them.
//!
//! Sorted keys share long prefixes (a domain's records, an RRset's rdata), so a record is
//! stored as the length of the prefix it shares with the key before it, its remaining bytes
//! and its TTL, as varints; LZ4 frames (`lz4_flex`) then take what repeats further away (name
//! server hosts, `.com`). A run is a temporary file deleted on creation, so a crash leaves
//! nothing; while the final merge reads it, the part already read is punched out
//! (`fallocate(PUNCH_HOLE)` on Linux), so the runs shrink as the database grows.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

use lz4_flex::frame::{BlockMode, BlockSize, FrameDecoder, FrameEncoder, FrameInfo};

use super::Merged;

/// What a spill wrote: the file's bytes, and the bytes the records would take uncompressed
/// (4-byte length, key, 4-byte TTL each, the format before compression).
#[derive(Debug, Default, Clone, Copy)]
pub struct Written {
    pub bytes: u64,
    pub raw: u64,
}

/// Writes the records of `merged`, in key order, to a new temporary file in `dir`; the file
/// comes back rewound.
pub fn write(dir: &Path, merged: &mut Merged) -> io::Result<(File, Written)> {
    let f = tempfile::tempfile_in(dir)?;
    let info = FrameInfo::new().block_size(BlockSize::Max256KB).block_mode(BlockMode::Linked);
    let mut w = BufWriter::with_capacity(1 << 20, FrameEncoder::with_frame_info(info, f));
    let mut prev: Vec<u8> = Vec::new();
    let mut raw = 0u64;
    while let Some((key, ttl)) = merged.next_rec()? {
        let shared = prev.iter().zip(key).take_while(|(a, b)| a == b).count();
        let mut head = [0u8; 30];
        let mut n = put_varint(&mut head, shared as u64);
        n += put_varint(&mut head[n..], (key.len() - shared) as u64);
        w.write_all(&head[..n])?;
        w.write_all(&key[shared..])?;
        let n = put_varint(&mut head, u64::from(ttl));
        w.write_all(&head[..n])?;
        prev.truncate(shared);
        prev.extend_from_slice(&key[shared..]);
        raw += 8 + key.len() as u64;
    }
    let enc = w.into_inner().map_err(|e| e.into_error())?;
    let mut f = enc.finish().map_err(io::Error::other)?;
    f.flush()?;
    let bytes = f.metadata()?.len();
    io::Seek::seek(&mut f, io::SeekFrom::Start(0))?;
    Ok((f, Written { bytes, raw }))
}

/// LEB128: seven bits a byte, low first. Returns the bytes written (at most 10).
fn put_varint(out: &mut [u8], mut v: u64) -> usize {
    let mut i = 0;
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out[i] = b;
            return i + 1;
        }
        out[i] = b | 0x80;
        i += 1;
    }
}

/// Reads a spilled run back, record by record.
pub struct Reader {
    r: BufReader<FrameDecoder<Punch>>,
    key: Vec<u8>,
    ttl: u32,
}

impl Reader {
    pub fn new(f: File) -> Reader {
        Reader { r: BufReader::with_capacity(256 << 10, FrameDecoder::new(Punch::new(f))), key: Vec::new(), ttl: 0 }
    }

    pub fn key(&self) -> &[u8] {
        &self.key
    }

    pub fn ttl(&self) -> u32 {
        self.ttl
    }

    /// Moves to the next record; false at the end of the run.
    pub fn advance(&mut self) -> io::Result<bool> {
        let Some(shared) = self.varint(true)? else { return Ok(false) };
        let len = self.need()?;
        let (shared, len) = (shared as usize, len as usize);
        if shared > self.key.len() {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "spilled run: a key shares more than the key before it"));
        }
        self.key.truncate(shared);
        // Most suffixes sit whole in the buffer: one copy, no zero-fill.
        let buf = self.r.fill_buf()?;
        if let Some(s) = buf.get(..len) {
            self.key.extend_from_slice(s);
            self.r.consume(len);
        } else {
            let start = self.key.len();
            self.key.resize(start + len, 0);
            self.r.read_exact(&mut self.key[start..])?;
        }
        self.ttl = u32::try_from(self.need()?).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "spilled run: TTL out of range"))?;
        Ok(true)
    }

    fn need(&mut self) -> io::Result<u64> {
        self.varint(false)?.ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "spilled run ends inside a record"))
    }

    /// The next varint; None at a clean end when `at_start`.
    fn varint(&mut self, at_start: bool) -> io::Result<Option<u64>> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let buf = self.r.fill_buf()?;
            let Some(&b) = buf.first() else {
                return if at_start && shift == 0 { Ok(None) } else { Err(io::ErrorKind::UnexpectedEof.into()) };
            };
            self.r.consume(1);
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(Some(v));
            }
        }
        Err(io::Error::new(io::ErrorKind::InvalidData, "spilled run: varint too long"))
    }
}

/// Reads a file front to back and gives back to the file system what it has read, every
/// [`PUNCH_EVERY`] bytes: the bytes returned are in the reader's buffers already.
struct Punch {
    f: File,
    read: u64,
    punched: u64,
}

const PUNCH_EVERY: u64 = 16 << 20;

/// Whether runs are given back while they are read (Linux; where a file system refuses, the
/// run is freed when dropped).
pub const PUNCHES: bool = cfg!(target_os = "linux");

impl Punch {
    fn new(f: File) -> Punch {
        Punch { f, read: 0, punched: 0 }
    }

    #[cfg(target_os = "linux")]
    fn punch(&mut self) {
        use std::os::fd::AsRawFd;
        let len = self.read - self.punched;
        // SAFETY: fallocate on a file descriptor we own; a range within the file. A file
        // system without hole punching says EOPNOTSUPP, and the run is freed when dropped.
        let r = unsafe {
            libc::fallocate(
                self.f.as_raw_fd(),
                libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                self.punched as libc::off_t,
                len as libc::off_t,
            )
        };
        if r == 0 {
            self.punched = self.read;
        } else {
            // Not supported here: stop trying.
            self.punched = u64::MAX;
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn punch(&mut self) {
        self.punched = u64::MAX;
    }
}

impl Read for Punch {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.f.read(buf)?;
        self.read += n as u64;
        if self.punched != u64::MAX && self.read - self.punched >= PUNCH_EVERY {
            self.punch();
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_read_back_as_written_and_are_smaller() {
        let keys: Vec<(Vec<u8>, u32)> = (0..200_000u32)
            .map(|i| {
                (
                    format!("{:07}.example.com\0{:07}.example.com\0NS\0ns{}.host{}.net", i / 2, i / 2, i % 2, i % 97).into_bytes(),
                    86400 + i % 3,
                )
            })
            .chain(std::iter::once((vec![b'z'; 70_000], u32::MAX)))
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let merged = || {
            let mut p = super::super::Part::default();
            for (k, t) in &keys {
                let start = p.arena_len();
                p.key_buf().extend_from_slice(k);
                p.finish(start, *t);
            }
            let mut s = super::super::Sorter::new(1 << 30, dir.path().into());
            s.push(p).unwrap();
            s.finish().unwrap()
        };
        let (f, w) = write(dir.path(), &mut merged()).unwrap();
        assert!(w.bytes * 4 < w.raw, "{w:?}");
        let mut r = Reader::new(f);
        for (k, t) in &keys {
            assert!(r.advance().unwrap());
            assert_eq!((r.key(), r.ttl()), (k.as_slice(), *t));
        }
        assert!(!r.advance().unwrap());
        // A run cut short is an error, not a short answer.
        let (f, _) = write(dir.path(), &mut merged()).unwrap();
        f.set_len(f.metadata().unwrap().len() / 2).unwrap();
        let mut r = Reader::new(f);
        let e = std::iter::from_fn(|| match r.advance() {
            Ok(true) => Some(Ok(())),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        })
        .find_map(Result::err);
        assert!(e.is_some());
    }
}
