//! The service: run-once bookkeeping of a zone's day, start/status/stop of the background process.

use std::time::{Duration, SystemTime};

use crate::sync::Setup;

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn status(t: &Setup) -> serde_json::Value {
    let out = t.env.run(&["--db", "s.db", "--format", "jsonl", "service", "status"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("status JSON")
}

#[test]
fn run_once_marks_a_day_done_only_with_todays_file() {
    let t = Setup::new();
    let now = SystemTime::now();
    // Today's file, dated within today even just after midnight (UTC).
    let since_midnight = now.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() % 86_400;
    let midnight = now - Duration::from_secs(since_midnight);
    t.publish_at("com", 0, now - Duration::from_secs(since_midnight.min(60)));
    // Yesterday's file: downloaded and imported, but its day is not today.
    t.publish_at("net", 0, midnight - Duration::from_secs(60));
    let out = t.env.run(&["--db", "s.db", "service", "run-once"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let st = status(&t);
    assert_eq!(st["running"], false);
    let run = &st["runs"][0];
    assert_eq!(run["zones"], 2);
    assert_eq!(run["ok"], 2);
    assert_eq!(run["pending"], 1, "net still waits for today's file: {st}");
    assert_eq!(run["result"], "ok");
}

#[test]
fn start_status_stop() {
    // A window hours away: the service starts, finds nothing to do now, and sleeps.
    let h = (SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() / 3600 + 3) % 24;
    let t = Setup::with(serde_json::json!({
        "service.download_start_time": format!("{h:02}:00"),
        "service.download_end_time": format!("{h:02}:30"),
    }));
    let out = t.env.run(&["--db", "s.db", "service", "start"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pid_file = t.env.path("work/zonefeed-service.pid");
    let start = std::time::Instant::now();
    while !pid_file.exists() {
        assert!(start.elapsed() < Duration::from_secs(10), "no pid file");
        std::thread::sleep(Duration::from_millis(50));
    }
    let st = status(&t);
    assert_eq!(st["running"], true, "{st}");
    let out = t.env.run(&["--db", "s.db", "service", "start"]);
    assert_eq!(out.status.code(), Some(1), "a second start is refused");
    let out = t.env.run(&["--db", "s.db", "service", "stop"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(status(&t)["running"], false);
    assert!(!pid_file.exists());
    let log = std::fs::read_to_string(t.env.path("work/zonefeed-service.log")).unwrap();
    assert!(log.contains("next check at") && log.contains(&format!("T{h:02}:00:00Z")), "{log}");
    assert!(t.czds.state().login_attempts == 0, "outside the window nothing is fetched");
}
