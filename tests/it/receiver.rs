//! A webhook receiver for the tests: checks Standard Webhooks signatures on its own (hmac +
//! sha2, not zonefeed's code), records every delivery, and answers from a script.

use std::collections::VecDeque;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hmac::{Hmac, Mac};

use crate::http::{read_request, respond};

pub const SECRET: &str = "whsec_c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seQ==";

/// One request as received.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub signature_ok: bool,
    pub body: serde_json::Value,
    pub custom_header: Option<String>,
}

/// An answer: status, extra headers, delay before answering.
pub type Answer = (u16, Vec<(&'static str, String)>, Duration);

#[derive(Default)]
pub struct State {
    /// Answers for the next requests; 200 at once when empty.
    pub script: VecDeque<Answer>,
    pub received: Vec<Delivery>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl Receiver {
    pub fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind receiver");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let st = st.clone();
                std::thread::spawn(move || {
                    let Some(req) = read_request(&stream) else { return };
                    let h = |k: &str| req.headers.get(k).cloned().unwrap_or_default();
                    let body = String::from_utf8_lossy(&req.body).into_owned();
                    let want = expected_signature(&h("webhook-id"), &h("webhook-timestamp"), &body);
                    let d = Delivery {
                        id: h("webhook-id"),
                        signature_ok: h("webhook-signature").split(' ').any(|s| s == want),
                        body: serde_json::from_str(&body).unwrap_or_default(),
                        custom_header: req.headers.get("x-team").cloned(),
                    };
                    let (status, headers, delay) = {
                        let mut s = st.lock().unwrap_or_else(|p| p.into_inner());
                        s.received.push(d);
                        s.script.pop_front().unwrap_or((200, Vec::new(), Duration::ZERO))
                    };
                    std::thread::sleep(delay);
                    let _ = respond(&stream, status, &headers, b"");
                });
            }
        });
        Receiver { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn expected_signature(id: &str, ts: &str, body: &str) -> String {
    let key = data_encoding::BASE64.decode(SECRET.trim_start_matches("whsec_").as_bytes()).expect("test secret is base64");
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&key).expect("hmac key");
    mac.update(format!("{id}.{ts}.{body}").as_bytes());
    format!("v1,{}", data_encoding::BASE64.encode(&mac.finalize().into_bytes()))
}
