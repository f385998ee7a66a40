package dev.fieldsync.demo.app

import android.Manifest
import android.content.Context
import android.content.pm.PackageManager
import android.provider.CallLog
import dev.fieldsync.demo.CallLogReader
import dev.fieldsync.demo.LoggedCall
import java.time.Instant

/**
 * The phone's call log (`CallLog.Calls`): the outgoing calls since a moment, newest first; null
 * while READ_CALL_LOG is not granted, so the screen falls back to the time away.
 */
class AndroidCallLog(private val context: Context) : CallLogReader {
    override fun outgoingCallsSince(since: Instant): List<LoggedCall>? {
        if (context.checkSelfPermission(Manifest.permission.READ_CALL_LOG) != PackageManager.PERMISSION_GRANTED) {
            return null
        }
        val cursor = try {
            context.contentResolver.query(
                CallLog.Calls.CONTENT_URI,
                arrayOf(CallLog.Calls.NUMBER, CallLog.Calls.DATE, CallLog.Calls.DURATION),
                "${CallLog.Calls.TYPE} = ? AND ${CallLog.Calls.DATE} >= ?",
                arrayOf(CallLog.Calls.OUTGOING_TYPE.toString(), since.toEpochMilli().toString()),
                "${CallLog.Calls.DATE} DESC",
            )
        } catch (revoked: SecurityException) {
            return null // the permission was taken back between the check and the query
        } ?: return emptyList()
        return cursor.use { rows ->
            buildList {
                while (rows.moveToNext()) {
                    add(LoggedCall(rows.getString(0).orEmpty(), Instant.ofEpochMilli(rows.getLong(1)), rows.getLong(2)))
                }
            }
        }
    }
}
