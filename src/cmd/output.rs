//! The one writer of command output, so every command keeps the same contract (README,
//! "Output"):
//!
//! - `text` for people, `tsv` for `cut` and `diff` (commands that have a tab form);
//! - `json` (also `--json`): exactly one JSON document on stdout; an array for every command
//!   that reports a list or a run over several items, `[]` when there is nothing;
//! - `jsonl`: the same items, one object a line, written as they come.
//!
//! Write errors come back as `io::Error`: a closed pipe ends the command quietly (see
//! [`super::report`]) instead of the panic `println!` gives.

use std::io::Write;

use serde::Serialize;
use serde_json::Value;

use crate::cli::Format;

/// Writes one line to stdout.
pub fn write_line(line: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(line.as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()
}

/// Where a command's data goes, in the format asked for.
pub struct Output {
    format: Format,
    quiet: bool,
}

impl Output {
    pub fn new(format: Format, quiet: bool) -> Output {
        Output { format, quiet }
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// `json` or `jsonl`.
    pub fn is_json(&self) -> bool {
        matches!(self.format, Format::Json | Format::Jsonl)
    }

    /// A list of results. `text` renders one item for `text` or `tsv`.
    pub fn list<T: Serialize>(&self, items: &[T], mut text: impl FnMut(&T, Format) -> String) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        match self.format {
            Format::Json => {
                serde_json::to_writer_pretty(&mut out, items)?;
                out.write_all(b"\n")?;
            }
            Format::Jsonl => {
                for i in items {
                    serde_json::to_writer(&mut out, i)?;
                    out.write_all(b"\n")?;
                }
            }
            f => {
                for i in items {
                    let t = text(i, f);
                    if t.is_empty() {
                        continue;
                    }
                    out.write_all(t.as_bytes())?;
                    if !t.ends_with('\n') {
                        out.write_all(b"\n")?;
                    }
                }
            }
        }
        out.flush()?;
        Ok(())
    }

    /// Says `note` on stderr when a list for people is empty, so that no output does not read
    /// as a fault: in `text` form only (`tsv` and JSON stay exact), not under --quiet.
    pub fn note_empty<T>(&self, items: &[T], note: &str) {
        if items.is_empty() && self.format == Format::Text && !self.quiet {
            eprintln!("{note}");
        }
    }

    /// One item of a run failed (a zone, a file, an endpoint) while the run goes on: said on
    /// stderr as `error: ITEM: why` (`message` names the item), in every format and under
    /// --quiet. The run's own error, if it ends in one, is `main`'s to print
    /// ([`super::report`]).
    pub fn item_failed(&self, message: &str) {
        eprintln!("error: {message}");
    }

    /// One result that is not a list (a status, a prune's counts).
    pub fn one<T: Serialize>(&self, item: &T, text: impl FnOnce(&T) -> String) -> anyhow::Result<()> {
        match self.format {
            Format::Json => write_line(&serde_json::to_string_pretty(item)?)?,
            Format::Jsonl => write_line(&serde_json::to_string(item)?)?,
            _ => write_line(text(item).trim_end_matches('\n'))?,
        }
        Ok(())
    }

    /// A line for people (`service started`, a summary): only in text forms, not under --quiet.
    pub fn say(&self, line: &str) -> anyhow::Result<()> {
        if !self.is_json() && !self.quiet {
            write_line(line)?;
        }
        Ok(())
    }

    /// A run over several items (files, zones, endpoints) whose results come one at a time.
    pub fn stream(&self) -> Stream<'_> {
        Stream { out: self, items: Vec::new() }
    }
}

/// Results of a run, written as they come (`jsonl`, text) or as one array at the end (`json`).
pub struct Stream<'a> {
    out: &'a Output,
    items: Vec<Value>,
}

impl Stream<'_> {
    /// One item's result; `text` is its summary line (not shown under --quiet; None shows
    /// nothing in text form).
    pub fn push<T: Serialize>(&mut self, item: &T, text: Option<String>) -> anyhow::Result<()> {
        match self.out.format {
            Format::Json => self.items.push(serde_json::to_value(item)?),
            Format::Jsonl => write_line(&serde_json::to_string(item)?)?,
            _ => {
                if let Some(t) = text.filter(|_| !self.out.quiet) {
                    write_line(&t)?;
                }
            }
        }
        Ok(())
    }

    /// Writes the array that `json` collected.
    pub fn finish(self) -> anyhow::Result<()> {
        if self.out.format == Format::Json {
            write_line(&serde_json::to_string_pretty(&self.items)?)?;
        }
        Ok(())
    }
}
