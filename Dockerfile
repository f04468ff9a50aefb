# The EventLedger image (ADR 0030): one image for every service; the service is its argument,
#   <image> command | relay | projector-postgres | projector-redis | projector-elasticsearch | stream-windows | query | gateway
# with the command, arguments and environment the supervisor gives that service (eventledger_infra.system.service_commands).
# Built by `make image` (buildah, --format docker for HEALTHCHECK) as localhost/eventledger:<version>, on a Debian base
# made from Debian packages (localhost/debian-base:bookworm: mmdebstrap + podman import). A Docker user builds it with
# `docker build --build-arg BASE=debian:bookworm-slim -t localhost/eventledger:0.1.0 .`.
ARG BASE=localhost/debian-base:bookworm

# ---- build: wheels of our packages and of every pinned dependency (the root pyproject's name==version pins), then a
# virtualenv installed from those wheels only.
FROM ${BASE} AS build
# The file of certificate authorities pip trusts while it downloads (make image mounts the host's: ADR 0030).
ARG PIP_CERT
RUN apt-get update -q \
 && apt-get install -y -q --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml ./
COPY events events
COPY infrastructure infrastructure
COPY command-side command-side
COPY query-side query-side
COPY projections projections
COPY gateway gateway
RUN python3 -m venv /opt/tools \
 && /opt/tools/bin/pip wheel -q --wheel-dir /wheels \
      . ./events ./infrastructure ./infrastructure/runtime ./command-side ./query-side ./projections ./gateway
RUN python3 -m venv /opt/eventledger \
 && /opt/eventledger/bin/pip install -q --no-index --find-links /wheels \
      eventledger-workspace eventledger-events eventledger-infra eventledger-runtime eventledger-command \
      eventledger-query eventledger-projections eventledger-gateway \
 && /opt/eventledger/bin/pip uninstall -q -y pip

# ---- runtime: the Debian base, Python, the virtualenv; no compiler, no pip, no sources; a non-root user.
FROM ${BASE}
RUN apt-get update -q \
 && apt-get install -y -q --no-install-recommends python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/eventledger --create-home \
      --shell /usr/sbin/nologin eventledger
COPY --from=build /opt/eventledger /opt/eventledger
ENV PATH=/opt/eventledger/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    EVENTLEDGER_STATE_DIR=/var/lib/eventledger/state \
    EVENTLEDGER_CACHE_DIR=/var/lib/eventledger/cache
USER 10001:10001
WORKDIR /var/lib/eventledger
HEALTHCHECK --interval=5s --timeout=4s --start-period=60s --retries=3 \
  CMD ["/opt/eventledger/bin/python", "-m", "eventledger_infra.container", "--health"]
ENTRYPOINT ["/opt/eventledger/bin/python", "-m", "eventledger_infra.container"]
CMD ["--help"]
