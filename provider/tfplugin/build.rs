//! Compiles the protocol definitions in `<workspace>/proto` with protox (pure Rust, so no system
//! `protoc` is needed) and generates the tonic server and client code.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_dir = manifest_dir.join("../../proto");
    let files = [
        proto_dir.join("tfplugin6.proto"),
        proto_dir.join("plugin/grpc_controller.proto"),
        proto_dir.join("plugin/grpc_stdio.proto"),
    ];
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    let descriptors = protox::compile(&files, [&proto_dir])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)?;
    Ok(())
}
