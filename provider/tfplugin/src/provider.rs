//! The provider trait: its own configuration and the types it offers.

use std::sync::Arc;

use async_trait::async_trait;

use crate::context::ProviderData;
use crate::data_source::DataSource;
use crate::diagnostics::{Diagnostics, OpResult};
use crate::document::Document;
use crate::function::Function;
use crate::resource::{Resource, ValidateRequest, ValidateResponse};
use crate::schema::Schema;

/// `ConfigureProvider`. The configuration may contain unknown values during plan (e.g. a host
/// from a cluster created in the same apply); `configure` must not fail because of that.
#[derive(Debug)]
pub struct ConfigureRequest {
    pub config: Document,
    pub terraform_version: String,
}

/// Store what resources need with [`ConfigureResponse::set_provider_data`].
#[derive(Default)]
pub struct ConfigureResponse {
    pub provider_data: Option<ProviderData>,
    pub diagnostics: Diagnostics,
}

impl std::fmt::Debug for ConfigureResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigureResponse")
            .field("provider_data", &self.provider_data.is_some())
            .field("diagnostics", &self.diagnostics)
            .finish()
    }
}

impl ConfigureResponse {
    /// Resources get it back with `ctx.provider::<T>()`.
    pub fn set_provider_data<T: std::any::Any + Send + Sync>(&mut self, data: T) {
        self.provider_data = Some(Arc::new(data));
    }
}

#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The provider type name, e.g. `"gitlabrunner"`.
    fn type_name(&self) -> &'static str;

    /// The provider block's schema.
    fn schema(&self) -> Schema;

    async fn validate(
        &self,
        _request: ValidateRequest,
        _response: &mut ValidateResponse,
    ) -> OpResult {
        Ok(())
    }

    async fn configure(
        &self,
        request: ConfigureRequest,
        response: &mut ConfigureResponse,
    ) -> OpResult;

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        Vec::new()
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        Vec::new()
    }

    fn functions(&self) -> Vec<Arc<dyn Function>> {
        Vec::new()
    }
}
