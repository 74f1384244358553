#!/usr/bin/env bash
# Builds mobile/app/build/pocdojo.apk, debug-signed, without Gradle or the Android SDK manager:
#   aapt2, zipalign, apksigner, dexdump  Debian packages (installed here when missing and run as root)
#   Android 8.0 (API 26) framework       org.robolectric:android-all from Maven Central: classes to compile
#                                        against, resources.arsc for `aapt2 link -I` (API 26 = minSdk)
#   D8 (dexer)                           com.android.tools:r8 from Maven Central
#   Kotlin                               Maven (mobile/app, profile apk)
# Cached under mobile/.toolchain/ (git-ignored), with the debug keystore made on the first run.
# Re-runnable: each run rebuilds the APK from the sources; downloads and the keystore happen once.
# `build-apk.sh resources` stops after aapt2 (app/build/base.apk and R.java): what `make screens` needs.
set -euo pipefail
MODE=${1:-apk}
[ "$MODE" = apk ] || [ "$MODE" = resources ] || { echo "usage: build-apk.sh [resources]" >&2; exit 2; }

MOBILE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
APP=$MOBILE/app/android
OUT=$MOBILE/app/build
TOOLCHAIN=$MOBILE/.toolchain
MIN_SDK=26
TARGET_SDK=28
VERSION_CODE=1
VERSION_NAME=0.1.0
R8_VERSION=9.5.29
PLATFORM_VERSION=$(sed -n 's:.*<android.platform.version>\(.*\)</android.platform.version>.*:\1:p' "$MOBILE/app/pom.xml")
KEYSTORE=$TOOLCHAIN/debug.keystore
MVN=(nice -n 10 mvn -B -ntp -q -Dstyle.color=never)

die() { echo "build-apk: error: $*" >&2; exit 1; }
step() { echo "build-apk: $*"; }

[ -n "$PLATFORM_VERSION" ] || die "no <android.platform.version> in $MOBILE/app/pom.xml"
for tool in java keytool mvn; do
    command -v "$tool" >/dev/null || die "$tool is missing: run 'make jvm-tools' (a JDK 17+ and Maven)"
done

# 1. Debian's Android build tools (command -> package).
missing=()
for pair in aapt2:aapt zipalign:zipalign apksigner:apksigner dexdump:dexdump; do
    command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing Debian packages: run 'sudo apt-get install ${missing[*]}'"
    step "installing ${missing[*]} (apt)"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. The framework jar and D8 from Maven Central, copied once into the toolchain directory.
fetch() { # group:artifact:version destination
    [ -s "$2" ] && return 0
    step "fetching $1"
    local tmp; tmp=$(mktemp -d "$TOOLCHAIN/fetch.XXXXXX")
    "${MVN[@]}" org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy -Dartifact="$1" -DoutputDirectory="$tmp" \
        || { rm -rf "$tmp"; die "could not fetch $1 from Maven Central"; }
    mv "$tmp"/*.jar "$2" && rmdir "$tmp"
}
mkdir -p "$TOOLCHAIN"
PLATFORM=$TOOLCHAIN/android-all-$PLATFORM_VERSION.jar
D8=$TOOLCHAIN/r8-$R8_VERSION.jar
fetch "org.robolectric:android-all:$PLATFORM_VERSION" "$PLATFORM"
fetch "com.android.tools:r8:$R8_VERSION" "$D8"
unzip -l "$PLATFORM" resources.arsc >/dev/null || die "$PLATFORM has no resources.arsc (aapt2 link needs it)"

# 3. The debug keystore, once (the same key signs every debug build, so updates install over each other).
if [ ! -s "$KEYSTORE" ]; then
    step "generating the debug keystore $KEYSTORE"
    keytool -genkeypair -keystore "$KEYSTORE" -storepass android -keypass android -alias pocdojo-debug \
        -keyalg RSA -keysize 2048 -validity 10000 -dname "CN=POC Dojo Debug, O=POC Dojo" >/dev/null 2>&1 \
        || die "keytool could not create $KEYSTORE"
fi

# 4. Resources: compile, link against the framework, generate R.java for the Kotlin build.
rm -rf "$OUT" "$APP/target/generated-sources/aapt"
mkdir -p "$OUT/dex" "$APP/target/generated-sources/aapt"
step "aapt2: resources and manifest"
aapt2 compile --dir "$APP/src/main/res" -o "$OUT/resources.zip"
aapt2 link -o "$OUT/base.apk" -I "$PLATFORM" --manifest "$APP/src/main/AndroidManifest.xml" \
    --min-sdk-version "$MIN_SDK" --target-sdk-version "$TARGET_SDK" \
    --version-code "$VERSION_CODE" --version-name "$VERSION_NAME" \
    --java "$APP/target/generated-sources/aapt" "$OUT/resources.zip"
if [ "$MODE" = resources ]; then
    step "resources linked: $OUT/base.apk"
    exit 0
fi

# 5. Kotlin: the view-models (core) and the Activities (android), and the runtime libraries.
step "maven: compiling the app"
(cd "$MOBILE" && "${MVN[@]}" -Papk -pl app/android -am -DskipTests package)
CLASSES=$APP/target/pocdojo-app-android.jar
LIBS=("$APP"/target/apk-libs/*.jar)
[ -s "$CLASSES" ] || die "maven built no $CLASSES"
[ -e "${LIBS[0]}" ] || die "maven copied no runtime libraries to $APP/target/apk-libs"

# 6. Dex the app's classes and its libraries. The framework is the device's (--lib only); android-all
#    leaves java.* out (Robolectric runs on a JVM), so the JDK is a library too.
JDK_HOME=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.home = //p')
[ -d "$JDK_HOME" ] || die "cannot find the JDK's home (java -XshowSettings:properties)"
step "d8: dexing the app's classes and ${#LIBS[@]} libraries"
nice -n 10 java -cp "$D8" com.android.tools.r8.D8 --release --min-api "$MIN_SDK" --lib "$PLATFORM" --lib "$JDK_HOME" \
    --output "$OUT/dex" "$CLASSES" "${LIBS[@]}"

# 7. Package, align, sign.
cp "$OUT/base.apk" "$OUT/unaligned.apk"
(cd "$OUT/dex" && zip -q -X "$OUT/unaligned.apk" classes*.dex)
zipalign -f -p 4 "$OUT/unaligned.apk" "$OUT/aligned.apk"
apksigner sign --ks "$KEYSTORE" --ks-pass pass:android --key-pass pass:android --ks-key-alias pocdojo-debug \
    --out "$OUT/pocdojo.apk" "$OUT/aligned.apk"
rm -f "$OUT/unaligned.apk" "$OUT/aligned.apk" "$OUT/pocdojo.apk.idsig"
step "built $OUT/pocdojo.apk ($(stat -c %s "$OUT/pocdojo.apk") bytes)"
