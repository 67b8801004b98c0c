//! An OCI distribution registry test server (work in progress).
