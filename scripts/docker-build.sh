#!/usr/bin/env bash
# Builds the Tympan runtime images without pulling anything (no registry needed):
#   1. static binaries on the host: glibc + crt-static, `cargo build --release --target <host>`;
#   2. per image, a small build context: the stripped binaries, /etc/passwd + /etc/group, /tmp
#      (1777) and the empty state folders /data, /artifacts, /reports (given to uid 10001);
#   3. `docker build` with docker/Dockerfile.<image> (FROM scratch).
#
# Usage: scripts/docker-build.sh [--no-cargo] [IMAGE...]      IMAGE: serve, report, cli (default: all)
#   --no-cargo        package the binaries already built (fails if one is missing)
# Environment:
#   TYMPAN_TAG        image tag (default: local): tympan/serve:$TYMPAN_TAG ...
#   CARGO_TARGET_DIR  cargo's target folder (default: <repo>/target); the binaries are read from
#                     $CARGO_TARGET_DIR/<arch>-unknown-linux-gnu/release/
#   DOCKER            docker client command (default: docker)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tag=${TYMPAN_TAG:-local}
docker_cmd=${DOCKER:-docker}
target="$(uname -m)-unknown-linux-gnu"
target_dir=${CARGO_TARGET_DIR:-$repo/target}
run_cargo=1
images=()

for arg in "$@"; do
    case "$arg" in
        --no-cargo) run_cargo=0 ;;
        serve | report | cli) images+=("$arg") ;;
        -h | --help)
            sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "docker-build: unknown argument '$arg' (see --help)" >&2
            exit 2
            ;;
    esac
done
[ ${#images[@]} -gt 0 ] || images=(serve report cli)

binaries_of() {
    case "$1" in
        serve) echo "tympan-serve" ;;
        report) echo "tympan-report" ;;
        cli) echo "tympan tympan-embed tympan-tune" ;;
    esac
}
packages_of() {
    case "$1" in
        serve) echo "-p tympan-serve" ;;
        report) echo "-p tympan-report" ;;
        cli) echo "-p tympan-cli -p tympan-embed -p tympan-tune" ;;
    esac
}

# Workspace version and repository address, for the image labels.
workspace_field() {
    sed -n '/^\[workspace.package\]/,/^\[/p' "$repo/Cargo.toml" |
        sed -n "s/^$1[[:space:]]*=[[:space:]]*\"\\(.*\\)\"/\\1/p" | head -n 1
}
version=$(workspace_field version)
source_url=$(workspace_field repository)
revision=${TYMPAN_REVISION:-unknown}

bin_dir="$target_dir/$target/release"
if [ "$run_cargo" = 1 ]; then
    packages=()
    for image in "${images[@]}"; do
        # shellcheck disable=SC2207
        packages+=($(packages_of "$image"))
    done
    echo "docker-build: cargo build --release --target $target ${packages[*]} (static)"
    start=$(date +%s)
    (cd "$repo" && RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
        CARGO_TARGET_DIR="$target_dir" \
        cargo build --release --target "$target" "${packages[@]}")
    echo "docker-build: binaries built in $(($(date +%s) - start)) s"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/tympan-docker-build.XXXXXX")
trap 'rm -rf "$work"' EXIT

for image in "${images[@]}"; do
    ctx="$work/$image"
    mkdir -p "$ctx/bin" "$ctx/rootfs/etc" "$ctx/rootfs/tmp" \
        "$ctx/state/data" "$ctx/state/artifacts" "$ctx/state/reports"
    chmod 1777 "$ctx/rootfs/tmp"
    chmod 0755 "$ctx/state/data" "$ctx/state/artifacts" "$ctx/state/reports"
    cp "$repo/docker/rootfs/etc/passwd" "$repo/docker/rootfs/etc/group" "$ctx/rootfs/etc/"
    chmod 0644 "$ctx/rootfs/etc/passwd" "$ctx/rootfs/etc/group"
    for b in $(binaries_of "$image"); do
        if [ ! -x "$bin_dir/$b" ]; then
            echo "docker-build: $bin_dir/$b is missing (run without --no-cargo)" >&2
            exit 1
        fi
        if ! file_info=$(LC_ALL=C readelf -d "$bin_dir/$b" 2>/dev/null) ||
            printf '%s\n' "$file_info" | grep -q '(NEEDED)'; then
            echo "docker-build: $bin_dir/$b is not a static binary (it needs shared libraries)" >&2
            exit 1
        fi
        strip -o "$ctx/bin/$b" "$bin_dir/$b"
        chmod 0755 "$ctx/bin/$b"
    done
    cp "$repo/docker/Dockerfile.$image" "$ctx/Dockerfile"
    echo "docker-build: tympan/$image:$tag ($(du -sh "$ctx" | cut -f1) context)"
    old=$("$docker_cmd" image inspect --format '{{.Id}}' "tympan/$image:$tag" 2>/dev/null || true)
    "$docker_cmd" build --quiet \
        --build-arg "VERSION=$version" \
        --build-arg "REVISION=$revision" \
        --build-arg "SOURCE=$source_url" \
        -t "tympan/$image:$tag" "$ctx" >/dev/null
    new=$("$docker_cmd" image inspect --format '{{.Id}}' "tympan/$image:$tag")
    # The previous image of this tag is now untagged: remove it unless a container uses it.
    if [ -n "$old" ] && [ "$old" != "$new" ]; then
        "$docker_cmd" image rm "$old" >/dev/null 2>&1 || true
    fi
done

"$docker_cmd" image ls --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' |
    grep -E "^tympan/(serve|report|cli):$tag\b" || true
