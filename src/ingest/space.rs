//! The disk an import will need, estimated before it writes anything, so that an import that
//! cannot fit is refused in a second instead of failing after minutes (the headroom watermark
//! in [`crate::store::space`] still stops one whose estimate was short).
//!
//! The estimate is the zone's text size times what a byte of text costs, measured on
//! zonegen's zones (`docs/STORAGE.md`, "Size"): the database a first import writes, the sort
//! runs it spills when its records outgrow `--memory`, and, over a current version, the new
//! comparison state and the changed rows.

use std::path::{Path, PathBuf};

use crate::progress::human_bytes;
use crate::sort::spill;
use crate::store;

/// Database bytes per byte of zone text, a first import with records (1M domains of
/// `../shared/zonegen.py`: 199 MB for 136 MB of text since schema 20, 335 MB at schema 18).
const DB_WITH_RECORDS: f64 = 1.6;
/// The same without records (87 MB for 136 MB; 123 MB at schema 18).
const DB_NO_RECORDS: f64 = 0.7;
/// An import over a current version: its packed comparison state is written whole before the
/// old one is dropped, beside the changed rows and the WAL (+25 MB at its peak for 136 MB of
/// text and 1.5% of the domains changed).
const DB_NEXT: f64 = 0.25;
/// Sort runs on disk, compressed, of records, name-server pairs and glue (55 MB for 136 MB).
const SPILL: f64 = 0.45;
/// Sort-key bytes per byte of text: the records spill when this outgrows the sorter's share
/// of `--memory` (an eighth).
const KEYS: f64 = 1.15;
/// Text bytes per gzip byte when no earlier version of the zone says (CZDS's .com: 22 GB of
/// text in 5.13 GB).
const GZIP_RATIO: f64 = 4.3;

/// What an import is expected to take.
#[derive(Debug, Clone, Copy)]
pub struct Need {
    /// The zone's text, estimated for a gzip file.
    pub text: u64,
    /// Growth of the database (and its WAL).
    pub db: u64,
    /// Sort runs.
    pub temp: u64,
}

/// The input as far as the estimate needs it.
pub struct Input<'a> {
    pub path: Option<&'a Path>,
    pub size: Option<u64>,
    pub gzip: bool,
}

/// The estimate; None when the input's size is unknown (a pipe).
pub fn estimate(input: &Input<'_>, previous: Option<&store::Current>, records: bool, memory: usize) -> Option<Need> {
    let size = input.size?;
    let text = if input.gzip {
        // A previous version of the zone knows this zone's ratio.
        let ratio = previous.and_then(|p| Some(p.bytes as f64 / p.size.filter(|&s| s > 0)? as f64)).filter(|r| *r >= 1.0);
        text_of_gzip(size, ratio.unwrap_or(GZIP_RATIO), input.path.and_then(gzip_isize))
    } else {
        size
    };
    let t = text as f64;
    let over_current = previous.is_some_and(|p| p.with_records == records);
    let db = if over_current {
        DB_NEXT
    } else if records {
        DB_WITH_RECORDS
    } else {
        DB_NO_RECORDS
    };
    let spills = records && t * KEYS > (memory / 8) as f64;
    Some(Need { text, db: (t * db) as u64, temp: if spills { (t * SPILL) as u64 } else { 0 } })
}

/// The text size of a gzip file of `size` bytes: gzip's trailer holds it modulo 2^32
/// (RFC 1952, ISIZE), so of the sizes it allows the one nearest `size * ratio` is taken.
fn text_of_gzip(size: u64, ratio: f64, isize: Option<u32>) -> u64 {
    let guess = (size as f64 * ratio) as u64;
    let Some(isize) = isize.map(u64::from) else { return guess };
    let k = guess.saturating_sub(isize) >> 32;
    [k, k + 1].into_iter().map(|k| isize + (k << 32)).min_by_key(|c| c.abs_diff(guess)).unwrap_or(guess)
}

/// The last four bytes of a gzip file: its text size modulo 2^32.
fn gzip_isize(path: &Path) -> Option<u32> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).ok()?;
    f.seek(SeekFrom::End(-4)).ok()?;
    let mut b = [0u8; 4];
    f.read_exact(&mut b).ok()?;
    Some(u32::from_le_bytes(b))
}

/// Why an import was refused before it began.
#[derive(Debug)]
pub struct Short {
    pub need: u64,
    pub free: u64,
    pub dir: PathBuf,
    pub what: String,
}

/// Checks `need` against the free space where the database and the sort runs go (one file
/// system or two), keeping the watermark's reserve free.
pub fn check(need: &Need, db_dir: &Path, temp_dir: &Path) -> Result<(), Short> {
    let same = same_file_system(db_dir, temp_dir);
    // On one file system the runs are written while the database has not grown yet, and given
    // back as it grows (the final merge punches out what it has read): the peak is the larger
    // of the two, not their sum (10M domains: 94 MB over the finished database's 3,249 MB,
    // with 531 MB of runs). Where holes cannot be punched, the runs stay to the end.
    let together = if spill::PUNCHES { need.db.max(need.temp) } else { need.db + need.temp };
    let mut places = vec![(db_dir, if same { together } else { need.db })];
    if !same {
        places.push((temp_dir, need.temp));
    }
    for (dir, bytes) in places {
        let Some((free, total)) = store::space::free_space(dir) else { continue };
        let want = bytes + store::space::reserve(total);
        if bytes > 0 && want > free {
            let what = if dir == db_dir && need.temp > 0 && same {
                format!("{} for the database, {} for sort runs freed as it grows", human_bytes(need.db), human_bytes(need.temp))
            } else if dir == db_dir {
                format!("{} for the database", human_bytes(need.db))
            } else {
                format!("{} for sort runs", human_bytes(need.temp))
            };
            return Err(Short { need: want, free, dir: dir.to_path_buf(), what });
        }
    }
    Ok(())
}

#[cfg(unix)]
fn same_file_system(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev(),
        _ => true,
    }
}

#[cfg(not(unix))]
fn same_file_system(_: &Path, _: &Path) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gzip_trailer_pins_the_text_size_beyond_4_gib() {
        // .com: 22.0 GB of text in 5.13 GB; the trailer holds 22e9 mod 2^32.
        let text = 22_000_000_000u64;
        assert_eq!(text_of_gzip(5_130_000_000, 4.3, Some((text % (1 << 32)) as u32)), text);
        // Even with a ratio 7% off: the guess need only be within 2 GiB.
        assert_eq!(text_of_gzip(5_130_000_000, 4.0, Some((text % (1 << 32)) as u32)), text);
        assert_eq!(text_of_gzip(1000, 4.0, Some(4321)), 4321);
        assert_eq!(text_of_gzip(1000, 4.0, None), 4000);
    }

    #[test]
    fn the_estimate_follows_records_memory_and_the_current_version() {
        let small = Input { path: None, size: Some(100_000_000), gzip: false };
        let first = estimate(&small, None, true, 2 << 30).unwrap();
        assert_eq!((first.text, first.db), (100_000_000, 160_000_000));
        assert_eq!(first.temp, 0, "its keys fit the sorter's eighth of --memory");
        let input = Input { path: None, size: Some(1_000_000_000), gzip: false };
        let big = estimate(&input, None, true, 2 << 30).unwrap();
        assert_eq!(big.temp, 450_000_000);
        let bare = estimate(&input, None, false, 512 << 20).unwrap();
        assert_eq!((bare.db, bare.temp), (700_000_000, 0));
        assert!(estimate(&Input { path: None, size: None, gzip: false }, None, true, 1 << 30).is_none());
    }
}
