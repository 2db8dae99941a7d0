package agentpod

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// Agent is a created agent: where it runs and what to delete.
type Agent struct {
	SessionID string `json:"session_id"`
	Namespace string `json:"namespace"`
	// Job is empty for an ephemeral agent.
	Job    string `json:"job,omitempty"`
	Secret string `json:"secret"`
	// Pod is the agent's pod (the target pod for an ephemeral agent); known
	// once WaitReady returned.
	Pod string `json:"pod,omitempty"`
	// Container is the agent container's name.
	Container string `json:"container"`
	Ephemeral bool   `json:"ephemeral,omitempty"`
	Port      int32  `json:"port"`
	Image     string `json:"image"`

	// since is the pods' resource version before the agent was created:
	// WaitReady watches from it, so it sees every state of the agent's pod
	// (a pod that ran and ended before the wait began included).
	since string
}

// listOptions select the agent's pod.
func (a *Agent) listOptions() metav1.ListOptions {
	if a.Ephemeral {
		return metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", a.Pod).String()}
	}
	return metav1.ListOptions{LabelSelector: labels.SelectorFromSet(labels.Set{"job-name": a.Job}).String()}
}

// mark records the resource version WaitReady starts watching from.
func (a *Agent) mark(ctx context.Context, client kubernetes.Interface) error {
	list, err := client.CoreV1().Pods(a.Namespace).List(ctx, a.listOptions())
	if err != nil {
		return fmt.Errorf("list pods in %s: %w", a.Namespace, err)
	}
	a.since = list.ResourceVersion
	return nil
}

// Create makes the session Secret and the agent (a Job, or an ephemeral
// container of the target pod). On error nothing it created is left.
func Create(ctx context.Context, client kubernetes.Interface, p Params, token string) (*Agent, error) {
	if p.Port == 0 {
		p.Port = RandomPort()
	}
	if p.Ephemeral && p.Target == nil {
		return nil, errors.New("agent.ephemeral needs a target: a targetless agent cannot be an ephemeral container")
	}
	ns := p.Namespace
	if p.Ephemeral {
		ns = p.Target.Namespace
	}
	if ns == "" {
		return nil, errors.New("no namespace for the agent")
	}
	a := &Agent{SessionID: p.SessionID, Namespace: ns, Secret: SecretName(p.SessionID), Port: p.Port, Image: p.Image, Ephemeral: p.Ephemeral}
	secrets := client.CoreV1().Secrets(ns)
	if _, err := secrets.Create(ctx, p.Secret(ns, token), metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("create the agent's token Secret in %s: %w", ns, err)
	}
	fail := func(err error) (*Agent, error) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = a.Delete(cctx, client)
		return nil, err
	}
	if p.Ephemeral {
		ec := p.EphemeralContainer()
		a.Container, a.Pod = ec.Name, p.Target.Pod
		if err := a.mark(ctx, client); err != nil {
			return fail(err)
		}
		pods := client.CoreV1().Pods(ns)
		pod, err := pods.Get(ctx, p.Target.Pod, metav1.GetOptions{})
		if err != nil {
			return fail(fmt.Errorf("get target pod %s/%s: %w", ns, p.Target.Pod, err))
		}
		pod.Spec.EphemeralContainers = append(pod.Spec.EphemeralContainers, ec)
		if _, err := pods.UpdateEphemeralContainers(ctx, pod.Name, pod, metav1.UpdateOptions{}); err != nil {
			return fail(fmt.Errorf("add the agent as an ephemeral container of pod %s/%s: %w", ns, pod.Name, err))
		}
		if err := a.own(ctx, client, metav1.OwnerReference{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID}); err != nil {
			return fail(err)
		}
		return a, nil
	}
	job := p.Job()
	job.Namespace = ns
	a.Job, a.Container = job.Name, ContainerName
	if err := a.mark(ctx, client); err != nil {
		return fail(err)
	}
	created, err := client.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{})
	if err != nil {
		return fail(fmt.Errorf("create the agent Job in %s: %w", ns, err))
	}
	if err := a.own(ctx, client, metav1.OwnerReference{APIVersion: "batch/v1", Kind: "Job", Name: created.Name, UID: created.UID}); err != nil {
		return fail(err)
	}
	return a, nil
}

// own makes the token Secret a dependent of the agent's Job (or of the
// target pod), so the garbage collector removes it with its owner even
// when nobody calls Delete (a crashed session; the Job's TTL).
func (a *Agent) own(ctx context.Context, client kubernetes.Interface, ref metav1.OwnerReference) error {
	secrets := client.CoreV1().Secrets(a.Namespace)
	s, err := secrets.Get(ctx, a.Secret, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get the agent's token Secret: %w", err)
	}
	s.OwnerReferences = append(s.OwnerReferences, ref)
	if _, err := secrets.Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("make the token Secret owned by %s %s: %w", ref.Kind, ref.Name, err)
	}
	return nil
}

// Delete removes the agent Job (with its pods) and the token Secret. An
// ephemeral container cannot be removed from its pod: deleting the Secret
// is all there is, and the agent exits when its last client leaves.
func (a *Agent) Delete(ctx context.Context, client kubernetes.Interface) error {
	var errs []error
	if a.Job != "" {
		bg := metav1.DeletePropagationBackground
		err := client.BatchV1().Jobs(a.Namespace).Delete(ctx, a.Job, metav1.DeleteOptions{PropagationPolicy: &bg})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete agent Job %s/%s: %w", a.Namespace, a.Job, err))
		}
	}
	if a.Secret != "" {
		err := client.CoreV1().Secrets(a.Namespace).Delete(ctx, a.Secret, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete agent Secret %s/%s: %w", a.Namespace, a.Secret, err))
		}
	}
	return errors.Join(errs...)
}

// ErrImagePull, ErrUnschedulable, ErrTimeout and ErrExited classify
// readiness failures (errors.Is).
var (
	ErrImagePull     = errors.New("agent image cannot be pulled")
	ErrUnschedulable = errors.New("agent pod cannot be scheduled")
	ErrTimeout       = errors.New("agent not ready in time")
	ErrExited        = errors.New("agent exited")
)

// imagePullReasons are the waiting reasons of an image that cannot be pulled.
var imagePullReasons = map[string]bool{
	"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true,
	"ErrImageNeverPull": true, "RegistryUnavailable": true,
}

// createFailReasons are waiting reasons that will not fix themselves.
var createFailReasons = map[string]bool{"CreateContainerConfigError": true, "CreateContainerError": true, "RunContainerError": true}

// verdict is what one pod state means for readiness.
type verdict struct {
	ready   bool
	err     error
	pending string // why it is not ready yet (for the timeout error)
}

// check looks at the agent's pod.
func (a *Agent) check(pod *corev1.Pod) verdict {
	var st *corev1.ContainerStatus
	statuses := pod.Status.ContainerStatuses
	if a.Ephemeral {
		statuses = pod.Status.EphemeralContainerStatuses
	}
	for i := range statuses {
		if statuses[i].Name == a.Container {
			st = &statuses[i]
		}
	}
	if st != nil {
		if w := st.State.Waiting; w != nil {
			switch {
			case imagePullReasons[w.Reason]:
				return verdict{err: fmt.Errorf("%w: %s: %s (image %s; check agent.image and agent.image_pull_secrets)", ErrImagePull, w.Reason, w.Message, a.Image)}
			case createFailReasons[w.Reason]:
				return verdict{err: fmt.Errorf("%w: %s: %s (%s)", ErrExited, w.Reason, strings.TrimSpace(w.Message), a.imageHint())}
			case w.Reason == "CrashLoopBackOff":
				return verdict{err: fmt.Errorf("%w before it was ready: the container keeps crashing (CrashLoopBackOff%s) (%s)", ErrExited, lastExit(st), a.imageHint())}
			}
		}
		if t := st.State.Terminated; t != nil {
			return verdict{err: fmt.Errorf("%w before it was ready: %s (%s)", ErrExited, describeExit(t), a.imageHint())}
		}
		if st.State.Running != nil && (a.Ephemeral || st.Ready) {
			return verdict{ready: true}
		}
	}
	switch pod.Status.Phase {
	case corev1.PodFailed, corev1.PodSucceeded:
		return verdict{err: fmt.Errorf("%w before it was ready: pod %s is %s: %s %s (%s)", ErrExited, pod.Name, pod.Status.Phase,
			pod.Status.Reason, strings.TrimSpace(pod.Status.Message), a.imageHint())}
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return verdict{pending: fmt.Sprintf("%v: %s", ErrUnschedulable, c.Message)}
		}
	}
	if st != nil && st.State.Waiting != nil {
		return verdict{pending: fmt.Sprintf("container %s is waiting: %s %s", a.Container, st.State.Waiting.Reason, st.State.Waiting.Message)}
	}
	if pod.Spec.NodeName == "" {
		return verdict{pending: "pod " + pod.Name + " is not scheduled yet"}
	}
	return verdict{pending: fmt.Sprintf("pod %s is %s on node %s", pod.Name, pod.Status.Phase, pod.Spec.NodeName)}
}

// imageHint names the agent's image for errors of an agent container that
// could not start or ended: most often an image that is not this project's
// agent (the official mirrord agent image does not know its flags, nor has
// it mirrord-agent on its PATH).
func (a *Agent) imageHint() string {
	return fmt.Sprintf("image %s; check agent.image: it must be a mirrord-ls agent image (`make agent-image`) with %s on its PATH", a.Image, Command)
}

// describeExit says how a container ended: reason, exit code or signal,
// and its termination message.
func describeExit(t *corev1.ContainerStateTerminated) string {
	msg := t.Reason
	if msg == "" {
		msg = "terminated"
	}
	if t.Signal != 0 {
		msg += fmt.Sprintf(" (signal %d)", t.Signal)
	} else {
		msg += fmt.Sprintf(" (exit code %d)", t.ExitCode)
	}
	if m := strings.TrimSpace(t.Message); m != "" {
		msg += ": " + m
	}
	return msg
}

// lastExit describes the previous run of a restarting container.
func lastExit(st *corev1.ContainerStatus) string {
	if t := st.LastTerminationState.Terminated; t != nil {
		return "; last run: " + describeExit(t)
	}
	return ""
}

// WaitReady watches the agent's pod until its container runs (and, in a
// Job, is ready), failing early on an image that cannot be pulled or a
// container that ended, and with ErrTimeout (wrapping what it waited for)
// after timeout. It records the pod's name in a.Pod.
func (a *Agent) WaitReady(ctx context.Context, client kubernetes.Interface, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pods := client.CoreV1().Pods(a.Namespace)
	opts := a.listOptions()
	pending := "the Job has not created its pod yet"
	since := a.since
	for {
		if since == "" {
			list, err := pods.List(ctx, opts)
			if err != nil {
				return a.waitError(ctx, pending, fmt.Errorf("list agent pods: %w", err))
			}
			for i := range list.Items {
				v := a.check(&list.Items[i])
				if v.ready || v.err != nil {
					a.Pod = list.Items[i].Name
					return v.err
				}
				pending = v.pending
			}
			since = list.ResourceVersion
		}
		opts.ResourceVersion, opts.AllowWatchBookmarks = since, true
		w, err := pods.Watch(ctx, opts)
		since = "" // a later round lists again
		if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
			continue
		}
		if err != nil {
			return a.waitError(ctx, pending, fmt.Errorf("watch agent pods: %w", err))
		}
		done, err := a.consume(ctx, w, &pending)
		w.Stop()
		if done || err != nil {
			return err
		}
		// The watch ended (timeout or compaction): list again.
	}
}

// consume reads watch events until the agent is ready, failed, or the
// watch ends (done=false, err=nil: relist).
func (a *Agent) consume(ctx context.Context, w watch.Interface, pending *string) (bool, error) {
	for {
		select {
		case <-ctx.Done():
			return true, a.waitError(ctx, *pending, nil)
		case ev, ok := <-w.ResultChan():
			if !ok {
				return false, nil
			}
			if ev.Type == watch.Error {
				return false, nil
			}
			pod, isPod := ev.Object.(*corev1.Pod)
			if !isPod || ev.Type == watch.Deleted || ev.Type == watch.Bookmark {
				continue
			}
			v := a.check(pod)
			if v.ready || v.err != nil {
				a.Pod = pod.Name
				return true, v.err
			}
			*pending = v.pending
		}
	}
}

func (a *Agent) waitError(ctx context.Context, pending string, cause error) error {
	if ctx.Err() == nil && cause != nil {
		return cause
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return ctx.Err()
	}
	what := "Job " + a.Job
	if a.Ephemeral {
		what = "ephemeral container " + a.Container + " of pod " + a.Pod
	}
	if strings.HasPrefix(pending, ErrUnschedulable.Error()) {
		return fmt.Errorf("%w (agent %s in %s): %w: %s", ErrTimeout, what, a.Namespace, ErrUnschedulable, strings.TrimPrefix(pending, ErrUnschedulable.Error()+": "))
	}
	return fmt.Errorf("%w (agent %s in %s; raise agent.startup_timeout if the cluster is slow): %s", ErrTimeout, what, a.Namespace, pending)
}
