//! A temporary folder with its own database, and the `flsdb` binary run inside it.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::path::PathBuf;
use std::process::{Command, Output};

pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    /// A workspace with no registry yet.
    pub fn empty() -> Workspace {
        Workspace { dir: tempfile::tempdir().expect("tempdir") }
    }

    /// A workspace whose registry holds two services, BNT and RFH.
    pub fn new() -> Workspace {
        let ws = Workspace::empty();
        ws.write(
            "services.csv",
            "service_code,name,nation,region,commissioner,parent_org,setting,expected_caseload,nhfd_hip_fractures\n\
             BNT,Barnet FLS,england,London,NCL ICB,,hospital,400,\n\
             RFH,Royal Free FLS,england,London,NCL ICB,,hospital,,90\n",
        );
        ws.ok(&["import", "services", "services.csv"]);
        ws
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, content).expect("write fixture");
        path
    }

    /// The command with this workspace's database and settings, to run or spawn.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_flsdb"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("FLSDB_DATABASE_URL", self.path("audit.sqlite"))
            .env("FLSDB_TODAY", "2024-06-30")
            .env("FLSDB_ALLOW_TEST_NHS_NUMBERS", "true");
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run flsdb")
    }

    /// Synthetic data (records.csv, services.csv, opt_outs.txt) in `data/`; returns that folder.
    pub fn synth(&self, records: usize, seed: u64) -> String {
        let data = self.path("data");
        let data = data.to_str().expect("utf-8 path").to_owned();
        self.ok(&[
            "synth",
            "--records",
            &records.to_string(),
            "--services",
            "20",
            "--seed",
            &seed.to_string(),
            "--as-of",
            "2024-06-30",
            "--out",
            &data,
        ]);
        data
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "flsdb {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The summary line scripts read: always the last line of standard output.
    pub fn summary(out: &Output) -> String {
        String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().to_owned()
    }

    pub fn exported(&self) -> Vec<String> {
        self.ok(&["export", "records"]).lines().skip(1).map(str::to_owned).collect()
    }
}
