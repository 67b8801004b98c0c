//! The provider binary: Terraform and OpenTofu start it as a plugin.

fn main() -> std::process::ExitCode {
    tfplugin::serve(
        gitlabrunner::GitLabRunnerProvider::new(),
        tfplugin::ServeOptions {
            provider_address: gitlabrunner::PROVIDER_ADDRESS,
            version: env!("CARGO_PKG_VERSION"),
        },
    )
}
