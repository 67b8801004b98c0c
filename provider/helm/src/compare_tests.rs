//! Drift comparison tables.

use serde_json::{Value, json};

use crate::compare::{FieldDifference, compare_object, parse_quantity};

fn paths(kind: &str, desired: Value, live: Value) -> Vec<(String, bool)> {
    compare_object(kind, &desired, &live)
        .into_iter()
        .map(|d: FieldDifference| (d.path, d.missing))
        .collect()
}

fn changed(path: &str) -> (String, bool) {
    (path.to_string(), false)
}

fn missing(path: &str) -> (String, bool) {
    (path.to_string(), true)
}

#[test]
fn identical_objects_have_no_drift() {
    let object = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}});
    assert!(paths("ConfigMap", object.clone(), object).is_empty());
}

#[test]
fn server_defaults_controller_fields_and_extra_metadata_are_not_drift() {
    let desired = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "r", "labels": {"app": "r"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "r"}},
                 "template": {"metadata": {"labels": {"app": "r"}},
                              "spec": {"containers": [{"name": "runner", "image": "gitlab-runner:v18",
                                                       "resources": {"requests": {"cpu": 0.5, "memory": "1Gi"}},
                                                       "env": []}]}}}
    });
    let live = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "r", "uid": "u", "resourceVersion": "7", "generation": 3,
                     "labels": {"app": "r", "app.kubernetes.io/managed-by": "Helm"},
                     "annotations": {"deployment.kubernetes.io/revision": "2"}, "managedFields": []},
        "spec": {"replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
                 "selector": {"matchLabels": {"app": "r"}},
                 "strategy": {"type": "RollingUpdate"},
                 "template": {"metadata": {"labels": {"app": "r"}, "annotations": {"kubectl.kubernetes.io/restartedAt": "x"}},
                              "spec": {"containers": [
                                  {"name": "runner", "image": "gitlab-runner:v18", "imagePullPolicy": "IfNotPresent",
                                   "resources": {"requests": {"cpu": "500m", "memory": "1024Mi"}},
                                   "terminationMessagePath": "/dev/termination-log"},
                                  {"name": "istio-proxy", "image": "proxy"}],
                                       "restartPolicy": "Always", "dnsPolicy": "ClusterFirst"}}},
        "status": {"replicas": 1, "readyReplicas": 1}
    });
    assert_eq!(
        paths("Deployment", desired, live),
        Vec::<(String, bool)>::new()
    );
}

#[test]
fn edited_and_removed_fields_are_reported_with_paths() {
    let desired = json!({
        "kind": "Deployment",
        "metadata": {"labels": {"app": "r", "tier": "ci"}},
        "spec": {"replicas": 2, "template": {"spec": {"containers": [
            {"name": "runner", "image": "runner:v18", "args": ["run", "--verbose"],
             "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]}}}
    });
    let live = json!({
        "kind": "Deployment",
        "metadata": {"labels": {"app": "r"}},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [
            {"name": "runner", "image": "runner:v17", "args": ["run", "--verbose", "--extra"],
             "env": [{"name": "A", "value": "changed"}]}]}}}
    });
    let mut found = paths("Deployment", desired, live);
    found.sort();
    let mut expected = vec![
        missing("metadata.labels.tier"),
        changed("spec.replicas"),
        changed("spec.template.spec.containers[name=runner].args"),
        missing("spec.template.spec.containers[name=runner].env[name=B]"),
        changed("spec.template.spec.containers[name=runner].env[name=A].value"),
        changed("spec.template.spec.containers[name=runner].image"),
    ];
    expected.sort();
    assert_eq!(found, expected);
}

#[test]
fn scalar_equivalences_table() {
    let cases: &[(Value, Value, bool)] = &[
        (json!(1), json!(1.0), true),
        (json!("1"), json!(1), true),
        (json!(1), json!("1"), true),
        (json!("true"), json!(true), true),
        (json!(false), json!("false"), true),
        (json!("0.5"), json!("500m"), true),
        (json!(0.5), json!("500m"), true),
        (json!("1Gi"), json!("1024Mi"), true),
        (json!("2"), json!("2000m"), true),
        (json!("1k"), json!("1000"), true),
        (json!(2), json!(3), false),
        (json!("2"), json!(3), false),
        (json!("yes"), json!(true), true),
        (json!("off"), json!(false), true),
        (json!("yes"), json!(false), false),
        (json!("maybe"), json!(true), false),
        (json!("0644"), json!(420), true),
        (json!("0755"), json!(493), true),
        (json!("0644"), json!(644), true),
        (json!("0x1F"), json!(31), true),
        (json!("1_000"), json!(1000), true),
        (json!("0644"), json!(421), false),
        (json!("0644"), json!("420"), false),
        (json!("10m"), json!("10s"), false),
        (json!("abc"), json!("abd"), false),
        (json!("1Gi"), json!("1G"), false),
        (json!(1), json!({"a": 1}), false),
    ];
    for (desired, live, equal) in cases {
        let found = paths("ConfigMap", json!({"x": desired}), json!({"x": live}));
        assert_eq!(found.is_empty(), *equal, "{desired} vs {live}: {found:?}");
    }
}

#[test]
fn zero_values_match_missing_live_fields_but_real_values_do_not() {
    let desired = json!({"spec": {"a": false, "b": 0, "c": "", "d": [], "e": {}, "f": null, "g": {"h": []}, "i": "set"}});
    assert_eq!(
        paths("X", desired, json!({"spec": {}})),
        vec![missing("spec.i")]
    );
}

#[test]
fn positional_lists_compare_by_index() {
    let desired =
        json!({"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]});
    let live_same =
        json!({"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]});
    assert!(paths("Role", desired.clone(), live_same).is_empty());
    let live_edited = json!({"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "delete"]}]});
    assert_eq!(
        paths("Role", desired.clone(), live_edited),
        vec![changed("rules[0].verbs")]
    );
    let live_shorter = json!({"rules": []});
    assert_eq!(
        paths("Role", desired, live_shorter),
        vec![missing("rules[0]")]
    );
}

#[test]
fn keys_with_dots_are_bracketed_in_paths() {
    let desired = json!({"metadata": {"annotations": {"checksum/config": "abc"}}, "data": {"config.toml": "a"}});
    let live = json!({"metadata": {"annotations": {"checksum/config": "def"}}, "data": {"config.toml": "b"}});
    let mut found = paths("ConfigMap", desired, live);
    found.sort();
    assert_eq!(
        found,
        vec![
            changed("data.[\"config.toml\"]"),
            changed("metadata.annotations.[\"checksum/config\"]")
        ]
    );
}

#[test]
fn secret_data_is_compared_decoded_and_string_data_against_data() {
    // "czNjcjN0" = base64("s3cr3t")
    let desired = json!({"kind": "Secret", "type": "Opaque",
                         "data": {"token": "czNjcjN0"}, "stringData": {"plain": "hello"}});
    let live_same = json!({"kind": "Secret", "type": "Opaque", "data": {"token": "czNjcjN0", "plain": "aGVsbG8="}});
    assert!(paths("Secret", desired.clone(), live_same).is_empty());

    let live_changed =
        json!({"kind": "Secret", "type": "Opaque", "data": {"token": "b3RoZXI=", "plain": "aGk="}});
    let mut found = paths("Secret", desired.clone(), live_changed);
    found.sort();
    assert_eq!(
        found,
        vec![changed("data.token"), changed("stringData.plain")]
    );

    let live_missing = json!({"kind": "Secret", "type": "Opaque", "data": {}});
    let mut found = paths("Secret", desired, live_missing);
    found.sort();
    assert_eq!(
        found,
        vec![missing("data.token"), missing("stringData.plain")]
    );
}

#[test]
fn quantities_parse() {
    assert_eq!(parse_quantity("500m"), Some(0.5));
    assert_eq!(parse_quantity("1Ki"), Some(1024.0));
    assert_eq!(parse_quantity("1e3"), Some(1000.0));
    assert_eq!(parse_quantity("2"), Some(2.0));
    assert_eq!(parse_quantity("m"), None);
    assert_eq!(parse_quantity("10s"), None);
    assert_eq!(parse_quantity("v1"), None);
}

fn extras(kind: &str, desired: Value, live: Value) -> Vec<String> {
    let mut found: Vec<String> = crate::compare::live_extras(kind, &desired, &live)
        .into_iter()
        .map(|e| e.path)
        .collect();
    found.sort();
    found
}

#[test]
fn live_extras_are_map_keys_and_whole_named_elements() {
    let desired = json!({
        "kind": "Deployment", "metadata": {"name": "r", "labels": {"app": "r"}},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [
            {"name": "runner", "image": "r", "env": [{"name": "A", "value": "1"}]}]}}}
    });
    let live = json!({
        "kind": "Deployment",
        "metadata": {"name": "r", "uid": "u", "labels": {"app": "r", "team": "ops"},
                     "annotations": {"note": "x"}, "managedFields": []},
        "spec": {"replicas": 1, "template": {"spec": {
            "containers": [
                {"name": "runner", "image": "r", "env": [{"name": "A", "value": "1"}, {"name": "X", "value": "1"}]},
                {"name": "sidecar", "image": "s", "ports": [{"containerPort": 80}]}],
            "nodeSelector": {"disk": "ssd"}}}},
        "status": {"replicas": 1}
    });
    assert_eq!(
        extras("Deployment", desired, live),
        [
            "metadata.annotations.note",
            "metadata.labels.team",
            "spec.template.spec.containers[name=runner].env[name=X]",
            "spec.template.spec.containers[name=sidecar]",
            "spec.template.spec.nodeSelector.disk",
        ]
    );
}

#[test]
fn secret_data_keys_set_through_string_data_are_not_extras() {
    let desired =
        json!({"kind": "Secret", "stringData": {"runner-token": "t"}, "data": {"ca.crt": "Y2E="}});
    let live = json!({"kind": "Secret", "data": {"runner-token": "dA==", "ca.crt": "Y2E=", "stolen": "eA=="}});
    assert_eq!(extras("Secret", desired, live), ["data.stolen"]);
}
