package webchat

import (
	"errors"
	"os"
	"strings"
	"unicode"

	"github.com/gonbchat/gonbchat/internal/lang"
)

// EnvLanguage names the environment variable that sets the page's default language ("zh-TW",
// "zh-CN" or "en"), the same variable that sets the language of gonbchat's notebook lines.
const EnvLanguage = lang.Env

// WithLanguage sets the language of the page's own words: the buttons (Send, Stop, Retry, Undo,
// Clear), the text box's placeholder, the lines under the bot's bubbles ("cut short"…) and the
// lines that refuse a request. "zh-TW" (also zh-Hant, zh-HK), "zh-CN" (also zh, zh-Hans) or
// "en". The default is $GONBCHAT_LANG, else English. The persona's own words are never
// translated.
func WithLanguage(lang string) Option { return func(c *config) { c.lang = lang } }

// resolveLanguage is the page's language: the option's, else $GONBCHAT_LANG's (ignored when it
// is not one the page speaks), else English.
func resolveLanguage(opt string) (string, error) {
	if opt != "" {
		l, ok := lang.Parse(opt)
		if !ok {
			return "", errors.New("webchat: WithLanguage(\"" + opt + "\"): use zh-TW, zh-CN or en")
		}
		return l, nil
	}
	if l, ok := lang.Parse(os.Getenv(EnvLanguage)); ok {
		return l, nil
	}
	return "en", nil
}

// htmlLang is the lang attribute of the page: the language of the persona's words (its title,
// greeting and examples), which the page shows most. A Chinese persona on an English page is
// "zh"; the page's own words carry their language on the footer (see pageData.UILang).
func (s *Server) htmlLang() string {
	for _, r := range s.p.Title + s.p.Description + s.p.Character {
		if unicode.Is(unicode.Han, r) {
			if strings.HasPrefix(s.lang, "zh") {
				return s.lang
			}
			return "zh"
		}
	}
	return s.lang
}

// uiText is every word the page says itself, in one language.
type uiText struct {
	// The page.
	MessageLabel, Placeholder string
	Send, SendLabel           string
	Stop, StopLabel           string
	Retry, RetryLabel         string
	Undo, UndoLabel           string
	Clear, ClearLabel         string
	Examples, NoScript        string

	// Lines under a bot bubble.
	NoReply, CutShort, Stopped, StoppedBefore, TooLong, ConnEnded, ServerStopped, EmptyReply string

	// Refusals (JSON {"error": line}).
	NotJSON, Gone, Stale, MessageTooLong, Unreadable, EmptyMessage, MessageRunes      string
	Busy, NoQuestion, RateLimited, ServerBusy, NothingToUndo, LogFailed, SharedByLink string

	// Lines of the page's script.
	Unreachable, Lost, ErrorStatus string
}

// script returns the lines the page's script says, for the page's gonbchat-text meta tag.
func (t *uiText) script() map[string]string {
	return map[string]string{
		"noQuestion": t.NoQuestion, "unreachable": t.Unreachable, "lost": t.Lost, "errorStatus": t.ErrorStatus,
	}
}

var uiTexts = map[string]*uiText{
	"en": {
		MessageLabel: "Your message",
		Placeholder:  "Type a message. Enter sends, Shift+Enter starts a new line.",
		Send:         "Send", SendLabel: "Send the message",
		Stop: "Stop", StopLabel: "Stop the reply",
		Retry: "Retry", RetryLabel: "Ask the last question again",
		Undo: "Undo", UndoLabel: "Remove the last question and its reply",
		Clear: "Clear", ClearLabel: "Clear the conversation",
		Examples: "Example prompts",
		NoScript: "This chat needs JavaScript.",

		NoReply:       "No reply.",
		CutShort:      "Cut short.",
		Stopped:       "Cut short: stopped.",
		StoppedBefore: "Stopped before the reply began.",
		TooLong:       "Cut short: the reply reached the limit of %d characters.",
		ConnEnded:     "Cut short: the connection ended.",
		ServerStopped: "Cut short: the page was stopped.",
		EmptyReply:    "The model sent an empty reply.",

		NotJSON:        "Send JSON (Content-Type: application/json).",
		Gone:           "This conversation is no longer on the server (it was restarted or cleaned up). Reload the page to start again.",
		Stale:          "This page is out of date or the request came from elsewhere: reload the page.",
		MessageTooLong: "The message is too long: the limit is %d characters.",
		Unreadable:     "The message could not be read (want {\"text\": \"…\"}).",
		EmptyMessage:   "The message is empty.",
		MessageRunes:   "The message is %d characters long; the limit is %d.",
		Busy:           "A reply is still coming: wait for it, or press Stop.",
		NoQuestion:     "There is no question to ask again yet.",
		RateLimited:    "Too many messages: at most %d a minute. Try again in %d s.",
		ServerBusy:     "The server is busy with other replies; try again in a moment.",
		NothingToUndo:  "There is nothing to undo.",
		LogFailed:      "The conversation could not be shown.",
		SharedByLink:   "This chat is shared by link: open the link with its token (ask whoever shared it).",

		Unreachable: "The server cannot be reached; is it still running?",
		Lost:        "The connection ended before the reply did.",
		ErrorStatus: "Error %d.",
	},
	"zh-TW": {
		MessageLabel: "你的訊息",
		Placeholder:  "輸入訊息。Enter 送出，Shift+Enter 換行。",
		Send:         "送出", SendLabel: "送出訊息",
		Stop: "停止", StopLabel: "停止回覆",
		Retry: "重試", RetryLabel: "再問一次上一個問題",
		Undo: "復原", UndoLabel: "移除上一個問題和它的回覆",
		Clear: "清除", ClearLabel: "清除對話，從頭開始",
		Examples: "範例問題",
		NoScript: "這個聊天網頁需要 JavaScript。",

		NoReply:       "沒有回覆。",
		CutShort:      "回覆不完整。",
		Stopped:       "已停止，回覆不完整。",
		StoppedBefore: "回覆開始前就停止了。",
		TooLong:       "回覆已截斷：達到 %d 字的上限。",
		ConnEnded:     "回覆不完整：連線中斷了。",
		ServerStopped: "回覆不完整：網頁停止了。",
		EmptyReply:    "模型傳回了空白的回覆。",

		NotJSON:        "請用 JSON 傳送（Content-Type: application/json）。",
		Gone:           "伺服器上已經沒有這段對話了（伺服器重新啟動過，或已清理）。請重新整理網頁，從頭開始。",
		Stale:          "這個網頁已經過期，或請求來自別的網站：請重新整理網頁。",
		MessageTooLong: "訊息太長了：上限是 %d 個字。",
		Unreadable:     "讀不懂這則訊息（應該是 {\"text\": \"…\"}）。",
		EmptyMessage:   "訊息是空的。",
		MessageRunes:   "訊息有 %d 個字，上限是 %d 個字。",
		Busy:           "回覆還在產生中：請稍候，或按「停止」。",
		NoQuestion:     "還沒有可以重問的問題。",
		RateLimited:    "訊息太多了：每分鐘最多 %d 則。請 %d 秒後再試。",
		ServerBusy:     "伺服器正忙著回覆其他人，請稍後再試。",
		NothingToUndo:  "沒有可以復原的內容。",
		LogFailed:      "無法顯示這段對話。",
		SharedByLink:   "這個聊天網頁要用分享連結開啟：請用含有 token 的連結（向分享的人要）。",

		Unreachable: "連不上伺服器；它還在執行嗎？",
		Lost:        "回覆還沒結束，連線就中斷了。",
		ErrorStatus: "錯誤 %d。",
	},
	"zh-CN": {
		MessageLabel: "你的消息",
		Placeholder:  "输入消息。Enter 发送，Shift+Enter 换行。",
		Send:         "发送", SendLabel: "发送消息",
		Stop: "停止", StopLabel: "停止回复",
		Retry: "重试", RetryLabel: "再问一次上一个问题",
		Undo: "撤销", UndoLabel: "移除上一个问题及其回复",
		Clear: "清空", ClearLabel: "清空对话，从头开始",
		Examples: "示例问题",
		NoScript: "这个聊天网页需要 JavaScript。",

		NoReply:       "没有回复。",
		CutShort:      "回复不完整。",
		Stopped:       "已停止，回复不完整。",
		StoppedBefore: "回复开始前就停止了。",
		TooLong:       "回复已截断：达到 %d 字的上限。",
		ConnEnded:     "回复不完整：连接中断了。",
		ServerStopped: "回复不完整：网页停止了。",
		EmptyReply:    "模型返回了空的回复。",

		NotJSON:        "请用 JSON 发送（Content-Type: application/json）。",
		Gone:           "服务器上已经没有这段对话了（服务器重启过，或已清理）。请刷新网页，从头开始。",
		Stale:          "这个网页已经过期，或请求来自别的网站：请刷新网页。",
		MessageTooLong: "消息太长了：上限是 %d 个字。",
		Unreadable:     "读不懂这条消息（应该是 {\"text\": \"…\"}）。",
		EmptyMessage:   "消息是空的。",
		MessageRunes:   "消息有 %d 个字，上限是 %d 个字。",
		Busy:           "回复还在生成中：请稍候，或按“停止”。",
		NoQuestion:     "还没有可以重问的问题。",
		RateLimited:    "消息太多了：每分钟最多 %d 条。请 %d 秒后再试。",
		ServerBusy:     "服务器正忙着回复其他人，请稍后再试。",
		NothingToUndo:  "没有可以撤销的内容。",
		LogFailed:      "无法显示这段对话。",
		SharedByLink:   "这个聊天网页要用分享链接打开：请用带 token 的链接（向分享的人要）。",

		Unreachable: "连不上服务器；它还在运行吗？",
		Lost:        "回复还没结束，连接就断了。",
		ErrorStatus: "错误 %d。",
	},
}
