// Wrapper module that builds kube-apiserver, kube-controller-manager and
// kube-scheduler of k8s.io/kubernetes from the Go module proxy. The
// upstream go.mod replaces every k8s.io/X staging module with a local
// directory that the module zip does not contain; here each of them is
// required at its published version (v0.36.3) instead.
module github.com/mirrord-ls/mirrord-ls/tools/cluster/kubernetes

go 1.26.0

godebug default=go1.26

require (
	k8s.io/kubernetes v1.36.3
	k8s.io/api v0.36.3
	k8s.io/apiextensions-apiserver v0.36.3
	k8s.io/apimachinery v0.36.3
	k8s.io/apiserver v0.36.3
	k8s.io/cli-runtime v0.36.3
	k8s.io/client-go v0.36.3
	k8s.io/cloud-provider v0.36.3
	k8s.io/cluster-bootstrap v0.36.3
	k8s.io/code-generator v0.36.3
	k8s.io/component-base v0.36.3
	k8s.io/component-helpers v0.36.3
	k8s.io/controller-manager v0.36.3
	k8s.io/cri-api v0.36.3
	k8s.io/cri-client v0.36.3
	k8s.io/cri-streaming v0.36.3
	k8s.io/csi-translation-lib v0.36.3
	k8s.io/dynamic-resource-allocation v0.36.3
	k8s.io/endpointslice v0.36.3
	k8s.io/externaljwt v0.36.3
	k8s.io/kms v0.36.3
	k8s.io/kube-aggregator v0.36.3
	k8s.io/kube-controller-manager v0.36.3
	k8s.io/kube-proxy v0.36.3
	k8s.io/kube-scheduler v0.36.3
	k8s.io/kubectl v0.36.3
	k8s.io/kubelet v0.36.3
	k8s.io/metrics v0.36.3
	k8s.io/mount-utils v0.36.3
	k8s.io/pod-security-admission v0.36.3
	k8s.io/sample-apiserver v0.36.3
	k8s.io/streaming v0.36.3
)

tool (
	k8s.io/kubernetes/cmd/kube-apiserver
	k8s.io/kubernetes/cmd/kube-controller-manager
	k8s.io/kubernetes/cmd/kube-scheduler
)
