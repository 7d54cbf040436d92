package plugin

import (
	"unicode"

	"golang.org/x/text/width"
)

// cells is how many terminal cells s takes: East Asian wide and fullwidth
// characters (the DWS step names are Chinese) take two, combining marks none.
func cells(s string) int {
	n := 0
	for _, c := range s {
		n += runeCells(c)
	}
	return n
}

func runeCells(c rune) int {
	if unicode.Is(unicode.Mn, c) || unicode.Is(unicode.Me, c) || c == '\u200b' {
		return 0
	}
	switch width.LookupRune(c).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return 2
	}
	return 1
}
