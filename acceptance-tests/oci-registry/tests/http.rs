//! Distribution-spec behaviour over HTTP: status codes, headers, error bodies, uploads,
//! manifests, tags pagination, referrers, method checks and fault injection.

// Helpers outside #[test] functions unwrap like tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Reply, send, sha256};
use oci_registry_test_server::{Options, TestRegistry};
use serde_json::json;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

fn start() -> TestRegistry {
    TestRegistry::start(Options::default()).unwrap()
}

fn url(registry: &TestRegistry, path: &str) -> String {
    format!("{}{path}", registry.base_url())
}

/// Uploads a blob monolithically; returns its digest.
fn push_blob(registry: &TestRegistry, repo: &str, bytes: &[u8]) -> String {
    let digest = sha256(bytes);
    let reply = send(
        "POST",
        &url(
            registry,
            &format!("/v2/{repo}/blobs/uploads/?digest={digest}"),
        ),
        &[("content-type", "application/octet-stream")],
        bytes,
    );
    assert_eq!(reply.status, 201, "{reply:?}");
    digest
}

/// An image manifest whose config and layer are pushed first; returns the manifest bytes.
fn image_manifest(
    registry: &TestRegistry,
    repo: &str,
    layer: &[u8],
    extra: serde_json::Value,
) -> Vec<u8> {
    let config = br#"{"name":"x"}"#;
    let config_digest = push_blob(registry, repo, config);
    let layer_digest = push_blob(registry, repo, layer);
    let mut manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.example.config+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/octet-stream", "digest": layer_digest, "size": layer.len()}],
    });
    if let (Some(m), Some(e)) = (manifest.as_object_mut(), extra.as_object()) {
        m.extend(e.clone());
    }
    serde_json::to_vec(&manifest).unwrap()
}

fn put_manifest(registry: &TestRegistry, repo: &str, reference: &str, bytes: &[u8]) -> Reply {
    send(
        "PUT",
        &url(registry, &format!("/v2/{repo}/manifests/{reference}")),
        &[("content-type", OCI_MANIFEST)],
        bytes,
    )
}

#[test]
fn base_endpoint_answers_empty_json_with_the_api_version_header() {
    let registry = start();
    let reply = send("GET", &url(&registry, "/v2/"), &[], b"");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!({}));
    assert_eq!(
        reply.header("docker-distribution-api-version"),
        Some("registry/2.0")
    );
    let log = registry.requests();
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].method.as_str(), log[0].path.as_str(), log[0].status),
        ("GET", "/v2/", 200)
    );
    assert_eq!(log[0].auth.as_str(), "none");
}

#[test]
fn monolithic_upload_stores_the_blob_and_serves_it_back() {
    let registry = start();
    let digest = push_blob(&registry, "charts/gitlab-runner", b"hello blob");
    let created = send(
        "POST",
        &url(&registry, &format!("/v2/a/blobs/uploads/?digest={digest}")),
        &[],
        b"hello blob",
    );
    assert_eq!(created.status, 201);
    assert_eq!(
        created.header("location"),
        Some(format!("/v2/a/blobs/{digest}").as_str())
    );
    assert_eq!(
        created.header("docker-content-digest"),
        Some(digest.as_str())
    );

    let head = send(
        "HEAD",
        &url(
            &registry,
            &format!("/v2/charts/gitlab-runner/blobs/{digest}"),
        ),
        &[],
        b"",
    );
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("10"));
    assert_eq!(head.header("docker-content-digest"), Some(digest.as_str()));
    assert_eq!(
        head.header("content-type"),
        Some("application/octet-stream")
    );
    let get = send(
        "GET",
        &url(
            &registry,
            &format!("/v2/charts/gitlab-runner/blobs/{digest}"),
        ),
        &[],
        b"",
    );
    assert_eq!(get.status, 200);
    assert_eq!(get.body, b"hello blob");
    assert_eq!(
        registry.blob("charts/gitlab-runner", &digest).as_deref(),
        Some(&b"hello blob"[..])
    );
}

#[test]
fn monolithic_upload_with_a_wrong_digest_is_refused() {
    let registry = start();
    let wrong = sha256(b"other");
    let reply = send(
        "POST",
        &url(&registry, &format!("/v2/a/blobs/uploads/?digest={wrong}")),
        &[],
        b"content",
    );
    assert_eq!(reply.status, 400);
    assert_eq!(reply.error_code(), "DIGEST_INVALID");
    assert!(registry.blob("a", &wrong).is_none());
    assert!(registry.blob("a", &sha256(b"content")).is_none());
}

#[test]
fn blob_errors_carry_spec_codes() {
    let registry = start();
    let missing = sha256(b"missing");
    let reply = send(
        "GET",
        &url(&registry, &format!("/v2/a/blobs/{missing}")),
        &[],
        b"",
    );
    assert_eq!(
        (reply.status, reply.error_code().as_str()),
        (404, "BLOB_UNKNOWN")
    );
    assert_eq!(
        reply.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let head = send(
        "HEAD",
        &url(&registry, &format!("/v2/a/blobs/{missing}")),
        &[],
        b"",
    );
    assert_eq!(head.status, 404);
    let bad_digest = send("GET", &url(&registry, "/v2/a/blobs/sha256:1234"), &[], b"");
    assert_eq!(
        (bad_digest.status, bad_digest.error_code().as_str()),
        (400, "DIGEST_INVALID")
    );
    let bad_name = send(
        "GET",
        &url(&registry, &format!("/v2/Upper/Case/blobs/{missing}")),
        &[],
        b"",
    );
    assert_eq!(
        (bad_name.status, bad_name.error_code().as_str()),
        (400, "NAME_INVALID")
    );
}

#[test]
fn blobs_are_scoped_to_their_repository_and_can_be_deleted() {
    let registry = start();
    let digest = push_blob(&registry, "a", b"data");
    let elsewhere = send(
        "GET",
        &url(&registry, &format!("/v2/b/blobs/{digest}")),
        &[],
        b"",
    );
    assert_eq!(elsewhere.status, 404);
    let deleted = send(
        "DELETE",
        &url(&registry, &format!("/v2/a/blobs/{digest}")),
        &[],
        b"",
    );
    assert_eq!(deleted.status, 202);
    let gone = send(
        "GET",
        &url(&registry, &format!("/v2/a/blobs/{digest}")),
        &[],
        b"",
    );
    assert_eq!(
        (gone.status, gone.error_code().as_str()),
        (404, "BLOB_UNKNOWN")
    );
    let again = send(
        "DELETE",
        &url(&registry, &format!("/v2/a/blobs/{digest}")),
        &[],
        b"",
    );
    assert_eq!(again.status, 404);
}

#[test]
fn chunked_upload_checks_ranges_and_completes_with_a_final_chunk() {
    let registry = start();
    let started = send(
        "POST",
        &url(&registry, "/v2/charts/x/blobs/uploads/"),
        &[],
        b"",
    );
    assert_eq!(started.status, 202);
    assert_eq!(started.header("range"), Some("0-0"));
    let location = started.header("location").unwrap().to_string();
    let id = started.header("docker-upload-uuid").unwrap().to_string();
    assert_eq!(location, format!("/v2/charts/x/blobs/uploads/{id}"));

    let first = send(
        "PATCH",
        &url(&registry, &location),
        &[
            ("content-range", "0-4"),
            ("content-type", "application/octet-stream"),
        ],
        b"hello",
    );
    assert_eq!(first.status, 202, "{first:?}");
    assert_eq!(first.header("range"), Some("0-4"));
    assert_eq!(first.header("docker-upload-uuid"), Some(id.as_str()));
    let location = first.header("location").unwrap().to_string();

    let out_of_order = send(
        "PATCH",
        &url(&registry, &location),
        &[("content-range", "10-14")],
        b"xxxxx",
    );
    assert_eq!(
        (out_of_order.status, out_of_order.error_code().as_str()),
        (416, "BLOB_UPLOAD_INVALID")
    );
    assert_eq!(out_of_order.header("range"), Some("0-4"));
    let wrong_length = send(
        "PATCH",
        &url(&registry, &location),
        &[("content-range", "5-9")],
        b"abc",
    );
    assert_eq!(wrong_length.status, 416);

    let streamed = send("PATCH", &url(&registry, &location), &[], b", ");
    assert_eq!(
        (streamed.status, streamed.header("range")),
        (202, Some("0-6"))
    );
    let progress = send("GET", &url(&registry, &location), &[], b"");
    assert_eq!(progress.status, 204);
    assert_eq!(progress.header("range"), Some("0-6"));
    assert_eq!(progress.header("docker-upload-uuid"), Some(id.as_str()));

    let content = b"hello, world";
    let digest = sha256(content);
    let wrong = send(
        "PUT",
        &url(&registry, &format!("{location}?digest={}", sha256(b"nope"))),
        &[],
        b"world",
    );
    assert_eq!(
        (wrong.status, wrong.error_code().as_str()),
        (400, "DIGEST_INVALID")
    );
    let no_digest = send("PUT", &url(&registry, &location), &[], b"");
    assert_eq!(
        (no_digest.status, no_digest.error_code().as_str()),
        (400, "DIGEST_INVALID")
    );

    let done = send(
        "PUT",
        &url(&registry, &format!("{location}?digest={digest}")),
        &[("content-range", "7-11")],
        b"world",
    );
    assert_eq!(done.status, 201, "{done:?}");
    assert_eq!(
        done.header("location"),
        Some(format!("/v2/charts/x/blobs/{digest}").as_str())
    );
    assert_eq!(done.header("docker-content-digest"), Some(digest.as_str()));
    assert_eq!(
        registry.blob("charts/x", &digest).as_deref(),
        Some(&content[..])
    );

    let finished = send("GET", &url(&registry, &location), &[], b"");
    assert_eq!(
        (finished.status, finished.error_code().as_str()),
        (404, "BLOB_UPLOAD_UNKNOWN")
    );
}

#[test]
fn upload_sessions_can_be_cancelled_and_belong_to_their_repository() {
    let registry = start();
    let started = send("POST", &url(&registry, "/v2/a/blobs/uploads/"), &[], b"");
    let location = started.header("location").unwrap().to_string();
    let id = started.header("docker-upload-uuid").unwrap();
    let foreign = send(
        "GET",
        &url(&registry, &format!("/v2/b/blobs/uploads/{id}")),
        &[],
        b"",
    );
    assert_eq!(
        (foreign.status, foreign.error_code().as_str()),
        (404, "BLOB_UPLOAD_UNKNOWN")
    );
    assert_eq!(
        send("DELETE", &url(&registry, &location), &[], b"").status,
        204
    );
    let gone = send("PATCH", &url(&registry, &location), &[], b"x");
    assert_eq!(
        (gone.status, gone.error_code().as_str()),
        (404, "BLOB_UPLOAD_UNKNOWN")
    );
    assert_eq!(
        send("DELETE", &url(&registry, &location), &[], b"").status,
        404
    );
}

#[test]
fn absolute_locations_point_at_the_server() {
    let registry = TestRegistry::start(Options {
        absolute_locations: true,
        ..Default::default()
    })
    .unwrap();
    let started = send("POST", &url(&registry, "/v2/a/blobs/uploads/"), &[], b"");
    let location = started.header("location").unwrap().to_string();
    assert!(
        location.starts_with(&format!("{}/v2/a/blobs/uploads/", registry.base_url())),
        "{location}"
    );
    let digest = sha256(b"abs");
    let done = send("PUT", &format!("{location}?digest={digest}"), &[], b"abs");
    assert_eq!(done.status, 201);
    assert_eq!(
        done.header("location"),
        Some(format!("{}/v2/a/blobs/{digest}", registry.base_url()).as_str())
    );
}

#[test]
fn cross_repository_mount_links_existing_blobs_or_opens_a_session() {
    let registry = start();
    let digest = push_blob(&registry, "source/repo", b"shared layer");
    let mounted = send(
        "POST",
        &url(
            &registry,
            &format!("/v2/target/blobs/uploads/?mount={digest}&from=source/repo"),
        ),
        &[],
        b"",
    );
    assert_eq!(mounted.status, 201);
    assert_eq!(
        mounted.header("location"),
        Some(format!("/v2/target/blobs/{digest}").as_str())
    );
    assert_eq!(
        mounted.header("docker-content-digest"),
        Some(digest.as_str())
    );
    assert_eq!(
        registry.blob("target", &digest).as_deref(),
        Some(&b"shared layer"[..])
    );

    let unknown = sha256(b"not there");
    let fallback = send(
        "POST",
        &url(
            &registry,
            &format!("/v2/target/blobs/uploads/?mount={unknown}&from=source/repo"),
        ),
        &[],
        b"",
    );
    assert_eq!(fallback.status, 202);
    assert!(
        fallback
            .header("location")
            .unwrap()
            .starts_with("/v2/target/blobs/uploads/")
    );
    assert!(fallback.header("docker-upload-uuid").is_some());
}

#[test]
fn manifests_round_trip_by_tag_and_digest_with_exact_bytes() {
    let registry = start();
    let bytes = image_manifest(
        &registry,
        "charts/gitlab-runner",
        b"layer",
        json!({"annotations": {"k": "v"}}),
    );
    let digest = sha256(&bytes);
    let created = put_manifest(&registry, "charts/gitlab-runner", "1.2.3_meta", &bytes);
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(
        created.header("location"),
        Some(format!("/v2/charts/gitlab-runner/manifests/{digest}").as_str())
    );
    assert_eq!(
        created.header("docker-content-digest"),
        Some(digest.as_str())
    );
    assert_eq!(created.header("oci-subject"), None);

    for reference in ["1.2.3_meta", digest.as_str()] {
        let get = send(
            "GET",
            &url(
                &registry,
                &format!("/v2/charts/gitlab-runner/manifests/{reference}"),
            ),
            &[("accept", OCI_MANIFEST)],
            b"",
        );
        assert_eq!(get.status, 200);
        assert_eq!(get.body, bytes);
        assert_eq!(get.header("content-type"), Some(OCI_MANIFEST));
        assert_eq!(get.header("docker-content-digest"), Some(digest.as_str()));
        let head = send(
            "HEAD",
            &url(
                &registry,
                &format!("/v2/charts/gitlab-runner/manifests/{reference}"),
            ),
            &[],
            b"",
        );
        assert_eq!(head.status, 200);
        assert_eq!(
            head.header("content-length"),
            Some(bytes.len().to_string().as_str())
        );
        assert_eq!(head.header("docker-content-digest"), Some(digest.as_str()));
    }
    let stored = registry
        .manifest("charts/gitlab-runner", "1.2.3_meta")
        .unwrap();
    assert_eq!(
        (stored.digest.as_str(), stored.media_type.as_str()),
        (digest.as_str(), OCI_MANIFEST)
    );
    assert_eq!(stored.bytes.as_ref(), bytes.as_slice());

    let missing = send(
        "GET",
        &url(&registry, "/v2/charts/gitlab-runner/manifests/9.9.9"),
        &[],
        b"",
    );
    assert_eq!(
        (missing.status, missing.error_code().as_str()),
        (404, "MANIFEST_UNKNOWN")
    );
    let head_missing = send(
        "HEAD",
        &url(&registry, "/v2/charts/gitlab-runner/manifests/9.9.9"),
        &[],
        b"",
    );
    assert_eq!(head_missing.status, 404);
}

#[test]
fn docker_v2_manifests_keep_their_media_type() {
    let registry = start();
    const DOCKER: &str = "application/vnd.docker.distribution.manifest.v2+json";
    let config = push_blob(&registry, "r", b"{}");
    let bytes = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": DOCKER,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": config, "size": 2},
        "layers": [],
    }))
    .unwrap();
    let put = send(
        "PUT",
        &url(&registry, "/v2/r/manifests/latest"),
        &[("content-type", DOCKER)],
        &bytes,
    );
    assert_eq!(put.status, 201);
    let get = send("GET", &url(&registry, "/v2/r/manifests/latest"), &[], b"");
    assert_eq!(get.header("content-type"), Some(DOCKER));
    let odd = send(
        "PUT",
        &url(&registry, "/v2/r/manifests/odd"),
        &[("content-type", "application/vnd.example+json")],
        b"{\"schemaVersion\":2}",
    );
    assert_eq!(
        (odd.status, odd.error_code().as_str()),
        (400, "MANIFEST_INVALID")
    );
}

#[test]
fn manifest_put_validates_content_references_and_digests() {
    let registry = start();
    let bytes = image_manifest(&registry, "r", b"layer", json!({}));

    let by_digest = put_manifest(&registry, "r", &sha256(&bytes), &bytes);
    assert_eq!(by_digest.status, 201);
    assert!(registry.tags("r").is_empty());
    let mismatch = put_manifest(&registry, "r", &sha256(b"other"), &bytes);
    assert_eq!(
        (mismatch.status, mismatch.error_code().as_str()),
        (400, "DIGEST_INVALID")
    );

    let dangling = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.example.config+json", "digest": sha256(br#"{"name":"x"}"#), "size": 12},
        "layers": [{"mediaType": "application/octet-stream", "digest": sha256(b"never pushed"), "size": 12}],
    });
    let reply = put_manifest(
        &registry,
        "r",
        "v1",
        &serde_json::to_vec(&dangling).unwrap(),
    );
    assert_eq!(
        (reply.status, reply.error_code().as_str()),
        (400, "MANIFEST_BLOB_UNKNOWN")
    );
    assert_eq!(
        reply.json()["errors"][0]["detail"]["digest"],
        sha256(b"never pushed")
    );

    let not_json = put_manifest(&registry, "r", "v1", b"{not json");
    assert_eq!(
        (not_json.status, not_json.error_code().as_str()),
        (400, "MANIFEST_INVALID")
    );
    let conflicting = send(
        "PUT",
        &url(&registry, "/v2/r/manifests/v1"),
        &[("content-type", OCI_INDEX)],
        &bytes,
    );
    assert_eq!(
        (conflicting.status, conflicting.error_code().as_str()),
        (400, "MANIFEST_INVALID")
    );
    let bad_tag = put_manifest(&registry, "r", "-bad", &bytes);
    assert_eq!(
        (bad_tag.status, bad_tag.error_code().as_str()),
        (400, "TAG_INVALID")
    );
    let bad_name = put_manifest(&registry, "R", "v1", &bytes);
    assert_eq!(
        (bad_name.status, bad_name.error_code().as_str()),
        (400, "NAME_INVALID")
    );
    assert!(registry.tags("r").is_empty());
}

#[test]
fn image_indexes_require_their_child_manifests() {
    let registry = start();
    let child = image_manifest(&registry, "r", b"layer", json!({}));
    let child_digest = sha256(&child);
    let index = |digest: &str| {
        serde_json::to_vec(&json!({
            "schemaVersion": 2, "mediaType": OCI_INDEX,
            "manifests": [{"mediaType": OCI_MANIFEST, "digest": digest, "size": child.len()}],
        }))
        .unwrap()
    };
    let put_index = |bytes: &[u8]| {
        send(
            "PUT",
            &url(&registry, "/v2/r/manifests/multi"),
            &[("content-type", OCI_INDEX)],
            bytes,
        )
    };
    let early = put_index(&index(&child_digest));
    assert_eq!(
        (early.status, early.error_code().as_str()),
        (400, "MANIFEST_BLOB_UNKNOWN")
    );
    assert_eq!(
        put_manifest(&registry, "r", &child_digest, &child).status,
        201
    );
    assert_eq!(put_index(&index(&child_digest)).status, 201);
    assert_eq!(
        registry.manifest("r", "multi").unwrap().media_type,
        OCI_INDEX
    );
}

#[test]
fn manifests_delete_by_tag_and_by_digest() {
    let registry = start();
    let bytes = image_manifest(&registry, "r", b"layer", json!({}));
    let digest = sha256(&bytes);
    put_manifest(&registry, "r", "one", &bytes);
    put_manifest(&registry, "r", "two", &bytes);
    assert_eq!(
        send("DELETE", &url(&registry, "/v2/r/manifests/one"), &[], b"").status,
        202
    );
    assert_eq!(registry.tags("r"), vec!["two"]);
    assert_eq!(
        send(
            "GET",
            &url(&registry, &format!("/v2/r/manifests/{digest}")),
            &[],
            b""
        )
        .status,
        200
    );
    assert_eq!(
        send(
            "DELETE",
            &url(&registry, &format!("/v2/r/manifests/{digest}")),
            &[],
            b""
        )
        .status,
        202
    );
    assert!(
        registry.tags("r").is_empty(),
        "tags on a deleted manifest go with it"
    );
    let gone = send(
        "GET",
        &url(&registry, &format!("/v2/r/manifests/{digest}")),
        &[],
        b"",
    );
    assert_eq!(
        (gone.status, gone.error_code().as_str()),
        (404, "MANIFEST_UNKNOWN")
    );
    let again = send("DELETE", &url(&registry, "/v2/r/manifests/one"), &[], b"");
    assert_eq!(
        (again.status, again.error_code().as_str()),
        (404, "MANIFEST_UNKNOWN")
    );
}

#[test]
fn tags_list_is_lexical_and_paginates_with_link_headers() {
    let registry = start();
    let unknown = send(
        "GET",
        &url(&registry, "/v2/nothing/here/tags/list"),
        &[],
        b"",
    );
    assert_eq!(
        (unknown.status, unknown.error_code().as_str()),
        (404, "NAME_UNKNOWN")
    );

    let bytes = image_manifest(&registry, "charts/gitlab-runner", b"layer", json!({}));
    for tag in ["b", "1.2.3_meta", "a", "c", "0.86.0-fixture"] {
        assert_eq!(
            put_manifest(&registry, "charts/gitlab-runner", tag, &bytes).status,
            201
        );
    }
    let all = send(
        "GET",
        &url(&registry, "/v2/charts/gitlab-runner/tags/list"),
        &[],
        b"",
    );
    assert_eq!(all.status, 200);
    assert_eq!(
        all.json(),
        json!({"name": "charts/gitlab-runner", "tags": ["0.86.0-fixture", "1.2.3_meta", "a", "b", "c"]})
    );
    assert_eq!(all.header("link"), None);

    let first = send(
        "GET",
        &url(&registry, "/v2/charts/gitlab-runner/tags/list?n=2"),
        &[],
        b"",
    );
    assert_eq!(
        first.json()["tags"],
        json!(["0.86.0-fixture", "1.2.3_meta"])
    );
    let link = first.header("link").unwrap();
    assert_eq!(
        link,
        "</v2/charts/gitlab-runner/tags/list?n=2&last=1.2.3_meta>; rel=\"next\""
    );
    let next_path = link.trim_start_matches('<').split('>').next().unwrap();
    let second = send("GET", &url(&registry, next_path), &[], b"");
    assert_eq!(second.json()["tags"], json!(["a", "b"]));
    let third_path = second
        .header("link")
        .unwrap()
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_string();
    let third = send("GET", &url(&registry, &third_path), &[], b"");
    assert_eq!(third.json()["tags"], json!(["c"]));
    assert_eq!(third.header("link"), None);

    let after = send(
        "GET",
        &url(&registry, "/v2/charts/gitlab-runner/tags/list?last=b"),
        &[],
        b"",
    );
    assert_eq!(after.json()["tags"], json!(["c"]));
    let zero = send(
        "GET",
        &url(&registry, "/v2/charts/gitlab-runner/tags/list?n=0"),
        &[],
        b"",
    );
    assert_eq!(zero.json()["tags"], json!([]));
    let bad = send(
        "GET",
        &url(&registry, "/v2/charts/gitlab-runner/tags/list?n=many"),
        &[],
        b"",
    );
    assert_eq!(
        (bad.status, bad.error_code().as_str()),
        (400, "PAGINATION_NUMBER_INVALID")
    );
    assert_eq!(registry.tags("charts/gitlab-runner").len(), 5);
}

#[test]
fn catalog_lists_repositories() {
    let registry = start();
    push_blob(&registry, "b/x", b"1");
    push_blob(&registry, "a", b"2");
    let reply = send("GET", &url(&registry, "/v2/_catalog"), &[], b"");
    assert_eq!(reply.json(), json!({"repositories": ["a", "b/x"]}));
    assert_eq!(registry.repositories(), vec!["a", "b/x"]);
}

#[test]
fn subjects_answer_oci_subject_and_fill_the_referrers_index() {
    let registry = start();
    let subject_bytes = image_manifest(&registry, "r", b"subject layer", json!({}));
    let subject_digest = sha256(&subject_bytes);
    put_manifest(&registry, "r", "v1", &subject_bytes);

    let empty = send(
        "GET",
        &url(&registry, &format!("/v2/r/referrers/{subject_digest}")),
        &[],
        b"",
    );
    assert_eq!(empty.status, 200);
    assert_eq!(empty.header("content-type"), Some(OCI_INDEX));
    assert_eq!(
        empty.json(),
        json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []})
    );

    let signature = image_manifest(
        &registry,
        "r",
        b"signature",
        json!({
            "artifactType": "application/vnd.example.signature",
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject_digest, "size": subject_bytes.len()},
            "annotations": {"org.example": "yes"},
        }),
    );
    let created = put_manifest(&registry, "r", &sha256(&signature), &signature);
    assert_eq!(created.status, 201);
    assert_eq!(created.header("oci-subject"), Some(subject_digest.as_str()));

    let listed = send(
        "GET",
        &url(&registry, &format!("/v2/r/referrers/{subject_digest}")),
        &[],
        b"",
    );
    assert_eq!(
        listed.json()["manifests"],
        json!([{
            "mediaType": OCI_MANIFEST,
            "digest": sha256(&signature),
            "size": signature.len(),
            "artifactType": "application/vnd.example.signature",
            "annotations": {"org.example": "yes"},
        }])
    );
    let filtered = send(
        "GET",
        &url(
            &registry,
            &format!(
                "/v2/r/referrers/{subject_digest}?artifactType=application/vnd.example.signature"
            ),
        ),
        &[],
        b"",
    );
    assert_eq!(filtered.header("oci-filters-applied"), Some("artifactType"));
    assert_eq!(filtered.json()["manifests"].as_array().unwrap().len(), 1);
    let other = send(
        "GET",
        &url(
            &registry,
            &format!("/v2/r/referrers/{subject_digest}?artifactType=application/other"),
        ),
        &[],
        b"",
    );
    assert_eq!(other.json()["manifests"], json!([]));
    let bad = send(
        "GET",
        &url(&registry, "/v2/r/referrers/sha256:xyz"),
        &[],
        b"",
    );
    assert_eq!(
        (bad.status, bad.error_code().as_str()),
        (400, "DIGEST_INVALID")
    );
}

#[test]
fn unsupported_methods_answer_405_and_unknown_paths_404() {
    let registry = start();
    let put_base = send("PUT", &url(&registry, "/v2/"), &[], b"");
    assert_eq!(
        (put_base.status, put_base.error_code().as_str()),
        (405, "UNSUPPORTED")
    );
    assert_eq!(put_base.header("allow"), Some("GET, HEAD"));
    let post_manifest = send("POST", &url(&registry, "/v2/a/manifests/v1"), &[], b"");
    assert_eq!(
        (post_manifest.status, post_manifest.error_code().as_str()),
        (405, "UNSUPPORTED")
    );
    let nowhere = send("GET", &url(&registry, "/elsewhere"), &[], b"");
    assert_eq!(nowhere.status, 404);
    nowhere.error_code();
    let no_token_service = send("GET", &url(&registry, "/token"), &[], b"");
    assert_eq!(no_token_service.status, 404);
}

#[test]
fn injected_faults_answer_spec_errors_then_stop() {
    let registry = start();
    registry.fail_next(2, 503);
    for _ in 0..2 {
        let reply = send("GET", &url(&registry, "/v2/"), &[], b"");
        assert_eq!(
            (reply.status, reply.error_code().as_str()),
            (503, "UNAVAILABLE")
        );
    }
    assert_eq!(send("GET", &url(&registry, "/v2/"), &[], b"").status, 200);
    registry.fail_next(1, 429);
    assert_eq!(
        send("GET", &url(&registry, "/v2/"), &[], b"").error_code(),
        "TOOMANYREQUESTS"
    );
    registry.fail_next(5, 500);
    registry.fail_next(0, 500);
    assert_eq!(send("GET", &url(&registry, "/v2/"), &[], b"").status, 200);
    let statuses: Vec<u16> = registry.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![503, 503, 200, 429, 200]);
}
