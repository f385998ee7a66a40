//! [`PushStorage`] over SQLite: tables from `migrations/0005_push.sql`, alerts from
//! `0004_alerts.sql`.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::SqliteStorage;
use crate::storage::push::{
    AlertLevel, ClaimedDelivery, DeliveryAttempt, DeliveryCounts, DeliveryLogEntry, DeliveryNext,
    FannedOutAlert, Id16, NewPushSubscription, ProviderKind, PushStorage, PushSubscriptionRow,
};
use crate::storage::{StorageError, StorageResult};

const SUBSCRIPTION_COLUMNS: &str = "s.subscription_id, s.device_id, s.user_id, s.team_id, s.provider, s.address, s.p256dh, s.auth, s.created_at";

fn id16(bytes: Vec<u8>, what: &str) -> StorageResult<Id16> {
    bytes.try_into().map_err(|_| StorageError::Backend(format!("a stored {what} id is not 16 bytes")))
}

/// Reads the [`SUBSCRIPTION_COLUMNS`] starting at column `at`.
fn subscription_at(r: &Row<'_>, at: usize) -> rusqlite::Result<RawSubscription> {
    Ok(RawSubscription {
        subscription_id: r.get(at)?,
        device_id: r.get(at + 1)?,
        user_id: r.get(at + 2)?,
        team_id: r.get(at + 3)?,
        provider: r.get(at + 4)?,
        address: r.get(at + 5)?,
        p256dh: r.get(at + 6)?,
        auth: r.get(at + 7)?,
        created_at: r.get(at + 8)?,
    })
}

struct RawSubscription {
    subscription_id: Vec<u8>,
    device_id: Vec<u8>,
    user_id: String,
    team_id: String,
    provider: String,
    address: String,
    p256dh: Option<Vec<u8>>,
    auth: Option<Vec<u8>>,
    created_at: i64,
}

impl RawSubscription {
    fn into_row(self) -> StorageResult<PushSubscriptionRow> {
        Ok(PushSubscriptionRow {
            subscription_id: id16(self.subscription_id, "subscription")?,
            device_id: id16(self.device_id, "device")?,
            user_id: self.user_id,
            team_id: self.team_id,
            provider: ProviderKind::parse(&self.provider).ok_or_else(|| {
                StorageError::Backend(format!("unknown stored push provider {:?}", self.provider))
            })?,
            address: self.address,
            p256dh: self.p256dh,
            auth: self.auth,
            created_at: self.created_at,
        })
    }
}

fn level_of(s: &str) -> StorageResult<AlertLevel> {
    AlertLevel::parse(s).ok_or_else(|| StorageError::Backend(format!("unknown stored alert level {s:?}")))
}

/// Active subscriptions of the team's users whose role receives `level`, on devices not revoked.
fn recipients(conn: &Connection, team_id: &str, level: AlertLevel) -> StorageResult<Vec<Vec<u8>>> {
    let roles: Vec<&str> = level.recipients().iter().map(|r| r.as_str()).collect();
    let (first, second) = (roles[0], roles.get(1).copied().unwrap_or(roles[0]));
    let ids = conn
        .prepare_cached(
            "SELECT s.subscription_id FROM push_subscriptions s
             JOIN users u ON u.user_id = s.user_id
             JOIN devices d ON d.device_id = s.device_id
             WHERE s.team_id = ?1 AND s.removed_at IS NULL AND d.revoked_at IS NULL
               AND u.team_id = ?1 AND u.role IN (?2, ?3)",
        )?
        .query_map(params![team_id, first, second], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(ids)
}

impl PushStorage for SqliteStorage {
    fn add_push_subscription(&self, s: &NewPushSubscription, now: i64) -> StorageResult<Id16> {
        let new_id = *uuid::Uuid::now_v7().as_bytes();
        self.write(|tx| {
            // Only active rows hold an address (unique index `push_subscriptions_active_address`);
            // the check and the insert run in one write transaction, so two registrations of the
            // same address cannot both pass.
            let active: Option<(Vec<u8>, Vec<u8>, bool)> = tx
                .query_row(
                    "SELECT s.subscription_id, s.device_id, d.device_id IS NULL OR d.revoked_at IS NOT NULL
                     FROM push_subscriptions s LEFT JOIN devices d ON d.device_id = s.device_id
                     WHERE s.provider = ?1 AND s.address = ?2 AND s.removed_at IS NULL",
                    params![s.provider.as_str(), s.address],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let p256dh = s.p256dh.as_ref().map(|k| &k[..]);
            let auth = s.auth.as_ref().map(|k| &k[..]);
            if let Some((id, owner, owner_revoked)) = active {
                let id = id16(id, "subscription")?;
                if owner == s.device_id {
                    // The same device again (a retry, or new Web Push keys): its own row.
                    tx.execute(
                        "UPDATE push_subscriptions SET user_id = ?2, team_id = ?3, p256dh = ?4, auth = ?5
                         WHERE subscription_id = ?1",
                        params![&id[..], s.user_id, s.team_id, p256dh, auth],
                    )?;
                    return Ok(id);
                }
                if !owner_revoked {
                    return Err(StorageError::Conflict(format!(
                        "this {} address is registered by another device; unregister it there \
                         (or have an admin of that device's team do so) first",
                        s.provider.as_str()
                    )));
                }
                // Nothing is delivered to a revoked device's subscription; the address is free.
                remove_subscription(tx, &id, "replaced: its device was revoked", now)?;
            }
            tx.execute(
                "INSERT INTO push_subscriptions (subscription_id, device_id, user_id, team_id, provider,
                 address, p256dh, auth, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    &new_id[..],
                    &s.device_id[..],
                    s.user_id,
                    s.team_id,
                    s.provider.as_str(),
                    s.address,
                    p256dh,
                    auth,
                    now
                ],
            )?;
            Ok(new_id)
        })
    }

    fn push_subscription(&self, subscription_id: Id16) -> StorageResult<Option<PushSubscriptionRow>> {
        self.read(|conn| {
            conn.query_row(
                &format!(
                    "SELECT {SUBSCRIPTION_COLUMNS} FROM push_subscriptions s
                     WHERE s.subscription_id = ?1 AND s.removed_at IS NULL"
                ),
                [&subscription_id[..]],
                |r| subscription_at(r, 0),
            )
            .optional()?
            .map(RawSubscription::into_row)
            .transpose()
        })
    }

    fn device_push_subscriptions(&self, device_id: Id16) -> StorageResult<Vec<PushSubscriptionRow>> {
        self.read(|conn| {
            conn.prepare(&format!(
                "SELECT {SUBSCRIPTION_COLUMNS} FROM push_subscriptions s
                 WHERE s.device_id = ?1 AND s.removed_at IS NULL ORDER BY s.created_at"
            ))?
            .query_map([&device_id[..]], |r| subscription_at(r, 0))?
            .map(|r| r.map_err(StorageError::from).and_then(RawSubscription::into_row))
            .collect()
        })
    }

    fn remove_push_subscription(&self, subscription_id: Id16, reason: &str, now: i64) -> StorageResult<bool> {
        self.write(|tx| remove_subscription(tx, &subscription_id, reason, now))
    }

    fn fan_out_alerts(&self, now: i64, limit: u32) -> StorageResult<Vec<FannedOutAlert>> {
        self.write(|tx| {
            let alerts: Vec<(Vec<u8>, String, String, Vec<u8>)> = tx
                .prepare_cached(
                    "SELECT alert_id, team_id, level, payload FROM alerts WHERE fanned_out_at IS NULL
                     ORDER BY raised_at LIMIT ?1",
                )?
                .query_map([i64::from(limit)], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let mut out = Vec::with_capacity(alerts.len());
            for (alert_id, team_id, level, payload) in alerts {
                let level = level_of(&level)?;
                let mut insert = tx.prepare_cached(
                    "INSERT OR IGNORE INTO push_deliveries (alert_id, subscription_id, team_id, state,
                     next_attempt_at, created_at) VALUES (?1, ?2, ?3, 'pending', ?4, ?4)",
                )?;
                let mut deliveries = 0u32;
                for subscription in recipients(tx, &team_id, level)? {
                    deliveries += insert.execute(params![alert_id, subscription, team_id, now])? as u32;
                }
                tx.prepare_cached("UPDATE alerts SET fanned_out_at = ?2 WHERE alert_id = ?1")?
                    .execute(params![alert_id, now])?;
                out.push(FannedOutAlert {
                    alert_id: id16(alert_id, "alert")?,
                    team_id,
                    level,
                    payload,
                    deliveries,
                });
            }
            Ok(out)
        })
    }

    fn claim_due_deliveries(
        &self,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> StorageResult<Vec<ClaimedDelivery>> {
        self.write(|tx| {
            let rows = tx
                .prepare_cached(&format!(
                    "SELECT d.alert_id, d.attempts, d.created_at, a.opportunity_id, a.level, a.payload,
                            {SUBSCRIPTION_COLUMNS}
                     FROM push_deliveries d
                     JOIN alerts a ON a.alert_id = d.alert_id
                     JOIN push_subscriptions s ON s.subscription_id = d.subscription_id
                     WHERE d.state = 'pending' AND d.next_attempt_at <= ?1
                     ORDER BY d.next_attempt_at LIMIT ?2"
                ))?
                .query_map(params![now, i64::from(limit)], |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Vec<u8>>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, Vec<u8>>(5)?,
                        subscription_at(r, 6)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut lease = tx.prepare_cached(
                "UPDATE push_deliveries SET next_attempt_at = ?3, attempts = attempts + 1
                 WHERE alert_id = ?1 AND subscription_id = ?2",
            )?;
            let mut out = Vec::with_capacity(rows.len());
            for (alert_id, attempts, queued_at, opportunity_id, level, payload, subscription) in rows {
                lease.execute(params![alert_id, subscription.subscription_id, lease_until])?;
                out.push(ClaimedDelivery {
                    alert_id: id16(alert_id, "alert")?,
                    opportunity_id,
                    level: level_of(&level)?,
                    payload,
                    subscription: subscription.into_row()?,
                    attempt: u32::try_from(attempts + 1).unwrap_or(u32::MAX),
                    queued_at,
                });
            }
            Ok(out)
        })
    }

    fn record_delivery_attempts(&self, attempts: &[DeliveryAttempt]) -> StorageResult<()> {
        self.write(|tx| attempts.iter().try_for_each(|a| record_attempt(tx, a)))
    }
    fn next_delivery_due(&self) -> StorageResult<Option<i64>> {
        self.read(|conn| {
            // Only deliveries `claim_due_deliveries` can claim: one whose alert or subscription row
            // was deleted by hand would otherwise be "due" forever and keep the deliverer spinning.
            Ok(conn
                .query_row(
                    "SELECT d.next_attempt_at FROM push_deliveries d
                     WHERE d.state = 'pending'
                       AND EXISTS (SELECT 1 FROM alerts a WHERE a.alert_id = d.alert_id)
                       AND EXISTS (SELECT 1 FROM push_subscriptions s WHERE s.subscription_id = d.subscription_id)
                     ORDER BY d.next_attempt_at LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .optional()?)
        })
    }

    fn delivery_log(&self, team_id: &str, limit: u32) -> StorageResult<Vec<DeliveryLogEntry>> {
        self.read(|conn| {
            let rows = conn
                .prepare_cached(
                    "SELECT alert_id, subscription_id, provider, attempt, status, outcome, error, at
                     FROM push_delivery_log WHERE team_id = ?1 ORDER BY id DESC LIMIT ?2",
                )?
                .query_map(params![team_id, i64::from(limit)], |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, Option<i64>>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, Option<String>>(6)?,
                        r.get::<_, i64>(7)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter()
                .map(|(alert, subscription, provider, attempt, status, outcome, error, at)| {
                    Ok(DeliveryLogEntry {
                        alert_id: id16(alert, "alert")?,
                        subscription_id: id16(subscription, "subscription")?,
                        provider: ProviderKind::parse(&provider).ok_or_else(|| {
                            StorageError::Backend(format!("unknown stored push provider {provider:?}"))
                        })?,
                        attempt: u32::try_from(attempt).unwrap_or(0),
                        status: status.and_then(|s| u16::try_from(s).ok()),
                        outcome,
                        error,
                        at,
                    })
                })
                .collect()
        })
    }

    fn delivery_counts(&self) -> StorageResult<DeliveryCounts> {
        self.read(|conn| {
            let mut counts = DeliveryCounts::default();
            let mut statement =
                conn.prepare_cached("SELECT state, count(*) FROM push_deliveries GROUP BY state")?;
            let rows = statement.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            for row in rows {
                let (state, n) = row?;
                let n = n.max(0) as u64;
                match state.as_str() {
                    "pending" => counts.pending = n,
                    "delivered" => counts.delivered = n,
                    "gone" => counts.gone = n,
                    _ => counts.failed += n,
                }
            }
            Ok(counts)
        })
    }
}

/// Marks a subscription removed and ends its pending deliveries as `gone`.
fn remove_subscription(tx: &Connection, id: &Id16, reason: &str, now: i64) -> StorageResult<bool> {
    let removed = tx
        .prepare_cached(
            "UPDATE push_subscriptions SET removed_at = ?2, removed_reason = ?3
             WHERE subscription_id = ?1 AND removed_at IS NULL",
        )?
        .execute(params![&id[..], now, reason])?;
    tx.prepare_cached(
        "UPDATE push_deliveries SET state = 'gone', finished_at = ?2 WHERE subscription_id = ?1 AND state = 'pending'",
    )?
    .execute(params![&id[..], now])?;
    Ok(removed > 0)
}

/// Logs one attempt and applies its consequence.
fn record_attempt(tx: &Connection, a: &DeliveryAttempt) -> StorageResult<()> {
    tx.prepare_cached(
        "INSERT INTO push_delivery_log (alert_id, subscription_id, team_id, provider, attempt, status,
         outcome, error, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        &a.alert_id[..],
        &a.subscription_id[..],
        a.team_id,
        a.provider.as_str(),
        a.attempt,
        a.status,
        a.outcome,
        a.error,
        a.at
    ])?;
    let key = params![&a.alert_id[..], &a.subscription_id[..], a.at];
    match a.next {
        DeliveryNext::Delivered => {
            tx.prepare_cached(
                "UPDATE push_deliveries SET state = 'delivered', finished_at = ?3
                 WHERE alert_id = ?1 AND subscription_id = ?2",
            )?
            .execute(key)?;
        }
        DeliveryNext::Failed => {
            tx.prepare_cached(
                "UPDATE push_deliveries SET state = 'failed', finished_at = ?3
                 WHERE alert_id = ?1 AND subscription_id = ?2",
            )?
            .execute(key)?;
        }
        DeliveryNext::RetryAt(at) => {
            tx.prepare_cached(
                "UPDATE push_deliveries SET next_attempt_at = ?3
                 WHERE alert_id = ?1 AND subscription_id = ?2 AND state = 'pending'",
            )?
            .execute(params![&a.alert_id[..], &a.subscription_id[..], at])?;
        }
        DeliveryNext::SubscriptionGone => {
            remove_subscription(tx, &a.subscription_id, "the push service answered that it is gone", a.at)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{RelayStorage, Role};

    const NOW: i64 = 1_700_000_000_000;

    /// Enrolls a device of a new user (in a new tenant) with `role`; returns (device, user, team).
    fn device(storage: &SqliteStorage, n: u8, role: Role) -> (Id16, String, String) {
        let tenant = storage.create_tenant(&format!("tenant {n}"), NOW).unwrap();
        let team = storage.create_team(&tenant, "team", NOW).unwrap();
        let user = storage.create_user(&team, "someone", role, NOW).unwrap();
        storage.add_enrollment_code(&user, [n; 32], NOW + 60_000).unwrap();
        storage.enroll_device([n; 32], [n; 16], [n; 32], "phone", [n ^ 0xff; 32], NOW).unwrap();
        ([n; 16], user, team)
    }

    fn subscription(
        owner: &(Id16, String, String),
        provider: ProviderKind,
        address: &str,
    ) -> NewPushSubscription {
        NewPushSubscription {
            device_id: owner.0,
            user_id: owner.1.clone(),
            team_id: owner.2.clone(),
            provider,
            address: address.to_owned(),
            p256dh: None,
            auth: None,
        }
    }

    #[test]
    fn a_token_or_endpoint_another_active_device_registered_is_refused_and_its_row_is_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let storage = SqliteStorage::open(dir.path()).unwrap();
        let victim = device(&storage, 1, Role::Supervisor);
        let attacker = device(&storage, 2, Role::Supervisor);
        for (provider, address) in [
            (ProviderKind::WebPush, "https://push.example.net/wpush/v2/abc"),
            (ProviderKind::Fcm, "dGVzdC10b2tlbg:APA91b-registration_token"),
            (ProviderKind::Apns, &"ab".repeat(32)),
        ] {
            let id = storage.add_push_subscription(&subscription(&victim, provider, address), NOW).unwrap();
            let before = storage.push_subscription(id).unwrap().unwrap();
            let err = storage
                .add_push_subscription(&subscription(&attacker, provider, address), NOW + 1)
                .unwrap_err();
            assert!(matches!(err, StorageError::Conflict(_)), "{provider:?}: {err}");
            assert_eq!(storage.push_subscription(id).unwrap(), Some(before), "{provider:?}");
            assert!(storage.device_push_subscriptions(attacker.0).unwrap().is_empty());
        }
    }

    #[test]
    fn a_revoked_devices_address_goes_to_the_new_device_as_a_fresh_row() {
        let dir = tempfile::tempdir().unwrap();
        let storage = SqliteStorage::open(dir.path()).unwrap();
        let old_phone = device(&storage, 1, Role::Supervisor);
        let new_phone = device(&storage, 2, Role::Supervisor);
        let token = "dGVzdC10b2tlbg:APA91b-registration_token";
        let old =
            storage.add_push_subscription(&subscription(&old_phone, ProviderKind::Fcm, token), NOW).unwrap();
        storage.revoke_device(old_phone.0, NOW + 1).unwrap();
        let new = storage
            .add_push_subscription(&subscription(&new_phone, ProviderKind::Fcm, token), NOW + 2)
            .unwrap();
        assert_ne!(old, new);
        assert_eq!(storage.push_subscription(old).unwrap(), None, "the revoked device's row is removed");
        assert_eq!(storage.push_subscription(new).unwrap().unwrap().device_id, new_phone.0);
    }

    #[test]
    fn a_version_5_database_upgrades_with_its_subscriptions_and_one_active_row_per_address() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = Connection::open(dir.path().join("relay.sqlite")).unwrap();
            for sql in &super::super::MIGRATIONS[..5] {
                db.execute_batch(sql).unwrap();
            }
            db.pragma_update(None, "application_id", super::super::APPLICATION_ID).unwrap();
            db.pragma_update(None, "user_version", 5).unwrap();
            db.execute(
                "INSERT INTO push_subscriptions (subscription_id, device_id, user_id, team_id, provider,
                 address, created_at, removed_at, removed_reason)
                 VALUES (?1, ?2, 'u', 't', 'fcm', 'tok', 1, NULL, NULL),
                        (?3, ?2, 'u', 't', 'apns', 'gone', 1, 2, 'unregistered')",
                params![&[7u8; 16][..], &[1u8; 16][..], &[8u8; 16][..]],
            )
            .unwrap();
        }
        let storage = SqliteStorage::open(dir.path()).unwrap();
        let kept = storage.push_subscription([7; 16]).unwrap().unwrap();
        assert_eq!((kept.provider, kept.address.as_str()), (ProviderKind::Fcm, "tok"));
        assert_eq!(storage.push_subscription([8; 16]).unwrap(), None, "removed rows stay removed");
        let version: i64 =
            storage.read(|c| Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?)).unwrap();
        assert_eq!(version, super::super::MIGRATIONS.len() as i64);
        // The index, not only the code, keeps one active row per address.
        let duplicate = storage.write(|tx| {
            tx.execute(
                "INSERT INTO push_subscriptions (subscription_id, device_id, user_id, team_id, provider,
                 address, created_at) VALUES (?1, ?2, 'u2', 't2', 'fcm', 'tok', 3)",
                params![&[9u8; 16][..], &[2u8; 16][..]],
            )?;
            Ok(())
        });
        assert!(duplicate.is_err(), "a second active row for one address");
    }
}
