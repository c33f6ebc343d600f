# syntax=docker/dockerfile:1
# The hypasis-sync image: built from this workspace, run as a non-root user on Debian slim.
#   docker build -t hypasis-sync .
# Listens on 30303/tcp (RLPx), 30303/udp (discv4), 8080 (REST API, /metrics, /health/*) and
# 8545 (JSON-RPC) on all interfaces. Configure it with flags, environment variables or a YAML
# file (HYPASIS_CONFIG); see config.cloud.yaml and `docker run --rm hypasis-sync --help`.

# The toolchain the workspace is built and tested with (rust-version in Cargo.toml is the floor).
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
# Cargo's registry and the target folder are build caches (BuildKit), not image layers.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p hypasis-sync --bin hypasis-sync \
    && install -D -m 0755 target/release/hypasis-sync /out/hypasis-sync

FROM debian:bookworm-slim
# CA certificates: TLS to upstream providers, Heimdall, L1 and Redis (rediss://, or
# REDIS_TLS_CA_FILE=/etc/ssl/certs/ca-certificates.crt for a TLS Redis Cluster).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 hypasis \
    && useradd --system --uid 10001 --gid hypasis --home-dir /var/lib/hypasis --shell /usr/sbin/nologin hypasis \
    && install -d -o hypasis -g hypasis -m 0700 /var/lib/hypasis /var/lib/hypasis-history
COPY --from=build /out/hypasis-sync /usr/local/bin/hypasis-sync

USER hypasis:hypasis
WORKDIR /var/lib/hypasis
# The instance key is created here on first start (mode 0600); keep the folder on a volume so an
# instance keeps its direct enode across restarts. The cluster key is mounted, never baked in.
VOLUME ["/var/lib/hypasis"]
ENV BIND_ADDR=0.0.0.0 \
    NODE_KEY_FILE=/var/lib/hypasis/node.key \
    LOG_FORMAT=json

EXPOSE 30303/tcp 30303/udp 8080 8545

# Liveness through bash's /dev/tcp (bash is in the base image; no curl needed): 200 from
# /health/live on the API port. Readiness (/health/ready) is for load balancers, not restarts.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${API_PORT:-8080} && printf 'GET /health/live HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && read -r -t 4 _ status _ <&3 && [ \"$status\" = 200 ]"]

ENTRYPOINT ["/usr/local/bin/hypasis-sync"]
