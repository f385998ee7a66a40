//! Calls that exist only to test the FFI's own guarantees from Kotlin and Python; compiled only
//! with the `test-hooks` feature (scripts/test-bindings.sh turns it on; the packaging scripts do
//! not, so apps never see them).

use crate::FfiError;
use crate::error::guard;
use crate::store::FieldStore;
use crate::sync::on_runtime;

#[uniffi::export]
impl FieldStore {
    /// Panics inside a guarded call: the caller must get `FfiError.Internal`, and the store must
    /// stay usable.
    pub fn test_only_panic(&self, message: String) -> Result<(), FfiError> {
        guard(|| panic!("{message}"))
    }

    /// Panics on the library's async runtime: the caller must get `FfiError.Internal`.
    pub async fn test_only_panic_async(&self, message: String) -> Result<(), FfiError> {
        on_runtime(async move { panic!("{message}") }).await
    }
}
