//! The registry docs under docs/ are generated from the provider's schema (as the real terraform
//! CLI reports it) and must be up to date: regenerate with
//! `UPDATE_DOCS=1 cargo test -p acceptance --test docs`.

use acceptance::docs::{render_all, stale_files, write_all};
use acceptance::tools::workspace_root;
use acceptance::{PROVIDER_SOURCE, TerraformWorkdir, Tools};

#[test]
fn generated_docs_match_the_provider_schema() {
    let tools = Tools::locate();
    let tf = TerraformWorkdir::new(&tools.terraform, &tools.provider);
    tf.write(
        "main.tf",
        &format!(
            "terraform {{\n  required_providers {{\n    gitlabrunner = {{ source = \"{PROVIDER_SOURCE}\" }}\n  }}\n}}\n"
        ),
    );
    let run = tf.run(&["providers", "schema", "-json"]);
    run.success();
    let schema: serde_json::Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("schema is not JSON: {e}"));
    let root = workspace_root();
    let files = render_all(&schema, PROVIDER_SOURCE, &root)
        .unwrap_or_else(|e| panic!("rendering docs: {e}"));
    assert!(
        files.iter().any(|f| f.path.ends_with("index.md")),
        "no docs/index.md generated"
    );
    if std::env::var("UPDATE_DOCS").is_ok_and(|v| v == "1") {
        write_all(&root, &files).unwrap_or_else(|e| panic!("writing docs: {e}"));
        return;
    }
    let stale = stale_files(&root, &files);
    assert!(
        stale.is_empty(),
        "generated docs are stale: {stale:?}\nregenerate with `UPDATE_DOCS=1 cargo test -p acceptance --test docs`"
    );
}
