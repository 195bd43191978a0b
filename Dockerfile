# syntax=docker/dockerfile:1

# Build a static iam binary.
FROM golang:1.26 AS build
WORKDIR /src
ENV CGO_ENABLED=0
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# What `iam --version` prints. .git is not in the build context, so pass
# them: docker build --build-arg VERSION="$(git describe --tags --always --dirty)"
# --build-arg COMMIT="$(git rev-parse --short HEAD)" . Unset, iam --version
# says what Go's build information knows, or unknown; the date defaults to
# the build's.
ARG VERSION=""
ARG COMMIT=""
ARG BUILD_DATE=""
RUN go build -trimpath -ldflags="-s -w -X github.com/gaia-platform/iam/internal/cli.version=${VERSION} -X github.com/gaia-platform/iam/internal/cli.commit=${COMMIT} -X github.com/gaia-platform/iam/internal/cli.buildDate=${BUILD_DATE:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}" -o /out/iam ./cmd/iam

# Alpine rather than distroless: its busybox wget lets the compose
# healthcheck probe /readyz.
FROM alpine:3.22
RUN apk add --no-cache ca-certificates \
 && addgroup -S -g 65532 iam \
 && adduser -S -D -H -u 65532 -G iam iam \
 && install -d -m 0700 -o 65532 -g 65532 /data
COPY --from=build /out/iam /iam
COPY examples /examples
USER 65532:65532
# Without IAM_DATABASE_URL the embedded SQLite database lives in /data:
# mount a volume there to keep it.
ENV IAM_HTTP_ADDR=0.0.0.0:8080 IAM_DATA_DIR=/data
EXPOSE 8080
ENTRYPOINT ["/iam"]
CMD ["serve"]
