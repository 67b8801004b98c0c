//! Fuzz targets for the provider's external decoders: DynamicValue msgpack and JSON (tfplugin),
//! runner `config.toml` (runner-chart validator), helm's release record (base64 → gzip → JSON),
//! release manifests and user `values` (YAML), and PEM certificate chains.
//!
//! - `cargo test -p fuzz-targets` replays `corpus/<target>/` and runs 2 000 mutations per target
//!   (the same every time); `FUZZ_SECONDS=n` runs each target for n seconds from a random seed.
//! - `scripts/fuzz.sh <target> [libFuzzer flags]` runs the same function under libFuzzer with
//!   coverage feedback (stable toolchain; needs a C++ compiler).

pub mod harness;
pub mod targets;
