//! A toy resource driven over real gRPC (in-process): the server's rules around create, read,
//! update, delete, import, state upgrade and validation, as Terraform would exercise them.

use serde::{Deserialize, Serialize};
use tfplugin::plan_modifiers::{RequiresReplace, UseStateForUnknown};
use tfplugin::proto::tfplugin6 as pb;
use tfplugin::testing::{TestServer, dynamic, value};
use tfplugin::timeouts::{self, Operation};
use tfplugin::{
    Attribute, AttributePath, Block, ConfigureRequest, ConfigureResponse, Context, CreateRequest,
    CreateResponse, DeleteRequest, DeleteResponse, Diagnostic, ImportRequest, ImportResponse,
    NestedBlock, OpResult, PlanDestroyRequest, PlanDestroyResponse, Provider, ReadRequest,
    ReadResponse, Resource, Schema, TfValue, Type, UpdateRequest, UpdateResponse,
    UpgradeStateRequest, UpgradeStateResponse, Value, async_trait, validators,
};

struct Toy;

#[derive(Debug)]
struct ToyConfig {
    greeting: String,
}

#[async_trait]
impl Provider for Toy {
    fn type_name(&self) -> &'static str {
        "example"
    }
    fn schema(&self) -> Schema {
        Schema::new().attribute("greeting", Attribute::string().optional().description("g"))
    }
    async fn configure(&self, req: ConfigureRequest, resp: &mut ConfigureResponse) -> OpResult {
        let greeting: Option<String> = req.config.get_attr(&AttributePath::new("greeting"))?;
        resp.set_provider_data(ToyConfig {
            greeting: greeting.unwrap_or_else(|| "hello".into()),
        });
        Ok(())
    }
    fn resources(&self) -> Vec<std::sync::Arc<dyn Resource>> {
        vec![std::sync::Arc::new(Thing)]
    }
}

struct Thing;

#[derive(Serialize, Deserialize)]
struct Setting {
    key: String,
    digest: TfValue<String>,
}

#[derive(Serialize, Deserialize)]
struct ThingModel {
    id: TfValue<String>,
    name: String,
    size: TfValue<i64>,
    status: TfValue<String>,
    settings: Vec<Setting>,
}

#[async_trait]
impl Resource for Thing {
    fn type_name(&self) -> &'static str {
        "example_thing"
    }

    fn schema(&self) -> Schema {
        Schema::new()
            .version(1)
            .attribute(
                "id",
                Attribute::string()
                    .computed()
                    .plan_modifier(UseStateForUnknown)
                    .description("id"),
            )
            .attribute(
                "name",
                Attribute::string()
                    .required()
                    .validator(validators::string_length(1, 10))
                    .plan_modifier(RequiresReplace)
                    .description("name"),
            )
            .attribute(
                "size",
                Attribute::int64()
                    .optional()
                    .default(1_i64)
                    .description("size"),
            )
            .attribute(
                "password",
                Attribute::string()
                    .optional()
                    .sensitive()
                    .write_only()
                    .description("pw"),
            )
            .attribute(
                "status",
                Attribute::string().computed().description("status"),
            )
            .block(
                "settings",
                NestedBlock::list(
                    Block::new()
                        .attribute("key", Attribute::string().required().description("k"))
                        .attribute("digest", Attribute::string().computed().description("d")),
                ),
            )
            .block(timeouts::BLOCK_NAME, timeouts::block(&[Operation::Create]))
    }

    async fn create(
        &self,
        ctx: &Context,
        req: CreateRequest,
        resp: &mut CreateResponse,
    ) -> OpResult {
        let config = ctx.provider::<ToyConfig>()?;
        let password: Option<String> = req.config.get_attr(&AttributePath::new("password"))?;
        assert_eq!(
            password.as_deref(),
            Some("s3cret"),
            "write-only value is in the config"
        );
        assert_eq!(
            req.plan.attr(&AttributePath::new("password")),
            Some(&Value::Null)
        );
        let mut m: ThingModel = req.plan.get()?;
        m.id = TfValue::Known(format!("{}-{}", config.greeting, m.name));
        m.status = TfValue::Known("ready".into());
        for s in &mut m.settings {
            s.digest = TfValue::Known(format!("sha:{}", s.key));
        }
        resp.state.set(&m)?;
        resp.private.set("created", &true)?;
        Ok(())
    }

    async fn read(&self, _ctx: &Context, req: ReadRequest, resp: &mut ReadResponse) -> OpResult {
        let m: ThingModel = req.state.get()?;
        assert_eq!(req.private.get::<bool>("created")?, Some(true));
        if m.name == "gone" {
            resp.state.remove();
        }
        Ok(())
    }

    async fn update(
        &self,
        _ctx: &Context,
        _req: UpdateRequest,
        resp: &mut UpdateResponse,
    ) -> OpResult {
        resp.state
            .set_attr(&AttributePath::new("status"), "updated")?;
        Ok(())
    }

    async fn delete(
        &self,
        _ctx: &Context,
        _req: DeleteRequest,
        _resp: &mut DeleteResponse,
    ) -> OpResult {
        Ok(())
    }

    async fn plan_destroy(
        &self,
        _ctx: &Context,
        req: PlanDestroyRequest,
        resp: &mut PlanDestroyResponse,
    ) -> OpResult {
        let name: String = req.prior_state.get_attr(&AttributePath::new("name"))?;
        resp.diagnostics.push(Diagnostic::warning(
            "Destroying",
            format!("{name} goes away"),
        ));
        Ok(())
    }

    async fn import(
        &self,
        _ctx: &Context,
        req: ImportRequest,
        resp: &mut ImportResponse,
    ) -> OpResult {
        let Some((_, name)) = req.id.split_once('/') else {
            return Err(Diagnostic::error(
                "Invalid Import ID",
                format!("Expected \"namespace/name\", got {:?}.", req.id),
            )
            .into());
        };
        resp.state.set_attr(&AttributePath::new("id"), &req.id)?;
        resp.state.set_attr(&AttributePath::new("name"), name)?;
        Ok(())
    }

    async fn upgrade_state(
        &self,
        req: UpgradeStateRequest,
        resp: &mut UpgradeStateResponse,
    ) -> OpResult {
        assert_eq!(req.version, 0);
        let title = req.raw_state["title"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        resp.state.set(&ThingModel {
            id: TfValue::Known(req.raw_state["id"].as_str().unwrap_or_default().to_owned()),
            name: title,
            size: TfValue::Known(1),
            status: TfValue::Known("ready".into()),
            settings: Vec::new(),
        })?;
        Ok(())
    }
}

fn ty() -> Type {
    Thing.schema().value_type()
}

fn config(name: &str) -> Value {
    Value::object([
        ("name", Value::from(name)),
        ("password", Value::from("s3cret")),
        (
            "settings",
            Value::List(vec![Value::object([("key", Value::from("a"))])]),
        ),
    ])
}

fn summaries(d: &[pb::Diagnostic]) -> Vec<String> {
    d.iter().map(|d| d.summary.clone()).collect()
}

#[tokio::test]
async fn create_read_update_replace_and_delete_follow_terraform_rules() {
    let server = TestServer::start(Toy).await;
    let mut c = server.client().await;
    let t = ty();
    let provider_ty = Toy.schema().value_type();
    let configured = c
        .configure_provider(pb::configure_provider::Request {
            terraform_version: "1.11.4".into(),
            config: Some(dynamic(
                &provider_ty,
                Value::object([("greeting", Value::from("hi"))]),
            )),
            client_capabilities: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(configured.diagnostics.is_empty());

    // Plan a create: Terraform's proposed state is the config with computed attributes null.
    let cfg = dynamic(&t, config("one"));
    let plan = c
        .plan_resource_change(pb::plan_resource_change::Request {
            type_name: "example_thing".into(),
            prior_state: Some(dynamic(&t, Value::Null)),
            proposed_new_state: Some(cfg.clone()),
            config: Some(cfg.clone()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(plan.diagnostics.is_empty(), "{:?}", plan.diagnostics);
    let planned = value(&t, plan.planned_state.as_ref());
    assert_eq!(planned.attr("id"), Some(&Value::Unknown));
    assert_eq!(planned.attr("status"), Some(&Value::Unknown));
    assert_eq!(
        planned.attr("size"),
        Some(&Value::from(1_i64)),
        "default applied"
    );
    assert_eq!(
        planned.attr("password"),
        Some(&Value::Null),
        "write-only never planned"
    );
    assert_eq!(
        planned.at(&AttributePath::new("settings").index(0).attr("digest")),
        Some(&Value::Unknown)
    );

    // Apply the create.
    let applied = c
        .apply_resource_change(pb::apply_resource_change::Request {
            type_name: "example_thing".into(),
            prior_state: Some(dynamic(&t, Value::Null)),
            planned_state: plan.planned_state.clone(),
            config: Some(cfg.clone()),
            planned_private: plan.planned_private.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(applied.diagnostics.is_empty(), "{:?}", applied.diagnostics);
    let state = value(&t, applied.new_state.as_ref());
    assert_eq!(
        state.attr("id"),
        Some(&Value::from("hi-one")),
        "provider data reached the resource"
    );
    assert_eq!(
        state.attr("password"),
        Some(&Value::Null),
        "write-only never stored"
    );
    assert!(state.is_wholly_known());
    assert!(!applied.private.is_empty());

    // Read keeps it; private state comes back.
    let read = c
        .read_resource(pb::read_resource::Request {
            type_name: "example_thing".into(),
            current_state: applied.new_state.clone(),
            private: applied.private.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(read.diagnostics.is_empty(), "{:?}", read.diagnostics);
    assert_eq!(value(&t, read.new_state.as_ref()), state);

    // Plan with an unchanged config: no unknowns, nothing to replace.
    let mut proposed = state.clone();
    let same = c
        .plan_resource_change(pb::plan_resource_change::Request {
            type_name: "example_thing".into(),
            prior_state: applied.new_state.clone(),
            proposed_new_state: Some(dynamic(&t, proposed.clone())),
            config: Some(cfg.clone()),
            prior_private: applied.private.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(value(&t, same.planned_state.as_ref()), state);
    assert!(same.requires_replace.is_empty());

    // Renaming requires replacement; id keeps its value (UseStateForUnknown), status goes unknown.
    *proposed.at_mut(&AttributePath::new("name")).unwrap() = Value::from("two");
    let renamed = c
        .plan_resource_change(pb::plan_resource_change::Request {
            type_name: "example_thing".into(),
            prior_state: applied.new_state.clone(),
            proposed_new_state: Some(dynamic(&t, proposed.clone())),
            config: Some(dynamic(&t, config("two"))),
            prior_private: applied.private.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let planned = value(&t, renamed.planned_state.as_ref());
    assert_eq!(planned.attr("id"), Some(&Value::from("hi-one")));
    assert_eq!(planned.attr("status"), Some(&Value::Unknown));
    assert_eq!(renamed.requires_replace.len(), 1);

    // Update (in place): response starts from the plan; the resource fills status.
    let mut planned_update = state.clone();
    *planned_update.at_mut(&AttributePath::new("size")).unwrap() = Value::from(3_i64);
    *planned_update
        .at_mut(&AttributePath::new("status"))
        .unwrap() = Value::Unknown;
    let updated = c
        .apply_resource_change(pb::apply_resource_change::Request {
            type_name: "example_thing".into(),
            prior_state: applied.new_state.clone(),
            planned_state: Some(dynamic(&t, planned_update)),
            config: Some(cfg.clone()),
            planned_private: applied.private.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(updated.diagnostics.is_empty(), "{:?}", updated.diagnostics);
    let after = value(&t, updated.new_state.as_ref());
    assert_eq!(after.attr("status"), Some(&Value::from("updated")));
    assert_eq!(after.attr("size"), Some(&Value::from(3_i64)));

    // Destroy: planned state is null and so is the answer.
    let destroyed = c
        .apply_resource_change(pb::apply_resource_change::Request {
            type_name: "example_thing".into(),
            prior_state: updated.new_state.clone(),
            planned_state: Some(dynamic(&t, Value::Null)),
            config: Some(dynamic(&t, Value::Null)),
            planned_private: updated.private.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        destroyed.diagnostics.is_empty(),
        "{:?}",
        destroyed.diagnostics
    );
    assert_eq!(value(&t, destroyed.new_state.as_ref()), Value::Null);
}

#[tokio::test]
async fn read_of_a_gone_object_returns_null_state() {
    let server = TestServer::start(Toy).await;
    let mut c = server.client().await;
    let t = ty();
    let mut private = tfplugin::PrivateState::default();
    private.set("created", &true).unwrap();
    let state = Value::object([
        ("id", Value::from("x")),
        ("name", Value::from("gone")),
        ("size", Value::from(1_i64)),
        ("status", Value::from("ready")),
    ]);
    let read = c
        .read_resource(pb::read_resource::Request {
            type_name: "example_thing".into(),
            current_state: Some(dynamic(&t, state)),
            private: private.to_bytes(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(read.diagnostics.is_empty(), "{:?}", read.diagnostics);
    assert_eq!(value(&t, read.new_state.as_ref()), Value::Null);
}

#[tokio::test]
async fn validation_runs_attribute_validators_and_skips_unknowns() {
    let server = TestServer::start(Toy).await;
    let mut c = server.client().await;
    let t = ty();
    let too_long = c
        .validate_resource_config(pb::validate_resource_config::Request {
            type_name: "example_thing".into(),
            config: Some(dynamic(
                &t,
                Value::object([("name", Value::from("far-too-long-name"))]),
            )),
            client_capabilities: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        summaries(&too_long.diagnostics),
        vec!["Invalid Attribute Value Length"]
    );
    let path = too_long.diagnostics[0].attribute.as_ref().unwrap();
    assert_eq!(
        path.steps[0].selector,
        Some(pb::attribute_path::step::Selector::AttributeName(
            "name".into()
        ))
    );
    let unknown = c
        .validate_resource_config(pb::validate_resource_config::Request {
            type_name: "example_thing".into(),
            config: Some(dynamic(&t, Value::object([("name", Value::Unknown)]))),
            client_capabilities: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(unknown.diagnostics.is_empty());
}

#[tokio::test]
async fn write_only_attributes_are_refused_for_clients_that_cannot_handle_them() {
    let server = TestServer::start(Toy).await;
    let mut c = server.client().await;
    let t = ty();
    let validate = |allowed: Option<bool>| pb::validate_resource_config::Request {
        type_name: "example_thing".into(),
        config: Some(dynamic(&t, config("one"))),
        client_capabilities: allowed.map(|a| pb::ClientCapabilities {
            deferral_allowed: false,
            write_only_attributes_allowed: a,
        }),
    };
    let modern = c
        .validate_resource_config(validate(Some(true)))
        .await
        .unwrap()
        .into_inner();
    assert!(modern.diagnostics.is_empty(), "{:?}", modern.diagnostics);
    for old in [None, Some(false)] {
        let refused = c
            .validate_resource_config(validate(old))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            summaries(&refused.diagnostics),
            vec!["Write-Only Attribute Not Allowed"]
        );
    }
}

#[tokio::test]
async fn import_builds_state_from_the_id_and_rejects_bad_ids() {
    let server = TestServer::start(Toy).await;
    let mut c = server.client().await;
    let t = ty();
    let ok = c
        .import_resource_state(pb::import_resource_state::Request {
            type_name: "example_thing".into(),
            id: "ns/thing".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(ok.diagnostics.is_empty(), "{:?}", ok.diagnostics);
    let imported = value(&t, ok.imported_resources[0].state.as_ref());
    assert_eq!(imported.attr("name"), Some(&Value::from("thing")));
    assert_eq!(imported.attr("status"), Some(&Value::Null));

    let bad = c
        .import_resource_state(pb::import_resource_state::Request {
            type_name: "example_thing".into(),
            id: "thing".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(bad.imported_resources.is_empty());
    assert!(
        bad.diagnostics[0]
            .detail
            .contains("Expected \"namespace/name\", got \"thing\"")
    );
}

#[tokio::test]
async fn upgrade_state_reads_pretty_json_drops_removed_attributes_and_upgrades_old_versions() {
    let server = TestServer::start(Toy).await;
    let mut c = server.client().await;
    let t = ty();
    let current = br#"{
  "id": "hi-one",
  "name": "one",
  "size": 2,
  "password": null,
  "status": "ready",
  "settings": [],
  "timeouts": null,
  "attribute_from_an_older_release": "x"
}"#;
    let same = c
        .upgrade_resource_state(pb::upgrade_resource_state::Request {
            type_name: "example_thing".into(),
            version: 1,
            raw_state: Some(pb::RawState {
                json: current.to_vec(),
                flatmap: Default::default(),
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(same.diagnostics.is_empty(), "{:?}", same.diagnostics);
    let v = value(&t, same.upgraded_state.as_ref());
    assert_eq!(v.attr("size"), Some(&Value::from(2_i64)));

    let old = c
        .upgrade_resource_state(pb::upgrade_resource_state::Request {
            type_name: "example_thing".into(),
            version: 0,
            raw_state: Some(pb::RawState {
                json: br#"{"id":"i","title":"legacy"}"#.to_vec(),
                flatmap: Default::default(),
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(old.diagnostics.is_empty(), "{:?}", old.diagnostics);
    assert_eq!(
        value(&t, old.upgraded_state.as_ref()).attr("name"),
        Some(&Value::from("legacy"))
    );

    let newer = c
        .upgrade_resource_state(pb::upgrade_resource_state::Request {
            type_name: "example_thing".into(),
            version: 7,
            raw_state: Some(pb::RawState {
                json: current.to_vec(),
                flatmap: Default::default(),
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        summaries(&newer.diagnostics),
        vec!["State From A Newer Provider Version"]
    );
}

#[tokio::test]
async fn state_from_before_an_attribute_existed_takes_its_default() {
    let server = TestServer::start(Toy).await;
    let mut c = server.client().await;
    let t = ty();
    let upgrade = |json: &'static str| pb::upgrade_resource_state::Request {
        type_name: "example_thing".into(),
        version: 1,
        raw_state: Some(pb::RawState {
            json: json.as_bytes().to_vec(),
            flatmap: Default::default(),
        }),
    };
    // `size` (default 1) is not mentioned: written before it existed.
    let older = c
        .upgrade_resource_state(upgrade(
            r#"{"id":"i","name":"one","password":null,"status":"ready","settings":[],"timeouts":null}"#,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(older.diagnostics.is_empty(), "{:?}", older.diagnostics);
    assert_eq!(
        value(&t, older.upgraded_state.as_ref()).attr("size"),
        Some(&Value::from(1_i64))
    );
    // Stored as null: left alone.
    let explicit = c
        .upgrade_resource_state(upgrade(
            r#"{"id":"i","name":"one","size":null,"password":null,"status":"ready","settings":[],"timeouts":null}"#,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        value(&t, explicit.upgraded_state.as_ref()).attr("size"),
        Some(&Value::Null)
    );
}

#[tokio::test]
async fn move_state_is_refused_clearly_by_default() {
    let server = TestServer::start(Toy).await;
    let mut c = server.client().await;
    let moved = c
        .move_resource_state(pb::move_resource_state::Request {
            source_provider_address: "registry.terraform.io/hashicorp/helm".into(),
            source_type_name: "helm_release".into(),
            source_state: Some(pb::RawState {
                json: b"{}".to_vec(),
                flatmap: Default::default(),
            }),
            target_type_name: "example_thing".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        summaries(&moved.diagnostics),
        vec!["Unable to Move Resource State"]
    );
    assert!(moved.target_state.is_none());
}

#[tokio::test]
async fn destroy_plans_are_null_and_carry_the_resources_warnings() {
    let server = TestServer::start(Toy).await;
    let mut c = server.client().await;
    let schema = c
        .get_provider_schema(pb::get_provider_schema::Request::default())
        .await
        .unwrap()
        .into_inner();
    assert!(
        schema
            .server_capabilities
            .is_some_and(|caps| caps.plan_destroy),
        "plan_destroy must be advertised so Terraform plans destroys with the provider"
    );
    let t = ty();
    let state = Value::object([
        ("id", Value::from("x")),
        ("name", Value::from("old")),
        ("size", Value::from(1_i64)),
        ("status", Value::from("ready")),
    ]);
    let plan = c
        .plan_resource_change(pb::plan_resource_change::Request {
            type_name: "example_thing".into(),
            prior_state: Some(dynamic(&t, state)),
            proposed_new_state: Some(dynamic(&t, Value::Null)),
            config: Some(dynamic(&t, Value::Null)),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(value(&t, plan.planned_state.as_ref()), Value::Null);
    assert_eq!(summaries(&plan.diagnostics), vec!["Destroying".to_string()]);
    assert!(plan.diagnostics[0].detail.contains("old goes away"));
}
