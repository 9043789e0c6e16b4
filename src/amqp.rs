//! RabbitMQ through lapin (AMQP 0.9.1): where the broker is and how to log in, a session
//! with publisher confirms, and the blocking publisher the event outbox uses.
//!
//! The URL (`amqp.url`, `--via`, `worker URL`) names the broker and the virtual host; the
//! credentials come from `amqp.credentials_file` (two lines: user name, password; only its
//! owner may read it), never from the URL, so that no command line or log shows them.
//! Without a file, RabbitMQ's `guest` (which it admits on loopback only).

use std::sync::Mutex;
use std::time::Duration;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::uri::{AMQPScheme, AMQPUri};
use lapin::{BasicProperties, Connection, ConnectionProperties, ExchangeKind};

use crate::config::{Config, ConfigError};

/// Where the broker is and how to log in.
#[derive(Clone)]
pub struct Broker {
    uri: AMQPUri,
    /// The URL without credentials: what messages and the outbox show.
    pub shown: String,
    /// The topic exchange the events go to (`amqp.exchange`, `zonefeed`).
    pub exchange: String,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker").field("url", &self.shown).field("exchange", &self.exchange).finish()
    }
}

/// Why the broker could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AmqpError {
    /// The broker refused the user name or password.
    #[error("{0}: the broker refused the credentials ({1})")]
    Auth(String, String),
    #[error("{0}: {1}")]
    Other(String, String),
}

impl Broker {
    /// The config's broker (`amqp.url`), or None when it names none.
    pub fn from_config(cfg: &Config) -> Result<Option<Broker>, ConfigError> {
        match &cfg.keys.amqp_url {
            Some(url) => Broker::at(url, cfg).map(Some).map_err(|msg| cfg.invalid("amqp.url", msg)),
            None => Ok(None),
        }
    }

    /// The broker at `url`, with the config's credentials and exchange; what is wrong with
    /// the URL otherwise.
    pub fn at(url: &str, cfg: &Config) -> Result<Broker, String> {
        let mut uri: AMQPUri = url.parse().map_err(|e| format!("`{url}` is not an AMQP URL (amqp://HOST[:PORT][/VHOST]): {e}"))?;
        if url.contains('@') {
            return Err("credentials do not belong in the URL (it shows in logs and `ps`): put them in amqp.credentials_file".into());
        }
        if let Some(path) = &cfg.keys.amqp_credentials_file {
            let (user, password) =
                crate::config::read_credentials("AMQP credentials file", "amqp.credentials_file", path).map_err(|e| e.to_string())?;
            uri.authority.userinfo.username = user;
            uri.authority.userinfo.password = password.expose().to_string();
        }
        let scheme = if uri.scheme == AMQPScheme::AMQPS { "amqps" } else { "amqp" };
        let vhost = crate::http::encode(&uri.vhost);
        let shown = format!("{scheme}://{}:{}/{vhost}", uri.authority.host, uri.authority.port);
        let exchange = cfg.keys.amqp_exchange.clone().unwrap_or_else(|| "zonefeed".into());
        Ok(Broker { uri, shown, exchange })
    }

    /// A session: a connection and a channel with publisher confirms on.
    pub async fn connect(&self) -> Result<Session, AmqpError> {
        let mut uri = self.uri.clone();
        // Fail in seconds, not at the OS's TCP timeout, when nothing answers.
        uri.query.connection_timeout.get_or_insert(10_000);
        let conn = Connection::connect_uri(uri, ConnectionProperties::default()).await.map_err(|e| self.error(&e))?;
        let channel = conn.create_channel().await.map_err(|e| self.error(&e))?;
        channel.confirm_select(ConfirmSelectOptions::default()).await.map_err(|e| self.error(&e))?;
        Ok(Session { conn, channel, shown: self.shown.clone() })
    }

    /// lapin's error, said as the broker's URL and what happened; a refused login is its own.
    pub fn error(&self, e: &lapin::Error) -> AmqpError {
        let text = e.to_string();
        if text.contains("ACCESS_REFUSED") || text.to_ascii_lowercase().contains("authentication") {
            AmqpError::Auth(self.shown.clone(), text)
        } else {
            AmqpError::Other(self.shown.clone(), text)
        }
    }
}

/// A message to publish.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub routing_key: String,
    /// A consumer drops a message whose id it has seen.
    pub message_id: String,
    pub body: Vec<u8>,
    /// Where a reply goes, and what it answers (work tasks).
    pub reply_to: Option<String>,
    pub correlation_id: Option<String>,
}

impl Outgoing {
    /// Persistent JSON with its id, the time, and the reply fields when set.
    pub fn properties(&self) -> BasicProperties {
        let mut p = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type(ShortString::from("application/json"))
            .with_message_id(ShortString::from(self.message_id.as_str()))
            .with_timestamp(crate::time::unix_now().max(0) as u64)
            .with_app_id(ShortString::from("zonefeed"));
        if let Some(r) = &self.reply_to {
            p = p.with_reply_to(ShortString::from(r.as_str()));
        }
        if let Some(c) = &self.correlation_id {
            p = p.with_correlation_id(ShortString::from(c.as_str()));
        }
        p
    }
}

/// A connection and its channel (publisher confirms on).
pub struct Session {
    pub conn: Connection,
    pub channel: lapin::Channel,
    shown: String,
}

impl Session {
    fn fail(&self, what: &str) -> AmqpError {
        AmqpError::Other(self.shown.clone(), what.to_string())
    }

    /// The durable topic exchange the events go to.
    pub async fn declare_exchange(&self, name: &str) -> Result<(), AmqpError> {
        let o = ExchangeDeclareOptions { durable: true, ..Default::default() };
        self.channel
            .exchange_declare(ShortString::from(name), ExchangeKind::Topic, o, FieldTable::default())
            .await
            .map_err(|e| self.fail(&e.to_string()))
    }

    /// Publishes `messages` to `exchange` and waits until the broker has confirmed every one
    /// (an event no queue is bound for is confirmed and dropped, as a topic exchange does);
    /// a nack is an error.
    pub async fn publish_confirmed(&self, exchange: &str, messages: &[Outgoing]) -> Result<(), AmqpError> {
        let mut confirms = Vec::with_capacity(messages.len());
        for m in messages {
            let c = self
                .channel
                .basic_publish(
                    ShortString::from(exchange),
                    ShortString::from(m.routing_key.as_str()),
                    BasicPublishOptions::default(),
                    &m.body,
                    m.properties(),
                )
                .await
                .map_err(|e| self.fail(&e.to_string()))?;
            confirms.push(c);
        }
        for c in confirms {
            let confirmation = c.await.map_err(|e| self.fail(&e.to_string()))?;
            if confirmation.is_nack() {
                return Err(self.fail("the broker refused a message (nack)"));
            }
        }
        Ok(())
    }

    pub async fn close(self) {
        let _ = self.conn.close(200, ShortString::from("bye")).await;
    }
}

/// Queue arguments: a dead-letter exchange for what a consumer rejects.
pub fn dead_lettered(dlx: &str) -> FieldTable {
    let mut t = FieldTable::default();
    t.insert(ShortString::from("x-dead-letter-exchange"), AMQPValue::LongString(dlx.into()));
    t
}

/// Publishes from blocking code: the event outbox's sink. Holds its own runtime and one
/// session, made at the first publish and dropped after an error (the next makes another).
pub struct Publisher {
    pub broker: Broker,
    state: Mutex<Option<(tokio::runtime::Runtime, Session)>>,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.broker.fmt(f)
    }
}

impl Publisher {
    pub fn new(broker: Broker) -> Publisher {
        Publisher { broker, state: Mutex::new(None) }
    }

    /// Publishes to the events exchange and returns once the broker confirmed all; what
    /// went wrong otherwise (the password never in it).
    pub fn publish(&self, messages: &[Outgoing], timeout: Duration) -> Result<(), String> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.is_none() {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().map_err(|e| e.to_string())?;
            let session = rt.block_on(async {
                let s = tokio::time::timeout(timeout, self.broker.connect())
                    .await
                    .map_err(|_| AmqpError::Other(self.broker.shown.clone(), "no answer (timeout)".into()))??;
                s.declare_exchange(&self.broker.exchange).await?;
                Ok::<_, AmqpError>(s)
            });
            *state = Some((rt, session.map_err(|e| e.to_string())?));
        }
        let Some((rt, session)) = state.as_ref() else { unreachable!("set above") };
        let sent = rt.block_on(async {
            tokio::time::timeout(timeout, session.publish_confirmed(&self.broker.exchange, messages))
                .await
                .map_err(|_| AmqpError::Other(self.broker.shown.clone(), "no confirmation (timeout)".into()))?
        });
        if sent.is_err() {
            if let Some((rt, session)) = state.take() {
                rt.block_on(session.close());
            }
        }
        sent.map_err(|e| e.to_string())
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        if let Some((rt, session)) = self.state.get_mut().unwrap_or_else(|p| p.into_inner()).take() {
            rt.block_on(session.close());
        }
    }
}
