//! Zone text: the lexer, names, record types, RDATA canonicalisation and the chunk parser.
//!
//! Everything here is pure: bytes in, records out, no I/O. The ingest pipeline
//! ([`crate::ingest`]) cuts the input into chunks and runs [`parser::parse_chunk`] on each.

pub mod czds;
pub mod lexer;
pub mod name;
pub mod parser;
pub mod rdata;
pub mod types;

/// Text for a terminal: printable ASCII as it is, every other octet as `\DDD` (RFC 1035 §5.1
/// presentation form), so escape sequences, NULs and bidi controls from a hostile zone file
/// never reach the user's terminal raw. A `\` already in the text stays as it is: the text
/// it comes from is presentation form, where it begins an escape.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if (0x20..0x7f).contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\{b:03}"));
        }
    }
    out
}

/// One character for an error message, escaped as [`escape_text`] does, in backquotes.
pub fn escape_char(c: char) -> String {
    format!("`{}`", escape_text(c.encode_utf8(&mut [0; 4])))
}

#[cfg(test)]
mod tests {
    #[test]
    fn escape_text_keeps_controls_off_the_terminal() {
        assert_eq!(super::escape_text("a\x1b[31mb\0c"), "a\\027[31mb\\000c");
        assert_eq!(super::escape_text("plain \\. text"), "plain \\. text");
        assert_eq!(super::escape_text("é"), "\\195\\169");
    }
}
