# shellcheck shell=bash
# Listening ports for the local servers (API server, etcd, kubo, PostgreSQL, SeaweedFS) come from
# below the kernel's ephemeral range (ip_local_port_range). A port the kernel picked (bind to port
# 0) is in that range, and so is every outgoing connection's own port: in the seconds between
# choosing a port and the server binding it, one of the thousands of connections the parallel test
# streams open can take it, and the server dies with "address already in use" (CI lost a SeaweedFS
# filer that way). A port is handed out only when free on every address, and once in ten minutes on
# this machine (claims shared with hack/lib/ports.ts, which follows the same rules).

free_port() { # [$1: loopback IP, default 127.0.0.1] — prints a port free on it (and on every address) now, claimed
  python3 - "${1:-127.0.0.1}" <<'PY'
import os, random, socket, sys, tempfile, time
# The same rules and claims as hack/lib/ports.ts: free on the IP and on every address, and handed
# out once in ten minutes on this machine (a file per port in a directory every picker shares).
claims = os.environ.get("ARCHIPEL_PORT_CLAIMS") or os.path.join(tempfile.gettempdir(), "archipel-port-claims")
def claim(port, again=True):
    path = os.path.join(claims, str(port))
    try:
        os.makedirs(claims, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        return True
    except FileExistsError:
        try:
            fresh = time.time() - os.stat(path).st_mtime < 600
        except FileNotFoundError:
            fresh = False
        if fresh or not again:
            return False
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return claim(port, False)
    except OSError:
        return True  # claims help; a directory that cannot be written blocks no port
def free(ip, port):
    s = socket.socket()
    try:
        s.bind((ip, port))
        return True
    except OSError:
        return False
    finally:
        s.close()
low, high = (int(x) for x in os.environ["ARCHIPEL_PORT_RANGE"].split("-")) if os.environ.get("ARCHIPEL_PORT_RANGE") else (15000, 0)
if not high:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        high = int(f.read().split()[0])
# 15000 up: clear of well-known defaults (kubelet's 10250, etc.) that a host may already run.
if high > low + 1000 or os.environ.get("ARCHIPEL_PORT_RANGE"):
    for _ in range(200):
        port = random.randrange(low, high)
        if free(sys.argv[1], port) and free("0.0.0.0", port) and claim(port):
            print(port)
            sys.exit(0)
    if os.environ.get("ARCHIPEL_PORT_RANGE"):
        sys.exit("free_port: no free port in ARCHIPEL_PORT_RANGE " + os.environ["ARCHIPEL_PORT_RANGE"])
s = socket.socket()
try:
    s.bind((sys.argv[1], 0))
    print(s.getsockname()[1])
except OSError:
    sys.exit("free_port: no free port on " + sys.argv[1])
finally:
    s.close()
PY
}
