//go:build !gonbchat_kernel && unix

package helper

// calls maps a call's name to its implementation: the generated table (zz_calls.go) and the
// hand-written entries (manual.go).
var calls = map[string]func(x *call) ([]any, error){}

func register(table map[string]func(x *call) ([]any, error)) {
	for k, v := range table {
		calls[k] = v
	}
}
