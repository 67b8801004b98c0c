//! The provider binary: Terraform and OpenTofu start it as a plugin.

/// mimalloc instead of the system allocator: a refresh of 50 releases costs the provider ~20%
/// less CPU with it (malloc/free and the page faults of a fresh process were a quarter of a
/// read), for ~3 MiB more peak memory (`cargo bench -p acceptance --bench release_read`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // Started by ourselves as the trampoline that ties helm's life to ours: becomes helm.
    helm_driver::parent_death::exec_if_requested();
    // helm dies with the provider: Linux through that trampoline, Windows through a kill-on-close
    // job this process joins; macOS has neither (see helm_driver::parent_death).
    helm_driver::parent_death::register_this_binary_as_launcher();
    // Sandboxes (kubeconfig, values, registry login) of providers killed mid-helm: the owner is
    // gone, nobody else removes them. One directory listing when there are none.
    let _ = helm_driver::remove_stale_sandboxes(&std::env::temp_dir());
    tfplugin::serve(
        gitlabrunner::GitLabRunnerProvider::new(),
        tfplugin::ServeOptions {
            provider_address: gitlabrunner::PROVIDER_ADDRESS,
            version: env!("CARGO_PKG_VERSION"),
        },
    )
}
