// Command logsecrets stands in for an application that leaks its secrets
// into its log, for the support bundle's e2e test: it prints "NAME is
// value" for each variable named in $PRINT (comma-separated), each value
// split across two writes a moment apart; then, when $FILL is a number of
// bytes, that much filler followed by the values again and "END OF LOG";
// then it exits with $EXIT when set (an init container's 0; 1 to crash,
// whose restart gives a previous log) or sleeps until stopped. With
// $ONCE, a file that survives restarts (an emptyDir), it exits only when
// the file is absent and makes it: it crashes once, then runs.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	names := strings.Split(os.Getenv("PRINT"), ",")
	say := func() {
		for _, n := range names {
			v := os.Getenv(n)
			half := len(v) / 2
			fmt.Printf("%s is %s", n, v[:half])
			os.Stdout.Sync()
			time.Sleep(20 * time.Millisecond)
			fmt.Printf("%s\n", v[half:])
		}
	}
	fmt.Println("logsecrets starting")
	say()
	if n, err := strconv.Atoi(os.Getenv("FILL")); err == nil {
		line := strings.Repeat("filler line of an ordinary chatty log ", 3) + "\n"
		for written := 0; written < n; written += len(line) {
			fmt.Print(line)
		}
		say()
		fmt.Println("END OF LOG")
	}
	code, err := strconv.Atoi(os.Getenv("EXIT"))
	if once := os.Getenv("ONCE"); err == nil && once != "" {
		if _, statErr := os.Stat(once); statErr == nil {
			err = os.ErrExist // crashed already: run this time
		} else if werr := os.WriteFile(once, nil, 0o600); werr != nil {
			fmt.Println("writing", once, werr)
		}
	}
	if err == nil {
		fmt.Println("exiting on purpose")
		os.Exit(code)
	}
	fmt.Println("logsecrets ready")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}
