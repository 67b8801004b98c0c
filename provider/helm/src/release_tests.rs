//! Decoding tests over release Secrets built the way helm builds them (gzip, then base64).

use std::collections::BTreeMap;
use std::io::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use serde_json::json;

use crate::release::*;

fn helm4_release_json(version: u64, status: &str) -> serde_json::Value {
    json!({
        "name": "runner",
        "info": {"first_deployed": "2026-11-29T07:33:15.73Z", "last_deployed": "2026-11-29T08:00:00Z",
                 "description": "Upgrade complete", "status": status, "notes": "thanks"},
        "chart": {"metadata": {"name": "gitlab-runner", "version": "0.86.0", "apiVersion": "v2",
                               "appVersion": "18.9.0", "type": "application"},
                  "lock": null, "templates": [], "values": {"concurrent": 10}, "schema": null,
                  "schemamodtime": "0001-01-01T00:00:00Z", "files": null, "modtime": "2026-11-29T07:33:15Z"},
        "config": {"concurrent": 4, "runners": {"name": "r1"}},
        "manifest": "---\n# Source: gitlab-runner/templates/configmap.yaml\napiVersion: v1\nkind: ConfigMap\n",
        "version": version,
        "namespace": "ci",
        "apply_method": "ssa"
    })
}

fn helm3_release_json() -> serde_json::Value {
    json!({
        "name": "runner",
        "info": {"first_deployed": "2026-11-29T07:33:15Z", "last_deployed": "2026-11-29T07:33:15Z",
                 "deleted": "", "description": "Install complete", "status": "pending-install"},
        "chart": {"metadata": {"name": "gitlab-runner", "version": "0.85.1", "apiVersion": "v2"},
                  "lock": null, "templates": [], "values": {}, "schema": null, "files": null},
        "config": null,
        "manifest": "",
        "version": 1,
        "namespace": "ci"
    })
}

/// What helm stores in `data.release` (after the API's own base64 is undone).
fn helm_payload(release: &serde_json::Value) -> Vec<u8> {
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(release.to_string().as_bytes()).unwrap();
    STANDARD.encode(gzip.finish().unwrap()).into_bytes()
}

fn release_secret(version: u64, status: &str, payload: Vec<u8>) -> Secret {
    let mut secret = Secret::default();
    secret.metadata.name = Some(format!("sh.helm.release.v1.runner.v{version}"));
    secret.metadata.labels = Some(BTreeMap::from([
        ("name".to_string(), "runner".to_string()),
        ("owner".to_string(), "helm".to_string()),
        ("status".to_string(), status.to_string()),
        ("version".to_string(), version.to_string()),
    ]));
    secret.type_ = Some("helm.sh/release.v1".into());
    secret.data = Some(BTreeMap::from([(
        "release".to_string(),
        ByteString(payload),
    )]));
    secret
}

#[test]
fn decodes_a_helm4_record() {
    let record = decode_release_payload(&helm_payload(&helm4_release_json(3, "deployed"))).unwrap();
    assert_eq!(
        record,
        ReleaseRecord {
            name: "runner".into(),
            namespace: "ci".into(),
            version: 3,
            status: ReleaseStatus::Deployed,
            chart_name: "gitlab-runner".into(),
            chart_version: "0.86.0".into(),
            app_version: Some("18.9.0".into()),
            config: json!({"concurrent": 4, "runners": {"name": "r1"}}),
            manifest: "---\n# Source: gitlab-runner/templates/configmap.yaml\napiVersion: v1\nkind: ConfigMap\n".into(),
            first_deployed: Some("2026-11-29T07:33:15.73Z".into()),
            last_deployed: Some("2026-11-29T08:00:00Z".into()),
            description: Some("Upgrade complete".into()),
            apply_method: Some("ssa".into()),
        }
    );
}

#[test]
fn decodes_a_helm3_record_with_null_config_and_pending_status() {
    let record = decode_release_payload(&helm_payload(&helm3_release_json())).unwrap();
    assert_eq!(record.status, ReleaseStatus::PendingInstall);
    assert!(record.status.is_pending());
    assert_eq!(record.config, json!({}));
    assert_eq!(record.app_version, None);
    assert_eq!(record.apply_method, None);
    assert_eq!(record.chart_version, "0.85.1");
}

#[test]
fn the_api_json_form_is_double_base64_and_decodes_through_k8s_openapi() {
    let payload = helm_payload(&helm4_release_json(1, "deployed"));
    // What the API server sends: the stored bytes base64-encoded once more.
    let wire = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "sh.helm.release.v1.runner.v1", "labels": {"owner": "helm", "name": "runner", "version": "1", "status": "deployed"}},
        "type": "helm.sh/release.v1",
        "data": {"release": STANDARD.encode(&payload)}
    });
    assert!(
        wire["data"]["release"]
            .as_str()
            .unwrap()
            .starts_with("SDRzSUFBQUFBQUFB")
    );
    let secret: Secret = serde_json::from_value(wire).unwrap();
    assert_eq!(
        decode_release_secret(&secret).unwrap().chart_name,
        "gitlab-runner"
    );
}

#[test]
fn uncompressed_json_payloads_are_accepted() {
    let payload = STANDARD
        .encode(helm4_release_json(2, "failed").to_string())
        .into_bytes();
    let record = decode_release_payload(&payload).unwrap();
    assert_eq!((record.version, record.status), (2, ReleaseStatus::Failed));
}

#[test]
fn corrupt_payloads_are_errors() {
    assert!(matches!(
        decode_release_payload(b"%%%not base64"),
        Err(DecodeError::Base64(_))
    ));
    let truncated_gzip = STANDARD.encode([0x1f, 0x8b, 0x08, 0x00, 0x01]).into_bytes();
    assert!(matches!(
        decode_release_payload(&truncated_gzip),
        Err(DecodeError::Gzip(_))
    ));
    let not_json = STANDARD.encode("hello").into_bytes();
    assert!(matches!(
        decode_release_payload(&not_json),
        Err(DecodeError::Json(_))
    ));
    assert_eq!(
        decode_release_secret(&Secret::default()),
        Err(DecodeError::MissingPayload)
    );
}

#[test]
fn newest_revision_wins_by_number_not_by_list_order() {
    let secrets = vec![
        release_secret(
            2,
            "superseded",
            helm_payload(&helm4_release_json(2, "superseded")),
        ),
        release_secret(
            10,
            "pending-upgrade",
            helm_payload(&helm4_release_json(10, "pending-upgrade")),
        ),
        release_secret(
            9,
            "deployed",
            helm_payload(&helm4_release_json(9, "deployed")),
        ),
    ];
    let history = newest_release(&secrets).unwrap().unwrap();
    assert_eq!(history.latest.version, 10);
    assert_eq!(history.latest.status, ReleaseStatus::PendingUpgrade);
    assert_eq!(
        history
            .revisions
            .iter()
            .map(|r| r.version)
            .collect::<Vec<_>>(),
        vec![10, 9, 2]
    );
    assert_eq!(history.last_deployed_revision(), Some(9));
}

#[test]
fn no_secrets_means_no_release_and_a_bad_newest_secret_is_an_error() {
    assert_eq!(newest_release(&[]).unwrap(), None);
    let broken = vec![
        release_secret(
            1,
            "deployed",
            helm_payload(&helm4_release_json(1, "deployed")),
        ),
        release_secret(2, "deployed", b"garbage!".to_vec()),
    ];
    let error = newest_release(&broken).unwrap_err();
    assert!(
        error.to_string().contains("sh.helm.release.v1.runner.v2"),
        "{error}"
    );
}

#[test]
fn revision_falls_back_to_the_name_suffix() {
    let mut secret = release_secret(7, "deployed", Vec::new());
    secret.metadata.labels = None;
    assert_eq!(revision_of(&secret), Some(7));
    assert_eq!(release_selector("runner"), "owner=helm,name=runner");
}

#[test]
fn statuses_round_trip_through_their_text() {
    for text in [
        "unknown",
        "deployed",
        "uninstalled",
        "superseded",
        "failed",
        "uninstalling",
        "pending-install",
        "pending-upgrade",
        "pending-rollback",
        "something-new",
    ] {
        assert_eq!(ReleaseStatus::parse(text).as_str(), text);
    }
}

/// A valid record whose manifest is `pad` bytes of spaces: a few KiB once gzipped.
fn padded_payload(pad: usize) -> Vec<u8> {
    let mut release = helm4_release_json(3, "deployed");
    release["manifest"] = json!(" ".repeat(pad));
    helm_payload(&release)
}

#[test]
fn a_record_that_decompresses_past_the_limit_is_refused_without_reading_it_whole() {
    let payload = padded_payload(2 * 1024 * 1024);
    assert!(payload.len() < 64 * 1024, "{} bytes", payload.len());
    assert_eq!(
        decode_release_payload_within(&payload, 1024 * 1024),
        Err(DecodeError::TooLarge { limit: 1024 * 1024 })
    );
    // The same record within a limit that holds it decodes.
    let record = decode_release_payload_within(&payload, 3 * 1024 * 1024).unwrap();
    assert_eq!(record.manifest.len(), 2 * 1024 * 1024);
}

#[test]
fn the_default_limit_is_64_mib_and_the_error_names_the_secret_and_the_limit() {
    assert_eq!(MAX_RELEASE_JSON_BYTES, 64 * 1024 * 1024);
    // 65 MiB of manifest compresses to about 65 KiB: what a hostile 1 MiB Secret does, smaller.
    let secrets = vec![release_secret(
        4,
        "deployed",
        padded_payload(65 * 1024 * 1024),
    )];
    let error = newest_release(&secrets).unwrap_err().to_string();
    assert!(error.contains("sh.helm.release.v1.runner.v4"), "{error}");
    assert!(error.contains("64 MiB"), "{error}");
}

#[test]
fn the_buffer_starts_at_the_announced_size_within_the_caps() {
    let json = helm4_release_json(1, "deployed").to_string();
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(json.as_bytes()).unwrap();
    let mut gzip = gzip.finish().unwrap();
    assert_eq!(
        super::release::announced_size(&gzip, MAX_RELEASE_JSON_BYTES),
        json.len()
    );
    assert_eq!(super::release::announced_size(&gzip, 10), 11);
    // A trailer announcing 4 GiB reserves no more than the cap.
    let end = gzip.len();
    gzip[end - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        super::release::announced_size(&gzip, MAX_RELEASE_JSON_BYTES),
        8 * 1024 * 1024
    );
    assert_eq!(super::release::announced_size(&[0x1f, 0x8b], 100), 0);
    // Whitespace-wrapped base64 (as some tools write it) still decodes.
    let wrapped: Vec<u8> = helm_payload(&helm4_release_json(1, "deployed"))
        .chunks(60)
        .flat_map(|line| line.iter().copied().chain(std::iter::once(b'\n')))
        .collect();
    assert_eq!(decode_release_payload(&wrapped).unwrap().version, 1);
}

/// A refresh keeps the listing light: the same API JSON read as a [`ListedRecord`] gives the
/// same history as full Secrets, and only the newest revision's payload is decoded (an older
/// one that is not even base64 does not matter).
#[test]
fn a_light_listing_reads_the_same_history_as_full_secrets() {
    let wire = |version: u64, status: &str, release: String| {
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {
                "name": format!("sh.helm.release.v1.runner.v{version}"),
                "labels": {"owner": "helm", "name": "runner", "version": version.to_string(), "status": status},
                "managedFields": [{"manager": "helm", "operation": "Update", "fieldsV1": {"f:data": {".": {}, "f:release": {}}}}]
            },
            "type": "helm.sh/release.v1",
            "data": {"release": release}
        })
    };
    let encoded = |version: u64, status: &str| {
        STANDARD.encode(helm_payload(&helm4_release_json(version, status)))
    };
    let listing = [
        wire(1, "superseded", encoded(1, "superseded")),
        wire(2, "deployed", encoded(2, "deployed")),
    ];
    let full: Vec<Secret> = listing
        .iter()
        .map(|item| serde_json::from_value(item.clone()).unwrap())
        .collect();
    let light: Vec<ListedRecord> = listing
        .iter()
        .map(|item| serde_json::from_value(item.clone()).unwrap())
        .collect();
    let from_full = newest_release_of(&full).unwrap().unwrap();
    let from_light = newest_release_of(&light).unwrap().unwrap();
    assert_eq!(from_light, from_full);
    assert_eq!(from_light.latest.version, 2);
    assert_eq!(from_light.revisions.len(), 2);

    let older_broken: Vec<ListedRecord> = [
        wire(1, "superseded", "not base64 at all!".into()),
        wire(2, "deployed", encoded(2, "deployed")),
    ]
    .into_iter()
    .map(|item| serde_json::from_value(item).unwrap())
    .collect();
    assert_eq!(
        newest_release_of(&older_broken).unwrap().unwrap(),
        from_full
    );

    let newest_broken: Vec<ListedRecord> = [wire(3, "deployed", "!!".into())]
        .into_iter()
        .map(|item| serde_json::from_value(item).unwrap())
        .collect();
    let error = newest_release_of(&newest_broken).unwrap_err().to_string();
    assert!(error.contains("sh.helm.release.v1.runner.v3"), "{error}");
    assert!(error.contains("base64"), "{error}");
}

#[test]
fn a_listed_record_shows_its_payload_by_size_only() {
    let record: ListedRecord = serde_json::from_value(json!({
        "metadata": {"name": "sh.helm.release.v1.runner.v1", "labels": {"owner": "helm"}},
        "data": {"release": "c2VjcmV0LXZhbHVlcw=="}
    }))
    .unwrap();
    let shown = format!("{record:?}");
    assert!(!shown.contains("c2VjcmV0LXZhbHVlcw"), "{shown}");
    assert!(shown.contains("release_bytes: Some(20)"), "{shown}");
    assert!(shown.contains("sh.helm.release.v1.runner.v1"), "{shown}");
}
