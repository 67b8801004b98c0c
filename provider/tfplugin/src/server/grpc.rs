//! The gRPC edge: each handler decodes, calls the core, encodes. No rules live here.

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
}

type Rpc<T> = Result<Response<T>, Status>;
type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

fn ok<T>(message: T) -> Rpc<T> {
    Ok(Response::new(message))
}

fn diags(d: &Diagnostics) -> Vec<pb::Diagnostic> {
    convert::diagnostics(d)
}

fn one(d: Diagnostic) -> Vec<pb::Diagnostic> {
    vec![convert::diagnostic(&d)]
}

fn not_supported(feature: &str) -> Vec<pb::Diagnostic> {
    one(Diagnostic::error(
        format!("{feature} Not Supported"),
        format!("This provider does not support {}.", feature.to_lowercase()),
    ))
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
        let ty = self.core.catalog().provider_type.clone();
        let d = match decode_dynamic(&ty, r.config.as_ref(), "provider configuration") {
            Ok(config) => self.core.validate_provider(config).await,
            Err(e) => e.into(),
        };
        ok(pb::validate_provider_config::Response {
            diagnostics: diags(&d),
        })
    }

    async fn validate_resource_config(
        &self,
        request: Request<pb::validate_resource_config::Request>,
    ) -> Rpc<pb::validate_resource_config::Response> {
        let r = request.into_inner();
        let d = match self.core.resource(&r.type_name) {
            Ok(entry) => match decode_dynamic(&entry.ty, r.config.as_ref(), "configuration") {
                Ok(config) => {
                    let write_only_allowed = r
                        .client_capabilities
                        .as_ref()
                        .is_some_and(|c| c.write_only_attributes_allowed);
                    self.core
                        .validate_resource(entry, config, write_only_allowed)
                        .await
                }
                Err(e) => e.into(),
            },
            Err(e) => e.into(),
        };
        ok(pb::validate_resource_config::Response {
            diagnostics: diags(&d),
        })
    }

    async fn validate_data_resource_config(
        &self,
        request: Request<pb::validate_data_resource_config::Request>,
    ) -> Rpc<pb::validate_data_resource_config::Response> {
        let r = request.into_inner();
        let d = match self.core.data_source(&r.type_name) {
            Ok(entry) => match decode_dynamic(&entry.ty, r.config.as_ref(), "configuration") {
                Ok(config) => self.core.validate_data_source(entry, config).await,
                Err(e) => e.into(),
            },
            Err(e) => e.into(),
        };
        ok(pb::validate_data_resource_config::Response {
            diagnostics: diags(&d),
        })
    }

    async fn upgrade_resource_state(
        &self,
        request: Request<pb::upgrade_resource_state::Request>,
    ) -> Rpc<pb::upgrade_resource_state::Response> {
        let r = request.into_inner();
        let entry = match self.core.resource(&r.type_name) {
            Ok(e) => e,
            Err(e) => {
                return ok(pb::upgrade_resource_state::Response {
                    upgraded_state: None,
                    diagnostics: one(e),
                });
            }
        };
        let raw = match raw_json(r.raw_state.as_ref()) {
            Ok(raw) => raw,
            Err(e) => {
                return ok(pb::upgrade_resource_state::Response {
                    upgraded_state: None,
                    diagnostics: one(e),
                });
            }
        };
        let (state, mut d) = self.core.upgrade_state(entry, r.version, raw).await;
        let upgraded_state = encode(&entry.ty, &state, &mut d);
        ok(pb::upgrade_resource_state::Response {
            upgraded_state,
            diagnostics: diags(&d),
        })
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
        ok(pb::upgrade_resource_identity::Response {
            upgraded_identity: None,
            diagnostics: not_supported("Resource Identity"),
        })
    }

    async fn configure_provider(
        &self,
        request: Request<pb::configure_provider::Request>,
    ) -> Rpc<pb::configure_provider::Response> {
        let r = request.into_inner();
        let ty = self.core.catalog().provider_type.clone();
        let d = match decode_dynamic(&ty, r.config.as_ref(), "provider configuration") {
            Ok(config) => self.core.configure(config, r.terraform_version).await,
            Err(e) => e.into(),
        };
        ok(pb::configure_provider::Response {
            diagnostics: diags(&d),
        })
    }

    async fn read_resource(
        &self,
        request: Request<pb::read_resource::Request>,
    ) -> Rpc<pb::read_resource::Response> {
        let r = request.into_inner();
        let entry = match self.core.resource(&r.type_name) {
            Ok(e) => e,
            Err(e) => {
                return ok(pb::read_resource::Response {
                    diagnostics: one(e),
                    ..Default::default()
                });
            }
        };
        let state = match decode_dynamic(&entry.ty, r.current_state.as_ref(), "current state") {
            Ok(v) => v,
            Err(e) => {
                return ok(pb::read_resource::Response {
                    diagnostics: one(e),
                    ..Default::default()
                });
            }
        };
        let mut out = self.core.read_resource(entry, state, &r.private).await;
        let new_state = encode(&entry.ty, &out.state, &mut out.diagnostics);
        ok(pb::read_resource::Response {
            new_state,
            diagnostics: diags(&out.diagnostics),
            private: out.private,
            ..Default::default()
        })
    }

    async fn plan_resource_change(
        &self,
        request: Request<pb::plan_resource_change::Request>,
    ) -> Rpc<pb::plan_resource_change::Response> {
        let r = request.into_inner();
        let fail = |e: Diagnostic| {
            ok(pb::plan_resource_change::Response {
                diagnostics: one(e),
                ..Default::default()
            })
        };
        let entry = match self.core.resource(&r.type_name) {
            Ok(e) => e,
            Err(e) => return fail(e),
        };
        let decoded = (|| {
            Ok::<_, Diagnostic>((
                decode_dynamic(&entry.ty, r.config.as_ref(), "configuration")?,
                decode_dynamic(&entry.ty, r.prior_state.as_ref(), "prior state")?,
                decode_dynamic(
                    &entry.ty,
                    r.proposed_new_state.as_ref(),
                    "proposed new state",
                )?,
            ))
        })();
        let (config, prior, proposed) = match decoded {
            Ok(v) => v,
            Err(e) => return fail(e),
        };
        let mut out = self
            .core
            .plan_resource(entry, config, prior, proposed, &r.prior_private)
            .await;
        let planned_state = encode(&entry.ty, &out.planned_state, &mut out.diagnostics);
        ok(pb::plan_resource_change::Response {
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
    }

    async fn apply_resource_change(
        &self,
        request: Request<pb::apply_resource_change::Request>,
    ) -> Rpc<pb::apply_resource_change::Response> {
        let r = request.into_inner();
        let fail = |e: Diagnostic| {
            ok(pb::apply_resource_change::Response {
                diagnostics: one(e),
                ..Default::default()
            })
        };
        let entry = match self.core.resource(&r.type_name) {
            Ok(e) => e,
            Err(e) => return fail(e),
        };
        let decoded = (|| {
            Ok::<_, Diagnostic>((
                decode_dynamic(&entry.ty, r.config.as_ref(), "configuration")?,
                decode_dynamic(&entry.ty, r.prior_state.as_ref(), "prior state")?,
                decode_dynamic(&entry.ty, r.planned_state.as_ref(), "planned state")?,
            ))
        })();
        let (config, prior, planned) = match decoded {
            Ok(v) => v,
            Err(e) => return fail(e),
        };
        let mut out = self
            .core
            .apply_resource(entry, config, prior, planned, &r.planned_private)
            .await;
        let new_state = encode(&entry.ty, &out.state, &mut out.diagnostics);
        ok(pb::apply_resource_change::Response {
            new_state,
            private: out.private,
            diagnostics: diags(&out.diagnostics),
            ..Default::default()
        })
    }

    async fn import_resource_state(
        &self,
        request: Request<pb::import_resource_state::Request>,
    ) -> Rpc<pb::import_resource_state::Response> {
        let r = request.into_inner();
        let entry = match self.core.resource(&r.type_name) {
            Ok(e) => e,
            Err(e) => {
                return ok(pb::import_resource_state::Response {
                    diagnostics: one(e),
                    ..Default::default()
                });
            }
        };
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
        ok(pb::import_resource_state::Response {
            imported_resources,
            diagnostics: diags(&out.diagnostics),
            deferred: None,
        })
    }

    async fn move_resource_state(
        &self,
        request: Request<pb::move_resource_state::Request>,
    ) -> Rpc<pb::move_resource_state::Response> {
        let r = request.into_inner();
        let fail = |e: Diagnostic| {
            ok(pb::move_resource_state::Response {
                diagnostics: one(e),
                ..Default::default()
            })
        };
        let entry = match self.core.resource(&r.target_type_name) {
            Ok(e) => e,
            Err(e) => return fail(e),
        };
        let source_state = match raw_json(r.source_state.as_ref()).and_then(|raw| {
            serde_json::from_slice(raw).map_err(|e| {
                Diagnostic::error(
                    "Invalid Source State",
                    format!("The moved resource's state is not valid JSON: {e}."),
                )
            })
        }) {
            Ok(v) => v,
            Err(e) => return fail(e),
        };
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
        ok(pb::move_resource_state::Response {
            target_state,
            diagnostics: diags(&out.diagnostics),
            target_private: out.private,
            target_identity: None,
        })
    }

    async fn read_data_source(
        &self,
        request: Request<pb::read_data_source::Request>,
    ) -> Rpc<pb::read_data_source::Response> {
        let r = request.into_inner();
        let fail = |e: Diagnostic| {
            ok(pb::read_data_source::Response {
                diagnostics: one(e),
                ..Default::default()
            })
        };
        let entry = match self.core.data_source(&r.type_name) {
            Ok(e) => e,
            Err(e) => return fail(e),
        };
        let config = match decode_dynamic(&entry.ty, r.config.as_ref(), "configuration") {
            Ok(v) => v,
            Err(e) => return fail(e),
        };
        let (state, mut d) = self.core.read_data_source(entry, config).await;
        let state = encode(&entry.ty, &state, &mut d);
        ok(pb::read_data_source::Response {
            state,
            diagnostics: diags(&d),
            deferred: None,
        })
    }

    async fn generate_resource_config(
        &self,
        _: Request<pb::generate_resource_config::Request>,
    ) -> Rpc<pb::generate_resource_config::Response> {
        ok(pb::generate_resource_config::Response {
            config: None,
            diagnostics: not_supported("Resource Configuration Generation"),
        })
    }

    async fn validate_ephemeral_resource_config(
        &self,
        request: Request<pb::validate_ephemeral_resource_config::Request>,
    ) -> Rpc<pb::validate_ephemeral_resource_config::Response> {
        let name = request.into_inner().type_name;
        ok(pb::validate_ephemeral_resource_config::Response {
            diagnostics: one(unknown_type("Ephemeral Resource", &name)),
        })
    }

    async fn open_ephemeral_resource(
        &self,
        request: Request<pb::open_ephemeral_resource::Request>,
    ) -> Rpc<pb::open_ephemeral_resource::Response> {
        let name = request.into_inner().type_name;
        ok(pb::open_ephemeral_resource::Response {
            diagnostics: one(unknown_type("Ephemeral Resource", &name)),
            ..Default::default()
        })
    }

    async fn renew_ephemeral_resource(
        &self,
        request: Request<pb::renew_ephemeral_resource::Request>,
    ) -> Rpc<pb::renew_ephemeral_resource::Response> {
        let name = request.into_inner().type_name;
        ok(pb::renew_ephemeral_resource::Response {
            diagnostics: one(unknown_type("Ephemeral Resource", &name)),
            ..Default::default()
        })
    }

    async fn close_ephemeral_resource(
        &self,
        request: Request<pb::close_ephemeral_resource::Request>,
    ) -> Rpc<pb::close_ephemeral_resource::Response> {
        let name = request.into_inner().type_name;
        ok(pb::close_ephemeral_resource::Response {
            diagnostics: one(unknown_type("Ephemeral Resource", &name)),
        })
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
        ok(pb::validate_list_resource_config::Response {
            diagnostics: one(unknown_type("List Resource", &name)),
        })
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
        let fail = |e: FunctionError| {
            ok(pb::call_function::Response {
                result: None,
                error: Some(pb::FunctionError {
                    text: e.text,
                    function_argument: e.argument.and_then(|i| i64::try_from(i).ok()),
                }),
            })
        };
        let Some(entry) = self.core.catalog().functions.get(&r.name) else {
            return fail(FunctionError::new(format!(
                "This provider has no function {:?}.",
                r.name
            )));
        };
        let definition = &entry.definition;
        let mut arguments = Vec::with_capacity(r.arguments.len());
        for (i, dv) in r.arguments.iter().enumerate() {
            let parameter = definition
                .parameters
                .get(i)
                .or(definition.variadic.as_ref());
            let Some(parameter) = parameter else {
                return fail(FunctionError::argument(i, "Too many arguments."));
            };
            match decode_dynamic(&parameter.ty, Some(dv), "argument") {
                Ok(v) => arguments.push(v),
                Err(e) => return fail(FunctionError::argument(i, e.detail)),
            }
        }
        match self.core.call_function(&r.name, arguments).await {
            Ok(value) => match encode_dynamic(&definition.return_type, &value) {
                Ok(result) => ok(pb::call_function::Response {
                    result: Some(result),
                    error: None,
                }),
                Err(e) => fail(FunctionError::new(e.detail)),
            },
            Err(e) => fail(e),
        }
    }

    async fn validate_state_store_config(
        &self,
        _: Request<pb::validate_state_store::Request>,
    ) -> Rpc<pb::validate_state_store::Response> {
        ok(pb::validate_state_store::Response {
            diagnostics: not_supported("State Stores"),
        })
    }

    async fn configure_state_store(
        &self,
        _: Request<pb::configure_state_store::Request>,
    ) -> Rpc<pb::configure_state_store::Response> {
        ok(pb::configure_state_store::Response {
            diagnostics: not_supported("State Stores"),
        })
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
        ok(pb::write_state_bytes::Response {
            diagnostics: not_supported("State Stores"),
        })
    }

    async fn get_states(
        &self,
        _: Request<pb::get_states::Request>,
    ) -> Rpc<pb::get_states::Response> {
        ok(pb::get_states::Response {
            state_id: Vec::new(),
            diagnostics: not_supported("State Stores"),
        })
    }

    async fn delete_state(
        &self,
        _: Request<pb::delete_state::Request>,
    ) -> Rpc<pb::delete_state::Response> {
        ok(pb::delete_state::Response {
            diagnostics: not_supported("State Stores"),
        })
    }

    async fn plan_action(
        &self,
        _: Request<pb::plan_action::Request>,
    ) -> Rpc<pb::plan_action::Response> {
        ok(pb::plan_action::Response {
            diagnostics: not_supported("Actions"),
            deferred: None,
        })
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
        ok(pb::validate_action_config::Response {
            diagnostics: not_supported("Actions"),
        })
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
