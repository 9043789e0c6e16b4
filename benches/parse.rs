//! Parser and chunker throughput on a synthetic CZDS zone (MB/s of zone text).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use zonefeed::ingest::source::{self, Counters};
use zonefeed::zone::name::Origin;
use zonefeed::zone::parser::{parse_chunk_with, Options, Record, Sink, State};

struct Count(u64);

impl Sink for Count {
    fn record(&mut self, r: &Record<'_>) {
        self.0 += r.rdata.len() as u64;
    }
}

fn zone() -> Vec<u8> {
    let mut v = Vec::new();
    zonefeed::synth::write_zone(&mut v, "com", 100_000, 1).expect("generate");
    v
}

fn bench(c: &mut Criterion) {
    let data = zone();
    let mut g = c.benchmark_group("zone");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(20);
    // The same text read by the full lexer alone: the baseline the CZDS fast path is
    // measured against, in the same run.
    for (label, no_fast_path) in [("parse_chunk (one core)", false), ("parse_chunk, full lexer only (one core)", true)] {
        let opts = Options { no_fast_path, ..Options::default() };
        g.bench_function(label, |b| {
            b.iter(|| {
                let st = State { origin: Some(Origin::parse("com").expect("origin")), ..State::default() };
                let mut sink = Count(0);
                parse_chunk_with(&data, 1, st, &mut sink, &opts);
                sink.0
            })
        });
    }
    g.bench_function("split into 4 MiB chunks", |b| {
        b.iter(|| {
            let mut n = 0usize;
            source::split(source::from_bytes(data.clone()), source::CHUNK, &Counters::default(), |c| {
                n += c.len();
                true
            })
            .expect("split");
            n
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
