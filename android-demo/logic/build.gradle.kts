// The app's logic as a plain Kotlin/JVM library (the same sources Maven builds and tests with
// logic/pom.xml). It compiles against the bindings' jar, which scripts/package-android.sh builds
// (bindings/kotlin/target/fieldsync-bindings-jvm-<version>.jar) and also puts into the AAR as
// classes.jar: the app gets the bindings at run time from the AAR, so here they are compileOnly
// (two copies would be duplicate classes at dex time).
plugins {
    alias(libs.plugins.kotlin.jvm)
}

kotlin {
    jvmToolchain(17)
}

val bindingsJar = rootProject.file("../bindings/kotlin/target/fieldsync-bindings-jvm-0.1.0.jar")

dependencies {
    compileOnly(files(bindingsJar))
    compileOnly(libs.jna.jar)
    implementation(libs.coroutines.core)
}

// The JVM tests need the host libfieldsync_ffi and the generated sources; they run with Maven
// (../scripts/test-android-demo.sh), not here.
tasks.named("compileKotlin") {
    doFirst {
        check(bindingsJar.isFile) { "missing $bindingsJar: run scripts/package-android.sh first" }
    }
}
