// Builds kubo (go-ipfs), the IPFS daemon the discovery tests run as real peers.
// A module of its own: kubo's dependency versions clash with Kubernetes'.
module archipel.io/hack/tools/kubo

go 1.26.5
