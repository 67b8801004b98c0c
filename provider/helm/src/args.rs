//! Pure argv builders for the helm commands the provider runs. Flag spellings are checked against
//! helm 3.19 and 4.1 `--help` (see `tests/real_helm.rs`); everything emitted here also exists in
//! helm 3.8 unless noted.
//!
//! Passwords never go into argv (argv is visible in `ps`): repository and registry credentials
//! are given to `helm repo add` / `helm registry login` on stdin (`--password-stdin`), in helm's
//! private configuration directory, before the `upgrade`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::HelmError;
use crate::version::HelmGeneration;

/// The alias under which a repository with credentials is added to helm's private config.
pub const REPOSITORY_ALIAS: &str = "gitlabrunner-chart-repo";

/// Maximum release name length helm accepts.
pub const MAX_RELEASE_NAME_LENGTH: usize = 53;

/// Where the chart comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChartSource {
    /// A chart repository (`https://charts.gitlab.io`) and a chart name in it.
    Repository { url: String, chart: String },
    /// An OCI reference, `oci://registry.example/charts/gitlab-runner`.
    Oci { reference: String },
    /// A chart directory or `.tgz` on disk (air-gapped installs).
    Local { path: PathBuf },
}

/// Credentials for the chart repository or OCI registry. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct RepositoryCredentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for RepositoryCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RepositoryCredentials")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// How helm reaches the chart repository or OCI registry (not used for local charts).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChartTransport {
    /// PEM bundle of the CAs that sign the repository's or registry's certificate: written to a
    /// file in the sandbox and given as `--ca-file` (to `repo add` / `registry login` too).
    pub ca_pem: Option<String>,
    /// `--insecure-skip-tls-verify` (`registry login --insecure`).
    pub insecure_skip_tls_verify: bool,
    /// `--plain-http`: an OCI registry served over plain HTTP (helm 3.13+).
    pub plain_http: bool,
}

/// `helm upgrade --install`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeInstall {
    pub release: String,
    pub namespace: String,
    pub chart: ChartSource,
    /// `--version` (a version or a constraint).
    pub version: Option<String>,
    pub create_namespace: bool,
    /// helm 3 `--wait`, helm 4 `--wait=watcher`.
    pub wait: bool,
    /// `--timeout <seconds>s`.
    pub timeout: Option<Duration>,
    /// helm 3 `--atomic`, helm 4 `--rollback-on-failure` (both imply waiting).
    pub atomic: bool,
    /// `--history-max`.
    pub history_max: Option<u32>,
    /// `--disable-openapi-validation`.
    pub disable_openapi_validation: bool,
    pub credentials: Option<RepositoryCredentials>,
    pub transport: ChartTransport,
    /// `--description`, recorded in the revision.
    pub description: Option<String>,
    /// helm 4 `--force-conflicts`: server-side apply takes fields back from other managers.
    /// helm 3 applies client-side and has no such conflicts; it is not passed there.
    pub force_conflicts: bool,
}

impl UpgradeInstall {
    /// A request with the given release, namespace and chart and every option off.
    pub fn new(
        release: impl Into<String>,
        namespace: impl Into<String>,
        chart: ChartSource,
    ) -> Self {
        Self {
            release: release.into(),
            namespace: namespace.into(),
            chart,
            version: None,
            create_namespace: false,
            wait: false,
            timeout: None,
            atomic: false,
            history_max: None,
            disable_openapi_validation: false,
            credentials: None,
            transport: ChartTransport::default(),
            description: None,
            force_conflicts: false,
        }
    }
}

/// `--cascade` of `helm uninstall` (helm 3.12+ and 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cascade {
    Background,
    Foreground,
    Orphan,
}

/// `helm uninstall`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uninstall {
    pub release: String,
    pub namespace: String,
    pub wait: bool,
    pub timeout: Option<Duration>,
    pub cascade: Option<Cascade>,
}

/// `helm rollback`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollback {
    pub release: String,
    pub namespace: String,
    /// `None` rolls back to the previous revision.
    pub revision: Option<u64>,
    pub wait: bool,
    pub timeout: Option<Duration>,
}

/// One helm process to run: its arguments and, for `--password-stdin`, what to write to stdin.
/// `Debug` hides the stdin secret.
#[derive(Clone, PartialEq, Eq)]
pub struct HelmInvocation {
    pub args: Vec<String>,
    pub stdin_secret: Option<String>,
}

impl fmt::Debug for HelmInvocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HelmInvocation")
            .field("args", &self.args)
            .field("stdin_secret", &self.stdin_secret.as_ref().map(|_| "***"))
            .finish()
    }
}

impl HelmInvocation {
    fn plain(args: Vec<String>) -> Self {
        Self {
            args,
            stdin_secret: None,
        }
    }

    /// The command line as a display string (`helm upgrade --install …`). A `--description`
    /// value (a settings record of a few kilobytes) is shown by its size only.
    pub fn display(&self) -> String {
        let mut words = vec!["helm".to_owned()];
        let mut previous: Option<&str> = None;
        for arg in &self.args {
            if previous == Some("--description") {
                words.push(format!("<{} bytes>", arg.len()));
            } else {
                words.push(arg.clone());
            }
            previous = Some(arg);
        }
        words.join(" ")
    }
}

/// The files in helm's sandbox an upgrade-install refers to.
#[derive(Debug, Clone, Copy)]
pub struct UpgradeFiles<'a> {
    pub kubeconfig: &'a Path,
    pub values: &'a [PathBuf],
    /// Where [`ChartTransport::ca_pem`] was written; required when it is set.
    pub repository_ca: Option<&'a Path>,
}

/// The invocations for an upgrade-install: a `repo add` or `registry login` first when there are
/// credentials, then `upgrade --install`.
pub fn upgrade_install(
    generation: HelmGeneration,
    request: &UpgradeInstall,
    files: UpgradeFiles<'_>,
) -> Result<Vec<HelmInvocation>, HelmError> {
    validate_release(&request.release, &request.namespace)?;
    let transport = transport_flags(request, files.repository_ca)?;
    let mut invocations = Vec::new();
    let mut args = vec![
        "upgrade".to_string(),
        "--install".to_string(),
        request.release.clone(),
    ];
    no_credentials_in_url(&request.chart)?;
    match (&request.chart, &request.credentials) {
        (ChartSource::Repository { url, chart }, None) => {
            non_empty("repository URL", url)?;
            non_empty("chart name", chart)?;
            args.push(chart.clone());
            args.extend(["--repo".to_string(), url.clone()]);
        }
        (ChartSource::Repository { url, chart }, Some(credentials)) => {
            non_empty("repository URL", url)?;
            non_empty("chart name", chart)?;
            let mut add = repo_add(url, credentials);
            add.args.extend(transport.repository.iter().cloned());
            invocations.push(add);
            args.push(format!("{REPOSITORY_ALIAS}/{chart}"));
        }
        (ChartSource::Oci { reference }, credentials) => {
            let host = oci_registry_host(reference)?;
            if let Some(credentials) = credentials {
                let mut login = registry_login(host, credentials);
                login.args.extend(transport.registry_login.iter().cloned());
                invocations.push(login);
            }
            args.push(reference.clone());
        }
        (ChartSource::Local { path }, _) => args.push(path_arg("chart path", path)?),
    }
    push_pair(&mut args, "--namespace", &request.namespace);
    if request.create_namespace {
        args.push("--create-namespace".into());
    }
    if let Some(version) = request.version.as_deref().filter(|v| !v.trim().is_empty()) {
        push_pair(&mut args, "--version", version);
    }
    // Values always come from our files only: reset whatever was set by hand (`--set`).
    args.push("--reset-values".into());
    args.extend(transport.download);
    for file in files.values {
        args.push("--values".into());
        args.push(path_arg("values file", file)?);
    }
    if request.wait {
        args.push(wait_flag(generation).into());
    }
    if request.atomic {
        args.push(
            match generation {
                HelmGeneration::Helm3 => "--atomic",
                HelmGeneration::Helm4 => "--rollback-on-failure",
            }
            .into(),
        );
    }
    push_timeout(&mut args, request.timeout);
    if let Some(max) = request.history_max {
        push_pair(&mut args, "--history-max", &max.to_string());
    }
    if request.disable_openapi_validation {
        args.push("--disable-openapi-validation".into());
    }
    if request.force_conflicts && generation == HelmGeneration::Helm4 {
        args.push("--force-conflicts".into());
    }
    if let Some(description) = &request.description {
        push_pair(&mut args, "--description", description);
    }
    push_pair(
        &mut args,
        "--kubeconfig",
        &path_arg("kubeconfig", files.kubeconfig)?,
    );
    invocations.push(HelmInvocation::plain(args));
    Ok(invocations)
}

/// The transport flags of each helm command of an upgrade-install.
#[derive(Debug, Default)]
struct TransportFlags {
    /// For `upgrade --install` (the chart download).
    download: Vec<String>,
    /// For `repo add`.
    repository: Vec<String>,
    /// For `registry login`.
    registry_login: Vec<String>,
}

fn transport_flags(
    request: &UpgradeInstall,
    repository_ca: Option<&Path>,
) -> Result<TransportFlags, HelmError> {
    let transport = &request.transport;
    let mut flags = TransportFlags::default();
    if matches!(request.chart, ChartSource::Local { .. }) {
        return if *transport == ChartTransport::default() {
            Ok(flags)
        } else {
            Err(HelmError::InvalidRequest(
                "repository TLS and plain-HTTP settings do not apply to a local chart".into(),
            ))
        };
    }
    if transport.plain_http && !matches!(request.chart, ChartSource::Oci { .. }) {
        return Err(HelmError::InvalidRequest(
            "plain HTTP is an OCI registry setting; a chart repository's URL scheme says http or https".into(),
        ));
    }
    match (&transport.ca_pem, repository_ca) {
        (Some(_), Some(path)) => {
            let path = path_arg("repository CA file", path)?;
            for list in [
                &mut flags.download,
                &mut flags.repository,
                &mut flags.registry_login,
            ] {
                push_pair(list, "--ca-file", &path);
            }
        }
        (Some(_), None) => {
            return Err(HelmError::InvalidRequest(
                "a repository CA was given but not written to a file".into(),
            ));
        }
        (None, _) => {}
    }
    if transport.insecure_skip_tls_verify {
        flags.download.push("--insecure-skip-tls-verify".into());
        flags.repository.push("--insecure-skip-tls-verify".into());
        flags.registry_login.push("--insecure".into());
    }
    if transport.plain_http {
        flags.download.push("--plain-http".into());
        flags.registry_login.push("--plain-http".into());
    }
    Ok(flags)
}

/// `helm uninstall`.
pub fn uninstall(
    generation: HelmGeneration,
    request: &Uninstall,
    kubeconfig: &Path,
) -> Result<HelmInvocation, HelmError> {
    validate_release(&request.release, &request.namespace)?;
    let mut args = vec!["uninstall".to_string(), request.release.clone()];
    push_pair(&mut args, "--namespace", &request.namespace);
    if request.wait {
        args.push(wait_flag(generation).into());
    }
    push_timeout(&mut args, request.timeout);
    if let Some(cascade) = request.cascade {
        let value = match cascade {
            Cascade::Background => "background",
            Cascade::Foreground => "foreground",
            Cascade::Orphan => "orphan",
        };
        push_pair(&mut args, "--cascade", value);
    }
    push_pair(
        &mut args,
        "--kubeconfig",
        &path_arg("kubeconfig", kubeconfig)?,
    );
    Ok(HelmInvocation::plain(args))
}

/// `helm rollback`.
pub fn rollback(
    generation: HelmGeneration,
    request: &Rollback,
    kubeconfig: &Path,
) -> Result<HelmInvocation, HelmError> {
    validate_release(&request.release, &request.namespace)?;
    let mut args = vec!["rollback".to_string(), request.release.clone()];
    if let Some(revision) = request.revision {
        args.push(revision.to_string());
    }
    push_pair(&mut args, "--namespace", &request.namespace);
    if request.wait {
        args.push(wait_flag(generation).into());
    }
    push_timeout(&mut args, request.timeout);
    push_pair(
        &mut args,
        "--kubeconfig",
        &path_arg("kubeconfig", kubeconfig)?,
    );
    Ok(HelmInvocation::plain(args))
}

fn repo_add(url: &str, credentials: &RepositoryCredentials) -> HelmInvocation {
    HelmInvocation {
        args: vec![
            "repo".into(),
            "add".into(),
            REPOSITORY_ALIAS.into(),
            url.into(),
            "--username".into(),
            credentials.username.clone(),
            "--password-stdin".into(),
            "--force-update".into(),
        ],
        stdin_secret: Some(credentials.password.clone()),
    }
}

fn registry_login(host: &str, credentials: &RepositoryCredentials) -> HelmInvocation {
    HelmInvocation {
        args: vec![
            "registry".into(),
            "login".into(),
            host.into(),
            "--username".into(),
            credentials.username.clone(),
            "--password-stdin".into(),
        ],
        stdin_secret: Some(credentials.password.clone()),
    }
}

/// Refuses a repository URL or OCI reference with credentials in it (`https://user:pass@host`):
/// argv is readable by every local user (`/proc/<pid>/cmdline`), and helm would also record it.
fn no_credentials_in_url(chart: &ChartSource) -> Result<(), HelmError> {
    let url = match chart {
        ChartSource::Repository { url, .. } => url,
        ChartSource::Oci { reference } => reference,
        ChartSource::Local { .. } => return Ok(()),
    };
    let authority = url
        .split_once("://")
        .map_or(url.as_str(), |(_, rest)| rest)
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    if authority.contains('@') {
        return Err(HelmError::InvalidRequest(
            "the chart repository URL or OCI reference carries credentials (user:password@host); \
             give them as repository_username and repository_password instead (they reach helm on stdin, never in its command line)"
                .into(),
        ));
    }
    Ok(())
}

/// The registry host of `oci://host[:port]/path/chart`.
pub fn oci_registry_host(reference: &str) -> Result<&str, HelmError> {
    let rest = reference.strip_prefix("oci://").ok_or_else(|| {
        HelmError::InvalidRequest(format!(
            "OCI chart reference {reference:?} must start with oci://"
        ))
    })?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || !rest.contains('/') {
        return Err(HelmError::InvalidRequest(format!(
            "OCI chart reference {reference:?} must look like oci://REGISTRY/PATH/CHART"
        )));
    }
    Ok(host)
}

fn wait_flag(generation: HelmGeneration) -> &'static str {
    match generation {
        HelmGeneration::Helm3 => "--wait",
        HelmGeneration::Helm4 => "--wait=watcher",
    }
}

fn push_timeout(args: &mut Vec<String>, timeout: Option<Duration>) {
    if let Some(timeout) = timeout {
        push_pair(args, "--timeout", &format!("{}s", timeout.as_secs().max(1)));
    }
}

fn push_pair(args: &mut Vec<String>, flag: &str, value: &str) {
    args.push(flag.to_string());
    args.push(value.to_string());
}

fn path_arg(what: &str, path: &Path) -> Result<String, HelmError> {
    path.to_str().map(str::to_string).ok_or_else(|| {
        HelmError::InvalidRequest(format!("{what} {} is not valid UTF-8", path.display()))
    })
}

fn non_empty(what: &str, value: &str) -> Result<(), HelmError> {
    if value.trim().is_empty() {
        Err(HelmError::InvalidRequest(format!("{what} is empty")))
    } else {
        Ok(())
    }
}

fn validate_release(release: &str, namespace: &str) -> Result<(), HelmError> {
    non_empty("release name", release)?;
    non_empty("namespace", namespace)?;
    if release.len() > MAX_RELEASE_NAME_LENGTH {
        return Err(HelmError::InvalidRequest(format!(
            "release name {release:?} is {} characters; helm allows at most {MAX_RELEASE_NAME_LENGTH}",
            release.len()
        )));
    }
    if release.starts_with('-') || namespace.starts_with('-') {
        return Err(HelmError::InvalidRequest(
            "release and namespace must not start with '-'".into(),
        ));
    }
    Ok(())
}
