//! A RabbitMQ node of the test's own (Debian's rabbitmq-server) on 127.0.0.1, its data in the
//! test's directory, stopped and started again at will; and a consumer written with lapin
//! alone (not zonefeed's code) that reads what zonefeed published.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::env::{skip, TestEnv};

const REQUIRE: &str = "ZONEFEED_REQUIRE_RABBITMQ";

/// The server's scripts: Debian's wrappers switch to the rabbitmq user when run as root;
/// the scripts under /usr/lib/rabbitmq run as whoever starts them.
fn bin(name: &str) -> PathBuf {
    let lib = Path::new("/usr/lib/rabbitmq/bin").join(name);
    if lib.exists() {
        lib
    } else {
        PathBuf::from(name)
    }
}

pub struct Rabbit {
    child: Option<Child>,
    pub port: u16,
    dist: u16,
    node: String,
    dir: PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Rabbit {
    /// A node, up; None (with a skip) when rabbitmq-server is not installed.
    pub fn start(t: &TestEnv, test: &str) -> Option<Rabbit> {
        let installed = Command::new(bin("rabbitmqctl")).arg("help").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
        if !installed {
            skip(test, REQUIRE, "rabbitmq-server is not installed (apt install rabbitmq-server)");
            return None;
        }
        let dir = t.path("rabbit");
        std::fs::create_dir_all(dir.join("log")).unwrap();
        let port = free_port();
        let node = format!("zf{}x{port}@localhost", std::process::id());
        std::fs::write(dir.join("rabbitmq.conf"), format!("listeners.tcp.1 = 127.0.0.1:{port}\nloopback_users.guest = true\n")).unwrap();
        std::fs::write(dir.join("enabled_plugins"), "[].\n").unwrap();
        let mut r = Rabbit { child: None, port, dist: free_port(), node, dir };
        r.up();
        Some(r)
    }

    fn env(&self, c: &mut Command) {
        let d = |p: &str| self.dir.join(p);
        c.env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", self.dist.to_string())
            .env("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", "-kernel inet_dist_use_interface {127,0,0,1}")
            .env("RABBITMQ_MNESIA_BASE", d("mnesia"))
            .env("RABBITMQ_LOG_BASE", d("log"))
            .env("RABBITMQ_CONFIG_FILE", d("rabbitmq"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", d("enabled_plugins"))
            .env("RABBITMQ_FEATURE_FLAGS_FILE", d("feature_flags"))
            .env("RABBITMQ_PLUGINS_EXPAND_DIR", d("plugins-expand"))
            .env("ERL_EPMD_ADDRESS", "127.0.0.1")
            .env("HOME", &self.dir);
    }

    /// Starts the node (again) and waits until it takes AMQP connections.
    pub fn up(&mut self) {
        let mut c = Command::new(bin("rabbitmq-server"));
        self.env(&mut c);
        let log = std::fs::File::create(self.dir.join("server.out")).unwrap();
        self.child = Some(c.stdout(log.try_clone().unwrap()).stderr(log).spawn().unwrap());
        let deadline = Instant::now() + Duration::from_secs(90);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "rabbitmq did not start: see {}", self.dir.join("server.out").display());
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Stops the node (its durable queues and persistent messages stay on disk).
    pub fn down(&mut self) {
        let mut c = Command::new(bin("rabbitmqctl"));
        self.env(&mut c);
        let _ = c.args(["-n", &self.node, "stop"]).stdout(Stdio::null()).stderr(Stdio::null()).status();
        if let Some(mut child) = self.child.take() {
            let deadline = Instant::now() + Duration::from_secs(30);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        while TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn url(&self) -> String {
        format!("amqp://127.0.0.1:{}/%2f", self.port)
    }
}

impl Drop for Rabbit {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.down();
        }
    }
}

/// A consumer of our own: a durable queue bound to the events exchange, read with lapin.
pub mod consumer {
    use lapin::options::{BasicAckOptions, BasicGetOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
    use lapin::types::{FieldTable, ShortString};
    use lapin::{Connection, ConnectionProperties, ExchangeKind};

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
    }

    /// Declares the topic exchange (as zonefeed does) and a queue bound to `pattern`.
    pub fn bind(url: &str, exchange: &str, queue: &str, pattern: &str) {
        rt().block_on(async {
            let conn = Connection::connect(url, ConnectionProperties::default()).await.unwrap();
            let ch = conn.create_channel().await.unwrap();
            let durable = ExchangeDeclareOptions { durable: true, ..Default::default() };
            ch.exchange_declare(ShortString::from(exchange), ExchangeKind::Topic, durable, FieldTable::default()).await.unwrap();
            let q = QueueDeclareOptions { durable: true, ..Default::default() };
            ch.queue_declare(ShortString::from(queue), q, FieldTable::default()).await.unwrap();
            ch.queue_bind(
                ShortString::from(queue),
                ShortString::from(exchange),
                ShortString::from(pattern),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
            let _ = conn.close(200, ShortString::from("bye")).await;
        });
    }

    /// One message as read: routing key, message id, whether it was persistent, the body.
    #[derive(Debug, Clone)]
    pub struct Got {
        pub routing_key: String,
        pub message_id: Option<String>,
        pub persistent: bool,
        pub body: serde_json::Value,
    }

    /// Publishes `body` straight to `queue` (declared by zonefeed before).
    pub fn publish(url: &str, queue: &str, body: &[u8]) {
        rt().block_on(async {
            let conn = Connection::connect(url, ConnectionProperties::default()).await.unwrap();
            let ch = conn.create_channel().await.unwrap();
            ch.basic_publish(ShortString::from(""), ShortString::from(queue), Default::default(), body, Default::default())
                .await
                .unwrap()
                .await
                .unwrap();
            let _ = conn.close(200, ShortString::from("bye")).await;
        });
    }

    /// Every message now in `queue`, acknowledged.
    pub fn drain(url: &str, queue: &str) -> Vec<Got> {
        rt().block_on(async {
            let conn = Connection::connect(url, ConnectionProperties::default()).await.unwrap();
            let ch = conn.create_channel().await.unwrap();
            let mut out = Vec::new();
            while let Some(m) = ch.basic_get(ShortString::from(queue), BasicGetOptions::default()).await.unwrap() {
                let d = &m.delivery;
                out.push(Got {
                    routing_key: d.routing_key.to_string(),
                    message_id: d.properties.message_id().as_ref().map(|s| s.to_string()),
                    persistent: *d.properties.delivery_mode() == Some(2),
                    body: serde_json::from_slice(&d.data).unwrap(),
                });
                d.acker.ack(BasicAckOptions::default()).await.unwrap();
            }
            let _ = conn.close(200, ShortString::from("bye")).await;
            out
        })
    }
}
