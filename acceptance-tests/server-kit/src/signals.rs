//! For the servers' binaries: stop on SIGINT (Ctrl-C) or SIGTERM.

use tokio::runtime::Runtime;
use tokio::signal::unix::{Signal, SignalKind, signal};

/// SIGINT and SIGTERM handlers, installed by [`Termination::listen`] — call it before printing
/// a ready line, so a signal sent right after it is never the default "die at once".
pub struct Termination {
    runtime: Runtime,
    interrupt: Signal,
    terminate: Signal,
}

impl Termination {
    /// Installs the handlers now.
    pub fn listen() -> std::io::Result<Termination> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (interrupt, terminate) = {
            let _context = runtime.enter();
            (
                signal(SignalKind::interrupt())?,
                signal(SignalKind::terminate())?,
            )
        };
        Ok(Termination {
            runtime,
            interrupt,
            terminate,
        })
    }

    /// Blocks until SIGINT or SIGTERM arrives (or arrived since `listen`).
    pub fn wait(mut self) {
        let (interrupt, terminate) = (&mut self.interrupt, &mut self.terminate);
        self.runtime.block_on(async {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        });
    }
}
