# wizard-kit: the real servers the probe and wizard tests check answers
# against. versitygw (S3 with versioning) is built from the Go module proxy
# into the cache once (about a minute on 2 cores, 45 MB); the OpenID
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

$(VERSITYGW_BIN):
	mkdir -p $(dir $@)
	GOBIN=$(dir $@) CGO_ENABLED=0 $(GO) install -trimpath -ldflags '-s -w' github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)

## wizard-test: the probe and wizard tests against their real servers
wizard-test: wizard-kit
	DOCS_APPLIANCE_REQUIRE_KIT=1 $(GO) test ./installer/probe/... ./installer/wizard/...
