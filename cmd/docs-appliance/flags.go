package main

import (
	"encoding/json"
	"fmt"
)

func (f globalFlags) validate() error {
	if f.output != "text" && f.output != "json" {
		return fmt.Errorf("--output %q: use text or json", f.output)
	}
	return nil
}

// print writes v as indented JSON with --output json, and text otherwise.
func (a *App) print(v any, text string) error {
	if a.JSON() {
		enc := json.NewEncoder(a.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	_, err := fmt.Fprint(a.Out, text)
	return err
}
