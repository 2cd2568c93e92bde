# A multi-service image whose PID 1 is the supervisor. See docs/container.md.
#
#   docker build -t my-services .
#   docker run --rm my-services                       # runs /etc/supervisor/services.yaml
#   docker run --rm -v $PWD/app.yaml:/etc/supervisor/services.yaml:ro my-services
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SUPERVISOR_SOCKET=/run/supervisor/control.sock

WORKDIR /src
COPY pyproject.toml README.md ./
COPY supervisor ./supervisor
RUN pip install ".[http]" \
 && rm -rf /src \
 && useradd --system --uid 10001 --user-group --home-dir /srv --create-home app \
 && install -d -o app -g app -m 0700 /run/supervisor \
 && install -d -m 0755 /etc/supervisor

COPY configs/example.yaml /etc/supervisor/services.yaml

# Non-root by default: services inherit this user. Run with --user root only if they need it.
USER app
WORKDIR /srv

# SIGTERM (docker stop) stops every service in reverse dependency order; a second one kills.
STOPSIGNAL SIGTERM

# Healthy once every service is ready (one-shots: completed). The socket comes from
# SUPERVISOR_SOCKET, so the check needs no arguments.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["supervisor", "status", "--ready"]

ENTRYPOINT ["supervisor", "run"]
CMD ["/etc/supervisor/services.yaml"]
