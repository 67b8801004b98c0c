//! Distribution-spec behaviour over HTTP: status codes, headers, error bodies, uploads,
//! manifests, tags pagination, referrers, method checks and fault injection.

// Helpers outside #[test] functions unwrap like tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::http::{Client, Reply, send};
use common::sha256;
use oci_registry_test_server::{Options, TestRegistry};
use serde_json::json;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// A registry with default options, and a client for it.
fn start() -> (TestRegistry, Client) {
    start_with(Options::default())
}

fn start_with(options: Options) -> (TestRegistry, Client) {
    let registry = TestRegistry::start(options).unwrap();
    let api = Client::new(&registry);
    (registry, api)
}

/// Uploads a blob monolithically; returns its digest.
fn push_blob(api: &Client, repo: &str, bytes: &[u8]) -> String {
    let digest = sha256(bytes);
    let reply = api.request(
        "POST",
        &format!("/v2/{repo}/blobs/uploads/?digest={digest}"),
        &[("content-type", "application/octet-stream")],
        bytes,
    );
    assert_eq!(reply.status, 201, "{reply:?}");
    digest
}

/// An upload session opened with `POST /v2/REPO/blobs/uploads/`.
struct Upload {
    location: String,
    id: String,
    range: Option<String>,
}

/// Opens an upload session in `repo`, asserting 202 Accepted.
fn start_upload(api: &Client, repo: &str) -> Upload {
    let started = api.post(&format!("/v2/{repo}/blobs/uploads/"), b"");
    assert_eq!(started.status, 202, "{started:?}");
    Upload {
        location: started.location(),
        id: started.header("docker-upload-uuid").unwrap().to_string(),
        range: started.header("range").map(str::to_string),
    }
}

/// An image manifest whose config and layer are pushed first; returns the manifest bytes.
fn image_manifest(api: &Client, repo: &str, layer: &[u8], extra: serde_json::Value) -> Vec<u8> {
    let config = br#"{"name":"x"}"#;
    let config_digest = push_blob(api, repo, config);
    let layer_digest = push_blob(api, repo, layer);
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

/// `PUT /v2/REPO/manifests/REFERENCE` with `content-type: MEDIA_TYPE`.
fn put_manifest_as(
    api: &Client,
    media_type: &str,
    repo: &str,
    reference: &str,
    bytes: &[u8],
) -> Reply {
    api.request(
        "PUT",
        &format!("/v2/{repo}/manifests/{reference}"),
        &[("content-type", media_type)],
        bytes,
    )
}

/// `PUT` of an OCI image manifest.
fn put_manifest(api: &Client, repo: &str, reference: &str, bytes: &[u8]) -> Reply {
    put_manifest_as(api, OCI_MANIFEST, repo, reference, bytes)
}

/// Stores an OCI image manifest under `reference`, asserting 201; returns its digest.
fn store_manifest(api: &Client, repo: &str, reference: &str, bytes: &[u8]) -> String {
    let created = put_manifest(api, repo, reference, bytes);
    assert_eq!(created.status, 201, "{reference}: {created:?}");
    let digest = sha256(bytes);
    assert_eq!(
        created.header("docker-content-digest"),
        Some(digest.as_str())
    );
    digest
}

/// Asserts `reply` is 201 Created for the blob `digest` stored at `location`.
#[track_caller]
fn assert_blob_created(reply: &Reply, location: &str, digest: &str) {
    assert_eq!(reply.status, 201, "{reply:?}");
    assert_eq!(reply.location(), location);
    assert_eq!(reply.header("docker-content-digest"), Some(digest));
}

/// The path in a `Link: <PATH>; rel="next"` header, which must be present.
fn next_page(reply: &Reply) -> String {
    let link = reply.header("link").expect("a Link header");
    let path = link.trim_start_matches('<').split('>').next().unwrap();
    path.to_string()
}

#[test]
fn base_endpoint_answers_empty_json_with_the_api_version_header() {
    let (registry, api) = start();
    let reply = api.get("/v2/");
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
    let (registry, api) = start();
    let digest = push_blob(&api, "charts/gitlab-runner", b"hello blob");
    let created = api.post(
        &format!("/v2/a/blobs/uploads/?digest={digest}"),
        b"hello blob",
    );
    assert_blob_created(&created, &format!("/v2/a/blobs/{digest}"), &digest);

    let blob = format!("/v2/charts/gitlab-runner/blobs/{digest}");
    let head = api.head(&blob);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("10"));
    assert_eq!(head.header("docker-content-digest"), Some(digest.as_str()));
    assert_eq!(
        head.header("content-type"),
        Some("application/octet-stream")
    );
    let get = api.get(&blob);
    assert_eq!(get.status, 200);
    assert_eq!(get.body, b"hello blob");
    assert_eq!(
        registry.blob("charts/gitlab-runner", &digest).as_deref(),
        Some(&b"hello blob"[..])
    );
}

#[test]
fn monolithic_upload_with_a_wrong_digest_is_refused() {
    let (registry, api) = start();
    let wrong = sha256(b"other");
    let reply = api.post(&format!("/v2/a/blobs/uploads/?digest={wrong}"), b"content");
    reply.assert_error(400, "DIGEST_INVALID");
    assert!(registry.blob("a", &wrong).is_none());
    assert!(registry.blob("a", &sha256(b"content")).is_none());
}

#[test]
fn blob_errors_carry_spec_codes() {
    let (_registry, api) = start();
    let missing = format!("/v2/a/blobs/{}", sha256(b"missing"));
    let reply = api.get(&missing);
    reply.assert_error(404, "BLOB_UNKNOWN");
    assert_eq!(
        reply.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(api.head(&missing).status, 404);
    api.get("/v2/a/blobs/sha256:1234")
        .assert_error(400, "DIGEST_INVALID");
    api.get(&format!("/v2/Upper/Case/blobs/{}", sha256(b"missing")))
        .assert_error(400, "NAME_INVALID");
}

#[test]
fn blobs_are_scoped_to_their_repository_and_can_be_deleted() {
    let (_registry, api) = start();
    let digest = push_blob(&api, "a", b"data");
    let blob = format!("/v2/a/blobs/{digest}");
    assert_eq!(api.get(&format!("/v2/b/blobs/{digest}")).status, 404);
    assert_eq!(api.delete(&blob).status, 202);
    api.get(&blob).assert_error(404, "BLOB_UNKNOWN");
    assert_eq!(api.delete(&blob).status, 404);
}

#[test]
fn chunked_upload_checks_ranges_and_completes_with_a_final_chunk() {
    let (registry, api) = start();
    let upload = start_upload(&api, "charts/x");
    assert_eq!(upload.range.as_deref(), Some("0-0"));
    assert_eq!(
        upload.location,
        format!("/v2/charts/x/blobs/uploads/{}", upload.id)
    );
    let id = upload.id.as_str();

    let first = api.request(
        "PATCH",
        &upload.location,
        &[
            ("content-range", "0-4"),
            ("content-type", "application/octet-stream"),
        ],
        b"hello",
    );
    assert_eq!(first.status, 202, "{first:?}");
    assert_eq!(first.header("range"), Some("0-4"));
    assert_eq!(first.header("docker-upload-uuid"), Some(id));
    let location = first.location();

    let out_of_order = api.request("PATCH", &location, &[("content-range", "10-14")], b"xxxxx");
    out_of_order.assert_error(416, "BLOB_UPLOAD_INVALID");
    assert_eq!(out_of_order.header("range"), Some("0-4"));
    let wrong_length = api.request("PATCH", &location, &[("content-range", "5-9")], b"abc");
    assert_eq!(wrong_length.status, 416);

    let streamed = api.request("PATCH", &location, &[], b", ");
    assert_eq!(
        (streamed.status, streamed.header("range")),
        (202, Some("0-6"))
    );
    let progress = api.get(&location);
    assert_eq!(progress.status, 204);
    assert_eq!(progress.header("range"), Some("0-6"));
    assert_eq!(progress.header("docker-upload-uuid"), Some(id));

    let content = b"hello, world";
    let digest = sha256(content);
    let wrong_digest = format!("{location}?digest={}", sha256(b"nope"));
    api.request("PUT", &wrong_digest, &[], b"world")
        .assert_error(400, "DIGEST_INVALID");
    api.request("PUT", &location, &[], b"")
        .assert_error(400, "DIGEST_INVALID");

    let done = api.request(
        "PUT",
        &format!("{location}?digest={digest}"),
        &[("content-range", "7-11")],
        b"world",
    );
    assert_blob_created(&done, &format!("/v2/charts/x/blobs/{digest}"), &digest);
    assert_eq!(
        registry.blob("charts/x", &digest).as_deref(),
        Some(&content[..])
    );

    api.get(&location).assert_error(404, "BLOB_UPLOAD_UNKNOWN");
}

#[test]
fn upload_sessions_can_be_cancelled_and_belong_to_their_repository() {
    let (_registry, api) = start();
    let upload = start_upload(&api, "a");
    api.get(&format!("/v2/b/blobs/uploads/{}", upload.id))
        .assert_error(404, "BLOB_UPLOAD_UNKNOWN");
    assert_eq!(api.delete(&upload.location).status, 204);
    api.request("PATCH", &upload.location, &[], b"x")
        .assert_error(404, "BLOB_UPLOAD_UNKNOWN");
    assert_eq!(api.delete(&upload.location).status, 404);
}

#[test]
fn absolute_locations_point_at_the_server() {
    let (registry, api) = start_with(Options {
        absolute_locations: true,
        ..Default::default()
    });
    let location = start_upload(&api, "a").location;
    assert!(
        location.starts_with(&format!("{}/v2/a/blobs/uploads/", registry.base_url())),
        "{location}"
    );
    let digest = sha256(b"abs");
    let done = send("PUT", &format!("{location}?digest={digest}"), &[], b"abs");
    let absolute = format!("{}/v2/a/blobs/{digest}", registry.base_url());
    assert_blob_created(&done, &absolute, &digest);
}

#[test]
fn cross_repository_mount_links_existing_blobs_or_opens_a_session() {
    let (registry, api) = start();
    let digest = push_blob(&api, "source/repo", b"shared layer");
    let mounted = api.post(
        &format!("/v2/target/blobs/uploads/?mount={digest}&from=source/repo"),
        b"",
    );
    assert_blob_created(&mounted, &format!("/v2/target/blobs/{digest}"), &digest);
    assert_eq!(
        registry.blob("target", &digest).as_deref(),
        Some(&b"shared layer"[..])
    );

    let unknown = sha256(b"not there");
    let fallback = api.post(
        &format!("/v2/target/blobs/uploads/?mount={unknown}&from=source/repo"),
        b"",
    );
    assert_eq!(fallback.status, 202);
    assert!(fallback.location().starts_with("/v2/target/blobs/uploads/"));
    assert!(fallback.header("docker-upload-uuid").is_some());
}

#[test]
fn manifests_round_trip_by_tag_and_digest_with_exact_bytes() {
    let (registry, api) = start();
    let bytes = image_manifest(
        &api,
        "charts/gitlab-runner",
        b"layer",
        json!({"annotations": {"k": "v"}}),
    );
    let digest = sha256(&bytes);
    let created = put_manifest(&api, "charts/gitlab-runner", "1.2.3_meta", &bytes);
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(
        created.location(),
        format!("/v2/charts/gitlab-runner/manifests/{digest}")
    );
    assert_eq!(
        created.header("docker-content-digest"),
        Some(digest.as_str())
    );
    assert_eq!(created.header("oci-subject"), None);

    for reference in ["1.2.3_meta", digest.as_str()] {
        let path = format!("/v2/charts/gitlab-runner/manifests/{reference}");
        let get = api.request("GET", &path, &[("accept", OCI_MANIFEST)], b"");
        assert_eq!(get.status, 200);
        assert_eq!(get.body, bytes);
        assert_eq!(get.header("content-type"), Some(OCI_MANIFEST));
        assert_eq!(get.header("docker-content-digest"), Some(digest.as_str()));
        let head = api.head(&path);
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

    let missing = "/v2/charts/gitlab-runner/manifests/9.9.9";
    api.get(missing).assert_error(404, "MANIFEST_UNKNOWN");
    assert_eq!(api.head(missing).status, 404);
}

#[test]
fn docker_v2_manifests_keep_their_media_type() {
    let (_registry, api) = start();
    const DOCKER: &str = "application/vnd.docker.distribution.manifest.v2+json";
    let config = push_blob(&api, "r", b"{}");
    let bytes = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": DOCKER,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": config, "size": 2},
        "layers": [],
    }))
    .unwrap();
    let put = put_manifest_as(&api, DOCKER, "r", "latest", &bytes);
    assert_eq!(put.status, 201);
    let get = api.get("/v2/r/manifests/latest");
    assert_eq!(get.header("content-type"), Some(DOCKER));
    let odd = put_manifest_as(
        &api,
        "application/vnd.example+json",
        "r",
        "odd",
        b"{\"schemaVersion\":2}",
    );
    odd.assert_error(400, "MANIFEST_INVALID");
}

#[test]
fn manifest_put_validates_content_references_and_digests() {
    let (registry, api) = start();
    let bytes = image_manifest(&api, "r", b"layer", json!({}));

    let by_digest = put_manifest(&api, "r", &sha256(&bytes), &bytes);
    assert_eq!(by_digest.status, 201);
    assert!(registry.tags("r").is_empty());
    put_manifest(&api, "r", &sha256(b"other"), &bytes).assert_error(400, "DIGEST_INVALID");

    let dangling = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.example.config+json", "digest": sha256(br#"{"name":"x"}"#), "size": 12},
        "layers": [{"mediaType": "application/octet-stream", "digest": sha256(b"never pushed"), "size": 12}],
    });
    let reply = put_manifest(&api, "r", "v1", &serde_json::to_vec(&dangling).unwrap());
    reply.assert_error(400, "MANIFEST_BLOB_UNKNOWN");
    assert_eq!(
        reply.json()["errors"][0]["detail"]["digest"],
        sha256(b"never pushed")
    );

    put_manifest(&api, "r", "v1", b"{not json").assert_error(400, "MANIFEST_INVALID");
    // A manifest body sent as another media type than the one it declares.
    put_manifest_as(&api, OCI_INDEX, "r", "v1", &bytes).assert_error(400, "MANIFEST_INVALID");
    put_manifest(&api, "r", "-bad", &bytes).assert_error(400, "TAG_INVALID");
    put_manifest(&api, "R", "v1", &bytes).assert_error(400, "NAME_INVALID");
    assert!(registry.tags("r").is_empty());
}

#[test]
fn image_indexes_require_their_child_manifests() {
    let (registry, api) = start();
    let child = image_manifest(&api, "r", b"layer", json!({}));
    let child_digest = sha256(&child);
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": child_digest, "size": child.len()}],
    }))
    .unwrap();
    put_manifest_as(&api, OCI_INDEX, "r", "multi", &index)
        .assert_error(400, "MANIFEST_BLOB_UNKNOWN");
    store_manifest(&api, "r", &child_digest, &child);
    assert_eq!(
        put_manifest_as(&api, OCI_INDEX, "r", "multi", &index).status,
        201
    );
    assert_eq!(
        registry.manifest("r", "multi").unwrap().media_type,
        OCI_INDEX
    );
}

#[test]
fn manifests_delete_by_tag_and_by_digest() {
    let (registry, api) = start();
    let bytes = image_manifest(&api, "r", b"layer", json!({}));
    let digest = store_manifest(&api, "r", "one", &bytes);
    store_manifest(&api, "r", "two", &bytes);
    assert_eq!(api.delete("/v2/r/manifests/one").status, 202);
    assert_eq!(registry.tags("r"), vec!["two"]);
    let by_digest = format!("/v2/r/manifests/{digest}");
    assert_eq!(api.get(&by_digest).status, 200);
    assert_eq!(api.delete(&by_digest).status, 202);
    assert!(
        registry.tags("r").is_empty(),
        "tags on a deleted manifest go with it"
    );
    api.get(&by_digest).assert_error(404, "MANIFEST_UNKNOWN");
    api.delete("/v2/r/manifests/one")
        .assert_error(404, "MANIFEST_UNKNOWN");
}

#[test]
fn tags_list_is_lexical_and_paginates_with_link_headers() {
    let (registry, api) = start();
    api.get("/v2/nothing/here/tags/list")
        .assert_error(404, "NAME_UNKNOWN");

    let bytes = image_manifest(&api, "charts/gitlab-runner", b"layer", json!({}));
    for tag in ["b", "1.2.3_meta", "a", "c", "0.86.0-fixture"] {
        store_manifest(&api, "charts/gitlab-runner", tag, &bytes);
    }
    let all = api.get("/v2/charts/gitlab-runner/tags/list");
    assert_eq!(all.status, 200);
    assert_eq!(
        all.json(),
        json!({"name": "charts/gitlab-runner", "tags": ["0.86.0-fixture", "1.2.3_meta", "a", "b", "c"]})
    );
    assert_eq!(all.header("link"), None);

    let first = api.get("/v2/charts/gitlab-runner/tags/list?n=2");
    assert_eq!(
        first.json()["tags"],
        json!(["0.86.0-fixture", "1.2.3_meta"])
    );
    assert_eq!(
        first.header("link"),
        Some("</v2/charts/gitlab-runner/tags/list?n=2&last=1.2.3_meta>; rel=\"next\"")
    );
    let second = api.get(&next_page(&first));
    assert_eq!(second.json()["tags"], json!(["a", "b"]));
    let third = api.get(&next_page(&second));
    assert_eq!(third.json()["tags"], json!(["c"]));
    assert_eq!(third.header("link"), None);

    for (query, tags) in [("last=b", json!(["c"])), ("n=0", json!([]))] {
        let page = api.get(&format!("/v2/charts/gitlab-runner/tags/list?{query}"));
        assert_eq!(page.json()["tags"], tags, "?{query}");
    }
    api.get("/v2/charts/gitlab-runner/tags/list?n=many")
        .assert_error(400, "PAGINATION_NUMBER_INVALID");
    assert_eq!(registry.tags("charts/gitlab-runner").len(), 5);
}

#[test]
fn catalog_lists_repositories() {
    let (registry, api) = start();
    push_blob(&api, "b/x", b"1");
    push_blob(&api, "a", b"2");
    let reply = api.get("/v2/_catalog");
    assert_eq!(reply.json(), json!({"repositories": ["a", "b/x"]}));
    assert_eq!(registry.repositories(), vec!["a", "b/x"]);
}

#[test]
fn subjects_answer_oci_subject_and_fill_the_referrers_index() {
    let (_registry, api) = start();
    let subject_bytes = image_manifest(&api, "r", b"subject layer", json!({}));
    let subject_digest = store_manifest(&api, "r", "v1", &subject_bytes);
    let referrers = format!("/v2/r/referrers/{subject_digest}");

    let empty = api.get(&referrers);
    assert_eq!(empty.status, 200);
    assert_eq!(empty.header("content-type"), Some(OCI_INDEX));
    assert_eq!(
        empty.json(),
        json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []})
    );

    let signature = image_manifest(
        &api,
        "r",
        b"signature",
        json!({
            "artifactType": "application/vnd.example.signature",
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject_digest, "size": subject_bytes.len()},
            "annotations": {"org.example": "yes"},
        }),
    );
    let created = put_manifest(&api, "r", &sha256(&signature), &signature);
    assert_eq!(created.status, 201);
    assert_eq!(created.header("oci-subject"), Some(subject_digest.as_str()));

    assert_eq!(
        api.get(&referrers).json()["manifests"],
        json!([{
            "mediaType": OCI_MANIFEST,
            "digest": sha256(&signature),
            "size": signature.len(),
            "artifactType": "application/vnd.example.signature",
            "annotations": {"org.example": "yes"},
        }])
    );
    let filtered = api.get(&format!(
        "{referrers}?artifactType=application/vnd.example.signature"
    ));
    assert_eq!(filtered.header("oci-filters-applied"), Some("artifactType"));
    assert_eq!(filtered.json()["manifests"].as_array().unwrap().len(), 1);
    let other = api.get(&format!("{referrers}?artifactType=application/other"));
    assert_eq!(other.json()["manifests"], json!([]));
    api.get("/v2/r/referrers/sha256:xyz")
        .assert_error(400, "DIGEST_INVALID");
}

#[test]
fn unsupported_methods_answer_405_and_unknown_paths_404() {
    let (_registry, api) = start();
    let put_base = api.request("PUT", "/v2/", &[], b"");
    put_base.assert_error(405, "UNSUPPORTED");
    assert_eq!(put_base.header("allow"), Some("GET, HEAD"));
    api.post("/v2/a/manifests/v1", b"")
        .assert_error(405, "UNSUPPORTED");
    let nowhere = api.get("/elsewhere");
    assert_eq!(nowhere.status, 404);
    nowhere.error_code();
    assert_eq!(api.get("/token").status, 404, "no token service");
}

#[test]
fn injected_faults_answer_spec_errors_then_stop() {
    let (registry, api) = start();
    registry.fail_next(2, 503);
    for _ in 0..2 {
        api.get("/v2/").assert_error(503, "UNAVAILABLE");
    }
    assert_eq!(api.get("/v2/").status, 200);
    registry.fail_next(1, 429);
    assert_eq!(api.get("/v2/").error_code(), "TOOMANYREQUESTS");
    registry.fail_next(5, 500);
    registry.fail_next(0, 500);
    assert_eq!(api.get("/v2/").status, 200);
    let statuses: Vec<u16> = registry.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![503, 503, 200, 429, 200]);
}
