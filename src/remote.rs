//! Live DNS spread over machines through RabbitMQ (issue 33): `analyze --tld T --via URL`
//! (and `monitor run --via URL`) publishes one task per domain to a durable work queue, and
//! `zonefeed worker URL`, on any number of machines, takes them, runs each with its own engine, publishes the
//! result and only then acknowledges the task. The coordinator keeps each result as if it had
//! run it ([`Keeper`]), acknowledges it once committed, and knows the run complete when its
//! list of domains to do is empty.
//!
//! - A worker killed mid-task has its unacknowledged tasks delivered again to another; a
//!   result that comes twice is kept once (the first takes the domain off the run's list).
//! - A result for a task the coordinator does not know (another run, a domain not to do) is
//!   refused, logged and dead-lettered; so is a task a worker cannot read.
//! - Politeness holds across workers as a shared limit: each worker paces every server at
//!   its share of the per-server limit, the limit divided by the task queue's consumers (read
//!   every few seconds), so N workers together ask a server no faster than one would.
//!
//! Queues (durable), named after the exchange `X` (`amqp.exchange`): `X.tasks` (dead letters
//! to the fanout exchange `X.dead`, queue `X.dead`), and the coordinators' own results queues
//! `X.results.analyze` and `X.results.monitor` (each task names its reply queue).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_lite::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicQosOptions, BasicRejectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{FieldTable, ShortString};
use lapin::ExchangeKind;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::amqp::{AmqpError, Broker, Outgoing, Session};
use crate::analyze::history::{Keeper, Kept, Run};
use crate::analyze::{Level, Selection};
use crate::changes::webhooks::Endpoint;

/// One domain to analyse (`analyze`) or check (`monitor`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Task {
    /// `analyze` or `monitor`.
    pub kind: String,
    /// The analysis run; a monitor pass's tasks have 0 and their `pass`.
    pub run: i64,
    pub seq: i64,
    pub domain: String,
    /// The monitor pass the task belongs to (a random id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass: Option<String>,
}

/// A live check as it travels (`monitor::Observed`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireCheck {
    pub state: String,
    pub servers: Vec<crate::monitor::Server>,
    /// (owner, type, ttl, rdata sorted).
    pub rrsets: Vec<(String, String, i64, Vec<String>)>,
}

impl WireCheck {
    fn of(o: &crate::monitor::Observed) -> WireCheck {
        WireCheck {
            state: o.state.to_string(),
            servers: o.servers.clone(),
            rrsets: o.rrsets.iter().map(|((owner, t), (ttl, rdata))| (owner.clone(), t.clone(), *ttl, rdata.clone())).collect(),
        }
    }

    /// The check of `name` it stands for; None for a state no check has.
    fn observed(self, name: &str) -> Option<crate::monitor::Observed> {
        let state = ["ok", "degraded", "no_answer", "gone"].into_iter().find(|s| *s == self.state)?;
        let rrsets = self.rrsets.into_iter().map(|(owner, t, ttl, rdata)| ((owner, t), (ttl, rdata))).collect();
        Some(crate::monitor::Observed { name: name.to_string(), state, servers: self.servers, rrsets })
    }
}

/// One finding as it travels.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireFinding {
    pub module: String,
    pub testcase: String,
    pub tag: String,
    pub level: Level,
    pub args: BTreeMap<String, String>,
}

/// A worker's result for one task.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    pub run: i64,
    pub seq: i64,
    pub domain: String,
    pub elapsed_ms: i64,
    pub findings: Vec<WireFinding>,
    /// Which worker ran it (host and process).
    pub worker: String,
    /// A monitor task's: its pass, and the check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<WireCheck>,
}

/// The queues of exchange `x`.
#[derive(Debug, Clone)]
pub struct Queues {
    pub tasks: String,
    /// Analysis results.
    pub results: String,
    /// Monitor checks.
    pub checks: String,
    pub dead: String,
}

impl Queues {
    pub fn of(exchange: &str) -> Queues {
        Queues {
            tasks: format!("{exchange}.tasks"),
            results: format!("{exchange}.results.analyze"),
            checks: format!("{exchange}.results.monitor"),
            dead: format!("{exchange}.dead"),
        }
    }

    /// Declares them (idempotent): both work queues dead-letter to `X.dead`.
    pub async fn declare(&self, s: &Session) -> Result<(), AmqpError> {
        let fail = |e: lapin::Error| AmqpError::Other("declaring the queues".into(), e.to_string());
        let ch = &s.channel;
        let durable = ExchangeDeclareOptions { durable: true, ..Default::default() };
        ch.exchange_declare(ShortString::from(self.dead.as_str()), ExchangeKind::Fanout, durable, FieldTable::default())
            .await
            .map_err(fail)?;
        let q = QueueDeclareOptions { durable: true, ..Default::default() };
        ch.queue_declare(ShortString::from(self.dead.as_str()), q, FieldTable::default()).await.map_err(fail)?;
        ch.queue_bind(
            ShortString::from(self.dead.as_str()),
            ShortString::from(self.dead.as_str()),
            ShortString::from(""),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(fail)?;
        for name in [&self.tasks, &self.results, &self.checks] {
            ch.queue_declare(ShortString::from(name.as_str()), q, crate::amqp::dead_lettered(&self.dead)).await.map_err(fail)?;
        }
        Ok(())
    }
}

/// Publishes `tasks` to the task queue, replies to `reply_to`, a thousand at a time, each
/// chunk confirmed; how many.
async fn publish_tasks(s: &Session, queues: &Queues, tasks: impl Iterator<Item = Task>, reply_to: &str) -> Result<u64, AmqpError> {
    let mut n = 0;
    let mut chunk = Vec::with_capacity(1000);
    let mut tasks = tasks.peekable();
    while tasks.peek().is_some() {
        chunk.clear();
        chunk.extend(tasks.by_ref().take(1000).map(|t| {
            let id = format!("{}:{}:{}:{}", t.kind, t.run, t.pass.as_deref().unwrap_or("-"), t.seq);
            Outgoing {
                routing_key: queues.tasks.clone(),
                message_id: id.clone(),
                body: serde_json::to_vec(&t).unwrap_or_default(),
                reply_to: Some(reply_to.to_string()),
                correlation_id: Some(id),
            }
        }));
        s.publish_confirmed("", &chunk).await?;
        n += chunk.len() as u64;
    }
    Ok(n)
}

/// A consumer of `queue`, at most 1024 unacknowledged.
async fn consume(s: &Session, broker: &Broker, queue: &str) -> Result<lapin::Consumer, AmqpError> {
    let fail = |e: lapin::Error| AmqpError::Other(broker.shown.clone(), e.to_string());
    s.channel.basic_qos(1024, BasicQosOptions::default()).await.map_err(fail)?;
    s.channel
        .basic_consume(ShortString::from(queue), ShortString::from(""), BasicConsumeOptions::default(), FieldTable::default())
        .await
        .map_err(fail)
}

/// What the coordinator did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Coordinated {
    pub published: u64,
    pub refused: u64,
    pub duplicates: u64,
}

/// Runs what is left of `run` through the broker: publishes its tasks, then keeps the results
/// as they come until none is left to do. `each` sees every result kept (seq, domain, worst
/// level); `log` what is refused.
#[allow(clippy::too_many_arguments)]
pub fn coordinate(
    rt: &tokio::runtime::Runtime,
    broker: &Broker,
    conn: &mut Connection,
    run: &Run,
    endpoints: &[Endpoint],
    mut each: impl FnMut(i64, &str, Option<Level>),
    log: &dyn Fn(&str),
) -> anyhow::Result<(Kept, Coordinated)> {
    let queues = Queues::of(&broker.exchange);
    let mut stats = Coordinated::default();
    let mut keeper = Keeper::new(conn, run, endpoints);
    rt.block_on(async {
        let s = broker.connect().await?;
        queues.declare(&s).await?;
        let tasks = run.todo.iter().map(|(seq, domain)| Task {
            kind: "analyze".into(),
            run: run.id,
            seq: *seq,
            domain: domain.clone(),
            pass: None,
        });
        stats.published = publish_tasks(&s, &queues, tasks, &queues.results).await?;
        let mut results = consume(&s, broker, &queues.results).await?;
        let fail = |e: lapin::Error| AmqpError::Other(broker.shown.clone(), e.to_string());
        let mut left: i64 = keeper.todo_count(run.id)?;
        // Acknowledged only once committed: a coordinator killed before that gets them again.
        let mut unacked: Vec<lapin::Acker> = Vec::new();
        let mut since_flush = tokio::time::Instant::now();
        while left > 0 {
            let next = tokio::time::timeout(Duration::from_secs(1), results.next()).await;
            match next {
                Ok(Some(Ok(d))) => {
                    let outcome: Result<Outcome, _> = serde_json::from_slice(&d.data);
                    match outcome {
                        Ok(o) if o.run == run.id && keeper.is_todo(o.seq, &o.domain)? => {
                            let worst = o.findings.iter().map(|f| f.level).max();
                            let found = o.findings.into_iter().filter_map(|f| {
                                let module = module_of(&f.module)?;
                                let args = serde_json::to_string(&f.args).unwrap_or_default();
                                Some((module, f.testcase, f.tag, args, f.level))
                            });
                            keeper.keep_found(o.seq, &o.domain, o.elapsed_ms, found)?;
                            keeper.mark_done(o.seq);
                            left -= 1;
                            each(o.seq, &o.domain, worst);
                            unacked.push(d.acker);
                        }
                        Ok(o) if o.run == run.id => {
                            // Run twice (a worker killed after its result, before its ack).
                            stats.duplicates += 1;
                            d.acker.ack(BasicAckOptions::default()).await.map_err(fail)?;
                        }
                        Ok(o) => {
                            stats.refused += 1;
                            log(&format!("refused a result for a task this run did not publish: run {} #{} {}", o.run, o.seq, o.domain));
                            d.acker.reject(BasicRejectOptions { requeue: false }).await.map_err(fail)?;
                        }
                        Err(e) => {
                            stats.refused += 1;
                            log(&format!("refused a result that is not one: {e}"));
                            d.acker.reject(BasicRejectOptions { requeue: false }).await.map_err(fail)?;
                        }
                    }
                }
                Ok(Some(Err(e))) => return Err(fail(e).into()),
                Ok(None) => return Err(anyhow::anyhow!("{}: the broker closed the results queue", broker.shown)),
                Err(_) => {}
            }
            if keeper.pending() == 0 || since_flush.elapsed() >= Duration::from_secs(1) || left == 0 {
                keeper.flush()?;
                since_flush = tokio::time::Instant::now();
                for a in unacked.drain(..) {
                    a.ack(BasicAckOptions::default()).await.map_err(fail)?;
                }
            }
        }
        s.close().await;
        Ok::<_, anyhow::Error>(())
    })?;
    let kept = keeper.finish()?;
    Ok((kept, stats))
}

/// A module zonefeed runs, as the static name findings carry (a finding of a module it does
/// not run is not one of its results).
fn module_of(module: &str) -> Option<&'static str> {
    crate::analyze::CASES.iter().find(|(m, _)| *m == module).map(|(m, _)| *m)
}

/// One monitor pass through the broker: the live checks of the domains due (`all`: every
/// one) published as tasks and each result kept as the check it is, as it comes; then the
/// registrations due fetched here (RDAP's pace is each registry's, not the machine's). None
/// when nothing was due. A result of another pass (one that stopped before its end) is
/// refused and dead-lettered: its domains are due again and published anew.
pub fn monitor_pass(
    rt: &tokio::runtime::Runtime,
    broker: &Broker,
    setup: &crate::monitor::Setup,
    conn: &mut Connection,
    all: bool,
    mut each: impl FnMut(crate::monitor::Item<'_>),
    log: &dyn Fn(&str),
) -> anyhow::Result<Option<crate::monitor::Cycle>> {
    let mut out: Option<crate::monitor::Cycle> = None;
    let names = if setup.dns { crate::monitor::due_now(conn, setup.every, all)? } else { Vec::new() };
    if !names.is_empty() {
        let queues = Queues::of(&broker.exchange);
        let pass = uuid::Uuid::new_v4().to_string();
        let mut cycle = crate::monitor::Cycle::default();
        rt.block_on(async {
            let s = broker.connect().await?;
            queues.declare(&s).await?;
            let tasks = names.iter().enumerate().map(|(seq, domain)| Task {
                kind: "monitor".into(),
                run: 0,
                seq: seq as i64,
                domain: domain.clone(),
                pass: Some(pass.clone()),
            });
            publish_tasks(&s, &queues, tasks, &queues.checks).await?;
            let mut results = consume(&s, broker, &queues.checks).await?;
            let fail = |e: lapin::Error| AmqpError::Other(broker.shown.clone(), e.to_string());
            let mut pending: std::collections::HashSet<&str> = names.iter().map(String::as_str).collect();
            while !pending.is_empty() {
                let Some(d) = results.next().await else {
                    return Err(anyhow::anyhow!("{}: the broker closed the results queue", broker.shown));
                };
                let d = d.map_err(fail)?;
                let outcome: Result<Outcome, _> = serde_json::from_slice(&d.data);
                match outcome {
                    Ok(o) if o.pass.as_deref() == Some(pass.as_str()) && pending.contains(o.domain.as_str()) => {
                        let Some(observed) = o.check.and_then(|c| c.observed(&o.domain)) else {
                            log(&format!("refused a check of {} that is not one", o.domain));
                            d.acker.reject(BasicRejectOptions { requeue: false }).await.map_err(fail)?;
                            continue;
                        };
                        // Kept (one transaction) before it is acknowledged.
                        let events = crate::monitor::keep(conn, &observed, &setup.endpoints)?;
                        pending.remove(o.domain.as_str());
                        cycle.checked += 1;
                        cycle.events += events.len() as u64;
                        each(crate::monitor::Item::Checked(&observed, &events, 0));
                        d.acker.ack(BasicAckOptions::default()).await.map_err(fail)?;
                    }
                    Ok(o) if o.pass.as_deref() == Some(pass.as_str()) => {
                        // Checked twice (a worker killed after its result, before its ack).
                        d.acker.ack(BasicAckOptions::default()).await.map_err(fail)?;
                    }
                    Ok(o) => {
                        log(&format!("refused a check of {} from another pass", o.domain));
                        d.acker.reject(BasicRejectOptions { requeue: false }).await.map_err(fail)?;
                    }
                    Err(e) => {
                        log(&format!("refused a result that is not one: {e}"));
                        d.acker.reject(BasicRejectOptions { requeue: false }).await.map_err(fail)?;
                    }
                }
            }
            s.close().await;
            Ok::<_, anyhow::Error>(())
        })?;
        out = Some(cycle);
    }
    let registrations = crate::monitor::Setup { dns: false, ..setup.clone() };
    if let Some(c) = crate::monitor::pass(rt, &registrations, conn, all, &mut each)? {
        let o = out.get_or_insert_with(crate::monitor::Cycle::default);
        o.events += c.events;
        o.rdap = c.rdap;
    }
    Ok(out)
}

/// What a worker says about itself in its results.
fn whoami() -> String {
    let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "localhost".into());
    format!("{host}/{}", std::process::id())
}

/// What a worker did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Worked {
    pub done: u64,
    pub rejected: u64,
}

/// Takes tasks from the broker until `stop` says so (or the broker goes away): each run with
/// `engine`, its result published and confirmed, then the task acknowledged. At most
/// `prefetch` tasks at once. `log` hears every task it could not read and each pass's share
/// of the limit.
pub fn work(
    rt: &tokio::runtime::Runtime,
    broker: &Broker,
    engine: &crate::analyze::Engine,
    prefetch: u16,
    stop: impl Fn(&Worked) -> bool,
    log: &(dyn Fn(&str) + Sync),
) -> Result<Worked, AmqpError> {
    let queues = Queues::of(&broker.exchange);
    rt.block_on(async {
        let s = broker.connect().await?;
        queues.declare(&s).await?;
        let fail = |e: lapin::Error| AmqpError::Other(broker.shown.clone(), e.to_string());
        s.channel.basic_qos(prefetch, BasicQosOptions::default()).await.map_err(fail)?;
        let mut tasks = s
            .channel
            .basic_consume(ShortString::from(queues.tasks.as_str()), ShortString::from(""), BasicConsumeOptions::default(), FieldTable::default())
            .await
            .map_err(fail)?;
        let session = Arc::new(s);
        let limit = engine.limits.qps;
        let mut resolver = engine.resolver();
        let mut made = tokio::time::Instant::now();
        let mut share_at = tokio::time::Instant::now() - Duration::from_secs(60);
        let me = whoami();
        let mut stats = Worked::default();
        let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<Result<(), AmqpError>>();
        let mut running = 0usize;
        loop {
            if stop(&stats) && running == 0 {
                break;
            }
            // A fresh cache every ten minutes: a worker lives long, its answers should not.
            if made.elapsed() >= Duration::from_secs(600) && running == 0 {
                resolver = engine.resolver();
                made = tokio::time::Instant::now();
                // Its share, before its first question.
                share_at = made - Duration::from_secs(60);
            }
            // The shared limit: this worker's share of each server's pace.
            if share_at.elapsed() >= Duration::from_secs(5) {
                share_at = tokio::time::Instant::now();
                let passive = QueueDeclareOptions { passive: true, durable: true, ..Default::default() };
                if let Ok(q) = session.channel.queue_declare(ShortString::from(queues.tasks.as_str()), passive, FieldTable::default()).await {
                    let workers = q.consumer_count().max(1);
                    resolver.client().set_qps((limit / workers).max(1));
                }
            }
            tokio::select! {
                Some(r) = done_rx.recv() => {
                    running -= 1;
                    r?;
                    stats.done += 1;
                }
                next = tasks.next(), if !stop(&stats) => {
                    // The broker ended the consumer (it stopped, or the connection broke): an
                    // error, so that a supervisor starts the worker again.
                    let Some(d) = next else {
                        return Err(AmqpError::Other(broker.shown.clone(), "the broker ended the task consumer".into()));
                    };
                    let d = d.map_err(fail)?;
                    let task: Result<Task, _> = serde_json::from_slice(&d.data);
                    let task = match task {
                        Ok(t) if t.kind == "analyze" || t.kind == "monitor" => t,
                        Ok(t) => {
                            log(&format!("a task of unknown kind `{}`: dead-lettered", t.kind));
                            d.acker.reject(BasicRejectOptions { requeue: false }).await.map_err(fail)?;
                            stats.rejected += 1;
                            continue;
                        }
                        Err(e) => {
                            log(&format!("a task that is not one ({e}): dead-lettered"));
                            d.acker.reject(BasicRejectOptions { requeue: false }).await.map_err(fail)?;
                            stats.rejected += 1;
                            continue;
                        }
                    };
                    let Ok(name) = crate::dns::parse_name(&task.domain) else {
                        log(&format!("a task for `{}`, not a name the DNS can ask about: dead-lettered", task.domain));
                        d.acker.reject(BasicRejectOptions { requeue: false }).await.map_err(fail)?;
                        stats.rejected += 1;
                        continue;
                    };
                    let reply = d.properties.reply_to().as_ref().map(|r| r.to_string()).unwrap_or_else(|| queues.results.clone());
                    let (r, session, tx, me) = (resolver.clone(), session.clone(), done_tx.clone(), me.clone());
                    running += 1;
                    tokio::spawn(async move {
                        let o = if task.kind == "monitor" {
                            let started = tokio::time::Instant::now();
                            let c = crate::monitor::observe(&r, &name).await;
                            Outcome {
                                run: task.run,
                                seq: task.seq,
                                domain: c.name.clone(),
                                elapsed_ms: started.elapsed().as_millis() as i64,
                                findings: Vec::new(),
                                worker: me,
                                pass: task.pass.clone(),
                                check: Some(WireCheck::of(&c)),
                            }
                        } else {
                        let a = crate::analyze::analyze(&r, &name, None, &Selection::all()).await;
                        Outcome {
                            run: task.run,
                            seq: task.seq,
                            domain: a.domain.clone(),
                            elapsed_ms: a.elapsed.as_millis() as i64,
                            findings: a
                                .findings
                                .iter()
                                .map(|f| WireFinding {
                                    module: f.module.to_string(),
                                    testcase: f.testcase.to_string(),
                                    tag: f.tag.to_string(),
                                    level: f.level,
                                    args: f.args.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
                                })
                                .collect(),
                            worker: me,
                            pass: None,
                            check: None,
                        }
                        };
                        let m = Outgoing {
                            routing_key: reply,
                            message_id: format!("result:{}:{}", task.run, task.seq),
                            body: serde_json::to_vec(&o).unwrap_or_default(),
                            reply_to: None,
                            correlation_id: d.properties.correlation_id().as_ref().map(|c| c.to_string()),
                        };
                        // The task is acknowledged only once its result is confirmed.
                        let sent = session.publish_confirmed("", &[m]).await;
                        let acked = match sent {
                            Ok(()) => d.acker.ack(BasicAckOptions::default()).await.map(|_| ()).map_err(|e| AmqpError::Other("ack".into(), e.to_string())),
                            Err(e) => Err(e),
                        };
                        let _ = tx.send(acked);
                    });
                }
            }
        }
        if let Ok(s) = Arc::try_unwrap(session) {
            s.close().await;
        }
        Ok(stats)
    })
}
