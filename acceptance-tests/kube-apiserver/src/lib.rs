//! A Kubernetes API test server faithful enough for real `helm` 3/4, `kubectl` 1.35 and kube-rs.
//!
//! Start one in-process with [`TestCluster::start`], point clients at
//! [`TestCluster::kubeconfig_path`], and drive the test hooks through [`TestCluster::admin`].
//! See the crate README for what is emulated and where it simplifies.

mod admin;
mod admin_client;
mod admin_types;
mod api;
mod auth;
mod cluster;
mod controller;
mod fields;
mod http;
mod kinds;
mod kubelet;
mod ops;
mod protobuf;
mod quota;
mod rbac;
mod resources;
mod selectors;
mod status;
mod store;
mod strategic;
mod table;
mod tls;
mod validate;
mod watch;

pub use admin::EDIT_MANAGER;
pub use admin_client::{AdminClient, AdminError};
pub use admin_types::{Fault, FaultAction, RequestRecord};
pub use auth::{AccessRule, TokenGrant};
pub use cluster::{Options, StartError, TestCluster, kubeconfig_yaml};
pub use kubelet::{ImageBehaviour, ImageRule};
