#!/usr/bin/env bash
# Installs the pinned external programs the tests, the demo and the benchmarks run
# (the local SQS server and the Lambda Runtime Interface Emulator) into .bin/.
# Versions are pinned here and nowhere else; re-running is cheap (skips what is there).
set -euo pipefail
cd "$(dirname "$0")/.."
GOAWS_VERSION=v0.5.4   # the first goaws that speaks the SQS JSON protocol; @latest gives v0.4.x
RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d
bin="$PWD/.bin"
mkdir -p "$bin"
stamp() { echo "$bin/.$1-$2"; }
if [ ! -x "$bin/goaws" ] || [ ! -e "$(stamp goaws $GOAWS_VERSION)" ]; then
  tmp=$(mktemp -d)
  GOBIN="$tmp" go install "github.com/Admiral-Piett/goaws/app/cmd@$GOAWS_VERSION"
  mv "$tmp/cmd" "$bin/goaws" && rm -rf "$tmp"
  touch "$(stamp goaws $GOAWS_VERSION)"
fi
if [ ! -x "$bin/aws-lambda-rie" ] || [ ! -e "$(stamp rie $RIE_VERSION)" ]; then
  GOBIN="$bin" go install "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$RIE_VERSION"
  touch "$(stamp rie $RIE_VERSION)"
fi
