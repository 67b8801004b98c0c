//! Every fuzz target: its seed corpus, then mutations (see `fuzz_targets::harness`). A crash is
//! saved under `target/fuzz-crashes/` and fails the test with the command that reproduces it.

use std::path::Path;

use fuzz_targets::harness::{self, Settings};
use fuzz_targets::targets;

fn fuzz(name: &str) {
    let target = targets::by_name(name).expect("a target of that name");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seeds = harness::load_corpus(&root.join("corpus").join(name));
    assert!(!seeds.is_empty(), "fuzz/corpus/{name}/ holds no seeds");
    let crash_dir = root.join("../target/fuzz-crashes");
    match harness::run(target, &seeds, &crash_dir, Settings::from_env()) {
        Ok(report) => {
            assert!(report.runs > 0, "{report}");
            eprintln!("{report}");
        }
        Err(crash) => panic!("{crash}"),
    }
}

#[test]
fn msgpack() {
    fuzz("msgpack");
}

#[test]
fn json() {
    fuzz("json");
}

#[test]
fn runner_toml() {
    fuzz("runner_toml");
}

#[test]
fn release_record() {
    fuzz("release_record");
}

#[test]
fn manifest_yaml() {
    fuzz("manifest_yaml");
}

#[test]
fn values_yaml() {
    fuzz("values_yaml");
}

#[test]
fn pem() {
    fuzz("pem");
}
