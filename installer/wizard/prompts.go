package wizard

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/AlecAivazis/survey/v2"
	"github.com/AlecAivazis/survey/v2/terminal"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/config"
)

func (w *Wizard) opts(validate func(string) error) []survey.AskOpt {
	o := []survey.AskOpt{survey.WithStdio(w.In, w.Out, w.Err)}
	if validate != nil {
		o = append(o, survey.WithValidator(func(ans any) error {
			s, _ := ans.(string)
			if opt, ok := ans.(survey.OptionAnswer); ok {
				s = opt.Value
			}
			return validate(strings.TrimSpace(s))
		}))
	}
	return o
}

func asked(what string, err error) error {
	if errors.Is(err, terminal.InterruptErr) {
		return ErrInterrupted
	}
	return fmt.Errorf("asking %q: %w", what, err)
}

// input asks one line; validate's error is shown and the question asked again.
func (w *Wizard) input(dst *string, msg, def, help string, validate func(string) error) error {
	var ans string
	if err := survey.AskOne(&survey.Input{Message: msg, Default: def, Help: help}, &ans, w.opts(validate)...); err != nil {
		return asked(msg, err)
	}
	*dst = strings.TrimSpace(ans)
	return nil
}

func (w *Wizard) confirm(dst *bool, msg string, def bool, help string) error {
	if err := survey.AskOne(&survey.Confirm{Message: msg, Default: def, Help: help}, dst, w.opts(nil)...); err != nil {
		return asked(msg, err)
	}
	return nil
}

func (w *Wizard) selectOne(dst *string, msg string, options []string, def string, desc map[string]string, help string) error {
	p := &survey.Select{Message: msg, Options: options, Help: help}
	for _, o := range options {
		if o == def {
			p.Default = def
		}
	}
	if desc != nil {
		p.Description = func(v string, _ int) string { return desc[v] }
	}
	if err := survey.AskOne(p, dst, w.opts(nil)...); err != nil {
		return asked(msg, err)
	}
	return nil
}

func (w *Wizard) lookup(name string) (string, bool) {
	if v, ok := w.given[name]; ok {
		return v, true
	}
	if w.Stored != nil {
		return w.Stored(name)
	}
	return "", false
}

// secret asks a secret masked; Enter keeps the one stored or typed before.
func (w *Wizard) secret(name, msg, help string) (string, error) {
	old, have := w.lookup(name)
	if have {
		msg += " (Enter keeps the one given before)"
	}
	var ans string
	err := survey.AskOne(&survey.Password{Message: msg, Help: help}, &ans, w.opts(func(s string) error {
		if s == "" && !have {
			return fmt.Errorf("needed")
		}
		return nil
	})...)
	if err != nil {
		return "", asked(msg, err)
	}
	if ans == "" {
		ans = old
	}
	w.given[name] = ans
	return ans, nil
}

// secretVisible asks a credential that is stored as a secret but is not
// itself secret (an access key ID): shown while typed, to catch typos.
func (w *Wizard) secretVisible(name, msg, help string) (string, error) {
	old, _ := w.lookup(name)
	var ans string
	if err := w.input(&ans, msg, old, help, nonEmpty); err != nil {
		return "", err
	}
	w.given[name] = ans
	return ans, nil
}

func (w *Wizard) say(line string) { fmt.Fprintln(w.Out, line) }

func (w *Wizard) ok(format string, args ...any) {
	fmt.Fprintf(w.Out, "  ✓ "+format+"\n", args...)
}

func (w *Wizard) warn(msg string) { fmt.Fprintf(w.Out, "  ! %s\n", msg) }

// fail shows why an answer was refused; the question is asked again.
func (w *Wizard) fail(err error) {
	fmt.Fprintf(w.Out, "  ✗ %s\n  Please answer again.\n", err)
}

// fieldProblems validates c and keeps the problems of fields under prefix.
func fieldProblems(c *config.Config, prefix string) error {
	err := c.Validate(nil, nil)
	var ve *bundles.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	var lines []string
	for _, f := range ve.Fields {
		if strings.HasPrefix(f.Path, prefix) {
			lines = append(lines, f.Path+": "+f.Problem+" ("+f.Fix+")")
		}
	}
	if len(lines) == 0 {
		return nil
	}
	return errors.New(strings.Join(lines, "; "))
}

func splitList(s string) []string {
	var out []string
	for _, it := range strings.Split(s, ",") {
		if it = strings.TrimSpace(it); it != "" {
			out = append(out, it)
		}
	}
	return out
}

func nonEmpty(s string) error {
	if s == "" {
		return fmt.Errorf("an answer is needed")
	}
	return nil
}

func httpsURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not a URL; write it as https://host/...", raw)
	}
	if u.Scheme != "https" {
		return fmt.Errorf("%q does not use https", raw)
	}
	return nil
}

func fileExists(p string) error {
	info, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("cannot read %s: %v", p, err)
	}
	if info.IsDir() {
		return fmt.Errorf("%s is a folder, not a file", p)
	}
	return nil
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
