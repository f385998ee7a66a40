//! The device's secrets (its signing key and its relay token) in a keystore the platform supplies
//! (Android Keystore, iOS Keychain) instead of in the store file.
//!
//! Schema v1 requires a 32-byte `device_identity.secret_key`. When a keystore is supplied the key
//! lives there and the column holds 32 zero bytes, a marker meaning "in the keystore" (a generated
//! key is never all zeros). A store that kept its key in the file moves it on the first open with
//! a keystore: the key is saved in the keystore first, then blanked in the file in one transaction,
//! so a crash in between leaves both copies and the next open finishes the move.

use std::fmt;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use super::{Result, StoreError};
use crate::clock::UnixMillis;
use crate::device::DeviceIdentity;

/// Keystore entry holding the device's 32-byte Ed25519 secret.
pub const DEVICE_KEY_ENTRY: &str = "fieldsync.device_key";
/// Keystore entry holding the relay's bearer token (UTF-8).
pub const RELAY_TOKEN_ENTRY: &str = "fieldsync.relay_token";

/// Marker in `device_identity.secret_key`: the key is in the keystore.
const KEY_IN_KEYSTORE: [u8; 32] = [0; 32];

/// Secure storage for small secrets, supplied by the platform. Errors are the platform's words.
pub trait DeviceSecrets: Send + Sync + fmt::Debug {
    /// The value stored under `entry`, or `None` when there is none.
    fn load(&self, entry: &str) -> std::result::Result<Option<Vec<u8>>, String>;
    /// Stores `value` under `entry`, replacing any previous value.
    fn save(&self, entry: &str, value: &[u8]) -> std::result::Result<(), String>;
}

fn keystore_error(path: &Path, what: &str, reason: String) -> StoreError {
    StoreError::CorruptIdentity {
        path: path.to_owned(),
        reason: format!("the keystore could not {what}: {reason}"),
    }
}

/// Loads this device's identity with the key kept in `secrets`, moving a key kept in the file
/// there, or creates a new identity whose key goes only to the keystore.
pub(super) fn load_or_create_identity_in_keystore(
    tx: &Connection,
    path: &Path,
    now: UnixMillis,
    secrets: &dyn DeviceSecrets,
) -> Result<DeviceIdentity> {
    let damaged =
        |reason: &str| StoreError::CorruptIdentity { path: path.to_owned(), reason: reason.to_owned() };
    let kept = secrets
        .load(DEVICE_KEY_ENTRY)
        .map_err(|e| keystore_error(path, "read the device key", e))?
        .map(|key| <[u8; 32]>::try_from(key).map_err(|_| damaged("the key in the keystore is not 32 bytes")))
        .transpose()?;
    let row: Option<(Vec<u8>, Vec<u8>)> = tx
        .query_row("SELECT secret_key, device_id FROM device_identity WHERE singleton = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let Some((in_file, device_id)) = row else {
        let identity = match kept {
            Some(key) => DeviceIdentity::from_secret(key),
            None => {
                let identity = DeviceIdentity::generate().map_err(|e| damaged(&e.to_string()))?;
                secrets
                    .save(DEVICE_KEY_ENTRY, &identity.secret())
                    .map_err(|e| keystore_error(path, "store the device key", e))?;
                identity
            }
        };
        tx.execute(
            "INSERT INTO device_identity (singleton, secret_key, device_id, created_at) VALUES (1, ?1, ?2, ?3)",
            params![&KEY_IN_KEYSTORE[..], &identity.device_id().as_bytes()[..], now],
        )?;
        return Ok(identity);
    };
    let in_file: [u8; 32] = in_file.try_into().map_err(|_| damaged("the key is not 32 bytes"))?;
    let key = match (in_file != KEY_IN_KEYSTORE, kept) {
        (true, Some(key)) if key != in_file => {
            return Err(damaged("the keystore holds another device's key than this file"));
        }
        (true, _) => {
            secrets
                .save(DEVICE_KEY_ENTRY, &in_file)
                .map_err(|e| keystore_error(path, "store the device key", e))?;
            tx.execute(
                "UPDATE device_identity SET secret_key = ?1 WHERE singleton = 1",
                [&KEY_IN_KEYSTORE[..]],
            )?;
            in_file
        }
        (false, Some(key)) => key,
        (false, None) => return Err(damaged("the device key was kept in a keystore that no longer has it")),
    };
    let identity = DeviceIdentity::from_secret(key);
    if identity.device_id().as_bytes()[..] != device_id[..] {
        return Err(damaged("the keystore holds another device's key than this file"));
    }
    Ok(identity)
}

/// A store whose key is in a keystore cannot be opened without it.
pub(super) fn refuse_key_in_keystore(path: &Path, secret: &[u8]) -> Result<()> {
    if secret == KEY_IN_KEYSTORE {
        return Err(StoreError::CorruptIdentity {
            path: path.to_owned(),
            reason: "the device key is kept in the phone's keystore; open the store with it".into(),
        });
    }
    Ok(())
}

/// Saves the relay token in the keystore.
pub(super) fn save_relay_token(secrets: &dyn DeviceSecrets, path: &Path, token: &str) -> Result<()> {
    secrets
        .save(RELAY_TOKEN_ENTRY, token.as_bytes())
        .map_err(|e| keystore_error(path, "store the relay token", e))
}

/// The relay token in the keystore, if any.
pub(super) fn load_relay_token(secrets: &dyn DeviceSecrets, path: &Path) -> Result<Option<String>> {
    secrets
        .load(RELAY_TOKEN_ENTRY)
        .map_err(|e| keystore_error(path, "read the relay token", e))?
        .map(|bytes| {
            String::from_utf8(bytes)
                .map_err(|_| keystore_error(path, "read the relay token", "it is not UTF-8".into()))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::store::{Store, StoreOptions};

    #[derive(Debug, Default)]
    struct MemoryKeystore(Mutex<HashMap<String, Vec<u8>>>);

    impl DeviceSecrets for MemoryKeystore {
        fn load(&self, entry: &str) -> std::result::Result<Option<Vec<u8>>, String> {
            Ok(self.0.lock().unwrap().get(entry).cloned())
        }
        fn save(&self, entry: &str, value: &[u8]) -> std::result::Result<(), String> {
            self.0.lock().unwrap().insert(entry.to_owned(), value.to_vec());
            Ok(())
        }
    }

    fn key_in_file(path: &Path) -> Vec<u8> {
        let conn = Connection::open(path).unwrap();
        conn.query_row("SELECT secret_key FROM device_identity", [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn a_new_store_keeps_its_key_only_in_the_keystore() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.fieldsync");
        let keystore = Arc::new(MemoryKeystore::default());
        let store = Store::open_with_secrets(&path, StoreOptions::default(), keystore.clone()).unwrap();
        let device = store.device_id();
        store.close().unwrap();
        assert_eq!(key_in_file(&path), KEY_IN_KEYSTORE);
        assert_eq!(keystore.load(DEVICE_KEY_ENTRY).unwrap().map(|k| k.len()), Some(32));

        let again = Store::open_with_secrets(&path, StoreOptions::default(), keystore).unwrap();
        assert_eq!(again.device_id(), device);
        again.close().unwrap();
        assert!(matches!(Store::open(&path), Err(StoreError::CorruptIdentity { .. })));
        let empty = Arc::new(MemoryKeystore::default());
        assert!(matches!(
            Store::open_with_secrets(&path, StoreOptions::default(), empty),
            Err(StoreError::CorruptIdentity { .. })
        ));
    }

    #[test]
    fn a_key_kept_in_the_file_moves_to_the_keystore_and_the_device_stays_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.fieldsync");
        let store = Store::open(&path).unwrap();
        let device = store.device_id();
        store.close().unwrap();
        let keystore = Arc::new(MemoryKeystore::default());
        let moved = Store::open_with_secrets(&path, StoreOptions::default(), keystore.clone()).unwrap();
        assert_eq!(moved.device_id(), device);
        moved.close().unwrap();
        assert_eq!(key_in_file(&path), KEY_IN_KEYSTORE);

        let other = Arc::new(MemoryKeystore::default());
        other.save(DEVICE_KEY_ENTRY, &[7; 32]).unwrap();
        assert!(matches!(
            Store::open_with_secrets(&path, StoreOptions::default(), other),
            Err(StoreError::CorruptIdentity { .. })
        ));
    }

    #[test]
    fn the_relay_token_goes_to_the_keystore_and_only_the_url_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.fieldsync");
        let keystore = Arc::new(MemoryKeystore::default());
        let store = Store::open_with_secrets(&path, StoreOptions::default(), keystore.clone()).unwrap();
        store.set_relay("http://relay.example", "secret-token").unwrap();
        assert_eq!(store.relay().unwrap(), Some(("http://relay.example".into(), "secret-token".into())));
        store.close().unwrap();
        assert_eq!(keystore.load(RELAY_TOKEN_ENTRY).unwrap(), Some(b"secret-token".to_vec()));
        let conn = Connection::open(&path).unwrap();
        let in_file: Option<String> =
            conn.query_row("SELECT relay_token FROM sync_state", [], |r| r.get(0)).unwrap();
        assert_eq!(in_file, None);
    }
}
