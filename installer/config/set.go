package config

import (
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Set applies one `--set key=value` override, where key is the dotted
// YAML path of a field (tls.mode, storage.bucket, extraDomains). Lists take
// comma-separated values. Unknown keys are errors that list the keys known
// at that level.
func (c *Config) Set(assignment string) error {
	key, value, ok := strings.Cut(assignment, "=")
	if !ok || key == "" {
		return fmt.Errorf("--set %q: write key=value, e.g. --set tls.mode=appliance-ca", assignment)
	}
	v := reflect.ValueOf(c).Elem()
	parts := strings.Split(key, ".")
	for i, part := range parts {
		f, ok := fieldByTag(v, part)
		if !ok {
			at := strings.Join(parts[:i], ".")
			if at == "" {
				at = "the top level"
			}
			return fmt.Errorf("--set %s: unknown key %q (keys at %s: %s)", key, part, at, strings.Join(tags(v), ", "))
		}
		v = f
		// An optional section (a pointer) is made when a key inside it is set.
		if i < len(parts)-1 && v.Kind() == reflect.Pointer && v.Type().Elem().Kind() == reflect.Struct {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		if i < len(parts)-1 && v.Kind() != reflect.Struct {
			return fmt.Errorf("--set %s: %s is not a section", key, strings.Join(parts[:i+1], "."))
		}
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(value)
	case reflect.Bool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return fmt.Errorf("--set %s=%s: want true or false", key, value)
		}
		v.SetBool(b)
	case reflect.Int:
		n, err := strconv.Atoi(value)
		if err != nil {
			return fmt.Errorf("--set %s=%s: want a whole number", key, value)
		}
		v.SetInt(int64(n))
	case reflect.Slice:
		var items []string
		for _, it := range strings.Split(value, ",") {
			if it = strings.TrimSpace(it); it != "" {
				items = append(items, it)
			}
		}
		v.Set(reflect.ValueOf(items))
	case reflect.Struct:
		return fmt.Errorf("--set %s: is a section; set one of its keys: %s", key, strings.Join(tags(v), ", "))
	default:
		return fmt.Errorf("--set %s: this key cannot be set from the command line", key)
	}
	return nil
}

// SetAll applies overrides in order and reports every bad one at once.
func (c *Config) SetAll(assignments []string) error {
	var errs []string
	for _, a := range assignments {
		if err := c.Set(a); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("applying --set overrides:\n  - %s", strings.Join(errs, "\n  - "))
	}
	return nil
}

func fieldByTag(v reflect.Value, name string) (reflect.Value, bool) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("json"), ",")[0]
		if tag == name {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

func tags(v reflect.Value) []string {
	t := v.Type()
	var out []string
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("json"), ",")[0]
		if tag != "" && tag != "apiVersion" && tag != "kind" {
			out = append(out, tag)
		}
	}
	sort.Strings(out)
	return out
}

// Resolve applies overrides then defaults: the config a run works with.
func (c *Config) Resolve(sets []string) error {
	if err := c.SetAll(sets); err != nil {
		return err
	}
	// Paths a --set gave are relative to where the command runs.
	if wd, err := os.Getwd(); err == nil {
		c.Branding.absolutePaths(wd)
	}
	c.ApplyDefaults()
	return nil
}
