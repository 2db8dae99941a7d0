// Package realnode proves the product's main job on the local cluster's
// real node (containerd + kubelet + kube-proxy + CoreDNS, our agent image):
// `mirrord exec`, `mirrord ext`, mirrord-ls startSession and `mirrord
// port-forward` run a local process in the context of real pods, and the
// node itself behaves as a cluster users would recognise (Service DNS,
// ClusterIPs, kubectl port-forward) while nothing leaves the machine.
//
// The tests need root and the images of `make images`; `make test` provides
// both. They share one namespace of workloads and run one after another.
package realnode
