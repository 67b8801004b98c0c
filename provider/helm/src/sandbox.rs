//! A private directory per helm operation: HOME, XDG and helm directories, the kubeconfig and
//! the values files, all inside one 0700 temp dir that is removed when the sandbox is dropped.
//!
//! The directory's name says whose it is: `gitlabrunner-helm-<pid>-<start>-<random>`, with the
//! owning process's id and start time (clock ticks since boot on Linux, so a reused pid does
//! not pass for the owner). A provider killed with SIGKILL cannot remove its sandbox (which holds
//! a kubeconfig with a token or client key); [`remove_stale_sandboxes`] at the next start removes
//! the sandboxes of processes that are gone.
//!
//! On Windows the modes do not apply: the directory is made in `%TEMP%`, which is per user
//! (`%LOCALAPPDATA%\Temp`) and whose ACL grants access only to that user, SYSTEM and the
//! Administrators; what is created inside inherits that ACL. (A `TMP`/`TEMP` pointed at a shared
//! directory would widen that: keep it per user.) The owner's start time comes from the system's
//! process list there (seconds since the epoch), so a reused pid does not pass for the owner
//! either.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use kube_connection::{ResolvedConnection, create_private};
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
        let prefix = owner_prefix(std::process::id(), own_start_time());
        builder.prefix(&prefix);
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

/// Start of every sandbox directory's name.
pub const SANDBOX_PREFIX: &str = "gitlabrunner-helm-";

fn owner_prefix(pid: u32, start: u64) -> String {
    format!("{SANDBOX_PREFIX}{pid}-{start}-")
}

/// The owner a sandbox directory's name records: `(pid, start time)`.
fn parse_owner(name: &str) -> Option<(u32, u64)> {
    let mut parts = name.strip_prefix(SANDBOX_PREFIX)?.splitn(3, '-');
    let pid = parts.next()?.parse().ok()?;
    let start = parts.next()?.parse().ok()?;
    parts.next().filter(|rest| !rest.is_empty())?;
    Some((pid, start))
}

/// This process's start time (0 where it cannot be read).
fn own_start_time() -> u64 {
    static START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *START.get_or_init(|| process_start_time(std::process::id()).unwrap_or(0))
}

/// A process's start time in clock ticks since boot (`/proc/<pid>/stat` field 22).
#[cfg(target_os = "linux")]
fn process_start_time(pid: u32) -> Option<u64> {
    process_stat(pid).map(|(_, start)| start)
}

/// A process's state letter (field 3) and start time (field 22) from `/proc/<pid>/stat`.
#[cfg(target_os = "linux")]
fn process_stat(pid: u32) -> Option<(String, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    let state = fields.next()?.to_owned();
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// A process's start time in seconds since the epoch (0 when the system does not tell it).
#[cfg(windows)]
fn process_start_time(pid: u32) -> Option<u64> {
    use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};
    let pid = Pid::from_u32(pid);
    let mut system = System::new();
    // Start time comes with every refresh, even when everything else is ruled out.
    system.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[pid]),
        true,
        ProcessRefreshKind::nothing(),
    );
    system.process(pid).map(sysinfo::Process::start_time)
}

#[cfg(not(any(target_os = "linux", windows)))]
fn process_start_time(_pid: u32) -> Option<u64> {
    None
}

/// Whether the process that made a sandbox is certainly gone (a live process, or one whose state
/// cannot be told, keeps its sandbox).
fn owner_is_gone(pid: u32, start: u64) -> bool {
    #[cfg(target_os = "linux")]
    {
        match process_stat(pid) {
            // No such process, or the pid now belongs to a process started at another time.
            None => !Path::new(&format!("/proc/{pid}")).exists(),
            // A zombie runs no more (its parent has not reaped it yet).
            Some((state, _)) if state == "Z" || state == "X" => true,
            Some((_, now)) => start != 0 && now != start,
        }
    }
    #[cfg(all(unix, not(target_os = "linux")))]
    {
        let _ = start;
        let Ok(raw) = i32::try_from(pid) else {
            return false;
        };
        matches!(
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None),
            Err(nix::errno::Errno::ESRCH)
        )
    }
    #[cfg(windows)]
    {
        match process_start_time(pid) {
            None => true,
            // Another process now has this pid (0: the start time could not be read).
            Some(now) => start != 0 && now != 0 && now != start,
        }
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = start;
        false
    }
}

/// What [`remove_stale_sandboxes`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StaleSandboxes {
    /// Sandboxes removed (their owner is gone).
    pub removed: Vec<PathBuf>,
    /// Sandboxes of dead owners that could not be removed, with the reason.
    pub failed: Vec<(PathBuf, String)>,
}

/// Removes the sandboxes in `dir` (normally `std::env::temp_dir()`) whose owning process is gone:
/// only directories (not symlinks) named like ours, owned by this user. One directory listing
/// when there is nothing to remove.
pub fn remove_stale_sandboxes(dir: &Path) -> StaleSandboxes {
    let mut report = StaleSandboxes::default();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return report;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some((pid, start)) = name.to_str().and_then(parse_owner) else {
            continue;
        };
        let path = entry.path();
        if !is_own_directory(&path) || !owner_is_gone(pid, start) {
            continue;
        }
        match std::fs::remove_dir_all(&path) {
            Ok(()) => report.removed.push(path),
            Err(error) => report.failed.push((path, error.to_string())),
        }
    }
    report
}

/// A real directory (not a symlink) owned by this user.
fn is_own_directory(path: &Path) -> bool {
    let Ok(metadata) = std::fs::symlink_metadata(path) else {
        return false;
    };
    if !metadata.file_type().is_dir() {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        metadata.uid() == nix::unistd::geteuid().as_raw()
    }
    #[cfg(not(unix))]
    {
        true
    }
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
    fn the_name_records_this_process_and_its_start_time() {
        let sandbox = HelmSandbox::new(&connection()).unwrap();
        let name = sandbox.path().file_name().unwrap().to_str().unwrap();
        let (pid, start) = parse_owner(name).unwrap();
        assert_eq!(pid, std::process::id());
        if cfg!(target_os = "linux") {
            assert_ne!(start, 0);
        }
        assert_eq!(start, own_start_time());
    }

    #[test]
    fn owner_names_parse_strictly() {
        assert_eq!(parse_owner("gitlabrunner-helm-12-345-abc"), Some((12, 345)));
        assert_eq!(parse_owner("gitlabrunner-helm-12-345-"), None);
        assert_eq!(parse_owner("gitlabrunner-helm-abc123"), None);
        assert_eq!(parse_owner("other-12-345-abc"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn only_sandboxes_of_gone_processes_are_removed() {
        let tmp = tempfile::tempdir().unwrap();
        // A process that has exited (and been reaped): its pid is free.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let me = std::process::id();
        let my_start = own_start_time();
        let make = |name: String| {
            let path = tmp.path().join(name);
            std::fs::create_dir(&path).unwrap();
            std::fs::write(path.join("kubeconfig"), "token").unwrap();
            path
        };
        let of_dead = make(format!("{SANDBOX_PREFIX}{dead}-1-x1"));
        let reused_pid = make(format!("{SANDBOX_PREFIX}{me}-{}-x2", my_start + 1));
        let mine = make(format!("{SANDBOX_PREFIX}{me}-{my_start}-x3"));
        let parent = std::os::unix::process::parent_id();
        let parent_start = process_start_time(parent).unwrap();
        let of_parent = make(format!("{SANDBOX_PREFIX}{parent}-{parent_start}-x4"));
        let of_parent_reused = make(format!("{SANDBOX_PREFIX}{parent}-{}-x5", parent_start + 7));
        let unrelated = make(format!("gitlabrunner-other-{dead}-1-x6"));
        let target = make("target".into());
        let link = tmp.path().join(format!("{SANDBOX_PREFIX}{dead}-1-x7"));
        std::os::unix::fs::symlink(&target, &link).unwrap();

        // A process that has exited but is not reaped yet (a zombie).
        let mut zombie = std::process::Command::new("true").spawn().unwrap();
        let zombie_pid = zombie.id();
        let zombie_start = process_start_time(zombie_pid).unwrap();
        while process_stat(zombie_pid).is_some_and(|(state, _)| state != "Z") {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let of_zombie = make(format!("{SANDBOX_PREFIX}{zombie_pid}-{zombie_start}-x8"));

        let report = remove_stale_sandboxes(tmp.path());
        zombie.wait().unwrap();
        assert!(!of_zombie.exists(), "a zombie runs no more");
        assert!(!of_dead.exists());
        assert!(!of_parent_reused.exists(), "a reused pid is not the owner");
        assert!(
            !reused_pid.exists(),
            "an earlier process with this pid is gone"
        );
        assert!(mine.exists(), "this process is alive");
        assert!(of_parent.exists(), "a live owner keeps its sandbox");
        assert!(unrelated.exists() && target.join("kubeconfig").exists());
        assert!(link.exists(), "symlinks are never followed nor removed");
        assert_eq!(report.removed.len(), 4, "{report:?}");
        assert!(report.failed.is_empty(), "{report:?}");
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
