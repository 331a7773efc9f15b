// Package postgres runs a real PostgreSQL server from the host's Debian
// packages (/usr/lib/postgresql/<major>/bin, `apt-get install postgresql`)
// for a test: initdb into a temporary folder, listening only on a unix
// socket there, WAL archived into a folder when asked, a base backup of
// it, and a recovery from that base backup and archive into a second
// server — the real PostgreSQL recovery a CloudNativePG restore does,
// without Kubernetes. As root the server runs as nobody (PostgreSQL
// refuses to run as root).
package postgres
