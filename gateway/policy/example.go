package policy

// Example is a commented policy file to start from (gonbchat gateway policy example).
const Example = `# gonbchat gateway policy. Edit and save: the gateway reloads it within seconds
# (or at once on SIGHUP). A file with a mistake is refused whole and the previous policy stays in
# force; "gonbchat gateway policy check FILE" says what is wrong, and so does the teacher's page.

# The exam switch: true refuses every request with ai_off_message.
ai_off: false
ai_off_message: AI is switched off for the exam.

models:
  # the upstream models students may use (leave the list out to allow any)
  allowed: [gpt-4.1-mini, gpt-4.1-nano]
  # names students can use instead: model: "class" in a notebook means gpt-4.1-mini
  aliases:
    class: gpt-4.1-mini
  # used when a request names no model
  default: class
  # a model not allowed: refuse (one clear line for the student), or default (answer with the default)
  others: refuse

# the longest reply, in tokens: larger requests are clamped, requests without a limit get this one
max_output_tokens: 800

# never: store=false is forced (no stored responses, so no previous_response_id chains);
# always: store=true is forced; leave it out to let each request decide
# store: never

# prepended to every request (Responses instructions, or a first system message)
tutor: |
  You are a patient teaching assistant in an introductory programming class.
  Give hints and explanations; do not write whole solutions to exercises.

budgets:
  timezone: Asia/Shanghai      # the time zone of the reset time
  reset: "00:00"               # when a day (and a week) starts
  week_starts: monday
  # each student on their own; one limit, or a list of them
  student:
    - {tokens: 50000, per: day}
    - {tokens: 200000, per: week}
  # all the students together
  class: {usd: 2.00, per: day}
  # other limits for some students
  overrides:
    teacher: {tokens: 1000000, per: day}

# prices (US dollars per million tokens) for models the built-in table lacks, e.g. another
# provider's; they are what the money budgets and the report count
# prices:
#   llama-3.3-70b-versatile: {input: 0.59, output: 0.79}
`
