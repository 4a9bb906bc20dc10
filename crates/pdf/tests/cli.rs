//! The `flsdb-pdf` binary as `flsdb report` runs it: a JSON job on standard input, the PDF on
//! standard output. (This integration test also makes `cargo test --workspace` build the binary,
//! which the `flsdb report` tests run.)

use std::io::Write;
use std::process::{Command, Stdio};

fn run(input: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flsdb-pdf"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start flsdb-pdf");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write job");
    child.wait_with_output().expect("wait for flsdb-pdf")
}

#[test]
fn a_job_on_stdin_gives_a_pdf_on_stdout() {
    let job = serde_json::json!({
        "main": "#set document(date: none)\n#set text(font: \"DejaVu Sans\")\n= Report\n#image(\"a.svg\", width: 50%)\n",
        "files": {"a.svg": "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"><rect width=\"10\" height=\"10\" fill=\"#005EB8\"/></svg>"},
        "ident": "cli test",
    });
    let out = run(&job.to_string());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.starts_with(b"%PDF-"));
}

#[test]
fn errors_go_to_stderr_with_a_failure_status() {
    let out = run("{not json");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid JSON"));
    let out = run(r##"{"main": "#let x = ("}"##);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("main.typ:1"), "{}", String::from_utf8_lossy(&out.stderr));
}
