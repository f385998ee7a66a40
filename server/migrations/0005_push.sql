-- fieldsync relay, schema version 5: delivering alerts to supervisors' devices (DESIGN §6, docs/push.md).

-- Where a supervisor's or admin's device wants push messages: a Web Push subscription (endpoint +
-- receiver keys), an FCM registration token or an APNs device token. A subscription the push
-- service called gone (404/410), or that its device unregistered, keeps its row (the delivery log
-- refers to it) with removed_at set, and is never sent to again.
CREATE TABLE push_subscriptions (
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
    removed_reason  TEXT,
    UNIQUE (provider, address)
) STRICT;
CREATE INDEX push_subscriptions_by_team ON push_subscriptions (team_id) WHERE removed_at IS NULL;

-- One row per (alert, subscription), inserted when the alert is fanned out, in the same
-- transaction that sets alerts.fanned_out_at. A pending row is due at next_attempt_at; the
-- deliverer claims it by moving next_attempt_at past the request timeout (a lease), so a crash
-- mid-request means one more attempt after the lease, never a lost message, and a delivered row
-- is never sent again.
CREATE TABLE push_deliveries (
    alert_id        BLOB    NOT NULL,
    subscription_id BLOB    NOT NULL,
    team_id         TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'gone', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER,
    PRIMARY KEY (alert_id, subscription_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX push_deliveries_due ON push_deliveries (next_attempt_at) WHERE state = 'pending';

-- Every attempt: what the push service answered, or why there was no answer.
CREATE TABLE push_delivery_log (
    id              INTEGER PRIMARY KEY,
    alert_id        BLOB    NOT NULL,
    subscription_id BLOB    NOT NULL,
    team_id         TEXT    NOT NULL,
    provider        TEXT    NOT NULL,
    attempt         INTEGER NOT NULL,
    status          INTEGER,           -- HTTP status; NULL for timeouts and connection errors
    outcome         TEXT    NOT NULL,  -- accepted, retry, gone, rejected, timeout, unreachable, expired, gave_up
    error           TEXT,
    at              INTEGER NOT NULL
) STRICT;
CREATE INDEX push_delivery_log_by_team ON push_delivery_log (team_id, id);

