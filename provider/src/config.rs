//! The provider block: `kubernetes { … }`, `helm_path`, `gitlab { … }`.
//!
//! The `kubernetes` block is spelled like the hashicorp `kubernetes` and `helm` providers' so a
//! connection can be pasted in, with the same `KUBE_*` environment fallbacks. Unlike those
//! providers, when nothing at all is set the connection falls back to `KUBECONFIG` /
//! `~/.kube/config` (the kube-connection crate does that).
//!
//! During plan, attributes may be unknown (e.g. `host` of a cluster created in the same apply):
//! they are listed in [`ProviderConfig::unknown_attributes`], never an error.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use kube_connection::{ExecCredential, KubernetesConnection};
use serde::{Deserialize, Serialize};
use tfplugin::{
    Attribute, AttributePath, Block, Diagnostic, Diagnostics, NestedBlock, Schema, TfValue, Type,
};

/// What every resource receives: `ctx.provider::<ProviderConfig>()`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProviderConfig {
    pub kubernetes: KubernetesConnection,
    /// `helm_path`; `None` means `helm` on `PATH`.
    pub helm_path: Option<String>,
    /// The `gitlab` block (or `GITLAB_TOKEN` / `GITLAB_BASE_URL`), when any is set.
    pub gitlab: Option<GitLabSettings>,
    /// Provider attributes that were unknown when the provider was configured (only during
    /// plan). Resources should not contact the cluster or GitLab while this is non-empty: plan
    /// with unknown computed values instead.
    pub unknown_attributes: Vec<String>,
}

impl ProviderConfig {
    /// True when some provider attribute is not known yet (plan of a cluster created in the same apply).
    pub fn has_unknowns(&self) -> bool {
        !self.unknown_attributes.is_empty()
    }
}

/// Secrets stay out of Debug output.
impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("kubernetes.host", &self.kubernetes.host)
            .field("kubernetes.config_path", &self.kubernetes.config_path)
            .field("kubernetes.config_context", &self.kubernetes.config_context)
            .field("helm_path", &self.helm_path)
            .field("gitlab", &self.gitlab)
            .field("unknown_attributes", &self.unknown_attributes)
            .finish_non_exhaustive()
    }
}

/// Where a configured GitLab API URL came from (named in diagnostics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlSource {
    /// The provider's `gitlab { base_url }`.
    Attribute,
    /// The `GITLAB_BASE_URL` environment variable.
    Environment,
}

impl fmt::Display for UrlSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Attribute => "the provider's gitlab.base_url",
            Self::Environment => "GITLAB_BASE_URL",
        })
    }
}

/// A GitLab API URL the user configured, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfiguredUrl {
    pub url: String,
    pub source: UrlSource,
}

/// How to reach GitLab's REST API. Which GitLab the drain talks to is decided per release
/// (`crate::drain::GitlabAccess::for_release`): `base_url` when configured — on the host of the
/// release's `gitlab_url` unless `allow_different_host` — else the release's `gitlab_url`, else
/// `CI_SERVER_URL`. Never a built-in default such as gitlab.com.
#[derive(Clone, PartialEq, Eq)]
pub struct GitLabSettings {
    /// `base_url`, else `GITLAB_BASE_URL`; `None` when neither is set.
    pub base_url: Option<ConfiguredUrl>,
    /// `allow_different_host`, else `GITLAB_ALLOW_DIFFERENT_HOST`: `base_url` may name another
    /// host than the release's `gitlab_url` (a GitLab whose API is served on a separate host).
    pub allow_different_host: bool,
    /// `CI_SERVER_URL` (inside a GitLab CI job): the GitLab to use when a release has no
    /// `gitlab_url`.
    pub ci_server_url: Option<String>,
    /// Personal, group or project access token. Secret: never log or print it.
    pub token: Option<String>,
    /// Extra CA certificates (PEM) for a GitLab behind a private CA, as configured.
    pub ca_certificate: Option<String>,
    /// Otherwise, inside a GitLab CI job, the file GitLab names in `CI_SERVER_TLS_CA_FILE`. Read
    /// only when a GitLab client is built (a drain), not on every provider start.
    pub ca_certificate_file: Option<PathBuf>,
}

impl GitLabSettings {
    /// The extra CA certificates (PEM): the configured ones, else the CI job's file when it can be
    /// read and is not empty.
    pub fn ca_pem(&self) -> Option<String> {
        self.ca_certificate.clone().or_else(|| {
            self.ca_certificate_file
                .as_ref()
                .and_then(|path| std::fs::read_to_string(path).ok())
                .filter(|pem| !pem.trim().is_empty())
        })
    }
}

impl fmt::Debug for GitLabSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitLabSettings")
            .field("base_url", &self.base_url)
            .field("allow_different_host", &self.allow_different_host)
            .field("ci_server_url", &self.ci_server_url)
            .field("token", &self.token.as_ref().map(|_| "(redacted)"))
            .field("ca_certificate", &self.ca_certificate.is_some())
            .field("ca_certificate_file", &self.ca_certificate_file)
            .finish()
    }
}

/// The provider block as Terraform sends it.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ProviderModel {
    pub kubernetes: TfValue<Vec<KubernetesModel>>,
    pub helm_path: TfValue<String>,
    pub gitlab: TfValue<Vec<GitLabModel>>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct KubernetesModel {
    pub host: TfValue<String>,
    pub token: TfValue<String>,
    pub client_certificate: TfValue<String>,
    pub client_key: TfValue<String>,
    pub cluster_ca_certificate: TfValue<String>,
    pub insecure: TfValue<bool>,
    pub tls_server_name: TfValue<String>,
    pub proxy_url: TfValue<String>,
    pub config_path: TfValue<String>,
    pub config_paths: TfValue<Vec<String>>,
    pub config_context: TfValue<String>,
    pub config_context_auth_info: TfValue<String>,
    pub config_context_cluster: TfValue<String>,
    pub exec: TfValue<Vec<ExecModel>>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ExecModel {
    pub api_version: TfValue<String>,
    pub command: TfValue<String>,
    pub args: TfValue<Vec<String>>,
    pub env: TfValue<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct GitLabModel {
    pub base_url: TfValue<String>,
    pub token: TfValue<String>,
    pub ca_certificate: TfValue<String>,
    pub allow_different_host: TfValue<bool>,
}

fn optional_string(description: &str) -> Attribute {
    Attribute::string().optional().description(description)
}

/// The provider block's schema.
pub fn schema() -> Schema {
    Schema::new()
        .description("Runs GitLab Runner on Kubernetes through the gitlab-runner Helm chart.")
        .attribute(
            "helm_path",
            optional_string(
                "Path of the helm binary (helm 3.8 or newer, or helm 4). Defaults to `helm` on PATH.",
            ),
        )
        .block(
            "kubernetes",
            NestedBlock::list(kubernetes_block())
                .max_items(1),
        )
        .block(
            "gitlab",
            NestedBlock::list(
                Block::new()
                    .description("How to reach GitLab's REST API: the drain pauses a release's runner, waits for its jobs and may delete it (on destroy, and on update with `drain_on_update`). The drain only talks to the GitLab the runner belongs to: the release's `gitlab_url` unless `base_url` is set.")
                    .attribute(
                        "base_url",
                        optional_string(
                            "GitLab's API address when it differs from a release's `gitlab_url`, e.g. `https://gitlab.example.com` (a trailing `/api/v4` is accepted). Defaults to `GITLAB_BASE_URL`; when neither is set, each release's drain uses the release's `gitlab_url` (then `CI_SERVER_URL` in a GitLab CI job) — never gitlab.com unless that is the release's GitLab. It must be on the same host as the release's `gitlab_url` (plan and destroy refuse otherwise, before sending anything), unless `allow_different_host` is true.",
                        ),
                    )
                    .attribute(
                        "allow_different_host",
                        Attribute::bool()
                            .optional()
                            .description("Allow `base_url` to name another host than a release's `gitlab_url`, for a GitLab whose API is served on a separate host. The drain then sends the GitLab token and the runner's authentication token to `base_url`'s host: set it only when that host is your GitLab. Defaults to `GITLAB_ALLOW_DIFFERENT_HOST` (`true`/`1`), else false."),
                    )
                    .attribute(
                        "token",
                        optional_string("GitLab access token with the `manage_runner` (or `api`) scope. Defaults to `GITLAB_TOKEN`.")
                            .sensitive(),
                    )
                    .attribute(
                        "ca_certificate",
                        optional_string("PEM CA certificate(s) that sign GitLab's TLS certificate, for a self-managed GitLab behind a private CA (e.g. `file(\"gitlab-ca.pem\")`). In a GitLab CI job, defaults to the file named by `CI_SERVER_TLS_CA_FILE`."),
                    ),
            )
            .max_items(1),
        )
}

fn kubernetes_block() -> Block {
    Block::new()
        .description(
            "How to reach the Kubernetes cluster, spelled like the hashicorp kubernetes and helm providers. \
             Each attribute falls back to its `KUBE_*` environment variable. When nothing is set at all, \
             `KUBECONFIG` and then `~/.kube/config` are used (the hashicorp providers do not do this).",
        )
        .attribute("host", optional_string("The API server's URL, e.g. `https://203.0.113.10:6443`. Defaults to `KUBE_HOST`."))
        .attribute("token", optional_string("Bearer token. Defaults to `KUBE_TOKEN`.").sensitive())
        .attribute("client_certificate", optional_string("PEM client certificate for TLS authentication. Defaults to `KUBE_CLIENT_CERT_DATA`."))
        .attribute("client_key", optional_string("PEM private key of `client_certificate`. Defaults to `KUBE_CLIENT_KEY_DATA`.").sensitive())
        .attribute("cluster_ca_certificate", optional_string("PEM CA certificate that signed the API server's certificate. Defaults to `KUBE_CLUSTER_CA_CERT_DATA`."))
        .attribute(
            "insecure",
            Attribute::bool()
                .optional()
                .description("Skip verification of the API server's certificate (test clusters only). Defaults to `KUBE_INSECURE`."),
        )
        .attribute("tls_server_name", optional_string("Server name to verify the API server's certificate against. Defaults to `KUBE_TLS_SERVER_NAME`."))
        .attribute("proxy_url", optional_string("HTTP(S) proxy for API requests. Defaults to `KUBE_PROXY_URL`."))
        .attribute("config_path", optional_string("A kubeconfig file. Defaults to `KUBE_CONFIG_PATH`."))
        .attribute(
            "config_paths",
            Attribute::list(Type::String)
                .optional()
                .description("Several kubeconfig files, merged. Defaults to `KUBE_CONFIG_PATHS` (a `:`-separated list)."),
        )
        .attribute("config_context", optional_string("Context to use from the kubeconfig. Defaults to `KUBE_CTX`."))
        .attribute("config_context_auth_info", optional_string("User (auth info) to use from the kubeconfig. Defaults to `KUBE_CTX_AUTH_INFO`."))
        .attribute("config_context_cluster", optional_string("Cluster to use from the kubeconfig. Defaults to `KUBE_CTX_CLUSTER`."))
        .block(
            "exec",
            NestedBlock::list(
                Block::new()
                    .description("A client-go credential plugin that prints a token, e.g. `aws eks get-token`.")
                    .attribute("api_version", optional_string("API version of the ExecCredential, e.g. `client.authentication.k8s.io/v1beta1`."))
                    .attribute("command", optional_string("The command to run."))
                    .attribute("args", Attribute::list(Type::String).optional().description("Arguments of the command."))
                    .attribute("env", Attribute::map(Type::String).optional().description("Extra environment variables for the command.")),
            )
            .max_items(1),
        )
}

/// Checks what can be checked at validate time (known values only).
pub fn validate(model: &ProviderModel) -> Diagnostics {
    let mut d = Diagnostics::new();
    if let Some(k) = model.kubernetes.known().and_then(|ks| ks.first()) {
        let path = AttributePath::new("kubernetes").index(0);
        if k.config_path.is_known() && k.config_paths.known().is_some_and(|p| !p.is_empty()) {
            d.push(
                Diagnostic::error(
                    "Conflicting Kubeconfig Settings",
                    "Set either config_path or config_paths, not both.",
                )
                .at(path.attr("config_paths")),
            );
        }
        if k.client_certificate.is_known() != k.client_key.is_known()
            && !k.client_certificate.is_unknown()
            && !k.client_key.is_unknown()
        {
            d.push(
                Diagnostic::error(
                    "Incomplete Client Certificate",
                    "client_certificate and client_key must be set together.",
                )
                .at(path.attr(if k.client_key.is_known() {
                    "client_certificate"
                } else {
                    "client_key"
                })),
            );
        }
        if let Some(exec) = k.exec.known().and_then(|e| e.first()) {
            for (name, value) in [
                ("api_version", &exec.api_version),
                ("command", &exec.command),
            ] {
                if value.is_null() {
                    d.push(
                        Diagnostic::error(
                            "Missing Exec Setting",
                            format!("exec needs {name} (e.g. api_version = \"client.authentication.k8s.io/v1beta1\")."),
                        )
                        .at(path.attr("exec").index(0).attr(name)),
                    );
                }
            }
        }
    }
    if let Some(pem) = model
        .gitlab
        .known()
        .and_then(|g| g.first())
        .and_then(|g| g.ca_certificate.known())
    {
        let bundle = crate::certificates::ca_bundle::CaBundle {
            attribute: "ca_certificate",
            path: AttributePath::new("gitlab").index(0).attr("ca_certificate"),
            subject: "GitLab CA Certificate",
            consequence: "the drain cannot trust GitLab's certificate through it. Renew the CA bundle.",
        };
        d.extend(bundle.check(pem));
    }
    if let Some(gitlab) = model.gitlab.known().and_then(|g| g.first())
        && gitlab.allow_different_host.known() == Some(&true)
        && gitlab.base_url.is_null()
    {
        d.push(
            Diagnostic::warning(
                "GitLab Host Check Disabled Without base_url",
                "allow_different_host = true only matters for a base_url (here, or GITLAB_BASE_URL) \
                 on another host than a release's gitlab_url; without one the drain uses each \
                 release's gitlab_url. Put base_url beside it, or remove allow_different_host.",
            )
            .at(AttributePath::new("gitlab").index(0).attr("allow_different_host")),
        );
    }
    if let Some(url) = model
        .gitlab
        .known()
        .and_then(|g| g.first())
        .and_then(|g| g.base_url.known())
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        d.push(
            Diagnostic::error(
                "Invalid GitLab URL",
                format!("base_url must start with https:// or http://, got {url:?}."),
            )
            .at(AttributePath::new("gitlab").index(0).attr("base_url")),
        );
    }
    d
}

/// Resolves configuration + environment into what resources use. `env` looks up environment
/// variables (injected so tests need not touch the process environment).
pub fn resolve(model: &ProviderModel, env: impl Fn(&str) -> Option<String>) -> ProviderConfig {
    let mut unknown = Vec::new();
    let empty = KubernetesModel::default();
    let k = match &model.kubernetes {
        TfValue::Known(ks) => ks.first().unwrap_or(&empty),
        TfValue::Unknown => {
            unknown.push("kubernetes".to_owned());
            &empty
        }
        TfValue::Null => &empty,
    };
    let mut pick = |name: &str, value: &TfValue<String>, variable: &str| -> Option<String> {
        match value {
            TfValue::Known(v) => Some(v.clone()),
            TfValue::Unknown => {
                unknown.push(format!("kubernetes.{name}"));
                None
            }
            TfValue::Null => env(variable).filter(|v| !v.is_empty()),
        }
    };
    let host = pick("host", &k.host, "KUBE_HOST");
    let token = pick("token", &k.token, "KUBE_TOKEN");
    let client_certificate = pick(
        "client_certificate",
        &k.client_certificate,
        "KUBE_CLIENT_CERT_DATA",
    );
    let client_key = pick("client_key", &k.client_key, "KUBE_CLIENT_KEY_DATA");
    let cluster_ca_certificate = pick(
        "cluster_ca_certificate",
        &k.cluster_ca_certificate,
        "KUBE_CLUSTER_CA_CERT_DATA",
    );
    let tls_server_name = pick(
        "tls_server_name",
        &k.tls_server_name,
        "KUBE_TLS_SERVER_NAME",
    );
    let proxy_url = pick("proxy_url", &k.proxy_url, "KUBE_PROXY_URL");
    let config_path = pick("config_path", &k.config_path, "KUBE_CONFIG_PATH");
    let config_context = pick("config_context", &k.config_context, "KUBE_CTX");
    let config_context_auth_info = pick(
        "config_context_auth_info",
        &k.config_context_auth_info,
        "KUBE_CTX_AUTH_INFO",
    );
    let config_context_cluster = pick(
        "config_context_cluster",
        &k.config_context_cluster,
        "KUBE_CTX_CLUSTER",
    );
    let insecure = match &k.insecure {
        TfValue::Known(b) => Some(*b),
        TfValue::Unknown => {
            unknown.push("kubernetes.insecure".to_owned());
            None
        }
        TfValue::Null => env("KUBE_INSECURE").and_then(|v| parse_bool(&v)),
    };
    let config_paths = match &k.config_paths {
        TfValue::Known(paths) => paths.clone(),
        TfValue::Unknown => {
            unknown.push("kubernetes.config_paths".to_owned());
            Vec::new()
        }
        TfValue::Null => env("KUBE_CONFIG_PATHS")
            .map(|v| {
                v.split(':')
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
    };
    let exec = match &k.exec {
        TfValue::Known(execs) => execs.first().map(|e| exec_credential(e, &mut unknown)),
        TfValue::Unknown => {
            unknown.push("kubernetes.exec".to_owned());
            None
        }
        TfValue::Null => None,
    };
    let kubernetes = KubernetesConnection {
        host,
        token,
        client_certificate,
        client_key,
        cluster_ca_certificate,
        insecure,
        tls_server_name,
        proxy_url,
        config_path,
        config_paths,
        config_context,
        config_context_auth_info,
        config_context_cluster,
        exec,
    };
    let helm_path = match &model.helm_path {
        TfValue::Known(p) => Some(p.clone()),
        TfValue::Unknown => {
            unknown.push("helm_path".to_owned());
            None
        }
        TfValue::Null => None,
    };
    let gitlab = gitlab_settings(&model.gitlab, &env, &mut unknown);
    ProviderConfig {
        kubernetes,
        helm_path,
        gitlab,
        unknown_attributes: unknown,
    }
}

fn exec_credential(e: &ExecModel, unknown: &mut Vec<String>) -> ExecCredential {
    let mut known = |name: &str, v: &TfValue<String>| match v {
        TfValue::Known(s) => s.clone(),
        TfValue::Unknown => {
            unknown.push(format!("kubernetes.exec.{name}"));
            String::new()
        }
        TfValue::Null => String::new(),
    };
    let api_version = known("api_version", &e.api_version);
    let command = known("command", &e.command);
    let args = match &e.args {
        TfValue::Known(a) => a.clone(),
        TfValue::Unknown => {
            unknown.push("kubernetes.exec.args".to_owned());
            Vec::new()
        }
        TfValue::Null => Vec::new(),
    };
    let env = match &e.env {
        TfValue::Known(m) => m.clone(),
        TfValue::Unknown => {
            unknown.push("kubernetes.exec.env".to_owned());
            BTreeMap::new()
        }
        TfValue::Null => BTreeMap::new(),
    };
    ExecCredential {
        api_version,
        command,
        args,
        env,
    }
}

fn gitlab_settings(
    model: &TfValue<Vec<GitLabModel>>,
    env: &impl Fn(&str) -> Option<String>,
    unknown: &mut Vec<String>,
) -> Option<GitLabSettings> {
    let block = match model {
        TfValue::Known(g) => g.first(),
        TfValue::Unknown => {
            unknown.push("gitlab".to_owned());
            None
        }
        TfValue::Null => None,
    };
    let mut field = |name: &str, value: Option<&TfValue<String>>, variable: &str| match value {
        Some(TfValue::Known(v)) => Some(v.clone()),
        Some(TfValue::Unknown) => {
            unknown.push(format!("gitlab.{name}"));
            None
        }
        _ => env(variable).filter(|v| !v.is_empty()),
    };
    let base_url_source = match block.map(|b| &b.base_url) {
        Some(TfValue::Known(_)) => UrlSource::Attribute,
        _ => UrlSource::Environment,
    };
    let base_url = field("base_url", block.map(|b| &b.base_url), "GITLAB_BASE_URL")
        .filter(|url| !url.trim().is_empty())
        .map(|url| ConfiguredUrl {
            url,
            source: base_url_source,
        });
    let token = field("token", block.map(|b| &b.token), "GITLAB_TOKEN");
    let allow_different_host = match block.map(|b| &b.allow_different_host) {
        Some(TfValue::Known(allow)) => *allow,
        Some(TfValue::Unknown) => {
            unknown.push("gitlab.allow_different_host".to_owned());
            false
        }
        _ => env("GITLAB_ALLOW_DIFFERENT_HOST")
            .and_then(|v| parse_bool(&v))
            .unwrap_or(false),
    };
    let ci_server_url = env("CI_SERVER_URL").filter(|url| !url.trim().is_empty());
    let (ca_certificate, ca_certificate_file) = match block.map(|b| &b.ca_certificate) {
        Some(TfValue::Known(pem)) => (Some(pem.clone()), None),
        Some(TfValue::Unknown) => {
            unknown.push("gitlab.ca_certificate".to_owned());
            (None, None)
        }
        // In a GitLab CI job, GitLab names the file holding its own CA.
        _ => (
            None,
            env("CI_SERVER_TLS_CA_FILE")
                .filter(|path| !path.is_empty())
                .map(PathBuf::from),
        ),
    };
    if block.is_none() && base_url.is_none() && token.is_none() {
        return None;
    }
    Some(GitLabSettings {
        base_url,
        allow_different_host,
        ci_server_url,
        token,
        ca_certificate,
        ca_certificate_file,
    })
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "t" | "yes" => Some(true),
        "0" | "false" | "f" | "no" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use tfplugin::{Document, Value};

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        move |k| m.get(k).cloned()
    }

    fn model(kubernetes: Value, gitlab: Value) -> ProviderModel {
        let ty = std::sync::Arc::new(schema().value_type());
        let v = Value::object([("kubernetes", kubernetes), ("gitlab", gitlab)])
            .conform(&ty)
            .unwrap();
        Document::new(ty, v).get().unwrap()
    }

    #[test]
    fn schema_is_sound_and_every_attribute_is_described() {
        assert_eq!(schema().check(), Vec::<String>::new());
    }

    #[test]
    fn configured_values_win_over_environment() {
        let m = model(
            Value::List(vec![Value::object([
                ("host", Value::from("https://a:6443")),
                ("insecure", Value::from(false)),
            ])]),
            Value::Null,
        );
        let c = resolve(
            &m,
            env(&[
                ("KUBE_HOST", "https://env"),
                ("KUBE_INSECURE", "true"),
                ("KUBE_TOKEN", "t0k"),
            ]),
        );
        assert_eq!(c.kubernetes.host.as_deref(), Some("https://a:6443"));
        assert_eq!(c.kubernetes.insecure, Some(false));
        assert_eq!(c.kubernetes.token.as_deref(), Some("t0k"));
        assert!(c.gitlab.is_none());
        assert!(!c.has_unknowns());
    }

    #[test]
    fn environment_fills_an_absent_block() {
        let m = model(Value::Null, Value::Null);
        let c = resolve(
            &m,
            env(&[
                ("KUBE_CONFIG_PATHS", "/a:/b"),
                ("KUBE_CTX", "dev"),
                ("GITLAB_TOKEN", "glpat-x"),
            ]),
        );
        assert_eq!(
            c.kubernetes.config_paths,
            vec!["/a".to_owned(), "/b".to_owned()]
        );
        assert_eq!(c.kubernetes.config_context.as_deref(), Some("dev"));
        let g = c.gitlab.unwrap();
        // No built-in GitLab: each release's drain uses the release's gitlab_url.
        assert_eq!(g.base_url, None);
        assert!(!g.allow_different_host);
        assert_eq!(g.token.as_deref(), Some("glpat-x"));
        assert!(!format!("{g:?}").contains("glpat"));
    }

    #[test]
    fn gitlab_ca_is_configured_or_taken_from_the_ci_job() {
        let pem = crate::certificates::tests::certificate(&[], 365, true);
        let dir = tempfile::tempdir().unwrap();
        let ci_file = dir.path().join("ci-ca.pem");
        std::fs::write(&ci_file, "ci job CA").unwrap();
        let ci_env = [
            ("GITLAB_TOKEN", "glpat-x"),
            ("CI_SERVER_TLS_CA_FILE", ci_file.to_str().unwrap()),
        ];

        let configured = model(
            Value::Null,
            Value::List(vec![Value::object([(
                "ca_certificate",
                Value::from(pem.clone()),
            )])]),
        );
        assert!(validate(&configured).is_empty());
        let settings = resolve(&configured, env(&ci_env)).gitlab.unwrap();
        assert_eq!(settings.ca_pem().as_deref(), Some(pem.as_str()));

        let from_ci = resolve(&model(Value::Null, Value::Null), env(&ci_env))
            .gitlab
            .unwrap();
        assert_eq!(from_ci.ca_pem().as_deref(), Some("ci job CA"));
        // Read when a client is built, not when the provider is configured (every command).
        std::fs::write(&ci_file, "renewed CA").unwrap();
        assert_eq!(from_ci.ca_pem().as_deref(), Some("renewed CA"));

        let missing_file = resolve(
            &model(Value::Null, Value::Null),
            env(&[
                ("GITLAB_TOKEN", "glpat-x"),
                ("CI_SERVER_TLS_CA_FILE", "/nonexistent/ca.pem"),
            ]),
        );
        assert_eq!(missing_file.gitlab.unwrap().ca_pem(), None);

        let lapsed = model(
            Value::Null,
            Value::List(vec![Value::object([(
                "ca_certificate",
                Value::from(crate::certificates::tests::certificate(&[], -1, true)),
            )])]),
        );
        let warnings = validate(&lapsed);
        assert_eq!(
            warnings
                .iter()
                .map(|w| (w.severity, w.summary.as_str()))
                .collect::<Vec<_>>(),
            vec![(tfplugin::Severity::Warning, "GitLab CA Certificate Expired")]
        );

        let invalid = model(
            Value::Null,
            Value::List(vec![Value::object([(
                "ca_certificate",
                Value::from("not a certificate"),
            )])]),
        );
        let diagnostics = validate(&invalid);
        assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
        let only = diagnostics.iter().next().unwrap();
        assert_eq!(only.summary, "Invalid GitLab CA Certificate");
        assert_eq!(
            only.attribute.as_ref().map(ToString::to_string).as_deref(),
            Some("gitlab[0].ca_certificate")
        );
    }

    #[test]
    fn unknown_values_are_listed_not_errors() {
        let m = model(
            Value::List(vec![Value::object([
                ("host", Value::Unknown),
                ("cluster_ca_certificate", Value::Unknown),
                (
                    "exec",
                    Value::List(vec![Value::object([
                        ("api_version", Value::from("v1")),
                        ("command", Value::from("aws")),
                        ("args", Value::Unknown),
                    ])]),
                ),
            ])]),
            Value::Null,
        );
        assert!(validate(&m).is_empty());
        let c = resolve(&m, env(&[("KUBE_HOST", "https://env")]));
        assert_eq!(c.kubernetes.host, None);
        assert_eq!(
            c.unknown_attributes,
            vec![
                "kubernetes.host",
                "kubernetes.cluster_ca_certificate",
                "kubernetes.exec.args"
            ]
        );
        assert_eq!(c.kubernetes.exec.unwrap().command, "aws");
    }

    #[test]
    fn validation_reports_conflicts_with_paths() {
        let m = model(
            Value::List(vec![Value::object([
                ("config_path", Value::from("/a")),
                ("config_paths", Value::List(vec![Value::from("/b")])),
                ("client_certificate", Value::from("pem")),
                (
                    "exec",
                    Value::List(vec![Value::object([("command", Value::from("aws"))])]),
                ),
            ])]),
            Value::List(vec![Value::object([(
                "base_url",
                Value::from("gitlab.com"),
            )])]),
        );
        let d = validate(&m);
        let paths: Vec<String> = d
            .iter()
            .map(|d| d.attribute.as_ref().unwrap().to_string())
            .collect();
        assert_eq!(
            paths,
            vec![
                "kubernetes[0].config_paths",
                "kubernetes[0].client_key",
                "kubernetes[0].exec[0].api_version",
                "gitlab[0].base_url",
            ]
        );
    }

    #[test]
    fn gitlab_url_settings_remember_their_source_and_the_opt_out() {
        let ci = [
            ("GITLAB_TOKEN", "glpat-x"),
            ("GITLAB_BASE_URL", "https://env.example.com"),
            ("GITLAB_ALLOW_DIFFERENT_HOST", "true"),
            ("CI_SERVER_URL", "https://ci.example.com"),
        ];
        let from_env = resolve(&model(Value::Null, Value::Null), env(&ci))
            .gitlab
            .unwrap();
        assert_eq!(
            from_env.base_url,
            Some(ConfiguredUrl {
                url: "https://env.example.com".into(),
                source: UrlSource::Environment,
            })
        );
        assert!(from_env.allow_different_host);
        assert_eq!(
            from_env.ci_server_url.as_deref(),
            Some("https://ci.example.com")
        );

        let configured = model(
            Value::Null,
            Value::List(vec![Value::object([
                ("base_url", Value::from("https://api.example.com")),
                ("allow_different_host", Value::from(false)),
            ])]),
        );
        let settings = resolve(&configured, env(&ci)).gitlab.unwrap();
        assert_eq!(
            settings
                .base_url
                .as_ref()
                .map(|u| (u.url.as_str(), u.source)),
            Some(("https://api.example.com", UrlSource::Attribute))
        );
        assert!(!settings.allow_different_host, "the attribute wins");
        assert_eq!(
            settings.base_url.unwrap().source.to_string(),
            "the provider's gitlab.base_url"
        );

        let lonely = model(
            Value::Null,
            Value::List(vec![Value::object([(
                "allow_different_host",
                Value::from(true),
            )])]),
        );
        let warnings = validate(&lonely);
        assert_eq!(
            warnings
                .iter()
                .map(|w| (
                    w.severity,
                    w.summary.as_str(),
                    w.attribute.as_ref().map(ToString::to_string)
                ))
                .collect::<Vec<_>>(),
            vec![(
                tfplugin::Severity::Warning,
                "GitLab Host Check Disabled Without base_url",
                Some("gitlab[0].allow_different_host".to_owned())
            )]
        );
        assert!(validate(&configured).is_empty());

        let unsure = resolve(
            &model(Value::Null, Value::Null),
            env(&[
                ("GITLAB_TOKEN", "glpat-x"),
                ("GITLAB_ALLOW_DIFFERENT_HOST", "maybe"),
            ]),
        );
        assert!(!unsure.gitlab.unwrap().allow_different_host);
    }

    #[test]
    fn debug_output_hides_secrets() {
        let m = model(
            Value::List(vec![Value::object([
                ("token", Value::from("very-secret")),
                ("client_key", Value::from("KEYDATA")),
            ])]),
            Value::List(vec![Value::object([(
                "token",
                Value::from("glpat-secret"),
            )])]),
        );
        let c = resolve(&m, env(&[]));
        let printed = format!("{c:?}");
        for secret in ["very-secret", "KEYDATA", "glpat-secret"] {
            assert!(!printed.contains(secret), "{printed}");
        }
    }
}
