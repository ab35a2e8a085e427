#!/usr/bin/env bash
# Generates a lab PKI: one CA, the SBC's wildcard certificate (server and
# client auth, as Teams demands), a "Microsoft proxy" certificate and a spare
# key that matches neither (for negative tests).
# Usage: gen-certs.sh OUTDIR [BASE_FQDN]
set -euo pipefail
out=${1:?usage: gen-certs.sh OUTDIR [BASE_FQDN]}
base=${2:-sbc.lab.example}
mkdir -p "$out"
cd "$out"
[ -f .done ] && [ "$(cat .done)" = "$base" ] && exit 0

openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=sbc lab root" \
  -keyout ca.key -out ca.pem -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null

issue() { # name cn san
  local name=$1 cn=$2 san=$3
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$cn" -keyout "$name.key" -out "$name.csr" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n' "$san" > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 \
    -extfile "$name.ext" -out "$name.pem" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}
issue sbc "*.$base" "DNS:*.$base,DNS:$base"
issue teams sip.pstnhub.microsoft.com \
  "DNS:sip.pstnhub.microsoft.com,DNS:sip2.pstnhub.microsoft.com,DNS:sip3.pstnhub.microsoft.com,DNS:*.pstnhub.microsoft.com"
issue other other.example "DNS:other.example"
openssl genrsa -out stray.key 2048 2>/dev/null
cat teams.pem teams.key > teams-bundle.pem
chmod 600 ./*.key
echo "$base" > .done
