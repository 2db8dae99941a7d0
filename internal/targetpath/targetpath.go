// Package targetpath parses and prints mirrord target paths such as
// "pod/api-0/container/app", "deploy/api", "label/app=api,tier=web" or
// "targetless". It has no Kubernetes dependencies so that the config engine
// and the language server can use it cheaply.
//
// The grammar and its error messages follow mirrord's (reference config.md
// §4.1 A-TARGET-STR and A-LABEL-STR), including its leniencies: an empty
// name ("pod/") is accepted and segments after the container name are
// ignored.
package targetpath

import (
	"fmt"
	"sort"
	"strings"
)

// Kind is the kind of a target.
type Kind string

// The target kinds, spelled as in a target path.
const (
	Targetless  Kind = "targetless"
	Pod         Kind = "pod"
	Deployment  Kind = "deployment"
	Rollout     Kind = "rollout"
	Job         Kind = "job"
	CronJob     Kind = "cronjob"
	StatefulSet Kind = "statefulset"
	Service     Kind = "service"
	ReplicaSet  Kind = "replicaset"
	Label       Kind = "label"
)

// Kinds lists every kind in the order mirrord documents them.
var kinds = []Kind{Targetless, Pod, Deployment, Rollout, Job, CronJob, StatefulSet, Service, ReplicaSet, Label}

// AllKinds returns every target kind.
func AllKinds() []Kind { return append([]Kind(nil), kinds...) }

// NeedsOperator reports whether the kind can only be used with the mirrord operator.
func (k Kind) NeedsOperator() bool {
	switch k {
	case Job, CronJob, StatefulSet, Service, ReplicaSet, Label:
		return true
	}
	return false
}

// ObjectKey is the key of the kind in the object form of a target
// ({"cron_job": "x"}); "labels" for Label and "" for Targetless.
func (k Kind) ObjectKey() string {
	switch k {
	case CronJob:
		return "cron_job"
	case StatefulSet:
		return "stateful_set"
	case ReplicaSet:
		return "replica_set"
	case Label:
		return "labels"
	case Targetless:
		return ""
	}
	return string(k)
}

// KindOfObjectKey is the inverse of ObjectKey.
func KindOfObjectKey(key string) (Kind, bool) {
	for _, k := range kinds {
		if k != Targetless && k.ObjectKey() == key {
			return k, true
		}
	}
	return "", false
}

// LabelPair is one key=value item of a label selector, in written order.
type LabelPair struct {
	Key, Value string
}

// Target is a parsed target path.
type Target struct {
	Kind Kind
	// Name of the resource; empty for Targetless and Label.
	Name string
	// Labels of a Label target, in written order.
	Labels []LabelPair
	// Container is the optional /container/NAME part.
	Container string
}

// Error is a target path that does not follow the grammar.
type Error struct {
	Path    string
	Message string
}

func (e *Error) Error() string { return e.Message }

func invalid(path, format string, args ...any) error {
	return &Error{Path: path, Message: fmt.Sprintf(format, args...)}
}

const prefixHint = "Did you remember to add a prefix, e.g. pod/{target}?"

// Parse parses a target path.
func Parse(s string) (Target, error) {
	if s == string(Targetless) {
		return Target{Kind: Targetless}, nil
	}
	kindText, rest, ok := strings.Cut(s, "/")
	if !ok {
		return Target{}, invalid(s, "invalid target path `%s`: expected `targetless` or `<kind>/<name>[/container/<container>]`. %s", s, prefixHint)
	}
	kind, ok := kindOfPrefix(kindText)
	if !ok {
		return Target{}, invalid(s, "invalid target path `%s`: unknown target kind `%s`, expected one of deployment, deploy, rollout, pod, job, cronjob, statefulset, service, replicaset, label. %s", s, kindText, prefixHint)
	}
	if kind == Label {
		return parseLabel(s, rest)
	}
	parts := strings.Split(rest, "/")
	t := Target{Kind: kind, Name: parts[0]}
	if len(parts) == 1 {
		return t, nil
	}
	if parts[1] != "container" {
		return Target{}, invalid(s, "invalid target path `%s`: expected `/container/<container>` after the %s name, found `/%s`. %s", s, kind, parts[1], prefixHint)
	}
	if len(parts) < 3 || parts[2] == "" {
		return Target{}, invalid(s, "invalid target path `%s`: the container name after `/container/` is missing. %s", s, prefixHint)
	}
	// Segments after the container name are ignored, as mirrord does.
	t.Container = parts[2]
	return t, nil
}

func kindOfPrefix(p string) (Kind, bool) {
	if p == "deploy" {
		return Deployment, true
	}
	for _, k := range kinds {
		if k != Targetless && string(k) == p {
			return k, true
		}
	}
	return "", false
}

func parseLabel(s, rest string) (Target, error) {
	t := Target{Kind: Label}
	selector := rest
	if i := strings.LastIndex(rest, "/container/"); i >= 0 {
		selector = rest[:i]
		c := rest[i+len("/container/"):]
		if c == "" || strings.Contains(c, "/") {
			return Target{}, invalid(s, "invalid label target `%s`: the container name after `/container/` must be non-empty and contain no `/`", s)
		}
		t.Container = c
	}
	if selector == "" {
		return Target{}, invalid(s, "invalid label target `%s`: at least one `key=value` label is required", s)
	}
	seen := map[string]bool{}
	for _, item := range strings.Split(selector, ",") {
		k, v, ok := strings.Cut(item, "=")
		if !ok || k == "" {
			return Target{}, invalid(s, "invalid label target `%s`: label `%s` must be `key=value` with a non-empty key", s, item)
		}
		if seen[k] {
			return Target{}, invalid(s, "invalid label target `%s`: duplicate label key `%s`", s, k)
		}
		seen[k] = true
		t.Labels = append(t.Labels, LabelPair{Key: k, Value: v})
	}
	return t, nil
}

// LabelMap returns the labels as a map.
func (t Target) LabelMap() map[string]string {
	m := make(map[string]string, len(t.Labels))
	for _, l := range t.Labels {
		m[l.Key] = l.Value
	}
	return m
}

// NewLabel builds a label target from a map, ordering keys alphabetically.
func NewLabel(labels map[string]string, container string) Target {
	t := Target{Kind: Label, Container: container}
	for k, v := range labels {
		t.Labels = append(t.Labels, LabelPair{Key: k, Value: v})
	}
	sort.Slice(t.Labels, func(i, j int) bool { return t.Labels[i].Key < t.Labels[j].Key })
	return t
}

// String prints the target path in canonical form (the "deploy" alias is
// printed as "deployment").
func (t Target) String() string {
	var b strings.Builder
	switch t.Kind {
	case Targetless:
		return string(Targetless)
	case Label:
		b.WriteString("label/")
		for i, l := range t.Labels {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(l.Key)
			b.WriteByte('=')
			b.WriteString(l.Value)
		}
	default:
		b.WriteString(string(t.Kind))
		b.WriteByte('/')
		b.WriteString(t.Name)
	}
	if t.Container != "" {
		b.WriteString("/container/")
		b.WriteString(t.Container)
	}
	return b.String()
}
