// Package ledger is the gateway's embedded database (SQLite, pure Go): one row per request
// (who, when, which model, tokens, estimated cost, outcome, duration), the owners of the
// stored responses created through the gateway, and the hashes of the tokens the teacher
// issued.
package ledger

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// Ledger is an open database. It is safe for concurrent use.
type Ledger struct {
	db *sql.DB
}

const schema = `
CREATE TABLE IF NOT EXISTS requests (
	id            INTEGER PRIMARY KEY,
	ts            INTEGER NOT NULL,          -- start, Unix milliseconds
	student       TEXT    NOT NULL,
	endpoint      TEXT    NOT NULL,          -- responses, chat.completions, responses.get, ...
	model         TEXT    NOT NULL DEFAULT '',
	stream        INTEGER NOT NULL DEFAULT 0,
	input_tokens  INTEGER NOT NULL DEFAULT 0,
	output_tokens INTEGER NOT NULL DEFAULT 0,
	cost_usd      REAL    NOT NULL DEFAULT 0,
	status        INTEGER NOT NULL,          -- HTTP status returned to the student
	outcome       TEXT    NOT NULL,          -- ok, refused, upstream_error, failed, interrupted
	duration_ms   INTEGER NOT NULL DEFAULT 0,
	response_id   TEXT    NOT NULL DEFAULT '',
	detail        TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS requests_ts ON requests(ts);
CREATE INDEX IF NOT EXISTS requests_student_ts ON requests(student, ts);
CREATE INDEX IF NOT EXISTS requests_response ON requests(response_id) WHERE response_id != '';
CREATE TABLE IF NOT EXISTS responses (
	id         TEXT PRIMARY KEY,
	student    TEXT    NOT NULL,
	created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
	name       TEXT PRIMARY KEY,
	hash       TEXT NOT NULL UNIQUE,
	created_ms INTEGER NOT NULL
);
`

// Open opens (creating if needed) the database at path.
func Open(path string) (*Ledger, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	}
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	// One connection: SQLite has one writer anyway, and this way the gateway never sees
	// SQLITE_BUSY from itself. Reads are short (indexed sums).
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("ledger %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
		db.Close()
		return nil, err
	}
	return &Ledger{db: db}, nil
}

// Close closes the database.
func (l *Ledger) Close() error { return l.db.Close() }

// Row is one request.
type Row struct {
	Time         time.Time
	Student      string
	Endpoint     string
	Model        string
	Stream       bool
	InputTokens  int64
	OutputTokens int64
	CostUSD      float64
	Status       int
	Outcome      string
	Duration     time.Duration
	ResponseID   string
	Detail       string // a short reason for a refusal or failure
}

// Outcomes.
const (
	OK            = "ok"
	Refused       = "refused"        // by the policy (AI off, budget, model) or auth
	UpstreamError = "upstream_error" // the provider answered an error
	Failed        = "failed"         // the provider failed the response inside the stream
	Interrupted   = "interrupted"    // the student went away or the gateway shut down mid-reply
)

// Record writes a row. It is synchronous: when it returns, the row is in the database.
func (l *Ledger) Record(ctx context.Context, r Row) error {
	_, err := l.db.ExecContext(ctx, `INSERT INTO requests
		(ts, student, endpoint, model, stream, input_tokens, output_tokens, cost_usd, status, outcome, duration_ms, response_id, detail)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		r.Time.UnixMilli(), r.Student, r.Endpoint, r.Model, r.Stream, r.InputTokens, r.OutputTokens, r.CostUSD,
		r.Status, r.Outcome, r.Duration.Milliseconds(), r.ResponseID, r.Detail)
	return err
}

// Rows returns the rows since a time (oldest first), for tests and exports.
func (l *Ledger) Rows(ctx context.Context, since time.Time) ([]Row, error) {
	rs, err := l.db.QueryContext(ctx, `SELECT ts, student, endpoint, model, stream, input_tokens, output_tokens, cost_usd,
		status, outcome, duration_ms, response_id, detail FROM requests WHERE ts >= ? ORDER BY id`, since.UnixMilli())
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []Row
	for rs.Next() {
		var r Row
		var ts, dur int64
		if err := rs.Scan(&ts, &r.Student, &r.Endpoint, &r.Model, &r.Stream, &r.InputTokens, &r.OutputTokens, &r.CostUSD,
			&r.Status, &r.Outcome, &dur, &r.ResponseID, &r.Detail); err != nil {
			return nil, err
		}
		r.Time = time.UnixMilli(ts)
		r.Duration = time.Duration(dur) * time.Millisecond
		out = append(out, r)
	}
	return out, rs.Err()
}

// Spent is what was used in a period.
type Spent struct {
	Tokens int64 // input + output
	USD    float64
}

// SpentSince sums the usage since a time: of one student, or of everyone when student is "".
func (l *Ledger) SpentSince(ctx context.Context, student string, since time.Time) (Spent, error) {
	var s Spent
	var err error
	if student == "" {
		err = l.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(input_tokens+output_tokens),0), COALESCE(SUM(cost_usd),0)
			FROM requests WHERE ts >= ?`, since.UnixMilli()).Scan(&s.Tokens, &s.USD)
	} else {
		err = l.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(input_tokens+output_tokens),0), COALESCE(SUM(cost_usd),0)
			FROM requests WHERE student = ? AND ts >= ?`, student, since.UnixMilli()).Scan(&s.Tokens, &s.USD)
	}
	return s, err
}

// ResponseUsage is what the request that created response id used (zero if unknown).
func (l *Ledger) ResponseUsage(ctx context.Context, id string) (Spent, error) {
	var s Spent
	err := l.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(input_tokens+output_tokens),0), COALESCE(SUM(cost_usd),0)
		FROM requests WHERE response_id = ? AND endpoint = 'responses'`, id).Scan(&s.Tokens, &s.USD)
	return s, err
}

// Own records that student created the stored response id.
func (l *Ledger) Own(ctx context.Context, id, student string) error {
	_, err := l.db.ExecContext(ctx, `INSERT INTO responses (id, student, created_ms) VALUES (?,?,?)
		ON CONFLICT(id) DO NOTHING`, id, student, time.Now().UnixMilli())
	return err
}

// Owner returns who created the response id ("" when the gateway did not create it).
func (l *Ledger) Owner(ctx context.Context, id string) (string, error) {
	var s string
	err := l.db.QueryRowContext(ctx, `SELECT student FROM responses WHERE id = ?`, id).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return s, err
}

// Disown forgets a deleted response.
func (l *Ledger) Disown(ctx context.Context, id string) error {
	_, err := l.db.ExecContext(ctx, `DELETE FROM responses WHERE id = ?`, id)
	return err
}

// TokenPrefix starts every token the teacher issues, so that they are recognisable (and never
// mistaken for a provider key).
const TokenPrefix = "gnbt_"

var validName = regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N}._@+-]{0,63}$`)

// ValidName reports whether name can be a student's name (letters, digits, . _ @ + -, at most
// 64 characters, starting with a letter or digit).
func ValidName(name string) bool { return validName.MatchString(name) }

// HashToken is how tokens are stored: SHA-256, hex. Tokens are 32 random bytes, so a fast
// hash is enough (there is nothing to guess).
func HashToken(tok string) string {
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return hex.EncodeToString(sum[:])
}

// AddToken issues a new token for a student and returns it; only its hash is stored, so this
// is the one time it can be seen. A student who already has a token gets a new one (the old
// one stops working).
func (l *Ledger) AddToken(ctx context.Context, name string) (string, error) {
	if !ValidName(name) {
		return "", fmt.Errorf("%q is not a valid student name (letters, digits, . _ @ + -; at most 64)", name)
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	tok := TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	_, err := l.db.ExecContext(ctx, `INSERT INTO tokens (name, hash, created_ms) VALUES (?,?,?)
		ON CONFLICT(name) DO UPDATE SET hash = excluded.hash, created_ms = excluded.created_ms`,
		name, HashToken(tok), time.Now().UnixMilli())
	if err != nil {
		return "", err
	}
	return tok, nil
}

// RevokeToken removes a student's token; it reports whether there was one.
func (l *Ledger) RevokeToken(ctx context.Context, name string) (bool, error) {
	res, err := l.db.ExecContext(ctx, `DELETE FROM tokens WHERE name = ?`, name)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// TokenOwner returns the student a token was issued to ("" if none).
func (l *Ledger) TokenOwner(ctx context.Context, tok string) (string, error) {
	var name string
	err := l.db.QueryRowContext(ctx, `SELECT name FROM tokens WHERE hash = ?`, HashToken(tok)).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return name, err
}

// IssuedToken describes an issued token (never the token itself).
type IssuedToken struct {
	Name    string
	Created time.Time
}

// Tokens lists the issued tokens by name.
func (l *Ledger) Tokens(ctx context.Context) ([]IssuedToken, error) {
	rs, err := l.db.QueryContext(ctx, `SELECT name, created_ms FROM tokens ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []IssuedToken
	for rs.Next() {
		var t IssuedToken
		var ms int64
		if err := rs.Scan(&t.Name, &ms); err != nil {
			return nil, err
		}
		t.Created = time.UnixMilli(ms)
		out = append(out, t)
	}
	return out, rs.Err()
}

// Usage is a line of a report.
type Usage struct {
	Student      string
	Day          string // YYYY-MM-DD in the report's time zone ("" in a per-student total)
	Requests     int64
	Refused      int64
	InputTokens  int64
	OutputTokens int64
	CostUSD      float64
}

// Tokens is input plus output.
func (u Usage) Tokens() int64 { return u.InputTokens + u.OutputTokens }

// PerStudent sums usage per student since a time, by student name.
func (l *Ledger) PerStudent(ctx context.Context, since time.Time) ([]Usage, error) {
	return l.usage(ctx, since, nil)
}

// PerDay sums usage per student and per day (days in loc) since a time, by day then student.
func (l *Ledger) PerDay(ctx context.Context, since time.Time, loc *time.Location) ([]Usage, error) {
	if loc == nil {
		loc = time.Local
	}
	return l.usage(ctx, since, loc)
}

func (l *Ledger) usage(ctx context.Context, since time.Time, loc *time.Location) ([]Usage, error) {
	rs, err := l.db.QueryContext(ctx, `SELECT ts, student, input_tokens, output_tokens, cost_usd, outcome
		FROM requests WHERE ts >= ? AND endpoint IN ('responses', 'chat.completions') ORDER BY ts`, since.UnixMilli())
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	type key struct{ day, student string }
	sums := map[key]*Usage{}
	var order []key
	for rs.Next() {
		var ts, in, out int64
		var cost float64
		var student, outcome string
		if err := rs.Scan(&ts, &student, &in, &out, &cost, &outcome); err != nil {
			return nil, err
		}
		k := key{student: student}
		if loc != nil {
			k.day = time.UnixMilli(ts).In(loc).Format(time.DateOnly)
		}
		u := sums[k]
		if u == nil {
			u = &Usage{Student: student, Day: k.day}
			sums[k] = u
			order = append(order, k)
		}
		u.Requests++
		if outcome == Refused {
			u.Refused++
		}
		u.InputTokens += in
		u.OutputTokens += out
		u.CostUSD += cost
	}
	if err := rs.Err(); err != nil {
		return nil, err
	}
	out := make([]Usage, 0, len(order))
	for _, k := range order {
		out = append(out, *sums[k])
	}
	sortUsage(out)
	return out, nil
}

func sortUsage(u []Usage) {
	sort.SliceStable(u, func(i, j int) bool {
		if u[i].Day != u[j].Day {
			return u[i].Day < u[j].Day
		}
		return u[i].Student < u[j].Student
	})
}
