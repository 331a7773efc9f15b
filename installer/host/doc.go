// Package host owns the installer's access to the machine it runs on: host commands through a
// Runner taking argument lists (never shell strings) whose errors keep the command's output; the
// host filesystem seen under a root prefix (Root), so that tests and `--root` work on real files in
// another folder; facts read from /proc, /sys and /etc (memory, CPUs, routes, mounts, processes,
// listening sockets); and systemd unit management.
//
// Every file read or written goes through Root. Every command goes through a Runner: ExecRunner
// runs it for real, Recorder records it for tests and dry runs.
package host
