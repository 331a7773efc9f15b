package gitserver

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// Role is what an account may do.
type Role string

// Roles.
const (
	// RolePush fetches and pushes (the installer).
	RolePush Role = "push"
	// RoleRead only fetches (Flux).
	RoleRead Role = "read"
)

// User is one account of the users file.
type User struct {
	Name string
	Role Role
	Hash []byte // bcrypt
}

// Account is an account with its password, to write a users file from.
type Account struct {
	Name     string
	Role     Role
	Password string
}

var userNameRe = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// ParseUsers reads a users file: one "name:role:bcrypt-hash" line per account, # comments.
func ParseUsers(data []byte) ([]User, error) {
	var users []User
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("users file line %d: want name:role:hash", n)
		}
		u := User{Name: parts[0], Role: Role(parts[1]), Hash: []byte(parts[2])}
		if !userNameRe.MatchString(u.Name) {
			return nil, fmt.Errorf("users file line %d: %q is not an account name", n, u.Name)
		}
		if u.Role != RolePush && u.Role != RoleRead {
			return nil, fmt.Errorf("users file line %d: role %q is neither push nor read", n, u.Role)
		}
		if _, err := bcrypt.Cost(u.Hash); err != nil {
			return nil, fmt.Errorf("users file line %d: the hash of %s is not bcrypt", n, u.Name)
		}
		if seen[u.Name] {
			return nil, fmt.Errorf("users file line %d: %s is listed twice", n, u.Name)
		}
		seen[u.Name] = true
		users = append(users, u)
	}
	return users, sc.Err()
}

// UsersFile writes a users file for accounts. Hashes that still match (from a previous file) are
// kept, so an unchanged set of accounts gives the same bytes and nothing is re-applied.
func UsersFile(accounts []Account, previous []byte) ([]byte, error) {
	old := map[string]User{}
	if prev, err := ParseUsers(previous); err == nil {
		for _, u := range prev {
			old[u.Name] = u
		}
	}
	sorted := append([]Account(nil), accounts...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	var b bytes.Buffer
	b.WriteString("# docs-appliance git server accounts: name:role:bcrypt(password)\n")
	for _, a := range sorted {
		if !userNameRe.MatchString(a.Name) || (a.Role != RolePush && a.Role != RoleRead) || a.Password == "" {
			return nil, fmt.Errorf("writing the users file: account %q (role %q) is not valid", a.Name, a.Role)
		}
		hash := old[a.Name].Hash
		if old[a.Name].Role != a.Role || bcrypt.CompareHashAndPassword(hash, []byte(a.Password)) != nil {
			var err error
			if hash, err = bcrypt.GenerateFromPassword([]byte(a.Password), bcrypt.DefaultCost); err != nil {
				return nil, fmt.Errorf("hashing the password of %s: %w", a.Name, err)
			}
		}
		fmt.Fprintf(&b, "%s:%s:%s\n", a.Name, a.Role, hash)
	}
	return b.Bytes(), nil
}

// verifier checks passwords, remembering successes: bcrypt is slow on purpose, and a fetch is
// several requests.
type verifier struct {
	mu sync.Mutex
	ok map[[32]byte]bool
}

var errBadCredentials = errors.New("bad credentials")

func (v *verifier) check(users []User, name, password string) (User, error) {
	for _, u := range users {
		if u.Name != name {
			continue
		}
		key := sha256.Sum256(append(append(append([]byte{}, u.Hash...), 0), password...))
		v.mu.Lock()
		known := v.ok[key]
		v.mu.Unlock()
		if known {
			return u, nil
		}
		if bcrypt.CompareHashAndPassword(u.Hash, []byte(password)) != nil {
			return User{}, errBadCredentials
		}
		v.mu.Lock()
		if v.ok == nil || len(v.ok) > 64 {
			v.ok = map[[32]byte]bool{}
		}
		v.ok[key] = true
		v.mu.Unlock()
		return u, nil
	}
	// Same cost for an unknown name, so names cannot be probed by timing.
	_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
	return User{}, errBadCredentials
}

var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("not a password"), bcrypt.DefaultCost)
	return h
})
