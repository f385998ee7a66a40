package dev.fieldsync.demo

import java.time.Clock
import java.time.Instant
import java.time.LocalTime
import java.time.ZoneId
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import uniffi.fieldsync_ffi.AlertListener
import uniffi.fieldsync_ffi.FfiActivity
import uniffi.fieldsync_ffi.FfiAlert
import uniffi.fieldsync_ffi.FfiAlertSubscription
import uniffi.fieldsync_ffi.FfiCheckIn
import uniffi.fieldsync_ffi.FfiClaim
import uniffi.fieldsync_ffi.FfiCreateMode
import uniffi.fieldsync_ffi.FfiCreateOutcome
import uniffi.fieldsync_ffi.FfiCustomer
import uniffi.fieldsync_ffi.FfiCustomerSummary
import uniffi.fieldsync_ffi.FfiDeal
import uniffi.fieldsync_ffi.FfiEnrollment
import uniffi.fieldsync_ffi.FfiEvidenceKind
import uniffi.fieldsync_ffi.FfiFix
import uniffi.fieldsync_ffi.FfiFollowUpTodo
import uniffi.fieldsync_ffi.FfiFunnelReport
import uniffi.fieldsync_ffi.FfiLead
import uniffi.fieldsync_ffi.FfiLeadCard
import uniffi.fieldsync_ffi.FfiLeadScan
import uniffi.fieldsync_ffi.FfiMyFigures
import uniffi.fieldsync_ffi.FfiNewActivity
import uniffi.fieldsync_ffi.FfiNewCustomer
import uniffi.fieldsync_ffi.FfiNewOpportunity
import uniffi.fieldsync_ffi.FfiNextAction
import uniffi.fieldsync_ffi.FfiOwnership
import uniffi.fieldsync_ffi.FfiPhoto
import uniffi.fieldsync_ffi.FfiPoolWarning
import uniffi.fieldsync_ffi.FfiPushRegistration
import uniffi.fieldsync_ffi.FfiRelayPush
import uniffi.fieldsync_ffi.FfiSlip
import uniffi.fieldsync_ffi.FfiSlipItem
import uniffi.fieldsync_ffi.FfiStage
import uniffi.fieldsync_ffi.FfiStalledDeal
import uniffi.fieldsync_ffi.FfiStrokePoint
import uniffi.fieldsync_ffi.FfiSyncReport
import uniffi.fieldsync_ffi.FfiTimelinePage
import uniffi.fieldsync_ffi.FfiVisit
import uniffi.fieldsync_ffi.FieldStore
import uniffi.fieldsync_ffi.PhoneClock
import uniffi.fieldsync_ffi.SyncProgressListener

/** A visit as the day's list shows it: the visit, whom it is for, and its local time. */
data class VisitRow(
    val visit: FfiVisit,
    val customerName: String,
    /** Planned time on the phone's clock face. */
    val plannedLocal: LocalTime,
) {
    /** Checked in at least once. */
    val checkedIn: Boolean get() = visit.startedAt != null
}

/**
 * Where this device keeps its Web Push subscription's secret (private key and auth secret from
 * `createPushKeys()`): it decrypts every alert pushed to the device, so in the app it belongs in
 * the platform's keystore-backed storage. [load] returns `null` until the first [save].
 */
interface PushSecretStore {
    fun load(): ByteArray?

    fun save(secret: ByteArray)
}

/** A secret kept for the life of the process only (tests; a device that never registered). */
class InMemoryPushSecrets : PushSecretStore {
    @Volatile private var secret: ByteArray? = null

    override fun load(): ByteArray? = secret?.copyOf()

    override fun save(secret: ByteArray) {
        this.secret = secret.copyOf()
    }
}

/**
 * The app's one door to the store: the blocking calls of the generated bindings, with the phone's
 * time zone filled in and the joins a screen needs (a visit with its customer's name).
 *
 * Owns the [FieldStore]; [close] closes the store and releases the Rust handle (STYLE §4). The app
 * holds one repository for its process and closes it last: view models must not outlive it (a
 * call on a released handle is an `IllegalStateException` from the generated code, a bug, not a
 * screen state). Most calls block; view models make them through [callLibrary] on an I/O
 * dispatcher. The relay calls (enroll, sync, push registration) suspend on the library's own
 * runtime; view models await them through [callLibraryAsync].
 */
class FieldRepository(
    private val store: FieldStore,
    private val zone: ZoneId = ZoneId.systemDefault(),
    private val clock: Clock = Clock.systemUTC(),
    private val pushSecrets: PushSecretStore = InMemoryPushSecrets(),
) : AutoCloseable {
    companion object {
        /**
         * Opens (or creates) the store file at [path]; blocks, and throws the library's errors.
         * [phoneClock] is the platform's clocks (the app passes one with the monotonic uptime, so
         * the evidence checks can tell a hand-set clock); null uses the system wall clock only.
         */
        fun open(
            path: String,
            zone: ZoneId = ZoneId.systemDefault(),
            pushSecrets: PushSecretStore = InMemoryPushSecrets(),
            phoneClock: PhoneClock? = null,
        ): FieldRepository {
            val store = if (phoneClock == null) FieldStore.open(path) else FieldStore.openWith(path, phoneClock, null, null)
            return FieldRepository(store, zone, Clock.systemUTC(), pushSecrets)
        }

        /**
         * Opens the store with the phone's clock (the core's "now" for check-ins, stage moves and
         * stall rules) instead of the system clock; for tests and demos that move time.
         */
        fun openWithClock(path: String, clock: PhoneClock, zone: ZoneId = ZoneId.systemDefault()): FieldRepository =
            FieldRepository(FieldStore.openWith(path, clock, null, null), zone, Clock.systemUTC())

        /**
         * Opens the store on [io] for the app's start-up: a file held by another process, a file
         * that is not a fieldsync store, or one from a newer app version arrive as a [Problem].
         */
        suspend fun openOnIo(
            path: String,
            io: CoroutineDispatcher = Dispatchers.IO,
            zone: ZoneId = ZoneId.systemDefault(),
            pushSecrets: PushSecretStore = InMemoryPushSecrets(),
            phoneClock: PhoneClock? = null,
        ): Outcome<FieldRepository> = callLibrary(io) { open(path, zone, pushSecrets, phoneClock) }
    }

    /** This phone's user's figures for [period] (`2026-W49`, `2026-12`, `2026-Q4`) with the payout projected. */
    fun myFigures(period: String): FfiMyFigures = store.myFigures(period)

    /** The week, month and quarter containing today in the phone's zone, as the core names them. */
    fun currentPeriods(): List<String> {
        val today = java.time.LocalDate.now(clock.withZone(zone))
        val week = today.get(java.time.temporal.IsoFields.WEEK_OF_WEEK_BASED_YEAR)
        val weekYear = today.get(java.time.temporal.IsoFields.WEEK_BASED_YEAR)
        val quarter = today.get(java.time.temporal.IsoFields.QUARTER_OF_YEAR)
        return listOf(
            "%d-W%02d".format(weekYear, week),
            "%d-%02d".format(today.year, today.monthValue),
            "%d-Q%d".format(today.year, quarter),
        )
    }

    /** The phone's offset from UTC now, in minutes, as the core wants it for "today" and EXIF. */
    val utcOffsetMinutes: Int
        get() = zone.rules.getOffset(Instant.now(clock)).totalSeconds / 60

    /** This device's id. */
    fun deviceId(): String = store.deviceId()

    /** Changes not yet sent to the relay. */
    fun outboxLength(): ULong = store.outboxLen()

    /** Customers whose name starts with [prefix]. */
    fun searchCustomers(prefix: String, limit: UInt = 20u): List<FfiCustomerSummary> =
        store.customersByNamePrefix(prefix, limit)

    /** Creates a customer (no duplicate check: see the scan-lead flow for that). */
    fun createCustomer(customer: FfiNewCustomer): FfiCustomer = store.createCustomer(customer)

    /** Creates a customer after the core's duplicate check (see [FfiCreateMode]). */
    fun createCustomerChecked(customer: FfiNewCustomer, mode: FfiCreateMode): FfiCreateOutcome =
        store.createCustomerChecked(customer, mode)

    /** Parses the text a QR scanner read into a lead, with the customers it may duplicate. */
    fun scanLeadText(text: String): FfiLeadScan = store.scanLeadText(text)

    /** Finds a QR code in a photo (JPEG or PNG) and parses it like [scanLeadText]. */
    fun scanLeadImage(image: ByteArray): FfiLeadScan = store.scanLeadImage(image)

    /** Saves a scanned lead, linked to a customer or not. */
    fun saveLeadCard(lead: FfiLead, sourceEvent: String?, customerId: String?): FfiLeadCard =
        store.saveLeadCard(lead, sourceEvent, customerId)

    /** Opens a deal for a customer in [stage]; returns it as the funnel shows deals. */
    fun createDeal(customerId: String, owner: String, title: String, stage: FfiStage): FfiDeal {
        val created = store.createOpportunity(
            FfiNewOpportunity(
                customerId = customerId,
                owner = owner,
                title = title,
                stage = stage,
                amountMinorUnits = null,
                currency = null,
                expectedCloseAt = null,
                nextActionDueAt = null,
            ),
        )
        return store.deal(created.id)
    }

    /** A deal with its stage history and documents. */
    fun deal(id: String): FfiDeal = store.deal(id)

    /** Attaches a document to a deal (the evidence a stage may require). */
    fun attachDealDocument(dealId: String, kind: FfiEvidenceKind, name: String, bytes: ByteArray): FfiDeal =
        store.attachDealDocument(dealId, kind, name, bytes)

    /** Moves a deal; the core refuses a forward move that lacks the stage's documents. */
    fun moveStage(dealId: String, to: FfiStage, note: String?): FfiDeal = store.moveStage(dealId, to, note)

    /** Deals per stage, the team's and each rep's. */
    fun funnelReport(): FfiFunnelReport = store.funnelReport()

    /** [owner]'s deals with a stall trigger due now, by the store's clock. */
    fun stallReminders(owner: String): List<FfiStalledDeal> = store.stallReminders(owner)

    /** The alerts synced to this device (a supervisor's), newest first. */
    fun alerts(limit: UInt): List<FfiAlert> = store.alerts(limit)

    /** Calls [listener] (on a library thread) with the alerts each sync brings, until closed. */
    fun subscribeAlerts(listener: AlertListener): FfiAlertSubscription = store.subscribeAlerts(listener)

    /** Enrollment and sync take turns: one screen's sync does not overlap another's. */
    private val relayTurn = Mutex()

    /** The relay this device enrolled with, or `null` before enrolling. Blocks (a store read). */
    fun relayUrl(): String? = store.relayUrl()

    /**
     * Enrolls this device with the relay at [relayUrl] with an admin's one-time [code]; the
     * enrollment says which role the relay gave the device (`rep`, `supervisor` or `admin`).
     */
    suspend fun enroll(relayUrl: String, code: String, deviceName: String): FfiEnrollment =
        relayTurn.withLock { store.enroll(relayUrl, code, deviceName) }

    /**
     * Pushes this device's changes, pulls the team's and uploads queued photos; [listener] hears
     * the progress on a library thread. A sync asked for while another runs waits for it.
     */
    suspend fun sync(listener: SyncProgressListener?): FfiSyncReport =
        relayTurn.withLock { store.sync(listener) }

    /** The relay's VAPID key (for the push distributor) and the push providers it uses. */
    suspend fun pushRelayInfo(): FfiRelayPush = store.pushRelayInfo()

    /** Registers a push [endpoint] with the relay under this device's keys ([pushSecret]). */
    suspend fun registerPushEndpoint(endpoint: String): FfiPushRegistration =
        store.registerPushEndpoint(pushSecret(), endpoint)

    /** This device's push registrations at the relay. */
    suspend fun pushRegistrations(): List<FfiPushRegistration> = store.pushRegistrations()

    /** Stops the relay pushing to one of this device's registrations. */
    suspend fun unregisterPush(subscriptionId: String) = store.unregisterPush(subscriptionId)

    /** This device's push subscription secret, made (and saved) on first use. */
    @Synchronized
    fun pushSecret(): ByteArray =
        pushSecrets.load() ?: uniffi.fieldsync_ffi.createPushKeys().secret.also { pushSecrets.save(it) }

    /** Decrypts a received Web Push body with this device's secret and reads the alert in it. */
    fun decodeAlertPush(body: ByteArray): FfiAlert = uniffi.fieldsync_ffi.decodeAlertPush(pushSecret(), body)

    /** Reads a customer. */
    fun customer(id: String): FfiCustomer = store.customer(id)

    /** Records a call to [phone] started now, before the dialler opens. */
    fun startCall(customerId: String, phone: String): FfiActivity = store.startCall(customerId, phone)

    /** Completes a call (or any follow-up) with what was said and what comes next. */
    fun finishCall(
        activityId: String,
        durationS: Long?,
        outcome: String?,
        summary: String,
        nextAction: FfiNextAction?,
    ): FfiActivity = store.finishCall(activityId, durationS, outcome, summary, nextAction)

    /** Logs a follow-up (a message, a sample sent, …). */
    fun logActivity(activity: FfiNewActivity): FfiActivity = store.logActivity(activity)

    /** Marks a follow-up's next action done. */
    fun completeNextAction(activityId: String): FfiActivity = store.completeNextAction(activityId)

    /** A page of a customer's timeline, newest first; pass the last page's cursor for the next. */
    fun customerTimeline(customerId: String, beforeAt: Long?, beforeId: String?, limit: UInt): FfiTimelinePage =
        store.customerTimeline(customerId, beforeAt, beforeId, limit)

    /** The rep's follow-up to-do: next actions due by [until] and calls left without a summary. */
    fun followUpTodo(until: Long): FfiFollowUpTodo = store.followUpTodo(until)

    /** The public pool (公海) by company name, a page after [after]. */
    fun poolCustomers(after: String?, limit: UInt): List<FfiOwnership> = store.poolCustomers(after, limit)

    /** The customers this phone's user owns (私海). */
    fun myCustomers(): List<FfiOwnership> = store.myCustomers()

    /** Who owns a customer, as last heard from the relay. */
    fun ownership(customerId: String): FfiOwnership? = store.ownership(customerId)

    /** Claims a pool customer offline; the relay decides on the next sync. */
    fun claimCustomer(customerId: String): FfiClaim = store.claimCustomer(customerId)

    /** Releases one of the rep's customers to the pool offline. */
    fun releaseCustomer(customerId: String): FfiClaim = store.releaseCustomer(customerId)

    /** This phone's claims and releases with the relay's decisions, newest first. */
    fun claims(limit: UInt): List<FfiClaim> = store.claims(limit)

    /** The rep's customers returning to the pool within the team's warning period. */
    fun poolWarnings(): List<FfiPoolWarning> = store.poolWarnings(clock.millis())

    /** Plans a visit to a customer at [plannedAt] (Unix ms). */
    fun planVisit(customerId: String, plannedAt: Long, notes: String): FfiVisit =
        store.createVisit(customerId, plannedAt, notes)

    /** Today's visits on the phone's calendar, by time, each with its customer's name. */
    fun todaysVisits(): List<VisitRow> =
        store.todaysVisits(utcOffsetMinutes).map { id -> row(store.visit(id)) }

    /** One visit as a row. */
    fun visitRow(id: String): VisitRow = row(store.visit(id))

    private fun row(visit: FfiVisit) = VisitRow(
        visit = visit,
        customerName = store.customer(visit.customerId).companyName,
        plannedLocal = Instant.ofEpochMilli(visit.plannedAt).atZone(zone).toLocalTime(),
    )

    /** Checks in to a visit with a fix; the core runs the geofence and plausibility checks. */
    fun checkIn(visitId: String, fix: FfiFix): FfiCheckIn = store.checkIn(visitId, fix, utcOffsetMinutes)

    /** Attaches a camera JPEG, with the phone's fix when it had one. */
    fun attachPhoto(visitId: String, jpeg: ByteArray, fix: FfiFix?): FfiPhoto =
        store.attachPhoto(visitId, jpeg, fix, utcOffsetMinutes)

    /** Opens a service slip for a visit. */
    fun openSlip(visitId: String, items: List<FfiSlipItem>, notes: String): FfiSlip =
        store.createSlip(visitId, items, notes)

    /** Reads a slip, with its signature verified. */
    fun slip(id: String): FfiSlip = store.slip(id)

    /** The customer signs: the pad's strokes, the signer's name, and the phone's fix if any. */
    fun signSlip(
        slipId: String,
        signerName: String,
        padWidth: Float,
        padHeight: Float,
        strokes: List<List<FfiStrokePoint>>,
        fix: FfiFix?,
    ): FfiSlip = store.signSlip(slipId, signerName, padWidth, padHeight, strokes, fix)

    /** The bytes of a stored blob (photo copy, thumbnail, signature PNG). */
    fun blob(sha256: String): ByteArray = store.blob(sha256)

    /** Closes the store, then releases the handle. Later calls fail; closing twice is harmless. */
    override fun close() {
        if (store.uniffiIsDestroyed) return
        try {
            store.closeStore()
        } finally {
            store.close()
        }
    }
}
