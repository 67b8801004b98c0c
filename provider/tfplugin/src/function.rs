//! Provider-defined functions (`provider::gitlabrunner::name(...)`, Terraform ≥ 1.8).

use async_trait::async_trait;

use crate::types::Type;
use crate::value::Value;

/// One positional parameter.
#[derive(Clone, Debug)]
pub struct Parameter {
    pub name: String,
    pub ty: Type,
    pub description: String,
    pub allow_null: bool,
    pub allow_unknown: bool,
}

impl Parameter {
    pub fn new(name: impl Into<String>, ty: Type) -> Parameter {
        Parameter {
            name: name.into(),
            ty,
            description: String::new(),
            allow_null: false,
            allow_unknown: false,
        }
    }

    #[must_use]
    pub fn description(mut self, text: impl Into<String>) -> Parameter {
        self.description = text.into();
        self
    }

    #[must_use]
    pub fn allow_null(mut self) -> Parameter {
        self.allow_null = true;
        self
    }
}

/// What a function takes and returns.
#[derive(Clone, Debug)]
pub struct FunctionDefinition {
    pub parameters: Vec<Parameter>,
    pub variadic: Option<Parameter>,
    pub return_type: Type,
    pub summary: String,
    /// Markdown.
    pub description: String,
    pub deprecation: String,
}

impl FunctionDefinition {
    pub fn new(return_type: Type) -> FunctionDefinition {
        FunctionDefinition {
            parameters: Vec::new(),
            variadic: None,
            return_type,
            summary: String::new(),
            description: String::new(),
            deprecation: String::new(),
        }
    }

    #[must_use]
    pub fn parameter(mut self, parameter: Parameter) -> FunctionDefinition {
        self.parameters.push(parameter);
        self
    }

    #[must_use]
    pub fn variadic(mut self, parameter: Parameter) -> FunctionDefinition {
        self.variadic = Some(parameter);
        self
    }

    #[must_use]
    pub fn summary(mut self, text: impl Into<String>) -> FunctionDefinition {
        self.summary = text.into();
        self
    }

    #[must_use]
    pub fn description(mut self, text: impl Into<String>) -> FunctionDefinition {
        self.description = text.into();
        self
    }
}

/// A function failure shown to the user, optionally blaming one argument.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{text}")]
pub struct FunctionError {
    pub text: String,
    pub argument: Option<usize>,
}

impl FunctionError {
    pub fn new(text: impl Into<String>) -> FunctionError {
        FunctionError {
            text: text.into(),
            argument: None,
        }
    }

    pub fn argument(index: usize, text: impl Into<String>) -> FunctionError {
        FunctionError {
            text: text.into(),
            argument: Some(index),
        }
    }
}

#[async_trait]
pub trait Function: Send + Sync + 'static {
    /// The name without the `provider::<type>::` prefix.
    fn name(&self) -> &'static str;

    fn definition(&self) -> FunctionDefinition;

    /// Called with one value per parameter (variadic arguments appended), decoded with the
    /// parameters' types. Returns a value of the return type.
    async fn call(&self, arguments: Vec<Value>) -> Result<Value, FunctionError>;
}
