// Package agentpod creates mirrord agents in a cluster and connects to them:
//
//   - a targeted agent is a Job pinned to the target pod's node (nodeName),
//     with hostPID and the capabilities it needs to enter the target's
//     namespaces; it finds the target by its container id;
//   - with agent.ephemeral it is an ephemeral container of the target pod
//     instead, sharing the target container's process namespace
//     (targetContainerName), so the target's main process is pid 1;
//   - a targetless agent is a plain Job in the agent namespace.
//
// The session token never appears in a pod spec: it lives in a Secret of its
// own, and the agent container reads it through an env var that references
// that Secret (secretKeyRef), so only principals allowed to read Secrets in
// the namespace can learn it; whoever can read pods cannot.
//
// The agent listens on its own pod's loopback on a random port; clients
// reach it only through the pods/portforward subresource (Dial).
package agentpod

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Labels and annotations the agent's objects carry.
const (
	// LabelApp=mirrord keeps agents out of target listings (kube/listing).
	LabelApp = "app"
	AppValue = "mirrord"
	// LabelSession names the session an agent belongs to.
	LabelSession = "mirrord-ls.dev/session"
	// AnnotationBranch is the git branch the session was started from.
	AnnotationBranch = "mirrord-ls.dev/git-branch"
	// AnnotationTarget is the target path the agent serves.
	AnnotationTarget = "mirrord-ls.dev/target"
	// ContainerName is the agent container's name in a Job.
	ContainerName = "mirrord-agent"
	// SecretKey is the key of the token in the session Secret.
	SecretKey = "token"
	// TokenEnv is the variable the agent reads its token from.
	TokenEnv = "MIRRORD_AGENT_TOKEN"
	// Command is how the image starts the agent (mirrord-agent on PATH).
	Command = "mirrord-agent"
)

// DefaultCapabilities are the capabilities of a targeted agent before
// agent.disabled_capabilities is applied.
var DefaultCapabilities = []corev1.Capability{"NET_ADMIN", "NET_RAW", "SYS_PTRACE", "SYS_ADMIN"}

// Target is the pod and container a targeted agent attaches to.
type Target struct {
	Pod, Namespace, Node string
	Container            string
	// ContainerID is "<runtime>://<id>" from the pod status.
	ContainerID string
}

// Params describe one agent.
type Params struct {
	SessionID string
	// Namespace of the Job and the Secret. Ignored for ephemeral agents,
	// which live in the target pod (and their Secret in its namespace).
	Namespace string
	// Target is nil for a targetless agent.
	Target     *Target
	TargetPath string // for the annotation, e.g. "deployment/api"
	Branch     string
	Ephemeral  bool

	Image           string
	ImagePullPolicy corev1.PullPolicy
	ImagePullSecret []string
	Labels          map[string]string
	Annotations     map[string]string
	NodeSelector    map[string]string
	// Tolerations nil means mirrord's default (tolerate everything).
	Tolerations []corev1.Toleration
	// Resources nil means mirrord's defaults (1m/1Mi requests, 1/100Mi limits).
	Resources            *corev1.ResourceRequirements
	ServiceAccount       string
	PriorityClass        string
	DisabledCapabilities []string
	Privileged           bool
	// TTL is the Job's ttlSecondsAfterFinished.
	TTL int32
	// Port the agent listens on (on its pod's loopback); 0 picks one.
	Port                 int32
	CommunicationTimeout time.Duration
	LogLevel             string
}

// RandomPort picks a port for the agent, away from common service ports
// (an ephemeral agent shares the target's network namespace).
func RandomPort() int32 { return 30000 + rand.Int32N(30000) }

// Name is the Job / container name for a session.
func Name(sessionID string) string {
	id := strings.ToLower(sessionID)
	var b strings.Builder
	for _, r := range id {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	s := b.String()
	if len(s) > 12 {
		s = s[:12]
	}
	return "mirrord-agent-" + s
}

// SecretName is the name of the session's token Secret.
func SecretName(sessionID string) string { return Name(sessionID) + "-token" }

// Capabilities returns DefaultCapabilities minus disabled (case-insensitive).
func (p *Params) Capabilities() []corev1.Capability {
	var out []corev1.Capability
	for _, c := range DefaultCapabilities {
		if !slices.ContainsFunc(p.DisabledCapabilities, func(d string) bool {
			return strings.EqualFold(strings.TrimPrefix(strings.ToUpper(d), "CAP_"), string(c))
		}) {
			out = append(out, c)
		}
	}
	return out
}

func (p *Params) objectLabels() map[string]string {
	l := map[string]string{}
	for k, v := range p.Labels {
		l[k] = v
	}
	l[LabelApp] = AppValue
	l[LabelSession] = labelValue(p.SessionID)
	return l
}

func (p *Params) objectAnnotations() map[string]string {
	a := map[string]string{}
	for k, v := range p.Annotations {
		a[k] = v
	}
	if p.Branch != "" {
		a[AnnotationBranch] = p.Branch
	}
	if p.TargetPath != "" {
		a[AnnotationTarget] = p.TargetPath
	}
	return a
}

// labelValue makes s a valid label value (63 chars, alphanumerics, -_.).
func labelValue(s string) string {
	var b strings.Builder
	for _, r := range s {
		if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '-' || r == '_' || r == '.' {
			b.WriteRune(r)
		}
	}
	v := strings.Trim(b.String(), "-_.")
	if len(v) > 63 {
		v = strings.Trim(v[:63], "-_.")
	}
	return v
}

// args are the agent's command-line arguments.
func (p *Params) args() []string {
	a := []string{}
	switch {
	case p.Target == nil:
		a = append(a, "targetless")
	case p.Ephemeral:
		// Sharing the target container's process namespace, the target's
		// main process is pid 1.
		a = append(a, "--pid", "1")
	default:
		a = append(a, "--container-id", p.Target.ContainerID)
	}
	a = append(a, "--listen", "127.0.0.1:"+strconv.Itoa(int(p.Port)))
	if p.CommunicationTimeout > 0 {
		a = append(a, "--communication-timeout", p.CommunicationTimeout.String())
	}
	if lvl := agentLogLevel(p.LogLevel); lvl != "" {
		a = append(a, "--log-level", lvl)
	}
	return a
}

// agentLogLevel maps agent.log_level (RUST_LOG syntax) to the agent's
// levels; anything it cannot map leaves the agent's default.
func agentLogLevel(rust string) string {
	switch strings.ToLower(strings.TrimSpace(rust)) {
	case "trace", "debug":
		return "debug"
	case "info":
		return "info"
	case "warn":
		return "warn"
	case "error":
		return "error"
	}
	return ""
}

func (p *Params) tokenEnv() []corev1.EnvVar {
	return []corev1.EnvVar{{
		Name: TokenEnv,
		ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: SecretName(p.SessionID)},
			Key:                  SecretKey,
		}},
	}}
}

func (p *Params) securityContext() *corev1.SecurityContext {
	sc := &corev1.SecurityContext{}
	if p.Privileged {
		sc.Privileged = ptr(true)
	}
	if p.Target != nil {
		sc.Capabilities = &corev1.Capabilities{Add: p.Capabilities()}
	}
	return sc
}

// DefaultResources are mirrord's agent resources when agent.resources is unset.
func DefaultResources() corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1m"), corev1.ResourceMemory: resource.MustParse("1Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("100Mi")},
	}
}

// Secret is the session's token Secret, in ns.
func (p *Params) Secret(ns, token string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: SecretName(p.SessionID), Namespace: ns, Labels: p.objectLabels()},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{SecretKey: []byte(token)},
	}
}

// Job is the agent Job of a targeted or targetless session.
func (p *Params) Job() *batchv1.Job {
	tolerations := p.Tolerations
	if tolerations == nil {
		tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
	}
	res := DefaultResources()
	if p.Resources != nil {
		res = *p.Resources
	}
	var pullSecrets []corev1.LocalObjectReference
	for _, s := range p.ImagePullSecret {
		pullSecrets = append(pullSecrets, corev1.LocalObjectReference{Name: s})
	}
	podAnnotations := p.objectAnnotations()
	// The agent must not get a mesh sidecar (disable_mesh_sidecar_injection).
	podAnnotations["sidecar.istio.io/inject"] = "false"
	podAnnotations["linkerd.io/inject"] = "disabled"
	spec := corev1.PodSpec{
		RestartPolicy:      corev1.RestartPolicyNever,
		ImagePullSecrets:   pullSecrets,
		ServiceAccountName: p.ServiceAccount,
		NodeSelector:       p.NodeSelector,
		Tolerations:        tolerations,
		PriorityClassName:  p.PriorityClass,
		Containers: []corev1.Container{{
			Name:            ContainerName,
			Image:           p.Image,
			ImagePullPolicy: p.ImagePullPolicy,
			Command:         []string{Command},
			Args:            p.args(),
			Env:             p.tokenEnv(),
			Resources:       res,
			SecurityContext: p.securityContext(),
		}},
	}
	if p.Target != nil {
		spec.HostPID = true
		spec.NodeName = p.Target.Node
	}
	ttl := p.TTL
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name: Name(p.SessionID), Namespace: p.Namespace,
			Labels: p.objectLabels(), Annotations: p.objectAnnotations(),
		},
		Spec: batchv1.JobSpec{
			BackoffLimit:            ptr(int32(0)),
			TTLSecondsAfterFinished: &ttl,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: p.objectLabels(), Annotations: podAnnotations},
				Spec:       spec,
			},
		},
	}
}

// EphemeralContainer is the agent as an ephemeral container of the target
// pod. Ephemeral containers take no resources, ports or probes.
func (p *Params) EphemeralContainer() corev1.EphemeralContainer {
	target := ""
	if p.Target != nil {
		target = p.Target.Container
	}
	return corev1.EphemeralContainer{
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name:            Name(p.SessionID),
			Image:           p.Image,
			ImagePullPolicy: p.ImagePullPolicy,
			Command:         []string{Command},
			Args:            p.args(),
			Env:             p.tokenEnv(),
			SecurityContext: p.securityContext(),
		},
		TargetContainerName: target,
	}
}

func ptr[T any](v T) *T { return &v }

// decodeInto converts a decoded config value (maps, lists, scalars) into a
// Kubernetes type through its JSON form.
func decodeInto(v any, dst any, field string) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	return nil
}
