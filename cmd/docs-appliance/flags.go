package main

import (
	"fmt"
)

func (f globalFlags) validate() error {
	if f.output != "text" && f.output != "json" {
		return fmt.Errorf("--output %q: use text or json", f.output)
	}
	return nil
}
