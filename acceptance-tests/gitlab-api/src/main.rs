//! `gitlab-test-server --listen 127.0.0.1:0 [--seed-file seed.json] [--tls]`
//!
//! Prints the server URL on the first line of standard output and serves until killed. With
//! `--tls` the server speaks HTTPS and the CA that signed its certificate follows the URL on
//! standard output, as PEM (its last line is `-----END CERTIFICATE-----`).

use std::io::Write;
use std::process::ExitCode;

use gitlab_test_server::{Seed, ServerError, TestServer};

const USAGE: &str = "usage: gitlab-test-server [--listen ADDR] [--seed-file FILE] [--tls]\n\
  --listen ADDR     address to listen on (default 127.0.0.1:0: a free port)\n\
  --seed-file FILE  JSON {\"tokens\":[…],\"projects\":[…],\"runners\":[…]} loaded at start and on reset\n\
  --tls             serve HTTPS with a certificate from a fresh CA; the CA's PEM is printed after the URL";

struct Options {
    listen: String,
    seed_file: Option<String>,
    tls: bool,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
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
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
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

/// Why the binary stopped with an error.
#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error(transparent)]
    Server(#[from] ServerError),
    #[error("cannot install the SIGINT/SIGTERM handlers: {0}")]
    Signals(#[source] std::io::Error),
}

async fn run(options: Options) -> Result<(), RunError> {
    let seed = match &options.seed_file {
        Some(path) => read_seed(path)?,
        None => Seed::default(),
    };
    // Before the ready line: a signal sent right after it must find the handlers installed.
    let mut signals = test_server_kit::signals::Signals::install().map_err(RunError::Signals)?;
    let server = if options.tls {
        TestServer::start_tls_with(&options.listen, seed).await?
    } else {
        TestServer::start_with(&options.listen, seed).await?
    };
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "{}", server.url());
    if let Some(ca_pem) = server.ca_pem() {
        let _ = writeln!(stdout, "{}", ca_pem.trim_end());
    }
    let _ = stdout.flush();
    signals.received().await;
    server.shutdown().await;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(problem) => {
            if !problem.is_empty() {
                eprintln!("gitlab-test-server: {problem}");
            }
            eprintln!("{USAGE}");
            return if problem.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    match run(options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("gitlab-test-server: {error}");
            ExitCode::FAILURE
        }
    }
}
