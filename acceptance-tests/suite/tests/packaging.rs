//! Release packaging: `.goreleaser.yaml` has the structure the Terraform registry needs,
//! `scripts/package.sh` produces the same archive layout locally, and the archive installs from a
//! filesystem mirror with `terraform init` and no network.

use std::fs;
use std::path::Path;
use std::process::Command;

use acceptance::tools::workspace_root;
use acceptance::{PROVIDER_SOURCE, TerraformWorkdir, Tools};
use serde_yaml_ng::Value as Yaml;
use sha2::{Digest, Sha256};

fn workspace_version(root: &Path) -> String {
    let manifest = fs::read_to_string(root.join("Cargo.toml")).expect("read Cargo.toml");
    let section = manifest
        .split("[workspace.package]")
        .nth(1)
        .expect("[workspace.package] in Cargo.toml");
    section
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .expect("version in [workspace.package]")
        .to_string()
}

fn host_os_arch() -> (&'static str, &'static str) {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    (os, arch)
}

#[test]
fn goreleaser_config_builds_every_platform_into_registry_named_archives() {
    let root = workspace_root();
    let text = fs::read_to_string(root.join(".goreleaser.yaml")).expect("read .goreleaser.yaml");
    let config: Yaml = serde_yaml_ng::from_str(&text).expect(".goreleaser.yaml is YAML");
    assert_eq!(config["version"].as_u64(), Some(2));
    assert_eq!(
        config["project_name"].as_str(),
        Some("terraform-provider-gitlabrunner")
    );

    let build = &config["builds"][0];
    assert_eq!(build["builder"].as_str(), Some("rust"));
    assert_eq!(
        build["binary"].as_str(),
        Some("terraform-provider-gitlabrunner_v{{ .Version }}"),
        "the registry expects the binary named terraform-provider-<type>_v<version>"
    );
    let targets: Vec<&str> = build["targets"]
        .as_sequence()
        .expect("targets list")
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    for (os_marker, arch_marker) in [
        ("linux", "x86_64"),
        ("linux", "aarch64"),
        ("apple-darwin", "x86_64"),
        ("apple-darwin", "aarch64"),
        ("windows", "x86_64"),
        ("windows", "aarch64"),
    ] {
        assert!(
            targets
                .iter()
                .any(|t| t.contains(os_marker) && t.starts_with(arch_marker)),
            "no {arch_marker} {os_marker} target in {targets:?}"
        );
    }

    let archive = &config["archives"][0];
    assert_eq!(
        archive["formats"]
            .as_sequence()
            .map(|f| f.iter().filter_map(Yaml::as_str).collect::<Vec<_>>()),
        Some(vec!["zip"])
    );
    assert_eq!(
        archive["name_template"].as_str(),
        Some("{{ .ProjectName }}_{{ .Version }}_{{ .Os }}_{{ .Arch }}")
    );
    assert_eq!(
        config["checksum"]["name_template"].as_str(),
        Some("{{ .ProjectName }}_{{ .Version }}_SHA256SUMS")
    );
    assert_eq!(config["checksum"]["algorithm"].as_str(), Some("sha256"));
    assert_eq!(config["signs"][0]["artifacts"].as_str(), Some("checksum"));
    let sign_args: Vec<&str> = config["signs"][0]["args"]
        .as_sequence()
        .expect("sign args")
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert!(sign_args.contains(&"--detach-sign"), "{sign_args:?}");
    let manifest_extra = &config["release"]["extra_files"][0];
    assert_eq!(
        manifest_extra["glob"].as_str(),
        Some("terraform-registry-manifest.json")
    );
    assert_eq!(
        manifest_extra["name_template"].as_str(),
        Some("{{ .ProjectName }}_{{ .Version }}_manifest.json")
    );

    let registry_manifest: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(root.join("terraform-registry-manifest.json")).expect("read manifest"),
    )
    .expect("manifest is JSON");
    assert_eq!(registry_manifest["version"], 1);
    assert_eq!(
        registry_manifest["metadata"]["protocol_versions"],
        serde_json::json!(["6.0"])
    );
}

#[test]
fn package_script_archive_installs_from_a_filesystem_mirror_offline() {
    let tools = Tools::locate();
    let root = workspace_root();
    let version = workspace_version(&root);
    let (os, arch) = host_os_arch();
    let dist = tempfile::tempdir().expect("temp dir");

    let out = Command::new("bash")
        .arg(root.join("scripts/package.sh"))
        .args(["--binary"])
        .arg(&tools.provider)
        .args(["--out"])
        .arg(dist.path())
        .output()
        .expect("run scripts/package.sh");
    assert!(
        out.status.success(),
        "package.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let name = "terraform-provider-gitlabrunner";
    let zip_name = format!("{name}_{version}_{os}_{arch}.zip");
    let zip_path = dist.path().join(&zip_name);
    assert!(zip_path.is_file(), "{zip_name} not produced");

    // The archive holds exactly the versioned binary, executable.
    let listing = Command::new("python3")
        .args([
            "-c",
            "import sys,zipfile;z=zipfile.ZipFile(sys.argv[1]);[print(i.filename, oct(i.external_attr>>16)) for i in z.infolist()]",
        ])
        .arg(&zip_path)
        .output()
        .expect("list the zip");
    let listing = String::from_utf8_lossy(&listing.stdout);
    let entries: Vec<&str> = listing.lines().collect();
    assert_eq!(entries.len(), 1, "zip entries: {entries:?}");
    let (entry, mode) = entries[0].split_once(' ').expect("name and mode");
    assert_eq!(entry, format!("{name}_v{version}"));
    assert!(
        mode.ends_with("755"),
        "binary not executable in the zip: {mode}"
    );

    // SHA256SUMS covers the archive and the manifest with the right digests.
    let sums = fs::read_to_string(dist.path().join(format!("{name}_{version}_SHA256SUMS")))
        .expect("read SHA256SUMS");
    for file in [zip_name.clone(), format!("{name}_{version}_manifest.json")] {
        let digest = hex::encode(Sha256::digest(
            fs::read(dist.path().join(&file)).expect("read"),
        ));
        assert!(
            sums.lines().any(|l| l == format!("{digest}  {file}")),
            "SHA256SUMS lacks a correct line for {file}:\n{sums}"
        );
    }

    // terraform init from a packed filesystem mirror, with no network and no dev_overrides.
    let mirror = tempfile::tempdir().expect("mirror dir");
    let provider_dir = mirror
        .path()
        .join("registry.terraform.io/gitlabrunner/gitlabrunner");
    fs::create_dir_all(&provider_dir).expect("mirror layout");
    fs::copy(&zip_path, provider_dir.join(&zip_name)).expect("copy archive into mirror");

    let mut tf = TerraformWorkdir::new(&tools.terraform, &tools.provider);
    let cli_config = tf.path().join("mirror.tfrc");
    fs::write(
        &cli_config,
        format!(
            "provider_installation {{\n  filesystem_mirror {{\n    path    = \"{}\"\n    include = [\"registry.terraform.io/gitlabrunner/*\"]\n  }}\n}}\n",
            mirror.path().display()
        ),
    )
    .expect("write CLI config");
    tf.set_env("TF_CLI_CONFIG_FILE", cli_config.display().to_string());
    tf.write(
        "main.tf",
        &format!(
            "terraform {{\n  required_providers {{\n    gitlabrunner = {{\n      source  = \"{PROVIDER_SOURCE}\"\n      version = \"{version}\"\n    }}\n  }}\n}}\n"
        ),
    );
    let init = tf.run(&["init", "-input=false", "-no-color"]);
    init.success();
    assert!(
        init.stdout
            .contains(&format!("Installed gitlabrunner/gitlabrunner v{version}")),
        "{init:?}"
    );
    let lock = fs::read_to_string(tf.path().join(".terraform.lock.hcl")).expect("lock file");
    assert!(lock.contains("h1:"), "no h1: hash pinned:\n{lock}");
    let schema = tf.run(&["providers", "schema", "-json"]);
    schema.success();
    assert!(schema.stdout.contains("gitlabrunner_release"), "{schema:?}");
}
