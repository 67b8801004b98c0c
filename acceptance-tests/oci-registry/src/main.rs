//! `oci-registry-test-server`: runs the OCI registry test server as a process until killed.
//!
//! ```text
//! oci-registry-test-server [--listen ADDR] [--tls] [--absolute-locations]
//!                          [--basic USER | --bearer USER [--anonymous-pull]]
//! ```
//! With `--basic`/`--bearer` the password is read from the environment variable
//! `OCI_TEST_PASSWORD` (never from argv, which other users can see in `ps`).
//! Prints one JSON line `{"url":…,"host":…,"ca_pem":…|null}` on stdout once ready.

use std::process::ExitCode;

use test_server_kit::ArgsError;

use oci_registry_test_server::{Auth, Options, TestRegistry};

const USAGE: &str = "usage: oci-registry-test-server [--listen ADDR] [--tls] [--absolute-locations] [--basic USER | --bearer USER [--anonymous-pull]]  (password from env OCI_TEST_PASSWORD)";
const PASSWORD_ENV: &str = "OCI_TEST_PASSWORD";

fn password() -> Result<String, String> {
    std::env::var(PASSWORD_ENV)
        .ok()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| format!("{PASSWORD_ENV} must hold the password for --basic/--bearer"))
}

fn parse_args() -> Result<Options, ArgsError> {
    let mut options = Options::default();
    let mut anonymous_pull = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--listen" => {
                options.listen = value("--listen")?
                    .parse()
                    .map_err(|e| format!("--listen: {e}"))?
            }
            "--tls" => options.tls = true,
            "--absolute-locations" => options.absolute_locations = true,
            "--basic" => {
                options.auth = Auth::Basic {
                    username: value("--basic")?,
                    password: password()?,
                }
            }
            "--bearer" => {
                options.auth = Auth::Bearer {
                    username: value("--bearer")?,
                    password: password()?,
                    anonymous_pull: false,
                }
            }
            "--anonymous-pull" => anonymous_pull = true,
            "-h" | "--help" => return Err(ArgsError::Help),
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    if anonymous_pull {
        match &mut options.auth {
            Auth::Bearer {
                anonymous_pull: a, ..
            } => *a = true,
            _ => return Err("--anonymous-pull needs --bearer".into()),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    test_server_kit::binary::main(
        "oci-registry-test-server",
        USAGE,
        parse_args(),
        TestRegistry::start,
        |registry| {
            serde_json::json!({
                "url": registry.base_url(),
                "host": registry.host(),
                "ca_pem": registry.ca_pem(),
            })
            .to_string()
        },
    )
}
