//! The edge's answers when a request cannot reach the core: unknown types and functions,
//! undecodable values, unsupported features. Handlers are called in-process, as tonic would.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::Grpc;
use crate::diagnostics::OpResult;
use crate::function::{Function, FunctionDefinition, FunctionError, Parameter};
use crate::proto::tfplugin6 as pb;
use crate::proto::tfplugin6::provider_server::Provider as ProviderService;
use crate::provider::{ConfigureRequest, ConfigureResponse, Provider};
use crate::resource::{
    CreateRequest, CreateResponse, DeleteRequest, DeleteResponse, ReadRequest, ReadResponse,
    Resource, UpdateRequest, UpdateResponse,
};
use crate::schema::{Attribute, Schema};
use crate::server::core::Core;
use crate::testing::{dynamic, value};
use crate::types::Type;
use crate::value::Value;
use crate::{Context, async_trait};

struct Sample;

#[async_trait]
impl Provider for Sample {
    fn type_name(&self) -> &'static str {
        "sample"
    }
    fn schema(&self) -> Schema {
        Schema::new()
    }
    async fn configure(&self, _: ConfigureRequest, _: &mut ConfigureResponse) -> OpResult {
        Ok(())
    }
    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![Arc::new(Item)]
    }
    fn functions(&self) -> Vec<Arc<dyn Function>> {
        vec![Arc::new(Shout)]
    }
}

/// A resource whose operations are never reached by these tests.
struct Item;

#[async_trait]
impl Resource for Item {
    fn type_name(&self) -> &'static str {
        "sample_item"
    }
    fn schema(&self) -> Schema {
        Schema::new().attribute("name", Attribute::string().required().description("n"))
    }
    async fn create(&self, _: &Context, _: CreateRequest, _: &mut CreateResponse) -> OpResult {
        Ok(())
    }
    async fn read(&self, _: &Context, _: ReadRequest, _: &mut ReadResponse) -> OpResult {
        Ok(())
    }
    async fn update(&self, _: &Context, _: UpdateRequest, _: &mut UpdateResponse) -> OpResult {
        Ok(())
    }
    async fn delete(&self, _: &Context, _: DeleteRequest, _: &mut DeleteResponse) -> OpResult {
        Ok(())
    }
}

/// `shout(text)`: the text upper-cased; an empty text is the function's own error.
struct Shout;

#[async_trait]
impl Function for Shout {
    fn name(&self) -> &'static str {
        "shout"
    }
    fn definition(&self) -> FunctionDefinition {
        FunctionDefinition::new(Type::String).parameter(Parameter::new("text", Type::String))
    }
    async fn call(&self, arguments: Vec<Value>) -> Result<Value, FunctionError> {
        match arguments.as_slice() {
            [Value::String(text)] if !text.is_empty() => Ok(text.to_uppercase().into()),
            _ => Err(FunctionError::argument(0, "The text is empty.")),
        }
    }
}

/// What a handler answered (every handler here answers; failures are in the message).
async fn answer<T>(rpc: impl Future<Output = Result<Response<T>, Status>>) -> T {
    rpc.await.unwrap().into_inner()
}

fn grpc() -> Grpc {
    Grpc::new(Arc::new(Core::new(Arc::new(Sample))))
}

/// Not msgpack of anything: a map header with no entries following.
fn garbage() -> pb::DynamicValue {
    pb::DynamicValue {
        msgpack: vec![0x85],
        json: Vec::new(),
    }
}

fn item_type() -> Type {
    Type::object([("name", Type::String)])
}

fn summaries(diagnostics: &[pb::Diagnostic]) -> Vec<&str> {
    diagnostics.iter().map(|d| d.summary.as_str()).collect()
}

#[tokio::test]
async fn unknown_resource_type_answers_with_only_that_diagnostic() {
    let grpc = grpc();
    let read = answer(grpc.read_resource(Request::new(pb::read_resource::Request {
        type_name: "sample_nope".into(),
        ..Default::default()
    })))
    .await;
    assert_eq!(summaries(&read.diagnostics), ["Unknown Resource Type"]);
    assert!(read.diagnostics[0].detail.contains("\"sample_nope\""));
    assert_eq!(read.new_state, None);
    assert!(read.private.is_empty());

    let import = answer(grpc.import_resource_state(Request::new(
        pb::import_resource_state::Request {
            type_name: "sample_nope".into(),
            id: "x".into(),
            ..Default::default()
        },
    )))
    .await;
    assert_eq!(summaries(&import.diagnostics), ["Unknown Resource Type"]);
    assert!(import.imported_resources.is_empty());

    let moved = answer(
        grpc.move_resource_state(Request::new(pb::move_resource_state::Request {
            target_type_name: "sample_nope".into(),
            ..Default::default()
        })),
    )
    .await;
    assert_eq!(summaries(&moved.diagnostics), ["Unknown Resource Type"]);
    assert_eq!(moved.target_state, None);
}

#[tokio::test]
async fn the_first_undecodable_value_is_named_in_the_diagnostic() {
    let grpc = grpc();
    let ty = item_type();
    let plan = answer(
        grpc.plan_resource_change(Request::new(pb::plan_resource_change::Request {
            type_name: "sample_item".into(),
            config: Some(dynamic(&ty, Value::object([("name", "a".into())]))),
            prior_state: Some(garbage()),
            proposed_new_state: Some(garbage()),
            ..Default::default()
        })),
    )
    .await;
    assert_eq!(
        summaries(&plan.diagnostics),
        ["Invalid Value From Terraform"]
    );
    assert!(
        plan.diagnostics[0]
            .detail
            .starts_with("The prior state sent")
    );
    assert_eq!(plan.planned_state, None);
    assert!(plan.requires_replace.is_empty());

    let apply = answer(grpc.apply_resource_change(Request::new(
        pb::apply_resource_change::Request {
            type_name: "sample_item".into(),
            planned_state: Some(garbage()),
            ..Default::default()
        },
    )))
    .await;
    assert_eq!(
        summaries(&apply.diagnostics),
        ["Invalid Value From Terraform"]
    );
    assert!(
        apply.diagnostics[0]
            .detail
            .starts_with("The planned state sent")
    );
    assert_eq!(apply.new_state, None);
}

#[tokio::test]
async fn undecodable_provider_configuration_is_a_diagnostic() {
    let grpc = grpc();
    let validate = answer(grpc.validate_provider_config(Request::new(
        pb::validate_provider_config::Request {
            config: Some(garbage()),
        },
    )))
    .await;
    assert_eq!(
        summaries(&validate.diagnostics),
        ["Invalid Value From Terraform"]
    );
    assert!(
        validate.diagnostics[0]
            .detail
            .starts_with("The provider configuration sent")
    );

    let configure = answer(grpc.configure_provider(Request::new(
        pb::configure_provider::Request {
            config: Some(garbage()),
            ..Default::default()
        },
    )))
    .await;
    assert_eq!(
        summaries(&configure.diagnostics),
        ["Invalid Value From Terraform"]
    );
}

#[tokio::test]
async fn flatmap_state_cannot_be_upgraded() {
    let upgraded = answer(grpc().upgrade_resource_state(Request::new(
        pb::upgrade_resource_state::Request {
            type_name: "sample_item".into(),
            version: 0,
            raw_state: Some(pb::RawState {
                json: Vec::new(),
                flatmap: [("name".to_string(), "a".to_string())].into(),
            }),
        },
    )))
    .await;
    assert_eq!(
        summaries(&upgraded.diagnostics),
        ["Unsupported State Format"]
    );
    assert_eq!(upgraded.upgraded_state, None);
}

#[tokio::test]
async fn moved_state_that_is_not_json_is_a_diagnostic() {
    let moved = answer(grpc().move_resource_state(Request::new(
        pb::move_resource_state::Request {
            target_type_name: "sample_item".into(),
            source_state: Some(pb::RawState {
                json: b"{not json".to_vec(),
                ..Default::default()
            }),
            ..Default::default()
        },
    )))
    .await;
    assert_eq!(summaries(&moved.diagnostics), ["Invalid Source State"]);
    assert_eq!(moved.target_state, None);
    assert!(moved.target_private.is_empty());
}

async fn call(arguments: Vec<pb::DynamicValue>, name: &str) -> pb::call_function::Response {
    let request = pb::call_function::Request {
        name: name.into(),
        arguments,
    };
    answer(grpc().call_function(Request::new(request))).await
}

#[tokio::test]
async fn function_call_returns_the_result_or_an_error_naming_the_argument() {
    let text = |s: &str| dynamic(&Type::String, s.into());

    let shouted = call(vec![text("hi")], "shout").await;
    assert_eq!(shouted.error, None);
    assert_eq!(value(&Type::String, shouted.result.as_ref()), "HI".into());

    let unknown = call(vec![text("hi")], "whisper").await;
    assert_eq!(unknown.result, None);
    assert_eq!(
        unknown.error,
        Some(pb::FunctionError {
            text: "This provider has no function \"whisper\".".into(),
            function_argument: None,
        })
    );

    let too_many = call(vec![text("a"), text("b")], "shout").await;
    assert_eq!(
        too_many.error,
        Some(pb::FunctionError {
            text: "Too many arguments.".into(),
            function_argument: Some(1),
        })
    );

    let undecodable = call(vec![garbage()], "shout").await;
    let error = undecodable.error.unwrap();
    assert_eq!(error.function_argument, Some(0));
    assert!(error.text.starts_with("The argument sent by Terraform"));

    let refused = call(vec![text("")], "shout").await;
    assert_eq!(refused.result, None);
    assert_eq!(
        refused.error,
        Some(pb::FunctionError {
            text: "The text is empty.".into(),
            function_argument: Some(0),
        })
    );
}

#[tokio::test]
async fn unsupported_features_answer_with_one_error_diagnostic() {
    let grpc = grpc();
    let states = answer(grpc.get_states(Request::new(pb::get_states::Request::default()))).await;
    assert!(states.state_id.is_empty());
    assert_eq!(states.diagnostics.len(), 1);
    let d = &states.diagnostics[0];
    assert_eq!(d.severity, pb::diagnostic::Severity::Error as i32);
    assert_eq!(d.summary, "State Stores Not Supported");
    assert_eq!(d.detail, "This provider does not support state stores.");

    let ephemeral = answer(grpc.open_ephemeral_resource(Request::new(
        pb::open_ephemeral_resource::Request {
            type_name: "sample_token".into(),
            ..Default::default()
        },
    )))
    .await;
    assert_eq!(
        summaries(&ephemeral.diagnostics),
        ["Unknown Ephemeral Resource Type"]
    );
    assert_eq!(ephemeral.result, None);
}
