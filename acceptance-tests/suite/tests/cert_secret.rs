//! `gitlabrunner_cert_secret` end to end: real terraform against the Kubernetes API test
//! server (or a real cluster): the `<host>.crt` key, certificate facts, updates, rename,
//! `source_secret` copies that follow their source, drift repair, import, ownership,
//! plan-time certificate errors and warnings.

mod secret_support;

use acceptance::{KubeWorld, TerraformWorkdir};
use secret_support::{
    assert_fails_with, attr, b64, certificate, ok, secret_data, secret_labels, unwrap_lines,
    workdir,
};
use serde_json::json;

const ADDRESS: &str = "gitlabrunner_cert_secret.certs";
const FILE: &str = "gitlab.example.com.crt";

/// A resource block; `body` holds the host and certificate lines.
fn config(namespace: &str, name: &str, body: &str) -> String {
    format!(
        r#"
resource "gitlabrunner_cert_secret" "certs" {{
  namespace = "{namespace}"
  name      = "{name}"
  {body}
}}
"#
    )
}

/// Writes `pem` to `cert.pem` and returns the attribute line that reads it.
fn pem_file(dir: &TerraformWorkdir, pem: &str) -> &'static str {
    dir.write("cert.pem", pem);
    "certificate_pem = file(\"${path.module}/cert.pem\")"
}

#[test]
fn create_plan_update_rename_and_destroy() {
    let world = KubeWorld::start();
    let ns = world.create_namespace("cert");
    let dir = workdir(&world);
    let leaf = certificate(&["gitlab.example.com"], (2099, 1, 1), false);
    let ca = certificate(&[], (2099, 1, 1), true);
    let pem_line = pem_file(&dir, &leaf);
    dir.write("ca.pem", &ca);
    let body = format!(
        "gitlab_url = \"https://gitlab.example.com:8443/\"\n  {pem_line}\n  extra_files = {{ \"ca.crt\" = file(\"${{path.module}}/ca.pem\") }}\n  labels = {{ team = \"ci\" }}"
    );
    dir.write("main.tf", &config(&ns, "gitlab-certs", &body));
    let run = dir.apply();
    run.success();
    assert!(
        !unwrap_lines(&run.output()).contains("Certificate Expires Soon"),
        "{run:?}"
    );

    let data = secret_data(&world, &ns, "gitlab-certs").expect("Secret created");
    assert_eq!(data[FILE], leaf, "the certificate sits under <host>.crt");
    assert_eq!(data["ca.crt"], ca);
    assert_eq!(data.len(), 2);
    assert_eq!(
        secret_labels(&world, &ns, "gitlab-certs")["app.kubernetes.io/managed-by"],
        "terraform-provider-gitlabrunner"
    );
    assert_eq!(attr(&dir, ADDRESS, "file_name"), json!(FILE));
    assert_eq!(
        attr(&dir, ADDRESS, "dns_names"),
        json!(["gitlab.example.com"])
    );
    assert_eq!(
        attr(&dir, ADDRESS, "not_after"),
        json!("2099-01-01T00:00:00Z")
    );
    let fingerprint = attr(&dir, ADDRESS, "sha256_fingerprint");
    assert_eq!(
        fingerprint.as_str().map(str::len),
        Some(95),
        "{fingerprint}"
    );
    assert_eq!(
        attr(&dir, ADDRESS, "id"),
        json!(format!("{ns}/gitlab-certs"))
    );
    dir.plan().expect_code(0);

    // A renewed certificate: update in place, fingerprint changes.
    let renewed = certificate(&["gitlab.example.com"], (2098, 6, 1), false);
    dir.write("cert.pem", &renewed);
    let plan = dir.plan();
    plan.expect_code(2);
    assert!(
        plan.stdout.contains("update in-place") && plan.stdout.contains(&format!("\"{FILE}\"")),
        "{plan:?}"
    );
    dir.apply().success();
    assert_eq!(
        secret_data(&world, &ns, "gitlab-certs").expect("Secret")[FILE],
        renewed
    );
    assert_ne!(attr(&dir, ADDRESS, "sha256_fingerprint"), fingerprint);
    assert_eq!(
        attr(&dir, ADDRESS, "not_after"),
        json!("2098-06-01T00:00:00Z")
    );
    dir.plan().expect_code(0);

    // Rename: replace.
    dir.write("main.tf", &config(&ns, "gitlab-certs-2", &body));
    let plan = dir.plan();
    plan.expect_code(2);
    assert!(plan.stdout.contains("must be replaced"), "{plan:?}");
    dir.apply().success();
    assert!(secret_data(&world, &ns, "gitlab-certs").is_none());
    assert!(secret_data(&world, &ns, "gitlab-certs-2").is_some());

    dir.destroy().success();
    assert!(secret_data(&world, &ns, "gitlab-certs-2").is_none());
}

#[test]
fn a_source_secret_is_copied_and_followed() {
    let world = KubeWorld::start();
    let ns = world.create_namespace("certsrc");
    let chain = certificate(&["*.example.com"], (2099, 1, 1), false);
    let dir = workdir(&world);
    dir.write("chain.pem", &chain);
    ok(
        &world.kubectl(&[
            "create",
            "secret",
            "generic",
            "gitlab-wildcard-tls-chain",
            "-n",
            &ns,
            &format!(
                "--from-file=gitlab.example.com.crt={}",
                dir.path().join("chain.pem").display()
            ),
        ]),
        "kubectl create secret",
    );
    let body = format!(
        "gitlab_hostname = \"gitlab.example.com\"\n  source_secret {{\n    namespace = \"{ns}\"\n    name = \"gitlab-wildcard-tls-chain\"\n    key = \"gitlab.example.com.crt\"\n  }}"
    );
    dir.write("main.tf", &config(&ns, "runner-certs", &body));
    dir.apply().success();
    assert_eq!(
        secret_data(&world, &ns, "runner-certs").expect("copy")[FILE],
        chain
    );
    assert_eq!(attr(&dir, ADDRESS, "dns_names"), json!(["*.example.com"]));
    dir.plan().expect_code(0);

    // The source is renewed outside Terraform: the plan shows it and apply copies it.
    let renewed = certificate(&["*.example.com"], (2098, 1, 1), false);
    world.edit_by_hand(
        "secret",
        &ns,
        "gitlab-wildcard-tls-chain",
        &json!({"data": {"gitlab.example.com.crt": b64(&renewed)}}),
    );
    let plan = dir.plan();
    plan.expect_code(2);
    assert!(plan.stdout.contains("sha256_fingerprint"), "{plan:?}");
    dir.apply().success();
    assert_eq!(
        secret_data(&world, &ns, "runner-certs").expect("copy")[FILE],
        renewed
    );
    dir.plan().expect_code(0);

    // A wrong key is reported with the keys that exist.
    let wrong = body.replace("key = \"gitlab.example.com.crt\"", "key = \"tls.crt\"");
    dir.write("main.tf", &config(&ns, "runner-certs", &wrong));
    assert_fails_with(
        &dir.plan(),
        &[
            "Key Not In Source Secret",
            "has no key \"tls.crt\"",
            "gitlab.example.com.crt",
        ],
    );
}

#[test]
fn drift_made_outside_terraform_is_planned_and_repaired() {
    let world = KubeWorld::start();
    let ns = world.create_namespace("certdrift");
    let dir = workdir(&world);
    let pem = certificate(&["gitlab.example.com"], (2099, 1, 1), false);
    let body = format!(
        "gitlab_hostname = \"gitlab.example.com\"\n  {}",
        pem_file(&dir, &pem)
    );
    dir.write("main.tf", &config(&ns, "certs", &body));
    dir.apply().success();

    ok(
        &world.kubectl(&["delete", "secret", "certs", "-n", &ns]),
        "kubectl delete",
    );
    let plan = dir.plan();
    plan.expect_code(2);
    assert!(plan.stdout.contains("will be created"), "{plan:?}");
    dir.apply().success();
    dir.plan().expect_code(0);

    let other = certificate(&["evil.example.com"], (2099, 1, 1), false);
    world.edit_by_hand("secret", &ns, "certs", &json!({"data": {FILE: b64(&other)}, "metadata": {"labels": {"extra": "x"}, "annotations": {"note": "hand-made"}}}));
    let plan = dir.plan();
    plan.expect_code(2);
    assert!(
        plan.stdout.contains(&format!("\"{FILE}\""))
            && plan.stdout.contains("\"extra\"")
            && plan.stdout.contains("\"hand-made\""),
        "{plan:?}"
    );
    dir.apply().success();
    assert_eq!(
        secret_data(&world, &ns, "certs").expect("Secret")[FILE],
        pem
    );
    assert!(!secret_labels(&world, &ns, "certs").contains_key("extra"));
    let annotations =
        world.get_json("secret", &ns, "certs").expect("Secret")["metadata"]["annotations"].clone();
    assert!(
        annotations.get("note").is_none(),
        "hand-made annotations are removed: {annotations}"
    );
    dir.plan().expect_code(0);
}

#[test]
fn import_then_an_empty_plan_and_foreign_secrets_are_refused() {
    let world = KubeWorld::start();
    let ns = world.create_namespace("certimp");
    let dir = workdir(&world);
    let pem = certificate(&["gitlab.example.com"], (2099, 1, 1), false);
    let pem_line = pem_file(&dir, &pem);
    ok(
        &world.kubectl(&[
            "create",
            "secret",
            "generic",
            "existing",
            "-n",
            &ns,
            &format!(
                "--from-file={FILE}={}",
                dir.path().join("cert.pem").display()
            ),
        ]),
        "kubectl create secret",
    );
    dir.write(
        "main.tf",
        &config(
            &ns,
            "existing",
            &format!("gitlab_hostname = \"gitlab.example.com\"\n  {pem_line}"),
        ),
    );
    assert_fails_with(
        &dir.apply(),
        &[
            "Object Already Exists",
            "terraform import gitlabrunner_cert_secret.<resource name>",
        ],
    );
    dir.import(ADDRESS, &format!("{ns}/existing")).success();
    dir.plan().expect_code(0);
    assert_eq!(attr(&dir, ADDRESS, "file_name"), json!(FILE));
    dir.destroy().success();
    assert!(secret_data(&world, &ns, "existing").is_none());
}

#[test]
fn bad_certificates_and_hosts_get_diagnostics_and_warnings() {
    let world = KubeWorld::start();
    let ns = world.create_namespace("certbad");
    let dir = workdir(&world);
    let good = certificate(&["gitlab.example.com"], (2099, 1, 1), false);
    let errors: Vec<(String, Vec<&str>)> = vec![
        (
            "gitlab_hostname = \"gitlab.example.com\"\n  certificate_pem = \"-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\\n\"".into(),
            vec!["Invalid Certificate", "certificate_pem PEM block 1 is not a valid X.509 certificate"],
        ),
        (
            "gitlab_hostname = \"gitlab.example.com\"\n  certificate_pem = \"not a certificate\"".into(),
            vec!["Invalid Certificate", "holds no PEM block"],
        ),
        (format!("certificate_pem = {good:?}"), vec!["Missing GitLab Host", "Set gitlab_url or gitlab_hostname"]),
        (
            format!("gitlab_url = \"https://gitlab.example.com\"\n  gitlab_hostname = \"gitlab.example.com\"\n  certificate_pem = {good:?}"),
            vec!["Conflicting Attributes", "Set only one of gitlab_url and gitlab_hostname"],
        ),
        ("gitlab_hostname = \"gitlab.example.com\"".into(), vec!["Missing Certificate", "Set certificate_pem or source_secret"]),
        (
            format!("gitlab_url = \"gitlab.example.com\"\n  certificate_pem = {good:?}"),
            vec!["Invalid GitLab URL", "gitlab_url is not a URL"],
        ),
        (
            format!("gitlab_hostname = \"gitlab.example.com\"\n  certificate_pem = {good:?}\n  extra_files = {{ \"gitlab.example.com.crt\" = \"x\" }}"),
            vec!["File Name Clash"],
        ),
    ];
    for (body, needles) in errors {
        dir.write("main.tf", &config(&ns, "certs", &body));
        assert_fails_with(&dir.validate(), &needles);
    }

    // Warnings: expired, and names that do not cover the host.
    let expired = certificate(&["other.example.com"], (2021, 1, 1), false);
    let body = format!(
        "gitlab_url = \"https://gitlab.example.com\"\n  {}",
        pem_file(&dir, &expired)
    );
    dir.write("main.tf", &config(&ns, "certs", &body));
    let run = dir.apply();
    run.success();
    let text = unwrap_lines(&run.output());
    assert!(
        text.contains("Certificate Expired") && text.contains("expired on 2021-01-01T00:00:00Z"),
        "{run:?}"
    );
    assert!(
        text.contains("Certificate Does Not Match The GitLab Host")
            && text.contains("other.example.com"),
        "{run:?}"
    );
    assert!(
        secret_data(&world, &ns, "certs").is_some(),
        "warnings do not stop the apply"
    );
}
