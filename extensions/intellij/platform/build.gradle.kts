// Builds the plugin with the IntelliJ Platform Gradle Plugin 2.x:
//   ./gradlew buildPlugin   -> build/distributions/mirrord-ls-intellij-<version>.zip
//   ./gradlew runIde        -> a sandbox IDE with the plugin
// The core (../core, plain Java + gson, tested by `make intellij-test`) is
// compiled into the same jar from its sources. mirrord-ls itself is not
// bundled: Settings → Tools → mirrord names it, else it is looked up on PATH.
import org.jetbrains.intellij.platform.gradle.TestFrameworkType

plugins {
    id("java")
    id("org.jetbrains.intellij.platform") version "2.2.1"
}

group = "com.github.mirrordls"
version = providers.gradleProperty("pluginVersion").get()

repositories {
    mavenCentral()
    intellijPlatform {
        defaultRepositories()
    }
}

java {
    toolchain {
        languageVersion = JavaLanguageVersion.of(17)
    }
}

sourceSets {
    main {
        java {
            srcDir("../core/src/main/java")
        }
    }
}

dependencies {
    // gson ships with the IntelliJ Platform; compile against the same major version.
    compileOnly("com.google.code.gson:gson:2.10.1")
    testImplementation("org.junit.jupiter:junit-jupiter:5.10.2")
    intellijPlatform {
        intellijIdeaCommunity(providers.gradleProperty("platformVersion"))
        bundledPlugin("com.intellij.java")
        bundledPlugin("com.intellij.gradle")
        instrumentationTools()
        testFramework(TestFrameworkType.Platform)
    }
}

intellijPlatform {
    pluginConfiguration {
        version = providers.gradleProperty("pluginVersion")
        ideaVersion {
            sinceBuild = "241"
            untilBuild = provider { null }
        }
    }
}
