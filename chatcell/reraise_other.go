//go:build !unix

package chatcell

import "os"

// reraise ends the process as an interrupted program does (exit status 130), once state has
// been saved.
func reraise() { os.Exit(130) }
