//! `main` of a test-server binary, the same for each: arguments, start, ready line, serve until
//! SIGINT/SIGTERM; and how a start error is printed (its whole `source()` chain).

use std::error::Error;
use std::fmt::Write as _;
use std::process::ExitCode;

use crate::signals::serve_until_terminated;

/// Why the arguments do not describe a server to run.
#[derive(Debug, PartialEq, Eq)]
pub enum ArgsError {
    /// `-h`/`--help`: print the usage and exit 0.
    Help,
    /// What is wrong with the arguments: printed with the usage, exit 2.
    Invalid(String),
}

impl From<String> for ArgsError {
    fn from(problem: String) -> ArgsError {
        ArgsError::Invalid(problem)
    }
}

impl From<&str> for ArgsError {
    fn from(problem: &str) -> ArgsError {
        ArgsError::Invalid(problem.to_owned())
    }
}

/// Runs a test-server binary. Bad arguments: `name: problem` and `usage` on stderr, exit 2
/// (`--help`: the usage, exit 0). Otherwise `start` the server, print its `ready` text on stdout
/// and serve until SIGINT or SIGTERM (see [`serve_until_terminated`]); a start error prints as
/// `name: error: cause: …` and exits 1.
pub fn main<O, S, E: Error>(
    name: &str,
    usage: &str,
    args: Result<O, ArgsError>,
    start: impl FnOnce(O) -> Result<S, E>,
    ready: impl FnOnce(&S) -> String,
) -> ExitCode {
    match args {
        Ok(options) => serve_until_terminated(
            name,
            || start(options).map_err(|error| chain(&error)),
            ready,
        ),
        Err(ArgsError::Help) => {
            eprintln!("{usage}");
            ExitCode::SUCCESS
        }
        Err(ArgsError::Invalid(problem)) => {
            eprintln!("{name}: {problem}\n{usage}");
            ExitCode::from(2)
        }
    }
}

/// `error` and each of its sources, joined by `": "` (messages leave their source out, so it is
/// printed once).
pub fn chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    text
}

/// Errors starting a test server.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("binding {addr}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("creating the runtime")]
    Runtime(#[source] std::io::Error),
    #[error("creating TLS material")]
    Tls(#[from] crate::tls::TlsError),
    #[error("writing the kubeconfig {path}")]
    Kubeconfig {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("creating a temp dir")]
    TempDir(#[source] std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_error_prints_each_cause_once() {
        let error = StartError::Bind {
            addr: "127.0.0.1:1".parse().unwrap(),
            source: std::io::Error::new(std::io::ErrorKind::AddrInUse, "address in use"),
        };
        assert_eq!(chain(&error), "binding 127.0.0.1:1: address in use");
        let runtime = StartError::Runtime(std::io::Error::other("no threads"));
        assert_eq!(chain(&runtime), "creating the runtime: no threads");
    }
}
