//! The gRPC edge: each handler decodes, calls the core, encodes. No rules live here.
//!
//! A handler whose request fails to decode (unknown type, invalid value) answers with a
//! response that carries only that diagnostic: its body is an `async` block returning
//! `Result<Response, Diagnostic>`, turned into the answer once by [`respond`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

use super::convert::{self, decode_dynamic, encode_dynamic};
use super::core::{Core, unknown_type};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::function::FunctionError;
use crate::proto::tfplugin6 as pb;
use crate::proto::tfplugin6::provider_server::Provider as ProviderService;
use crate::resource::MoveStateRequest;
use crate::types::Type;
use crate::value::Value;

pub struct Grpc {
    core: Arc<Core>,
}

impl Grpc {
    pub fn new(core: Arc<Core>) -> Grpc {
        Grpc { core }
    }

    fn provider_config(&self, config: Option<&pb::DynamicValue>) -> Result<Value, Diagnostic> {
        let ty = &self.core.catalog().provider_type;
        decode_dynamic(ty, config, "provider configuration")
    }
}

type Rpc<T> = Result<Response<T>, Status>;
type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

fn ok<T>(message: T) -> Rpc<T> {
    Ok(Response::new(message))
}

/// A response with a `diagnostics` field; every other field stays empty when it fails.
trait WithDiagnostics: Default {
    fn diagnostics_mut(&mut self) -> &mut Vec<pb::Diagnostic>;

    fn with_diagnostics(diagnostics: Vec<pb::Diagnostic>) -> Self {
        let mut response = Self::default();
        *response.diagnostics_mut() = diagnostics;
        response
    }
}

macro_rules! with_diagnostics {
    ($($rpc:ident),+ $(,)?) => {$(
        impl WithDiagnostics for pb::$rpc::Response {
            fn diagnostics_mut(&mut self) -> &mut Vec<pb::Diagnostic> {
                &mut self.diagnostics
            }
        }
    )+};
}

with_diagnostics!(
    validate_provider_config,
    validate_resource_config,
    validate_data_resource_config,
    upgrade_resource_state,
    upgrade_resource_identity,
    configure_provider,
    read_resource,
    plan_resource_change,
    apply_resource_change,
    import_resource_state,
    move_resource_state,
    read_data_source,
    generate_resource_config,
    validate_ephemeral_resource_config,
    open_ephemeral_resource,
    renew_ephemeral_resource,
    close_ephemeral_resource,
    validate_list_resource_config,
    validate_state_store,
    configure_state_store,
    write_state_bytes,
    get_states,
    delete_state,
    plan_action,
    validate_action_config,
);

/// Awaits a handler body; its error becomes a response carrying only that diagnostic.
async fn respond<T: WithDiagnostics>(body: impl Future<Output = Result<T, Diagnostic>>) -> Rpc<T> {
    ok(body.await.unwrap_or_else(refusal))
}

/// A response carrying only `diagnostic`.
fn refusal<T: WithDiagnostics>(diagnostic: Diagnostic) -> T {
    T::with_diagnostics(vec![convert::diagnostic(&diagnostic)])
}

fn diags(d: &Diagnostics) -> Vec<pb::Diagnostic> {
    convert::diagnostics(d)
}

fn not_supported<T: WithDiagnostics>(feature: &str) -> Rpc<T> {
    ok(refusal(Diagnostic::error(
        format!("{feature} Not Supported"),
        format!("This provider does not support {}.", feature.to_lowercase()),
    )))
}

fn unknown_ephemeral<T: WithDiagnostics>(type_name: &str) -> Rpc<T> {
    ok(refusal(unknown_type("Ephemeral Resource", type_name)))
}

/// Encodes `value`, turning a failure into a diagnostic.
fn encode(ty: &Type, value: &Value, diagnostics: &mut Diagnostics) -> Option<pb::DynamicValue> {
    diagnostics.capture(encode_dynamic(ty, value))
}

fn raw_json(raw: Option<&pb::RawState>) -> Result<&[u8], Diagnostic> {
    match raw {
        Some(r) if !r.json.is_empty() => Ok(&r.json),
        Some(r) if !r.flatmap.is_empty() => Err(Diagnostic::error(
            "Unsupported State Format",
            "The stored state uses the legacy flatmap format, which this provider cannot read. Remove the resource from state and import it.",
        )),
        _ => Ok(b"null"),
    }
}

fn function_error(e: FunctionError) -> pb::FunctionError {
    pb::FunctionError {
        text: e.text,
        function_argument: e.argument.and_then(|i| i64::try_from(i).ok()),
    }
}

#[tonic::async_trait]
impl ProviderService for Grpc {
    async fn get_metadata(
        &self,
        _: Request<pb::get_metadata::Request>,
    ) -> Rpc<pb::get_metadata::Response> {
        let catalog = self.core.catalog();
        ok(pb::get_metadata::Response {
            server_capabilities: Some(capabilities()),
            resources: catalog
                .resources
                .keys()
                .map(|n| pb::get_metadata::ResourceMetadata {
                    type_name: n.clone(),
                })
                .collect(),
            data_sources: catalog
                .data_sources
                .keys()
                .map(|n| pb::get_metadata::DataSourceMetadata {
                    type_name: n.clone(),
                })
                .collect(),
            functions: catalog
                .functions
                .keys()
                .map(|n| pb::get_metadata::FunctionMetadata { name: n.clone() })
                .collect(),
            ..Default::default()
        })
    }

    async fn get_provider_schema(
        &self,
        _: Request<pb::get_provider_schema::Request>,
    ) -> Rpc<pb::get_provider_schema::Response> {
        let catalog = self.core.catalog();
        ok(pb::get_provider_schema::Response {
            provider: Some(convert::schema(&catalog.provider_schema)),
            resource_schemas: catalog
                .resources
                .iter()
                .map(|(n, e)| (n.clone(), convert::schema(&e.schema)))
                .collect(),
            data_source_schemas: catalog
                .data_sources
                .iter()
                .map(|(n, e)| (n.clone(), convert::schema(&e.schema)))
                .collect(),
            functions: catalog
                .functions
                .iter()
                .map(|(n, f)| (n.clone(), convert::function(&f.definition)))
                .collect(),
            server_capabilities: Some(capabilities()),
            ..Default::default()
        })
    }

    async fn validate_provider_config(
        &self,
        request: Request<pb::validate_provider_config::Request>,
    ) -> Rpc<pb::validate_provider_config::Response> {
        let r = request.into_inner();
        respond(async {
            let config = self.provider_config(r.config.as_ref())?;
            let d = self.core.validate_provider(config).await;
            Ok(pb::validate_provider_config::Response {
                diagnostics: diags(&d),
            })
        })
        .await
    }

    async fn validate_resource_config(
        &self,
        request: Request<pb::validate_resource_config::Request>,
    ) -> Rpc<pb::validate_resource_config::Response> {
        let r = request.into_inner();
        respond(async {
            let entry = self.core.resource(&r.type_name)?;
            let config = decode_dynamic(&entry.ty, r.config.as_ref(), "configuration")?;
            let write_only_allowed = r
                .client_capabilities
                .as_ref()
                .is_some_and(|c| c.write_only_attributes_allowed);
            let d = self
                .core
                .validate_resource(entry, config, write_only_allowed)
                .await;
            Ok(pb::validate_resource_config::Response {
                diagnostics: diags(&d),
            })
        })
        .await
    }

    async fn validate_data_resource_config(
        &self,
        request: Request<pb::validate_data_resource_config::Request>,
    ) -> Rpc<pb::validate_data_resource_config::Response> {
        let r = request.into_inner();
        respond(async {
            let entry = self.core.data_source(&r.type_name)?;
            let config = decode_dynamic(&entry.ty, r.config.as_ref(), "configuration")?;
            let d = self.core.validate_data_source(entry, config).await;
            Ok(pb::validate_data_resource_config::Response {
                diagnostics: diags(&d),
            })
        })
        .await
    }

    async fn upgrade_resource_state(
        &self,
        request: Request<pb::upgrade_resource_state::Request>,
    ) -> Rpc<pb::upgrade_resource_state::Response> {
        let r = request.into_inner();
        respond(async {
            let entry = self.core.resource(&r.type_name)?;
            let raw = raw_json(r.raw_state.as_ref())?;
            let (state, mut d) = self.core.upgrade_state(entry, r.version, raw).await;
            let upgraded_state = encode(&entry.ty, &state, &mut d);
            Ok(pb::upgrade_resource_state::Response {
                upgraded_state,
                diagnostics: diags(&d),
            })
        })
        .await
    }

    async fn get_resource_identity_schemas(
        &self,
        _: Request<pb::get_resource_identity_schemas::Request>,
    ) -> Rpc<pb::get_resource_identity_schemas::Response> {
        // No resource has an identity yet: an empty answer, not an error (Terraform ≥ 1.12 asks).
        ok(pb::get_resource_identity_schemas::Response::default())
    }

    async fn upgrade_resource_identity(
        &self,
        _: Request<pb::upgrade_resource_identity::Request>,
    ) -> Rpc<pb::upgrade_resource_identity::Response> {
        not_supported("Resource Identity")
    }

    async fn configure_provider(
        &self,
        request: Request<pb::configure_provider::Request>,
    ) -> Rpc<pb::configure_provider::Response> {
        let r = request.into_inner();
        respond(async {
            let config = self.provider_config(r.config.as_ref())?;
            let d = self.core.configure(config, r.terraform_version).await;
            Ok(pb::configure_provider::Response {
                diagnostics: diags(&d),
            })
        })
        .await
    }

    async fn read_resource(
        &self,
        request: Request<pb::read_resource::Request>,
    ) -> Rpc<pb::read_resource::Response> {
        let r = request.into_inner();
        respond(async {
            let entry = self.core.resource(&r.type_name)?;
            let state = decode_dynamic(&entry.ty, r.current_state.as_ref(), "current state")?;
            let mut out = self.core.read_resource(entry, state, &r.private).await;
            let new_state = encode(&entry.ty, &out.state, &mut out.diagnostics);
            Ok(pb::read_resource::Response {
                new_state,
                diagnostics: diags(&out.diagnostics),
                private: out.private,
                ..Default::default()
            })
        })
        .await
    }

    async fn plan_resource_change(
        &self,
        request: Request<pb::plan_resource_change::Request>,
    ) -> Rpc<pb::plan_resource_change::Response> {
        let r = request.into_inner();
        respond(async {
            let entry = self.core.resource(&r.type_name)?;
            let config = decode_dynamic(&entry.ty, r.config.as_ref(), "configuration")?;
            let prior = decode_dynamic(&entry.ty, r.prior_state.as_ref(), "prior state")?;
            let proposed = decode_dynamic(
                &entry.ty,
                r.proposed_new_state.as_ref(),
                "proposed new state",
            )?;
            let mut out = self
                .core
                .plan_resource(entry, config, prior, proposed, &r.prior_private)
                .await;
            let planned_state = encode(&entry.ty, &out.planned_state, &mut out.diagnostics);
            Ok(pb::plan_resource_change::Response {
                planned_state,
                requires_replace: out
                    .requires_replace
                    .iter()
                    .map(convert::attribute_path)
                    .collect(),
                planned_private: out.planned_private,
                diagnostics: diags(&out.diagnostics),
                ..Default::default()
            })
        })
        .await
    }

    async fn apply_resource_change(
        &self,
        request: Request<pb::apply_resource_change::Request>,
    ) -> Rpc<pb::apply_resource_change::Response> {
        let r = request.into_inner();
        respond(async {
            let entry = self.core.resource(&r.type_name)?;
            let config = decode_dynamic(&entry.ty, r.config.as_ref(), "configuration")?;
            let prior = decode_dynamic(&entry.ty, r.prior_state.as_ref(), "prior state")?;
            let planned = decode_dynamic(&entry.ty, r.planned_state.as_ref(), "planned state")?;
            let mut out = self
                .core
                .apply_resource(entry, config, prior, planned, &r.planned_private)
                .await;
            let new_state = encode(&entry.ty, &out.state, &mut out.diagnostics);
            Ok(pb::apply_resource_change::Response {
                new_state,
                private: out.private,
                diagnostics: diags(&out.diagnostics),
                ..Default::default()
            })
        })
        .await
    }

    async fn import_resource_state(
        &self,
        request: Request<pb::import_resource_state::Request>,
    ) -> Rpc<pb::import_resource_state::Response> {
        let r = request.into_inner();
        respond(async {
            let entry = self.core.resource(&r.type_name)?;
            let mut out = self.core.import_resource(entry, r.id).await;
            let state = encode(&entry.ty, &out.state, &mut out.diagnostics);
            let imported_resources = if out.diagnostics.has_errors() {
                Vec::new()
            } else {
                vec![pb::import_resource_state::ImportedResource {
                    type_name: r.type_name,
                    state,
                    private: out.private,
                    identity: None,
                }]
            };
            Ok(pb::import_resource_state::Response {
                imported_resources,
                diagnostics: diags(&out.diagnostics),
                deferred: None,
            })
        })
        .await
    }

    async fn move_resource_state(
        &self,
        request: Request<pb::move_resource_state::Request>,
    ) -> Rpc<pb::move_resource_state::Response> {
        let r = request.into_inner();
        respond(async {
            let entry = self.core.resource(&r.target_type_name)?;
            let source_state =
                serde_json::from_slice(raw_json(r.source_state.as_ref())?).map_err(|e| {
                    Diagnostic::error(
                        "Invalid Source State",
                        format!("The moved resource's state is not valid JSON: {e}."),
                    )
                })?;
            let request = MoveStateRequest {
                source_provider_address: r.source_provider_address,
                source_type_name: r.source_type_name,
                source_schema_version: r.source_schema_version,
                source_state,
                source_private: r.source_private,
            };
            let mut out = self.core.move_resource(entry, request).await;
            let target_state = if out.diagnostics.has_errors() {
                None
            } else {
                encode(&entry.ty, &out.state, &mut out.diagnostics)
            };
            Ok(pb::move_resource_state::Response {
                target_state,
                diagnostics: diags(&out.diagnostics),
                target_private: out.private,
                target_identity: None,
            })
        })
        .await
    }

    async fn read_data_source(
        &self,
        request: Request<pb::read_data_source::Request>,
    ) -> Rpc<pb::read_data_source::Response> {
        let r = request.into_inner();
        respond(async {
            let entry = self.core.data_source(&r.type_name)?;
            let config = decode_dynamic(&entry.ty, r.config.as_ref(), "configuration")?;
            let (state, mut d) = self.core.read_data_source(entry, config).await;
            let state = encode(&entry.ty, &state, &mut d);
            Ok(pb::read_data_source::Response {
                state,
                diagnostics: diags(&d),
                deferred: None,
            })
        })
        .await
    }

    async fn generate_resource_config(
        &self,
        _: Request<pb::generate_resource_config::Request>,
    ) -> Rpc<pb::generate_resource_config::Response> {
        not_supported("Resource Configuration Generation")
    }

    async fn validate_ephemeral_resource_config(
        &self,
        request: Request<pb::validate_ephemeral_resource_config::Request>,
    ) -> Rpc<pb::validate_ephemeral_resource_config::Response> {
        unknown_ephemeral(&request.into_inner().type_name)
    }

    async fn open_ephemeral_resource(
        &self,
        request: Request<pb::open_ephemeral_resource::Request>,
    ) -> Rpc<pb::open_ephemeral_resource::Response> {
        unknown_ephemeral(&request.into_inner().type_name)
    }

    async fn renew_ephemeral_resource(
        &self,
        request: Request<pb::renew_ephemeral_resource::Request>,
    ) -> Rpc<pb::renew_ephemeral_resource::Response> {
        unknown_ephemeral(&request.into_inner().type_name)
    }

    async fn close_ephemeral_resource(
        &self,
        request: Request<pb::close_ephemeral_resource::Request>,
    ) -> Rpc<pb::close_ephemeral_resource::Response> {
        unknown_ephemeral(&request.into_inner().type_name)
    }

    type ListResourceStream = BoxStream<pb::list_resource::Event>;

    async fn list_resource(
        &self,
        _: Request<pb::list_resource::Request>,
    ) -> Rpc<Self::ListResourceStream> {
        Err(Status::unimplemented("this provider has no list resources"))
    }

    async fn validate_list_resource_config(
        &self,
        request: Request<pb::validate_list_resource_config::Request>,
    ) -> Rpc<pb::validate_list_resource_config::Response> {
        let name = request.into_inner().type_name;
        ok(refusal(unknown_type("List Resource", &name)))
    }

    async fn get_functions(
        &self,
        _: Request<pb::get_functions::Request>,
    ) -> Rpc<pb::get_functions::Response> {
        let catalog = self.core.catalog();
        ok(pb::get_functions::Response {
            functions: catalog
                .functions
                .iter()
                .map(|(n, f)| (n.clone(), convert::function(&f.definition)))
                .collect(),
            diagnostics: Vec::new(),
        })
    }

    async fn call_function(
        &self,
        request: Request<pb::call_function::Request>,
    ) -> Rpc<pb::call_function::Response> {
        let r = request.into_inner();
        let outcome = async {
            let entry = self.core.function(&r.name)?;
            let definition = &entry.definition;
            let arguments = r
                .arguments
                .iter()
                .enumerate()
                .map(|(i, dv)| {
                    let parameter = definition
                        .parameters
                        .get(i)
                        .or(definition.variadic.as_ref())
                        .ok_or_else(|| FunctionError::argument(i, "Too many arguments."))?;
                    decode_dynamic(&parameter.ty, Some(dv), "argument")
                        .map_err(|e| FunctionError::argument(i, e.detail))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let value = self.core.call_function(entry, arguments).await?;
            encode_dynamic(&definition.return_type, &value)
                .map_err(|e| FunctionError::new(e.detail))
        };
        ok(match outcome.await {
            Ok(result) => pb::call_function::Response {
                result: Some(result),
                error: None,
            },
            Err(e) => pb::call_function::Response {
                result: None,
                error: Some(function_error(e)),
            },
        })
    }

    async fn validate_state_store_config(
        &self,
        _: Request<pb::validate_state_store::Request>,
    ) -> Rpc<pb::validate_state_store::Response> {
        not_supported("State Stores")
    }

    async fn configure_state_store(
        &self,
        _: Request<pb::configure_state_store::Request>,
    ) -> Rpc<pb::configure_state_store::Response> {
        not_supported("State Stores")
    }

    type ReadStateBytesStream = BoxStream<pb::read_state_bytes::Response>;

    async fn read_state_bytes(
        &self,
        _: Request<pb::read_state_bytes::Request>,
    ) -> Rpc<Self::ReadStateBytesStream> {
        Err(Status::unimplemented("this provider has no state stores"))
    }

    async fn write_state_bytes(
        &self,
        _: Request<Streaming<pb::write_state_bytes::RequestChunk>>,
    ) -> Rpc<pb::write_state_bytes::Response> {
        not_supported("State Stores")
    }

    async fn get_states(
        &self,
        _: Request<pb::get_states::Request>,
    ) -> Rpc<pb::get_states::Response> {
        not_supported("State Stores")
    }

    async fn delete_state(
        &self,
        _: Request<pb::delete_state::Request>,
    ) -> Rpc<pb::delete_state::Response> {
        not_supported("State Stores")
    }

    async fn plan_action(
        &self,
        _: Request<pb::plan_action::Request>,
    ) -> Rpc<pb::plan_action::Response> {
        not_supported("Actions")
    }

    type InvokeActionStream = BoxStream<pb::invoke_action::Event>;

    async fn invoke_action(
        &self,
        _: Request<pb::invoke_action::Request>,
    ) -> Rpc<Self::InvokeActionStream> {
        Err(Status::unimplemented("this provider has no actions"))
    }

    async fn validate_action_config(
        &self,
        _: Request<pb::validate_action_config::Request>,
    ) -> Rpc<pb::validate_action_config::Response> {
        not_supported("Actions")
    }

    async fn stop_provider(
        &self,
        _: Request<pb::stop_provider::Request>,
    ) -> Rpc<pb::stop_provider::Response> {
        tracing::info!("StopProvider: cancelling in-flight operations");
        self.core.stop();
        ok(pb::stop_provider::Response {
            error: String::new(),
        })
    }
}

fn capabilities() -> pb::ServerCapabilities {
    pb::ServerCapabilities {
        plan_destroy: true,
        get_provider_schema_optional: true,
        move_resource_state: true,
        generate_resource_config: false,
    }
}

#[cfg(test)]
mod tests;
