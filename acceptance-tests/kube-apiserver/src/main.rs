//! `kube-test-server`: runs the Kubernetes API test server as a process until killed.
//!
//! ```text
//! kube-test-server --listen 127.0.0.1:0 --kubeconfig-out PATH [--admin-listen ADDR] [--http]
//!                  [--ready-delay-ms N] [--pod-grace-ms N] [--namespace NS]...
//! ```
//! Prints `KUBE_TEST_SERVER_URL=...`, `KUBE_TEST_SERVER_ADMIN_URL=...` and `KUBECONFIG=...`.

use std::path::PathBuf;
use std::process::ExitCode;

use std::time::Duration;
use test_server_kit::ArgsError;

use kube_test_server::{Options, TestCluster};

const USAGE: &str = "usage: kube-test-server --kubeconfig-out PATH [--listen ADDR] [--admin-listen ADDR] [--http] [--ready-delay-ms N] [--pod-grace-ms N] [--namespace NS]...";

fn parse_args() -> Result<Options, ArgsError> {
    let mut options = Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--listen" => {
                options.listen = value("--listen")?
                    .parse()
                    .map_err(|e| format!("--listen: {e}"))?
            }
            "--admin-listen" => {
                options.admin_listen = value("--admin-listen")?
                    .parse()
                    .map_err(|e| format!("--admin-listen: {e}"))?
            }
            "--kubeconfig-out" => {
                options.kubeconfig_path = Some(PathBuf::from(value("--kubeconfig-out")?))
            }
            "--http" => options.https = false,
            "--ready-delay-ms" => {
                let ms: u64 = value("--ready-delay-ms")?
                    .parse()
                    .map_err(|e| format!("--ready-delay-ms: {e}"))?;
                options.ready_delay = Duration::from_millis(ms);
            }
            "--pod-grace-ms" => {
                let ms: u64 = value("--pod-grace-ms")?
                    .parse()
                    .map_err(|e| format!("--pod-grace-ms: {e}"))?;
                options.pod_termination_grace = Duration::from_millis(ms);
            }
            "--namespace" => options.namespaces.push(value("--namespace")?),
            "-h" | "--help" => return Err(ArgsError::Help),
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    if options.kubeconfig_path.is_none() {
        return Err("--kubeconfig-out is required".into());
    }
    Ok(options)
}

fn main() -> ExitCode {
    test_server_kit::binary::main(
        "kube-test-server",
        USAGE,
        parse_args(),
        TestCluster::start,
        |cluster| {
            format!(
                "KUBE_TEST_SERVER_URL={}\nKUBE_TEST_SERVER_ADMIN_URL={}\nKUBECONFIG={}",
                cluster.url(),
                cluster.admin_url(),
                cluster.kubeconfig_path().display()
            )
        },
    )
}
