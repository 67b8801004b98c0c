//! `gitlabrunner_runner`: the runner in GitLab (`POST /user/runners`), its authentication token
//! written straight into a Kubernetes Secret this resource owns — never into state or plan.
//!
//! Layout: `schema.rs` (attributes), `model.rs` (the one model, GitLab requests from it and
//! refresh into it), `gitlab.rs` (access with the drain's URL rules, retries, diagnostics),
//! `secret.rs` (the token Secret), `rotation.rs` (when a plan resets the token), this file (the
//! lifecycle). See README.md beside it for the decisions.

mod gitlab;
mod model;
mod rotation;
mod schema;
mod secret;

use std::sync::Arc;

use gitlab_runner_api::{Deletion, GitlabError, SecretString};
use k8s_openapi::api::core::v1::Namespace;
use tfplugin::timeouts::Operation;
use tfplugin::{
    AttributePath, Context, CreateRequest, CreateResponse, DeleteRequest, DeleteResponse,
    Diagnostic, Diagnostics, Document, ImportRequest, ImportResponse, OpResult, PlanRequest,
    PlanResponse, ReadRequest, ReadResponse, Resource, Schema, TfValue, UpdateRequest,
    UpdateResponse, ValidateRequest, ValidateResponse, async_trait,
};

use self::gitlab::{Gitlab, diagnostic};
use self::model::{Model, SecretRef, check_scope};
use self::secret::{TokenSecret, live_digest, live_token};
use super::placement::{self, budget};
use crate::ProviderConfig;
use crate::kube::{Action, Budget, Verb, client_for};

pub use schema::TYPE_NAME;

/// Private state: the `token_digest` of the token this resource last wrote. A live Secret with
/// another digest was edited by hand (its token is then not trusted).
const WRITTEN_DIGEST: &str = "written_token_digest";

/// What every operation on a runner starts with: its operation's budget (timeouts and
/// Terraform's cancellation), the configured provider, and GitLab as the provider block and the
/// resource's `gitlab_url` reach it.
struct Session {
    budget: Budget,
    provider: Arc<ProviderConfig>,
    gitlab: Gitlab,
}

impl Session {
    fn open(
        document: &Document,
        model: &Model,
        operation: Operation,
        ctx: &Context,
    ) -> Result<Self, Diagnostics> {
        let budget = budget(document, operation, ctx)?;
        let provider = ctx.provider::<ProviderConfig>()?;
        let gitlab = Gitlab::connect(
            &provider,
            model.gitlab_url.known().map(String::as_str),
            &budget,
            ctx.cancellation(),
        )?;
        Ok(Self {
            budget,
            provider,
            gitlab,
        })
    }
}

/// The resource.
#[derive(Debug, Default)]
pub struct GitlabRunner;

#[async_trait]
impl Resource for GitlabRunner {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema::schema()
    }

    async fn validate(
        &self,
        request: ValidateRequest,
        response: &mut ValidateResponse,
    ) -> OpResult {
        let config: Model = request.config.get()?;
        response.diagnostics.extend(check_scope(&config));
        Ok(())
    }

    async fn modify_plan(
        &self,
        _ctx: &Context,
        request: PlanRequest,
        response: &mut PlanResponse,
    ) -> OpResult {
        let config: Model = request.config.get()?;
        let mut plan: Model = response.plan.get()?;
        response.diagnostics.extend(check_scope(&config));
        plan.token_secret_name = match config.token_secret.known().and_then(|b| b.first()) {
            Some(secret) => secret.name.clone(),
            None => TfValue::Unknown,
        };
        if request.is_create() {
            plan.id = TfValue::Unknown;
            plan.runner_id = TfValue::Unknown;
            plan.token_digest = TfValue::Unknown;
            plan.token_expires_at = TfValue::Unknown;
        } else {
            let prior: Model = request.prior_state.get()?;
            plan.id = prior.id.clone();
            plan.runner_id = prior.runner_id.clone();
            match rotation::due(&prior, &config, time::OffsetDateTime::now_utc()) {
                Some(reason) => {
                    plan.token_digest = TfValue::Unknown;
                    plan.token_expires_at = TfValue::Unknown;
                    response.diagnostics.push(Diagnostic::warning(
                        "Runner Token Will Be Rotated",
                        format!("Apply resets the authentication token of GitLab runner {}: {reason}. The new token goes into the Secret and token_digest changes, so a release referencing it rolls its manager.", prior.id.known().map_or("?", String::as_str)),
                    ));
                }
                None => {
                    plan.token_digest = prior.token_digest.clone();
                    plan.token_expires_at = prior.token_expires_at.clone();
                }
            }
        }
        response.plan.set(&plan)?;
        Ok(())
    }

    async fn create(
        &self,
        ctx: &Context,
        request: CreateRequest,
        response: &mut CreateResponse,
    ) -> OpResult {
        let mut plan: Model = request.plan.get()?;
        let Session {
            budget,
            provider,
            gitlab,
        } = Session::open(&request.plan, &plan, Operation::Create, ctx)?;
        let place = plan.secret()?;
        let kube = client_for(&provider).await?;
        check_namespace(&kube, &place, &budget).await?;
        let secret = TokenSecret::new(kube, place);
        secret.check_can_write(&budget).await?;
        let create = plan.create_request()?;
        // One attempt: a retried POST could create a second runner.
        let created = gitlab
            .once(gitlab.client().create_user_runner(&create))
            .await
            .map_err(|e| diagnostic("Cannot Create GitLab Runner", &e))?;
        let digest = match secret.write(&created.token, &budget).await {
            Ok(digest) => digest,
            Err(mut diagnostics) => {
                // The token exists nowhere else: do not leave a runner no one can use.
                let removed = gitlab
                    .call(|| gitlab.client().delete_runner(created.id))
                    .await;
                diagnostics.push(Diagnostic::error(
                    "Runner Token Not Stored",
                    match removed {
                        Ok(_) => format!("The token of new GitLab runner {} could not be written into the Secret, so the runner was deleted again. Fix the error above and apply again.", created.id),
                        Err(e) => format!("The token of new GitLab runner {} could not be written into the Secret, and deleting the runner failed too ({e}); delete it in GitLab (Admin/Group/Project → CI/CD → Runners).", created.id),
                    },
                ));
                return Err(diagnostics);
            }
        };
        let runner = gitlab
            .call(|| gitlab.client().get_runner(created.id))
            .await
            .map_err(|e| diagnostic("Cannot Read GitLab Runner", &e))?;
        plan.refresh_from(&runner);
        plan.token_digest = TfValue::Known(digest.clone());
        plan.token_expires_at = created.token_expires_at.clone().into();
        plan.token_secret_name = TfValue::Known(secret.place.name.clone());
        plan.settle_unknowns();
        response.state.set(&plan)?;
        response.private.set(WRITTEN_DIGEST, &digest)?;
        Ok(())
    }

    async fn read(
        &self,
        ctx: &Context,
        request: ReadRequest,
        response: &mut ReadResponse,
    ) -> OpResult {
        let mut state: Model = request.state.get()?;
        let Session {
            budget,
            provider,
            gitlab,
        } = Session::open(&request.state, &state, Operation::Read, ctx)?;
        let id = state.runner_id()?;
        let runner = gitlab
            .call(|| gitlab.client().find_runner(id))
            .await
            .map_err(|e| diagnostic("Cannot Read GitLab Runner", &e))?;
        let Some(runner) = runner else {
            // Deleted in GitLab: plan a new runner (a new token, written into the same Secret).
            response.state.remove();
            return Ok(());
        };
        state.refresh_from(&runner);
        let imported = placement::take_import_flag(&request.private, &mut response.private)?;
        let written: Option<String> = request.private.get(WRITTEN_DIGEST)?;
        let secret = TokenSecret::new(client_for(&provider).await?, state.secret()?);
        let check =
            check_token(&gitlab, &secret, id, imported, written.as_deref(), &budget).await?;
        match check {
            TokenCheck::Works { digest, expires_at } => {
                state.token_digest = TfValue::Known(digest.clone());
                if let Some(expires_at) = expires_at {
                    state.token_expires_at = TfValue::Known(expires_at);
                }
                response.private.set(WRITTEN_DIGEST, &digest)?;
            }
            TokenCheck::Lost => state.token_digest = TfValue::Null,
        }
        state.token_secret_name = TfValue::Known(secret.place.name.clone());
        state.settle_unknowns();
        response.state.set(&state)?;
        Ok(())
    }

    async fn update(
        &self,
        ctx: &Context,
        request: UpdateRequest,
        response: &mut UpdateResponse,
    ) -> OpResult {
        let mut plan: Model = request.plan.get()?;
        let prior: Model = request.prior_state.get()?;
        let Session {
            budget,
            provider,
            gitlab,
        } = Session::open(&request.plan, &plan, Operation::Update, ctx)?;
        let id = prior.runner_id()?;
        let settings = plan.settings();
        if settings != prior.settings() && !settings.is_empty() {
            gitlab
                .call(|| gitlab.client().update_runner(id, &settings))
                .await
                .map_err(|e| diagnostic("Cannot Update GitLab Runner", &e))?;
        }
        if plan.token_digest.is_unknown() {
            let secret = TokenSecret::new(client_for(&provider).await?, plan.secret()?);
            let (digest, expires_at) = rotate(&gitlab, &secret, id, &budget).await?;
            plan.token_digest = TfValue::Known(digest.clone());
            plan.token_expires_at = expires_at.into();
            response.private.set(WRITTEN_DIGEST, &digest)?;
        }
        let runner = gitlab
            .call(|| gitlab.client().get_runner(id))
            .await
            .map_err(|e| diagnostic("Cannot Read GitLab Runner", &e))?;
        plan.refresh_from(&runner);
        plan.settle_unknowns();
        response.state.set(&plan)?;
        Ok(())
    }

    async fn delete(
        &self,
        ctx: &Context,
        request: DeleteRequest,
        _response: &mut DeleteResponse,
    ) -> OpResult {
        let prior: Model = request.prior_state.get()?;
        let Session {
            budget,
            provider,
            gitlab,
        } = Session::open(&request.prior_state, &prior, Operation::Delete, ctx)?;
        let id = prior.runner_id()?;
        match gitlab.call(|| gitlab.client().delete_runner(id)).await {
            Ok(Deletion::Deleted | Deletion::AlreadyGone) => {}
            Err(e) => return Err(diagnostic("Cannot Delete GitLab Runner", &e)),
        }
        let secret = TokenSecret::new(client_for(&provider).await?, prior.secret()?);
        secret.delete(&budget).await
    }

    async fn import(
        &self,
        _ctx: &Context,
        request: ImportRequest,
        response: &mut ImportResponse,
    ) -> OpResult {
        let import = parse_import_id(&request.id)?;
        let id = import.runner_id;
        let attr = AttributePath::new;
        response.state.set_attr(&attr("id"), &id.to_string())?;
        response
            .state
            .set_attr(&attr("runner_id"), &i64::try_from(id).unwrap_or(i64::MAX))?;
        response
            .state
            .set_attr(&attr("token_secret"), &vec![import.secret])?;
        response
            .state
            .set_attr(&attr("gitlab_url"), &import.gitlab_url)?;
        response.private.set(placement::IMPORTED, &true)?;
        Ok(())
    }
}

/// An import ID: the runner, its token Secret, and the GitLab (optional).
#[derive(Debug, PartialEq, Eq)]
struct ImportId {
    runner_id: u64,
    secret: SecretRef,
    gitlab_url: Option<String>,
}

/// `<runner id>/<namespace>/<secret name>[/<gitlab_url>]`.
fn parse_import_id(id: &str) -> Result<ImportId, Diagnostics> {
    let parts: Vec<&str> = id.splitn(4, '/').collect();
    let parsed = match parts.as_slice() {
        [runner, namespace, name, rest @ ..] if !namespace.is_empty() && !name.is_empty() => {
            runner.parse::<u64>().ok().map(|runner_id| ImportId {
                runner_id,
                secret: SecretRef {
                    namespace: (*namespace).to_owned(),
                    name: (*name).to_owned(),
                },
                gitlab_url: rest
                    .first()
                    .filter(|u| !u.is_empty())
                    .map(|u| (*u).to_owned()),
            })
        }
        _ => None,
    };
    parsed.ok_or_else(|| {
        Diagnostic::error(
            "Invalid Import ID",
            format!("Expected \"<runner id>/<namespace>/<secret name>\" or, when the resource sets gitlab_url, \"<runner id>/<namespace>/<secret name>/<gitlab_url>\" (e.g. \"42/gitlab-runner/runner-token/https://gitlab.example.com\"), got {id:?}. The Secret must hold the runner's current token: it is read to compute token_digest, never stored."),
        )
        .into()
    })
}

/// What refresh found about the token in the Secret.
enum TokenCheck {
    /// The Secret holds the token this resource wrote (or, after an import, a token), and GitLab
    /// accepts it for this runner.
    Works {
        digest: String,
        expires_at: Option<String>,
    },
    /// Missing Secret, a token edited by hand, or one GitLab refuses: only a reset helps.
    Lost,
}

async fn check_token(
    gitlab: &Gitlab,
    secret: &TokenSecret,
    runner_id: u64,
    imported: bool,
    written: Option<&str>,
    budget: &Budget,
) -> Result<TokenCheck, Diagnostics> {
    let Some(live) = secret.get(budget).await? else {
        return Ok(TokenCheck::Lost);
    };
    let digest = live_digest(&live);
    if !imported && written.is_some_and(|w| w != digest) {
        return Ok(TokenCheck::Lost);
    }
    let Some(token) = live_token(&live) else {
        return Ok(TokenCheck::Lost);
    };
    match gitlab.call(|| verify(gitlab.client(), &token)).await {
        Ok(identity) if identity.id == runner_id => Ok(TokenCheck::Works {
            digest,
            expires_at: identity.token_expires_at,
        }),
        Ok(_) | Err(GitlabError::Forbidden { .. }) => Ok(TokenCheck::Lost),
        Err(e) => Err(diagnostic("Cannot Check the Runner Token", &e)),
    }
}

async fn verify(
    client: &gitlab_runner_api::GitlabClient,
    token: &SecretString,
) -> Result<gitlab_runner_api::RunnerIdentity, GitlabError> {
    use gitlab_runner_api::ExposeSecret;
    client.verify_runner(token.expose_secret()).await
}

/// Resets the token and writes the new one into the Secret; the new digest and expiry.
async fn rotate(
    gitlab: &Gitlab,
    secret: &TokenSecret,
    runner_id: u64,
    budget: &Budget,
) -> Result<(String, Option<String>), Diagnostics> {
    let reset = gitlab
        .call(|| gitlab.client().reset_runner_token(runner_id))
        .await
        .map_err(|e| diagnostic("Cannot Reset the Runner Token", &e))?;
    let digest = secret.write(&reset.token, budget).await.map_err(|mut d| {
        d.push(Diagnostic::error(
            "Runner Token Not Stored",
            format!("GitLab reset the token of runner {runner_id}, but the new token could not be written into the Secret; the next plan resets it again."),
        ));
        d
    })?;
    Ok((digest, reset.token_expires_at))
}

/// A clear error before anything is created when the Secret's namespace does not exist.
async fn check_namespace(
    client: &kube::Client,
    place: &SecretRef,
    budget: &Budget,
) -> Result<(), Diagnostics> {
    let namespaces: kube::Api<Namespace> = kube::Api::all(client.clone());
    let action = Action::new(Verb::Get, "namespaces", "", "", place.namespace.as_str());
    let found = budget
        .retry(&action, || namespaces.get_opt(&place.namespace))
        .await;
    // A token that may not read namespaces (403) cannot tell: the Secret write will say.
    if matches!(found, Ok(None)) {
        return Err(Diagnostic::error(
            "Namespace Not Found",
            format!("The namespace {:?} of token_secret does not exist; create it first (e.g. with the kubernetes provider), then apply again. No runner was created.", place.namespace),
        )
        .at(AttributePath::new("token_secret").index(0).attr("namespace"))
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_ids_name_the_runner_and_the_secret() {
        let import = parse_import_id("42/ci/runner-token").unwrap();
        assert_eq!(import.runner_id, 42);
        assert_eq!(
            import.secret,
            SecretRef {
                namespace: "ci".into(),
                name: "runner-token".into()
            }
        );
        assert_eq!(import.gitlab_url, None);
        let with_url = parse_import_id("42/ci/s/https://gitlab.example.com/sub").unwrap();
        assert_eq!(
            with_url.gitlab_url.as_deref(),
            Some("https://gitlab.example.com/sub")
        );
        for bad in ["42", "x/ci/s", "42/ci", "42//s", "/ci/s"] {
            assert!(parse_import_id(bad).is_err(), "{bad}");
        }
    }
}
