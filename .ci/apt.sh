# Sourced by the .ci scripts: the one way they install apt packages.
#
# apt_install [--available] PKG...   installs those of PKG not installed yet (sudo when not
#   root; nothing, not even `apt-get update`, when all are there). With --available, a package
#   this distribution does not have is named and skipped instead of failing the install.
apt_install() {
  local available=0 sudo="" p
  local -a missing=() found=()
  [ "${1:-}" = --available ] && { available=1; shift; }
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  $sudo apt-get update -qq
  if ((available)); then
    for p in "${missing[@]}"; do
      if apt-cache show --no-all-versions "$p" >/dev/null 2>&1; then
        found+=("$p")
      else
        echo "note: this distribution has no package $p; skipped" >&2
      fi
    done
    ((${#found[@]})) || return 0
    missing=("${found[@]}")
  fi
  echo "installing: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
