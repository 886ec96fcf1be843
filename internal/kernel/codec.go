package kernel

import (
	"encoding/json"
	"errors"
)

// Args encodes the arguments of a call. A value JSON cannot encode (a function, a channel…) is
// an error naming the call.
func Args(call string, vals ...any) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, len(vals))
	for i, v := range vals {
		switch v := v.(type) {
		case json.RawMessage:
			out[i] = v
			continue
		case ArgError:
			return nil, v
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, errors.New(call + ": this argument cannot reach the kernel's gonbchat helper: " + err.Error())
		}
		out[i] = b
	}
	return out, nil
}

// Res decodes result i into v (a missing or null result leaves v as it is).
func Res(res []json.RawMessage, i int, v any) {
	if i < len(res) && len(res[i]) > 0 {
		json.Unmarshal(res[i], v)
	}
}

// Opt encodes an option: the name of its constructor and its arguments.
func Opt(name string, args ...any) OptData {
	raw, err := Args(name, args...)
	if err != nil {
		return OptData{Name: name, Err: err.Error()}
	}
	return OptData{Name: name, Args: raw}
}

// OptErr is an option that cannot cross: using it is an error with this text.
func OptErr(name, why string) OptData { return OptData{Name: name, Err: why} }

// ArgError is an argument that cannot cross: Args fails with it.
type ArgError struct{ Msg string }

func (e ArgError) Error() string { return e.Msg }
