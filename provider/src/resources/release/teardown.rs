//! Destroy: the drain (issue 6: pause the runner, wait for its jobs, scale the manager to zero
//! while RBAC still exists) slots in before [`uninstall`], which is a plain `helm uninstall`.

use std::time::Duration;

use helm_driver::{HelmFailure, Uninstall};
use tfplugin::{Context, Diagnostics, OpResult};

use super::helm_ops::{Helm, helm_diagnostic, run_options};
use super::model::ReleaseModel;
use super::schema::DEFAULT_HELM_TIMEOUT_SECONDS;
use super::{kube_client, live};
use crate::ProviderConfig;
use crate::kube::Budget;

/// Destroys the release. The drain step goes before the uninstall.
pub async fn destroy(
    ctx: &Context,
    config: &ProviderConfig,
    model: &ReleaseModel,
    timeout: Duration,
    diagnostics: &mut Diagnostics,
) -> OpResult {
    super::drain::destroy(ctx, config, model, timeout, diagnostics, || {
        uninstall(ctx, config, model, timeout)
    })
    .await
}

/// `helm uninstall` (waiting for the objects to go when `wait`). A release that is already
/// gone is not an error.
pub async fn uninstall(
    ctx: &Context,
    config: &ProviderConfig,
    model: &ReleaseModel,
    timeout: Duration,
) -> OpResult {
    let client = kube_client(config).await?;
    if live::history_within(
        &client,
        &model.namespace,
        &model.name,
        &Budget::new(timeout, ctx),
    )
    .await
    .map_err(Diagnostics::from)?
    .is_none()
    {
        return Ok(());
    }
    let helm = Helm::from_config(config).map_err(Diagnostics::from)?;
    let seconds =
        u64::try_from(model.timeout.unwrap_or(DEFAULT_HELM_TIMEOUT_SECONDS)).unwrap_or(300);
    let request = Uninstall {
        release: model.name.clone(),
        namespace: model.namespace.clone(),
        wait: model.wait.unwrap_or(true),
        timeout: Some(Duration::from_secs(seconds)),
        cascade: None,
    };
    tracing::info!(
        release = model.name,
        namespace = model.namespace,
        "running helm uninstall"
    );
    match helm
        .uninstall(&request, &run_options(timeout, ctx.cancellation(), None))
        .await
    {
        Ok(_) => Ok(()),
        Err(error) if error.failure() == Some(HelmFailure::ReleaseNotFound) => Ok(()),
        Err(error) => Err(helm_diagnostic("uninstall", &model.name, &error).into()),
    }
}
