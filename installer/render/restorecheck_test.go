package render

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
	"github.com/suitenumerique/docs-appliance/e2e/postgres"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
)

func mustScript(t *testing.T, name string) string {
	t.Helper()
	b, err := RestoreCheckScripts.ReadFile("scripts/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// docsSchema is the part of Docs v5.4.1's schema the checks read: its
// tables (db_table of src/backend/core/models.py), Django's migration
// record with the first migrations of core, and rows.
const docsSchema = `
create table django_migrations (id bigserial primary key, app varchar(255) not null, name varchar(255) not null, applied timestamptz not null);
create table impress_user (id uuid primary key default gen_random_uuid(), email varchar(254), created_at timestamptz default now());
create table impress_document (id uuid primary key default gen_random_uuid(), title varchar(255), path varchar(7610), created_at timestamptz default now());
create table impress_document_access (id uuid primary key default gen_random_uuid(), document_id uuid references impress_document, user_id uuid references impress_user, role varchar(20));
create table impress_invitation (id uuid primary key);
create table impress_link_trace (id uuid primary key);
create table impress_document_favorite (id uuid primary key);
create table impress_document_ask_for_access (id uuid primary key);
create table impress_thread (id uuid primary key);
create table impress_comment (id uuid primary key);
insert into django_migrations (app, name, applied)
  select 'core', n, now() - interval '10 days' from unnest(array['0001_initial', '0002_create_pg_trgm_extension',
    '0003_document_link_reach_document_link_role_and_more', '0031_clean_onboarding_accesses', '0032_remove_linktrace_is_masked']) n;
insert into django_migrations (app, name, applied) values ('auth', '0001_initial', now() - interval '10 days'), ('contenttypes', '0001_initial', now() - interval '10 days');
insert into impress_user (email) select 'user' || g || '@example.org' from generate_series(1, 40) g;
insert into impress_document (title) select 'doc ' || g from generate_series(1, 300) g;
insert into impress_document_access (document_id, user_id, role)
  select d.id, (select id from impress_user order by email limit 1), 'owner' from impress_document d;
`

// restoreCheckRig is a live server seeded like Docs (and Keycloak's realm
// table), its base backup, rows written after it, and the heartbeat
// checks.sh takes before every recovery.
type restoreCheckRig struct {
	live      *postgres.Server
	base      string
	heartbeat map[string]string
}

func newRestoreCheckRig(t *testing.T) *restoreCheckRig {
	for _, p := range []string{"bash", "comm"} {
		kit.Program(t, p, "apt-get install bash coreutils (the kubectl image carries them)")
	}
	live := postgres.Start(t, true)
	live.SQL("postgres", "create database docs; create database keycloak;")
	live.SQL("docs", docsSchema)
	live.SQL("keycloak", "create table realm (id varchar(36) primary key, name varchar(255) unique); insert into realm values ('1', 'master'), ('2', 'docs');")
	base := live.BaseBackup()
	// After the base backup: reached only through the archived WAL.
	live.SQL("docs", "insert into impress_user (email) select 'late' || g || '@example.org' from generate_series(1, 5) g; insert into impress_document (title) select 'late ' || g from generate_series(1, 50) g;")
	out, err := runChecks(t, "heartbeat", live, nil, nil)
	if err != nil {
		t.Fatalf("heartbeat: %v", err)
	}
	return &restoreCheckRig{live: live, base: base, heartbeat: out}
}

// runChecks runs one phase of checks.sh; err carries its stderr.
func runChecks(t *testing.T, phase string, live, restored *postgres.Server, env map[string]string) (map[string]string, error) {
	t.Helper()
	dir := t.TempDir()
	script := filepath.Join(dir, "checks.sh")
	if err := os.WriteFile(script, []byte(mustScript(t, "checks.sh")), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", script, phase)
	cmd.Env = append(os.Environ(), "LIVE_PSQL="+live.PSQL(), "ARCHIVE_WAIT=60")
	if restored != nil {
		cmd.Env = append(cmd.Env, "RESTORED_PSQL="+restored.PSQL())
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	res := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(stdout)), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			res[k] = v
		}
	}
	if err != nil {
		return res, &checkError{strings.TrimSpace(stderr.String())}
	}
	return res, nil
}

type checkError struct{ reason string }

func (e *checkError) Error() string { return e.reason }

func (r *restoreCheckRig) compare(t *testing.T, restored *postgres.Server) (map[string]string, error) {
	return runChecks(t, "compare", r.live, restored, map[string]string{
		"HEARTBEAT_AT": r.heartbeat["heartbeatAt"], "CHECK_KEYCLOAK": "true", "REALM": realmName,
	})
}

// TestRestoreChecksOnRealPostgres runs checks.sh against real PostgreSQL
// servers: a live one archiving its WAL, and servers recovered from its
// base backup and archive the way CloudNativePG recovers (restore_command,
// replay to the end, promote), some then damaged. A sane restore passes
// with every key recorded; each damage fails naming why.
func TestRestoreChecksOnRealPostgres(t *testing.T) {
	r := newRestoreCheckRig(t)
	hb := r.heartbeat
	if hb["heartbeatAt"] == "" || hb["heartbeatWal"] == "" || hb["lastArchivedAt"] == "" || hb["rpoSeconds"] == "" {
		t.Fatalf("heartbeat recorded %v", hb)
	}
	// The heartbeat's segment is in the archive: what the recovery reads.
	if _, err := os.Stat(filepath.Join(r.live.Archive, hb["heartbeatWal"])); err != nil {
		t.Fatalf("the heartbeat's WAL segment is not archived: %v", err)
	}

	t.Run("a sane restore passes", func(t *testing.T) {
		// A migration applied on the live cluster after the recovered
		// point (an upgrade since) is not held against the restore.
		r.live.SQL("docs", "insert into django_migrations (app, name, applied) values ('core', '0033_later', clock_timestamp())")
		defer r.live.SQL("docs", "delete from django_migrations where name = '0033_later'")
		res, err := r.compare(t, postgres.Recover(t, r.base, r.live.Archive))
		if err != nil {
			t.Fatalf("the check failed: %v", err)
		}
		want := map[string]string{
			"recoveredTo": hb["heartbeatAt"], "tables": "10", "users": "45", "liveUsers": "45",
			"documents": "350", "liveDocuments": "350", "accesses": "300", "migrations": "7",
			"liveMigrations": "8", "migrationsAfterRecoveredPoint": "1", "realm": realmName,
		}
		for k, v := range want {
			if res[k] != v {
				t.Errorf("%s = %q, want %q (all: %v)", k, res[k], v, res)
			}
		}
	})

	for _, c := range []struct {
		name, damage, want string
		db                 string
	}{
		{"a table is missing", "drop table impress_comment", "the restored docs database lacks tables: impress_comment", "docs"},
		{"the users are gone", "delete from impress_document_access; delete from impress_user",
			"the restored impress_user has 0 rows, implausible against the live 45 at the heartbeat and 45 now (allowed 44..46)", "docs"},
		{"the migrations are behind", "delete from django_migrations where name = '0032_remove_linktrace_is_masked'",
			"the restored migrations are behind the live ones at the recovered point: missing core.0032_remove_linktrace_is_masked", "docs"},
		{"a migration the live one lacks", "insert into django_migrations (app, name, applied) values ('core', '9999_foreign', now())",
			"the restored database has migrations the live one does not: core.9999_foreign", "docs"},
		{"the documents are fewer", "delete from impress_document_access where document_id in (select id from impress_document where title like 'doc 1%'); delete from impress_document where title like 'doc 1%'",
			"the restored impress_document has 239 rows, implausible against the live 350 at the heartbeat and 350 now (allowed 346..354)", "docs"},
		{"the realm is missing", "delete from realm where name = 'docs'", "the restored keycloak database lacks the docs realm", "keycloak"},
	} {
		t.Run("fails: "+c.name, func(t *testing.T) {
			restored := postgres.Recover(t, r.base, r.live.Archive)
			restored.SQL(c.db, c.damage)
			_, err := r.compare(t, restored)
			if err == nil || err.Error() != c.want {
				t.Errorf("got %v, want %q", err, c.want)
			}
		})
	}

	t.Run("fails: the archive lacks the heartbeat's WAL", func(t *testing.T) {
		// Recovery replays what the archive has and stops short.
		archive := r.live.CopyArchive(func(name string) bool { return name >= hb["heartbeatWal"] })
		res, err := r.compare(t, postgres.Recover(t, r.base, archive))
		if err == nil || !strings.Contains(err.Error(), "before the heartbeat written at "+hb["heartbeatAt"]+" and archived: WAL is missing from the archive") {
			t.Errorf("got %v (recorded %v)", err, res)
		}
	})
}

// jqFilter runs one of the restore check's jq filters with the real jq.
func jqFilter(t *testing.T, file, input string, args ...string) string {
	t.Helper()
	jq := kit.Program(t, "jq", "apt-get install jq (the kubectl image carries it)")
	filter := filepath.Join(t.TempDir(), file)
	if err := os.WriteFile(filter, []byte(mustScript(t, file)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(jq, append(append([]string{"-r"}, args...), "-f", filter)...)
	cmd.Stdin = strings.NewReader(input)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("jq -f %s: %v: %s", file, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestRestoreCheckFilters runs the restore check's jq filters with the
// real jq over objects shaped as CloudNativePG and the API server return
// them (e2e/cnpg runs them on the real ones).
func TestRestoreCheckFilters(t *testing.T) {
	t.Run("select-backup: the newest completed backup of the live cluster", func(t *testing.T) {
		backups := `{"items":[
 {"metadata":{"name":"postgres-daily-20261124020000"},"spec":{"cluster":{"name":"postgres"}},"status":{"phase":"completed","backupId":"20261124T020001","stoppedAt":"2026-11-24T02:03:00Z"}},
 {"metadata":{"name":"postgres-daily-20261126020000"},"spec":{"cluster":{"name":"postgres"}},"status":{"phase":"failed","backupId":"20261126T020001","stoppedAt":"2026-11-26T02:01:00Z"}},
 {"metadata":{"name":"postgres-now-1"},"spec":{"cluster":{"name":"postgres"}},"status":{"phase":"running","backupId":"20261127T020001"}},
 {"metadata":{"name":"restore-check-x"},"spec":{"cluster":{"name":"restore-check"}},"status":{"phase":"completed","backupId":"20261128T020001","stoppedAt":"2026-11-28T02:01:00Z"}},
 {"metadata":{"name":"postgres-daily-20261125020000"},"spec":{"cluster":{"name":"postgres"}},"status":{"phase":"completed","backupId":"20261125T020001","stoppedAt":"2026-11-25T02:02:00Z"}}
]}`
		if got, want := jqFilter(t, "select-backup.jq", backups, "--arg", "source", postgresCluster), "postgres-daily-20261125020000 20261125T020001 2026-11-25T02:02:00Z"; got != want {
			t.Errorf("picked %q, want %q", got, want)
		}
		if got := jqFilter(t, "select-backup.jq", `{"items":[{"metadata":{"name":"b"},"spec":{"cluster":{"name":"postgres"}},"status":{"phase":"failed"}}]}`, "--arg", "source", postgresCluster); got != "" {
			t.Errorf("picked %q among no completed backup", got)
		}
	})
	t.Run("cluster-ready: Ready and every instance", func(t *testing.T) {
		for input, want := range map[string]string{
			`{"spec":{"instances":1},"status":{"readyInstances":1,"conditions":[{"type":"Ready","status":"True"}]}}`:            "true",
			`{"spec":{"instances":1},"status":{"phase":"Setting up primary","conditions":[{"type":"Ready","status":"False"}]}}`: "false",
			`{"spec":{"instances":1}}`: "false",
		} {
			if got := jqFilter(t, "cluster-ready.jq", input); got != want {
				t.Errorf("%s: %q, want %q", input, got, want)
			}
		}
	})
	t.Run("recovery-failure: the full-recovery pod's failed container", func(t *testing.T) {
		pods := `{"items":[
 {"metadata":{"name":"restore-check-1"},"status":{"containerStatuses":[{"name":"postgres","state":{"terminated":{"exitCode":1}}}]}},
 {"metadata":{"name":"restore-check-1-full-recovery-abcde"},"status":{
   "initContainerStatuses":[{"name":"bootstrap-controller","state":{"terminated":{"exitCode":0}}},{"name":"plugin-barman-cloud","state":{"running":{}}}],
   "containerStatuses":[{"name":"full-recovery","state":{"waiting":{}},"lastState":{"terminated":{"exitCode":1}}}]}}]}`
		if got, want := jqFilter(t, "recovery-failure.jq", pods), "restore-check-1-full-recovery-abcde full-recovery 1"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
		if got := jqFilter(t, "recovery-failure.jq", `{"items":[{"metadata":{"name":"restore-check-1-full-recovery-abcde"},"status":{"containerStatuses":[{"name":"full-recovery","state":{"running":{}}}]}}]}`); got != "" {
			t.Errorf("a running recovery reads as failed: %q", got)
		}
	})
	t.Run("error-lines: errors and a program's stderr", func(t *testing.T) {
		logs := `not json
{"level":"info","msg":"Downloading backup catalog"}
{"level":"error","logger":"restore","msg":"while restoring","error":"exit status 1"}
{"level":"info","pipe":"stderr","logger":"barman-cloud-restore","msg":"ERROR: Barman cloud restore exception: unexpected end of data"}`
		want := "restore: while restoring: exit status 1\nbarman-cloud-restore: ERROR: Barman cloud restore exception: unexpected end of data"
		if got := jqFilter(t, "error-lines.jq", logs, "-R"); got != want {
			t.Errorf("got %q", got)
		}
	})
}

// TestRestoreCheckNamesNoClusterTakesOver: CloudNativePG makes a
// ServiceAccount, Role and RoleBinding named after every Cluster (and
// deletes them with it), so no rendered Cluster — the throwaway one in the
// restore check's ConfigMap included — may share its name with one of the
// appliance's own in the database namespace.
func TestRestoreCheckNamesNoClusterTakesOver(t *testing.T) {
	res := newFixture(t, "single-small").render(t)
	clusters, rbac := map[string]bool{}, map[string]string{}
	for _, f := range res.Files {
		if !strings.HasPrefix(f.Path, "base/platform/database/") || strings.HasSuffix(f.Path, "kustomization.yaml") {
			continue
		}
		objs, err := cluster.DecodeObjects(f.Content)
		if err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		for _, o := range objs {
			if o.GetNamespace() != nsDatabase {
				continue
			}
			switch o.GetKind() {
			case "Cluster":
				clusters[o.GetName()] = true
			case "ServiceAccount", "Role", "RoleBinding":
				rbac[o.GetName()] = o.GetKind()
			case "ConfigMap":
				if js, ok, _ := unstructured.NestedString(o.Object, "data", "cluster.json"); ok {
					var inner map[string]any
					if err := json.Unmarshal([]byte(js), &inner); err != nil {
						t.Fatal(err)
					}
					clusters[(&unstructured.Unstructured{Object: inner}).GetName()] = true
				}
			}
		}
	}
	if !clusters[RestoreCheckCluster] || !clusters[postgresCluster] {
		t.Fatalf("clusters %v", clusters)
	}
	for name := range clusters {
		if kind, ok := rbac[name]; ok {
			t.Errorf("Cluster %s shares its name with the %s the appliance renders: CloudNativePG takes it over", name, kind)
		}
	}
}
