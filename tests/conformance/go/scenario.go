package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
)

// callFailed is a failed call as the client exposes it, normalized so that the
// scenario's expect_error can be checked the same way in every language.
type callFailed struct {
	Code        string
	Message     string
	Reason      string
	Metadata    map[string]string
	Fields      []string
	Unreachable bool
}

func (c *callFailed) Error() string { return c.Code + " " + c.Message }

type document struct {
	Pipelines map[string]map[string]any `json:"pipelines"`
	Scenarios []scenarioSpec            `json:"scenarios"`
}

type scenarioSpec struct {
	Name  string           `json:"name"`
	Steps []map[string]any `json:"steps"`
}

// handler runs one step and returns what expect is checked against and what
// "save" keeps.
type handler func(step map[string]any) (result map[string]any, saved any, err error)

func loadDocument(path, namespace string) (*document, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	doc := &document{}
	text := strings.ReplaceAll(string(raw), "${ns}", namespace)
	if err := json.Unmarshal([]byte(text), doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return doc, nil
}

var reference = regexp.MustCompile(`^\$([a-z_][a-z0-9_]*)((?:\.[a-z_][a-z0-9_]*)*)$`)

type scenario struct {
	spec      scenarioSpec
	pipelines map[string]map[string]any
	handlers  map[string]handler
	saved     map[string]any
}

func (s *scenario) resolve(value any) (any, error) {
	switch v := value.(type) {
	case string:
		match := reference.FindStringSubmatch(v)
		if match == nil {
			return v, nil
		}
		resolved, ok := s.saved[match[1]]
		if !ok {
			return nil, fmt.Errorf("%s: no earlier step saved `%s`", v, match[1])
		}
		for _, part := range strings.Split(strings.TrimPrefix(match[2], "."), ".") {
			if part != "" {
				resolved = resolved.(map[string]any)[part]
			}
		}
		return resolved, nil
	case map[string]any:
		out := map[string]any{}
		for key, item := range v {
			r, err := s.resolve(item)
			if err != nil {
				return nil, err
			}
			out[key] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, item := range v {
			r, err := s.resolve(item)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return value, nil
}

func (s *scenario) run() error {
	var unsupported []string
	for _, step := range s.spec.Steps {
		kind := step["kind"].(string)
		if _, ok := s.handlers[kind]; !ok && kind != "check_sequence" {
			unsupported = append(unsupported, kind)
		}
	}
	if len(unsupported) > 0 {
		return fmt.Errorf("this runner does not support the step kind(s) %v", unsupported)
	}
	for i, raw := range s.spec.Steps {
		resolved, err := s.resolve(raw)
		if err != nil {
			return fmt.Errorf("step %d (%s): %w", i+1, raw["kind"], err)
		}
		step := resolved.(map[string]any)
		if err := s.step(step); err != nil {
			return fmt.Errorf("step %d (%s): %w", i+1, step["kind"], err)
		}
	}
	return nil
}

func (s *scenario) step(step map[string]any) error {
	kind := step["kind"].(string)
	if kind == "check_sequence" {
		var parts []any
		for _, name := range step["parts"].([]any) {
			parts = append(parts, s.saved[name.(string)])
		}
		return checkSequence(parts, s.saved[step["against"].(string)])
	}
	if kind == "create_pipeline" {
		definition := clone(s.pipelines[step["pipeline"].(string)]).(map[string]any)
		if name, ok := step["name"].(string); ok {
			definition["name"] = name
		}
		step["definition"] = definition
	}
	result, saved, err := s.handlers[kind](step)
	expectError, wantsError := step["expect_error"].(map[string]any)
	if err != nil {
		failed, ok := err.(*callFailed)
		if !ok || !wantsError {
			return fmt.Errorf("the call failed: %v", err)
		}
		return checkError(expectError, failed)
	}
	if wantsError {
		return fmt.Errorf("expected the call to fail with %v, it returned %v", expectError, result)
	}
	if expect, ok := step["expect"].(map[string]any); ok {
		if err := checkResult(expect, result); err != nil {
			return err
		}
	}
	if name, ok := step["save"].(string); ok {
		// Saved as JSON would read it back, so later steps see float64 numbers.
		s.saved[name] = normalize(saved)
	}
	return nil
}

func clone(value any) any {
	raw, _ := json.Marshal(value)
	var out any
	_ = json.Unmarshal(raw, &out)
	return out
}

// normalize makes a result comparable with decoded JSON: numbers as float64,
// lists as []any, objects as map[string]any.
func normalize(value any) any {
	return clone(value)
}

func jsonEqual(want, got any) bool {
	want, got = normalize(want), normalize(got)
	if w, ok := want.(float64); ok {
		g, ok := got.(float64)
		return ok && math.Abs(w-g) <= 1e-9*math.Max(1, math.Abs(w))
	}
	return reflect.DeepEqual(want, got)
}

func show(value any) string {
	raw, _ := json.Marshal(value)
	return string(raw)
}

func checkResult(expect, result map[string]any) error {
	for key, want := range expect {
		if key == "min_pages" {
			if result["pages"].(int) < int(want.(float64)) {
				return fmt.Errorf("expected at least %v pages, got %v", want, result["pages"])
			}
			continue
		}
		got, ok := result[key]
		if !ok {
			return fmt.Errorf("the step has no result `%s` to check", key)
		}
		if key == "run_ids" {
			want, got = sortedStrings(want), sortedStrings(got)
		}
		if !jsonEqual(want, got) {
			return fmt.Errorf("%s: expected %s, got %s", key, show(want), show(got))
		}
	}
	return nil
}

func sortedStrings(value any) []string {
	var out []string
	for _, item := range normalize(value).([]any) {
		out = append(out, item.(string))
	}
	sort.Strings(out)
	return out
}

func checkError(expect map[string]any, failed *callFailed) error {
	shown := failed.Code + " " + failed.Message
	if code, ok := expect["code"].(string); ok && failed.Code != code {
		return fmt.Errorf("expected code %s, got %s", code, shown)
	}
	if reason, ok := expect["reason"].(string); ok && failed.Reason != reason {
		return fmt.Errorf("expected reason %s, got %q (%s)", reason, failed.Reason, shown)
	}
	if metadata, ok := expect["metadata"].(map[string]any); ok {
		for key, value := range metadata {
			if failed.Metadata[key] != value {
				return fmt.Errorf("expected metadata %s=%v, got %v", key, value, failed.Metadata)
			}
		}
	}
	if fields, ok := expect["fields"].([]any); ok {
		for _, wanted := range fields {
			found := false
			for _, field := range failed.Fields {
				found = found || field == wanted
			}
			if !found {
				return fmt.Errorf("expected a field violation on %q, got %v", wanted, failed.Fields)
			}
		}
	}
	if unreachable, ok := expect["unreachable"].(bool); ok && failed.Unreachable != unreachable {
		return fmt.Errorf("expected unreachable=%v, got %v (%s)", unreachable, failed.Unreachable, shown)
	}
	if text, ok := expect["message_contains"].(string); ok && !strings.Contains(failed.Message, text) {
		return fmt.Errorf("expected the message to contain %q, got %q", text, failed.Message)
	}
	return nil
}

// checkSequence: the parts, one after another, are events 1..N without gaps or
// repeats, and the same events as `against`.
func checkSequence(parts []any, against any) error {
	var events []any
	for _, part := range parts {
		events = append(events, normalize(part).(map[string]any)["events"].([]any)...)
	}
	for i, event := range events {
		if sequence := event.([]any)[0].(float64); sequence != float64(i+1) {
			return fmt.Errorf("the reconnected watch has gaps or repeats: %s", show(events))
		}
	}
	full := normalize(against).(map[string]any)["events"]
	if !reflect.DeepEqual(normalize(events), full) {
		return fmt.Errorf("the reconnected watch saw %s, one watch saw %s", show(events), show(full))
	}
	return nil
}
