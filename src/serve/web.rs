//! The web page on `/`: a few static files built into the binary, so `serve` needs nothing
//! installed and reaches no network or CDN. Every page URL (`/search?q=`, `/domain/{name}`,
//! `/ns/{host}`, `/provider/{domain}`, `/zone/{tld}`, `/feed/{tld}/{date}`) gets the same
//! document; its script reads the URL and draws the page from `/v1`.
//!
//! The script builds every element from text nodes, never from HTML strings, since names,
//! records and watch terms come from zone files and users; the Content-Security-Policy only
//! admits this server's own scripts and styles as a second line of defence.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Response, StatusCode};

const INDEX: &str = include_str!("web/index.html");
const APP: &str = include_str!("web/app.js");
const STYLE: &str = include_str!("web/style.css");
const ICON: &str = include_str!("web/icon.svg");

/// The first segment of every page the script draws.
const PAGES: [&str; 6] = ["search", "domain", "ns", "provider", "zone", "feed"];

/// Status, content type and body for a path outside `/v1`.
pub fn serve(path: &str) -> (u16, &'static str, Bytes) {
    let page = |status| (status, "text/html; charset=utf-8", Bytes::from_static(INDEX.as_bytes()));
    match path {
        "/" => page(200),
        "/assets/app.js" => (200, "text/javascript; charset=utf-8", Bytes::from_static(APP.as_bytes())),
        "/assets/style.css" => (200, "text/css; charset=utf-8", Bytes::from_static(STYLE.as_bytes())),
        "/assets/icon.svg" | "/favicon.ico" => (200, "image/svg+xml", Bytes::from_static(ICON.as_bytes())),
        _ => {
            let first = path.trim_start_matches('/').split('/').next().unwrap_or_default();
            // Unknown pages get the document too (it says what is missing), as a 404.
            page(if PAGES.contains(&first) { 200 } else { 404 })
        }
    }
}

/// A response for the web page: the body, its type, and headers that keep it to its own files.
pub fn response(status: u16, ctype: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::NOT_FOUND);
    let h = resp.headers_mut();
    h.insert(hyper::header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(
        hyper::header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(hyper::header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(hyper::header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // The files change only with the binary; a reload after an upgrade asks again.
    h.insert(hyper::header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(HeaderName::from_static("x-frame-options"), HeaderValue::from_static("DENY"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_get_the_document_and_unknown_paths_a_404() {
        assert_eq!(serve("/").0, 200);
        assert_eq!(serve("/domain/example.com").0, 200);
        assert_eq!(serve("/feed/com/2026-11-22").0, 200);
        assert_eq!(serve("/nope").0, 404);
        assert_eq!(serve("/assets/app.js").1, "text/javascript; charset=utf-8");
        // The document loads only files this server has.
        for asset in ["/assets/app.js", "/assets/style.css", "/assets/icon.svg"] {
            assert!(INDEX.contains(asset), "{asset}");
            assert_eq!(serve(asset).0, 200);
        }
    }
}
