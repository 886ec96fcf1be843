// Package buildcheck holds tests about the module as a whole: that it builds for the systems
// students use (Windows and macOS as well as Linux, in-process and in kernel mode), that what
// a notebook cell links in either mode pulls in no test double, and that every package's
// documentation is there and links only to names that exist.
package buildcheck
