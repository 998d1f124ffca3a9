# shellcheck shell=bash
# A Python venv holding one pinned requirement, kept in the tools cache beside hack/build-tools'
# builds (ARCHIPEL_TOOLS_CACHE, default ~/.cache/archipel-tools) rather than in the work tree: a
# fresh clone on the same machine, CI included, finds it instead of spending minutes in pip.
# Keyed by the requirement and Python's version; a lock makes two scripts that need it at the same
# time (make test runs two streams) install it once. A venv cannot move (its scripts name their
# own path), so it is made in place and marked complete last.

cached_venv() { # $1: name $2: pip requirement (pinned) — prints the venv's directory
  local cache=${ARCHIPEL_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/archipel-tools}
  local key venv
  key=$(printf '%s %s' "$2" "$(python3 --version 2>&1)" | sha256sum | cut -c1-16)
  venv=$cache/venv-$1-$key
  mkdir -p "$cache"
  (
    flock 9
    if [ ! -e "$venv/.complete" ]; then
      echo "installing $2 into ${venv/#$HOME/\~}" >&2
      rm -rf "$venv"
      python3 -m venv "$venv" >&2
      "$venv/bin/pip" install --quiet --disable-pip-version-check "$2" >&2
      touch "$venv/.complete"
    fi
  ) 9> "$venv.lock"
  echo "$venv"
}
