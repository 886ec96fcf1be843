//go:build !gonbchat_kernel

package chatcell

import (
	"fmt"
	"slices"

	"github.com/gonbchat/gonbchat/internal/lang"
)

// What gonbchat itself shows (usage lines, notices, errors) follows the lesson's language:
// WithLanguage per chat or call, else $GONBCHAT_LANG, else English. Every line lives here, in
// every language, so that the lessons read in one language from top to bottom.

// EnvLanguage names the environment variable that sets the default language ("zh-TW", "zh-CN"
// or "en").
const EnvLanguage = "GONBCHAT_LANG"

type msgID int

const (
	msgOffline msgID = iota
	msgEnvWhereNotebook
	msgEnvWhereTerminal
	msgTokens
	msgUsage
	msgChatSoFar
	msgIncomplete
	msgRolledBack
	msgRollbackN
	msgRollbackTooFar
	msgNoThread
	msgDeleted
	msgDeletedThen
	msgEmptyHistory
	msgLoopHint
	msgLoopNoInput
	msgLoopBatch
	msgLoopUnknown
	msgLoopOverride
	msgRetrying
	msgWhyRateLimited
	msgWhyServerError
	msgWhyConnLost
	msgWhyEmpty
	msgInterrupted
	msgCutOff
	msgNoHeaders
	msgNoFirstEvent
	msgStalledMid
	msgNotAStream
	msgNotJSON
	msgServerAnswered
	msgServerStopped
	msgTimedOut
	msgUnknownHost
	msgTLS
	msgCannotReach
	msgConnLost
	msgProxyUnreachable
	msgProxyRefused
	msgPlainHTTP
	msgEmptyID
	msgNoSuchFile
	msgCauseReset
	msgCauseRefused
	msgCauseClosed
	msgChatOnlyProvider
	msgNeedCompletions
	msgEventsResponsesOnly
	msgSavingState
	msgHintThreadGone
	msgHintChatCut
	msgHintHistCut
	msgHintSummaryFailed
	msgHintKeyOption
	msgHintKeyEnv
	msgNothingToSave
	msgIDFileHint
	msgIDFileEmpty
	msgIDFileBad
	msgRoleUser
	msgRoleAssistant
	msgRoleSystem
	msgRoleDeveloper
	msgMarkPinned
	msgMarkForged
	msgMarkSummary
	msgMarkCut
	msgEmptyStream
	msgWhatHTML
	msgWhatJSONDoc
	msgWhatText
	msgHintBaseURL
	msgCauseStalled
	msgPopped
	msgReseeded
	msgKeyInRequest
	msgKeyInMessage
	msgKeyEarlier
	msgKeyInInstr
	msgHintGatewayToken
	msgHintNoResponses
	msgCount
)

var catalog = map[string][msgCount]string{
	"en": {
		msgOffline:             `Offline: %s is not set, so replies come from the built-in "mirror" model, which shows what it received. For a real model set %[1]s (%s).`,
		msgEnvWhereNotebook:    "in the environment, or in a .env file next to the notebook",
		msgEnvWhereTerminal:    "in the environment, or in a .env file in the current directory",
		msgTokens:              "tokens: %s",
		msgUsage:               "input %d · output %d · total %d",
		msgChatSoFar:           "chat so far: %d turn%s in %d request%s, %s",
		msgIncomplete:          "reply incomplete: %s",
		msgRolledBack:          "rolled back:",
		msgRollbackN:           "rollback needs n >= 1, got %d",
		msgRollbackTooFar:      "cannot roll back %d turns: the thread has only %d",
		msgNoThread:            "the chat has no thread yet",
		msgDeleted:             "deleted %d responses; the chat starts a new thread",
		msgDeletedThen:         "%d responses were deleted before this one, %s; the chat now ends there",
		msgEmptyHistory:        "the history is empty",
		msgLoopHint:            "Press ↵ on an empty line to end the chat.",
		msgLoopNoInput:         "Loop: %s, so the loop ends here.",
		msgLoopBatch:           "this notebook runs without input boxes (nbconvert, papermill or a similar runner); open it in Jupyter to chat",
		msgLoopUnknown:         "nobody can answer an input box here (the kernel was not started by Jupyter Notebook or Lab, JupyterHub or VS Code; if a person can, set GONBCHAT_INTERACTIVE=1)",
		msgLoopOverride:        "input boxes are switched off (%s)",
		msgRetrying:            "%s, retrying in %s (%d/%d)…",
		msgWhyRateLimited:      "rate limited",
		msgWhyServerError:      "server error %d",
		msgWhyConnLost:         "connection lost",
		msgWhyEmpty:            "the server sent an empty answer",
		msgInterrupted:         "interrupted: the reply was cut short",
		msgCutOff:              "the reply was cut off after %d characters (%s)",
		msgNoHeaders:           "no response: the server did not answer within %s (is it down or overloaded? WithStartTimeout changes the wait)",
		msgNoFirstEvent:        "no response: the server accepted the request but sent nothing for %s (WithStartTimeout changes the wait)",
		msgStalledMid:          "the reply stalled: the server sent nothing for %s (WithStallTimeout changes the wait)",
		msgNotAStream:          "the server sent something that is not an OpenAI stream (%s): «%s»",
		msgNotJSON:             "a line that is not JSON",
		msgServerAnswered:      "the server answered %s%s",
		msgServerStopped:       "the server stopped the reply%s: %s",
		msgTimedOut:            "timed out",
		msgUnknownHost:         "cannot reach %s: unknown host (check the base URL and your network)",
		msgTLS:                 "cannot reach the server securely: %s",
		msgCannotReach:         "cannot reach %s: %s",
		msgConnLost:            "the connection was lost before the reply started (%s)",
		msgProxyUnreachable:    "cannot reach the proxy %s (set by HTTPS_PROXY or HTTP_PROXY): %s",
		msgProxyRefused:        "the proxy %s refused to connect to %s: «%s» (check HTTPS_PROXY, or whether the proxy lets this host through)",
		msgPlainHTTP:           "cannot talk to %s over HTTPS: it answers in plain HTTP (use http:// in the base URL)",
		msgEmptyID:             "%s: the response id is empty (a chat that has no response yet has no LastID: ask it something first)",
		msgNoSuchFile:          "%s: no such file",
		msgCauseReset:          "the connection was reset",
		msgCauseRefused:        "connection refused: is the server running?",
		msgCauseClosed:         "the connection closed early",
		msgChatOnlyProvider:    `%[1]s serves only Chat Completions, and a Chat keeps its thread on the server with the Responses API: use chatcell.NewHistList(chatcell.WithProvider(%[1]q)), which keeps the history itself`,
		msgNeedCompletions:     `%s serves only Chat Completions: import "github.com/gonbchat/gonbchat/chatcell/completions" (and pass chatcell.WithBackend(completions.Backend{}))`,
		msgEventsResponsesOnly: "ShowEvents shows the Responses API's events; this provider or backend has only Chat Completions",
		msgSavingState:         "saving the chat's state",
		msgHintThreadGone:      "the thread cannot go on (was the last reply sent with store=false, or deleted?); chat.Reset() starts a new one",
		msgHintChatCut:         "the part shown is not in the thread, since the server did not finish the response; ask again",
		msgHintHistCut:         "what arrived is kept in the history, marked as cut short",
		msgHintSummaryFailed:   "the reply is kept, but summarising the history failed",
		msgHintKeyOption:       "check the key given with WithAPIKey",
		msgHintKeyEnv:          "check the key in %s",
		msgNothingToSave:       "nothing to save to %s: the chat has no response yet",
		msgIDFileHint:          "a file saved by chat.Save holds one response id",
		msgIDFileEmpty:         "cannot load %s: the file is empty, it holds no response id",
		msgIDFileBad:           "cannot load %s: it does not hold a response id (expected one line like resp_…)",
		msgRoleUser:            "User",
		msgRoleAssistant:       "Assistant",
		msgRoleSystem:          "System",
		msgRoleDeveloper:       "Developer",
		msgMarkPinned:          "📌 pinned",
		msgMarkForged:          "forged",
		msgMarkSummary:         "summary",
		msgMarkCut:             "cut short",
		msgEmptyStream:         "the server ended its answer before the reply started (an empty stream)",
		msgWhatHTML:            "an HTML page",
		msgWhatJSONDoc:         "a JSON document instead of an event stream: does the server support stream=true?",
		msgWhatText:            "text instead of an event stream",
		msgHintBaseURL:         "check the base URL, or whether a network login page is in the way",
		msgCauseStalled:        "the server went silent for %s; WithStallTimeout changes the wait",
		msgPopped:              "removed:",
		msgKeyInRequest:        "this request contains one of your API keys (%s): nothing was sent. Remove the key from the text; a key belongs in OPENAI_API_KEY or .env, never in a message",
		msgKeyInMessage:        "in the message",
		msgKeyEarlier:          "in an earlier message of the conversation: Rollback removes it",
		msgKeyInInstr:          "in the instructions or system message",
		msgHintGatewayToken:    "the class gateway did not accept this notebook's token (%s): ask your teacher",
		msgHintNoResponses:     "this server may have no Responses API: for Chat Completions use NewHistList(WithBackend(completions.Backend{}))",
		msgReseeded:            "the server no longer has response %s (expired or deleted): this chat sent its own copy of the thread (%d turns) again, and goes on",
	},
	"zh-TW": {
		msgReseeded:            "伺服器已沒有回應 %s（過期或已刪除）：這個對話重新送出了自己保存的對話串（%d 輪），繼續進行",
		msgOffline:             `離線：未設定 %s，所以回覆來自內建的「鏡子」（mirror）模型，它會顯示它收到的內容。要用真的模型，請設定 %[1]s（%s）。`,
		msgEnvWhereNotebook:    "在環境變數中，或放在筆記本旁的 .env 檔",
		msgEnvWhereTerminal:    "在環境變數中，或放在目前目錄的 .env 檔",
		msgTokens:              "tokens：%s",
		msgUsage:               "輸入 %d · 輸出 %d · 合計 %d",
		msgChatSoFar:           "到目前為止：%d 輪對話%s、%d 次請求%s，%s",
		msgIncomplete:          "回覆不完整：%s",
		msgRolledBack:          "已撤回：",
		msgRollbackN:           "撤回需要 n >= 1，收到 %d",
		msgRollbackTooFar:      "無法撤回 %d 輪：這個對話串只有 %d 輪",
		msgNoThread:            "這個對話還沒有對話串",
		msgDeleted:             "已刪除 %d 個回應；對話重新開始",
		msgDeletedThen:         "在這之前已刪除 %d 個回應，%s；對話現在停在那裡",
		msgEmptyHistory:        "歷史紀錄是空的",
		msgLoopHint:            "直接按 ↵ 可結束對話。",
		msgLoopNoInput:         "Loop：%s，所以對話迴圈到此結束。",
		msgLoopBatch:           "這本筆記本是在沒有輸入框的情況下執行的（nbconvert、papermill 或類似工具）；請在 Jupyter 中開啟它來對話",
		msgLoopUnknown:         "這裡沒有人能回答輸入框（核心不是由 Jupyter Notebook／Lab、JupyterHub 或 VS Code 啟動的；若有人能回答，請設定 GONBCHAT_INTERACTIVE=1）",
		msgLoopOverride:        "輸入框已關閉（%s）",
		msgRetrying:            "%s，%s 後重試（%d/%d）…",
		msgWhyRateLimited:      "請求太頻繁（rate limit）",
		msgWhyServerError:      "伺服器錯誤 %d",
		msgWhyConnLost:         "連線中斷",
		msgWhyEmpty:            "伺服器送來空的回覆",
		msgInterrupted:         "已中斷：回覆被截斷",
		msgCutOff:              "回覆在 %d 個字元後被切斷（%s）",
		msgNoHeaders:           "沒有回應：伺服器在 %s 內沒有回答（是否停機或過載？WithStartTimeout 可調整等待時間）",
		msgNoFirstEvent:        "沒有回應：伺服器接受了請求，但 %s 內沒有送出任何內容（WithStartTimeout 可調整等待時間）",
		msgStalledMid:          "回覆停住了：伺服器 %s 內沒有送出任何內容（WithStallTimeout 可調整等待時間）",
		msgNotAStream:          "伺服器送來的不是 OpenAI 串流（%s）：«%s»",
		msgNotJSON:             "一行不是 JSON 的內容",
		msgServerAnswered:      "伺服器回答 %s%s",
		msgServerStopped:       "伺服器中止了回覆%s：%s",
		msgTimedOut:            "逾時",
		msgUnknownHost:         "無法連到 %s：找不到主機（請檢查 base URL 與網路）",
		msgTLS:                 "無法安全地連到伺服器：%s",
		msgCannotReach:         "無法連到 %s：%s",
		msgConnLost:            "回覆開始前連線就中斷了（%s）",
		msgProxyUnreachable:    "無法連到代理伺服器 %s（由 HTTPS_PROXY 或 HTTP_PROXY 設定）：%s",
		msgProxyRefused:        "代理伺服器 %s 拒絕連到 %s：«%s»（請檢查 HTTPS_PROXY，或代理是否允許這個主機）",
		msgPlainHTTP:           "無法用 HTTPS 與 %s 通訊：它用的是一般 HTTP（base URL 請用 http://）",
		msgEmptyID:             "%s：回應 id 是空的（還沒有回應的對話沒有 LastID：請先問它一個問題）",
		msgNoSuchFile:          "%s：沒有這個檔案",
		msgCauseReset:          "連線被重設",
		msgCauseRefused:        "連線被拒：伺服器有在執行嗎？",
		msgCauseClosed:         "連線提早關閉",
		msgChatOnlyProvider:    `%[1]s 只提供 Chat Completions，而 Chat 用 Responses API 把對話串存在伺服器上：請改用 chatcell.NewHistList(chatcell.WithProvider(%[1]q))，由它自己保存歷史`,
		msgNeedCompletions:     `%s 只提供 Chat Completions：請 import "github.com/gonbchat/gonbchat/chatcell/completions"（並傳入 chatcell.WithBackend(completions.Backend{})）`,
		msgEventsResponsesOnly: "ShowEvents 顯示的是 Responses API 的事件；這個供應商或後端只有 Chat Completions",
		msgSavingState:         "儲存對話狀態時",
		msgHintThreadGone:      "對話串無法延續（上一則回覆是用 store=false 送出的，或已被刪除？）；chat.Reset() 可開始新的對話串",
		msgHintChatCut:         "顯示出來的部分不在對話串中，因為伺服器沒有完成這個回應；請再問一次",
		msgHintHistCut:         "收到的部分已保存在歷史中，並標記為「被截斷」",
		msgHintSummaryFailed:   "回覆已保存，但摘要歷史時失敗",
		msgHintKeyOption:       "請檢查 WithAPIKey 給的金鑰",
		msgHintKeyEnv:          "請檢查 %s 中的金鑰",
		msgNothingToSave:       "沒有東西可以存到 %s：這個對話還沒有回應",
		msgIDFileHint:          "chat.Save 存的檔案只有一個回應 id",
		msgIDFileEmpty:         "無法載入 %s：檔案是空的，沒有回應 id",
		msgIDFileBad:           "無法載入 %s：裡面不是回應 id（應該是一行 resp_…）",
		msgRoleUser:            "使用者",
		msgRoleAssistant:       "助理",
		msgRoleSystem:          "系統",
		msgRoleDeveloper:       "開發者",
		msgMarkPinned:          "📌 已釘選",
		msgMarkForged:          "偽造",
		msgMarkSummary:         "摘要",
		msgMarkCut:             "被截斷",
		msgEmptyStream:         "伺服器在回覆開始前就結束了（空的串流）",
		msgWhatHTML:            "一個 HTML 網頁",
		msgWhatJSONDoc:         "一份 JSON 文件而不是事件串流：伺服器支援 stream=true 嗎？",
		msgWhatText:            "一段文字而不是事件串流",
		msgHintBaseURL:         "請檢查 base URL，或是否有網路登入頁面擋住",
		msgCauseStalled:        "伺服器 %s 沒有送出任何內容；WithStallTimeout 可調整等待時間",
		msgPopped:              "已移除：",
		msgKeyInRequest:        "這個請求含有你的 API key（%s）：沒有送出任何內容。請把 key 從文字中刪除；key 應該放在 OPENAI_API_KEY 或 .env，而不是訊息裡",
		msgKeyInMessage:        "在訊息裡",
		msgKeyEarlier:          "在對話先前的訊息裡：可用 Rollback 移除",
		msgKeyInInstr:          "在 instructions 或 system 訊息裡",
		msgHintGatewayToken:    "班級閘道不接受這個筆記本的權杖（%s）：請詢問老師",
		msgHintNoResponses:     "這個伺服器可能沒有 Responses API：只有 Chat Completions 時請用 NewHistList(WithBackend(completions.Backend{}))",
	},
	"zh-CN": {
		msgReseeded:            "服务器已没有响应 %s（过期或已删除）：这个对话重新发送了自己保存的对话串（%d 轮），继续进行",
		msgOffline:             `离线：未设置 %s，所以回复来自内置的“镜子”（mirror）模型，它会显示它收到的内容。要用真实的模型，请设置 %[1]s（%s）。`,
		msgEnvWhereNotebook:    "在环境变量中，或放在笔记本旁的 .env 文件里",
		msgEnvWhereTerminal:    "在环境变量中，或放在当前目录的 .env 文件里",
		msgTokens:              "令牌：%s",
		msgUsage:               "输入 %d · 输出 %d · 合计 %d",
		msgChatSoFar:           "到目前为止：%d 轮对话%s、%d 次请求%s，%s",
		msgIncomplete:          "回复不完整：%s",
		msgRolledBack:          "已回滚：",
		msgRollbackN:           "回滚需要 n >= 1，收到 %d",
		msgRollbackTooFar:      "无法回滚 %d 轮：这个对话只有 %d 轮",
		msgNoThread:            "这个对话还没有对话串",
		msgDeleted:             "已删除 %d 个响应；对话重新开始",
		msgDeletedThen:         "在这之前已删除 %d 个响应，%s；对话现在停在那里",
		msgEmptyHistory:        "历史记录是空的",
		msgLoopHint:            "直接按 ↵ 可结束对话。",
		msgLoopNoInput:         "Loop：%s，所以对话循环到此结束。",
		msgLoopBatch:           "这个笔记本是在没有输入框的情况下运行的（nbconvert、papermill 或类似工具）；请在 Jupyter 中打开它来对话",
		msgLoopUnknown:         "这里没有人能回答输入框（内核不是由 Jupyter Notebook／Lab、JupyterHub 或 VS Code 启动的；如果有人能回答，请设置 GONBCHAT_INTERACTIVE=1）",
		msgLoopOverride:        "输入框已关闭（%s）",
		msgRetrying:            "%s，%s 后重试（%d/%d）…",
		msgWhyRateLimited:      "请求太频繁（rate limit）",
		msgWhyServerError:      "服务器错误 %d",
		msgWhyConnLost:         "连接中断",
		msgWhyEmpty:            "服务器发来空的回复",
		msgInterrupted:         "已中断：回复被截断",
		msgCutOff:              "回复在 %d 个字符后被切断（%s）",
		msgNoHeaders:           "没有响应：服务器在 %s 内没有回答（是否宕机或过载？WithStartTimeout 可调整等待时间）",
		msgNoFirstEvent:        "没有响应：服务器接受了请求，但 %s 内没有发送任何内容（WithStartTimeout 可调整等待时间）",
		msgStalledMid:          "回复停住了：服务器 %s 内没有发送任何内容（WithStallTimeout 可调整等待时间）",
		msgNotAStream:          "服务器发来的不是 OpenAI 流（%s）：«%s»",
		msgNotJSON:             "一行不是 JSON 的内容",
		msgServerAnswered:      "服务器回答 %s%s",
		msgServerStopped:       "服务器中止了回复%s：%s",
		msgTimedOut:            "超时",
		msgUnknownHost:         "无法连接到 %s：找不到主机（请检查 base URL 和网络）",
		msgTLS:                 "无法安全地连接到服务器：%s",
		msgCannotReach:         "无法连接到 %s：%s",
		msgConnLost:            "回复开始前连接就中断了（%s）",
		msgProxyUnreachable:    "无法连接到代理服务器 %s（由 HTTPS_PROXY 或 HTTP_PROXY 设置）：%s",
		msgProxyRefused:        "代理服务器 %s 拒绝连接到 %s：«%s»（请检查 HTTPS_PROXY，或代理是否允许这个主机）",
		msgPlainHTTP:           "无法用 HTTPS 与 %s 通信：它用的是普通 HTTP（base URL 请用 http://）",
		msgEmptyID:             "%s：响应 id 是空的（还没有响应的对话没有 LastID：请先问它一个问题）",
		msgNoSuchFile:          "%s：没有这个文件",
		msgCauseReset:          "连接被重置",
		msgCauseRefused:        "连接被拒绝：服务器在运行吗？",
		msgCauseClosed:         "连接提前关闭",
		msgChatOnlyProvider:    `%[1]s 只提供 Chat Completions，而 Chat 用 Responses API 把对话串存在服务器上：请改用 chatcell.NewHistList(chatcell.WithProvider(%[1]q))，由它自己保存历史`,
		msgNeedCompletions:     `%s 只提供 Chat Completions：请 import "github.com/gonbchat/gonbchat/chatcell/completions"（并传入 chatcell.WithBackend(completions.Backend{})）`,
		msgEventsResponsesOnly: "ShowEvents 显示的是 Responses API 的事件；这个供应商或后端只有 Chat Completions",
		msgSavingState:         "保存对话状态时",
		msgHintThreadGone:      "对话串无法继续（上一条回复是用 store=false 发送的，或已被删除？）；chat.Reset() 可开始新的对话串",
		msgHintChatCut:         "显示出来的部分不在对话串中，因为服务器没有完成这个响应；请再问一次",
		msgHintHistCut:         "收到的部分已保存在历史中，并标记为“被截断”",
		msgHintSummaryFailed:   "回复已保存，但总结历史时失败",
		msgHintKeyOption:       "请检查 WithAPIKey 给的密钥",
		msgHintKeyEnv:          "请检查 %s 中的密钥",
		msgNothingToSave:       "没有东西可以保存到 %s：这个对话还没有响应",
		msgIDFileHint:          "chat.Save 保存的文件只有一个响应 id",
		msgIDFileEmpty:         "无法加载 %s：文件是空的，没有响应 id",
		msgIDFileBad:           "无法加载 %s：里面不是响应 id（应该是一行 resp_…）",
		msgRoleUser:            "用户",
		msgRoleAssistant:       "助手",
		msgRoleSystem:          "系统",
		msgRoleDeveloper:       "开发者",
		msgMarkPinned:          "📌 已固定",
		msgMarkForged:          "伪造",
		msgMarkSummary:         "摘要",
		msgMarkCut:             "被截断",
		msgEmptyStream:         "服务器在回复开始前就结束了（空的流）",
		msgWhatHTML:            "一个 HTML 网页",
		msgWhatJSONDoc:         "一份 JSON 文档而不是事件流：服务器支持 stream=true 吗？",
		msgWhatText:            "一段文字而不是事件流",
		msgHintBaseURL:         "请检查 base URL，或是否有网络登录页面挡住",
		msgCauseStalled:        "服务器 %s 没有发送任何内容；WithStallTimeout 可调整等待时间",
		msgPopped:              "已移除：",
		msgKeyInRequest:        "这个请求含有你的 API key（%s）：没有发送任何内容。请把 key 从文字中删除；key 应该放在 OPENAI_API_KEY 或 .env，而不是消息里",
		msgKeyInMessage:        "在消息里",
		msgKeyEarlier:          "在对话之前的消息里：可用 Rollback 移除",
		msgKeyInInstr:          "在 instructions 或 system 消息里",
		msgHintGatewayToken:    "班级网关不接受这个笔记本的令牌（%s）：请询问老师",
		msgHintNoResponses:     "这个服务器可能没有 Responses API：只有 Chat Completions 时请用 NewHistList(WithBackend(completions.Backend{}))",
	},
}

// tr formats message id in lang (falling back to English).
func tr(lang string, id msgID, args ...any) string {
	t, ok := catalog[lang]
	if !ok || t[id] == "" {
		t = catalog["en"]
	}
	if len(args) == 0 {
		return t[id]
	}
	return fmt.Sprintf(t[id], args...)
}

// language normalises a language tag: zh-TW (also zh-Hant, zh-HK), zh-CN (also zh, zh-Hans,
// zh-SG), en (also en-*).
func language(tag string) (string, bool) { return lang.Parse(tag) }

func languages() []string {
	var l []string
	for k := range catalog {
		l = append(l, k)
	}
	slices.Sort(l)
	return l
}

// envLanguage is the language of $GONBCHAT_LANG, or English.
func envLanguage() string { return lang.FromEnv() }
