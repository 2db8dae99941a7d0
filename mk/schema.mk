# The config engine (schema/, kube/targetpath/) and `mirrord verify-config`
# / `mirrord schema`. The server calls schema.Verify from many goroutines,
# so the package runs under -race too.
RACE_PKGS += ./schema/ ./kube/targetpath/

.PHONY: test-schema bench-schema fuzz-schema schema-golden
test-schema:
	$(GO) test $(GOTEST_FLAGS) ./schema/ ./kube/targetpath/ ./cmd/mirrord/
	$(GO) test $(GOTEST_FLAGS) -race ./schema/ ./kube/targetpath/

# BenchmarkVerifyCompleteExample (target <= 1 ms) and
# BenchmarkVerifyTemplatedExample (target <= 3 ms); cpu-ns/op is the CPU
# time per call, stable on a busy machine.
bench-schema:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./schema/

fuzz-schema:
	for f in FuzzParseJSON FuzzParseYAML FuzzParseTOML FuzzCheckJSONPath FuzzVerify FuzzParseHostPort; do $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) ./schema/ || exit 1; done
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./kube/targetpath/

# Rewrite testdata/configs/invalid/*.golden.json (review the diff by eye).
schema-golden:
	$(GO) test ./schema/ -run TestInvalidCorpus -update
