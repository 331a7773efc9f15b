package render

import (
	"fmt"
	"strconv"
	"strings"
)

// The part of Docs v5.4.1's theme customization the appliance writes, in
// the shape its frontend reads (ThemeCustomization in
// src/frontend/apps/impress/src/core/config/api/useConfig.tsx; HeaderType
// in features/left-panel/types.ts; next/image props for the images). The
// whole shape is testdata/docs-theme-v5.4.1.schema.json.
type docsTheme struct {
	Favicon      *themeFavicon                           `json:"favicon,omitempty"`
	Header       *themeHeader                            `json:"header,omitempty"`
	Home         *themeHome                              `json:"home,omitempty"`
	Onboarding   *themeOnboarding                        `json:"onboarding,omitempty"`
	Translations map[string]map[string]map[string]string `json:"translations,omitempty"`
}

// themeFavicon: ConfigProvider.tsx spreads each into a <link rel="icon">.
type themeFavicon struct {
	Light themeLink `json:"light"`
	Dark  themeLink `json:"dark"`
}

type themeLink struct {
	Href string `json:"href"`
	Type string `json:"type"`
}

// themeHeader: HomeHeader.tsx and LeftPanelHeader.tsx show icon (and the
// product name beside it with withTitle).
type themeHeader struct {
	Icon *themeImage `json:"icon,omitempty"`
}

// themeHome: HomeBanner.tsx shows icon-banner; with-proconnect switches
// the ProConnect button.
type themeHome struct {
	WithProConnect bool        `json:"with-proconnect"`
	IconBanner     *themeImage `json:"icon-banner,omitempty"`
}

type themeOnboarding struct {
	Enabled bool `json:"enabled"`
}

// themeImage is spread into next/image: src, alt, width and height are
// its props, style its inline style.
type themeImage struct {
	Src       string            `json:"src"`
	Alt       string            `json:"alt"`
	Width     int               `json:"width"`
	Height    int               `json:"height"`
	Style     map[string]string `json:"style,omitempty"`
	WithTitle bool              `json:"withTitle,omitempty"`
}

// brandSteps are the steps of Cunningham's brand palette in Docs v5.4.1
// (--c--globals--colors--brand-050 to -950 in
// src/frontend/apps/impress/src/cunningham/cunningham-tokens.css), and how
// far each is from the primary colour, which is step 550 (the semantic
// brand primary background): towards white above, black below.
var brandSteps = []struct {
	step int
	mix  float64
}{
	{50, .92}, {100, .85}, {150, .77}, {200, .69}, {250, .60}, {300, .50}, {350, .40}, {400, .30}, {450, .20}, {500, .10},
	{550, 0}, {600, -.10}, {650, -.20}, {700, -.30}, {750, -.40}, {800, -.50}, {850, -.60}, {900, -.70}, {950, -.80},
}

// docsPaletteCSS overrides the brand palette and the logo colours (the
// product name's) of Docs' default light theme. html:root outranks the
// bundle's own :root, whichever stylesheet loads last.
func docsPaletteCSS(primary string) string {
	var b strings.Builder
	b.WriteString("/* Rendered by docs-appliance from branding.primaryColor. */\nhtml:root {\n")
	for _, s := range brandSteps {
		fmt.Fprintf(&b, "  --c--globals--colors--brand-%03d: %s;\n", s.step, mixColor(primary, s.mix))
	}
	for _, v := range []string{"logo-1-light", "logo-2-light"} {
		fmt.Fprintf(&b, "  --c--globals--colors--%s: %s;\n", v, primary)
	}
	b.WriteString("}\n")
	return b.String()
}

// mixColor mixes a #rrggbb colour with white (f > 0) or black (f < 0).
func mixColor(hex string, f float64) string {
	target := 255.0
	if f < 0 {
		target, f = 0, -f
	}
	out := "#"
	for i := 1; i < 7; i += 2 {
		c, _ := strconv.ParseUint(hex[i:i+2], 16, 8)
		v := float64(c) + (target-float64(c))*f
		out += fmt.Sprintf("%02x", int(v+0.5))
	}
	return out
}
