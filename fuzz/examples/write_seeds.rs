//! Writes the generated part of the seed corpus (`cargo run -p fuzz-targets --example
//! write_seeds`): DynamicValues of every resource schema in msgpack and JSON, and helm release
//! records. The hand-written seeds (TOML, YAML, PEM) are files in `corpus/` already.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tfplugin::codec::{json, msgpack};
use tfplugin::{Type, Value};

/// A value of `ty` with every attribute set (collections hold one element), `depth` levels deep.
fn sample(ty: &Type, depth: usize) -> Value {
    match ty {
        Type::String => Value::from("gitlab.example.com"),
        Type::Number => Value::from(42_i64),
        Type::Bool => Value::Bool(true),
        Type::List(element) if depth > 0 => Value::List(vec![sample(element, depth - 1)]),
        Type::Set(element) if depth > 0 => Value::Set(vec![sample(element, depth - 1)]),
        Type::Map(element) if depth > 0 => Value::Map(BTreeMap::from([(
            "key".to_owned(),
            sample(element, depth - 1),
        )])),
        Type::Object { attributes, .. } if depth > 0 => Value::Object(
            attributes
                .iter()
                .map(|(name, at)| (name.clone(), sample(at, depth - 1)))
                .collect(),
        ),
        Type::Tuple(types) if depth > 0 => {
            Value::Tuple(types.iter().map(|t| sample(t, depth - 1)).collect())
        }
        Type::Dynamic => Value::Dynamic(Type::String, Box::new(Value::from("dynamic"))),
        _ => Value::Null,
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).expect("corpus directory");
    std::fs::write(dir.join(name), bytes).expect("seed written");
}

fn main() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut types: Vec<(String, Type)> = gitlabrunner::resources::all()
        .iter()
        .map(|r| (r.type_name().to_owned(), r.schema().value_type()))
        .collect();
    types.push(("dynamic".to_owned(), Type::Dynamic));
    for (selector, (name, ty)) in types.iter().enumerate() {
        let selector = u8::try_from(selector).expect("few types");
        for depth in [1, 4] {
            let value = sample(ty, depth);
            let mut bytes = vec![selector];
            bytes.extend(msgpack::encode(ty, &value).expect("msgpack"));
            write(&corpus.join("msgpack"), &format!("{name}-{depth}"), &bytes);
            let mut bytes = vec![selector];
            let encoded = json::encode(ty, &value).expect("json");
            bytes.extend(serde_json::to_vec(&encoded).expect("json bytes"));
            write(&corpus.join("json"), &format!("{name}-{depth}"), &bytes);
        }
        let mut unknown = vec![selector];
        unknown.extend(msgpack::encode(ty, &Value::Unknown).expect("msgpack"));
        write(
            &corpus.join("msgpack"),
            &format!("{name}-unknown"),
            &unknown,
        );
    }

    let release = serde_json::json!({
        "name": "runner", "namespace": "ci", "version": 3, "apply_method": "ssa",
        "info": {"first_deployed": "2026-11-29T07:33:15Z", "last_deployed": "2026-11-29T08:00:00Z",
                 "description": "Upgrade complete", "status": "deployed"},
        "chart": {"metadata": {"name": "gitlab-runner", "version": "0.86.0", "appVersion": "18.9.0"}},
        "config": {"concurrent": 4, "runners": {"name": "r1"}},
        "manifest": "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: runner\ndata:\n  a: b\n"
    })
    .to_string();
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(release.as_bytes()).expect("gzip");
    let mut stored = vec![0u8];
    stored.extend(STANDARD.encode(gzip.finish().expect("gzip")).into_bytes());
    let dir = corpus.join("release_record");
    write(&dir, "stored", &stored);
    write(
        &dir,
        "json-in-base64",
        &[&[1u8][..], release.as_bytes()].concat(),
    );
    write(
        &dir,
        "json-gzipped",
        &[&[2u8][..], release.as_bytes()].concat(),
    );
}
