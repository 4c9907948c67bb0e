#!/usr/bin/env bash
# Provisions real GNU Mailman 3.3.10 (the version maxking/mailman-core:0.5.2 runs) into a
# project-local virtualenv for the component tests: .cache/mailman-venv (git-ignored).
#
#   scripts/provision/mailman.sh            install, or do nothing if already provisioned
#   scripts/provision/mailman.sh --force    rebuild the virtualenv from scratch
#   PYTHON=python3.12 scripts/provision/mailman.sh   use another interpreter (3.9-3.12; 3.11 is verified)
#
# Idempotent: when .cache/mailman-venv/bin/mailman reports 3.3.10 and was built from the pins
# below, it does nothing. Needs only python3 (with the venv module) and access to PyPI.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

MAILMAN_VERSION=3.3.10
VENV=.cache/mailman-venv
STAMP="$VENV/.mailkind-provisioned"
PYTHON=${PYTHON:-python3}

# The whole dependency tree, pinned to the newest release of each package on 2024-10-02, the day
# Mailman 3.3.10 and docker-mailman v0.5.2 were released (the image pip-installs mailman==3.3.10,
# so this is the set it resolved then). Used as pip constraints: mailman's own requirements choose
# the packages, these choose the versions. Found by trying on Python 3.11.7 with today's releases:
#   - SQLAlchemy 2.1 breaks Mailman 3.3.10: every paginated REST collection (e.g.
#     /3.1/lists/<id>/roster/member) answers 500, ArgumentError from select_from(<Select>) in
#     mailman/utilities/queries.py. This is the one pin that is strictly needed (SQLAlchemy < 2.1).
#   - Everything else imports, runs and passes test/component/mailman at its latest version, but
#     gunicorn >= 24 adds a control socket under ~/.gunicorn/ and falcon 4 logs a deprecation
#     warning on form-encoded REST calls; the 2024 set has neither and matches the image.
# greenlet, packaging and six appear only with these versions (SQLAlchemy 2.0, gunicorn 23, dateutil 2.9).
CONSTRAINTS='
aiosmtpd==1.4.6
alembic==1.13.3
atpublic==5.0
attrs==24.2.0
authheaders==0.16.3
authres==1.2.0
certifi==2024.8.30
charset-normalizer==3.3.2
click==8.1.7
dkimpy==1.1.8
dnspython==2.6.1
falcon==3.1.3
flufl.bounce==4.0
flufl.i18n==5.1.0
flufl.lock==8.1.0
greenlet==3.1.1
gunicorn==23.0.0
idna==3.10
lazr.config==3.0
lazr.delegates==2.1.0
Mako==1.3.5
MarkupSafe==2.1.5
packaging==24.1
passlib==1.7.4
psutil==6.0.0
publicsuffix2==2.20191221
python-dateutil==2.9.0.post0
requests==2.32.3
six==1.16.0
SQLAlchemy==2.0.35
typing-extensions==4.12.2
urllib3==2.2.3
zope.component==6.0
zope.configuration==5.0.1
zope.event==5.0
zope.hookable==7.0
zope.i18nmessageid==7.0
zope.interface==7.0.3
zope.schema==7.0.1
'
# What the stamp records: a change of version or pins rebuilds the cached virtualenv.
want="mailman==$MAILMAN_VERSION $(printf '%s' "$CONSTRAINTS" | sha256sum | cut -c1-16)"

log() { printf 'provision/mailman: %s\n' "$*"; }
die() { printf 'provision/mailman: %s\n' "$*" >&2; exit 1; }

force=no
case "${1:-}" in
  --force) force=yes ;;
  '') ;;
  -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument: $1 (try --help)" ;;
esac

installed_version() {
  # `mailman --version` prints "GNU Mailman 3.3.10 (Tom Sawyer)"; it reads no configuration.
  [ -x "$VENV/bin/mailman" ] || return 0
  "$VENV/bin/mailman" --version 2>/dev/null | awk '{print $3}' || true
}

if [ "$force" = no ] && [ "$(installed_version)" = "$MAILMAN_VERSION" ] \
  && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  log "Mailman $MAILMAN_VERSION already provisioned in $VENV (nothing to do)"
  exit 0
fi

command -v "$PYTHON" >/dev/null || die "$PYTHON not found: install Python 3.9-3.12 (with venv), or set PYTHON"
pyver=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
"$PYTHON" -c 'import sys; sys.exit(0 if (3, 9) <= sys.version_info[:2] else 1)' \
  || die "$PYTHON is Python $pyver; Mailman $MAILMAN_VERSION needs >= 3.9"
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info[:2] <= (3, 12) else 1)' \
  || log "warning: Python $pyver is newer than the verified 3.11 (3.13 removed nntplib; mailman pulls it from PyPI)"

# A venv cannot be moved (its scripts hold absolute paths), so build in place; the stamp is written
# last, so an interrupted run leaves no stamp and the next run starts over.
log "creating $VENV with $PYTHON (Python $pyver)"
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
"$PYTHON" -m venv "$VENV" || die "'$PYTHON -m venv' failed (Debian/Ubuntu: apt-get install python3-venv)"

constraints="$VENV/mailkind-constraints.txt"
printf '%s' "$CONSTRAINTS" | sed '/^$/d' >"$constraints"
log "installing mailman==$MAILMAN_VERSION with $(wc -l <"$constraints") pinned dependencies (PyPI)"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
  --constraint "$constraints" "mailman==$MAILMAN_VERSION"

got=$(installed_version)
[ "$got" = "$MAILMAN_VERSION" ] || die "installed, but $VENV/bin/mailman reports '${got:-nothing}', not $MAILMAN_VERSION"
# Smoke test: initialize Mailman for real (config, sqlite schema via alembic) in a scratch directory,
# and import the runners the tests start, so a broken set fails here and not in a test.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
printf '[mailman]\nlayout: here\n' >"$scratch/mailman.cfg"
(cd "$scratch" && "$ROOT/$VENV/bin/mailman" --run-as-root -C "$scratch/mailman.cfg" info >/dev/null) \
  && "$VENV/bin/python" -c 'import mailman.bin.master, mailman.runners.lmtp, mailman.runners.outgoing, mailman.mta.null, falcon, gunicorn.app.base, aiosmtpd.lmtp' \
  || die "Mailman $MAILMAN_VERSION is installed but does not start; see the error above"
printf '%s\n' "$want" >"$STAMP"
log "Mailman $MAILMAN_VERSION ready: $VENV/bin/{mailman,master} ($("$VENV/bin/python" -m pip freeze --disable-pip-version-check | wc -l) packages)"
