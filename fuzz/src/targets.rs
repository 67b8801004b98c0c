//! One function per external decoder. Each takes arbitrary bytes and must neither panic nor
//! allocate without bound; where a decoder accepts its input, a few properties are checked.

use std::io::Write as _;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tfplugin::Type;
use tfplugin::codec::json::UnknownAttributes;
use tfplugin::codec::{json, msgpack};

/// A named fuzz target and the tokens its mutations splice in.
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
    pub dictionary: &'static [&'static [u8]],
}

pub const ALL: &[Target] = &[
    Target {
        name: "msgpack",
        run: dynamic_value_msgpack,
        dictionary: &[
            b"\xc0",
            b"\xc2",
            b"\xc3",
            b"\xd4\x00\x00",
            b"\xc7\x03\x0c\x81\x01\xc3",
            b"\xdc\x00\x10",
            b"\xdd\xff\xff\xff\xff",
            b"\xde\x00\x02",
            b"\xdf\x7f\xff\xff\xff",
            b"\xa1a",
            b"\xa6string",
            b"\xc4\x08\"string\"",
            b"\x92",
            b"\x81",
            b"\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00",
            b"\xa51e400",
        ],
    },
    Target {
        name: "json",
        run: dynamic_value_json,
        dictionary: &[
            b"{",
            b"}",
            b"[",
            b"]",
            b"\"",
            b":",
            b",",
            b"null",
            b"1e400",
            b"-0",
            b"\"\\u0000\"",
            b"\"value\"",
            b"\"type\"",
            b"[\"list\",\"string\"]",
            b"\"dynamic\"",
        ],
    },
    Target {
        name: "runner_toml",
        run: runner_toml,
        dictionary: &[
            b"[[runners]]\n",
            b"[runners.kubernetes]\n",
            b"executor = \"kubernetes\"\n",
            b"name = ",
            b"{{ .Values.x }}",
            b"{{- if .x }}",
            b"{{ end }}",
            b"'''",
            b"\"\"\"",
            b" = ",
            b"\n",
            b"[",
            b"]",
            b"{",
            b"}",
            b"\xc3\xa9",
            b"privileged = true\n",
            b"token = \"glrt-x\"\n",
        ],
    },
    Target {
        name: "release_record",
        run: release_record,
        dictionary: &[
            b"H4sI",
            b"=",
            b"==",
            b"\n",
            b"{\"manifest\":\"",
            b"\"config\":",
            b"\"info\":{\"status\":\"deployed\"}",
            b"\"version\":",
            b"18446744073709551616",
        ],
    },
    Target {
        name: "manifest_yaml",
        run: manifest_yaml,
        dictionary: &[
            b"---\n",
            b"[",
            b"]",
            b"{",
            b"}",
            b"\"",
            b"'",
            b"# ",
            b"!t ",
            b"&a ",
            b"*a",
            b"- ",
            b": ",
            b"\n",
            b"|\n  ",
            b">-\n",
            b"kind: List\nitems:\n",
            b"apiVersion: v1\n",
            b"metadata: {name: a}\n",
            b"<<: *a\n",
            b"\\\"",
        ],
    },
    Target {
        name: "values_yaml",
        run: values_yaml,
        dictionary: &[
            b"[",
            b"]",
            b"{",
            b"}",
            b"\"",
            b"'",
            b"# ",
            b"!!str ",
            b"&a ",
            b"*a",
            b"- ",
            b": ",
            b"\n",
            b"|\n  ",
            b"runners:\n  config: |\n",
            b"~",
            b"null",
        ],
    },
    Target {
        name: "pem",
        run: pem,
        dictionary: &[
            b"-----BEGIN CERTIFICATE-----\n",
            b"-----END CERTIFICATE-----\n",
            b"-----BEGIN PRIVATE KEY-----\n",
            b"MII",
            b"=",
            b"\n",
            b"\r\n",
        ],
    },
];

/// The target called `name`.
pub fn by_name(name: &str) -> Option<&'static Target> {
    ALL.iter().find(|target| target.name == name)
}

/// The types DynamicValues are decoded as: the resources' own schemas and a few plain ones. The
/// first input byte picks one.
fn types() -> &'static [Type] {
    static TYPES: OnceLock<Vec<Type>> = OnceLock::new();
    TYPES.get_or_init(|| {
        let mut types: Vec<Type> = gitlabrunner::resources::all()
            .iter()
            .map(|resource| resource.schema().value_type())
            .collect();
        types.extend([
            Type::Dynamic,
            Type::String,
            Type::Number,
            Type::Bool,
            Type::list(Type::Dynamic),
            Type::map(Type::String),
            Type::object([("a", Type::String), ("b", Type::list(Type::Number))]),
        ]);
        types
    })
}

fn split_type(data: &[u8]) -> Option<(&'static Type, &[u8])> {
    let (&selector, rest) = data.split_first()?;
    let types = types();
    Some((&types[usize::from(selector) % types.len()], rest))
}

/// tfplugin DynamicValue.msgpack: what Terraform sends in every request.
pub fn dynamic_value_msgpack(data: &[u8]) {
    let Some((ty, bytes)) = split_type(data) else {
        return;
    };
    if let Ok(value) = msgpack::decode(ty, bytes)
        && let Ok(again) = msgpack::encode(ty, &value)
    {
        // What we write, we read back.
        if let Err(error) = msgpack::decode(ty, &again) {
            panic!("re-encoded value does not decode: {error}");
        }
    }
}

/// tfplugin DynamicValue.json / stored state JSON.
pub fn dynamic_value_json(data: &[u8]) {
    let Some((ty, bytes)) = split_type(data) else {
        return;
    };
    for unknown in [UnknownAttributes::Drop, UnknownAttributes::Reject] {
        if let Ok((value, _)) = json::decode_bytes(ty, bytes, unknown)
            && let Ok(again) = json::encode(ty, &value)
            && let Err(error) = json::decode(ty, &again, UnknownAttributes::Reject)
        {
            panic!("re-encoded value does not decode: {error}");
        }
    }
}

/// The runner `config.toml` validator, on user text.
pub fn runner_toml(data: &[u8]) {
    // Invalid UTF-8 becomes U+FFFD: the decoders take text, and every input should reach them.
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();
    let lines = text.split('\n').count();
    for finding in gitlab_runner_chart::validate_runner_config(text) {
        if let Some(position) = finding.position {
            assert!(
                position.line >= 1 && position.line <= lines && position.column >= 1,
                "{position:?} outside a text of {lines} lines"
            );
        }
    }
}

/// helm's release record: base64(gzip(JSON)). The first byte says which layer the rest feeds:
/// the payload as stored, JSON to wrap in base64 only, or JSON to gzip and wrap, so mutations
/// also reach the inner layers.
pub fn release_record(data: &[u8]) {
    let Some((&layer, rest)) = data.split_first() else {
        return;
    };
    let payload = match layer % 3 {
        0 => rest.to_vec(),
        1 => STANDARD.encode(rest).into_bytes(),
        _ => {
            let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            if gzip.write_all(rest).is_err() {
                return;
            }
            match gzip.finish() {
                Ok(bytes) => STANDARD.encode(bytes).into_bytes(),
                Err(_) => return,
            }
        }
    };
    // A small limit keeps each run cheap; the production limit is the same code path.
    let _ = helm_driver::release::decode_release_payload_within(&payload, 1024 * 1024);
}

/// A release manifest (multi-document YAML), plus the nesting bound's promise: never below the
/// depth of a JSON document (JSON is flow YAML).
pub fn manifest_yaml(data: &[u8]) {
    // Invalid UTF-8 becomes U+FFFD: the decoders take text, and every input should reach them.
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();
    let _ = helm_driver::parse_manifest(text, "ns");
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
        let bound = yaml_guard::max_flow_depth_bound(text);
        assert!(
            bound >= json_depth(&value),
            "bound {bound} below the JSON depth {}",
            json_depth(&value)
        );
    }
}

/// The release's `values` documents.
pub fn values_yaml(data: &[u8]) {
    // Invalid UTF-8 becomes U+FFFD: the decoders take text, and every input should reach them.
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();
    let _ = gitlab_runner_chart::values::parse_user_values(text);
}

/// PEM certificate chains (`certificate_pem`, CA bundles) and the checks run on them.
pub fn pem(data: &[u8]) {
    use gitlabrunner::certificates::{covers_host, expired, parse_chain};
    use gitlabrunner::resources::cert_secret::findings::findings;
    let Some((&days, pem)) = data.split_first() else {
        return;
    };
    if let Ok(chain) = parse_chain(pem) {
        let now = time::OffsetDateTime::now_utc();
        let warn_days = i64::from(days).pow(4) * if days % 2 == 0 { 1 } else { -1 };
        let _ = findings(&chain, "gitlab.example.com", warn_days, now);
        let _ = expired(&chain, now);
        for cert in &chain {
            let _ = covers_host(cert, "10.0.0.1");
        }
    }
}

fn json_depth(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Array(items) => 1 + items.iter().map(json_depth).max().unwrap_or(0),
        serde_json::Value::Object(map) => 1 + map.values().map(json_depth).max().unwrap_or(0),
        _ => 0,
    }
}
