//! The master-file lexer (RFC 1035 §5.1): bytes in, entries of tokens out.
//!
//! An entry is one logical line: parentheses continue it across line breaks, `;` starts a
//! comment, `"..."` is one token whatever it holds, `\X` and `\DDD` escape a delimiter inside a
//! token (escapes are kept raw; the consumers of a token decode them). Tokens point into the
//! input: nothing is copied.
//!
//! The lexer never reads past its slice. When the slice ends inside an open parenthesis or a
//! quoted string it says [`Lexed::Incomplete`] with the entry's start, so the chunker can hand
//! that tail to whoever parses the following bytes.

use memchr::memchr;

/// The longest logical entry we accept (a 65535-octet RDATA in hex is ~128 KiB of text).
pub const MAX_ENTRY: usize = 256 << 10; // 256 KiB

/// A token: a byte range of the input, `quoted` when it was written `"..."` (quotes excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub start: usize,
    pub end: usize,
    pub quoted: bool,
}

/// What [`Lexer::next_entry`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Lexed {
    /// An entry; its tokens are in the caller's vector.
    Entry(EntryInfo),
    /// The input ended inside an entry that started at this byte offset and line.
    Incomplete {
        start: usize,
        line: u64,
    },
    /// A lexical error; the lexer has skipped to the next line at parenthesis depth 0.
    Error {
        line: u64,
        msg: &'static str,
    },
    Eof,
}

/// Where an entry started, and whether its owner was left out (the line began with a blank).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryInfo {
    pub line: u64,
    pub blank_owner: bool,
}

pub struct Lexer<'a> {
    data: &'a [u8],
    pos: usize,
    line: u64,
}

/// What a byte does inside an unquoted token: [`PLAIN`] continues it, [`ESCAPE`] takes the
/// next byte with it, [`DELIM`] ends it. A table: the token loop runs once per byte of the
/// zone, and a `match` over the delimiters compiles to a jump per byte.
static CLASS: [u8; 256] = classes();
const PLAIN: u8 = 0;
const ESCAPE: u8 = 1;
const DELIM: u8 = 2;

const fn classes() -> [u8; 256] {
    let mut t = [PLAIN; 256];
    let delims = *b" \t\r\n;()\"";
    let mut i = 0;
    while i < delims.len() {
        t[delims[i] as usize] = DELIM;
        i += 1;
    }
    t[b'\\' as usize] = ESCAPE;
    t
}

impl<'a> Lexer<'a> {
    /// A lexer over `data` whose first byte is on line `first_line`.
    pub fn new(data: &'a [u8], first_line: u64) -> Lexer<'a> {
        Lexer { data, pos: 0, line: first_line }
    }

    /// The line the lexer is on now (after the last entry it returned).
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The bytes from the current position on, for a caller that reads a line itself.
    pub fn rest(&self) -> &'a [u8] {
        &self.data[self.pos.min(self.data.len())..]
    }

    /// Moves past `len` bytes of [`Lexer::rest`] that a caller read as one line, its newline
    /// included when `newline`.
    pub fn consume(&mut self, len: usize, newline: bool) {
        self.pos += len;
        self.line += u64::from(newline);
    }

    /// The next entry's tokens into `toks` (cleared first).
    pub fn next_entry(&mut self, toks: &mut Vec<Token>) -> Lexed {
        let data = self.data;
        loop {
            toks.clear();
            if self.pos >= data.len() {
                return Lexed::Eof;
            }
            let start = self.pos;
            let line = self.line;
            let blank_owner = matches!(data[start], b' ' | b'\t');
            let mut depth = 0u32;
            loop {
                if self.pos - start > MAX_ENTRY {
                    self.skip_line();
                    return Lexed::Error { line, msg: "entry longer than the 256 KiB limit" };
                }
                let Some(&b) = data.get(self.pos) else {
                    if depth > 0 {
                        return Lexed::Incomplete { start, line };
                    }
                    break;
                };
                match b {
                    b'\n' => {
                        self.pos += 1;
                        self.line += 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    b' ' | b'\t' | b'\r' => self.pos += 1,
                    b';' => match memchr(b'\n', &data[self.pos..]) {
                        Some(i) => self.pos += i,
                        None => self.pos = data.len(),
                    },
                    b'(' => {
                        depth += 1;
                        self.pos += 1;
                    }
                    b')' => {
                        if depth == 0 {
                            self.skip_line();
                            return Lexed::Error { line, msg: "')' without '('" };
                        }
                        depth -= 1;
                        self.pos += 1;
                    }
                    b'"' => {
                        let tok_start = self.pos + 1;
                        let mut i = tok_start;
                        let mut lines = 0;
                        loop {
                            match data.get(i) {
                                None => {
                                    return Lexed::Incomplete { start, line };
                                }
                                Some(b'\\') => i += 2,
                                Some(b'"') => break,
                                Some(b'\n') => {
                                    lines += 1;
                                    i += 1;
                                }
                                Some(_) => i += 1,
                            }
                        }
                        self.line += lines;
                        toks.push(Token { start: tok_start, end: i, quoted: true });
                        self.pos = i + 1;
                    }
                    _ => {
                        let tok_start = self.pos;
                        let mut i = self.pos;
                        while let Some(&c) = data.get(i) {
                            match CLASS[c as usize] {
                                PLAIN => i += 1,
                                ESCAPE => i += 2,
                                _ => break,
                            }
                        }
                        let i = i.min(data.len());
                        toks.push(Token { start: tok_start, end: i, quoted: false });
                        self.pos = i;
                    }
                }
            }
            if !toks.is_empty() {
                return Lexed::Entry(EntryInfo { line, blank_owner });
            }
        }
    }

    /// After an error: drop the rest of the physical line.
    fn skip_line(&mut self) {
        match memchr(b'\n', &self.data[self.pos.min(self.data.len())..]) {
            Some(i) => {
                self.pos += i + 1;
                self.line += 1;
            }
            None => self.pos = self.data.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(s: &str) -> Vec<(u64, bool, Vec<String>)> {
        let mut lx = Lexer::new(s.as_bytes(), 1);
        let mut toks = Vec::new();
        let mut out = Vec::new();
        loop {
            match lx.next_entry(&mut toks) {
                Lexed::Entry(e) => out.push((e.line, e.blank_owner, toks.iter().map(|t| s[t.start..t.end].to_string()).collect())),
                Lexed::Eof => return out,
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn entries_parens_comments_quotes() {
        let z = "a 1 IN A 1.2.3.4 ; c\n\n  NS b ; x ( \n@ SOA x y (\n 1 ; serial\n 2 3 4 5 )\nt TXT \"a ; (b\" c\\ d\r\n";
        let got = lex(z);
        assert_eq!(got.len(), 4);
        assert_eq!(got[0], (1, false, vec!["a", "1", "IN", "A", "1.2.3.4"].into_iter().map(String::from).collect()));
        assert_eq!(got[1].0, 3);
        assert!(got[1].1);
        assert_eq!(got[2].0, 4);
        assert_eq!(got[2].2.len(), 9);
        assert_eq!(got[3], (7, false, vec!["t", "TXT", "a ; (b", "c\\ d"].into_iter().map(String::from).collect()));
    }

    #[test]
    fn incomplete_and_errors() {
        let mut toks = Vec::new();
        let mut lx = Lexer::new(b"a NS b\nc SOA ( 1 2\n", 1);
        assert!(matches!(lx.next_entry(&mut toks), Lexed::Entry(_)));
        assert_eq!(lx.next_entry(&mut toks), Lexed::Incomplete { start: 7, line: 2 });
        let mut lx = Lexer::new(b"a TXT \"open\n", 1);
        assert_eq!(lx.next_entry(&mut toks), Lexed::Incomplete { start: 0, line: 1 });
        let mut lx = Lexer::new(b"a ) b\nc A 1.2.3.4", 1);
        assert!(matches!(lx.next_entry(&mut toks), Lexed::Error { line: 1, .. }));
        assert!(matches!(lx.next_entry(&mut toks), Lexed::Entry(EntryInfo { line: 2, .. })));
        assert_eq!(lx.next_entry(&mut toks), Lexed::Eof);
        // a trailing backslash must not run past the end
        let mut lx = Lexer::new(b"a\\", 1);
        assert!(matches!(lx.next_entry(&mut toks), Lexed::Entry(_)));
        assert_eq!(toks[0].end, 2);
    }
}
