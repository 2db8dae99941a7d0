package agentpod

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/mirrord-ls/mirrord-ls/schema"
)

// FromConfig fills the agent settings of Params from the resolved config's
// agent section: image, pull policy and secrets, labels, annotations, node
// selector, tolerations, resources, service account, priority class,
// disabled capabilities, privileged, ttl, communication timeout, log level
// and ephemeral. The caller sets SessionID, Namespace, Target, TargetPath
// and Branch.
func FromConfig(a schema.AgentConfig) (Params, error) {
	p := Params{
		Image:                a.Image,
		ImagePullPolicy:      corev1.PullPolicy(a.ImagePullPolicy),
		TTL:                  int32(a.TTL),
		Ephemeral:            a.Ephemeral,
		LogLevel:             a.LogLevel,
		Labels:               a.Labels,
		Annotations:          a.Annotations,
		NodeSelector:         a.NodeSelector,
		DisabledCapabilities: a.DisabledCapabilities,
		Privileged:           a.Privileged,
		Port:                 RandomPort(),
	}
	if a.CommunicationTimeout != nil {
		p.CommunicationTimeout = time.Duration(*a.CommunicationTimeout) * time.Second
	}
	if a.ServiceAccount != nil {
		p.ServiceAccount = *a.ServiceAccount
	}
	if a.PriorityClass != nil {
		p.PriorityClass = *a.PriorityClass
	}
	for _, s := range a.ImagePullSecrets {
		if s.Name != "" {
			p.ImagePullSecret = append(p.ImagePullSecret, s.Name)
		}
	}
	// Tolerations and resources have the Kubernetes JSON shape (the
	// config engine already filled in mirrord's defaults).
	if a.Tolerations != nil {
		p.Tolerations = []corev1.Toleration{}
		if err := decodeInto(a.Tolerations, &p.Tolerations, "agent.tolerations"); err != nil {
			return Params{}, err
		}
	}
	if len(a.Resources.Limits) > 0 || len(a.Resources.Requests) > 0 || len(a.Resources.Claims) > 0 {
		var res corev1.ResourceRequirements
		if err := decodeInto(a.Resources, &res, "agent.resources"); err != nil {
			return Params{}, err
		}
		p.Resources = &res
	}
	return p, nil
}
