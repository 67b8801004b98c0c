//! The server core: runs provider, resource, data source and function operations with
//! Terraform's rules around them. Works on [`Document`]s; the gRPC edge does the wire formats.

use std::sync::{Arc, Mutex, OnceLock, RwLock};

use tokio_util::sync::CancellationToken;

use super::catalog::{Catalog, DataSourceEntry, FunctionEntry, ResourceEntry};
use super::rules;
use crate::codec::json::{self, UnknownAttributes};
use crate::context::{Context, ProviderData};
use crate::data_source::{DataSourceReadRequest, DataSourceReadResponse};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::document::Document;
use crate::function::FunctionError;
use crate::path::AttributePath;
use crate::private_state::PrivateState;
use crate::provider::{ConfigureRequest, ConfigureResponse, Provider};
use crate::resource::{
    CreateRequest, CreateResponse, DeleteRequest, DeleteResponse, ImportRequest, ImportResponse,
    MoveStateRequest, MoveStateResponse, PlanDestroyRequest, PlanDestroyResponse, PlanRequest,
    PlanResponse, ReadRequest, ReadResponse, UpdateRequest, UpdateResponse, UpgradeStateRequest,
    UpgradeStateResponse, ValidateRequest, ValidateResponse,
};
use crate::value::Value;

pub struct Core {
    provider: Arc<dyn Provider>,
    catalog: OnceLock<Catalog>,
    provider_data: RwLock<Option<ProviderData>>,
    stop: Mutex<CancellationToken>,
}

/// What a plan produced.
pub struct PlanOutcome {
    pub planned_state: Value,
    pub requires_replace: Vec<AttributePath>,
    pub planned_private: Vec<u8>,
    pub diagnostics: Diagnostics,
}

/// A new state (and private state) with diagnostics.
pub struct StateOutcome {
    pub state: Value,
    pub private: Vec<u8>,
    pub diagnostics: Diagnostics,
}

pub fn unknown_type(kind: &str, name: &str) -> Diagnostic {
    Diagnostic::error(
        format!("Unknown {kind} Type"),
        format!(
            "This provider has no {} type {name:?}. Check the spelling, or upgrade the provider if the type is newer.",
            kind.to_lowercase()
        ),
    )
}

impl Core {
    pub fn new(provider: Arc<dyn Provider>) -> Core {
        Core {
            provider,
            catalog: OnceLock::new(),
            provider_data: RwLock::new(None),
            stop: Mutex::new(CancellationToken::new()),
        }
    }

    pub fn catalog(&self) -> &Catalog {
        self.catalog
            .get_or_init(|| Catalog::build(self.provider.as_ref()))
    }

    pub fn resource(&self, type_name: &str) -> Result<&ResourceEntry, Diagnostic> {
        self.catalog()
            .resources
            .get(type_name)
            .ok_or_else(|| unknown_type("Resource", type_name))
    }

    pub fn data_source(&self, type_name: &str) -> Result<&DataSourceEntry, Diagnostic> {
        self.catalog()
            .data_sources
            .get(type_name)
            .ok_or_else(|| unknown_type("Data Source", type_name))
    }

    pub fn function(&self, name: &str) -> Result<&FunctionEntry, FunctionError> {
        self.catalog()
            .functions
            .get(name)
            .ok_or_else(|| FunctionError::new(format!("This provider has no function {name:?}.")))
    }

    /// A context for one operation: the configured provider data and a token that
    /// `StopProvider` cancels.
    pub fn context(&self) -> Context {
        let data = self.provider_data.read().ok().and_then(|d| d.clone());
        let cancel = self
            .stop
            .lock()
            .map(|t| t.child_token())
            .unwrap_or_default();
        Context::new(data, cancel)
    }

    /// Cancels in-flight work. Later operations get a fresh token, as in Terraform's own SDKs.
    pub fn stop(&self) {
        if let Ok(mut token) = self.stop.lock() {
            token.cancel();
            *token = CancellationToken::new();
        }
    }

    pub async fn validate_provider(&self, config: Value) -> Diagnostics {
        let catalog = self.catalog();
        let mut diagnostics = rules::validate_attributes(&catalog.provider_schema.block, &config);
        let request = ValidateRequest {
            config: Document::new(catalog.provider_type.clone(), config),
        };
        let mut response = ValidateResponse::default();
        let result = self.provider.validate(request, &mut response).await;
        merge(&mut diagnostics, response.diagnostics, result);
        diagnostics
    }

    pub async fn configure(&self, config: Value, terraform_version: String) -> Diagnostics {
        let catalog = self.catalog();
        let request = ConfigureRequest {
            config: Document::new(catalog.provider_type.clone(), config),
            terraform_version,
        };
        let mut response = ConfigureResponse::default();
        let result = self.provider.configure(request, &mut response).await;
        let mut diagnostics = Diagnostics::new();
        merge(&mut diagnostics, response.diagnostics, result);
        if let Some(data) = response.provider_data
            && let Ok(mut slot) = self.provider_data.write()
        {
            *slot = Some(data);
        }
        diagnostics
    }

    /// `write_only_allowed`: whether the client (Terraform ≥ 1.11) can handle write-only
    /// attributes; older clients would silently drop their values.
    pub async fn validate_resource(
        &self,
        entry: &ResourceEntry,
        config: Value,
        write_only_allowed: bool,
    ) -> Diagnostics {
        let mut diagnostics = rules::validate_attributes(&entry.schema.block, &config);
        if !write_only_allowed {
            diagnostics.extend(rules::write_only_not_allowed(&entry.schema.block, &config));
        }
        let request = ValidateRequest {
            config: Document::new(entry.ty.clone(), config),
        };
        let mut response = ValidateResponse::default();
        let result = entry.resource.validate(request, &mut response).await;
        merge(&mut diagnostics, response.diagnostics, result);
        diagnostics
    }

    pub async fn validate_data_source(
        &self,
        entry: &DataSourceEntry,
        config: Value,
    ) -> Diagnostics {
        let mut diagnostics = rules::validate_attributes(&entry.schema.block, &config);
        let request = ValidateRequest {
            config: Document::new(entry.ty.clone(), config),
        };
        let mut response = ValidateResponse::default();
        let result = entry.data_source.validate(request, &mut response).await;
        merge(&mut diagnostics, response.diagnostics, result);
        diagnostics
    }

    /// Decodes stored state as the current schema, or asks the resource to upgrade an older one.
    pub async fn upgrade_state(
        &self,
        entry: &ResourceEntry,
        version: i64,
        raw_json: &[u8],
    ) -> (Value, Diagnostics) {
        let mut diagnostics = Diagnostics::new();
        let current = entry.schema.version;
        let mut state = if version == current {
            // Parsed once: decoded into the schema's type, and read for the keys it mentions.
            let decoded = json::parse(raw_json).and_then(|stored| {
                json::decode(&entry.ty, &stored, UnknownAttributes::Drop)
                    .map(|(value, dropped)| (value, dropped, stored))
            });
            match decoded {
                Ok((mut value, dropped, stored)) => {
                    rules::default_unmentioned(&entry.schema.block, &stored, &mut value);
                    if !dropped.is_empty() {
                        let names: Vec<String> = dropped.iter().map(ToString::to_string).collect();
                        tracing::debug!(
                            resource = entry.resource.type_name(),
                            dropped = names.join(", "),
                            "dropped stored attributes that are no longer in the schema"
                        );
                    }
                    value
                }
                Err(e) => {
                    diagnostics.error(
                        "Unable to Read Stored State",
                        format!("The stored state of this {} cannot be read with the current schema: {e}.", entry.resource.type_name()),
                    );
                    return (Value::Null, diagnostics);
                }
            }
        } else if version > current {
            diagnostics.error(
                "State From A Newer Provider Version",
                format!(
                    "The stored state has schema version {version}, newer than this provider's {current}. Use the provider version that wrote it (or newer)."
                ),
            );
            return (Value::Null, diagnostics);
        } else {
            let raw_state = match serde_json::from_slice(raw_json) {
                Ok(v) => v,
                Err(e) => {
                    diagnostics.error(
                        "Unable to Read Stored State",
                        format!("The stored state is not valid JSON: {e}."),
                    );
                    return (Value::Null, diagnostics);
                }
            };
            let request = UpgradeStateRequest { version, raw_state };
            let mut response = UpgradeStateResponse {
                state: Document::null(entry.ty.clone()),
                diagnostics: Diagnostics::new(),
            };
            let result = entry.resource.upgrade_state(request, &mut response).await;
            merge(&mut diagnostics, response.diagnostics, result);
            response.state.into_value()
        };
        rules::null_write_only(&entry.schema.block, &mut state);
        rules::settle_unknowns(&mut state, &mut diagnostics, entry.resource.type_name());
        (state, diagnostics)
    }

    pub async fn read_resource(
        &self,
        entry: &ResourceEntry,
        state: Value,
        private: &[u8],
    ) -> StateOutcome {
        let mut diagnostics = Diagnostics::new();
        if state.is_null() {
            return StateOutcome {
                state,
                private: private.to_vec(),
                diagnostics,
            };
        }
        let Some(private_state) = diagnostics.capture(PrivateState::from_bytes(private)) else {
            return StateOutcome {
                state,
                private: private.to_vec(),
                diagnostics,
            };
        };
        let document = Document::new(entry.ty.clone(), state);
        let request = ReadRequest {
            state: document.clone(),
            private: private_state.clone(),
        };
        let mut response = ReadResponse {
            state: document,
            private: private_state,
            diagnostics: Diagnostics::new(),
        };
        let result = entry
            .resource
            .read(&self.context(), request, &mut response)
            .await;
        merge(&mut diagnostics, response.diagnostics, result);
        let mut state = response.state.into_value();
        rules::null_write_only(&entry.schema.block, &mut state);
        rules::settle_unknowns(&mut state, &mut diagnostics, entry.resource.type_name());
        StateOutcome {
            state,
            private: response.private.to_bytes(),
            diagnostics,
        }
    }

    pub async fn plan_resource(
        &self,
        entry: &ResourceEntry,
        config: Value,
        prior: Value,
        proposed: Value,
        prior_private: &[u8],
    ) -> PlanOutcome {
        let mut diagnostics = Diagnostics::new();
        if proposed.is_null() {
            // Destroy: the planned state is null; the resource may only add diagnostics.
            if !prior.is_null()
                && let Some(private) = diagnostics.capture(PrivateState::from_bytes(prior_private))
            {
                let request = PlanDestroyRequest {
                    prior_state: Document::new(entry.ty.clone(), prior),
                    prior_private: private,
                };
                let mut response = PlanDestroyResponse::default();
                let result = entry
                    .resource
                    .plan_destroy(&self.context(), request, &mut response)
                    .await;
                merge(&mut diagnostics, response.diagnostics, result);
            }
            return PlanOutcome {
                planned_state: Value::Null,
                requires_replace: Vec::new(),
                planned_private: prior_private.to_vec(),
                diagnostics,
            };
        }
        let Some(private) = diagnostics.capture(PrivateState::from_bytes(prior_private)) else {
            return PlanOutcome {
                planned_state: proposed,
                requires_replace: Vec::new(),
                planned_private: prior_private.to_vec(),
                diagnostics,
            };
        };
        let planned = rules::plan_attributes(&entry.schema.block, &config, &prior, proposed);
        diagnostics.extend(planned.diagnostics);
        let request = PlanRequest {
            config: Document::new(entry.ty.clone(), config),
            prior_state: Document::new(entry.ty.clone(), prior),
            prior_private: private.clone(),
        };
        let mut response = PlanResponse {
            plan: Document::new(entry.ty.clone(), planned.plan),
            requires_replace: planned.requires_replace,
            private,
            diagnostics: Diagnostics::new(),
        };
        let result = entry
            .resource
            .modify_plan(&self.context(), request, &mut response)
            .await;
        merge(&mut diagnostics, response.diagnostics, result);
        let mut planned_state = response.plan.into_value();
        rules::null_write_only(&entry.schema.block, &mut planned_state);
        PlanOutcome {
            planned_state,
            requires_replace: response.requires_replace,
            planned_private: response.private.to_bytes(),
            diagnostics,
        }
    }

    pub async fn apply_resource(
        &self,
        entry: &ResourceEntry,
        config: Value,
        prior: Value,
        planned: Value,
        planned_private: &[u8],
    ) -> StateOutcome {
        let mut diagnostics = Diagnostics::new();
        let type_name = entry.resource.type_name();
        let Some(private) = diagnostics.capture(PrivateState::from_bytes(planned_private)) else {
            return StateOutcome {
                state: prior,
                private: planned_private.to_vec(),
                diagnostics,
            };
        };
        let ctx = self.context();
        let doc = |v: Value| Document::new(entry.ty.clone(), v);
        let (mut state, private) = if planned.is_null() {
            let request = DeleteRequest {
                prior_state: doc(prior.clone()),
                private,
            };
            let mut response = DeleteResponse::default();
            let result = entry.resource.delete(&ctx, request, &mut response).await;
            merge(&mut diagnostics, response.diagnostics, result);
            // A failed delete leaves the object (and its state) in place.
            let state = if diagnostics.has_errors() {
                prior
            } else {
                Value::Null
            };
            (state, PrivateState::default())
        } else if prior.is_null() {
            let request = CreateRequest {
                config: doc(config),
                plan: doc(planned),
                private: private.clone(),
            };
            let mut response = CreateResponse {
                state: Document::null(entry.ty.clone()),
                private,
                diagnostics: Diagnostics::new(),
            };
            let result = entry.resource.create(&ctx, request, &mut response).await;
            merge(&mut diagnostics, response.diagnostics, result);
            if response.state.is_null() && !diagnostics.has_errors() {
                diagnostics.error(
                    "Missing Resource State After Create",
                    format!("The {type_name} resource reported success but returned no state. Please report this issue to the provider developers."),
                );
            }
            (response.state.into_value(), response.private)
        } else {
            let request = UpdateRequest {
                config: doc(config),
                plan: doc(planned.clone()),
                prior_state: doc(prior),
                private: private.clone(),
            };
            let mut response = UpdateResponse {
                state: doc(planned),
                private,
                diagnostics: Diagnostics::new(),
            };
            let result = entry.resource.update(&ctx, request, &mut response).await;
            merge(&mut diagnostics, response.diagnostics, result);
            (response.state.into_value(), response.private)
        };
        rules::null_write_only(&entry.schema.block, &mut state);
        rules::settle_unknowns(&mut state, &mut diagnostics, type_name);
        StateOutcome {
            state,
            private: private.to_bytes(),
            diagnostics,
        }
    }

    pub async fn import_resource(&self, entry: &ResourceEntry, id: String) -> StateOutcome {
        let mut diagnostics = Diagnostics::new();
        let mut response = ImportResponse {
            state: Document::empty_object(entry.ty.clone()),
            private: PrivateState::default(),
            diagnostics: Diagnostics::new(),
        };
        let result = entry
            .resource
            .import(&self.context(), ImportRequest { id }, &mut response)
            .await;
        merge(&mut diagnostics, response.diagnostics, result);
        let mut state = response.state.into_value();
        rules::null_write_only(&entry.schema.block, &mut state);
        rules::settle_unknowns(&mut state, &mut diagnostics, entry.resource.type_name());
        StateOutcome {
            state,
            private: response.private.to_bytes(),
            diagnostics,
        }
    }

    pub async fn move_resource(
        &self,
        entry: &ResourceEntry,
        request: MoveStateRequest,
    ) -> StateOutcome {
        let mut diagnostics = Diagnostics::new();
        let mut response = MoveStateResponse {
            state: Document::null(entry.ty.clone()),
            private: PrivateState::default(),
            diagnostics: Diagnostics::new(),
        };
        let result = entry.resource.move_state(request, &mut response).await;
        merge(&mut diagnostics, response.diagnostics, result);
        let mut state = response.state.into_value();
        rules::null_write_only(&entry.schema.block, &mut state);
        rules::settle_unknowns(&mut state, &mut diagnostics, entry.resource.type_name());
        StateOutcome {
            state,
            private: response.private.to_bytes(),
            diagnostics,
        }
    }

    pub async fn read_data_source(
        &self,
        entry: &DataSourceEntry,
        config: Value,
    ) -> (Value, Diagnostics) {
        let mut diagnostics = Diagnostics::new();
        let document = Document::new(entry.ty.clone(), config);
        let mut response = DataSourceReadResponse {
            state: document.clone(),
            diagnostics: Diagnostics::new(),
        };
        let request = DataSourceReadRequest { config: document };
        let result = entry
            .data_source
            .read(&self.context(), request, &mut response)
            .await;
        merge(&mut diagnostics, response.diagnostics, result);
        let mut state = response.state.into_value();
        rules::settle_unknowns(&mut state, &mut diagnostics, entry.data_source.type_name());
        (state, diagnostics)
    }

    pub async fn call_function(
        &self,
        entry: &FunctionEntry,
        arguments: Vec<Value>,
    ) -> Result<Value, FunctionError> {
        entry.function.call(arguments).await
    }
}

/// Adds an operation's diagnostics and the errors it returned.
fn merge(into: &mut Diagnostics, response: Diagnostics, result: Result<(), Diagnostics>) {
    into.extend(response);
    if let Err(e) = result {
        into.extend(e);
    }
}
