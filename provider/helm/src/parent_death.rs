//! helm dies with the process that started it.
//!
//! When the provider is killed (SIGKILL, OOM, Terraform giving up on it), nothing in the provider
//! can stop helm. On Linux the kernel can: a process may ask for a signal when its parent dies
//! (`PR_SET_PDEATHSIG`), and the request survives `execve`. Setting it in the child between fork
//! and exec needs `pre_exec` (unsafe, forbidden in this workspace), so the provider starts
//! **its own binary** as a trampoline instead:
//!
//! ```text
//! provider ──spawn──▶ <provider binary> __gitlabrunner-exec-helm <provider pid> <helm> <args…>
//!                       │ prctl(PR_SET_PDEATHSIG, SIGKILL)   (safe wrapper in nix)
//!                       │ parent still <provider pid>?  else exit 125
//!                       └─exec──▶ helm <args…>   (same pid, same process group, same pipes)
//! ```
//!
//! The provider's `main` calls [`exec_if_requested`] first thing, then
//! [`register_this_binary_as_launcher`]; [`crate::HelmRunner`]s then use the trampoline (or one
//! given with [`crate::HelmRunner::with_parent_death_launcher`]). The signal is
//! tied to the thread that spawned the child: helm is spawned from tokio runtime worker threads,
//! which live as long as the runtime (never from `spawn_blocking` threads, which exit when idle).
//!
//! Windows has no such signal but job objects: [`register_this_binary_as_launcher`] puts the
//! provider itself into a new job with `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE` (through the
//! `win32job` crate), and every process it starts afterwards (helm, and what helm starts) is in
//! that job. The provider holds the only handle to the job until it ends, however it ends; the
//! system then closes the handle and kills every process left in the job. No trampoline there.
//! If the job cannot be made (e.g. the provider already sits in a job that forbids nesting,
//! Windows before 8), helm is started directly and a warning is logged.
//!
//! macOS has neither (no `PR_SET_PDEATHSIG`, and a kqueue `NOTE_EXIT` watcher would have to stay
//! a process between the provider and helm, changing how helm is waited for and signalled): helm
//! is started directly, in its own process group. If the provider is killed with SIGKILL, helm
//! runs on until it finishes or its own `--timeout` ends; a provider stopped normally
//! (StopProvider, the deadline) still stops helm itself.

use std::ffi::OsString;
use std::path::Path;

/// argv\[1\] that makes the provider binary act as the trampoline.
pub const TRAMPOLINE_ARG: &str = "__gitlabrunner-exec-helm";

/// Exit code when the parent was already gone before the signal was armed.
pub const EXIT_PARENT_GONE: i32 = 125;
/// Exit code when the signal could not be armed or helm could not be executed.
pub const EXIT_CANNOT_EXEC: i32 = 127;

/// Whether this platform can tie helm's life to the provider's (Linux: trampoline; Windows:
/// job object).
pub const SUPPORTED: bool = cfg!(any(target_os = "linux", windows));

/// Whether helm is started through the trampoline here (Linux only).
pub const USES_TRAMPOLINE: bool = cfg!(target_os = "linux");

static LAUNCHER: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

/// Makes every [`crate::HelmRunner`] created afterwards start helm through this very binary
/// (`/proc/self/exe`, which stays valid even if the file is replaced while the process runs).
/// Only a binary whose `main` calls [`exec_if_requested`] first may call this. Returns whether
/// helm will die with this process.
///
/// On Windows it puts this process into a kill-on-close job instead (see the module docs): every
/// process started afterwards dies with this one.
pub fn register_this_binary_as_launcher() -> bool {
    #[cfg(windows)]
    {
        windows_job::tie_children_to_this_process()
    }
    #[cfg(not(windows))]
    {
        let launcher = Path::new("/proc/self/exe");
        // Without /proc (a rare sandbox) helm is started directly.
        if !USES_TRAMPOLINE || !launcher.exists() {
            return false;
        }
        let _ = LAUNCHER.set(launcher.to_path_buf());
        true
    }
}

#[cfg(windows)]
mod windows_job {
    use std::sync::OnceLock;

    use win32job::{ExtendedLimitInfo, Job};

    /// Never dropped: dropping it would close the last handle and kill this very process. The
    /// system closes it when the process ends, which kills what is left in the job.
    static JOB: OnceLock<Option<Job>> = OnceLock::new();

    pub(super) fn tie_children_to_this_process() -> bool {
        JOB.get_or_init(|| match kill_on_close_job() {
            Ok(job) => Some(job),
            Err(error) => {
                tracing::warn!(%error, "helm will not be stopped if the provider is killed");
                None
            }
        })
        .is_some()
    }

    fn kill_on_close_job() -> Result<Job, win32job::JobError> {
        let mut info = ExtendedLimitInfo::new();
        info.limit_kill_on_job_close();
        let job = Job::create_with_limit_info(&info)?;
        job.assign_current_process()?;
        Ok(job)
    }
}

/// The registered launcher, if any.
pub fn registered_launcher() -> Option<&'static Path> {
    LAUNCHER.get().map(std::path::PathBuf::as_path)
}

/// The trampoline's arguments for running `helm` with `args`, as a child of the current process.
pub fn trampoline_args(helm: &Path, args: &[String]) -> Vec<OsString> {
    let mut out = Vec::with_capacity(args.len() + 3);
    out.push(OsString::from(TRAMPOLINE_ARG));
    out.push(OsString::from(std::process::id().to_string()));
    out.push(helm.as_os_str().to_owned());
    out.extend(args.iter().map(OsString::from));
    out
}

/// When the process was started as the trampoline (argv\[1\] is [`TRAMPOLINE_ARG`]), arms the
/// parent-death signal and replaces itself with helm; never returns then. Otherwise returns at
/// once (one comparison), so `main` can call it unconditionally.
pub fn exec_if_requested() {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() != Some(TRAMPOLINE_ARG.as_ref()) {
        return;
    }
    let code = run_trampoline(args);
    std::process::exit(code);
}

#[cfg(target_os = "linux")]
fn run_trampoline(mut args: impl Iterator<Item = OsString>) -> i32 {
    use std::os::unix::process::CommandExt as _;

    let parent = args
        .next()
        .and_then(|pid| pid.to_str().and_then(|pid| pid.parse::<i32>().ok()));
    let (Some(parent), Some(program)) = (parent, args.next()) else {
        eprintln!("{TRAMPOLINE_ARG}: expected <parent pid> <program> [args…]");
        return EXIT_CANNOT_EXEC;
    };
    if let Err(error) = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL) {
        eprintln!("{TRAMPOLINE_ARG}: cannot arm the parent-death signal: {error}");
        return EXIT_CANNOT_EXEC;
    }
    // The parent may have died between fork and prctl: then the signal never comes.
    if nix::unistd::getppid().as_raw() != parent {
        return EXIT_PARENT_GONE;
    }
    let error = std::process::Command::new(&program).args(args).exec();
    eprintln!(
        "{TRAMPOLINE_ARG}: cannot run {}: {error}",
        Path::new(&program).display()
    );
    EXIT_CANNOT_EXEC
}

#[cfg(not(target_os = "linux"))]
fn run_trampoline(_args: impl Iterator<Item = OsString>) -> i32 {
    eprintln!("{TRAMPOLINE_ARG}: not supported on this system");
    EXIT_CANNOT_EXEC
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trampoline_args_name_the_parent_then_helm_then_its_args() {
        let args = trampoline_args(
            Path::new("/usr/bin/helm"),
            &["upgrade".to_owned(), "--install".to_owned()],
        );
        assert_eq!(args[0], TRAMPOLINE_ARG);
        assert_eq!(args[1], std::process::id().to_string().as_str());
        assert_eq!(args[2], "/usr/bin/helm");
        assert_eq!(&args[3..], ["upgrade", "--install"]);
    }
}
