//! `gitlab-test-server --listen 127.0.0.1:0 [--seed-file seed.json] [--tls]`
//!
//! Prints the server URL on the first line of standard output and serves until killed. With
//! `--tls` the server speaks HTTPS and the CA that signed its certificate follows the URL on
//! standard output, as PEM (its last line is `-----END CERTIFICATE-----`).

use std::process::ExitCode;

use gitlab_test_server::{Seed, ServerError, TestServer};
use test_server_kit::{ArgsError, StartError};

const USAGE: &str = "usage: gitlab-test-server [--listen ADDR] [--seed-file FILE] [--tls]\n\
  --listen ADDR     address to listen on (default 127.0.0.1:0: a free port)\n\
  --seed-file FILE  JSON {\"tokens\":[…],\"projects\":[…],\"runners\":[…]} loaded at start and on reset\n\
  --tls             serve HTTPS with a certificate from a fresh CA; the CA's PEM is printed after the URL";

struct Options {
    listen: String,
    seed_file: Option<String>,
    tls: bool,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, ArgsError> {
    let mut options = Options {
        listen: "127.0.0.1:0".to_owned(),
        seed_file: None,
        tls: false,
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => options.listen = args.next().ok_or("--listen needs an address")?,
            "--seed-file" => {
                options.seed_file = Some(args.next().ok_or("--seed-file needs a path")?);
            }
            "--tls" => options.tls = true,
            "-h" | "--help" => return Err(ArgsError::Help),
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    Ok(options)
}

fn read_seed(path: &str) -> Result<Seed, ServerError> {
    let text = std::fs::read_to_string(path).map_err(|error| ServerError::SeedFile {
        path: path.to_owned(),
        reason: error.to_string(),
    })?;
    serde_json::from_str(&text).map_err(|error| ServerError::SeedFile {
        path: path.to_owned(),
        reason: error.to_string(),
    })
}

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error(transparent)]
    Server(#[from] ServerError),
    #[error(transparent)]
    Start(#[from] StartError),
}

/// The server and the runtime its tasks run on (dropped in this order: the server stops first).
struct Running {
    server: TestServer,
    _runtime: tokio::runtime::Runtime,
}

fn start(options: Options) -> Result<Running, RunError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(StartError::Runtime)?;
    let seed = match &options.seed_file {
        Some(path) => read_seed(path)?,
        None => Seed::default(),
    };
    let server = runtime.block_on(async {
        if options.tls {
            TestServer::start_tls_with(&options.listen, seed).await
        } else {
            TestServer::start_with(&options.listen, seed).await
        }
    })?;
    Ok(Running {
        server,
        _runtime: runtime,
    })
}

fn main() -> ExitCode {
    test_server_kit::binary::main(
        "gitlab-test-server",
        USAGE,
        parse_args(std::env::args().skip(1)),
        start,
        |running| match running.server.ca_pem() {
            Some(ca_pem) => format!("{}\n{}", running.server.url(), ca_pem.trim_end()),
            None => running.server.url().to_string(),
        },
    )
}
