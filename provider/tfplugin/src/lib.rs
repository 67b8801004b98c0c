//! `tfplugin`: a small framework for Terraform provider protocol 6 servers.
//!
//! - [`serve`]: the go-plugin handshake, AutoMTLS and the gRPC server (see `server`).
//! - [`Value`], [`Type`] and the codecs: Terraform values with explicit null and unknown.
//! - [`model`]: plain serde structs read from and written to values ([`TfValue`]).
//! - [`schema`]: attributes, nested attributes and blocks, described in code.
//! - [`Diagnostics`] with [`AttributePath`]s; [`validators`], [`plan_modifiers`], [`timeouts`].
//! - [`Resource`], [`DataSource`], [`Function`], [`Provider`]: what a provider implements.
//!
//! The README beside this crate walks through writing a resource.

pub mod codec;
pub mod context;
pub mod data_source;
pub mod diagnostics;
pub mod document;
pub mod duration;
pub mod function;
pub mod logging;
pub mod model;
pub mod path;
pub mod plan_modifiers;
pub mod private_state;
pub mod proto;
pub mod provider;
pub mod resource;
pub mod schema;
pub mod server;
pub mod testing;
pub mod timeouts;
pub mod types;
pub mod validators;
pub mod value;

pub use async_trait::async_trait;
pub use context::{Context, ProviderData};
pub use data_source::{DataSource, DataSourceReadRequest, DataSourceReadResponse};
pub use diagnostics::{Diagnostic, Diagnostics, OpResult, Severity};
pub use document::Document;
pub use function::{Function, FunctionDefinition, FunctionError, Parameter};
pub use model::{ModelError, TfValue};
pub use path::AttributePath;
pub use private_state::PrivateState;
pub use provider::{ConfigureRequest, ConfigureResponse, Provider};
pub use resource::{
    CreateRequest, CreateResponse, DeleteRequest, DeleteResponse, ImportRequest, ImportResponse,
    MoveStateRequest, MoveStateResponse, PlanDestroyRequest, PlanDestroyResponse, PlanRequest,
    PlanResponse, ReadRequest, ReadResponse, Resource, UpdateRequest, UpdateResponse,
    UpgradeStateRequest, UpgradeStateResponse, ValidateRequest, ValidateResponse,
};
pub use schema::{Attribute, Block, NestedBlock, Nesting, Schema};
pub use server::{ServeOptions, serve};
pub use tokio_util::sync::CancellationToken;
pub use types::Type;
pub use value::{Number, Value};
