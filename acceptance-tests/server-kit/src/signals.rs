//! For the servers' binaries: stop on SIGINT (Ctrl-C) or SIGTERM. Install the handlers before
//! printing a ready line, so a signal sent right after it is never the default "die at once".

use tokio::runtime::Runtime;
use tokio::signal::unix::{Signal, SignalKind, signal};

/// SIGINT and SIGTERM handlers, for a binary that already runs inside a Tokio runtime.
pub struct Signals {
    interrupt: Signal,
    terminate: Signal,
}

impl Signals {
    /// Installs the handlers now (call it inside a Tokio runtime).
    pub fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// Resolves when SIGINT or SIGTERM arrives (or arrived since `install`).
    pub async fn received(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

/// The same for a synchronous binary: the handlers and a small runtime to wait on them.
pub struct Termination {
    runtime: Runtime,
    signals: Signals,
}

impl Termination {
    /// Installs the handlers now.
    pub fn listen() -> std::io::Result<Termination> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let signals = {
            let _context = runtime.enter();
            Signals::install()?
        };
        Ok(Termination { runtime, signals })
    }

    /// Blocks until SIGINT or SIGTERM arrives (or arrived since `listen`).
    pub fn wait(mut self) {
        let signals = &mut self.signals;
        self.runtime.block_on(signals.received());
    }
}

/// The life of a synchronous test-server binary: install the signal handlers, `start` the
/// server, print its `ready` text on stdout, serve until SIGINT or SIGTERM, then drop (stop) it.
/// Exit code 1 with `name: error` on stderr when it cannot start.
pub fn serve_until_terminated<S, E: std::fmt::Display>(
    name: &str,
    start: impl FnOnce() -> Result<S, E>,
    ready: impl FnOnce(&S) -> String,
) -> std::process::ExitCode {
    use std::io::Write as _;
    // Before the ready line: a signal sent right after it must find the handlers installed.
    let termination = match Termination::listen() {
        Ok(termination) => termination,
        Err(error) => {
            eprintln!("{name}: installing signal handlers: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let server = match start() {
        Ok(server) => server,
        Err(error) => {
            eprintln!("{name}: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", ready(&server));
    let _ = out.flush();
    drop(out);
    termination.wait();
    drop(server);
    std::process::ExitCode::SUCCESS
}
