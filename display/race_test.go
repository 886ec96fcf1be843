//go:build race && !gonbchat_kernel

package display

// raceEnabled skips the long deterministic budget checks under -race: they test numbers, not
// concurrency, and the race detector makes them slow.
const raceEnabled = true
