package dev.fieldsync.demo.app

import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import dev.fieldsync.demo.PushSecretStore
import java.io.File
import java.security.KeyStore
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

/**
 * The push subscription's secret, encrypted with an AES key that lives in the Android Keystore
 * (never leaves it) and stored as iv(12) | ciphertext in [file] (in noBackupFilesDir: a restored
 * backup on another phone could not decrypt it anyway).
 */
class KeystorePushSecrets(private val file: File) : PushSecretStore {
    private companion object {
        const val ALIAS = "fieldsync-push-secret"
        const val KEYSTORE = "AndroidKeyStore"
    }

    private fun key(): SecretKey {
        val store = KeyStore.getInstance(KEYSTORE).apply { load(null) }
        (store.getKey(ALIAS, null) as? SecretKey)?.let { return it }
        val generator = KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, KEYSTORE)
        generator.init(
            KeyGenParameterSpec.Builder(ALIAS, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
                .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
                .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
                .setKeySize(256)
                .build(),
        )
        return generator.generateKey()
    }

    override fun load(): ByteArray? {
        if (!file.exists()) return null
        val stored = file.readBytes()
        if (stored.size <= 12) return null
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        cipher.init(Cipher.DECRYPT_MODE, key(), GCMParameterSpec(128, stored.copyOfRange(0, 12)))
        return cipher.doFinal(stored, 12, stored.size - 12)
    }

    override fun save(secret: ByteArray) {
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        cipher.init(Cipher.ENCRYPT_MODE, key())
        val sealed = cipher.iv + cipher.doFinal(secret)
        val temporary = File(file.parentFile, "${file.name}.tmp")
        temporary.writeBytes(sealed)
        check(temporary.renameTo(file)) { "cannot replace $file" }
    }
}
