//! `hypasis-rpc-load`: one request body POSTed over and over by many keep-alive HTTP/1.1
//! connections for a while; prints requests per second, bytes per second and latency
//! percentiles. The same client measures our JSON-RPC edge and a reference server (nginx
//! serving the same answer bytes as a static file), so the figure is their ratio, not a guess.
//! Every answer must be `200` with the same length as the first; anything else counts as an error.
//!
//! With `--walk N` each connection instead asks once for every block 1..=N in order (the body's
//! `BLOCK` replaced by the number in hex), as a client syncing a range over JSON-RPC does; an
//! answer that is not `200`, is a JSON-RPC error or a `null` result counts as an error. Several
//! comma-separated `--url`s spread the connections over them (connection i on URL i mod n). With
//! `--retry-ms` a refused block is asked again after that pause until answered (a syncing client
//! waiting for a server that is still filling its history), within `--seconds`.

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::{Request, client::conn::http1};
use hyper_util::rt::TokioIo;
use std::time::{Duration, Instant};

/// Keep-alive HTTP load with one fixed request.
#[derive(Debug, Parser)]
#[command(name = "hypasis-rpc-load", version, about)]
struct Args {
    /// Where to POST (http://host:port/path); several, comma-separated, spread the connections.
    #[arg(long, value_delimiter = ',', required = true)]
    url: Vec<String>,
    /// The request body (JSON-RPC), or @FILE to read it from a file.
    #[arg(long)]
    body: String,
    /// Connections at once, each sending its next request when the last is answered.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Send GET without a body instead of POST (a static-file server answers GET).
    #[arg(long)]
    get: bool,
    /// Send `Accept-Encoding: gzip`.
    #[arg(long)]
    gzip: bool,
    /// Each connection asks for blocks 1..=N once, in order (`BLOCK` in the body), then stops.
    #[arg(long)]
    walk: Option<u64>,
    /// With --walk, a refused block (`null` or an error) is asked again after this pause, as a
    /// syncing client does, until answered or --seconds have passed since the start; 0: counted
    /// as an error and skipped.
    #[arg(long, default_value_t = 0)]
    retry_ms: u64,
}

#[derive(Debug, Default)]
struct Tally {
    requests: u64,
    errors: u64,
    retries: u64,
    bytes: u64,
    latencies_us: Vec<u32>,
}

/// Sends requests on one connection to `url` until `until` (at least one), or, with `--walk`,
/// one per block.
async fn connection(args: &Args, url: &str, body: Bytes, until: Instant, expected_len: Option<usize>) -> Result<Tally, String> {
    let url: hyper::Uri = url.parse().map_err(|e| format!("--url: {e}"))?;
    let authority = url.authority().ok_or("--url has no host:port")?.clone();
    let stream = tokio::net::TcpStream::connect(authority.as_str()).await.map_err(|e| format!("connect {authority}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (mut sender, conn) = http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            eprintln!("connection: {e:?}");
        }
    });
    let mut tally = Tally::default();
    let template = String::from_utf8_lossy(&body).into_owned();
    let (mut block, mut again) = (0u64, false);
    loop {
        let body = match args.walk {
            Some(last) if block >= last && !again => break,
            Some(_) => {
                if !again {
                    block += 1;
                }
                Bytes::from(template.replace("BLOCK", &format!("0x{block:x}")))
            }
            None if tally.requests > 0 && Instant::now() >= until => break,
            None => body.clone(),
        };
        let path = url.path_and_query().map_or("/", |p| p.as_str());
        let mut request = Request::builder()
            .method(if args.get { "GET" } else { "POST" })
            .uri(path)
            .header("host", authority.as_str())
            .header("content-type", "application/json");
        if args.gzip {
            request = request.header("accept-encoding", "gzip");
        }
        let request = request.body(Full::new(if args.get { Bytes::new() } else { body.clone() })).map_err(|e| e.to_string())?;
        sender.ready().await.map_err(|e| format!("{e:?}"))?;
        let started = Instant::now();
        let response = sender.send_request(request).await.map_err(|e| format!("{e:?}"))?;
        let status = response.status();
        let answer = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        tally.latencies_us.push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
        tally.requests += 1;
        tally.bytes += answer.len() as u64;
        let refused = args.walk.is_some() && refused(&answer);
        again = refused && status == 200 && args.retry_ms > 0 && Instant::now() < until;
        if again {
            tally.retries += 1;
            tokio::time::sleep(Duration::from_millis(args.retry_ms)).await;
            continue;
        }
        if status != 200 || refused || expected_len.is_some_and(|l| l != answer.len()) {
            if tally.errors == 0 {
                eprintln!("answered {status} with {} bytes: {}", answer.len(), String::from_utf8_lossy(&answer[..answer.len().min(200)]));
            }
            tally.errors += 1;
        }
    }
    Ok(tally)
}

/// Whether a JSON-RPC answer refuses the request: not JSON, an `error` member, or a `null` or
/// missing `result` (a block the server does not have).
fn refused(answer: &[u8]) -> bool {
    match serde_json::from_slice::<serde_json::Value>(answer) {
        Ok(reply) => reply.get("error").is_some() || reply.get("result").is_none_or(serde_json::Value::is_null),
        Err(_) => true,
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let body = match args.body.strip_prefix('@') {
        Some(path) => std::fs::read(path).unwrap_or_else(|e| fail(&format!("--body @{path}: {e}"))),
        None => args.body.clone().into_bytes(),
    };
    let body = Bytes::from(body);
    // One request first: the answer's length is what every later answer must have (not when
    // walking: every block's answer differs).
    let expected_len = if args.walk.is_some() {
        None
    } else {
        let probe = connection(&args, &args.url[0], body.clone(), Instant::now(), None).await;
        let probe = probe.unwrap_or_else(|e| fail(&e));
        if probe.errors > 0 || probe.requests == 0 {
            fail(&format!("the first request was not answered with 200 ({} errors)", probe.errors));
        }
        usize::try_from(probe.bytes / probe.requests).ok()
    };
    let started = Instant::now();
    let until = started + Duration::from_secs(args.seconds);
    let runs = (0..args.connections.max(1)).map(|i| connection(&args, &args.url[i % args.url.len()], body.clone(), until, expected_len));
    let results = futures::future::join_all(runs).await;
    let elapsed = started.elapsed().as_secs_f64();
    let mut total = Tally::default();
    for result in results {
        let tally = result.unwrap_or_else(|e| fail(&e));
        total.requests += tally.requests;
        total.errors += tally.errors;
        total.retries += tally.retries;
        total.bytes += tally.bytes;
        total.latencies_us.extend(tally.latencies_us);
    }
    total.latencies_us.sort_unstable();
    let pct = |p: f64| total.latencies_us.get(((total.latencies_us.len() as f64 - 1.0) * p) as usize).copied().unwrap_or(0) as f64 / 1000.0;
    println!(
        "requests={} errors={} retries={} seconds={elapsed:.1} requests_per_second={:.0} mib_per_second={:.1} answer_bytes={} p50_ms={:.2} p99_ms={:.2}",
        total.requests,
        total.errors,
        total.retries,
        total.requests as f64 / elapsed,
        total.bytes as f64 / elapsed / 1_048_576.0,
        expected_len.unwrap_or(0),
        pct(0.5),
        pct(0.99),
    );
    if total.errors > 0 {
        std::process::exit(1);
    }
}

fn fail(message: &str) -> ! {
    eprintln!("hypasis-rpc-load: {message}");
    std::process::exit(69);
}
