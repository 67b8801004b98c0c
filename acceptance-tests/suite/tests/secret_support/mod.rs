//! Helpers shared by the token and cert Secret acceptance tests.

#![allow(dead_code)]

use std::collections::BTreeMap;

use acceptance::{KubeWorld, PROVIDER_SOURCE, TerraformRun, TerraformWorkdir};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, date_time_ymd};
use serde_json::Value;

/// A Terraform working directory for `world` with the provider block written.
pub fn workdir(world: &KubeWorld) -> TerraformWorkdir {
    let mut dir = TerraformWorkdir::new(&world.tools().terraform, &world.tools().provider);
    dir.set_env("TF_LOG", "debug");
    dir.write("provider.tf", &world.provider_block());
    dir.write(
        "versions.tf",
        &format!("terraform {{\n  required_providers {{\n    gitlabrunner = {{\n      source = \"{PROVIDER_SOURCE}\"\n    }}\n  }}\n}}\n"),
    );
    dir
}

/// Panics with the command's output unless it exited 0.
pub fn ok(out: &std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The live Secret's decoded data, or `None` when it does not exist.
pub fn secret_data(
    world: &KubeWorld,
    namespace: &str,
    name: &str,
) -> Option<BTreeMap<String, String>> {
    let secret = world.get_json("secret", namespace, name)?;
    let data = secret["data"].as_object().cloned().unwrap_or_default();
    Some(
        data.into_iter()
            .map(|(k, v)| {
                let bytes = STANDARD
                    .decode(v.as_str().unwrap_or_default())
                    .expect("base64 data");
                (k, String::from_utf8(bytes).expect("UTF-8 data"))
            })
            .collect(),
    )
}

/// The live Secret's labels.
pub fn secret_labels(world: &KubeWorld, namespace: &str, name: &str) -> BTreeMap<String, String> {
    let secret = world
        .get_json("secret", namespace, name)
        .expect("the Secret exists");
    secret["metadata"]["labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// `value` base64-encoded, for merge patches of `data`.
pub fn b64(value: &str) -> String {
    STANDARD.encode(value)
}

/// The API path of a Secret, for `admin().edit`.
pub fn secret_path(namespace: &str, name: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/secrets/{name}")
}

/// Attribute `name` of the resource at `address` in state.
pub fn attr(dir: &TerraformWorkdir, address: &str, name: &str) -> Value {
    dir.resource_attributes(address)
        .unwrap_or_else(|| panic!("no {address} in state:\n{}", dir.state_raw()))[name]
        .clone()
}

/// Asserts `run` failed and its output contains every needle.
#[track_caller]
pub fn assert_fails_with(run: &TerraformRun, needles: &[&str]) {
    assert_eq!(run.code, 1, "expected failure: {run:?}");
    let text = unwrap_lines(&run.output());
    for needle in needles {
        assert!(text.contains(needle), "output lacks {needle:?}: {run:?}");
    }
}

/// Terraform wraps diagnostics at ~80 columns and draws a box margin (`│ `); this joins the
/// lines back so tests can look for whole sentences.
pub fn unwrap_lines(output: &str) -> String {
    output
        .lines()
        .map(|l| l.trim_start_matches('│').trim())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A certificate for `names` valid until `until` (year, month, day); `ca` makes it a CA.
pub fn certificate(names: &[&str], until: (i32, u8, u8), ca: bool) -> String {
    let mut params =
        CertificateParams::new(names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
            .expect("params");
    params.not_before = date_time_ymd(2020, 1, 1);
    params.not_after = date_time_ymd(until.0, until.1, until.2);
    if ca {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    }
    let key = KeyPair::generate().expect("key");
    params.self_signed(&key).expect("self-signed").pem()
}

/// The output without the configuration lines Terraform quotes under a diagnostic
/// (`  6:   runner_token = "…"`), which are the user's own text: what is left is what the
/// provider said.
pub fn diagnostics_only(output: &str) -> String {
    output
        .lines()
        .filter(|l| {
            let t = l.trim_start_matches('│').trim_start();
            !t.split_once(':')
                .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        })
        .collect::<Vec<_>>()
        .join("\n")
}
