package openaitest

// Exported for tests of package openaitest_test.
var ChatParams = chatParams
