//! API semantics through the kube crate: CRUD, Status errors, patches, server-side apply with
//! field-manager conflicts, Secret rules, selectors, paging, watches, the Deployment controller.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Env, eventually};
use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret};
use kube::api::{
    DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams, Preconditions,
    WatchEvent, WatchParams,
};
use kube::{Api, Client};
use serde_json::json;

async fn with_namespace(env: &Env) -> Client {
    let client = env.client().await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(env.namespace.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");
    client
}

fn cm(name: &str, labels: &[(&str, &str)], data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..Default::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        ..Default::default()
    }
}

fn api_status(err: kube::Error) -> Box<kube::core::Status> {
    match err {
        kube::Error::Api(s) => s,
        other => panic!("expected an API Status error, got {other:?}"),
    }
}

#[tokio::test]
async fn crud_and_status_errors() {
    let env = Env::start("crud");
    let client = with_namespace(&env).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &env.namespace);
    let created = cms
        .create(&PostParams::default(), &cm("a", &[], &[("k", "v")]))
        .await
        .expect("create");
    let meta = &created.metadata;
    assert!(meta.uid.as_deref().is_some_and(|u| u.len() == 36));
    assert!(meta.creation_timestamp.is_some());
    let rv1: u64 = meta
        .resource_version
        .as_deref()
        .expect("rv")
        .parse()
        .expect("numeric rv");

    let dup = api_status(
        cms.create(&PostParams::default(), &cm("a", &[], &[]))
            .await
            .expect_err("expected an error"),
    );
    assert!(dup.is_already_exists(), "{dup:?}");
    assert_eq!(dup.code, 409);

    let missing = api_status(cms.get("nope").await.expect_err("expected an error"));
    assert!(missing.is_not_found());
    assert_eq!(missing.message, "configmaps \"nope\" not found");

    let invalid = api_status(
        cms.create(&PostParams::default(), &cm("Bad_Name", &[], &[]))
            .await
            .expect_err("expected an error"),
    );
    assert!(invalid.is_invalid(), "{invalid:?}");
    let causes = invalid.details.expect("details").causes;
    assert_eq!(causes[0].field, "metadata.name");

    let elsewhere: Api<ConfigMap> =
        Api::namespaced(client.clone(), &format!("{}-missing", env.namespace));
    let no_ns = api_status(
        elsewhere
            .create(&PostParams::default(), &cm("x", &[], &[]))
            .await
            .expect_err("expected an error"),
    );
    assert!(no_ns.is_not_found());
    assert!(no_ns.message.contains("namespaces"), "{}", no_ns.message);

    // PUT: stale resourceVersion conflicts; without one it is unconditional.
    let mut stale = created.clone();
    let mut fresh = cms.get("a").await.expect("get");
    fresh.data = Some(BTreeMap::from([("k".to_string(), "v2".to_string())]));
    let updated = cms
        .replace("a", &PostParams::default(), &fresh)
        .await
        .expect("replace");
    let rv2: u64 = updated
        .metadata
        .resource_version
        .as_deref()
        .expect("rv")
        .parse()
        .expect("rv");
    assert!(rv2 > rv1);
    stale.data = Some(BTreeMap::from([("k".to_string(), "lost".to_string())]));
    let conflict = api_status(
        cms.replace("a", &PostParams::default(), &stale)
            .await
            .expect_err("expected an error"),
    );
    assert!(conflict.is_conflict(), "{conflict:?}");
    stale.metadata.resource_version = None;
    let forced = cms
        .replace("a", &PostParams::default(), &stale)
        .await
        .expect("unconditional replace");
    assert_eq!(forced.data.expect("data")["k"], "lost");

    // dryRun=All writes nothing.
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    cms.create(&dry, &cm("dry", &[], &[]))
        .await
        .expect("dry-run create");
    assert!(cms.get_opt("dry").await.expect("get").is_none());

    // DELETE with a wrong uid precondition conflicts; then deletes; then 404.
    let wrong = DeleteParams {
        preconditions: Some(Preconditions {
            uid: Some("00000000-0000-0000-0000-000000000000".into()),
            resource_version: None,
        }),
        ..Default::default()
    };
    assert!(
        api_status(
            cms.delete("a", &wrong)
                .await
                .expect_err("expected an error")
        )
        .is_conflict()
    );
    let gone = cms
        .delete("a", &DeleteParams::background())
        .await
        .expect("delete");
    let status = gone.right().expect("an immediate delete answers a Status");
    assert!(status.is_success());
    assert_eq!(status.details.expect("details").name, "a");
    assert!(
        api_status(
            cms.delete("a", &DeleteParams::default())
                .await
                .expect_err("expected an error")
        )
        .is_not_found()
    );
}

#[tokio::test]
async fn patches_merge_json_strategic() {
    let env = Env::start("patch");
    let client = with_namespace(&env).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &env.namespace);
    cms.create(
        &PostParams::default(),
        &cm("p", &[("a", "1")], &[("x", "1"), ("y", "2")]),
    )
    .await
    .expect("create");
    let pp = PatchParams::default();
    let merged = cms
        .patch(
            "p",
            &pp,
            &Patch::Merge(json!({"data": {"x": null, "z": "3"}})),
        )
        .await
        .expect("merge");
    assert_eq!(
        merged.data.expect("data"),
        BTreeMap::from([("y".into(), "2".into()), ("z".into(), "3".into())])
    );
    let ops = serde_json::from_value(json!([{"op": "replace", "path": "/data/y", "value": "two"}, {"op": "add", "path": "/metadata/labels/b", "value": "2"}])).expect("ops");
    let patched = cms
        .patch("p", &pp, &Patch::<()>::Json(ops))
        .await
        .expect("json patch");
    assert_eq!(patched.data.expect("data")["y"], "two");
    assert_eq!(patched.metadata.labels.expect("labels")["b"], "2");

    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &env.namespace);
    let deploy: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "d"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "d"}}, "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [
            {"name": "web", "image": "nginx", "env": [{"name": "A", "value": "1"}]},
            {"name": "side", "image": "busybox"}]}}}
    })).expect("deployment");
    let created = deployments
        .create(&PostParams::default(), &deploy)
        .await
        .expect("create deployment");
    assert_eq!(created.metadata.generation, Some(1));
    let smp = json!({"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "web"}, {"name": "side"}],
        "containers": [{"name": "web", "$setElementOrder/env": [{"name": "A"}, {"name": "B"}], "env": [{"name": "B", "value": "2"}]}]}}}});
    let patched = deployments
        .patch("d", &pp, &Patch::Strategic(smp))
        .await
        .expect("strategic");
    assert_eq!(
        patched.metadata.generation,
        Some(2),
        "spec change bumps generation"
    );
    let containers = patched
        .spec
        .expect("spec")
        .template
        .spec
        .expect("pod")
        .containers;
    assert_eq!(containers.len(), 2);
    assert_eq!(containers[0].image.as_deref(), Some("nginx"));
    let env_names: Vec<String> = containers[0]
        .env
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(env_names, ["A", "B"]);
    let relabel = deployments
        .patch(
            "d",
            &pp,
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .expect("label patch");
    assert_eq!(
        relabel.metadata.generation,
        Some(2),
        "metadata change keeps generation"
    );
}

#[tokio::test]
async fn server_side_apply_ownership_and_conflicts() {
    let env = Env::start("ssa");
    let client = with_namespace(&env).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &env.namespace);
    let body = |greeting: &str, extra: bool| {
        let mut data = json!({"greeting": greeting});
        if extra {
            data["extra"] = json!("1");
        }
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s"}, "data": data})
    };
    let applied = cms
        .patch(
            "s",
            &PatchParams::apply("alpha"),
            &Patch::Apply(body("hi", true)),
        )
        .await
        .expect("apply create");
    let fields = applied.metadata.managed_fields.expect("managedFields");
    assert_eq!(fields[0].manager.as_deref(), Some("alpha"));
    assert_eq!(fields[0].operation.as_deref(), Some("Apply"));

    // Dropping a field from the applied config removes it.
    let applied = cms
        .patch(
            "s",
            &PatchParams::apply("alpha"),
            &Patch::Apply(body("hi", false)),
        )
        .await
        .expect("apply update");
    assert!(!applied.data.expect("data").contains_key("extra"));

    // Another manager setting the same field to another value conflicts.
    let err = api_status(
        cms.patch(
            "s",
            &PatchParams::apply("beta"),
            &Patch::Apply(body("yo", false)),
        )
        .await
        .expect_err("expected an error"),
    );
    assert_eq!(err.code, 409);
    assert!(
        err.message.contains("conflict with \"alpha\"") && err.message.contains(".data.greeting"),
        "{}",
        err.message
    );
    let cause = &err.details.expect("details").causes[0];
    assert_eq!(cause.reason, "FieldManagerConflict");
    assert_eq!(cause.field, ".data.greeting");

    // Same value: shared ownership, no conflict. Force: takes the field.
    cms.patch(
        "s",
        &PatchParams::apply("beta"),
        &Patch::Apply(body("hi", false)),
    )
    .await
    .expect("same value applies");
    let forced = cms
        .patch(
            "s",
            &PatchParams::apply("beta").force(),
            &Patch::Apply(body("yo", false)),
        )
        .await
        .expect("force");
    assert_eq!(forced.data.expect("data")["greeting"], "yo");

    // An update (merge patch) by another manager takes ownership of what it changed.
    let pp = PatchParams {
        field_manager: Some("editor".into()),
        ..Default::default()
    };
    cms.patch(
        "s",
        &pp,
        &Patch::Merge(json!({"data": {"greeting": "edited"}})),
    )
    .await
    .expect("merge as editor");
    let err = api_status(
        cms.patch(
            "s",
            &PatchParams::apply("beta"),
            &Patch::Apply(body("again", false)),
        )
        .await
        .expect_err("expected an error"),
    );
    assert!(
        err.message.contains("conflict with \"editor\""),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn secret_rules() {
    let env = Env::start("sec");
    let client = with_namespace(&env).await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &env.namespace);
    let mut s = Secret {
        metadata: ObjectMeta {
            name: Some("s".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    s.string_data = Some(BTreeMap::from([("token".into(), "abc".into())]));
    s.data = Some(BTreeMap::from([(
        "other".into(),
        ByteString(b"x".to_vec()),
    )]));
    let created = secrets
        .create(&PostParams::default(), &s)
        .await
        .expect("create");
    assert_eq!(created.type_.as_deref(), Some("Opaque"));
    assert!(created.string_data.is_none());
    let data = created.data.clone().expect("data");
    assert_eq!(data["token"].0, b"abc");
    assert_eq!(data["other"].0, b"x");

    let mut changed_type = created.clone();
    changed_type.type_ = Some("kubernetes.io/tls".into());
    assert!(
        api_status(
            secrets
                .replace("s", &PostParams::default(), &changed_type)
                .await
                .expect_err("expected an error")
        )
        .is_invalid()
    );

    let mut bad_key = Secret {
        metadata: ObjectMeta {
            name: Some("k".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    bad_key.data = Some(BTreeMap::from([(
        "bad/key".into(),
        ByteString(b"x".to_vec()),
    )]));
    assert!(
        api_status(
            secrets
                .create(&PostParams::default(), &bad_key)
                .await
                .expect_err("expected an error")
        )
        .is_invalid()
    );

    let mut tls = Secret {
        metadata: ObjectMeta {
            name: Some("tls".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    tls.type_ = Some("kubernetes.io/tls".into());
    tls.data = Some(BTreeMap::from([(
        "tls.crt".into(),
        ByteString(b"c".to_vec()),
    )]));
    let err = api_status(
        secrets
            .create(&PostParams::default(), &tls)
            .await
            .expect_err("expected an error"),
    );
    assert!(
        err.is_invalid() && err.message.contains("tls.key"),
        "{}",
        err.message
    );

    let mut frozen = Secret {
        metadata: ObjectMeta {
            name: Some("frozen".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    frozen.immutable = Some(true);
    frozen.string_data = Some(BTreeMap::from([("a".into(), "1".into())]));
    secrets
        .create(&PostParams::default(), &frozen)
        .await
        .expect("create immutable");
    let err = api_status(
        secrets
            .patch(
                "frozen",
                &PatchParams::default(),
                &Patch::Merge(json!({"stringData": {"a": "2"}})),
            )
            .await
            .expect_err("expected an error"),
    );
    assert!(err.is_invalid(), "{err:?}");
    let still = secrets.get("frozen").await.expect("get");
    assert_eq!(still.data.expect("data")["a"].0, b"1");
}

#[tokio::test]
async fn selectors_paging_and_cluster_wide_lists() {
    let env = Env::start("sel");
    let client = with_namespace(&env).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &env.namespace);
    for (name, env_label, tier) in [
        ("a", "prod", Some("fe")),
        ("b", "dev", Some("be")),
        ("c", "prod", None),
        ("d", "qa", None),
    ] {
        let mut labels = vec![("env", env_label)];
        if let Some(t) = tier {
            labels.push(("tier", t));
        }
        cms.create(&PostParams::default(), &cm(name, &labels, &[]))
            .await
            .expect("create");
    }
    let names = |list: kube::api::ObjectList<ConfigMap>| -> Vec<String> {
        let mut n: Vec<String> = list
            .items
            .into_iter()
            .filter_map(|c| c.metadata.name)
            .filter(|n| n != "kube-root-ca.crt")
            .collect();
        n.sort();
        n
    };
    for (selector, expected) in [
        ("env=prod", vec!["a", "c"]),
        ("env==prod", vec!["a", "c"]),
        ("env!=prod", vec!["b", "d"]),
        ("env in (dev,qa)", vec!["b", "d"]),
        ("env notin (prod,qa)", vec!["b"]),
        ("tier", vec!["a", "b"]),
        ("!tier", vec!["c", "d"]),
        ("env=prod,tier=fe", vec!["a"]),
    ] {
        let got = names(
            cms.list(&ListParams::default().labels(selector))
                .await
                .expect("list"),
        );
        assert_eq!(got, expected, "selector {selector}");
    }
    let by_name = names(
        cms.list(&ListParams::default().fields("metadata.name=c"))
            .await
            .expect("list"),
    );
    assert_eq!(by_name, ["c"]);
    let first = cms
        .list(&ListParams::default().labels("env").limit(3))
        .await
        .expect("page 1");
    assert_eq!(first.items.len(), 3);
    let token = first.metadata.continue_.clone().expect("continue token");
    assert!(first.metadata.resource_version.is_some());
    let second = cms
        .list(
            &ListParams::default()
                .labels("env")
                .limit(3)
                .continue_token(&token),
        )
        .await
        .expect("page 2");
    assert_eq!(second.items.len(), 1);
    assert!(
        second
            .metadata
            .continue_
            .as_deref()
            .is_none_or(str::is_empty)
    );

    let all: Api<ConfigMap> = Api::all(client.clone());
    let everywhere = all
        .list(&ListParams::default().labels("env=qa"))
        .await
        .expect("cluster-wide");
    assert!(
        everywhere
            .items
            .iter()
            .any(|c| c.metadata.namespace.as_deref() == Some(env.namespace.as_str()))
    );
}

#[tokio::test]
async fn watch_list_ends_the_initial_events_with_a_bookmark() {
    let env = Env::start("watchlist");
    let client = with_namespace(&env).await;
    // sendInitialEvents exists from Kubernetes 1.27 (older servers answer 422).
    let info = client.apiserver_version().await.expect("/version");
    let minor: u32 = info
        .minor
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .expect("numeric minor version");
    if info.major == "1" && minor < 27 {
        println!(
            "SKIPPED: {}: watch-list needs Kubernetes >= 1.27, the server is {}.{}",
            std::thread::current().name().unwrap_or("<unnamed test>"),
            info.major,
            info.minor
        );
        return;
    }
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &env.namespace);
    cms.create(&PostParams::default(), &cm("before", &[("w", "1")], &[]))
        .await
        .expect("create");

    // watch-list: ADDED for existing objects, then the initial-events-end bookmark.
    let mut initial = cms
        .watch(&WatchParams::default().labels("w=1").initial_events(), "")
        .await
        .expect("watch-list")
        .boxed();
    match initial.try_next().await.expect("event") {
        Some(WatchEvent::Added(c)) => assert_eq!(c.metadata.name.as_deref(), Some("before")),
        other => panic!("expected ADDED, got {other:?}"),
    }
    match initial.try_next().await.expect("event") {
        Some(WatchEvent::Bookmark(b)) => {
            assert_eq!(
                b.metadata
                    .annotations
                    .get("k8s.io/initial-events-end")
                    .map(String::as_str),
                Some("true")
            );
        }
        other => panic!("expected BOOKMARK, got {other:?}"),
    }
}

#[tokio::test]
async fn watch_from_a_resource_version_sees_only_later_changes() {
    let env = Env::start("watch");
    let client = with_namespace(&env).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &env.namespace);
    cms.create(&PostParams::default(), &cm("before", &[("w", "1")], &[]))
        .await
        .expect("create");

    // A watch from the list's resourceVersion sees only later changes.
    let list = cms
        .list(&ListParams::default().labels("w=1"))
        .await
        .expect("list");
    let rv = list.metadata.resource_version.expect("list rv");
    let mut stream = cms
        .watch(&WatchParams::default().labels("w=1").timeout(30), &rv)
        .await
        .expect("watch")
        .boxed();
    cms.create(&PostParams::default(), &cm("after", &[("w", "1")], &[]))
        .await
        .expect("create");
    cms.create(&PostParams::default(), &cm("unlabelled", &[], &[]))
        .await
        .expect("create");
    cms.patch(
        "after",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "v"}})),
    )
    .await
    .expect("patch");
    cms.patch(
        "unlabelled",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"w": "1"}}})),
    )
    .await
    .expect("label");
    cms.patch(
        "unlabelled",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"w": null}}})),
    )
    .await
    .expect("unlabel");
    cms.delete("after", &DeleteParams::default())
        .await
        .expect("delete");
    let mut seen = Vec::new();
    while seen.len() < 5 {
        match tokio::time::timeout(Duration::from_secs(20), stream.try_next())
            .await
            .expect("event in time")
            .expect("watch ok")
        {
            Some(WatchEvent::Added(c)) => {
                seen.push(format!("ADDED {}", c.metadata.name.unwrap_or_default()))
            }
            Some(WatchEvent::Modified(c)) => {
                seen.push(format!("MODIFIED {}", c.metadata.name.unwrap_or_default()))
            }
            Some(WatchEvent::Deleted(c)) => {
                seen.push(format!("DELETED {}", c.metadata.name.unwrap_or_default()))
            }
            Some(WatchEvent::Bookmark(_)) => {}
            Some(WatchEvent::Error(e)) => panic!("watch error {e:?}"),
            None => panic!("watch ended early"),
        }
    }
    assert_eq!(
        seen,
        [
            "ADDED after",
            "MODIFIED after",
            "ADDED unlabelled",
            "DELETED unlabelled",
            "DELETED after"
        ]
    );
}

#[tokio::test]
async fn deployment_controller_replicasets_pods_and_scale_down() {
    let env = Env::start("ctrl");
    let client = with_namespace(&env).await;
    let ns = env.namespace.clone();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let deploy: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "mgr"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "mgr"}}, "template": {"metadata": {"labels": {"app": "mgr"}},
            "spec": {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10"}]}}}
    })).expect("deployment");
    deployments
        .patch("mgr", &PatchParams::apply("test"), &Patch::Apply(&deploy))
        .await
        .expect("apply");
    eventually("deployment available", Duration::from_secs(120), || {
        let deployments = deployments.clone();
        async move {
            let d = deployments.get("mgr").await.expect("get");
            let s = d.status.unwrap_or_default();
            s.ready_replicas == Some(2)
                && s.available_replicas == Some(2)
                && s.updated_replicas == Some(2)
                && s.observed_generation == d.metadata.generation
                && s.conditions
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.type_ == "Available" && c.status == "True")
        }
    })
    .await;
    let d = deployments.get("mgr").await.expect("get");
    let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), &ns);
    let rs_list = rss
        .list(&ListParams::default().labels("app=mgr"))
        .await
        .expect("rs list");
    let rs = rs_list
        .items
        .iter()
        .find(|rs| rs.spec.as_ref().and_then(|s| s.replicas) == Some(2))
        .expect("active replicaset");
    let owner = &rs.metadata.owner_references.clone().expect("owner refs")[0];
    assert_eq!(owner.controller, Some(true));
    assert_eq!(Some(owner.uid.clone()), d.metadata.uid);
    let hash = rs.metadata.labels.clone().expect("labels")["pod-template-hash"].clone();
    assert_eq!(rs.status.as_ref().and_then(|s| s.ready_replicas), Some(2));
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let running = pods
        .list(
            &ListParams::default()
                .labels(&format!("app=mgr,pod-template-hash={hash}"))
                .fields("status.phase=Running"),
        )
        .await
        .expect("pods");
    assert_eq!(running.items.len(), 2);

    // Scale to zero: the pods get a deletionTimestamp, then disappear.
    deployments
        .patch(
            "mgr",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 0}})),
        )
        .await
        .expect("scale down");
    eventually("manager pods gone", Duration::from_secs(120), || {
        let pods = pods.clone();
        async move {
            pods.list(&ListParams::default().labels("app=mgr"))
                .await
                .expect("list")
                .items
                .is_empty()
        }
    })
    .await;
    eventually(
        "status shows zero replicas",
        Duration::from_secs(60),
        || {
            let deployments = deployments.clone();
            async move {
                deployments
                    .get("mgr")
                    .await
                    .expect("get")
                    .status
                    .unwrap_or_default()
                    .replicas
                    .unwrap_or(0)
                    == 0
            }
        },
    )
    .await;

    // Deleting the Deployment cascades to its ReplicaSets.
    deployments
        .delete("mgr", &DeleteParams::background())
        .await
        .expect("delete");
    eventually("replicasets gone", Duration::from_secs(60), || {
        let rss = rss.clone();
        async move {
            rss.list(&ListParams::default().labels("app=mgr"))
                .await
                .expect("list")
                .items
                .is_empty()
        }
    })
    .await;
}

#[tokio::test]
async fn deleting_a_namespace_removes_its_content() {
    let env = Env::start("nsdel");
    let client = with_namespace(&env).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &env.namespace);
    cms.create(&PostParams::default(), &cm("inside", &[], &[]))
        .await
        .expect("create");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .delete(&env.namespace, &DeleteParams::default())
        .await
        .expect("delete namespace");
    eventually(
        "namespace and content gone",
        Duration::from_secs(120),
        || {
            let (cms, namespaces, name) = (cms.clone(), namespaces.clone(), env.namespace.clone());
            async move {
                cms.get_opt("inside").await.ok().flatten().is_none()
                    && namespaces.get_opt(&name).await.ok().flatten().is_none()
            }
        },
    )
    .await;
}

/// Ten clients writing at once: every write lands, resourceVersions are unique and increasing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_parallel_clients() {
    let env = Env::start("par");
    let client = with_namespace(&env).await;
    let mut tasks = Vec::new();
    for worker in 0..10 {
        let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &env.namespace);
        tasks.push(tokio::spawn(async move {
            let mut versions = Vec::new();
            for i in 0..10 {
                let name = format!("w{worker}-{i}");
                let applied = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"worker": worker.to_string()}}, "data": {"i": i.to_string()}});
                let c = cms.patch(&name, &PatchParams::apply("bench"), &Patch::Apply(applied)).await.expect("apply");
                versions.push(c.metadata.resource_version.expect("rv").parse::<u64>().expect("rv"));
                cms.get(&name).await.expect("get");
            }
            versions
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        let versions = t.await.expect("task");
        assert!(versions.windows(2).all(|w| w[0] < w[1]), "per-client order");
        all.extend(versions);
    }
    let total = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), total, "resourceVersions are unique");
    let cms: Api<ConfigMap> = Api::namespaced(client, &env.namespace);
    let listed = cms
        .list(&ListParams::default().labels("worker"))
        .await
        .expect("list");
    assert_eq!(listed.items.len(), 100);
}

#[tokio::test]
async fn services_get_defaults_and_a_cluster_ip() {
    use k8s_openapi::api::core::v1::Service;
    let env = Env::start("svc");
    let client = with_namespace(&env).await;
    let services: Api<Service> = Api::namespaced(client, &env.namespace);
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": "metrics"},
        "spec": {"selector": {"app": "runner"}, "ports": [{"name": "metrics", "port": 9252}]}
    }))
    .expect("service");
    let created = services
        .create(&PostParams::default(), &svc)
        .await
        .expect("create");
    let spec = created.spec.expect("spec");
    assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
    assert!(
        spec.cluster_ip
            .as_deref()
            .is_some_and(|ip| ip.parse::<std::net::IpAddr>().is_ok())
    );
    let port = &spec.ports.expect("ports")[0];
    assert_eq!(port.protocol.as_deref(), Some("TCP"));
    let patched = services
        .patch(
            "metrics",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .expect("patch");
    assert_eq!(
        patched.spec.expect("spec").cluster_ip,
        spec.cluster_ip,
        "the address is stable"
    );
}
