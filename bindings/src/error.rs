//! The one error type the apps see, mapped from core errors in one place.

use fieldsync_core::StoreError;

/// What went wrong, in the few kinds an app branches on, each with a readable message.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum FfiError {
    /// The caller passed something invalid (an empty name, a NaN coordinate, a malformed id).
    #[error("{message}")]
    InvalidInput {
        /// What was wrong and what would be right.
        message: String,
    },
    /// No record has this id.
    #[error("{message}")]
    NotFound {
        /// Which record.
        message: String,
    },
    /// The record is signed and can no longer change.
    #[error("{message}")]
    Sealed {
        /// Which record.
        message: String,
    },
    /// The store cannot be used: closed, open elsewhere, not a fieldsync file, or from a newer app.
    #[error("{message}")]
    StoreUnavailable {
        /// Why, and what to do.
        message: String,
    },
    /// Stored data is damaged or the disk failed.
    #[error("{message}")]
    Storage {
        /// What failed.
        message: String,
    },
}

impl From<StoreError> for FfiError {
    fn from(error: StoreError) -> Self {
        let message = error.to_string();
        match error {
            StoreError::Invalid(_)
            | StoreError::WrongKind { .. }
            | StoreError::Photo(_)
            | StoreError::Signature(_)
            | StoreError::Slip(_)
            | StoreError::OffSite { .. }
            | StoreError::MissingEvidence { .. } => FfiError::InvalidInput { message },
            StoreError::NotFound { .. } | StoreError::NoSuchDocument { .. } => FfiError::NotFound { message },
            StoreError::Sealed { .. } => FfiError::Sealed { message },
            StoreError::Closed
            | StoreError::AlreadyOpen { .. }
            | StoreError::NotADatabase { .. }
            | StoreError::NotAFieldsyncStore { .. }
            | StoreError::SchemaTooNew { .. } => FfiError::StoreUnavailable { message },
            StoreError::CorruptDocument { .. }
            | StoreError::CorruptIdentity { .. }
            | StoreError::Io { .. }
            | StoreError::Migration { .. }
            | StoreError::Sqlite(_)
            | StoreError::Document { .. }
            | StoreError::Protocol(_) => FfiError::Storage { message },
        }
    }
}

impl From<fieldsync_core::ids::IdError> for FfiError {
    fn from(error: fieldsync_core::ids::IdError) -> Self {
        FfiError::InvalidInput { message: error.to_string() }
    }
}
