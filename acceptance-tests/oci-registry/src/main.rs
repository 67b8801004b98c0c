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

use oci_registry_test_server::{Auth, Options, TestRegistry};

const USAGE: &str = "usage: oci-registry-test-server [--listen ADDR] [--tls] [--absolute-locations] [--basic USER | --bearer USER [--anonymous-pull]]  (password from env OCI_TEST_PASSWORD)";
const PASSWORD_ENV: &str = "OCI_TEST_PASSWORD";

fn password() -> Result<String, String> {
    std::env::var(PASSWORD_ENV)
        .ok()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| format!("{PASSWORD_ENV} must hold the password for --basic/--bearer"))
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options::default();
    let mut anonymous_pull = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
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
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if anonymous_pull {
        match &mut options.auth {
            Auth::Bearer {
                anonymous_pull: a, ..
            } => *a = true,
            _ => return Err(format!("--anonymous-pull needs --bearer\n{USAGE}")),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(o) => o,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    test_server_kit::signals::serve_until_terminated(
        "oci-registry-test-server",
        || TestRegistry::start(options),
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
