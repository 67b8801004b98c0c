//! A server thread serves from synchronous code and is stopped by `stop` or by drop.

use std::io::Read as _;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use test_server_kit::ServerThread;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A one-line TCP greeter on the thread; `finished` is set when its serve future returns.
fn greeter(finished: Arc<AtomicBool>) -> (ServerThread, SocketAddr) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("non-blocking");
    let address = listener.local_addr().expect("address");
    let server = ServerThread::spawn("kit-greeter", runtime(), move |stop| async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                accepted = listener.accept() => {
                    if let Ok((mut stream, _)) = accepted {
                        use tokio::io::AsyncWriteExt as _;
                        let _ = stream.write_all(b"hello\n").await;
                    }
                }
            }
        }
        finished.store(true, Ordering::SeqCst);
    })
    .expect("spawn");
    (server, address)
}

fn greeting(address: SocketAddr) -> String {
    let mut stream = TcpStream::connect(address).expect("connect");
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("read");
    text
}

#[test]
fn stop_ends_the_serve_future_and_joins_the_thread() {
    let finished = Arc::new(AtomicBool::new(false));
    let (mut server, address) = greeter(Arc::clone(&finished));
    assert_eq!(greeting(address), "hello\n");
    server.stop();
    assert!(finished.load(Ordering::SeqCst), "serve did not return");
    server.stop(); // idempotent
    assert!(TcpStream::connect(address).is_err(), "still listening");
}

#[test]
fn dropping_the_handle_stops_the_server() {
    let finished = Arc::new(AtomicBool::new(false));
    let (server, address) = greeter(Arc::clone(&finished));
    assert_eq!(greeting(address), "hello\n");
    drop(server);
    assert!(finished.load(Ordering::SeqCst), "serve did not return");
    assert!(TcpStream::connect(address).is_err(), "still listening");
}
