#!/usr/bin/env bash
# Installs the Debian packages the demo (`demo`) or the whole test suite (`test`, the default) needs, when missing.
# Works as root (apt-get directly) and as a user with sudo.
set -euo pipefail
set_name=${1:-test}

need=()
want() { # want PACKAGE CHECK...: queue PACKAGE when its check fails
  local package=$1; shift
  "$@" >/dev/null 2>&1 || need+=("$package")
}
has() { command -v "$1"; }

want dcmtk has dcmqrscp
want orthanc has Orthanc
want orthanc-dicomweb test -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so
if [ "$set_name" = test ]; then
  # fc-query reads the bundled fonts' coverage in a test; a font for Chromium's own text in the page tests.
  # (The gateway's annotation fonts come from npm and fonts/, not from here.)
  want fontconfig has fc-query
  want fonts-dejavu-core test -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
  # Reference decoders for pixel tests: GDCM (JPEG 2000) and OpenJPEG (HTJ2K), beside DCMTK.
  want libgdcm-tools has gdcmconv
  want libopenjp2-tools has opj_decompress
  # A real browser for the <img> signed-thumbnail test (driven by playwright-core; no browser download).
  want chromium has chromium
  # A network namespace of its own for the delayed-ACK test (unshare, ip).
  want util-linux has unshare
  want iproute2 has ip
  # systemd-analyze checks the deployment's unit file (docs/deploy.md); nothing is started by it.
  want systemd has systemd-analyze
  # promtool checks the metrics exposition (docs/operations.md).
  want prometheus has promtool
  # What several replicas share: Redis (rate limits across the cluster), started on loopback by the tests.
  want redis-server has redis-server
fi

[ ${#need[@]} -eq 0 ] && exit 0
echo "installing ${need[*]}"
if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo); fi
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${need[@]}" >/dev/null
