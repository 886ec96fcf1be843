// Package registry lets a package that chatcell cannot import (chatcell/completions imports
// chatcell) make itself known to chatcell when a program links it.
package registry

// Completions is the Chat Completions backend (a chatcell.Backend), set by package
// chatcell/completions when it is linked; nil otherwise.
var Completions any
