//go:build !unix

package persona

import "os"

func openNonBlocking(path string) (*os.File, error) { return os.Open(path) }
