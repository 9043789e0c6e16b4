//! Zone text: the lexer, names, record types, RDATA canonicalisation and the chunk parser.
//!
//! Everything here is pure: bytes in, records out, no I/O. The ingest pipeline
//! ([`crate::ingest`]) cuts the input into chunks and runs [`parser::parse_chunk`] on each.

pub mod lexer;
pub mod name;
pub mod parser;
pub mod rdata;
pub mod types;
