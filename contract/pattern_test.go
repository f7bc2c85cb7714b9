package contract

import (
	"regexp"
	"testing"
)

// FuzzCustomEntityPattern holds the hand-written matcher to the API model's
// regular expression.
func FuzzCustomEntityPattern(f *testing.F) {
	re := regexp.MustCompile(CustomEntityPattern)
	for _, s := range []string{"", " ", "a", "a ", " a", "billing-system", "billing system/v2@eu:1.0", "a+b", "ü", "a\n", "._-@:/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := matchesCustomEntity(s), re.MatchString(s); got != want {
			t.Fatalf("%q: matcher says %v, pattern says %v", s, got, want)
		}
	})
}
