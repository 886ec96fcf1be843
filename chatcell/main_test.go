package chatcell

import (
	"os"
	"testing"
)

// userEnvironment lists the variables of a user's shell that change what chatcell does or shows:
// keys and base URLs, a class gateway, record and replay, the language, whether a cell may ask,
// the display mode, GoNB's directory. The tests set what each one needs (t.Setenv); what the
// shell running them holds must not change their outcome (GONBCHAT_LANG=zh-TW failed the
// examples, the fault suite and the option matrix).
func userEnvironment() []string {
	vars := []string{"OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID",
		EnvGateway, EnvGatewayToken, "JUPYTERHUB_API_TOKEN", EnvRecord, EnvReplay,
		EnvLanguage, EnvInteractive, "GONBCHAT_DISPLAY", "GONB_TMP_DIR"}
	for _, p := range Providers {
		vars = append(vars, p.KeyEnv)
	}
	return vars
}

// clearedMark is set once the variables are cleared: a test that runs this binary again as a
// child process (with os.Environ() and its own settings) passes it on, and the child keeps the
// environment its parent gave it.
const clearedMark = "CHATCELL_TEST_ENV_CLEARED"

func TestMain(m *testing.M) {
	if os.Getenv(clearedMark) == "" {
		for _, v := range userEnvironment() {
			os.Unsetenv(v)
		}
		os.Setenv(clearedMark, "1")
	}
	os.Exit(m.Run())
}
