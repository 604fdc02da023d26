# syntax=docker/dockerfile:1
# The registry service. Build from the repository root:
#   docker build -f deploy/docker/registry.Dockerfile -t ia-modules/registry .

# --- build: generate the contract stubs, then install the service into /opt/venv.
FROM python:3.11-slim-bookworm AS build
ENV UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1 UV_PYTHON_DOWNLOADS=never UV_PYTHON=/usr/local/bin/python3
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /src
COPY . .
# The stubs under sdk/python/src/ia are generated, not committed; the generator is
# pinned to uv.lock, so the stubs match the protobuf runtime the venv gets.
RUN uv run --no-project --with grpcio-tools==1.85.1 --with mypy-protobuf==5.1.0 --with googleapis-common-protos==1.76.0 python scripts/gen_protos.py
# A non-editable install: the runtime image needs only /opt/venv, not the sources.
RUN UV_PROJECT_ENVIRONMENT=/opt/venv uv sync --frozen --no-dev --no-editable --package ia-modules-registry

# --- runtime: the interpreter, the venv and nothing else.
FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin ia \
 && mkdir -p /var/lib/ia && chown ia /var/lib/ia
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    IA_BIND_HOST=0.0.0.0 \
    IA_DATA_DIR=/var/lib/ia \
    IA_LOG_FORMAT=json
USER 10001
WORKDIR /var/lib/ia
EXPOSE 50051 51051
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-m", "ia_service_kit.probe", "--port", "50051"]
ENTRYPOINT ["ia-registry", "--port", "50051"]
