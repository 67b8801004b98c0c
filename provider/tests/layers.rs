//! The layers point one way (provider/ARCHITECTURE.md): a lower layer never names a higher one.
//! Reads the sources, so a new `use crate::resources::…` in `drain/` fails here, not in review.

use std::fs;
use std::path::{Path, PathBuf};

/// A layer (directory or file under `provider/`) and the modules it must not name.
const RULES: &[(&str, &[&str])] = &[
    (
        "src/drain",
        // No tfplugin either: the drain returns typed results; the release makes diagnostics.
        &[
            "crate::resources",
            "crate::functions",
            "crate::provider",
            "tfplugin::",
        ],
    ),
    (
        "src/kube",
        &[
            "crate::resources",
            "crate::drain",
            "crate::functions",
            "crate::provider",
        ],
    ),
    (
        "src/config.rs",
        &[
            "crate::resources",
            "crate::drain",
            "crate::functions",
            "crate::provider",
        ],
    ),
    (
        // The ownership rule returns a KubeError, so the error may not name ownership back (the
        // label names both quote are in kube/identity.rs, below both).
        "src/kube/error.rs",
        &["ownership::"],
    ),
    (
        "src/certificates.rs",
        // Certificate reading sits below the provider block and the resources that both use it.
        &[
            "crate::resources",
            "crate::config",
            "crate::drain",
            "crate::functions",
            "crate::provider",
        ],
    ),
    (
        "src/certificates",
        &[
            "crate::resources",
            "crate::config",
            "crate::drain",
            "crate::functions",
            "crate::provider",
        ],
    ),
];

/// Known exceptions (ARCHITECTURE.md, "Known exceptions"): a file and the path it may still name.
const KNOWN: &[(&str, &str)] = &[];

fn sources(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut files = Vec::new();
    for entry in fs::read_dir(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())) {
        let entry = entry.expect("directory entry").path();
        if entry.is_dir() {
            files.extend(sources(&entry));
        } else if entry.extension().is_some_and(|ext| ext == "rs") {
            files.push(entry);
        }
    }
    files
}

/// Every line of the layer that names a forbidden module (comments excepted).
fn violations(root: &Path, layer: &str, forbidden: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    let path = root.join(layer);
    assert!(path.exists(), "{layer} is gone: update RULES");
    for file in sources(&path) {
        let text = fs::read_to_string(&file).expect("source file");
        let relative = file.strip_prefix(root).expect("under the crate");
        for (number, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            let allowed = |name: &&str| {
                KNOWN.iter().any(|(known_file, path)| {
                    relative == Path::new(known_file)
                        && path.starts_with(*name)
                        && code.contains(path)
                })
            };
            for name in forbidden.iter().filter(|name| code.contains(**name)) {
                if !allowed(name) {
                    found.push(format!("{}:{}: {code}", relative.display(), number + 1));
                }
            }
        }
    }
    found
}

#[test]
fn lower_layers_never_name_higher_ones() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let found: Vec<String> = RULES
        .iter()
        .flat_map(|(layer, forbidden)| violations(root, layer, forbidden))
        .collect();
    assert!(
        found.is_empty(),
        "dependencies against the direction of the layers (see ARCHITECTURE.md):\n{}",
        found.join("\n")
    );
}
