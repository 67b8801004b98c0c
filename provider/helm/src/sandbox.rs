//! A private directory per helm operation: HOME, XDG and helm directories, the kubeconfig and
//! the values files, all inside one 0700 temp dir that is removed when the sandbox is dropped.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use kube_connection::ResolvedConnection;
use tempfile::TempDir;

use crate::error::HelmError;

/// helm's private world for one operation. Dropping it deletes everything in it (values,
/// kubeconfig, repository credentials, caches).
#[derive(Debug)]
pub struct HelmSandbox {
    dir: TempDir,
    kubeconfig: PathBuf,
    values_written: usize,
}

const SUBDIRS: [&str; 4] = ["home", "cache", "config", "data"];

impl HelmSandbox {
    /// Creates the private directory and writes `connection` as its kubeconfig.
    pub fn new(connection: &ResolvedConnection) -> Result<Self, HelmError> {
        let mut builder = tempfile::Builder::new();
        builder.prefix("gitlabrunner-helm-");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            builder.permissions(std::fs::Permissions::from_mode(0o700));
        }
        let dir = builder
            .tempdir()
            .map_err(|error| HelmError::Sandbox(error.to_string()))?;
        for sub in SUBDIRS {
            std::fs::create_dir(dir.path().join(sub))
                .map_err(|error| HelmError::Sandbox(error.to_string()))?;
        }
        let kubeconfig = connection
            .write_private_kubeconfig(dir.path())
            .map_err(|error| HelmError::Sandbox(error.to_string()))?;
        Ok(Self {
            dir,
            kubeconfig,
            values_written: 0,
        })
    }

    /// The private kubeconfig (mode 0600).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The sandbox root.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a values file (mode 0600) and returns its path.
    pub fn write_values(&mut self, yaml: &str) -> Result<PathBuf, HelmError> {
        self.values_written += 1;
        let path = self
            .dir
            .path()
            .join(format!("values-{}.yaml", self.values_written));
        let mut file =
            create_private(&path).map_err(|error| HelmError::Sandbox(error.to_string()))?;
        file.write_all(yaml.as_bytes())
            .map_err(|error| HelmError::Sandbox(error.to_string()))?;
        Ok(path)
    }

    /// Writes the repository/registry CA bundle (mode 0600) and returns its path.
    pub fn write_repository_ca(&self, pem: &str) -> Result<PathBuf, HelmError> {
        let path = self.dir.path().join("repository-ca.pem");
        let mut file =
            create_private(&path).map_err(|error| HelmError::Sandbox(error.to_string()))?;
        file.write_all(pem.as_bytes())
            .map_err(|error| HelmError::Sandbox(error.to_string()))?;
        Ok(path)
    }

    /// The environment variables that point helm, client-go and exec plugins' caches at the
    /// sandbox: `HOME`, `XDG_{CACHE,CONFIG,DATA}_HOME`, `HELM_{CACHE,CONFIG,DATA}_HOME`,
    /// `KUBECONFIG`.
    pub fn environment(&self) -> Vec<(&'static str, PathBuf)> {
        let root = self.dir.path();
        vec![
            ("HOME", root.join("home")),
            ("XDG_CACHE_HOME", root.join("cache")),
            ("XDG_CONFIG_HOME", root.join("config")),
            ("XDG_DATA_HOME", root.join("data")),
            ("HELM_CACHE_HOME", root.join("cache").join("helm")),
            ("HELM_CONFIG_HOME", root.join("config").join("helm")),
            ("HELM_DATA_HOME", root.join("data").join("helm")),
            ("KUBECONFIG", self.kubeconfig.clone()),
        ]
    }
}

#[cfg(unix)]
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube_connection::KubernetesConnection;

    fn connection() -> ResolvedConnection {
        KubernetesConnection {
            host: Some("https://127.0.0.1:6443".into()),
            token: Some("t".into()),
            ..Default::default()
        }
        .resolve(&|_| None)
        .unwrap()
    }

    #[cfg(unix)]
    #[test]
    fn values_and_kubeconfig_are_private_and_removed_on_drop() {
        use std::os::unix::fs::PermissionsExt as _;
        let mut sandbox = HelmSandbox::new(&connection()).unwrap();
        let values = sandbox.write_values("concurrent: 4\n").unwrap();
        let second = sandbox.write_values("{}").unwrap();
        assert_ne!(values, second);
        let ca = sandbox
            .write_repository_ca("-----BEGIN CERTIFICATE-----\n")
            .unwrap();
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&values), 0o600);
        assert_eq!(mode(&ca), 0o600);
        assert!(ca.starts_with(sandbox.path()));
        assert_eq!(mode(sandbox.kubeconfig()), 0o600);
        assert_eq!(mode(sandbox.path()), 0o700);
        assert_eq!(std::fs::read_to_string(&values).unwrap(), "concurrent: 4\n");
        let root = sandbox.path().to_path_buf();
        drop(sandbox);
        assert!(!root.exists());
        assert!(!values.exists());
    }

    #[test]
    fn environment_points_everything_inside_the_sandbox() {
        let sandbox = HelmSandbox::new(&connection()).unwrap();
        for (name, path) in sandbox.environment() {
            assert!(
                path.starts_with(sandbox.path()),
                "{name} = {}",
                path.display()
            );
        }
    }
}
