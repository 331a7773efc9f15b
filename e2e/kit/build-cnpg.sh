#!/bin/bash
# Builds a real CloudNativePG for the e2e node, without Docker, into $CNPG_KIT (cached by version):
#
#   cloudnative-pg.tar               the operator (github.com/cloudnative-pg/cloudnative-pg cmd/manager
#                                    from the Go module proxy), laid out as upstream's Dockerfile does:
#                                    /operator/manager_amd64 and /manager linking to it. The operator
#                                    finds its architectures by globbing operator/manager_* and its
#                                    init container copies /manager into every instance pod.
#   postgresql.tar                   PostgreSQL $POSTGRES_MAJOR from Debian $POSTGRES_DEBIAN_SUITE's packages
#                                    (the dependency closure apt resolves, unpacked), binaries on PATH,
#                                    user postgres with uid 26 as CNPG runs it, /bin/sh for archive_command
#   plugin-barman-cloud.tar          the barman-cloud plugin (cmd/manager from the module proxy)
#   plugin-barman-cloud-sidecar.tar  the same program over Debian's barman-cli-cloud and boto3, user 26
#   cnpg-operator.yaml               upstream's release manifest releases/cnpg-$CNPG.yaml, verbatim
#   plugin-barman-cloud.yaml         upstream's manifest.yaml at $BARMAN_CLOUD, verbatim (its images and
#                                    cert-manager objects are replaced at install time: e2e/cnpg/cnpgkit)
#   postgresql.packages, sidecar.packages  the Debian packages (name=version) in those two images
#
# Images are tagged as the train pins them (versions.env). Deviations: the PostgreSQL image holds the
# 17.x trixie has, not 17.6 on bookworm; locales-all is left out (236 MB: only the C and C.UTF-8
# locales exist, CNPG's initdb default is C); Python's byte code is compiled at build time rather
# than shipped by pip as upstream's sidecar does.
#
# Cold, measured on 2 cores shared with five other builds (load 12-18), fresh compile cache: the
# operator 15.5 min, the PostgreSQL image 1 min (99 packages), the plugin 9 min after the operator
# (13 min alone), the sidecar image 0.5 min (92 packages), trixie's package lists 1-2 min: 27 min
# in all, of which ~10 min CPU (user+sys), so ~6-8 min on 2 idle cores; less under .ci/run's shared
# compile cache (client-go, controller-runtime are the node kit's and Flux's too). 290 MB of images.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

outputs=(cloudnative-pg.tar postgresql.tar plugin-barman-cloud.tar plugin-barman-cloud-sidecar.tar
	cnpg-operator.yaml plugin-barman-cloud.yaml postgresql.packages sidecar.packages)
done_already() {
	local o
	for o in "${outputs[@]}"; do [ -f "$CNPG_KIT/$o" ] || return 1; done
}
if done_already; then log "cached: $CNPG_KIT"; echo "CNPG_KIT=$CNPG_KIT"; exit 0; fi
take_lock "$CACHE_ROOT/.cnpg.lock"
if done_already; then log "built meanwhile: $CNPG_KIT"; echo "CNPG_KIT=$CNPG_KIT"; exit 0; fi
need_apt ca-certificates
new_workdir
repo=$(cd "$KIT_SRC/../.." && pwd)
mkdir -p "$CNPG_KIT"
(cd "$repo" && go build -o "$WORK/pack" ./e2e/images/pack)

# module_dir MOD@VER downloads a module and prints its folder; module_commit the same for its commit.
module_json() { go mod download -json "$1"; }
module_dir() { module_json "$1" | sed -n 's/.*"Dir": "\(.*\)",/\1/p'; }
module_commit() { module_json "$1" | sed -n 's/.*"Hash": "\([0-9a-f]*\)".*/\1/p' | head -n1; }

# --- Debian packages: a private apt state for $POSTGRES_DEBIAN_SUITE (the machine's own is untouched).
apt_dir=$WORK/apt
mkdir -p "$apt_dir"/{lists/partial,cache/archives/partial,prefs}
cat >"$apt_dir/sources.list" <<EOF
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $POSTGRES_DEBIAN_SUITE main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security $POSTGRES_DEBIAN_SUITE-security main
EOF
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
	-o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o Dir::State::status=/dev/null
	-o Dir::Etc::Preferences=/dev/null -o "Dir::Etc::PreferencesParts=$apt_dir/prefs" -o Debug::NoLocking=1
	-o APT::Sandbox::User=root)
log "reading Debian $POSTGRES_DEBIAN_SUITE's package lists"
apt-get "${apt_opts[@]}" update -qq >/dev/null

# rootfs DIR NAME PKG... unpacks PKG and their dependency closure into DIR (as the upstream sidecar
# Dockerfile resolves it: apt-cache depends --recurse) and lays out what a Debian base would have.
# Maintainer scripts do not run: users, /bin/sh and the usr-merge links are made here.
rootfs() {
	local dir=$1 name=$2; shift 2
	local debs=$WORK/debs-$name
	mkdir -p "$debs" "$dir"
	apt-cache "${apt_opts[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts \
		--no-breaks --no-replaces --no-enhances "$@" >"$WORK/$name.deps"
	# locales/locales-all: 236 MB of locale data and its generator; the C locales are built into glibc.
	grep '^[a-z0-9]' "$WORK/$name.deps" | sort -u | grep -v -x -e locales -e locales-all >"$WORK/$name.pkgs"
	log "$name: downloading $(wc -l <"$WORK/$name.pkgs") Debian packages"
	(cd "$debs" && xargs apt-get "${apt_opts[@]}" download -qq <"$WORK/$name.pkgs" >/dev/null)
	local deb
	: >"$WORK/$name.packages"
	for deb in "$debs"/*.deb; do
		dpkg-deb -x "$deb" "$dir"
		dpkg-deb -W --showformat='${Package}=${Version}\n' "$deb" >>"$WORK/$name.packages"
	done
	# Debian's base-files makes these links; packages of trixie ship their files under /usr.
	local l
	for l in bin sbin lib lib64; do
		if [ -d "$dir/$l" ] && [ ! -L "$dir/$l" ]; then
			mkdir -p "$dir/usr/$l"
			cp -a "$dir/$l/." "$dir/usr/$l/"
			rm -rf "${dir:?}/$l"
		fi
		mkdir -p "$dir/usr/$l"
		ln -sfn "usr/$l" "$dir/$l"
	done
	ln -sfn dash "$dir/usr/bin/sh"
	mkdir -p "$dir/etc" "$dir/var/lib/postgresql" "$dir/run"
	install -d -m 1777 "$dir/tmp"
	cat >"$dir/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
postgres:x:26:26:PostgreSQL administrator:/var/lib/postgresql:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
	cat >"$dir/etc/group" <<'EOF'
root:x:0:
postgres:x:26:
nogroup:x:65534:
EOF
	# ca-certificates' maintainer script makes the bundle Python's requests loads at import time.
	if [ -d "$dir/usr/share/ca-certificates" ]; then
		mkdir -p "$dir/etc/ssl/certs"
		find "$dir/usr/share/ca-certificates" -name '*.crt' -print0 | sort -z | xargs -0 cat >"$dir/etc/ssl/certs/ca-certificates.crt"
	fi
	rm -rf "$dir/usr/share/doc" "$dir/usr/share/man" "$dir/usr/share/info" "$dir/usr/share/lintian"
	rm -rf "$debs"
}

# --- The operator.
if [ ! -f "$CNPG_KIT/cloudnative-pg.tar" ] || [ ! -f "$CNPG_KIT/cnpg-operator.yaml" ]; then
	mod=github.com/cloudnative-pg/cloudnative-pg@v$CNPG
	log "building the CloudNativePG operator $CNPG"
	src=$(module_dir "$mod")
	[ -n "$src" ] || die "downloading $mod"
	commit=$(module_commit "$mod")
	(cd "$src" && go build -trimpath -ldflags "-s -w \
		-X github.com/cloudnative-pg/cloudnative-pg/pkg/versions.buildVersion=$CNPG \
		-X github.com/cloudnative-pg/cloudnative-pg/pkg/versions.buildCommit=${commit:0:8}" \
		-o "$WORK/cnpg-manager" ./cmd/manager)
	op=$WORK/operator-root
	mkdir -p "$op/operator" "$op/etc/ssl/certs"
	install -m 0755 "$WORK/cnpg-manager" "$op/operator/manager_amd64"
	ln -s operator/manager_amd64 "$op/manager"
	install -d -m 1777 "$op/tmp"
	cp /etc/ssl/certs/ca-certificates.crt "$op/etc/ssl/certs/"
	printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$op/etc/passwd"
	"$WORK/pack" -tag "$CNPG_IMAGE" -out "$CNPG_KIT/cloudnative-pg.tar" -rootfs "$op" \
		-user 65532:65532 -workdir / -entrypoint /manager
	# The release manifest names the operator image it runs and copies into instance pods.
	grep -q "image: $CNPG_IMAGE\$" "$src/releases/cnpg-$CNPG.yaml" ||
		die "releases/cnpg-$CNPG.yaml does not run $CNPG_IMAGE: versions.env and the module disagree"
	install -m 0644 "$src/releases/cnpg-$CNPG.yaml" "$CNPG_KIT/cnpg-operator.yaml"
	# The CRDs the project validates against (a shared/crds folder beside the checkout or its
	# worktrees folder, when this machine has one; DOCS_APPLIANCE_SHARED_CRDS overrides) are
	# upstream's config/crd/bases at the same tag.
	shared=
	for d in ${DOCS_APPLIANCE_SHARED_CRDS:-} "$repo/../shared/crds" "$repo/../../shared/crds"; do
		if [ -d "$d/cloudnative-pg-v$CNPG" ]; then shared=$(realpath "$d/cloudnative-pg-v$CNPG"); break; fi
	done
	if [ -n "$shared" ]; then
		for f in "$shared"/*.yaml; do
			cmp -s "$f" "$src/config/crd/bases/${f##*/}" || die "${f##*/} differs between $shared and the module's config/crd/bases"
		done
		log "CRDs: config/crd/bases matches $shared"
	fi
	rm -rf "$op" "$WORK/cnpg-manager"
	log "operator image: $CNPG_KIT/cloudnative-pg.tar ($(du -h "$CNPG_KIT/cloudnative-pg.tar" | cut -f1))"
fi

# --- PostgreSQL.
if [ ! -f "$CNPG_KIT/postgresql.tar" ]; then
	pg=$WORK/postgresql-root
	rootfs "$pg" postgresql "postgresql-$POSTGRES_MAJOR" dash coreutils
	bindir=/usr/lib/postgresql/$POSTGRES_MAJOR/bin
	for b in initdb postgres pg_ctl pg_controldata pg_basebackup pg_rewind psql; do
		[ -x "$pg$bindir/$b" ] || die "postgresql-$POSTGRES_MAJOR has no $bindir/$b"
	done
	"$WORK/pack" -tag "$POSTGRES_IMAGE" -out "$CNPG_KIT/postgresql.tar" -rootfs "$pg" -user 26:26 \
		-env "PATH=$bindir:/usr/local/bin:/usr/bin:/bin" -env "PGDATA=/var/lib/postgresql/data/pgdata"
	rm -rf "$pg"
	install -m 0644 "$WORK/postgresql.packages" "$CNPG_KIT/postgresql.packages"
	log "PostgreSQL image: $CNPG_KIT/postgresql.tar ($(du -h "$CNPG_KIT/postgresql.tar" | cut -f1))"
fi

# --- The barman-cloud plugin and its sidecar: one program, two images.
if [ ! -f "$CNPG_KIT/plugin-barman-cloud.tar" ] || [ ! -f "$CNPG_KIT/plugin-barman-cloud-sidecar.tar" ] ||
	[ ! -f "$CNPG_KIT/plugin-barman-cloud.yaml" ]; then
	mod=github.com/cloudnative-pg/plugin-barman-cloud@$BARMAN_CLOUD
	log "building the barman-cloud plugin $BARMAN_CLOUD"
	src=$(module_dir "$mod")
	[ -n "$src" ] || die "downloading $mod"
	(cd "$src" && go build -trimpath -ldflags "-s -w" -o "$WORK/barman-manager" ./cmd/manager)
	pl=$WORK/plugin-root
	mkdir -p "$pl/etc/ssl/certs"
	install -m 0755 "$WORK/barman-manager" "$pl/manager"
	install -d -m 1777 "$pl/tmp"
	cp /etc/ssl/certs/ca-certificates.crt "$pl/etc/ssl/certs/"
	"$WORK/pack" -tag "$BARMAN_CLOUD_IMAGE" -out "$CNPG_KIT/plugin-barman-cloud.tar" -rootfs "$pl" \
		-user 65532:65532 -workdir / -entrypoint /manager
	rm -rf "$pl"

	sc=$WORK/sidecar-root
	rootfs "$sc" sidecar barman-cli-cloud python3-boto3 dash coreutils
	install -m 0755 "$WORK/barman-manager" "$sc/manager"
	[ -x "$sc/usr/bin/barman-cloud-backup" ] || die "barman-cli-cloud has no /usr/bin/barman-cloud-backup"
	# Byte code, compiled with the image's own Python (through its loader: nothing is installed on
	# this machine) and checked by hash, since the layer's times are zero. Without it every WAL
	# segment's barman-cloud-wal-archive compiles boto3 again on a read-only root.
	py=$(cd "$sc/usr/bin" && ls python3.[0-9]* | grep -x 'python3\.[0-9]*' | head -n1)
	PYTHONHOME=$sc/usr "$sc/usr/lib64/ld-linux-x86-64.so.2" --library-path "$sc/usr/lib/x86_64-linux-gnu" "$sc/usr/bin/$py" \
		-m compileall -q --invalidation-mode unchecked-hash -s "$sc" -p / \
		"$sc/usr/lib/$py" "$sc/usr/lib/python3/dist-packages" >/dev/null
	"$WORK/pack" -tag "$BARMAN_CLOUD_SIDECAR_IMAGE" -out "$CNPG_KIT/plugin-barman-cloud-sidecar.tar" -rootfs "$sc" \
		-user 26:26 -workdir / -entrypoint /manager
	rm -rf "$sc" "$WORK/barman-manager"
	install -m 0644 "$WORK/sidecar.packages" "$CNPG_KIT/sidecar.packages"
	install -m 0644 "$src/manifest.yaml" "$CNPG_KIT/plugin-barman-cloud.yaml"
	log "plugin images: $CNPG_KIT/plugin-barman-cloud.tar ($(du -h "$CNPG_KIT/plugin-barman-cloud.tar" | cut -f1)), sidecar ($(du -h "$CNPG_KIT/plugin-barman-cloud-sidecar.tar" | cut -f1))"
fi

log "CloudNativePG kit built in $(($(date +%s) - T0))s"
echo "CNPG_KIT=$CNPG_KIT"
