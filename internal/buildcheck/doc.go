// Package buildcheck holds tests about the module as a whole: that it builds for the systems
// students use (Windows and macOS as well as Linux), and that the package every notebook cell
// links does not pull in test doubles.
package buildcheck
