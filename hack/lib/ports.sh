# shellcheck shell=bash
# Listening ports for the local servers (API server, etcd, kubo, PostgreSQL, SeaweedFS) come from
# below the kernel's ephemeral range (ip_local_port_range). A port the kernel picked (bind to port
# 0) is in that range, and so is every outgoing connection's own port: in the seconds between
# choosing a port and the server binding it, one of the thousands of connections the parallel test
# streams open can take it, and the server dies with "address already in use" (CI lost a SeaweedFS
# filer that way). hack/lib/ports.ts follows the same rule for the TypeScript side.

free_port() { # [$1: loopback IP, default 127.0.0.1] — prints a port free on it now
  python3 - "${1:-127.0.0.1}" <<'PY'
import random, socket, sys
with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
    below = int(f.read().split()[0])
# 15000 up: clear of well-known defaults (kubelet's 10250, etc.) that a host may already run.
candidates = range(15000, below) if below > 16000 else range(0, 1)
for _ in range(200):
    port = random.choice(candidates)
    s = socket.socket()
    try:
        s.bind((sys.argv[1], port))
        port = s.getsockname()[1]
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    sys.exit(0)
sys.exit("free_port: no free port on " + sys.argv[1])
PY
}
