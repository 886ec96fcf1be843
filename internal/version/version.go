// Package version names this gonbchat, for the provenance a reply's output metadata records.
package version

import "runtime/debug"

// Release is the version of this source tree.
const Release = "0.3.0"

// String is the module's version when it was built from a tagged module, else Release with
// "+dev" (a clone used through a replace directive, as the notebooks do).
func String() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/gonbchat/gonbchat" && d.Version != "" && d.Version != "(devel)" && d.Version != "v0.0.0" {
				return d.Version
			}
		}
	}
	return Release + "+dev"
}
