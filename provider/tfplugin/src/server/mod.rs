//! The plugin server: handshake, AutoMTLS, gRPC services, shutdown.
//!
//! [`serve`] is the whole `main` of a provider binary:
//!
//! ```no_run
//! # struct MyProvider;
//! # #[tfplugin::async_trait]
//! # impl tfplugin::Provider for MyProvider {
//! #     fn type_name(&self) -> &'static str { "example" }
//! #     fn schema(&self) -> tfplugin::Schema { tfplugin::Schema::new() }
//! #     async fn configure(&self, _: tfplugin::ConfigureRequest, _: &mut tfplugin::ConfigureResponse) -> tfplugin::OpResult { Ok(()) }
//! # }
//! fn main() -> std::process::ExitCode {
//!     tfplugin::serve(MyProvider, tfplugin::ServeOptions {
//!         provider_address: "registry.terraform.io/example/example",
//!         version: env!("CARGO_PKG_VERSION"),
//!     })
//! }
//! ```

mod catalog;
mod convert;
mod core;
pub mod grpc;
pub mod handshake;
mod rules;
mod side_services;
pub mod tls;

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;

use crate::proto::plugin::grpc_controller_server::GrpcControllerServer;
use crate::proto::plugin::grpc_stdio_server::GrpcStdioServer;
use crate::proto::tfplugin6::provider_server::ProviderServer;
use crate::provider::Provider;
use handshake::HandshakeEnv;
use tls::{Connection, ServerIdentity};

/// Like the Go SDK: Terraform may send large states and schemas.
const MESSAGE_LIMIT: usize = 256 * 1024 * 1024;
/// After Shutdown, how long open streams get to close before the process leaves anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);
/// A TLS handshake that takes longer is dropped.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How the binary identifies itself.
#[derive(Clone, Copy, Debug)]
pub struct ServeOptions {
    /// Full source address, e.g. `"registry.terraform.io/gitlabrunner/gitlabrunner"` (debug mode
    /// prints it in `TF_REATTACH_PROVIDERS`).
    pub provider_address: &'static str,
    /// Printed by `--version`.
    pub version: &'static str,
}

#[derive(Debug, thiserror::Error)]
enum ServeError {
    #[error(transparent)]
    Handshake(#[from] handshake::HandshakeError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("the gRPC server failed")]
    Transport(#[from] tonic::transport::Error),
    #[error("cannot write the handshake line: {0}")]
    Stdout(std::io::Error),
}

/// The tfplugin6 gRPC service for `provider`, with the protocol's message limits (used by
/// [`serve`] and by [`crate::testing`]).
pub fn provider_service(provider: Arc<dyn Provider>) -> ProviderServer<grpc::Grpc> {
    ProviderServer::new(grpc::Grpc::new(Arc::new(core::Core::new(provider))))
        .max_decoding_message_size(MESSAGE_LIMIT)
        .max_encoding_message_size(MESSAGE_LIMIT)
}

/// Runs the provider as a plugin until Terraform shuts it down. Handles `--version` and
/// `--debug` (plaintext, no cookie, prints `TF_REATTACH_PROVIDERS`).
pub fn serve(provider: impl Provider, options: ServeOptions) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Like Go's flag package: `-flag` and `--flag` both work.
    let has = |flag: &str| {
        args.iter()
            .any(|a| a.strip_prefix("--").or_else(|| a.strip_prefix('-')) == Some(flag))
    };
    if has("version") {
        println!("{} {}", options.provider_address, options.version);
        return ExitCode::SUCCESS;
    }
    let debug = has("debug");
    crate::logging::init();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)
        .and_then(|rt| rt.block_on(run(Arc::new(provider), options, debug)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Messages leave their source out; print each cause once.
            let causes = std::iter::successors(std::error::Error::source(&e), |c| c.source());
            eprintln!(
                "{e}{}",
                causes.map(|c| format!(": {c}")).collect::<String>()
            );
            ExitCode::FAILURE
        }
    }
}

async fn run(
    provider: Arc<dyn Provider>,
    options: ServeOptions,
    debug: bool,
) -> Result<(), ServeError> {
    let env = if debug {
        HandshakeEnv {
            min_port: 0,
            max_port: 0,
            client_certificate: None,
        }
    } else {
        HandshakeEnv::from_lookup(|k| std::env::var(k).ok())?
    };
    let tls_config = match &env.client_certificate {
        Some(pem) => {
            let client = tls::parse_client_certificate(pem)?;
            let identity = ServerIdentity::generate()?;
            let config = tls::server_config(&identity, client)?;
            Some((identity.certificate, Arc::new(config)))
        }
        None => None,
    };
    let listener = handshake::listen(env.min_port, env.max_port).await?;
    let address = listener.local_addr().map_err(ServeError::Stdout)?;
    let shutdown = CancellationToken::new();

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_service_status("plugin", tonic_health::ServingStatus::Serving)
        .await;
    let provider_service = provider_service(provider);

    let incoming = accept_loop(
        listener,
        tls_config.as_ref().map(|(_, c)| c.clone()),
        shutdown.clone(),
    );
    announce(
        options,
        address,
        tls_config.as_ref().map(|(cert, _)| cert.as_ref()),
        debug,
    )?;

    if debug {
        let token = shutdown.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            token.cancel();
        });
    } else {
        ignore_interrupts();
    }

    let server = Server::builder()
        .add_service(health_service)
        .add_service(GrpcControllerServer::new(side_services::Controller {
            shutdown: shutdown.clone(),
        }))
        .add_service(GrpcStdioServer::new(side_services::Stdio {
            shutdown: shutdown.clone(),
        }))
        .add_service(provider_service)
        .serve_with_incoming_shutdown(incoming, shutdown.clone().cancelled_owned());
    tokio::select! {
        result = server => result?,
        () = async { shutdown.cancelled().await; tokio::time::sleep(SHUTDOWN_GRACE).await } => {
            tracing::debug!("connections still open after shutdown; exiting anyway");
        }
    }
    Ok(())
}

fn announce(
    options: ServeOptions,
    address: SocketAddr,
    certificate: Option<&[u8]>,
    debug: bool,
) -> Result<(), ServeError> {
    let mut out = std::io::stdout().lock();
    if debug {
        writeln!(
            out,
            "Provider started in debug mode. To use it, set this in the shell that runs Terraform:\n\n\tTF_REATTACH_PROVIDERS='{}'\n",
            handshake::reattach_json(options.provider_address, address)
        )
    } else {
        writeln!(out, "{}", handshake::handshake_line(address, certificate))
    }
    .and_then(|()| out.flush())
    .map_err(ServeError::Stdout)
}

/// Accepts connections (doing the TLS handshake off the accept path) until shutdown.
fn accept_loop(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: CancellationToken,
) -> ReceiverStream<Result<Connection, std::io::Error>> {
    let (sender, receiver) = tokio::sync::mpsc::channel(16);
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                () = shutdown.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let sender = sender.clone();
            match acceptor.clone() {
                None => {
                    let _ = sender.send(Ok(Connection::Plain(stream))).await;
                }
                Some(acceptor) => {
                    tokio::spawn(async move {
                        match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                            .await
                        {
                            Ok(Ok(tls)) => {
                                let _ = sender.send(Ok(Connection::Tls(Box::new(tls)))).await;
                            }
                            Ok(Err(e)) => {
                                tracing::warn!(peer = %peer, error = %e, "TLS handshake refused")
                            }
                            Err(_) => tracing::warn!(peer = %peer, "TLS handshake timed out"),
                        }
                    });
                }
            }
        }
    });
    ReceiverStream::new(receiver)
}

/// Terraform handles Ctrl-C itself and sends StopProvider; the signal also reaches this process
/// (same process group) and must not kill it.
#[cfg(unix)]
fn ignore_interrupts() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()) {
        Ok(mut interrupts) => {
            tokio::spawn(async move {
                while interrupts.recv().await.is_some() {
                    tracing::debug!(
                        "SIGINT ignored: Terraform stops the provider with StopProvider"
                    );
                }
            });
        }
        Err(e) => tracing::warn!(error = %e, "cannot install the SIGINT handler"),
    }
}

/// Windows: Ctrl-C in the console reaches every process attached to it (Terraform and its
/// plugins), and the default handler ends the process. While a listener is registered, tokio's
/// console handler reports the event as handled, so the provider stays up and Terraform stops it
/// with StopProvider, as on Unix. Ctrl-Break is left to its default (like SIGQUIT on Unix).
#[cfg(windows)]
fn ignore_interrupts() {
    match tokio::signal::windows::ctrl_c() {
        Ok(mut interrupts) => {
            tokio::spawn(async move {
                while interrupts.recv().await.is_some() {
                    tracing::debug!(
                        "Ctrl-C ignored: Terraform stops the provider with StopProvider"
                    );
                }
            });
        }
        Err(e) => tracing::warn!(error = %e, "cannot install the Ctrl-C handler"),
    }
}
