//! The provider itself: its schema, validation and configuration.

use std::sync::Arc;

use tfplugin::{
    ConfigureRequest, ConfigureResponse, DataSource, Function, OpResult, Provider, Resource,
    Schema, ValidateRequest, ValidateResponse, async_trait,
};

use crate::config::{self, ProviderModel};

/// The `gitlabrunner` provider.
#[derive(Debug, Default)]
pub struct GitLabRunnerProvider;

impl GitLabRunnerProvider {
    pub fn new() -> GitLabRunnerProvider {
        GitLabRunnerProvider
    }
}

#[async_trait]
impl Provider for GitLabRunnerProvider {
    fn type_name(&self) -> &'static str {
        crate::PROVIDER_TYPE_NAME
    }

    fn schema(&self) -> Schema {
        config::schema()
    }

    async fn validate(
        &self,
        request: ValidateRequest,
        response: &mut ValidateResponse,
    ) -> OpResult {
        let model: ProviderModel = request.config.get()?;
        response.diagnostics.extend(config::validate(&model));
        Ok(())
    }

    async fn configure(
        &self,
        request: ConfigureRequest,
        response: &mut ConfigureResponse,
    ) -> OpResult {
        let model: ProviderModel = request.config.get()?;
        let provider_config = config::resolve(&model, |name| std::env::var(name).ok());
        if !provider_config.unknown_attributes.is_empty() {
            tracing::debug!(
                unknown = provider_config.unknown_attributes.join(", "),
                "provider configuration not fully known yet (values come from resources created in this apply)"
            );
        }
        // Extension point: the kube client and helm detection are built from this later.
        response.set_provider_data(provider_config);
        Ok(())
    }

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        crate::resources::all()
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        crate::resources::data_sources()
    }

    fn functions(&self) -> Vec<Arc<dyn Function>> {
        crate::resources::functions()
    }
}
