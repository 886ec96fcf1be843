//go:build !race && !gonbchat_kernel

package display

const raceEnabled = false
