# Container images without Docker (tools/mkimage over internal/ociimage;
# docs/cluster.md "Images"), as `docker save` tarballs that
# `ctr -n k8s.io images import` loads:
#   make agent-image  .cache/images/mirrord-agent.tar and the OCI layout
#                     .cache/images/mirrord-agent-oci/ (to publish), tagged
#                     ghcr.io/mirrord-ls/mirrord-agent:$(VERSION), the
#                     default agent.image of the CLI built from this tree
#   make images       that, plus .cache/images/pause.tar (the node's sandbox
#                     image) and .cache/images/busybox.tar (workloads)
# Each image is rebuilt only when its inputs changed: the programs are
# built into a scratch file and replace the cached one only when their
# bytes differ (Go builds are reproducible), so make's timestamps move only
# on a real change. The references are printed at the end.
IMAGES_DIR := .cache/images
IMAGES_BIN := $(IMAGES_DIR)/bin
MKIMAGE := $(IMAGES_BIN)/mkimage
# The agent in the image must be static: CGO_ENABLED=0.
IMAGE_AGENT_BIN := $(IMAGES_BIN)/mirrord-agent
IMAGE_PAUSE_BIN := $(IMAGES_BIN)/pause
# Host files the images copy (Debian's iptables and busybox-static).
IMAGE_IPTABLES_FILES := $(wildcard /usr/sbin/xtables-nft-multi /usr/sbin/xtables-legacy-multi)
IMAGE_BUSYBOX_FILES := $(wildcard /bin/busybox)

AGENT_IMAGE := $(IMAGES_DIR)/mirrord-agent.tar
AGENT_IMAGE_OCI := $(IMAGES_DIR)/mirrord-agent-oci
PAUSE_IMAGE := $(IMAGES_DIR)/pause.tar
BUSYBOX_IMAGE := $(IMAGES_DIR)/busybox.tar


.PHONY: images agent-image

# $(call go-build-if-changed,ENV,LDFLAGS,PACKAGE): build PACKAGE into $@,
# touching $@ only when the program changed.
define go-build-if-changed
	@mkdir -p $(@D)
	$(1) $(GO) build -trimpath -ldflags "$(2)" -o $@.new $(3)
	@if cmp -s $@.new $@; then rm -f $@.new; else mv -f $@.new $@; fi
endef

$(MKIMAGE): FORCE
	$(call go-build-if-changed,,$(LDFLAGS),./tools/mkimage)

$(IMAGE_AGENT_BIN): FORCE
	$(call go-build-if-changed,CGO_ENABLED=0,$(LDFLAGS),./cmd/mirrord-agent)

$(IMAGE_PAUSE_BIN): FORCE
	$(call go-build-if-changed,CGO_ENABLED=0,-s -w,./tools/pause)

# mkimage prints each reference; it is kept beside the tarball (.ref),
# where scripts/cluster-node.sh and kube/kubetest read it. The .ref file
# changes only when mkimage succeeded.
# $(call mkimage,TARBALL,ARGS...): run `mkimage ARGS --out TARBALL`.
define mkimage
	$(MKIMAGE) $(2) --out $(1) > $(1:.tar=.ref).new
	@mv -f $(1:.tar=.ref).new $(1:.tar=.ref)
endef

$(AGENT_IMAGE) $(AGENT_IMAGE_OCI)/index.json $(AGENT_IMAGE:.tar=.ref) &: $(IMAGE_AGENT_BIN) $(MKIMAGE) $(IMAGE_IPTABLES_FILES)
	$(call mkimage,$(AGENT_IMAGE),agent --binary $(IMAGE_AGENT_BIN) --version "$(VERSION)" --oci $(AGENT_IMAGE_OCI))

$(PAUSE_IMAGE) $(PAUSE_IMAGE:.tar=.ref) &: $(IMAGE_PAUSE_BIN) $(MKIMAGE)
	$(call mkimage,$(PAUSE_IMAGE),pause --binary $(IMAGE_PAUSE_BIN))

$(BUSYBOX_IMAGE) $(BUSYBOX_IMAGE:.tar=.ref) &: $(MKIMAGE) $(IMAGE_BUSYBOX_FILES)
	$(call mkimage,$(BUSYBOX_IMAGE),busybox)

agent-image: $(AGENT_IMAGE) $(AGENT_IMAGE_OCI)/index.json
	@printf '%s\t%s (OCI layout: %s)\n' "$$(cat $(AGENT_IMAGE:.tar=.ref))" $(AGENT_IMAGE) $(AGENT_IMAGE_OCI)

images: agent-image $(PAUSE_IMAGE) $(BUSYBOX_IMAGE)
	@for f in $(PAUSE_IMAGE) $(BUSYBOX_IMAGE); do printf '%s\t%s\n' "$$(cat $${f%.tar}.ref)" $$f; done
