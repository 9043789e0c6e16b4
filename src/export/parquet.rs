//! One Parquet file written a row group at a time with the crate's column writers: rows are
//! buffered column by column (Parquet stores a row group column after column) until about
//! [`ROW_GROUP_BYTES`] of values, then written, so memory stays bounded whatever the zone's
//! size. Nested columns (lists, the diff) are written with their definition and repetition
//! levels, which [`Column`] keeps beside the values.

use std::fs::File;
use std::io::BufWriter;
use std::sync::Arc;

use bytes::Bytes;
use parquet::basic::{Compression, ZstdLevel};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, Int32Type};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use parquet::schema::types::ColumnPath;

/// Uncompressed bytes of values per row group: what Spark, Trino and DuckDB are tuned for.
pub const ROW_GROUP_BYTES: usize = 128 << 20;
/// Levels handed to the column writer per call (cut where a row starts).
const BATCH_LEVELS: usize = 64 * 1024;

enum Data {
    /// Values end to end, and where each ends.
    Text {
        arena: Vec<u8>,
        ends: Vec<usize>,
    },
    Int(Vec<i32>),
    Bool(Vec<bool>),
}

/// One leaf column of a row group being collected.
pub struct Column {
    data: Data,
    def: Vec<i16>,
    rep: Vec<i16>,
    max_def: i16,
    max_rep: i16,
}

impl Column {
    fn bytes(&self) -> usize {
        let values = match &self.data {
            Data::Text { arena, ends } => arena.len() + ends.len() * 8,
            Data::Int(v) => v.len() * 4,
            Data::Bool(v) => v.len(),
        };
        values + (self.def.len() + self.rep.len()) * 2
    }

    pub fn text(&mut self, s: &str) {
        if let Data::Text { arena, ends } = &mut self.data {
            arena.extend_from_slice(s.as_bytes());
            ends.push(arena.len());
        }
    }

    pub fn int(&mut self, v: i32) {
        if let Data::Int(d) = &mut self.data {
            d.push(v);
        }
    }

    pub fn bool(&mut self, v: bool) {
        if let Data::Bool(d) = &mut self.data {
            d.push(v);
        }
    }

    /// Levels for the next value or null (columns under an optional or repeated field).
    pub fn level(&mut self, def: i16, rep: i16) {
        self.def.push(def);
        self.rep.push(rep);
    }

    /// An optional integer at the top level.
    pub fn opt_int(&mut self, v: Option<i32>) {
        match v {
            Some(v) => {
                self.level(1, 0);
                self.int(v);
            }
            None => self.level(0, 0),
        }
    }

    pub fn opt_bool(&mut self, v: Option<bool>) {
        match v {
            Some(v) => {
                self.level(1, 0);
                self.bool(v);
            }
            None => self.level(0, 0),
        }
    }

    /// A list of strings that may be null, or a field of the elements of such a list (its
    /// leaf is two levels down: `list` optional or under an optional group, `element`
    /// repeated): null, empty, or the items.
    pub fn opt_list<'a>(&mut self, items: Option<impl Iterator<Item = &'a str>>) {
        self.opt_list_with(items, |c, s| c.text(s));
    }

    /// [`Column::opt_list`] over any items, `put` writing one's value.
    pub fn opt_list_with<T>(&mut self, items: Option<impl Iterator<Item = T>>, mut put: impl FnMut(&mut Column, T)) {
        let Some(items) = items else { return self.level(0, 0) };
        let mut first = true;
        for x in items {
            self.level(2, if first { 0 } else { 1 });
            put(self, x);
            first = false;
        }
        if first {
            self.level(1, 0);
        }
    }

    fn clear(&mut self) {
        match &mut self.data {
            Data::Text { arena, ends } => {
                arena.clear();
                ends.clear();
            }
            Data::Int(v) => v.clear(),
            Data::Bool(v) => v.clear(),
        }
        self.def.clear();
        self.rep.clear();
    }
}

/// A Parquet file being written.
pub struct Table {
    file: SerializedFileWriter<BufWriter<File>>,
    pub cols: Vec<Column>,
    rows: u64,
    buffered: u64,
}

impl Table {
    /// `schema` is a Parquet message type; `dictionary` names the leaf columns (dotted paths)
    /// whose values repeat enough for dictionary encoding to pay; the rest are plain.
    pub fn create(file: File, schema: &str, dictionary: &[&str]) -> Result<Table, ParquetError> {
        let schema = Arc::new(parse_message_type(schema)?);
        let mut props =
            WriterProperties::builder().set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?)).set_dictionary_enabled(false);
        for c in dictionary {
            props = props.set_column_dictionary_enabled(ColumnPath::new(c.split('.').map(String::from).collect()), true);
        }
        let file = SerializedFileWriter::new(BufWriter::with_capacity(1 << 20, file), schema, Arc::new(props.build()))?;
        let cols = file
            .schema_descr()
            .columns()
            .iter()
            .map(|c| {
                let data = match c.physical_type() {
                    parquet::basic::Type::BYTE_ARRAY => Data::Text { arena: Vec::new(), ends: Vec::new() },
                    parquet::basic::Type::BOOLEAN => Data::Bool(Vec::new()),
                    _ => Data::Int(Vec::new()),
                };
                Column { data, def: Vec::new(), rep: Vec::new(), max_def: c.max_def_level(), max_rep: c.max_rep_level() }
            })
            .collect();
        Ok(Table { file, cols, rows: 0, buffered: 0 })
    }

    /// Ends a row; writes the row group once the buffered values reach [`ROW_GROUP_BYTES`].
    /// Returns the rows so far.
    pub fn row_done(&mut self) -> Result<u64, ParquetError> {
        self.rows += 1;
        self.buffered += 1;
        // Summing the columns costs a little: every 1,024 rows is close enough.
        if self.buffered.is_multiple_of(1024) && self.cols.iter().map(Column::bytes).sum::<usize>() >= ROW_GROUP_BYTES {
            self.flush()?;
        }
        Ok(self.rows)
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    fn flush(&mut self) -> Result<(), ParquetError> {
        if self.buffered == 0 {
            return Ok(());
        }
        let mut rg = self.file.next_row_group()?;
        for c in &mut self.cols {
            let mut w = rg.next_column()?.ok_or_else(|| ParquetError::General("fewer columns than the schema".into()))?;
            write_column(&mut w, c)?;
            w.close()?;
            c.clear();
        }
        rg.close()?;
        self.buffered = 0;
        Ok(())
    }

    /// Writes what is buffered and the footer; returns the rows written.
    pub fn close(mut self) -> Result<(u64, File), ParquetError> {
        self.flush()?;
        let rows = self.rows;
        let w = self.file.into_inner()?;
        let f = w.into_inner().map_err(|e| ParquetError::External(Box::new(e.into_error())))?;
        Ok((rows, f))
    }
}

/// Hands a column's values to its writer in batches of whole rows.
fn write_column(w: &mut parquet::file::writer::SerializedColumnWriter<'_>, c: &mut Column) -> Result<(), ParquetError> {
    let leveled = c.max_def > 0 || c.max_rep > 0;
    let total = if leveled {
        c.def.len()
    } else {
        match &c.data {
            Data::Text { ends, .. } => ends.len(),
            Data::Int(v) => v.len(),
            Data::Bool(v) => v.len(),
        }
    };
    let text = match &mut c.data {
        Data::Text { arena, ends } => Some((Bytes::from(std::mem::take(arena)), std::mem::take(ends))),
        _ => None,
    };
    let (mut at, mut value) = (0usize, 0usize);
    while at < total {
        let mut end = (at + BATCH_LEVELS).min(total);
        if leveled {
            // A batch ends where a row begins.
            while end < total && c.rep[end] != 0 {
                end += 1;
            }
        }
        let (def, rep) = if leveled { (Some(&c.def[at..end]), Some(&c.rep[at..end])) } else { (None, None) };
        let values = if leveled { c.def[at..end].iter().filter(|&&d| d == c.max_def).count() } else { end - at };
        if let Some((bytes, ends)) = &text {
            let mut from = if value == 0 { 0 } else { ends[value - 1] };
            let batch: Vec<ByteArray> = ends[value..value + values]
                .iter()
                .map(|&e| {
                    let v = ByteArray::from(bytes.slice(from..e));
                    from = e;
                    v
                })
                .collect();
            w.typed::<ByteArrayType>().write_batch(&batch, def, rep)?;
        } else {
            match &c.data {
                Data::Int(v) => w.typed::<Int32Type>().write_batch(&v[value..value + values], def, rep)?,
                Data::Bool(v) => w.typed::<BoolType>().write_batch(&v[value..value + values], def, rep)?,
                Data::Text { .. } => return Err(ParquetError::General("a text column without its values".into())),
            };
        }
        at = end;
        value += values;
    }
    Ok(())
}
