//! What crosses from the importer to the writer, and the statement every bulk write uses:
//! groups of records in name order ([`GroupBatch`]) and multi-row inserts. Both the writer
//! and the reverse-lookup index (`links`) read them, so they live below both.

/// Rows per INSERT statement. Within one statement SQLite keeps its B-tree cursor on the last
/// page, so sorted keys append without a descent from the root per row (3-4x faster than
/// one row per statement here).
pub const ROWS_PER_INSERT: usize = 64;

/// `INSERT OR FAIL INTO table (shared, cols) VALUES (?1, .., ?k, ?, ...), ...` for `rows`
/// rows. The `shared` columns take the same value in every row: they are bound once per
/// statement, as `?1..?k`, which spares SQLite a bind (a copy, for text) per row and column.
/// `OR FAIL` spares SQLite the statement journal a multi-row insert otherwise keeps to undo
/// itself (10-15% of insert time here); a failure aborts the whole import anyway.
pub fn multi_insert(table: &str, shared: &[&str], cols: &[&str], rows: usize) -> String {
    let k = shared.len();
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let own = (0..cols.len()).map(|c| format!("?{}", k + r * cols.len() + c + 1));
            format!("({})", (1..=k).map(|i| format!("?{i}")).chain(own).collect::<Vec<_>>().join(", "))
        })
        .collect();
    let names: Vec<&str> = shared.iter().chain(cols).copied().collect();
    format!("INSERT OR FAIL INTO {table} ({}) VALUES {}", names.join(", "), values.join(", "))
}

/// Groups of records in name order: record sort keys (`domain \0 owner \0 TYPE \0 rdata`)
/// with TTLs, the groups they form, and (for a version that keeps records) their RRsets.
#[derive(Default)]
pub struct GroupBatch {
    pub keys: Vec<u8>,
    pub rows: Vec<(u32, u32, u32)>,
    pub groups: Vec<GroupRow>,
    /// The groups' names end to end (one allocation a batch, not one a name: a million
    /// small strings made on one thread and freed on another kept mimalloc taking fresh
    /// pages).
    pub names: String,
    pub sets: Vec<RRset>,
    /// The RRsets' rdata, each a JSON array (`rrsets.rdata`), end to end. The grouping step
    /// builds them for a version written whole: the writer, the bound of a first import with
    /// records, then binds them as they are. A compared version writes its changed groups
    /// only, so the writer builds theirs (None here: building every group's cost the grouping
    /// step, the bound of a next day at 10M, 1.3 s).
    pub json: Option<String>,
}

/// An RRset of a [`GroupBatch`]: where its rows end, and its rdata's JSON when the grouping
/// step built it (each starts where the one before ends).
#[derive(Clone, Copy)]
pub struct RRset {
    pub rows_end: u32,
    pub json_end: u32,
}

impl GroupBatch {
    pub fn push_record(&mut self, key: &[u8], ttl: u32) {
        self.rows.push((self.keys.len() as u32, key.len() as u32, ttl));
        self.keys.extend_from_slice(key);
    }
}

/// One name directly under the origin (or the apex) and its records: `rows[previous end..end]`
/// of its batch (none without records).
pub struct GroupRow {
    /// Its name: `names[name.0..name.1]` of its batch.
    pub name: (u32, u32),
    pub end: usize,
    /// The end of its RRsets in `sets`.
    pub sets_end: usize,
    /// The name owns NS records: it is a domain.
    pub delegation: bool,
    /// Over every record but RRSIG, NSEC and NSEC3, with TTLs: the domain's state.
    pub hash: [u8; 16],
    /// Over the RRSIG, NSEC and NSEC3 records, when there are any.
    pub sig: Option<[u8; 16]>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multi_row_insert_binds_the_shared_columns_once_and_writes_every_row() {
        let sql = multi_insert("t", &["tld", "since"], &["name", "n"], 2);
        assert_eq!(sql, "INSERT OR FAIL INTO t (tld, since, name, n) VALUES (?1, ?2, ?3, ?4), (?1, ?2, ?5, ?6)");
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (tld TEXT, since INTEGER, name TEXT PRIMARY KEY, n INTEGER)").unwrap();
        conn.execute(&sql, rusqlite::params!["com", 7, "a.com", 1, "b.com", 2]).unwrap();
        let rows: Vec<(String, i64, String, i64)> = conn
            .prepare("SELECT tld, since, name, n FROM t ORDER BY name")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, [("com".into(), 7, "a.com".into(), 1), ("com".into(), 7, "b.com".into(), 2)]);
        // OR FAIL: a duplicate key fails the statement.
        assert!(conn.execute(&sql, rusqlite::params!["com", 8, "a.com", 3, "c.com", 4]).is_err());
    }

    #[test]
    fn a_batch_keeps_each_records_place_in_its_key_arena() {
        let mut b = GroupBatch::default();
        b.push_record(b"a\0a\0NS\0x", 300);
        b.push_record(b"b\0b\0NS\0yy", 60);
        assert_eq!(b.rows, [(0, 8, 300), (8, 9, 60)]);
        assert_eq!(&b.keys[8..17], b"b\0b\0NS\0yy");
    }
}
