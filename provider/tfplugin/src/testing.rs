//! Driving a provider over real gRPC in-process, for tests of resources and of the framework:
//! a plaintext server on `127.0.0.1:0` and helpers for DynamicValues.
//!
//! ```no_run
//! # async fn example(provider: impl tfplugin::Provider) {
//! use tfplugin::proto::tfplugin6 as pb;
//! let server = tfplugin::testing::TestServer::start(provider).await;
//! let mut client = server.client().await;
//! let schema = client.get_provider_schema(pb::get_provider_schema::Request {}).await.unwrap();
//! # }
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Endpoint, Server};

use crate::codec::msgpack;
use crate::proto::tfplugin6::DynamicValue;
use crate::proto::tfplugin6::provider_client::ProviderClient;
use crate::provider::Provider;
use crate::types::Type;
use crate::value::Value;

/// A provider served in-process until dropped.
pub struct TestServer {
    pub address: SocketAddr,
    shutdown: CancellationToken,
}

impl TestServer {
    /// Serves `provider` (plaintext gRPC, same handlers and rules as the real plugin).
    ///
    /// # Panics
    /// When no loopback port can be bound (tests only).
    pub async fn start(provider: impl Provider) -> TestServer {
        #[allow(clippy::expect_used)]
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        #[allow(clippy::expect_used)]
        let address = listener.local_addr().expect("local address");
        let shutdown = CancellationToken::new();
        let service = crate::server::provider_service(Arc::new(provider));
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let _ = Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(
                    TcpListenerStream::new(listener),
                    stop.cancelled_owned(),
                )
                .await;
        });
        TestServer { address, shutdown }
    }

    /// A connected client.
    ///
    /// # Panics
    /// When the server cannot be reached (tests only).
    pub async fn client(&self) -> ProviderClient<Channel> {
        #[allow(clippy::expect_used)]
        let channel = Endpoint::from_shared(format!("http://{}", self.address))
            .expect("endpoint")
            .connect()
            .await
            .expect("connect to the test server");
        ProviderClient::new(channel)
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Encodes `value` (conformed to `ty`) as a msgpack DynamicValue.
///
/// # Panics
/// When the value does not fit the type (tests only).
pub fn dynamic(ty: &Type, value: Value) -> DynamicValue {
    #[allow(clippy::expect_used)]
    let value = value.conform(ty).expect("value fits the type");
    #[allow(clippy::expect_used)]
    let msgpack = msgpack::encode(ty, &value).expect("encodable value");
    DynamicValue {
        msgpack,
        json: Vec::new(),
    }
}

/// Decodes a DynamicValue (missing means null).
///
/// # Panics
/// When the bytes do not decode as `ty` (tests only).
pub fn value(ty: &Type, dv: Option<&DynamicValue>) -> Value {
    match dv {
        None => Value::Null,
        #[allow(clippy::expect_used)]
        Some(dv) => msgpack::decode(ty, &dv.msgpack).expect("decodable DynamicValue"),
    }
}
