# gitops.mk — what the hand-over to Git and Flux needs at build time. Included by the Makefile.
#
#   make flux-manifests   the Flux install manifests the binary embeds (installer/gitops/manifests/<version>/),
#                         assembled from the Go modules flux2 pins; a connected release build passes the
#                         official release asset instead:
#                           make flux-manifests FLUX_MANIFESTS_TARBALL=manifests.tar.gz FLUX_VERSION=v2.9.5
#                         (download it from https://github.com/fluxcd/flux2/releases/download/<v>/ and check
#                         it against the release's checksums file first)
#   make gitserver-image  the in-cluster git server's image: cmd/git-server plus Debian's git and the
#                         libraries it needs, as an OCI archive; prints the digest the train pins.
#                         GIT_ROOT is where Debian's git is installed or unpacked (/ by default; a release
#                         build unpacks the pinned .debs of its target architecture with dpkg-deb -x).
#
# Both are cached: the manifests stay until `make flux-manifests FLUX_MANIFESTS_FORCE=1`.

FLUX_MANIFESTS_DIR := installer/gitops/manifests
FLUX_MANIFESTS_TARBALL ?=
FLUX_VERSION ?=
FLUX_MANIFESTS_FORCE ?=
GITSERVER_TAG ?= ghcr.io/suitenumerique/docs-appliance-git-server:$(VERSION)
GIT_ROOT ?= /
GITSERVER_DIR ?= $(CACHE)/git-server
GITSERVER_IMAGE ?= $(GITSERVER_DIR)/git-server.tar

.PHONY: flux-manifests gitserver-image

# The binary embeds the manifests, the tests check them, the e2e installs them.
build: flux-manifests
TEST_PREREQS += flux-manifests
e2e: flux-manifests

flux-manifests:
	$(GO) run ./installer/gitops/cmd/flux-manifests -out $(FLUX_MANIFESTS_DIR) \
		$(if $(FLUX_MANIFESTS_TARBALL),-tarball $(FLUX_MANIFESTS_TARBALL)) \
		$(if $(FLUX_VERSION),-version $(FLUX_VERSION)) $(if $(FLUX_MANIFESTS_FORCE),-force)

gitserver-image:
	@command -v git >/dev/null || [ "$(GIT_ROOT)" != / ] || { echo "gitserver-image: git is missing (apt-get install git, or GIT_ROOT=<unpacked .debs>)"; exit 1; }
	mkdir -p $(GITSERVER_DIR)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o $(GITSERVER_DIR)/git-server ./cmd/git-server
	$(GO) run ./installer/gitserver/cmd/git-server-image -tag $(GITSERVER_TAG) -server $(GITSERVER_DIR)/git-server \
		-git-root $(GIT_ROOT) -out $(GITSERVER_IMAGE)
	@echo "gitserver-image: $(GITSERVER_IMAGE) ($(GITSERVER_TAG))"
