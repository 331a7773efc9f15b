# wizard-kit: the real servers the probe and wizard tests check answers
# against. versitygw (S3 with versioning) is built from the Go module proxy
# into the cache once (45 MB; measured here: 5.5 min cold on 2 busy cores, the
# upstream note says ~70 s idle); the OpenID
# provider, git server (git's own http-backend: Debian's git package) and
# SMTP relay run inside the tests. Tests find versitygw through
# DOCS_APPLIANCE_VERSITYGW, or in the cache when run by hand.
VERSITYGW_VERSION := v1.8.0
VERSITYGW_BIN := $(CACHE)/versitygw-$(VERSITYGW_VERSION)/versitygw
export DOCS_APPLIANCE_VERSITYGW := $(VERSITYGW_BIN)

TEST_PREREQS += wizard-kit

.PHONY: wizard-kit wizard-test
## wizard-kit: build the S3 server the probe tests run (cached)
wizard-kit: $(VERSITYGW_BIN)
	@command -v git >/dev/null || { echo "wizard-kit: git is missing (apt-get install git): the git probe tests serve repositories with git http-backend"; exit 1; }

# Built into a temp folder and moved into place, so a killed build leaves no half binary.
# CI's KIT_GOCACHE (a compile cache shared by the kit builds of one run) is used when set.
$(VERSITYGW_BIN):
	mkdir -p $(dir $@)
	rm -rf $(dir $@).build && mkdir -p $(dir $@).build
	$(if $(KIT_GOCACHE),GOCACHE=$(KIT_GOCACHE)) GOBIN=$(dir $@).build CGO_ENABLED=0 $(GO) install -trimpath -ldflags '-s -w' github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)
	mv $(dir $@).build/versitygw $@ && rmdir $(dir $@).build

## wizard-test: the probe and wizard tests against their real servers
wizard-test: wizard-kit
	DOCS_APPLIANCE_REQUIRE_KIT=1 $(GO) test ./installer/probe/... ./installer/wizard/...
