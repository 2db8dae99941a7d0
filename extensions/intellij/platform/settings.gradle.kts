// The IntelliJ Platform glue of the mirrord-ls plugin. Not built by `make`
// (no JetBrains repository or Maven Central on the build machines): see
// ../README.md for what was and was not compiled.
rootProject.name = "mirrord-ls-intellij"
