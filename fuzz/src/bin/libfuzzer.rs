//! libFuzzer entry point: `FUZZ_TARGET=<name>` picks the target (see `scripts/fuzz.sh`).
#![no_main]

use std::sync::OnceLock;

use fuzz_targets::targets::{self, Target};
use libfuzzer_sys::fuzz_target;

fn target() -> &'static Target {
    static TARGET: OnceLock<&'static Target> = OnceLock::new();
    TARGET.get_or_init(|| {
        let name = std::env::var("FUZZ_TARGET").unwrap_or_default();
        targets::by_name(&name).unwrap_or_else(|| {
            let names: Vec<&str> = targets::ALL.iter().map(|t| t.name).collect();
            eprintln!("FUZZ_TARGET must be one of {}", names.join(", "));
            std::process::exit(2)
        })
    })
}

fuzz_target!(|data: &[u8]| (target().run)(data));
