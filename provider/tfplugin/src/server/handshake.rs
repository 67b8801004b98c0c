//! go-plugin's handshake: environment checks, the listener and the stdout line.

use std::net::{Ipv4Addr, SocketAddr};

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use tokio::net::TcpListener;

/// The cookie Terraform sets for providers.
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// go-plugin's own protocol version (first field of the handshake line).
pub const CORE_PROTOCOL_VERSION: u32 = 1;
/// The Terraform plugin protocol this server speaks.
pub const APP_PROTOCOL_VERSION: u32 = 6;

#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error(
        "This binary is a plugin: it is not meant to be run directly. Terraform or OpenTofu starts it when a configuration uses this provider (run `terraform init` and `terraform plan` in a directory that uses the provider)."
    )]
    NotStartedByTerraform,
    #[error(
        "Terraform asked for plugin protocol versions {offered:?}, but this provider speaks only version 6. Use Terraform 1.0 or newer."
    )]
    NoCommonProtocol { offered: String },
    #[error("invalid {name}: {value:?} is not a port number")]
    BadPort { name: &'static str, value: String },
    #[error("cannot listen on 127.0.0.1 in ports {min}..={max}")]
    Listen {
        min: u16,
        max: u16,
        #[source]
        source: std::io::Error,
    },
}

/// What the environment tells the plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeEnv {
    pub min_port: u16,
    pub max_port: u16,
    /// PEM of Terraform's client certificate; `None` means plaintext.
    pub client_certificate: Option<String>,
}

impl HandshakeEnv {
    /// Reads and checks the environment (via `get`, so tests need not touch the process env).
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<HandshakeEnv, HandshakeError> {
        if get(MAGIC_COOKIE_KEY).as_deref() != Some(MAGIC_COOKIE_VALUE) {
            return Err(HandshakeError::NotStartedByTerraform);
        }
        let offered = get("PLUGIN_PROTOCOL_VERSIONS").unwrap_or_default();
        // Without the variable go-plugin assumes the plugin's own version.
        if !offered.trim().is_empty()
            && !offered
                .split(',')
                .any(|v| v.trim().parse::<u32>() == Ok(APP_PROTOCOL_VERSION))
        {
            return Err(HandshakeError::NoCommonProtocol { offered });
        }
        let port = |name: &'static str, default: u16| match get(name) {
            None => Ok(default),
            Some(v) if v.trim().is_empty() => Ok(default),
            Some(v) => v
                .trim()
                .parse::<u16>()
                .map_err(|_| HandshakeError::BadPort { name, value: v }),
        };
        let min_port = port("PLUGIN_MIN_PORT", 0)?;
        let max_port = port("PLUGIN_MAX_PORT", 0)?;
        let client_certificate = get("PLUGIN_CLIENT_CERT").filter(|c| !c.trim().is_empty());
        Ok(HandshakeEnv {
            min_port,
            max_port,
            client_certificate,
        })
    }
}

/// Binds a loopback listener on the first free port in `min..=max` (any port when both are 0).
pub async fn listen(min: u16, max: u16) -> Result<TcpListener, HandshakeError> {
    let (min, max) = if min == 0 && max == 0 {
        (0, 0)
    } else {
        (min, max.max(min))
    };
    let mut last_error = None;
    for port in min..=max {
        match TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await {
            Ok(listener) => return Ok(listener),
            Err(e) => last_error = Some(e),
        }
    }
    Err(HandshakeError::Listen {
        min,
        max,
        source: last_error.unwrap_or_else(|| std::io::Error::other("empty port range")),
    })
}

/// The line go-plugin reads from stdout: `1|6|tcp|127.0.0.1:PORT|grpc|<base64 DER, no padding>`.
pub fn handshake_line(address: SocketAddr, server_certificate_der: Option<&[u8]>) -> String {
    let cert = server_certificate_der
        .map(|d| STANDARD_NO_PAD.encode(d))
        .unwrap_or_default();
    format!("{CORE_PROTOCOL_VERSION}|{APP_PROTOCOL_VERSION}|tcp|{address}|grpc|{cert}")
}

/// The `TF_REATTACH_PROVIDERS` value for debug mode (`"Test": true` is required by Terraform).
pub fn reattach_json(provider_address: &str, address: SocketAddr) -> String {
    serde_json::json!({
        provider_address: {
            "Protocol": "grpc",
            "ProtocolVersion": APP_PROTOCOL_VERSION,
            "Pid": std::process::id(),
            "Test": true,
            "Addr": {"Network": "tcp", "String": address.to_string()},
        }
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn a_listen_error_does_not_repeat_its_source() {
        let error = HandshakeError::Listen {
            min: 1,
            max: 2,
            source: std::io::Error::other("in use"),
        };
        assert_eq!(
            error.to_string(),
            "cannot listen on 127.0.0.1 in ports 1..=2"
        );
        assert!(std::error::Error::source(&error).is_some());
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn missing_or_wrong_cookie_is_refused_with_the_plugin_sentence() {
        let err = HandshakeEnv::from_lookup(env(&[])).unwrap_err();
        assert!(err.to_string().starts_with("This binary is a plugin"));
        let err = HandshakeEnv::from_lookup(env(&[(MAGIC_COOKIE_KEY, "nope")])).unwrap_err();
        assert!(matches!(err, HandshakeError::NotStartedByTerraform));
    }

    #[test]
    fn protocol_six_must_be_offered() {
        let ok = HandshakeEnv::from_lookup(env(&[
            (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE),
            ("PLUGIN_PROTOCOL_VERSIONS", "6,5"),
            ("PLUGIN_MIN_PORT", "10000"),
            ("PLUGIN_MAX_PORT", "25000"),
        ]))
        .unwrap();
        assert_eq!(
            (ok.min_port, ok.max_port, ok.client_certificate),
            (10000, 25000, None)
        );
        let err = HandshakeEnv::from_lookup(env(&[
            (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE),
            ("PLUGIN_PROTOCOL_VERSIONS", "4,5"),
        ]))
        .unwrap_err();
        assert!(matches!(err, HandshakeError::NoCommonProtocol { .. }));
    }

    #[test]
    fn handshake_line_has_unpadded_base64_certificate() {
        let addr: SocketAddr = "127.0.0.1:1234".parse().unwrap();
        assert_eq!(
            handshake_line(addr, Some(&[1, 2, 3, 4])),
            "1|6|tcp|127.0.0.1:1234|grpc|AQIDBA"
        );
        assert_eq!(handshake_line(addr, None), "1|6|tcp|127.0.0.1:1234|grpc|");
    }

    #[test]
    fn reattach_json_marks_test_mode() {
        let addr: SocketAddr = "127.0.0.1:1234".parse().unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&reattach_json("registry.terraform.io/a/b", addr)).unwrap();
        assert_eq!(v["registry.terraform.io/a/b"]["Test"], true);
        assert_eq!(
            v["registry.terraform.io/a/b"]["Addr"]["String"],
            "127.0.0.1:1234"
        );
    }

    #[tokio::test]
    async fn listener_stays_inside_the_port_range() {
        let probe = listen(0, 0).await.unwrap();
        let port = probe.local_addr().unwrap().port();
        drop(probe);
        let l = listen(port, port).await.unwrap();
        assert_eq!(l.local_addr().unwrap().port(), port);
        assert!(l.local_addr().unwrap().ip().is_loopback());
    }
}
