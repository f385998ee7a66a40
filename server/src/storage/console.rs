//! What the managers' web console stores (docs/console.md): passwords (Argon2id PHC strings),
//! one-time sign-in codes and session tokens (SHA-256), and failed sign-ins for the lockout.
//! The console's handlers (`crate::http::console`) decide; nothing here knows HTTP.

use super::StorageResult;

/// A console session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    /// Who signed in.
    pub user_id: String,
    /// The session's CSRF token, sent back by every form.
    pub csrf: String,
    /// When it ends (Unix ms).
    pub expires_at: i64,
}

/// The console's storage.
pub trait ConsoleStorage {
    /// Sets (or replaces) a user's console password, as an Argon2id PHC string.
    fn console_set_password(&self, user_id: &str, phc: &str, now: i64) -> StorageResult<()>;
    /// A user's console password, if one is set.
    fn console_password(&self, user_id: &str) -> StorageResult<Option<String>>;
    /// Stores a one-time sign-in code (hashed) for a user; an unknown user is `NotFound`.
    fn console_add_code(&self, user_id: &str, code_hash: [u8; 32], expires_at: i64) -> StorageResult<()>;
    /// Uses `user_id`'s unused, unexpired code with this hash: `true` when there was one (it is
    /// used from now on).
    fn console_take_code(&self, user_id: &str, code_hash: [u8; 32], now: i64) -> StorageResult<bool>;
    /// Until when the account is locked, if it is at `now`.
    fn console_locked_until(&self, user_id: &str, now: i64) -> StorageResult<Option<i64>>;
    /// Counts a failed sign-in at `now`: `limit` failures within `window_ms` lock the account for
    /// `lock_ms`. Returns until when it is locked, if it now is.
    fn console_fail(
        &self,
        user_id: &str,
        now: i64,
        limit: u32,
        window_ms: i64,
        lock_ms: i64,
    ) -> StorageResult<Option<i64>>;
    /// Forgets an account's failed sign-ins (after a successful one).
    fn console_clear_failures(&self, user_id: &str) -> StorageResult<()>;
    /// Starts a session.
    fn console_start_session(
        &self,
        token_hash: [u8; 32],
        user_id: &str,
        csrf: &str,
        now: i64,
        expires_at: i64,
    ) -> StorageResult<()>;
    /// The session with this token hash, if it has not ended at `now`.
    fn console_session(&self, token_hash: [u8; 32], now: i64) -> StorageResult<Option<ConsoleSession>>;
    /// Ends a session (sign-out); ended sessions are removed, with every expired one.
    fn console_end_session(&self, token_hash: [u8; 32], now: i64) -> StorageResult<()>;
}
