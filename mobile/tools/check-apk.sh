#!/usr/bin/env bash
# Checks mobile/app/build/pocdojo.apk (made by tools/build-apk.sh, `make apk`) and says what it checked:
# the signature verifies, the manifest declares what the app is (package, minSdk, launcher) and asks only
# for the permissions it needs, and the dex holds the app's classes. Exits non-zero if any check fails.
set -uo pipefail

MOBILE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
APK=${1:-$MOBILE/app/build/pocdojo.apk}
PACKAGE=dev.pocdojo.app
MIN_SDK=26
LAUNCHER=dev.pocdojo.app.signin.SignInActivity
ALLOWED_PERMISSIONS="android.permission.INTERNET android.permission.ACCESS_NETWORK_STATE"
# Classes the dex must hold: the Application, the view-models from app/core, the gateways' binding to
# the SDK, the SDK's API client and the libraries it runs on (every Activity of the manifest is checked
# below as well, and every content provider with its exported and grantUriPermissions attributes).
CLASSES=(
    dev.pocdojo.app.PocDojoApp
    dev.pocdojo.app.core.signin.SignInViewModel
    dev.pocdojo.app.core.poclist.PocListViewModel
    dev.pocdojo.app.core.dojos.DojoListViewModel
    dev.pocdojo.app.core.reports.ReportsViewModel
    dev.pocdojo.app.core.myyear.MyYearViewModel
    dev.pocdojo.app.core.replay.ReplayViewModel
    dev.pocdojo.app.core.sdk.SdkReplay
    dev.pocdojo.app.core.sdk.SdkBackend
    dev.pocdojo.sdk.api.PocDojoClient
    okhttp3.OkHttpClient
    okio.Buffer
    kotlinx.serialization.json.Json
    kotlinx.coroutines.android.HandlerDispatcher
)

passed=0
failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
fail() { echo "FAILED: $*"; failed=$((failed + 1)); }

for tool in apksigner aapt2 dexdump; do
    command -v "$tool" >/dev/null || { echo "check-apk: $tool is missing: run 'make apk' first (it installs it)"; exit 2; }
done
[ -s "$APK" ] || { echo "check-apk: no $APK: run 'make apk' first"; exit 2; }
echo "check-apk: $APK ($(stat -c %s "$APK") bytes)"

if signature=$(apksigner verify --verbose "$APK" 2>&1) && grep -q '^Verifies$' <<<"$signature"; then
    ok "apksigner verify: signature verifies ($(grep -E 'v[23] scheme.*true' <<<"$signature" | sed 's/Verified using //; s/ (.*//' | paste -sd, -))"
else
    fail "apksigner verify: $signature"
fi

badging=$(aapt2 dump badging "$APK" 2>&1) || fail "aapt2 dump badging: $badging"
grep -q "^package: name='$PACKAGE'" <<<"$badging" && ok "package is $PACKAGE" || fail "package is not $PACKAGE"
grep -q "^sdkVersion:'$MIN_SDK'$" <<<"$badging" && ok "minSdk is $MIN_SDK" || fail "minSdk is not $MIN_SDK"
grep -q "^launchable-activity: name='$LAUNCHER'" <<<"$badging" \
    && ok "launcher activity is $LAUNCHER" || fail "launcher activity is not $LAUNCHER"
permissions=$(sed -n "s/^uses-permission: name='\([^']*\)'.*/\1/p" <<<"$badging" | sort -u | paste -sd' ' -)
extra=$(comm -23 <(tr ' ' '\n' <<<"$permissions" | sed '/^$/d' | sort) <(tr ' ' '\n' <<<"$ALLOWED_PERMISSIONS" | sort))
[ -z "$extra" ] && ok "permissions only among [$ALLOWED_PERMISSIONS]: [$permissions]" \
    || fail "permissions the app does not need: $(paste -sd' ' - <<<"$extra")"
grep -q "^locales:.*'pt-BR'" <<<"$badging" && ok "pt-BR strings present" || fail "no pt-BR resources"

descriptors=$(dexdump "$APK" 2>/dev/null | sed -n "s/^ *Class descriptor *: *'L\(.*\);'/\1/p" | tr / .)
[ -n "$descriptors" ] || fail "dexdump found no class in $APK"
count=$(grep -c '^dev\.pocdojo\.app\.' <<<"$descriptors")
for class in "${CLASSES[@]}"; do
    grep -qx "$class" <<<"$descriptors" && ok "dex has $class" || fail "dex lacks $class"
done
sdk=$(grep -c '^dev\.pocdojo\.sdk\.api\.' <<<"$descriptors")
[ "$sdk" -gt 0 ] && ok "dex has $sdk classes of the SDK's API client (dev.pocdojo.sdk.api)" || fail "dex has no dev.pocdojo.sdk.api class"
manifest=$(aapt2 dump xmltree --file AndroidManifest.xml "$APK" 2>&1)
activities=$(awk '/E: activity /{a=1; next} /E: /{a=0} a && /android:name\(/ {match($0, /="[^"]*"/); print substr($0, RSTART + 2, RLENGTH - 3)}' <<<"$manifest")
[ -n "$activities" ] || fail "no activity found in the manifest: $manifest"
for activity in $activities; do
    [[ $activity == .* ]] && activity=$PACKAGE$activity
    grep -qx "$activity" <<<"$descriptors" && ok "dex has the manifest's activity $activity" || fail "dex lacks the manifest's activity $activity"
done
# Providers: each in the dex, none exported (other apps read a report only through a granted URI).
providers=$(awk '/E: provider /{p=1; next} /E: /{p=0} p && /android:name\(/ {match($0, /="[^"]*"/); print substr($0, RSTART + 2, RLENGTH - 3)}' <<<"$manifest")
for provider in $providers; do
    [[ $provider == .* ]] && provider=$PACKAGE$provider
    grep -qx "$provider" <<<"$descriptors" && ok "dex has the manifest's provider $provider" || fail "dex lacks the manifest's provider $provider"
done
provider_block=$(awk '/E: provider /{p=1; print; next} /E: /{p=0} p' <<<"$manifest")
provider_count=$(grep -c 'E: provider ' <<<"$provider_block")
[ "$(grep -c 'android:exported(0x01010010)=false' <<<"$provider_block")" -eq "$provider_count" ] \
    && ok "no provider is exported ($provider_count declared)" || fail "a provider is exported or does not say: $provider_block"
[ "$(grep -c 'android:grantUriPermissions(0x0101001b)=true' <<<"$provider_block")" -eq "$provider_count" ] \
    && ok "every provider grants URI permissions" || fail "a provider lacks grantUriPermissions: $provider_block"
[ "$count" -gt 0 ] && ok "dex has $count classes of dev.pocdojo.app" || fail "dex has no dev.pocdojo.app class"

echo "check-apk: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
