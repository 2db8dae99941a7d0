package agentpod

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/mirrord-ls/mirrord-ls/schema"
)

// FromConfig fills the agent settings of Params from the resolved config's
// agent section (typed fields and the pass-through ones: labels,
// annotations, node_selector, tolerations, resources, service_account,
// priority_class, image_pull_secrets, disabled_capabilities, privileged).
// The caller sets SessionID, Namespace, Target, TargetPath and Branch.
func FromConfig(a schema.AgentConfig) (Params, error) {
	p := Params{
		Image:           a.Image,
		ImagePullPolicy: corev1.PullPolicy(a.ImagePullPolicy),
		TTL:             int32(a.TTL),
		Ephemeral:       a.Ephemeral,
		LogLevel:        a.LogLevel,
		Port:            RandomPort(),
	}
	if a.CommunicationTimeout != nil {
		p.CommunicationTimeout = time.Duration(*a.CommunicationTimeout) * time.Second
	}
	o := a.Other
	type field struct {
		key string
		dst any
	}
	var secrets []struct {
		Name string `json:"name"`
	}
	var res corev1.ResourceRequirements
	var tol []corev1.Toleration
	var privileged *bool
	for _, f := range []field{
		{"labels", &p.Labels},
		{"annotations", &p.Annotations},
		{"node_selector", &p.NodeSelector},
		{"service_account", &p.ServiceAccount},
		{"priority_class", &p.PriorityClass},
		{"disabled_capabilities", &p.DisabledCapabilities},
		{"image_pull_secrets", &secrets},
		{"tolerations", &tol},
		{"resources", &res},
		{"privileged", &privileged},
	} {
		v, ok := o[f.key]
		if !ok || v == nil {
			continue
		}
		if err := decodeInto(v, f.dst, "agent."+f.key); err != nil {
			return Params{}, err
		}
		switch f.key {
		case "tolerations":
			p.Tolerations = tol
			if p.Tolerations == nil {
				p.Tolerations = []corev1.Toleration{}
			}
		case "resources":
			r := res
			p.Resources = &r
		}
	}
	for _, s := range secrets {
		if s.Name != "" {
			p.ImagePullSecret = append(p.ImagePullSecret, s.Name)
		}
	}
	if privileged != nil {
		p.Privileged = *privileged
	}
	return p, nil
}
