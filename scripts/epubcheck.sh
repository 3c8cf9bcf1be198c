#!/usr/bin/env bash
# Runs the W3C EPUB validator (Debian's `epubcheck` package, 4.2.x) on the files given,
# installing the package first when its jar is missing. With no arguments it only
# installs. Usage:
#   bash scripts/epubcheck.sh                       # install only
#   bash scripts/epubcheck.sh book.epub [--json -]  # validate (epubcheck's own options)
# Exit status: epubcheck's own (0: no errors), or 1 when it cannot be installed (the
# reason is printed: not root, no apt-get, or apt-get failed).
#
# Debian's /usr/bin/epubcheck is a symlink to the jar and fails when run directly from a
# shell ("PK: not found"), so the jar is run through `java -jar` (see the corpus MANIFEST).
set -uo pipefail

JAR=/usr/share/java/epubcheck.jar

APT_WHO=epubcheck
# shellcheck source=apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"  # is_root, can_apt, apt_install

ensure_epubcheck() {
  if [ -f "$JAR" ] && command -v java >/dev/null 2>&1; then
    return 0
  fi
  if ! is_root; then
    echo "epubcheck: $JAR is missing and installing it needs root (apt-get install epubcheck)" >&2
    return 1
  fi
  if ! can_apt; then
    echo "epubcheck: $JAR is missing and there is no apt-get to install it with" >&2
    return 1
  fi
  apt_install epubcheck || {
    echo "epubcheck: apt-get install epubcheck failed" >&2
    return 1
  }
  if [ ! -f "$JAR" ] || ! command -v java >/dev/null 2>&1; then
    echo "epubcheck: installed the package but $JAR or java is still missing" >&2
    return 1
  fi
}

ensure_epubcheck || exit 1
if [ "$#" -eq 0 ]; then
  echo "epubcheck: ready ($JAR)"
  exit 0
fi
exec java -jar "$JAR" "$@"
