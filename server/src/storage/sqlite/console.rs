//! [`ConsoleStorage`] over SQLite: tables from `migrations/0010_console.sql`.

use rusqlite::{OptionalExtension, params};

use super::SqliteStorage;
use crate::storage::StorageResult;
use crate::storage::console::{ConsoleSession, ConsoleStorage};

impl ConsoleStorage for SqliteStorage {
    fn console_set_password(&self, user_id: &str, phc: &str, now: i64) -> StorageResult<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO console_passwords (user_id, phc, set_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (user_id) DO UPDATE SET phc = ?2, set_at = ?3",
                params![user_id, phc, now],
            )?;
            // A new password ends every session of the account.
            tx.execute("DELETE FROM console_sessions WHERE user_id = ?1", [user_id])?;
            Ok(())
        })
    }

    fn console_password(&self, user_id: &str) -> StorageResult<Option<String>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT phc FROM console_passwords WHERE user_id = ?1")?
                .query_row([user_id], |r| r.get(0))
                .optional()?)
        })
    }

    fn console_add_code(&self, user_id: &str, code_hash: [u8; 32], expires_at: i64) -> StorageResult<()> {
        self.write(|tx| {
            super::require_user(tx, user_id)?;
            tx.execute(
                "INSERT INTO console_codes (code_hash, user_id, expires_at) VALUES (?1, ?2, ?3)",
                params![&code_hash[..], user_id, expires_at],
            )?;
            Ok(())
        })
    }

    fn console_take_code(&self, user_id: &str, code_hash: [u8; 32], now: i64) -> StorageResult<bool> {
        self.write(|tx| {
            let taken = tx.execute(
                "UPDATE console_codes SET used_at = ?3
                 WHERE code_hash = ?1 AND user_id = ?2 AND used_at IS NULL AND expires_at > ?3",
                params![&code_hash[..], user_id, now],
            )?;
            Ok(taken == 1)
        })
    }

    fn console_locked_until(&self, user_id: &str, now: i64) -> StorageResult<Option<i64>> {
        self.read(|conn| {
            let until: Option<i64> = conn
                .prepare_cached("SELECT locked_until FROM console_failures WHERE user_id = ?1")?
                .query_row([user_id], |r| r.get(0))
                .optional()?;
            Ok(until.filter(|&u| u > now))
        })
    }

    fn console_fail(
        &self,
        user_id: &str,
        now: i64,
        limit: u32,
        window_ms: i64,
        lock_ms: i64,
    ) -> StorageResult<Option<i64>> {
        self.write(|tx| {
            let row: Option<(i64, i64, i64)> = tx
                .query_row(
                    "SELECT failures, first_at, locked_until FROM console_failures WHERE user_id = ?1",
                    [user_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let (failures, first_at) = match row {
                Some((n, first, _)) if now - first < window_ms => (n + 1, first),
                _ => (1, now),
            };
            let locked_until = if failures >= i64::from(limit) { now + lock_ms } else { 0 };
            tx.execute(
                "INSERT INTO console_failures (user_id, failures, first_at, locked_until) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (user_id) DO UPDATE SET failures = ?2, first_at = ?3, locked_until = ?4",
                params![user_id, if locked_until > 0 { 0 } else { failures }, first_at, locked_until],
            )?;
            Ok((locked_until > 0).then_some(locked_until))
        })
    }

    fn console_clear_failures(&self, user_id: &str) -> StorageResult<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM console_failures WHERE user_id = ?1", [user_id])?;
            Ok(())
        })
    }

    fn console_start_session(
        &self,
        token_hash: [u8; 32],
        user_id: &str,
        csrf: &str,
        now: i64,
        expires_at: i64,
    ) -> StorageResult<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM console_sessions WHERE expires_at <= ?1", [now])?;
            tx.execute(
                "INSERT INTO console_sessions (token_hash, user_id, csrf, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![&token_hash[..], user_id, csrf, now, expires_at],
            )?;
            Ok(())
        })
    }

    fn console_session(&self, token_hash: [u8; 32], now: i64) -> StorageResult<Option<ConsoleSession>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT user_id, csrf, expires_at FROM console_sessions
                     WHERE token_hash = ?1 AND expires_at > ?2",
                )?
                .query_row(params![&token_hash[..], now], |r| {
                    Ok(ConsoleSession { user_id: r.get(0)?, csrf: r.get(1)?, expires_at: r.get(2)? })
                })
                .optional()?)
        })
    }

    fn console_end_session(&self, token_hash: [u8; 32], now: i64) -> StorageResult<()> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM console_sessions WHERE token_hash = ?1 OR expires_at <= ?2",
                params![&token_hash[..], now],
            )?;
            Ok(())
        })
    }
}
