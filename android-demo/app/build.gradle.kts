// The Android app: thin Activities and Views over the view models in :logic.
plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
}

// Built by scripts/package-android.sh: libfieldsync_ffi.so for arm64-v8a, armeabi-v7a, x86_64
// (size-optimised `mobile` profile) and the generated bindings as classes.jar.
val fieldsyncAar = rootProject.file("../target/android/fieldsync-ffi-0.1.0.aar")

android {
    namespace = "dev.fieldsync.demo.app"
    compileSdk = 36

    defaultConfig {
        applicationId = "dev.fieldsync.demo"
        minSdk = 24 // the AAR's minSdk (ANDROID_MIN_SDK in package-android.sh)
        targetSdk = 36
        versionCode = 1
        versionName = "0.1.0"
    }

    buildTypes {
        release {
            isMinifyEnabled = true
            // The AAR's consumer rules keep JNA and uniffi.fieldsync_ffi from R8.
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"))
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    implementation(project(":logic"))
    implementation(files(fieldsyncAar))
    // JNA as an AAR: it carries libjnidispatch.so for every ABI.
    implementation("net.java.dev.jna:jna:${libs.versions.jna.get()}@aar")
    implementation(libs.coroutines.android)
}

tasks.named("preBuild") {
    doFirst {
        check(fieldsyncAar.isFile) { "missing $fieldsyncAar: run scripts/package-android.sh first" }
    }
}
