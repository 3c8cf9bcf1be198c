# Sourced by the set-up scripts (services.sh, epubcheck.sh): Debian package helpers.
# APT_WHO names the caller in the log line (default: the script's name).

is_root() { [ "$(id -u)" = 0 ]; }
can_apt() { is_root && command -v apt-get >/dev/null 2>&1; }

apt_install() {  # apt_install PACKAGE...: quiet, non-interactive; refreshes the lists first
  echo "${APT_WHO:-$(basename "$0" .sh)}: installing $* with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1 || true
  apt-get install -y -qq "$@" >/dev/null
}
