//! Running helm: private environment, stdin for secrets, one deadline for all helm processes of
//! an operation, a cancellation token that stops the child (after an optional grace in which helm
//! may finish on its own: SIGTERM, then SIGKILL after a grace period), its own process group (a
//! terminal Ctrl-C does not reach it), optionally tied to the provider's life (see
//! [`crate::parent_death`]), and redacted, classified errors.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use kube_connection::ResolvedConnection;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

use crate::args::{self, HelmInvocation, Rollback, Uninstall, UpgradeInstall};
use crate::error::{HelmError, classify_failure};
use crate::redact::redact;
use crate::sandbox::HelmSandbox;
use crate::version::HelmBinary;

/// How long helm gets to stop after SIGTERM before it is killed.
#[cfg(unix)]
const TERMINATION_GRACE: Duration = Duration::from_secs(10);
/// At most this much of helm's stderr is kept in an error (its tail).
const MAX_STDERR: usize = 8 * 1024;

/// Limits and secrets of one operation (all its helm processes share them).
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The operation's limit (give helm's own `--timeout` some margin); reported in errors.
    pub timeout: Duration,
    /// When every helm process of the operation must have finished: `timeout` after
    /// [`RunOptions::new`]. `repo add` / `registry login` and the upgrade that follows share it.
    pub deadline: tokio::time::Instant,
    /// Cancelling it stops the process (after `cancel_grace`).
    pub cancel: CancellationToken,
    /// How long a running helm may go on after cancellation before it gets SIGTERM: helm has no
    /// safe stopping point mid-upgrade, so a short install or upgrade is better left to finish.
    /// Zero by default.
    pub cancel_grace: Duration,
    /// Strings to mask in everything that leaves the crate (stdin secrets are added
    /// automatically).
    pub secrets: Vec<String>,
}

impl RunOptions {
    /// Options whose deadline is `timeout` from now.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            deadline: tokio::time::Instant::now() + timeout,
            cancel: CancellationToken::new(),
            cancel_grace: Duration::ZERO,
            secrets: Vec::new(),
        }
    }
}

/// What a successful helm run printed (redacted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelmOutput {
    pub stdout: String,
    pub stderr: String,
}

/// Runs helm commands with a detected binary.
#[derive(Debug, Clone)]
pub struct HelmRunner {
    binary: HelmBinary,
    /// The trampoline binary that arms the parent-death signal (see [`crate::parent_death`]).
    launcher: Option<PathBuf>,
}

impl HelmRunner {
    pub fn new(binary: HelmBinary) -> Self {
        Self {
            binary,
            launcher: crate::parent_death::registered_launcher().map(Path::to_path_buf),
        }
    }

    /// Starts helm through `launcher` (a binary whose `main` calls
    /// [`crate::parent_death::exec_if_requested`], normally `std::env::current_exe()`), so that
    /// helm is killed when this process dies. Ignored where the platform has no parent-death
    /// signal.
    #[must_use]
    pub fn with_parent_death_launcher(mut self, launcher: PathBuf) -> Self {
        if crate::parent_death::USES_TRAMPOLINE {
            self.launcher = Some(launcher);
        }
        self
    }

    pub fn binary(&self) -> &HelmBinary {
        &self.binary
    }

    /// `helm upgrade --install` with `values_yaml` written to a private 0600 file; credentials,
    /// if any, go through `repo add` / `registry login` on stdin first. The sandbox (values,
    /// kubeconfig, credentials) is removed before this returns.
    pub async fn upgrade_install(
        &self,
        connection: &ResolvedConnection,
        request: &UpgradeInstall,
        values_yaml: &str,
        options: &RunOptions,
    ) -> Result<HelmOutput, HelmError> {
        self.supports(request)?;
        let mut sandbox = HelmSandbox::new(connection)?;
        let values = [sandbox.write_values(values_yaml)?];
        let repository_ca = match &request.transport.ca_pem {
            Some(pem) => Some(sandbox.write_repository_ca(pem)?),
            None => None,
        };
        let files = args::UpgradeFiles {
            kubeconfig: sandbox.kubeconfig(),
            values: &values,
            repository_ca: repository_ca.as_deref(),
        };
        let invocations = args::upgrade_install(self.binary.generation, request, files)?;
        let mut output = HelmOutput {
            stdout: String::new(),
            stderr: String::new(),
        };
        for invocation in &invocations {
            output = self.run(&sandbox, invocation, options).await?;
        }
        Ok(output)
    }

    /// Refuses what this helm cannot do before anything runs: `--plain-http` came with helm 3.13.
    fn supports(&self, request: &UpgradeInstall) -> Result<(), HelmError> {
        let version = &self.binary.version;
        if request.transport.plain_http && (version.major, version.minor) < (3, 13) {
            return Err(HelmError::InvalidRequest(format!(
                "plain-HTTP OCI registries need helm 3.13 or newer (--plain-http); {} is helm {version}",
                self.binary.path.display()
            )));
        }
        Ok(())
    }

    /// `helm uninstall`.
    pub async fn uninstall(
        &self,
        connection: &ResolvedConnection,
        request: &Uninstall,
        options: &RunOptions,
    ) -> Result<HelmOutput, HelmError> {
        let sandbox = HelmSandbox::new(connection)?;
        let invocation = args::uninstall(self.binary.generation, request, sandbox.kubeconfig())?;
        self.run(&sandbox, &invocation, options).await
    }

    /// `helm rollback`.
    pub async fn rollback(
        &self,
        connection: &ResolvedConnection,
        request: &Rollback,
        options: &RunOptions,
    ) -> Result<HelmOutput, HelmError> {
        let sandbox = HelmSandbox::new(connection)?;
        let invocation = args::rollback(self.binary.generation, request, sandbox.kubeconfig())?;
        self.run(&sandbox, &invocation, options).await
    }

    /// Runs one invocation inside `sandbox`.
    pub async fn run(
        &self,
        sandbox: &HelmSandbox,
        invocation: &HelmInvocation,
        options: &RunOptions,
    ) -> Result<HelmOutput, HelmError> {
        let mut secrets: Vec<&str> = options.secrets.iter().map(String::as_str).collect();
        if let Some(secret) = &invocation.stdin_secret {
            secrets.push(secret);
        }
        let command_line = redact(&invocation.display(), &secrets);
        let mut child = self
            .spawn(sandbox, invocation)
            .map_err(|error| HelmError::Spawn {
                command: command_line.clone(),
                reason: redact(&error.to_string(), &secrets),
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            if let Some(secret) = &invocation.stdin_secret {
                // A write error shows up as helm's own failure below.
                let _ = stdin.write_all(secret.as_bytes()).await;
            }
            drop(stdin);
        }
        let stdout = read_all(child.stdout.take());
        let stderr = read_all(child.stderr.take());
        let mut outcome = tokio::select! {
            status = child.wait() => Outcome::Exited(status),
            () = tokio::time::sleep_until(options.deadline) => Outcome::TimedOut,
            () = options.cancel.cancelled() => Outcome::Cancelled,
        };
        if matches!(outcome, Outcome::Cancelled) && !options.cancel_grace.is_zero() {
            // Let helm finish what it is doing, within the grace and the deadline.
            let grace_end =
                (tokio::time::Instant::now() + options.cancel_grace).min(options.deadline);
            if let Ok(status) = tokio::time::timeout_at(grace_end, child.wait()).await {
                outcome = Outcome::Exited(status);
            }
        }
        let status = match outcome {
            Outcome::Exited(status) => status,
            Outcome::TimedOut => {
                stop(&mut child).await;
                return Err(HelmError::TimedOut {
                    command: command_line,
                    seconds: options.timeout.as_secs(),
                });
            }
            Outcome::Cancelled => {
                stop(&mut child).await;
                return Err(HelmError::Cancelled {
                    command: command_line,
                });
            }
        }
        .map_err(|error| HelmError::Spawn {
            command: command_line.clone(),
            reason: error.to_string(),
        })?;
        let stdout = redact(&stdout.await.unwrap_or_default(), &secrets);
        let stderr = redact(&stderr.await.unwrap_or_default(), &secrets);
        if status.success() {
            return Ok(HelmOutput { stdout, stderr });
        }
        let failure = classify_failure(&stderr);
        Err(HelmError::CommandFailed {
            command: command_line,
            stderr: tail(stderr.trim(), MAX_STDERR),
            exit_code: status.code(),
            failure,
        })
    }

    fn spawn(&self, sandbox: &HelmSandbox, invocation: &HelmInvocation) -> std::io::Result<Child> {
        let mut command = match &self.launcher {
            Some(launcher) => {
                let mut command = Command::new(launcher);
                command.args(crate::parent_death::trampoline_args(
                    &self.binary.path,
                    &invocation.args,
                ));
                command
            }
            None => {
                let mut command = Command::new(&self.binary.path);
                command.args(&invocation.args);
                command
            }
        };
        // Its own process group: a terminal's Ctrl-C (SIGINT to the foreground group that
        // Terraform and the provider are in) does not reach helm; only StopProvider and the
        // deadline stop it.
        #[cfg(unix)]
        command.process_group(0);
        // Windows: a new process group, for which the console's Ctrl-C is disabled.
        #[cfg(windows)]
        command.creation_flags(CREATE_NEW_PROCESS_GROUP);
        for (name, _) in std::env::vars_os() {
            let Some(name) = name.to_str() else { continue };
            if name.starts_with("HELM_") || name.starts_with("XDG_") || name == "KUBECONFIG" {
                command.env_remove(name);
            }
        }
        for (name, value) in sandbox.environment() {
            command.env(name, value);
        }
        command
            .env("NO_COLOR", "1")
            .current_dir(sandbox.path())
            .stdin(if invocation.stdin_secret.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command.spawn()
    }
}

enum Outcome {
    Exited(std::io::Result<std::process::ExitStatus>),
    TimedOut,
    Cancelled,
}

fn read_all<R>(reader: Option<R>) -> tokio::task::JoinHandle<String>
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut buffer = Vec::new();
        if let Some(mut reader) = reader {
            let _ = reader.read_to_end(&mut buffer).await;
        }
        String::from_utf8_lossy(&buffer).into_owned()
    })
}

/// `CREATE_NEW_PROCESS_GROUP` from the Windows process creation flags.
#[cfg(windows)]
const CREATE_NEW_PROCESS_GROUP: u32 = 0x0000_0200;

/// SIGTERM to helm's process group (helm then marks the release failed instead of leaving it
/// pending; credential plugins it started stop too), then SIGKILL to the group.
///
/// Windows has no SIGTERM that reaches a console process without `GenerateConsoleCtrlEvent`
/// (an FFI call, and this workspace forbids `unsafe`): helm is terminated at once
/// (`TerminateProcess`). Processes helm started end with the provider (see
/// [`crate::parent_death`]).
async fn stop(child: &mut Child) {
    #[cfg(unix)]
    if let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) {
        let group = nix::unistd::Pid::from_raw(pid);
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGTERM);
        if tokio::time::timeout(TERMINATION_GRACE, child.wait())
            .await
            .is_ok()
        {
            return;
        }
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
    }
    let _ = child.kill().await;
}

fn tail(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &text[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_refused_for_helm_older_than_3_13() {
        let request = UpgradeInstall {
            transport: crate::args::ChartTransport {
                plain_http: true,
                ..crate::args::ChartTransport::default()
            },
            ..UpgradeInstall::new(
                "runner",
                "ci",
                crate::args::ChartSource::Oci {
                    reference: "oci://127.0.0.1:5000/charts/gitlab-runner".into(),
                },
            )
        };
        let runner = |version: &str| {
            HelmRunner::new(
                HelmBinary::with_version(
                    "/opt/helm/bin/helm".into(),
                    semver::Version::parse(version).unwrap(),
                )
                .unwrap(),
            )
        };
        let error = runner("3.12.3").supports(&request).unwrap_err();
        assert!(
            error.to_string().contains("need helm 3.13 or newer")
                && error.to_string().contains("helm 3.12.3"),
            "{error}"
        );
        assert!(runner("3.13.0").supports(&request).is_ok());
        assert!(runner("4.1.4").supports(&request).is_ok());
        let without = UpgradeInstall {
            transport: crate::args::ChartTransport::default(),
            ..request
        };
        assert!(runner("3.8.0").supports(&without).is_ok());
    }

    #[test]
    fn tail_keeps_the_end_on_a_char_boundary() {
        assert_eq!(tail("short", 10), "short");
        assert_eq!(tail("abcdef", 3), "…def");
        assert_eq!(tail("ééé", 3), "…é");
    }
}
