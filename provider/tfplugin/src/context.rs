//! [`Context`]: what every operation receives besides its request: the configured provider's data
//! and a cancellation token (cancelled when Terraform sends `StopProvider`, e.g. on Ctrl-C).

use std::any::Any;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::diagnostics::Diagnostic;

/// Data the provider's `configure` produced, shared with every resource.
pub type ProviderData = Arc<dyn Any + Send + Sync>;

#[derive(Clone)]
pub struct Context {
    provider_data: Option<ProviderData>,
    cancel: CancellationToken,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("configured", &self.provider_data.is_some())
            .field("cancelled", &self.cancel.is_cancelled())
            .finish()
    }
}

impl Context {
    pub fn new(provider_data: Option<ProviderData>, cancel: CancellationToken) -> Context {
        Context {
            provider_data,
            cancel,
        }
    }

    /// The provider's configured data as `T` (the type the provider's `configure` stored).
    pub fn provider<T: Any + Send + Sync>(&self) -> Result<Arc<T>, Diagnostic> {
        let data = self.provider_data.clone().ok_or_else(|| {
            Diagnostic::error(
                "Provider Not Configured",
                "The provider has not been configured yet (ConfigureProvider was not called in this process). This is a bug in Terraform or the provider; please report it.",
            )
        })?;
        data.downcast::<T>().map_err(|_| {
            Diagnostic::error(
                "Provider Bug: Unexpected Provider Data",
                format!(
                    "The resource expected provider data of type {}. Please report this issue to the provider developers.",
                    std::any::type_name::<T>()
                ),
            )
        })
    }

    /// Cancelled when Terraform asks the provider to stop; long operations should watch it
    /// (`tokio::select!` on `cancelled()`), and then return a diagnostic.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancel
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}
