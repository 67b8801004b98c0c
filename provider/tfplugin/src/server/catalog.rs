//! The provider's types and schemas, built once per process on first use (start-up stays cheap,
//! and every RPC works without a prior GetProviderSchema).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::data_source::DataSource;
use crate::function::{Function, FunctionDefinition};
use crate::provider::Provider;
use crate::resource::Resource;
use crate::schema::Schema;
use crate::types::Type;

pub struct ResourceEntry {
    pub resource: Arc<dyn Resource>,
    pub schema: Schema,
    pub ty: Arc<Type>,
}

pub struct DataSourceEntry {
    pub data_source: Arc<dyn DataSource>,
    pub schema: Schema,
    pub ty: Arc<Type>,
}

pub struct FunctionEntry {
    pub function: Arc<dyn Function>,
    pub definition: FunctionDefinition,
}

pub struct Catalog {
    pub provider_schema: Schema,
    pub provider_type: Arc<Type>,
    pub resources: BTreeMap<String, ResourceEntry>,
    pub data_sources: BTreeMap<String, DataSourceEntry>,
    pub functions: BTreeMap<String, FunctionEntry>,
}

impl Catalog {
    pub fn build(provider: &dyn Provider) -> Catalog {
        let provider_schema = provider.schema();
        let provider_type = Arc::new(provider_schema.value_type());
        let resources = provider
            .resources()
            .into_iter()
            .map(|resource| {
                let schema = resource.schema();
                let ty = Arc::new(schema.value_type());
                (
                    resource.type_name().to_owned(),
                    ResourceEntry {
                        resource,
                        schema,
                        ty,
                    },
                )
            })
            .collect();
        let data_sources = provider
            .data_sources()
            .into_iter()
            .map(|data_source| {
                let schema = data_source.schema();
                let ty = Arc::new(schema.value_type());
                (
                    data_source.type_name().to_owned(),
                    DataSourceEntry {
                        data_source,
                        schema,
                        ty,
                    },
                )
            })
            .collect();
        let functions = provider
            .functions()
            .into_iter()
            .map(|function| {
                let definition = function.definition();
                (
                    function.name().to_owned(),
                    FunctionEntry {
                        function,
                        definition,
                    },
                )
            })
            .collect();
        Catalog {
            provider_schema,
            provider_type,
            resources,
            data_sources,
            functions,
        }
    }
}
