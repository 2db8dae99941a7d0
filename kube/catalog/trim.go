package catalog

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/cache"

	"github.com/mirrord-ls/mirrord-ls/kube/podselect"
)

// The cache keeps only what listing, container choice and selectors need:
// informer transforms replace each object with a trimmed copy before it is
// stored, which keeps tens of thousands of pods in tens of megabytes.

func trimMeta(m *metav1.ObjectMeta) metav1.ObjectMeta {
	out := metav1.ObjectMeta{
		Name:              m.Name,
		Namespace:         m.Namespace,
		UID:               m.UID,
		ResourceVersion:   m.ResourceVersion,
		Labels:            m.Labels,
		DeletionTimestamp: m.DeletionTimestamp,
		CreationTimestamp: m.CreationTimestamp,
	}
	if c := metav1.GetControllerOfNoCopy(m); c != nil {
		out.OwnerReferences = []metav1.OwnerReference{*c}
	}
	if v, ok := m.Annotations[podselect.DefaultContainerAnnotation]; ok {
		out.Annotations = map[string]string{podselect.DefaultContainerAnnotation: v}
	}
	return out
}

func trimTemplate(t *corev1.PodTemplateSpec) corev1.PodTemplateSpec {
	out := corev1.PodTemplateSpec{}
	if v, ok := t.Annotations[podselect.DefaultContainerAnnotation]; ok {
		out.Annotations = map[string]string{podselect.DefaultContainerAnnotation: v}
	}
	out.Spec.Containers = make([]corev1.Container, len(t.Spec.Containers))
	for i, c := range t.Spec.Containers {
		out.Spec.Containers[i] = corev1.Container{Name: c.Name}
	}
	return out
}

func trimPod(p *corev1.Pod) *corev1.Pod {
	out := &corev1.Pod{ObjectMeta: trimMeta(&p.ObjectMeta)}
	out.Spec.NodeName = p.Spec.NodeName
	out.Spec.Containers = make([]corev1.Container, len(p.Spec.Containers))
	for i, c := range p.Spec.Containers {
		out.Spec.Containers[i] = corev1.Container{Name: c.Name}
	}
	out.Status.Phase = p.Status.Phase
	out.Status.PodIP = p.Status.PodIP
	out.Status.PodIPs = p.Status.PodIPs
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			out.Status.Conditions = []corev1.PodCondition{{Type: c.Type, Status: c.Status}}
		}
	}
	out.Status.ContainerStatuses = make([]corev1.ContainerStatus, len(p.Status.ContainerStatuses))
	for i, s := range p.Status.ContainerStatuses {
		out.Status.ContainerStatuses[i] = corev1.ContainerStatus{Name: s.Name, Ready: s.Ready, ContainerID: s.ContainerID}
	}
	return out
}

// transform trims any object the catalog watches; unknown objects (and the
// tombstones of deletions) pass through unchanged.
func transform(obj any) (any, error) {
	switch o := obj.(type) {
	case *corev1.Pod:
		return trimPod(o), nil
	case *appsv1.Deployment:
		return &appsv1.Deployment{ObjectMeta: trimMeta(&o.ObjectMeta),
			Spec: appsv1.DeploymentSpec{Selector: o.Spec.Selector, Template: trimTemplate(&o.Spec.Template)},
			Status: appsv1.DeploymentStatus{AvailableReplicas: o.Status.AvailableReplicas,
				ReadyReplicas: o.Status.ReadyReplicas, Replicas: o.Status.Replicas}}, nil
	case *appsv1.StatefulSet:
		return &appsv1.StatefulSet{ObjectMeta: trimMeta(&o.ObjectMeta),
			Spec: appsv1.StatefulSetSpec{Selector: o.Spec.Selector, Template: trimTemplate(&o.Spec.Template)},
			Status: appsv1.StatefulSetStatus{AvailableReplicas: o.Status.AvailableReplicas,
				ReadyReplicas: o.Status.ReadyReplicas, Replicas: o.Status.Replicas}}, nil
	case *appsv1.ReplicaSet:
		return &appsv1.ReplicaSet{ObjectMeta: trimMeta(&o.ObjectMeta),
			Spec: appsv1.ReplicaSetSpec{Selector: o.Spec.Selector, Template: trimTemplate(&o.Spec.Template)},
			Status: appsv1.ReplicaSetStatus{AvailableReplicas: o.Status.AvailableReplicas,
				ReadyReplicas: o.Status.ReadyReplicas, Replicas: o.Status.Replicas}}, nil
	case *batchv1.Job:
		return &batchv1.Job{ObjectMeta: trimMeta(&o.ObjectMeta),
			Spec:   batchv1.JobSpec{Selector: o.Spec.Selector, Template: trimTemplate(&o.Spec.Template)},
			Status: batchv1.JobStatus{Active: o.Status.Active, Ready: o.Status.Ready}}, nil
	case *batchv1.CronJob:
		out := &batchv1.CronJob{ObjectMeta: trimMeta(&o.ObjectMeta)}
		out.Spec.JobTemplate.Spec.Selector = o.Spec.JobTemplate.Spec.Selector
		out.Spec.JobTemplate.Spec.Template = trimTemplate(&o.Spec.JobTemplate.Spec.Template)
		out.Status.Active = o.Status.Active
		return out, nil
	case *corev1.Service:
		return &corev1.Service{ObjectMeta: trimMeta(&o.ObjectMeta),
			Spec: corev1.ServiceSpec{Selector: o.Spec.Selector, Type: o.Spec.Type}}, nil
	case *corev1.Namespace:
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: o.Name, ResourceVersion: o.ResourceVersion},
			Status: corev1.NamespaceStatus{Phase: o.Status.Phase}}, nil
	case *unstructured.Unstructured:
		return trimRollout(o), nil
	}
	return obj, nil
}

// trimRollout keeps a Rollout's metadata, selector, workloadRef and
// container names.
func trimRollout(u *unstructured.Unstructured) *unstructured.Unstructured {
	spec := map[string]any{}
	if sel, ok, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "selector"); ok {
		spec["selector"] = sel
	}
	if ref, ok, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "workloadRef"); ok {
		spec["workloadRef"] = ref
	}
	if cs, ok, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers"); ok {
		names := make([]any, 0, len(cs))
		for _, c := range cs {
			if m, ok := c.(map[string]any); ok {
				names = append(names, map[string]any{"name": m["name"]})
			}
		}
		spec["template"] = map[string]any{"spec": map[string]any{"containers": names}}
	}
	meta := map[string]any{"name": u.GetName(), "namespace": u.GetNamespace(),
		"resourceVersion": u.GetResourceVersion(), "uid": string(u.GetUID())}
	if l := u.GetLabels(); l != nil {
		ls := make(map[string]any, len(l))
		for k, v := range l {
			ls[k] = v
		}
		meta["labels"] = ls
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": u.GetAPIVersion(), "kind": u.GetKind(), "metadata": meta, "spec": spec}}
}

var _ cache.TransformFunc = transform
