package history

import (
	"strings"
	"testing"
)

func TestMarkdownShowsMarks(t *testing.T) {
	l := sampleList(t)
	md := l.Markdown()
	for _, want := range []string{
		"> *[0] System:*\n> 你是一个乐于助人的助手。\n",
		"**[1] User** 📌\n\n自然数1的后面是几?\n",
		"**[3] User (Ariel)**\n\n再往后是几?\n",
		"**[4] Assistant** (cut short)\n\n3, and then\n",
		"**[5] User** (forged)\n",
		"**[6] Assistant** 📌 (forged)\n",
		"> *[7] System (summary):*\n> " + SummaryPrefix + "counting\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
	s := l.String()
	for _, want := range []string{"[0] System: 你是", "[4] Assistant (cut short): 3, and then", "[6] Assistant 📌 (forged): 1+1=10"} {
		if !strings.Contains(s, want) {
			t.Errorf("String lacks %q:\n%s", want, s)
		}
	}
	var empty List
	if !strings.Contains(empty.Markdown(), "empty") || !strings.Contains(empty.String(), "empty") {
		t.Error("an empty history renders as nothing")
	}
}
