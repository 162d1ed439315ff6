// Command smd-oracle answers "what does structured-merge-diff do?" for the tests of Converge's
// server-side apply. It reads one JSON document on stdin (a schema and a list of cases, each a
// starting object, starting managers and a sequence of steps) and writes one JSON document on
// stdout with one result per step. See README.md for the protocol.
//
// Malformed input (not JSON, an invalid schema, an unknown op, a step without a manager) exits
// with status 2 and a message on stderr. Everything SMD itself rejects is reported in the
// output, as the result of the step (or case) it belongs to.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"

	"sigs.k8s.io/structured-merge-diff/v4/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v4/merge"
	"sigs.k8s.io/structured-merge-diff/v4/typed"
)

// ---- input -------------------------------------------------------------------------------

type input struct {
	Schema *string     `json:"schema"`
	Cases  []inputCase `json:"cases"`
}

type inputCase struct {
	Name     string                  `json:"name"`
	Type     string                  `json:"type"`
	Live     json.RawMessage         `json:"live"`
	Managers map[string]inputManager `json:"managers"`
	Ignored  json.RawMessage         `json:"ignored"`
	Steps    []inputStep             `json:"steps"`
}

type inputManager struct {
	FieldsV1   json.RawMessage `json:"fieldsV1"`
	APIVersion string          `json:"apiVersion"`
	Applied    bool            `json:"applied"`
}

type inputStep struct {
	Op         string          `json:"op"`
	Manager    string          `json:"manager"`
	APIVersion string          `json:"apiVersion"`
	Object     json.RawMessage `json:"object"`
	Force      bool            `json:"force"`
}

// ---- output ------------------------------------------------------------------------------

type output struct {
	Cases []outputCase `json:"cases"`
}

type outputCase struct {
	Name string `json:"name"`
	// Error is set when the case could not start (bad live object, bad starting managers or
	// ignored set); every step then repeats it.
	Error string        `json:"error,omitempty"`
	Steps []interface{} `json:"steps"`
}

type outputManager struct {
	FieldsV1   json.RawMessage `json:"fieldsV1"`
	APIVersion string          `json:"apiVersion"`
	Applied    bool            `json:"applied"`
}

type outputConflict struct {
	Manager string `json:"manager"`
	Path    string `json:"path"`
}

// Step results: one type per kind, so that every field of a kind is always written.
type errorResult struct {
	Error string `json:"error"`
	// Conflicts is set when the error is merge.Conflicts.
	Conflicts []outputConflict `json:"conflicts,omitempty"`
}

type updateResult struct {
	Object   interface{}              `json:"object"`
	Managers map[string]outputManager `json:"managers"`
	Noop     bool                     `json:"noop"`
}

type fieldsetResult struct {
	FieldsV1 json.RawMessage `json:"fieldsV1"`
}

type compareResult struct {
	Added    json.RawMessage `json:"added"`
	Removed  json.RawMessage `json:"removed"`
	Modified json.RawMessage `json:"modified"`
}

// ---- helpers -----------------------------------------------------------------------------

// noConversion is the converter of a single-version world: every object already is in every
// version, and no version is ever missing.
type noConversion struct{}

func (noConversion) Convert(object *typed.TypedValue, _ fieldpath.APIVersion) (*typed.TypedValue, error) {
	return object, nil
}

func (noConversion) IsMissingVersionError(error) bool { return false }

// usageError marks malformed input: the program exits 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...interface{}) error {
	return usageError{fmt.Sprintf(format, args...)}
}

// decodeObject decodes JSON text into the plain Go values SMD's FromUnstructured expects:
// integers become int64 (floats only when they are not integers), so SMD sees ints as ints.
func decodeObject(raw json.RawMessage) (interface{}, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v interface{}
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON value")
	}
	return convertNumbers(v)
}

func convertNumbers(v interface{}) (interface{}, error) {
	switch t := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(t), 10, 64); err == nil {
			return i, nil
		}
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil {
			return nil, fmt.Errorf("number %s: %v", t, err)
		}
		return f, nil
	case map[string]interface{}:
		for k, e := range t {
			c, err := convertNumbers(e)
			if err != nil {
				return nil, err
			}
			t[k] = c
		}
		return t, nil
	case []interface{}:
		for i, e := range t {
			c, err := convertNumbers(e)
			if err != nil {
				return nil, err
			}
			t[i] = c
		}
		return t, nil
	default:
		return v, nil
	}
}

// isAbsent reports whether a raw JSON field was missing or null.
func isAbsent(raw json.RawMessage) bool {
	return len(raw) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

func parseSet(raw json.RawMessage) (*fieldpath.Set, error) {
	s := &fieldpath.Set{}
	if err := s.FromJSON(bytes.NewReader(raw)); err != nil {
		return nil, err
	}
	return s, nil
}

func setJSON(s *fieldpath.Set) (json.RawMessage, error) {
	if s == nil {
		s = fieldpath.NewSet()
	}
	b, err := s.ToJSON()
	if err != nil {
		return nil, err
	}
	return json.RawMessage(b), nil
}

func managersJSON(m fieldpath.ManagedFields) (map[string]outputManager, error) {
	out := map[string]outputManager{}
	for id, vs := range m {
		b, err := setJSON(vs.Set())
		if err != nil {
			return nil, fmt.Errorf("manager %q: %v", id, err)
		}
		out[id] = outputManager{FieldsV1: b, APIVersion: string(vs.APIVersion()), Applied: vs.Applied()}
	}
	return out, nil
}

// ---- cases -------------------------------------------------------------------------------

type state struct {
	live     *typed.TypedValue
	managers fieldpath.ManagedFields
}

func runCase(parser *typed.Parser, c inputCase) (outputCase, error) {
	out := outputCase{Name: c.Name, Steps: []interface{}{}}

	// Protocol checks first: they make the whole input malformed.
	for i, st := range c.Steps {
		switch st.Op {
		case "apply", "update":
			if st.Manager == "" {
				return out, usagef("case %q step %d: %s needs a manager", c.Name, i, st.Op)
			}
			if isAbsent(st.Object) {
				return out, usagef("case %q step %d: %s needs an object", c.Name, i, st.Op)
			}
		case "fieldset", "compare":
			if isAbsent(st.Object) {
				return out, usagef("case %q step %d: %s needs an object", c.Name, i, st.Op)
			}
		default:
			return out, usagef("case %q step %d: unknown op %q", c.Name, i, st.Op)
		}
	}

	pt := parser.Type(c.Type)
	fail := func(err error) (outputCase, error) {
		out.Error = err.Error()
		for range c.Steps {
			out.Steps = append(out.Steps, errorResult{Error: out.Error})
		}
		return out, nil
	}

	// Starting state.
	var liveObj interface{} = map[string]interface{}{}
	if !isAbsent(c.Live) {
		v, err := decodeObject(c.Live)
		if err != nil {
			return out, usagef("case %q: live: %v", c.Name, err)
		}
		liveObj = v
	}
	live, err := pt.FromUnstructured(liveObj)
	if err != nil {
		return fail(fmt.Errorf("live: %v", err))
	}
	managers := fieldpath.ManagedFields{}
	versions := map[fieldpath.APIVersion]bool{}
	for id, m := range c.Managers {
		if isAbsent(m.FieldsV1) {
			return out, usagef("case %q: manager %q has no fieldsV1", c.Name, id)
		}
		s, err := parseSet(m.FieldsV1)
		if err != nil {
			return fail(fmt.Errorf("manager %q: fieldsV1: %v", id, err))
		}
		managers[id] = fieldpath.NewVersionedSet(s, fieldpath.APIVersion(m.APIVersion), m.Applied)
		versions[fieldpath.APIVersion(m.APIVersion)] = true
	}
	for _, st := range c.Steps {
		if st.Op == "apply" || st.Op == "update" {
			versions[fieldpath.APIVersion(st.APIVersion)] = true
		}
	}
	var ignored *fieldpath.Set
	if !isAbsent(c.Ignored) {
		ignored, err = parseSet(c.Ignored)
		if err != nil {
			return fail(fmt.Errorf("ignored: %v", err))
		}
	}
	updater := &merge.Updater{Converter: noConversion{}}
	if ignored != nil {
		updater.IgnoredFields = map[fieldpath.APIVersion]*fieldpath.Set{}
		for v := range versions {
			updater.IgnoredFields[v] = ignored
		}
	}

	s := &state{live: live, managers: managers}
	for _, st := range c.Steps {
		out.Steps = append(out.Steps, runStep(pt, updater, s, st))
	}
	return out, nil
}

func errResult(err error) errorResult { return errorResult{Error: err.Error()} }

func runStep(pt typed.ParseableType, u *merge.Updater, s *state, st inputStep) (res interface{}) {
	// SMD is not expected to panic on typed input, but an oracle must never take the whole
	// run down with it: report a panic as the step's error.
	defer func() {
		if r := recover(); r != nil {
			res = errorResult{Error: fmt.Sprintf("panic: %v", r)}
		}
	}()

	raw, err := decodeObject(st.Object)
	if err != nil {
		return errResult(fmt.Errorf("object: %v", err))
	}
	obj, err := pt.FromUnstructured(raw)
	if err != nil {
		return errResult(err)
	}

	switch st.Op {
	case "fieldset":
		set, err := obj.ToFieldSet()
		if err != nil {
			return errResult(err)
		}
		b, err := setJSON(set)
		if err != nil {
			return errResult(err)
		}
		return fieldsetResult{FieldsV1: b}

	case "compare":
		cmp, err := s.live.Compare(obj)
		if err != nil {
			return errResult(err)
		}
		var r compareResult
		if r.Added, err = setJSON(cmp.Added); err != nil {
			return errResult(err)
		}
		if r.Removed, err = setJSON(cmp.Removed); err != nil {
			return errResult(err)
		}
		if r.Modified, err = setJSON(cmp.Modified); err != nil {
			return errResult(err)
		}
		return r

	case "apply", "update":
		version := fieldpath.APIVersion(st.APIVersion)
		var (
			newLive     *typed.TypedValue
			newManagers fieldpath.ManagedFields
		)
		// The updater must not touch the current state when it fails: give it a copy.
		if st.Op == "apply" {
			newLive, newManagers, err = u.Apply(s.live, obj, version, s.managers.Copy(), st.Manager, st.Force)
		} else {
			newLive, newManagers, err = u.Update(s.live, obj, version, s.managers.Copy(), st.Manager)
		}
		if err != nil {
			r := errResult(err)
			var conflicts merge.Conflicts
			if errors.As(err, &conflicts) {
				// SMD 4.1.2 builds each conflict's path from a buffer it reuses while iterating
				// (ConflictsFromManagers lacks a Path.Copy), so paths that share a prefix come out
				// overwritten. The conflicting sets are right: recompute them from the forced
				// result and list their paths with copies.
				if fixed, ferr := recomputeConflicts(u, s, obj, version, st.Manager); ferr == nil {
					conflicts = fixed
					r.Error = fixed.Error()
				}
				r.Conflicts = conflictList(conflicts)
			}
			return r
		}
		noop := false
		if newLive == nil {
			noop = true
			newLive = s.live
		}
		mj, err := managersJSON(newManagers)
		if err != nil {
			return errResult(err)
		}
		s.live = newLive
		s.managers = newManagers
		return updateResult{Object: unstructured(newLive), Managers: mj, Noop: noop}
	}
	return errResult(fmt.Errorf("unknown op %q", st.Op))
}

// recomputeConflicts returns the conflicts an apply of obj by manager meets: for every other
// manager, the fields it owns that the forced apply modifies or adds (outside the ignored
// fields), each path copied.
func recomputeConflicts(u *merge.Updater, s *state, obj *typed.TypedValue, version fieldpath.APIVersion, manager string) (merge.Conflicts, error) {
	forced, _, err := u.Apply(s.live, obj, version, s.managers.Copy(), manager, true)
	if err != nil {
		return nil, err
	}
	if forced == nil {
		return nil, fmt.Errorf("a conflicting apply changed nothing")
	}
	cmp, err := s.live.Compare(forced)
	if err != nil {
		return nil, err
	}
	changed := cmp.Modified.Union(cmp.Added)
	if ignored := u.IgnoredFields[version]; ignored != nil {
		changed = changed.RecursiveDifference(ignored)
	}
	var out merge.Conflicts
	for name, vs := range s.managers {
		if name == manager {
			continue
		}
		vs.Set().Intersection(changed).Iterate(func(p fieldpath.Path) {
			out = append(out, merge.Conflict{Manager: name, Path: p.Copy()})
		})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Manager < out[j].Manager })
	return out, nil
}

// conflictList lists conflicts in SMD's order within each manager. SMD collects them from a Go
// map, so the order of managers varies from run to run: they are put in name order (stable, so
// each manager's paths keep SMD's order), the order Conflicts.Error() prints them in.
func conflictList(c merge.Conflicts) []outputConflict {
	out := make([]outputConflict, 0, len(c))
	for _, x := range c {
		out = append(out, outputConflict{Manager: x.Manager, Path: x.Path.String()})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Manager < out[j].Manager })
	return out
}

// unstructured returns the plain Go value of tv, never nil so that "object" is always present
// (a null object is written as JSON null through a json.RawMessage).
func unstructured(tv *typed.TypedValue) interface{} {
	v := tv.AsValue().Unstructured()
	if v == nil {
		return json.RawMessage("null")
	}
	return v
}

// ---- main --------------------------------------------------------------------------------

func run(stdin io.Reader, stdout io.Writer) error {
	dec := json.NewDecoder(stdin)
	var in input
	if err := dec.Decode(&in); err != nil {
		return usagef("input: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return usagef("input: trailing data after the JSON document")
	}
	if in.Schema == nil {
		return usagef("input: no \"schema\"")
	}
	parser, err := typed.NewParser(typed.YAMLObject(*in.Schema))
	if err != nil {
		return usagef("schema: %v", err)
	}
	out := output{Cases: []outputCase{}}
	for _, c := range in.Cases {
		oc, err := runCase(parser, c)
		if err != nil {
			return err
		}
		out.Cases = append(out.Cases, oc)
	}
	enc := json.NewEncoder(stdout)
	// Keep SMD's FieldsV1 bytes and the objects' strings as they are.
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

func main() {
	if len(os.Args) > 1 {
		fmt.Fprintln(os.Stderr, "usage: smd-oracle < input.json > output.json  (see README.md)")
		os.Exit(2)
	}
	err := run(os.Stdin, os.Stdout)
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "smd-oracle:", err)
	var ue usageError
	if errors.As(err, &ue) {
		os.Exit(2)
	}
	os.Exit(1)
}
