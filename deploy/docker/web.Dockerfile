# syntax=docker/dockerfile:1
# The dashboard: the static files of web/dist behind an unprivileged nginx.
# Build the app first (`make web`), then from the repository root:
#   docker build -f deploy/docker/web.Dockerfile -t ia-modules/web .
# Envoy routes `/` here after every API route; the app calls the API through
# Envoy with gRPC-Web, so this image serves files only.
FROM nginxinc/nginx-unprivileged:1.27-alpine
COPY deploy/docker/web-nginx.conf /etc/nginx/conf.d/default.conf
COPY web/dist/ /usr/share/nginx/html/
# The image's own unprivileged user (uid 101); nginx listens on 8080.
USER 101
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/healthz"]
