package schema

import (
	"encoding/json"

	"github.com/mirrord-ls/mirrord-ls/internal/targetpath"
)

// VerifiedTarget renders a target the way `mirrord verify-config` prints
// config.path: nil → null, targetless → "targetless", a label target →
// {"labels": {...}} (with "container" only when set), any other kind →
// {"<object key>": name, "container": name|null}.
func VerifiedTarget(t *targetpath.Target) any {
	if t == nil {
		return nil
	}
	switch t.Kind {
	case targetpath.Targetless:
		return "targetless"
	case targetpath.Label:
		m := map[string]any{"labels": t.LabelMap()}
		if t.Container != "" {
			m["container"] = t.Container
		}
		return m
	}
	return kindTarget{key: t.Kind.ObjectKey(), name: t.Name, container: t.Container}
}

// kindTarget prints {"<kind>": name, "container": c|null} with the kind
// key first, as mirrord does.
type kindTarget struct{ key, name, container string }

func (k kindTarget) MarshalJSON() ([]byte, error) {
	key, err := json.Marshal(k.key)
	if err != nil {
		return nil, err
	}
	name, err := json.Marshal(k.name)
	if err != nil {
		return nil, err
	}
	c := []byte("null")
	if k.container != "" {
		if c, err = json.Marshal(k.container); err != nil {
			return nil, err
		}
	}
	out := append([]byte("{"), key...)
	out = append(append(append(out, ':'), name...), `,"container":`...)
	return append(append(out, c...), '}'), nil
}

// MarshalJSON prints the path in VerifiedTarget form.
func (t TargetConfig) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Path      any     `json:"path"`
		Namespace *string `json:"namespace"`
	}{VerifiedTarget(t.Path), t.Namespace})
}

// CompatibleTargetTypes lists the target types a picker may offer for a
// config (verify-config's compatible_target_types): label is never
// offered; targetless, rollout and service not with copy_target; pod not
// with copy_target and scale_down.
func CompatibleTargetTypes(c *Config) []string {
	copyOn := c != nil && c.Feature.CopyTarget.Enabled
	scaleDown := copyOn && c.Feature.CopyTarget.ScaleDown
	var out []string
	for _, k := range []targetpath.Kind{targetpath.Targetless, targetpath.Pod, targetpath.Deployment, targetpath.Rollout,
		targetpath.Job, targetpath.CronJob, targetpath.StatefulSet, targetpath.Service, targetpath.ReplicaSet} {
		switch k {
		case targetpath.Targetless, targetpath.Rollout, targetpath.Service:
			if copyOn {
				continue
			}
		case targetpath.Pod:
			if scaleDown {
				continue
			}
		}
		out = append(out, string(k))
	}
	return out
}
