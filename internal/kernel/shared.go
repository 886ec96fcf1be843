package kernel

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"sort"
	"sync"
)

// Sentinel errors cross by name: each side registers its own variable under the same name (the
// generated code does it for the packages' exported errors), so that errors.Is keeps working on
// the cell's side.
var (
	sentinelMu sync.Mutex
	sentinels  = map[string]error{}
)

// Sentinel registers err under name.
func Sentinel(name string, err error) {
	sentinelMu.Lock()
	sentinels[name] = err
	sentinelMu.Unlock()
}

// SentinelByName returns the error registered under name.
func SentinelByName(name string) (error, bool) {
	sentinelMu.Lock()
	defer sentinelMu.Unlock()
	e, ok := sentinels[name]
	return e, ok
}

// SentinelNames returns the names of the registered sentinels err matches.
func SentinelNames(err error) []string {
	sentinelMu.Lock()
	defer sentinelMu.Unlock()
	var names []string
	for n, s := range sentinels {
		if errors.Is(err, s) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

func init() {
	Sentinel("fs.ErrNotExist", fs.ErrNotExist)
	Sentinel("fs.ErrExist", fs.ErrExist)
	Sentinel("fs.ErrPermission", fs.ErrPermission)
	Sentinel("context.Canceled", context.Canceled)
	Sentinel("context.DeadlineExceeded", context.DeadlineExceeded)
	Sentinel("io.EOF", io.EOF)
	Sentinel("io.ErrUnexpectedEOF", io.ErrUnexpectedEOF)
}

// Backends cross by name: package chatcell/completions registers its Backend, chatcell its
// ResponsesBackend.
var (
	backendMu sync.Mutex
	backends  = map[any]string{}
)

// RegisterBackend names a backend value (a comparable, field-less type).
func RegisterBackend(name string, b any) {
	backendMu.Lock()
	backends[b] = name
	backendMu.Unlock()
}

// BackendName returns the name b was registered under ("" if none).
func BackendName(b any) string {
	backendMu.Lock()
	defer backendMu.Unlock()
	defer func() { recover() }() // an uncomparable backend is not registered
	return backends[b]
}

// PoolSpec, set by package keypool, describes a *keypool.Pool for the helper (ok is false for
// anything else).
var PoolSpec func(p any) (PoolData, bool)

// StrategySpec, set by package history, describes one of its trimming strategies.
var StrategySpec func(s any) (StrategyData, bool)
