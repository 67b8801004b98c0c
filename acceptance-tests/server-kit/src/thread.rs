//! A server on its own Tokio runtime and thread, so it works from synchronous tests and from any
//! async runtime alike; asked to stop (and joined) by [`ServerThread::stop`] or on drop.

use std::future::Future;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::runtime::Runtime;
use tokio::sync::oneshot;

/// How long tasks still running at stop get before the runtime is torn down.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// A running server thread.
#[derive(Debug)]
pub struct ServerThread {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ServerThread {
    /// Runs `serve(stop)` on `runtime` in a thread called `name`. `stop` resolves when the server
    /// is asked to stop; `serve` should then return.
    pub fn spawn<F, Fut>(name: &str, runtime: Runtime, serve: F) -> std::io::Result<ServerThread>
    where
        F: FnOnce(oneshot::Receiver<()>) -> Fut + Send + 'static,
        Fut: Future<Output = ()>,
    {
        let (stop, stopped) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                runtime.block_on(serve(stopped));
                runtime.shutdown_timeout(SHUTDOWN_GRACE);
            })?;
        Ok(ServerThread {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Asks the server to stop and waits for its thread. Idempotent.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        self.stop();
    }
}
