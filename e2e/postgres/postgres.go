package postgres

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
)

// nobody runs the server when the test is root.
const nobody = 65534

// Server is one running PostgreSQL, stopped at the test's end.
type Server struct {
	Bin     string // the folder of initdb, postgres, psql...
	Data    string // its data folder
	Socket  string // the folder of its unix socket
	Archive string // where it archives WAL ("" = no archiving)
	t       testing.TB
	root    string
}

// Bin finds the newest PostgreSQL server programs on the host
// (DOCS_APPLIANCE_PG_BIN overrides); their absence ends t through
// kit.Unavailable.
func Bin(t testing.TB) string {
	t.Helper()
	if b := os.Getenv("DOCS_APPLIANCE_PG_BIN"); b != "" {
		return b
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return major(dirs[i]) > major(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	kit.Unavailable(t, "a PostgreSQL server (initdb, postgres, pg_basebackup under /usr/lib/postgresql/*/bin)", "apt-get install postgresql")
	return ""
}

func major(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// Start runs a new server; archive (a folder) turns WAL archiving on.
func Start(t testing.TB, archive bool) *Server {
	t.Helper()
	s := newServer(t)
	if archive {
		s.Archive = filepath.Join(s.root, "archive")
		s.mkdir(s.Archive)
	}
	s.run("initdb", "-D", s.Data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
	s.configure()
	s.start()
	return s
}

// Recover makes a new server from base (BaseBackup's folder) and the
// WAL in archive, as a restore does: recovery.signal and a
// restore_command, replaying the whole archive, then promoted. It
// returns once the server accepts writes.
func Recover(t testing.TB, base, archive string) *Server {
	t.Helper()
	s := newServer(t)
	if out, err := exec.Command("cp", "-a", base+"/.", s.Data).CombinedOutput(); err != nil {
		t.Fatalf("copying the base backup: %v: %s", err, out)
	}
	s.chown(s.Data)
	s.configure()
	conf := fmt.Sprintf("restore_command = 'cp %s/%%f %%p'\nrecovery_target_timeline = 'latest'\n", archive)
	s.append("postgresql.conf", conf)
	s.write(filepath.Join(s.Data, "recovery.signal"), "")
	s.start()
	deadline := time.Now().Add(2 * time.Minute)
	for s.SQL("postgres", "select pg_is_in_recovery()") != "f" {
		if time.Now().After(deadline) {
			t.Fatalf("the recovered server is still in recovery after 2m:\n%s", s.Log())
		}
		time.Sleep(200 * time.Millisecond)
	}
	return s
}

// BaseBackup takes a base backup (pg_basebackup, WAL fetched into it)
// into a new folder and returns it.
func (s *Server) BaseBackup() string {
	s.t.Helper()
	dir := filepath.Join(s.root, "base")
	s.run("pg_basebackup", "-h", s.Socket, "-U", "postgres", "-D", dir, "-X", "fetch", "--no-sync", "-c", "fast")
	return dir
}

// CopyArchive copies the WAL archive into a new folder, leaving out the
// files drop says to (a broken archive), and returns the folder.
func (s *Server) CopyArchive(drop func(name string) bool) string {
	s.t.Helper()
	dir := filepath.Join(s.root, fmt.Sprintf("archive-copy-%d", time.Now().UnixNano()))
	s.mkdir(dir)
	entries, err := os.ReadDir(s.Archive)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, e := range entries {
		if drop != nil && drop(e.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(s.Archive, e.Name()))
		if err != nil {
			s.t.Fatal(err)
		}
		s.write(filepath.Join(dir, e.Name()), string(b))
	}
	return dir
}

// PSQL is the psql command line checks.sh takes (the database name last,
// SQL on stdin).
func (s *Server) PSQL() string {
	return fmt.Sprintf("%s -h %s -U postgres -XAtq -v ON_ERROR_STOP=1 -d", filepath.Join(s.Bin, "psql"), s.Socket)
}

// SQL runs sql in database db and returns psql's unaligned output; an
// error fails the test.
func (s *Server) SQL(db, sql string) string {
	s.t.Helper()
	out, err := s.TrySQL(db, sql)
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

// TrySQL is SQL returning the error.
func (s *Server) TrySQL(db, sql string) (string, error) {
	cmd := exec.Command(filepath.Join(s.Bin, "psql"), "-h", s.Socket, "-U", "postgres", "-XAtq", "-v", "ON_ERROR_STOP=1", "-d", db)
	cmd.Stdin = strings.NewReader(sql)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("psql in %s: %v: %s", db, err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimRight(string(out), "\n"), nil
}

// Log is what the server wrote to its log.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.root, "server.log"))
	return string(b)
}

func newServer(t testing.TB) *Server {
	t.Helper()
	bin := Bin(t)
	// Not t.TempDir: its parents are 0700 and root's, and the server may
	// run as nobody. Sockets want a short path too.
	root, err := os.MkdirTemp("", "pg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	s := &Server{Bin: bin, Data: filepath.Join(root, "data"), Socket: filepath.Join(root, "run"), t: t, root: root}
	s.chown(root)
	s.mkdir(s.Data)
	if err := os.Chmod(s.Data, 0o700); err != nil {
		t.Fatal(err)
	}
	s.mkdir(s.Socket)
	return s
}

func (s *Server) configure() {
	conf := fmt.Sprintf("listen_addresses = ''\nunix_socket_directories = '%s'\nfsync = off\nwal_level = replica\nmax_wal_senders = 4\n", s.Socket)
	if s.Archive != "" {
		conf += fmt.Sprintf("archive_mode = on\narchive_command = 'test ! -f %[1]s/%%f && cp %%p %[1]s/%%f'\n", s.Archive)
	} else {
		conf += "archive_mode = off\n"
	}
	s.append("postgresql.conf", conf)
}

func (s *Server) start() {
	s.t.Helper()
	s.run("pg_ctl", "-D", s.Data, "-l", filepath.Join(s.root, "server.log"), "-w", "-t", "60", "start")
	s.t.Cleanup(func() {
		cmd := s.cmd("pg_ctl", "-D", s.Data, "-m", "immediate", "-w", "stop")
		_ = cmd.Run()
	})
}

func (s *Server) cmd(prog string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.Bin, prog), args...)
	cmd.Dir = s.root
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		cmd.Env = append(os.Environ(), "HOME="+s.root)
	}
	return cmd
}

func (s *Server) run(prog string, args ...string) {
	s.t.Helper()
	if out, err := s.cmd(prog, args...).CombinedOutput(); err != nil {
		s.t.Fatalf("%s %s: %v\n%s\n%s", prog, strings.Join(args, " "), err, out, s.Log())
	}
}

func (s *Server) mkdir(dir string) {
	s.t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.t.Fatal(err)
	}
	s.chown(dir)
}

func (s *Server) chown(dir string) {
	s.t.Helper()
	if os.Geteuid() != 0 {
		return
	}
	if out, err := exec.Command("chown", "-R", fmt.Sprintf("%d:%d", nobody, nobody), dir).CombinedOutput(); err != nil {
		s.t.Fatalf("chown %s: %v: %s", dir, err, out)
	}
}

func (s *Server) append(name, text string) {
	s.t.Helper()
	f, err := os.OpenFile(filepath.Join(s.Data, name), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("\n" + text); err != nil {
		s.t.Fatal(err)
	}
}

func (s *Server) write(path, text string) {
	s.t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		s.t.Fatal(err)
	}
	s.chown(path)
}
