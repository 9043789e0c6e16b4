//! HTTP helpers the CZDS client, the webhook sender and the API server share: response
//! headers, `Retry-After`, and percent-encoding (RFC 3986 §2.1).

use std::time::Duration;

use ureq::http::Response;
use ureq::Body;

/// `Retry-After` as seconds or as an HTTP date (RFC 9110 §10.2.3), at most an hour.
pub fn retry_after(resp: &Response<Body>) -> Option<Duration> {
    let v = resp.headers().get("retry-after")?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs.min(3600)));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    at.duration_since(std::time::SystemTime::now()).ok().map(|d| d.min(Duration::from_secs(3600)))
}

/// A response header as text.
pub fn header<'a>(resp: &'a Response<Body>, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

/// `%XX` and (in queries) `+` decoded; a malformed escape or invalid UTF-8 is an error.
pub fn decode(s: &str, plus: bool) -> Option<String> {
    // `percent-encoding` passes a malformed escape through as it is; a URL holding one is
    // refused instead, so that `%zz` never reaches a lookup.
    let b = s.as_bytes();
    let hex = |i: usize| b.get(i).is_some_and(u8::is_ascii_hexdigit);
    if b.iter().enumerate().any(|(i, &c)| c == b'%' && !(hex(i + 1) && hex(i + 2))) {
        return None;
    }
    let spaced: std::borrow::Cow<'_, str> = if plus { s.replace('+', " ").into() } else { s.into() };
    percent_encoding::percent_decode_str(&spaced).decode_utf8().ok().map(std::borrow::Cow::into_owned)
}

/// Every byte but RFC 3986's unreserved characters (letters, digits, `-._~`) as `%XX`.
const ESCAPED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

pub fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, ESCAPED).to_string()
}
