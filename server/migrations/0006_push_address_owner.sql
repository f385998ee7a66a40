-- fieldsync relay, schema version 6: a push address belongs to one device (docs/push.md).
--
-- Version 5 made (provider, address) unique over every row, removed ones included, and
-- registering a known address moved that row to the caller: any supervisor holding someone
-- else's endpoint or token could take the subscription over. Now an address is unique among
-- *active* subscriptions only: the relay refuses a second device's registration while the first
-- is active, and a registration after a removal gets a fresh row, so a removed row keeps the
-- owner its delivery log was written for. SQLite cannot drop a table constraint, hence the copy.
CREATE TABLE push_subscriptions_v6 (
    subscription_id BLOB    PRIMARY KEY CHECK (length(subscription_id) = 16),
    device_id       BLOB    NOT NULL CHECK (length(device_id) = 16),
    user_id         TEXT    NOT NULL,
    team_id         TEXT    NOT NULL,
    provider        TEXT    NOT NULL CHECK (provider IN ('webpush', 'fcm', 'apns')),
    address         TEXT    NOT NULL,  -- Web Push endpoint URL, FCM registration token, APNs device token
    p256dh          BLOB    CHECK (p256dh IS NULL OR length(p256dh) = 65),
    auth            BLOB    CHECK (auth IS NULL OR length(auth) = 16),
    created_at      INTEGER NOT NULL,
    removed_at      INTEGER,
    removed_reason  TEXT
) STRICT;
INSERT INTO push_subscriptions_v6 (subscription_id, device_id, user_id, team_id, provider, address,
                                   p256dh, auth, created_at, removed_at, removed_reason)
    SELECT subscription_id, device_id, user_id, team_id, provider, address, p256dh, auth,
           created_at, removed_at, removed_reason
    FROM push_subscriptions;
DROP TABLE push_subscriptions;
ALTER TABLE push_subscriptions_v6 RENAME TO push_subscriptions;
CREATE INDEX push_subscriptions_by_team ON push_subscriptions (team_id) WHERE removed_at IS NULL;
CREATE UNIQUE INDEX push_subscriptions_active_address ON push_subscriptions (provider, address)
    WHERE removed_at IS NULL;
CREATE INDEX push_subscriptions_by_device ON push_subscriptions (device_id) WHERE removed_at IS NULL;
