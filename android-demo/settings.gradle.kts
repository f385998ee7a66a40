// The demo app for Android Studio: open this folder (android-demo/) as the project.
// Before the first build run ../scripts/package-android.sh (the AAR with the native libraries and
// the compiled bindings); see README.md.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "fieldsync-demo"
include(":logic", ":app")
