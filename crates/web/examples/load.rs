//! A small HTTP load client for `scripts/load.sh`: logs in N separate sessions (one user, N
//! cookies), then keeps N keep-alive connections busy requesting one page for a fixed time, each
//! with its own session, and prints latency percentiles, throughput and errors.
//!
//! `cargo run --release -p flsdb-web --example load -- --url http://127.0.0.1:8080 --user lead \
//!  --password-env LOAD_PASSWORD --path /dashboard/service --sessions 200 --seconds 30`

use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Options {
    host: String,
    user: String,
    password: String,
    path: String,
    sessions: usize,
    seconds: u64,
    /// Pause between a session's requests (0: as fast as answers come).
    think_ms: u64,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        host: "127.0.0.1:8080".into(),
        user: "lead".into(),
        password: String::new(),
        path: "/dashboard/service".into(),
        sessions: 200,
        seconds: 30,
        think_ms: 0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => o.host = value()?.trim_start_matches("http://").trim_end_matches('/').to_owned(),
            "--user" => o.user = value()?,
            "--password-env" => {
                let name = value()?;
                o.password = std::env::var(&name).map_err(|_| format!("environment variable {name} is not set"))?;
            }
            "--path" => o.path = value()?,
            "--sessions" => o.sessions = value()?.parse().map_err(|e| format!("--sessions: {e}"))?,
            "--seconds" => o.seconds = value()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--think-ms" => o.think_ms = value()?.parse().map_err(|e| format!("--think-ms: {e}"))?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if o.password.is_empty() {
        return Err("give the password in an environment variable: --password-env NAME".into());
    }
    Ok(o)
}

struct Answer {
    status: u16,
    headers: String,
    body_len: usize,
    close: bool,
}

/// Reads one HTTP/1.1 response (Content-Length or chunked body) from a keep-alive connection.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Answer> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
    buf.clear();
    let mut chunk = [0u8; 64 * 1024];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(bad("connection closed before the response head"));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| bad("no status"))?;
    let header = |name: &str| head.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_owned());
    let close = header("connection:").is_some_and(|v| v == "close");
    let mut body = buf.split_off(head_end);
    let body_len = if let Some(len) = header("content-length:") {
        let len: usize = len.parse().map_err(|_| bad("bad content-length"))?;
        while body.len() < len {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(bad("connection closed in the body"));
            }
            body.extend_from_slice(&chunk[..n]);
        }
        len
    } else if header("transfer-encoding:").is_some_and(|v| v.contains("chunked")) {
        // Walk the chunks, reading more as needed, until the zero-size chunk and its CRLF.
        let mut at = 0;
        let mut total = 0;
        loop {
            let line_end = loop {
                if let Some(i) = body[at..].windows(2).position(|w| w == b"\r\n") {
                    break at + i;
                }
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Err(bad("connection closed in a chunk"));
                }
                body.extend_from_slice(&chunk[..n]);
            };
            let size_text = String::from_utf8_lossy(&body[at..line_end]).trim().to_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or(""), 16)
                .map_err(|_| bad("bad chunk size"))?;
            let need = line_end + 2 + size + 2;
            while body.len() < need {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Err(bad("connection closed in a chunk"));
                }
                body.extend_from_slice(&chunk[..n]);
            }
            total += size;
            at = need;
            if size == 0 {
                break total;
            }
        }
    } else {
        0
    };
    let headers = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    Ok(Answer { status, headers, body_len, close })
}

async fn request(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    host: &str,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    body: &str,
) -> std::io::Result<Answer> {
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
    if let Some(c) = cookie {
        text.push_str(&format!("Cookie: {c}\r\n"));
    }
    if method == "POST" {
        text.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
    }
    text.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(text.as_bytes()).await?;
    read_response(stream, buf).await
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

async fn login(o: &Options) -> Result<String, String> {
    let mut stream = TcpStream::connect(&o.host).await.map_err(|e| format!("connect {}: {e}", o.host))?;
    let mut buf = Vec::new();
    let body = format!("name={}&password={}", urlencode(&o.user), urlencode(&o.password));
    let answer = request(&mut stream, &mut buf, &o.host, "POST", "/login", None, &body)
        .await
        .map_err(|e| format!("login: {e}"))?;
    if answer.status != 303 {
        return Err(format!("login as {} answered {}", o.user, answer.status));
    }
    answer
        .headers
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.trim().split(';').next().unwrap_or("").to_owned())
        .next()
        .ok_or_else(|| "no session cookie".to_owned())
}

#[derive(Default)]
struct Tally {
    micros: Vec<u64>,
    errors: u64,
    non_200: u64,
    bytes: u64,
}

async fn session(o: std::sync::Arc<Options>, cookie: String, until: Instant) -> Tally {
    let mut t = Tally::default();
    let mut buf = Vec::with_capacity(512 * 1024);
    let mut stream: Option<TcpStream> = None;
    while Instant::now() < until {
        if stream.is_none() {
            match TcpStream::connect(&o.host).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    stream = Some(s);
                }
                Err(_) => {
                    t.errors += 1;
                    continue;
                }
            }
        }
        let Some(s) = stream.as_mut() else { continue };
        let started = Instant::now();
        match request(s, &mut buf, &o.host, "GET", &o.path, Some(&cookie), "").await {
            Ok(a) => {
                t.micros.push(started.elapsed().as_micros() as u64);
                t.bytes += a.body_len as u64;
                if a.status != 200 {
                    t.non_200 += 1;
                }
                if a.close {
                    stream = None;
                }
            }
            Err(_) => {
                t.errors += 1;
                stream = None;
            }
        }
        if o.think_ms > 0 {
            tokio::time::sleep(Duration::from_millis(o.think_ms)).await;
        }
    }
    t
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let o = match options() {
        Ok(o) => std::sync::Arc::new(o),
        Err(e) => {
            eprintln!("load: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    // Sessions first (argon2 at login is deliberately slow), one after another.
    let mut cookies = Vec::with_capacity(o.sessions);
    for _ in 0..o.sessions {
        match login(&o).await {
            Ok(c) => cookies.push(c),
            Err(e) => {
                eprintln!("load: {e}");
                return std::process::ExitCode::from(1);
            }
        }
    }
    eprintln!("load: {} sessions logged in as {}", cookies.len(), o.user);
    // Warm-up: one request fills the server's KPI cache for this page.
    let warm = Instant::now();
    {
        let mut stream = match TcpStream::connect(&o.host).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("load: {e}");
                return std::process::ExitCode::from(1);
            }
        };
        let mut buf = Vec::new();
        match request(&mut stream, &mut buf, &o.host, "GET", &o.path, Some(&cookies[0]), "").await {
            Ok(a) if a.status == 200 => {
                eprintln!("load: warm-up {} ({} bytes) in {} ms", o.path, a.body_len, warm.elapsed().as_millis())
            }
            Ok(a) => {
                eprintln!("load: warm-up {} answered {}", o.path, a.status);
                return std::process::ExitCode::from(1);
            }
            Err(e) => {
                eprintln!("load: warm-up failed: {e}");
                return std::process::ExitCode::from(1);
            }
        }
    }
    let started = Instant::now();
    let until = started + Duration::from_secs(o.seconds);
    let tasks: Vec<_> = cookies.into_iter().map(|c| tokio::spawn(session(o.clone(), c, until))).collect();
    let mut all = Tally::default();
    for t in tasks {
        if let Ok(t) = t.await {
            all.micros.extend(t.micros);
            all.errors += t.errors;
            all.non_200 += t.non_200;
            all.bytes += t.bytes;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.micros.sort_unstable();
    let n = all.micros.len();
    println!("path           {}", o.path);
    println!("sessions       {}", o.sessions);
    println!("think time     {} ms", o.think_ms);
    println!("duration       {elapsed:.1} s");
    println!("requests       {n} ({:.0}/s)", n as f64 / elapsed);
    println!("bytes/response {}", if n > 0 { all.bytes / n as u64 } else { 0 });
    println!(
        "latency ms     p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
        percentile(&all.micros, 50.0),
        percentile(&all.micros, 90.0),
        percentile(&all.micros, 99.0),
        percentile(&all.micros, 100.0)
    );
    println!("errors         {} (connection) + {} (status not 200)", all.errors, all.non_200);
    if all.errors + all.non_200 > 0 { std::process::ExitCode::from(1) } else { std::process::ExitCode::SUCCESS }
}
