# shellcheck shell=bash
# A real node for a local cluster (sourced by hack/cluster for `up NAME --node`).
#
# The whole cluster — etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd and
# kubelet — runs inside one private mount + network namespace held by a `sleep` process, so that
# kubelet's writes to host-global sysctls, the fixed paths containerd and kubelet use (/run,
# /var/lib) and pod networking never touch the machine (../shared/design/EXECUTION-PLANE.md).
# Inside, every cluster looks the same: the node is 10.200.0.2 on a veth pair that leads nowhere
# (kubelet wants a node IP with a default route; nothing is routed out), pods get 10.244.0.0/24 on
# the CNI bridge, and the `kubernetes` Service's ClusterIP 10.96.0.1 is a local address of the node
# on which kube-apiserver listens at 443 — so in-cluster clients reach the API server through the
# `kubernetes` Service exactly as on a real cluster, with no kube-proxy.
# The host reaches the API server through a forwarder: socat on 127.0.0.1:PORT → a Unix socket in
# the cluster's folder → socat inside the namespace → 127.0.0.1:443. `node_forward_in` gives pods a
# way to one host loopback service (the S3 server that holds Argo's artifacts) the same way.
# Every process of the node is in the cgroup /archipel-NAME (all v1 hierarchies; kubelet's
# cgroupRoot), which is how `down` finds and kills all of them, containers included, and then
# removes the cgroups: no process, mount, cgroup or network device is left behind.

node_ip=10.200.0.2
node_gw=10.200.0.1
pod_cidr=10.244.0.0/24
kube_svc_ip=10.96.0.1

cg_controllers() { # the cgroup v1 hierarchies kubelet's cgroupfs driver writes to
  local c
  for c in cpu cpuacct cpuset memory devices freezer blkio pids systemd; do
    [ -d "/sys/fs/cgroup/$c" ] && echo "$c"
  done
  return 0
}

cg_name() { echo "archipel-$1"; }

cg_create() { # $1: cluster name
  local g c; g=$(cg_name "$1")
  for c in $(cg_controllers); do
    mkdir -p "/sys/fs/cgroup/$c/$g"
    if [ "$c" = cpuset ]; then
      cat /sys/fs/cgroup/cpuset/cpuset.cpus > "/sys/fs/cgroup/cpuset/$g/cpuset.cpus"
      cat /sys/fs/cgroup/cpuset/cpuset.mems > "/sys/fs/cgroup/cpuset/$g/cpuset.mems"
    fi
  done
  [ -d /sys/fs/cgroup/unified ] && mkdir -p "/sys/fs/cgroup/unified/$g"
  return 0
}

cg_join() { # $1: cluster name $2: pid — in every hierarchy, so kubelet sees a consistent tree
  local g c; g=$(cg_name "$1")
  for c in $(cg_controllers) unified; do
    [ -d "/sys/fs/cgroup/$c/$g" ] && echo "$2" > "/sys/fs/cgroup/$c/$g/cgroup.procs"
  done
  return 0
}

cg_pids() { # $1: cluster name — every process in the node's cgroup tree
  local g; g=$(cg_name "$1")
  [ -d "/sys/fs/cgroup/pids/$g" ] || return 0
  find "/sys/fs/cgroup/pids/$g" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u
}

cg_remove() { # $1: cluster name — kill what is left, then rmdir depth-first in every hierarchy
  local name=$1 g c pids i
  g=$(cg_name "$name")
  for i in $(seq 1 50); do
    pids=$(cg_pids "$name")
    [ -n "$pids" ] || break
    # a frozen cgroup would make SIGKILL wait: thaw first
    find "/sys/fs/cgroup/freezer/$g" -name freezer.state -exec sh -c 'echo THAWED > "$1"' _ {} \; 2>/dev/null || true
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.1
  done
  for c in $(cg_controllers) unified; do
    [ -d "/sys/fs/cgroup/$c/$g" ] || continue
    find "/sys/fs/cgroup/$c/$g" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    [ -d "/sys/fs/cgroup/$c/$g" ] && log "warning: cgroup /sys/fs/cgroup/$c/$g could not be removed"
  done
  return 0
}

# Runs a command inside the node's namespaces, in its cgroup, detached (like start_bg).
node_bg() { # $1: dir $2: name, rest: command
  local d=$1 name=$2 holder; shift 2
  holder=$(cat "$d/pids/netns")
  setsid bash -c 'echo $$ > "$1"; for c in "$2"/*/archipel-"$3"; do echo $$ > "$c/cgroup.procs" 2>/dev/null || true; done; shift 3; exec nsenter --target "$0" --net --mount -- "$@"' \
    "$holder" "$d/pids/$name" /sys/fs/cgroup "$(basename "$d")" "$@" > "$d/logs/$name.log" 2>&1 < /dev/null &
  wait_for "$name pid" 5 test -s "$d/pids/$name" || die "could not start $name"
}

# Runs a command on the host, in the node's cgroup, detached (the host end of a forwarder).
host_bg() { # $1: dir $2: name, rest: command
  local d=$1 name=$2; shift 2
  setsid bash -c 'echo $$ > "$0"; for c in "$1"/*/archipel-"$2"; do echo $$ > "$c/cgroup.procs" 2>/dev/null || true; done; shift 2; exec "$@"' \
    "$d/pids/$name" /sys/fs/cgroup "$(basename "$d")" "$@" > "$d/logs/$name.log" 2>&1 < /dev/null &
  wait_for "$name pid" 5 test -s "$d/pids/$name" || die "could not start $name"
}

in_node() { # $1: dir, rest: command — run in the node's namespaces, in the foreground
  local d=$1; shift
  nsenter --target "$(cat "$d/pids/netns")" --net --mount -- "$@"
}

need_node_tools() {
  local b
  for b in kubelet kube-scheduler containerd containerd-shim-runc-v2 ctr; do
    [ -x "$bin/$b" ] || die "$bin/$b is missing: run 'hack/build-tools kube containerd' first"
  done
  for b in bridge host-local loopback; do
    [ -x "$bin/cni/$b" ] || die "$bin/cni/$b is missing: run 'hack/build-tools cni' first"
  done
  for b in runc socat nsenter unshare ip; do
    command -v "$b" >/dev/null || die "$b is missing (Debian packages runc, socat, util-linux, iproute2)"
  done
}

# The values kubelet wants in host-global sysctls, shown to it by files bind-mounted over
# /proc/sys inside the mount namespace (it reads them, finds what it wants, and writes nothing).
node_sysctls=(
  "vm/overcommit_memory=1" "vm/panic_on_oom=0" "kernel/panic=10" "kernel/panic_on_oops=1"
  "kernel/keys/root_maxkeys=1000000" "kernel/keys/root_maxbytes=25000000"
)

own_netns() { # $1: pid — true once it runs in a network namespace other than ours
  local theirs; theirs=$(readlink "/proc/$1/ns/net" 2>/dev/null) || return 1
  [ "$theirs" != "$(readlink /proc/self/ns/net)" ]
}

node_namespace_up() { # $1: dir
  local d=$1 name holder
  name=$(basename "$d")
  mkdir -p "$d/node/sysctl" "$d/node/cni/net.d" "$d/sock"
  cg_create "$name"
  # The holder: the namespaces live as long as it does.
  setsid bash -c 'for c in "$0"/*/archipel-"$1"; do echo $$ > "$c/cgroup.procs" 2>/dev/null || true; done; exec unshare --mount --net --propagation private sleep infinity' \
    /sys/fs/cgroup "$name" > "$d/logs/netns.log" 2>&1 < /dev/null &
  holder=$!
  echo "$holder" > "$d/pids/netns"
  wait_for netns 5 own_netns "$holder" ||
    die "the node's network namespace did not appear"
  local s key value sysctl_mounts=""
  for s in "${node_sysctls[@]}"; do
    key=${s%%=*} value=${s#*=}
    echo "$value" > "$d/node/sysctl/${key//\//.}"
    sysctl_mounts+="mount --bind '$d/node/sysctl/${key//\//.}' /proc/sys/$key; "
  done
  in_node "$d" bash -euc "
    mount -t tmpfs -o mode=755 tmpfs /run
    # images, snapshots and Pod volumes live here: gone with the namespace, nothing to delete on disk
    mount -t tmpfs -o mode=755 tmpfs /var/lib
    mount -t tmpfs -o mode=755 tmpfs /var/log
    $sysctl_mounts
    ip link set lo up
    ip link add node0 type veth peer name node0-end
    ip link set node0-end up
    ip addr add $node_ip/24 dev node0
    ip link set node0 up
    ip route add default via $node_gw dev node0 onlink
    ip addr add $kube_svc_ip/32 dev lo
    echo 1 > /proc/sys/net/ipv4/ip_forward
  " > "$d/logs/netns-setup.log" 2>&1 || { cat "$d/logs/netns-setup.log" >&2; die "could not set up the node's namespaces"; }
}

# Host 127.0.0.1:$2 → the node's $3 (host:port inside the namespace).
node_forward_out() { # $1: dir $2: host port $3: target inside $4: name
  local d=$1 port=$2 target=$3 n=$4
  node_bg "$d" "fwd-$n-in" socat "UNIX-LISTEN:$d/sock/$n.sock,fork,unlink-early,mode=600" "TCP:$target"
  wait_for "$n socket" 5 test -S "$d/sock/$n.sock" || die "forwarder $n did not start"
  host_bg "$d" "fwd-$n-out" socat "TCP-LISTEN:$port,bind=127.0.0.1,fork,reuseaddr" "UNIX-CONNECT:$d/sock/$n.sock"
}

# The node's $2 (address:port inside the namespace) → host 127.0.0.1:$3: lets pods reach one
# service the host runs on loopback, and nothing else.
node_forward_in() { # $1: dir $2: listen inside $3: host port $4: name
  local d=$1 listen=$2 port=$3 n=$4
  host_bg "$d" "fwd-$n-host" socat "UNIX-LISTEN:$d/sock/$n.sock,fork,unlink-early,mode=600" "TCP:127.0.0.1:$port"
  wait_for "$n socket" 5 test -S "$d/sock/$n.sock" || die "forwarder $n did not start"
  node_bg "$d" "fwd-$n-node" socat "TCP-LISTEN:${listen##*:},bind=${listen%:*},fork,reuseaddr" "UNIX-CONNECT:$d/sock/$n.sock"
}

write_containerd_config() { # $1: dir
  local d=$1
  cat > "$d/node/containerd.toml" <<EOF
version = 3
root = "/var/lib/containerd"
state = "/run/containerd"
# NRI would listen under /var/run/nri; nothing here uses it
disabled_plugins = ["io.containerd.nri.v1.nri"]
[grpc]
  address = "$d/sock/containerd.sock"
[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "archipel.local/pause:3.10"
[plugins."io.containerd.cri.v1.runtime"]
  # root here lacks CAP_SYS_RESOURCE: runc cannot lower a sandbox's oom_score_adj
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["$bin/cni"]
    conf_dir = "$d/node/cni/net.d"
  [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
      BinaryName = "$(command -v runc)"
      SystemdCgroup = false
[plugins."io.containerd.grpc.v1.cri"]
  disable_tcp_service = true
# the default is /opt/containerd on the host's file system (outside the namespace's tmpfs)
[plugins."io.containerd.internal.v1.opt"]
  path = "/var/lib/containerd-opt"
EOF
  cat > "$d/node/cni/net.d/10-archipel.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "archipel",
  "plugins": [
    {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$pod_cidr"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
}

write_kubelet_config() { # $1: dir
  local d=$1
  printf 'options ndots:1\n' > "$d/node/resolv.conf"
  cat > "$d/node/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $node_ip
port: 10250
readOnlyPort: 0
cgroupDriver: cgroupfs
cgroupRoot: /$(cg_name "$(basename "$d")")
failCgroupV1: false
containerRuntimeEndpoint: unix://$d/sock/containerd.sock
imageServiceEndpoint: unix://$d/sock/containerd.sock
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $d/ca.crt}
authorization: {mode: AlwaysAllow}
tlsCertFile: $d/kubelet.crt
tlsPrivateKeyFile: $d/kubelet.key
resolvConf: $d/node/resolv.conf
registerNode: true
failSwapOn: false
protectKernelDefaults: false
makeIPTablesUtilChains: false
localStorageCapacityIsolation: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
evictionPressureTransitionPeriod: 5s
serializeImagePulls: false
shutdownGracePeriod: 0s
syncFrequency: 10s
nodeStatusUpdateFrequency: 5s
maxPods: 110
EOF
}

gen_node_certs() { # $1: dir — kubelet's serving certificate and the API server's client certificate for it
  local d=$1
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$(basename "$d")" -keyout "$d/kubelet.key" -out "$d/kubelet.csr" 2>/dev/null
  printf 'subjectAltName=IP:%s,DNS:%s\nextendedKeyUsage=serverAuth\n' "$node_ip" "$(basename "$d")" > "$d/kubelet.ext"
  openssl x509 -req -in "$d/kubelet.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 3650 \
    -extfile "$d/kubelet.ext" -out "$d/kubelet.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver-kubelet-client/O=system:masters" \
    -keyout "$d/apiserver-kubelet-client.key" -out "$d/apiserver-kubelet-client.csr" 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\n' > "$d/kubelet.ext"
  openssl x509 -req -in "$d/apiserver-kubelet-client.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
    -days 3650 -extfile "$d/kubelet.ext" -out "$d/apiserver-kubelet-client.crt" 2>/dev/null
  rm -f "$d"/*.csr "$d/kubelet.ext" "$d/ca.srl"
  chmod 600 "$d"/*.key
}

# kubeconfig for the components inside the namespace (the API server at 127.0.0.1:443 there)
write_internal_kubeconfig() { # $1: dir
  local d=$1 name ca
  name=$(basename "$d")
  ca=$(base64 -w0 < "$d/ca.crt")
  cat > "$d/node/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: $name
  cluster: {server: "https://127.0.0.1:443", certificate-authority-data: "$ca"}
users:
- name: admin
  user: {token: "$(token_of "$d" admin)"}
contexts:
- name: admin
  context: {cluster: $name, user: admin}
current-context: admin
EOF
  chmod 600 "$d/node/kubeconfig"
}

node_start_runtime() { # $1: dir — containerd, then the images, then kubelet
  local d=$1
  write_containerd_config "$d"
  node_bg "$d" containerd "$bin/containerd" --config "$d/node/containerd.toml"
  wait_for containerd 20 "$bin/ctr" -a "$d/sock/containerd.sock" version ||
    { tail -30 "$d/logs/containerd.log" >&2; die "containerd did not start (log: $d/logs/containerd.log)"; }
  "$root/hack/images" load --address "$d/sock/containerd.sock" >&2 ||
    die "could not load the node's images (hack/images load)"
  write_kubelet_config "$d"
  node_bg "$d" kubelet "$bin/kubelet" --config "$d/node/kubelet.yaml" --kubeconfig "$d/node/kubeconfig" \
    --root-dir /var/lib/kubelet --hostname-override "$(basename "$d")" --node-ip "$node_ip" --v 1
}

node_ready() { # $1: dir
  "$bin/kubectl" --kubeconfig "$1/kubeconfig" get node "$(basename "$1")" \
    -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -qx True
}

node_down() { # $1: dir — everything in the node's cgroup, then the cgroups; the namespaces go with their processes
  local d=$1 name holder=""
  name=$(basename "$d")
  [ -f "$d/pids/netns" ] && holder=$(cat "$d/pids/netns")
  [ -f "$d/pids/kubelet" ] && kill -TERM "$(cat "$d/pids/kubelet")" 2>/dev/null || true
  cg_remove "$name"
  # killed processes are reaped by init a moment later: the namespaces are gone when the holder is
  [ -z "$holder" ] || wait_for "the node's namespaces to go" 10 test ! -e "/proc/$holder" || log "warning: process $holder is still there"
  # Nothing may stay mounted under the cluster's folder (the mounts lived in the namespace).
  if grep -q " $d/" /proc/self/mounts; then log "warning: mounts left under $d"; fi
  rm -f "$d"/pids/*
}
