#!/usr/bin/env bash
# `make screens`: draws every screen of the app, in English and Brazilian Portuguese, into
# mobile/docs/screens/*.png. aapt2 links the resources (build-apk.sh resources), then Robolectric runs the
# real Activities with those resources and in-memory gateways and draws them with its native graphics
# (module app/screens, profile `screens`). Robolectric's Android jar comes from Maven Central through Maven.
set -euo pipefail

MOBILE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$MOBILE/docs/screens

bash "$MOBILE/tools/build-apk.sh" resources
rm -f "$OUT"/*.png
echo "render-screens: drawing the screens (Robolectric)"
(cd "$MOBILE" && nice -n 10 mvn -B -ntp -q -Dstyle.color=never -Pscreens -pl app/screens -am \
    -Dtest='*Screens,ReportsScreenTest' -Dsurefire.failIfNoSpecifiedTests=false test)
ls "$OUT"/*.png >/dev/null 2>&1 || { echo "render-screens: error: no PNG in $OUT" >&2; exit 1; }
echo "render-screens: $(ls "$OUT"/*.png | wc -l) screens in $OUT"
