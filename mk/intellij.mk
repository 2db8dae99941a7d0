# IntelliJ plugin core (extensions/intellij/core, docs/intellij.md).
#   make intellij-test   compile the core (plain Java 17 + gson) and its JUnit 5
#                        tests with javac, and run them with the JUnit console
#                        launcher; the integration tests drive bin/mirrord-ls.
# Everything comes from Debian (scripts/deps.sh): openjdk-17-jdk-headless,
# libgoogle-gson-java, junit5. The IntelliJ Platform glue
# (extensions/intellij/platform) needs the IntelliJ Platform SDK and Gradle,
# which are not available here: it is not built by this file.
.PHONY: intellij-test intellij-core
INTELLIJ_CORE := extensions/intellij/core
INTELLIJ_OUT := .cache/intellij
INTELLIJ_GSON := /usr/share/java/gson.jar
INTELLIJ_JUNIT := /usr/share/java/junit-platform-console-standalone.jar
INTELLIJ_JAVAC_FLAGS := --release 17 -encoding UTF-8 -Xlint:all,-serial -Werror

intellij-core: deps
	@rm -rf $(INTELLIJ_OUT)/main $(INTELLIJ_OUT)/test
	@mkdir -p $(INTELLIJ_OUT)
	javac $(INTELLIJ_JAVAC_FLAGS) -cp $(INTELLIJ_GSON) -d $(INTELLIJ_OUT)/main \
	  $$(find $(INTELLIJ_CORE)/src/main/java -name '*.java' | sort)
	javac $(INTELLIJ_JAVAC_FLAGS) -cp $(INTELLIJ_OUT)/main:$(INTELLIJ_GSON):$(INTELLIJ_JUNIT) -d $(INTELLIJ_OUT)/test \
	  $$(find $(INTELLIJ_CORE)/src/test/java -name '*.java' | sort)

# The tests use non-ASCII file names and environment values: the JVM decodes
# both with the locale's charset, so the run pins a UTF-8 locale.
# RealClusterTest runs a session on the local cluster's real node: the
# cluster is started (or reused) here and stopped afterwards only if this
# target started it.
INTELLIJ_CLUSTER := $(CURDIR)/.cache/cluster/state
intellij-test: intellij-core build cluster-build images
	MIRRORD_CLUSTER_MANAGED_BY=test bash scripts/cluster-up.sh
	LANG=C.UTF-8 LC_ALL=C.UTF-8 MIRRORD_LS_BIN=$(CURDIR)/$(BIN)/mirrord-ls \
	  MIRRORD_TEST_KUBECONFIG=$(INTELLIJ_CLUSTER)/admin.kubeconfig MIRRORD_TEST_CLUSTER_ENV=$(INTELLIJ_CLUSTER)/cluster.env \
	  MIRRORD_TEST_KUBECTL=$(CURDIR)/.cache/cluster/bin/kubectl \
	  MIRRORD_TEST_BUSYBOX_REF=$(CURDIR)/.cache/images/busybox.ref MIRRORD_TEST_AGENT_REF=$(CURDIR)/.cache/images/mirrord-agent.ref \
	  java -Xss1m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -jar $(INTELLIJ_JUNIT) \
	  --class-path $(INTELLIJ_OUT)/main:$(INTELLIJ_OUT)/test:$(INTELLIJ_GSON) \
	  --scan-class-path $(INTELLIJ_OUT)/test \
	  --disable-banner --disable-ansi-colors --details=tree --fail-if-no-tests \
	  --reports-dir=$(INTELLIJ_OUT)/reports; rc=$$?; bash scripts/cluster-down.sh --if-unused; exit $$rc
