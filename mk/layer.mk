# The layer: the C LD_PRELOAD library (layer/preload) and the Go intproxy
# (layer/, `mirrord intproxy`). docs/layer.md explains both.
LAYER_SRC := $(wildcard layer/preload/*.c) layer/preload/layer.h
LAYER_CFLAGS := -O2 -fPIC -Wall -Wextra -Werror -fvisibility=hidden -std=gnu11 -pthread \
	-fno-delete-null-pointer-checks -Wno-nonnull-compare
LAYER_LDFLAGS := -shared -Wl,-z,now -Wl,-z,relro -Wl,--no-undefined
BINARIES += $(BIN)/libmirrord_layer.so
TEST_DEPS += $(BIN)/libmirrord_layer.so
RACE_PKGS += ./layer/intproxy/...

$(BIN)/libmirrord_layer.so: $(LAYER_SRC)
	@mkdir -p $(BIN)
	$(CC) $(LAYER_CFLAGS) $(LAYER_LDFLAGS) -o $@ $(filter %.c,$^) -ldl

.PHONY: layer
layer: $(BIN)/libmirrord_layer.so
