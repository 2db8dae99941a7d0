# mirrord-ls sessions (session/extclient): mirrord/startSession runs
# `mirrord ext`; list/stop/sessionsChanged through session/registry. Its
# end-to-end tests need root (network namespaces) and skip otherwise; they
# use the binaries of internal/testbin (bin/ under `make test`). -race via
# ./session/... in mk/session.mk.
.PHONY: bench-ls-sessions
bench-ls-sessions:
	$(GO) test -run '^$$' -bench StartSession -benchtime 20x -count=1 ./session/extclient/
