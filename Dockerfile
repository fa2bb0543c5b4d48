# syntax=docker/dockerfile:1
# jarm-gateway as a container: built with the whole toolchain, run as compiled JavaScript on a slim
# Node 24 LTS with production dependencies only, as an unprivileged user.
#
#   docker build -t jarm-gateway .
#   docker run --rm -p 8080:8080 \
#     -v "$PWD/gateway.config.json:/etc/jarm-gateway/gateway.config.json:ro" \
#     -v "$PWD/secrets:/var/run/secrets/jarm-gateway:ro" \
#     -v "$PWD/tls:/etc/jarm-gateway/tls:ro" \
#     -e JARM_GATEWAY_UPSTREAM_URL=http://legacy:9000 jarm-gateway
#
# Certificates (listen.tls, upstream.tls) are mounted read-only under /etc/jarm-gateway/tls and
# named relative to the config file ("cert_file": "tls/gateway.crt"); they are re-read on SIGHUP
# (`docker kill -s HUP`), so a renewed certificate needs no restart.
#
# The configuration is read from /etc/jarm-gateway/gateway.config.json (JARM_GATEWAY_CONFIG);
# JARM_GATEWAY_* variables override any setting, and *_FILE variables read secrets from mounted
# files (see the README's Deployment section). test/e2e/package-install.test.ts runs these steps
# without a Docker engine.

# ---- build: compile TypeScript, then pack the package as npm would publish it ----
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY schema ./schema
RUN npx tsc -p tsconfig.build.json \
 && npm pack --ignore-scripts --pack-destination /tmp \
 && mkdir /package \
 && tar -xzf /tmp/jarm-gateway-*.tgz -C /package --strip-components=1

# ---- runtime: the packed files plus production dependencies ----
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    JARM_GATEWAY_CONFIG=/etc/jarm-gateway/gateway.config.json
WORKDIR /app
# Where listen.tls / upstream.tls files are mounted (relative to the config file: "tls/...").
VOLUME ["/etc/jarm-gateway/tls"]
COPY --from=build /package/ ./
COPY package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force
# The node image's unprivileged user (uid 1000); the gateway writes nothing to disk.
USER node
EXPOSE 8080
# Asks the running gateway's liveness endpoint at the port and path of its own configuration.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 CMD ["node", "dist/src/cli/jarm-gateway.js", "--health-check"]
# SIGTERM drains requests in flight (listen.drain_timeout_ms), then exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/src/cli/jarm-gateway.js"]
