#!/usr/bin/env bash
# Vendor the JavaScript the Jupyter Book (1.x) HTML build needs to render math
# and saved ipywidgets state offline:
#
#   book/assets/vendor/mathjax/       MathJax 3 (es5/tex-mml-chtml.js, its CHTML
#                                     fonts and the TeX extensions it autoloads)
#   book/assets/vendor/requirejs/     require.js (AMD loader used by the widgets)
#   book/assets/vendor/html-manager/  @jupyter-widgets/html-manager embed-amd.js
#   book/assets/vendor/widgets-mathjax3-shim.js  (generated, see below)
#
# The tarballs come from the npm registry (`npm pack`, exact versions, sha512
# checked). book/assets/vendor/ is git-ignored. The script is idempotent: if the
# folder already holds every file of the pinned versions it exits at once.
# Usage: book/vendor.sh [--force]      (works from any current directory)
# How to wire it into _config.yml: see book/offline_config.md.
set -euo pipefail
shopt -s inherit_errexit

# Pinned versions. html-manager 1.0.x speaks widget protocol 2 (ipywidgets 8.x);
# 1.0.15 matches ipywidgets 8.1.9 (@jupyter-widgets/base 6.0.12, controls 5.0.13).
MATHJAX_VERSION=3.2.2
REQUIREJS_VERSION=2.3.8
HTML_MANAGER_VERSION=1.0.15

# dist.integrity of each tarball, as published on the registry.
MATHJAX_SHA512=Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==
REQUIREJS_SHA512=7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw==
HTML_MANAGER_SHA512=5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==

script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
vendor_dir="$script_dir/assets/vendor"
manifest="$vendor_dir/MANIFEST"
LAYOUT_VERSION=2   # bump when the file selection or the generated shim changes
stamp="mathjax@$MATHJAX_VERSION requirejs@$REQUIREJS_VERSION @jupyter-widgets/html-manager@$HTML_MANAGER_VERSION layout@$LAYOUT_VERSION"

# Complete = MANIFEST (written last) names the pinned versions and every file
# it lists is present and non-empty.
is_complete() {
    [[ -f "$manifest" ]] || return 1
    local first rel
    IFS= read -r first <"$manifest" || return 1
    [[ "$first" == "# $stamp" ]] || return 1
    while IFS= read -r rel; do
        [[ -z "$rel" || "$rel" == \#* ]] && continue
        [[ -s "$vendor_dir/$rel" ]] || return 1
    done <"$manifest"
}

if [[ "${1:-}" != "--force" ]] && is_complete; then
    echo "vendor.sh: $vendor_dir is up to date ($stamp)"
    exit 0
fi

command -v npm >/dev/null || { echo "vendor.sh: npm is required" >&2; exit 1; }
command -v tar >/dev/null || { echo "vendor.sh: tar is required" >&2; exit 1; }
command -v openssl >/dev/null || { echo "vendor.sh: openssl is required" >&2; exit 1; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/book-vendor.XXXXXX")"
trap 'rm -rf -- "$tmp"' EXIT

# fetch SPEC SHA512 -> prints the path of the verified tarball
fetch() {
    local spec="$1" want="$2" out got
    # run npm from the temp dir so no project .npmrc/package.json interferes
    out="$(cd "$tmp" && npm pack --silent --ignore-scripts --pack-destination "$tmp" "$spec" | tail -n 1)"
    out="$tmp/$out"
    [[ -f "$out" ]] || { echo "vendor.sh: npm pack $spec produced no tarball" >&2; return 1; }
    got="$(openssl dgst -sha512 -binary "$out" | base64 | tr -d '\n')"
    if [[ "$got" != "$want" ]]; then
        echo "vendor.sh: sha512 mismatch for $spec" >&2
        return 1
    fi
    printf '%s\n' "$out"
}

echo "vendor.sh: fetching $stamp"
mj_tgz="$(fetch "mathjax@$MATHJAX_VERSION" "$MATHJAX_SHA512")"
rq_tgz="$(fetch "requirejs@$REQUIREJS_VERSION" "$REQUIREJS_SHA512")"
hm_tgz="$(fetch "@jupyter-widgets/html-manager@$HTML_MANAGER_VERSION" "$HTML_MANAGER_SHA512")"

stage="$tmp/vendor"
mkdir -p "$tmp/x/mj" "$tmp/x/rq" "$tmp/x/hm" \
    "$stage/mathjax" "$stage/requirejs" "$stage/html-manager"

# MathJax: the combined TeX+MathML -> CHTML component (same component Sphinx
# uses by default), the woff-v2 fonts it loads from [mathjax]/output/chtml/fonts,
# and the TeX extensions its autoload pulls from [mathjax]/input/tex/extensions.
tar -xzf "$mj_tgz" -C "$tmp/x/mj" \
    package/LICENSE \
    package/es5/tex-mml-chtml.js \
    package/es5/output/chtml/fonts/woff-v2 \
    package/es5/input/tex/extensions
cp "$tmp/x/mj/package/LICENSE" "$tmp/x/mj/package/es5/tex-mml-chtml.js" "$stage/mathjax/"
mkdir -p "$stage/mathjax/output/chtml/fonts" "$stage/mathjax/input/tex"
cp -R "$tmp/x/mj/package/es5/output/chtml/fonts/woff-v2" "$stage/mathjax/output/chtml/fonts/"
cp -R "$tmp/x/mj/package/es5/input/tex/extensions" "$stage/mathjax/input/tex/"

# RequireJS: the single-file loader (its licence is in the file header).
tar -xzf "$rq_tgz" -C "$tmp/x/rq" package/require.js
cp "$tmp/x/rq/package/require.js" "$stage/requirejs/"

# html-manager: the AMD embed bundle (+ licences of what it bundles) and its Font Awesome fonts. The
# bundle asks for the fonts at a URL computed from its require.js module id, page-relative
# ("@jupyter-widgets/html-manager/dist/<hash>.woff2"), which 404s on every page below the root;
# requirejs-paths.js (generated below, loaded between require.js and the bundle) maps that id onto
# this folder, so the fonts are found wherever the page lies.
tar -xzf "$hm_tgz" -C "$tmp/x/hm" package/dist
cp "$tmp/x/hm/package/dist/embed-amd.js" "$tmp/x/hm/package/dist/embed.js.LICENSE.txt" "$stage/html-manager/"
find "$tmp/x/hm/package/dist" -maxdepth 1 -type f \( -name '*.woff2' -o -name '*.woff' -o -name '*.ttf' \
    -o -name '*.svg' -o -name '*.eot' \) -exec cp {} "$stage/html-manager/" \;
cat >"$stage/requirejs-paths.js" <<'JS'
/* Generated by book/vendor.sh: the widget bundle's fonts are found beside it, on any page. */
(function () {
  var here = document.currentScript.src.replace(/[^/]*$/, "");
  requirejs.config({paths: {"@jupyter-widgets/html-manager/dist": here + "html-manager"}});
})();
JS

# Shim: @jupyter-widgets/base 6 typesets widget labels with the MathJax 2 API
# (MathJax.Hub.Queue), which throws "Cannot read properties of undefined
# (reading 'Queue')" on pages that load MathJax 3. Map it onto MathJax 3.
# Loaded (before require.js) only on pages with widget state, see
# offline_config.md. Widgets render on window "load", after this runs.
cat >"$stage/widgets-mathjax3-shim.js" <<'JS'
/* Generated by book/vendor.sh: lets @jupyter-widgets (MathJax 2 API) typeset with MathJax 3. */
(function () {
  function install() {
    var MJ = window.MathJax;
    if (!MJ || MJ.Hub || !MJ.version || String(MJ.version).charAt(0) !== "3") return;
    MJ.Hub = {
      Queue: function () {
        for (var i = 0; i < arguments.length; i++) {
          var job = arguments[i];
          if (Array.isArray(job) && job[0] === "Typeset" && job[2]) {
            (function (el) {
              var ready = (MJ.startup && MJ.startup.promise) || Promise.resolve();
              ready.then(function () {
                return MJ.typesetPromise ? MJ.typesetPromise([el]) : null;
              }).catch(function (err) { console.warn("MathJax typeset failed:", err); });
            })(job[2]);
          }
        }
      }
    };
  }
  install();
  document.addEventListener("DOMContentLoaded", install);
})();
JS

# Manifest last: its presence marks a complete tree.
{
    echo "# $stamp"
    (cd "$stage" && find . -type f ! -name MANIFEST | sed 's|^\./||' | LC_ALL=C sort)
} >"$tmp/MANIFEST"
mv "$tmp/MANIFEST" "$stage/MANIFEST"

mkdir -p "$(dirname -- "$vendor_dir")"
rm -rf -- "$vendor_dir"
mv -- "$stage" "$vendor_dir"
echo "vendor.sh: wrote $vendor_dir ($(du -sh "$vendor_dir" | cut -f1))"
