//! Prints the seed's Docker-in-Docker runner configuration as rendered TOML.

use gitlab_runner_chart::{
    EmptyDirMedium, EmptyDirVolume, KubernetesConfig, RunnerConfigInput, render,
};

fn main() {
    let input = RunnerConfigInput {
        name: Some("dind".to_owned()),
        kubernetes: KubernetesConfig {
            image: Some("docker:27".to_owned()),
            privileged: Some(true),
            allowed_images: vec!["docker:*".to_owned()],
            node_selector: [("kubernetes.io/os".to_owned(), "linux".to_owned())].into(),
            volumes: gitlab_runner_chart::Volumes {
                empty_dir: vec![EmptyDirVolume {
                    name: "docker-certs".to_owned(),
                    mount_path: "/certs/client".to_owned(),
                    medium: EmptyDirMedium::Memory,
                    ..EmptyDirVolume::default()
                }],
                ..Default::default()
            },
            ..KubernetesConfig::default()
        },
        environment: [("DOCKER_TLS_CERTDIR".to_owned(), "/certs".to_owned())].into(),
        feature_flags: [("FF_USE_FASTZIP".to_owned(), true)].into(),
        ..RunnerConfigInput::default()
    };
    match render(&input) {
        Ok(rendered) => print!("{}", rendered.toml),
        Err(findings) => {
            for finding in findings {
                eprintln!("{finding}");
            }
        }
    }
}
