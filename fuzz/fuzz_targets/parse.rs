//! Any bytes into the parser: no panic, no hang, every record canonical text, and the CZDS
//! fast path gives exactly what the full lexer gives (records, errors, end state), and an
//! owner text it hands on is the owner's canonical text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zonefeed::zone::name::{self, Origin};
use zonefeed::zone::parser::{parse_chunk_with, Options, Record, Sink, State, VecSink};

/// A [`VecSink`] that checks each owner text against the owner's wire form.
#[derive(Default)]
struct Checked(VecSink);

impl Sink for Checked {
    fn record(&mut self, r: &Record<'_>) {
        if let Some(t) = r.owner_text {
            let mut w = String::new();
            name::wire_to_text(r.owner, &mut w);
            assert_eq!(t, w, "an owner text that is not the owner's");
        }
        self.0.record(r);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(origin) = Origin::parse("example") else { return };
    let run = |no_fast_path| {
        let st = State { origin: Some(origin.clone()), ..State::default() };
        let mut sink = Checked::default();
        let out = parse_chunk_with(data, 1, st, &mut sink, &Options { no_fast_path, ..Options::default() });
        (sink.0 .0, format!("{out:?}"))
    };
    let (fast, full) = (run(false), run(true));
    for r in &fast.0 {
        assert!(!r.owner.is_empty() && !r.owner.contains('\0'));
        assert!(!r.rdata.contains('\0'), "canonical RDATA never holds a NUL");
    }
    assert_eq!(fast, full, "the fast path and the full lexer disagree");
});
