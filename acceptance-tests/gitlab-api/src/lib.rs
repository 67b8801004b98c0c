//! A GitLab REST API test server for the runner endpoints, in-process or as a binary.
//!
//! It emulates what the provider's drain and runner management use, to GitLab's documented
//! behaviour (authentication, scopes, status codes, JSON field names, pagination headers):
//!
//! | route | |
//! |---|---|
//! | `GET/PUT/DELETE /api/v4/runners/:id` | details, update (`paused`, deprecated `active`, …), delete |
//! | `GET /api/v4/runners/:id/jobs` | paginated, filtered by `status`, only visible projects' jobs |
//! | `GET /api/v4/runners/:id/managers` | runner managers |
//! | `POST /api/v4/runners/verify` | runner token → `{id, token, token_expires_at}` |
//! | `GET /api/v4/user` | the token's user (`is_admin` shown to administrators) |
//! | `POST /api/v4/user/runners` | create a runner → `{id, token: "glrt-…", token_expires_at}` |
//! | `POST /api/v4/runners/:id/reset_authentication_token` | a manager resets the token → `{token, token_expires_at}` |
//! | `POST /api/v4/runners/reset_authentication_token` | the runner's own rotation with its current token |
//!
//! Tokens expire `runner_token_expiration_interval` after they are issued, by the server's clock
//! (both set through the test surface); an expired token is refused like an unknown one.
//!
//! Tests drive it through the test surface under `/-/test/` ([`AdminClient`]): tokens,
//! runners with known tokens, jobs that finish after a delay or on demand, project visibility,
//! faults (5xx, 429 with `Retry-After`, latency, dropped connections) and a request log.
//!
//! Plain HTTP by default; [`TestServer::start_tls`] serves HTTPS behind a CA made for the server
//! ([`TestServer::ca_pem`]), which [`TestServer::admin`] trusts (for the binary's `--tls`, use
//! [`AdminClient::with_ca`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use gitlab_test_server::{NewJob, NewRunner, TestServer, TokenSpec};
//! let server = TestServer::start().await?;
//! let admin = server.admin();
//! admin.add_token(&TokenSpec::admin("root", "glpat-root")).await?;
//! let runner = admin.create_runner(&NewRunner::default()).await?;
//! let job = admin.start_job(runner.id, &NewJob::running(7, "build").finishing_after(500)).await?;
//! # let _ = job; Ok(()) }
//! ```

mod admin;
mod admin_client;
mod api;
mod auth;
mod errors;
mod model;
mod pagination;
mod params;
mod render;
mod server;
mod store;
mod timefmt;
mod token_api;

pub use admin::TEST_PREFIX;
pub use admin_client::{AdminClient, AdminClientError, ResetToken};
pub use model::{
    AccessLevel, Fault, FaultRule, JobRecord, JobStatus, LoggedRequest, NewJob, NewManager,
    NewRunner, Project, RunnerRecord, RunnerType, Scope, Seed, SetJobStatus, SetProjects,
    TokenSpec,
};
pub use server::{ServerError, TestServer};
pub use store::StoreError;
pub use token_api::{AdvanceClock, InstanceSettings};
