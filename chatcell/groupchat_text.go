//go:build !gonbchat_kernel

package chatcell

import "fmt"

// The lines and prompts of GroupChat, in the languages of i18n.go (kept apart so that the group
// chat can change without touching the shared catalog).

type gcID int

const (
	gcSystem gcID = iota
	gcNextRemarks
	gcSoFar
	gcNotStarted
	gcRetryNote
	gcAudienceSep
	gcHeader
	gcAskingAgain
	gcNotAsked
	gcMismatch
	gcFallback
	gcModeJSON
	gcModePlain
	gcModeSchema
	gcUnknownRole
	gcNoRoles
	gcNoCues
	gcNobody
	gcEmptyRemark
	gcBadRoleName
	gcNotJSON
	gcWantGot
	gcRoles
	gcEmptyDialog
	gcNoSuchRole
	gcNotCreated
	gcRollbackTooFar
	gcCount
)

var gcCatalog = map[string][gcCount]string{
	"en": {
		gcSystem: "You write the remarks of a group chat role-play. The members of the group:\n%s\n\n" +
			"Each member speaks in their own voice and style, true to their description, and answers what was said to them. " +
			"Write every remark in the language of the conversation and of the descriptions.\n\n" +
			`Reply with JSON only: an object whose keys remark_1, remark_2, … hold the remarks asked for, in that order, ` +
			`each as {"speaker": name, "audiences": [names], "remark": "what the speaker says"}.`,
		gcNextRemarks:    "Write the next remarks, in this order:",
		gcSoFar:          "The conversation so far (JSON, oldest first):",
		gcNotStarted:     "The conversation has not started yet.",
		gcRetryNote:      "Your last reply did not match this (%s). Write exactly these remarks, in this order.",
		gcAudienceSep:    ", ",
		gcHeader:         "**%s** → %s: ",
		gcAskingAgain:    "⚠ not the remarks asked for (%s): asking again",
		gcNotAsked:       "⚠ not the remarks asked for (%s)",
		gcMismatch:       "the model did not write the remarks asked for (%s), even when asked again; nothing was added to the dialogue",
		gcFallback:       "the server does not take %s: trying %s",
		gcModeSchema:     "structured outputs (json_schema)",
		gcModeJSON:       "JSON mode (json_object)",
		gcModePlain:      "a plain prompt",
		gcUnknownRole:    "%q is not a role of this group (roles: %s): add it with SetRole first",
		gcNoRoles:        "this group has no roles yet: add them with SetRole",
		gcNoCues:         `say who speaks next, e.g. group.Ask(chatcell.Says("苏轼", "李清照"))`,
		gcNobody:         "%s has nobody to talk to: the group has no other role",
		gcEmptyRemark:    "the remark is empty",
		gcBadRoleName:    "role name %q: give a name of at most 64 characters, on one line",
		gcNotJSON:        "not the JSON asked for",
		gcWantGot:        "asked for %s, got %s",
		gcRoles:          "Roles",
		gcEmptyDialog:    "the dialogue is empty",
		gcNoSuchRole:     "%q is not a role of this group",
		gcNotCreated:     "this group chat was not created with chatcell.NewGroupChat: declare it as var group = chatcell.NewGroupChat(...)",
		gcRollbackTooFar: "cannot roll back %d remarks: the dialogue has only %d",
	},
	"zh-CN": {
		gcSystem: "你负责写群聊角色扮演中的发言。群里的角色：\n%s\n\n" +
			"每个角色都用符合自己身份和风格的口吻说话，并回应别人对他说的话。发言使用对话和角色介绍所用的语言。\n\n" +
			`只用 JSON 回答：一个对象，它的键 remark_1、remark_2……依次是所要求的发言，` +
			`每条的格式是 {"speaker": 说话人, "audiences": [听众], "remark": "说的话"}。`,
		gcNextRemarks:    "按顺序写出接下来的发言：",
		gcSoFar:          "到目前为止的对话（JSON，从早到晚）：",
		gcNotStarted:     "对话还没有开始。",
		gcRetryNote:      "你上一次的回答与要求不符（%s）。请严格按这个顺序写出这些发言。",
		gcAudienceSep:    "、",
		gcHeader:         "**%s** → %s：",
		gcAskingAgain:    "⚠ 不是所要求的发言（%s）：重新请求",
		gcNotAsked:       "⚠ 不是所要求的发言（%s）",
		gcMismatch:       "模型没有写出所要求的发言（%s），重新请求后也没有；对话中没有添加任何内容",
		gcFallback:       "服务器不接受%s：改用%s",
		gcModeSchema:     "结构化输出（json_schema）",
		gcModeJSON:       "JSON 模式（json_object）",
		gcModePlain:      "普通提示",
		gcUnknownRole:    "%q 不是这个群聊的角色（角色：%s）：请先用 SetRole 添加",
		gcNoRoles:        "这个群聊还没有角色：请用 SetRole 添加",
		gcNoCues:         `请说明接下来谁发言，例如 group.Ask(chatcell.Says("苏轼", "李清照"))`,
		gcNobody:         "%s 没有说话的对象：群里没有别的角色",
		gcEmptyRemark:    "发言是空的",
		gcBadRoleName:    "角色名 %q：名字最多 64 个字符，不能换行",
		gcNotJSON:        "不是所要求的 JSON",
		gcWantGot:        "要求 %s，收到 %s",
		gcRoles:          "角色",
		gcEmptyDialog:    "对话是空的",
		gcNoSuchRole:     "%q 不是这个群聊的角色",
		gcNotCreated:     "这个群聊不是用 chatcell.NewGroupChat 创建的：请声明为 var group = chatcell.NewGroupChat(...)",
		gcRollbackTooFar: "无法回滚 %d 条发言：对话只有 %d 条",
	},
	"zh-TW": {
		gcSystem: "你負責寫群聊角色扮演中的發言。群裡的角色：\n%s\n\n" +
			"每個角色都用符合自己身分和風格的口吻說話，並回應別人對他說的話。發言使用對話和角色介紹所用的語言。\n\n" +
			`只用 JSON 回答：一個物件，它的鍵 remark_1、remark_2……依序是所要求的發言，` +
			`每則的格式是 {"speaker": 說話人, "audiences": [聽眾], "remark": "說的話"}。`,
		gcNextRemarks:    "依序寫出接下來的發言：",
		gcSoFar:          "到目前為止的對話（JSON，從早到晚）：",
		gcNotStarted:     "對話還沒有開始。",
		gcRetryNote:      "你上一次的回答與要求不符（%s）。請嚴格依照這個順序寫出這些發言。",
		gcAudienceSep:    "、",
		gcHeader:         "**%s** → %s：",
		gcAskingAgain:    "⚠ 不是所要求的發言（%s）：重新請求",
		gcNotAsked:       "⚠ 不是所要求的發言（%s）",
		gcMismatch:       "模型沒有寫出所要求的發言（%s），重新請求後也沒有；對話中沒有加入任何內容",
		gcFallback:       "伺服器不接受%s：改用%s",
		gcModeSchema:     "結構化輸出（json_schema）",
		gcModeJSON:       "JSON 模式（json_object）",
		gcModePlain:      "一般提示",
		gcUnknownRole:    "%q 不是這個群聊的角色（角色：%s）：請先用 SetRole 加入",
		gcNoRoles:        "這個群聊還沒有角色：請用 SetRole 加入",
		gcNoCues:         `請說明接下來誰發言，例如 group.Ask(chatcell.Says("蘇軾", "李清照"))`,
		gcNobody:         "%s 沒有說話的對象：群裡沒有別的角色",
		gcEmptyRemark:    "發言是空的",
		gcBadRoleName:    "角色名 %q：名字最多 64 個字元，不能換行",
		gcNotJSON:        "不是所要求的 JSON",
		gcWantGot:        "要求 %s，收到 %s",
		gcRoles:          "角色",
		gcEmptyDialog:    "對話是空的",
		gcNoSuchRole:     "%q 不是這個群聊的角色",
		gcNotCreated:     "這個群聊不是用 chatcell.NewGroupChat 建立的：請宣告為 var group = chatcell.NewGroupChat(...)",
		gcRollbackTooFar: "無法撤回 %d 則發言：對話只有 %d 則",
	},
}

// gtr formats a group chat line in lang (falling back to English).
func gtr(lang string, id gcID, args ...any) string {
	t, ok := gcCatalog[lang]
	if !ok || t[id] == "" {
		t = gcCatalog["en"]
	}
	if len(args) == 0 {
		return t[id]
	}
	return fmt.Sprintf(t[id], args...)
}
