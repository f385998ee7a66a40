package dev.fieldsync.demo

import java.math.BigInteger
import java.nio.ByteBuffer
import java.security.KeyFactory
import java.security.KeyPairGenerator
import java.security.MessageDigest
import java.security.SecureRandom
import java.security.interfaces.ECPublicKey
import java.security.spec.ECGenParameterSpec
import java.security.spec.ECPoint
import java.security.spec.ECPublicKeySpec
import java.util.Base64
import javax.crypto.Cipher
import javax.crypto.KeyAgreement
import javax.crypto.Mac
import javax.crypto.spec.GCMParameterSpec
import javax.crypto.spec.SecretKeySpec

/**
 * An RFC 8291 (Web Push message encryption, aes128gcm of RFC 8188) encryptor written here with
 * the JDK's crypto only, independent of the Rust core: what a push service delivers to the phone.
 * One record; the header is salt(16) | rs(4) | idlen(1) = 65 | the sender's public key (65).
 */
object WebPushEncryptor {
    private val random = SecureRandom()

    fun unb64url(text: String): ByteArray = Base64.getUrlDecoder().decode(text)

    fun encrypt(p256dh: String, auth: String, plaintext: ByteArray, recordSize: Int = 4096): ByteArray {
        val uaPublic = unb64url(p256dh)
        val authSecret = unb64url(auth)
        require(uaPublic.size == 65 && uaPublic[0] == 4.toByte()) { "p256dh is not an uncompressed P-256 point" }

        val generator = KeyPairGenerator.getInstance("EC").apply { initialize(ECGenParameterSpec("secp256r1")) }
        val sender = generator.generateKeyPair()
        val senderPublicKey = sender.public as ECPublicKey
        val asPublic = uncompressed(senderPublicKey)
        val uaKey = KeyFactory.getInstance("EC").generatePublic(
            ECPublicKeySpec(
                ECPoint(BigInteger(1, uaPublic.copyOfRange(1, 33)), BigInteger(1, uaPublic.copyOfRange(33, 65))),
                senderPublicKey.params,
            ),
        )
        val ecdhSecret = KeyAgreement.getInstance("ECDH").run {
            init(sender.private)
            doPhase(uaKey, true)
            generateSecret()
        }

        val keyInfo = "WebPush: info\u0000".toByteArray(Charsets.US_ASCII) + uaPublic + asPublic
        val ikm = expand(hmac(authSecret, ecdhSecret), keyInfo, 32)
        val salt = ByteArray(16).also(random::nextBytes)
        val prk = hmac(salt, ikm)
        val cek = expand(prk, "Content-Encoding: aes128gcm\u0000".toByteArray(Charsets.US_ASCII), 16)
        val nonce = expand(prk, "Content-Encoding: nonce\u0000".toByteArray(Charsets.US_ASCII), 12)

        require(plaintext.size + 1 + 16 <= recordSize) { "one record only" }
        val cipher = Cipher.getInstance("AES/GCM/NoPadding").apply {
            init(Cipher.ENCRYPT_MODE, SecretKeySpec(cek, "AES"), GCMParameterSpec(128, nonce))
        }
        val record = cipher.doFinal(plaintext + byteArrayOf(0x02)) // last-record delimiter
        val header = ByteBuffer.allocate(16 + 4 + 1 + 65).put(salt).putInt(recordSize).put(65.toByte()).put(asPublic)
        return header.array() + record
    }

    private fun hmac(key: ByteArray, data: ByteArray): ByteArray =
        Mac.getInstance("HmacSHA256").run {
            init(SecretKeySpec(key, "HmacSHA256"))
            doFinal(data)
        }

    /** HKDF-Expand for at most one block (length <= 32). */
    private fun expand(prk: ByteArray, info: ByteArray, length: Int): ByteArray =
        hmac(prk, info + byteArrayOf(0x01)).copyOf(length)

    private fun uncompressed(key: ECPublicKey): ByteArray =
        byteArrayOf(0x04) + fixed32(key.w.affineX) + fixed32(key.w.affineY)

    private fun fixed32(n: BigInteger): ByteArray {
        val bytes = n.toByteArray().dropWhile { it == 0.toByte() }.toByteArray()
        return ByteArray(32 - bytes.size) + bytes
    }
}

/** The alert JSON the relay pushes (docs/funnel.md "Push payload"), built independently. */
object AlertJson {
    const val DAY = 86_400_000L
    const val T0 = 1_790_000_000_000L

    /** The relay's id rule: UUIDv8 from the first 16 bytes of SHA-256("fieldsync/alert/v1\n" + key). */
    fun idFor(key: String): String {
        val d = MessageDigest.getInstance("SHA-256").digest("fieldsync/alert/v1\n$key".toByteArray()).copyOf(16)
        d[6] = ((d[6].toInt() and 0x0F) or 0x80).toByte()
        d[8] = ((d[8].toInt() and 0x3F) or 0x80).toByte()
        val hex = d.joinToString("") { "%02x".format(it) }
        return "${hex.substring(0, 8)}-${hex.substring(8, 12)}-${hex.substring(12, 16)}-${hex.substring(16, 20)}-${hex.substring(20)}"
    }

    fun key(opportunityId: String, level: String = "supervisor") =
        "$opportunityId/ProposalSubmitted/$T0/no_activity/$level/$T0"

    fun payload(
        key: String,
        title: String = "注塑机二期",
        owner: String = "李娜",
        repLastSyncAt: Long? = T0 + 8 * DAY + 3_600_000,
        id: String = idFor(key),
    ): ByteArray {
        val opportunity = key.substringBefore('/')
        val lastSync = repLastSyncAt?.toString() ?: "null"
        return ("""{"v":1,"id":"$id","key":"$key","opportunity_id":"$opportunity",""" +
            """"customer_id":"01990000-0000-7000-8000-0000000000c1","title":"$title","owner":"$owner",""" +
            """"stage":"ProposalSubmitted","level":"supervisor","kinds":["no_activity","stage_too_long"],""" +
            """"stage_entered_at":$T0,"last_activity_at":$T0,"due_at":${T0 + 8 * DAY},"threshold_days":8,""" +
            """"rep_last_sync_at":$lastSync,"raised_at":${T0 + 9 * DAY},"by":"${"00".repeat(16)}"}""").toByteArray()
    }
}
