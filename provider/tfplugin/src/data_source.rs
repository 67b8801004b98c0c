//! The data source trait.

use async_trait::async_trait;

use crate::context::Context;
use crate::diagnostics::{Diagnostics, OpResult};
use crate::document::Document;
use crate::schema::Schema;

/// `ReadDataSource`.
#[derive(Debug)]
pub struct DataSourceReadRequest {
    pub config: Document,
}

/// `state` starts as the configuration; fill in the computed attributes.
#[derive(Debug)]
pub struct DataSourceReadResponse {
    pub state: Document,
    pub diagnostics: Diagnostics,
}

#[async_trait]
pub trait DataSource: Send + Sync + 'static {
    /// The full type name, e.g. `"gitlabrunner_runner_config"`.
    fn type_name(&self) -> &'static str;

    fn schema(&self) -> Schema;

    async fn validate(
        &self,
        _request: crate::resource::ValidateRequest,
        _response: &mut crate::resource::ValidateResponse,
    ) -> OpResult {
        Ok(())
    }

    async fn read(
        &self,
        ctx: &Context,
        request: DataSourceReadRequest,
        response: &mut DataSourceReadResponse,
    ) -> OpResult;
}
