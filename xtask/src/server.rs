//! A small static file server for the built site, on 127.0.0.1 only.
//!
//! Every response carries `Cross-Origin-Opener-Policy: same-origin` and
//! `Cross-Origin-Embedder-Policy: require-corp`, so the page is cross-origin isolated (SharedArrayBuffer and
//! precise timers work) exactly as it will be on a static host configured the same way; and, for a built
//! site, its Content-Security-Policy ([`StaticServer::with_policy`]), which a `<meta>` cannot give the
//! workers.
//!
//! The same files are also served under [`SUBPATH`], as a project site on GitHub Pages is served under
//! `/<repo>/`, so the end-to-end tests check that the site works from a sub-path; and under [`PLAIN`]
//! with none of those headers, as a static host that cannot send any (GitHub Pages, most school hosts),
//! where the site's service worker adds them (tests/e2e/offline.test.mjs).
//!
//! Text and wasm go out gzip-compressed to a client that accepts it, as a static host sends them, so
//! what the browser fetches (and `cargo xtask bench`'s `load` rows) is what a learner's browser fetches.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use flate2::Compression;

use crate::{size, Result};

/// Request heads are small; anything longer is not a browser talking to us.
const MAX_HEAD_LINES: usize = 100;
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// The sub-path that serves the same files as `/` (tests/e2e/subpath.test.mjs).
const SUBPATH: &str = "/faultline/";
/// The sub-path that serves the same files as `/` without the COOP, COEP, CORP and policy headers.
const PLAIN: &str = "/plain/";

pub struct StaticServer {
    listener: TcpListener,
    site: Site,
}

/// A slow network the server plays, for the page-load benchmark: every response waits one round trip
/// (a request over a warm connection; the first also pays two more, for TCP's and TLS's handshakes), and
/// all bodies share one link of `bytes_per_s`, in chunks, first come first served. Chromium's own
/// emulation, set on the page through the DevTools protocol, does not reach its workers' requests.
pub struct Network {
    pub bytes_per_s: f64,
    pub round_trip: Duration,
    /// When the link has sent everything queued so far, and whether a response has been sent yet.
    link: Mutex<(Instant, bool)>,
}

impl Network {
    pub fn new(mbit_per_s: f64, round_trip_ms: u64) -> Self {
        Network {
            bytes_per_s: mbit_per_s * 1e6 / 8.0,
            round_trip: Duration::from_millis(round_trip_ms),
            link: Mutex::new((Instant::now(), false)),
        }
    }

    /// Waits out the round trips before a response's first byte.
    fn respond(&self) {
        let first = !std::mem::replace(&mut self.link.lock().expect("no thread panics holding it").1, true);
        thread::sleep(self.round_trip * if first { 3 } else { 1 });
    }

    /// Queues `bytes` on the link and waits until they have gone.
    fn send(&self, bytes: usize) {
        let done = {
            let mut link = self.link.lock().expect("no thread panics holding it");
            let start = link.0.max(Instant::now());
            link.0 = start + Duration::from_secs_f64(bytes as f64 / self.bytes_per_s);
            link.0
        };
        thread::sleep(done.saturating_duration_since(Instant::now()));
    }
}

/// How much of a body goes on the [`Network`]'s link at a time, interleaving concurrent responses.
const CHUNK: usize = 16 * 1024;

/// What every connection serves: the files under `root`, with the policy header if there is one.
struct Site {
    root: PathBuf,
    policy: Option<String>,
    network: Option<Network>,
    /// Each compressed file as it was when last compressed (its modification time), so a rebuilt file is
    /// compressed again and an unchanged one only once.
    gzipped: Mutex<HashMap<PathBuf, Compressed>>,
}

/// A file's gzip body and the modification time of the file it was made from.
type Compressed = (SystemTime, Arc<Vec<u8>>);

impl Site {
    /// The gzip body of the file at `path`.
    fn gzipped(&self, path: &Path) -> io::Result<Arc<Vec<u8>>> {
        let modified = fs::metadata(path)?.modified()?;
        if let Some((when, body)) = self.gzipped.lock().expect("no thread panics holding it").get(path) {
            if *when == modified {
                return Ok(Arc::clone(body));
            }
        }
        let body = Arc::new(size::gzip(&fs::read(path)?, Compression::default()));
        self.gzipped
            .lock()
            .expect("no thread panics holding it")
            .insert(path.to_path_buf(), (modified, Arc::clone(&body)));
        Ok(body)
    }
}

impl StaticServer {
    /// Binds 127.0.0.1:`port` (0 picks a free port) to serve the files under `root`.
    pub fn bind(root: &Path, port: u16) -> Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .map_err(|err| format!("cannot listen on 127.0.0.1:{port}: {err}"))?;
        Ok(Self {
            listener,
            site: Site { root: root.to_path_buf(), policy: None, network: None, gzipped: Mutex::default() },
        })
    }

    /// Sends `policy` as the `Content-Security-Policy` of every response.
    pub fn with_policy(mut self, policy: String) -> Self {
        self.site.policy = Some(policy);
        self
    }

    /// Plays `network` on every response (`cargo xtask bench`'s `load` rows).
    pub fn with_network(mut self, network: Network) -> Self {
        self.site.network = Some(network);
        self
    }

    pub fn url(&self) -> Result<String> {
        let addr: SocketAddr = self.listener.local_addr()?;
        Ok(format!("http://{addr}/"))
    }

    /// Serves until the process ends, one thread per connection.
    pub fn run(self) -> ! {
        let site = Arc::new(self.site);
        for stream in self.listener.incoming() {
            let Ok(stream) = stream else { continue };
            let site = Arc::clone(&site);
            thread::spawn(move || {
                if let Err(err) = handle(stream, &site) {
                    if !matches!(err.kind(), io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset) {
                        eprintln!("server: {err}");
                    }
                }
            });
        }
        unreachable!("TcpListener::incoming never ends")
    }

    /// Serves from a background thread for the rest of the process; returns the URL.
    pub fn spawn(self) -> Result<String> {
        let url = self.url()?;
        thread::spawn(move || self.run());
        Ok(url)
    }
}

fn handle(stream: TcpStream, site: &Site) -> io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut accepts_gzip = false;
    let mut if_none_match = String::new();
    for _ in 0..MAX_HEAD_LINES {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            accepts_gzip |= name.trim().eq_ignore_ascii_case("accept-encoding")
                && value.split(',').any(|coding| coding.split(';').next().unwrap_or_default().trim() == "gzip");
            if name.trim().eq_ignore_ascii_case("if-none-match") {
                if_none_match = value.trim().to_string();
            }
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next(), parts.next().map(plain));
    let headers = !matches!(target, Some((_, true)));
    let mut out = Response { stream, headers, policy: site.policy.as_deref(), encoding: None, etag: None };
    let (Some(method), Some((target, _))) = (method, target) else {
        return out.error("400 Bad Request");
    };
    if method != "GET" && method != "HEAD" {
        return out.error("405 Method Not Allowed");
    }
    let Some(path) = resolve(&site.root, target) else {
        eprintln!("server: 404 {target}");
        return out.error("404 Not Found");
    };
    let content_type = content_type(&path);
    if let Some(network) = &site.network {
        network.respond();
    }
    let gzip = accepts_gzip && compresses(content_type);
    // A validator, so that a browser (or the service worker installing) that has this version
    // revalidates it instead of fetching it again, as it would from a static host.
    let metadata = fs::metadata(&path)?;
    let modified = metadata.modified()?.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let etag = format!("\"{:x}-{:x}{}\"", metadata.len(), modified.as_nanos(), if gzip { "-gzip" } else { "" });
    let unchanged = if_none_match.split(',').any(|tag| tag.trim() == etag);
    out.etag = Some(etag);
    if unchanged {
        return out.not_modified();
    }
    if gzip {
        let body = site.gzipped(&path)?;
        out.encoding = Some("gzip");
        out.head("200 OK", content_type, body.len() as u64)?;
        if method == "GET" {
            send(&mut out.stream, &body, site.network.as_ref())?;
        }
        return out.stream.flush();
    }
    let file = File::open(&path)?;
    let length = file.metadata()?.len();
    out.head("200 OK", content_type, length)?;
    let mut out = out.stream;
    if method == "GET" {
        match &site.network {
            Some(network) => send(&mut out, &fs::read(&path)?, Some(network))?,
            None => {
                io::copy(&mut BufReader::new(file), &mut out)?;
            }
        }
    }
    out.flush()
}

/// Writes `body`, at the pace of `network` if there is one.
fn send(out: &mut TcpStream, body: &[u8], network: Option<&Network>) -> io::Result<()> {
    let Some(network) = network else {
        return out.write_all(body);
    };
    for chunk in body.chunks(CHUNK) {
        network.send(chunk.len());
        out.write_all(chunk)?;
    }
    Ok(())
}

/// Whether a file of this type is worth compressing: text and wasm; images and fonts are compressed
/// already.
fn compresses(content_type: &str) -> bool {
    content_type.starts_with("text/") || content_type.starts_with("application/") || content_type == "image/svg+xml"
}

/// A target under [`PLAIN`] as the same target under `/`, and whether it was.
fn plain(target: &str) -> (&str, bool) {
    match target.strip_prefix(PLAIN) {
        Some(_) => (&target[PLAIN.len() - 1..], true),
        None => (target, false),
    }
}

/// Maps a request target to a file under `root`, the same under [`SUBPATH`] as under `/`: `/` and
/// folders to their `index.html`; a missing path without a file extension to the app's `index.html`
/// (client-side routes); never outside `root`.
fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next().unwrap_or_default();
    let path = path.strip_prefix(SUBPATH).unwrap_or(path);
    let decoded = percent_decode(path)?;
    let relative = Path::new(decoded.trim_start_matches('/'));
    if relative.components().any(|part| !matches!(part, Component::Normal(_))) {
        return None;
    }
    let mut file = root.join(relative);
    if file.is_dir() {
        file.push("index.html");
    }
    if file.is_file() {
        return Some(file);
    }
    let index = root.join("index.html");
    (relative.extension().is_none() && index.is_file()).then_some(index)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let decoded = String::from_utf8(out).ok()?;
    (!decoded.contains(['\0', '\\'])).then_some(decoded)
}

fn content_type(path: &Path) -> &'static str {
    let extension = path.extension().and_then(|ext| ext.to_str()).unwrap_or_default().to_ascii_lowercase();
    match extension.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "md" => "text/markdown; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        _ => "application/octet-stream",
    }
}

/// A response being written: the connection, whether its head carries the isolation headers and the
/// policy (not under [`PLAIN`]), and the policy.
struct Response<'a> {
    stream: TcpStream,
    headers: bool,
    policy: Option<&'a str>,
    /// The body's `Content-Encoding`, if it is compressed.
    encoding: Option<&'static str>,
    /// The file's version, for `If-None-Match`.
    etag: Option<String>,
}

impl Response<'_> {
    fn head(&mut self, status: &str, content_type: &str, length: u64) -> io::Result<()> {
        self.write_head(status, &format!("Content-Type: {content_type}\r\nContent-Length: {length}\r\n"))
    }

    /// A 304: the client's copy is this version.
    fn not_modified(mut self) -> io::Result<()> {
        self.write_head("304 Not Modified", "")?;
        self.stream.flush()
    }

    fn write_head(&mut self, status: &str, entity: &str) -> io::Result<()> {
        let policy = self.policy.map(|p| format!("Content-Security-Policy: {p}\r\n")).unwrap_or_default();
        let headers = if self.headers {
            format!(
                "Cross-Origin-Opener-Policy: same-origin\r\n\
                 Cross-Origin-Embedder-Policy: require-corp\r\n\
                 Cross-Origin-Resource-Policy: same-origin\r\n\
                 {policy}"
            )
        } else {
            String::new()
        };
        let encoding = self.encoding.map(|e| format!("Content-Encoding: {e}\r\n")).unwrap_or_default();
        let etag = self.etag.as_ref().map(|tag| format!("ETag: {tag}\r\n")).unwrap_or_default();
        write!(
            self.stream,
            "HTTP/1.1 {status}\r\n\
             {entity}\
             {encoding}\
             {etag}\
             Vary: Accept-Encoding\r\n\
             {headers}\
             X-Content-Type-Options: nosniff\r\n\
             Cache-Control: no-cache\r\n\
             Connection: close\r\n\r\n"
        )
    }

    fn error(mut self, status: &str) -> io::Result<()> {
        let body = format!("{status}\n");
        self.head(status, "text/plain; charset=utf-8", body.len() as u64)?;
        self.stream.write_all(body.as_bytes())?;
        self.stream.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::io::Read;

    fn site(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-{name}-{}", std::process::id()));
        fs::create_dir_all(dir.join("pkg")).unwrap();
        fs::write(dir.join("index.html"), "<!doctype html><p>hi</p>").unwrap();
        fs::write(dir.join("pkg/app_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
        fs::write(dir.join("pkg/my file.js"), "export {}").unwrap();
        fs::write(dir.join("manifest.webmanifest"), "{}").unwrap();
        dir
    }

    fn get(url: &str, target: &str) -> String {
        let addr = url.trim_start_matches("http://").trim_end_matches('/');
        let mut stream = TcpStream::connect(addr).unwrap();
        write!(stream, "GET {target} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        String::from_utf8_lossy(&response).into_owned()
    }

    #[test]
    fn serves_files_with_isolation_headers_and_mime_types() {
        let root = site("serves");
        let url = StaticServer::bind(&root, 0).unwrap().spawn().unwrap();

        let index = get(&url, "/?bench=tiny&steps=20");
        assert!(index.starts_with("HTTP/1.1 200 OK\r\n"), "{index}");
        assert!(index.contains("Content-Type: text/html; charset=utf-8\r\n"));
        assert!(index.contains("Cross-Origin-Opener-Policy: same-origin\r\n"));
        assert!(index.contains("Cross-Origin-Embedder-Policy: require-corp\r\n"));
        assert!(index.ends_with("<p>hi</p>"));
        assert!(!index.contains("Content-Security-Policy"), "no policy unless given one: {index}");

        let wasm = get(&url, "/pkg/app_bg.wasm");
        assert!(wasm.contains("Content-Type: application/wasm\r\n"), "{wasm}");
        assert!(wasm.contains("Content-Length: 8\r\n"));

        let js = get(&url, "/pkg/my%20file.js");
        assert!(js.contains("Content-Type: text/javascript; charset=utf-8\r\n"), "{js}");
        assert!(get(&url, "/manifest.webmanifest").contains("Content-Type: application/manifest+json\r\n"));

        assert!(get(&url, "/guide/loss-becomes-nan").ends_with("<p>hi</p>"));
        assert!(get(&url, "/missing.js").starts_with("HTTP/1.1 404"));
        assert!(get(&url, "/../Cargo.toml").starts_with("HTTP/1.1 404"));
        assert!(get(&url, "/pkg/%2e%2e/%2e%2e/etc/passwd").starts_with("HTTP/1.1 404"));
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn sends_the_policy_on_every_response() {
        let root = site("policy");
        let policy = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' 'sha256-a'";
        let url = StaticServer::bind(&root, 0).unwrap().with_policy(policy.to_string()).spawn().unwrap();
        let header = format!("\r\nContent-Security-Policy: {policy}\r\n");
        for target in ["/", "/pkg/app_bg.wasm", "/pkg/my%20file.js", "/missing.js"] {
            let response = get(&url, target);
            assert_eq!(response.matches(&header).count(), 1, "{target}: {response}");
            assert!(response.contains("Cross-Origin-Embedder-Policy: require-corp\r\n"), "{target}: {response}");
        }
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn serves_the_same_files_under_the_subpath() {
        let root = site("subpath");
        let url = StaticServer::bind(&root, 0).unwrap().spawn().unwrap();
        assert!(get(&url, SUBPATH).ends_with("<p>hi</p>"));
        assert!(get(&url, &format!("{SUBPATH}?steps=20")).ends_with("<p>hi</p>"));
        let wasm = get(&url, &format!("{SUBPATH}pkg/app_bg.wasm"));
        assert!(
            wasm.starts_with("HTTP/1.1 200 OK\r\n") && wasm.contains("Content-Type: application/wasm\r\n"),
            "{wasm}"
        );
        assert!(get(&url, &format!("{SUBPATH}pkg/my%20file.js")).contains("Content-Type: text/javascript"));
        assert!(get(&url, &format!("{SUBPATH}missing.js")).starts_with("HTTP/1.1 404"));
        assert!(get(&url, &format!("{SUBPATH}../Cargo.toml")).starts_with("HTTP/1.1 404"));
        assert!(get(&url, &format!("{SUBPATH}%2e%2e/%2e%2e/etc/passwd")).starts_with("HTTP/1.1 404"));
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn serves_the_same_files_without_headers_under_plain() {
        let root = site("plain");
        let url = StaticServer::bind(&root, 0).unwrap().with_policy("default-src 'self'".to_string()).spawn().unwrap();
        for target in [PLAIN, "/plain/?steps=20", "/plain/faultline/", "/plain/guide/loss-becomes-nan"] {
            let index = get(&url, target);
            assert!(index.starts_with("HTTP/1.1 200 OK\r\n") && index.ends_with("<p>hi</p>"), "{target}: {index}");
            for header in ["Cross-Origin-", "Content-Security-Policy"] {
                assert!(!index.contains(header), "{target} has no {header} header: {index}");
            }
        }
        let wasm = get(&url, &format!("{PLAIN}pkg/app_bg.wasm"));
        assert!(wasm.contains("Content-Type: application/wasm\r\n") && !wasm.contains("Cross-Origin-"), "{wasm}");
        assert!(get(&url, &format!("{PLAIN}pkg/my%20file.js")).contains("Content-Type: text/javascript"));
        assert!(get(&url, &format!("{PLAIN}missing.js")).starts_with("HTTP/1.1 404"));
        assert!(get(&url, &format!("{PLAIN}../Cargo.toml")).starts_with("HTTP/1.1 404"));
        assert!(get(&url, &format!("{PLAIN}%2e%2e/%2e%2e/etc/passwd")).starts_with("HTTP/1.1 404"));
        let isolated = get(&url, "/plainly.html");
        assert!(
            isolated.starts_with("HTTP/1.1 404") && isolated.contains("Cross-Origin-Embedder-Policy"),
            "{isolated}"
        );
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn compresses_text_and_wasm_for_a_client_that_accepts_gzip() {
        let root = site("gzip");
        let script = "export const answer = 42;\n".repeat(200);
        fs::write(root.join("pkg/big.js"), &script).unwrap();
        let url = StaticServer::bind(&root, 0).unwrap().spawn().unwrap();
        let addr = url.trim_start_matches("http://").trim_end_matches('/');
        let fetch = |target: &str, accept: &str| {
            let mut stream = TcpStream::connect(addr).unwrap();
            write!(stream, "GET {target} HTTP/1.1\r\nHost: {addr}\r\nAccept-Encoding: {accept}\r\n\r\n").unwrap();
            let mut response = Vec::new();
            stream.read_to_end(&mut response).unwrap();
            let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            (String::from_utf8(response[..split].to_vec()).unwrap(), response[split..].to_vec())
        };
        let (head, body) = fetch("/pkg/big.js", "deflate, gzip;q=0.8, br");
        assert!(head.contains("Content-Encoding: gzip\r\n"), "{head}");
        assert!(head.contains(&format!("Content-Length: {}\r\n", body.len())), "{head}");
        assert!(body.len() < script.len() / 10, "{} bytes for {}", body.len(), script.len());
        let mut decoded = String::new();
        flate2::read::GzDecoder::new(&body[..]).read_to_string(&mut decoded).unwrap();
        assert_eq!(decoded, script);

        let (head, body) = fetch("/pkg/big.js", "identity");
        assert!(!head.contains("Content-Encoding") && body == script.as_bytes(), "{head}");

        // Each representation has its own validator; a client holding it gets a 304 with no body.
        let etag = |head: &str| head.lines().find_map(|line| line.strip_prefix("ETag: ")).unwrap().to_string();
        let (gzip_head, _) = fetch("/pkg/big.js", "gzip");
        assert_ne!(etag(&gzip_head), etag(&head));
        let mut stream = TcpStream::connect(addr).unwrap();
        write!(
            stream,
            "GET /pkg/big.js HTTP/1.1\r\nAccept-Encoding: gzip\r\nIf-None-Match: {}\r\n\r\n",
            etag(&gzip_head)
        )
        .unwrap();
        let mut revalidated = String::new();
        stream.read_to_string(&mut revalidated).unwrap();
        assert!(revalidated.starts_with("HTTP/1.1 304 Not Modified\r\n"), "{revalidated}");
        assert!(
            revalidated.ends_with("\r\n\r\n") && revalidated.contains("Cross-Origin-Embedder-Policy"),
            "{revalidated}"
        );
        let (head, _) = fetch("/pkg/app_bg.wasm", "gzip");
        assert!(head.contains("Content-Encoding: gzip\r\n"), "{head}");
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_slow_network_paces_the_bodies_it_sends() {
        let root = site("network");
        let noise: Vec<u8> = (0..40_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        fs::write(root.join("pkg/noise.bin"), &noise).unwrap();
        // 1.6 Mbit/s is 200 kB/s: 40 kB take 0.2 s, plus three round trips of 20 ms for the first response.
        let url = StaticServer::bind(&root, 0).unwrap().with_network(Network::new(1.6, 20)).spawn().unwrap();
        let started = Instant::now();
        let response = get(&url, "/pkg/noise.bin");
        let took = started.elapsed();
        assert!(response.contains("Content-Length: 40000\r\n"), "{response}");
        assert!(took >= Duration::from_millis(250), "40 kB at 200 kB/s after 60 ms took {took:?}");
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn rejects_other_methods() {
        let root = site("methods");
        let url = StaticServer::bind(&root, 0).unwrap().spawn().unwrap();
        let addr = url.trim_start_matches("http://").trim_end_matches('/');
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(b"POST / HTTP/1.1\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 405"), "{response}");
        fs::remove_dir_all(root).unwrap();
    }
}
