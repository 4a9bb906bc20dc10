//! `flsdb user …`, `import records --as-user`, `flsdb serve` and `flsdb demo --no-serve`.

mod common;

use common::Workspace;
use std::io::{BufRead, Read, Write};
use std::process::Stdio;

fn add_user(ws: &Workspace, args: &[&str], password: &str) -> std::process::Output {
    let mut command = ws.command(args);
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    child.stdin.take().expect("stdin").write_all(format!("{password}\n").as_bytes()).expect("password");
    child.wait_with_output().expect("run")
}

#[test]
fn users_and_as_user_permissions() {
    let ws = Workspace::new();
    let out = add_user(
        &ws,
        &["user", "add", "ann", "--role", "clinician", "--service", "BNT", "--password-stdin"],
        "a long password",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = add_user(&ws, &["user", "add", "ann", "--role", "clinician", "--password-stdin"], "a long password");
    assert!(!out.status.success(), "a taken name is refused");
    let out = add_user(&ws, &["user", "add", "boss", "--role", "national_admin", "--password-stdin"], "short");
    assert!(!out.status.success(), "a short password is refused");
    assert!(ws.ok(&["user", "list"]).contains("ann\tclinician\tBNT\tactive"));

    ws.write("r.csv", "service_code,local_id,date_of_birth,fracture_date,fracture_site\nBNT,1,1950-01-01,2023-01-01,hip\nRFH,2,1950-01-01,2023-01-01,hip\n");
    let out = ws.run(&["import", "records", "r.csv", "--as-user", "ann"]);
    assert_eq!(out.status.code(), Some(1), "ann may not submit for RFH");
    assert_eq!(Workspace::summary(&out), "inserted 0, updated 0, unchanged 0, rejected 1, warnings 0");
    let out = ws.run(&["import", "records", "r.csv", "--as-user", "nobody"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no user nobody: create it with flsdb user add"));
    assert_eq!(
        ws.ok(&["import", "records", "r.csv"]).trim(),
        "inserted 2, updated 0, unchanged 0, rejected 0, warnings 0"
    );

    assert!(ws.ok(&["user", "disable", "ann"]).contains("disabled"));
    assert!(ws.ok(&["user", "list"]).contains("ann\tclinician\tBNT\tdisabled"));
}

#[test]
fn serve_answers_health_and_stops_on_sigterm() {
    let ws = Workspace::new();
    let mut child = ws
        .command(&["serve", "--bind", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut stderr = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    let url = loop {
        line.clear();
        assert!(stderr.read_line(&mut line).expect("read") > 0, "serve exited before it was ready");
        if let Some(at) = line.find("http://") {
            break line[at..].split_whitespace().next().expect("url").to_owned();
        }
    };
    let address = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    write!(stream, "GET /health HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    assert!(response.starts_with("HTTP/1.1 200") && response.ends_with("ok"), "{response}");
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
    let status = child.wait().expect("wait");
    assert!(status.success(), "a graceful stop exits 0: {status:?}");
}

#[test]
fn demo_creates_one_user_per_role() {
    let ws = Workspace::empty();
    let out = ws.ok(&["demo", "--dir", "demo", "--records", "400", "--no-serve"]);
    for user in ["admin", "clinician", "lead", "commissioner", "analyst"] {
        assert!(out.contains(&format!("  {user} ")), "{out}");
    }
    let listed = ws.ok(&["user", "list", "--db", ws.path("demo/flsdb.sqlite").to_str().expect("utf-8")]);
    assert_eq!(listed.lines().count(), 5, "{listed}");
}

#[test]
fn demo_writes_the_latest_complete_years_annual_report() {
    let ws = Workspace::empty();
    // FLSDB_TODAY is 2024-06-30 in the workspace: 2022 is the last year with complete follow-ups.
    let out = ws.ok(&["demo", "--dir", "demo", "--records", "400", "--no-serve"]);
    assert!(out.contains("annual report 2022: data fingerprint"), "{out}");
    let html = std::fs::read_to_string(ws.path("demo/annual-2022.html")).expect("the demo's annual report");
    assert!(html.contains("2022") && html.contains("</html>"), "{html}");
    let pdf = std::fs::read(ws.path("demo/annual-2022.pdf")).expect("the PDF next to the HTML");
    assert!(pdf.starts_with(b"%PDF-"));
}
