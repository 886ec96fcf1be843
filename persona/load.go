package persona

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize bounds a persona file: a persona is a few kilobytes.
const MaxFileSize = 1 << 20

// fields are the keys of a persona file, in the order the errors list them.
var fields = []string{"title", "character", "description", "examples", "model"}

// Load reads a persona from a JSON or YAML file and validates it. The format is chosen by the
// extension (.json, .yaml, .yml), else by the content (JSON starts with '{'). Unknown or
// repeated fields, values of the wrong type and invalid personas are errors that name the
// file and the field (and the line, when the parser gives one). Load refuses anything but a
// regular file (a FIFO or a device would block or never end) and files over MaxFileSize.
// Leading and trailing spaces of every value are removed.
func Load(path string) (Persona, error) {
	data, err := readFile(path)
	if err != nil {
		return Persona{}, err
	}
	p, err := Parse(data, formatOf(path, data))
	if err != nil {
		return Persona{}, fmt.Errorf("persona: %s: %w", path, unprefix(err))
	}
	return p, nil
}

// Format is the syntax of a persona file.
type Format int

const (
	YAML Format = iota
	JSON
)

func formatOf(path string, data []byte) Format {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		return JSON
	case ".yaml", ".yml":
		return YAML
	}
	if t := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\uFEFF")), " \t\r\n"); len(t) > 0 && t[0] == '{' {
		return JSON
	}
	return YAML
}

// readFile reads a regular file of at most MaxFileSize bytes. It checks the kind of file
// before opening it (opening a FIFO for reading blocks until a writer comes), and again on
// the open file, in case the path was replaced in between.
func readFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("persona: %w", err)
	}
	if err := checkRegular(path, fi); err != nil {
		return nil, err
	}
	f, err := openNonBlocking(path)
	if err != nil {
		return nil, fmt.Errorf("persona: %w", err)
	}
	defer f.Close()
	fi2, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("persona: %w", err)
	}
	if err := checkRegular(path, fi2); err != nil {
		return nil, err
	}
	if !os.SameFile(fi, fi2) {
		return nil, fmt.Errorf("persona: %s changed while it was being opened; try again", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("persona: reading %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("persona: %s is larger than %d KiB; a persona file is a few kilobytes", path, MaxFileSize>>10)
	}
	return data, nil
}

func checkRegular(path string, fi os.FileInfo) error {
	switch m := fi.Mode(); {
	case m.IsDir():
		return fmt.Errorf("persona: %s is a directory, not a persona file", path)
	case !m.IsRegular():
		return fmt.Errorf("persona: %s is not a regular file (%s); give the path of a .yaml or .json file", path, m.Type())
	case fi.Size() > MaxFileSize:
		return fmt.Errorf("persona: %s is %d KiB; a persona file is a few kilobytes (the limit is %d KiB)", path, fi.Size()>>10, MaxFileSize>>10)
	}
	return nil
}

// Parse reads a persona from data in the given format and validates it (see Load).
func Parse(data []byte, f Format) (Persona, error) {
	if !utf8.Valid(data) {
		return Persona{}, errors.New("persona: the file is not UTF-8 text (save it as UTF-8)")
	}
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	if len(bytes.TrimSpace(data)) == 0 {
		return Persona{}, errors.New("persona: the file is empty; it needs at least a title and a character")
	}
	var p Persona
	var err error
	if f == JSON {
		p, err = parseJSON(data)
	} else {
		p, err = parseYAML(data)
	}
	if err != nil {
		return Persona{}, fmt.Errorf("persona: %w", err)
	}
	p.Title = strings.TrimSpace(p.Title)
	p.Character = strings.TrimSpace(p.Character)
	p.Description = strings.TrimSpace(p.Description)
	p.Model = strings.TrimSpace(p.Model)
	for i := range p.Examples {
		p.Examples[i] = strings.TrimSpace(p.Examples[i])
	}
	if err := p.Validate(); err != nil {
		return Persona{}, err
	}
	return p, nil
}

func unprefix(err error) error {
	if s := err.Error(); strings.HasPrefix(s, "persona: ") {
		return errors.New(strings.TrimPrefix(s, "persona: "))
	}
	return err
}

func unknownField(key string) error {
	return fmt.Errorf("unknown field %q; a persona has the fields %s", key, strings.Join(fields, ", "))
}

// parseJSON reads a JSON object, field by field, so that every error names its field.
func parseJSON(data []byte) (Persona, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return Persona{}, jsonErr(data, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return Persona{}, fmt.Errorf("line %d: want a JSON object {\"title\": …, \"character\": …}", lineAt(data, dec.InputOffset()))
	}
	var p Persona
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return Persona{}, jsonErr(data, err)
		}
		key, _ := tok.(string)
		line := lineAt(data, dec.InputOffset())
		if seen[key] {
			return Persona{}, fmt.Errorf("line %d: field %q appears twice", line, key)
		}
		seen[key] = true
		var dst any
		switch key {
		case "title":
			dst = &p.Title
		case "character":
			dst = &p.Character
		case "description":
			dst = &p.Description
		case "model":
			dst = &p.Model
		case "examples":
			dst = &p.Examples
		default:
			return Persona{}, fmt.Errorf("line %d: %w", line, unknownField(key))
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return Persona{}, jsonErr(data, err)
		}
		if string(raw) == "null" {
			continue
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			want := "a string"
			if key == "examples" {
				want = "a list of strings"
			}
			return Persona{}, fmt.Errorf("line %d: field %q: want %s, found %s", line, key, want, jsonKind(raw))
		}
	}
	if _, err := dec.Token(); err != nil {
		return Persona{}, jsonErr(data, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Persona{}, fmt.Errorf("line %d: text after the JSON object", lineAt(data, dec.InputOffset()))
	}
	return p, nil
}

func jsonKind(raw json.RawMessage) string {
	switch raw[0] {
	case '"':
		return "a string"
	case '[':
		return "a list"
	case '{':
		return "an object"
	case 't', 'f':
		return "true/false"
	}
	return "a number"
}

func jsonErr(data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("line %d: invalid JSON: %v", lineAt(data, se.Offset), se)
	}
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("the JSON ends too early (a missing } or \"?)")
	}
	return fmt.Errorf("invalid JSON: %w", err)
}

func lineAt(data []byte, off int64) int {
	off = min(max(off, 0), int64(len(data)))
	return bytes.Count(data[:off], []byte{'\n'}) + 1
}

// parseYAML walks the YAML document, so that every error names its field and line.
func parseYAML(data []byte) (Persona, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return Persona{}, errors.New("the file is empty; it needs at least a title and a character")
		}
		return Persona{}, fmt.Errorf("invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		return Persona{}, errors.New("the file holds more than one YAML document (a line with ---); keep one persona per file")
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return Persona{}, fmt.Errorf("line %d: want fields such as \"title: …\" and \"character: …\", found %s", root.Line, yamlKind(root))
	}
	var p Persona
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return Persona{}, fmt.Errorf("line %d: a field name must be a word, found %s", k.Line, yamlKind(k))
		}
		key := k.Value
		if seen[key] {
			return Persona{}, fmt.Errorf("line %d: field %q appears twice", k.Line, key)
		}
		seen[key] = true
		if v.Kind == yaml.AliasNode {
			return Persona{}, fmt.Errorf("line %d: field %q: anchors and aliases (*name) are not supported; write the value out", v.Line, key)
		}
		switch key {
		case "title", "character", "description", "model":
			s, err := yamlString(key, v)
			if err != nil {
				return Persona{}, err
			}
			switch key {
			case "title":
				p.Title = s
			case "character":
				p.Character = s
			case "description":
				p.Description = s
			case "model":
				p.Model = s
			}
		case "examples":
			if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
				continue
			}
			if v.Kind != yaml.SequenceNode {
				return Persona{}, fmt.Errorf("line %d: field \"examples\": want a list (lines starting with \"- \"), found %s", v.Line, yamlKind(v))
			}
			for j, e := range v.Content {
				s, err := yamlString(fmt.Sprintf("examples[%d]", j), e)
				if err != nil {
					return Persona{}, err
				}
				p.Examples = append(p.Examples, s)
			}
		default:
			return Persona{}, fmt.Errorf("line %d: %w", k.Line, unknownField(key))
		}
	}
	return p, nil
}

func yamlString(field string, v *yaml.Node) (string, error) {
	if v.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("line %d: field %q: want text, found %s", v.Line, field, yamlKind(v))
	}
	if v.Tag == "!!null" {
		return "", nil
	}
	return v.Value, nil
}

func yamlKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "fields (a mapping)"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "an empty document"
}
