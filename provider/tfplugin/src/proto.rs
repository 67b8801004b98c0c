//! Generated protocol types. Only the server edge (`crate::server`) and tests use these; resource
//! code works with [`crate::Value`], [`crate::Schema`] and [`crate::Diagnostics`].

#![allow(clippy::all, clippy::pedantic, missing_docs)]

/// Terraform plugin protocol 6.
pub mod tfplugin6 {
    tonic::include_proto!("tfplugin6");
}

/// go-plugin's side services (controller, stdio).
pub mod plugin {
    tonic::include_proto!("plugin");
}
