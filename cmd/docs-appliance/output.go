package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/suitenumerique/docs-appliance/installer/preflight"
)

// Exit codes. An error picks a code other than exitError by having an
// ExitCode() int method (preflight.FailedError: 3); that is the only way a
// command sets its code, so scripts can rely on the table in README.md.
const (
	exitOK    = 0
	exitError = 1
	// exitPreflightFailed: the checks ran and one failed.
	exitPreflightFailed = preflight.ExitFailed
	// 4 is doctor's (doctor.ExitWarnings): every check ran and some only warned.
)

// exitCoder is what an error implements to choose the process exit code.
type exitCoder interface{ ExitCode() int }

// exitCode maps a command's error to the process exit code.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ec exitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return exitError
}

// errorDocument is what stdout carries with --output json when a command
// fails before producing its result. Its shape is documented in README.md.
type errorDocument struct {
	Error errorBody `json:"error"`
}

type errorBody struct {
	Message  string `json:"message"`
	ExitCode int    `json:"exitCode"`
	// FailedChecks names the preflight checks that failed (exit code 3).
	FailedChecks []string `json:"failedChecks,omitempty"`
}

func newErrorDocument(err error) errorDocument {
	doc := errorDocument{Error: errorBody{Message: err.Error(), ExitCode: exitCode(err)}}
	var pf *preflight.FailedError
	if errors.As(err, &pf) {
		doc.Error.FailedChecks = pf.IDs
	}
	return doc
}

// errResultWritten is a programming error: a command wrote two results.
var errResultWritten = errors.New("writing the result: the command already wrote one")

// result writes the command's result: v as one indented JSON document with
// --output json, text otherwise (nothing when text is empty: the status on
// stderr said it all). A command writes one result at most.
func (a *App) result(v any, text string) error {
	if a.wrote {
		return errResultWritten
	}
	a.wrote = true
	if a.JSON() {
		return writeJSON(a.Out, v)
	}
	if text == "" {
		return nil
	}
	_, err := io.WriteString(a.Out, text)
	return err
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Execute runs the command line and returns the process exit code. The
// status goes to errOut; out carries only the result. With --output json,
// out carries exactly one JSON document: the command's result, or the
// error document when the command failed before producing one (a
// preflight whose checks failed still writes its report, and exits 3).
func Execute(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer) int {
	app := &App{In: in, Out: out, Err: errOut}
	cmd := newRootCommand(app)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(errOut, "Error:", err)
	// A flag error can stop parsing before --output was read.
	if !app.wrote && (app.JSON() || wantsJSON(args)) {
		app.wrote = true
		if werr := writeJSON(out, newErrorDocument(err)); werr != nil {
			fmt.Fprintln(errOut, "Error: writing the error document:", werr)
		}
	}
	return exitCode(err)
}

// wantsJSON reads --output from args the flag parser did not get to; the
// last one wins, as with the parser.
func wantsJSON(args []string) bool {
	output := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return output == "json"
		case a == "-o" || a == "--output":
			if i+1 < len(args) {
				output = args[i+1]
				i++
			}
		case strings.HasPrefix(a, "--output="):
			output = strings.TrimPrefix(a, "--output=")
		case strings.HasPrefix(a, "-o") && !strings.HasPrefix(a, "--"):
			output = strings.TrimPrefix(strings.TrimPrefix(a, "-o"), "=")
		}
	}
	return output == "json"
}
