//! zonefeed: ingest, track and query the zone files of ICANN's CZDS.
//!
//! ```text
//!  file / stdin ──► decompress ──► split into line-aligned chunks      (reader thread)
//!                                   │ chunk + guessed start state
//!                                   ▼
//!                       parse chunks in parallel (rayon)              (zone::parser)
//!                                   │ records as sort entries
//!                                   ▼
//!            in order: check each chunk's start state, re-parse if wrong  (ingest::commit)
//!                                   │
//!                                   ▼
//!     sort runs (spilled past the memory cap) ─► merge ─► dedup, RRset TTL, group hashes
//!                                   │ groups in name order, over a bounded channel
//!                                   ▼
//!      the single SQLite writer thread: merge-join with the current rows,   (store::writer)
//!      write what differs under the new version ─► switch (replaced rows kept, closed)
//! ```

pub mod amqp;
pub mod analyze;
pub mod changes;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod czds;
pub mod dns;
pub mod export;
pub mod http;
pub mod ingest;
pub mod lock;
pub mod monitor;
pub mod progress;
pub mod query;
pub mod remote;
pub mod serve;
pub mod service;
pub mod sort;
pub mod store;
pub mod sync;
pub mod synth;
pub mod time;
pub mod zone;
